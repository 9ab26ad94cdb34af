/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-crdt"

#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <zlib.h>

#include "prd-error.h"
#include "prd-crdt-private.h"

/*
 * The binary form of a whole document (docs/crdt.md, "State encoding").
 *
 * Version 2 (written): version byte, flags byte, the CRC-32 (little-endian)
 * of the two uncompressed parts below, one after the other, the length of
 * the first part's raw deflate stream, that stream, then the second part's
 * raw deflate stream up to the end.
 *   - the first holds the site headers, the integration log, and column by
 *     column the sites' operation runs (a backspace/forward-delete run's start
 *     as the difference from where the site's previous such run ended), their
 *     delete targets (the item holding the first character, as the distance
 *     from the previous target's item, and the offset in it) and the items
 *     in document order. An item's origin and right origin are mostly implied
 *     (the previous item, the next one, the character before the item's own
 *     first one, the right origin of the item holding the origin); the others
 *     are the distance in items to the item holding them and an offset in it.
 *     A continuation of an earlier item (origin = its own clock - 1) stores
 *     only that distance instead of its site and clock.
 *   - the second is the text of the items as a stream of UTF-16 units written
 *     as CESU-8 (one byte per ASCII unit): text and metadata compress better
 *     apart.
 *
 * Version 1 (still read): version byte, flags byte, one zlib stream of the
 * sites (runs and targets interleaved), the log, the item columns with
 * explicit origins as ids, and the text.
 *
 * Decoding validates every count and id against what precedes it (references
 * to items once every item is read); the
 * checksum (version 2: the CRC-32; version 1: zlib's Adler-32) catches
 * flipped bits, the structural checks everything else.
 */

#define FLAG_DROPPED_TEXT 1
#define MAX_BODY          (512u * 1024 * 1024)
#define DECODE_FILL       56

enum
{
  O_NONE = 0,
  O_PREV = 1,
  O_EXPLICIT = 2,
  O_SELF = 3, /* version 2: the character before the item's first one */
};

enum
{
  R_NONE = 0,
  R_NEXT = 1,
  R_EXPLICIT = 2,
  R_INHERIT = 3, /* version 2: the right origin of the item holding the origin */
};

/* Item fields are stored column by column: deflate finds more repeats. */
enum
{
  C_HDR,
  C_SITE,
  C_CLOCK,
  C_LEN,
  C_ORIG,
  C_RIGHT,
  C_DEL,
  N_COLS
};

/* Version 2 adds columns for the sites' operation runs and delete targets
 * before the item columns. */
enum
{
  C_RUN_KIND,
  C_RUN_COUNT,
  C_RUN_PSITE,
  C_RUN_START,
  C_DEL_ITEM,
  C_DEL_OFFSET,
  C_DEL_LEN,
  N_RUN_COLS
};

#define H_DELETED 16
#define H_SITE    32
#define H_MANYDEL 64

/* Placeholders in a decoded item until the references are resolved. */
#define PENDING_NEXT     (PRD_CRDT_NONE - 1)
#define PENDING_EXPLICIT (PRD_CRDT_NONE - 2)
#define PENDING_INHERIT  (PRD_CRDT_NONE - 3)
/* Code units as CESU-8: each one by itself, one to three bytes. Sized
 * first, then written in place (appending byte by byte cost about 80
 * instructions a unit). */
static void
put_units (GByteArray *out, const guint16 *u, guint32 n)
{
  guint start = out->len;
  gsize size = 0;
  guint8 *p;

  for (guint32 i = 0; i < n; i++)
    size += u[i] < 0x80 ? 1 : u[i] < 0x800 ? 2 : 3;
  g_byte_array_set_size (out, start + size);
  p = out->data + start;
  for (guint32 i = 0; i < n; i++)
    {
      guint16 c = u[i];

      if (c < 0x80)
        {
          *p++ = c;
        }
      else if (c < 0x800)
        {
          *p++ = 0xC0 | (c >> 6);
          *p++ = 0x80 | (c & 0x3F);
        }
      else
        {
          *p++ = 0xE0 | (c >> 12);
          *p++ = 0x80 | ((c >> 6) & 0x3F);
          *p++ = 0x80 | (c & 0x3F);
        }
    }
}

static gboolean
get_units (PrdCrdtReader *r, guint16 *dst, guint32 n, GError **error)
{
  for (guint32 i = 0; i < n; i++)
    {
      guint8 b;
      if (r->p >= r->end)
        goto bad;
      b = *r->p++;
      if (b < 0x80)
        dst[i] = b;
      else if ((b & 0xE0) == 0xC0)
        {
          if (r->p >= r->end || (r->p[0] & 0xC0) != 0x80)
            goto bad;
          dst[i] = ((b & 0x1F) << 6) | (r->p[0] & 0x3F);
          r->p++;
        }
      else if ((b & 0xF0) == 0xE0)
        {
          if (r->end - r->p < 2 || (r->p[0] & 0xC0) != 0x80 || (r->p[1] & 0xC0) != 0x80)
            goto bad;
          dst[i] = ((b & 0x0F) << 12) | ((r->p[0] & 0x3F) << 6) | (r->p[1] & 0x3F);
          r->p += 2;
        }
      else
        goto bad;
    }
  return TRUE;
bad:
  g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA,
                       "Malformed text in document state");
  return FALSE;
}

static GBytes *
zlib_convert (GConverter *conv, const guint8 *data, gsize size, gsize limit, GError **error)
{
  GByteArray *out = g_byte_array_sized_new (MAX (size, 64));
  gsize in_off = 0;

  while (TRUE)
    {
      gsize read = 0, written = 0;
      GConverterResult res;
      guint old = out->len;

      if (out->len + 65536 > limit + 65536)
        {
          g_byte_array_unref (out);
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA,
                               "Document state too large");
          return NULL;
        }
      g_byte_array_set_size (out, old + 65536);
      res = g_converter_convert (conv, data + in_off, size - in_off, out->data + old, 65536,
                                 G_CONVERTER_INPUT_AT_END, &read, &written, error);
      g_byte_array_set_size (out, old + written);
      in_off += read;
      if (res == G_CONVERTER_ERROR)
        {
          g_byte_array_unref (out);
          if (error && *error && (*error)->domain != PRD_ERROR)
            {
              GError *e = *error;
              *error = NULL;
              g_set_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA, "Corrupt document state: %s",
                           e->message);
              g_error_free (e);
            }
          return NULL;
        }
      if (res == G_CONVERTER_FINISHED)
        break;
    }
  if (in_off != size)
    {
      g_byte_array_unref (out);
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA,
                           "Trailing bytes after the document state");
      return NULL;
    }
  return g_byte_array_free_to_bytes (out);
}

