// SPDX-License-Identifier: GPL-3.0-or-later
//
// The web editor in real Chromium: two browser contexts (two users) on one
// PRD against a real hub. They converge with each other and with
// GET /api/prds/{id}; a remote cursor shows with its user's name; a
// comment added in one appears in the other; an AI answer (the scripted AI
// test server) streams into both; one goes offline, edits, comes back and
// they converge; versions compare side by side, and one made right after
// typing holds the typing; an input-method composition
// next to the other's typing is written once; the hub restarting (and
// killed) is said while it lasts and not after. Screenshots of the list,
// the editor with two cursors and the diff view go to <build>/web-screenshots.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startAiServer, aiConfig } from '../../../tests/e2e/ai-helpers.js';
import { client, request } from '../../../tests/e2e/collab-helpers.js';
import { freePort, tmpDir } from '../../../tests/e2e/helpers/hub.js';
import {
  EVENT_TIMEOUT_MS, createPrd, editorText, launch, openAs, openEditor, restPrd, screenshot,
  startHub, token, waitForState, waitForText, waitUntil,
} from './browser.js';

const ANN = { sub: 'user_ann', name: 'Ann Archer', org: 'org_web', role: 'editor' };
const BOB = { sub: 'user_bob', name: 'Bob Builder', org: 'org_web', role: 'editor' };

let ai;
let hub;
let browser;
let prdId;
let ann;
let bob;

before(async () => {
  ai = await startAiServer();
  hub = await startHub({ config: aiConfig(ai) });
  browser = await launch();
  const prd = await createPrd(hub, token(ANN), 'Checkout redesign', '# Checkout redesign\n\nGoals.\n');
  prdId = prd.id;
});

after(async () => {
  await browser?.close();
  await ai?.stop();
  // A clean exit (under ASan: no leak, no error).
  const res = await hub.stop();
  assert.deepEqual(res, { code: 0, signal: null }, hub.stderr());
});

async function converged(what) {
  const jwt = token(ANN);
  await waitUntil(async () => {
    const [a, b] = await Promise.all([editorText(ann.page), editorText(bob.page)]);
    if (a !== b) return false;
    const rest = await restPrd(hub, jwt, prdId);
    return rest.content === a;
  }, `${what}: both editors and GET /api/prds/{id} equal`);
  return editorText(ann.page);
}

test('the list shows the PRD; the token leaves the address bar', async () => {
  const s = await openAs(browser, hub, ANN);
  await s.page.waitForSelector(`tr[data-prd-id="${prdId}"]`, { timeout: EVENT_TIMEOUT_MS });
  assert.equal(new URL(s.page.url()).hash, '', 'the #token fragment is removed');
  assert.equal(await s.page.evaluate(() => sessionStorage.getItem('prdhub-token')), s.jwt);
  assert.match(await s.page.textContent(`tr[data-prd-id="${prdId}"] th a`), /Checkout redesign/);
  assert.deepEqual(s.problems, []);
  await s.context.close();
});

test('two users type at once and converge with each other and the hub', async () => {
  ann = await openEditor(browser, hub, ANN, prdId);
  bob = await openEditor(browser, hub, BOB, prdId);
  await ann.page.click('.cm-content');
  await ann.page.keyboard.press('Control+End');
  await bob.page.click('.cm-content');
  await bob.page.keyboard.press('Control+Home');
  await Promise.all([
    ann.page.keyboard.type('Ann writes the end. '),
    bob.page.keyboard.type('Bob writes the start. '),
  ]);
  const text = await converged('concurrent typing');
  assert.ok(text.includes('Ann writes the end. '), text);
  assert.ok(text.startsWith('Bob writes the start. '), text);
  await waitForState(ann.page, 'online');
  await waitForState(bob.page, 'online');
});

