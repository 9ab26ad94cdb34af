/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The prompt builder: sections found by slug in several kinds of Markdown,
 * and the context it sends under a budget.
 */
#include "config.h"

#include <string.h>

#include "prd-ai-prompt.h"
#include "prd-error.h"

static const char nested_doc[] = "# Checkout PRD\n"
                                 "\n"
                                 "Intro paragraph.\n"
                                 "\n"
                                 "## Overview\n"
                                 "\n"
                                 "What we build.\n"
                                 "\n"
                                 "## Technical Requirements\n"
                                 "\n"
                                 "General text.\n"
                                 "\n"
                                 "### Auth\n"
                                 "\n"
                                 "OAuth2 via the company IdP.\n"
                                 "\n"
                                 "```\n"
                                 "# not a heading, a shell comment\n"
                                 "```\n"
                                 "\n"
                                 "### Storage\n"
                                 "\n"
                                 "PostgreSQL.\n"
                                 "\n"
                                 "## Timeline\n"
                                 "\n"
                                 "Q3.\n";

static const char setext_doc[] = "Product Goals\n"
                                 "=============\n"
                                 "\n"
                                 "Goals text.\n"
                                 "\n"
                                 "Technical Requirements\n"
                                 "----------------------\n"
                                 "\n"
                                 "Req text.\n"
                                 "\n"
                                 "Other\n"
                                 "-----\n"
                                 "\n"
                                 "Other text.\n";

static char *
section_text (const char *doc, const PrdAiSection *section)
{
  return g_strndup (doc + section->start, section->end - section->start);
}

