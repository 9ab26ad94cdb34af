// SPDX-License-Identifier: GPL-3.0-or-later
//
// The README's shell examples (minting a token, PRDs over REST and from the
// command line, reading the versions with git and REST) run as written
// against a real hub of the default data folder: only the port differs, and
// `prdhub` comes from the build folder on PATH, as the README says.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PRDHUB_BIN, JWT_SECRET, START_TIMEOUT_MS, startHub, tmpDir } from './helpers/hub.js';
import { client, join, request, user } from './collab-helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const readme = fs.readFileSync(path.resolve(here, '..', '..', 'README.md'), 'utf8');

// The ```sh blocks of the section under `heading` (up to the next heading of
// the same or a higher level).
function shBlocks(heading) {
  const level = heading.match(/^#+/)[0].length;
  const lines = readme.split('\n');
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, `README has no "${heading}"`);
  const blocks = [];
  let block = null;
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i];
    if (block === null) {
      const m = /^(#+) /.exec(line);
      if (m && m[1].length <= level) break;
      if (line === '```sh') block = [];
    } else if (line === '```') {
      blocks.push(block.join('\n'));
      block = null;
    } else {
      block.push(line);
    }
  }
  assert.ok(blocks.length > 0, `no sh example under "${heading}"`);
  return blocks;
}

// A home whose default data folder is the hub's.
async function hubAtHome() {
  const home = tmpDir('prdhub-readme-home-');
  const dataDir = path.join(home, '.local', 'share', 'prdhub');
  const hub = await startHub({ args: ['--data-dir', dataDir] });
  const env = {
    ...process.env,
    HOME: home,
    XDG_DATA_HOME: path.join(home, '.local', 'share'),
    PATH: `${path.dirname(PRDHUB_BIN)}:${process.env.PATH}`,
    PRDHUB_JWT_SECRET: JWT_SECRET,
  };
  return { hub, home, dataDir, env };
}

function runExamples(script, { hub, home, env }) {
  const text = script.replaceAll('http://127.0.0.1:3000', hub.url);
  const res = spawnSync('bash', ['-c', `set -euo pipefail\n${text}`], {
    cwd: home, env, encoding: 'utf8', timeout: START_TIMEOUT_MS,
  });
  assert.equal(res.status, 0, `${text}\n--- stdout\n${res.stdout}\n--- stderr\n${res.stderr}`);
  return res.stdout;
}

test('the token, PRD and versions examples run as written', async () => {
  const at = await hubAtHome();
  try {
    const token = shBlocks('### Tokens').find((b) => b.includes('TOKEN=$('));
    assert.ok(token, 'the Tokens section mints $TOKEN');
    const prds = shBlocks('### PRDs')[0];
    let out = runExamples(`${token}\n${prds}`, at);
    assert.match(out, /"title":"Login"/);
    assert.equal(out.split('# Login').length - 1, 2, 'export.md and prd export print the text');

    // Two versions of that PRD, as an editor would make them (the text does
    // not change between them: forced).
    const list = spawnSync(PRDHUB_BIN, ['prd', 'list', '--data-dir', at.dataDir],
      { encoding: 'utf8' });
    const prdId = list.stdout.split('\t')[0];
    const editor = await client(at.hub, user('user_456', { org: 'default' }));
    await join(editor, prdId);
    for (const changelog of ['First', 'Second']) {
      const ack = await request(editor, 'create-version',
        { prdId, changelog, versionType: 'minor', force: true });
      assert.equal(ack.ok, true, JSON.stringify(ack));
    }
    editor.close();

    const versions = shBlocks('#### Versions')[0];
    out = runExamples(`${token}\n${versions}`, at);
    assert.ok(out.includes(`${prdId}/v0.2.0`) && out.includes(`${prdId}/v0.3.0`), out);
    assert.match(out, /^[0-9a-f]+ Name user_456 <user_456@default> Second$/m, out);
    assert.match(out, /^# Login/m, 'git show prints the text at 0.2.0');
    assert.match(out, /"version":"0\.2\.0"/, out);
    assert.ok(fs.existsSync(path.join(at.home, 'prd-versions', `${prdId}.md`)), 'git clone');
  } finally {
    await at.hub.stop();
    fs.rmSync(at.home, { recursive: true, force: true });
  }
});

test('the versions repository exists before the first version', async () => {
  const at = await hubAtHome();
  try {
    const git = (...args) => spawnSync('git', ['--git-dir', path.join(at.dataDir, 'versions.git'),
      ...args], { encoding: 'utf8' });
    const bare = git('rev-parse', '--is-bare-repository');
    assert.equal(bare.status, 0, bare.stderr);
    assert.equal(bare.stdout.trim(), 'true');
    assert.equal(git('symbolic-ref', 'HEAD').stdout.trim(), 'refs/heads/main');
    const log = git('log');
    assert.doesNotMatch(log.stderr, /not a git repository/);
    assert.match(log.stderr, /does not have any commits yet/);
  } finally {
    await at.hub.stop();
    fs.rmSync(at.home, { recursive: true, force: true });
  }
});
