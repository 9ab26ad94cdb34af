// SPDX-License-Identifier: GPL-3.0-or-later
//
// The web editor's accessibility in real Chromium: keyboard focus on the
// PRD list survives its 15 s refresh (the focused control is the same node
// when its row did not change) and its own rename, archive, unarchive
// and delete; at 320 px nothing scrolls sideways and the notification panel
// stays on screen; the editor's connection badge is no live region, is
// written only when its text changes, and one hidden status region says
// who joins and leaves, going offline and coming back.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EVENT_TIMEOUT_MS, createPrd, launch, openAs, openEditor, screenshot, startHub, token, waitForState, waitUntil,
} from './browser.js';

const ANN = { sub: 'user_ann', name: 'Ann Author', org: 'org_focus', role: 'editor' };
const SMALL = { sub: 'user_sam', name: 'Sam Small', org: 'org_small', role: 'editor' };
const EVE = { sub: 'user_eve', name: 'Eve Editor', org: 'org_live', role: 'editor' };
const BOB = { sub: 'user_bob', name: 'Bob Builder', org: 'org_live', role: 'editor' };

let hub;
let browser;

before(async () => {
  hub = await startHub();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  const res = await hub.stop();
  assert.deepEqual(res, { code: 0, signal: null }, hub.stderr());
});

// The focused element: its aria-label, else its text; "body" when none has focus.
function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return 'body';
    return el.getAttribute('aria-label') ?? (el.textContent.trim() || el.tagName.toLowerCase());
  });
}

test('keyboard focus stays on its control when the list is read again', async () => {
  const jwt = token(ANN);
  const first = await createPrd(hub, jwt, 'Focus first');
  const second = await createPrd(hub, jwt, 'Focus second');
  await createPrd(hub, jwt, 'Focus third');
  const s = await openAs(browser, hub, ANN, { clock: true });
  const row = (id) => `tr[data-prd-id="${id}"]`;
  await s.page.waitForSelector(`${row(first.id)} button:has-text("Archive")`, { timeout: EVENT_TIMEOUT_MS });

  // The 15 s refresh (a PRD made elsewhere shows that it has run).
  await s.page.focus(`${row(second.id)} button:has-text("Archive")`);
  const elsewhere = await createPrd(hub, jwt, 'Made elsewhere');
  await s.context.clock.fastForward(15000);
  await s.page.waitForSelector(row(elsewhere.id), { timeout: EVENT_TIMEOUT_MS });
  assert.equal(await focused(s.page), 'Archive Focus second');

  // Rename: focus stays on the row's Rename, wherever the row moves.
  s.page.once('dialog', (d) => d.accept('Focus second renamed'));
  await s.page.focus(`${row(second.id)} button:has-text("Rename")`);
  await s.page.keyboard.press('Enter');
  await s.page.waitForSelector(`${row(second.id)} th a:has-text("Focus second renamed")`, { timeout: EVENT_TIMEOUT_MS });
  assert.equal(await focused(s.page), 'Rename Focus second renamed');

  // With archived PRDs shown: Archive becomes Unarchive under the focus.
  await s.page.check('text=Show archived PRDs');
  await s.page.focus(`${row(first.id)} button:has-text("Archive")`);
  await s.page.keyboard.press('Enter');
  await s.page.waitForSelector(`${row(first.id)}.archived`, { timeout: EVENT_TIMEOUT_MS });
  assert.equal(await focused(s.page), 'Unarchive Focus first');
  await s.page.keyboard.press('Enter');
  await s.page.waitForSelector(`${row(first.id)}:not(.archived)`, { timeout: EVENT_TIMEOUT_MS });
  assert.equal(await focused(s.page), 'Archive Focus first');

  // Without them the archived row leaves: focus goes to the next row.
  await s.page.uncheck('text=Show archived PRDs');
  await s.page.waitForSelector(row(first.id), { timeout: EVENT_TIMEOUT_MS });
  const order = await s.page.$$eval('tr[data-prd-id]', (rs) => rs.map((r) => r.dataset.prdId));
  assert.ok(order.length >= 2, `rows: ${order}`);
  const nextTitle = await s.page.textContent(`${row(order[1])} th a`);
  const top = await s.page.textContent(`${row(order[0])} th a`);
  await s.page.focus(`${row(order[0])} button:has-text("Archive")`);
  await s.page.keyboard.press('Enter');
  await s.page.waitForSelector(row(order[0]), { state: 'detached', timeout: EVENT_TIMEOUT_MS });
  assert.match(await s.page.textContent('.list-main > .status'), new RegExp(`“${top}” is archived`));
  assert.equal(await focused(s.page), `Archive ${nextTitle}`);

  // Deleting the last row: focus goes to the status line, which says so.
  const last = (await s.page.$$eval('tr[data-prd-id]', (rs) => rs.map((r) => r.dataset.prdId))).at(-1);
  s.page.once('dialog', (d) => d.accept());
  await s.page.focus(`${row(last)} button:has-text("Delete")`);
  await s.page.keyboard.press('Enter');
  await s.page.waitForSelector(row(last), { state: 'detached', timeout: EVENT_TIMEOUT_MS });
  assert.equal(await s.page.evaluate(() => document.activeElement.matches('.list-main > .status')), true);
  assert.match(await s.page.textContent('.list-main > .status'), /is deleted/);
  assert.deepEqual(s.problems, []);
  await s.context.close();
});

