// SPDX-License-Identifier: GPL-3.0-or-later
//
// Each resource limit taken to its edge and one past it, on one hub with
// small limits: the answer past the edge is the documented one, the hub
// keeps serving, and once the clients are gone its RSS is back near where
// it started.
//
//   [collab] max-joined-prds, max-open-rooms (an idle room makes way),
//            max-pending-acks
//   [engine] max-sessions-per-address (Engine.IO sessions, CONNECT or not),
//            connect-timeout (sessions that never CONNECT), the heartbeat
//            (abandoned polling sessions)
//   HTTP request headers over 32 KiB: 431 PAYLOAD_TOO_LARGE, the connection is closed
//   [rate-limit] rest: one user's REST writes (a hub of its own)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { startHub, token, assertCleanStop, EVENT_TIMEOUT_MS } from './helpers/hub.js';
import { openRawWebSocket } from './helpers/rawws.js';
import { bump, client, createPrd, join, once, request, rest, user } from './collab-helpers.js';

const MAX_JOINED = 3;
const MAX_ROOMS = 4;
const MAX_PENDING = 8;
const MAX_SESSIONS = 12;
const CONFIG = `[collab]
max-joined-prds = ${MAX_JOINED}
max-open-rooms = ${MAX_ROOMS}
max-pending-acks = ${MAX_PENDING}
[engine]
max-sessions-per-address = ${MAX_SESSIONS}
connect-timeout = 1000
ping-interval = 300
ping-timeout = 300
[rate-limit]
default = 1000000/1
collab = 1000000/1
`;

let hub;
let baseline;

before(async () => {
  hub = await startHub({ config: CONFIG });
});

after(async () => {
  await assertCleanStop(hub);
});

const polling = () => `${hub.url}/socket.io/?EIO=4&transport=polling`;

