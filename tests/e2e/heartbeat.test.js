// SPDX-License-Identifier: GPL-3.0-or-later
//
// Engine.IO heartbeats with short settings from the config file: a stock
// client answers the pings and stays; a client that never answers is closed.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, connect, once, token, assertCleanStop, EVENT_TIMEOUT_MS } from './helpers/hub.js';
import { wsFrame, openRawWebSocket, drain } from './helpers/rawws.js';

const PING_INTERVAL = 300;
// Generous enough for a loaded machine running sanitized builds.
const PING_TIMEOUT = 1500;

let hub;
before(async () => {
  hub = await startHub({
    config: `[engine]\nping-interval = ${PING_INTERVAL}\nping-timeout = ${PING_TIMEOUT}\n`,
  });
});
after(async () => {
  await assertCleanStop(hub);
});

test('the handshake announces the configured heartbeat', async () => {
  const res = await fetch(`${hub.url}/socket.io/?EIO=4&transport=polling`);
  const open = JSON.parse((await res.text()).slice(1));
  assert.equal(open.pingInterval, PING_INTERVAL);
  assert.equal(open.pingTimeout, PING_TIMEOUT);
});

for (const transports of [['websocket'], ['polling']]) {
  test(`a stock client over ${transports[0]} answers pings and stays connected`, async () => {
    const s = await connect(hub.url, { transports, upgrade: false });
    let pings = 0;
    s.io.engine.on('ping', () => { pings++; });
    // Wait for several heartbeats by counting them, not by the clock.
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`only ${pings} pings`)), EVENT_TIMEOUT_MS);
      s.io.engine.on('ping', () => { if (pings >= 5) { clearTimeout(t); resolve(); } });
    });
    assert.ok(s.connected);
    const ack = await s.timeout(EVENT_TIMEOUT_MS).emitWithAck('ping');
    assert.deepEqual(ack, { ok: true });
    s.close();
  });
}

test('a client that never answers pings is closed', async () => {
  const sock = await openRawWebSocket(hub.port);
  sock.write(wsFrame(`40${JSON.stringify({ token: token() })}`));
  const frames = [];
  const seen = await drain(sock, (t) => frames.push(t));
  sock.destroy();
  assert.notEqual(seen.how, 'timeout', 'the hub closed the silent client');
  assert.ok(frames.includes('2'), `the hub pinged first: ${frames.join(' | ')}`);
});

test('a stock client whose pongs stop is disconnected', async () => {
  const s = await connect(hub.url, { transports: ['websocket'] });
  const gone = once(s, 'disconnect');
  // Stop the client's automatic pongs; only its own traffic continues.
  s.io.engine.removeAllListeners('ping');
  s.io.engine.transport.send = (() => {
    const send = s.io.engine.transport.send.bind(s.io.engine.transport);
    return (packets) => send(packets.filter((p) => p.type !== 'pong'));
  })();
  const { args: [reason] } = await gone;
  assert.match(reason, /ping timeout|transport close/);
  s.close();
});
