// SPDX-License-Identifier: GPL-3.0-or-later
//
// Decoding the hub's encoded CRDT state (tests/data/sdk-states, written by
// the C engine's prd_crdt_doc_encode_state(); tests/data/sdk-states-v1, the
// same documents in the version 1 format), and the zlib decoder.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { CrdtDoc, CrdtError, opToJson, STATE_VERSION } from '../src/crdt.js';
import { zlibInflate, rawInflate, crc32, InflateError } from '../src/inflate.js';
import { rng } from './util.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..', '..', 'tests', 'data');
const dir = path.join(root, 'sdk-states');
const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];

test('the encoded states are present', () => {
  assert.ok(files.length >= 10, `expected encoded states in ${dir}`);
});

for (const file of files) {
  const s = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  test(`${s.name}: the C engine's state decodes to the same document`, () => {
    const doc = CrdtDoc.decodeState(s.encodedState);
    assert.equal(doc.getText(), s.expectedText);
    assert.deepEqual(doc.stateVector(), s.expectedStateVector);
    const lossy = CrdtDoc.decodeState(s.encodedStateDropped);
    assert.equal(lossy.getText(), s.expectedText);
    assert.deepEqual(lossy.stateVector(), s.expectedStateVector);
  });
}

// Every item of a decoded document, with its origins: what the two format
// versions must agree on.
function items(doc) {
  const out = [];
  for (const c of doc.chunks) for (const it of c.items) out.push([it.site, it.clock, it.len, it.os, it.oc, it.rs, it.rc, it.del]);
  return out;
}

const dirV1 = path.join(root, 'sdk-states-v1');
const filesV1 = fs.existsSync(dirV1) ? fs.readdirSync(dirV1).filter((f) => f.endsWith('.json')).sort() : [];

test('the version 1 states are present', () => {
  assert.ok(filesV1.length >= 10, `expected encoded states in ${dirV1}`);
});

for (const file of filesV1) {
  const old = JSON.parse(fs.readFileSync(path.join(dirV1, file), 'utf8'));
  const cur = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  test(`${old.name}: version 1 and version ${STATE_VERSION} give the same document`, () => {
    for (const member of ['encodedState', 'encodedStateDropped']) {
      assert.equal(Buffer.from(old[member], 'base64')[0], 1);
      assert.equal(Buffer.from(cur[member], 'base64')[0], STATE_VERSION);
      const a = CrdtDoc.decodeState(old[member]);
      const b = CrdtDoc.decodeState(cur[member]);
      assert.equal(a.getText(), old.expectedText);
      assert.deepEqual(a.stateVector(), old.expectedStateVector);
      assert.deepEqual(items(b), items(a));
      assert.deepEqual(b.sites.map((s) => s.ops), a.sites.map((s) => s.ops));
      assert.deepEqual(b.log, a.log);
    }
  });
}

// A decoded replica must go on exactly like the original: apply the rest of
// a vector's operations to the state of a prefix and compare.
const vdir = path.join(root, 'crdt-vectors');
test('a decoded state keeps integrating like the engine', () => {
  const v = JSON.parse(fs.readFileSync(path.join(vdir, 'random-08.json'), 'utf8'));
  const s = JSON.parse(fs.readFileSync(path.join(dir, 'random-08.json'), 'utf8'));
  const doc = CrdtDoc.decodeState(s.encodedState);
  // every operation is known: re-applying them changes nothing
  for (const op of v.operations) assert.equal(doc.applyRemote(op).applied, 0);
  // and local edits at older versions resolve like the engine's
  const fresh = new CrdtDoc();
  for (const op of v.operations) fresh.applyRemote(op);
  const base = v.hubInputs[Math.floor(v.hubInputs.length / 2)].baseVector;
  const site = v.sites; // a new site
  const a = fresh.localInsert(site, 0, 'xyz', { base }).op;
  const b = doc.localInsert(site, 0, 'xyz', { base }).op;
  assert.deepEqual(opToJson(b), opToJson(a));
  assert.equal(doc.getText(), fresh.getText());
  assert.equal(doc.getTextAt(base), fresh.getTextAt(base));
});