static inline PrdCrdtChunk *
chunk_at (PrdCrdtDoc *doc, guint i)
{
  return g_ptr_array_index (doc->chunks, g_array_index (doc->order, guint32, i));
}

static GBytes *
deflate_raw (const guint8 *data, gsize size, int level)
{
  g_autoptr (GZlibCompressor) zc = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_RAW, level);
  GBytes *packed = zlib_convert (G_CONVERTER (zc), data, size, G_MAXSIZE / 2, NULL);

  g_assert (packed != NULL);
  return packed;
}

/* Where the items of a document are, by their index in document order. */
typedef struct
{
  PrdCrdtDoc *doc;
  guint32 *first; /* by chunk id: index of the chunk's first item */
} ItemIndex;

/* The index in document order of the item holding (@site, @clock). */
static guint32
item_index (ItemIndex *ix, guint32 site, guint32 clock, const PrdCrdtItem **item)
{
  PrdCrdtSite *s = g_ptr_array_index (ix->doc->sites, site);
  PrdCrdtChunk *c = g_ptr_array_index (ix->doc->chunks, g_array_index (s->loc, guint32, clock));

  for (guint i = 0; i < c->n; i++)
    if (c->items[i].site == site && clock - c->items[i].clock < c->items[i].len)
      {
        *item = &c->items[i];
        return ix->first[c->id] + i;
      }
  g_assert_not_reached ();
}

static void
encode_runs (PrdCrdtDoc *doc, ItemIndex *ix, GByteArray *body, GByteArray **col)
{
  for (guint s = 0; s < doc->sites->len; s++)
    {
      PrdCrdtSite *site = g_ptr_array_index (doc->sites, s);
      prd_crdt_put_varint (body, site->n_ops);
      prd_crdt_put_varint (body, site->text->len);
      prd_crdt_put_varint (body, site->runs->len);
      prd_crdt_put_varint (body, site->dels->len);
    }
  for (guint s = 0; s < doc->sites->len; s++)
    {
      PrdCrdtSite *site = g_ptr_array_index (doc->sites, s);
      gint64 last = 0;    /* where the site's previous backspace/forward run ended */
      guint32 last_j = 0; /* the item of the site's previous delete target */

      for (guint i = 0; i < site->runs->len; i++)
        {
          PrdCrdtOpRun *r = &g_array_index (site->runs, PrdCrdtOpRun, i);
          prd_crdt_put_varint (col[C_RUN_KIND], ((guint64) r->each << 2) | r->kind);
          prd_crdt_put_varint (col[C_RUN_COUNT], r->count);
          if (r->kind >= PRD_CRDT_RUN_BACKSPACE)
            {
              prd_crdt_put_varint (col[C_RUN_PSITE], r->psite);
              prd_crdt_put_varint (col[C_RUN_START], prd_crdt_zigzag ((gint64) r->start - last));
              last = r->kind == PRD_CRDT_RUN_BACKSPACE ? (gint64) r->start - r->count + 1
                                                       : (gint64) r->start + r->count;
            }
          else if (r->kind == PRD_CRDT_RUN_DELETE)
            for (guint64 k = 0; k < (guint64) r->count * r->each; k++)
              {
                PrdCrdtIdRange *t = &g_array_index (site->dels, PrdCrdtIdRange, r->start + k);
                const PrdCrdtItem *it;
                guint32 j = item_index (ix, t->site, t->clock, &it);
                prd_crdt_put_varint (col[C_DEL_ITEM], prd_crdt_zigzag ((gint64) j - last_j));
                prd_crdt_put_varint (col[C_DEL_OFFSET], t->clock - it->clock);
                prd_crdt_put_varint (col[C_DEL_LEN], t->length);
                last_j = j;
              }
        }
    }
  prd_crdt_put_varint (body, doc->log->len);
  for (guint i = 0; i < doc->log->len; i++)
    {
      PrdCrdtLogRun *r = &g_array_index (doc->log, PrdCrdtLogRun, i);
      prd_crdt_put_varint (body, r->site);
      prd_crdt_put_varint (body, r->count);
    }
}

static void
encode_items (PrdCrdtDoc *doc, ItemIndex *ix, gboolean drop, GByteArray **col, GByteArray *text)
{
  g_autofree guint32 *last_end = g_new0 (guint32, doc->sites->len + 1);
  const PrdCrdtItem *prev = NULL;
  guint32 prev_site = 0;

  for (guint o = 0, k = 0; o < doc->order->len; o++)
    {
      PrdCrdtChunk *c = chunk_at (doc, o);
      for (guint i = 0; i < c->n; i++, k++)
        {
          const PrdCrdtItem *it = &c->items[i];
          const PrdCrdtItem *next = NULL, *oit = NULL, *rit = NULL;
          guint32 oi = 0, ri;
          guint h = 0, om, rm;
          guint32 del = it->del & ~PRD_CRDT_NOT_INSERTED;
          PrdCrdtSite *site = g_ptr_array_index (doc->sites, it->site);

          if (i + 1 < c->n)
            next = &c->items[i + 1];
          else
            for (guint o2 = o + 1; o2 < doc->order->len && !next; o2++)
              if (chunk_at (doc, o2)->n)
                next = &chunk_at (doc, o2)->items[0];

          if (it->o_site == PRD_CRDT_NONE)
            om = O_NONE;
          else if (prev && prev->site == it->o_site && prev->clock + prev->len - 1 == it->o_clock)
            {
              om = O_PREV;
              oi = k - 1;
              oit = prev;
            }
          else
            {
              oi = item_index (ix, it->o_site, it->o_clock, &oit);
              om = oi < k && it->o_site == it->site && it->o_clock + 1 == it->clock ? O_SELF
                                                                                    : O_EXPLICIT;
            }
          if (it->r_site == PRD_CRDT_NONE)
            rm = R_NONE;
          else if (next && next->site == it->r_site && next->clock == it->r_clock)
            rm = R_NEXT;
          else if (om != O_NONE && oi < k && oit->r_site == it->r_site &&
                   oit->r_clock == it->r_clock)
            rm = R_INHERIT;
          else
            rm = R_EXPLICIT;
          h = om | rm << 2;
          if (del > 0)
            h |= del == 1 ? H_DELETED : H_DELETED | H_MANYDEL;
          if (om != O_SELF && it->site != prev_site)
            h |= H_SITE;
          prd_crdt_put_varint (col[C_HDR], h);
          if (om == O_SELF)
            prd_crdt_put_varint (col[C_ORIG], k - oi);
          else
            {
              if (h & H_SITE)
                prd_crdt_put_varint (col[C_SITE], it->site);
              prd_crdt_put_varint (col[C_CLOCK],
                                   prd_crdt_zigzag ((gint64) it->clock - last_end[it->site]));
            }
          prd_crdt_put_varint (col[C_LEN], it->len);
          if (om == O_EXPLICIT)
            {
              prd_crdt_put_varint (col[C_ORIG], prd_crdt_zigzag ((gint64) k - oi));
              prd_crdt_put_varint (col[C_ORIG], oit->clock + oit->len - 1 - it->o_clock);
            }
          if (rm == R_EXPLICIT)
            {
              ri = item_index (ix, it->r_site, it->r_clock, &rit);
              prd_crdt_put_varint (col[C_RIGHT], prd_crdt_zigzag ((gint64) ri - k));
              prd_crdt_put_varint (col[C_RIGHT], it->r_clock - rit->clock);
            }
          if (h & H_MANYDEL)
            prd_crdt_put_varint (col[C_DEL], del);
          if (!(drop && del > 0))
            put_units (text, &g_array_index (site->text, guint16, it->clock), it->len);
          last_end[it->site] = it->clock + it->len;
          prev_site = it->site;
          prev = it;
        }
    }
}

