// SPDX-License-Identifier: GPL-3.0-or-later
//
// Conflict review on /prds (docs/protocol.md, "Conflict review"): two plain
// socket.io-clients edit the same place at stale vectors; both hear
// conflict-detected; resolve-conflict applies yours / theirs / merge as
// ordinary edits; open conflicts survive a restart and come with joined-prd.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, tmpDir } from './helpers/hub.js';
import {
  client, request, join, bump, user, createPrd, recorder, until, rest,
} from './collab-helpers.js';
import { converged, sdkClient, until as sdkUntil } from './sdk-helpers.js';

const EVENTS = ['conflict-detected', 'conflict-resolved', 'content-update'];

function op(type, position, rest) {
  return { type, position, ...rest, timestamp: Date.now() };
}

// Two editors who both start from the same text; each sends one edit at
// that stale vector. Returns the sockets, their recorders and the ids.
async function collide(hub, prdId, opA, opB, sockets) {
  const a = await client(hub, user('user_a'));
  const b = await client(hub, user('user_b'));
  sockets.push(a, b);
  const ja = await join(a, prdId);
  const jb = await join(b, prdId);
  const seenA = recorder(a, EVENTS);
  const seenB = recorder(b, EVENTS);
  const ackA = await request(a, 'content-update',
    { prdId, operation: opA, stateVector: bump(ja.vector, ja.siteId) });
  assert.equal(ackA.ok, true, JSON.stringify(ackA));
  // b has not seen a's edit: its vector is the one it joined with.
  const ackB = await request(b, 'content-update',
    { prdId, operation: opB, stateVector: bump(jb.vector, jb.siteId) });
  assert.equal(ackB.ok, true, JSON.stringify(ackB));
  const detected = (seen) => seen.filter((e) => e.event === 'conflict-detected');
  await until(a, () => detected(seenA).length === 1 && detected(seenB).length === 1);
  return {
    a, b, seenA, seenB, ja, jb,
    fromA: detected(seenA)[0].data, fromB: detected(seenB)[0].data,
  };
}

async function text(hub, prdId) {
  const r = await client(hub, user('user_reader', { role: 'viewer' }));
  try {
    const { joined } = await join(r, prdId, { mode: 'view' });
    return joined.initialState.content;
  } finally {
    r.close();
  }
}

function resolvedIn(seen) {
  return seen.filter((e) => e.event === 'conflict-resolved');
}

