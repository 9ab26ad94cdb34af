/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "prd-ai-provider.h"

G_BEGIN_DECLS

/* Longest user prompt, in characters. */
#define PRD_AI_MAX_PROMPT_CHARS 4000
/* Longest selected text, in characters. */
#define PRD_AI_MAX_SELECTION_CHARS 20000
/* Largest PRD the builder reads, in bytes. */
#define PRD_AI_MAX_DOCUMENT_SIZE (16 * 1024 * 1024)
/* Bounds of the context budget, in characters (about 4 per token). */
#define PRD_AI_MIN_CONTEXT_CHARS     256
#define PRD_AI_MAX_CONTEXT_CHARS     4000000
#define PRD_AI_DEFAULT_CONTEXT_CHARS 24000
/* Longest section slug. */
#define PRD_AI_MAX_SLUG_LENGTH 200

/**
 * PrdAiSection:
 * @start: byte offset of the heading's first line
 * @body_start: byte offset of the line after the heading
 * @end: byte offset where the next heading of the same or a higher level
 *   starts, or the document's length
 * @level: 1–6
 * @title: (owned): the heading's text
 * @slug: (owned): its slug, unique within the document
 */
typedef struct
{
  gsize start;
  gsize body_start;
  gsize end;
  int level;
  char *title;
  char *slug;
} PrdAiSection;

void prd_ai_section_free (PrdAiSection *section);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdAiSection, prd_ai_section_free)

char *prd_ai_slugify (const char *text);
gboolean prd_ai_check_slug (const char *slug, GError **error);
GPtrArray *prd_ai_markdown_get_sections (const char *markdown, gsize len);
PrdAiSection *prd_ai_markdown_find_section (const char *markdown, gsize len, const char *slug);

/**
 * PrdAiPromptInput:
 * @markdown: (nullable): the PRD, Markdown, UTF-8
 * @section: (nullable): slug of the section to work on, e.g.
 *   `technical-requirements`
 * @selected_text: (nullable): what the user selected
 * @prompt: what the user asks for
 * @context_chars: how many characters of the PRD may be sent
 */
typedef struct
{
  const char *markdown;
  const char *section;
  const char *selected_text;
  const char *prompt;
  gsize context_chars;
} PrdAiPromptInput;

/**
 * PrdAiPrompt:
 * @messages: (element-type PrdAiMessage) (owned): system prompt, context,
 *   request
 * @context: (owned): the part of the PRD that was included
 * @section: (owned) (nullable): the section found, %NULL when the PRD has
 *   none of that slug
 * @whole_document: the whole PRD fit the budget and was sent
 * @trimmed: part of the PRD was left out (marked `[…]` in @context)
 */
typedef struct
{
  GPtrArray *messages;
  char *context;
  PrdAiSection *section;
  gboolean whole_document;
  gboolean trimmed;
} PrdAiPrompt;

PrdAiPrompt *prd_ai_prompt_build (const PrdAiPromptInput *input, GError **error);
void prd_ai_prompt_free (PrdAiPrompt *prompt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdAiPrompt, prd_ai_prompt_free)

G_END_DECLS
