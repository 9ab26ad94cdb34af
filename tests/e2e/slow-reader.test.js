// SPDX-License-Identifier: GPL-3.0-or-later
//
// A client that floods events but never reads its socket must be dropped once
// its write buffer passes max-write-buffer; the hub must stay healthy and its
// memory bounded.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startHub, connect, token, assertCleanStop, EVENT_TIMEOUT_MS } from './helpers/hub.js';
import { wsFrame, openRawWebSocket, drain } from './helpers/rawws.js';

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
  // Heartbeats far away, and a rate limit the flood stays under (a client
  // refused past its limit as many times again is closed for that), so that
  // only the write-buffer limit can end the flood.
  hub = await startHub({
    config: '[engine]\n' +
      `max-write-buffer = ${MAX_WRITE_BUFFER}\n` +
      'ping-interval = 600000\nping-timeout = 600000\n' +
      '[rate-limit]\ndefault = 1000000/60\ncollab = 1000000/60\n' +
      // A PRD's text, at 6 bytes of JSON per unit, must fit in the buffer.
      `[collab]\nmax-document-size = ${Math.floor(MAX_WRITE_BUFFER / 6)}\n`,
  });
});
after(async () => {
  await assertCleanStop(hub);
});

test('a flooding client that never reads is dropped; the hub stays healthy', async () => {
  const rssBefore = hub.rssKiB();
  const sock = await openRawWebSocket(hub.port);

  let writeError = null;
  sock.on('error', (e) => { writeError = e.code ?? e.message; });

  sock.write(wsFrame(`40${JSON.stringify({ token: token() })}`));
  // Every ping is answered (pong): the answers pile up on the hub's side.
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

  // The drop is counted in the metrics.
  const metrics = await (await fetch(`${hub.url}/metrics`)).text();
  const dropped = /^prdhub_slow_consumers_dropped_total (\d+)$/m.exec(metrics);
  assert.ok(dropped !== null && Number(dropped[1]) >= 1, 'prdhub_slow_consumers_dropped_total');

  const rssAfter = hub.rssKiB();
  console.log(`# hub RSS: ${rssBefore} KiB before, ${rssAfter} KiB after`);
  // ASan keeps freed memory in quarantine (256 MiB by default): allow for it.
  const sanitized = fs.readFileSync(`/proc/${hub.pid}/maps`, 'utf8').includes('libasan');
  const boundKiB = (sanitized ? 384 : 128) * 1024;
  assert.ok(rssAfter - rssBefore < boundKiB,
    `hub RSS grew by ${rssAfter - rssBefore} KiB while a slow reader was connected`);
});

async function droppedCount(hub) {
  const metrics = await (await fetch(`${hub.url}/metrics`)).text();
  return Number(/^prdhub_slow_consumers_dropped_total (\d+)$/m.exec(metrics)?.[1] ?? 0);
}

// The answer that overflows the buffer drops the reader at once, in the middle
// of the handler that sends it: a room whose only member that was went away
// under the join that was being answered (the hub crashed on it).
test('a reader that never reads, joining a PRD again and again, is dropped; the hub stays up', async () => {
  // A buffer that holds a few answers, so that the one that overflows it is
  // not the first. A join whose document part (text and history) does not
  // fit beside what is unread is refused before it is sent; its open
  // comments are counted apart (max-open-comments-bytes) and are what makes
  // this PRD's joined-prd large.
  const hub = await startHub({
    config: '[engine]\nmax-write-buffer = 1800000\n[collab]\nmax-document-size = 300000\n' +
      '[rate-limit]\ndefault = 1000000/60\ncollab = 1000000/60\n',
  });
  const admin = token({ role: 'admin' });
  const res = await fetch(`${hub.url}/api/prds`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ title: 'Big', content: 'lorem ipsum '.repeat(100) }),
  });
  assert.equal(res.status, 201);
  const prd = await res.json();
  // 40 comments of 10,000 characters: some 400 KB in each joined-prd.
  const editor = await connect(hub.url, { transports: ['websocket'], auth: { token: admin } }, '/prds');
  const entered = await editor.timeout(EVENT_TIMEOUT_MS).emitWithAck('join-prd', { prdId: prd.id });
  assert.equal(entered.error, undefined, JSON.stringify(entered.error));
  for (let i = 0; i < 40; i++) {
    const ack = await editor.timeout(EVENT_TIMEOUT_MS).emitWithAck('add-comment',
      { prdId: prd.id, position: 0, content: 'x'.repeat(10000) });
    assert.equal(ack.error, undefined, JSON.stringify(ack.error));
  }
  editor.close();

  const sock = await openRawWebSocket(hub.port);
  sock.on('error', () => {});
  sock.write(wsFrame(`40/prds,${JSON.stringify({ token: token({ role: 'viewer' }) })}`));
  await new Promise((resolve) => {
    let seen = '';
    const onData = (d) => {
      seen += d.toString('latin1');
      if (!seen.includes('40/prds,')) return;
      sock.off('data', onData);
      sock.pause();
      resolve();
    };
    sock.on('data', onData);
    sock.resume();
  });
  // Each answer carries the comments (400 KB): 100 of them (as many joins
  // as a connection may have pending, max-joined-prds) are far more than the
  // hub's buffer and the loopback buffers hold.
  const before = await droppedCount(hub);
  for (let i = 0; i < 100; i++)
    sock.write(wsFrame(`42/prds,${i + 1}["join-prd",${JSON.stringify({ prdId: prd.id })}]`));
  // Read nothing until the hub has dropped the reader (or has died).
  const deadline = Date.now() + EVENT_TIMEOUT_MS;
  while ((await droppedCount(hub)) === before) {
    assert.ok(Date.now() < deadline, 'the hub dropped the slow reader');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  sock.resume();
  const seen = await drain(sock);
  sock.destroy();
  assert.notEqual(seen.how, 'timeout', 'the hub closed the connection');

  const s = await connect(hub.url, { transports: ['websocket'] }, '/prds');
  const joined = await s.timeout(EVENT_TIMEOUT_MS).emitWithAck('join-prd', { prdId: prd.id });
  assert.equal(joined.error, undefined, JSON.stringify(joined.error));
  s.close();
  await assertCleanStop(hub);
});
