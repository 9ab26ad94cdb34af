// SPDX-License-Identifier: GPL-3.0-or-later
//
// AI jobs on /prds (docs/protocol.md, "AI help") against a real prdhub
// pointed at the scripted OpenAI-compatible test server: the event sequence
// and shapes, the text written into the PRD for everyone, typing at the
// anchor while the AI streams, quota, cancel, concurrency, restart, a hub
// that stops or dies under a job (ai-error INTERRUPTED, ai-job-status, the
// SDK's whenAiJobDone()), and the provider's failures.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { PRDHUB_BIN, startHub, tmpDir, token } from './helpers/hub.js';
import {
  client, request, join, bump, once, user, createPrd, recorder, until, rest,
} from './collab-helpers.js';
import { startAiServer, startAiHub } from './ai-helpers.js';
import { sdkClient, SDK_HUB_CONFIG, until as untilTrue } from './sdk-helpers.js';

const JOB_RE = /^job_[0-9a-f]{24}$/;

async function contentOf(hub, prdId) {
  const s = await client(hub, user('reader'));
  try {
    const { joined } = await join(s, prdId, { mode: 'view' });
    return joined.initialState.content;
  } finally {
    s.close();
  }
}

function errorOf(events) {
  const e = events.find((x) => x.event === 'ai-error');
  return e && e.data;
}

test('without a provider every ai-prompt gets AI_NOT_CONFIGURED', async () => {
  const hub = await startHub({ config: '[collab]\nbatch-threshold=0\n' });
  try {
    const prdId = await createPrd(hub, 'No AI', '# PRD\n');
    const a = await client(hub, user('user_a'));
    await join(a, prdId);
    const err = once(a, 'ai-error');
    const ack = await request(a, 'ai-prompt', { prdId, prompt: 'Write something' });
    assert.equal(ack.error.code, 'AI_NOT_CONFIGURED');
    // Every ack's error is { code, message } (the event has the timestamp).
    assert.deepEqual(Object.keys(ack.error).sort(), ['code', 'message']);
    const { args: [e] } = await err;
    assert.equal(typeof e.error.timestamp, 'string');
    assert.equal(e.jobId, null);
    assert.equal(e.error.code, 'AI_NOT_CONFIGURED');
    assert.equal(typeof e.error.message, 'string');
    const review = await request(a, 'ai-review', { prdId });
    assert.equal(review.error.code, 'AI_NOT_CONFIGURED');
    assert.deepEqual(Object.keys(review.error).sort(), ['code', 'message']);
    assert.equal(await contentOf(hub, prdId), '# PRD\n');
    a.close();
  } finally {
    await hub.stop();
  }
});

test('the whole sequence: job, stream into the PRD for everyone, suggestions', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai);
  try {
    const initial = '# PRD\n\n## Technical Requirements\n\nNone yet.\n';
    const prdId = await createPrd(hub, 'Sequence', initial);
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    await join(a, prdId);
    await join(b, prdId);
    const seen = once(b, 'presence-update');
    await request(a, 'presence-update', { prdId, status: 'editing', cursorPosition: 3 });
    await seen;
    const names = ['ai-job-created', 'ai-stream-start', 'ai-stream-chunk', 'ai-stream-complete',
      'ai-error', 'content-update', 'presence-update'];
    const evA = recorder(a, names);
    const evB = recorder(b, names);
    const cursor = initial.length;

    const ack = await request(a, 'ai-prompt', {
      prdId,
      prompt: 'scenario:stream then:suggestions Add technical requirements for OAuth2',
      section: 'technical-requirements',
      context: { currentContent: initial, selectedText: 'None', cursorPosition: cursor },
    });
    assert.equal(ack.ok, true);
    assert.match(ack.jobId, JOB_RE);
    await until(a, () => evA.some((e) => e.event === 'ai-stream-complete'));
    await until(b, () => evB.some((e) => e.event === 'ai-stream-complete'));
    assert.equal(errorOf(evA), undefined);

    const created = evA.find((e) => e.event === 'ai-job-created').data;
    assert.equal(created.jobId, ack.jobId);
    assert.equal(created.prdId, prdId);
    assert.equal(created.userId, 'user_a');
    assert.equal(created.status, 'queued');
    assert.ok(Number.isInteger(created.estimatedTime) && created.estimatedTime > 0);
    assert.equal(created.position, 1);
    assert.equal(evB.filter((e) => e.event === 'ai-job-created').length, 0,
      'ai-job-created goes to the requester only');

    for (const ev of [evA, evB]) {
      const kinds = ev.filter((e) => e.event.startsWith('ai-')).map((e) => e.event);
      // Deltas arriving within [ai] chunk-interval of the last chunk are
      // merged: one to three chunks for the test server's three deltas.
      const middle = kinds.filter((k) => k !== 'ai-job-created');
      assert.equal(middle[0], 'ai-stream-start');
      assert.equal(middle.at(-1), 'ai-stream-complete');
      assert.ok(middle.length >= 3 && middle.length <= 5, JSON.stringify(middle));
      assert.ok(middle.slice(1, -1).every((k) => k === 'ai-stream-chunk'));
      const start = ev.find((e) => e.event === 'ai-stream-start').data;
      assert.deepEqual(start, { jobId: ack.jobId, prdId, userId: 'user_a',
        section: 'technical-requirements', insert: true });
      const chunks = ev.filter((e) => e.event === 'ai-stream-chunk').map((e) => e.data);
      assert.equal(chunks.map((c) => c.chunk).join(''), 'Hello, world \u2713');
      assert.equal(chunks[0].chunk.slice(0, 5), 'Hello');
      let at = cursor;
      for (const c of chunks) {
        assert.equal(c.jobId, ack.jobId);
        assert.equal(c.isComplete, false);
        assert.equal(c.position, at);
        at += c.chunk.length;
      }
      const done = ev.find((e) => e.event === 'ai-stream-complete').data;
      assert.equal(done.jobId, ack.jobId);
      assert.equal(done.fullResponse, 'Hello, world \u2713');
      assert.equal(done.tokensUsed, 15);
      assert.ok(Number.isInteger(done.duration) && done.duration >= 0);
      assert.deepEqual(done.suggestions,
        [{ type: 'diagram', description: 'Create sequence diagram for OAuth flow' }]);
    }
    // The inserts reach everyone as content-updates of the AI Assistant,
    // each after its commit.
    const written = evA.filter((e) => e.event === 'ai-stream-chunk').length;
    await until(a, () => evA.filter((e) => e.event === 'content-update').length === written);
    const updates = evA.filter((e) => e.event === 'content-update').map((e) => e.data);
    assert.equal(updates.length, written);
    for (const u of updates) {
      assert.equal(u.userId, 'ai');
      assert.equal(u.userName, 'AI Assistant');
      assert.equal(u.operation.type, 'insert');
    }
    // B saw A's status go to ai-prompting, then back. The way back is
    // emitted after ai-stream-complete, in a frame of its own: wait for it.
    const presenceOfA = () => evB
      .filter((e) => e.event === 'presence-update' && e.data.userId === 'user_a')
      .map((e) => e.data);
    await until(b, () => presenceOfA().length >= 2);
    assert.deepEqual(presenceOfA().map((p) => p.status), ['ai-prompting', 'editing']);
    // The hub changes the status only: A's cursor stays where A put it.
    const cursors = presenceOfA().map((p) => p.cursorPosition);
    assert.deepEqual(cursors, [3, 3]);

    const expected = initial + 'Hello, world \u2713';
    assert.equal(await contentOf(hub, prdId), expected);
    for (const s of [a, b]) {
      const sync = await request(s, 'sync-request', { prdId, stateVector: [] });
      assert.equal(sync.ok, true);
    }
    a.close();
    b.close();
  } finally {
    await hub.stop();
    await ai.stop();
  }
});

// ai-prompting belongs to the connection that asked: when that tab closes
// before the job ends, the user is shown with their remaining tab, and the
// job's end changes nothing for them.
test('a tab that asked the AI and closes takes ai-prompting with it', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai);
  try {
    const prdId = await createPrd(hub, 'Tabs', '# PRD\n\nNone yet.\n');
    const tab1 = await client(hub, user('user_a'));
    const tab2 = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    await join(tab1, prdId);
    await join(tab2, prdId);
    await join(b, prdId);
    const evB = recorder(b, ['presence-update', 'ai-stream-start', 'ai-stream-complete', 'ai-error']);
    const presenceOfA = () => evB
      .filter((e) => e.event === 'presence-update' && e.data.userId === 'user_a')
      .map((e) => e.data);
    const statusOfA = async () => (await rest(hub, 'GET', `/api/presence?prdIds=${prdId}`,
      { tok: token(user('user_b')) })).json.prds[prdId].find((u) => u.userId === 'user_a').status;
    await request(tab1, 'presence-update', { prdId, status: 'editing', cursorPosition: 3 });
    const ack = await request(tab2, 'ai-prompt', { prdId, prompt: 'scenario:gated go',
      context: { cursorPosition: 6 } });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await until(b, () => presenceOfA().some((p) => p.status === 'ai-prompting'));
    assert.equal(await statusOfA(), 'ai-prompting');

    tab2.close();
    // The tab that asked left: the others see the remaining tab.
    await until(b, () => presenceOfA().at(-1).status !== 'ai-prompting');
    assert.equal(presenceOfA().at(-1).status, 'editing');
    assert.equal(presenceOfA().at(-1).cursorPosition, 3);
    assert.equal(await statusOfA(), 'editing');

    ai.openGate();
    await until(b, () => evB.some((e) => e.event === 'ai-stream-complete' || e.event === 'ai-error'));
    assert.equal(await statusOfA(), 'editing');
    const c = await client(hub, user('user_c'));
    const { joined } = await join(c, prdId);
    assert.equal(joined.activeUsers.find((u) => u.userId === 'user_a').status, 'editing');
    for (const s of [tab1, b, c]) s.close();
  } finally {
    await hub.stop();
    await ai.stop();
  }
});

