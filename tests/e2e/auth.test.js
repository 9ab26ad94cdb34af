// SPDX-License-Identifier: GPL-3.0-or-later
//
// Every way a token can be refused, on every namespace, and RS256 with a
// configured public key (including the HS256 algorithm-confusion attack).

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  startHub, connect, connectError, token, claims, signJwt, rsaKeyPair, now, tmpDir, isoTime,
  JWT_SECRET, PRDHUB_BIN, Manager, once,
} from './helpers/hub.js';

const NAMESPACES = ['/', '/prds', '/notifications'];

function assertRefused(err, code) {
  assert.ok(err.data, `connect_error carries data (message: ${err.message})`);
  assert.equal(err.data.code, code);
  assert.equal(typeof err.data.message, 'string');
  assert.ok(err.data.message.length > 0);
  isoTime(err.data.timestamp);
}

describe('HS256 hub', () => {
  let hub;
  before(async () => { hub = await startHub(); });
  after(async () => { await hub.stop(); });

  const header = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');

  const cases = {
    'missing auth': [{ auth: undefined }, 'AUTHENTICATION_FAILED'],
    'auth without token': [{ auth: { notToken: 'x' } }, 'AUTHENTICATION_FAILED'],
    'token of the wrong JSON type': [{ auth: { token: 42 } }, 'AUTHENTICATION_FAILED'],
    'malformed token': [{ auth: { token: 'not-a-jwt' } }, 'AUTHENTICATION_FAILED'],
    'garbage segments': [{ auth: { token: '!!!.@@@.###' } }, 'AUTHENTICATION_FAILED'],
    'bad signature': [{ auth: { token: token({}, { secret: 'some-other-secret' }) } },
      'AUTHENTICATION_FAILED'],
    'tampered claims': [{
      auth: {
        token: (() => {
          const [h, , s] = token().split('.');
          return `${h}.${header(claims({ role: 'admin' }))}.${s}`;
        })(),
      },
    }, 'AUTHENTICATION_FAILED'],
    'alg none': [{ auth: { token: token({}, { alg: 'none' }) } }, 'AUTHENTICATION_FAILED'],
    'expired': [{ auth: { token: token({ exp: now() - 120 }) } }, 'TOKEN_EXPIRED'],
    'not valid yet (nbf in the future)': [{ auth: { token: token({ nbf: now() + 3600 }) } },
      'AUTHENTICATION_FAILED'],
    // It opens its link (POST /api/sign-in), once, and nothing else.
    'a sign-in link\'s token': [{ auth: { token: token({ sign_in_link: crypto.randomUUID() }) } },
      'AUTHENTICATION_FAILED'],
  };

  for (const nsp of NAMESPACES) {
    for (const [name, [opts, code]] of Object.entries(cases)) {
      test(`${nsp}: ${name} → ${code}`, async () => {
        const err = await connectError(hub.url, { transports: ['websocket'], ...opts }, nsp);
        assertRefused(err, code);
      });
    }
  }

  test('a refused namespace does not hurt the connection or other namespaces', async () => {
    const good = await connect(hub.url, { transports: ['polling'] }, '/prds');
    const err = await connectError(hub.url, { transports: ['polling'], auth: { token: 'x' } },
      '/notifications');
    assertRefused(err, 'AUTHENTICATION_FAILED');
    const ack = await good.timeout(10000).emitWithAck('ping');
    assert.deepEqual(ack, { ok: true });
    good.close();
  });

  test('a valid token is accepted on every namespace and over polling', async () => {
    for (const nsp of NAMESPACES) {
      const s = await connect(hub.url, { transports: ['polling'] }, nsp);
      assert.ok(s.connected);
      s.close();
    }
  });

  test('a connection ends when its token expires; other namespaces stay', async () => {
    const manager = new Manager(hub.url, { reconnection: false, transports: ['websocket'] });
    const short = manager.socket('/prds', { auth: { token: token({ exp: now() + 2 }) } });
    const long = manager.socket('/notifications', { auth: { token: token() } });
    const joined = [once(short, ['connect', 'connect_error']), once(long, ['connect', 'connect_error'])];
    short.connect();
    long.connect();
    for (const j of await Promise.all(joined)) assert.equal(j.event, 'connect');

    const error = once(short, 'error');
    const gone = once(short, 'disconnect');
    const { args: [data] } = await error;
    assert.equal(data.code, 'TOKEN_EXPIRED');
    assert.equal(typeof data.message, 'string');
    isoTime(data.timestamp);
    const { args: [reason] } = await gone;
    assert.equal(reason, 'io server disconnect');

    assert.ok(long.connected, 'the other namespace on the same connection stays');
    const ack = await long.timeout(10000).emitWithAck('ping');
    assert.deepEqual(ack, { ok: true });
    manager.engine.close();
  });

  // Identity claims are checked once, at authentication, with one rule for
  // sockets and REST: what passes is safe for git authors, rooms and rows.
  const badIdentities = {
    'sub with ">"': { sub: 'mallory>' },
    'sub with "<"': { sub: '<mallory' },
    'sub with a newline': { sub: 'mallory\nCommitter: x' },
    'sub of 257 bytes': { sub: 'u'.repeat(257) },
    'empty org': { org: '' },
    'org with a newline': { org: 'org\nx' },
    'org with white space at the end': { org: 'org_e2e ' },
    'name with a line separator': { name: 'Eve\u2028Adams' },
    'name with ">"': { name: 'Eve <eve@example.com>' },
    'avatar with CR LF': { avatar: 'https://a.invalid/x.png\r\nX: y' },
  };
  for (const [name, override] of Object.entries(badIdentities)) {
    test(`identity claims: ${name} → refused alike by sockets and REST`, async () => {
      const tok = token(override);
      const err = await connectError(hub.url, { transports: ['websocket'], auth: { token: tok } },
        '/prds');
      assertRefused(err, 'AUTHENTICATION_FAILED');
      assert.match(err.data.message, /^Token claim "(sub|org|name|avatar)" /);
      const res = await fetch(`${hub.url}/api/prds`, { headers: { authorization: `Bearer ${tok}` } });
      assert.equal(res.status, 401);
      const body = await res.json();
      assert.equal(body.code, 'AUTHENTICATION_FAILED');
      assert.equal(body.message, err.data.message);
    });
  }

  test('identity claims: a NUL in a claim is refused (the token is not read)', async () => {
    const err = await connectError(hub.url,
      { transports: ['websocket'], auth: { token: token({ sub: 'mal\u0000lory' }) } }, '/prds');
    assertRefused(err, 'AUTHENTICATION_FAILED');
  });

  test('identity claims at the limits are accepted', async () => {
    const tok = token({ sub: 'u'.repeat(256), org: 'o'.repeat(256), name: '', avatar: '' });
    const s = await connect(hub.url, { transports: ['websocket'], auth: { token: tok } }, '/prds');
    s.close();
    const res = await fetch(`${hub.url}/api/prds`, { headers: { authorization: `Bearer ${tok}` } });
    assert.equal(res.status, 200);
  });

  test('prdhub token refuses the identities the hub would refuse', () => {
    assert.throws(() => execFileSync(PRDHUB_BIN, [
      'token', '--user', 'a>b', '--name', 'N', '--org', 'org_cli', '--data-dir', hub.dataDir,
    ], { env: { ...process.env, PRDHUB_JWT_SECRET: JWT_SECRET }, stdio: 'pipe' }),
    (e) => /claim "sub" must not contain '<' or '>'/.test(e.stderr.toString()));
  });

  test('prdhub token mints a token the hub accepts', async () => {
    const out = execFileSync(PRDHUB_BIN, [
      'token', '--user', 'user_cli', '--name', 'Cli User', '--org', 'org_cli',
      '--role', 'viewer', '--ttl', '600', '--data-dir', hub.dataDir,
    ], { env: { ...process.env, PRDHUB_JWT_SECRET: JWT_SECRET }, encoding: 'utf8' }).trim();
    assert.match(out, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const payload = JSON.parse(Buffer.from(out.split('.')[1], 'base64url').toString());
    assert.equal(payload.sub, 'user_cli');
    assert.equal(payload.name, 'Cli User');
    assert.equal(payload.org, 'org_cli');
    assert.equal(payload.role, 'viewer');
    assert.ok(payload.exp > now() && payload.exp <= now() + 601);
    const s = await connect(hub.url, { transports: ['websocket'], auth: { token: out } }, '/prds');
    s.close();
  });
});

describe('RS256 hub (--jwt-public-key)', () => {
  let hub;
  let keys;
  let dir;
  before(async () => {
    keys = rsaKeyPair();
    dir = tmpDir();
    const pub = path.join(dir, 'jwt-public.pem');
    fs.writeFileSync(pub, keys.publicKey);
    hub = await startHub({ args: ['--jwt-public-key', pub] });
  });
  after(async () => {
    await hub.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a good RS256 token is accepted', async () => {
    for (const nsp of NAMESPACES) {
      const s = await connect(hub.url, {
        transports: ['websocket'],
        auth: { token: token({}, { alg: 'RS256', privateKey: keys.privateKey }) },
      }, nsp);
      assert.ok(s.connected);
      const ack = await s.timeout(10000).emitWithAck('ping');
      assert.deepEqual(ack, { ok: true });
      s.close();
    }
  });

  test('HS256 signed with the public key as secret (alg confusion) is refused', async () => {
    const forged = token({}, { alg: 'HS256', secret: keys.publicKey });
    const err = await connectError(hub.url, { transports: ['websocket'], auth: { token: forged } });
    assertRefused(err, 'AUTHENTICATION_FAILED');
  });

  test('HS256 signed with the hub secret is refused once a public key is configured', async () => {
    const err = await connectError(hub.url, { transports: ['websocket'], auth: { token: token() } });
    assertRefused(err, 'AUTHENTICATION_FAILED');
  });

  test('RS256 signed by another key is refused', async () => {
    const other = rsaKeyPair();
    const err = await connectError(hub.url, {
      transports: ['websocket'],
      auth: { token: token({}, { alg: 'RS256', privateKey: other.privateKey }) },
    });
    assertRefused(err, 'AUTHENTICATION_FAILED');
  });

  test('expired RS256 token → TOKEN_EXPIRED', async () => {
    const err = await connectError(hub.url, {
      transports: ['websocket'],
      auth: { token: token({ exp: now() - 120 }, { alg: 'RS256', privateKey: keys.privateKey }) },
    });
    assertRefused(err, 'TOKEN_EXPIRED');
  });

  test('alg none is refused', async () => {
    const err = await connectError(hub.url, {
      transports: ['websocket'], auth: { token: signJwt(claims(), { alg: 'none' }) },
    });
    assertRefused(err, 'AUTHENTICATION_FAILED');
  });
});
