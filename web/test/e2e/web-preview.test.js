// SPDX-License-Identifier: GPL-3.0-or-later
//
// The editor's rendered preview in real Chromium against a real hub: it
// shows the HTML markdown-it makes of the text (raw HTML escaped, script
// links refused), following edits; and a co-author's text that markdown-it
// takes seconds over (a megabyte of `![a`, under max-document-size) does not
// freeze the tab of someone reading it while the co-author types: the
// preview renders in a worker, pauses saying so, and Retry renders again.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import MarkdownIt from 'markdown-it';
import { client, join, request, bump } from '../../../tests/e2e/collab-helpers.js';
import {
  EVENT_TIMEOUT_MS, createPrd, editorText, launch, openEditor, startHub, token, waitForText, waitUntil,
} from './browser.js';

const ANN = { sub: 'user_ann', name: 'Ann Archer', org: 'org_web', role: 'editor' };
const MALLORY = { sub: 'user_mallory', name: 'Mallory', org: 'org_web', role: 'editor' };

// The renderer the preview has always used (web/src/markdown.js).
const md = new MarkdownIt({ html: false, linkify: false, typographer: false });

const ORDINARY = [
  '# Checkout redesign', '', 'Goals: *fewer* steps, **faster** pay, `code` and ~~old~~ text.', '',
  '- [a link](https://example.org/x?a=1&b=2)', '- [bad link](javascript:alert(1))', '- ![img](data:image/png;base64,AAAA)',
  '', '<script>alert(1)</script> <b>raw</b>', '', '| a | b |', '|---|---|', '| 1 | 2 |', '',
  '> quoted', '', '```js', 'let x = 1 < 2;', '```', '',
].join('\n');

// 1 MB that markdown-it renders in seconds (the audit's text).
const SLOW = '![a'.repeat(349333);

let hub;
let browser;

before(async () => {
  hub = await startHub();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  // A clean exit (under ASan: no leak, no error).
  const res = await hub.stop();
  assert.deepEqual(res, { code: 0, signal: null }, hub.stderr());
});

// Whether the preview shows what markdown-it makes of the editor's text
// (both read back through the page's HTML parser).
function previewMatches(page) {
  return async () => {
    const text = await editorText(page);
    return page.evaluate((expected) => {
      const t = document.createElement('template');
      t.innerHTML = expected;
      return document.querySelector('.preview').innerHTML === t.innerHTML;
    }, md.render(text));
  };
}

function previewNote(page) {
  return page.evaluate(() => ({
    text: document.querySelector('.preview-status').textContent,
    retry: !document.querySelector('.preview-note button').hidden,
    busy: document.querySelector('.preview').getAttribute('aria-busy'),
    empty: document.querySelector('.preview').childElementCount === 0,
  }));
}

test('the preview shows markdown-it\'s HTML of the text, and follows typing', async () => {
  const prd = await createPrd(hub, token(ANN), 'Checkout redesign', ORDINARY);
  const ann = await openEditor(browser, hub, ANN, prd.id);
  try {
    await waitUntil(previewMatches(ann.page), 'the preview of the PRD');
    const html = await ann.page.innerHTML('.preview');
    assert.match(html, /<h1>Checkout redesign<\/h1>/);
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt; &lt;b&gt;raw&lt;\/b&gt;/, 'raw HTML shown as text');
    assert.match(html, /\[bad link\]\(javascript:alert\(1\)\)/, 'a javascript: link is not a link');
    assert.equal(await ann.page.locator('.preview script, .preview a[href^="javascript"]').count(), 0);
    assert.equal(await ann.page.locator('.preview table td').count(), 2);

    await ann.page.click('.cm-content');
    await ann.page.keyboard.press('Control+End');
    await ann.page.keyboard.type('\n## Added here\n\nNew *text*.');
    await waitForText(ann.page, 'New *text*.');
    await waitUntil(previewMatches(ann.page), 'the preview after typing');
    assert.match(await ann.page.innerHTML('.preview'), /<h2>Added here<\/h2>\s*<p>New <em>text<\/em>\.<\/p>/);
    assert.deepEqual(await previewNote(ann.page), { text: '', retry: false, busy: 'false', empty: false });
    assert.deepEqual(ann.problems, [], 'no console errors or CSP violations (the worker is allowed)');
  } finally {
    await ann.context.close();
  }
});

