// SPDX-License-Identifier: GPL-3.0-or-later
//
// Comment highlights follow edits (web/src/anchors.js) as the hub's
// anchors do.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shiftCommentAnchor } from '../../src/anchors.js';

const comment = () => ({ position: 4, selection: { start: 4, end: 9, text: 'quick' } });

test('text typed before the selection shifts it; at its edges stays outside', () => {
  assert.deepEqual(shiftCommentAnchor(comment(), { type: 'insert', position: 0, text: 'AB' }).selection,
    { start: 6, end: 11, text: 'quick' });
  assert.deepEqual(shiftCommentAnchor(comment(), { type: 'insert', position: 4, text: 'AB' }).selection,
    { start: 6, end: 11, text: 'quick' });
  assert.deepEqual(shiftCommentAnchor(comment(), { type: 'insert', position: 9, text: 'AB' }).selection,
    { start: 4, end: 9, text: 'quick' });
  assert.deepEqual(shiftCommentAnchor(comment(), { type: 'insert', position: 6, text: 'AB' }).selection,
    { start: 4, end: 11, text: 'quick' });
});

test('deleted text pulls the edges together', () => {
  assert.deepEqual(shiftCommentAnchor(comment(), { type: 'delete', position: 2, length: 4 }).selection,
    { start: 2, end: 5, text: 'quick' });
  assert.equal(shiftCommentAnchor(comment(), { type: 'delete', position: 0, length: 2 }).position, 2);
});

test('a comment without a selection moves with its position', () => {
  const c = { position: 3 };
  shiftCommentAnchor(c, { type: 'insert', position: 3, text: 'xy' });
  assert.deepEqual(c, { position: 5 });
});

test('deleting every selected character detaches the comment, as the hub reports it', () => {
  const c = shiftCommentAnchor(comment(), { type: 'delete', position: 0, length: 20 });
  assert.equal(c.detached, true);
  assert.deepEqual(c.selection, { start: 0, end: 0, text: '' });
  // Exactly the selection, and one character at a time from its end.
  const exact = shiftCommentAnchor(comment(), { type: 'delete', position: 4, length: 5 });
  assert.equal(exact.detached, true);
  assert.deepEqual(exact.selection, { start: 4, end: 4, text: '' });
  const bit = comment();
  for (let i = 0; i < 4; i++) shiftCommentAnchor(bit, { type: 'delete', position: 8 - i, length: 1 });
  assert.equal(bit.detached, undefined, 'one selected character is left');
  assert.deepEqual(bit.selection, { start: 4, end: 5, text: 'quick' });
  shiftCommentAnchor(bit, { type: 'delete', position: 4, length: 1 });
  assert.equal(bit.detached, true);
  assert.deepEqual(bit.selection, { start: 4, end: 4, text: '' });
  // A cut one: the mark goes with the text.
  const cut = shiftCommentAnchor({ position: 4, selection: { start: 4, end: 9, text: 'q', textTruncated: true } },
    { type: 'delete', position: 3, length: 7 });
  assert.deepEqual(cut.selection, { start: 3, end: 3, text: '' });
});

test('deleting text at the selection\'s edges, not in it, leaves it attached', () => {
  for (const d of [{ type: 'delete', position: 0, length: 4 }, { type: 'delete', position: 9, length: 3 }]) {
    const c = shiftCommentAnchor(comment(), d);
    assert.equal(c.detached, undefined);
    assert.equal(c.selection.text, 'quick');
    assert.equal(c.selection.end - c.selection.start, 5);
  }
});

test('text typed where a detached comment was does not re-attach it', () => {
  const c = shiftCommentAnchor(comment(), { type: 'delete', position: 4, length: 5 });
  shiftCommentAnchor(c, { type: 'insert', position: 4, text: 'quick' });
  assert.equal(c.detached, true);
  assert.deepEqual(c.selection, { start: 9, end: 9, text: '' });
});

test('a comment without a selection detaches when the character at its position is deleted', () => {
  const before = shiftCommentAnchor({ position: 3 }, { type: 'delete', position: 1, length: 2 });
  assert.deepEqual(before, { position: 1 });
  const at = shiftCommentAnchor({ position: 3 }, { type: 'delete', position: 2, length: 2 });
  assert.deepEqual(at, { position: 2, detached: true });
});
