// SPDX-License-Identifier: GPL-3.0-or-later
//
// Unit tests of the editor binding (web/src/binding.js) under node: the
// mapping of CodeMirror changes to SDK edits and of SDK deltas to
// CodeMirror changes, the local cursor under remote changes, others'
// cursors, and the binding itself between an EditorState and a stand-in
// client. Randomised cases use a fixed seed, so a failure repeats.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EditorSelection, EditorState, Text } from '@codemirror/state';
import { history, moveLineDown, moveLineUp, undo } from '@codemirror/commands';
import { Emitter } from '../../../clients/js/src/emitter.js';
import { CrdtDoc, opToJson } from '../../../clients/js/src/crdt.js';
import { PrdClient } from '../../../clients/js/src/client.js';
import {
  EditorBinding, LINE_SEPARATOR, MAX_COMPOSITION_DEFER_MS, changesToEdits, cleanPastes, cleanText, deltasToChanges,
  mapRemotePosition, remoteChange, replacedCharacters,
} from '../../src/binding.js';

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = ['a', 'b', 'c', ' ', '\n', 'é', '\r', '😀'];

function randomText(rand, max, alphabet = ALPHABET) {
  let out = '';
  const n = Math.floor(rand() * max);
  for (let i = 0; i < n; i++) out += alphabet[Math.floor(rand() * alphabet.length)];
  return out;
}

function state(doc, extra = []) {
  return EditorState.create({ doc, extensions: [EditorState.lineSeparator.of(LINE_SEPARATOR), ...extra] });
}

function applyEdits(text, edits) {
  for (const e of edits) {
    if (e.type === 'insert') {
      assert.ok(e.position >= 0 && e.position <= text.length, 'insert inside the text');
      text = text.slice(0, e.position) + e.text + text.slice(e.position);
    } else {
      assert.ok(e.length > 0 && e.position + e.length <= text.length, 'delete inside the text');
      text = text.slice(0, e.position) + text.slice(e.position + e.length);
    }
  }
  return text;
}

// Sorted, non-overlapping random changes over a document of @len.
function randomChanges(rand, len, alphabet = ALPHABET) {
  const changes = [];
  let pos = 0;
  while (pos <= len && changes.length < 5) {
    const from = pos + Math.floor(rand() * (len - pos + 1));
    if (from > len) break;
    const to = from + Math.floor(rand() * Math.min(4, len - from + 1));
    changes.push({ from, to, insert: rand() < 0.7 ? randomText(rand, 6, alphabet) : '' });
    pos = to + 1;
    if (rand() < 0.3) break;
  }
  return changes;
}

test('local changes become SDK edits that rebuild the new text in order', () => {
  const rand = rng(17);
  for (let i = 0; i < 2000; i++) {
    const before = randomText(rand, 40);
    const s = state(before);
    const tr = s.update({ changes: randomChanges(rand, before.length) });
    const edits = changesToEdits(tr.changes);
    assert.equal(applyEdits(before, edits), tr.newDoc.sliceString(0, tr.newDoc.length, LINE_SEPARATOR));
    for (const e of edits) if (e.type === 'insert') assert.ok(e.text.length > 0);
  }
});

test('a replacement is one delete then one insert at the same place', () => {
  const s = state('hello world');
  const tr = s.update({ changes: { from: 6, to: 11, insert: 'there' } });
  assert.deepEqual(changesToEdits(tr.changes), [
    { type: 'delete', position: 6, length: 5 },
    { type: 'insert', position: 6, text: 'there' },
  ]);
});

test('several cursors typing at once: inserts from the first to the last, each at its end place', () => {
  const s = state('ab\ncd\nef');
  const tr = s.update({ changes: [{ from: 0, insert: 'X' }, { from: 3, insert: 'Y' }, { from: 6, insert: 'Z' }] });
  const edits = changesToEdits(tr.changes);
  assert.deepEqual(edits.map((e) => e.position), [0, 4, 8]);
  assert.equal(applyEdits('ab\ncd\nef', edits), 'Xab\nYcd\nZef');
});

