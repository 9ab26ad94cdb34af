// SPDX-License-Identifier: GPL-3.0-or-later
//
// The JavaScript SDK (clients/js) after the hub refused an insert for room
// (LIMIT_REACHED, max-document-size), against a real prdhub: the edits
// typed after the refused insert keep their places, even those that point
// into its text; a burst of inserts without room settles in one round; and
// a resync whose join is refused with a code that passes goes on.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { io } from './helpers/hub.js';
import {
  SDK_HUB_CONFIG, converged, createPrd, sdkClient, startHub, until, untilLeft, user,
} from './sdk-helpers.js';

const alice = user('sdk_refused_alice');
const bob = user('sdk_refused_bob');

function within(promise, what, ms = 30000) {
  let timer;
  return Promise.race([promise, new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  })]).finally(() => clearTimeout(timer));
}

// Alice, offline, at 10 of 20 units: "HELLO" at the end, "abc" at the
// start, then she deletes the "ELL" of "HELLO". Bob's 6 units leave no
// room for "HELLO": it is refused. Its ids are those "abc" takes
// when re-applied; the deletion aimed at "ELL" must not remove "bc".
test('a deletion inside a refused insert is void; the edits between them are kept', async () => {
  const small = await startHub({ config: `${SDK_HUB_CONFIG}[collab]\nmax-document-size = 20\n` });
  const prdId = await createPrd(small, 'Refused', 'x'.repeat(10), alice);
  const a = sdkClient(small, prdId, alice);
  const b = sdkClient(small, prdId, bob);
  const errors = [];
  a.on('error', (e) => errors.push(e));
  try {
    await a.connect();
    await b.connect();
    a.disconnect();
    a.insert(10, 'HELLO');
    a.insert(0, 'abc');
    a.delete(14, 3);
    assert.equal(a.text, `abc${'x'.repeat(10)}HO`);
    b.insert(5, 'B'.repeat(6));
    await b.whenSynced();
    await untilLeft(small, prdId, 'sdk_refused_alice');
    await a.reconnect();
    const doc = await converged(small, prdId, [a, b], alice);
    assert.equal(doc.content, `abcxxxxx${'B'.repeat(6)}xxxxx`);
    assert.equal(a.text, doc.content);
    assert.deepEqual(errors.map((e) => e.code), ['LIMIT_REACHED']);
    assert.match(errors[0].message, /max-document-size/);
  } finally {
    a.close();
    b.close();
    await small.stop();
  }
});

// socket.io-client's io under the test's control: hold(event) keeps that
// event's emits until release(event) sends them; refuseNext(event, code)
// answers the next one with that error code without sending it. counts
// the emits of each event.
function scripted() {
  const held = new Map(); // event -> emits waiting, while held
  const refusals = [];
  const counts = {};
  let socket = null;
  const wrap = (url, options) => {
    socket = io(url, options);
    const emit = socket.emit.bind(socket);
    socket.emit = (event, ...args) => {
      counts[event] = (counts[event] ?? 0) + 1;
      const r = refusals[0];
      if (r && r.event === event) {
        refusals.shift();
        const ack = args[args.length - 1];
        setTimeout(() => ack({ error: { code: r.code, message: 'refused by the test' } }), 0);
        return socket;
      }
      if (held.has(event)) {
        held.get(event).push(() => emit(event, ...args));
        return socket;
      }
      return emit(event, ...args);
    };
    return socket;
  };
  return {
    wrap,
    counts,
    held: (event) => held.get(event)?.length ?? 0,
    hold: (event) => held.set(event, []),
    release: (event) => {
      const waiting = held.get(event) ?? [];
      held.delete(event);
      for (const send of waiting) send();
    },
    refuseNext: (event, code) => refusals.push({ event, code }),
  };
}