// Closes the sockets and waits until the hub has seen them go (GET
// /api/sessions lists them no more). The close travels on their own
// connections: until the hub has read it, the PRDs they joined stay open
// and count against the next test's joins (max-open-rooms is per hub).
async function closeAll(...sockets) {
  const ids = sockets.map((s) => s.id);
  for (const s of sockets) s.close();
  const deadline = Date.now() + EVENT_TIMEOUT_MS;
  for (;;) {
    const res = await rest(hub, 'GET', '/api/sessions', { tok: token({ role: 'admin' }) });
    assert.equal(res.status, 200, res.text);
    if (!res.json.sessions.some((x) => ids.includes(x.id))) return;
    if (Date.now() > deadline) throw new Error('the hub did not see the connections close');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function handshake() {
  const res = await fetch(polling());
  return { status: res.status, body: await res.text() };
}

async function closeSession(sid) {
  await fetch(`${polling()}&sid=${sid}`, { method: 'POST', body: '1', headers: { 'Content-Type': 'text/plain;charset=UTF-8' } });
}

// Opens n Engine.IO sessions and uses each (a noop POST: no CONNECT), as a
// client does; an unused one would give way to the next handshake over the
// limit. Waits (bounded, no timing assertion) until the hub's own timers
// have freed enough of the earlier ones.
async function sessions(n, what = 'sessions') {
  const deadline = Date.now() + 60000;
  for (;;) {
    const sids = [];
    let last;
    for (let i = 0; i < n; i++) {
      last = await handshake();
      if (last.status !== 200) break;
      const sid = JSON.parse(last.body.slice(1)).sid;
      sids.push(sid);
      const used = await fetch(`${polling()}&sid=${sid}`, { method: 'POST', body: '6', headers: { 'Content-Type': 'text/plain;charset=UTF-8' } });
      assert.equal(used.status, 200);
    }
    if (sids.length === n) return sids;
    for (const sid of sids) await closeSession(sid);
    if (Date.now() > deadline) throw new Error(`${what}: only ${sids.length} of ${n} sessions (${last.status} ${last.body})`);
    // longer than connect-timeout and the close of a polling session, so
    // that the sessions of this attempt are gone before the next one
    await new Promise((r) => setTimeout(r, 1500));
  }
}

test('baseline', async () => {
  // warm up: one of each thing the test does, then measure
  const s = await client(hub, user('rl_warm'));
  const prdId = await createPrd(hub, 'warm', 'x', user('rl_warm'));
  await join(s, prdId);
  await closeAll(s);
  await handshake();
  baseline = hub.rssKiB();
  assert.ok(baseline > 0);
});

test(`max-joined-prds: ${MAX_JOINED} PRDs joined at once per connection`, async () => {
  const alice = user('rl_alice');
  const s = await client(hub, alice);
  try {
    const ids = [];
    for (let i = 0; i <= MAX_JOINED; i++) ids.push(await createPrd(hub, `joined ${i}`, 'x', alice));
    for (let i = 0; i < MAX_JOINED; i++) await join(s, ids[i]);
    const errorEvent = once(s, 'error');
    const past = await request(s, 'join-prd', { prdId: ids[MAX_JOINED], mode: 'edit' });
    assert.equal(past.error.code, 'LIMIT_REACHED');
    assert.match(past.error.message, /max-joined-prds/);
    assert.equal((await errorEvent).args[0].code, 'LIMIT_REACHED');
    // joining one of them again is not one more
    await join(s, ids[0]);
    assert.deepEqual(await request(s, 'leave-prd', { prdId: ids[1] }), { ok: true });
    await join(s, ids[MAX_JOINED]);
  } finally {
    await closeAll(s);
  }
});

test('max-joined-prds holds for a burst of joins sent at once', async () => {
  const dave = user('rl_dave');
  const s = await client(hub, dave);
  try {
    const ids = [];
    for (let i = 0; i < MAX_JOINED + 3; i++) ids.push(await createPrd(hub, `burst ${i}`, 'x', dave));
    const acks = await Promise.all(ids.map((prdId) => request(s, 'join-prd', { prdId, mode: 'edit' })));
    const codes = acks.map((a) => (a.error ? a.error.code : 'ok'));
    assert.equal(codes.filter((c) => c === 'ok').length, MAX_JOINED, codes.join());
    assert.equal(codes.filter((c) => c === 'LIMIT_REACHED').length, 3, codes.join());
  } finally {
    await closeAll(s);
  }
});

test('max-joined-prds: joins of one PRD sent at once count as one PRD', async () => {
  const erin = user('rl_erin');
  const s = await client(hub, erin);
  try {
    const ids = [];
    for (let i = 0; i < MAX_JOINED; i++) ids.push(await createPrd(hub, `again ${i}`, 'x', erin));
    // The last PRD asked for again and again before the first answer: still
    // MAX_JOINED PRDs, so none is refused.
    const burst = [...ids, ...Array(MAX_JOINED + 2).fill(ids[MAX_JOINED - 1])];
    const acks = await Promise.all(burst.map((prdId) => request(s, 'join-prd', { prdId, mode: 'edit' })));
    assert.deepEqual(acks.map((a) => (a.error ? a.error.code : 'ok')), burst.map(() => 'ok'));
  } finally {
    await closeAll(s);
  }
});

test(`max-open-rooms: ${MAX_ROOMS} PRDs in memory; a room nobody is in makes way`, async () => {
  const bob = user('rl_bob');
  const a = await client(hub, bob);
  const b = await client(hub, bob);
  try {
    const ids = [];
    for (let i = 0; i <= MAX_ROOMS; i++) ids.push(await createPrd(hub, `room ${i}`, 'x', bob));
    for (let i = 0; i < MAX_JOINED; i++) await join(a, ids[i]);
    for (let i = MAX_JOINED; i < MAX_ROOMS; i++) await join(b, ids[i]);
    const past = await request(b, 'join-prd', { prdId: ids[MAX_ROOMS], mode: 'edit' });
    assert.equal(past.error.code, 'LIMIT_REACHED');
    assert.match(past.error.message, /max-open-rooms/);
    await join(b, ids[0]); // already open: fine
    // Another organization's user gets for an open PRD what an unknown id
    // gets: its being open must not tell that it exists.
    const eve = await client(hub, user('rl_eve', { org: 'org_other' }));
    try {
      const open = await request(eve, 'join-prd', { prdId: ids[0], mode: 'edit' });
      const unknown = await request(eve, 'join-prd', { prdId: 'prd_nosuchprd000', mode: 'edit' });
      assert.equal(open.error.code, unknown.error.code);
      assert.equal(open.error.code, 'LIMIT_REACHED');
      assert.equal(open.error.message, unknown.error.message);
    } finally {
      eve.close();
    }
    await request(a, 'leave-prd', { prdId: ids[1] });
    // ids[1] has no member left: unloaded for the next PRD (before its
    // empty-room-grace is over), so there is room again
    await join(b, ids[MAX_ROOMS]);
  } finally {
    await closeAll(a, b);
  }
});

test(`max-pending-acks: ${MAX_PENDING} content-updates awaiting their ack per connection`, async () => {
  const carol = user('rl_carol');
  const prdId = await createPrd(hub, 'pending', 'x', carol);
  const s = await client(hub, carol);
  try {
    const { siteId, vector } = await join(s, prdId);
    let v = vector;
    const sent = [];
    for (let i = 0; i < MAX_PENDING * 8; i++) {
      v = bump(v, siteId);
      sent.push(request(s, 'content-update', {
        prdId, operation: { type: 'insert', position: 0, content: 'p' }, stateVector: v,
      }));
    }
    const acks = await Promise.all(sent);
    const codes = acks.map((a) => (a.ok ? 'ok' : a.error.code));
    // the first ones are taken; past the limit they are refused, and what
    // follows a refused one has a gap in its numbers
    assert.deepEqual(codes.slice(0, MAX_PENDING), new Array(MAX_PENDING).fill('ok'));
    assert.ok(codes.includes('LIMIT_REACHED'), codes.join());
    for (const c of codes) assert.ok(['ok', 'LIMIT_REACHED', 'INVALID_OPERATION'].includes(c), c);
    const limited = acks.find((a) => a.error?.code === 'LIMIT_REACHED');
    assert.match(limited.error.message, /max-pending-acks/);
    // acks in: the connection sends again
    const okCount = codes.filter((c) => c === 'ok').length;
    const next = new Array(siteId + 1).fill(0);
    next[siteId] = okCount + 1;
    const again = await request(s, 'content-update', {
      prdId, operation: { type: 'insert', position: 0, content: 'q' }, stateVector: next,
    });
    assert.equal(again.ok, true, JSON.stringify(again));
  } finally {
    await closeAll(s);
  }
});

test(`max-sessions-per-address: ${MAX_SESSIONS} used Engine.IO sessions, counted before any CONNECT and closed at connect-timeout`, async () => {
  await sessions(MAX_SESSIONS);
  const past = await handshake();
  assert.equal(past.status, 503);
  const body = JSON.parse(past.body);
  assert.equal(body.code, 3);
  assert.match(body.message, /max-sessions-per-address/);
  // A WebSocket handshake is refused the same way.
  await assert.rejects(openRawWebSocket(hub.port), (err) => /^HTTP\/1\.1 503/.test(err.head ?? ''));
  // none of them sends CONNECT: connect-timeout (1 s) frees them all
  for (const sid of await sessions(MAX_SESSIONS, 'connect-timeout')) await closeSession(sid);
});

test('abandoned polling sessions are closed by the heartbeat and free their slot', async () => {
  const sids = await sessions(MAX_SESSIONS);
  // each joins the main namespace, then never polls again
  for (const sid of sids) {
    const res = await fetch(`${polling()}&sid=${sid}`, {
      method: 'POST', body: `40${JSON.stringify({ token: token() })}`,
      headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
    });
    assert.equal(res.status, 200);
  }
  assert.equal((await handshake()).status, 503);
  for (const sid of await sessions(MAX_SESSIONS, 'heartbeat')) await closeSession(sid);
});

// Sends one raw request on a new connection; resolves with everything the
// hub sent until it closed the connection (or, for a kept-alive one, after
// the first answer when `keep` is set).
function rawRequest(request, { keep = false } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(hub.port, '127.0.0.1', () => socket.write(request));
    let data = '';
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer: ${data.slice(0, 200)}`)); }, 10000);
    const done = () => { clearTimeout(timer); socket.destroy(); resolve({ text: data, closed: !keep }); };
    socket.setEncoding('latin1');
    socket.on('data', (d) => {
      data += d;
      if (keep && /\r\n\r\n[\s\S]*\}$/.test(data)) done();
    });
    socket.on('error', () => {});
    socket.on('close', done);
  });
}

test('request headers: up to 32 KiB served, past it 431 PAYLOAD_TOO_LARGE and closed; the hub serves on', async () => {
  const head = (n) => `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(n)}\r\n\r\n`;
  const fixed = head(0).length;
  // at the edge: the whole head is exactly 32,768 bytes
  const edge = await rawRequest(head(32768 - fixed), { keep: true });
  assert.match(edge.text, /^HTTP\/1\.1 200 /);
  // one byte past it, far past it, and past libsoup's own 64 KiB
  for (const n of [32769 - fixed, 40 * 1024, 70 * 1024, 1024 * 1024]) {
    const { text } = await rawRequest(head(n));
    assert.match(text, /^HTTP\/1\.1 431 /, `${n} bytes of header`);
    assert.match(text, /\r\nConnection: close\r\n/i);
    const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
    assert.equal(body.code, 'PAYLOAD_TOO_LARGE');
    assert.match(body.message, /32768 bytes/);
  }
  // the second request of a kept-alive connection is counted on its own
  const both = await new Promise((resolve, reject) => {
    const socket = net.connect(hub.port, '127.0.0.1', () => socket.write(head(100)));
    let data = '';
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer: ${data.slice(0, 200)}`)); }, 10000);
    socket.setEncoding('latin1');
    socket.on('data', (d) => {
      const first = data === '';
      data += d;
      if (first) socket.write(head(33 * 1024));
    });
    socket.on('error', () => {});
    socket.on('close', () => { clearTimeout(timer); resolve(data); });
  });
  assert.match(both, /^HTTP\/1\.1 200 [\s\S]*HTTP\/1\.1 431 /);
  // a WebSocket upgrade is held to the same limit
  const ws = await rawRequest(`GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n` +
    `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Big: ${'a'.repeat(40000)}\r\n\r\n`);
  assert.match(ws.text, /^HTTP\/1\.1 431 /);
  const ok = await fetch(`${hub.url}/healthz`, { headers: { 'X-Fine': 'a'.repeat(8 * 1024) } });
  assert.equal(ok.status, 200);
});

