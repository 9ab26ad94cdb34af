// SPDX-License-Identifier: GPL-3.0-or-later
//
// Git remotes (docs/protocol.md, "Git remotes"): a real prdhub pushes the
// organization's versions to a bare repository behind smart HTTP with Basic
// auth (tests/git-http-server.py around Debian's git-http-backend) after
// each version and on POST /api/integrations/git/push; checked with stock
// git. Refusals (viewer, editor, other organization, unconfigured), a
// diverged remote reaching the admins as an error, secrets that never show,
// settings surviving a restart.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  startHub, tmpDir, token, connect, once, assertCleanStop, PRDHUB_BIN,
} from './helpers/hub.js';
import { client, request, join, user, rest, createPrd, recorder, until } from './collab-helpers.js';

const ORG = 'org_e2e';
const ADMIN = user('admin_1', { role: 'admin' });
const EDITOR = user('editor_1', { role: 'editor' });
const VIEWER = user('viewer_1', { role: 'viewer' });
const OTHER_ADMIN = user('admin_2', { role: 'admin', org: 'org_other' });
const GIT_TOKEN = 'git-token-' + 'q'.repeat(20);
const VERBOSE = { G_MESSAGES_DEBUG: 'all' };
// file:/// remotes are the operator's to allow.
const FILE_REMOTES = '[integrations]\ngit-file-remotes = true\n';
const SERVER = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'git-http-server.py');

function git(dir, ...args) {
  const r = spawnSync('git', args, {
    cwd: dir, encoding: 'utf8',
    env: {
      PATH: process.env.PATH, HOME: '/nonexistent', GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 'e2e', GIT_AUTHOR_EMAIL: 'e2e@example.invalid',
      GIT_COMMITTER_NAME: 'e2e', GIT_COMMITTER_EMAIL: 'e2e@example.invalid',
    },
  });
  return { status: r.status, out: r.stdout.trim(), err: r.stderr };
}

function bareRepo(root, name) {
  const repo = path.join(root, name);
  const r = git(root, 'init', '--bare', '-q', '-b', 'main', repo);
  assert.equal(r.status, 0, r.err);
  return repo;
}

// git-http-backend behind Basic auth; resolves with its base URL.
async function startGitServer(root, username, password) {
  const proc = spawn('/usr/bin/python3', [SERVER, root, username, password],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: proc.stdout });
  const port = await new Promise((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code) => reject(new Error(`git-http-server exited (${code})`)));
    lines.once('line', (line) => resolve(Number(line)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      lines.close();
      if (proc.exitCode === null) {
        const done = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await done;
      }
    },
  };
}

