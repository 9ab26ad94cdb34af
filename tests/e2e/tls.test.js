// SPDX-License-Identifier: GPL-3.0-or-later
//
// prdhub serving https/wss with --tls-cert/--tls-key.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import { startHub, connect, connectError, once, tmpDir, selfSignedCert, EVENT_TIMEOUT_MS } from './helpers/hub.js';

let hub;
let dir;
let tls;
before(async () => {
  dir = tmpDir();
  tls = selfSignedCert(dir);
  hub = await startHub({ args: ['--tls-cert', tls.cert, '--tls-key', tls.key] });
});
after(async () => {
  const { code } = await hub.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(code, 0);
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
