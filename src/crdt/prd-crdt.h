/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/*
 * The text CRDT (see docs/crdt.md for the full model).
 *
 * Identity model — two counters per site, both kept by every replica:
 *
 *  - Operations. Each `content-update` is ONE operation, whatever the length of
 *    its text. Operation ids are (site, seq) with seq starting at 1; the state
 *    vector entry vector[site] is the number of operations of that site a
 *    replica has integrated, so the operation a client sends with the vector
 *    [.., n, ..] (its own entry n) has seq n and was written at the base vector
 *    whose own entry is n - 1 (DESIGN.md, "Documents and the CRDT on the wire").
 *
 *  - Characters. Every UTF-16 code unit a site inserts gets a character id
 *    (site, clock), clock starting at 0 and counting the site's inserted code
 *    units in operation order. An insert of "abc" as the site's operation 7
 *    carries id (site, 7) and clock c: its characters are (site, c), (site,
 *    c + 1), (site, c + 2), and the next insert of that site starts at c + 3.
 *    Deletes do not consume character clocks. Origins and delete targets name
 *    characters, so delete targets of consecutive characters are one range.
 *
 * Positions and lengths count UTF-16 code units, as JavaScript strings do. A
 * position that falls between the two halves of a surrogate pair is rejected.
 *
 * A document is plain data for one thread at a time; every function that can
 * fail leaves the document unchanged when it does.
 */

#define PRD_CRDT_MAX_SITES        65536
#define PRD_CRDT_MAX_PENDING      65536
#define PRD_CRDT_MAX_INSERT_UNITS (16 * 1024 * 1024)
/* Keeps character clocks far from overflowing (2^31 units per site). */
#define PRD_CRDT_MAX_SITE_UNITS 0x80000000u
#define PRD_CRDT_FORMAT_VERSION 1
/* Version of prd_crdt_doc_encode_state()'s output (version 1 is still read). */
#define PRD_CRDT_STATE_VERSION 2

typedef enum
{
  PRD_CRDT_OP_INSERT,
  PRD_CRDT_OP_DELETE,
} PrdCrdtOpType;

/* A character id. */
typedef struct
{
  guint32 site;
  guint32 clock;
} PrdCrdtId;

/* Consecutive characters (site, clock) .. (site, clock + length - 1). */
typedef struct
{
  guint32 site;
  guint32 clock;
  guint32 length;
} PrdCrdtIdRange;

/**
 * PrdCrdtOp:
 * @type: insert or delete
 * @site: the site that made the operation
 * @seq: the operation's number within its site, from 1
 * @position: UTF-16 position in the document that produced or integrated the
 *   operation, right after integration (informational: integration uses ids)
 * @length: UTF-16 length of @content (insert) or number of deleted characters
 *   (delete)
 * @timestamp: milliseconds since the epoch as given by the client, or 0
 * @clock: (insert) character clock of the first inserted code unit
 * @content: (insert) the inserted text, UTF-8
 * @has_origin: (insert) whether @origin is set; unset means "document start"
 * @origin: (insert) the character immediately left of the insertion
 * @has_right_origin: (insert) whether @right_origin is set; unset means "end"
 * @right_origin: (insert) the character immediately right of the insertion
 *   when it was made (deleted characters included)
 * @targets: (delete) the deleted characters, as id ranges, in document order
 * @n_targets: (delete) number of @targets
 *
 * An operation in CRDT form. Owned by the caller; free with prd_crdt_op_free().
 */
typedef struct
{
  PrdCrdtOpType type;
  guint32 site;
  guint32 seq;
  guint32 position;
  guint32 length;
  gint64 timestamp;

  guint32 clock;
  char *content;
  gboolean has_origin;
  PrdCrdtId origin;
  gboolean has_right_origin;
  PrdCrdtId right_origin;

  PrdCrdtIdRange *targets;
  guint n_targets;
} PrdCrdtOp;

typedef enum
{
  /* Stick to the character after the position: text typed at the position
   * goes before the anchor (a selection's start, a comment's start). */
  PRD_CRDT_ASSOC_AFTER,
  /* Stick to the character before the position: text typed at the position
   * goes after the anchor (a caret after typing, a comment's end). */
  PRD_CRDT_ASSOC_BEFORE,
} PrdCrdtAssoc;

/**
 * PrdCrdtAnchor:
 * @has_id: FALSE for the document start (%PRD_CRDT_ASSOC_BEFORE) or end
 *   (%PRD_CRDT_ASSOC_AFTER)
 * @id: the character the anchor is tied to
 * @assoc: which side of the position the anchor is tied to
 *
 * A position that follows the text: it survives concurrent inserts and
 * deletes (a deleted anchor character resolves to where it was).
 */
typedef struct
{
  gboolean has_id;
  PrdCrdtId id;
  PrdCrdtAssoc assoc;
} PrdCrdtAnchor;

