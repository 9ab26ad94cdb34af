// SPDX-License-Identifier: GPL-3.0-or-later
//
// PrdRestClient without a hub: the requests it makes (method, path,
// headers, body) and how it reports refusals, through a recording fetch.
// The same client against a real hub: tests/e2e/sdk-features.test.js.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrdRestClient, PrdClientError, NotificationsClient, PrdClient } from '../src/client.js';

function recordingFetch(responses) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, ...init });
    const [status, body] = responses.shift();
    return {
      ok: status >= 200 && status < 300,
      status,
      statusText: `status ${status}`,
      text: async () => body,
    };
  };
  return { fetch, calls };
}

test('requests carry the bearer token; ids and query values are encoded', async () => {
  const { fetch, calls } = recordingFetch([
    [201, '{"id":"prd_1","title":"T"}'],
    [200, 'diff text'],
    [200, '{"organizationId":"o","activities":[],"nextBefore":null}'],
    [200, '{"prdId":"prd_1","versions":[{"version":"0.2.0"}]}'],
  ]);
  const rest = new PrdRestClient({ url: 'http://hub.test:8080/', token: 'tok', fetch });
  assert.deepEqual(await rest.createPrd({ title: 'T', content: 'x' }), { id: 'prd_1', title: 'T' });
  assert.equal(await rest.diff('prd_1', '0.1.0', '0.2.0&x'), 'diff text');
  await rest.activity({ organizationId: 'o', limit: 5, before: 'c 1' });
  assert.deepEqual(await rest.listVersions('prd_/1'), [{ version: '0.2.0' }]);
  assert.deepEqual(calls.map((c) => [c.method, c.url]), [
    ['POST', 'http://hub.test:8080/api/prds'],
    ['GET', 'http://hub.test:8080/api/prds/prd_1/diff?from=0.1.0&to=0.2.0%26x'],
    ['GET', 'http://hub.test:8080/api/activity?organizationId=o&limit=5&before=c+1'],
    ['GET', 'http://hub.test:8080/api/prds/prd_%2F1/versions?limit=100'],
  ]);
  assert.equal(calls[0].headers.authorization, 'Bearer tok');
  assert.equal(calls[0].headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(calls[0].body), { title: 'T', content: 'x' });
  assert.equal(calls[1].body, undefined);
  // No answer is kept in a browser's disk cache (a PRD's text above all).
  assert.deepEqual(calls.map((c) => c.cache), ['no-store', 'no-store', 'no-store', 'no-store']);
});

test('a refusal rejects with the hub\'s code and the HTTP status', async () => {
  const { fetch } = recordingFetch([
    [404, '{"code":"PRD_NOT_FOUND","message":"No PRD prd_x"}'],
    [502, 'Bad gateway'],
  ]);
  const rest = new PrdRestClient({ url: 'http://hub.test', token: 't', fetch });
  await assert.rejects(rest.getPrd('prd_x'), (e) => e instanceof PrdClientError &&
    e.code === 'PRD_NOT_FOUND' && e.status === 404 && e.message === 'No PRD prd_x');
  await assert.rejects(rest.listPrds(), (e) => e.code === 'HTTP_502' && e.message === 'Bad gateway');
});

test('managing PRDs, REST versions, notifications and sessions: methods, paths and bodies', async () => {
  const { fetch, calls } = recordingFetch([
    [200, '{"prds":[]}'],
    [200, '{"prds":[]}'],
    [200, '{"id":"prd_1","archived":true}'],
    [200, '{"id":"prd_1","title":"N"}'],
    [200, '{"prdId":"prd_1","deleted":true,"purgedVersions":2}'],
    [200, '{"prdId":"prd_1","deleted":true,"purgedVersions":0}'],
    [201, '{"version":"0.2.0"}'],
    [409, '{"code":"VERSION_UNCHANGED","message":"unchanged"}'],
    [200, '{"notifications":[],"nextBefore":null}'],
    [200, '{"notifications":[],"nextBefore":null}'],
    [200, '{"marked":3}'],
    [200, '{"sessions":[{"id":"s"}]}'],
  ]);
  const rest = new PrdRestClient({ url: 'http://hub.test', token: 'tok', fetch });
  await rest.listPrds({ archived: 'all' });
  await rest.listPrds({ archived: false });
  await assert.rejects(rest.listPrds({ archived: 'some' }), TypeError);
  assert.equal((await rest.archivePrd('prd_1')).archived, true);
  await rest.updatePrd('prd_1', { title: 'N' });
  assert.equal((await rest.deletePrd('prd_1', { purgeVersions: true })).purgedVersions, 2);
  await rest.deletePrd('prd_1');
  assert.deepEqual(await rest.createVersion('prd_1', { changelog: 'c', force: true }), { version: '0.2.0' });
  await assert.rejects(rest.createVersion('prd_1', { changelog: 'c' }),
    (e) => e.code === 'VERSION_UNCHANGED' && e.status === 409);
  await rest.notifications({ unread: true, limit: 2, before: 'c 1' });
  await rest.notifications();
  assert.equal(await rest.markNotificationsRead(['notif_a']), 3);
  assert.deepEqual(await rest.listSessions(), [{ id: 's' }]);
  assert.deepEqual(calls.map((c) => [c.method, c.url.slice('http://hub.test'.length), c.body]), [
    ['GET', '/api/prds?archived=all&limit=100', undefined],
    ['GET', '/api/prds?archived=false&limit=100', undefined],
    ['PATCH', '/api/prds/prd_1', '{"archived":true}'],
    ['PATCH', '/api/prds/prd_1', '{"title":"N"}'],
    ['DELETE', '/api/prds/prd_1?purgeVersions=true', undefined],
    ['DELETE', '/api/prds/prd_1', undefined],
    ['POST', '/api/prds/prd_1/versions', '{"changelog":"c","force":true}'],
    ['POST', '/api/prds/prd_1/versions', '{"changelog":"c"}'],
    ['GET', '/api/notifications?unread=true&limit=2&before=c+1', undefined],
    ['GET', '/api/notifications', undefined],
    ['POST', '/api/notifications/read', '{"ids":["notif_a"]}'],
    ['GET', '/api/sessions', undefined],
  ]);
});

