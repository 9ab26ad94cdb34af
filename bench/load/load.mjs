#!/usr/bin/env node
// SPDX-License-Identifier: GPL-3.0-or-later
//
// Collaboration load benchmark: N SDK clients (clients/js) in M rooms,
// editing through real sockets against a real prdhub on 127.0.0.1.
//
// Prints, per run: content updates per second acknowledged (durable: the
// hub acks after its commit), p50/p99 ack latency, p50/p99 broadcast latency
// (an edit made by one client until another client of the room has
// integrated it), and the hub's RSS (VmRSS / VmHWM from /proc/<pid>/status).
//
//   node bench/load/load.mjs                      sweep 1, 10, 100, 1000 clients
//   node bench/load/load.mjs --clients 200 --rooms 20 --duration 15
//   node bench/load/load.mjs --rate 0             closed loop: each client sends
//                                                 its next edit when the last is acked
//   node bench/load/load.mjs --workers 4          drive the clients from 4 processes
//                                                 (default: 1 below 100 clients, else 2-4)
//   node bench/load/load.mjs --url http://127.0.0.1:8080 --secret S
//
// Needs `npm ci` in clients/js (socket.io-client) and a built prdhub
// (_build/src/hub/prdhub, or --hub PATH / $PRDHUB_BIN). Bounded: at most
// 2000 clients, 120 s per run; 127.0.0.1 only.

import { fork, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { PrdClient } from '../../clients/js/src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');

const MAX_CLIENTS = 2000;
const MAX_DURATION = 120;

function parseArgs(argv) {
  const o = {
    clients: null, rooms: null, perRoom: 10, duration: 10, rate: 5, warmup: 2,
    hub: process.env.PRDHUB_BIN ?? path.join(root, '_build', 'src', 'hub', 'prdhub'),
    url: null, secret: null, sweep: [1, 10, 100, 1000], json: false, workers: null,
  };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    const num = (v, min, max) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < min || n > max) throw new Error(`${a}: ${v} is not a number in ${min}..${max}`);
      return n;
    };
    switch (a) {
      case '--clients': o.clients = num(next(), 1, MAX_CLIENTS); break;
      case '--rooms': o.rooms = num(next(), 1, MAX_CLIENTS); break;
      case '--per-room': o.perRoom = num(next(), 1, MAX_CLIENTS); break;
      case '--duration': o.duration = num(next(), 1, MAX_DURATION); break;
      case '--warmup': o.warmup = num(next(), 0, 30); break;
      case '--rate': o.rate = num(next(), 0, 1000); break;
      case '--hub': o.hub = next(); break;
      case '--url': o.url = next(); break;
      case '--secret': o.secret = next(); break;
      case '--sweep': o.sweep = next().split(',').map((v) => num(v, 1, MAX_CLIENTS)); break;
      case '--json': o.json = true; break;
      case '--workers': o.workers = num(next(), 1, 16); break;
      case '-h': case '--help':
        console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(2, 22).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
        process.exit(0);
        break;
      default: throw new Error(`unknown option ${a}`);
    }
  }
  if (o.url) {
    const u = new URL(o.url);
    if (u.hostname !== '127.0.0.1') throw new Error('--url must be on 127.0.0.1');
    if (!o.secret) throw new Error('--url needs --secret (the hub\'s JWT secret)');
  }
  return o;
}

// ---- hub and tokens ------------------------------------------------------------

function b64url(data) {
  return Buffer.from(data).toString('base64url');
}

function signJwt(payload, secret) {
  const input = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${crypto.createHmac('sha256', secret).update(input).digest('base64url')}`;
}

function tokenFor(secret, sub) {
  return signJwt({
    sub, name: `Load ${sub}`, avatar: `https://avatar.invalid/${sub}.png`, org: 'org_load',
    role: 'editor', exp: Math.floor(Date.now() / 1000) + 3600,
  }, secret);
}

