// SPDX-License-Identifier: GPL-3.0-or-later
//
// Managing PRDs (docs/protocol.md, "Managing PRDs"): PATCH and DELETE
// /api/prds/{id} with their role rules and refusals, the prd-updated and
// prd-deleted events in the PRD's room, archived PRDs in lists, joins and
// edits, and versions kept in git unless purged.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startHub, token } from './helpers/hub.js';
import {
  client, request, join, bump, once, user, rest, createPrd, recorder, until,
} from './collab-helpers.js';
import { startAiServer, startAiHub } from './ai-helpers.js';

const ISO_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

function tok(sub, extra = {}) {
  return token({ sub, name: `Name ${sub}`, ...extra });
}

function git(dir, ...args) {
  return spawnSync('git', ['--git-dir', dir, ...args], { encoding: 'utf8' });
}

test('PATCH renames and archives; the room hears prd-updated; archived PRDs are read-only', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Old title', '# Plan\n', user('owner_1'));
    const a = await client(hub, user('user_a'));
    sockets.push(a);
    const j = await join(a, prdId);

    // Rename: 200 with the PRD, the room hears it.
    const heard = once(a, 'prd-updated');
    const res = await rest(hub, 'PATCH', `/api/prds/${prdId}`,
      { body: { title: 'New title' }, tok: tok('user_b') });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.id, prdId);
    assert.equal(res.json.title, 'New title');
    assert.equal(res.json.archived, false);
    assert.equal(res.json.archivedAt, null);
    const { args: [ev] } = await heard;
    assert.deepEqual(Object.keys(ev).sort(), ['by', 'prd', 'prdId', 'timestamp']);
    assert.equal(ev.prdId, prdId);
    assert.equal(ev.prd.title, 'New title');
    assert.deepEqual(ev.by, { id: 'user_b', name: 'Name user_b' });
    assert.match(ev.timestamp, ISO_RE);
    const got = await rest(hub, 'GET', `/api/prds/${prdId}`);
    assert.equal(got.json.title, 'New title');

    // Archive: listed only on request; the member's edits are refused.
    const archivedEv = once(a, 'prd-updated');
    const arch = await rest(hub, 'PATCH', `/api/prds/${prdId}`, { body: { archived: true } });
    assert.equal(arch.status, 200, arch.text);
    assert.equal(arch.json.archived, true);
    assert.match(arch.json.archivedAt, ISO_RE);
    assert.equal((await archivedEv).args[0].prd.archived, true);

    const listed = await rest(hub, 'GET', '/api/prds');
    assert.equal(listed.json.prds.some((p) => p.id === prdId), false, 'hidden by default');
    const onlyArchived = await rest(hub, 'GET', '/api/prds?archived=true');
    assert.deepEqual(onlyArchived.json.prds.map((p) => p.id), [prdId]);
    const all = await rest(hub, 'GET', '/api/prds?archived=all');
    assert.equal(all.json.prds.some((p) => p.id === prdId && p.archived), true);
    const badFilter = await rest(hub, 'GET', '/api/prds?archived=maybe');
    assert.equal(badFilter.status, 400);
    assert.equal(badFilter.json.code, 'INVALID_PAYLOAD');

    const refused = await request(a, 'content-update', {
      prdId, operation: { type: 'insert', position: 0, content: 'x', timestamp: Date.now() },
      stateVector: bump(j.vector, j.siteId),
    });
    assert.equal(refused.error?.code, 'FORBIDDEN', JSON.stringify(refused));

    // A new join is granted view mode only, and says the PRD is archived.
    const c = await client(hub, user('user_c'));
    sockets.push(c);
    const jc = await join(c, prdId);
    assert.equal(jc.joined.mode, 'view');
    assert.equal(jc.joined.archived, true);
    assert.equal(jc.joined.title, 'New title');

    // Archiving again keeps the first time; unarchiving makes it editable.
    const again = await rest(hub, 'PATCH', `/api/prds/${prdId}`, { body: { archived: true } });
    assert.equal(again.json.archivedAt, arch.json.archivedAt);
    const un = await rest(hub, 'PATCH', `/api/prds/${prdId}`, { body: { archived: false } });
    assert.equal(un.json.archived, false);
    const edited = await request(a, 'content-update', {
      prdId, operation: { type: 'insert', position: 0, content: 'x', timestamp: Date.now() },
      stateVector: bump(j.vector, j.siteId),
    });
    assert.equal(edited.ok, true, JSON.stringify(edited));
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('PATCH refusals change nothing', async () => {
  const hub = await startHub();
  try {
    const prdId = await createPrd(hub, 'Keep me');
    const cases = [
      [{ body: { title: 'x' }, tok: tok('v', { role: 'viewer' }) }, 403, 'FORBIDDEN'],
      [{ body: { title: 'x' }, tok: tok('o', { org: 'org_other', role: 'admin' }) }, 404,
        'PRD_NOT_FOUND'],
      [{ body: {} }, 400, 'INVALID_PAYLOAD'],
      // null is absent: these are empty patches, as {} is.
      [{ body: { archived: null } }, 400, 'INVALID_PAYLOAD'],
      [{ body: { title: null, archived: null } }, 400, 'INVALID_PAYLOAD'],
      [{ body: { title: '' } }, 400, 'INVALID_PAYLOAD'],
      [{ body: { title: 'x'.repeat(201) } }, 400, 'INVALID_PAYLOAD'],
      [{ body: { title: 7 } }, 400, 'INVALID_PAYLOAD'],
      [{ body: { title: ' \u00a0\u3000 ' } }, 400, 'INVALID_PAYLOAD'],
      [{ body: { title: 'a\u0007b' } }, 400, 'INVALID_PAYLOAD'],
      [{ body: { title: 'a\u0085b' } }, 400, 'INVALID_PAYLOAD'],
      [{ body: { archived: 'yes' } }, 400, 'INVALID_PAYLOAD'],
      [{ body: { title: 'x', owner: 'me' } }, 400, 'INVALID_PAYLOAD'],
      [{ body: ['title'] }, 400, 'INVALID_PAYLOAD'],
      [{ raw: '{"title": "x",}', headers: { 'content-type': 'application/json' } }, 400,
        'INVALID_PAYLOAD'],
      [{ body: { title: 'x' }, tok: null }, 401, 'AUTHENTICATION_FAILED'],
    ];
    for (const [opts, status, code] of cases) {
      const res = await rest(hub, 'PATCH', `/api/prds/${prdId}`, opts);
      assert.equal(res.status, status, `${JSON.stringify(opts)}: ${res.text}`);
      assert.equal(res.json.code, code, JSON.stringify(opts));
    }
    const unknown = await rest(hub, 'PATCH', '/api/prds/prd_nope', { body: { title: 'x' } });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.code, 'PRD_NOT_FOUND');
    const badId = await rest(hub, 'PATCH', '/api/prds/nope', { body: { title: 'x' } });
    assert.equal(badId.status, 400);
    assert.equal(badId.json.code, 'INVALID_ID');
    const after = await rest(hub, 'GET', `/api/prds/${prdId}`);
    assert.equal(after.json.title, 'Keep me');
    assert.equal(after.json.archived, false);
    // Beside a change, a null member is left as it is.
    const renamed = await rest(hub, 'PATCH', `/api/prds/${prdId}`,
      { body: { title: 'Renamed', archived: null } });
    assert.equal(renamed.status, 200, renamed.text);
    assert.equal(renamed.json.title, 'Renamed');
    assert.equal(renamed.json.archived, false);
    // A member given twice: the last one counts.
    const twice = await rest(hub, 'PATCH', `/api/prds/${prdId}`,
      { raw: '{"title": "First", "title": "Last"}', headers: { 'content-type': 'application/json' } });
    assert.equal(twice.status, 200, twice.text);
    assert.equal(twice.json.title, 'Last');
  } finally {
    await hub.stop();
  }
});

