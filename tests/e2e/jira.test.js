// SPDX-License-Identifier: GPL-3.0-or-later
//
// Integrations and Jira (docs/protocol.md, "Integrations"): settings by REST
// and by the command line, export / re-export / import / bidirectional sync
// through real sockets against the fake Jira (tests/e2e/helpers/fake-jira.js),
// refusals, failure modes, the webhook, restart, and secrets that never show.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startHub, tmpDir, token, connect, assertCleanStop, freePort, PRDHUB_BIN } from './helpers/hub.js';
import { startFakeJira, sendWebhook } from './helpers/fake-jira.js';
import { client, request, join, bump, user, rest, createPrd, recorder, until } from './collab-helpers.js';

const ORG = 'org_e2e';
const ADMIN = user('admin_1', { role: 'admin' });
const EDITOR = user('editor_1', { role: 'editor' });
const VIEWER = user('viewer_1', { role: 'viewer' });
const HOOK_SECRET = 'hook-secret-' + 'x'.repeat(12);
const VERBOSE = { G_MESSAGES_DEBUG: 'all' };

const PRD_TEXT = '# Checkout\n\nIntro.\n\n## User Stories\n\n' +
  '- As a buyer I pay by card\n  Card details are kept by the processor.\n' +
  '- As a buyer I see my **receipt**\n' +
  '- As an admin I refund\n\n## Notes\n\nEnd.\n';

function settingsFor(fake, extra = {}) {
  return fake.state.flavour === 'cloud'
    ? { baseUrl: fake.url, deployment: 'cloud', apiVersion: 3, email: fake.state.email,
      token: fake.state.token, projectKey: 'PRD', webhookSecret: HOOK_SECRET, ...extra }
    : { baseUrl: fake.url, deployment: 'datacenter', apiVersion: 2, token: fake.state.token,
      projectKey: 'PRD', webhookSecret: HOOK_SECRET, ...extra };
}

async function configure(hub, fake, extra = {}, claims = ADMIN) {
  const res = await rest(hub, 'PUT', '/api/integrations/jira',
    { body: settingsFor(fake, extra), tok: token(claims) });
  assert.equal(res.status, 200, res.text);
  return res.json;
}

async function prdText(hub, prdId) {
  const res = await rest(hub, 'GET', `/api/prds/${prdId}/export.md`, { tok: token(EDITOR) });
  assert.equal(res.status, 200, res.text);
  return res.text;
}

// Runs one sync from `socket` (joined to the PRD); resolves with the events.
async function sync(socket, prdId, syncType, extra = {}) {
  const seen = recorder(socket, ['jira-sync-start', 'jira-sync-complete']);
  const ack = await request(socket, 'jira-sync', { prdId, syncType, ...extra });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  assert.match(ack.syncId, /^sync_/);
  await until(socket, () => seen.some((e) => e.event === 'jira-sync-complete'));
  socket.off('jira-sync-start');
  socket.off('jira-sync-complete');
  const start = seen.find((e) => e.event === 'jira-sync-start').data;
  const complete = seen.find((e) => e.event === 'jira-sync-complete').data;
  return { ack, start, complete };
}

function assertSeedShapes({ start, complete }, prdId, syncType, projectKey = 'PRD') {
  assert.equal(start.prdId, prdId);
  assert.equal(start.projectKey, projectKey);
  assert.equal(start.syncType, syncType);
  assert.equal(complete.prdId, prdId);
  for (const k of ['created', 'updated', 'errors']) assert.equal(typeof complete.result[k], 'number');
  assert.ok(Array.isArray(complete.result.issues));
  assert.ok(Array.isArray(complete.result.failures));
  for (const i of complete.result.issues) {
    assert.match(i.key, /^[A-Z][A-Z0-9_]+-\d+$/);
    assert.equal(typeof i.title, 'string');
    assert.ok(i.url.endsWith(`/browse/${i.key}`), i.url);
  }
}

// Appends `text` right after the first occurrence of `after` in the PRD.
async function edit(socket, hub, prdId, joinAck, after, text) {
  const current = await prdText(hub, prdId);
  const at = current.indexOf(after);
  assert.ok(at >= 0, `"${after}" in ${current}`);
  const v = bump(joinAck.vector, joinAck.siteId);
  const ack = await request(socket, 'content-update', {
    prdId,
    operation: { type: 'insert', position: at + after.length, content: text, timestamp: Date.now() },
    stateVector: v,
  });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  joinAck.vector = ack.stateVector ?? v;
}

function secretFree(hub, fake, ...texts) {
  for (const t of [hub.stderr(), ...texts]) {
    assert.ok(!t.includes(fake.state.token), 'the Jira token leaked');
    assert.ok(!t.includes(HOOK_SECRET), 'the webhook secret leaked');
    assert.ok(!t.includes(Buffer.from(`${fake.state.email}:${fake.state.token}`).toString('base64')),
      'the Basic credentials leaked');
  }
}

test('settings by REST: admins only, validated, secrets write-only, connection check', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeJira();
  const texts = [];
  try {
    let res = await rest(hub, 'GET', '/api/integrations', { tok: token(ADMIN) });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.organizationId, ORG);
    const jira = res.json.integrations.find((i) => i.service === 'jira');
    assert.equal(jira.configured, false);
    assert.equal(jira.status, 'disconnected');

    for (const who of [EDITOR, VIEWER]) {
      res = await rest(hub, 'GET', '/api/integrations', { tok: token(who) });
      assert.equal(res.status, 403);
      assert.equal(res.json.code, 'FORBIDDEN');
      res = await rest(hub, 'PUT', '/api/integrations/jira', { body: settingsFor(fake), tok: token(who) });
      assert.equal(res.status, 403);
    }

    // Bad settings: a code, the key, and nothing stored.
    const bad = [
      [{ baseUrl: 'ftp://jira.invalid' }, 'baseUrl'],
      [{ baseUrl: 'not a url' }, 'baseUrl'],
      [{ colour: 'blue' }, 'colour'],
      [{ apiVersion: '3' }, 'apiVersion'],
      [{ apiVersion: 7 }, 'apiVersion'],
      [{ deployment: 'datacenter', apiVersion: 3, baseUrl: fake.url }, 'apiVersion'],
      [{ projectKey: 'lower' }, 'projectKey'],
      [{ token: 42 }, 'token'],
      [{ token: 'sneaky-token', apiVersion: 9 }, 'apiVersion'],
    ];
    for (const [body, key] of bad) {
      res = await rest(hub, 'PUT', '/api/integrations/jira', { body, tok: token(ADMIN) });
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.json.code, 'INVALID_PAYLOAD');
      assert.equal(res.json.key, key);
      texts.push(res.text);
    }
    res = await rest(hub, 'PUT', '/api/integrations/jira', { raw: '[1,2]', tok: token(ADMIN), headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 400);
    res = await rest(hub, 'PUT', '/api/integrations/nosuch', { body: {}, tok: token(ADMIN) });
    assert.equal(res.status, 404);
    res = await rest(hub, 'GET', '/api/integrations', { tok: token(ADMIN) });
    assert.equal(res.json.integrations.find((i) => i.service === 'jira').configured, false);
    assert.equal(res.json.integrations.find((i) => i.service === 'jira').settings.tokenSet, false);
    assert.ok(!fs.existsSync(`${hub.dataDir}/secrets`) ||
      !fs.readFileSync(`${hub.dataDir}/secrets`, 'utf8').includes('sneaky-token'));

    const put = await configure(hub, fake);
    texts.push(JSON.stringify(put));
    assert.equal(put.configured, true);
    assert.equal(put.settings.baseUrl, fake.url);
    assert.equal(put.settings.tokenSet, true);
    assert.equal(put.settings.webhookSecretSet, true);
    assert.equal(put.settings.token, undefined);
    assert.equal(put.settings.issueType, 'Story');

    res = await rest(hub, 'POST', '/api/integrations/jira/test', { tok: token(ADMIN) });
    texts.push(res.text);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.status, 'connected');
    assert.equal(res.json.lastError, null);
    assert.ok(res.json.lastSuccessAt);
    // The check sent the credentials with its first request.
    const myself = fake.requestsTo(/\/myself$/);
    assert.equal(myself.length, 1);
    assert.ok(myself[0].headers.authorization.startsWith('Basic '));

    // The stored token goes nowhere new: another address needs it given
    // again, and a refused write changes nothing. The same address, or the
    // token with the new one, is accepted.
    for (const body of [{ baseUrl: 'http://127.0.0.2:9/elsewhere' },
      { baseUrl: 'http://127.0.0.2:9/elsewhere', webhookSecret: HOOK_SECRET }]) {
      res = await rest(hub, 'PUT', '/api/integrations/jira', { body, tok: token(ADMIN) });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.code, 'INVALID_PAYLOAD');
      assert.equal(res.json.key, 'token');
      assert.match(res.json.message, /give it again with the new baseUrl/);
    }
    res = await rest(hub, 'GET', '/api/integrations', { tok: token(ADMIN) });
    assert.equal(res.json.integrations.find((i) => i.service === 'jira').settings.baseUrl, fake.url);
    res = await rest(hub, 'PUT', '/api/integrations/jira', { body: { baseUrl: fake.url, issueType: 'Story' }, tok: token(ADMIN) });
    assert.equal(res.status, 200, res.text);
    res = await rest(hub, 'PUT', '/api/integrations/jira',
      { body: { baseUrl: fake.url + '/', token: fake.state.token }, tok: token(ADMIN) });
    assert.equal(res.status, 200, res.text);
    await configure(hub, fake);

    // Wrong credentials: error status, and the admins hear of it.
    const notes = await connect(hub.url, { transports: ['websocket'], auth: { token: token(ADMIN) } }, '/notifications');
    const got = recorder(notes, ['notification']);
    await request(notes, 'subscribe', { organizationId: ORG });
    fake.state.token = 'rotated-' + fake.state.token;
    res = await rest(hub, 'POST', '/api/integrations/jira/test', { tok: token(ADMIN) });
    texts.push(res.text);
    assert.equal(res.status, 200);
    assert.equal(res.json.status, 'error');
    assert.match(res.json.lastError, /refused the credentials.*401/);
    await until(notes, () => got.some((n) => n.data.type === 'integration_error'));
    const note = got.find((n) => n.data.type === 'integration_error').data;
    assert.equal(note.data.service, 'jira');
    assert.match(note.message, /401/);
    notes.disconnect();

    // The activity feed shows the calls.
    res = await rest(hub, 'GET', `/api/activity?organizationId=${ORG}`, { tok: token(ADMIN) });
    assert.ok(res.json.activities.some((a) => a.type === 'integration_call' && a.object.ok === false));
    assert.ok(res.json.activities.some((a) => a.type === 'integration_call' && a.object.ok === true));

    // Remove forgets everything, secrets included.
    res = await rest(hub, 'DELETE', '/api/integrations/jira', { tok: token(ADMIN) });
    assert.equal(res.status, 200);
    res = await rest(hub, 'DELETE', '/api/integrations/jira', { tok: token(ADMIN) });
    assert.equal(res.status, 404);
    res = await rest(hub, 'GET', '/api/integrations', { tok: token(ADMIN) });
    const gone = res.json.integrations.find((i) => i.service === 'jira');
    assert.equal(gone.configured, false);
    assert.equal(gone.settings.tokenSet, false);
    texts.push(res.text);
    res = await rest(hub, 'POST', '/api/integrations/jira/test', { tok: token(ADMIN) });
    assert.equal(res.status, 409);
    assert.equal(res.json.code, 'INTEGRATION_NOT_CONFIGURED');

    secretFree(hub, fake, ...texts);
    for (const f of fs.readdirSync(hub.dataDir).filter((n) => n.startsWith('prdhub.db'))) {
      const bytes = fs.readFileSync(`${hub.dataDir}/${f}`);
      assert.ok(!bytes.includes(fake.state.token), `token in ${f}`);
    }
  } finally {
    await fake.close();
    await assertCleanStop(hub);
  }
});

