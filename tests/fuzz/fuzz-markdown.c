/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-fuzz"

#include "config.h"

#include <string.h>

#include "prd-ai-prompt.h"
#include "prd-fuzz.h"

#define FIND_AGAIN   3
#define BUILD_AROUND 2

/*
 * The Markdown section finder of the AI prompt builder: the input is a PRD;
 * every section found must lie inside it, in order, and the first
 * FIND_AGAIN sections and the last must be found again by their slugs; the slug of the input's
 * first line is looked up too, and the prompt is built around the first BUILD_AROUND sections
 * with a small context budget. Each search and each prompt parses the whole input again, so
 * these stay few: the code they run is the same for every section.
 */

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  return 0;
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  const char *markdown = (const char *) data;
  g_autoptr (GPtrArray) sections = prd_ai_markdown_get_sections (markdown, size);
  g_autofree char *first_line = NULL;
  g_autofree char *slug = NULL;
  const char *nl = memchr (markdown, '\n', size);

  first_line = g_strndup (markdown, nl != NULL ? (gsize) (nl - markdown) : size);
  if (g_utf8_validate (first_line, -1, NULL))
    {
      g_autoptr (PrdAiSection) found = NULL;

      slug = prd_ai_slugify (first_line);
      found = prd_ai_markdown_find_section (markdown, size, slug);
      if (found != NULL)
        {
          g_assert_cmpuint (found->start, <=, found->body_start);
          g_assert_cmpuint (found->body_start, <=, found->end);
          g_assert_cmpuint (found->end, <=, size);
        }
    }
  if (sections == NULL)
    return 0;
  for (guint i = 0; i < sections->len; i++)
    {
      PrdAiSection *section = sections->pdata[i];
      g_autoptr (PrdAiSection) again = NULL;

      g_assert_cmpuint (section->start, <=, section->body_start);
      g_assert_cmpuint (section->body_start, <=, section->end);
      g_assert_cmpuint (section->end, <=, size);
      g_assert_cmpint (section->level, >=, 1);
      g_assert_cmpint (section->level, <=, 6);
      if (section->slug == NULL || *section->slug == '\0')
        continue;
      /* Each search parses the whole text again: a few sections and the
       * last one, not every one of a text made of hundreds of headings. */
      if (i >= FIND_AGAIN && i != sections->len - 1)
        continue;
      again = prd_ai_markdown_find_section (markdown, size, section->slug);
      g_assert_nonnull (again);
      if (i < BUILD_AROUND)
        {
          g_autofree char *text = g_strndup (markdown, size);
          PrdAiPromptInput input = {
            .markdown = text,
            .section = section->slug,
            .prompt = "Summarise",
            .context_chars = PRD_AI_MIN_CONTEXT_CHARS,
          };
          g_autoptr (PrdAiPrompt) prompt = NULL;
          g_autoptr (GError) error = NULL;

          if (strlen (text) == size && g_utf8_validate (text, -1, NULL))
            {
              prompt = prd_ai_prompt_build (&input, &error);
              g_assert_true ((prompt == NULL) == (error != NULL));
            }
        }
    }
  return 0;
}
