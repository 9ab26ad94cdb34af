#!/usr/bin/env node
// SPDX-License-Identifier: GPL-3.0-or-later
//
// The Node reference for the fan-out benchmark: socket.io 4.8 with each PRD
// kept in memory as a Yjs Y.Text. It implements what the benchmark's
// scenario uses, with the hub's events and payload shapes (docs/protocol.md):
//
//   - JWT (HS256, secret PRDHUB_JWT_SECRET) in the Socket.IO auth.token,
//     checked by a namespace middleware; refusals are connect_error with
//     { message, data: { code, message, timestamp } }
//   - /prds: join-prd -> joined-prd + ack { ok, siteId, stateVector },
//     user-joined to the others; leave-prd / disconnect -> user-left
//   - content-update (insert/delete at the current version, one operation
//     per event, stateVector after the operation) -> applied to the Y.Text,
//     ack { ok, stateVector }, content-update to the rest of the room with
//     the CRDT identity (id, clock, origin/rightOrigin or targets)
//   - POST /api/prds { title, content } (Bearer token) -> 201 { id, ... },
//     GET /healthz
//
// What it does not do, unlike the hub: persist anything (no SQLite, no
// durability before the ack), resolve positions at an older base version
// (a content-update must be based on the current version: the benchmark
// has one writer per room), batching, rate limits, presence, comments.
//
//   PRDHUB_JWT_SECRET=... node bench/fanout/reference-server.mjs [--listen 127.0.0.1:0]
//
// Prints "reference listening on http://127.0.0.1:PORT/" once it listens;
// SIGTERM/SIGINT stop it.

import crypto from 'node:crypto';
import http from 'node:http';
import { Server } from 'socket.io';
import * as Y from 'yjs';

const secret = process.env.PRDHUB_JWT_SECRET ?? '';
if (secret.length < 32) {
  console.error('reference-server: PRDHUB_JWT_SECRET must hold at least 32 characters');
  process.exit(2);
}
let listen = '127.0.0.1:0';
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--listen' && i + 1 < process.argv.length) listen = process.argv[++i];
  else {
    console.error(`reference-server: unknown argument ${process.argv[i]}`);
    process.exit(2);
  }
}
const [host, port] = [listen.slice(0, listen.lastIndexOf(':')), Number(listen.slice(listen.lastIndexOf(':') + 1))];

const MAX_OPERATION_SIZE = 65536;
const PRD_ID_RE = /^prd_[A-Za-z0-9_-]{1,60}$/;
const PALETTE = ['#8B5CF6', '#EC4899', '#3B82F6', '#10B981', '#F59E0B', '#EF4444',
  '#06B6D4', '#84CC16', '#F97316', '#6366F1', '#14B8A6', '#A855F7'];

const isoNow = () => new Date().toISOString();

// ---- JWT (HS256/384/512) ----------------------------------------------------------

class AuthError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

const HMAC = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

