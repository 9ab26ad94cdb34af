// SPDX-License-Identifier: GPL-3.0-or-later
//
// Hostile JSON (issue 9, items 1, 8 and 10b; docs/protocol.md, "JSON
// input"): every JSON text goes through one strict reader with a depth
// limit, and a string holding U+0000 or an unpaired surrogate is answered
// with INVALID_PAYLOAD, over REST and on sockets, changing nothing and
// leaving the connection open.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHub } from './helpers/hub.js';
import { client, request, join, user, rest, createPrd, once, bump } from './collab-helpers.js';

const TEXT = 'Hello 😀 world\n';

async function prdCount(hub) {
  const res = await rest(hub, 'GET', '/api/prds');
  assert.equal(res.status, 200, res.text);
  return res.json.prds.length;
}

async function assertRefused(res, what) {
  assert.equal(res.status, 400, `${what}: ${res.status} ${res.text}`);
  assert.equal(res.json?.code, 'INVALID_PAYLOAD', `${what}: ${res.text}`);
  assert.equal(typeof res.json.message, 'string');
}

test('REST: deep nesting, non-JSON and unusable strings are 400 INVALID_PAYLOAD', async () => {
  const hub = await startHub();
  try {
    const json = { 'content-type': 'application/json' };
    const cases = [
      ['100,000 [', '['.repeat(100000)],
      ['100,000 { "a":', '{"a":'.repeat(100000)],
      ['65 levels', `{"title":"t","content":${'['.repeat(64)}${']'.repeat(64)}}`],
      ['single quotes', "{'title':'t'}"],
      ['a comment', '{"title":"t"} // c'],
      ['trailing garbage', '{"title":"t"}x'],
      ['\\u0000 in content', '{"title":"t","content":"abc\\u0000def"}'],
      ['\\u0000 in title', '{"title":"a\\u0000b"}'],
      ['lone high surrogate', '{"title":"t","content":"abc\\ud800def"}'],
      ['lone low surrogate', '{"title":"t","content":"\\udc00"}'],
      ['high surrogate before a letter', '{"title":"t","content":"\\ud800\\u0041"}'],
      ['\\u0000 in a member name', '{"title":"t","\\u0000":1}'],
    ];
    for (const [what, raw] of cases) {
      await assertRefused(await rest(hub, 'POST', '/api/prds', { raw, headers: json }), what);
      // the hub is still alive and serving
      assert.equal((await rest(hub, 'GET', '/healthz', { tok: null })).status, 200, what);
    }
    assert.equal(await prdCount(hub), 0, 'no PRD was created');

    // 64 levels deep is fine (the value is refused for its type, not its depth)
    const deep = await rest(hub, 'POST', '/api/prds', {
      raw: `{"title":"t","content":${'['.repeat(63)}${']'.repeat(63)}}`, headers: json,
    });
    assert.equal(deep.status, 400);
    assert.equal(deep.json.code, 'INVALID_PAYLOAD');
    assert.match(deep.json.message, /content/);

    // and a well-formed body with an escaped pair is a PRD with that text
    const ok = await rest(hub, 'POST', '/api/prds', {
      raw: '{"title":"t","content":"a\\ud83d\\ude00b"}', headers: json,
    });
    assert.equal(ok.status, 201, ok.text);
    assert.equal((await rest(hub, 'GET', `/api/prds/${ok.json.id}`)).json.content, 'a😀b');
    assert.equal(hub.proc.exitCode, null);
    assert.equal(hub.proc.signalCode, null);
  } finally {
    await hub.stop();
  }
});

test('sockets: U+0000 and unpaired surrogates are INVALID_PAYLOAD and the session stays', async () => {
  const hub = await startHub({ config: '[rate-limit]\ndefault=1000/10\n' });
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Hostile', TEXT);
    const s = await client(hub, user('user_hostile'));
    const other = await client(hub, user('user_other'));
    sockets.push(s, other);
    const { siteId, vector } = await join(s, prdId);
    await join(other, prdId);
    let othersGot = 0;
    for (const e of ['content-update', 'comment-added']) other.on(e, () => othersGot++);
    let disconnected = false;
    s.on('disconnect', () => { disconnected = true; });
    const next = bump(vector, siteId);

    const bad = ['abc\u0000def', '\ud800', 'x\udc00y', '\ud800A', '\ude00\ud83d'];
    const payloads = [];
    for (const str of bad) {
      payloads.push(['add-comment', { prdId, position: 0, content: str }]);
      payloads.push(['content-update', {
        prdId, operation: { type: 'insert', position: 0, content: str, timestamp: Date.now() },
        stateVector: next,
      }]);
      payloads.push(['presence-update', { prdId, status: str }]);
      payloads.push(['ping', { note: [[{ deep: str }]] }]);
      payloads.push([str, {}]); // in the event name itself
    }
    for (const [event, payload] of payloads) {
      const what = `${JSON.stringify(event)} ${JSON.stringify(payload)}`;
      // with an ack: the ack's error, and the error event naming the event
      const errorEvent = once(s, 'error');
      const ack = await request(s, event, payload);
      assert.equal(ack.ok, undefined, what);
      assert.equal(ack.error?.code, 'INVALID_PAYLOAD', `${what}: ${JSON.stringify(ack)}`);
      assert.equal(typeof ack.error.message, 'string');
      const { args: [err] } = await errorEvent;
      assert.equal(err.code, 'INVALID_PAYLOAD', what);
      assert.ok(!Number.isNaN(Date.parse(err.timestamp)), what);
      if (!/[\u0000\ud800-\udfff]/.test(event)) assert.equal(err.event, event, what);

      // without an ack: the error event
      const plain = once(s, 'error');
      s.emit(event, payload);
      assert.equal((await plain).args[0].code, 'INVALID_PAYLOAD', what);

      // the same socket still answers
      const pong = once(s, 'pong');
      assert.deepEqual(await request(s, 'ping'), { ok: true }, what);
      await pong;
      assert.equal(s.connected, true, what);
    }
    assert.equal(disconnected, false);

    // Nothing changed: the text, the comments, and the sender's next
    // operation is still `next`.
    assert.equal((await rest(hub, 'GET', `/api/prds/${prdId}`)).json.content, TEXT);
    assert.deepEqual((await rest(hub, 'GET', `/api/prds/${prdId}/comments`)).json.comments, []);
    assert.equal(othersGot, 0);
    const ok = await request(s, 'content-update', {
      prdId, operation: { type: 'insert', position: 0, content: '>', timestamp: Date.now() },
      stateVector: next,
    });
    assert.equal(ok.ok, true, JSON.stringify(ok));
    assert.equal((await rest(hub, 'GET', `/api/prds/${prdId}`)).json.content, '>' + TEXT);

    // a packet that is not JSON at all still ends the session, as before
    const gone = once(s, 'disconnect');
    s.io.engine.write('2/prds,["ping",{\'a\':1}]');
    assert.equal((await gone).args[0], 'transport close');
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('sockets: an auth object with U+0000 is a connect_error, the session stays open', async () => {
  const hub = await startHub();
  try {
    const s = await client(hub, user('user_auth'));
    const manager = s.io;
    const sub = manager.socket('/', { auth: { token: 'a\u0000b' } });
    sub.connect();
    const { event, args } = await once(sub, ['connect', 'connect_error']);
    assert.equal(event, 'connect_error');
    assert.equal(args[0].data?.code, 'INVALID_PAYLOAD', JSON.stringify(args[0].data));
    sub.close();
    assert.deepEqual(await request(s, 'ping'), { ok: true });
    s.close();
  } finally {
    await hub.stop();
  }
});