test('[rate-limit] rest: one user\'s REST writes past the limit get 429 and change nothing', async () => {
  const limited = await startHub({ config: '[rate-limit]\nrest = 3/60\n' });
  try {
    const alice = user('rate_alice');
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await createPrd(limited, `rate ${i}`, 'x', alice));
    const over = await rest(limited, 'POST', '/api/prds', { body: { title: 'one too many' }, tok: token(alice) });
    assert.equal(over.status, 429, over.text);
    assert.equal(over.json.code, 'RATE_LIMITED');
    assert.match(over.json.message, /at most 3 in 60 seconds/);
    const wait = Number(over.headers.get('retry-after'));
    assert.ok(wait >= 1 && wait <= 60, `Retry-After ${wait}`);
    // the same for any write (a PATCH of a PRD of hers), never for reads
    const patch = await rest(limited, 'PATCH', `/api/prds/${ids[0]}`, { body: { title: 'renamed' }, tok: token(alice) });
    assert.equal(patch.status, 429);
    const list = await rest(limited, 'GET', '/api/prds', { tok: token(alice) });
    assert.equal(list.status, 200, list.text);
    const mine = list.json.prds.filter((p) => p.title.startsWith('rate ') || p.title === 'one too many');
    assert.deepEqual(mine.map((p) => p.title).sort(), ['rate 0', 'rate 1', 'rate 2']);
    // another user, or the same id in another organization, has a limit of its own
    assert.ok(await createPrd(limited, 'bob', 'x', user('rate_bob')));
    assert.ok(await createPrd(limited, 'alice elsewhere', 'x', user('rate_alice', { org: 'org_rate_other' })));
    const metrics = await (await fetch(`${limited.url}/metrics`)).text();
    assert.match(metrics, /^prdhub_rate_limit_refusals_total\{class="rest"\} 2$/m);
  } finally {
    await assertCleanStop(limited);
  }
});

