/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-crdt"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-crdt-private.h"

/*
 * PrdCrdtDoc: a YATA sequence (the integration rule of Yjs) over runs of
 * characters.
 *
 * The document is a list of items (runs) in document order, tombstones
 * included, cut into chunks of at most PRD_CRDT_CHUNK_MAX items. A Fenwick
 * tree over the chunks' visible lengths finds the chunk holding a position in
 * O(log n); every site keeps, per character clock, the chunk that holds the
 * character, so an id finds its item in O(1) plus a scan of one chunk.
 *
 * Positions read at an older version (a client's base vector that lacks some
 * operations the document has) are resolved the eg-walker way: the
 * operations the version lacks are retreated (their inserts hidden, their
 * deletes undone) in place, the position is looked up with the same index,
 * and the operations are advanced again. The cost is proportional to the
 * number of operations the client had not seen, not to the document length.
 */

typedef struct
{
  PrdCrdtChunk *chunk;
  guint idx;
  guint32 off;
} Loc;

/* ---- UTF-16 helpers ---------------------------------------------------- */

/* @text is valid UTF-8 */
gboolean
prd_crdt_utf8_to_utf16_unchecked (const char *text, gsize len, PrdCrdtBuf *out)
{
  gboolean pairs = FALSE;
  const guchar *p = (const guchar *) text;
  const guchar *end = p + len;
  guint16 *dst;

  /* never more UTF-16 units than UTF-8 bytes */
  prd_crdt_buf_reserve (out, out->len + len, sizeof (guint16));
  dst = (guint16 *) (void *) out->data + out->len;
  while (p < end)
    {
      if (*p < 0x80)
        *dst++ = *p++;
      else
        {
          gunichar c = g_utf8_get_char ((const char *) p);
          p = (const guchar *) g_utf8_next_char (p);
          if (c >= 0x10000)
            {
              c -= 0x10000;
              pairs = TRUE;
              *dst++ = 0xD800 + (c >> 10);
              *dst++ = 0xDC00 + (c & 0x3FF);
            }
          else
            *dst++ = c;
        }
    }
  out->len = dst - (guint16 *) (void *) out->data;
  return pairs;
}

gboolean
prd_crdt_utf8_to_utf16 (const char *text, gssize len, PrdCrdtBuf *out, GError **error)
{
  const char *bad = NULL;

  if (len < 0)
    len = strlen (text);
  if (!g_utf8_validate_len (text, len, &bad))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                   "Text is not valid UTF-8 (at byte %d)", (int) (bad - text));
      return FALSE;
    }
  prd_crdt_utf8_to_utf16_unchecked (text, len, out);
  return TRUE;
}

guint32
prd_crdt_utf16_length (const char *text, gsize len)
{
  guint32 n = 0;
  const guchar *p = (const guchar *) text;
  const guchar *end = p + len;

  while (p < end)
    {
      guchar b = *p;
      if (b < 0x80)
        p += 1, n += 1;
      else if (b < 0xE0)
        p += 2, n += 1;
      else if (b < 0xF0)
        p += 3, n += 1;
      else
        p += 4, n += 2;
    }
  return n;
}

void
prd_crdt_utf16_append_utf8 (GString *out, const guint16 *u, gsize n)
{
  gsize start = out->len;
  gsize size = 0;
  char *p;

  /* Sized first, then written in place: a pair is four bytes, any other
   * unit (a lone half becomes U+FFFD) one to three. */
  for (gsize i = 0; i < n; i++)
    {
      guint16 c = u[i];

      if (c < 0x80)
        size += 1;
      else if (c < 0x800)
        size += 2;
      else if (c >= 0xD800 && c < 0xDC00 && i + 1 < n && u[i + 1] >= 0xDC00 && u[i + 1] < 0xE000)
        size += 4, i++;
      else
        size += 3;
    }
  g_string_set_size (out, start + size);
  p = out->str + start;
  for (gsize i = 0; i < n; i++)
    {
      gunichar c = u[i];

      if (c < 0x80)
        {
          *p++ = (char) c;
          continue;
        }
      if (c >= 0xD800 && c < 0xDC00 && i + 1 < n && u[i + 1] >= 0xDC00 && u[i + 1] < 0xE000)
        {
          c = 0x10000 + ((c - 0xD800) << 10) + (u[i + 1] - 0xDC00);
          i++;
        }
      else if (c >= 0xD800 && c < 0xE000)
        c = 0xFFFD; /* a lone half can only come from a lossy snapshot */
      p += g_unichar_to_utf8 (c, p);
    }
}

static inline gboolean
is_high_surrogate (guint16 u)
{
  return u >= 0xD800 && u < 0xDC00;
}

static inline gboolean
is_low_surrogate (guint16 u)
{
  return u >= 0xDC00 && u < 0xE000;
}

/* ---- sites, chunks and the index ---------------------------------------- */

static void
site_free (gpointer data)
{
  PrdCrdtSite *s = data;

  g_free (s->text->data);
  g_free (s->text);
  g_free (s->loc->data);
  g_free (s->loc);
  g_array_unref (s->runs);
  g_array_unref (s->dels);
  g_free (s);
}

PrdCrdtSite *
prd_crdt_doc_ensure_site (PrdCrdtDoc *doc, guint32 site)
{
  g_assert (site < PRD_CRDT_MAX_SITES);
  while (doc->sites->len <= site)
    {
      PrdCrdtSite *s = g_new0 (PrdCrdtSite, 1);
      s->text = g_new0 (PrdCrdtBuf, 1);
      s->loc = g_new0 (PrdCrdtBuf, 1);
      s->runs = g_array_new (FALSE, FALSE, sizeof (PrdCrdtOpRun));
      s->dels = g_array_new (FALSE, FALSE, sizeof (PrdCrdtIdRange));
      g_ptr_array_add (doc->sites, s);
    }
  return g_ptr_array_index (doc->sites, site);
}

/* prd_crdt_doc_ensure_site(), without a call for a site the document has. */
static inline PrdCrdtSite *
site_for_write (PrdCrdtDoc *doc, guint32 site)
{
  return G_LIKELY (site < doc->sites->len) ? g_ptr_array_index (doc->sites, site)
                                           : prd_crdt_doc_ensure_site (doc, site);
}

static inline PrdCrdtSite *
get_site (PrdCrdtDoc *doc, guint32 site)
{
  return site < doc->sites->len ? g_ptr_array_index (doc->sites, site) : NULL;
}

/* A site the caller knows exists. */
static inline PrdCrdtSite *
site_at (PrdCrdtDoc *doc, guint32 site)
{
  g_assert (site < doc->sites->len);
  return g_ptr_array_index (doc->sites, site);
}

static inline guint32
site_ops (PrdCrdtDoc *doc, guint32 site)
{
  return site < doc->sites->len ? ((PrdCrdtSite *) g_ptr_array_index (doc->sites, site))->n_ops : 0;
}

static inline guint32
site_n_chars (PrdCrdtDoc *doc, guint32 site)
{
  PrdCrdtSite *s = get_site (doc, site);
  return s ? s->text->len : 0;
}

PrdCrdtChunk *
prd_crdt_doc_new_chunk (PrdCrdtDoc *doc)
{
  PrdCrdtChunk *c;

  /* Chunks come in slabs: one large malloc() per chunk would make glibc
   * consolidate its fast bins every time (12 % of the hub path). */
  if (doc->slab_used == doc->slab_cap)
    prd_crdt_doc_reserve_chunks (doc, 32);
  c = &doc->slab[doc->slab_used++];

  c->n = 0;
  c->vis = 0;
  c->order = 0;
  c->id = doc->chunks->len;
  g_ptr_array_add (doc->chunks, c);
  return c;
}

void
prd_crdt_doc_reserve_chunks (PrdCrdtDoc *doc, guint n)
{
  if (doc->slab_cap - doc->slab_used >= n)
    return;
  doc->slab = g_new (PrdCrdtChunk, n);
  doc->slab_used = 0;
  doc->slab_cap = n;
  g_ptr_array_add (doc->slabs, doc->slab);
}

void
prd_crdt_doc_mark_dirty (PrdCrdtDoc *doc)
{
  doc->dirty = TRUE;
}

static void
ensure_index (PrdCrdtDoc *doc)
{
  guint n = doc->order->len;

  if (!doc->dirty)
    return;
  if (doc->fen_cap < n + 1)
    {
      doc->fen_cap = MAX (n + 1, doc->fen_cap * 2);
      doc->fen = g_renew (guint32, doc->fen, doc->fen_cap);
    }
  doc->fen[0] = 0;
  for (guint i = 0; i < n; i++)
    {
      PrdCrdtChunk *c = g_ptr_array_index (doc->chunks, g_array_index (doc->order, guint32, i));
      c->order = i;
      doc->fen[i + 1] = c->vis;
    }
  for (guint i = 1; i <= n; i++)
    {
      guint j = i + (i & -i);
      if (j <= n)
        doc->fen[j] += doc->fen[i];
    }
  doc->dirty = FALSE;
}

