// SPDX-License-Identifier: GPL-3.0-or-later
//
// Helpers of the SDK end-to-end tests: PrdClient instances (clients/js) on
// the e2e suite's socket.io-client, against a real prdhub.

import { PrdClient } from '../../clients/js/src/client.js';
import { io, startHub, token, EVENT_TIMEOUT_MS } from './helpers/hub.js';
import { createPrd, rest, untilLeft, user } from './collab-helpers.js';

export { PrdClient, createPrd, rest, untilLeft, user, startHub, token };

// Rate limits out of the way: these tests send thousands of operations per
// connection on purpose.
export const SDK_HUB_CONFIG = '[rate-limit]\ndefault = 1000000/1\ncollab = 1000000/1\n';

export function sdkClient(hub, prdId, claims, options = {}) {
  return new PrdClient({
    url: hub.url,
    token: token(claims),
    prdId,
    io,
    socketOptions: {
      transports: ['websocket'],
      reconnectionDelay: 50,
      reconnectionDelayMax: 200,
      timeout: EVENT_TIMEOUT_MS,
    },
    ...options,
  });
}

// Resolves when predicate() holds, checking on every event of the clients
// and every 20 ms; rejects after the bound (an upper bound on waiting for a
// failure, never a timing assertion).
export function until(predicate, what = 'a condition', timeoutMs = 60000) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const tick = () => {
      let ok = false;
      try {
        ok = predicate();
      } catch (err) {
        reject(err);
        return;
      }
      if (ok) resolve();
      else if (Date.now() > deadline) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 20);
    };
    tick();
  });
}

export function sameVector(a, b) {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return false;
  return true;
}

export async function hubContent(hub, prdId, claims) {
  const res = await rest(hub, 'GET', `/api/prds/${prdId}`, { tok: token(claims) });
  if (res.status !== 200) throw new Error(`GET /api/prds/${prdId}: ${res.status} ${res.text}`);
  return res.json;
}

// Waits until every client has acknowledged its edits and holds the hub's
// state vector, then returns the hub's document.
export async function converged(hub, prdId, clients, claims, timeoutMs = 90000) {
  await Promise.all(clients.map((c) => c.whenSynced()));
  let doc = await hubContent(hub, prdId, claims);
  await until(() => clients.every((c) => sameVector(c.stateVector, doc.stateVector)),
    'the clients to reach the hub\'s vector', timeoutMs).catch(async (err) => {
    doc = await hubContent(hub, prdId, claims);
    if (!clients.every((c) => sameVector(c.stateVector, doc.stateVector))) {
      err.message += `: hub ${JSON.stringify(doc.stateVector)}, clients ${clients.map((c) => JSON.stringify(c.stateVector)).join(' ')}`;
      throw err;
    }
  });
  doc = await hubContent(hub, prdId, claims);
  return doc;
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
