// SPDX-License-Identifier: GPL-3.0-or-later
//
// Versions and auto-save over plain socket.io-client sockets
// (docs/protocol.md, "Versions" and "Auto-save"): create-version and its
// events in the seed's shapes, refusals, concurrent calls, the REST routes,
// a restart, and auto-save events only for PRDs with unsaved changes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startHub, tmpDir, token } from './helpers/hub.js';
import {
  client, request, join, bump, once, user, rest, createPrd, recorder, until,
} from './collab-helpers.js';

const HASH_RE = /^[0-9a-f]{40}$/;
const ISO_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

function assertVersion(v, { version, changelog, by }) {
  assert.deepEqual(Object.keys(v).sort(),
    ['changelog', 'commitHash', 'createdAt', 'createdBy', 'id', 'version']);
  assert.match(v.id, /^ver_[0-9a-f]{16}$/);
  assert.equal(v.version, version);
  assert.equal(v.changelog, changelog);
  assert.match(v.commitHash, HASH_RE);
  assert.deepEqual(v.createdBy, { id: by, name: `Name ${by}` });
  assert.match(v.createdAt, ISO_RE);
}

async function edit(socket, j, prdId, position, content) {
  const stateVector = bump(j.vector, j.siteId);
  const ack = await request(socket, 'content-update', {
    prdId, operation: { type: 'insert', position, content, timestamp: Date.now() }, stateVector,
  });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  j.vector = ack.stateVector;
}

