#!/usr/bin/env node
// SPDX-License-Identifier: GPL-3.0-or-later
//
// Fan-out load generator: N clients in R rooms over raw WebSocket (the `ws`
// package; Engine.IO v4 / Socket.IO v5 framing done here), all in this one
// process. Each client connects, authenticates on /prds (JWT in auth.token)
// and joins its room in edit mode; the first client of each room is its
// writer. A step sends content-updates at a fixed total rate (open loop:
// the writers do not wait for acks), each an insert at the end of the
// document with the writer's state vector bumped by one, and every other
// client of the room measures how long the broadcast took to reach it
// (the send time, from this process's monotonic clock, is in the inserted
// text: "~STEP.SEQ@MS;"). The server's CPU (utime + stime, /proc/PID/stat)
// and RSS (VmRSS) are read around each step.
//
// As a library (compare.mjs): new Session(server, opts), setup(), step(),
// close(). As a program, against one server it starts itself:
//
//   node bench/fanout/loadgen.mjs --server prdhub|node [--hub PATH]
//        [--clients 100] [--rooms 10] [--rate 1000[,2000,...]] [--seconds 5]
//        [--idle] [--idle-extra N] [--concurrency 100] [--data-parent DIR] [--io-threads N] [--json]
//
// --idle connects and authenticates the clients without joining and prints
// the server's RSS growth per client instead; --concurrency is how many
// clients connect at once. --idle-extra N connects N more clients that
// authenticate but join nothing, before the steps (what idle connections
// cost the active ones); --data-parent is where the hub's data directory is
// made (default $TMPDIR or /tmp; /dev/shm keeps fsync out). Bounded: at most 10000 clients,
// 60 s per step, 127.0.0.1 only.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { startServer } from './servers.mjs';

export const ORG = 'org_fanout';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- tokens and rooms ------------------------------------------------------------------

function b64url(data) {
  return Buffer.from(data).toString('base64url');
}

export function signToken(secret, sub) {
  const payload = {
    sub, name: `Bench ${sub}`, avatar: `https://avatar.invalid/${sub}.png`, org: ORG, role: 'editor',
    exp: Math.floor(Date.now() / 1000) + 3 * 3600,
  };
  const input = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${crypto.createHmac('sha256', secret).update(input).digest('base64url')}`;
}

async function createPrd(server, title) {
  const res = await fetch(`${server.url}/api/prds`, {
    method: 'POST',
    headers: { authorization: `Bearer ${signToken(server.secret, 'bench_owner')}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title, content: 'Fan-out benchmark document.\n' }),
  });
  if (res.status !== 201) throw new Error(`create PRD on ${server.kind}: ${res.status} ${await res.text()}`);
  return (await res.json()).id;
}

// Counters of /proc/net/netstat's TcpExt line: ListenOverflows (connection
// attempts dropped because a listening socket's accept queue was full) and
// SyncookiesFailed (connections the kernel reset because the SYN cookie it
// had answered with no longer validated — it falls back to cookies when a
// listen queue overflows). They count for the whole network namespace, so
// other processes' connections count too.
export function tcpCounters() {
  try {
    const lines = fs.readFileSync('/proc/net/netstat', 'utf8').split('\n');
    for (let i = 0; i + 1 < lines.length; i++) {
      if (!lines[i].startsWith('TcpExt:') || !lines[i + 1].startsWith('TcpExt:')) continue;
      const names = lines[i].split(/\s+/);
      const values = lines[i + 1].split(/\s+/);
      const get = (name) => {
        const k = names.indexOf(name);
        return k > 0 ? Number(values[k]) : NaN;
      };
      return { listenOverflows: get('ListenOverflows'), syncookiesFailed: get('SyncookiesFailed') };
    }
  } catch { /* not Linux */ }
  return { listenOverflows: NaN, syncookiesFailed: NaN };
}

// ---- statistics ---------------------------------------------------------------------------

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

// ---- one client ------------------------------------------------------------------------------

class Client {
  constructor(session, index, room, prdId) {
    this.session = session;
    this.index = index;
    this.room = room;
    this.prdId = prdId;
    this.ws = null;
    this.state = 'new';
    this.siteId = -1;
    this.sv = null;
    this.len = 0;
    this.ackSeq = 1; // 1 is the join's
    this.pendingAcks = new Map(); // ack id -> [send time, step]
    this.onDone = null;
  }

