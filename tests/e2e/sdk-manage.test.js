// SPDX-License-Identifier: GPL-3.0-or-later
//
// The JavaScript SDK (clients/js) and the hub's newer features, against a
// real prdhub: PRDs renamed, archived and deleted over PrdRestClient as
// PrdClient sees it (prd-updated / prd-deleted, `archived`, the session
// ending), REST versions (VERSION_UNCHANGED, force), notifications and
// sessions over REST, and refresh-token before a token's exp.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { NotificationsClient, PrdRestClient, PrdClientError } from '../../clients/js/src/client.js';
import { io, now, token, EVENT_TIMEOUT_MS } from './helpers/hub.js';
import { SDK_HUB_CONFIG, sdkClient, startHub, until, untilLeft, user } from './sdk-helpers.js';

const ORG = 'org_e2e';
let hub;
const owner = user('mgr_owner', { name: 'Olga Owner' });
const editor = user('mgr_editor', { name: 'Eddie Editor' });
const viewer = user('mgr_viewer', { role: 'viewer' });
const admin = user('mgr_admin', { role: 'admin' });

before(async () => {
  hub = await startHub({ config: SDK_HUB_CONFIG });
});

after(async () => {
  await hub?.stop();
});

// Resolves with the first truthy value of the async @probe, asked again
// every 20 ms; rejects after the bound (never a timing assertion).
async function eventually(probe, what, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function restFor(claims) {
  return new PrdRestClient({ url: hub.url, token: token(claims) });
}

test('rename, archive and unarchive: PrdClient follows title and archived; edits wait for unarchive', async () => {
  const rest = restFor(owner);
  const { id: prdId, archived: createdArchived, archivedAt: createdAt } =
    await rest.createPrd({ title: 'Managed', content: 'Body\n' });
  assert.equal(createdArchived, false);
  assert.equal(createdAt, null);
  const a = sdkClient(hub, prdId, editor);
  let late = null;
  try {
    const joined = await a.connect();
    assert.equal(joined.archived, false);
    assert.equal(a.archived, false);
    assert.equal(a.grantedMode, 'edit');
    const updates = [];
    a.on('prd-updated', (u) => updates.push(u));

    const renamed = await rest.updatePrd(prdId, { title: 'Managed, renamed' });
    assert.equal(renamed.title, 'Managed, renamed');
    await until(() => updates.length === 1, 'prd-updated for the rename');
    assert.equal(a.title, 'Managed, renamed');
    assert.equal(updates[0].by.id, 'mgr_owner');
    assert.equal(updates[0].prd.archived, false);

    const archived = await rest.archivePrd(prdId);
    assert.equal(archived.archived, true);
    assert.match(archived.archivedAt, /^\d{4}-\d\d-\d\dT/);
    await until(() => updates.length === 2, 'prd-updated for the archive');
    assert.equal(a.archived, true);
    // Archived: read-only for the SDK as for the hub.
    assert.throws(() => a.insert(0, 'x'), (e) => e instanceof PrdClientError && e.code === 'FORBIDDEN');
    assert.equal(a.text, 'Body\n');
    assert.equal(a.pendingCount, 0);

    // Lists: archived ones only on request.
    assert.ok(!(await rest.listPrds()).some((p) => p.id === prdId));
    assert.ok((await rest.listPrds({ archived: true })).some((p) => p.id === prdId));
    assert.ok((await rest.listPrds({ archived: 'all' })).some((p) => p.id === prdId));
    assert.ok(!(await rest.listPrds({ archived: true })).some((p) => !p.archived));

    // A client asking to edit an archived PRD gets view mode...
    late = sdkClient(hub, prdId, owner);
    const lateJoin = await late.connect();
    assert.equal(lateJoin.mode, 'view');
    assert.equal(lateJoin.archived, true);
    assert.equal(late.grantedMode, 'view');
    assert.equal(late.siteId, null);
    assert.throws(() => late.insert(0, 'x'), (e) => e.code === 'FORBIDDEN');

    // ... and joins again in edit mode by itself once it is unarchived.
    const lateJoins = [];
    late.on('status', (s) => { if (s === 'joined') lateJoins.push(s); });
    const back = await rest.unarchivePrd(prdId);
    assert.equal(back.archived, false);
    assert.equal(back.archivedAt, null);
    await until(() => updates.length === 3 && lateJoins.length === 1 && late.joined, 'the edit join after unarchive');
    assert.equal(a.archived, false);
    assert.equal(late.archived, false);
    assert.equal(late.grantedMode, 'edit');
    assert.equal(typeof late.siteId, 'number');
    late.insert(0, 'Late: ');
    a.insert(a.length, 'More\n');
    await Promise.all([late.whenSynced(), a.whenSynced()]);
    await until(() => a.text === 'Late: Body\nMore\n' && late.text === a.text, 'both edits everywhere');

    // Refusals change nothing and carry the hub's code and status.
    await assert.rejects(rest.updatePrd(prdId, {}), (e) => e.code === 'INVALID_PAYLOAD' && e.status === 400);
    await assert.rejects(rest.updatePrd(prdId, { title: '' }), (e) => e.code === 'INVALID_PAYLOAD');
    await assert.rejects(restFor(viewer).archivePrd(prdId), (e) => e.code === 'FORBIDDEN' && e.status === 403);
    await assert.rejects(restFor({ ...editor, org: 'org_other' }).archivePrd(prdId),
      (e) => e.code === 'PRD_NOT_FOUND' && e.status === 404);
    const now_ = await rest.getPrd(prdId);
    assert.equal(now_.title, 'Managed, renamed');
    assert.equal(now_.archived, false);
    assert.equal(updates.length, 3);
  } finally {
    a.close();
    late?.close();
  }
});

test('edits typed offline while the PRD was archived are kept, and sent once it is unarchived', async () => {
  const rest = restFor(owner);
  const { id: prdId } = await rest.createPrd({ title: 'Archived offline', content: 'Body\n' });
  const a = sdkClient(hub, prdId, editor);
  const errors = [];
  a.on('error', (e) => errors.push(e));
  try {
    await a.connect();
    a.disconnect();
    a.insert(0, 'Offline: ');
    await rest.archivePrd(prdId);
    await untilLeft(hub, prdId, editor.sub);
    await a.reconnect();
    // Joined in view mode: the edit waits (the text is the hub's meanwhile).
    assert.equal(a.grantedMode, 'view');
    assert.equal(a.pendingCount, 1);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].code, 'FORBIDDEN');
    assert.match(errors[0].message, /1 local edits kept/);
    await rest.unarchivePrd(prdId);
    await until(() => a.grantedMode === 'edit' && a.joined, 'the edit join after unarchive');
    await a.whenSynced();
    assert.equal(a.text, 'Offline: Body\n');
    assert.equal((await rest.getPrd(prdId)).content, 'Offline: Body\n');
    assert.equal(a.pendingCount, 0);
  } finally {
    a.close();
  }
});