static inline void
chunk_add_vis (PrdCrdtDoc *doc, PrdCrdtChunk *c, gint64 delta)
{
  doc->stamp++;
  c->vis += delta;
  doc->length += delta;
  if (!doc->dirty)
    {
      guint n = doc->order->len;
      for (guint i = c->order + 1; i <= n; i += i & -i)
        doc->fen[i] += delta;
    }
}

static guint32
fen_prefix (PrdCrdtDoc *doc, guint idx)
{
  guint32 sum = 0;

  for (guint i = idx; i > 0; i -= i & -i)
    sum += doc->fen[i];
  return sum;
}

static inline PrdCrdtChunk *
chunk_at (PrdCrdtDoc *doc, guint order_idx)
{
  return g_ptr_array_index (doc->chunks, g_array_index (doc->order, guint32, order_idx));
}

/* The visible character at @pos (< doc->length). */
static Loc
locate_pos (PrdCrdtDoc *doc, guint32 pos)
{
  guint n, at = 0, step = 1;
  guint32 rem = pos;
  PrdCrdtChunk *c;
  Loc l = { NULL, 0, 0 };

  g_assert (pos < doc->length);
  /* typing asks for the character it has just written */
  if (doc->pc_chunk != NULL && doc->pc_stamp == doc->stamp && pos >= doc->pc_start)
    {
      guint32 v = prd_crdt_item_vis (&doc->pc_chunk->items[doc->pc_idx]);
      if (pos - doc->pc_start < v)
        {
          l.chunk = doc->pc_chunk;
          l.idx = doc->pc_idx;
          l.off = pos - doc->pc_start;
          return l;
        }
    }
  ensure_index (doc);
  n = doc->order->len;
  while (step * 2 <= n)
    step *= 2;
  for (; step > 0; step >>= 1)
    {
      if (at + step <= n && doc->fen[at + step] <= rem)
        {
          at += step;
          rem -= doc->fen[at];
        }
    }
  g_assert (at < n);
  c = chunk_at (doc, at);
  l.chunk = c;
  if (rem < c->vis / 2)
    {
      for (guint i = 0; i < c->n; i++)
        {
          guint32 v = prd_crdt_item_vis (&c->items[i]);
          if (rem < v)
            {
              l.idx = i;
              l.off = rem;
              goto found;
            }
          rem -= v;
        }
    }
  else
    {
      /* from the end: half the walk for positions in the second half */
      guint32 after = c->vis - rem; /* visible characters from rem on */
      for (guint i = c->n; i-- > 0;)
        {
          guint32 v = prd_crdt_item_vis (&c->items[i]);
          if (after <= v)
            {
              l.idx = i;
              l.off = v - after;
              goto found;
            }
          after -= v;
        }
    }
  g_assert_not_reached ();
found:
  doc->pc_chunk = l.chunk;
  doc->pc_idx = l.idx;
  doc->pc_start = pos - l.off;
  doc->pc_stamp = doc->stamp;
  return l;
}

static Loc
locate_id (PrdCrdtDoc *doc, guint32 site, guint32 clock)
{
  PrdCrdtSite *s = site_at (doc, site);
  PrdCrdtChunk *c;
  Loc l = { NULL, 0, 0 };

  guint start = 0;

  g_assert (clock < s->loc->len);
  c = g_ptr_array_index (doc->chunks, g_array_index (s->loc, guint32, clock));
  /* edits cluster: start the scan near the item found last time */
  if (c == doc->hint_chunk && doc->hint_idx < c->n)
    start = doc->hint_idx > 1 ? doc->hint_idx - 2 : 0;
  for (guint k = 0; k < c->n; k++)
    {
      guint i = start + k < c->n ? start + k : start + k - c->n;
      PrdCrdtItem *it = &c->items[i];
      if (it->site == site && clock >= it->clock && clock - it->clock < it->len)
        {
          l.chunk = c;
          l.idx = i;
          l.off = clock - it->clock;
          doc->hint_chunk = c;
          doc->hint_idx = i;
          return l;
        }
    }
  g_assert_not_reached ();
  return l;
}

/* Visible characters before the item at @l, plus @l.off when it is visible. */
static guint32
loc_position (PrdCrdtDoc *doc, Loc l)
{
  guint32 pos;

  ensure_index (doc);
  pos = fen_prefix (doc, l.chunk->order);
  for (guint i = 0; i < l.idx; i++)
    pos += prd_crdt_item_vis (&l.chunk->items[i]);
  if (l.chunk->items[l.idx].del == 0)
    pos += l.off;
  return pos;
}

static void
set_loc (PrdCrdtDoc *doc, const PrdCrdtItem *it, guint32 chunk_id)
{
  PrdCrdtSite *s = site_at (doc, it->site);
  guint32 *loc = &g_array_index (s->loc, guint32, 0);

  for (guint32 k = 0; k < it->len; k++)
    loc[it->clock + k] = chunk_id;
}

/* Insert @item at @idx of @c, splitting the chunk when it is full. Returns
 * where it landed. The item's characters are pointed at their chunk when
 * @update_loc or when the chunk split moved them. */
static Loc
insert_item (
    PrdCrdtDoc *doc, PrdCrdtChunk *c, guint idx, const PrdCrdtItem *item, gboolean update_loc)
{
  Loc l;
  guint32 vis;

  doc->stamp++;
  if (c->n == PRD_CRDT_CHUNK_MAX)
    {
      guint half = PRD_CRDT_CHUNK_MAX / 2;
      PrdCrdtChunk *d = prd_crdt_doc_new_chunk (doc);
      guint32 moved_vis = 0;

      ensure_index (doc);
      memcpy (d->items, c->items + half, (c->n - half) * sizeof (PrdCrdtItem));
      d->n = c->n - half;
      c->n = half;
      for (guint i = 0; i < d->n; i++)
        {
          moved_vis += prd_crdt_item_vis (&d->items[i]);
          set_loc (doc, &d->items[i], d->id);
        }
      c->vis -= moved_vis;
      d->vis = moved_vis;
      g_array_insert_val (doc->order, c->order + 1, d->id);
      doc->dirty = TRUE;
      if (idx > half)
        {
          update_loc = TRUE;
          c = d;
          idx -= half;
        }
    }
  memmove (c->items + idx + 1, c->items + idx, (c->n - idx) * sizeof (PrdCrdtItem));
  c->items[idx] = *item;
  c->n++;
  vis = prd_crdt_item_vis (item);
  if (vis)
    chunk_add_vis (doc, c, vis);
  if (update_loc)
    set_loc (doc, item, c->id);
  l.chunk = c;
  l.idx = idx;
  l.off = 0;
  return l;
}

/* Split the item at @l so that a new item starts at @l.off (0 < off < len). */
static void
split_at (PrdCrdtDoc *doc, Loc l)
{
  PrdCrdtItem *a = &l.chunk->items[l.idx];
  PrdCrdtItem b = *a;
  guint32 bvis;

  g_assert (l.off > 0 && l.off < a->len);
  b.clock += l.off;
  b.len -= l.off;
  b.o_site = a->site;
  b.o_clock = a->clock + l.off - 1;
  a->len = l.off;
  bvis = prd_crdt_item_vis (&b);
  if (bvis)
    chunk_add_vis (doc, l.chunk, -(gint64) bvis);
  insert_item (doc, l.chunk, l.idx + 1, &b, FALSE);
}

static gboolean
next_loc (PrdCrdtDoc *doc, Loc *l)
{
  if (l->idx + 1 < l->chunk->n)
    {
      l->idx++;
      return TRUE;
    }
  for (guint o = l->chunk->order + 1; o < doc->order->len; o++)
    {
      PrdCrdtChunk *c = chunk_at (doc, o);
      if (c->n > 0)
        {
          l->chunk = c;
          l->idx = 0;
          return TRUE;
        }
    }
  return FALSE;
}

static gboolean
first_loc (PrdCrdtDoc *doc, Loc *l)
{
  for (guint o = 0; o < doc->order->len; o++)
    {
      PrdCrdtChunk *c = chunk_at (doc, o);
      if (c->n > 0)
        {
          l->chunk = c;
          l->idx = 0;
          l->off = 0;
          return TRUE;
        }
    }
  return FALSE;
}

static inline gboolean
can_merge (const PrdCrdtItem *a, const PrdCrdtItem *b)
{
  return a->site == b->site && a->clock + a->len == b->clock && b->o_site == a->site &&
         b->o_clock == b->clock - 1 && a->r_site == b->r_site &&
         (a->r_site == PRD_CRDT_NONE || a->r_clock == b->r_clock) && a->del == b->del;
}

/* Join items @idx and @idx + 1 of @c when they continue each other, so that
 * a run deleted piece by piece (backspacing) becomes one item again. */
static void
try_merge (PrdCrdtDoc *doc, PrdCrdtChunk *c, guint idx)
{
  PrdCrdtItem *a = &c->items[idx];

  if (idx + 1 >= c->n || !can_merge (a, a + 1))
    return;
  doc->stamp++;
  a->len += a[1].len;
  memmove (a + 1, a + 2, (c->n - idx - 2) * sizeof (PrdCrdtItem));
  c->n--;
}

