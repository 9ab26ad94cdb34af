/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-core"

#include "config.h"

#include "prd-conflict.h"

PrdConflictEdit *
prd_conflict_edit_new (const PrdCrdtOp *op,
                       const guint32 *base,
                       gsize n_base,
                       guint32 client_position,
                       const char *user_id,
                       const char *user_name,
                       gint64 time_us)
{
  PrdConflictEdit *edit;

  g_return_val_if_fail (op != NULL, NULL);
  g_return_val_if_fail (user_id != NULL, NULL);
  g_return_val_if_fail (base != NULL || n_base == 0, NULL);

  /* A missing entry is 0: the window keeps up to PRD_CONFLICT_DEFAULT_WINDOW_EDITS
   * edits of each PRD, each with its base, so that a client's padding must
   * not be kept with it. */
  while (n_base > 0 && base[n_base - 1] == 0)
    n_base--;
  edit = g_new0 (PrdConflictEdit, 1);
  edit->user_id = g_strdup (user_id);
  edit->user_name = g_strdup (user_name != NULL ? user_name : user_id);
  edit->site = op->site;
  edit->seq = op->seq;
  edit->type = op->type;
  edit->base = g_array_sized_new (FALSE, TRUE, sizeof (guint32), n_base);
  g_array_append_vals (edit->base, base, n_base);
  edit->client_position = client_position;
  edit->length = op->length;
  edit->time_us = time_us;
  edit->start.assoc = PRD_CRDT_ASSOC_AFTER;
  edit->end.assoc = PRD_CRDT_ASSOC_BEFORE;
  if (op->type == PRD_CRDT_OP_INSERT)
    {
      edit->text = g_strdup (op->content);
      edit->start.has_id = edit->end.has_id = op->length > 0;
      edit->start.id = (PrdCrdtId){ op->site, op->clock };
      edit->end.id = (PrdCrdtId){ op->site, op->clock + (op->length > 0 ? op->length - 1 : 0) };
    }
  else if (op->n_targets > 0)
    {
      const PrdCrdtIdRange *last = &op->targets[op->n_targets - 1];

      edit->start.has_id = edit->end.has_id = TRUE;
      edit->start.id = (PrdCrdtId){ op->targets[0].site, op->targets[0].clock };
      edit->end.id = (PrdCrdtId){ last->site, last->clock + last->length - 1 };
    }
  return edit;
}

void
prd_conflict_edit_free (PrdConflictEdit *edit)
{
  if (edit == NULL)
    return;
  g_free (edit->user_id);
  g_free (edit->user_name);
  g_clear_pointer (&edit->base, g_array_unref);
  g_free (edit->text);
  g_free (edit);
}

gboolean
prd_conflict_edit_get_range (const PrdConflictEdit *edit,
                             PrdCrdtDoc *doc,
                             guint32 *out_start,
                             guint32 *out_end)
{
  guint32 start, end;

  if (!edit->start.has_id)
    return FALSE;
  if (!prd_crdt_doc_anchor_resolve (doc, &edit->start, &start, NULL) ||
      !prd_crdt_doc_anchor_resolve (doc, &edit->end, &end, NULL))
    return FALSE;
  /* A delete's two ends can cross when text was typed where it was. */
  *out_start = MIN (start, end);
  *out_end = MAX (start, end);
  return TRUE;
}

char *
prd_utf16_substring (const char *text, guint32 start, guint32 length)
{
  const char *p = text, *from = NULL;
  guint32 units = 0;

  while (*p != '\0')
    {
      gunichar c;

      if (units == start && from == NULL)
        from = p;
      if (from != NULL && units >= start + length)
        break;
      c = g_utf8_get_char (p);
      units += c > 0xFFFF ? 2 : 1;
      p = g_utf8_next_char (p);
    }
  if (from == NULL)
    from = units == start ? p : NULL;
  if (from == NULL)
    return g_strdup ("");
  return g_strndup (from, p - from);
}

void
prd_conflict_restore_free (PrdConflictRestore *restore)
{
  if (restore == NULL)
    return;
  g_free (restore->text);
  g_free (restore);
}

static int
compare_ranges (gconstpointer a, gconstpointer b)
{
  const PrdCrdtIdRange *x = a, *y = b;

  if (x->site != y->site)
    return x->site < y->site ? -1 : 1;
  return x->clock < y->clock ? -1 : x->clock > y->clock;
}

/* Makes sorted @ranges disjoint: two deletes can share characters. */
static void
merge_ranges (GArray *ranges)
{
  guint n = 0;

  for (guint i = 0; i < ranges->len; i++)
    {
      const PrdCrdtIdRange *r = &g_array_index (ranges, PrdCrdtIdRange, i);
      PrdCrdtIdRange *last = n > 0 ? &g_array_index (ranges, PrdCrdtIdRange, n - 1) : NULL;

      if (last != NULL && last->site == r->site &&
          (guint64) r->clock <= (guint64) last->clock + last->length)
        {
          guint64 end = MAX ((guint64) last->clock + last->length, (guint64) r->clock + r->length);

          last->length = (guint32) (end - last->clock);
        }
      else
        g_array_index (ranges, PrdCrdtIdRange, n++) = *r;
    }
  g_array_set_size (ranges, n);
}