// Alice's "HELLO" leaves once Bob's 16 units are in: the hub refuses it.
// Before its state comes back, Alice still sees "HELLO" and types on: at
// the start (which takes the refused ids again), and in "HELLO" itself. A
// deletion in the refused text is void; an insert typed after a refused
// character goes where the refused text was.
for (const variant of ['a deletion', 'an insert']) {
  test(`typed while resyncing after a refused insert: ${variant} in the refused text`, async () => {
    const small = await startHub({ config: `${SDK_HUB_CONFIG}[collab]\nmax-document-size = 30\n` });
    const prdId = await createPrd(small, 'Refused', 'x'.repeat(10), alice);
    const link = scripted();
    const a = sdkClient(small, prdId, alice, { io: link.wrap });
    const b = sdkClient(small, prdId, bob);
    const errors = [];
    a.on('error', (e) => errors.push(e));
    try {
      await a.connect();
      await b.connect();
      link.hold('content-update');
      link.hold('sync-request');
      a.insert(10, 'HELLO');
      b.insert(5, 'B'.repeat(16));
      await b.whenSynced();
      await until(() => a.text === `xxxxx${'B'.repeat(16)}xxxxxHELLO`, 'Bob\'s text at Alice');
      link.release('content-update');
      await until(() => a.resyncing && link.held('sync-request') > 0, 'the full-state request');
      assert.equal(a.text, `xxxxx${'B'.repeat(16)}xxxxxHELLO`);
      a.delete(0, 4);
      a.insert(0, 'ab');
      const at = a.text.indexOf('HELLO');
      if (variant === 'a deletion') a.delete(at + 1, 3);
      else a.insert(at + 1, '!');
      link.release('sync-request');
      const doc = await converged(small, prdId, [a, b], alice);
      const tail = variant === 'a deletion' ? '' : '!';
      assert.equal(doc.content, `abx${'B'.repeat(16)}xxxxx${tail}`);
      assert.equal(a.text, doc.content);
      assert.deepEqual(errors.map((e) => e.code), ['LIMIT_REACHED']);
    } finally {
      a.close();
      b.close();
      await small.stop();
    }
  });
}

// Offline, Alice makes 20 separate inserts of 10 units; Bob's text takes
// all the room but 25 units. The hub would refuse all but two of them
// (one at a time, each refusal answered by a full state): the SDK drops
// them with the hub's length as it joins, one `error` each.
test('offline inserts the hub has no room for are dropped as the client joins, one error each', async () => {
  const small = await startHub({ config: `${SDK_HUB_CONFIG}[collab]\nmax-document-size = 400\n` });
  const prdId = await createPrd(small, 'Burst', 'x'.repeat(175), alice);
  const link = scripted();
  const a = sdkClient(small, prdId, alice, { io: link.wrap });
  const b = sdkClient(small, prdId, bob);
  const errors = [];
  a.on('error', (e) => errors.push(e));
  try {
    await a.connect();
    await b.connect();
    a.disconnect();
    for (let i = 0; i < 20; i++) a.insert(i * 5, String.fromCharCode(65 + i).repeat(10));
    a.delete(a.length - 5, 5); // a deletion after them is kept
    assert.equal(a.pendingCount, 21);
    b.insert(175, 'B'.repeat(200));
    await b.whenSynced();
    await untilLeft(small, prdId, 'sdk_refused_alice');
    link.counts['sync-request'] = 0;
    await a.reconnect();
    const doc = await converged(small, prdId, [a, b], alice);
    assert.equal(doc.content, `AAAAABBBBBBBBBBAAAAA${'x'.repeat(170)}${'B'.repeat(200)}`);
    assert.equal(a.text, doc.content);
    assert.equal(errors.length, 18);
    for (const e of errors) {
      assert.equal(e.code, 'LIMIT_REACHED');
      assert.match(e.message, /max-document-size/);
    }
    assert.equal(link.counts['sync-request'], 0);
  } finally {
    a.close();
    b.close();
    await small.stop();
  }
});

// Alice's 10 inserts of 9 units leave once Bob's 80 are in: the hub takes
// the first and refuses the second (and, their ids no longer following,
// the rest). The full state that answers that refusal settles them all:
// one full-state request, not one per insert.
test('inserts queued behind one the hub refused for room are dropped with its state, one error each', async () => {
  const small = await startHub({ config: `${SDK_HUB_CONFIG}[collab]\nmax-document-size = 100\n` });
  const prdId = await createPrd(small, 'Burst', 'x'.repeat(10), alice);
  const link = scripted();
  const a = sdkClient(small, prdId, alice, { io: link.wrap });
  const b = sdkClient(small, prdId, bob);
  const errors = [];
  a.on('error', (e) => errors.push(e));
  try {
    await a.connect();
    await b.connect();
    link.hold('content-update');
    for (let i = 0; i < 10; i++) a.insert(0, String.fromCharCode(65 + i).repeat(9));
    b.insert(10, 'B'.repeat(80));
    await b.whenSynced();
    link.counts['sync-request'] = 0;
    link.release('content-update');
    const doc = await converged(small, prdId, [a, b], alice);
    assert.equal(doc.content, `${'A'.repeat(9)}${'x'.repeat(10)}${'B'.repeat(80)}`);
    assert.equal(a.text, doc.content);
    assert.deepEqual(errors.map((e) => e.code), Array(9).fill('LIMIT_REACHED'));
    assert.ok(link.counts['sync-request'] <= 2, `${link.counts['sync-request']} sync-requests`);
  } finally {
    a.close();
    b.close();
    await small.stop();
  }
});

