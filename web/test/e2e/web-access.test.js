// SPDX-License-Identifier: GPL-3.0-or-later
//
// The web editor in real Chromium, signing in and roles: a viewer sees the
// text but cannot type; a pasted token signs in; a link asks before it
// signs in, and a sign-in link works once; an expired token sends the
// user back to the sign-in form with the reason, while an open editor whose
// token expires or is revoked stays, read-only, until a fresh token pasted
// in place sends every edit; a PRD of another organization is not opened; the PRD list creates and imports PRDs; the
// keyboard reaches the editor and the side panels' tabs.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { PRDHUB_BIN, START_TIMEOUT_MS, now } from '../../../tests/e2e/helpers/hub.js';
import {
  EVENT_TIMEOUT_MS, createPrd, editorText, launch, openAs, openEditor, restPrd, startHub, token,
  waitForState, waitUntil,
} from './browser.js';

const EDITOR = { sub: 'user_eve', name: 'Eve Editor', org: 'org_acc', role: 'editor' };
const VIEWER = { sub: 'user_vic', name: 'Vic Viewer', org: 'org_acc', role: 'viewer' };
const OUTSIDER = { sub: 'user_oz', name: 'Oz Outsider', org: 'org_other', role: 'editor' };

let hub;
let browser;
let prdId;

before(async () => {
  hub = await startHub();
  browser = await launch();
  prdId = (await createPrd(hub, token(EDITOR), 'Access rules', '# Access rules\n\nOnly editors write.\n')).id;
});

after(async () => {
  await browser?.close();
  // A clean exit (under ASan: no leak, no error).
  const res = await hub.stop();
  assert.deepEqual(res, { code: 0, signal: null }, hub.stderr());
});

test('a viewer sees the text and others\' edits but cannot type', async () => {
  const vic = await openEditor(browser, hub, VIEWER, prdId);
  const eve = await openEditor(browser, hub, EDITOR, prdId);
  assert.equal(await vic.page.isVisible('#view-only'), true);
  assert.equal(await vic.page.isVisible('#archived'), false);
  assert.equal(await vic.page.getAttribute('.cm-content', 'contenteditable'), 'false');
  const before = await editorText(vic.page);
  await vic.page.click('.cm-content');
  await vic.page.keyboard.type('viewer typing');
  await vic.page.keyboard.press('Backspace');
  assert.equal(await editorText(vic.page), before);
  // The editor's edit reaches the viewer; the hub has no viewer text.
  await eve.page.click('.cm-content');
  await eve.page.keyboard.press('Control+End');
  await eve.page.keyboard.type('Editors agree.');
  await waitUntil(async () => (await editorText(vic.page)).endsWith('Editors agree.'), 'the edit at the viewer');
  const rest = await restPrd(hub, token(EDITOR), prdId);
  assert.ok(!rest.content.includes('viewer typing'));
  assert.equal(rest.content, await editorText(vic.page));
  // Viewers may not create versions: no form; they may not ask the AI to write.
  await vic.page.click('[role="tab"][data-tab="versions"]');
  assert.equal(await vic.page.$('.versions textarea'), null);
  await vic.page.click('[role="tab"][data-tab="ai"]');
  assert.equal(await vic.page.isChecked('.ai input[type="checkbox"]'), false);
  assert.equal(await vic.page.isDisabled('.ai input[type="checkbox"]'), true);
  assert.deepEqual(vic.problems, []);
  await vic.context.close();
  await eve.context.close();
});

test('without an AI provider the AI panel says so', async () => {
  const s = await openEditor(browser, hub, EDITOR, prdId);
  await s.page.click('[role="tab"][data-tab="ai"]');
  await s.page.fill('.ai textarea', 'Summarise the rules');
  await s.page.click('.ai button[type="submit"]');
  await s.page.waitForSelector('.ai-status.error:has-text("not configured")', { timeout: EVENT_TIMEOUT_MS });
  await s.context.close();
});

