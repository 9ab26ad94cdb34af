// SPDX-License-Identifier: GPL-3.0-or-later
//
// Who is connected (docs/protocol.md, "Who is connected"): GET /api/sessions
// for admins, `prdhub status` from a running hub, and the command line's
// PRD management (`prdhub prd rename|archive|unarchive|delete|version`),
// which goes through the running hub's REST API.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  JWT_SECRET, PRDHUB_BIN, START_TIMEOUT_MS, startHub, token, connect, tmpDir, selfSignedCert,
} from './helpers/hub.js';
import {
  client, request, join, once, user, rest, createPrd,
} from './collab-helpers.js';

const ISO_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

function tok(sub, extra = {}) {
  return token({ sub, name: `Name ${sub}`, ...extra });
}

// Runs the command line beside the hub (same secret, same data folder).
function cli(hub, args, { url = hub.url } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(PRDHUB_BIN, [...args, '--url', url, '--data-dir', hub.dataDir],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PRDHUB_JWT_SECRET: JWT_SECRET } });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => proc.kill('SIGKILL'), START_TIMEOUT_MS);
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    proc.on('error', reject);
    proc.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

test('GET /api/sessions: admins see their organization\'s connections, PRDs, modes and status', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Watched');
    const a = await client(hub, user('user_a'));
    const v = await client(hub, user('user_v', { role: 'viewer' }), ['polling']);
    const other = await client(hub, user('user_o', { org: 'org_other' }));
    const notif = await connect(hub.url, { transports: ['websocket'], auth: { token: tok('user_n') } },
      '/notifications');
    sockets.push(a, v, other, notif);
    await join(a, prdId);
    const jv = await request(v, 'join-prd', { prdId });
    assert.equal(jv.ok, true, JSON.stringify(jv));
    const seen = once(v, 'presence-update');
    a.emit('presence-update', { prdId, status: 'editing' });
    await seen;

    const res = await rest(hub, 'GET', '/api/sessions', { tok: tok('boss', { role: 'admin' }) });
    assert.equal(res.status, 200, res.text);
    const byUser = Object.fromEntries(res.json.sessions.map((s) => [s.user.id, s]));
    assert.deepEqual(Object.keys(byUser).sort(), ['user_a', 'user_n', 'user_v'],
      'only the caller\'s organization');
    const sa = byUser.user_a;
    assert.deepEqual(Object.keys(sa).sort(),
      ['connectedSince', 'id', 'namespace', 'prds', 'role', 'transport', 'user']);
    assert.equal(sa.id, a.id);
    assert.equal(sa.namespace, '/prds');
    assert.deepEqual(sa.user, { id: 'user_a', name: 'Name user_a' });
    assert.equal(sa.role, 'editor');
    assert.equal(sa.transport, 'websocket');
    assert.match(sa.connectedSince, ISO_RE);
    assert.ok(Date.parse(sa.connectedSince) <= Date.now());
    assert.deepEqual(sa.prds, [{ prdId, mode: 'edit', status: 'editing' }]);
    assert.equal(byUser.user_v.transport, 'polling');
    assert.equal(byUser.user_v.role, 'viewer');
    assert.deepEqual(byUser.user_v.prds, [{ prdId, mode: 'view', status: 'viewing' }]);
    assert.equal(byUser.user_n.namespace, '/notifications');
    assert.deepEqual(byUser.user_n.prds, []);

    // After a disconnect the session is gone.
    a.close();
    const deadline = Date.now() + 10000;
    let after;
    do {
      after = await rest(hub, 'GET', '/api/sessions', { tok: tok('boss', { role: 'admin' }) });
    } while (after.json.sessions.some((s) => s.user.id === 'user_a') && Date.now() < deadline);
    assert.equal(after.json.sessions.some((s) => s.user.id === 'user_a'), false);

    for (const role of ['editor', 'viewer']) {
      const refused = await rest(hub, 'GET', '/api/sessions', { tok: tok('u', { role }) });
      assert.equal(refused.status, 403, role);
      assert.equal(refused.json.code, 'FORBIDDEN');
    }
    const noToken = await rest(hub, 'GET', '/api/sessions', { tok: null });
    assert.equal(noToken.status, 401);
    const wrongMethod = await rest(hub, 'POST', '/api/sessions',
      { tok: tok('boss', { role: 'admin' }) });
    assert.equal(wrongMethod.status, 405);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('prdhub status lists the running hub\'s sessions of an organization', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Watched');
    const a = await client(hub, user('user_a'));
    sockets.push(a);
    await join(a, prdId);

    const res = await cli(hub, ['status', '--org', 'org_e2e']);
    assert.equal(res.status, 0, res.stderr);
    const lines = res.stdout.trim().split('\n');
    assert.equal(lines.length, 1, res.stdout);
    const cols = lines[0].split('\t');
    assert.equal(cols[0], a.id);
    assert.deepEqual(cols.slice(1, 6), ['/prds', 'user_a', 'Name user_a', 'editor', 'websocket']);
    assert.match(cols[6], ISO_RE);
    assert.equal(cols[7], `${prdId}:edit:viewing`);

    const json = await cli(hub, ['status', '--org', 'org_e2e', '--json']);
    assert.equal(json.status, 0, json.stderr);
    assert.equal(JSON.parse(json.stdout).sessions[0].user.id, 'user_a');

    const empty = await cli(hub, ['status', '--org', 'org_nobody']);
    assert.equal(empty.status, 0);
    assert.equal(empty.stdout, '');

    const usage = await cli(hub, ['status', 'extra']);
    assert.equal(usage.status, 2);
    const down = await cli(hub, ['status'], { url: 'http://127.0.0.1:1' });
    assert.equal(down.status, 1);
    assert.match(down.stderr, /cannot reach the hub/);
    // A --url that is not an http(s) address is a usage error (exit 2).
    const badUrl = await cli(hub, ['status'], { url: 'ftp://x' });
    assert.equal(badUrl.status, 2);
    assert.match(badUrl.stderr, /--url is not an http:\/\/ or https:\/\/ address .*\(see `prdhub help status`\)/);
    // A hub's address has no user info, query or fragment: refused, never
    // echoed (it may hold a password or a token).
    for (const url of ['http://user:SECRETPW@127.0.0.1:1/', 'http://127.0.0.1:1/?token=SECRETQ',
      'http://127.0.0.1:1/#SECRETF']) {
      const res = await cli(hub, ['status'], { url });
      assert.equal(res.status, 2, url);
      assert.doesNotMatch(res.stderr, /SECRET/);
    }

    // Another server at the address (say, another user's while the hub is
    // down) cannot prove it holds the hub's secret, and gets no token.
    const seen = [];
    const impostor = http.createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(req.url.startsWith('/api/hub-proof') ? '{"proof":"00"}' : '{"sessions":[]}');
    });
    await new Promise((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    try {
      const fooled = await cli(hub, ['status'], { url: `http://127.0.0.1:${impostor.address().port}` });
      assert.equal(fooled.status, 1, fooled.stdout);
      assert.match(fooled.stderr, /did not prove it is this hub.*no token was sent/);
      assert.ok(seen.length >= 1);
      assert.ok(seen.every((h) => h.authorization === undefined), JSON.stringify(seen));
    } finally {
      impostor.close();
    }
    // The hub's proof route: no token, a challenge of 32 to 128 hex digits.
    for (const challenge of ['', 'xyz', '0'.repeat(31), '0'.repeat(129), 'g'.repeat(32)]) {
      const bad = await rest(hub, 'GET', `/api/hub-proof?challenge=${challenge}`, { tok: null });
      assert.equal(bad.status, 400, challenge);
      assert.equal(bad.json.code, 'INVALID_PAYLOAD');
    }
    const proved = await rest(hub, 'GET', `/api/hub-proof?challenge=${'ab'.repeat(24)}`, { tok: null });
    assert.equal(proved.status, 200, proved.text);
    assert.match(proved.json.proof, /^[0-9a-f]{64}$/);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('prdhub prd rename|archive|unarchive|version|delete go through the running hub', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'CLI managed', 'text\n');
    const a = await client(hub, user('user_a'));
    sockets.push(a);
    await join(a, prdId);
    const org = ['--org', 'org_e2e'];

    const renamed = once(a, 'prd-updated');
    let res = await cli(hub, ['prd', 'rename', prdId, '--title', 'Renamed', ...org]);
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout, `${prdId}\t0.1.0\tactive\tRenamed\n`);
    assert.equal((await renamed).args[0].prd.title, 'Renamed');

    res = await cli(hub, ['prd', 'archive', prdId, ...org]);
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout, `${prdId}\t0.1.0\tarchived\tRenamed\n`);
    assert.equal((await rest(hub, 'GET', `/api/prds/${prdId}`)).json.archived, true);
    res = await cli(hub, ['prd', 'unarchive', prdId, ...org]);
    assert.equal(res.status, 0, res.stderr);
    assert.equal((await rest(hub, 'GET', `/api/prds/${prdId}`)).json.archived, false);

    const created = once(a, 'version-created');
    res = await cli(hub, ['prd', 'version', prdId, '--changelog', 'From the CLI', ...org]);
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout, '0.2.0\n');
    assert.equal((await created).args[0].version.changelog, 'From the CLI');
    res = await cli(hub, ['prd', 'version', prdId, '--changelog', 'Again', ...org]);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /VERSION_UNCHANGED/);
    res = await cli(hub, ['prd', 'version', prdId, '--changelog', 'Again', '--force', '--type',
      'major', ...org]);
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout, '1.0.0\n');

    // Usage errors (exit 2) and refusals (exit 1) change nothing.
    for (const args of [['prd', 'rename', prdId], ['prd', 'version', prdId],
      ['prd', 'archive', prdId, '--title', 'x'], ['prd', 'delete'],
      ['prd', 'archive', prdId, 'extra'], ['prd', 'rename', prdId, '--force', '--title', 'x']]) {
      res = await cli(hub, [...args, ...org]);
      assert.equal(res.status, 2, `${args.join(' ')}: ${res.stderr}`);
    }
    res = await cli(hub, ['prd', 'rename', prdId, '--title', 'x', '--org', 'org_other']);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /PRD_NOT_FOUND/);
    res = await cli(hub, ['prd', 'archive', 'not-an-id', ...org]);
    assert.equal(res.status, 1);
    res = await cli(hub, ['prd', 'rename', prdId, '--title', '', ...org]);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /INVALID_PAYLOAD/);
    assert.equal((await rest(hub, 'GET', `/api/prds/${prdId}`)).json.title, 'Renamed');

    const gone = once(a, 'prd-deleted');
    res = await cli(hub, ['prd', 'delete', prdId, '--purge-versions', ...org]);
    assert.equal(res.status, 0, res.stderr);
    assert.equal((await gone).args[0].prdId, prdId);
    assert.equal((await rest(hub, 'GET', `/api/prds/${prdId}`)).status, 404);
    res = await cli(hub, ['prd', 'delete', prdId, ...org]);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /PRD_NOT_FOUND/);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

