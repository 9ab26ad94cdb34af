// SPDX-License-Identifier: GPL-3.0-or-later
//
// The prdhub command line: bad configuration is refused up front with a
// message naming what is wrong; the generated JWT secret is private.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PRDHUB_BIN, startHub, connect, tmpDir, START_TIMEOUT_MS } from './helpers/hub.js';

function prdhub(args, env = {}) {
  const res = spawnSync(PRDHUB_BIN, args, {
    encoding: 'utf8',
    timeout: START_TIMEOUT_MS,
    env: { ...process.env, ...env },
  });
  return res;
}

const BAD_CONFIGS = {
  'unknown group': ['[nonsense]\nkey = 1\n', /nonsense/],
  'unknown key': ['[engine]\nping-intervall = 100\n', /ping-intervall/],
  'not a number': ['[engine]\nping-interval = soon\n', /ping-interval/],
  'max-payload below its minimum': ['[engine]\nmax-payload = 1\n', /max-payload/],
  'bad rate-limit value': ['[rate-limit]\nmyclass = lots\n', /myclass/],
  'event mapped to an unknown class': ['[rate-limit.events]\nping = nowhere\n', /nowhere|ping/],
  'bad listen address': ['[server]\nlisten = not an address\n', /listen/],
};

for (const [name, [text, re]] of Object.entries(BAD_CONFIGS)) {
  test(`serve refuses a config file with ${name}`, () => {
    const dir = tmpDir();
    const file = path.join(dir, 'bad.conf');
    fs.writeFileSync(file, text);
    const res = prdhub(['serve', '--listen', '127.0.0.1:0', '--data-dir', dir, '--config', file]);
    fs.rmSync(dir, { recursive: true, force: true });
    assert.notEqual(res.status, 0, 'exits non-zero');
    assert.equal(res.signal, null, 'does not crash or hang');
    assert.doesNotMatch(res.stdout, /listening/);
    assert.match(res.stderr, re);
  });
}

test('serve refuses a missing config file', () => {
  const res = prdhub(['serve', '--listen', '127.0.0.1:0', '--config', '/nonexistent/prdhub.conf']);
  assert.notEqual(res.status, 0);
  assert.equal(res.signal, null);
  assert.match(res.stderr, /nonexistent/);
});

test('serve refuses --tls-cert without --tls-key', () => {
  const dir = tmpDir();
  const res = prdhub(['serve', '--listen', '127.0.0.1:0', '--data-dir', dir,
    '--tls-cert', path.join(dir, 'cert.pem')]);
  fs.rmSync(dir, { recursive: true, force: true });
  assert.notEqual(res.status, 0);
  assert.equal(res.signal, null);
  assert.match(res.stderr, /tls/i);
});

test('token refuses an unknown role', () => {
  const dir = tmpDir();
  const res = prdhub(['token', '--user', 'u1', '--name', 'U', '--role', 'overlord',
    '--data-dir', dir]);
  fs.rmSync(dir, { recursive: true, force: true });
  assert.notEqual(res.status, 0);
  assert.equal(res.stdout.trim(), '', 'prints no token');
  assert.match(res.stderr, /role/);
});

test('without PRDHUB_JWT_SECRET the hub generates an owner-only secret and token uses it', async () => {
  const env = { ...process.env };
  delete env.PRDHUB_JWT_SECRET;
  const hub = await startHub({ env: { PRDHUB_JWT_SECRET: undefined } });
  try {
    const secretFile = path.join(hub.dataDir, 'jwt-secret');
    const st = fs.statSync(secretFile);
    assert.equal(st.mode & 0o077, 0, 'jwt-secret is not readable by group or others');
    const res = spawnSync(PRDHUB_BIN, ['token', '--user', 'u1', '--name', 'U One',
      '--data-dir', hub.dataDir], { encoding: 'utf8', env });
    assert.equal(res.status, 0, res.stderr);
    const token = res.stdout.trim();
    const s = await connect(hub.url, { transports: ['websocket'], auth: { token } }, '/prds');
    s.close();
  } finally {
    await hub.stop();
  }
});
