// SPDX-License-Identifier: GPL-3.0-or-later
//
// The side-by-side view of the hub's unified diffs (web/src/diff.js).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseUnifiedDiff, sideBySide } from '../../src/diff.js';

const DIFF = `diff --git a/prd_1.md b/prd_1.md
index 3b18e51..a9c4f3a 100644
--- a/prd_1.md
+++ b/prd_1.md
@@ -1,5 +1,5 @@
 # Title
-old line
-gone
+new line
 same
+added
 end
\\ No newline at end of file
`;

test('hunks, with line numbers on both sides', () => {
  const hunks = parseUnifiedDiff(DIFF);
  assert.equal(hunks.length, 1);
  assert.equal(hunks[0].oldStart, 1);
  assert.equal(hunks[0].newStart, 1);
  assert.deepEqual(hunks[0].lines.map((l) => l.tag).join(''), ' --+ + ');
});

test('deleted and added runs pair up as changes; the rest is context', () => {
  const rows = sideBySide(parseUnifiedDiff(DIFF));
  assert.deepEqual(rows.map((r) => r.kind), ['hunk', 'context', 'change', 'delete', 'context', 'insert', 'context']);
  assert.deepEqual(rows[2], { kind: 'change', left: { no: 2, text: 'old line' }, right: { no: 2, text: 'new line' } });
  assert.deepEqual(rows[3], { kind: 'delete', left: { no: 3, text: 'gone' }, right: null });
  assert.deepEqual(rows[5], { kind: 'insert', left: null, right: { no: 4, text: 'added' } });
  assert.deepEqual(rows[6].left, { no: 5, text: 'end' });
  assert.deepEqual(rows[6].right, { no: 5, text: 'end' });
});

test('an empty diff (equal texts) has no rows', () => {
  assert.deepEqual(sideBySide(parseUnifiedDiff('')), []);
});