test('a pasted token signs in; the session survives a reload', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${hub.url}/`);
  await page.waitForSelector('#token-input', { timeout: EVENT_TIMEOUT_MS });
  await page.fill('#token-input', 'not a token');
  await page.click('button:has-text("Sign in")');
  assert.match(await page.textContent('.signin [role="alert"]'), /not a token/);
  await page.fill('#token-input', token(EDITOR));
  await page.click('button:has-text("Sign in")');
  await page.waitForSelector(`tr[data-prd-id="${prdId}"]`, { timeout: EVENT_TIMEOUT_MS });
  await page.reload();
  await page.waitForSelector(`tr[data-prd-id="${prdId}"]`, { timeout: EVENT_TIMEOUT_MS });
  await page.click('button:has-text("Sign out")');
  await page.waitForSelector('#token-input', { timeout: EVENT_TIMEOUT_MS });
  await context.close();
});

test('an expired token goes back to the sign-in form with the reason', async () => {
  const expired = token({ ...EDITOR, exp: Math.floor(Date.now() / 1000) - 60 });
  const s = await openAs(browser, hub, expired, { path: `/prds/${prdId}` });
  await s.page.waitForSelector('#token-input', { timeout: EVENT_TIMEOUT_MS });
  assert.match(await s.page.textContent('.signin [role="alert"]'), /expired/);
  assert.equal(new URL(s.page.url()).hash, '');
  await s.context.close();
});

test('a token that expires while typing: the editor stays, read-only, and a fresh token sends every edit', async () => {
  const id = (await createPrd(hub, token(EDITOR), 'Expiry', '# Expiry\n')).id;
  // The token must outlive the page's opening, whatever the build's speed
  // (sanitizers, a loaded machine): when it did not, open again with one
  // that lives twice as long.
  let exp;
  let s;
  for (let lifetime = 10; ; lifetime *= 2) {
    assert.ok(lifetime <= 160, 'the editor opened before its token expired');
    exp = now() + lifetime;
    try {
      s = await openEditor(browser, hub, { ...EDITOR, exp }, id);
    } catch {
      continue;
    }
    if (now() < exp - 5) break;
    await s.context.close();
  }
  await s.page.evaluate(() => { window.samePage = true; });
  await s.page.click('.cm-content');
  await s.page.keyboard.press('Control+End');
  // Type word after word until the page says the session ended (the hub
  // ends the connection at exp).
  let typed = '';
  const deadline = exp * 1000 + EVENT_TIMEOUT_MS;
  for (let i = 0; !(await s.page.isVisible('#token-renewal')); i++) {
    assert.ok(Date.now() < deadline, 'the page says the token expired');
    await s.page.keyboard.type(`w${i} `);
    typed += `w${i} `;
  }
  assert.match(await s.page.textContent('#token-renewal'), /Your token has expired/);
  assert.match(await s.page.textContent('#token-renewal'),
    /Every edit made here reached the hub|\d+ edits? made here (is|are) not saved yet: paste a fresh token/);
  await waitForState(s.page, 'signed-out');
  // Read-only: nothing typed now goes into a session that cannot send it.
  assert.equal(await s.page.getAttribute('.cm-content', 'contenteditable'), 'false');
  const kept = await editorText(s.page);
  assert.ok(kept.length > '# Expiry\n'.length && `# Expiry\n${typed}`.startsWith(kept), kept);
  await s.page.click('.cm-content');
  await s.page.keyboard.type('ignored');
  assert.equal(await editorText(s.page), kept);
  // A token of someone else is refused in place and changes nothing.
  await s.page.fill('#token-renewal textarea', token(VIEWER));
  await s.page.click('#token-renewal button:has-text("Continue")');
  await s.page.waitForSelector('#token-renewal .status.error:has-text("That token is for Vic Viewer")', { timeout: EVENT_TIMEOUT_MS });
  assert.equal(await s.page.getAttribute('.cm-content', 'contenteditable'), 'false');
  // A fresh token of the same user: every edit reaches the hub, the editor
  // is editable again, and the tab keeps the fresh token.
  const fresh = token(EDITOR);
  await s.page.fill('#token-renewal textarea', fresh);
  await s.page.click('#token-renewal button:has-text("Continue")');
  await waitForState(s.page, 'online');
  await s.page.waitForSelector('#token-renewal', { state: 'hidden', timeout: EVENT_TIMEOUT_MS });
  await waitUntil(async () => (await restPrd(hub, token(EDITOR), id)).content === kept, 'every edit at the hub');
  await s.page.click('.cm-content');
  await s.page.keyboard.press('Control+End');
  await s.page.keyboard.type('after');
  await waitUntil(async () => (await restPrd(hub, token(EDITOR), id)).content === `${kept}after`, 'an edit with the fresh token');
  assert.equal(await s.page.evaluate(() => sessionStorage.getItem('prdhub-token')), fresh);
  assert.equal(await s.page.evaluate(() => window.samePage), true, 'the page was not left');
  assert.deepEqual(s.problems, []);
  await s.context.close();
});