typedef enum
{
  RANGE_DELETE,
  RANGE_UNDELETE,
  RANGE_HIDE,
  RANGE_SHOW,
} RangeMode;

/* Deleting the end of an item whose deleted continuation follows it
 * (backspacing), or the start of one whose deleted beginning precedes it
 * (forward delete): move the boundary between the two items instead of
 * splitting one and merging the halves again. Leaves exactly the items the
 * split and merge would, so it only applies when the split would not split
 * the chunk. Returns FALSE, changing nothing, when it does not apply. */
static gboolean
range_delete_shift (PrdCrdtDoc *doc, Loc l, guint32 len)
{
  PrdCrdtChunk *c = l.chunk;
  PrdCrdtItem *it = &c->items[l.idx];
  PrdCrdtItem part = *it;
  gboolean cached = doc->pc_chunk == c && doc->pc_idx == l.idx && doc->pc_stamp == doc->stamp;

  if (c->n >= PRD_CRDT_CHUNK_MAX)
    return FALSE;
  part.del++;
  if (l.off > 0 && l.off + len == it->len && l.idx + 1 < c->n)
    {
      PrdCrdtItem *next = it + 1;

      part.clock += l.off;
      part.len = len;
      part.o_site = it->site;
      part.o_clock = it->clock + l.off - 1;
      if (!can_merge (&part, next))
        return FALSE;
      it->len = l.off;
      next->clock = part.clock;
      next->len += len;
      next->o_site = part.o_site;
      next->o_clock = part.o_clock;
    }
  else if (l.off == 0 && len < it->len && l.idx > 0)
    {
      PrdCrdtItem *prev = it - 1;

      part.len = len;
      if (!can_merge (prev, &part))
        return FALSE;
      prev->len += len;
      it->o_site = it->site;
      it->o_clock = it->clock + len - 1;
      it->clock += len;
      it->len -= len;
    }
  else
    return FALSE;
  doc->stamp++;
  if (part.del == 1)
    chunk_add_vis (doc, c, -(gint64) len);
  /* Where the item at @l.idx starts is unchanged either way (what left it
   * is deleted), so the next backspace can still find it without a search. */
  if (cached)
    doc->pc_stamp = doc->stamp;
  return TRUE;
}

/* Apply @mode to the characters (site, clock .. clock + len - 1), splitting
 * items at the range's ends. */
static void
range_apply (PrdCrdtDoc *doc, guint32 site, guint32 clock, guint32 len, RangeMode mode)
{
  while (len > 0)
    {
      Loc l = locate_id (doc, site, clock);
      PrdCrdtItem *it;
      guint32 before, after;

      if (mode == RANGE_DELETE && range_delete_shift (doc, l, len))
        return;
      if (l.off > 0)
        {
          split_at (doc, l);
          l = locate_id (doc, site, clock);
        }
      it = &l.chunk->items[l.idx];
      if (it->len > len)
        {
          Loc e = l;
          e.off = len;
          split_at (doc, e);
          l = locate_id (doc, site, clock);
          it = &l.chunk->items[l.idx];
        }
      before = prd_crdt_item_vis (it);
      switch (mode)
        {
          case RANGE_DELETE:
            it->del++;
            break;
          case RANGE_UNDELETE:
            g_assert ((it->del & ~PRD_CRDT_NOT_INSERTED) > 0);
            it->del--;
            break;
          case RANGE_HIDE:
            it->del |= PRD_CRDT_NOT_INSERTED;
            break;
          case RANGE_SHOW:
            it->del &= ~PRD_CRDT_NOT_INSERTED;
            break;
          default:
            g_assert_not_reached ();
        }
      after = prd_crdt_item_vis (it);
      if (after != before)
        chunk_add_vis (doc, l.chunk, (gint64) after - (gint64) before);
      clock += it->len;
      len -= it->len;
      try_merge (doc, l.chunk, l.idx);
      if (l.idx > 0)
        try_merge (doc, l.chunk, l.idx - 1);
    }
}

/* ---- the operation log ---------------------------------------------------- */

static void
log_append (PrdCrdtDoc *doc, guint32 site)
{
  PrdCrdtLogRun *last =
      doc->log->len ? &g_array_index (doc->log, PrdCrdtLogRun, doc->log->len - 1) : NULL;

  if (last && last->site == site)
    last->count++;
  else
    {
      PrdCrdtLogRun r = { site, 1 };
      g_array_append_val (doc->log, r);
    }
}

static void
site_append_insert (PrdCrdtSite *s, guint32 clock, guint32 n)
{
  PrdCrdtOpRun *last =
      s->runs->len ? &g_array_index (s->runs, PrdCrdtOpRun, s->runs->len - 1) : NULL;

  s->n_ops++;
  if (last && last->kind == PRD_CRDT_RUN_INSERT && last->each == n)
    last->count++;
  else
    {
      PrdCrdtOpRun r = { s->n_ops, 1, clock, n, PRD_CRDT_RUN_INSERT, 0 };
      g_array_append_val (s->runs, r);
    }
}

static void
site_append_delete (PrdCrdtSite *s, const PrdCrdtIdRange *targets, guint n)
{
  PrdCrdtOpRun *last =
      s->runs->len ? &g_array_index (s->runs, PrdCrdtOpRun, s->runs->len - 1) : NULL;

  s->n_ops++;
  if (n == 1 && targets[0].length == 1 && last)
    {
      guint32 site = targets[0].site, clock = targets[0].clock;

      if (last->kind == PRD_CRDT_RUN_BACKSPACE && last->psite == site &&
          last->start >= last->count && last->start - last->count == clock)
        {
          last->count++;
          return;
        }
      if (last->kind == PRD_CRDT_RUN_FORWARD && last->psite == site &&
          (guint64) last->start + last->count == clock)
        {
          last->count++;
          return;
        }
      if (last->kind == PRD_CRDT_RUN_DELETE && last->each == 1 &&
          last->start + last->count == s->dels->len)
        {
          /* the previous delete and this one start a pattern: move the
           * previous one out of its explicit run */
          PrdCrdtIdRange t = g_array_index (s->dels, PrdCrdtIdRange, s->dels->len - 1);
          if (t.length == 1 && t.site == site && (t.clock == clock + 1 || clock == t.clock + 1))
            {
              PrdCrdtOpRun r = {
                s->n_ops - 1,
                2,
                t.clock,
                1,
                t.clock == clock + 1 ? PRD_CRDT_RUN_BACKSPACE : PRD_CRDT_RUN_FORWARD,
                site
              };
              g_array_set_size (s->dels, s->dels->len - 1);
              if (last->count == 1)
                *last = r;
              else
                {
                  last->count--;
                  g_array_append_val (s->runs, r);
                }
              return;
            }
        }
    }
  if (last && last->kind == PRD_CRDT_RUN_DELETE && last->each == n &&
      last->start + last->count * last->each == s->dels->len)
    last->count++;
  else
    {
      PrdCrdtOpRun r = { s->n_ops, 1, s->dels->len, n, PRD_CRDT_RUN_DELETE, 0 };
      g_array_append_val (s->runs, r);
    }
  g_array_append_vals (s->dels, targets, n);
}

/* The targets of delete operation @k of run @r (in @buf for pattern runs). */
static const PrdCrdtIdRange *
run_targets (PrdCrdtSite *s, const PrdCrdtOpRun *r, guint32 k, PrdCrdtIdRange *buf)
{
  switch (r->kind)
    {
      case PRD_CRDT_RUN_DELETE:
        return &g_array_index (s->dels, PrdCrdtIdRange, r->start + k * r->each);
      case PRD_CRDT_RUN_BACKSPACE:
        buf->site = r->psite;
        buf->clock = r->start - k;
        buf->length = 1;
        return buf;
      case PRD_CRDT_RUN_FORWARD:
        buf->site = r->psite;
        buf->clock = r->start + k;
        buf->length = 1;
        return buf;
      default:
        g_assert_not_reached ();
        return NULL;
    }
}

static const PrdCrdtOpRun *
site_find_run (PrdCrdtSite *s, guint32 seq)
{
  guint lo = 0, hi = s->runs->len;

  while (hi - lo > 1)
    {
      guint mid = (lo + hi) / 2;
      if (g_array_index (s->runs, PrdCrdtOpRun, mid).seq <= seq)
        lo = mid;
      else
        hi = mid;
    }
  g_assert (lo < s->runs->len);
  return &g_array_index (s->runs, PrdCrdtOpRun, lo);
}

/* Retreat (hide) or advance (show) every operation of @doc that the version
 * @vector lacks. */