  // Resolves once authenticated (and joined when join is set).
  connect(join, timeoutMs) {
    return new Promise((resolve, reject) => {
      const fail = (err) => {
        clearTimeout(timer);
        this.onDone = null;
        this.state = 'failed';
        try { this.ws?.terminate(); } catch { /* closed */ }
        reject(err);
      };
      const timer = setTimeout(() => fail(new Error(`client ${this.index}: no ${this.state === 'auth' ? 'namespace connect' : this.state === 'joining' ? 'join' : 'handshake'} within ${timeoutMs} ms`)), timeoutMs);
      this.join = join;
      this.onDone = (err) => {
        if (err) return fail(err);
        clearTimeout(timer);
        this.onDone = null;
        resolve();
      };
      this.state = 'handshake';
      const ws = new WebSocket(`${this.session.wsUrl}/socket.io/?EIO=4&transport=websocket`, {
        perMessageDeflate: false,
      });
      this.ws = ws;
      ws.on('message', (data) => this.onMessage(data.toString()));
      ws.on('error', (err) => { if (this.onDone) this.onDone(err); });
      ws.on('close', () => {
        if (this.onDone) this.onDone(new Error(`client ${this.index}: closed during ${this.state}`));
        else if (this.state === 'ready') this.session.disconnects++;
        this.state = 'closed';
      });
    });
  }

  send(text) {
    this.ws.send(text);
  }

  onMessage(d) {
    const s = this.session;
    if (d === '2') {
      this.send('3');
      return;
    }
    if (d.startsWith('42/prds,["content-update"')) {
      s.delivery(d);
      return;
    }
    if (d.startsWith('43/prds,')) {
      this.onAck(d);
      return;
    }
    if (d.startsWith('42/prds,["user-')) return;
    if (d.startsWith('42/prds,["batch-update"')) {
      const [, payload] = JSON.parse(d.slice(8));
      for (const u of payload.updates ?? []) {
        if (u.type === 'content-update' && typeof u.operation?.content === 'string')
          s.delivery(`"content":"${u.operation.content}"`);
      }
      return;
    }
    if (d.startsWith('42/prds,["joined-prd"')) {
      const [, p] = JSON.parse(d.slice(8));
      this.siteId = p.siteId;
      this.len = p.initialState.content.length;
      this.sv = p.initialState.stateVector.slice();
      return;
    }
    if (d.startsWith('42/prds,["error"')) {
      s.errorEvents++;
      s.firstError ??= d.slice(8, 400);
      return;
    }
    if (d.charCodeAt(0) === 48 /* '0' */ && d[1] === '{') {
      this.state = 'auth';
      this.send(`40/prds,${JSON.stringify({ token: signToken(s.server.secret, `bench_u${this.index}`) })}`);
      return;
    }
    if (d.startsWith('40/prds,')) {
      if (this.join) {
        this.state = 'joining';
        this.send(`42/prds,1["join-prd",{"prdId":"${this.prdId}","mode":"edit"}]`);
      } else {
        this.state = 'ready';
        this.onDone?.();
      }
      return;
    }
    if (d.startsWith('44/prds,')) {
      this.onDone?.(new Error(`client ${this.index}: connect_error ${d.slice(8, 300)}`));
      return;
    }
    // anything else (pong, server-shutdown, disconnect) is not measured
  }

  onAck(d) {
    const b = d.indexOf('[');
    const id = Number(d.slice(8, b));
    const ok = !d.includes('"error"', b);
    if (id === 1 && this.state === 'joining') {
      if (!ok || this.sv === null) {
        this.onDone?.(new Error(`client ${this.index}: join refused ${d.slice(b, 300)}`));
        return;
      }
      const [ack] = JSON.parse(d.slice(b));
      const sv = ack.stateVector;
      while (this.sv.length <= this.siteId) this.sv.push(0);
      this.sv[this.siteId] = sv[this.siteId] ?? 0;
      this.state = 'ready';
      this.onDone?.();
      return;
    }
    const pending = this.pendingAcks.get(id);
    if (!pending) return;
    this.pendingAcks.delete(id);
    const st = this.session.steps[pending[1]];
    if (ok) {
      st.acked++;
      st.ackLat.push(performance.now() - pending[0]);
    } else {
      st.ackErrors++;
      st.firstAckError ??= d.slice(b, 300);
    }
  }