test('a text markdown-it takes seconds over, typed into by a co-author, leaves the reader\'s tab drawing frames', async () => {
  const prd = await createPrd(hub, token(MALLORY), 'Roadmap', SLOW);
  const ann = await openEditor(browser, hub, ANN, prd.id);
  try {
    // The page counts the frames it draws, and notes the count at which
    // each of Mallory's keystrokes arrives.
    await ann.page.evaluate(() => {
      window.__frames = 0;
      window.__arrivals = [];
      const tick = () => { window.__frames += 1; requestAnimationFrame(tick); };
      requestAnimationFrame(tick);
      window.prdhubEditor.client.on('change', (ev) => { if (!ev.local) window.__arrivals.push(window.__frames); });
    });

    // Mallory types at the start, one character a second.
    const mallory = await client(hub, MALLORY);
    try {
      const joined = await join(mallory, prd.id);
      let vector = joined.vector;
      const KEYS = 8;
      for (let i = 0; i < KEYS; i++) {
        const ack = await request(mallory, 'content-update', {
          prdId: prd.id, operation: { type: 'insert', position: 0, content: 'x' }, stateVector: bump(vector, joined.siteId),
        });
        assert.equal(ack.ok, true, JSON.stringify(ack));
        vector = ack.stateVector;
        await new Promise((r) => setTimeout(r, 1000));
      }
      await waitForText(ann.page, (t) => t.startsWith('x'.repeat(KEYS) + '![a'), 'Mallory\'s keystrokes at Ann');

      // The page drew frames all along: each keystroke arrived in a later
      // frame than the one before, and between the first and the last it
      // drew at least 5 frames a keystroke (a render on the main thread
      // drew none for seconds, then ran the keystrokes it held back in a
      // few frames: 7 frames in all for these 7 keystrokes).
      const arrivals = await ann.page.evaluate(() => window.__arrivals);
      const seen = `frames at each keystroke: ${arrivals.join(' ')}`;
      assert.equal(arrivals.length, KEYS, seen);
      const heldBack = arrivals.filter((f, i) => i > 0 && f === arrivals[i - 1]).length;
      assert.equal(heldBack, 0, `keystrokes that arrived in the same frame as the one before; ${seen}`);
      assert.ok(arrivals.at(-1) - arrivals[0] >= 5 * (KEYS - 1), `too few frames drawn; ${seen}`);

      // The preview says why it is empty, and offers to try again.
      await waitUntil(async () => (await previewNote(ann.page)).retry, 'the preview paused');
      assert.deepEqual(await previewNote(ann.page),
        { text: 'Preview paused: this text takes too long to render.', retry: true, busy: 'false', empty: true });

      // Retry with the same text: paused again, the page still drawing.
      const before = await ann.page.evaluate(() => window.__frames);
      await ann.page.click('.preview-note button');
      await waitUntil(async () => (await previewNote(ann.page)).retry, 'the preview paused again');
      assert.equal((await previewNote(ann.page)).text, 'Preview paused: this text takes too long to render.');
      assert.ok(await ann.page.evaluate(() => window.__frames) > before, 'frames drawn meanwhile');

      // Mallory replaces it with ordinary text: Retry renders it.
      // (An operation deletes at most 65,536 units.)
      for (let left = (await editorText(ann.page)).length; left > 0; left -= 65536) {
        const del = await request(mallory, 'content-update', {
          prdId: prd.id, operation: { type: 'delete', position: 0, length: Math.min(left, 65536) },
          stateVector: bump(vector, joined.siteId),
        });
        assert.equal(del.ok, true, JSON.stringify(del));
        vector = del.stateVector;
      }
      const ins = await request(mallory, 'content-update', {
        prdId: prd.id, operation: { type: 'insert', position: 0, content: ORDINARY }, stateVector: bump(vector, joined.siteId),
      });
      assert.equal(ins.ok, true, JSON.stringify(ins));
      await waitUntil(async () => await editorText(ann.page) === ORDINARY, 'the ordinary text at Ann');
      assert.equal((await previewNote(ann.page)).retry, true, 'paused until Retry');
      await ann.page.click('.preview-note button');
      await waitUntil(previewMatches(ann.page), 'the preview of the ordinary text');
      assert.deepEqual(await previewNote(ann.page), { text: '', retry: false, busy: 'false', empty: false });
    } finally {
      mallory.disconnect();
    }
    assert.deepEqual(ann.problems, []);
  } finally {
    await ann.context.close();
  }
});
