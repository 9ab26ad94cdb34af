// SPDX-License-Identifier: GPL-3.0-or-later
//
// The SDK's re-application of unsent edits after SITE_CONFLICT, randomised
// against the hub's engine: while client A is offline with unsent edits, a
// second tab of the same user takes A's site back and types at the start of
// the document, with the same small alphabet (so its operations often equal
// A's, id and text). When A comes back under a fresh site, the document
// must be the other tab's prefix followed by exactly A's offline text: every
// edit kept, in the order A made them.
//
// PRD_SITE_CONFLICT_SEED and PRD_SITE_CONFLICT_ROUNDS override the seed and
// the number of rounds; the seed is in every assertion message.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  SDK_HUB_CONFIG, converged, createPrd, sdkClient, startHub, untilLeft, user,
} from './sdk-helpers.js';

const SEED = Number(process.env.PRD_SITE_CONFLICT_SEED ?? Date.now() % 1000000);
const ROUNDS = Number(process.env.PRD_SITE_CONFLICT_ROUNDS ?? 12);
let hub;
const alice = user('conflict_alice');

// mulberry32: a small seeded generator, so a failing seed can be replayed.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

before(async () => {
  hub = await startHub({ config: SDK_HUB_CONFIG });
});

after(async () => {
  await hub?.stop();
});

// One random edit after the sentinel '[' at position 0 (never before it, never
// deleting it), with characters from 'xy'.
function randomEdit(client, rand) {
  const len = client.length;
  const chars = () => {
    let s = '';
    for (let n = 1 + Math.floor(rand() * 2); n > 0; n--) s += rand() < 0.5 ? 'x' : 'y';
    return s;
  };
  if (len > 1 && rand() < 0.3) {
    const pos = 1 + Math.floor(rand() * (len - 1));
    client.delete(pos, Math.min(len - pos, 1 + Math.floor(rand() * 2)));
  } else {
    client.insert(1 + Math.floor(rand() * len), chars());
  }
}

test(`unsent edits keep their order under a fresh site (seed ${SEED}, ${ROUNDS} rounds)`, async () => {
  const rand = rng(SEED);
  for (let round = 0; round < ROUNDS; round++) {
    const where = `seed ${SEED} round ${round}`;
    const carol = user(`conflict_carol_${round}`);
    const prdId = await createPrd(hub, `site conflict ${round}`, '[abcdef', alice);
    const a = sdkClient(hub, prdId, carol);
    let b;
    try {
      await a.connect();
      const site = a.siteId;
      for (let i = Math.floor(rand() * 4); i > 0; i--) randomEdit(a, rand);
      await a.whenSynced();
      a.disconnect();
      // The site is free once the hub has seen a's connection close.
      await untilLeft(hub, prdId, carol.sub);
      for (let i = 1 + Math.floor(rand() * 10); i > 0; i--) randomEdit(a, rand);
      const expected = a.text;

      b = sdkClient(hub, prdId, carol);
      await b.connect();
      assert.equal(b.siteId, site, `${where}: the other tab gets the free site back`);
      for (let i = 1 + Math.floor(rand() * 4); i > 0; i--) b.insert(0, rand() < 0.5 ? 'x' : 'y');
      await b.whenSynced();
      const prefix = b.text.slice(0, b.text.indexOf('['));

      await a.reconnect();
      assert.notEqual(a.siteId, site, where);
      const doc = await converged(hub, prdId, [a, b], alice);
      assert.equal(doc.content, prefix + expected, where);
      assert.equal(a.text, doc.content, where);
      assert.equal(b.text, doc.content, where);
    } finally {
      a.close();
      b?.close();
    }
  }
});

// A device of @claims that types 'k', has it acknowledged, goes offline and
// types @offline there: { a, site, expected } (its text by then).
async function offlineDevice(prdId, claims, offline) {
  const a = sdkClient(hub, prdId, claims);
  try {
    await a.connect();
    const site = a.siteId;
    a.insert(1, 'k');
    await a.whenSynced();
    a.disconnect();
    // The site is free once the hub has seen a's connection close.
    await untilLeft(hub, prdId, claims.sub);
    a.insert(2, offline);
    return { a, site, expected: a.text };
  } catch (err) {
    a.close();
    throw err;
  }
}

// Another device of @claims takes the free @site, types @typed at the start
// and leaves; returns what it typed as the text shows it.
async function takeOver(prdId, claims, site, typed) {
  const other = sdkClient(hub, prdId, claims);
  try {
    await other.connect();
    assert.equal(other.siteId, site, 'the other device gets the free site back');
    for (const ch of typed) other.insert(0, ch);
    await other.whenSynced();
    return other.text.slice(0, other.text.indexOf('['));
  } finally {
    other.close();
    await untilLeft(hub, prdId, claims.sub);
  }
}

// The other tab takes the site back, types, and is gone before A returns:
// the site is free again and A's offline operations carry ids the hub holds
// for the other tab's edits. A must not get the site back (its edit would be
// acked as a duplicate, or refused as OPERATION_ID_REUSED, and lost).
for (const [name, aText, bText] of [['the same text', 'X', 'X'], ['other text', 'X', 'Y'],
  ['more edits', 'X', 'YZW']]) {
  test(`a site reused while its device was offline is not given back to it (${name})`, async () => {
    const carol = user(`conflict_gone_${aText}${bText}`);
    const prdId = await createPrd(hub, `site reused (${name})`, '[abc', alice);
    const { a, site, expected } = await offlineDevice(prdId, carol, aText);
    try {
      const prefix = await takeOver(prdId, carol, site, bText);
      await a.reconnect();
      assert.notEqual(a.siteId, site, 'the site was used by another device meanwhile');
      const doc = await converged(hub, prdId, [a], alice);
      assert.equal(doc.content, prefix + expected);
      assert.equal(a.text, doc.content);
    } finally {
      a.close();
    }
  });
}

// The same after the site changed hands twice: the device that comes back
// must not be measured against the last takeover only.
test('a site taken over by two other devices in turn is not given back', async () => {
  const carol = user('conflict_chain');
  const prdId = await createPrd(hub, 'site chain', '[abc', alice);
  const { a, site, expected } = await offlineDevice(prdId, carol, 'OFFLINE');
  try {
    const prefix = await takeOver(prdId, carol, site, '123');
    await takeOver(prdId, carol, site, '');
    await a.reconnect();
    assert.notEqual(a.siteId, site);
    const doc = await converged(hub, prdId, [a], alice);
    assert.equal(doc.content, prefix + expected);
    assert.equal(a.text, doc.content);
  } finally {
    a.close();
  }
});

// A device that comes back to a site nobody else used since keeps it, with
// its offline edits under their ids.
test('a device that comes back to its own site keeps it', async () => {
  const carol = user('conflict_own');
  const prdId = await createPrd(hub, 'site kept', '[abc', alice);
  const { a, site, expected } = await offlineDevice(prdId, carol, 'X');
  try {
    await a.reconnect();
    assert.equal(a.siteId, site);
    const doc = await converged(hub, prdId, [a], alice);
    assert.equal(doc.content, expected);
    assert.equal(doc.stateVector.length, site + 1, 'no site was added');
  } finally {
    a.close();
  }
});
