// SPDX-License-Identifier: GPL-3.0-or-later
//
// The text CRDT of prdhub, in JavaScript: the same model and the same
// integration rules as the hub's C engine (src/crdt, docs/crdt.md), so that a
// client replica and the hub agree byte for byte.
//
// Identity model (two counters per site):
//  - operations (site, seq), seq from 1; stateVector[site] counts the
//    operations of a site a replica has integrated;
//  - characters (site, clock), clock from 0, one per UTF-16 code unit a site
//    inserted. Origins and delete targets name characters.
//
// The document is a YATA sequence (the integration rule of Yjs) over runs of
// characters, tombstones included, cut into chunks of at most CHUNK_MAX
// items; every site keeps, per character clock, the chunk holding it. An
// operation read at an older version (a base vector lacking operations the
// document has) is resolved the eg-walker way: the missing operations are
// retreated in place, the position is looked up, and they are advanced again.

import { zlibInflate, rawInflate, crc32, InflateError } from './inflate.js';

export const NONE = -1;
export const MAX_SITES = 65536;
export const MAX_PENDING = 65536;
export const MAX_INSERT_UNITS = 16 * 1024 * 1024;
export const FORMAT_VERSION = 1;
/** Version of the encoded document state the C engine writes (1 is still read). */
export const STATE_VERSION = 2;

const CHUNK_MAX = 64;
const DECODE_FILL = 56;

const RANGE_DELETE = 0;
const RANGE_UNDELETE = 1;
const RANGE_HIDE = 2;
const RANGE_SHOW = 3;

export class CrdtError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'CrdtError';
    this.code = code;
  }
}

function invalid(message) {
  return new CrdtError('INVALID_OPERATION', message);
}

function corrupt(what) {
  return new CrdtError('CORRUPT_DATA', `Corrupt document state: ${what}`);
}

const isHigh = (u) => u >= 0xd800 && u < 0xdc00;
const isLow = (u) => u >= 0xdc00 && u < 0xe000;

/** Whether @s has no lone surrogate (it would not survive UTF-8 on the wire). */
export function isWellFormed(s) {
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    if (u < 0xd800 || u >= 0xe000) continue;
    if (isHigh(u) && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) {
      i++;
      continue;
    }
    return false;
  }
  return true;
}

