/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The stories of a PRD, for Jira: each top-level list item under a heading
 * whose text is "User Stories" (any level, any case) is one story. Its
 * first line, without Markdown, is the summary; the rest of the
 * item is its description. A first line that ends with an issue key in
 * parentheses, `- Login page (PRD-12)`, names the issue it was imported
 * from or exported to; the key is not part of the summary.
 *
 * The Markdown is parsed with cmark; byte offsets come from its source
 * positions (lines and byte columns).
 */
#define G_LOG_DOMAIN "prd-integration-jira"

#include "config.h"

#include <cmark.h>
#include <string.h>

#include "prd-autocleanups.h"
#include "prd-error.h"

#include "prd-jira-stories.h"

static void
story_free (PrdJiraStory *story)
{
  g_free (story->summary);
  g_free (story->description);
  g_free (story->key);
  g_free (story->digest);
  g_free (story);
}

void
prd_jira_stories_free (PrdJiraStories *stories)
{
  if (stories == NULL)
    return;
  g_ptr_array_unref (stories->stories);
  g_free (stories->insert_prefix);
  g_free (stories);
}

/* `[A-Z][A-Z0-9_]+-[0-9]+`, as Jira project keys and issue numbers are. */
gboolean
prd_jira_key_is_valid (const char *key)
{
  const char *p = key;

  if (key == NULL || strlen (key) > 64 || !g_ascii_isupper (*p))
    return FALSE;
  for (p++; g_ascii_isupper (*p) || g_ascii_isdigit (*p) || *p == '_'; p++)
    ;
  if (*p != '-' || p - key < 2 || !g_ascii_isdigit (p[1]))
    return FALSE;
  for (p++; g_ascii_isdigit (*p); p++)
    ;
  return *p == '\0';
}

char *
prd_jira_story_digest (const char *summary, const char *description)
{
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);

  g_checksum_update (checksum, (const guchar *) summary, -1);
  g_checksum_update (checksum, (const guchar *) "\n", 1);
  g_checksum_update (checksum, (const guchar *) description, -1);
  return g_strndup (g_checksum_get_string (checksum), 32);
}

/* Whitespace runs become one space (control characters, C0, DEL and C1,
 * count as whitespace); the ends are trimmed; at most @limit characters
 * (cut at a character boundary). */
