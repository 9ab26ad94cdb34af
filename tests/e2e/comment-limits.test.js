// SPDX-License-Identifier: GPL-3.0-or-later
//
// What open comments may cost a PRD (docs/protocol.md, "Comments on /prds",
// "Limits"): `selection.text` is cut at 1000 UTF-16 code units (never
// inside a surrogate pair) with `textTruncated: true`; open comments per
// PRD, per user and PRD, replies per comment and the weight of a PRD's open
// comments are capped ([collab] max-open-comments, max-open-comments-per-user,
// max-replies, max-open-comments-bytes), refused with LIMIT_REACHED.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, token } from './helpers/hub.js';
import { client, request, join, user, createPrd, recorder, until, rest } from './collab-helpers.js';

const viewer = user('user_v', { role: 'viewer' });

test('selection.text is cut at 1000 UTF-16 units wherever a comment is sent', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    // 999 'a', an emoji across the limit, then more.
    const text = 'a'.repeat(999) + '😀' + 'b'.repeat(3000) + '\n';
    const prdId = await createPrd(hub, 'Long selection', text);
    const a = await client(hub, user('user_a'));
    sockets.push(a);
    await join(a, prdId);
    const heard = recorder(a, ['comment-added']);
    const ack = await request(a, 'add-comment', {
      prdId, position: 0, content: 'All of it', selection: { start: 0, end: text.length - 1 },
    });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    const short = await request(a, 'add-comment', {
      prdId, position: 0, content: 'Some', selection: { start: 1001, end: 1011 },
    });
    assert.equal(short.ok, true, JSON.stringify(short));
    await until(a, () => heard.length === 2);

    const check = (list) => {
      const long = list.find((c) => c.commentId === ack.commentId);
      assert.deepEqual(long.selection,
        { start: 0, end: text.length - 1, text: 'a'.repeat(999), textTruncated: true });
      const other = list.find((c) => c.commentId === short.commentId);
      assert.deepEqual(other.selection, { start: 1001, end: 1011, text: 'b'.repeat(10) });
    };
    check(heard.map((e) => e.data));
    const b = await client(hub, user('user_b'));
    sockets.push(b);
    const { joined } = await join(b, prdId);
    check(joined.comments);
    const listed = await rest(hub, 'GET', `/api/prds/${prdId}/comments`);
    assert.equal(listed.status, 200, listed.text);
    check(listed.json.comments);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('a viewer cannot make joined-prd outgrow max-write-buffer with comments', async () => {
  // The audit's attack, scaled down: comments with the longest content and a
  // selection over the whole (large) text, against a 1 MiB write buffer.
  // (A PRD's text, at 6 bytes of JSON per unit, must fit in the buffer too.)
  const hub = await startHub({ config: '[engine]\nmax-write-buffer = 1048576\n[collab]\nmax-document-size = 174762\n' });
  const sockets = [];
  try {
    const text = 'The quick brown fox jumps over the lazy dog.\n'.repeat(2300); // ~100 KB
    const prdId = await createPrd(hub, 'Big', text);
    const v = await client(hub, viewer);
    sockets.push(v);
    await join(v, prdId, { mode: 'view' });
    for (let i = 0; i < 12; i++) {
      const ack = await request(v, 'add-comment', {
        prdId, position: 0, content: 'x'.repeat(10000), selection: { start: 0, end: text.length },
      });
      assert.equal(ack.ok, true, JSON.stringify(ack));
    }
    const owner = await client(hub, user('user_owner'));
    sockets.push(owner);
    let gone = null;
    owner.on('disconnect', (reason) => { gone = reason; });
    const { joined } = await join(owner, prdId);
    assert.equal(joined.comments.length, 12);
    for (const c of joined.comments) {
      assert.equal(c.selection.text.length, 1000);
      assert.equal(c.selection.textTruncated, true);
    }
    // ...and the owner can resolve them.
    const ack = await request(owner, 'resolve-comment', { commentId: joined.comments[0].commentId });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    assert.equal(gone, null);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('open comments per PRD and per user, and replies, are capped with LIMIT_REACHED', async () => {
  const hub = await startHub({
    config: '[collab]\nmax-open-comments = 3\nmax-open-comments-per-user = 2\nmax-replies = 2\n',
  });
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Capped', 'some text here\n');
    const other = await createPrd(hub, 'Other', 'other text\n');
    const a = await client(hub, user('user_a'));
    const v = await client(hub, viewer);
    sockets.push(a, v);
    await join(a, prdId);
    await join(v, prdId, { mode: 'view' });
    await join(v, other, { mode: 'view' });
    const heard = recorder(a, ['comment-added', 'comment-replied']);
    const add = (s, content, id = prdId) => request(s, 'add-comment', { prdId: id, position: 0, content });

    const v1 = await add(v, 'one');
    const v2 = await add(v, 'two');
    assert.equal(v1.ok, true);
    assert.equal(v2.ok, true);
    const v3 = await add(v, 'three');
    assert.equal(v3.error?.code, 'LIMIT_REACHED', JSON.stringify(v3));
    assert.match(v3.error.message, /max-open-comments-per-user/);
    // Another PRD has its own count.
    assert.equal((await add(v, 'elsewhere', other)).ok, true);
    const a1 = await add(a, 'mine');
    assert.equal(a1.ok, true);
    const a2 = await add(a, 'one too many');
    assert.equal(a2.error?.code, 'LIMIT_REACHED', JSON.stringify(a2));
    assert.match(a2.error.message, /max-open-comments\b/);

    // Replies: two per comment.
    for (const content of ['r1', 'r2']) {
      const r = await request(a, 'reply-comment', { commentId: v1.commentId, content });
      assert.equal(r.ok, true, JSON.stringify(r));
    }
    const r3 = await request(v, 'reply-comment', { commentId: v1.commentId, content: 'r3' });
    assert.equal(r3.error?.code, 'LIMIT_REACHED', JSON.stringify(r3));
    assert.match(r3.error.message, /max-replies/);

    // Nothing refused was sent or kept.
    await until(a, () => heard.length === 5);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(heard.length, 5);
    let listed = await rest(hub, 'GET', `/api/prds/${prdId}/comments`);
    assert.deepEqual(listed.json.comments.map((c) => c.content), ['one', 'two', 'mine']);
    assert.equal(listed.json.comments[0].replies.length, 2);

    // Resolving frees a place.
    assert.equal((await request(v, 'resolve-comment', { commentId: v2.commentId })).ok, true);
    const again = await add(v, 'three');
    assert.equal(again.ok, true, JSON.stringify(again));
    listed = await rest(hub, 'GET', `/api/prds/${prdId}/comments`);
    assert.deepEqual(listed.json.comments.map((c) => c.content), ['one', 'mine', 'three']);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('the weight of a PRD\'s open comments is capped (max-open-comments-bytes)', async () => {
  const hub = await startHub({ config: '[collab]\nmax-open-comments-bytes = 65536\n' });
  const sockets = [];
  try {
    const text = 'x'.repeat(5000) + '\n';
    const prdId = await createPrd(hub, 'Heavy', text);
    const a = await client(hub, user('user_a'));
    sockets.push(a);
    await join(a, prdId);
    const selection = { start: 0, end: 5000 };
    // Control characters: 6 bytes of JSON each, the worst case.
    const contents = ['\u0001'.repeat(4000), 'y'.repeat(10000), '"'.repeat(2000)];
    const acks = [];
    for (const content of contents)
      acks.push(await request(a, 'add-comment', { prdId, position: 0, content, selection }));
    assert.equal(acks[0].ok, true, JSON.stringify(acks[0]));
    assert.equal(acks[1].ok, true, JSON.stringify(acks[1]));
    let refused = null;
    for (let i = 0; i < 10 && refused === null; i++) {
      const ack = await request(a, 'add-comment', { prdId, position: 0, content: 'z'.repeat(10000), selection });
      if (ack.error) refused = ack;
    }
    assert.equal(refused?.error?.code, 'LIMIT_REACHED', JSON.stringify(refused));
    assert.match(refused.error.message, /max-open-comments-bytes/);
    // What joined-prd carries stays within the budget.
    const b = await client(hub, user('user_b'));
    sockets.push(b);
    const { joined } = await join(b, prdId);
    assert.ok(Buffer.byteLength(JSON.stringify(joined.comments)) <= 65536);
    const listed = await rest(hub, 'GET', `/api/prds/${prdId}/comments`, { tok: token(user('user_b')) });
    assert.ok(Buffer.byteLength(JSON.stringify(listed.json.comments)) <= 65536);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});