// A hub whose list never ends (a cursor that is not a string, an empty
// page that promises more, more pages than MAX_PAGES) is an error, not an
// endless walk.
test('listPrds ends a list that never ends with INVALID_PAYLOAD', async () => {
  let n = 0;
  const endless = (body) => async () => {
    const text = JSON.stringify(body(n++));
    return { ok: true, status: 200, statusText: 'OK', text: async () => text };
  };
  const cases = [
    (i) => ({ prds: [{ id: `prd_${i}` }], nextAfter: {} }),
    (i) => ({ prds: [], nextAfter: `c${i}` }),
    (i) => ({ prds: [{ id: `prd_${i}` }], nextAfter: `c${i}` }),
  ];
  const saved = PrdRestClient.MAX_PAGES;
  PrdRestClient.MAX_PAGES = 50;
  try {
    for (const body of cases) {
      n = 0;
      const rest = new PrdRestClient({ url: 'http://hub.test', token: 'tok', fetch: endless(body) });
      await assert.rejects(rest.listPrds(), (e) => e.code === 'INVALID_PAYLOAD');
      assert.ok(n <= 50, `${n} pages asked`);
    }
  } finally {
    PrdRestClient.MAX_PAGES = saved;
  }
});

// The hub pages its lists (docs/protocol.md, "PRD and version lists are
// paged"): listPrds() and listVersions() follow nextAfter to the end, so
// that no caller sees a list cut at 100.
test('listPrds and listVersions page through every page; limit reads one; pages are exposed', async () => {
  const { fetch, calls } = recordingFetch([
    [200, '{"prds":[{"id":"prd_1"},{"id":"prd_2"}],"nextAfter":"5.prd_2"}'],
    [200, '{"prds":[{"id":"prd_3"}],"nextAfter":"9.prd_3"}'],
    [200, '{"prds":[],"nextAfter":null}'],
    [200, '{"prdId":"prd_1","versions":[{"id":"ver_1"}],"nextAfter":"7"}'],
    [200, '{"prdId":"prd_1","versions":[{"id":"ver_2"}],"nextAfter":null}'],
    [200, '{"prds":[{"id":"prd_1"}],"nextAfter":"5.prd_1"}'],
    [200, '{"prdId":"prd_1","versions":[{"id":"ver_1"}],"nextAfter":"7"}'],
    [200, '{"prds":[{"id":"prd_9"}],"nextAfter":null}'],
    [200, '{"prdId":"prd_1","versions":[],"nextAfter":null}'],
    // A hub from before lists were paged: no nextAfter, the whole list.
    [200, '{"prds":[{"id":"prd_1"}]}'],
    // A hub that hands out the same cursor again: no endless loop.
    [200, '{"prds":[{"id":"prd_1"}],"nextAfter":"x"}'],
    [200, '{"prds":[{"id":"prd_2"}],"nextAfter":"x"}'],
  ]);
  const rest = new PrdRestClient({ url: 'http://hub.test', token: 'tok', fetch });
  assert.deepEqual((await rest.listPrds({ archived: true })).map((p) => p.id),
    ['prd_1', 'prd_2', 'prd_3']);
  assert.deepEqual((await rest.listVersions('prd_1')).map((v) => v.id), ['ver_1', 'ver_2']);
  assert.deepEqual((await rest.listPrds({ limit: 1 })).map((p) => p.id), ['prd_1']);
  assert.deepEqual((await rest.listVersions('prd_1', { limit: 1 })).map((v) => v.id), ['ver_1']);
  assert.deepEqual(await rest.listPrdsPage({ archived: 'all', limit: 2, after: '5.prd_1' }),
    { prds: [{ id: 'prd_9' }], nextAfter: null });
  assert.deepEqual(await rest.listVersionsPage('prd_1', { after: '7' }),
    { prdId: 'prd_1', versions: [], nextAfter: null });
  assert.deepEqual((await rest.listPrds()).map((p) => p.id), ['prd_1']);
  await assert.rejects(rest.listPrds(), (e) => e.code === 'INVALID_PAYLOAD' &&
    /does not end/.test(e.message));
  await assert.rejects(rest.listPrds({ archived: 'some' }), TypeError);
  assert.throws(() => rest.listPrdsPage({ archived: 'some' }), TypeError);
  assert.deepEqual(calls.map((c) => c.url.slice('http://hub.test'.length)), [
    '/api/prds?archived=true&limit=100',
    '/api/prds?archived=true&limit=100&after=5.prd_2',
    '/api/prds?archived=true&limit=100&after=9.prd_3',
    '/api/prds/prd_1/versions?limit=100',
    '/api/prds/prd_1/versions?limit=100&after=7',
    '/api/prds?limit=1',
    '/api/prds/prd_1/versions?limit=1',
    '/api/prds?archived=all&limit=2&after=5.prd_1',
    '/api/prds/prd_1/versions?after=7',
    '/api/prds?limit=100',
    '/api/prds?limit=100',
    '/api/prds?limit=100&after=x',
  ]);
});

