// SPDX-License-Identifier: GPL-3.0-or-later
//
// A comment's anchor (`position`, `selection.start`/`end`) follows this
// replica's changes the way the hub's CRDT anchors do: text typed before it
// shifts it, text typed at either edge of a selection stays outside it,
// deleted text pulls the edges together.

function shift(pos, d, before) {
  if (typeof pos !== 'number') return pos;
  if (d.type === 'insert') return pos > d.position || (before && pos === d.position) ? pos + d.text.length : pos;
  if (pos <= d.position) return pos;
  return Math.max(d.position, pos - d.length);
}

/** Moves comment @c (in place) through the SDK delta @d. */
export function shiftCommentAnchor(c, d) {
  c.position = shift(c.position, d, true);
  if (c.selection && typeof c.selection === 'object')
    c.selection = { ...c.selection, start: shift(c.selection.start, d, true), end: shift(c.selection.end, d, false) };
  return c;
}
