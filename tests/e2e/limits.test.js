// SPDX-License-Identifier: GPL-3.0-or-later
//
// maxPayload over both transports, max-json-values, and the per-event
// rate limit (per user), and how a connection that abuses it is closed.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startHub, connect, once, token, isoTime, assertCleanStop, EVENT_TIMEOUT_MS, Manager,
} from './helpers/hub.js';
import { wsFrame, openRawWebSocket, drain } from './helpers/rawws.js';
import { io } from './helpers/hub.js';
import { PrdClient } from '../../clients/js/src/client.js';
import { NotificationsClient } from '../../clients/js/src/notifications.js';
import { createPrd } from './collab-helpers.js';

const MAX_PAYLOAD = 1000000;

async function handshake(url) {
  const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling`);
  assert.equal(res.status, 200);
  const body = await res.text();
  assert.equal(body[0], '0');
  return JSON.parse(body.slice(1));
}

describe('maxPayload', () => {
  let hub;
  before(async () => { hub = await startHub(); });
  after(async () => {
    await assertCleanStop(hub);
  });

  test('the handshake announces maxPayload 1000000', async () => {
    const open = await handshake(hub.url);
    assert.equal(open.maxPayload, MAX_PAYLOAD);
    assert.deepEqual(open.upgrades, ['websocket']);
    assert.equal(typeof open.sid, 'string');
  });

  test('a polling POST larger than maxPayload gets 413', async () => {
    const { sid } = await handshake(hub.url);
    const body = '4' + 'x'.repeat(MAX_PAYLOAD + 10);
    const res = await fetch(`${hub.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain;charset=UTF-8' },
      body,
    });
    assert.equal(res.status, 413);
    // No body, as engine.io (not the hub's error for an unreadable head).
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });

  // engine.io answers a POST on a session already reading one ("data request
  // overlap") with its own JSON error; the hub's handlers keep that body.
  test('a polling POST while another is being read gets engine.io\'s 400 body', async () => {
    const net = await import('node:net');
    const { sid } = await handshake(hub.url);
    const path = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    const held = net.connect(hub.port, '127.0.0.1');
    await new Promise((resolve) => held.once('connect', resolve));
    held.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      'Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 10\r\n\r\n40');
    try {
      // Until the hub has the first one's head: before that, the second is
      // simply read (a noop packet).
      let res;
      for (let i = 0; i < 100; i++) {
        res = await fetch(`${hub.url}${path}`, {
          method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8' }, body: '6',
        });
        if (res.status !== 200) break;
        await res.arrayBuffer();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(res.status, 400);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(await res.json(), { code: 3, message: 'Bad request' });
    } finally {
      held.destroy();
    }
  });

  test('a polling POST just under maxPayload is accepted', async () => {
    const { sid } = await handshake(hub.url);
    const body = '4' + 'x'.repeat(MAX_PAYLOAD - 100);
    const res = await fetch(`${hub.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain;charset=UTF-8' },
      body,
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  });

  test('an over-size message over websocket disconnects the client', async () => {
    const socket = await connect(hub.url, { transports: ['websocket'] });
    const gone = once(socket, 'disconnect');
    socket.emit('ping', 'x'.repeat(MAX_PAYLOAD + 1000));
    const { args } = await gone;
    assert.match(args[0], /transport (close|error)/);
    socket.close();
  });

  test('an over-size message over polling disconnects the client', async () => {
    const socket = await connect(hub.url, { transports: ['polling'], upgrade: false });
    const gone = once(socket, 'disconnect');
    socket.emit('ping', 'x'.repeat(MAX_PAYLOAD + 1000));
    const { args } = await gone;
    assert.match(args[0], /transport (close|error)/);
    socket.close();
  });

  test('a WebSocket frame larger than maxPayload is answered with Close 1009', async () => {
    const sock = await openRawWebSocket(hub.port);
    sock.write(wsFrame(`40${JSON.stringify({ token: token() })}`));
    sock.write(wsFrame(`42["ping","${'x'.repeat(MAX_PAYLOAD)}"]`));
    const seen = await drain(sock);
    sock.destroy();
    assert.equal(seen.how, 'close-frame', `the hub sent a Close frame (saw ${seen.how})`);
    assert.equal(seen.closeCode, 1009);
  });

  test('a WebSocket message just under maxPayload is processed', async () => {
    const sock = await openRawWebSocket(hub.port);
    sock.write(wsFrame(`40${JSON.stringify({ token: token() })}`));
    const body = `42["ping","${'x'.repeat(MAX_PAYLOAD - 20)}"]`;
    assert.ok(Buffer.byteLength(body) <= MAX_PAYLOAD);
    sock.write(wsFrame(body));
    sock.write(wsFrame('41'));
    sock.write(Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8])); // Close 1000
    const frames = [];
    const seen = await drain(sock, (text) => frames.push(text));
    sock.destroy();
    assert.ok(frames.some((f) => f.startsWith('40{')), `namespace joined: ${frames.join(' | ')}`);
    assert.ok(frames.some((f) => f.startsWith('42["pong"')), `pong received: ${frames.join(' | ')}`);
    assert.notEqual(seen.closeCode, 1009);
  });

  test('a payload of more JSON values than max-json-values is refused, the connection stays', async () => {
    const socket = await connect(hub.url, { transports: ['websocket'] });
    let pongs = 0;
    socket.on('pong', () => pongs++);
    const error = once(socket, 'error');
    // 200,003 values in about 400 KB: within maxPayload, over 131072
    const ack = await socket.timeout(EVENT_TIMEOUT_MS).emitWithAck('ping', new Array(200000).fill(0));
    assert.equal(ack.error?.code, 'PAYLOAD_TOO_LARGE');
    assert.match(ack.error.message, /200003 JSON values.*131072 \(max-json-values\)/);
    const { args: [err] } = await error;
    assert.equal(err.code, 'PAYLOAD_TOO_LARGE');
    assert.equal(err.event, 'ping');
    // the largest legitimate payload (a state vector of 65,536 sites) is read
    const sync = await socket.timeout(EVENT_TIMEOUT_MS).emitWithAck('sync-request',
      { prdId: 'prd_nope', stateVector: new Array(65536).fill(0) });
    assert.notEqual(sync.error?.code, 'PAYLOAD_TOO_LARGE');
    assert.deepEqual(await socket.timeout(EVENT_TIMEOUT_MS).emitWithAck('ping'), { ok: true });
    assert.equal(pongs, 1, 'the refused ping was not answered with pong');
    socket.close();
  });

  test('the hub still serves new clients after refusing over-size payloads', async () => {
    const socket = await connect(hub.url, { transports: ['websocket'] });
    const ack = await socket.timeout(EVENT_TIMEOUT_MS).emitWithAck('ping');
    assert.deepEqual(ack, { ok: true });
    socket.close();
  });
});

describe('rate limit', () => {
  const LIMIT = 3;
  let hub;
  before(async () => {
    hub = await startHub({
      config: `[rate-limit]\ne2e-tight = ${LIMIT}/3600\n\n[rate-limit.events]\nping = e2e-tight\n`,
    });
  });
  after(async () => { await hub.stop(); });

  test(`the ${LIMIT + 1}th ping within the window is refused with rate-limit`, async () => {
    const socket = await connect(hub.url, { transports: ['websocket'] });
    for (let i = 0; i < LIMIT; i++) {
      const ack = await socket.timeout(EVENT_TIMEOUT_MS).emitWithAck('ping');
      assert.deepEqual(ack, { ok: true }, `ping ${i + 1} is within the limit`);
    }
    const limited = once(socket, 'rate-limit');
    let pongs = 0;
    socket.on('pong', () => pongs++);
    const ack = await socket.timeout(EVENT_TIMEOUT_MS).emitWithAck('ping');
    assert.equal(ack.error?.code, 'RATE_LIMITED');
    assert.equal(typeof ack.error.message, 'string');
    assert.equal(ack.ok, undefined);

    const { args: [info] } = await limited;
    assert.equal(typeof info.message, 'string');
    assert.equal(info.limit, LIMIT);
    assert.equal(info.remaining, 0);
    assert.equal(typeof info.retryAfter, 'number');
    assert.ok(info.retryAfter > 0 && info.retryAfter <= 3600, `retryAfter ${info.retryAfter}`);
    assert.ok(isoTime(info.resetTime) > Date.now() - 60000, 'resetTime is a time in the window');

    // A refused ping changed nothing: no pong was sent for it.
    const ack2 = await socket.timeout(EVENT_TIMEOUT_MS).emitWithAck('ping');
    assert.equal(ack2.error?.code, 'RATE_LIMITED');
    assert.equal(pongs, 0);
    socket.close();
  });

  test("one user's connections share the budget", async () => {
    const auth = { token: token({ sub: 'user_shared' }) };
    const a = await connect(hub.url, { transports: ['websocket'], auth });
    const b = await connect(hub.url, { transports: ['websocket'], auth });
    const ping = (s) => s.timeout(EVENT_TIMEOUT_MS).emitWithAck('ping');
    for (let i = 0; i < LIMIT - 1; i++) assert.deepEqual(await ping(a), { ok: true });
    assert.deepEqual(await ping(b), { ok: true }, 'the last of the budget, on another connection');
    assert.equal((await ping(b)).error?.code, 'RATE_LIMITED');
    assert.equal((await ping(a)).error?.code, 'RATE_LIMITED');
    // a new connection while others are open: no fresh budget
    const c = await connect(hub.url, { transports: ['polling'], auth });
    assert.equal((await ping(c)).error?.code, 'RATE_LIMITED');
    for (const s of [a, b, c]) s.close();
    // nor once they are all closed: the budget waits for its window
    await new Promise((r) => setTimeout(r, 200));
    const d = await connect(hub.url, { transports: ['websocket'], auth });
    assert.equal((await ping(d)).error?.code, 'RATE_LIMITED');
    d.close();
  });

  test('every 4,096 JSON values in a payload count as one more event', async () => {
    const valued = await startHub({ config: '[rate-limit]\ne2e-values = 40/3600\n\n[rate-limit.events]\nping = e2e-values\n' });
    try {
      const socket = await connect(valued.url, { transports: ['websocket'] });
      // 8,194 values (the event's array, its name, the payload's 8,192):
      // 1 + 2 events each, charged once handled; the fourteenth takes the
      // last token, the fifteenth is refused (uncharged: forty would pass).
      let accepted = 0;
      let refused = null;
      for (let i = 0; i < 40 && refused === null; i++) {
        const ack = await socket.timeout(EVENT_TIMEOUT_MS).emitWithAck('ping', new Array(8191).fill(0));
        if (ack.ok) accepted++;
        else refused = ack.error;
      }
      assert.equal(accepted, 14);
      assert.equal(refused?.code, 'RATE_LIMITED');
      socket.close();
    } finally {
      await valued.stop();
    }
  });

  for (const transport of ['websocket', 'polling']) {
    test(`past the limit as many events again: io server disconnect on each namespace, no reconnection (${transport})`, async () => {
      const auth = { token: token({ sub: `user_abuse_${transport}` }) };
      const manager = new Manager(hub.url, {
        transports: [transport], reconnectionDelay: 50, reconnectionDelayMax: 100,
        timeout: EVENT_TIMEOUT_MS,
      });
      const sockets = ['/', '/notifications'].map((nsp) => manager.socket(nsp, { auth }));
      await Promise.all(sockets.map((s) => once(s, 'connect')));
      const disconnects = sockets.map((s) => once(s, 'disconnect'));
      const acks = [];
      // LIMIT pass, LIMIT more are refused (answered), the next closes.
      for (let i = 0; i < 2 * LIMIT + 1; i++)
        acks.push(sockets[0].timeout(EVENT_TIMEOUT_MS).emitWithAck('ping').catch((err) => err));
      for (const { args: [reason] } of await Promise.all(disconnects))
        assert.equal(reason, 'io server disconnect');
      const answers = await Promise.all(acks.slice(0, 2 * LIMIT));
      assert.deepEqual(answers.map((a) => a.ok ?? a.error?.code),
        [...Array(LIMIT).fill(true), ...Array(LIMIT).fill('RATE_LIMITED')]);
      // socket.io-client reconnects by itself after anything else
      for (const s of sockets) assert.equal(s.active, false, `${s.nsp} will not reconnect`);
      for (const s of sockets) s.close();
    });
  }

  test("another user is not limited by the first user's budget", async () => {
    const socket = await connect(hub.url, {
      transports: ['websocket'], auth: { token: token({ sub: 'user_other' }) },
    });
    const ack = await socket.timeout(EVENT_TIMEOUT_MS).emitWithAck('ping');
    assert.deepEqual(ack, { ok: true });
    socket.close();
  });
});

// Namespace CONNECTs: each accepted one is charged to its user's `connect`
// class ([rate-limit] connect, 60/60 by default), whatever their sessions;
// nothing counts them over a session's life.
describe('connect rate limit', () => {
  const waitFor = (s, ev) => new Promise((resolve) => s.once(ev, resolve));
  // Connects @socket (a Manager's, disconnected) again: 'connect', or the
  // connect_error / disconnect that came instead ('none' past a generous
  // bound).
  async function reconnect(socket) {
    let timer;
    socket.connect();
    const r = await Promise.race([
      waitFor(socket, 'connect').then(() => ({ event: 'connect' })),
      waitFor(socket, 'connect_error').then((err) => ({ event: 'connect_error', err })),
      waitFor(socket, 'disconnect').then((reason) => ({ event: 'disconnect', reason })),
      new Promise((resolve) => { timer = setTimeout(() => resolve({ event: 'none' }), EVENT_TIMEOUT_MS); }),
    ]);
    clearTimeout(timer);
    return r;
  }

  test('a client that connects and disconnects /prds in a loop is refused RATE_LIMITED past its limit', async () => {
    const LIMIT = 5;
    const hub = await startHub({ config: `[rate-limit]\nconnect = ${LIMIT}/3600\n` });
    try {
      const auth = { token: token({ sub: 'user_churn' }) };
      const manager = new Manager(hub.url, { transports: ['websocket'], autoConnect: false, timeout: EVENT_TIMEOUT_MS });
      const prds = manager.socket('/prds', { auth });
      const results = [];
      for (let i = 0; i < LIMIT + 3; i++) {
        const r = await reconnect(prds);
        results.push(r);
        if (r.event === 'connect') prds.disconnect();
      }
      assert.deepEqual(results.map((r) => r.event),
        [...Array(LIMIT).fill('connect'), ...Array(3).fill('connect_error')]);
      const { err } = results[LIMIT];
      assert.equal(err.message, 'Rate limit exceeded');
      assert.equal(err.data.code, 'RATE_LIMITED');
      assert.match(err.data.message, /\[rate-limit\] connect/);
      assert.equal(typeof err.data.retryAfter, 'number');
      assert.ok(err.data.retryAfter >= 1 && err.data.retryAfter <= 3600, `retryAfter ${err.data.retryAfter}`);
      // The budget is the user's: another session of theirs is refused too,
      // another user is not.
      const again = await connect(hub.url, { transports: ['polling'], auth }, '/notifications').catch((e) => e);
      assert.equal(again.data?.code, 'RATE_LIMITED');
      const other = await connect(hub.url, { transports: ['websocket'], auth: { token: token({ sub: 'user_calm' }) } }, '/prds');
      other.close();
      prds.close();
      manager._close?.();
    } finally {
      await assertCleanStop(hub);
    }
  });

  test('a Manager that reconnects /prds 2,000 times within the rate keeps /notifications connected', async () => {
    // 500 per second; the loop waits a window after each 400 CONNECTs.
    const hub = await startHub({ config: '[rate-limit]\nconnect = 500/1\n' });
    try {
      const auth = { token: token({ sub: 'user_pages', org: 'org_pages' }) };
      const manager = new Manager(hub.url, { transports: ['websocket'], autoConnect: false, reconnection: true, timeout: EVENT_TIMEOUT_MS });
      const notifications = manager.socket('/notifications', { auth });
      const prds = manager.socket('/prds', { auth });
      let lost = null;
      notifications.on('disconnect', (reason) => { lost ??= reason; });
      assert.equal((await reconnect(notifications)).event, 'connect');
      await notifications.timeout(EVENT_TIMEOUT_MS).emitWithAck('subscribe', { organizationId: 'org_pages' });
      for (let i = 1; i <= 2000 && lost === null; i++) {
        const r = await reconnect(prds);
        assert.equal(r.event, 'connect', `reconnect ${i}: ${r.event} ${r.reason ?? r.err?.data?.code ?? ''}`);
        prds.disconnect();
        if (i % 400 === 0) await new Promise((resolve) => setTimeout(resolve, 1100));
      }
      assert.equal(lost, null, '/notifications was disconnected');
      assert.equal(notifications.connected, true);
      const ack = await notifications.timeout(EVENT_TIMEOUT_MS).emitWithAck('subscribe', { organizationId: 'org_pages' });
      assert.equal(ack.organizationId, 'org_pages', JSON.stringify(ack));
      notifications.close();
      prds.close();
    } finally {
      await assertCleanStop(hub);
    }
  });

  test("another user's connection line is logged while one user churns", async () => {
    const hub = await startHub();
    try {
      const manager = new Manager(hub.url, { transports: ['websocket'], autoConnect: false, timeout: EVENT_TIMEOUT_MS });
      const prds = manager.socket('/prds', { auth: { token: token({ sub: 'user_loop', org: 'org_a' }) } });
      // 40 CONNECTs (within the default 60/60): more connection lines than
      // the throttle writes in 10 s.
      for (let i = 0; i < 40; i++) {
        assert.equal((await reconnect(prds)).event, 'connect');
        prds.disconnect();
      }
      prds.close();
      manager._close?.();
      const erin = await connect(hub.url, {
        transports: ['websocket'], auth: { token: token({ sub: 'erin', org: 'org_b', role: 'admin' }) },
      }, '/prds');
      erin.close();
    } finally {
      await assertCleanStop(hub);
    }
    const log = hub.stderr();
    assert.match(log, /connection: namespace=\/prds .*user=erin org=org_b/);
    // The churning session's first 8 lines are written whatever the throttle.
    assert.ok((log.match(/connection: namespace=\/prds .*user=user_loop/g) ?? []).length >= 8);
  });

  test('the SDK connects again once a RATE_LIMITED CONNECT\'s retryAfter is over', async () => {
    const hub = await startHub({ config: '[rate-limit]\nconnect = 1/3\n' });
    const claims = { sub: 'user_sdk_rate', org: 'org_sdk_rate', role: 'editor' };
    const opts = { url: hub.url, token: token(claims), io, socketOptions: { transports: ['websocket'] } };
    const notifications = new NotificationsClient(opts);
    const later = new NotificationsClient(opts);
    let prd = null;
    try {
      const prdId = await createPrd(hub, 'Rate', '# Rate\n', claims);
      prd = new PrdClient({ ...opts, prdId });
      const errors = [];
      prd.on('error', (e) => errors.push(e.code));
      // One CONNECT every 3 s for this user: /prds is refused RATE_LIMITED
      // (the budget went to /notifications) and joins after its retryAfter.
      await notifications.connect();
      await prd.connect();
      assert.equal(prd.joined, true);
      assert.ok(errors.includes('RATE_LIMITED'), errors.join());
      // NotificationsClient as well.
      await later.connect();
      assert.equal(later.socket.connected, true);
    } finally {
      notifications.close();
      later.close();
      await prd?.close().catch(() => {});
      await assertCleanStop(hub);
    }
  });

  test('[rate-limit] connect takes LIMIT/WINDOW_SECONDS as the other classes', async () => {
    await assert.rejects(startHub({ config: '[rate-limit]\nconnect = 0/60\n' }),
      /\[rate-limit\] connect: "0\/60" is not LIMIT\/WINDOW_SECONDS/);
  });
});