struct _PrdCrdtStateDraft
{
  GByteArray *body; /* (owned) the first part, uncompressed */
  GByteArray *text; /* (owned) the second part (the text), uncompressed */
  gboolean dropped_text;
  gboolean fast; /* PRD_CRDT_ENCODE_FAST */
};

/**
 * prd_crdt_doc_draft_state:
 * @doc: a #PrdCrdtDoc
 * @flags: what to leave out, and how to compress
 *
 * The first half of prd_crdt_doc_encode_state(): reads @doc and lays out
 * the two parts of the state, uncompressed. Cheap next to
 * prd_crdt_state_draft_pack(), which needs nothing but the draft, so a
 * caller that must not wait for the compression can draft here and pack on
 * another thread while @doc goes on changing.
 *
 * Returns: (transfer full): the draft
 */
PrdCrdtStateDraft *
prd_crdt_doc_draft_state (PrdCrdtDoc *doc, PrdCrdtEncodeFlags flags)
{
  PrdCrdtStateDraft *draft;
  GByteArray *body;
  GByteArray *col[N_RUN_COLS + N_COLS];
  gboolean drop = (flags & PRD_CRDT_ENCODE_DROP_DELETED_TEXT) != 0;
  guint32 n_items = 0;
  ItemIndex ix;

  g_return_val_if_fail (doc != NULL, NULL);

  draft = g_new0 (PrdCrdtStateDraft, 1);
  draft->dropped_text = drop;
  draft->fast = (flags & PRD_CRDT_ENCODE_FAST) != 0;
  draft->body = body = g_byte_array_sized_new (4096);
  draft->text = g_byte_array_sized_new (doc->length + 64);
  for (guint k = 0; k < G_N_ELEMENTS (col); k++)
    col[k] = g_byte_array_new ();
  ix.doc = doc;
  ix.first = g_new0 (guint32, doc->chunks->len + 1);
  for (guint o = 0; o < doc->order->len; o++)
    {
      PrdCrdtChunk *c = chunk_at (doc, o);
      ix.first[c->id] = n_items;
      n_items += c->n;
    }
  prd_crdt_put_varint (body, doc->sites->len);
  encode_runs (doc, &ix, body, col);
  prd_crdt_put_varint (body, n_items);
  encode_items (doc, &ix, drop, col + N_RUN_COLS, draft->text);
  g_free (ix.first);
  for (guint k = 0; k < G_N_ELEMENTS (col); k++)
    prd_crdt_put_varint (body, col[k]->len);
  for (guint k = 0; k < G_N_ELEMENTS (col); k++)
    {
      g_byte_array_append (body, col[k]->data, col[k]->len);
      g_byte_array_unref (col[k]);
    }
  return draft;
}

/**
 * prd_crdt_state_draft_pack:
 * @draft: a draft from prd_crdt_doc_draft_state()
 *
 * The second half of prd_crdt_doc_encode_state(): compresses the draft's
 * parts and adds the header and checksum. It reads the draft and nothing
 * else (no document, no shared state), so it may run on any thread, one
 * thread at a time per draft; the draft is left as it was.
 *
 * Returns: (transfer full): the encoded state, the same bytes
 *   prd_crdt_doc_encode_state() gives for the document the draft was made of
 */
GBytes *
prd_crdt_state_draft_pack (PrdCrdtStateDraft *draft)
{
  g_autoptr (GBytes) packed = NULL;
  g_autoptr (GBytes) packed_text = NULL;
  GByteArray *body, *text, *out;
  guint8 head[6];
  uLong crc;

  g_return_val_if_fail (draft != NULL, NULL);

  body = draft->body;
  text = draft->text;
  /* Level 9 searches the metadata's many short repeats two to three times
   * longer than level 7, for 0.1-0.4 % fewer bytes; the text gains from 9,
   * at up to 40 times level 1's time (310 against 8 ms for 1 MiB of varied
   * words, 15 % smaller). */
  packed = deflate_raw (body->data, body->len, draft->fast ? 1 : 7);
  packed_text = deflate_raw (text->data, text->len, draft->fast ? 1 : 9);
  crc = crc32_z (crc32_z (0, body->data, body->len), text->data, text->len);
  out = g_byte_array_sized_new (12 + g_bytes_get_size (packed) + g_bytes_get_size (packed_text));
  head[0] = PRD_CRDT_STATE_VERSION;
  head[1] = draft->dropped_text ? FLAG_DROPPED_TEXT : 0;
  for (guint i = 0; i < 4; i++)
    head[2 + i] = (crc >> (8 * i)) & 0xff;
  g_byte_array_append (out, head, sizeof head);
  prd_crdt_put_varint (out, g_bytes_get_size (packed));
  g_byte_array_append (out, g_bytes_get_data (packed, NULL), g_bytes_get_size (packed));
  g_byte_array_append (out, g_bytes_get_data (packed_text, NULL), g_bytes_get_size (packed_text));
  return g_byte_array_free_to_bytes (out);
}

/**
 * prd_crdt_state_draft_get_size:
 * @draft: a draft from prd_crdt_doc_draft_state()
 *
 * The size of the draft's parts before compression: what packing it
 * reads, and so a measure of what packing it costs.
 *
 * Returns: the size in bytes
 */
gsize
prd_crdt_state_draft_get_size (PrdCrdtStateDraft *draft)
{
  g_return_val_if_fail (draft != NULL, 0);

  return draft->body->len + draft->text->len;
}

/**
 * prd_crdt_state_draft_free:
 * @draft: (nullable): a draft
 *
 * Frees a draft from prd_crdt_doc_draft_state().
 */
