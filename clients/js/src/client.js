// SPDX-License-Identifier: GPL-3.0-or-later
//
// PrdClient: one collaborative PRD over the hub's `/prds` Socket.IO
// namespace. Local edits are applied at once and sent as content-update
// operations; remote operations are integrated with the hub's CRDT
// algorithm (crdt.js); unacknowledged edits survive disconnects and are sent
// again, with the same ids, after the client rejoins.
//
// This module does not import socket.io-client itself: pass `io` (index.js
// does that for you), so that an application can bring its own copy.

import { CrdtDoc, CrdtError, isWellFormed } from './crdt.js';
import { Emitter } from './emitter.js';
import { PrdClientError } from './errors.js';
import { countOption, describe, msOption } from './options.js';

// Joining again after a refusal that passes (the hub could not store an
// edit, a rejoin refused RATE_LIMITED or LIMIT_REACHED, …): from 0.5 s,
// doubling to 8 s, each wait jittered down to half so that the clients a
// hub turned away together do not all come back together.
const REJOIN_RETRY_MIN_MS = 500;
const REJOIN_RETRY_MAX_MS = 8000;
// Refusals of a join that joining again will not change: the PRD is gone,
// the user may not open it, the token is refused, the request is malformed.
// Any other (RATE_LIMITED, LIMIT_REACHED, STORAGE_ERROR, INTERNAL_ERROR,
// TIMEOUT, …) passes: a rejoin refused so is tried again.
const FINAL_JOIN_CODES = new Set(['PRD_NOT_FOUND', 'FORBIDDEN', 'AUTHENTICATION_FAILED', 'TOKEN_EXPIRED',
  'TOKEN_REVOKED']);
const isFinalJoinRefusal = (code) => FINAL_JOIN_CODES.has(code) || String(code).startsWith('INVALID_');
const ARCHIVED_RETRY_MIN_MS = 1000;
const ARCHIVED_RETRY_MAX_MS = 60000;
const STATUSES = new Set(['viewing', 'editing', 'ai-prompting']);

export { PrdClientError };
// The other clients, unbound like this one (see index.js for bound ones).
export { NotificationsClient } from './notifications.js';
export { PrdRestClient } from './rest.js';
export { Emitter } from './emitter.js';

// 128 random bits as 22 base64url characters. Uniqueness is all that
// matters (the hub compares it only between replicas of one user): Web
// Crypto where there is one (browsers, node >= 19), Math.random otherwise.
function newReplicaId() {
  const bytes = new Uint8Array(16);
  if (globalThis.crypto?.getRandomValues) globalThis.crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  let id = '';
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = ((value << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      id += alphabet[(value >> bits) & 63];
    }
  }
  if (bits > 0) id += alphabet[(value << (6 - bits)) & 63];
  return id;
}

function decodeJwtSub(token) {
  try {
    const part = String(token).split('.')[1];
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const json = typeof Buffer !== 'undefined'
      ? Buffer.from(b64, 'base64').toString('utf8')
      : decodeURIComponent(escape(atob(b64)));
    return JSON.parse(json).sub ?? null;
  } catch {
    return null;
  }
}

// Sends `refresh-token` on @client's socket when it is connected (the hub
// checks the token; resolves with its ack `{ ok: true, exp }`) and keeps the
// token for every later connect. Offline, only the latter (and resolves with
// `{ ok: true, offline: true }`). A refused token changes nothing.
async function refreshSocketToken(client, token) {
  if (typeof token !== 'string' || token === '') throw new TypeError('token must be a non-empty string');
  let res = { ok: true, offline: true };
  if (client.socket?.connected) {
    // Not about the PRD: needs no join (and may come before one).
    const { exp } = await client._send('refresh-token', { token });
    res = { ok: true, exp };
  }
  client._socketOptions.auth = { ...client._socketOptions.auth, token };
  if (client.socket) client.socket.auth = { ...(client.socket.auth ?? {}), token };
  return res;
}

// One delete and one insert that turn @a into @b (common prefix and suffix kept).
export function diffDeltas(a, b) {
  if (a === b) return [];
  let p = 0;
  const max = Math.min(a.length, b.length);
  while (p < max && a.charCodeAt(p) === b.charCodeAt(p)) p++;
  let s = 0;
  while (s < max - p && a.charCodeAt(a.length - 1 - s) === b.charCodeAt(b.length - 1 - s)) s++;
  // keep surrogate pairs whole
  if (p > 0 && p < a.length && a.charCodeAt(p) >= 0xdc00 && a.charCodeAt(p) < 0xe000) p--;
  const deltas = [];
  const delLen = a.length - s - p;
  if (delLen > 0) deltas.push({ type: 'delete', position: p, length: delLen });
  const ins = b.slice(p, b.length - s);
  if (ins.length > 0) deltas.push({ type: 'insert', position: p, text: ins });
  return deltas;
}

// What the hub sends of a comment's selected text (docs/protocol.md,
// "Limits"): its first 1000 UTF-16 code units, a surrogate pair that would
// cross that left out, `textTruncated` when cut.
const COMMENT_QUOTE_MAX = 1000;

function commentQuote(text, start, end) {
  let cut = Math.min(end, start + COMMENT_QUOTE_MAX);
  if (cut < end && cut > start) {
    const c = text.charCodeAt(cut - 1);
    if (c >= 0xd800 && c < 0xdc00) cut--;
  }
  return { text: text.slice(start, cut), textTruncated: cut < end };
}

// The hub refuses any string holding U+0000 (INVALID_PAYLOAD, as it does
// a lone surrogate): an insert holding one is refused before the replica
// takes it, or it would stay there, refused, with the edits after it.
function checkNoNul(text) {
  const at = text.indexOf('\u0000');
  if (at >= 0) throw new CrdtError('INVALID_OPERATION', `Inserted text holds U+0000 (at ${at}), which the hub refuses`);
}

function shiftPosition(pos, delta, own) {
  if (typeof pos !== 'number') return pos;
  if (delta.type === 'insert') {
    if (pos > delta.position || (own && pos === delta.position)) return pos + delta.text.length;
    return pos;
  }
  if (pos <= delta.position) return pos;
  return Math.max(delta.position, pos - delta.length);
}

/**
 * @typedef {object} PrdClientOptions
 * @property {string} url        hub base URL, e.g. http://127.0.0.1:8080
 * @property {string} token      JWT for the Socket.IO handshake (auth.token)
 * @property {string} prdId      the PRD to join
 * @property {'edit'|'view'} [mode]
 * @property {Function} io       socket.io-client's `io`
 * @property {object} [socketOptions] extra options for io()
 * @property {number} [maxInFlight] content-updates sent before their acks (64)
 * @property {number} [presenceInterval] ms between presence-update sends (50)
 * @property {number} [maxCoalesce] longest insert unsent typing is merged into (4096)
 * @property {number} [maxOperationSize] longest insert or delete sent as one
 *   operation, the hub's `[collab] max-operation-size` (65536)
 */
export class PrdClient extends Emitter {
  /** @param {PrdClientOptions} options */
  constructor(options) {
    super();
    const { url, token, prdId, mode = 'edit', io, socketOptions = {} } = options;
    if (typeof io !== 'function') throw new TypeError('PrdClient needs socket.io-client\'s io');
    if (typeof prdId !== 'string' || prdId === '') throw new TypeError('prdId must be a string');
    if (mode !== 'edit' && mode !== 'view') throw new TypeError('mode must be "edit" or "view"');
    this.url = url;
    this.prdId = prdId;
    this.mode = mode;
    this.userId = decodeJwtSub(token);
    // Counts and sizes are whole numbers of at least 1, delays numbers of
    // ms: a 0, NaN or fraction would never send anything, cut a paste into
    // empty pieces forever, or time every request out at once.
    this.maxInFlight = countOption(options, 'maxInFlight', 64);
    this.presenceInterval = msOption(options, 'presenceInterval', 50, true);
    this.maxCoalesce = countOption(options, 'maxCoalesce', 4096);
    // What the caller allows; the hub's own limit (joined-prd) may be lower.
    this._maxOperationSizeOption = countOption(options, 'maxOperationSize', 65536);
    this.maxOperationSize = this._maxOperationSizeOption;
    this.maxDocumentSize = null; // the hub's [collab] max-document-size, from the join
    this.requestTimeout = msOption(options, 'requestTimeout', 30000, false);
    this._io = io;
    this._socketOptions = { auth: { token }, ...socketOptions };

    this.doc = new CrdtDoc();
    this.siteId = null;
    // Names this replica to the hub (join-prd's replicaId), so that the hub
    // gives the site back only to the replica that wrote with it last.
    this.replicaId = newReplicaId();
    this.title = null;
    this.version = null;
    this.joined = false;
    this.grantedMode = null; // the mode of the last joined-prd
    this.archived = false;
    this.deleted = false;
    this._everJoined = false;
    this._queue = []; // unacknowledged local ops: { op, wire, vector, sent, n }
    // Local edits are numbered (an entry's `n`; the pieces it is re-applied
    // as keep it): "the edits made before a call" are those numbered at
    // most _edits at the call (_ready).
    this._edits = 0;
    this._rebases = 0; // bumped when _rebase gives unacknowledged edits new ids
    this._ackWaiters = new Set(); // _ready() waiting for edits' acks: { done, resolve, reject, timer }
    this._held = null; // edits kept through a join without a site: { pending, old, site }
    // The hub refused an edit as larger than its max-operation-size: the
    // next join re-applies the unsent edits in pieces it takes.
    this._resplit = false;
    // The hub refused the queue as archived before this client heard so:
    // nothing is sent until it is unarchived (or a retry finds it is).
    this._archivedHold = false;
    this._archivedRetryMs = ARCHIVED_RETRY_MIN_MS;
    this._gen = 0; // bumped whenever in-flight acks must be ignored
    this._inFlight = 0;
    this._retryAfterMs = 1000;
    this._rejoinRetryMs = REJOIN_RETRY_MIN_MS;
    this._rejoinTimer = null;
    this._joinSent = false; // a join-prd awaits its answer on this connection
    this._joinRefusal = null; // the final refusal of the last rejoin, until the next join
    this._syncWaiters = new Set(); // whenSynced() calls: { resolve, reject }
    this._timers = new Set();
    this._flushTimer = null;
    this._syncTimer = null;
    this._syncing = false;
    // The hub refused an edit this replica holds: its text differs from the
    // hub's until a full state is adopted (a full sync-response, or a
    // join). Nothing is sent meanwhile, and the client is not synced.
    this._resync = false;
    // The first character (clock) of this site's inserts the hub refused,
    // until the hub's state is adopted: nothing in the hub has that id.
    this._refusedFrom = Infinity;
    this._syncFull = false; // the sync-request under way asked for the full state
    this._presenceTimer = null;
    this._presenceDirty = false;
    this._lastPresenceSend = 0;
    this._presence = { status: mode === 'edit' ? 'editing' : 'viewing', cursorPosition: null, selection: null };
    this.users = new Map();
    this.comments = new Map(); // open comments by commentId, anchors in this replica's text
    this._waitingComments = new Map(); // commentId -> comment-added placed in operations not here yet
    this.conflicts = new Map(); // this user's open conflicts by conflictId
    this._aiJobs = new Map(); // jobId -> { waiters, result } (finished ones kept a while)
    this._reviews = new Map(); // reviewId -> { suggestions, resolve, reject }
    this.socket = null;
    this._closed = false; // close() was called, or the session ended
    this._ended = false; // the session ended (close() first sends the edits made before it)
    this._closing = null;
    this._joinWaiters = [];
    this._lastConnectError = null; // the last failed try while socket.io retries
  }

