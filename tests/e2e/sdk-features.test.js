// SPDX-License-Identifier: GPL-3.0-or-later
//
// The JavaScript SDK (clients/js) beyond editing, against a real prdhub
// with the scripted AI provider: comments and mentions, versions and their
// events, conflicts and their resolution, AI jobs and reviews,
// notifications, approvals and the REST client.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { NotificationsClient, PrdRestClient, PrdClientError } from '../../clients/js/src/client.js';
import { CrdtDoc } from '../../clients/js/src/crdt.js';
import { io, token, EVENT_TIMEOUT_MS } from './helpers/hub.js';
import { SDK_HUB_CONFIG, sdkClient, until, untilLeft, user } from './sdk-helpers.js';
import { startAiServer, startAiHub } from './ai-helpers.js';

const ORG = 'org_e2e';
let ai;
let hub;
const alice = user('feat_alice', { name: 'Alice Smith' });
const bob = user('feat_bob', { name: 'Bob Jones' });
const admin = user('feat_admin', { role: 'admin' });

before(async () => {
  ai = await startAiServer();
  hub = await startAiHub(ai, { extra: SDK_HUB_CONFIG });
});

after(async () => {
  await hub?.stop();
  await ai?.stop();
});

function restFor(claims) {
  return new PrdRestClient({ url: hub.url, token: token(claims) });
}

function notificationsFor(claims) {
  return new NotificationsClient({
    url: hub.url, token: token(claims), io,
    socketOptions: { transports: ['websocket'], reconnectionDelay: 50, timeout: EVENT_TIMEOUT_MS },
  });
}

test('comments: add with mentions, reply, resolve; the open list follows; notifications arrive', async () => {
  const rest = restFor(alice);
  const { id: prdId } = await rest.createPrd({ title: 'SDK comments', content: 'Hello world\n' });
  const a = sdkClient(hub, prdId, alice);
  const b = sdkClient(hub, prdId, bob);
  const nb = notificationsFor(bob);
  try {
    await a.connect();
    await b.connect();
    const notes = [];
    nb.on('notification', (n) => notes.push(n));
    const sub = await nb.subscribe(ORG);
    assert.deepEqual(sub, { organizationId: ORG, unread: 0 });

    const seen = [];
    b.on('comment-added', (c) => seen.push(c));
    const added = await a.addComment({ position: 6, selection: { start: 6, end: 11 },
      content: 'Which world, @BobJones? cc @Nobody' });
    assert.match(added.commentId, /^comment_/);
    assert.deepEqual(added.unresolvedMentions, ['Nobody']);
    await until(() => seen.length === 1 && notes.length === 1, 'comment-added and the mention');
    assert.equal(seen[0].selection.text, 'world');
    assert.equal(notes[0].type, 'mention');
    assert.equal(notes[0].data.commentId, added.commentId);
    assert.deepEqual(b.getComments().map((c) => c.commentId), [added.commentId]);

    const replied = await b.replyComment(added.commentId, 'This one');
    assert.deepEqual(replied.unresolvedMentions, []);
    await until(() => a.comments.get(added.commentId)?.replies.length === 1, 'the reply');
    assert.equal(a.getComments()[0].replies[0].content, 'This one');

    // A late joiner gets the open comments with the join.
    const c = sdkClient(hub, prdId, admin);
    await c.connect();
    assert.deepEqual(c.getComments().map((x) => x.replies.length), [1]);
    c.close();

    await a.resolveComment(added.commentId);
    await until(() => b.comments.size === 0, 'comment-resolved');
    // The connection drops: the client subscribes again by itself and the
    // hub re-sends what is still unread.
    const statuses = [];
    nb.on('status', (s) => statuses.push(s));
    nb.socket.io.engine.close();
    await until(() => notes.length === 2, 'the unread mention again after the reconnect');
    assert.equal(notes[1].id, notes[0].id);
    assert.deepEqual(statuses, ['offline', 'connected']);
    assert.equal(await nb.markRead(notes.map((n) => n.id)), 1);
    await assert.rejects(a.resolveComment(added.commentId),
      (e) => e instanceof PrdClientError && e.code === 'INVALID_OPERATION' && e.event === 'resolve-comment');
    await assert.rejects(a.addComment({ position: 999, content: 'x' }), (e) => e.code === 'INVALID_PAYLOAD');
  } finally {
    a.close();
    b.close();
    nb.close();
  }
});