test('constructors refuse what cannot work', () => {
  assert.throws(() => new PrdRestClient({ token: 't' }), TypeError);
  assert.throws(() => new NotificationsClient({ url: 'http://h', token: 't' }), /io/);
  assert.throws(() => new PrdClient({ url: 'http://h', token: 't', prdId: 'p', mode: 'write', io: () => null }), /mode/);
});

// `.` and `..` survive encodeURIComponent and the URL parser resolves them
// as dot-segments: `getVersionText(id, '..')` would read the PRD itself.
test('ids and versions that would name another route are refused INVALID_ID before any request', async () => {
  const { fetch, calls } = recordingFetch([]);
  const rest = new PrdRestClient({ url: 'http://hub.test', token: 't', fetch });
  const invalid = (e) => e instanceof PrdClientError && e.code === 'INVALID_ID' && /must be a non-empty string/.test(e.message);
  for (const bad of ['.', '..', '', undefined, 5]) {
    await assert.rejects(rest.getPrd(bad), invalid);
    await assert.rejects(rest.updatePrd(bad, { title: 'x' }), invalid);
    await assert.rejects(rest.archivePrd(bad), invalid);
    await assert.rejects(rest.unarchivePrd(bad), invalid);
    await assert.rejects(rest.deletePrd(bad), invalid);
    await assert.rejects(rest.createVersion(bad, { changelog: 'c' }), invalid);
    await assert.rejects(rest.exportMarkdown(bad), invalid);
    await assert.rejects(rest.listVersions(bad), invalid);
    await assert.rejects(rest.getVersionText(bad, '0.1.0'), invalid);
    await assert.rejects(rest.getVersionText('prd_1', bad), invalid);
    await assert.rejects(rest.diff(bad, '0.1.0', '0.2.0'), invalid);
    await assert.rejects(rest.listComments(bad), invalid);
  }
  assert.deepEqual(calls, []);
});

// A socket.io-client stand-in: connects at once, never answers a request.
function silentIo() {
  return () => {
    const listeners = new Map();
    const socket = {
      connected: false,
      active: false,
      on(name, fn) {
        if (!listeners.has(name)) listeners.set(name, []);
        listeners.get(name).push(fn);
        return socket;
      },
      once(name, fn) {
        const once = (...args) => {
          socket.off(name, once);
          fn(...args);
        };
        return socket.on(name, once);
      },
      off(name, fn) {
        listeners.set(name, (listeners.get(name) ?? []).filter((l) => l !== fn));
        return socket;
      },
      removeAllListeners() {
        listeners.clear();
      },
      connect() {
        socket.connected = true;
        socket.active = true;
        queueMicrotask(() => (listeners.get('connect') ?? []).forEach((fn) => fn()));
      },
      disconnect() {
        socket.connected = false;
        socket.active = false;
      },
      timeout(ms) {
        return { emit: (event, payload, ack) => setTimeout(() => ack(new Error('timeout')), ms) };
      },
    };
    return socket;
  };
}

test('NotificationsClient: NOT_JOINED before connect(), CLOSED after close(), as PrdClient', async () => {
  const notes = new NotificationsClient({ url: 'http://hub.test', token: 't', io: silentIo(), requestTimeout: 200 });
  await assert.rejects(notes.markRead(['notif_a']),
    (e) => e instanceof PrdClientError && e.code === 'NOT_JOINED' && e.event === 'mark-read');
  await notes.connect();
  notes.close();
  await assert.rejects(notes.markRead(['notif_a']), (e) => e instanceof PrdClientError && e.code === 'CLOSED');
  await assert.rejects(notes.subscribe('org'), (e) => e instanceof PrdClientError && e.code === 'CLOSED');
  await assert.rejects(notes.refreshToken('t2'), (e) => e.code === 'CLOSED');
  await assert.rejects(notes.connect(), (e) => e.code === 'CLOSED');
});
