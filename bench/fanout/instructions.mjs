#!/usr/bin/env node
// SPDX-License-Identifier: GPL-3.0-or-later
//
// Instructions per delivery, counted by callgrind: a figure that does not
// depend on what else the machine is doing, for comparing two builds of the
// hub in one run (the first binary is the reference).
//
//   node bench/fanout/instructions.mjs [--repeat N] BASE_PRDHUB PRDHUB [MORE...]
//
// Each hub runs under `valgrind --tool=callgrind` twice, driven by
// loadgen.mjs with 20 clients in 2 rooms (one writer each) at 40 updates/s,
// for 4 s and for 12 s: the difference of the two runs' instruction counts
// divided by the difference of their deliveries leaves out start-up, joins
// and shutdown. It counts the hub's user-space instructions, every thread,
// not the kernel's (send(2), poll(2)), and not time: the figure says what a
// change to the hub's own code saves, not how many deliveries a second the
// machine can make. Needs valgrind (Debian's package) and bench/node_modules.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const SHORT_S = 4;
const LONG_S = 12;

function usage () {
  console.error('usage: node bench/fanout/instructions.mjs [--repeat N] BASE_PRDHUB PRDHUB [MORE...]');
  process.exit(2);
}

// One loadgen run of @seconds under callgrind: { deliveries, instructions }.
function run (hub, seconds, work) {
  const out = path.join(work, `callgrind.${seconds}.out`);
  const wrapper = path.join(work, 'callgrind-prdhub.sh');
  fs.writeFileSync(wrapper, '#!/bin/sh\nexec valgrind --tool=callgrind --dump-instr=no ' +
    `--callgrind-out-file='${out}' '${hub}' "$@"\n`, { mode: 0o755 });
  const args = [path.join(here, 'loadgen.mjs'), '--server', 'prdhub', '--hub', wrapper,
    '--clients', '20', '--rooms', '2', '--rate', '40', '--seconds', String(seconds), '--json'];
  if (fs.existsSync('/dev/shm')) args.push('--data-parent', '/dev/shm');
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`loadgen failed (${r.status}): ${r.stderr || r.stdout}`);
  const step = JSON.parse(r.stdout.slice(r.stdout.indexOf('\n[') + 1))[0];
  if (step.received !== step.expected) {
    console.error(`warning: ${hub}: ${step.received} of ${step.expected} deliveries in the ${seconds} s run`);
  }
  const summary = fs.readFileSync(out, 'utf8').match(/^(?:summary|totals): (\d+)/m);
  if (!summary) throw new Error(`no instruction count in ${out}`);
  return { deliveries: step.received, instructions: Number(summary[1]) };
}

function measure (hub) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'prdhub-instructions-'));
  try {
    const short = run(hub, SHORT_S, work);
    const long = run(hub, LONG_S, work);
    return (long.instructions - short.instructions) / (long.deliveries - short.deliveries);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

const argv = process.argv.slice(2);
let repeat = 3;
if (argv[0] === '--repeat') {
  repeat = Number(argv[1]);
  argv.splice(0, 2);
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 20) usage();
}
const hubs = argv;
if (hubs.length < 2) usage();
if (spawnSync('valgrind', ['--version']).status !== 0) {
  console.error('valgrind is not installed (apt-get install valgrind)');
  process.exit(1);
}
const runs = hubs.map(() => []);
for (let i = 0; i < repeat; i++) {
  hubs.forEach((hub, k) => {
    console.error(`measuring ${hub} (${i + 1}/${repeat})`);
    runs[k].push(measure(path.resolve(hub)));
  });
}
const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (n) => Math.round(n).toLocaleString('en-US');
const base = median(runs[0]);
console.log(`| prdhub binary | instructions per delivery (median of ${repeat}) | range | ratio to the first |`);
console.log('|---|--:|--:|--:|');
hubs.forEach((hub, k) => {
  const m = median(runs[k]);
  console.log(`| ${hub} | ${fmt(m)} | ${fmt(Math.min(...runs[k]))}–${fmt(Math.max(...runs[k]))} | ${(m / base).toFixed(2)}× |`);
});
