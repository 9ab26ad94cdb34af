// SPDX-License-Identifier: GPL-3.0-or-later
//
// REST reads are rate-limited per user ([rate-limit] rest-read), apart from
// writes, and requests without a token are not counted; the diff route
// compares versions of at most 10000 lines and 1 MiB (docs/protocol.md,
// "REST API").

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, token } from './helpers/hub.js';
import { rest, createPrd, user } from './collab-helpers.js';

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