static void
move_version (PrdCrdtDoc *doc, const guint32 *vector, gsize n_vector, gboolean retreat)
{
  for (guint32 site = 0; site < doc->sites->len; site++)
    {
      PrdCrdtSite *s = g_ptr_array_index (doc->sites, site);
      guint32 seq = site < n_vector ? vector[site] + 1 : 1;

      while (seq <= s->n_ops)
        {
          const PrdCrdtOpRun *r = site_find_run (s, seq);
          guint32 last = MIN (s->n_ops, r->seq + r->count - 1);
          guint32 k = seq - r->seq, n = last - seq + 1;

          if (r->kind == PRD_CRDT_RUN_INSERT)
            range_apply (doc, site, r->start + k * r->each, n * r->each,
                         retreat ? RANGE_HIDE : RANGE_SHOW);
          else
            {
              for (guint32 j = k; j < k + n; j++)
                {
                  PrdCrdtIdRange buf;
                  const PrdCrdtIdRange *g = run_targets (s, r, j, &buf);
                  for (guint32 t = 0; t < r->each; t++)
                    range_apply (doc, g[t].site, g[t].clock, g[t].length,
                                 retreat ? RANGE_UNDELETE : RANGE_DELETE);
                }
            }
          seq = last + 1;
        }
    }
}

/* ---- integration ---------------------------------------------------------- */

typedef struct
{
  guint32 site, clock, len;
} Span;

static gboolean
spans_have (GArray *spans, guint32 site, guint32 clock)
{
  for (guint i = 0; i < spans->len; i++)
    {
      Span *s = &g_array_index (spans, Span, i);
      if (s->site == site && clock >= s->clock && clock - s->clock < s->len)
        return TRUE;
    }
  return FALSE;
}

static inline gboolean
id_eq (guint32 as, guint32 ac, guint32 bs, guint32 bc)
{
  return as == bs && (as == PRD_CRDT_NONE || ac == bc);
}

/* Append the characters (site, clock .. clock + n - 1) to the visible item
 * at @left, the run that ends with (site, clock - 1). */
static Loc
extend_run (PrdCrdtDoc *doc, PrdCrdtSite *s, Loc left, guint32 clock, guint32 n)
{
  PrdCrdtItem *l = &left.chunk->items[left.idx];
  Loc at = left;
  gboolean cached =
      doc->pc_chunk == left.chunk && doc->pc_idx == left.idx && doc->pc_stamp == doc->stamp;
  guint32 *loc;

  prd_crdt_buf_set_size (s->loc, clock + n, sizeof (guint32));
  at.off = l->len;
  l->len += n;
  chunk_add_vis (doc, left.chunk, n);
  /* the run grew at its end: where it starts has not moved */
  if (cached)
    doc->pc_stamp = doc->stamp;
  loc = &g_array_index (s->loc, guint32, clock);
  for (guint32 k = 0; k < n; k++)
    loc[k] = left.chunk->id;
  return at;
}

/* Integrate the characters (site, clock .. clock + n - 1), whose text is
 * already appended to the site, between origin @os/@oc and right origin
 * @rs/@rc (PRD_CRDT_NONE for the document's ends). Returns where the first
 * character landed. */
static Loc
integrate_insert (PrdCrdtDoc *doc,
                  guint32 site,
                  guint32 clock,
                  guint32 n,
                  guint32 os,
                  guint32 oc,
                  guint32 rs,
                  guint32 rc,
                  const Loc *hint)
{
  PrdCrdtItem item = { site, clock, n, os, oc, rs, rc, 0 };
  PrdCrdtSite *s = site_at (doc, site);
  gboolean have_left = FALSE;
  Loc left = { NULL, 0, 0 }, o;
  gboolean have_o;

  prd_crdt_buf_set_size (s->loc, clock + n, sizeof (guint32));

  /* @hint: the origin's place, when the caller has just found it and the
   * right origin is known to start the next item (or to be its remainder) */
  if (rs != PRD_CRDT_NONE && hint == NULL)
    {
      Loc r = locate_id (doc, rs, rc);
      if (r.off > 0)
        split_at (doc, r);
    }
  if (os != PRD_CRDT_NONE)
    {
      left = hint ? *hint : locate_id (doc, os, oc);
      if (left.off + 1 < left.chunk->items[left.idx].len)
        {
          Loc e = left;
          e.off++;
          split_at (doc, e);
          left = locate_id (doc, os, oc);
        }
      have_left = TRUE;
    }
  ensure_index (doc);

  /* YATA: walk the items between the origins (all concurrent with this
   * insert) and find the left neighbour. */
  if (have_left)
    {
      o = left;
      have_o = next_loc (doc, &o);
    }
  else
    have_o = first_loc (doc, &o);

  if (have_o && !id_eq (o.chunk->items[o.idx].site, o.chunk->items[o.idx].clock, rs, rc))
    {
      g_autoptr (GArray) before = g_array_new (FALSE, FALSE, sizeof (Span));
      g_autoptr (GArray) conflicting = g_array_new (FALSE, FALSE, sizeof (Span));

      while (have_o)
        {
          PrdCrdtItem *x = &o.chunk->items[o.idx];
          Span sp = { x->site, x->clock, x->len };

          if (rs != PRD_CRDT_NONE && x->site == rs && x->clock == rc)
            break;
          g_array_append_val (before, sp);
          g_array_append_val (conflicting, sp);
          if (id_eq (x->o_site, x->o_clock, os, oc))
            {
              if (x->site < site)
                {
                  left = o;
                  have_left = TRUE;
                  g_array_set_size (conflicting, 0);
                }
              else if (id_eq (x->r_site, x->r_clock, rs, rc))
                break;
            }
          else if (x->o_site != PRD_CRDT_NONE && spans_have (before, x->o_site, x->o_clock))
            {
              if (!spans_have (conflicting, x->o_site, x->o_clock))
                {
                  left = o;
                  have_left = TRUE;
                  g_array_set_size (conflicting, 0);
                }
            }
          else
            break;
          have_o = next_loc (doc, &o);
        }
    }

  if (have_left)
    {
      PrdCrdtItem *l = &left.chunk->items[left.idx];

      /* Typing: extend the run the site just wrote. */
      if (l->site == site && l->clock + l->len == clock && os == site && oc == clock - 1 &&
          id_eq (l->r_site, l->r_clock, rs, rc) && l->del == 0)
        return extend_run (doc, s, left, clock, n);
      return insert_item (doc, left.chunk, left.idx + 1, &item, TRUE);
    }
  if (doc->order->len == 0)
    {
      PrdCrdtChunk *c = prd_crdt_doc_new_chunk (doc);
      g_array_append_val (doc->order, c->id);
      doc->dirty = TRUE;
      ensure_index (doc);
    }
  return insert_item (doc, chunk_at (doc, 0), 0, &item, TRUE);
}

/* ---- public API ------------------------------------------------------------ */

PrdCrdtDoc *
prd_crdt_doc_new (void)
{
  PrdCrdtDoc *doc = g_new0 (PrdCrdtDoc, 1);

  doc->chunks = g_ptr_array_new ();
  doc->slabs = g_ptr_array_new_with_free_func (g_free);
  doc->order = g_array_new (FALSE, FALSE, sizeof (guint32));
  doc->sites = g_ptr_array_new_with_free_func (site_free);
  doc->log = g_array_new (FALSE, FALSE, sizeof (PrdCrdtLogRun));
  doc->pending = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                        (GDestroyNotify) prd_crdt_op_free);
  doc->dirty = TRUE;
  return doc;
}

void
prd_crdt_doc_free (PrdCrdtDoc *doc)
{
  if (doc == NULL)
    return;
  g_ptr_array_unref (doc->chunks);
  g_ptr_array_unref (doc->slabs);
  g_array_unref (doc->order);
  g_ptr_array_unref (doc->sites);
  g_array_unref (doc->log);
  g_hash_table_unref (doc->pending);
  g_free (doc->scratch.data);
  g_free (doc->fen);
  g_free (doc);
}

guint32
prd_crdt_doc_get_length (PrdCrdtDoc *doc)
{
  g_return_val_if_fail (doc != NULL, 0);
  return doc->length;
}

/**
 * prd_crdt_doc_is_lossy:
 *
 * Returns: whether @doc was decoded from a state written without the text of
 *   deleted characters, which then reads as U+FFFF (prd_crdt_doc_get_op())
 */
gboolean
prd_crdt_doc_is_lossy (PrdCrdtDoc *doc)
{
  g_return_val_if_fail (doc != NULL, FALSE);
  return doc->lossy;
}

guint32
prd_crdt_doc_get_site_ops (PrdCrdtDoc *doc, guint32 site)
{
  PrdCrdtSite *s;

  g_return_val_if_fail (doc != NULL, 0);
  s = get_site (doc, site);
  return s ? s->n_ops : 0;
}

GArray *
prd_crdt_doc_get_state_vector (PrdCrdtDoc *doc)
{
  GArray *v;
  guint n;

  g_return_val_if_fail (doc != NULL, NULL);
  v = g_array_new (FALSE, TRUE, sizeof (guint32));
  n = doc->sites->len;

  while (n > 0 && ((PrdCrdtSite *) g_ptr_array_index (doc->sites, n - 1))->n_ops == 0)
    n--;
  for (guint i = 0; i < n; i++)
    g_array_append_val (v, ((PrdCrdtSite *) g_ptr_array_index (doc->sites, i))->n_ops);
  return v;
}

