// SPDX-License-Identifier: GPL-3.0-or-later
//
// Craft.io (docs/protocol.md, "Craft.io"): settings, craft-link /
// craft-unlink, automatic and suggested links of a new PRD, polling with
// updated_from and pagination, the alignment heuristic, refusals, restart,
// and secrets that never show; the seed §8.4 events through real sockets
// against the fake Craft.io (tests/e2e/helpers/fake-craftio.js).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startHub, tmpDir, token, connect, assertCleanStop } from './helpers/hub.js';
import { startFakeCraftio } from './helpers/fake-craftio.js';
import { startAiServer, aiConfig } from './ai-helpers.js';
import { client, request, join, user, rest, createPrd, recorder, until } from './collab-helpers.js';

const ADMIN = user('admin_1', { role: 'admin' });
const EDITOR = user('editor_1', { role: 'editor' });
const VIEWER = user('viewer_1', { role: 'viewer' });
const OTHER = user('editor_9', { role: 'editor', org: 'org_other' });
const VERBOSE = { G_MESSAGES_DEBUG: 'all' };

async function configure(hub, body, claims = ADMIN) {
  const res = await rest(hub, 'PUT', '/api/integrations/craftio', { body, tok: token(claims) });
  assert.equal(res.status, 200, res.text);
  return res.json;
}

function settings(fake, extra = {}) {
  return { baseUrl: fake.url, apiKey: fake.state.apiKey, workspaceId: fake.state.workspaceId,
    accountId: 'acc-1', ...extra };
}

function assertLinked(data, prdId, item, linkType) {
  assert.deepEqual(data, {
    prdId,
    initiative: {
      id: String(item.id),
      title: item.title,
      status: item.status.name.toLowerCase().replace(/[^a-z0-9]+/g, '_'),
      objectives: item.objectives.map((o) => o.title),
    },
    linkType,
  });
}

test('settings: admins only, validated, the key in its header, /me/api-key then /workspaces', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeCraftio({ header: 'X-Craft-Key', noMe: true });
  try {
    for (const who of [EDITOR, VIEWER]) {
      const res = await rest(hub, 'PUT', '/api/integrations/craftio', { body: settings(fake), tok: token(who) });
      assert.equal(res.status, 403);
    }
    for (const [body, key] of [[{ authHeader: 'x api key' }, 'authHeader'], [{ authHeader: 'Host' }, 'authHeader'],
      [{ workspaceId: 'ws/../x' }, 'workspaceId'], [{ pollInterval: 1 }, 'pollInterval'],
      [{ pollInterval: '60' }, 'pollInterval'], [{ baseUrl: 'ftp://craft' }, 'baseUrl'], [{ colour: 1 }, 'colour']]) {
      const res = await rest(hub, 'PUT', '/api/integrations/craftio', { body, tok: token(ADMIN) });
      assert.equal(res.status, 400, `${JSON.stringify(body)} ${res.text}`);
      assert.equal(res.json.key, key);
    }
    let entry = await configure(hub, settings(fake));
    assert.equal(entry.settings.apiKeySet, true);
    assert.equal(entry.settings.authHeader, 'x-api-key');
    assert.equal(entry.settings.pollInterval, 300);
    assert.equal(entry.settings.initiativeType, 'Initiative');
    // The key goes in x-api-key, which this fake does not read: 401.
    let res = await rest(hub, 'POST', '/api/integrations/craftio/test', { tok: token(ADMIN) });
    assert.equal(res.json.status, 'error', res.text);
    assert.match(res.json.lastError, /refused the API key/);
    entry = await configure(hub, { authHeader: 'X-Craft-Key' });
    res = await rest(hub, 'POST', '/api/integrations/craftio/test', { tok: token(ADMIN) });
    assert.equal(res.json.status, 'connected', res.text);
    assert.equal(fake.requestsTo(/^\/me\/api-key$/).length, 2);
    assert.equal(fake.requestsTo(/^\/workspaces$/).at(-1).headers['x-craft-key'], fake.state.apiKey);
    for (const t of [hub.stderr(), JSON.stringify(entry), res.text])
      assert.ok(!t.includes(fake.state.apiKey), 'the API key leaked');
  } finally {
    await fake.close();
    await assertCleanStop(hub);
  }
});