test('a connection with two jobs running stays ai-prompting until the last one ends', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai, { extra: 'concurrency=2\n' });
  try {
    const prdId = await createPrd(hub, 'Two jobs', '# PRD\n\nNone yet.\n');
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    await join(a, prdId);
    await join(b, prdId);
    const evB = recorder(b, ['presence-update', 'ai-stream-start', 'ai-stream-complete', 'ai-error']);
    const statusOfA = async () => (await rest(hub, 'GET', `/api/presence?prdIds=${prdId}`,
      { tok: token(user('user_b')) })).json.prds[prdId].find((u) => u.userId === 'user_a').status;
    const first = await request(a, 'ai-prompt', { prdId, prompt: 'scenario:gated one', insert: false });
    const second = await request(a, 'ai-prompt', { prdId, prompt: 'scenario:gated two', insert: false });
    assert.equal(first.ok && second.ok, true, JSON.stringify([first, second]));
    await until(b, () => evB.filter((e) => e.event === 'ai-stream-start').length === 2);
    assert.equal(await statusOfA(), 'ai-prompting');

    assert.equal((await request(a, 'ai-cancel', { jobId: first.jobId })).ok, true);
    await until(b, () => evB.some((e) => e.event === 'ai-error' && e.data.jobId === first.jobId));
    assert.equal(await statusOfA(), 'ai-prompting', 'the second job still runs');

    ai.openGate();
    await until(b, () => evB.some((e) => e.event === 'ai-stream-complete' || (e.event === 'ai-error'
      && e.data.jobId === second.jobId)));
    await until(b, () => evB.filter((e) => e.event === 'presence-update').at(-1)?.data.status === 'editing');
    assert.equal(await statusOfA(), 'editing');
    a.close();
    b.close();
  } finally {
    await hub.stop();
    await ai.stop();
  }
});

// The answer of the test server's `many` scenario: 400 one-character
// deltas in one write.
const MANY = Array.from({ length: 400 }, (_, i) => ['a', '\u00e9', '\u2713', '\u{1F600}'][i % 4]).join('');

// Checks the chunks of one job against its answer: whole characters, in
// order, each where the one before ended, together the answer.
function checkPieces(chunks, start, answer) {
  let at = start;
  for (const c of chunks) {
    assert.equal(c.isComplete, false);
    assert.equal(c.position, at);
    assert.ok(c.chunk.length > 0);
    assert.doesNotMatch(c.chunk, /^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/, 'a chunk splits a character');
    at += c.chunk.length;
  }
  assert.equal(chunks.map((c) => c.chunk).join(''), answer);
}

test('many tiny deltas arriving together are merged into few chunks, the text whole', async () => {
  const ai = await startAiServer();
  for (const extra of ['', 'chunk-interval=0\n', 'chunk-interval=1000\n']) {
    const hub = await startAiHub(ai, { extra });
    try {
      const initial = 'Start.\n';
      const prdId = await createPrd(hub, 'Many', initial);
      const a = await client(hub, user('user_a'));
      const b = await client(hub, user('user_b'));
      await join(a, prdId);
      await join(b, prdId);
      const evB = recorder(b, ['ai-stream-chunk', 'ai-stream-complete', 'ai-error', 'content-update']);
      for (const insert of [true, false]) {
        const ack = await request(a, 'ai-prompt', { prdId, prompt: 'scenario:many Write', insert,
          context: { cursorPosition: initial.length } });
        assert.equal(ack.ok, true, JSON.stringify(ack));
        const mine = (e) => e.data.jobId === ack.jobId;
        await until(b, () => evB.some((e) => mine(e) && e.event !== 'ai-stream-chunk'));
        assert.equal(errorOf(evB.filter(mine)), undefined);
        const chunks = evB.filter((e) => mine(e) && e.event === 'ai-stream-chunk').map((e) => e.data);
        assert.ok(chunks.length >= 1 && chunks.length < 400 / 4,
          `${chunks.length} ai-stream-chunks for 400 deltas (${extra.trim() || 'default'})`);
        checkPieces(chunks, initial.length, MANY);
        const done = evB.find((e) => mine(e) && e.event === 'ai-stream-complete').data;
        assert.equal(done.fullResponse, MANY);
        if (insert) {
          // One write, so one content-update, per chunk.
          await until(b, () => evB.filter((e) => e.event === 'content-update').length === chunks.length);
          assert.equal(await contentOf(hub, prdId), initial + MANY);
        }
      }
      assert.equal(await contentOf(hub, prdId), initial + MANY, 'a preview writes nothing');
      a.close();
      b.close();
    } finally {
      await hub.stop();
    }
  }
  await ai.stop();
});

test('a user typing at and around the anchor while the AI streams garbles neither', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai);
  try {
    const initial = '# PRD\n\nIntro.\n\nEnd.\n';
    const p = '# PRD\n\nIntro.\n'.length;
    const prdId = await createPrd(hub, 'Anchor', initial);
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    await join(a, prdId);
    const jb = await join(b, prdId);
    const updates = [];
    b.on('content-update', (u) => updates.push(u));
    const chunks = recorder(a, ['ai-stream-chunk', 'ai-stream-complete', 'ai-error']);

    await request(a, 'ai-prompt', { prdId, prompt: 'scenario:gated go',
      context: { cursorPosition: p } });
    await until(b, () => updates.length === 1);
    assert.equal(updates[0].userId, 'ai');
    // B has the AI's "first" at p..p+5; types right after it, right
    // before it and at the start, each on top of everything it has seen.
    let vector = updates[0].stateVector;
    const send = async (position, content) => {
      vector = bump(vector, jb.siteId);
      const ack = await request(b, 'content-update', { prdId, stateVector: vector,
        operation: { type: 'insert', position, content, timestamp: Date.now() } });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      vector = ack.stateVector;
    };
    await send(p + 5, 'X');
    await send(p, 'Y');
    await send(0, 'Z');
    ai.openGate();
    await until(a, () => chunks.some((e) => e.event !== 'ai-stream-chunk'));
    assert.equal(errorOf(chunks), undefined);
    const list = chunks.filter((e) => e.event === 'ai-stream-chunk').map((e) => e.data);
    assert.deepEqual(list.map((c) => c.chunk), ['first', ' second']);
    assert.equal(list[0].position, p);
    // "Z" and "Y" went before the anchor: the second piece follows "first".
    assert.equal(list[1].position, p + 2 + 5);
    await until(b, () => updates.length === 2);
    const expected = 'Z' + initial.slice(0, p) + 'Yfirst secondX' + initial.slice(p);
    assert.equal(await contentOf(hub, prdId), expected);
    a.close();
    b.close();
  } finally {
    await hub.stop();
    await ai.stop();
  }
});

// Text typed right after the AI's last character by a client that had not
// yet received the AI's next chunk is concurrent with that chunk, both right
// after the same character: the CRDT puts the lower site first (docs/crdt.md),
// so it splits the answer when the typist's site is lower than the AI's, and
// follows the whole answer when it is higher. Documented in protocol.md.
test('typing right after the AI\'s text concurrently with its next chunk: the lower site goes first', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai);
  try {
    const initial = 'Intro. Outro.\n';
    const p = 'Intro.'.length;
    const prdId = await createPrd(hub, 'Concurrent', initial);
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    await join(a, prdId);
    const jb = await join(b, prdId);
    // A job; the typist's next edit is made before it sees the second chunk.
    const run = async (typist, siteId, cursorPosition, text) => {
      const updates = [];
      const onUpdate = (u) => { if (u.userId === 'ai') updates.push(u); };
      typist.on('content-update', onUpdate);
      const done = recorder(a, ['ai-stream-complete', 'ai-error']);
      const asked = await request(a, 'ai-prompt', { prdId, prompt: 'scenario:gated',
        context: { cursorPosition } });
      assert.equal(asked.ok, true, JSON.stringify(asked));
      // (The gate stays open after the first job: the second streams at
      // once. What makes the edit concurrent is its base, not the timing.)
      await until(typist, () => updates.length >= 1);
      const seen = updates[0].stateVector;
      ai.openGate();
      await until(typist, () => updates.length === 2);
      const ack = await request(typist, 'content-update', { prdId, stateVector: bump(seen, siteId),
        operation: { type: 'insert', position: cursorPosition + 'first'.length, content: text,
          timestamp: Date.now() } });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      await until(a, () => done.length > 0);
      assert.equal(done[0].event, 'ai-stream-complete');
      assert.equal(done[0].data.fullResponse, 'first second');
      typist.off('content-update', onUpdate);
      return updates[0].siteId;
    };
    // B joined before the AI first wrote: its site is lower than the AI's.
    await run(b, jb.siteId, p, 'xyz');
    assert.equal(await contentOf(hub, prdId), 'Intro.firstxyz second Outro.\n');
    // C joins after: its site is higher than the AI's (which keeps its site).
    const c = await client(hub, user('user_c'));
    const jc = await join(c, prdId);
    const end = initial.length + 'firstxyz second'.length;
    await run(c, jc.siteId, end, 'XYZ');
    assert.equal(await contentOf(hub, prdId),
      'Intro.firstxyz second Outro.\nfirst secondXYZ');
    a.close();
    b.close();
    c.close();
  } finally {
    await hub.stop();
    await ai.stop();
  }
});

