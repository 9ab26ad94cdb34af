// SPDX-License-Identifier: GPL-3.0-or-later
//
// Randomised convergence of in-memory replicas: several sites edit
// concurrently at their own versions; every operation reaches every other
// replica in a random order, with duplicates, possibly before its
// dependencies. All replicas must end with the same text and state vector,
// and every local edit must have done what it said at the moment it was
// made. Seeded (PRDHUB_SDK_SEED replays a run).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CrdtDoc, opToJson, CrdtError } from '../src/crdt.js';
import { rng } from './util.js';

const SEED = Number(process.env.PRDHUB_SDK_SEED ?? 20260101);
const ALPHABET = [...'abcdefgh ij\nklm😀é'];

function applyDeltas(text, deltas) {
  for (const d of deltas) {
    if (d.type === 'insert') text = text.slice(0, d.position) + d.text + text.slice(d.position);
    else text = text.slice(0, d.position) + text.slice(d.position + d.length);
  }
  return text;
}

function isLow(s, i) {
  return i > 0 && i < s.length && s.charCodeAt(i) >= 0xdc00 && s.charCodeAt(i) < 0xe000;
}

function localEdit(doc, site, r) {
  const text = doc.getText();
  if (text.length > 0 && r() % 3 === 0) {
    let pos = r() % text.length;
    if (isLow(text, pos)) pos--;
    let n = Math.min(text.length - pos, 1 + (r() % 5));
    if (isLow(text, pos + n)) n++;
    const res = doc.localDelete(site, pos, n);
    assert.equal(doc.getText(), text.slice(0, pos) + text.slice(pos + n));
    return res;
  }
  let pos = r() % (text.length + 1);
  if (isLow(text, pos)) pos--;
  let s = '';
  for (let i = 1 + (r() % 4); i > 0; i--) s += ALPHABET[r() % ALPHABET.length];
  const res = doc.localInsert(site, pos, s);
  assert.equal(doc.getText(), text.slice(0, pos) + s + text.slice(pos));
  return res;
}

function run(seed, nSites, steps) {
  const r = rng(seed);
  const docs = [];
  const inbox = [];
  for (let i = 0; i < nSites; i++) {
    docs.push(new CrdtDoc());
    inbox.push([]);
  }
  const all = [];
  for (let step = 0; step < steps; step++) {
    const site = r() % nSites;
    const doc = docs[site];
    if (r() % 4 === 0 && inbox[site].length > 0) {
      // deliver some pending operations, in random order, with repeats
      for (let k = 1 + (r() % 6); k > 0 && inbox[site].length > 0; k--) {
        const i = r() % inbox[site].length;
        const op = inbox[site][i];
        if (r() % 5 !== 0) inbox[site].splice(i, 1);
        const before = doc.getText();
        const { deltas } = doc.applyRemote(op);
        assert.equal(applyDeltas(before, deltas), doc.getText(), `seed ${seed}: remote deltas`);
      }
      continue;
    }
    const { op, deltas } = localEdit(doc, site, r);
    assert.ok(deltas.length > 0);
    const json = JSON.parse(JSON.stringify(opToJson(op)));
    all.push(json);
    for (let s = 0; s < nSites; s++) if (s !== site) inbox[s].push(json);
  }
  // deliver the rest, shuffled
  for (let s = 0; s < nSites; s++) {
    const box = inbox[s];
    for (let i = box.length - 1; i > 0; i--) {
      const j = r() % (i + 1);
      [box[i], box[j]] = [box[j], box[i]];
    }
    for (const op of box) docs[s].applyRemote(op);
  }
  const text = docs[0].getText();
  for (let s = 0; s < nSites; s++) {
    assert.equal(docs[s].nPending, 0, `seed ${seed}: site ${s} holds operations back`);
    assert.equal(docs[s].getText(), text, `seed ${seed}: site ${s} diverged`);
    assert.deepEqual(docs[s].stateVector(), docs[0].stateVector());
  }
  // a replica fed every operation in the hub's order agrees too
  const fresh = new CrdtDoc();
  for (const op of all) fresh.applyRemote(op);
  assert.equal(fresh.getText(), text);
  return { text, ops: all.length };
}