test('craft-link and craft-unlink: seed shape, refusals', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeCraftio();
  const sockets = [];
  try {
    const item = fake.add({ title: 'User Authentication Initiative', status: 'In Progress',
      objectives: ['Improve security', 'Reduce friction'] });
    const prdId = await createPrd(hub, 'Login page', '# Login\n', EDITOR);
    const editor = await client(hub, EDITOR);
    const viewer = await client(hub, VIEWER);
    const other = await client(hub, OTHER);
    sockets.push(editor, viewer, other);
    await join(editor, prdId);

    // Unconfigured.
    let ack = await request(editor, 'craft-link', { prdId, initiativeId: String(item.id) });
    assert.equal(ack.error.code, 'INTEGRATION_NOT_CONFIGURED', JSON.stringify(ack));
    await configure(hub, settings(fake));

    const seen = recorder(editor, ['craft-initiative-linked', 'craft-initiative-unlinked']);
    ack = await request(viewer, 'craft-link', { prdId, initiativeId: String(item.id) });
    assert.equal(ack.error.code, 'FORBIDDEN');
    ack = await request(other, 'craft-link', { prdId, initiativeId: String(item.id) });
    assert.equal(ack.error.code, 'PRD_NOT_FOUND');
    const outside = () => fake.state.requests.filter((r) => !/\/item\/[^/]+$|\/items$|\/me\/|\/workspaces$/.test(r.path));
    const asked = outside().length;
    for (const bad of [{ prdId }, { prdId, initiativeId: 7 }, { prdId, initiativeId: '../x' },
      { prdId, initiativeId: 'x'.repeat(129) }, { prdId, initiativeId: '.' },
      { prdId, initiativeId: '..' }, { prdId, initiativeId: '...' }]) {
      ack = await request(editor, 'craft-link', bad);
      assert.equal(ack.error.code, 'INVALID_PAYLOAD', JSON.stringify(bad));
      ack = await request(editor, 'craft-unlink', bad);
      assert.equal(ack.error.code, 'INVALID_PAYLOAD', JSON.stringify(bad));
    }
    // Dots only never reach Craft.io ({baseUrl}/item/.. would be {baseUrl}/).
    assert.equal(outside().length, asked);
    ack = await request(editor, 'craft-link', { prdId, initiativeId: '999999' });
    assert.equal(ack.error.code, 'INVALID_PAYLOAD');
    assert.match(ack.error.message, /no item 999999/);

    ack = await request(editor, 'craft-link', { prdId, initiativeId: String(item.id) });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await until(editor, () => seen.length === 1);
    assert.equal(seen[0].event, 'craft-initiative-linked');
    assertLinked(seen[0].data, prdId, item, 'manual');
    assert.equal(fake.requestsTo(/^\/item\//).at(-1).headers['x-api-key'], fake.state.apiKey);
    ack = await request(editor, 'craft-link', { prdId, initiativeId: String(item.id) });
    assert.equal(ack.error.code, 'ALREADY_EXISTS');

    ack = await request(viewer, 'craft-unlink', { prdId, initiativeId: String(item.id) });
    assert.equal(ack.error.code, 'FORBIDDEN');
    ack = await request(editor, 'craft-unlink', { prdId, initiativeId: String(item.id) });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await until(editor, () => seen.length === 2);
    assert.deepEqual(seen[1].data, { prdId, initiativeId: String(item.id) });
    ack = await request(editor, 'craft-unlink', { prdId, initiativeId: String(item.id) });
    assert.equal(ack.error.code, 'NOT_FOUND');

    // Craft.io answering with another item than the one asked for, or with
    // an id outside the rules: an error, and nothing linked.
    const raw = (id, title) => ({ id, type: { name: 'Initiative' }, title, status: { name: 'Planned' },
      objectives: [], labels: [], updateTime: new Date().toISOString() });
    fake.state.items.set('asked-A', raw('other-B', 'Another one'));
    fake.state.items.set('asked-C', raw('other C \u202e', 'An odd one'));
    ack = await request(editor, 'craft-link', { prdId, initiativeId: 'asked-A' });
    assert.equal(ack.error?.code, 'INTEGRATION_ERROR', JSON.stringify(ack));
    assert.match(ack.error.message, /asked for item asked-A, it answered with item other-B/);
    ack = await request(editor, 'craft-link', { prdId, initiativeId: 'asked-C' });
    assert.equal(ack.error?.code, 'INTEGRATION_ERROR', JSON.stringify(ack));
    assert.match(ack.error.message, /id is not 1 to 128 letters/);
    for (const initiativeId of ['asked-A', 'other-B', 'asked-C']) {
      ack = await request(editor, 'craft-unlink', { prdId, initiativeId });
      assert.equal(ack.error.code, 'NOT_FOUND', initiativeId);
    }

    // A listed item whose id breaks the rules is never linked automatically
    // (it could not be unlinked): the valid one with the same title is.
    fake.state.items.set('odd', raw('odd id/with:chars', 'Grumbleworth Snazzlefrap'));
    const good = fake.add({ title: 'Grumbleworth Snazzlefrap' });
    const offers = recorder(editor, ['craft-initiative-linked']);
    const renamed = await rest(hub, 'PATCH', `/api/prds/${prdId}`,
      { body: { title: 'Grumbleworth Snazzlefrap' }, tok: token(ADMIN) });
    assert.equal(renamed.status, 200, renamed.text);
    await until(editor, () => offers.some((e) => e.data.linkType === 'automatic'));
    assert.equal(offers.find((e) => e.data.linkType === 'automatic').data.initiative.id, String(good.id));
    assert.ok(offers.every((e) => e.data.initiative.id !== 'odd id/with:chars'));
    assert.equal(seen.filter((e) => e.data.linkType === 'manual').length, 1);
    ack = await request(editor, 'craft-unlink', { prdId, initiativeId: String(good.id) });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    assert.ok(!hub.stderr().includes(fake.state.apiKey));
  } finally {
    for (const s of sockets) s.disconnect();
    await fake.close();
    await assertCleanStop(hub);
  }
});

test('an initiative with many long objectives links, and a restart keeps them all', async () => {
  const dataDir = tmpDir('prdhub-e2e-craftio-');
  let hub = await startHub({ args: ['--data-dir', dataDir] });
  const fake = await startFakeCraftio();
  try {
    // 50 objectives (the most kept) of 1000 bytes each.
    const objectives = Array.from({ length: 50 }, (_, i) => `Objective ${i} `.padEnd(1000, 'x'));
    const item = fake.add({ title: 'Long objectives', objectives });
    await configure(hub, settings(fake, { pollInterval: 86400 }));
    const prdId = await createPrd(hub, 'Objectives', '# Objectives\n', EDITOR);
    let editor = await client(hub, EDITOR);
    const ack = await request(editor, 'craft-link', { prdId, initiativeId: String(item.id) });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    assert.deepEqual(ack.initiative.objectives, objectives);
    editor.disconnect();
    await assertCleanStop(hub);

    // The link keeps what the objectives were: nothing reads as changed.
    hub = await startHub({ args: ['--data-dir', dataDir] });
    editor = await client(hub, EDITOR);
    await join(editor, prdId);
    const seen = recorder(editor, ['craft-initiative-updated']);
    const check = await request(editor, 'craft-check-alignment', { prdId });
    assert.equal(check.ok, true, JSON.stringify(check));
    assert.equal(seen.length, 0, JSON.stringify(seen));
    editor.disconnect();
  } finally {
    await fake.close();
    await assertCleanStop(hub);
  }
});

test('removing Craft.io during a craft-link answers CANCELLED and links nothing', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeCraftio();
  const sockets = [];
  try {
    const item = fake.add({ title: 'Held initiative' });
    await configure(hub, settings(fake, { pollInterval: 86400 }));
    const prdId = await createPrd(hub, 'Held', '# Held\n', EDITOR);
    const editor = await client(hub, EDITOR);
    sockets.push(editor);
    await join(editor, prdId);
    fake.state.itemDelay = 2000;
    const pending = request(editor, 'craft-link', { prdId, initiativeId: String(item.id) });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const removed = await rest(hub, 'DELETE', '/api/integrations/craftio', { tok: token(ADMIN) });
    assert.equal(removed.status, 200, removed.text);
    const ack = await pending;
    assert.equal(ack.error?.code, 'CANCELLED', JSON.stringify(ack));
    assert.match(ack.error.message, /removed or changed/);

    // Configured again, the PRD links nothing.
    fake.state.itemDelay = 0;
    await configure(hub, settings(fake, { pollInterval: 86400 }));
    const check = await request(editor, 'craft-check-alignment', { prdId });
    assert.equal(check.error?.code, 'NOT_FOUND', JSON.stringify(check));
  } finally {
    for (const s of sockets) s.disconnect();
    await fake.close();
    await assertCleanStop(hub);
  }
});

