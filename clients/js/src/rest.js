// SPDX-License-Identifier: GPL-3.0-or-later
//
// PrdRestClient: the hub's REST API (`/api/…`, `/healthz`) with the same
// JWT as the sockets, over the platform's fetch (Node >= 18, browsers).

import { PrdClientError } from './errors.js';

export class PrdRestClient {
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
    const res = await this._fetch(this.url + path, { method, headers, body: data });
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

  /**
   * The organization's PRDs: those not archived (default), with
   * `{ archived: true }` only the archived ones, with `{ archived: 'all' }` both.
   */
  async listPrds({ archived } = {}) {
    let q = '';
    if (archived !== undefined) {
      if (archived !== true && archived !== false && archived !== 'all') {
        throw new TypeError('archived must be true, false or "all"');
      }
      q = `?archived=${archived}`;
    }
    return (await this._call('GET', `/api/prds${q}`)).prds;
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

  /** The PRD's versions, oldest first. */
  async listVersions(prdId) {
    return (await this._call('GET', `/api/prds/${PrdRestClient._id(prdId, 'prdId')}/versions`)).versions;
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
