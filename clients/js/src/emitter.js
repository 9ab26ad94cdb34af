// SPDX-License-Identifier: GPL-3.0-or-later
//
// A minimal event emitter (the SDK runs in browsers too, without node:events).

export class Emitter {
  constructor() {
    this._listeners = new Map();
  }

  on(event, fn) {
    if (!this._listeners.has(event)) this._listeners.set(event, []);
    this._listeners.get(event).push(fn);
    return this;
  }

  once(event, fn) {
    const wrapper = (...args) => {
      this.off(event, wrapper);
      fn(...args);
    };
    wrapper.fn = fn;
    return this.on(event, wrapper);
  }

  off(event, fn) {
    const list = this._listeners.get(event);
    if (!list) return this;
    const i = list.findIndex((l) => l === fn || l.fn === fn);
    if (i >= 0) list.splice(i, 1);
    return this;
  }

  listenerCount(event) {
    return this._listeners.get(event)?.length ?? 0;
  }

  emit(event, ...args) {
    const list = this._listeners.get(event);
    if (!list || list.length === 0) return false;
    for (const fn of [...list]) fn(...args);
    return true;
  }
}