static void
append_visible_text (PrdCrdtDoc *doc, GString *out)
{
  for (guint o = 0; o < doc->order->len; o++)
    {
      PrdCrdtChunk *c = chunk_at (doc, o);
      for (guint i = 0; i < c->n; i++)
        {
          PrdCrdtItem *it = &c->items[i];
          if (it->del == 0)
            {
              PrdCrdtSite *s = site_at (doc, it->site);
              prd_crdt_utf16_append_utf8 (out, &g_array_index (s->text, guint16, it->clock),
                                          it->len);
            }
        }
    }
}

char *
prd_crdt_doc_get_text (PrdCrdtDoc *doc)
{
  GString *out;

  g_return_val_if_fail (doc != NULL, NULL);
  out = g_string_sized_new (doc->length + 16);
  append_visible_text (doc, out);
  return g_string_free (out, FALSE);
}

/* Out of line: the checks run once per keystroke and rarely fail. */
static G_GNUC_NO_INLINE gboolean
vector_error (PrdCrdtDoc *doc, const guint32 *vector, gsize n_vector, gsize i, GError **error)
{
  if (n_vector > PRD_CRDT_MAX_SITES)
    g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                 "State vector has %" G_GSIZE_FORMAT " entries (at most %d sites)", n_vector,
                 PRD_CRDT_MAX_SITES);
  else
    g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                 "State vector names operation %u of site %" G_GSIZE_FORMAT
                 ", but only %u are known",
                 vector[i], i, site_ops (doc, i));
  return FALSE;
}

/* Checks that @vector names a version this document has. */
static inline gboolean
check_vector (PrdCrdtDoc *doc, const guint32 *vector, gsize n_vector, GError **error)
{
  if (G_UNLIKELY (n_vector > PRD_CRDT_MAX_SITES))
    return vector_error (doc, vector, n_vector, 0, error);
  for (gsize i = 0; i < n_vector; i++)
    {
      if (G_UNLIKELY (vector[i] > site_ops (doc, i)))
        return vector_error (doc, vector, n_vector, i, error);
    }
  return TRUE;
}

static gboolean
vector_is_current (PrdCrdtDoc *doc, const guint32 *vector, gsize n_vector)
{
  guint n = MAX (n_vector, doc->sites->len);

  for (guint i = 0; i < n; i++)
    {
      guint32 v = i < n_vector ? vector[i] : 0;
      if (v != site_ops (doc, i))
        return FALSE;
    }
  return TRUE;
}

guint64
prd_crdt_doc_count_missing (PrdCrdtDoc *doc, const guint32 *vector, gsize n_vector)
{
  guint64 n = 0;

  g_return_val_if_fail (doc != NULL, 0);
  g_return_val_if_fail (vector != NULL || n_vector == 0, 0);

  for (guint i = 0; i < doc->sites->len; i++)
    {
      guint32 have = site_ops (doc, i), v = i < n_vector ? vector[i] : 0;

      if (have > v)
        n += have - v;
    }
  return n;
}

char *
prd_crdt_doc_get_text_at (PrdCrdtDoc *doc, const guint32 *vector, gsize n_vector, GError **error)
{
  GString *out;

  g_return_val_if_fail (doc != NULL, NULL);
  g_return_val_if_fail (vector != NULL || n_vector == 0, NULL);

  if (!check_vector (doc, vector, n_vector, error))
    return NULL;
  if (vector_is_current (doc, vector, n_vector))
    return prd_crdt_doc_get_text (doc);
  move_version (doc, vector, n_vector, TRUE);
  out = g_string_sized_new (doc->length + 16);
  append_visible_text (doc, out);
  move_version (doc, vector, n_vector, FALSE);
  if (doc->lossy && strstr (out->str, "\xef\xbf\xbf") != NULL)
    {
      g_string_free (out, TRUE);
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                   "The text of that version was dropped when the document was stored");
      return NULL;
    }
  return g_string_free (out, FALSE);
}

static G_GNUC_NO_INLINE gboolean
local_error (PrdCrdtDoc *doc, guint32 site, guint32 own, GError **error)
{
  if (site >= PRD_CRDT_MAX_SITES)
    g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                 "Site %u is out of range (at most %d sites)", site, PRD_CRDT_MAX_SITES);
  else
    g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                 "Operation %u of site %u is not the next one (the document has %u of that site)",
                 own + 1, site, site_ops (doc, site));
  return FALSE;
}

static inline gboolean
check_local (PrdCrdtDoc *doc, guint32 site, const guint32 *base, gsize n_base, GError **error)
{
  guint32 own;

  if (G_UNLIKELY (site >= PRD_CRDT_MAX_SITES))
    return local_error (doc, site, 0, error);
  if (!check_vector (doc, base, n_base, error))
    return FALSE;
  own = site < n_base ? base[site] : 0;
  if (G_UNLIKELY (own != site_ops (doc, site)))
    return local_error (doc, site, own, error);
  return TRUE;
}

static gboolean
check_boundary (PrdCrdtDoc *doc, guint32 pos, GError **error)
{
  Loc l;
  PrdCrdtSite *s;

  if (pos == 0 || pos >= doc->length)
    return TRUE;
  l = locate_pos (doc, pos);
  s = site_at (doc, l.chunk->items[l.idx].site);
  if (is_low_surrogate (g_array_index (s->text, guint16, l.chunk->items[l.idx].clock + l.off)))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                   "Position %u splits a surrogate pair", pos);
      return FALSE;
    }
  return TRUE;
}

static PrdCrdtOp *
build_insert_op (PrdCrdtDoc *doc, guint32 site, guint32 seq, guint32 clock, guint32 n)
{
  PrdCrdtOp *op = g_new0 (PrdCrdtOp, 1);
  PrdCrdtSite *s = site_at (doc, site);
  Loc l = locate_id (doc, site, clock);
  PrdCrdtItem *it = &l.chunk->items[l.idx];
  GString *str = g_string_sized_new (n + 1);

  op->type = PRD_CRDT_OP_INSERT;
  op->site = site;
  op->seq = seq;
  op->clock = clock;
  op->length = n;
  if (l.off > 0)
    {
      op->has_origin = TRUE;
      op->origin.site = site;
      op->origin.clock = clock - 1;
    }
  else if (it->o_site != PRD_CRDT_NONE)
    {
      op->has_origin = TRUE;
      op->origin.site = it->o_site;
      op->origin.clock = it->o_clock;
    }
  if (it->r_site != PRD_CRDT_NONE)
    {
      op->has_right_origin = TRUE;
      op->right_origin.site = it->r_site;
      op->right_origin.clock = it->r_clock;
    }
  op->position = loc_position (doc, l);
  prd_crdt_utf16_append_utf8 (str, &g_array_index (s->text, guint16, clock), n);
  op->content = g_string_free (str, FALSE);
  return op;
}

