// SPDX-License-Identifier: GPL-3.0-or-later
//
// Sign-in for a LAN: a token from `#token=…` (removed from the address bar
// at once) or pasted into the sign-in form, kept in sessionStorage.

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

/** Takes `#token=…` from the address into sessionStorage and drops the fragment. */
export function adoptFragmentToken() {
  const hash = window.location.hash;
  if (!hash.startsWith('#')) return;
  const params = new URLSearchParams(hash.slice(1));
  const token = params.get('token');
  if (token === null) return;
  if (token !== '') sessionStorage.setItem(KEY, token);
  params.delete('token');
  const rest = params.toString();
  const url = window.location.pathname + window.location.search + (rest ? `#${rest}` : '');
  window.history.replaceState(null, '', url);
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
  return {
    token,
    userId: claims.sub,
    name: typeof claims.name === 'string' ? claims.name : claims.sub,
    org: typeof claims.org === 'string' ? claims.org : 'default',
    role: typeof claims.role === 'string' ? claims.role : 'editor',
    exp: claims.exp,
  };
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

/** Sends the user back to the sign-in form with @reason (an expired or refused token). */
export function expire(reason) {
  signOut(reason);
  window.location.assign('/');
}
