// SPDX-License-Identifier: GPL-3.0-or-later
//
// Edits typed on top of operations the hub no longer has are kept, not
// dropped. After a crash, the hub may lack operations of another client that
// it had handed out in a joined-prd state before they were durable
// (docs/durability.md); a client that typed after them holds edits whose
// origins the hub lacks. Reproduced here without a crash: the client is
// given an operation of a site nobody uses (as if received from the hub that
// then died), and types on top of it. The SDK must re-apply those edits at
// the places they were made: after rejoining (joined-prd), and when the hub
// refuses a content-update with `missing operations; sync first`.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  SDK_HUB_CONFIG, converged, createPrd, sdkClient, startHub, untilLeft, user,
} from './sdk-helpers.js';

let hub;
const alice = user('lost_alice');
const carol = user('lost_carol');

before(async () => {
  hub = await startHub({ config: SDK_HUB_CONFIG });
});

after(async () => {
  await hub?.stop();
});

// Gives @client an insert of @text at @position by @site that the hub never
// had (integrated in its replica as a remote operation would be).
function ghostInsert(client, site, position, text) {
  client.doc.localInsert(site, position, text);
}

// @promise, or a rejection after a bound (an upper bound on waiting for a
// failure, e.g. edits the SDK dropped that never get acknowledged).
function within(promise, what, ms = 60000) {
  let timer;
  const bound = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gave up waiting for ${typeof what === 'function' ? what() : what}`)), ms);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

function collectErrors(client) {
  const errors = [];
  client.on('error', (err) => errors.push(`${err.code}: ${err.message}`));
  return errors;
}

test('edits typed offline after operations the hub lacks are re-applied on rejoin', async () => {
  const prdId = await createPrd(hub, 'lost ops rejoin', 'hello', alice);
  const a = sdkClient(hub, prdId, carol);
  const errors = collectErrors(a);
  try {
    await a.connect();
    await a.whenSynced();
    const site = a.siteId;
    ghostInsert(a, 40, 5, 'ZZ');
    assert.equal(a.text, 'helloZZ');
    a.disconnect();
    a.insert(7, 'Q'); // after the ghost's characters
    a.insert(8, 'R'); // after an edit of its own that depends on them
    a.insert(6, '-'); // between the ghost's characters
    a.insert(0, 'A'); // on what the hub has
    assert.equal(a.text, 'AhelloZ-ZQR');
    // The site is a's again once the hub has seen a's old connection close.
    await untilLeft(hub, prdId, carol.sub);
    await a.reconnect();
    assert.equal(a.siteId, site, 'the same site again');
    const doc = await within(converged(hub, prdId, [a], alice), () => `the client to converge (errors: ${errors.join('; ')})`);
    assert.equal(doc.content, 'Ahello-QR');
    assert.equal(a.text, doc.content);
    assert.deepEqual(errors.filter((e) => e.includes('dropped')), []);
  } finally {
    a.close();
  }
});

test('an edit the hub refuses for missing operations is re-applied after a sync', async () => {
  const prdId = await createPrd(hub, 'lost ops sync', 'hello', alice);
  const a = sdkClient(hub, prdId, carol);
  const errors = collectErrors(a);
  try {
    await a.connect();
    a.insert(5, ' world');
    await a.whenSynced();
    ghostInsert(a, 41, 11, 'YY');
    a.insert(13, '!');
    a.insert(0, '>');
    assert.equal(a.text, '>hello worldYY!');
    const doc = await within(converged(hub, prdId, [a], alice), () => `the client to converge (errors: ${errors.join('; ')})`);
    assert.equal(doc.content, '>hello world!');
    assert.equal(a.text, doc.content);
    assert.ok(errors.some((e) => e.includes('missing operations')), `the hub refused the edit: ${errors}`);
    assert.deepEqual(errors.filter((e) => e.includes('dropped')), []);
  } finally {
    a.close();
  }
});
