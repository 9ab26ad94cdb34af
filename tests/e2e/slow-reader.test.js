// SPDX-License-Identifier: GPL-3.0-or-later
//
// A client that floods events but never reads its socket must be dropped once
// its write buffer passes max-write-buffer; the hub must stay healthy and its
// memory bounded.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { startHub, connect, token, EVENT_TIMEOUT_MS } from './helpers/hub.js';

const MAX_WRITE_BUFFER = 65536;
// Upper bound on what the flooder sends (~16 bytes a frame); a hub without a
// working limit never drops the flooder, and the test fails at the bound.
const MAX_FRAMES = 1500000;
const BATCH = 2000;

let hub;
before(async () => {
  // Heartbeats far away, so that only the write-buffer limit can end the flood.
  hub = await startHub({
    config: '[engine]\n' +
      `max-write-buffer = ${MAX_WRITE_BUFFER}\n` +
      'ping-interval = 600000\nping-timeout = 600000\n',
  });
});
after(async () => {
  const { code } = await hub.stop();
  assert.equal(code, 0);
});

function wsFrame(text) {
  const payload = Buffer.from(text);
  assert.ok(payload.length < 65536);
  const ext = payload.length < 126 ? 0 : 2;
  const mask = crypto.randomBytes(4);
  const frame = Buffer.alloc(6 + ext + payload.length);
  frame[0] = 0x81; // FIN + text
  if (ext) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(payload.length, 2);
  } else {
    frame[1] = 0x80 | payload.length;
  }
  mask.copy(frame, 2 + ext);
  for (let i = 0; i < payload.length; i++) frame[6 + ext + i] = payload[i] ^ mask[i & 3];
  return frame;
}

// Does the WebSocket handshake by hand, reads the 101 and the Engine.IO open
// packet, then stops reading for good.
function openRawWebSocket(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const key = crypto.randomBytes(16).toString('base64');
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => reject(new Error('raw websocket handshake timed out')),
      EVENT_TIMEOUT_MS);
    sock.once('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('connect', () => {
      sock.write(
        'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n' +
        `Host: 127.0.0.1:${port}\r\n` +
        'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString();
      assert.match(head, /^HTTP\/1\.1 101/);
      const rest = buf.subarray(end + 4);
      // First frame: the Engine.IO open packet, unmasked, short length.
      if (rest.length < 2 || rest.length < 2 + (rest[1] & 0x7f)) return;
      const open = rest.subarray(2, 2 + (rest[1] & 0x7f)).toString();
      assert.equal(open[0], '0');
      clearTimeout(timer);
      sock.off('data', onData);
      sock.pause();
      resolve(sock);
    };
    sock.on('data', onData);
  });
}

test('a flooding client that never reads is dropped; the hub stays healthy', async () => {
  const rssBefore = hub.rssKiB();
  const sock = await openRawWebSocket(hub.port);
  sock.removeAllListeners('error');

  let closed = false;
  let closeReason = null;
  sock.on('error', (e) => { closed = true; closeReason = e.code ?? e.message; });
  sock.on('close', () => { closed = true; });

  sock.write(wsFrame(`40${JSON.stringify({ token: token() })}`));
  const ping = wsFrame('42["ping"]');
  const batch = Buffer.concat(Array.from({ length: BATCH }, () => ping));

  let sent = 0;
  while (!closed && sent < MAX_FRAMES) {
    const ok = sock.write(batch);
    sent += BATCH;
    if (!ok) {
      // The hub stops reading once its buffers fill; wait for room or for the drop.
      await new Promise((resolve) => {
        const t = setTimeout(resolve, EVENT_TIMEOUT_MS);
        const done = () => { clearTimeout(t); sock.off('drain', done); sock.off('close', done); sock.off('error', done); resolve(); };
        sock.once('drain', done);
        sock.once('close', done);
        sock.once('error', done);
      });
      if (!closed && sock.writableNeedDrain) break;
    }
  }
  if (!closed) {
    // Everything was handed to the kernel; the drop must still come.
    await new Promise((resolve) => {
      const t = setTimeout(resolve, EVENT_TIMEOUT_MS);
      sock.once('close', () => { clearTimeout(t); resolve(); });
      sock.resume(); // reading now lets us see the FIN the hub sent
    });
  }
  sock.destroy();
  console.log(`# flooder: ${sent} frames written, closed=${closed} (${closeReason ?? 'close'})`);
  assert.ok(closed, `the hub dropped the slow reader (sent ${sent} frames)`);

  // Still healthy: a normal client connects and gets its pong.
  const s = await connect(hub.url, { transports: ['websocket'] });
  const ack = await s.timeout(EVENT_TIMEOUT_MS).emitWithAck('ping');
  assert.deepEqual(ack, { ok: true });
  s.close();

  const rssAfter = hub.rssKiB();
  console.log(`# hub RSS: ${rssBefore} KiB before, ${rssAfter} KiB after`);
  // ASan keeps freed memory in quarantine (256 MiB by default): allow for it.
  const sanitized = fs.readFileSync(`/proc/${hub.pid}/maps`, 'utf8').includes('libasan');
  const boundKiB = (sanitized ? 384 : 128) * 1024;
  assert.ok(rssAfter - rssBefore < boundKiB,
    `hub RSS grew by ${rssAfter - rssBefore} KiB while a slow reader was connected`);
});
