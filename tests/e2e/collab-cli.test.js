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

// `prd list` lists what `GET /api/prds` does: the PRDs not archived, unless
// --archived=true (only the archived ones) or --archived=all (both).
test('prd list leaves archived PRDs out unless --archived', async () => {
  const dataDir = tmpDir('prdhub-e2e-cli-');
  const ids = (out) => out.trim().split('\n').filter((l) => l !== '').map((l) => l.split('\t')[0]).sort();
  try {
    const kept = prd(dataDir, 'create', '--title', 'Kept', '--org', 'org_e2e').out.trim();
    const shelved = prd(dataDir, 'create', '--title', 'Shelved', '--org', 'org_e2e').out.trim();
    assert.match(kept, /^prd_/);
    assert.match(shelved, /^prd_/);
    const hub = await startHub({ args: ['--data-dir', dataDir] });
    try {
      const res = await rest(hub, 'PATCH', `/api/prds/${shelved}`,
        { tok: token({ role: 'admin' }), body: { archived: true } });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.archived, true);
      const listed = await rest(hub, 'GET', '/api/prds', { tok: token() });
      assert.deepEqual(listed.json.prds.map((p) => p.id), [kept]);
    } finally {
      await hub.stop();
    }

    const active = prd(dataDir, 'list', '--org', 'org_e2e');
    assert.equal(active.code, 0, active.err);
    assert.deepEqual(ids(active.out), [kept]);
    assert.deepEqual(ids(prd(dataDir, 'list', '--org', 'org_e2e', '--archived=false').out), [kept]);
    const archived = prd(dataDir, 'list', '--org', 'org_e2e', '--archived', 'true');
    assert.equal(archived.code, 0, archived.err);
    assert.deepEqual(ids(archived.out), [shelved]);
    assert.match(archived.out, /\tShelved\n$/);
    const all = prd(dataDir, 'list', '--org', 'org_e2e', '--archived=all');
    assert.equal(all.code, 0, all.err);
    assert.deepEqual(ids(all.out), [kept, shelved].sort());

    const bad = prd(dataDir, 'list', '--org', 'org_e2e', '--archived=yes');
    assert.equal(bad.code, 2);
    assert.equal(bad.out, '');
    assert.match(bad.err, /^prdhub: --archived must be false, true or all \(see `prdhub help prd`\)\n$/);
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
