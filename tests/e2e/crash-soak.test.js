// SPDX-License-Identifier: GPL-3.0-or-later
//
// The crash soak (crash-soak.js) for a few cycles: SDK clients type,
// comment with mentions and create versions while the hub is killed with
// SIGKILL at random moments and restarted; nothing acknowledged may be lost
// and the clients must converge. docs/durability.md reports a 50-cycle run.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSoak } from './crash-soak.js';

test('SIGKILL at random moments under load: nothing acknowledged is lost, clients converge', async () => {
  const result = await runSoak({ cycles: 3, clients: 3, log: (line) => console.log(line) });
  console.log(JSON.stringify(result));
  assert.equal(result.cycles, 3);
  assert.equal(result.checks, 4); // after each restart and after the run
  // The load really ran: edits, comments and versions were acknowledged.
  assert.ok(result.edits > 0, 'edits acknowledged');
  assert.ok(result.comments > 0, 'comments acknowledged');
  assert.ok(result.versions > 0, 'versions acknowledged');
  assert.equal(result.notifications, result.comments);
});
