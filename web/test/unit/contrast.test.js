// SPDX-License-Identifier: GPL-3.0-or-later
//
// Contrast of the web editor's colours, read from web/src/style.css (WCAG
// 2.x: 4.5:1 for text, 3:1 for the parts of a control and focus rings):
// other users' name labels on each palette colour, form control borders,
// the focus ring on the dark header, the comment highlight's underline.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { PALETTE } from '../../src/decorations.js';

// Without comments and @media blocks: the colours of a wide screen.
const CSS = fs.readFileSync(new URL('../../src/style.css', import.meta.url), 'utf8')
  .replace(/\/\*[\s\S]*?\*\//g, '')
  .replace(/@media[^{]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}/g, '');

// The declarations of the rules whose selector lists hold @selector, the
// later ones winning.
function rule(selector) {
  const re = /([^{}]+)\{([^{}]*)\}/g;
  let decls = null;
  for (let m; (m = re.exec(CSS));) {
    if (!m[1].split(',').map((s) => s.trim()).includes(selector)) continue;
    decls ??= {};
    for (const d of m[2].split(';')) {
      const i = d.indexOf(':');
      if (i > 0) decls[d.slice(0, i).trim()] = d.slice(i + 1).trim();
    }
  }
  if (decls === null) throw new Error(`no rule ${selector} in style.css`);
  return decls;
}

const ROOT = rule(':root');

// @value with var(--x[, fallback]) resolved in @scopes (first wins), then :root.
function resolve(value, ...scopes) {
  return value.replace(/var\(\s*(--[\w-]+)\s*(?:,\s*([^()]+))?\)/g, (_, name, fallback) => {
    for (const s of [...scopes, ROOT]) if (s[name] !== undefined) return resolve(s[name], ...scopes);
    if (fallback !== undefined) return fallback.trim();
    throw new Error(`${name} is not defined`);
  });
}

// The colour in a declaration such as "1px solid #abc" or "3px solid var(--accent)".
function colourIn(value) {
  const m = /#[0-9a-f]{6}\b|#[0-9a-f]{3}\b/i.exec(value);
  if (!m) throw new Error(`no #colour in "${value}"`);
  const hex = m[0].length === 4 ? `#${[...m[0].slice(1)].map((c) => c + c).join('')}` : m[0];
  return hex.toLowerCase();
}

function luminance(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function ratio(a, b) {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

// Colour @fg at opacity @alpha over @bg.
function over(fg, alpha, bg) {
  const ch = (hex, i) => parseInt(hex.slice(i, i + 2), 16);
  return `#${[1, 3, 5].map((i) => Math.round(ch(fg, i) * alpha + ch(bg, i) * (1 - alpha)).toString(16).padStart(2, '0')).join('')}`;
}

function atLeast(value, min, what) {
  assert.ok(value >= min, `${what}: ${value.toFixed(2)}:1, less than ${min}:1`);
}

test('each palette class is the palette colour of decorations.js', () => {
  PALETTE.forEach((colour, i) => {
    assert.equal(colourIn(rule(`.pc-${i}`)['--pc']), colour.toLowerCase(), `.pc-${i}`);
  });
});

test('other users\' name labels are 4.5:1 on every palette colour', () => {
  const label = rule('.cm-remote-cursor-label');
  PALETTE.forEach((_, i) => {
    const scope = rule(`.pc-${i}`);
    const fg = colourIn(resolve(label.color, scope));
    const bg = colourIn(resolve(label.background, scope));
    atLeast(ratio(fg, bg), 4.5, `label ${fg} on .pc-${i} ${bg}`);
  });
});

test('form control borders are 3:1 against the page, the panels and the badges', () => {
  const input = colourIn(resolve(rule('input')['border']));
  const small = colourIn(resolve(rule('button.small')['border-color']));
  const secondary = colourIn(resolve(rule('button.secondary')['border-color']));
  for (const [what, c] of [['input', input], ['button.small', small], ['button.secondary', secondary]]) {
    for (const bg of [ROOT['--bg'], ROOT['--panel'], '#ffffff', '#eceef3']) atLeast(ratio(c, colourIn(bg)), 3, `${what} border ${c} on ${bg}`);
  }
});

test('the focus ring is 3:1 on the page and on the dark header', () => {
  const ring = colourIn(resolve(rule(':focus-visible').outline));
  atLeast(ratio(ring, colourIn(ROOT['--bg'])), 3, 'focus ring on the page');
  const header = colourIn(rule('.app-header').background);
  const headerRing = colourIn(resolve(rule('.app-header :focus-visible')['outline-color']));
  atLeast(ratio(headerRing, header), 3, `focus ring ${headerRing} on the header ${header}`);
  const popoverRing = colourIn(resolve(rule('.app-header .popover :focus-visible')['outline-color']));
  atLeast(ratio(popoverRing, colourIn(ROOT['--panel'])), 3, 'focus ring in the notification panel');
});

test('the comment underline is 3:1; the active comment differs by more than colour', () => {
  const range = rule('.cm-comment-range');
  const underline = colourIn(range['border-bottom']);
  const bg = /rgba\((\d+),\s*(\d+),\s*(\d+),\s*([\d.]+)\)/.exec(range.background);
  const highlight = over(`#${bg.slice(1, 4).map((n) => Number(n).toString(16).padStart(2, '0')).join('')}`, Number(bg[4]), '#ffffff');
  atLeast(ratio(underline, '#ffffff'), 3, 'underline on white');
  atLeast(ratio(underline, highlight), 3, `underline on the highlight ${highlight}`);
  const active = rule('.cm-comment-active');
  assert.ok(active.outline || active['border-bottom-style'] || active['text-decoration'],
    'the active range has a shape of its own (outline, border style or decoration), not only a colour');
  atLeast(ratio(colourIn(active.outline ?? active['border-bottom-color']), '#ffffff'), 3, 'active range frame on white');
  const card = rule('.comment.active');
  assert.ok(card['border-left-width'] || card['border-width'] || card['border-style'], 'the active comment card has a shape of its own');
});
