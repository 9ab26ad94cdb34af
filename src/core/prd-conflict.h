/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-crdt.h"

G_BEGIN_DECLS

/*
 * The conflict rule (docs/protocol.md, "Conflict review"), free of sockets
 * and storage.
 *
 * An edit is one integrated operation of a user. Its range is where its
 * characters are in the document now, followed through later edits by CRDT
 * anchors: [position of its first character, position after its last one]
 * for an insert; for a delete the place its deleted characters were, which
 * is an empty range unless later-integrated concurrent inserts sit between
 * them. Two edits conflict when
 *   - they were made by different users,
 *   - they are concurrent: the later-integrated edit's base vector does not
 *     include the earlier one (base[earlier.site] < earlier.seq), and
 *   - their ranges, resolved in the document right after the later edit
 *     was integrated, overlap or touch: a.start <= b.end && b.start <= a.end.
 * Only the edits kept in a window are compared: the last @max_edits, none
 * older than @max_age_us.
 */

#define PRD_CONFLICT_DEFAULT_WINDOW_EDITS 256
#define PRD_CONFLICT_DEFAULT_WINDOW_AGE   (60 * G_USEC_PER_SEC)

typedef struct
{
  char *user_id;
  char *user_name;
  guint32 site;
  guint32 seq;
  PrdCrdtOpType type;
  PrdCrdtAnchor start;
  PrdCrdtAnchor end;
  GArray *base;            /* (element-type guint32): the vector the edit was made at */
  guint32 client_position; /* in the text at @base */
  guint32 length;          /* UTF-16 units inserted or deleted */
  char *text;              /* (nullable): inserted text; deleted text once known */
  gint64 time_us;          /* monotonic */
  gboolean undone;         /* a conflict's resolution undid it */
} PrdConflictEdit;

PrdConflictEdit *prd_conflict_edit_new (const PrdCrdtOp *op,
                                        const guint32 *base,
                                        gsize n_base,
                                        guint32 client_position,
                                        const char *user_id,
                                        const char *user_name,
                                        gint64 time_us);
void prd_conflict_edit_free (PrdConflictEdit *edit);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdConflictEdit, prd_conflict_edit_free)

gboolean prd_conflict_edit_get_range (const PrdConflictEdit *edit,
                                      PrdCrdtDoc *doc,
                                      guint32 *out_start,
                                      guint32 *out_end);
/* The inserted text, or the deleted text read at the edit's base vector. */
const char *prd_conflict_edit_get_text (PrdConflictEdit *edit, PrdCrdtDoc *doc);

gboolean prd_conflict_edits_concurrent (const PrdConflictEdit *earlier,
                                        const PrdConflictEdit *later);
/* The whole rule; @out_position (nullable): where the two ranges start. */
gboolean prd_conflict_edits_conflict (const PrdConflictEdit *earlier,
                                      const PrdConflictEdit *later,
                                      PrdCrdtDoc *doc,
                                      guint32 *out_position);

char *prd_utf16_substring (const char *text, guint32 start, guint32 length);

/* Deleted text to put back: @text at @position of the document now. */
typedef struct
{
  guint32 position;
  char *text;
} PrdConflictRestore;

void prd_conflict_restore_free (PrdConflictRestore *restore);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdConflictRestore, prd_conflict_restore_free)

/**
 * prd_conflict_restore_pieces:
 * @doc: a document that has integrated @deleted (and @also)
 * @deleted: a delete, in CRDT form
 * @deleted_text: the text @deleted removed, in document order
 * @also: (nullable) (array length=n_also): deletes that stay
 * @n_also: how many
 *
 * What undoing @deleted while @also stay puts back: the characters
 * @deleted removed that none of @also removed too, each where it was (runs
 * with nobody's visible text between them are one piece). A surrogate pair
 * comes back whole or not at all.
 *
 * Returns: (transfer full) (nullable) (element-type PrdConflictRestore):
 *   the pieces in document order (positions never decrease; inserting them
 *   from the last keeps the positions of the others right), or %NULL when
 *   @deleted_text is not as long as @deleted
 */
GPtrArray *prd_conflict_restore_pieces (PrdCrdtDoc *doc,
                                        const PrdCrdtOp *deleted,
                                        const char *deleted_text,
                                        const PrdCrdtOp *const *also,
                                        guint n_also);

typedef struct _PrdConflictWindow PrdConflictWindow;

PrdConflictWindow *prd_conflict_window_new (guint max_edits, gint64 max_age_us);
void prd_conflict_window_free (PrdConflictWindow *window);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdConflictWindow, prd_conflict_window_free)

guint prd_conflict_window_get_n_edits (PrdConflictWindow *window);
guint prd_conflict_window_expire (PrdConflictWindow *window, gint64 now_us);
gboolean prd_conflict_window_mark_undone (PrdConflictWindow *window, guint32 site, guint32 seq);
/**
 * prd_conflict_window_add:
 * @edit: (transfer full): the edit just integrated into @doc
 *
 * Drops the edits that fell out of the window, compares @edit with the
 * rest, then keeps it.
 *
 * Returns: (transfer container) (element-type PrdConflictEdit): the kept
 *   edits @edit conflicts with (owned by the window, valid until its next
 *   call), oldest first
 */
GPtrArray *
prd_conflict_window_add (PrdConflictWindow *window, PrdCrdtDoc *doc, PrdConflictEdit *edit);

G_END_DECLS
