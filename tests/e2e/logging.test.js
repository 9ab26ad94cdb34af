// SPDX-License-Identifier: GPL-3.0-or-later
//
// Log levels (--log-level, [log] level): info logs one line per connection,
// join, refusal (its code, never the token; at most 20 of a kind every 10 s,
// the request's path cut at 200 bytes), version, AI job and integration call
// (a failed one at warning); libsoup's
// frame debugging only at debug; the file fallback of the secret store is
// logged once by serve and never by the other commands.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import {
  PRDHUB_BIN, START_TIMEOUT_MS, startHub, connect, connectError, signJwt, claims, tmpDir,
  assertCleanExit, assertCleanStop,
} from './helpers/hub.js';
import { client, createPrd, join, once, recorder, request, rest, until, user } from './collab-helpers.js';
import { startAiServer, startAiHub } from './ai-helpers.js';
import { openRawWebSocket, wsFrame } from './helpers/rawws.js';
import { startFakeJira } from './helpers/fake-jira.js';
import { token } from './helpers/hub.js';

// No Secret Service can answer on a bus that does not exist.
const NO_BUS = { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/prdhub-e2e-bus' };

function lines(text, re) {
  return text.split('\n').filter((l) => re.test(l));
}

// Connects a user, is refused once, joins a PRD and makes a version.
async function activity(hub) {
  const bad = signJwt(claims({ sub: 'user_bad' }), { secret: 'not-the-hub-secret-0123456789abcdef' });
  const refused = await connectError(hub.url, { transports: ['websocket'], auth: { token: bad } },
    '/prds');
  assert.equal(refused.data.code, 'AUTHENTICATION_FAILED');
  const rest = await fetch(`${hub.url}/api/prds`, { headers: { Authorization: `Bearer ${bad}` } });
  assert.equal(rest.status, 401);
  await rest.arrayBuffer();
  const prdId = await createPrd(hub, 'Logged', '# Logged\n');
  const a = await client(hub, user('user_log'));
  await join(a, prdId);
  const ack = await request(a, 'create-version', {
    prdId, changelog: 'First', versionType: 'minor',
  });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  return { a, prdId, bad };
}

test('info (the default) logs connections, refusals, joins, versions and AI jobs', async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai, { env: NO_BUS });
  let sockets = [];
  let prdId, bad, jobId;
  try {
    let a;
    ({ a, prdId, bad } = await activity(hub));
    sockets.push(a);
    const events = recorder(a, ['ai-stream-complete', 'ai-error']);
    const ack = await request(a, 'ai-prompt', { prdId, prompt: 'Say hello' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    jobId = ack.jobId;
    await until(a, () => events.length > 0);
  } finally {
    for (const s of sockets) s.close();
    const stopped = await hub.stop();
    await ai.stop();
    assertCleanExit(hub, stopped);
  }
  const log = hub.stderr();
  assert.equal(lines(log, /connection: namespace=\/prds address=127\.0\.0\.1 transport=websocket user=user_log org=org_e2e role=editor/).length, 1, log);
  assert.equal(lines(log, /refused: namespace=\/prds address=127\.0\.0\.1 transport=websocket code=AUTHENTICATION_FAILED/).length, 1, log);
  assert.equal(lines(log, /refused: request="GET \/api\/prds" address=127\.0\.0\.1 code=AUTHENTICATION_FAILED/).length, 1, log);
  assert.equal(lines(log, new RegExp(`join: prd=${prdId} user=user_log mode=edit`)).length, 1, log);
  assert.equal(lines(log, new RegExp(`version: prd=${prdId} version=0\\.2\\.0 user=user_log org=org_e2e commit=[0-9a-f]{40}`)).length, 1, log);
  assert.equal(lines(log, new RegExp(`ai job: id=${jobId} prd=${prdId} user=user_log org=org_e2e state=complete`)).length, 1, log);
  assert.ok(!log.includes(bad), 'the refused token is never logged');
  assert.ok(!log.includes(bad.split('.')[2]), 'nor its signature');
  // The file fallback of the secret store, once; no debugging at all.
  assert.equal(lines(log, /No Secret Service available/).length, 1, log);
  assert.equal(lines(log, /-DEBUG/).length, 0, log);
});

test('warning and error levels log none of it; [log] level sets it, --log-level wins', async () => {
  const cases = [
    [{ args: ['--log-level', 'warning'] }, false],
    [{ args: ['--log-level', 'error'] }, false],
    [{ config: '[log]\nlevel = warning\n' }, false],
    [{ config: '[log]\nlevel = warning\n', args: ['--log-level', 'info'] }, true],
  ];
  for (const [opts, logged] of cases) {
    const hub = await startHub({ ...opts, env: NO_BUS });
    try {
      const { a } = await activity(hub);
      a.close();
    } finally {
      await assertCleanStop(hub);
    }
    const log = hub.stderr();
    const what = JSON.stringify(opts);
    for (const re of [/connection: /, /refused: /, /join: /, /version: /, /No Secret Service/])
      assert.equal(lines(log, re).length > 0, logged, `${what} ${re}:\n${log}`);
  }
});

test('debug adds every library\'s debugging, the WebSocket frames included', async () => {
  for (const args of [['--log-level', 'debug'], ['--verbose']]) {
    const hub = await startHub({ args, env: NO_BUS });
    try {
      const s = await connect(hub.url, { transports: ['websocket'] }, '/');
      s.emit('ping');
      await once(s, 'pong');
      s.close();
    } finally {
      await assertCleanStop(hub);
    }
    const log = hub.stderr();
    assert.ok(lines(log, /prd-eio-DEBUG: .*websocket fd \d+: read a message \(\d+ bytes\)/).length > 0,
      `${args}:\n${log.slice(0, 2000)}`);
    assert.ok(lines(log, /prd-eio-DEBUG: .*websocket fd \d+: wrote \d+ of \d+ bytes/).length > 0,
      `${args}:\n${log.slice(0, 2000)}`);
    assert.ok(lines(log, /connection: namespace=\/ /).length === 1, log.slice(0, 2000));
  }
});

test('a log level that does not exist is refused', () => {
  const dir = tmpDir();
  try {
    const run = (args) => spawnSync(PRDHUB_BIN, ['serve', '--listen', '127.0.0.1:0',
      '--data-dir', dir, ...args], { encoding: 'utf8', timeout: START_TIMEOUT_MS });
    let res = run(['--log-level', 'loud']);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /loud/);
    assert.match(res.stderr, /error, warning, info or debug/);
    fs.writeFileSync(`${dir}/bad.conf`, '[log]\nlevel = chatty\n');
    res = run(['--config', `${dir}/bad.conf`]);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /\[log\] level: "chatty"/);
    res = run(['--verbose', '--log-level', 'warning']);
    assert.equal(res.status, 2);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the command line does not announce the secrets file on every call', () => {
  const dir = tmpDir();
  try {
    const env = { ...process.env, ...NO_BUS };
    delete env.PRDHUB_JWT_SECRET;
    // The first token generates the hub's secret, and says so once.
    let res = spawnSync(PRDHUB_BIN, ['token', '--user', 'u', '--name', 'U', '--data-dir', dir],
      { encoding: 'utf8', timeout: START_TIMEOUT_MS, env });
    assert.equal(res.status, 0, res.stderr);
    assert.equal(lines(res.stderr, /Generated a new JWT secret/).length, 1, res.stderr);
    assert.doesNotMatch(res.stderr, /Secret Service/);
    for (const args of [['secret', 'list'], ['token', '--user', 'u', '--name', 'U'],
      ['prd', 'list']]) {
      res = spawnSync(PRDHUB_BIN, [...args, '--data-dir', dir],
        { encoding: 'utf8', timeout: START_TIMEOUT_MS, env });
      assert.equal(res.status, 0, res.stderr);
      assert.equal(res.stderr, '', `${args.join(' ')} logs nothing`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// Sends @requests (one string or Buffer) on one connection and waits for
// @count answers.
function pipeline(port, requests, count) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(requests));
    let text = '';
    s.on('data', (d) => {
      text += d.toString('latin1');
      if ((text.match(/HTTP\/1\.1 \d+/g) ?? []).length >= count) s.end();
    });
    s.on('close', () => resolve(text.match(/HTTP\/1\.1 \d+/g) ?? []));
    s.on('error', reject);
  });
}

test('refusals one client repeats are logged at most 20 a kind, their paths cut short', async () => {
  const hub = await startHub({ env: NO_BUS });
  const N = 200;
  try {
    // REST without a valid token, 30,000-byte paths of ASCII and of 0xff:
    // one of each first (logged), then many.
    const restRequest = (fill) => Buffer.concat([Buffer.from('GET /api/'),
      Buffer.alloc(30000, fill),
      Buffer.from(' HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer x\r\n\r\n')]);
    assert.deepEqual(await pipeline(hub.port, Buffer.concat([restRequest(0x41), restRequest(0xff)]),
      2), ['HTTP/1.1 401', 'HTTP/1.1 401']);
    for (const fill of [0x41, 0xff]) {
      const req = restRequest(fill);
      for (let sent = 0; sent < N; sent += 50) {
        const answers = await pipeline(hub.port, Buffer.concat(Array(50).fill(req)), 50);
        assert.deepEqual(answers, Array(50).fill('HTTP/1.1 401'));
      }
    }
    // Socket.IO CONNECTs with a bad token, on new sessions.
    for (let sessions = 0; sessions < N / 50; sessions++) {
      const s = await openRawWebSocket(hub.port);
      let refused = 0;
      s.resume();
      await new Promise((resolve) => {
        s.on('data', (d) => {
          refused += (d.toString('latin1').match(/44\/prds/g) ?? []).length;
          if (refused >= 50) resolve();
        });
        s.on('close', resolve);
        s.write(Buffer.concat(Array.from({ length: 50 }, () => wsFrame('40/prds,{"token":"x"}'))));
      });
      s.destroy();
      assert.equal(refused, 50);
    }
    // Jira webhooks without a valid signature.
    const hook = 'POST /api/integrations/jira/webhook?org=org_e2e HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
      'Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}';
    for (let sent = 0; sent < N; sent += 50) {
      const answers = await pipeline(hub.port, hook.repeat(50), 50);
      assert.deepEqual(answers, Array(50).fill('HTTP/1.1 401'));
    }
  } finally {
    await assertCleanStop(hub);
  }
  const log = hub.stderr();
  // 20 lines of each kind an interval (10 s), and a summary line per
  // interval: bounded far below the 400 or 200 refusals whatever the speed.
  const limit = 3 * 21;
  const rest = lines(log, /refused: request/);
  const sio = lines(log, /refused: namespace/);
  const hooks = lines(log, /webhook refused/);
  for (const [what, found] of [['REST', rest], ['Socket.IO', sio], ['webhook', hooks]]) {
    assert.ok(found.length >= 20 && found.length <= limit, `${what}: ${found.length} lines`);
  }
  assert.ok(lines(log, /refused/).length <= 3 * limit, log.slice(0, 4000));
  // The path is cut after 200 bytes, escapes whole.
  const paths = rest.filter((l) => l.includes('request="GET /api/'));
  assert.ok(paths.some((l) => l.includes('AAAA…"')), paths[0]);
  assert.ok(paths.some((l) => l.includes('\\377…"')), paths.at(-1));
  for (const l of paths) assert.ok(l.length < 400, `${l.length} bytes: ${l.slice(0, 300)}`);
  // What was left out is counted in a summary line, with the next refusal
  // after the interval, when the interval ends, or when the hub stops: every
  // refusal is either logged or counted.
  for (const l of lines(log, /not logged/))
    assert.match(l, /: \d+ more refusals like this were not logged \(at most 20 lines every 10 s\)$/);
  const counted = (found) => found.filter((l) => !/not logged/.test(l)).length +
    found.map((l) => Number(/: (\d+) more refusals/.exec(l)?.[1] ?? 0)).reduce((a, b) => a + b, 0);
  assert.equal(counted(rest), 2 + 2 * N);
  assert.equal(counted(sio), N);
  assert.equal(counted(hooks), N);
});

// The method is client input too: quoted and cut as the path is.
test('a refused request\'s method is logged escaped and cut short', async () => {
  const hub = await startHub({ env: NO_BUS });
  try {
    const req = (method) => `${method} /api/prds HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      'Authorization: Bearer x\r\n\r\n';
    assert.deepEqual(await pipeline(hub.port, req('X"Y') + req('M'.repeat(7000)), 2),
      ['HTTP/1.1 401', 'HTTP/1.1 401']);
  } finally {
    await assertCleanStop(hub);
  }
  const found = lines(hub.stderr(), /refused: request=/);
  assert.equal(found.length, 2, found.join('\n'));
  assert.ok(found[0].includes('request="X\\"Y /api/prds"'), found[0]);
  assert.ok(found[1].includes('MMMM…'), found[1].slice(0, 300));
  for (const l of found) assert.ok(l.length < 600, `${l.length} bytes`);
});

test('an integration call is logged in one line, a failed one from the warning level up', async () => {
  const jira = await startFakeJira();
  const admin = token({ ...user('user_admin'), role: 'admin' });
  const settings = { baseUrl: jira.url, deployment: 'cloud', apiVersion: 3,
    email: jira.state.email, projectKey: 'PRD' };
  try {
    await integrationCalls(jira, admin, settings);
  } finally {
    await jira.close();
  }
});

async function integrationCalls(jira, admin, settings) {
  for (const [level, tok, result] of [['info', jira.state.token, 'ok'],
    ['warning', 'WRONG', 'failed'], ['error', 'WRONG', null]]) {
    const hub = await startHub({ args: ['--log-level', level], env: NO_BUS });
    try {
      let res = await rest(hub, 'PUT', '/api/integrations/jira', {
        body: { ...settings, token: tok }, tok: admin,
      });
      assert.equal(res.status, 200, res.text);
      res = await rest(hub, 'POST', '/api/integrations/jira/test', { tok: admin });
      assert.equal(res.json?.status, tok === 'WRONG' ? 'error' : 'connected', res.text);
    } finally {
      await assertCleanStop(hub);
    }
    const log = hub.stderr();
    const found = lines(log, /integration: service=jira org=org_e2e call="connection check"/);
    if (result === null) {
      assert.equal(found.length, 0, log);
      continue;
    }
    assert.equal(found.length, 1, log);
    if (result === 'ok')
      assert.match(found[0], /prd-integrations-INFO: .* result=ok$/);
    else
      assert.match(found[0], /prd-integrations-Message: .* result=failed error="Jira refused the credentials .*"$/);
    assert.ok(!log.includes(jira.state.token), 'the token is never logged');
  }
}
