// SPDX-License-Identifier: GPL-3.0-or-later
//
// `prdhub serve` raises its soft open-file limit to the hard limit at start
// and says so; when even the hard limit is below what max-connections needs,
// it warns and says how to raise it (README.md, "Configuration").

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startHub, assertCleanStop } from './helpers/hub.js';

// The log reaches us through a pipe of its own, maybe after the listening
// line: wait (bounded) until it holds @re.
async function logMatching(hub, re) {
  const deadline = Date.now() + 20000;
  while (!re.test(hub.stderr())) {
    if (Date.now() > deadline) assert.fail(`no log line matching ${re} in:\n${hub.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return hub.stderr();
}

// The hub serves, then stops cleanly.
async function stopWhenServing(hub) {
  assert.equal((await fetch(`${hub.url}/healthz`)).status, 200);
  await assertCleanStop(hub);
}

// The "Max open files" row of /proc/PID/limits: [soft, hard].
function openFileLimits(pid) {
  const row = fs.readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n')
    .find((line) => line.startsWith('Max open files'));
  assert.ok(row, 'no "Max open files" row in /proc/PID/limits');
  const [soft, hard] = row.replace('Max open files', '').trim().split(/\s+/);
  return [soft, hard];
}

describe('open-file limit', () => {
  test('a soft limit below the hard limit is raised to it, and logged', async () => {
    const hub = await startHub({ fdLimits: [256, 4096] });
    try {
      assert.deepEqual(openFileLimits(hub.pid), ['4096', '4096']);
      await logMatching(hub, /Open-file limit raised from 256 to 4096/);
      // 4096 is below the automatic max-connections (16384) + 64 too.
      await logMatching(hub, /WARNING.*Open-file limit 4096 is below the 16448 descriptors the automatic max-connections \(16384\) needs/);
    } finally {
      await stopWhenServing(hub);
    }
  });

  test('a hard limit below what max-connections needs is a warning that says what to do', async () => {
    const hub = await startHub({ fdLimits: [256, 256], config: '[server]\nmax-connections = 1000\n' });
    try {
      assert.deepEqual(openFileLimits(hub.pid), ['256', '256']);
      const log = await logMatching(hub, /WARNING.*Open-file limit 256 is below the 1064 descriptors max-connections = 1000 needs/);
      assert.doesNotMatch(log, /Open-file limit raised/);
      assert.match(log, /ulimit -Hn 1064/);
      assert.match(log, /LimitNOFILE=1064/);
    } finally {
      await stopWhenServing(hub);
    }
  });

  test('no warning when the limit is enough', async () => {
    const hub = await startHub({ fdLimits: [1000, 1100], config: '[server]\nmax-connections = 1000\n' });
    try {
      assert.deepEqual(openFileLimits(hub.pid), ['1100', '1100']);
      // Both lines would be written before the listening line.
      const log = await logMatching(hub, /Open-file limit raised from 1000 to 1100/);
      assert.doesNotMatch(log, /Open-file limit \d+ is below/);
    } finally {
      await stopWhenServing(hub);
    }
  });
});
