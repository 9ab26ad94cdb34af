// SPDX-License-Identifier: GPL-3.0-or-later
//
// The site a joiner gets with `siteConflict`, against a real prdhub: one
// with no operations, so that the SDK re-applies its offline edits in the
// order they were typed even when the user's other device deleted the
// character they were typed after. A joiner without local state still gets
// the user's free site back, history and all (see "Sites" under join-prd in
// docs/protocol.md).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SDK_HUB_CONFIG, converged, createPrd, rest, sdkClient, startHub, token, until, untilLeft, user,
} from './sdk-helpers.js';
import { bump, client, join, request } from './collab-helpers.js';

// Alice, offline at 8 of 20 units, types "XY" after "b", then "PPPP"
// before it, deletes "h", and types "Q" after the "PPPP": "abPPPPQXYcdefg".
// Meanwhile her second device deletes "b" and Bob's 10 units leave no room
// for "PPPP" (refused when she comes back): "Q" is then re-applied after
// "b", the nearest character before it that the hub has, and must stay
// before "XY". A third device of hers takes her first site while she is
// away (after the second left), so she gets `siteConflict`. Given the second device's site (whose
// operations deleted "b"), the SDK found no version of the text with "b"
// visible and that site's operations, and put "Q" where "b" was, after
// "XY": "aXYQ…".
test('offline edits re-applied after a site conflict keep their order', async () => {
  const alice = user('sdk_site_alice');
  const bob = user('sdk_site_bob');
  const hub = await startHub({ config: `${SDK_HUB_CONFIG}[collab]\nmax-document-size = 20\n` });
  const prdId = await createPrd(hub, 'Sites', 'abcdefgh', bob);
  const a = sdkClient(hub, prdId, alice);
  const a2 = sdkClient(hub, prdId, alice);
  const b = sdkClient(hub, prdId, bob);
  const errors = [];
  const conflicts = [];
  a.on('error', (e) => errors.push(`${e.code} ${e.operation?.content}`));
  a.on('site-conflict', (c) => conflicts.push(c));
  try {
    await a.connect();
    await a2.connect();
    await b.connect();
    const firstSite = a.siteId;
    a.disconnect();
    a.insert(2, 'XY');
    a.insert(2, 'PPPP');
    a.delete(13, 1);
    a.insert(6, 'Q');
    assert.equal(a.text, 'abPPPPQXYcdefg');
    a2.delete(1, 1);
    await a2.whenSynced();
    b.insert(7, 'B'.repeat(10));
    await b.whenSynced();
    const secondSite = a2.siteId;
    a2.close();
    await untilLeft(hub, prdId, 'sdk_site_alice');
    const a3 = sdkClient(hub, prdId, alice);
    await a3.connect();
    assert.equal(a3.siteId, firstSite);
    a3.insert(a3.length, 'Z');
    await a3.whenSynced();
    a3.close();
    await untilLeft(hub, prdId, 'sdk_site_alice');
    await a.reconnect();
    const doc = await converged(hub, prdId, [a, b], alice);
    assert.equal(doc.content, `aQXYcdefg${'B'.repeat(10)}Z`);
    assert.equal(conflicts.length, 1);
    assert.equal(conflicts[0].previousSiteId, firstSite);
    assert.notEqual(a.siteId, secondSite);
    assert.equal(a.text, doc.content);
    assert.equal(b.text, doc.content);
    assert.deepEqual(errors, ['LIMIT_REACHED PPPP']);
  } finally {
    a.close();
    a2.close();
    b.close();
    await hub.stop();
  }
});

