// SPDX-License-Identifier: GPL-3.0-or-later
//
// What the editor's one visually hidden status region (aria-live=polite)
// says: the connection's changes that matter (offline, back online, signed
// out, edits waiting, closed) and who joined or left. A state is announced
// once it has held for `delay` ms (2 s) and differs from the last one
// announced, so saving ↔ saved, or a connection lost and back within the
// delay, says nothing. Who is here is compared the same way: the people
// present when the announcer speaks against those it last spoke of, so a
// reload (left, joined again) or a join and leave within the delay says
// nothing. Joins, leaves and messages said within the delay of each other
// go out together. No DOM here but the region's textContent, so
// that it runs under node (web/test/unit/announce.test.js).

export const ANNOUNCE_DELAY_MS = 2000;

function edits(n) {
  return n === 1 ? '1 edit' : `${n} edits`;
}

/**
 * The key of a connection state as the announcer sees it: states with the
 * same key are one for the listener (`online` and `saving` are both
 * online). null: nothing to say (connecting).
 */
export function connectionKey(state, pendingCount) {
  switch (state) {
  case 'online':
  case 'saving':
    return 'online';
  case 'offline':
    return pendingCount > 0 ? 'offline-waiting' : 'offline';
  case 'signed-out':
    return pendingCount > 0 ? 'signed-out-waiting' : 'signed-out';
  case 'error':
    return 'closed';
  default:
    return null;
  }
}

/**
 * What to say on reaching connection state @key from @previous (the last
 * key announced; null before any): @text is the badge's text, @pendingCount
 * the edits not acknowledged yet. The first join says nothing.
 */
export function connectionMessage(key, previous, { text, pendingCount }) {
  if (key === 'online') {
    if (previous === null) return null;
    return pendingCount > 0 ? `Back online · sending ${edits(pendingCount)}` : 'Back online · saved';
  }
  if (key === 'offline-waiting' || key === 'signed-out-waiting') {
    const why = key === 'offline-waiting' ? 'Offline' : 'Signed out';
    return `${why} · ${edits(pendingCount)} waiting`;
  }
  return text;
}

export class Announcer {
  /**
   * @region: the live region (anything with textContent); @timers: the
   * setTimeout and clearTimeout to use (tests pass their own).
   */
  constructor(region, { delay = ANNOUNCE_DELAY_MS, timers = globalThis } = {}) {
    this.region = region;
    this.delay = delay;
    this.timers = timers;
    this.timer = null;
    this.key = null; // the state now
    this.describe = null; // (previous key) => text or null, of the state now
    this.announced = null; // the last key announced
    this.messages = [];
    this.people = null; // who is here now ([{ userId, name }]); null: not known yet
    this.peopleAnnounced = null; // who was here when last announced
  }

  /** The state is now @key; @describe(previous) says what to announce about it. */
  setState(key, describe) {
    if (key === null) return;
    const changed = key !== this.key;
    this.key = key;
    this.describe = describe;
    if (changed) this.schedule();
  }

  /**
   * The people here are now @users (`[{ userId, name }]`): who joined or
   * left since the last announcement is said at the next one. The first
   * list says nothing.
   */
  setPeople(users) {
    const list = [...users];
    if (this.people === null) {
      this.people = list;
      this.peopleAnnounced = list;
      return;
    }
    this.people = list;
    // Back to those last announced: the pending announcement (if any) no
    // longer has them to say, and nothing new is scheduled for it.
    if (presenceChanges(this.peopleAnnounced, list).length > 0) this.schedule();
  }

  /** Says @text (with the others said within the delay). */
  say(text) {
    if (!text) return;
    this.messages.push(text);
    this.schedule();
  }

  schedule() {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = this.timers.setTimeout(() => this.flush(), this.delay);
  }

  flush() {
    this.timer = null;
    const parts = [];
    if (this.key !== null && this.key !== this.announced) {
      const text = this.describe?.(this.announced) ?? null;
      this.announced = this.key;
      if (text) parts.push(text);
    }
    if (this.people !== null) {
      parts.push(...presenceChanges(this.peopleAnnounced, this.people));
      this.peopleAnnounced = this.people;
    }
    parts.push(...this.messages);
    this.messages = [];
    if (parts.length === 0) return;
    let text = parts.join('. ');
    // The same words again are a change too (a screen reader ignores an
    // unchanged region).
    if (text === this.region.textContent) text += '\u00a0';
    this.region.textContent = text;
  }

  destroy() {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
  }
}

/**
 * Who joined and who left between two presence lists (@before, @after:
 * `[{ userId, name }]`), in the words announced: "Ann joined", "Bob left".
 */
export function presenceChanges(before, after) {
  const was = new Map(before.map((u) => [u.userId, u]));
  const is = new Map(after.map((u) => [u.userId, u]));
  const out = [];
  for (const [id, u] of is) if (!was.has(id)) out.push(`${u.name ?? id} joined`);
  for (const [id, u] of was) if (!is.has(id)) out.push(`${u.name ?? id} left`);
  return out;
}
