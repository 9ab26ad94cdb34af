// SPDX-License-Identifier: GPL-3.0-or-later
//
// Versions and notifications over REST, for scripts (docs/protocol.md,
// "Managing PRDs"): POST /api/prds/{id}/versions through the versions
// feature (the room hears version-created), refusing an unchanged text
// unless forced; GET /api/notifications with paging, the unread filter and
// POST /api/notifications/read.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, token, connect } from './helpers/hub.js';
import {
  client, request, join, bump, once, user, rest, createPrd, until,
} from './collab-helpers.js';

function tok(sub, extra = {}) {
  return token({ sub, name: `Name ${sub}`, ...extra });
}

test('POST /api/prds/{id}/versions: created as create-version does; an unchanged text needs force', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Versioned', '# Plan\n');
    const a = await client(hub, user('user_a'));
    sockets.push(a);
    const j = await join(a, prdId);

    const heard = once(a, 'version-created');
    const res = await rest(hub, 'POST', `/api/prds/${prdId}/versions`,
      { body: { changelog: 'First cut' }, tok: tok('user_b') });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.headers.get('location'), `/api/prds/${prdId}/versions/0.2.0`);
    assert.equal(res.json.version, '0.2.0');
    assert.equal(res.json.changelog, 'First cut');
    assert.deepEqual(res.json.createdBy, { id: 'user_b', name: 'Name user_b' });
    assert.match(res.json.commitHash, /^[0-9a-f]{40}$/);
    const { args: [vc] } = await heard;
    assert.deepEqual(vc.version, res.json);

    // Same text again: refused, nothing written.
    const same = await rest(hub, 'POST', `/api/prds/${prdId}/versions`,
      { body: { changelog: 'Nothing new', versionType: 'patch' } });
    assert.equal(same.status, 409, same.text);
    assert.equal(same.json.code, 'VERSION_UNCHANGED');
    let list = await rest(hub, 'GET', `/api/prds/${prdId}/versions`);
    assert.deepEqual(list.json.versions.map((v) => v.version), ['0.2.0']);

    // Forced: created.
    const forced = await rest(hub, 'POST', `/api/prds/${prdId}/versions`,
      { body: { changelog: 'Re-tag', versionType: 'patch', force: true } });
    assert.equal(forced.status, 201, forced.text);
    assert.equal(forced.json.version, '0.2.1');

    // Changed text: no force needed.
    const ack = await request(a, 'content-update', {
      prdId, operation: { type: 'insert', position: 7, content: 'More\n', timestamp: Date.now() },
      stateVector: bump(j.vector, j.siteId),
    });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    const major = await rest(hub, 'POST', `/api/prds/${prdId}/versions`,
      { body: { changelog: 'Big one', versionType: 'major' } });
    assert.equal(major.status, 201, major.text);
    assert.equal(major.json.version, '1.0.0');
    const text = await rest(hub, 'GET', `/api/prds/${prdId}/versions/1.0.0`);
    assert.equal(text.text, '# Plan\nMore\n');

    // The socket event refuses an unchanged text the same way, nothing
    // written, unless forced; a force that is not a boolean is refused.
    const errors = [];
    a.on('error', (e) => errors.push(e));
    const sameViaSocket = await request(a, 'create-version',
      { prdId, changelog: 'Same again', versionType: 'patch' });
    assert.equal(sameViaSocket.error?.code, 'VERSION_UNCHANGED', JSON.stringify(sameViaSocket));
    const badForce = await request(a, 'create-version',
      { prdId, changelog: 'Same again', versionType: 'patch', force: 'yes' });
    assert.equal(badForce.error?.code, 'INVALID_PAYLOAD', JSON.stringify(badForce));
    const notForced = await request(a, 'create-version',
      { prdId, changelog: 'Same again', versionType: 'patch', force: false });
    assert.equal(notForced.error?.code, 'VERSION_UNCHANGED', JSON.stringify(notForced));
    list = await rest(hub, 'GET', `/api/prds/${prdId}/versions`);
    assert.deepEqual(list.json.versions.map((v) => v.version), ['0.2.0', '0.2.1', '1.0.0']);
    await until(a, () => errors.length === 3);
    assert.deepEqual(errors.map((e) => [e.event, e.code]), [['create-version', 'VERSION_UNCHANGED'],
      ['create-version', 'INVALID_PAYLOAD'], ['create-version', 'VERSION_UNCHANGED']]);
    const viaSocket = await request(a, 'create-version',
      { prdId, changelog: 'Same again', versionType: 'patch', force: true });
    assert.equal(viaSocket.ok, true, JSON.stringify(viaSocket));
    assert.equal(viaSocket.version.version, '1.0.1');

    // Refusals change nothing.
    const before = (await rest(hub, 'GET', `/api/prds/${prdId}/versions`)).json.versions.length;
    const cases = [
      [{ body: { changelog: 'x' }, tok: tok('v', { role: 'viewer' }) }, 403, 'FORBIDDEN'],
      [{ body: { changelog: 'x', force: true }, tok: tok('o', { org: 'org_other' }) }, 404,
        'PRD_NOT_FOUND'],
      [{ body: {} }, 400, 'INVALID_PAYLOAD'],
      [{ body: { changelog: '   ', force: true } }, 400, 'INVALID_PAYLOAD'],
      [{ body: { changelog: 'x'.repeat(2001), force: true } }, 400, 'INVALID_PAYLOAD'],
      [{ body: { changelog: 'x', versionType: 'huge', force: true } }, 400, 'INVALID_PAYLOAD'],
      [{ body: { changelog: 'x', force: 'yes' } }, 400, 'INVALID_PAYLOAD'],
      [{ body: { changelog: 'x', extra: 1 } }, 400, 'INVALID_PAYLOAD'],
      [{ body: 'x' }, 400, 'INVALID_PAYLOAD'],
      // null is absent: a null changelog is a missing one.
      [{ body: { changelog: null, force: true } }, 400, 'INVALID_PAYLOAD'],
      // Control characters other than tab and line breaks.
      [{ body: { changelog: 'Red \u001b[31m text', force: true } }, 400, 'INVALID_PAYLOAD'],
      [{ body: { changelog: 'x\u0000y', force: true } }, 400, 'INVALID_PAYLOAD'],
      [{ body: { changelog: 'C1 \u0085 here', force: true } }, 400, 'INVALID_PAYLOAD'],
      [{ body: { changelog: 'bell\u0007', force: true } }, 400, 'INVALID_PAYLOAD'],
    ];
    for (const [opts, status, code] of cases) {
      const r = await rest(hub, 'POST', `/api/prds/${prdId}/versions`, opts);
      assert.equal(r.status, status, `${JSON.stringify(opts).slice(0, 80)}: ${r.text}`);
      assert.equal(r.json.code, code);
    }
    const unknown = await rest(hub, 'POST', '/api/prds/prd_nope/versions',
      { body: { changelog: 'x' } });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.code, 'PRD_NOT_FOUND');
    const escaped = await request(a, 'create-version',
      { prdId, changelog: 'Red \u001b[31m text', versionType: 'patch', force: true });
    assert.equal(escaped.error?.code, 'INVALID_PAYLOAD', JSON.stringify(escaped));
    assert.match(escaped.error.message, /control characters/);
    list = await rest(hub, 'GET', `/api/prds/${prdId}/versions`);
    assert.equal(list.json.versions.length, before);

    // null for an optional member is as if it were absent, as on sockets;
    // tabs and line breaks are a changelog's own.
    const nulls = await rest(hub, 'POST', `/api/prds/${prdId}/versions`,
      { body: { changelog: 'Tab\there\r\nand lines\n', versionType: null, force: true } });
    assert.equal(nulls.status, 201, nulls.text);
    assert.equal(nulls.json.version, '1.1.0');
    assert.equal(nulls.json.changelog, 'Tab\there\r\nand lines\n');
    const noForce = await rest(hub, 'POST', `/api/prds/${prdId}/versions`,
      { body: { changelog: 'Same', force: null } });
    assert.equal(noForce.status, 409, noForce.text);
    assert.equal(noForce.json.code, 'VERSION_UNCHANGED');
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('GET /api/notifications: the caller\'s, newest first, paged, unread filter, mark read', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Noisy', 'text\n');
    // user_a edits (holds a site), so versions by others notify them.
    const a = await client(hub, user('user_a'));
    sockets.push(a);
    await join(a, prdId);
    const sub = await connect(hub.url, { transports: ['websocket'], auth: { token: tok('user_a') } },
      '/notifications');
    sockets.push(sub);
    const subAck = await request(sub, 'subscribe', { organizationId: 'org_e2e' });
    assert.equal(subAck.ok, true, JSON.stringify(subAck));

    const N = 3;
    for (let i = 0; i < N; i++) {
      const got = once(sub, 'notification');
      const r = await rest(hub, 'POST', `/api/prds/${prdId}/versions`,
        { body: { changelog: `v${i}`, force: true }, tok: tok('user_b') });
      assert.equal(r.status, 201, r.text);
      await got;
    }

    const all = await rest(hub, 'GET', '/api/notifications', { tok: tok('user_a') });
    assert.equal(all.status, 200, all.text);
    assert.equal(all.json.notifications.length, N);
    assert.equal(all.json.nextBefore, null);
    const versions = all.json.notifications.map((n) => n.data.version);
    assert.deepEqual(versions, ['0.4.0', '0.3.0', '0.2.0'], 'newest first');
    for (const n of all.json.notifications) {
      assert.equal(n.type, 'version_created');
      assert.match(n.id, /^notif_/);
      assert.equal(n.read, false);
    }

    // Paging.
    const p1 = await rest(hub, 'GET', '/api/notifications?limit=2', { tok: tok('user_a') });
    assert.equal(p1.json.notifications.length, 2);
    assert.equal(typeof p1.json.nextBefore, 'string');
    const p2 = await rest(hub, 'GET', `/api/notifications?limit=2&before=${p1.json.nextBefore}`,
      { tok: tok('user_a') });
    assert.deepEqual(p2.json.notifications.map((n) => n.id), [all.json.notifications[2].id]);
    assert.equal(p2.json.nextBefore, null);

    // Mark one read: the unread filter leaves it out.
    const target = all.json.notifications[0].id;
    const marked = await rest(hub, 'POST', '/api/notifications/read',
      { body: { ids: [target] }, tok: tok('user_a') });
    assert.equal(marked.status, 200, marked.text);
    assert.deepEqual(marked.json, { marked: 1 });
    const others = await rest(hub, 'POST', '/api/notifications/read',
      { body: { ids: [all.json.notifications[1].id] }, tok: tok('user_b') });
    assert.deepEqual(others.json, { marked: 0 }, 'another user cannot mark them');
    const unread = await rest(hub, 'GET', '/api/notifications?unread=true', { tok: tok('user_a') });
    assert.deepEqual(unread.json.notifications.map((n) => n.id),
      all.json.notifications.slice(1).map((n) => n.id));
    const again = await rest(hub, 'GET', '/api/notifications', { tok: tok('user_a') });
    assert.equal(again.json.notifications[0].read, true);

    // Other users and organizations see none of them.
    const b = await rest(hub, 'GET', '/api/notifications', { tok: tok('user_b') });
    assert.deepEqual(b.json.notifications, []);
    const other = await rest(hub, 'GET', '/api/notifications',
      { tok: tok('user_a', { org: 'org_other' }) });
    assert.deepEqual(other.json.notifications, []);

    // Refusals.
    for (const q of ['?unread=maybe', '?limit=0', '?limit=101', '?limit=x', '?before=abc',
      '?before=-1', '?unread=true&unread=false', '?limit=5&limit=5']) {
      const r = await rest(hub, 'GET', `/api/notifications${q}`, { tok: tok('user_a') });
      assert.equal(r.status, 400, q);
      assert.equal(r.json.code, 'INVALID_PAYLOAD', q);
    }
    for (const [body, code] of [[{}, 'INVALID_PAYLOAD'], [{ ids: [] }, 'INVALID_PAYLOAD'],
      [{ ids: Array(501).fill(target) }, 'INVALID_PAYLOAD'], [{ ids: ['nope'] }, 'INVALID_ID'],
      [{ ids: [7] }, 'INVALID_ID'], [{ ids: ['notif_1'] }, 'INVALID_ID'],
      [{ ids: ['notif_' + 'A'.repeat(32)] }, 'INVALID_ID']]) {
      const r = await rest(hub, 'POST', '/api/notifications/read', { body, tok: tok('user_a') });
      assert.equal(r.status, 400, JSON.stringify(body).slice(0, 60));
      assert.equal(r.json.code, code);
    }
    const noToken = await rest(hub, 'GET', '/api/notifications', { tok: null });
    assert.equal(noToken.status, 401);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});
