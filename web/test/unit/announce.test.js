// SPDX-License-Identifier: GPL-3.0-or-later
//
// The editor's status announcer (web/src/announce.js): what its one live
// region says, and that saving ↔ saved and brief drops say nothing. Timers
// are the test's own (no waiting).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Announcer, connectionKey, connectionMessage, presenceChanges } from '../../src/announce.js';

// Timers the test advances by hand.
function fakeTimers() {
  let now = 0;
  let next = 1;
  const due = new Map();
  return {
    setTimeout(fn, ms) { due.set(next, { at: now + ms, fn }); return next++; },
    clearTimeout(id) { due.delete(id); },
    advance(ms) {
      now += ms;
      for (const [id, t] of [...due].sort((a, b) => a[1].at - b[1].at)) {
        if (t.at <= now && due.has(id)) { due.delete(id); t.fn(); }
      }
    },
  };
}

// A region that keeps every text written to it.
function region() {
  const writes = [];
  return {
    writes,
    get textContent() { return writes.at(-1) ?? ''; },
    set textContent(v) { writes.push(v); },
  };
}

// What renderConnection() (editor.js) hands the announcer.
function show(a, state, text, pendingCount = 0) {
  a.setState(connectionKey(state, pendingCount),
    (previous) => connectionMessage(connectionKey(state, pendingCount), previous, { text, pendingCount }));
}

test('joining and saving ↔ saved flips say nothing', () => {
  const timers = fakeTimers();
  const r = region();
  const a = new Announcer(r, { timers });
  show(a, 'connecting', 'Connecting…');
  show(a, 'online', 'Online · saved');
  timers.advance(2000);
  for (let i = 0; i < 50; i++) {
    show(a, 'saving', 'Online · saving…', 1);
    timers.advance(100);
    show(a, 'online', 'Online · saved');
    timers.advance(3000);
  }
  assert.deepEqual(r.writes, []);
});

test('offline, edits waiting and back online are said once each, after 2 s', () => {
  const timers = fakeTimers();
  const r = region();
  const a = new Announcer(r, { timers });
  show(a, 'online', 'Online · saved');
  timers.advance(2000);
  show(a, 'offline', 'Offline · edits sync when back');
  timers.advance(1999);
  assert.deepEqual(r.writes, []);
  timers.advance(1);
  assert.deepEqual(r.writes, ['Offline · edits sync when back']);
  // Typing offline: the count is said once the typing pauses, not per key.
  for (let n = 1; n <= 5; n++) {
    show(a, 'offline', `Offline · ${n} edits waiting`, n);
    timers.advance(300);
  }
  assert.equal(r.writes.length, 1);
  timers.advance(2000);
  assert.deepEqual(r.writes.slice(1), ['Offline · 5 edits waiting']);
  show(a, 'offline', 'Offline · 6 edits waiting', 6);
  timers.advance(5000);
  assert.equal(r.writes.length, 2);
  show(a, 'saving', 'Online · saving…', 6);
  show(a, 'online', 'Online · saved', 0);
  timers.advance(2000);
  assert.deepEqual(r.writes.slice(2), ['Back online · saved']);
});

test('a drop shorter than the delay says nothing; signed out and closed are said', () => {
  const timers = fakeTimers();
  const r = region();
  const a = new Announcer(r, { timers });
  show(a, 'online', 'Online · saved');
  timers.advance(2000);
  show(a, 'offline', 'Offline · edits sync when back');
  timers.advance(1500);
  show(a, 'online', 'Online · saved');
  timers.advance(5000);
  assert.deepEqual(r.writes, []);
  show(a, 'signed-out', 'Signed out · 2 edits waiting', 2);
  timers.advance(2000);
  show(a, 'error', 'Deleted');
  timers.advance(2000);
  assert.deepEqual(r.writes, ['Signed out · 2 edits waiting', 'Deleted']);
});

test('joins and leaves go out together; the same words again are still a change', () => {
  const timers = fakeTimers();
  const r = region();
  const a = new Announcer(r, { timers });
  const ann = { userId: 'u_ann', name: 'Ann' };
  const bob = { userId: 'u_bob', name: 'Bob' };
  assert.deepEqual(presenceChanges([], [ann, bob]), ['Ann joined', 'Bob joined']);
  assert.deepEqual(presenceChanges([ann, bob], [bob]), ['Ann left']);
  assert.deepEqual(presenceChanges([ann], [{ ...ann, status: 'editing' }]), []);
  for (const m of presenceChanges([ann], [bob])) a.say(m);
  timers.advance(2000);
  assert.deepEqual(r.writes, ['Bob joined. Ann left']);
  a.say('Bob joined. Ann left');
  timers.advance(2000);
  assert.equal(r.writes.length, 2);
  assert.notEqual(r.writes[1], r.writes[0]);
  assert.equal(r.writes[1].trim(), 'Bob joined. Ann left');
});

test('a leave and a join again within the delay say nothing (a reload), and the reverse', () => {
  const timers = fakeTimers();
  const r = region();
  const a = new Announcer(r, { timers });
  const ann = { userId: 'u_ann', name: 'Ann' };
  const cat = { userId: 'u_cat', name: 'Cat' };
  a.setPeople([ann]);
  timers.advance(5000);
  assert.deepEqual(r.writes, [], 'the first list says nothing');
  // Ann reloads her page: she leaves and is back 300 ms later.
  a.setPeople([]);
  timers.advance(300);
  a.setPeople([ann]);
  timers.advance(5000);
  // Cat looks in and goes again within the delay.
  a.setPeople([ann, cat]);
  timers.advance(1000);
  a.setPeople([ann]);
  timers.advance(5000);
  assert.deepEqual(r.writes, []);
  // What held for the delay is said, once; a change back later is said too.
  a.setPeople([ann, cat]);
  timers.advance(2000);
  a.setPeople([cat]);
  timers.advance(300);
  a.setPeople([]);
  timers.advance(300);
  a.setPeople([ann]);
  timers.advance(2000);
  assert.deepEqual(r.writes, ['Cat joined', 'Cat left']);
  // With a state change in the same window, only the state is said.
  show(a, 'online', 'Online · saved');
  timers.advance(2000);
  show(a, 'offline', 'Offline · edits sync when back');
  a.setPeople([]);
  a.setPeople([ann]);
  timers.advance(2000);
  assert.deepEqual(r.writes.slice(2), ['Offline · edits sync when back']);
});