// A cursor read in a client's text that lacks others' latest edits: with
// the version it was read in (context.stateVector), the answer goes where
// the client pointed, not at the same number in the hub's newer text.
test('a cursor read at an older version keeps its place after others\' edits', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai);
  try {
    const initial = 'Goals: fast.\nRisks: none.\n';
    const prdId = await createPrd(hub, 'Versioned cursor', initial);
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    const ja = await join(a, prdId);
    const jb = await join(b, prdId);
    // B adds a title; A asks before it has seen it.
    const ack = await request(b, 'content-update', { prdId, stateVector: bump(jb.vector, jb.siteId),
      operation: { type: 'insert', position: 0, content: '# Title\n', timestamp: Date.now() } });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    const done = recorder(a, ['ai-stream-complete', 'ai-error']);
    const updates = recorder(a, ['content-update']);
    const asked = await request(a, 'ai-prompt', { prdId, prompt: 'more goals',
      context: { cursorPosition: 'Goals: fast.'.length, stateVector: ja.vector } });
    assert.equal(asked.ok, true, JSON.stringify(asked));
    await until(a, () => done.length > 0);
    assert.equal(errorOf(done), undefined);
    // A chunk's content-update follows its commit, which may come after
    // ai-stream-complete (docs/protocol.md): wait for the whole answer.
    const written = () => updates.filter((e) => e.data.userId === 'ai')
      .map((e) => e.data.operation.content).join('');
    await until(a, () => written() === 'Hello, world \u2713');
    assert.equal(await contentOf(hub, prdId), '# Title\nGoals: fast.Hello, world \u2713\nRisks: none.\n');
    a.close();
    b.close();
  } finally {
    await hub.stop();
    await ai.stop();
  }
});

test('insert: false previews without writing; viewers may preview only', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai);
  try {
    const prdId = await createPrd(hub, 'Preview', 'Text.\n');
    const a = await client(hub, user('user_a'));
    await join(a, prdId);
    const ev = recorder(a, ['ai-stream-chunk', 'ai-stream-complete', 'content-update']);
    await request(a, 'ai-prompt', { prdId, prompt: 'Say hello', insert: false,
      context: { cursorPosition: 0 } });
    await until(a, () => ev.some((e) => e.event === 'ai-stream-complete'));
    checkPieces(ev.filter((e) => e.event === 'ai-stream-chunk').map((e) => e.data), 0,
      'Hello, world \u2713');
    assert.equal(ev.filter((e) => e.event === 'content-update').length, 0);
    assert.equal(await contentOf(hub, prdId), 'Text.\n');

    const v = await client(hub, user('viewer', { role: 'viewer' }));
    await join(v, prdId, { mode: 'view' });
    const refused = await request(v, 'ai-prompt', { prdId, prompt: 'Write' });
    assert.equal(refused.error.code, 'FORBIDDEN');
    assert.match(refused.error.message, /^Only editors may/);
    const allowed = await request(v, 'ai-prompt', { prdId, prompt: 'Write', insert: false });
    assert.equal(allowed.ok, true);
    // An editor who joined in view mode is told that, not that they are no
    // editor (the reason content-update gives).
    const e = await client(hub, user('user_e'));
    await join(e, prdId, { mode: 'view' });
    const inView = await request(e, 'ai-prompt', { prdId, prompt: 'Write' });
    assert.equal(inView.error?.code, 'FORBIDDEN', JSON.stringify(inView));
    assert.match(inView.error.message, /^Joined in view mode; join in edit mode/);

    // An archived PRD: a member who joined in edit mode may still preview,
    // but a job that would write is refused up front, not failed later.
    const archived = await rest(hub, 'PATCH', `/api/prds/${prdId}`, { body: { archived: true } });
    assert.equal(archived.status, 200, archived.text);
    const onArchived = await request(a, 'ai-prompt', { prdId, prompt: 'Write', insert: true });
    assert.equal(onArchived.error?.code, 'FORBIDDEN', JSON.stringify(onArchived));
    assert.match(onArchived.error.message, /is archived/);
    const inViewArchived = await request(e, 'ai-prompt', { prdId, prompt: 'Write' });
    assert.match(inViewArchived.error?.message ?? '', /is archived/, JSON.stringify(inViewArchived));
    const preview = await request(a, 'ai-prompt', { prdId, prompt: 'Say hello', insert: false });
    assert.equal(preview.ok, true, JSON.stringify(preview));
    assert.equal(await contentOf(hub, prdId), 'Text.\n');
    a.close();
    v.close();
    e.close();
  } finally {
    await hub.stop();
    await ai.stop();
  }
});

test('a preview is held to max-document-size, as an inserted answer is', async () => {
  const ai = await startAiServer();
  // "scenario:slow" answers 5 units ("abcde"), "scenario:stream" 14.
  const hub = await startAiHub(ai, { extra: '[collab]\nmax-document-size=5\n' });
  try {
    const prdId = await createPrd(hub, 'Preview limit', 'T\n');
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b', { role: 'viewer' }));
    await join(a, prdId);
    await join(b, prdId, { mode: 'view' });
    const seen = recorder(b, ['ai-stream-chunk', 'ai-stream-complete', 'ai-error']);
    // At the limit: complete.
    const fits = await request(b, 'ai-prompt', { prdId, prompt: 'scenario:slow', insert: false });
    assert.equal(fits.ok, true, JSON.stringify(fits));
    await until(b, () => seen.some((e) => e.data.jobId === fits.jobId && e.event !== 'ai-stream-chunk'));
    const done = seen.find((e) => e.data.jobId === fits.jobId && e.event !== 'ai-stream-chunk');
    assert.equal(done.event, 'ai-stream-complete', JSON.stringify(done.data));
    assert.equal(done.data.fullResponse, 'abcde');
    // Past it: the job ends with LIMIT_REACHED for the room, no fullResponse.
    const over = await request(b, 'ai-prompt', { prdId, prompt: 'scenario:stream', insert: false });
    assert.equal(over.ok, true, JSON.stringify(over));
    await until(b, () => seen.some((e) => e.data.jobId === over.jobId && e.event !== 'ai-stream-chunk'));
    const end = seen.find((e) => e.data.jobId === over.jobId && e.event !== 'ai-stream-chunk');
    assert.equal(end.event, 'ai-error');
    assert.equal(end.data.error.code, 'LIMIT_REACHED');
    assert.match(end.data.error.message, /max-document-size/);
    const chunks = seen.filter((e) => e.data.jobId === over.jobId && e.event === 'ai-stream-chunk');
    assert.ok(chunks.map((e) => e.data.chunk).join('').length <= 5);
    const status = await request(a, 'ai-job-status', { prdId, jobId: over.jobId });
    assert.equal(status.job.state, 'failed');
    assert.equal(status.job.error.code, 'LIMIT_REACHED');
    assert.equal(await contentOf(hub, prdId), 'T\n');
    a.close();
    b.close();
  } finally {
    await hub.stop();
    await ai.stop();
  }
});

test('bad ai-prompt payloads are refused with INVALID_PAYLOAD and change nothing', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai);
  try {
    const prdId = await createPrd(hub, 'Bad', 'Text.\n');
    const a = await client(hub, user('user_a'));
    const notJoined = await request(a, 'ai-prompt', { prdId, prompt: 'x' });
    assert.equal(notJoined.error.code, 'NOT_JOINED');
    await join(a, prdId);
    for (const payload of [
      'text',
      { prompt: 'x' },
      { prdId },
      { prdId, prompt: '' },
      { prdId, prompt: 42 },
      { prdId, prompt: 'x'.repeat(4001) },
      { prdId, prompt: 'x', insert: 'yes' },
      { prdId, prompt: 'x', context: 'c' },
      { prdId, prompt: 'x', context: { cursorPosition: -1 } },
      { prdId, prompt: 'x', context: { cursorPosition: 1.5 } },
      { prdId, prompt: 'x', context: { cursorPosition: 7 } },
      { prdId, prompt: 'x', context: { cursorPosition: 1, stateVector: 'v' } },
      { prdId, prompt: 'x', context: { cursorPosition: 1, stateVector: [-1] } },
      { prdId, prompt: 'x', context: { cursorPosition: 1, stateVector: [99] } },
      { prdId, prompt: 'x', context: { cursorPosition: 7, stateVector: [1] } },
      { prdId, prompt: 'x', section: '' },
      // Refused at once, not when the job starts (before the room sees it
      // or the hourly quota counts it).
      { prdId, prompt: 'x', section: 'Not a slug!' },
      { prdId, prompt: 'x', section: 'a'.repeat(201) },
    ]) {
      const ack = await request(a, 'ai-prompt', payload);
      assert.equal(ack.error.code, 'INVALID_PAYLOAD', JSON.stringify(payload));
    }
    // The longest slug is fine.
    const longest = await request(a, 'ai-prompt', { prdId, prompt: 'x', section: 'a'.repeat(200), insert: false });
    assert.equal(longest.ok, true, JSON.stringify(longest));
    // A cursor between the halves of a surrogate pair, with or without the
    // version it was read in.
    const pairId = await createPrd(hub, 'Pair', 'ab\u{1F600}cd\n');
    const { vector } = await join(a, pairId);
    for (const context of [{ cursorPosition: 3 }, { cursorPosition: 3, stateVector: vector }]) {
      const ack = await request(a, 'ai-prompt', { prdId: pairId, prompt: 'x', context });
      assert.equal(ack.error.code, 'INVALID_PAYLOAD', JSON.stringify(context));
      assert.match(ack.error.message, /surrogate pair/);
    }
    assert.equal(await contentOf(hub, pairId), 'ab\u{1F600}cd\n');
    const cancel = await request(a, 'ai-cancel', { jobId: 'job_000000000000000000000000' });
    assert.equal(cancel.error.code, 'NOT_FOUND');
    assert.equal(await contentOf(hub, prdId), 'Text.\n');
    a.close();
  } finally {
    await hub.stop();
    await ai.stop();
  }
});

