/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The prompt builder: turns a PRD, a section slug, the user's selection and
 * request into chat messages. Pure: no I/O, no state.
 *
 * The PRD is parsed with cmark to find its headings (ATX and setext, not
 * the `#` lines inside code blocks); a section runs from its heading to the
 * next heading of the same or a higher level. The model gets the whole PRD
 * when it fits the context budget. Otherwise it gets an excerpt: the
 * section with as much of its surroundings as fits, or, for a section
 * bigger than the budget, the part of it around the selection (else its
 * beginning), cut at line boundaries and marked `[…]` where text was left
 * out, plus the PRD's outline so the model knows where it is. A document is
 * never cut blindly at the budget.
 *
 * Slugs follow GitHub's rule (lower case, letters, digits, `-` and `_`
 * kept, spaces to `-`, everything else dropped; repeats get `-1`, `-2`…),
 * so "Technical Requirements" is `technical-requirements`.
 */
#define G_LOG_DOMAIN "prd-ai"

#include "config.h"

#include <string.h>

#include <cmark.h>

#include "prd-autocleanups.h"
#include "prd-error.h"

#include "prd-ai-prompt.h"

#define OMITTED "[…]"

static const char system_prompt[] =
    "You are an experienced product manager helping a team write a product requirements "
    "document (PRD) in Markdown.\n"
    "Write requirements that are specific, testable and unambiguous: say what the system "
    "shall do, for whom and under which conditions, with measurable acceptance criteria "
    "where they apply. Prefer short paragraphs and bullet lists; use tables only for "
    "structured comparisons.\n"
    "Stay consistent with the rest of the document: its terminology, its heading levels "
    "and its style. Do not repeat content the document already has, and do not invent "
    "facts about the product that the document does not support; where information is "
    "missing, write the requirement with a clearly marked open question.\n"
    "Answer with the Markdown to insert into the document only: no preamble, no closing "
    "remarks, no code fence around the whole answer.";

void
prd_ai_section_free (PrdAiSection *section)
{
  if (section == NULL)
    return;
  g_free (section->title);
  g_free (section->slug);
  g_free (section);
}

/**
 * prd_ai_slugify:
 * @text: a heading's text, UTF-8
 *
 * Returns: (transfer full): its slug, e.g. `technical-requirements`
 */
char *
prd_ai_slugify (const char *text)
{
  g_autoptr (GString) slug = g_string_new (NULL);

  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (g_utf8_validate (text, -1, NULL), NULL);

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_isalnum (c) || c == '_' || c == '-')
        g_string_append_unichar (slug, g_unichar_tolower (c));
      else if (c == ' ')
        g_string_append_c (slug, '-');
    }
  return g_string_free (g_steal_pointer (&slug), FALSE);
}

static void
append_heading_text (cmark_node *node, GString *out)
{
  for (cmark_node *child = cmark_node_first_child (node); child != NULL;
       child = cmark_node_next (child))
    {
      switch (cmark_node_get_type (child))
        {
          case CMARK_NODE_TEXT:
          case CMARK_NODE_CODE:
            g_string_append (out, cmark_node_get_literal (child));
            break;
          case CMARK_NODE_SOFTBREAK:
          case CMARK_NODE_LINEBREAK:
            g_string_append_c (out, ' ');
            break;
          case CMARK_NODE_HTML_INLINE:
            break;
          default:
            append_heading_text (child, out);
            break;
        }
    }
}

/* Byte offsets of the starts of lines, 1-based as cmark counts them (a line
 * ends at \n, \r\n or \r); one more entry for the end of the text. */
static GArray *
line_starts (const char *text, gsize len)
{
  GArray *starts = g_array_new (FALSE, FALSE, sizeof (gsize));
  gsize zero = 0;

  g_array_append_val (starts, zero); /* index 0: unused */
  g_array_append_val (starts, zero); /* line 1 */
  for (gsize i = 0; i < len; i++)
    {
      gsize next;

      if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
        i++;
      else if (text[i] != '\r' && text[i] != '\n')
        continue;
      next = i + 1;
      g_array_append_val (starts, next);
    }
  g_array_append_val (starts, len);
  return starts;
}

