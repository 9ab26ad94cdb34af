// SPDX-License-Identifier: GPL-3.0-or-later
//
// Mattermost (docs/protocol.md, "Mattermost"): settings, the seed §8.3
// events through real sockets against the fake Mattermost
// (tests/e2e/helpers/fake-mattermost.js), bot token and incoming webhook,
// failure modes (401, 403, 404, 429), the status reaching admins, refusals,
// restart, and secrets that never show.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startHub, tmpDir, token, connect, assertCleanStop } from './helpers/hub.js';
import { startFakeMattermost, mentionsIn } from './helpers/fake-mattermost.js';
import { client, request, join, user, rest, createPrd, recorder, until } from './collab-helpers.js';

const ORG = 'org_e2e';
const ADMIN = user('admin_1', { role: 'admin', name: 'Ada Admin' });
const EDITOR = user('editor_1', { role: 'editor', name: 'Ed *Editor*' });
const VIEWER = user('viewer_1', { role: 'viewer' });
const OTHER_ADMIN = user('admin_9', { role: 'admin', org: 'org_other' });
const VERBOSE = { G_MESSAGES_DEBUG: 'all' };
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

async function configure(hub, body, claims = ADMIN) {
  const res = await rest(hub, 'PUT', '/api/integrations/mattermost', { body, tok: token(claims) });
  assert.equal(res.status, 200, res.text);
  return res.json;
}

function botSettings(fake, extra = {}) {
  return { serverUrl: fake.url, team: 'product', channel: 'product-team', token: fake.state.token, ...extra };
}

async function admins(hub, claims = ADMIN) {
  const socket = await connect(hub.url, { transports: ['websocket'], auth: { token: token(claims) } },
    '/notifications');
  const got = recorder(socket, ['notification', 'activity-update', 'mattermost-connection-status']);
  const ack = await request(socket, 'subscribe', { organizationId: claims.org ?? ORG });
  assert.equal(ack.ok ?? true, true, JSON.stringify(ack));
  return { socket, got };
}

function secretFree(fake, ...texts) {
  for (const t of texts) {
    assert.ok(!t.includes(fake.state.token), 'the bot token leaked');
    assert.ok(!t.includes(fake.state.hookId), 'the webhook URL leaked');
  }
}

function assertSent(sent, prdId, type, channel) {
  assert.deepEqual(Object.keys(sent).sort(), ['channel', 'messageId', 'prdId', 'timestamp', 'type']);
  assert.equal(sent.prdId, prdId);
  assert.equal(sent.type, type);
  assert.equal(sent.channel, channel);
  assert.equal(typeof sent.messageId, 'string');
  assert.match(sent.timestamp, ISO);
}