test('DELETE: role rules, the room hears prd-deleted and closes, versions stay unless purged', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const owner = user('owner_1');
    const prdId = await createPrd(hub, 'Doomed', '# Gone soon\n', owner);
    const a = await client(hub, user('user_a'));
    sockets.push(a);
    await join(a, prdId);
    const v = await request(a, 'create-version', { prdId, changelog: 'First', versionType: 'minor' });
    assert.equal(v.ok, true, JSON.stringify(v));

    // Refusals first: nothing changes.
    for (const [t, status, code] of [
      [tok('v', { role: 'viewer' }), 403, 'FORBIDDEN'],
      [tok('user_a'), 403, 'FORBIDDEN'], // an editor who is not the owner
      [tok('x', { org: 'org_other', role: 'admin' }), 404, 'PRD_NOT_FOUND'],
    ]) {
      const res = await rest(hub, 'DELETE', `/api/prds/${prdId}`, { tok: t });
      assert.equal(res.status, status, res.text);
      assert.equal(res.json.code, code);
    }
    for (const q of ['?purgeVersions=yes', '?purge=true']) {
      const res = await rest(hub, 'DELETE', `/api/prds/${prdId}${q}`, { tok: tok('owner_1') });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.code, 'INVALID_PAYLOAD');
    }
    const badId = await rest(hub, 'DELETE', '/api/prds/nope', { tok: tok('owner_1') });
    assert.equal(badId.status, 400);
    assert.equal(badId.json.code, 'INVALID_ID');
    const unknown = await rest(hub, 'DELETE', '/api/prds/prd_nope', { tok: tok('a', { role: 'admin' }) });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.code, 'PRD_NOT_FOUND');
    const anonymous = await rest(hub, 'DELETE', `/api/prds/${prdId}`, { tok: null });
    assert.equal(anonymous.status, 401);
    assert.equal((await rest(hub, 'GET', `/api/prds/${prdId}`)).status, 200);

    // The owner deletes it: the member hears prd-deleted and is out of the room.
    const deleted = once(a, 'prd-deleted');
    const res = await rest(hub, 'DELETE', `/api/prds/${prdId}`, { tok: tok('owner_1') });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { prdId, deleted: true, purgedVersions: 0 });
    const { args: [ev] } = await deleted;
    assert.deepEqual(Object.keys(ev).sort(), ['by', 'prdId', 'timestamp']);
    assert.equal(ev.prdId, prdId);
    assert.deepEqual(ev.by, { id: 'owner_1', name: 'Name owner_1' });
    const left = await request(a, 'leave-prd', { prdId });
    assert.equal(left.error?.code, 'NOT_JOINED');
    const rejoin = await request(a, 'join-prd', { prdId, mode: 'edit' });
    assert.equal(rejoin.error?.code, 'PRD_NOT_FOUND');
    assert.equal((await rest(hub, 'GET', `/api/prds/${prdId}`)).status, 404);
    assert.equal((await rest(hub, 'GET', `/api/prds/${prdId}/versions`)).status, 404);
    const again = await rest(hub, 'DELETE', `/api/prds/${prdId}`, { tok: tok('a', { role: 'admin' }) });
    assert.equal(again.status, 404);
    assert.equal(again.json.code, 'PRD_NOT_FOUND');

    // Kept in git: the tag and the file on the branch.
    const repo = `${hub.dataDir}/versions.git`;
    assert.equal(git(repo, 'tag', '-l', `${prdId}/*`).stdout.trim(), `${prdId}/v0.2.0`);
    assert.equal(git(repo, 'show', `main:${prdId}.md`).stdout, '# Gone soon\n');

    // Purged: an admin deletes another PRD with its versions.
    const other = await createPrd(hub, 'Purge me', 'text\n');
    const v2 = await request(a, 'create-version', { prdId: other, changelog: 'One', versionType: 'minor' });
    assert.equal(v2.ok, true);
    const v3 = await request(a, 'create-version',
      { prdId: other, changelog: 'Two', versionType: 'patch', force: true });
    assert.equal(v3.ok, true);
    const purged = await rest(hub, 'DELETE', `/api/prds/${other}?purgeVersions=true`,
      { tok: tok('boss', { role: 'admin' }) });
    assert.equal(purged.status, 200, purged.text);
    assert.deepEqual(purged.json, { prdId: other, deleted: true, purgedVersions: 2 });
    assert.equal(git(repo, 'tag', '-l', `${other}/*`).stdout.trim(), '');
    assert.notEqual(git(repo, 'show', `main:${other}.md`).status, 0, 'file gone from the branch');
    assert.equal(git(repo, 'show', `main:${prdId}.md`).stdout, '# Gone soon\n', 'others kept');
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('archiving stops the hub\'s own writing too: a streaming AI job ends with FORBIDDEN', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai);
  const sockets = [];
  try {
    const initial = '# PRD\n';
    const prdId = await createPrd(hub, 'AI then archive', initial);
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    sockets.push(a, b);
    await join(a, prdId);
    await join(b, prdId);
    const updates = [];
    b.on('content-update', (u) => updates.push(u));
    const events = recorder(a, ['ai-stream-chunk', 'ai-stream-complete', 'ai-error']);

    const ack = await request(a, 'ai-prompt', { prdId, prompt: 'scenario:gated go',
      context: { cursorPosition: initial.length } });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await until(b, () => updates.length === 1); // "first" is in
    const archived = await rest(hub, 'PATCH', `/api/prds/${prdId}`, { body: { archived: true } });
    assert.equal(archived.status, 200, archived.text);
    ai.openGate();
    await until(a, () => events.some((e) => e.event !== 'ai-stream-chunk'));
    const end = events.find((e) => e.event !== 'ai-stream-chunk');
    assert.equal(end.event, 'ai-error', JSON.stringify(events));
    assert.equal(end.data.error.code, 'FORBIDDEN', JSON.stringify(end.data));
    const text = await rest(hub, 'GET', `/api/prds/${prdId}/export.md`);
    assert.equal(text.text, `${initial}first`);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
    await ai.stop();
  }
});