test('hourly quota: RATE_LIMIT_EXCEEDED with a true retryAfter', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai, { extra: 'hourly-quota=2\n' });
  try {
    const prdId = await createPrd(hub, 'Quota', '');
    const a = await client(hub, user('user_a'));
    await join(a, prdId);
    const t0 = Date.now();
    for (let i = 0; i < 2; i++) {
      const ack = await request(a, 'ai-prompt', { prdId, prompt: 'hi', insert: false });
      assert.equal(ack.ok, true);
    }
    const err = once(a, 'ai-error');
    const ack = await request(a, 'ai-prompt', { prdId, prompt: 'hi', insert: false });
    const elapsed = Math.ceil((Date.now() - t0) / 1000);
    assert.equal(ack.error.code, 'RATE_LIMIT_EXCEEDED');
    const { args: [e] } = await err;
    assert.equal(e.error.code, 'RATE_LIMIT_EXCEEDED');
    assert.ok(e.error.retryAfter <= 3600 && e.error.retryAfter >= 3600 - elapsed - 1,
      `retryAfter ${e.error.retryAfter}`);
    // Another user has a quota of their own.
    const b = await client(hub, user('user_b'));
    await join(b, prdId);
    assert.equal((await request(b, 'ai-prompt', { prdId, prompt: 'hi', insert: false })).ok, true);
    a.close();
    b.close();
  } finally {
    await hub.stop();
    await ai.stop();
  }
});

// A user is (organization, user id): the same `sub` elsewhere, or an admin of
// another organization, neither controls nor sees a job, nor uses its quota.
test('ai-cancel and the hourly quota never cross organizations', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai, { extra: 'concurrency=1\nhourly-quota=1\n' });
  try {
    const prdId = await createPrd(hub, 'Ours', 'Start.\n');
    const a = await client(hub, user('user_a'));
    await join(a, prdId);
    const ev = recorder(a, ['ai-stream-chunk', 'ai-error']);
    const job = await request(a, 'ai-prompt', { prdId, prompt: 'scenario:gated one' });
    assert.equal(job.ok, true);
    await until(a, () => ev.some((e) => e.event === 'ai-stream-chunk'));

    const otherPrd = await createPrd(hub, 'Theirs', 'Other.\n',
      user('user_a', { org: 'org_other' }));
    const twin = await client(hub, user('user_a', { org: 'org_other' }));
    const admin = await client(hub, user('boss', { org: 'org_other', role: 'admin' }));
    const unknown = await request(admin, 'ai-cancel', { jobId: 'job_000000000000000000000000' });
    for (const s of [twin, admin]) {
      const ack = await request(s, 'ai-cancel', { jobId: job.jobId });
      // The same answer as for a job that does not exist: nothing is confirmed.
      assert.deepEqual({ ...ack.error, timestamp: 0 }, { ...unknown.error, timestamp: 0 });
      assert.equal(ack.error.code, 'NOT_FOUND');
    }
    assert.equal(ev.filter((e) => e.event === 'ai-error').length, 0);

    // user_a's quota (1) is used up in org_e2e; user_a of org_other has its own.
    await join(twin, otherPrd);
    const theirs = await request(twin, 'ai-prompt', { prdId: otherPrd, prompt: 'hi', insert: false });
    assert.equal(theirs.ok, true, JSON.stringify(theirs));
    const again = await request(a, 'ai-prompt', { prdId, prompt: 'hi', insert: false });
    assert.equal(again.error.code, 'RATE_LIMIT_EXCEEDED');

    assert.equal((await request(a, 'ai-cancel', { jobId: job.jobId })).ok, true);
    // The refused prompt above had its own ai-error: wait for the job's.
    await until(a, () => ev.some((e) => e.event === 'ai-error' && e.data.jobId === job.jobId));
    for (const s of [a, twin, admin]) s.close();
  } finally {
    await hub.stop();
    await ai.stop();
  }
});

test('concurrency limit queues jobs; cancel stops a queued and a running job', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai, { extra: 'concurrency=1\n' });
  try {
    const prdId = await createPrd(hub, 'Queue', 'Start.\n');
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    await join(a, prdId);
    await join(b, prdId);
    const ev = recorder(a, ['ai-job-created', 'ai-stream-start', 'ai-stream-chunk',
      'ai-stream-complete', 'ai-error']);
    const written = recorder(b, ['content-update']);
    const first = await request(a, 'ai-prompt', { prdId, prompt: 'scenario:gated one' });
    await until(a, () => ev.some((e) => e.event === 'ai-stream-chunk'));
    const second = await request(a, 'ai-prompt', { prdId, prompt: 'two', insert: false });
    const third = await request(a, 'ai-prompt', { prdId, prompt: 'three', insert: false });
    const created = ev.filter((e) => e.event === 'ai-job-created').map((e) => e.data);
    assert.deepEqual(created.map((c) => c.position), [1, 1, 2]);
    assert.ok(created[2].estimatedTime >= created[1].estimatedTime);
    // Only the first runs.
    assert.equal(ev.filter((e) => e.event === 'ai-stream-start').length, 1);

    // Someone else may not cancel; the requester may, queued or running.
    const foreign = await request(b, 'ai-cancel', { jobId: second.jobId });
    assert.equal(foreign.error.code, 'FORBIDDEN');
    assert.equal((await request(a, 'ai-cancel', { jobId: second.jobId })).ok, true);
    assert.equal((await request(a, 'ai-cancel', { jobId: first.jobId })).ok, true);
    await until(a, () => ev.some((e) => e.event === 'ai-stream-complete'));
    const errors = ev.filter((e) => e.event === 'ai-error').map((e) => e.data);
    assert.deepEqual(errors.map((e) => [e.jobId, e.error.code]),
      [[second.jobId, 'CANCELLED'], [first.jobId, 'CANCELLED']]);
    const starts = ev.filter((e) => e.event === 'ai-stream-start').map((e) => e.data.jobId);
    assert.deepEqual(starts, [first.jobId, third.jobId]);
    const done = ev.find((e) => e.event === 'ai-stream-complete').data;
    assert.equal(done.jobId, third.jobId);
    // What the cancelled job wrote stays (the third only previewed).
    await until(b, () => written.length === 1);
    assert.equal(await contentOf(hub, prdId), 'Start.\nfirst');
    a.close();
    b.close();
  } finally {
    await hub.stop();
    await ai.stop();
  }
});

// One user's backlog (here previews by a viewer of another organization)
// does not hold up another user's job: the queue is shared out by user, and
// one user may have only [ai] max-queued-per-user jobs waiting or running.
test('fair queue: another user\'s first job starts before one user\'s backlog', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai, { extra: 'concurrency=1\n' });
  try {
    const mallory = user('mallory', { org: 'org_b', role: 'viewer' });
    const alice = user('alice', { org: 'org_a', role: 'editor' });
    const theirs = await createPrd(hub, 'B', 'text b\n', user('bob', { org: 'org_b' }));
    const ours = await createPrd(hub, 'A', 'text a\n', alice);
    const m = await client(hub, mallory);
    await join(m, theirs, { mode: 'view' });
    const mev = recorder(m, ['ai-stream-start', 'ai-stream-chunk', 'ai-error']);
    const backlog = [];
    for (let i = 0; i < 4; i++) {
      const ack = await request(m, 'ai-prompt', { prdId: theirs, prompt: `scenario:gated ${i}`, insert: false });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      backlog.push(ack.jobId);
    }
    // The first holds the only slot (the provider waits at its gate).
    await until(m, () => mev.some((e) => e.event === 'ai-stream-chunk'));

    const a = await client(hub, alice);
    await join(a, ours);
    const aev = recorder(a, ['ai-job-created', 'ai-stream-start', 'ai-stream-chunk']);
    const job = await request(a, 'ai-prompt', { prdId: ours, prompt: 'scenario:gated a', insert: false });
    assert.equal(job.ok, true, JSON.stringify(job));
    await until(a, () => aev.some((e) => e.event === 'ai-job-created'));
    const created = aev.find((e) => e.event === 'ai-job-created').data;
    // Next after the job that runs, not after mallory's three waiting.
    assert.equal(created.position, 1);
    assert.equal(created.estimatedTime, 2 * 30);

    // The running job ends: alice's starts next and, waiting at the closed
    // gate, holds the only slot, so mallory's other three have not started.
    assert.equal((await request(m, 'ai-cancel', { jobId: backlog[0] })).ok, true);
    await until(a, () => aev.some((e) => e.event === 'ai-stream-chunk'));
    assert.equal(aev.find((e) => e.event === 'ai-stream-start').data.jobId, job.jobId);
    const mStarts = mev.filter((e) => e.event === 'ai-stream-start').map((e) => e.data.jobId);
    assert.deepEqual(mStarts, [backlog[0]]);
    a.close();
    m.close();
  } finally {
    await hub.stop();
    await ai.stop();
  }
});

