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
import { client, request, join, user, rest, createPrd, once, bump } from './collab-helpers.js';

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

    // Within the 0..4294967295 bound a presence position past the end is
    // taken as the end (the corpus has the refusals above the bound).
    for (const presence of [{ cursorPosition: 4294967295 }, { selection: { start: 0, end: 4294967295 } }]) {
      const ack = await request(s, 'presence-update', { prdId, status: 'editing', ...presence });
      assert.equal(ack.ok, true, JSON.stringify(ack));
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

// content-update is read without a tree when it has the protocol's shape
// (src/hub/prd-hub-collab.c); anything else is read as a tree. Unusual but
// valid JSON must mean what it means as a tree: escaped member names, a
// member given twice (the last counts), unknown members, null timestamps,
// escapes in the text, more arguments. A refusal reads the same either way.
test('content-update written unusually is read as JSON means it', async () => {
  const hub = await startHub({ config: '[rate-limit]\ndefault=1000/10\n' });
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Unusual', TEXT);
    const s = await client(hub, user('user_unusual'));
    const other = await client(hub, user('user_other'));
    sockets.push(s, other);
    let { siteId, vector } = await join(s, prdId);
    await join(other, prdId);
    const errors = [];
    s.on('error', (e) => errors.push(e));

    const id = JSON.stringify(prdId);
    const cases = [
      ['escaped member names', (v) =>
        `["content-update",{"prd\\u0049d":${id},"operation":{"typ\\u0065":"insert","position":0,` +
        `"content":"A"},"stateVector":${v}}]`, 'A'],
      ['a member twice', (v) =>
        `["content-update",{"prdId":${id},"operation":{"type":"insert","position":0,` +
        `"content":"X","content":"B"},"stateVector":${v}}]`, 'B'],
      ['white space, unknown members, null timestamp, more arguments', (v) =>
        `[ "content-update" , { "note" : [1,{"a":"}]"}], "prdId" : ${id} , "operation" : ` +
        `{ "extra": null, "type" : "insert" , "position" : 0 , "content" : "C" , ` +
        `"timestamp" : null } , "stateVector" : ${v} } , 42 ]`, 'C'],
      ['escapes in the text', (v) =>
        `["content-update",{"prdId":${id},"operation":{"type":"insert","position":0,` +
        `"content":"\\u00e9\\n\\ud83d\\ude00\\"\\\\\\/","timestamp":1},"stateVector":${v}}]`,
      'é\n😀"\\/'],
      ['prdId twice', (v) =>
        `["content-update",{"prdId":"prd_elsewhere","prdId":${id},"operation":{"type":"insert",` +
        `"position":0,"content":"D"},"stateVector":${v}}]`, 'D'],
      ['stateVector twice', (v) =>
        `["content-update",{"stateVector":[9,9],"prdId":${id},"operation":{"type":"insert",` +
        `"position":0,"content":"E"},"stateVector":${v}}]`, 'E'],
      ['an escaped event name', (v) =>
        `["content-upd\\u0061te",{"prdId":${id},"operation":{"type":"delete","position":0,` +
        `"length":1},"stateVector":${v}}]`, null],
    ];
    let expected = TEXT;
    for (const [what, packet, content] of cases) {
      vector = bump(vector, siteId);
      const got = once(other, 'content-update');
      s.io.engine.write(`2/prds,${packet(JSON.stringify(vector))}`);
      const { args: [update] } = await got;
      if (content === null) {
        assert.deepEqual(update.operation.type, 'delete', what);
        expected = expected.slice(1);
      } else {
        assert.equal(update.operation.content, content, what);
        expected = content + expected;
      }
      assert.equal((await rest(hub, 'GET', `/api/prds/${prdId}`)).json.content, expected, what);
    }
    assert.deepEqual(errors, []);

    // The same refusal, read without a tree and read as one.
    const stale = JSON.stringify(vector);
    const refusals = [
      `["content-update",{"prdId":${id},"operation":{"type":"insert","position":0,` +
        `"content":"Z"},"stateVector":${stale}}]`,
      `["content-update",{"prd\\u0049d":${id},"operation":{"type":"insert","position":0,` +
        `"content":"Z"},"stateVector":${stale}}]`,
    ];
    const answers = [];
    for (const packet of refusals) {
      const refused = once(s, 'error');
      s.io.engine.write(`2/prds,${packet}`);
      const { args: [err] } = await refused;
      answers.push({ code: err.code, message: err.message, event: err.event });
    }
    assert.equal(answers[0].code, 'OPERATION_ID_REUSED', JSON.stringify(answers[0]));
    assert.deepEqual(answers[1], answers[0]);
    assert.equal((await rest(hub, 'GET', `/api/prds/${prdId}`)).json.content, expected);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

// An event the hub has no handler for is refused UNKNOWN_EVENT, and the
// `error` event names it in `event` as the other refusals do. The name is
// the client's, as long as a payload may be: both `message` and `event`
// quote at most its first 64 characters (code points), then `…`; so does
// the `event` of every other refusal.
test('an unknown event is refused naming it, cut to 64 characters', async () => {
  const hub = await startHub();
  const s = await client(hub, user('user_unknown'));
  try {
    const cut = (name) => ([...name].length > 64 ? `${[...name].slice(0, 64).join('')}…` : name);
    for (const name of ['no-such-event', 'x'.repeat(64), 'x'.repeat(65), '😀é'.repeat(40),
      'y'.repeat(100000)]) {
      const shown = cut(name);
      const errorEvent = once(s, 'error');
      const ack = await request(s, name, {});
      assert.equal(ack.error?.code, 'UNKNOWN_EVENT', JSON.stringify(ack).slice(0, 200));
      assert.equal(ack.error.message, `Unknown event '${shown}'`);
      const { args: [err] } = await errorEvent;
      assert.equal(err.code, 'UNKNOWN_EVENT');
      assert.equal(err.event, shown);
      assert.equal(err.message, `Unknown event '${shown}'`);
      assert.ok(!Number.isNaN(Date.parse(err.timestamp)));
    }
    // A name no UTF-8 can hold (an unpaired surrogate) is refused before
    // its handler is looked for, and the answer is still JSON.
    const errorEvent = once(s, 'error');
    const ack = await request(s, 'bad\ud800name', {});
    assert.equal(ack.error?.code, 'INVALID_PAYLOAD');
    const { args: [err] } = await errorEvent;
    assert.equal(err.code, 'INVALID_PAYLOAD');
    assert.equal(typeof err.event, 'string');
    // Any refusal cuts the name it quotes, not only UNKNOWN_EVENT's.
    const longBad = once(s, 'error');
    await request(s, `bad\ud800${'z'.repeat(100000)}`, {});
    const { args: [errLong] } = await longBad;
    assert.equal(errLong.code, 'INVALID_PAYLOAD');
    assert.ok([...errLong.event].length <= 65, `event of ${errLong.event.length} units`);
    assert.ok(errLong.event.endsWith('…'));
    // The connection is still usable.
    assert.equal((await request(s, 'no-such-event', {})).error.code, 'UNKNOWN_EVENT');
  } finally {
    s.close();
    await hub.stop();
  }
});
