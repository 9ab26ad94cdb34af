// SPDX-License-Identifier: GPL-3.0-or-later
//
// The editor's lists read every page of the hub's paged lists
// (web/src/api.js, allPages()): the PRD list and a PRD's versions are never
// cut at 100.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allPages } from '../../src/api.js';

function pages(answers) {
  const paths = [];
  const request = async (method, path) => {
    assert.equal(method, 'GET');
    paths.push(path);
    return answers.shift();
  };
  return { request, paths };
}

test('allPages follows nextAfter to the last page and keeps the first page\'s shape', async () => {
  const first = Array.from({ length: 100 }, (_, i) => ({ id: `prd_${i}` }));
  const { request, paths } = pages([
    { prds: first, nextAfter: '5.prd_99' },
    { prds: [{ id: 'prd_100' }], nextAfter: null },
  ]);
  const all = await allPages(request, '/api/prds?archived=all', 'prds');
  assert.deepEqual(all.prds.map((p) => p.id), [...first.map((p) => p.id), 'prd_100']);
  assert.equal(all.nextAfter, null);
  assert.deepEqual(paths, ['/api/prds?archived=all&limit=100',
    '/api/prds?archived=all&limit=100&after=5.prd_99']);

  const v = pages([
    { prdId: 'prd_1', versions: [{ id: 'ver_1' }], nextAfter: '12' },
    { prdId: 'prd_1', versions: [], nextAfter: null },
  ]);
  const versions = await allPages(v.request, '/api/prds/prd_1/versions', 'versions');
  assert.deepEqual(versions, { prdId: 'prd_1', versions: [{ id: 'ver_1' }], nextAfter: null });
  assert.deepEqual(v.paths, ['/api/prds/prd_1/versions?limit=100',
    '/api/prds/prd_1/versions?limit=100&after=12']);
});

test('allPages stops on a hub from before paging, and fails a list that never ends', async () => {
  const old = pages([{ prds: [{ id: 'prd_1' }] }]);
  assert.deepEqual((await allPages(old.request, '/api/prds', 'prds')).prds, [{ id: 'prd_1' }]);
  assert.equal(old.paths.length, 1);
  // A cursor given twice, one that is not a string, an empty page that
  // promises more, or more pages than the bound: an error, not a loop.
  const loop = pages([
    { prds: [{ id: 'a' }], nextAfter: 'x' },
    { prds: [{ id: 'b' }], nextAfter: 'x' },
  ]);
  await assert.rejects(allPages(loop.request, '/api/prds', 'prds'), /does not end/);
  assert.equal(loop.paths.length, 2);
  await assert.rejects(allPages(pages([{ prds: [{ id: 'a' }], nextAfter: {} }]).request,
    '/api/prds', 'prds'), /does not end/);
  await assert.rejects(allPages(pages([{ prds: [], nextAfter: 'y' }]).request,
    '/api/prds', 'prds'), /does not end/);
  let i = 0;
  const endless = async () => ({ prds: [{ id: `p${i}` }], nextAfter: `c${i++}` });
  await assert.rejects(allPages(endless, '/api/prds', 'prds', 20), /does not end/);
  assert.equal(i, 20);
});
