/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-crdt.h"

G_BEGIN_DECLS

/* The most UTF-8 characters a comment or reply may hold. */
#define PRD_COMMENT_MAX_CONTENT 10000

/* The most UTF-16 code units of `selection.text` the hub sends: the rest is
 * cut (never inside a surrogate pair) and `textTruncated` says so. */
#define PRD_COMMENT_MAX_SELECTION_TEXT 1000

/**
 * PrdCommentAnchor:
 * @position: where the comment points (tied to the character after it)
 * @has_selection: whether @start and @end are set
 * @start: the selection's first character
 * @end: the selection's end (tied to its last character)
 *
 * A comment's place in the text, as CRDT anchors so that it follows edits.
 */
typedef struct
{
  PrdCrdtAnchor position;
  gboolean has_selection;
  PrdCrdtAnchor start;
  PrdCrdtAnchor end;
} PrdCommentAnchor;

/**
 * PrdCommentPlace:
 * @position: the comment's position now
 * @start: the selection's start now (if any)
 * @end: the selection's end now (if any)
 * @text: (nullable): the selected text now, its first
 *   %PRD_COMMENT_MAX_SELECTION_TEXT UTF-16 code units at most
 * @truncated: @text is shorter than the selection
 * @detached: the anchored text is gone
 */
typedef struct
{
  guint32 position;
  guint32 start;
  guint32 end;
  char *text;
  gboolean truncated;
  gboolean detached;
} PrdCommentPlace;

/**
 * PrdCommentText:
 *
 * A document's text read once, with an index from UTF-16 offsets to bytes,
 * so that placing many comments in it costs neither a copy of the text nor
 * a walk from its start per comment.
 */
typedef struct _PrdCommentText PrdCommentText;

PrdCommentText *prd_comment_text_new (PrdCrdtDoc *doc);
void prd_comment_text_free (PrdCommentText *text);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdCommentText, prd_comment_text_free)

void prd_comment_place_clear (PrdCommentPlace *place);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (PrdCommentPlace, prd_comment_place_clear)

gboolean prd_comment_anchor_init (PrdCommentAnchor *anchor,
                                  PrdCrdtDoc *doc,
                                  const guint32 *version,
                                  gsize n_version,
                                  guint32 position,
                                  gboolean has_selection,
                                  guint32 start,
                                  guint32 end,
                                  GError **error);
void prd_comment_anchor_resolve (const PrdCommentAnchor *anchor,
                                 PrdCrdtDoc *doc,
                                 PrdCommentText *text,
                                 PrdCommentPlace *out_place);
char *prd_comment_utf16_slice (const char *text, guint32 start, guint32 end);
gboolean prd_comment_validate_content (const char *what, const char *content, GError **error);
GPtrArray *prd_comment_parse_mentions (const char *content);

G_END_DECLS
