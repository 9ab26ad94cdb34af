// SPDX-License-Identifier: GPL-3.0-or-later
//
// The prdhub command line: bad configuration is refused up front with a
// message naming what is wrong; the generated JWT secret is private; one
// hub serves a data folder.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PRDHUB_BIN, JWT_SECRET, startHub, connect, tmpDir, START_TIMEOUT_MS } from './helpers/hub.js';

function prdhub(args, env = {}) {
  const res = spawnSync(PRDHUB_BIN, args, {
    encoding: 'utf8',
    timeout: START_TIMEOUT_MS,
    env: { ...process.env, ...env },
  });
  return res;
}

const BAD_CONFIGS = {
  'unknown group': ['[nonsense]\nkey = 1\n', /nonsense/],
  'unknown key': ['[engine]\nping-intervall = 100\n', /ping-intervall/],
  'not a number': ['[engine]\nping-interval = soon\n', /ping-interval/],
  'max-payload below its minimum': ['[engine]\nmax-payload = 1\n', /max-payload/],
  'bad rate-limit value': ['[rate-limit]\nmyclass = lots\n',
    /: \[rate-limit\] myclass: "lots" is not LIMIT\/WINDOW_SECONDS \(LIMIT 1-1000000, WINDOW_SECONDS 1-86400\)/],
  'bad rate-limit class name': ['[rate-limit]\nmy.class = 1/1\n', /: \[rate-limit\] my\.class: "my\.class" is not a valid class name/],
  'event mapped to an unknown class': ['[rate-limit.events]\nping = nowhere\n', /: \[rate-limit\.events\] ping: class "nowhere" has no limit/],
  'event mapped to a bad class name': ['[rate-limit.events]\nping = no where\n', /: \[rate-limit\.events\] ping: "no where" is not a valid class name/],
  'bad listen address': ['[server]\nlisten = not an address\n', /: \[server\] listen: "not an address" is not HOST:PORT/],
  'bad CORS origin': ['[server]\ncors-origins = ftp://x\n', /: \[server\] cors-origins: "ftp:\/\/x" is not an origin/],
  'CORS origin * with others': ['[server]\ncors-origins = *;http://a\n', /: \[server\] cors-origins: "\*" cannot be combined/],
  // GKeyFile hides these three: refused rather than silently dropped.
  'localized key': ['[server]\nmax-request-body[de] = junk\n', /\[server\] max-request-body\[de\].*localized keys/],
  'key given twice': ['[collab]\nmax-document-size = junk\nmax-document-size = 1000\n',
    /\[collab\] max-document-size is set twice \(lines 2 and 3\)/],
  'key given twice under two headers': ['[server]\nmax-request-body = junk\n[engine]\nping-interval = 25000\n[server]\nmax-request-body = 4096\n',
    /\[server\] max-request-body is set twice \(lines 2 and 6\)/],
  // Checked against the hub's list of events with the rest of the
  // configuration (before, only once every feature had started on the
  // data folder, an older one upgraded by then).
  'rate limit of an event the hub does not have': ['[rate-limit]\nchatty = 1/60\n[rate-limit.events]\npnig = chatty\n',
    /\[rate-limit\.events\] pnig: the hub has no event "pnig"/],
  'rate limit of a class no event is in': ['[rate-limit]\ncolab = 10/10\n', /\[rate-limit\] colab: no event is in class "colab"/],
  'event mapped to the default class that the hub does not have': ['[rate-limit.events]\npnig = default\n',
    /\[rate-limit\.events\] pnig: the hub has no event "pnig"/],
  // A line that is not `key = value`: named by its number, never quoted
  // (GKeyFile's message quoted it whole, and it may hold a password).
  'line that is not key = value': ['[ai]\nbase-url: https://user:SECRETPW@127.0.0.1/v1\n',
    /: line 2 is neither KEY = VALUE, a \[group\] header nor a # comment/],
  'group header with text after it': ['[ai] SECRETPW\n', /: line 1: a \[group\] header ends with \]/],
};