test('max-queued-per-user: one more job is LIMIT_REACHED and costs no quota', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai, { extra: 'concurrency=1\nmax-queued-per-user=2\nhourly-quota=3\n' });
  try {
    const prdId = await createPrd(hub, 'Cap', 'Text.\n');
    const a = await client(hub, user('user_a'));
    await join(a, prdId);
    const ev = recorder(a, ['ai-stream-chunk', 'ai-error']);
    const first = await request(a, 'ai-prompt', { prdId, prompt: 'scenario:gated 1', insert: false });
    const second = await request(a, 'ai-prompt', { prdId, prompt: 'scenario:gated 2', insert: false });
    assert.equal(first.ok, true);
    assert.equal(second.ok, true);
    const over = await request(a, 'ai-prompt', { prdId, prompt: 'three', insert: false });
    assert.equal(over.error.code, 'LIMIT_REACHED', JSON.stringify(over));
    assert.match(over.error.message, /max-queued-per-user/);
    assert.equal(over.error.retryAfter, undefined);
    await until(a, () => ev.some((e) => e.event === 'ai-error' && e.data.jobId === null));
    assert.equal(ev.find((e) => e.event === 'ai-error').data.error.code, 'LIMIT_REACHED');
    // Cancelling the waiting one gives its place back; the refusal above
    // cost nothing of the hourly quota (3: two above, this one).
    assert.equal((await request(a, 'ai-cancel', { jobId: second.jobId })).ok, true);
    const third = await request(a, 'ai-prompt', { prdId, prompt: 'three', insert: false });
    assert.equal(third.ok, true, JSON.stringify(third));
    assert.equal((await request(a, 'ai-cancel', { jobId: third.jobId })).ok, true);
    const fourth = await request(a, 'ai-prompt', { prdId, prompt: 'four', insert: false });
    assert.equal(fourth.error.code, 'RATE_LIMIT_EXCEEDED', JSON.stringify(fourth));
    a.close();
  } finally {
    await hub.stop();
    await ai.stop();
  }
});

test('provider failures end the job with a stable code; streamed text stays', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai, { extra: 'timeout=1\n' });
  try {
    const cases = [
      ['rate-limit', 'RATE_LIMIT_EXCEEDED', '', (e) => {
        assert.equal(e.error.retryAfter, 7);
        assert.equal(e.error.status, 429);
      }],
      ['server-error', 'PROVIDER_ERROR', '', (e) => assert.equal(e.error.status, 500)],
      ['stall', 'PROVIDER_TIMEOUT', 'Hello'],
      ['cut', 'PROVIDER_PROTOCOL_ERROR', 'Hello world'],
      ['malformed', 'PROVIDER_PROTOCOL_ERROR', 'Hello'],
    ];
    for (const [scenario, code, kept, check] of cases) {
      const prdId = await createPrd(hub, scenario, 'Base.\n');
      const a = await client(hub, user('user_a'));
      await join(a, prdId);
      const ev = recorder(a, ['ai-stream-complete', 'ai-error']);
      const chunks = recorder(a, ['ai-stream-chunk']);
      const updates = recorder(a, ['content-update']);
      const ack = await request(a, 'ai-prompt', { prdId, prompt: `scenario:${scenario} x` });
      assert.equal(ack.ok, true);
      await until(a, () => ev.length > 0);
      assert.equal(ev[0].event, 'ai-error', scenario);
      const e = ev[0].data;
      assert.equal(e.jobId, ack.jobId);
      assert.equal(e.error.code, code, `${scenario}: ${JSON.stringify(e)}`);
      if (check) check(e);
      await until(a, () => updates.length === chunks.length);
      assert.equal(await contentOf(hub, prdId), 'Base.\n' + kept, scenario);
      a.close();
    }
  } finally {
    await hub.stop();
    await ai.stop();
  }
});