test('concurrent inserts at one place: both get conflict-detected (seed shape)', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Collide', 'hello world');
    const c = await collide(hub, prdId, op('insert', 5, { content: 'AAA' }),
      op('insert', 5, { content: 'BB' }), sockets);
    for (const [data, mine, theirs] of [[c.fromA, 'AAA', 'BB'], [c.fromB, 'BB', 'AAA']]) {
      assert.deepEqual(Object.keys(data).sort(), ['conflicts', 'prdId']);
      assert.equal(data.prdId, prdId);
      assert.equal(data.conflicts.length, 1);
      const [k] = data.conflicts;
      assert.deepEqual(Object.keys(k).sort(), ['conflictId', 'position', 'theirChange', 'yourChange']);
      assert.match(k.conflictId, /^conflict_[0-9a-f-]+$/);
      assert.equal(k.position, 5);
      assert.equal(k.yourChange, mine);
      assert.equal(k.theirChange, theirs);
    }
    assert.equal(c.fromA.conflicts[0].conflictId, c.fromB.conflicts[0].conflictId);
    // The CRDT merged both regardless.
    const merged = await text(hub, prdId);
    assert.ok(merged === 'helloAAABB world' || merged === 'helloBBAAA world', merged);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('no conflict: same user, sequential edits, far apart', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Calm', 'hello wonderful world');
    const a = await client(hub, user('user_a'));
    const a2 = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    sockets.push(a, a2, b);
    const ja = await join(a, prdId);
    const ja2 = await join(a2, prdId);
    const jb = await join(b, prdId);
    const seen = [a, a2, b].map((s) => recorder(s, ['conflict-detected']));
    // Same user on two connections, both stale, same place.
    await request(a, 'content-update',
      { prdId, operation: op('insert', 0, { content: 'x' }), stateVector: bump(ja.vector, ja.siteId) });
    await request(a2, 'content-update',
      { prdId, operation: op('insert', 0, { content: 'y' }), stateVector: bump(ja2.vector, ja2.siteId) });
    // b, stale too, far away from both.
    const ackB = await request(b, 'content-update',
      { prdId, operation: op('insert', 21, { content: '!' }), stateVector: bump(jb.vector, jb.siteId) });
    // b again, having seen everything, right next to a's text.
    const ack2 = await request(b, 'content-update',
      { prdId, operation: op('insert', 1, { content: 'z' }), stateVector: bump(ackB.stateVector, jb.siteId) });
    assert.equal(ack2.ok, true, JSON.stringify(ack2));
    // A marker: a real conflict afterwards proves the hub had its chance.
    const late = await client(hub, user('user_c'));
    sockets.push(late);
    const jl = await join(late, prdId);
    const seenLate = recorder(late, ['conflict-detected']);
    await request(b, 'content-update',
      { prdId, operation: op('insert', 10, { content: 'B' }), stateVector: bump(ack2.stateVector, jb.siteId) });
    await request(late, 'content-update',
      { prdId, operation: op('insert', 10, { content: 'C' }), stateVector: bump(jl.vector, jl.siteId) });
    await until(late, () => seenLate.length === 1 && seen[2].length === 1);
    assert.equal(seen[0].length, 0);
    assert.equal(seen[1].length, 0);
    assert.equal(seen[2].length, 1);
    assert.equal(seen[2][0].data.conflicts[0].yourChange, 'B');
    assert.equal(seenLate[0].data.conflicts[0].theirChange, 'B');
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

for (const [resolution, resolver, merged, expected] of [
  ['yours', 'a', undefined, 'helloAAA world'],
  ['theirs', 'a', undefined, 'helloBB world'],
  ['merge', 'b', 'XY', 'helloXY world'],
]) {
  test(`resolve-conflict '${resolution}' edits the text for everyone and closes it`, async () => {
    const hub = await startHub();
    const sockets = [];
    try {
      const prdId = await createPrd(hub, 'Resolve', 'hello world');
      const c = await collide(hub, prdId, op('insert', 5, { content: 'AAA' }),
        op('insert', 5, { content: 'BB' }), sockets);
      const conflictId = c.fromA.conflicts[0].conflictId;
      const who = resolver === 'a' ? c.a : c.b;
      const payload = { prdId, conflictId, resolution };
      if (merged !== undefined) payload.mergedContent = merged;
      const ack = await request(who, 'resolve-conflict', payload);
      assert.equal(ack.ok, true, JSON.stringify(ack));
      await until(c.a, () => resolvedIn(c.seenA).length === 1 && resolvedIn(c.seenB).length === 1);
      for (const seen of [c.seenA, c.seenB]) {
        assert.deepEqual(resolvedIn(seen)[0].data, {
          prdId, conflictId, resolution, alreadyUndone: false,
          resolvedBy: { id: `user_${resolver}`, name: `Name user_${resolver}` },
        });
      }
      // The resolution came as ordinary content-updates, to both users,
      // naming the resolver.
      const ops = c.seenA.filter((e) => e.event === 'content-update'
        && e.data.userId === `user_${resolver}` && e.data.operation.site !== c.ja.siteId);
      assert.ok(ops.length >= 1, JSON.stringify(c.seenA));
      assert.equal(await text(hub, prdId), expected);
      // Closed: gone from joined-prd, and resolving again finds nothing.
      const again = await request(c.a, 'resolve-conflict', { prdId, conflictId, resolution: 'yours' });
      assert.equal(again.error.code, 'NOT_FOUND');
      const a3 = await client(hub, user('user_a'));
      sockets.push(a3);
      const j3 = await join(a3, prdId);
      assert.deepEqual(j3.joined.conflicts, []);
    } finally {
      for (const s of sockets) s.close();
      await hub.stop();
    }
  });
}

// Undoing an insert (or merging) removes the parties' own characters, not
// what others typed among them meanwhile.
for (const [resolution, merged] of [['yours', undefined], ['merge', 'XY']]) {
  test(`resolve-conflict '${resolution}' keeps the text a third user typed inside an insert`, async () => {
    const hub = await startHub();
    const sockets = [];
    try {
      const prdId = await createPrd(hub, 'Inside', 'hello world');
      const c = await collide(hub, prdId, op('insert', 5, { content: 'AAA' }),
        op('insert', 5, { content: 'BBBB' }), sockets);
      const before = await text(hub, prdId);
      const at = before.indexOf('BBBB');
      assert.ok(at > 0, before);
      // Carol types in the middle of b's insert, and deletes one of its letters.
      const carol = await client(hub, user('user_c'));
      sockets.push(carol);
      const jc = await join(carol, prdId);
      let v = bump(jc.vector, jc.siteId);
      let ack = await request(carol, 'content-update',
        { prdId, operation: op('insert', at + 2, { content: 'cc' }), stateVector: v });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      v = bump(ack.stateVector, jc.siteId);
      ack = await request(carol, 'content-update',
        { prdId, operation: op('delete', at + 5, { length: 1 }), stateVector: v });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      assert.equal(await text(hub, prdId), before.slice(0, at) + 'BBccB' + before.slice(at + 4));

      const conflictId = c.fromA.conflicts[0].conflictId;
      const payload = { prdId, conflictId, resolution };
      if (merged !== undefined) payload.mergedContent = merged;
      const resolved = await request(c.a, 'resolve-conflict', payload);
      assert.equal(resolved.ok, true, JSON.stringify(resolved));
      if (resolution === 'yours')
        assert.equal(await text(hub, prdId), before.slice(0, at) + 'cc' + before.slice(at + 4));
      else
        assert.equal(await text(hub, prdId), 'hello' + merged + 'cc world');
    } finally {
      for (const s of sockets) s.close();
      await hub.stop();
    }
  });
}

test('delete across the other\'s insert is a conflict; theirs puts the text back', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Across', 'abcdefgh');
    const c = await collide(hub, prdId, op('insert', 4, { content: 'XY' }),
      op('delete', 1, { length: 6 }), sockets);
    assert.equal(c.fromB.conflicts[0].yourChange, 'bcdefg');
    assert.equal(c.fromB.conflicts[0].theirChange, 'XY');
    assert.equal(c.fromA.conflicts[0].yourChange, 'XY');
    assert.equal(await text(hub, prdId), 'aXYh');
    // b takes a's side: b's delete is undone, a's insert stays.
    const ack = await request(c.b, 'resolve-conflict',
      { prdId, conflictId: c.fromB.conflicts[0].conflictId, resolution: 'theirs' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await until(c.a, () => resolvedIn(c.seenA).length === 1);
    const t = await text(hub, prdId);
    // Each deleted character goes back where it was: a's XY stays between
    // d and e, where a typed it.
    assert.equal(t, 'abcdXYefgh');
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

// Undoing a delete puts back only the characters the other user did not
// delete too, each where it was; every replica (the parties', a third
// user's, a late joiner's) and the hub's export end with the same text.
const D = (position, length) => ({ type: 'delete', position, length });
const I = (position, content) => ({ type: 'insert', position, content });
for (const [name, start, editA, editB, resolver, resolution, expected] of [
  ['overlapping deletes, a takes b\'s side', 'hello world', D(2, 5), D(4, 5), 'a', 'theirs', 'hellld'],
  ['overlapping deletes, b undoes a\'s', 'hello world', D(2, 5), D(4, 5), 'b', 'yours', 'hellld'],
  ['overlapping deletes, a undoes b\'s', 'hello world', D(2, 5), D(4, 5), 'a', 'yours', 'heorld'],
  ['b deleted inside a\'s delete', 'abcdefgh', D(1, 6), D(3, 2), 'a', 'theirs', 'abcfgh'],
  ['a deleted inside b\'s delete', 'abcdefgh', D(3, 2), D(1, 6), 'a', 'theirs', 'ah'],
  ['b typed inside a\'s delete', 'hello world', D(0, 5), I(3, 'QQ'), 'b', 'yours', 'helQQlo world'],
  ['b deleted across a\'s insert', 'abcdefgh', I(4, 'XY'), D(1, 6), 'a', 'yours', 'abcdXYefgh'],
  ['surrogate pairs', 'a\u{1F600}b\u{1F60E}c', D(1, 5), D(3, 3), 'a', 'theirs', 'a\u{1F600}c'],
]) {
  test(`resolve-conflict '${resolution}' on a delete (${name}): only what the other kept comes back`, async () => {
    const hub = await startHub();
    const claims = { a: user('user_a'), b: user('user_b'), c: user('user_c') };
    const clients = {};
    try {
      const prdId = await createPrd(hub, `Undo ${name}`, start);
      for (const k of ['a', 'b', 'c']) {
        clients[k] = sdkClient(hub, prdId, claims[k]);
        await clients[k].connect();
      }
      const { a, b, c } = clients;
      // Both edit the text as they joined it: b's base does not have a's edit.
      const baseA = [...a.stateVector];
      const baseB = [...b.stateVector];
      const apply = (who, base, e) => (e.type === 'insert'
        ? who.insert(e.position, e.content, { base }) : who.delete(e.position, e.length, { base }));
      apply(a, baseA, editA);
      await a.whenSynced();
      apply(b, baseB, editB);
      await b.whenSynced();
      await sdkUntil(() => a.conflicts.size === 1 && b.conflicts.size === 1, 'conflict-detected on both');
      const [conflict] = clients[resolver].getConflicts();
      await clients[resolver].resolveConflict(conflict.conflictId, resolution);
      const doc = await converged(hub, prdId, [a, b, c], claims.c);
      assert.equal(doc.content, expected);
      for (const k of ['a', 'b', 'c']) assert.equal(clients[k].text, expected, `${k}'s text`);
      const late = sdkClient(hub, prdId, user('user_d'));
      clients.d = late;
      await late.connect();
      assert.equal(late.text, expected);
      assert.equal((await rest(hub, 'GET', `/api/prds/${prdId}/export.md`)).text, expected);
    } finally {
      for (const k of Object.keys(clients)) clients[k].close();
      await hub.stop();
    }
  });
}

// A resolution is written as deletions and then an insert: one that would
// not fit in the PRD is refused before anything is written.
test('a merge the PRD has no room for is refused whole: nothing deleted, the conflict stays open', async () => {
  const hub = await startHub({ config: '[collab]\nmax-document-size = 40\n' });
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Full merge', 'hello world');
    const c = await collide(hub, prdId, op('insert', 5, { content: 'A'.repeat(10) }),
      op('insert', 5, { content: 'B'.repeat(10) }), sockets);
    const before = await text(hub, prdId);
    assert.equal(before.length, 31);
    const conflictId = c.fromA.conflicts[0].conflictId;
    const refused = await request(c.a, 'resolve-conflict', { prdId, conflictId, resolution: 'merge', mergedContent: 'M'.repeat(30) });
    assert.equal(refused.error?.code, 'LIMIT_REACHED', JSON.stringify(refused));
    assert.match(refused.error.message, /max-document-size/);
    assert.equal(await text(hub, prdId), before);
    // still open: a merge that fits resolves it
    const ok = await request(c.a, 'resolve-conflict', { prdId, conflictId, resolution: 'merge', mergedContent: 'M'.repeat(20) });
    assert.equal(ok.ok, true, JSON.stringify(ok));
    assert.equal(await text(hub, prdId), `hello${'M'.repeat(20)} world`);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('bad resolve-conflict input is refused with a code and changes nothing', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Bad', 'hello world');
    const c = await collide(hub, prdId, op('insert', 5, { content: 'AAA' }),
      op('insert', 5, { content: 'BB' }), sockets);
    const conflictId = c.fromA.conflicts[0].conflictId;
    const before = await text(hub, prdId);
    const other = await client(hub, user('user_c'));
    const viewer = await client(hub, user('user_v', { role: 'viewer' }));
    const outsider = await client(hub, user('user_d'));
    sockets.push(other, viewer, outsider);
    await join(other, prdId);
    await join(viewer, prdId, { mode: 'view' });
    const cases = [
      [c.a, 'not an object', 'INVALID_PAYLOAD'],
      [c.a, { conflictId, resolution: 'yours' }, 'INVALID_PAYLOAD'],
      [c.a, { prdId, resolution: 'yours' }, 'INVALID_PAYLOAD'],
      [c.a, { prdId, conflictId: 7, resolution: 'yours' }, 'INVALID_PAYLOAD'],
      [c.a, { prdId, conflictId, resolution: 'mine' }, 'INVALID_PAYLOAD'],
      [c.a, { prdId, conflictId }, 'INVALID_PAYLOAD'],
      [c.a, { prdId, conflictId, resolution: 'merge' }, 'INVALID_PAYLOAD'],
      [c.a, { prdId, conflictId, resolution: 'merge', mergedContent: 5 }, 'INVALID_PAYLOAD'],
      [c.a, { prdId, conflictId, resolution: 'merge', mergedContent: 'x'.repeat(70000) },
        'PAYLOAD_TOO_LARGE'],
      [c.a, { prdId, conflictId: 'conflict_nope', resolution: 'yours' }, 'NOT_FOUND'],
      [other, { prdId, conflictId, resolution: 'yours' }, 'FORBIDDEN'],
      [viewer, { prdId, conflictId, resolution: 'yours' }, 'FORBIDDEN'],
      [outsider, { prdId, conflictId, resolution: 'yours' }, 'NOT_JOINED'],
    ];
    for (const [socket, payload, code] of cases) {
      const ack = await request(socket, 'resolve-conflict', payload);
      assert.equal(ack.error?.code, code, `${JSON.stringify(payload).slice(0, 80)}: ${JSON.stringify(ack)}`);
    }
    assert.equal(await text(hub, prdId), before);
    assert.equal(resolvedIn(c.seenA).length, 0);
    const a2 = await client(hub, user('user_a'));
    sockets.push(a2);
    const j = await join(a2, prdId);
    assert.equal(j.joined.conflicts.length, 1);
    assert.equal(j.joined.conflicts[0].conflictId, conflictId);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('open conflicts survive a restart, are listed on join and can be resolved', async () => {
  const dataDir = tmpDir('prdhub-e2e-conflicts-');
  let hub = await startHub({ args: ['--data-dir', dataDir] });
  const sockets = [];
  let prdId, conflictId;
  try {
    prdId = await createPrd(hub, 'Durable', 'hello world');
    const c = await collide(hub, prdId, op('insert', 5, { content: 'AAA' }),
      op('insert', 5, { content: 'BB' }), sockets);
    conflictId = c.fromA.conflicts[0].conflictId;
    for (const s of sockets.splice(0)) s.close();
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
  hub = await startHub({ args: ['--data-dir', dataDir] });
  try {
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    const z = await client(hub, user('user_z'));
    sockets.push(a, b, z);
    const ja = await join(a, prdId);
    const jb = await join(b, prdId);
    const jz = await join(z, prdId);
    assert.deepEqual(ja.joined.conflicts,
      [{ position: 5, yourChange: 'AAA', theirChange: 'BB', conflictId }]);
    assert.deepEqual(jb.joined.conflicts,
      [{ position: 5, yourChange: 'BB', theirChange: 'AAA', conflictId }]);
    assert.deepEqual(jz.joined.conflicts, []);
    const seenB = recorder(b, ['conflict-resolved']);
    const ack = await request(a, 'resolve-conflict', { prdId, conflictId, resolution: 'yours' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await until(b, () => seenB.length === 1);
    assert.equal(await text(hub, prdId), 'helloAAA world');
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('a delete conflict resolved after a restart still puts back only what the other kept', async () => {
  const dataDir = tmpDir('prdhub-e2e-conflicts-');
  let hub = await startHub({ args: ['--data-dir', dataDir] });
  const sockets = [];
  let prdId, conflictId;
  try {
    prdId = await createPrd(hub, 'Durable delete', 'hello world');
    const c = await collide(hub, prdId, op('delete', 2, { length: 5 }),
      op('delete', 4, { length: 5 }), sockets);
    conflictId = c.fromA.conflicts[0].conflictId;
    assert.equal(await text(hub, prdId), 'held');
  } finally {
    for (const s of sockets.splice(0)) s.close();
    await hub.stop();
  }
  hub = await startHub({ args: ['--data-dir', dataDir] });
  try {
    const a = await client(hub, user('user_a'));
    sockets.push(a);
    await join(a, prdId);
    const ack = await request(a, 'resolve-conflict', { prdId, conflictId, resolution: 'theirs' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    assert.equal(await text(hub, prdId), 'hellld');
    assert.equal((await rest(hub, 'GET', `/api/prds/${prdId}/export.md`)).text, 'hellld');
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('both users resolving at once: one resolution wins, the other is refused', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Race', 'hello world');
    const c = await collide(hub, prdId, op('insert', 5, { content: 'AAA' }),
      op('insert', 5, { content: 'BB' }), sockets);
    const conflictId = c.fromA.conflicts[0].conflictId;
    const acks = await Promise.all([
      request(c.a, 'resolve-conflict', { prdId, conflictId, resolution: 'yours' }),
      request(c.b, 'resolve-conflict', { prdId, conflictId, resolution: 'yours' }),
    ]);
    const ok = acks.filter((k) => k.ok === true);
    const refused = acks.filter((k) => k.error !== undefined);
    assert.equal(ok.length, 1, JSON.stringify(acks));
    assert.equal(refused.length, 1, JSON.stringify(acks));
    assert.ok(['INVALID_OPERATION', 'NOT_FOUND'].includes(refused[0].error.code),
      JSON.stringify(refused));
    await until(c.a, () => resolvedIn(c.seenA).length === 1 && resolvedIn(c.seenB).length === 1);
    const winner = resolvedIn(c.seenA)[0].data.resolvedBy.id;
    assert.equal(await text(hub, prdId), winner === 'user_a' ? 'helloAAA world' : 'helloBB world');
    assert.equal(resolvedIn(c.seenA).length, 1);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

// ---- one edit in several conflicts: undone once --------------------------
//
// Undoing an edit is done once: a resolution that would undo an edit that
// another conflict's resolution undid already changes no text and says so
// (`alreadyUndone`), also across a restart between the two resolutions.

// Starts (or restarts) a hub on @dataDir with SDK clients for @names
// joined to @prdId.
async function sdkRoom(hub, prdId, names) {
  const clients = {};
  for (const k of names) {
    clients[k] = sdkClient(hub, prdId, user(`user_${k}`));
    await clients[k].connect();
  }
  return clients;
}

// The text on the hub, on every client, in a late joiner and in the export.
async function assertTextEverywhere(hub, prdId, clients, expected) {
  const doc = await converged(hub, prdId, Object.values(clients), user('user_reader'));
  assert.equal(doc.content, expected, 'the hub\'s text');
  for (const [k, c] of Object.entries(clients)) assert.equal(c.text, expected, `${k}'s text`);
  const late = sdkClient(hub, prdId, user('user_late'));
  try {
    await late.connect();
    assert.equal(late.text, expected, 'a late joiner\'s text');
  } finally {
    late.close();
  }
  assert.equal((await rest(hub, 'GET', `/api/prds/${prdId}/export.md`)).text, expected, 'the export');
}

// Resolves @conflictId as @who (an SDK client) and returns the raw ack and
// the `conflict-resolved` that @who received.
async function resolveRaw(who, conflictId, resolution) {
  const resolved = new Promise((resolve) => {
    const on = (data) => {
      if (data.conflictId === conflictId) {
        who.off?.('conflict-resolved', on);
        resolve(data);
      }
    };
    who.on('conflict-resolved', on);
  });
  const ack = await who.request('resolve-conflict', { prdId: who.prdId, conflictId, resolution });
  return { ack, event: await resolved };
}

for (const restart of [false, true]) {
  test(`one delete in two conflicts, undone in both: its text comes back once${restart ? ' (restart between)' : ''}`, async () => {
    const dataDir = tmpDir('prdhub-e2e-conflicts-');
    let hub = await startHub({ args: ['--data-dir', dataDir] });
    let clients = {};
    try {
      const prdId = await createPrd(hub, 'Undo once', 'hello world');
      clients = await sdkRoom(hub, prdId, ['a', 'b', 'c']);
      const { a, b } = clients;
      const baseB = [...b.stateVector];
      a.delete(0, 6);
      await a.whenSynced();
      // b has not seen a's delete: types X inside it, then Y.
      const x = b.insert(1, 'X', { base: baseB });
      const base2 = [...baseB];
      while (base2.length <= b.siteId) base2.push(0);
      base2[b.siteId] = x.seq;
      b.insert(4, 'Y', { base: base2 });
      await b.whenSynced();
      await sdkUntil(() => b.conflicts.size === 2, 'two conflicts for b');
      const [first, second] = b.getConflicts();
      assert.equal(first.theirChange, 'hello ');
      assert.equal(second.theirChange, 'hello ');
      await assertTextEverywhere(hub, prdId, clients, 'XYworld');

      const one = await resolveRaw(b, first.conflictId, 'yours');
      assert.equal(one.ack.alreadyUndone, false, JSON.stringify(one.ack));
      assert.equal(one.event.alreadyUndone, false);
      await assertTextEverywhere(hub, prdId, clients, 'hXelYlo world');

      if (restart) {
        for (const c of Object.values(clients)) c.close();
        await hub.stop();
        hub = await startHub({ args: ['--data-dir', dataDir] });
        clients = await sdkRoom(hub, prdId, ['a', 'b', 'c']);
        await sdkUntil(() => clients.b.conflicts.size === 1, 'the open conflict after the restart');
        assert.deepEqual(clients.b.getConflicts().map((k) => k.conflictId), [second.conflictId]);
      }
      const two = await resolveRaw(clients.b, second.conflictId, 'yours');
      assert.deepEqual(two.ack, { ok: true, conflictId: second.conflictId, alreadyUndone: true });
      assert.equal(two.event.alreadyUndone, true);
      await assertTextEverywhere(hub, prdId, clients, 'hXelYlo world');
    } finally {
      for (const c of Object.values(clients)) c.close();
      await hub.stop();
    }
  });
}

test('a delete of max-operation-size units in 49 conflicts: undoing it twice adds nothing', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const L = 65536;
    const INS = 50;
    const body = Array.from({ length: L + 100 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
    const prdId = await createPrd(hub, 'Huge undo', body);
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    sockets.push(a, b);
    const ja = await join(a, prdId);
    const jb = await join(b, prdId);
    const seenA = recorder(a, ['conflict-detected']);
    const ack = await request(a, 'content-update', {
      prdId, operation: op('delete', 50, { length: L }), stateVector: bump(ja.vector, ja.siteId),
    });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    let vb = jb.vector;
    for (let i = 0; i < INS; i++) {
      vb = bump(vb, jb.siteId);
      const k = await request(b, 'content-update', {
        prdId, operation: op('insert', 60 + i * 1000 + i, { content: 'Q' }), stateVector: vb,
      });
      assert.equal(k.ok, true, JSON.stringify(k));
    }
    await until(a, () => seenA.flatMap((e) => e.data.conflicts).length >= 2);
    const conflicts = seenA.flatMap((e) => e.data.conflicts);
    const expect = [...body.slice(0, L + 50)];
    for (let i = 0; i < INS; i++) expect.splice(60 + i * 1000 + i, 0, 'Q');
    const expected = expect.join('') + body.slice(L + 50);
    for (const [i, c] of conflicts.slice(0, 2).entries()) {
      const r = await request(b, 'resolve-conflict', { prdId, conflictId: c.conflictId, resolution: 'yours' });
      assert.equal(r.ok, true, JSON.stringify(r));
      assert.equal(r.alreadyUndone, i > 0);
      const t = (await rest(hub, 'GET', `/api/prds/${prdId}/export.md`)).text;
      assert.equal(t.length, expected.length, `text length after resolution ${i + 1}`);
      assert.ok(t === expected, `text after resolution ${i + 1}`);
    }
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

// Three users delete overlapping text at once: a `llo w`, b `o wor`, c
// `hel` ('hello world' becomes 'ld'). a is in two conflicts, with b and
// with c. Undoing a's delete puts back only what neither b nor c deleted
// (the open conflicts over a's delete name the deletes that overlap it), and
// only once; undoing c's delete after a's was undone puts back all of c's
// text that b did not delete, a's delete no longer counting: every
// character of 'hellld' (b's version) once. Their order is not checked:
// text two resolutions put back in one place (no visible character between)
// goes in the order of the resolutions (docs/protocol.md).
for (const [second, expected] of [['theirs', 'lld'], ['yours', 'hellld']]) {
  for (const restart of [false, true]) {
    test(`three overlapping deletes: a resolves with b 'theirs', then with c '${second}'${restart ? ' (restart between)' : ''}`, async () => {
      const dataDir = tmpDir('prdhub-e2e-conflicts-');
      let hub = await startHub({ args: ['--data-dir', dataDir] });
      let clients = {};
      try {
        const prdId = await createPrd(hub, 'Three deletes', 'hello world');
        clients = await sdkRoom(hub, prdId, ['a', 'b', 'c']);
        const bases = Object.fromEntries(Object.entries(clients).map(([k, c]) => [k, [...c.stateVector]]));
        for (const [k, position, length] of [['a', 2, 5], ['b', 4, 5], ['c', 0, 3]]) {
          clients[k].delete(position, length, { base: bases[k] });
          await clients[k].whenSynced();
        }
        await sdkUntil(() => clients.a.conflicts.size === 2, 'two conflicts for a');
        const withB = clients.a.getConflicts().find((k) => k.theirChange === 'o wor');
        const withC = clients.a.getConflicts().find((k) => k.theirChange === 'hel');
        assert.ok(withB && withC, JSON.stringify(clients.a.getConflicts()));
        await assertTextEverywhere(hub, prdId, clients, 'ld');

        const one = await resolveRaw(clients.a, withB.conflictId, 'theirs');
        assert.equal(one.ack.alreadyUndone, false);
        // c's `l` stays deleted: c's delete stands.
        await assertTextEverywhere(hub, prdId, clients, 'lld');

        if (restart) {
          for (const c of Object.values(clients)) c.close();
          await hub.stop();
          hub = await startHub({ args: ['--data-dir', dataDir] });
          clients = await sdkRoom(hub, prdId, ['a', 'b', 'c']);
          await sdkUntil(() => clients.a.conflicts.size === 1, 'a\'s open conflict after the restart');
        }
        const two = await resolveRaw(clients.a, withC.conflictId, second);
        assert.equal(two.ack.ok, true, JSON.stringify(two.ack));
        assert.equal(two.ack.alreadyUndone, second === 'theirs');
        const doc = await converged(hub, prdId, Object.values(clients), user('user_reader'));
        const sorted = (t) => [...t].sort().join('');
        assert.equal(sorted(doc.content), sorted(expected), `${doc.content}: each character once`);
        assert.ok(doc.content.endsWith('ld'), doc.content);
        await assertTextEverywhere(hub, prdId, clients, doc.content);
      } finally {
        for (const c of Object.values(clients)) c.close();
        await hub.stop();
      }
    });
  }
}

// A delete made late, after an undo: a deletes `hello `, b (not having seen
// it) types X inside it and resolves `yours`, so a's delete is undone and its
// characters come back as new ones (`heXllo world`). d, who has seen
// nothing since the start, then deletes `llo w`: only `w` was still there
// to delete (`heXllo orld`), and d's delete conflicts with a's, which was
// undone before. Undoing d's delete puts back only `w`: `llo ` is back
// already, as the copies a's undo made.
for (const restart of [false, true]) {
  test(`a delete made after an overlapping delete was undone: undoing it puts back only what it removed${restart ? ' (restart between)' : ''}`, async () => {
    const dataDir = tmpDir('prdhub-e2e-conflicts-');
    let hub = await startHub({ args: ['--data-dir', dataDir] });
    let clients = {};
    try {
      const prdId = await createPrd(hub, 'Late delete', 'hello world');
      clients = await sdkRoom(hub, prdId, ['a', 'b', 'd']);
      const bases = Object.fromEntries(Object.entries(clients).map(([k, c]) => [k, [...c.stateVector]]));
      clients.a.delete(0, 6, { base: bases.a });
      await clients.a.whenSynced();
      clients.b.insert(2, 'X', { base: bases.b });
      await clients.b.whenSynced();
      await sdkUntil(() => clients.b.conflicts.size === 1, 'b\'s conflict with a');
      const withA = clients.b.getConflicts()[0];
      assert.equal(withA.theirChange, 'hello ');
      const one = await resolveRaw(clients.b, withA.conflictId, 'yours');
      assert.equal(one.ack.alreadyUndone, false, JSON.stringify(one.ack));
      await assertTextEverywhere(hub, prdId, clients, 'heXllo world');

      clients.d.delete(2, 5, { base: bases.d });
      await clients.d.whenSynced();
      await sdkUntil(() => clients.d.conflicts.size === 1, 'd\'s conflict with a');
      const late = clients.d.getConflicts()[0];
      assert.equal(late.yourChange, 'llo w');
      assert.equal(late.theirChange, 'hello ');
      await assertTextEverywhere(hub, prdId, clients, 'heXllo orld');

      if (restart) {
        for (const c of Object.values(clients)) c.close();
        await hub.stop();
        hub = await startHub({ args: ['--data-dir', dataDir] });
        clients = await sdkRoom(hub, prdId, ['a', 'b', 'd']);
        await sdkUntil(() => clients.d.conflicts.size === 1, 'd\'s open conflict after the restart');
      }
      const two = await resolveRaw(clients.d, late.conflictId, 'theirs');
      assert.deepEqual(two.ack, { ok: true, conflictId: late.conflictId, alreadyUndone: false });
      await assertTextEverywhere(hub, prdId, clients, 'heXllo world');
    } finally {
      for (const c of Object.values(clients)) c.close();
      await hub.stop();
    }
  });
}

// A PRD has at most 64 open conflicts, those still being stored included:
// a burst of concurrent edits, committed together, raises many conflicts
// before the first of them is stored, and each must count.
test('a burst of concurrent edits leaves at most 64 open conflicts', async () => {
  const dataDir = tmpDir('prdhub-e2e-conflicts-');
  let hub = await startHub({ args: ['--data-dir', dataDir] });
  const sockets = [];
  const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((n) => `user_${n}`);
  let prdId;
  try {
    prdId = await createPrd(hub, 'Burst', 'hello world');
    const editors = [];
    for (const name of names) {
      const s = await client(hub, user(name));
      sockets.push(s);
      editors.push({ s, j: await join(s, prdId) });
    }
    // a's 20 one-character inserts inside the text, acked one by one...
    const [a, ...others] = editors;
    let vector = a.j.vector;
    for (let i = 0; i < 20; i++) {
      vector = bump(vector, a.j.siteId);
      const ack = await request(a.s, 'content-update',
        { prdId, operation: op('insert', 1, { content: 'a' }), stateVector: vector });
      assert.equal(ack.ok, true, JSON.stringify(ack));
    }
    // ...then 7 users who have seen none of them delete the whole text, all
    // at once: each delete spans a's 20 inserts (and the other deletes), so
    // the burst raises some 140 pairs before the first is stored.
    const acks = await Promise.all(others.map(({ s, j }) => request(s, 'content-update', {
      prdId, operation: op('delete', 0, { length: 11 }), stateVector: bump(j.vector, j.siteId),
    })));
    for (const ack of acks) assert.equal(ack.ok, true, JSON.stringify(ack));
  } finally {
    for (const s of sockets.splice(0)) s.close();
    await hub.stop();
  }
  // What was stored, read back after a restart: every open conflict has
  // two parties among these users, and joined-prd lists each one's.
  hub = await startHub({ args: ['--data-dir', dataDir] });
  try {
    const ids = new Set();
    for (const name of names) {
      const s = await client(hub, user(name));
      sockets.push(s);
      const { joined } = await join(s, prdId);
      for (const c of joined.conflicts) ids.add(c.conflictId);
    }
    assert.equal(ids.size, 64);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});