static void
test_slugify (void)
{
  static const char *const cases[][2] = {
    { "Technical Requirements", "technical-requirements" },
    { "API & Auth (v2)", "api--auth-v2" },
    { "User-Stories_2024", "user-stories_2024" },
    { "\xc3\x9c"
      "berblick \xc3\xa9t\xc3\xa9",
      "\xc3\xbc"
      "berblick-\xc3\xa9t\xc3\xa9" },
    { "What's next?", "whats-next" },
    { "", "" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *slug = prd_ai_slugify (cases[i][0]);

      g_assert_cmpstr (slug, ==, cases[i][1]);
    }
}

static void
test_nested (void)
{
  g_autoptr (GPtrArray) sections = prd_ai_markdown_get_sections (nested_doc, strlen (nested_doc));
  g_autoptr (PrdAiSection) tech = NULL;
  g_autoptr (PrdAiSection) auth = NULL;
  g_autoptr (PrdAiSection) title = NULL;
  g_autoptr (PrdAiSection) timeline = NULL;
  g_autofree char *text = NULL;

  /* The `#` line in the code block is not a heading */
  g_assert_cmpuint (sections->len, ==, 6);

  tech = prd_ai_markdown_find_section (nested_doc, strlen (nested_doc), "technical-requirements");
  g_assert_nonnull (tech);
  g_assert_cmpstr (tech->title, ==, "Technical Requirements");
  g_assert_cmpint (tech->level, ==, 2);
  text = section_text (nested_doc, tech);
  /* From its heading to the next level-2 heading, subsections included */
  g_assert_true (g_str_has_prefix (text, "## Technical Requirements\n"));
  g_assert_true (g_str_has_suffix (text, "PostgreSQL.\n\n"));
  g_assert_nonnull (strstr (text, "### Auth"));
  g_assert_nonnull (strstr (text, "### Storage"));
  g_assert_null (strstr (text, "Timeline"));
  g_assert_cmpstr (nested_doc + tech->body_start, ==, strstr (nested_doc, "\nGeneral text.") + 0);
  g_clear_pointer (&text, g_free);

  auth = prd_ai_markdown_find_section (nested_doc, strlen (nested_doc), "auth");
  g_assert_nonnull (auth);
  g_assert_cmpint (auth->level, ==, 3);
  text = section_text (nested_doc, auth);
  g_assert_true (g_str_has_prefix (text, "### Auth\n"));
  g_assert_nonnull (strstr (text, "# not a heading"));
  g_assert_null (strstr (text, "Storage"));
  g_clear_pointer (&text, g_free);

  /* The level-1 title spans the whole document */
  title = prd_ai_markdown_find_section (nested_doc, strlen (nested_doc), "checkout-prd");
  g_assert_nonnull (title);
  g_assert_cmpuint (title->start, ==, 0);
  g_assert_cmpuint (title->end, ==, strlen (nested_doc));

  /* The last section runs to the end */
  timeline = prd_ai_markdown_find_section (nested_doc, strlen (nested_doc), "timeline");
  g_assert_nonnull (timeline);
  g_assert_cmpuint (timeline->end, ==, strlen (nested_doc));

  g_assert_null (prd_ai_markdown_find_section (nested_doc, strlen (nested_doc), "security"));
  g_assert_null (prd_ai_markdown_find_section (nested_doc, strlen (nested_doc), "not-a-heading"));
}

static void
test_setext (void)
{
  g_autoptr (PrdAiSection) tech = NULL;
  g_autoptr (PrdAiSection) goals = NULL;
  g_autofree char *text = NULL;

  tech = prd_ai_markdown_find_section (setext_doc, strlen (setext_doc), "technical-requirements");
  g_assert_nonnull (tech);
  g_assert_cmpint (tech->level, ==, 2);
  text = section_text (setext_doc, tech);
  g_assert_cmpstr (text, ==, "Technical Requirements\n----------------------\n\nReq text.\n\n");
  /* The body starts after the underline */
  g_assert_cmpstr (setext_doc + tech->body_start, ==,
                   "\nReq text.\n\nOther\n-----\n\nOther text.\n");

  goals = prd_ai_markdown_find_section (setext_doc, strlen (setext_doc), "product-goals");
  g_assert_nonnull (goals);
  g_assert_cmpint (goals->level, ==, 1);
  g_assert_cmpuint (goals->end, ==, strlen (setext_doc));
}

static void
test_crlf_and_duplicates (void)
{
  const char *doc =
      "## Notes\r\n\r\nfirst\r\n\r\n## Notes\r\n\r\nsecond\r\n## `Code` *in* heading\r\nx";
  g_autoptr (GPtrArray) sections = prd_ai_markdown_get_sections (doc, strlen (doc));
  PrdAiSection *first, *second, *third;
  g_autofree char *text = NULL;

  g_assert_cmpuint (sections->len, ==, 3);
  first = g_ptr_array_index (sections, 0);
  second = g_ptr_array_index (sections, 1);
  third = g_ptr_array_index (sections, 2);
  g_assert_cmpstr (first->slug, ==, "notes");
  g_assert_cmpstr (second->slug, ==, "notes-1");
  g_assert_cmpstr (third->slug, ==, "code-in-heading");
  g_assert_cmpstr (third->title, ==, "Code in heading");
  text = section_text (doc, second);
  g_assert_cmpstr (text, ==, "## Notes\r\n\r\nsecond\r\n");
  g_assert_cmpstr (doc + third->body_start, ==, "x");
}

/* Thousands of headings of one title (and some that look like its
 * suffixed slugs) get distinct slugs in order, and nested sections end
 * where the next heading of their level or higher starts. */
static void
test_many_duplicates (void)
{
  g_autoptr (GString) doc = g_string_new ("# Top\n");
  g_autoptr (GPtrArray) sections = NULL;
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  g_string_append (doc, "## Same 2\n");
  for (guint i = 0; i < 3000; i++)
    g_string_append (doc, i % 2 == 0 ? "## Same\ntext\n" : "### Same\n");
  g_string_append (doc, "# End\n");
  sections = prd_ai_markdown_get_sections (doc->str, doc->len);
  g_assert_cmpuint (sections->len, ==, 3003);
  for (guint i = 0; i < sections->len; i++)
    {
      PrdAiSection *section = g_ptr_array_index (sections, i);

      g_assert_false (g_hash_table_contains (seen, section->slug));
      g_hash_table_add (seen, section->slug);
    }
  /* "same-2" is taken by "Same 2": the third "Same" skips it */
  g_assert_cmpstr (((PrdAiSection *) g_ptr_array_index (sections, 2))->slug, ==, "same");
  g_assert_cmpstr (((PrdAiSection *) g_ptr_array_index (sections, 3))->slug, ==, "same-1");
  g_assert_cmpstr (((PrdAiSection *) g_ptr_array_index (sections, 4))->slug, ==, "same-3");
  g_assert_cmpstr (((PrdAiSection *) g_ptr_array_index (sections, 3001))->slug, ==, "same-3000");
  /* # Top ends at # End; each ## at the next ##; each ### at the next ## */
  {
    PrdAiSection *top = g_ptr_array_index (sections, 0);
    PrdAiSection *h2 = g_ptr_array_index (sections, 2);
    PrdAiSection *h3 = g_ptr_array_index (sections, 3);
    PrdAiSection *next_h2 = g_ptr_array_index (sections, 4);
    PrdAiSection *end = g_ptr_array_index (sections, 3002);

    g_assert_cmpuint (top->end, ==, end->start);
    g_assert_cmpuint (h2->end, ==, next_h2->start);
    g_assert_cmpuint (h3->end, ==, next_h2->start);
    g_assert_cmpuint (end->end, ==, doc->len);
  }
}

static const PrdAiMessage *
message (PrdAiPrompt *prompt, guint i)
{
  return g_ptr_array_index (prompt->messages, i);
}

static void
test_build_whole (void)
{
  g_autoptr (GError) error = NULL;
  PrdAiPromptInput input = {
    .markdown = nested_doc,
    .section = "technical-requirements",
    .selected_text = "OAuth2",
    .prompt = "Add requirements for token refresh",
    .context_chars = PRD_AI_DEFAULT_CONTEXT_CHARS,
  };
  g_autoptr (PrdAiPrompt) prompt = prd_ai_prompt_build (&input, &error);
  g_autofree char *expected_prd = NULL;

  g_assert_no_error (error);
  g_assert_true (prompt->whole_document);
  g_assert_false (prompt->trimmed);
  g_assert_cmpstr (prompt->context, ==, nested_doc);
  g_assert_nonnull (prompt->section);
  g_assert_cmpstr (prompt->section->title, ==, "Technical Requirements");

  g_assert_cmpuint (prompt->messages->len, ==, 3);
  g_assert_cmpint (message (prompt, 0)->role, ==, PRD_AI_ROLE_SYSTEM);
  g_assert_nonnull (strstr (message (prompt, 0)->content, "product requirements document"));
  g_assert_cmpint (message (prompt, 1)->role, ==, PRD_AI_ROLE_USER);
  expected_prd = g_strconcat ("<prd>\n", nested_doc, "</prd>\n", NULL);
  g_assert_nonnull (strstr (message (prompt, 1)->content, expected_prd));
  g_assert_nonnull (strstr (message (prompt, 1)->content,
                            "Work on the section \"Technical Requirements\" (a level-2 heading)"));
  g_assert_nonnull (strstr (message (prompt, 1)->content, "<selection>\nOAuth2\n</selection>"));
  g_assert_null (strstr (message (prompt, 1)->content, "Outline"));
  g_assert_cmpint (message (prompt, 2)->role, ==, PRD_AI_ROLE_USER);
  g_assert_cmpstr (message (prompt, 2)->content, ==, "Add requirements for token refresh");
}

static void
test_build_missing_section (void)
{
  g_autoptr (GError) error = NULL;
  PrdAiPromptInput input = {
    .markdown = setext_doc,
    .section = "security",
    .prompt = "Write the security section",
    .context_chars = PRD_AI_DEFAULT_CONTEXT_CHARS,
  };
  g_autoptr (PrdAiPrompt) prompt = prd_ai_prompt_build (&input, &error);

  g_assert_no_error (error);
  g_assert_null (prompt->section);
  g_assert_true (prompt->whole_document);
  g_assert_nonnull (strstr (message (prompt, 1)->content, "has no section \"security\" yet"));
  g_assert_null (strstr (message (prompt, 1)->content, "<selection>"));
}

static void
test_build_empty_document (void)
{
  g_autoptr (GError) error = NULL;
  PrdAiPromptInput input = { .prompt = "Draft a PRD for a checkout page",
                             .context_chars = PRD_AI_MIN_CONTEXT_CHARS };
  g_autoptr (PrdAiPrompt) prompt = prd_ai_prompt_build (&input, &error);

  g_assert_no_error (error);
  g_assert_true (prompt->whole_document);
  g_assert_cmpstr (prompt->context, ==, "");
  g_assert_cmpuint (prompt->messages->len, ==, 3);
}

/* A document of @n sections of about @body_chars characters each. */
static char *
big_document (guint n, gsize body_chars)
{
  GString *doc = g_string_new ("# Big PRD\n\n");

  for (guint i = 0; i < n; i++)
    {
      g_string_append_printf (doc, "## Section %u\n\n", i);
      for (gsize written = 0; written < body_chars;)
        {
          g_autofree char *line =
              g_strdup_printf ("Line %" G_GSIZE_FORMAT " of section %u: the system shall "
                               "do something \xc3\xa9l\xc3\xa9gant.\n",
                               written, i);

          g_string_append (doc, line);
          written += (gsize) g_utf8_strlen (line, -1);
        }
      g_string_append_c (doc, '\n');
    }
  return g_string_free (doc, FALSE);
}

/* Every line of the excerpt is a whole line of the document, or a marker. */
static void
assert_whole_lines (const char *doc, const char *context)
{
  g_auto (GStrv) lines = g_strsplit (context, "\n", -1);
  guint n = g_strv_length (lines);

  g_assert_true (g_utf8_validate (context, -1, NULL));
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *needle = NULL;

      if (*lines[i] == '\0' || g_str_equal (lines[i], "[…]"))
        continue;
      needle = g_strconcat ("\n", lines[i], "\n", NULL);
      if (strstr (doc, needle) == NULL && !g_str_has_prefix (doc, needle + 1))
        g_error ("line \"%s\" of the excerpt is not a whole line of the document", lines[i]);
    }
}