const isU32 = (v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

// Growable UTF-16 code unit store: a site's inserted text, by clock.
class Units {
  constructor() {
    this.buf = new Uint16Array(16);
    this.len = 0;
  }

  reserve(n) {
    if (this.len + n > this.buf.length) {
      const b = new Uint16Array(Math.max(this.len + n, this.buf.length * 2));
      b.set(this.buf.subarray(0, this.len));
      this.buf = b;
    }
  }

  push(str) {
    this.reserve(str.length);
    for (let i = 0; i < str.length; i++) this.buf[this.len++] = str.charCodeAt(i);
  }

  slice(from, to) {
    let s = '';
    for (let i = from; i < to; i += 8192)
      s += String.fromCharCode.apply(null, this.buf.subarray(i, Math.min(to, i + 8192)));
    return s;
  }
}

class Site {
  constructor() {
    this.nOps = 0;
    this.text = new Units();
    this.loc = []; // chunk by clock
    // Operation history, for reading older versions: per op, either
    // { ins: true, clock, n } or { ins: false, targets: [[site, clock, len], ...] }.
    this.ops = [];
  }
}

const vis = (it) => (it.del === 0 && !it.hid ? it.len : 0);
const idEq = (as, ac, bs, bc) => as === bs && (as === NONE || ac === bc);

function spansHave(spans, site, clock) {
  for (let i = 0; i < spans.length; i += 3)
    if (spans[i] === site && clock >= spans[i + 1] && clock - spans[i + 1] < spans[i + 2])
      return true;
  return false;
}

function canMerge(a, b) {
  return a.site === b.site && a.clock + a.len === b.clock && b.os === a.site &&
    b.oc === b.clock - 1 && a.rs === b.rs && (a.rs === NONE || a.rc === b.rc) &&
    a.del === b.del && a.hid === b.hid;
}

function addTarget(targets, site, clock, len) {
  const last = targets[targets.length - 1];
  if (last && last[0] === site && last[1] + last[2] === clock) last[2] += len;
  else targets.push([site, clock, len]);
}

function vectorEntry(v, i) {
  return i < v.length ? v[i] : 0;
}

/**
 * Validates an operation in its JSON (wire) form and returns a normalized
 * copy: { type, position, timestamp, site, seq, content, length, clock,
 * origin, rightOrigin, targets }. Throws CrdtError('INVALID_OPERATION').
 */
export function opFromJson(json) {
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw invalid('Operation must be an object');
  const { type } = json;
  if (typeof type !== 'string') throw invalid('Operation type must be a string');
  if (type !== 'insert' && type !== 'delete') throw invalid(`Unknown operation type "${type}"`);
  const u32 = (v, what, min = 0) => {
    if (!Number.isInteger(v)) throw invalid(`${what} must be an integer`);
    if (v < min || v > 0xffffffff) throw invalid(`${what} is out of range (${v})`);
    return v;
  };
  const tuple = (v, what, n) => {
    if (!Array.isArray(v) || v.length !== n) throw invalid(`${what} must be an array of ${n} integers`);
    return v.map((x) => u32(x, what));
  };
  const op = { type, position: u32(json.position, 'position'), timestamp: 0 };
  if (json.timestamp !== undefined && json.timestamp !== null) {
    if (!Number.isInteger(json.timestamp)) throw invalid('timestamp must be an integer');
    op.timestamp = json.timestamp;
  }
  [op.site, op.seq] = tuple(json.id, 'id', 2);
  if (type === 'insert') {
    if (typeof json.content !== 'string') throw invalid('content must be a string');
    op.content = json.content;
    op.length = json.content.length;
    op.clock = u32(json.clock, 'clock');
    op.origin = json.origin == null ? null : tuple(json.origin, 'origin', 2);
    op.rightOrigin = json.rightOrigin == null ? null : tuple(json.rightOrigin, 'rightOrigin', 2);
  } else {
    op.length = u32(json.length, 'length', 1);
    if (!Array.isArray(json.targets) || json.targets.length === 0)
      throw invalid('targets must be a non-empty array');
    op.targets = json.targets.map((t) => tuple(t, 'targets entry', 3));
    const total = op.targets.reduce((a, t) => a + t[2], 0);
    if (total !== op.length)
      throw invalid(`length ${op.length} does not match the targets (${total} characters)`);
  }
  validateOp(op);
  return op;
}

/** The JSON (wire) form of a normalized operation, as the C engine writes it. */
export function opToJson(op) {
  const j = { type: op.type, position: op.position };
  if (op.type === 'insert') j.content = op.content;
  else j.length = op.length;
  j.timestamp = op.timestamp;
  j.id = [op.site, op.seq];
  if (op.type === 'insert') {
    j.clock = op.clock;
    j.origin = op.origin ? [...op.origin] : null;
    j.rightOrigin = op.rightOrigin ? [...op.rightOrigin] : null;
  } else {
    j.targets = op.targets.map((t) => [...t]);
  }
  return j;
}

function validateOp(op) {
  if (op.site >= MAX_SITES)
    throw invalid(`Site ${op.site} is out of range (at most ${MAX_SITES} sites)`);
  if (op.seq === 0) throw invalid('Operation numbers start at 1');
  if (op.type === 'insert') {
    if (!op.content) throw invalid('Insert without content');
    if (!isWellFormed(op.content)) throw invalid('Inserted text is not valid UTF-8');
    if (op.content.length > MAX_INSERT_UNITS)
      throw invalid(`Inserted text is too long (at most ${MAX_INSERT_UNITS} UTF-16 units)`);
    if ((op.origin && op.origin[0] >= MAX_SITES) || (op.rightOrigin && op.rightOrigin[0] >= MAX_SITES))
      throw invalid('Origin site out of range');
    if (op.origin && op.origin[0] === op.site && op.origin[1] >= op.clock)
      throw invalid('Origin is not older than the insert');
    if (op.rightOrigin && op.rightOrigin[0] === op.site && op.rightOrigin[1] >= op.clock)
      throw invalid('Right origin is not older than the insert');
  } else {
    op.targets.forEach((t, i) => {
      if (t[2] === 0 || t[0] >= MAX_SITES || t[1] > 0xffffffff - t[2])
        throw invalid(`Delete target ${i} is not a valid id range`);
    });
  }
}

/**
 * A replica of one document. Positions and lengths count UTF-16 code units.
 *
 * Changes report "deltas": { type: 'insert', position, text } and
 * { type: 'delete', position, length }, in order, in this replica's current
 * text, so an editor can apply them one after the other.
 */
export class CrdtDoc {
  constructor() {
    this.chunks = []; // in document order
    this.dirty = false; // chunk idx fields need renumbering
    this.length = 0;
    this.sites = [];
    this.log = []; // integration order, as [site, count] runs
    this.pending = new Map(); // "site:seq" -> held-back op
    this.nRejected = 0; // held-back operations dropped when their turn came
    this._text = '';
    this._textValid = true;
  }

  // ---- sites, chunks and the index -------------------------------------

  _ensureSite(site) {
    if (site >= MAX_SITES) throw invalid(`Site ${site} is out of range`);
    while (this.sites.length <= site) this.sites.push(new Site());
    return this.sites[site];
  }

  _nChars(site) {
    return site < this.sites.length ? this.sites[site].text.len : 0;
  }

  /** Number of operations of @site this replica has integrated. */
  siteOps(site) {
    return site < this.sites.length ? this.sites[site].nOps : 0;
  }

  /** Number of characters (UTF-16 units) @site has inserted: its next clock. */
  siteClock(site) {
    return this._nChars(site);
  }

  _ensureIndex() {
    if (!this.dirty) return;
    for (let i = 0; i < this.chunks.length; i++) this.chunks[i].idx = i;
    this.dirty = false;
  }

  _addVis(c, delta) {
    c.vis += delta;
    this.length += delta;
    this._textValid = false;
  }

  _locatePos(pos) {
    let rem = pos;
    for (const c of this.chunks) {
      if (rem >= c.vis) {
        rem -= c.vis;
        continue;
      }
      const items = c.items;
      for (let i = 0; i < items.length; i++) {
        const v = vis(items[i]);
        if (rem < v) return { chunk: c, idx: i, off: rem };
        rem -= v;
      }
    }
    throw new Error('crdt: position index is inconsistent');
  }

  _locateId(site, clock) {
    const c = this.sites[site].loc[clock];
    const items = c.items;
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      if (it.site === site && clock >= it.clock && clock - it.clock < it.len)
        return { chunk: c, idx: i, off: clock - it.clock };
    }
    throw new Error('crdt: id index is inconsistent');
  }

  // Visible characters before @l, plus @l.off when its item is visible.
  _locPosition(l) {
    this._ensureIndex();
    let pos = 0;
    const chunks = this.chunks;
    for (let o = 0; o < l.chunk.idx; o++) pos += chunks[o].vis;
    const items = l.chunk.items;
    for (let i = 0; i < l.idx; i++) pos += vis(items[i]);
    if (items[l.idx].del === 0 && !items[l.idx].hid) pos += l.off;
    return pos;
  }

  _setLoc(it, chunk) {
    const loc = this.sites[it.site].loc;
    for (let k = 0; k < it.len; k++) loc[it.clock + k] = chunk;
  }

  _insertItem(c, idx, item, updateLoc) {
    if (c.items.length === CHUNK_MAX) {
      const half = CHUNK_MAX / 2;
      this._ensureIndex();
      const d = { items: c.items.splice(half), vis: 0, idx: 0 };
      let moved = 0;
      for (const it of d.items) {
        moved += vis(it);
        this._setLoc(it, d);
      }
      c.vis -= moved;
      d.vis = moved;
      this.chunks.splice(c.idx + 1, 0, d);
      this.dirty = true;
      if (idx > half) {
        updateLoc = true;
        c = d;
        idx -= half;
      }
    }
    c.items.splice(idx, 0, item);
    const v = vis(item);
    if (v) this._addVis(c, v);
    if (updateLoc) this._setLoc(item, c);
    return { chunk: c, idx, off: 0 };
  }

  _splitAt(l) {
    const a = l.chunk.items[l.idx];
    const b = { ...a };
    b.clock += l.off;
    b.len -= l.off;
    b.os = a.site;
    b.oc = a.clock + l.off - 1;
    a.len = l.off;
    const bv = vis(b);
    if (bv) this._addVis(l.chunk, -bv);
    this._insertItem(l.chunk, l.idx + 1, b, false);
  }

  _nextLoc(l) {
    if (l.idx + 1 < l.chunk.items.length) {
      l.idx++;
      return true;
    }
    this._ensureIndex();
    for (let o = l.chunk.idx + 1; o < this.chunks.length; o++) {
      const c = this.chunks[o];
      if (c.items.length > 0) {
        l.chunk = c;
        l.idx = 0;
        return true;
      }
    }
    return false;
  }

  _firstLoc(l) {
    for (const c of this.chunks) {
      if (c.items.length > 0) {
        l.chunk = c;
        l.idx = 0;
        l.off = 0;
        return true;
      }
    }
    return false;
  }

  _tryMerge(c, idx) {
    const items = c.items;
    if (idx + 1 >= items.length || !canMerge(items[idx], items[idx + 1])) return;
    items[idx].len += items[idx + 1].len;
    items.splice(idx + 1, 1);
  }

  // Apply @mode to the characters (site, clock .. clock + len - 1), splitting
  // items at the range's ends. Deletions that hide visible text are reported
  // in @deltas (when given).
  _rangeApply(site, clock, len, mode, deltas) {
    while (len > 0) {
      let l = this._locateId(site, clock);
      if (l.off > 0) {
        this._splitAt(l);
        l = this._locateId(site, clock);
      }
      let it = l.chunk.items[l.idx];
      if (it.len > len) {
        this._splitAt({ chunk: l.chunk, idx: l.idx, off: len });
        l = this._locateId(site, clock);
        it = l.chunk.items[l.idx];
      }
      const before = vis(it);
      if (deltas && before > 0 && mode === RANGE_DELETE) {
        const position = this._locPosition(l);
        const last = deltas[deltas.length - 1];
        if (last && last.type === 'delete' && last.position === position) last.length += before;
        else deltas.push({ type: 'delete', position, length: before });
      }
      switch (mode) {
        case RANGE_DELETE: it.del++; break;
        case RANGE_UNDELETE: it.del--; break;
        case RANGE_HIDE: it.hid = true; break;
        case RANGE_SHOW: it.hid = false; break;
        default: throw new Error('crdt: bad range mode');
      }
      const after = vis(it);
      if (after !== before) this._addVis(l.chunk, after - before);
      clock += it.len;
      len -= it.len;
      this._tryMerge(l.chunk, l.idx);
      if (l.idx > 0) this._tryMerge(l.chunk, l.idx - 1);
    }
  }

  // ---- the operation log ---------------------------------------------------

  _logAppend(site) {
    const last = this.log[this.log.length - 1];
    if (last && last[0] === site) last[1]++;
    else this.log.push([site, 1]);
  }

  _recordInsert(s, site, clock, n) {
    s.nOps++;
    s.ops.push({ ins: true, clock, n });
    this._logAppend(site);
  }

  // Retreat (hide) or advance (show) every operation this replica has that
  // the version @vector lacks.
  _moveVersion(vector, retreat) {
    for (let site = 0; site < this.sites.length; site++) {
      const s = this.sites[site];
      for (let seq = vectorEntry(vector, site) + 1; seq <= s.nOps; seq++) {
        const op = s.ops[seq - 1];
        if (op.ins) this._rangeApply(site, op.clock, op.n, retreat ? RANGE_HIDE : RANGE_SHOW);
        else
          for (const t of op.targets)
            this._rangeApply(t[0], t[1], t[2], retreat ? RANGE_UNDELETE : RANGE_DELETE);
      }
    }
  }

  // ---- integration ---------------------------------------------------------

  // Integrate the characters (site, clock .. clock + n - 1), whose text is
  // already appended to the site, between origin (os, oc) and right origin
  // (rs, rc) (NONE for the document's ends). Returns where the first
  // character landed.
  _integrateInsert(site, clock, n, os, oc, rs, rc) {
    const item = { site, clock, len: n, os, oc, rs, rc, del: 0, hid: false };
    const s = this.sites[site];
    let haveLeft = false;
    let left = null;

    if (rs !== NONE) {
      const r = this._locateId(rs, rc);
      if (r.off > 0) this._splitAt(r);
    }
    if (os !== NONE) {
      left = this._locateId(os, oc);
      if (left.off + 1 < left.chunk.items[left.idx].len) {
        this._splitAt({ chunk: left.chunk, idx: left.idx, off: left.off + 1 });
        left = this._locateId(os, oc);
      }
      haveLeft = true;
    }
    this._ensureIndex();

    // YATA: walk the items between the origins (all concurrent with this
    // insert) and find the left neighbour.
    const o = { chunk: null, idx: 0, off: 0 };
    let haveO;
    if (haveLeft) {
      o.chunk = left.chunk;
      o.idx = left.idx;
      haveO = this._nextLoc(o);
    } else {
      haveO = this._firstLoc(o);
    }
    if (haveO && !idEq(o.chunk.items[o.idx].site, o.chunk.items[o.idx].clock, rs, rc)) {
      const before = [];
      let conflicting = [];
      while (haveO) {
        const x = o.chunk.items[o.idx];
        if (rs !== NONE && x.site === rs && x.clock === rc) break;
        before.push(x.site, x.clock, x.len);
        conflicting.push(x.site, x.clock, x.len);
        if (idEq(x.os, x.oc, os, oc)) {
          if (x.site < site) {
            left = { chunk: o.chunk, idx: o.idx, off: 0 };
            haveLeft = true;
            conflicting = [];
          } else if (idEq(x.rs, x.rc, rs, rc)) {
            break;
          }
        } else if (x.os !== NONE && spansHave(before, x.os, x.oc)) {
          if (!spansHave(conflicting, x.os, x.oc)) {
            left = { chunk: o.chunk, idx: o.idx, off: 0 };
            haveLeft = true;
            conflicting = [];
          }
        } else {
          break;
        }
        haveO = this._nextLoc(o);
      }
    }

    if (haveLeft) {
      const l = left.chunk.items[left.idx];
      // Typing: extend the run the site just wrote.
      if (l.site === site && l.clock + l.len === clock && os === site && oc === clock - 1 &&
          idEq(l.rs, l.rc, rs, rc) && l.del === 0 && !l.hid) {
        const at = { chunk: left.chunk, idx: left.idx, off: l.len };
        l.len += n;
        this._addVis(left.chunk, n);
        for (let k = 0; k < n; k++) s.loc[clock + k] = left.chunk;
        return at;
      }
      return this._insertItem(left.chunk, left.idx + 1, item, true);
    }
    if (this.chunks.length === 0) {
      this.chunks.push({ items: [], vis: 0, idx: 0 });
      this.dirty = true;
    }
    return this._insertItem(this.chunks[0], 0, item, true);
  }

  _integrateDelete(site, targets, deltas) {
    const s = this._ensureSite(site);
    for (const t of targets) this._rangeApply(t[0], t[1], t[2], RANGE_DELETE, deltas);
    s.nOps++;
    s.ops.push({ ins: false, targets: targets.map((t) => [t[0], t[1], t[2]]) });
    this._logAppend(site);
  }

  // ---- versions --------------------------------------------------------------

  /** The state vector: entry s is the number of integrated ops of site s; no trailing zeros. */
  stateVector() {
    let n = this.sites.length;
    while (n > 0 && this.sites[n - 1].nOps === 0) n--;
    const v = new Array(n);
    for (let i = 0; i < n; i++) v[i] = this.sites[i].nOps;
    return v;
  }

  _checkVector(vector) {
    if (!Array.isArray(vector)) throw invalid('stateVector must be an array');
    if (vector.length > MAX_SITES)
      throw invalid(`State vector has ${vector.length} entries (at most ${MAX_SITES} sites)`);
    for (let i = 0; i < vector.length; i++) {
      if (!isU32(vector[i])) throw invalid('stateVector entry must be an integer');
      const have = this.siteOps(i);
      if (vector[i] > have)
        throw invalid(`State vector names operation ${vector[i]} of site ${i}, but only ${have} are known`);
    }
  }

  _vectorIsCurrent(vector) {
    const n = Math.max(vector.length, this.sites.length);
    for (let i = 0; i < n; i++) if (vectorEntry(vector, i) !== this.siteOps(i)) return false;
    return true;
  }

  // ---- text ----------------------------------------------------------------------

  _collectText() {
    const parts = [];
    for (const c of this.chunks) {
      for (const it of c.items) {
        if (it.del === 0 && !it.hid) parts.push(this.sites[it.site].text.slice(it.clock, it.clock + it.len));
      }
    }
    return parts.join('');
  }

  /** The current text. */
  getText() {
    if (!this._textValid) {
      this._text = this._collectText();
      this._textValid = true;
    }
    return this._text;
  }

  /** The text as of the version @vector (which this replica must have). */
  getTextAt(vector) {
    this._checkVector(vector);
    if (this._vectorIsCurrent(vector)) return this.getText();
    this._moveVersion(vector, true);
    const text = this._collectText();
    this._moveVersion(vector, false);
    this._textValid = false;
    return text;
  }

  _checkLocal(site, base) {
    if (!Number.isInteger(site) || site < 0 || site >= MAX_SITES)
      throw invalid(`Site ${site} is out of range (at most ${MAX_SITES} sites)`);
    this._checkVector(base);
    const own = vectorEntry(base, site);
    if (own !== this.siteOps(site))
      throw invalid(`Operation ${own + 1} of site ${site} is not the next one (the document has ${this.siteOps(site)} of that site)`);
  }

  /**
   * Whether this replica integrated the very operation @op (same id and
   * same content): tells an edit the hub took (its ack lost) from another
   * edit that reused the id.
   */
  hasSameOp(op) {
    const s = this.sites[op.site];
    if (!s || op.seq > s.nOps) return false;
    const h = s.ops[op.seq - 1];
    if (op.type === 'insert')
      return h.ins && h.clock === op.clock && h.n === op.content.length &&
        s.text.slice(h.clock, h.clock + h.n) === op.content;
    return !h.ins && h.targets.length === op.targets.length &&
      h.targets.every((t, i) => t[0] === op.targets[i][0] && t[1] === op.targets[i][1] && t[2] === op.targets[i][2]);
  }

  // ---- local operations (the positional path) ----------------------------------------

  /**
   * Inserts @text at @position of the version @base (this replica's current
   * vector when omitted) as the next operation of @site. Returns
   * { op, deltas }: the operation in CRDT form (position = where its first
   * character is now) and the change to the current text.
   */
  localInsert(site, position, text, { base, timestamp = 0 } = {}) {
    base = base ?? this.stateVector();
    if (typeof text !== 'string' || text.length === 0) throw invalid('Insert of empty text');
    this._checkLocal(site, base);
    if (!isWellFormed(text)) throw invalid('Inserted text is not valid UTF-8');
    const n = text.length;
    if (n > MAX_INSERT_UNITS)
      throw invalid(`Inserted text is too long (${n} UTF-16 units, at most ${MAX_INSERT_UNITS})`);
    if (!isU32(position)) throw invalid('position must be a non-negative integer');

    const current = this._vectorIsCurrent(base);
    if (!current) this._moveVersion(base, true);
    let os = NONE;
    let oc = 0;
    let rs = NONE;
    let rc = 0;
    try {
      if (position > this.length)
        throw invalid(`Insert position ${position} is beyond the end of the document (length ${this.length})`);
      // Neighbours in the base version: the visible character before the
      // position, and the first item after it that the base version has
      // (deleted or not).
      const r = { chunk: null, idx: 0, off: 0 };
      let haveR;
      let found = false;
      if (position > 0) {
        const l = this._locatePos(position - 1);
        const it = l.chunk.items[l.idx];
        os = it.site;
        oc = it.clock + l.off;
        if (isHigh(this.sites[os].text.buf[oc])) throw invalid(`Position ${position} splits a surrogate pair`);
        if (l.off + 1 < it.len) {
          rs = it.site;
          rc = oc + 1;
          found = true;
        } else {
          r.chunk = l.chunk;
          r.idx = l.idx;
          this._ensureIndex();
          haveR = this._nextLoc(r);
        }
      } else {
        this._ensureIndex();
        haveR = this._firstLoc(r);
      }
      if (!found) {
        while (haveR && r.chunk.items[r.idx].hid) haveR = this._nextLoc(r);
        if (haveR) {
          rs = r.chunk.items[r.idx].site;
          rc = r.chunk.items[r.idx].clock;
        }
      }
    } finally {
      if (!current) this._moveVersion(base, false);
    }

    const s = this._ensureSite(site);
    const clock = s.text.len;
    s.text.push(text);
    const at = this._integrateInsert(site, clock, n, os, oc, rs, rc);
    this._recordInsert(s, site, clock, n);
    const op = {
      type: 'insert', position: this._locPosition(at), timestamp, site, seq: s.nOps,
      content: text, length: n, clock,
      origin: os === NONE ? null : [os, oc],
      rightOrigin: rs === NONE ? null : [rs, rc],
    };
    return { op, deltas: [{ type: 'insert', position: op.position, text }] };
  }

  /**
   * Inserts @text right after the character @origin ([site, clock], deleted
   * or not; null: at the start of the document) as the next operation of
   * @site: its origin is @origin and its right origin the item after it,
   * deleted or not. For an SDK re-applying an edit after the character it
   * was typed after, when someone else may have deleted that character.
   *
   * The hub takes inserts as positions, and a position names the visible
   * character before it. So the insert is made as localInsert() at the
   * version `base`: the current one with each site that deleted @origin
   * set back to before its first such delete (@origin is visible there),
   * at `basePosition`, right after @origin in that version. A content-update
   * of that position with that base (own entry one higher) makes the hub
   * integrate exactly `op`. Returns { op, deltas, base, basePosition }, or
   * null when @site itself deleted @origin (no such version keeps @site's
   * operations; nothing changes then).
   */
  insertAfter(site, origin, text, { timestamp = 0 } = {}) {
    if (origin === null || origin === undefined) {
      const base = this.stateVector();
      return { ...this.localInsert(site, 0, text, { base, timestamp }), base, basePosition: 0 };
    }
    if (!Array.isArray(origin) || origin.length !== 2 || !isU32(origin[0]) || !isU32(origin[1]))
      throw invalid('origin must be [site, clock]');
    const [os, oc] = origin;
    if (os >= this.sites.length || oc >= this._nChars(os))
      throw invalid(`Character ${oc} of site ${os} is not in the document`);
    const base = this.stateVector();
    const l = this._locateId(os, oc);
    if (l.chunk.items[l.idx].del > 0) {
      for (let x = 0; x < this.sites.length; x++) {
        const ops = this.sites[x].ops;
        for (let seq = 1; seq <= ops.length; seq++) {
          const h = ops[seq - 1];
          if (h.ins || !h.targets.some((t) => t[0] === os && oc >= t[1] && oc - t[1] < t[2])) continue;
          if (x === site) return null;
          base[x] = seq - 1;
          break;
        }
      }
    }
    const current = this._vectorIsCurrent(base);
    if (!current) this._moveVersion(base, true);
    let basePosition;
    try {
      basePosition = this._locPosition(this._locateId(os, oc)) + 1;
    } finally {
      if (!current) this._moveVersion(base, false);
    }
    return { ...this.localInsert(site, basePosition, text, { base, timestamp }), base, basePosition };
  }

  /**
   * Appends @text to @site's last operation when it is an insert whose last
   * character is the end of its run and nothing was integrated after it:
   * the document is then exactly what one insert of the whole text would
   * have made. For an SDK coalescing typing it has not sent yet. Returns the
   * extended operation's deltas, or null when the conditions do not hold
   * (nothing changes then).
   */
  extendLastInsert(site, text) {
    const s = this.sites[site];
    if (!s || s.nOps === 0 || typeof text !== 'string' || text.length === 0 || !isWellFormed(text)) return null;
    const last = this.log[this.log.length - 1];
    if (!last || last[0] !== site) return null;
    const h = s.ops[s.nOps - 1];
    if (!h.ins || h.clock + h.n !== s.text.len) return null;
    const l = this._locateId(site, h.clock + h.n - 1);
    const it = l.chunk.items[l.idx];
    if (l.off !== it.len - 1 || it.del !== 0 || it.hid) return null;
    if (isHigh(s.text.buf[h.clock + h.n - 1])) return null;
    if (h.n + text.length > MAX_INSERT_UNITS) return null;
    const position = this._locPosition(l) + 1;
    const clock = s.text.len;
    s.text.push(text);
    it.len += text.length;
    this._addVis(l.chunk, text.length);
    for (let k = 0; k < text.length; k++) s.loc[clock + k] = l.chunk;
    h.n += text.length;
    return [{ type: 'insert', position, text }];
  }

  /**
   * Deletes @length characters at @position of the version @base (current
   * when omitted) as the next operation of @site. Returns { op, deltas }.
   */
  localDelete(site, position, length, { base, timestamp = 0 } = {}) {
    base = base ?? this.stateVector();
    if (!Number.isInteger(length) || length <= 0) throw invalid('Delete of length 0');
    this._checkLocal(site, base);
    if (!isU32(position)) throw invalid('position must be a non-negative integer');
    const current = this._vectorIsCurrent(base);
    if (!current) this._moveVersion(base, true);
    const targets = [];
    try {
      if (position > this.length || length > this.length - position)
        throw invalid(`Delete of ${length} at ${position} is beyond the end of the document (length ${this.length})`);
      const l = this._locatePos(position);
      let left = length;
      while (left > 0) {
        const it = l.chunk.items[l.idx];
        if (it.del === 0 && !it.hid) {
          const take = Math.min(it.len - l.off, left);
          addTarget(targets, it.site, it.clock + l.off, take);
          left -= take;
        }
        l.off = 0;
        if (left > 0 && !this._nextLoc(l)) throw new Error('crdt: ran off the end');
      }
      const first = targets[0];
      const last = targets[targets.length - 1];
      if (isLow(this.sites[first[0]].text.buf[first[1]]) ||
          isHigh(this.sites[last[0]].text.buf[last[1] + last[2] - 1]))
        throw invalid(`Delete of ${length} at ${position} splits a surrogate pair`);
    } finally {
      if (!current) this._moveVersion(base, false);
    }
    const first = this._locPosition(this._locateId(targets[0][0], targets[0][1]));
    const deltas = [];
    this._integrateDelete(site, targets, deltas);
    const op = {
      type: 'delete', position: first, timestamp, site, seq: this.siteOps(site), length, targets,
    };
    return { op, deltas };
  }

  // ---- remote operations (the CRDT path) ---------------------------------------------

  _depsReady(op) {
    if (op.type === 'insert')
      return (!op.origin || op.origin[1] < this._nChars(op.origin[0])) &&
        (!op.rightOrigin || op.rightOrigin[1] < this._nChars(op.rightOrigin[0]));
    for (const t of op.targets) if (t[1] + t[2] - 1 >= this._nChars(t[0])) return false;
    return true;
  }

  _integrateRemote(op, deltas) {
    const s = this._ensureSite(op.site);
    if (op.type === 'insert') {
      const clock = s.text.len;
      if (op.clock !== clock)
        throw invalid(`Insert (${op.site}, ${op.seq}) starts at clock ${op.clock} but site ${op.site} is at clock ${clock}`);
      if (op.origin && isHigh(this.sites[op.origin[0]].text.buf[op.origin[1]]))
        throw invalid('Insert splits a surrogate pair');
      s.text.push(op.content);
      const at = this._integrateInsert(op.site, clock, op.content.length,
        op.origin ? op.origin[0] : NONE, op.origin ? op.origin[1] : 0,
        op.rightOrigin ? op.rightOrigin[0] : NONE, op.rightOrigin ? op.rightOrigin[1] : 0);
      this._recordInsert(s, op.site, clock, op.content.length);
      deltas.push({ type: 'insert', position: this._locPosition(at), text: op.content });
    } else {
      this._integrateDelete(op.site, op.targets, deltas);
    }
  }

  _drainPending(deltas) {
    let applied = 0;
    let progress = true;
    while (progress && this.pending.size > 0) {
      progress = false;
      for (let site = 0; site < this.sites.length; site++) {
        const key = `${site}:${this.sites[site].nOps + 1}`;
        const op = this.pending.get(key);
        if (!op || !this._depsReady(op)) continue;
        try {
          this._integrateRemote(op, deltas);
          applied++;
        } catch (err) {
          if (!(err instanceof CrdtError)) throw err;
          // Like the C engine: a held-back operation that does not fit when
          // its turn comes is dropped and counted.
          this.nRejected++;
        }
        this.pending.delete(key);
        progress = true;
      }
    }
    return applied;
  }

  /**
   * Integrates an operation in CRDT form (JSON wire form or normalized).
   * Idempotent and order-free: a known operation is ignored, one whose
   * dependencies have not arrived is held back. Returns { applied, deltas }.
   */
  applyRemote(json) {
    return this._applyRemoteOp(opFromJson(json));
  }

  _applyRemoteOp(op) {
    const deltas = [];
    if (op.seq <= this.siteOps(op.site)) return { applied: 0, deltas };
    const key = `${op.site}:${op.seq}`;
    if (this.pending.has(key)) return { applied: 0, deltas };
    if (op.seq === this.siteOps(op.site) + 1 && this._depsReady(op)) {
      this._integrateRemote(op, deltas);
      const applied = 1 + this._drainPending(deltas);
      return { applied, deltas };
    }
    if (this.pending.size >= MAX_PENDING)
      throw invalid(`Too many operations waiting for their dependencies (${MAX_PENDING})`);
    this._ensureSite(op.site);
    this.pending.set(key, op);
    return { applied: 0, deltas };
  }

  /** Number of held-back operations. */
  get nPending() {
    return this.pending.size;
  }

  // ---- positions that follow the text --------------------------------------------

  /** The character id at @position (assoc 'after') or before it ('before'); null at the ends. */
  anchorAt(position, assoc = 'after') {
    if (!isU32(position) || position > this.length)
      throw invalid(`Position ${position} is beyond the end of the document (length ${this.length})`);
    if (assoc === 'after' ? position < this.length : position > 0) {
      const l = this._locatePos(assoc === 'after' ? position : position - 1);
      const it = l.chunk.items[l.idx];
      return { id: [it.site, it.clock + l.off], assoc };
    }
    return { id: null, assoc };
  }

  resolveAnchor(anchor) {
    if (!anchor.id) return anchor.assoc === 'after' ? this.length : 0;
    const [site, clock] = anchor.id;
    if (clock >= this._nChars(site)) throw invalid('Anchor names an unknown character');
    const l = this._locateId(site, clock);
    let pos = this._locPosition(l);
    const it = l.chunk.items[l.idx];
    if (anchor.assoc === 'before' && it.del === 0 && !it.hid) pos++;
    return pos;
  }

  /**
   * Where the offsets @places (`[position, assoc]`, read in the current
   * text) are in the older version @vector (which this replica must have):
   * each before the character at it (assoc 'after') or after the one
   * before it ('before'); where that character would be when @vector lacks
   * it. Returns the positions, in order.
   */
  positionsAt(places, vector) {
    const anchors = places.map(([position, assoc]) => this.anchorAt(position, assoc));
    this._checkVector(vector);
    if (this._vectorIsCurrent(vector)) return anchors.map((a) => this.resolveAnchor(a));
    this._moveVersion(vector, true);
    try {
      return anchors.map((a) => this.resolveAnchor(a));
    } finally {
      this._moveVersion(vector, false);
      this._textValid = false;
    }
  }

  /**
   * The inverse of positionsAt(): where the offsets @places (`[position,
   * assoc]`, read in the older version @vector, which this replica must
   * have) are in the current text. Each is tied, in that version, to the
   * character after it (assoc 'after') or before it ('before'), as the hub
   * ties a comment's anchors, and found again now: text added since shifts
   * it, text added at it stays on the side away from its character, and
   * where that character was deleted since, it is where the character would
   * be. Returns the positions, in order; throws INVALID_OPERATION when a
   * position is past the end of that version's text.
   */
  positionsFrom(places, vector) {
    return this.placesFrom(places, vector).positions;
  }

  /**
   * positionsFrom(), and for each place whether the character it is tied
   * to in @vector's text has been deleted since (`deleted`, in order; false
   * at either end of that text, where no character is named). One move to
   * that version for all the places.
   */
  placesFrom(places, vector) {
    this._checkVector(vector);
    let anchors;
    if (this._vectorIsCurrent(vector)) {
      anchors = places.map(([position, assoc]) => this.anchorAt(position, assoc));
    } else {
      this._moveVersion(vector, true);
      try {
        anchors = places.map(([position, assoc]) => this.anchorAt(position, assoc));
      } finally {
        this._moveVersion(vector, false);
        this._textValid = false;
      }
    }
    return {
      positions: anchors.map((a) => this.resolveAnchor(a)),
      deleted: anchors.map((a) => a.id !== null && !this._anchorVisible(a)),
    };
  }

  // Whether the character @anchor names is in the text now.
  _anchorVisible(anchor) {
    const [site, clock] = anchor.id;
    const l = this._locateId(site, clock);
    const it = l.chunk.items[l.idx];
    return it.del === 0 && !it.hid;
  }

  // ---- binary state (prd_crdt_doc_decode_state) ------------------------------------

  /**
   * Rebuilds a replica from the C engine's prd_crdt_doc_encode_state() bytes
   * (a Uint8Array, or a base64 string as the hub sends it).
   */
  static decodeState(data) {
    if (typeof data === 'string') data = base64ToBytes(data);
    if (!(data instanceof Uint8Array)) throw corrupt('not a byte string');
    if (data.length < 1) throw corrupt('empty');
    if (data[0] !== 1 && data[0] !== STATE_VERSION)
      throw new CrdtError('UNSUPPORTED_VERSION',
        `Unsupported CRDT state version ${data[0]} (this build reads 1 to ${STATE_VERSION})`);
    if (data.length < 2 || (data[1] & ~1) !== 0) throw corrupt('bad flags');
    const dropped = (data[1] & 1) !== 0;
    const doc = new CrdtDoc();
    try {
      if (data[0] === 1) {
        decodeBodyV1(doc, zlibInflate(data.subarray(2)), dropped);
        return doc;
      }
      if (data.length < 6) throw corrupt('truncated');
      const crc = (data[2] | (data[3] << 8) | (data[4] << 16) | (data[5] << 24)) >>> 0;
      const h = new Reader(data.subarray(6));
      const len = h.u32();
      if (len > h.left) throw corrupt('truncated');
      const start = 6 + h.p;
      const body = rawInflate(data.subarray(start, start + len));
      const text = rawInflate(data.subarray(start + len), 512 * 1024 * 1024 - body.length);
      if (crc32(text, crc32(body)) !== crc) throw corrupt('checksum mismatch');
      decodeBodyV2(doc, body, text, dropped);
    } catch (err) {
      if (err instanceof InflateError) throw corrupt(err.message);
      throw err;
    }
    return doc;
  }
}