static gsize
line_offset (GArray *starts, int line)
{
  if (line < 1)
    return 0;
  if ((guint) line >= starts->len)
    return g_array_index (starts, gsize, starts->len - 1);
  return g_array_index (starts, gsize, line);
}

static gboolean
is_setext_underline (const char *line, const char *end)
{
  const char *p = line;
  char mark;

  while (p < end && p - line < 3 && *p == ' ')
    p++;
  if (p >= end || (*p != '=' && *p != '-'))
    return FALSE;
  mark = *p;
  while (p < end && *p == mark)
    p++;
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  return p == end || *p == '\n' || *p == '\r';
}

/* Where the text under a heading starts. An ATX heading is one line; a
 * setext heading ends at its underline (cmark 0.30 reports the line after
 * the underline as its end line, so that cannot be used). */
static gsize
heading_body_start (const char *text, gsize len, GArray *starts, cmark_node *node)
{
  int first = cmark_node_get_start_line (node);
  int last = cmark_node_get_end_line (node);
  const char *p = text + line_offset (starts, first);

  while (p < text + len && p - (text + line_offset (starts, first)) < 3 && *p == ' ')
    p++;
  if (p < text + len && *p == '#')
    return line_offset (starts, first + 1);
  for (int line = first + 1; line <= last; line++)
    if (is_setext_underline (text + line_offset (starts, line),
                             text + line_offset (starts, line + 1)))
      return line_offset (starts, line + 1);
  return line_offset (starts, last + 1);
}

/**
 * prd_ai_markdown_get_sections:
 * @markdown: UTF-8 Markdown
 * @len: its length in bytes
 *
 * The document's top-level headings, in order, each with the extent of its
 * section.
 *
 * Returns: (transfer full) (element-type PrdAiSection): the sections
 */
GPtrArray *
prd_ai_markdown_get_sections (const char *markdown, gsize len)
{
  g_autoptr (GPtrArray) sections =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_ai_section_free);
  g_autoptr (GHashTable) slugs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  /* base slug → the next suffix to try for it: n headings of one title
   * cost n lookups, not n² / 2 */
  g_autoptr (GHashTable) next_suffix =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  /* the sections still open, outermost first (their levels increase) */
  g_autoptr (GPtrArray) open = g_ptr_array_new ();
  g_autoptr (cmark_node) document = NULL;
  g_autoptr (GArray) starts = NULL;

  g_return_val_if_fail (markdown != NULL || len == 0, NULL);

  document = cmark_parse_document (markdown != NULL ? markdown : "", len, CMARK_OPT_DEFAULT);
  starts = line_starts (markdown, len);

  for (cmark_node *node = cmark_node_first_child (document); node != NULL;
       node = cmark_node_next (node))
    {
      g_autoptr (GString) title = NULL;
      g_autofree char *base = NULL;
      PrdAiSection *section;
      char *slug;
      guint n;

      if (cmark_node_get_type (node) != CMARK_NODE_HEADING)
        continue;
      title = g_string_new (NULL);
      append_heading_text (node, title);
      g_strstrip (title->str);
      title->len = strlen (title->str);

      section = g_new0 (PrdAiSection, 1);
      section->level = cmark_node_get_heading_level (node);
      section->start = line_offset (starts, cmark_node_get_start_line (node));
      section->body_start = heading_body_start (markdown, len, starts, node);
      section->end = len;
      /* A PRD is UTF-8; the text of a heading is made so even when the input
       * is not (cmark passes bytes through), as slugs are built from it. */
      section->title = g_utf8_make_valid (title->str, (gssize) title->len);

      base = prd_ai_slugify (section->title);
      slug = g_strdup (base);
      n = GPOINTER_TO_UINT (g_hash_table_lookup (next_suffix, base));
      for (n = MAX (n, 1); g_hash_table_contains (slugs, slug); n++)
        {
          g_free (slug);
          slug = g_strdup_printf ("%s-%u", base, n);
        }
      g_hash_table_replace (next_suffix, g_steal_pointer (&base), GUINT_TO_POINTER (n));
      g_hash_table_add (slugs, g_strdup (slug));
      section->slug = slug;

      /* This heading ends every open section of its level or deeper. */
      while (open->len > 0 &&
             ((PrdAiSection *) g_ptr_array_index (open, open->len - 1))->level >= section->level)
        {
          PrdAiSection *closed = g_ptr_array_steal_index (open, open->len - 1);

          closed->end = section->start;
        }
      g_ptr_array_add (open, section);
      g_ptr_array_add (sections, section);
    }
  return g_steal_pointer (&sections);
}

