// SPDX-License-Identifier: GPL-3.0-or-later
//
// The JavaScript SDK (clients/js) against a real prdhub: joining from the
// hub's encoded state, edits both ways, presence, offline editing and
// resending after a reconnect, durable acks.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { io, tmpDir } from './helpers/hub.js';
import { client, request } from './collab-helpers.js';
import {
  SDK_HUB_CONFIG, converged, createPrd, hubContent, rest, sdkClient, startHub, token, until, untilLeft, user,
} from './sdk-helpers.js';

let hub;
const alice = user('sdk_alice');
const bob = user('sdk_bob');

before(async () => {
  hub = await startHub({ config: SDK_HUB_CONFIG });
});

after(async () => {
  await hub?.stop();
});

test('join starts from the hub\'s state; edits reach the other client and the hub', async () => {
  const prdId = await createPrd(hub, 'SDK basics', 'Hello 🌍 world', alice);
  const a = sdkClient(hub, prdId, alice);
  const b = sdkClient(hub, prdId, bob);
  try {
    const ja = await a.connect();
    await b.connect();
    assert.equal(a.text, 'Hello 🌍 world');
    assert.equal(b.text, 'Hello 🌍 world');
    assert.equal(typeof ja.siteId, 'number');
    assert.notEqual(a.siteId, b.siteId);

    const remote = [];
    b.on('remote-change', (e) => remote.push(e));
    a.insert(6, 'big ');
    a.delete(0, 1);
    a.insert(0, 'h');
    assert.equal(a.text, 'hello big 🌍 world');
    await until(() => b.text === a.text, 'b to see a\'s edits');
    assert.ok(remote.length >= 1);
    assert.equal(remote[0].userId, 'sdk_alice');
    assert.deepEqual(remote[0].deltas, [{ type: 'insert', position: 6, text: 'big ' }]);
    // a surrogate pair cannot be split
    assert.throws(() => b.insert(11, 'x'), /surrogate/);
    b.insert(b.text.length, '!');
    const doc = await converged(hub, prdId, [a, b], alice);
    assert.equal(doc.content, 'hello big 🌍 world!');
    assert.equal(a.text, doc.content);
    assert.equal(b.text, doc.content);
  } finally {
    a.close();
    b.close();
  }
});

test('presence: cursors, selections and statuses of the others', async () => {
  const prdId = await createPrd(hub, 'SDK presence', 'abcdef', alice);
  const a = sdkClient(hub, prdId, alice);
  const b = sdkClient(hub, prdId, bob);
  try {
    await a.connect();
    await b.connect();
    await until(() => a.getOthers().some((u) => u.userId === 'sdk_bob'), 'a to see bob');
    b.setSelection(1, 3);
    await until(() => a.users.get('sdk_bob')?.selection?.end === 3, 'bob\'s selection');
    const seen = a.users.get('sdk_bob');
    assert.deepEqual(seen.selection, { start: 1, end: 3 });
    assert.equal(typeof seen.color, 'string');
    b.setStatus('ai-prompting');
    await until(() => a.users.get('sdk_bob')?.status === 'ai-prompting', 'bob\'s status');
    // a's own insert before bob's cursor moves it locally
    a.insert(0, 'XY');
    assert.deepEqual(a.users.get('sdk_bob').selection, { start: 3, end: 5 });
    assert.throws(() => b.setStatus('sleeping'), TypeError);
    b.close();
    await until(() => !a.users.has('sdk_bob'), 'bob to leave');
  } finally {
    a.close();
    b.close();
  }
});

test('edits made offline are sent after reconnecting, with the same ids', async () => {
  const prdId = await createPrd(hub, 'SDK offline', 'one two three', alice);
  const a = sdkClient(hub, prdId, alice);
  const b = sdkClient(hub, prdId, bob);
  try {
    await a.connect();
    await b.connect();
    const site = a.siteId;
    a.disconnect();
    a.insert(3, ' and a half');
    a.delete(0, 1);
    b.insert(b.text.length, ' four');
    await b.whenSynced();
    assert.equal(a.pendingCount, 2);
    // a's site is free for it again once the hub has seen a's old
    // connection close (nothing on the new one waits for that).
    await untilLeft(hub, prdId, 'sdk_alice');
    await a.reconnect();
    assert.equal(a.siteId, site);
    const doc = await converged(hub, prdId, [a, b], alice);
    assert.equal(doc.content, 'ne and a half two three four');
    assert.equal(a.text, doc.content);
    assert.equal(b.text, doc.content);
  } finally {
    a.close();
    b.close();
  }
});

test('a viewer cannot edit; an unknown PRD is refused', async () => {
  const prdId = await createPrd(hub, 'SDK viewer', 'read me', alice);
  const v = sdkClient(hub, prdId, user('sdk_viewer', { role: 'viewer' }), { mode: 'view' });
  const x = sdkClient(hub, 'prd_doesnotexist', alice);
  try {
    await v.connect();
    assert.equal(v.text, 'read me');
    assert.equal(v.siteId, null);
    assert.throws(() => v.insert(0, 'x'), (e) => e.code === 'FORBIDDEN');
    await assert.rejects(x.connect(), (e) => e.code === 'PRD_NOT_FOUND');
  } finally {
    v.close();
    x.close();
  }
});

test('the content seen through REST is the clients\' text', async () => {
  const prdId = await createPrd(hub, 'SDK rest', '', alice);
  const a = sdkClient(hub, prdId, alice);
  try {
    await a.connect();
    for (let i = 0; i < 50; i++) a.insert(a.text.length, `${i},`);
    await a.whenSynced();
    const doc = await hubContent(hub, prdId, alice);
    assert.equal(doc.content, a.text);
  } finally {
    a.close();
  }
});

