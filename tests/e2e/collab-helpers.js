// SPDX-License-Identifier: GPL-3.0-or-later
//
// Helpers of the /prds end-to-end tests: plain socket.io-client sockets,
// acks as promises, REST calls with the same JWT.

import { connect, once, token, EVENT_TIMEOUT_MS } from './helpers/hub.js';

export { once };

export const PRDS = '/prds';

export function user(sub, extra = {}) {
  return { sub, name: `Name ${sub}`, avatar: `https://avatar.invalid/${sub}.png`, ...extra };
}

export async function client(hub, claims, transports = ['websocket']) {
  return connect(hub.url, { transports, auth: { token: token(claims) } }, PRDS);
}

// Emits with an ack; resolves with the ack's single object.
export function request(socket, event, payload) {
  return socket.timeout(EVENT_TIMEOUT_MS).emitWithAck(event, payload);
}

// Collects every event of the given names a socket receives.
export function recorder(socket, names) {
  const events = [];
  for (const n of names) socket.on(n, (data) => events.push({ event: n, data }));
  return events;
}

// Resolves once predicate(events) holds, polling on each new event.
export async function until(socket, predicate, timeoutMs = EVENT_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function rest(hub, method, path, { body, tok, headers = {}, raw } = {}) {
  const h = { ...headers };
  if (tok !== null) h.authorization = `Bearer ${tok ?? token()}`;
  let data;
  if (raw !== undefined) data = raw;
  else if (body !== undefined) {
    data = JSON.stringify(body);
    h['content-type'] = 'application/json';
  }
  const res = await fetch(hub.url + path, { method, headers: h, body: data });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

// Resolves once the hub no longer lists `userId` among the users of `prdId`
// (GET /api/presence). A client that closes its connection is gone only
// once the hub has read the close, and nothing on another connection waits
// for that: wait here before counting on it (its site being free).
export async function untilLeft(hub, prdId, userId, timeoutMs = EVENT_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await rest(hub, 'GET', `/api/presence?prdIds=${prdId}`);
    if (res.status !== 200) throw new Error(`GET /api/presence: ${res.status} ${res.text}`);
    if (!(res.json.prds[prdId] ?? []).some((u) => u.userId === userId)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${userId} to leave ${prdId}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function createPrd(hub, title, content, claims) {
  const res = await rest(hub, 'POST', '/api/prds', {
    body: content === undefined ? { title } : { title, content },
    tok: claims ? token(claims) : undefined,
  });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${res.text}`);
  return res.json.id;
}

// Joins in edit mode; returns { joined, ack, siteId, vector }.
// Only an `error` event about this join refuses it: one about an earlier
// event (a room closed under a failed write) may still be on its way.
export async function join(socket, prdId, extra = {}) {
  let onError;
  const refused = new Promise((resolve) => {
    onError = (e) => { if (e?.event === undefined || e.event === 'join-prd') resolve(e); };
    socket.on('error', onError);
  });
  const joined = once(socket, 'joined-prd');
  try {
    const ack = await request(socket, 'join-prd', { prdId, mode: 'edit', ...extra });
    const first = await Promise.race([joined.then(({ args }) => ({ args })), refused.then((e) => ({ e }))]);
    if (first.e !== undefined || ack?.ok === false) {
      joined.catch(() => {});
      throw new Error(`join refused: ${JSON.stringify(first.e ?? ack.error)}`);
    }
    return { joined: first.args[0], ack, siteId: ack.siteId, vector: ack.stateVector };
  } finally {
    socket.off('error', onError);
  }
}

// The vector after one more operation of `site` on top of `vector`.
export function bump(vector, site) {
  const v = vector.slice();
  while (v.length <= site) v.push(0);
  v[site] += 1;
  return v;
}