function verifyToken(token) {
  if (token === undefined || token === null) throw new AuthError('AUTHENTICATION_FAILED', 'Missing token');
  if (typeof token !== 'string') throw new AuthError('AUTHENTICATION_FAILED', 'auth.token must be a string');
  if (token.length > 8192) throw new AuthError('AUTHENTICATION_FAILED', 'Token too long');
  const parts = token.split('.');
  if (parts.length !== 3) throw new AuthError('AUTHENTICATION_FAILED', 'Malformed token');
  let header;
  let claims;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
  } catch {
    throw new AuthError('AUTHENTICATION_FAILED', 'Malformed token header');
  }
  try {
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    throw new AuthError('AUTHENTICATION_FAILED', 'Malformed token payload');
  }
  if (header === null || typeof header !== 'object' || claims === null || typeof claims !== 'object')
    throw new AuthError('AUTHENTICATION_FAILED', 'Malformed token');
  if (header.alg === 'none') throw new AuthError('AUTHENTICATION_FAILED', 'Unsigned tokens are not accepted');
  const hash = HMAC[header.alg];
  if (!hash) throw new AuthError('AUTHENTICATION_FAILED', 'Token algorithm is not accepted (this hub accepts HS tokens only)');
  const want = crypto.createHmac(hash, secret).update(`${parts[0]}.${parts[1]}`).digest();
  const got = Buffer.from(parts[2], 'base64url');
  if (got.length !== want.length || !crypto.timingSafeEqual(got, want))
    throw new AuthError('AUTHENTICATION_FAILED', 'Invalid token signature');
  for (const k of ['sub', 'org']) {
    if (typeof claims[k] !== 'string') throw new AuthError('AUTHENTICATION_FAILED', `Token has no "${k}" claim`);
    if (claims[k].length === 0) throw new AuthError('AUTHENTICATION_FAILED', `Token claim "${k}" is empty`);
  }
  if (typeof claims.name !== 'string') throw new AuthError('AUTHENTICATION_FAILED', 'Token has no "name" claim');
  if (!['viewer', 'editor', 'admin'].includes(claims.role))
    throw new AuthError('AUTHENTICATION_FAILED', 'Token claim "role" must be viewer, editor or admin');
  if (typeof claims.exp !== 'number') throw new AuthError('AUTHENTICATION_FAILED', 'Token has no "exp" claim');
  if (claims.avatar !== undefined && typeof claims.avatar !== 'string')
    throw new AuthError('AUTHENTICATION_FAILED', 'Token claim "avatar" must be a string');
  const now = Date.now() / 1000;
  if (typeof claims.nbf === 'number' && claims.nbf > now + 60) throw new AuthError('AUTHENTICATION_FAILED', 'Token is not valid yet');
  if (typeof claims.iat === 'number' && claims.iat > now + 60) throw new AuthError('AUTHENTICATION_FAILED', 'Token was issued in the future');
  if (claims.exp <= now) throw new AuthError('TOKEN_EXPIRED', 'Token expired');
  return { userId: claims.sub, name: claims.name, avatar: claims.avatar ?? '', org: claims.org, role: claims.role, exp: claims.exp };
}

// ---- PRDs ---------------------------------------------------------------------------

// prdId -> { id, title, org, owner, createdAt, updatedAt, doc, text, sv,
//            sites: Map(userKey -> [site]), siteOwner: [userKey], liveSites: Set,
//            members: Map(socketId -> member) }
const prds = new Map();

function createPrd(title, content, user) {
  const id = `prd_${crypto.randomBytes(12).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x').slice(0, 16).toLowerCase()}`;
  const doc = new Y.Doc({ gc: true });
  const text = doc.getText('content');
  const sv = [];
  // Site 0 is the server's own, as in the hub: it wrote the initial content.
  if (content) {
    doc.clientID = 0;
    text.insert(0, content);
    sv[0] = 1;
  }
  const now = isoNow();
  const prd = {
    id, title, org: user.org, owner: user.userId, createdAt: now, updatedAt: now,
    doc, text, sv, sites: new Map(), siteOwner: ['hub'], liveSites: new Set(), members: new Map(),
  };
  prds.set(id, prd);
  return prd;
}

const userKey = (u) => `${u.org}\u0000${u.userId}`;

function colorFor(prd, userId) {
  let h = 0;
  for (const ch of prd.id + userId) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  const taken = new Set();
  for (const m of prd.members.values()) if (m.userId !== userId) taken.add(m.color);
  for (let i = 0; i < PALETTE.length; i++) {
    const c = PALETTE[(h + i) % PALETTE.length];
    if (!taken.has(c)) return c;
  }
  return PALETTE[h % PALETTE.length];
}

// The user's site held by no live connection, or a fresh one.
function acquireSite(prd, key) {
  let list = prd.sites.get(key);
  if (!list) prd.sites.set(key, (list = []));
  for (const s of list) {
    if (!prd.liveSites.has(s)) {
      prd.liveSites.add(s);
      return s;
    }
  }
  const s = prd.siteOwner.length;
  prd.siteOwner.push(key);
  list.push(s);
  prd.liveSites.add(s);
  return s;
}