test('every deletion goes before every insert, so the text never grows past its end length', () => {
  const rand = rng(23);
  for (let i = 0; i < 2000; i++) {
    const before = randomText(rand, 40);
    const tr = state(before).update({ changes: randomChanges(rand, before.length) });
    const edits = changesToEdits(tr.changes);
    const firstInsert = edits.findIndex((e) => e.type === 'insert');
    if (firstInsert >= 0) assert.ok(edits.slice(firstInsert).every((e) => e.type === 'insert'));
    let text = before;
    for (const e of edits) {
      text = applyEdits(text, [e]);
      assert.ok(text.length <= Math.max(before.length, tr.newDoc.length));
    }
  }
  // A line moved up: its old place is deleted before it goes in above.
  let moved = null;
  moveLineUp({
    state: EditorState.create({ doc: 'one\ntwo\nthree', selection: EditorSelection.cursor(5) }),
    dispatch: (tr) => { moved = tr; },
  });
  const edits = changesToEdits(moved.changes);
  assert.equal(edits[0].type, 'delete');
  assert.equal(applyEdits('one\ntwo\nthree', edits), 'two\none\nthree');
});

test('remote deltas become one change set equal to applying them in turn', () => {
  const rand = rng(4242);
  for (let i = 0; i < 2000; i++) {
    let text = randomText(rand, 30);
    const start = text;
    const deltas = [];
    const n = 1 + Math.floor(rand() * 4);
    for (let k = 0; k < n; k++) {
      if (text.length > 0 && rand() < 0.4) {
        const position = Math.floor(rand() * text.length);
        const length = 1 + Math.floor(rand() * Math.min(3, text.length - position));
        deltas.push({ type: 'delete', position, length });
      } else {
        const ins = randomText(rand, 5) || 'q';
        deltas.push({ type: 'insert', position: Math.floor(rand() * (text.length + 1)), text: ins });
      }
      text = applyEdits(text, [deltas[deltas.length - 1]]);
    }
    const set = deltasToChanges(deltas, start.length);
    const doc = set.apply(Text.of(start.split(LINE_SEPARATOR)));
    assert.equal(doc.sliceString(0, doc.length, LINE_SEPARATOR), text);
  }
});

test('a delta outside the text is refused', () => {
  assert.throws(() => deltasToChanges([{ type: 'insert', position: 5, text: 'x' }], 3), RangeError);
  assert.throws(() => deltasToChanges([{ type: 'delete', position: 2, length: 2 }], 3), RangeError);
});

test('carriage returns survive: the editor text is the CRDT text', () => {
  const s = state('a\r\nb');
  assert.equal(s.doc.length, 4);
  const tr = s.update({ changes: deltasToChanges([{ type: 'insert', position: 1, text: '\r\n' }], 4) });
  assert.equal(tr.newDoc.sliceString(0, tr.newDoc.length, LINE_SEPARATOR), 'a\r\n\r\nb');
});

test('the local cursor stays on its character under remote edits', () => {
  // Cursor between "hello" and " world" (position 5).
  const cases = [
    { delta: { type: 'insert', position: 0, text: 'XX' }, head: 7 }, // before: shifts
    { delta: { type: 'insert', position: 5, text: 'XX' }, head: 5 }, // at: stays before it
    { delta: { type: 'insert', position: 8, text: 'XX' }, head: 5 }, // after: unchanged
    { delta: { type: 'delete', position: 0, length: 2 }, head: 3 },
    { delta: { type: 'delete', position: 3, length: 5 }, head: 3 }, // around it: collapses
    { delta: { type: 'delete', position: 6, length: 3 }, head: 5 },
  ];
  for (const c of cases) {
    const client = new FakeClient('hello world');
    const view = new FakeView(state('hello world'));
    const binding = new EditorBinding(client, view);
    view.dispatch({ selection: EditorSelection.cursor(5) });
    client.remote([c.delta]);
    assert.equal(view.state.selection.main.head, c.head, JSON.stringify(c.delta));
    assert.equal(view.text, client.text);
    binding.destroy();
  }
});