test('revoked while offline: going online asks for a fresh token, says what waits, and sends it', async () => {
  const RITA = { sub: 'user_rita', name: 'Rita Revoked', org: 'org_acc', role: 'editor' };
  const id = (await createPrd(hub, token(EDITOR), 'Revoked', '# Revoked\n')).id;
  const s = await openEditor(browser, hub, { ...RITA, iat: now() - 10 }, id);
  await s.page.click('button:has-text("Work offline")');
  await waitForState(s.page, 'offline');
  await s.page.click('.cm-content');
  await s.page.keyboard.press('Control+End');
  await s.page.keyboard.type('[written offline] ');
  const res = spawnSync(PRDHUB_BIN, ['token', 'revoke', '--user', RITA.sub, '--org', RITA.org, '--data-dir', hub.dataDir],
    { encoding: 'utf8', timeout: START_TIMEOUT_MS });
  assert.equal(res.status, 0, res.stderr);
  // The hub reads the revocations every [auth] revocation-check-interval.
  await waitUntil(async () => (await fetch(`${hub.url}/api/prds`, { headers: { Authorization: `Bearer ${s.jwt}` } })).status === 401,
    'the revocation at the hub');
  await s.page.click('button:has-text("Go online")');
  await s.page.waitForSelector('#token-renewal:not([hidden])', { timeout: EVENT_TIMEOUT_MS });
  const panel = await s.page.textContent('#token-renewal');
  assert.match(panel, /Your token was revoked/);
  assert.match(panel, /\d+ edits? made here (is|are) not saved yet: paste a fresh token and (it is|they are) sent\. Leaving or reloading this page loses/);
  assert.match(await s.page.textContent('#connection-state'), /^Signed out · \d+ edits waiting$/);
  assert.equal(await s.page.getAttribute('.cm-content', 'contenteditable'), 'false');
  assert.equal(await s.page.isDisabled('button:has-text("Work offline")'), true);
  // Leaving asks first; staying keeps the edits.
  const asked = s.page.waitForEvent('dialog', { timeout: EVENT_TIMEOUT_MS });
  s.page.evaluate(() => window.location.reload()).catch(() => {});
  const dialog = await asked;
  assert.equal(dialog.type(), 'beforeunload');
  await dialog.dismiss();
  assert.ok((await editorText(s.page)).endsWith('[written offline] '));
  // A token issued after the revocation, pasted as a link.
  await s.page.fill('#token-renewal textarea', `${hub.url}/#token=${token({ ...RITA, iat: now() + 2 })}`);
  await s.page.click('#token-renewal button:has-text("Continue")');
  await waitForState(s.page, 'online');
  await waitUntil(async () => (await restPrd(hub, token(EDITOR), id)).content === '# Revoked\n[written offline] ',
    'the edit made offline at the hub');
  assert.equal(await s.page.getAttribute('.cm-content', 'contenteditable'), 'true');
  assert.deepEqual(s.problems, []);
  await s.context.close();
});