test('a craft-link under way when its PRD is deleted answers PRD_NOT_FOUND and links nothing', async () => {
  const hub = await startHub();
  const fake = await startFakeCraftio();
  const sockets = [];
  try {
    const item = fake.add({ title: 'Held initiative' });
    await configure(hub, settings(fake, { pollInterval: 86400 }));
    const prdId = await createPrd(hub, 'Doomed', '# Doomed\n', EDITOR);
    const editor = await client(hub, EDITOR);
    sockets.push(editor);
    await join(editor, prdId);
    // Held at Craft.io's item until the PRD is gone.
    fake.state.holdItem = true;
    const pending = request(editor, 'craft-link', { prdId, initiativeId: String(item.id) });
    await until(editor, () => fake.state.heldItems.length === 1);
    const deleted = await rest(hub, 'DELETE', `/api/prds/${prdId}`, { tok: token(ADMIN) });
    assert.equal(deleted.status, 200, deleted.text);
    fake.releaseItems();
    const ack = await pending;
    assert.equal(ack.error?.code, 'PRD_NOT_FOUND', JSON.stringify(ack));

    // No link of the deleted PRD holds the initiative: another PRD links it.
    const live = await createPrd(hub, 'Alive', '# Alive\n', EDITOR);
    await join(editor, live);
    const linked = await request(editor, 'craft-link', { prdId: live, initiativeId: String(item.id) });
    assert.equal(linked.ok, true, JSON.stringify(linked));
  } finally {
    for (const s of sockets) s.disconnect();
    fake.releaseItems();
    await fake.close();
    await assertCleanStop(hub);
  }
});

test('at most 20 initiatives per PRD: craft-link asked for together', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeCraftio();
  const sockets = [];
  try {
    const items = Array.from({ length: 25 }, (_, i) => fake.add({ title: `Filler ${i}` }));
    await configure(hub, settings(fake, { pollInterval: 86400 }));
    const prdId = await createPrd(hub, 'Limits', '# Limits\n', EDITOR);
    const editor = await client(hub, EDITOR);
    sockets.push(editor);
    // Every link is under the limit when it is asked for, and Craft.io
    // answers them all late: the store's count decides.
    fake.state.itemDelay = 300;
    const acks = await Promise.all(items.map((item) =>
      request(editor, 'craft-link', { prdId, initiativeId: String(item.id) })));
    fake.state.itemDelay = 0;
    const linked = items.filter((_, i) => acks[i].ok === true);
    assert.equal(linked.length, 20, JSON.stringify(acks.filter((a) => !a.ok)));
    for (const ack of acks.filter((a) => a.ok !== true)) {
      assert.equal(ack.error.code, 'INVALID_PAYLOAD', JSON.stringify(ack));
      assert.match(ack.error.message, /at most 20 initiatives/);
    }
    let ack = await request(editor, 'craft-link', { prdId, initiativeId: String(items.find((i) => !linked.includes(i)).id) });
    assert.equal(ack.error.code, 'INVALID_PAYLOAD');
    // Unlinking one makes room for one: the edge.
    ack = await request(editor, 'craft-unlink', { prdId, initiativeId: String(linked[0].id) });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    ack = await request(editor, 'craft-link', { prdId, initiativeId: String(items.find((i) => !linked.includes(i)).id) });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    ack = await request(editor, 'craft-link', { prdId, initiativeId: String(linked[0].id) });
    assert.equal(ack.error.code, 'INVALID_PAYLOAD');
  } finally {
    for (const s of sockets) s.disconnect();
    await fake.close();
    await assertCleanStop(hub);
  }
});

test('at most 20 initiatives per PRD: a rename at the limit offers, and links below it', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeCraftio();
  const sockets = [];
  try {
    const items = Array.from({ length: 20 }, (_, i) => fake.add({ title: `Filler ${i}` }));
    const match = fake.add({ title: 'Zorblat Quixmor' });
    await configure(hub, settings(fake, { pollInterval: 86400 }));
    const prdId = await createPrd(hub, 'Limits', '# Limits\n', EDITOR);
    const editor = await client(hub, EDITOR);
    sockets.push(editor);
    await join(editor, prdId);
    for (const item of items) {
      const ack = await request(editor, 'craft-link', { prdId, initiativeId: String(item.id) });
      assert.equal(ack.ok, true, JSON.stringify(ack));
    }
    // At the limit: the best match is offered, not linked.
    const offers = recorder(editor, ['craft-initiative-linked']);
    let res = await rest(hub, 'PATCH', `/api/prds/${prdId}`, { body: { title: 'Zorblat Quixmor' }, tok: token(ADMIN) });
    assert.equal(res.status, 200, res.text);
    await until(editor, () => offers.some((e) => e.data.initiative.id === String(match.id)));
    assert.deepEqual(offers.map((e) => [e.data.initiative.id, e.data.linkType]), [[String(match.id), 'suggested']]);
    let ack = await request(editor, 'craft-unlink', { prdId, initiativeId: String(match.id) });
    assert.equal(ack.error.code, 'NOT_FOUND');
    // One under it: linked.
    ack = await request(editor, 'craft-unlink', { prdId, initiativeId: String(items[0].id) });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    res = await rest(hub, 'PATCH', `/api/prds/${prdId}`, { body: { title: 'Zorblat Quixmor 2' }, tok: token(ADMIN) });
    assert.equal(res.status, 200, res.text);
    await until(editor, () => offers.length === 2);
    assert.deepEqual([offers[1].data.initiative.id, offers[1].data.linkType], [String(match.id), 'automatic']);
    ack = await request(editor, 'craft-link', { prdId, initiativeId: String(items[0].id) });
    assert.equal(ack.error.code, 'INVALID_PAYLOAD');
  } finally {
    for (const s of sockets) s.disconnect();
    await fake.close();
    await assertCleanStop(hub);
  }
});