test('integration_error reaches the admins seen most recently, not one seen since as a viewer', async () => {
  const hub = await startHub({});
  try {
    // 258 admins use the integrations routes; the hub keeps the 256 seen last.
    const admins = [];
    for (let i = 0; i < 258; i++) admins.push(user(`adm_${i}`, { role: 'admin' }));
    for (const a of admins) {
      const res = await rest(hub, 'GET', '/api/integrations', { tok: token(a) });
      assert.equal(res.status, 200, res.text);
    }
    // adm_257 is demoted: the same user comes back with a viewer's token.
    const demoted = user('adm_257', { role: 'viewer' });
    assert.equal((await rest(hub, 'GET', '/api/integrations', { tok: token(demoted) })).status, 403);

    let res = await rest(hub, 'PUT', '/api/integrations/jira', {
      tok: token(admins[2]),
      body: { baseUrl: `http://127.0.0.1:${await freePort()}`, deployment: 'datacenter',
        apiVersion: 2, token: 'unused-token', projectKey: 'PRD' },
    });
    assert.equal(res.status, 200, res.text);
    res = await rest(hub, 'POST', '/api/integrations/jira/test', { tok: token(admins[2]) });
    assert.equal(res.json.status, 'error');

    const errors = async (claims) => {
      const r = await rest(hub, 'GET', '/api/notifications', { tok: token(claims) });
      assert.equal(r.status, 200, r.text);
      return r.json.notifications.filter((n) => n.type === 'integration_error').length;
    };
    assert.equal(await errors(admins[256]), 1, 'an admin seen last is told');
    assert.equal(await errors(admins[2]), 1);
    assert.equal(await errors(admins[0]), 0, 'the admin seen least recently was forgotten');
    assert.equal(await errors(demoted), 0, 'a demoted user is not told');
  } finally {
    await assertCleanStop(hub);
  }
});

