// SPDX-License-Identifier: GPL-3.0-or-later
//
// 200 clients on all namespaces receive the `server-shutdown` broadcast when
// the hub gets SIGTERM, and the hub exits 0; so do long-polling clients.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, connect, once, token, isoTime, assertCleanStop } from './helpers/hub.js';

const CLIENTS = 200;
const NAMESPACES = ['/', '/prds', '/notifications'];

test(`${CLIENTS} clients all receive the server-shutdown broadcast`, async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    // Connect in small waves: a fair test of the hub, not of the client host.
    for (let i = 0; i < CLIENTS; i += 20) {
      const wave = [];
      for (let j = i; j < Math.min(i + 20, CLIENTS); j++) {
        wave.push(connect(hub.url, {
          transports: ['websocket'],
          auth: { token: token({ sub: `user_${j}`, name: `User ${j}` }) },
        }, NAMESPACES[j % NAMESPACES.length]));
      }
      sockets.push(...(await Promise.all(wave)));
    }
    assert.equal(sockets.length, CLIENTS);
    assert.ok(sockets.every((s) => s.connected));

    // What each socket went through after the SIGTERM: when one misses the
    // broadcast, the failure says which and how it ended.
    const history = sockets.map((s) => {
      const seen = [];
      s.on('disconnect', (reason) => seen.push(`disconnect (${reason})`));
      s.io.on('reconnect_attempt', () => seen.push('reconnect attempt'));
      return seen;
    });
    const received = sockets.map((s) => once(s, 'server-shutdown'));
    const before = Date.now();
    hub.proc.kill('SIGTERM');
    const settled = await Promise.allSettled(received);
    const missed = settled.flatMap((r, i) => (r.status === 'rejected'
      ? [`#${i} ${NAMESPACES[i % NAMESPACES.length]} connected=${sockets[i].connected}: ${history[i].join(', ') || 'nothing'}`]
      : []));
    assert.deepEqual(missed, [], `${missed.length} of ${CLIENTS} missed server-shutdown\n${hub.stderr().slice(-4096)}`);
    const payloads = settled.map((r) => r.value);
    assert.equal(payloads.length, CLIENTS);
    for (const { args: [data] } of payloads) {
      assert.equal(typeof data.message, 'string');
      assert.ok(data.message.length > 0);
      const ts = isoTime(data.timestamp);
      assert.ok(ts >= before - 60000, 'timestamp is current');
    }
  } finally {
    for (const s of sockets) s.close();
    await assertCleanStop(hub, 'prdhub after SIGTERM');
  }
});

test('long-polling clients receive server-shutdown before the hub closes', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    for (let j = 0; j < 10; j++) {
      sockets.push(await connect(hub.url, {
        transports: ['polling'],
        upgrade: false,
        auth: { token: token({ sub: `poller_${j}` }) },
      }, NAMESPACES[j % NAMESPACES.length]));
    }
    const received = sockets.map((s) => once(s, 'server-shutdown'));
    hub.proc.kill('SIGTERM');
    const payloads = await Promise.all(received);
    for (const { args: [data] } of payloads) {
      assert.equal(typeof data.message, 'string');
      isoTime(data.timestamp);
    }
  } finally {
    for (const s of sockets) s.close();
    await assertCleanStop(hub, 'prdhub after SIGTERM');
  }
});

test('SIGINT also broadcasts server-shutdown and exits 0', async () => {
  const hub = await startHub();
  const s = await connect(hub.url, { transports: ['websocket'] }, '/notifications');
  const got = once(s, 'server-shutdown');
  hub.proc.kill('SIGINT');
  const { args: [data] } = await got;
  assert.equal(typeof data.message, 'string');
  s.close();
  await assertCleanStop(hub, 'prdhub after SIGINT');
});