// Resolves once `fn()` holds (the remote is written by the hub's worker).
async function eventually(fn, what, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function version(socket, prdId, changelog) {
  // The text need not change between two versions here.
  const ack = await request(socket, 'create-version',
    { prdId, changelog, versionType: 'minor', force: true });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  return ack.version;
}

test('git remote: push on version and by REST, refusals, errors to admins, no secret shown', async () => {
  const hub = await startHub({ env: VERBOSE });
  const root = tmpDir('prdhub-e2e-git-');
  const server = await startGitServer(root, 'pusher', GIT_TOKEN);
  const remote = bareRepo(root, 'prds.git');
  const texts = [];
  const sockets = [];
  try {
    // Unconfigured, and who may push.
    let res = await rest(hub, 'POST', '/api/integrations/git/push', { tok: token(ADMIN) });
    assert.equal(res.status, 409, res.text);
    assert.equal(res.json.code, 'INTEGRATION_NOT_CONFIGURED');
    for (const who of [EDITOR, VIEWER]) {
      res = await rest(hub, 'POST', '/api/integrations/git/push', { tok: token(who) });
      assert.equal(res.status, 403, res.text);
      assert.equal(res.json.code, 'FORBIDDEN');
      res = await rest(hub, 'PUT', '/api/integrations/git', { body: { remoteUrl: `file://${remote}` }, tok: token(who) });
      assert.equal(res.status, 403);
    }

    // Bad settings: a code, the key, nothing stored.
    const bad = [
      [{ remoteUrl: 'ftp://example.com/x.git' }, 'remoteUrl'],
      [{ remoteUrl: 'http://example.com/x.git' }, 'remoteUrl'],
      [{ remoteUrl: `https://pusher:${GIT_TOKEN}@example.com/x.git` }, 'remoteUrl'],
      [{ remoteUrl: 'file://relative' }, 'remoteUrl'],
      [{ branch: 'a..b' }, 'branch'],
      [{ pushOnVersion: 'maybe' }, 'pushOnVersion'],
      [{ timeoutSeconds: 0 }, 'timeoutSeconds'],
      [{ timeoutSeconds: 3601 }, 'timeoutSeconds'],
      [{ timeoutSeconds: '60' }, 'timeoutSeconds'],
      [{ remoteUrl: 'https://example.com/' + 'a'.repeat(2100) }, 'remoteUrl'],
      [{ branch: 'b'.repeat(201) }, 'branch'],
      [{ sshPrivateKey: 'k'.repeat(16385) }, 'sshPrivateKey'],
      [{ caFile: 'ca.pem' }, 'caFile'],
      [{ token: 5 }, 'token'],
      // No remote helper, no option for ssh, no space, only the transports named.
      [{ remoteUrl: 'ext::sh -c touch% /tmp/pwned' }, 'remoteUrl'],
      [{ remoteUrl: 'ext::sh%20-c%20x' }, 'remoteUrl'],
      [{ remoteUrl: 'fd::17' }, 'remoteUrl'],
      [{ remoteUrl: 'ssh://-oProxyCommand=x/r' }, 'remoteUrl'],
      [{ remoteUrl: 'ssh://-oProxyCommand=x@example.com/r' }, 'remoteUrl'],
      [{ remoteUrl: '-oProxyCommand=x:r' }, 'remoteUrl'],
      [{ remoteUrl: '-oProxyCommand=x@example.com:r' }, 'remoteUrl'],
      [{ remoteUrl: 'git@example.com:-r' }, 'remoteUrl'],
      [{ remoteUrl: 'https://example.com/a b.git' }, 'remoteUrl'],
      [{ remoteUrl: 'git@exa mple.com:r' }, 'remoteUrl'],
      [{ remoteUrl: 'git://example.com/r.git' }, 'remoteUrl'],
      // As `git check-ref-format --branch`.
      ...['-x', 'a b', 'a~1', 'a^', 'a:b', 'a?', 'a*', 'a[b', 'a\\b', 'a@{1}', 'a/', 'a.lock',
        '.a', 'a/.b', 'a.', 'a//b', 'HEAD', '@', 'a\u0001'].map((branch) => [{ branch }, 'branch']),
    ];
    for (const [body, key] of bad) {
      res = await rest(hub, 'PUT', '/api/integrations/git', { body, tok: token(ADMIN) });
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.json.code, 'INVALID_PAYLOAD');
      assert.equal(res.json.key, key, res.text);
      texts.push(res.text);
    }
    // A file:/// remote is any repository the hub's user can write: only
    // when the operator allows it ([integrations] git-file-remotes).
    res = await rest(hub, 'PUT', '/api/integrations/git', { body: { remoteUrl: `file://${remote}` }, tok: token(ADMIN) });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json.key, 'remoteUrl');
    assert.match(res.json.message, /git-file-remotes/);
    res = await rest(hub, 'GET', '/api/integrations', { tok: token(ADMIN) });
    assert.equal(res.json.integrations.find((i) => i.service === 'git').configured, false);

    res = await rest(hub, 'PUT', '/api/integrations/git', {
      body: { remoteUrl: `${server.url}/prds.git`, username: 'pusher', token: GIT_TOKEN, timeoutSeconds: 60 },
      tok: token(ADMIN),
    });
    assert.equal(res.status, 200, res.text);
    texts.push(res.text);
    assert.equal(res.json.settings.branch, 'main');
    assert.equal(res.json.settings.pushOnVersion, 'true');
    assert.equal(res.json.settings.tokenSet, true);
    assert.equal(res.json.settings.usernameSet, true);
    assert.equal(res.json.settings.token, undefined);

    // With a credential stored, a bad remoteUrl or branch is refused for
    // what it is (not "give the credential again"), and nothing changes.
    for (const [body, key] of [[{ remoteUrl: 'ssh://-oProxyCommand=x/r' }, 'remoteUrl'],
      [{ remoteUrl: 'ext::sh -c touch% /tmp/pwned' }, 'remoteUrl'],
      [{ remoteUrl: '-oProxyCommand=x:r', username: null, token: null }, 'remoteUrl'],
      [{ branch: '-x' }, 'branch'], [{ branch: 'a..b' }, 'branch']]) {
      res = await rest(hub, 'PUT', '/api/integrations/git', { body, tok: token(ADMIN) });
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.json.code, 'INVALID_PAYLOAD');
      assert.equal(res.json.key, key, res.text);
    }
    res = await rest(hub, 'GET', '/api/integrations', { tok: token(ADMIN) });
    {
      const git = res.json.integrations.find((i) => i.service === 'git');
      assert.equal(git.settings.remoteUrl, `${server.url}/prds.git`);
      assert.equal(git.settings.branch, 'main');
      assert.equal(git.settings.tokenSet, true);
      assert.equal(git.settings.usernameSet, true);
    }

    // Another organization's admin has no remote.
    res = await rest(hub, 'POST', '/api/integrations/git/push', { tok: token(OTHER_ADMIN) });
    assert.equal(res.json.code, 'INTEGRATION_NOT_CONFIGURED');

    // The connection check.
    res = await rest(hub, 'POST', '/api/integrations/git/test', { tok: token(ADMIN) });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.status, 'connected', res.text);
    texts.push(res.text);

    // A version reaches the remote by itself; git-commit is unchanged.
    const prdId = await createPrd(hub, 'Pushed', '# Plan\n');
    const other = await createPrd(hub, 'Elsewhere', '# Not ours\n', OTHER_ADMIN);
    const a = await client(hub, EDITOR);
    sockets.push(a);
    await join(a, prdId);
    const commit = once(a, 'git-commit');
    const v1 = await version(a, prdId, 'First pushed version');
    const { args: [gc] } = await commit;
    assert.deepEqual(Object.keys(gc).sort(), ['commit', 'prdId']);
    assert.equal(gc.commit.hash, v1.commitHash);
    const b = await client(hub, OTHER_ADMIN);
    sockets.push(b);
    await join(b, other);
    await version(b, other, 'Not for this remote');

    const tag = `${prdId}/v${v1.version}`;
    await eventually(() => git(remote, 'tag', '-l').out === tag, 'the version tag on the remote');
    assert.equal(git(remote, 'ls-tree', '-r', '--name-only', 'main').out, `${prdId}.md`);
    assert.equal(git(remote, 'show', `${tag}:${prdId}.md`).out, '# Plan');
    assert.equal(git(remote, 'log', '-1', '--format=%s', 'main').out, 'First pushed version');

    // REST push: the outcome.
    res = await rest(hub, 'POST', '/api/integrations/git/push', { tok: token(ADMIN) });
    assert.equal(res.status, 200, res.text);
    texts.push(res.text);
    assert.deepEqual(Object.keys(res.json).sort(), ['branch', 'commit', 'service', 'status', 'tags', 'updated']);
    assert.equal(res.json.service, 'git');
    assert.equal(res.json.status, 'connected');
    assert.equal(res.json.branch, 'refs/heads/main');
    assert.equal(res.json.commit, git(remote, 'rev-parse', 'main').out);
    assert.equal(res.json.tags, 1);

    // pushOnVersion off: versions wait for a REST push.
    res = await rest(hub, 'PUT', '/api/integrations/git', { body: { pushOnVersion: 'false' }, tok: token(ADMIN) });
    assert.equal(res.status, 200, res.text);
    const v2 = await version(a, prdId, 'Second, pushed by hand');
    res = await rest(hub, 'POST', '/api/integrations/git/push', { tok: token(ADMIN) });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.tags, 2);
    assert.equal(git(remote, 'rev-list', '--count', 'main').out, '2');
    assert.equal(git(remote, 'tag', '-l').out, `${tag}\n${prdId}/v${v2.version}`);

    // The remote diverges: an error status, the admins hear of it.
    const notes = await connect(hub.url, { transports: ['websocket'], auth: { token: token(ADMIN) } }, '/notifications');
    sockets.push(notes);
    const got = recorder(notes, ['notification']);
    await request(notes, 'subscribe', { organizationId: ORG });
    const tree = git(remote, 'rev-parse', 'main^{tree}').out;
    const moved = git(remote, 'commit-tree', tree, '-p', 'main', '-m', 'edited elsewhere').out;
    assert.equal(git(remote, 'update-ref', 'refs/heads/main', moved).status, 0);
    await version(a, prdId, 'Third');
    res = await rest(hub, 'POST', '/api/integrations/git/push', { tok: token(ADMIN) });
    texts.push(res.text);
    assert.equal(res.status, 502, res.text);
    assert.equal(res.json.code, 'INTEGRATION_ERROR');
    assert.match(res.json.message, /never forces/);
    assert.equal(git(remote, 'rev-parse', 'main').out, moved);
    await until(notes, () => got.some((n) => n.data.type === 'integration_error'));
    const note = got.find((n) => n.data.type === 'integration_error').data;
    assert.equal(note.data.service, 'git');
    assert.equal(note.data.status, 'error');
    assert.match(note.message, /never forces/);
    res = await rest(hub, 'GET', '/api/integrations', { tok: token(ADMIN) });
    texts.push(res.text);
    const entry = res.json.integrations.find((i) => i.service === 'git');
    assert.equal(entry.status, 'error');
    assert.match(entry.lastError, /never forces/);

    // The activity feed has the pushes, good and bad.
    res = await rest(hub, 'GET', `/api/activity?organizationId=${ORG}`, { tok: token(ADMIN) });
    texts.push(res.text);
    const calls = res.json.activities.filter((x) => x.type === 'integration_call' && x.object.id === 'git');
    assert.ok(calls.some((x) => x.object.ok === true && /^push of/.test(x.object.title)), res.text);
    assert.ok(calls.some((x) => x.object.ok === false), res.text);

    for (const t of [hub.stderr(), ...texts]) {
      assert.ok(!t.includes(GIT_TOKEN), 'the git token leaked');
      assert.ok(!t.includes(Buffer.from(`pusher:${GIT_TOKEN}`).toString('base64')), 'the Basic credentials leaked');
    }
  } finally {
    for (const s of sockets) s.disconnect();
    await server.close();
    await assertCleanStop(hub);
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('git remote: settings survive a restart', async () => {
  const dataDir = tmpDir('prdhub-e2e-git-data-');
  const root = tmpDir('prdhub-e2e-git-');
  const remote = bareRepo(root, 'prds.git');
  let hub = await startHub({ args: ['--data-dir', dataDir], env: VERBOSE, config: FILE_REMOTES });
  try {
    let res = await rest(hub, 'PUT', '/api/integrations/git', {
      body: { remoteUrl: `file://${remote}`, branch: 'prds', pushOnVersion: 'false' },
      tok: token(ADMIN),
    });
    assert.equal(res.status, 200, res.text);
    const prdId = await createPrd(hub, 'Kept', '# Kept\n');
    const a = await client(hub, EDITOR);
    await join(a, prdId);
    const v = await version(a, prdId, 'Before the restart');
    a.disconnect();
    await assertCleanStop(hub);

    // The command line, on the data folder of the stopped hub, with its
    // configuration (which allows file:/// remotes).
    const conf = path.join(root, 'hub.conf');
    fs.writeFileSync(conf, FILE_REMOTES);
    const cli = (args, input = '') => spawnSync(PRDHUB_BIN,
      ['integration', ...args, '--data-dir', dataDir, '--org', ORG, '--config', conf],
      { input, encoding: 'utf8', env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent' } });
    let r = cli(['set', 'git', 'timeoutSeconds=30']);
    assert.equal(r.status, 0, r.stderr);
    for (const args of [['set', 'git', 'remoteUrl=ftp://x/y.git'], ['set', 'git', 'token=abc'],
      ['set', 'git', 'timeoutSeconds=0'], ['set', 'git', 'branch=a..b']]) {
      r = cli(args);
      assert.notEqual(r.status, 0, args.join(' '));
    }
    r = cli(['list']);
    assert.equal(r.status, 0, r.stderr);
    const listed = JSON.parse(r.stdout).find((e) => e.service === 'git');
    assert.equal(listed.settings.timeoutSeconds, 30);
    assert.equal(listed.settings.tokenSet, false);

    hub = await startHub({ args: ['--data-dir', dataDir], env: VERBOSE, config: FILE_REMOTES });
    res = await rest(hub, 'GET', '/api/integrations', { tok: token(ADMIN) });
    const entry = res.json.integrations.find((i) => i.service === 'git');
    assert.equal(entry.configured, true);
    assert.equal(entry.settings.branch, 'prds');
    assert.equal(entry.settings.pushOnVersion, 'false');
    assert.equal(entry.settings.timeoutSeconds, 30);
    res = await rest(hub, 'POST', '/api/integrations/git/push', { tok: token(ADMIN) });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.branch, 'refs/heads/prds');
    assert.equal(git(remote, 'rev-parse', 'prds').out, res.json.commit);
    assert.equal(git(remote, 'tag', '-l').out, `${prdId}/v${v.version}`);
  } finally {
    await assertCleanStop(hub);
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('git remote: a remote that never answers; a stop ends the push under way', async () => {
  const held = [];
  const silent = net.createServer((socket) => held.push(socket));
  await new Promise((r) => silent.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${silent.address().port}/prds.git`;
  const hub = await startHub({ env: VERBOSE });
  try {
    let res = await rest(hub, 'PUT', '/api/integrations/git', {
      body: { remoteUrl: url, username: 'u', token: GIT_TOKEN, timeoutSeconds: 1, pushOnVersion: 'false' },
      tok: token(ADMIN),
    });
    assert.equal(res.status, 200, res.text);
    const prdId = await createPrd(hub, 'Silent', '# Silent\n');
    const a = await client(hub, EDITOR);
    await join(a, prdId);
    await version(a, prdId, 'Nobody hears this');
    a.disconnect();

    // The watchdog ends it.
    res = await rest(hub, 'POST', '/api/integrations/git/push', { tok: token(ADMIN) });
    assert.equal(res.status, 502, res.text);
    assert.equal(res.json.code, 'INTEGRATION_ERROR');
    assert.match(res.json.message, /No answer from the remote within 1 s/);
    assert.ok(held.length >= 1);

    // A long timeout: the hub's stop ends the push, and the hub exits cleanly.
    res = await rest(hub, 'PUT', '/api/integrations/git', { body: { timeoutSeconds: 3600 }, tok: token(ADMIN) });
    assert.equal(res.status, 200, res.text);
    const before = held.length;
    const pending = rest(hub, 'POST', '/api/integrations/git/push', { tok: token(ADMIN) }).catch((e) => e);
    await eventually(() => held.length > before, 'the push to connect');
    await assertCleanStop(hub);
    await pending;
    assert.ok(!hub.stderr().includes(GIT_TOKEN));
  } finally {
    for (const s of held) s.destroy();
    silent.close();
    await assertCleanStop(hub);
  }
});

// A remote that redirects the push: the credentials go to the configured
// origin only, not to another port of the same host (nor another host).
test('git remote: no credentials after a redirect to another port or host', async () => {
  const http = await import('node:http');
  const listen = async (handler) => {
    const server = http.createServer(handler);
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    return server;
  };
  const seen = [];
  const thief = await listen((req, res) => {
    seen.push(req.headers.authorization ?? null);
    res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' });
    res.end();
  });
  const thiefPort = thief.address().port;
  let target = `http://127.0.0.1:${thiefPort}`;
  const front = await listen((req, res) => {
    if (!req.headers.authorization) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' });
      res.end();
      return;
    }
    res.writeHead(302, { location: target + req.url });
    res.end();
  });
  const hub = await startHub({ env: VERBOSE });
  try {
    let res = await rest(hub, 'PUT', '/api/integrations/git', {
      body: { remoteUrl: `http://127.0.0.1:${front.address().port}/prds.git`, username: 'bot',
        token: GIT_TOKEN, timeoutSeconds: 20, pushOnVersion: 'false' },
      tok: token(ADMIN),
    });
    assert.equal(res.status, 200, res.text);
    for (const to of [`http://127.0.0.1:${thiefPort}`, `http://localhost:${thiefPort}`]) {
      target = to;
      res = await rest(hub, 'POST', '/api/integrations/git/test', { tok: token(ADMIN) });
      assert.equal(res.json.status, 'error', res.text);
      assert.match(res.json.lastError, /another address/, to);
    }
    assert.ok(seen.length >= 1, 'the redirect was followed');
    assert.deepEqual(seen.filter((a) => a !== null), [], 'credentials went to the redirect target');
    assert.ok(!hub.stderr().includes(GIT_TOKEN));
  } finally {
    // The servers first: a failing stop must not leave them holding the
    // test runner open.
    for (const server of [thief, front]) {
      server.close();
      server.closeAllConnections();
    }
    await assertCleanStop(hub);
  }
});

// Configures git against a remote that holds its first answer until told,
// then asks for the credentials (which libgit2 would send next); starts
// `call` (a request of the hub's that reaches the remote), removes the git
// settings while the remote holds it, and checks that nothing more was
// asked of the remote, credentials least of all. Resolves with the
// request's answer.
async function removedUnderWay(hub, call) {
  const http = await import('node:http');
  const seen = [];
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  const remote = http.createServer((req, res) => {
    seen.push({ auth: req.headers.authorization ?? null, at: Date.now() });
    held.then(() => {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' });
      res.end();
    });
  });
  await new Promise((r) => remote.listen(0, '127.0.0.1', r));
  try {
    let res = await rest(hub, 'PUT', '/api/integrations/git', {
      body: { remoteUrl: `http://127.0.0.1:${remote.address().port}/prds.git`, username: 'bot',
        token: GIT_TOKEN, timeoutSeconds: 60, pushOnVersion: 'false' },
      tok: token(ADMIN),
    });
    assert.equal(res.status, 200, res.text);
    const answering = call();
    await new Promise((resolve) => {
      const poll = () => (seen.length > 0 ? resolve() : setTimeout(poll, 20));
      poll();
    });
    res = await rest(hub, 'DELETE', '/api/integrations/git', { tok: token(ADMIN) });
    assert.equal(res.status, 200, res.text);
    const removedAt = Date.now();
    const answer = await answering;
    release();
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(seen.filter((r) => r.at >= removedAt), [], 'the remote was asked again');
    assert.deepEqual(seen.filter((r) => r.auth !== null), [], 'credentials were sent');
    return answer;
  } finally {
    release();
    remote.close();
    remote.closeAllConnections();
  }
}

test('git remote: removing the settings stops the push under way; nothing more is sent with them', async () => {
  const hub = await startHub({ env: VERBOSE });
  try {
    const prdId = await createPrd(hub, 'Pushed', '# Pushed\n', ADMIN);
    const res = await rest(hub, 'POST', `/api/prds/${prdId}/versions`, { body: { changelog: 'v1' }, tok: token(ADMIN) });
    assert.equal(res.status, 201, res.text);
    const pushed = await removedUnderWay(hub,
      () => rest(hub, 'POST', '/api/integrations/git/push', { tok: token(ADMIN) }));
    assert.equal(pushed.status, 409, pushed.text);
    assert.equal(pushed.json.code, 'CANCELLED');
    assert.match(pushed.json.message, /settings were removed or changed during the push/);
  } finally {
    await assertCleanStop(hub);
  }
});

test('git remote: removing the settings stops a connection check under way; nothing more is sent with them', async () => {
  const hub = await startHub({ env: VERBOSE });
  try {
    // Answered without the remote's answer: the entry as it was.
    const checked = await removedUnderWay(hub,
      () => rest(hub, 'POST', '/api/integrations/git/test', { tok: token(ADMIN) }));
    assert.equal(checked.status, 200, checked.text);
    assert.notEqual(checked.json.status, 'error', checked.text);
  } finally {
    await assertCleanStop(hub);
  }
});

test('a bad [integrations] setting stops the hub from starting', async () => {
  for (const config of ['[integrations]\ngit-file-remotes = maybe\n', '[integrations]\nno-such-key = 1\n']) {
    await assert.rejects(startHub({ config }), /exited early/, config);
  }
});

// A smart-HTTP remote over https (self-signed, trusted through caFile)
// answering the authenticated refs request with `answer(req, res)`.
async function hostileRemote(answer) {
  const https = await import('node:https');
  const { selfSignedCert } = await import('./helpers/hub.js');
  const { cert, key } = selfSignedCert(tmpDir('prdhub-e2e-git-tls-'));
  const server = https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) },
    (req, res) => {
      req.resume();
      if (!req.headers.authorization) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' });
        res.end();
        return;
      }
      answer(req, res);
    });
  server.on('connection', (s) => s.on('error', () => {}));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    settings: { remoteUrl: `https://127.0.0.1:${server.address().port}/prds.git`, caFile: cert },
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  };
}

