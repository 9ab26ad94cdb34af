// SPDX-License-Identifier: GPL-3.0-or-later
//
// Comments (/prds), notifications and the activity feed (/notifications),
// approvals, and their REST routes (docs/protocol.md, "Comments",
// "Notifications", "Activity feed").

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { startHub, tmpDir, token, connect, PRDHUB_BIN } from './helpers/hub.js';
import {
  client, request, join, bump, once, user, rest, createPrd, recorder, until,
} from './collab-helpers.js';

const ORG = 'org_e2e';
const TS = (s) => assert.ok(!Number.isNaN(Date.parse(s)), `timestamp ${s}`);

async function notifications(hub, claims) {
  return connect(hub.url, { transports: ['websocket'], auth: { token: token(claims) } },
    '/notifications');
}

async function subscribe(socket, org = ORG) {
  const got = recorder(socket, ['notification', 'activity-update']);
  const ack = await request(socket, 'subscribe', { organizationId: org });
  return { ack, got };
}

// An edit through content-update; returns the new vector.
async function edit(socket, prdId, site, vector, operation) {
  const v = bump(vector, site);
  const ack = await request(socket, 'content-update', {
    prdId, operation: { ...operation, timestamp: Date.now() }, stateVector: v,
  });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  return ack.stateVector ?? v;
}

async function comments(hub, prdId, claims) {
  const res = await rest(hub, 'GET', `/api/prds/${prdId}/comments`,
    { tok: claims ? token(claims) : undefined });
  assert.equal(res.status, 200, res.text);
  return res.json.comments;
}

