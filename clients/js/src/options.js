// SPDX-License-Identifier: GPL-3.0-or-later
//
// Checks of the clients' numeric options (PrdClient, NotificationsClient):
// a bad one is a TypeError naming it, when the client is made.

// The longest delay a timer takes (2^31 - 1 ms, about 24.8 days): setTimeout
// (and socket.io's timeout()) fires a longer one after 1 ms instead.
export const MAX_DELAY_MS = 2147483647;

// @v as an error message shows it.
export function describe(v) {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  try {
    return String(v);
  } catch {
    return typeof v;
  }
}

// The option @name of @options, @fallback when absent: a whole number of
// at least 1, or a TypeError naming it.
export function countOption(options, name, fallback) {
  const v = options[name] ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1) throw new TypeError(`${name} must be an integer of at least 1 (got ${describe(v)})`);
  return v;
}

// The option @name in ms: a number above 0 (or 0 too with @zero), at most
// MAX_DELAY_MS.
export function msOption(options, name, fallback, zero) {
  const v = options[name] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (v === 0 && !zero) || v > MAX_DELAY_MS) {
    throw new TypeError(`${name} must be a number of ms ${zero ? 'of at least 0' : 'above 0'} and at most ` +
      `${MAX_DELAY_MS} (got ${describe(v)})`);
  }
  return v;
}
