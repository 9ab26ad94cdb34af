// SPDX-License-Identifier: GPL-3.0-or-later
//
// Randomised convergence through a real prdhub: several SDK clients edit
// the same PRD concurrently with random delays; some go offline, keep
// editing and come back. Every client must end with the hub's content
// (GET /api/prds/{id}) and the hub's state vector. Seeded: set
// PRDHUB_E2E_SEED to replay a run.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  SDK_HUB_CONFIG, converged, createPrd, sdkClient, sleep, startHub, user,
} from './sdk-helpers.js';

function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

const SEED = Number(process.env.PRDHUB_E2E_SEED ?? Date.now() % 100000);
const ALPHABET = 'abcdefghij klmnop\nqrstuv😀é';

let hub;

before(async () => {
  hub = await startHub({ config: SDK_HUB_CONFIG });
});

after(async () => {
  await hub?.stop();
});

function randomEdit(c, r) {
  const len = c.text.length;
  if (len > 0 && r() < 0.35) {
    let pos = Math.floor(r() * len);
    let n = Math.min(len - pos, 1 + Math.floor(r() * 4));
    // whole surrogate pairs only
    const t = c.text;
    const low = (i) => i > 0 && i < t.length && t.charCodeAt(i) >= 0xdc00 && t.charCodeAt(i) < 0xe000;
    if (low(pos)) pos--;
    if (low(pos + n)) n++;
    if (n > 0 && pos + n <= len) c.delete(pos, n);
    return;
  }
  let pos = Math.floor(r() * (len + 1));
  const t = c.text;
  if (pos > 0 && pos < t.length && t.charCodeAt(pos) >= 0xdc00 && t.charCodeAt(pos) < 0xe000) pos--;
  let s = '';
  const n = 1 + Math.floor(r() * 5);
  for (let i = 0; i < n; i++) {
    const cp = [...ALPHABET];
    s += cp[Math.floor(r() * cp.length)];
  }
  c.insert(pos, s);
}

async function session(nClients, rounds, seed) {
  const r = rng(seed);
  const owner = user('conv_owner');
  const prdId = await createPrd(hub, `Convergence ${nClients}`, 'The quick brown fox', owner);
  // two clients share a user (two tabs); the others are distinct users
  const clients = [];
  for (let i = 0; i < nClients; i++) {
    const u = user(i === 1 ? 'conv_u0' : `conv_u${i}`);
    clients.push(sdkClient(hub, prdId, u));
  }
  const errors = [];
  for (const c of clients) c.on('error', (e) => errors.push(e));
  try {
    await Promise.all(clients.map((c) => c.connect()));
    const offline = new Set();
    for (let round = 0; round < rounds; round++) {
      await Promise.all(clients.map(async (c, i) => {
        await sleep(Math.floor(r() * 15));
        const k = 1 + Math.floor(r() * 6);
        for (let j = 0; j < k; j++) randomEdit(c, r);
        // go offline now and then, come back a few rounds later
        if (!offline.has(i) && r() < 0.08) {
          offline.add(i);
          c.disconnect();
        } else if (offline.has(i) && r() < 0.3) {
          offline.delete(i);
          await c.reconnect();
        }
      }));
    }
    await Promise.all([...offline].map((i) => clients[i].reconnect()));
    const doc = await converged(hub, prdId, clients, owner);
    for (const [i, c] of clients.entries()) {
      assert.equal(c.text, doc.content, `client ${i} (seed ${seed})`);
      assert.equal(c.doc.nPending, 0);
    }
    assert.deepEqual(errors, [], `seed ${seed}`);
    return doc;
  } finally {
    for (const c of clients) c.close();
  }
}

test(`3 clients converge with the hub (seed ${SEED})`, async () => {
  const doc = await session(3, 40, SEED);
  assert.ok(doc.content.length > 0);
});

test(`6 clients, with offline periods, converge with the hub (seed ${SEED + 1})`, async () => {
  await session(6, 40, SEED + 1);
});

test(`10 clients converge with the hub (seed ${SEED + 2})`, async () => {
  await session(10, 25, SEED + 2);
});