test('[collab] max-document-size and max-sync-operations: a PRD text has a limit; a client far behind gets the full state', async () => {
  const small = await startHub({ config: '[collab]\nmax-document-size = 20\nmax-sync-operations = 3\n' });
  try {
    const alice = user('size_alice');
    // Creation with more than the limit: 413, nothing created.
    const big = await rest(small, 'POST', '/api/prds', { body: { title: 'big', content: 'x'.repeat(21) }, tok: token(alice) });
    assert.equal(big.status, 413, big.text);
    assert.equal(big.json.code, 'PAYLOAD_TOO_LARGE');
    assert.match(big.json.message, /max-document-size/);
    assert.deepEqual((await rest(small, 'GET', '/api/prds', { tok: token(alice) })).json.prds, []);
    const prdId = await createPrd(small, 'sized', 'abcdefghij', alice);
    const a = await client(small, alice);
    try {
      const { joined, siteId, vector } = await join(a, prdId);
      assert.equal(joined.maxDocumentSize, 20);
      // 10 + 11 > 20: refused, nothing applied, the site's count unchanged.
      const over = await request(a, 'content-update', {
        prdId, operation: { type: 'insert', position: 10, content: 'k'.repeat(11) }, stateVector: bump(vector, siteId),
      });
      assert.equal(over.error.code, 'LIMIT_REACHED');
      assert.match(over.error.message, /more than it may hold \(20, max-document-size\)/);
      // Deleting makes room; up to the limit exactly is fine.
      let v = bump(vector, siteId);
      let ack = await request(a, 'content-update', { prdId, operation: { type: 'delete', position: 0, length: 5 }, stateVector: v });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      v = bump(v, siteId);
      ack = await request(a, 'content-update', { prdId, operation: { type: 'insert', position: 5, content: 'k'.repeat(15) }, stateVector: v });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      const doc = await rest(small, 'GET', `/api/prds/${prdId}`, { tok: token(alice) });
      assert.equal(doc.json.content, `fghij${'k'.repeat(15)}`);

      // Three operations (the content, two edits): listed up to the limit...
      let resp = once(a, 'sync-response');
      await request(a, 'sync-request', { prdId, stateVector: [1] });
      let [sr] = (await resp).args;
      assert.equal(sr.full, false);
      assert.equal(sr.missingUpdates.length, 2);
      // ...and a vector missing more than it gets the full state instead.
      for (let i = 0; i < 2; i++) {
        v = bump(v, siteId);
        ack = await request(a, 'content-update', { prdId, operation: { type: 'delete', position: 0, length: 1 }, stateVector: v });
        assert.equal(ack.ok, true, JSON.stringify(ack));
      }
      resp = once(a, 'sync-response');
      const syncAck = await request(a, 'sync-request', { prdId, stateVector: [] });
      [sr] = (await resp).args;
      assert.equal(syncAck.full, true);
      assert.equal(sr.full, true);
      assert.deepEqual(sr.missingUpdates, []);
      assert.equal(sr.fullState.content, `hij${'k'.repeat(15)}`);
      assert.equal(typeof sr.fullState.encodedState, 'string');
    } finally {
      a.disconnect();
    }
  } finally {
    await assertCleanStop(small);
  }
});

