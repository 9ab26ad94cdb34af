// SPDX-License-Identifier: GPL-3.0-or-later
//
// CodeMirror decorations: other users' cursors (a caret and their name as
// text) and selections in their colour, and the ranges comments are
// anchored to. Colours are classes (pc-0 … pc-11, the hub's palette): the
// page's Content-Security-Policy allows no inline styles.

import { StateEffect, StateField } from '@codemirror/state';
import { Decoration, EditorView, WidgetType } from '@codemirror/view';

export const PALETTE = ['#8B5CF6', '#EC4899', '#3B82F6', '#10B981', '#F59E0B', '#EF4444',
  '#06B6D4', '#84CC16', '#F97316', '#6366F1', '#14B8A6', '#A855F7'];

export function colorClass(color) {
  const i = PALETTE.indexOf(String(color ?? '').toUpperCase());
  return i >= 0 ? `pc-${i}` : 'pc-none';
}

class CursorWidget extends WidgetType {
  constructor(userId, name, color) {
    super();
    this.userId = userId;
    this.name = name;
    this.color = color;
  }

  eq(other) {
    return other.userId === this.userId && other.name === this.name && other.color === this.color;
  }

  toDOM() {
    const caret = document.createElement('span');
    caret.className = `cm-remote-cursor ${colorClass(this.color)}`;
    caret.dataset.userId = this.userId;
    caret.setAttribute('aria-hidden', 'true');
    const label = document.createElement('span');
    label.className = 'cm-remote-cursor-label';
    label.textContent = this.name;
    caret.append(label);
    return caret;
  }

  ignoreEvent() {
    return true;
  }
}

/** Replaces the remote cursors: `[{ userId, name, color, cursorPosition, selection }]`. */
export const setRemoteCursors = StateEffect.define();

function clamp(pos, len) {
  return Math.max(0, Math.min(len, pos));
}

function buildCursors(users, len) {
  const ranges = [];
  for (const u of users) {
    const cls = colorClass(u.color);
    const sel = u.selection;
    if (sel && typeof sel.start === 'number' && typeof sel.end === 'number' && sel.end > sel.start) {
      const from = clamp(sel.start, len);
      const to = clamp(sel.end, len);
      if (to > from) ranges.push(Decoration.mark({ class: `cm-remote-selection ${cls}` }).range(from, to));
    }
    if (typeof u.cursorPosition === 'number') {
      const at = clamp(u.cursorPosition, len);
      ranges.push(Decoration.widget({
        widget: new CursorWidget(u.userId, u.name ?? u.userId, u.color),
        side: 1,
      }).range(at));
    }
  }
  return Decoration.set(ranges, true);
}

export const remoteCursorField = StateField.define({
  create: () => Decoration.none,
  update(deco, tr) {
    for (const e of tr.effects) if (e.is(setRemoteCursors)) return buildCursors(e.value, tr.state.doc.length);
    return tr.docChanged ? deco.map(tr.changes) : deco;
  },
  provide: (f) => EditorView.decorations.from(f),
});

/** Replaces the comment highlights: `[{ commentId, start, end, active }]`. */
export const setCommentRanges = StateEffect.define();

export const commentField = StateField.define({
  create: () => Decoration.none,
  update(deco, tr) {
    for (const e of tr.effects) {
      if (!e.is(setCommentRanges)) continue;
      const len = tr.state.doc.length;
      const ranges = [];
      for (const c of e.value) {
        const from = clamp(c.start, len);
        const to = clamp(c.end, len);
        if (to <= from) continue;
        ranges.push(Decoration.mark({
          class: c.active ? 'cm-comment-range cm-comment-active' : 'cm-comment-range',
          attributes: { 'data-comment-id': c.commentId },
        }).range(from, to));
      }
      return Decoration.set(ranges, true);
    }
    return tr.docChanged ? deco.map(tr.changes) : deco;
  },
  provide: (f) => EditorView.decorations.from(f),
});
