// SPDX-License-Identifier: GPL-3.0-or-later
//
// prdhub serving https/wss with --tls-cert/--tls-key.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import {
  startHub, connect, connectError, once, tmpDir, selfSignedCert, EVENT_TIMEOUT_MS, JWT_SECRET, PRDHUB_BIN,
  START_TIMEOUT_MS, assertCleanExit,
} from './helpers/hub.js';

let hub;
let dir;
let tls;
before(async () => {
  dir = tmpDir();
  tls = selfSignedCert(dir);
  hub = await startHub({ args: ['--tls-cert', tls.cert, '--tls-key', tls.key] });
});
after(async () => {
  const stopped = await hub.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  assertCleanExit(hub, stopped);
});

function httpsUrl() {
  return `https://127.0.0.1:${hub.port}`;
}

test('the handshake is served over https with the configured certificate', async () => {
  const { status, body, cert } = await new Promise((resolve, reject) => {
    const req = https.get(`${httpsUrl()}/socket.io/?EIO=4&transport=polling`, { ca: tls.certPem },
      (res) => {
        let b = '';
        const peer = res.socket.getPeerCertificate();
        res.setEncoding('utf8');
        res.on('data', (d) => { b += d; });
        res.on('end', () => resolve({ status: res.statusCode, body: b, cert: peer }));
      });
    req.on('error', reject);
  });
  assert.equal(status, 200);
  assert.equal(body[0], '0');
  assert.ok(JSON.parse(body.slice(1)).sid);
  assert.equal(cert.subject.CN, '127.0.0.1');
});

test('a page the hub serves over https is of its own origin', async () => {
  // The web editor at https://HOST:PORT/ opens Socket.IO and REST there.
  for (const path of ['/socket.io/?EIO=4&transport=polling', '/api/prds']) {
    const status = await new Promise((resolve, reject) => {
      const req = https.get(`${httpsUrl()}${path}`, { ca: tls.certPem, headers: { Origin: httpsUrl() } },
        (res) => { res.resume(); resolve(res.statusCode); });
      req.on('error', reject);
    });
    // REST asks for a token, but not because of the origin
    assert.equal(status, path.startsWith('/api') ? 401 : 200, path);
  }
});

test('wss only, trusting the certificate as CA', async () => {
  const s = await connect(httpsUrl(), { transports: ['websocket'], ca: tls.certPem });
  assert.equal(s.io.engine.transport.name, 'websocket');
  const pong = once(s, 'pong');
  const ack = await s.timeout(EVENT_TIMEOUT_MS).emitWithAck('ping');
  assert.deepEqual(ack, { ok: true });
  await pong;
  s.close();
});

test('https polling upgrades to wss (rejectUnauthorized: false)', async () => {
  const s = await connect(httpsUrl(), { rejectUnauthorized: false }, '/prds');
  const engine = s.io.engine;
  if (engine.transport.name !== 'websocket') await once(engine, 'upgrade');
  assert.equal(engine.transport.name, 'websocket');
  const ack = await s.timeout(EVENT_TIMEOUT_MS).emitWithAck('ping');
  assert.deepEqual(ack, { ok: true });
  s.close();
});

test('a client that does not trust the certificate cannot connect', async () => {
  const err = await connectError(httpsUrl(), { transports: ['websocket'] });
  assert.ok(err instanceof Error);
  assert.equal(err.data, undefined, 'refused by TLS, not by the hub');
});

// Plain HTTP to the TLS port: answered at once in plain text (400,
// TLS_REQUIRED), the connection closed; the port keeps serving TLS.
test('plain HTTP to the TLS port gets a plain 400 TLS_REQUIRED and is closed', async () => {
  for (const request of [
    `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${hub.port}\r\n\r\n`,
    `GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n`,
    'garbage that is no TLS record',
  ]) {
    const { text, closed } = await new Promise((resolve, reject) => {
      const socket = net.connect(hub.port, '127.0.0.1', () => socket.write(request));
      let data = '';
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer, got ${JSON.stringify(data)}`)); }, EVENT_TIMEOUT_MS);
      socket.setEncoding('utf8');
      socket.on('data', (d) => { data += d; });
      socket.on('error', reject);
      socket.on('close', () => { clearTimeout(timer); resolve({ text: data, closed: true }); });
    });
    assert.ok(closed);
    assert.match(text, /^HTTP\/1\.1 400 /, request);
    const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
    assert.equal(body.code, 'TLS_REQUIRED');
    assert.match(body.message, /https/);
  }
  // fetch() over plain http sees the same answer
  const res = await fetch(`http://127.0.0.1:${hub.port}/healthz`);
  assert.equal(res.status, 400);
  assert.equal((await res.json()).code, 'TLS_REQUIRED');

  // A client that connects and sends nothing is closed at request-timeout,
  // like a TLS handshake that never starts; TLS still works meanwhile.
  const s = await connect(httpsUrl(), { transports: ['websocket'], rejectUnauthorized: false });
  s.close();
});

test('over TLS, request headers past 32 KiB get 431 PAYLOAD_TOO_LARGE and the connection is closed', async () => {
  const { tlsConnect } = await import('node:tls').then((m) => ({ tlsConnect: m.connect }));
  const text = await new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: hub.port, rejectUnauthorized: false }, () => {
      socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(40000)}\r\n\r\n`);
    });
    let data = '';
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer, got ${JSON.stringify(data)}`)); }, EVENT_TIMEOUT_MS);
    socket.setEncoding('utf8');
    socket.on('data', (d) => { data += d; });
    socket.on('error', () => {});
    socket.on('close', () => { clearTimeout(timer); resolve(data); });
  });
  assert.match(text, /^HTTP\/1\.1 431 /);
  assert.equal(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)).code, 'PAYLOAD_TOO_LARGE');
  const res = await new Promise((resolve, reject) => {
    https.get(`${httpsUrl()}/healthz`, { rejectUnauthorized: false }, resolve).on('error', reject);
  });
  assert.equal(res.statusCode, 200);
  res.resume();
});

