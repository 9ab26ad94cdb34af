// SPDX-License-Identifier: GPL-3.0-or-later
//
// The preview's scheduling (web/src/preview.js) with a worker and timers
// of the test's own: one render at a time, the newest text waiting (never
// a queue), a render past its bound ending the worker and pausing until
// retry(), a failing worker said; and the worker's renderer (markdown.js)
// making the HTML the editor has always shown.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import MarkdownIt from 'markdown-it';
import { PREVIEW_TIMEOUT_MS, PreviewRenderer } from '../../src/preview.js';
import { createMarkdown, PREVIEW_MAX_HTML, renderPreview } from '../../src/markdown.js';

// Timers the test advances by hand.
function fakeTimers() {
  let now = 0;
  let next = 1;
  const due = new Map();
  return {
    pending: () => due.size,
    setTimeout(fn, ms) { due.set(next, { at: now + ms, fn }); return next++; },
    clearTimeout(id) { due.delete(id); },
    advance(ms) {
      now += ms;
      for (const [id, t] of [...due].sort((a, b) => a[1].at - b[1].at)) {
        if (t.at <= now && due.has(id)) { due.delete(id); t.fn(); }
      }
    },
  };
}

// Workers that keep what they are asked and answer when told to.
function fakeWorkers() {
  const workers = [];
  const create = () => {
    const listeners = { message: [], error: [] };
    const w = {
      posted: [],
      terminated: false,
      addEventListener(type, fn) { listeners[type].push(fn); },
      postMessage(data) { w.posted.push(data); },
      terminate() { w.terminated = true; },
      // The worker answers its oldest unanswered job.
      answer(html) {
        const job = w.posted[w.answered ?? 0];
        w.answered = (w.answered ?? 0) + 1;
        for (const fn of listeners.message) fn({ data: { id: job.id, html: html ?? `<p>${job.text}</p>` } });
      },
      fail(message) { for (const fn of listeners.error) fn({ message, preventDefault() {} }); },
      reply(data) { for (const fn of listeners.message) fn({ data }); },
    };
    workers.push(w);
    return w;
  };
  return { workers, create };
}

function setup({ createWorker } = {}) {
  const timers = fakeTimers();
  const fake = fakeWorkers();
  const log = [];
  let text = 'a';
  const r = new PreviewRenderer({
    createWorker: createWorker ?? fake.create,
    text: () => text,
    onHtml: (html) => log.push(['html', html]),
    onPaused: (why) => log.push(['paused', why]),
    onFailed: (message) => log.push(['failed', message]),
    onBusy: (busy) => log.push(['busy', busy]),
    timers,
  });
  return { r, timers, workers: fake.workers, log, setText: (t) => { text = t; } };
}

test('one render at a time: changes meanwhile wait, and only the newest text is rendered next', () => {
  const { r, workers, log, setText } = setup();
  assert.equal(workers.length, 0, 'no worker before the first render');
  r.request();
  assert.equal(workers.length, 1);
  assert.deepEqual(workers[0].posted.map((j) => j.text), ['a']);
  setText('ab');
  r.request();
  setText('abc');
  r.request();
  assert.equal(workers[0].posted.length, 1, 'nothing more is posted while a render runs');
  workers[0].answer();
  assert.deepEqual(workers[0].posted.map((j) => j.text), ['a', 'abc'], 'the newest text, once');
  workers[0].answer();
  assert.equal(workers[0].posted.length, 2, 'nothing left to render');
  assert.deepEqual(log, [['busy', true], ['html', '<p>a</p>'], ['html', '<p>abc</p>'], ['busy', false]]);
  assert.equal(workers.length, 1, 'the worker is kept');
  assert.equal(r.stopped, null);
});