test('versions: createVersion, version-created and git-commit; REST reads them back', async () => {
  const rest = restFor(alice);
  const { id: prdId } = await rest.createPrd({ title: 'SDK versions', content: 'v1\n' });
  const a = sdkClient(hub, prdId, alice);
  const b = sdkClient(hub, prdId, bob);
  try {
    await a.connect();
    await b.connect();
    const events = [];
    b.on('version-created', (e) => events.push(['version-created', e]));
    b.on('git-commit', (e) => events.push(['git-commit', e]));
    const v1 = await a.createVersion({ changelog: 'First' });
    assert.equal(v1.version, '0.2.0');
    a.insert(a.length, 'v2\n');
    await a.whenSynced();
    const v2 = await a.createVersion({ changelog: 'Second', versionType: 'major' });
    assert.equal(v2.version, '1.0.0');
    await until(() => events.length === 4, 'the version events');
    assert.deepEqual(events.map((e) => e[0]), ['version-created', 'git-commit', 'version-created', 'git-commit']);
    assert.equal(events[2][1].version.commitHash, v2.commitHash);
    assert.deepEqual((await rest.listVersions(prdId)).map((v) => v.version), ['0.2.0', '1.0.0']);
    assert.equal(await rest.getVersionText(prdId, '0.2.0'), 'v1\n');
    assert.match(await rest.diff(prdId, '0.2.0', '1.0.0'), /^\+v2$/m);
    assert.equal((await rest.getPrd(prdId)).version, '1.0.0');
    assert.equal(await rest.exportMarkdown(prdId), 'v1\nv2\n');
    assert.ok((await rest.listPrds()).some((p) => p.id === prdId));
    await assert.rejects(a.createVersion({ changelog: '' }), (e) => e.code === 'INVALID_PAYLOAD');
    await assert.rejects(rest.getVersionText(prdId, '9.9.9'), (e) => e.code === 'NOT_FOUND' && e.status === 404);
  } finally {
    a.close();
    b.close();
  }
});

// The hub refuses a request of a connection that has not joined the PRD
// (NOT_JOINED), and Socket.IO sends what it buffered offline as soon as it
// reconnects, before the join: requests made offline wait for the rejoin.
// A version asked offline is of the text as of the call, with the edits
// typed before it.
test('requests made offline go out after the rejoin; a version asked offline has the edits typed before it', async () => {
  const rest = restFor(alice);
  const { id: prdId } = await rest.createPrd({ title: 'SDK offline requests', content: 'text\n' });
  const a = sdkClient(hub, prdId, alice);
  try {
    await a.connect();
    const { commentId } = await a.addComment({ position: 0, content: 'first' });
    const { commentId: second } = await a.addComment({ position: 1, content: 'second' });
    // Offline on purpose, until reconnect().
    a.disconnect();
    a.insert(0, 'offline ');
    const asked = Promise.all([
      a.replyComment(commentId, 'a reply'),
      a.resolveComment(second),
      a.createVersion({ changelog: 'offline', force: true }),
      a.aiJobStatus('job_000000000000000000000000').catch((e) => e.code),
    ]);
    await a.reconnect();
    const [reply, , version, status] = await asked;
    assert.match(reply.replyId, /^reply_/);
    assert.equal(status, 'NOT_FOUND');
    assert.equal(await rest.getVersionText(prdId, version.version), 'offline text\n');
    // The connection drops: the client reconnects by itself.
    a.socket.io.engine.close();
    await until(() => !a.joined, 'a to go offline');
    const again = await a.replyComment(commentId, 'another reply');
    assert.match(again.replyId, /^reply_/);
    await a.resolveComment(commentId);
    assert.deepEqual((await rest.listComments(prdId)).map((c) => c.commentId), []);
  } finally {
    a.close();
  }
});

// createVersion() waits for the edits made before the call, not for an
// empty queue: a steady typist (a new keystroke whenever one is
// acknowledged, so one is always in flight) still gets a version, with the
// text typed before the call.
test('createVersion while typing goes on: the version has the edits made before the call', async () => {
  const rest = restFor(alice);
  const { id: prdId } = await rest.createPrd({ title: 'SDK busy version', content: 'text\n' });
  const a = sdkClient(hub, prdId, alice, { requestTimeout: 10000 });
  let typing = true;
  try {
    await a.connect();
    a.on('ack', () => {
      if (typing) a.insert(a.length, 'k');
    });
    a.insert(a.length, 'k');
    await until(() => a.length > 20, 'some typing');
    const before = a.text;
    const version = await a.createVersion({ changelog: 'while typing', force: true });
    typing = false;
    await a.whenSynced();
    assert.ok((await rest.getVersionText(prdId, version.version)).startsWith(before));
  } finally {
    typing = false;
    a.close();
  }
});

