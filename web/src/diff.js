// SPDX-License-Identifier: GPL-3.0-or-later
//
// The side-by-side view of a unified diff (as the hub's
// GET /api/prds/{id}/diff writes it): rows of { left, right, kind } where
// kind is 'context', 'change', 'delete', 'insert' or 'hunk'.

export function parseUnifiedDiff(text) {
  const hunks = [];
  let hunk = null;
  for (const line of String(text).replace(/\n$/, '').split('\n')) {
    const m = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$/.exec(line);
    if (m) {
      hunk = { oldStart: Number(m[1]), newStart: Number(m[3]), header: line, lines: [] };
      hunks.push(hunk);
      continue;
    }
    if (hunk === null) continue; // diff --git, index, ---, +++
    if (line.startsWith('\\')) continue; // "\ No newline at end of file"
    const tag = line[0];
    if (tag === ' ' || tag === '-' || tag === '+') hunk.lines.push({ tag, text: line.slice(1) });
    else if (line === '') hunk.lines.push({ tag: ' ', text: '' });
  }
  return hunks;
}

export function sideBySide(hunks) {
  const rows = [];
  for (const hunk of hunks) {
    let oldNo = hunk.oldStart;
    let newNo = hunk.newStart;
    rows.push({ kind: 'hunk', left: { text: hunk.header }, right: { text: hunk.header } });
    let dels = [];
    let adds = [];
    const flush = () => {
      const n = Math.max(dels.length, adds.length);
      for (let i = 0; i < n; i++) {
        const left = dels[i] ?? null;
        const right = adds[i] ?? null;
        rows.push({ kind: left && right ? 'change' : left ? 'delete' : 'insert', left, right });
      }
      dels = [];
      adds = [];
    };
    for (const l of hunk.lines) {
      if (l.tag === '-') dels.push({ no: oldNo++, text: l.text });
      else if (l.tag === '+') adds.push({ no: newNo++, text: l.text });
      else {
        flush();
        rows.push({ kind: 'context', left: { no: oldNo++, text: l.text }, right: { no: newNo++, text: l.text } });
      }
    }
    flush();
  }
  return rows;
}