// Elements of the page that reach past the viewport's right or left edge.
function outside(page) {
  return page.evaluate(() => {
    const w = document.documentElement.clientWidth;
    const out = [];
    for (const el of document.querySelectorAll('main *, header *')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || el.closest('.visually-hidden, [hidden], .skip-link, thead')) continue;
      if (r.right > w + 0.5 || r.left < -0.5) out.push(`${el.tagName.toLowerCase()}.${el.className} "${el.textContent.trim().slice(0, 30)}" ${Math.round(r.left)}..${Math.round(r.right)}`);
    }
    return { clientWidth: w, scrollWidth: document.documentElement.scrollWidth, out };
  });
}

test('at 320 px the list does not scroll sideways and the notifications stay on screen', async () => {
  const jwt = token(SMALL);
  await createPrd(hub, jwt, 'A rather long PRD title that has to wrap on a phone screen');
  await createPrd(hub, jwt, 'Short');
  const s = await openAs(browser, hub, SMALL, { viewport: { width: 320, height: 640 } });
  await s.page.waitForSelector('tr[data-prd-id] button:has-text("Delete")', { timeout: EVENT_TIMEOUT_MS });
  const list = await outside(s.page);
  await screenshot(s.page, 'web-list-320.png');
  assert.equal(list.scrollWidth, list.clientWidth, `the list scrolls sideways: ${JSON.stringify(list)}`);
  assert.deepEqual(list.out, []);
  // Every row's buttons can be seen and reached.
  for (const b of await s.page.$$('tr[data-prd-id] .actions button')) assert.equal(await b.isVisible(), true);

  await s.page.click('button.bell');
  await s.page.waitForSelector('#notification-panel:not([hidden])', { timeout: EVENT_TIMEOUT_MS });
  await screenshot(s.page, 'web-bell-320.png');
  const panel = await s.page.$eval('#notification-panel', (p) => {
    const r = p.getBoundingClientRect();
    return { left: r.left, right: r.right, width: document.documentElement.clientWidth };
  });
  assert.ok(panel.left >= 0 && panel.right <= panel.width, `the notification panel is cut off: ${JSON.stringify(panel)}`);
  assert.deepEqual(s.problems, []);
  await s.context.close();
});

