// SPDX-License-Identifier: GPL-3.0-or-later
//
// The editor binding: CodeMirror 6 transactions ↔ the SDK's PrdClient.
// Every local change becomes SDK edits (one content-update each); every
// remote change (deltas of the SDK's `remote-change`) becomes one
// CodeMirror transaction marked as remote, which maps the local selection
// without moving it and stays out of the undo history. Pure of the DOM:
// node tests drive it with an EditorState and a stand-in view.

import { Annotation, ChangeSet, EditorSelection, Transaction } from '@codemirror/state';

/** Marks the transactions the binding makes from remote changes. */
export const remoteChange = Annotation.define();

/** The one line separator: the CRDT text and the editor's text are the same string. */
export const LINE_SEPARATOR = '\n';

/**
 * The SDK edits that turn a transaction's start document into its end
 * document, in order, each in the text left by the ones before:
 * `{ type: 'delete', position, length }` and `{ type: 'insert', position, text }`.
 * Changes are taken from the last to the first, so that each position is
 * also its position in the start document.
 */
export function changesToEdits(changes) {
  const list = [];
  changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => {
    list.push({ fromA, toA, text: inserted.sliceString(0, inserted.length, LINE_SEPARATOR) });
  });
  const edits = [];
  for (let i = list.length - 1; i >= 0; i--) {
    const c = list[i];
    if (c.toA > c.fromA) edits.push({ type: 'delete', position: c.fromA, length: c.toA - c.fromA });
    if (c.text.length > 0) edits.push({ type: 'insert', position: c.fromA, text: c.text });
  }
  return edits;
}

/**
 * One ChangeSet, over a document of @length, that applies the SDK's
 * @deltas one after the other (each in the text left by the ones before).
 * Throws a RangeError for a delta outside its text.
 */
export function deltasToChanges(deltas, length) {
  let set = ChangeSet.empty(length);
  let len = length;
  for (const d of deltas) {
    const spec = d.type === 'insert'
      ? { from: d.position, insert: d.text }
      : { from: d.position, to: d.position + d.length };
    const one = ChangeSet.of(spec, len, LINE_SEPARATOR);
    set = set.compose(one);
    len = one.newLength;
  }
  return set;
}

/**
 * Maps a position of another user (a cursor or a selection edge) through
 * @changes: text inserted at the position goes after it, unless the
 * inserting user is that user (then before it: they typed there).
 */
export function mapRemotePosition(changes, pos, own = false) {
  return changes.mapPos(pos, own ? 1 : -1);
}

/**
 * Binds a PrdClient to an editor view: anything with `state` and
 * `dispatch(spec)` (CodeMirror's EditorView, or a stand-in in tests).
 * Call `handleTransaction(tr)` for every transaction the view applies
 * (an EditorView.updateListener does it in the browser).
 */
export class EditorBinding {
  constructor(client, view, { onResync } = {}) {
    this.client = client;
    this.view = view;
    this.onResync = onResync ?? (() => {});
    this._onRemote = (ev) => this.applyRemote(ev.deltas);
    client.on('remote-change', this._onRemote);
  }

  destroy() {
    this.client.off?.('remote-change', this._onRemote);
  }

  /** Sends the local edits of @tr to the client; remote transactions are skipped. */
  handleTransaction(tr) {
    if (tr.annotation(remoteChange)) return;
    if (tr.docChanged) {
      try {
        for (const e of changesToEdits(tr.changes)) {
          if (e.type === 'insert') this.client.insert(e.position, e.text);
          else this.client.delete(e.position, e.length);
        }
      } catch (err) {
        // Refused (view mode, not joined yet, a split surrogate pair): the
        // editor goes back to the client's text.
        this.resync(err);
        return;
      }
    }
    if (tr.docChanged || tr.selection) this.sendSelection(tr.state.selection.main);
  }

  sendSelection(range) {
    if (!this.client.joined) return;
    if (range.empty) this.client.setCursor(range.head);
    else this.client.setSelection(range.from, range.to);
  }

  /** Applies remote @deltas; the local selection is mapped, never moved by them. */
  applyRemote(deltas) {
    const { state } = this.view;
    let changes;
    try {
      changes = deltasToChanges(deltas, state.doc.length);
    } catch (err) {
      this.resync(err);
      return;
    }
    this.view.dispatch({
      changes,
      selection: state.selection.map(changes, -1),
      annotations: [remoteChange.of(true), Transaction.addToHistory.of(false)],
    });
    if (this.view.state.doc.length !== this.client.text.length) this.resync(null);
  }

  /** Replaces the editor's text by the client's, keeping the cursor where it can. */
  resync(reason) {
    const text = this.client.text;
    const { state } = this.view;
    const head = Math.min(state.selection.main.head, text.length);
    this.view.dispatch({
      changes: { from: 0, to: state.doc.length, insert: text },
      selection: EditorSelection.cursor(head),
      annotations: [remoteChange.of(true), Transaction.addToHistory.of(false)],
    });
    this.onResync(reason);
  }
}
