// SPDX-License-Identifier: GPL-3.0-or-later
//
// /prds collaboration with plain socket.io-client sockets sending the seed's
// payloads verbatim (docs/protocol.md, "PRD collaboration"): reply shapes,
// viewers, organizations, presence and its cleanup, sync, batching, REST.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHub, tmpDir, token } from './helpers/hub.js';
import {
  client, request, join, bump, once, user, rest, createPrd, recorder, until, untilLeft,
} from './collab-helpers.js';

const COLOR_RE = /^#[0-9A-F]{6}$/;
const execFileP = promisify(execFile);

function assertUser(u) {
  assert.equal(typeof u.userId, 'string');
  assert.equal(typeof u.name, 'string');
  assert.ok(u.avatar === null || typeof u.avatar === 'string');
  assert.ok(['viewing', 'editing', 'ai-prompting'].includes(u.status));
  assert.match(u.color, COLOR_RE);
}

function assertErrorShape(err, code, event) {
  assert.equal(err.code, code, JSON.stringify(err));
  assert.equal(typeof err.message, 'string');
  assert.ok(err.message.length > 0);
  assert.ok(!Number.isNaN(Date.parse(err.timestamp)));
  assert.equal(err.event, event);
}

test('join, edit, sync, presence and leave with the seed payloads', async () => {
  const hub = await startHub({ config: '[collab]\nbatch-threshold=0\n' });
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Seed shapes', '# PRD\n');
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    sockets.push(a, b);

    // §2.1 verbatim
    const joinedA = once(a, 'joined-prd');
    const ackA = await request(a, 'join-prd', { prdId, mode: 'edit' });
    const { args: [ja] } = await joinedA;
    assert.equal(ackA.ok, true);
    assert.equal(typeof ackA.siteId, 'number');
    assert.deepEqual(ackA.stateVector, ja.initialState.stateVector);
    assert.equal(ja.prdId, prdId);
    assert.equal(ja.initialState.content, '# PRD\n');
    assert.equal(ja.initialState.version, '0.1.0');
    assert.ok(Array.isArray(ja.initialState.stateVector));
    assert.equal(typeof ja.initialState.encodedState, 'string');
    assert.ok(Buffer.from(ja.initialState.encodedState, 'base64').length > 0);
    assert.equal(ja.siteId, ackA.siteId);
    assert.equal(ja.title, 'Seed shapes');
    assert.equal(ja.mode, 'edit');
    assert.equal(ja.activeUsers.length, 1);
    ja.activeUsers.forEach(assertUser);

    const userJoined = once(a, 'user-joined');
    const jb = await join(b, prdId);
    const { args: [uj] } = await userJoined;
    assert.equal(uj.prdId, prdId);
    assert.equal(uj.user.userId, 'user_b');
    assertUser(uj.user);
    assert.equal(jb.joined.activeUsers.length, 2);
    const colors = jb.joined.activeUsers.map((u) => u.color);
    assert.notEqual(colors[0], colors[1], 'colours are distinct among present users');
    assert.notEqual(jb.siteId, ackA.siteId);

    // §2.3 verbatim: the vector after the operation
    const received = once(b, 'content-update');
    const op = { type: 'insert', position: 6, content: 'New text content', timestamp: Date.now() };
    const after = bump(ackA.stateVector, ackA.siteId);
    const ack = await request(a, 'content-update', { prdId, operation: op, stateVector: after });
    assert.equal(ack.ok, true);
    assert.deepEqual(ack.stateVector, after);
    const { args: [cu] } = await received;
    assert.equal(cu.prdId, prdId);
    assert.equal(cu.userId, 'user_a');
    assert.equal(cu.userName, 'Name user_a');
    assert.equal(cu.operation.type, 'insert');
    assert.equal(cu.operation.position, 6);
    assert.equal(cu.operation.content, 'New text content');
    assert.equal(cu.operation.timestamp, op.timestamp);
    assert.deepEqual(cu.stateVector, after);

    // The same operation again: acknowledged as a duplicate, nothing else.
    const dup = await request(a, 'content-update', { prdId, operation: op, stateVector: after });
    assert.deepEqual(dup, { ok: true, stateVector: after, duplicate: true });
    // Another operation under the same id: refused, nothing applied.
    for (const other of [{ ...op, content: 'Other text' }, { type: 'delete', position: 0, length: 16 }]) {
      const reusedError = once(a, 'error');
      const reused = await request(a, 'content-update', { prdId, operation: other, stateVector: after });
      assert.equal(reused.error.code, 'OPERATION_ID_REUSED');
      assertErrorShape((await reusedError).args[0], 'OPERATION_ID_REUSED', 'content-update');
    }

    // A gap: refused with INVALID_OPERATION (ack + error event)
    const gapError = once(a, 'error');
    const gap = await request(a, 'content-update', {
      prdId, operation: op, stateVector: bump(bump(after, ackA.siteId), ackA.siteId),
    });
    assert.equal(gap.error.code, 'INVALID_OPERATION');
    assertErrorShape((await gapError).args[0], 'INVALID_OPERATION', 'content-update');

    // Delete from b, at b's vector (which has a's insert through the broadcast)
    const del = once(a, 'content-update');
    const bAfter = bump(cu.stateVector, jb.siteId);
    const delAck = await request(b, 'content-update', {
      prdId, operation: { type: 'delete', position: 0, length: 2, timestamp: Date.now() },
      stateVector: bAfter,
    });
    assert.equal(delAck.ok, true);
    const { args: [dcu] } = await del;
    assert.equal(dcu.operation.type, 'delete');
    assert.equal(dcu.operation.length, 2);

    // §2.4 sync from nothing: every operation in causal order
    const syncResp = once(b, 'sync-response');
    await request(b, 'sync-request', { prdId, stateVector: [0] });
    const { args: [sr] } = await syncResp;
    assert.equal(sr.prdId, prdId);
    assert.equal(sr.full, false);
    assert.equal(sr.missingUpdates.length, 3);
    for (const m of sr.missingUpdates) {
      assert.equal(typeof m.userId, 'string');
      assert.equal(typeof m.timestamp, 'number');
      assert.ok(['insert', 'delete'].includes(m.operation.type));
    }
    assert.deepEqual(sr.missingUpdates.map((m) => m.userId), ['hub', 'user_a', 'user_b']);
    assert.deepEqual(sr.stateVector, delAck.stateVector);

    // A vector the hub cannot serve: the full state, flagged.
    const fullResp = once(b, 'sync-response');
    await request(b, 'sync-request', { prdId, stateVector: [9, 9, 9, 9] });
    const { args: [fr] } = await fullResp;
    assert.equal(fr.full, true);
    assert.deepEqual(fr.missingUpdates, []);
    assert.equal(fr.fullState.content, 'PRD\nNew text content');
    assert.equal(typeof fr.fullState.encodedState, 'string');
    // Full syncs between two edits share one answer (built once per version).
    const fullAgain = once(b, 'sync-response');
    const fullAck = await request(b, 'sync-request', { prdId, stateVector: [9, 9, 9, 9] });
    assert.deepEqual((await fullAgain).args[0], fr);
    assert.deepEqual(fullAck, { ok: true, stateVector: fr.stateVector, full: true });

    // REST reads of an open PRD answer the room's committed text and vector.
    const read = await rest(hub, 'GET', `/api/prds/${prdId}`);
    assert.equal(read.status, 200, read.text);
    assert.equal(read.json.content, 'PRD\nNew text content');
    assert.deepEqual(read.json.stateVector, delAck.stateVector);
    const exported = await rest(hub, 'GET', `/api/prds/${prdId}/export.md`);
    assert.equal(exported.text, 'PRD\nNew text content');
    const outsider = await rest(hub, 'GET', `/api/prds/${prdId}`, { tok: token(user('x', { org: 'org_other' })) });
    assert.equal(outsider.status, 404, outsider.text);
    assert.equal(outsider.json.code, 'PRD_NOT_FOUND');

    // §3.1 / §3.2
    const pres = once(b, 'presence-update');
    const pack = await request(a, 'presence-update', {
      prdId, status: 'editing', cursorPosition: 5, selection: { start: 2, end: 5 },
    });
    assert.equal(pack.ok, true);
    const { args: [p] } = await pres;
    assert.equal(p.prdId, prdId);
    assert.equal(p.userId, 'user_a');
    assert.equal(p.userName, 'Name user_a');
    assert.equal(p.avatar, 'https://avatar.invalid/user_a.png');
    assert.equal(p.status, 'editing');
    assert.equal(p.cursorPosition, 5);
    assert.deepEqual(p.selection, { start: 2, end: 5 });
    assert.match(p.color, COLOR_RE);
    assert.equal(typeof p.timestamp, 'number');

    // §2.2 leave: others see user-left at once, the leaver gets an ack.
    const left = once(b, 'user-left');
    assert.deepEqual(await request(a, 'leave-prd', { prdId }), { ok: true });
    const { args: [ul] } = await left;
    assert.deepEqual(ul, { prdId, userId: 'user_a', name: 'Name user_a' });
    const notJoined = await request(a, 'presence-update', { prdId, status: 'viewing' });
    assert.equal(notJoined.error.code, 'NOT_JOINED');

    // Presence cleanup on disconnect: no ghost user for the next joiner.
    const left2 = once(a, 'user-left');
    await join(a, prdId);
    b.close();
    const { args: [ul2] } = await left2;
    assert.equal(ul2.userId, 'user_b');
    const c = await client(hub, user('user_c'));
    sockets.push(c);
    const jc = await join(c, prdId);
    assert.deepEqual(jc.joined.activeUsers.map((u) => u.userId).sort(), ['user_a', 'user_c']);
    assert.equal(jc.joined.initialState.content, 'PRD\nNew text content');
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

// A room shares one initialState among the joins between two edits: every
// edit and every new version must still show in the next join.
test('each join gets the current initialState: after an edit, after a version', async () => {
  const hub = await startHub();
  const sockets = [];
  const joinAs = async (name, extra) => {
    const s = await client(hub, user(name, extra));
    sockets.push(s);
    return [s, await join(s, prdId)];
  };
  let prdId;
  try {
    prdId = await createPrd(hub, 'Shared state', 'abc "q"\n');
    const [a, ja] = await joinAs('user_a', { role: 'admin' });
    const [, jb] = await joinAs('user_b');
    assert.deepEqual(jb.joined.initialState, ja.joined.initialState);
    assert.equal(jb.joined.initialState.content, 'abc "q"\n');
    assert.equal(jb.joined.prdId, prdId);
    assert.equal(jb.joined.title, 'Shared state');

    const ack = await request(a, 'content-update', {
      prdId, operation: { type: 'insert', position: 0, content: 'X' },
      stateVector: bump(ja.vector, ja.siteId),
    });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    const [, jc] = await joinAs('user_c');
    assert.equal(jc.joined.initialState.content, 'Xabc "q"\n');
    assert.deepEqual(jc.joined.initialState.stateVector, bump(ja.vector, ja.siteId));
    assert.notEqual(jc.joined.initialState.encodedState, jb.joined.initialState.encodedState);

    const v = await request(a, 'create-version', { prdId, changelog: 'First', versionType: 'minor' });
    assert.equal(v.ok, true, JSON.stringify(v));
    const [, jd] = await joinAs('user_d');
    assert.equal(jd.joined.initialState.version, v.version.version);
    assert.notEqual(jd.joined.initialState.version, jc.joined.initialState.version);
    assert.equal(jd.joined.initialState.content, 'Xabc "q"\n');
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

// A room's document is rebuilt from the store on a worker thread: a stored
// state that cannot be read fails the joins waiting for it with a clear error,
// and nothing else.
test('a PRD whose stored state is damaged fails its joins; other rooms open', async () => {
  const hub = await startHub({ config: '[collab]\nempty-room-grace = 0\n' });
  const sockets = [];
  try {
    const damaged = await createPrd(hub, 'Damaged', 'some text\n');
    const fine = await createPrd(hub, 'Fine', 'other text\n');
    const py = spawn('/usr/bin/python3', ['-c',
      'import sqlite3,sys\n' +
      'c=sqlite3.connect(sys.argv[1],timeout=10,isolation_level=None)\n' +
      'n=c.execute("UPDATE prd_snapshots SET state=x\'0badc0de0badc0de\' WHERE prd_id=?",(sys.argv[2],)).rowcount\n' +
      'n+=c.execute("UPDATE prd_updates SET payload=x\'0badc0de\' WHERE prd_id=?",(sys.argv[2],)).rowcount\n' +
      'print(n)\n',
      path.join(hub.dataDir, 'prdhub.db'), damaged], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    py.stdout.on('data', (d) => { out += d; });
    assert.equal(await new Promise((resolve) => py.on('exit', resolve)), 0);
    assert.ok(Number(out) > 0, `rows changed: ${out}`);

    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    sockets.push(a, b);
    const acks = await Promise.all([a, b].map((s) =>
      request(s, 'join-prd', { prdId: damaged, mode: 'edit' })));
    for (const ack of acks) {
      assert.equal(typeof ack.error?.code, 'string', JSON.stringify(ack));
      assert.ok(ack.error.message.length > 0);
    }
    const j = await join(a, fine);
    assert.equal(j.joined.initialState.content, 'other text\n');
    const res = await rest(hub, 'GET', '/healthz', { tok: null });
    assert.equal(res.status, 200);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('a second tab of a user is announced once and leaves once', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Tabs');
    const watcher = await client(hub, user('user_w'));
    const tab1 = await client(hub, user('user_t'));
    const tab2 = await client(hub, user('user_t'));
    sockets.push(watcher, tab1, tab2);
    await join(watcher, prdId);
    const events = recorder(watcher, ['user-joined', 'user-left']);
    const j1 = await join(tab1, prdId);
    const j2 = await join(tab2, prdId);
    assert.notEqual(j1.siteId, j2.siteId, 'two live tabs never share a site');
    await request(watcher, 'presence-update', { prdId, status: 'viewing' });
    assert.deepEqual(events.map((e) => e.event), ['user-joined']);
    tab1.close();
    await request(watcher, 'presence-update', { prdId, status: 'viewing' });
    assert.deepEqual(events.map((e) => e.event), ['user-joined']);
    tab2.close();
    await until(watcher, () => events.length === 2);
    assert.equal(events[1].event, 'user-left');
    assert.equal(events[1].data.userId, 'user_t');
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('a leave-prd sent right after join-prd leaves: the join is cancelled or answered first', async () => {
  const hub = await startHub();
  const s = await client(hub, user('user_quick'));
  try {
    for (const mode of ['edit', 'view', 'edit', 'view']) {
      const prdId = await createPrd(hub, `Quick ${mode}`);
      const order = [];
      const joined = request(s, 'join-prd', { prdId, mode }).then((a) => { order.push('join'); return a; });
      const left = request(s, 'leave-prd', { prdId }).then((a) => { order.push('leave'); return a; });
      const [joinAck, leaveAck] = await Promise.all([joined, left]);
      assert.deepEqual(order, ['join', 'leave']);
      if (joinAck.error) assert.equal(joinAck.error.code, 'CANCELLED', JSON.stringify(joinAck));
      assert.deepEqual(leaveAck, { ok: true });
      // Not a member: neither for its own requests nor for the others.
      const sync = await request(s, 'sync-request', { prdId, stateVector: [] });
      assert.equal(sync.error?.code, 'NOT_JOINED', JSON.stringify(sync));
      await untilLeft(hub, prdId, 'user_quick');
    }
  } finally {
    s.close();
    await hub.stop();
  }
});

test('a tab that leaves takes its cursor and status with it while the user stays', async () => {
  const hub = await startHub({ config: '[collab]\nbatch-threshold=0\n' });
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Tab cursors', '# PRD\nhello world\n');
    const watcher = await client(hub, user('user_w'));
    const tab1 = await client(hub, user('user_t'));
    const tab2 = await client(hub, user('user_t'));
    sockets.push(watcher, tab1, tab2);
    await join(watcher, prdId);
    await join(tab1, prdId);
    await join(tab2, prdId);
    const events = recorder(watcher, ['presence-update', 'user-left']);
    const statusOfT = async () => (await rest(hub, 'GET', `/api/presence?prdIds=${prdId}`,
      { tok: token(user('user_w')) })).json.prds[prdId].find((u) => u.userId === 'user_t').status;
    await request(tab1, 'presence-update', { prdId, status: 'editing', cursorPosition: 3 });
    await request(tab2, 'presence-update', { prdId, status: 'viewing', cursorPosition: 9 });
    await until(watcher, () => events.length === 2);
    assert.equal(events[1].data.cursorPosition, 9);
    assert.equal(events[1].data.status, 'viewing');
    // The user is shown with the tab that changed last.
    assert.equal(await statusOfT(), 'viewing');
    tab2.close();
    await until(watcher, () => events.length === 3);
    assert.equal(events[2].event, 'presence-update', 'no user-left: the user is still there');
    assert.equal(events[2].data.userId, 'user_t');
    assert.equal(events[2].data.cursorPosition, 3, 'the remaining tab\'s cursor');
    assert.equal(events[2].data.status, 'editing', 'the remaining tab\'s status');
    assert.ok(events[2].data.timestamp >= events[1].data.timestamp);
    assert.equal(await statusOfT(), 'editing');
    const late = await client(hub, user('user_l'));
    sockets.push(late);
    const { joined } = await join(late, prdId);
    assert.equal(joined.activeUsers.find((u) => u.userId === 'user_t').status, 'editing');
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

// Holds the write lock of a hub's database (a second writer, as another
// process would), so that the hub's operations wait for the store: they are
// integrated, not yet committed nor broadcast, until release() is awaited.
async function lockDatabase(hub) {
  const proc = spawn('/usr/bin/python3', ['-c',
    'import sqlite3,sys\n' +
    'c=sqlite3.connect(sys.argv[1],timeout=10,isolation_level=None)\n' +
    'c.execute("BEGIN IMMEDIATE")\nprint("locked",flush=True)\n' +
    'sys.stdin.readline()\nc.execute("COMMIT")\nc.close()\n',
    path.join(hub.dataDir, 'prdhub.db')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  await new Promise((resolve, reject) => {
    proc.stdout.on('data', (d) => { if (String(d).includes('locked')) resolve(); });
    exited.then((code) => reject(new Error(`python3 exited with ${code} before locking`)));
  });
  return {
    async release() {
      proc.stdin.end('\n');
      assert.equal(await exited, 0);
    },
  };
}

// The length of a watcher's text, following the content-updates (single or
// batched) it receives, and every presence relay it gets with the length
// its text had then.
function followText(socket, initial) {
  const seen = { length: initial.length, presence: [] };
  const content = (d) => {
    seen.length += d.operation.type === 'insert' ? d.operation.content.length : -d.operation.length;
  };
  const presence = (d, batched) => seen.presence.push({ ...d, batched, textLength: seen.length });
  socket.on('content-update', content);
  socket.on('presence-update', (d) => presence(d, false));
  socket.on('batch-update', (b) => {
    for (const u of b.updates) {
      if (u.type === 'content-update') content(u);
      else if (u.type === 'presence-update') presence(u, true);
    }
  });
  return seen;
}

test('presence relays positions in the text the room has been sent, not in edits being stored', async () => {
  const hub = await startHub({ config: '[collab]\nbatch-threshold=0\n' });
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Presence order', 'abc');
    const watcher = await client(hub, user('user_w'));
    const tab1 = await client(hub, user('user_a'));
    const tab2 = await client(hub, user('user_a'));
    const editor = await client(hub, user('user_b'));
    sockets.push(watcher, tab1, tab2, editor);
    const { joined } = await join(watcher, prdId);
    await join(tab1, prdId);
    await join(tab2, prdId);
    const { siteId, vector } = await join(editor, prdId);
    const seen = followText(watcher, joined.initialState.content);
    const big = 'x'.repeat(20000);

    const lock = await lockDatabase(hub);
    let stored;
    try {
      // Integrated by the hub (the ack of the editor's next event says so)
      // but waiting for the store: nobody has it yet.
      stored = request(editor, 'content-update', {
        prdId, operation: { type: 'insert', position: 0, content: big, timestamp: Date.now() },
        stateVector: bump(vector, siteId),
      });
      assert.equal((await request(editor, 'presence-update', { prdId, status: 'editing', cursorPosition: 0 })).ok, true);
      // user_a's caret after "abc", in the text it has; then, from its other
      // tab, past the end (a client a few operations behind).
      assert.equal((await request(tab1, 'presence-update', { prdId, status: 'editing', cursorPosition: 3 })).ok, true);
      assert.equal((await request(tab2, 'presence-update', { prdId, status: 'editing', cursorPosition: 4294967295 })).ok, true);
      await until(watcher, () => seen.presence.filter((p) => p.userId === 'user_a').length === 2);
    } finally {
      await lock.release();
    }
    assert.equal((await stored).ok, true);
    await until(watcher, () => seen.length === big.length + 3);

    // The tab that changed last leaves: the watcher is told where the other
    // one is now, after the text the editor inserted before it.
    assert.equal((await request(tab2, 'leave-prd', { prdId })).ok, true);
    await until(watcher, () => seen.presence.filter((p) => p.userId === 'user_a').length === 3);

    const relays = seen.presence.filter((p) => p.userId === 'user_a');
    assert.deepEqual(relays.map((p) => [p.cursorPosition, p.textLength]),
      [[3, 3], [3, 3], [big.length + 3, big.length + 3]]);
    for (const p of seen.presence) assert.ok(p.cursorPosition <= p.textLength, JSON.stringify(p));
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('batched presence is resolved in the text the batch leaves, not in edits being stored', async () => {
  const hub = await startHub({ config: '[collab]\nbatch-threshold=1\nbatch-interval=50\n' });
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Presence order', 'abc');
    const watcher = await client(hub, user('user_w'));
    const author = await client(hub, user('user_a'));
    const editor = await client(hub, user('user_b'));
    sockets.push(watcher, author, editor);
    const { joined } = await join(watcher, prdId);
    await join(author, prdId);
    const { siteId, vector } = await join(editor, prdId);
    const seen = followText(watcher, joined.initialState.content);
    const big = 'x'.repeat(20000);

    const lock = await lockDatabase(hub);
    let stored;
    try {
      stored = request(editor, 'content-update', {
        prdId, operation: { type: 'insert', position: 0, content: big, timestamp: Date.now() },
        stateVector: bump(vector, siteId),
      });
      assert.equal((await request(editor, 'presence-update', { prdId, status: 'editing', cursorPosition: 0 })).ok, true);
      // Above the threshold (one relay a second): these wait for the batch,
      // which leaves while the insert is still being stored.
      const acks = [];
      for (let i = 0; i < 3; i++)
        acks.push(request(editor, 'presence-update', { prdId, status: 'editing', cursorPosition: 0 }));
      acks.push(request(author, 'presence-update', { prdId, status: 'editing', cursorPosition: 4294967295 }));
      for (const r of await Promise.all(acks)) assert.equal(r.ok, true);
      await until(watcher, () => seen.presence.some((p) => p.userId === 'user_a'));
    } finally {
      await lock.release();
    }
    assert.equal((await stored).ok, true);
    await until(watcher, () => seen.length === big.length + 3);

    const relay = seen.presence.find((p) => p.userId === 'user_a');
    assert.equal(relay.batched, true);
    assert.equal(relay.cursorPosition, 3);
    for (const p of seen.presence) assert.ok(p.cursorPosition <= p.textLength, JSON.stringify(p));
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('viewers join in view mode only and cannot change content', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Viewer', 'text');
    const viewer = await client(hub, user('user_v', { role: 'viewer' }));
    sockets.push(viewer);
    const errEvent = once(viewer, 'error');
    const refused = await request(viewer, 'join-prd', { prdId, mode: 'edit' });
    assert.equal(refused.error.code, 'FORBIDDEN');
    assertErrorShape((await errEvent).args[0], 'FORBIDDEN', 'join-prd');

    const joined = once(viewer, 'joined-prd');
    const ack = await request(viewer, 'join-prd', { prdId });
    assert.equal(ack.ok, true);
    assert.equal(ack.siteId, undefined);
    const { args: [jv] } = await joined;
    assert.equal(jv.mode, 'view');
    assert.equal(jv.siteId, undefined);

    const cuError = once(viewer, 'error');
    const cu = await request(viewer, 'content-update', {
      prdId,
      operation: { type: 'insert', position: 0, content: 'x', timestamp: Date.now() },
      stateVector: [1, 1],
    });
    assert.equal(cu.error.code, 'FORBIDDEN');
    assertErrorShape((await cuError).args[0], 'FORBIDDEN', 'content-update');
    const page = await rest(hub, 'GET', `/api/prds/${prdId}`);
    assert.equal(page.json.content, 'text', 'a refused update changes nothing');

    // An editor who joined in view mode is refused the same way.
    const editor = await client(hub, user('user_e'));
    sockets.push(editor);
    const { ack: eack } = await join(editor, prdId, { mode: 'view' });
    const r = await request(editor, 'content-update', {
      prdId,
      operation: { type: 'insert', position: 0, content: 'x', timestamp: Date.now() },
      stateVector: [1, 1],
    });
    assert.equal(eack.siteId, undefined);
    assert.equal(r.error.code, 'FORBIDDEN');
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('organizations are isolated over Socket.IO and REST', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Org A', 'secret', user('user_a', { org: 'org_a' }));
    const outsider = await client(hub, user('user_x', { org: 'org_b' }));
    sockets.push(outsider);
    const foreign = await request(outsider, 'join-prd', { prdId, mode: 'edit' });
    const unknown = await request(outsider, 'join-prd', { prdId: 'prd_doesnotexist', mode: 'edit' });
    assert.equal(foreign.error.code, 'PRD_NOT_FOUND');
    assert.equal(unknown.error.code, 'PRD_NOT_FOUND');
    const tokB = token(user('user_x', { org: 'org_b' }));
    assert.equal((await rest(hub, 'GET', `/api/prds/${prdId}`, { tok: tokB })).status, 404);
    assert.equal((await rest(hub, 'GET', `/api/prds/${prdId}/export.md`, { tok: tokB })).status, 404);
    const list = await rest(hub, 'GET', '/api/prds', { tok: tokB });
    assert.deepEqual(list.json.prds, []);
    const own = await rest(hub, 'GET', '/api/prds', { tok: token(user('user_a', { org: 'org_a' })) });
    assert.deepEqual(own.json.prds.map((p) => p.id), [prdId]);

    // Another organization's PRD and an id nobody has read the same, code
    // and message: nobody learns which ids exist elsewhere.
    const admin = await client(hub, user('user_y', { org: 'org_b', role: 'admin' }));
    sockets.push(admin);
    const tokAdmin = token(user('user_y', { org: 'org_b', role: 'admin' }));
    const unknownId = 'prd_doesnotexist';
    const same = (what, foreignError, unknownError) => {
      assert.equal(foreignError?.code, 'PRD_NOT_FOUND', what);
      assert.equal(foreignError.message.replaceAll(prdId, 'ID'),
        unknownError.message.replaceAll(unknownId, 'ID'), what);
      assert.equal(unknownError.code, 'PRD_NOT_FOUND', what);
    };
    for (const [event, extra] of [['join-prd', { mode: 'edit' }], ['approve-prd', {}],
      ['create-version', { changelog: 'x', versionType: 'patch' }], ['jira-sync', { syncType: 'export' }]]) {
      const f = await request(admin, event, { prdId, ...extra });
      const u = await request(admin, event, { prdId: unknownId, ...extra });
      same(event, f.error, u.error);
    }
    for (const [method, suffix, body] of [['GET', ''], ['GET', '/export.md'], ['GET', '/versions'],
      ['GET', '/comments'], ['PATCH', '', { title: 'Mine' }], ['DELETE', ''],
      ['POST', '/versions', { changelog: 'x', versionType: 'patch' }]]) {
      const f = await rest(hub, method, `/api/prds/${prdId}${suffix}`, { tok: tokAdmin, body });
      const u = await rest(hub, method, `/api/prds/${unknownId}${suffix}`, { tok: tokAdmin, body });
      assert.equal(f.status, 404, `${method} ${suffix}`);
      assert.equal(u.status, 404, `${method} ${suffix}`);
      same(`${method} ${suffix}`, f.json, u.json);
    }
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

// The rooms in memory, as D-Bus `OpenPrds` shows them (empty ones too).
async function openPrds(address) {
  const { stdout } = await execFileP('gdbus', ['call', '--address', address, '--dest',
    'org.prdtool.Hub', '--object-path', '/org/prdtool/Hub', '--method',
    'org.freedesktop.DBus.Properties.Get', 'org.prdtool.Hub1', 'OpenPrds']);
  return Number(/uint32 (\d+)/.exec(stdout)[1]);
}

test('a join of another organization\'s PRD opens no room and keeps none', async () => {
  // A private session bus: D-Bus OpenPrds counts the rooms in memory.
  const bus = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1'],
    { stdio: ['ignore', 'pipe', 'ignore'] });
  const address = (await new Promise((resolve, reject) => {
    bus.stdout.once('data', (d) => resolve(String(d)));
    bus.once('error', reject);
  })).trim().split('\n')[0];
  // Refused rooms used to wait out the grace period: make it long.
  const hub = await startHub({ config: '[collab]\nempty-room-grace=3600\n',
    env: { DBUS_SESSION_BUS_ADDRESS: address } });
  const sockets = [];
  try {
    const orgA = user('user_a', { org: 'org_a' });
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await createPrd(hub, `Org A ${i}`, `secret ${i}`, orgA));
    const outsider = await client(hub, user('user_x', { org: 'org_b' }));
    const owner = await client(hub, orgA);
    sockets.push(outsider, owner);
    const unknownId = 'prd_doesnotexist';
    const unknown = await request(outsider, 'join-prd', { prdId: unknownId, mode: 'view' });
    assert.equal(unknown.error.code, 'PRD_NOT_FOUND');
    const sameAsUnknown = (prdId, answer, what) => {
      assert.equal(answer.error?.code, 'PRD_NOT_FOUND', what);
      assert.equal(answer.error.message.replaceAll(prdId, 'ID'),
        unknown.error.message.replaceAll(unknownId, 'ID'), what);
    };
    // Twice each: the second finds no room of the first left behind.
    for (const prdId of ids.slice(0, 2))
      for (const round of [1, 2])
        sameAsUnknown(prdId, await request(outsider, 'join-prd', { prdId, mode: 'view' }),
          `${prdId} round ${round}`);
    // Joins of both organizations at once: the owner's organization still
    // gets its PRD, the other does not.
    const [foreign, own] = await Promise.all([
      request(outsider, 'join-prd', { prdId: ids[2], mode: 'view' }),
      request(owner, 'join-prd', { prdId: ids[2], mode: 'view' }),
    ]);
    sameAsUnknown(ids[2], foreign, 'joined at the same time');
    assert.equal(own.ok, true, JSON.stringify(own));
    // The only room in memory is the one org_a joined.
    const deadline = Date.now() + 10000;
    let rooms;
    while ((rooms = await openPrds(address).catch(() => -1)) !== 1 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    assert.equal(rooms, 1, 'D-Bus OpenPrds: only org_a\'s joined PRD is open');
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
    bus.kill('SIGTERM');
  }
});

test('presence goes out one by one below the batch threshold', async () => {
  const hub = await startHub({ config: '[collab]\nbatch-threshold=1000\n' });
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'No batching', 'abcdef');
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    sockets.push(a, b);
    await join(a, prdId);
    await join(b, prdId);
    const events = recorder(b, ['presence-update', 'batch-update']);
    for (let i = 0; i < 5; i++)
      await request(a, 'presence-update', { prdId, status: 'editing', cursorPosition: i });
    await until(b, () => events.length === 5);
    assert.deepEqual(events.map((e) => e.event), Array(5).fill('presence-update'));
    assert.deepEqual(events.map((e) => e.data.cursorPosition), [0, 1, 2, 3, 4]);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('above the threshold presence is coalesced and content keeps its order', async () => {
  const hub = await startHub({ config: '[collab]\nbatch-threshold=2\nbatch-interval=200\n' });
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Batching', 'abcdef');
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    sockets.push(a, b);
    const { siteId, vector } = await join(a, prdId);
    await join(b, prdId);
    const events = recorder(b, ['presence-update', 'batch-update', 'content-update']);
    // Fire without waiting, so that they land within one batch interval.
    const acks = [];
    let v = vector;
    for (let i = 0; i < 6; i++) {
      acks.push(request(a, 'presence-update', { prdId, status: 'editing', cursorPosition: i }));
      v = bump(v, siteId);
      acks.push(request(a, 'content-update', {
        prdId, operation: { type: 'insert', position: 0, content: String(i), timestamp: Date.now() },
        stateVector: v,
      }));
    }
    for (const r of await Promise.all(acks)) assert.equal(r.ok, true);
    await until(b, () => {
      const batches = events.filter((e) => e.event === 'batch-update');
      const contents = events.filter((e) => e.event === 'content-update').length +
        batches.reduce((n, e) => n + e.data.updates.filter((u) => u.type === 'content-update').length, 0);
      return contents === 6;
    });
    const batches = events.filter((e) => e.event === 'batch-update');
    assert.ok(batches.length >= 1, 'at least one batch-update');
    for (const { data } of batches) {
      assert.equal(data.prdId, prdId);
      assert.equal(typeof data.batchId, 'string');
      assert.ok(!Number.isNaN(Date.parse(data.timestamp)));
      assert.ok(Array.isArray(data.updates) && data.updates.length > 0);
      const presence = data.updates.filter((u) => u.type === 'presence-update');
      assert.ok(presence.length <= 1, 'presence coalesced per user within a batch');
      for (const u of presence) {
        assert.equal(u.userId, 'user_a');
        assert.equal(u.prdId, prdId);
      }
    }
    // Content updates, single or batched, arrive in the order they were sent.
    const order = [];
    for (const e of events) {
      if (e.event === 'content-update') order.push(e.data.operation.content);
      if (e.event === 'batch-update')
        for (const u of e.data.updates) if (u.type === 'content-update') order.push(u.operation.content);
    }
    assert.deepEqual(order, ['0', '1', '2', '3', '4', '5']);
    const page = await rest(hub, 'GET', `/api/prds/${prdId}`);
    assert.equal(page.json.content, '543210abcdef');
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('a batch whose presence belongs to a member who has left since is sent without it', async () => {
  const hub = await startHub({ config: '[collab]\nbatch-threshold=1\nbatch-interval=300\n' });
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Batching', 'abcdef');
    const a = await client(hub, user('user_a'));
    const b = await client(hub, user('user_b'));
    sockets.push(a, b);
    await join(a, prdId);
    await join(b, prdId);
    const events = recorder(b, ['presence-update', 'batch-update', 'user-left']);
    // Above the threshold: a's presence waits for the batch; a leaves first.
    const acks = [];
    for (let i = 0; i < 4; i++) acks.push(request(a, 'presence-update', { prdId, status: 'editing', cursorPosition: i }));
    for (const r of await Promise.all(acks)) assert.equal(r.ok, true);
    assert.equal((await request(a, 'leave-prd', { prdId })).ok, true);
    await until(b, () => events.some((e) => e.event === 'user-left'));
    await new Promise((resolve) => setTimeout(resolve, 600)); // past the batch interval
    for (const { data } of events.filter((e) => e.event === 'batch-update'))
      assert.ok(!data.updates.some((u) => u.type === 'presence-update' && u.userId === 'user_a'));
    assert.doesNotMatch(hub.stderr(), /CRITICAL/);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('REST: create, read, export, list, and every error status', async () => {
  const hub = await startHub();
  try {
    assert.deepEqual((await rest(hub, 'GET', '/healthz', { tok: null })).json, { status: 'ok' });

    const created = await rest(hub, 'POST', '/api/prds', {
      body: { title: 'REST PRD', content: '# Goals\n\n- 😀 emoji\n' },
    });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('location'), `/api/prds/${created.json.id}`);
    assert.match(created.json.id, /^prd_[A-Za-z0-9_-]+$/);
    assert.equal(created.json.version, '0.1.0');

    const page = await rest(hub, 'GET', `/api/prds/${created.json.id}`);
    assert.equal(page.status, 200);
    assert.equal(page.json.content, '# Goals\n\n- 😀 emoji\n');
    assert.equal(page.json.version, '0.1.0');
    assert.ok(Array.isArray(page.json.stateVector));
    assert.ok(!Number.isNaN(Date.parse(page.json.updatedAt)));

    const md = await rest(hub, 'GET', `/api/prds/${created.json.id}/export.md`);
    assert.equal(md.status, 200);
    assert.match(md.headers.get('content-type'), /^text\/markdown/);
    assert.equal(md.text, '# Goals\n\n- 😀 emoji\n');

    const empty = await rest(hub, 'POST', '/api/prds', { body: { title: 'Empty' } });
    assert.equal(empty.status, 201);
    const list = await rest(hub, 'GET', '/api/prds');
    assert.deepEqual(list.json.prds.map((p) => p.id).sort(),
      [created.json.id, empty.json.id].sort());

    const check = async (res, status, code) => {
      const r = await res;
      assert.equal(r.status, status, r.text);
      assert.equal(r.json.code, code, r.text);
      assert.equal(typeof r.json.message, 'string');
    };
    await check(rest(hub, 'GET', '/api/prds', { tok: null }), 401, 'AUTHENTICATION_FAILED');
    await check(rest(hub, 'GET', '/api/prds', { tok: 'not.a.jwt' }), 401, 'AUTHENTICATION_FAILED');
    await check(rest(hub, 'POST', '/api/prds', {
      body: { title: 'x' }, tok: token(user('user_v', { role: 'viewer' })),
    }), 403, 'FORBIDDEN');
    await check(rest(hub, 'POST', '/api/prds', { raw: '{not json', headers: { 'content-type': 'application/json' } }), 400, 'INVALID_PAYLOAD');
    await check(rest(hub, 'POST', '/api/prds', { body: [1, 2] }), 400, 'INVALID_PAYLOAD');
    await check(rest(hub, 'POST', '/api/prds', { body: { title: 42 } }), 400, 'INVALID_PAYLOAD');
    await check(rest(hub, 'POST', '/api/prds', { body: { title: '' } }), 400, 'INVALID_PAYLOAD');
    await check(rest(hub, 'POST', '/api/prds', { body: { title: 'x', content: 5 } }), 400, 'INVALID_PAYLOAD');
    await check(rest(hub, 'POST', '/api/prds', {
      body: { title: 'big', content: 'x'.repeat(3 * 1024 * 1024) },
    }), 413, 'PAYLOAD_TOO_LARGE');
    await check(rest(hub, 'GET', '/api/prds/prd_unknown'), 404, 'PRD_NOT_FOUND');
    await check(rest(hub, 'GET', '/api/prds/prd_bad%27id'), 400, 'INVALID_ID');
    await check(rest(hub, 'GET', '/api/prds/notaprd'), 400, 'INVALID_ID');
  } finally {
    await hub.stop();
  }
});

test('sites: a rejoining client gets its site back; a reused site is a conflict', async () => {
  const hub = await startHub();
  const sockets = [];
  try {
    const prdId = await createPrd(hub, 'Sites', 'abc');
    const a = await client(hub, user('user_a'));
    sockets.push(a);
    const ja = await join(a, prdId);
    const v = bump(ja.vector, ja.siteId);
    const ack = await request(a, 'content-update', {
      prdId, operation: { type: 'insert', position: 3, content: 'd', timestamp: Date.now() },
      stateVector: v,
    });
    assert.equal(ack.ok, true);
    a.close();
    // Its site is free once the hub has seen the close, on a's connection.
    await untilLeft(hub, prdId, 'user_a');

    // Same user, no local state: the free site back, continuing its count.
    const a2 = await client(hub, user('user_a'));
    sockets.push(a2);
    const ja2 = await join(a2, prdId);
    assert.equal(ja2.siteId, ja.siteId);
    assert.equal(ja2.vector[ja.siteId], 1);
    assert.equal(ja2.joined.siteConflict, undefined);

    // Same user asking for its site by number (held by nobody after a2 leaves).
    a2.close();
    await untilLeft(hub, prdId, 'user_a');
    const a3 = await client(hub, user('user_a'));
    sockets.push(a3);
    const ja3 = await join(a3, prdId, { siteId: ja.siteId, stateVector: v });
    assert.equal(ja3.siteId, ja.siteId);
    assert.equal(ja3.joined.siteConflict, undefined);

    // Another user claiming that site with operations the hub never saw.
    const b = await client(hub, user('user_b'));
    sockets.push(b);
    const ahead = bump(bump(v, ja.siteId), ja.siteId);
    const jb = await join(b, prdId, { siteId: ja.siteId, stateVector: ahead });
    assert.notEqual(jb.siteId, ja.siteId);
    assert.equal(jb.joined.siteConflict.code, 'SITE_CONFLICT');
    assert.equal(jb.joined.siteConflict.previousSiteId, ja.siteId);
    assert.equal(typeof jb.joined.siteConflict.message, 'string');

    // Another user asking for it without local operations: just another site.
    const c = await client(hub, user('user_c'));
    sockets.push(c);
    const jc = await join(c, prdId, { siteId: ja.siteId });
    assert.notEqual(jc.siteId, ja.siteId);
    assert.equal(jc.joined.siteConflict, undefined);
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('replicaId: a site another replica wrote with is not given back to one with newer operations', async () => {
  const dataDir = tmpDir('prdhub-e2e-replica-');
  let hub = await startHub({ args: ['--data-dir', dataDir] });
  const sockets = [];
  const insert = async (s, prdId, siteId, vector, content) => {
    const v = bump(vector, siteId);
    const ack = await request(s, 'content-update', {
      prdId, operation: { type: 'insert', position: 0, content, timestamp: Date.now() }, stateVector: v,
    });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    return v;
  };
  const session = async (extra) => {
    const s = await client(hub, user('user_r'));
    sockets.push(s);
    return { s, j: await join(s, prdId, extra) };
  };
  const leave = async ({ s }) => {
    s.close();
    await untilLeft(hub, prdId, 'user_r');
  };
  let prdId;
  try {
    prdId = await createPrd(hub, 'Replicas', 'abc');
    // Replica A writes one operation, then goes; the operation it types
    // offline will be its number 2.
    const a = await session({ replicaId: 'replica-A' });
    const site = a.j.siteId;
    const va = await insert(a.s, prdId, site, a.j.vector, 'a');
    await leave(a);
    const offline = bump(va, site);

    // Replica B, with no local state, gets the free site and writes number 2.
    const b = await session({ replicaId: 'replica-B' });
    assert.equal(b.j.siteId, site);
    await insert(b.s, prdId, site, b.j.vector, 'b');
    await leave(b);

    // The record of who holds the site survives a restart.
    await hub.stop();
    hub = await startHub({ args: ['--data-dir', dataDir] });

    // A comes back with its offline operation number 2: another site, and a
    // conflict telling it to re-apply that operation there.
    const a2 = await session({ replicaId: 'replica-A', siteId: site, stateVector: offline });
    assert.notEqual(a2.j.siteId, site);
    assert.equal(a2.j.joined.siteConflict.code, 'SITE_CONFLICT');
    assert.equal(a2.j.joined.siteConflict.previousSiteId, site);
    await leave(a2);

    // A replica whose operations all came before B took the site over
    // continues it, and holds it from then on.
    const a3 = await session({ replicaId: 'replica-A', siteId: site, stateVector: va });
    assert.equal(a3.j.siteId, site);
    assert.equal(a3.j.joined.siteConflict, undefined);
    assert.equal(a3.j.vector[site], 2);
    const v3 = await insert(a3.s, prdId, site, a3.j.vector, 'c');
    await leave(a3);

    // B, back with operations past that point, is now the one refused.
    const b2 = await session({ replicaId: 'replica-B', siteId: site, stateVector: bump(v3, site) });
    assert.notEqual(b2.j.siteId, site);
    assert.equal(b2.j.joined.siteConflict.previousSiteId, site);
    await leave(b2);

    // A continues its own site with offline operations the hub lacks.
    const a4 = await session({ replicaId: 'replica-A', siteId: site, stateVector: bump(v3, site) });
    assert.equal(a4.j.siteId, site);
    assert.equal(a4.j.joined.siteConflict, undefined);
    await leave(a4);

    // A client that does not name its replica gets the site back as before.
    const c = await session({ siteId: site, stateVector: v3 });
    assert.equal(c.j.siteId, site);
    await leave(c);

    // pendingFrom: E writes operation 4 and goes, with operation 5 typed
    // offline; F takes the site and writes operation 5; G takes it and
    // writes nothing. E's operations all came before G's takeover, but F
    // took the id of E's unacknowledged one: E must not get the site back.
    const e = await session({ replicaId: 'replica-E' });
    assert.equal(e.j.siteId, site);
    const v4 = await insert(e.s, prdId, site, e.j.vector, 'e');
    await leave(e);
    for (const [replicaId, text] of [['replica-F', 'f'], ['replica-G', null]]) {
      const other = await session({ replicaId });
      assert.equal(other.j.siteId, site);
      if (text !== null) await insert(other.s, prdId, site, other.j.vector, text);
      await leave(other);
    }
    const e2 = await session({ replicaId: 'replica-E', siteId: site, stateVector: bump(v4, site), pendingFrom: 5 });
    assert.notEqual(e2.j.siteId, site);
    assert.equal(e2.j.joined.siteConflict.previousSiteId, site);
    await leave(e2);
    // With nothing unacknowledged (pendingFrom past its operations), a
    // replica continues the site whoever took it meanwhile.
    const e3 = await session({ replicaId: 'replica-E', siteId: site, stateVector: v4, pendingFrom: 5 });
    assert.equal(e3.j.siteId, site);
    assert.equal(e3.j.joined.siteConflict, undefined);
    await leave(e3);
    assert.equal((await rest(hub, 'GET', `/api/prds/${prdId}`)).json.content, 'fecbaabc');
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

test('a client that stops answering pings leaves: user-left, no ghost in activeUsers', async () => {
  // The pong deadline is long enough for a child process slowed by a loaded
  // machine to connect and join (a 300 ms one dropped it before its join, and
  // the watcher then waited for a user-joined that never came); it still ends
  // a stopped process within a few seconds.
  const hub = await startHub({ config: '[engine]\nping-interval=500\nping-timeout=3000\n' });
  const sockets = [];
  // A separate process we can freeze: its socket.io-client stops answering pings.
  const prdId = await createPrd(hub, 'Timeouts');
  const script = `
    import { io } from 'socket.io-client';
    const s = io(${JSON.stringify(hub.url + '/prds')}, {
      transports: ['websocket'], reconnection: false, auth: { token: ${JSON.stringify(token(user('user_frozen')))} } });
    s.on('joined-prd', () => console.log('joined'));
    s.on('connect', () => s.emit('join-prd', { prdId: ${JSON.stringify(prdId)}, mode: 'edit' }));
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: fileURLToPath(new URL('.', import.meta.url)), stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const watcher = await client(hub, user('user_watch'));
    sockets.push(watcher);
    await join(watcher, prdId);
    const joined = once(watcher, 'user-joined');
    await new Promise((resolve) => child.stdout.once('data', resolve));
    assert.equal((await joined).args[0].user.userId, 'user_frozen');

    const left = once(watcher, 'user-left');
    child.kill('SIGSTOP');
    const { args: [ul] } = await left;
    assert.equal(ul.userId, 'user_frozen');

    const late = await client(hub, user('user_late'));
    sockets.push(late);
    const jl = await join(late, prdId);
    assert.deepEqual(jl.joined.activeUsers.map((u) => u.userId).sort(), ['user_late', 'user_watch']);
  } finally {
    child.kill('SIGKILL');
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

// joined-prd carries the CRDT's whole encoded state, which keeps the PRD's
// history (deleted text included): a short text edited for long can outgrow
// a connection's write buffer. Such a join is refused with LIMIT_REACHED
// before anything changes, the socket stays connected and other PRDs still
// join; sent, it would have closed the connection without a word.
test('a join whose state outgrows the write buffer is refused LIMIT_REACHED, still connected', async () => {
  // The smallest write buffer a text of max-document-size fits in.
  const hub = await startHub({
    config: '[engine]\nmax-write-buffer = 65536\n[collab]\nmax-document-size = 10922\n',
  });
  const sockets = [];
  const connectAs = async (name) => {
    const s = await client(hub, user(name));
    sockets.push(s);
    return s;
  };
  try {
    const prdId = await createPrd(hub, 'Long history', 'short\n');
    const small = await createPrd(hub, 'Small', 'small\n');
    const a = await connectAs('user_a');
    const ja = await join(a, prdId);
    // 16 × 8000 random letters inserted and deleted: the text stays short,
    // the state keeps some 128,000 deleted characters (about 100 KB).
    let vector = ja.vector;
    for (let round = 0; round < 16; round++) {
      let text = '';
      for (let i = 0; i < 8000; i++) text += String.fromCharCode(97 + Math.floor(Math.random() * 26));
      for (const operation of [
        { type: 'insert', position: 0, content: text },
        { type: 'delete', position: 0, length: text.length },
      ]) {
        const ack = await request(a, 'content-update', {
          prdId, operation, stateVector: bump(vector, ja.siteId),
        });
        assert.equal(ack.ok, true, JSON.stringify(ack));
        vector = ack.stateVector;
      }
    }
    const heard = recorder(a, ['user-joined']);

    const b = await connectAs('user_b');
    let gone = null;
    b.on('disconnect', (reason) => { gone = reason; });
    const errors = recorder(b, ['error', 'joined-prd']);
    const ack = await request(b, 'join-prd', { prdId, mode: 'edit' });
    assert.equal(ack.error?.code, 'LIMIT_REACHED', JSON.stringify(ack));
    assert.match(ack.error.message, /\[engine\] max-write-buffer, 65536 bytes/);
    const size = Number(/state \((\d+) bytes/.exec(ack.error.message)?.[1]);
    assert.ok(size > 65536, ack.error.message);
    await until(b, () => errors.length > 0);
    assert.equal(errors[0].event, 'error');
    assertErrorShape(errors[0].data, 'LIMIT_REACHED', 'join-prd');

    // Still connected: another PRD joins, and this one changed nothing.
    const { joined } = await join(b, small);
    assert.equal(joined.initialState.content, 'small\n');
    assert.equal(gone, null);
    assert.ok(b.connected);
    assert.equal(errors.filter((e) => e.event === 'joined-prd').length, 1);
    const presence = await rest(hub, 'GET', `/api/presence?prdIds=${prdId}`);
    assert.deepEqual(presence.json.prds[prdId].map((u) => u.userId), ['user_a']);
    assert.deepEqual(heard, []);
    const left = await request(b, 'leave-prd', { prdId });
    assert.equal(left.error?.code, 'NOT_JOINED', JSON.stringify(left));
    // The operator is told once what to raise.
    await until(b, () => /join refused: prd=\S+ state=\d+ bytes.*raise max-write-buffer/.test(hub.stderr()));
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});

// The users present go into joined-prd too (a name of 256 bytes and an
// avatar of 2 KiB each, at most): a state that fits alone, beside a room of
// such users, is refused, not sent to overflow the buffer.
test('a join is refused when the state and the users present do not fit the write buffer', async () => {
  const hub = await startHub({
    config: '[engine]\nmax-write-buffer = 65536\n[collab]\nmax-document-size = 10922\n',
  });
  const sockets = [];
  const longUser = (sub) => user(sub, {
    name: ('N' + sub).padEnd(256, 'n'), avatar: (`https://a.invalid/${sub}/`).padEnd(2048, 'a'),
  });
  try {
    const prdId = await createPrd(hub, 'Crowded', 'short\n');
    const a = await client(hub, user('writer'));
    sockets.push(a);
    const ja = await join(a, prdId);
    // About 50 KB of state: 8 × 8,000 random letters inserted and deleted.
    let vector = ja.vector;
    for (let round = 0; round < 8; round++) {
      let text = '';
      for (let i = 0; i < 8000; i++) text += String.fromCharCode(97 + Math.floor(Math.random() * 26));
      for (const operation of [
        { type: 'insert', position: 0, content: text },
        { type: 'delete', position: 0, length: text.length },
      ]) {
        const ack = await request(a, 'content-update', { prdId, operation, stateVector: bump(vector, ja.siteId) });
        assert.equal(ack.ok, true, JSON.stringify(ack));
        vector = ack.stateVector;
      }
    }
    let refused = null;
    let lastMessage = '';
    for (let i = 0; i < 12 && refused === null; i++) {
      const s = await client(hub, longUser(`u${i}`));
      sockets.push(s);
      let gone = null;
      s.on('disconnect', (reason) => { gone = reason; });
      const ack = await request(s, 'join-prd', { prdId, mode: 'view' });
      assert.equal(gone, null, `user ${i} was disconnected instead of refused`);
      if (ack.error) {
        assert.equal(ack.error.code, 'LIMIT_REACHED', JSON.stringify(ack));
        assert.match(ack.error.message, /users present \(\d+ bytes\)/);
        lastMessage = ack.error.message;
        refused = i;
      }
    }
    assert.ok(refused !== null && refused > 0, `refused at ${refused}: ${lastMessage}`);
    assert.ok(sockets.every((s) => s.connected));
  } finally {
    for (const s of sockets) s.close();
    await hub.stop();
  }
});
