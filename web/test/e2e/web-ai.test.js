// SPDX-License-Identifier: GPL-3.0-or-later
//
// The web editor's AI panel in real Chromium against a hub and the
// scripted AI test server: an answer for a section goes at the end of that
// section; a provider failure, the review's suggestions (reject one), a
// review with none or a failed one, and the hourly quota each get a plain
// message.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { aiConfig, startAiServer } from '../../../tests/e2e/ai-helpers.js';
import {
  EVENT_TIMEOUT_MS, createPrd, editorText, launch, openEditor, startHub, token, waitForText,
} from './browser.js';

const ANN = { sub: 'user_ann', name: 'Ann Archer', org: 'org_ai', role: 'editor' };
// The test server picks its script from the text: `scenario:review` makes
// ai-review answer with suggestions.
const TEXT = 'scenario:review\n# Plan\n\n## Goals\n\nShip it.\n\n## Risks\n\nOutages.\n';

let ai;
let hub;
let browser;
let s;

before(async () => {
  ai = await startAiServer();
  hub = await startHub({ config: aiConfig(ai, 'hourly-quota = 3\n') });
  browser = await launch();
  const prdId = (await createPrd(hub, token(ANN), 'AI plan', TEXT)).id;
  s = await openEditor(browser, hub, ANN, prdId);
  await s.page.click('[role="tab"][data-tab="ai"]');
});

after(async () => {
  await browser?.close();
  await ai?.stop();
  const res = await hub.stop();
  assert.deepEqual(res, { code: 0, signal: null }, hub.stderr());
});

async function ask(prompt, section = '') {
  await s.page.focus('.ai select');
  await s.page.selectOption('.ai select', section);
  await s.page.fill('.ai textarea', prompt);
  await s.page.click('.ai button[type="submit"]');
}

test('an answer for a section goes at the end of that section', async () => {
  await s.page.click('.cm-content');
  await s.page.keyboard.press('Control+Home');
  await ask('scenario:stream Fill in the goals', 'goals');
  await waitForText(s.page, 'Hello, world ✓');
  const text = await editorText(s.page);
  assert.equal(text, TEXT.replace('## Risks', 'Hello, world ✓\n## Risks'));
});

test('a provider failure is reported plainly', async () => {
  await ask('scenario:server-error Anything');
  const status = await s.page.waitForSelector('.ai-status.error:has-text("provider failed")', { timeout: EVENT_TIMEOUT_MS });
  assert.match(await status.textContent(), /HTTP 500/);
});

test('a review lists suggestions to accept or reject', async () => {
  await s.page.click('.ai button:has-text("Review this PRD")');
  const item = await s.page.waitForSelector('.suggestion:has-text("Consider edge cases")', { timeout: EVENT_TIMEOUT_MS });
  assert.ok(await item.$('button:has-text("Accept")'));
  await s.page.waitForSelector('.ai-status:has-text("Review finished: 1 suggestion.")', { timeout: EVENT_TIMEOUT_MS });
  await (await item.$('button:has-text("Reject")')).click();
  await s.page.waitForSelector('.suggestion:has-text("Consider edge cases")', { state: 'detached', timeout: EVENT_TIMEOUT_MS });
});

test('a review with no suggestions says so; a failed one says why', async () => {
  // Another user (the hourly quota is per user). `scenario:complete`: the
  // model's answer is no suggestion list, so the review has none.
  const cal = { sub: 'user_cal', name: 'Cal Carter', org: 'org_ai', role: 'editor' };
  const cases = [
    ['scenario:complete\n# Fine as it is\n', 'Review finished: no suggestions.'],
    ['scenario:server-error\n# Unlucky\n', 'The AI provider failed.'],
  ];
  for (const [text, status] of cases) {
    const id = (await createPrd(hub, token(cal), 'Review', text)).id;
    const c = await openEditor(browser, hub, cal, id);
    try {
      await c.page.click('[role="tab"][data-tab="ai"]');
      await c.page.click('.ai button:has-text("Review this PRD")');
      await c.page.waitForSelector(`.ai-status:has-text("${status}")`, { timeout: EVENT_TIMEOUT_MS });
      assert.equal((await c.page.$$('.suggestion')).length, 0);
      assert.deepEqual(c.problems, []);
    } finally {
      await c.context.close();
    }
  }
});

test('past the hourly quota the panel says when to try again', async () => {
  await ask('scenario:stream One more');
  const status = await s.page.waitForSelector('.ai-status.error:has-text("quota")', { timeout: EVENT_TIMEOUT_MS });
  assert.match(await status.textContent(), /Try again in \d+ s/);
  assert.equal((await editorText(s.page)).split('Hello, world ✓').length, 2, 'nothing more was written');
  assert.deepEqual(s.problems, []);
});
