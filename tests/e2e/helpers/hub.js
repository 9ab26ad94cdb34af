// SPDX-License-Identifier: GPL-3.0-or-later
//
// Starts real prdhub / prdhub-sio-conformance processes for the end-to-end
// tests and signs JWTs for them with node:crypto only.

import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { io, Manager } from 'socket.io-client';

export { io, Manager };

const here = path.dirname(fileURLToPath(import.meta.url));
const srcRoot = path.resolve(here, '..', '..', '..');

export const PRDHUB_BIN =
  process.env.PRDHUB_BIN ?? path.join(srcRoot, '_build', 'src', 'hub', 'prdhub');
export const CONFORMANCE_BIN =
  process.env.PRDHUB_CONFORMANCE_BIN ??
  path.join(srcRoot, '_build', 'tests', 'prdhub-sio-conformance');

// Sanitizer builds start slowly and handle 200 clients slowly; these are
// upper bounds on waiting for a failure, never timing assertions.
export const START_TIMEOUT_MS = 30000;
export const EVENT_TIMEOUT_MS = 20000;

export const JWT_SECRET = 'e2e-secret-' + crypto.randomBytes(16).toString('hex');

const LISTEN_RE = /^prdhub listening on (https?):\/\/127\.0\.0\.1:(\d+)\/$/;

export function tmpDir(prefix = 'prdhub-e2e-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// ---- JWT ------------------------------------------------------------------

function b64url(data) {
  return Buffer.from(data).toString('base64url');
}

export function now() {
  return Math.floor(Date.now() / 1000);
}

export function claims(overrides = {}) {
  return {
    sub: 'user_e2e',
    name: 'E2E Tester',
    avatar: 'https://avatar.invalid/e2e.png',
    org: 'org_e2e',
    role: 'editor',
    exp: now() + 3600,
    ...overrides,
  };
}

export function signJwt(payload, { alg = 'HS256', secret = JWT_SECRET, privateKey } = {}) {
  const header = b64url(JSON.stringify({ alg, typ: 'JWT' }));
  const body = b64url(JSON.stringify(payload));
  const input = `${header}.${body}`;
  let sig;
  if (alg === 'HS256') {
    sig = crypto.createHmac('sha256', secret).update(input).digest('base64url');
  } else if (alg === 'RS256') {
    sig = crypto.sign('sha256', Buffer.from(input), privateKey).toString('base64url');
  } else if (alg === 'none') {
    sig = '';
  } else {
    throw new Error(`unsupported alg ${alg}`);
  }
  return `${input}.${sig}`;
}

export function token(overrides = {}, opts = {}) {
  return signJwt(claims(overrides), opts);
}

export function rsaKeyPair() {
  return crypto.generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

// ---- TLS ------------------------------------------------------------------

export function selfSignedCert(dir) {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2',
    '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  return { cert, key, certPem: fs.readFileSync(cert, 'utf8') };
}

// ---- processes --------------------------------------------------------------

// Resolves on 'close', not 'exit': at 'exit' the child's stdout and stderr
// may still hold unread output (its last lines: "Stopped", a sanitizer's
// report), which a test reading stderr() afterwards must see.
function waitExit(proc) {
  return new Promise((resolve) =>
    proc.once('close', (code, signal) => resolve({ code, signal })));
}

function collectStderr(proc) {
  const chunks = [];
  proc.stderr.on('data', (d) => {
    chunks.push(d);
    if (process.env.PRDHUB_E2E_VERBOSE) process.stderr.write(d);
  });
  return () => Buffer.concat(chunks).toString('utf8');
}

// Starts `prdhub serve` on an ephemeral port with a fresh data dir.
// `config` is the text of an INI file passed with --config; `fdLimit` runs
// it under `ulimit -n fdLimit` (soft and hard), `fdLimits: [soft, hard]`
// under those two.
//
// PRDHUB_E2E_IO_THREADS=N in the environment runs every hub with
// `[engine] io-threads = N` (meson registers the WebSocket-heavy files a
// second time that way: the e2e-io-threads-* tests).
export async function startHub({ config, args = [], env = {}, fdLimit, fdLimits } = {}) {
  const dataDir = tmpDir('prdhub-e2e-data-');
  const argv = ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir];
  const ioThreads = process.env.PRDHUB_E2E_IO_THREADS;
  if (ioThreads !== undefined && ioThreads !== '' && !/^\s*io-threads\s*=/m.test(config ?? '')) {
    // A group named twice in a key file is one group; a key given twice is
    // refused, so a test that sets io-threads itself keeps its own.
    config = `[engine]\nio-threads = ${Number(ioThreads)}\n` + (config ?? '');
  }
  if (config !== undefined) {
    const file = path.join(dataDir, 'e2e.conf');
    fs.writeFileSync(file, config);
    argv.push('--config', file);
  }
  argv.push(...args);

  const ulimit = fdLimits !== undefined
    ? `ulimit -Sn ${Number(fdLimits[0])} && ulimit -Hn ${Number(fdLimits[1])}`
    : fdLimit !== undefined ? `ulimit -n ${Number(fdLimit)}` : null;
  const [file, fileArgs] = ulimit === null
    ? [PRDHUB_BIN, argv]
    : ['/bin/sh', ['-c', `${ulimit} && exec "$0" "$@"`, PRDHUB_BIN, ...argv]];
  const proc = spawn(file, fileArgs, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PRDHUB_JWT_SECRET: JWT_SECRET, ...env },
  });
  const stderr = collectStderr(proc);
  const exited = waitExit(proc);

  const lines = readline.createInterface({ input: proc.stdout });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`prdhub did not print its listening line\n${stderr()}`));
    }, START_TIMEOUT_MS);
    proc.once('error', (err) => { clearTimeout(timer); reject(err); });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`prdhub exited early (code ${code}, signal ${signal})\n${stderr()}`));
    });
    lines.on('line', (line) => {
      const m = LISTEN_RE.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(`${m[1]}://127.0.0.1:${m[2]}`);
      }
    });
  });

  // A hub that aborts on its own (a sanitizer's report, with
  // abort_on_error=1) fails the test running then, with its report, rather
  // than leave clients that retry waiting until the suite's timeout.
  exited.then(({ signal }) => {
    if (signal === 'SIGABRT' && !proc.killed)
      throw new Error(`prdhub aborted\n${stderr().slice(-8192)}`);
  });

  const hub = {
    url,
    port: Number(new URL(url).port),
    proc,
    pid: proc.pid,
    dataDir,
    stderr,
    exited,
    rssKiB: () => rssKiB(proc.pid),
    // SIGTERM (unless a test already signalled it: a second SIGTERM while
    // the hub drains would be a forced stop), then SIGKILL past the bound.
    async stop() {
      if (!proc.killed && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), START_TIMEOUT_MS);
      const res = await exited;
      clearTimeout(timer);
      lines.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
      return res;
    },
  };
  return hub;
}

