// SPDX-License-Identifier: GPL-3.0-or-later
//
// Stopping: connections with no request being answered (idle kept-alive
// connections, a connection that sent nothing, a request or body sent in
// part) are closed at once, so the hub stops as soon as its
// clients have their `server-shutdown`, instead of waiting out its drain
// timeout (it then logs "Stopping without waiting longer for …").

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import {
  startHub, connect, token, once, assertCleanExit, assertCleanStop,
} from './helpers/hub.js';

function rawConnection(port, send) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => {
      if (send) sock.write(send);
      resolve(sock);
    });
    sock.once('error', reject);
  });
}

// Resolves with what the server sent once it closes the connection.
function closedByServer(sock) {
  const chunks = [];
  sock.on('data', (d) => chunks.push(d));
  return new Promise((resolve) => {
    sock.once('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    sock.once('error', () => {});
  });
}

test('idle connections and unfinished requests do not hold the stop back', async () => {
  const hub = await startHub();
  const socks = [];
  try {
    // One kept alive after a complete request, waiting for the next.
    const kept = await rawConnection(hub.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    const keptClosed = closedByServer(kept);
    await new Promise((resolve) => kept.once('data', resolve));
    socks.push(kept);
    // One that sent nothing, one halfway through its headers, one halfway
    // through its body.
    const silent = await rawConnection(hub.port);
    const partialHeaders = await rawConnection(hub.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n');
    const partialBody = await rawConnection(hub.port,
      `POST /api/prds HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token()}\r\n` +
      'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"title":');
    socks.push(silent, partialHeaders, partialBody);
    const closed = [silent, partialHeaders, partialBody].map(closedByServer);
    // A Socket.IO client over WebSocket and one long-polling.
    const ws = await connect(hub.url, { transports: ['websocket'], auth: { token: token() },
      reconnection: false }, '/prds');
    const polling = await connect(hub.url, { transports: ['polling'], auth: { token: token() },
      reconnection: false }, '/prds');
    const told = [once(ws, 'server-shutdown'), once(polling, 'server-shutdown')];

    hub.proc.kill('SIGTERM');
    await Promise.all(told);
    assertCleanExit(hub, await hub.exited);
    await keptClosed;
    for (const c of closed) await c;
    const log = hub.stderr();
    assert.match(log, /Stopped/);
    assert.doesNotMatch(log, /Stopping without waiting longer/, log);
    ws.close();
    polling.close();
  } finally {
    for (const s of socks) s.destroy();
    await hub.stop();
  }
});

test('a request that is being answered still gets its answer', async () => {
  const hub = await startHub();
  try {
    // A long-poll GET the engine holds: answered with the close packet.
    const handshake = await (await fetch(`${hub.url}/socket.io/?EIO=4&transport=polling`)).text();
    const { sid } = JSON.parse(handshake.slice(1));
    const held = fetch(`${hub.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`);
    // Let the GET reach the hub before the stop: its answer is the close
    // packet whenever the hub gets the signal.
    await new Promise((resolve) => setImmediate(resolve));
    hub.proc.kill('SIGTERM');
    const res = await held;
    assert.equal(res.status, 200);
    assert.match(await res.text(), /(^|\x1e)1$/);
    assertCleanExit(hub, await hub.exited);
    assert.doesNotMatch(hub.stderr(), /Stopping without waiting longer/);
  } finally {
    await hub.stop();
  }
});

test('SIGTERM the moment the listening line is printed is a clean stop', async () => {
  // startHub() resolves when it has read the "prdhub listening on" line;
  // stop() sends SIGTERM right away. The handlers are installed before that
  // line is printed, so the hub stops cleanly (exit status 0) instead of
  // dying of the signal. Several rounds: the window was a few milliseconds.
  for (let i = 0; i < 5; i++) {
    const hub = await startHub();
    await assertCleanStop(hub, `round ${i}: prdhub`);
  }
});

test('a hub the session bus started stops when that bus goes away', async () => {
  // A private session bus, as at a login; the hub is told it was started by
  // it (D-Bus activation sets DBUS_STARTER_BUS_TYPE).
  const bus = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1'],
    { stdio: ['ignore', 'pipe', 'ignore'] });
  const address = await new Promise((resolve, reject) => {
    readline.createInterface({ input: bus.stdout }).once('line', resolve);
    bus.once('error', reject);
  });
  let hub;
  try {
    hub = await startHub({
      env: { DBUS_SESSION_BUS_ADDRESS: address, DBUS_STARTER_BUS_TYPE: 'session',
        DBUS_STARTER_ADDRESS: address, G_MESSAGES_DEBUG: 'all' },
    });
    await new Promise((resolve) => {
      const poll = () => (/owning org\.prdtool\.Hub/.test(hub.stderr()) ? resolve() : setTimeout(poll, 20));
      poll();
    });
  } finally {
    bus.kill('SIGTERM');
  }
  const res = await hub.exited;
  assert.equal(res.code, 0, hub.stderr());
  assert.match(hub.stderr(), /The session bus that started this hub is gone: stopping/);
});