  // One insert at the end of the document: the text carries the step, a
  // sequence number and the send time.
  sendUpdate(step, seq) {
    const t = performance.now();
    const text = `~${step}.${seq}@${t.toFixed(3)};`;
    this.sv[this.siteId]++;
    const id = ++this.ackSeq;
    this.pendingAcks.set(id, [t, step]);
    this.send(`42/prds,${id}["content-update",{"prdId":"${this.prdId}","operation":{"type":"insert","position":${this.len},"content":"${text}","timestamp":${Date.now()}},"stateVector":[${this.sv.join(',')}]}]`);
    this.len += text.length;
  }
}

// ---- a session: N clients on one server ----------------------------------------------------

export class Session {
  // server: { kind, url, secret, pid, cpuSeconds(), mem() } (servers.mjs)
  constructor(server, { clients, rooms = 0, join = true, concurrency = 100, connectTimeoutMs = 120000 }) {
    this.server = server;
    this.wsUrl = server.url.replace(/^http/, 'ws');
    this.nClients = clients;
    this.nRooms = join ? rooms : 0;
    this.join = join;
    this.concurrency = concurrency;
    this.connectTimeoutMs = connectTimeoutMs;
    this.clients = [];
    this.writers = [];
    this.receivers = []; // per room: clients that receive its broadcasts
    this.steps = [];
    this.stepSeq = 0;
    this.seq = 0;
    this.unmatched = 0;
    this.errorEvents = 0;
    this.firstError = null;
    this.disconnects = 0;
  }

  // Creates the rooms, then connects (and joins) every client, at most
  // `concurrency` at a time. Returns { connectMs, failed, firstFailure,
  // listenOverflows, syncookiesFailed }.
  async setup() {
    const prdIds = [];
    for (let r = 0; r < this.nRooms; r++) prdIds.push(await createPrd(this.server, `Fan-out room ${r}`));
    for (let i = 0; i < this.nClients; i++) {
      const room = this.nRooms ? i % this.nRooms : -1;
      this.clients.push(new Client(this, i, room, room >= 0 ? prdIds[room] : null));
    }
    const tcp0 = tcpCounters();
    const t0 = performance.now();
    this.connectStart = t0;
    let next = 0;
    let failed = 0;
    let firstFailure = null;
    await new Promise((resolve) => {
      let done = 0;
      const launch = () => {
        if (next >= this.clients.length) return;
        const c = this.clients[next++];
        c.connect(this.join, this.connectTimeoutMs).catch((err) => {
          failed++;
          firstFailure ??= err.message;
        }).finally(() => {
          if (++done === this.clients.length) resolve();
          else launch();
        });
      };
      if (this.clients.length === 0) resolve();
      for (let k = 0; k < this.concurrency; k++) launch();
    });
    const connectMs = performance.now() - t0;
    const tcp1 = tcpCounters();
    if (this.join) {
      for (let r = 0; r < this.nRooms; r++) {
        const members = this.clients.filter((c) => c.room === r && c.state === 'ready');
        const w = members.find((c) => c.siteId >= 0);
        if (w) this.writers.push(w);
        this.receivers[r] = members.length - (w ? 1 : 0);
      }
    }
    return {
      connectMs, failed, firstFailure,
      listenOverflows: tcp1.listenOverflows - tcp0.listenOverflows,
      syncookiesFailed: tcp1.syncookiesFailed - tcp0.syncookiesFailed,
    };
  }

  delivery(d) {
    const i = d.indexOf('"content":"~');
    if (i < 0) {
      this.unmatched++;
      return;
    }
    const dot = d.indexOf('.', i + 12);
    const at = d.indexOf('@', dot);
    const semi = d.indexOf(';', at);
    const st = this.steps[Number(d.slice(i + 12, dot))];
    if (!st) {
      this.unmatched++;
      return;
    }
    const lat = performance.now() - Number(d.slice(at + 1, semi));
    st.received++;
    if (st.open) st.lat.push(lat);
    else st.late++;
  }