typedef struct _PrdCrdtDoc PrdCrdtDoc;

typedef enum
{
  PRD_CRDT_ENCODE_DEFAULT = 0,
  /* Leave out the text of deleted characters (the document still merges
   * everything, but a replica decoded from it cannot produce old snapshots
   * or missing inserts whose text was deleted). */
  PRD_CRDT_ENCODE_DROP_DELETED_TEXT = 1 << 0,
  /* Compress for speed rather than size, for a state someone waits for:
   * the same format, decoded the same way; 2.5 to 5.6 times faster to
   * encode on the editing traces (40 times on 1 MiB of varied words), 10 to
   * 22 % larger. */
  PRD_CRDT_ENCODE_FAST = 1 << 1,
} PrdCrdtEncodeFlags;

/* Operations */
PrdCrdtOp *prd_crdt_op_copy (const PrdCrdtOp *op);
void prd_crdt_op_free (PrdCrdtOp *op);
GBytes *prd_crdt_op_encode (const PrdCrdtOp *op);
/* The same bytes as prd_crdt_op_encode(), appended to @out. */
void prd_crdt_op_encode_into (const PrdCrdtOp *op, GByteArray *out);
PrdCrdtOp *prd_crdt_op_decode (const guint8 *data, gsize size, GError **error);
/* An update: a version byte, then any number of operations. */
GBytes *prd_crdt_ops_encode (PrdCrdtOp *const *ops, guint n_ops);
GPtrArray *prd_crdt_ops_decode (const guint8 *data, gsize size, GError **error);

/* JSON forms: the seed fields plus the CRDT identity (docs/crdt.md). */
JsonNode *prd_crdt_op_to_json (const PrdCrdtOp *op);
PrdCrdtOp *prd_crdt_op_from_json (JsonNode *node, GError **error);
/* The text prd_json_to_string() makes of prd_crdt_op_to_json(), written
 * directly (appended to @out, no tree): the hub's per-update events. */
void prd_crdt_op_write_json (const PrdCrdtOp *op, GString *out);

/* State vectors as JSON arrays */
JsonNode *prd_crdt_vector_to_json (const guint32 *vector, gsize n_vector);
/* Without trailing zeros, whatever the array had. */
GArray *prd_crdt_vector_from_json (JsonNode *node, GError **error);
/* The text of prd_crdt_vector_to_json(), appended to @out. */
void prd_crdt_vector_write_json (const guint32 *vector, gsize n_vector, GString *out);

/* Documents */
PrdCrdtDoc *prd_crdt_doc_new (void);
void prd_crdt_doc_free (PrdCrdtDoc *doc);

/* The positional path (a client's content-update). @base_vector is the
 * document version the position was read in: the client's vector with its
 * own entry one lower. The operation gets id (site, base_vector[site] + 1),
 * which must be the next operation of @site. Returns the integrated
 * operation in CRDT form in @out_op (nullable). */
gboolean prd_crdt_doc_apply_local_insert (PrdCrdtDoc *doc,
                                          guint32 site,
                                          const guint32 *base_vector,
                                          gsize n_base_vector,
                                          guint32 position,
                                          const char *text,
                                          gssize text_len,
                                          gint64 timestamp,
                                          PrdCrdtOp **out_op,
                                          GError **error);
gboolean prd_crdt_doc_apply_local_delete (PrdCrdtDoc *doc,
                                          guint32 site,
                                          const guint32 *base_vector,
                                          gsize n_base_vector,
                                          guint32 position,
                                          guint32 length,
                                          gint64 timestamp,
                                          PrdCrdtOp **out_op,
                                          GError **error);

/* The same, from a `content-update` as it arrives: @operation is the seed's
 * operation object ({type, position, content | length, timestamp?}) and
 * @state_vector the client's vector *after* the operation (its own entry
 * counts it). Every field is validated; on error nothing changes. */
gboolean prd_crdt_doc_apply_content_update (PrdCrdtDoc *doc,
                                            guint32 site,
                                            JsonNode *operation,
                                            JsonNode *state_vector,
                                            PrdCrdtOp **out_op,
                                            GError **error);

/* The CRDT path: idempotent (a known operation is ignored) and order-free (an
 * operation whose dependencies have not arrived is held back and integrated
 * when they do; @out_applied, nullable, receives the number of operations
 * integrated by this call, 0 when it was held back or already known). */
gboolean prd_crdt_doc_apply_remote (PrdCrdtDoc *doc,
                                    const PrdCrdtOp *op,
                                    guint *out_applied,
                                    GError **error);
guint prd_crdt_doc_get_n_pending (PrdCrdtDoc *doc);
/* Held-back operations discarded when their turn came because they did not
 * fit (e.g. a character clock that disagrees with the site's history). */
guint prd_crdt_doc_get_n_rejected (PrdCrdtDoc *doc);

/* (element-type guint32): entry s is the number of integrated ops of site s;
 * no trailing zeros. */