// Offsets read in a text holding edits the hub will not take before an
// unarchive are read back past those edits: the comment lands on the text
// it was read on, not on what the held edits shifted; a version asked then
// would miss those edits and is refused (FORBIDDEN), nothing made.
test('asked offline while the PRD gets archived: a comment lands where it was read; a version is refused', async () => {
  const rest = restFor(owner);
  const body = 'HEAD\nTARGET\n' + 'the rest of the document. '.repeat(4);
  const { id: prdId } = await rest.createPrd({ title: 'Archived comment', content: body });
  const a = sdkClient(hub, prdId, editor);
  const errors = [];
  a.on('error', (e) => errors.push(e));
  try {
    await a.connect();
    const versionsBefore = (await rest.listVersions(prdId)).length;
    a.disconnect();
    a.insert(0, 'Offline intro paragraph. ');
    a.delete(a.text.indexOf('HEAD'), 2); // "AD\nTARGET": the hub still has "HE"
    const at = a.text.indexOf('TARGET');
    const settled = (p) => p.then((value) => ({ value }), (error) => ({ error }));
    const onTarget = settled(a.addComment({ position: at, selection: { start: at, end: at + 6 }, content: 'on TARGET' }));
    // On the held insert alone: refused, no comment made.
    const inHeld = settled(a.addComment({ position: 9, selection: { start: 8, end: 15 }, content: 'in held text' }));
    const version = settled(a.createVersion({ changelog: 'with the offline edits' }));
    await rest.archivePrd(prdId);
    await untilLeft(hub, prdId, editor.sub);
    await a.reconnect();
    assert.equal(a.grantedMode, 'view');
    assert.equal(a.pendingCount, 2);
    const { commentId } = (await onTarget).value;
    const held = (await inHeld).error;
    assert.ok(held instanceof PrdClientError && held.code === 'FORBIDDEN', String(held));
    assert.match(held.message, /^add-comment: the selection 8-15 is all text of local edits that wait for .* to be unarchived/);
    const { error } = await version;
    assert.ok(error instanceof PrdClientError && error.code === 'FORBIDDEN', String(error));
    assert.match(error.message, /^create-version: 2 local edits made before it wait for .* to be unarchived/);
    const comments = await rest.listComments(prdId);
    const c = comments.find((x) => x.commentId === commentId);
    assert.equal(body.slice(c.selection.start, c.selection.end), 'TARGET');
    assert.equal(c.position, body.indexOf('TARGET'));
    assert.equal(comments.length, 1);
    assert.equal((await rest.listVersions(prdId)).length, versionsBefore);
    assert.deepEqual(errors.map((e) => e.code), ['FORBIDDEN']);
    // The edits are still sent once the PRD is unarchived.
    await rest.unarchivePrd(prdId);
    await until(() => a.grantedMode === 'edit' && a.joined, 'the edit join after unarchive');
    await a.whenSynced();
    assert.equal((await rest.getPrd(prdId)).content, 'Offline intro paragraph. AD' + body.slice(4));
  } finally {
    a.close();
  }
});

