// SPDX-License-Identifier: GPL-3.0-or-later
//
// `/prds/{id}`: a PRD's editor. CodeMirror 6 bound to the SDK's PrdClient
// (binding.js), others' cursors and the presence list, a rendered preview,
// the connection state (with a switch to work offline), and the side
// panels: comments, AI help, versions, activity; conflicts on top. When the
// token stops working (expired, revoked) the page stays: read-only, saying
// how many edits wait, until a fresh token pasted in place sends them.

import { Compartment, EditorState, EditorSelection } from '@codemirror/state';
import { EditorView, keymap, lineNumbers, drawSelection, highlightActiveLine } from '@codemirror/view';
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { markdown } from '@codemirror/lang-markdown';
import { defaultHighlightStyle, syntaxHighlighting } from '@codemirror/language';
import { io } from 'socket.io-client';
import { PrdClient } from '../../clients/js/src/client.js';
import { EditorBinding, LINE_SEPARATOR, cleanPastes, replacedCharacters } from './binding.js';
import { Announcer, connectionKey, connectionMessage } from './announce.js';
import { commentField, colorClass, remoteCursorField, setCommentRanges, setRemoteCursors } from './decorations.js';
import { clear, formatTime, h, uid } from './dom.js';
import { activityFeed } from './notify.js';
import { parseUnifiedDiff, sideBySide } from './diff.js';
import { headings } from './sections.js';
import { PreviewRenderer } from './preview.js';
import { shiftCommentAnchor } from './anchors.js';
import {
  decodeClaims, expire, freshTokenProblem, handleExpiry, isSignInLink, pastedToken, redeemLink, refusalReason, signIn,
  signOut,
} from './session.js';

// The preview's worker (web/build.mjs names its bundle).
/* global PREVIEW_WORKER_URL */
const previewWorkerUrl = typeof PREVIEW_WORKER_URL === 'string' ? PREVIEW_WORKER_URL : null;

const AI_MESSAGES = {
  AI_NOT_CONFIGURED: 'AI help is not configured on this hub. An operator can set [ai] base-url and model (see the README, “AI help”).',
  RATE_LIMIT_EXCEEDED: 'The AI quota is used up for now.',
  PROVIDER_ERROR: 'The AI provider failed.',
  PROVIDER_TIMEOUT: 'The AI provider did not answer in time.',
  PROVIDER_PROTOCOL_ERROR: 'The AI provider sent an answer the hub could not read.',
  CANCELLED: 'The AI request was cancelled.',
  FORBIDDEN: 'You may not write AI answers into this PRD (view only).',
};

export function aiErrorMessage(error) {
  const base = AI_MESSAGES[error?.code] ?? `The AI request failed: ${error?.message ?? 'unknown error'}`;
  const parts = [base];
  if (error?.code === 'RATE_LIMIT_EXCEEDED' && typeof error.retryAfter === 'number')
    parts.push(`Try again in ${Math.ceil(error.retryAfter)} s.`);
  if (error?.code === 'PROVIDER_ERROR' && typeof error.status === 'number') parts.push(`(HTTP ${error.status})`);
  if (error?.code !== 'AI_NOT_CONFIGURED' && error?.code !== 'CANCELLED' && error?.message) parts.push(`— ${error.message}`);
  return parts.join(' ');
}

// @onAck runs in the ack's callback itself (before any event sent after it).
function emitAck(socket, event, payload, onAck) {
  return new Promise((resolve) => socket.emit(event, payload, (res) => {
    onAck?.(res ?? {});
    resolve(res ?? {});
  }));
}

/** A tab list (WAI-ARIA tabs: arrow keys move between tabs). */
function tabs(label, entries) {
  const list = h('div', { role: 'tablist', 'aria-label': label, class: 'tabs' });
  const panels = [];
  const buttons = entries.map((e, i) => {
    const tabId = uid('tab');
    const panelId = uid('panel');
    const button = h('button', {
      type: 'button', role: 'tab', id: tabId, 'aria-controls': panelId,
      'aria-selected': String(i === 0), tabindex: i === 0 ? '0' : '-1', dataset: { tab: e.key },
    }, e.title, e.badge ?? null);
    const panel = h('div', { role: 'tabpanel', id: panelId, 'aria-labelledby': tabId, class: 'tab-panel', hidden: i !== 0, dataset: { panel: e.key } }, e.content);
    panels.push(panel);
    return button;
  });
  const select = (i, focus) => {
    buttons.forEach((b, j) => {
      b.setAttribute('aria-selected', String(i === j));
      b.tabIndex = i === j ? 0 : -1;
      panels[j].hidden = i !== j;
    });
    if (focus) buttons[i].focus();
  };
  buttons.forEach((b, i) => {
    b.addEventListener('click', () => select(i, false));
    b.addEventListener('keydown', (ev) => {
      const n = buttons.length;
      if (ev.key === 'ArrowRight' || ev.key === 'ArrowDown') { ev.preventDefault(); select((i + 1) % n, true); }
      else if (ev.key === 'ArrowLeft' || ev.key === 'ArrowUp') { ev.preventDefault(); select((i + n - 1) % n, true); }
      else if (ev.key === 'Home') { ev.preventDefault(); select(0, true); }
      else if (ev.key === 'End') { ev.preventDefault(); select(n - 1, true); }
    });
  });
  list.append(...buttons);
  return { list, panels, select: (key) => select(entries.findIndex((e) => e.key === key), false) };
}