test('conflicts: concurrent edits at one place are reported to both and resolved', async () => {
  const rest = restFor(alice);
  const { id: prdId } = await rest.createPrd({ title: 'SDK conflicts', content: 'The plan.\n' });
  const a = sdkClient(hub, prdId, alice);
  const b = sdkClient(hub, prdId, bob);
  try {
    await a.connect();
    await b.connect();
    b.disconnect();
    a.insert(4, 'big ');
    await a.whenSynced();
    b.insert(4, 'small ');
    const detected = [];
    a.on('conflict-detected', (e) => detected.push(e));
    // b rejoins on its own site (its edit then stays concurrent with a's)
    // only once the hub has seen b's old connection close.
    await untilLeft(hub, prdId, bob.sub);
    await b.reconnect();
    await b.whenSynced();
    await until(() => a.conflicts.size === 1 && b.conflicts.size === 1, 'conflict-detected on both');
    const [mine] = a.getConflicts();
    assert.equal(mine.yourChange, 'big ');
    assert.equal(mine.theirChange, 'small ');
    assert.equal(detected[0].conflicts[0].conflictId, mine.conflictId);

    const resolved = [];
    b.on('conflict-resolved', (e) => resolved.push(e));
    await a.resolveConflict(mine.conflictId, 'merge', 'medium ');
    await until(() => resolved.length === 1 && b.conflicts.size === 0, 'conflict-resolved');
    assert.equal(resolved[0].resolution, 'merge');
    assert.equal(resolved[0].resolvedBy.id, 'feat_alice');
    await until(() => a.text === 'The medium plan.\n' && b.text === a.text, 'the merged text');
    assert.equal(a.conflicts.size, 0);
    await assert.rejects(a.resolveConflict(mine.conflictId, 'yours'), (e) => e.code === 'NOT_FOUND');
  } finally {
    a.close();
    b.close();
  }
});

test('AI: a job streams into the text and ends; a review ends; cancel; errors', async () => {
  const rest = restFor(alice);
  const { id: prdId } = await rest.createPrd({ title: 'SDK AI', content: 'Base.\n' });
  const a = sdkClient(hub, prdId, alice);
  const b = sdkClient(hub, prdId, bob);
  try {
    await a.connect();
    await b.connect();
    const seen = [];
    for (const name of ['ai-job-created', 'ai-stream-start', 'ai-stream-chunk', 'ai-stream-complete']) {
      a.on(name, () => seen.push(name));
    }
    const chunks = [];
    b.on('ai-stream-chunk', (c) => chunks.push(c.chunk));
    const completeOnB = [];
    b.on('ai-stream-complete', (c) => completeOnB.push(c.jobId));
    const { jobId } = await a.aiPrompt({ prompt: 'Write more', context: { cursorPosition: 6 } });
    assert.match(jobId, /^job_/);
    const done = await a.whenAiJobDone(jobId);
    assert.equal(done.jobId, jobId);
    // b's chunks come on b's own connection, which may lag behind a's: b
    // has them all once its ai-stream-complete, sent after them, is in.
    await until(() => completeOnB.includes(jobId), 'ai-stream-complete on b');
    assert.equal(done.fullResponse, chunks.join(''));
    assert.ok(done.fullResponse.length > 0);
    assert.equal(seen[0], 'ai-job-created');
    assert.equal(seen[seen.length - 1], 'ai-stream-complete');
    await until(() => a.text === 'Base.\n' + done.fullResponse && b.text === a.text, 'the AI text everywhere');
    // Once done, asking again answers at once.
    assert.equal((await a.whenAiJobDone(jobId)).jobId, jobId);

    // A failing job rejects with the provider's error.
    const failing = await a.aiPrompt({ prompt: 'scenario:server-error please', insert: false });
    await assert.rejects(a.whenAiJobDone(failing.jobId),
      (e) => e instanceof PrdClientError && e.code === 'PROVIDER_ERROR' && e.status === 500);

    // Cancel a job that waits on the gate.
    const gated = await a.aiPrompt({ prompt: 'scenario:gated x', insert: false });
    await a.aiCancel(gated.jobId);
    await assert.rejects(a.whenAiJobDone(gated.jobId), (e) => e.code === 'CANCELLED');
    ai.openGate();

    // Reviews: with suggestions, and one whose answer holds none.
    const review = await a.aiReview();
    assert.match(review.reviewId, /^review_/);
    assert.equal(review.count, review.suggestions.length);
    await assert.rejects(b.aiPrompt({ prompt: '' }), (e) => e.code === 'INVALID_PAYLOAD');
  } finally {
    a.close();
    b.close();
  }
});