// Edits held for an archived PRD are dropped when the session ends there:
// the `closed` event counts them (what the web editor reports as lost).
test('the closed event counts the edits held for an archived PRD: closed, or the PRD deleted', async () => {
  const rest = restFor(owner);
  const held = async (title, edits) => {
    const { id: prdId } = await rest.createPrd({ title, content: 'Body\n' });
    const a = sdkClient(hub, prdId, editor);
    const closed = [];
    a.on('closed', (c) => closed.push(c));
    a.on('error', () => {});
    await a.connect();
    a.disconnect();
    for (const e of edits) a.insert(0, e);
    await rest.archivePrd(prdId);
    await untilLeft(hub, prdId, editor.sub);
    await a.reconnect();
    assert.equal(a.grantedMode, 'view');
    assert.equal(a.pendingCount, edits.length);
    return { prdId, a, closed };
  };
  const one = await held('Held, closed', ['offline edit ', 'another ']);
  await one.a.close();
  assert.deepEqual(one.closed, [{ reason: 'closed', pendingCount: 2 }]);
  const two = await held('Held, deleted', ['offline edit ']);
  try {
    await rest.deletePrd(two.prdId);
    await until(() => two.closed.length === 1, 'the session to end');
    assert.deepEqual(two.closed, [{ reason: 'deleted', pendingCount: 1 }]);
  } finally {
    two.a.close();
  }
});

// Holds back the prd-updated events the client's socket receives, as a
// slow network would, until release() hands them over in order.
function holdPrdUpdated(client) {
  const socket = client.socket;
  const listeners = socket.listeners('prd-updated');
  const held = [];
  socket.off('prd-updated');
  socket.on('prd-updated', (data) => held.push(data));
  return {
    held,
    release() {
      socket.off('prd-updated');
      for (const l of listeners) socket.on('prd-updated', l);
      for (const data of held.splice(0)) for (const l of listeners) l(data);
    },
  };
}

// Edits refused as archived (sent before the client heard of the archive)
// stay in the text; offsets read in it are read back past them too.
test('edits refused as archived: a comment read past them lands where it was read; a version is refused', async () => {
  const rest = restFor(owner);
  const { id: prdId } = await rest.createPrd({ title: 'Archived in flight, comment', content: 'HEAD\nTARGET\n' });
  const a = sdkClient(hub, prdId, editor);
  const errors = [];
  a.on('error', (e) => errors.push(e));
  try {
    await a.connect();
    const hold = holdPrdUpdated(a);
    await rest.archivePrd(prdId);
    a.insert(0, 'In flight: ');
    await until(() => errors.length > 0, 'the refusal');
    assert.equal(errors[0].code, 'FORBIDDEN');
    const at = a.text.indexOf('TARGET');
    const { commentId } = await a.addComment({ position: at, selection: { start: at, end: at + 6 }, content: 'c' });
    const c = (await rest.listComments(prdId)).find((x) => x.commentId === commentId);
    assert.deepEqual([c.position, c.selection.start, c.selection.end], [5, 5, 11]);
    await assert.rejects(a.createVersion({ changelog: 'v' }),
      (e) => e.code === 'FORBIDDEN' && /1 local edits made before it wait/.test(e.message));
    hold.release();
    await rest.unarchivePrd(prdId);
    await a.whenSynced();
    assert.equal((await rest.getPrd(prdId)).content, 'In flight: HEAD\nTARGET\n');
  } finally {
    a.close();
  }
});

