// SPDX-License-Identifier: GPL-3.0-or-later
//
// NotificationsClient: the hub's `/notifications` namespace. subscribe()
// delivers the user's unread notifications, then live notifications and the
// organization's activity feed; the subscription is renewed after every
// reconnect. Like client.js it takes socket.io-client's `io` as an option.

import { Emitter } from './emitter.js';
import { PrdClientError } from './errors.js';
import { msOption } from './options.js';

export class NotificationsClient extends Emitter {
  /** @param {{ url: string, token: string, io: Function, socketOptions?: object, requestTimeout?: number }} options */
  constructor(options) {
    super();
    const { url, token, io, socketOptions = {} } = options;
    if (typeof io !== 'function') throw new TypeError('NotificationsClient needs socket.io-client\'s io');
    this.url = url;
    // As PrdClient's: ms above 0, at most 2^31 - 1 (a TypeError otherwise).
    this.requestTimeout = msOption(options, 'requestTimeout', 30000, false);
    this._io = io;
    this._socketOptions = { auth: { token }, ...socketOptions };
    this.socket = null;
    this.organizationId = null;
    this._closed = false;
    this._gaveUp = false; // the last connect() failed for good: the next one tries again
    // connect() and requests under way: close() rejects them `CLOSED`
    // (socket.io would keep them waiting, or time them out).
    this._pending = new Set();
  }

  // @executor's promise, rejected `CLOSED` by close() if still pending.
  _track(event, executor) {
    return new Promise((resolve, reject) => {
      const settle = (fn) => (v) => {
        this._pending.delete(entry);
        fn(v);
      };
      const entry = { reject: settle(reject), event };
      this._pending.add(entry);
      executor(settle(resolve), settle(reject));
    });
  }

  /** Connects to `/notifications`; resolves once the namespace is joined. */
  connect() {
    if (this._closed) return Promise.reject(new PrdClientError('CLOSED', 'client is closed'));
    if (this.socket?.connected) return Promise.resolve();
    return this._track('connect', (resolve, reject) => {
      if (!this.socket) {
        const base = this.url.replace(/\/+$/, '');
        const socket = this._io(`${base}/notifications`, { forceNew: true, ...this._socketOptions });
        this.socket = socket;
        socket.on('connect', () => {
          this.emit('status', 'connected');
          // A reconnect subscribes again (the hub re-sends what is unread).
          if (this.organizationId !== null && this._subscribedOnce) {
            this._subscribe(this.organizationId).catch((err) => this.emit('error', err));
          }
        });
        socket.on('disconnect', (reason) => this.emit('status', 'offline', reason));
        socket.on('notification', (data) => this.emit('notification', data));
        socket.on('activity-update', (data) => this.emit('activity-update', data));
        socket.on('error', (data) => this.emit('error',
          new PrdClientError(data?.code ?? 'ERROR', data?.message ?? 'error', { event: data?.event })));
      }
      const socket = this.socket;
      const manager = socket.io;
      let lastError = null;
      const done = () => {
        socket.off('connect', onConnect);
        socket.off('connect_error', onError);
        manager?.off?.('reconnect_failed', onGaveUp);
      };
      const fail = (err) => {
        done();
        // The next connect() tries again (socket.io will not by itself).
        this._gaveUp = true;
        reject(new PrdClientError(err?.data?.code ?? 'CONNECT_ERROR',
          err?.data?.message ?? err?.message ?? 'socket.io gave up reconnecting', { event: 'connect' }));
      };
      const onConnect = () => {
        done();
        resolve();
      };
      // Final when the hub refused the connection (the socket is no longer
      // active) or with `reconnection: false` (socket.io tries once);
      // otherwise socket.io retries by itself, until `reconnectionAttempts`
      // tries failed (reconnect_failed).
      const onError = (err) => {
        lastError = err;
        // Over the user's rate of namespace connections: a refusal that
        // passes; try again once the hub's retryAfter is over.
        if (err?.data?.code === 'RATE_LIMITED' && !socket.active) {
          const retryAfter = err.data.retryAfter;
          setTimeout(() => {
            if (!this._closed && !socket.active) socket.connect();
          }, Math.max(100, (typeof retryAfter === 'number' ? retryAfter : 1) * 1000));
          return;
        }
        if (socket.active && manager?.reconnection?.() !== false) return;
        fail(err);
      };
      const onGaveUp = () => fail(lastError);
      socket.on('connect', onConnect);
      socket.on('connect_error', onError);
      manager?.on?.('reconnect_failed', onGaveUp);
      if (!socket.connected && (!socket.active || this._gaveUp)) {
        this._gaveUp = false;
        socket.connect();
      }
    });
  }

  // As PrdClient's requests: `CLOSED` after close(), `NOT_JOINED` before
  // connect() (or subscribe(), which connects).
  _request(event, payload) {
    if (this._closed) return Promise.reject(new PrdClientError('CLOSED', 'client is closed', { event }));
    if (!this.socket) return Promise.reject(new PrdClientError('NOT_JOINED', 'connect() first', { event }));
    return this._track(event, (resolve, reject) => {
      this.socket.timeout(this.requestTimeout).emit(event, payload, (err, res) => {
        if (err) reject(new PrdClientError('TIMEOUT', `no answer to ${event}`, { event }));
        else if (!res || res.error) {
          reject(new PrdClientError(res?.error?.code ?? 'ERROR', res?.error?.message ?? `${event} refused`, { event }));
        } else resolve(res);
      });
    });
  }

  async _subscribe(organizationId) {
    const res = await this._request('subscribe', { organizationId });
    return { organizationId: res.organizationId, unread: res.unread };
  }

  /**
   * Subscribes to the organization (the token's): the unread notifications
   * arrive as `notification` events before this resolves with
   * `{ organizationId, unread }`.
   */
  async subscribe(organizationId) {
    if (this._closed) throw new PrdClientError('CLOSED', 'client is closed', { event: 'subscribe' });
    if (!this.socket) await this.connect();
    if (this._closed) throw new PrdClientError('CLOSED', 'client is closed', { event: 'subscribe' });
    const res = await this._subscribe(organizationId);
    this.organizationId = organizationId;
    this._subscribedOnce = true;
    return res;
  }

  /** Marks notifications read; resolves with how many were unread and are now read. */
  async markRead(ids) {
    const { marked } = await this._request('mark-read', { ids });
    return marked;
  }

  /**
   * Sends a fresh token before the current one's `exp` (`refresh-token`);
   * resolves with the hub's ack `{ ok: true, exp }`. The token is kept for
   * later reconnects (offline, that is all it does: `{ ok: true, offline: true }`).
   */
  async refreshToken(token) {
    if (typeof token !== 'string' || token === '') throw new TypeError('token must be a non-empty string');
    if (this._closed) throw new PrdClientError('CLOSED', 'client is closed', { event: 'refresh-token' });
    let res = { ok: true, offline: true };
    if (this.socket?.connected) {
      const { exp } = await this._request('refresh-token', { token });
      res = { ok: true, exp };
    }
    this._socketOptions.auth = { ...this._socketOptions.auth, token };
    if (this.socket) this.socket.auth = { ...(this.socket.auth ?? {}), token };
    return res;
  }

  /** Closes the connection for good; what is under way rejects `CLOSED`. */
  close() {
    this._closed = true;
    if (this.socket) {
      this.socket.disconnect();
      this.socket.removeAllListeners();
    }
    for (const p of [...this._pending]) p.reject(new PrdClientError('CLOSED', 'client is closed', { event: p.event }));
  }
}