test(`random concurrent editing converges (seed ${SEED})`, () => {
  for (let k = 0; k < 40; k++) run(SEED + k, 2 + (k % 5), 300);
});

test('a longer session with many sites converges', () => {
  const { ops } = run(SEED * 7 + 3, 8, 4000);
  assert.ok(ops > 2000);
});

test('older versions read back what each replica saw', () => {
  const r = rng(SEED + 99);
  const docs = [new CrdtDoc(), new CrdtDoc()];
  const queues = [[], []];
  const seen = [];
  for (let i = 0; i < 300; i++) {
    const site = r() % 2;
    const doc = docs[site];
    // catch up on some of the other side's operations first
    while (queues[site].length > 0 && r() % 3 === 0) doc.applyRemote(queues[site].shift());
    const { op } = localEdit(doc, site, r);
    seen.push([doc.stateVector(), doc.getText()]);
    queues[1 - site].push(opToJson(op));
  }
  for (const [site, q] of queues.entries()) for (const op of q) docs[site].applyRemote(op);
  assert.equal(docs[0].getText(), docs[1].getText());
  for (const [vector, text] of seen) {
    assert.equal(docs[0].getTextAt(vector), text);
    assert.equal(docs[1].getTextAt(vector), text);
  }
});

test('bad operations are refused and change nothing', () => {
  const doc = new CrdtDoc();
  doc.localInsert(0, 0, 'hello');
  const text = doc.getText();
  const vector = doc.stateVector();
  const bad = [
    null, 42, {}, { type: 'move', position: 0, id: [1, 1] },
    { type: 'insert', position: 0, content: '', id: [1, 1], clock: 0 },
    { type: 'insert', position: 0, content: 'x', id: [1, 0], clock: 0 },
    { type: 'insert', position: -1, content: 'x', id: [1, 1], clock: 0 },
    { type: 'insert', position: 0, content: 'x', id: [70000, 1], clock: 0 },
    { type: 'insert', position: 0, content: '\ud800', id: [1, 1], clock: 0 },
    { type: 'insert', position: 0, content: 'x', id: [1, 1], clock: 0, origin: [1, 0] },
    { type: 'insert', position: 0, content: 'x', id: [1, 1], clock: 0, origin: [0] },
    { type: 'insert', position: 0, content: 'x', id: [1, 1], clock: 3 },
    { type: 'delete', position: 0, length: 2, id: [1, 1], targets: [[0, 0, 1]] },
    { type: 'delete', position: 0, length: 1, id: [1, 1], targets: [] },
    { type: 'delete', position: 0, length: 1, id: [1, 1], targets: [[0, 0, 0]] },
  ];
  for (const op of bad) {
    assert.throws(() => doc.applyRemote(op), (e) => e instanceof CrdtError && e.code === 'INVALID_OPERATION', JSON.stringify(op));
    assert.equal(doc.getText(), text);
    assert.deepEqual(doc.stateVector(), vector);
  }
  assert.throws(() => doc.localInsert(0, 6, 'x'), /beyond the end/);
  assert.throws(() => doc.localInsert(0, 0, ''), /empty/);
  assert.throws(() => doc.localInsert(0, 0, 'a\udc00'), /UTF-8/);
  assert.throws(() => doc.localInsert(0, 0, 'x', { base: [0] }), /not the next one/);
  assert.throws(() => doc.localInsert(0, 0, 'x', { base: [5] }), /only 1 are known/);
  assert.throws(() => doc.localDelete(0, 3, 3), /beyond the end/);
  assert.throws(() => doc.localDelete(0, 0, 0), /length 0/);
  assert.equal(doc.getText(), text);
  assert.deepEqual(doc.stateVector(), vector);
  doc.localInsert(0, 5, '😀');
  assert.throws(() => doc.localInsert(0, 6, 'x'), /surrogate/);
  assert.throws(() => doc.localDelete(0, 6, 1), /surrogate/);
  assert.throws(() => doc.localDelete(0, 5, 1), /surrogate/);
});

