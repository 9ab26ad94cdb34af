// SPDX-License-Identifier: GPL-3.0-or-later
//
// CrdtDoc.insertAfter(): an insert re-applied right after a given character,
// deleted or not (the SDK's rebase). It must land after that character, and
// the hub, which takes the positional form it returns (basePosition at the
// version base), must integrate exactly the same operation.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CrdtDoc, CrdtError, opToJson } from '../src/crdt.js';

// Every character, deleted ones included (marked '-'), in document order.
function order(doc) {
  const out = [];
  for (const c of doc.chunks) {
    for (const it of c.items) {
      const text = doc.sites[it.site].text.slice(it.clock, it.clock + it.len);
      for (let k = 0; k < it.len; k++) out.push(text[k] + (it.del ? '-' : ''));
    }
  }
  return out.join('');
}

// Two replicas with the same operations: "abcd" by site 0, then the
// operations @edit makes on the first (each sent to the second), and a
// function that builds a third replica from those operations' CRDT form.
function pair(edit) {
  const a = new CrdtDoc();
  const b = new CrdtDoc();
  const ops = [];
  const send = (r) => {
    ops.push(JSON.parse(JSON.stringify(opToJson(r.op))));
    b.applyRemote(ops[ops.length - 1]);
  };
  send(a.localInsert(0, 0, 'abcd'));
  edit(a, send);
  const replay = (...more) => {
    const c = new CrdtDoc();
    for (const op of [...ops, ...more.map((o) => JSON.parse(JSON.stringify(opToJson(o))))]) c.applyRemote(op);
    return c;
  };
  return [a, b, replay];
}

// What the hub does with the content-update the SDK sends: the position,
// read at the base version (localInsert is the hub's positional path).
function viaPosition(doc, site, made, text) {
  return doc.localInsert(site, made.basePosition, text, { base: made.base }).op;
}

test('an insert after a deleted character lands after it, as the hub integrates it', () => {
  const [a, b, replay] = pair((doc, send) => send(doc.localDelete(1, 1, 1)));
  assert.equal(a.getText(), 'acd');
  const made = a.insertAfter(2, [0, 1], 'XY');
  assert.equal(a.getText(), 'aXYcd');
  assert.equal(order(a), 'ab-XYcd');
  assert.deepEqual(made.op.origin, [0, 1]);
  assert.deepEqual(made.op.rightOrigin, [0, 2]);
  assert.deepEqual(made.base, [1, 0]);
  assert.equal(made.basePosition, 2);
  assert.deepEqual(made.deltas, [{ type: 'insert', position: 1, text: 'XY' }]);

  const hub = viaPosition(b, 2, made, 'XY');
  assert.deepEqual([hub.origin, hub.rightOrigin], [made.op.origin, made.op.rightOrigin]);
  assert.equal(order(b), order(a));

  // A later insert after the same deleted character goes before XY, in both.
  const q = a.insertAfter(2, [0, 1], 'Q');
  assert.deepEqual(q.op.rightOrigin, [2, 0]);
  viaPosition(b, 2, q, 'Q');
  assert.equal(a.getText(), 'aQXYcd');
  assert.equal(order(b), order(a));

  // A replica that integrates the CRDT form converges too.
  assert.equal(order(replay(made.op, q.op)), order(a));
});

test('insertAfter converges with the hub when others edited around the deleted character', () => {
  // Site 1 types W after "b" and later deletes "b", then types V where "b"
  // was; site 3 deletes "b" too. The version read leaves out site 1 from its
  // delete on and site 3's delete, so V (typed after the delete) is not the
  // right origin; W (typed before it) is.
  const [a, b, replay] = pair((doc, send) => {
    send(doc.localInsert(1, 2, 'W'));
    send(doc.localDelete(1, 1, 1));
    send(doc.localInsert(1, 1, 'V'));
    send(doc.localDelete(3, 1, 1, { base: [1, 1] }));
  });
  assert.equal(a.getText(), 'aVWcd');
  const made = a.insertAfter(2, [0, 1], 'Z');
  assert.deepEqual(made.base, [1, 1, 0, 0]);
  assert.deepEqual(made.op.origin, [0, 1]);
  assert.deepEqual(made.op.rightOrigin, [1, 0]);
  viaPosition(b, 2, made, 'Z');
  assert.equal(order(a), 'aVb-ZWcd');
  assert.equal(order(b), order(a));
  assert.deepEqual(a.stateVector(), b.stateVector());

  // The CRDT form, integrated by a third replica, gives the same document.
  assert.equal(order(replay(made.op)), order(a));
});

test('insertAfter a visible character or the start is a plain insert', () => {
  const doc = new CrdtDoc();
  doc.localInsert(0, 0, 'abc');
  const made = doc.insertAfter(1, [0, 0], 'X');
  assert.equal(doc.getText(), 'aXbc');
  assert.deepEqual(made.base, [1]);
  assert.equal(made.basePosition, 1);
  const start = doc.insertAfter(1, null, 'S');
  assert.equal(doc.getText(), 'SaXbc');
  assert.equal(start.basePosition, 0);
  assert.equal(start.op.origin, null);
  assert.deepEqual(start.op.rightOrigin, [0, 0]);
});

test('insertAfter a character the site deleted itself, or one the document lacks, changes nothing', () => {
  const doc = new CrdtDoc();
  doc.localInsert(0, 0, 'abc');
  doc.localDelete(1, 1, 1);
  const before = [doc.getText(), order(doc), doc.stateVector()];
  assert.equal(doc.insertAfter(1, [0, 1], 'X'), null);
  const refused = (e) => e instanceof CrdtError && e.code === 'INVALID_OPERATION';
  assert.throws(() => doc.insertAfter(1, [0, 3], 'X'), refused);
  assert.throws(() => doc.insertAfter(1, [5, 0], 'X'), refused);
  assert.throws(() => doc.insertAfter(1, ['0', 1], 'X'), refused);
  assert.deepEqual([doc.getText(), order(doc), doc.stateVector()], before);
});
