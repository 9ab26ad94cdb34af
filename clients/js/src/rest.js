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

  static _id(id) {
    return encodeURIComponent(id);
  }

  /** `GET /healthz`. */
  health() {
    return this._call('GET', '/healthz');
  }

  /** The organization's PRDs. */
  async listPrds() {
    return (await this._call('GET', '/api/prds')).prds;
  }

  /** Creates a PRD (editors and admins); resolves with it (without content). */
  createPrd({ title, content }) {
    return this._call('POST', '/api/prds', { body: content === undefined ? { title } : { title, content } });
  }

  /** One PRD with its content and state vector. */
  getPrd(prdId) {
    return this._call('GET', `/api/prds/${PrdRestClient._id(prdId)}`);
  }

  /** The PRD's text as Markdown. */
  exportMarkdown(prdId) {
    return this._call('GET', `/api/prds/${PrdRestClient._id(prdId)}/export.md`, { text: true });
  }

  /** The PRD's versions, oldest first. */
  async listVersions(prdId) {
    return (await this._call('GET', `/api/prds/${PrdRestClient._id(prdId)}/versions`)).versions;
  }

  /** The text of one version (`X.Y.Z`). */
  getVersionText(prdId, version) {
    return this._call('GET', `/api/prds/${PrdRestClient._id(prdId)}/versions/${encodeURIComponent(version)}`,
      { text: true });
  }

  /** The unified diff between two versions. */
  diff(prdId, from, to) {
    const q = `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
    return this._call('GET', `/api/prds/${PrdRestClient._id(prdId)}/diff?${q}`, { text: true });
  }

  /** The PRD's open comments, with their replies. */
  async listComments(prdId) {
    return (await this._call('GET', `/api/prds/${PrdRestClient._id(prdId)}/comments`)).comments;
  }

  /** One page of the organization's activity feed, newest first. */
  activity({ organizationId, limit, before } = {}) {
    const q = new URLSearchParams({ organizationId });
    if (limit !== undefined) q.set('limit', String(limit));
    if (before !== undefined && before !== null) q.set('before', before);
    return this._call('GET', `/api/activity?${q}`);
  }
}