test('a render past its bound ends the worker and pauses until retry(), which renders the text of then', () => {
  const { r, timers, workers, log, setText } = setup();
  r.request();
  timers.advance(PREVIEW_TIMEOUT_MS - 1);
  assert.equal(r.stopped, null);
  timers.advance(1);
  assert.equal(workers[0].terminated, true);
  assert.equal(r.stopped, 'paused');
  assert.deepEqual(log, [['busy', true], ['busy', false], ['paused', 'slow']]);
  // Changes while paused render nothing (and start no worker).
  setText('typed meanwhile');
  r.request();
  r.request();
  assert.equal(workers.length, 1);
  // A late answer of the ended worker is ignored.
  workers[0].answer('<p>late</p>');
  assert.ok(!log.some(([k, v]) => k === 'html' && v === '<p>late</p>'));
  r.retry();
  assert.equal(r.stopped, null);
  assert.equal(workers.length, 2, 'a fresh worker');
  assert.deepEqual(workers[1].posted.map((j) => j.text), ['typed meanwhile']);
  workers[1].answer();
  assert.deepEqual(log.at(-2), ['html', '<p>typed meanwhile</p>']);
  assert.equal(timers.pending(), 0, 'no bound left running');
});

test('a worker that fails, or cannot be started, stops the preview saying why; retry() starts another', () => {
  const { r, workers, log } = setup();
  r.request();
  workers[0].fail('RangeError: Maximum call stack size exceeded');
  assert.equal(r.stopped, 'failed');
  assert.equal(workers[0].terminated, true);
  assert.deepEqual(log.at(-1), ['failed', 'RangeError: Maximum call stack size exceeded']);
  r.retry();
  workers[1].answer();
  assert.deepEqual(log.at(-2), ['html', '<p>a</p>']);

  const refused = setup({ createWorker: () => { throw new Error('blocked'); } });
  refused.r.request();
  assert.equal(refused.r.stopped, 'failed');
  assert.deepEqual(refused.log, [['failed', 'blocked']]);
});

test('destroy() ends the worker and the bound; nothing renders afterwards', () => {
  const { r, timers, workers, log } = setup();
  r.request();
  r.destroy();
  assert.equal(workers[0].terminated, true);
  assert.equal(timers.pending(), 0);
  r.request();
  r.retry();
  assert.equal(workers.length, 1);
  assert.deepEqual(log, [['busy', true]]);
});

test('the worker\'s renderer makes the HTML the editor has always shown', () => {
  const before = new MarkdownIt({ html: false, linkify: false, typographer: false });
  const md = createMarkdown();
  const text = '# T\n\n<script>alert(1)</script> [x](javascript:alert(1)) [y](https://example.org) "q" -- www.example.org\n\n' +
    '| a | b |\n|---|---|\n| 1 | 2 |\n\n![i](data:image/png;base64,AA) ![j](data:text/html;base64,AA)\n';
  assert.equal(md.render(text), before.render(text));
  assert.match(md.render(text), /&lt;script&gt;/);
  assert.doesNotMatch(md.render(text), /href="javascript/);
});

// A short text can render to HTML far too large to put into the page (one
// reference definition with a long URL, used many times): the worker
// answers `tooLarge` and the preview pauses, the HTML never given to the
// page; a text under the bound renders as before.
test('a render whose HTML is too large pauses the preview without giving it to the page', () => {
  const md = createMarkdown();
  const url = `http://x.example/${'A'.repeat(20000)}`;
  const amplified = `[a]: ${url}\n\n${'[a] '.repeat(300)}\n`;
  assert.ok(amplified.length < 30000);
  const big = renderPreview(md, amplified);
  assert.equal(big.html, undefined);
  assert.ok(big.tooLarge > PREVIEW_MAX_HTML, String(big.tooLarge));
  const small = renderPreview(md, '# Goals\n\n[a] and [a]\n\n[a]: http://x.example/\n');
  assert.equal(small.html, md.render('# Goals\n\n[a] and [a]\n\n[a]: http://x.example/\n'));

  const { r, workers, log } = setup();
  r.request();
  const job = workers[0].posted[0];
  // The worker's answer for a text past the bound.
  workers[0].reply({ id: job.id, tooLarge: big.tooLarge });
  assert.equal(r.stopped, 'paused');
  assert.equal(workers[0].terminated, true);
  assert.ok(!log.some(([k]) => k === 'html'), 'no HTML reaches the page');
  assert.deepEqual(log.at(-1), ['paused', 'large']);
});