test('settings: admins only, validated, secrets write-only, connection checks', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeMattermost();
  const texts = [];
  try {
    for (const who of [EDITOR, VIEWER]) {
      const res = await rest(hub, 'PUT', '/api/integrations/mattermost',
        { body: botSettings(fake), tok: token(who) });
      assert.equal(res.status, 403, res.text);
      assert.equal(res.json.code, 'FORBIDDEN');
    }
    const bad = [
      [{ serverUrl: 'ftp://mm.invalid' }, 'serverUrl'],
      [{ team: 'Product Team' }, 'team'],
      [{ channel: 'Town Square' }, 'channel'],
      [{ notify: 'prd_approved' }, 'notify'],
      [{ notify: ['prd_approved', 'everything'] }, 'notify'],
      [{ notify: ['prd_approved', 'prd_approved'] }, 'notify'],
      [{ notify: [7] }, 'notify'],
      [{ token: 7 }, 'token'],
      [{ channel: 'x'.repeat(65) }, 'channel'],
      [{ colour: 'blue' }, 'colour'],
      // The webhook URL is a secret, and checked as an address all the same.
      [{ webhookUrl: 'javascript:alert(1)' }, 'webhookUrl'],
      [{ webhookUrl: `http://user:pw@127.0.0.1:${new URL(fake.url).port}/hooks/x` }, 'webhookUrl'],
      [{ webhookUrl: 'ftp://mm.invalid/hooks/x' }, 'webhookUrl'],
      [{ webhookUrl: 'https://mm.invalid/hooks/x?a=1' }, 'webhookUrl'],
      [{ webhookUrl: 'not a url' }, 'webhookUrl'],
    ];
    for (const [body, key] of bad) {
      const res = await rest(hub, 'PUT', '/api/integrations/mattermost', { body, tok: token(ADMIN) });
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.json.code, 'INVALID_PAYLOAD');
      assert.equal(res.json.key, key, res.text);
    }
    let res = await rest(hub, 'GET', '/api/integrations', { tok: token(ADMIN) });
    assert.equal(res.json.integrations.find((i) => i.service === 'mattermost').configured, false);

    // Unconfigured: the test says so.
    res = await rest(hub, 'POST', '/api/integrations/mattermost/test', { tok: token(ADMIN) });
    assert.notEqual(res.status, 200, res.text);
    texts.push(res.text);

    const entry = await configure(hub, botSettings(fake));
    texts.push(JSON.stringify(entry));
    assert.equal(entry.settings.tokenSet, true);
    assert.equal(entry.settings.token, undefined);
    assert.deepEqual(entry.settings.notify, ['prd_approved', 'version_created', 'comment_mention', 'prd_created']);
    // A bad webhook URL on a configured service: refused, named, not shown
    // back, nothing stored.
    for (const webhookUrl of ['javascript:alert(1)', 'http://user:pw@mm.invalid/hooks/x']) {
      res = await rest(hub, 'PUT', '/api/integrations/mattermost',
        { body: { webhookUrl, channel: 'elsewhere' }, tok: token(ADMIN) });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.code, 'INVALID_PAYLOAD');
      assert.equal(res.json.key, 'webhookUrl');
      assert.ok(!res.text.includes(webhookUrl) && !res.text.includes('pw@'), res.text);
    }
    res = await rest(hub, 'GET', '/api/integrations', { tok: token(ADMIN) });
    {
      const mm = res.json.integrations.find((i) => i.service === 'mattermost');
      assert.equal(mm.settings.webhookUrlSet, false);
      assert.equal(mm.settings.channel, entry.settings.channel);
    }

    // An admin subscribed hears the status now and on each change.
    const watch = await admins(hub);
    await until(watch.socket, () => watch.got.some((e) => e.event === 'mattermost-connection-status'));
    res = await rest(hub, 'POST', '/api/integrations/mattermost/test', { tok: token(ADMIN) });
    texts.push(res.text);
    assert.equal(res.json.status, 'connected', res.text);
    const me = fake.requestsTo(/\/api\/v4\/users\/me$/).at(-1);
    assert.equal(me.headers.authorization, `Bearer ${fake.state.token}`);
    await until(watch.socket, () => watch.got.some((e) => e.event === 'mattermost-connection-status' &&
      e.data.status === 'connected'));
    const connected = watch.got.find((e) => e.data.status === 'connected').data;
    assert.deepEqual(connected, { status: 'connected', serverUrl: fake.url, error: null });

    // A revoked token: 401, the status turns to error for the admins.
    await configure(hub, { token: 'revoked-token-123' });
    res = await rest(hub, 'POST', '/api/integrations/mattermost/test', { tok: token(ADMIN) });
    texts.push(res.text);
    await until(watch.socket, () => watch.got.some((e) => e.event === 'mattermost-connection-status' &&
      e.data.status === 'error'));
    const failed = watch.got.find((e) => e.event === 'mattermost-connection-status' && e.data.status === 'error').data;
    assert.deepEqual(Object.keys(failed).sort(), ['error', 'serverUrl', 'status']);
    assert.match(failed.error, /refused the bot token/);
    assert.match(failed.error, /401/);

    // Another organization's admin hears nothing of it, sees nothing of it.
    const other = await admins(hub, OTHER_ADMIN);
    res = await rest(hub, 'GET', '/api/integrations', { tok: token(OTHER_ADMIN) });
    assert.equal(res.json.integrations.find((i) => i.service === 'mattermost').configured, false);

    // Webhook only: the connection check is the ping; no Authorization.
    await configure(hub, { token: null, webhookUrl: fake.hookUrl, team: null, channel: null });
    res = await rest(hub, 'POST', '/api/integrations/mattermost/test', { tok: token(ADMIN) });
    texts.push(res.text);
    assert.equal(res.json.status, 'connected', res.text);
    const ping = fake.requestsTo(/\/api\/v4\/system\/ping$/).at(-1);
    assert.equal(ping.headers.authorization, undefined);
    res = await rest(hub, 'GET', '/api/integrations', { tok: token(ADMIN) });
    texts.push(res.text);
    const mm = res.json.integrations.find((i) => i.service === 'mattermost');
    assert.equal(mm.settings.webhookUrlSet, true);
    assert.equal(mm.settings.tokenSet, false);
    assert.ok(!other.got.some((e) => e.event === 'mattermost-connection-status'));
    other.socket.disconnect();
    watch.socket.disconnect();
    secretFree(fake, hub.stderr(), ...texts, JSON.stringify(watch.got));
  } finally {
    await fake.close();
    await assertCleanStop(hub);
  }
});