test('AI review with suggestions resolves with them; approvals reach the room', async () => {
  const rest = restFor(alice);
  const { id: prdId } = await rest.createPrd({ title: 'SDK review',
    content: 'scenario:review\n# PRD\n## User Stories\n' });
  const a = sdkClient(hub, prdId, alice);
  const boss = sdkClient(hub, prdId, admin, { mode: 'view' });
  try {
    await a.connect();
    await boss.connect();
    const review = await a.aiReview();
    assert.equal(review.count, 1);
    assert.deepEqual(review.suggestions, [{ type: 'improvement', section: 'user-stories',
      title: 'Consider edge cases', description: 'Add user stories for error scenarios', confidence: 0.85 }]);

    const approvals = [];
    a.on('prd-approved', (e) => approvals.push(e));
    const ok = await boss.approve({ comment: 'Ship it' });
    assert.equal(ok.prdId, prdId);
    await until(() => approvals.length === 1, 'prd-approved');
    assert.equal(approvals[0].comment, 'Ship it');
    await assert.rejects(a.approve(), (e) => e.code === 'FORBIDDEN');
    const page = await rest.activity({ organizationId: ORG, limit: 100 });
    assert.ok(page.activities.some((x) => x.type === 'prd_approved' && x.object.id === prdId));
    await assert.rejects(rest.activity({ organizationId: 'org_other' }), (e) => e.status === 403);
  } finally {
    a.close();
    boss.close();
  }
});

test('comments: anchors are read into this client\'s text, with its edits the hub does not have yet', async () => {
  const rest = restFor(alice);
  const { id: prdId } = await rest.createPrd({ title: 'SDK anchors', content: 'Intro line\nSome words TARGET more words\n' });
  const a = sdkClient(hub, prdId, alice);
  const b = sdkClient(hub, prdId, bob);
  const quote = (c, text) => text.slice(c.selection.start, c.selection.end);
  try {
    await a.connect();
    await b.connect();
    // comment-added while b holds an edit before the anchor that the hub
    // does not have: b's content-updates are held back until the end.
    const held = [];
    const emit = b.socket.emit;
    b.socket.emit = function (event, ...args) {
      if (event !== 'content-update') return emit.call(this, event, ...args);
      held.push(args);
      return this;
    };
    b.insert(0, '0123456789');
    await until(() => held.length > 0, 'b\'s edit sent (and held back)');
    const seen = [];
    b.on('comment-added', (c) => seen.push(c));
    const i = a.text.indexOf('TARGET');
    const { commentId } = await a.addComment({ position: i, selection: { start: i, end: i + 6 }, content: 'About the target' });
    await until(() => seen.length === 1, 'comment-added');
    assert.ok(b.text.startsWith('0123456789') && b.pendingCount > 0, 'b\'s edit is not acknowledged yet');
    const hubSays = (await rest.listComments(prdId))[0];
    assert.equal(hubSays.selection.start, i, 'the hub reports offsets in its own text');
    assert.equal(quote(seen[0], b.text), 'TARGET');
    assert.equal(seen[0].position, b.text.indexOf('TARGET'));
    assert.equal(seen[0].selection.text, 'TARGET');
    assert.equal(quote(b.comments.get(commentId), b.text), 'TARGET');
    assert.equal(quote(b.getComments()[0], b.text), 'TARGET');
    b.socket.emit = emit;
    for (const args of held) emit.call(b.socket, 'content-update', ...args);
    await until(() => b.pendingCount === 0 && a.text === b.text, 'b\'s edit acknowledged');

    // joined-prd: b types offline before the anchor and joins again.
    b.disconnect();
    b.insert(0, 'abcdefghij');
    await b.reconnect();
    assert.equal(b.comments.size, 1);
    assert.equal(quote(b.comments.get(commentId), b.text), 'TARGET');
    assert.equal(b.comments.get(commentId).detached, undefined);
    await until(() => b.pendingCount === 0 && a.text === b.text, 'b\'s offline edit acknowledged');
    assert.equal((await rest.listComments(prdId))[0].selection.text, 'TARGET');
  } finally {
    a.close();
    b.close();
  }
});