test('corrupt states are refused with CORRUPT_DATA', () => {
  const s = JSON.parse(fs.readFileSync(path.join(dir, 'random-03.json'), 'utf8'));
  const bytes = new Uint8Array(Buffer.from(s.encodedState, 'base64'));
  const r = rng(7);
  for (let i = 0; i < 300; i++) {
    const b = bytes.slice();
    b[2 + (r() % (b.length - 2))] ^= 1 << (r() % 8);
    try {
      CrdtDoc.decodeState(b);
      // a flip the checksum cannot see is still a well-formed document
    } catch (err) {
      assert.ok(err instanceof CrdtError, String(err));
      assert.equal(err.code, 'CORRUPT_DATA');
    }
  }
  for (let n = 0; n < bytes.length; n++) {
    assert.throws(() => CrdtDoc.decodeState(bytes.subarray(0, n)), CrdtError);
  }
  for (const v of [0, STATE_VERSION + 1, 255])
    assert.throws(() => CrdtDoc.decodeState(Uint8Array.of(v, 0)), (e) => e.code === 'UNSUPPORTED_VERSION');
  // a body that zlib accepts but that is not a document
  const junk = zlib.deflateSync(Buffer.from([5, 1, 2, 3]));
  assert.throws(() => CrdtDoc.decodeState(Uint8Array.of(1, 0, ...junk)), (e) => e.code === 'CORRUPT_DATA');
  // version 2: a valid checksum over parts that are not a document, and a wrong checksum
  const v2 = (body, text, crc) => {
    const zb = zlib.deflateRawSync(Buffer.from(body));
    const zt = zlib.deflateRawSync(Buffer.from(text));
    const c = crc ?? crc32(Uint8Array.from(text), crc32(Uint8Array.from(body)));
    return Uint8Array.of(2, 0, c & 0xff, (c >>> 8) & 0xff, (c >>> 16) & 0xff, c >>> 24, zb.length, ...zb, ...zt);
  };
  assert.throws(() => CrdtDoc.decodeState(v2([5, 1, 2, 3], [])), (e) => e.code === 'CORRUPT_DATA');
  assert.equal(CrdtDoc.decodeState(v2([0, 0, 0, ...new Array(14).fill(0)], [])).getText(), '');
  assert.throws(() => CrdtDoc.decodeState(v2([0, 0, 0, ...new Array(14).fill(0)], [], 1)), /checksum/);
  assert.throws(() => CrdtDoc.decodeState(v2([0, 0, 0, ...new Array(14).fill(0)], [65])), /trailing/);
  assert.throws(() => CrdtDoc.decodeState(undefined), (e) => e.code === 'CORRUPT_DATA');
});

test('zlibInflate agrees with node:zlib', () => {
  const r = rng(1);
  for (let t = 0; t < 60; t++) {
    const n = r() % 70000;
    const alpha = 1 + (r() % 256);
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = r() % alpha;
    for (const level of [0, 1, 6, 9]) {
      const out = zlibInflate(new Uint8Array(zlib.deflateSync(b, { level })));
      assert.ok(Buffer.from(out).equals(b), `case ${t} level ${level}`);
    }
  }
});

test('rawInflate and crc32 agree with node:zlib', () => {
  const r = rng(2);
  for (let t = 0; t < 30; t++) {
    const n = r() % 70000;
    const alpha = 1 + (r() % 256);
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = r() % alpha;
    for (const level of [0, 1, 9]) {
      const out = rawInflate(new Uint8Array(zlib.deflateRawSync(b, { level })));
      assert.ok(Buffer.from(out).equals(b), `case ${t} level ${level}`);
    }
    // the CRC-32 in a gzip trailer
    const gz = zlib.gzipSync(b);
    assert.equal(crc32(new Uint8Array(b)), gz.readUInt32LE(gz.length - 8));
  }
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  const good = new Uint8Array(zlib.deflateRawSync(Buffer.from('hello hello hello hello')));
  assert.throws(() => rawInflate(good.subarray(0, good.length - 1)), InflateError);
  assert.throws(() => rawInflate(Uint8Array.of(...good, 0)), /trailing/);
  assert.throws(() => rawInflate(new Uint8Array(0)), InflateError);
});