// The resync after a refused insert cannot get the hub's state from a
// sync-request (refused INTERNAL_ERROR) and joins instead; that join is
// refused RATE_LIMITED: it is tried again, and the client settles.
test('a resync whose fallback join is refused RATE_LIMITED is tried again and settles', async () => {
  const small = await startHub({ config: `${SDK_HUB_CONFIG}[collab]\nmax-document-size = 20\n` });
  const prdId = await createPrd(small, 'Refused', 'x'.repeat(10), alice);
  const link = scripted();
  const a = sdkClient(small, prdId, alice, { io: link.wrap });
  const b = sdkClient(small, prdId, bob);
  const errors = [];
  a.on('error', (e) => errors.push(`${e.event} ${e.code}`));
  try {
    await a.connect();
    await b.connect();
    link.hold('content-update');
    a.insert(0, 'AAAAA');
    a.insert(0, 'z');
    b.insert(10, 'B'.repeat(9));
    await b.whenSynced();
    link.refuseNext('sync-request', 'INTERNAL_ERROR');
    link.refuseNext('join-prd', 'RATE_LIMITED');
    link.release('content-update');
    await within(a.whenSynced(), 'whenSynced() after the refused join');
    assert.deepEqual(errors, ['content-update LIMIT_REACHED', 'sync-request INTERNAL_ERROR', 'join-prd RATE_LIMITED']);
    assert.equal(a.resyncing, false);
    assert.equal(a.joined, true);
    const doc = await converged(small, prdId, [a, b], alice);
    assert.equal(doc.content, `z${'x'.repeat(10)}${'B'.repeat(9)}`);
    assert.equal(a.text, doc.content);
  } finally {
    a.close();
    b.close();
    await small.stop();
  }
});

// Every character of @doc (a client's CrdtDoc), deleted ones included, in
// document order: two replicas with the same list have the same CRDT.
function charOrder(doc) {
  const out = [];
  for (const c of doc.chunks)
    for (const it of c.items)
      for (let k = 0; k < it.len; k++) out.push(`${it.site}:${it.clock + k}${it.del ? '-' : ''}`);
  return out;
}

// The character the offline edits were typed after ("b") was deleted by
// someone else, and the insert typed first after it (PPPP) has no room:
// the re-applied inserts go after the deleted "b", in the order they were
// typed, as the hub integrates them (XY was typed after "b", Q after the
// refused PPPP, so before XY).
test('edits typed after a character someone deleted are re-applied after it, in order', async () => {
  const small = await startHub({ config: `${SDK_HUB_CONFIG}[collab]\nmax-document-size = 20\n` });
  const prdId = await createPrd(small, 'Refused', 'abcdefgh', alice);
  const a = sdkClient(small, prdId, alice);
  const b = sdkClient(small, prdId, bob);
  const errors = [];
  a.on('error', (e) => errors.push(`${e.code} ${e.operation?.content}`));
  try {
    await a.connect();
    await b.connect();
    a.disconnect();
    a.insert(2, 'XY');
    a.insert(2, 'PPPP');
    a.delete(13, 1);
    a.insert(6, 'Q');
    assert.equal(a.text, 'abPPPPQXYcdefg');
    b.delete(1, 1);
    b.insert(7, 'B'.repeat(10));
    await b.whenSynced();
    await untilLeft(small, prdId, 'sdk_refused_alice');
    await a.reconnect();
    const doc = await converged(small, prdId, [a, b], alice);
    assert.equal(doc.content, `aQXYcdefg${'B'.repeat(10)}`);
    assert.equal(a.text, doc.content);
    assert.equal(b.text, doc.content);
    assert.deepEqual(errors, ['LIMIT_REACHED PPPP']);
    // Bob integrated the hub's form of Alice's inserts: the same CRDT.
    assert.deepEqual(charOrder(a.doc), charOrder(b.doc));
  } finally {
    a.close();
    b.close();
    await small.stop();
  }
});
