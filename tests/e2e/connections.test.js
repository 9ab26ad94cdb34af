// SPDX-License-Identifier: GPL-3.0-or-later
//
// How the hub treats TCP connections (docs/protocol.md, "Limits"): kept-alive
// connections that clients close are closed by the hub too; silent, idle and
// incomplete connections time out; per-address and total limits; the listen
// backlog; running out of file descriptors. Waits are bounded, never timed:
// a test only fails when something that must happen has not happened by a
// generous deadline.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import {
  startHub, connect, once, tmpDir, selfSignedCert, assertCleanStop, EVENT_TIMEOUT_MS,
} from './helpers/hub.js';

const BOUND_MS = 20000;

function fdCount(pid) {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(predicate, what, bound = BOUND_MS) {
  const deadline = Date.now() + bound;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

// A raw connection that records what the hub sends and whether it closed.
function open(port, { secure = false } = {}) {
  return new Promise((resolve, reject) => {
    const socket = secure
      ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false })
      : net.connect({ host: '127.0.0.1', port });
    const state = { socket, data: '', closed: false };
    socket.setEncoding('utf8');
    socket.on('data', (d) => { state.data += d; });
    socket.on('error', () => {});
    socket.on('close', () => { state.closed = true; });
    socket.once(secure ? 'secureConnect' : 'connect', () => resolve(state));
    socket.once('error', reject);
  });
}

function responseComplete(text) {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const m = /^content-length:\s*(\d+)/im.exec(text.slice(0, end));
  return m !== null && text.length >= end + 4 + Number(m[1]);
}

// Sends GET /healthz on the connection and returns the response.
async function get(conn) {
  conn.data = '';
  conn.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  await waitFor(() => responseComplete(conn.data) || conn.closed, 'a response');
  assert.ok(responseComplete(conn.data), `no whole response: ${JSON.stringify(conn.data)}`);
  return conn.data;
}

async function assertClosedSilently(conn, what) {
  await waitFor(() => conn.closed, `the hub to close ${what}`);
  assert.equal(conn.data, '', `${what}: the hub answered ${JSON.stringify(conn.data)}`);
}

// GET /healthz on a new connection until it is answered (the hub notices a
// closed connection asynchronously, so the first tries may be refused).
async function getSoon(port) {
  const deadline = Date.now() + BOUND_MS;
  for (;;) {
    const conn = await open(port);
    conn.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await waitFor(() => responseComplete(conn.data) || conn.closed, 'an answer or a close');
    if (responseComplete(conn.data)) {
      conn.socket.destroy();
      return conn.data;
    }
    if (Date.now() > deadline) throw new Error('the hub kept refusing connections');
    await sleep(100);
  }
}

// Opens, uses twice and closes `total` kept-alive connections, `batch` at
// a time; closes with `end` (a TLS close_notify, then FIN) or `destroy`.
async function churn(port, total, { secure = false, batch = 20 } = {}) {
  for (let done = 0; done < total; done += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, total - done) }, async (_, i) => {
      const conn = await open(port, { secure });
      assert.match(await get(conn), /^HTTP\/1\.1 200 OK\r\n/);
      const second = await get(conn);
      assert.match(second, /^HTTP\/1\.1 200 OK\r\n/);
      assert.doesNotMatch(second, /^connection: close/im, 'the connection is kept alive');
      if ((done + i) % 2 === 0) conn.socket.end(); else conn.socket.destroy();
    }));
  }
}

async function assertFdsBackTo(t, hub, baseline, what) {
  let now = fdCount(hub.pid);
  try {
    await waitFor(() => (now = fdCount(hub.pid)) <= baseline + 5,
      `the hub's descriptors to come back to ${baseline} (${now} open)`);
  } finally {
    t.diagnostic(`${what}: ${baseline} descriptors before, ${now} after`);
  }
}

