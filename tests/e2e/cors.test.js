// SPDX-License-Identifier: GPL-3.0-or-later
//
// Browser origins: only those given with --cors-origin may use the hub,
// over Socket.IO polling and REST alike.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startHub, token, assertCleanStop } from './helpers/hub.js';
import { openRawWebSocket } from './helpers/rawws.js';

const ALLOWED = 'http://allowed.example';
const OTHER = 'http://evil.example';

let hub;
before(async () => { hub = await startHub({ args: ['--cors-origin', ALLOWED] }); });
after(async () => {
  await assertCleanStop(hub);
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

test('a browser\'s image, script, frame or page request opens no session', async () => {
  // They carry no Origin: a markdown image, or any page on the web, could
  // otherwise open sessions by the hundred in a reader's name.
  for (const dest of ['image', 'script', 'iframe', 'document', 'style']) {
    const res = await fetch(handshakeUrl(), { headers: { 'Sec-Fetch-Dest': dest } });
    assert.equal(res.status, 403, dest);
    assert.deepEqual(await res.json(), { code: 4, message: 'Forbidden' }, dest);
  }
  const sessions = async () => {
    const text = await (await fetch(`${hub.url}/metrics`)).text();
    return Number(/^prdhub_connections\{transport="polling"\} (\d+)$/m.exec(text)?.[1]);
  };
  const before = await sessions();
  await (await fetch(handshakeUrl(), { headers: { 'Sec-Fetch-Dest': 'image' } })).arrayBuffer();
  assert.equal(await sessions(), before, 'no session was opened');
  // What fetch(), XMLHttpRequest and WebSocket send.
  const res = await fetch(handshakeUrl(), { headers: { 'Sec-Fetch-Dest': 'empty', Origin: ALLOWED } });
  assert.equal(res.status, 200);
  assert.equal((await res.text())[0], '0');
  const sock = await openRawWebSocket(hub.port, { Origin: ALLOWED, 'Sec-Fetch-Dest': 'websocket' });
  sock.destroy();
  await assert.rejects(openRawWebSocket(hub.port, { 'Sec-Fetch-Dest': 'image' }),
    (err) => /^HTTP\/1\.1 403/.test(err.head ?? ''));
});

// A GET with exactly @headers (fetch() adds Sec-Fetch-Mode of its own).
function rawGet(path, headers) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: hub.port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
  });
}

const pollingSessions = async () => {
  const text = await (await fetch(`${hub.url}/metrics`)).text();
  return Number(/^prdhub_connections\{transport="polling"\} (\d+)$/m.exec(text)?.[1]);
};

test('a browser\'s no-cors fetch or navigation opens no session; a script\'s CORS request does', async () => {
  // fetch(url, {mode: 'no-cors'}) from any page is Sec-Fetch-Dest: empty and
  // carries no Origin: only Sec-Fetch-Mode tells it from a script's request.
  const path = '/socket.io/?EIO=4&transport=polling';
  const before = await pollingSessions();
  for (const mode of ['no-cors', 'navigate', 'nested-navigate', 'something-else']) {
    for (const site of ['cross-site', 'same-site', 'same-origin', 'none', undefined]) {
      const headers = { 'Sec-Fetch-Dest': 'empty', 'Sec-Fetch-Mode': mode };
      if (site !== undefined) headers['Sec-Fetch-Site'] = site;
      const res = await rawGet(path, headers);
      assert.equal(res.status, 403, `${mode} ${site}`);
      assert.deepEqual(JSON.parse(res.body), { code: 4, message: 'Forbidden' }, `${mode} ${site}`);
    }
  }
  // From another site, a script's request names its origin: without one it
  // is not a script's (or the Origin rule could not look at it).
  for (const site of ['cross-site', 'same-site']) {
    for (const mode of ['cors', 'same-origin']) {
      const res = await rawGet(path, { 'Sec-Fetch-Dest': 'empty', 'Sec-Fetch-Mode': mode, 'Sec-Fetch-Site': site });
      assert.equal(res.status, 403, `${mode} ${site} without Origin`);
      assert.deepEqual(JSON.parse(res.body), { code: 4, message: 'Forbidden' });
    }
    const other = await rawGet(path, { 'Sec-Fetch-Mode': 'cors', 'Sec-Fetch-Site': site, Origin: OTHER });
    assert.equal(other.status, 403, `cors ${site} from another origin`);
  }
  await assert.rejects(openRawWebSocket(hub.port, { 'Sec-Fetch-Mode': 'no-cors' }),
    (err) => /^HTTP\/1\.1 403/.test(err.head ?? ''));
  await assert.rejects(openRawWebSocket(hub.port, { 'Sec-Fetch-Mode': 'websocket', 'Sec-Fetch-Site': 'cross-site' }),
    (err) => /^HTTP\/1\.1 403/.test(err.head ?? ''));
  assert.equal(await pollingSessions(), before, 'no session was opened');

  // What a browser's XMLHttpRequest, fetch() and WebSocket send: served.
  const opened = [
    await rawGet(path, { 'Sec-Fetch-Dest': 'empty', 'Sec-Fetch-Mode': 'cors', 'Sec-Fetch-Site': 'same-origin' }),
    await rawGet(path, { 'Sec-Fetch-Dest': 'empty', 'Sec-Fetch-Mode': 'same-origin', 'Sec-Fetch-Site': 'same-origin' }),
    await rawGet(path, { 'Sec-Fetch-Dest': 'empty', 'Sec-Fetch-Mode': 'cors', 'Sec-Fetch-Site': 'cross-site', Origin: ALLOWED }),
    await rawGet(path, { 'Sec-Fetch-Dest': 'empty', 'Sec-Fetch-Mode': 'cors', 'Sec-Fetch-Site': 'same-site', Origin: ALLOWED }),
    await rawGet(path, { 'Sec-Fetch-Mode': 'cors' }),
    await rawGet(path, {}),
  ];
  for (const res of opened) {
    assert.equal(res.status, 200, res.body);
    assert.equal(res.body[0], '0');
  }
  const sock = await openRawWebSocket(hub.port, {
    Origin: ALLOWED, 'Sec-Fetch-Dest': 'websocket', 'Sec-Fetch-Mode': 'websocket', 'Sec-Fetch-Site': 'cross-site',
  });
  sock.destroy();
});

