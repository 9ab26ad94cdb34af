// SPDX-License-Identifier: GPL-3.0-or-later
//
// REST reads are rate-limited per user ([rate-limit] rest-read), apart from
// writes, and requests without a token are not counted; the diff route
// compares versions of at most 10000 lines and 1 MiB (docs/protocol.md,
// "REST API").

import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startHub, token } from './helpers/hub.js';
import { rest, createPrd, user, client, join, request, bump } from './collab-helpers.js';

test('GETs of one user past rest-read get 429 RATE_LIMITED with Retry-After', async () => {
  const hub = await startHub({ config: '[rate-limit]\nrest-read = 5/60\n' });
  try {
    const prdId = await createPrd(hub, 'Read me', 'text\n');
    const alice = token(user('user_a'));
    for (let i = 0; i < 5; i++) {
      const res = await rest(hub, 'GET', `/api/prds/${prdId}`, { tok: alice });
      assert.equal(res.status, 200, res.text);
    }
    const refused = await rest(hub, 'GET', `/api/prds/${prdId}/versions`, { tok: alice });
    assert.equal(refused.status, 429, refused.text);
    assert.equal(refused.json.code, 'RATE_LIMITED');
    assert.match(refused.json.message, /at most 5 in 60 seconds/);
    const retry = Number(refused.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 60, String(retry));
    const head = await rest(hub, 'HEAD', `/api/prds/${prdId}`, { tok: alice });
    assert.ok(head.status === 429 || head.status === 405, String(head.status));

    // Writes have their own count; so does another user.
    const write = await rest(hub, 'PATCH', `/api/prds/${prdId}`, { tok: alice, body: { title: 'Renamed' } });
    assert.equal(write.status, 200, write.text);
    const bob = await rest(hub, 'GET', `/api/prds/${prdId}`, { tok: token(user('user_b')) });
    assert.equal(bob.status, 200, bob.text);
    assert.equal(bob.json.title, 'Renamed');

    // Without a token: not counted.
    for (let i = 0; i < 10; i++) {
      const health = await rest(hub, 'GET', '/healthz', { tok: null });
      assert.equal(health.status, 200, health.text);
    }
    const metrics = await rest(hub, 'GET', '/metrics', { tok: null });
    assert.match(metrics.text, /rest-read/);
  } finally {
    await hub.stop();
  }
});

test('a new PRD\'s content counts against rest like a content-update\'s insert (insert-units-per-event)', async () => {
  const hub = await startHub({ config: '[rate-limit]\nrest = 10/60\n[collab]\ninsert-units-per-event = 100\n' });
  try {
    const alice = token(user('user_a'));
    const create = (content) => rest(hub, 'POST', '/api/prds', { tok: alice, body: { title: 'T', content } });
    // 99 units: below one event's worth, the request alone is counted.
    assert.equal((await create('x'.repeat(99))).status, 201);
    // 450 units: 4 more events, counted once the PRD exists.
    const big = await create('y'.repeat(450));
    assert.equal(big.status, 201, big.text);
    const read = await rest(hub, 'GET', `/api/prds/${big.json.id}`, { tok: alice });
    assert.equal(read.json.content, 'y'.repeat(450));
    // 10 - 1 - 1 - 4: four writes left.
    for (let i = 0; i < 4; i++) assert.equal((await create(undefined)).status, 201);
    const refused = await create(undefined);
    assert.equal(refused.status, 429, refused.text);
    assert.equal(refused.json.code, 'RATE_LIMITED');
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    // Another user's budget is their own. Counted when the request is let
    // in: of a burst of 450-unit creations (5 each), two fit in 10.
    const carol = token(user('user_c'));
    const burst = await Promise.all(Array.from({ length: 5 }, () =>
      rest(hub, 'POST', '/api/prds', { tok: carol, body: { title: 'C', content: 'z'.repeat(450) } })));
    assert.deepEqual(burst.map((r) => r.status).sort(), [201, 201, 429, 429, 429]);
  } finally {
    await hub.stop();
  }
});