gboolean
prd_crdt_doc_apply_local_insert (PrdCrdtDoc *doc,
                                 guint32 site,
                                 const guint32 *base,
                                 gsize n_base,
                                 guint32 position,
                                 const char *text,
                                 gssize text_len,
                                 gint64 timestamp,
                                 PrdCrdtOp **out_op,
                                 GError **error)
{
  PrdCrdtSite *s;
  gboolean current;
  guint32 os = PRD_CRDT_NONE, oc = 0, rs = PRD_CRDT_NONE, rc = 0;
  guint32 clock, n;
  gsize ascii = 0;
  Loc at, origin_loc = { NULL, 0, 0 };

  g_return_val_if_fail (doc != NULL, FALSE);
  g_return_val_if_fail (base != NULL || n_base == 0, FALSE);
  g_return_val_if_fail (text != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (text_len < 0)
    text_len = strlen (text);
  if (text_len == 0)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION, "Insert of empty text");
      return FALSE;
    }
  if (!check_local (doc, site, base, n_base, error))
    return FALSE;
  /* typed text is mostly ASCII, which is valid UTF-8 of one unit a byte */
  while (ascii < (gsize) text_len && (guchar) text[ascii] < 0x80)
    ascii++;
  n = (guint32) MIN (ascii, G_MAXUINT32);
  if (ascii < (gsize) text_len)
    {
      if (!g_utf8_validate_len (text, text_len, NULL))
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                               "Inserted text is not valid UTF-8");
          return FALSE;
        }
      n = prd_crdt_utf16_length (text, text_len);
    }
  if (n > PRD_CRDT_MAX_INSERT_UNITS)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                   "Inserted text is too long (%u UTF-16 units, at most %d)", n,
                   PRD_CRDT_MAX_INSERT_UNITS);
      return FALSE;
    }

  if ((guint64) site_n_chars (doc, site) + n > PRD_CRDT_MAX_SITE_UNITS)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                   "Site %u has inserted too much text", site);
      return FALSE;
    }
  current = vector_is_current (doc, base, n_base);
  if (!current)
    move_version (doc, base, n_base, TRUE);
  if (position > doc->length)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                   "Insert position %u is beyond the end of the document (length %u)", position,
                   doc->length);
      if (!current)
        move_version (doc, base, n_base, FALSE);
      return FALSE;
    }

  /* Neighbours in the base version: the visible character before the
   * position, and the first item after it that the base version has
   * (deleted or not). */
  {
    Loc r;
    gboolean have_r;

    if (position > 0)
      {
        Loc l = locate_pos (doc, position - 1);
        PrdCrdtItem *it = &l.chunk->items[l.idx];
        os = it->site;
        oc = it->clock + l.off;
        origin_loc = l;
        if (doc->has_surrogates &&
            is_high_surrogate (g_array_index (site_at (doc, os)->text, guint16, oc)))
          {
            g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                         "Position %u splits a surrogate pair", position);
            if (!current)
              move_version (doc, base, n_base, FALSE);
            return FALSE;
          }
        if (l.off + 1 < it->len)
          {
            rs = it->site;
            rc = oc + 1;
            goto found_right;
          }
        r = l;
        ensure_index (doc);
        have_r = next_loc (doc, &r);
      }
    else
      {
        ensure_index (doc);
        have_r = first_loc (doc, &r);
      }
    while (have_r && (r.chunk->items[r.idx].del & PRD_CRDT_NOT_INSERTED))
      have_r = next_loc (doc, &r);
    if (have_r)
      {
        rs = r.chunk->items[r.idx].site;
        rc = r.chunk->items[r.idx].clock;
      }
  found_right:;
  }
  if (!current)
    move_version (doc, base, n_base, FALSE);

  s = site_for_write (doc, site);
  clock = s->text->len;
  if (ascii == (gsize) text_len)
    {
      guint16 *dst;

      prd_crdt_buf_reserve (s->text, clock + n, sizeof (guint16));
      dst = (guint16 *) (void *) s->text->data + clock;
      for (guint32 k = 0; k < n; k++)
        dst[k] = (guchar) text[k];
      s->text->len = clock + n;
    }
  else if (prd_crdt_utf8_to_utf16_unchecked (text, text_len, s->text))
    doc->has_surrogates = TRUE;
  /* Typing at the end of the site's last run, in the current version: the
   * right neighbour found above is the item after the run, so there is
   * nothing concurrent to order and integrate_insert() would extend it. */
  if (current && os == site && oc + 1 == clock &&
      origin_loc.off + 1 == origin_loc.chunk->items[origin_loc.idx].len &&
      origin_loc.chunk->items[origin_loc.idx].del == 0 &&
      id_eq (origin_loc.chunk->items[origin_loc.idx].r_site,
             origin_loc.chunk->items[origin_loc.idx].r_clock, rs, rc))
    at = extend_run (doc, s, origin_loc, clock, n);
  else
    at = integrate_insert (doc, site, clock, n, os, oc, rs, rc,
                           current && os != PRD_CRDT_NONE ? &origin_loc : NULL);
  site_append_insert (s, clock, n);
  log_append (doc, site);

  if (out_op)
    {
      /* one allocation: the hub makes one of these per keystroke */
      PrdCrdtOp *op = g_malloc (sizeof (PrdCrdtOp) + text_len + 1);
      gboolean has_origin = os != PRD_CRDT_NONE, has_right = rs != PRD_CRDT_NONE;

      /* every field set one by one: zero-filling first (memset, or an
       * initialiser) compiles to "rep stosq", which took a fifth of this
       * function */
      op->type = PRD_CRDT_OP_INSERT;
      op->site = site;
      op->seq = s->n_ops;
      op->position = current ? position : loc_position (doc, at);
      op->length = n;
      op->timestamp = timestamp;
      op->clock = clock;
      op->content = (char *) (op + 1);
      op->has_origin = has_origin;
      op->origin.site = has_origin ? os : 0;
      op->origin.clock = has_origin ? oc : 0;
      op->has_right_origin = has_right;
      op->right_origin.site = has_right ? rs : 0;
      op->right_origin.clock = has_right ? rc : 0;
      op->targets = NULL;
      op->n_targets = 0;
      memcpy (op->content, text, text_len);
      op->content[text_len] = '\0';
      *out_op = op;
    }
  return TRUE;
}

static void
add_target (PrdCrdtBuf *targets, guint32 site, guint32 clock, guint32 len)
{
  PrdCrdtIdRange *r;

  if (targets->len > 0)
    {
      PrdCrdtIdRange *last = &g_array_index (targets, PrdCrdtIdRange, targets->len - 1);
      if (last->site == site && last->clock + last->length == clock)
        {
          last->length += len;
          return;
        }
    }
  prd_crdt_buf_set_size (targets, targets->len + 1, sizeof (PrdCrdtIdRange));
  r = &g_array_index (targets, PrdCrdtIdRange, targets->len - 1);
  r->site = site;
  r->clock = clock;
  r->length = len;
}

static void
integrate_delete (PrdCrdtDoc *doc, guint32 site, const PrdCrdtIdRange *targets, guint n_targets)
{
  PrdCrdtSite *s = site_for_write (doc, site);

  for (guint i = 0; i < n_targets; i++)
    range_apply (doc, targets[i].site, targets[i].clock, targets[i].length, RANGE_DELETE);
  site_append_delete (s, targets, n_targets);
  log_append (doc, site);
}

gboolean
prd_crdt_doc_apply_local_delete (PrdCrdtDoc *doc,
                                 guint32 site,
                                 const guint32 *base,
                                 gsize n_base,
                                 guint32 position,
                                 guint32 length,
                                 gint64 timestamp,
                                 PrdCrdtOp **out_op,
                                 GError **error)
{
  PrdCrdtBuf *targets;
  gboolean current;
  guint32 left;
  guint32 first_pos;
  Loc l;

  g_return_val_if_fail (doc != NULL, FALSE);
  g_return_val_if_fail (base != NULL || n_base == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (length == 0)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION, "Delete of length 0");
      return FALSE;
    }
  if (!check_local (doc, site, base, n_base, error))
    return FALSE;

  current = vector_is_current (doc, base, n_base);
  if (!current)
    move_version (doc, base, n_base, TRUE);
  if (position > doc->length || length > doc->length - position)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                   "Delete of %u at %u is beyond the end of the document (length %u)", length,
                   position, doc->length);
      if (!current)
        move_version (doc, base, n_base, FALSE);
      return FALSE;
    }

  /* the buffer is the document's: resetting a GArray would go through
   * g_array_remove_range() once per delete */
  targets = &doc->scratch;
  targets->len = 0;
  l = locate_pos (doc, position);
  left = length;
  while (left > 0)
    {
      PrdCrdtItem *it = &l.chunk->items[l.idx];
      if (it->del == 0)
        {
          guint32 take = MIN (it->len - l.off, left);
          add_target (targets, it->site, it->clock + l.off, take);
          left -= take;
        }
      l.off = 0;
      if (left > 0 && !next_loc (doc, &l))
        g_assert_not_reached ();
    }
  {
    PrdCrdtIdRange *first = &g_array_index (targets, PrdCrdtIdRange, 0);
    PrdCrdtIdRange *last = &g_array_index (targets, PrdCrdtIdRange, targets->len - 1);
    if (doc->has_surrogates &&
        (is_low_surrogate (
             g_array_index (site_at (doc, first->site)->text, guint16, first->clock)) ||
         is_high_surrogate (g_array_index (site_at (doc, last->site)->text, guint16,
                                           last->clock + last->length - 1))))
      {
        g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                     "Delete of %u at %u splits a surrogate pair", length, position);
        if (!current)
          move_version (doc, base, n_base, FALSE);
        return FALSE;
      }
  }
  if (!current)
    move_version (doc, base, n_base, FALSE);

  if (current)
    first_pos = position;
  else
    {
      PrdCrdtIdRange *t = &g_array_index (targets, PrdCrdtIdRange, 0);
      first_pos = loc_position (doc, locate_id (doc, t->site, t->clock));
    }
  integrate_delete (doc, site, (PrdCrdtIdRange *) (void *) targets->data, targets->len);

  if (out_op)
    {
      /* one allocation, as for inserts */
      PrdCrdtOp *op = g_malloc (sizeof (PrdCrdtOp) + targets->len * sizeof (PrdCrdtIdRange));
      op->type = PRD_CRDT_OP_DELETE;
      op->site = site;
      op->seq = site_ops (doc, site);
      op->position = first_pos;
      op->length = length;
      op->timestamp = timestamp;
      op->clock = 0;
      op->content = NULL;
      op->has_origin = FALSE;
      op->origin.site = op->origin.clock = 0;
      op->has_right_origin = FALSE;
      op->right_origin.site = op->right_origin.clock = 0;
      op->targets = (PrdCrdtIdRange *) (void *) (op + 1);
      op->n_targets = targets->len;
      memcpy (op->targets, targets->data, targets->len * sizeof (PrdCrdtIdRange));
      *out_op = op;
    }
  return TRUE;
}

