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
    ['GET', 'http://hub.test:8080/api/prds/prd_%2F1/versions'],
  ]);
  assert.equal(calls[0].headers.authorization, 'Bearer tok');
  assert.equal(calls[0].headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(calls[0].body), { title: 'T', content: 'x' });
  assert.equal(calls[1].body, undefined);
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

test('constructors refuse what cannot work', () => {
  assert.throws(() => new PrdRestClient({ token: 't' }), TypeError);
  assert.throws(() => new NotificationsClient({ url: 'http://h', token: 't' }), /io/);
  assert.throws(() => new PrdClient({ url: 'http://h', token: 't', prdId: 'p', mode: 'write', io: () => null }), /mode/);
});
