/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Comment anchors. A comment is tied to characters, not to offsets: its
 * position to the character after it, its selection to its first and last
 * characters. Positions are re-read from the CRDT whenever a comment is
 * sent, so they follow every later edit. Deleted characters stay in the
 * CRDT as tombstones, which is how a comment knows its text is gone.
 */
#define G_LOG_DOMAIN "prd-core"

#include "config.h"

#include <string.h>

#include "prd-error.h"

#include "prd-comment.h"

void
prd_comment_place_clear (PrdCommentPlace *place)
{
  g_clear_pointer (&place->text, g_free);
}

static gboolean
anchor_at (PrdCrdtDoc *doc,
           const guint32 *version,
           gsize n_version,
           guint32 position,
           PrdCrdtAssoc assoc,
           const char *what,
           PrdCrdtAnchor *anchor,
           GError **error)
{
  guint32 length = prd_crdt_doc_get_length (doc);
  g_autoptr (GError) local_error = NULL;

  if (version != NULL)
    {
      if (!prd_crdt_doc_anchor_at_version (doc, version, n_version, position, assoc, anchor,
                                           &local_error))
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "%s (%u) at stateVector: %s",
                       what, position, local_error->message);
          return FALSE;
        }
      return TRUE;
    }
  if (position > length)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                   "%s (%u) is past the end of the text (%u)", what, position, length);
      return FALSE;
    }
  if (!prd_crdt_doc_anchor_at (doc, position, assoc, anchor, error))
    return FALSE;
  return TRUE;
}

/**
 * prd_comment_anchor_init:
 * @version: (array length=n_version) (nullable): the state vector of the
 *   text the offsets were read in (which @doc has); %NULL: the current text
 * @position: UTF-16 offset in that text
 * @start: (if @has_selection) the selection's start, @start < @end
 *
 * Ties a new comment to the characters at these offsets.
 */
gboolean
prd_comment_anchor_init (PrdCommentAnchor *anchor,
                         PrdCrdtDoc *doc,
                         const guint32 *version,
                         gsize n_version,
                         guint32 position,
                         gboolean has_selection,
                         guint32 start,
                         guint32 end,
                         GError **error)
{
  memset (anchor, 0, sizeof *anchor);
  if (!anchor_at (doc, version, n_version, position, PRD_CRDT_ASSOC_AFTER, "position",
                  &anchor->position, error))
    return FALSE;
  if (!has_selection)
    return TRUE;
  if (start >= end)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                   "selection.start (%u) must be below selection.end (%u)", start, end);
      return FALSE;
    }
  /* The end is tied to the last selected character, so text typed right
   * after the selection stays out of it. */
  if (!anchor_at (doc, version, n_version, start, PRD_CRDT_ASSOC_AFTER, "selection.start",
                  &anchor->start, error) ||
      !anchor_at (doc, version, n_version, end, PRD_CRDT_ASSOC_BEFORE, "selection.end",
                  &anchor->end, error))
    return FALSE;
  anchor->has_selection = TRUE;
  return TRUE;
}

/* Whether the character @anchor is tied to has been deleted: a deleted
 * character resolves to the same offset on both sides. */
static gboolean
char_deleted (PrdCrdtDoc *doc, const PrdCrdtAnchor *anchor)
{
  PrdCrdtAnchor after = *anchor, before = *anchor;
  guint32 a = 0, b = 0;

  if (!anchor->has_id)
    return FALSE;
  after.assoc = PRD_CRDT_ASSOC_AFTER;
  before.assoc = PRD_CRDT_ASSOC_BEFORE;
  if (!prd_crdt_doc_anchor_resolve (doc, &after, &a, NULL) ||
      !prd_crdt_doc_anchor_resolve (doc, &before, &b, NULL))
    return TRUE;
  return a == b;
}

