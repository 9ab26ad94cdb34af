// SPDX-License-Identifier: GPL-3.0-or-later
//
// The AI panel's sections (web/src/sections.js): the hub's slugs and
// where each section ends.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { headings, slugify } from '../../src/sections.js';

test('slugs as the hub makes them', () => {
  assert.equal(slugify('Technical Requirements'), 'technical-requirements');
  assert.equal(slugify('OAuth2 & SSO: v2_beta'), 'oauth2--sso-v2_beta');
  assert.equal(slugify('Éléments clés'), 'éléments-clés');
});

test('a section ends where a heading of its level or above starts', () => {
  const text = '# Title\nintro\n## Goals\ng\n### Detail\nd\n## Risks\nr\n';
  const hs = headings(text);
  assert.deepEqual(hs.map((h) => [h.slug, h.level, h.start]), [
    ['title', 1, 0], ['goals', 2, 14], ['detail', 3, 25], ['risks', 2, 38],
  ]);
  assert.equal(hs[0].end, text.length);
  assert.equal(hs[1].end, text.indexOf('## Risks'));
  assert.equal(hs[2].end, text.indexOf('## Risks'));
  assert.equal(hs[3].end, text.length);
});

test('lines that are not headings are not sections', () => {
  assert.deepEqual(headings('#nospace\n####### seven\n text # not\n'), []);
});