/**
 * prd_ai_markdown_find_section:
 * @slug: e.g. `technical-requirements`
 *
 * Returns: (transfer full) (nullable): the section, or %NULL when the
 *   document has no heading of that slug
 */
PrdAiSection *
prd_ai_markdown_find_section (const char *markdown, gsize len, const char *slug)
{
  g_autoptr (GPtrArray) sections = NULL;

  g_return_val_if_fail (slug != NULL, NULL);

  sections = prd_ai_markdown_get_sections (markdown, len);
  for (guint i = 0; i < sections->len; i++)
    {
      PrdAiSection *section = g_ptr_array_index (sections, i);

      if (g_str_equal (section->slug, slug))
        return g_ptr_array_steal_index (sections, i);
    }
  return NULL;
}

/* ---- excerpts ---- */

static gsize
count_chars (const char *start, const char *end)
{
  return (gsize) g_utf8_strlen (start, end - start);
}

/* @n characters forward from @p, stopping at @limit. */
static const char *
forward_chars (const char *p, const char *limit, gsize n)
{
  while (n > 0 && p < limit)
    {
      p = g_utf8_next_char (p);
      n--;
    }
  return MIN (p, limit);
}

static const char *
backward_chars (const char *p, const char *limit, gsize n)
{
  while (n > 0 && p > limit)
    {
      p = g_utf8_prev_char (p);
      n--;
    }
  return MAX (p, limit);
}

static gboolean
at_line_start (const char *doc, const char *p)
{
  return p == doc || p[-1] == '\n' || p[-1] == '\r';
}

/*
 * The text of [@region_start, @region_end) around the focus
 * [@focus_start, @focus_end), at most @budget characters: the focus (cut to
 * the budget if it is longer), then the rest of the budget shared between
 * the text before and after it, a side that has less giving its share to
 * the other. Edges are moved to line boundaries where the excerpt would
 * otherwise start or end inside a line.
 */
static void
excerpt (const char *doc,
         const char *doc_end,
         const char *region_start,
         const char *region_end,
         const char *focus_start,
         const char *focus_end,
         gsize budget,
         GString *out,
         gboolean *trimmed)
{
  const char *from, *to;
  gsize focus_chars, rest, before_avail, after_avail, before, after;

  focus_end = forward_chars (focus_start, focus_end, budget);
  focus_chars = count_chars (focus_start, focus_end);
  rest = budget - focus_chars;
  before_avail = count_chars (region_start, focus_start);
  after_avail = count_chars (focus_end, region_end);
  before = MIN (before_avail, rest / 2);
  after = MIN (after_avail, rest - before);
  before = MIN (before_avail, rest - after);

  from = backward_chars (focus_start, region_start, before);
  to = forward_chars (focus_end, region_end, after);

  if (!at_line_start (doc, from))
    {
      const char *nl = memchr (from, '\n', (gsize) (focus_start - from));

      if (nl != NULL)
        from = nl + 1;
    }
  if (to < doc_end && *to != '\n' && *to != '\r')
    {
      /* With no room after the focus (a focus cut to the budget), the
       * end moves back into the focus rather than cutting a line. */
      const char *floor = to == focus_end ? focus_start : focus_end;
      const char *nl = g_strrstr_len (floor, to - floor, "\n");

      if (nl != NULL)
        to = nl + 1;
    }

  if (from > doc)
    {
      g_string_append (out, OMITTED "\n");
      *trimmed = TRUE;
    }
  g_string_append_len (out, from, to - from);
  if (to < doc_end)
    {
      if (out->len > 0 && out->str[out->len - 1] != '\n')
        g_string_append_c (out, '\n');
      g_string_append (out, OMITTED "\n");
      *trimmed = TRUE;
    }
}