test('a new PRD: automatic link and suggestions; polling sends craft-initiative-updated', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeCraftio();
  const sockets = [];
  try {
    // More items than one page (100) so that the listing pages.
    for (let i = 0; i < 150; i++) fake.add({ title: `Filler ${i}`, type: i % 3 === 0 ? 'Feature' : 'Initiative' });
    const auth = fake.add({ title: 'User Authentication', status: 'Planned', labels: ['login'],
      objectives: ['Improve security'] });
    const hardening = fake.add({ title: 'Authentication hardening', objectives: [] });
    await configure(hub, settings(fake, { pollInterval: 2 }));

    const owner = await connect(hub.url, { transports: ['websocket'], auth: { token: token(EDITOR) } }, '/notifications');
    const admin = await connect(hub.url, { transports: ['websocket'], auth: { token: token(ADMIN) } }, '/notifications');
    sockets.push(owner, admin);
    const got = recorder(owner, ['notification']);
    const feed = recorder(admin, ['activity-update']);
    await request(owner, 'subscribe', { organizationId: 'org_e2e' });
    await request(admin, 'subscribe', { organizationId: 'org_e2e' });

    const prdA = await createPrd(hub, 'User Authentication', '# Auth\n', EDITOR);
    await until(owner, () => got.some((e) => e.data.type === 'craft_initiative_linked'));
    const n = got.find((e) => e.data.type === 'craft_initiative_linked').data;
    assertLinked(n.data, prdA, auth, 'automatic');
    assert.ok(fake.requestsTo(/\/items$/).some((r) => r.query.page === '2' && r.query.limit === '100' &&
      r.query.type === 'Initiative'));

    const editor = await client(hub, EDITOR);
    sockets.push(editor);
    await join(editor, prdA);
    // The automatic link is kept; the suggestion is not a link.
    let ack = await request(editor, 'craft-unlink', { prdId: prdA, initiativeId: String(hardening.id) });
    assert.equal(ack.error.code, 'NOT_FOUND');
    const prdB = await createPrd(hub, 'Checkout', '# Checkout\n', EDITOR);
    await join(editor, prdB);
    ack = await request(editor, 'craft-link', { prdId: prdB, initiativeId: String(auth.id) });
    assert.equal(ack.ok, true, JSON.stringify(ack));

    // A rename is matched again; what is linked already is not offered again.
    const offers = recorder(editor, ['craft-initiative-linked']);
    const renamed = await rest(hub, 'PATCH', `/api/prds/${prdB}`,
      { body: { title: 'Authentication hardening' }, tok: token(ADMIN) });
    assert.equal(renamed.status, 200, renamed.text);
    await until(editor, () => offers.length === 1);
    assertLinked(offers[0].data, prdB, hardening, 'automatic');

    // A change in Craft.io reaches both PRDs' rooms at the next poll.
    const seen = recorder(editor, ['craft-initiative-updated']);
    await until(editor, () => fake.requestsTo(/\/items$/).some((r) => r.query.updated_from !== undefined));
    fake.update(auth.id, { status: 'In Progress', objectives: ['Improve security', 'Reduce customer churn'] });
    await until(editor, () => seen.length === 2);
    const expected = (prdId) => ({
      prdId,
      initiative: {
        id: String(auth.id),
        changes: { status: { from: 'planned', to: 'in_progress' }, objectives: { added: ['Reduce customer churn'] } },
      },
      affectedPRDs: [prdA, prdB].sort(),
    });
    const byPrd = Object.fromEntries(seen.map((e) => [e.data.prdId, { ...e.data, affectedPRDs: [...e.data.affectedPRDs].sort() }]));
    assert.deepEqual(byPrd[prdA], expected(prdA));
    assert.deepEqual(byPrd[prdB], expected(prdB));
    await until(admin, () => feed.some((e) => e.data.activity.type === 'craft_initiative_updated'));
    const activity = feed.find((e) => e.data.activity.type === 'craft_initiative_updated').data.activity;
    assert.equal(activity.object.id, String(auth.id));
    assert.match(fake.requestsTo(/\/items$/).at(-1).query.updated_from, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    // Nothing changed: later polls send nothing more; a retitle is a change.
    fake.update(auth.id, { title: 'User Authentication 2.0' });
    await until(editor, () => seen.length === 4);
    assert.deepEqual(seen[2].data.initiative.changes, { title: { from: 'User Authentication', to: 'User Authentication 2.0' } });

    // A deleted PRD forgets its links: it is affected no more.
    const del = await rest(hub, 'DELETE', `/api/prds/${prdB}`, { tok: token(ADMIN) });
    assert.equal(del.status, 200, del.text);
    fake.update(auth.id, { status: 'Done' });
    await until(editor, () => seen.length === 5);
    assert.equal(seen[4].data.prdId, prdA);
    assert.deepEqual(seen[4].data.affectedPRDs, [prdA]);
    assert.deepEqual(seen[4].data.initiative.changes, { status: { from: 'in_progress', to: 'done' } });
    assert.ok(!hub.stderr().includes(fake.state.apiKey));
  } finally {
    for (const s of sockets) s.disconnect();
    await fake.close();
    await assertCleanStop(hub);
  }
});

// Craft.io compares updated_from with its own updateTime: the hub takes
// the next poll's updated_from from the listing's Date, so a Craft.io whose
// clock is two minutes behind the hub's still has every change announced
// (from the hub's clock, each change fell before updated_from and was lost).
test('a Craft.io clock behind the hub: updated_from by its Date, every change announced', async () => {
  const hub = await startHub();
  const fake = await startFakeCraftio({ clockOffsetMs: -120000 });
  const sockets = [];
  try {
    const item = fake.add({ title: 'Payments', status: 'Planned' });
    await configure(hub, settings(fake, { pollInterval: 2 }));
    const prd = await createPrd(hub, 'Checkout', '# Checkout\n', EDITOR);
    const editor = await client(hub, EDITOR);
    sockets.push(editor);
    await join(editor, prd);
    const ack = await request(editor, 'craft-link', { prdId: prd, initiativeId: String(item.id) });
    assert.equal(ack.ok, true, JSON.stringify(ack));

    const seen = recorder(editor, ['craft-initiative-updated']);
    const incremental = () => fake.requestsTo(/\/items$/).filter((r) => r.query.updated_from !== undefined);
    const statuses = ['In Progress', 'Blocked', 'Done'];
    let from = 'planned';
    for (const [i, status] of statuses.entries()) {
      const polls = incremental().length;
      await until(editor, () => incremental().length > polls);
      fake.update(item.id, { status });
      await until(editor, () => seen.length === i + 1);
      const to = status.toLowerCase().replace(/[^a-z0-9]+/g, '_');
      assert.deepEqual(seen[i].data.initiative, { id: String(item.id), changes: { status: { from, to } } });
      from = to;
    }
    // Every updated_from is by Craft.io's clock, never ahead of it.
    for (const r of incremental())
      assert.ok(Date.parse(r.query.updated_from) <= Date.now() + fake.state.clockOffsetMs, r.query.updated_from);
  } finally {
    for (const s of sockets) s.disconnect();
    await fake.close();
    await assertCleanStop(hub);
  }
});

