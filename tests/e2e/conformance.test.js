// SPDX-License-Identifier: GPL-3.0-or-later
//
// Socket.IO features the hub has no event for yet (binary attachments,
// acks carrying binaries, handshake auth on several namespaces), run against
// the sio layer's conformance server.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startConformance, connect, once, io, EVENT_TIMEOUT_MS } from './helpers/hub.js';

let srv;
before(async () => { srv = await startConformance(); });
after(async () => { await srv.stop(); });

const TRANSPORTS = {
  websocket: { transports: ['websocket'] },
  polling: { transports: ['polling'], upgrade: false },
  // engine.io-client's forceBase64: binaries go as "b<base64>" text.
  'websocket, base64': { transports: ['websocket'], forceBase64: true },
  'polling, base64': { transports: ['polling'], upgrade: false, forceBase64: true },
};

function bytes(n, seed) {
  return Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));
}

function assertSameArgs(got, want) {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) {
    if (Buffer.isBuffer(want[i])) {
      assert.ok(Buffer.isBuffer(got[i]) || got[i] instanceof ArrayBuffer, `arg ${i} is binary`);
      assert.deepEqual(Buffer.from(got[i]), want[i]);
    } else if (want[i] && typeof want[i] === 'object' && want[i].blob) {
      assert.equal(got[i].name, want[i].name);
      assert.deepEqual(Buffer.from(got[i].blob), want[i].blob);
      assert.deepEqual(Buffer.from(got[i].list[1]), want[i].list[1]);
      assert.equal(got[i].list[0], want[i].list[0]);
    } else {
      assert.deepEqual(got[i], want[i]);
    }
  }
}

for (const [name, opts] of Object.entries(TRANSPORTS)) {
  describe(`conformance over ${name}`, () => {
    for (const nsp of ['/', '/custom']) {
      test(`${nsp}: handshake auth is echoed back as 'auth'`, async () => {
        const auth = { token: 'abc', n: 1, nested: { ok: true } };
        const s = io(srv.url + nsp, { ...opts, auth, forceNew: true, reconnection: false });
        const { args } = await once(s, 'auth');
        assert.deepEqual(args[0], auth);
        assert.ok(s.connected);
        s.close();
      });
    }

    test('text message echo', async () => {
      const s = await connect(srv.url, opts);
      const back = once(s, 'message-back');
      const sent = [1, '2', { three: [3] }, null, true];
      s.emit('message', ...sent);
      assertSameArgs((await back).args, sent);
      s.close();
    });

    test('binary attachments round-trip, top-level and nested', async () => {
      const s = await connect(srv.url, opts, '/custom');
      const back = once(s, 'message-back');
      const sent = [bytes(1, 1), 'text', { name: 'doc', blob: bytes(300, 7), list: ['x', bytes(3, 9)] }];
      s.emit('message', ...sent);
      assertSameArgs((await back).args, sent);
      s.close();
    });

    test('an empty binary and a large binary round-trip', async () => {
      const s = await connect(srv.url, opts);
      const back = once(s, 'message-back');
      const sent = [Buffer.alloc(0), bytes(200000, 3)];
      s.emit('message', ...sent);
      assertSameArgs((await back).args, sent);
      s.close();
    });

    test('ack with binary arguments returns the same arguments', async () => {
      const s = await connect(srv.url, opts);
      const sent = [bytes(16, 5), { k: bytes(2, 1), v: 'w' }, 42];
      const got = await new Promise((resolve, reject) => {
        s.timeout(EVENT_TIMEOUT_MS).emit('message-with-ack', ...sent,
          (err, ...args) => (err ? reject(err) : resolve(args)));
      });
      assert.equal(got.length, 3);
      assert.deepEqual(Buffer.from(got[0]), sent[0]);
      assert.deepEqual(Buffer.from(got[1].k), sent[1].k);
      assert.equal(got[1].v, 'w');
      assert.equal(got[2], 42);
      s.close();
    });

    test('many acks interleaved keep their ids', async () => {
      const s = await connect(srv.url, opts, '/custom');
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => new Promise((resolve, reject) => {
        const second = i % 3 ? `s${i}` : bytes(i + 1, i);
        s.timeout(EVENT_TIMEOUT_MS).emit('message-with-ack', i, second,
          (err, ...args) => (err ? reject(err) : resolve({ i, second, args })));
      })));
      for (const { i, second, args } of results) {
        assert.equal(args[0], i);
        if (Buffer.isBuffer(second)) assert.deepEqual(Buffer.from(args[1]), second);
        else assert.equal(args[1], second);
      }
      s.close();
    });
  });
}