static void
test_build_huge_document (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *doc = big_document (400, 2000);
  PrdAiPromptInput input = {
    .markdown = doc,
    .section = "section-200",
    .prompt = "Tighten this section",
    .context_chars = 8000,
  };
  g_autoptr (PrdAiPrompt) prompt = prd_ai_prompt_build (&input, &error);
  g_autoptr (PrdAiSection) section = NULL;
  g_autofree char *section_body = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (strlen (doc), >, 800000);
  g_assert_false (prompt->whole_document);
  g_assert_true (prompt->trimmed);
  g_assert_nonnull (prompt->section);

  /* The whole section, with some of its neighbours, within the budget */
  section = prd_ai_markdown_find_section (doc, strlen (doc), "section-200");
  section_body = section_text (doc, section);
  g_assert_nonnull (strstr (prompt->context, section_body));
  g_assert_cmpuint (g_utf8_strlen (prompt->context, -1), <=, input.context_chars);
  g_assert_true (g_str_has_prefix (prompt->context, "[…]\n"));
  g_assert_true (g_str_has_suffix (prompt->context, "\n[…]\n"));
  g_assert_nonnull (strstr (prompt->context, "of section 199"));
  g_assert_nonnull (strstr (prompt->context, "of section 201"));
  g_assert_null (strstr (prompt->context, "of section 150"));
  assert_whole_lines (doc, prompt->context);

  /* The outline, itself bounded, tells the model where it is */
  g_assert_nonnull (strstr (message (prompt, 1)->content, "Outline of the PRD"));
  g_assert_nonnull (strstr (message (prompt, 1)->content, "  - Section 200\n"));
  /* ... its part around the section, when it is too long to send whole */
  g_assert_null (strstr (message (prompt, 1)->content, "  - Section 0\n"));
  g_assert_nonnull (strstr (message (prompt, 1)->content, "(its headings):\n[…]\n"));
  g_assert_nonnull (strstr (message (prompt, 1)->content, "An excerpt of the PRD"));
  g_assert_cmpuint (g_utf8_strlen (message (prompt, 1)->content, -1), <,
                    input.context_chars + 1000);
}

