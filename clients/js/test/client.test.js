// SPDX-License-Identifier: GPL-3.0-or-later
//
// PrdClient pieces that need no hub (the rest is covered end to end in
// tests/e2e/sdk*.test.js against a real prdhub).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { NotificationsClient, PrdClient, PrdClientError, diffDeltas } from '../src/client.js';
import { Emitter } from '../src/emitter.js';
import { rng } from './util.js';

function apply(text, deltas) {
  for (const d of deltas) {
    if (d.type === 'insert') text = text.slice(0, d.position) + d.text + text.slice(d.position);
    else text = text.slice(0, d.position) + text.slice(d.position + d.length);
  }
  return text;
}

test('diffDeltas turns one text into the other', () => {
  const r = rng(5);
  const alphabet = [...'ab😀 c'];
  const rand = (n) => {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[r() % alphabet.length];
    return s;
  };
  for (let i = 0; i < 500; i++) {
    const a = rand(r() % 12);
    const b = r() % 2 ? rand(r() % 12) : a.slice(0, r() % (a.length + 1)) + rand(r() % 3) + a.slice(r() % (a.length + 1));
    const deltas = diffDeltas(a, b);
    assert.equal(apply(a, deltas), b, JSON.stringify({ a, b, deltas }));
    assert.ok(deltas.length <= 2);
  }
  assert.deepEqual(diffDeltas('same', 'same'), []);
});

test('options are checked; editing needs a joined edit session', () => {
  const io = () => { throw new Error('not connecting in this test'); };
  assert.throws(() => new PrdClient({ url: 'http://127.0.0.1:1', token: 't', prdId: 'p' }), TypeError);
  assert.throws(() => new PrdClient({ url: 'http://127.0.0.1:1', token: 't', prdId: '', io }), TypeError);
  assert.throws(() => new PrdClient({ url: 'http://127.0.0.1:1', token: 't', prdId: 'p', io, mode: 'admin' }), TypeError);
  const c = new PrdClient({ url: 'http://127.0.0.1:1', token: 'a.eyJzdWIiOiJ1c2VyXzEifQ.b', prdId: 'p', io });
  assert.equal(c.userId, 'user_1');
  assert.equal(c.text, '');
  assert.throws(() => c.insert(0, 'x'), (e) => e instanceof PrdClientError && e.code === 'NOT_JOINED');
  const v = new PrdClient({ url: 'http://127.0.0.1:1', token: 't', prdId: 'p', io, mode: 'view' });
  assert.throws(() => v.delete(0, 1), (e) => e.code === 'FORBIDDEN');
  assert.throws(() => c.setStatus('away'), TypeError);
  c.close();
  assert.throws(() => c.insert(0, 'x'), (e) => e.code === 'CLOSED');
});

test('counts, sizes and delays are checked: a bad one is a TypeError naming it', () => {
  const io = () => { throw new Error('not connecting in this test'); };
  const make = (options) => new PrdClient({ url: 'http://127.0.0.1:1', token: 't', prdId: 'p', io, ...options });
  for (const name of ['maxOperationSize', 'maxInFlight', 'maxCoalesce']) {
    for (const bad of [0, -1, 0.5, NaN, Infinity, '1', 1n]) {
      assert.throws(() => make({ [name]: bad }), (e) => e instanceof TypeError && e.message.startsWith(`${name} must be`),
        `${name}: ${String(bad)}`);
    }
    assert.equal(make({ [name]: 1 })[name], 1);
  }
  for (const bad of [0, -1, NaN, Infinity, '100']) assert.throws(() => make({ requestTimeout: bad }), /requestTimeout must be/);
  for (const bad of [-1, NaN, '50']) assert.throws(() => make({ presenceInterval: bad }), /presenceInterval must be/);
  assert.equal(make({ presenceInterval: 0 }).presenceInterval, 0);
  assert.equal(make({ requestTimeout: 1 }).requestTimeout, 1);
  assert.equal(make({}).maxOperationSize, 65536);
});

