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
// Upper bound on what the flooder sends (16 bytes a frame, each answered with
// 50-150 bytes: far more than the loopback buffers hold).
const MAX_FRAMES = 400000;
// The most a dropped reader may still receive: the hub's limit plus what the
// loopback socket buffers can hold (a few MiB at most).
const MAX_DELIVERED = MAX_WRITE_BUFFER + 24 * 1024 * 1024;
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

// Reads server frames (unmasked) from a resumed socket until a Close frame
// or the end of the TCP stream; returns what it saw.
function drain(sock) {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    let dataBytes = 0;
    let frames = 0;
    let closeCode = null;
    let finished = false;
    const finish = (how) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      resolve({ how, dataBytes, frames, closeCode });
    };
    const timer = setTimeout(() => finish('timeout'), EVENT_TIMEOUT_MS);
    sock.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      for (;;) {
        if (buf.length < 2) return;
        const opcode = buf[0] & 0x0f;
        let len = buf[1] & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          off = 10;
        }
        if (buf.length < off + len) return;
        frames++;
        if (opcode === 0x8) {
          closeCode = len >= 2 ? buf.readUInt16BE(off) : 1005;
          finish('close-frame');
          return;
        }
        dataBytes += len;
        buf = buf.subarray(off + len);
      }
    });
    sock.on('end', () => finish('end'));
    sock.on('close', () => finish('tcp-close'));
    sock.resume();
  });
}

test('a flooding client that never reads is dropped; the hub stays healthy', async () => {
  const rssBefore = hub.rssKiB();
  const sock = await openRawWebSocket(hub.port);
  sock.removeAllListeners('error');

  let writeError = null;
  sock.on('error', (e) => { writeError = e.code ?? e.message; });

  sock.write(wsFrame(`40${JSON.stringify({ token: token() })}`));
  // Every ping is answered (pong, or rate-limit once over the default
  // class's budget): the answers pile up on the hub's side.
  const ping = wsFrame('42["ping"]');
  const batch = Buffer.concat(Array.from({ length: BATCH }, () => ping));

  let sent = 0;
  while (writeError === null && !sock.destroyed && sent < MAX_FRAMES) {
    const ok = sock.write(batch);
    sent += BATCH;
    if (!ok) {
      // Wait for room, or for the hub to drop the connection.
      const drained = await new Promise((resolve) => {
        const t = setTimeout(() => resolve(false), EVENT_TIMEOUT_MS);
        const done = (v) => () => { clearTimeout(t); resolve(v); };
        sock.once('drain', done(true));
        sock.once('close', done(false));
      });
      if (!drained) break;
    }
  }

  // Now read what the hub sent: a hub that dropped the slow reader sent at
  // most its write-buffer limit plus what the kernel buffers held, then a
  // Close frame or the end of the stream. One that kept queueing would send
  // megabytes of answers and never close (the read times out).
  const seen = writeError !== null || sock.destroyed
    ? { how: `write error ${writeError}`, dataBytes: 0, frames: 0, closeCode: null }
    : await drain(sock);
  sock.destroy();
  console.log(`# flooder: ${sent} frames written; hub answered ${seen.frames} frames, ` +
    `${seen.dataBytes} bytes, then ${seen.how}${seen.closeCode ? ` ${seen.closeCode}` : ''}`);
  assert.notEqual(seen.how, 'timeout', 'the hub dropped the slow reader');
  assert.ok(seen.dataBytes < MAX_DELIVERED,
    `the hub sent ${seen.dataBytes} bytes to a client that was not reading`);

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