static void
test_build_oversized_section (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *doc = big_document (3, 50000);
  g_autofree char *selection = NULL;
  PrdAiPromptInput input = {
    .markdown = doc,
    .section = "section-1",
    .prompt = "Rewrite the selected requirement",
    .context_chars = 3000,
  };
  g_autoptr (PrdAiPrompt) with_selection = NULL;
  g_autoptr (PrdAiPrompt) without = NULL;
  const char *line_start = strstr (doc, "Line 30");

  /* A line deep inside section 1 */
  line_start = strstr (strstr (doc, "## Section 1\n"), "Line 30");
  g_assert_nonnull (line_start);
  selection = g_strndup (line_start, (gsize) (strchr (line_start, '\n') - line_start));
  g_assert_nonnull (strstr (selection, "of section 1:"));
  input.selected_text = selection;

  with_selection = prd_ai_prompt_build (&input, &error);
  g_assert_no_error (error);
  g_assert_true (with_selection->trimmed);
  g_assert_nonnull (strstr (with_selection->context, selection));
  g_assert_cmpuint (g_utf8_strlen (with_selection->context, -1), <=, input.context_chars);
  /* Only text of that section */
  g_assert_null (strstr (with_selection->context, "of section 0:"));
  g_assert_null (strstr (with_selection->context, "of section 2:"));
  g_assert_true (g_str_has_prefix (with_selection->context, "[…]\n"));
  assert_whole_lines (doc, with_selection->context);

  /* Without a selection: the beginning of the section */
  input.selected_text = NULL;
  without = prd_ai_prompt_build (&input, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (without->context, "[…]\n## Section 1\n"));
  g_assert_true (g_str_has_suffix (without->context, "\n[…]\n"));
  g_assert_cmpuint (g_utf8_strlen (without->context, -1), <=, input.context_chars);
  assert_whole_lines (doc, without->context);
}