test('a sign-in link asks first, signs in once, and its token opens nothing else', async () => {
  const link = token({ ...EDITOR, sign_in_link: crypto.randomUUID() });
  const first = await browser.newContext();
  const page = await first.newPage();
  await page.goto(`${hub.url}/#token=${link}`);
  await page.waitForSelector('#signin-confirm', { timeout: EVENT_TIMEOUT_MS });
  assert.equal(new URL(page.url()).hash, '', 'the link leaves the address bar at once');
  assert.match(await page.textContent('.signin-who'), /Eve Editor \(user_eve\), editor in organization org_acc/);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('prdhub-token')), null, 'nothing signed in yet');
  await Promise.all([page.waitForEvent('load'), page.click('#signin-confirm')]);
  await page.waitForSelector(`tr[data-prd-id="${prdId}"]`, { timeout: EVENT_TIMEOUT_MS });
  // The session's token is the hub's, not the link's.
  const session = await page.evaluate(() => sessionStorage.getItem('prdhub-token'));
  assert.notEqual(session, link);
  assert.equal(JSON.parse(Buffer.from(session.split('.')[1], 'base64url')).sign_in_link, undefined);
  // The link's token, as a browser's history keeps it, opens nothing.
  const res = await fetch(`${hub.url}/api/prds`, { headers: { Authorization: `Bearer ${link}` } });
  assert.equal(res.status, 401);
  await first.close();
  // Nor does the link itself, a second time.
  const second = await browser.newContext();
  const again = await second.newPage();
  await again.goto(`${hub.url}/#token=${link}`);
  await again.click('#signin-confirm', { timeout: EVENT_TIMEOUT_MS });
  await again.waitForSelector('.signin [role="alert"]:has-text("used already")', { timeout: EVENT_TIMEOUT_MS });
  assert.equal(await again.evaluate(() => sessionStorage.getItem('prdhub-token')), null);
  // A link's token pasted into the form is traded the same way, once.
  const pasted = token({ ...EDITOR, sign_in_link: crypto.randomUUID() });
  await again.goto(`${hub.url}/`);
  await again.fill('#token-input', pasted, { timeout: EVENT_TIMEOUT_MS });
  await Promise.all([again.waitForEvent('load'), again.click('button:has-text("Sign in")')]);
  await again.waitForSelector(`tr[data-prd-id="${prdId}"]`, { timeout: EVENT_TIMEOUT_MS });
  assert.notEqual(await again.evaluate(() => sessionStorage.getItem('prdhub-token')), pasted);
  await second.close();
});

test('a link for someone else does not replace the session unless asked to', async () => {
  const s = await openAs(browser, hub, EDITOR);
  await s.page.waitForSelector(`tr[data-prd-id="${prdId}"]`, { timeout: EVENT_TIMEOUT_MS });
  const other = token(OUTSIDER);
  await s.page.goto(`${hub.url}/#token=${other}`);
  await s.page.waitForSelector('#signin-confirm', { timeout: EVENT_TIMEOUT_MS });
  assert.match(await s.page.textContent('.signin-current'), /signed in as Eve Editor \(user_eve\)/);
  assert.match(await s.page.textContent('.signin-who'), /Oz Outsider \(user_oz\), editor in organization org_other/);
  await Promise.all([s.page.waitForEvent('load'), s.page.click('#signin-cancel')]);
  await s.page.waitForSelector(`tr[data-prd-id="${prdId}"]`, { timeout: EVENT_TIMEOUT_MS });
  assert.equal(await s.page.evaluate(() => sessionStorage.getItem('prdhub-token')), s.jwt);
  // An unreadable or expired link neither asks nor ends the session.
  for (const bad of ['garbage', token({ ...OUTSIDER, exp: Math.floor(Date.now() / 1000) - 60 })]) {
    await s.page.goto(`${hub.url}/#token=${bad}`);
    await s.page.waitForSelector(`tr[data-prd-id="${prdId}"]`, { timeout: EVENT_TIMEOUT_MS });
    assert.equal(await s.page.evaluate(() => sessionStorage.getItem('prdhub-token')), s.jwt);
  }
  // Saying yes switches.
  await s.page.goto(`${hub.url}/#token=${other}`);
  await Promise.all([s.page.waitForEvent('load'), s.page.click('#signin-confirm')]);
  await s.page.waitForSelector('.me:has-text("Oz Outsider")', { timeout: EVENT_TIMEOUT_MS });
  assert.equal(await s.page.$(`tr[data-prd-id="${prdId}"]`), null);
  assert.deepEqual(s.problems, []);
  await s.context.close();
});