test('the connection badge is written when it changes; joins, leaves and going offline are said', async () => {
  const prd = await createPrd(hub, token(EVE), 'Live announcements', '# Live\n');
  const eve = await openEditor(browser, hub, EVE, prd.id);
  const badge = await eve.page.$eval('#connection-state', (b) => ({ role: b.getAttribute('role'), live: b.getAttribute('aria-live') }));
  assert.deepEqual(badge, { role: null, live: null }, 'the badge is no live region');
  // Every text the badge is given, from now on.
  await eve.page.evaluate(() => {
    window.badgeWrites = [];
    new MutationObserver(() => window.badgeWrites.push(document.getElementById('connection-state').textContent))
      .observe(document.getElementById('connection-state'), { childList: true, characterData: true, subtree: true });
  });
  await eve.page.click('.cm-content');
  await eve.page.keyboard.press('Control+End');
  await eve.page.keyboard.type('Typed one key at a time.');
  await waitUntil(async () => await eve.page.textContent('#connection-state') === 'Online · saved' &&
    await eve.page.evaluate(() => window.prdhubEditor.client.pendingCount === 0), 'every edit saved');
  const writes = await eve.page.evaluate(() => window.badgeWrites);
  for (let i = 1; i < writes.length; i++) assert.notEqual(writes[i], writes[i - 1], `the same text written twice: ${writes}`);

  const region = '#editor-announcer';
  assert.equal(await eve.page.getAttribute(region, 'aria-live'), 'polite');
  const said = () => eve.page.textContent(region);
  const bob = await openEditor(browser, hub, BOB, prd.id);
  await waitUntil(async () => (await said()).includes('Bob Builder joined'), '"Bob Builder joined"');
  // Typing said nothing: only the join.
  assert.equal((await said()).trim(), 'Bob Builder joined');
  await bob.context.close();
  await waitUntil(async () => (await said()).includes('Bob Builder left'), '"Bob Builder left"');

  await eve.page.click('button:has-text("Work offline")');
  await waitForState(eve.page, 'offline');
  await waitUntil(async () => (await said()).startsWith('Offline'), 'the announcement of going offline');
  await eve.page.click('button:has-text("Go online")');
  await waitForState(eve.page, 'online');
  await waitUntil(async () => (await said()).startsWith('Back online'), 'the announcement of being back online');
  assert.deepEqual(eve.problems, []);
  await eve.context.close();
});

test('the list read again keeps the focused control itself: no new copy takes the focus', async () => {
  const jwt = token(ANN);
  await createPrd(hub, jwt, 'Same node first');
  const kept = await createPrd(hub, jwt, 'Same node second');
  const s = await openAs(browser, hub, ANN, { clock: true });
  const control = `tr[data-prd-id="${kept.id}"] button[data-action="rename"]`;
  await s.page.waitForSelector(control, { timeout: EVENT_TIMEOUT_MS });
  await s.page.focus(control);
  await s.page.evaluate(() => {
    window.focusedBefore = document.activeElement;
    window.focusins = 0;
    document.addEventListener('focusin', () => { window.focusins += 1; });
  });
  // A refresh with nothing changed, then one where another PRD is made
  // elsewhere (its row shows that the refreshes have run).
  const presence = () => s.page.waitForResponse((r) => r.url().includes('/api/presence'), { timeout: EVENT_TIMEOUT_MS });
  let answered = presence();
  await s.context.clock.fastForward(15000);
  await answered;
  const elsewhere = await createPrd(hub, jwt, 'Same node elsewhere');
  answered = presence();
  await s.context.clock.fastForward(15000);
  await answered;
  await s.page.waitForSelector(`tr[data-prd-id="${elsewhere.id}"]`, { timeout: EVENT_TIMEOUT_MS });
  assert.deepEqual(await s.page.evaluate(() => ({
    same: document.activeElement === window.focusedBefore,
    connected: window.focusedBefore.isConnected,
    focusins: window.focusins,
  })), { same: true, connected: true, focusins: 0 });
  assert.equal(await focused(s.page), 'Rename Same node second');
  assert.deepEqual(s.problems, []);
  await s.context.close();
});
