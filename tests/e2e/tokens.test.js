// SPDX-License-Identifier: GPL-3.0-or-later
//
// Tokens over time: a connection ends at its token's `exp` unless the client
// sends `refresh-token` with a fresh token of the same user first; `prdhub
// token revoke` ends a user's open connections on a running hub (read from
// the store every [auth] revocation-check-interval) and refuses their
// tokens from then on, for Socket.IO and REST alike.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  JWT_SECRET, PRDHUB_BIN, START_TIMEOUT_MS, Manager, connect, connectError, isoTime, now, once, startHub,
  token,
} from './helpers/hub.js';
import { request, rest } from './collab-helpers.js';

let hub;

before(async () => {
  hub = await startHub({ config: '[auth]\nrevocation-check-interval = 1\n' });
});

after(async () => {
  await hub?.stop();
});

function socketWith(tok, nsp = '/prds') {
  return connect(hub.url, { transports: ['websocket'], auth: { token: tok } }, nsp);
}

test('refresh-token keeps a connection past its first token\'s exp; bad refreshes change nothing', async () => {
  const exp = now() + 3;
  const claims = { sub: 'refresher', org: 'org_tok', exp };
  const plain = await socketWith(token(claims));
  const refreshed = await socketWith(token(claims));
  try {
    const refusals = [
      [undefined, 'INVALID_PAYLOAD'],
      [{}, 'INVALID_PAYLOAD'],
      [{ token: 42 }, 'INVALID_PAYLOAD'],
      [{ token: 'not.a.token' }, 'AUTHENTICATION_FAILED'],
      [{ token: token({ ...claims, exp: now() - 120 }) }, 'TOKEN_EXPIRED'],
      [{ token: token({ ...claims, sub: 'someone_else', exp: now() + 3600 }) }, 'FORBIDDEN'],
      [{ token: token({ ...claims, org: 'org_other', exp: now() + 3600 }) }, 'FORBIDDEN'],
      [{ token: token({ ...claims, role: 'admin', exp: now() + 3600 }) }, 'FORBIDDEN'],
      [{ token: token({ ...claims, exp: now() + 3600 }, { secret: 'x'.repeat(40) }) }, 'AUTHENTICATION_FAILED'],
    ];
    for (const [payload, code] of refusals) {
      const errorEvent = once(refreshed, 'error');
      const res = await request(refreshed, 'refresh-token', payload);
      assert.equal(res.error?.code, code, JSON.stringify(payload));
      const { args: [data] } = await errorEvent;
      assert.equal(data.code, code);
    }

    const fresh = now() + 3600;
    const res = await request(refreshed, 'refresh-token', { token: token({ ...claims, exp: fresh }) });
    assert.deepEqual(res, { ok: true, exp: fresh });

    // Both started with the same exp: once the plain one is gone, the
    // refreshed one would have gone in the same pass.
    const error = once(plain, 'error');
    const gone = once(plain, 'disconnect');
    const { args: [data] } = await error;
    assert.equal(data.code, 'TOKEN_EXPIRED');
    isoTime(data.timestamp);
    assert.equal((await gone).args[0], 'io server disconnect');
    const pong = await request(refreshed, 'ping', {});
    assert.equal(pong.ok, true);
    assert.ok(refreshed.connected);
  } finally {
    plain.close();
    refreshed.close();
  }
});

test('refresh-token is offered on every namespace', async () => {
  for (const nsp of ['/', '/prds', '/notifications']) {
    const claims = { sub: 'ns_refresher', org: 'org_tok' };
    const s = await socketWith(token(claims), nsp);
    try {
      const res = await request(s, 'refresh-token', { token: token({ ...claims, exp: now() + 7200 }) });
      assert.equal(res.ok, true, nsp);
    } finally {
      s.close();
    }
  }
});