// The end of a hub's stderr (about 4 KiB), for failure messages: under the
// sanitizers their report is there.
export function stderrTail(hub, chars = 4096) {
  const text = hub.stderr();
  return text.length > chars ? `[…]${text.slice(-chars)}` : text;
}

// Asserts that a hub ended by itself with status 0; `res` is what
// hub.stop() or hub.exited resolves with. A failure shows the end of the
// hub's stderr.
export function assertCleanExit(hub, res, what = 'prdhub') {
  const stderr = () => `\n--- the end of its stderr:\n${stderrTail(hub)}`;
  assert.equal(res.signal, null, `${what} was killed by ${res.signal}${stderr()}`);
  assert.equal(res.code, 0, `${what} exited with status ${res.code}${stderr()}`);
}

// Stops a hub (hub.stop()) and asserts that it exited cleanly, showing the
// end of its stderr when it did not.
export async function assertCleanStop(hub, what) {
  const res = await hub.stop();
  assertCleanExit(hub, res, what);
  return res;
}

export function rssKiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return m ? Number(m[1]) : NaN;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

// Starts tests/prdhub-sio-conformance on a free port and waits until it
// accepts TCP connections.
export async function startConformance() {
  const port = await freePort();
  const proc = spawn(CONFORMANCE_BIN, ['--port', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const stderr = collectStderr(proc);
  const exited = waitExit(proc);
  let dead = false;
  exited.then(() => { dead = true; });
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (dead) throw new Error(`prdhub-sio-conformance exited early\n${stderr()}`);
    if (await canConnect(port)) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`prdhub-sio-conformance did not listen\n${stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    proc,
    stderr,
    async stop() {
      if (!dead) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), START_TIMEOUT_MS);
      const res = await exited;
      clearTimeout(timer);
      return res;
    },
  };
}

// ---- socket helpers ---------------------------------------------------------

// The hub's timestamps are ISO 8601 strings in UTC (docs/protocol.md);
// returns the time in ms.
export function isoTime(value) {
  if (typeof value !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value))
    throw new Error(`not an ISO 8601 UTC timestamp: ${JSON.stringify(value)}`);
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new Error(`not a valid time: ${value}`);
  return ms;
}

// Resolves with the first of `events` the emitter fires, as { event, args };
// rejects after the bound.
export function once(emitter, events, timeoutMs = EVENT_TIMEOUT_MS) {
  const names = Array.isArray(events) ? events : [events];
  return new Promise((resolve, reject) => {
    const handlers = new Map();
    const cleanup = () => {
      clearTimeout(timer);
      for (const [n, h] of handlers) emitter.off(n, h);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${names.join('|')}`));
    }, timeoutMs);
    for (const n of names) {
      const h = (...args) => { cleanup(); resolve({ event: n, args }); };
      handlers.set(n, h);
      emitter.on(n, h);
    }
  });
}

// Opens a socket and waits for connect or connect_error.
export async function connect(url, opts = {}, nsp = '/') {
  const o = {
    reconnection: false,
    forceNew: true,
    timeout: EVENT_TIMEOUT_MS,
    auth: { token: token() },
    ...opts,
  };
  // `auth: undefined` means: send no auth object at all.
  if (o.auth === undefined) delete o.auth;
  const socket = io(url + nsp, o);
  const { event, args } = await once(socket, ['connect', 'connect_error']);
  if (event === 'connect_error') {
    socket.close();
    const err = args[0];
    err.socket = socket;
    throw err;
  }
  return socket;
}

// Opens a socket that must be refused; resolves with the connect_error.
export async function connectError(url, opts = {}, nsp = '/') {
  try {
    const s = await connect(url, opts, nsp);
    s.close();
  } catch (err) {
    return err;
  }
  throw new Error('connection was accepted but should have been refused');
}