// Id ranges [[site, clock, length], ...] of the live characters in
// [pos, pos + len) — the hub's `targets` of a delete.
function deleteTargets(text, pos, len) {
  const out = [];
  let skip = pos;
  for (let item = text._start; item !== null && len > 0; item = item.right) {
    if (item.deleted || !item.countable) continue;
    if (skip >= item.length) {
      skip -= item.length;
      continue;
    }
    const n = Math.min(item.length - skip, len);
    const last = out[out.length - 1];
    const clock = item.id.clock + skip;
    if (last && last[0] === item.id.client && last[1] + last[2] === clock) last[2] += n;
    else out.push([item.id.client, clock, n]);
    len -= n;
    skip = 0;
  }
  return out;
}

// ---- HTTP (REST subset) ---------------------------------------------------------------

function sendJson(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

function onRequest(req, res) {
  if (req.url.startsWith('/socket.io/')) return; // socket.io's
  if (req.method === 'GET' && req.url === '/healthz') return sendJson(res, 200, { status: 'ok' });
  if (req.url !== '/api/prds') return sendJson(res, 404, { code: 'NOT_FOUND', message: 'Not found' });
  if (req.method !== 'POST') return sendJson(res, 405, { code: 'NOT_FOUND', message: 'Method not allowed' });
  let user;
  try {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    user = verifyToken(m ? m[1] : undefined);
  } catch (err) {
    return sendJson(res, 401, { code: err.code ?? 'AUTHENTICATION_FAILED', message: err.message });
  }
  if (user.role === 'viewer') return sendJson(res, 403, { code: 'FORBIDDEN', message: 'Viewers cannot create PRDs' });
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return sendJson(res, 400, { code: 'INVALID_PAYLOAD', message: 'Body is not JSON' });
    }
    if (!body || typeof body.title !== 'string' || body.title.length < 1 || body.title.length > 200 ||
        (body.content !== undefined && typeof body.content !== 'string'))
      return sendJson(res, 400, { code: 'INVALID_PAYLOAD', message: 'Bad title or content' });
    const prd = createPrd(body.title, body.content ?? '', user);
    res.setHeader('location', `/api/prds/${prd.id}`);
    sendJson(res, 201, {
      id: prd.id, title: prd.title, organizationId: prd.org, owner: prd.owner, version: '0.1.0',
      createdAt: prd.createdAt, updatedAt: prd.updatedAt,
    });
  });
}

// ---- Socket.IO ------------------------------------------------------------------------------

const httpServer = http.createServer(onRequest);
const io = new Server(httpServer, {
  serveClient: false,
  pingInterval: 25000,
  pingTimeout: 20000,
  connectTimeout: 45000,
  maxHttpBufferSize: 1e6,
  perMessageDeflate: false,
  httpCompression: false,
});

function authMiddleware(socket, next) {
  try {
    socket.data.user = verifyToken(socket.handshake.auth?.token);
    next();
  } catch (e) {
    const err = new Error(e.code === 'TOKEN_EXPIRED' ? 'Token expired' : 'Authentication failed');
    err.data = { code: e.code ?? 'AUTHENTICATION_FAILED', message: e.message, timestamp: isoNow() };
    next(err);
  }
}
io.of('/').use(authMiddleware);
io.of('/notifications').use(authMiddleware);
const nsp = io.of('/prds');
nsp.use(authMiddleware);

function refuse(socket, ack, event, prdId, code, message) {
  const err = { code, message, timestamp: isoNow(), event };
  if (prdId !== undefined) err.prdId = prdId;
  socket.emit('error', err);
  if (typeof ack === 'function') ack({ error: { code, message } });
}

const isUint = (v) => Number.isInteger(v) && v >= 0;

function memberView(m) {
  const v = { userId: m.userId, name: m.name, avatar: m.avatar, status: m.status, color: m.color };
  if (m.siteId !== undefined) v.siteId = m.siteId;
  return v;
}

function userPresent(prd, key, exceptSocketId) {
  for (const [sid, m] of prd.members) if (sid !== exceptSocketId && m.key === key) return true;
  return false;
}

function leave(socket, prd) {
  const m = prd.members.get(socket.id);
  if (!m) return false;
  prd.members.delete(socket.id);
  if (m.siteId !== undefined) prd.liveSites.delete(m.siteId);
  socket.data.joined.delete(prd.id);
  socket.leave(prd.id);
  if (!userPresent(prd, m.key))
    nsp.to(prd.id).emit('user-left', { prdId: prd.id, userId: m.userId, name: m.name });
  return true;
}

