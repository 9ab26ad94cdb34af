// SPDX-License-Identifier: GPL-3.0-or-later
//
// The preview's worker: renders a PRD's text to HTML off the page's main
// thread, so that a text markdown-it takes seconds over cannot freeze the
// editor. Bundled on its own (web/build.mjs: assets/preview-worker-HASH.js,
// a classic worker); driven by PreviewRenderer (preview.js): one
// { id, text } at a time in, { id, html } out, or { id, tooLarge } when
// the HTML is past PREVIEW_MAX_HTML (markdown.js).

import { createMarkdown, renderPreview } from './markdown.js';

const md = createMarkdown();

self.addEventListener('message', (event) => {
  const { id, text } = event.data;
  self.postMessage({ id, ...renderPreview(md, text) });
});