test('comments: seed shapes, anchors that follow edits, replies, resolve', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Anchors', 'Hello OAuth2 endpoint world\n');
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    sockets.push(a, b);
    await join(a, prdId);
    const jb = await join(b, prdId);
    assert.deepEqual(jb.joined.comments, []);
    const seenA = recorder(a, ['comment-added', 'comment-replied', 'comment-resolved']);
    const seenB = recorder(b, ['comment-added', 'comment-replied', 'comment-resolved']);

    // §6.1 verbatim shape
    const ack = await request(a, 'add-comment', {
      prdId,
      position: 6,
      content: 'Should we consider rate limiting here?',
      selection: { start: 6, end: 21, text: 'OAuth2 endpoint' },
    });
    assert.equal(ack.ok, true);
    assert.match(ack.commentId, /^comment_[0-9a-f]+$/);
    await until(b, () => seenA.length === 1 && seenB.length === 1);
    const added = seenB[0].data;
    assert.deepEqual(seenA[0].data, added);
    assert.equal(added.commentId, ack.commentId);
    assert.equal(added.prdId, prdId);
    assert.deepEqual(added.author, {
      id: 'user_a', name: 'Name user_a', avatar: 'https://avatar.invalid/user_a.png',
    });
    assert.equal(added.position, 6);
    assert.equal(added.content, 'Should we consider rate limiting here?');
    assert.deepEqual(added.selection, { start: 6, end: 21, text: 'OAuth2 endpoint' });
    TS(added.createdAt);
    assert.equal(added.detached, undefined);

    // Insert before: everything shifts.
    let v = jb.vector;
    v = await edit(b, prdId, jb.siteId, v, { type: 'insert', position: 0, content: 'XXX' });
    let [c] = await comments(hub, prdId);
    assert.equal(c.position, 9);
    assert.deepEqual(c.selection, { start: 9, end: 24, text: 'OAuth2 endpoint' });
    assert.deepEqual(c.replies, []);

    // Typing right after the selection stays out of it.
    v = await edit(b, prdId, jb.siteId, v, { type: 'insert', position: 24, content: '!!' });
    [c] = await comments(hub, prdId);
    assert.deepEqual(c.selection, { start: 9, end: 24, text: 'OAuth2 endpoint' });

    // Delete across the start: the selection keeps what is left.
    v = await edit(b, prdId, jb.siteId, v, { type: 'delete', position: 7, length: 6 });
    [c] = await comments(hub, prdId);
    assert.deepEqual(c.selection, { start: 7, end: 18, text: 'h2 endpoint' });
    assert.equal(c.detached, undefined);

    // Delete the anchored text: the comment stays, detached.
    v = await edit(b, prdId, jb.siteId, v, { type: 'delete', position: 7, length: 11 });
    [c] = await comments(hub, prdId);
    assert.equal(c.detached, true);
    assert.deepEqual(c.selection, { start: 7, end: 7, text: '' });
    assert.equal(c.content, 'Should we consider rate limiting here?');

    // A new joiner gets the open comment with joined-prd.
    const late = await client(hub, user('user_late'));
    sockets.push(late);
    const jl = await join(late, prdId, { mode: 'view' });
    assert.equal(jl.joined.comments.length, 1);
    assert.equal(jl.joined.comments[0].commentId, ack.commentId);
    assert.equal(jl.joined.comments[0].detached, true);

    // §6.2
    const r = await request(b, 'reply-comment', {
      commentId: ack.commentId, content: 'Yes, 100 requests per minute should be sufficient',
    });
    assert.equal(r.ok, true);
    await until(a, () => seenA.length === 2 && seenB.length === 2);
    const replied = seenA[1].data;
    assert.equal(seenA[1].event, 'comment-replied');
    assert.deepEqual(Object.keys(replied).sort(), ['commentId', 'reply']);
    assert.equal(replied.commentId, ack.commentId);
    assert.match(replied.reply.id, /^reply_/);
    assert.equal(replied.reply.id, r.replyId);
    assert.deepEqual(replied.reply.author, { id: 'user_b', name: 'Name user_b' });
    assert.equal(replied.reply.content, 'Yes, 100 requests per minute should be sufficient');
    TS(replied.reply.createdAt);

    // A viewer may comment too.
    const lv = await request(late, 'add-comment', { prdId, position: 0, content: 'viewer note' });
    assert.equal(lv.ok, true);

    // §6.3
    const res = await request(a, 'resolve-comment', { commentId: ack.commentId });
    assert.equal(res.ok, true);
    await until(b, () => seenB.some((e) => e.event === 'comment-resolved'));
    const resolved = seenB.find((e) => e.event === 'comment-resolved').data;
    assert.deepEqual(Object.keys(resolved).sort(), ['commentId', 'resolvedAt', 'resolvedBy']);
    assert.equal(resolved.commentId, ack.commentId);
    assert.deepEqual(resolved.resolvedBy, { id: 'user_a', name: 'Name user_a' });
    TS(resolved.resolvedAt);
    const open = await comments(hub, prdId);
    assert.deepEqual(open.map((x) => x.commentId), [lv.commentId]);

    // Resolving twice, replying to a resolved comment: refused.
    const again = await request(a, 'resolve-comment', { commentId: ack.commentId });
    assert.equal(again.error.code, 'INVALID_OPERATION');
    const late2 = await request(b, 'reply-comment', { commentId: ack.commentId, content: 'x' });
    assert.equal(late2.error.code, 'INVALID_OPERATION');
    // A reply sent while a resolve is being written is refused too (it
    // would go to a comment resolved before it is stored).
    const racing = await request(a, 'add-comment', { prdId, position: 0, content: 'racing' });
    const [resolving, racingReply] = await Promise.all([
      request(a, 'resolve-comment', { commentId: racing.commentId }),
      request(a, 'reply-comment', { commentId: racing.commentId, content: 'too late' }),
    ]);
    assert.equal(resolving.ok, true, JSON.stringify(resolving));
    assert.equal(racingReply.error?.code, 'INVALID_OPERATION', JSON.stringify(racingReply));
    // A viewer resolves only their own comments.
    const vr = await request(late, 'resolve-comment', { commentId: lv.commentId });
    assert.equal(vr.ok, true);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

// The hub keeps the last answers of GET .../comments (a burst of readers
// costs one placement): every change must still show in the next read.
test('GET comments answers anew after every change, and per PRD', async () => {
  const hub = await startHub({ config: '[collab]\nempty-room-grace = 0\n' });
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Kept', 'abcdef\n');
    const other = await createPrd(hub, 'Other', 'xyz\n');
    const a = await client(hub, user('user_a'));
    sockets.push(a);
    const j = await join(a, prdId);
    await join(a, other);
    const first = await request(a, 'add-comment', {
      prdId, position: 2, content: 'one', selection: { start: 2, end: 4, text: 'cd' },
    });
    assert.equal(first.ok, true, JSON.stringify(first));
    let list = await comments(hub, prdId);
    assert.deepEqual(list.map((c) => [c.commentId, c.position, c.replies.length]),
      [[first.commentId, 2, 0]]);
    assert.deepEqual(await comments(hub, prdId), list);

    // An edit before the anchor moves it.
    await edit(a, prdId, j.siteId, j.vector, { type: 'insert', position: 0, content: 'XY' });
    list = await comments(hub, prdId);
    assert.equal(list[0].position, 4);
    assert.deepEqual(list[0].selection, { start: 4, end: 6, text: 'cd' });

    // A reply.
    assert.equal((await request(a, 'reply-comment',
      { commentId: first.commentId, content: 'r1' })).ok, true);
    list = await comments(hub, prdId);
    assert.deepEqual(list[0].replies.map((r) => r.content), ['r1']);

    // Another PRD's comment shows in its answer only.
    const o = await request(a, 'add-comment', { prdId: other, position: 0, content: 'elsewhere' });
    assert.deepEqual(await comments(hub, prdId), list);
    assert.deepEqual((await comments(hub, other)).map((c) => c.commentId), [o.commentId]);

    // A resolve, then a new comment.
    assert.equal((await request(a, 'resolve-comment', { commentId: first.commentId })).ok, true);
    assert.deepEqual(await comments(hub, prdId), []);
    const second = await request(a, 'add-comment', { prdId, position: 0, content: 'two' });
    list = await comments(hub, prdId);
    assert.deepEqual(list.map((c) => c.commentId), [second.commentId]);

    // The room closed: the text is built from the store, the answer the same.
    await request(a, 'leave-prd', { prdId });
    assert.deepEqual(await comments(hub, prdId), list);

    // More PRDs read in turn than the hub keeps answers of: each its own.
    const many = [];
    for (let i = 0; i < 20; i++) {
      const id = await createPrd(hub, `Many ${i}`, `text ${i}\n`);
      await join(a, id);
      const c = await request(a, 'add-comment', { prdId: id, position: 1, content: `c${i}` });
      many.push([id, c.commentId]);
    }
    for (let round = 0; round < 2; round++) {
      for (const [id, commentId] of many) {
        const got = await comments(hub, id);
        assert.deepEqual(got.map((c) => [c.commentId, c.prdId, c.position]), [[commentId, id, 1]]);
      }
    }
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('anchors under concurrent edits converge to the same place for everyone', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Concurrent', 'abcdefghij');
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    sockets.push(a, b);
    const ja = await join(a, prdId);
    const jb = await join(b, prdId);
    const { commentId } = await request(a, 'add-comment', {
      prdId, position: 4, content: 'on efg', selection: { start: 4, end: 7, text: 'efg' },
    });
    // Both edit from the same base without seeing each other.
    const ops = await Promise.all([
      request(a, 'content-update', {
        prdId, operation: { type: 'insert', position: 2, content: '12' },
        stateVector: bump(ja.vector, ja.siteId),
      }),
      request(b, 'content-update', {
        prdId, operation: { type: 'delete', position: 5, length: 1 },
        stateVector: bump(jb.vector, jb.siteId),
      }),
    ]);
    ops.forEach((o) => assert.equal(o.ok, true, JSON.stringify(o)));
    const [c] = await comments(hub, prdId);
    const page = await rest(hub, 'GET', `/api/prds/${prdId}`);
    assert.equal(page.json.content, 'ab12cdeghij');
    assert.equal(c.commentId, commentId);
    assert.deepEqual(c.selection, { start: 6, end: 8, text: 'eg' });
    assert.equal(page.json.content.slice(c.selection.start, c.selection.end), 'eg');
    assert.equal(c.position, 6);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

// Offsets read in a client's text that lacks another's latest edit: with
// the version they were read in (stateVector), the comment sits on the
// characters the client meant.
test('a comment placed at an older version sits where the client pointed', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Versioned comment', 'abcdefghij');
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    sockets.push(a, b);
    const ja = await join(a, prdId);
    const jb = await join(b, prdId);
    const ack = await request(b, 'content-update', {
      prdId, operation: { type: 'insert', position: 0, content: 'XYZ' }, stateVector: bump(jb.vector, jb.siteId),
    });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    // A has not seen "XYZ": "efg" is at 4..7 in its text.
    const { commentId } = await request(a, 'add-comment', {
      prdId, position: 4, content: 'on efg', selection: { start: 4, end: 7, text: 'efg' },
      stateVector: ja.vector,
    });
    const [c] = await comments(hub, prdId);
    assert.equal(c.commentId, commentId);
    assert.deepEqual(c.selection, { start: 7, end: 10, text: 'efg' });
    assert.equal(c.position, 7);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('mentions notify live and after reconnect (unread first); mark-read', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Mentions', 'some text\n');
    const a = await client(hub, user('user_a'));
    const c = await client(hub, user('user_c'));
    const d = await client(hub, user('user_d'));
    sockets.push(a, c, d);
    await join(a, prdId);
    await join(c, prdId, { mode: 'view' });
    // user_d edits once (holds a site), then leaves: ids still resolve.
    await join(d, prdId);
    await request(d, 'leave-prd', { prdId });
    d.close();

    const nc = await notifications(hub, user('user_c'));
    sockets.push(nc);
    const sc = await subscribe(nc);
    assert.equal(sc.ack.ok, true);
    assert.equal(sc.ack.unread, 0);

    // @name: the display name without blanks; @id; the author never; unknown names ignored.
    const { commentId } = await request(a, 'add-comment', {
      prdId, position: 0, content: 'cc @NameUser_c and @user_d and @user_a and @nobody, thanks',
    });
    await until(nc, () => sc.got.some((e) => e.event === 'notification'));
    const live = sc.got.find((e) => e.event === 'notification').data;
    assert.match(live.id, /^notif_/);
    assert.equal(live.type, 'mention');
    assert.equal(typeof live.title, 'string');
    assert.equal(live.message, 'Name user_a mentioned you in a comment on "Mentions"');
    assert.equal(live.data.prdId, prdId);
    assert.equal(live.data.commentId, commentId);
    TS(live.timestamp);

    // A reply to user_a's comment notifies user_a (as well as the mention of user_d).
    await request(c, 'reply-comment', { commentId, content: 'noted, @user_d' });

    // user_d was away: both arrive on subscribe, oldest first, before the ack.
    const nd = await notifications(hub, user('user_d'));
    sockets.push(nd);
    const sd = await subscribe(nd);
    assert.equal(sd.ack.unread, 2);
    const unread = sd.got.filter((e) => e.event === 'notification').map((e) => e.data);
    assert.equal(unread.length, 2);
    assert.deepEqual(unread.map((n) => n.type), ['mention', 'mention']);
    assert.ok(Date.parse(unread[0].timestamp) <= Date.parse(unread[1].timestamp));

    const na = await notifications(hub, user('user_a'));
    sockets.push(na);
    const sa = await subscribe(na);
    const replyNote = sa.got.filter((e) => e.event === 'notification').map((e) => e.data);
    assert.deepEqual(replyNote.map((n) => n.type), ['comment_reply']);
    assert.equal(replyNote[0].data.commentId, commentId);

    // mark-read: counts what it marked; others' ids and repeats count 0.
    const m1 = await request(nd, 'mark-read', { ids: [unread[0].id, replyNote[0].id] });
    assert.deepEqual(m1, { ok: true, marked: 1 });
    const m2 = await request(nd, 'mark-read', { ids: [unread[0].id] });
    assert.deepEqual(m2, { ok: true, marked: 0 });
    nd.close();
    const nd2 = await notifications(hub, user('user_d'));
    sockets.push(nd2);
    const sd2 = await subscribe(nd2);
    assert.equal(sd2.ack.unread, 1);
    assert.deepEqual(sd2.got.filter((e) => e.event === 'notification').map((e) => e.data.id),
      [unread[1].id]);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('approval: admins only; the owner gets prd_approved exactly as the seed', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const owner = { sub: 'user_owner', name: 'Owner' };
    const prdId = await createPrd(hub, 'User Authentication', 'x', owner);
    const no = await notifications(hub, owner);
    sockets.push(no);
    const so = await subscribe(no);

    const editor = await client(hub, user('user_ed'));
    const admin = await client(hub, { sub: 'user_admin', name: 'Sarah Smith', role: 'admin' });
    sockets.push(editor, admin);
    const refused = await request(editor, 'approve-prd', { prdId });
    assert.equal(refused.error.code, 'FORBIDDEN');
    const missing = await request(admin, 'approve-prd', { prdId: 'prd_doesnotexist' });
    assert.equal(missing.error.code, 'PRD_NOT_FOUND');

    const ok = await request(admin, 'approve-prd', { prdId, comment: 'Ship it' });
    assert.equal(ok.ok, true);
    assert.equal(ok.prdId, prdId);
    await until(no, () => so.got.some((e) => e.event === 'notification'));
    const n = so.got.find((e) => e.event === 'notification').data;
    assert.deepEqual(Object.keys(n).sort(), ['data', 'id', 'message', 'timestamp', 'title', 'type']);
    assert.match(n.id, /^notif_/);
    assert.equal(n.type, 'prd_approved');
    assert.equal(n.title, 'PRD Approved');
    assert.equal(n.message, 'Your PRD "User Authentication" has been approved');
    assert.deepEqual(n.data, { prdId, approver: 'Sarah Smith' });
    TS(n.timestamp);
    await until(no, () => so.got.some((e) => e.event === 'activity-update'
      && e.data.activity.type === 'prd_approved'));
    const act = so.got.find((e) => e.event === 'activity-update'
      && e.data.activity.type === 'prd_approved').data;
    assert.equal(act.organizationId, ORG);
    assert.deepEqual(act.activity.actor, { id: 'user_admin', name: 'Sarah Smith' });
    assert.deepEqual(act.activity.object, { type: 'prd', id: prdId, title: 'User Authentication' });
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('activity feed: live updates to the organization, REST paging, limits', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const n = await notifications(hub, user('user_watch'));
    const other = await notifications(hub, user('user_x', { org: 'org_other' }));
    sockets.push(n, other);
    const s = await subscribe(n);
    const so = await subscribe(other, 'org_other');
    assert.equal(so.ack.ok, true);

    const ids = [];
    for (let i = 0; i < 5; i++)
      ids.push(await createPrd(hub, `Feed ${i}`, undefined, { sub: 'user_maker', name: 'Maker' }));
    await until(n, () => s.got.filter((e) => e.event === 'activity-update').length === 5);
    const first = s.got.find((e) => e.event === 'activity-update').data;
    assert.equal(first.organizationId, ORG);
    assert.match(first.activity.id, /^activity_/);
    assert.equal(first.activity.type, 'prd_created');
    assert.deepEqual(first.activity.actor, { id: 'user_maker', name: 'Maker' });
    assert.deepEqual(first.activity.object, { type: 'prd', id: ids[0], title: 'Feed 0' });
    TS(first.activity.timestamp);

    // Comments add and resolve activities.
    const a = await client(hub, user('user_a'));
    sockets.push(a);
    await join(a, ids[0]);
    const { commentId } = await request(a, 'add-comment', { prdId: ids[0], position: 0, content: 'hm' });
    await request(a, 'resolve-comment', { commentId });
    await until(n, () => s.got.filter((e) => e.event === 'activity-update').length === 7);
    const types = s.got.filter((e) => e.event === 'activity-update').map((e) => e.data.activity.type);
    assert.deepEqual(types.slice(5), ['comment_added', 'comment_resolved']);
    assert.equal(so.got.length, 0, 'another organization hears nothing');

    // Paging: newest first, `before` is the cursor.
    const seen = [];
    let before;
    for (let pages = 0; pages < 10; pages++) {
      const q = `/api/activity?organizationId=${ORG}&limit=3${before ? `&before=${before}` : ''}`;
      const res = await rest(hub, 'GET', q);
      assert.equal(res.status, 200, res.text);
      assert.ok(res.json.activities.length <= 3);
      seen.push(...res.json.activities);
      before = res.json.nextBefore;
      if (before === null) break;
    }
    assert.equal(seen.length, 7);
    assert.deepEqual(seen.map((x) => x.type).reverse(), types);
    assert.equal(seen[0].id, s.got.filter((e) => e.event === 'activity-update')[6].data.activity.id);

    for (const [q, status, code] of [
      ['/api/activity', 400, 'INVALID_PAYLOAD'],
      [`/api/activity?organizationId=org_other`, 403, 'FORBIDDEN'],
      [`/api/activity?organizationId=${ORG}&limit=101`, 400, 'INVALID_PAYLOAD'],
      [`/api/activity?organizationId=${ORG}&limit=0`, 400, 'INVALID_PAYLOAD'],
      [`/api/activity?organizationId=${ORG}&before=abc`, 400, 'INVALID_PAYLOAD'],
    ]) {
      const res = await rest(hub, 'GET', q);
      assert.equal(res.status, status, q);
      assert.equal(res.json.code, code, q);
    }
    const anon = await rest(hub, 'GET', `/api/activity?organizationId=${ORG}`, { tok: null });
    assert.equal(anon.status, 401);
    const full = await rest(hub, 'GET', `/api/activity?organizationId=${ORG}&limit=100`);
    assert.equal(full.json.activities.length, 7);
    assert.equal(full.json.nextBefore, null);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('organizations are isolated: comments, subscribe, REST', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Ours', 'text');
    const a = await client(hub, user('user_a'));
    const x = await client(hub, user('user_x', { org: 'org_other' }));
    sockets.push(a, x);
    await join(a, prdId);
    const { commentId } = await request(a, 'add-comment', { prdId, position: 0, content: 'ours' });

    const r1 = await request(x, 'reply-comment', { commentId, content: 'theirs' });
    assert.equal(r1.error.code, 'NOT_FOUND');
    const r2 = await request(x, 'resolve-comment', { commentId });
    assert.equal(r2.error.code, 'NOT_FOUND');
    const r3 = await request(x, 'add-comment', { prdId, position: 0, content: 'theirs' });
    assert.equal(r3.error.code, 'NOT_JOINED');
    const r4 = await request(x, 'approve-prd', { prdId });
    assert.equal(r4.error.code, 'FORBIDDEN');
    const xa = await client(hub, user('user_xa', { org: 'org_other', role: 'admin' }));
    sockets.push(xa);
    const r5 = await request(xa, 'approve-prd', { prdId });
    assert.equal(r5.error.code, 'PRD_NOT_FOUND');

    const nx = await notifications(hub, user('user_x', { org: 'org_other' }));
    sockets.push(nx);
    const sub = await request(nx, 'subscribe', { organizationId: ORG });
    assert.equal(sub.error.code, 'FORBIDDEN');
    const rest1 = await rest(hub, 'GET', `/api/prds/${prdId}/comments`,
      { tok: token(user('user_x', { org: 'org_other' })) });
    assert.equal(rest1.status, 404);
    assert.equal(rest1.json.code, 'PRD_NOT_FOUND');
    const mine = await comments(hub, prdId);
    assert.deepEqual(mine.map((c) => [c.commentId, c.replies.length]), [[commentId, 0]]);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

// A user is (org, sub): org "acme/x" with sub "bob" and org "acme" with sub
// "x/bob" are two users whose notifications never meet.
test('notifications reach (org, sub), never a user whose ids only join alike', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const slash = { org: 'acme/x' };
    const prdId = await createPrd(hub, 'Slashes', 'text\n', user('author', slash));
    const a = await client(hub, user('author', slash));
    const b = await client(hub, user('bob', slash));
    sockets.push(a, b);
    await join(a, prdId);
    await join(b, prdId, { mode: 'view' });
    const nVictim = await notifications(hub, user('bob', slash));
    const nOther = await notifications(hub, user('x/bob', { org: 'acme' }));
    sockets.push(nVictim, nOther);
    const sv = await subscribe(nVictim, 'acme/x');
    const so = await subscribe(nOther, 'acme');
    assert.equal(sv.ack.ok, true);
    assert.equal(so.ack.ok, true);
    const ack = await request(a, 'add-comment', { prdId, position: 0, content: 'cc @bob' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await until(nVictim, () => sv.got.some((e) => e.event === 'notification'));
    // A ping round trip on the other socket: anything sent to it has arrived.
    assert.deepEqual(await request(nOther, 'ping'), { ok: true });
    assert.deepEqual(so.got.filter((e) => e.event === 'notification'), []);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('every bad input is answered with a code and changes nothing', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Corpus', 'abc');
    const a = await client(hub, user('user_a'));
    sockets.push(a);
    await join(a, prdId);
    const { commentId } = await request(a, 'add-comment', { prdId, position: 1, content: 'ok' });
    const na = await notifications(hub, user('user_a'));
    sockets.push(na);
    await subscribe(na);
    const before = await comments(hub, prdId);
    const feedBefore = await rest(hub, 'GET', `/api/activity?organizationId=${ORG}`);
    const errors = recorder(a, ['error']);
    const big = 'x'.repeat(10001);

    const prdCases = [
      ['add-comment', 'x', 'INVALID_PAYLOAD'],
      ['add-comment', {}, 'INVALID_PAYLOAD'],
      ['add-comment', { prdId: 5, position: 0, content: 'c' }, 'INVALID_PAYLOAD'],
      ['add-comment', { prdId: 'bad id!', position: 0, content: 'c' }, 'INVALID_ID'],
      ['add-comment', { prdId, position: '1', content: 'c' }, 'INVALID_PAYLOAD'],
      ['add-comment', { prdId, position: -1, content: 'c' }, 'INVALID_PAYLOAD'],
      ['add-comment', { prdId, position: 1.5, content: 'c' }, 'INVALID_PAYLOAD'],
      ['add-comment', { prdId, position: 4, content: 'c' }, 'INVALID_PAYLOAD'],
      ['add-comment', { prdId, position: 0, content: 5 }, 'INVALID_PAYLOAD'],
      ['add-comment', { prdId, position: 0, content: '' }, 'INVALID_PAYLOAD'],
      ['add-comment', { prdId, position: 0, content: big }, 'INVALID_PAYLOAD'],
      ['add-comment', { prdId, position: 0, content: 'c', selection: 3 }, 'INVALID_PAYLOAD'],
      ['add-comment', { prdId, position: 0, content: 'c', selection: { start: 2, end: 1 } }, 'INVALID_PAYLOAD'],
      ['add-comment', { prdId, position: 0, content: 'c', selection: { start: 0, end: 9 } }, 'INVALID_PAYLOAD'],
      ['add-comment', { prdId, position: 0, content: 'c', selection: { start: 0, end: 1, text: 7 } }, 'INVALID_PAYLOAD'],
      ['add-comment', { prdId, position: 0, content: 'c', stateVector: 'v' }, 'INVALID_PAYLOAD'],
      ['add-comment', { prdId, position: 0, content: 'c', stateVector: [99] }, 'INVALID_PAYLOAD'],
      ['add-comment', { prdId, position: 9, content: 'c', stateVector: [1] }, 'INVALID_PAYLOAD'],
      ['add-comment', { prdId: 'prd_notjoined', position: 0, content: 'c' }, 'NOT_JOINED'],
      ['reply-comment', { commentId: 'comment_' + '0'.repeat(32), content: 'c' }, 'NOT_FOUND'],
      ['reply-comment', { commentId: 'nope', content: 'c' }, 'INVALID_ID'],
      // Ids are comment_ and 32 lower-case hex digits, nothing else.
      ['reply-comment', { commentId: 'comment_unknown', content: 'c' }, 'INVALID_ID'],
      ['reply-comment', { commentId: 'comment_ZZ', content: 'c' }, 'INVALID_ID'],
      ['reply-comment', { commentId: 'comment_' + 'A'.repeat(32), content: 'c' }, 'INVALID_ID'],
      ['reply-comment', { commentId: 'comment_' + '0'.repeat(31), content: 'c' }, 'INVALID_ID'],
      ['reply-comment', { commentId: 'comment_' + '0'.repeat(33), content: 'c' }, 'INVALID_ID'],
      ['reply-comment', { commentId: 7, content: 'c' }, 'INVALID_PAYLOAD'],
      ['reply-comment', { commentId, content: big }, 'INVALID_PAYLOAD'],
      ['reply-comment', { commentId, content: ['c'] }, 'INVALID_PAYLOAD'],
      ['reply-comment', { commentId }, 'INVALID_PAYLOAD'],
      ['resolve-comment', { commentId: 'comment_' + 'f'.repeat(32) }, 'NOT_FOUND'],
      ['resolve-comment', { commentId: 'comment_unknown' }, 'INVALID_ID'],
      ['resolve-comment', { commentId: null }, 'INVALID_PAYLOAD'],
      ['resolve-comment', [], 'INVALID_PAYLOAD'],
      ['approve-prd', { prdId: 3 }, 'INVALID_PAYLOAD'],
      ['approve-prd', { prdId, comment: 4 }, 'INVALID_PAYLOAD'],
      ['approve-prd', { prdId }, 'FORBIDDEN'],
    ];
    for (const [event, payload, code] of prdCases) {
      const ack = await request(a, event, payload);
      assert.equal(ack.error?.code, code, `${event} ${JSON.stringify(payload).slice(0, 80)}`);
      assert.equal(typeof ack.error.message, 'string');
    }
    await until(a, () => errors.length === prdCases.length);
    errors.forEach((e, i) => assert.equal(e.data.event, prdCases[i][0]));

    const notifCases = [
      ['subscribe', {}, 'INVALID_PAYLOAD'],
      ['subscribe', { organizationId: 5 }, 'INVALID_PAYLOAD'],
      ['subscribe', { organizationId: 'org_other' }, 'FORBIDDEN'],
      ['mark-read', {}, 'INVALID_PAYLOAD'],
      ['mark-read', { ids: 'notif_1' }, 'INVALID_PAYLOAD'],
      ['mark-read', { ids: [] }, 'INVALID_PAYLOAD'],
      ['mark-read', { ids: [5] }, 'INVALID_ID'],
      ['mark-read', { ids: ['comment_1'] }, 'INVALID_ID'],
      ['mark-read', { ids: ['notif_1'] }, 'INVALID_ID'],
      ['mark-read', { ids: ['notif_' + 'A'.repeat(32)] }, 'INVALID_ID'],
      ['mark-read', { ids: Array.from({ length: 501 }, (_, i) => `notif_${i}`) }, 'INVALID_PAYLOAD'],
    ];
    for (const [event, payload, code] of notifCases) {
      const ack = await request(na, event, payload);
      assert.equal(ack.error?.code, code, `${event} ${JSON.stringify(payload).slice(0, 80)}`);
    }

    assert.deepEqual(await comments(hub, prdId), before);
    const feedAfter = await rest(hub, 'GET', `/api/activity?organizationId=${ORG}`);
    assert.deepEqual(feedAfter.json, feedBefore.json);
    for (const [path, status] of [
      [`/api/prds/${prdId}/comments/x`, 404],
      ['/api/prds/prd_unknownone/comments', 404],
    ]) {
      const res = await rest(hub, 'GET', path);
      assert.equal(res.status, status, path);
    }
    const post = await rest(hub, 'POST', `/api/prds/${prdId}/comments`, { body: {} });
    assert.equal(post.status, 405);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('comments, notifications and activity survive a restart', async () => {
  const dataDir = tmpDir('prdhub-e2e-social-');
  let hub = await startHub({ args: ['--data-dir', dataDir] });
  const sockets = [];
  let prdId, commentId, replyId;
  try {
    prdId = await createPrd(hub, 'Durable', 'Hello world');
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    sockets.push(a, b);
    const ja = await join(a, prdId);
    await join(b, prdId);
    ({ commentId } = await request(a, 'add-comment', {
      prdId, position: 6, content: 'about the world @user_b',
      selection: { start: 6, end: 11, text: 'world' },
    }));
    await edit(a, prdId, ja.siteId, ja.vector, { type: 'insert', position: 0, content: '>> ' });
    ({ replyId } = await request(b, 'reply-comment', { commentId, content: 'agreed' }));
    for (const s of sockets.splice(0)) s.close();
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
  hub = await startHub({ args: ['--data-dir', dataDir] });
  try {
    const [c] = await comments(hub, prdId);
    assert.equal(c.commentId, commentId);
    assert.deepEqual(c.selection, { start: 9, end: 14, text: 'world' });
    assert.deepEqual(c.replies.map((r) => [r.id, r.content]), [[replyId, 'agreed']]);

    const nb = await notifications(hub, user('user_b'));
    const na = await notifications(hub, user('user_a'));
    sockets.push(nb, na);
    const sb = await subscribe(nb);
    const sa = await subscribe(na);
    assert.deepEqual(sb.got.map((e) => e.data.type), ['mention']);
    assert.deepEqual(sa.got.map((e) => e.data.type), ['comment_reply']);

    const feed = await rest(hub, 'GET', `/api/activity?organizationId=${ORG}`);
    assert.deepEqual(feed.json.activities.map((x) => x.type), ['comment_added', 'prd_created']);

    // The command line records its creations too (beside the running hub).
    const cli = spawnSync(PRDHUB_BIN, ['prd', 'create', '--title', 'From CLI', '--org', ORG,
      '--owner', 'user_cli', '--data-dir', dataDir], { encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    const cliId = cli.stdout.trim();
    const feed2 = await rest(hub, 'GET', `/api/activity?organizationId=${ORG}&limit=1`);
    assert.deepEqual(feed2.json.activities[0].object, { type: 'prd', id: cliId, title: 'From CLI' });
    assert.deepEqual(feed2.json.activities[0].actor, { id: 'user_cli', name: 'user_cli' });
    assert.equal(typeof feed2.json.nextBefore, 'string');

    const a = await client(hub, user('user_a'));
    sockets.push(a);
    const { joined } = await join(a, prdId);
    assert.equal(joined.comments[0].commentId, commentId);
    const res = await request(a, 'resolve-comment', { commentId });
    assert.equal(res.ok, true);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a new version notifies the PRD\'s other editors and enters the activity feed', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Versioned', 'v1 text\n');
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    sockets.push(a, b);
    await join(a, prdId);
    await join(b, prdId); // user_b holds a site: an editor of the PRD
    const nb = await notifications(hub, user('user_b'));
    const na = await notifications(hub, user('user_a'));
    sockets.push(nb, na);
    const sb = await subscribe(nb);
    const sa = await subscribe(na);

    const ack = await request(a, 'create-version', {
      prdId, changelog: 'First cut', versionType: 'minor',
    });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await until(nb, () => sb.got.some((e) => e.event === 'notification') &&
      sb.got.some((e) => e.event === 'activity-update'));
    const note = sb.got.find((e) => e.event === 'notification').data;
    assert.equal(note.type, 'version_created');
    assert.equal(note.data.prdId, prdId);
    TS(note.timestamp);
    const activity = sb.got.find((e) => e.event === 'activity-update').data;
    assert.equal(activity.organizationId, ORG);
    assert.equal(activity.activity.type, 'version_created');
    assert.equal(activity.activity.actor.id, 'user_a');
    assert.equal(activity.activity.object.id, prdId);
    // The actor hears of the activity, but gets no notification of their own version.
    await until(na, () => sa.got.some((e) => e.event === 'activity-update'));
    assert.equal(sa.got.filter((e) => e.event === 'notification').length, 0);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('every comment sent names the version its offsets are in (stateVector, commentsStateVector)', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Comment versions', 'Some words TARGET more\n');
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    sockets.push(a, b);
    await join(a, prdId);
    const jb = await join(b, prdId);
    assert.deepEqual(jb.joined.comments, []);
    assert.deepEqual(jb.joined.commentsStateVector, jb.vector);
    const vector = await edit(b, prdId, jb.siteId, jb.vector, { type: 'insert', position: 0, content: 'XYZ' });
    const got = recorder(a, ['comment-added']);
    const ack = await request(a, 'add-comment', {
      prdId, position: 14, content: 'on TARGET', selection: { start: 14, end: 20 },
    });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await until(a, () => got.length === 1);
    const added = got[0].data;
    // The hub's text as it placed the anchors: b's insert included.
    assert.deepEqual(added.stateVector, vector);
    assert.deepEqual(added.selection, { start: 14, end: 20, text: 'TARGET' });
    const res = await rest(hub, 'GET', `/api/prds/${prdId}/comments`, { tok: token(user('user_a')) });
    assert.deepEqual(res.json.stateVector, vector);
    assert.equal(res.json.comments[0].stateVector, undefined, 'once for the list');
    // Another edit: the kept answer is another, with the new version.
    const next = await edit(b, prdId, jb.siteId, vector, { type: 'insert', position: 0, content: '12' });
    const again = await rest(hub, 'GET', `/api/prds/${prdId}/comments`, { tok: token(user('user_a')) });
    assert.deepEqual(again.json.stateVector, next);
    assert.equal(again.json.comments[0].selection.start, 16);
    const c = await client(hub, user('user_c'));
    sockets.push(c);
    const jc = await join(c, prdId, { mode: 'view' });
    assert.deepEqual(jc.joined.commentsStateVector, next);
    assert.equal(jc.joined.comments[0].selection.start, 16);
    assert.equal(jc.joined.comments[0].stateVector, undefined, 'once for the list');
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});
