// SPDX-License-Identifier: GPL-3.0-or-later
//
// Limits of the configuration that depend on each other are checked against
// each other at start: a [collab] size in UTF-16 code units must fit in the
// [engine] byte limit that carries it, at 6 bytes of JSON per unit (a
// control character travels as \u00XX; README, "Configuration file",
// [collab]).
//
//   max-operation-size × 6 + 1024 ≤ max-payload
//   max-document-size × 6 ≤ max-write-buffer

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PRDHUB_BIN, startHub, tmpDir, START_TIMEOUT_MS } from './helpers/hub.js';
import { client, user, createPrd, request, join, bump, once } from './collab-helpers.js';

// The largest max-operation-size the default max-payload (1000000) carries.
const MAX_OPERATION_AT_DEFAULT_PAYLOAD = Math.floor((1000000 - 1024) / 6); // 166496

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
    /\[collab\] max-operation-size \(4194304\) does not fit in \[engine\] max-payload \(1000000\).*at least 25166848 \(or max-operation-size at most 166496\)/);
  // One unit past the edge.
  assertRefused(`[collab]\nmax-operation-size = ${MAX_OPERATION_AT_DEFAULT_PAYLOAD + 1}\n`,
    /max-operation-size \(166497\) does not fit in \[engine\] max-payload/);
  // The edge of 3 bytes per unit, where 200,000 control characters (1.2 MB
  // of JSON) closed the sender's connection instead of being refused.
  assertRefused('[collab]\nmax-operation-size = 332992\n',
    /max-operation-size \(332992\) does not fit in \[engine\] max-payload \(1000000\): an insert takes up to 6 bytes of JSON per UTF-16 unit/);
  // Edge on the other key: max-payload one byte short.
  assertRefused('[engine]\nmax-payload = 25166847\n[collab]\nmax-operation-size = 4194304\n',
    /max-payload \(25166847\)/);
});

test('max-document-size whose text cannot fit in max-write-buffer is refused at start', () => {
  // The audit's case: every client joining a large PRD was disconnected.
  assertRefused('[engine]\nmax-payload = 16777216\n[collab]\nmax-document-size = 16777216\n',
    /\[collab\] max-document-size \(16777216\) does not fit in \[engine\] max-write-buffer \(16777216\).*at least 100663296 \(or max-document-size at most 2796202\)/);
  assertRefused('[engine]\nmax-write-buffer = 6291456\n[collab]\nmax-document-size = 1048577\n',
    /max-document-size \(1048577\) does not fit in \[engine\] max-write-buffer \(6291456\)/);
  // The edge of 3 bytes per unit: 640,000 control characters (3.8 MB of
  // JSON) within it made the PRD one no one could join.
  assertRefused('[engine]\nmax-write-buffer = 3145728\n[collab]\nmax-document-size = 1048576\n',
    /max-document-size \(1048576\) does not fit in \[engine\] max-write-buffer \(3145728\).*at least 6291456 \(or max-document-size at most 524288\)/);
});

test('at the edges the hub starts; the largest insert gets its ack, one unit more PAYLOAD_TOO_LARGE', async () => {
  const edge = await startHub({
    config: '[engine]\nmax-write-buffer = 6291456\n' +
      `[collab]\nmax-document-size = 1048576\nmax-operation-size = ${MAX_OPERATION_AT_DEFAULT_PAYLOAD}\n`,
  });
  try {
    const id = await createPrd(edge, 'Edge', 'abc');
    const s = await client(edge, user('u1'));
    let gone = null;
    s.on('disconnect', (reason) => { gone = reason; });
    let { siteId, vector } = await join(s, id);
    // U+0001: one UTF-16 unit, six bytes of JSON ("\u0001"), the most a
    // unit takes; '中' takes three bytes of UTF-8.
    for (const unit of ['\u0001', '中']) {
      vector = bump(vector, siteId);
      const ack = await request(s, 'content-update', { prdId: id,
        operation: { type: 'insert', position: 3, content: unit.repeat(MAX_OPERATION_AT_DEFAULT_PAYLOAD), timestamp: Date.now() },
        stateVector: vector });
      assert.equal(ack.ok, true, JSON.stringify(ack).slice(0, 300));
    }
    const over = await request(s, 'content-update', { prdId: id,
      operation: { type: 'insert', position: 3, content: 'x'.repeat(MAX_OPERATION_AT_DEFAULT_PAYLOAD + 1), timestamp: Date.now() },
      stateVector: bump(vector, siteId) });
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
