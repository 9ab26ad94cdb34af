// SPDX-License-Identifier: GPL-3.0-or-later
//
// The web editor's side panels keep what a user is writing, and where the
// focus is, in real Chromium against a hub (and the scripted AI test
// server): a reply being written survives others' comments and replies; a
// merged text being written survives a second conflict; a reply sent,
// a comment or conflict resolved, an AI suggestion accepted or rejected, a
// preview inserted or discarded, a cancelled answer and "Mark all read"
// each move the focus on to a named place, never to the page's body; a
// conflict or comment resolved by someone else while being answered here
// keeps the focus and the text (marked resolved, until dismissed). The
// Versions panel compares the two newest versions unless the user chose.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { aiConfig, startAiServer } from '../../../tests/e2e/ai-helpers.js';
import {
  EVENT_TIMEOUT_MS, createPrd, editorText, launch, openEditor, restPrd, startHub, token, waitForState, waitUntil,
} from './browser.js';

const ANN = { sub: 'user_ann', name: 'Ann Archer', org: 'org_focus', role: 'editor' };
const BOB = { sub: 'user_bob', name: 'Bob Builder', org: 'org_focus', role: 'editor' };
const timeout = EVENT_TIMEOUT_MS;

let ai;
let hub;
let browser;

before(async () => {
  ai = await startAiServer();
  hub = await startHub({ config: aiConfig(ai) });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await ai?.stop();
  const res = await hub.stop();
  assert.deepEqual(res, { code: 0, signal: null }, hub.stderr());
});

/** Where the focus is: the element, the card or conflict it is in, a text box's text and caret. */
function focusOf(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    const out = { tag: el.tagName.toLowerCase(), text: el.tagName === 'BUTTON' ? el.textContent : undefined };
    const comment = el.closest('.comment');
    if (comment) out.commentId = comment.dataset.commentId;
    const conflict = el.closest('.conflict');
    if (conflict) out.conflictId = conflict.dataset.conflictId;
    if (el.tagName === 'TEXTAREA') {
      out.value = el.value;
      out.caret = el.selectionStart;
      out.form = el.form?.getAttribute('aria-label') ?? el.form?.className ?? null;
    }
    if (el.classList.contains('cm-content')) out.editor = true;
    if (el.getAttribute('role') === 'tabpanel') out.panel = el.dataset.panel;
    if (el.closest('#notification-panel')) out.notifications = true;
    return JSON.parse(JSON.stringify(out));
  });
}

const idOf = (page, selector, key) => page.$eval(selector, (el, k) => el.dataset[k], key);

