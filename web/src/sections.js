// SPDX-License-Identifier: GPL-3.0-or-later
//
// The Markdown sections of a PRD, for the AI panel's section picker.

// A heading's slug as the hub makes it (prd_ai_slugify): letters, digits,
// '_' and '-' lower-cased, spaces as '-', the rest dropped.
export function slugify(text) {
  let out = '';
  for (const ch of text) {
    if (/[\p{L}\p{N}_-]/u.test(ch)) out += ch.toLowerCase();
    else if (ch === ' ') out += '-';
  }
  return out;
}

/** The Markdown headings of @text: { title, slug, level, start, end } (end: where the section ends). */
export function headings(text) {
  const out = [];
  for (const m of text.matchAll(/^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$/gm))
    out.push({ title: m[2], slug: slugify(m[2]), level: m[1].length, start: m.index, end: text.length });
  for (let i = 0; i < out.length; i++) {
    const next = out.slice(i + 1).find((hd) => hd.level <= out[i].level);
    if (next) out[i].end = next.start;
  }
  return out;
}