  // Sends `rate` updates per second in all (spread evenly over the room
  // writers) for `seconds`, then waits up to drainMs for the deliveries and
  // acks still on their way. Deliveries arriving after that count as lost.
  async step({ rate, seconds, drainMs = 5000 }) {
    if (this.writers.length === 0) throw new Error('no writer joined');
    const id = ++this.stepSeq;
    const st = {
      open: true, sent: 0, expected: 0, received: 0, late: 0, acked: 0, ackErrors: 0,
      lat: [], ackLat: [], firstAckError: null,
    };
    this.steps[id] = st;
    const W = this.writers.length;
    const perWriter = rate / W;
    const sentBy = new Array(W).fill(0);
    const server = this.server;
    const disc0 = this.disconnects;
    const err0 = this.errorEvents;
    const cpu0 = server.cpuSeconds();
    const gen0 = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((resolve) => {
      const timer = setInterval(() => {
        const el = (performance.now() - t0) / 1000;
        const upTo = Math.min(el, seconds);
        for (let k = 0; k < W; k++) {
          const w = this.writers[k];
          const due = Math.floor(upTo * perWriter + k / W);
          if (w.state !== 'ready') continue;
          while (sentBy[k] < due) {
            w.sendUpdate(id, ++this.seq);
            sentBy[k]++;
            st.sent++;
            st.expected += this.receivers[w.room];
          }
        }
        if (el >= seconds) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    });
    const sendMs = performance.now() - t0;
    const drainEnd = performance.now() + drainMs;
    while ((st.received < st.expected || st.acked + st.ackErrors < st.sent) && performance.now() < drainEnd)
      await sleep(5);
    st.open = false;
    const wallMs = performance.now() - t0;
    const cpu = server.cpuSeconds() - cpu0;
    const gen = process.cpuUsage(gen0);
    const lat = Float64Array.from(st.lat).sort();
    const ackLat = Float64Array.from(st.ackLat).sort();
    return {
      rate, seconds, sent: st.sent, acked: st.acked, ackErrors: st.ackErrors,
      expected: st.expected, received: lat.length,
      deliveredPct: st.expected ? (100 * lat.length) / st.expected : 100,
      deliveriesPerSec: lat.length / (sendMs / 1000),
      p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat.length ? lat[lat.length - 1] : NaN,
      ackP50: percentile(ackLat, 50), ackP99: percentile(ackLat, 99),
      serverCpuSec: cpu, serverCpuPct: (100 * cpu) / (wallMs / 1000),
      cpuPerDeliveryUs: lat.length ? (cpu * 1e6) / lat.length : NaN,
      genCpuPct: (100 * (gen.user + gen.system) / 1e3) / wallMs,
      rssKiB: server.mem().rss, sendMs, wallMs,
      disconnects: this.disconnects - disc0, errorEvents: this.errorEvents - err0,
      firstError: st.firstAckError ?? this.firstError,
    };
  }

  // Waits until the late deliveries of earlier steps have stopped coming
  // (at most maxMs), so that the next step starts on a quiet server.
  async settle(maxMs = 10000) {
    const end = performance.now() + maxMs;
    let last = -1;
    for (;;) {
      const n = this.steps.reduce((a, s) => a + (s ? s.received + s.acked + s.ackErrors : 0), 0);
      if (n === last || performance.now() > end) return;
      last = n;
      await sleep(250);
    }
  }

  close() {
    for (const c of this.clients) {
      try { c.ws?.terminate(); } catch { /* closed */ }
    }
  }
}

// ---- the program ------------------------------------------------------------------------------

// The comment block at the top of this file.
function usage() {
  const lines = fs.readFileSync(new URL(import.meta.url), 'utf8').split('\n').slice(2);
  const end = lines.findIndex((l) => !l.startsWith('//'));
  return lines.slice(0, end).map((l) => l.replace(/^\/\/ ?/, '')).join('\n');
}

function parseArgs(argv) {
  const o = { server: null, hub: undefined, clients: 100, rooms: 10, rate: [1000], seconds: 5, idle: false, idleExtra: 0, dataParent: undefined, ioThreads: undefined, json: false, concurrency: 100 };
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
      case '--server': o.server = next(); break;
      case '--hub': o.hub = next(); break;
      case '--clients': o.clients = num(next(), 1, 10000); break;
      case '--rooms': o.rooms = num(next(), 1, 10000); break;
      case '--rate': o.rate = next().split(',').map((v) => num(v, 1, 100000)); break;
      case '--seconds': o.seconds = num(next(), 0.5, 60); break;
      case '--concurrency': o.concurrency = num(next(), 1, 5000); break;
      case '--idle': o.idle = true; break;
      case '--idle-extra': o.idleExtra = num(next(), 0, 5000); break;
      case '--data-parent': o.dataParent = path.resolve(next()); break;
      case '--io-threads': o.ioThreads = num(next(), 0, 64); break;
      case '--json': o.json = true; break;
      case '-h': case '--help':
        console.log(usage());
        process.exit(0);
        break;
      default: throw new Error(`unknown option ${a}`);
    }
  }
  if (o.server !== 'prdhub' && o.server !== 'node') throw new Error('--server prdhub|node is required');
  if (o.rooms > o.clients) throw new Error('--rooms must not exceed --clients');
  return o;
}