test('seed §8.3: a message for an approval, a version, a mention and a new PRD (bot token)', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeMattermost();
  const sockets = [];
  try {
    await configure(hub, botSettings(fake));
    const prdId = await createPrd(hub, 'Auth *v2* [beta] <b>', '# Auth\n\nText.\n', EDITOR);
    // prd_created is posted from the REST creation.
    await until({}, () => fake.state.posts.length === 1);
    assert.match(fake.state.posts[0].message, /created the PRD \*\*Auth \\\*v2\\\* \\\[beta\\\] \\<b\\>\*\*/);

    const editor = await client(hub, EDITOR);
    const admin = await client(hub, ADMIN);
    sockets.push(editor, admin);
    await join(editor, prdId);
    const seen = recorder(editor, ['mattermost-message-sent']);

    let ack = await request(admin, 'approve-prd', { prdId, comment: 'Ship it' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await until(editor, () => seen.length === 1);
    assertSent(seen[0].data, prdId, 'prd_approved', 'product-team');
    let post = fake.state.posts.at(-1);
    assert.equal(seen[0].data.messageId, post.id);
    assert.equal(post.channel, 'product-team');
    assert.match(post.message, /was approved by Ada Admin/);
    assert.match(post.message, new RegExp(`\\[Open the PRD\\]\\(<http://127\\.0\\.0\\.1:\\d+/api/prds/${prdId}/export\\.md>\\)`));
    assert.ok([...post.message].length <= 16383);

    ack = await request(editor, 'create-version', { prdId, changelog: 'First cut', versionType: 'minor' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await until(editor, () => seen.length === 2);
    assertSent(seen[1].data, prdId, 'version_created', 'product-team');
    post = fake.state.posts.at(-1);
    assert.equal(seen[1].data.messageId, post.id);
    assert.match(post.message, /Ed \\\*Editor\\\* created version 0\\\.2\\\.0 of/);

    await join(admin, prdId);
    ack = await request(editor, 'add-comment', { prdId, position: 0, content: 'Please check @admin_1' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await until(editor, () => seen.length === 3);
    assertSent(seen[2].data, prdId, 'comment_mention', 'product-team');
    assert.match(fake.state.posts.at(-1).message, /mentioned @\u2060admin\\_1 in a comment/);
    assert.deepEqual(fake.state.posts.at(-1).mentions, []);

    // A comment without a mention posts nothing.
    ack = await request(editor, 'add-comment', { prdId, position: 0, content: 'No one here' });
    assert.equal(ack.ok, true);
    const posts = fake.state.posts.length;

    // notify narrows the events.
    await configure(hub, { notify: ['version_created'] });
    ack = await request(admin, 'approve-prd', { prdId });
    assert.equal(ack.ok, true);
    ack = await request(editor, 'create-version',
      { prdId, changelog: 'Second', versionType: 'patch', force: true });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await until(editor, () => seen.length === 4);
    assert.equal(seen[3].data.type, 'version_created');
    assert.equal(fake.state.posts.length, posts + 1);
    secretFree(fake, hub.stderr(), JSON.stringify(seen));
  } finally {
    for (const s of sockets) s.disconnect();
    await fake.close();
    await assertCleanStop(hub);
  }
});

test('user text mentions no one and renders no LaTeX: every @ gets a word joiner, $ a backslash', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeMattermost();
  const loud = user('editor_2', { role: 'editor', name: '@all' });
  const sockets = [];
  try {
    await configure(hub, botSettings(fake));
    // Mattermost drops a backslash before looking for mentions (`\@all` is
    // `@all`), and splits words on `.`: each of these would notify.
    assert.deepEqual(mentionsIn('\\@all x.\\@here'), ['all', 'here']);
    const titles = ['Launch @channel now', '@here: @ALL read this', 'x.@here and ada@all.example',
      'Ask @admin_1 or @someone', 'Cost $5 and $\\frac{a}{b}$ [x](y)'];
    for (const title of titles) await createPrd(hub, title, '# x\n', loud);
    await until({}, () => fake.state.posts.length === titles.length);

    const editor = await client(hub, loud);
    const admin = await client(hub, ADMIN);
    sockets.push(editor, admin);
    const prdId = await createPrd(hub, 'Plain', '# x\n', ADMIN);
    await join(editor, prdId);
    await join(admin, prdId);
    const ack = await request(editor, 'add-comment', { prdId, position: 0, content: 'hey @admin_1 @channel' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await until({}, () => fake.state.posts.some((p) => p.message.includes('in a comment')));

    const readable = (m) => m.replace(/\u2060/g, '').replace(/\\([!-/:-@[-`{-~])/g, '$1');
    for (const post of fake.state.posts) {
      assert.deepEqual(post.mentions, [], post.message);
      assert.doesNotMatch(post.message, /@[\p{L}\p{N}_]/u, post.message);
      assert.doesNotMatch(post.message, /(^|[^\\])\$/, post.message);
    }
    // Posts may arrive in any order; each still reads as the title typed.
    const texts = fake.state.posts.map((p) => readable(p.message));
    for (const title of titles)
      assert.ok(texts.some((t) => t.startsWith(`:page_facing_up: @all created the PRD **${title}**`)), title);
    assert.ok(fake.state.posts.some((p) => p.message.includes('Cost \\$5 and \\$\\\\frac\\{a\\}\\{b\\}\\$')));
    // The hub's own text quoting who was mentioned is neutralised too.
    assert.ok(texts.some((t) => t.startsWith(':speech_balloon: @all mentioned @admin_1')), texts.join('\n'));
  } finally {
    for (const s of sockets) s.disconnect();
    await fake.close();
    await assertCleanStop(hub);
  }
});

test('incoming webhook: `ok` is success, the hub gives the message id', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeMattermost();
  const sockets = [];
  try {
    await configure(hub, { serverUrl: fake.url, webhookUrl: fake.hookUrl, channel: 'product-team' });
    const prdId = await createPrd(hub, 'Hooked', 'x', EDITOR);
    await until({}, () => fake.state.hooked.length === 1);
    const editor = await client(hub, EDITOR);
    const admin = await client(hub, ADMIN);
    sockets.push(editor, admin);
    await join(editor, prdId);
    const seen = recorder(editor, ['mattermost-message-sent']);
    const ack = await request(admin, 'approve-prd', { prdId });
    assert.equal(ack.ok, true);
    await until(editor, () => seen.length === 1);
    assertSent(seen[0].data, prdId, 'prd_approved', 'product-team');
    assert.match(seen[0].data.messageId, /^mmpost[0-9a-f]{32}$/);
    const body = fake.state.hooked.at(-1);
    assert.equal(body.channel, 'product-team');
    assert.match(body.text, /\*\*Hooked\*\* was approved/);
    assert.equal(fake.requestsTo(/^\/hooks\//).at(-1).headers['content-type'], 'application/json');

    // A deleted hook: 400 from Mattermost, no event, an error status; the
    // hook's URL shows in no log line and no answer.
    const watch = await admins(hub);
    await configure(hub, { webhookUrl: `${fake.url}/hooks/deadbeef0000` });
    const again = await request(admin, 'approve-prd', { prdId });
    assert.equal(again.ok, true);
    await until(watch.socket, () => watch.got.some((e) => e.event === 'notification' &&
      e.data.type === 'integration_error'));
    const n = watch.got.find((e) => e.event === 'notification' && e.data.type === 'integration_error').data;
    assert.equal(n.data.service, 'mattermost');
    assert.equal(n.title, 'Mattermost integration error');
    assert.match(n.message, /Invalid webhook/);
    assert.equal(seen.length, 1);
    const res = await rest(hub, 'GET', '/api/integrations', { tok: token(ADMIN) });
    assert.equal(res.json.integrations.find((i) => i.service === 'mattermost').status, 'error');
    assert.ok(!hub.stderr().includes('deadbeef0000'));
    assert.ok(!res.text.includes('deadbeef0000'));
    watch.socket.disconnect();
    secretFree(fake, hub.stderr(), res.text, JSON.stringify(watch.got));
  } finally {
    for (const s of sockets) s.disconnect();
    await fake.close();
    await assertCleanStop(hub);
  }
});

test('failure modes: 429 waited out, 403 channel, 404 channel; admins hear of errors', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeMattermost();
  const sockets = [];
  try {
    await configure(hub, botSettings(fake, { notify: ['prd_approved'] }));
    const prdId = await createPrd(hub, 'Limits', 'x', EDITOR);
    const editor = await client(hub, EDITOR);
    const admin = await client(hub, ADMIN);
    sockets.push(editor, admin);
    await join(editor, prdId);
    const seen = recorder(editor, ['mattermost-message-sent']);
    const watch = await admins(hub);

    // 429 with Retry-After: the post is sent again and arrives.
    fake.state.rateLimitNext = 1;
    let ack = await request(admin, 'approve-prd', { prdId });
    assert.equal(ack.ok, true);
    await until(editor, () => seen.length === 1);
    assertSent(seen[0].data, prdId, 'prd_approved', 'product-team');
    assert.ok(fake.state.requests.some((r) => r.path === '/api/v4/posts') &&
      fake.state.posts.length === 1);

    // 429 asking for more than a day (any wait over 60 s): the call fails
    // at once, not retried after the backoff, and says why in plain words.
    fake.state.rateLimitNext = 10;
    fake.state.retryAfter = '100000';
    const before = fake.state.requests.length;
    let res = await rest(hub, 'POST', '/api/integrations/mattermost/test', { tok: token(ADMIN) });
    assert.equal(res.json.status, 'error', res.text);
    assert.match(res.json.lastError, /HTTP 429 Too Many Requests/);
    assert.match(res.json.lastError, /\(after 1 attempt; asked to wait too long\)/);
    assert.doesNotMatch(res.json.lastError, /Unknown Error/);
    assert.equal(fake.state.requests.length - before, 1);
    fake.state.rateLimitNext = 0;
    fake.state.retryAfter = '1';
    res = await rest(hub, 'POST', '/api/integrations/mattermost/test', { tok: token(ADMIN) });
    assert.equal(res.json.status, 'connected', res.text);

    // A channel the bot is not in: 403; the approval itself is not held up.
    await configure(hub, { channel: 'closed-room' });
    ack = await request(admin, 'approve-prd', { prdId });
    assert.equal(ack.ok, true);
    await until(watch.socket, () => watch.got.some((e) => e.event === 'notification' &&
      e.data.type === 'integration_error' && /closed-room/.test(e.data.message)));
    await until(watch.socket, () => watch.got.some((e) => e.event === 'activity-update' &&
      e.data.activity.type === 'integration_call' && e.data.activity.object.ok === false));
    await until(watch.socket, () => watch.got.some((e) => e.event === 'mattermost-connection-status' &&
      e.data.status === 'error' && /may not post in channel "closed-room"/.test(e.data.error)));

    // A channel that does not exist: 404 from the by-name lookup.
    await configure(hub, { channel: 'no-such-channel' });
    ack = await request(admin, 'approve-prd', { prdId });
    assert.equal(ack.ok, true);
    await until(watch.socket, () => watch.got.some((e) => e.event === 'mattermost-connection-status' &&
      /no channel "no-such-channel" in team "product"/.test(e.data.error ?? '')));
    assert.equal(seen.length, 1);
    assert.equal(fake.state.posts.length, 1);
    secretFree(fake, hub.stderr(), JSON.stringify(watch.got));
    watch.socket.disconnect();
  } finally {
    for (const s of sockets) s.disconnect();
    await fake.close();
    await assertCleanStop(hub);
  }
});

test('unconfigured and other organizations post nothing; settings survive a restart', async () => {
  const dataDir = tmpDir('prdhub-e2e-mm-');
  const fake = await startFakeMattermost();
  let hub = await startHub({ args: ['--data-dir', dataDir], env: VERBOSE });
  const sockets = [];
  try {
    // Unconfigured: an approval works and nothing is posted.
    const prdId = await createPrd(hub, 'Quiet', 'x', EDITOR);
    const admin = await client(hub, ADMIN);
    sockets.push(admin);
    let ack = await request(admin, 'approve-prd', { prdId });
    assert.equal(ack.ok, true);

    // Another organization's configuration is not ours.
    await configure(hub, botSettings(fake), OTHER_ADMIN);
    ack = await request(admin, 'approve-prd', { prdId });
    assert.equal(ack.ok, true);
    const otherPrd = await createPrd(hub, 'Theirs', 'x', { ...EDITOR, org: 'org_other' });
    await until({}, () => fake.state.posts.length === 1);
    assert.match(fake.state.posts[0].message, /Theirs/);

    await configure(hub, botSettings(fake));
    await assertCleanStop(hub);
    hub = await startHub({ args: ['--data-dir', dataDir], env: VERBOSE });
    const res = await rest(hub, 'GET', '/api/integrations', { tok: token(ADMIN) });
    const mm = res.json.integrations.find((i) => i.service === 'mattermost');
    assert.equal(mm.configured, true);
    assert.equal(mm.settings.tokenSet, true);
    assert.equal(mm.settings.channel, 'product-team');
    const editor = await client(hub, EDITOR);
    const admin2 = await client(hub, ADMIN);
    sockets.push(editor, admin2);
    await join(editor, prdId);
    const seen = recorder(editor, ['mattermost-message-sent']);
    ack = await request(admin2, 'approve-prd', { prdId });
    assert.equal(ack.ok, true);
    await until(editor, () => seen.length === 1);
    assertSent(seen[0].data, prdId, 'prd_approved', 'product-team');
    assert.ok(otherPrd);
    secretFree(fake, hub.stderr(), res.text);
  } finally {
    for (const s of sockets) s.disconnect();
    await fake.close();
    await assertCleanStop(hub);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

// Removing Mattermost while one of its calls waits on the server ends that
// call at once: the hub sends nothing more with the removed token.
test('removing Mattermost cancels its call under way', async () => {
  const hub = await startHub({ env: VERBOSE });
  const fake = await startFakeMattermost();
  try {
    await configure(hub, botSettings(fake));
    fake.state.hold = true;
    const checking = rest(hub, 'POST', '/api/integrations/mattermost/test', { tok: token(ADMIN) });
    while (fake.state.held.length === 0) await new Promise((r) => setTimeout(r, 10));
    const res = await rest(hub, 'DELETE', '/api/integrations/mattermost', { tok: token(ADMIN) });
    assert.equal(res.status, 200, res.text);
    // Answered while the server still holds the request: the check was
    // cancelled, so it says nothing of the service (neither connected nor
    // an error).
    const checked = await checking;
    assert.equal(fake.state.held.length, 1);
    assert.equal(checked.status, 200, checked.text);
    assert.equal(checked.json.status, 'disconnected', checked.text);
    assert.equal(checked.json.lastError, null, checked.text);
    const calls = fake.state.requests.length;
    fake.release();
    const list = await rest(hub, 'GET', '/api/integrations', { tok: token(ADMIN) });
    assert.equal(list.json.integrations.find((i) => i.service === 'mattermost').configured, false);
    assert.equal(fake.state.requests.length, calls, 'no call after the removal');
  } finally {
    fake.release();
    await fake.close();
    await assertCleanStop(hub);
  }
});

// A Mattermost (or a proxy in front of it) that quotes the bot token and
// the webhook's secret path in its error answers: the hub says what failed,
// never with them.
test('a bot token or webhook path a Mattermost quotes in its errors never shows', async () => {
  const { startEchoService, secretForms, assertSecretFree, shownTexts, failedCalls } =
    await import('./helpers/echo-service.js');
  const echo = await startEchoService({ status: 401 });
  const hub = await startHub({ env: VERBOSE });
  const botToken = 'mmbot' + 'k7Q'.repeat(8);
  const hookId = 'hook' + 'x4Z'.repeat(8);
  const forms = [...secretForms(botToken), ...secretForms(hookId)];
  try {
    // The bot token: the connection check
    await configure(hub, { serverUrl: echo.url, token: botToken, team: 'product', channel: 'news' });
    let res = await rest(hub, 'POST', '/api/integrations/mattermost/test', { tok: token(ADMIN) });
    assert.equal(res.json.status, 'error', res.text);
    assert.match(res.json.lastError, /refused the bot token/);
    assertSecretFree('POST /api/integrations/mattermost/test', res.text, forms);
    assert.ok(echo.requests.some((r) => r.headers.authorization === `Bearer ${botToken}`));

    // The webhook: a new PRD's message
    await configure(hub, { token: null, webhookUrl: `${echo.url}/hooks/${hookId}` });
    await createPrd(hub, 'Echo', '# Echo\n', EDITOR);
    const calls = await failedCalls(hub, VIEWER, 'mattermost', 2);
    assert.ok(echo.requests.some((r) => r.url === `/hooks/${hookId}`));
    assert.ok(calls.some((m) => /HTTP 401/.test(m) && /\[redacted\]/.test(m)), JSON.stringify(calls));
    const shown = await shownTexts(hub, ADMIN, VIEWER);
    assertSecretFree('GET /api/integrations', JSON.stringify(shown.integrations), forms);
    assertSecretFree('GET /api/activity', JSON.stringify(shown.activity), forms);
    assertSecretFree('the log', shown.log, forms);
  } finally {
    await echo.close();
    await assertCleanStop(hub);
  }
});

// Integrations take every organization id a token may carry (1 to 256 bytes).
test('an organization id of 256 bytes configures and lists its integrations', async () => {
  const fake = await startFakeMattermost();
  const hub = await startHub();
  try {
    const long = { ...ADMIN, org: 'o'.repeat(256) };
    await configure(hub, botSettings(fake), long);
    const res = await rest(hub, 'GET', '/api/integrations', { tok: token(long) });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.integrations.find((i) => i.service === 'mattermost').configured, true);
    const prdId = await createPrd(hub, 'Long org', 'x', { ...EDITOR, org: long.org });
    await until({}, () => fake.state.posts.some((p) => /Long org/.test(p.message)));
    assert.ok(prdId);
  } finally {
    await fake.close();
    await hub.stop();
  }
});