void
prd_crdt_state_draft_free (PrdCrdtStateDraft *draft)
{
  if (draft == NULL)
    return;
  g_byte_array_unref (draft->body);
  g_byte_array_unref (draft->text);
  g_free (draft);
}

GBytes *
prd_crdt_doc_encode_state (PrdCrdtDoc *doc, PrdCrdtEncodeFlags flags)
{
  g_autoptr (PrdCrdtStateDraft) draft = NULL;

  g_return_val_if_fail (doc != NULL, NULL);

  draft = prd_crdt_doc_draft_state (doc, flags);
  return prd_crdt_state_draft_pack (draft);
}

/* A zigzag-coded difference. Any larger than 2^40 is out of every range the
 * decoder accepts; it becomes -2^40, which keeps the sums and differences it
 * goes into from overflowing and still fails their range checks. */
static inline gint64
delta (guint64 z)
{
  return z > ((guint64) 1 << 40) ? -((gint64) 1 << 40) : prd_crdt_unzigzag (z);
}

static gboolean
corrupt (GError **error, const char *what)
{
  g_set_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA, "Corrupt document state: %s", what);
  return FALSE;
}

/* The site count that starts the body of both state versions: bounded,
 * and every site made in @doc. */
static gboolean
read_sites (PrdCrdtDoc *doc, PrdCrdtReader *r, guint32 *out_n_sites, GError **error)
{
  if (!prd_crdt_get_u32 (r, out_n_sites, error))
    return FALSE;
  if (*out_n_sites > PRD_CRDT_MAX_SITES || *out_n_sites > (gsize) (r->end - r->p))
    return corrupt (error, "too many sites");
  for (guint32 s = 0; s < *out_n_sites; s++)
    prd_crdt_doc_ensure_site (doc, s);
  return TRUE;
}

/* An item's delete count from its header @h: none, one, or (H_MANYDEL) read
 * from the delete column, at least 2. */
static gboolean
read_delete_count (PrdCrdtReader *col, guint h, guint32 *out_del, GError **error)
{
  if (h & H_MANYDEL)
    {
      if (!prd_crdt_get_u32 (col, out_del, error))
        return FALSE;
      if (*out_del < 2 || *out_del >= PRD_CRDT_NOT_INSERTED)
        return corrupt (error, "bad delete count");
    }
  else if (h & H_DELETED)
    *out_del = 1;
  return TRUE;
}

/* Reads the (site, count) runs of the integration order. */
static gboolean
decode_log (PrdCrdtDoc *doc, PrdCrdtReader *r, guint32 n_sites, GError **error)
{
  g_autofree guint32 *seen = g_new0 (guint32, n_sites + 1);
  guint32 n_log;

  if (!prd_crdt_get_u32 (r, &n_log, error))
    return FALSE;
  if (n_log > (gsize) (r->end - r->p) / 2)
    return corrupt (error, "bad log");
  g_array_set_size (doc->log, n_log);
  for (guint32 i = 0; i < n_log; i++)
    {
      PrdCrdtLogRun *lr = &g_array_index (doc->log, PrdCrdtLogRun, i);
      if (!prd_crdt_get_u32 (r, &lr->site, error) || !prd_crdt_get_u32 (r, &lr->count, error))
        return FALSE;
      if (lr->site >= n_sites || lr->count == 0 ||
          (guint64) seen[lr->site] + lr->count > G_MAXUINT32)
        return corrupt (error, "bad log run");
      seen[lr->site] += lr->count;
    }
  for (guint32 s = 0; s < n_sites; s++)
    if (seen[s] != ((PrdCrdtSite *) g_ptr_array_index (doc->sites, s))->n_ops)
      return corrupt (error, "log does not match the sites");
  return TRUE;
}

/* Checks the kind, count and length of operation run @run of a site whose
 * runs so far made @ops operations, @chars characters and @dels targets. */
static gboolean
check_run (
    PrdCrdtOpRun *run, guint64 ek, guint64 *ops, guint64 *chars, guint64 *dels, GError **error)
{
  if ((ek >> 2) == 0 || (ek >> 2) > G_MAXUINT32 || run->count == 0)
    return corrupt (error, "bad operation run");
  run->each = ek >> 2;
  run->kind = ek & 3;
  run->seq = *ops + 1;
  run->start = run->kind == PRD_CRDT_RUN_DELETE ? *dels : *chars;
  *ops += run->count;
  if (run->kind == PRD_CRDT_RUN_DELETE)
    *dels += (guint64) run->count * run->each;
  else if (run->kind == PRD_CRDT_RUN_INSERT)
    *chars += (guint64) run->count * run->each;
  if (*ops > G_MAXUINT32 || *chars > G_MAXUINT32 || *dels > G_MAXUINT32)
    return corrupt (error, "operation run overflow");
  return TRUE;
}

static gboolean
check_delete_run (PrdCrdtOpRun *run, guint32 n_sites, GError **error)
{
  if (run->each != 1 || run->psite >= n_sites ||
      (run->kind == PRD_CRDT_RUN_BACKSPACE ? run->start < run->count - 1
                                           : (guint64) run->start + run->count > G_MAXUINT32))
    return corrupt (error, "bad delete run");
  return TRUE;
}

/* Sizes the sites' text and location arrays; every delete must name existing
 * characters. */
static gboolean
finish_sites (PrdCrdtDoc *doc,
              const guint32 *n_chars,
              gboolean check_targets,
              guint64 *total_chars,
              GError **error)
{
  guint32 n_sites = doc->sites->len;

  *total_chars = 0;
  for (guint32 s = 0; s < n_sites; s++)
    {
      PrdCrdtSite *site = g_ptr_array_index (doc->sites, s);
      prd_crdt_buf_set_exact (site->text, n_chars[s], sizeof (guint16));
      prd_crdt_buf_set_exact (site->loc, n_chars[s], sizeof (guint32));
      if (n_chars[s] > 0)
        memset (site->loc->data, 0xff, (gsize) n_chars[s] * sizeof (guint32));
      *total_chars += n_chars[s];
    }
  for (guint32 s = 0; s < n_sites; s++)
    {
      PrdCrdtSite *site = g_ptr_array_index (doc->sites, s);
      for (guint i = 0; i < site->runs->len; i++)
        {
          PrdCrdtOpRun *run = &g_array_index (site->runs, PrdCrdtOpRun, i);
          guint32 hi =
              run->kind == PRD_CRDT_RUN_BACKSPACE ? run->start : run->start + run->count - 1;
          if (run->kind >= PRD_CRDT_RUN_BACKSPACE &&
              hi >= ((PrdCrdtSite *) g_ptr_array_index (doc->sites, run->psite))->text->len)
            return corrupt (error, "delete run out of range");
        }
      for (guint i = 0; i < site->dels->len && check_targets; i++)
        {
          PrdCrdtIdRange *t = &g_array_index (site->dels, PrdCrdtIdRange, i);
          PrdCrdtSite *ts = g_ptr_array_index (doc->sites, t->site);
          if ((guint64) t->clock + t->length > ts->text->len)
            return corrupt (error, "delete target out of range");
        }
    }
  return TRUE;
}