// GET /api/prds a page at a time (docs/protocol.md, "PRD and version lists
// are paged"): every page in the same order the whole list had, the cursor
// neither skipping nor repeating a PRD while others are created or deleted.
async function pageThrough(hub, query, { tok: t } = {}) {
  const ids = [];
  let after = null;
  for (let pages = 0; pages < 100; pages++) {
    const sep = query === '' ? '?' : '&';
    const path = `/api/prds${query === '' ? '' : `?${query}`}` +
      (after === null ? '' : `${sep}after=${encodeURIComponent(after)}`);
    const res = await rest(hub, 'GET', path, { tok: t });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.json).sort(), ['nextAfter', 'prds']);
    ids.push(...res.json.prds.map((p) => p.id));
    after = res.json.nextAfter;
    if (after === null) return ids;
    assert.equal(typeof after, 'string');
  }
  throw new Error('more than 100 pages');
}

test('GET /api/prds is paged: limit, after, nextAfter, archived filters, edges', async () => {
  const hub = await startHub();
  try {
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await createPrd(hub, `PRD ${i}`));
    for (const i of [1, 3]) {
      const res = await rest(hub, 'PATCH', `/api/prds/${ids[i]}`, { body: { archived: true } });
      assert.equal(res.status, 200, res.text);
    }
    const active = [ids[0], ids[2], ids[4]];

    // Pages of 2: two pages, the last one's nextAfter null.
    const first = await rest(hub, 'GET', '/api/prds?limit=2');
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(first.json.prds.map((p) => p.id), active.slice(0, 2));
    assert.equal(typeof first.json.nextAfter, 'string');
    const second = await rest(hub, 'GET',
      `/api/prds?limit=2&after=${encodeURIComponent(first.json.nextAfter)}`);
    assert.deepEqual(second.json.prds.map((p) => p.id), active.slice(2));
    assert.equal(second.json.nextAfter, null);
    // A page exactly as long as what is left: no empty page after it.
    const exact = await rest(hub, 'GET', '/api/prds?limit=3');
    assert.deepEqual(exact.json.prds.map((p) => p.id), active);
    assert.equal(exact.json.nextAfter, null);
    const one = await rest(hub, 'GET', '/api/prds?limit=1');
    assert.deepEqual(one.json.prds.map((p) => p.id), [ids[0]]);
    assert.notEqual(one.json.nextAfter, null);
    // Each filter pages in SQL: the archived ones, and both.
    assert.deepEqual(await pageThrough(hub, 'archived=true&limit=1'), [ids[1], ids[3]]);
    assert.deepEqual(await pageThrough(hub, 'archived=all&limit=2'), ids);
    assert.deepEqual(await pageThrough(hub, 'limit=100'), active);

    // Creates and deletes between pages: nothing skipped, nothing repeated.
    const p1 = await rest(hub, 'GET', '/api/prds?archived=all&limit=2');
    assert.deepEqual(p1.json.prds.map((p) => p.id), ids.slice(0, 2));
    const late = await createPrd(hub, 'Late');
    for (const id of [ids[1], ids[2]]) {
      const del = await rest(hub, 'DELETE', `/api/prds/${id}`, { tok: tok('boss', { role: 'admin' }) });
      assert.equal(del.status, 200, del.text);
    }
    let after = p1.json.nextAfter;
    const seen = [];
    for (;;) {
      const res = await rest(hub, 'GET',
        `/api/prds?archived=all&limit=2&after=${encodeURIComponent(after)}`);
      assert.equal(res.status, 200, res.text);
      seen.push(...res.json.prds.map((p) => p.id));
      after = res.json.nextAfter;
      if (after === null) break;
    }
    assert.deepEqual(seen, [ids[3], ids[4], late]);
    assert.deepEqual(await pageThrough(hub, 'archived=all&limit=2'), [ids[0], ids[3], ids[4], late]);

    // Bad values: 400 INVALID_PAYLOAD with a message, whatever else is right.
    const bad = [
      ['limit=0', /limit must be an integer from 1 to 100/],
      ['limit=101', /limit must be an integer from 1 to 100/],
      ['limit=abc', /limit must be an integer from 1 to 100/],
      ['limit=-1', /limit/],
      ['limit=1.5', /limit/],
      ['limit=', /./],
      ['limit=2&limit=3', /given more than once/],
      ['after=garbage', /after must be a cursor \(nextAfter of the previous page\)/],
      ['after=123', /after must be a cursor/],
      ['after=.prd_x', /after must be a cursor/],
      ['after=-5.prd_x', /after must be a cursor/],
      ['after=12.not%20an%20id', /after must be a cursor/],
      ['after=12.', /after must be a cursor/],
      ['after=1&after=2', /given more than once/],
      ['archived=all&limit=0', /limit/],
    ];
    for (const [query, message] of bad) {
      const res = await rest(hub, 'GET', `/api/prds?${query}`);
      assert.equal(res.status, 400, `${query}: ${res.text}`);
      assert.equal(res.json.code, 'INVALID_PAYLOAD', query);
      assert.match(res.json.message, message, query);
    }
  } finally {
    await hub.stop();
  }
});