/* ---- the CRDT path ------------------------------------------------------------ */

static gboolean
char_exists (PrdCrdtDoc *doc, guint32 site, guint32 clock)
{
  return clock < site_n_chars (doc, site);
}

gboolean
prd_crdt_op_validate (const PrdCrdtOp *op, GError **error)
{
  if (op->site >= PRD_CRDT_MAX_SITES)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                   "Site %u is out of range (at most %d sites)", op->site, PRD_CRDT_MAX_SITES);
      return FALSE;
    }
  if (op->seq == 0)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                           "Operation numbers start at 1");
      return FALSE;
    }
  if (op->type == PRD_CRDT_OP_INSERT)
    {
      gsize blen;
      if (op->content == NULL || op->content[0] == '\0')
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                               "Insert without content");
          return FALSE;
        }
      blen = strlen (op->content);
      if (!g_utf8_validate_len (op->content, blen, NULL))
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                               "Inserted text is not valid UTF-8");
          return FALSE;
        }
      if (blen > 4 * (gsize) PRD_CRDT_MAX_INSERT_UNITS ||
          prd_crdt_utf16_length (op->content, blen) > PRD_CRDT_MAX_INSERT_UNITS)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                       "Inserted text is too long (at most %d UTF-16 units)",
                       PRD_CRDT_MAX_INSERT_UNITS);
          return FALSE;
        }
      if ((op->has_origin && op->origin.site >= PRD_CRDT_MAX_SITES) ||
          (op->has_right_origin && op->right_origin.site >= PRD_CRDT_MAX_SITES))
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                               "Origin site out of range");
          return FALSE;
        }
      if (op->has_origin && op->origin.site == op->site && op->origin.clock >= op->clock)
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                               "Origin is not older than the insert");
          return FALSE;
        }
      if (op->has_right_origin && op->right_origin.site == op->site &&
          op->right_origin.clock >= op->clock)
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                               "Right origin is not older than the insert");
          return FALSE;
        }
    }
  else if (op->type == PRD_CRDT_OP_DELETE)
    {
      if (op->n_targets == 0 || op->targets == NULL)
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                               "Delete without targets");
          return FALSE;
        }
      for (guint i = 0; i < op->n_targets; i++)
        {
          const PrdCrdtIdRange *t = &op->targets[i];
          if (t->length == 0 || t->site >= PRD_CRDT_MAX_SITES || t->clock > G_MAXUINT32 - t->length)
            {
              g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                           "Delete target %u is not a valid id range", i);
              return FALSE;
            }
        }
    }
  else
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION, "Unknown operation type");
      return FALSE;
    }
  return TRUE;
}

/* Whether every character @op refers to is here. */
static gboolean
deps_ready (PrdCrdtDoc *doc, const PrdCrdtOp *op)
{
  if (op->type == PRD_CRDT_OP_INSERT)
    return (!op->has_origin || char_exists (doc, op->origin.site, op->origin.clock)) &&
           (!op->has_right_origin ||
            char_exists (doc, op->right_origin.site, op->right_origin.clock));
  for (guint i = 0; i < op->n_targets; i++)
    {
      const PrdCrdtIdRange *t = &op->targets[i];
      if (!char_exists (doc, t->site, t->clock + t->length - 1))
        return FALSE;
    }
  return TRUE;
}

/* @op is the next operation of its site and its dependencies are here. */
static gboolean
integrate_remote (PrdCrdtDoc *doc, const PrdCrdtOp *op, GError **error)
{
  PrdCrdtSite *s = prd_crdt_doc_ensure_site (doc, op->site);

  if (op->type == PRD_CRDT_OP_INSERT)
    {
      guint32 clock = s->text->len;
      gsize blen = strlen (op->content);
      guint32 n = prd_crdt_utf16_length (op->content, blen);

      if ((guint64) clock + n > PRD_CRDT_MAX_SITE_UNITS)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                       "Site %u has inserted too much text", op->site);
          return FALSE;
        }
      if (op->clock != clock)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                       "Insert (%u, %u) starts at clock %u but site %u is at clock %u", op->site,
                       op->seq, op->clock, op->site, clock);
          return FALSE;
        }
      if (op->has_origin)
        {
          PrdCrdtSite *os = site_at (doc, op->origin.site);
          if (is_high_surrogate (g_array_index (os->text, guint16, op->origin.clock)))
            {
              g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                                   "Insert splits a surrogate pair");
              return FALSE;
            }
        }
      /* validated by prd_crdt_op_validate() */
      if (prd_crdt_utf8_to_utf16_unchecked (op->content, blen, s->text))
        doc->has_surrogates = TRUE;
      integrate_insert (doc, op->site, clock, n, op->has_origin ? op->origin.site : PRD_CRDT_NONE,
                        op->origin.clock,
                        op->has_right_origin ? op->right_origin.site : PRD_CRDT_NONE,
                        op->right_origin.clock, NULL);
      site_append_insert (s, clock, n);
      log_append (doc, op->site);
    }
  else
    integrate_delete (doc, op->site, op->targets, op->n_targets);
  return TRUE;
}

static guint64
pending_key (guint32 site, guint32 seq)
{
  return ((guint64) site << 32) | seq;
}

static guint
drain_pending (PrdCrdtDoc *doc)
{
  guint applied = 0;
  gboolean progress = TRUE;

  while (progress && g_hash_table_size (doc->pending) > 0)
    {
      progress = FALSE;
      for (guint32 site = 0; site < doc->sites->len; site++)
        {
          PrdCrdtSite *s = g_ptr_array_index (doc->sites, site);
          guint64 key = pending_key (site, s->n_ops + 1);
          PrdCrdtOp *op = g_hash_table_lookup (doc->pending, &key);
          g_autoptr (GError) error = NULL;

          if (op == NULL || !deps_ready (doc, op))
            continue;
          if (integrate_remote (doc, op, &error))
            applied++;
          else
            {
              /* it was accepted for later; the caller learns through
               * prd_crdt_doc_get_n_rejected() */
              g_debug ("Dropping held-back operation (%u, %u): %s", op->site, op->seq,
                       error->message);
              doc->n_rejected++;
            }
          g_hash_table_remove (doc->pending, &key);
          progress = TRUE;
        }
    }
  return applied;
}

gboolean
prd_crdt_doc_apply_remote (PrdCrdtDoc *doc, const PrdCrdtOp *op, guint *out_applied, GError **error)
{
  guint64 key;

  g_return_val_if_fail (doc != NULL, FALSE);
  g_return_val_if_fail (op != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (out_applied)
    *out_applied = 0;
  if (!prd_crdt_op_validate (op, error))
    return FALSE;
  if (op->seq <= site_ops (doc, op->site))
    return TRUE;
  key = pending_key (op->site, op->seq);
  if (g_hash_table_contains (doc->pending, &key))
    return TRUE;
  if (op->seq == site_ops (doc, op->site) + 1 && deps_ready (doc, op))
    {
      guint n;
      if (!integrate_remote (doc, op, error))
        return FALSE;
      n = 1 + drain_pending (doc);
      if (out_applied)
        *out_applied = n;
      return TRUE;
    }
  if (g_hash_table_size (doc->pending) >= PRD_CRDT_MAX_PENDING)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                   "Too many operations waiting for their dependencies (%d)", PRD_CRDT_MAX_PENDING);
      return FALSE;
    }
  {
    guint64 *k = g_new (guint64, 1);
    *k = key;
    /* drain_pending() walks the sites it knows */
    prd_crdt_doc_ensure_site (doc, op->site);
    g_hash_table_insert (doc->pending, k, prd_crdt_op_copy (op));
  }
  return TRUE;
}

guint
prd_crdt_doc_get_n_rejected (PrdCrdtDoc *doc)
{
  g_return_val_if_fail (doc != NULL, 0);
  return doc->n_rejected;
}

guint
prd_crdt_doc_get_n_pending (PrdCrdtDoc *doc)
{
  g_return_val_if_fail (doc != NULL, 0);
  return g_hash_table_size (doc->pending);
}

static PrdCrdtOp *
build_op (PrdCrdtDoc *doc, guint32 site, guint32 seq)
{
  PrdCrdtSite *s = site_at (doc, site);
  const PrdCrdtOpRun *r = site_find_run (s, seq);
  guint32 k = seq - r->seq;

  if (r->kind == PRD_CRDT_RUN_INSERT)
    return build_insert_op (doc, site, seq, r->start + k * r->each, r->each);
  else
    {
      PrdCrdtOp *op = g_new0 (PrdCrdtOp, 1);
      PrdCrdtIdRange buf;
      const PrdCrdtIdRange *t = run_targets (s, r, k, &buf);
      op->type = PRD_CRDT_OP_DELETE;
      op->site = site;
      op->seq = seq;
      op->n_targets = r->each;
      op->targets = g_memdup2 (t, r->each * sizeof (PrdCrdtIdRange));
      for (guint i = 0; i < r->each; i++)
        op->length += t[i].length;
      op->position = loc_position (doc, locate_id (doc, t[0].site, t[0].clock));
      return op;
    }
}

