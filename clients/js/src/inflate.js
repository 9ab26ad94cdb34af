// SPDX-License-Identifier: GPL-3.0-or-later
//
// A small synchronous zlib (RFC 1950) / DEFLATE (RFC 1951) decoder, so that
// the SDK can read the hub's encoded CRDT state in a browser and in Node
// without another dependency. Every length and code is checked: corrupt
// input throws, it never reads or writes out of bounds.

const MAXBITS = 15;

const LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83,
  99, 115, 131, 163, 195, 227, 258];
const LEN_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5,
  5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769,
  1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11,
  11, 12, 12, 13, 13];
const CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

export class InflateError extends Error {}

function fail(what) {
  throw new InflateError(`corrupt compressed data: ${what}`);
}

// Canonical Huffman code as counts per length and symbols in code order.
function buildHuffman(lengths, n) {
  const count = new Uint16Array(MAXBITS + 1);
  const symbol = new Uint16Array(n);
  for (let s = 0; s < n; s++) count[lengths[s]]++;
  if (count[0] === n) return { count, symbol, empty: true };
  let left = 1;
  for (let len = 1; len <= MAXBITS; len++) {
    left <<= 1;
    left -= count[len];
    if (left < 0) fail('over-subscribed code');
  }
  const offs = new Uint16Array(MAXBITS + 1);
  for (let len = 1; len < MAXBITS; len++) offs[len + 1] = offs[len] + count[len];
  for (let s = 0; s < n; s++) if (lengths[s] !== 0) symbol[offs[lengths[s]]++] = s;
  return { count, symbol, empty: false };
}

let fixedLit = null;
let fixedDist = null;

function fixedTables() {
  if (!fixedLit) {
    const l = new Uint8Array(288);
    for (let i = 0; i < 144; i++) l[i] = 8;
    for (let i = 144; i < 256; i++) l[i] = 9;
    for (let i = 256; i < 280; i++) l[i] = 7;
    for (let i = 280; i < 288; i++) l[i] = 8;
    fixedLit = buildHuffman(l, 288);
    fixedDist = buildHuffman(new Uint8Array(30).fill(5), 30);
  }
  return [fixedLit, fixedDist];
}

class State {
  constructor(data, pos, limit) {
    this.data = data;
    this.pos = pos;
    this.bitbuf = 0;
    this.bitcnt = 0;
    this.out = new Uint8Array(Math.max(1024, data.length * 4));
    this.outLen = 0;
    this.limit = limit;
  }

  bits(need) {
    let val = this.bitbuf;
    while (this.bitcnt < need) {
      if (this.pos >= this.data.length) fail('truncated');
      val |= this.data[this.pos++] << this.bitcnt;
      this.bitcnt += 8;
    }
    this.bitbuf = val >>> need;
    this.bitcnt -= need;
    return val & ((1 << need) - 1);
  }

  grow(extra) {
    const need = this.outLen + extra;
    if (need > this.limit) fail('output too large');
    if (need > this.out.length) {
      const bigger = new Uint8Array(Math.min(this.limit, Math.max(need, this.out.length * 2)));
      bigger.set(this.out.subarray(0, this.outLen));
      this.out = bigger;
    }
  }

  decode(h) {
    if (h.empty) fail('symbol from an empty code');
    let code = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len <= MAXBITS; len++) {
      code |= this.bits(1);
      const count = h.count[len];
      if (code - count < first) return h.symbol[index + (code - first)];
      index += count;
      first += count;
      first <<= 1;
      code <<= 1;
    }
    fail('bad code');
    return -1;
  }
}

function stored(s) {
  s.bitbuf = 0;
  s.bitcnt = 0;
  if (s.pos + 4 > s.data.length) fail('truncated stored block');
  const len = s.data[s.pos] | (s.data[s.pos + 1] << 8);
  const nlen = s.data[s.pos + 2] | (s.data[s.pos + 3] << 8);
  s.pos += 4;
  if (len !== (~nlen & 0xffff)) fail('stored block length');
  if (s.pos + len > s.data.length) fail('truncated stored block');
  s.grow(len);
  s.out.set(s.data.subarray(s.pos, s.pos + len), s.outLen);
  s.outLen += len;
  s.pos += len;
}

