// SPDX-License-Identifier: GPL-3.0-or-later

/** A seeded pseudo-random generator (xorshift32): returns integers >= 0. */
export function rng(seed) {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x & 0x7fffffff;
  };
}
