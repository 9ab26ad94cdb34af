// SPDX-License-Identifier: GPL-3.0-or-later
//
// Starts the two servers the fan-out benchmark compares, on 127.0.0.1 with
// an ephemeral port and a fresh JWT secret, and reads their CPU time and
// memory from /proc.

import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '..', '..');
export const DEFAULT_HUB = path.join(ROOT, '_build-release', 'src', 'hub', 'prdhub');
export const REFERENCE_SERVER = path.join(here, 'reference-server.mjs');

// The hub's configuration for the benchmark: batching off (every update is
// sent at once, as socket.io does), and rate limits out of the way (one
// writer sends hundreds of updates per second; the reference has none).
export const HUB_CONFIG = `# prdhub fan-out benchmark (bench/fanout)
[collab]
batch-threshold = 0

[rate-limit]
default = 1000000/1
collab = 1000000/1
# each step of a run connects its clients again
connect = 1000000/1

[engine]
# every client comes from 127.0.0.1
max-sessions-per-address = 0
`;

const START_TIMEOUT_MS = 30000;

// Servers still running, and data directories still there, when this
// process ends (an error, Ctrl-C, a closed pipe): killed and removed, so
// that no server outlives the benchmark.
const live = new Map(); // ChildProcess -> cleanup function or null
process.on('exit', () => {
  for (const [proc, cleanup] of live) {
    try { proc.kill('SIGKILL'); } catch { /* gone */ }
    try { cleanup?.(); } catch { /* best effort */ }
  }
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1)));
}
process.stdout.on('error', (err) => { if (err.code === 'EPIPE') process.exit(1); });
const STOP_TIMEOUT_MS = 15000;

let clkTck = null;
function ticksPerSecond() {
  if (clkTck === null) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

// CPU seconds (utime + stime of every thread) the process has used.
export function procCpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / ticksPerSecond();
}

// VmRSS and VmHWM in KiB.
export function procMemKiB(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const get = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB$`, 'm').exec(s)?.[1] ?? NaN);
  return { rss: get('VmRSS'), hwm: get('VmHWM') };
}

function waitListening(proc, re, stderrText) {
  const lines = readline.createInterface({ input: proc.stdout });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server did not print its listening line\n${stderrText()}`));
    }, START_TIMEOUT_MS);
    proc.once('error', (err) => { clearTimeout(timer); reject(err); });
    const onExit = (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server exited early (code ${code}, signal ${signal})\n${stderrText()}`));
    };
    proc.once('exit', onExit);
    lines.on('line', (line) => {
      const m = re.exec(line);
      if (m) {
        clearTimeout(timer);
        proc.off('exit', onExit);
        resolve({ url: m[1], lines });
      }
    });
  });
}

function wrap(kind, proc, url, lines, stderrText, cleanup) {
  let exited = proc.exitCode !== null || proc.signalCode !== null;
  const exitP = new Promise((r) => proc.once('exit', () => { exited = true; r(); }));
  live.set(proc, cleanup ?? null);
  return {
    kind,
    url,
    pid: proc.pid,
    stderr: stderrText,
    get alive() { return !exited; },
    cpuSeconds: () => procCpuSeconds(proc.pid),
    mem: () => procMemKiB(proc.pid),
    async stop() {
      if (!exited) proc.kill('SIGTERM');
      const t = setTimeout(() => { if (!exited) proc.kill('SIGKILL'); }, STOP_TIMEOUT_MS);
      await exitP;
      clearTimeout(t);
      lines.close();
      live.delete(proc);
      cleanup?.();
    },
  };
}

function collect(proc) {
  let text = '';
  proc.stderr.on('data', (d) => {
    text += d;
    if (text.length > 65536) text = text.slice(-32768);
    if (process.env.FANOUT_VERBOSE) process.stderr.write(d);
  });
  return () => text;
}

// kind: 'prdhub' (opts.hub: the binary) or 'node' (the reference server).
// dataParent: where the hub's data directory is made (default: the system's
// temporary directory, $TMPDIR or /tmp; the hub fsyncs its SQLite WAL there).
// ioThreads: the hub's [engine] io-threads (default: the hub's own, auto).
export async function startServer(kind, { hub = DEFAULT_HUB, secret, dataParent = os.tmpdir(), ioThreads } = {}) {
  secret ??= crypto.randomBytes(24).toString('hex');
  const env = { ...process.env, PRDHUB_JWT_SECRET: secret };
  if (kind === 'prdhub') {
    if (!fs.existsSync(hub)) throw new Error(`no prdhub at ${hub}`);
    const dataDir = fs.mkdtempSync(path.join(dataParent, 'prdhub-fanout-'));
    const conf = path.join(dataDir, 'fanout.conf');
    fs.writeFileSync(conf, HUB_CONFIG + (ioThreads === undefined ? '' : `io-threads = ${ioThreads}\n`));
    const proc = spawn(hub, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--config', conf], {
      stdio: ['ignore', 'pipe', 'pipe'], env,
    });
    live.set(proc, () => fs.rmSync(dataDir, { recursive: true, force: true }));
    const stderr = collect(proc);
    try {
      const { url, lines } = await waitListening(proc, /^prdhub listening on (http:\/\/127\.0\.0\.1:\d+)\/$/, stderr);
      const s = wrap('prdhub', proc, url, lines, stderr,
        () => fs.rmSync(dataDir, { recursive: true, force: true }));
      s.secret = secret;
      return s;
    } catch (err) {
      fs.rmSync(dataDir, { recursive: true, force: true });
      throw err;
    }
  }
  if (kind === 'node') {
    const proc = spawn(process.execPath, [REFERENCE_SERVER, '--listen', '127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', 'pipe'], env,
    });
    live.set(proc, null);
    const stderr = collect(proc);
    const { url, lines } = await waitListening(proc, /^reference listening on (http:\/\/127\.0\.0\.1:\d+)\/$/, stderr);
    const s = wrap('node', proc, url, lines, stderr);
    s.secret = secret;
    return s;
  }
  throw new Error(`unknown server kind ${kind} (prdhub or node)`);
}