const pkt = (s) => (s.length + 4).toString(16).padStart(4, '0') + s;

// `remote error: …` quoting the Basic credentials, raw and decoded: the hub
// says what failed, never with them.
test('git remote: credentials a remote quotes in its error never show', async () => {
  const { secretForms, assertSecretFree, shownTexts, failedCalls } = await import('./helpers/echo-service.js');
  const remote = await hostileRemote((req, res) => {
    const auth = req.headers.authorization;
    res.writeHead(200, { 'content-type': 'application/x-git-receive-pack-advertisement' });
    res.end(pkt('# service=git-receive-pack\n') + '0000' +
      pkt(`ERR access denied for ${auth} decoded ${Buffer.from(auth.slice(6), 'base64')}\n`));
  });
  const hub = await startHub({ env: VERBOSE });
  const forms = secretForms(GIT_TOKEN, 'pusher');
  try {
    let res = await rest(hub, 'PUT', '/api/integrations/git', {
      body: { ...remote.settings, username: 'pusher', token: GIT_TOKEN, pushOnVersion: 'false' },
      tok: token(ADMIN),
    });
    assert.equal(res.status, 200, res.text);
    res = await rest(hub, 'POST', '/api/integrations/git/test', { tok: token(ADMIN) });
    assert.equal(res.json.status, 'error', res.text);
    assert.match(res.json.lastError, /remote error: access denied for Basic \[redacted\]/);
    assertSecretFree('POST /api/integrations/git/test', res.text, forms);
    const calls = await failedCalls(hub, VIEWER, 'git');
    assert.match(calls[0], /access denied/);
    const shown = await shownTexts(hub, ADMIN, VIEWER);
    assertSecretFree('GET /api/integrations', JSON.stringify(shown.integrations), forms);
    assertSecretFree('GET /api/activity', JSON.stringify(shown.activity), forms);
    assertSecretFree('the log', shown.log, forms);
  } finally {
    await remote.close();
    await assertCleanStop(hub);
  }
});