export function base64ToBytes(b64) {
  if (typeof Buffer !== 'undefined') return new Uint8Array(Buffer.from(b64, 'base64'));
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

class Reader {
  constructor(buf) {
    this.buf = buf;
    this.p = 0;
  }

  get left() {
    return this.buf.length - this.p;
  }

  varint() {
    let v = 0;
    let mul = 1;
    for (let shift = 0; shift < 64; shift += 7) {
      if (this.p >= this.buf.length) throw new CrdtError('CORRUPT_DATA', 'Truncated data');
      const b = this.buf[this.p++];
      v += (b & 0x7f) * mul;
      if (!(b & 0x80)) {
        if (!Number.isSafeInteger(v)) throw new CrdtError('CORRUPT_DATA', 'Integer out of range');
        return v;
      }
      mul *= 128;
    }
    throw new CrdtError('CORRUPT_DATA', 'Malformed variable-length integer');
  }

  u32() {
    const v = this.varint();
    if (v > 0xffffffff) throw new CrdtError('CORRUPT_DATA', 'Integer out of range');
    return v;
  }

  zigzag() {
    const v = this.varint();
    return v % 2 === 0 ? v / 2 : -(v + 1) / 2;
  }

  units(n, units) {
    const buf = this.buf;
    for (let i = 0; i < n; i++) {
      if (this.p >= buf.length) throw corrupt('Malformed text');
      const b = buf[this.p++];
      if (b < 0x80) {
        units[i] = b;
      } else if ((b & 0xe0) === 0xc0) {
        if (this.p >= buf.length || (buf[this.p] & 0xc0) !== 0x80) throw corrupt('Malformed text');
        units[i] = ((b & 0x1f) << 6) | (buf[this.p++] & 0x3f);
      } else if ((b & 0xf0) === 0xe0) {
        if (buf.length - this.p < 2 || (buf[this.p] & 0xc0) !== 0x80 || (buf[this.p + 1] & 0xc0) !== 0x80)
          throw corrupt('Malformed text');
        units[i] = ((b & 0x0f) << 12) | ((buf[this.p] & 0x3f) << 6) | (buf[this.p + 1] & 0x3f);
        this.p += 2;
      } else {
        throw corrupt('Malformed text');
      }
    }
  }
}

const O_NONE = 0;
const O_PREV = 1;
const O_EXPLICIT = 2;
const O_SELF = 3; // version 2: the character before the item's first one
const R_NONE = 0;
const R_NEXT = 1;
const R_EXPLICIT = 2;
const R_INHERIT = 3; // version 2: the right origin of the item holding the origin
const PENDING = -2; // an origin given by item index, until every item is read
const H_DELETED = 16;
const H_SITE = 32;
const H_MANYDEL = 64;
const C_HDR = 0;
const C_SITE = 1;
const C_CLOCK = 2;
const C_LEN = 3;
const C_ORIG = 4;
const C_RIGHT = 5;
const C_DEL = 6;
const N_COLS = 7;
// version 2: the runs and delete targets come first, column by column
const C_RUN_KIND = 0;
const C_RUN_COUNT = 1;
const C_RUN_PSITE = 2;
const C_RUN_START = 3;
const C_DEL_ITEM = 4;
const C_DEL_OFFSET = 5;
const C_DEL_LEN = 6;
const N_RUN_COLS = 7;
const RUN_INSERT = 0;
const RUN_DELETE = 1;
const RUN_BACKSPACE = 2;
const RUN_FORWARD = 3;

// Checks the kind, count and length of an operation run; @acc counts the
// site's operations, characters and delete targets so far.
function checkRun(ek, count, acc) {
  const each = Math.floor(ek / 4);
  const kind = ek % 4;
  if (each === 0 || each > 0xffffffff || count === 0) throw corrupt('bad operation run');
  const run = { kind, each, count, start: kind === RUN_DELETE ? acc.dels : acc.chars, psite: 0 };
  acc.ops += count;
  if (kind === RUN_DELETE) acc.dels += count * each;
  else if (kind === RUN_INSERT) acc.chars += count * each;
  if (acc.ops > 0xffffffff || acc.chars > 0xffffffff || acc.dels > 0xffffffff) throw corrupt('operation run overflow');
  return run;
}

function checkDeleteRun(run, nSites) {
  if (run.each !== 1 || run.psite >= nSites ||
      (run.kind === RUN_BACKSPACE ? run.start < run.count - 1 : run.start + run.count > 0xffffffff))
    throw corrupt('bad delete run');
}

// Sizes the sites; the operation history, and delete targets must name
// existing characters. @delRuns: per site [runs, targets].
function finishSites(doc, nChars, delRuns, checkTargets = true) {
  const nSites = doc.sites.length;
  for (let s = 0; s < nSites; s++) {
    const site = doc.sites[s];
    site.text.reserve(nChars[s]);
    site.text.len = nChars[s];
    site.loc = new Array(nChars[s]);
  }
  for (let s = 0; s < nSites; s++) {
    const site = doc.sites[s];
    const [runs, targets] = delRuns[s];
    if (checkTargets)
      for (const t of targets)
        if (t[1] + t[2] > doc.sites[t[0]].text.len) throw corrupt('delete target out of range');
    for (const run of runs) {
      if (run.kind >= RUN_BACKSPACE) {
        const hi = run.kind === RUN_BACKSPACE ? run.start : run.start + run.count - 1;
        if (hi >= doc.sites[run.psite].text.len) throw corrupt('delete run out of range');
      }
      for (let k = 0; k < run.count; k++) {
        if (run.kind === RUN_INSERT)
          site.ops.push({ ins: true, clock: run.start + k * run.each, n: run.each });
        else if (run.kind === RUN_DELETE)
          site.ops.push({ ins: false, targets: targets.slice(run.start + k * run.each, run.start + (k + 1) * run.each) });
        else
          site.ops.push({ ins: false, targets: [[run.psite, run.kind === RUN_BACKSPACE ? run.start - k : run.start + k, 1]] });
      }
    }
  }
}

function decodeLog(doc, r) {
  const nSites = doc.sites.length;
  const nLog = r.u32();
  if (nLog > r.left / 2) throw corrupt('bad log');
  const seen = new Array(nSites).fill(0);
  for (let i = 0; i < nLog; i++) {
    const site = r.u32();
    const count = r.u32();
    if (site >= nSites || count === 0 || seen[site] + count > 0xffffffff) throw corrupt('bad log run');
    seen[site] += count;
    doc.log.push([site, count]);
  }
  for (let s = 0; s < nSites; s++) if (seen[s] !== doc.sites[s].nOps) throw corrupt('log does not match the sites');
}

function readColumns(r, n, body) {
  const clen = [];
  for (let k = 0; k < n; k++) clen.push(r.u32());
  const col = [];
  for (let k = 0; k < n; k++) {
    if (clen[k] > r.left) throw corrupt('bad column length');
    col.push(new Reader(body.subarray(r.p, r.p + clen[k])));
    r.p += clen[k];
  }
  return col;
}

// Appends a decoded item in document order.
function addItem(doc, it, state) {
  const site = doc.sites[it.site];
  for (let c = 0; c < it.len; c++) if (site.loc[it.clock + c] !== undefined) throw corrupt('character stored twice');
  if (state.chunk === null || state.chunk.items.length === DECODE_FILL) {
    state.chunk = { items: [], vis: 0, idx: doc.chunks.length };
    doc.chunks.push(state.chunk);
  }
  state.chunk.items.push(it);
  state.chunk.vis += vis(it);
  for (let c = 0; c < it.len; c++) site.loc[it.clock + c] = state.chunk;
}

// The text, item by item in document order; then the document is complete.
function decodeText(doc, order, r, dropped) {
  for (const it of order) {
    const units = doc.sites[it.site].text.buf.subarray(it.clock, it.clock + it.len);
    if (dropped && it.del > 0) units.fill(0xffff);
    else r.units(it.len, units);
  }
  if (r.left !== 0) throw corrupt('trailing bytes');
  doc.lossy = dropped;
  doc.length = 0;
  for (const c of doc.chunks) doc.length += c.vis;
  doc.dirty = false;
  doc._textValid = false;
}

function decodeDelCount(h, col) {
  if (h & H_MANYDEL) {
    const del = col.u32();
    if (del < 2 || del >= 0x80000000) throw corrupt('bad delete count');
    return del;
  }
  return h & H_DELETED ? 1 : 0;
}

// Version 1: one zlib stream, sites with their runs and targets interleaved,
// explicit origins as ids.
function decodeBodyV1(doc, body, dropped) {
  const r = new Reader(body);
  const nSites = r.u32();
  if (nSites > MAX_SITES || nSites > r.left) throw corrupt('too many sites');
  for (let s = 0; s < nSites; s++) doc._ensureSite(s);
  const delRuns = []; // per site: [runs, dels]
  const nChars = [];
  for (let s = 0; s < nSites; s++) {
    const site = doc.sites[s];
    const nOps = r.u32();
    nChars.push(r.u32());
    const nRuns = r.u32();
    if (nRuns > r.left / 2 || nChars[s] > 512 * 1024 * 1024) throw corrupt('bad site header');
    const runs = [];
    const acc = { ops: 0, chars: 0, dels: 0 };
    for (let i = 0; i < nRuns; i++) {
      const ek = r.varint();
      const run = checkRun(ek, r.u32(), acc);
      if (run.kind >= RUN_BACKSPACE) {
        run.psite = r.u32();
        run.start = r.u32();
        checkDeleteRun(run, nSites);
      }
      runs.push(run);
    }
    if (acc.ops !== nOps || acc.chars !== nChars[s]) throw corrupt('operation runs do not add up');
    const nDels = r.u32();
    if (nDels !== acc.dels || nDels > r.left / 3) throw corrupt('delete targets do not add up');
    const targets = new Array(nDels);
    let pc = 0;
    for (let i = 0; i < nDels; i++) {
      const ts = r.u32();
      const c = pc + r.zigzag();
      const len = r.u32();
      if (ts >= nSites || c < 0 || c > 0xffffffff || len === 0) throw corrupt('bad delete target');
      targets[i] = [ts, c, len];
      pc = c;
    }
    site.nOps = nOps;
    delRuns.push([runs, targets]);
  }
  finishSites(doc, nChars, delRuns);
  decodeLog(doc, r);

  const nItems = r.u32();
  let totalChars = 0;
  for (const s of doc.sites) totalChars += s.text.len;
  if (nItems > r.left / 2 || nItems > totalChars) throw corrupt('bad item count');
  // item fields are stored column by column
  const col = readColumns(r, N_COLS, body);
  const lastEnd = new Array(nSites).fill(0);
  const order = new Array(nItems);
  const state = { chunk: null };
  let prev = null;
  let prevSite = 0;
  let prevRNext = false;
  let covered = 0;
  for (let k = 0; k < nItems; k++) {
    const h = col[C_HDR].u32();
    if (h >= 128 || (h & 3) === 3 || ((h >> 2) & 3) === 3 || ((h & H_MANYDEL) && !(h & H_DELETED)))
      throw corrupt('bad item header');
    const it = { site: prevSite, clock: 0, len: 0, os: NONE, oc: 0, rs: NONE, rc: 0, del: 0, hid: false };
    if (h & H_SITE) it.site = col[C_SITE].u32();
    if (it.site >= nSites || ((h & H_SITE) && k > 0 && it.site === prevSite)) throw corrupt('bad item site');
    const clock = lastEnd[it.site] + col[C_CLOCK].zigzag();
    it.len = col[C_LEN].u32();
    const site = doc.sites[it.site];
    if (clock < 0 || it.len === 0 || clock + it.len > site.text.len) throw corrupt('item out of range');
    it.clock = clock;
    switch (h & 3) {
      case O_NONE:
        break;
      case O_PREV:
        if (!prev) throw corrupt('origin before the first item');
        it.os = prev.site;
        it.oc = prev.clock + prev.len - 1;
        break;
      default:
        it.os = col[C_ORIG].u32();
        it.oc = col[C_ORIG].u32();
        if (it.os >= nSites || it.oc >= doc.sites[it.os].text.len) throw corrupt('origin out of range');
    }
    let rNext = false;
    switch ((h >> 2) & 3) {
      case R_NONE:
        break;
      case R_NEXT:
        rNext = true;
        break;
      default:
        it.rs = col[C_RIGHT].u32();
        it.rc = col[C_RIGHT].u32();
        if (it.rs >= nSites || it.rc >= doc.sites[it.rs].text.len) throw corrupt('right origin out of range');
    }
    it.del = decodeDelCount(h, col[C_DEL]);
    addItem(doc, it, state);
    if (prevRNext) {
      prev.rs = it.site;
      prev.rc = it.clock;
    }
    prevRNext = rNext;
    order[k] = it;
    covered += it.len;
    lastEnd[it.site] = clock + it.len;
    prevSite = it.site;
    prev = it;
  }
  if (prevRNext) throw corrupt('right origin after the last item');
  for (const c of col) if (c.left !== 0) throw corrupt('trailing bytes in an item column');
  if (covered !== totalChars) throw corrupt('items do not cover every character');
  decodeText(doc, order, r, dropped);
}

// Version 2 (docs/crdt.md, "Binary forms"): the metadata body and the text
// come from two raw deflate streams; runs, targets and items column by column.
function decodeBodyV2(doc, body, text, dropped) {
  const r = new Reader(body);
  const nSites = r.u32();
  if (nSites > MAX_SITES || nSites > r.left) throw corrupt('too many sites');
  for (let s = 0; s < nSites; s++) doc._ensureSite(s);
  const heads = [];
  for (let s = 0; s < nSites; s++) {
    const nOps = r.u32();
    const nChars = r.u32();
    const nRuns = r.u32();
    const nDels = r.u32();
    if (nRuns > r.left / 2 || nDels > r.left / 3 || nChars > 512 * 1024 * 1024) throw corrupt('bad site header');
    doc.sites[s].nOps = nOps;
    heads.push({ nChars, nRuns, nDels });
  }
  decodeLog(doc, r);
  const nItems = r.u32();
  if (nItems > r.left / 2) throw corrupt('bad item count');
  const col = readColumns(r, N_RUN_COLS + N_COLS, body);
  if (r.left !== 0) throw corrupt('trailing bytes');

  // the runs and delete targets of every site
  const delRuns = [];
  for (let s = 0; s < nSites; s++) {
    const { nChars, nRuns, nDels } = heads[s];
    const runs = [];
    const targets = new Array(nDels);
    const acc = { ops: 0, chars: 0, dels: 0 };
    let last = 0; // where the site's previous backspace/forward run ended
    let lastJ = 0; // the item of the site's previous delete target
    for (let i = 0; i < nRuns; i++) {
      const ek = col[C_RUN_KIND].varint();
      const run = checkRun(ek, col[C_RUN_COUNT].u32(), acc);
      if (run.kind >= RUN_BACKSPACE) {
        run.psite = col[C_RUN_PSITE].u32();
        const v = last + col[C_RUN_START].zigzag();
        if (v < 0 || v > 0xffffffff) throw corrupt('bad delete run');
        run.start = v;
        checkDeleteRun(run, nSites);
        last = run.kind === RUN_BACKSPACE ? v - run.count + 1 : v + run.count;
      } else if (run.kind === RUN_DELETE) {
        if (acc.dels > nDels) throw corrupt('delete targets do not add up');
        for (let k = run.start; k < acc.dels; k++) {
          // item index and offset for now: resolved once the items are read
          const j = lastJ + col[C_DEL_ITEM].zigzag();
          const off = col[C_DEL_OFFSET].u32();
          const len = col[C_DEL_LEN].u32();
          if (j < 0 || j >= nItems || len === 0) throw corrupt('bad delete target');
          targets[k] = [j, off, len];
          lastJ = j;
        }
      }
      runs.push(run);
    }
    if (acc.ops !== doc.sites[s].nOps || acc.chars !== nChars) throw corrupt('operation runs do not add up');
    if (acc.dels !== nDels) throw corrupt('delete targets do not add up');
    delRuns.push([runs, targets]);
  }
  for (let k = 0; k < N_RUN_COLS; k++) if (col[k].left !== 0) throw corrupt('trailing bytes in a run column');
  finishSites(doc, heads.map((h) => h.nChars), delRuns, false);
  let totalChars = 0;
  for (const s of doc.sites) totalChars += s.text.len;
  if (nItems > totalChars) throw corrupt('bad item count');

  const ic = col.slice(N_RUN_COLS);
  const lastEnd = new Array(nSites).fill(0);
  const order = new Array(nItems);
  const oidx = new Array(nItems); // item holding the origin
  const rref = new Array(nItems); // right origin: [mode, item, offset]
  const state = { chunk: null };
  let prev = null;
  let prevSite = 0;
  let covered = 0;
  for (let k = 0; k < nItems; k++) {
    const h = ic[C_HDR].u32();
    const om = h & 3;
    const rm = (h >> 2) & 3;
    if (h >= 128 || (om === O_SELF && (h & H_SITE)) || ((h & H_MANYDEL) && !(h & H_DELETED)) ||
        (om === O_NONE && rm === R_INHERIT))
      throw corrupt('bad item header');
    const it = { site: prevSite, clock: 0, len: 0, os: NONE, oc: 0, rs: NONE, rc: 0, del: 0, hid: false };
    let clock;
    if (om === O_SELF) {
      const d = ic[C_ORIG].u32();
      if (d === 0 || d > k) throw corrupt('origin out of range');
      const src = order[k - d];
      oidx[k] = k - d;
      it.site = src.site;
      clock = src.clock + src.len;
      it.os = src.site;
      it.oc = clock - 1;
    } else {
      if (h & H_SITE) it.site = ic[C_SITE].u32();
      if (it.site >= nSites || ((h & H_SITE) && k > 0 && it.site === prevSite)) throw corrupt('bad item site');
      clock = lastEnd[it.site] + ic[C_CLOCK].zigzag();
    }
    it.len = ic[C_LEN].u32();
    const site = doc.sites[it.site];
    if (clock < 0 || it.len === 0 || clock + it.len > site.text.len) throw corrupt('item out of range');
    it.clock = clock;
    if (om === O_PREV) {
      if (!prev) throw corrupt('origin before the first item');
      it.os = prev.site;
      it.oc = prev.clock + prev.len - 1;
      oidx[k] = k - 1;
    } else if (om === O_EXPLICIT) {
      const j = k - ic[C_ORIG].zigzag();
      it.oc = ic[C_ORIG].u32(); // offset from the end of item j, resolved below
      if (j < 0 || j >= nItems) throw corrupt('origin out of range');
      oidx[k] = j;
      it.os = PENDING;
    }
    if (rm === R_NEXT) {
      rref[k] = [R_NEXT];
    } else if (rm === R_EXPLICIT) {
      const t = k + ic[C_RIGHT].zigzag();
      const off = ic[C_RIGHT].u32();
      if (t < 0 || t >= nItems) throw corrupt('right origin out of range');
      rref[k] = [R_EXPLICIT, t, off];
    } else if (rm === R_INHERIT) {
      if (oidx[k] >= k) throw corrupt('right origin out of range');
      rref[k] = [R_INHERIT];
    }
    it.del = decodeDelCount(h, ic[C_DEL]);
    addItem(doc, it, state);
    order[k] = it;
    covered += it.len;
    lastEnd[it.site] = clock + it.len;
    prevSite = it.site;
    prev = it;
  }
  for (const c of ic) if (c.left !== 0) throw corrupt('trailing bytes in an item column');
  if (covered !== totalChars) throw corrupt('items do not cover every character');
  // origins and right origins given by item index, now that every item is known
  for (let k = 0; k < nItems; k++) {
    const it = order[k];
    if (it.os === PENDING) {
      const src = order[oidx[k]];
      if (it.oc >= src.len) throw corrupt('origin out of range');
      it.os = src.site;
      it.oc = src.clock + src.len - 1 - it.oc;
    }
    const ref = rref[k];
    if (ref === undefined) continue;
    if (ref[0] === R_NEXT) {
      if (k + 1 >= nItems) throw corrupt('right origin after the last item');
      it.rs = order[k + 1].site;
      it.rc = order[k + 1].clock;
    } else if (ref[0] === R_EXPLICIT) {
      const dst = order[ref[1]];
      if (ref[2] >= dst.len) throw corrupt('right origin out of range');
      it.rs = dst.site;
      it.rc = dst.clock + ref[2];
    } else {
      const src = order[oidx[k]]; // before this one: already resolved
      it.rs = src.rs;
      it.rc = src.rc;
    }
  }
  // delete targets given as (item index, offset) become ids of existing characters
  for (const [, targets] of delRuns) {
    for (const t of targets) {
      const it = order[t[0]];
      if (t[1] >= it.len || it.clock + t[1] + t[2] > doc.sites[it.site].text.len)
        throw corrupt('delete target out of range');
      t[0] = it.site;
      t[1] = it.clock + t[1];
    }
  }
  decodeText(doc, order, new Reader(text), dropped);
}