// A's site is given to another tab of the same user while A is offline with
// unsent edits: A gets a fresh site and re-applies its edits there.
for (const bEdits of [1, 5]) {
  test(`site reused while offline (${bEdits} edits by the other tab): edits re-applied under a fresh site`, async () => {
    const carol = user(`sdk_carol_${bEdits}`);
    const prdId = await createPrd(hub, 'SDK site conflict', 'alpha beta', alice);
    const a = sdkClient(hub, prdId, carol);
    let b;
    try {
      await a.connect();
      const site = a.siteId;
      a.insert(0, '[');
      await a.whenSynced();
      a.disconnect();
      // The site is free once the hub has seen a's connection close.
      await untilLeft(hub, prdId, carol.sub);
      a.insert(a.text.length, ']');
      a.insert(1, 'A1 ');
      a.delete(4, 6); // "alpha " of "[A1 alpha beta]"
      assert.equal(a.text, '[A1 beta]');
      assert.equal(a.pendingCount, 3);

      b = sdkClient(hub, prdId, carol);
      await b.connect();
      assert.equal(b.siteId, site, 'the other tab gets the user\'s free site back');
      for (let i = 0; i < bEdits; i++) b.insert(b.text.length, `<${i}>`);
      await b.whenSynced();

      const conflicts = [];
      a.on('site-conflict', (c) => conflicts.push(c));
      await a.reconnect();
      assert.notEqual(a.siteId, site);
      if (bEdits < 3) assert.equal(conflicts[0]?.code, 'SITE_CONFLICT');
      const doc = await converged(hub, prdId, [a, b], alice);
      let tail = '';
      for (let i = 0; i < bEdits; i++) tail += `<${i}>`;
      // both inserted at the end: the re-applied "]" goes right after "beta"
      assert.equal(doc.content, `[A1 beta]${tail}`);
      assert.equal(a.text, doc.content);
      assert.equal(b.text, doc.content);
    } finally {
      a.close();
      b?.close();
    }
  });
}

test('batch-update: batched content and presence are applied like single events', async () => {
  const bhub = await startHub({ config: `${SDK_HUB_CONFIG}[collab]\nbatch-threshold = 1\nbatch-interval = 20\n` });
  const prdId = await createPrd(bhub, 'SDK batching', 'batch', alice);
  const a = sdkClient(bhub, prdId, alice);
  const b = sdkClient(bhub, prdId, bob);
  try {
    await a.connect();
    await b.connect();
    let batches = 0;
    b.socket.on('batch-update', () => batches++);
    for (let i = 0; i < 40; i++) a.insert(a.text.length, String(i % 10));
    a.setCursor(3);
    const doc = await converged(bhub, prdId, [a, b], alice);
    assert.equal(doc.content, a.text);
    assert.equal(b.text, a.text);
    assert.ok(batches > 0, 'the hub batched');
    await until(() => b.users.get('sdk_alice')?.cursorPosition === 3, 'alice\'s cursor through a batch');
  } finally {
    a.close();
    b.close();
    await bhub.stop();
  }
});

test('rate limited edits are sent again after retryAfter', async () => {
  const rhub = await startHub({
    // 25 edits in flight at once: 5 refused, fewer than the limit (as many
    // again would close the connection, and socket.io-client would not
    // reconnect by itself)
    config: '[rate-limit]\ndefault = 1000000/1\nedits = 20/1\n[rate-limit.events]\ncontent-update = edits\n',
  });
  const prdId = await createPrd(rhub, 'SDK rate limit', '', alice);
  const a = sdkClient(rhub, prdId, alice);
  const b = sdkClient(rhub, prdId, bob);
  try {
    await a.connect();
    await b.connect();
    const errors = [];
    a.on('error', (e) => errors.push(e));
    let limited = 0;
    a.socket.on('rate-limit', () => limited++);
    // at the front each time: 25 operations (typing at the end would be
    // coalesced into one while unsent)
    for (let i = 0; i < 25; i++) a.insert(0, String.fromCharCode(97 + i));
    assert.equal(a.pendingCount, 25);
    const doc = await converged(rhub, prdId, [a, b], alice);
    assert.equal(doc.content, 'yxwvutsrqponmlkjihgfedcba');
    assert.equal(b.text, doc.content);
    assert.ok(limited > 0, 'the hub rate-limited the client');
    assert.deepEqual(errors, [], 'rate limiting is handled, not reported');
  } finally {
    a.close();
    b.close();
    await rhub.stop();
  }
});