function codes(s, lit, dist) {
  for (;;) {
    let sym = s.decode(lit);
    if (sym < 256) {
      s.grow(1);
      s.out[s.outLen++] = sym;
    } else if (sym === 256) {
      return;
    } else {
      sym -= 257;
      if (sym >= 29) fail('bad length symbol');
      const len = LEN_BASE[sym] + s.bits(LEN_EXTRA[sym]);
      const dsym = s.decode(dist);
      if (dsym >= 30) fail('bad distance symbol');
      const d = DIST_BASE[dsym] + s.bits(DIST_EXTRA[dsym]);
      if (d > s.outLen) fail('distance too far back');
      s.grow(len);
      const out = s.out;
      let from = s.outLen - d;
      for (let i = 0; i < len; i++) out[s.outLen++] = out[from++];
    }
  }
}

function dynamic(s) {
  const nlen = s.bits(5) + 257;
  const ndist = s.bits(5) + 1;
  const ncode = s.bits(4) + 4;
  if (nlen > 286 || ndist > 30) fail('bad counts');
  const lengths = new Uint8Array(320);
  for (let i = 0; i < ncode; i++) lengths[CL_ORDER[i]] = s.bits(3);
  const lencode = buildHuffman(lengths, 19);
  lengths.fill(0);
  let index = 0;
  while (index < nlen + ndist) {
    const sym = s.decode(lencode);
    if (sym < 16) {
      lengths[index++] = sym;
    } else {
      let len = 0;
      let rep;
      if (sym === 16) {
        if (index === 0) fail('repeat with no first length');
        len = lengths[index - 1];
        rep = 3 + s.bits(2);
      } else if (sym === 17) {
        rep = 3 + s.bits(3);
      } else {
        rep = 11 + s.bits(7);
      }
      if (index + rep > nlen + ndist) fail('too many lengths');
      while (rep--) lengths[index++] = len;
    }
  }
  if (lengths[256] === 0) fail('no end-of-block code');
  const lit = buildHuffman(lengths.subarray(0, nlen), nlen);
  const dist = buildHuffman(lengths.subarray(nlen, nlen + ndist), ndist);
  codes(s, lit, dist);
}

function adler32(buf, n) {
  let a = 1;
  let b = 0;
  let i = 0;
  while (i < n) {
    const end = Math.min(n, i + 3800);
    for (; i < end; i++) {
      a += buf[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

function inflateBlocks(data, pos, limit) {
  const s = new State(data, pos, limit);
  let last;
  do {
    last = s.bits(1);
    const type = s.bits(2);
    if (type === 0) stored(s);
    else if (type === 1) codes(s, ...fixedTables());
    else if (type === 2) dynamic(s);
    else fail('bad block type');
  } while (!last);
  return s;
}

/**
 * Decompresses a complete zlib stream (header, DEFLATE data, Adler-32).
 * @param {Uint8Array} data
 * @param {number} [limit] largest output accepted, in bytes
 * @returns {Uint8Array}
 */
export function zlibInflate(data, limit = 512 * 1024 * 1024) {
  if (data.length < 6) fail('too short');
  const cmf = data[0];
  const flg = data[1];
  if ((cmf & 0x0f) !== 8 || (cmf >> 4) > 7 || ((cmf << 8) | flg) % 31 !== 0) fail('bad header');
  if (flg & 0x20) fail('preset dictionary');
  const s = inflateBlocks(data, 2, limit);
  if (s.pos + 4 !== data.length) fail(s.pos + 4 > data.length ? 'truncated' : 'trailing bytes');
  const want = ((data[s.pos] << 24) | (data[s.pos + 1] << 16) | (data[s.pos + 2] << 8) |
    data[s.pos + 3]) >>> 0;
  if (adler32(s.out, s.outLen) !== want) fail('checksum mismatch');
  return s.out.subarray(0, s.outLen);
}

/**
 * Decompresses a complete raw DEFLATE stream (no header, no checksum): the
 * whole of @data must be the stream.
 * @param {Uint8Array} data
 * @param {number} [limit] largest output accepted, in bytes
 * @returns {Uint8Array}
 */
export function rawInflate(data, limit = 512 * 1024 * 1024) {
  const s = inflateBlocks(data, 0, limit);
  if (s.pos !== data.length) fail('trailing bytes');
  return s.out.subarray(0, s.outLen);
}

let crcTable = null;

/**
 * CRC-32 (the one of zlib, PNG and gzip) of @buf, continuing from @crc.
 * @param {Uint8Array} buf
 * @param {number} [crc]
 * @returns {number}
 */
export function crc32(buf, crc = 0) {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = ~crc >>> 0;
  for (let i = 0; i < buf.length; i++) c = crcTable[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