test('the diff route refuses versions over 10000 lines with LIMIT_REACHED', async () => {
  const hub = await startHub();
  try {
    const big = Array.from({ length: 10001 }, (_, i) => `${i}`).join('\n') + '\n';
    const prdId = await createPrd(hub, 'Long', big);
    const small = await createPrd(hub, 'Short', 'one\n');
    for (const id of [prdId, small]) {
      for (const force of [false, true]) {
        const v = await rest(hub, 'POST', `/api/prds/${id}/versions`, { body: { changelog: 'v', force } });
        assert.equal(v.status, 201, v.text);
      }
    }
    const res = await rest(hub, 'GET', `/api/prds/${prdId}/diff?from=0.2.0&to=0.3.0`);
    assert.equal(res.status, 422, res.text);
    assert.equal(res.json.code, 'LIMIT_REACHED');
    assert.match(res.json.message, /10001 lines/);
    const ok = await rest(hub, 'GET', `/api/prds/${small}/diff?from=0.2.0&to=0.3.0`);
    assert.equal(ok.status, 200, ok.text);
  } finally {
    await hub.stop();
  }
});

// A JSON body is counted before any route builds a tree of it: more than
// 4096 values is 413 PAYLOAD_TOO_LARGE, and nothing is created.
test('a request body of more than 4096 JSON values is refused 413 before any route reads it', async () => {
  const hub = await startHub();
  try {
    const alice = token(user('values_a'));
    const body = { title: 'Many values', content: 'x', extra: new Array(5000).fill(0) };
    const refused = await rest(hub, 'POST', '/api/prds', { body, tok: alice });
    assert.equal(refused.status, 413, refused.text);
    assert.equal(refused.json.code, 'PAYLOAD_TOO_LARGE');
    assert.match(refused.json.message, /5004 JSON values, more than a request may \(4096\)/);
    const list = await rest(hub, 'GET', '/api/prds', { tok: alice });
    assert.deepEqual(list.json.prds.map((p) => p.title), []);
    // within the cap, the route reads it (and ignores what it does not know)
    const ok = await rest(hub, 'POST', '/api/prds', { body: { ...body, extra: new Array(4000).fill(0) }, tok: alice });
    assert.equal(ok.status, 201, ok.text);
  } finally {
    await hub.stop();
  }
});