async function startHub(bin) {
  const secret = crypto.randomBytes(24).toString('hex');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'prdhub-load-'));
  const conf = path.join(dataDir, 'load.conf');
  // No rate limit in the way; connections are many, all from 127.0.0.1.
  fs.writeFileSync(conf, '[rate-limit]\ndefault = 1000000/1\ncollab = 1000000/1\n');
  const proc = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--config', conf], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PRDHUB_JWT_SECRET: secret },
  });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; if (stderr.length > 65536) stderr = stderr.slice(-32768); });
  const lines = readline.createInterface({ input: proc.stdout });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`prdhub did not start\n${stderr}`)), 30000);
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`prdhub exited (${code})\n${stderr}`)); });
    lines.on('line', (line) => {
      const m = /^prdhub listening on (https?:\/\/127\.0\.0\.1:\d+)\/$/.exec(line);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
  });
  return {
    url, secret, pid: proc.pid,
    async stop() {
      proc.removeAllListeners('exit');
      if (proc.exitCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 30000);
      if (proc.exitCode === null) await new Promise((r) => proc.once('exit', r));
      clearTimeout(t);
      lines.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function procStatus(pid) {
  if (!pid) return { rss: NaN, hwm: NaN };
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const get = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB$`, 'm').exec(s)?.[1] ?? NaN);
  return { rss: get('VmRSS'), hwm: get('VmHWM') };
}

// CPU seconds (user + system) a process has used.
function procCpu(pid) {
  if (!pid) return NaN;
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

async function createPrd(url, secret, title) {
  const res = await fetch(`${url}/api/prds`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokenFor(secret, 'load_owner')}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title, content: 'Load test document.\n' }),
  });
  if (res.status !== 201) throw new Error(`create PRD: ${res.status} ${await res.text()}`);
  return (await res.json()).id;
}

// ---- statistics ---------------------------------------------------------------------

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// ---- driving clients ------------------------------------------------------------------

// Connects the clients of @spec ({ url, secret, clients: [[userIndex, prdId]...],
// rate, warmup, duration, seed }), waits for go(), edits for warm-up +
// duration seconds and returns the raw measurements of the window.
async function drive(spec, waitGo, onConnected) {
  const clients = [];
  const sent = new Map(); // "prd:site:seq" -> send time (ms)
  const ackLat = [];
  const bcastLat = [];
  let measuring = false;
  let acked = 0;
  let errors = 0;
  let seed = spec.seed;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);

  function edit(c) {
    const len = c.length;
    let op;
    if (len > 200 && rand() < 0.3) {
      const pos = Math.floor(rand() * (len - 4));
      op = c.delete(pos, 1 + Math.floor(rand() * 3));
    } else {
      op = c.insert(Math.floor(rand() * (len + 1)), 'lorem ipsum '.slice(0, 1 + Math.floor(rand() * 8)));
    }
    sent.set(`${c.prdId}:${op.site}:${op.seq}`, performance.now());
  }

  for (const [u, prdId] of spec.clients) {
    const c = new PrdClient({
      url: spec.url, token: tokenFor(spec.secret, `load_u${u}`), prdId,
      socketOptions: { transports: ['websocket'], reconnection: false },
    });
    c.on('error', () => { errors++; });
    c.on('ack', ({ operation }) => {
      const t = sent.get(`${c.prdId}:${operation.site}:${operation.seq}`);
      if (measuring && t !== undefined) {
        ackLat.push(performance.now() - t);
        acked++;
      }
      if (spec.rate === 0 && c.running) edit(c);
    });
    c.on('remote-change', ({ operation }) => {
      if (!measuring || !operation?.id) return;
      const t = sent.get(`${c.prdId}:${operation.id[0]}:${operation.id[1]}`);
      if (t !== undefined) bcastLat.push(performance.now() - t);
    });
    clients.push(c);
  }
  const t0 = performance.now();
  for (let i = 0; i < clients.length; i += 50) await Promise.all(clients.slice(i, i + 50).map((c) => c.connect()));
  const connectMs = performance.now() - t0;
  onConnected?.(connectMs);
  await waitGo();

  const timers = [];
  for (const c of clients) {
    c.running = true;
    if (spec.rate > 0) {
      const period = 1000 / spec.rate;
      timers.push(setTimeout(() => {
        edit(c);
        timers.push(setInterval(() => edit(c), period));
      }, rand() * period));
    } else {
      edit(c);
    }
  }
  await new Promise((r) => setTimeout(r, spec.warmup * 1000));
  measuring = true;
  const m0 = performance.now();
  const cpu0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, spec.duration * 1000));
  measuring = false;
  const elapsed = (performance.now() - m0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  for (const t of timers) { clearTimeout(t); clearInterval(t); }
  for (const c of clients) c.running = false;
  // let what is in flight land, bounded
  const drainEnd = Date.now() + 30000;
  while (clients.some((c) => c.pendingCount > 0) && Date.now() < drainEnd) await new Promise((r) => setTimeout(r, 50));
  const pendingLeft = clients.reduce((a, c) => a + c.pendingCount, 0);
  for (const c of clients) c.close();
  return { ackLat, bcastLat, acked, errors, elapsed, cpuSec: (cpu.user + cpu.system) / 1e6, pendingLeft, connectMs };
}

// Worker process: one share of the rooms, driven by the parent over IPC.
function workerMain() {
  let go;
  const goPromise = new Promise((r) => { go = r; });
  process.on('message', async (msg) => {
    if (msg.type === 'go') go();
    if (msg.type !== 'spec') return;
    const res = await drive(msg.spec, () => goPromise, (connectMs) => process.send({ type: 'connected', connectMs }));
    process.send({ type: 'result', res }, () => process.exit(0));
  });
}

// ---- one run ------------------------------------------------------------------------------

async function run(opts, nClients, nRooms, nWorkers) {
  const hub = opts.url ? { url: opts.url, secret: opts.secret, pid: null, stop: async () => {} } : await startHub(opts.hub);
  const before = procStatus(hub.pid);
  const rooms = [];
  for (let i = 0; i < nRooms; i++) rooms.push(await createPrd(hub.url, hub.secret, `Load room ${i}`));
  // a room's clients stay in one process, so that broadcast latencies are
  // measured on one clock
  const shares = Array.from({ length: nWorkers }, () => []);
  for (let i = 0; i < nClients; i++) shares[(i % nRooms) % nWorkers].push([i, rooms[i % nRooms]]);
  const specs = shares.filter((c) => c.length > 0).map((c, k) => ({
    url: hub.url, secret: hub.secret, clients: c, rate: opts.rate, warmup: opts.warmup,
    duration: opts.duration, seed: 12345 + k,
  }));

  let results;
  let connectMs;
  const window = async () => {
    await new Promise((r) => setTimeout(r, opts.warmup * 1000));
    const cpu0 = procCpu(hub.pid);
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, opts.duration * 1000));
    const cpu = (procCpu(hub.pid) - cpu0) / ((performance.now() - w0) / 1000);
    return { cpu, status: procStatus(hub.pid) };
  };
  let sample;
  const t0 = performance.now();
  if (specs.length === 1) {
    results = [await drive(specs[0], async () => {
      connectMs = performance.now() - t0;
      sample = window();
    })];
    sample = await sample;
  } else {
    const kids = specs.map(() => fork(fileURLToPath(import.meta.url), ['--worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    const connectedAll = Promise.all(kids.map((k) => new Promise((r) => k.on('message', (m) => m.type === 'connected' && r()))));
    const resultAll = Promise.all(kids.map((k) => new Promise((resolve, reject) => {
      k.on('message', (m) => m.type === 'result' && resolve(m.res));
      k.on('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
    })));
    kids.forEach((k, i) => k.send({ type: 'spec', spec: specs[i] }));
    await connectedAll;
    connectMs = performance.now() - t0;
    for (const k of kids) k.send({ type: 'go' });
    sample = window();
    results = await resultAll;
    sample = await sample;
  }
  const after = procStatus(hub.pid);
  await hub.stop();

  const ackLat = results.flatMap((r) => r.ackLat).sort((a, b) => a - b);
  const bcastLat = results.flatMap((r) => r.bcastLat).sort((a, b) => a - b);
  const elapsed = Math.max(...results.map((r) => r.elapsed));
  const acked = results.reduce((a, r) => a + r.acked, 0);
  return {
    clients: nClients, rooms: nRooms, workers: specs.length, rate: opts.rate, seconds: Number(elapsed.toFixed(2)),
    connectMs: Math.round(connectMs),
    ackedPerSec: Math.round(acked / elapsed),
    ackP50: percentile(ackLat, 50), ackP99: percentile(ackLat, 99),
    bcastP50: percentile(bcastLat, 50), bcastP99: percentile(bcastLat, 99),
    broadcasts: bcastLat.length,
    hubRssIdleKiB: before.rss, hubRssKiB: sample.status.rss, hubHwmKiB: after.hwm,
    hubCpuPct: Math.round(sample.cpu * 100),
    driverCpuPct: Math.round((results.reduce((a, r) => a + r.cpuSec, 0) / elapsed) * 100),
    pendingLeft: results.reduce((a, r) => a + r.pendingLeft, 0),
    errors: results.reduce((a, r) => a + r.errors, 0),
  };
}

function fmt(ms) {
  return Number.isNaN(ms) ? '-' : ms < 10 ? ms.toFixed(2) : ms.toFixed(1);
}

function printRow(r) {
  console.log([
    String(r.clients).padStart(7), String(r.rooms).padStart(5), String(r.workers).padStart(5), String(r.rate || 'max').padStart(5),
    String(r.ackedPerSec).padStart(9), fmt(r.ackP50).padStart(8), fmt(r.ackP99).padStart(8),
    fmt(r.bcastP50).padStart(9), fmt(r.bcastP99).padStart(9),
    (Number.isNaN(r.hubRssKiB) ? '-' : (r.hubRssKiB / 1024).toFixed(1)).padStart(9),
    (Number.isNaN(r.hubHwmKiB) ? '-' : (r.hubHwmKiB / 1024).toFixed(1)).padStart(9),
    String(r.hubCpuPct).padStart(7), String(r.driverCpuPct).padStart(7),
    String(r.connectMs).padStart(8), String(r.errors).padStart(6),
  ].join(' '));
}

async function main() {
  const opts = parseArgs(process.argv);
  if (!opts.url && !fs.existsSync(opts.hub)) throw new Error(`no prdhub at ${opts.hub} (build it, or pass --hub / --url)`);
  const steps = opts.clients ? [opts.clients] : opts.sweep;
  console.log(`prdhub collaboration load: ${opts.duration} s per run after ${opts.warmup} s warm-up, ` +
    `${opts.rate ? `${opts.rate} edits/s per client` : 'closed loop (next edit on ack)'}, node ${process.version}, ` +
    `${os.cpus().length} CPUs`);
  console.log(' clients rooms procs  rate  acked/s  ack p50  ack p99  bcast p50 bcast p99  RSS MiB  peak MiB  hub CPU% drv CPU% connect ms errors');
  const results = [];
  for (const n of steps) {
    const rooms = opts.rooms ?? Math.max(1, Math.ceil(n / opts.perRoom));
    const workers = opts.workers ?? (n >= 100 ? Math.min(4, Math.max(2, os.cpus().length)) : 1);
    const r = await run(opts, n, Math.min(rooms, n), Math.min(workers, rooms));
    printRow(r);
    results.push(r);
  }
  console.log('latencies in ms; RSS = hub VmRSS at the end of the measured window, peak = VmHWM;');
  console.log('CPU% = CPU time / wall time during the window (100 = one core) of the hub and of the driver');
  console.log('processes (the clients of a room share one; --workers N)');
  if (opts.json) console.log(JSON.stringify(results, null, 1));
}

if (process.argv[2] === '--worker') workerMain();
else main().catch((err) => {
  console.error(err.stack ?? String(err));
  process.exit(1);
});