/* Whether (@site, @clock) is among @ranges (sorted, disjoint). */
static gboolean
ranges_have (GArray *ranges, guint32 site, guint32 clock)
{
  guint lo = 0, hi = ranges->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      const PrdCrdtIdRange *r = &g_array_index (ranges, PrdCrdtIdRange, mid);

      if (r->site < site || (r->site == site && (guint64) r->clock + r->length <= clock))
        lo = mid + 1;
      else if (r->site > site || clock < r->clock)
        hi = mid;
      else
        return TRUE;
    }
  return FALSE;
}

GPtrArray *
prd_conflict_restore_pieces (PrdCrdtDoc *doc,
                             const PrdCrdtOp *deleted,
                             const char *deleted_text,
                             const PrdCrdtOp *const *also,
                             guint n_also)
{
  g_autoptr (GPtrArray) pieces = NULL;
  g_autoptr (GArray) others = g_array_new (FALSE, FALSE, sizeof (PrdCrdtIdRange));
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (PrdCrdtId));
  g_autofree gunichar2 *units = NULL;
  g_autofree gboolean *kept = NULL;
  glong n_units = 0;
  guint64 n_targets = 0;

  g_return_val_if_fail (doc != NULL, NULL);
  g_return_val_if_fail (deleted != NULL && deleted->type == PRD_CRDT_OP_DELETE, NULL);
  g_return_val_if_fail (deleted_text != NULL, NULL);

  units = g_utf8_to_utf16 (deleted_text, -1, NULL, &n_units, NULL);
  for (guint i = 0; i < deleted->n_targets; i++)
    n_targets += deleted->targets[i].length;
  if (units == NULL || n_targets != (guint64) n_units)
    return NULL;
  for (guint i = 0; also != NULL && i < n_also; i++)
    if (also[i] != NULL && also[i]->type == PRD_CRDT_OP_DELETE)
      g_array_append_vals (others, also[i]->targets, also[i]->n_targets);
  g_array_sort (others, compare_ranges);
  merge_ranges (others);

  /* The deleted characters in document order, the order of the targets
   * and of @deleted_text alike. */
  kept = g_new0 (gboolean, MAX (n_units, 1));
  for (guint i = 0; i < deleted->n_targets; i++)
    for (guint32 k = 0; k < deleted->targets[i].length; k++)
      {
        PrdCrdtId id = { deleted->targets[i].site, deleted->targets[i].clock + k };

        kept[ids->len] = !ranges_have (others, id.site, id.clock);
        g_array_append_val (ids, id);
      }
  for (glong i = 0; i + 1 < n_units; i++)
    if (units[i] >= 0xD800 && units[i] < 0xDC00 && units[i + 1] >= 0xDC00 && units[i + 1] < 0xE000)
      {
        kept[i] = kept[i + 1] = kept[i] && kept[i + 1];
        i++;
      }

  pieces = g_ptr_array_new_with_free_func ((GDestroyNotify) prd_conflict_restore_free);
  for (glong i = 0; i < n_units;)
    {
      PrdCrdtAnchor anchor = { TRUE, g_array_index (ids, PrdCrdtId, i), PRD_CRDT_ASSOC_AFTER };
      guint32 position, next;
      g_autoptr (GArray) text = g_array_new (FALSE, FALSE, sizeof (gunichar2));
      PrdConflictRestore *piece;
      glong from;

      if (!kept[i])
        {
          i++;
          continue;
        }
      if (!prd_crdt_doc_anchor_resolve (doc, &anchor, &position, NULL))
        return NULL;
      /* A deleted character resolves to the place it was: the ones that
       * resolve to the same place have no visible text between them. */
      for (from = i; i < n_units; i++)
        {
          if (!kept[i])
            continue;
          anchor.id = g_array_index (ids, PrdCrdtId, i);
          if (i > from &&
              (!prd_crdt_doc_anchor_resolve (doc, &anchor, &next, NULL) || next != position))
            break;
          g_array_append_val (text, units[i]);
        }
      piece = g_new0 (PrdConflictRestore, 1);
      piece->position = position;
      piece->text =
          g_utf16_to_utf8 ((const gunichar2 *) text->data, (glong) text->len, NULL, NULL, NULL);
      if (piece->text == NULL)
        {
          prd_conflict_restore_free (piece);
          return NULL;
        }
      g_ptr_array_add (pieces, piece);
    }
  return g_steal_pointer (&pieces);
}

const char *
prd_conflict_edit_get_text (PrdConflictEdit *edit, PrdCrdtDoc *doc)
{
  if (edit->text == NULL)
    {
      g_autofree char *before = NULL;

      before =
          prd_crdt_doc_get_text_at (doc, (const guint32 *) edit->base->data, edit->base->len, NULL);
      edit->text = before != NULL
                       ? prd_utf16_substring (before, edit->client_position, edit->length)
                       : g_strdup ("");
    }
  return edit->text;
}