static void
test_build_no_section_huge (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *doc = big_document (100, 2000);
  const char *line = strstr (strstr (doc, "## Section 70\n"), "Line ");
  g_autofree char *selection = g_strndup (line, (gsize) (strchr (line, '\n') - line));
  PrdAiPromptInput input = {
    .markdown = doc,
    .selected_text = selection,
    .prompt = "Explain",
    .context_chars = 2000,
  };
  g_autoptr (PrdAiPrompt) prompt = NULL;

  g_assert_nonnull (strstr (selection, "of section 70:"));
  prompt = prd_ai_prompt_build (&input, &error);
  g_assert_no_error (error);
  g_assert_null (prompt->section);
  g_assert_true (prompt->trimmed);
  g_assert_nonnull (strstr (prompt->context, selection));
  g_assert_true (g_str_has_prefix (prompt->context, "[…]\n"));
  g_assert_cmpuint (g_utf8_strlen (prompt->context, -1), <=, input.context_chars);
  assert_whole_lines (doc, prompt->context);

  /* Neither section nor selection: the start of the document */
  input.selected_text = NULL;
  g_clear_pointer (&prompt, prd_ai_prompt_free);
  prompt = prd_ai_prompt_build (&input, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (prompt->context, "# Big PRD\n"));
  g_assert_true (g_str_has_suffix (prompt->context, "\n[…]\n"));
}