// ---- REST -------------------------------------------------------------------

function preflight(path, origin, method = 'POST') {
  return fetch(`${hub.url}${path}`, {
    method: 'OPTIONS',
    headers: {
      Origin: origin,
      'Access-Control-Request-Method': method,
      'Access-Control-Request-Headers': 'authorization,content-type',
    },
  });
}

test('REST: an allowed origin gets a preflight answer without a token', async () => {
  for (const [path, methods] of [['/api/prds', ['GET', 'POST']], ['/api/prds/prd_abc', ['GET']],
    ['/api/activity', ['GET']]]) {
    const res = await preflight(path, ALLOWED);
    assert.equal(res.status, 204, path);
    assert.equal(res.headers.get('access-control-allow-origin'), ALLOWED, path);
    const allowed = (res.headers.get('access-control-allow-methods') ?? '').split(/,\s*/);
    for (const m of methods) assert.ok(allowed.includes(m), `${path}: ${allowed}`);
    assert.match(res.headers.get('access-control-allow-headers') ?? '', /authorization/i);
    assert.match(res.headers.get('access-control-allow-headers') ?? '', /content-type/i);
    assert.match(res.headers.get('vary') ?? '', /origin/i);
    assert.ok(Number(res.headers.get('access-control-max-age')) > 0);
    assert.equal(res.headers.get('www-authenticate'), null, 'no authentication asked');
    await res.arrayBuffer();
  }
});

test('REST: another origin gets no CORS header, on a preflight or a request', async () => {
  const pre = await preflight('/api/prds', OTHER);
  assert.equal(pre.status, 403);
  assert.equal(pre.headers.get('access-control-allow-origin'), null);
  assert.equal(pre.headers.get('access-control-allow-methods'), null);
  assert.equal((await pre.json()).code, 'FORBIDDEN');
  const res = await fetch(`${hub.url}/api/prds`, {
    headers: { Origin: OTHER, Authorization: `Bearer ${token()}` },
  });
  assert.equal(res.headers.get('access-control-allow-origin'), null);
  await res.arrayBuffer();
});

test('REST: authenticated responses to an allowed origin carry the CORS headers', async () => {
  const auth = { Origin: ALLOWED, Authorization: `Bearer ${token()}` };
  const created = await fetch(`${hub.url}/api/prds`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ title: 'From a browser', content: '# Hi\n' }),
  });
  assert.equal(created.status, 201);
  assert.equal(created.headers.get('access-control-allow-origin'), ALLOWED);
  assert.match(created.headers.get('vary') ?? '', /origin/i);
  const { id } = await created.json();
  for (const path of ['/api/prds', `/api/prds/${id}`, `/api/prds/${id}/export.md`]) {
    const res = await fetch(`${hub.url}${path}`, { headers: auth });
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get('access-control-allow-origin'), ALLOWED, path);
    assert.match(res.headers.get('vary') ?? '', /origin/i, path);
    await res.arrayBuffer();
  }
  // An error too, so that the app can read it.
  const refused = await fetch(`${hub.url}/api/prds`, { headers: { Origin: ALLOWED } });
  assert.equal(refused.status, 401);
  assert.equal(refused.headers.get('access-control-allow-origin'), ALLOWED);
  await refused.arrayBuffer();
  // Without an Origin (not a browser): no CORS header.
  const plain = await fetch(`${hub.url}/api/prds`, { headers: { Authorization: auth.Authorization } });
  assert.equal(plain.status, 200);
  assert.equal(plain.headers.get('access-control-allow-origin'), null);
  await plain.arrayBuffer();
});

