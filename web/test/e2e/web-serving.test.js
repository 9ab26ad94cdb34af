// SPDX-License-Identifier: GPL-3.0-or-later
//
// How the hub serves the web editor (src/hub/prd-hub-web.c), over plain
// HTTP: the page at / and /prds/{id} without a token, the hashed bundle
// with immutable caching, a strict Content-Security-Policy with a fresh
// style nonce per page, and asset names checked.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, token } from './browser.js';

let hub;

before(async () => { hub = await startHub(); });
after(async () => {
  // A clean exit (under ASan: no leak, no error).
  const res = await hub.stop();
  assert.deepEqual(res, { code: 0, signal: null }, hub.stderr());
});

function csp(res) {
  return Object.fromEntries(res.headers.get('content-security-policy').split(';').map((d) => {
    const [name, ...values] = d.trim().split(/\s+/);
    return [name, values.join(' ')];
  }));
}

async function page(path) {
  const res = await fetch(`${hub.url}${path}`);
  return { res, body: await res.text() };
}

test('/ and /prds/{id} serve the page without a token, never cached stale', async () => {
  for (const path of ['/', '/prds/prd_anything', '/prds/prd_anything/']) {
    const { res, body } = await page(path);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.match(body, /<script type="module" src="\/assets\/app-[A-Z0-9]+\.js"><\/script>/);
  }
});

test('the page\'s policy: only the hub, no inline script, a fresh style nonce', async () => {
  const a = await page('/');
  const b = await page('/');
  const pa = csp(a.res);
  assert.equal(pa['default-src'], "'none'");
  assert.equal(pa['script-src'], "'self'");
  assert.equal(pa['connect-src'], "'self'");
  // A PRD's markdown image is fetched from nowhere, the hub included.
  assert.equal(pa['img-src'], 'data:');
  assert.equal(pa['frame-ancestors'], "'none'");
  const nonceA = /'nonce-([A-Za-z0-9+/=]+)'/.exec(pa['style-src'])[1];
  const nonceB = /'nonce-([A-Za-z0-9+/=]+)'/.exec(csp(b.res)['style-src'])[1];
  assert.equal(Buffer.from(nonceA, 'base64').length, 16);
  assert.notEqual(nonceA, nonceB);
  assert.ok(a.body.includes(`<meta name="prdhub-csp-nonce" content="${nonceA}">`));
  assert.ok(!a.body.includes('{{'), 'no placeholder left');
  assert.ok(!/<script>|<style>| on[a-z]+=/i.test(a.body), 'nothing inline');
});