// A remote over https whose refs never end: the hub stops reading at
// 16 MiB and says so, rather than the TLS library's "Generic error".
test('git remote: an https remote that sends more than 16 MiB fails with the hub\'s reason', async () => {
  let answering = null;
  const remote = await hostileRemote((req, res) => {
    answering = res;
    res.writeHead(200, { 'content-type': 'application/x-git-receive-pack-advertisement' });
    res.write(pkt('# service=git-receive-pack\n') + '0000' +
      pkt('0'.repeat(40) + ' capabilities^{}\0report-status\n'));
    let i = 0;
    const more = () => {
      if (res.destroyed)
        return;
      while (res.write(pkt('1'.repeat(40) + ` refs/heads/b${i++}` + 'x'.repeat(900) + '\n')));
      res.once('drain', more);
    };
    more();
  });
  const hub = await startHub({ env: VERBOSE });
  try {
    let res = await rest(hub, 'PUT', '/api/integrations/git', {
      body: { ...remote.settings, username: 'pusher', token: GIT_TOKEN, timeoutSeconds: 120,
        pushOnVersion: 'false' },
      tok: token(ADMIN),
    });
    assert.equal(res.status, 200, res.text);
    res = await rest(hub, 'POST', '/api/integrations/git/test', { tok: token(ADMIN) });
    assert.equal(res.json.status, 'error', res.text);
    assert.equal(res.json.lastError, 'Cannot push to the remote: stopped: the remote sent more than 16 MiB');
    assert.ok(answering !== null);
  } finally {
    await remote.close();
    await assertCleanStop(hub);
  }
});