static void
test_build_invalid (void)
{
  g_autofree char *long_prompt = g_strnfill (PRD_AI_MAX_PROMPT_CHARS + 1, 'p');
  g_autofree char *max_prompt = g_strnfill (PRD_AI_MAX_PROMPT_CHARS, 'p');
  g_autofree char *long_selection = g_strnfill (PRD_AI_MAX_SELECTION_CHARS + 1, 's');
  struct
  {
    PrdAiPromptInput input;
    int code;
  } cases[] = {
    { { .markdown = "x", .prompt = NULL, .context_chars = 1000 }, PRD_ERROR_INVALID_PAYLOAD },
    { { .markdown = "x", .prompt = "", .context_chars = 1000 }, PRD_ERROR_INVALID_PAYLOAD },
    { { .markdown = "x", .prompt = long_prompt, .context_chars = 1000 },
      PRD_ERROR_PAYLOAD_TOO_LARGE },
    { { .markdown = "x", .prompt = "\xc3", .context_chars = 1000 }, PRD_ERROR_INVALID_PAYLOAD },
    { { .markdown = "x\xff", .prompt = "p", .context_chars = 1000 }, PRD_ERROR_INVALID_PAYLOAD },
    { { .markdown = "x", .prompt = "p", .selected_text = long_selection, .context_chars = 1000 },
      PRD_ERROR_PAYLOAD_TOO_LARGE },
    { { .markdown = "x", .prompt = "p", .section = "has space", .context_chars = 1000 },
      PRD_ERROR_INVALID_PAYLOAD },
    { { .markdown = "x", .prompt = "p", .section = "../etc", .context_chars = 1000 },
      PRD_ERROR_INVALID_PAYLOAD },
    { { .markdown = "x", .prompt = "p", .context_chars = PRD_AI_MIN_CONTEXT_CHARS - 1 },
      PRD_ERROR_CONFIG },
    { { .markdown = "x", .prompt = "p", .context_chars = PRD_AI_MAX_CONTEXT_CHARS + 1 },
      PRD_ERROR_CONFIG },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_null (prd_ai_prompt_build (&cases[i].input, &error));
      g_assert_error (error, PRD_ERROR, cases[i].code);
    }

  {
    g_autoptr (GError) error = NULL;
    PrdAiPromptInput input = { .markdown = "x", .prompt = max_prompt, .context_chars = 1000 };
    g_autoptr (PrdAiPrompt) prompt = prd_ai_prompt_build (&input, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (message (prompt, 2)->content, ==, max_prompt);
  }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/prd/ai/prompt/slugify", test_slugify);
  g_test_add_func ("/prd/ai/prompt/nested-headings", test_nested);
  g_test_add_func ("/prd/ai/prompt/setext-headings", test_setext);
  g_test_add_func ("/prd/ai/prompt/crlf-and-duplicates", test_crlf_and_duplicates);
  g_test_add_func ("/prd/ai/prompt/many-duplicates", test_many_duplicates);
  g_test_add_func ("/prd/ai/prompt/build-whole", test_build_whole);
  g_test_add_func ("/prd/ai/prompt/build-missing-section", test_build_missing_section);
  g_test_add_func ("/prd/ai/prompt/build-empty-document", test_build_empty_document);
  g_test_add_func ("/prd/ai/prompt/build-huge-document", test_build_huge_document);
  g_test_add_func ("/prd/ai/prompt/build-oversized-section", test_build_oversized_section);
  g_test_add_func ("/prd/ai/prompt/build-no-section-huge", test_build_no_section_huge);
  g_test_add_func ("/prd/ai/prompt/build-invalid", test_build_invalid);

  return g_test_run ();
}