test('the hashed bundle is immutable; its names are checked', async () => {
  const { body } = await page('/');
  for (const asset of [/\/assets\/app-[A-Z0-9]+\.js/.exec(body)[0], /\/assets\/style-[A-Z0-9]+\.css/.exec(body)[0]]) {
    const res = await fetch(`${hub.url}${asset}`);
    assert.equal(res.status, 200, asset);
    assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.match(res.headers.get('content-type'), asset.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
    assert.ok((await res.arrayBuffer()).byteLength > 1000);
    const head = await fetch(`${hub.url}${asset}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
  }
  const missing = await fetch(`${hub.url}/assets/app-NOPE.js`);
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).code, 'NOT_FOUND');
  assert.equal(missing.headers.get('cache-control'), 'no-cache');
  // An encoded '/' is decoded before routing: another path, unknown.
  assert.equal((await fetch(`${hub.url}/assets/a%2Fb.js`)).status, 404);
  for (const bad of ['.hidden.js', 'a%20b.js', 'x'.repeat(129) + '.js', '%C3%A9.js']) {
    const res = await fetch(`${hub.url}/assets/${bad}`);
    assert.equal(res.status, 400, bad);
    assert.equal((await res.json()).code, 'INVALID_ID', bad);
  }
  // The longest accepted name is only looked up.
  assert.equal((await fetch(`${hub.url}/assets/${'x'.repeat(125)}.js`)).status, 404);
});

test('the API still needs a token; other paths are still unknown', async () => {
  assert.equal((await fetch(`${hub.url}/api/prds`)).status, 401);
  assert.equal((await fetch(`${hub.url}/api/prds`, { headers: { Authorization: `Bearer ${token()}` } })).status, 200);
  assert.equal((await fetch(`${hub.url}/prds`)).status, 404);
  assert.equal((await fetch(`${hub.url}/prds/a/b`)).status, 404);
  assert.equal((await fetch(`${hub.url}/`, { method: 'POST' })).status, 405);
});

test('GET /api/presence: who is in which PRD now, checked', async () => {
  const auth = { headers: { Authorization: `Bearer ${token()}` } };
  const res = await fetch(`${hub.url}/api/presence?prdIds=prd_a,prd_b`, auth);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { prds: {} });
  for (const [query, code] of [['', 'INVALID_PAYLOAD'], ['?prdIds=', 'INVALID_PAYLOAD'],
    ['?prdIds=prd_a,,prd_b', 'INVALID_ID'], ['?prdIds=nope', 'INVALID_ID'],
    [`?prdIds=${Array.from({ length: 201 }, (_, i) => `prd_${i}`).join(',')}`, 'INVALID_PAYLOAD']]) {
    const bad = await fetch(`${hub.url}/api/presence${query}`, auth);
    assert.equal(bad.status, 400, query.slice(0, 40));
    assert.equal((await bad.json()).code, code, query.slice(0, 40));
  }
  assert.equal((await fetch(`${hub.url}/api/presence?prdIds=${Array.from({ length: 200 }, (_, i) => `prd_${i}`).join(',')}`, auth)).status, 200);
  assert.equal((await fetch(`${hub.url}/api/presence?prdIds=prd_a`)).status, 401);
});

test('prdhub token --link prints a sign-in link the hub redeems once', async () => {
  const { execFile } = await import('node:child_process');
  const { PRDHUB_BIN, JWT_SECRET } = await import('../../../tests/e2e/helpers/hub.js');
  const run = (args) => new Promise((resolve) => {
    execFile(PRDHUB_BIN, ['token', '--user', 'user_link', '--name', 'Link User', '--data-dir', hub.dataDir, ...args],
      { env: { ...process.env, PRDHUB_JWT_SECRET: JWT_SECRET } },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }));
  });
  const port = new URL(hub.url).port;
  const out = await run(['--link', '--listen', `127.0.0.1:${port}`]);
  assert.equal(out.code, 0, out.stderr);
  const m = /^http:\/\/127\.0\.0\.1:(\d+)\/#token=([\w-]+\.[\w-]+\.[\w-]+)\n$/.exec(out.stdout);
  assert.ok(m, out.stdout);
  assert.equal(m[1], port);
  // The link's token opens nothing but the link: the page trades it, once,
  // for the session's token.
  const bearer = (t) => ({ headers: { Authorization: `Bearer ${t}` } });
  const refused = await fetch(`${hub.url}/api/prds`, bearer(m[2]));
  assert.equal(refused.status, 401);
  assert.match((await refused.json()).message, /sign-in link/);
  const redeem = () => fetch(`${hub.url}/api/sign-in`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ link: m[2] }),
  });
  const first = await redeem();
  assert.equal(first.status, 200);
  const { token: session } = await first.json();
  const res = await fetch(`${hub.url}/api/prds`, bearer(session));
  assert.equal(res.status, 200);
  const linkClaims = JSON.parse(Buffer.from(m[2].split('.')[1], 'base64url'));
  const sessionClaims = JSON.parse(Buffer.from(session.split('.')[1], 'base64url'));
  assert.match(linkClaims.sign_in_link, /^[0-9a-f-]{36}$/);
  delete linkClaims.sign_in_link;
  assert.deepEqual({ ...sessionClaims, iat: 0 }, { ...linkClaims, iat: 0 });
  const second = await redeem();
  assert.equal(second.status, 401);
  assert.equal((await second.json()).code, 'TOKEN_REVOKED');
  // A session's token is no link; a body without one is refused.
  const notLink = await fetch(`${hub.url}/api/sign-in`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ link: session }),
  });
  assert.equal(notLink.status, 401);
  assert.equal((await notLink.json()).code, 'AUTHENTICATION_FAILED');
  const noBody = await fetch(`${hub.url}/api/sign-in`, { method: 'POST', body: '{}' });
  assert.equal(noBody.status, 400);
  assert.equal((await noBody.json()).code, 'INVALID_PAYLOAD');
  assert.match((await run(['--link', '--listen', '[::1]:3000'])).stdout, /^http:\/\/\[::1\]:3000\/#token=/);
  assert.match((await run(['--link'])).stdout, /^http:\/\/127\.0\.0\.1:3000\/#token=/);
  const zero = await run(['--link', '--listen', '127.0.0.1:0']);
  assert.equal(zero.code, 2);
  assert.match(zero.stderr, /real port/);
  const alone = await run(['--listen', '127.0.0.1:4000']);
  assert.equal(alone.code, 2);
  assert.match(alone.stderr, /--listen goes with --link/);
});