test('prdhub token revoke ends the user\'s open sessions and refuses their tokens', async () => {
  const victim = { sub: 'revoked_user', org: 'org_rev' };
  const oldToken = token({ ...victim, iat: now() - 10 });
  const manager = new Manager(hub.url, { reconnection: false, transports: ['websocket'] });
  const sockets = ['/prds', '/notifications'].map((nsp) => manager.socket(nsp, { auth: { token: oldToken } }));
  const opened = sockets.map((s) => once(s, ['connect', 'connect_error']));
  for (const s of sockets) s.connect();
  for (const o of await Promise.all(opened)) assert.equal(o.event, 'connect');
  const sameSubOtherOrg = await socketWith(token({ sub: 'revoked_user', org: 'org_kept' }));
  const bystander = await socketWith(token({ sub: 'bystander', org: 'org_rev' }));
  try {
    const errors = sockets.map((s) => once(s, 'error', 60000));
    const gone = sockets.map((s) => once(s, 'disconnect', 60000));
    const res = spawnSync(PRDHUB_BIN, ['token', 'revoke', '--user', 'revoked_user', '--org', 'org_rev',
      '--data-dir', hub.dataDir], { encoding: 'utf8', timeout: START_TIMEOUT_MS });
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /revoked_user/);
    for (const e of await Promise.all(errors)) assert.equal(e.args[0].code, 'TOKEN_REVOKED');
    for (const g of await Promise.all(gone)) assert.equal(g.args[0], 'io server disconnect');

    // The same token again, on Socket.IO and REST
    const err = await connectError(hub.url, { transports: ['websocket'], auth: { token: oldToken } }, '/prds');
    assert.equal(err.message, 'Token revoked');
    assert.equal(err.data.code, 'TOKEN_REVOKED');
    const r = await rest(hub, 'GET', '/api/prds', { tok: oldToken });
    assert.equal(r.status, 401);
    assert.equal(r.json.code, 'TOKEN_REVOKED', r.text);
    // A token without iat counts as issued before the revocation.
    const noIat = await connectError(hub.url, { transports: ['websocket'], auth: { token: token(victim) } }, '/prds');
    assert.equal(noIat.data.code, 'TOKEN_REVOKED');

    // Others stay; a token issued after the revocation is accepted.
    for (const s of [sameSubOtherOrg, bystander]) assert.equal((await request(s, 'ping', {})).ok, true);
    const again = await socketWith(token({ ...victim, iat: now() + 2 }));
    again.close();

    // Bad invocations change nothing.
    for (const args of [['token', 'revoke'], ['token', 'revoke', '--user', ''], ['token', 'revoke', '--user', 'u', 'extra']]) {
      const bad = spawnSync(PRDHUB_BIN, [...args, '--data-dir', hub.dataDir], { encoding: 'utf8', timeout: START_TIMEOUT_MS });
      assert.notEqual(bad.status, 0, args.join(' '));
    }
  } finally {
    manager.engine?.close();
    for (const s of sockets) s.close();
    sameSubOtherOrg.close();
    bystander.close();
  }
});

test('the SDK refreshes its token on the open connection', async () => {
  const { sdkClient } = await import('./sdk-helpers.js');
  const { createPrd, user } = await import('./collab-helpers.js');
  const sdkUser = user('sdk_refresher', { org: 'org_tok' });
  const prdId = await createPrd(hub, 'SDK refresh', 'x', sdkUser);
  const exp = now() + 3;
  const a = sdkClient(hub, prdId, { ...sdkUser, exp });
  const plain = await socketWith(token({ ...sdkUser, exp }));
  try {
    await a.connect();
    const res = await a.refreshToken(token({ ...sdkUser, exp: now() + 3600 }));
    assert.equal(res.ok, true);
    await assert.rejects(a.refreshToken(token({ ...sdkUser, sub: 'other', exp: now() + 3600 })),
      (e) => e.code === 'FORBIDDEN');
    // the plain connection's token ran out; the SDK's connection lives on
    assert.equal((await once(plain, 'error')).args[0].code, 'TOKEN_EXPIRED');
    a.insert(0, 'still here ');
    await a.whenSynced();
    assert.equal(a.joined, true);
  } finally {
    a.close();
    plain.close();
  }
});

// The lost-laptop routine: revoke, then at once a new token and a sign-in
// link for the same user. Revocations count whole seconds (`iat`), so the
// command returns only once its second has passed; started right after a
// second boundary, the old command returned within that second and the
// new token was refused for its whole life.
test('a token and a sign-in link minted as soon as token revoke returns are accepted', async () => {
  const victim = { sub: 'lost_laptop', org: 'org_lost' };
  const env = { ...process.env, PRDHUB_JWT_SECRET: JWT_SECRET };
  const old = await socketWith(token({ ...victim, iat: now() - 10 }));
  try {
    const revoked = once(old, 'error', 60000);
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
    const res = spawnSync(PRDHUB_BIN, ['token', 'revoke', '--user', victim.sub, '--org', victim.org,
      '--data-dir', hub.dataDir], { encoding: 'utf8', timeout: START_TIMEOUT_MS });
    assert.equal(res.status, 0, res.stderr);
    const mint = (extra) => spawnSync(PRDHUB_BIN, ['token', '--user', victim.sub, '--name', 'Lost Laptop',
      '--org', victim.org, '--data-dir', hub.dataDir, ...extra],
    { encoding: 'utf8', env, timeout: START_TIMEOUT_MS });
    const minted = mint([]);
    const link = mint(['--link', '--listen', `127.0.0.1:${hub.port}`]);
    for (const m of [minted, link]) assert.equal(m.status, 0, m.stderr);

    // The hub has read the revocation once it ends the old connection.
    assert.equal((await revoked).args[0].code, 'TOKEN_REVOKED');
    const fresh = await socketWith(minted.stdout.trim());
    fresh.close();
    const signIn = await rest(hub, 'POST', '/api/sign-in',
      { tok: null, body: { link: link.stdout.trim().replace(/^.*#token=/, '') } });
    assert.equal(signIn.status, 200, signIn.text);
    const session = await socketWith(signIn.json.token);
    session.close();
  } finally {
    old.close();
  }
});