test('comments: a comment placed in operations not here yet is added once they are', async () => {
  const rest = restFor(alice);
  const { id: prdId } = await rest.createPrd({ title: 'SDK anchors later', content: 'Some words TARGET more\n' });
  const a = sdkClient(hub, prdId, alice);
  const b = sdkClient(hub, prdId, bob);
  try {
    await a.connect();
    await b.connect();
    // b does not hear of a's edit yet (as in batch mode, or an edit the hub
    // applied and has not broadcast).
    const handlers = b.socket.listeners('content-update');
    const held = [];
    b.socket.off('content-update');
    b.socket.on('content-update', (d) => held.push(d));
    a.insert(0, 'xyz ');
    await until(() => held.length > 0 && a.pendingCount === 0, 'a\'s edit acknowledged, held from b');
    const seen = [];
    b.on('comment-added', (c) => seen.push(c));
    let received = 0; // after the SDK's own listener
    b.socket.on('comment-added', () => received++);
    const i = a.text.indexOf('TARGET');
    await a.addComment({ position: i, selection: { start: i, end: i + 6 }, content: 'Later' });
    const [{ commentId }] = await rest.listComments(prdId);
    // b has the event but not the text it was placed in: nothing yet.
    await until(() => received === 1, 'comment-added reached b');
    assert.equal(b.comments.size, 0);
    assert.deepEqual(seen, []);
    b.socket.off('content-update');
    for (const h of handlers) b.socket.on('content-update', h);
    for (const d of held) for (const h of handlers) h(d);
    await until(() => seen.length === 1, 'comment-added in b');
    assert.equal(b.text, a.text);
    assert.equal(b.text.slice(seen[0].selection.start, seen[0].selection.end), 'TARGET');
    assert.equal(b.comments.get(commentId).selection.text, 'TARGET');
  } finally {
    a.close();
    b.close();
  }
});

test('comments: a comment without a selection on a character this client deleted is detached here too', async () => {
  const rest = restFor(alice);
  const { id: prdId } = await rest.createPrd({ title: 'SDK anchors detached', content: 'First line\nLast Z line\n' });
  const a = sdkClient(hub, prdId, alice);
  const b = sdkClient(hub, prdId, bob);
  try {
    await a.connect();
    await b.connect();
    const held = [];
    const emit = b.socket.emit;
    b.socket.emit = function (event, ...args) {
      if (event !== 'content-update') return emit.call(this, event, ...args);
      held.push(args);
      return this;
    };
    // b deletes Z; the hub does not have the delete when a comments there.
    b.delete(b.text.indexOf('Z'), 1);
    await until(() => held.length > 0, 'b\'s delete sent (and held back)');
    const seen = [];
    b.on('comment-added', (c) => seen.push(c));
    const { commentId } = await a.addComment({ position: a.text.indexOf('Z'), content: 'About Z' });
    await until(() => seen.length === 1, 'comment-added');
    assert.equal(seen[0].detached, true, 'the character at its position is deleted here');
    assert.equal(b.comments.get(commentId).detached, true);
    assert.equal(seen[0].position, 'First line\nLast '.length, 'where Z would be');
    // A comment on a character b still has is not.
    const f = a.text.indexOf('F');
    await a.addComment({ position: f, content: 'About F' });
    await until(() => seen.length === 2, 'second comment-added');
    assert.equal(seen[1].detached, undefined);
    assert.equal(seen[1].position, b.text.indexOf('F'));

    // joined-prd: the same, read with the rest of the list, all of it with
    // one move to the hub's version whatever the number of comments and of
    // b's scattered offline edits.
    for (let k = 0; k < 6; k++) await a.addComment({ position: k, content: `c${k}` });
    await until(() => seen.length === 8, 'every comment-added');
    b.socket.emit = emit;
    b.disconnect();
    held.length = 0;
    for (let k = 0; k < 5; k++) b.insert(2 * k, '+');
    let moves = 0;
    const move = CrdtDoc.prototype._moveVersion;
    CrdtDoc.prototype._moveVersion = function (...args) {
      moves++;
      return move.apply(this, args);
    };
    try {
      await b.reconnect();
    } finally {
      CrdtDoc.prototype._moveVersion = move;
    }
    assert.equal(moves, 2, 'one move to the comments\' version and back');
    assert.equal(b.comments.size, 8);
    await until(() => b.pendingCount === 0 && a.text === b.text, 'b\'s edits acknowledged');
    assert.equal(b.comments.get(commentId).detached, true);
    assert.equal((await rest.listComments(prdId)).find((c) => c.commentId === commentId).detached, true);
  } finally {
    a.close();
    b.close();
  }
});
