// SPDX-License-Identifier: GPL-3.0-or-later
//
// `prdhub backup` and `prdhub restore` (README, "Backups"): a backup taken
// while clients edit under load, restored into a new data folder, serves
// every edit acknowledged before the backup started, the versions and the
// secret files; a stopped hub's folder backs up the same way; what each
// command refuses, and that a refusal changes nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  PRDHUB_BIN, START_TIMEOUT_MS, startHub, tmpDir, signJwt, claims, connect, assertCleanStop,
} from './helpers/hub.js';
import { request, join, bump, user, rest, client, createPrd, PRDS } from './collab-helpers.js';

const CONFIG = '[rate-limit]\ndefault = 1000000/1\ncollab = 1000000/1\n';
// No session bus: the secrets go to the owner-only files a backup copies
// (and GLib does not try to autolaunch a bus).
const NO_BUS = { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/prdhub-e2e-bus' };
// No PRDHUB_JWT_SECRET: the hub keeps its secret in <data-dir>/jwt-secret.
const HUB_ENV = { ...NO_BUS, PRDHUB_JWT_SECRET: undefined };
const CLIENTS = 4;

function prdhub(args, env = {}) {
  return spawnSync(PRDHUB_BIN, args, {
    encoding: 'utf8',
    timeout: START_TIMEOUT_MS * 4,
    env: { ...process.env, ...NO_BUS, ...env },
  });
}

function prdhubAsync(args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(PRDHUB_BIN, args, {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...NO_BUS },
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    proc.once('error', reject);
    proc.once('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

// The hub's own secret (generated into <data-dir>/jwt-secret), used to sign.
function tokenFor(dataDir, overrides) {
  const secret = fs.readFileSync(path.join(dataDir, 'jwt-secret'), 'utf8').trim();
  return signJwt(claims(overrides), { secret });
}

async function editor(hub, dataDir, sub) {
  return connect(hub.url, {
    transports: ['websocket'],
    auth: { token: tokenFor(dataDir, user(sub)) },
  }, PRDS);
}

function listing(dir) {
  return fs.readdirSync(dir).sort();
}

test('a backup under load, restored into a new folder, has every edit acknowledged before it',
  async () => {
    const work = tmpDir('prdhub-e2e-backup-');
    const hub = await startHub({ config: CONFIG, env: HUB_ENV });
    let restored;
    const sockets = [];
    try {
      const admin = { ...user('user_admin'), role: 'admin' };
      const adminToken = tokenFor(hub.dataDir, admin);
      const created = await rest(hub, 'POST', '/api/prds', {
        body: { title: 'Backed up', content: '# Backed up\n' }, tok: adminToken,
      });
      assert.equal(created.status, 201, created.text);
      const prdId = created.json.id;

      // A version, so that versions.git exists and has a tag.
      const v = await editor(hub, hub.dataDir, 'user_v');
      sockets.push(v);
      await join(v, prdId);
      const version = await request(v, 'create-version', {
        prdId, changelog: 'First cut', versionType: 'minor',
      });
      assert.equal(version.ok, true, JSON.stringify(version));

      // A secret in the file store.
      const set = spawnSync(PRDHUB_BIN, ['secret', 'set', 'backup-probe', '--data-dir', hub.dataDir],
        {
          input: 'probe-value\n', encoding: 'utf8', timeout: START_TIMEOUT_MS,
          env: { ...process.env, ...NO_BUS },
        });
      assert.equal(set.status, 0, set.stderr);
      assert.ok(fs.existsSync(path.join(hub.dataDir, 'secrets')));

      // Editors type as fast as their acks come back, each its own tokens.
      const acked = [];
      let stop = false;
      const loops = [];
      for (let c = 0; c < CLIENTS; c++) {
        const s = await editor(hub, hub.dataDir, `user_${c}`);
        sockets.push(s);
        const j = await join(s, prdId);
        loops.push((async () => {
          // Only its own operations in its base: position 0 is valid in it.
          let vector = [];
          for (let n = 0; !stop; n++) {
            const word = `[c${c}n${n}]`;
            vector = bump(vector, j.siteId);
            const ack = await request(s, 'content-update', {
              prdId,
              operation: { type: 'insert', position: 0, content: word, timestamp: Date.now() },
              stateVector: vector,
            });
            assert.equal(ack.ok, true, JSON.stringify(ack));
            acked.push(word);
          }
        })());
      }
      const waitFor = async (what, predicate) => {
        const deadline = Date.now() + START_TIMEOUT_MS * 2;
        while (!predicate()) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
          await new Promise((r) => setTimeout(r, 10));
        }
      };
      await waitFor('edits before the backup', () => acked.length >= CLIENTS * 25);

      // Everything acknowledged up to here must be in the backup.
      const before = acked.slice();
      const dest = path.join(work, 'backup');
      const backup = await prdhubAsync(['backup', dest, '--data-dir', hub.dataDir]);
      const during = acked.length - before.length;
      await waitFor('edits after the backup', () => acked.length >= before.length + during + CLIENTS * 5);
      stop = true;
      await Promise.all(loops);
      assert.equal(backup.status, 0, backup.stderr);
      assert.match(backup.stdout, /^Backed up .* to .*backup \(prdhub\.db, versions\.git/);
      const expected = ['prdhub-backup.ini', 'prdhub.db', 'versions.git', 'jwt-secret', 'secrets'];
      assert.deepEqual(listing(dest), expected.sort());
      for (const f of ['jwt-secret', 'secrets', 'prdhub.db', 'versions.git'])
        assert.equal(fs.statSync(path.join(dest, f)).mode & 0o077, 0, `${f} stays owner-only`);
      assert.deepEqual(fs.readdirSync(work), ['backup'], 'no partial folder is left');

      // Restore into a new folder and serve it: same secret, so the same
      // tokens work.
      const target = path.join(work, 'restored');
      const res = prdhub(['restore', dest, '--data-dir', target]);
      assert.equal(res.status, 0, res.stderr);
      assert.match(res.stdout, /^Restored /);
      // and the lock a hub (or a restore) holds while it uses the folder
      assert.deepEqual(listing(target),
        [...expected.filter((f) => f !== 'prdhub-backup.ini'), 'prdhub.lock'].sort());
      assert.equal(fs.statSync(target).mode & 0o077, 0, 'the data folder is owner-only');

      restored = await startHub({
        config: CONFIG, env: HUB_ENV, args: ['--data-dir', target],
      });
      // Clients of the hub before may hold edits the backup lacks: the
      // restored folder's sites are retired, none is numbered like them.
      assert.match(restored.stderr(), /restored from a backup: editors of every PRD get new CRDT sites/);
      const got = await rest(restored, 'GET', `/api/prds/${prdId}`, { tok: adminToken });
      assert.equal(got.status, 200, got.text);
      const missing = before.filter((word) => !got.json.content.includes(word));
      assert.deepEqual(missing, [], `${missing.length} acknowledged edits are missing`);
      assert.ok(got.json.content.includes('# Backed up'));
      // Nothing that was never acknowledged or sent.
      for (const word of got.json.content.match(/\[c\d+n\d+\]/g))
        assert.ok(acked.includes(word), `${word} was acknowledged`);

      const versions = await rest(restored, 'GET', `/api/prds/${prdId}/versions`, { tok: adminToken });
      assert.equal(versions.status, 200, versions.text);
      assert.deepEqual(versions.json.versions.map((x) => x.commitHash), [version.version.commitHash]);
      const text = await rest(restored, 'GET',
        `/api/prds/${prdId}/versions/${version.version.version}`, { tok: adminToken });
      assert.equal(text.status, 200, text.text);
      assert.ok(text.text.includes('# Backed up'));
      const list = prdhub(['secret', 'list', '--data-dir', target]);
      assert.equal(list.status, 0, list.stderr);
      assert.match(list.stdout, /^backup-probe$/m);

      // Not over a running hub, even with --force.
      const over = prdhub(['restore', dest, '--data-dir', target, '--force']);
      assert.equal(over.status, 1);
      assert.match(over.stderr, /in use.*stop it first/);
      const still = await rest(restored, 'GET', `/api/prds/${prdId}`, { tok: adminToken });
      assert.equal(still.json.content, got.json.content);

      // A stopped hub's folder backs up and restores the same way.
      const final = got.json.content;
      for (const s of sockets) s.close();
      sockets.length = 0;
      await assertCleanStop(restored);
      restored = undefined;
      const dest2 = path.join(work, 'backup-stopped');
      assert.equal(prdhub(['backup', dest2, '--data-dir', target]).status, 0);
      // into a folder that exists, open to others: what is restored is not
      const target2 = path.join(work, 'restored-2');
      fs.mkdirSync(target2, { mode: 0o755 });
      fs.chmodSync(target2, 0o755);
      assert.equal(prdhub(['restore', dest2, '--data-dir', target2]).status, 0);
      for (const f of ['prdhub.db', 'versions.git'])
        assert.equal(fs.statSync(path.join(target2, f)).mode & 0o077, 0, `restored ${f} is owner-only`);
      restored = await startHub({
        config: CONFIG, env: HUB_ENV, args: ['--data-dir', target2],
      });
      const again = await rest(restored, 'GET', `/api/prds/${prdId}`, { tok: adminToken });
      assert.equal(again.status, 200, again.text);
      assert.equal(again.json.content, final);
      // A hub that stopped cleanly leaves nothing to retire.
      await assertCleanStop(restored);
      restored = await startHub({
        config: CONFIG, env: HUB_ENV, args: ['--data-dir', target2],
      });
      assert.doesNotMatch(restored.stderr(), /get new CRDT sites/);
    } finally {
      for (const s of sockets) s.close();
      if (restored) await restored.stop();
      await hub.stop();
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

test('backup and restore refuse what they must, and change nothing then', async () => {
  const work = tmpDir('prdhub-e2e-backup-');
  try {
    // A hub's data folder, as `prdhub serve` leaves it (the other commands
    // need it to exist).
    const hubFolder = (name) => {
      const dir = path.join(work, name);
      fs.mkdirSync(dir, { mode: 0o700 });
      return dir;
    };
    const data = hubFolder('data');
    const made = prdhub(['prd', 'create', '--title', 'T', '--data-dir', data]);
    assert.equal(made.status, 0, made.stderr);

    // Usage errors.
    assert.equal(prdhub(['backup', '--data-dir', data]).status, 2);
    assert.equal(prdhub(['backup', 'a', 'b', '--data-dir', data]).status, 2);
    assert.equal(prdhub(['restore']).status, 2);
    assert.equal(prdhub(['backup', path.join(work, 'x'), '--no-such-option']).status, 2);

    // A data folder that does not exist, or is not a hub's.
    let res = prdhub(['backup', path.join(work, 'b1'), '--data-dir', path.join(work, 'typo')]);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /The data folder .*typo does not exist/);
    fs.mkdirSync(path.join(work, 'empty'));
    res = prdhub(['backup', path.join(work, 'b1'), '--data-dir', path.join(work, 'empty')]);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /not a prdhub data folder/);
    assert.ok(!fs.existsSync(path.join(work, 'b1')));
    fs.writeFileSync(path.join(work, 'empty', 'prdhub.db'), 'not a database at all');
    res = prdhub(['backup', path.join(work, 'b1'), '--data-dir', path.join(work, 'empty')]);
    assert.equal(res.status, 1);
    assert.ok(!fs.existsSync(path.join(work, 'b1')));

    // A secret file that is not a regular file of at most 1 MiB is refused.
    const odd = hubFolder('odd');
    assert.equal(prdhub(['prd', 'create', '--title', 'Odd', '--data-dir', odd]).status, 0);
    fs.symlinkSync('/etc/passwd', path.join(odd, 'secrets'));
    res = prdhub(['backup', path.join(work, 'b2'), '--data-dir', odd]);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /secrets is not a regular file/);
    assert.ok(!fs.existsSync(path.join(work, 'b2')));
    fs.unlinkSync(path.join(odd, 'secrets'));
    fs.writeFileSync(path.join(odd, 'jwt-secret'), 'x'.repeat(1024 * 1024 + 1), { mode: 0o600 });
    res = prdhub(['backup', path.join(work, 'b2'), '--data-dir', odd]);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /jwt-secret is not a regular file of at most/);
    assert.ok(!fs.existsSync(path.join(work, 'b2')));
    fs.writeFileSync(path.join(odd, 'jwt-secret'), 'x'.repeat(1024 * 1024), { mode: 0o600 });
    assert.equal(prdhub(['backup', path.join(work, 'b2'), '--data-dir', odd]).status, 0);

    // DEST must be new or empty; an empty folder is fine.
    const full = path.join(work, 'full');
    fs.mkdirSync(full);
    fs.writeFileSync(path.join(full, 'keep'), 'x');
    res = prdhub(['backup', full, '--data-dir', data]);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /not an empty folder/);
    assert.deepEqual(listing(full), ['keep']);
    const emptyDest = path.join(work, 'empty-dest');
    fs.mkdirSync(emptyDest);
    assert.equal(prdhub(['backup', `${emptyDest}/`, '--data-dir', data]).status, 0);
    assert.ok(listing(emptyDest).includes('prdhub.db'));
    // Nothing half-done is left beside it after any of this.
    assert.deepEqual(fs.readdirSync(work).filter((f) => f.includes('partial')), []);

    // Restore: only a backup, only into an empty folder unless --force.
    res = prdhub(['restore', data, '--data-dir', path.join(work, 'r0')]);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /not a prdhub backup/);
    assert.ok(!fs.existsSync(path.join(work, 'r0')));
    res = prdhub(['restore', path.join(work, 'nowhere'), '--data-dir', path.join(work, 'r0')]);
    assert.equal(res.status, 1);

    const other = hubFolder('other');
    assert.equal(prdhub(['prd', 'create', '--title', 'Other', '--data-dir', other]).status, 0);
    const otherDb = fs.readFileSync(path.join(other, 'prdhub.db'));
    res = prdhub(['restore', emptyDest, '--data-dir', other]);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /not empty.*--force/);
    assert.ok(otherDb.equals(fs.readFileSync(path.join(other, 'prdhub.db'))), 'unchanged');

    // A backup whose database is a link to one elsewhere is refused.
    const linked = path.join(work, 'linked');
    fs.cpSync(emptyDest, linked, { recursive: true });
    fs.rmSync(path.join(linked, 'prdhub.db'));
    fs.symlinkSync(path.join(other, 'prdhub.db'), path.join(linked, 'prdhub.db'));
    res = prdhub(['restore', linked, '--data-dir', path.join(work, 'r1')]);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /prdhub\.db is a symbolic link/);
    assert.ok(!fs.existsSync(path.join(work, 'r1')));

    fs.writeFileSync(path.join(other, 'notes.txt'), 'operator notes');
    const backupFiles = listing(emptyDest);
    res = prdhub(['restore', emptyDest, '--data-dir', other, '--force']);
    assert.equal(res.status, 0, res.stderr);
    // Reading the backup wrote nothing beside it (no -wal or -shm).
    assert.deepEqual(listing(emptyDest), backupFiles);
    const list = prdhub(['prd', 'list', '--data-dir', other]);
    assert.match(list.stdout, /\tT\n/);
    assert.doesNotMatch(list.stdout, /Other/);
    assert.equal(fs.readFileSync(path.join(other, 'notes.txt'), 'utf8'), 'operator notes');
    assert.deepEqual(fs.readdirSync(other).filter((f) => f.startsWith('.restore')), []);

    // A backup of a newer format is refused.
    const ini = path.join(emptyDest, 'prdhub-backup.ini');
    fs.writeFileSync(ini, fs.readFileSync(ini, 'utf8').replace('format=1', 'format=99'));
    res = prdhub(['restore', emptyDest, '--data-dir', path.join(work, 'r9')]);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /format 99/);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

// `prdhub serve` on @dataDir until it listens, then stopped: its stderr.
function serveOnce(dataDir) {
  return new Promise((resolve, reject) => {
    const proc = spawn(PRDHUB_BIN, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir,
      '--no-dbus', '--log-level', 'info'], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...NO_BUS },
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => {
      stdout += d;
      if (/listening on/.test(stdout)) proc.kill('SIGTERM');
    });
    proc.stderr.on('data', (d) => { stderr += d; });
    proc.once('error', reject);
    proc.once('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

// A destination that fills up: the error names the copy being written, not
// the data folder's database (a file size limit acts as a full disk;
// SIGXFSZ ignored, as an ignored signal stays ignored across exec), and
// nothing of the backup is left.
test('a backup whose destination fills up names the copy, and leaves nothing', () => {
  const work = tmpDir('prdhub-e2e-backup-full-');
  const data = path.join(work, 'data');
  try {
    fs.mkdirSync(data, { mode: 0o700 });
    const made = prdhub(['prd', 'create', '--title', 'T', '--data-dir', data]);
    assert.equal(made.status, 0, made.stderr);
    // larger than the limit below, which leaves room for reading it (its -shm)
    assert.ok(fs.statSync(path.join(data, 'prdhub.db')).size > 65536);
    const full = spawnSync('/bin/sh', ['-c', 'trap "" XFSZ; exec prlimit --fsize=65536 "$0" "$@"',
      PRDHUB_BIN, 'backup', path.join(work, 'b-full'), '--data-dir', data],
    { encoding: 'utf8', env: { ...process.env, ...NO_BUS } });
    assert.equal(full.status, 1, full.stderr);
    assert.match(full.stderr,
      /: \S+\/\.b-full\.partial-\w+\/prdhub\.db: Cannot write the copy of the database: /);
    assert.ok(!fs.existsSync(path.join(work, 'b-full')));
    assert.deepEqual(fs.readdirSync(work).filter((f) => f.includes('partial')), []);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

// A backup stopped by SIGINT, SIGTERM or SIGHUP while it copies removes its
// temporary folder (a copy of the database and of the secret files) and
// fails; one killed outright (SIGKILL) leaves it, and the next backup to
// the same DEST removes it, but not the folder a backup under way holds,
// nor another DEST's.
test('a stopped backup leaves nothing; the next one removes what a killed one left', async () => {
  const work = tmpDir('prdhub-e2e-backup-stop-');
  const data = path.join(work, 'data');
  const backups = path.join(work, 'backups');
  try {
    fs.mkdirSync(data, { mode: 0o700 });
    fs.mkdirSync(backups);
    // Large enough that the copy is still under way when the signal comes.
    const big = path.join(work, 'big.md');
    let text = '';
    let seed = 1;
    while (text.length < 1_000_000) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      text += (seed % 7 === 0) ? '\n' : String.fromCharCode(97 + (seed % 26));
    }
    fs.writeFileSync(big, text);
    for (let i = 0; i < 20; i++) {
      const res = prdhub(['prd', 'import', big, '--title', `B${i}`, '--data-dir', data]);
      assert.equal(res.status, 0, res.stderr);
    }
    const set = spawnSync(PRDHUB_BIN, ['secret', 'set', 'probe', '--data-dir', data], {
      input: 'api-key-value\n', encoding: 'utf8', env: { ...process.env, ...NO_BUS },
    });
    assert.equal(set.status, 0, set.stderr);

    const partials = (name) => fs.readdirSync(backups)
      .filter((f) => f.startsWith(`.${name}.partial-`));
    // A backup to backups/@name, sent @signal once its copy of the
    // database is being written.
    const interrupt = async (name, signal) => {
      const proc = spawn(PRDHUB_BIN, ['backup', path.join(backups, name), '--data-dir', data], {
        stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...NO_BUS },
      });
      let stderr = '';
      proc.stderr.on('data', (d) => { stderr += d; });
      const exited = new Promise((resolve) => proc.once('exit', (status, sig) => resolve({ status, sig })));
      let running = true;
      exited.then(() => { running = false; });
      while (running && !partials(name).some((p) => fs.existsSync(path.join(backups, p, 'prdhub.db')))) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.ok(running, `the backup ended before its copy was seen: ${stderr}`);
      proc.kill(signal);
      return { ...(await exited), stderr };
    };

    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
      const name = `nightly-${signal}`;
      const res = await interrupt(name, signal);
      assert.equal(res.status, 1, `${signal}: ${res.sig} ${res.stderr}`);
      assert.match(res.stderr, new RegExp(`prdhub: Nothing was backed up: stopped by ${signal}\n`));
      assert.ok(!fs.existsSync(path.join(backups, name)));
      assert.deepEqual(partials(name), [], `${signal} left its temporary folder`);
    }

    // SIGKILL cannot be caught: its folder stays until the next backup.
    const killed = await interrupt('nightly', 'SIGKILL');
    assert.equal(killed.sig, 'SIGKILL');
    const [leftover] = partials('nightly');
    assert.ok(leftover, 'a killed backup leaves its temporary folder');
    // A backup to the same DEST under way (its folder held), and what
    // backups to other names left, are not touched.
    const held = path.join(backups, '.nightly.partial-held01');
    const others = ['.nightly-2.partial-abc123', '.nightly.partial-abc123.partial-zzzzzz'];
    for (const dir of [held, ...others.map((o) => path.join(backups, o))]) {
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'prdhub.db'), 'copy');
    }
    const holder = spawn('flock', [held, 'sh', '-c', 'echo held; exec cat'], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise((resolve) => holder.stdout.once('data', resolve));
    try {
      const res = prdhub(['backup', path.join(backups, 'nightly'), '--data-dir', data]);
      assert.equal(res.status, 0, res.stderr);
      assert.match(res.stderr, new RegExp(`Removed \\S+/${leftover.replaceAll('.', '\\.')}, what a backup to \\S+ that was stopped left`));
      assert.deepEqual(fs.readdirSync(backups).filter((f) => f.includes('partial')).sort(),
        ['.nightly.partial-held01', ...others].sort());
      assert.ok(fs.existsSync(path.join(backups, 'nightly', 'prdhub-backup.ini')));
    } finally {
      holder.stdin.end();
      await new Promise((resolve) => holder.once('exit', resolve));
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

// A data folder that lost its database (deleted, or emptied) while its
// versions repository holds versions, or lost its versions repository
// while the database records versions, is refused by `serve`, `backup`
// and the commands that open it, naming what is missing and what to do,
// and nothing is made in its place; so is one whose database or versions
// repository is a symbolic link. A ref that is there but cannot be read
// fails a backup, naming it, instead of being left out of it.
test('a data folder missing its database or versions, or with an unreadable ref, is refused', async () => {
  const work = tmpDir('prdhub-e2e-damaged-');
  const data = path.join(work, 'data');
  try {
    const hub = await startHub({ args: ['--data-dir', data] });
    const alice = user('damaged_alice');
    const prdId = await createPrd(hub, 'Damaged', 'text\n', alice);
    const s = await client(hub, alice);
    await join(s, prdId);
    for (const versionType of ['minor', 'patch']) {
      const v = await request(s, 'create-version', { prdId, changelog: versionType, versionType, force: true });
      assert.equal(v.ok, true, JSON.stringify(v));
    }
    s.close();
    await assertCleanStop(hub, 'the hub that made the versions');

    const copy = (name, damage) => {
      const dir = path.join(work, name);
      fs.cpSync(data, dir, { recursive: true });
      damage(dir);
      return dir;
    };
    const refuses = async (dir, pattern) => {
      const before = listing(dir);
      const dest = path.join(work, `${path.basename(dir)}-backup`);
      let res = prdhub(['backup', dest, '--data-dir', dir]);
      assert.equal(res.status, 1, res.stderr);
      assert.match(res.stderr, new RegExp(`Nothing was backed up: ${pattern.source}`));
      assert.ok(!fs.existsSync(dest));
      res = prdhub(['prd', 'list', '--data-dir', dir]);
      assert.equal(res.status, 1, res.stderr);
      assert.match(res.stderr, pattern);
      await assert.rejects(startHub({ args: ['--data-dir', dir] }),
        (err) => /exited early \(code 1/.test(err.message) && pattern.test(err.message));
      // nothing made in place of what is missing (the lock file aside)
      assert.deepEqual(listing(dir).filter((f) => f !== 'prdhub.lock'), before.filter((f) => f !== 'prdhub.lock'));
    };
    const dbFiles = ['prdhub.db', 'prdhub.db-wal', 'prdhub.db-shm'];

    await refuses(copy('db-missing', (d) => dbFiles.forEach((f) => fs.rmSync(path.join(d, f), { force: true }))),
      /The database \S+prdhub\.db is missing, but the versions repository \S+versions\.git holds versions.*Restore a backup/);
    await refuses(copy('db-empty', (d) => {
      dbFiles.forEach((f) => fs.rmSync(path.join(d, f), { force: true }));
      fs.writeFileSync(path.join(d, 'prdhub.db'), '');
    }), /The database \S+prdhub\.db is empty, but the versions repository/);
    await refuses(copy('git-missing', (d) => fs.rmSync(path.join(d, 'versions.git'), { recursive: true })),
      /The database \S+prdhub\.db records versions of PRDs, but the versions repository \S+versions\.git is missing/);
    // Emptied, made anew, or left without refs: as good as missing.
    const emptied = /The database \S+prdhub\.db records versions of PRDs, but the versions repository \S+versions\.git is empty/;
    await refuses(copy('git-emptied', (d) => {
      fs.rmSync(path.join(d, 'versions.git'), { recursive: true });
      fs.mkdirSync(path.join(d, 'versions.git'));
    }), emptied);
    await refuses(copy('git-anew', (d) => {
      fs.rmSync(path.join(d, 'versions.git'), { recursive: true });
      spawnSync('git', ['init', '-q', '--bare', path.join(d, 'versions.git')]);
    }), emptied);
    await refuses(copy('git-no-refs', (d) => {
      fs.rmSync(path.join(d, 'versions.git', 'refs'), { recursive: true });
      fs.mkdirSync(path.join(d, 'versions.git', 'refs', 'heads'), { recursive: true });
      fs.mkdirSync(path.join(d, 'versions.git', 'refs', 'tags'), { recursive: true });
      fs.rmSync(path.join(d, 'versions.git', 'packed-refs'), { force: true });
    }), emptied);

    // A database, its WAL or the versions repository that is a symbolic
    // link to one elsewhere (moved to another disk, say) is refused, not
    // used: what it points to would never be made private. The target is
    // left as it was.
    const elsewhere = path.join(work, 'elsewhere');
    fs.mkdirSync(elsewhere);
    const linkOut = (name, mode) => (d) => {
      const target = path.join(elsewhere, `${path.basename(d)}-${name}`);
      if (fs.existsSync(path.join(d, name))) fs.renameSync(path.join(d, name), target);
      else fs.writeFileSync(target, '');
      fs.chmodSync(target, mode);
      fs.symlinkSync(target, path.join(d, name));
      return target;
    };
    const linkCases = [['db-linked', 'prdhub.db', 0o644], ['wal-linked', 'prdhub.db-wal', 0o644],
      ['git-linked', 'versions.git', 0o755]];
    for (const [name, file, mode] of linkCases) {
      let target;
      const dir = copy(name, (d) => { target = linkOut(file, mode)(d); });
      await refuses(dir, new RegExp(`${path.join(dir, file).replaceAll('.', '\\.')} is a symbolic link: a prdhub data or backup folder holds the files themselves`));
      assert.equal(fs.statSync(target).mode & 0o777, mode, `${file}'s target is left as it was`);
    }

    // A loose ref that libgit2 cannot parse: the backup fails and names it.
    for (const ref of [`refs/tags/${prdId}/v0.2.0`, 'refs/heads/main']) {
      const dir = copy(`bad-${ref.replaceAll('/', '-')}`, (d) => fs.writeFileSync(path.join(d, 'versions.git', ref), 'zz\n'));
      const dest = path.join(work, `${path.basename(dir)}-backup`);
      const res = prdhub(['backup', dest, '--data-dir', dir]);
      assert.equal(res.status, 1, res.stderr);
      assert.match(res.stderr, new RegExp(`Nothing was backed up: Cannot read the ref ${ref} of `));
      assert.ok(!fs.existsSync(dest));
    }
    assert.deepEqual(fs.readdirSync(work).filter((f) => f.includes('partial')), []);

    // The undamaged folder backs up, with both tags.
    const res = prdhub(['backup', path.join(work, 'good'), '--data-dir', data]);
    assert.equal(res.status, 0, res.stderr);
    const tags = spawnSync('git', ['--git-dir', path.join(work, 'good', 'versions.git'), 'tag', '-l'], { encoding: 'utf8' });
    assert.deepEqual(tags.stdout.trim().split('\n'), [`${prdId}/v0.2.0`, `${prdId}/v0.2.1`]);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test('a restore killed while it swaps files is finished, or undone, by the next command or hub',
  async () => {
    const work = tmpDir('prdhub-e2e-backup-');
    try {
      // The backup holds PRD "New"; the data folder PRD "Old".
      const source = path.join(work, 'source');
      fs.mkdirSync(source, { mode: 0o700 });
      let res = prdhub(['prd', 'create', '--title', 'New', '--data-dir', source], HUB_ENV);
      assert.equal(res.status, 0, res.stderr);
      assert.equal(prdhub(['token', '--user', 'u', '--name', 'U', '--data-dir', source], HUB_ENV)
        .status, 0);
      const bk = path.join(work, 'bk');
      res = prdhub(['backup', bk, '--data-dir', source]);
      assert.equal(res.status, 0, res.stderr);
      const newFiles = listing(bk).filter((f) => f !== 'prdhub-backup.ini');

      const folder = (name) => {
        const data = path.join(work, name);
        fs.mkdirSync(data, { mode: 0o700 });
        assert.equal(prdhub(['prd', 'create', '--title', 'Old', '--data-dir', data]).status, 0);
        fs.writeFileSync(path.join(data, 'notes.txt'), 'operator notes');
        return data;
      };
      // What `restore --force` leaves when killed after it marked its copy
      // complete and moved the old database aside (the moment the audit
      // killed it: no prdhub.db in the folder at all).
      const interrupted = (data, { marked }) => {
        const swap = path.join(data, '.restore-e2e123');
        fs.mkdirSync(path.join(swap, 'new'), { recursive: true, mode: 0o700 });
        for (const f of newFiles) {
          fs.cpSync(path.join(bk, f), path.join(swap, 'new', f), { recursive: true });
        }
        if (!marked) return;
        fs.writeFileSync(path.join(swap, 'complete'),
          `[swap]\nfiles=${newFiles.join(';')};\n`
          + 'replaced=prdhub.db;prdhub.db-wal;prdhub.db-shm;prdhub.db-journal;versions.git;'
          + 'secrets;jwt-secret;\n');
        fs.mkdirSync(path.join(swap, 'old'), { mode: 0o700 });
        for (const f of ['prdhub.db', 'prdhub.db-wal', 'prdhub.db-shm']) {
          if (fs.existsSync(path.join(data, f))) {
            fs.renameSync(path.join(data, f), path.join(swap, 'old', f));
          }
        }
        assert.ok(!fs.existsSync(path.join(data, 'prdhub.db')));
      };
      const noSwapLeft = (data) => assert.deepEqual(
        fs.readdirSync(data).filter((f) => f.startsWith('.restore')), []);

      // A command finishes a marked swap: the backup's PRD, not an empty hub.
      const a = folder('a');
      interrupted(a, { marked: true });
      res = prdhub(['prd', 'list', '--data-dir', a]);
      assert.equal(res.status, 0, res.stderr);
      assert.match(res.stdout, /\tNew\n/);
      assert.doesNotMatch(res.stdout, /Old/);
      assert.match(res.stderr, /Finished the restore that was interrupted in/);
      assert.equal(fs.readFileSync(path.join(a, 'notes.txt'), 'utf8'), 'operator notes');
      noSwapLeft(a);

      // So does a hub starting on it.
      const b = folder('b');
      interrupted(b, { marked: true });
      res = await serveOnce(b);
      assert.match(res.stderr, /Finished the restore that was interrupted in/);
      noSwapLeft(b);
      assert.match(prdhub(['prd', 'list', '--data-dir', b]).stdout, /\tNew\n/);

      // One killed before its copy was complete changed nothing: undone.
      const c = folder('c');
      interrupted(c, { marked: false });
      res = await serveOnce(c);
      assert.match(res.stderr, /Removed .*restore-e2e123, the copy of a restore that stopped/);
      noSwapLeft(c);
      res = prdhub(['prd', 'list', '--data-dir', c]);
      assert.match(res.stdout, /\tOld\n/);
      assert.doesNotMatch(res.stdout, /New/);

      // A backup of such a folder finishes the swap first, then copies it.
      const d = folder('d');
      interrupted(d, { marked: true });
      res = prdhub(['backup', path.join(work, 'bk-d'), '--data-dir', d]);
      assert.equal(res.status, 0, res.stderr);
      noSwapLeft(d);
      // And a restore into it, too.
      const e = folder('e');
      interrupted(e, { marked: false });
      res = prdhub(['restore', bk, '--data-dir', e, '--force']);
      assert.equal(res.status, 0, res.stderr);
      assert.match(res.stderr, /Removed .*restore-e2e123/);
      noSwapLeft(e);
      assert.match(prdhub(['prd', 'list', '--data-dir', e]).stdout, /\tNew\n/);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

test('a backup goes outside the data folder, into a named folder', async () => {
  const work = tmpDir('prdhub-e2e-backup-');
  try {
    const data = path.join(work, 'data');
    fs.mkdirSync(data, { mode: 0o700 });
    let res = prdhub(['prd', 'create', '--title', 'T', '--data-dir', data]);
    assert.equal(res.status, 0, res.stderr);
    const before = listing(data);

    // Inside the data folder, however it is named: refused, nothing made.
    fs.symlinkSync(data, path.join(work, 'link'));
    for (const dest of [
      path.join(data, 'prdhub.db-journal'), path.join(data, 'prdhub.db-wal'),
      path.join(data, 'secrets'), path.join(data, 'sub'), data, `${data}/`,
      path.join(work, 'data', '..', 'data', 'x'), path.join(work, 'link', 'y'),
      path.join(work, 'link'),
    ]) {
      res = prdhub(['backup', dest, '--data-dir', data]);
      assert.equal(res.status, 1, dest);
      assert.match(res.stderr, /is inside the data folder .*; a backup goes outside it/, dest);
      assert.deepEqual(listing(data), before, dest);
    }
    res = prdhub(['prd', 'list', '--data-dir', data]);
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /\tT\n/);

    // An empty DEST or SRC is a usage error.
    res = prdhub(['backup', '', '--data-dir', data]);
    assert.equal(res.status, 2);
    assert.match(res.stderr, /DEST is empty.*\(see `prdhub help backup`\)/);
    res = prdhub(['restore', '', '--data-dir', data]);
    assert.equal(res.status, 2);
    assert.match(res.stderr, /SRC is empty.*\(see `prdhub help restore`\)/);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

// A backup's copy of the versions repository, and a restored one.
test('under umask 000, nothing of a backup or a restored repository is open to others',
  async () => {
    const work = tmpDir('prdhub-e2e-backup-');
    try {
      // Under umask 000, nothing of a backup (nor of a restored folder) is
      // open to group or others.
      const source = path.join(work, 'source');
      fs.mkdirSync(source, { mode: 0o700 });
      const hub = spawnSync('/bin/sh', ['-c',
        'umask 000 && "$0" prd create --title V --data-dir "$1" && '
        + '"$0" token --user u --name U --data-dir "$1" && '
        + 'printf "v\\n" | "$0" secret set probe --data-dir "$1"',
        PRDHUB_BIN, source], { encoding: 'utf8', env: { ...process.env, ...HUB_ENV } });
      assert.equal(hub.status, 0, hub.stderr);
      // A versions repository as a hub under umask 000 writes it.
      const git = spawnSync('/bin/sh', ['-c',
        'umask 000 && git init -q --bare -b main "$0/versions.git" && '
        + 'git --git-dir="$0/versions.git" -c user.name=u -c user.email=u@x commit-tree '
        + '-m v 4b825dc642cb6eb9a060e54bf8d69288fbee4904 > "$0/c" && '
        + 'git --git-dir="$0/versions.git" update-ref refs/heads/main "$(cat "$0/c")" && '
        + 'rm "$0/c"', source], { encoding: 'utf8' });
      assert.equal(git.status, 0, git.stderr);
      const bk = path.join(work, 'bk');
      let res = spawnSync('/bin/sh', ['-c', 'umask 000 && exec "$0" backup "$1" --data-dir "$2"',
        PRDHUB_BIN, bk, source], { encoding: 'utf8', env: { ...process.env, ...NO_BUS } });
      assert.equal(res.status, 0, res.stderr);
      assert.match(res.stdout, /versions\.git/);
      const restored = path.join(work, 'restored');
      res = spawnSync('/bin/sh', ['-c', 'umask 000 && exec "$0" restore "$1" --data-dir "$2"',
        PRDHUB_BIN, bk, restored], { encoding: 'utf8', env: { ...process.env, ...NO_BUS } });
      assert.equal(res.status, 0, res.stderr);
      const open = [];
      const walk = (p) => {
        const st = fs.lstatSync(p);
        if (st.mode & 0o077) open.push(`${(st.mode & 0o777).toString(8)} ${p}`);
        if (st.isDirectory()) for (const f of fs.readdirSync(p)) walk(path.join(p, f));
      };
      walk(bk);
      walk(path.join(restored, 'versions.git'));
      assert.deepEqual(open, []);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

test('restore refuses a backup whose secret files the hub could not read', async () => {
  const work = tmpDir('prdhub-e2e-backup-');
  try {
    const source = path.join(work, 'source');
    fs.mkdirSync(source, { mode: 0o700 });
    let res = prdhub(['prd', 'create', '--title', 'V', '--data-dir', source], HUB_ENV);
    assert.equal(res.status, 0, res.stderr);
    assert.equal(prdhub(['token', '--user', 'u', '--name', 'U', '--data-dir', source], HUB_ENV)
      .status, 0);
    res = spawnSync(PRDHUB_BIN, ['secret', 'set', 'probe', '--data-dir', source], {
      input: 'v\n', encoding: 'utf8', env: { ...process.env, ...NO_BUS },
    });
    assert.equal(res.status, 0, res.stderr);
    const bk = path.join(work, 'bk');
    res = prdhub(['backup', bk, '--data-dir', source]);
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /secrets, jwt-secret/);

    // A backup whose secret files the hub could not read is refused, and
    // the data folder is left as it was.
    const target = path.join(work, 'target');
    fs.mkdirSync(target, { mode: 0o700 });
    assert.equal(prdhub(['prd', 'create', '--title', 'Kept', '--data-dir', target]).status, 0);
    const unlocked = (dir) => listing(dir).filter((f) => f !== 'prdhub.lock');
    const kept = unlocked(target);
    const keptDb = fs.readFileSync(path.join(target, 'prdhub.db'));
    const broken = [
      ['secrets', 'not = a key file [\n', /backup's .*secrets cannot be used: .*not a valid key file/],
      ['jwt-secret', 'short\n', /backup's .*jwt-secret cannot be used: .*shorter than/],
    ];
    for (const [file, contents, message] of broken) {
      const bad = path.join(work, `bad-${file}`);
      fs.cpSync(bk, bad, { recursive: true });
      fs.writeFileSync(path.join(bad, file), contents, { mode: 0o600 });
      res = prdhub(['restore', bad, '--data-dir', target, '--force']);
      assert.equal(res.status, 1, file);
      assert.match(res.stderr, message);
      assert.match(res.stderr, /Nothing was restored/);
      assert.deepEqual(unlocked(target), kept);
      assert.ok(keptDb.equals(fs.readFileSync(path.join(target, 'prdhub.db'))), file);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});