test('no warning about plain HTTP when serving TLS', () => {
  assert.doesNotMatch(hub.stderr(), /Serving plain HTTP/);
});

// The hub on 0.0.0.0 prints "listening on http://0.0.0.0:PORT/", which
// startHub() does not wait for: this one reads its output itself.
function runUntilListening(args) {
  const dataDir = tmpDir('prdhub-e2e-data-');
  const proc = spawn(PRDHUB_BIN, ['serve', '--no-dbus', '--data-dir', dataDir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PRDHUB_JWT_SECRET: JWT_SECRET },
  });
  let out = '';
  let err = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => { err += d; });
  proc.stdout.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`no listening line\n${err}`)); }, START_TIMEOUT_MS);
    proc.stdout.on('data', (d) => {
      out += d;
      if (/prdhub listening on /.test(out)) {
        clearTimeout(timer);
        proc.once('exit', () => {
          fs.rmSync(dataDir, { recursive: true, force: true });
          resolve(err);
        });
        proc.kill('SIGTERM');
      }
    });
  });
}

test('serving plain HTTP on a non-loopback address logs a warning; loopback does not', async () => {
  const lan = await runUntilListening(['--listen', '0.0.0.0:0']);
  assert.match(lan, /WARNING.*Serving plain HTTP on 0\.0\.0\.0:0, which is not a loopback address/);
  const local = await runUntilListening(['--listen', '127.0.0.1:0']);
  assert.doesNotMatch(local, /Serving plain HTTP/);
});

test('a certificate and the key of another pair are refused at start, naming both', () => {
  // Each file alone is valid PEM: only a handshake shows they do not belong
  // together (before, the hub said "listening on https" and every handshake failed).
  const other = tmpDir();
  try {
    const second = selfSignedCert(other);
    const dataDir = tmpDir('prdhub-e2e-data-');
    const res = spawnSync(PRDHUB_BIN, ['serve', '--no-dbus', '--listen', '127.0.0.1:0',
      '--data-dir', dataDir, '--tls-cert', tls.cert, '--tls-key', second.key], {
      encoding: 'utf8',
      timeout: START_TIMEOUT_MS,
      env: { ...process.env, PRDHUB_JWT_SECRET: JWT_SECRET },
    });
    // Refused before the data folder is touched: no lock, no secret, no
    // store (an older release's store would have been upgraded).
    const left = fs.readdirSync(dataDir);
    fs.rmSync(dataDir, { recursive: true, force: true });
    assert.equal(res.signal, null, 'ends by itself');
    assert.equal(res.status, 1, res.stderr);
    assert.doesNotMatch(res.stdout, /listening/);
    assert.ok(res.stderr.includes(
      `prdhub: Cannot use the TLS certificate (tls-cert ${tls.cert}, tls-key ${second.key}): ` +
      'a TLS handshake with them fails (does the key belong to the certificate?)'), res.stderr);
    assert.deepEqual(left, [], 'nothing made in the data folder');
  } finally {
    fs.rmSync(other, { recursive: true, force: true });
  }
});

test('a --tls-key or --tls-cert that is a FIFO or a device is not a regular file, and changes nothing', () => {
  const work = tmpDir();
  const fifo = `${work}/fifo.pem`;
  spawnSync('mkfifo', [fifo]);
  try {
    const runs = [
      ['tls-key', tls.cert, fifo, fifo],
      ['tls-key', tls.cert, '/dev/zero', '/dev/zero'],
      ['tls-cert', fifo, tls.key, fifo],
      ['tls-cert', work, tls.key, work],
    ];
    for (const [key, cert, keyFile, named] of runs) {
      const dataDir = tmpDir('prdhub-e2e-data-');
      const res = spawnSync(PRDHUB_BIN, ['serve', '--no-dbus', '--listen', '127.0.0.1:0',
        '--data-dir', dataDir, '--tls-cert', cert, '--tls-key', keyFile], {
        encoding: 'utf8',
        timeout: START_TIMEOUT_MS,
        env: { ...process.env, PRDHUB_JWT_SECRET: JWT_SECRET },
      });
      const left = fs.readdirSync(dataDir);
      fs.rmSync(dataDir, { recursive: true, force: true });
      assert.equal(res.signal, null, `${named}: ends by itself`);
      assert.equal(res.status, 1, res.stderr);
      assert.ok(res.stderr.includes(`prdhub: ${key}: ${named} is not a regular file`), res.stderr);
      assert.doesNotMatch(res.stderr, /does not exist/);
      assert.deepEqual(left, [], 'nothing made in the data folder');
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});
