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

/**
 * The longest preview (UTF-16 units of HTML) the page is given. A PRD at
 * the default max-document-size renders to far less; a short text can
 * render to far more (one reference definition with a 40,000-character
 * URL used 1,500 times: 46,000 units of text, 60 MB of HTML in under 2 s),
 * and putting that into the page froze every reader's tab at each change.
 */
export const PREVIEW_MAX_HTML = 4 * 1024 * 1024;

/**
 * Renders @text with @md: `{ html }`, or `{ tooLarge: length }` when the
 * HTML is longer than @maxHtml (nothing of it is kept).
 */
export function renderPreview(md, text, maxHtml = PREVIEW_MAX_HTML) {
  const html = md.render(text);
  return html.length > maxHtml ? { tooLarge: html.length } : { html };
}