test('a local selection keeps covering its text under remote edits', () => {
  const client = new FakeClient('one two three');
  const view = new FakeView(state('one two three'));
  new EditorBinding(client, view);
  view.dispatch({ selection: EditorSelection.range(4, 7) }); // "two"
  client.remote([{ type: 'insert', position: 0, text: '>> ' }, { type: 'insert', position: 13, text: '!' }]);
  const sel = view.state.selection.main;
  assert.equal(view.state.sliceDoc(sel.from, sel.to), 'two');
});

test('others\' cursors: text typed at them goes after, unless they typed it', () => {
  const s = state('abcdef');
  const tr = s.update({ changes: { from: 3, insert: 'XYZ' } });
  assert.equal(mapRemotePosition(tr.changes, 3, false), 3);
  assert.equal(mapRemotePosition(tr.changes, 3, true), 6);
  assert.equal(mapRemotePosition(tr.changes, 4, false), 7);
  assert.equal(mapRemotePosition(tr.changes, 1, false), 1);
});

// ---- the binding between a view and a client -------------------------------------------

// A stand-in for PrdClient: the same edit methods and events, over a string.
class FakeClient extends Emitter {
  constructor(text = '') {
    super();
    this.text = text;
    this.joined = true;
    this.sent = [];
    this.presence = null;
    this.refuse = null;
  }

  insert(position, text) {
    if (this.refuse) throw this.refuse;
    this.sent.push({ type: 'insert', position, text });
    this.text = applyEdits(this.text, [{ type: 'insert', position, text }]);
  }

  delete(position, length) {
    if (this.refuse) throw this.refuse;
    this.sent.push({ type: 'delete', position, length });
    this.text = applyEdits(this.text, [{ type: 'delete', position, length }]);
  }

  replace(position, length, text) {
    this.delete(position, length);
    this.insert(position, text);
  }

  setCursor(position) { this.presence = { cursor: position }; }

  setSelection(start, end) { this.presence = { start, end }; }

  remote(deltas) {
    this.text = applyEdits(this.text, deltas);
    this.emit('remote-change', { deltas, userId: 'other', userName: 'Other' });
  }
}

// A stand-in for EditorView: dispatch, and the update listener's call.
class FakeView {
  constructor(s) {
    this.state = s;
    this.binding = null;
    this.transactions = [];
  }

  get text() {
    return this.state.doc.sliceString(0, this.state.doc.length, LINE_SEPARATOR);
  }

  dispatch(spec) {
    const tr = spec.changes !== undefined || spec.selection !== undefined || spec.effects !== undefined || spec.annotations !== undefined
      ? this.state.update(spec) : spec;
    this.state = tr.state;
    this.transactions.push(tr);
    this.listener?.(tr);
  }
}

function bound(text, extensions = []) {
  const client = new FakeClient(text);
  const view = new FakeView(state(text, extensions));
  const binding = new EditorBinding(client, view);
  view.listener = (tr) => binding.handleTransaction(tr);
  return { client, view, binding };
}

test('typing sends one edit per change and the cursor as presence', () => {
  const { client, view } = bound('abc');
  view.dispatch({ changes: { from: 3, insert: 'd' }, selection: EditorSelection.cursor(4) });
  view.dispatch({ changes: { from: 0, to: 1 }, selection: EditorSelection.cursor(0) });
  assert.deepEqual(client.sent, [
    { type: 'insert', position: 3, text: 'd' },
    { type: 'delete', position: 0, length: 1 },
  ]);
  assert.equal(client.text, 'bcd');
  assert.deepEqual(client.presence, { cursor: 0 });
  view.dispatch({ selection: EditorSelection.range(1, 3) });
  assert.deepEqual(client.presence, { start: 1, end: 3 });
});