// Runs a command without PRDHUB_JWT_SECRET.
function cliWithoutSecret(args, dataDir, url) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.PRDHUB_JWT_SECRET;
    const proc = spawn(PRDHUB_BIN, [...args, '--url', url, '--data-dir', dataDir],
      { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stderr = '';
    proc.stderr.on('data', (d) => { stderr += d; });
    proc.on('error', reject);
    proc.on('close', (status) => resolve({ status, stderr }));
  });
}

test('status and the remote prd actions make no secret: not in a folder no hub ran in, nor in a hub\'s that keeps none', async () => {
  const dir = tmpDir();
  // The test hubs run with PRDHUB_JWT_SECRET: their folder keeps no secret.
  const hub = await startHub();
  try {
    for (const args of [['status'], ['prd', 'archive', 'prd_abc']]) {
      let res = await cliWithoutSecret(args, dir, 'http://127.0.0.1:1');
      assert.equal(res.status, 1, res.stderr);
      assert.match(res.stderr, /is not a hub's data folder \(it has no prdhub\.db/);
      assert.deepEqual(fs.readdirSync(dir), [], `${args.join(' ')} wrote into the folder`);

      const before = fs.readdirSync(hub.dataDir).sort();
      res = await cliWithoutSecret(args, hub.dataDir, hub.url);
      assert.equal(res.status, 1, res.stderr);
      assert.match(res.stderr, /keeps no JWT secret .*give this command the same PRDHUB_JWT_SECRET/);
      assert.deepEqual(fs.readdirSync(hub.dataDir).sort(), before, `${args.join(' ')} made a secret`);
    }
  } finally {
    await hub.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('over TLS the command line trusts the certificate the configuration names, and no other', async () => {
  const dir = tmpDir();
  const cert = selfSignedCert(dir);
  const other = selfSignedCert(fs.mkdtempSync(path.join(dir, 'other-')));
  const hub = await startHub({ config: `[server]\ntls-cert = ${cert.cert}\ntls-key = ${cert.key}\n` });
  try {
    assert.match(hub.url, /^https:/);
    const conf = path.join(hub.dataDir, 'e2e.conf');
    const prdId = await (async () => {
      process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
      try {
        return await createPrd(hub, 'Over TLS');
      } finally {
        delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      }
    })();
    let res = await cli(hub, ['prd', 'rename', prdId, '--title', 'Renamed', '--org', 'org_e2e',
      '--config', conf]);
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /\tRenamed\n$/);

    // A configuration naming another certificate: the hub's is not trusted.
    const otherConf = path.join(dir, 'other.conf');
    fs.writeFileSync(otherConf, `[server]\ntls-cert = ${other.cert}\ntls-key = ${other.key}\n`);
    res = await cli(hub, ['status', '--org', 'org_e2e', '--config', otherConf]);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /cannot reach the hub/);
  } finally {
    await hub.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// A page elsewhere runs fetch('http://hub.lan:…/socket.io/?EIO=4&transport=polling',
// {mode: 'no-cors'}) a thousand times: to a plain-HTTP hub at such an address
// the browser sends neither Origin nor Sec-Fetch-*, so each is a handshake like
// any client's, and the page never learns the session it opened. Such
// sessions (no request has named them since their handshake) give way to the
// reader's own client at max-sessions-per-address (1024 by default); a client
// that has used its session stays, and the hub counts and logs what it closed.
test('1,100 handshakes never followed up do not lock the address out; used sessions stay', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const polling = `${hub.url}/socket.io/?EIO=4&transport=polling`;
    // A client that polled before the page began: it must survive the flood.
    const early = await connect(hub.url, { transports: ['polling'], auth: { token: tok('early') } }, '/prds');
    sockets.push(early);
    assert.equal(early.io.engine.transport.name, 'polling');
    const earlySid = early.io.engine.id;

    const statuses = new Map();
    for (let i = 0; i < 1100; i += 50) {
      const batch = [];
      for (let j = i; j < Math.min(i + 50, 1100); j++) {
        batch.push(fetch(`${polling}&t=${j}`).then(async (res) => {
          await res.text();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        }));
      }
      await Promise.all(batch);
    }
    // Each of them got its session, the ones past the limit too.
    assert.deepEqual([...statuses], [[200, 1100]]);

    // The reader's editor connects from that address, polling first as a
    // browser's socket.io-client does, and works.
    const victim = await connect(hub.url, { auth: { token: tok('victim') } }, '/prds');
    sockets.push(victim);
    const res = await rest(hub, 'GET', '/api/sessions', { tok: tok('boss', { role: 'admin' }) });
    assert.equal(res.status, 200, res.text);
    assert.ok(res.json.sessions.some((s) => s.id === victim.id), 'the new client is connected');

    // The client that had used its session was never closed, and still works.
    assert.equal(early.connected, true);
    assert.equal(early.io.engine.id, earlySid);
    assert.ok(res.json.sessions.some((s) => s.id === early.id), 'the early client is still there');

    // Counted and logged (throttled).
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    const evicted = /^prdhub_sessions_evicted_total\{limit="max-sessions-per-address"\} (\d+)$/m
      .exec(metrics);
    assert.ok(evicted !== null, 'prdhub_sessions_evicted_total');
    assert.ok(Number(evicted[1]) >= 1100 + 2 - 1024, `evicted: ${evicted[1]}`);
    assert.match(hub.stderr(), /evicted: session address=127\.0\.0\.1 limit=max-sessions-per-address/);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});