test('REST: no answer can be sniffed into a page, framed or run', async () => {
  const auth = { Authorization: `Bearer ${token()}` };
  const created = await fetch(`${hub.url}/api/prds`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ title: '<script>x()</script>', content: '<html><script>x()</script>\n' }),
  });
  const { id } = await created.json();
  const answers = [created];
  for (const [path, headers] of [['/api/prds', auth], [`/api/prds/${id}/export.md`, auth],
    ['/api/prds', {}], ['/api/nowhere', auth], ['/healthz', {}], ['/metrics', {}]]) {
    answers.push(await fetch(`${hub.url}${path}`, { headers }));
  }
  for (const res of answers) {
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', res.url);
    assert.equal(res.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'",
      res.url);
    if (!res.bodyUsed) await res.arrayBuffer();
  }
  assert.deepEqual(answers.map((r) => r.status), [201, 200, 200, 401, 404, 200, 200]);
});

test('REST: without --cors-origin, no other origin is allowed', async () => {
  const bare = await startHub();
  try {
    const res = await fetch(`${bare.url}/api/prds`, {
      method: 'OPTIONS',
      headers: { Origin: ALLOWED, 'Access-Control-Request-Method': 'GET' },
    });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
    await res.arrayBuffer();
    // A request from the hub's own origin is not cross-origin.
    const own = await fetch(`${bare.url}/api/prds`, {
      method: 'OPTIONS',
      headers: { Origin: bare.url, 'Access-Control-Request-Method': 'GET' },
    });
    assert.equal(own.status, 204);
    await own.arrayBuffer();
  } finally {
    await assertCleanStop(bare);
  }
});

// One Origin rule for Socket.IO and REST (docs/protocol.md, "Origins").
test('REST follows the same Origin rule', async () => {
  const tok = token();
  const other = await fetch(`${hub.url}/api/prds`, { headers: { Origin: OTHER, Authorization: `Bearer ${tok}` } });
  assert.equal(other.status, 403);
  const body = await other.json();
  assert.equal(body.code, 'FORBIDDEN');
  assert.match(body.message, /evil\.example/);
  assert.equal(other.headers.get('access-control-allow-origin'), null);
  // refused from the headers, before the token is looked at
  const otherNoToken = await fetch(`${hub.url}/api/prds`, { headers: { Origin: OTHER } });
  assert.equal(otherNoToken.status, 403);
  // a body is not read
  const post = await fetch(`${hub.url}/api/prds`, {
    method: 'POST', headers: { Origin: OTHER, Authorization: `Bearer ${tok}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ title: 'never created' }),
  });
  assert.equal(post.status, 403);

  const allowed = await fetch(`${hub.url}/api/prds`, { headers: { Origin: ALLOWED, Authorization: `Bearer ${tok}` } });
  assert.equal(allowed.status, 200);
  assert.equal(allowed.headers.get('access-control-allow-origin'), ALLOWED);
  assert.match(allowed.headers.get('vary') ?? '', /Origin/);

  const preflight = await fetch(`${hub.url}/api/prds`, {
    method: 'OPTIONS',
    headers: { Origin: ALLOWED, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, content-type' },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-origin'), ALLOWED);
  assert.match(preflight.headers.get('access-control-allow-methods'), /POST/);
  assert.equal(preflight.headers.get('access-control-allow-headers'), 'authorization, content-type');
  const otherPreflight = await fetch(`${hub.url}/api/prds`, {
    method: 'OPTIONS', headers: { Origin: OTHER, 'Access-Control-Request-Method': 'POST' },
  });
  assert.equal(otherPreflight.status, 403);

  // the hub's own address is not cross-origin; no Origin is not a browser
  const same = await fetch(`${hub.url}/api/prds`, { headers: { Origin: hub.url, Authorization: `Bearer ${tok}` } });
  assert.equal(same.status, 200);
  const none = await fetch(`${hub.url}/api/prds`, { headers: { Authorization: `Bearer ${tok}` } });
  assert.equal(none.status, 200);
  assert.equal(none.headers.get('access-control-allow-origin'), null);
});