// Routes without a bearer token count the values of their bodies too (a
// sign-in, a webhook: anybody can send them), and a sign-in's body is no
// larger than a link can make it: 16384 bytes (twice the longest token).
test('without a token too: more than 4096 JSON values is 413; a sign-in body is at most 16384 bytes', async () => {
  const hub = await startHub();
  try {
    // {link, pad: [n values]}: n + 3 values
    const signIn = (n) => rest(hub, 'POST', '/api/sign-in', { tok: null, body: { link: 'x', pad: new Array(n).fill(0) } });
    let res = await signIn(4094);
    assert.equal(res.status, 413, res.text);
    assert.equal(res.json.code, 'PAYLOAD_TOO_LARGE');
    assert.match(res.json.message, /4097 JSON values, more than a request may \(4096\)/);
    res = await signIn(4093);
    assert.equal(res.status, 401, res.text);
    assert.equal(res.json.code, 'AUTHENTICATION_FAILED');
    // a webhook is counted before its signature is checked
    res = await rest(hub, 'POST', '/api/integrations/jira/webhook?org=org_a',
      { tok: null, body: { webhookEvent: 'jira:issue_updated', pad: new Array(5000).fill(0) } });
    assert.equal(res.status, 413, res.text);
    assert.equal(res.json.code, 'PAYLOAD_TOO_LARGE');

    // The size, at its edge: {"link":"x","pad":"…"} of 16384 bytes is read,
    // one byte more is refused from the headers.
    const sized = (bytes) => {
      const frame = JSON.stringify({ link: 'x', pad: '' });
      return JSON.stringify({ link: 'x', pad: 'p'.repeat(bytes - frame.length) });
    };
    const post = (raw) => rest(hub, 'POST', '/api/sign-in',
      { tok: null, raw, headers: { 'content-type': 'application/json' } });
    assert.equal(sized(16384).length, 16384);
    res = await post(sized(16384));
    assert.equal(res.status, 401, res.text);
    res = await post(sized(16385));
    assert.equal(res.status, 413, res.text);
    assert.equal(res.json.code, 'PAYLOAD_TOO_LARGE');
    assert.match(res.json.message, /limited to 16384 bytes/);
    // the limit of the other routes stays (2 MiB)
    res = await rest(hub, 'POST', '/api/prds', { raw: 'x'.repeat(16385), headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json.code, 'INVALID_PAYLOAD');
  } finally {
    await hub.stop();
  }
});

// The hub keeps the text of the last PRDs read (a burst of readers costs one
// copy): an edit, a rename or the room's closing must still show in the next
// read, and every character must read back as it was written.
test('GET /api/prds/{id} and export.md show every change after a read', async () => {
  const hub = await startHub({ config: '[collab]\nempty-room-grace = 0\n' });
  const owner = user('reader_owner');
  const sockets = [];
  try {
    const odd = 'Tab\there "quoted" back\\slash\u0001\u001f é ✓ 😀\n';
    const prdId = await createPrd(hub, 'Kept text', odd, owner);
    const read = async () => {
      const page = await rest(hub, 'GET', `/api/prds/${prdId}`, { tok: token(owner) });
      const md = await rest(hub, 'GET', `/api/prds/${prdId}/export.md`, { tok: token(owner) });
      assert.equal(page.status, 200, page.text);
      assert.equal(md.status, 200, md.text);
      assert.match(page.headers.get('content-type'), /^application\/json/);
      assert.match(md.headers.get('content-type'), /^text\/markdown/);
      assert.equal(md.text, page.json.content);
      return page.json;
    };
    let prd = await read();
    assert.equal(prd.content, odd);
    assert.equal(prd.title, 'Kept text');
    assert.deepEqual(await read(), prd);

    const a = await client(hub, owner);
    sockets.push(a);
    const j = await join(a, prdId);
    assert.deepEqual(await read(), prd);
    const ack = await request(a, 'content-update', {
      prdId, operation: { type: 'insert', position: 0, content: 'New ' },
      stateVector: bump(j.vector, j.siteId),
    });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    prd = await read();
    assert.equal(prd.content, `New ${odd}`);
    assert.deepEqual(prd.stateVector, bump(j.vector, j.siteId));

    const renamed = await rest(hub, 'PATCH', `/api/prds/${prdId}`,
      { body: { title: 'Renamed' }, tok: token(owner) });
    assert.equal(renamed.status, 200, renamed.text);
    prd = await read();
    assert.equal(prd.title, 'Renamed');
    assert.equal(prd.content, `New ${odd}`);

    // The room closes: the text is built from the store, the same.
    await request(a, 'leave-prd', { prdId });
    const closed = await read();
    assert.deepEqual({ ...closed, updatedAt: 0 }, { ...prd, updatedAt: 0 });

    // More PRDs read in turn than the hub keeps texts of: each its own.
    const many = [];
    for (let i = 0; i < 20; i++) many.push([await createPrd(hub, `Many ${i}`, `text ${i}\n`, owner), i]);
    for (let round = 0; round < 2; round++) {
      for (const [id, i] of many) {
        const page = await rest(hub, 'GET', `/api/prds/${id}`, { tok: token(owner) });
        const md = await rest(hub, 'GET', `/api/prds/${id}/export.md`, { tok: token(owner) });
        assert.equal(page.json.content, `text ${i}\n`);
        assert.equal(md.text, `text ${i}\n`);
      }
    }
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

// A browser's disk cache keeps what it may (audit e1, t3: a PRD's text and
// its export.md, read by the SDK, were found in Chromium's Cache_Data after
// it closed): every answer says no-store, success or error, the sign-in's
// token and the notifications included; the web editor's files keep their
// own caching.
test('every REST answer, success or error, carries Cache-Control: no-store', async () => {
  const hub = await startHub();
  try {
    const prdId = await createPrd(hub, 'Private', 'secret text\n');
    const answers = [
      ['POST', '/api/prds', { body: { title: 'Another' } }, 201],
      ['GET', `/api/prds/${prdId}`, {}, 200],
      ['GET', `/api/prds/${prdId}/export.md`, {}, 200],
      ['GET', `/api/prds/${prdId}/versions`, {}, 200],
      ['GET', '/api/prds', {}, 200],
      ['GET', '/api/notifications', {}, 200],
      ['POST', '/api/notifications/read', { body: { ids: [] } }, 400],
      ['POST', '/api/sign-in', { tok: null, body: { link: token({ sign_in_link: crypto.randomUUID() }) } }, 200],
      ['POST', '/api/sign-in', { tok: null, body: { link: 'not a token' } }, 401],
      ['GET', '/api/prds/prd_nope', {}, 404],
      ['GET', `/api/prds/${prdId}`, { tok: null }, 401],
      ['GET', '/api/prds?limit=0', {}, 400],
      ['DELETE', '/api/nowhere', {}, 404],
      ['GET', '/healthz', { tok: null }, 200],
      ['GET', '/metrics', { tok: null }, 200],
    ];
    for (const [method, path, opts, status] of answers) {
      const res = await rest(hub, method, path, opts);
      assert.equal(res.status, status, `${method} ${path}: ${res.text}`);
      assert.equal(res.headers.get('cache-control'), 'no-store', `${method} ${path}`);
    }
    // The web editor's page and bundle have their own (prd-hub-web.c).
    const page = await fetch(`${hub.url}/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    await page.arrayBuffer();
  } finally {
    await hub.stop();
  }
});

// A read of a PRD another organization has open takes the path of an
// unknown id: the read queue (and its 429 when full), not the open room at
// once, whose answer told which ids were another organization's open PRDs.
// The queue is one long (max-queued-loads = 1) and kept full by org_b's
// reads of its own PRDs nobody has open; a 429 can then only come from the
// queue, which the old hub never put such a read in.
test('a read of another organization\'s open PRD waits in the read queue as an unknown id does', async () => {
  const hub = await startHub({ config: '[rate-limit]\nrest-read = 1000000/60\nrest = 1000000/60\n[collab]\nmax-queued-loads = 1\n' });
  const a = await client(hub, user('user_a', { org: 'org_a' }));
  let stop = false;
  try {
    const big = 'word '.repeat(200000);
    const secret = await createPrd(hub, 'Open elsewhere', big, user('user_a', { org: 'org_a' }));
    await join(a, secret);
    const tb = token(user('user_b', { org: 'org_b' }));
    const own = [];
    for (let i = 0; i < 3; i++) own.push(await createPrd(hub, `Own ${i}`, big, user('user_b', { org: 'org_b' })));
    let full = 0;
    const keep = async (i) => {
      while (!stop) {
        const res = await rest(hub, 'GET', `/api/prds/${own[i % 3]}`, { tok: tb });
        if (res.status === 429) full++;
      }
    };
    const workers = [];
    for (let i = 0; i < 8; i++) workers.push(keep(i));
    const unknown = `${secret.slice(0, -4)}zzzz`;
    const seen = { open: {}, unknown: {} };
    for (let i = 0; i < 40 && !(seen.open[429] && seen.unknown[429]); i++) {
      const [o, u] = await Promise.all([
        rest(hub, 'GET', `/api/prds/${secret}`, { tok: tb }),
        rest(hub, 'GET', `/api/prds/${unknown}`, { tok: tb }),
      ]);
      for (const [k, res] of [['open', o], ['unknown', u]]) {
        assert.ok(res.status === 404 || res.status === 429, `${k}: ${res.status} ${res.text}`);
        if (res.status === 404) assert.equal(res.json.message, `No PRD ${k === 'open' ? secret : unknown}`);
        seen[k][res.status] = (seen[k][res.status] ?? 0) + 1;
      }
    }
    stop = true;
    await Promise.all(workers);
    assert.ok(full > 0, 'org_b\'s own reads never filled the queue');
    assert.ok(seen.unknown[429] > 0, `unknown ids: ${JSON.stringify(seen.unknown)}`);
    assert.ok(seen.open[429] > 0, `another organization's open PRD never waited in the queue: ${JSON.stringify(seen.open)}`);
  } finally {
    stop = true;
    a.close();
    await hub.stop();
  }
});
