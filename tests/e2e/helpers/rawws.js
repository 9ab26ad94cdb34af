// SPDX-License-Identifier: GPL-3.0-or-later
//
// A WebSocket client done by hand over node:net, for what socket.io-client
// will not do: stop reading, send frames larger than maxPayload, and see the
// hub's Close frame and its code.

import crypto from 'node:crypto';
import net from 'node:net';
import { EVENT_TIMEOUT_MS } from './hub.js';

// Client frames are masked, as RFC 6455 requires.
export function wsFrame(text) {
  const payload = Buffer.from(text);
  const ext = payload.length < 126 ? 0 : payload.length < 65536 ? 2 : 8;
  const mask = crypto.randomBytes(4);
  const frame = Buffer.alloc(6 + ext + payload.length);
  frame[0] = 0x81; // FIN + text
  if (ext === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(payload.length, 2);
  } else if (ext === 8) {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(payload.length), 2);
  } else {
    frame[1] = 0x80 | payload.length;
  }
  mask.copy(frame, 2 + ext);
  for (let i = 0; i < payload.length; i++) frame[6 + ext + i] = payload[i] ^ mask[i & 3];
  return frame;
}

// Does the WebSocket handshake by hand, reads the 101 and the Engine.IO open
// packet, then stops reading for good. Resolves with the paused socket;
// rejects with err.head = the response head when the hub does not upgrade.
export function openRawWebSocket(port, headers = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const key = crypto.randomBytes(16).toString('base64');
    let buf = Buffer.alloc(0);
    const fail = (err) => { clearTimeout(timer); sock.destroy(); reject(err); };
    const timer = setTimeout(() => fail(new Error('raw websocket handshake timed out')),
      EVENT_TIMEOUT_MS);
    sock.once('error', fail);
    sock.on('connect', () => {
      const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      sock.write(
        'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n' +
        `Host: 127.0.0.1:${port}\r\n` +
        'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`);
    });
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString();
      if (!/^HTTP\/1\.1 101 /.test(head)) {
        const err = new Error(`no upgrade: ${head.split('\r\n')[0]}`);
        err.head = head;
        fail(err);
        return;
      }
      const accept = crypto.createHash('sha1')
        .update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
      if (!head.toLowerCase().includes(`sec-websocket-accept: ${accept.toLowerCase()}`)) {
        fail(new Error(`bad Sec-WebSocket-Accept in ${head}`));
        return;
      }
      const rest = buf.subarray(end + 4);
      // First frame: the Engine.IO open packet (unmasked, text).
      if (rest.length < 2) return;
      let len = rest[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (rest.length < 4) return;
        len = rest.readUInt16BE(2);
        off = 4;
      }
      if (rest.length < off + len) return;
      const open = rest.subarray(off, off + len).toString();
      if (open[0] !== '0') {
        fail(new Error(`expected the Engine.IO open packet, got ${open}`));
        return;
      }
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('error', fail);
      sock.pause();
      resolve(sock);
    };
    sock.on('data', onData);
  });
}

// Reads server frames (unmasked) from a resumed socket until a Close frame
// or the end of the TCP stream; returns what it saw. `onText` gets each text
// frame's payload.
export function drain(sock, onText = null) {
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
        if (onText && opcode === 0x1) onText(buf.subarray(off, off + len).toString());
        buf = buf.subarray(off + len);
      }
    });
    sock.on('end', () => finish('end'));
    sock.on('close', () => finish('tcp-close'));
    sock.resume();
  });
}