nsp.on('connection', (socket) => {
  const user = socket.data.user;
  socket.data.joined = new Set();

  socket.on('join-prd', (p, ack) => {
    if (!p || typeof p !== 'object' || typeof p.prdId !== 'string')
      return refuse(socket, ack, 'join-prd', undefined, 'INVALID_PAYLOAD', 'prdId must be a string');
    if (!PRD_ID_RE.test(p.prdId)) return refuse(socket, ack, 'join-prd', undefined, 'INVALID_ID', 'Invalid PRD id');
    const prd = prds.get(p.prdId);
    if (!prd || prd.org !== user.org) return refuse(socket, ack, 'join-prd', p.prdId, 'PRD_NOT_FOUND', 'PRD not found');
    const mode = p.mode ?? (user.role === 'viewer' ? 'view' : 'edit');
    if (mode !== 'edit' && mode !== 'view') return refuse(socket, ack, 'join-prd', p.prdId, 'INVALID_PAYLOAD', 'mode must be edit or view');
    if (mode === 'edit' && user.role === 'viewer') return refuse(socket, ack, 'join-prd', p.prdId, 'FORBIDDEN', 'Viewers cannot edit');
    if (prd.members.has(socket.id)) leave(socket, prd); // a re-join starts over
    const key = userKey(user);
    const announce = !userPresent(prd, key);
    const member = {
      key, userId: user.userId, name: user.name, avatar: user.avatar, status: 'viewing',
      color: colorFor(prd, user.userId), mode,
    };
    if (mode === 'edit') member.siteId = acquireSite(prd, key);
    prd.members.set(socket.id, member);
    socket.data.joined.add(prd.id);
    socket.join(prd.id);
    const sv = prd.sv.map((v) => v ?? 0);
    socket.emit('joined-prd', {
      prdId: prd.id,
      initialState: {
        content: prd.text.toString(), version: '0.1.0', stateVector: sv,
        encodedState: Buffer.from(Y.encodeStateAsUpdate(prd.doc)).toString('base64'),
      },
      activeUsers: [...prd.members.values()].map(memberView),
      ...(member.siteId !== undefined ? { siteId: member.siteId } : {}),
      title: prd.title, mode, comments: [], conflicts: [],
    });
    if (announce) socket.to(prd.id).emit('user-joined', { prdId: prd.id, user: memberView(member) });
    if (typeof ack === 'function') {
      ack(member.siteId !== undefined ? { siteId: member.siteId, stateVector: sv, ok: true } : { stateVector: sv, ok: true });
    }
  });

  socket.on('leave-prd', (p, ack) => {
    const prd = p && typeof p.prdId === 'string' ? prds.get(p.prdId) : undefined;
    if (!prd || !leave(socket, prd)) return refuse(socket, ack, 'leave-prd', p?.prdId, 'NOT_JOINED', 'Not joined');
    if (typeof ack === 'function') ack({ ok: true });
  });

  socket.on('content-update', (p, ack) => {
    const ev = 'content-update';
    if (!p || typeof p !== 'object' || typeof p.prdId !== 'string')
      return refuse(socket, ack, ev, undefined, 'INVALID_PAYLOAD', 'prdId must be a string');
    const prd = prds.get(p.prdId);
    const m = prd?.members.get(socket.id);
    if (!m) return refuse(socket, ack, ev, p.prdId, 'NOT_JOINED', 'Not joined');
    if (m.mode !== 'edit') return refuse(socket, ack, ev, p.prdId, 'FORBIDDEN', 'Not joined in edit mode');
    const op = p.operation;
    const sv = p.stateVector;
    if (!op || typeof op !== 'object' || (op.type !== 'insert' && op.type !== 'delete') || !isUint(op.position) ||
        (op.timestamp !== undefined && !isUint(op.timestamp)) || !Array.isArray(sv) || !sv.every(isUint))
      return refuse(socket, ack, ev, p.prdId, 'INVALID_PAYLOAD', 'Malformed operation');
    if (op.type === 'insert' && typeof op.content !== 'string')
      return refuse(socket, ack, ev, p.prdId, 'INVALID_PAYLOAD', 'content must be a string');
    if (op.type === 'insert' && op.content.length === 0)
      return refuse(socket, ack, ev, p.prdId, 'INVALID_OPERATION', 'Empty insert');
    if (op.type === 'delete' && !(Number.isInteger(op.length) && op.length >= 1))
      return refuse(socket, ack, ev, p.prdId, 'INVALID_PAYLOAD', 'length must be an integer >= 1');
    const site = m.siteId;
    const n = sv[site] ?? 0;
    if (n < 1) return refuse(socket, ack, ev, p.prdId, 'INVALID_OPERATION', 'stateVector[siteId] must be at least 1');
    const have = prd.sv[site] ?? 0;
    if (n <= have) {
      if (typeof ack === 'function') ack({ stateVector: prd.sv.map((v) => v ?? 0), duplicate: true, ok: true });
      return;
    }
    if (n !== have + 1)
      return refuse(socket, ack, ev, p.prdId, 'INVALID_OPERATION', `missing operations; sync first (operation ${n} of site ${site}, the hub has ${have})`);
    for (let s = 0; s < sv.length; s++) {
      if (s !== site && sv[s] > (prd.sv[s] ?? 0))
        return refuse(socket, ack, ev, p.prdId, 'INVALID_OPERATION', 'missing operations; sync first');
    }
    // One writer per room in the benchmark: the base version must be the
    // current one (the hub would resolve the position at the base).
    for (let s = 0; s < prd.sv.length; s++) {
      if (s !== site && (prd.sv[s] ?? 0) > (sv[s] ?? 0))
        return refuse(socket, ack, ev, p.prdId, 'INVALID_OPERATION', 'the reference server only accepts operations on the current version');
    }
    const size = op.type === 'insert' ? op.content.length : op.length;
    if (size > MAX_OPERATION_SIZE) return refuse(socket, ack, ev, p.prdId, 'PAYLOAD_TOO_LARGE', 'Operation too large');
    const len = prd.text.length;
    if (op.type === 'insert' ? op.position > len : op.position + op.length > len)
      return refuse(socket, ack, ev, p.prdId, 'INVALID_OPERATION', `Position beyond the end of the document (length ${len})`);

    const doc = prd.doc;
    const out = { type: op.type, position: op.position };
    doc.clientID = site;
    if (op.type === 'insert') {
      const clock = Y.getState(doc.store, site);
      prd.text.insert(op.position, op.content);
      // The item now holding (site, clock) — the new one, or a run of the
      // site's it was merged into; its origins are the new text's.
      const structs = doc.store.clients.get(site);
      const item = structs[structs.length - 1];
      const origin = item.id.clock === clock ? item.origin : Y.createID(site, clock - 1);
      out.content = op.content;
      out.timestamp = op.timestamp ?? Date.now();
      out.id = [site, n];
      out.clock = clock;
      out.origin = origin ? [origin.client, origin.clock] : null;
      out.rightOrigin = item.rightOrigin ? [item.rightOrigin.client, item.rightOrigin.clock] : null;
    } else {
      const targets = deleteTargets(prd.text, op.position, op.length);
      prd.text.delete(op.position, op.length);
      out.length = op.length;
      out.timestamp = op.timestamp ?? Date.now();
      out.id = [site, n];
      out.targets = targets;
    }
    prd.sv[site] = n;
    const after = prd.sv.map((v) => v ?? 0);
    if (typeof ack === 'function') ack({ stateVector: after, ok: true });
    socket.to(prd.id).emit('content-update', {
      prdId: prd.id, userId: m.userId, userName: m.name, operation: out, stateVector: after,
    });
  });

  socket.on('ping', (_p, ack) => {
    if (typeof _p === 'function') ack = _p;
    if (typeof ack === 'function') ack({ ok: true });
    else socket.emit('pong', { timestamp: Date.now() });
  });

  socket.on('disconnect', () => {
    for (const id of [...socket.data.joined]) {
      const prd = prds.get(id);
      if (prd) leave(socket, prd);
    }
  });
});

function stop() {
  io.close();
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

httpServer.listen(port, host, () => {
  const a = httpServer.address();
  console.log(`reference listening on http://${a.address}:${a.port}/`);
});