export async function editorPage(root, prdId, { api, session, notifications, announce }) {
  const canEdit = session.role !== 'viewer';
  const mode = canEdit ? 'edit' : 'view';
  const client = new PrdClient({
    io, url: window.location.origin, token: session.token, prdId, mode,
    // engine.io-client moves on to polling when the WebSocket fails only
    // with tryAllTransports.
    socketOptions: { transports: ['websocket', 'polling'], tryAllTransports: true },
  });
  let view = null;
  let binding = null;
  let offlineByChoice = false;
  // Read-only for viewers, and for everyone while the PRD is archived.
  const editability = new Compartment();
  let readOnly = !canEdit;
  const editabilityOf = (ro) => [EditorState.readOnly.of(ro), EditorView.editable.of(!ro),
    EditorView.contentAttributes.of({ 'aria-label': ro ? 'PRD text (Markdown, read-only)' : 'PRD text (Markdown)', 'aria-multiline': 'true' })];
  function setReadOnly(ro) {
    readOnly = ro;
    archivedBadge.hidden = !archived;
    if (view) view.dispatch({ effects: editability.reconfigure(editabilityOf(ro || signedOut !== null)) });
  }
  let archived = false;
  // Why the session's token stopped working ({ reason, code }), until a
  // fresh one is in use: the editor is read-only meanwhile (nothing typed
  // goes into a session that cannot send it).
  let signedOut = null;
  // A fresh token pasted, in use once the page is joined with it.
  let renewing = null;

  // ---- the frame -----------------------------------------------------------------------
  const titleEl = h('h1', { class: 'prd-title' }, 'Loading…');
  // The badge is not a live region: its changes that matter are said by
  // `announcer` (announce.js), not every saving ↔ saved.
  const connection = h('span', { id: 'connection-state', class: 'connection', dataset: { state: 'connecting' } }, 'Connecting…');
  const announcerRegion = h('div', { id: 'editor-announcer', class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
  const announcer = new Announcer(announcerRegion);
  const offlineButton = h('button', { type: 'button', class: 'small', 'aria-pressed': 'false' }, 'Work offline');
  const presence = h('ul', { class: 'presence', 'aria-label': 'People in this PRD' });
  const archivedBadge = h('span', { class: 'badge', id: 'archived', hidden: true }, 'Archived: read-only');
  const conflictsEl = h('section', { class: 'conflicts', hidden: true, 'aria-label': 'Conflicts to review' });
  const messages = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const renewId = uid('renew-token');
  const renewReason = h('p', { class: 'renew-reason', role: 'alert' });
  const renewWaiting = h('p', { class: 'renew-waiting' });
  const renewInput = h('textarea', { id: renewId, rows: 3, spellcheck: 'false', autocomplete: 'off' });
  const renewStatus = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const renewButton = h('button', { type: 'submit' }, 'Continue');
  const renewal = h('form', { id: 'token-renewal', class: 'renewal stack', hidden: true, 'aria-labelledby': `${renewId}-heading` },
    h('h2', { id: `${renewId}-heading` }, 'Your sign-in has ended'), renewReason, renewWaiting,
    h('label', { for: renewId }, 'A fresh token of the same user (prdhub token), or a sign-in link (prdhub token --link)'),
    renewInput, renewStatus, h('div', { class: 'row' }, renewButton));
  const editorHost = h('div', { class: 'editor-host' });
  const preview = h('div', { class: 'preview markdown-body', 'aria-label': 'Preview', role: 'region', tabindex: '0' });
  const previewButton = h('button', { type: 'button', class: 'small', 'aria-pressed': 'true', 'aria-controls': 'preview-pane' }, 'Preview');
  // Why the preview shows nothing (paused, failed), with a way to try again.
  const previewStatus = h('p', { class: 'status preview-status', role: 'status', 'aria-live': 'polite' });
  const previewRetry = h('button', { type: 'button', class: 'small', hidden: true }, 'Retry');
  const previewPane = h('section', { id: 'preview-pane', class: 'preview-pane', 'aria-label': 'Rendered preview' },
    h('div', { class: 'preview-note' }, previewStatus, previewRetry), preview);

  const commentsPanel = h('div', { class: 'comments' });
  const aiPanel = h('div', { class: 'ai' });
  const versionsPanel = h('div', { class: 'versions' });
  const activityList = h('ul', { class: 'activity-list', 'aria-label': 'Recent activity' });
  const commentCount = h('span', { class: 'tab-count' });
  const side = tabs('Side panels', [
    { key: 'comments', title: 'Comments', badge: commentCount, content: commentsPanel },
    { key: 'ai', title: 'AI', content: aiPanel },
    { key: 'versions', title: 'Versions', content: versionsPanel },
    { key: 'activity', title: 'Activity', content: activityList },
  ]);
  // Takes the focus when the AI control that had it goes (not in the tab order).
  const aiTabPanel = side.panels[1];
  aiTabPanel.tabIndex = -1;

  clear(root, h('div', { class: 'editor-layout' },
    h('div', { class: 'editor-head' },
      h('nav', { 'aria-label': 'Breadcrumb' }, h('a', { href: '/' }, '← All PRDs')),
      titleEl,
      h('div', { class: 'head-tools' }, connection, offlineButton, previewButton,
        canEdit ? null : h('span', { class: 'badge', id: 'view-only' }, 'View only'), archivedBadge),
      presence),
    announcerRegion,
    conflictsEl,
    messages,
    renewal,
    h('div', { class: 'editor-main' },
      h('section', { class: 'editor-pane', 'aria-label': 'Editor' }, editorHost),
      previewPane,
      h('aside', { class: 'side-pane', 'aria-label': 'Comments, AI, versions and activity' }, side.list, side.panels))));

  previewButton.addEventListener('click', () => {
    const on = previewPane.hidden;
    previewPane.hidden = !on;
    previewButton.setAttribute('aria-pressed', String(on));
    if (on) renderPreview();
  });
  if (window.innerWidth < 1100) {
    previewPane.hidden = true;
    previewButton.setAttribute('aria-pressed', 'false');
  }

  // ---- connection state ----------------------------------------------------------------
  function renderConnection() {
    let state;
    let text;
    if (client.closed) {
      state = 'error';
      text = client.deleted ? 'Deleted' : 'Closed';
    } else if (signedOut !== null) {
      state = 'signed-out';
      text = client.pendingCount > 0 ? `Signed out · ${client.pendingCount} edits waiting` : 'Signed out · saved';
      const n = client.pendingCount;
      renewWaiting.textContent = n === 0
        ? 'Every edit made here reached the hub. Paste a fresh token to go on editing.'
        : `${n === 1 ? '1 edit' : `${n} edits`} made here ${n === 1 ? 'is' : 'are'} not saved yet: ` +
          `paste a fresh token and ${n === 1 ? 'it is' : 'they are'} sent. Leaving or reloading this page loses ${n === 1 ? 'it' : 'them'}.`;
    } else if (!client.joined) {
      state = offlineByChoice || client._everJoined ? 'offline' : 'connecting';
      text = state === 'offline' ? 'Offline' : 'Connecting…';
      if (state === 'offline') text += client.pendingCount > 0 ? ` · ${client.pendingCount} edits waiting` : ' · edits sync when back';
    } else if (client.pendingCount > 0 || client.resyncing) {
      // Resyncing: the hub refused an edit this page still shows, until
      // its text comes back from the hub.
      state = 'saving';
      text = 'Online · saving…';
    } else {
      state = 'online';
      text = 'Online · saved';
    }
    // Written only when it changes; said (debounced) by the announcer.
    if (connection.dataset.state !== state) connection.dataset.state = state;
    if (connection.textContent !== text) connection.textContent = text;
    const pendingCount = client.pendingCount;
    announcer.setState(connectionKey(state, pendingCount),
      (previous) => connectionMessage(connectionKey(state, pendingCount), previous, { text, pendingCount }));
  }
  // The PRD was deleted: heard live (prd-deleted, which names who), or on
  // joining again after being offline (the client ends either way).
  let deletedBy = null;
  client.on('prd-deleted', (d) => { deletedBy = d.by?.name ?? null; });
  client.on('closed', ({ reason, pendingCount }) => {
    if (reason !== 'deleted') return;
    setReadOnly(true);
    renderConnection();
    const lost = pendingCount > 0 ? ` ${pendingCount} edits made here could not be saved.` : '';
    announce(messages, `${deletedBy ? `${deletedBy} deleted` : 'Someone deleted'} this PRD.${lost}`, true);
  });
  client.on('status', (s) => {
    if (s === 'joined') {
      if (renewing !== null) finishRenewal();
      clearNotice();
      loadJoined(client._lastJoined);
    }
    renderConnection();
  });
  client.on('server-shutdown', () => showNotice('The hub is restarting: edits made here are kept and sent when it is back.'));
  client.on('synced', renderConnection);
  client.on('ack', renderConnection);
  client.on('change', (ev) => {
    if (ev.local) renderConnection();
    // A comment whose selected text is all deleted shows "text deleted" now,
    // as it does in a tab opened afterwards.
    let detached = false;
    for (const d of ev.deltas) {
      for (const c of comments.values()) {
        const was = c.detached;
        shiftCommentAnchor(c, d);
        if (c.detached && !was) detached = true;
      }
    }
    if (detached) renderComments();
    scheduleDecorations();
    schedulePreview();
  });
  client.on('presence', () => { renderPresence(); scheduleDecorations(); });
  // Comments come from the SDK, which reads their anchors into this page's
  // text (the hub's offsets are in its own, which may lack edits made here).
  client.on('comment-added', (c) => {
    const kept = client.comments.get(c.commentId);
    comments.set(c.commentId, { ...c, replies: [...(kept?.replies ?? [])] });
    renderComments();
  });
  client.on('comment-replied', (d) => {
    const c = comments.get(d.commentId);
    if (!c) return;
    c.replies.push(d.reply);
    renderComments();
  });
  client.on('comment-resolved', (d) => {
    if (!comments.has(d.commentId)) return;
    resolvedBy.set(d.commentId, d.resolvedBy?.name ?? d.resolvedBy?.id ?? null);
    comments.delete(d.commentId);
    renderComments();
  });
  client.on('error', (err) => {
    // A refused fresh token changes nothing (the renewal form says why).
    if (err.event === 'refresh-token') return;
    if (err.code === 'TOKEN_EXPIRED' || err.code === 'TOKEN_REVOKED' || err.code === 'AUTHENTICATION_FAILED') expire(refusalReason(err.code, err.message), err.code);
    else if (err.event && err.event.startsWith('ai-')) return;
    // Not reaching the hub: it stays on screen until the page is joined
    // again, unless it is what the hub's restart notice announced.
    else if (err.event === 'connect') { if (notice === null) showNotice(`${err.code}: ${err.message}`, true); }
    // A refused (re)join: the SDK tries again those that may pass
    // (LIMIT_REACHED, RATE_LIMITED, …), so it stays until joined again.
    else if (err.event === 'join-prd') showNotice(`${err.code}: ${err.message}`, true);
    else announce(messages, `${err.code}: ${err.message}`, true);
    // A refused edit: the page waits for the hub's text (not saved).
    renderConnection();
  });
  // What the connection's troubles show in `messages` (a restart notice or a
  // connection error), cleared once joined again.
  let notice = null;
  function showNotice(text, isError = false) {
    notice = text;
    announce(messages, text, isError);
  }
  function clearNotice() {
    if (notice !== null && messages.textContent === notice) announce(messages, '');
    notice = null;
  }
  // reconnect() rejects when the join is refused (a deleted PRD, a refused
  // token): the 'error' and 'closed' handlers above report it.
  const reconnect = () => client.reconnect().catch(() => {});
  offlineButton.addEventListener('click', () => {
    offlineByChoice = !offlineByChoice;
    offlineButton.setAttribute('aria-pressed', String(offlineByChoice));
    offlineButton.textContent = offlineByChoice ? 'Go online' : 'Work offline';
    if (offlineByChoice) client.disconnect();
    else reconnect();
    renderConnection();
  });

  // ---- the end of the session's token --------------------------------------------------
  // The hub ended the connection (TOKEN_EXPIRED, TOKEN_REVOKED) or refused
  // the token (a REST call, a reconnect): stay, read-only, and ask for a
  // fresh token. The tab forgets the old one (a reload shows the sign-in
  // form with @reason).
  function tokenEnded(reason, code) {
    if (client.closed) return;
    signedOut = { reason, code };
    signOut(reason);
    setReadOnly(readOnly);
    offlineButton.disabled = true;
    const why = code === 'TOKEN_REVOKED' ? 'Your token was revoked.'
      : code === 'TOKEN_EXPIRED' ? 'Your token has expired.' : reason;
    renewReason.textContent = `${why} This page saves nothing more until you continue with a fresh token; ` +
      'the editor is read-only meanwhile.';
    renewal.hidden = false;
    renderConnection();
  }
  function finishRenewal() {
    if (renewing !== null) {
      signIn(renewing);
      session.token = renewing;
      session.exp = decodeClaims(renewing)?.exp;
      notifications.refreshToken(renewing);
      renewing = null;
    }
    signedOut = null;
    renewal.hidden = true;
    renewInput.value = '';
    announce(renewStatus, '');
    offlineButton.disabled = false;
    setReadOnly(readOnly);
    announce(messages, 'Signed in again with the fresh token.');
    renderConnection();
  }
  renewal.addEventListener('submit', async (e) => {
    e.preventDefault();
    const pasted = pastedToken(renewInput.value);
    const claims = decodeClaims(pasted);
    const problem = freshTokenProblem(claims, session);
    if (problem) {
      announce(renewStatus, problem, true);
      return;
    }
    renewButton.disabled = true;
    announce(renewStatus, 'Connecting with the fresh token…');
    try {
      const fresh = isSignInLink(claims) ? await redeemLink(pasted) : pasted;
      await client.refreshToken(fresh);
      renewing = fresh;
      offlineByChoice = false;
      offlineButton.setAttribute('aria-pressed', 'false');
      offlineButton.textContent = 'Work offline';
      await client.reconnect();
      // Still connected (the hub took refresh-token): no new join.
      if (renewing !== null) finishRenewal();
    } catch (err) {
      renewing = null;
      if (signedOut !== null) announce(renewStatus, `The hub refused that token: ${err.message}`, true);
    } finally {
      renewButton.disabled = false;
    }
  });

  // ---- presence ------------------------------------------------------------------------
  // Who else is here, while the page is joined: the announcer says who
  // joined and left since it last spoke (a reload or a flap within its delay
  // says nothing).
  function renderPresence() {
    const users = client.getUsers();
    if (client.joined) {
      const others = users.filter((u) => u.userId !== session.userId);
      announcer.setPeople(others);
    }
    clear(presence, users.map((u) => h('li', { class: `presence-user ${colorClass(u.color)}`, dataset: { userId: u.userId } },
      h('span', { class: 'presence-dot', 'aria-hidden': 'true' }),
      h('span', { class: 'presence-name' }, u.userId === session.userId ? `${u.name ?? u.userId} (you)` : (u.name ?? u.userId)),
      h('span', { class: 'presence-status' }, presenceStatus(u)))));
  }

  // A user whose presence has not changed for IDLE_MS shows as idle.
  const IDLE_MS = 2 * 60 * 1000;
  function presenceStatus(u) {
    if (u.userId === session.userId) return client._presence?.status ?? u.status ?? 'viewing';
    const at = typeof u.timestamp === 'number' ? u.timestamp : Date.parse(u.timestamp ?? '');
    if (Number.isFinite(at) && Date.now() - at > IDLE_MS) return 'idle';
    return u.status ?? 'viewing';
  }
  const idleTimer = setInterval(renderPresence, 30000);

  let decoQueued = false;
  function scheduleDecorations() {
    if (decoQueued) return;
    decoQueued = true;
    queueMicrotask(() => {
      decoQueued = false;
      if (!view) return;
      view.dispatch({ effects: [setRemoteCursors.of(client.getOthers()), setCommentRanges.of(commentRanges())] });
    });
  }

  // The preview is rendered in a worker (preview.js), one render at a
  // time, each with the text of the moment it starts; one that runs past
  // PREVIEW_TIMEOUT_MS pauses the preview until Retry.
  const previewRenderer = new PreviewRenderer({
    createWorker: () => {
      if (previewWorkerUrl === null) throw new Error('this build has no preview worker');
      return new Worker(previewWorkerUrl, { name: 'prdhub-preview' });
    },
    text: () => view.state.doc.toString(),
    // markdown-it with html: false escapes raw HTML and refuses script: links (markdown.js).
    onHtml: (html) => { preview.innerHTML = html; },
    onBusy: (busy) => preview.setAttribute('aria-busy', String(busy)),
    onPaused: (why) => previewStopped(why === 'large'
      ? 'Preview paused: this text makes a preview too large to show.'
      : 'Preview paused: this text takes too long to render.'),
    onFailed: (message) => previewStopped(`Preview unavailable: its renderer failed (${message}).`),
  });
  function previewStopped(text) {
    preview.replaceChildren();
    announce(previewStatus, text, true);
    previewRetry.hidden = false;
  }
  previewRetry.addEventListener('click', () => {
    // The button goes: the focus moves on to the preview.
    if (document.activeElement === previewRetry) preview.focus();
    previewRetry.hidden = true;
    announce(previewStatus, '');
    if (view && !previewPane.hidden) previewRenderer.retry();
  });
  let previewTimer = null;
  function schedulePreview() {
    if (previewTimer !== null || previewPane.hidden) return;
    previewTimer = setTimeout(renderPreview, 150);
  }
  function renderPreview() {
    clearTimeout(previewTimer);
    previewTimer = null;
    if (!view || previewPane.hidden) return;
    previewRenderer.request();
  }

  // The version offsets read in this page's text now go with (null: none),
  // once this page is joined again if it was between connections;
  // undefined when it is offline (nothing is sent then: the hub would refuse
  // it).
  async function versionToSend() {
    let version = null;
    try {
      version = await client.syncedVersion();
    } catch {
      return undefined;
    }
    return client.joined ? version : undefined;
  }

  // ---- comments ------------------------------------------------------------------------
  const comments = new Map();
  let activeComment = null;
  const commentList = h('div', { class: 'comment-list' });
  const newCommentId = uid('new-comment');
  const newComment = h('textarea', { id: newCommentId, rows: 3, maxlength: 10000 });
  const commentHint = h('p', { class: 'hint' }, 'Select text in the editor first to anchor the comment to it.');
  const commentForm = h('form', { class: 'stack', 'aria-label': 'Add a comment' },
    h('label', { for: newCommentId }, 'New comment (on the selection or at the cursor)'), newComment, commentHint,
    h('button', { type: 'submit' }, 'Add comment'));
  clear(commentsPanel, commentForm, commentList);
  commentForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const content = newComment.value.trim();
    if (!content || !view) return;
    const sel = view.state.selection.main;
    const payload = { prdId, position: sel.from, content };
    if (!sel.empty) payload.selection = { start: sel.from, end: sel.to, text: view.state.sliceDoc(sel.from, sel.to) };
    // Read in this page's text: which version (see askAi()).
    const version = await versionToSend();
    if (version === undefined) {
      announce(messages, 'Could not add the comment: offline. Add it again once connected.', true);
      return;
    }
    if (version) payload.stateVector = version;
    const res = await emitAck(client.socket, 'add-comment', payload);
    if (res.error) announce(messages, `Could not add the comment: ${res.error.message}`, true);
    else newComment.value = '';
  });

  function commentRanges() {
    return [...comments.values()].filter((c) => !c.detached).map((c) => {
      const s = c.selection;
      const start = s && s.end > s.start ? s.start : c.position;
      const end = s && s.end > s.start ? s.end : c.position + 1;
      return { commentId: c.commentId, start, end, active: c.commentId === activeComment };
    });
  }

  // Each comment's card is kept (by commentId) from one render to the
  // next, and only what changed in it is redrawn: a reply being written,
  // its caret and the focus survive others' comments, replies and resolves.
  // Only this tab's own Resolve (or a Dismiss) moves the focus: a card
  // resolved by someone else that holds the focus or a reply being written
  // stays, marked resolved, until dismissed.
  const cards = new Map();
  const resolving = new Set(); // comments this tab asked to resolve
  const resolvedBy = new Map(); // commentId → who resolved it (comment-resolved)
  const noComments = h('p', { class: 'muted' }, 'No open comments.');
  // The focus leaves @el (a card that goes): on to the next open card's
  // first button, or to the new comment's box.
  function focusAfterCard(el) {
    let next = el.nextElementSibling;
    while (next && !comments.has(next.dataset.commentId)) next = next.nextElementSibling;
    return next?.querySelector('button') ?? newComment;
  }
  function renderComments() {
    commentCount.textContent = comments.size > 0 ? ` (${comments.size})` : '';
    const focused = document.activeElement;
    let refocus = null;
    const gone = [...cards.entries()].filter(([id, card]) => !comments.has(id) && !card.resolved);
    for (const [id, card] of gone) {
      const own = resolving.delete(id);
      const by = resolvedBy.get(id);
      resolvedBy.delete(id);
      if (!own && (card.el.contains(focused) || card.draft() !== '')) {
        card.markResolved(by);
        announcer.say(`${by ?? 'Someone'} resolved the comment you were ${card.draft() !== '' ? 'replying to' : 'reading'}`);
        continue;
      }
      if (own && card.el.contains(focused)) refocus = focusAfterCard(card.el);
      card.el.remove();
      cards.delete(id);
    }
    let prev = null;
    for (const c of comments.values()) {
      let card = cards.get(c.commentId);
      if (!card) {
        card = commentCard(c);
        cards.set(c.commentId, card);
      }
      card.update(c);
      // Moved only when out of place (moving the focused card would blur
      // it); a card resolved elsewhere stays where it is.
      let at = prev ? prev.nextElementSibling : commentList.firstElementChild;
      while (at && at !== card.el && cards.get(at.dataset.commentId)?.resolved) at = at.nextElementSibling;
      if (at !== card.el) commentList.insertBefore(card.el, at);
      prev = card.el;
    }
    if (comments.size === 0) commentList.append(noComments);
    else noComments.remove();
    if (refocus) refocus.focus();
    // A card moved in the list (an order changed on joining again) took its
    // focus with it: given back (a text box keeps its caret).
    else if (focused && focused !== document.body && focused.isConnected && document.activeElement !== focused) focused.focus();
    scheduleDecorations();
  }

  function commentCard(c) {
    const { commentId } = c;
    const replyId = uid('reply');
    const reply = h('textarea', { id: replyId, rows: 2, maxlength: 10000 });
    const replyLabel = h('label', { for: replyId, class: 'visually-hidden' });
    const replyForm = h('form', { class: 'stack reply-form' }, replyLabel, reply,
      h('button', { type: 'submit', class: 'small' }, 'Reply'));
    const header = h('header');
    const quoteEl = h('blockquote');
    const content = h('p', { class: 'comment-content' });
    const replies = h('ul', { class: 'replies' });
    const canResolve = canEdit || c.author?.id === session.userId;
    // Resolved by someone else while this card held the focus or a reply
    // being written: its actions do nothing (aria-disabled keeps their
    // focus), the reply stays (read-only, selectable), and Dismiss removes it.
    let resolved = false;
    const actions = h('div', { class: 'row' },
      h('button', { type: 'button', class: 'small', onclick: () => { if (!resolved) showComment(commentId); } }, 'Show in text'),
      canResolve ? h('button', { type: 'button', class: 'small', onclick: () => { if (!resolved) resolveComment(commentId); } }, 'Resolve') : null);
    const el = h('article', { class: 'comment', dataset: { commentId } },
      header, content, replies, replyForm, actions);
    const dismiss = () => {
      const to = el.contains(document.activeElement) ? focusAfterCard(el) : null;
      el.remove();
      cards.delete(commentId);
      to?.focus();
    };
    const markResolved = (by) => {
      resolved = true;
      card.resolved = true;
      el.classList.add('resolved');
      el.classList.remove('active');
      reply.readOnly = true;
      for (const b of el.querySelectorAll('button')) b.setAttribute('aria-disabled', 'true');
      header.append(' ', h('span', { class: 'badge' }, by ? `Resolved by ${by}` : 'Resolved elsewhere'));
      actions.append(h('button', { type: 'button', class: 'small', onclick: dismiss }, 'Dismiss'));
    };
    replyForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (resolved) return;
      const text = reply.value.trim();
      if (!text) return;
      const res = await emitAck(client.socket, 'reply-comment', { commentId, content: text });
      if (res.error) {
        announce(messages, `Could not reply: ${res.error.message}`, true);
        return;
      }
      // Sent: the box is empty again and keeps the focus (the Reply button
      // had it), ready for the next reply.
      if (reply.value.trim() === text) reply.value = '';
      if (el.isConnected && (replyForm.contains(document.activeElement) || document.activeElement === document.body)) reply.focus();
    });
    // What was drawn last, to redraw only what changed.
    let drawn = {};
    const update = (now) => {
      const author = now.author?.name ?? now.author?.id ?? 'someone';
      el.classList.toggle('active', now.commentId === activeComment);
      el.setAttribute('aria-label', `Comment by ${now.author?.name ?? 'someone'}`);
      replyLabel.textContent = `Reply to ${now.author?.name ?? 'comment'}`;
      const head = `${author}\u0000${now.createdAt}\u0000${Boolean(now.detached)}`;
      if (drawn.head !== head) {
        clear(header, h('strong', {}, author), ' ', h('time', { datetime: now.createdAt }, formatTime(now.createdAt)),
          now.detached ? h('span', { class: 'badge' }, 'text deleted') : null);
      }
      // The hub sends the first 1000 UTF-16 units of a longer selection.
      const quote = now.selection?.text ? now.selection.text + (now.selection.textTruncated ? '…' : '') : null;
      if (quote === null) quoteEl.remove();
      else if (drawn.quote !== quote || !quoteEl.isConnected) {
        quoteEl.textContent = quote;
        header.after(quoteEl);
      }
      if (drawn.content !== now.content) content.textContent = now.content ?? '';
      const list = now.replies ?? [];
      // Replies only ever come after the ones drawn: appended.
      if (drawn.replies !== undefined && drawn.replies.length <= list.length && drawn.replies.every((r, i) => r === list[i])) {
        replies.append(...list.slice(drawn.replies.length).map(replyItem));
      } else {
        clear(replies, list.map(replyItem));
      }
      drawn = { head, quote, content: now.content, replies: [...list] };
    };
    const card = { el, update, markResolved, resolved: false, draft: () => reply.value.trim() };
    return card;
  }

  const replyItem = (r) => h('li', {}, h('strong', {}, r.author?.name ?? 'someone'), ': ', r.content);

  function showComment(commentId) {
    activeComment = commentId;
    const [r] = commentRanges().filter((x) => x.commentId === commentId);
    if (view && r) {
      const len = view.state.doc.length;
      view.dispatch({ selection: EditorSelection.range(Math.min(r.start, len), Math.min(r.end, len)), scrollIntoView: true });
      view.focus();
    }
    renderComments();
  }

  async function resolveComment(commentId) {
    resolving.add(commentId);
    const res = await emitAck(client.socket, 'resolve-comment', { commentId });
    if (res.error) {
      resolving.delete(commentId);
      announce(messages, `Could not resolve: ${res.error.message}`, true);
    }
  }

  // ---- conflicts -----------------------------------------------------------------------
  // Each conflict's box is kept (by conflictId): a merged text being written
  // survives the conflicts that arrive meanwhile. Only this tab's own Keep
  // or Merge (or a Dismiss) moves the focus: a conflict resolved by someone
  // else whose box holds the focus or a merged text written here stays,
  // marked resolved, until dismissed (typing never goes to the editor).
  const conflicts = new Map();
  const conflictBoxes = new Map();
  const resolvingConflicts = new Set(); // conflicts this tab asked to resolve
  const conflictResolvedBy = new Map(); // conflictId → who resolved it (conflict-resolved)
  const conflictsHeading = h('h2');
  conflictsEl.append(conflictsHeading);
  // The focus leaves @el (a box that goes): on to the next open conflict's
  // first button, or to the editor.
  function focusAfterConflict(el) {
    let next = el.nextElementSibling;
    while (next && !conflicts.has(next.dataset.conflictId)) next = next.nextElementSibling;
    return next?.querySelector('button') ?? 'editor';
  }
  function renderConflicts() {
    const focused = document.activeElement;
    let refocus = null;
    for (const [id, box] of [...conflictBoxes.entries()].filter(([key, b]) => !conflicts.has(key) && !b.resolved)) {
      const own = resolvingConflicts.delete(id);
      const by = conflictResolvedBy.get(id);
      conflictResolvedBy.delete(id);
      if (!own && (box.el.contains(focused) || box.drafted())) {
        box.markResolved(by);
        announcer.say(`${by ?? 'Someone'} resolved the conflict you were ${box.drafted() ? 'merging' : 'reviewing'}`);
        continue;
      }
      if (own && box.el.contains(focused)) refocus = focusAfterConflict(box.el);
      box.el.remove();
      conflictBoxes.delete(id);
    }
    conflictsEl.hidden = conflictBoxes.size === 0 && conflicts.size === 0;
    conflictsHeading.textContent = conflicts.size === 0 ? 'No conflicts left to review'
      : conflicts.size === 1 ? 'A conflict to review' : `${conflicts.size} conflicts to review`;
    for (const c of conflicts.values()) {
      let box = conflictBoxes.get(c.conflictId);
      if (!box) {
        box = conflictBox(c.conflictId);
        conflictBoxes.set(c.conflictId, box);
        conflictsEl.append(box.el);
      }
      box.update(c);
    }
    if (refocus === 'editor') view?.focus();
    else refocus?.focus();
  }

  function conflictBox(conflictId) {
    const mergeId = uid('merge');
    const merged = h('textarea', { id: mergeId, rows: 2 });
    const changes = h('p');
    // Resolved by someone else while this box held the focus or a merged
    // text written here: its actions do nothing (aria-disabled keeps their
    // focus), the text stays (read-only, selectable), and Dismiss removes it.
    let resolved = false;
    const resolve = async (resolution) => {
      if (resolved) return;
      const payload = { prdId, conflictId, resolution };
      if (resolution === 'merge') payload.mergedContent = merged.value;
      resolvingConflicts.add(conflictId);
      const res = await emitAck(client.socket, 'resolve-conflict', payload);
      if (res.error) {
        resolvingConflicts.delete(conflictId);
        announce(messages, `Could not resolve the conflict: ${res.error.message}`, true);
      } else if (conflicts.delete(conflictId)) renderConflicts();
    };
    const row = h('div', { class: 'row' },
      h('button', { type: 'button', class: 'small', onclick: () => resolve('yours') }, 'Keep yours'),
      h('button', { type: 'button', class: 'small', onclick: () => resolve('theirs') }, 'Keep theirs'),
      h('label', { for: mergeId }, 'Merged text'), merged,
      h('button', { type: 'button', class: 'small', onclick: () => resolve('merge') }, 'Merge'));
    const el = h('div', { class: 'conflict', dataset: { conflictId } }, changes, row);
    const dismiss = () => {
      const to = el.contains(document.activeElement) ? focusAfterConflict(el) : null;
      el.remove();
      conflictBoxes.delete(conflictId);
      renderConflicts();
      if (to === 'editor') view?.focus();
      else to?.focus();
    };
    const markResolved = (by) => {
      resolved = true;
      box.resolved = true;
      el.classList.add('resolved');
      merged.readOnly = true;
      for (const b of el.querySelectorAll('button')) b.setAttribute('aria-disabled', 'true');
      changes.append(' ', h('span', { class: 'badge' }, by ? `Resolved by ${by}` : 'Resolved elsewhere'));
      row.append(h('button', { type: 'button', class: 'small', onclick: dismiss }, 'Dismiss'));
    };
    // The merged text starts as both changes; what the user wrote in it is kept.
    let proposed = null;
    const update = (c) => {
      clear(changes, 'Yours: ', h('code', {}, c.yourChange || '(nothing)'), ' · Theirs: ', h('code', {}, c.theirChange || '(nothing)'));
      const both = `${c.yourChange ?? ''}${c.theirChange ?? ''}`;
      if ((proposed === null || merged.value === proposed) && merged.value !== both) merged.value = both;
      proposed = both;
    };
    const box = { el, update, markResolved, resolved: false, drafted: () => merged.value !== proposed && merged.value.trim() !== '' };
    return box;
  }

  function loadJoined(data) {
    if (!data) return;
    archived = data.archived === true;
    setReadOnly(!canEdit || archived || data.mode === 'view');
    titleEl.textContent = data.title ?? client.title ?? prdId;
    document.title = `${titleEl.textContent} — prdhub`;
    // The SDK's: their anchors read into this page's text, edits made here
    // that the hub does not have yet included (docs/protocol.md, "Anchors").
    comments.clear();
    for (const c of client.getComments()) comments.set(c.commentId, c);
    renderComments();
    conflicts.clear();
    for (const c of data.conflicts ?? []) conflicts.set(c.conflictId, c);
    renderConflicts();
    renderPresence();
  }

  // ---- AI ------------------------------------------------------------------------------
  const promptId = uid('ai-prompt');
  const sectionId = uid('ai-section');
  const insertId = uid('ai-insert');
  const aiPrompt = h('textarea', { id: promptId, rows: 3, maxlength: 4000 });
  const aiSection = h('select', { id: sectionId });
  const aiInsert = h('input', { id: insertId, type: 'checkbox', checked: canEdit, disabled: !canEdit });
  const aiSend = h('button', { type: 'submit' }, 'Ask');
  const aiCancel = h('button', { type: 'button', disabled: true }, 'Cancel');
  const aiReview = h('button', { type: 'button' }, 'Review this PRD');
  const aiStatus = h('p', { class: 'status ai-status', role: 'status', 'aria-live': 'polite' });
  const aiOutput = h('pre', { class: 'ai-output', 'aria-label': 'AI answer', tabindex: '0' });
  const aiActions = h('div', { class: 'row ai-actions' });
  const aiSuggestions = h('ul', { class: 'suggestions', 'aria-label': 'AI suggestions' });
  const aiForm = h('form', { class: 'stack', 'aria-label': 'Ask the AI' },
    h('label', { for: promptId }, 'Ask the AI'), aiPrompt,
    h('label', { for: sectionId }, 'Section'), aiSection,
    h('div', { class: 'row' }, aiInsert, h('label', { for: insertId }, 'Write the answer into the document at the cursor')),
    h('div', { class: 'row' }, aiSend, aiCancel, aiReview));
  clear(aiPanel, aiForm, aiStatus, aiOutput, aiActions, aiSuggestions);
  let myJob = null;
  let streamJob = null;
  // This page's review under way (its reviewId, from the ack): it ends with
  // ai-review-complete or ai-error naming it.
  let myReview = null;

  function refreshSections() {
    const text = view ? view.state.doc.toString() : client.text;
    const current = aiSection.value;
    clear(aiSection, h('option', { value: '' }, 'Whole document'),
      headings(text).map((s) => h('option', { value: s.slug }, s.title)));
    aiSection.value = [...aiSection.options].some((o) => o.value === current) ? current : '';
  }
  aiSection.addEventListener('focus', refreshSections);

  async function askAi(prompt, { insert = aiInsert.checked, section = aiSection.value } = {}) {
    if (!view) return;
    const sel = view.state.selection.main;
    // For a section, the answer goes at the end of it, unless the cursor is in it.
    let at = sel.head;
    const text = view.state.doc.toString();
    const target = section ? headings(text).find((hd) => hd.slug === section) : null;
    if (target && !(sel.head > target.start && sel.head <= target.end)) {
      at = target.end;
      // The answer gets a line of its own: before the next heading (which it
      // must not run into), or after the last line.
      if (insert && canEdit && (at < text.length || (at > 0 && text[at - 1] !== '\n'))) {
        view.dispatch({ changes: { from: at, insert: '\n' }, userEvent: 'input' });
        if (at === text.length) at += 1;
        await client.whenSynced();
      }
    }
    const payload = { prdId, prompt, context: { cursorPosition: at }, insert };
    if (!sel.empty) payload.context.selectedText = view.state.sliceDoc(sel.from, sel.to).slice(0, 20000);
    // The position is read in this page's text: say which version that is,
    // so that edits others made meanwhile do not move the answer (sent once
    // the hub has this page's own edits of that version).
    aiStatus.textContent = 'Saving…';
    const version = await versionToSend();
    if (version === undefined) {
      announce(aiStatus, 'Offline: ask again once connected.', true);
      return;
    }
    if (version) payload.context.stateVector = version;
    if (section) payload.section = section;
    aiStatus.textContent = 'Sending…';
    aiStatus.classList.remove('error');
    const res = await emitAck(client.socket, 'ai-prompt', payload);
    if (res.error) {
      announce(aiStatus, aiErrorMessage(res.error), true);
      return;
    }
    myJob = res.jobId;
    aiCancel.disabled = false;
    announce(aiStatus, 'Queued…');
  }

  // askAi() rejects when the session ends while it waits for this page's
  // edits to be saved (a deleted PRD).
  const ask = (prompt, opts) => askAi(prompt, opts).catch((err) => announce(aiStatus, `Not sent: ${err.message}`, true));
  aiForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const prompt = aiPrompt.value.trim();
    if (prompt) ask(prompt);
  });
  aiCancel.addEventListener('click', async () => {
    if (!myJob) return;
    const res = await emitAck(client.socket, 'ai-cancel', { jobId: myJob });
    if (res.error) announce(aiStatus, aiErrorMessage(res.error), true);
  });
  aiReview.addEventListener('click', async () => {
    keepFocus(aiSuggestions, aiTabPanel, () => clear(aiSuggestions));
    announce(aiStatus, 'Reviewing…');
    const res = await emitAck(client.socket, 'ai-review', { prdId }, (r) => { if (!r.error) myReview = r.reviewId; });
    if (res.error) announce(aiStatus, aiErrorMessage(res.error), true);
  });

  function suggestionItem(s) {
    // An accepted or rejected suggestion goes; the focus goes on to the next
    // one's first button (or the one before), or to the AI panel.
    const done = () => {
      const next = li.nextElementSibling ?? li.previousElementSibling;
      li.remove();
      (next?.querySelector('button') ?? aiTabPanel).focus();
    };
    const li = h('li', { class: 'suggestion' },
      h('span', { class: 'badge' }, s.type ?? 'suggestion'), ' ',
      s.title ? h('strong', {}, s.title, ': ') : null, s.description ?? '',
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'small', onclick: () => { done(); ask(s.description ?? s.title, { section: s.section ?? '' }); } }, 'Accept'),
        h('button', { type: 'button', class: 'small', onclick: done }, 'Reject')));
    return li;
  }

  // @change removes or turns off controls in @el: if one of them had the
  // focus, @to gets it (instead of the page's body).
  function keepFocus(el, to, change) {
    const had = el.contains(document.activeElement);
    change();
    if (had) to.focus();
  }
  // The job ended: Cancel turns off; the prompt takes its focus.
  const endMyJob = () => {
    myJob = null;
    keepFocus(aiCancel, aiPrompt, () => { aiCancel.disabled = true; });
  };

  const sock = () => client.socket;
  function wireSocket(socket) {
    socket.on('conflict-detected', (d) => {
      if (d.prdId !== prdId) return;
      let added = 0;
      for (const c of d.conflicts ?? []) {
        if (!conflicts.has(c.conflictId)) added++;
        conflicts.set(c.conflictId, c);
      }
      renderConflicts();
      // The panel is no live region: a screen reader hears of new ones here.
      if (added > 0) announcer.say(added === 1 ? 'A conflict to review' : `${added} conflicts to review`);
    });
    socket.on('conflict-resolved', (d) => {
      if (!conflicts.has(d.conflictId)) return;
      conflictResolvedBy.set(d.conflictId, d.resolvedBy?.name ?? d.resolvedBy?.id ?? null);
      conflicts.delete(d.conflictId);
      renderConflicts();
    });
    socket.on('prd-updated', (d) => {
      if (d.prdId !== prdId || !d.prd) return;
      titleEl.textContent = d.prd.title ?? titleEl.textContent;
      document.title = `${titleEl.textContent} — prdhub`;
      const was = archived;
      archived = d.prd.archived === true;
      if (archived && !was) {
        setReadOnly(true);
        announce(messages, `${d.by?.name ?? 'Someone'} archived this PRD: it is read-only now.`);
      } else if (!archived && was) {
        // A join made while archived is a view-only join: the client joins
        // again in edit mode by itself (with the edits it kept meanwhile),
        // and loadJoined() makes the editor editable then.
        if (!(canEdit && client.siteId === null)) setReadOnly(!canEdit);
        announce(messages, `${d.by?.name ?? 'Someone'} took this PRD out of the archive.`);
      } else if (d.prd.title) {
        announce(messages, `${d.by?.name ?? 'Someone'} renamed this PRD.`);
      }
    });
    socket.on('version-created', (d) => {
      if (d.prdId === prdId) loadVersions();
    });
    socket.on('ai-job-created', (d) => {
      if (d.prdId === prdId && d.jobId === myJob) announce(aiStatus, `Queued (position ${d.position ?? 1}).`);
    });
    socket.on('ai-stream-start', (d) => {
      if (d.prdId !== prdId) return;
      streamJob = d.jobId;
      clear(aiOutput);
      keepFocus(aiActions, aiPrompt, () => clear(aiActions));
      aiOutput.dataset.jobId = d.jobId;
      aiOutput.dataset.state = 'streaming';
      aiOutput.dataset.insert = String(Boolean(d.insert));
      const who = d.userId === session.userId ? 'your' : 'an';
      announce(aiStatus, `The AI is writing ${who} answer${d.insert ? ' into the document' : ''}…`);
    });
    socket.on('ai-stream-chunk', (d) => {
      if (d.jobId !== streamJob) return;
      aiOutput.append(document.createTextNode(d.chunk ?? ''));
    });
    socket.on('ai-stream-complete', (d) => {
      if (d.prdId !== prdId) return;
      const mine = d.jobId === myJob;
      const inserted = aiOutput.dataset.jobId === d.jobId && aiOutput.dataset.insert === 'true';
      aiOutput.textContent = d.fullResponse ?? aiOutput.textContent;
      aiOutput.dataset.state = 'complete';
      if (d.jobId === streamJob) streamJob = null;
      if (mine) endMyJob();
      announce(aiStatus, `The AI answered (${d.tokensUsed ?? 0} tokens).`);
      if (!mine) return;
      // A preview (not written into the text): insert it or discard it.
      if (!inserted && canEdit) {
        clear(aiActions,
          // Inserted: the focus goes to the editor, where the answer now is.
          h('button', { type: 'button', class: 'small', onclick: () => { insertAtCursor(d.fullResponse ?? ''); clear(aiActions); view?.focus(); } }, 'Insert at cursor'),
          h('button', { type: 'button', class: 'small', onclick: () => { clear(aiActions); aiPrompt.focus(); } }, 'Discard'));
      }
      keepFocus(aiSuggestions, aiTabPanel, () => clear(aiSuggestions, (d.suggestions ?? []).map(suggestionItem)));
    });
    socket.on('ai-review-complete', (d) => {
      if (d.prdId !== prdId || d.reviewId !== myReview) return;
      myReview = null;
      const n = d.count ?? 0;
      announce(aiStatus, n === 0 ? 'Review finished: no suggestions.'
        : `Review finished: ${n === 1 ? '1 suggestion' : `${n} suggestions`}.`);
    });
    socket.on('ai-error', (d) => {
      // jobId null: this client's prompt or review was refused, or its
      // review failed (reviewId names it).
      if (d.reviewId !== undefined && d.reviewId === myReview) myReview = null;
      if (d.jobId !== null && d.jobId !== myJob && d.jobId !== streamJob) return;
      if (d.jobId !== null && d.jobId === myJob) endMyJob();
      if (d.jobId !== null && d.jobId === streamJob) {
        streamJob = null;
        aiOutput.dataset.state = 'error';
      }
      announce(aiStatus, aiErrorMessage(d.error), d.error?.code !== 'CANCELLED');
    });
    socket.on('ai-suggestion', (d) => {
      if (d.prdId !== prdId || !d.suggestion) return;
      announce(aiStatus, 'Review suggestions:');
      aiSuggestions.append(suggestionItem(d.suggestion));
    });
  }

  function insertAtCursor(text) {
    if (!view || !text) return;
    const sel = view.state.selection.main;
    view.dispatch({ changes: { from: sel.from, to: sel.to, insert: text }, selection: EditorSelection.cursor(sel.from + text.length), userEvent: 'input.paste' });
  }

  // ---- versions ------------------------------------------------------------------------
  const changelogId = uid('changelog');
  const bumpId = uid('bump');
  const fromId = uid('from');
  const toId = uid('to');
  const changelog = h('textarea', { id: changelogId, rows: 2, maxlength: 2000 });
  const bump = h('select', { id: bumpId }, h('option', { value: 'minor' }, 'minor'), h('option', { value: 'patch' }, 'patch'), h('option', { value: 'major' }, 'major'));
  const versionForm = h('form', { class: 'stack', 'aria-label': 'Create a version' },
    h('label', { for: changelogId }, 'Changelog'), changelog,
    h('div', { class: 'row' }, h('label', { for: bumpId }, 'Kind'), bump, h('button', { type: 'submit' }, 'Create version')));
  const versionList = h('ol', { class: 'version-list' });
  const fromSel = h('select', { id: fromId });
  const toSel = h('select', { id: toId });
  const compareButton = h('button', { type: 'button' }, 'Compare side by side');
  const compareForm = h('div', { class: 'row compare' },
    h('label', { for: fromId }, 'From'), fromSel, h('label', { for: toId }, 'To'), toSel, compareButton);
  const versionStatus = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  clear(versionsPanel, canEdit ? versionForm : null, versionStatus, versionList, compareForm);

  versionForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = changelog.value.trim();
    if (!text) return;
    // The SDK sends the edits typed before the click first: the version has them.
    try {
      const version = await client.createVersion({ changelog: text, versionType: bump.value });
      changelog.value = '';
      announce(versionStatus, `Version ${version.version} created.`);
    } catch (err) {
      announce(versionStatus, `Could not create the version: ${err.message}`, true);
    }
  });

  let fromChosen = false;
  let toChosen = false;
  fromSel.addEventListener('change', () => { fromChosen = true; });
  toSel.addEventListener('change', () => { toChosen = true; });
  async function loadVersions() {
    try {
      const { versions } = await api.versions(prdId);
      clear(versionList, versions.length === 0 ? h('li', { class: 'muted' }, 'No versions yet.') : versions.slice().reverse().map((v) =>
        h('li', { dataset: { version: v.version } }, h('strong', {}, v.version), ' ', v.changelog, ' — ', v.createdBy?.name ?? '',
          ' ', h('time', { datetime: v.createdAt }, formatTime(v.createdAt)))));
      const opts = versions.map((v) => v.version);
      // A version the user chose is kept; otherwise the two newest (a new
      // version moves them on).
      const keepFrom = fromChosen ? fromSel.value : null;
      const keepTo = toChosen ? toSel.value : null;
      clear(fromSel, opts.map((v) => h('option', { value: v }, v)));
      clear(toSel, opts.map((v) => h('option', { value: v }, v)));
      if (opts.length >= 2) {
        fromSel.value = opts.includes(keepFrom) ? keepFrom : opts[opts.length - 2];
        toSel.value = opts.includes(keepTo) ? keepTo : opts[opts.length - 1];
      }
      compareForm.hidden = opts.length < 2;
    } catch (err) {
      announce(versionStatus, `Could not read the versions: ${err.message}`, true);
    }
  }

  compareButton.addEventListener('click', async () => {
    try {
      const text = await api.diff(prdId, fromSel.value, toSel.value);
      showDiff(fromSel.value, toSel.value, sideBySide(parseUnifiedDiff(text)));
    } catch (err) {
      announce(versionStatus, `Could not compare: ${err.message}`, true);
    }
  });

  function showDiff(from, to, rows) {
    const close = h('button', { type: 'button', class: 'close' }, 'Close');
    const cell = (side, kind) => side
      ? [h('td', { class: 'ln' }, side.no ?? ''), h('td', { class: `code ${kind}` }, side.text)]
      : [h('td', { class: 'ln' }), h('td', { class: 'code empty' })];
    const dialog = h('dialog', { class: 'diff-dialog', 'aria-labelledby': 'diff-title' },
      h('header', {}, h('h2', { id: 'diff-title' }, `Changes from ${from} to ${to}`), close),
      rows.length === 0 ? h('p', {}, 'The two versions have the same text.') :
        h('table', { class: 'diff' },
          h('colgroup', {}, h('col', { class: 'ln' }), h('col'), h('col', { class: 'ln' }), h('col')),
          h('thead', {}, h('tr', {}, h('th', { colspan: 2, scope: 'col' }, from), h('th', { colspan: 2, scope: 'col' }, to))),
          h('tbody', {}, rows.map((r) => r.kind === 'hunk'
            ? h('tr', { class: 'hunk' }, h('td', { colspan: 4 }, r.left.text))
            : h('tr', { class: r.kind }, cell(r.left, r.kind === 'context' ? '' : 'del'), cell(r.right, r.kind === 'context' ? '' : 'ins'))))));
    close.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => { dialog.remove(); compareButton.focus(); });
    document.body.append(dialog);
    dialog.showModal();
  }

  // ---- connect and build the editor ----------------------------------------------------
  const joinedPromise = client.connect();
  wireSocket(sock());
  let data;
  try {
    data = await joinedPromise;
  } catch (err) {
    client.close();
    clearInterval(idleTimer);
    previewRenderer.destroy();
    root.querySelector('.editor-main')?.remove();
    offlineButton.remove();
    previewButton.remove();
    connection.dataset.state = 'error';
    connection.textContent = 'Not connected';
    titleEl.textContent = 'PRD not opened';
    if (err.code === 'PRD_NOT_FOUND') announce(messages, 'This PRD does not exist, or belongs to another organization.', true);
    else announce(messages, `Could not open the PRD: ${err.message}`, true);
    return () => {};
  }

  const state = EditorState.create({
    doc: client.text,
    extensions: [
      EditorState.lineSeparator.of(LINE_SEPARATOR),
      EditorView.cspNonce.of(document.querySelector('meta[name="prdhub-csp-nonce"]')?.content ?? ''),
      lineNumbers(),
      history(),
      drawSelection(),
      highlightActiveLine(),
      keymap.of([...defaultKeymap, ...historyKeymap]),
      markdown(),
      syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
      EditorView.lineWrapping,
      remoteCursorField,
      commentField,
      editability.of(editabilityOf(readOnly)),
      // Pasted or dropped U+0000 and lone surrogates, which the hub refuses, become U+FFFD.
      cleanPastes,
      // Remote changes wait while an input method composes (binding.js).
      EditorView.domEventHandlers({ compositionend: () => { binding?.compositionEnded(); } }),
      EditorView.updateListener.of((update) => {
        if (binding) for (const tr of update.transactions) binding.handleTransaction(tr);
        const replaced = update.transactions.reduce((n, tr) => n + (tr.annotation(replacedCharacters) ?? 0), 0);
        if (replaced > 0) {
          announce(messages, `${replaced === 1 ? '1 character' : `${replaced} characters`} of the pasted text ` +
            `(U+0000, or half a surrogate pair) cannot be saved in a PRD: replaced by \uFFFD.`);
        }
        if (update.focusChanged && canEdit && client.joined) {
          client.setStatus(update.view.hasFocus ? 'editing' : 'viewing');
          renderPresence();
        }
        if (update.docChanged) schedulePreview();
      }),
    ],
  });
  view = new EditorView({ state, parent: editorHost });
  binding = new EditorBinding(client, view, {
    onResync: (reason) => { if (reason) announce(messages, `The editor was brought back in line with the hub (${reason.message ?? reason}).`, true); },
  });
  loadJoined(data);
  renderConnection();
  renderPreview();
  refreshSections();
  scheduleDecorations();
  loadVersions();
  activityFeed(api, session, notifications, activityList);
  window.prdhubEditor = { client, view }; // for people debugging in the console
  // Edits the hub has not acknowledged live in this page only (offline,
  // or on their way): leaving it would lose them, so the browser asks first.
  const guardUnsent = (event) => {
    if (client.closed || client.pendingCount === 0) return;
    event.preventDefault();
    event.returnValue = '';
  };
  window.addEventListener('beforeunload', guardUnsent);
  // From now on an ended token keeps the page (and its edits).
  const stopHandlingExpiry = handleExpiry(tokenEnded);

  return () => {
    stopHandlingExpiry();
    window.removeEventListener('beforeunload', guardUnsent);
    clearInterval(idleTimer);
    clearTimeout(previewTimer);
    previewRenderer.destroy();
    announcer.destroy();
    binding.destroy();
    client.close();
    view.destroy();
  };
}
