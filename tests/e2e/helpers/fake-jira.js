// SPDX-License-Identifier: GPL-3.0-or-later
//
// A fake Jira on 127.0.0.1 speaking the subset prdhub uses (Cloud REST v2/v3
// or Data Center REST v2): myself, serverInfo, issue create / bulk create,
// issue get / edit, search (Cloud /search/jql with nextPageToken, Data
// Center /search with startAt; Cloud's old /search answers 410), and the
// failure modes the hub must survive, switched on per test:
//   rateLimitNext   429 with Retry-After: 1 (and the flavour's headers)
//   htmlNext        502 with an HTML body (a proxy)
//   dropNextBulk    a bulk create is applied, then the connection dies
//   holdAfterDrop   once a bulk's connection died, holdSearch is switched on
//   failSummaries   bulk items with these summaries fail (per-item 400)
//   holdSearch      searches wait until release() (a sync that runs long)
//   searchLag       an issue created now stays out of the next searchLag
//                   searches (Jira's search index is eventually consistent);
//                   catchUp() makes every issue searchable
//   searchCap       the most entries a search page holds, whatever maxResults
//                   asks (Jira's own cap; 100 unless set)
//   beforeSearchPage  called with { jql, startAt, token } before each search
//                   page is made (a test deletes an issue between two pages)
//   cloudEmptyPages Cloud: the next this many pages are empty, not the
//                   last, with a token to the page they stand for
// plus a webhook sender that signs like Jira Cloud admin webhooks.

import http from 'node:http';
import crypto from 'node:crypto';

export async function startFakeJira({ flavour = 'cloud', email = 'bot@example.com',
  token = 'jira-token-' + crypto.randomBytes(8).toString('hex'), projects = ['PRD'] } = {}) {
  const state = {
    flavour,
    email,
    token,
    projects: new Set(projects),
    issues: new Map(),
    nextId: 10000,
    nextNumber: new Map(),
    requests: [],
    rateLimitNext: 0,
    htmlNext: 0,
    dropNextBulk: 0,
    holdAfterDrop: false,
    failSummaries: new Set(),
    holdSearch: false,
    held: [],
    searchLag: 0,
    searchCap: 100,
    beforeSearchPage: null,
    cloudEmptyPages: 0,
    emptyPagesSent: 0,
  };

  const expectedAuth = () => (state.flavour === 'cloud'
    ? 'Basic ' + Buffer.from(`${state.email}:${state.token}`).toString('base64')
    : `Bearer ${state.token}`);

  function send(res, status, body, headers = {}) {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    });
    res.end(text);
  }

  function createIssue(fields) {
    const errors = {};
    const projectKey = fields?.project?.key;
    if (!projectKey || !state.projects.has(projectKey))
      errors.project = 'project is required';
    if (typeof fields?.summary !== 'string' || fields.summary.length === 0)
      errors.summary = 'You must specify a summary of the issue.';
    if (state.failSummaries.has(fields?.summary))
      errors.summary = 'Summary refused by a workflow validator.';
    if (Object.keys(errors).length > 0) return { errors };
    const n = (state.nextNumber.get(projectKey) ?? 0) + 1;
    state.nextNumber.set(projectKey, n);
    const id = String(state.nextId++);
    const key = `${projectKey}-${n}`;
    state.issues.set(key, {
      id, key,
      fields: { ...fields, status: { name: 'To Do' } },
      unindexedFor: state.searchLag,
    });
    return { issue: { id, key, self: `http://fake/rest/api/2/issue/${id}` } };
  }

  // One search request: what the index holds now, in creation order (or
