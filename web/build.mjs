// SPDX-License-Identifier: GPL-3.0-or-later
//
// Builds the web editor: esbuild bundles src/main.js and src/style.css into
// hashed files (assets/app-HASH.js, assets/style-HASH.css), src/index.html
// gets their names, the preview's worker (src/preview-worker.js, which
// renders Markdown off the page's main thread) goes into
// assets/preview-worker-HASH.js, a classic worker whose address the app
// bundle gets as PREVIEW_WORKER_URL, and glib-compile-resources turns the lot into the C
// source and header of the GResource /org/prdtool/Hub/web/ that prdhub
// serves (src/hub/prd-hub-web.c).
//
//   node web/build.mjs --outdir DIR [--c FILE --h FILE --compiler glib-compile-resources]
//
// Without --c, only DIR is written (index.html and assets/).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i];
    const value = argv[i + 1];
    if (!key.startsWith('--') || value === undefined) throw new Error(`bad argument ${key}`);
    opts[key.slice(2)] = value;
  }
  if (!opts.outdir) throw new Error('--outdir DIR is required');
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const outdir = path.resolve(opts.outdir);
const assets = path.join(outdir, 'assets');
fs.rmSync(assets, { recursive: true, force: true });
fs.mkdirSync(assets, { recursive: true });

const common = {
  absWorkingDir: here,
  bundle: true,
  minify: true,
  target: ['chrome105', 'firefox110', 'safari16'],
  entryNames: '[name]-[hash]',
  outdir: assets,
  metafile: true,
  legalComments: 'eof',
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
};

// Entry point file name → the hashed file esbuild wrote for it.
function outputNames(result) {
  const names = {};
  for (const [file, info] of Object.entries(result.metafile.outputs)) {
    if (!info.entryPoint) continue;
    names[path.basename(info.entryPoint)] = path.basename(file);
  }
  return names;
}

// The worker first: a classic script (IIFE; Firefox before 114 runs no
// module workers), self-contained, so it imports nothing at run time.
const worker = outputNames(await esbuild.build({
  ...common,
  entryPoints: { 'preview-worker': 'src/preview-worker.js' },
  format: 'iife',
}));
if (!worker['preview-worker.js']) throw new Error('esbuild did not write the preview worker');

const names = outputNames(await esbuild.build({
  ...common,
  entryPoints: { app: 'src/main.js', style: 'src/style.css' },
  format: 'esm',
  define: { ...common.define, PREVIEW_WORKER_URL: JSON.stringify(`/assets/${worker['preview-worker.js']}`) },
}));
if (!names['main.js'] || !names['style.css']) throw new Error('esbuild did not write both bundles');

const template = fs.readFileSync(path.join(here, 'src', 'index.html'), 'utf8');
const html = template
  .replaceAll('{{APP_JS}}', `/assets/${names['main.js']}`)
  .replaceAll('{{APP_CSS}}', `/assets/${names['style.css']}`);
fs.writeFileSync(path.join(outdir, 'index.html'), html);

const files = ['index.html', ...fs.readdirSync(assets).sort().map((f) => `assets/${f}`)];
const xml = [
  '<?xml version="1.0" encoding="UTF-8"?>',
  '<gresources>',
  '  <gresource prefix="/org/prdtool/Hub/web">',
  ...files.map((f) => `    <file>${f}</file>`),
  '  </gresource>',
  '</gresources>',
  '',
].join('\n');
const xmlFile = path.join(outdir, 'prd-web.gresource.xml');
fs.writeFileSync(xmlFile, xml);

if (opts.c) {
  const compiler = opts.compiler ?? 'glib-compile-resources';
  const common = ['--sourcedir', outdir, '--c-name', 'prd_web', xmlFile];
  execFileSync(compiler, ['--generate-source', '--target', path.resolve(opts.c), ...common]);
  execFileSync(compiler, ['--generate-header', '--target', path.resolve(opts.h), ...common]);
}
