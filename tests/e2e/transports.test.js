// SPDX-License-Identifier: GPL-3.0-or-later
//
// A stock socket.io-client on each transport, the polling→websocket upgrade,
// namespaces multiplexed on one Manager, ping→pong and acks.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import {
  startHub, connect, once, token, Manager, assertCleanStop, EVENT_TIMEOUT_MS,
} from './helpers/hub.js';
import { client, join, request, createPrd, user, bump } from './collab-helpers.js';

let hub;
before(async () => { hub = await startHub(); });
after(async () => {
  await assertCleanStop(hub, 'prdhub on SIGTERM');
});

async function pingPong(socket) {
  const pong = once(socket, 'pong');
  const ack = await socket.timeout(EVENT_TIMEOUT_MS).emitWithAck('ping');
  assert.deepEqual(ack, { ok: true });
  const { args } = await pong;
  // pong's timestamp is ms since the epoch, as Date.now() (docs/protocol.md).
  const t = args[0].timestamp;
  assert.ok(Number.isInteger(t), `pong timestamp ${t} is an integer`);
  assert.ok(Math.abs(t - Date.now()) < 3600e3, 'timestamp is the current time');
}

test('polling only: connect, ping→pong, disconnect', async () => {
  const socket = await connect(hub.url, { transports: ['polling'], upgrade: false });
  assert.equal(socket.io.engine.transport.name, 'polling');
  assert.ok(socket.id);
  await pingPong(socket);
  assert.equal(socket.io.engine.transport.name, 'polling');
  socket.close();
});

test('websocket only: connect, ping→pong, disconnect', async () => {
  const socket = await connect(hub.url, { transports: ['websocket'] });
  assert.equal(socket.io.engine.transport.name, 'websocket');
  await pingPong(socket);
  socket.close();
});

test('default transports upgrade from polling to websocket', async () => {
  const socket = await connect(hub.url);
  const engine = socket.io.engine;
  if (engine.transport.name !== 'websocket') {
    assert.equal(engine.transport.name, 'polling');
    await once(engine, 'upgrade');
  }
  assert.equal(engine.transport.name, 'websocket');
  // The session survives the upgrade: events still flow on the same socket.
  await pingPong(socket);
  socket.close();
});

test('ping without an ack still gets a pong', async () => {
  const socket = await connect(hub.url, { transports: ['websocket'] });
  const pong = once(socket, 'pong');
  socket.emit('ping');
  const { args } = await pong;
  assert.ok(Number.isInteger(args[0].timestamp));
  socket.close();
});

test('three namespaces multiplexed on one Manager share one engine', async () => {
  const manager = new Manager(hub.url, { reconnection: false, transports: ['websocket'] });
  const auth = { token: token() };
  const sockets = ['/', '/prds', '/notifications'].map((nsp) => manager.socket(nsp, { auth }));
  const results = await Promise.all(sockets.map((s) => {
    const p = once(s, ['connect', 'connect_error']);
    s.connect();
    return p;
  }));
  for (const r of results) assert.equal(r.event, 'connect', JSON.stringify(r.args[0]?.data));
  const engines = new Set(sockets.map((s) => s.io.engine));
  assert.equal(engines.size, 1, 'one Engine.IO connection carries all namespaces');
  const ids = new Set(sockets.map((s) => s.id));
  assert.equal(ids.size, 3, 'each namespace has its own socket id');
  for (const s of sockets) await pingPong(s);

  // Leaving one namespace keeps the others alive on the same engine.
  sockets[1].disconnect();
  await pingPong(sockets[2]);
  await pingPong(sockets[0]);
  manager.engine.close();
});

test('many sequential acks come back in order with their own ids', async () => {
  const socket = await connect(hub.url, { transports: ['websocket'] });
  const acks = await Promise.all(
    Array.from({ length: 5 }, () => socket.timeout(EVENT_TIMEOUT_MS).emitWithAck('ping')));
  for (const a of acks) assert.deepEqual(a, { ok: true });
  socket.close();
});

test('an unknown namespace is refused', async () => {
  await assert.rejects(connect(hub.url, { transports: ['websocket'] }, '/no-such-namespace'),
    (err) => /Invalid namespace/i.test(err.message));
});