test('craft-check-alignment: the heuristic, refusals, links surviving a restart', async () => {
  const dataDir = tmpDir('prdhub-e2e-craft-');
  const fake = await startFakeCraftio();
  let hub = await startHub({ args: ['--data-dir', dataDir], env: VERBOSE });
  const sockets = [];
  try {
    const item = fake.add({ title: 'Security program', objectives: ['Improve account security', 'Reduce login friction', 'Grow revenue in Asia'] });
    const text = '# Login\n\n## Goals\n\nImprove account security with passkeys.\n\n' +
      '## Requirements\n\nReduce friction at login: one step.\n';
    const prdId = await createPrd(hub, 'Passkeys', text, EDITOR);
    const editor = await client(hub, EDITOR);
    sockets.push(editor);
    let ack = await request(editor, 'craft-check-alignment', { prdId });
    assert.equal(ack.error.code, 'INTEGRATION_NOT_CONFIGURED');
    await configure(hub, settings(fake));
    ack = await request(editor, 'craft-check-alignment', { prdId });
    assert.equal(ack.error.code, 'NOT_FOUND');
    ack = await request(editor, 'craft-link', { prdId, initiativeId: String(item.id) });
    assert.equal(ack.ok, true);
    await assertCleanStop(hub);

    hub = await startHub({ args: ['--data-dir', dataDir], env: VERBOSE });
    const viewer = await client(hub, VIEWER);
    const other = await client(hub, OTHER);
    sockets.push(viewer, other);
    ack = await request(other, 'craft-check-alignment', { prdId });
    assert.equal(ack.error.code, 'PRD_NOT_FOUND');
    ack = await request(viewer, 'craft-check-alignment', { prdId: 42 });
    assert.equal(ack.error.code, 'INVALID_PAYLOAD');
    const seen = recorder(viewer, ['craft-alignment-check']);
    ack = await request(viewer, 'craft-check-alignment', { prdId });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await until(viewer, () => seen.length === 1);
    const check = seen[0].data;
    assert.deepEqual(Object.keys(check).sort(), ['alignment', 'method', 'prdId']);
    assert.deepEqual(Object.keys(check.alignment).sort(), ['score', 'status', 'suggestions']);
    assert.equal(check.method, 'heuristic');
    // Two of three objectives are covered, and there is a Goals heading.
    assert.equal(check.alignment.score, 0.67);
    assert.equal(check.alignment.status, 'review_needed');
    assert.deepEqual(check.alignment.suggestions, ['Address the objective "Grow revenue in Asia" of "Security program"']);
    assert.deepEqual(ack.alignment, check.alignment);
  } finally {
    for (const s of sockets) s.disconnect();
    await fake.close();
    await assertCleanStop(hub);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('craft-check-alignment with an AI provider: validated, bounded, method ai', async () => {
  const server = await startAiServer();
  const fake = await startFakeCraftio();
  const hub = await startHub({ config: aiConfig(server), env: VERBOSE });
  const sockets = [];
  try {
    await configure(hub, settings(fake));
    const item = fake.add({ title: 'Security program', objectives: ['Improve account security'] });
    // The scripted server answers by the `then:` word of an earlier message:
    // the PRD's text is one.
    const good = await createPrd(hub, 'Passkeys', '# Login\n\nthen:alignment\n', EDITOR);
    const bad = await createPrd(hub, 'Tokens', '# Tokens\n\nthen:alignment-bad\n', EDITOR);
    const editor = await client(hub, EDITOR);
    sockets.push(editor);
    for (const prdId of [good, bad]) {
      const ack = await request(editor, 'craft-link', { prdId, initiativeId: String(item.id) });
      assert.equal(ack.ok, true, JSON.stringify(ack));
    }
    const seen = recorder(editor, ['craft-alignment-check']);
    let ack = await request(editor, 'craft-check-alignment', { prdId: good });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await until(editor, () => seen.length === 1);
    assert.deepEqual(seen[0].data, {
      prdId: good,
      alignment: { score: 0.91, status: 'aligned', suggestions: ['Align timeline with Q2 objectives'] },
      method: 'ai',
    });
    // Out of range: refused with a clear code, no event.
    ack = await request(editor, 'craft-check-alignment', { prdId: bad });
    assert.equal(ack.error.code, 'PROVIDER_PROTOCOL_ERROR', JSON.stringify(ack));
    assert.match(ack.error.message, /score/);
    assert.equal(seen.length, 1);
  } finally {
    for (const s of sockets) s.disconnect();
    await fake.close();
    await assertCleanStop(hub);
    await server.stop();
  }
});

test('failure modes: 429 waited out, 500 refused, a failing poll reaches the admins', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeCraftio();
  const sockets = [];
  try {
    const item = fake.add({ title: 'Reliability', objectives: ['Fewer outages'] });
    const prdId = await createPrd(hub, 'Status page', '# Status\n', EDITOR);
    await configure(hub, settings(fake, { pollInterval: 2 }));
    const admin = await connect(hub.url, { transports: ['websocket'], auth: { token: token(ADMIN) } }, '/notifications');
    const editor = await client(hub, EDITOR);
    sockets.push(admin, editor);
    const got = recorder(admin, ['notification']);
    await request(admin, 'subscribe', { organizationId: 'org_e2e' });

    fake.state.rateLimitNext = 1;
    let ack = await request(editor, 'craft-link', { prdId, initiativeId: String(item.id) });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    assert.ok(fake.state.requests.some((r) => r.path === `/item/${item.id}`));

    ack = await request(editor, 'craft-unlink', { prdId, initiativeId: String(item.id) });
    assert.equal(ack.ok, true);
    fake.state.down = true;
    ack = await request(editor, 'craft-link', { prdId, initiativeId: String(item.id) });
    assert.equal(ack.error.code, 'INTEGRATION_ERROR', JSON.stringify(ack));
    assert.match(ack.error.message, /Craft\.io: HTTP 500/);
    await until(admin, () => got.some((e) => e.data.type === 'integration_error' && e.data.data.service === 'craftio'));
    const res = await rest(hub, 'GET', '/api/integrations', { tok: token(ADMIN) });
    assert.equal(res.json.integrations.find((i) => i.service === 'craftio').status, 'error');
    // Back up: the next poll succeeds and the status says so.
    fake.state.down = false;
    const deadline = Date.now() + 20000;
    let status = 'error';
    while (status !== 'connected' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      const r = await rest(hub, 'GET', '/api/integrations', { tok: token(ADMIN) });
      status = r.json.integrations.find((i) => i.service === 'craftio').status;
    }
    assert.equal(status, 'connected');
    assert.ok(!hub.stderr().includes(fake.state.apiKey));
  } finally {
    for (const s of sockets) s.disconnect();
    await fake.close();
    await assertCleanStop(hub);
  }
});

// A Craft.io (or a proxy in front of it) that quotes the API key in its
// error answers: the hub says what failed, never with it.
test('an API key a Craft.io quotes in its errors never shows: REST, activity, log', async () => {
  const { startEchoService, secretForms, assertSecretFree, shownTexts, failedCalls } =
    await import('./helpers/echo-service.js');
  const echo = await startEchoService({ status: 401 });
  const hub = await startHub({ env: VERBOSE });
  const apiKey = 'CraftKey-' + 'Zq9'.repeat(8);
  const forms = secretForms(apiKey);
  try {
    await configure(hub, { baseUrl: echo.url, apiKey, workspaceId: 'ws1' });
    const res = await rest(hub, 'POST', '/api/integrations/craftio/test', { tok: token(ADMIN) });
    assert.equal(res.json.status, 'error', res.text);
    assert.match(res.json.lastError, /refused the API key/);
    assert.match(res.json.lastError, /x-api-key=\[redacted\]/);
    assertSecretFree('POST /api/integrations/craftio/test', res.text, forms);
    assert.ok(echo.requests.some((r) => r.headers['x-api-key'] === apiKey));

    const calls = await failedCalls(hub, VIEWER, 'craftio');
    assert.match(calls[0], /refused the API key/);
    const shown = await shownTexts(hub, ADMIN, VIEWER);
    assertSecretFree('GET /api/integrations', JSON.stringify(shown.integrations), forms);
    assertSecretFree('GET /api/activity', JSON.stringify(shown.activity), forms);
    assertSecretFree('the log', shown.log, forms);
  } finally {
    await echo.close();
    await assertCleanStop(hub);
  }
});

// Matching a burst of new PRDs: one listing of the workspace, shared by
// every match waiting for it and reused for pollInterval seconds.
test('a burst of new PRDs costs Craft.io one listing; each PRD is still matched', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeCraftio();
  const sockets = [];
  try {
    // Three pages of 100.
    for (let i = 0; i < 250; i++) fake.add({ title: `Filler ${i}`, objectives: [`Objective ${i}`] });
    const billing = fake.add({ title: 'Billing overhaul', objectives: ['Fewer failed payments'] });
    await configure(hub, settings(fake, { pollInterval: 86400 }));
    const owner = await connect(hub.url, { transports: ['websocket'], auth: { token: token(EDITOR) } }, '/notifications');
    sockets.push(owner);
    const got = recorder(owner, ['notification']);
    await request(owner, 'subscribe', { organizationId: 'org_e2e' });
    // The first poll (one listing of its own) is over before the burst.
    await until(owner, () => fake.requestsTo(/\/items$/).length >= 3);
    const before = fake.requestsTo(/\/items$/).length;

    const N = 12;
    const ids = await Promise.all(Array.from({ length: N }, () => createPrd(hub, 'Billing overhaul', '# x\n', EDITOR)));
    const linked = () => got.filter((e) => e.data.type === 'craft_initiative_linked').map((e) => e.data.data);
    await until(owner, () => linked().length === N);
    assert.deepEqual(linked().map((d) => d.prdId).sort(), [...ids].sort());
    // The automatic link reads its initiative by id: the objectives are there.
    for (const data of linked()) assertLinked(data, data.prdId, billing, 'automatic');
    // One listing (three pages) for N matches.
    assert.equal(fake.requestsTo(/\/items$/).length - before, 3);
    assert.equal(fake.requestsTo(new RegExp(`^/item/${billing.id}$`)).length, N);

    // Renames within pollInterval reuse it.
    for (const prdId of ids.slice(0, 3)) {
      const res = await rest(hub, 'PATCH', `/api/prds/${prdId}`, { body: { title: 'Filler 7 renamed' }, tok: token(EDITOR) });
      assert.equal(res.status, 200, res.text);
    }
    await until(owner, () => got.filter((e) => e.data.type === 'craft_initiative_linked').length === N + 3);
    assert.equal(fake.requestsTo(/\/items$/).length - before, 3);
  } finally {
    for (const s of sockets) s.disconnect();
    await fake.close();
    await assertCleanStop(hub);
  }
});

// More initiatives updated within one interval than a listing reads
// (PRD_CRAFTIO_MAX_PAGES pages of 100): a linked one beyond them is read
// by id, and its change is announced.
test('a poll whose listing stops at 50 pages reads the linked initiatives it left out', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeCraftio();
  const sockets = [];
  try {
    const items = [];
    for (let i = 0; i < 5100; i++) items.push(fake.add({ title: `Zq ${i}`, status: 'Planned', objectives: [`Objective ${i}`] }));
    const late = items[5050];
    await configure(hub, settings(fake, { pollInterval: 2 }));
    const prdId = await createPrd(hub, 'Cap', '# Cap\n', EDITOR);
    const editor = await client(hub, EDITOR);
    sockets.push(editor);
    await join(editor, prdId);
    const seen = recorder(editor, ['craft-initiative-updated']);
    const ack = await request(editor, 'craft-link', { prdId, initiativeId: String(late.id) });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    // A poll with the link has run.
    const polls = () => fake.requestsTo(/\/items$/).filter((r) => r.query.updated_from !== undefined && r.query.page === '1').length;
    const n = polls();
    await until(editor, () => polls() >= n + 2);
    // A mass edit: every item changed, the linked one's status too.
    fake.touchAll();
    fake.update(late.id, { status: 'Done' });
    const reads = fake.requestsTo(new RegExp(`^/item/${late.id}$`)).length;
    await until(editor, () => seen.length === 1, 30000);
    assert.deepEqual(seen[0].data, {
      prdId,
      initiative: { id: String(late.id), changes: { status: { from: 'planned', to: 'done' } } },
      affectedPRDs: [prdId],
    });
    assert.ok(fake.requestsTo(/\/items$/).some((r) => r.query.updated_from !== undefined && r.query.page === '50'));
    assert.ok(!fake.requestsTo(/\/items$/).some((r) => r.query.page === '51'));
    assert.ok(fake.requestsTo(new RegExp(`^/item/${late.id}$`)).length > reads);
    assert.match(hub.stderr(), /stopped at 50 pages/);
  } finally {
    for (const s of sockets) s.disconnect();
    await fake.close();
    await assertCleanStop(hub);
  }
});

