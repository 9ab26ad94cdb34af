// SPDX-License-Identifier: GPL-3.0-or-later
//
// Helpers of the web editor's browser tests: Debian's Chromium driven
// headless by playwright-core (never a downloaded browser), pages signed in
// with `#token=…` (and its confirmation), waits bounded by a timeout (they wait for a condition,
// they do not measure time), and the screenshots' folder.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { EVENT_TIMEOUT_MS, PRDHUB_BIN, token } from '../../../tests/e2e/helpers/hub.js';

export { startHub, token, claims, EVENT_TIMEOUT_MS } from '../../../tests/e2e/helpers/hub.js';

const here = path.dirname(fileURLToPath(import.meta.url));

export const CHROMIUM = process.env.PRDHUB_CHROMIUM ?? '/usr/bin/chromium';

// PRDHUB_BIN is <build>/src/hub/prdhub: screenshots go to <build>/web-screenshots.
export const SCREENSHOT_DIR = process.env.PRDHUB_WEB_SCREENSHOTS ??
  path.join(path.dirname(PRDHUB_BIN), '..', '..', 'web-screenshots');

export async function launch({ args: extra = [] } = {}) {
  const args = ['--disable-gpu', '--disable-dev-shm-usage', ...extra];
  // Chromium's sandbox refuses to run as root.
  if (process.getuid?.() === 0) args.push('--no-sandbox');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

/**
 * A new browser context (its own session storage: one user) on @path of
 * @hub, signed in as @who through the `#token=…` fragment. `problems`
 * collects console errors, page errors and any request that leaves the hub.
 * With `clock: true` the page's timers can be jumped ahead (context.clock).
 */
export async function openAs(browser, hub, who, { path: at = '/', viewport = { width: 1366, height: 820 }, clock = false } = {}) {
  const context = await browser.newContext({ viewport });
  // @clock: the page's timers are Playwright's (time runs, and
  // context.clock.fastForward() jumps ahead), installed before it loads.
  if (clock) await context.clock.install();
  const page = await context.newPage();
  const problems = [];
  const origin = new URL(hub.url).origin;
  page.on('console', (m) => {
    // The list asks OPTIONS /api/prds/{id} which methods the hub has (rename,
    // archive, delete); a hub without them answers 405, which Chromium logs.
    const probe = m.text().includes('405 (Method Not Allowed)') && /\/api\/prds\/prd_[^/]*$/.test(m.location()?.url ?? '');
    if (m.type() === 'error' && !probe) problems.push(`console: ${m.text()} (${m.location()?.url ?? ''})`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (req) => {
    const url = new URL(req.url());
    if (url.protocol !== 'data:' && url.origin !== origin) problems.push(`external request: ${req.url()}`);
  });
  page.on('websocket', (ws) => {
    const url = new URL(ws.url());
    if (url.host !== new URL(hub.url).host) problems.push(`external WebSocket: ${ws.url()}`);
  });
  const jwt = typeof who === 'string' ? who : token(who);
  await page.goto(`${hub.url}${at}#token=${jwt}`);
  // The page asks before a link signs in (the sign-in form instead for a
  // token it cannot use).
  const first = await page.waitForSelector('#signin-confirm, #token-input', { timeout: EVENT_TIMEOUT_MS });
  if (await first.getAttribute('id') === 'signin-confirm') {
    await Promise.all([page.waitForEvent('load', { timeout: EVENT_TIMEOUT_MS }), first.click()]);
  }
  return { context, page, problems, jwt };
}

/** Opens a PRD's editor and waits until it has joined. */
export async function openEditor(browser, hub, who, prdId, opts = {}) {
  const s = await openAs(browser, hub, who, { ...opts, path: `/prds/${prdId}` });
  await s.page.waitForSelector('.cm-content', { timeout: EVENT_TIMEOUT_MS });
  await waitForState(s.page, 'online');
  return s;
}

export function waitForState(page, state) {
  return page.waitForSelector(`#connection-state[data-state="${state}"]`, { timeout: EVENT_TIMEOUT_MS });
}

/** The editor's text. */
export function editorText(page) {
  return page.evaluate(() => window.prdhubEditor.view.state.doc.toString());
}

/** Waits until the editor's text satisfies @predicate (a string → includes). */
export async function waitForText(page, predicate, what) {
  const check = typeof predicate === 'string' ? (t) => t.includes(predicate) : predicate;
  return waitUntil(async () => check(await editorText(page)), what ?? `editor text ${predicate}`);
}

/** Polls @cond until it is true; fails naming @what after EVENT_TIMEOUT_MS. */
export async function waitUntil(cond, what) {
  const deadline = Date.now() + EVENT_TIMEOUT_MS;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** GET /api/prds/{id} with @jwt. */
export async function restPrd(hub, jwt, prdId) {
  const res = await fetch(`${hub.url}/api/prds/${prdId}`, { headers: { Authorization: `Bearer ${jwt}` } });
  if (!res.ok) throw new Error(`GET /api/prds/${prdId}: ${res.status}`);
  return res.json();
}

export async function createPrd(hub, jwt, title, content) {
  const res = await fetch(`${hub.url}/api/prds`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${jwt}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(content === undefined ? { title } : { title, content }),
  });
  if (res.status !== 201) throw new Error(`POST /api/prds: ${res.status} ${await res.text()}`);
  return res.json();
}

export async function screenshot(page, name) {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, name);
  await page.screenshot({ path: file });
  return file;
}

export const WEB_ROOT = path.resolve(here, '..', '..');
