/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-crdt.h"

G_BEGIN_DECLS

#define PRD_CRDT_NONE G_MAXUINT32
/* Items per chunk of the position index. */
#define PRD_CRDT_CHUNK_MAX 64
/* Set in Item.del while an item's insert is retreated (not part of the
 * version being read); the low bits count the delete operations covering it. */
#define PRD_CRDT_NOT_INSERTED 0x80000000u

/* A run of characters of one site with consecutive clocks, adjacent in the
 * document. Only the first character's origin is stored: each following
 * character's origin is its predecessor in the run. All share the right
 * origin and the deletion state. */
typedef struct
{
  guint32 site;
  guint32 clock;
  guint32 len;
  guint32 o_site;
  guint32 o_clock;
  guint32 r_site;
  guint32 r_clock;
  guint32 del;
} PrdCrdtItem;

typedef struct
{
  guint32 n;
  guint32 vis;   /* visible characters in the chunk */
  guint32 order; /* index in PrdCrdtDoc.order (valid unless the doc is dirty) */
  guint32 id;
  PrdCrdtItem items[PRD_CRDT_CHUNK_MAX];
} PrdCrdtChunk;

/* A run of consecutive operations of one site:
 *  - RUN_INSERT: inserts of @each code units each, from clock @start on;
 *  - RUN_DELETE: deletes of @each target ranges each, from dels[@start] on;
 *  - RUN_BACKSPACE / RUN_FORWARD: deletes of one character each, operation k
 *    of the run deleting (@psite, @start - k) or (@psite, @start + k): the
 *    shape of holding backspace or delete, kept without a target list. */
enum
{
  PRD_CRDT_RUN_INSERT = 0,
  PRD_CRDT_RUN_DELETE = 1,
  PRD_CRDT_RUN_BACKSPACE = 2,
  PRD_CRDT_RUN_FORWARD = 3,
};

typedef struct
{
  guint32 seq;
  guint32 count;
  guint32 start;
  guint32 each;
  guint32 kind;
  guint32 psite;
} PrdCrdtOpRun;

/* A growable array like GArray (g_array_index() works on it), whose
 * capacity the document controls: GArray rounds every allocation up to a
 * power of two, which costs a loaded document up to half its memory. */
typedef struct
{
  char *data;
  guint len;
  guint cap;
} PrdCrdtBuf;

static inline void
prd_crdt_buf_reserve (PrdCrdtBuf *b, guint n, gsize elt)
{
  if (n > b->cap)
    {
      guint cap = MAX (n, b->cap + b->cap / 2 + 64);
      b->data = g_realloc_n (b->data, cap, elt);
      b->cap = cap;
    }
}

static inline void
prd_crdt_buf_set_size (PrdCrdtBuf *b, guint n, gsize elt)
{
  prd_crdt_buf_reserve (b, n, elt);
  b->len = n;
}

/* Exactly @n elements, for arrays whose final size is known (decoding). */
static inline void
prd_crdt_buf_set_exact (PrdCrdtBuf *b, guint n, gsize elt)
{
  b->data = g_realloc_n (b->data, MAX (n, 1), elt);
  b->cap = MAX (n, 1);
  b->len = n;
}

typedef struct
{
  guint32 n_ops;
  PrdCrdtBuf *text; /* (element-type guint16) code units by clock */
  PrdCrdtBuf *loc;  /* (element-type guint32) chunk id by clock */
  GArray *runs;     /* (element-type PrdCrdtOpRun) */
  GArray *dels;     /* (element-type PrdCrdtIdRange) targets of delete ops */
} PrdCrdtSite;

/* Integration order, run-length encoded: @count operations of @site. */
typedef struct
{
  guint32 site;
  guint32 count;
} PrdCrdtLogRun;

struct _PrdCrdtDoc
{
  GPtrArray *chunks; /* (element-type PrdCrdtChunk) by id, in slabs */
  GPtrArray *slabs;  /* (element-type PrdCrdtChunk) (owned) arrays of chunks */
  PrdCrdtChunk *slab;
  guint slab_used;
  guint slab_cap;
  GArray *order; /* (element-type guint32) chunk ids in document order */
  guint32 *fen;  /* Fenwick tree of chunk visible lengths, 1-based */
  guint fen_cap;
  gboolean dirty; /* order indices and fen need rebuilding */
  guint32 length;
  GPtrArray *sites;         /* (element-type PrdCrdtSite) (owned) */
  GArray *log;              /* (element-type PrdCrdtLogRun) */
  GHashTable *pending;      /* guint64 (site << 32 | seq) -> PrdCrdtOp (owned) */
  gboolean lossy;           /* decoded without the text of deleted characters */
  PrdCrdtChunk *hint_chunk; /* where locate_id() found the last id */
  guint hint_idx;
  guint n_rejected;
  /* the item locate_pos() found last, valid while stamp is unchanged */
  guint64 stamp;
  PrdCrdtChunk *pc_chunk;
  guint pc_idx;
  guint32 pc_start;
  guint64 pc_stamp;
  gboolean has_surrogates; /* some inserted text is outside the BMP */
  PrdCrdtBuf scratch;      /* (element-type PrdCrdtIdRange) targets being collected */
};

static inline guint32
prd_crdt_item_vis (const PrdCrdtItem *it)
{
  return it->del == 0 ? it->len : 0;
}

PrdCrdtSite *prd_crdt_doc_ensure_site (PrdCrdtDoc *doc, guint32 site);
PrdCrdtChunk *prd_crdt_doc_new_chunk (PrdCrdtDoc *doc);
/* Room for @n more chunks without further allocation. */
void prd_crdt_doc_reserve_chunks (PrdCrdtDoc *doc, guint n);
void prd_crdt_doc_mark_dirty (PrdCrdtDoc *doc);
gboolean prd_crdt_doc_check_consistency (PrdCrdtDoc *doc, GError **error);

/* UTF-8 <-> UTF-16 helpers shared by the codecs */
/* Returns whether @text needed surrogate pairs. */
gboolean prd_crdt_utf8_to_utf16_unchecked (const char *text, gsize len, PrdCrdtBuf *out);
gboolean prd_crdt_utf8_to_utf16 (const char *text, gssize len, PrdCrdtBuf *out, GError **error);
void prd_crdt_utf16_append_utf8 (GString *out, const guint16 *units, gsize n);
guint32 prd_crdt_utf16_length (const char *text, gsize len);

G_END_DECLS

G_BEGIN_DECLS

gboolean prd_crdt_op_validate (const PrdCrdtOp *op, GError **error);

/* Varint writer and bounds-checked reader for the binary forms. */
typedef struct
{
  const guint8 *p;
  const guint8 *end;
} PrdCrdtReader;

static inline void
prd_crdt_put_varint (GByteArray *out, guint64 v)
{
  guint8 buf[10];
  guint n = 0;

  do
    {
      guint8 b = v & 0x7f;
      v >>= 7;
      buf[n++] = b | (v ? 0x80 : 0);
    }
  while (v);
  g_byte_array_append (out, buf, n);
}

static inline guint64
prd_crdt_zigzag (gint64 v)
{
  return ((guint64) v << 1) ^ (guint64) (v >> 63);
}

static inline gint64
prd_crdt_unzigzag (guint64 v)
{
  return (gint64) (v >> 1) ^ -(gint64) (v & 1);
}

gboolean prd_crdt_get_varint (PrdCrdtReader *r, guint64 *out, GError **error);
gboolean prd_crdt_get_u32 (PrdCrdtReader *r, guint32 *out, GError **error);

G_END_DECLS