test('another organization\'s PRD does not open', async () => {
  const s = await openAs(browser, hub, OUTSIDER, { path: `/prds/${prdId}` });
  await s.page.waitForSelector('#connection-state[data-state="error"]', { timeout: EVENT_TIMEOUT_MS });
  assert.match(await s.page.textContent('.editor-layout .status'), /does not exist/);
  assert.equal(await s.page.$('.cm-content'), null);
  await s.context.close();
});

test('the list creates a PRD and imports a Markdown file', async () => {
  const s = await openAs(browser, hub, EDITOR);
  // Rename and archive (PATCH), delete (DELETE) show only if the hub has them.
  const probe = await fetch(`${hub.url}/api/prds/${prdId}`, { method: 'OPTIONS', headers: { Authorization: `Bearer ${token(EDITOR)}` } });
  const allow = (probe.headers.get('allow') ?? probe.headers.get('access-control-allow-methods') ?? '').toUpperCase();
  await s.page.waitForSelector(`tr[data-prd-id="${prdId}"]`, { timeout: EVENT_TIMEOUT_MS });
  const buttons = await s.page.$$eval(`tr[data-prd-id="${prdId}"] .actions button`, (bs) => bs.map((b) => b.textContent));
  const expected = [...(allow.includes('PATCH') ? ['Rename', 'Archive'] : []), ...(allow.includes('DELETE') ? ['Delete'] : [])];
  assert.deepEqual(buttons, expected);
  await s.page.fill('input[name="title"]', 'Made in the browser');
  await s.page.click('button:has-text("Create")');
  await s.page.waitForURL(/\/prds\/prd_/, { timeout: EVENT_TIMEOUT_MS });
  await s.page.waitForSelector('.cm-content', { timeout: EVENT_TIMEOUT_MS });
  assert.equal(await s.page.textContent('.prd-title'), 'Made in the browser');
  await s.page.click('a:has-text("All PRDs")');
  await s.page.setInputFiles('input[type="file"]', {
    name: 'search.md', mimeType: 'text/markdown', buffer: Buffer.from('# Search revamp\n\nFaster results.\n'),
  });
  await s.page.waitForURL(/\/prds\/prd_/, { timeout: EVENT_TIMEOUT_MS });
  await waitForState(s.page, 'online');
  assert.equal(await s.page.textContent('.prd-title'), 'Search revamp');
  assert.equal(await editorText(s.page), '# Search revamp\n\nFaster results.\n');
  assert.deepEqual(s.problems, []);
  await s.context.close();
});

