// SPDX-License-Identifier: GPL-3.0-or-later
//
// The hub's REST API with the session's bearer token. A 401 sends the user
// back to the sign-in form with the hub's reason.

import { expire, refusalReason } from './session.js';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// Every page of a paged list (GET /api/prds, GET /api/prds/{id}/versions,
// docs/protocol.md "PRD and version lists are paged"): `request` reads one
// path; the pages' `key` entries are joined into one answer of the first
// page's shape, so that the list shown is never cut at a page. Stops at a
// nextAfter of null, or none (a hub from before paging sends the whole
// list), or one it sent already (a hub that would never end).
// At most this many pages of 100 in one list.
export const MAX_PAGES = 10000;

export async function allPages(request, path, key, maxPages = MAX_PAGES) {
  const sep = path.includes('?') ? '&' : '?';
  const seen = new Set();
  let page = await request('GET', `${path}${sep}limit=100`);
  const all = { ...page, [key]: [...page[key]] };
  for (let pages = 1; page.nextAfter !== undefined && page.nextAfter !== null; pages++) {
    // A list that would never end (a cursor that is not a string or comes
    // again, an empty page promising more, too many pages) is an error.
    if (typeof page.nextAfter !== 'string' || seen.has(page.nextAfter) ||
        page[key].length === 0 || pages >= maxPages) {
      throw new Error(`The hub's list does not end (page ${pages})`);
    }
    seen.add(page.nextAfter);
    page = await request('GET', `${path}${sep}limit=100&after=${encodeURIComponent(page.nextAfter)}`);
    all[key].push(...page[key]);
  }
  all.nextAfter = null;
  return all;
}

export function createApi(session) {
  async function request(method, path, { body, accept = 'json' } = {}) {
    const headers = { Authorization: `Bearer ${session.token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
    if (res.status === 401) {
      const err = await res.json().catch(() => ({}));
      expire(refusalReason(err.code, err.message), err.code ?? 'AUTHENTICATION_FAILED');
      throw new ApiError(401, err.code ?? 'AUTHENTICATION_FAILED', err.message ?? 'authentication failed');
    }
    if (!res.ok) {
      let code = `HTTP_${res.status}`;
      let message = res.statusText || `HTTP ${res.status}`;
      const text = await res.text();
      try {
        const err = JSON.parse(text);
        code = err.code ?? code;
        message = err.message ?? message;
      } catch { /* not JSON */ }
      throw new ApiError(res.status, code, message);
    }
    if (res.status === 204) return null;
    if (accept === 'text') return res.text();
    if (accept === 'response') return res;
    return res.json();
  }

  return {
    request,
    listPrds: (archived) => allPages(request, archived ? `/api/prds?archived=${archived}` : '/api/prds', 'prds'),
    getPrd: (id) => request('GET', `/api/prds/${encodeURIComponent(id)}`),
    createPrd: (title, content) => request('POST', '/api/prds', { body: content === undefined ? { title } : { title, content } }),
    updatePrd: (id, fields) => request('PATCH', `/api/prds/${encodeURIComponent(id)}`, { body: fields }),
    deletePrd: (id) => request('DELETE', `/api/prds/${encodeURIComponent(id)}`),
    versions: (id) => allPages(request, `/api/prds/${encodeURIComponent(id)}/versions`, 'versions'),
    versionText: (id, v) => request('GET', `/api/prds/${encodeURIComponent(id)}/versions/${encodeURIComponent(v)}`, { accept: 'text' }),
    diff: (id, from, to) => request('GET', `/api/prds/${encodeURIComponent(id)}/diff?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`, { accept: 'text' }),
    presence: (ids) => request('GET', `/api/presence?prdIds=${ids.map(encodeURIComponent).join(',')}`),
    activity: (org, limit = 30) => request('GET', `/api/activity?organizationId=${encodeURIComponent(org)}&limit=${limit}`),
    /** The methods /api/prds/{id} allows (from a 405's Allow), or null if unknown. */
    async allowedMethods(id) {
      const res = await fetch(`/api/prds/${encodeURIComponent(id)}`, {
        method: 'OPTIONS',
        headers: { Authorization: `Bearer ${session.token}` },
        cache: 'no-store',
      });
      const allow = res.headers.get('Allow') ?? res.headers.get('Access-Control-Allow-Methods');
      if (!allow) return null;
      return new Set(allow.split(',').map((m) => m.trim().toUpperCase()));
    },
  };
}