test('the other user\'s cursor shows with their name', async () => {
  // Bob selects the first word; Ann sees his selection and his name.
  await bob.page.keyboard.press('Control+Home');
  await bob.page.keyboard.press('Shift+Control+ArrowRight');
  await ann.page.waitForSelector('.cm-remote-cursor-label:has-text("Bob Builder")', { timeout: EVENT_TIMEOUT_MS });
  await ann.page.waitForSelector('.cm-remote-selection', { timeout: EVENT_TIMEOUT_MS });
  await bob.page.waitForSelector('.cm-remote-cursor-label:has-text("Ann Archer")', { timeout: EVENT_TIMEOUT_MS });
  const presence = await ann.page.textContent('.presence');
  assert.match(presence, /Bob Builder/);
  // The PRD list says who is in it now.
  const list = await openAs(browser, hub, ANN);
  const who = await list.page.waitForSelector(`tr[data-prd-id="${prdId}"] .who:has-text("Bob Builder")`, { timeout: EVENT_TIMEOUT_MS });
  assert.match(await who.textContent(), /Ann Archer/);
  await screenshot(list.page, 'web-list.png');
  await list.context.close();
  await screenshot(ann.page, 'web-editor-two-cursors.png');
});

test('a comment added by one appears in the other', async () => {
  await ann.page.click('.cm-content');
  await ann.page.keyboard.press('Control+End');
  await ann.page.keyboard.press('Shift+Home');
  await ann.page.click('[role="tab"][data-tab="comments"]');
  await ann.page.fill('.comments textarea >> nth=0', 'Should this mention mobile?');
  await ann.page.click('.comments button[type="submit"] >> text=Add comment');
  const card = await bob.page.waitForSelector('.comment:has-text("Should this mention mobile?")', { timeout: EVENT_TIMEOUT_MS });
  assert.match(await card.textContent(), /Ann Archer/);
  // The anchored text is highlighted in Bob's editor too, and the feed says so.
  await bob.page.waitForSelector('.cm-comment-range', { timeout: EVENT_TIMEOUT_MS });
  await bob.page.click('[role="tab"][data-tab="activity"]');
  await bob.page.waitForSelector('.activity-list li:has-text("Ann Archer commented on Checkout redesign")', { timeout: EVENT_TIMEOUT_MS });
  await bob.page.click('[role="tab"][data-tab="comments"]');
  // Bob replies; Ann sees it.
  await card.$eval('textarea', (el) => el.focus());
  await bob.page.keyboard.type('Yes, a section on it.');
  await (await card.$('button:has-text("Reply")')).click();
  await ann.page.waitForSelector('.comment .replies:has-text("Yes, a section on it.")', { timeout: EVENT_TIMEOUT_MS });
  // The reply notifies Ann: the bell counts it, and marking it read clears it.
  await ann.page.waitForSelector('button.bell[aria-label="Notifications, 1 unread"]', { timeout: EVENT_TIMEOUT_MS });
  await ann.page.click('button.bell');
  assert.match(await ann.page.textContent('#notification-panel'), /Bob Builder|repl/i);
  await ann.page.click('#notification-panel button:has-text("Mark all read")');
  await ann.page.waitForSelector('button.bell[aria-label="Notifications, 0 unread"]', { timeout: EVENT_TIMEOUT_MS });
  await ann.page.keyboard.press('Escape');
});

test('an AI answer streams into both editors', async () => {
  await ann.page.click('.cm-content');
  await ann.page.keyboard.press('Control+End');
  await ann.page.keyboard.type('\n');
  await ann.page.click('[role="tab"][data-tab="ai"]');
  await ann.page.fill('.ai textarea', 'scenario:stream then:suggestions Write an introduction');
  await ann.page.click('.ai button[type="submit"]');
  for (const s of [ann, bob]) await waitForText(s.page, 'Hello, world ✓');
  await bob.page.click('[role="tab"][data-tab="ai"]');
  for (const s of [ann, bob]) {
    await s.page.waitForSelector('.ai-output[data-state="complete"]', { timeout: EVENT_TIMEOUT_MS });
    assert.equal(await s.page.textContent('.ai-output'), 'Hello, world ✓');
  }
  // The follow-up suggestions come to the requester, with accept and reject.
  await ann.page.waitForSelector('.suggestion button:has-text("Accept")', { timeout: EVENT_TIMEOUT_MS });
  const text = await converged('after the AI answer');
  assert.equal(text.split('Hello, world ✓').length, 2, 'the answer is in the text once');
});

