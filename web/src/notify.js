// SPDX-License-Identifier: GPL-3.0-or-later
//
// The header's notifications bell (the /notifications namespace: unread
// count, list, mark read) and the activity feed (GET /api/activity plus
// live `activity-update` events).

import { io } from 'socket.io-client';
import { clear, formatTime, h } from './dom.js';
import { expire, refusalReason } from './session.js';

// A bell drawn in SVG (no icon font: nothing is loaded from elsewhere).
function bellIcon() {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '18');
  svg.setAttribute('height', '18');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'bell-icon');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', 'M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1z');
  path.setAttribute('fill', 'currentColor');
  svg.append(path);
  return svg;
}

export class Notifications {
  constructor(session) {
    this.session = session;
    this.items = new Map(); // id → notification, unread first
    this.activityListeners = new Set();
    this.button = h('button', {
      type: 'button', class: 'bell', 'aria-haspopup': 'true', 'aria-expanded': 'false',
      'aria-controls': 'notification-panel', onclick: () => this.toggle(),
    });
    this.count = h('span', { class: 'bell-count', 'aria-hidden': 'true' });
    // The bell's label is no live region: a notification that arrives is
    // said here (its title and message), for screen readers; mounted beside
    // the bell (the panel is hidden while closed).
    this.live = h('span', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
    this.list = h('ul', { class: 'notification-list' });
    this.markButton = h('button', { type: 'button', onclick: () => this.markAllRead() }, 'Mark all read');
    // The heading takes the focus from "Mark all read" once that turns off.
    this.heading = h('h2', { tabindex: '-1' }, 'Notifications');
    this.panel = h('section', { id: 'notification-panel', class: 'popover', hidden: true, 'aria-label': 'Notifications' },
      this.heading, this.list, this.markButton);
    // Escape or a click elsewhere closes the panel.
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && !this.panel.hidden) { this.toggle(false); this.button.focus(); }
    });
    document.addEventListener('click', (e) => {
      if (!this.panel.hidden && !this.panel.contains(e.target) && !this.button.contains(e.target)) this.toggle(false);
    });
    this.render();
    this.socket = io('/notifications', { auth: { token: session.token }, transports: ['websocket', 'polling'],
      tryAllTransports: true });
    this.socket.on('connect', () => {
      this.socket.emit('subscribe', { organizationId: session.org }, () => {});
    });
    this.socket.on('connect_error', (err) => {
      const code = err?.data?.code;
      if (code === 'TOKEN_EXPIRED' || code === 'TOKEN_REVOKED' || code === 'AUTHENTICATION_FAILED') expire(refusalReason(code, err.data.message), code);
      // Over the user's rate of connections: socket.io will not retry a
      // refused CONNECT; try again once the hub's retryAfter is over.
      else if (code === 'RATE_LIMITED' && !this.socket.active) {
        const after = typeof err.data.retryAfter === 'number' ? err.data.retryAfter : 1;
        setTimeout(() => { if (!this.socket.active) this.socket.connect(); }, Math.max(100, after * 1000));
      }
    });
    this.socket.on('notification', (n) => {
      if (!n || typeof n.id !== 'string') return;
      const known = this.items.has(n.id);
      this.items.set(n.id, { ...n, read: false });
      this.render();
      if (!known) this.live.textContent = `New notification: ${[n.title ?? n.type, n.message].filter(Boolean).join('. ')}`;
    });
    this.socket.on('activity-update', (data) => {
      for (const fn of this.activityListeners) fn(data.activity);
    });
  }

  /** Continues with a fresh @token of the same user (the editor's "continue"). */
  refreshToken(token) {
    this.session.token = token;
    this.socket.auth = { token };
    if (this.socket.connected) this.socket.emit('refresh-token', { token }, () => {});
    else this.socket.connect();
  }

  get unread() {
    let n = 0;
    for (const it of this.items.values()) if (!it.read) n++;
    return n;
  }

  toggle(open = this.panel.hidden) {
    this.panel.hidden = !open;
    this.button.setAttribute('aria-expanded', String(open));
    if (open) (this.list.querySelector('a') ?? this.markButton).focus();
  }

  markAllRead() {
    const ids = [...this.items.values()].filter((n) => !n.read).map((n) => n.id).slice(0, 500);
    if (ids.length === 0) return;
    this.socket.emit('mark-read', { ids }, (res) => {
      if (res?.ok) {
        for (const id of ids) this.items.get(id).read = true;
        const focused = document.activeElement === this.markButton;
        this.render();
        // Nothing left unread turns the button off: its focus would go to
        // the page's body.
        if (focused && this.markButton.disabled) this.heading.focus();
      }
    });
  }

  render() {
    const unread = this.unread;
    clear(this.count, unread > 0 ? String(unread) : '');
    this.count.hidden = unread === 0;
    clear(this.button, bellIcon(), this.count);
    this.button.setAttribute('aria-label', unread === 1 ? 'Notifications, 1 unread' : `Notifications, ${unread} unread`);
    const items = [...this.items.values()].reverse();
    clear(this.list, items.length === 0 ? h('li', { class: 'muted' }, 'No notifications.') : items.map((n) =>
      h('li', { class: n.read ? 'read' : 'unread' },
        h('strong', {}, n.title ?? n.type),
        ' ',
        n.data?.prdId ? h('a', { href: `/prds/${encodeURIComponent(n.data.prdId)}` }, n.message ?? '') : (n.message ?? ''),
        h('time', { datetime: n.timestamp }, formatTime(n.timestamp)))));
    this.markButton.disabled = unread === 0;
  }

  onActivity(fn) {
    this.activityListeners.add(fn);
    return () => this.activityListeners.delete(fn);
  }

  close() {
    this.socket.close();
  }
}

const ACTIVITY_TEXT = {
  prd_created: 'created',
  comment_added: 'commented on',
  comment_resolved: 'resolved a comment on',
  prd_approved: 'approved',
  version_created: 'created a version of',
};

export function activityItem(a) {
  const obj = a.object ?? {};
  const prdId = obj.type === 'prd' ? obj.id : obj.prdId;
  const what = ACTIVITY_TEXT[a.type] ?? a.type;
  return h('li', { class: 'activity' },
    h('strong', {}, a.actor?.name ?? a.actor?.id ?? 'someone'), ` ${what} `,
    prdId ? h('a', { href: `/prds/${encodeURIComponent(prdId)}` }, obj.title ?? prdId) : (obj.title ?? ''),
    obj.version ? ` (${obj.version})` : '',
    h('time', { datetime: a.timestamp }, formatTime(a.timestamp)));
}

/** Fills @list with the organization's recent activity and keeps it current. */
export async function activityFeed(api, session, notifications, list) {
  const seen = new Set();
  const add = (a, atTop) => {
    if (!a || seen.has(a.id)) return;
    seen.add(a.id);
    list.querySelector('.muted')?.remove();
    if (atTop) list.prepend(activityItem(a));
    else list.append(activityItem(a));
  };
  notifications.onActivity((a) => add(a, true));
  try {
    const page = await api.activity(session.org);
    for (const a of page.activities ?? []) add(a, false);
    if (seen.size === 0) list.append(h('li', { class: 'muted' }, 'Nothing yet.'));
  } catch (err) {
    list.append(h('li', { class: 'error' }, `Activity could not be read: ${err.message}`));
  }
}
