// SPDX-License-Identifier: GPL-3.0-or-later
//
// Sign-in for a LAN: a token pasted into the sign-in form, or a link
// `#token=…` (`prdhub token --link`), kept in sessionStorage. A link's token
// is taken out of the address bar at once and signs in only once the user
// has said yes (main.js); a sign-in link's token (claim `sign_in_link`) is
// traded once for the session's own token (`POST /api/sign-in`), so the copy
// the browser keeps in its history opens nothing. A token that stops
// working sends the user back to the sign-in form, unless the page holds
// work of its own (the editor: handleExpiry()), which then asks for a fresh
// token in place.

const KEY = 'prdhub-token';
const REASON_KEY = 'prdhub-signin-reason';

export function decodeClaims(token) {
  try {
    const part = String(token).split('.')[1];
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/**
 * Takes `#token=…` out of the address (so that it is not shown, bookmarked
 * or sent anywhere) and returns `{ token, claims }`, or null without one.
 * Nothing is signed in: the page asks first.
 */
export function takeFragmentToken() {
  const hash = window.location.hash;
  if (!hash.startsWith('#')) return null;
  const params = new URLSearchParams(hash.slice(1));
  const token = params.get('token');
  if (token === null) return null;
  params.delete('token');
  const rest = params.toString();
  const url = window.location.pathname + window.location.search + (rest ? `#${rest}` : '');
  window.history.replaceState(null, '', url);
  return { token: token.trim(), claims: decodeClaims(token.trim()) };
}

/** Why a link's token cannot sign in (unreadable, expired), or null. */
export function linkProblem(claims) {
  if (!claims || typeof claims.sub !== 'string') {
    return 'That link’s token could not be read. Ask for a new link (prdhub token --link).';
  }
  if (typeof claims.exp === 'number' && claims.exp * 1000 <= Date.now()) {
    return 'That link has expired. Ask for a new one (prdhub token --link).';
  }
  return null;
}

/** Whether @claims are a sign-in link's, which the hub trades once for a session's token. */
export function isSignInLink(claims) {
  return typeof claims?.sign_in_link === 'string';
}

/** Who @claims name, as the page shows a user. */
export function describeClaims(claims) {
  return {
    userId: claims.sub,
    name: typeof claims.name === 'string' ? claims.name : claims.sub,
    org: typeof claims.org === 'string' ? claims.org : 'default',
    role: typeof claims.role === 'string' ? claims.role : 'editor',
  };
}

/** The signed-in session, or null with the reason in `signInReason()`. */
export function currentSession() {
  const token = sessionStorage.getItem(KEY);
  if (!token) return null;
  const claims = decodeClaims(token);
  if (!claims || typeof claims.sub !== 'string') {
    signOut('That token could not be read. Paste the whole token printed by prdhub token.');
    return null;
  }
  if (typeof claims.exp === 'number' && claims.exp * 1000 <= Date.now()) {
    signOut('Your token has expired. Ask for a new one (prdhub token) and sign in again.');
    return null;
  }
  return { token, ...describeClaims(claims), exp: claims.exp };
}

export function signIn(token) {
  sessionStorage.setItem(KEY, token.trim());
  sessionStorage.removeItem(REASON_KEY);
}

export function signOut(reason) {
  sessionStorage.removeItem(KEY);
  if (reason) sessionStorage.setItem(REASON_KEY, reason);
  else sessionStorage.removeItem(REASON_KEY);
}

export function signInReason() {
  return sessionStorage.getItem(REASON_KEY);
}

/** The sign-in form's reason for a refused token's error @code. */
export function refusalReason(code, message) {
  if (code === 'TOKEN_EXPIRED') return 'Your token has expired. Ask for a new one (prdhub token) and sign in again.';
  if (code === 'TOKEN_REVOKED') return 'Your token was revoked. Ask for a new one (prdhub token) and sign in again.';
  return `The hub refused your token: ${message ?? 'authentication failed'}.`;
}

/**
 * Trades a sign-in link's token for the session's own (once per link):
 * resolves with the token, rejects with the hub's reason.
 */
export async function redeemLink(link) {
  const res = await fetch('/api/sign-in', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ link }),
    cache: 'no-store',
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok || typeof body.token !== 'string') {
    throw new Error(body.message ?? `The hub refused the link (HTTP ${res.status})`);
  }
  return body.token;
}

/**
 * The token in what the user pasted to continue a session: a token, or a
 * sign-in link (`http://HOST/#token=…`), whose token is taken.
 */
export function pastedToken(text) {
  const value = String(text).trim();
  const at = value.indexOf('#');
  if (at < 0) return value;
  return new URLSearchParams(value.slice(at + 1)).get('token')?.trim() ?? value;
}

/**
 * Why @claims (of a token pasted to continue @session) cannot continue it,
 * or null: unreadable, expired, or another user or role (the hub's
 * `refresh-token` rule).
 */
export function freshTokenProblem(claims, session) {
  if (!claims || typeof claims.sub !== 'string') {
    return 'That is not a token: paste the whole line printed by prdhub token, or a link of prdhub token --link.';
  }
  if (typeof claims.exp === 'number' && claims.exp * 1000 <= Date.now()) {
    return 'That token has expired too. Ask for a new one (prdhub token).';
  }
  const who = describeClaims(claims);
  if (who.userId !== session.userId || who.org !== session.org || who.role !== session.role) {
    return `That token is for ${who.name} (${who.userId}), ${who.role} in organization ${who.org}; ` +
      `this page is ${session.name}'s (${session.userId}), ${session.role} in organization ${session.org}. ` +
      'Paste a token of that user and role.';
  }
  return null;
}

// A page holding work of its own (the editor's unsent edits) takes the end
// of the session itself instead of leaving for the sign-in form.
let expiryHandler = null;

/**
 * Makes expire() call @handler(reason, code) instead of leaving the page,
 * until the returned function is called.
 */
export function handleExpiry(handler) {
  expiryHandler = handler;
  return () => {
    if (expiryHandler === handler) expiryHandler = null;
  };
}

/**
 * The session's token no longer works (@code: TOKEN_EXPIRED, TOKEN_REVOKED,
 * AUTHENTICATION_FAILED): the page's handler is told (handleExpiry()), or
 * the user goes back to the sign-in form with @reason.
 */
export function expire(reason, code) {
  if (expiryHandler) {
    expiryHandler(reason, code);
    return;
  }
  signOut(reason);
  window.location.assign('/');
}
