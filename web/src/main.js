// SPDX-License-Identifier: GPL-3.0-or-later
//
// The hub's web editor. Routes: `/` the PRD list, `/prds/{id}` a PRD's
// editor; `#token=…` in the address signs in (and is removed at once).

import { createApi } from './api.js';
import { clear, h } from './dom.js';
import { editorPage } from './editor.js';
import { listPage } from './list.js';
import { Notifications } from './notify.js';
import { adoptFragmentToken, currentSession, decodeClaims, signIn, signInReason, signOut } from './session.js';

function announce(el, text, isError = false) {
  el.textContent = text;
  el.classList.toggle('error', isError);
}

function signInPage(root) {
  const reason = signInReason();
  const input = h('textarea', { id: 'token-input', rows: 4, required: true, spellcheck: 'false', autocomplete: 'off' });
  const error = h('p', { class: 'status error', role: 'alert' }, reason ?? '');
  const form = h('form', { class: 'signin stack', 'aria-labelledby': 'signin-heading' },
    h('h1', { id: 'signin-heading' }, 'Sign in to prdhub'),
    h('p', {}, 'Paste the token your hub’s operator gave you (', h('code', {}, 'prdhub token'),
      '), or open the link ', h('code', {}, 'prdhub token --link'), ' prints.'),
    h('label', { for: 'token-input' }, 'Token'), input, error,
    h('button', { type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const token = input.value.trim();
    const claims = decodeClaims(token);
    if (!claims || typeof claims.sub !== 'string') {
      announce(error, 'That is not a token: paste the whole line printed by prdhub token.', true);
      return;
    }
    signIn(token);
    window.location.reload();
  });
  clear(root, form);
  input.focus();
}

async function main() {
  adoptFragmentToken();
  const root = document.getElementById('main');
  const header = document.getElementById('app-header');
  const session = currentSession();
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
      h('div', { class: 'bell-wrap' }, notifications.button, notifications.panel),
      h('button', { type: 'button', class: 'small', onclick: () => { signOut(); window.location.assign('/'); } }, 'Sign out')));

  const path = window.location.pathname;
  const m = /^\/prds\/([^/]+)\/?$/.exec(path);
  const ctx = { api, session, notifications, announce };
  if (m) await editorPage(root, decodeURIComponent(m[1]), ctx);
  else await listPage(root, ctx);
}

main().catch((err) => {
  const root = document.getElementById('main');
  clear(root, h('p', { class: 'status error', role: 'alert' }, `Something went wrong: ${err.message}`));
  console.error(err);
});