/* Headings as an indented list, at most @budget characters. When they do
 * not all fit, the ones around the section @focus (an index into
 * @sections, or -1 for the start) are kept. */
static char *
outline (GPtrArray *sections, int focus, gsize budget)
{
  g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GString) out = g_string_new (NULL);
  gsize total = 0;
  guint first, last; /* the window [first, last) */
  gsize used;

  for (guint i = 0; i < sections->len; i++)
    {
      PrdAiSection *section = g_ptr_array_index (sections, i);
      char *line = g_strdup_printf ("%*s- %s\n", (section->level - 1) * 2, "", section->title);

      total += (gsize) g_utf8_strlen (line, -1);
      g_ptr_array_add (lines, line);
    }
  if (total <= budget)
    {
      for (guint i = 0; i < lines->len; i++)
        g_string_append (out, g_ptr_array_index (lines, i));
      return g_string_free (g_steal_pointer (&out), FALSE);
    }

  first = last = focus >= 0 ? (guint) focus : 0;
  used = 0;
  /* Grow the window one line down, then one up, while it fits. */
  for (gboolean grew = TRUE; grew;)
    {
      grew = FALSE;
      if (last < lines->len &&
          used + (gsize) g_utf8_strlen (g_ptr_array_index (lines, last), -1) <= budget)
        {
          used += (gsize) g_utf8_strlen (g_ptr_array_index (lines, last), -1);
          last++;
          grew = TRUE;
        }
      if (first > 0 &&
          used + (gsize) g_utf8_strlen (g_ptr_array_index (lines, first - 1), -1) <= budget)
        {
          first--;
          used += (gsize) g_utf8_strlen (g_ptr_array_index (lines, first), -1);
          grew = TRUE;
        }
    }
  if (first > 0)
    g_string_append (out, OMITTED "\n");
  for (guint i = first; i < last; i++)
    g_string_append (out, g_ptr_array_index (lines, i));
  if (last < lines->len)
    g_string_append (out, OMITTED "\n");
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static gboolean
check_text (const char *what, const char *text, gsize max_chars, gboolean required, GError **error)
{
  if (text == NULL || *text == '\0')
    {
      if (!required)
        return TRUE;
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "The %s is empty", what);
      return FALSE;
    }
  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "The %s is not UTF-8 text", what);
      return FALSE;
    }
  if ((gsize) g_utf8_strlen (text, -1) > max_chars)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_PAYLOAD_TOO_LARGE,
                   "The %s is longer than %" G_GSIZE_FORMAT " characters", what, max_chars);
      return FALSE;
    }
  return TRUE;
}

/**
 * prd_ai_check_slug:
 * @slug: what names a section
 *
 * Whether @slug can name a heading: letters, digits, `-` and `_`, 1 to
 * %PRD_AI_MAX_SLUG_LENGTH bytes of UTF-8. (It need not be one of the PRD's:
 * a prompt for a section the PRD does not have gets the whole PRD.)
 *
 * Returns: %FALSE with %PRD_ERROR_INVALID_PAYLOAD when it cannot
 */
gboolean
prd_ai_check_slug (const char *slug, GError **error)
{
  gboolean ok;

  g_return_val_if_fail (slug != NULL, FALSE);

  ok = *slug != '\0' && strlen (slug) <= PRD_AI_MAX_SLUG_LENGTH && g_utf8_validate (slug, -1, NULL);
  for (const char *p = slug; ok && *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      ok = g_unichar_isalnum (c) || c == '-' || c == '_';
    }
  if (!ok)
    g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                 "The section must be a heading slug (letters, digits, '-' and '_', at "
                 "most %d bytes), e.g. \"technical-requirements\"",
                 PRD_AI_MAX_SLUG_LENGTH);
  return ok;
}

