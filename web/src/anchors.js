// SPDX-License-Identifier: GPL-3.0-or-later
//
// A comment's anchor (`position`, `selection.start`/`end`) follows this
// replica's changes the way the hub's CRDT anchors do: text typed before it
// shifts it, text typed at either edge of a selection stays outside it,
// deleted text pulls the edges together. A comment whose every selected
// character (without a selection: the character at its position) is deleted
// becomes detached, as the hub reports it (docs/protocol.md, "Anchors"):
// `detached: true`, an empty selection (`start == end`, `text: ''`); text
// typed there later does not re-attach it.

function shift(pos, d, before) {
  if (typeof pos !== 'number') return pos;
  if (d.type === 'insert') return pos > d.position || (before && pos === d.position) ? pos + d.text.length : pos;
  if (pos <= d.position) return pos;
  return Math.max(d.position, pos - d.length);
}

/** Moves comment @c (in place) through the SDK delta @d. */
export function shiftCommentAnchor(c, d) {
  const s = c.selection && typeof c.selection === 'object' ? c.selection : null;
  const hasRange = s !== null && typeof s.start === 'number' && typeof s.end === 'number' && s.end > s.start;
  const deletesPosition = d.type === 'delete' && typeof c.position === 'number' &&
    c.position >= d.position && c.position < d.position + d.length;
  c.position = shift(c.position, d, true);
  if (s !== null) {
    // An empty (detached) selection stays empty.
    const start = shift(s.start, d, true);
    c.selection = { ...s, start, end: s.end === s.start ? start : shift(s.end, d, false) };
  }
  if (c.detached || d.type !== 'delete') return c;
  if (hasRange ? c.selection.start === c.selection.end : deletesPosition) {
    c.detached = true;
    if (c.selection && typeof c.selection === 'object') {
      c.selection = { ...c.selection, text: '' };
      delete c.selection.textTruncated;
    }
  }
  return c;
}
