// SPDX-License-Identifier: GPL-3.0-or-later
//
// Acknowledged means durable: several plain clients stream acknowledged
// content-updates into a real prdhub, which is killed with SIGKILL mid-
// stream. Restarted on the same data folder, the hub must hold every
// acknowledged operation, and clients that rejoin must all converge.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { PRDHUB_BIN, startHub, tmpDir } from './helpers/hub.js';
import { client, request, join, user, rest, createPrd } from './collab-helpers.js';

const CLIENTS = 4;
const ACKED_BEFORE_KILL = 25; // per client, at least

test('SIGKILL loses no acknowledged update; rejoining clients converge', async () => {
  const dataDir = tmpDir('prdhub-e2e-durable-');
  // snapshot-every=7 so that the log is compacted behind snapshots mid-run.
  const config = '[collab]\nsnapshot-every=7\n';
  let hub = await startHub({ config, args: ['--data-dir', dataDir] });
  const acked = new Map(); // marker → true
  let sockets = [];
  try {
    const prdId = await createPrd(hub, 'Durability', 'start\n');
    sockets = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) => client(hub, user(`user_${i}`))));
    const sites = [];
    for (const s of sockets) sites.push((await join(s, prdId)).siteId);

    let killed = false;
    const counts = new Array(CLIENTS).fill(0);
    const writers = sockets.map(async (s, i) => {
      const site = sites[i];
      for (let n = 1; !killed; n++) {
        const marker = `<${i}:${n}>`;
        const stateVector = new Array(site + 1).fill(0);
        stateVector[site] = n;
        let ack;
        try {
          ack = await s.timeout(5000).emitWithAck('content-update', {
            prdId,
            operation: { type: 'insert', position: 0, content: marker, timestamp: Date.now() },
            stateVector,
          });
        } catch {
          return; // the hub died before answering: not acknowledged
        }
        if (!ack.ok) throw new Error(`refused: ${JSON.stringify(ack)}`);
        acked.set(marker, true);
        counts[i] = n;
      }
    });

    while (counts.some((c) => c < ACKED_BEFORE_KILL))
      await new Promise((r) => setTimeout(r, 5));
    hub.proc.kill('SIGKILL');
    killed = true;
    await hub.exited;
    await Promise.all(writers);
    for (const s of sockets) s.close();
    sockets = [];

    assert.ok(acked.size >= CLIENTS * ACKED_BEFORE_KILL, `${acked.size} acknowledged`);

    // The killed hub's process id is still in the lock file. A start that
    // fails after taking the lock (a bad key) leaves it there for the next.
    const lockFile = path.join(dataDir, 'prdhub.lock');
    const left = fs.readFileSync(lockFile, 'utf8');
    assert.match(left, /^\d+\n$/);
    const badKey = path.join(dataDir, 'not-a-key.pem');
    fs.writeFileSync(badKey, 'not a key\n');
    const failed = spawnSync(PRDHUB_BIN, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir,
      '--jwt-public-key', badKey], { encoding: 'utf8' });
    assert.equal(failed.status, 1, failed.stderr);
    assert.equal(fs.readFileSync(lockFile, 'utf8').trim(), left.trim());

    hub = await startHub({ config, args: ['--data-dir', dataDir] });
    const page = await rest(hub, 'GET', `/api/prds/${prdId}`);
    assert.equal(page.status, 200);
    const missing = [...acked.keys()].filter((m) => !page.json.content.includes(m));
    assert.deepEqual(missing, [], `${acked.size} acknowledged operations, all present`);
    assert.ok(page.json.content.includes('start\n'));

    // The hub says it found the folder left uncleanly.
    assert.match(hub.stderr(), /did not mark a clean stop/);

    // Every client rejoins and sees the same document. None gets a site
    // that existed before the kill: operations in flight then were lost,
    // and a site going on would number new ones like them.
    sockets = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) => client(hub, user(`user_${i}`))));
    const joins = [];
    for (let i = 0; i < CLIENTS; i++) joins.push(await join(sockets[i], prdId, { siteId: sites[i] }));
    const before = Math.max(...sites);
    for (const j of joins) {
      assert.equal(j.joined.initialState.content, page.json.content);
      assert.deepEqual(j.joined.initialState.stateVector, page.json.stateVector);
      assert.ok(j.siteId > before, `site ${j.siteId} is new`);
    }
    // … and can keep editing from where the hub is.
    const j0 = joins[0];
    const v = j0.vector.slice();
    while (v.length <= j0.siteId) v.push(0);
    v[j0.siteId] += 1;
    const ack = await request(sockets[0], 'content-update', {
      prdId, operation: { type: 'insert', position: 0, content: '<after>', timestamp: Date.now() },
      stateVector: v,
    });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    const final = await rest(hub, 'GET', `/api/prds/${prdId}/export.md`);
    assert.ok(final.text.startsWith('<after>'));
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
