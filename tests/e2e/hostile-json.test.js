// SPDX-License-Identifier: GPL-3.0-or-later
//
// Hostile JSON (issue 9, items 1 and 10b): REST bodies go through the
// hub's one strict JSON reader with its depth limit; what is not JSON, and a
// string holding U+0000 or an unpaired surrogate, is 400 INVALID_PAYLOAD and
// changes nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHub } from './helpers/hub.js';
import { rest } from './collab-helpers.js';

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