test('rename, archive and delete from the list; an open editor follows', async () => {
  const owner = token(EDITOR);
  const id = (await createPrd(hub, owner, 'Old name', 'Body.\n')).id;
  const list = await openAs(browser, hub, EDITOR);
  const open = await openEditor(browser, hub, EDITOR, id);
  const row = `tr[data-prd-id="${id}"]`;
  await list.page.waitForSelector(row, { timeout: EVENT_TIMEOUT_MS });
  if (await list.page.$(`${row} button:has-text("Rename")`) === null) {
    // A hub without PATCH and DELETE /api/prds/{id}: the buttons are hidden (above).
    await list.context.close();
    await open.context.close();
    return;
  }
  list.page.once('dialog', (d) => d.accept('New name'));
  await list.page.click(`${row} button:has-text("Rename")`);
  await list.page.waitForSelector(`${row} th a:has-text("New name")`, { timeout: EVENT_TIMEOUT_MS });
  await open.page.waitForSelector('.prd-title:has-text("New name")', { timeout: EVENT_TIMEOUT_MS });

  await list.page.click(`${row} button:has-text("Archive")`);
  // Archived PRDs leave the default list; "Show archived" brings them back.
  await list.page.waitForSelector(row, { state: 'detached', timeout: EVENT_TIMEOUT_MS });
  await open.page.waitForSelector('#archived', { state: 'visible', timeout: EVENT_TIMEOUT_MS });
  assert.equal(await open.page.getAttribute('.cm-content', 'contenteditable'), 'false');
  await list.page.check('text=Show archived PRDs');
  await list.page.waitForSelector(`${row}.archived`, { timeout: EVENT_TIMEOUT_MS });
  await list.page.click(`${row} button:has-text("Unarchive")`);
  await open.page.waitForSelector('#archived', { state: 'hidden', timeout: EVENT_TIMEOUT_MS });
  await waitForState(open.page, 'online');
  await open.page.waitForSelector('.cm-content[contenteditable="true"]', { timeout: EVENT_TIMEOUT_MS });
  await open.page.click('.cm-content');
  await open.page.keyboard.press('Control+End');
  await open.page.keyboard.type('Editable again.');
  await waitUntil(async () => (await restPrd(hub, owner, id)).content === 'Body.\nEditable again.', 'the edit after unarchiving');

  // A second editor is offline with an edit when the PRD is deleted.
  const away = await openEditor(browser, hub, EDITOR, id);
  await away.page.click('button:has-text("Work offline")');
  await waitForState(away.page, 'offline');
  await away.page.click('.cm-content');
  await away.page.keyboard.type('Never sent. ');

  list.page.once('dialog', (d) => d.accept());
  await list.page.click(`${row} button:has-text("Delete")`);
  await list.page.waitForSelector(row, { state: 'detached', timeout: EVENT_TIMEOUT_MS });
  await open.page.waitForSelector('#connection-state:has-text("Deleted")', { timeout: EVENT_TIMEOUT_MS });
  assert.equal(await open.page.getAttribute('.cm-content', 'contenteditable'), 'false');
  assert.match(await open.page.textContent('.status[role="status"]'), /deleted this PRD\./);
  // Back online, it learns the same, and says what could not be saved.
  await away.page.click('button:has-text("Go online")');
  await away.page.waitForSelector('#connection-state:has-text("Deleted")', { timeout: EVENT_TIMEOUT_MS });
  assert.equal(await away.page.getAttribute('.cm-content', 'contenteditable'), 'false');
  assert.match(await away.page.textContent('.status[role="status"]'), /deleted this PRD\. 1 edits made here could not be saved\./);
  // The refused join is reported on the page, not thrown at it.
  assert.deepEqual(list.problems, []);
  assert.deepEqual(open.problems, []);
  assert.deepEqual(away.problems, []);
  await list.context.close();
  await open.context.close();
  await away.context.close();
});

test('keyboard: the tabs move with the arrow keys, Tab reaches the editor', async () => {
  const s = await openEditor(browser, hub, EDITOR, prdId, { viewport: { width: 1280, height: 720 } });
  await s.page.focus('[role="tab"][data-tab="comments"]');
  await s.page.keyboard.press('ArrowRight');
  assert.equal(await s.page.evaluate(() => document.activeElement.dataset.tab), 'ai');
  assert.equal(await s.page.getAttribute('[role="tab"][data-tab="ai"]', 'aria-selected'), 'true');
  assert.equal(await s.page.isVisible('.ai textarea'), true);
  await s.page.keyboard.press('End');
  assert.equal(await s.page.evaluate(() => document.activeElement.dataset.tab), 'activity');
  // From the preview switch, Tab goes on through the page to the editor.
  await s.page.focus('#connection-state ~ button');
  let reached = false;
  for (let i = 0; i < 12 && !reached; i++) {
    await s.page.keyboard.press('Tab');
    reached = await s.page.evaluate(() => document.activeElement?.classList.contains('cm-content'));
  }
  assert.ok(reached, 'Tab reaches the editor');
  // Every form control has a label.
  const unlabelled = await s.page.evaluate(() => [...document.querySelectorAll('input, textarea, select')]
    .filter((el) => el.type !== 'hidden' && !(el.labels?.length > 0) && !el.getAttribute('aria-label'))
    .map((el) => el.outerHTML.slice(0, 80)));
  assert.deepEqual(unlabelled, []);
  await s.context.close();
});