test('zlibInflate refuses corrupt streams', () => {
  const good = new Uint8Array(zlib.deflateSync(Buffer.from('hello hello hello hello')));
  assert.throws(() => zlibInflate(good.subarray(0, good.length - 1)), InflateError);
  const bad = good.slice();
  bad[bad.length - 1] ^= 0xff;
  assert.throws(() => zlibInflate(bad), /checksum/);
  assert.throws(() => zlibInflate(Uint8Array.of(0x78, 0x9c, 0xff, 0xff, 0, 0, 0)), InflateError);
  assert.throws(() => zlibInflate(good, 5), /too large/);
});

// The same editing trace replayed here and by the C engine must give the
// same document structure, character by character: ids, origins, right
// origins, tombstones and delete counts, and the same operation history.
// $PRDHUB_TRACES_DIR, else ../shared/traces beside the source tree when it
// holds the trace, else the copy in tests/data/traces.
function tracePath(name) {
  const file = `${name}.json.gz`;
  if (process.env.PRDHUB_TRACES_DIR) return path.join(process.env.PRDHUB_TRACES_DIR, file);
  const shared = path.resolve(here, '..', '..', '..', '..', 'shared', 'traces', file);
  return fs.existsSync(shared) ? shared : path.resolve(here, '..', '..', '..', 'tests', 'data', 'traces', file);
}

function replayPrefix(trace, nTxns) {
  const doc = new CrdtDoc();
  const n = Math.max(trace.numAgents ?? 1, 1);
  const concurrent = trace.kind === 'concurrent';
  const versions = [];
  let base = new Array(n).fill(0);
  for (let i = 0; i < nTxns; i++) {
    const t = trace.txns[i];
    const site = concurrent ? t.agent : 0;
    if (concurrent) {
      base = new Array(n).fill(0);
      for (const p of t.parents) for (let a = 0; a < n; a++) base[a] = Math.max(base[a], versions[p][a]);
    }
    for (const [pos, del, ins] of t.patches) {
      if (del > 0) {
        doc.localDelete(site, pos, del, { base });
        base = base.slice();
        base[site]++;
      }
      if (ins.length > 0) {
        doc.localInsert(site, pos, ins, { base });
        base = base.slice();
        base[site]++;
      }
    }
    if (concurrent) versions.push(base.slice());
  }
  return doc;
}

function structure(doc) {
  const out = [];
  for (const c of doc.chunks) {
    for (const it of c.items) {
      for (let k = 0; k < it.len; k++) {
        const os = k === 0 ? it.os : it.site;
        const oc = k === 0 ? (it.os === -1 ? 0 : it.oc) : it.clock + k - 1;
        out.push(`${it.site},${it.clock + k},${os},${oc},${it.rs},${it.rs === -1 ? 0 : it.rc},${it.del}`);
      }
    }
  }
  return out;
}

function history(doc) {
  return doc.sites.map((s) => JSON.stringify(s.ops));
}

for (const [file, trace, n] of [['trace-clownschool-4000', 'clownschool', 4000], ['trace-sveltecomponent-5000', 'sveltecomponent', 5000]]) {
  const tfile = tracePath(trace);
  test(`${trace} (first ${n} transactions): same structure as the C engine's`, { skip: fs.existsSync(tfile) ? false : 'no traces' }, () => {
    const t = JSON.parse(zlib.gunzipSync(fs.readFileSync(tfile)));
    const mine = replayPrefix(t, n);
    const s = JSON.parse(fs.readFileSync(path.join(dir, `${file}.json`), 'utf8'));
    const theirs = CrdtDoc.decodeState(s.encodedState);
    assert.equal(mine.getText(), s.expectedText);
    assert.deepEqual(mine.stateVector(), s.expectedStateVector);
    const a = structure(mine);
    const b = structure(theirs);
    assert.equal(a.length, b.length);
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) assert.fail(`character ${i}: ${a[i]} here, ${b[i]} in the C engine`);
    assert.deepEqual(history(mine), history(theirs));
  });
}

