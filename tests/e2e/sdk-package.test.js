// SPDX-License-Identifier: GPL-3.0-or-later
//
// The SDK as a user gets it (clients/js/README.md, "Install"): `npm pack`
// makes a tarball, `npm install <tarball>` puts it with socket.io-client
// into an application, its entry points and typings resolve there, and the
// packaged example (examples/tour.js) runs against a real hub with an AI
// provider. The install is offline: from the npm cache, or, when the cache
// lacks socket.io-client, over a copy of this suite's node_modules.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn as spawnChild, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir, token } from './helpers/hub.js';
import { startAiServer, startAiHub } from './ai-helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const sdkDir = path.join(here, '..', '..', 'clients', 'js');
const sdkPackage = JSON.parse(fs.readFileSync(path.join(sdkDir, 'package.json'), 'utf8'));

function which(program) {
  const r = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', program], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

const npm = which('npm');
const tsc = which('tsc');
let app; // the application folder the SDK is installed into
let tarball;
let installLog = '';

before(() => {
  if (!npm) return;
  const work = tmpDir('prdhub-e2e-sdk-package-');
  const packed = JSON.parse(execFileSync(npm, ['pack', '--json', '--pack-destination', work],
    { cwd: sdkDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
  tarball = path.join(work, packed[0].filename);
  app = path.join(work, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'),
    JSON.stringify({ name: 'sdk-user-app', version: '1.0.0', private: true, type: 'module' }));
  const args = ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'];
  let r = spawnSync(npm, [...args, tarball], { cwd: app, encoding: 'utf8' });
  installLog = `npm install --offline: ${r.status}\n${r.stdout}${r.stderr}`;
  if (r.status !== 0) {
    // The cache has the suite's tarballs but not socket.io-client's
    // metadata (npm ci reads no metadata): install over the suite's copy.
    fs.cpSync(path.join(here, 'node_modules'), path.join(app, 'node_modules'), { recursive: true });
    r = spawnSync(npm, [...args, '--no-save', tarball], { cwd: app, encoding: 'utf8' });
    installLog += `npm install --offline --no-save over node_modules: ${r.status}\n${r.stdout}${r.stderr}`;
  }
  assert.equal(r.status, 0, installLog);
});

test('npm pack ships the sources, typings and the example, nothing else', { skip: !npm && 'npm is not installed' }, () => {
  const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n').sort();
  for (const f of ['package/package.json', 'package/README.md', 'package/src/index.js',
    'package/src/client.js', 'package/src/notifications.js', 'package/src/rest.js',
    'package/src/crdt.js', 'package/types/index.d.ts', 'package/types/client.d.ts',
    'package/types/crdt.d.ts', 'package/examples/tour.js']) {
    assert.ok(listing.includes(f), `${f} in ${listing.join(' ')}`);
  }
  assert.deepEqual(listing.filter((f) => !/^package\/(src|types|examples)\/|^package\/(package\.json|README\.md)$/.test(f)), []);
  // Every file the exports map names is in the tarball.
  for (const entry of Object.values(sdkPackage.exports)) {
    for (const file of typeof entry === 'string' ? [entry] : Object.values(entry)) {
      assert.ok(listing.includes(path.posix.join('package', file)), file);
    }
  }
});

test('installed: socket.io-client came as a dependency; every entry point imports', { skip: !npm && 'npm is not installed' }, () => {
  const installed = JSON.parse(fs.readFileSync(
    path.join(app, 'node_modules', '@prdhub', 'client', 'package.json'), 'utf8'));
  assert.equal(installed.version, sdkPackage.version);
  const sio = JSON.parse(fs.readFileSync(
    path.join(app, 'node_modules', 'socket.io-client', 'package.json'), 'utf8'));
  assert.match(sio.version, /^4\.8\./);
  const script = `
    const root = await import('@prdhub/client');
    const client = await import('@prdhub/client/client');
    const crdt = await import('@prdhub/client/crdt');
    console.log(JSON.stringify({
      root: Object.keys(root).sort(), client: Object.keys(client).sort(), crdt: typeof crdt.CrdtDoc,
    }));`;
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script],
    { cwd: app, encoding: 'utf8' }));
  for (const name of ['PrdClient', 'NotificationsClient', 'PrdRestClient', 'PrdClientError',
    'connectPrd', 'CrdtDoc', 'CrdtError', 'diffDeltas']) {
    assert.ok(out.root.includes(name), `${name} in ${out.root}`);
  }
  for (const name of ['PrdClient', 'NotificationsClient', 'PrdRestClient', 'PrdClientError']) {
    assert.ok(out.client.includes(name), `${name} in ${out.client}`);
  }
  assert.equal(out.crdt, 'function');
  // A deep import outside the exports map is refused.
  const deep = spawnSync(process.execPath, ['--input-type=module', '-e',
    "await import('@prdhub/client/src/crdt.js')"], { cwd: app, encoding: 'utf8' });
  assert.notEqual(deep.status, 0);
  assert.match(deep.stderr, /ERR_PACKAGE_PATH_NOT_EXPORTED/);
});

test('installed: the typings resolve for an application and refuse misuse', {
  skip: (!npm && 'npm is not installed') || (!tsc && 'tsc is not installed (node-typescript)'),
}, () => {
  fs.writeFileSync(path.join(app, 'use.ts'), `
import { PrdClient, PrdRestClient, type Version } from '@prdhub/client';
export async function f(url: string, token: string): Promise<string> {
  const rest = new PrdRestClient({ url, token });
  const { id } = await rest.createPrd({ title: 't' });
  const c = new PrdClient({ url, token, prdId: id });
  await c.connect();
  const v: Version = await c.createVersion({ changelog: 'x' });
  return v.commitHash;
}
`);
  const config = { compilerOptions: { strict: true, noEmit: true, target: 'es2022', lib: ['es2022'],
    module: 'node16', moduleResolution: 'node16', types: [] }, files: ['use.ts'] };
  fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify(config));
  let r = spawnSync(tsc, ['-p', 'tsconfig.json'], { cwd: app, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  fs.appendFileSync(path.join(app, 'use.ts'), "new PrdClient({ url: 'u', token: 't' });\n");
  r = spawnSync(tsc, ['-p', 'tsconfig.json'], { cwd: app, encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stdout, /prdId/);
});

test('the packaged example runs against a real hub', { skip: !npm && 'npm is not installed' }, async () => {
  const ai = await startAiServer();
  const hub = await startAiHub(ai);
  try {
    const example = path.join(app, 'node_modules', '@prdhub', 'client', 'examples', 'tour.js');
    const env = {
      ...process.env,
      PRDHUB_URL: hub.url,
      PRDHUB_TOKEN: token({ sub: 'tour_user', name: 'Tour User' }),
      PRDHUB_ORG: 'org_e2e',
      PRDHUB_AI: '1',
    };
    const run = await new Promise((resolve) => {
      const r = { stdout: '', stderr: '' };
      const child = spawnChild(process.execPath, [example], { cwd: app, env });
      child.stdout.on('data', (d) => { r.stdout += d; });
      child.stderr.on('data', (d) => { r.stderr += d; });
      child.on('exit', (code) => resolve({ ...r, code }));
    });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const steps = Object.fromEntries(run.stdout.trim().split('\n').map((l) => {
      const o = JSON.parse(l);
      return [o.step, o];
    }));
    assert.deepEqual(Object.keys(steps),
      ['created', 'joined', 'typed', 'commented', 'replied', 'versioned', 'subscribed', 'reviewed', 'archived',
        'done']);
    assert.match(steps.created.prdId, /^prd_/);
    assert.equal(steps.joined.text, '# SDK tour\n\n');
    assert.equal(steps.typed.text, '# SDK tour\n\nUsers sign in with OAuth2.\n');
    assert.deepEqual(steps.commented.unresolvedMentions, ['NoSuchPerson']);
    assert.deepEqual(steps.replied.unresolvedMentions, []);
    assert.equal(steps.versioned.version, '0.2.0');
    assert.match(steps.versioned.commitHash, /^[0-9a-f]{40}$/);
    assert.equal(steps.versioned.text, steps.typed.text);
    assert.deepEqual(steps.versioned.versions, ['0.2.0']);
    assert.equal(steps.subscribed.organizationId, 'org_e2e');
    // The test provider's answer to a review of this text holds no suggestion:
    // the review still ends.
    assert.match(steps.reviewed.reviewId, /^review_/);
    assert.equal(steps.reviewed.count, 0);
    assert.deepEqual(steps.reviewed.suggestions, []);
    assert.deepEqual(steps.archived, { step: 'archived', archived: true, clientSees: true, listed: false });
    assert.equal(steps.done.comments, 1);
    // What the example did is in the hub.
    const res = await fetch(`${hub.url}/api/prds/${steps.created.prdId}/comments`,
      { headers: { authorization: `Bearer ${env.PRDHUB_TOKEN}` } });
    const { comments } = await res.json();
    assert.equal(comments.length, 1);
    assert.equal(comments[0].content, 'Is the title final, @NoSuchPerson?');
    assert.deepEqual(comments[0].replies.map((r) => r.content), ['Yes.']);
  } finally {
    await hub.stop();
    await ai.stop();
  }
});

after(() => {
  if (app) fs.rmSync(path.dirname(app), { recursive: true, force: true });
});
