// SPDX-License-Identifier: GPL-3.0-or-later
//
// The editor binding: CodeMirror 6 transactions ↔ the SDK's PrdClient.
// Every local change becomes SDK edits (one content-update each); every
// remote change (deltas of the SDK's `remote-change`) becomes one
// CodeMirror transaction marked as remote, which maps the local selection
// without moving it and stays out of the undo history. While the user
// composes text with an input method (Japanese, Chinese…), remote changes
// wait until the composition ends (at most MAX_COMPOSITION_DEFER_MS):
// CodeMirror redraws a composition that a transaction touches or that sets
// the selection, and the browser then writes the composed text again. Local
// changes made meanwhile still go out at once, mapped over the remote
// changes that wait. Pure of the DOM: node tests drive it with an
// EditorState and a stand-in view.

import { Annotation, ChangeSet, EditorSelection, EditorState, Transaction } from '@codemirror/state';

/** Marks the transactions the binding makes from remote changes. */
export const remoteChange = Annotation.define();

/** The one line separator: the CRDT text and the editor's text are the same string. */
export const LINE_SEPARATOR = '\n';

/**
 * How long (ms) remote changes wait for an input-method composition to end
 * before they are applied anyway (a composition left open must not hide
 * others' typing for ever).
 */
export const MAX_COMPOSITION_DEFER_MS = 5000;

/**
 * The SDK edits that turn a transaction's start document into its end
 * document, in order, each in the text left by the ones before:
 * `{ type: 'delete', position, length }` and `{ type: 'insert', position, text }`.
 * Every deletion goes first, from the last to the first (each position is
 * also its position in the start document), then the inserts, from the
 * first to the last, each at its place in the end document: the text
 * never grows past its end length on the way, so a change that fits a PRD
 * at its size limit (a line moved up or down) is not refused half way.
 */
export function changesToEdits(changes) {
  const list = [];
  changes.iterChanges((fromA, toA, fromB, _toB, inserted) => {
    list.push({ fromA, toA, fromB, text: inserted.sliceString(0, inserted.length, LINE_SEPARATOR) });
  });
  const edits = [];
  for (let i = list.length - 1; i >= 0; i--) {
    const c = list[i];
    if (c.toA > c.fromA) edits.push({ type: 'delete', position: c.fromA, length: c.toA - c.fromA });
  }
  for (const c of list) if (c.text.length > 0) edits.push({ type: 'insert', position: c.fromB, text: c.text });
  return edits;
}

/**
 * @text with every character the hub refuses in a string (U+0000, a lone
 * surrogate) replaced by U+FFFD, one UTF-16 unit for one: `{ text, count }`.
 */
export function cleanText(text) {
  let count = 0;
  const out = text.replace(/\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, () => {
    count++;
    return '\ufffd';
  });
  return { text: out, count };
}

/** Marks a paste or drop cleaned by cleanPastes: the number of characters replaced. */
export const replacedCharacters = Annotation.define();

/**
 * Pasted and dropped text goes in with U+0000 and lone surrogates replaced
 * by U+FFFD (cleanText), the transaction marked with replacedCharacters:
 * the hub refuses them, and the SDK with them the whole paste.
 */