static char *
clean_text (const char *text, glong limit)
{
  g_autoptr (GString) out = g_string_new (NULL);
  gboolean space = FALSE;
  const char *p;
  glong n = 0;

  for (p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_isspace (c) || c < 0x20 || (c >= 0x7f && c <= 0x9f))
        {
          space = out->len > 0;
          continue;
        }
      if (n >= limit)
        break;
      if (space)
        {
          if (n + 1 >= limit)
            break;
          g_string_append_c (out, ' ');
          n++;
          space = FALSE;
        }
      g_string_append_unichar (out, c);
      n++;
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* Whitespace runs become one space; the ends are trimmed; at most 255
 * characters (cut at a character boundary). */
char *
prd_jira_clean_summary (const char *text)
{
  return clean_text (text, PRD_JIRA_MAX_SUMMARY);
}

/**
 * prd_jira_escape_summary:
 * @summary: a summary as prd_jira_clean_summary() leaves it
 *
 * The Markdown of a story's first line that reads back as exactly
 * @summary: the characters Markdown would take for emphasis, code, links,
 * HTML, entities or escapes are backslash-escaped, and so is a first
 * character (or the `.`/`)` after leading digits) that would start a
 * heading, quote, list, fence or HTML block inside the item.
 *
 * Returns: (transfer full): the escaped text
 */
char *
prd_jira_escape_summary (const char *summary)
{
  g_autoptr (GString) out = g_string_new (NULL);
  const char *p = summary;

  if (*p != '\0' && strchr ("#>+-=~|", *p) != NULL)
    g_string_append_c (out, '\\');
  else if (g_ascii_isdigit (*p))
    {
      while (g_ascii_isdigit (*p))
        g_string_append_c (out, *p++);
      if (*p == '.' || *p == ')')
        g_string_append_c (out, '\\');
    }
  for (; *p != '\0'; p++)
    {
      if (strchr ("\\`*_[]<&", *p) != NULL)
        g_string_append_c (out, '\\');
      g_string_append_c (out, *p);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* The plain text of inline content, up to the first line break when
 * @first_line. Returns FALSE once a break was met. */
static gboolean
append_text (cmark_node *node, GString *out, gboolean first_line)
{
  for (cmark_node *child = cmark_node_first_child (node); child != NULL;
       child = cmark_node_next (child))
    switch (cmark_node_get_type (child))
      {
        case CMARK_NODE_TEXT:
        case CMARK_NODE_CODE:
          g_string_append (out, cmark_node_get_literal (child));
          break;
        case CMARK_NODE_SOFTBREAK:
        case CMARK_NODE_LINEBREAK:
          if (first_line)
            return FALSE;
          g_string_append_c (out, ' ');
          break;
        case CMARK_NODE_HTML_INLINE:
          break;
        default:
          if (!append_text (child, out, first_line))
            return FALSE;
          break;
      }
  return TRUE;
}

static GArray *
line_starts (const char *text, gsize len)
{
  GArray *starts = g_array_new (FALSE, FALSE, sizeof (gsize));
  gsize zero = 0;

  g_array_append_val (starts, zero); /* index 0 unused: cmark counts from 1 */
  g_array_append_val (starts, zero);
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

/* The end of @line's text, before its line break. */
static gsize
line_end (const char *text, GArray *starts, int line)
{
  gsize end = line_offset (starts, line + 1);
  gsize start = line_offset (starts, line);

  while (end > start && (text[end - 1] == '\n' || text[end - 1] == '\r'))
    end--;
  return end;
}

static gboolean
is_stories_heading (cmark_node *node)
{
  g_autoptr (GString) text = g_string_new (NULL);
  g_autofree char *clean = NULL;

  if (cmark_node_get_type (node) != CMARK_NODE_HEADING)
    return FALSE;
  append_text (node, text, FALSE);
  clean = prd_jira_clean_summary (text->str);
  return g_ascii_strcasecmp (clean, "user stories") == 0;
}

/* Splits a trailing ` (KEY-1)` off @summary. */
static char *
split_key (char *summary)
{
  gsize len = strlen (summary);
  char *open;
  char *key;

  if (len < 5 || summary[len - 1] != ')')
    return NULL;
  open = strrchr (summary, '(');
  if (open == NULL)
    return NULL;
  key = g_strndup (open + 1, (gsize) (summary + len - 1 - (open + 1)));
  if (!prd_jira_key_is_valid (key))
    {
      g_free (key);
      return NULL;
    }
  while (open > summary && open[-1] == ' ')
    open--;
  *open = '\0';
  return key;
}

/* The item's lines after the first, with the item's indentation removed. */
static char *
item_rest (const char *text, GArray *starts, cmark_node *item, int first, int last, int indent)
{
  g_autoptr (GString) out = g_string_new (NULL);

  for (int line = first; line <= last; line++)
    {
      gsize start = line_offset (starts, line);
      gsize end = line_end (text, starts, line);
      int skip = 0;

      while (start < end && skip < indent && text[start] == ' ')
        {
          start++;
          skip++;
        }
      g_string_append_len (out, text + start, (gssize) (end - start));
      g_string_append_c (out, '\n');
    }
  (void) item;
  return g_strstrip (g_string_free (g_steal_pointer (&out), FALSE));
}

static void
add_item (PrdJiraStories *stories, const char *text, GArray *starts, cmark_node *item)
{
  cmark_node *first = cmark_node_first_child (item);
  g_autoptr (GString) raw = g_string_new (NULL);
  PrdJiraStory *story;
  int start_line, first_end_line, last_line, indent;

  if (first == NULL)
    return;
  start_line = cmark_node_get_start_line (first);
  indent = cmark_node_get_start_column (first) - 1;
  last_line = cmark_node_get_end_line (item);
  /* cmark may count blank lines after the item in; drop them. */
  while (last_line > start_line &&
         line_end (text, starts, last_line) == line_offset (starts, last_line))
    last_line--;
  if (cmark_node_get_type (first) == CMARK_NODE_PARAGRAPH ||
      cmark_node_get_type (first) == CMARK_NODE_HEADING)
    append_text (first, raw, TRUE);
  else
    {
      gsize s = line_offset (starts, start_line) + (gsize) indent;
      gsize e = line_end (text, starts, start_line);

      if (s < e)
        g_string_append_len (raw, text + s, (gssize) (e - s));
    }
  first_end_line = start_line;
  story = g_new0 (PrdJiraStory, 1);
  /* The key is split off before the summary is cut to its longest: a long
   * title keeps its key. */
  story->summary = clean_text (raw->str, G_MAXLONG);
  story->key = split_key (story->summary);
  if (g_utf8_strlen (story->summary, -1) > PRD_JIRA_MAX_SUMMARY)
    {
      char *whole = story->summary;

      story->summary = prd_jira_clean_summary (whole);
      g_free (whole);
    }
  story->description = item_rest (text, starts, item, first_end_line + 1, last_line, indent);
  story->index = stories->stories->len;
  story->line_start = line_offset (starts, start_line) + (gsize) indent;
  story->line_end = line_end (text, starts, start_line);
  if (story->line_start > story->line_end)
    story->line_start = story->line_end;
  story->digest = prd_jira_story_digest (story->summary, story->description);
  /* Past the limit the stories are counted, not kept: the sync is
   * refused (prd_jira_stories_check()). */
  if (*story->summary == '\0' || stories->stories->len >= PRD_JIRA_MAX_STORIES)
    {
      stories->n_found += *story->summary != '\0';
      story_free (story);
      return;
    }
  stories->n_found++;
  g_ptr_array_add (stories->stories, story);
}

/**
 * prd_jira_stories_check:
 *
 * A PRD with more than %PRD_JIRA_MAX_STORIES stories is not synced: its
 * stories past the limit would be left out without a word, and their
 * issues given to other stories by position.
 *
 * Returns: %FALSE with %PRD_ERROR_LIMIT_REACHED when @stories has more
 */
gboolean
prd_jira_stories_check (PrdJiraStories *stories, GError **error)
{
  if (stories->n_found <= PRD_JIRA_MAX_STORIES)
    return TRUE;
  g_set_error (error, PRD_ERROR, PRD_ERROR_LIMIT_REACHED,
               "The PRD has %u user stories; a Jira sync takes at most %u: nothing was sent",
               stories->n_found, PRD_JIRA_MAX_STORIES);
  return FALSE;
}

/**
 * prd_jira_stories_parse:
 * @markdown: the PRD's text
 * @len: its length in bytes
 *
 * Returns: (transfer full): the stories and where a new one would go
 */
PrdJiraStories *
prd_jira_stories_parse (const char *markdown, gsize len)
{
  g_autoptr (cmark_node) document = NULL;
  g_autoptr (GArray) starts = NULL;
  PrdJiraStories *stories = g_new0 (PrdJiraStories, 1);
  gboolean inside = FALSE, found = FALSE, placed = FALSE;
  int level = 0;

  stories->stories = g_ptr_array_new_with_free_func ((GDestroyNotify) story_free);
  markdown = markdown != NULL ? markdown : "";
  document = cmark_parse_document (markdown, len, CMARK_OPT_DEFAULT);
  starts = line_starts (markdown, len);

  for (cmark_node *node = cmark_node_first_child (document); node != NULL;
       node = cmark_node_next (node))
    {
      cmark_node_type type = cmark_node_get_type (node);

      if (type == CMARK_NODE_HEADING)
        {
          if (inside && cmark_node_get_heading_level (node) <= level)
            inside = FALSE;
          if (is_stories_heading (node))
            {
              inside = TRUE;
              level = cmark_node_get_heading_level (node);
              if (!found)
                {
                  /* New items go right under the first such heading, unless
                   * a list follows it. */
                  found = TRUE;
                  stories->insert_at =
                      line_end (markdown, starts, cmark_node_get_start_line (node));
                  if (cmark_node_get_end_line (node) > cmark_node_get_start_line (node))
                    stories->insert_at =
                        line_end (markdown, starts, cmark_node_get_start_line (node) + 1);
                  stories->insert_prefix = g_strdup ("\n\n");
                }
            }
          continue;
        }
      if (!inside || type != CMARK_NODE_LIST)
        continue;
      for (cmark_node *item = cmark_node_first_child (node); item != NULL;
           item = cmark_node_next (item))
        add_item (stories, markdown, starts, item);
      if (!placed && stories->stories->len > 0)
        {
          PrdJiraStory *last = g_ptr_array_index (stories->stories, stories->stories->len - 1);
          int end = cmark_node_get_end_line (node);

          while (end > 1 && line_end (markdown, starts, end) == line_offset (starts, end))
            end--;
          stories->insert_at = MAX (line_end (markdown, starts, end), last->line_end);
          g_free (stories->insert_prefix);
          stories->insert_prefix = g_strdup ("\n");
          placed = TRUE;
        }
    }
  if (!found)
    {
      gsize end = len;

      while (end > 0 && (markdown[end - 1] == '\n' || markdown[end - 1] == '\r'))
        end--;
      stories->insert_at = end;
      stories->insert_prefix =
          g_strdup (end > 0 ? "\n\n## User Stories\n\n" : "## User Stories\n\n");
    }
  return stories;
}