test('GET /api/prds: the default page is 100 PRDs, the rest on the next page', async () => {
  const hub = await startHub();
  try {
    const ids = [];
    for (let i = 0; i < 101; i++) ids.push(await createPrd(hub, `PRD ${i}`));
    const first = await rest(hub, 'GET', '/api/prds');
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(first.json.prds.map((p) => p.id), ids.slice(0, 100));
    assert.equal(typeof first.json.nextAfter, 'string');
    const max = await rest(hub, 'GET', '/api/prds?limit=100');
    assert.deepEqual(max.json, first.json);
    const second = await rest(hub, 'GET',
      `/api/prds?after=${encodeURIComponent(first.json.nextAfter)}`);
    assert.deepEqual(second.json.prds.map((p) => p.id), [ids[100]]);
    assert.equal(second.json.nextAfter, null);
    // Another organization's viewer pages through its own (empty) list.
    const other = await rest(hub, 'GET', `/api/prds?after=${encodeURIComponent(first.json.nextAfter)}`,
      { tok: tok('x', { org: 'org_other', role: 'viewer' }) });
    assert.deepEqual(other.json, { prds: [], nextAfter: null });
  } finally {
    await hub.stop();
  }
});

// A room's document is rebuilt on a worker thread from what the store read;
// a PATCH answered meanwhile is newer than that read and must win: the
// joins after it see its title and archived state, and an archived PRD
// takes no edit. (The build of this PRD, 2,000 deletes in its update log,
// takes long enough that some PATCHes land during it.)
test('a PATCH answered while the room is being opened is what the room keeps', async () => {
  const hub = await startHub({
    config: '[collab]\nbatch-threshold = 0\nempty-room-grace = 0\nsnapshot-every = 1000000\n' +
      '[rate-limit]\ncollab = 1000000/10\nrest = 100000/60\n',
  });
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const admin = tok('owner', { role: 'admin' });
  try {
    const prdId = await createPrd(hub, 'Big', 'x'.repeat(100000));
    const a = await client(hub, user('user_a'));
    const j = await join(a, prdId);
    let v = j.vector;
    for (let i = 0; i < 2000; i += 200) {
      const batch = [];
      for (let k = i; k < i + 200; k++) {
        v = bump(v, j.siteId);
        batch.push(request(a, 'content-update', {
          prdId, operation: { type: 'delete', position: (k * 37) % 90000, length: 1 }, stateVector: v,
        }));
      }
      for (const ack of await Promise.all(batch)) assert.equal(ack.ok, true, JSON.stringify(ack));
    }
    await request(a, 'leave-prd', { prdId });
    a.close();

    for (let trial = 0; trial < 6; trial++) {
      await sleep(300); // the room closes (empty-room-grace = 0)
      const archived = trial % 2 === 0;
      const title = `Title ${trial}`;
      const b = await client(hub, user('user_b'));
      const joining = join(b, prdId);
      await sleep(trial * 2);
      const patched = await rest(hub, 'PATCH', `/api/prds/${prdId}`,
        { body: { archived, title }, tok: admin });
      assert.equal(patched.status, 200, patched.text);
      const jb = await joining;
      if (jb.joined.mode === 'edit') {
        const ack = await request(b, 'content-update', {
          prdId, operation: { type: 'insert', position: 0, content: 'Z' },
          stateVector: bump(jb.vector, jb.siteId),
        });
        if (archived) assert.equal(ack.error?.code, 'FORBIDDEN', `trial ${trial}: ${JSON.stringify(ack)}`);
      }
      const c = await client(hub, user('user_c'));
      const jc = await join(c, prdId);
      assert.equal(jc.joined.archived, archived, `trial ${trial}`);
      assert.equal(jc.joined.mode, archived ? 'view' : 'edit', `trial ${trial}`);
      assert.equal(jc.joined.title, title, `trial ${trial}`);
      await request(c, 'leave-prd', { prdId });
      await request(b, 'leave-prd', { prdId });
      b.close();
      c.close();
    }
  } finally {
    await hub.stop();
  }
});
