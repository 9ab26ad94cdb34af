// SPDX-License-Identifier: GPL-3.0-or-later
//
// Renders the editor's preview in a worker (preview-worker.js), never on the
// page's main thread: markdown-it can take seconds over some texts (a
// megabyte of `![a`, 7 s), which would freeze the tab of everyone reading
// the PRD on every change.
//
// One render at a time: a change while a render runs only marks the
// preview stale, and the text of that moment (the newest, read when it
// starts) is rendered once the running one is done; changes never queue up.
// A render running longer than PREVIEW_TIMEOUT_MS ends (the worker is
// terminated) and the preview pauses until retry(), which renders the
// text of that moment in a fresh worker. A render whose HTML is too large
// to put into the page (the worker answers `tooLarge`, markdown.js) pauses
// it the same way, without the HTML ever reaching the page. A worker that
// fails (it cannot be started, or its render throws) stops the preview the
// same way.

/** How long one render may run before the preview pauses (milliseconds). */
export const PREVIEW_TIMEOUT_MS = 2000;

export class PreviewRenderer {
  /**
   * @createWorker: returns a new worker (postMessage, terminate,
   *   addEventListener 'message' and 'error'); it may throw
   * @text: returns the text to render, read as a render starts
   * @onHtml(html): a render's result
   * @onPaused(why): a render ran past @timeoutMs and was stopped
   *   (why 'slow'), or made HTML too large for the page ('large')
   * @onFailed(message): the worker failed
   * @onBusy(busy): a render started (true) or none runs any more (false)
   * @timers: setTimeout and clearTimeout (the tests' own)
   */
  constructor({
    createWorker, text, onHtml, onPaused = () => {}, onFailed = () => {}, onBusy = () => {},
    timeoutMs = PREVIEW_TIMEOUT_MS, timers = globalThis,
  }) {
    this._createWorker = createWorker;
    this._text = text;
    this._onHtml = onHtml;
    this._onPaused = onPaused;
    this._onFailed = onFailed;
    this._onBusy = onBusy;
    this._timeoutMs = timeoutMs;
    this._timers = timers;
    this._worker = null;
    this._jobs = 0; // ids of the renders asked of a worker
    this._running = null; // the id of the render running, or null
    this._timer = null;
    this._stale = false; // the text changed since the running render read it
    this._stopped = null; // null, 'paused' or 'failed'
    this._busy = false; // what onBusy() was told last
    this._destroyed = false;
  }

  /** Null while the preview renders; else 'paused' or 'failed' (until retry()). */
  get stopped() {
    return this._stopped;
  }

  /** The text changed (or the preview was shown): render it. */
  request() {
    if (this._destroyed) return;
    this._stale = true;
    if (this._running === null && this._stopped === null) this._start();
  }

  /** After a pause or a failure: render the text of now, in a fresh worker. */
  retry() {
    if (this._destroyed) return;
    this._stopped = null;
    this.request();
  }

  destroy() {
    this._destroyed = true;
    this._end();
  }

  _start() {
    this._stale = false;
    if (this._worker === null) {
      let worker;
      try {
        worker = this._createWorker();
      } catch (err) {
        this._stop('failed', err?.message ?? String(err));
        return;
      }
      worker.addEventListener('message', (event) => { if (worker === this._worker) this._finished(event.data); });
      worker.addEventListener('error', (event) => {
        event.preventDefault?.();
        if (worker === this._worker) this._stop('failed', event.message || 'the worker could not run');
      });
      this._worker = worker;
    }
    const id = ++this._jobs;
    this._running = id;
    this._timer = this._timers.setTimeout(() => { if (this._running === id) this._stop('paused', 'slow'); }, this._timeoutMs);
    this._setBusy(true);
    this._worker.postMessage({ id, text: this._text() });
  }

  _finished(data) {
    if (data?.id !== this._running) return;
    this._timers.clearTimeout(this._timer);
    this._timer = null;
    this._running = null;
    if (typeof data.html !== 'string') {
      this._stop('paused', 'large');
      return;
    }
    this._onHtml(data.html);
    if (this._stale) this._start();
    else this._setBusy(false);
  }

  _setBusy(busy) {
    if (busy === this._busy) return;
    this._busy = busy;
    this._onBusy(busy);
  }

  // Ends the running render and the worker.
  _end() {
    if (this._timer !== null) this._timers.clearTimeout(this._timer);
    this._timer = null;
    this._running = null;
    this._worker?.terminate();
    this._worker = null;
  }

  _stop(why, message) {
    this._end();
    this._stopped = why;
    this._setBusy(false);
    if (why === 'paused') this._onPaused(message);
    else this._onFailed(message);
  }
}
