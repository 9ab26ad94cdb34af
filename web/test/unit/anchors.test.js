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
  assert.deepEqual(shiftCommentAnchor(comment(), { type: 'delete', position: 0, length: 20 }).selection,
    { start: 0, end: 0, text: 'quick' });
  assert.equal(shiftCommentAnchor(comment(), { type: 'delete', position: 0, length: 2 }).position, 2);
});

test('a comment without a selection moves with its position', () => {
  const c = { position: 3 };
  shiftCommentAnchor(c, { type: 'insert', position: 3, text: 'xy' });
  assert.deepEqual(c, { position: 5 });
});