test('create-version: seed shapes, REST versions, contents and diff', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Versioned', '# Plan\n');
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b', { role: 'admin' }));
    sockets.push(a, b);
    const j = await join(a, prdId);
    await join(b, prdId);

    const createdA = once(a, 'version-created');
    const commitB = once(b, 'git-commit');
    const ack = await request(a, 'create-version', {
      prdId, changelog: 'Added OAuth2 technical requirements', versionType: 'minor',
    });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    assertVersion(ack.version, {
      version: '0.2.0', changelog: 'Added OAuth2 technical requirements', by: 'user_a',
    });
    const { args: [vc] } = await createdA;
    assert.deepEqual(Object.keys(vc).sort(), ['prdId', 'version']);
    assert.equal(vc.prdId, prdId);
    assert.deepEqual(vc.version, ack.version);
    const { args: [gc] } = await commitB;
    assert.deepEqual(Object.keys(gc).sort(), ['commit', 'prdId']);
    assert.equal(gc.prdId, prdId);
    assert.deepEqual(gc.commit, {
      hash: ack.version.commitHash,
      message: 'Added OAuth2 technical requirements',
      author: 'Name user_a',
      timestamp: ack.version.createdAt,
      files: [`${prdId}.md`],
    });

    await edit(a, j, prdId, 7, 'OAuth2 login\n');
    const ack2 = await request(b, 'create-version', {
      prdId, changelog: 'Login', versionType: 'patch',
    });
    assertVersion(ack2.version, { version: '0.2.1', changelog: 'Login', by: 'user_b' });

    const list = await rest(hub, 'GET', `/api/prds/${prdId}/versions`);
    assert.equal(list.status, 200);
    assert.equal(list.json.prdId, prdId);
    assert.deepEqual(list.json.versions, [ack.version, ack2.version]);

    const v1 = await rest(hub, 'GET', `/api/prds/${prdId}/versions/0.2.0`);
    assert.equal(v1.status, 200);
    assert.match(v1.headers.get('content-type'), /^text\/markdown/);
    assert.equal(v1.text, '# Plan\n');
    const v2 = await rest(hub, 'GET', `/api/prds/${prdId}/versions/0.2.1`);
    assert.equal(v2.text, '# Plan\nOAuth2 login\n');

    const diff = await rest(hub, 'GET', `/api/prds/${prdId}/diff?from=0.2.0&to=0.2.1`);
    assert.equal(diff.status, 200);
    assert.match(diff.headers.get('content-type'), /^text\/x-diff/);
    assert.match(diff.text, new RegExp(`^diff --git a/${prdId}\\.md b/${prdId}\\.md\\n`));
    assert.match(diff.text, /\n@@ -1 \+1,2 @@\n # Plan\n\+OAuth2 login\n$/);
    const same = await rest(hub, 'GET', `/api/prds/${prdId}/diff?from=0.2.1&to=0.2.1`);
    assert.equal(same.status, 200);
    assert.equal(same.text, '');

    // The PRD's version field follows.
    const page = await rest(hub, 'GET', `/api/prds/${prdId}`);
    assert.equal(page.json.version, '0.2.1');

    // REST refusals: codes, same organization rules as the other routes.
    const cases = [
      [`/api/prds/${prdId}/versions/0.9.0`, 404, 'NOT_FOUND'],
      [`/api/prds/${prdId}/versions/1.2`, 400, 'INVALID_PAYLOAD'],
      [`/api/prds/${prdId}/versions/v0.2.0`, 400, 'INVALID_PAYLOAD'],
      [`/api/prds/${prdId}/diff?from=0.2.0`, 400, 'INVALID_PAYLOAD'],
      [`/api/prds/${prdId}/diff?from=0.2.0&to=x`, 400, 'INVALID_PAYLOAD'],
      [`/api/prds/${prdId}/diff?from=0.2.0&to=3.0.0`, 404, 'NOT_FOUND'],
      ['/api/prds/prd_unknownunknown1/versions', 404, 'PRD_NOT_FOUND'],
    ];
    for (const [path, status, code] of cases) {
      const res = await rest(hub, 'GET', path);
      assert.equal(res.status, status, `${path}: ${res.text}`);
      assert.equal(res.json?.code, code, `${path}: ${res.text}`);
    }
    const other = await rest(hub, 'GET', `/api/prds/${prdId}/versions`,
      { tok: token({ org: 'org_other' }) });
    assert.equal(other.status, 404);
    assert.equal(other.json.code, 'PRD_NOT_FOUND');
    const anonymous = await rest(hub, 'GET', `/api/prds/${prdId}/versions`, { tok: null });
    assert.equal(anonymous.status, 401);
    // POST creates a version (manage-versions.test.js); other methods are refused.
    const put = await rest(hub, 'PUT', `/api/prds/${prdId}/versions`, { body: {} });
    assert.equal(put.status, 405);
    assert.match(put.headers.get('allow'), /POST/);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('create-version refusals change nothing; viewers are refused', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Refusals', 'x');
    const viewer = await client(hub, user('user_v', { role: 'viewer' }));
    const editor = await client(hub, user('user_e'));
    const stranger = await client(hub, user('user_s', { org: 'org_other' }));
    sockets.push(viewer, editor, stranger);
    const events = recorder(editor, ['version-created', 'git-commit']);
    await join(editor, prdId);

    const cases = [
      [viewer, { prdId, changelog: 'x', versionType: 'minor' }, 'FORBIDDEN'],
      [editor, { prdId, changelog: 'x', versionType: 'giant' }, 'INVALID_PAYLOAD'],
      [editor, { prdId, changelog: 'x' }, 'INVALID_PAYLOAD'],
      [editor, { prdId, changelog: ['x'], versionType: 'minor' }, 'INVALID_PAYLOAD'],
      [editor, { prdId, changelog: 'y'.repeat(2001), versionType: 'minor' }, 'INVALID_PAYLOAD'],
      [editor, { prdId, changelog: '', versionType: 'minor' }, 'INVALID_PAYLOAD'],
      [editor, { prdId: 42, changelog: 'x', versionType: 'minor' }, 'INVALID_PAYLOAD'],
      [editor, { prdId: 'prd_nothere12345678', changelog: 'x', versionType: 'minor' },
        'PRD_NOT_FOUND'],
      [stranger, { prdId, changelog: 'x', versionType: 'minor' }, 'PRD_NOT_FOUND'],
    ];
    for (const [socket, payload, code] of cases) {
      const error = once(socket, 'error');
      const ack = await request(socket, 'create-version', payload);
      assert.equal(ack.error?.code, code, JSON.stringify(ack));
      const { args: [e] } = await error;
      assert.equal(e.code, code);
      assert.equal(e.event, 'create-version');
    }
    const list = await rest(hub, 'GET', `/api/prds/${prdId}/versions`);
    assert.deepEqual(list.json.versions, []);
    const page = await rest(hub, 'GET', `/api/prds/${prdId}`);
    assert.equal(page.json.version, '0.1.0');
    assert.equal(events.length, 0);
    // Exactly 2000 characters is accepted.
    const ok = await request(editor, 'create-version',
      { prdId, changelog: 'z'.repeat(2000), versionType: 'major' });
    assert.equal(ok.version.version, '1.0.0');
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('concurrent create-version calls get distinct, ordered versions', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Race', 'x');
    const clients = [];
    for (let i = 0; i < 4; i++) clients.push(await client(hub, user(`user_${i}`)));
    sockets.push(...clients);
    const acks = await Promise.all(clients.flatMap((c, i) => [0, 1, 2].map((k) =>
      request(c, 'create-version',
        { prdId, changelog: `c${i}.${k}`, versionType: 'patch', force: true }))));
    const versions = acks.map((a) => a.version.version);
    assert.equal(new Set(versions).size, 12);
    assert.deepEqual([...versions].sort((x, y) => Number(x.split('.')[2]) - Number(y.split('.')[2])),
      Array.from({ length: 12 }, (_, i) => `0.1.${i + 1}`));
    // One client's calls keep their order.
    for (let i = 0; i < 4; i++) {
      const mine = acks.slice(i * 3, i * 3 + 3).map((a) => Number(a.version.version.split('.')[2]));
      assert.ok(mine[0] < mine[1] && mine[1] < mine[2], JSON.stringify(mine));
    }
    const list = await rest(hub, 'GET', `/api/prds/${prdId}/versions`);
    assert.deepEqual(list.json.versions.map((v) => v.version),
      Array.from({ length: 12 }, (_, i) => `0.1.${i + 1}`));
    const hashes = new Set(list.json.versions.map((v) => v.commitHash));
    assert.equal(hashes.size, 12);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('versions survive a restart', async () => {
  const dataDir = tmpDir('prdhub-e2e-versions-');
  let hub = await startHub({ args: ['--data-dir', dataDir] });
  let socket;
  try {
    const prdId = await createPrd(hub, 'Durable', 'kept\n');
    socket = await client(hub, user('user_a'));
    const first = await request(socket, 'create-version',
      { prdId, changelog: 'one', versionType: 'minor' });
    assert.equal(first.ok, true);
    socket.close();
    await hub.stop();

    hub = await startHub({ args: ['--data-dir', dataDir] });
    const list = await rest(hub, 'GET', `/api/prds/${prdId}/versions`);
    assert.deepEqual(list.json.versions, [first.version]);
    const text = await rest(hub, 'GET', `/api/prds/${prdId}/versions/0.2.0`);
    assert.equal(text.text, 'kept\n');
    socket = await client(hub, user('user_a'));
    const second = await request(socket, 'create-version',
      { prdId, changelog: 'two', versionType: 'minor', force: true });
    assert.equal(second.version.version, '0.3.0');
  } finally {
    socket?.close();
    await hub.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('auto-save: events for a PRD with changes, none without', async () => {
  const hub = await startHub({ args: ['--autosave-interval', '1'] });
  const sockets = [];
  try {
    const changed = await createPrd(hub, 'Changed', 'abc');
    const quiet = await createPrd(hub, 'Quiet', 'xyz');
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    sockets.push(a, b);
    const j = await join(a, changed);
    await join(b, quiet);
    const events = recorder(a, ['auto-save-start', 'auto-save-complete']);
    const quietEvents = recorder(b, ['auto-save-start', 'auto-save-complete']);

    const before = Date.now();
    await edit(a, j, changed, 3, 'd');
    await until(a, () => events.length >= 2);
    const [start, complete] = events;
    assert.equal(start.event, 'auto-save-start');
    assert.deepEqual(Object.keys(start.data).sort(), ['changesSince', 'prdId']);
    assert.equal(start.data.prdId, changed);
    assert.match(start.data.changesSince, ISO_RE);
    assert.ok(Date.parse(start.data.changesSince) >= before - 1000);
    assert.equal(complete.event, 'auto-save-complete');
    assert.deepEqual(Object.keys(complete.data).sort(), ['nextSaveIn', 'prdId', 'savedAt']);
    assert.equal(complete.data.prdId, changed);
    assert.match(complete.data.savedAt, ISO_RE);
    assert.equal(complete.data.nextSaveIn, 1);

    // Three more ticks: nothing new to save in either PRD.
    await new Promise((r) => setTimeout(r, 3500));
    assert.equal(events.length, 2, JSON.stringify(events));
    assert.equal(quietEvents.length, 0, JSON.stringify(quietEvents));

    // The next change is saved again.
    await edit(a, j, changed, 0, '>');
    await until(a, () => events.length >= 4);
    assert.equal(events[2].event, 'auto-save-start');
    assert.equal(events[3].event, 'auto-save-complete');
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('--autosave-interval and [collab] autosave-interval are validated', async () => {
  for (const args of [['--autosave-interval', '0'], ['--autosave-interval', 'soon']]) {
    await assert.rejects(startHub({ args }), /autosave-interval/);
  }
  await assert.rejects(startHub({ config: '[collab]\nautosave-interval=86401\n' }),
    /autosave-interval/);
});

// GET /api/prds/{id}/versions a page at a time (docs/protocol.md, "PRD and
// version lists are paged"): oldest first, as the whole list was; a version
// made between pages comes on a later page, none is skipped or repeated.
async function postVersion(hub, prdId, changelog) {
  const res = await rest(hub, 'POST', `/api/prds/${prdId}/versions`,
    { body: { changelog, versionType: 'patch', force: true } });
  assert.equal(res.status, 201, res.text);
  return res.json;
}

test('GET /api/prds/{id}/versions is paged: limit, after, nextAfter, edges', async () => {
  const hub = await startHub();
  try {
    const prdId = await createPrd(hub, 'Paged', 'x');
    const other = await createPrd(hub, 'Other', 'y');
    const made = [];
    for (let i = 0; i < 5; i++) {
      made.push((await postVersion(hub, prdId, `v${i}`)).id);
      await postVersion(hub, other, `o${i}`); // interleaved with another PRD's
    }
    const path = `/api/prds/${prdId}/versions`;

    const first = await rest(hub, 'GET', `${path}?limit=2`);
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(Object.keys(first.json).sort(), ['nextAfter', 'prdId', 'versions']);
    assert.equal(first.json.prdId, prdId);
    assert.deepEqual(first.json.versions.map((v) => v.id), made.slice(0, 2));
    assert.equal(typeof first.json.nextAfter, 'string');
    // The cursor tells nothing of other PRDs' versions (made in between).
    assert.equal(first.json.nextAfter, '2');
    // A version made between pages comes last; nothing skipped or repeated.
    const late = (await postVersion(hub, prdId, 'late')).id;
    const seen = [...first.json.versions.map((v) => v.id)];
    let after = first.json.nextAfter;
    let pages = 1;
    while (after !== null) {
      const res = await rest(hub, 'GET', `${path}?limit=2&after=${after}`);
      assert.equal(res.status, 200, res.text);
      seen.push(...res.json.versions.map((v) => v.id));
      after = res.json.nextAfter;
      pages++;
    }
    assert.deepEqual(seen, [...made, late]);
    assert.equal(pages, 3);
    // A page exactly as long as what is left: nextAfter null, no empty page.
    const exact = await rest(hub, 'GET', `${path}?limit=6`);
    assert.deepEqual(exact.json.versions.map((v) => v.id), [...made, late]);
    assert.equal(exact.json.nextAfter, null);
    const whole = await rest(hub, 'GET', path);
    assert.deepEqual(whole.json.versions.map((v) => v.id), [...made, late]);
    assert.equal(whole.json.nextAfter, null);
    // Past the last one: an empty page.
    const last = await rest(hub, 'GET', `${path}?limit=5`);
    const past = await rest(hub, 'GET', `${path}?after=${last.json.nextAfter}&limit=1`);
    assert.deepEqual(past.json.versions.map((v) => v.id), [late]);
    assert.equal(past.json.nextAfter, null);

    const bad = [
      ['limit=0', /limit must be an integer from 1 to 100/],
      ['limit=101', /limit must be an integer from 1 to 100/],
      ['limit=x', /limit must be an integer from 1 to 100/],
      ['limit=-2', /limit/],
      ['limit=2&limit=3', /given more than once/],
      ['after=0', /after must be a cursor \(nextAfter of the previous page\)/],
      ['after=-1', /after must be a cursor/],
      ['after=abc', /after must be a cursor/],
      ['after=1.5', /after must be a cursor/],
      ['after=99999999999999999999', /after must be a cursor/],
      ['after=1&after=2', /given more than once/],
    ];
    for (const [query, message] of bad) {
      const res = await rest(hub, 'GET', `${path}?${query}`);
      assert.equal(res.status, 400, `${query}: ${res.text}`);
      assert.equal(res.json.code, 'INVALID_PAYLOAD', query);
      assert.match(res.json.message, message, query);
    }
    // The PRD is checked as before: another organization's is not found.
    const stranger = await rest(hub, 'GET', `${path}?limit=1`,
      { tok: token({ sub: 's', org: 'org_other' }) });
    assert.equal(stranger.status, 404);
    assert.equal(stranger.json.code, 'PRD_NOT_FOUND');
  } finally {
    await hub.stop();
  }
});

test('GET /api/prds/{id}/versions: the default page is 100 versions', async () => {
  const hub = await startHub();
  try {
    const prdId = await createPrd(hub, 'Many versions', 'x');
    const made = [];
    for (let i = 0; i < 101; i++) made.push((await postVersion(hub, prdId, `v${i}`)).id);
    const first = await rest(hub, 'GET', `/api/prds/${prdId}/versions`);
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(first.json.versions.map((v) => v.id), made.slice(0, 100));
    assert.equal(typeof first.json.nextAfter, 'string');
    const max = await rest(hub, 'GET', `/api/prds/${prdId}/versions?limit=100`);
    assert.deepEqual(max.json, first.json);
    const second = await rest(hub, 'GET',
      `/api/prds/${prdId}/versions?after=${first.json.nextAfter}`);
    assert.deepEqual(second.json.versions.map((v) => v.id), [made[100]]);
    assert.equal(second.json.nextAfter, null);
  } finally {
    await hub.stop();
  }
});