  // ---- connection ------------------------------------------------------------------

  /**
   * Connects and joins; resolves with the joined-prd payload. Connected
   * but not joined (a rejoin refused, or its retry waiting), joins at once.
   */
  connect() {
    if (this._closed) return Promise.reject(new PrdClientError('CLOSED', 'client is closed'));
    const p = this._waitJoined();
    if (!this.socket) {
      const base = this.url.replace(/\/+$/, '');
      const socket = this._io(`${base}/prds`, { forceNew: true, ...this._socketOptions });
      this.socket = socket;
      this._wire(socket);
    } else if (!this.socket.connected) {
      this._joinRefusal = null;
      this.socket.connect();
    } else if (!this.joined && !this._joinSent) {
      // Connected but not joined (a join refused, or waiting to be tried
      // again): join now rather than wait for a join nobody sends.
      this._cancelRejoin();
      this._join();
    }
    return p;
  }

  _waitJoined() {
    if (this.joined) return Promise.resolve(this._lastJoined);
    return new Promise((resolve, reject) => this._joinWaiters.push({ resolve, reject }));
  }

  _settleJoin(err, value) {
    const waiters = this._joinWaiters;
    this._joinWaiters = [];
    for (const w of waiters) (err ? w.reject(err) : w.resolve(value));
  }

  _wire(socket) {
    socket.on('connect', () => {
      this._lastConnectError = null;
      this.emit('status', 'connected');
      this._join();
    });
    socket.on('connect_error', (err) => {
      const data = err && err.data;
      const code = data?.code ?? 'CONNECT_ERROR';
      const e = new PrdClientError(code, data?.message ?? err.message, { event: 'connect' });
      this.emit('error', e);
      // Over the user's rate of namespace connections ([rate-limit]
      // connect): socket.io will not retry a refused CONNECT by itself, but
      // this refusal passes; try again once the hub's retryAfter is over.
      if (code === 'RATE_LIMITED' && !socket.active) {
        this._lastConnectError = e;
        const ms = Math.max(100, (typeof data?.retryAfter === 'number' ? data.retryAfter : 1) * 1000);
        this._timer(() => {
          if (!this._closed && this.socket === socket && !socket.active) socket.connect();
        }, ms);
        return;
      }
      // The hub refused the handshake (a token expired, revoked or refused,
      // a malformed auth): socket.io will not retry, so it is final. So is
      // any failed try with `reconnection: false` (socket.io tries once,
      // and the socket stays active): connect() rejects CONNECT_ERROR.
      if (!socket.active || socket.io?.reconnection?.() === false) this._refusedForGood(e);
      else this._lastConnectError = e;
    });
    // Retrying, socket.io gave up (`reconnectionAttempts` tries failed):
    // final as well, with the last try's error.
    socket.io?.on?.('reconnect_failed', () => {
      if (this.socket !== socket || socket.connected) return;
      this._refusedForGood(this._lastConnectError ??
        new PrdClientError('CONNECT_ERROR', 'socket.io gave up reconnecting', { event: 'connect' }));
    });
    socket.on('disconnect', (reason) => {
      this._offline();
      this.emit('status', 'offline', reason);
    });
    socket.on('joined-prd', (data) => this._onJoined(data));
    socket.on('content-update', (data) => this._onRemoteUpdate(data));
    socket.on('batch-update', (data) => this._onBatch(data));
    socket.on('presence-update', (data) => this._onPresence(data));
    socket.on('user-joined', (data) => this._onUserJoined(data));
    socket.on('user-left', (data) => this._onUserLeft(data));
    socket.on('sync-response', (data) => this._onSyncResponse(data));
    socket.on('prd-updated', (data) => this._onPrdUpdated(data));
    socket.on('prd-deleted', (data) => this._onPrdDeleted(data));
    this._wireFeatures(socket);
    socket.on('rate-limit', (data) => {
      if (typeof data?.retryAfter === 'number') this._retryAfterMs = Math.max(100, data.retryAfter * 1000);
    });
    socket.on('storage-status', (data) => {
      this.emit('storage-status', data);
      // The hub stores again: no need to wait for the next retry.
      if (data?.ok && this._rejoinTimer !== null) {
        this._cancelRejoin();
        if (this.socket?.connected && !this.joined && !this._joinSent) this._join();
      }
    });
    socket.on('error', (data) => {
      if (data && data.prdId !== undefined && data.prdId !== this.prdId) return;
      // The hub could not store an edit of this PRD and closed it: nothing
      // of ours was lost (unacknowledged edits stay queued); join again.
      if (data?.code === 'STORAGE_ERROR' && data.prdId === this.prdId) {
        const reported = this._rejoinTimer !== null;
        this._storageFailed();
        if (!reported) this.emit('error', new PrdClientError(data.code, data.message ?? 'storage error', { event: data.event }));
        return;
      }
      // Refusals of requests that carried an ack are reported from the ack.
      if (data && (data.event === 'content-update' || data.event === 'join-prd' || data.event === 'sync-request' ||
        data.event === 'ai-job-status')) return;
      this.emit('error', new PrdClientError(data?.code ?? 'ERROR', data?.message ?? 'error', { event: data?.event }));
    });
  }

  _join() {
    const payload = { prdId: this.prdId, mode: this.mode, replicaId: this.replicaId };
    if (this.siteId !== null) {
      payload.siteId = this.siteId;
      payload.stateVector = this.doc.stateVector();
      // The first of its operations the hub has not acknowledged: the hub
      // gives the site back only if nobody took those ids meanwhile.
      payload.pendingFrom = this._queue.length > 0 ? this._queue[0].op.seq : this.doc.siteOps(this.siteId) + 1;
    } else if (this._held) {
      // Edits held through a join without a site (an archived PRD): the
      // site they were made under, with the replica's vector and the first
      // of them, as a reconnect sends its queue's. Without them the hub
      // sees no local state and may give this replica the user's free site
      // with history (another device's operations may have deleted the
      // character an insert was typed after), not a site with no
      // operations and siteConflict.
      const held = this._held;
      payload.siteId = held.site;
      payload.stateVector = held.old.stateVector();
      payload.pendingFrom = held.pending[0].op.seq;
    }
    const gen = this._gen;
    this._joinSent = true;
    this._joinRefusal = null;
    this.socket.emit('join-prd', payload, (res) => {
      if (gen === this._gen) this._joinSent = false;
      if (res && res.error)
        this._joinRefused(gen, new PrdClientError(res.error.code, res.error.message, { event: 'join-prd' }));
    });
  }

  // Joins again while joined, for the hub's state (or limits): not joined
  // until it answers, so that a refusal that passes (RATE_LIMITED, …) is
  // tried again like any rejoin's, instead of leaving the client waiting
  // (resyncing) for good.
  _joinAgain() {
    this.joined = false;
    this._join();
  }

  // The hub refused a join-prd sent in generation @gen with @e (reported as
  // an `error` every time). The first join's refusal rejects connect(); a
  // rejoin's that passes (RATE_LIMITED, LIMIT_REACHED, STORAGE_ERROR, …) is
  // tried again after the rejoin backoff (RATE_LIMITED not before the
  // hub's retryAfter), and whoever waits for the join waits on; a final one
  // rejects them, and whenSynced() with them.
  _joinRefused(gen, e) {
    this.emit('error', e);
    if (this._ended) return;
    // The PRD this client had joined is gone (deleted while offline).
    if (e.code === 'PRD_NOT_FOUND' && this._everJoined) {
      this.deleted = true;
      this._end('deleted');
      return;
    }
    if (gen !== this._gen) return;
    if (!this._everJoined) {
      this._settleJoin(e);
      return;
    }
    if (!isFinalJoinRefusal(e.code)) {
      this._scheduleRejoin(e.code === 'RATE_LIMITED' ? this._retryAfterMs : 0);
      return;
    }
    this._refusedForGood(e);
  }

  // A refusal that trying again will not change (a final join refusal, or
  // the hub's refusal of the connection itself): whatever waits for the
  // join rejects with it, whenSynced() included (also one called later,
  // until the next connect or join).
  _refusedForGood(e) {
    this._joinRefusal = e;
    this._settleJoin(e);
    const waiters = [...this._syncWaiters];
    this._syncWaiters.clear();
    for (const w of waiters) w.reject(e);
  }

  // The hub closed the PRD because its database refused a write (full disk):
  // join again after a growing delay (or at once on `storage-status` ok).
  _storageFailed() {
    this.joined = false;
    this._gen++;
    this._joinSent = false;
    this._inFlight = 0;
    for (const e of this._queue) e.sent = false;
    this._scheduleRejoin(0);
  }

  // Joins again, unless joined meanwhile, after at least @minMs plus the
  // next wait of the rejoin backoff (jittered; reset by a join). One retry
  // at a time.
  _scheduleRejoin(minMs) {
    if (this._rejoinTimer !== null) return;
    const step = this._rejoinRetryMs;
    this._rejoinRetryMs = Math.min(step * 2, REJOIN_RETRY_MAX_MS);
    const delay = minMs + step / 2 + Math.random() * (step / 2);
    this._rejoinTimer = this._timer(() => {
      this._rejoinTimer = null;
      if (this.socket?.connected && !this.joined && !this._joinSent) this._join();
    }, delay);
  }

  _cancelRejoin() {
    if (this._rejoinTimer === null) return;
    clearTimeout(this._rejoinTimer);
    this._timers.delete(this._rejoinTimer);
    this._rejoinTimer = null;
  }

  _offline() {
    this.joined = false;
    this._joinSent = false;
    // The connection's own retries end with it: the next connect joins.
    this._cancelRejoin();
    this._gen++;
    this._inFlight = 0;
    for (const e of this._queue) e.sent = false;
    this._syncing = false;
  }

  /** Goes offline (edits continue locally and are sent after reconnect()). */
  disconnect() {
    if (this.socket) this.socket.disconnect();
    this._offline();
  }

  /**
   * Reconnects after disconnect(), or joins at once when connected but not
   * joined; resolves when joined again (rejects with a final refusal).
   */
  reconnect() {
    return this.connect();
  }

