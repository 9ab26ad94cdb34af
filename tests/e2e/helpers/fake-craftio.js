// SPDX-License-Identifier: GPL-3.0-or-later
//
// A fake Craft.io on 127.0.0.1 speaking the subset prdhub uses (the
// third-party mirror of the beta API; docs ../shared/ref §3): the key in a
// header (x-api-key unless told otherwise; 401 {message} without it),
// GET /me/api-key (or 404 with noMe), GET /workspaces,
// GET /workspace/{id}/items with page, limit, type and updated_from
// (answer {items, metadata: {currentPage, perPage, totalPages,
// totalRecords}}), GET /item/{id} (404 {message} for an unknown id).
// Switched on per test:
//   rateLimitNext   429 {message} with Retry-After: 1
//   down            every request answers 500 {message}
//   itemDelay       milliseconds GET /item/{id} waits before it answers
//   holdItem        GET /item/{id} waits until releaseItems()
//   holdList        GET /workspace/{id}/items waits until releaseList()
//   failItems       a Set of ids whose GET /item/{id} answers 500 {message}
// touchAll() marks every item updated now (a mass edit in Craft.io).
// clockOffsetMs (an option, or state.clockOffsetMs later) sets the fake's
// clock that far from this machine's (-120000: two minutes behind); it
// dates updateTime, the Date header and what updated_from is compared with.
//   listDelay       milliseconds a GET /workspace/{id}/items answer waits
//                   after its listing was taken (a slow Craft.io); the Date
//                   is when it is sent; onListed(), when set, is called as
//                   each listing is taken
//   dateFor         (date) => the Date header to send instead of date's
//                   (a proxy's wrong clock)

import http from 'node:http';
import crypto from 'node:crypto';

export async function startFakeCraftio({
  apiKey = 'craft-key-' + crypto.randomBytes(10).toString('hex'),
  header = 'x-api-key',
  workspaceId = 'ws-1',
  noMe = false,
  clockOffsetMs = 0,
} = {}) {
  const state = {
    apiKey, header, workspaceId, noMe, clockOffsetMs,
    items: new Map(),
    nextId: 5000,
    requests: [],
    rateLimitNext: 0,
    down: false,
    itemDelay: 0,
    holdItem: false,
    heldItems: [],
    holdList: false,
    heldLists: [],
    failItems: new Set(),
    listDelay: 0,
    onListed: null,
    dateFor: null,
  };

  const now = () => new Date(Date.now() + state.clockOffsetMs);

  function send(res, status, body, headers = {}) {
    const date = state.dateFor ? state.dateFor(now()) : now().toUTCString();
    res.writeHead(status, { 'content-type': 'application/json', date, ...headers });
    res.end(JSON.stringify(body));
  }

  function add({ title, type = 'Initiative', status = 'Planned', objectives = [], labels = [] }) {
    const id = state.nextId++;
    const item = {
      id, shortId: `IN-${id}`, type: { name: type }, title,
      status: { id: `st-${status}`, name: status },
      objectives: objectives.map((t, i) => ({ id: `obj-${id}-${i}`, title: t })),
      labels,
      webUrl: `https://app.craft.io/item/${id}`,
      updateTime: now().toISOString(),
    };
    state.items.set(String(id), item);
    return item;
  }

  function update(id, { title, status, objectives }) {
    const item = state.items.get(String(id));
    if (title !== undefined) item.title = title;
    if (status !== undefined) item.status = { id: `st-${status}`, name: status };
    if (objectives !== undefined)
      item.objectives = objectives.map((t, i) => ({ id: `obj-${id}-${i}`, title: t }));
    item.updateTime = now().toISOString();
    return item;
  }

  function listItems(res, url) {
    const page = Number(url.searchParams.get('page') ?? 1);
    const limit = Number(url.searchParams.get('limit') ?? 50);
    const type = url.searchParams.get('type');
    const from = url.searchParams.get('updated_from');
    const all = [...state.items.values()]
      .filter((i) => type === null || i.type.name === type)
      .filter((i) => from === null || Date.parse(i.updateTime) >= Date.parse(from));
    const totalPages = Math.max(1, Math.ceil(all.length / limit));
    const body = JSON.parse(JSON.stringify({
      items: all.slice((page - 1) * limit, page * limit),
      metadata: { currentPage: page, perPage: limit, totalPages, totalRecords: all.length },
    }));
    state.onListed?.();
    if (state.listDelay > 0) return setTimeout(() => send(res, 200, body), state.listDelay);
    return send(res, 200, body);
  }

  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const url = new URL(req.url, 'http://127.0.0.1');
      state.requests.push({ method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams),
        headers: req.headers });
      if (state.down) return send(res, 500, { message: 'Internal error' });
      if (state.rateLimitNext > 0) {
        state.rateLimitNext--;
        return send(res, 429, { message: 'Too many requests' }, { 'retry-after': '1' });
      }
      if (req.headers[state.header.toLowerCase()] !== state.apiKey)
        return send(res, 401, { message: 'Unauthorized' });
      const p = url.pathname;
      if (p === '/me/api-key') {
        if (state.noMe) return send(res, 404, { message: 'Not found' });
        return send(res, 200, { userId: 'u1', accountId: 'acc-1', scopes: ['read:items:craft'],
          resourceScope: {}, mcpAccess: false });
      }
      if (p === '/workspaces')
        return send(res, 200, [{ id: state.workspaceId, name: 'Product', key: 'PRD', webUrl: 'https://app.craft.io/ws' }]);
      const items = /^\/workspace\/([^/]+)\/items$/.exec(p);
      if (items) {
        if (items[1] !== state.workspaceId) return send(res, 404, { message: 'Workspace not found' });
        if (state.holdList) return state.heldLists.push(() => listItems(res, url));
        return listItems(res, url);
      }
      const one = /^\/item\/([^/]+)$/.exec(p);
      if (one) {
        if (state.failItems.has(one[1])) return send(res, 500, { message: 'Item unavailable' });
        const item = state.items.get(one[1]);
        const answer = () => (item ? send(res, 200, item) : send(res, 404, { message: 'Item not found' }));
        if (state.holdItem) return state.heldItems.push(answer);
        return state.itemDelay > 0 ? setTimeout(answer, state.itemDelay) : answer();
      }
      return send(res, 404, { message: 'Not found' });
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    state,
    add,
    update,
    requestsTo(re) { return state.requests.filter((r) => re.test(r.path)); },
    touchAll() {
      const time = now().toISOString();
      for (const item of state.items.values()) item.updateTime = time;
    },
    releaseList() {
      state.holdList = false;
      for (const answer of state.heldLists.splice(0)) answer();
    },
    releaseItems() {
      state.holdItem = false;
      for (const answer of state.heldItems.splice(0)) answer();
    },
    close() {
      server.closeAllConnections?.();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