test('remote changes are not sent back, are marked, and stay out of undo', () => {
  const { client, view } = bound('abc', [history()]);
  view.dispatch({ changes: { from: 3, insert: '1' }, userEvent: 'input.type' });
  client.remote([{ type: 'insert', position: 0, text: 'R' }]);
  assert.equal(view.text, 'Rabc1');
  assert.equal(client.sent.length, 1);
  assert.ok(view.transactions[view.transactions.length - 1].annotation(remoteChange));
  // Undo takes back the local "1" only; the undo goes out as a local delete.
  undo({ state: view.state, dispatch: (tr) => view.dispatch(tr) });
  assert.equal(view.text, 'Rabc');
  assert.equal(client.text, 'Rabc');
  assert.deepEqual(client.sent[1], { type: 'delete', position: 4, length: 1 });
});

test('a refused local edit brings the editor back to the client\'s text', () => {
  const { client, view } = bound('keep');
  let reason = null;
  const binding = new EditorBinding(client, view, { onResync: (r) => { reason = r; } });
  view.listener = (tr) => binding.handleTransaction(tr);
  client.refuse = Object.assign(new Error('joined in view mode'), { code: 'FORBIDDEN' });
  view.dispatch({ changes: { from: 4, insert: '!' } });
  assert.equal(view.text, 'keep');
  assert.equal(reason.code, 'FORBIDDEN');
});

test('two editors bound to two CRDT replicas converge through their edits', () => {
  // Two real CRDT replicas (the SDK's engine), each with a binding; the
  // operations of each are delivered to the other in a random order.
  const rand = rng(99);
  const make = (site) => {
    const doc = new CrdtDoc();
    const client = new Emitter();
    client.joined = true;
    client.out = [];
    Object.defineProperty(client, 'text', { get: () => doc.getText() });
    client.insert = (p, t) => client.out.push(doc.localInsert(site, p, t).op);
    client.delete = (p, l) => client.out.push(doc.localDelete(site, p, l).op);
    client.replace = (p, l, t) => {
      client.delete(p, l);
      client.insert(p, t);
    };
    client.setCursor = () => {};
    client.setSelection = () => {};
    client.receive = (op) => {
      const res = doc.applyRemote(opToJson(op));
      if (res.deltas.length > 0) client.emit('remote-change', { deltas: res.deltas, userId: 'x' });
    };
    const view = new FakeView(state(''));
    const binding = new EditorBinding(client, view);
    view.listener = (tr) => binding.handleTransaction(tr);
    return { client, view };
  };
  const a = make(1);
  const b = make(2);
  for (let round = 0; round < 200; round++) {
    for (const side of [a, b]) {
      const len = side.view.state.doc.length;
      const changes = randomChanges(rand, len, ['x', 'y', '\n', ' ']).filter((c) => c.from !== c.to || c.insert !== '');
      if (changes.length > 0) side.view.dispatch({ changes });
    }
    if (rand() < 0.5) {
      for (const op of a.client.out.splice(0)) b.client.receive(op);
      for (const op of b.client.out.splice(0)) a.client.receive(op);
    }
  }
  for (const op of a.client.out.splice(0)) b.client.receive(op);
  for (const op of b.client.out.splice(0)) a.client.receive(op);
  assert.equal(a.view.text, a.client.text);
  assert.equal(b.view.text, b.client.text);
  assert.equal(a.view.text, b.view.text);
});

// ---- a PRD at its size limit ------------------------------------------------------------