test('an AI preview is inserted on request; a running answer can be cancelled', async () => {
  await ann.page.click('.cm-content');
  await ann.page.keyboard.press('Control+End');
  await ann.page.click('[role="tab"][data-tab="ai"]');
  await ann.page.uncheck('.ai input[type="checkbox"]');
  await ann.page.fill('.ai textarea', 'scenario:stream Preview only');
  await ann.page.click('.ai button[type="submit"]');
  const insert = await ann.page.waitForSelector('.ai-actions button:has-text("Insert at cursor")', { timeout: EVENT_TIMEOUT_MS });
  assert.equal((await editorText(ann.page)).split('Hello, world ✓').length, 2, 'a preview writes nothing');
  await insert.click();
  await waitForText(bob.page, (t) => t.split('Hello, world ✓').length === 3, 'the inserted preview at Bob');
  await converged('after inserting the preview');
  // A gated answer waits after its first piece: cancel it.
  await ann.page.fill('.ai textarea', 'scenario:gated Take your time');
  await ann.page.click('.ai button[type="submit"]');
  await ann.page.waitForSelector('.ai-output[data-state="streaming"]:has-text("first")', { timeout: EVENT_TIMEOUT_MS });
  await ann.page.click('.ai button:has-text("Cancel")');
  await ann.page.waitForSelector('.ai-status:has-text("cancelled")', { timeout: EVENT_TIMEOUT_MS });
  assert.equal(await ann.page.getAttribute('.ai-output', 'data-state'), 'error');
  assert.equal(await ann.page.isDisabled('.ai button:has-text("Cancel")'), true);
  await ann.page.check('.ai input[type="checkbox"]');
});

test('offline in one, edits on both sides, back online: they converge', async () => {
  await bob.context.setOffline(true);
  await bob.page.click('button:has-text("Work offline")');
  await waitForState(bob.page, 'offline');
  await bob.page.click('.cm-content');
  await bob.page.keyboard.press('Control+Home');
  await bob.page.keyboard.type('[offline edit] ');
  // A comment is not sent offline (the hub would refuse it): the page says
  // so and keeps what was written.
  await bob.page.click('[role="tab"][data-tab="comments"]');
  await bob.page.fill('.comments textarea >> nth=0', 'Written offline');
  await bob.page.click('.comments button[type="submit"] >> text=Add comment');
  await bob.page.waitForSelector('text=Could not add the comment: offline', { timeout: EVENT_TIMEOUT_MS });
  assert.equal(await bob.page.inputValue('.comments textarea >> nth=0'), 'Written offline');
  await bob.page.fill('.comments textarea >> nth=0', '');
  await ann.page.click('.cm-content');
  await ann.page.keyboard.press('Control+End');
  await ann.page.keyboard.type(' [online edit]');
  await waitForState(ann.page, 'online');
  assert.match(await bob.page.textContent('#connection-state'), /Offline/);
  assert.ok(!(await editorText(bob.page)).includes('[online edit]'), 'the offline editor did not get the edit');
  await bob.context.setOffline(false);
  await bob.page.click('button:has-text("Go online")');
  const text = await converged('after reconnecting');
  assert.ok(text.includes('[offline edit] '), text);
  assert.ok(text.includes(' [online edit]'), text);
  await waitForState(bob.page, 'online');
});