static guint32
resolve (PrdCrdtDoc *doc, const PrdCrdtAnchor *anchor)
{
  guint32 position = 0;

  if (!prd_crdt_doc_anchor_resolve (doc, anchor, &position, NULL))
    return 0;
  return position;
}

/* Byte offsets of every CHECKPOINT_UNITS-th UTF-16 code unit. */
#define CHECKPOINT_UNITS 256

struct _PrdCommentText
{
  char *text;          /* (owned) */
  GArray *checkpoints; /* (element-type Checkpoint) */
};

typedef struct
{
  guint32 unit; /* the first character at or after a multiple of CHECKPOINT_UNITS */
  gsize byte;
} Checkpoint;

/**
 * prd_comment_text_new:
 * @doc: the document
 *
 * Returns: (transfer full): the text of @doc now, to place comments in
 */
PrdCommentText *
prd_comment_text_new (PrdCrdtDoc *doc)
{
  PrdCommentText *self = g_new0 (PrdCommentText, 1);
  guint32 units = 0;
  const char *p;

  self->text = prd_crdt_doc_get_text (doc);
  if (self->text == NULL)
    self->text = g_strdup ("");
  self->checkpoints = g_array_new (FALSE, FALSE, sizeof (Checkpoint));
  for (p = self->text; *p != '\0'; p = g_utf8_next_char (p))
    {
      if (units >= self->checkpoints->len * CHECKPOINT_UNITS)
        {
          Checkpoint c = { units, (gsize) (p - self->text) };

          g_array_append_val (self->checkpoints, c);
        }
      units += (guchar) *p >= 0xf0 ? 2 : 1;
    }
  return self;
}

void
prd_comment_text_free (PrdCommentText *self)
{
  if (self == NULL)
    return;
  g_free (self->text);
  g_array_unref (self->checkpoints);
  g_free (self);
}

/* Byte of @text at UTF-16 offset @offset (clamped to the end; an offset
 * inside a surrogate pair is that character's end), walked from @from. */
static const char *
utf16_walk (const char *from, guint32 from_unit, guint32 offset, guint32 *out_unit)
{
  const char *p = from;
  guint32 units = from_unit;

  while (*p != '\0' && units < offset)
    {
      units += (guchar) *p >= 0xf0 ? 2 : 1;
      p = g_utf8_next_char (p);
    }
  if (out_unit != NULL)
    *out_unit = units;
  return p;
}

static const char *
text_at (PrdCommentText *self, guint32 offset, guint32 *out_unit)
{
  guint i = offset / CHECKPOINT_UNITS;
  const Checkpoint *c;

  if (self->checkpoints->len == 0)
    return utf16_walk (self->text, 0, offset, out_unit);
  if (i >= self->checkpoints->len)
    i = self->checkpoints->len - 1;
  c = &g_array_index (self->checkpoints, Checkpoint, i);
  if (c->unit > offset && i > 0)
    c = &g_array_index (self->checkpoints, Checkpoint, i - 1);
  return utf16_walk (self->text + c->byte, c->unit, offset, out_unit);
}

/* The selected characters, at most PRD_COMMENT_MAX_SELECTION_TEXT units of
 * them: a character that would cross the limit (a surrogate pair) is left
 * out with the rest. */
static void
place_text (PrdCommentText *text, PrdCommentPlace *place)
{
  guint32 unit = 0, limit;
  const char *from, *to, *p;

  from = text_at (text, place->start, &unit);
  limit = place->end - place->start > PRD_COMMENT_MAX_SELECTION_TEXT
              ? unit + PRD_COMMENT_MAX_SELECTION_TEXT
              : place->end;
  for (p = from; *p != '\0' && unit < place->end; p = g_utf8_next_char (p))
    {
      guint32 width = (guchar) *p >= 0xf0 ? 2 : 1;

      if (unit + width > limit)
        {
          place->truncated = TRUE;
          break;
        }
      unit += width;
    }
  to = p;
  place->text = g_strndup (from, (gsize) (to - from));
}