GArray *prd_crdt_doc_get_state_vector (PrdCrdtDoc *doc);
guint32 prd_crdt_doc_get_site_ops (PrdCrdtDoc *doc, guint32 site);
/* (element-type PrdCrdtOp): the operations a replica at @vector lacks, in an
 * order that respects causality (the order this replica integrated them).
 * @position is each operation's first character's current position here;
 * @timestamp is 0 (the CRDT does not keep client clocks). */
GPtrArray *prd_crdt_doc_get_missing_ops (PrdCrdtDoc *doc,
                                         const guint32 *vector,
                                         gsize n_vector,
                                         GError **error);

/* How many operations this document has that @vector does not count: what
 * reading a position at that version walks back through. */
guint64 prd_crdt_doc_count_missing (PrdCrdtDoc *doc, const guint32 *vector, gsize n_vector);

/* Operation (@site, @seq) as integrated here, or NULL when unknown. */
PrdCrdtOp *prd_crdt_doc_get_op (PrdCrdtDoc *doc, guint32 site, guint32 seq);

/* Text */
char *prd_crdt_doc_get_text (PrdCrdtDoc *doc);
guint32 prd_crdt_doc_get_length (PrdCrdtDoc *doc);
/* Decoded from a state without the text of deleted characters. */
gboolean prd_crdt_doc_is_lossy (PrdCrdtDoc *doc);
char *
prd_crdt_doc_get_text_at (PrdCrdtDoc *doc, const guint32 *vector, gsize n_vector, GError **error);

/* Anchors */
gboolean prd_crdt_doc_anchor_at (PrdCrdtDoc *doc,
                                 guint32 position,
                                 PrdCrdtAssoc assoc,
                                 PrdCrdtAnchor *out_anchor,
                                 GError **error);
/* The same, with @position read in the version @vector (which this
 * document has): the anchor names the same character there and here. */
gboolean prd_crdt_doc_anchor_at_version (PrdCrdtDoc *doc,
                                         const guint32 *vector,
                                         gsize n_vector,
                                         guint32 position,
                                         PrdCrdtAssoc assoc,
                                         PrdCrdtAnchor *out_anchor,
                                         GError **error);
gboolean prd_crdt_doc_anchor_resolve (PrdCrdtDoc *doc,
                                      const PrdCrdtAnchor *anchor,
                                      guint32 *out_position,
                                      GError **error);

/* Calls @func with @doc turned back to the version @vector, which it must
 * have (INVALID_OPERATION otherwise): inside, its text, length, anchors and
 * positions are those of that version. @func only reads @doc, and calls no
 * other function taking a version. Costs two walks over the operations
 * @vector lacks (none when it is the current version). */
typedef void (*PrdCrdtReadFunc) (PrdCrdtDoc *doc, gpointer user_data);
gboolean prd_crdt_doc_read_at_version (PrdCrdtDoc *doc,
                                       const guint32 *vector,
                                       gsize n_vector,
                                       PrdCrdtReadFunc func,
                                       gpointer user_data,
                                       GError **error);

/* Whether @position falls between the two halves of a surrogate pair. */
gboolean prd_crdt_doc_splits_surrogate (PrdCrdtDoc *doc, guint32 position);

/* A stretch of visible text: @length UTF-16 units from @position. */
typedef struct
{
  guint32 position;
  guint32 length;
} PrdCrdtSpan;

/* (element-type PrdCrdtSpan): where the characters (@site, @clock) …
 * (@site, @clock + @length - 1) that are visible now are, in position
 * order, adjacent spans merged; characters deleted or unknown here are
 * left out. Undoing an insert deletes these, and nothing typed among them. */
GArray *
prd_crdt_doc_get_visible_spans (PrdCrdtDoc *doc, guint32 site, guint32 clock, guint32 length);

/* Binary state */
GBytes *prd_crdt_doc_encode_state (PrdCrdtDoc *doc, PrdCrdtEncodeFlags flags);
PrdCrdtDoc *prd_crdt_doc_decode_state (const guint8 *data, gsize size, GError **error);
/* prd_crdt_doc_encode_state() in two steps: the draft reads the document
 * (cheap), packing compresses the draft alone (the expensive part) and may
 * run on any thread. */
typedef struct _PrdCrdtStateDraft PrdCrdtStateDraft;
PrdCrdtStateDraft *prd_crdt_doc_draft_state (PrdCrdtDoc *doc, PrdCrdtEncodeFlags flags);
GBytes *prd_crdt_state_draft_pack (PrdCrdtStateDraft *draft);
gsize prd_crdt_state_draft_get_size (PrdCrdtStateDraft *draft);
void prd_crdt_state_draft_free (PrdCrdtStateDraft *draft);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdCrdtOp, prd_crdt_op_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdCrdtDoc, prd_crdt_doc_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdCrdtStateDraft, prd_crdt_state_draft_free)

G_END_DECLS