/* Item @k of a document being decoded (its chunks are filled in order). */
static inline PrdCrdtItem *
decoded_item (PrdCrdtDoc *doc, guint32 k)
{
  return &chunk_at (doc, k / DECODE_FILL)->items[k % DECODE_FILL];
}

/* Appends a decoded item in document order. */
static gboolean
add_item (PrdCrdtDoc *doc, const PrdCrdtItem *it, PrdCrdtChunk **chunk, GError **error)
{
  PrdCrdtSite *site = g_ptr_array_index (doc->sites, it->site);
  guint32 *loc = &g_array_index (site->loc, guint32, it->clock);

  for (guint32 c = 0; c < it->len; c++)
    if (loc[c] != G_MAXUINT32)
      return corrupt (error, "character stored twice");
  if (*chunk == NULL || (*chunk)->n == DECODE_FILL)
    {
      *chunk = prd_crdt_doc_new_chunk (doc);
      g_array_append_val (doc->order, (*chunk)->id);
    }
  (*chunk)->items[(*chunk)->n++] = *it;
  (*chunk)->vis += prd_crdt_item_vis (it);
  for (guint32 c = 0; c < it->len; c++)
    loc[c] = (*chunk)->id;
  return TRUE;
}

/* The text, item by item in document order; then the document is complete. */
static gboolean
decode_text (PrdCrdtDoc *doc, PrdCrdtReader *r, gboolean dropped, GError **error)
{
  for (guint o = 0; o < doc->order->len; o++)
    {
      PrdCrdtChunk *c = chunk_at (doc, o);
      for (guint i = 0; i < c->n; i++)
        {
          PrdCrdtItem *it = &c->items[i];
          PrdCrdtSite *site = g_ptr_array_index (doc->sites, it->site);
          guint16 *dst = &g_array_index (site->text, guint16, it->clock);
          if (dropped && it->del > 0)
            {
              for (guint32 u = 0; u < it->len; u++)
                dst[u] = 0xFFFF;
              continue;
            }
          if (!get_units (r, dst, it->len, error))
            return FALSE;
        }
    }
  if (r->p != r->end)
    return corrupt (error, "trailing bytes");
  for (guint32 s = 0; s < doc->sites->len && !doc->has_surrogates; s++)
    {
      PrdCrdtSite *site = g_ptr_array_index (doc->sites, s);
      const guint16 *u = (const guint16 *) (void *) site->text->data;
      for (guint i = 0; i < site->text->len; i++)
        if (u[i] >= 0xD800 && u[i] < 0xE000)
          {
            doc->has_surrogates = TRUE;
            break;
          }
    }
  doc->lossy = dropped;
  return prd_crdt_doc_check_consistency (doc, error);
}

/* Splits the next column lengths of @r into @n readers. */
static gboolean
read_columns (PrdCrdtReader *r, PrdCrdtReader *cr, guint n, GError **error)
{
  guint32 clen[N_RUN_COLS + N_COLS];

  g_assert (n <= G_N_ELEMENTS (clen));
  for (guint k = 0; k < n; k++)
    if (!prd_crdt_get_u32 (r, &clen[k], error))
      return FALSE;
  for (guint k = 0; k < n; k++)
    {
      if (clen[k] > (gsize) (r->end - r->p))
        return corrupt (error, "bad column length");
      cr[k].p = r->p;
      cr[k].end = r->p + clen[k];
      r->p += clen[k];
    }
  return TRUE;
}