// A timer takes at most 2^31 - 1 ms: setTimeout (and socket.io's timeout())
// fires a longer delay after 1 ms, so every request would time out at once.
test('delays longer than a timer takes (2^31 - 1 ms) are refused; NotificationsClient checks requestTimeout too', () => {
  const io = () => { throw new Error('not connecting in this test'); };
  const make = (options) => new PrdClient({ url: 'http://127.0.0.1:1', token: 't', prdId: 'p', io, ...options });
  const notes = (options) => new NotificationsClient({ url: 'http://127.0.0.1:1', token: 't', io, ...options });
  const max = 2 ** 31 - 1;
  for (const bad of [2 ** 31, 1e12, Number.MAX_SAFE_INTEGER]) {
    assert.throws(() => make({ requestTimeout: bad }), (e) => e instanceof TypeError &&
      e.message === `requestTimeout must be a number of ms above 0 and at most ${max} (got ${bad})`);
    assert.throws(() => make({ presenceInterval: bad }), (e) => e instanceof TypeError &&
      e.message.startsWith('presenceInterval must be'));
  }
  assert.equal(make({ requestTimeout: max }).requestTimeout, max);
  assert.equal(make({ presenceInterval: max }).presenceInterval, max);
  for (const bad of [0, -1, NaN, Infinity, '100', 2 ** 31, 1e12]) {
    assert.throws(() => notes({ requestTimeout: bad }), (e) => e instanceof TypeError &&
      e.message.startsWith('requestTimeout must be'), String(bad));
  }
  assert.equal(notes({ requestTimeout: max }).requestTimeout, max);
  assert.equal(notes({ requestTimeout: 1 }).requestTimeout, 1);
  assert.equal(notes({}).requestTimeout, 30000);
});

// A socket that stays connecting: a request asked meanwhile waits for the
// join, as long as requestTimeout says (here the longest one allowed).
test('a request waiting for the join with the longest requestTimeout keeps waiting until close()', async () => {
  const io = () => neverConnecting();
  const warnings = [];
  const onWarning = (w) => warnings.push(w.name);
  process.on('warning', onWarning);
  try {
    const c = new PrdClient({ url: 'http://127.0.0.1:1', token: 't', prdId: 'p', io, requestTimeout: 2 ** 31 - 1 });
    c.connect().catch(() => {});
    let settled = null;
    const asked = c.createVersion({ changelog: 'x' }).then(() => 'resolved', (e) => e.code);
    asked.then((r) => { settled = r; });
    // Well past the 1 ms an overflowing timer fires after.
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(settled, null);
    c.close();
    assert.equal(await asked, 'CLOSED');
    assert.deepEqual(warnings.filter((n) => n === 'TimeoutOverflowWarning'), []);
  } finally {
    process.off('warning', onWarning);
  }
});

// A socket.io socket that never connects (socket.io retrying meanwhile).
function neverConnecting() {
  const socket = new Emitter();
  Object.assign(socket, {
    connected: false,
    active: false,
    connect() { this.active = true; },
    disconnect() { this.active = false; },
    removeAllListeners() { this._listeners.clear(); },
  });
  return socket;
}

test('NotificationsClient: close() while connect() or subscribe() is under way rejects them CLOSED', async () => {
  const sockets = [];
  const io = () => {
    const s = neverConnecting();
    sockets.push(s);
    return s;
  };
  const n = new NotificationsClient({ url: 'http://127.0.0.1:1', token: 't', io });
  const subscribing = n.subscribe('org');
  const connecting = n.connect();
  assert.equal(sockets.length, 1);
  assert.equal(sockets[0].active, true);
  n.close();
  await assert.rejects(subscribing, (e) => e instanceof PrdClientError && e.code === 'CLOSED');
  await assert.rejects(connecting, (e) => e.code === 'CLOSED');
  await assert.rejects(n.subscribe('org'), (e) => e.code === 'CLOSED');
  await assert.rejects(n.markRead(['x']), (e) => e.code === 'CLOSED');
});

test('every client names its replica with an id of its own, as the hub accepts it', () => {
  const io = () => { throw new Error('not connecting in this test'); };
  const ids = new Set();
  for (let i = 0; i < 1000; i++) {
    const { replicaId } = new PrdClient({ url: 'http://127.0.0.1:1', token: 't', prdId: 'p', io });
    assert.match(replicaId, /^[A-Za-z0-9_-]{22}$/);
    ids.add(replicaId);
  }
  assert.equal(ids.size, 1000);
});