// The protocol underneath: one user, replicas A to E. A writes and goes
// with an operation typed offline; B (no local state) takes A's site and
// writes; C gets a fresh site while B is there and writes. A comes back:
// `siteConflict`, and neither of the user's free sites (both have
// operations) but one with none. E, in conflict too, gets that site again
// (nobody wrote with it: no history); D, without local state, gets the
// user's free site with its operations.
test('the site given with siteConflict has no operations; a joiner without state continues a free one', async () => {
  const hub = await startHub({ config: SDK_HUB_CONFIG });
  const sockets = [];
  const session = async (extra) => {
    const s = await client(hub, user('sdk_site_r'));
    sockets.push(s);
    return { s, j: await join(s, prdId, extra) };
  };
  const leave = async ({ s }) => {
    s.close();
    await untilLeft(hub, prdId, 'sdk_site_r');
  };
  const insert = async ({ s, j }, vector, content) => {
    const v = bump(vector, j.siteId);
    const ack = await request(s, 'content-update', {
      prdId, operation: { type: 'insert', position: 0, content, timestamp: Date.now() }, stateVector: v,
    });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    return v;
  };
  const ops = (j, site) => j.joined.commentsStateVector[site] ?? 0;
  const prdId = await createPrd(hub, 'Sites', 'xyz');
  try {
    const a = await session({ replicaId: 'replica-A' });
    const first = a.j.siteId;
    const va = await insert(a, a.j.vector, 'a');
    await leave(a);

    const b = await session({ replicaId: 'replica-B' });
    assert.equal(b.j.siteId, first);
    assert.equal(ops(b.j, first), 1);
    const vb = await insert(b, b.j.vector, 'b');
    const c = await session({ replicaId: 'replica-C' });
    const second = c.j.siteId;
    assert.notEqual(second, first);
    assert.equal(ops(c.j, second), 0);
    await insert(c, c.j.vector, 'c');
    c.s.close();
    await leave(b);

    // A's operation 2 is B's: A re-applies it under a site without history.
    const a2 = await session({ replicaId: 'replica-A', siteId: first, stateVector: bump(va, first), pendingFrom: 2 });
    const fresh = a2.j.siteId;
    assert.equal(a2.j.joined.siteConflict.previousSiteId, first);
    assert.notEqual(fresh, first);
    assert.notEqual(fresh, second);
    assert.equal(ops(a2.j, fresh), 0);
    assert.equal(a2.j.vector[fresh] ?? 0, 0);
    await leave(a2);

    // E has an unacknowledged operation 1 of C's site, whose id C took: a
    // conflict; the site A got and never wrote with has no history and is
    // given again.
    const e = await session({ replicaId: 'replica-E', siteId: second, stateVector: bump(vb, second), pendingFrom: 1 });
    assert.equal(e.j.joined.siteConflict.previousSiteId, second);
    assert.equal(e.j.siteId, fresh);
    assert.equal(ops(e.j, fresh), 0);
    await leave(e);

    // No local state: the user's free site, continuing at its operations.
    const d = await session({ replicaId: 'replica-D' });
    assert.equal(d.j.siteId, first);
    assert.equal(d.j.joined.siteConflict, undefined);
    assert.equal(d.j.vector[first], 2);
    await leave(d);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

// The same edits held through an archived PRD: Alice comes back while it is
// archived (a view-mode join, no site: her edits are held), and joins to
// edit after it is unarchived. That join must name her old site, vector
// and first unacknowledged operation, as a reconnect does: without them
// the hub saw no local state and gave her the user's free site, the second
// device's (whose operations deleted "b"), and "Q" came back after "XY":
// "aXYQ…". A third device holds her first site meanwhile.
test('edits held through an archived PRD are re-applied in order after it is unarchived', async () => {
  const alice = user('sdk_site_held_alice');
  const bob = user('sdk_site_held_bob');
  const hub = await startHub({ config: `${SDK_HUB_CONFIG}[collab]\nmax-document-size = 20\n` });
  const prdId = await createPrd(hub, 'Sites', 'abcdefgh', bob);
  const a = sdkClient(hub, prdId, alice);
  const a2 = sdkClient(hub, prdId, alice);
  const b = sdkClient(hub, prdId, bob);
  let a3 = null;
  const errors = [];
  const conflicts = [];
  a.on('error', (e) => errors.push(e.code));
  a.on('site-conflict', (c) => conflicts.push(c));
  const archive = async (archived) => {
    const res = await rest(hub, 'PATCH', `/api/prds/${prdId}`, { body: { archived }, tok: token(bob) });
    assert.equal(res.status, 200);
  };
  try {
    await a.connect();
    await a2.connect();
    await b.connect();
    const firstSite = a.siteId;
    a.disconnect();
    a.insert(2, 'XY');
    a.insert(2, 'PPPP');
    a.delete(13, 1);
    a.insert(6, 'Q');
    assert.equal(a.text, 'abPPPPQXYcdefg');
    a2.delete(1, 1);
    await a2.whenSynced();
    b.insert(7, 'B'.repeat(10));
    await b.whenSynced();
    const secondSite = a2.siteId;
    a2.close();
    await untilLeft(hub, prdId, 'sdk_site_held_alice');
    a3 = sdkClient(hub, prdId, alice);
    await a3.connect();
    assert.equal(a3.siteId, firstSite);
    await archive(true);
    await a.reconnect();
    assert.equal(a.grantedMode, 'view');
    assert.equal(a.siteId, null);
    await archive(false);
    await until(() => a.joined && a.grantedMode === 'edit', 'the edit-mode join after unarchiving');
    const doc = await converged(hub, prdId, [a, b], alice);
    assert.equal(doc.content, `aQXYcdefg${'B'.repeat(10)}`);
    assert.equal(conflicts.length, 1);
    assert.equal(conflicts[0].previousSiteId, firstSite);
    assert.notEqual(a.siteId, secondSite);
    assert.equal(a.text, doc.content);
    assert.equal(b.text, doc.content);
    assert.deepEqual(errors, ['FORBIDDEN', 'LIMIT_REACHED']);
  } finally {
    a.close();
    a2.close();
    a3?.close();
    b.close();
    await hub.stop();
  }
});