static gboolean
decode_body_v1 (PrdCrdtDoc *doc, PrdCrdtReader *r, gboolean dropped, GError **error)
{
  guint32 n_sites, n_items;
  g_autofree guint32 *last_end = NULL;
  g_autofree guint32 *n_chars = NULL;
  PrdCrdtChunk *chunk = NULL;
  guint64 total_chars = 0, covered = 0;
  guint32 prev_site = 0;
  PrdCrdtItem *prev = NULL;
  PrdCrdtReader cr[N_COLS];

  if (!read_sites (doc, r, &n_sites, error))
    return FALSE;
  n_chars = g_new0 (guint32, n_sites + 1);
  for (guint32 s = 0; s < n_sites; s++)
    {
      PrdCrdtSite *site = g_ptr_array_index (doc->sites, s);
      guint32 n_runs, n_dels;
      guint64 ops = 0, chars = 0, dels = 0;

      if (!prd_crdt_get_u32 (r, &site->n_ops, error) || !prd_crdt_get_u32 (r, &n_chars[s], error) ||
          !prd_crdt_get_u32 (r, &n_runs, error))
        return FALSE;
      if (n_runs > (gsize) (r->end - r->p) / 2 || n_chars[s] > MAX_BODY)
        return corrupt (error, "bad site header");
      g_array_set_size (site->runs, n_runs);
      for (guint32 i = 0; i < n_runs; i++)
        {
          PrdCrdtOpRun *run = &g_array_index (site->runs, PrdCrdtOpRun, i);
          guint64 ek;
          if (!prd_crdt_get_varint (r, &ek, error) || !prd_crdt_get_u32 (r, &run->count, error))
            return FALSE;
          if (!check_run (run, ek, &ops, &chars, &dels, error))
            return FALSE;
          if (run->kind >= PRD_CRDT_RUN_BACKSPACE && (!prd_crdt_get_u32 (r, &run->psite, error) ||
                                                      !prd_crdt_get_u32 (r, &run->start, error) ||
                                                      !check_delete_run (run, n_sites, error)))
            return FALSE;
        }
      if (ops != site->n_ops || chars != n_chars[s])
        return corrupt (error, "operation runs do not add up");
      if (!prd_crdt_get_u32 (r, &n_dels, error))
        return FALSE;
      if (n_dels != dels || n_dels > (gsize) (r->end - r->p) / 3)
        return corrupt (error, "delete targets do not add up");
      g_array_set_size (site->dels, n_dels);
      {
        guint32 pc = 0;
        for (guint32 i = 0; i < n_dels; i++)
          {
            PrdCrdtIdRange *t = &g_array_index (site->dels, PrdCrdtIdRange, i);
            guint64 dz;
            gint64 c;
            if (!prd_crdt_get_u32 (r, &t->site, error) || !prd_crdt_get_varint (r, &dz, error) ||
                !prd_crdt_get_u32 (r, &t->length, error))
              return FALSE;
            c = (gint64) pc + delta (dz);
            if (t->site >= n_sites || c < 0 || c > G_MAXUINT32 || t->length == 0)
              return corrupt (error, "bad delete target");
            t->clock = pc = (guint32) c;
          }
      }
    }
  if (!finish_sites (doc, n_chars, TRUE, &total_chars, error) ||
      !decode_log (doc, r, n_sites, error))
    return FALSE;

  if (!prd_crdt_get_u32 (r, &n_items, error))
    return FALSE;
  if (n_items > (gsize) (r->end - r->p) / 2 || n_items > total_chars)
    return corrupt (error, "bad item count");
  if (!read_columns (r, cr, N_COLS, error))
    return FALSE;
  prd_crdt_doc_reserve_chunks (doc, (n_items + DECODE_FILL - 1) / DECODE_FILL);
  last_end = g_new0 (guint32, n_sites + 1);
  for (guint32 k = 0; k < n_items; k++)
    {
      PrdCrdtItem it = { 0 };
      guint32 h;
      guint64 cz;
      gint64 clock;
      PrdCrdtSite *site;

      if (!prd_crdt_get_u32 (&cr[C_HDR], &h, error))
        return FALSE;
      if (h >= 128 || (h & 3) == 3 || ((h >> 2) & 3) == 3 || ((h & H_MANYDEL) && !(h & H_DELETED)))
        return corrupt (error, "bad item header");
      it.site = prev_site;
      if ((h & H_SITE) && !prd_crdt_get_u32 (&cr[C_SITE], &it.site, error))
        return FALSE;
      if (it.site >= n_sites || ((h & H_SITE) && k > 0 && it.site == prev_site))
        return corrupt (error, "bad item site");
      if (!prd_crdt_get_varint (&cr[C_CLOCK], &cz, error) ||
          !prd_crdt_get_u32 (&cr[C_LEN], &it.len, error))
        return FALSE;
      clock = (gint64) last_end[it.site] + delta (cz);
      site = g_ptr_array_index (doc->sites, it.site);
      if (clock < 0 || it.len == 0 || clock + (gint64) it.len > (gint64) site->text->len)
        return corrupt (error, "item out of range");
      it.clock = (guint32) clock;
      switch (h & 3)
        {
          case O_NONE:
            it.o_site = PRD_CRDT_NONE;
            break;
          case O_PREV:
            if (prev == NULL)
              return corrupt (error, "origin before the first item");
            it.o_site = prev->site;
            it.o_clock = prev->clock + prev->len - 1;
            break;
          default:
            if (!prd_crdt_get_u32 (&cr[C_ORIG], &it.o_site, error) ||
                !prd_crdt_get_u32 (&cr[C_ORIG], &it.o_clock, error))
              return FALSE;
            if (it.o_site >= n_sites ||
                it.o_clock >=
                    ((PrdCrdtSite *) g_ptr_array_index (doc->sites, it.o_site))->text->len)
              return corrupt (error, "origin out of range");
        }
      switch ((h >> 2) & 3)
        {
          case R_NONE:
            it.r_site = PRD_CRDT_NONE;
            break;
          case R_NEXT:
            it.r_site = PENDING_NEXT; /* resolved below, once the next item is read */
            break;
          default:
            if (!prd_crdt_get_u32 (&cr[C_RIGHT], &it.r_site, error) ||
                !prd_crdt_get_u32 (&cr[C_RIGHT], &it.r_clock, error))
              return FALSE;
            if (it.r_site >= n_sites ||
                it.r_clock >=
                    ((PrdCrdtSite *) g_ptr_array_index (doc->sites, it.r_site))->text->len)
              return corrupt (error, "right origin out of range");
        }
      if (!read_delete_count (&cr[C_DEL], h, &it.del, error))
        return FALSE;

      if (!add_item (doc, &it, &chunk, error))
        return FALSE;
      if (prev && prev->r_site == PENDING_NEXT)
        {
          prev->r_site = it.site;
          prev->r_clock = it.clock;
        }
      prev = &chunk->items[chunk->n - 1];
      covered += it.len;
      last_end[it.site] = it.clock + it.len;
      prev_site = it.site;
    }
  if (prev && prev->r_site == PENDING_NEXT)
    return corrupt (error, "right origin after the last item");
  for (guint k = 0; k < N_COLS; k++)
    if (cr[k].p != cr[k].end)
      return corrupt (error, "trailing bytes in an item column");
  if (covered != total_chars)
    return corrupt (error, "items do not cover every character");
  return decode_text (doc, r, dropped, error);
}

/* The runs and delete targets of every site, from their columns. */
static gboolean
decode_runs_v2 (
    PrdCrdtDoc *doc, PrdCrdtReader *cr, const guint32 *n_chars, guint32 n_items, GError **error)
{
  guint32 n_sites = doc->sites->len;

  for (guint32 s = 0; s < n_sites; s++)
    {
      PrdCrdtSite *site = g_ptr_array_index (doc->sites, s);
      guint64 ops = 0, chars = 0, dels = 0;
      gint64 last = 0, last_j = 0;

      for (guint i = 0; i < site->runs->len; i++)
        {
          PrdCrdtOpRun *run = &g_array_index (site->runs, PrdCrdtOpRun, i);
          guint64 ek, dz;
          gint64 v;

          if (!prd_crdt_get_varint (&cr[C_RUN_KIND], &ek, error) ||
              !prd_crdt_get_u32 (&cr[C_RUN_COUNT], &run->count, error) ||
              !check_run (run, ek, &ops, &chars, &dels, error))
            return FALSE;
          if (run->kind >= PRD_CRDT_RUN_BACKSPACE)
            {
              if (!prd_crdt_get_u32 (&cr[C_RUN_PSITE], &run->psite, error) ||
                  !prd_crdt_get_varint (&cr[C_RUN_START], &dz, error))
                return FALSE;
              v = last + delta (dz);
              if (v < 0 || v > G_MAXUINT32)
                return corrupt (error, "bad delete run");
              run->start = (guint32) v;
              if (!check_delete_run (run, n_sites, error))
                return FALSE;
              last = run->kind == PRD_CRDT_RUN_BACKSPACE ? v - run->count + 1 : v + run->count;
            }
          else if (run->kind == PRD_CRDT_RUN_DELETE)
            {
              if (dels > site->dels->len)
                return corrupt (error, "delete targets do not add up");
              for (guint32 k = run->start; k < dels; k++)
                {
                  PrdCrdtIdRange *t = &g_array_index (site->dels, PrdCrdtIdRange, k);
                  /* item index and offset for now: resolved once the items are read */
                  if (!prd_crdt_get_varint (&cr[C_DEL_ITEM], &dz, error) ||
                      !prd_crdt_get_u32 (&cr[C_DEL_OFFSET], &t->clock, error) ||
                      !prd_crdt_get_u32 (&cr[C_DEL_LEN], &t->length, error))
                    return FALSE;
                  v = last_j + delta (dz);
                  if (v < 0 || v >= n_items || t->length == 0)
                    return corrupt (error, "bad delete target");
                  t->site = (guint32) v;
                  last_j = v;
                }
            }
        }
      if (ops != site->n_ops || chars != n_chars[s])
        return corrupt (error, "operation runs do not add up");
      if (dels != site->dels->len)
        return corrupt (error, "delete targets do not add up");
    }
  for (guint k = 0; k < N_RUN_COLS; k++)
    if (cr[k].p != cr[k].end)
      return corrupt (error, "trailing bytes in a run column");
  return TRUE;
}