test('positionsAt reads offsets of the current text back into an older version', () => {
  const doc = new CrdtDoc();
  doc.localInsert(0, 0, 'HEAD\nTARGET\n');
  const base = doc.stateVector();
  doc.localInsert(0, 0, 'Intro. ');
  doc.localDelete(0, 7, 2); // "HE"
  assert.equal(doc.getText(), 'Intro. AD\nTARGET\n');
  const at = doc.getText().indexOf('TARGET');
  // Past the insert and the deletion; inside the insert: where it goes; the ends.
  assert.deepEqual(doc.positionsAt([[at, 'after'], [at + 6, 'before'], [3, 'after'], [3, 'before'], [0, 'after'],
    [doc.length, 'after'], [doc.length, 'before']], base), [5, 11, 0, 0, 0, 12, 12]);
  // The replica is left as it was.
  assert.equal(doc.getText(), 'Intro. AD\nTARGET\n');
  assert.deepEqual(doc.positionsAt([[at, 'after']], doc.stateVector()), [at]);
  assert.throws(() => doc.positionsAt([[doc.length + 1, 'after']], base), (e) => e.code === 'INVALID_OPERATION');
  assert.throws(() => doc.positionsAt([[0, 'after']], [5]), (e) => e.code === 'INVALID_OPERATION');
});

test('positionsFrom reads offsets of an older version into the current text', () => {
  const doc = new CrdtDoc();
  doc.localInsert(0, 0, 'HEAD\nSome TARGET words\n');
  const base = doc.stateVector();
  const then = doc.getText();
  const t = then.indexOf('TARGET');
  doc.localInsert(0, 0, '0123456789'); // before the anchors
  doc.localInsert(0, 10 + t, '<'); // at the selection's start: stays outside
  doc.localInsert(0, 10 + t + 7, '>'); // at its end: stays outside
  doc.localDelete(0, 10 + then.indexOf('Some'), 5); // "Some " before it
  const now = doc.getText();
  assert.equal(now, '0123456789HEAD\n<TARGET> words\n');
  const [position, start, end, zero, last] =
    doc.positionsFrom([[t, 'after'], [t, 'after'], [t + 6, 'before'], [0, 'after'], [then.length, 'after']], base);
  assert.equal(now.slice(start, end), 'TARGET');
  assert.equal(position, start);
  assert.equal(zero, 10); // the character at 0 ("H") has text typed before it
  assert.equal(last, now.length);
  // A character deleted since: where it would be. Every selected one deleted: start == end.
  const s = then.indexOf('Some');
  assert.deepEqual(doc.positionsFrom([[s, 'after'], [s + 4, 'before']], base), [15, 15]);
  // The inverse of positionsAt, and the replica is left as it was.
  assert.deepEqual(doc.positionsAt([[start, 'after'], [end, 'before']], base), [t, t + 6]);
  assert.equal(doc.getText(), now);
  assert.deepEqual(doc.positionsFrom([[3, 'after']], doc.stateVector()), [3]);
  assert.throws(() => doc.positionsFrom([[then.length + 1, 'after']], base), (e) => e.code === 'INVALID_OPERATION');
  assert.throws(() => doc.positionsFrom([[0, 'after']], [9]), (e) => e.code === 'INVALID_OPERATION');
});

test('placesFrom says which places\' characters were deleted since, with one move for all', () => {
  const doc = new CrdtDoc();
  doc.localInsert(0, 0, 'abc Z def');
  const base = doc.stateVector();
  doc.localDelete(0, 4, 1); // Z
  doc.localInsert(0, 0, '>>'); // not at base
  let moves = 0;
  const move = doc._moveVersion;
  doc._moveVersion = function (...args) {
    moves++;
    return move.apply(this, args);
  };
  const { positions, deleted } = doc.placesFrom([[4, 'after'], [0, 'after'], [8, 'before'], [9, 'after']], base);
  assert.deepEqual(positions, [6, 2, 9, 10]);
  assert.deepEqual(deleted, [true, false, false, false]); // the end names no character
  assert.equal(moves, 2, 'one move to base and back, whatever the number of places');
  assert.equal(doc.getText(), '>>abc  def');
  // At the current version: no move; a deleted character cannot be named.
  moves = 0;
  assert.deepEqual(doc.placesFrom([[2, 'after']], doc.stateVector()), { positions: [2], deleted: [false] });
  assert.equal(moves, 0);
});