test('two edits at one place: both see the conflict, one resolves it for both', async () => {
  await bob.page.click('button:has-text("Work offline")');
  await waitForState(bob.page, 'offline');
  await bob.page.click('.cm-content');
  await bob.page.keyboard.press('Control+Home');
  await bob.page.keyboard.type('B');
  await ann.page.click('.cm-content');
  await ann.page.keyboard.press('Control+Home');
  await ann.page.keyboard.type('A');
  await waitForState(ann.page, 'online');
  await bob.page.click('button:has-text("Go online")');
  await converged('the two edits');
  const annConflict = await ann.page.waitForSelector('.conflicts:not([hidden]) .conflict', { timeout: EVENT_TIMEOUT_MS });
  await bob.page.waitForSelector('.conflicts:not([hidden]) .conflict', { timeout: EVENT_TIMEOUT_MS });
  assert.match(await annConflict.textContent(), /Yours: A · Theirs: B/);
  await (await annConflict.$('button:has-text("Keep yours")')).click();
  await ann.page.waitForSelector('.conflicts[hidden]', { state: 'attached', timeout: EVENT_TIMEOUT_MS });
  await bob.page.waitForSelector('.conflicts[hidden]', { state: 'attached', timeout: EVENT_TIMEOUT_MS });
  const text = await converged('after the resolution');
  assert.ok(text.startsWith('A') && !text.startsWith('AB') && !text.startsWith('BA'), text.slice(0, 20));
});

test('versions: create two and compare them side by side', async () => {
  await ann.page.click('[role="tab"][data-tab="versions"]');
  await ann.page.fill('.versions textarea', 'First draft');
  await ann.page.click('.versions button:has-text("Create version")');
  await ann.page.waitForSelector('.version-list li[data-version="0.2.0"]', { timeout: EVENT_TIMEOUT_MS });
  await ann.page.click('.cm-content');
  await ann.page.keyboard.press('Control+End');
  await ann.page.keyboard.type('\n\n## Risks\n\nPayment provider outages.');
  await waitForState(ann.page, 'online');
  await ann.page.fill('.versions textarea', 'Risks added');
  await ann.page.click('.versions button:has-text("Create version")');
  await ann.page.waitForSelector('.version-list li[data-version="0.3.0"]', { timeout: EVENT_TIMEOUT_MS });
  // Bob's list follows through version-created.
  await bob.page.click('[role="tab"][data-tab="versions"]');
  await bob.page.waitForSelector('.version-list li[data-version="0.3.0"]', { timeout: EVENT_TIMEOUT_MS });
  await ann.page.selectOption('.compare select >> nth=0', '0.2.0');
  await ann.page.selectOption('.compare select >> nth=1', '0.3.0');
  await ann.page.click('button:has-text("Compare side by side")');
  const dialog = await ann.page.waitForSelector('dialog.diff-dialog table.diff', { timeout: EVENT_TIMEOUT_MS });
  assert.match(await dialog.$eval('td.ins >> nth=0', (el) => el.closest('tbody').textContent), /Payment provider outages\./);
  await screenshot(ann.page, 'web-diff.png');
  await ann.page.click('dialog.diff-dialog button:has-text("Close")');
});

test('a version created right after typing holds the typing', async () => {
  const id = (await createPrd(hub, token(ANN), 'Versioned', '# Versioned\n')).id;
  const a = await openEditor(browser, hub, ANN, id);
  try {
    await a.page.click('[role="tab"][data-tab="versions"]');
    // Typed, then "Create version" in the same moment: the edits are not
    // acknowledged yet when the page asks for the version.
    await a.page.evaluate(() => {
      const { view } = window.prdhubEditor;
      for (const ch of 'typed before the click') {
        const end = view.state.doc.length;
        view.dispatch({ changes: { from: end, insert: ch }, selection: { anchor: end + 1 }, userEvent: 'input.type' });
      }
      document.querySelector('.versions textarea').value = 'Right after typing';
      document.querySelector('form[aria-label="Create a version"]').requestSubmit();
    });
    await a.page.waitForSelector('.version-list li[data-version="0.2.0"]', { timeout: EVENT_TIMEOUT_MS });
    const res = await fetch(`${hub.url}/api/prds/${id}/versions/0.2.0`, { headers: { Authorization: `Bearer ${token(ANN)}` } });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '# Versioned\ntyped before the click');
    assert.match(await a.page.textContent('.versions .status'), /Version 0\.2\.0 created/);
    assert.deepEqual(a.problems, []);
  } finally {
    await a.context.close();
  }
});