test('ai-review sends at most context-chars characters of the PRD, cut between two', async () => {
  // A provider that keeps what it is sent (and fails the review: only the
  // request matters here).
  const bodies = [];
  const provider = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      bodies.push(body);
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"not here"}}');
    });
  });
  await new Promise((resolve) => provider.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${provider.address().port}/v1`;
  const hub = await startHub({ config: `[ai]\nbase-url = ${base}\nmodel = m\ncontext-chars = 301\n` });
  try {
    // 1000 characters of three UTF-8 bytes each, and one of four (two UTF-16 units).
    const prdId = await createPrd(hub, 'Context', '\u{1F600}' + '\u4e2d'.repeat(1000));
    const a = await client(hub, user('user_a'));
    await join(a, prdId);
    const errors = recorder(a, ['ai-error']);
    const ack = await request(a, 'ai-review', { prdId });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await until(a, () => errors.length > 0);
    const sent = JSON.parse(bodies[0]).messages.map((m) => m.content).join('\n');
    assert.equal((sent.match(/\u4e2d/g) ?? []).length, 300);
    assert.ok(sent.includes('\u{1F600}'));
    assert.ok(!sent.includes('\uFFFD'), 'no character cut in two');
    a.close();
  } finally {
    await hub.stop();
    provider.close();
  }
});

test('ai-review emits one ai-suggestion per valid suggestion, then ai-review-complete', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai);
  try {
    const prdId = await createPrd(hub, 'Review', 'scenario:review\n# PRD\n## User Stories\n');
    const a = await client(hub, user('user_a'));
    await join(a, prdId);
    const events = recorder(a, ['ai-suggestion', 'ai-review-complete', 'ai-error']);
    const ack = await request(a, 'ai-review', { prdId });
    assert.equal(ack.ok, true);
    assert.match(ack.reviewId, /^review_[0-9a-f]{24}$/);
    await until(a, () => events.some((e) => e.event === 'ai-review-complete'));
    assert.deepEqual(events.map((e) => e.event), ['ai-suggestion', 'ai-review-complete']);
    assert.deepEqual(events[0].data, { prdId, reviewId: ack.reviewId, suggestion: {
      type: 'improvement', section: 'user-stories', title: 'Consider edge cases',
      description: 'Add user stories for error scenarios', confidence: 0.85 } });
    assert.deepEqual(events[1].data, { prdId, reviewId: ack.reviewId, count: 1 });
    a.close();
  } finally {
    await hub.stop();
    await ai.stop();
  }
});

test('ai-review: a suggestion\'s section is the slug of one of the PRD\'s headings, or null', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai);
  try {
    const prdId = await createPrd(hub, 'Sections', 'scenario:review-sections\n# PRD\n## User Stories\n');
    const a = await client(hub, user('user_a'));
    await join(a, prdId);
    const events = recorder(a, ['ai-suggestion', 'ai-review-complete', 'ai-error']);
    const ack = await request(a, 'ai-review', { prdId });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await until(a, () => events.some((e) => e.event !== 'ai-suggestion'));
    // "User Stories", "!!!", "No Such Heading", "user-stories"
    assert.deepEqual(
      events.filter((e) => e.event === 'ai-suggestion').map((e) => e.data.suggestion.section),
      ['user-stories', null, null, 'user-stories']);
    assert.deepEqual(events.at(-1).data, { prdId, reviewId: ack.reviewId, count: 4 });
    a.close();
  } finally {
    await hub.stop();
    await ai.stop();
  }
});

test('ai-review ends with an event without suggestions and after a provider failure', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai);
  try {
    const a = await client(hub, user('user_a'));
    // An answer that is not a suggestion list: no suggestion, and the end.
    const none = await createPrd(hub, 'No suggestions', 'scenario:complete\n# PRD\n');
    await join(a, none);
    let events = recorder(a, ['ai-suggestion', 'ai-review-complete', 'ai-error']);
    const ack = await request(a, 'ai-review', { prdId: none });
    assert.equal(ack.ok, true);
    await until(a, () => events.length > 0);
    assert.deepEqual(events, [{ event: 'ai-review-complete',
      data: { prdId: none, reviewId: ack.reviewId, count: 0 } }]);

    // The provider fails: ai-error names the review.
    const failing = await createPrd(hub, 'Failing', 'scenario:server-error\n# PRD\n');
    await join(a, failing);
    a.removeAllListeners('ai-suggestion');
    a.removeAllListeners('ai-review-complete');
    a.removeAllListeners('ai-error');
    events = recorder(a, ['ai-suggestion', 'ai-review-complete', 'ai-error']);
    const ack2 = await request(a, 'ai-review', { prdId: failing });
    assert.equal(ack2.ok, true);
    assert.notEqual(ack2.reviewId, ack.reviewId);
    await until(a, () => events.length > 0);
    assert.equal(events.length, 1);
    assert.equal(events[0].event, 'ai-error');
    const e = events[0].data;
    assert.equal(e.jobId, null);
    assert.equal(e.prdId, failing);
    assert.equal(e.reviewId, ack2.reviewId);
    assert.equal(e.error.code, 'PROVIDER_ERROR');
    assert.equal(e.error.status, 500);

    // A refused review (not joined) gets no reviewId: the ack's error and ai-error only.
    const other = await createPrd(hub, 'Not joined', '# PRD\n');
    const refused = await request(a, 'ai-review', { prdId: other });
    assert.equal(refused.error.code, 'NOT_JOINED');
    assert.equal(refused.reviewId, undefined);
    a.close();
  } finally {
    await hub.stop();
    await ai.stop();
  }
});

test('ai-review: no more at the provider at once than [ai] concurrency', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai, { extra: 'concurrency=1\n' });
  try {
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    // The provider never answers this one: it holds the only review slot.
    const stalled = await createPrd(hub, 'Stalled', 'scenario:stall-headers\n# PRD\n');
    await join(a, stalled);
    const first = await request(a, 'ai-review', { prdId: stalled });
    assert.equal(first.ok, true, JSON.stringify(first));
    const other = await createPrd(hub, 'Other', 'scenario:review\n# PRD\n');
    await join(b, other);
    const busy = await request(b, 'ai-review', { prdId: other });
    assert.equal(busy.error.code, 'RATE_LIMIT_EXCEEDED', JSON.stringify(busy));
    assert.equal(busy.error.retryAfter, 5);
    assert.match(busy.error.message, /1 reviews are under way/);
    a.close();
    b.close();
  } finally {
    await hub.stop();
    await ai.stop();
  }
});

test('ai-review: one review per user at a time, so one user cannot hold every slot', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai, { extra: 'concurrency=2\n' });
  try {
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    // The provider never answers this one: user_a's review stays under way.
    const stalled = await createPrd(hub, 'Stalled', 'scenario:stall-headers\n# PRD\n');
    await join(a, stalled);
    await join(b, stalled);
    const first = await request(a, 'ai-review', { prdId: stalled });
    assert.equal(first.ok, true, JSON.stringify(first));
    const second = await request(a, 'ai-review', { prdId: stalled });
    assert.equal(second.error.code, 'RATE_LIMIT_EXCEEDED', JSON.stringify(second));
    assert.equal(second.error.retryAfter, 5);
    assert.match(second.error.message, /one review per user at a time/);
    // The same `sub` in another organization is another user.
    const twinPrd = await createPrd(hub, 'Twin', 'scenario:stall-headers\n# PRD\n',
      user('user_a', { org: 'org_other' }));
    const twin = await client(hub, user('user_a', { org: 'org_other' }));
    await join(twin, twinPrd);
    const theirs = await request(twin, 'ai-review', { prdId: twinPrd });
    assert.equal(theirs.ok, true, JSON.stringify(theirs));
    // Both slots are now taken by two users: a third waits its turn.
    const busy = await request(b, 'ai-review', { prdId: stalled });
    assert.equal(busy.error.code, 'RATE_LIMIT_EXCEEDED');
    assert.match(busy.error.message, /2 reviews are under way/);
    for (const s of [a, b, twin]) s.close();
  } finally {
    await hub.stop();
    await ai.stop();
  }
});

test('a restart marks the jobs that were running as failed (INTERRUPTED)', async () => {
  const ai = await startAiServer();
  const dataDir = tmpDir('prdhub-e2e-ai-restart-');
  let hub = await startAiHub(ai, { args: ['--data-dir', dataDir] });
  try {
    const prdId = await createPrd(hub, 'Restart', 'Base.\n');
    const a = await client(hub, user('user_a'));
    await join(a, prdId);
    // The content-update leaves after the commit of the AI's insert.
    const stored = once(a, 'content-update');
    const ack = await request(a, 'ai-prompt', { prdId, prompt: 'scenario:gated x' });
    await stored;
    a.close();
    hub.proc.kill('SIGKILL');
    await hub.stop();
    hub = await startAiHub(ai, { args: ['--data-dir', dataDir] });
    // The hub marks them at startup; read the row the admin window would.
    const db = path.join(dataDir, 'prdhub.db');
    let row;
    await until(a, () => {
      row = execFileSync('/usr/bin/python3', ['-c',
        'import sqlite3,sys;c=sqlite3.connect(sys.argv[1]);' +
        'r=c.execute("select state, error_code from ai_jobs where id=?",(sys.argv[2],)).fetchone();' +
        'print(r[0]+" "+str(r[1]))', db, ack.jobId]).toString().trim();
      return row === 'failed INTERRUPTED';
    });
    assert.equal(row, 'failed INTERRUPTED');
    // The text streamed before the crash stayed.
    assert.equal(await contentOf(hub, prdId), 'Base.\nfirst');
  } finally {
    await hub.stop();
    await ai.stop();
  }
});

// The state of a promise, readable without awaiting it.
function settled(promise) {
  const s = { state: 'pending' };
  promise.then((value) => Object.assign(s, { state: 'resolved', value }),
    (error) => Object.assign(s, { state: 'rejected', error }));
  return s;
}

// `state error_code error_message` of a job's row in a stopped hub's database.
function jobRow(dataDir, jobId) {
  return execFileSync('/usr/bin/python3', ['-c',
    'import sqlite3,sys;c=sqlite3.connect(sys.argv[1]);' +
    'r=c.execute("select state, error_code, error_message from ai_jobs where id=?",(sys.argv[2],)).fetchone();' +
    'print(" ".join(str(x) for x in r))', path.join(dataDir, 'prdhub.db'), jobId]).toString().trim();
}

test('a hub that stops ends its AI jobs first: ai-error INTERRUPTED before server-shutdown', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai, { extra: `concurrency=1\n${SDK_HUB_CONFIG}` });
  const c = sdkClient(hub, await createPrd(hub, 'Stop', 'Base.\n'), user('user_a'));
  try {
    const seen = [];
    for (const name of ['ai-stream-chunk', 'ai-error', 'server-shutdown'])
      c.on(name, (d) => seen.push(name === 'ai-error' ? `ai-error ${d.jobId} ${d.error.code}` : name));
    await c.connect();
    const running = await c.aiPrompt({ prompt: 'scenario:gated x' });
    const queued = await c.aiPrompt({ prompt: 'later', insert: false });
    const done = [settled(c.whenAiJobDone(running.jobId)), settled(c.whenAiJobDone(queued.jobId))];
    await untilTrue(() => seen.includes('ai-stream-chunk'), 'the first chunk');
    hub.proc.kill('SIGTERM');
    await untilTrue(() => seen.includes('server-shutdown'), 'server-shutdown');
    // The queued job's requester and the running job's room hear first.
    const order = seen.filter((e) => e !== 'ai-stream-chunk');
    assert.equal(order.at(-1), 'server-shutdown');
    assert.deepEqual(order.slice(0, -1).sort(),
      [`ai-error ${running.jobId} INTERRUPTED`, `ai-error ${queued.jobId} INTERRUPTED`].sort());
    await untilTrue(() => done.every((d) => d.state !== 'pending'), 'both jobs to settle');
    for (const d of done) {
      assert.equal(d.state, 'rejected');
      assert.equal(d.error.code, 'INTERRUPTED');
      assert.match(d.error.message, /stopping/);
    }
    // Recorded at the stop, not only at the next start.
    assert.equal((await hub.exited).code, 0);
    for (const { jobId } of [running, queued])
      assert.match(jobRow(hub.dataDir, jobId), /^failed INTERRUPTED The hub is stopping/);
  } finally {
    c.close();
    await hub.stop();
    await ai.stop();
  }
});

test('a queued job that ends after its requester reconnected is told on the new connection', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai, { extra: `concurrency=1\n${SDK_HUB_CONFIG}` });
  const c = sdkClient(hub, await createPrd(hub, 'Requeued', 'Base.\n'), user('user_a'));
  try {
    const seen = [];
    for (const name of ['ai-stream-chunk', 'ai-error'])
      c.on(name, (d) => seen.push(name === 'ai-error' ? `ai-error ${d.jobId} ${d.error.code}` : name));
    await c.connect();
    await c.aiPrompt({ prompt: 'scenario:gated x' });
    const queued = await c.aiPrompt({ prompt: 'later', insert: false });
    const cancelled = await c.aiPrompt({ prompt: 'later still', insert: false });
    const done = [settled(c.whenAiJobDone(queued.jobId)), settled(c.whenAiJobDone(cancelled.jobId))];
    await untilTrue(() => seen.includes('ai-stream-chunk'), 'the first chunk');
    // A network blip: the jobs were asked on the connection that is gone.
    c.disconnect();
    c.reconnect();
    await c.whenSynced();
    await c.aiCancel(cancelled.jobId);
    await untilTrue(() => done[1].state !== 'pending', 'the cancelled job to settle');
    assert.equal(done[1].error.code, 'CANCELLED');
    hub.proc.kill('SIGTERM');
    await untilTrue(() => done[0].state !== 'pending', 'the queued job to settle at the stop');
    assert.equal(done[0].error.code, 'INTERRUPTED');
    assert.ok(seen.includes(`ai-error ${queued.jobId} INTERRUPTED`), seen.join());
  } finally {
    c.close();
    await hub.stop();
    await ai.stop();
  }
});

// A deleted PRD's jobs end at once (docs/protocol.md, DELETE and ai-error):
// its requesters hear PRD_NOT_FOUND, the records say so, and the slot the
// running one held at the provider starts the next job without waiting
// for the provider's next chunk (the gate is never opened).
test('a deleted PRD\'s AI jobs end with PRD_NOT_FOUND and free their slot at once', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai, { extra: 'concurrency=1\n' });
  const ADMIN = user('admin_1', { role: 'admin' });
  try {
    const x = await createPrd(hub, 'X', '# X\n\nIntro.\n');
    const y = await createPrd(hub, 'Y', '# Y\n\nIntro.\n');
    const z = await createPrd(hub, 'Z', '# Z\n\nIntro.\n');
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    const c = await client(hub, user('user_c'));
    await join(a, x);
    await join(b, y);
    await join(c, z);
    const names = ['ai-stream-start', 'ai-stream-chunk', 'ai-stream-complete', 'ai-error',
      'prd-deleted'];
    const evA = recorder(a, names), evB = recorder(b, names), evC = recorder(c, names);
    // A writes into X and waits at the gate after its first chunk; B (a
    // preview in Y) waits in the queue behind it.
    const ja = await request(a, 'ai-prompt', { prdId: x, prompt: 'scenario:gated a',
      context: { cursorPosition: 3 } });
    await until(a, () => evA.some((e) => e.event === 'ai-stream-chunk'));
    const jb = await request(b, 'ai-prompt', { prdId: y, prompt: 'scenario:gated b',
      insert: false });
    assert.equal(jb.ok, true, JSON.stringify(jb));
    assert.equal(evB.filter((e) => e.event === 'ai-stream-start').length, 0);

    for (const prdId of [x, y]) {
      const res = await rest(hub, 'DELETE', `/api/prds/${prdId}`, { tok: token(ADMIN) });
      assert.equal(res.status, 200, res.text);
    }
    await until(a, () => evA.some((e) => e.event === 'prd-deleted'));
    await until(b, () => evB.some((e) => e.event === 'prd-deleted'));
    for (const [ev, job, prdId] of [[evA, ja, x], [evB, jb, y]]) {
      const err = errorOf(ev);
      assert.ok(err, JSON.stringify(ev));
      assert.equal(err.jobId, job.jobId);
      assert.equal(err.error.code, 'PRD_NOT_FOUND');
      assert.match(err.error.message, new RegExp(`${prdId} was deleted`));
      // The job ends before the room closes, and nothing of it follows.
      const after = ev.slice(ev.findIndex((e) => e.event === 'ai-error') + 1);
      assert.deepEqual(after.map((e) => e.event), ['prd-deleted']);
    }

    // The slot is free: a job of another PRD starts and completes while
    // the provider still holds A's request at its gate.
    const jc = await request(c, 'ai-prompt', { prdId: z, prompt: 'three', insert: false });
    await until(c, () => evC.some((e) => e.event === 'ai-stream-complete'));
    assert.equal(evC.find((e) => e.event === 'ai-stream-complete').data.jobId, jc.jobId);
    assert.equal(errorOf(evC), undefined);
    for (const s of [a, b, c]) s.close();

    hub.proc.kill('SIGTERM');
    assert.equal((await hub.exited).code, 0);
    for (const [job, prdId] of [[ja, x], [jb, y]])
      assert.equal(jobRow(hub.dataDir, job.jobId),
        `failed PRD_NOT_FOUND The PRD ${prdId} was deleted; the AI job was cancelled`);
    assert.match(jobRow(hub.dataDir, jc.jobId), /^complete None None$/);
  } finally {
    await hub.stop();
    await ai.stop();
  }
});

test('a review of a deleted PRD ends with PRD_NOT_FOUND and frees its place', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai, { extra: 'concurrency=1\n' });
  try {
    const a = await client(hub, user('user_a'));
    // The provider never answers this one: it holds the only review slot.
    const stalled = await createPrd(hub, 'Stalled', 'scenario:stall-headers\n# PRD\n');
    await join(a, stalled);
    const ev = recorder(a, ['ai-error', 'ai-suggestion', 'ai-review-complete', 'prd-deleted']);
    const first = await request(a, 'ai-review', { prdId: stalled });
    assert.equal(first.ok, true, JSON.stringify(first));
    const res = await rest(hub, 'DELETE', `/api/prds/${stalled}`,
      { tok: token(user('admin_1', { role: 'admin' })) });
    assert.equal(res.status, 200, res.text);
    await until(a, () => ev.some((e) => e.event === 'prd-deleted'));
    const err = errorOf(ev);
    assert.ok(err, JSON.stringify(ev));
    assert.deepEqual([err.jobId, err.prdId, err.reviewId, err.error.code],
      [null, stalled, first.reviewId, 'PRD_NOT_FOUND']);
    assert.match(err.error.message, /was deleted/);
    // The same user's next review, in another PRD, takes the freed slot
    // and is answered; the deleted one's ends with its one event only.
    const other = await createPrd(hub, 'Other', 'scenario:review\n# PRD\n');
    await join(a, other);
    const second = await request(a, 'ai-review', { prdId: other });
    assert.equal(second.ok, true, JSON.stringify(second));
    await until(a, () => ev.some((e) => e.event === 'ai-review-complete'));
    assert.equal(ev.find((e) => e.event === 'ai-review-complete').data.reviewId, second.reviewId);
    assert.equal(ev.filter((e) => e.event === 'ai-error').length, 1);
    a.close();
  } finally {
    await hub.stop();
    await ai.stop();
  }
});

test('after a killed hub is back, the SDK learns that its AI job was INTERRUPTED', async () => {
  const ai = await startAiServer();
  const dataDir = tmpDir('prdhub-e2e-ai-kill-');
  let hub = await startAiHub(ai, { extra: SDK_HUB_CONFIG, args: ['--data-dir', dataDir] });
  const port = hub.port;
  const c = sdkClient(hub, await createPrd(hub, 'Killed', 'Base.\n'), user('user_a'));
  try {
    let chunks = 0;
    c.on('ai-stream-chunk', () => chunks++);
    await c.connect();
    const { jobId } = await c.aiPrompt({ prompt: 'scenario:gated x' });
    const done = settled(c.whenAiJobDone(jobId));
    await untilTrue(() => chunks > 0, 'the first chunk');
    hub.proc.kill('SIGKILL');
    await hub.stop();
    hub = await startAiHub(ai, { extra: SDK_HUB_CONFIG,
      args: ['--data-dir', dataDir, '--listen', `127.0.0.1:${port}`] });
    // No ai-error can come from the hub that died: the rejoin asks.
    await untilTrue(() => done.state !== 'pending', 'whenAiJobDone to settle after the rejoin', 20000);
    assert.equal(done.state, 'rejected');
    assert.equal(done.error.code, 'INTERRUPTED');
    const status = await c.aiJobStatus(jobId);
    assert.equal(status.state, 'failed');
    assert.equal(status.error.code, 'INTERRUPTED');
  } finally {
    c.close();
    await hub.stop();
    await ai.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('ai-job-status: the state of a job of a joined PRD; refusals change nothing', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai, { extra: 'concurrency=1\n' });
  try {
    const prdId = await createPrd(hub, 'Status', 'Start.\n');
    const a = await client(hub, user('user_a'));
    const viewer = await client(hub, user('user_v', { role: 'viewer' }));
    await join(a, prdId);
    await join(viewer, prdId, { mode: 'view' });
    const ev = recorder(a, ['ai-stream-chunk', 'ai-stream-complete', 'ai-error']);
    const first = await request(a, 'ai-prompt', { prdId, prompt: 'scenario:gated one' });
    await until(a, () => ev.some((e) => e.event === 'ai-stream-chunk'));
    const second = await request(a, 'ai-prompt', { prdId, prompt: 'two', insert: false });

    // Any member of the PRD's room may ask, viewers included.
    const running = await request(viewer, 'ai-job-status', { prdId, jobId: first.jobId });
    assert.deepEqual(running, { ok: true,
      job: { jobId: first.jobId, prdId, state: 'streaming', tokensUsed: 0, duration: 0 } });
    const waiting = await request(a, 'ai-job-status', { prdId, jobId: second.jobId });
    assert.equal(waiting.job.state, 'queued');

    // Refusals: an ack { error: { code, message } } (and the error event).
    const unknown = await request(a, 'ai-job-status', { prdId, jobId: 'job_000000000000000000000000' });
    assert.deepEqual(Object.keys(unknown.error).sort(), ['code', 'message']);
    assert.equal(unknown.error.code, 'NOT_FOUND');
    for (const bad of [undefined, {}, { prdId }, { jobId: first.jobId },
      { prdId, jobId: 'job_1' }, { prdId, jobId: `${first.jobId}0` }, { prdId, jobId: 7 },
      { prdId: 'nope', jobId: first.jobId }])
      assert.equal((await request(a, 'ai-job-status', bad)).error.code, 'INVALID_PAYLOAD', JSON.stringify(bad));

    // Another organization: its PRD is not joinable, and a job is not found
    // through a PRD of its own, as an unknown id.
    const otherPrd = await createPrd(hub, 'Theirs', 'Other.\n', user('user_a', { org: 'org_other' }));
    const twin = await client(hub, user('user_a', { org: 'org_other' }));
    await join(twin, otherPrd);
    assert.equal((await request(twin, 'ai-job-status', { prdId, jobId: first.jobId })).error.code,
      'NOT_JOINED');
    const foreign = await request(twin, 'ai-job-status', { prdId: otherPrd, jobId: first.jobId });
    assert.deepEqual(foreign.error, unknown.error);
    // A job of another PRD of one's own organization is not found either.
    const mine = await createPrd(hub, 'Mine too', 'x\n');
    await join(a, mine);
    assert.equal((await request(a, 'ai-job-status', { prdId: mine, jobId: first.jobId })).error.code,
      'NOT_FOUND');
    assert.equal(ev.filter((e) => e.event === 'ai-error').length, 0);

    // Ended jobs come from the record: cancelled (with its code), complete.
    assert.equal((await request(a, 'ai-cancel', { jobId: first.jobId })).ok, true);
    await until(a, () => ev.some((e) => e.event === 'ai-stream-complete'));
    const readBack = async (jobId, state) => {
      // The record is written after the job's last event: ask until it is.
      let res;
      const deadline = Date.now() + 20000;
      for (;;) {
        res = await request(a, 'ai-job-status', { prdId, jobId });
        if (res.job?.state === state || Date.now() > deadline) return res;
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const cancelled = await readBack(first.jobId, 'cancelled');
    assert.equal(cancelled.job.state, 'cancelled');
    assert.equal(cancelled.job.error.code, 'CANCELLED');
    assert.equal(typeof cancelled.job.error.message, 'string');
    const complete = await readBack(second.jobId, 'complete');
    assert.equal(complete.job.state, 'complete');
    assert.equal(complete.job.error, undefined);
    assert.equal(typeof complete.job.tokensUsed, 'number');
    assert.equal(typeof complete.job.duration, 'number');
    for (const s of [a, viewer, twin]) s.close();
  } finally {
    await hub.stop();
    await ai.stop();
  }
});

// The disk fills while a job streams (the hub's file size limit,
// RLIMIT_FSIZE, lowered with prlimit(1) as in disk-full.test.js): an edit
// that cannot be stored closes the PRD's room, and every member must
// rejoin. The job ends at once (its provider request is cancelled, the
// gated stream is never let on) and its requester, no longer in the room,
// gets ai-error STORAGE_ERROR. The store refuses to record that end too:
// ai-job-status answers from the hub's memory meanwhile, and the record is
// written once the database takes writes again, so that it still reads
// failed STORAGE_ERROR after a restart (not INTERRUPTED).
test('a job whose room is closed by a full disk ends with ai-error STORAGE_ERROR, and its record says so', async () => {
  const largestFile = (dir) => Math.max(...fs.readdirSync(dir)
    .map((name) => fs.statSync(path.join(dir, name)))
    .filter((st) => st.isFile()).map((st) => st.size));
  const setFileSizeLimit = (pid, bytes) => execFileSync('prlimit', ['--pid', String(pid), `--fsize=${bytes}:`]);
  const ai = await startAiServer();
  const dataDir = tmpDir('prdhub-e2e-aifull-');
  const extra = '[collab]\nsnapshot-every=100000\n';
  let hub = await startAiHub(ai, { extra, args: ['--data-dir', dataDir] });
  try {
    const alice = user('aifull_alice');
    const bob = user('aifull_bob');
    const prdId = await createPrd(hub, 'AI on a full disk', 'start\n', alice);
    const a = await client(hub, alice);
    const b = await client(hub, bob);
    const closures = [];
    a.on('error', (e) => { if (e?.code === 'STORAGE_ERROR') closures.push(e); });
    const ev = recorder(a, ['ai-stream-start', 'ai-stream-chunk', 'ai-stream-complete', 'ai-error']);
    await join(a, prdId);
    let { siteId, vector } = await join(b, prdId);
    const aiUpdates = [];
    b.on('content-update', (u) => { if (u.userId === 'ai') aiUpdates.push(u); });

    const asked = await request(a, 'ai-prompt', { prdId, prompt: 'scenario:gated full' });
    assert.equal(asked.ok, true, JSON.stringify(asked));
    await until(b, () => aiUpdates.length === 1);
    vector = aiUpdates[0].stateVector;

    // The disk fills up; Bob's edits are refused and the room is closed.
    setFileSizeLimit(hub.pid, largestFile(dataDir) + 16384);
    let refused;
    for (let n = 0; n < 2000 && !refused; n++) {
      const next = bump(vector, siteId);
      const ack = await request(b, 'content-update', {
        prdId, stateVector: next, operation: { type: 'insert', position: 0, content: `<${n}>` },
      });
      if (ack.ok) vector = next;
      else refused = ack;
    }
    assert.equal(refused?.error.code, 'STORAGE_ERROR', JSON.stringify(refused));

    // The job ends without its stream going on (the gate stays closed).
    await until(a, () => ev.some((e) => e.event === 'ai-error'), 20000);
    const end = errorOf(ev);
    assert.equal(end.jobId, asked.jobId);
    assert.equal(end.error.code, 'STORAGE_ERROR');
    assert.equal(typeof end.error.message, 'string');
    assert.equal(ev.filter((e) => e.event === 'ai-stream-chunk').length, 1);
    assert.equal(ev.some((e) => e.event === 'ai-stream-complete'), false);

    // Space returns (a join may need a write): rejoined, the requester
    // reads how the job really ended, from the hub's memory (the store
    // refused to record that end too), the record not being written again
    // yet. The gated stream, let on now, writes nothing more.
    await until(a, () => closures.length > 0, 20000);
    // The job's end reaches the store after the ai-error: wait until the
    // store has refused it too, before space returns.
    const kept = new RegExp(`Cannot record the end of AI job ${asked.jobId}: .*; kept to be saved again`);
    await until(a, () => kept.test(hub.stderr()), 20000);
    setFileSizeLimit(hub.pid, 'unlimited');
    ai.openGate();
    await join(a, prdId);
    const job = (await request(a, 'ai-job-status', { prdId, jobId: asked.jobId })).job;
    assert.equal(job.state, 'failed', JSON.stringify(job));
    assert.equal(job.error.code, 'STORAGE_ERROR');
    assert.equal(job.error.message, end.error.message);

    // The next job's record is written, and the kept one with it, without
    // waiting for a restart.
    const next = await request(a, 'ai-prompt', { prdId, prompt: 'Write more', insert: false });
    assert.equal(next.ok, true, JSON.stringify(next));
    await until(a, () => ev.some((e) => e.event === 'ai-stream-complete'));
    const recorded = new RegExp(`The end of AI job ${asked.jobId}, which waited for the database, is recorded`);
    await until(a, () => recorded.test(hub.stderr()), 20000);
    a.close();
    b.close();

    // After a restart, the record says the same.
    await hub.stop();
    const stopped = hub.stderr();
    hub = await startAiHub(ai, { extra, args: ['--data-dir', dataDir] });
    const c = await client(hub, alice);
    await join(c, prdId);
    const after = (await request(c, 'ai-job-status', { prdId, jobId: asked.jobId })).job;
    assert.equal(after.state, 'failed', `${JSON.stringify(after)}\n${stopped}`);
    assert.equal(after.error.code, 'STORAGE_ERROR');
    assert.doesNotMatch(after.error.message, /restarted/);
    c.close();
  } finally {
    await hub.stop();
    await ai.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

// `prdhub token revoke` cuts a user off (a stolen account): the AI jobs and
// the review they asked for with a revoked token end at once with
// TOKEN_REVOKED, before their connections end, and none of the queued ones
// ever starts or writes (docs/protocol.md, ai-error).
test('a revoked user\'s AI jobs and review end with TOKEN_REVOKED; none starts, nothing is written', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai, { extra: 'concurrency=2\n[auth]\nrevocation-check-interval=1\n' });
  try {
    const prdId = await createPrd(hub, 'Revoked', 'Start.\n');
    const reviewed = await createPrd(hub, 'Reviewed', 'scenario:stall-headers\n# PRD\n');
    const alice = await client(hub, user('rv_alice'));
    const bob = await client(hub, user('rv_bob'));
    const mallory = await client(hub, user('rv_mallory', { iat: Math.floor(Date.now() / 1000) - 10 }));
    await join(alice, prdId);
    await join(bob, prdId, { mode: 'view' });
    await join(mallory, prdId);
    await join(mallory, reviewed, { mode: 'view' });
    const names = ['ai-stream-start', 'ai-stream-chunk', 'ai-stream-complete', 'ai-error'];
    const evBob = recorder(bob, names);
    const evAlice = recorder(alice, names);
    const evM = recorder(mallory, [...names, 'error', 'disconnect']);
    const written = recorder(bob, ['content-update']);
    const starts = () => evBob.filter((e) => e.event === 'ai-stream-start').map((e) => e.data.jobId);

    // Alice's job and one of Mallory's hold both slots; Mallory's next two
    // wait, and her review waits at the provider.
    const held = await request(alice, 'ai-prompt', { prdId, prompt: 'scenario:stall a', insert: false });
    const running = await request(mallory, 'ai-prompt', { prdId, prompt: 'scenario:stall m', insert: false });
    await until(bob, () => starts().length === 2);
    const queued = [];
    for (const prompt of ['one', 'two'])
      queued.push((await request(mallory, 'ai-prompt', { prdId, prompt })).jobId);
    const review = await request(mallory, 'ai-review', { prdId: reviewed });
    for (const r of [held, running, review]) assert.equal(r.ok, true, JSON.stringify(r));
    assert.deepEqual(starts(), [held.jobId, running.jobId]);

    const res = execFileSync(PRDHUB_BIN, ['token', 'revoke', '--user', 'rv_mallory', '--org', 'org_e2e',
      '--data-dir', hub.dataDir], { encoding: 'utf8' });
    assert.match(res, /rv_mallory/);
    await until(mallory, () => evM.some((e) => e.event === 'disconnect'));

    // Mallory heard of each before her connection ended.
    const last = evM.findIndex((e) => e.event === 'error');
    assert.equal(evM[last].data.code, 'TOKEN_REVOKED');
    const ended = evM.slice(0, last).filter((e) => e.event === 'ai-error')
      .map((e) => [e.data.jobId ?? e.data.reviewId, e.data.error.code]);
    assert.deepEqual(ended.sort(), [...queued, running.jobId, review.reviewId]
      .map((id) => [id, 'TOKEN_REVOKED']).sort());
    // The room saw the running one end; the queued ones never started.
    assert.deepEqual(evBob.filter((e) => e.event === 'ai-error').map((e) => [e.data.jobId, e.data.error.code]),
      [[running.jobId, 'TOKEN_REVOKED']]);
    for (const jobId of [...queued, running.jobId]) {
      const { job } = await request(bob, 'ai-job-status', { prdId, jobId });
      assert.equal(job.state, 'failed', JSON.stringify(job));
      assert.equal(job.error.code, 'TOKEN_REVOKED');
    }

    // Slots free: Alice's next job runs; none of Mallory's ever starts.
    assert.equal((await request(alice, 'ai-cancel', { jobId: held.jobId })).ok, true);
    const next = await request(alice, 'ai-prompt', { prdId, prompt: 'after', insert: false });
    await until(alice, () => evAlice.some((e) => e.event === 'ai-stream-complete'));
    assert.equal(evAlice.find((e) => e.event === 'ai-stream-complete').data.jobId, next.jobId);
    assert.deepEqual(starts(), [held.jobId, running.jobId, next.jobId]);
    assert.equal(written.length, 0);
    assert.equal(await contentOf(hub, prdId), 'Start.\n');
    alice.close();
    bob.close();
  } finally {
    await hub.stop();
    await ai.stop();
  }
});