// The SDK's own client, not connected, holding @text (as the hub's) under
// site 0 and editing as site 1, with the hub's max-document-size @max.
function limitedClient(text, max) {
  const client = new PrdClient({ url: 'http://127.0.0.1:1', token: 't', prdId: 'p', io: () => { throw new Error('offline'); } });
  client.doc.localInsert(0, 0, text);
  client.siteId = 1;
  client.maxDocumentSize = max;
  return client;
}

function boundTo(client, extensions = []) {
  const view = new FakeView(state(client.text, extensions));
  const reasons = [];
  const binding = new EditorBinding(client, view, { onResync: (r) => reasons.push(r) });
  view.listener = (tr) => binding.handleTransaction(tr);
  return { view, reasons };
}

test('a paste over a selection that does not fit changes nothing: the selection stays', () => {
  const client = limitedClient('hello world', 11);
  const { view, reasons } = boundTo(client);
  view.dispatch({ changes: { from: 6, to: 11, insert: 'planet!' }, userEvent: 'input.paste' });
  assert.equal(client.text, 'hello world');
  assert.equal(view.text, 'hello world');
  assert.equal(client.pendingCount, 0);
  assert.equal(reasons.length, 1);
  assert.equal(reasons[0].code, 'LIMIT_REACHED');
  assert.match(reasons[0].message, /would have 13 UTF-16 units, more than it may hold \(11\)/);
  // One that fits goes as one replace.
  view.dispatch({ changes: { from: 6, to: 11, insert: 'there' }, userEvent: 'input.paste' });
  assert.equal(client.text, 'hello there');
  assert.equal(view.text, 'hello there');
  assert.equal(client.pendingCount, 2);
  // Several selections pasted over at once are checked as a whole.
  view.dispatch({ changes: [{ from: 0, to: 1, insert: 'HH' }, { from: 6, to: 7, insert: 'T' }] });
  assert.equal(client.text, 'hello there');
  assert.equal(view.text, 'hello there');
  assert.equal(reasons[1].code, 'LIMIT_REACHED');
});

test('a line moved up or down in a PRD at its size limit is moved', () => {
  const text = 'one\ntwo\nthree\nfour';
  const client = limitedClient(text, text.length);
  const { view, reasons } = boundTo(client);
  const run = (command, cursor) => {
    view.dispatch({ selection: EditorSelection.cursor(cursor) });
    command({ state: view.state, dispatch: (tr) => view.dispatch(tr) });
  };
  run(moveLineUp, 5); // "two"
  assert.equal(view.text, 'two\none\nthree\nfour');
  assert.equal(client.text, view.text);
  run(moveLineDown, 9); // "three"
  assert.equal(view.text, 'two\none\nfour\nthree');
  assert.equal(client.text, view.text);
  assert.deepEqual(reasons, []);
});

// ---- pasted text the hub refuses --------------------------------------------------------

test('U+0000 and lone surrogates become U+FFFD; surrogate pairs stay', () => {
  assert.deepEqual(cleanText('a\u0000b'), { text: 'a\ufffdb', count: 1 });
  assert.deepEqual(cleanText('\ud800x\udc00😀\ud83d'), { text: '\ufffdx\ufffd😀\ufffd', count: 3 });
  assert.deepEqual(cleanText('plain 😀'), { text: 'plain 😀', count: 0 });
});

test('a paste or drop holding U+0000 or a lone surrogate goes in with U+FFFD, and says how many', () => {
  const client = limitedClient('Head.\n', 1000);
  const { view, reasons } = boundTo(client, [cleanPastes, history()]);
  view.dispatch({ changes: { from: 6, insert: 'PDF\u0000 text\ud800.' }, selection: EditorSelection.cursor(17), userEvent: 'input.paste' });
  const tr = view.transactions[view.transactions.length - 1];
  assert.equal(tr.annotation(replacedCharacters), 2);
  assert.ok(tr.isUserEvent('input.paste'));
  assert.equal(view.text, 'Head.\nPDF\ufffd text\ufffd.');
  assert.equal(client.text, view.text);
  assert.equal(view.state.selection.main.head, 17);
  view.dispatch({ changes: { from: 0, insert: '\u0000' }, userEvent: 'input.drop' });
  assert.equal(client.text, '\ufffdHead.\nPDF\ufffd text\ufffd.');
  assert.deepEqual(reasons, []);
  // Typed text is left alone (the SDK refuses a NUL in it).
  view.dispatch({ changes: { from: 0, insert: '\u0000' }, userEvent: 'input.type' });
  assert.equal(reasons[0].code, 'INVALID_OPERATION');
  assert.equal(view.text, client.text);
});