gboolean
prd_conflict_edits_concurrent (const PrdConflictEdit *earlier, const PrdConflictEdit *later)
{
  guint32 seen =
      earlier->site < later->base->len ? g_array_index (later->base, guint32, earlier->site) : 0;

  return seen < earlier->seq;
}

gboolean
prd_conflict_edits_conflict (const PrdConflictEdit *earlier,
                             const PrdConflictEdit *later,
                             PrdCrdtDoc *doc,
                             guint32 *out_position)
{
  guint32 a_start, a_end, b_start, b_end;

  /* The cheap test first: most edits in a window are ones the later edit
   * had already seen (every edit of a lone writer is). */
  if (!prd_conflict_edits_concurrent (earlier, later))
    return FALSE;
  if (g_strcmp0 (earlier->user_id, later->user_id) == 0)
    return FALSE;
  if (!prd_conflict_edit_get_range (earlier, doc, &a_start, &a_end) ||
      !prd_conflict_edit_get_range (later, doc, &b_start, &b_end))
    return FALSE;
  if (a_start > b_end || b_start > a_end)
    return FALSE;
  if (out_position != NULL)
    *out_position = MIN (a_start, b_start);
  return TRUE;
}

/* The window is a ring of the last edits, oldest first. Each new edit is
 * compared with every kept one, so the test that rules most of them out
 * (was it concurrent: the operation's id against the new edit's base)
 * reads a packed array of ids, not the edits themselves. */
typedef struct
{
  guint32 site;
  guint32 seq;
} EditId;

struct _PrdConflictWindow
{
  PrdConflictEdit **edits; /* max_edits slots */
  EditId *ids;             /* the id of edits[i] */
  guint max_edits;
  guint head; /* slot of the oldest */
  guint n_edits;
  gint64 max_age_us;
};

PrdConflictWindow *
prd_conflict_window_new (guint max_edits, gint64 max_age_us)
{
  PrdConflictWindow *window = g_new0 (PrdConflictWindow, 1);

  window->max_edits = MAX (max_edits, 1);
  window->edits = g_new0 (PrdConflictEdit *, window->max_edits);
  window->ids = g_new0 (EditId, window->max_edits);
  window->max_age_us = max_age_us;
  return window;
}

static void
drop_oldest (PrdConflictWindow *window)
{
  g_clear_pointer (&window->edits[window->head], prd_conflict_edit_free);
  window->head = (window->head + 1) % window->max_edits;
  window->n_edits--;
}

void
prd_conflict_window_free (PrdConflictWindow *window)
{
  if (window == NULL)
    return;
  while (window->n_edits > 0)
    drop_oldest (window);
  g_free (window->edits);
  g_free (window->ids);
  g_free (window);
}

guint
prd_conflict_window_get_n_edits (PrdConflictWindow *window)
{
  return window->n_edits;
}

/**
 * prd_conflict_window_expire:
 * @now_us: the current monotonic time
 *
 * Drops the edits older than the window's age.
 *
 * Returns: the number of edits left
 */
guint
prd_conflict_window_expire (PrdConflictWindow *window, gint64 now_us)
{
  while (window->n_edits > 0 && now_us - window->edits[window->head]->time_us > window->max_age_us)
    drop_oldest (window);
  return window->n_edits;
}

/**
 * prd_conflict_window_mark_undone:
 * @site: the operation's site
 * @seq: its sequence number
 *
 * Marks the kept edit of that operation as undone, so that the conflicts
 * raised with it later know not to undo it again.
 *
 * Returns: whether the window keeps that edit
 */
gboolean
prd_conflict_window_mark_undone (PrdConflictWindow *window, guint32 site, guint32 seq)
{
  for (guint i = 0; i < window->n_edits; i++)
    {
      guint slot = (window->head + i) % window->max_edits;

      if (window->ids[slot].site == site && window->ids[slot].seq == seq)
        {
          window->edits[slot]->undone = TRUE;
          return TRUE;
        }
    }
  return FALSE;
}

GPtrArray *
prd_conflict_window_add (PrdConflictWindow *window, PrdCrdtDoc *doc, PrdConflictEdit *edit)
{
  GPtrArray *found = g_ptr_array_new ();
  const guint32 *base = (const guint32 *) edit->base->data;
  guint n_base = edit->base->len;
  guint slot;

  prd_conflict_window_expire (window, edit->time_us);
  if (window->n_edits == window->max_edits)
    drop_oldest (window);
  for (guint i = 0; i < window->n_edits; i++)
    {
      const EditId *id;

      slot = (window->head + i) % window->max_edits;
      id = &window->ids[slot];
      /* prd_conflict_edits_concurrent(), without reading the edit. */
      if ((id->site < n_base ? base[id->site] : 0) >= id->seq)
        continue;
      if (prd_conflict_edits_conflict (window->edits[slot], edit, doc, NULL))
        g_ptr_array_add (found, window->edits[slot]);
    }
  slot = (window->head + window->n_edits) % window->max_edits;
  window->edits[slot] = edit;
  window->ids[slot] = (EditId){ edit->site, edit->seq };
  window->n_edits++;
  return found;
}