// newest first for `ORDER BY created DESC`); each issue not yet
  // indexed comes one search closer to it.
  function labelled(jql) {
    const m = /labels\s*=\s*"([^"]+)"/.exec(jql ?? '');
    const label = m ? m[1] : null;
    const found = [...state.issues.values()]
      .filter((i) => !(i.unindexedFor > 0))
      .filter((i) => label === null || (i.fields.labels ?? []).includes(label))
      .sort((a, b) => Number(a.id) - Number(b.id));
    // `ORDER BY created DESC` (ids grow with creation): newest first.
    if (/order\s+by\s+created\s+desc/i.test(jql ?? '')) found.reverse();
    for (const i of state.issues.values()) if (i.unindexedFor > 0) i.unindexedFor--;
    return found;
  }

  function view(issue) {
    return {
      id: issue.id, key: issue.key,
      fields: { summary: issue.fields.summary, status: issue.fields.status,
        labels: issue.fields.labels },
    };
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url, 'http://fake');
      const raw = Buffer.concat(chunks).toString('utf8');
      let body;
      try { body = raw ? JSON.parse(raw) : undefined; } catch { body = undefined; }
      state.requests.push({ method: req.method, path: url.pathname, query: url.search,
        headers: req.headers, body });

      if (state.htmlNext > 0) {
        state.htmlNext--;
        res.writeHead(502, { 'content-type': 'text/html' });
        res.end('<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>');
        return;
      }
      if (state.rateLimitNext > 0) {
        state.rateLimitNext--;
        const headers = { 'retry-after': '1' };
        if (state.flavour === 'cloud') headers['x-ratelimit-reset'] = new Date(Date.now() + 1000).toISOString();
        else Object.assign(headers, { 'x-ratelimit-interval-seconds': '1', 'x-ratelimit-fillrate': '1' });
        send(res, 429, { errorMessages: ['Rate limit exceeded.'] }, headers);
        return;
      }
      const m = /^\/rest\/api\/(2|3)(\/.*)$/.exec(url.pathname);
      if (!m) { send(res, 404, { errorMessages: ['No such resource'] }); return; }
      const version = Number(m[1]);
      const path = m[2];
      if (state.flavour === 'datacenter' && version !== 2) {
        send(res, 404, { errorMessages: ['No such resource'] }); return;
      }
      if (req.headers.authorization !== expectedAuth()) {
        send(res, 401, { errorMessages: ['You are not authenticated. Authentication required to perform this operation.'] });
        return;
      }
      if (req.method === 'GET' && path === '/myself') {
        send(res, 200, state.flavour === 'cloud'
          ? { accountId: 'acc-1', displayName: 'Bot', emailAddress: state.email, active: true }
          : { name: 'bot', key: 'bot', displayName: 'Bot', active: true });
        return;
      }
      if (req.method === 'GET' && path === '/serverInfo') {
        send(res, 200, { deploymentType: state.flavour === 'cloud' ? 'Cloud' : 'Server', version: '10.0.0' });
        return;
      }
      if (req.method === 'POST' && path === '/issue/bulk') {
        const updates = body?.issueUpdates ?? [];
        if (updates.length > 50) { send(res, 400, { errorMessages: ['Too many issues'] }); return; }
        const issues = [];
        const errors = [];
        updates.forEach((u, i) => {
          const r = createIssue(u.fields);
          if (r.issue) issues.push(r.issue);
          else errors.push({ status: 400, elementErrors: { errorMessages: [], errors: r.errors }, failedElementNumber: i });
        });
        if (state.dropNextBulk > 0) {
          state.dropNextBulk--;
          if (state.holdAfterDrop) state.holdSearch = true;
          req.socket.destroy();
          return;
        }
        send(res, issues.length === 0 && errors.length > 0 ? 400 : 201, { issues, errors });
        return;
      }
      if (req.method === 'POST' && path === '/issue') {
        const r = createIssue(body?.fields);
        if (r.issue) send(res, 201, r.issue);
        else send(res, 400, { errorMessages: [], errors: r.errors });
        return;
      }
      const issueMatch = /^\/issue\/([^/]+)$/.exec(path);
      if (issueMatch) {
        const issue = state.issues.get(decodeURIComponent(issueMatch[1]));
        if (!issue) { send(res, 404, { errorMessages: ['Issue does not exist or you do not have permission to see it.'] }); return; }
        if (req.method === 'GET') { send(res, 200, view(issue)); return; }
        if (req.method === 'PUT') {
          Object.assign(issue.fields, body?.fields ?? {});
          send(res, 204);
          return;
        }
      }
      const search = (cb) => {
        if (state.holdSearch) state.held.push(cb);
        else cb();
      };
      if (req.method === 'GET' && path === '/search/jql') {
        if (state.flavour !== 'cloud') { send(res, 404, { errorMessages: ['No such resource'] }); return; }
        search(() => {
          const token = url.searchParams.get('nextPageToken');
          state.beforeSearchPage?.({ jql: url.searchParams.get('jql'), token });
          const all = labelled(url.searchParams.get('jql'));
          const max = Math.min(Number(url.searchParams.get('maxResults') ?? 50), state.searchCap);
          // A token is `<start>`, or `e<n>-<start>` from an empty page.
          const start = Number((token ?? '0').replace(/^e\d+-/, ''));
          if (state.cloudEmptyPages > 0) {
            state.cloudEmptyPages--;
            send(res, 200, { issues: [], isLast: false,
              nextPageToken: `e${++state.emptyPagesSent}-${start}` });
            return;
          }
          const page = all.slice(start, start + max);
          const isLast = start + max >= all.length;
          send(res, 200, { issues: page.map(view), isLast, ...(isLast ? {} : { nextPageToken: String(start + max) }) });
        });
        return;
      }
      if (req.method === 'GET' && path === '/search') {
        if (state.flavour === 'cloud') {
          send(res, 410, { errorMessages: ['The requested API has been removed. Please migrate to the /rest/api/3/search/jql API.'] });
          return;
        }
        search(() => {
          const startAt = Number(url.searchParams.get('startAt') ?? 0);
          state.beforeSearchPage?.({ jql: url.searchParams.get('jql'), startAt });
          const all = labelled(url.searchParams.get('jql'));
          const max = Math.min(Number(url.searchParams.get('maxResults') ?? 50), state.searchCap);
          send(res, 200, { startAt, maxResults: max, total: all.length, issues: all.slice(startAt, startAt + max).map(view) });
        });
        return;
      }
      send(res, 404, { errorMessages: ['No such resource'] });
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const fake = {
    state,
    url: `http://127.0.0.1:${port}`,
    release() {
      state.holdSearch = false;
      const held = state.held.splice(0);
      for (const cb of held) cb();
    },
    // Jira's search index catches up with every issue.
    catchUp() {
      for (const i of state.issues.values()) i.unindexedFor = 0;
    },
    // Adds an issue as a person in Jira would.
    addIssue(prdId, summary, project = 'PRD', fields = {}) {
      return createIssue({ project: { key: project }, summary, labels: ['prdhub', `prdhub-${prdId}`],
        ...fields }).issue;
    },
    // The issues labelled for a PRD, oldest first.
    labelled(prdId) {
      return [...state.issues.values()].filter((i) => (i.fields.labels ?? []).includes(`prdhub-${prdId}`));
    },
    requestsTo(re) {
      return state.requests.filter((r) => re.test(r.path));
    },
    close() {
      return new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); });
    },
  };
  return fake;
}

// Posts a webhook delivery to the hub as Jira Cloud does.
export async function sendWebhook(hubUrl, org, secret, payload, { id, signature } = {}) {
  const raw = JSON.stringify(payload);
  const headers = { 'content-type': 'application/json' };
  if (signature !== null) {
    headers['x-hub-signature'] = signature ??
      'sha256=' + crypto.createHmac('sha256', secret).update(raw).digest('hex');
  }
  if (id !== undefined) headers['x-atlassian-webhook-identifier'] = id;
  const res = await fetch(`${hubUrl}/api/integrations/jira/webhook?org=${encodeURIComponent(org)}`,
    { method: 'POST', headers, body: raw });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text };
}
