// SPDX-License-Identifier: GPL-3.0-or-later
//
// build-aux/bootstrap: `run` builds and starts the hub without npm (node
// modules are for the tests and benchmarks only); `test` still installs them.
// The script runs on a copy of build-aux/ with meson, ninja, npm and apt-get
// replaced by stubs that record their calls, and a stub prdhub.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir, START_TIMEOUT_MS } from './helpers/hub.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const srcRoot = path.resolve(here, '..', '..');

function stub(file, body) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
}

function fakeRepo() {
  const root = tmpDir('prdhub-bootstrap-');
  const calls = path.join(root, 'calls.log');
  fs.mkdirSync(path.join(root, 'build-aux'));
  for (const f of ['bootstrap', 'debian-packages.txt', 'test-summary.py'])
    fs.copyFileSync(path.join(srcRoot, 'build-aux', f), path.join(root, 'build-aux', f));
  fs.chmodSync(path.join(root, 'build-aux', 'bootstrap'), 0o755);
  // What npm would install for the tests.
  fs.mkdirSync(path.join(root, 'tests', 'e2e'), { recursive: true });
  fs.writeFileSync(path.join(root, 'tests', 'e2e', 'package.json'), '{}\n');
  fs.writeFileSync(path.join(root, 'tests', 'e2e', 'package-lock.json'), '{}\n');
  const bin = path.join(root, 'stub-bin');
  for (const tool of ['meson', 'ninja', 'apt-get'])
    stub(path.join(bin, tool), `echo "${tool} $*" >> "${calls}"`);
  stub(path.join(bin, 'npm'), `echo "npm $*" >> "${calls}"; exit 1`);
  stub(path.join(root, '_build', 'src', 'hub', 'prdhub'), `echo "prdhub $*" >> "${calls}"`);
  return { root, calls, bin };
}

function bootstrap(repo, args) {
  return spawnSync(path.join(repo.root, 'build-aux', 'bootstrap'), args, {
    encoding: 'utf8',
    timeout: START_TIMEOUT_MS,
    env: { ...process.env, PATH: `${repo.bin}:${process.env.PATH}` },
  });
}

test('bootstrap run builds and serves without calling npm', () => {
  const repo = fakeRepo();
  try {
    const res = bootstrap(repo, ['run', '--data-dir', '/srv/prdhub']);
    assert.equal(res.status, 0, res.stderr);
    const calls = fs.readFileSync(repo.calls, 'utf8').split('\n');
    assert.ok(!calls.some((l) => l.startsWith('npm')), `npm was called:\n${calls.join('\n')}`);
    assert.ok(calls.includes('meson setup _build'), calls.join('\n'));
    assert.ok(calls.includes('ninja -C _build'), calls.join('\n'));
    assert.ok(calls.includes('prdhub serve --listen 127.0.0.1:3000 --data-dir /srv/prdhub'),
      calls.join('\n'));
    // It says where the program is and how to put it on PATH.
    assert.match(res.stderr, new RegExp(`${repo.root}/_build/src/hub/prdhub`));
    assert.match(res.stderr, /meson install -C _build/);
  } finally {
    fs.rmSync(repo.root, { recursive: true, force: true });
  }
});

test('bootstrap test still installs the node modules (and counts npm failing)', () => {
  const repo = fakeRepo();
  try {
    const res = bootstrap(repo, ['test']);
    const calls = fs.readFileSync(repo.calls, 'utf8').split('\n');
    assert.ok(calls.some((l) => l.startsWith('npm ci')), calls.join('\n'));
    assert.notEqual(res.status, 0, 'a failed npm ci is a failure');
    assert.match(res.stdout, /^prdhub: \d+ passed, [1-9]\d* failed, \d+ skipped$/m);
  } finally {
    fs.rmSync(repo.root, { recursive: true, force: true });
  }
});