// ---- input-method compositions -----------------------------------------------------------

// A view composing text with an input method: compositionStarted as on
// CodeMirror's EditorView.
function composingView(text) {
  const b = bound(text);
  b.view.compositionStarted = false;
  return b;
}

test('during a composition remote changes wait; the composed text goes out mapped over them', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { client, view, binding } = composingView('Notes:\n');
  view.dispatch({ selection: EditorSelection.cursor(7) });
  view.compositionStarted = true;
  // The input method writes と, then とう, while another user types "a" at
  // the same place each time (in the client's text, where と already is).
  view.dispatch({ changes: { from: 7, insert: 'と' }, selection: EditorSelection.cursor(8), userEvent: 'input.type.compose' });
  client.remote([{ type: 'insert', position: 8, text: 'a' }]);
  assert.equal(view.text, 'Notes:\nと', 'the remote change waits');
  assert.equal(binding.remoteWaiting, true);
  view.dispatch({ changes: { from: 8, insert: 'う' }, selection: EditorSelection.cursor(9), userEvent: 'input.type.compose' });
  client.remote([{ type: 'insert', position: 10, text: 'a' }]);
  // The composition goes on at its place in the client's text too, before
  // the text the other user typed at it.
  assert.deepEqual(client.sent, [
    { type: 'insert', position: 7, text: 'と' },
    { type: 'insert', position: 8, text: 'う' },
  ]);
  assert.equal(client.text, 'Notes:\nとうaa');
  assert.deepEqual(client.presence, { cursor: 9 });
  // The composition ends with a replacement (a conversion): mapped too.
  view.dispatch({ changes: { from: 7, to: 9, insert: '東' }, selection: EditorSelection.cursor(8), userEvent: 'input.type.compose' });
  assert.equal(client.text, 'Notes:\n東aa');
  assert.equal(view.text, 'Notes:\n東');
  view.compositionStarted = false;
  binding.compositionEnded();
  t.mock.timers.tick(0);
  assert.equal(view.text, 'Notes:\n東aa');
  assert.equal(binding.remoteWaiting, false);
  // The cursor stayed after the composed text; the remote changes are
  // marked and were not sent back.
  assert.equal(view.state.selection.main.head, 8);
  assert.ok(view.transactions[view.transactions.length - 1].annotation(remoteChange));
  assert.deepEqual(client.sent.slice(2), [
    { type: 'delete', position: 7, length: 2 },
    { type: 'insert', position: 7, text: '東' },
  ]);
  assert.equal(client.sent.length, 4);
});

test('the composition\'s last change lets what waited in, with no compositionend call', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { client, view } = composingView('x');
  view.compositionStarted = true;
  client.remote([{ type: 'insert', position: 0, text: 'R' }]);
  view.compositionStarted = false;
  view.dispatch({ changes: { from: 1, insert: 'か' }, userEvent: 'input.type.compose' });
  assert.equal(view.text, 'xか');
  assert.equal(client.text, 'Rxか');
  t.mock.timers.tick(0);
  assert.equal(view.text, 'Rxか');
});