export const cleanPastes = EditorState.transactionFilter.of((tr) => {
  if (!tr.docChanged || !(tr.isUserEvent('input.paste') || tr.isUserEvent('input.drop'))) return tr;
  let count = 0;
  const changes = [];
  tr.changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => {
    const clean = cleanText(inserted.sliceString(0, inserted.length, LINE_SEPARATOR));
    count += clean.count;
    changes.push({ from: fromA, to: toA, insert: clean.text });
  });
  if (count === 0) return tr;
  // The same lengths: the selection and the effects stay valid as they are.
  return {
    changes,
    selection: tr.selection,
    effects: tr.effects,
    scrollIntoView: tr.scrollIntoView,
    annotations: [Transaction.userEvent.of(tr.annotation(Transaction.userEvent)), replacedCharacters.of(count)],
  };
});

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
 * `dispatch(spec)` (CodeMirror's EditorView, or a stand-in in tests), and
 * `compositionStarted` while an input method composes. Call
 * `handleTransaction(tr)` for every transaction the view applies (an
 * EditorView.updateListener does it in the browser), and
 * `compositionEnded()` on the editor's `compositionend` event.
 */
export class EditorBinding {
  constructor(client, view, { onResync, maxDeferMs = MAX_COMPOSITION_DEFER_MS } = {}) {
    this.client = client;
    this.view = view;
    this.onResync = onResync ?? (() => {});
    this.maxDeferMs = maxDeferMs;
    // Remote changes held back during a composition: one ChangeSet over the
    // editor's text, which turns it into the client's text.
    this._deferred = null;
    this._deferTimer = null; // the bound on the wait
    this._flushQueued = false; // a flush once the update under way is over
    this._onRemote = (ev) => this.applyRemote(ev.deltas);
    client.on('remote-change', this._onRemote);
  }

  destroy() {
    this.client.off?.('remote-change', this._onRemote);
    this._clearDeferred();
  }

  /** True while an input method composes text in the view. */
  get composing() {
    return this.view.compositionStarted === true;
  }

  /** True while remote changes wait for a composition to end. */
  get remoteWaiting() {
    return this._deferred !== null;
  }

  /** Sends the local edits of @tr to the client; remote transactions are skipped. */
  handleTransaction(tr) {
    if (tr.annotation(remoteChange)) return;
    if (tr.docChanged) {
      let changes = tr.changes;
      if (this._deferred !== null) {
        // The client's text has the waiting remote changes: the local ones
        // go there, before remote text inserted at the same place (as when
        // typing at a cursor that remote text arrived at), and the waiting
        // ones go over the editor's new text, after the local text.
        const waiting = this._deferred;
        changes = tr.changes.map(waiting, true);
        this._deferred = waiting.map(tr.changes);
      }
      try {
        this._send(changes);
      } catch (err) {
        // Refused (view mode, not joined yet, a split surrogate pair): the
        // editor goes back to the client's text.
        this.resync(err);
        return;
      }
    }
    if (tr.docChanged || tr.selection) this.sendSelection(tr.state.selection.main);
    // The composition's last change: what waited goes in once this update is over.
    if (this._deferred !== null && !this.composing) this._queueFlush();
  }

  // Sends @changes (over the client's text) as SDK edits. What would make
  // the text longer than the PRD may hold is refused before anything is
  // sent (the SDK would refuse its inserts only, after its deletions); a
  // replace goes as the SDK's replace(), which applies nothing when it
  // refuses its insert.
  _send(changes) {
    const edits = changesToEdits(changes);
    const max = this.client.maxDocumentSize;
    if (typeof max === 'number' && changes.newLength > max && edits.some((e) => e.type === 'insert')) {
      throw Object.assign(new Error(`the PRD would have ${changes.newLength} UTF-16 units, more than it may hold ` +
        `(${max}): delete text first`), { code: 'LIMIT_REACHED' });
    }
    if (edits.length === 2 && edits[0].type === 'delete' && edits[1].type === 'insert' &&
        edits[0].position === edits[1].position) {
      this.client.replace(edits[0].position, edits[0].length, edits[1].text);
      return;
    }
    for (const e of edits) {
      if (e.type === 'insert') this.client.insert(e.position, e.text);
      else this.client.delete(e.position, e.length);
    }
  }

  /** The input method's composition ended: what waited for it goes in. */
  compositionEnded() {
    if (this._deferred !== null) this._queueFlush();
  }

  sendSelection(range) {
    if (!this.client.joined) return;
    const d = this._deferred;
    if (range.empty) this.client.setCursor(d ? d.mapPos(range.head, -1) : range.head);
    else this.client.setSelection(d ? d.mapPos(range.from, 1) : range.from, d ? d.mapPos(range.to, -1) : range.to);
  }

  /**
   * Applies remote @deltas (in the client's text); the local selection is
   * mapped, never moved by them. During a composition they wait.
   */
  applyRemote(deltas) {
    const length = this._deferred !== null ? this._deferred.newLength : this.view.state.doc.length;
    let changes;
    try {
      changes = deltasToChanges(deltas, length);
    } catch (err) {
      this.resync(err);
      return;
    }
    this._deferred = this._deferred === null ? changes : this._deferred.compose(changes);
    if (this.composing) {
      if (this._deferTimer === null) this._deferTimer = setTimeout(() => this.flushRemote(), this.maxDeferMs);
      return;
    }
    this.flushRemote();
  }

  /** Applies the remote changes that wait, composition or not. */
  flushRemote() {
    const changes = this._deferred;
    this._clearDeferred();
    if (changes === null) return;
    const { state } = this.view;
    const spec = { changes, annotations: [remoteChange.of(true), Transaction.addToHistory.of(false)] };
    // A selection set during a composition makes CodeMirror redraw it; the
    // default mapping is the same one.
    if (!this.composing) spec.selection = state.selection.map(changes, -1);
    this.view.dispatch(spec);
    if (this.view.state.doc.length !== this.client.text.length) this.resync(null);
  }

  /** Replaces the editor's text by the client's, keeping the cursor where it can. */
  resync(reason) {
    this._clearDeferred();
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

  _clearDeferred() {
    this._deferred = null;
    if (this._deferTimer !== null) clearTimeout(this._deferTimer);
    this._deferTimer = null;
  }

  // A view cannot take a transaction while it applies one (the update
  // listener calls handleTransaction): these run right after.
  _queueFlush() {
    if (this._flushQueued) return;
    this._flushQueued = true;
    setTimeout(() => {
      this._flushQueued = false;
      if (!this.composing) this.flushRemote();
    }, 0);
  }
}