// A linked initiative Craft.io keeps refusing (500 for that item only)
// beyond a capped listing: the polls after the first stay incremental and
// read only it by id until it reads; the status turns to error once (one
// integration_error for the admin), and when it reads again its change is
// announced once and the status is connected again.
test('a linked initiative whose read keeps failing: polls stay incremental, one error, its change announced', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeCraftio();
  const sockets = [];
  try {
    const items = [];
    const past = new Date(Date.now() - 3600e3).toISOString();
    for (let i = 0; i < 5100; i++) items.push(fake.add({ title: `Zq ${i}`, status: 'Planned' }));
    for (const item of items) item.updateTime = past;
    const bad = items[5060];
    const good = items[5070];
    await configure(hub, settings(fake, { pollInterval: 86400 }));
    const prdId = await createPrd(hub, 'Cap', '# Cap\n', EDITOR);
    const admin = await connect(hub.url, { transports: ['websocket'], auth: { token: token(ADMIN) } }, '/notifications');
    const editor = await client(hub, EDITOR);
    sockets.push(admin, editor);
    const got = recorder(admin, ['notification']);
    await request(admin, 'subscribe', { organizationId: 'org_e2e' });
    await join(editor, prdId);
    const seen = recorder(editor, ['craft-initiative-updated']);
    for (const item of [bad, good]) {
      const ack = await request(editor, 'craft-link', { prdId, initiativeId: String(item.id) });
      assert.equal(ack.ok, true, JSON.stringify(ack));
    }
    fake.state.failItems.add(String(bad.id));
    await configure(hub, settings(fake, { pollInterval: 2 }));
    const badReads = () => fake.requestsTo(new RegExp(`^/item/${bad.id}$`)).length;
    const craftStatus = async () =>
      (await rest(hub, 'GET', '/api/integrations', { tok: token(ADMIN) })).json.integrations.find((i) => i.service === 'craftio').status;
    const errors = async () =>
      ((await rest(hub, 'GET', '/api/notifications?limit=100', { tok: token(ADMIN) })).json.notifications ?? [])
        .filter((n) => n.type === 'integration_error' && n.data.service === 'craftio');
    // The first poll lists the whole workspace (capped) and reads both by
    // id; from the second on, only what failed is read again.
    await until(editor, () => badReads() >= 2, 60000);
    const mark = fake.state.requests.length;
    await until(editor, () => badReads() >= 5, 60000);
    const later = fake.state.requests.slice(mark);
    const lists = later.filter((r) => /\/items$/.test(r.path));
    assert.ok(lists.length >= 2, JSON.stringify(lists.map((r) => r.query)));
    for (const list of lists) {
      assert.ok(list.query.updated_from !== undefined, JSON.stringify(list.query));
      assert.equal(list.query.page, '1', JSON.stringify(list.query));
    }
    assert.deepEqual([...new Set(later.filter((r) => r.path.startsWith('/item/')).map((r) => r.path))], [`/item/${bad.id}`]);
    assert.equal(await craftStatus(), 'error');
    assert.equal(got.filter((e) => e.data.type === 'integration_error').length, 1);
    assert.equal((await errors()).length, 1);
    assert.equal(seen.length, 0);

    // Changed while it could not be read, and not listed again (its update
    // time is before the polls' start): read by id, announced once.
    fake.update(bad.id, { status: 'Done' });
    fake.state.items.get(String(bad.id)).updateTime = past;
    fake.state.failItems.delete(String(bad.id));
    await until(editor, () => seen.length === 1, 30000);
    assert.deepEqual(seen[0].data, {
      prdId,
      initiative: { id: String(bad.id), changes: { status: { from: 'planned', to: 'done' } } },
      affectedPRDs: [prdId],
    });
    const deadline = Date.now() + 20000;
    let status = await craftStatus();
    while (status !== 'connected' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      status = await craftStatus();
    }
    assert.equal(status, 'connected');
    // Read, it is not read again; nothing more is announced.
    const reads = badReads();
    const polls = () => fake.requestsTo(/\/items$/).length;
    const n = polls();
    await until(editor, () => polls() >= n + 2, 30000);
    assert.equal(badReads(), reads);
    assert.equal(seen.length, 1);
    assert.equal((await errors()).length, 1);
  } finally {
    for (const s of sockets) s.disconnect();
    await fake.close();
    await assertCleanStop(hub);
  }
});