// An edit sent before the client heard of the archive is refused with
// FORBIDDEN; it stays pending (and on screen) and is sent once the PRD is
// unarchived: when the client hears so, or, if it heard nothing, on a retry.
for (const hear of ['hears the unarchive', 'hears nothing']) {
  test(`edits in flight when the PRD is archived are sent after unarchiving (${hear})`, async () => {
    const rest = restFor(owner);
    const { id: prdId } = await rest.createPrd({ title: `Archived in flight (${hear})`, content: 'Body\n' });
    const a = sdkClient(hub, prdId, editor);
    const errors = [];
    a.on('error', (e) => errors.push(e));
    try {
      await a.connect();
      const hold = holdPrdUpdated(a);
      await rest.archivePrd(prdId);
      a.insert(0, 'In flight: ');
      a.insert(0, '+');
      await until(() => errors.length > 0, 'the refusal');
      assert.equal(errors[0].code, 'FORBIDDEN');
      assert.match(errors[0].message, /is archived.*\(2 local edits kept until it is unarchived\)/);
      assert.equal(errors.length, 1);
      assert.equal(a.pendingCount, 2);
      assert.equal(a.text, '+In flight: Body\n');
      if (hear === 'hears the unarchive') {
        hold.release();
        assert.equal(a.archived, true);
        await rest.unarchivePrd(prdId);
        await until(() => !a.archived, 'prd-updated for the unarchive');
      } else {
        await rest.unarchivePrd(prdId);
      }
      await a.whenSynced();
      assert.equal(a.text, '+In flight: Body\n');
      assert.equal((await rest.getPrd(prdId)).content, '+In flight: Body\n');
      assert.equal(a.pendingCount, 0);
      if (hear === 'hears nothing') {
        hold.release();
        assert.equal(a.archived, false);
      }
    } finally {
      a.close();
    }
  });
}

test('delete: the room hears prd-deleted and the SDK session ends; offline clients end on rejoin', async () => {
  const rest = restFor(owner);
  const { id: prdId } = await rest.createPrd({ title: 'Doomed', content: 'Short life\n' });
  const a = sdkClient(hub, prdId, editor);
  const b = sdkClient(hub, prdId, owner);
  try {
    await a.connect();
    await b.connect();
    const v = await rest.createVersion(prdId, { changelog: 'Kept in git' });
    assert.equal(v.version, '0.2.0');

    // b goes offline with an edit the hub never sees.
    b.disconnect();
    b.insert(0, 'Unsent ');
    const bSynced = b.whenSynced();
    bSynced.catch(() => {});

    const deleted = [];
    const closed = [];
    const statuses = [];
    a.on('prd-deleted', (d) => deleted.push(d));
    a.on('closed', (c) => closed.push(c));
    a.on('status', (s, why) => statuses.push([s, why]));
    await assert.rejects(restFor(editor).deletePrd(prdId), (e) => e.code === 'FORBIDDEN' && e.status === 403);
    const res = await rest.deletePrd(prdId, { purgeVersions: true });
    assert.deepEqual(res, { prdId, deleted: true, purgedVersions: 1 });
    await until(() => closed.length === 1, 'the session to end');
    assert.equal(deleted.length, 1);
    assert.equal(deleted[0].prdId, prdId);
    assert.equal(deleted[0].by.id, 'mgr_owner');
    assert.deepEqual(closed[0], { reason: 'deleted', pendingCount: 0 });
    assert.deepEqual(statuses.at(-1), ['closed', 'deleted']);
    assert.ok(a.deleted && a.closed && !a.joined);
    await assert.rejects(a.whenSynced(), (e) => e.code === 'PRD_NOT_FOUND');
    await assert.rejects(a.connect(), (e) => e.code === 'CLOSED');

    // The offline client learns it when it comes back: its join is
    // refused, the session ends, the unsent edit is reported dropped.
    const bClosed = [];
    b.on('closed', (c) => bClosed.push(c));
    b.on('error', () => {});
    await assert.rejects(b.reconnect(), (e) => e.code === 'PRD_NOT_FOUND');
    await until(() => bClosed.length === 1, 'the offline client\'s session to end');
    assert.deepEqual(bClosed[0], { reason: 'deleted', pendingCount: 1 });
    assert.ok(b.deleted && b.closed);
    await assert.rejects(bSynced, (e) => e.code === 'PRD_NOT_FOUND');

    await assert.rejects(rest.getPrd(prdId), (e) => e.code === 'PRD_NOT_FOUND' && e.status === 404);
    await assert.rejects(rest.deletePrd(prdId), (e) => e.code === 'PRD_NOT_FOUND');
  } finally {
    a.close();
    b.close();
  }
});