  /**
   * Sends a fresh token of the same user before the current one's `exp`
   * (`refresh-token`): the connection then lives until the new `exp`; resolves
   * with the hub's ack `{ ok: true, exp }`, rejects with its code
   * (AUTHENTICATION_FAILED, TOKEN_EXPIRED, TOKEN_REVOKED, FORBIDDEN for
   * another user or role). The token is also used for every later
   * (re)connect; offline, that is all it does (`{ ok: true, offline: true }`).
   * After the hub ended the connection with `TOKEN_EXPIRED` or
   * `TOKEN_REVOKED`, call this with a fresh token, then reconnect().
   */
  refreshToken(token) {
    if (this._closed) return Promise.reject(new PrdClientError('CLOSED', 'client is closed', { event: 'refresh-token' }));
    return refreshSocketToken(this, token);
  }

  /** Whether close() was called or the session ended (the PRD was deleted). */
  get closed() {
    return this._closed;
  }

  /**
   * Leaves the PRD and closes the connection for good. From the call on,
   * edits and requests are refused `CLOSED`; the edits made before it that
   * the hub has not acknowledged yet are still sent while the client is
   * joined, and the returned promise resolves once they are acknowledged,
   * or when they cannot be (the connection drops, the PRD is archived),
   * at most requestTimeout later: the `closed` event's pendingCount counts
   * those dropped. Offline it closes at once.
   */
  close() {
    if (this._closed) return this._closing ?? Promise.resolve();
    this._closed = true;
    const sending = () => this.joined && this.socket?.connected && this._queue.length > 0 &&
      !this._held && !this._archivedHold && !this._ended;
    if (!sending()) {
      this._end('closed');
      return Promise.resolve();
    }
    this._closing = new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        for (const [name, fn] of listeners) this.off(name, fn);
        this._end('closed');
        resolve();
      };
      // After the other listeners of the event (whenSynced() resolves
      // before the session ends), and after a refusal dropped its edits.
      const check = () => queueMicrotask(() => {
        if (!sending()) finish();
      });
      const listeners = [['synced', check], ['status', check], ['error', check], ['closed', check]];
      const timer = setTimeout(finish, this.requestTimeout);
      for (const [name, fn] of listeners) this.on(name, fn);
    });
    this._flush();
    return this._closing;
  }

  _end(reason) {
    if (this._ended) return;
    this._ended = true;
    this._closed = true;
    for (const t of this._timers) clearTimeout(t);
    this._timers.clear();
    if (this.socket) {
      if (this.socket.connected && this.joined) this.socket.emit('leave-prd', { prdId: this.prdId });
      this.socket.disconnect();
      this.socket.removeAllListeners();
    }
    this._offline();
    this._settleJoin(reason === 'deleted'
      ? new PrdClientError('PRD_NOT_FOUND', `${this.prdId} was deleted`)
      : new PrdClientError('CLOSED', 'client is closed'));
    for (const w of this._ackWaiters) {
      clearTimeout(w.timer);
      w.reject(this._closedError());
    }
    this._ackWaiters.clear();
    this.emit('status', 'closed', reason);
    // Every edit dropped: those queued and those held for an archived PRD.
    this.emit('closed', { reason, pendingCount: this.pendingCount });
  }

  // ---- the PRD itself: renamed, archived, deleted ---------------------------------------

  _onPrdUpdated(data) {
    if (!data || data.prdId !== this.prdId || !data.prd) return;
    const wasArchived = this.archived;
    if (typeof data.prd.title === 'string') this.title = data.prd.title;
    if (typeof data.prd.archived === 'boolean') this.archived = data.prd.archived;
    this.emit('prd-updated', data);
    if (wasArchived && !this.archived) this._releaseArchivedHold();
    // Unarchived while this client, which asked to edit, holds a view-mode
    // join (it joined while archived): leave and join again to edit.
    if (wasArchived && !this.archived && this.mode === 'edit' && this.grantedMode === 'view' &&
        this.joined && this.socket?.connected) {
      this.socket.emit('leave-prd', { prdId: this.prdId });
      this._offline();
      this._join();
    }
  }

  // The hub deleted the PRD and took this client out of its room: the
  // session ends (unacknowledged edits are dropped with it).
  _onPrdDeleted(data) {
    if (!data || data.prdId !== this.prdId || this._ended) return;
    this.deleted = true;
    this.joined = false;
    this.emit('prd-deleted', data);
    this._end('deleted');
  }

  _timer(fn, ms) {
    const t = setTimeout(() => {
      this._timers.delete(t);
      fn();
    }, ms);
    this._timers.add(t);
    return t;
  }

  // ---- joining and resynchronising -------------------------------------------------

  _onJoined(data) {
    if (!data || data.prdId !== this.prdId) return;
    const newSite = typeof data.siteId === 'number' ? data.siteId : null;
    if (Number.isInteger(data.maxOperationSize) && data.maxOperationSize > 0)
      this.maxOperationSize = Math.min(this._maxOperationSizeOption, data.maxOperationSize);
    if (Number.isInteger(data.maxDocumentSize) && data.maxDocumentSize > 0) this.maxDocumentSize = data.maxDocumentSize;
    try {
      this._adopt(data.initialState?.encodedState, newSite);
    } catch (err) {
      if (!(err instanceof CrdtError)) throw err;
      const e = new PrdClientError(err.code, `cannot read the hub's state: ${err.message}`, { event: 'joined-prd' });
      this.emit('error', e);
      this._settleJoin(e);
      return;
    }
    this.title = data.title ?? this.title;
    this.version = data.initialState.version ?? this.version;
    this.grantedMode = data.mode ?? this.mode;
    this.archived = data.archived === true;
    this.users.clear();
    for (const u of data.activeUsers ?? []) this.users.set(u.userId, { ...u });
    this.comments.clear();
    this._waitingComments.clear();
    // Placed in the hub's text as of commentsStateVector, which the state
    // just adopted holds: read into this replica's text (its own
    // unacknowledged edits included).
    const list = (data.comments ?? []).map((c) => ({ replies: [], ...c }));
    this._placeComments(list, data.commentsStateVector).forEach((placed, i) => {
      const c = list[i];
      if (placed) this.comments.set(c.commentId, placed);
      else this._waitingComments.set(c.commentId, { ...c, stateVector: c.stateVector ?? data.commentsStateVector });
    });
    this._placeWaitingComments();
    this.conflicts.clear();
    for (const c of data.conflicts ?? []) this.conflicts.set(c.conflictId, { ...c });
    this.joined = true;
    this._everJoined = true;
    this._joinSent = false;
    this._joinRefusal = null;
    this._rejoinRetryMs = REJOIN_RETRY_MIN_MS;
    // A join sends what it keeps afresh (an archived PRD gives view mode,
    // and _adopt holds the edits instead).
    this._archivedHold = false;
    this._archivedRetryMs = ARCHIVED_RETRY_MIN_MS;
    this._lastJoined = data;
    if (data.siteConflict) this.emit('site-conflict', data.siteConflict);
    this.emit('status', 'joined');
    this.emit('presence', { users: this.getUsers() });
    this._settleJoin(null, data);
    this._presenceDirty = this._presence.cursorPosition !== null || this._presence.status !== 'viewing';
    this._schedulePresence();
    this._flush();
    this._settled();
    this._wake();
    this._checkAiJobs();
  }

  // Replace the replica by the hub's state @hubState, keeping the local edits the
  // hub has not integrated: under the same site they are integrated as they
  // are (and sent again with the same ids); under a fresh site, or when they
  // depend on operations the hub lacks, they are re-applied as new edits at
  // the places they were made. An insert the hub would refuse for room
  // (maxDocumentSize) is dropped here, with the hub's length (see _rebase).
  _adopt(hubState, newSite) {
    let hub = CrdtDoc.decodeState(hubState);
    const oldText = this._everJoined ? this.doc.getText() : null;
    const oldSite = this.siteId;
    const refusedFrom = this._refusedFrom;
    let pending = this._queue;
    const queue = [];
    const reports = [];
    const rebase = (...args) => reports.push(...this._rebase(...args));
    if (pending.length > 0 && oldSite !== null) {
      // Operations the hub already has (sent, ack lost) are done: they are a
      // prefix of the queue, and only an operation that was sent can be one.
      // The rest stay in their order, even when the hub holds an identical
      // operation under the same id: that one was made by whoever reused the
      // site (SITE_CONFLICT), and skipping ours would lose an edit and
      // misplace every later edit anchored to its characters.
      let done = 0;
      while (done < pending.length && pending[done].everSent && hub.hasSameOp(pending[done].op)) done++;
      pending = pending.slice(done);
      const tooLarge = (op) => (op.type === 'insert' ? op.content.length : op.length) > this.maxOperationSize;
      if (newSite === oldSite && (this._resplit || pending.some((e) => tooLarge(e.op)))) {
        // Larger than the hub takes (refused, or made before its limit was
        // known): the hub never integrated them, so their ids are free. The
        // same edits again, in pieces it takes.
        rebase(hub, oldSite, newSite, pending, queue, this.doc, refusedFrom);
      } else if (newSite === oldSite) {
        try {
          for (const e of pending) {
            // One the hub would refuse for room: dropped by _rebase.
            if (e.op.type === 'insert' && this.maxDocumentSize !== null &&
                hub.length + e.op.content.length > this.maxDocumentSize)
              throw new CrdtError('LIMIT_REACHED', 'a local insert has no room in the hub\'s text');
            hub._applyRemoteOp(e.op);
            queue.push({ ...e, sent: false });
          }
          if (hub.nPending > 0) throw new CrdtError('INVALID_OPERATION', 'local edits depend on operations the hub lacks');
        } catch (err) {
          if (!(err instanceof CrdtError)) throw err;
          // They were built on operations the hub no longer has (it handed
          // them out before they were durable, then died; or it refused
          // one of them), or one has no room: re-apply them as new edits at
          // the places they were made, as after a SITE_CONFLICT, instead of
          // dropping them.
          hub = CrdtDoc.decodeState(hubState);
          queue.length = 0;
          rebase(hub, oldSite, newSite, pending, queue, this.doc, refusedFrom);
        }
      } else if (newSite !== null && pending.length > 0) {
        rebase(hub, oldSite, newSite, pending, queue, this.doc, refusedFrom);
      } else if (pending.length > 0) {
        // Joined without a site (the PRD was archived meanwhile): the edits
        // wait, with the replica they were made on, for a join that can
        // take them (after unarchiving), instead of being dropped.
        this._held = { pending, old: this.doc, site: oldSite, refusedFrom };
        this.emit('error', new PrdClientError('FORBIDDEN', `${pending.length} local edits kept until the PRD can be edited again`));
      }
    }
    if (this._held && newSite !== null) {
      const held = this._held;
      rebase(hub, held.site, newSite, held.pending, queue, held.old, held.refusedFrom);
      this._held = null;
    }
    this._resplit = false;
    this._resync = false;
    this._refusedFrom = Infinity;
    this.doc = hub;
    this.siteId = newSite;
    this._queue = queue;
    this._inFlight = 0;
    if (oldText !== null) {
      const deltas = diffDeltas(oldText, hub.getText());
      if (deltas.length > 0) this._emitRemote(deltas, null, null, null);
    }
    // Once the replica is the hub's: a listener may edit at once.
    for (const e of reports) this.emit('error', e);
  }

  // Re-applies the local edits @pending (made under @oldSite in the replica
  // @old) to the hub's state @hub as new edits of @newSite (which may be
  // @oldSite), queueing them in @queue. An insert goes after the character
  // it was typed after; when the hub lacks that character (an operation of
  // another site that died with the hub, an insert it refused), after the
  // nearest character before it that the hub has. A delete removes the
  // characters it removed that the hub has.
  //
  // The characters of @oldSite from the first one the hub has not
  // acknowledged on (the first of @pending, or @refusedFrom, the first of an
  // insert it refused) are those of @pending re-applied, under the ids
  // their pieces take now, or characters the hub does not have: a refused
  // insert's sit between kept ones, and the hub may give their ids to
  // other characters meanwhile.
  //
  // A piece longer than maxOperationSize (a surrogate pair when it is 1)
  // fits in no operation the hub takes: it is dropped and reported. A piece
  // that would make the text longer than maxDocumentSize, counting the
  // edits before it as the hub does, would be refused LIMIT_REACHED: it is
  // dropped and reported (one `error` per edit), not sent for a refusal
  // and a full state each. Returns the errors to report.
  _rebase(hub, oldSite, newSite, pending, queue, old, refusedFrom = Infinity) {
    this._rebases++;
    const reports = [];
    let dropped = 0;
    let floor = Math.min(hub.siteClock(oldSite), refusedFrom);
    for (const e of pending) if (e.op.type === 'insert') { floor = Math.min(floor, e.op.clock); break; }
    const moved = []; // [old clock, length, new clock] per re-applied piece, old clocks increasing
    // The id in @hub of the character (@site, @clock) of @old, or null when
    // the hub does not have it.
    const map = (site, clock) => {
      if (site !== oldSite || clock < floor) return clock < hub.siteClock(site) ? [site, clock] : null;
      let lo = 0;
      let hi = moved.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (moved[mid][0] <= clock) lo = mid + 1;
        else hi = mid;
      }
      const m = moved[lo - 1];
      return m && clock < m[0] + m[1] ? [newSite, m[2] + clock - m[0]] : null;
    };
    const has = (site, clock) => map(site, clock) !== null;
    const charPos = (site, clock) => {
      const l = hub._locateId(site, clock);
      const it = l.chunk.items[l.idx];
      return { pos: hub._locPosition(l), visible: it.del === 0 && !it.hid };
    };
    // The nearest character at or before (@site, @clock) in @old that the
    // hub has, as an unmapped id, or null when there is none.
    const nearest = (site, clock) => {
      if (has(site, clock)) return [site, clock];
      if (!old || site >= old.sites.length || clock >= old.siteClock(site)) return null;
      old._ensureIndex();
      const l = old._locateId(site, clock);
      for (let o = l.chunk.idx; o >= 0; o--) {
        const items = old.chunks[o].items;
        for (let i = o === l.chunk.idx ? l.idx : items.length - 1; i >= 0; i--) {
          const it = items[i];
          const from = o === l.chunk.idx && i === l.idx ? clock : it.clock + it.len - 1;
          for (let c = from; c >= it.clock; c--) if (has(it.site, c)) return [it.site, c];
        }
      }
      return null;
    };
    // @vector: the version after @op (its base with @op's entry), the current one when omitted.
    const push = (op, n, vector = hub.stateVector()) => {
      const wire = op.type === 'insert'
        ? { type: 'insert', position: op.position, content: op.content, timestamp: op.timestamp }
        : { type: 'delete', position: op.position, length: op.length, timestamp: op.timestamp };
      queue.push({ op, wire, vector, sent: false, n });
    };
    for (const e of pending) {
      const op = e.op;
      if (op.type === 'insert') {
        // The character the next piece goes right after (deleted or not), or
        // null for the start: the nearest one the hub has at or before the
        // insert's origin, then each piece's last character.
        const origin = op.origin ? nearest(op.origin[0], op.origin[1]) : null;
        let after = origin ? map(origin[0], origin[1]) : null;
        let off = 0; // units of op.content before the piece
        let refused = null;
        for (const piece of this._pieces(op.content)) {
          const clock = op.clock + off;
          off += piece.length;
          if (piece.length > this.maxOperationSize) {
            dropped++;
            continue;
          }
          if (this.maxDocumentSize !== null && hub.length + piece.length > this.maxDocumentSize) {
            refused ??= hub.length + piece.length;
            continue;
          }
          const made = hub.insertAfter(newSite, after, piece, { timestamp: op.timestamp });
          let nop;
          let vector;
          if (made) {
            nop = made.op;
            nop.position = made.basePosition;
            vector = made.base;
            while (vector.length <= newSite) vector.push(0);
            vector[newSite] = nop.seq;
          } else {
            // This site deleted that character itself: no version has it
            // visible and this site's operations, so the place it was. Not
            // after a siteConflict because of another device's deletes: the
            // hub gives a site with no operations then (docs/protocol.md,
            // "Sites"). Still reached when the insert's anchor is not in the
            // hub (refused for room, a dropped piece, lost) and the nearest
            // character before it that the hub has was deleted by this
            // replica (a delete of the same edits, re-applied above).
            // (An archived PRD's held edits name their site when they join
            // again, so they get a site with no operations too.)
            // Inserts that fall back to one character come back in the
            // order they were re-applied, not the order of their text,
            // when those differ.
            const pos = charPos(after[0], after[1]).pos;
            nop = hub.localInsert(newSite, pos, piece, { timestamp: op.timestamp }).op;
            nop.position = pos;
          }
          moved.push([clock, piece.length, nop.clock]);
          push(nop, e.n, vector);
          after = [newSite, nop.clock + piece.length - 1];
        }
        if (refused !== null) {
          reports.push(new PrdClientError('LIMIT_REACHED',
            `the PRD would have ${refused} UTF-16 units, more than it may hold (${this.maxDocumentSize}, ` +
            'max-document-size): delete text first', { event: 'content-update', operation: e.wire }));
        }
      } else {
        const positions = [];
        for (const [ts, tc, tl] of op.targets) {
          for (let c = tc; c < tc + tl; c++) {
            const id = map(ts, c);
            if (id === null) continue;
            const at = charPos(id[0], id[1]);
            if (at.visible) positions.push(at.pos);
          }
        }
        positions.sort((a, b) => a - b);
        const ranges = [];
        for (const p of positions) {
          const last = ranges[ranges.length - 1];
          if (last && last[0] + last[1] === p) last[1]++;
          else if (!last || last[0] + last[1] < p) ranges.push([p, 1]);
        }
        for (let i = ranges.length - 1; i >= 0; i--) {
          const [at, length] = ranges[i];
          let kept = 0; // units of the pieces dropped before this one
          for (const piece of this._pieces(hub.getText().slice(at, at + length))) {
            if (piece.length > this.maxOperationSize) {
              dropped++;
              kept += piece.length;
              continue;
            }
            const { op: nop } = hub.localDelete(newSite, at + kept, piece.length, { timestamp: op.timestamp });
            nop.position = at + kept;
            push(nop, e.n);
          }
        }
      }
    }
    if (dropped > 0) {
      reports.push(new PrdClientError('PAYLOAD_TOO_LARGE',
        `${dropped} parts of local edits dropped: a surrogate pair (2 UTF-16 units) is more than the hub's ` +
        `max-operation-size (${this.maxOperationSize}) takes in one operation`));
    }
    return reports;
  }

  // @text cut into pieces of at most maxOperationSize UTF-16 units, never
  // between the two halves of a surrogate pair: with a maxOperationSize of
  // 1, a pair is a piece of 2 (which the hub refuses; callers check).
  _pieces(text) {
    const pieces = [];
    for (let at = 0; at < text.length;) {
      let end = Math.min(at + this.maxOperationSize, text.length);
      const last = text.charCodeAt(end - 1);
      if (end < text.length && last >= 0xd800 && last <= 0xdbff) end += end - at > 1 ? -1 : 1;
      pieces.push(text.slice(at, end));
      at = end;
    }
    return pieces;
  }

  // A surrogate pair in @text (2 UTF-16 units, one character) fits in no
  // operation when maxOperationSize is 1: the hub would refuse it
  // (PAYLOAD_TOO_LARGE), so it is refused before anything is applied.
  _checkPairs(text, what) {
    if (this.maxOperationSize >= 2 || !/[\ud800-\udbff]/.test(text)) return;
    throw new PrdClientError('PAYLOAD_TOO_LARGE',
      `${what} holds a surrogate pair (2 UTF-16 units), more than one operation may hold ` +
      `(maxOperationSize ${this.maxOperationSize}, the hub's max-operation-size)`);
  }

  // Asks the hub for the operations this replica lacks. With @full (the
  // hub refused an edit this replica holds), for the hub's whole state
  // instead: only adopting it takes the refused edit out of the replica
  // (the operations the hub would list cannot), so until then nothing is
  // sent (_resync). The vector then names every operation of the replica,
  // the refused one too, which the hub lacks: it answers in full.
  // Otherwise this site's own entry leaves out the unacknowledged edits,
  // which the hub may not have yet (it would answer in full for nothing).
  _requestSync(full = false) {
    if (full) this._resync = true;
    if (this._syncTimer !== null || !this.joined) return;
    this._syncTimer = this._timer(() => {
      this._syncTimer = null;
      // One at a time: the answer to the one under way asks again if needed.
      if (!this.joined || this._syncing) return;
      this._syncing = true;
      this._syncFull = this._resync;
      const vector = this.doc.stateVector();
      if (!this._syncFull && this.siteId !== null && this.siteId < vector.length) vector[this.siteId] -= this._queue.length;
      this.socket.emit('sync-request', { prdId: this.prdId, stateVector: vector }, (res) => {
        if (res && res.error) {
          this._syncing = false;
          // Over the user's sync budget: ask again once it allows.
          if (res.error.code === 'RATE_LIMITED') {
            this._timer(() => this._requestSync(), this._retryAfterMs);
            return;
          }
          this.emit('error', new PrdClientError(res.error.code, res.error.message, { event: 'sync-request' }));
          // A join brings the hub's state too.
          if (this._resync && this.joined) this._joinAgain();
        }
      });
    }, 0);
  }

  _onSyncResponse(data) {
    if (!data || data.prdId !== this.prdId) return;
    this._syncing = false;
    const askedFull = this._syncFull;
    this._syncFull = false;
    if (data.full) {
      try {
        this._adopt(data.fullState?.encodedState, this.siteId);
      } catch (err) {
        if (!(err instanceof CrdtError)) throw err;
        this.emit('error', new PrdClientError(err.code, `cannot read the hub's state: ${err.message}`, { event: 'sync-response' }));
      }
    } else {
      for (const u of data.missingUpdates ?? []) this._applyRemote(u.operation, u.userId ?? null, null);
    }
    if (this._resync) {
      // The answer to a sync asked before the refusal: ask for the full
      // state now. One that did ask for it and got a list instead (the
      // hub has every operation of the vector after all): a join, which
      // always brings the whole state.
      if (!askedFull) this._requestSync(true);
      else if (this.joined) this._joinAgain();
    }
    this._placeWaitingComments();
    this._flush();
    this._settled();
    this._wake();
  }

  // Emits `synced` when every local edit is acknowledged and the replica
  // holds nothing the hub refused.
  _settled() {
    if (this.joined && this._queue.length === 0 && !this._held && !this._resync)
      this.emit('synced', { stateVector: this.doc.stateVector() });
  }

  /**
   * Whether the replica waits for the hub's state after the hub refused an
   * edit it holds: its text may differ from the hub's until then.
   */
  get resyncing() {
    return this._resync;
  }

  // ---- remote changes ------------------------------------------------------------------

  _emitRemote(deltas, userId, userName, operation) {
    for (const d of deltas) this._shiftPresence(d, userId);
    this.emit('change', { local: false, deltas, userId, userName });
    this.emit('remote-change', { deltas, userId, userName, operation });
  }

  _applyRemote(operation, userId, userName) {
    let res;
    try {
      res = this.doc.applyRemote(operation);
    } catch (err) {
      if (!(err instanceof CrdtError)) throw err;
      this.emit('error', new PrdClientError(err.code, err.message, { event: 'content-update' }));
      this._requestSync();
      return;
    }
    if (res.deltas.length > 0) this._emitRemote(res.deltas, userId, userName, operation);
    if (this.doc.nPending > 0) this._requestSync();
    if (res.applied > 0) this._placeWaitingComments();
  }

  _onRemoteUpdate(data) {
    if (!data || data.prdId !== this.prdId || !this.joined) return;
    this._applyRemote(data.operation, data.userId ?? null, data.userName ?? null);
  }

  _onBatch(data) {
    if (!data || data.prdId !== this.prdId || !Array.isArray(data.updates)) return;
    for (const u of data.updates) {
      if (u.type === 'content-update') this._onRemoteUpdate({ prdId: this.prdId, ...u });
      else if (u.type === 'presence-update') this._onPresence({ prdId: this.prdId, ...u });
    }
  }

  // ---- local edits ------------------------------------------------------------------------

  _checkEditable() {
    if (this._closed) throw new PrdClientError('CLOSED', 'client is closed');
    if (this.mode !== 'edit') throw new PrdClientError('FORBIDDEN', 'joined in view mode');
    if (this.archived) throw new PrdClientError('FORBIDDEN', `${this.prdId} is archived`);
    if (this.siteId === null) throw new PrdClientError('NOT_JOINED', 'join the PRD before editing');
  }

  _local(op, deltas, wirePosition) {
    const wire = op.type === 'insert'
      ? { type: 'insert', position: wirePosition, content: op.content, timestamp: op.timestamp }
      : { type: 'delete', position: wirePosition, length: op.length, timestamp: op.timestamp };
    const vector = this._baseAfter;
    this._queue.push({ op, wire, vector, sent: false, n: ++this._edits });
    for (const d of deltas) this._shiftPresence(d, this.userId);
    if (this._presence.cursorPosition !== null) {
      const last = deltas[deltas.length - 1];
      this._presence.cursorPosition = last.type === 'insert' ? last.position + last.text.length : last.position;
      this._presence.selection = null;
    }
    this.emit('change', { local: true, deltas, userId: this.userId, userName: null });
    this._scheduleFlush();
    return op;
  }

  // The checks of an insert of @text at @position in a text of @length
  // UTF-16 units (this one's, or what a replace leaves), made before
  // anything is applied: an edit that goes as several operations (or a
  // replace) must not be refused half way, with its first part applied and
  // sent. The replica makes the same checks again (and the surrogate pair
  // one) on each piece.
  _checkInsert(position, text, length = this.length) {
    if (typeof text !== 'string') throw new CrdtError('INVALID_OPERATION', 'text must be a string');
    if (text.length === 0) throw new CrdtError('INVALID_OPERATION', 'Insert of empty text');
    if (!isWellFormed(text)) throw new CrdtError('INVALID_OPERATION', 'Inserted text is not valid UTF-8');
    checkNoNul(text);
    if (!Number.isInteger(position) || position < 0)
      throw new CrdtError('INVALID_OPERATION', 'position must be a non-negative integer');
    if (position > length)
      throw new CrdtError('INVALID_OPERATION', `Insert position ${position} is beyond the end of the document (length ${length})`);
    this._checkPairs(text, 'the insert');
    // The hub refuses an insert that makes the text longer than a PRD may
    // be: refused here first, before the replica takes it.
    if (this.maxDocumentSize !== null && length + text.length > this.maxDocumentSize) {
      throw new PrdClientError('LIMIT_REACHED',
        `the PRD would have ${length + text.length} UTF-16 units, more than it may hold (${this.maxDocumentSize}): delete text first`);
    }
  }

  // The checks of a delete of @length units at @position, before anything
  // is applied (see _checkInsert); with @text (this replica's text, built
  // anyway for a deletion that goes as several operations) also that it
  // splits no surrogate pair.
  _checkDelete(position, length, text = null) {
    if (!Number.isInteger(length) || length <= 0)
      throw new CrdtError('INVALID_OPERATION', `Delete length must be a positive integer, not ${describe(length)}`);
    if (!Number.isInteger(position) || position < 0)
      throw new CrdtError('INVALID_OPERATION', `Delete position must be a non-negative integer, not ${describe(position)}`);
    if (position > this.length || length > this.length - position) {
      throw new CrdtError('INVALID_OPERATION',
        `Delete of ${length} at ${position} is beyond the end of the document (length ${this.length})`);
    }
    if (text === null) return;
    const first = text.charCodeAt(position);
    const last = text.charCodeAt(position + length - 1);
    if ((first >= 0xdc00 && first < 0xe000) || (last >= 0xd800 && last < 0xdc00))
      throw new CrdtError('INVALID_OPERATION', `Delete of ${length} at ${position} splits a surrogate pair`);
    this._checkPairs(text.slice(position, position + length), 'the deletion');
  }

  /**
   * Inserts @text at @position. With `base` (a state vector this replica
   * has, for replaying recorded edits), @position is read in that version.
   * Returns the operation in CRDT form.
   */
  insert(position, text, { base } = {}) {
    this._checkEditable();
    if (!base) this._checkInsert(position, text);
    else if (typeof text === 'string') checkNoNul(text);
    // A paste longer than the hub takes in one operation goes as several,
    // one after the other (never splitting a surrogate pair): the hub would
    // refuse it whole, and the typing after it with it.
    if (!base && text.length > this.maxOperationSize) {
      let op = null;
      let at = position;
      for (const piece of this._pieces(text)) {
        op = this.insert(at, piece);
        at += piece.length;
      }
      return op;
    }
    if (!base) {
      const merged = this._coalesce(position, text);
      if (merged) return merged;
    }
    const b = base ? [...base] : this.doc.stateVector();
    const { op, deltas } = this.doc.localInsert(this.siteId, position, text, { base: b, timestamp: Date.now() });
    while (b.length <= this.siteId) b.push(0);
    b[this.siteId] = op.seq;
    this._baseAfter = b;
    return this._local(op, deltas, position);
  }

  // Typing that continues an insert never sent (offline, or behind a full
  // send window) extends that insert instead of making a new operation.
  _coalesce(position, text) {
    const e = this._queue[this._queue.length - 1];
    if (!e || e.everSent || e.sealed || e.op.type !== 'insert' || e.op.seq !== this.doc.siteOps(this.siteId)) return null;
    if (position !== e.wire.position + e.op.content.length) return null;
    const v = this.doc.stateVector();
    if (v.length !== e.vector.length || v.some((x, i) => x !== e.vector[i])) return null;
    const limit = Math.min(this.maxCoalesce, this.maxOperationSize);
    if (typeof text !== 'string' || e.op.content.length + text.length > limit) return null;
    const deltas = this.doc.extendLastInsert(this.siteId, text);
    if (!deltas) return null;
    e.op.content += text;
    e.op.length = e.op.content.length;
    e.wire.content = e.op.content;
    for (const d of deltas) this._shiftPresence(d, this.userId);
    if (this._presence.cursorPosition !== null) this._presence.cursorPosition = position + text.length;
    this.emit('change', { local: true, deltas, userId: this.userId, userName: null });
    this._scheduleFlush();
    return e.op;
  }

  /** Deletes @length characters at @position (see insert() for `base`). */
  delete(position, length, { base } = {}) {
    this._checkEditable();
    if (!base) this._checkDelete(position, length);
    // As for insert(): a long deletion goes as several operations, all of
    // it checked first (a length past the end is refused, not cut).
    if (!base && length > this.maxOperationSize) {
      const text = this.text;
      this._checkDelete(position, length, text);
      let op = null;
      for (const piece of this._pieces(text.slice(position, position + length))) op = this.delete(position, piece.length);
      return op;
    }
    const b = base ? [...base] : this.doc.stateVector();
    const { op, deltas } = this.doc.localDelete(this.siteId, position, length, { base: b, timestamp: Date.now() });
    while (b.length <= this.siteId) b.push(0);
    b[this.siteId] = op.seq;
    this._baseAfter = b;
    return this._local(op, deltas, position);
  }

  /**
   * Replaces @length characters at @position by @text (a delete, then an
   * insert): the insert is checked first, against the text the delete
   * leaves, so that a refused replace changes nothing.
   */
  replace(position, length, text) {
    this._checkEditable();
    if (!Number.isInteger(length) || length < 0)
      throw new CrdtError('INVALID_OPERATION', `Replace length must be a non-negative integer, not ${describe(length)}`);
    if (length > 0) this._checkDelete(position, length);
    const inserting = text !== undefined && text !== null && text !== '';
    if (inserting) this._checkInsert(position, text, this.length - length);
    if (length > 0) this.delete(position, length);
    if (inserting) this.insert(position, text);
  }

  _scheduleFlush() {
    if (this._flushTimer !== null) return;
    this._flushTimer = this._timer(() => {
      this._flushTimer = null;
      this._flush();
    }, 0);
  }

  _flush() {
    if (!this.joined || !this.socket || !this.socket.connected || this._archivedHold || this._resync) return;
    const gen = this._gen;
    for (const e of this._queue) {
      if (this._inFlight >= this.maxInFlight) break;
      if (e.sent) continue;
      e.sent = true;
      e.everSent = true;
      this._inFlight++;
      this.socket.emit('content-update', { prdId: this.prdId, operation: e.wire, stateVector: e.vector },
        (res) => this._onAck(gen, e, res));
    }
  }

  _onAck(gen, entry, res) {
    try {
      this._ackResult(gen, entry, res);
    } finally {
      this._wake();
    }
  }

  _ackResult(gen, entry, res) {
    if (gen !== this._gen) return;
    this._inFlight--;
    if (res && res.ok) {
      this._archivedRetryMs = ARCHIVED_RETRY_MIN_MS;
      const i = this._queue.indexOf(entry);
      if (i >= 0) {
        const done = this._queue.splice(0, i + 1);
        for (const e of done) this.emit('ack', { operation: e.op, stateVector: res.stateVector, duplicate: Boolean(res.duplicate) });
      }
      this._flush();
      this._settled();
      return;
    }
    const code = res?.error?.code ?? 'ERROR';
    const message = res?.error?.message ?? 'content-update refused';
    // Everything sent after a refused operation is refused too (its seq no
    // longer follows): start again from the refused one.
    this._gen++;
    this._inFlight = 0;
    for (const e of this._queue) e.sent = false;
    if (code === 'RATE_LIMITED') {
      this._timer(() => this._flush(), this._retryAfterMs);
      return;
    }
    if (code === 'STORAGE_ERROR') {
      // Not applied, and the hub closed the PRD: keep the edits and send
      // them again after joining again.
      this.emit('error', new PrdClientError(code, message, { event: 'content-update', operation: entry.wire }));
      this._storageFailed();
      return;
    }
    // An edit-mode member is refused FORBIDDEN only when the PRD was
    // archived: the hub applied nothing and takes the edits again, with
    // the same ids, once it is unarchived. Keep them until then.
    if (code === 'FORBIDDEN' && this.grantedMode === 'edit') {
      this.emit('error', new PrdClientError(code,
        `${message} (${this._queue.length} local edits kept until it is unarchived)`,
        { event: 'content-update', operation: entry.wire }));
      this._holdArchived();
      return;
    }
    // Larger than the hub takes (its limit is lower than this client
    // thought): nothing was applied. Join again; the hub's state comes with
    // its limit, and the edits are re-applied in pieces it takes (nothing is
    // lost, so nothing is reported).
    if (code === 'PAYLOAD_TOO_LARGE') {
      this._resplit = true;
      this._joinAgain();
      return;
    }
    this.emit('error', new PrdClientError(code, message, { event: 'content-update', operation: entry.wire }));
    if (code === 'NOT_JOINED') {
      this._joinAgain();
      return;
    }
    // The edit is built on operations the hub does not have (it lost
    // operations it had handed out before they were durable): keep it and
    // what follows, and resynchronise; the hub's state then comes in full
    // and the edits are re-applied on it (_adopt).
    if (code === 'INVALID_OPERATION' && message.includes('missing operations')) {
      this._requestSync(true);
      return;
    }
    // An insert the PRD has no room for (someone else's text came first):
    // that insert is lost, and reported above, but not the edits after it
    // (a deletion always passes). Drop it alone; the replica adopts the
    // hub's state and re-applies the rest on it. The edits sent before it
    // stay queued: the hub refuses at once but acks after its commit, so
    // their acks (ignored now) may come after this refusal; the hub's
    // state says which it has.
    if (code === 'LIMIT_REACHED' && message.includes('max-document-size')) {
      const i = this._queue.indexOf(entry);
      if (i >= 0) this._dropRefused(this._queue.splice(i, 1));
      this._requestSync(true);
      return;
    }
    // The hub will never take this edit: drop it and what follows, and
    // adopt the hub's state.
    const i = this._queue.indexOf(entry);
    if (i >= 0) this._dropRefused(this._queue.splice(i));
    this._requestSync(true);
  }

  // The queue's @entries, refused, are dropped: the edits typed after
  // them (before the hub's state is adopted) may point into their text,
  // whose ids the hub may give to other characters (see _rebase).
  _dropRefused(entries) {
    for (const e of entries) if (e.op.type === 'insert') this._refusedFrom = Math.min(this._refusedFrom, e.op.clock);
  }

  _holdArchived() {
    this._archivedHold = true;
    const check = () => {
      if (!this._archivedHold) return;
      // Still archived as far as this client knows: prd-updated will say
      // when it is not. Otherwise (that news was missed) try again.
      if (this.archived) this._timer(check, this._nextArchivedRetry());
      else this._releaseArchivedHold();
    };
    this._timer(check, this._nextArchivedRetry());
  }

  _nextArchivedRetry() {
    const delay = this._archivedRetryMs;
    this._archivedRetryMs = Math.min(delay * 2, ARCHIVED_RETRY_MAX_MS);
    return delay;
  }

  // The wait between retries is reset by an acknowledged edit (or a join),
  // not here: a refusal that does not go away is asked less and less often.
  _releaseArchivedHold() {
    if (!this._archivedHold) return;
    this._archivedHold = false;
    this._flush();
  }

  // ---- requests ----------------------------------------------------------------------------

  /**
   * Emits @event with @payload and resolves with the hub's ack (`{ ok: true, … }`);
   * rejects with a PrdClientError carrying the hub's code (or `TIMEOUT`,
   * `CLOSED`). The hub answers a connection that has not joined the PRD
   * with `NOT_JOINED`, so a request made while the client is not joined
   * (connecting, or offline: reconnecting by itself, or until reconnect())
   * waits for the join, at most requestTimeout (then it rejects
   * `NOT_JOINED`), and goes out after it.
   */
  async request(event, payload, onAck) {
    await this._ready(event, null);
    return this._send(event, payload, onAck);
  }

  // The number of the last local edit made so far (what _ready waits
  // for), closed to the typing that follows: a later keystroke is a new
  // operation, not part of one made before the call.
  _mark() {
    const e = this._queue[this._queue.length - 1];
    if (e) e.sealed = true;
    return this._edits;
  }

  // Waits until the client is joined and, with @mark (from _mark()), until
  // the hub has acknowledged every local edit numbered @mark or lower
  // (unless they cannot be sent: the PRD is archived), each wait at most
  // requestTimeout. Edits made after the call are not waited for. Socket.IO
  // would send a request buffered offline as soon as it reconnects, before
  // the join-prd that the `connect` handler sends. A wait that ends (timed
  // out or not) leaves nothing behind.
  async _ready(event, mark) {
    if (this._closed) throw new PrdClientError('CLOSED', 'client is closed', { event });
    if (!this.socket) throw new PrdClientError('NOT_JOINED', 'connect() first', { event });
    if (!this.joined) {
      await new Promise((resolve, reject) => {
        const w = {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        const timer = setTimeout(() => {
          const i = this._joinWaiters.indexOf(w);
          if (i >= 0) this._joinWaiters.splice(i, 1);
          reject(new PrdClientError('NOT_JOINED',
            `${event}: not joined to ${this.prdId} within ${this.requestTimeout} ms (offline)`, { event }));
        }, this.requestTimeout);
        this._joinWaiters.push(w);
      });
    }
    if (mark !== null) {
      const done = () => this._held !== null || this._archivedHold || this._queue.length === 0 ||
        this._queue[0].n > mark;
      if (!done()) {
        await new Promise((resolve, reject) => {
          const w = { done, resolve, reject, timer: null };
          w.timer = setTimeout(() => {
            this._ackWaiters.delete(w);
            reject(new PrdClientError('TIMEOUT',
              `${event}: the edits made before it were not acknowledged within ${this.requestTimeout} ms`, { event }));
          }, this.requestTimeout);
          this._ackWaiters.add(w);
        });
      }
    }
    if (this._closed) throw new PrdClientError('CLOSED', 'client is closed', { event });
  }

  // Settles the _ready() waits whose edits are acknowledged (or cannot be
  // sent); called whenever the queue or the join changes.
  _wake() {
    for (const w of this._ackWaiters) {
      if (!w.done()) continue;
      this._ackWaiters.delete(w);
      clearTimeout(w.timer);
      w.resolve();
    }
  }

  // The version of this replica's text as of the call, for the offsets
  // @places (`[position, assoc]`) read in it, once the hub has acknowledged
  // the local edits made before the call (waiting for the join first, as a
  // request does: also after disconnect(), until reconnect()). Resolves
  // with `{ vector, positions, exact }`: this replica's vector and the
  // offsets as given when those edits reached the hub under their ids
  // (`exact`). When they cannot reach it (held for an archived PRD, or
  // refused as archived), the version without this replica's
  // unacknowledged edits, which the hub has, and the offsets read back
  // into it, so that they land on the text they were read in, not on what
  // the held edits shifted (an offset inside text those edits inserted
  // lands where that text would be). Vector null (offsets as given, read
  // in the hub's text) when the edits were re-applied under other ids
  // after the join, or the hub lacks that version too (it lost operations
  // it had handed out).
  async _versionAt(event, places = []) {
    const vector = this.doc.stateVector();
    const rebases = this._rebases;
    const base = this._withoutUnacked(vector, places);
    await this._ready(event, this._mark());
    const given = places.map(([p]) => p);
    if (this._held || this._archivedHold) {
      if (!base.vector.every((n, site) => n <= this.doc.siteOps(site)))
        return { vector: null, positions: given, exact: false };
      return { ...base, exact: base.vector === vector };
    }
    // Re-applied under other ids: the hub's text has them where they were
    // made; the offsets are read in it.
    if (this._rebases !== rebases) return { vector: null, positions: given, exact: false };
    return { vector, positions: given, exact: true };
  }

  // @vector (this replica's, now) without the local edits the hub has not
  // acknowledged, and @places read back into that version; @vector and
  // the offsets as they are when there are none. An offset that is not a
  // position of the text is left for the hub to refuse.
  _withoutUnacked(vector, places) {
    const positions = places.map(([p]) => p);
    const first = this._queue.length > 0 ? this._queue[0].op.seq : null;
    const site = this.siteId;
    if (first === null || site === null || !(vector[site] >= first)) return { vector, positions };
    const base = [...vector];
    base[site] = first - 1;
    const ok = (p) => Number.isInteger(p) && p >= 0 && p <= this.doc.length;
    const valid = places.filter(([p]) => ok(p));
    const mapped = this.doc.positionsAt(valid, base);
    return { vector: base, positions: places.map(([p]) => (ok(p) ? mapped.shift() : p)) };
  }

  // How many of the local edits numbered @mark or lower (_mark()) cannot
  // reach the hub until the PRD is unarchived (held through a join, or
  // refused as archived).
  _heldBefore(mark) {
    let n = 0;
    for (const e of this._held?.pending ?? []) if (e.n <= mark) n++;
    if (this._archivedHold) for (const e of this._queue) if (e.n <= mark) n++;
    return n;
  }

  // Emits at once (Socket.IO buffers it while the connection is down).
  _send(event, payload, onAck) {
    if (this._closed) return Promise.reject(new PrdClientError('CLOSED', 'client is closed', { event }));
    return new Promise((resolve, reject) => {
      this.socket.timeout(this.requestTimeout).emit(event, payload, (err, res) => {
        if (err) reject(new PrdClientError('TIMEOUT', `no answer to ${event}`, { event }));
        else if (!res || res.error) {
          reject(new PrdClientError(res?.error?.code ?? 'ERROR', res?.error?.message ?? `${event} refused`,
            { event, retryAfter: res?.error?.retryAfter }));
        } else {
          if (onAck) onAck(res);
          resolve(res);
        }
      });
    });
  }

  _wireFeatures(socket) {
    const mine = (data) => data && (data.prdId === undefined || data.prdId === this.prdId);
    // Comments (kept in this.comments, open ones only).
    socket.on('comment-added', (data) => {
      if (!mine(data) || typeof data.commentId !== 'string') return;
      const [placed] = this._placeComments([{ replies: [], ...data }]);
      if (!placed) {
        // Placed in operations still on their way (batch mode, or not
        // broadcast yet): added once they are here.
        this._waitingComments.set(data.commentId, { replies: [], ...data });
        return;
      }
      this._addComment(placed);
    });
    socket.on('comment-replied', (data) => {
      const c = this.comments.get(data?.commentId) ?? this._waitingComments.get(data?.commentId);
      if (!c) return;
      c.replies.push(data.reply);
      if (this.comments.has(data.commentId)) this.emit('comment-replied', data);
    });
    socket.on('comment-resolved', (data) => {
      if (this._waitingComments.delete(data?.commentId)) return;
      if (!this.comments.delete(data?.commentId)) return;
      this.emit('comment-resolved', data);
    });
    // Conflicts (this user's open ones in this.conflicts).
    socket.on('conflict-detected', (data) => {
      if (!mine(data)) return;
      for (const c of data.conflicts ?? []) this.conflicts.set(c.conflictId, { ...c });
      this.emit('conflict-detected', data);
    });
    socket.on('conflict-resolved', (data) => {
      if (!mine(data)) return;
      this.conflicts.delete(data.conflictId);
      this.emit('conflict-resolved', data);
    });
    // Versions, auto-save, approvals and the hub's own notices: passed on.
    for (const name of ['version-created', 'git-commit', 'auto-save-start', 'auto-save-complete',
      'prd-approved', 'server-shutdown', 'session-closed']) {
      socket.on(name, (data) => {
        if (mine(data)) this.emit(name, data);
      });
    }
    // AI.
    for (const name of ['ai-job-created', 'ai-stream-start', 'ai-stream-chunk']) {
      socket.on(name, (data) => {
        if (mine(data)) this.emit(name, data);
      });
    }
    socket.on('ai-stream-complete', (data) => {
      if (!mine(data)) return;
      this._finishAiJob(data?.jobId, null, data);
      this.emit('ai-stream-complete', data);
    });
    socket.on('ai-suggestion', (data) => {
      if (!mine(data)) return;
      this._reviews.get(data.reviewId)?.suggestions.push(data.suggestion);
      this.emit('ai-suggestion', data);
    });
    socket.on('ai-review-complete', (data) => {
      if (!mine(data)) return;
      const r = this._reviews.get(data.reviewId);
      if (r) {
        this._reviews.delete(data.reviewId);
        r.resolve({ reviewId: data.reviewId, count: data.count, suggestions: r.suggestions });
      }
      this.emit('ai-review-complete', data);
    });
    socket.on('ai-error', (data) => {
      if (!mine(data)) return;
      const e = new PrdClientError(data?.error?.code ?? 'ERROR', data?.error?.message ?? 'AI error',
        { event: 'ai-error', jobId: data?.jobId ?? null, reviewId: data?.reviewId,
          retryAfter: data?.error?.retryAfter, status: data?.error?.status });
      if (data?.jobId) this._finishAiJob(data.jobId, e, null);
      const r = data?.reviewId ? this._reviews.get(data.reviewId) : null;
      if (r) {
        this._reviews.delete(data.reviewId);
        r.reject(e);
      }
      this.emit('ai-error', data);
    });
  }

  /**
   * The state vector of this replica's text as of the call, once the hub
   * has acknowledged this replica's own edits it counts: what to send with
   * offsets read in that text (`add-comment`'s and `ai-prompt`'s
   * `stateVector`), so that the hub maps them past edits this replica has
   * not seen. Between connections (reconnecting by itself) it waits for
   * the next join, at most requestTimeout (then `NOT_JOINED`), and for the
   * acks of the edits made before the call, at most requestTimeout (then
   * `TIMEOUT`); not for those made after it. Resolves with null when those
   * edits cannot be sent (after disconnect(), or waiting for the PRD to be
   * unarchived), or were re-applied under other ids after the join.
   * (addComment() and aiPrompt() wait for the join after disconnect() too.)
   */
  async syncedVersion() {
    if (this._closed || this._archivedHold || this._held) return null;
    // After disconnect(): the join may never come.
    if (!this.joined && !this.socket?.active) return null;
    const { vector, exact } = await this._versionAt('sync');
    return exact ? vector : null;
  }

  // ---- comments ------------------------------------------------------------------------------

  // Comments @list (as the hub sent them, offsets in the hub's text as of
  // each one's `stateVector`, else @vector) with their `position` and
  // `selection` read into this replica's text now, the way the hub ties
  // them: the position and the selection's start to the character after
  // them, the end to the last selected character. A character deleted here
  // since is where it would be, and a comment whose characters (for one
  // without a selection: the one at its position) are all deleted here is
  // `detached`, as the hub will say once it has the deletes. Returns one
  // entry per comment, in order: null while this replica lacks operations
  // of that version (they are on their way). Without a version (an older
  // hub), or with one it cannot read, the offsets are kept as they are.
  // Comments of one version are read with one move to it.
  _placeComments(list, vector) {
    const out = new Array(list.length).fill(null);
    const groups = new Map(); // version (as text) -> { version, indexes }
    list.forEach((c, i) => {
      const version = Array.isArray(c.stateVector) ? c.stateVector : vector;
      if (!Array.isArray(version) || !version.every((n) => Number.isInteger(n) && n >= 0)) {
        out[i] = c;
      } else if (version.every((n, site) => n <= this.doc.siteOps(site))) {
        const key = version.join(',');
        if (!groups.has(key)) groups.set(key, { version, indexes: [] });
        groups.get(key).indexes.push(i);
      }
    });
    let text = null;
    for (const { version, indexes } of groups.values()) {
      const places = [];
      const shapes = indexes.map((i) => {
        const c = list[i];
        const s = c.selection && typeof c.selection === 'object' ? c.selection : null;
        const range = s !== null && Number.isInteger(s.start) && Number.isInteger(s.end) && s.end > s.start;
        const from = places.length;
        places.push([c.position, 'after']);
        if (s !== null) places.push([s.start, 'after'], [s.end, range ? 'before' : 'after']);
        return { i, s, range, from };
      });
      let at;
      try {
        at = this.doc.placesFrom(places, version);
      } catch (err) {
        if (!(err instanceof CrdtError)) throw err;
        // A bad offset: each comment on its own, the bad one kept as it is.
        for (const i of indexes) out[i] = indexes.length > 1 ? this._placeComments([list[i]], version)[0] : list[i];
        continue;
      }
      for (const { i, s, range, from } of shapes) {
        const placed = { ...list[i], position: at.positions[from] };
        delete placed.stateVector;
        if (s === null) {
          if (at.deleted[from]) placed.detached = true;
        } else {
          const start = at.positions[from + 1];
          const end = range ? Math.max(start, at.positions[from + 2]) : start;
          text ??= this.doc.getText();
          placed.selection = { ...s, start, end, ...commentQuote(text, start, end) };
          if (!placed.selection.textTruncated) delete placed.selection.textTruncated;
          if (range ? end === start : at.deleted[from]) placed.detached = true;
        }
        out[i] = placed;
      }
    }
    return out;
  }

  _addComment(placed) {
    this.comments.set(placed.commentId, placed);
    const { replies, ...data } = placed;
    this.emit('comment-added', data);
  }

  // The comments waiting for operations that are here now.
  _placeWaitingComments() {
    if (this._waitingComments.size === 0) return;
    const list = [...this._waitingComments.values()];
    this._placeComments(list).forEach((placed, i) => {
      if (!placed) return;
      this._waitingComments.delete(list[i].commentId);
      this._addComment(placed);
    });
  }

  /**
   * Adds a comment at @position (UTF-16 units in this client's text at the
   * moment of the call), on
   * @selection `{ start, end }` when given. Resolves with
   * `{ commentId, unresolvedMentions }`.
   */
  async addComment({ position, content, selection }) {
    const payload = { prdId: this.prdId, position, content };
    if (selection) payload.selection = { start: selection.start, end: selection.end };
    // Read in this replica's text now: the hub maps them from this version
    // (offline too: the comment waits for the join and for the edits made
    // before it, all of them, not only the first maxInFlight).
    // When edits made before it cannot reach the hub yet (the PRD archived
    // meanwhile), the offsets are read back past them.
    const places = [[position, 'after']];
    if (selection) {
      places.push([selection.start, 'after'],
        [selection.end, selection.end > selection.start ? 'before' : 'after']);
    }
    const { vector, positions, exact } = await this._versionAt('add-comment', places);
    // A selection of nothing but text the hub does not have yet: no
    // comment could sit on it.
    if (vector && !exact && selection && selection.end > selection.start && positions[2] <= positions[1]) {
      throw new PrdClientError('FORBIDDEN', `add-comment: the selection ${selection.start}-${selection.end} is ` +
        `all text of local edits that wait for ${this.prdId} to be unarchived`, { event: 'add-comment' });
    }
    if (vector) {
      payload.stateVector = vector;
      payload.position = positions[0];
      if (selection) payload.selection = { start: positions[1], end: positions[2] };
    }
    const { commentId, unresolvedMentions = [] } = await this.request('add-comment', payload);
    return { commentId, unresolvedMentions };
  }

  /** Replies to a comment; resolves with `{ replyId, unresolvedMentions }`. */
  async replyComment(commentId, content) {
    const { replyId, unresolvedMentions = [] } = await this.request('reply-comment', { commentId, content });
    return { replyId, unresolvedMentions };
  }

  /** Resolves (closes) a comment. */
  async resolveComment(commentId) {
    await this.request('resolve-comment', { commentId });
  }

  /**
   * The open comments, oldest first, as the hub reported them, with their
   * `position` and `selection` read into this replica's text when they
   * arrived (see _placeComments()).
   */
  getComments() {
    return [...this.comments.values()].map((c) => ({ ...c, replies: [...c.replies] }));
  }

  // ---- versions and approvals ----------------------------------------------------------------

  /** Creates a version of the committed text; resolves with the version record. */
  async createVersion({ changelog, versionType = 'minor', force }) {
    const payload = { prdId: this.prdId, changelog, versionType };
    if (force !== undefined) payload.force = force;
    // The version is of the text as of the call: the edits made before it
    // (offline ones too) go first; those made after it are not waited for.
    // Edits made before it that wait for the PRD to be unarchived would not
    // be in it: refused, nothing made.
    const mark = this._mark();
    await this._ready('create-version', mark);
    const held = this._heldBefore(mark);
    if (held > 0) {
      throw new PrdClientError('FORBIDDEN', `create-version: ${held} local edits made before it wait for ` +
        `${this.prdId} to be unarchived; a version now would not have them`, { event: 'create-version' });
    }
    const res = await this.request('create-version', payload);
    return res.version;
  }

  /** Approves the PRD (admins); resolves with `{ prdId, approvedAt }`. */
  async approve({ comment } = {}) {
    const payload = { prdId: this.prdId };
    if (comment !== undefined) payload.comment = comment;
    const { prdId, approvedAt } = await this.request('approve-prd', payload);
    return { prdId, approvedAt };
  }

  // ---- conflicts --------------------------------------------------------------------------------

  /** This user's open conflicts in the PRD. */
  getConflicts() {
    return [...this.conflicts.values()].map((c) => ({ ...c }));
  }

  /**
   * Resolves a conflict: `'yours'`, `'theirs'` or `'merge'` (with
   * @mergedContent). The hub's changes arrive as remote changes.
   */
  async resolveConflict(conflictId, resolution, mergedContent) {
    const payload = { prdId: this.prdId, conflictId, resolution };
    if (mergedContent !== undefined) payload.mergedContent = mergedContent;
    await this.request('resolve-conflict', payload);
    this.conflicts.delete(conflictId);
  }

  // ---- AI -------------------------------------------------------------------------------------------

  /**
   * Asks the hub's AI to write (or, with `insert: false`, to preview) text
   * at `context.cursorPosition` (default: the end), read in this client's
   * text at the moment of the call. Resolves with
   * `{ jobId }` once the job is queued; whenAiJobDone() waits for its end.
   */
  async aiPrompt({ prompt, section, context, insert } = {}) {
    const payload = { prdId: this.prdId, prompt };
    if (section !== undefined) payload.section = section;
    if (context !== undefined) payload.context = { ...context };
    // A cursor read in this replica's text now: the hub maps it from this
    // version.
    if (typeof context?.cursorPosition === 'number' && context.stateVector === undefined) {
      const { vector, positions } = await this._versionAt('ai-prompt', [[context.cursorPosition, 'after']]);
      if (vector) {
        payload.context.stateVector = vector;
        payload.context.cursorPosition = positions[0];
      }
    }
    if (insert !== undefined) payload.insert = insert;
    const { jobId } = await this.request('ai-prompt', payload);
    if (!this._aiJobs.has(jobId)) this._aiJobs.set(jobId, { waiters: [], result: null });
    return { jobId };
  }

  /**
   * Resolves with the job's `ai-stream-complete` payload, or rejects with
   * its `ai-error` as a PrdClientError (`CANCELLED`, `PROVIDER_ERROR`,
   * `INTERRUPTED` when the hub stopped, …). After every rejoin the client
   * asks the hub how the jobs it still waits for stand (`ai-job-status`)
   * and settles those that ended meanwhile: a failed or cancelled one
   * rejects with its recorded code, a complete one resolves with
   * `{ jobId, prdId, tokensUsed, duration, fullResponse: '', suggestions: [],
   * recovered: true }`, and one the hub does not know rejects `NOT_FOUND`.
   */
  whenAiJobDone(jobId) {
    let job = this._aiJobs.get(jobId);
    if (!job) {
      job = { waiters: [], result: null };
      this._aiJobs.set(jobId, job);
    }
    if (job.result) return job.result.error ? Promise.reject(job.result.error) : Promise.resolve(job.result.value);
    return new Promise((resolve, reject) => job.waiters.push({ resolve, reject }));
  }

  _finishAiJob(jobId, error, value) {
    if (!jobId) return;
    const job = this._aiJobs.get(jobId) ?? { waiters: [], result: null };
    job.result = { error, value };
    for (const w of job.waiters) (error ? w.reject(error) : w.resolve(value));
    job.waiters = [];
    this._aiJobs.set(jobId, job);
    // keep the last 64 finished jobs for late whenAiJobDone() calls
    if (this._aiJobs.size > 64) {
      for (const [id, j] of this._aiJobs) {
        if (this._aiJobs.size <= 64) break;
        if (j.result) this._aiJobs.delete(id);
      }
    }
  }

  /**
   * How a job of this PRD stands (`ai-job-status`): `{ jobId, prdId, state,
   * tokensUsed, duration, error? }`, from the jobs under way or on record.
   */
  async aiJobStatus(jobId) {
    const { job } = await this.request('ai-job-status', { prdId: this.prdId, jobId });
    return job;
  }

  // After every (re)join: the jobs whenAiJobDone() still waits for may have
  // ended while this client was away (or the hub was killed), so their
  // ai-error or ai-stream-complete never came; the hub's record says how.
  _checkAiJobs() {
    for (const [jobId, job] of this._aiJobs) {
      if (job.result) continue;
      const gen = this._gen;
      this.aiJobStatus(jobId).then((status) => {
        if (job.result || gen !== this._gen) return;
        if (status.state === 'complete') {
          this._finishAiJob(jobId, null, { jobId, prdId: status.prdId, fullResponse: '',
            tokensUsed: status.tokensUsed, duration: status.duration, suggestions: [], recovered: true });
        } else if (status.state === 'failed' || status.state === 'cancelled') {
          const code = status.error?.code ?? (status.state === 'cancelled' ? 'CANCELLED' : 'ERROR');
          this._finishAiJob(jobId, new PrdClientError(code, status.error?.message ?? `the AI job ${status.state}`,
            { event: 'ai-job-status', jobId }), null);
        }
        // queued or streaming: its events still come.
      }, (err) => {
        // The hub has no such job for this PRD: nothing will ever come.
        if (err?.code === 'NOT_FOUND' && !job.result) this._finishAiJob(jobId, err, null);
        // Anything else (offline, rate limited): the next join asks again.
      });
    }
  }

  /** Cancels an AI job (the requester's own, or any of the organization for an admin). */
  async aiCancel(jobId) {
    await this.request('ai-cancel', { jobId });
  }

  /**
   * Asks the AI to review the PRD. Resolves when the review ends with
   * `{ reviewId, count, suggestions }`; rejects with the review's `ai-error`.
   */
  aiReview() {
    // The review is registered from the ack callback itself: its events may
    // be decoded in the same turn (one polling response), before any promise
    // reaction could run.
    return new Promise((resolve, reject) => {
      this.request('ai-review', { prdId: this.prdId }, (res) => {
        this._reviews.set(res.reviewId, { suggestions: [], resolve, reject });
      }).catch(reject);
    });
  }

  // ---- state ------------------------------------------------------------------------------

  get text() {
    return this.doc.getText();
  }

  getText() {
    return this.doc.getText();
  }

  /** Length of the text in UTF-16 code units (cheap; getText() builds a string). */
  get length() {
    return this.doc.length;
  }

  get stateVector() {
    return this.doc.stateVector();
  }

  /** Number of local operations the hub has not acknowledged yet. */
  get pendingCount() {
    return this._queue.length + (this._held ? this._held.pending.length : 0);
  }

  /**
   * Resolves when every local edit has been acknowledged (durable at the
   * hub) and the replica holds nothing the hub refused; rejects (`CLOSED`, or `PRD_NOT_FOUND` for a deleted PRD) when the
   * session ends first, and with the refusal when the hub refused a rejoin
   * for good (`FORBIDDEN`, `TOKEN_EXPIRED`, …; until the next join).
   */
  whenSynced() {
    if (this.joined && this._queue.length === 0 && !this._held && !this._resync) return Promise.resolve();
    if (this._ended) return Promise.reject(this._closedError());
    if (this._joinRefusal && !this.joined) return Promise.reject(this._joinRefusal);
    return new Promise((resolve, reject) => {
      const w = {
        resolve: () => {
          done();
          resolve();
        },
        reject: (err) => {
          done();
          reject(err);
        },
      };
      const check = () => {
        if (this.joined && this._queue.length === 0 && !this._held && !this._resync) w.resolve();
      };
      const ended = () => w.reject(this._closedError());
      const done = () => {
        this._syncWaiters.delete(w);
        this.off('synced', check);
        this.off('closed', ended);
      };
      this._syncWaiters.add(w);
      this.on('synced', check);
      this.on('closed', ended);
    });
  }

  _closedError() {
    return this.deleted
      ? new PrdClientError('PRD_NOT_FOUND', `${this.prdId} was deleted`)
      : new PrdClientError('CLOSED', 'client is closed');
  }

  // ---- presence ------------------------------------------------------------------------------

  /** Everyone in the room (this client's user included), with their latest presence. */
  getUsers() {
    return [...this.users.values()].map((u) => ({ ...u }));
  }

  /** The others in the room. */
  getOthers() {
    return this.getUsers().filter((u) => u.userId !== this.userId);
  }

  setCursor(position) {
    this._presence.cursorPosition = position;
    this._presence.selection = null;
    this._presenceDirty = true;
    this._schedulePresence();
  }

  setSelection(start, end) {
    this._presence.selection = { start, end };
    this._presence.cursorPosition = end;
    this._presenceDirty = true;
    this._schedulePresence();
  }

  setStatus(status) {
    if (!STATUSES.has(status)) throw new TypeError(`status must be one of ${[...STATUSES].join(', ')}`);
    this._presence.status = status;
    this._presenceDirty = true;
    this._schedulePresence();
  }

  _schedulePresence() {
    if (!this._presenceDirty || this._presenceTimer !== null || !this.joined) return;
    const wait = Math.max(0, this._lastPresenceSend + this.presenceInterval - Date.now());
    this._presenceTimer = this._timer(() => {
      this._presenceTimer = null;
      if (!this.joined || !this._presenceDirty) return;
      this._presenceDirty = false;
      this._lastPresenceSend = Date.now();
      const p = { prdId: this.prdId, status: this._presence.status };
      if (this._presence.cursorPosition !== null) p.cursorPosition = this._presence.cursorPosition;
      if (this._presence.selection) p.selection = { ...this._presence.selection };
      this.socket.emit('presence-update', p);
    }, wait);
  }

  _shiftPresence(delta, authorId) {
    for (const u of this.users.values()) {
      if (u.userId === this.userId) continue;
      const own = authorId !== null && u.userId === authorId;
      u.cursorPosition = shiftPosition(u.cursorPosition, delta, own);
      if (u.selection && typeof u.selection === 'object')
        u.selection = { start: shiftPosition(u.selection.start, delta, own), end: shiftPosition(u.selection.end, delta, own) };
    }
    if (this._presence.cursorPosition !== null && authorId !== this.userId)
      this._presence.cursorPosition = shiftPosition(this._presence.cursorPosition, delta, false);
  }

  _onPresence(data) {
    if (!data || data.prdId !== this.prdId || typeof data.userId !== 'string') return;
    const u = this.users.get(data.userId) ?? { userId: data.userId };
    Object.assign(u, {
      name: data.userName ?? u.name,
      avatar: data.avatar ?? u.avatar,
      status: data.status ?? u.status,
      color: data.color ?? u.color,
      cursorPosition: data.cursorPosition ?? null,
      selection: data.selection ?? null,
      timestamp: data.timestamp,
    });
    this.users.set(data.userId, u);
    this.emit('presence', { user: { ...u }, users: this.getUsers() });
  }

  _onUserJoined(data) {
    if (!data || data.prdId !== this.prdId || !data.user) return;
    const prev = this.users.get(data.user.userId) ?? {};
    this.users.set(data.user.userId, { ...prev, ...data.user });
    this.emit('presence', { joined: { ...data.user }, users: this.getUsers() });
  }

  _onUserLeft(data) {
    if (!data || data.prdId !== this.prdId) return;
    this.users.delete(data.userId);
    this.emit('presence', { left: { userId: data.userId, name: data.name }, users: this.getUsers() });
  }
}