// A position read at an older version walks back through every operation
// since: each [collab] history-ops-per-event of them counts as one more
// event of the request's class (here 5 operations, and collab 40 per 10 s).
test('[collab] history-ops-per-event: edits made at an old version cost more of the rate limit', async () => {
  const limited = await startHub({ config: '[collab]\nhistory-ops-per-event = 5\n[rate-limit]\ncollab = 40/10\n' });
  try {
    const alice = user('history_alice');
    const bob = user('history_bob');
    const prdId = await createPrd(limited, 'history', 'x', alice);
    const a = await client(limited, alice);
    const b = await client(limited, bob);
    try {
      const ja = await join(a, prdId);
      const jb = await join(b, prdId);
      // Bob writes 25 operations that Alice's edits below never see.
      let vb = jb.vector;
      for (let i = 0; i < 25; i++) {
        vb = bump(vb, jb.siteId);
        const ack = await request(b, 'content-update', { prdId, operation: { type: 'insert', position: 0, content: 'b' }, stateVector: vb });
        assert.equal(ack.ok, true, JSON.stringify(ack));
      }
      // Each of Alice's costs 1 + 25 / 5 = 6 events, charged once it is
      // done: six leave 4 of the 40, the seventh takes them, the eighth is
      // refused (with the old version free, all twelve would pass).
      let va = ja.vector;
      let accepted = 0;
      let refused = null;
      for (let i = 0; i < 12 && refused === null; i++) {
        va = bump(va, ja.siteId);
        const ack = await request(a, 'content-update', { prdId, operation: { type: 'insert', position: 1, content: 'a' }, stateVector: va });
        if (ack.ok) accepted++;
        else refused = ack.error;
      }
      assert.equal(accepted, 7);
      assert.equal(refused?.code, 'RATE_LIMITED');
      // Bob's budget is his own: his edits at the current version still pass.
      vb = bump(vb, jb.siteId);
      const ok = await request(b, 'content-update', { prdId, operation: { type: 'insert', position: 0, content: 'c' }, stateVector: vb });
      assert.equal(ok.ok, true, JSON.stringify(ok));
    } finally {
      a.disconnect();
      b.disconnect();
    }
  } finally {
    await assertCleanStop(limited);
  }
});

