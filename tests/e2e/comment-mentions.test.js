// SPDX-License-Identifier: GPL-3.0-or-later
//
// Mentions that name nobody are reported to the author: the ack of
// add-comment and reply-comment carries `unresolvedMentions`
// (docs/protocol.md, "Comments on /prds", "Mentions").

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, token, connect } from './helpers/hub.js';
import { client, request, join, user, createPrd, recorder, until, bump } from './collab-helpers.js';

const ORG = 'org_e2e';

test('add-comment and reply-comment acks list the mentions that matched nobody', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Unresolved', 'some text\n');
    const a = await client(hub, user('user_a'));
    const c = await client(hub, user('user_c', { name: 'Carol Jones' }));
    sockets.push(a, c);
    await join(a, prdId);
    await join(c, prdId, { mode: 'view' });
    const nc = await connect(hub.url,
      { transports: ['websocket'], auth: { token: token(user('user_c', { name: 'Carol Jones' })) } },
      '/notifications');
    sockets.push(nc);
    const got = recorder(nc, ['notification']);
    assert.equal((await request(nc, 'subscribe', { organizationId: ORG })).ok, true);

    // Matched: a display name without blanks (any case), an id, the author
    // (matched, never notified). Unmatched: each name once, as written, in
    // order; an e-mail address is no mention at all.
    const ack = await request(a, 'add-comment', {
      prdId, position: 0,
      content: '@caroljones @Ghost, @user_a and @ghost; @Ghost again, mail me@example.org. @Bob.',
    });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    assert.match(ack.commentId, /^comment_/);
    assert.deepEqual(ack.unresolvedMentions, ['Ghost', 'ghost', 'Bob']);
    await until(nc, () => got.length === 1);
    assert.equal(got[0].data.type, 'mention');

    // Everything resolved: an empty list.
    const ok = await request(a, 'add-comment', { prdId, position: 0, content: 'ping @user_c' });
    assert.deepEqual(ok.unresolvedMentions, []);
    const none = await request(a, 'add-comment', { prdId, position: 0, content: 'no mention' });
    assert.deepEqual(none.unresolvedMentions, []);

    // Replies too; a user who is not in the room is matched by name only
    // while present.
    const reply = await request(c, 'reply-comment', {
      commentId: ack.commentId, content: 'asking @NameUser_a and @nameuser_z',
    });
    assert.equal(reply.ok, true, JSON.stringify(reply));
    assert.match(reply.replyId, /^reply_/);
    assert.deepEqual(reply.unresolvedMentions, ['nameuser_z']);

    // A refused comment has no such field: the error only.
    const bad = await request(a, 'add-comment', { prdId, position: 10000, content: '@Ghost' });
    assert.equal(bad.error.code, 'INVALID_PAYLOAD');
    assert.equal(bad.unresolvedMentions, undefined);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('a mention names someone who edited and left, and a comment of the largest size is all mentions', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Editors', 'some text\n');
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    sockets.push(a, b);
    await join(a, prdId);
    const jb = await join(b, prdId);
    const op = { type: 'insert', position: 0, content: 'B was here. ', timestamp: Date.now() };
    const edit = await request(b, 'content-update',
      { prdId, operation: op, stateVector: bump(jb.vector, jb.siteId) });
    assert.equal(edit.ok, true, JSON.stringify(edit));
    assert.equal((await request(b, 'leave-prd', { prdId })).ok, true);

    // Not in the room any more, but the owner of one of the PRD's sites:
    // matched by id (not by display name: that is only known while present).
    const ack = await request(a, 'add-comment',
      { prdId, position: 0, content: 'thanks @user_b and @NameUser_b' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    assert.deepEqual(ack.unresolvedMentions, ['NameUser_b']);

    // 10,000 characters (the limit) of distinct mentions that match nobody,
    // each looked up among the present users and the PRD's editors: every
    // one comes back, in order.
    const names = [];
    let content = '';
    for (let i = 0; ; i++) {
      const next = `@m${i.toString(36)} `;
      if (content.length + next.length > 10000) break;
      content += next;
      names.push(`m${i.toString(36)}`);
    }
    const many = await request(a, 'add-comment', { prdId, position: 0, content });
    assert.equal(many.ok, true, JSON.stringify(many).slice(0, 200));
    assert.deepEqual(many.unresolvedMentions, names);
    assert.ok(names.length > 1500, `${names.length} mentions`);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});
