// SPDX-License-Identifier: GPL-3.0-or-later
//
// Helpers of the AI end-to-end tests: the scripted OpenAI-compatible test
// server (tests/ai-test-server) as a process, and a hub pointed at it.

import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { PRDHUB_BIN, START_TIMEOUT_MS, startHub } from './helpers/hub.js';

// PRDHUB_BIN is <build>/src/hub/prdhub; the test server is <build>/tests/.
export const AI_TEST_SERVER_BIN =
  process.env.PRDHUB_AI_TEST_SERVER_BIN ??
  path.join(path.dirname(PRDHUB_BIN), '..', '..', 'tests', 'prdhub-ai-test-server');

const LISTEN_RE = /^prdhub-ai-test-server listening on (http:\/\/127\.0\.0\.1:\d+\/v1)$/;

export async function startAiServer() {
  const proc = spawn(AI_TEST_SERVER_BIN, [], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: proc.stdout });
  const baseUrl = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no listening line')), START_TIMEOUT_MS);
    proc.once('error', (err) => { clearTimeout(timer); reject(err); });
    lines.on('line', (line) => {
      const m = LISTEN_RE.exec(line);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
  });
  return {
    baseUrl,
    openGate() { proc.kill('SIGUSR1'); },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
      lines.close();
    },
  };
}

export function aiConfig(server, extra = '') {
  return `[collab]\nbatch-threshold=0\n[ai]\nbase-url=${server.baseUrl}\nmodel=prd-test-model\n${extra}`;
}

export async function startAiHub(server, { extra = '', args = [], env = {} } = {}) {
  return startHub({ config: aiConfig(server, extra), args, env });
}

// UTF-16 length, as positions count.
export function units(text) {
  return text.length;
}
