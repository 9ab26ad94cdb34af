// SPDX-License-Identifier: GPL-3.0-or-later
//
// The hub's web editor. Routes: `/` the PRD list, `/prds/{id}` a PRD's
// editor; `#token=…` in the address signs in once the user agrees (it is
// removed from the address at once).

import { createApi } from './api.js';
import { clear, h } from './dom.js';
import { editorPage } from './editor.js';
import { listPage } from './list.js';
import { Notifications } from './notify.js';
import {
  currentSession, decodeClaims, describeClaims, isSignInLink, linkProblem, redeemLink, signIn, signInReason,
  signOut, takeFragmentToken,
} from './session.js';

function announce(el, text, isError = false) {
  el.textContent = text;
  el.classList.toggle('error', isError);
}

function signInPage(root, reason = signInReason()) {
  const input = h('textarea', { id: 'token-input', rows: 4, required: true, spellcheck: 'false', autocomplete: 'off' });
  const error = h('p', { class: 'status error', role: 'alert' }, reason ?? '');
  const form = h('form', { class: 'signin stack', 'aria-labelledby': 'signin-heading' },
    h('h1', { id: 'signin-heading' }, 'Sign in to prdhub'),
    h('p', {}, 'Paste the token your hub’s operator gave you (', h('code', {}, 'prdhub token'),
      '), or open the link ', h('code', {}, 'prdhub token --link'), ' prints.'),
    h('label', { for: 'token-input' }, 'Token'), input, error,
    h('button', { type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const token = input.value.trim();
    const claims = decodeClaims(token);
    if (!claims || typeof claims.sub !== 'string') {
      announce(error, 'That is not a token: paste the whole line printed by prdhub token.', true);
      return;
    }
    try {
      // A sign-in link's token, pasted: traded like the link's.
      signIn(isSignInLink(claims) ? await redeemLink(token) : token);
      window.location.reload();
    } catch (err) {
      announce(error, err.message, true);
    }
  });
  clear(root, form);
  input.focus();
}

/**
 * Asks before a link signs in: anyone can send a link that signs its reader
 * in as someone else (what they then write goes to that user's
 * organization), or out of their own session.
 */
function confirmPage(root, pending, current) {
  const who = describeClaims(pending.claims);
  const error = h('p', { class: 'status error', role: 'alert' });
  const yes = h('button', { type: 'submit', id: 'signin-confirm' }, `Sign in as ${who.name}`);
  const no = h('button', {
    type: 'button',
    id: 'signin-cancel',
    class: 'secondary',
    onclick: () => window.location.reload(),
  }, current ? `Stay signed in as ${current.name}` : 'Cancel');
  const form = h('form', { class: 'signin stack', 'aria-labelledby': 'signin-heading' },
    h('h1', { id: 'signin-heading' }, 'Sign in with this link?'),
    h('p', { class: 'signin-who' },
      `This link signs you in as ${who.name} (${who.userId}), ${who.role} in organization ${who.org}.`),
    current && h('p', { class: 'signin-current' },
      `You are signed in as ${current.name} (${current.userId}), ${current.role} in organization ` +
      `${current.org}; this tab would leave that session.`),
    h('p', {}, 'Go on only if you asked for this link or trust whoever sent it: what you write will be ' +
      `written as ${who.name}.`),
    error, h('div', { class: 'row' }, yes, no));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    yes.disabled = true;
    try {
      signIn(isSignInLink(pending.claims) ? await redeemLink(pending.token) : pending.token);
      window.location.reload();
    } catch (err) {
      announce(error, err.message, true);
    }
  });
  clear(root, form);
  yes.focus();
}

async function main() {
  const pending = takeFragmentToken();
  const root = document.getElementById('main');
  const header = document.getElementById('app-header');
  const session = currentSession();
  if (pending) {
    const problem = linkProblem(pending.claims);
    if (!problem) {
      confirmPage(root, pending, session);
      return;
    }
    // A broken or expired link does not end the session of this tab.
    if (!session) {
      signInPage(root, problem);
      return;
    }
  }
  if (!session) {
    signInPage(root);
    return;
  }
  const api = createApi(session);
  const notifications = new Notifications(session);
  clear(header,
    h('a', { class: 'brand', href: '/' }, 'prdhub'),
    h('div', { class: 'header-tools' },
      h('span', { class: 'me' }, `${session.name} · ${session.role}`),
      h('div', { class: 'bell-wrap' }, notifications.button, notifications.live, notifications.panel),
      h('button', { type: 'button', class: 'small', onclick: () => { signOut(); window.location.assign('/'); } }, 'Sign out')));

  const path = window.location.pathname;
  const m = /^\/prds\/([^/]+)\/?$/.exec(path);
  const ctx = { api, session, notifications, announce };
  if (m) await editorPage(root, decodeURIComponent(m[1]), ctx);
  else await listPage(root, ctx);
}

// A link to this same page with a new `#token=…` changes only the fragment:
// the page starts again to ask about it.
window.addEventListener('hashchange', () => {
  if (new URLSearchParams(window.location.hash.slice(1)).has('token')) window.location.reload();
});

main().catch((err) => {
  const root = document.getElementById('main');
  clear(root, h('p', { class: 'status error', role: 'alert' }, `Something went wrong: ${err.message}`));
  console.error(err);
});