test('REST versions: VERSION_UNCHANGED unless force; the room hears version-created', async () => {
  const rest = restFor(editor);
  const { id: prdId } = await rest.createPrd({ title: 'Versioned', content: 'One\n' });
  const a = sdkClient(hub, prdId, owner, { mode: 'view' });
  try {
    await a.connect();
    const heard = [];
    a.on('version-created', (v) => heard.push(v.version.version));
    const first = await rest.createVersion(prdId, { changelog: 'First', versionType: 'patch' });
    assert.equal(first.version, '0.1.1');
    assert.match(first.commitHash, /^[0-9a-f]{40}$/);
    await assert.rejects(rest.createVersion(prdId, { changelog: 'Nothing new' }),
      (e) => e instanceof PrdClientError && e.code === 'VERSION_UNCHANGED' && e.status === 409);
    const forced = await rest.createVersion(prdId, { changelog: 'Again', force: true });
    assert.equal(forced.version, '0.2.0');
    await assert.rejects(rest.createVersion(prdId, { changelog: ' ' }), (e) => e.code === 'INVALID_PAYLOAD');
    await assert.rejects(restFor(viewer).createVersion(prdId, { changelog: 'x' }), (e) => e.code === 'FORBIDDEN');
    await until(() => heard.length === 2, 'version-created twice');
    assert.deepEqual(heard, ['0.1.1', '0.2.0']);
    assert.deepEqual((await rest.listVersions(prdId)).map((v) => v.version), ['0.1.1', '0.2.0']);
  } finally {
    a.close();
  }
});

test('notifications and sessions over REST', async () => {
  const rest = restFor(owner);
  const { id: prdId } = await rest.createPrd({ title: 'Noisy', content: 'Text\n' });
  const a = sdkClient(hub, prdId, editor);
  const o = sdkClient(hub, prdId, owner);
  try {
    await a.connect();
    await o.connect();
    const { commentId } = await a.addComment({ position: 0, content: 'Look, @mgr_owner' });
    const mine = restFor(owner);
    const page = await eventually(async () => {
      const p = await mine.notifications({ unread: true });
      return p.notifications.some((n) => n.data.commentId === commentId) ? p : null;
    }, 'the mention over REST');
    const note = page.notifications.find((n) => n.data.commentId === commentId);
    assert.equal(note.type, 'mention');
    assert.equal(note.read, false);
    assert.equal(await mine.markNotificationsRead([note.id]), 1);
    assert.equal(await mine.markNotificationsRead([note.id]), 0);
    assert.ok(!(await mine.notifications({ unread: true })).notifications.some((n) => n.id === note.id));
    const all = await mine.notifications({ limit: 100 });
    assert.equal(all.notifications.find((n) => n.id === note.id).read, true);
    await assert.rejects(mine.notifications({ limit: 0 }), (e) => e.code === 'INVALID_PAYLOAD');
    await assert.rejects(mine.markNotificationsRead([]), (e) => e.code === 'INVALID_PAYLOAD');
    await assert.rejects(mine.markNotificationsRead(['nope']), (e) => e.code === 'INVALID_ID');

    const sessions = await restFor(admin).listSessions();
    const editing = sessions.filter((s) => s.namespace === '/prds' && s.prds.some((p) => p.prdId === prdId));
    assert.deepEqual(editing.map((s) => s.user.id).sort(), ['mgr_editor', 'mgr_owner']);
    assert.ok(editing.every((s) => s.transport === 'websocket' && s.prds[0].mode === 'edit'));
    await assert.rejects(restFor(editor).listSessions(), (e) => e.code === 'FORBIDDEN' && e.status === 403);
  } finally {
    a.close();
    o.close();
  }
});

