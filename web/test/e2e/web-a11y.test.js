// SPDX-License-Identifier: GPL-3.0-or-later
//
// The web editor's accessibility in real Chromium: keyboard focus on the
// PRD list survives its 15 s refresh and its own rename, archive, unarchive
// and delete.

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