for (const [name, [text, re]] of Object.entries(BAD_CONFIGS)) {
  test(`serve refuses a config file with ${name}`, () => {
    const dir = tmpDir();
    const file = path.join(dir, 'bad.conf');
    const dataDir = path.join(dir, 'data');
    fs.writeFileSync(file, text);
    fs.mkdirSync(dataDir);
    const res = prdhub(['serve', '--no-dbus', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--config', file],
      { PRDHUB_JWT_SECRET: 'x'.repeat(32) });
    // Refused before the data folder is touched: no lock, no secret, no
    // store (an older release's store would have been upgraded).
    const left = fs.readdirSync(dataDir);
    fs.rmSync(dir, { recursive: true, force: true });
    assert.equal(res.status, 1, res.stderr);
    assert.equal(res.signal, null, 'does not crash or hang');
    assert.doesNotMatch(res.stdout, /listening/);
    assert.match(res.stderr, re);
    assert.doesNotMatch(res.stderr, /SECRETPW/);
    assert.deepEqual(left, [], 'nothing made in the data folder');
  });
}

test('serve refuses a bad PRDHUB_JWT_SECRET or PRDHUB_AI_API_KEY before the data folder is touched', () => {
  const cases = [
    [{ PRDHUB_JWT_SECRET: 'short' }, '', /PRDHUB_JWT_SECRET must be at least 32 bytes long/],
    [{ PRDHUB_JWT_SECRET: 'x'.repeat(32), PRDHUB_AI_API_KEY: 'sk-one\ntwo' },
      '[ai]\nbase-url = http://127.0.0.1:1/v1\nmodel = m\n', /API key must be printable ASCII/],
  ];
  for (const [env, config, re] of cases) {
    const dir = tmpDir();
    const dataDir = path.join(dir, 'data');
    const file = path.join(dir, 'hub.conf');
    fs.writeFileSync(file, config);
    fs.mkdirSync(dataDir);
    const res = prdhub(['serve', '--no-dbus', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--config', file], env);
    const left = fs.readdirSync(dataDir);
    fs.rmSync(dir, { recursive: true, force: true });
    assert.equal(res.status, 1, res.stderr);
    assert.match(res.stderr, re);
    assert.deepEqual(left, [], 'nothing made in the data folder (no lock)');
  }
});

test('every command refuses a --config that is not a regular file, at once', () => {
  const dir = tmpDir();
  const fifo = path.join(dir, 'fifo');
  spawnSync('mkfifo', [fifo]);
  const stdinZero = fs.openSync('/dev/zero', 'r');
  try {
    const runs = [
      [['serve', '--no-dbus', '--listen', '127.0.0.1:0', '--config', fifo], 'ignore', fifo],
      [['serve', '--no-dbus', '--listen', '127.0.0.1:0', '--config', '/dev/zero'], 'ignore', '/dev/zero'],
      [['token', '-u', 'a', '-n', 'b', '--config', '/dev/stdin'], stdinZero, '/dev/stdin'],
    ];
    for (const [args, stdin, name] of runs) {
      const res = spawnSync(PRDHUB_BIN, [...args, '--data-dir', dir], {
        encoding: 'utf8',
        timeout: START_TIMEOUT_MS,
        stdio: [stdin, 'pipe', 'pipe'],
        env: { ...process.env, PRDHUB_JWT_SECRET: 'x'.repeat(32) },
      });
      assert.equal(res.signal, null, `${args.join(' ')} ended by itself`);
      assert.equal(res.status, 1, `${args.join(' ')}: ${res.stderr}`);
      assert.equal(res.stdout, '');
      assert.ok(res.stderr.includes(`prdhub: ${name}: not a regular file`), res.stderr);
    }
  } finally {
    fs.closeSync(stdinZero);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a config file over 16 MiB is refused; one at 16 MiB is read', () => {
  const dir = tmpDir();
  const limit = 16 * 1024 * 1024;
  const tail = '\n[engine]\nping-interval = soon\n';
  const atLimit = path.join(dir, 'at-limit.conf');
  const overLimit = path.join(dir, 'over-limit.conf');
  // A comment that fills the file, then a bad key: reading it whole is what
  // makes serve name the key.
  fs.writeFileSync(atLimit, '#' + 'x'.repeat(limit - 1 - tail.length) + tail);
  fs.writeFileSync(overLimit, '#' + 'x'.repeat(limit - 1 - tail.length) + tail + '\n');
  try {
    const at = prdhub(['serve', '--no-dbus', '--listen', '127.0.0.1:0', '--data-dir', dir, '--config', atLimit]);
    assert.equal(at.status, 1, at.stderr);
    assert.match(at.stderr, /\[engine\] ping-interval: "soon"/);
    const over = prdhub(['serve', '--no-dbus', '--listen', '127.0.0.1:0', '--data-dir', dir, '--config', overLimit]);
    assert.equal(over.status, 1, over.stderr);
    assert.equal(over.stderr, `prdhub: ${overLimit} is larger than ${limit} bytes\n`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the e2e helper\'s io-threads does not repeat a test\'s own', async () => {
  const saved = process.env.PRDHUB_E2E_IO_THREADS;
  process.env.PRDHUB_E2E_IO_THREADS = '2';
  try {
    const hub = await startHub({ config: '[engine]\nio-threads = 1\n' });
    await hub.stop();
  } finally {
    if (saved === undefined) delete process.env.PRDHUB_E2E_IO_THREADS;
    else process.env.PRDHUB_E2E_IO_THREADS = saved;
  }
});

test('serve refuses a missing config file', () => {
  const res = prdhub(['serve', '--listen', '127.0.0.1:0', '--config', '/nonexistent/prdhub.conf']);
  assert.notEqual(res.status, 0);
  assert.equal(res.signal, null);
  assert.match(res.stderr, /nonexistent/);
});

test('serve refuses --tls-cert without --tls-key', () => {
  const dir = tmpDir();
  const res = prdhub(['serve', '--listen', '127.0.0.1:0', '--data-dir', dir,
    '--tls-cert', path.join(dir, 'cert.pem')]);
  fs.rmSync(dir, { recursive: true, force: true });
  assert.notEqual(res.status, 0);
  assert.equal(res.signal, null);
  assert.match(res.stderr, /tls/i);
});

test('token refuses an unknown role', () => {
  const dir = tmpDir();
  const res = prdhub(['token', '--user', 'u1', '--name', 'U', '--role', 'overlord',
    '--data-dir', dir]);
  fs.rmSync(dir, { recursive: true, force: true });
  assert.notEqual(res.status, 0);
  assert.equal(res.stdout.trim(), '', 'prints no token');
  assert.match(res.stderr, /role/);
});

test('without PRDHUB_JWT_SECRET the hub generates an owner-only secret and token uses it', async () => {
  const env = { ...process.env };
  delete env.PRDHUB_JWT_SECRET;
  const hub = await startHub({ env: { PRDHUB_JWT_SECRET: undefined } });
  try {
    const secretFile = path.join(hub.dataDir, 'jwt-secret');
    const st = fs.statSync(secretFile);
    assert.equal(st.mode & 0o077, 0, 'jwt-secret is not readable by group or others');
    const res = spawnSync(PRDHUB_BIN, ['token', '--user', 'u1', '--name', 'U One',
      '--data-dir', hub.dataDir], { encoding: 'utf8', env });
    assert.equal(res.status, 0, res.stderr);
    const token = res.stdout.trim();
    const s = await connect(hub.url, { transports: ['websocket'], auth: { token } }, '/prds');
    s.close();
  } finally {
    await hub.stop();
  }
});

// ---- help, version and exit status -------------------------------------------

test('--version prints the version', () => {
  const res = prdhub(['--version']);
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stdout, /^prdhub \d+\.\d+\.\d+\n$/);
});

test('help lists every command; help COMMAND and COMMAND --help agree', () => {
  for (const args of [['help'], ['--help'], ['-h']]) {
    const res = prdhub(args);
    assert.equal(res.status, 0, res.stderr);
    for (const command of ['serve', 'token', 'prd', 'secret', 'discover', 'help'])
      assert.match(res.stdout, new RegExp(`^  ${command} `, 'm'), `${args}: ${command}`);
    assert.match(res.stdout, /2 usage error/);
  }
  for (const command of ['serve', 'token', 'prd', 'secret', 'discover']) {
    const viaHelp = prdhub(['help', command]);
    const viaOption = prdhub([command, '--help']);
    assert.equal(viaHelp.status, 0, viaHelp.stderr);
    assert.equal(viaOption.status, 0, viaOption.stderr);
    assert.equal(viaHelp.stdout, viaOption.stdout);
    assert.match(viaHelp.stdout, new RegExp(`prdhub ${command} \\[OPTION`), command);
    assert.equal(viaHelp.stderr, '');
  }
  assert.match(prdhub(['serve', '--help']).stdout, /--log-level=LEVEL/);
  // `help prd` names every action, those of the data folder and those that
  // go through the running hub, and so does a usage error.
  const prdUsage = prdhub(['help', 'prd']).stdout.split('\n')[1];
  const [, usageActions] = prdUsage.match(/^  prdhub prd \[OPTION…\] (.+) - manage PRDs$/);
  assert.deepEqual(usageActions.split('|'), ['create', 'import FILE', 'export ID', 'list',
    'rename ID', 'archive ID', 'unarchive ID', 'delete ID', 'version ID']);
  assert.match(prdhub(['prd', 'frobnicate']).stderr,
    /\(create, import, export, list, rename, archive, unarchive, delete or version\)/);
  // Where a misuse of `help` points.
  const misuse = prdhub(['help', 'prd', 'import', 'extra']);
  assert.equal(misuse.status, 2);
  assert.match(misuse.stderr, /\(see `prdhub help help`\)\n$/);
  const helpHelp = prdhub(['help', 'help']);
  assert.equal(helpHelp.status, 0, helpHelp.stderr);
  assert.match(helpHelp.stdout, /prdhub help \[COMMAND \[ACTION\]\]/);
  assert.equal(helpHelp.stderr, '');
});

test('each prd and secret action has a help of its own', () => {
  const cases = {
    'prd create': [/Create a PRD/, ['--title', '--file', '--data-dir'], ['--output']],
    'prd import': [/from the Markdown FILE/, ['--title', '--data-dir'], ['--output', '--file']],
    'prd export': [/as Markdown/, ['--output', '--data-dir'], ['--title', '--org']],
    'prd list': [/List the PRDs/, ['--org', '--archived'], ['--title', '--output']],
    'secret set': [/standard input/, ['--data-dir', '--config'], []],
    'secret delete': [/Delete the secret NAME/, ['--data-dir'], []],
    'secret list': [/names of the hub's secrets/, ['--data-dir'], []],
  };
  const texts = new Set();
  for (const [line, [summary, present, absent]] of Object.entries(cases)) {
    const [command, action] = line.split(' ');
    const res = prdhub(['help', command, action]);
    assert.equal(res.status, 0, res.stderr);
    assert.equal(prdhub([command, action, '--help']).stdout, res.stdout);
    assert.match(res.stdout, new RegExp(`prdhub ${command} \\[OPTION…\\] ${action}`));
    assert.match(res.stdout, summary, line);
    for (const option of present) assert.ok(res.stdout.includes(option), `${line}: ${option}`);
    for (const option of absent) assert.ok(!res.stdout.includes(option), `${line}: no ${option}`);
    texts.add(res.stdout);
  }
  assert.equal(texts.size, Object.keys(cases).length, 'no two actions share a help text');
});

test('a wrong command line exits 2 in every command; a failure exits 1', () => {
  const dir = tmpDir();
  try {
    const usage = [
      ['frobnicate'],
      ['help', 'frobnicate'],
      ['serve', '--no-such-option'],
      ['serve', 'extra'],
      ['token', '--name', 'N'],
      ['token', '--user', 'u', '--name', 'N', '--ttl', '0'],
      ['token', '--user', 'u', '--name', 'N', '--no-such-option'],
      ['prd'],
      ['prd', 'frobnicate'],
      ['prd', 'create'],
      ['prd', 'export'],
      ['prd', 'list', 'extra'],
      ['prd', 'list', '--no-such-option'],
      ['secret'],
      ['secret', 'frobnicate'],
      ['secret', 'set'],
      ['secret', 'set', 'Not A Name'],
      ['secret', 'list', '--no-such-option'],
      ['discover', '--timeout', '0'],
      ['discover', 'extra'],
      ['status', 'extra'],
      ['status', '--no-such-option'],
      ['prd', 'rename'],
      ['prd', 'rename', 'prd_abc'],
      ['prd', 'rename', 'prd_abc', 'prd_def', '--title', 'T'],
      ['prd', 'archive', 'prd_abc', '--title', 'T'],
      ['prd', 'version', 'prd_abc'],
      ['prd', 'delete', 'prd_abc', '--force'],
      ['prd', 'unarchive', 'prd_abc', '--no-such-option'],
      ['prd', 'rename', 'prd_abc', '--title', 'T', '--url', 'ftp://x'],
      ['status', '--url', 'notaurl'],
      ['token', '--user', 'u', '--name', ''],
      ['token', '--user', '', '--name', 'N'],
      ['token', 'revoke'],
      ['integration'],
      ['integration', 'frobnicate'],
      ['integration', 'set', 'jira'],
      ['backup'],
      ['restore'],
      ['help', 'prd', 'create', 'extra'],
      ['help', 'help', 'extra'],
      // A value the hub refuses in a token's claims is out of range of its option.
      ['token', '--user', ' u', '--name', 'N'],
      ['token', '--user', 'a\tb', '--name', 'N'],
      ['token', '--user', 'u', '--name', 'N', '--org', ''],
      ['token', '--user', 'u', '--name', ' N'],
      ['token', 'revoke', '--user', 'u '],
      ['prd', 'create', '--title', 'T', '--org', ' acme'],
      ['prd', 'import', 'x.md', '--title', 'T', '--owner', 'bob<x>'],
    ];
    for (const args of usage) {
      const res = prdhub([...args, '--data-dir', dir], { PRDHUB_JWT_SECRET: 'x'.repeat(32) });
      assert.equal(res.status, 2, `${args.join(' ')}: ${res.stderr}`);
      assert.equal(res.stdout, '', args.join(' '));
      assert.match(res.stderr, /^prdhub: .*\(see `prdhub help[^`]*`\)\n$/, args.join(' '));
    }
    const failures = [
      ['prd', 'export', 'prd_doesnotexist'],
      ['prd', 'import', path.join(dir, 'missing.md'), '--title', 'T'],
      ['secret', 'delete', 'nothing-here'],
      ['serve', '--listen', 'not an address'],
    ];
    for (const args of failures) {
      const res = prdhub([...args, '--data-dir', dir], { PRDHUB_JWT_SECRET: 'x'.repeat(32) });
      assert.equal(res.status, 1, `${args.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, /^prdhub: /m, args.join(' '));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('prd import and prd create --file refuse an endless or too large input after reading 4 MiB', () => {
  const dir = tmpDir();
  const config = path.join(dir, 'big.conf');
  // A PRD may be longer than the file limit, so that the file limit is what refuses.
  // (Its text, at 6 bytes of JSON per unit, must fit in max-write-buffer.)
  fs.writeFileSync(config, '[engine]\nmax-write-buffer = 50331648\n[collab]\nmax-document-size = 8388608\n');
  const limit = 4 * 1024 * 1024;
  try {
    assert.equal(prdhub(['prd', 'list', '--data-dir', dir]).status, 0);
    // /dev/zero never ends: refused once limit + 1 bytes are read (the
    // spawn timeout only bounds how long a broken prdhub would be waited for).
    for (const args of [['import', '/dev/zero'], ['create', '--file', '/dev/zero']]) {
      const res = prdhub(['prd', ...args, '--title', 'Z', '--data-dir', dir]);
      assert.equal(res.signal, null, `${args.join(' ')} ended by itself`);
      assert.equal(res.status, 1, res.stderr);
      assert.equal(res.stdout, '');
      assert.equal(res.stderr, `prdhub: /dev/zero is larger than ${limit} bytes\n`);
    }
    // At the edge: the limit is accepted, one byte more is not.
    const atLimit = path.join(dir, 'at-limit.md');
    const overLimit = path.join(dir, 'over-limit.md');
    fs.writeFileSync(atLimit, 'a'.repeat(limit));
    fs.writeFileSync(overLimit, 'a'.repeat(limit + 1));
    const over = prdhub(['prd', 'import', overLimit, '--title', 'Over', '--data-dir', dir,
      '--config', config]);
    assert.equal(over.status, 1, over.stderr);
    assert.match(over.stderr, new RegExp(`over-limit\\.md is larger than ${limit} bytes`));
    // (A file at the limit passes the reader; the store's own limit on one
    // update, which counts more than the text, then decides.)
    const at = prdhub(['prd', 'import', atLimit, '--title', 'At', '--data-dir', dir,
      '--config', config]);
    assert.doesNotMatch(at.stderr, /is larger than/);
    const fits = path.join(dir, 'fits.md');
    fs.writeFileSync(fits, 'a'.repeat(limit - 64 * 1024));
    const ok = prdhub(['prd', 'import', fits, '--title', 'Fits', '--data-dir', dir,
      '--config', config]);
    assert.equal(ok.status, 0, ok.stderr);
    const list = prdhub(['prd', 'list', '--data-dir', dir]);
    assert.equal(list.stdout.trim().split('\n').length, 1, 'only the PRD that fits was created');
    assert.match(list.stdout, /\tFits\n$/);
    // A folder is refused with its path and the cause.
    const folder = prdhub(['prd', 'create', '--title', 'F', '--file', dir, '--data-dir', dir]);
    assert.equal(folder.status, 1);
    assert.equal(folder.stderr, `prdhub: Cannot read ${dir}: Is a directory\n`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ---- the data folder ------------------------------------------------------------

test('commands other than serve refuse a data folder that does not exist', () => {
  const parent = tmpDir();
  const typo = path.join(parent, 'typo');
  try {
    const commands = [
      [['prd', 'list'], {}],
      [['prd', 'create', '--title', 'T'], {}],
      [['token', '--user', 'u1', '--name', 'U'], { PRDHUB_JWT_SECRET: undefined }],
      [['token', '--user', 'u1', '--name', 'U'], { PRDHUB_JWT_SECRET: 'y'.repeat(32) }],
      [['secret', 'list'], {}],
      // The commands that ask a running hub read its secret from the folder.
      [['status'], { PRDHUB_JWT_SECRET: undefined }],
      [['prd', 'rename', 'prd_abc', '--title', 'T'], { PRDHUB_JWT_SECRET: undefined }],
      [['prd', 'archive', 'prd_abc'], { PRDHUB_JWT_SECRET: undefined }],
      [['prd', 'delete', 'prd_abc'], { PRDHUB_JWT_SECRET: undefined }],
      [['prd', 'version', 'prd_abc', '--changelog', 'C'], { PRDHUB_JWT_SECRET: undefined }],
    ];
    for (const [args, env] of commands) {
      const res = prdhub([...args, '--data-dir', typo], env);
      assert.equal(res.status, 1, `${args.join(' ')}: ${res.stderr}`);
      assert.equal(res.stdout, '', 'prints nothing, no token');
      assert.ok(res.stderr.includes(`${typo} does not exist`), res.stderr);
      assert.ok(!fs.existsSync(typo), `${args.join(' ')} created ${typo}`);
    }
  } finally {
    fs.rmSync(parent, { recursive: true, force: true });
  }
});

test('serve creates its data folder', async () => {
  const parent = tmpDir();
  const dataDir = path.join(parent, 'new', 'hub');
  try {
    const hub = await startHub({ args: ['--data-dir', dataDir], env: { G_MESSAGES_DEBUG: 'all' } });
    assert.ok(fs.statSync(dataDir).isDirectory());
    assert.equal(fs.statSync(path.join(dataDir, 'versions.git')).mode & 0o777, 0o700);
    await hub.stop();
    // Its own new files are private from the start: nothing to put right.
    assert.doesNotMatch(hub.stderr(), /readable by its owner only/);
    const res = prdhub(['prd', 'list', '--data-dir', dataDir]);
    assert.equal(res.status, 0, res.stderr);
  } finally {
    fs.rmSync(parent, { recursive: true, force: true });
  }
});

test('one hub per data folder: a second serve is refused, naming the first; other commands go on', async () => {
  const parent = tmpDir();
  const dataDir = path.join(parent, 'hub');
  try {
    const hub = await startHub({ args: ['--data-dir', dataDir] });
    let second;
    try {
      second = prdhub(['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir],
        { PRDHUB_JWT_SECRET: 'x'.repeat(40) });
      assert.equal(second.status, 1, second.stderr);
      assert.match(second.stderr,
        new RegExp(`Another prdhub \\(process ${hub.pid}\\) is serving the data folder ${dataDir}: stop it first`));
      assert.doesNotMatch(second.stdout, /listening/);
      // the first one is unharmed; commands that read the folder go on
      assert.equal((await fetch(`${hub.url}/healthz`)).status, 200);
      const list = prdhub(['prd', 'list', '--data-dir', dataDir]);
      assert.equal(list.status, 0, list.stderr);
    } finally {
      await hub.stop();
    }
    // once it has stopped, the folder is free again
    const again = await startHub({ args: ['--data-dir', dataDir] });
    await again.stop();
  } finally {
    fs.rmSync(parent, { recursive: true, force: true });
  }
});

test('a data folder the user cannot use is refused with its path and the cause', () => {
  const parent = tmpDir();
  const locked = path.join(parent, 'locked');
  const file = path.join(parent, 'file');
  fs.mkdirSync(locked, { mode: 0o700 });
  fs.writeFileSync(file, 'not a folder');
  // As root, run as nobody: root may use any folder.
  const asOther = process.getuid() === 0 ? { uid: 65534, gid: 65534 } : {};
  if (process.getuid() !== 0) fs.chmodSync(locked, 0o500);
  fs.chmodSync(parent, 0o755);
  try {
    for (const args of [['prd', 'list'], ['secret', 'list'], ['serve', '--listen', '127.0.0.1:0']]) {
      const res = spawnSync(PRDHUB_BIN, [...args, '--data-dir', locked], {
        encoding: 'utf8', timeout: START_TIMEOUT_MS, ...asOther,
        env: { ...process.env, PRDHUB_JWT_SECRET: 'z'.repeat(32) },
      });
      assert.equal(res.status, 1, `${args.join(' ')}: ${res.stderr}`);
      assert.ok(res.stderr.includes(`${locked}: Permission denied`), res.stderr);
    }
    const res = prdhub(['prd', 'list', '--data-dir', file]);
    assert.equal(res.status, 1);
    assert.ok(res.stderr.includes(`${file}: it is not a folder`), res.stderr);
  } finally {
    fs.chmodSync(locked, 0o700);
    fs.rmSync(parent, { recursive: true, force: true });
  }
});

// ---- results that cannot be written ------------------------------------------

// Runs prdhub with its standard output redirected by the shell to /dev/full,
// where every write fails with ENOSPC.
function prdhubToFull(args, env = {}) {
  return spawnSync('/bin/sh', ['-c', '"$0" "$@" > /dev/full', PRDHUB_BIN, ...args], {
    encoding: 'utf8',
    timeout: START_TIMEOUT_MS,
    env: { ...process.env, ...env },
  });
}

test('a command whose result cannot be written exits 1 and says why', async () => {
  const dir = tmpDir();
  const env = { PRDHUB_JWT_SECRET: 'x'.repeat(32) };
  const hub = await startHub();
  try {
    // Larger than stdio's buffer: the write fails before the final flush.
    const file = path.join(dir, 'spec.md');
    fs.writeFileSync(file, '# Spec\n' + 'x'.repeat(200000) + '\n');
    const created = prdhub(['prd', 'import', file, '--title', 'T', '--data-dir', dir], env);
    assert.equal(created.status, 0, created.stderr);
    const id = created.stdout.trim();
    const cases = [
      ['prd', 'export', id, '--data-dir', dir],
      ['prd', 'list', '--data-dir', dir],
      ['token', '--user', 'a', '--name', 'b', '--data-dir', dir],
      ['token', '--user', 'a', '--name', 'b', '--link', '--listen', '127.0.0.1:3000',
        '--data-dir', dir],
      ['prd', 'create', '--title', 'Lost id', '--data-dir', dir],
      ['help'],
      ['help', 'prd', 'export'],
      ['--version'],
    ];
    for (const args of cases) {
      const res = prdhubToFull(args, env);
      assert.equal(res.status, 1, `${args.join(' ')}: ${res.stderr}`);
      assert.equal(res.stderr, 'prdhub: cannot write the output: No space left on device\n',
        args.join(' '));
    }
    // backup and restore do their work; the line that says so is lost and
    // that is said.
    const work = tmpDir();
    const dest = path.join(work, 'backup');
    for (const args of [['backup', dest, '--data-dir', dir],
      ['restore', dest, '--data-dir', path.join(work, 'restored')]]) {
      const res = prdhubToFull(args, env);
      assert.equal(res.status, 1, `${args.join(' ')}: ${res.stderr}`);
      assert.equal(res.stderr, 'prdhub: cannot write the output: No space left on device\n',
        args.join(' '));
    }
    assert.ok(fs.existsSync(path.join(dest, 'prdhub.db')));
    assert.ok(fs.existsSync(path.join(work, 'restored', 'prdhub.db')));
    fs.rmSync(work, { recursive: true, force: true });
    // The PRD whose id could not be printed is there, as README says.
    const list = prdhub(['prd', 'list', '--data-dir', dir], env);
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /\tLost id\n/);
    // The commands that ask the running hub (prd-cli-remote.c) too.
    const status = prdhubToFull(['status', '--json', '--url', hub.url, '--data-dir', hub.dataDir],
      { PRDHUB_JWT_SECRET: JWT_SECRET });
    assert.equal(status.status, 1, status.stderr);
    assert.equal(status.stderr, 'prdhub: cannot write the output: No space left on device\n');
  } finally {
    await hub.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// The command line is UTF-8 whatever the locale: under C or POSIX (a systemd
// unit, cron) a name such as "Zoë" is read as it is, not refused.
test('options are read as UTF-8 under the C locale', () => {
  const dir = tmpDir();
  const env = { PRDHUB_JWT_SECRET: 'x'.repeat(32), LANG: '', LC_ALL: 'C', LC_CTYPE: '' };
  try {
    const created = prdhub(['prd', 'create', '--title', 'Café', '--org', 'café',
      '--data-dir', dir], env);
    assert.equal(created.status, 0, created.stderr);
    const list = prdhub(['prd', 'list', '--org', 'café', '--data-dir', dir], env);
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /\tCafé\n$/);
    const tok = prdhub(['token', '--user', 'zoe', '--name', 'Zoë', '--org', 'café',
      '--data-dir', dir], env);
    assert.equal(tok.status, 0, tok.stderr);
    const claims = JSON.parse(Buffer.from(tok.stdout.trim().split('.')[1], 'base64url'));
    assert.equal(claims.name, 'Zoë');
    assert.equal(claims.org, 'café');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ---- prd export --output -------------------------------------------------------

test('prd export --output writes the file a symbolic link leads to and refuses what is not a file', () => {
  const dir = tmpDir();
  const env = { PRDHUB_JWT_SECRET: 'x'.repeat(32) };
  try {
    const source = path.join(dir, 'spec.md');
    fs.writeFileSync(source, '# Exported\n');
    const created = prdhub(['prd', 'import', source, '--title', 'T', '--data-dir', dir], env);
    assert.equal(created.status, 0, created.stderr);
    const id = created.stdout.trim();
    const exportTo = (output) =>
      prdhub(['prd', 'export', id, '--output', output, '--data-dir', dir], env);

    // A regular file is replaced, a new one made.
    const plain = path.join(dir, 'plain.md');
    fs.writeFileSync(plain, 'old text, longer than the new one\n');
    assert.equal(exportTo(plain).status, 0);
    assert.equal(fs.readFileSync(plain, 'utf8'), '# Exported\n');
    assert.equal(exportTo(path.join(dir, 'new.md')).status, 0);
    assert.equal(fs.readFileSync(path.join(dir, 'new.md'), 'utf8'), '# Exported\n');

    // A link stays a link; what it leads to (through a second, relative link) gets the text.
    fs.mkdirSync(path.join(dir, 'sub'));
    const target = path.join(dir, 'sub', 'target.md');
    fs.writeFileSync(target, 'old\n');
    fs.symlinkSync('sub/target.md', path.join(dir, 'middle.md'));
    const link = path.join(dir, 'link.md');
    fs.symlinkSync(path.join(dir, 'middle.md'), link);
    const res = exportTo(link);
    assert.equal(res.status, 0, res.stderr);
    assert.ok(fs.lstatSync(link).isSymbolicLink(), 'the link is still a link');
    assert.ok(fs.lstatSync(path.join(dir, 'middle.md')).isSymbolicLink());
    assert.equal(fs.readFileSync(target, 'utf8'), '# Exported\n');
    // A link to no file yet makes the file it names.
    const dangling = path.join(dir, 'dangling.md');
    fs.symlinkSync('made.md', dangling);
    assert.equal(exportTo(dangling).status, 0);
    assert.ok(fs.lstatSync(dangling).isSymbolicLink());
    assert.equal(fs.readFileSync(path.join(dir, 'made.md'), 'utf8'), '# Exported\n');

    // A FIFO, a folder, a link to a FIFO: refused, left as they were.
    const fifo = path.join(dir, 'fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const toFifo = path.join(dir, 'to-fifo');
    fs.symlinkSync(fifo, toFifo);
    for (const output of [fifo, toFifo, path.join(dir, 'sub')]) {
      const refused = exportTo(output);
      assert.equal(refused.status, 1, output);
      assert.equal(refused.stdout, '');
      assert.match(refused.stderr,
        new RegExp(`^prdhub: Cannot write ${output}: it is not a regular file .*\\n$`));
    }
    assert.ok(fs.lstatSync(fifo).isFIFO(), 'the FIFO is still a FIFO');
    assert.ok(fs.lstatSync(toFifo).isSymbolicLink());
    assert.ok(fs.lstatSync(path.join(dir, 'sub')).isDirectory());
    assert.deepEqual(fs.readdirSync(path.join(dir, 'sub')), ['target.md']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ---- organizations and owners ----------------------------------------------------

test('prd create and import refuse an organization or owner no token can carry', () => {
  const dir = tmpDir();
  const env = { PRDHUB_JWT_SECRET: 'x'.repeat(32) };
  try {
    const file = path.join(dir, 'spec.md');
    fs.writeFileSync(file, '# Spec\n');
    const bad = [' acme', 'acme ', 'a<b>', 'a\tb', 'a\u2028b', '', 'o'.repeat(257)];
    for (const value of bad) {
      for (const option of ['--org', '--owner']) {
        for (const action of [['create'], ['import', file]]) {
          const args = ['prd', ...action, '--title', 'T', option, value, '--data-dir', dir];
          const res = prdhub(args, env);
          assert.equal(res.status, 2, `${JSON.stringify(value)} ${option}: ${res.stderr}`);
          assert.equal(res.stdout, '');
          assert.match(res.stderr, new RegExp(`^prdhub: ${option} .*\\(see \`prdhub help prd\`\\)\\n$`));
        }
      }
    }
    const none = prdhub(['prd', 'list', '--data-dir', dir], env);
    assert.equal(none.stdout, '', 'nothing was created');
    // At the edge: an organization of 256 bytes is one a token can carry.
    const org = 'o'.repeat(256);
    const created = prdhub(['prd', 'create', '--title', 'T', '--org', org, '--owner', 'u'.repeat(256),
      '--data-dir', dir], env);
    assert.equal(created.status, 0, created.stderr);
    const listed = prdhub(['prd', 'list', '--org', org, '--data-dir', dir], env);
    assert.match(listed.stdout, new RegExp(`^${created.stdout.trim()}\\t`));
    const token = prdhub(['token', '--user', 'u', '--name', 'U', '--org', org, '--data-dir', dir], env);
    assert.equal(token.status, 0, token.stderr);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ---- configuration errors name the file ------------------------------------------

test('errors that combine keys name the configuration file as single keys do', () => {
  const dir = tmpDir();
  try {
    const key = path.join(dir, 'key.pem');
    fs.writeFileSync(key, 'not a key\n');
    const cases = [
      ['[server]\nmax-connections = -1\n', '[server] max-connections: "-1"'],
      [`[server]\ntls-key = ${key}\n`, '[server] tls-key is set but tls-cert is not'],
      ['[ai]\nbase-url = http://127.0.0.1:1/v1\n', '[ai] base-url is set but model is not'],
      ['[rate-limit]\nchatty = 20/60\n', '[rate-limit] chatty: no event is in class "chatty"'],
      ['[rate-limit.events]\nping = nosuch\n', '[rate-limit.events] ping: class "nosuch" has no limit'],
      ['[collab]\nmax-operation-size = 1000000\n',
        '[collab] max-operation-size (1000000) does not fit in [engine] max-payload'],
    ];
    const file = path.join(dir, 'hub.conf');
    for (const [text, message] of cases) {
      fs.writeFileSync(file, text);
      for (const command of [['serve', '--no-dbus', '--listen', '127.0.0.1:0'], ['token', '-u', 'u', '-n', 'N']]) {
        const res = prdhub([...command, '--data-dir', dir, '--config', file],
          { PRDHUB_JWT_SECRET: 'x'.repeat(32) });
        assert.equal(res.status, 1, res.stderr);
        assert.ok(res.stderr.startsWith(`prdhub: ${file}: ${message}`), `${command[0]}: ${res.stderr}`);
        assert.equal(res.stderr.split('\n').length, 2, 'one line');
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
