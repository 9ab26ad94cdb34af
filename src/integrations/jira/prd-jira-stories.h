/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The longest Jira summary. */
#define PRD_JIRA_MAX_SUMMARY 255
/* The most stories a PRD may have to be synced with Jira (a sync of one
 * with more is refused whole, LIMIT_REACHED). */
#define PRD_JIRA_MAX_STORIES 1000

/**
 * PrdJiraStory:
 * @summary: the item's first line without Markdown (and without a trailing
 *   issue key), at most 255 characters
 * @description: the rest of the item, as Markdown, dedented ("" if none)
 * @key: (nullable): the issue key the first line ends with, `(PRD-12)`
 * @index: the item's index among the stories
 * @line_start: byte offset of the first line's text (after the marker)
 * @line_end: byte offset of the end of the first line
 * @digest: a digest of summary and description
 */
typedef struct
{
  char *summary;
  char *description;
  char *key;
  guint index;
  gsize line_start;
  gsize line_end;
  char *digest;
} PrdJiraStory;

/**
 * PrdJiraStories:
 * @stories: (element-type PrdJiraStory): every top-level list item under a
 *   "User Stories" heading (any level, any case), in order
 * @insert_at: byte offset where a new item is inserted
 * @insert_prefix: what goes before a new item's `- ` there (a newline, or
 *   a new "User Stories" heading when the PRD has none)
 * @n_found: how many stories the PRD has; past %PRD_JIRA_MAX_STORIES only
 *   the first %PRD_JIRA_MAX_STORIES are in @stories (see
 *   prd_jira_stories_check())
 */
typedef struct
{
  GPtrArray *stories;
  guint n_found;
  gsize insert_at;
  char *insert_prefix;
} PrdJiraStories;

PrdJiraStories *prd_jira_stories_parse (const char *markdown, gsize len);
void prd_jira_stories_free (PrdJiraStories *stories);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdJiraStories, prd_jira_stories_free)

gboolean prd_jira_stories_check (PrdJiraStories *stories, GError **error);

char *prd_jira_story_digest (const char *summary, const char *description);
char *prd_jira_clean_summary (const char *text);
char *prd_jira_escape_summary (const char *summary);
gboolean prd_jira_key_is_valid (const char *key);

G_END_DECLS
