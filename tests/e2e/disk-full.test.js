// SPDX-License-Identifier: GPL-3.0-or-later
//
// A full disk while clients edit: the hub's file size limit (RLIMIT_FSIZE,
// lowered on the running hub with prlimit(1)) makes every write that grows
// the database fail as a full disk does. Edits are refused with
// STORAGE_ERROR, every client of /prds hears `storage-status` {ok: false},
// nothing acknowledged is lost, and once the limit is lifted ("space
// returns") the same hub, without a restart, takes edits again and says
// `storage-status` {ok: true}. Restarted on the same data folder, it holds
// every acknowledged edit.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startHub, tmpDir, token } from './helpers/hub.js';
import { bump, client, createPrd, join, once, request, rest, user } from './collab-helpers.js';

function largestFile(dir) {
  let max = 0;
  for (const name of fs.readdirSync(dir)) {
    const st = fs.statSync(path.join(dir, name));
    if (st.isFile()) max = Math.max(max, st.size);
  }
  return max;
}

function setFileSizeLimit(pid, bytes) {
  // soft limit only: the hard one stays, so the limit can be lifted again
  execFileSync('prlimit', ['--pid', String(pid), `--fsize=${bytes}:`]);
}

// A refused append closes the PRD's room: each member gets the `error`
// event STORAGE_ERROR (maybe after the refused edit's ack) and joins again.
// Rejoin only once the room was closed `n` times, so that the join does not
// take that error for its own answer.
function countClosures(socket) {
  const closures = [];
  socket.on('error', (e) => { if (e?.code === 'STORAGE_ERROR') closures.push(e); });
  return closures;
}