// Deletes of one link run one after the other in the store: only the one
// that forgot it answers ok and tells the room. (Five rounds: without the
// store's answer, most rounds answered ok five times.)
test('craft-unlink of one link asked for five times at once: one ok, one announcement', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeCraftio();
  const sockets = [];
  try {
    const item = fake.add({ title: 'Unlinked many times' });
    await configure(hub, settings(fake, { pollInterval: 86400 }));
    const prdId = await createPrd(hub, 'Race', '# Race\n', EDITOR);
    const editor = await client(hub, EDITOR);
    sockets.push(editor);
    await join(editor, prdId);
    const heard = recorder(editor, ['craft-initiative-unlinked']);
    for (let round = 1; round <= 5; round++) {
      let ack = await request(editor, 'craft-link', { prdId, initiativeId: String(item.id) });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      const acks = await Promise.all([0, 1, 2, 3, 4].map(() => request(editor, 'craft-unlink', { prdId, initiativeId: String(item.id) })));
      assert.deepEqual(acks.map((a) => (a.ok ? 'ok' : a.error.code)).sort(), ['NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'ok']);
      for (const a of acks.filter((a) => !a.ok)) assert.equal(a.error.message, `Initiative ${item.id} is not linked to ${prdId}`);
      // The room hears of it before the ok is answered on the same socket.
      assert.equal(heard.length, round);
      ack = await request(editor, 'craft-unlink', { prdId, initiativeId: String(item.id) });
      assert.equal(ack.error.code, 'NOT_FOUND');
    }
  } finally {
    for (const s of sockets) s.disconnect();
    await fake.close();
    await assertCleanStop(hub);
  }
});

// The poll reads the links, then lists what changed; a craft-unlink while
// the listing is under way stays: the poll updates links, never adds one.
test('a craft-unlink during a poll is not undone by it', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeCraftio();
  const sockets = [];
  try {
    const item = fake.add({ title: 'Short lived link', status: 'Planned' });
    await configure(hub, settings(fake, { pollInterval: 2 }));
    const prdId = await createPrd(hub, 'Unlink during poll', '# x\n', EDITOR);
    const editor = await client(hub, EDITOR);
    sockets.push(editor);
    await join(editor, prdId);
    const seen = recorder(editor, ['craft-initiative-updated']);
    let ack = await request(editor, 'craft-link', { prdId, initiativeId: String(item.id) });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    const polls = () => fake.requestsTo(/\/items$/).filter((r) => r.query.updated_from !== undefined).length;
    const n = polls();
    // A poll that read the link (it began after the link) is held.
    await until(editor, () => polls() >= n + 1);
    fake.state.holdList = true;
    fake.update(item.id, { status: 'Done' });
    await until(editor, () => fake.state.heldLists.length === 1, 10000);
    ack = await request(editor, 'craft-unlink', { prdId, initiativeId: String(item.id) });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    fake.releaseList();
    // The held poll announces what it read, and ends; the next one begins.
    await until(editor, () => seen.length === 1);
    const m = polls();
    await until(editor, () => polls() > m, 10000);
    ack = await request(editor, 'craft-unlink', { prdId, initiativeId: String(item.id) });
    assert.equal(ack.error?.code, 'NOT_FOUND', JSON.stringify(ack));
    ack = await request(editor, 'craft-check-alignment', { prdId });
    assert.equal(ack.error?.code, 'NOT_FOUND', JSON.stringify(ack));
  } finally {
    for (const s of sockets) s.disconnect();
    await fake.close();
    await assertCleanStop(hub);
  }
});

