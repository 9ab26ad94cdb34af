// SPDX-License-Identifier: GPL-3.0-or-later
//
// Reference figures for the prdhub CRDT benchmark: replays a sequential
// editing trace through diamond-types-node and Yjs (versions pinned in
// package.json / package-lock.json; `npm ci` in this folder), one edit per
// operation, and prints one JSON line per engine. Given prdhub's own JSON
// line (--prdhub '<json>', as run-crdt-bench.sh does), it also prints the
// ratios side by side.
//
//   node crdt-reference.mjs TRACE.json.gz [--runs N (default 7)] [--yjs-updates] [--no-yjs]
//                           [--prdhub JSON]

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Doc as DtDoc } from 'diamond-types-node';
import * as Y from 'yjs';

const args = process.argv.slice(2);
const file = args.find((a, i) => !a.startsWith('--') && !(args[i - 1] || '').match(/^--(runs|prdhub)$/));
if (!file) {
  console.error('usage: node crdt-reference.mjs TRACE.json[.gz] [--runs N] [--yjs-updates] [--no-yjs] [--prdhub JSON]');
  process.exit(2);
}
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const runs = Math.max(1, Number(opt('--runs') || 7));
const yjsUpdates = args.includes('--yjs-updates');
const noYjs = args.includes('--no-yjs');
const prdhub = opt('--prdhub') ? JSON.parse(opt('--prdhub')) : null;

let raw = readFileSync(file);
if (file.endsWith('.gz')) raw = gunzipSync(raw);
const trace = JSON.parse(raw.toString('utf8'));
const name = basename(file).replace(/\.json(\.gz)?$/, '');
if (trace.kind === 'concurrent') {
  console.log(JSON.stringify({ trace: name, skipped: 'concurrent traces are replayed by prdhub only' }));
  process.exit(0);
}
let ops = 0;
for (const txn of trace.txns) for (const [, del, ins] of txn.patches) ops += (del > 0) + (ins !== '');

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
// apply: median and best of the warm runs (all but the first, which
// includes WebAssembly compilation and tier-up), as prdhub-bench-crdt does
const warm = (xs) => (xs.length > 1 ? xs.slice(1) : xs);

function runDt () {
  const apply = [], decode = [];
  let bytes = 0, ok = true;
  for (let r = 0; r < runs; r++) {
    const doc = new DtDoc('a');
    if (trace.startContent) doc.ins(0, trace.startContent);
    let t0 = performance.now();
    for (const txn of trace.txns) {
      for (const [pos, del, ins] of txn.patches) {
        if (del > 0) doc.del(pos, del);
        if (ins !== '') doc.ins(pos, ins);
      }
    }
    apply.push(performance.now() - t0);
    ok = ok && doc.get() === trace.endContent;
    const enc = doc.toBytes();
    bytes = enc.length;
    t0 = performance.now();
    const copy = DtDoc.fromBytes(enc);
    const text = copy.get();
    decode.push(performance.now() - t0);
    ok = ok && text === trace.endContent;
    doc.free(); copy.free();
  }
  return { engine: 'diamond-types-node', apply_ms: median(warm(apply)), apply_best_ms: Math.min(...warm(apply)), apply_first_ms: apply[0], encoded_bytes: bytes, decode_ms: median(decode), final_ok: ok };
}

function runYjs () {
  const apply = [], decode = [];
  let bytes = 0, ok = true, updateBytes = 0;
  const n = Math.min(runs, 1); // one run: Yjs takes seconds on the long traces
  for (let r = 0; r < n; r++) {
    const doc = new Y.Doc();
    const text = doc.getText('t');
    if (yjsUpdates) doc.on('update', (u) => { updateBytes += u.length; });
    if (trace.startContent) text.insert(0, trace.startContent);
    let t0 = performance.now();
    for (const txn of trace.txns) {
      for (const [pos, del, ins] of txn.patches) {
        if (del > 0) text.delete(pos, del);
        if (ins !== '') text.insert(pos, ins);
      }
    }
    apply.push(performance.now() - t0);
    ok = ok && text.toString() === trace.endContent;
    const enc = Y.encodeStateAsUpdateV2(doc);
    bytes = enc.length;
    t0 = performance.now();
    const copy = new Y.Doc();
    Y.applyUpdateV2(copy, enc);
    const s = copy.getText('t').toString();
    decode.push(performance.now() - t0);
    ok = ok && s === trace.endContent;
  }
  const res = { engine: 'yjs', apply_ms: median(apply), apply_best_ms: Math.min(...apply), apply_first_ms: apply[0], encoded_bytes: bytes, decode_ms: median(decode), final_ok: ok };
  if (yjsUpdates) res.update_bytes = updateBytes;
  return res;
}

const results = [runDt()];
if (!noYjs) results.push(runYjs());
for (const r of results) console.log(JSON.stringify({ trace: name, ops, ...r }));

if (prdhub) {
  const fmt = (x) => (x === undefined ? '' : x >= 100 ? x.toFixed(0) : x.toFixed(2));
  console.log(`\n${name}: ${ops} operations (apply: median and best of the warm runs, ` +
              `${runs} runs but Yjs 1; "first" = first run)`);
  console.log('engine               apply ms   best ms  first ms   encoded B   decode ms');
  const row = (e, a, m, f, b, d) => console.log(`${e.padEnd(20)} ${String(a).padStart(9)} ${String(m).padStart(9)} ${String(f).padStart(9)} ${String(b).padStart(11)} ${String(d).padStart(11)}`);
  row('prdhub (hub path)', fmt(prdhub.apply_ms), fmt(prdhub.apply_best_ms), fmt(prdhub.apply_first_ms), prdhub.encoded_bytes, fmt(prdhub.decode_ms));
  row('prdhub (integrate)', fmt(prdhub.integrate_ms), fmt(prdhub.integrate_best_ms), '', '', '');
  for (const r of results) row(r.engine, fmt(r.apply_ms), fmt(r.apply_best_ms), fmt(r.apply_first_ms), r.encoded_bytes, fmt(r.decode_ms));
  console.log('\nprdhub speed-up (other engine time / prdhub time):');
  for (const r of results) {
    console.log(`  vs ${r.engine}: hub path ${(r.apply_ms / prdhub.apply_ms).toFixed(2)}x median, ` +
                `${(r.apply_best_ms / prdhub.apply_best_ms).toFixed(2)}x best; ` +
                `integrate only ${(r.apply_ms / prdhub.integrate_ms).toFixed(2)}x median, ` +
                `${(r.apply_best_ms / prdhub.integrate_best_ms).toFixed(2)}x best; ` +
                `first runs ${(r.apply_first_ms / prdhub.apply_first_ms).toFixed(2)}x; ` +
                `encoded size ${(prdhub.encoded_bytes / r.encoded_bytes).toFixed(2)}x theirs`);
  }
}
