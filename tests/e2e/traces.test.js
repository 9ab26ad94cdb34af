// SPDX-License-Identifier: GPL-3.0-or-later
//
// The concurrent editing traces (friendsforever, clownschool; see the
// traces' README) replayed through real sockets: one SDK client per agent,
// each transaction made at its own base version (the merge of its parents)
// as soon as the client has received those parents, concurrently with the
// other agents. Everyone must end with the trace's endContent, and so must
// the hub. Where traces are read from: tracePath() (tests/data/traces/
// README.md); a test is skipped when its trace is absent.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { SDK_HUB_CONFIG, converged, createPrd, sdkClient, startHub, user } from './sdk-helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// $PRDHUB_TRACES_DIR, else ../shared/traces beside the source tree when it
// holds the trace, else the copy in tests/data/traces.
function tracePath(name) {
  const file = `${name}.json.gz`;
  if (process.env.PRDHUB_TRACES_DIR) return path.join(process.env.PRDHUB_TRACES_DIR, file);
  const shared = path.resolve(here, '..', '..', '..', 'shared', 'traces', file);
  return fs.existsSync(shared) ? shared : path.resolve(here, '..', 'data', 'traces', file);
}

function loadTrace(name) {
  const file = tracePath(name);
  if (!fs.existsSync(file)) return null;
  return JSON.parse(zlib.gunzipSync(fs.readFileSync(file)));
}

let hub;

before(async () => {
  // Batching would hold each event up to batch-interval: thousands of
  // causal waits would each pay for it.
  hub = await startHub({ config: `${SDK_HUB_CONFIG}[collab]\nbatch-threshold = 0\n` });
});

after(async () => {
  await hub?.stop();
});

// Resolves when client's vector has every entry of @need.
function whenHas(client, need) {
  const ok = () => {
    const v = client.stateVector;
    for (let i = 0; i < need.length; i++) if ((v[i] ?? 0) < need[i]) return false;
    return true;
  };
  if (ok()) return Promise.resolve();
  return new Promise((resolve) => {
    // an operation that changes no visible text (a delete of characters
    // someone else deleted already) fires no remote-change: poll as well
    const timer = setInterval(() => check(), 20);
    const check = () => {
      if (ok()) {
        clearInterval(timer);
        client.off('remote-change', check);
        resolve();
      }
    };
    client.on('remote-change', check);
  });
}

async function replay(name) {
  const trace = loadTrace(name);
  const owner = user(`trace_owner_${name}`);
  const prdId = await createPrd(hub, `Trace ${name}`, '', owner);
  const clients = [];
  for (let a = 0; a < trace.numAgents; a++)
    clients.push(sdkClient(hub, prdId, user(`trace_${name}_${a}`)));
  const errors = [];
  for (const c of clients) c.on('error', (e) => errors.push(e));
  try {
    await Promise.all(clients.map((c) => c.connect()));
    const siteOf = clients.map((c) => c.siteId);
    const width = Math.max(...siteOf) + 1;

    // Every transaction's base version (merge of its parents) and the
    // version after it, in the hub's site numbering.
    const after = new Array(trace.txns.length);
    const bases = new Array(trace.txns.length);
    const byAgent = clients.map(() => []);
    for (const [i, t] of trace.txns.entries()) {
      const base = new Array(width).fill(0);
      for (const p of t.parents) for (let s = 0; s < width; s++) base[s] = Math.max(base[s], after[p][s]);
      const v = base.slice();
      for (const [, del, ins] of t.patches) v[siteOf[t.agent]] += (del > 0 ? 1 : 0) + (ins.length > 0 ? 1 : 0);
      bases[i] = base;
      after[i] = v;
      byAgent[t.agent].push(i);
    }

    await Promise.all(clients.map(async (c, a) => {
      const site = siteOf[a];
      for (const i of byAgent[a]) {
        const base = bases[i].slice();
        await whenHas(c, base);
        for (const [pos, del, ins] of trace.txns[i].patches) {
          if (del > 0) {
            c.delete(pos, del, { base });
            base[site]++;
          }
          if (ins.length > 0) {
            c.insert(pos, ins, { base });
            base[site]++;
          }
        }
        // let the socket breathe now and then
        if (i % 256 === 0) await new Promise((r) => setImmediate(r));
      }
    }));

    const doc = await converged(hub, prdId, clients, owner, 150000);
    assert.equal(doc.content.length, trace.endContent.length);
    assert.ok(doc.content === trace.endContent, 'hub content is the trace\'s endContent');
    for (const c of clients) assert.ok(c.text === trace.endContent, 'client text is the trace\'s endContent');
    assert.deepEqual(errors, []);
  } finally {
    for (const c of clients) c.close();
  }
}

for (const name of ['friendsforever', 'clownschool']) {
  const present = fs.existsSync(tracePath(name));
  test(`${name}: one SDK client per agent reaches endContent`, { skip: present ? false : `no trace at ${tracePath(name)}` },
    () => replay(name));
}
