// SPDX-License-Identifier: GPL-3.0-or-later
//
// PrdRestClient: the hub's REST API (`/api/…`, `/healthz`) with the same
// JWT as the sockets, over the platform's fetch (Node >= 18, browsers).

import { PrdClientError } from './errors.js';

export class PrdRestClient {
  // At most this many pages of 100 (a million entries) in one list.
  static MAX_PAGES = 10000;

  /** @param {{ url: string, token: string, fetch?: Function }} options */
  constructor({ url, token, fetch: fetchImpl } = {}) {
    if (typeof url !== 'string' || url === '') throw new TypeError('url must be a string');
    this.url = url.replace(/\/+$/, '');
    this.token = token;
    this._fetch = fetchImpl ?? globalThis.fetch;
    if (typeof this._fetch !== 'function') throw new TypeError('no fetch: pass one as `fetch`');
  }

  async _call(method, path, { body, text = false } = {}) {
    const headers = { authorization: `Bearer ${this.token}` };
    let data;
    if (body !== undefined) {
      data = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    // no-store: a browser keeps no answer (a PRD's text, notifications) in
    // its disk cache; the hub says so too (Cache-Control: no-store).
    const res = await this._fetch(this.url + path, { method, headers, body: data, cache: 'no-store' });
    const raw = await res.text();
    if (!res.ok) {
      let err = null;
      try {
        err = JSON.parse(raw);
      } catch {
        err = null;
      }
      throw new PrdClientError(err?.code ?? `HTTP_${res.status}`, err?.message ?? (raw || res.statusText),
        { status: res.status });
    }
    return text ? raw : JSON.parse(raw);
  }

  // One path segment from an argument (@what names it in the error). `.`
  // and `..` would survive encodeURIComponent and name another route once
  // the URL is resolved (`/api/prds/{id}/versions/..` is the PRD itself),
  // and an empty one another route too: refused before any request.
  static _id(id, what = 'id') {
    if (typeof id !== 'string' || id === '' || id === '.' || id === '..') {
      throw new PrdClientError('INVALID_ID',
        `${what} must be a non-empty string other than "." and ".." (got ${JSON.stringify(id) ?? String(id)})`);
    }
    return encodeURIComponent(id);
  }

  /** `GET /healthz`. */
  health() {
    return this._call('GET', '/healthz');
  }

  // Pages through a list route: `page(after)` resolves with one page,
  // `items(page)` its entries; stops at a `nextAfter` of null (or none: a
  // hub from before lists were paged answers with the whole list), or at a
  // cursor the hub gave already (it would never end otherwise).
  // Reads every page. A hub that never ends the list (a cursor that is not
  // a string, one given before, a page with nothing in it that promises
  // more, or more than MAX_PAGES pages) ends it with INVALID_PAYLOAD:
  // walking on would never stop.
  static async _all(page, items) {
    const all = [];
    const seen = new Set();
    let after = null;
    for (let pages = 1; ; pages++) {
      const p = await page(after);
      const got = items(p);
      all.push(...got);
      const next = p.nextAfter;
      if (next === undefined || next === null) return all;
      if (typeof next !== 'string' || seen.has(next) || got.length === 0 ||
          pages >= PrdRestClient.MAX_PAGES) {
        throw new PrdClientError('INVALID_PAYLOAD',
          `The hub's list does not end (page ${pages}, nextAfter ${JSON.stringify(next)})`);
      }
      seen.add(next);
      after = next;
    }
  }

  static _archivedQuery(q, archived) {
    if (archived === undefined) return;
    if (archived !== true && archived !== false && archived !== 'all') {
      throw new TypeError('archived must be true, false or "all"');
    }
    q.set('archived', String(archived));
  }

  /**
   * One page of the organization's PRDs, oldest first: `{ prds, nextAfter }`
   * (`nextAfter`: pass it as `after` for the next page; null on the last).
   * `limit` 1–100 (the hub's default 100); `archived` as for listPrds().
   */
  listPrdsPage({ archived, limit, after } = {}) {
    const q = new URLSearchParams();
    PrdRestClient._archivedQuery(q, archived);
    if (limit !== undefined) q.set('limit', String(limit));
    if (after !== undefined && after !== null) q.set('after', after);
    const qs = q.toString();
    return this._call('GET', `/api/prds${qs ? `?${qs}` : ''}`);
  }

  /**
   * The organization's PRDs, oldest first: those not archived (default),
   * with `{ archived: true }` only the archived ones, with
   * `{ archived: 'all' }` both. Every page of them (one request per 100),
   * or with `limit` (1–100) only the first `limit`.
   */
  async listPrds({ archived, limit } = {}) {
    PrdRestClient._archivedQuery(new URLSearchParams(), archived);
    if (limit !== undefined) return (await this.listPrdsPage({ archived, limit })).prds;
    return PrdRestClient._all((after) => this.listPrdsPage({ archived, limit: 100, after }),
      (p) => p.prds);
  }

  /** Creates a PRD (editors and admins); resolves with it (without content). */
  createPrd({ title, content }) {
    return this._call('POST', '/api/prds', { body: content === undefined ? { title } : { title, content } });
  }

  /** One PRD with its content and state vector. */
  async getPrd(prdId) {
    return this._call('GET', `/api/prds/${PrdRestClient._id(prdId, 'prdId')}`);
  }

  /**
   * Renames, archives or unarchives a PRD (editors and admins): `{ title?,
   * archived? }`, at least one. Resolves with the PRD as it is now.
   */
  async updatePrd(prdId, { title, archived } = {}) {
    const body = {};
    if (title !== undefined) body.title = title;
    if (archived !== undefined) body.archived = archived;
    return this._call('PATCH', `/api/prds/${PrdRestClient._id(prdId, 'prdId')}`, { body });
  }

  /** Archives a PRD (read-only, out of the default list); resolves with it. */
  async archivePrd(prdId) {
    return this.updatePrd(prdId, { archived: true });
  }

  /** Unarchives a PRD; resolves with it. */
  async unarchivePrd(prdId) {
    return this.updatePrd(prdId, { archived: false });
  }

  /**
   * Deletes a PRD (its owner, or an admin); with `purgeVersions: true` its
   * version tags go too. Resolves with `{ prdId, deleted, purgedVersions }`.
   */
  async deletePrd(prdId, { purgeVersions } = {}) {
    const q = purgeVersions === undefined ? '' : `?purgeVersions=${purgeVersions === true}`;
    return this._call('DELETE', `/api/prds/${PrdRestClient._id(prdId, 'prdId')}${q}`);
  }

  /**
   * Creates a version of the PRD's text (editors and admins); resolves with
   * the version. An unchanged text is refused with `VERSION_UNCHANGED`
   * unless `force: true`.
   */
  async createVersion(prdId, { changelog, versionType, force } = {}) {
    const body = { changelog };
    if (versionType !== undefined) body.versionType = versionType;
    if (force !== undefined) body.force = force;
    return this._call('POST', `/api/prds/${PrdRestClient._id(prdId, 'prdId')}/versions`, { body });
  }

  /** The PRD's text as Markdown. */
  async exportMarkdown(prdId) {
    return this._call('GET', `/api/prds/${PrdRestClient._id(prdId, 'prdId')}/export.md`, { text: true });
  }

  /**
   * One page of the PRD's versions, oldest first: `{ prdId, versions,
   * nextAfter }` (`nextAfter`: pass it as `after` for the next page; null
   * on the last). `limit` 1–100 (the hub's default 100).
   */
  listVersionsPage(prdId, { limit, after } = {}) {
    const q = new URLSearchParams();
    if (limit !== undefined) q.set('limit', String(limit));
    if (after !== undefined && after !== null) q.set('after', after);
    const qs = q.toString();
    return this._call('GET',
      `/api/prds/${PrdRestClient._id(prdId, 'prdId')}/versions${qs ? `?${qs}` : ''}`);
  }

  /**
   * The PRD's versions, oldest first: every page of them (one request per
   * 100), or with `limit` (1–100) only the first `limit`.
   */
  async listVersions(prdId, { limit } = {}) {
    PrdRestClient._id(prdId, 'prdId');
    if (limit !== undefined) return (await this.listVersionsPage(prdId, { limit })).versions;
    return PrdRestClient._all((after) => this.listVersionsPage(prdId, { limit: 100, after }),
      (p) => p.versions);
  }

  /** The text of one version (`X.Y.Z`). */
  async getVersionText(prdId, version) {
    const path = `/api/prds/${PrdRestClient._id(prdId, 'prdId')}/versions/${PrdRestClient._id(version, 'version')}`;
    return this._call('GET', path, { text: true });
  }

  /** The unified diff between two versions. */
  async diff(prdId, from, to) {
    const q = `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
    return this._call('GET', `/api/prds/${PrdRestClient._id(prdId, 'prdId')}/diff?${q}`, { text: true });
  }

  /** The PRD's open comments, with their replies. */
  async listComments(prdId) {
    return (await this._call('GET', `/api/prds/${PrdRestClient._id(prdId, 'prdId')}/comments`)).comments;
  }

  /**
   * One page of the caller's notifications, newest first:
   * `{ notifications, nextBefore }` (each with `read`).
   */
  notifications({ unread, limit, before } = {}) {
    const q = new URLSearchParams();
    if (unread !== undefined) q.set('unread', String(unread === true));
    if (limit !== undefined) q.set('limit', String(limit));
    if (before !== undefined && before !== null) q.set('before', before);
    const qs = q.toString();
    return this._call('GET', `/api/notifications${qs ? `?${qs}` : ''}`);
  }

  /** Marks notifications read; resolves with how many were unread and are now read. */
  async markNotificationsRead(ids) {
    return (await this._call('POST', '/api/notifications/read', { body: { ids } })).marked;
  }

  /** The organization's Socket.IO connections (admins). */
  async listSessions() {
    return (await this._call('GET', '/api/sessions')).sessions;
  }

  /** One page of the organization's activity feed, newest first. */
  activity({ organizationId, limit, before } = {}) {
    const q = new URLSearchParams({ organizationId });
    if (limit !== undefined) q.set('limit', String(limit));
    if (before !== undefined && before !== null) q.set('before', before);
    return this._call('GET', `/api/activity?${q}`);
  }
}