/* Origins and right origins given by item index, once every item is read. */
static gboolean
resolve_refs_v2 (
    PrdCrdtDoc *doc, guint32 n_items, const guint32 *oidx, const guint32 *ridx, GError **error)
{
  for (guint32 k = 0; k < n_items; k++)
    {
      PrdCrdtItem *it = decoded_item (doc, k);
      const PrdCrdtItem *src;

      if (it->o_site == PENDING_EXPLICIT)
        {
          src = decoded_item (doc, oidx[k]);
          if (it->o_clock >= src->len)
            return corrupt (error, "origin out of range");
          it->o_site = src->site;
          it->o_clock = src->clock + src->len - 1 - it->o_clock;
        }
      switch (it->r_site)
        {
          case PENDING_NEXT:
            if (k + 1 >= n_items)
              return corrupt (error, "right origin after the last item");
            src = decoded_item (doc, k + 1);
            it->r_site = src->site;
            it->r_clock = src->clock;
            break;
          case PENDING_EXPLICIT:
            src = decoded_item (doc, ridx[k]);
            if (it->r_clock >= src->len)
              return corrupt (error, "right origin out of range");
            it->r_site = src->site;
            it->r_clock = src->clock + it->r_clock;
            break;
          case PENDING_INHERIT:
            src = decoded_item (doc, oidx[k]); /* before this one: already resolved */
            it->r_site = src->r_site;
            it->r_clock = src->r_clock;
            break;
          default:
            break;
        }
    }
  return TRUE;
}

/* Delete targets given as (item index, offset) become ids, which must name
 * existing characters. */
static gboolean
resolve_targets_v2 (PrdCrdtDoc *doc, GError **error)
{
  for (guint32 s = 0; s < doc->sites->len; s++)
    {
      PrdCrdtSite *site = g_ptr_array_index (doc->sites, s);
      for (guint i = 0; i < site->dels->len; i++)
        {
          PrdCrdtIdRange *t = &g_array_index (site->dels, PrdCrdtIdRange, i);
          const PrdCrdtItem *it = decoded_item (doc, t->site);
          PrdCrdtSite *ts = g_ptr_array_index (doc->sites, it->site);
          if (t->clock >= it->len || (guint64) it->clock + t->clock + t->length > ts->text->len)
            return corrupt (error, "delete target out of range");
          t->site = it->site;
          t->clock = it->clock + t->clock;
        }
    }
  return TRUE;
}