/**
 * prd_crdt_doc_get_op:
 * @site: a site
 * @seq: an operation number within @site, from 1
 *
 * Returns: (transfer full) (nullable): operation (@site, @seq) in CRDT form
 *   (@position where its first character is now, @timestamp 0), or %NULL when
 *   this replica has not integrated it. The text of a deleted insert dropped
 *   from a lossy state reads as U+FFFF.
 */
PrdCrdtOp *
prd_crdt_doc_get_op (PrdCrdtDoc *doc, guint32 site, guint32 seq)
{
  g_return_val_if_fail (doc != NULL, NULL);

  if (seq == 0 || site >= doc->sites->len || seq > site_ops (doc, site))
    return NULL;
  return build_op (doc, site, seq);
}

GPtrArray *
prd_crdt_doc_get_missing_ops (PrdCrdtDoc *doc,
                              const guint32 *vector,
                              gsize n_vector,
                              GError **error)
{
  g_autoptr (GPtrArray) ops = NULL;
  g_autofree guint32 *seen = NULL;

  g_return_val_if_fail (doc != NULL, NULL);
  g_return_val_if_fail (vector != NULL || n_vector == 0, NULL);

  if (n_vector > PRD_CRDT_MAX_SITES)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                   "State vector has %" G_GSIZE_FORMAT " entries (at most %d sites)", n_vector,
                   PRD_CRDT_MAX_SITES);
      return NULL;
    }
  ops = g_ptr_array_new_with_free_func ((GDestroyNotify) prd_crdt_op_free);
  seen = g_new0 (guint32, doc->sites->len + 1);
  for (guint i = 0; i < doc->log->len; i++)
    {
      PrdCrdtLogRun *r = &g_array_index (doc->log, PrdCrdtLogRun, i);
      guint32 have = r->site < n_vector ? vector[r->site] : 0;
      guint32 first = seen[r->site] + 1, last = seen[r->site] + r->count;

      seen[r->site] = last;
      for (guint32 seq = MAX (first, have + 1); seq <= last; seq++)
        {
          PrdCrdtOp *op = build_op (doc, r->site, seq);
          if (doc->lossy && op->type == PRD_CRDT_OP_INSERT && strstr (op->content, "\xef\xbf\xbf"))
            {
              prd_crdt_op_free (op);
              g_set_error (
                  error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                  "The text of operation (%u, %u) was dropped when the document was stored",
                  r->site, seq);
              return NULL;
            }
          g_ptr_array_add (ops, op);
        }
    }
  return g_steal_pointer (&ops);
}

/* ---- anchors ------------------------------------------------------------------ */

gboolean
prd_crdt_doc_anchor_at (PrdCrdtDoc *doc,
                        guint32 position,
                        PrdCrdtAssoc assoc,
                        PrdCrdtAnchor *out_anchor,
                        GError **error)
{
  g_return_val_if_fail (doc != NULL, FALSE);
  g_return_val_if_fail (out_anchor != NULL, FALSE);

  if (position > doc->length)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                   "Position %u is beyond the end of the document (length %u)", position,
                   doc->length);
      return FALSE;
    }
  if (!check_boundary (doc, position, error))
    return FALSE;
  memset (out_anchor, 0, sizeof *out_anchor);
  out_anchor->assoc = assoc;
  if (assoc == PRD_CRDT_ASSOC_AFTER ? position < doc->length : position > 0)
    {
      Loc l = locate_pos (doc, assoc == PRD_CRDT_ASSOC_AFTER ? position : position - 1);
      out_anchor->has_id = TRUE;
      out_anchor->id.site = l.chunk->items[l.idx].site;
      out_anchor->id.clock = l.chunk->items[l.idx].clock + l.off;
    }
  return TRUE;
}

gboolean
prd_crdt_doc_anchor_at_version (PrdCrdtDoc *doc,
                                const guint32 *vector,
                                gsize n_vector,
                                guint32 position,
                                PrdCrdtAssoc assoc,
                                PrdCrdtAnchor *out_anchor,
                                GError **error)
{
  gboolean ok;

  g_return_val_if_fail (doc != NULL, FALSE);
  g_return_val_if_fail (vector != NULL || n_vector == 0, FALSE);
  g_return_val_if_fail (out_anchor != NULL, FALSE);

  if (!check_vector (doc, vector, n_vector, error))
    return FALSE;
  if (vector_is_current (doc, vector, n_vector))
    return prd_crdt_doc_anchor_at (doc, position, assoc, out_anchor, error);
  move_version (doc, vector, n_vector, TRUE);
  ok = prd_crdt_doc_anchor_at (doc, position, assoc, out_anchor, error);
  move_version (doc, vector, n_vector, FALSE);
  return ok;
}

gboolean
prd_crdt_doc_read_at_version (PrdCrdtDoc *doc,
                              const guint32 *vector,
                              gsize n_vector,
                              PrdCrdtReadFunc func,
                              gpointer user_data,
                              GError **error)
{
  g_return_val_if_fail (doc != NULL, FALSE);
  g_return_val_if_fail (vector != NULL || n_vector == 0, FALSE);
  g_return_val_if_fail (func != NULL, FALSE);

  if (!check_vector (doc, vector, n_vector, error))
    return FALSE;
  if (vector_is_current (doc, vector, n_vector))
    {
      func (doc, user_data);
      return TRUE;
    }
  move_version (doc, vector, n_vector, TRUE);
  func (doc, user_data);
  move_version (doc, vector, n_vector, FALSE);
  return TRUE;
}

gboolean
prd_crdt_doc_anchor_resolve (PrdCrdtDoc *doc,
                             const PrdCrdtAnchor *anchor,
                             guint32 *out_position,
                             GError **error)
{
  Loc l;
  guint32 pos;

  g_return_val_if_fail (doc != NULL, FALSE);
  g_return_val_if_fail (anchor != NULL, FALSE);
  g_return_val_if_fail (out_position != NULL, FALSE);

  if (!anchor->has_id)
    {
      *out_position = anchor->assoc == PRD_CRDT_ASSOC_AFTER ? doc->length : 0;
      return TRUE;
    }
  if (!char_exists (doc, anchor->id.site, anchor->id.clock))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                   "Anchor names character (%u, %u), which this document does not have",
                   anchor->id.site, anchor->id.clock);
      return FALSE;
    }
  l = locate_id (doc, anchor->id.site, anchor->id.clock);
  pos = loc_position (doc, l);
  if (anchor->assoc == PRD_CRDT_ASSOC_BEFORE && l.chunk->items[l.idx].del == 0)
    pos++;
  *out_position = pos;
  return TRUE;
}

gboolean
prd_crdt_doc_splits_surrogate (PrdCrdtDoc *doc, guint32 position)
{
  g_return_val_if_fail (doc != NULL, FALSE);
  return !check_boundary (doc, position, NULL);
}

static int
compare_spans (gconstpointer a, gconstpointer b)
{
  guint32 pa = ((const PrdCrdtSpan *) a)->position, pb = ((const PrdCrdtSpan *) b)->position;

  return pa < pb ? -1 : pa > pb;
}

GArray *
prd_crdt_doc_get_visible_spans (PrdCrdtDoc *doc, guint32 site, guint32 clock, guint32 length)
{
  GArray *spans = g_array_new (FALSE, FALSE, sizeof (PrdCrdtSpan));
  guint32 end, merged = 0;

  g_return_val_if_fail (doc != NULL, spans);

  end = (guint32) MIN ((guint64) clock + length, (guint64) site_n_chars (doc, site));
  /* One item at a time: its characters share their deletion state and are
   * adjacent in the document. */
  for (guint32 c = clock; c < end;)
    {
      Loc l = locate_id (doc, site, c);
      const PrdCrdtItem *it = &l.chunk->items[l.idx];
      guint32 n = MIN (it->len - l.off, end - c);

      if (it->del == 0)
        {
          PrdCrdtSpan span = { loc_position (doc, l), n };

          g_array_append_val (spans, span);
        }
      c += n;
    }
  g_array_sort (spans, compare_spans);
  for (guint i = 0; i < spans->len; i++)
    {
      PrdCrdtSpan *span = &g_array_index (spans, PrdCrdtSpan, i);
      PrdCrdtSpan *last = merged > 0 ? &g_array_index (spans, PrdCrdtSpan, merged - 1) : NULL;

      if (last != NULL && last->position + last->length == span->position)
        last->length += span->length;
      else
        g_array_index (spans, PrdCrdtSpan, merged++) = *span;
    }
  g_array_set_size (spans, merged);
  return spans;
}

/* ---- consistency (used after decoding) ----------------------------------------- */

gboolean
prd_crdt_doc_check_consistency (PrdCrdtDoc *doc, GError **error)
{
  guint32 total = 0;

  doc->dirty = TRUE;
  ensure_index (doc);
  for (guint o = 0; o < doc->order->len; o++)
    total += chunk_at (doc, o)->vis;
  doc->length = total;
  return TRUE;
}
