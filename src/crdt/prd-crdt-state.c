/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-crdt"

#include "config.h"

#include <string.h>

#include <gio/gio.h>

#include "prd-error.h"
#include "prd-crdt-private.h"

/*
 * The binary form of a whole document (docs/crdt.md, "State encoding"):
 *
 *   version byte, flags byte, then a zlib stream of the body:
 *   sites (operation runs, delete targets), the integration log, the items in
 *   document order (origins that are simply the item's neighbours take no
 *   bytes), and the text of the items as a stream of UTF-16 units written as
 *   CESU-8 (one byte per ASCII unit).
 *
 * Decoding validates every count and id against what precedes it; the zlib
 * checksum catches flipped bits, the structural checks everything else.
 */

#define FLAG_DROPPED_TEXT 1
#define MAX_BODY          (512u * 1024 * 1024)
#define DECODE_FILL       56

enum
{
  O_NONE = 0,
  O_PREV = 1,
  O_EXPLICIT = 2,
};

enum
{
  R_NONE = 0,
  R_NEXT = 1,
  R_EXPLICIT = 2,
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

#define H_DELETED 16
#define H_SITE    32
#define H_MANYDEL 64

static void
put_units (GByteArray *out, const guint16 *u, guint32 n)
{
  for (guint32 i = 0; i < n; i++)
    {
      guint16 c = u[i];
      guint8 b[3];
      if (c < 0x80)
        {
          b[0] = c;
          g_byte_array_append (out, b, 1);
        }
      else if (c < 0x800)
        {
          b[0] = 0xC0 | (c >> 6);
          b[1] = 0x80 | (c & 0x3F);
          g_byte_array_append (out, b, 2);
        }
      else
        {
          b[0] = 0xE0 | (c >> 12);
          b[1] = 0x80 | ((c >> 6) & 0x3F);
          b[2] = 0x80 | (c & 0x3F);
          g_byte_array_append (out, b, 3);
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

GBytes *
prd_crdt_doc_encode_state (PrdCrdtDoc *doc, PrdCrdtEncodeFlags flags)
{
  g_autoptr (GByteArray) body = g_byte_array_sized_new (4096);
  g_autoptr (GByteArray) text = g_byte_array_sized_new (doc->length + 64);
  g_autoptr (GZlibCompressor) zc = NULL;
  g_autoptr (GBytes) packed = NULL;
  g_autofree guint32 *last_end = NULL;
  GByteArray *out;
  guint8 head[2] = { PRD_CRDT_FORMAT_VERSION, 0 };
  gboolean drop = (flags & PRD_CRDT_ENCODE_DROP_DELETED_TEXT) != 0;
  guint32 n_items = 0;
  GByteArray *col[N_COLS];
  const PrdCrdtItem *prev = NULL;
  guint32 prev_site = 0;

  g_return_val_if_fail (doc != NULL, NULL);
  if (drop)
    head[1] |= FLAG_DROPPED_TEXT;

  prd_crdt_put_varint (body, doc->sites->len);
  for (guint s = 0; s < doc->sites->len; s++)
    {
      PrdCrdtSite *site = g_ptr_array_index (doc->sites, s);
      prd_crdt_put_varint (body, site->n_ops);
      prd_crdt_put_varint (body, site->text->len);
      prd_crdt_put_varint (body, site->runs->len);
      for (guint i = 0; i < site->runs->len; i++)
        {
          PrdCrdtOpRun *r = &g_array_index (site->runs, PrdCrdtOpRun, i);
          prd_crdt_put_varint (body, ((guint64) r->each << 2) | r->kind);
          prd_crdt_put_varint (body, r->count);
          if (r->kind >= PRD_CRDT_RUN_BACKSPACE)
            {
              prd_crdt_put_varint (body, r->psite);
              prd_crdt_put_varint (body, r->start);
            }
        }
      prd_crdt_put_varint (body, site->dels->len);
      {
        guint32 pc = 0;
        for (guint i = 0; i < site->dels->len; i++)
          {
            PrdCrdtIdRange *t = &g_array_index (site->dels, PrdCrdtIdRange, i);
            prd_crdt_put_varint (body, t->site);
            prd_crdt_put_varint (body, prd_crdt_zigzag ((gint64) t->clock - pc));
            prd_crdt_put_varint (body, t->length);
            pc = t->clock;
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

  for (guint o = 0; o < doc->order->len; o++)
    n_items += chunk_at (doc, o)->n;
  prd_crdt_put_varint (body, n_items);
  for (guint k = 0; k < N_COLS; k++)
    col[k] = g_byte_array_new ();
  last_end = g_new0 (guint32, doc->sites->len + 1);
  for (guint o = 0; o < doc->order->len; o++)
    {
      PrdCrdtChunk *c = chunk_at (doc, o);
      for (guint i = 0; i < c->n; i++)
        {
          const PrdCrdtItem *it = &c->items[i];
          const PrdCrdtItem *next = NULL;
          guint h = 0;
          guint32 del = it->del & ~PRD_CRDT_NOT_INSERTED;
          PrdCrdtSite *site = g_ptr_array_index (doc->sites, it->site);

          if (i + 1 < c->n)
            next = &c->items[i + 1];
          else
            for (guint o2 = o + 1; o2 < doc->order->len && !next; o2++)
              if (chunk_at (doc, o2)->n)
                next = &chunk_at (doc, o2)->items[0];

          if (it->o_site == PRD_CRDT_NONE)
            h |= O_NONE;
          else if (prev && prev->site == it->o_site && prev->clock + prev->len - 1 == it->o_clock)
            h |= O_PREV;
          else
            h |= O_EXPLICIT;
          if (it->r_site == PRD_CRDT_NONE)
            h |= R_NONE << 2;
          else if (next && next->site == it->r_site && next->clock == it->r_clock)
            h |= R_NEXT << 2;
          else
            h |= R_EXPLICIT << 2;
          if (del > 0)
            h |= del == 1 ? H_DELETED : H_DELETED | H_MANYDEL;
          if (it->site != prev_site)
            h |= H_SITE;
          prd_crdt_put_varint (col[C_HDR], h);
          if (h & H_SITE)
            prd_crdt_put_varint (col[C_SITE], it->site);
          prd_crdt_put_varint (col[C_CLOCK],
                               prd_crdt_zigzag ((gint64) it->clock - last_end[it->site]));
          prd_crdt_put_varint (col[C_LEN], it->len);
          if ((h & 3) == O_EXPLICIT)
            {
              prd_crdt_put_varint (col[C_ORIG], it->o_site);
              prd_crdt_put_varint (col[C_ORIG], it->o_clock);
            }
          if (((h >> 2) & 3) == R_EXPLICIT)
            {
              prd_crdt_put_varint (col[C_RIGHT], it->r_site);
              prd_crdt_put_varint (col[C_RIGHT], it->r_clock);
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
  for (guint k = 0; k < N_COLS; k++)
    prd_crdt_put_varint (body, col[k]->len);
  for (guint k = 0; k < N_COLS; k++)
    {
      g_byte_array_append (body, col[k]->data, col[k]->len);
      g_byte_array_unref (col[k]);
    }
  g_byte_array_append (body, text->data, text->len);

  zc = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_ZLIB, 9);
  packed = zlib_convert (G_CONVERTER (zc), body->data, body->len, G_MAXSIZE / 2, NULL);
  g_assert (packed != NULL);
  out = g_byte_array_sized_new (2 + g_bytes_get_size (packed));
  g_byte_array_append (out, head, 2);
  g_byte_array_append (out, g_bytes_get_data (packed, NULL), g_bytes_get_size (packed));
  return g_byte_array_free_to_bytes (out);
}

static gboolean
corrupt (GError **error, const char *what)
{
  g_set_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA, "Corrupt document state: %s", what);
  return FALSE;
}

static gboolean
decode_body (PrdCrdtDoc *doc, PrdCrdtReader *r, gboolean dropped, GError **error)
{
  guint32 n_sites, n_log, n_items;
  g_autofree guint32 *last_end = NULL;
  g_autofree guint32 *seen = NULL;
  g_autofree guint8 *deleted_bits = NULL;
  PrdCrdtChunk *chunk = NULL;
  guint64 total_chars = 0, covered = 0;
  guint32 prev_site = 0;
  PrdCrdtItem *prev = NULL;
  PrdCrdtReader cr[N_COLS];

  if (!prd_crdt_get_u32 (r, &n_sites, error))
    return FALSE;
  if (n_sites > PRD_CRDT_MAX_SITES || n_sites > (gsize) (r->end - r->p))
    return corrupt (error, "too many sites");
  for (guint32 s = 0; s < n_sites; s++)
    prd_crdt_doc_ensure_site (doc, s);
  for (guint32 s = 0; s < n_sites; s++)
    {
      PrdCrdtSite *site = g_ptr_array_index (doc->sites, s);
      guint32 n_chars, n_runs, n_dels;
      guint64 ops = 0, chars = 0, dels = 0;

      if (!prd_crdt_get_u32 (r, &site->n_ops, error) || !prd_crdt_get_u32 (r, &n_chars, error) ||
          !prd_crdt_get_u32 (r, &n_runs, error))
        return FALSE;
      if (n_runs > (gsize) (r->end - r->p) / 2 || n_chars > MAX_BODY)
        return corrupt (error, "bad site header");
      g_array_set_size (site->runs, n_runs);
      for (guint32 i = 0; i < n_runs; i++)
        {
          PrdCrdtOpRun *run = &g_array_index (site->runs, PrdCrdtOpRun, i);
          guint64 ek;
          if (!prd_crdt_get_varint (r, &ek, error) || !prd_crdt_get_u32 (r, &run->count, error))
            return FALSE;
          if ((ek >> 2) == 0 || (ek >> 2) > G_MAXUINT32 || run->count == 0)
            return corrupt (error, "bad operation run");
          run->each = ek >> 2;
          run->kind = ek & 3;
          run->seq = ops + 1;
          run->start = run->kind == PRD_CRDT_RUN_DELETE ? dels : chars;
          if (run->kind >= PRD_CRDT_RUN_BACKSPACE)
            {
              if (!prd_crdt_get_u32 (r, &run->psite, error) ||
                  !prd_crdt_get_u32 (r, &run->start, error))
                return FALSE;
              if (run->each != 1 || run->psite >= n_sites ||
                  (run->kind == PRD_CRDT_RUN_BACKSPACE
                       ? run->start < run->count - 1
                       : (guint64) run->start + run->count > G_MAXUINT32))
                return corrupt (error, "bad delete run");
            }
          ops += run->count;
          if (run->kind == PRD_CRDT_RUN_DELETE)
            dels += (guint64) run->count * run->each;
          else if (run->kind == PRD_CRDT_RUN_INSERT)
            chars += (guint64) run->count * run->each;
          if (ops > G_MAXUINT32 || chars > G_MAXUINT32 || dels > G_MAXUINT32)
            return corrupt (error, "operation run overflow");
        }
      if (ops != site->n_ops || chars != n_chars)
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
            c = (gint64) pc + prd_crdt_unzigzag (dz);
            if (t->site >= n_sites || c < 0 || c > G_MAXUINT32 || t->length == 0)
              return corrupt (error, "bad delete target");
            t->clock = pc = (guint32) c;
          }
      }
      prd_crdt_buf_set_exact (site->text, n_chars, sizeof (guint16));
      prd_crdt_buf_set_exact (site->loc, n_chars, sizeof (guint32));
      if (n_chars > 0)
        memset (site->loc->data, 0xff, (gsize) n_chars * sizeof (guint32));
      total_chars += n_chars;
    }
  /* delete targets must name existing characters */
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
      for (guint i = 0; i < site->dels->len; i++)
        {
          PrdCrdtIdRange *t = &g_array_index (site->dels, PrdCrdtIdRange, i);
          PrdCrdtSite *ts = g_ptr_array_index (doc->sites, t->site);
          if ((guint64) t->clock + t->length > ts->text->len)
            return corrupt (error, "delete target out of range");
        }
    }

  if (!prd_crdt_get_u32 (r, &n_log, error))
    return FALSE;
  if (n_log > (gsize) (r->end - r->p) / 2)
    return corrupt (error, "bad log");
  seen = g_new0 (guint32, n_sites + 1);
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

  if (!prd_crdt_get_u32 (r, &n_items, error))
    return FALSE;
  if (n_items > (gsize) (r->end - r->p) / 2 || n_items > total_chars)
    return corrupt (error, "bad item count");
  {
    guint32 clen[N_COLS];
    for (guint k = 0; k < N_COLS; k++)
      if (!prd_crdt_get_u32 (r, &clen[k], error))
        return FALSE;
    for (guint k = 0; k < N_COLS; k++)
      {
        if (clen[k] > (gsize) (r->end - r->p))
          return corrupt (error, "bad column length");
        cr[k].p = r->p;
        cr[k].end = r->p + clen[k];
        r->p += clen[k];
      }
  }
  prd_crdt_doc_reserve_chunks (doc, (n_items + DECODE_FILL - 1) / DECODE_FILL);
  last_end = g_new0 (guint32, n_sites + 1);
  deleted_bits = g_new0 (guint8, n_items / 8 + 1);
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
      clock = (gint64) last_end[it.site] + prd_crdt_unzigzag (cz);
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
            it.r_site = PRD_CRDT_NONE - 1; /* resolved below, once the next item is read */
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
      if (h & H_MANYDEL)
        {
          if (!prd_crdt_get_u32 (&cr[C_DEL], &it.del, error))
            return FALSE;
          if (it.del < 2 || it.del >= PRD_CRDT_NOT_INSERTED)
            return corrupt (error, "bad delete count");
        }
      else if (h & H_DELETED)
        it.del = 1;
      if (it.del)
        deleted_bits[k / 8] |= 1 << (k % 8);

      for (guint32 c = 0; c < it.len; c++)
        {
          guint32 *slot = &g_array_index (site->loc, guint32, it.clock + c);
          if (*slot != G_MAXUINT32)
            return corrupt (error, "character stored twice");
        }
      if (prev && prev->r_site == PRD_CRDT_NONE - 1)
        {
          prev->r_site = it.site;
          prev->r_clock = it.clock;
        }
      if (chunk == NULL || chunk->n == DECODE_FILL)
        {
          chunk = prd_crdt_doc_new_chunk (doc);
          g_array_append_val (doc->order, chunk->id);
        }
      chunk->items[chunk->n] = it;
      prev = &chunk->items[chunk->n];
      chunk->n++;
      chunk->vis += prd_crdt_item_vis (&it);
      {
        guint32 *loc = &g_array_index (site->loc, guint32, it.clock);
        for (guint32 c = 0; c < it.len; c++)
          loc[c] = chunk->id;
      }
      covered += it.len;
      last_end[it.site] = it.clock + it.len;
      prev_site = it.site;
    }
  if (prev && prev->r_site == PRD_CRDT_NONE - 1)
    return corrupt (error, "right origin after the last item");
  for (guint k = 0; k < N_COLS; k++)
    if (cr[k].p != cr[k].end)
      return corrupt (error, "trailing bytes in an item column");
  if (covered != total_chars)
    return corrupt (error, "items do not cover every character");

  /* text, item by item in document order */
  {
    guint32 k = 0;
    for (guint o = 0; o < doc->order->len; o++)
      {
        PrdCrdtChunk *c = chunk_at (doc, o);
        for (guint i = 0; i < c->n; i++, k++)
          {
            PrdCrdtItem *it = &c->items[i];
            PrdCrdtSite *site = g_ptr_array_index (doc->sites, it->site);
            guint16 *dst = &g_array_index (site->text, guint16, it->clock);
            if (dropped && (deleted_bits[k / 8] & (1 << (k % 8))))
              {
                for (guint32 u = 0; u < it->len; u++)
                  dst[u] = 0xFFFF;
                continue;
              }
            if (!get_units (r, dst, it->len, error))
              return FALSE;
          }
      }
  }
  if (r->p != r->end)
    return corrupt (error, "trailing bytes");
  for (guint32 s = 0; s < n_sites && !doc->has_surrogates; s++)
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

PrdCrdtDoc *
prd_crdt_doc_decode_state (const guint8 *data, gsize size, GError **error)
{
  g_autoptr (PrdCrdtDoc) doc = NULL;
  g_autoptr (GZlibDecompressor) zd = NULL;
  g_autoptr (GBytes) body = NULL;
  PrdCrdtReader r;

  g_return_val_if_fail (data != NULL || size == 0, NULL);
  if (size < 1)
    return corrupt (error, "empty"), NULL;
  if (data[0] != PRD_CRDT_FORMAT_VERSION)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_UNSUPPORTED_VERSION,
                   "Unsupported CRDT format version %u (this build reads %u)", data[0],
                   PRD_CRDT_FORMAT_VERSION);
      return NULL;
    }
  if (size < 2 || (data[1] & ~FLAG_DROPPED_TEXT) != 0)
    return corrupt (error, "bad flags"), NULL;
  zd = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_ZLIB);
  body = zlib_convert (G_CONVERTER (zd), data + 2, size - 2, MAX_BODY, error);
  if (body == NULL)
    return NULL;
  doc = prd_crdt_doc_new ();
  r.p = g_bytes_get_data (body, NULL);
  r.end = r.p + g_bytes_get_size (body);
  if (r.p == NULL)
    return corrupt (error, "empty body"), NULL;
  if (!decode_body (doc, &r, (data[1] & FLAG_DROPPED_TEXT) != 0, error))
    return NULL;
  return g_steal_pointer (&doc);
}