test('a composition that never ends holds remote changes MAX_COMPOSITION_DEFER_MS at most', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { client, view, binding } = composingView('ab');
  assert.equal(binding.maxDeferMs, MAX_COMPOSITION_DEFER_MS);
  view.compositionStarted = true;
  client.remote([{ type: 'insert', position: 0, text: 'R' }]);
  t.mock.timers.tick(MAX_COMPOSITION_DEFER_MS - 1);
  client.remote([{ type: 'insert', position: 3, text: 'S' }]);
  assert.equal(view.text, 'ab');
  t.mock.timers.tick(1);
  assert.equal(view.text, 'RabS', 'applied at the bound, still composing');
  assert.equal(binding.remoteWaiting, false);
  // The next remote change waits for a bound of its own.
  client.remote([{ type: 'insert', position: 4, text: 'T' }]);
  assert.equal(view.text, 'RabS');
  t.mock.timers.tick(MAX_COMPOSITION_DEFER_MS);
  assert.equal(view.text, 'RabST');
});

test('a refused edit during a composition resyncs and drops what waited', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { client, view, binding } = composingView('ab');
  view.compositionStarted = true;
  client.remote([{ type: 'insert', position: 0, text: 'R' }]);
  client.refuse = Object.assign(new Error('joined in view mode'), { code: 'FORBIDDEN' });
  view.dispatch({ changes: { from: 2, insert: 'か' } });
  assert.equal(view.text, 'Rab');
  assert.equal(binding.remoteWaiting, false);
  t.mock.timers.tick(MAX_COMPOSITION_DEFER_MS);
  assert.equal(view.text, 'Rab');
});

test('two CRDT replicas converge when one composes while the other types', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const rand = rng(4242);
  const make = (site) => {
    const doc = new CrdtDoc();
    const client = new Emitter();
    client.joined = true;
    client.out = [];
    Object.defineProperty(client, 'text', { get: () => doc.getText() });
    client.insert = (p, txt) => client.out.push(doc.localInsert(site, p, txt).op);
    client.delete = (p, l) => client.out.push(doc.localDelete(site, p, l).op);
    client.replace = (p, l, t) => {
      client.delete(p, l);
      client.insert(p, t);
    };
    client.setCursor = () => {};
    client.setSelection = () => {};
    client.receive = (op) => {
      const res = doc.applyRemote(opToJson(op));
      if (res.deltas.length > 0) client.emit('remote-change', { deltas: res.deltas, userId: 'x' });
    };
    const view = new FakeView(state(''));
    view.compositionStarted = false;
    const binding = new EditorBinding(client, view);
    view.listener = (tr) => binding.handleTransaction(tr);
    return { client, view, binding };
  };
  const a = make(1);
  const b = make(2);
  for (let round = 0; round < 300; round++) {
    // a composes now and then (its changes are then the input method's).
    if (rand() < 0.2) {
      a.view.compositionStarted = !a.view.compositionStarted;
      if (!a.view.compositionStarted) a.binding.compositionEnded();
    }
    for (const side of [a, b]) {
      const len = side.view.state.doc.length;
      const changes = randomChanges(rand, len, ['x', 'y', '\n', 'か']).filter((c) => c.from !== c.to || c.insert !== '');
      if (changes.length > 0) side.view.dispatch({ changes });
    }
    if (rand() < 0.5) {
      for (const op of a.client.out.splice(0)) b.client.receive(op);
      for (const op of b.client.out.splice(0)) a.client.receive(op);
    }
    if (rand() < 0.3) t.mock.timers.tick(rand() < 0.1 ? MAX_COMPOSITION_DEFER_MS : 0);
    if (!a.binding.remoteWaiting) assert.equal(a.view.text, a.client.text);
  }
  a.view.compositionStarted = false;
  a.binding.compositionEnded();
  for (const op of a.client.out.splice(0)) b.client.receive(op);
  for (const op of b.client.out.splice(0)) a.client.receive(op);
  t.mock.timers.tick(0);
  assert.equal(a.view.text, a.client.text);
  assert.equal(b.view.text, b.client.text);
  assert.equal(a.view.text, b.view.text);
});