// An idle organization with Craft.io set up: a poll that reads nothing new
// is not activity (each one was an `integration_call` row and an
// `activity-update` to every subscriber, forever). A failed poll is, and
// so is the first listing that works again after it.
test('polls that succeed stay out of the activity feed; a failure and the recovery enter it', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeCraftio();
  const sockets = [];
  try {
    fake.add({ title: 'Idle initiative', status: 'Planned' });
    await configure(hub, settings(fake, { pollInterval: 2 }));
    const viewer = await connect(hub.url, { transports: ['websocket'], auth: { token: token(VIEWER) } }, '/notifications');
    sockets.push(viewer);
    const feed = recorder(viewer, ['activity-update']);
    await request(viewer, 'subscribe', { organizationId: 'org_e2e' });
    const listings = () => fake.requestsTo(/\/items$/).length;
    const polls = (a) => a.type === 'integration_call' && a.object.id === 'craftio' && a.object.title === 'list initiatives';
    const stored = async () => {
      const res = await rest(hub, 'GET', '/api/activity?organizationId=org_e2e', { tok: token(VIEWER) });
      assert.equal(res.status, 200, res.text);
      return res.json.activities.filter(polls);
    };
    const craftStatus = async () =>
      (await rest(hub, 'GET', '/api/integrations', { tok: token(ADMIN) })).json.integrations.find((i) => i.service === 'craftio').status;

    await until(viewer, () => listings() >= 3, 30000);
    assert.deepEqual(await stored(), []);
    assert.deepEqual(feed.filter((e) => polls(e.data.activity)), []);

    fake.state.down = true;
    await until(viewer, () => feed.some((e) => polls(e.data.activity) && e.data.activity.object.ok === false), 30000);
    fake.state.down = false;
    await until(viewer, () => feed.some((e) => polls(e.data.activity) && e.data.activity.object.ok === true), 30000);
    const deadline = Date.now() + 20000;
    while ((await craftStatus()) !== 'connected' && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    assert.equal(await craftStatus(), 'connected');
    const n = listings();
    await until(viewer, () => listings() >= n + 2, 30000);
    const calls = await stored();
    assert.equal(calls.filter((a) => a.object.ok === true).length, 1, JSON.stringify(calls));
    assert.ok(calls.some((a) => a.object.ok === false && /HTTP 500/.test(a.object.message)), JSON.stringify(calls));
    assert.equal(feed.filter((e) => polls(e.data.activity) && e.data.activity.object.ok === true).length, 1);
  } finally {
    for (const s of sockets) s.disconnect();
    await fake.close();
    await assertCleanStop(hub);
  }
});

// The poll's cursor from Craft.io's Date, checked (docs/protocol.md,
// "Craft.io"): polls every 2 s of one linked initiative; `polled(n)` waits
// for n more incremental listings to be asked for, so the one before the
// last has been answered and read.
async function pollingSetup(fake) {
  const hub = await startHub();
  const item = fake.add({ title: 'Payments', status: 'Planned' });
  await configure(hub, settings(fake, { pollInterval: 2 }));
  const prd = await createPrd(hub, 'Checkout', '# Checkout\n', EDITOR);
  const editor = await client(hub, EDITOR);
  await join(editor, prd);
  const ack = await request(editor, 'craft-link', { prdId: prd, initiativeId: String(item.id) });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  const seen = recorder(editor, ['craft-initiative-updated']);
  const incremental = () => fake.requestsTo(/\/items$/).filter((r) => r.query.updated_from !== undefined);
  const polled = async (n) => {
    const from = incremental().length;
    await until(editor, () => incremental().length >= from + n, 30000);
  };
  await polled(1);
  return { hub, item, editor, seen, incremental, polled };
}

// The Date is when Craft.io sent its answer, not when it took the listing:
// a change made while a slow first page (3 s) is on its way fell before the
// next updated_from (the Date less one second) and was never announced.
// The round trip is taken off too.
test('a change made while Craft.io is slow to answer the listing is announced', async () => {
  const fake = await startFakeCraftio();
  const { hub, item, editor, seen, incremental, polled } = await pollingSetup(fake);
  try {
    let changed = null;
    fake.state.listDelay = 3000;
    fake.state.onListed = () => {
      fake.state.onListed = null;
      setTimeout(() => {
        changed = incremental().length;
        fake.update(item.id, { status: 'Done' });
        fake.state.listDelay = 0;
      }, 200);
    };
    await until(editor, () => changed !== null, 30000);
    // The slow listing's answer, then the next poll's listing.
    await polled(2);
    assert.equal(seen.length, 1, `updated_from: ${incremental().slice(changed - 1).map((r) => r.query.updated_from)}`);
    assert.deepEqual(seen[0].data.initiative, { id: String(item.id), changes: { status: { from: 'planned', to: 'done' } } });
  } finally {
    editor.disconnect();
    await fake.close();
    await assertCleanStop(hub);
  }
});

// A Date from a wrong clock (a proxy's) never moves the cursor forward by
// more than the time elapsed since the last one: one answer dated a day
// ahead skipped every change until the next poll for good, Dates that stay
// ahead skipped every change, silently. Such a skew is logged once while it
// lasts. A Date a day behind is taken (re-reading loses nothing), for its
// poll only.
test('Dates ahead of the time elapsed lose no change; one far behind costs one poll', async () => {
  const fake = await startFakeCraftio();
  const { hub, item, editor, seen, incremental, polled } = await pollingSetup(fake);
  const DAY = 86400000;
  const skews = () => hub.stderr().split('\n').filter((l) => /a listing's Date is \d+ s (ahead of|behind)/.test(l));
  try {
    // One answer dated a day ahead; the change follows it at once.
    let changed = null;
    fake.state.dateFor = (d) => {
      fake.state.dateFor = null;
      setImmediate(() => {
        changed = incremental().length;
        fake.update(item.id, { status: 'In Progress' });
      });
      return new Date(d.getTime() + DAY).toUTCString();
    };
    await until(editor, () => changed !== null, 30000);
    await polled(2);
    assert.equal(seen.length, 1, `updated_from: ${incremental().slice(changed - 1).map((r) => r.query.updated_from)}`);
    assert.deepEqual(seen[0].data.initiative.changes, { status: { from: 'planned', to: 'in_progress' } });
    assert.equal(skews().length, 1, skews().join('\n'));
    assert.match(skews()[0], /a listing's Date is 86[34]\d\d s ahead of/);

    // Every answer dated a day ahead: changes are still announced, the
    // skew logged once more (it had gone), not at every poll.
    fake.state.dateFor = (d) => new Date(d.getTime() + DAY).toUTCString();
    await polled(2);
    fake.update(item.id, { status: 'Done' });
    await polled(2);
    assert.equal(seen.length, 2);
    assert.deepEqual(seen[1].data.initiative.changes, { status: { from: 'in_progress', to: 'done' } });
    assert.equal(skews().length, 2, skews().join('\n'));
    for (const r of incremental())
      assert.ok(Date.parse(r.query.updated_from) <= Date.now(), r.query.updated_from);

    // One answer dated a day behind: the next poll asks from then, the one
    // after from the time elapsed again.
    let behind = null;
    fake.state.dateFor = (d) => {
      fake.state.dateFor = null;
      behind = incremental().length;
      return new Date(d.getTime() - DAY).toUTCString();
    };
    await until(editor, () => behind !== null, 30000);
    await polled(3);
    const [, back, again] = incremental().slice(behind - 1).map((r) => Date.parse(r.query.updated_from));
    assert.ok(Date.now() - back > DAY - 60000, new Date(back).toISOString());
    assert.ok(Date.now() - again < 60000, new Date(again).toISOString());
    assert.equal(seen.length, 2);
  } finally {
    editor.disconnect();
    await fake.close();
    await assertCleanStop(hub);
  }
});
