// SPDX-License-Identifier: GPL-3.0-or-later
//
// `prdhub prd create|import|export|list` on a data folder, and a hub served
// from that folder seeing the same PRDs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PRDHUB_BIN, startHub, tmpDir, token } from './helpers/hub.js';
import { rest } from './collab-helpers.js';

function prd(dataDir, ...args) {
  const r = spawnSync(PRDHUB_BIN, ['prd', ...args, '--data-dir', dataDir], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('prd create, import, export and list, then served by the hub', async () => {
  const dataDir = tmpDir('prdhub-e2e-cli-');
  const md = path.join(dataDir, 'spec.md');
  fs.writeFileSync(md, '# Spec\n\nÉmoji 😀 and text\n');
  try {
    const created = prd(dataDir, 'create', '--title', 'Empty one', '--org', 'org_e2e');
    assert.equal(created.code, 0, created.err);
    const emptyId = created.out.trim();
    assert.match(emptyId, /^prd_[a-z0-9]+$/);

    const imported = prd(dataDir, 'import', md, '--title', 'Imported', '--org', 'org_e2e');
    assert.equal(imported.code, 0, imported.err);
    const id = imported.out.trim();

    const withFile = prd(dataDir, 'create', '--title', 'Other org', '--org', 'org_x', '--file', md);
    assert.equal(withFile.code, 0, withFile.err);

    const exported = prd(dataDir, 'export', id);
    assert.equal(exported.code, 0, exported.err);
    assert.equal(exported.out, '# Spec\n\nÉmoji 😀 and text\n');
    const out = path.join(dataDir, 'out.md');
    assert.equal(prd(dataDir, 'export', id, '--output', out).code, 0);
    assert.equal(fs.readFileSync(out, 'utf8'), '# Spec\n\nÉmoji 😀 and text\n');

    const list = prd(dataDir, 'list', '--org', 'org_e2e');
    assert.equal(list.code, 0, list.err);
    const ids = list.out.trim().split('\n').map((l) => l.split('\t')[0]).sort();
    assert.deepEqual(ids, [emptyId, id].sort());
    assert.ok(list.out.includes('\t0.1.0\t'));

    // Errors: clear message, non-zero exit, nothing created.
    for (const [args, code, re] of [
      [['create'], 2, /--title/],
      [['bogus'], 2, /unknown prd action/],
      [['export'], 2, /ID/],
      [['export', 'prd_bad!id'], 1, /letters, digits/],
      [['export', 'prd_nosuch'], 1, /prd_nosuch/],
      [['import', path.join(dataDir, 'missing.md'), '--title', 'x'], 1, /missing\.md/],
      [['create', '--title', ''], 1, /title/i],
    ]) {
      const r = prd(dataDir, ...args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, re);
    }
    assert.equal(prd(dataDir, 'list', '--org', 'org_e2e').out.trim().split('\n').length, 2);

    const hub = await startHub({ args: ['--data-dir', dataDir] });
    try {
      const page = await rest(hub, 'GET', `/api/prds/${id}`, { tok: token() });
      assert.equal(page.status, 200);
      assert.equal(page.json.content, '# Spec\n\nÉmoji 😀 and text\n');
      assert.equal(page.json.title, 'Imported');
    } finally {
      await hub.stop();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