/**
 * prd_comment_anchor_resolve:
 * @text: (nullable): the text of @doc now (prd_comment_text_new()), when
 *   several comments are placed in it; %NULL reads it
 *
 * Where the comment is now. A comment with a selection is detached once
 * every selected character is deleted; one without, once the character at
 * its position is. The selected text is cut at
 * %PRD_COMMENT_MAX_SELECTION_TEXT UTF-16 code units (@out_place's
 * `truncated`).
 */
void
prd_comment_anchor_resolve (const PrdCommentAnchor *anchor,
                            PrdCrdtDoc *doc,
                            PrdCommentText *text,
                            PrdCommentPlace *out_place)
{
  g_autoptr (PrdCommentText) own = NULL;

  memset (out_place, 0, sizeof *out_place);
  out_place->position = resolve (doc, &anchor->position);
  if (!anchor->has_selection)
    {
      out_place->detached = char_deleted (doc, &anchor->position);
      return;
    }
  out_place->start = resolve (doc, &anchor->start);
  out_place->end = resolve (doc, &anchor->end);
  if (out_place->end < out_place->start)
    out_place->end = out_place->start;
  out_place->detached = out_place->end == out_place->start;
  if (text == NULL)
    text = own = prd_comment_text_new (doc);
  place_text (text, out_place);
}

/**
 * prd_comment_utf16_slice:
 *
 * Returns: (transfer full): the characters of @text between UTF-16 offsets
 *   @start and @end
 */
char *
prd_comment_utf16_slice (const char *text, guint32 start, guint32 end)
{
  gsize from, to;

  if (text == NULL)
    return g_strdup ("");
  from = (gsize) (utf16_walk (text, 0, start, NULL) - text);
  to = (gsize) (utf16_walk (text, 0, end, NULL) - text);
  return g_strndup (text + from, to > from ? to - from : 0);
}

gboolean
prd_comment_validate_content (const char *what, const char *content, GError **error)
{
  glong length;

  if (content == NULL || !g_utf8_validate (content, -1, NULL))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "%s must be a string", what);
      return FALSE;
    }
  length = g_utf8_strlen (content, -1);
  if (length < 1 || length > PRD_COMMENT_MAX_CONTENT)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                   "%s must hold 1 to %d characters (it has %ld)", what, PRD_COMMENT_MAX_CONTENT,
                   length);
      return FALSE;
    }
  return TRUE;
}

static gboolean
is_mention_char (gunichar c)
{
  return g_unichar_isalnum (c) || c == '_' || c == '-' || c == '.';
}

/**
 * prd_comment_parse_mentions:
 *
 * `@word` tokens of @content, where a word is letters, digits, `_`, `-`
 * and `.` (a trailing dot is punctuation, not part of the name). An `@`
 * inside a word (an e-mail address) is not a mention. Each name once, in
 * order.
 *
 * Returns: (transfer full) (element-type utf8): the names without `@`
 */
GPtrArray *
prd_comment_parse_mentions (const char *content)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal); /* in @names */
  const char *p = content;
  gunichar previous = 0;

  while (p != NULL && *p != '\0')
    {
      gunichar c = g_utf8_get_char (p);

      if (c == '@' && (previous == 0 || !is_mention_char (previous)))
        {
          const char *start = g_utf8_next_char (p), *end = start;
          g_autofree char *name = NULL;

          while (*end != '\0' && is_mention_char (g_utf8_get_char (end)))
            end = g_utf8_next_char (end);
          while (end > start && end[-1] == '.')
            end--;
          if (end > start)
            {
              name = g_strndup (start, end - start);
              if (!g_hash_table_contains (seen, name))
                {
                  g_hash_table_add (seen, name);
                  g_ptr_array_add (names, g_steal_pointer (&name));
                }
            }
          previous = '@';
          p = end > start ? end : start;
          continue;
        }
      previous = c;
      p = g_utf8_next_char (p);
    }
  return names;
}