test('settings by the command line reach a running hub; restart keeps settings and links', async () => {
  const dataDir = tmpDir('prdhub-e2e-jira-');
  const fake = await startFakeJira({ flavour: 'datacenter' });
  let hub = await startHub({ args: ['--data-dir', dataDir], env: VERBOSE });
  try {
    const cli = (args, input) => spawnSync(PRDHUB_BIN, ['integration', ...args, '--data-dir', dataDir, '--org', ORG],
      { input, encoding: 'utf8', env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent' } });
    let r = cli(['set', 'jira', `baseUrl=${fake.url}`, 'deployment=datacenter', 'apiVersion=2', 'projectKey=PRD']);
    assert.equal(r.status, 0, r.stderr);
    r = cli(['secret', 'jira', 'token'], fake.state.token + '\n');
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!r.stdout.includes(fake.state.token));
    r = cli(['secret', 'jira', 'webhookSecret'], HOOK_SECRET);
    assert.equal(r.status, 0, r.stderr);
    // Refusals: unknown key, a secret on the command line, bad values.
    for (const args of [['set', 'jira', 'colour=blue'], ['set', 'jira', 'token=abc'],
      ['set', 'jira', 'apiVersion=9'], ['set', 'jira', 'baseUrl=ftp://x'], ['secret', 'jira', 'baseUrl'],
      ['set', 'nosuch', 'a=b'], ['remove', 'nosuch']]) {
      r = cli(args, '');
      assert.notEqual(r.status, 0, args.join(' '));
    }
    r = cli(['list']);
    assert.equal(r.status, 0, r.stderr);
    const listed = JSON.parse(r.stdout);
    assert.equal(listed[0].settings.deployment, 'datacenter');
    assert.equal(listed[0].settings.tokenSet, true);
    assert.ok(!r.stdout.includes(fake.state.token));

    // The running hub uses them at once.
    let res = await rest(hub, 'POST', '/api/integrations/jira/test', { tok: token(ADMIN) });
    assert.equal(res.json.status, 'connected', res.text);
    assert.ok(fake.requestsTo(/myself$/)[0].headers.authorization.startsWith('Bearer '));

    // Data Center: searches go to /search, never /search/jql.
    const prdId = await createPrd(hub, 'DC PRD', PRD_TEXT);
    const a = await client(hub, EDITOR);
    await join(a, prdId);
    const first = await sync(a, prdId, 'bidirectional');
    assertSeedShapes(first, prdId, 'bidirectional');
    assert.equal(first.complete.result.created, 3);
    assert.ok(fake.requestsTo(/\/rest\/api\/2\/search$/).length >= 1);
    assert.equal(fake.requestsTo(/search\/jql/).length, 0);
    // v2 descriptions are wiki text linking back to the PRD.
    const created = [...fake.state.issues.values()];
    assert.equal(typeof created[0].fields.description, 'string');
    assert.match(created[0].fields.description, /From the PRD \[DC PRD\|http:\/\/127\.0\.0\.1:\d+\/api\/prds\/.+\/export\.md\]/);
    a.disconnect();
    await assertCleanStop(hub);

    hub = await startHub({ args: ['--data-dir', dataDir], env: VERBOSE });
    res = await rest(hub, 'GET', '/api/integrations', { tok: token(ADMIN) });
    const jira = res.json.integrations.find((i) => i.service === 'jira');
    assert.equal(jira.configured, true);
    assert.equal(jira.settings.tokenSet, true);
    const b = await client(hub, EDITOR);
    await join(b, prdId);
    const again = await sync(b, prdId, 'export');
    assert.equal(again.complete.result.created, 0);
    assert.equal(again.complete.result.updated, 0);
    assert.equal(fake.state.issues.size, 3);
    b.disconnect();
    secretFree(hub, fake, r.stdout);

    r = cli(['remove', 'jira']);
    assert.equal(r.status, 0, r.stderr);
    res = await rest(hub, 'GET', '/api/integrations', { tok: token(ADMIN) });
    assert.equal(res.json.integrations.find((i) => i.service === 'jira').configured, false);
  } finally {
    await fake.close();
    await assertCleanStop(hub);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('export, re-export, import and the bidirectional rule (Cloud, v3)', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeJira();
  try {
    await configure(hub, fake);
    const prdId = await createPrd(hub, 'Checkout', PRD_TEXT);
    const a = await client(hub, EDITOR);
    const b = await client(hub, user('editor_2'));
    const ja = await join(a, prdId);
    await join(b, prdId);

    // Export: one bulk create, seed shapes, labels, ADF.
    const bSeen = recorder(b, ['jira-sync-start', 'jira-sync-complete']);
    const first = await sync(a, prdId, 'export');
    assertSeedShapes(first, prdId, 'export');
    await until(b, () => bSeen.length === 2);
    assert.deepEqual(bSeen[1].data, first.complete);
    assert.deepEqual(Object.keys(first.start).sort(), ['prdId', 'projectKey', 'syncId', 'syncType']);
    assert.equal(first.complete.result.created, 3);
    assert.equal(first.complete.result.updated, 0);
    assert.equal(first.complete.result.errors, 0);
    assert.deepEqual(first.complete.result.issues.map((i) => i.title), [
      'As a buyer I pay by card', 'As a buyer I see my receipt', 'As an admin I refund']);
    assert.equal(first.complete.result.issues[0].url, `${fake.url}/browse/PRD-1`);
    assert.equal(fake.requestsTo(/issue\/bulk$/).length, 1);
    const issue1 = fake.state.issues.get('PRD-1');
    assert.deepEqual(issue1.fields.labels, ['prdhub', `prdhub-${prdId}`]);
    assert.equal(issue1.fields.issuetype.name, 'Story');
    assert.equal(issue1.fields.description.type, 'doc');
    assert.equal(issue1.fields.description.version, 1);
    assert.match(JSON.stringify(issue1.fields.description), /Card details are kept by the processor/);

    // Re-export: nothing changed, nothing sent.
    let r = await sync(a, prdId, 'export');
    assert.equal(r.complete.result.created + r.complete.result.updated, 0);
    assert.equal(fake.requestsTo(/issue\/bulk$/).length, 1);

    // One item edited, one added: one PUT, one create.
    await edit(a, hub, prdId, ja, 'As an admin I refund', ' within 30 days');
    await edit(a, hub, prdId, ja, 'within 30 days', '\n- As a buyer I cancel');
    r = await sync(a, prdId, 'export');
    assert.equal(r.complete.result.updated, 1);
    assert.equal(r.complete.result.created, 1);
    assert.equal(fake.state.issues.get('PRD-3').fields.summary, 'As an admin I refund within 30 days');
    assert.equal(fake.state.issues.get('PRD-4').fields.summary, 'As a buyer I cancel');
    assert.equal(fake.requestsTo(/issue\/PRD-3$/).filter((q) => q.method === 'PUT').length, 1);

    // Import: an issue made in Jira and a summary changed in Jira come in
    // as ordinary content-updates.
    const updates = recorder(b, ['content-update']);
    fake.addIssue(prdId, 'As a support agent I look up orders');
    fake.state.issues.get('PRD-2').fields.summary = 'As a buyer I download my receipt';
    r = await sync(a, prdId, 'import');
    assertSeedShapes(r, prdId, 'import');
    assert.equal(r.complete.result.created, 1);
    assert.equal(r.complete.result.updated, 1);
    await until(b, () => updates.length >= 2);
    let text = await prdText(hub, prdId);
    assert.match(text, /- As a buyer I download my receipt \(PRD-2\)\n/);
    assert.match(text, /- As a buyer I cancel\n- As a support agent I look up orders \(PRD-5\)\n\n## Notes/);
    // Importing again changes nothing.
    r = await sync(a, prdId, 'import');
    assert.equal(r.complete.result.created + r.complete.result.updated, 0);
    assert.equal(await prdText(hub, prdId), text);

    // Changed on both sides: the PRD's text wins (bidirectional exports it).
    await edit(a, hub, prdId, ja, 'As a buyer I pay by card', ' or wallet');
    fake.state.issues.get('PRD-1').fields.summary = 'Changed in Jira';
    r = await sync(a, prdId, 'bidirectional');
    assertSeedShapes(r, prdId, 'bidirectional');
    assert.equal(fake.state.issues.get('PRD-1').fields.summary, 'As a buyer I pay by card or wallet');
    text = await prdText(hub, prdId);
    assert.match(text, /- As a buyer I pay by card or wallet\n/);
    assert.doesNotMatch(text, /Changed in Jira/);
    assert.equal(fake.state.issues.size, 5);
    // Cloud searches use /search/jql; the old /search is never called.
    assert.ok(fake.requestsTo(/\/rest\/api\/3\/search\/jql$/).length >= 1);
    assert.equal(fake.requestsTo(/\/search$/).length, 0);

    // REST trigger, same body.
    let res = await rest(hub, 'POST', `/api/prds/${prdId}/jira-sync`, { body: { syncType: 'export' }, tok: token(EDITOR) });
    assert.equal(res.status, 202, res.text);
    assert.match(res.json.syncId, /^sync_/);
    secretFree(hub, fake);
    a.disconnect();
    b.disconnect();
  } finally {
    await fake.close();
    await assertCleanStop(hub);
  }
});

// An import is written as deletions and inserts: one the PRD has no room
// for is refused whole, before the first is written.
test('an import that would not fit in the PRD changes nothing', async () => {
  const hub = await startHub({ config: `[collab]\nmax-document-size = ${PRD_TEXT.length + 10}\n` });
  const fake = await startFakeJira();
  try {
    await configure(hub, fake);
    const prdId = await createPrd(hub, 'Full import', PRD_TEXT);
    const a = await client(hub, EDITOR);
    await join(a, prdId);
    const first = await sync(a, prdId, 'export');
    assert.equal(first.complete.result.created, 3);
    // Two summaries changed in Jira, 8 units longer each: either fits, not
    // both (the last is written first).
    fake.state.issues.get('PRD-2').fields.summary = 'As a buyer I see my receipt by mail';
    fake.state.issues.get('PRD-3').fields.summary = 'As an admin I refund quickly';
    const before = await prdText(hub, prdId);
    const r = await sync(a, prdId, 'import');
    assert.match(JSON.stringify(r.complete), /max-document-size/);
    assert.equal(await prdText(hub, prdId), before);
  } finally {
    await hub.stop();
    await fake.close();
  }
});

test('refusals: viewer, other organization, unconfigured, bad payloads, a second sync', async () => {
  const hub = await startHub();
  const fake = await startFakeJira();
  try {
    const prdId = await createPrd(hub, 'Refusals', PRD_TEXT);
    const a = await client(hub, EDITOR);
    await join(a, prdId);
    let ack = await request(a, 'jira-sync', { prdId, syncType: 'export' });
    assert.equal(ack.error.code, 'INTEGRATION_NOT_CONFIGURED');

    await configure(hub, fake);
    const viewer = await client(hub, VIEWER);
    ack = await request(viewer, 'jira-sync', { prdId, syncType: 'export' });
    assert.equal(ack.error.code, 'FORBIDDEN');
    const other = await client(hub, user('other_1', { org: 'org_other', role: 'admin' }));
    ack = await request(other, 'jira-sync', { prdId, syncType: 'export' });
    assert.equal(ack.error.code, 'PRD_NOT_FOUND');
    let res = await rest(hub, 'POST', `/api/prds/${prdId}/jira-sync`, { body: { syncType: 'export' }, tok: token({ org: 'org_other' }) });
    assert.equal(res.status, 404);
    res = await rest(hub, 'GET', '/api/integrations', { tok: token({ org: 'org_other', role: 'admin' }) });
    assert.equal(res.json.integrations.find((i) => i.service === 'jira').configured, false);
    for (const body of [{ prdId, syncType: 'sideways' }, { prdId }, { prdId, syncType: 'export', projectKey: 'bad key' }, { prdId, syncType: 7 }]) {
      ack = await request(a, 'jira-sync', body);
      assert.equal(ack.error.code, 'INVALID_PAYLOAD', JSON.stringify(body));
    }
    ack = await request(a, 'jira-sync', { prdId: 'prd_doesnotexist', syncType: 'export' });
    assert.equal(ack.error.code, 'PRD_NOT_FOUND');

    // A second sync while the first runs.
    fake.state.holdSearch = true;
    const seen = recorder(a, ['jira-sync-complete']);
    ack = await request(a, 'jira-sync', { prdId, syncType: 'import' });
    assert.equal(ack.ok, true);
    await until(a, () => fake.state.held.length === 1);
    ack = await request(a, 'jira-sync', { prdId, syncType: 'export' });
    assert.equal(ack.error.code, 'SYNC_IN_PROGRESS');
    res = await rest(hub, 'POST', `/api/prds/${prdId}/jira-sync`, { body: { syncType: 'export' }, tok: token(EDITOR) });
    assert.equal(res.status, 409);
    assert.equal(res.json.code, 'SYNC_IN_PROGRESS');
    // Another organization learns nothing of it: its answer is the one for
    // any id it does not have.
    ack = await request(other, 'jira-sync', { prdId, syncType: 'export' });
    assert.equal(ack.error.code, 'PRD_NOT_FOUND');
    fake.release();
    await until(a, () => seen.length === 1);
    ack = await request(a, 'jira-sync', { prdId, syncType: 'export' });
    assert.equal(ack.ok, true);
    a.disconnect();
    viewer.disconnect();
    other.disconnect();
  } finally {
    await fake.close();
    await assertCleanStop(hub);
  }
});

test('failure modes: partial bulk failure, lost answer, 429, HTML, 401, 400 project', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeJira();
  try {
    await configure(hub, fake);
    const prdId = await createPrd(hub, 'Failures', PRD_TEXT);
    const a = await client(hub, EDITOR);
    await join(a, prdId);

    // One item refused: the others are created, the failure is named.
    fake.state.failSummaries.add('As a buyer I see my receipt');
    let r = await sync(a, prdId, 'export');
    assert.equal(r.complete.result.created, 2);
    assert.equal(r.complete.result.errors, 1);
    assert.equal(r.complete.result.failures[0].title, 'As a buyer I see my receipt');
    assert.match(r.complete.result.failures[0].message, /workflow validator/);
    // The next export retries only the failed item.
    fake.state.failSummaries.clear();
    r = await sync(a, prdId, 'export');
    assert.equal(r.complete.result.created, 1);
    assert.equal(r.complete.result.errors, 0);
    assert.equal(fake.state.issues.size, 3);

    // The answer to a bulk create is lost: search first, nothing twice.
    const prd2 = await createPrd(hub, 'Lost answer', PRD_TEXT);
    await join(a, prd2);
    fake.state.dropNextBulk = 1;
    r = await sync(a, prd2, 'export');
    assert.equal(r.complete.result.created, 3, JSON.stringify(r.complete));
    assert.equal(r.complete.result.errors, 0);
    assert.equal([...fake.state.issues.values()].filter((i) => i.fields.labels.includes(`prdhub-${prd2}`)).length, 3);
    assert.equal(fake.requestsTo(/issue\/bulk$/).length, 3 /* 2 before + 1 lost, none resent */);

    // 429 with Retry-After: waited out, then done.
    const prd3 = await createPrd(hub, 'Rate limited', PRD_TEXT);
    await join(a, prd3);
    fake.state.rateLimitNext = 1;
    r = await sync(a, prd3, 'export');
    assert.equal(r.complete.result.created, 3);

    // HTML from a proxy: a clear error, not a crash.
    fake.state.htmlNext = 1;
    r = await sync(a, prd3, 'import');
    assert.equal(r.complete.result.errors, 1);
    assert.equal(r.complete.error.code, 'INTEGRATION_ERROR');
    assert.match(r.complete.error.message, /502.*text\/html/);

    // A project Jira does not know: each item fails with Jira's message.
    const prd4 = await createPrd(hub, 'Unknown project', PRD_TEXT);
    await join(a, prd4);
    r = await sync(a, prd4, 'export', { projectKey: 'NOPE' });
    assertSeedShapes(r, prd4, 'export', 'NOPE');
    assert.equal(r.complete.result.created, 0);
    assert.equal(r.complete.result.errors, 3);
    assert.match(r.complete.result.failures[0].message, /project is required/);

    // Credentials refused.
    fake.state.token = 'rotated';
    r = await sync(a, prd4, 'export');
    assert.equal(r.complete.result.errors, 3);
    assert.match(r.complete.result.failures[0].message, /refused the credentials/);
    const res = await rest(hub, 'GET', '/api/integrations', { tok: token(ADMIN) });
    const jira = res.json.integrations.find((i) => i.service === 'jira');
    assert.equal(jira.status, 'error');
    a.disconnect();
    assert.ok(hub.stderr().includes('jira'), 'integration calls are logged');
    secretFree(hub, fake);
  } finally {
    await fake.close();
    await assertCleanStop(hub);
  }
});

test('webhook: signature, de-duplication, status changes notify editors', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeJira();
  try {
    await configure(hub, fake);
    const prdId = await createPrd(hub, 'Hooks', PRD_TEXT);
    const a = await client(hub, EDITOR);
    const ja = await join(a, prdId);
    // The editor has written in the PRD: a site of theirs makes them an editor.
    await edit(a, hub, prdId, ja, 'End.', ' ');
    await sync(a, prdId, 'export');
    const notes = await connect(hub.url, { transports: ['websocket'], auth: { token: token(EDITOR) } }, '/notifications');
    const got = recorder(notes, ['notification', 'activity-update']);
    await request(notes, 'subscribe', { organizationId: ORG });

    const event = {
      timestamp: Date.now(), webhookEvent: 'jira:issue_updated', issue_event_type_name: 'issue_generic',
      issue: { id: '10000', key: 'PRD-1', fields: { summary: 'As a buyer I pay by card', status: { name: 'In Progress' } } },
      changelog: { id: '1', items: [{ field: 'status', fieldtype: 'jira', from: '1', fromString: 'To Do', to: '3', toString: 'In Progress' }] },
    };
    let res = await sendWebhook(hub.url, ORG, HOOK_SECRET, event, { id: 'delivery-1', signature: null });
    assert.equal(res.status, 401);
    res = await sendWebhook(hub.url, ORG, HOOK_SECRET, event, { id: 'delivery-1', signature: 'sha256=' + '0'.repeat(64) });
    assert.equal(res.status, 401);
    res = await sendWebhook(hub.url, ORG, 'wrong-secret', event, { id: 'delivery-1' });
    assert.equal(res.status, 401);
    res = await sendWebhook(hub.url, 'org_other', HOOK_SECRET, event, { id: 'delivery-1' });
    assert.equal(res.status, 401);
    assert.equal(got.filter((n) => n.event === 'notification').length, 0);

    res = await sendWebhook(hub.url, ORG, HOOK_SECRET, event, { id: 'delivery-1' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.outcome, 'status-changed');
    await until(notes, () => got.some((n) => n.event === 'notification'));
    const note = got.find((n) => n.event === 'notification').data;
    assert.equal(note.type, 'integration_update');
    assert.equal(note.data.issueKey, 'PRD-1');
    assert.equal(note.data.status, 'In Progress');
    await until(notes, () => got.some((n) => n.event === 'activity-update' && n.data.activity?.type === 'jira_issue_updated'));

    // The same delivery again: handled once.
    res = await sendWebhook(hub.url, ORG, HOOK_SECRET, event, { id: 'delivery-1' });
    assert.equal(res.json.outcome, 'duplicate');
    // A replay is a duplicate under any identifier (which is not signed), or none.
    for (const id of ['delivery-new', undefined]) {
      res = await sendWebhook(hub.url, ORG, HOOK_SECRET, event, { id });
      assert.equal(res.json.outcome, 'duplicate', String(id));
    }
    // A signed delivery older than a day is not handled; one without a
    // timestamp is.
    res = await sendWebhook(hub.url, ORG, HOOK_SECRET, { ...event, timestamp: Date.now() - 25 * 3600 * 1000 });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.outcome, 'stale');
    const { timestamp: _, ...untimed } = event;
    res = await sendWebhook(hub.url, ORG, HOOK_SECRET, { ...untimed, changelog: { ...event.changelog, id: '2' } });
    assert.equal(res.json.outcome, 'unchanged', res.text);
    res = await sendWebhook(hub.url, ORG, HOOK_SECRET, { ...event, issue: { ...event.issue, key: 'OTHER-9' } }, { id: 'delivery-2' });
    assert.equal(res.json.outcome, 'not-linked');
    res = await sendWebhook(hub.url, ORG, HOOK_SECRET, { webhookEvent: 'jira:issue_deleted', issue: { key: 'PRD-2' } }, { id: 'delivery-3' });
    assert.equal(res.json.outcome, 'unlinked');
    res = await sendWebhook(hub.url, ORG, HOOK_SECRET, { nope: true }, { id: 'delivery-4' });
    assert.equal(res.status, 400);
    res = await sendWebhook(hub.url, ORG, HOOK_SECRET, event, { id: 'd'.repeat(256) });
    assert.equal(res.status, 400);
    res = await sendWebhook(hub.url, '', HOOK_SECRET, event, { id: 'delivery-5' });
    assert.equal(res.status, 400);
    assert.equal(got.filter((n) => n.event === 'notification').length, 1);
    // A deleted PRD's items are linked to nothing any more.
    res = await rest(hub, 'DELETE', `/api/prds/${prdId}`, { tok: token(ADMIN) });
    assert.equal(res.status, 200, res.text);
    const deadline = Date.now() + 20000;
    for (let n = 6; ; n++) {
      res = await sendWebhook(hub.url, ORG, HOOK_SECRET, { ...event, timestamp: event.timestamp + n, issue: { ...event.issue, key: 'PRD-3' } }, { id: `delivery-${n}` });
      if (res.json.outcome === 'not-linked') break;
      assert.ok(Date.now() < deadline, `still linked: ${res.text}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    notes.disconnect();
    a.disconnect();
    secretFree(hub, fake);
  } finally {
    await fake.close();
    await assertCleanStop(hub);
  }
});

// What a delivery would make the hub keep (the link's status, the feed,
// every editor's notification) is checked before anything is recorded; a
// delivery whose handling failed is not remembered, so Jira's retry is
// handled rather than taken for a duplicate.
test('webhook: a bad status or timestamp is 400 and changes nothing; a failed delivery is handled on its retry', async () => {
  const hub = await startHub();
  const fake = await startFakeJira();
  try {
    await configure(hub, fake);
    const prdId = await createPrd(hub, 'Hooks', PRD_TEXT);
    const a = await client(hub, EDITOR);
    await join(a, prdId);
    await sync(a, prdId, 'export');
    a.disconnect();
    const update = (status, extra = {}) => ({ timestamp: Date.now(), webhookEvent: 'jira:issue_updated',
      issue: { key: 'PRD-1', fields: { status: { name: status } } }, ...extra });
    const feed = async () => {
      const res = await rest(hub, 'GET', `/api/activity?organizationId=${ORG}&limit=50`, { tok: token(VIEWER) });
      assert.equal(res.status, 200, res.text);
      return res.json.activities.filter((x) => x.type === 'jira_issue_updated').map((x) => x.object.status);
    };

    // The status: 1 to 255 characters, no control characters.
    for (const status of ['S'.repeat(256), '<img src=x>' + 'S'.repeat(1_500_000), 'Done\n', 'Done\u0085']) {
      const res = await sendWebhook(hub.url, ORG, HOOK_SECRET, update(status));
      assert.equal(res.status, 400, `${status.length}: ${res.text}`);
      assert.equal(res.json.code, 'INVALID_PAYLOAD');
      assert.match(res.json.message, /status must be 1 to 255 characters/);
    }
    // A status that is there but not text: refused as well, for a linked
    // issue (PRD-1) and for one that is not (PRD-999).
    const typed = (key, fields, extra = {}) => ({ timestamp: Date.now(), webhookEvent: 'jira:issue_updated',
      issue: { key, fields }, ...extra });
    for (const key of ['PRD-1', 'PRD-999']) {
      for (const body of [typed(key, { status: { name: 5 } }), typed(key, { status: { name: true } }),
        typed(key, { status: { name: ['Done'] } }), typed(key, { status: { name: {} } }),
        typed(key, { status: 5 }), typed(key, { status: 'Done' }),
        typed(key, {}, { changelog: { items: [{ field: 'status', toString: 5 }] } }),
        typed(key, { status: { name: 'Done' } }, { changelog: { items: [{ field: 'status', toString: {} }] } })]) {
        const res = await sendWebhook(hub.url, ORG, HOOK_SECRET, body);
        assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
        assert.equal(res.json.code, 'INVALID_PAYLOAD');
        assert.match(res.json.message, /status must be 1 to 255 characters/);
      }
    }
    // null is Jira's empty value: as if there were no status.
    for (const body of [typed('PRD-999', { status: null }), typed('PRD-999', { status: { name: null } }),
      typed('PRD-999', {}, { changelog: { items: [{ field: 'status', toString: null }] } })]) {
      const res = await sendWebhook(hub.url, ORG, HOOK_SECRET, body);
      assert.equal(res.status, 200, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.json.outcome, 'not-linked');
    }
    // The timestamp, when there is one: a whole number of milliseconds.
    for (const timestamp of ['1', 1.5, 1e300, -1, null]) {
      const res = await sendWebhook(hub.url, ORG, HOOK_SECRET, update('Done', { timestamp }));
      assert.equal(res.status, 400, `${timestamp}: ${res.text}`);
      assert.equal(res.json.code, 'INVALID_PAYLOAD');
      assert.match(res.json.message, /timestamp/);
    }
    assert.deepEqual(await feed(), []);
    // At the edge: 255 characters (not bytes) pass.
    for (const status of ['S'.repeat(255), '\u00e9'.repeat(255)]) {
      const res = await sendWebhook(hub.url, ORG, HOOK_SECRET, update(status));
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.outcome, 'status-changed');
    }
    assert.deepEqual((await feed()).sort(), ['S'.repeat(255), '\u00e9'.repeat(255)].sort());

    // The link cannot be written (a trigger refuses it): 500, and the
    // delivery is not remembered.
    const db = path.join(hub.dataDir, 'prdhub.db');
    const sql = (script) => execFileSync('/usr/bin/python3', ['-c',
      'import sqlite3,sys;c=sqlite3.connect(sys.argv[1],timeout=10);c.executescript(sys.argv[2]);c.close()',
      db, script]);
    sql("CREATE TRIGGER refuse_links BEFORE INSERT ON integration_links BEGIN SELECT RAISE (ABORT, 'refused by the test'); END;" +
      "CREATE TRIGGER refuse_link_updates BEFORE UPDATE ON integration_links BEGIN SELECT RAISE (ABORT, 'refused by the test'); END;");
    const event = update('In Review');
    let res = await sendWebhook(hub.url, ORG, HOOK_SECRET, event);
    assert.equal(res.status, 500, res.text);
    assert.equal(res.json.code, 'STORAGE_ERROR');
    sql('DROP TRIGGER refuse_links; DROP TRIGGER refuse_link_updates;');
    // Jira's retry: the same body.
    res = await sendWebhook(hub.url, ORG, HOOK_SECRET, event);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.outcome, 'status-changed');
    assert.ok((await feed()).includes('In Review'));
    res = await sendWebhook(hub.url, ORG, HOOK_SECRET, event);
    assert.equal(res.json.outcome, 'duplicate');
  } finally {
    await fake.close();
    await hub.stop();
  }
});

test('a REST sync of a PRD nobody has open; a stop cancels a sync under way', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeJira();
  try {
    await configure(hub, fake);
    const prdId = await createPrd(hub, 'Closed', PRD_TEXT);
    fake.addIssue(prdId, 'Written while nobody had the PRD open');
    const res = await rest(hub, 'POST', `/api/prds/${prdId}/jira-sync`, { body: { syncType: 'bidirectional' }, tok: token(EDITOR) });
    assert.equal(res.status, 202, res.text);
    // The room opens, loads, takes the import, exports and closes again.
    const deadline = Date.now() + 20000;
    while (fake.state.issues.size < 4) {
      assert.ok(Date.now() < deadline, 'the sync did not finish');
      await new Promise((r) => setTimeout(r, 20));
    }
    const text = await prdText(hub, prdId);
    assert.match(text, /- As an admin I refund\n- Written while nobody had the PRD open \(PRD-1\)\n/);
    assert.equal([...fake.state.issues.values()].filter((i) => i.fields.summary.startsWith('Written')).length, 1);

    // A sync waiting on Jira when the hub stops: cancelled, clean exit.
    fake.state.holdSearch = true;
    const a = await client(hub, EDITOR);
    await join(a, prdId);
    const ack = await request(a, 'jira-sync', { prdId, syncType: 'import' });
    assert.equal(ack.ok, true);
    await until(a, () => fake.state.held.length === 1);
    a.disconnect();
  } finally {
    await assertCleanStop(hub);
    fake.release();
    await fake.close();
  }
});

test('bulk creates go in batches of at most 50', async () => {
  const hub = await startHub();
  const fake = await startFakeJira();
  try {
    await configure(hub, fake);
    const items = Array.from({ length: 60 }, (_, i) => `- Story number ${i + 1}`).join('\n');
    const prdId = await createPrd(hub, 'Many', `# Many\n\n## User Stories\n\n${items}\n`);
    const a = await client(hub, EDITOR);
    await join(a, prdId);
    const r = await sync(a, prdId, 'export');
    assert.equal(r.complete.result.created, 60);
    assert.deepEqual(fake.requestsTo(/issue\/bulk$/).map((q) => q.body.issueUpdates.length), [50, 10]);
    assert.equal(r.complete.result.issues[59].title, 'Story number 60');
    a.disconnect();
  } finally {
    await fake.close();
    await assertCleanStop(hub);
  }
});

test('a lost bulk answer while the search lags: adopted later, never created twice', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeJira({ flavour: 'datacenter' });
  const inJira = (prdId) => [...fake.state.issues.values()]
    .filter((i) => i.fields.labels.includes(`prdhub-${prdId}`)).map((i) => i.fields.summary).sort();
  const summaries = ['As a buyer I pay by card', 'As a buyer I see my receipt', 'As an admin I refund'];
  try {
    await configure(hub, fake);
    const a = await client(hub, EDITOR);

    // Created, the answer lost, the next two searches do not show them yet:
    // the hub searches again a little later and adopts them.
    const prd1 = await createPrd(hub, 'Lagging index', PRD_TEXT);
    await join(a, prd1);
    fake.state.dropNextBulk = 1;
    fake.state.searchLag = 2;
    let r = await sync(a, prd1, 'export');
    fake.state.searchLag = 0;
    assert.equal(r.complete.result.created, 3, JSON.stringify(r.complete));
    assert.equal(r.complete.result.errors, 0);
    assert.deepEqual(inJira(prd1), summaries);
    assert.equal(fake.requestsTo(/issue\/bulk$/).length, 1, 'the bulk create is not sent again');
    r = await sync(a, prd1, 'export');
    assert.equal(r.complete.result.created, 0);
    assert.deepEqual(inJira(prd1), summaries);

    // The index lags longer than the hub looks: the stories fail, nothing
    // is sent again; the next export finds the issues and adopts them.
    const prd2 = await createPrd(hub, 'Lagging more', PRD_TEXT);
    await join(a, prd2);
    fake.state.dropNextBulk = 1;
    fake.state.searchLag = 100;
    r = await sync(a, prd2, 'export');
    fake.state.searchLag = 0;
    assert.equal(r.complete.result.created, 0, JSON.stringify(r.complete));
    assert.equal(r.complete.result.errors, 3);
    assert.match(r.complete.result.failures[0].message, /not created again/);
    assert.deepEqual(inJira(prd2), summaries);
    assert.equal(fake.requestsTo(/issue\/bulk$/).length, 2);
    fake.catchUp();
    r = await sync(a, prd2, 'export');
    assert.equal(r.complete.result.created, 3, JSON.stringify(r.complete));
    assert.equal(r.complete.result.errors, 0);
    assert.deepEqual(r.complete.result.issues.map((i) => i.title).sort(), summaries);
    assert.deepEqual(inJira(prd2), summaries, 'no issue is created twice');
    assert.equal(fake.requestsTo(/issue\/bulk$/).length, 2, 'adopted, not created');
    // Linked now: an adopted issue is sent its story's text once (it was
    // found by its summary alone), then nothing more.
    r = await sync(a, prd2, 'export');
    assert.equal(r.complete.result.created, 0, JSON.stringify(r.complete));
    assert.equal(r.complete.result.updated, 3, JSON.stringify(r.complete));
    r = await sync(a, prd2, 'export');
    assert.equal(r.complete.result.created + r.complete.result.updated, 0);
    assert.deepEqual(inJira(prd2), summaries);
    a.disconnect();
  } finally {
    await fake.close();
    await assertCleanStop(hub);
  }
});

// Removing Jira, or changing its settings, while a sync waits on Jira ends
// the sync (CANCELLED): no more calls with the removed credentials, and
// nothing it would have written (PRD text, links) comes back afterwards.
test('removing or changing Jira during a sync cancels it; nothing is written after', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeJira();
  try {
    await configure(hub, fake);
    const prdId = await createPrd(hub, 'Removed meanwhile', PRD_TEXT);
    fake.addIssue(prdId, 'Imported story');
    const a = await client(hub, EDITOR);
    await join(a, prdId);
    const before = await prdText(hub, prdId);

    fake.state.holdSearch = true;
    let seen = recorder(a, ['jira-sync-complete']);
    let ack = await request(a, 'jira-sync', { prdId, syncType: 'import' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await until(a, () => fake.state.held.length === 1);
    let res = await rest(hub, 'DELETE', '/api/integrations/jira', { tok: token(ADMIN) });
    assert.equal(res.status, 200, res.text);
    // The search Jira answers now reaches no one.
    fake.release();
    await until(a, () => seen.length === 1);
    let complete = seen[0].data;
    assert.equal(complete.error?.code, 'CANCELLED', JSON.stringify(complete));
    assert.match(complete.error.message, /settings were removed or changed/);
    assert.equal(complete.result.created, 0);
    a.off('jira-sync-complete');
    const calls = fake.state.requests.length;
    ack = await request(a, 'jira-sync', { prdId, syncType: 'import' });
    assert.equal(ack.error?.code, 'INTEGRATION_NOT_CONFIGURED', JSON.stringify(ack));
    assert.equal(await prdText(hub, prdId), before);
    assert.equal(fake.state.requests.length, calls, 'no call after the removal');

    // Configured again: the issue was never linked (a webhook for it finds
    // no link), and an import brings it in once.
    await configure(hub, fake);
    res = await sendWebhook(hub.url, ORG, HOOK_SECRET, {
      timestamp: Date.now(), webhookEvent: 'jira:issue_updated',
      issue: { id: '10000', key: 'PRD-1', fields: { summary: 'Imported story', status: { name: 'Done' } } },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.outcome, 'not-linked');

    // Changed settings (another issue type) cancel a sync under way too.
    fake.state.holdSearch = true;
    seen = recorder(a, ['jira-sync-complete']);
    ack = await request(a, 'jira-sync', { prdId, syncType: 'import' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await until(a, () => fake.state.held.length === 1);
    res = await rest(hub, 'PUT', '/api/integrations/jira', { body: { issueType: 'Task' }, tok: token(ADMIN) });
    assert.equal(res.status, 200, res.text);
    fake.release();
    await until(a, () => seen.length === 1);
    complete = seen[0].data;
    assert.equal(complete.error?.code, 'CANCELLED', JSON.stringify(complete));
    assert.equal(await prdText(hub, prdId), before);
    a.off('jira-sync-complete');

    // The next sync runs with the new settings.
    const r = await sync(a, prdId, 'import');
    assert.equal(r.complete.error, undefined, JSON.stringify(r.complete));
    assert.equal(r.complete.result.created, 1);
    assert.match(await prdText(hub, prdId), /- Imported story \(PRD-1\)\n/);
    assert.equal((await prdText(hub, prdId)).match(/Imported story/g).length, 1);
    a.disconnect();
  } finally {
    fake.release();
    await fake.close();
    await assertCleanStop(hub);
  }
});

test('deleting a PRD during its sync cancels the sync: no issue created, no link kept', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeJira();
  try {
    await configure(hub, fake);
    const prdId = await createPrd(hub, 'Deleted meanwhile', PRD_TEXT);
    const a = await client(hub, EDITOR);
    await join(a, prdId);

    fake.state.holdSearch = true;
    const ack = await request(a, 'jira-sync', { prdId, syncType: 'export' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await until(a, () => fake.state.held.length === 1);
    const res = await rest(hub, 'DELETE', `/api/prds/${prdId}`, { tok: token(ADMIN) });
    assert.equal(res.status, 200, res.text);
    // The search Jira answers now leads to nothing; the room is gone, so
    // the end of the sync is only in the log.
    fake.release();
    const ended = new RegExp(`export sync of ${prdId} done: 0 created, 0 updated, 1 errors: ` +
      'The PRD was deleted during the sync');
    await until(a, () => ended.test(hub.stderr()));
    assert.equal(fake.state.issues.size, 0, 'no issue created for the deleted PRD');

    // The next sync runs: a new PRD of the same text exports its stories.
    const again = await createPrd(hub, 'Deleted meanwhile', PRD_TEXT);
    await join(a, again);
    const r = await sync(a, again, 'export');
    assert.equal(r.complete.error, undefined, JSON.stringify(r.complete));
    assert.equal(r.complete.result.created, fake.state.issues.size);
    assert.ok(r.complete.result.created > 0);
    a.disconnect();
  } finally {
    fake.release();
    await fake.close();
    await assertCleanStop(hub);
  }
});

// A key no link has: the story is created once (then matched by its
// title), and no existing issue is taken over by a key, be it one the hub
// synced before, one made by hand or one synced with another PRD.
test('a story naming a key no link has: created once, no issue taken over', async () => {
  const hub = await startHub();
  const fake = await startFakeJira({ flavour: 'datacenter' });
  try {
    await configure(hub, fake);
    const synced = fake.addIssue('unused', 'Synced, link lost');
    fake.state.issues.get(synced.key).fields.labels = ['team-a', 'prdhub'];
    const byHand = fake.addIssue('unused', 'Made by hand');
    fake.state.issues.get(byHand.key).fields.labels = ['team-b'];
    const elsewhere = fake.addIssue('prd_other', 'Synced with another PRD');
    const prdId = await createPrd(hub, 'Keys', '# Keys\n\n## User Stories\n\n' +
      `- Keyed story (PRD-77)\n- Adopt me (${synced.key})\n- Not mine (${elsewhere.key})\n` +
      `- Leave it (${byHand.key})\n- Plain story\n`);
    const a = await client(hub, EDITOR);
    await join(a, prdId);

    let r = await sync(a, prdId, 'export');
    assert.equal(r.complete.result.created, 5, JSON.stringify(r.complete));
    assert.equal(r.complete.result.updated, 0);
    assert.equal(r.complete.result.errors, 0);
    assert.equal(fake.state.issues.get(synced.key).fields.summary, 'Synced, link lost');
    assert.deepEqual(fake.state.issues.get(synced.key).fields.labels, ['team-a', 'prdhub']);
    assert.equal(fake.state.issues.get(byHand.key).fields.summary, 'Made by hand');
    assert.deepEqual(fake.state.issues.get(byHand.key).fields.labels, ['team-b']);
    assert.equal(fake.state.issues.get(elsewhere.key).fields.summary, 'Synced with another PRD');
    assert.deepEqual(fake.state.issues.get(elsewhere.key).fields.labels,
      ['prdhub', 'prdhub-prd_other']);
    assert.equal(fake.state.issues.size, 8);
    assert.deepEqual(fake.state.requests.filter((q) => q.method === 'PUT'), []);

    // Exported again, twice: nothing created, nothing sent.
    for (let i = 0; i < 2; i++) {
      r = await sync(a, prdId, 'export');
      assert.equal(r.complete.result.created + r.complete.result.updated, 0,
        JSON.stringify(r.complete));
    }
    assert.equal(fake.state.issues.size, 8);
    assert.equal(fake.requestsTo(/\/issue\/PRD-77$/).length, 0);
    const summaries = [...fake.state.issues.values()].map((i) => i.fields.summary).sort();
    assert.deepEqual(summaries, ['Adopt me', 'Keyed story', 'Leave it', 'Made by hand',
      'Not mine', 'Plain story', 'Synced with another PRD', 'Synced, link lost']);

    // An import finds the PRD's own issues and changes nothing.
    const before = await prdText(hub, prdId);
    r = await sync(a, prdId, 'import');
    assert.equal(r.complete.result.created + r.complete.result.updated, 0,
      JSON.stringify(r.complete));
    assert.equal(await prdText(hub, prdId), before);
    a.disconnect();
  } finally {
    await fake.close();
    await assertCleanStop(hub);
  }
});

// Summaries with Markdown in them come in escaped: the items read back as
// the summaries, so a bidirectional sync right after sends Jira nothing.
test('an import of summaries with Markdown, then a bidirectional sync: no PUT to Jira', async () => {
  const hub = await startHub();
  const fake = await startFakeJira({ flavour: 'datacenter' });
  try {
    await configure(hub, fake);
    const prdId = await createPrd(hub, 'Marks', '# Marks\n\n## Notes\n\nKeep me.\n');
    const summaries = ['*stars* and [link](x) `code`', 'a &amp; b \\* c', '_under_ name_with_under',
      '# not a heading', '> not a quote', '<tag> stays', 'Wow! ![img](y)', 'back\\slash end\\',
      '1. not a list', '- not a list', 'Ends with key (PRD-999)'];
    for (const s of summaries) fake.addIssue(prdId, s);
    fake.addIssue(prdId, 'Multi\nline  and\ttab');
    const a = await client(hub, EDITOR);
    await join(a, prdId);

    let r = await sync(a, prdId, 'import');
    assert.equal(r.complete.result.created, summaries.length + 1, JSON.stringify(r.complete));
    assert.deepEqual(r.complete.result.issues.map((i) => i.title),
      [...summaries, 'Multi line and tab']);
    const text = await prdText(hub, prdId);
    assert.match(text, /- \\\*stars\\\* and \\\[link\\\]\(x\) \\`code\\` \(PRD-1\)\n/);
    assert.match(text, /\n\nKeep me\.\n/);

    r = await sync(a, prdId, 'bidirectional');
    assert.equal(r.complete.result.created + r.complete.result.updated, 0,
      JSON.stringify(r.complete));
    assert.deepEqual(fake.state.requests.filter((q) => q.method !== 'GET').map((q) => q.path), []);
    summaries.forEach((s, i) => assert.equal(fake.state.issues.get(`PRD-${i + 1}`).fields.summary, s));
    assert.equal(await prdText(hub, prdId), text);
    a.disconnect();
  } finally {
    await fake.close();
    await assertCleanStop(hub);
  }
});

// A Jira (or a proxy in front of it) that quotes the request's credentials
// in its error answers: the hub says what failed, never with them.
test('credentials a Jira quotes in its errors never show: REST, events, activity, log', async () => {
  const { startEchoService, secretForms, assertSecretFree, shownTexts, failedCalls } =
    await import('./helpers/echo-service.js');
  const echo = await startEchoService({ status: 401 });
  const hub = await startHub({ env: VERBOSE });
  const email = 'bot@example.org';
  const jiraToken = 'JiraTok-' + 'aB3'.repeat(8);
  const forms = secretForms(jiraToken, email);
  const sockets = [];
  try {
    let res = await rest(hub, 'PUT', '/api/integrations/jira', {
      body: { baseUrl: echo.url, deployment: 'cloud', apiVersion: 3, email, token: jiraToken,
        projectKey: 'PRD' },
      tok: token(ADMIN),
    });
    assert.equal(res.status, 200, res.text);
    res = await rest(hub, 'POST', '/api/integrations/jira/test', { tok: token(ADMIN) });
    assert.equal(res.json.status, 'error', res.text);
    assert.match(res.json.lastError, /refused the credentials/);
    assert.match(res.json.lastError, /\[redacted\]/);
    assertSecretFree('POST /api/integrations/jira/test', res.text, forms);
    // (it did quote them)
    assert.ok(echo.requests.some((r) => r.headers.authorization.includes(forms[2])));

    const prdId = await createPrd(hub, 'Echo', PRD_TEXT);
    const editor = await client(hub, EDITOR);
    const viewer = await client(hub, VIEWER);
    sockets.push(editor, viewer);
    await join(editor, prdId);
    await join(viewer, prdId, { mode: 'view' });
    const seen = recorder(viewer, ['jira-sync-complete']);
    const r = await sync(editor, prdId, 'export');
    await until(viewer, () => seen.length > 0);
    assert.ok(r.complete.result.errors > 0);
    assert.match(r.complete.result.failures[0].message, /refused the credentials/);
    assertSecretFree('jira-sync-complete (editor)', JSON.stringify(r.complete), forms);
    assertSecretFree('jira-sync-complete (viewer)', JSON.stringify(seen), forms);

    const calls = await failedCalls(hub, VIEWER, 'jira', 2);
    assert.ok(calls.length >= 2 && calls.every((m) => /refused the credentials/.test(m)), JSON.stringify(calls));
    const shown = await shownTexts(hub, ADMIN, VIEWER);
    assertSecretFree('GET /api/integrations', JSON.stringify(shown.integrations), forms);
    assertSecretFree('GET /api/activity', JSON.stringify(shown.activity), forms);
    assertSecretFree('the log', shown.log, forms);
  } finally {
    for (const s of sockets) s.disconnect();
    await echo.close();
    await assertCleanStop(hub);
  }
});

// The stories of a PRD are read up to PRD_JIRA_MAX_STORIES (1,000): a PRD
// with more is refused whole (LIMIT_REACHED, naming both counts) by every
// sync, before anything is asked of Jira; past the limit the stories left
// out would have had their issues given to others by position.
test('more than 1,000 stories: every sync is refused, nothing is sent to Jira', async () => {
  const hub = await startHub();
  const fake = await startFakeJira();
  try {
    await configure(hub, fake);
    let text = '# Big\n\n## User Stories\n\n';
    for (let i = 0; i < 1000; i++) text += `- Story ${String(i).padStart(4, '0')}\n`;
    const prdId = await createPrd(hub, 'Big', text);
    const a = await client(hub, EDITOR);
    const j = await join(a, prdId);
    // At the limit: exported.
    let r = await sync(a, prdId, 'export');
    assert.equal(r.complete.result.created, 1000, JSON.stringify(r.complete.error));
    assert.equal(r.complete.result.errors, 0);
    assert.equal(fake.state.issues.size, 1000);
    const before = new Map([...fake.state.issues].map(([k, i]) => [k, i.fields.summary]));

    // One over it, inserted before the last story: refused.
    await edit(a, hub, prdId, j, 'Story 0998\n', '- Brand new A\n');
    const calls = fake.state.requests.length;
    for (const syncType of ['export', 'bidirectional', 'import']) {
      r = await sync(a, prdId, syncType);
      assert.equal(r.complete.error?.code, 'LIMIT_REACHED', `${syncType}: ${JSON.stringify(r.complete)}`);
      assert.match(r.complete.error.message, /1001/);
      assert.match(r.complete.error.message, /1000/);
      assert.equal(r.complete.result.created + r.complete.result.updated, 0);
    }
    // Three more (the audit's case): still refused, no issue overwritten.
    await edit(a, hub, prdId, j, 'Brand new A\n', '- Brand new B\n- Brand new C\n');
    r = await sync(a, prdId, 'export');
    assert.equal(r.complete.error?.code, 'LIMIT_REACHED');
    assert.match(r.complete.error.message, /1003/);
    assert.equal(fake.state.requests.length, calls, 'nothing was sent to Jira');
    assert.deepEqual(new Map([...fake.state.issues].map(([k, i]) => [k, i.fields.summary])), before);
    assert.match(await prdText(hub, prdId), /- Story 0999\n/);
    a.disconnect();
  } finally {
    await fake.close();
    await assertCleanStop(hub);
  }
});

// The searches that look for issues an export made without hearing back
// (before the first bulk create, and after one whose answer was lost) read
// the label's newest issues first: with 1,000 or more issues labelled for
// the PRD, those just made are within what a search reads.
test('1,000+ labelled issues: a lost bulk answer is adopted, never created twice', async () => {
  const hub = await startHub();
  const fake = await startFakeJira();
  const dups = () => {
    const s = [...fake.state.issues.values()].map((i) => i.fields.summary);
    return s.filter((x, i) => s.indexOf(x) !== i);
  };
  try {
    await configure(hub, fake);
    let text = '# Big\n\n## User Stories\n\n';
    for (let i = 0; i < 1000; i++) text += `- Story ${String(i).padStart(4, '0')}\n`;
    const prdId = await createPrd(hub, 'Big', text);
    const a = await client(hub, EDITOR);
    const j = await join(a, prdId);
    let r = await sync(a, prdId, 'export');
    assert.equal(r.complete.result.created, 1000);
    // Ten stories leave the PRD (their issues stay labelled), five come.
    const head = '# Big\n\n## User Stories\n\n'.length;
    let ack = await request(a, 'content-update', { prdId, operation: { type: 'delete', position: head, length: 10 * '- Story 0000\n'.length, timestamp: Date.now() }, stateVector: j.vector = bump(j.vector, j.siteId) });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    j.vector = ack.stateVector ?? j.vector;
    await edit(a, hub, prdId, j, 'Story 0999\n', '- New 0\n- New 1\n- New 2\n');

    // Applied, the answer lost: found by the search that follows.
    fake.state.dropNextBulk = 1;
    r = await sync(a, prdId, 'export');
    assert.equal(r.complete.result.created, 3, JSON.stringify(r.complete));
    assert.equal(r.complete.result.errors, 0);
    assert.equal(fake.state.issues.size, 1003);
    assert.deepEqual(dups(), []);

    // Applied, the answer lost, the index too slow for the searches that
    // follow: the next export's search before its first create finds them.
    await edit(a, hub, prdId, j, 'New 2\n', '- New 3\n- New 4\n');
    fake.state.dropNextBulk = 1;
    fake.state.searchLag = 1000;
    r = await sync(a, prdId, 'export');
    fake.state.searchLag = 0;
    assert.equal(r.complete.result.errors, 2, JSON.stringify(r.complete));
    assert.equal(fake.state.issues.size, 1005);
    fake.catchUp();
    const bulks = fake.requestsTo(/issue\/bulk$/).length;
    r = await sync(a, prdId, 'export');
    assert.equal(r.complete.result.created, 2, JSON.stringify(r.complete));
    assert.equal(r.complete.result.errors, 0);
    assert.equal(fake.requestsTo(/issue\/bulk$/).length, bulks, 'adopted, not created');
    assert.equal(fake.state.issues.size, 1005);
    assert.deepEqual(dups(), []);
    // The other searches keep their order (the oldest first).
    assert.ok(fake.requestsTo(/search/).some((q) => /created\+DESC|created%20DESC/i.test(q.query)));
    r = await sync(a, prdId, 'import');
    assert.equal(r.complete.result.created, 0, 'the ten removed stories are not brought back');
    assert.match(fake.requestsTo(/search/).at(-1).query, /key(\+|%20)ASC/);
    a.disconnect();
  } finally {
    await fake.close();
    await assertCleanStop(hub);
  }
});

// A webhook handled while an export runs is not undone by it: the export
// keeps only what it set (title, digest, position) in links still kept; a
// link a delivery forgot stays forgotten (the story's next export creates
// an issue again) and a status a delivery set stays.
test('webhooks during an export: a deleted issue stays unlinked, a status change stays', async () => {
  const hub = await startHub();
  const fake = await startFakeJira();
  try {
    await configure(hub, fake);
    const prdId = await createPrd(hub, 'W', '# W\n\n## User Stories\n\n- Alpha\n- Beta\n- Gamma\n');
    const a = await client(hub, EDITOR);
    const j = await join(a, prdId);
    let r = await sync(a, prdId, 'export');
    assert.deepEqual([...fake.state.issues.keys()], ['PRD-1', 'PRD-2', 'PRD-3']);
    for (const t of ['Alpha', 'Beta', 'Gamma']) await edit(a, hub, prdId, j, t, '2');

    // The export's second PUT is answered 429 until the deliveries sent
    // meanwhile were answered.
    const puts = [];
    let hooks = null;
    const push = fake.state.requests.push.bind(fake.state.requests);
    fake.state.requests.push = (q) => {
      if (q.method === 'PUT') {
        puts.push(q.path);
        if (puts.length === 2) {
          const first = decodeURIComponent(puts[0].split('/').pop());
          fake.state.issues.delete(first);
          hooks = Promise.all([
            sendWebhook(hub.url, ORG, HOOK_SECRET, { webhookEvent: 'jira:issue_deleted', timestamp: Date.now(), issue: { key: first } }),
            sendWebhook(hub.url, ORG, HOOK_SECRET, { webhookEvent: 'jira:issue_updated', timestamp: Date.now(), issue: { key: 'PRD-3', fields: { status: { name: 'Done' } } } }),
          ]);
          hooks.done = false;
          hooks.then(() => { hooks.done = true; });
        }
        if (hooks && !hooks.done) fake.state.rateLimitNext = 1;
      }
      return push(q);
    };
    r = await sync(a, prdId, 'export');
    fake.state.requests.push = push;
    assert.equal(r.complete.result.updated, 3, JSON.stringify(r.complete));
    const [deleted, done] = await hooks;
    assert.equal(deleted.json.outcome, 'unlinked', deleted.text);
    assert.equal(done.json.outcome, 'status-changed', done.text);
    assert.equal(decodeURIComponent(puts[0].split('/').pop()), 'PRD-1');

    // The status stays: the same one again is unchanged.
    let res = await sendWebhook(hub.url, ORG, HOOK_SECRET, { webhookEvent: 'jira:issue_updated', timestamp: Date.now(), issue: { key: 'PRD-3', fields: { status: { name: 'Done' } } } });
    assert.equal(res.json.outcome, 'unchanged', res.text);
    // The link stays forgotten.
    res = await sendWebhook(hub.url, ORG, HOOK_SECRET, { webhookEvent: 'jira:issue_deleted', timestamp: Date.now() + 1, issue: { key: 'PRD-1' } });
    assert.equal(res.json.outcome, 'not-linked', res.text);
    // The story of the deleted issue is created again when it changes.
    await edit(a, hub, prdId, j, 'Alpha2', 'x');
    r = await sync(a, prdId, 'export');
    assert.equal(r.complete.result.created, 1, JSON.stringify(r.complete));
    assert.equal(r.complete.result.errors, 0);
    assert.deepEqual([...fake.state.issues.values()].map((i) => `${i.key}:${i.fields.summary}`),
      ['PRD-2:Beta2', 'PRD-3:Gamma2', 'PRD-4:Alpha2x']);
    a.disconnect();
  } finally {
    await fake.close();
    await assertCleanStop(hub);
  }
});

// Jira may deliver out of order: the link remembers when the delivery that
// set its status was sent (its signed `timestamp`); an older one arriving
// after it is answered `outdated` and changes nothing, notifies nobody.
test('webhook: an older delivery after a newer one is outdated and changes nothing', async () => {
  const hub = await startHub();
  const fake = await startFakeJira();
  try {
    await configure(hub, fake);
    const prdId = await createPrd(hub, 'Order', PRD_TEXT);
    const a = await client(hub, EDITOR);
    const ja = await join(a, prdId);
    await edit(a, hub, prdId, ja, 'End.', ' ');
    await sync(a, prdId, 'export');
    const notes = await connect(hub.url, { transports: ['websocket'], auth: { token: token(EDITOR) } }, '/notifications');
    const got = recorder(notes, ['notification']);
    await request(notes, 'subscribe', { organizationId: ORG });
    const at = Date.now();
    const hook = (status, timestamp) => sendWebhook(hub.url, ORG, HOOK_SECRET,
      { webhookEvent: 'jira:issue_updated', timestamp, issue: { key: 'PRD-1', fields: { status: { name: status } } } });
    let res = await hook('Done', at);
    assert.equal(res.json.outcome, 'status-changed', res.text);
    res = await hook('In Progress', at - 60000);
    assert.equal(res.status, 200);
    assert.equal(res.json.outcome, 'outdated', res.text);
    // Done stays: a newer Done is unchanged, a newer other status changes it.
    res = await hook('Done', at + 1);
    assert.equal(res.json.outcome, 'unchanged', res.text);
    res = await hook('In Progress', at);
    assert.equal(res.json.outcome, 'outdated', res.text);
    res = await hook('Review', at + 2);
    assert.equal(res.json.outcome, 'status-changed', res.text);
    await until(notes, () => got.length >= 2);
    assert.deepEqual(got.map((n) => n.data.data.status), ['Done', 'Review']);
    notes.disconnect();
    a.disconnect();
  } finally {
    await fake.close();
    await assertCleanStop(hub);
  }
});

// A sync reads the links it plans with before it asks Jira anything: a
// webhook handled while an import (or a bidirectional sync's import) waits
// for Jira's search is not undone when the search answers. The search's
// answer is older than the deliveries: it still lists the deleted issue,
// and the old status of the one moved to Done.
test('webhooks during an import\'s search: a deleted issue stays unlinked, a status change stays', async () => {
  const hub = await startHub();
  const fake = await startFakeJira();
  try {
    await configure(hub, fake);
    const a = await client(hub, EDITOR);
    for (const syncType of ['import', 'bidirectional']) {
      const prdId = await createPrd(hub, 'I', '# I\n\n## User Stories\n\n- Alpha\n- Beta\n- Gamma\n');
      await join(a, prdId);
      let r = await sync(a, prdId, 'export');
      const [first, , third] = r.complete.result.issues.map((i) => i.key);

      fake.state.holdSearch = true;
      const running = sync(a, prdId, syncType);
      while (fake.state.held.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      const deleted = await sendWebhook(hub.url, ORG, HOOK_SECRET,
        { webhookEvent: 'jira:issue_deleted', timestamp: Date.now(), issue: { key: first } });
      assert.equal(deleted.json.outcome, 'unlinked', deleted.text);
      const done = await sendWebhook(hub.url, ORG, HOOK_SECRET,
        { webhookEvent: 'jira:issue_updated', timestamp: Date.now(), issue: { key: third, fields: { status: { name: 'Done' } } } });
      assert.equal(done.json.outcome, 'status-changed', done.text);
      // The search answers as Jira ran it, before the deletion and the move.
      fake.release();
      fake.state.issues.delete(first);
      fake.state.issues.get(third).fields.status = { name: 'Done' };
      r = await running;
      assert.equal(r.complete.result.errors, 0, JSON.stringify(r.complete));

      // The status stays: the same one again is unchanged.
      let res = await sendWebhook(hub.url, ORG, HOOK_SECRET,
        { webhookEvent: 'jira:issue_updated', timestamp: Date.now(), issue: { key: third, fields: { status: { name: 'Done' } } } });
      assert.equal(res.json.outcome, 'unchanged', `${syncType}: ${res.text}`);
      if (syncType === 'import') {
        // The link stays forgotten; the next export creates the story again.
        res = await sendWebhook(hub.url, ORG, HOOK_SECRET,
          { webhookEvent: 'jira:issue_deleted', timestamp: Date.now(), issue: { key: first } });
        assert.equal(res.json.outcome, 'not-linked', res.text);
        r = await sync(a, prdId, 'export');
      }
      // (A bidirectional sync's export, reading the links after its import
      // kept them, created it again already.)
      assert.equal(r.complete.result.created, 1, `${syncType}: ${JSON.stringify(r.complete)}`);
      assert.equal(r.complete.result.errors, 0, JSON.stringify(r.complete));
      const alpha = [...fake.state.issues.values()].filter((i) => i.fields.summary === 'Alpha' &&
        i.fields.labels.includes(`prdhub-${prdId}`));
      assert.equal(alpha.length, 1);
      assert.notEqual(alpha[0].key, first);
    }
    a.disconnect();
  } finally {
    await fake.close();
    await assertCleanStop(hub);
  }
});

// A delivery's time is its signed `timestamp`, Jira's clock; one dated more
// than 5 minutes ahead of the hub's clock is refused, and a kept time ahead
// of the hub's clock orders nothing: no delivery holds a status for longer.
test('webhook: a delivery dated in the future does not outdate the deliveries after it', async () => {
  const hub = await startHub();
  const fake = await startFakeJira();
  try {
    await configure(hub, fake);
    const prdId = await createPrd(hub, 'F', '# F\n\n## User Stories\n\n- Alpha\n');
    const a = await client(hub, EDITOR);
    await join(a, prdId);
    await sync(a, prdId, 'export');
    const hook = (status, timestamp) => sendWebhook(hub.url, ORG, HOOK_SECRET,
      { webhookEvent: 'jira:issue_updated', ...(timestamp === undefined ? {} : { timestamp }),
        issue: { key: 'PRD-1', fields: { status: { name: status } } } });
    const minute = 60 * 1000;
    for (const ahead of [365 * 24 * 60 * minute, 6 * minute]) {
      const res = await hook('Bogus', Date.now() + ahead);
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.code, 'INVALID_PAYLOAD');
      assert.equal(res.json.message, "timestamp must not be more than 5 minutes ahead of the hub's clock");
    }
    let res = await hook('Huge', Number.MAX_SAFE_INTEGER);
    assert.equal(res.status, 400, res.text);
    // Nothing changed: Bogus was not kept.
    res = await hook('Bogus', Date.now() - minute);
    assert.equal(res.json.outcome, 'status-changed', res.text);
    res = await hook('Ahead', Date.now() + 4 * minute);
    assert.equal(res.json.outcome, 'status-changed', res.text);
    for (const status of ['In Progress', 'Review']) {
      res = await hook(status, Date.now());
      assert.equal(res.json.outcome, 'status-changed', `${status}: ${res.text}`);
    }
    res = await hook('No timestamp');
    assert.equal(res.json.outcome, 'status-changed', res.text);
    res = await hook('Done', Date.now());
    assert.equal(res.json.outcome, 'status-changed', res.text);
    a.disconnect();
  } finally {
    await fake.close();
    await assertCleanStop(hub);
  }
});

// Jira's clock runs a second ahead of the hub's: its deliveries are ordered
// by its own times, so an older one arriving after a newer one is outdated.
test('webhook: with Jira\'s clock ahead, an older delivery arriving later is outdated', async () => {
  const hub = await startHub();
  const fake = await startFakeJira();
  try {
    await configure(hub, fake);
    const prdId = await createPrd(hub, 'S', '# S\n\n## User Stories\n\n- Alpha\n');
    const a = await client(hub, EDITOR);
    await join(a, prdId);
    await sync(a, prdId, 'export');
    const hook = (status, timestamp) => sendWebhook(hub.url, ORG, HOOK_SECRET,
      { webhookEvent: 'jira:issue_updated', timestamp, issue: { key: 'PRD-1', fields: { status: { name: status } } } });
    const jira = Date.now() + 1000;
    let res = await hook('Done', jira + 200);
    assert.equal(res.json.outcome, 'status-changed', res.text);
    // The older delivery comes once Jira's time of the newer one has passed
    // on the hub's clock too.
    while (Date.now() <= jira + 250) await new Promise((resolve) => setTimeout(resolve, 50));
    res = await hook('In Progress', jira);
    assert.equal(res.json.outcome, 'outdated', res.text);
    res = await hook('Done', Date.now() + 2000);
    assert.equal(res.json.outcome, 'unchanged', res.text);
    a.disconnect();
  } finally {
    await fake.close();
    await assertCleanStop(hub);
  }
});

// The activity of a status change names the PRD by its title, not the
// story's.
test('webhook: the jira_issue_updated activity carries the PRD\'s title', async () => {
  const hub = await startHub();
  const fake = await startFakeJira();
  try {
    await configure(hub, fake);
    const prdId = await createPrd(hub, 'Order', '# Order\n\n## User Stories\n\n- As a buyer I pay\n');
    const a = await client(hub, EDITOR);
    await join(a, prdId);
    await sync(a, prdId, 'export');
    const res = await sendWebhook(hub.url, ORG, HOOK_SECRET,
      { webhookEvent: 'jira:issue_updated', timestamp: Date.now(), issue: { key: 'PRD-1', fields: { status: { name: 'Done' } } } });
    assert.equal(res.json.outcome, 'status-changed', res.text);
    const feed = await rest(hub, 'GET', `/api/activity?organizationId=${ORG}`, { tok: token(ADMIN) });
    const updates = JSON.parse(feed.text).activities.filter((x) => x.type === 'jira_issue_updated');
    assert.equal(updates.length, 1, feed.text);
    assert.deepEqual(updates[0].object,
      { type: 'prd', id: prdId, title: 'Order', issueKey: 'PRD-1', status: 'Done' });
    a.disconnect();
  } finally {
    await fake.close();
    await assertCleanStop(hub);
  }
});

// Deliveries for issues no link names yet, handled while a sync runs whose
// search (or adoption of a lost bulk create's issues) saw the issue before
// them: the sync links no deleted issue, and takes the delivered status.
test('webhooks for issues a running sync is about to link: deleted ones are not linked, statuses stay', async () => {
  const hub = await startHub();
  const fake = await startFakeJira();
  const wait = () => new Promise((resolve) => setTimeout(resolve, 10));
  const hook = (payload) => sendWebhook(hub.url, ORG, HOOK_SECRET, { timestamp: Date.now(), ...payload });
  const links = (hub) => execFileSync('sqlite3', ['-readonly', path.join(hub.dataDir, 'prdhub.db'),
    'SELECT remote_key, status FROM integration_links ORDER BY remote_key'], { encoding: 'utf8' }).trim();
  try {
    await configure(hub, fake);
    const a = await client(hub, EDITOR);

    // An import: one labelled issue is deleted, another moved to Done,
    // while Jira's (older) answer to the search is on its way.
    let prdId = await createPrd(hub, 'I', '# I\n\n## User Stories\n\n- Alpha\n');
    await join(a, prdId);
    await sync(a, prdId, 'export');
    const gone = fake.addIssue(prdId, 'Beta');
    const moved = fake.addIssue(prdId, 'Gamma');
    fake.state.holdSearch = true;
    let running = sync(a, prdId, 'import');
    while (fake.state.held.length === 0) await wait();
    let res = await hook({ webhookEvent: 'jira:issue_deleted', issue: { key: gone.key } });
    assert.equal(res.json.outcome, 'not-linked', res.text);
    res = await hook({ webhookEvent: 'jira:issue_updated', issue: { key: moved.key, fields: { status: { name: 'Done' } } } });
    assert.equal(res.json.outcome, 'not-linked', res.text);
    fake.release();
    fake.state.issues.delete(gone.key);
    fake.state.issues.get(moved.key).fields.status = { name: 'Done' };
    let r = await running;
    assert.equal(r.complete.result.errors, 0, JSON.stringify(r.complete));
    assert.equal(links(hub), `PRD-1|To Do\n${moved.key}|Done`);
    let text = await prdText(hub, prdId);
    assert.ok(!text.includes('Beta'), text);
    assert.ok(text.includes(`Gamma (${moved.key})`), text);
    // The delivered status is kept with its time: the same again is unchanged.
    res = await hook({ webhookEvent: 'jira:issue_updated', issue: { key: moved.key, fields: { status: { name: 'Done' } } } });
    assert.equal(res.json.outcome, 'unchanged', res.text);

    // An export whose bulk answer is lost: the issue it created is deleted
    // while the hub searches for what the bulk made.
    prdId = await createPrd(hub, 'E', '# E\n\n## User Stories\n\n- Delta\n');
    await join(a, prdId);
    fake.state.dropNextBulk = 1;
    fake.state.holdAfterDrop = true;
    running = sync(a, prdId, 'export');
    while (fake.state.held.length === 0) await wait();
    fake.state.holdAfterDrop = false;
    const made = [...fake.state.issues.values()].find((i) => i.fields.summary === 'Delta');
    res = await hook({ webhookEvent: 'jira:issue_deleted', issue: { key: made.key } });
    assert.equal(res.json.outcome, 'not-linked', res.text);
    fake.release();
    fake.state.issues.delete(made.key);
    r = await running;
    assert.ok(!links(hub).includes(made.key), links(hub));
    // The result says so: the issue is not listed nor counted, the story failed.
    assert.equal(r.complete.result.created, 0, JSON.stringify(r.complete));
    assert.deepEqual(r.complete.result.issues, []);
    assert.equal(r.complete.result.errors, 1);
    assert.equal(r.complete.result.failures.length, 1);
    assert.equal(r.complete.result.failures[0].title, 'Delta');
    assert.match(r.complete.result.failures[0].message,
      new RegExp(`^${made.key} was deleted in Jira during the sync: .*next export creates the story again`));
    // The next export creates the story again, with no 404.
    r = await sync(a, prdId, 'export');
    assert.equal(r.complete.result.created, 1, JSON.stringify(r.complete));
    assert.equal(r.complete.result.errors, 0, JSON.stringify(r.complete));
    const delta = [...fake.state.issues.values()].filter((i) => i.fields.summary === 'Delta');
    assert.equal(delta.length, 1);
    assert.notEqual(delta[0].key, made.key);
    a.disconnect();
  } finally {
    await fake.close();
    await assertCleanStop(hub);
  }
});

// The links of a PRD: story position → issue key.
function linkedKeys(hub, prdId) {
  const out = execFileSync('sqlite3', ['-readonly', path.join(hub.dataDir, 'prdhub.db'),
    `SELECT position, remote_key FROM integration_links WHERE prd_id = '${prdId}' ORDER BY position`],
  { encoding: 'utf8' }).trim();
  return out === '' ? [] : out.split('\n').map((l) => l.split('|')[1]);
}

// Two stories with the same title and a lost bulk answer: the issues the
// bulk made are adopted in creation order (the first story gets the first
// issue), and an adopted issue is sent its story's text by the next export,
// so that an edit of one story never lands in the other's issue.
test('stories with the same title: each adopts its own issue, and its edits go there', async () => {
  const text = '# Dup\n\n## User Stories\n\n' +
    '- Export the report\n  As a finance user: CSV with totals.\n' +
    '- Export the report\n  As an auditor: PDF signed by the system.\n' +
    '- Third story\n  Other.\n';
  const bodies = ['As a finance user: CSV with totals.', 'As an auditor: PDF signed by the system.', 'Other.'];
  for (const flavour of ['datacenter', 'cloud']) {
    const hub = await startHub();
    const fake = await startFakeJira({ flavour });
    const holds = (key, body) => JSON.stringify(fake.state.issues.get(key).fields.description).includes(body);
    const ownIssues = (prdId, expected) => {
      const keys = linkedKeys(hub, prdId);
      assert.equal(keys.length, 3, `${flavour}: ${keys.join()}`);
      keys.forEach((key, i) => assert.ok(holds(key, expected[i]),
        `${flavour}: story ${i + 1} is linked to ${key}, which holds ${JSON.stringify(fake.state.issues.get(key).fields.description)}`));
    };
    try {
      await configure(hub, fake);
      const a = await client(hub, EDITOR);

      // The answer lost: found by the search that follows it.
      let prdId = await createPrd(hub, `Dup ${flavour}`, text);
      const j = await join(a, prdId);
      fake.state.dropNextBulk = 1;
      let r = await sync(a, prdId, 'export');
      assert.equal(r.complete.result.created, 3, JSON.stringify(r.complete));
      assert.equal(r.complete.result.errors, 0);
      ownIssues(prdId, bodies);
      // Adopted, not known to hold the stories' text: the next export sends it.
      r = await sync(a, prdId, 'export');
      assert.equal(r.complete.result.updated, 3, JSON.stringify(r.complete));
      ownIssues(prdId, bodies);
      r = await sync(a, prdId, 'export');
      assert.equal(r.complete.result.created + r.complete.result.updated, 0, JSON.stringify(r.complete));
      // An edit of the first story reaches its issue, not the other one.
      await edit(a, hub, prdId, j, 'CSV with totals.', ' Per month.');
      r = await sync(a, prdId, 'export');
      assert.equal(r.complete.result.updated, 1, JSON.stringify(r.complete));
      ownIssues(prdId, ['CSV with totals. Per month.', bodies[1], bodies[2]]);

      // Issues made in the other order (by hand, or by an export whose
      // answer was lost, in Jira's search only later): adopted by the next
      // export's search before it creates, then repaired by the one after.
      prdId = await createPrd(hub, `Dup by hand ${flavour}`, text);
      await join(a, prdId);
      for (const i of [1, 0, 2]) {
        fake.addIssue(prdId, i === 2 ? 'Third story' : 'Export the report', 'PRD',
          { description: `Made by hand: ${bodies[i]}` });
      }
      const bulks = fake.requestsTo(/issue\/bulk$/).length;
      r = await sync(a, prdId, 'export');
      assert.equal(r.complete.result.created, 3, JSON.stringify(r.complete));
      assert.equal(fake.requestsTo(/issue\/bulk$/).length, bulks, 'adopted, not created');
      r = await sync(a, prdId, 'export');
      assert.equal(r.complete.result.updated, 3, JSON.stringify(r.complete));
      ownIssues(prdId, bodies);
      for (const key of linkedKeys(hub, prdId)) assert.ok(!holds(key, 'Made by hand'), key);
      a.disconnect();
    } finally {
      await fake.close();
      await assertCleanStop(hub);
    }
  }
});

// Data Center pages by offset: an issue deleted before the offset between
// two pages moves the others up, and the next page would start one past an
// issue never read. Each page reads the last issue of the one before again
// and steps back when it is not there.
test('Data Center: an issue deleted between two search pages skips no other', async () => {
  const hub = await startHub();
  const fake = await startFakeJira({ flavour: 'datacenter' });
  fake.state.searchCap = 50;
  const deleteOnSecondPage = (key) => {
    let pages = 0;
    fake.state.beforeSearchPage = () => {
      if (++pages === 2) fake.state.issues.delete(key);
    };
  };
  try {
    await configure(hub, fake);
    const a = await client(hub, EDITOR);

    // The search before creating: 60 issues an earlier export made without
    // hearing back, then 5 made by hand; one of those goes between pages.
    let items = '';
    for (let i = 1; i <= 60; i++) items += `- Story ${i}\n`;
    let prdId = await createPrd(hub, 'Shift', `# Shift\n\n## User Stories\n\n${items}`);
    await join(a, prdId);
    for (let i = 1; i <= 60; i++) fake.addIssue(prdId, `Story ${i}`);
    const manual = [];
    for (let i = 1; i <= 5; i++) manual.push(fake.addIssue(prdId, `Manual ${i}`));
    deleteOnSecondPage(manual[0].key);
    let r = await sync(a, prdId, 'export');
    fake.state.beforeSearchPage = null;
    assert.ok(!fake.state.issues.has(manual[0].key));
    assert.equal(r.complete.result.created, 60, JSON.stringify(r.complete));
    assert.equal(r.complete.result.errors, 0);
    assert.equal(fake.requestsTo(/issue\/bulk$/).length, 0, 'every issue adopted, none created');
    assert.equal(fake.labelled(prdId).length, 64);
    const pages = fake.requestsTo(/\/search$/).map((q) => new URLSearchParams(q.query).get('startAt'));
    assert.ok(pages.length >= 3, pages.join());

    // An import, oldest first: the first issue goes between pages.
    prdId = await createPrd(hub, 'Shift import', '# B\n\n## User Stories\n\n- Seed\n');
    await join(a, prdId);
    for (let i = 1; i <= 120; i++) fake.addIssue(prdId, `Imported ${i}`);
    deleteOnSecondPage(fake.labelled(prdId)[0].key);
    r = await sync(a, prdId, 'import');
    fake.state.beforeSearchPage = null;
    // The first issue was read before it went: imported.
    assert.equal(r.complete.result.created, 120, JSON.stringify(r.complete).slice(0, 400));
    const text = await prdText(hub, prdId);
    const missing = fake.labelled(prdId).filter((i) => !text.includes(`(${i.key})`)).map((i) => i.key);
    assert.deepEqual(missing, []);

    // Every issue of the first page goes between pages (a bulk delete or
    // move): stepping back reaches the start, whose page has nothing
    // before it to miss, and the search goes on from there.
    prdId = await createPrd(hub, 'Shift all', '# E\n\n## User Stories\n\n- Seed\n');
    await join(a, prdId);
    for (let i = 1; i <= 120; i++) fake.addIssue(prdId, `Moved ${i}`);
    const firstPage = fake.labelled(prdId).slice(0, 50).map((i) => i.key);
    let page = 0;
    fake.state.beforeSearchPage = () => {
      if (++page === 2) for (const key of firstPage) fake.state.issues.delete(key);
    };
    const searches = fake.requestsTo(/\/search$/).length;
    r = await sync(a, prdId, 'import');
    fake.state.beforeSearchPage = null;
    assert.equal(r.complete.error, undefined, JSON.stringify(r.complete).slice(0, 400));
    assert.ok(fake.requestsTo(/\/search$/).length - searches <= 10, 'a few pages, not the cap');
    const moved = await prdText(hub, prdId);
    assert.deepEqual(fake.labelled(prdId).filter((i) => !moved.includes(`(${i.key})`)).map((i) => i.key), []);
    a.disconnect();
  } finally {
    await fake.close();
    await assertCleanStop(hub);
  }
});

// Jira Cloud may answer a page that is empty and not the last (it filters
// a page after cutting it): its token is followed. A search whose pages
// never end fails after PRD_JIRA_MAX_SEARCH_PAGES, and changes nothing.
test('Cloud: an empty page with a token is followed; endless pages fail the sync', async () => {
  const hub = await startHub();
  const fake = await startFakeJira();
  fake.state.searchCap = 50;
  try {
    await configure(hub, fake);
    const a = await client(hub, EDITOR);
    let prdId = await createPrd(hub, 'Empty page', '# C\n\n## User Stories\n\n- Seed\n');
    await join(a, prdId);
    for (let i = 1; i <= 150; i++) fake.addIssue(prdId, `Cloud ${i}`);
    // The second page is empty, not the last.
    fake.state.beforeSearchPage = ({ token }) => {
      if (token !== null) {
        fake.state.cloudEmptyPages = 1;
        fake.state.beforeSearchPage = null;
      }
    };
    let r = await sync(a, prdId, 'import');
    assert.equal(fake.state.cloudEmptyPages, 0, 'the empty page was asked for');
    assert.equal(r.complete.result.created, 150, JSON.stringify(r.complete).slice(0, 400));
    let text = await prdText(hub, prdId);
    assert.deepEqual(fake.labelled(prdId).filter((i) => !text.includes(`(${i.key})`)).map((i) => i.key), []);

    prdId = await createPrd(hub, 'Endless', '# D\n\n## User Stories\n\n- Seed\n');
    await join(a, prdId);
    fake.addIssue(prdId, 'Never read');
    const before = await prdText(hub, prdId);
    const searches = fake.requestsTo(/\/search\/jql$/).length;
    fake.state.cloudEmptyPages = Infinity;
    r = await sync(a, prdId, 'import');
    fake.state.cloudEmptyPages = 0;
    assert.equal(r.complete.error?.code, 'INTEGRATION_ERROR', JSON.stringify(r.complete));
    assert.match(r.complete.error.message, /the search did not end within 1000 pages/);
    assert.equal(r.complete.result.created, 0);
    assert.equal(fake.requestsTo(/\/search\/jql$/).length - searches, 1000);
    assert.equal(await prdText(hub, prdId), before);
    a.disconnect();
  } finally {
    await fake.close();
    await assertCleanStop(hub);
  }
});