test('leaving the page with unsent edits asks first; staying keeps them', async () => {
  await bob.page.click('button:has-text("Work offline")');
  await waitForState(bob.page, 'offline');
  await bob.page.click('.cm-content');
  await bob.page.keyboard.press('Control+Home');
  await bob.page.keyboard.type('[kept] ');
  const asked = bob.page.waitForEvent('dialog', { timeout: EVENT_TIMEOUT_MS });
  // Not awaited: a reload the user cancels never completes.
  bob.page.evaluate(() => window.location.reload()).catch(() => {});
  const dialog = await asked;
  assert.equal(dialog.type(), 'beforeunload');
  await dialog.dismiss();
  assert.ok((await editorText(bob.page)).startsWith('[kept] '));
  await bob.page.click('button:has-text("Go online")');
  const text = await converged('after staying');
  assert.ok(text.startsWith('[kept] '), text);
  // Everything acknowledged: leaving asks nothing.
  await waitForState(bob.page, 'online');
  const dialogs = [];
  const record = (d) => { dialogs.push(d.type()); d.accept(); };
  bob.page.on('dialog', record);
  await bob.page.reload();
  await bob.page.waitForSelector('.cm-content', { timeout: EVENT_TIMEOUT_MS });
  await waitForState(bob.page, 'online');
  bob.page.off('dialog', record);
  assert.deepEqual(dialogs, []);
});