// A socket.io socket that is connected to a scripted hub: @answer(event,
// payload) returns the ack of each event the client sends (undefined: none).
function scriptedSocket(answer) {
  const socket = new Emitter();
  const deliver = Emitter.prototype.emit.bind(socket);
  Object.assign(socket, {
    connected: true,
    active: true,
    sent: [],
    io: { engine: null },
    deliver,
    emit(event, payload, ack) {
      this.sent.push({ event, payload });
      const res = answer(event, payload);
      if (ack && res !== undefined) queueMicrotask(() => ack(res));
      return true;
    },
    connect() {
      this.connected = true;
      queueMicrotask(() => deliver('connect'));
    },
    disconnect() {
      this.connected = false;
    },
    removeAllListeners() { this._listeners.clear(); },
  });
  return socket;
}

test('a rejoin refused for a passing reason is tried again; a final refusal rejects whenSynced()', async () => {
  const state = JSON.parse(fs.readFileSync(new URL('../../../tests/data/sdk-states/surrogates.json', import.meta.url), 'utf8'));
  const joined = { prdId: 'p', siteId: 2, mode: 'edit', title: 't', initialState: { encodedState: state.encodedState, version: '0.1.0' } };
  const refusals = [];
  let socket;
  const answer = (event) => {
    if (event === 'content-update') return { ok: true, stateVector: [2, 1, 1] };
    if (event !== 'join-prd') return undefined;
    const code = refusals.shift();
    if (code) return { error: { code, message: `refused ${code}` } };
    queueMicrotask(() => socket.deliver('joined-prd', joined));
    return { ok: true };
  };
  const io = () => {
    socket = scriptedSocket(answer);
    queueMicrotask(() => socket.deliver('connect'));
    return socket;
  };
  const c = new PrdClient({ url: 'http://127.0.0.1:1', token: 't', prdId: 'p', io });
  const errors = [];
  c.on('error', (e) => errors.push(e.code));
  await c.connect();
  const joins = () => socket.sent.filter((s) => s.event === 'join-prd').length;
  const until = async (pred, what) => {
    for (let i = 0; i < 1000 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(pred(), what);
  };

  // Dropped, edited offline, back: the rejoin is refused LIMIT_REACHED
  // (passing), the next one FORBIDDEN (final).
  socket.connected = false;
  socket.deliver('disconnect', 'transport close');
  c.insert(0, 'x');
  refusals.push('LIMIT_REACHED', 'FORBIDDEN');
  const synced = c.whenSynced();
  const outcome = synced.then(() => 'resolved', (e) => e.code);
  socket.connected = true;
  socket.deliver('connect');
  await until(() => joins() === 3, 'a second rejoin after LIMIT_REACHED');
  assert.equal(await outcome, 'FORBIDDEN');
  assert.deepEqual(errors, ['LIMIT_REACHED', 'FORBIDDEN']);
  // Refused for good: no more tries by itself, and whenSynced() says so.
  await assert.rejects(c.whenSynced(), (e) => e.code === 'FORBIDDEN');
  assert.equal(joins(), 3);
  assert.equal(c.pendingCount, 1);

  // Connected but not joined: reconnect() joins at once; the edit goes.
  await c.reconnect();
  assert.equal(joins(), 4);
  await c.whenSynced();
  assert.equal(c.pendingCount, 0);
  await c.close();
});

test('a reconnection the hub refuses (token expired offline) is final: whenSynced() rejects', async () => {
  const state = JSON.parse(fs.readFileSync(new URL('../../../tests/data/sdk-states/surrogates.json', import.meta.url), 'utf8'));
  const joined = { prdId: 'p', siteId: 2, mode: 'edit', title: 't', initialState: { encodedState: state.encodedState, version: '0.1.0' } };
  let socket;
  const answer = (event) => {
    if (event === 'content-update') return { ok: true, stateVector: [2, 1, 1] };
    if (event !== 'join-prd') return undefined;
    queueMicrotask(() => socket.deliver('joined-prd', joined));
    return { ok: true };
  };
  const io = () => {
    socket = scriptedSocket(answer);
    queueMicrotask(() => socket.deliver('connect'));
    return socket;
  };
  const c = new PrdClient({ url: 'http://127.0.0.1:1', token: 't', prdId: 'p', io });
  const errors = [];
  c.on('error', (e) => errors.push(`${e.event} ${e.code}`));
  await c.connect();

  // Offline, an edit, then the hub refuses the namespace CONNECT: as
  // socket.io-client does, the socket is no longer active and never retries.
  socket.connected = false;
  socket.deliver('disconnect', 'transport close');
  c.insert(0, 'x');
  const before = c.whenSynced().then(() => 'resolved', (e) => e.code);
  socket.active = false;
  const refusal = Object.assign(new Error('Token expired'), { data: { code: 'TOKEN_EXPIRED', message: 'Token expired' } });
  socket.deliver('connect_error', refusal);
  assert.equal(await before, 'TOKEN_EXPIRED');
  await assert.rejects(c.whenSynced(), (e) => e.code === 'TOKEN_EXPIRED');
  assert.deepEqual(errors, ['connect TOKEN_EXPIRED']);
  assert.equal(c.pendingCount, 1);

  // A fresh token and reconnect(): joined again, the edit goes.
  socket.active = true;
  const back = c.reconnect();
  const synced = c.whenSynced();
  await back;
  await synced;
  assert.equal(c.pendingCount, 0);
  await c.close();
});

// A socket.io-client socket and its Manager where nothing listens, as
// socket.io-client 4 behaves: every try fails with `connect_error` (a
// transport error, no `data`), the socket stays active (it keeps its
// subscriptions), and the Manager retries only with `reconnection` on,
// emitting `reconnect_failed` once `reconnectionAttempts` tries failed.
function unreachable(reconnection, attempts = Infinity) {
  const manager = new Emitter();
  manager.reconnection = () => reconnection;
  const socket = new Emitter();
  const deliver = Emitter.prototype.emit.bind(socket);
  const fail = () => {
    const tries = ++socket.tries;
    deliver('connect_error', new Error('websocket error'));
    // Without end: a few tries, then socket.io waits out its backoff.
    if (reconnection && tries <= Math.min(attempts, 4)) queueMicrotask(fail);
    else if (reconnection && tries > attempts) Emitter.prototype.emit.call(manager, 'reconnect_failed');
  };
  Object.assign(socket, {
    io: manager,
    connected: false,
    active: false,
    tries: 0,
    connect() {
      this.active = true;
      this.tries = 0;
      queueMicrotask(fail);
    },
    disconnect() { this.active = false; },
    removeAllListeners() { this._listeners.clear(); },
  });
  return socket;
}

// Settled once what is queued has run (the fake's tries are microtasks).
const outcome = (p) => Promise.race([
  p.then(() => 'resolved', (e) => (e instanceof PrdClientError ? `${e.code} ${e.event}` : String(e))),
  new Promise((r) => setImmediate(() => r('pending'))),
]);

test('connect() rejects CONNECT_ERROR when socket.io will not try again (reconnection off, or out of attempts)', async () => {
  for (const [reconnection, attempts] of [[false, 0], [true, 3]]) {
    let socket;
    const io = () => {
      socket = unreachable(reconnection, attempts);
      socket.connect();
      return socket;
    };
    const c = new PrdClient({ url: 'http://127.0.0.1:1', token: 't', prdId: 'p', io });
    const errors = [];
    c.on('error', (e) => errors.push(`${e.code} ${e.event}`));
    assert.equal(await outcome(c.connect()), 'CONNECT_ERROR connect');
    assert.equal(errors.length, attempts + 1);
    assert.equal(socket.tries, attempts + 1);
    // connect() again tries again, and rejects the same way.
    assert.equal(await outcome(c.connect()), 'CONNECT_ERROR connect');
    assert.equal(errors.length, 2 * (attempts + 1));
    c.close();

    const n = new NotificationsClient({ url: 'http://127.0.0.1:1', token: 't', io });
    assert.equal(await outcome(n.connect()), 'CONNECT_ERROR connect');
    assert.equal(socket.tries, attempts + 1);
    assert.equal(await outcome(n.connect()), 'CONNECT_ERROR connect');
    assert.equal(socket.tries, attempts + 1);
    n.close();
  }
});

test('while socket.io retries, connect() keeps waiting (an error event per try) until close()', async () => {
  let socket;
  const io = () => {
    socket = unreachable(true);
    return socket;
  };
  const c = new PrdClient({ url: 'http://127.0.0.1:1', token: 't', prdId: 'p', io });
  const errors = [];
  c.on('error', (e) => errors.push(e.code));
  const connecting = c.connect();
  socket.connect();
  assert.equal(await outcome(connecting), 'pending');
  assert.equal(errors.length, 5);
  assert.ok(errors.every((code) => code === 'CONNECT_ERROR'));
  c.close();
  assert.equal(await outcome(connecting), 'CLOSED undefined');
});