test('an edit the hub refuses is reported, undone, and editing goes on', async () => {
  const shub = await startHub({ config: SDK_HUB_CONFIG });
  const prdId = await createPrd(shub, 'SDK refused', 'small', alice);
  const a = sdkClient(shub, prdId, alice);
  const b = sdkClient(shub, prdId, bob);
  try {
    await a.connect();
    await b.connect();
    const errors = [];
    a.on('error', (e) => errors.push(e));
    const remote = [];
    a.on('remote-change', (e) => remote.push(e));
    // The hub will never take this one: its position is past the text (as a
    // client with a bug would send it).
    const emit = a.socket.emit.bind(a.socket);
    a.socket.emit = (event, payload, ...rest) => {
      if (event === 'content-update') {
        a.socket.emit = emit;
        payload = { ...payload, operation: { ...payload.operation, position: 10000 } };
      }
      return emit(event, payload, ...rest);
    };
    a.insert(5, ' but this insert is refused');
    await until(() => errors.length > 0, 'the refusal');
    assert.equal(errors[0].event, 'content-update');
    assert.equal(errors[0].code, 'INVALID_OPERATION');
    // the replica resynchronises from the hub: the refused text goes away
    await until(() => a.text === 'small', 'the refused edit to be undone');
    assert.ok(remote.some((r) => r.deltas.some((d) => d.type === 'delete')));
    a.insert(5, '!');
    const doc = await converged(shub, prdId, [a, b], alice);
    assert.equal(doc.content, 'small!');
    assert.equal(b.text, 'small!');
  } finally {
    a.close();
    b.close();
    await shub.stop();
  }
});

test('over HTTP long-polling too', async () => {
  const prdId = await createPrd(hub, 'SDK polling', 'poll', alice);
  const opts = { socketOptions: { transports: ['polling'], reconnectionDelay: 50 } };
  const a = sdkClient(hub, prdId, alice, opts);
  const b = sdkClient(hub, prdId, bob, opts);
  try {
    await a.connect();
    await b.connect();
    for (let i = 0; i < 20; i++) (i % 2 ? a : b).insert(0, String(i % 10));
    const doc = await converged(hub, prdId, [a, b], alice);
    assert.equal(a.text, doc.content);
    assert.equal(b.text, doc.content);
    assert.equal(doc.content.length, 24);
  } finally {
    a.close();
    b.close();
  }
});

test('typing offline is sent as a few operations', async () => {
  const prdId = await createPrd(hub, 'SDK offline typing', 'Title\n', alice);
  const a = sdkClient(hub, prdId, alice);
  const b = sdkClient(hub, prdId, bob);
  try {
    await a.connect();
    await b.connect();
    const vector = a.stateVector;
    a.disconnect();
    const words = 'typed while the network was down';
    for (const ch of words) a.insert(a.length, ch);
    a.delete(a.length - 4, 4); // "down" goes: a second operation
    for (const ch of 'away') a.insert(a.length, ch);
    assert.equal(a.text, 'Title\ntyped while the network was away');
    assert.equal(a.pendingCount, 3);
    b.insert(0, '# ');
    await a.reconnect();
    const doc = await converged(hub, prdId, [a, b], alice);
    assert.equal(doc.content, '# Title\ntyped while the network was away');
    assert.equal(a.text, doc.content);
    assert.equal(doc.stateVector[a.siteId], (vector[a.siteId] ?? 0) + 3);
  } finally {
    a.close();
    b.close();
  }
});