test('a reply being written keeps its text, caret and focus; reply and resolve move the focus on', async () => {
  const id = (await createPrd(hub, token(ANN), 'Replies', '# Replies\n\nalpha beta\n')).id;
  const a = await openEditor(browser, hub, ANN, id);
  const b = await openEditor(browser, hub, BOB, id);
  try {
    for (const s of [a, b]) await s.page.click('[role="tab"][data-tab="comments"]');
    const addComment = async (text) => {
      await a.page.fill('.comments textarea >> nth=0', text);
      await a.page.click('.comments button[type="submit"] >> text=Add comment');
      await b.page.waitForSelector(`.comment:has-text("${text}")`, { timeout });
    };
    await addComment('First point');
    const first = '.comment:has-text("First point")';
    const firstId = await idOf(b.page, first, 'commentId');
    await b.page.focus(`${first} textarea`);
    await b.page.keyboard.type('half a reply');
    for (let i = 0; i < 6; i++) await b.page.keyboard.press('ArrowLeft');
    const drafting = { tag: 'textarea', commentId: firstId, value: 'half a reply', caret: 6, form: 'stack reply-form' };
    assert.deepEqual(await focusOf(b.page), drafting);

    // Another comment arrives, and a reply to the one Bob is answering.
    await addComment('Second point');
    assert.deepEqual(await focusOf(b.page), drafting, 'after another user\'s comment');
    await a.page.fill(`${first} textarea`, 'Ann adds a note');
    await a.page.click(`${first} button:has-text("Reply")`);
    await b.page.waitForSelector(`${first} .replies:has-text("Ann adds a note")`, { timeout });
    assert.deepEqual(await focusOf(b.page), drafting, 'after another user\'s reply');

    // Bob sends his reply from the keyboard: the box is empty and focused again.
    await b.page.keyboard.press('End');
    await b.page.keyboard.type(' more');
    await b.page.focus(`${first} button:has-text("Reply")`);
    await b.page.keyboard.press('Enter');
    await b.page.waitForSelector(`${first} .replies:has-text("half a reply more")`, { timeout });
    await waitUntil(async () => (await focusOf(b.page)).tag === 'textarea', 'the focus back in the reply box');
    assert.deepEqual(await focusOf(b.page), { ...drafting, value: '', caret: 0 });

    // Resolving a comment moves the focus to the next card's first button,
    // the last one to the new comment's box.
    const secondId = await idOf(b.page, '.comment:has-text("Second point")', 'commentId');
    await b.page.focus(`${first} button:has-text("Resolve")`);
    await b.page.keyboard.press('Enter');
    await b.page.waitForSelector(first, { state: 'detached', timeout });
    await waitUntil(async () => (await focusOf(b.page)).tag !== 'body', 'the focus after resolving');
    assert.deepEqual(await focusOf(b.page), { tag: 'button', text: 'Reply', commentId: secondId });
    await b.page.focus('.comment button:has-text("Resolve")');
    await b.page.keyboard.press('Enter');
    await b.page.waitForSelector('.comment', { state: 'detached', timeout });
    await waitUntil(async () => (await focusOf(b.page)).tag !== 'body', 'the focus after resolving the last');
    assert.deepEqual(await focusOf(b.page), { tag: 'textarea', value: '', caret: 0, form: 'Add a comment' });

    // Bob's reply notified Ann: "Mark all read" turns off, and the
    // panel's heading takes its focus.
    await a.page.waitForSelector('button.bell:not([aria-label="Notifications, 0 unread"])', { timeout });
    await a.page.click('button.bell');
    await a.page.focus('#notification-panel button:has-text("Mark all read")');
    await a.page.keyboard.press('Enter');
    await a.page.waitForSelector('button.bell[aria-label="Notifications, 0 unread"]', { timeout });
    assert.deepEqual(await focusOf(a.page), { tag: 'h2', notifications: true });
    await a.page.keyboard.press('Escape');
    assert.deepEqual([...a.problems, ...b.problems], []);
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('a merged text being written survives a second conflict; resolving moves the focus on', async () => {
  const id = (await createPrd(hub, token(ANN), 'Conflicts', 'first line\nsecond line\n')).id;
  const a = await openEditor(browser, hub, ANN, id);
  const b = await openEditor(browser, hub, BOB, id);
  // Bob offline types B where Ann types A (her edit made without moving
  // her focus): both edits at one place make a conflict.
  const conflictAt = async (atEnd) => {
    await b.page.click('button:has-text("Work offline")');
    await waitForState(b.page, 'offline');
    await b.page.evaluate((end) => {
      const v = window.prdhubEditor.view;
      v.dispatch({ changes: { from: end ? v.state.doc.length : 0, insert: 'B' }, userEvent: 'input.type' });
    }, atEnd);
    await a.page.evaluate((end) => {
      const v = window.prdhubEditor.view;
      v.dispatch({ changes: { from: end ? v.state.doc.length : 0, insert: 'A' }, userEvent: 'input.type' });
    }, atEnd);
    await waitForState(a.page, 'online');
    await b.page.click('button:has-text("Go online")');
    await waitForState(b.page, 'online');
  };
  const count = (page) => page.$$eval('.conflict', (l) => l.length);
  try {
    await conflictAt(false);
    await a.page.waitForSelector('.conflicts:not([hidden]) .conflict', { timeout });
    const firstId = await idOf(a.page, '.conflict', 'conflictId');
    await a.page.focus('.conflict textarea');
    await a.page.keyboard.press('Control+a');
    await a.page.keyboard.type('my careful merge');
    for (let i = 0; i < 5; i++) await a.page.keyboard.press('ArrowLeft');
    const drafting = { tag: 'textarea', conflictId: firstId, value: 'my careful merge', caret: 11, form: null };
    assert.deepEqual(await focusOf(a.page), drafting);

    await conflictAt(true);
    await waitUntil(async () => (await count(a.page)) === 2, 'the second conflict at Ann');
    assert.deepEqual(await focusOf(a.page), drafting, 'after a second conflict');
    const secondId = await a.page.$eval('.conflict >> nth=1', (el) => el.dataset.conflictId);
    assert.notEqual(secondId, firstId);

    // Keep yours: the focus goes to the next conflict, then to the editor.
    await a.page.focus('.conflict >> nth=0 >> button:has-text("Keep yours")');
    await a.page.keyboard.press('Enter');
    await waitUntil(async () => (await count(a.page)) === 1, 'the first conflict resolved');
    assert.deepEqual(await focusOf(a.page), { tag: 'button', text: 'Keep yours', conflictId: secondId });
    await a.page.keyboard.press('Enter');
    await a.page.waitForSelector('.conflicts[hidden]', { state: 'attached', timeout });
    assert.deepEqual(await focusOf(a.page), { tag: 'div', editor: true });
    assert.deepEqual(a.problems, []);
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('Compare defaults to the two newest versions, and keeps a version the user chose', async () => {
  const id = (await createPrd(hub, token(ANN), 'Compare', '# Compare\n')).id;
  const a = await openEditor(browser, hub, ANN, id);
  const chosen = () => a.page.$$eval('.compare select', (l) => l.map((s) => s.value));
  const createVersion = async (version) => {
    await a.page.click('.cm-content');
    await a.page.keyboard.press('Control+End');
    await a.page.keyboard.type(`\nfor ${version}`);
    await waitForState(a.page, 'online');
    await a.page.fill('.versions textarea', `Towards ${version}`);
    await a.page.click('.versions button:has-text("Create version")');
    await a.page.waitForSelector(`.version-list li[data-version="${version}"]`, { timeout });
  };
  try {
    await a.page.click('[role="tab"][data-tab="versions"]');
    await createVersion('0.2.0');
    await createVersion('0.3.0');
    assert.deepEqual(await chosen(), ['0.2.0', '0.3.0']);
    await createVersion('0.4.0');
    assert.deepEqual(await chosen(), ['0.3.0', '0.4.0']);
    // Chosen by the user: kept when a version comes; the other follows.
    await a.page.selectOption('.compare select >> nth=0', '0.2.0');
    await createVersion('0.5.0');
    assert.deepEqual(await chosen(), ['0.2.0', '0.5.0']);
    await a.page.selectOption('.compare select >> nth=1', '0.3.0');
    await createVersion('0.6.0');
    assert.deepEqual(await chosen(), ['0.2.0', '0.3.0']);
    assert.deepEqual(a.problems, []);
  } finally {
    await a.context.close();
  }
});

test('AI: rejecting suggestions, inserting or discarding a preview and cancelling keep the focus in the panel', async () => {
  // `scenario:review-sections`: the review answers with four suggestions.
  const id = (await createPrd(hub, token(ANN), 'AI focus', 'scenario:review-sections\n# Plan\n\n## User Stories\n\nSome.\n')).id;
  const a = await openEditor(browser, hub, ANN, id);
  try {
    await a.page.click('[role="tab"][data-tab="ai"]');
    await a.page.click('.ai button:has-text("Review this PRD")');
    await a.page.waitForSelector('.ai-status:has-text("Review finished")', { timeout });
    let n = (await a.page.$$('.suggestion')).length;
    assert.ok(n >= 2, `${n} suggestions`);
    // Rejected from the keyboard: the next one's Accept, then the panel.
    while (n > 0) {
      await a.page.focus('.suggestion >> nth=0 >> button:has-text("Reject")');
      await a.page.keyboard.press('Enter');
      n -= 1;
      assert.equal((await a.page.$$('.suggestion')).length, n);
      assert.deepEqual(await focusOf(a.page), n > 0 ? { tag: 'button', text: 'Accept' } : { tag: 'div', panel: 'ai' });
    }

    // A preview: Discard gives the focus to the prompt, Insert to the editor.
    await a.page.uncheck('.ai input[type="checkbox"]');
    const preview = async () => {
      await a.page.fill('.ai textarea', 'scenario:stream Preview only');
      await a.page.click('.ai button[type="submit"]');
      await a.page.waitForSelector('.ai-actions button:has-text("Discard")', { timeout });
    };
    const prompt = { tag: 'textarea', value: 'scenario:stream Preview only', caret: 28, form: 'Ask the AI' };
    await preview();
    await a.page.focus('.ai-actions button:has-text("Discard")');
    await a.page.keyboard.press('Enter');
    assert.deepEqual(await focusOf(a.page), prompt);
    await preview();
    await a.page.focus('.ai-actions button:has-text("Insert at cursor")');
    await a.page.keyboard.press('Enter');
    assert.deepEqual(await focusOf(a.page), { tag: 'div', editor: true });

    // Cancel turns off once the answer is cancelled: the prompt takes the focus.
    await a.page.fill('.ai textarea', 'scenario:gated Take your time');
    await a.page.click('.ai button[type="submit"]');
    await a.page.waitForSelector('.ai-output[data-state="streaming"]:has-text("first")', { timeout });
    await a.page.waitForSelector('.ai button:has-text("Cancel"):not([disabled])', { timeout });
    await a.page.focus('.ai button:has-text("Cancel")');
    await a.page.keyboard.press('Enter');
    await a.page.waitForSelector('.ai-status:has-text("cancelled")', { timeout });
    assert.equal(await a.page.isDisabled('.ai button:has-text("Cancel")'), true);
    assert.deepEqual(await focusOf(a.page), { ...prompt, value: 'scenario:gated Take your time', caret: 29 });
    assert.deepEqual(a.problems, []);
  } finally {
    await a.context.close();
  }
});

// What the page's announcer (#editor-announcer) has said since @page loaded.
async function listenToAnnouncer(page) {
  await page.evaluate(() => {
    window.announced = [];
    new MutationObserver(() => window.announced.push(document.querySelector('#editor-announcer').textContent))
      .observe(document.querySelector('#editor-announcer'), { childList: true, characterData: true, subtree: true });
  });
  return () => page.evaluate(() => window.announced.join(' | '));
}

// Resolved elsewhere: the box or card is gone, or kept marked resolved.
const resolvedHere = (page, selector) => page.$$eval(selector, (l) => l.length === 0 || l[0].classList.contains('resolved'));

test('a conflict resolved by someone else while its merged text is being written keeps the focus and the text', async () => {
  const id = (await createPrd(hub, token(ANN), 'Merge elsewhere', 'first line\nsecond line\n')).id;
  const a = await openEditor(browser, hub, ANN, id);
  const b = await openEditor(browser, hub, BOB, id);
  try {
    // Bob offline types B where Ann types A: a conflict at Ann.
    await b.page.click('button:has-text("Work offline")');
    await waitForState(b.page, 'offline');
    await b.page.evaluate(() => window.prdhubEditor.view.dispatch({ changes: { from: 0, insert: 'B' }, userEvent: 'input.type' }));
    await a.page.evaluate(() => window.prdhubEditor.view.dispatch({ changes: { from: 0, insert: 'A' }, userEvent: 'input.type' }));
    await waitForState(a.page, 'online');
    await b.page.click('button:has-text("Go online")');
    await waitForState(b.page, 'online');
    await a.page.waitForSelector('.conflicts:not([hidden]) .conflict', { timeout });
    const said = await listenToAnnouncer(a.page);
    const conflictId = await idOf(a.page, '.conflict', 'conflictId');
    const box = `.conflict[data-conflict-id="${conflictId}"]`;
    await a.page.focus(`${box} textarea`);
    await a.page.keyboard.press('Control+a');
    await a.page.keyboard.type('my merge');
    const drafting = { tag: 'textarea', conflictId, value: 'my merge', caret: 8, form: null };
    assert.deepEqual(await focusOf(a.page), drafting);

    // Bob resolves it (keeping his change) while Ann is writing.
    const ack = await b.page.evaluate(([prdId, cid]) => new Promise((r) => window.prdhubEditor.client.socket.emit('resolve-conflict', { prdId, conflictId: cid, resolution: 'theirs' }, r)), [id, conflictId]);
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await waitUntil(() => resolvedHere(a.page, box), 'the conflict resolved at Ann');
    await waitForState(a.page, 'online');
    const text = await editorText(a.page);

    // Ann's next keys go nowhere but her box: the PRD is unchanged.
    await a.page.keyboard.type(' and more');
    assert.deepEqual(await focusOf(a.page), drafting, 'the focus after Bob resolved the conflict');
    await waitForState(a.page, 'online');
    assert.equal(await editorText(a.page), text);
    assert.equal((await restPrd(hub, token(ANN), id)).content, text);
    assert.ok(!text.includes('more'), JSON.stringify(text));
    assert.match(await a.page.textContent(box), /Resolved by Bob Builder/);
    assert.equal(await a.page.getAttribute(`${box} button:has-text("Merge")`, 'aria-disabled'), 'true');
    await waitUntil(async () => (await said()).includes('Bob Builder resolved the conflict'), 'the announcement');

    // Dismiss removes it and moves the focus on, as Ann's own resolve would.
    await a.page.focus(`${box} button:has-text("Dismiss")`);
    await a.page.keyboard.press('Enter');
    await a.page.waitForSelector('.conflicts[hidden]', { state: 'attached', timeout });
    assert.deepEqual(await focusOf(a.page), { tag: 'div', editor: true });
    assert.deepEqual([...a.problems, ...b.problems], []);
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('a comment resolved by someone else while a reply is being written keeps the focus and the reply', async () => {
  const id = (await createPrd(hub, token(ANN), 'Reply elsewhere', '# Reply\n\nalpha beta\n')).id;
  const a = await openEditor(browser, hub, ANN, id);
  const b = await openEditor(browser, hub, BOB, id);
  try {
    for (const s of [a, b]) await s.page.click('[role="tab"][data-tab="comments"]');
    await a.page.fill('.comments textarea >> nth=0', 'A point');
    await a.page.click('.comments button[type="submit"] >> text=Add comment');
    await b.page.waitForSelector('.comment:has-text("A point")', { timeout });
    const said = await listenToAnnouncer(b.page);
    const commentId = await idOf(b.page, '.comment', 'commentId');
    const card = `.comment[data-comment-id="${commentId}"]`;
    await b.page.focus(`${card} textarea`);
    await b.page.keyboard.type('half a reply');
    const drafting = { tag: 'textarea', commentId, value: 'half a reply', caret: 12, form: 'stack reply-form' };
    assert.deepEqual(await focusOf(b.page), drafting);

    // Ann resolves it while Bob is writing.
    await a.page.click(`${card} button:has-text("Resolve")`);
    await waitUntil(() => resolvedHere(b.page, card), 'the comment resolved at Bob');
    await b.page.keyboard.type(' more');
    assert.deepEqual(await focusOf(b.page), drafting, 'the focus after Ann resolved the comment');
    assert.equal(await b.page.inputValue('.comments textarea >> nth=0'), '');
    assert.match(await b.page.textContent(card), /Resolved by Ann Archer/);
    assert.equal(await b.page.getAttribute(`${card} button:has-text("Reply")`, 'aria-disabled'), 'true');
    await waitUntil(async () => (await said()).includes('Ann Archer resolved the comment you were replying to'), 'the announcement');

    // Dismiss removes it; the focus goes to the new comment's box.
    await b.page.focus(`${card} button:has-text("Dismiss")`);
    await b.page.keyboard.press('Enter');
    await b.page.waitForSelector(card, { state: 'detached', timeout });
    assert.deepEqual(await focusOf(b.page), { tag: 'textarea', value: '', caret: 0, form: 'Add a comment' });
    assert.deepEqual([...a.problems, ...b.problems], []);
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

// Neither the conflicts panel nor the bell's label is a live region: a
// conflict that arrives is said by the page's announcer, and a
// notification by the bell's own status region.
test('a new conflict and a new notification are said for screen readers', async () => {
  const id = (await createPrd(hub, token(ANN), 'Said aloud', 'first line\n')).id;
  const a = await openEditor(browser, hub, ANN, id);
  const b = await openEditor(browser, hub, BOB, id);
  try {
    const heard = await listenToAnnouncer(a.page);
    await b.page.click('button:has-text("Work offline")');
    await waitForState(b.page, 'offline');
    await b.page.evaluate(() => {
      window.prdhubEditor.view.dispatch({ changes: { from: 0, insert: 'B' }, userEvent: 'input.type' });
    });
    await a.page.evaluate(() => {
      window.prdhubEditor.view.dispatch({ changes: { from: 0, insert: 'A' }, userEvent: 'input.type' });
    });
    await waitForState(a.page, 'online');
    await b.page.click('button:has-text("Go online")');
    await waitForState(b.page, 'online');
    await a.page.waitForSelector('.conflicts:not([hidden]) .conflict', { timeout });
    await waitUntil(async () => (await heard()).includes('A conflict to review'), 'the conflict said');

    const bell = '.bell-wrap [role="status"]';
    assert.equal(await a.page.textContent(bell), '');
    const ack = await b.page.evaluate((prdId) => new Promise((resolve) => {
      window.prdhubEditor.client.socket.emit('add-comment',
        { prdId, position: 0, content: 'please look @user_ann' }, resolve);
    }), id);
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await waitUntil(async () => (await a.page.textContent(bell)).startsWith('New notification'),
      'the notification said');
  } finally {
    await a.context.close();
    await b.context.close();
  }
});