test('edits typed offline while the PRD was archived: unarchiving sends them, with no reload', async () => {
  const archive = (archived) => fetch(`${hub.url}/api/prds/${prdId}`, {
    method: 'PATCH',
    headers: { Authorization: `Bearer ${token(ANN)}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ archived }),
  }).then((res) => assert.equal(res.status, 200));
  await bob.page.click('button:has-text("Work offline")');
  await waitForState(bob.page, 'offline');
  await bob.page.click('.cm-content');
  await bob.page.keyboard.press('Control+Home');
  await bob.page.keyboard.type('[while archived] ');
  await archive(true);
  await bob.page.evaluate(() => { window.samePage = true; });
  await bob.page.click('button:has-text("Go online")');
  // Joined read-only; the edit waits.
  await bob.page.waitForSelector('.cm-content[contenteditable="false"]', { timeout: EVENT_TIMEOUT_MS });
  await archive(false);
  await bob.page.waitForSelector('.cm-content[contenteditable="true"]', { timeout: EVENT_TIMEOUT_MS });
  const text = await converged('after unarchiving');
  assert.ok(text.startsWith('[while archived] '), text);
  assert.equal(await bob.page.evaluate(() => window.samePage), true, 'the page was not reloaded');
});

test('the hub restarts, then is killed: the page says so while it lasts, and not once back online', async () => {
  // A hub of its own, started again on the same port and data.
  const dataDir = tmpDir('prdhub-web-restart-');
  const args = ['--data-dir', dataDir, '--listen', `127.0.0.1:${await freePort()}`];
  let own = await startHub({ args });
  const id = (await createPrd(own, token(ANN), 'Restarts', '# Restarts\n')).id;
  const s = await openEditor(browser, own, ANN, id);
  const messages = () => s.page.textContent('.editor-layout > .status[role="status"]');
  try {
    await s.page.click('.cm-content');
    await s.page.keyboard.press('Control+End');
    await s.page.keyboard.type('before ');
    await waitForState(s.page, 'online');
    // SIGTERM: the hub's server-shutdown is shown.
    assert.deepEqual(await own.stop(), { code: 0, signal: null });
    await s.page.waitForSelector('.status[role="status"]:has-text("The hub is restarting")', { timeout: EVENT_TIMEOUT_MS });
    await waitForState(s.page, 'offline');
    await s.page.keyboard.type('while-restarting ');
    own = await startHub({ args });
    await waitForState(s.page, 'online');
    assert.doesNotMatch(await messages(), /restarting|CONNECT_ERROR/);
    // SIGKILL (no server-shutdown): the connection error shows while the hub
    // is away, and goes once the page is joined again.
    own.proc.kill('SIGKILL');
    await own.stop();
    await s.page.waitForSelector('.status.error:has-text("CONNECT_ERROR")', { timeout: EVENT_TIMEOUT_MS });
    await s.page.keyboard.type('while-killed');
    own = await startHub({ args });
    await waitForState(s.page, 'online');
    assert.doesNotMatch(await messages(), /CONNECT_ERROR/);
    assert.equal(await s.page.$('.editor-layout > .status.error'), null);
    await waitUntil(async () => (await restPrd(own, token(ANN), id)).content === '# Restarts\nbefore while-restarting while-killed',
      'every edit at the restarted hub');
    // Only the failed connections while the hub was away are logged.
    assert.deepEqual(s.problems.filter((p) => !/WebSocket connection to|net::ERR_CONNECTION_REFUSED/.test(p)), []);
  } finally {
    await s.context.close();
    await own.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a refused rejoin the editor retries is said while it lasts, and not once joined', async () => {
  // One open PRD at a time: while Bob (a script) holds another, Ann's
  // rejoin is refused LIMIT_REACHED, and the SDK tries it again.
  const own = await startHub({ config: '[collab]\nmax-open-rooms = 1\nempty-room-grace = 0\n' });
  const id = (await createPrd(own, token(ANN), 'Refused', '# Refused\n')).id;
  const other = (await createPrd(own, token(BOB), 'Other', '# Other\n')).id;
  const s = await openEditor(browser, own, ANN, id);
  const messages = () => s.page.textContent('.editor-layout > .status[role="status"]');
  let script;
  try {
    await s.page.click('button:has-text("Work offline")');
    await waitForState(s.page, 'offline');
    script = await client(own, BOB);
    // Ann's PRD closes once she has left it: then Bob's opens.
    await waitUntil(async () => !(await request(script, 'join-prd', { prdId: other, mode: 'edit' })).error,
      'Bob joins the other PRD');
    await s.page.click('button:has-text("Go online")');
    await s.page.waitForSelector('.editor-layout > .status.error:has-text("LIMIT_REACHED")', { timeout: EVENT_TIMEOUT_MS });
    assert.equal(await s.page.getAttribute('#connection-state', 'data-state'), 'offline');
    assert.equal((await request(script, 'leave-prd', { prdId: other })).error, undefined);
    await waitForState(s.page, 'online');
    assert.doesNotMatch(await messages(), /LIMIT_REACHED/);
    assert.equal(await s.page.$('.editor-layout > .status.error'), null);
  } finally {
    script?.close();
    await s.context.close();
    await own.stop();
  }
});

test('a comment whose text is deleted shows "text deleted" at once, as in a tab opened later', async () => {
  const id = (await createPrd(hub, token(ANN), 'Detached', '# Detached\n\nalpha beta gamma\n')).id;
  const a = await openEditor(browser, hub, ANN, id);
  const b = await openEditor(browser, hub, BOB, id);
  try {
    await a.page.evaluate(() => {
      const v = window.prdhubEditor.view;
      const at = v.state.doc.toString().indexOf('gamma');
      v.dispatch({ selection: { anchor: at, head: at + 5 } });
    });
    await a.page.click('[role="tab"][data-tab="comments"]');
    await a.page.fill('.comments textarea >> nth=0', 'Is gamma needed?');
    await a.page.click('.comments button[type="submit"] >> text=Add comment');
    await b.page.click('[role="tab"][data-tab="comments"]');
    const card = '.comment:has-text("Is gamma needed?")';
    await b.page.waitForSelector(`${card} blockquote:has-text("gamma")`, { timeout: EVENT_TIMEOUT_MS });
    // Bob deletes the selected text: both open tabs show the badge and no
    // quote, as a tab opened afterwards does.
    await b.page.evaluate(() => {
      const v = window.prdhubEditor.view;
      const at = v.state.doc.toString().indexOf('gamma');
      v.dispatch({ changes: { from: at, to: at + 5 } });
    });
    for (const p of [b.page, a.page]) {
      await p.waitForSelector(`${card} header .badge:has-text("text deleted")`, { timeout: EVENT_TIMEOUT_MS });
      assert.equal(await p.$(`${card} blockquote`), null);
    }
    const later = await openEditor(browser, hub, ANN, id);
    try {
      await later.page.click('[role="tab"][data-tab="comments"]');
      await later.page.waitForSelector(`${card} header .badge:has-text("text deleted")`, { timeout: EVENT_TIMEOUT_MS });
      assert.equal(await later.page.$(`${card} blockquote`), null);
    } finally {
      await later.context.close();
    }
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('a WebSocket that always fails: the editor connects over polling', async () => {
  const id = (await createPrd(hub, token(ANN), 'No WebSocket', '# No WebSocket\n\nover polling\n')).id;
  const context = await browser.newContext();
  // A proxy that passes no upgrade: every WebSocket handshake fails, as the
  // browser reports it (an error, then an unclean close). Playwright's
  // routeWebSocket can only close an opened one, which engine.io does not
  // take for a failed transport.
  await context.addInitScript(() => {
    window.WebSocket = class extends EventTarget {
      constructor(url) {
        super();
        this.url = String(url);
        this.readyState = 0;
        setTimeout(() => {
          this.readyState = 3;
          this.onerror?.(new Event('error'));
          this.onclose?.(Object.assign(new Event('close'), { code: 1006, reason: '', wasClean: false }));
        }, 0);
      }

      send() { throw new Error('not open'); }

      close() {}
    };
  });
  try {
    const page = await context.newPage();
    await page.goto(`${hub.url}/prds/${id}#token=${token(ANN)}`);
    const first = await page.waitForSelector('#signin-confirm, #token-input', { timeout: EVENT_TIMEOUT_MS });
    if (await first.getAttribute('id') === 'signin-confirm') {
      await Promise.all([page.waitForEvent('load', { timeout: EVENT_TIMEOUT_MS }), first.click()]);
    }
    await waitForState(page, 'online');
    assert.equal(await editorText(page), '# No WebSocket\n\nover polling\n');
    assert.equal(await page.evaluate(() => window.prdhubEditor.client.socket.io.engine.transport.name), 'polling');
    // Typing goes through too.
    await page.click('.cm-content');
    await page.keyboard.press('Control+End');
    await page.keyboard.type('typed');
    await waitUntil(async () => (await restPrd(hub, token(ANN), id)).content === '# No WebSocket\n\nover polling\ntyped',
      'the typing at the hub');
  } finally {
    await context.close();
  }
});

test('an input-method composition next to another user\'s typing is written once', async () => {
  // Bob composes とうきょう kana by kana (Chromium's IME through CDP) at the
  // end of the text while Ann types "a" at the same place after each kana.
  const id = (await createPrd(hub, token(ANN), 'Composition', 'Notes:\n')).id;
  const a = await openEditor(browser, hub, ANN, id);
  const b = await openEditor(browser, hub, BOB, id);
  const clientText = (page) => page.evaluate(() => window.prdhubEditor.client.text);
  try {
    const cdp = await b.context.newCDPSession(b.page);
    for (const s of [b, a]) {
      await s.page.click('.cm-content');
      await s.page.keyboard.press('Control+End');
    }
    const word = 'とうきょう';
    let part = '';
    for (const kana of word) {
      part += kana;
      await cdp.send('Input.imeSetComposition', { text: part, selectionStart: part.length, selectionEnd: part.length });
      // Ann sees the composition so far, types after it, and Bob's page
      // gets her letter while he is still composing.
      await waitForText(a.page, (t) => t.endsWith(part), `Ann sees ${part}`);
      await a.page.keyboard.type('a');
      const n = part.length;
      await waitUntil(async () => (await clientText(b.page)).split('a').length - 1 === n, `Bob's page has Ann's letter ${n}`);
    }
    await cdp.send('Input.insertText', { text: word });
    const jwt = token(ANN);
    await waitUntil(async () => {
      const [ta, tb, rest] = await Promise.all([editorText(a.page), editorText(b.page), restPrd(hub, jwt, id)]);
      return ta === tb && tb === rest.content && rest.content.includes(word);
    }, 'both editors and the hub agree on the composed word');
    const text = (await restPrd(hub, jwt, id)).content;
    assert.equal(text.split('a').length - 1, 5, text);
    assert.equal(text.replaceAll('a', ''), `Notes:\n${word}`, 'the word once, no stray fragments');
    assert.deepEqual([...a.problems, ...b.problems], []);
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('no console errors, CSP violations or external requests', () => {
  assert.deepEqual(ann.problems, []);
  // Bob's offline spell may log failed requests; nothing else.
  assert.deepEqual(bob.problems.filter((p) => !/ERR_INTERNET_DISCONNECTED|net::/.test(p)), []);
});

test('a comment added while a tab holds unsent edits before it is highlighted on its text there', async () => {
  const id = (await createPrd(hub, token(ANN), 'Anchors', 'Intro line\nSome words TARGET more words\n')).id;
  const a = await openEditor(browser, hub, ANN, id);
  const b = await openEditor(browser, hub, BOB, id);
  // The text of the comment highlights (without the remote cursors' labels).
  const highlighted = (p) => p.evaluate(() => [...document.querySelectorAll('.cm-comment-range')].map((el) => {
    const c = el.cloneNode(true);
    for (const label of c.querySelectorAll('.cm-remote-cursor-label')) label.remove();
    return c.textContent;
  }).join(''));
  try {
    // Bob types offline at the start; Ann comments on TARGET meanwhile: the
    // hub's offsets are in a text without Bob's ten characters.
    await b.page.click('button:has-text("Work offline")');
    await waitForState(b.page, 'offline');
    await b.page.evaluate(() => window.prdhubEditor.view.dispatch({ changes: { from: 0, insert: '0123456789' }, userEvent: 'input.type' }));
    await a.page.evaluate(() => {
      const v = window.prdhubEditor.view;
      const at = v.state.doc.toString().indexOf('TARGET');
      v.dispatch({ selection: { anchor: at, head: at + 6 } });
    });
    await a.page.click('[role="tab"][data-tab="comments"]');
    await a.page.fill('.comments textarea >> nth=0', 'About the target');
    await a.page.click('.comments button[type="submit"] >> text=Add comment');
    const card = '.comment:has-text("About the target")';
    await a.page.waitForSelector(card, { timeout: EVENT_TIMEOUT_MS });
    await b.page.click('button:has-text("Go online")');
    await b.page.waitForSelector(card, { timeout: EVENT_TIMEOUT_MS });
    await b.page.waitForSelector('.cm-comment-range', { timeout: EVENT_TIMEOUT_MS });
    assert.equal(await highlighted(b.page), 'TARGET');
    await b.page.click('[role="tab"][data-tab="comments"]');
    await b.page.click(`${card} button:has-text("Show in text")`);
    assert.equal(await b.page.evaluate(() => {
      const v = window.prdhubEditor.view;
      const s = v.state.selection.main;
      return v.state.sliceDoc(s.from, s.to);
    }), 'TARGET');
    await waitForState(b.page, 'online');
    await waitUntil(async () => (await editorText(a.page)) === (await editorText(b.page)), 'both tabs have Bob\'s edit');
    // Deleting the words before the comment (those the hub's offsets would
    // name in Bob's text) leaves it attached, in Bob's tab as at the hub.
    await b.page.evaluate(() => {
      const v = window.prdhubEditor.view;
      const at = v.state.doc.toString().indexOf('Some words ');
      v.dispatch({ changes: { from: at, to: at + 11 }, userEvent: 'delete' });
    });
    assert.equal(await b.page.$(`${card} header .badge:has-text("text deleted")`), null);
    await waitForState(b.page, 'online');
    await waitUntil(async () => (await editorText(a.page)) === (await editorText(b.page)), 'both tabs have the delete');
    await waitUntil(async () => (await highlighted(b.page)) !== '' && (await highlighted(a.page)) !== '', 'highlights');
    assert.equal(await highlighted(b.page), 'TARGET');
    assert.equal(await highlighted(a.page), 'TARGET');
    assert.equal(await b.page.$(`${card} header .badge:has-text("text deleted")`), null);
  } finally {
    await a.context.close();
    await b.context.close();
  }
});
