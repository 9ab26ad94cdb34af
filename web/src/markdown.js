// SPDX-License-Identifier: GPL-3.0-or-later
//
// The preview's Markdown renderer, in one place for the preview's worker
// (preview-worker.js) and the tests: markdown-it with `html: false`, so raw
// HTML in a PRD is shown as text, and its default link check, which refuses
// `javascript:`, `vbscript:`, `file:` and `data:` links (but data: images).

import MarkdownIt from 'markdown-it';

export function createMarkdown() {
  return new MarkdownIt({ html: false, linkify: false, typographer: false });
}