test('refreshToken keeps a session past its first token\'s exp; an expired one comes back with a fresh token', async () => {
  const rest = restFor(owner);
  const { id: prdId } = await rest.createPrd({ title: 'Tokens', content: 'T\n' });
  const exp = now() + 3;
  const claims = { ...user('mgr_short', { name: 'Short Lived' }), exp };
  const refreshed = sdkClient(hub, prdId, claims);
  const plain = sdkClient(hub, prdId, claims);
  const notes = new NotificationsClient({
    url: hub.url, token: token(claims), io,
    socketOptions: { transports: ['websocket'], timeout: EVENT_TIMEOUT_MS },
  });
  try {
    await refreshed.connect();
    await plain.connect();
    await notes.subscribe(ORG);
    const fresh = now() + 3600;
    assert.deepEqual(await refreshed.refreshToken(token({ ...claims, exp: fresh })), { ok: true, exp: fresh });
    assert.deepEqual(await notes.refreshToken(token({ ...claims, exp: fresh })), { ok: true, exp: fresh });
    // Refusals change nothing.
    await assert.rejects(refreshed.refreshToken(token({ ...claims, sub: 'someone_else', exp: fresh })),
      (e) => e.code === 'FORBIDDEN' && e.event === 'refresh-token');
    await assert.rejects(refreshed.refreshToken(token({ ...claims, exp: now() - 120 })),
      (e) => e.code === 'TOKEN_EXPIRED');
    await assert.rejects(refreshed.refreshToken(''), TypeError);

    // The plain one ends at exp: TOKEN_EXPIRED, then offline for good.
    const errors = [];
    const statuses = [];
    plain.on('error', (e) => errors.push(e));
    plain.on('status', (s, why) => statuses.push([s, why]));
    await until(() => statuses.some(([s]) => s === 'offline'), 'the plain session to end at exp');
    assert.ok(errors.some((e) => e.code === 'TOKEN_EXPIRED'));
    assert.deepEqual(statuses.find(([s]) => s === 'offline'), ['offline', 'io server disconnect']);
    // Both had the same exp: the refreshed ones outlived it.
    assert.ok(refreshed.joined && refreshed.socket.connected && notes.socket.connected);
    refreshed.insert(0, 'Still here. ');
    await refreshed.whenSynced();

    // Offline, a fresh token is kept for the next connect.
    assert.deepEqual(await plain.refreshToken(token({ ...claims, exp: fresh })), { ok: true, offline: true });
    await plain.reconnect();
    await until(() => plain.text === 'Still here. T\n', 'the plain client back with the text');
  } finally {
    refreshed.close();
    plain.close();
    notes.close();
  }
});

// The hub pages its lists (docs/protocol.md, "PRD and version lists are
// paged"); listPrds() and listVersions() read every page, the *Page
// methods one at a time.
test('listPrds and listVersions read every page; listPrdsPage and listVersionsPage one', async () => {
  const pager = user('pager', { org: 'org_pages' });
  const rest = new PrdRestClient({ url: hub.url, token: token(pager) });
  const ids = [];
  for (let i = 0; i < 101; i++) ids.push((await rest.createPrd({ title: `P${i}` })).id);
  assert.deepEqual((await rest.listPrds()).map((p) => p.id), ids);
  assert.deepEqual((await rest.listPrds({ limit: 3 })).map((p) => p.id), ids.slice(0, 3));
  const page = await rest.listPrdsPage({ limit: 100 });
  assert.equal(page.prds.length, 100);
  const next = await rest.listPrdsPage({ after: page.nextAfter });
  assert.deepEqual(next.prds.map((p) => p.id), [ids[100]]);
  assert.equal(next.nextAfter, null);
  await assert.rejects(rest.listPrdsPage({ limit: 0 }), (e) => e.code === 'INVALID_PAYLOAD' && e.status === 400);

  const prdId = ids[0];
  const made = [];
  for (let i = 0; i < 3; i++) made.push((await rest.createVersion(prdId, { changelog: `v${i}`, force: true })).id);
  assert.deepEqual((await rest.listVersions(prdId)).map((v) => v.id), made);
  const v1 = await rest.listVersionsPage(prdId, { limit: 2 });
  assert.deepEqual(v1.versions.map((v) => v.id), made.slice(0, 2));
  const v2 = await rest.listVersionsPage(prdId, { limit: 2, after: v1.nextAfter });
  assert.deepEqual(v2.versions.map((v) => v.id), made.slice(2));
  assert.equal(v2.nextAfter, null);
});