describe('kept-alive connections closed by the client', () => {
  test('are closed by the hub (plain HTTP)', async (t) => {
    const hub = await startHub();
    try {
      await churn(hub.port, 10);
      await sleep(200);
      const baseline = fdCount(hub.pid);
      await churn(hub.port, 300);
      await assertFdsBackTo(t, hub, baseline, '300 kept-alive connections');
      assert.match(await getSoon(hub.port), /^HTTP\/1\.1 200 OK/);
    } finally {
      await assertCleanStop(hub);
    }
  });

  test('are closed by the hub (TLS, with and without close_notify)', async (t) => {
    const dir = tmpDir();
    const cert = selfSignedCert(dir);
    const hub = await startHub({ args: ['--tls-cert', cert.cert, '--tls-key', cert.key] });
    try {
      await churn(hub.port, 10, { secure: true });
      await sleep(200);
      const baseline = fdCount(hub.pid);
      await churn(hub.port, 100, { secure: true, batch: 10 });
      await assertFdsBackTo(t, hub, baseline, '100 kept-alive TLS connections');
    } finally {
      await assertCleanStop(hub);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('timeouts', () => {
  test('silent, incomplete and idle connections are closed', async () => {
    const hub = await startHub({
      config: '[server]\nidle-timeout = 1\nrequest-timeout = 1\n' +
        '[engine]\nping-interval = 300\nping-timeout = 300\n',
    });
    try {
      const baseline = fdCount(hub.pid);
      const silent = await open(hub.port);
      const partial = await open(hub.port);
      partial.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      const idle = await open(hub.port);
      assert.match(await get(idle), /^HTTP\/1\.1 200 OK/);
      idle.data = '';
      const tlsLike = await open(hub.port);
      tlsLike.socket.write(Buffer.from([0x16, 0x03, 0x01])); // a stalled handshake

      await assertClosedSilently(silent, 'a connection that sent nothing');
      await assertClosedSilently(partial, 'a request without its final CRLF');
      await assertClosedSilently(idle, 'a kept-alive connection left idle');
      await waitFor(() => tlsLike.closed, 'the hub to close a stalled connection');
      await waitFor(() => fdCount(hub.pid) <= baseline, 'the descriptors to be released');
    } finally {
      await assertCleanStop(hub);
    }
  });

  test('a TLS handshake that never finishes is closed', async () => {
    const dir = tmpDir();
    const cert = selfSignedCert(dir);
    const hub = await startHub({
      config: '[server]\nrequest-timeout = 1\n',
      args: ['--tls-cert', cert.cert, '--tls-key', cert.key],
    });
    try {
      const stalled = await open(hub.port);
      stalled.socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00])); // half a ClientHello
      await waitFor(() => stalled.closed, 'the hub to close a stalled TLS handshake');
    } finally {
      await assertCleanStop(hub);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a held long-poll GET and a WebSocket are not cut', async () => {
    // A GET is held up to ping-interval (2 s), twice request-timeout.
    const hub = await startHub({
      config: '[server]\nrequest-timeout = 1\nidle-timeout = 10\n' +
        '[engine]\nping-interval = 2000\nping-timeout = 2000\n',
    });
    try {
      const polling = await connect(hub.url, { transports: ['polling'] });
      const websocket = await connect(hub.url, { transports: ['websocket'] });
      const gone = [];
      polling.on('disconnect', (r) => gone.push(`polling: ${r}`));
      websocket.on('disconnect', (r) => gone.push(`websocket: ${r}`));
      await sleep(5000);
      assert.deepEqual(gone, []);
      for (const s of [polling, websocket]) {
        assert.deepEqual(await s.timeout(EVENT_TIMEOUT_MS).emitWithAck('ping'), { ok: true });
        s.close();
      }
    } finally {
      await assertCleanStop(hub);
    }
  });
});

describe('limits', () => {
  test('max-connections-per-address refuses the next one until one closes', async () => {
    const hub = await startHub({
      config: '[server]\nmax-connections-per-address = 4\nper-address-exempt =\n',
    });
    try {
      const held = [];
      for (let i = 0; i < 4; i++) held.push(await open(hub.port));
      assert.match(await get(held[0]), /^HTTP\/1\.1 200 OK/);
      const refused = await open(hub.port);
      await assertClosedSilently(refused, 'the fifth connection');
      assert.ok(held.every((c) => !c.closed));

      held[1].socket.destroy();
      assert.match(await getSoon(hub.port), /^HTTP\/1\.1 200 OK/);
      for (const c of held) c.socket.destroy();
    } finally {
      await assertCleanStop(hub);
    }
  });

  test('loopback is exempt from the per-address limit by default', async () => {
    const hub = await startHub({ config: '[server]\nmax-connections-per-address = 2\n' });
    try {
      const conns = [];
      for (let i = 0; i < 5; i++) {
        const c = await open(hub.port);
        assert.match(await get(c), /^HTTP\/1\.1 200 OK/);
        conns.push(c);
      }
      for (const c of conns) c.socket.destroy();
    } finally {
      await assertCleanStop(hub);
    }
  });

  test('max-connections refuses connections over the total', async () => {
    const hub = await startHub({ config: '[server]\nmax-connections = 3\n' });
    try {
      const held = [];
      for (let i = 0; i < 3; i++) held.push(await open(hub.port));
      assert.match(await get(held[2]), /^HTTP\/1\.1 200 OK/);
      const refused = await open(hub.port);
      await assertClosedSilently(refused, 'the fourth connection');
      held[0].socket.destroy();
      assert.match(await getSoon(hub.port), /^HTTP\/1\.1 200 OK/);
      for (const c of held) c.socket.destroy();
    } finally {
      await assertCleanStop(hub);
    }
  });

  // A WebSocket keeps only a duplicate of its socket's descriptor once the
  // hub has taken it over; it is counted until that is closed, whichever
  // thread closes it.
  for (const ioThreads of [0, 1]) {
    test(`a WebSocket counts against max-connections until it closes (io-threads = ${ioThreads})`, async () => {
      const hub = await startHub({
        config: `[server]\nmax-connections = 2\n[engine]\nio-threads = ${ioThreads}\n`,
      });
      try {
        const sockets = [];
        const fds = [];
        for (let i = 0; i < 2; i++) {
          const s = await connect(hub.url, { transports: ['websocket'] });
          assert.deepEqual(await s.timeout(EVENT_TIMEOUT_MS).emitWithAck('ping'), { ok: true });
          sockets.push(s);
          fds.push(fdCount(hub.pid));
        }
        // One descriptor a connection: the one it was accepted on is closed.
        assert.equal(fds[1], fds[0] + 1);
        await assertClosedSilently(await open(hub.port), 'the third connection');

        sockets[0].close();
        assert.match(await getSoon(hub.port), /^HTTP\/1\.1 200 OK/);
        assert.deepEqual(await sockets[1].timeout(EVENT_TIMEOUT_MS).emitWithAck('ping'), { ok: true });
        sockets[1].close();
        await waitFor(() => fdCount(hub.pid) === fds[0] - 1, 'the descriptors to be closed');
      } finally {
        await assertCleanStop(hub);
      }
    });
  }

  test('bad values are refused with the key named', async () => {
    for (const [text, key] of [
      ['[server]\nlisten-backlog = 0\n', 'listen-backlog'],
      ['[server]\nidle-timeout = never\n', 'idle-timeout'],
      ['[server]\nrequest-timeout = 0\n', 'request-timeout'],
      ['[server]\nmax-connections = -3\n', 'max-connections'],
      ['[server]\nmax-connections-per-address = many\n', 'max-connections-per-address'],
      ['[server]\nper-address-exempt = example.com\n', 'per-address-exempt'],
    ]) {
      await assert.rejects(startHub({ config: text }), (err) => {
        assert.match(err.message, new RegExp(`\\[server\\] ${key}:`));
        return true;
      });
    }
  });
});

describe('accepting', () => {
  function listenBacklog(port) {
    // For a listening socket, ss shows the backlog as Send-Q.
    const out = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' });
    const fields = out.trim().split(/\s+/);
    return Number(fields[2]);
  }

  function haveSs() {
    try {
      execFileSync('ss', ['-V'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }

  test('the listen backlog is SOMAXCONN, or listen-backlog', { skip: !haveSs() && 'no ss' }, async () => {
    const somaxconn = Number(fs.readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    const hub = await startHub();
    const tuned = await startHub({ config: '[server]\nlisten-backlog = 123\n' });
    try {
      assert.equal(listenBacklog(hub.port), Math.min(4096, somaxconn));
      assert.equal(listenBacklog(tuned.port), Math.min(123, somaxconn));
    } finally {
      await assertCleanStop(hub);
      await assertCleanStop(tuned);
    }
  });

  test('600 connections at once are all served', async (t) => {
    const hub = await startHub();
    try {
      const baseline = fdCount(hub.pid);
      const conns = await Promise.all(Array.from({ length: 600 }, () => open(hub.port)));
      const answers = await Promise.all(conns.map((c) => get(c)));
      assert.ok(answers.every((a) => a.startsWith('HTTP/1.1 200 OK')));
      for (const c of conns) c.socket.destroy();
      await assertFdsBackTo(t, hub, baseline, '600 connections at once');
    } finally {
      await assertCleanStop(hub);
    }
  });

  test('running out of file descriptors refuses connections, then recovers', async () => {
    // max-connections above what the descriptors allow: accept() itself fails.
    const hub = await startHub({ fdLimit: 96, config: '[server]\nmax-connections = 1000\n' });
    try {
      const conns = await Promise.all(Array.from({ length: 150 }, () => open(hub.port)));
      await waitFor(() => conns.some((c) => c.closed), 'the hub to refuse a connection');
      for (const c of conns) c.socket.destroy();
      assert.match(await getSoon(hub.port), /^HTTP\/1\.1 200 OK/);
    } finally {
      await assertCleanStop(hub);
    }
  });
});
