// SPDX-License-Identifier: GPL-3.0-or-later
//
// Browser origins: only those given with --cors-origin may use the hub.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHub } from './helpers/hub.js';
import { openRawWebSocket } from './helpers/rawws.js';

const ALLOWED = 'http://allowed.example';
const OTHER = 'http://evil.example';

let hub;
before(async () => { hub = await startHub({ args: ['--cors-origin', ALLOWED] }); });
after(async () => {
  const { code } = await hub.stop();
  assert.equal(code, 0);
});

const handshakeUrl = () => `${hub.url}/socket.io/?EIO=4&transport=polling`;

test('an allowed origin gets the CORS headers on the polling handshake', async () => {
  const res = await fetch(handshakeUrl(), { headers: { Origin: ALLOWED } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('access-control-allow-origin'), ALLOWED);
  assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
  assert.equal((await res.text())[0], '0');
});

test('an allowed origin gets a preflight answer', async () => {
  const res = await fetch(handshakeUrl(), {
    method: 'OPTIONS',
    headers: {
      Origin: ALLOWED,
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'content-type',
    },
  });
  assert.ok(res.status === 204 || res.status === 200, `status ${res.status}`);
  assert.equal(res.headers.get('access-control-allow-origin'), ALLOWED);
  assert.match(res.headers.get('access-control-allow-methods') ?? '', /POST/);
  await res.arrayBuffer();
});

test('another origin is refused with 403 and no session', async () => {
  const res = await fetch(handshakeUrl(), { headers: { Origin: OTHER } });
  assert.equal(res.status, 403);
  assert.equal(res.headers.get('access-control-allow-origin'), null);
  const body = await res.text();
  assert.doesNotMatch(body, /"sid"/);
});

test('another origin cannot open a WebSocket either', async () => {
  await assert.rejects(openRawWebSocket(hub.port, { Origin: OTHER }),
    (err) => /^HTTP\/1\.1 403/.test(err.head ?? ''));
  const sock = await openRawWebSocket(hub.port, { Origin: ALLOWED });
  sock.destroy();
});

test('clients without an Origin (not browsers) are not affected', async () => {
  const res = await fetch(handshakeUrl());
  assert.equal(res.status, 200);
  await res.arrayBuffer();
});