static gboolean
check_input (const PrdAiPromptInput *input, GError **error)
{
  if (!check_text ("prompt", input->prompt, PRD_AI_MAX_PROMPT_CHARS, TRUE, error) ||
      !check_text ("selected text", input->selected_text, PRD_AI_MAX_SELECTION_CHARS, FALSE, error))
    return FALSE;
  if (input->markdown != NULL)
    {
      if (strlen (input->markdown) > PRD_AI_MAX_DOCUMENT_SIZE)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_PAYLOAD_TOO_LARGE,
                       "The PRD is larger than %d bytes", PRD_AI_MAX_DOCUMENT_SIZE);
          return FALSE;
        }
      if (!g_utf8_validate (input->markdown, -1, NULL))
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                               "The PRD is not UTF-8 text");
          return FALSE;
        }
    }
  if (input->section != NULL && *input->section != '\0' &&
      !prd_ai_check_slug (input->section, error))
    return FALSE;
  if (input->context_chars < PRD_AI_MIN_CONTEXT_CHARS ||
      input->context_chars > PRD_AI_MAX_CONTEXT_CHARS)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "[ai] context-chars: must be between %d and %d", PRD_AI_MIN_CONTEXT_CHARS,
                   PRD_AI_MAX_CONTEXT_CHARS);
      return FALSE;
    }
  return TRUE;
}

/* Where @needle occurs in [@start, @end), preferring that range, else
 * anywhere in the document. */
static const char *
find_selection (const char *doc, const char *start, const char *end, const char *needle)
{
  gsize len;
  const char *hit;

  if (needle == NULL || *needle == '\0')
    return NULL;
  len = strlen (needle);
  hit = memmem (start, (gsize) (end - start), needle, len);
  if (hit != NULL)
    return hit;
  return strstr (doc, needle);
}

void
prd_ai_prompt_free (PrdAiPrompt *prompt)
{
  if (prompt == NULL)
    return;
  g_clear_pointer (&prompt->messages, g_ptr_array_unref);
  g_free (prompt->context);
  prd_ai_section_free (prompt->section);
  g_free (prompt);
}

/**
 * prd_ai_prompt_build:
 * @input: the PRD, the section, the selection and the request
 *
 * Returns: (transfer full): the messages and what went into them, or %NULL
 *   with @error set: %PRD_ERROR_INVALID_PAYLOAD (empty prompt, text that is
 *   not UTF-8, a malformed slug), %PRD_ERROR_PAYLOAD_TOO_LARGE (prompt,
 *   selection or PRD over its limit), %PRD_ERROR_CONFIG (budget out of range)
 */