// A PRD keeps every character ever inserted: long inserts count as more
// events (here every 10 units one more, and collab 40 per 10 s).
test('[collab] insert-units-per-event: long inserts cost more of the rate limit; deletions do not', async () => {
  const limited = await startHub({ config: '[collab]\ninsert-units-per-event = 10\n[rate-limit]\ncollab = 40/10\n' });
  try {
    const carol = user('units_carol');
    const prdId = await createPrd(limited, 'units', 'x', carol);
    const c = await client(limited, carol);
    try {
      const { siteId, vector } = await join(c, prdId);
      let v = vector;
      // A 10-unit deletion costs one event like any other...
      v = bump(v, siteId);
      let ack = await request(c, 'content-update', { prdId, operation: { type: 'insert', position: 0, content: 'd'.repeat(9) }, stateVector: v });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      v = bump(v, siteId);
      ack = await request(c, 'content-update', { prdId, operation: { type: 'delete', position: 0, length: 9 }, stateVector: v });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      // ...a 50-unit insert 1 + 50 / 10 = 6, charged once applied: the 38
      // tokens left make six with 2 to spare, the seventh takes those, the
      // eighth is refused (uncharged, all twelve would pass).
      let accepted = 0;
      let refused = null;
      for (let i = 0; i < 12 && refused === null; i++) {
        v = bump(v, siteId);
        ack = await request(c, 'content-update', { prdId, operation: { type: 'insert', position: 0, content: 'i'.repeat(50) }, stateVector: v });
        if (ack.ok) accepted++;
        else refused = ack.error;
      }
      assert.equal(accepted, 7);
      assert.equal(refused?.code, 'RATE_LIMITED');
    } finally {
      c.disconnect();
    }
  } finally {
    await assertCleanStop(limited);
  }
});

test('RSS returns near its baseline once every client is gone', async () => {
  for (const sid of await sessions(MAX_SESSIONS, 'all freed')) await closeSession(sid);
  const after = hub.rssKiB();
  // allocator slack, not leaks: within 16 MiB or 50 % of the baseline; an
  // AddressSanitizer build keeps freed memory in quarantine (256 MiB)
  const asan = fs.readFileSync(`/proc/${hub.pid}/maps`, 'utf8').includes('libasan');
  const slack = asan ? 256 * 1024 : Math.max(16 * 1024, baseline / 2);
  assert.ok(after <= baseline + slack, `RSS ${after} KiB after, ${baseline} KiB before`);
  console.log(`# RSS before ${baseline} KiB, after ${after} KiB`);
});