const f1 = (v) => (Number.isFinite(v) ? v.toFixed(1) : '-');

async function main() {
  const o = parseArgs(process.argv);
  const server = await startServer(o.server, { hub: o.hub, dataParent: o.dataParent, ioThreads: o.ioThreads });
  const out = [];
  try {
    await sleep(500);
    const rss0 = server.mem().rss;
    const s = new Session(server, { clients: o.clients, rooms: o.rooms, join: !o.idle, concurrency: o.concurrency });
    const setup = await s.setup();
    console.log(`${o.server}: ${o.clients - setup.failed}/${o.clients} clients ${o.idle ? 'authenticated' : `joined ${o.rooms} rooms`} in ${(setup.connectMs / 1000).toFixed(2)} s` +
      `, ${setup.listenOverflows} listen-queue overflows, ${setup.syncookiesFailed} SYN-cookie resets` +
      (setup.failed ? ` (first failure: ${setup.firstFailure})` : ''));
    let extra = null;
    if (o.idleExtra > 0) {
      extra = new Session(server, { clients: o.idleExtra, join: false, concurrency: o.concurrency });
      const es = await extra.setup();
      console.log(`${o.server}: ${o.idleExtra - es.failed}/${o.idleExtra} more idle clients authenticated in ${(es.connectMs / 1000).toFixed(2)} s` +
        (es.failed ? ` (first failure: ${es.firstFailure})` : ''));
    }
    if (o.idle) {
      await sleep(2000);
      const rss1 = server.mem().rss;
      const r = { rssBeforeKiB: rss0, rssAfterKiB: rss1, perClientKiB: (rss1 - rss0) / (o.clients - setup.failed) };
      console.log(`RSS ${rss0} -> ${rss1} KiB: ${r.perClientKiB.toFixed(2)} KiB per idle authenticated client`);
      out.push(r);
    } else {
      console.log('  upd/s  sent  delivered/expected   deliv/s  p50 ms  p99 ms  max ms  ack p99  srv CPU%  µs/deliv  gen CPU%  RSS MiB  errors');
      for (const rate of o.rate) {
        const r = await s.step({ rate, seconds: o.seconds });
        out.push(r);
        console.log([
          String(rate).padStart(7), String(r.sent).padStart(5),
          `${r.received}/${r.expected} (${r.deliveredPct.toFixed(1)}%)`.padStart(20),
          String(Math.round(r.deliveriesPerSec)).padStart(9), f1(r.p50).padStart(7), f1(r.p99).padStart(7),
          f1(r.max).padStart(7), f1(r.ackP99).padStart(8), f1(r.serverCpuPct).padStart(9),
          f1(r.cpuPerDeliveryUs).padStart(9), f1(r.genCpuPct).padStart(9), (r.rssKiB / 1024).toFixed(1).padStart(8),
          String(r.ackErrors + r.errorEvents + r.disconnects).padStart(7),
        ].join(' '));
        if (r.firstError) console.log(`    first error: ${r.firstError}`);
        await s.settle();
      }
    }
    s.close();
    extra?.close();
  } finally {
    await server.stop();
  }
  if (o.json) console.log(JSON.stringify(out, null, 1));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) {
  main().catch((err) => {
    console.error(err.stack ?? String(err));
    process.exit(1);
  });
}
