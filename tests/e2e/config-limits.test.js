// SPDX-License-Identifier: GPL-3.0-or-later
//
// Limits of the configuration that depend on each other are checked against
// each other at start: a [collab] size in UTF-16 code units must fit in the
// [engine] byte limit that carries it, at 3 bytes of UTF-8 per unit
// (README, "Configuration file", [collab]).
//
//   max-operation-size × 3 + 1024 ≤ max-payload
//   max-document-size × 3 ≤ max-write-buffer

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PRDHUB_BIN, startHub, tmpDir, START_TIMEOUT_MS } from './helpers/hub.js';
import { client, user, createPrd, request, join, bump, once } from './collab-helpers.js';

// The largest max-operation-size the default max-payload (1000000) carries.
const MAX_OPERATION_AT_DEFAULT_PAYLOAD = Math.floor((1000000 - 1024) / 3); // 332992

function serve(config) {
  const dir = tmpDir();
  const file = path.join(dir, 'hub.conf');
  fs.writeFileSync(file, config);
  try {
    return spawnSync(PRDHUB_BIN, ['serve', '--no-dbus', '--listen', '127.0.0.1:0',
      '--data-dir', path.join(dir, 'data'), '--config', file], {
      encoding: 'utf8',
      timeout: START_TIMEOUT_MS,
      env: { ...process.env, PRDHUB_JWT_SECRET: 'x'.repeat(32) },
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function assertRefused(config, re) {
  const res = serve(config);
  assert.equal(res.signal, null, 'ends by itself');
  assert.equal(res.status, 1, res.stderr);
  assert.doesNotMatch(res.stdout, /listening/);
  assert.match(res.stderr, re);
}

test('max-operation-size whose largest insert cannot fit in max-payload is refused at start', () => {
  // The audit's case: an insert within max-operation-size closed the
  // connection (1009) instead of being refused.
  assertRefused('[collab]\nmax-operation-size = 4194304\n',
    /\[collab\] max-operation-size \(4194304\) does not fit in \[engine\] max-payload \(1000000\).*at least 12583936 \(or max-operation-size at most 332992\)/);
  // One unit past the edge.
  assertRefused(`[collab]\nmax-operation-size = ${MAX_OPERATION_AT_DEFAULT_PAYLOAD + 1}\n`,
    /max-operation-size \(332993\) does not fit in \[engine\] max-payload/);
  // Edge on the other key: max-payload one byte short.
  assertRefused('[engine]\nmax-payload = 12583935\n[collab]\nmax-operation-size = 4194304\n',
    /max-payload \(12583935\)/);
});

test('max-document-size whose text cannot fit in max-write-buffer is refused at start', () => {
  // The audit's case: every client joining a large PRD was disconnected.
  assertRefused('[engine]\nmax-payload = 16777216\n[collab]\nmax-document-size = 16777216\n',
    /\[collab\] max-document-size \(16777216\) does not fit in \[engine\] max-write-buffer \(16777216\).*at least 50331648 \(or max-document-size at most 5592405\)/);
  assertRefused('[engine]\nmax-write-buffer = 3145728\n[collab]\nmax-document-size = 1048577\n',
    /max-document-size \(1048577\) does not fit in \[engine\] max-write-buffer \(3145728\)/);
});

test('at the edges the hub starts; the largest insert gets its ack, one unit more PAYLOAD_TOO_LARGE', async () => {
  const edge = await startHub({
    config: '[engine]\nmax-write-buffer = 3145728\n' +
      `[collab]\nmax-document-size = 1048576\nmax-operation-size = ${MAX_OPERATION_AT_DEFAULT_PAYLOAD}\n`,
  });
  try {
    const id = await createPrd(edge, 'Edge', 'abc');
    const s = await client(edge, user('u1'));
    let gone = null;
    s.on('disconnect', (reason) => { gone = reason; });
    const { siteId, vector } = await join(s, id);
    // '中': one UTF-16 unit, three bytes of UTF-8.
    const ack = await request(s, 'content-update', { prdId: id,
      operation: { type: 'insert', position: 3, content: '中'.repeat(MAX_OPERATION_AT_DEFAULT_PAYLOAD), timestamp: Date.now() },
      stateVector: bump(vector, siteId) });
    assert.equal(ack.ok, true, JSON.stringify(ack).slice(0, 300));
    const over = await request(s, 'content-update', { prdId: id,
      operation: { type: 'insert', position: 3, content: 'x'.repeat(MAX_OPERATION_AT_DEFAULT_PAYLOAD + 1), timestamp: Date.now() },
      stateVector: bump(bump(vector, siteId), siteId) });
    assert.equal(over.error?.code, 'PAYLOAD_TOO_LARGE', JSON.stringify(over).slice(0, 300));
    assert.equal(gone, null);
    s.close();
  } finally {
    await edge.stop();
  }
});

test('the defaults pass the checks', async () => {
  const hub = await startHub();
  await hub.stop();
});