PrdAiPrompt *
prd_ai_prompt_build (const PrdAiPromptInput *input, GError **error)
{
  g_autoptr (PrdAiPrompt) prompt = NULL;
  g_autoptr (GPtrArray) sections = NULL;
  g_autoptr (GString) context = g_string_new (NULL);
  g_autoptr (GString) message = g_string_new (NULL);
  const char *doc, *doc_end, *selection;
  gsize doc_len, doc_chars;
  int focus_index = -1;

  g_return_val_if_fail (input != NULL, NULL);

  if (!check_input (input, error))
    return NULL;

  prompt = g_new0 (PrdAiPrompt, 1);
  doc = input->markdown != NULL ? input->markdown : "";
  doc_len = strlen (doc);
  doc_end = doc + doc_len;
  doc_chars = (gsize) g_utf8_strlen (doc, (gssize) doc_len);
  sections = prd_ai_markdown_get_sections (doc, doc_len);

  if (input->section != NULL && *input->section != '\0')
    for (guint i = 0; i < sections->len && prompt->section == NULL; i++)
      {
        PrdAiSection *section = g_ptr_array_index (sections, i);

        if (g_str_equal (section->slug, input->section))
          {
            focus_index = (int) i;
            prompt->section = g_new0 (PrdAiSection, 1);
            *prompt->section = *section;
            prompt->section->title = g_strdup (section->title);
            prompt->section->slug = g_strdup (section->slug);
          }
      }

  if (doc_chars <= input->context_chars)
    {
      g_string_append (context, doc);
      prompt->whole_document = TRUE;
    }
  else
    {
      g_autofree char *toc = outline (sections, focus_index, input->context_chars / 5);
      gsize budget =
          input->context_chars - MIN (input->context_chars / 2, (gsize) g_utf8_strlen (toc, -1));
      const char *sec_start = prompt->section != NULL ? doc + prompt->section->start : doc;
      const char *sec_end = prompt->section != NULL ? doc + prompt->section->end : doc;

      selection = find_selection (doc, sec_start, sec_end, input->selected_text);
      if (prompt->section != NULL && count_chars (sec_start, sec_end) <= budget)
        excerpt (doc, doc_end, doc, doc_end, sec_start, sec_end, budget, context, &prompt->trimmed);
      else if (prompt->section != NULL)
        {
          /* A section bigger than the budget: the part around the
           * selection when it is in there, else the section's start. */
          gboolean inside = selection != NULL && selection >= sec_start && selection < sec_end;
          const char *focus = inside ? selection : sec_start;
          const char *focus_end =
              inside ? MIN (selection + strlen (input->selected_text), sec_end) : sec_start;

          excerpt (doc, doc_end, sec_start, sec_end, focus, focus_end, budget, context,
                   &prompt->trimmed);
        }
      else
        {
          const char *focus = selection != NULL ? selection : doc;
          const char *focus_end =
              selection != NULL ? selection + strlen (input->selected_text) : doc;

          excerpt (doc, doc_end, doc, doc_end, focus, focus_end, budget, context, &prompt->trimmed);
        }
      if (*toc != '\0')
        {
          g_string_append (message, "Outline of the PRD (its headings):\n");
          g_string_append (message, toc);
          g_string_append_c (message, '\n');
        }
    }

  if (prompt->whole_document)
    g_string_append (message, "The PRD:\n");
  else
    g_string_append (message,
                     "An excerpt of the PRD (the document is too long to send whole; " OMITTED
                     " marks text left out):\n");
  g_string_append (message, "<prd>\n");
  g_string_append_len (message, context->str, (gssize) context->len);
  if (context->len > 0 && context->str[context->len - 1] != '\n')
    g_string_append_c (message, '\n');
  g_string_append (message, "</prd>\n\n");

  if (prompt->section != NULL)
    g_string_append_printf (message,
                            "Work on the section \"%s\" (a level-%d heading); what you write "
                            "belongs in that section.\n",
                            prompt->section->title, prompt->section->level);
  else if (input->section != NULL && *input->section != '\0')
    g_string_append_printf (message,
                            "The PRD has no section \"%s\" yet; write its content, starting "
                            "with a heading for it at the level that fits the document.\n",
                            input->section);
  if (input->selected_text != NULL && *input->selected_text != '\0')
    g_string_append_printf (message,
                            "\nThe user selected this text, which the request is about:\n"
                            "<selection>\n%s\n</selection>\n",
                            input->selected_text);

  prompt->context = g_string_free (g_steal_pointer (&context), FALSE);
  prompt->messages = prd_ai_messages_new ();
  g_ptr_array_add (prompt->messages, prd_ai_message_new (PRD_AI_ROLE_SYSTEM, system_prompt));
  g_ptr_array_add (prompt->messages, prd_ai_message_new (PRD_AI_ROLE_USER, message->str));
  /* The request last and on its own, so that it is what the model reads
   * as the thing to answer. */
  g_ptr_array_add (prompt->messages, prd_ai_message_new (PRD_AI_ROLE_USER, input->prompt));
  return g_steal_pointer (&prompt);
}