test('the hub\'s max-operation-size comes with the join: edits split to it, also those made before', async () => {
  const dataDir = tmpDir('prdhub-e2e-opsize-');
  let shub = await startHub({ config: SDK_HUB_CONFIG, args: ['--data-dir', dataDir] });
  const prdId = await createPrd(shub, 'Limits', 'start.', alice);
  const a = sdkClient(shub, prdId, alice);
  const errors = [];
  a.on('error', (e) => errors.push(e));
  try {
    await a.connect();
    assert.equal(a.maxOperationSize, 65536);
    // Typed offline as one operation, while the hub took 65,536 units.
    a.disconnect();
    a.insert(6, ' typed offline, longer than sixteen units');
    a.delete(0, 6);
    // The hub comes back on the same port, taking 16 units at most.
    const { port } = shub;
    await shub.stop();
    shub = await startHub({
      config: `${SDK_HUB_CONFIG}[collab]\nmax-operation-size = 16\n`,
      args: ['--data-dir', dataDir, '--listen', `127.0.0.1:${port}`],
    });
    await a.reconnect();
    assert.equal(a.maxOperationSize, 16);
    // And from now on, a paste goes in pieces of 16.
    a.insert(0, '>'.repeat(40));
    const doc = await converged(shub, prdId, [a], alice);
    assert.equal(doc.content, '>'.repeat(40) + ' typed offline, longer than sixteen units');
    assert.equal(a.text, doc.content);
    // A client that sends more than the hub takes anyway (as one whose
    // limit is out of date would) is refused, joins again and sends the
    // same edit in pieces: nothing lost, nothing reported.
    a.maxOperationSize = 65536;
    a.insert(0, '<'.repeat(40));
    const again = await converged(shub, prdId, [a], alice);
    assert.equal(again.content, '<'.repeat(40) + doc.content);
    assert.equal(a.maxOperationSize, 16);
    assert.deepEqual(errors.map((e) => e.code), []);
  } finally {
    a.close();
    await shub.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('syncedVersion: the version of the text at the call, once the hub has its edits; null offline', async () => {
  const prdId = await createPrd(hub, 'Versions', 'abc', alice);
  const a = sdkClient(hub, prdId, alice);
  try {
    await a.connect();
    a.insert(3, 'd');
    const at = a.stateVector;
    const version = a.syncedVersion();
    a.insert(4, 'e'); // after the call: not in the version
    assert.deepEqual(await version, at);
    assert.ok(a.pendingCount <= 1);
    const doc = await converged(hub, prdId, [a], alice);
    assert.equal(doc.content, 'abcde');
    a.disconnect();
    assert.equal(await a.syncedVersion(), null);
  } finally {
    a.close();
  }
});

// Asked between connections, a comment (or an AI prompt) waits for the join
// instead of going out first and being refused NOT_JOINED, and its offsets
// are read in the text they were read in, past another user's edit above.
test('syncedVersion between connections waits for the join; a comment asked offline lands where it was read', async () => {
  const prdId = await createPrd(hub, 'Offline comment', 'one two three', alice);
  const a = sdkClient(hub, prdId, alice);
  const b = sdkClient(hub, prdId, bob);
  try {
    await a.connect();
    await b.connect();
    a.socket.io.reconnectionDelay(1500).reconnectionDelayMax(1500).randomizationFactor(0);
    a.socket.io.engine.close();
    await until(() => !a.joined, 'a to go offline');
    a.insert(4, 'and ');
    b.insert(0, 'zero ');
    await b.whenSynced();
    const at = a.text.indexOf('two');
    const seen = [];
    b.on('comment-added', (c) => seen.push(c));
    const { commentId } = await a.addComment({ position: at, selection: { start: at, end: at + 3 }, content: 'Which two?' });
    await until(() => seen.length === 1, 'comment-added');
    assert.equal(seen[0].commentId, commentId);
    const doc = await converged(hub, prdId, [a, b], alice);
    assert.equal(doc.content, 'zero one and two three');
    assert.equal(seen[0].position, doc.content.indexOf('two'));
    assert.equal(seen[0].selection.text, 'two');
    // Disconnected on purpose: nothing to wait for.
    a.disconnect();
    assert.equal(await a.syncedVersion(), null);
  } finally {
    a.close();
    b.close();
  }
});

// More edits offline than the client sends at once (maxInFlight): a
// comment asked after them waits for all of them, and its offsets are
// read in the text it was asked in, not in the hub's text after the first
// 64 of them.
test('a comment asked after disconnect() with more offline edits than maxInFlight lands where it was read', async () => {
  const prdId = await createPrd(hub, 'Offline comment, many edits', `HEAD\nTARGET\n${'y'.repeat(300)}`, alice);
  const a = sdkClient(hub, prdId, alice);
  try {
    await a.connect();
    a.disconnect();
    for (let i = 0; i < 100; i++) a.insert(0, 'x'); // 100 operations: inserts at 0 are not merged
    assert.equal(a.pendingCount, 100);
    const at = a.text.indexOf('TARGET');
    const asked = a.addComment({ position: at, selection: { start: at, end: at + 6 }, content: 'on TARGET' });
    const prompt = a.aiPrompt({ prompt: 'p', context: { cursorPosition: at } }).catch((e) => e.code);
    await a.reconnect();
    const { commentId } = await asked;
    const doc = await converged(hub, prdId, [a], alice);
    const list = (await rest(hub, 'GET', `/api/prds/${prdId}/comments`, { tok: token(alice) })).json.comments;
    const c = list.find((x) => x.commentId === commentId);
    assert.equal(doc.content.slice(c.selection.start, c.selection.end), 'TARGET');
    assert.equal(c.position, doc.content.indexOf('TARGET'));
    // No AI provider here: refused, but only after the join and the edits.
    assert.notEqual(await prompt, 'NOT_JOINED');
  } finally {
    a.close();
  }
});

// Waits that time out while offline leave nothing behind.
test('requests that time out offline leave no waiters or listeners behind', async () => {
  const prdId = await createPrd(hub, 'Offline timeouts', 'seed', alice);
  const a = sdkClient(hub, prdId, alice, { requestTimeout: 20 });
  try {
    await a.connect();
    a.disconnect();
    a.insert(0, 'offline ');
    const synced = a.listenerCount('synced');
    const closed = a.listenerCount('closed');
    for (let i = 0; i < 50; i++) {
      await assert.rejects(a.replyComment('comment_x', 'r'), (e) => e.code === 'NOT_JOINED');
      await assert.rejects(a.createVersion({ changelog: 'v', force: true }), (e) => e.code === 'NOT_JOINED');
      await assert.rejects(a.addComment({ position: 0, content: 'c' }), (e) => e.code === 'NOT_JOINED');
    }
    assert.equal(a._joinWaiters.length, 0);
    assert.equal(a._ackWaiters.size, 0);
    // Reconnecting by itself: syncedVersion() waits for the join, then
    // times out; no synced/closed listeners stay.
    a.socket.io.reconnectionDelay(60000).reconnectionDelayMax(60000);
    await a.reconnect();
    a.socket.io.engine.close();
    await until(() => !a.joined, 'a to go offline');
    a.insert(0, 'y');
    for (let i = 0; i < 50; i++) await assert.rejects(a.syncedVersion(), (e) => e.code === 'NOT_JOINED');
    assert.equal(a.listenerCount('synced'), synced);
    assert.equal(a.listenerCount('closed'), closed);
    assert.equal(a._joinWaiters.length, 0);
  } finally {
    a.close();
  }
});

// A hub whose max-operation-size is 1 takes no surrogate pair (2 UTF-16
// units, one character): an edit with one is refused whole, before
// anything is applied, never sent as halves; one made before the client
// knew that limit is dropped and reported when it joins again, and the
// rest of it kept.
test('max-operation-size 1: edits with a surrogate pair are refused whole; one made before is dropped, reported', async () => {
  const dataDir = tmpDir('prdhub-e2e-opsize1-');
  let shub = await startHub({ config: SDK_HUB_CONFIG, args: ['--data-dir', dataDir] });
  const prdId = await createPrd(shub, 'Pairs', 'ab😀cd', alice);
  const a = sdkClient(shub, prdId, alice);
  const errors = [];
  a.on('error', (e) => errors.push(e));
  try {
    await a.connect();
    a.disconnect();
    a.insert(0, 'x🌍y'); // one operation of 4 units
    const { port } = shub;
    await shub.stop();
    shub = await startHub({
      config: `${SDK_HUB_CONFIG}[collab]\nmax-operation-size = 1\n`,
      args: ['--data-dir', dataDir, '--listen', `127.0.0.1:${port}`],
    });
    await a.reconnect();
    assert.equal(a.maxOperationSize, 1);
    await a.whenSynced();
    assert.deepEqual(errors.map((e) => e.code), ['PAYLOAD_TOO_LARGE']);
    assert.match(errors[0].message, /1 parts of local edits dropped/);
    assert.equal(a.text, 'xyab😀cd');
    const refused = (fn, code, message) => {
      const text = a.text;
      const pending = a.pendingCount;
      assert.throws(fn, (e) => e.code === code && message.test(e.message));
      assert.equal(a.text, text);
      assert.equal(a.pendingCount, pending);
    };
    refused(() => a.insert(0, 'Z🌍'), 'PAYLOAD_TOO_LARGE', /surrogate pair.*maxOperationSize 1/);
    refused(() => a.insert(0, '🌍'), 'PAYLOAD_TOO_LARGE', /surrogate pair/);
    refused(() => a.delete(3, 3), 'PAYLOAD_TOO_LARGE', /surrogate pair/); // "b😀"
    refused(() => a.replace(0, 1, 'Q🌍'), 'PAYLOAD_TOO_LARGE', /surrogate pair/);
    refused(() => a.delete(0, 1.5), 'INVALID_OPERATION', /length must be a positive integer, not 1\.5/);
    refused(() => a.delete(0, '1'), 'INVALID_OPERATION', /length must be a positive integer, not "1"/);
    a.insert(0, 'ZZ'); // no pair: two operations
    a.delete(2, 2); // "xy"
    const doc = await converged(shub, prdId, [a], alice);
    assert.equal(doc.content, 'ZZab😀cd');
    assert.equal(a.text, doc.content);
    assert.equal(errors.length, 1);
  } finally {
    a.close();
    await shub.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('an insert past the hub\'s max-document-size is refused before the replica takes it', async () => {
  const small = await startHub({ config: `${SDK_HUB_CONFIG}[collab]\nmax-document-size = 12\n` });
  const prdId = await createPrd(small, 'Small', 'abcdef', alice);
  const a = sdkClient(small, prdId, alice);
  const errors = [];
  a.on('error', (e) => errors.push(e));
  try {
    await a.connect();
    assert.equal(a.maxDocumentSize, 12);
    assert.throws(() => a.insert(6, 'ghijklm'), (e) => e.code === 'LIMIT_REACHED' && /delete text first/.test(e.message));
    assert.equal(a.text, 'abcdef');
    assert.equal(a.pendingCount, 0);
    a.replace(0, 3, 'XYZ-');
    a.insert(a.length, 'gh');
    const doc = await converged(small, prdId, [a], alice);
    assert.equal(doc.content, 'XYZ-defgh');
    assert.deepEqual(errors, []);
  } finally {
    a.close();
    await small.stop();
  }
});

// Offline, Alice inserts 8 units (98 of 100 as far as she knows) and then
// deletes 30; meanwhile Bob's 8 units take the room. The hub refuses her
// insert: that one is lost and reported, her deletion is not.
test('an insert refused because the PRD is full loses that insert only, not the edits after it', async () => {
  const small = await startHub({ config: `${SDK_HUB_CONFIG}[collab]\nmax-document-size = 100\n` });
  const prdId = await createPrd(small, 'Full', `${'x'.repeat(20)}${'y'.repeat(30)}${'z'.repeat(40)}`, alice);
  const a = sdkClient(small, prdId, alice);
  const b = sdkClient(small, prdId, bob);
  const errors = [];
  a.on('error', (e) => errors.push(e));
  try {
    await a.connect();
    await b.connect();
    a.disconnect();
    a.insert(0, 'AAAAAAAA');
    a.delete(28, 30); // the 30 y's
    b.insert(0, 'BBBBBBBB');
    await b.whenSynced();
    await untilLeft(small, prdId, 'sdk_alice');
    await a.reconnect();
    const doc = await converged(small, prdId, [a, b], alice);
    assert.equal(doc.content, `BBBBBBBB${'x'.repeat(20)}${'z'.repeat(40)}`);
    assert.deepEqual(errors.map((e) => e.code), ['LIMIT_REACHED']);
    assert.match(errors[0].message, /max-document-size/);
  } finally {
    a.close();
    b.close();
    await small.stop();
  }
});

// socket.io-client's io, with the hub's acks of content-updates held back
// until it refuses one: the refusal is handed over first, the acks held
// after it (then every answer as it comes). A hub acks after its commit
// and refuses at once, so it may answer a burst of edits in that order.
function refusalFirst(url, options) {
  const socket = io(url, options);
  const emit = socket.emit.bind(socket);
  let held = [];
  socket.emit = (event, payload, ack) => {
    if (event !== 'content-update' || typeof ack !== 'function') return emit(event, payload, ack);
    return emit(event, payload, (res) => {
      if (held === null) return ack(res);
      if (res?.ok) return held.push(() => ack(res));
      ack(res);
      const later = held;
      held = null;
      for (const give of later) give();
    });
  };
  return socket;
}

// refusalFirst, with the content-updates kept until release() while
// `waiting` is an array.
let waiting = null;
function heldRefusalFirst(url, options) {
  const socket = refusalFirst(url, options);
  const emit = socket.emit.bind(socket);
  socket.emit = (event, ...args) => {
    if (event !== 'content-update' || waiting === null) return emit(event, ...args);
    waiting.push(() => emit(event, ...args));
    return socket;
  };
  return socket;
}

// Alice pastes 25 units, sent as 3 operations (10, 10, 5), which leave once
// Bob's 20 units took the room of the last one. The hub refuses it before
// it acks the two before it: the replica still rolls that piece back, to
// the hub's text.
test('a piece of a split paste refused before the acks of the pieces before it leaves the replica equal to the hub', async () => {
  const small = await startHub({ config: `${SDK_HUB_CONFIG}[collab]\nmax-operation-size = 10\nmax-document-size = 100\n` });
  const prdId = await createPrd(small, 'Split', 'x'.repeat(60), alice);
  const a = sdkClient(small, prdId, alice, { io: heldRefusalFirst });
  const b = sdkClient(small, prdId, bob);
  const errors = [];
  a.on('error', (e) => errors.push(e));
  try {
    await a.connect();
    await b.connect();
    waiting = [];
    a.insert(0, 'A'.repeat(25));
    assert.equal(a.pendingCount, 3);
    b.insert(60, 'B'.repeat(20));
    await b.whenSynced();
    const release = waiting;
    waiting = null;
    for (const send of release) send();
    await a.whenSynced();
    const doc = await hubContent(small, prdId, alice);
    assert.equal(doc.content, `${'A'.repeat(20)}${'x'.repeat(60)}${'B'.repeat(20)}`);
    assert.equal(a.text, doc.content);
    assert.equal(a.resyncing, false);
    assert.deepEqual(errors.map((e) => e.code), ['LIMIT_REACHED']);
    // The room the hub has is the room the replica sees: 5 units deleted
    // make room for 5 typed.
    a.delete(0, 5);
    a.insert(0, 'typed');
    const after = await converged(small, prdId, [a, b], alice);
    assert.equal(after.content, `typed${'A'.repeat(15)}${'x'.repeat(60)}${'B'.repeat(20)}`);
    assert.equal(b.text, after.content);
  } finally {
    waiting = null;
    a.close();
    b.close();
    await small.stop();
  }
});

// The refused insert is the only edit queued: no ack is to come, the join
// that drops it (no room in the hub's state) settles the client, and says
// so (`synced`).
test('an insert refused for room with nothing else queued ends in synced once rolled back', async () => {
  const small = await startHub({ config: `${SDK_HUB_CONFIG}[collab]\nmax-document-size = 20\n` });
  const prdId = await createPrd(small, 'Full', 'x'.repeat(10), alice);
  const a = sdkClient(small, prdId, alice);
  const b = sdkClient(small, prdId, bob);
  const errors = [];
  a.on('error', (e) => errors.push(e));
  let synced = 0;
  a.on('synced', () => synced++);
  try {
    await a.connect();
    await b.connect();
    a.disconnect();
    a.insert(0, 'AAAAA');
    b.insert(10, 'B'.repeat(10));
    await b.whenSynced();
    await untilLeft(small, prdId, 'sdk_alice');
    synced = 0;
    await a.reconnect();
    await until(() => synced > 0, 'synced after the refused insert was rolled back', 30000);
    assert.equal(a.pendingCount, 0);
    assert.equal(a.resyncing, false);
    assert.deepEqual(errors.map((e) => e.code), ['LIMIT_REACHED']);
    const doc = await hubContent(small, prdId, alice);
    assert.equal(doc.content, `${'x'.repeat(10)}${'B'.repeat(10)}`);
    assert.equal(a.text, doc.content);
  } finally {
    a.close();
    b.close();
    await small.stop();
  }
});

test('a paste longer than the hub takes in one operation goes as several; typing after it stays', async () => {
  const small = await startHub({ config: `${SDK_HUB_CONFIG}[collab]\nmax-operation-size = 1000\n` });
  const prdId = await createPrd(small, 'Big paste', 'start.', alice);
  const a = sdkClient(small, prdId, alice, { maxOperationSize: 1000 });
  const errors = [];
  a.on('error', (e) => errors.push(e));
  try {
    await a.connect();
    // 2,500 units, with a surrogate pair across the first 1,000-unit boundary
    const paste = `${'p'.repeat(999)}🌍${'q'.repeat(1499)}`;
    a.insert(6, paste);
    a.insert(6 + paste.length, ' typed after');
    a.delete(0, 1);
    assert.equal(a.text, `tart.${paste} typed after`);
    const doc = await converged(small, prdId, [a], alice);
    assert.equal(doc.content, a.text);
    // A deletion past the limit goes the same way.
    a.delete(5, paste.length);
    assert.equal(a.text, 'tart. typed after');
    const after = await converged(small, prdId, [a], alice);
    assert.equal(after.content, 'tart. typed after');
    assert.deepEqual(errors, []);
  } finally {
    a.close();
    await small.stop();
  }
});

// An edit the SDK refuses changes nothing, also one that goes as several
// operations (longer than the hub's max-operation-size) and a replace: the
// whole of it is checked before its first part is applied and sent. Each
// test gets a client on a hub taking 8 units per operation and 40 per PRD,
// and returns the hub's text once the client is synced.
async function refusing(content, body) {
  const small = await startHub({ config: `${SDK_HUB_CONFIG}[collab]\nmax-operation-size = 8\nmax-document-size = 40\n` });
  const prdId = await createPrd(small, 'Checked', content, alice);
  const a = sdkClient(small, prdId, alice);
  const errors = [];
  a.on('error', (e) => errors.push(e));
  const refused = (fn, code, message) => {
    const text = a.text;
    const pending = a.pendingCount;
    assert.throws(fn, (e) => e.code === code && message.test(e.message));
    assert.equal(a.text, text);
    assert.equal(a.pendingCount, pending);
  };
  try {
    await a.connect();
    assert.equal(a.maxOperationSize, 8);
    assert.equal(a.maxDocumentSize, 40);
    await body(a, refused);
    const doc = await converged(small, prdId, [a], alice);
    assert.equal(doc.content, a.text);
    assert.deepEqual(errors, []);
    return doc.content;
  } finally {
    a.close();
    await small.stop();
  }
}

test('a deletion past the end is refused, not cut to the end, also one longer than max-operation-size', async () => {
  const content = await refusing('012345678🌍ABCDEF', (a, refused) => {
    refused(() => a.delete(2, 50), 'INVALID_OPERATION', /beyond the end of the document/);
    refused(() => a.delete(4, 1000), 'INVALID_OPERATION', /beyond the end of the document/);
    refused(() => a.delete(0, Infinity), 'INVALID_OPERATION', /length must be a positive integer, not Infinity/);
    // Ending inside a surrogate pair, in its last piece.
    refused(() => a.delete(0, 10), 'INVALID_OPERATION', /splits a surrogate pair/);
    a.delete(0, 11);
  });
  assert.equal(content, 'ABCDEF');
});

test('an insert longer than max-operation-size refused in a later part applies none of it', async () => {
  const content = await refusing('ABCDEFGH', (a, refused) => {
    refused(() => a.insert(8, 'abcdefghij\ud800k'), 'INVALID_OPERATION', /not valid UTF-8/);
    // The hub refuses U+0000 in any string: refused before anything is applied.
    refused(() => a.insert(8, 'abcdefghij\u0000k'), 'INVALID_OPERATION', /holds U\+0000 \(at 10\)/);
    refused(() => a.insert(8, '\u0000'), 'INVALID_OPERATION', /holds U\+0000/);
    refused(() => a.insert(8, 'x'.repeat(33)), 'LIMIT_REACHED', /41 UTF-16 units/);
    a.insert(8, 'abcdefghij🌍k');
  });
  assert.equal(content, 'ABCDEFGHabcdefghij🌍k');
});

test('a replace refused for its insert deletes nothing', async () => {
  const content = await refusing('0123456789', (a, refused) => {
    a.insert(10, 'x'.repeat(30)); // 40 of 40 units
    refused(() => a.replace(0, 1, 'AB'), 'LIMIT_REACHED', /41 UTF-16 units/);
    refused(() => a.replace(38, 5, 'y'), 'INVALID_OPERATION', /beyond the end of the document/);
    refused(() => a.replace(0, 1, '\udc00'), 'INVALID_OPERATION', /not valid UTF-8/);
    refused(() => a.replace(0, 1, '\u0000'), 'INVALID_OPERATION', /holds U\+0000/);
    refused(() => a.replace(0, 1, 7), 'INVALID_OPERATION', /text must be a string/);
    a.replace(0, 2, 'AB');
  });
  assert.equal(content, `AB23456789${'x'.repeat(30)}`);
});

// close() right after an edit, while online: the edit still goes out, and
// close() resolves once the hub has it.
test('close() sends the edits typed just before it and resolves once the hub has them', async () => {
  const prdId = await createPrd(hub, 'Close', 'seed', alice);
  const a = sdkClient(hub, prdId, alice);
  const closed = [];
  a.on('closed', (e) => closed.push(e));
  await a.connect();
  a.insert(0, 'Z');
  a.delete(1, 1);
  await a.close();
  assert.equal(a.closed, true);
  assert.throws(() => a.insert(0, 'late'), (e) => e.code === 'CLOSED');
  assert.deepEqual(closed, [{ reason: 'closed', pendingCount: 0 }]);
  assert.equal(a.pendingCount, 0);
  assert.equal((await hubContent(hub, prdId, alice)).content, 'Zeed');
  // Offline, close() ends at once: the edits are dropped, and counted.
  const b = sdkClient(hub, prdId, alice);
  b.on('closed', (e) => closed.push(e));
  await b.connect();
  b.disconnect();
  b.insert(0, 'offline');
  await b.close();
  assert.deepEqual(closed[1], { reason: 'closed', pendingCount: 1 });
});

// A plain TCP proxy to @hub: `down` drops every connection through it and
// refuses new ones (a network that is gone), `up` lets them through again.
async function flakyProxy(port) {
  const conns = new Set();
  let down = false;
  const server = net.createServer((c) => {
    if (down) {
      c.destroy();
      return;
    }
    const u = net.connect(port, '127.0.0.1');
    c.pipe(u);
    u.pipe(c);
    const k = { c, u };
    conns.add(k);
    const end = () => {
      c.destroy();
      u.destroy();
      conns.delete(k);
    };
    for (const s of [c, u]) {
      s.on('error', end);
      s.on('close', end);
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    down() {
      down = true;
      for (const k of [...conns]) {
        k.c.destroy();
        k.u.destroy();
      }
    },
    up() {
      down = false;
    },
    close() {
      this.down();
      server.close();
    },
  };
}

// An upper bound on waiting for @p (a failure if it is reached), never a
// timing assertion.
function within(p, what, ms = 60000) {
  let timer;
  return Promise.race([p, new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  })]).finally(() => clearTimeout(timer));
}

test('a rejoin refused RATE_LIMITED is tried again after retryAfter; reconnect() meanwhile joins', async () => {
  // The user's default budget (join-prd, leave-prd, …): 20 per 4 s.
  const rhub = await startHub({ config: '[rate-limit]\ndefault = 20/4\ncollab = 1000000/1\n' });
  const prdId = await createPrd(rhub, 'SDK rejoin rate limited', 'hello\n', alice);
  const a = sdkClient(rhub, prdId, alice);
  let tab;
  try {
    const errors = [];
    a.on('error', (e) => errors.push(`${e.event} ${e.code}`));
    await a.connect();
    // Alice's other tab spends the budget (leave-prd of a PRD it is not
    // in, answered NOT_JOINED) until one is refused: the window runs.
    tab = await client(rhub, alice);
    for (let i = 0; i < 40; i++) {
      const res = await request(tab, 'leave-prd', { prdId });
      if (res?.error?.code === 'RATE_LIMITED') break;
    }
    // The network drops; Socket.IO reconnects, and the join is refused.
    a.socket.io.engine.close();
    a.insert(0, 'typed after the drop ');
    await until(() => errors.includes('join-prd RATE_LIMITED'), 'the rejoin to be refused');
    assert.equal(a.joined, false);
    const synced = a.whenSynced();
    // Connected but not joined: reconnect() sends a join (refused again
    // while the window runs) and resolves once the client is joined.
    assert.equal(a.socket.connected, true);
    await within(a.reconnect(), 'reconnect() to join again');
    assert.equal(a.joined, true);
    await within(synced, 'whenSynced()');
    const doc = await hubContent(rhub, prdId, alice);
    assert.equal(doc.content, 'typed after the drop hello\n');
    assert.equal(a.text, doc.content);
  } finally {
    tab?.close();
    a.close();
    await rhub.stop();
  }
});

test('a rejoin refused LIMIT_REACHED (max-open-rooms) is tried again; the edit reaches the hub once there is room', async () => {
  const lhub = await startHub({ config: `${SDK_HUB_CONFIG}[collab]\nmax-open-rooms = 1\n` });
  const proxy = await flakyProxy(lhub.port);
  const p1 = await createPrd(lhub, 'SDK rejoin one', 'one\n', alice);
  const p2 = await createPrd(lhub, 'SDK rejoin two', 'two\n', bob);
  const a = sdkClient({ url: proxy.url }, p1, alice);
  const b = sdkClient(lhub, p2, bob);
  try {
    const errors = [];
    a.on('error', (e) => errors.push(`${e.event} ${e.code}`));
    await a.connect();
    // Alice's network is down; Bob opens the other PRD meanwhile (Alice's
    // empty room goes to make room for it).
    proxy.down();
    await untilLeft(lhub, p1, alice.sub);
    a.insert(0, 'offline edit ');
    await b.connect();
    // Alice is back while Bob is in his PRD: her join is refused.
    proxy.up();
    await until(() => errors.includes('join-prd LIMIT_REACHED'), 'the rejoin to be refused');
    assert.equal(a.joined, false);
    // Bob leaves: there is room again, and Alice joins by herself.
    await b.close();
    await within(a.whenSynced(), 'whenSynced()');
    assert.equal(a.joined, true);
    const doc = await hubContent(lhub, p1, alice);
    assert.equal(doc.content, 'offline edit one\n');
  } finally {
    a.close();
    b.close();
    proxy.close();
    await lhub.stop();
  }
});

test('a rejoin tried again after LIMIT_REACHED that finds the PRD deleted rejects whenSynced()', async () => {
  const lhub = await startHub({ config: `${SDK_HUB_CONFIG}[collab]\nmax-open-rooms = 1\n` });
  const proxy = await flakyProxy(lhub.port);
  const p1 = await createPrd(lhub, 'SDK rejoin doomed', 'one\n', alice);
  const p2 = await createPrd(lhub, 'SDK rejoin other', 'two\n', bob);
  const a = sdkClient({ url: proxy.url }, p1, alice);
  const b = sdkClient(lhub, p2, bob);
  try {
    const errors = [];
    const closed = [];
    a.on('error', (e) => errors.push(`${e.event} ${e.code}`));
    a.on('closed', (c) => closed.push(c));
    await a.connect();
    proxy.down();
    await untilLeft(lhub, p1, alice.sub);
    a.insert(0, 'lost edit ');
    await b.connect();
    proxy.up();
    await until(() => errors.includes('join-prd LIMIT_REACHED'), 'the rejoin to be refused');
    const synced = a.whenSynced();
    synced.catch(() => {});
    // The PRD is deleted while Alice is turned away (as long as Bob holds
    // the only room, an unknown PRD is refused LIMIT_REACHED too); once
    // Bob leaves, her next try is refused for good, and nothing waits for
    // ever.
    const res = await rest(lhub, 'DELETE', `/api/prds/${p1}`, { tok: token(alice) });
    assert.equal(res.status, 200, res.text);
    await b.close();
    await assert.rejects(within(synced, 'whenSynced() to settle'), (e) => e.code === 'PRD_NOT_FOUND');
    assert.ok(errors.includes('join-prd PRD_NOT_FOUND'));
    assert.deepEqual(closed, [{ reason: 'deleted', pendingCount: 1 }]);
    assert.ok(a.deleted && a.closed);
  } finally {
    a.close();
    b.close();
    proxy.close();
    await lhub.stop();
  }
});
