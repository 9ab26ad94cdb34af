// SPDX-License-Identifier: GPL-3.0-or-later
//
// A service (or a proxy in front of one) that quotes the request's
// credentials in its error answers: its path, its Authorization header and
// what a `Basic` one decodes to, its x-api-key. What the hub passes on must
// hold none of them (docs/protocol.md, "Integrations": secrets are never
// returned by any route, event or command, nor logged).

import http from 'node:http';
import assert from 'node:assert/strict';

// `answer(req, echo)` may answer itself (and return true); otherwise the
// answer is `status` with a JSON error body quoting `echo` the way Jira
// (`errorMessages`) and Mattermost and others (`message`) write errors.
export async function startEchoService({ status = 401, answer = () => false } = {}) {
  const requests = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests.push({ method: req.method, url: req.url, headers: req.headers });
      const auth = req.headers.authorization ?? '';
      const basic = auth.startsWith('Basic ')
        ? Buffer.from(auth.slice(6), 'base64').toString('utf8') : '';
      const echo = `denied ${req.method} ${req.url} authorization=${auth} decoded=${basic} ` +
        `x-api-key=${req.headers['x-api-key'] ?? ''} escaped=${encodeURIComponent(auth)}`;
      if (answer(req, res, echo))
        return;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errorMessages: [echo], message: echo }));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  };
}

// Every form of `secret` a service may quote: as it is, percent-encoded,
// and as `user:secret` in the base64 of `Basic` (whole, and the part of it
// that depends on the secret alone).
export function secretForms(secret, user) {
  const forms = [secret, encodeURIComponent(secret)];
  if (user !== undefined) {
    const basic = Buffer.from(`${user}:${secret}`).toString('base64');
    forms.push(basic, basic.slice(Math.ceil(((user.length + 1) * 8) / 6) + 1, -4));
  }
  return forms.filter((f) => f.length >= 4);
}

export function assertSecretFree(where, text, forms) {
  for (const form of forms)
    assert.ok(!String(text).includes(form), `${where} quotes a secret (${form}): ${String(text).slice(0, 2000)}`);
}

// What the hub shows of an organization's integrations: the admins' GET
// /api/integrations, a viewer's activity feed, and the hub's log.
export async function shownTexts(hub, admin, viewer) {
  const { rest } = await import('../collab-helpers.js');
  const { token } = await import('./hub.js');
  const integrations = await rest(hub, 'GET', '/api/integrations', { tok: token(admin) });
  const activity = await rest(hub, 'GET', `/api/activity?organizationId=${viewer.org ?? 'org_e2e'}`,
    { tok: token(viewer) });
  assert.equal(integrations.status, 200, integrations.text);
  assert.equal(activity.status, 200, activity.text);
  return { integrations: integrations.json, activity: activity.json, log: hub.stderr() };
}

// The messages of the failed calls of `service` in a viewer's feed, once
// there are at least `n`.
export async function failedCalls(hub, viewer, service, n = 1) {
  const { rest } = await import('../collab-helpers.js');
  const { token } = await import('./hub.js');
  for (let i = 0; ; i++) {
    const res = await rest(hub, 'GET', `/api/activity?organizationId=${viewer.org ?? 'org_e2e'}`,
      { tok: token(viewer) });
    assert.equal(res.status, 200, res.text);
    const calls = res.json.activities.filter((a) => a.type === 'integration_call' &&
      a.object.id === service && a.object.ok === false);
    if (calls.length >= n || i >= 300)
      return calls.map((a) => a.object.message);
    await new Promise((r) => setTimeout(r, 100));
  }
}