static gboolean
decode_body_v2 (
    PrdCrdtDoc *doc, PrdCrdtReader *r, PrdCrdtReader *tr, gboolean dropped, GError **error)
{
  guint32 n_sites, n_items;
  g_autofree guint32 *last_end = NULL;
  g_autofree guint32 *n_chars = NULL;
  g_autofree guint32 *oidx = NULL;
  g_autofree guint32 *ridx = NULL;
  PrdCrdtChunk *chunk = NULL;
  guint64 total_chars = 0, covered = 0;
  guint32 prev_site = 0;
  PrdCrdtItem *prev = NULL;
  PrdCrdtReader cr[N_RUN_COLS + N_COLS];
  PrdCrdtReader *ic = cr + N_RUN_COLS;

  if (!read_sites (doc, r, &n_sites, error))
    return FALSE;
  n_chars = g_new0 (guint32, n_sites + 1);
  for (guint32 s = 0; s < n_sites; s++)
    {
      PrdCrdtSite *site = g_ptr_array_index (doc->sites, s);
      guint32 n_runs, n_dels;

      if (!prd_crdt_get_u32 (r, &site->n_ops, error) || !prd_crdt_get_u32 (r, &n_chars[s], error) ||
          !prd_crdt_get_u32 (r, &n_runs, error) || !prd_crdt_get_u32 (r, &n_dels, error))
        return FALSE;
      if (n_runs > (gsize) (r->end - r->p) / 2 || n_dels > (gsize) (r->end - r->p) / 3 ||
          n_chars[s] > MAX_BODY)
        return corrupt (error, "bad site header");
      g_array_set_size (site->runs, n_runs);
      g_array_set_size (site->dels, n_dels);
    }
  if (!decode_log (doc, r, n_sites, error) || !prd_crdt_get_u32 (r, &n_items, error))
    return FALSE;
  if (n_items > (gsize) (r->end - r->p) / 2)
    return corrupt (error, "bad item count");
  if (!read_columns (r, cr, N_RUN_COLS + N_COLS, error))
    return FALSE;
  if (r->p != r->end)
    return corrupt (error, "trailing bytes");
  if (!decode_runs_v2 (doc, cr, n_chars, n_items, error) ||
      !finish_sites (doc, n_chars, FALSE, &total_chars, error))
    return FALSE;
  if (n_items > total_chars)
    return corrupt (error, "bad item count");

  prd_crdt_doc_reserve_chunks (doc, (n_items + DECODE_FILL - 1) / DECODE_FILL);
  last_end = g_new0 (guint32, n_sites + 1);
  oidx = g_new (guint32, n_items + 1);
  ridx = g_new (guint32, n_items + 1);
  for (guint32 k = 0; k < n_items; k++)
    {
      PrdCrdtItem it = { 0 };
      guint32 h, d, om;
      guint64 z;
      gint64 v;
      PrdCrdtSite *site;

      if (!prd_crdt_get_u32 (&ic[C_HDR], &h, error))
        return FALSE;
      om = h & 3;
      if (h >= 128 || (om == O_SELF && (h & H_SITE)) || ((h & H_MANYDEL) && !(h & H_DELETED)) ||
          (om == O_NONE && ((h >> 2) & 3) == R_INHERIT))
        return corrupt (error, "bad item header");
      if (om == O_SELF)
        {
          const PrdCrdtItem *src;
          if (!prd_crdt_get_u32 (&ic[C_ORIG], &d, error))
            return FALSE;
          if (d == 0 || d > k)
            return corrupt (error, "origin out of range");
          oidx[k] = k - d;
          src = decoded_item (doc, oidx[k]);
          it.site = src->site;
          v = (gint64) src->clock + src->len;
          it.o_site = src->site;
          it.o_clock = src->clock + src->len - 1;
        }
      else
        {
          it.site = prev_site;
          if ((h & H_SITE) && !prd_crdt_get_u32 (&ic[C_SITE], &it.site, error))
            return FALSE;
          if (it.site >= n_sites || ((h & H_SITE) && k > 0 && it.site == prev_site))
            return corrupt (error, "bad item site");
          if (!prd_crdt_get_varint (&ic[C_CLOCK], &z, error))
            return FALSE;
          v = (gint64) last_end[it.site] + delta (z);
        }
      if (!prd_crdt_get_u32 (&ic[C_LEN], &it.len, error))
        return FALSE;
      site = g_ptr_array_index (doc->sites, it.site);
      if (v < 0 || it.len == 0 || v + (gint64) it.len > (gint64) site->text->len)
        return corrupt (error, "item out of range");
      it.clock = (guint32) v;
      switch (om)
        {
          case O_NONE:
            it.o_site = PRD_CRDT_NONE;
            break;
          case O_PREV:
            if (prev == NULL)
              return corrupt (error, "origin before the first item");
            it.o_site = prev->site;
            it.o_clock = prev->clock + prev->len - 1;
            oidx[k] = k - 1;
            break;
          case O_EXPLICIT:
            if (!prd_crdt_get_varint (&ic[C_ORIG], &z, error) ||
                !prd_crdt_get_u32 (&ic[C_ORIG], &it.o_clock, error))
              return FALSE;
            v = (gint64) k - delta (z);
            if (v < 0 || v >= n_items)
              return corrupt (error, "origin out of range");
            oidx[k] = (guint32) v;
            it.o_site = PENDING_EXPLICIT;
            break;
          default:
            break;
        }
      switch ((h >> 2) & 3)
        {
          case R_NONE:
            it.r_site = PRD_CRDT_NONE;
            break;
          case R_NEXT:
            it.r_site = PENDING_NEXT;
            break;
          case R_EXPLICIT:
            if (!prd_crdt_get_varint (&ic[C_RIGHT], &z, error) ||
                !prd_crdt_get_u32 (&ic[C_RIGHT], &it.r_clock, error))
              return FALSE;
            v = (gint64) k + delta (z);
            if (v < 0 || v >= n_items)
              return corrupt (error, "right origin out of range");
            ridx[k] = (guint32) v;
            it.r_site = PENDING_EXPLICIT;
            break;
          default:
            if (oidx[k] >= k)
              return corrupt (error, "right origin out of range");
            it.r_site = PENDING_INHERIT;
        }
      if (!read_delete_count (&ic[C_DEL], h, &it.del, error))
        return FALSE;

      if (!add_item (doc, &it, &chunk, error))
        return FALSE;
      prev = &chunk->items[chunk->n - 1];
      covered += it.len;
      last_end[it.site] = it.clock + it.len;
      prev_site = it.site;
    }
  for (guint k = 0; k < N_COLS; k++)
    if (ic[k].p != ic[k].end)
      return corrupt (error, "trailing bytes in an item column");
  if (covered != total_chars)
    return corrupt (error, "items do not cover every character");
  if (!resolve_refs_v2 (doc, n_items, oidx, ridx, error) || !resolve_targets_v2 (doc, error))
    return FALSE;
  return decode_text (doc, tr, dropped, error);
}

PrdCrdtDoc *
prd_crdt_doc_decode_state (const guint8 *data, gsize size, GError **error)
{
  g_autoptr (PrdCrdtDoc) doc = NULL;
  g_autoptr (GZlibDecompressor) zd = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GBytes) text = NULL;
  PrdCrdtReader r, tr;
  gboolean dropped;

  g_return_val_if_fail (data != NULL || size == 0, NULL);
  if (size < 1)
    return corrupt (error, "empty"), NULL;
  if (data[0] != PRD_CRDT_STATE_VERSION && data[0] != 1)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_UNSUPPORTED_VERSION,
                   "Unsupported CRDT state version %u (this build reads 1 to %u)", data[0],
                   PRD_CRDT_STATE_VERSION);
      return NULL;
    }
  if (size < 2 || (data[1] & ~FLAG_DROPPED_TEXT) != 0)
    return corrupt (error, "bad flags"), NULL;
  dropped = (data[1] & FLAG_DROPPED_TEXT) != 0;
  doc = prd_crdt_doc_new ();
  if (data[0] == 1)
    {
      zd = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_ZLIB);
      body = zlib_convert (G_CONVERTER (zd), data + 2, size - 2, MAX_BODY, error);
      if (body == NULL)
        return NULL;
      r.p = g_bytes_get_data (body, NULL);
      r.end = r.p + g_bytes_get_size (body);
      if (r.p == NULL)
        return corrupt (error, "empty body"), NULL;
      if (!decode_body_v1 (doc, &r, dropped, error))
        return NULL;
      return g_steal_pointer (&doc);
    }

  {
    PrdCrdtReader hr = { data + 6, data + size };
    guint32 len, crc;
    gsize used;

    if (size < 6)
      return corrupt (error, "truncated"), NULL;
    crc = data[2] | data[3] << 8 | data[4] << 16 | (guint32) data[5] << 24;
    if (!prd_crdt_get_u32 (&hr, &len, error))
      return NULL;
    if (len > (gsize) (hr.end - hr.p))
      return corrupt (error, "truncated"), NULL;
    zd = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_RAW);
    body = zlib_convert (G_CONVERTER (zd), hr.p, len, MAX_BODY, error);
    if (body == NULL)
      return NULL;
    used = g_bytes_get_size (body);
    g_clear_object (&zd);
    zd = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_RAW);
    text =
        zlib_convert (G_CONVERTER (zd), hr.p + len, hr.end - (hr.p + len), MAX_BODY - used, error);
    if (text == NULL)
      return NULL;
    if (crc32_z (crc32_z (0, g_bytes_get_data (body, NULL), used), g_bytes_get_data (text, NULL),
                 g_bytes_get_size (text)) != crc)
      return corrupt (error, "checksum mismatch"), NULL;
  }
  r.p = g_bytes_get_data (body, NULL);
  r.end = r.p + g_bytes_get_size (body);
  tr.p = g_bytes_get_data (text, NULL);
  tr.end = tr.p + g_bytes_get_size (text);
  if (r.p == NULL)
    return corrupt (error, "empty body"), NULL;
  if (!decode_body_v2 (doc, &r, &tr, dropped, error))
    return NULL;
  return g_steal_pointer (&doc);
}