test('held-back operations wait for their dependencies', () => {
  const a = new CrdtDoc();
  const ops = [];
  ops.push(opToJson(a.localInsert(0, 0, 'abc').op));
  ops.push(opToJson(a.localInsert(0, 3, 'def').op));
  ops.push(opToJson(a.localDelete(0, 1, 4).op));
  const b = new CrdtDoc();
  assert.equal(b.applyRemote(ops[2]).applied, 0);
  assert.equal(b.applyRemote(ops[1]).applied, 0);
  assert.equal(b.nPending, 2);
  assert.equal(b.getText(), '');
  const res = b.applyRemote(ops[0]);
  assert.equal(res.applied, 3);
  assert.equal(b.nPending, 0);
  assert.equal(b.getText(), 'af');
  assert.equal(b.getText(), a.getText());
  assert.equal(b.applyRemote(ops[1]).applied, 0, 'a duplicate changes nothing');

  // a held-back operation that does not fit when its turn comes is dropped
  const c = new CrdtDoc();
  const wrongClock = { ...ops[1], clock: 7 };
  c.applyRemote(wrongClock);
  assert.equal(c.nPending, 1);
  assert.equal(c.applyRemote(ops[0]).applied, 1);
  assert.equal(c.nPending, 0);
  assert.equal(c.nRejected, 1);
  assert.equal(c.getText(), 'abc');
  assert.deepEqual(c.stateVector(), [1]);
});

test('extending the last insert gives the document one insert would have made', () => {
  const other = new CrdtDoc();
  const history = [
    opToJson(other.localInsert(1, 0, 'hello world').op),
    opToJson(other.localInsert(1, 5, ',').op),
  ];
  const fresh = () => {
    const d = new CrdtDoc();
    for (const op of history) d.applyRemote(op);
    return d;
  };
  const a = fresh();
  const b = fresh();
  // a types "big" as "b" + "i" + "g" (extended); b inserts "big" at once
  const op = a.localInsert(0, 7, 'b').op;
  assert.deepEqual(a.extendLastInsert(0, 'i'), [{ type: 'insert', position: 8, text: 'i' }]);
  assert.deepEqual(a.extendLastInsert(0, 'g'), [{ type: 'insert', position: 9, text: 'g' }]);
  op.content = 'big';
  op.length = 3;
  const op2 = b.localInsert(0, 7, 'big').op;
  assert.deepEqual(opToJson(op), opToJson(op2));
  assert.equal(a.getText(), 'hello, bigworld');
  assert.equal(a.getText(), b.getText());
  assert.deepEqual(a.stateVector(), b.stateVector());
  // a replica receiving the extended operation agrees, character by character
  const c = fresh();
  c.applyRemote(opToJson(op));
  assert.equal(c.getText(), a.getText());
  const chars = (d) => d.chunks.flatMap((ch) => ch.items.flatMap((it) => Array.from({ length: it.len },
    (_, k) => `${it.site}.${it.clock + k}<${k ? `${it.site}.${it.clock + k - 1}` : `${it.os}.${it.oc}`}|${it.rs}.${it.rc}`)));
  assert.deepEqual(chars(a), chars(b));
  assert.deepEqual(chars(a), chars(c));

  // not once something else was integrated after it
  c.localInsert(2, 0, 'x');
  assert.equal(c.extendLastInsert(0, 'y'), null);
  assert.notEqual(c.extendLastInsert(2, 'y'), null);
  a.localDelete(0, 0, 1);
  assert.equal(a.extendLastInsert(0, 'z'), null, 'the last operation is a delete');
});