// The hub agrees to no WebSocket extension (docs/protocol.md "WebSocket
// frames"): an offer of permessage-deflate is answered without one.
test('an offer of permessage-deflate is answered 101 without an extension', async () => {
  const net = await import('node:net');
  const head = await new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port: hub.port });
    let buf = '';
    sock.once('error', reject);
    sock.on('connect', () => sock.write(
      'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n' +
      `Host: 127.0.0.1:${hub.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
      'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n'));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end >= 0) { sock.destroy(); resolve(buf.slice(0, end)); }
    });
  });
  assert.match(head, /^HTTP\/1\.1 101 /);
  assert.doesNotMatch(head, /sec-websocket-extensions/i);
});

// A WebSocket handshake the hub cannot accept (a bad key, another version)
// gets engine.io's JSON error, as every other refusal on /socket.io/.
test('a WebSocket handshake with a bad key or version gets 400 {code: 3}', async () => {
  const net = await import('node:net');
  for (const [key, version] of [['bad', '13'], ['dGhlIHNhbXBsZSBub25jZQ==', '12']]) {
    const answer = await new Promise((resolve, reject) => {
      const sock = net.connect({ host: '127.0.0.1', port: hub.port });
      let buf = '';
      sock.once('error', reject);
      sock.on('connect', () => sock.write(
        'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n' +
        `Host: 127.0.0.1:${hub.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: ${version}\r\n\r\n`));
      sock.on('data', (d) => { buf += d.toString('latin1'); });
      sock.on('close', () => resolve(buf));
    });
    const [head, body] = answer.split('\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 400 /);
    assert.match(head, /content-type: application\/json/i);
    assert.deepEqual(JSON.parse(body), { code: 3, message: 'Bad request' });
  }
});

// One HTTP request on a connection of its own.
function pollRequest(method, path, body) {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: '127.0.0.1', port: hub.port, method, path, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    r.on('error', reject);
    if (body !== undefined) r.write(body);
    r.end();
  });
}

// A long-polling GET the hub holds whose connection the client closes
// (destroyed: FIN; reset: RST; ended: a half-close) closes the session at
// once, as engine.io does ("poll connection closed prematurely"): the edits
// that come next must not go into a dead connection while the session lives
// on and the client's next GET returns only what came after them.
test('a held polling GET whose connection is closed closes its session', async () => {
  const prdId = await createPrd(hub, 'Held GET', 'x');
  const bob = await client(hub, user('bob'));
  const jb = await join(bob, prdId);
  let vector = jb.vector;
  let position = 1;
  const edit = async (content) => {
    vector = bump(vector, jb.siteId);
    const ack = await request(bob, 'content-update', {
      prdId, operation: { type: 'insert', position, content }, stateVector: vector,
    });
    assert.equal(ack?.ok, true, JSON.stringify(ack));
    position += content.length;
  };
  try {
    for (const how of ['destroy', 'reset', 'end']) {
      const open = await pollRequest('GET', '/socket.io/?EIO=4&transport=polling');
      const { sid } = JSON.parse(open.text.slice(1));
      const path = `/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`;
      const connectBody = '40/prds,' + JSON.stringify({ token: token(user('alice')) });
      assert.equal((await pollRequest('POST', path, connectBody)).status, 200);
      assert.match((await pollRequest('GET', path)).text, /^40\/prds,/);
      const joinBody = '42/prds,0["join-prd",' + JSON.stringify({ prdId, mode: 'view' }) + ']';
      assert.equal((await pollRequest('POST', path, joinBody)).status, 200);
      for (let seen = ''; !seen.includes('"joined-prd"');) {
        const r = await pollRequest('GET', path);
        assert.equal(r.status, 200);
        seen += r.text;
      }

      // Two GETs pipelined in one write: the first returns an edit of
      // bob's, which shows that the hub has read both; the second is held.
      const sock = net.connect({ host: '127.0.0.1', port: hub.port });
      sock.on('error', () => {});
      await new Promise((resolve) => sock.on('connect', resolve));
      let got = '';
      const ended = new Promise((resolve) => sock.on('close', resolve));
      const seen = new Promise((resolve) => sock.on('data', (d) => {
        got += d;
        if (got.includes(`${how}-held;`)) resolve();
      }));
      const get = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
      sock.write(get + get);
      await edit(`${how}-held;`);
      await seen;
      got = '';

      if (how === 'destroy') sock.destroy();
      else if (how === 'reset') sock.resetAndDestroy();
      else sock.end();
      await edit(`${how}-lost;`);

      // The session is over, whether the hub saw the close before or after
      // that edit: the next GET is refused; it does not wait for, and
      // return, the edits after the lost one.
      const next = pollRequest('GET', path);
      await edit(`${how}-after;`);
      const refused = await next;
      assert.equal(refused.status, 400, `${how}: ${refused.status} ${refused.text}`);
      const after = await pollRequest('POST', path, '42/prds,["ping"]');
      assert.equal(after.status, 400, `${how}: ${after.text}`);
      assert.deepEqual(JSON.parse(after.text), { code: 1, message: 'Session ID unknown' });
      if (how === 'end') {
        // A half-closed client still reads: it gets the close packet, not
        // the edit.
        await ended;
        assert.match(got, /^HTTP\/1\.1 200 /);
        assert.ok(got.endsWith('\r\n\r\n1'), JSON.stringify(got));
      }
    }
  } finally {
    bob.close();
  }
});