async function rejoinAfter(socket, prdId, closures, n) {
  const deadline = Date.now() + 30000;
  while (closures.length < n) {
    if (Date.now() > deadline) throw new Error(`the room was closed ${closures.length} times, not ${n}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return join(socket, prdId);
}

test('a full disk refuses edits with STORAGE_ERROR, loses nothing acknowledged, and heals by itself', async () => {
  const dataDir = tmpDir('prdhub-e2e-full-');
  // No snapshots or autosave in the way: the appends are what fills the disk.
  const config = '[collab]\nsnapshot-every=100000\n';
  let hub = await startHub({ config, args: ['--data-dir', dataDir] });
  const alice = user('disk_alice');
  const acked = [];
  try {
    const prdId = await createPrd(hub, 'Disk full', 'start\n', alice);
    const writer = await client(hub, alice);
    const observer = await client(hub, user('disk_observer'));
    const statuses = [];
    observer.on('storage-status', (s) => statuses.push(s));
    const closures = countClosures(writer);
    let { siteId, vector } = await join(writer, prdId);

    const send = async (n) => {
      const marker = `<${n}>`;
      const next = bump(vector, siteId);
      const ack = await request(writer, 'content-update', {
        prdId, operation: { type: 'insert', position: 0, content: marker }, stateVector: next,
      });
      if (ack.ok) {
        acked.push(marker);
        vector = next;
      }
      return ack;
    };

    for (let n = 0; n < 5; n++) assert.equal((await send(n)).ok, true);

    // The disk fills up: a little room left in the largest file (the WAL).
    setFileSizeLimit(hub.pid, largestFile(dataDir) + 16384);
    const statusDown = once(observer, 'storage-status', 60000);
    let refused;
    for (let n = 5; n < 2000 && !refused; n++) {
      const ack = await send(n);
      if (!ack.ok) refused = ack;
    }
    assert.ok(refused, 'an edit was refused once the disk was full');
    assert.equal(refused.error.code, 'STORAGE_ERROR', JSON.stringify(refused));
    const { args: [down] } = await statusDown;
    assert.equal(down.ok, false);
    assert.equal(down.code, 'STORAGE_ERROR');
    assert.equal(typeof down.message, 'string');

    // Still full: joining again works (reading needs no space), edits are
    // refused again, the hub stays up.
    ({ siteId, vector } = await rejoinAfter(writer, prdId, closures, 1));
    const again = await send(10000);
    assert.equal(again.error?.code, 'STORAGE_ERROR');
    const health = await rest(hub, 'GET', '/healthz');
    assert.equal(health.status, 200);

    // Space returns: the same hub takes edits again.
    setFileSizeLimit(hub.pid, 'unlimited');
    const statusUp = once(observer, 'storage-status', 60000);
    ({ siteId, vector } = await rejoinAfter(writer, prdId, closures, 2));
    assert.equal((await send(20000)).ok, true);
    const { args: [up] } = await statusUp;
    assert.equal(up.ok, true);
    assert.deepEqual(statuses.map((s) => s.ok), [false, true]);

    const doc = (await rest(hub, 'GET', `/api/prds/${prdId}`)).json;
    for (const m of acked) assert.ok(doc.content.includes(m), `acknowledged ${m} is there`);
    writer.close();
    observer.close();

    // Restarted on the same folder: every acknowledged edit is still there.
    // Edits were lost in that run, after joins may have been handed them:
    // the next start retires every site.
    const stopping = hub.stderr;
    await hub.stop();
    assert.match(stopping(), /Some edits could not be stored in this run: the next start gives/);
    hub = await startHub({ config, args: ['--data-dir', dataDir] });
    assert.match(hub.stderr(), /did not mark a clean stop/);
    const after = (await rest(hub, 'GET', `/api/prds/${prdId}`)).json;
    assert.equal(after.content, [...acked].reverse().join('') + 'start\n');
  } finally {
    await hub.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

// A version whose record the database refuses (its commit and tag fit in
// versions.git, the record does not fit in the database) leaves no tag for
// a git push to send, and its number is taken again by the next version.
// The commits stay on main: the history is never rewritten.
test('a version the database refuses leaves no tag, and the next one reuses its number', async () => {
  const dataDir = tmpDir('prdhub-e2e-full-version-');
  const config = '[collab]\nsnapshot-every=100000\n';
  const hub = await startHub({ config, args: ['--data-dir', dataDir] });
  const alice = user('disk_version_alice', { role: 'admin' });
  const git = (...args) => execFileSync('git', ['--git-dir', path.join(dataDir, 'versions.git'), ...args],
    { encoding: 'utf8' });
  try {
    const prdId = await createPrd(hub, 'Disk full versions', 'aaa\n', alice);
    const socket = await client(hub, alice);
    const { siteId, vector } = await join(socket, prdId);
    const first = await request(socket, 'create-version', { prdId, changelog: 'first', versionType: 'minor' });
    assert.equal(first.version?.version, '0.2.0', JSON.stringify(first));
    const next = bump(vector, siteId);
    assert.equal((await request(socket, 'content-update', {
      prdId, operation: { type: 'insert', position: 0, content: 'NEW ' }, stateVector: next,
    })).ok, true);

    // No room left in the database's files; small git objects still fit.
    setFileSizeLimit(hub.pid, largestFile(dataDir));
    for (let i = 0; i < 3; i++) {
      const refused = await request(socket, 'create-version', {
        prdId, changelog: `during ${i}`, versionType: 'patch', force: true,
      });
      assert.equal(refused.error?.code, 'STORAGE_ERROR', JSON.stringify(refused));
    }
    assert.deepEqual(git('for-each-ref', '--format=%(refname)', 'refs/tags').trim().split('\n'),
      [`refs/tags/${prdId}/v0.2.0`]);

    setFileSizeLimit(hub.pid, 'unlimited');
    await join(socket, prdId);
    const after = await request(socket, 'create-version', {
      prdId, changelog: 'after', versionType: 'patch', force: true,
    });
    assert.equal(after.version?.version, '0.2.1', JSON.stringify(after));
    const versions = (await rest(hub, 'GET', `/api/prds/${prdId}/versions`, { tok: token(alice) })).json;
    assert.deepEqual(versions.versions.map((v) => `${v.version} ${v.changelog}`), ['0.2.0 first', '0.2.1 after']);
    assert.deepEqual(git('for-each-ref', '--format=%(refname) %(contents:subject)', 'refs/tags').trim().split('\n'),
      [`refs/tags/${prdId}/v0.2.0 first`, `refs/tags/${prdId}/v0.2.1 after`]);
    socket.close();
  } finally {
    await hub.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('the SDK keeps unacknowledged edits through a full disk and sends them once space returns', async () => {
  const { sdkClient, converged, SDK_HUB_CONFIG } = await import('./sdk-helpers.js');
  const hub = await startHub({ config: `${SDK_HUB_CONFIG}[collab]\nsnapshot-every=100000\n` });
  const alice = user('disk_sdk_alice');
  const a = sdkClient(hub, await createPrd(hub, 'Disk full SDK', 'start', alice), alice);
  try {
    await a.connect();
    for (let i = 0; i < 5; i++) a.insert(a.length, `[${i}]`);
    await a.whenSynced();

    const errors = [];
    const statuses = [];
    a.on('error', (e) => errors.push(e.code));
    a.on('storage-status', (s) => statuses.push(s.ok));
    setFileSizeLimit(hub.pid, largestFile(hub.dataDir) + 16384);
    for (let i = 5; i < 5000 && !errors.includes('STORAGE_ERROR'); i++) {
      a.insert(a.length, `[${i}]`);
      await new Promise((r) => setTimeout(r, 2));
    }
    assert.ok(errors.includes('STORAGE_ERROR'), `errors: ${errors}`);
    // More typing while the hub cannot store: kept locally.
    for (let i = 0; i < 20; i++) a.insert(1, 'w');
    const expected = a.text;
    assert.ok(a.pendingCount > 0);

    setFileSizeLimit(hub.pid, 'unlimited');
    const doc = await converged(hub, a.prdId, [a], alice);
    assert.equal(doc.content, expected);
    assert.equal(a.pendingCount, 0);
    assert.equal(statuses[0], false);
  } finally {
    a.close();
    await hub.stop();
  }
});

// The same with a real full disk: the data folder on a small tmpfs (needs
// root for mount(8); skipped otherwise), filled up to a few KiB with a
// file, then emptied again.
test('a real full disk (small tmpfs): STORAGE_ERROR, then edits again once space is freed', async (t) => {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    t.skip('mounting a tmpfs needs root');
    return;
  }
  const dataDir = tmpDir('prdhub-e2e-tmpfs-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m,mode=0700', 'tmpfs', dataDir]);
  } catch (err) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    t.skip(`cannot mount a tmpfs: ${err.message}`);
    return;
  }
  const config = '[collab]\nsnapshot-every=100000\n';
  let hub;
  try {
    hub = await startHub({ config, args: ['--data-dir', dataDir] });
    const alice = user('tmpfs_alice');
    const prdId = await createPrd(hub, 'tmpfs', 'start\n', alice);
    const writer = await client(hub, alice);
    const observer = await client(hub, user('tmpfs_observer'));
    const closures = countClosures(writer);
    let { siteId, vector } = await join(writer, prdId);
    const acked = [];
    const send = async (n) => {
      const marker = `<${n}>`;
      const next = bump(vector, siteId);
      const ack = await request(writer, 'content-update', {
        prdId, operation: { type: 'insert', position: 0, content: marker }, stateVector: next,
      });
      if (ack.ok) {
        acked.push(marker);
        vector = next;
      }
      return ack;
    };
    for (let n = 0; n < 5; n++) assert.equal((await send(n)).ok, true);

    const filler = path.join(dataDir, 'filler');
    const { bavail, bsize } = fs.statfsSync(dataDir);
    fs.writeFileSync(filler, Buffer.alloc(Math.max(0, bavail * bsize - 8192)));
    const down = once(observer, 'storage-status', 60000);
    let refused;
    for (let n = 5; n < 5000 && !refused; n++) {
      const ack = await send(n);
      if (!ack.ok) refused = ack;
    }
    assert.equal(refused?.error.code, 'STORAGE_ERROR', JSON.stringify(refused));
    assert.equal((await down).args[0].ok, false);

    fs.rmSync(filler);
    const up = once(observer, 'storage-status', 60000);
    ({ siteId, vector } = await rejoinAfter(writer, prdId, closures, 1));
    assert.equal((await send(99999)).ok, true);
    assert.equal((await up).args[0].ok, true);
    const doc = (await rest(hub, 'GET', `/api/prds/${prdId}`)).json;
    assert.equal(doc.content, [...acked].reverse().join('') + 'start\n');
    writer.close();
    observer.close();
  } finally {
    await hub?.stop();
    execFileSync('umount', [dataDir]);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

// A data folder that is read-only when the hub starts (a read-only bind
// mount; needs root): the hub refuses to start, naming the folder and the
// cause ("Cannot use the data folder …: Read-only file system"; or the
// database: "Cannot open the database", "attempt to write a readonly
// database"), instead of serving edits it cannot keep.
test('a read-only data folder at start: the hub exits with a clear error', async (t) => {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    t.skip('a read-only bind mount needs root');
    return;
  }
  const dataDir = tmpDir('prdhub-e2e-ro-');
  const first = await startHub({ args: ['--data-dir', dataDir] });
  await first.stop();
  try {
    execFileSync('mount', ['--bind', dataDir, dataDir]);
    execFileSync('mount', ['-o', 'remount,bind,ro', dataDir]);
  } catch (err) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    t.skip(`cannot make a read-only bind mount: ${err.message}`);
    return;
  }
  try {
    await assert.rejects(startHub({ args: ['--data-dir', dataDir] }),
      (err) => /exited early \(code 1/.test(err.message) &&
        (new RegExp(`Cannot use the data folder ${dataDir}: Read-only file system`).test(err.message) ||
          /Cannot open the database|readonly database/.test(err.message)));
  } finally {
    execFileSync('umount', [dataDir]);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
