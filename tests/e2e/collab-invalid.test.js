// SPDX-License-Identifier: GPL-3.0-or-later
//
// Replays the malformed-payload corpus (tests/data/prds-invalid): each case
// is answered with its code, both in the ack and in the `error` event, and
// changes nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHub } from './helpers/hub.js';
import { client, request, join, user, rest, createPrd, once } from './collab-helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const corpus = path.resolve(here, '..', 'data', 'prds-invalid');
const TEXT = '😀 abc';

function substitute(value, vars) {
  if (typeof value === 'string') return value in vars ? vars[value] : value;
  if (Array.isArray(value)) return value.map((v) => substitute(v, vars));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, vars)]));
  return value;
}

test('every malformed /prds payload is answered with its code and changes nothing', async () => {
  const hub = await startHub({ config: '[collab]\nmax-operation-size=64\n[rate-limit]\ndefault=1000/10\n' });
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Corpus', TEXT);
    const s = await client(hub, user('user_corpus'));
    const other = await client(hub, user('user_other'));
    sockets.push(s, other);
    const { siteId, vector } = await join(s, prdId);
    await join(other, prdId);
    const next = vector.slice();
    while (next.length <= siteId) next.push(0);
    next[siteId] += 1;
    const gap = next.slice();
    gap[siteId] += 1;
    const ahead = next.slice();
    ahead[0] += 5;
    const vars = { $PRD: prdId, $VEC: next, $GAP: gap, $AHEAD: ahead, $BIG: 'x'.repeat(65) };

    const files = fs.readdirSync(corpus).filter((f) => f.endsWith('.json')).sort();
    assert.ok(files.length >= 40, 'the corpus is there');
    let othersGot = 0;
    other.on('content-update', () => othersGot++);
    for (const file of files) {
      const { event, payload, code } = JSON.parse(fs.readFileSync(path.join(corpus, file), 'utf8'));
      if (process.env.CORPUS_TRACE) console.error(file);
      const errorEvent = once(s, 'error');
      const ack = await request(s, event, substitute(payload, vars));
      assert.equal(ack.ok, undefined, `${file}: refused`);
      assert.equal(ack.error?.code, code, `${file}: ${JSON.stringify(ack)}`);
      assert.equal(typeof ack.error.message, 'string');
      const { args: [err] } = await errorEvent;
      assert.equal(err.code, code, file);
      assert.equal(err.event, event, file);
      assert.ok(!Number.isNaN(Date.parse(err.timestamp)), file);
    }

    // Nothing changed: the text, and the sender's next operation is still `next`.
    assert.equal((await rest(hub, 'GET', `/api/prds/${prdId}`)).json.content, TEXT);
    assert.equal(othersGot, 0);
    const ok = await request(s, 'content-update', {
      prdId, operation: { type: 'insert', position: 2, content: '!', timestamp: Date.now() },
      stateVector: next,
    });
    assert.equal(ok.ok, true, JSON.stringify(ok));
    assert.equal((await rest(hub, 'GET', `/api/prds/${prdId}`)).json.content, '😀! abc');
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});
