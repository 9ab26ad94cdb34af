/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

#include "prd-crdt.h"

G_BEGIN_DECLS

/* Default and bounds of the largest operation a client may send, in UTF-16
 * code units of inserted text or deleted characters. */
#define PRD_DOCUMENT_DEFAULT_MAX_OPERATION_SIZE (64 * 1024)
#define PRD_DOCUMENT_MAX_OPERATION_SIZE         (4 * 1024 * 1024)

/**
 * PrdDocumentUpdate:
 * @op: the operation in CRDT form
 * @user_id: the user whose site made it
 * @timestamp: the client's timestamp (ms since the epoch)
 *
 * One operation a replica lacks (sync-response's missingUpdates entries).
 */
typedef struct
{
  PrdCrdtOp *op;
  char *user_id;
  gint64 timestamp;
} PrdDocumentUpdate;

void prd_document_update_free (PrdDocumentUpdate *update);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdDocumentUpdate, prd_document_update_free)

#define PRD_TYPE_DOCUMENT (prd_document_get_type ())
G_DECLARE_FINAL_TYPE (PrdDocument, prd_document, PRD, DOCUMENT, GObject)

/*
 * PrdDocument: one PRD in memory — its text CRDT, metadata, the site table
 * (site → owning user) and the part of the document that is durable
 * ("committed"). Operations are integrated as soon as they are validated so
 * that the next one can be checked against them, but readers that must not
 * see unconfirmed data (joins, sync) read the committed view.
 *
 * Signals: "operation-applied" (PrdCrdtOp *op, const char *user_id) after a
 * local or replayed operation was integrated.
 */

PrdDocument *
prd_document_new (const char *id, const char *org, const char *title, const char *version);
const char *prd_document_get_id (PrdDocument *self);
const char *prd_document_get_org (PrdDocument *self);
const char *prd_document_get_title (PrdDocument *self);
const char *prd_document_get_version (PrdDocument *self);
void prd_document_set_version (PrdDocument *self, const char *version);
void prd_document_set_title (PrdDocument *self, const char *title);
PrdCrdtDoc *prd_document_get_crdt (PrdDocument *self);

gboolean prd_document_load_state (PrdDocument *self, GBytes *state, GError **error);
gboolean
prd_document_replay (PrdDocument *self, GBytes *payload, const char *user_id, GError **error);

void prd_document_set_site_owner (PrdDocument *self, guint32 site, const char *user_id);
const char *prd_document_get_site_owner (PrdDocument *self, guint32 site);
gboolean prd_document_is_site_owner (PrdDocument *self, const char *user_id);

/**
 * PrdClientOperation:
 * @insert: an insert (of @content) or a delete (of @length code units)
 * @position: where, in UTF-16 code units of the text at the operation's base
 * @timestamp: when it was made (ms since the epoch), 0 when not given
 * @content: insert: the text (valid UTF-8 or not, it is checked)
 * @length: delete: how many code units, from 1
 *
 * A client's `operation`, read already (a content-update read without a
 * tree, or an edit the hub makes itself): see
 * prd_document_apply_operation().
 */
typedef struct
{
  gboolean insert;
  guint32 position;
  gint64 timestamp;
  const char *content;
  guint32 length;
} PrdClientOperation;

PrdCrdtOp *prd_document_apply_operation (PrdDocument *self,
                                         const PrdClientOperation *operation,
                                         const guint32 *state_vector,
                                         guint n_state_vector,
                                         guint32 site,
                                         const char *user_id,
                                         guint max_operation_size,
                                         gboolean *out_duplicate,
                                         GError **error);
PrdCrdtOp *prd_document_apply_client_operation (PrdDocument *self,
                                                JsonNode *operation,
                                                JsonNode *state_vector,
                                                guint32 site,
                                                const char *user_id,
                                                guint max_operation_size,
                                                gboolean *out_duplicate,
                                                GError **error);

void prd_document_commit (PrdDocument *self, guint32 site, guint32 seq);
GArray *prd_document_get_committed_vector (PrdDocument *self);
char *prd_document_get_committed_text (PrdDocument *self);
gboolean prd_document_has_uncommitted (PrdDocument *self);
void prd_document_set_max_length (PrdDocument *self, guint max_length);
gboolean
prd_document_check_growth (PrdDocument *self, guint32 deleted, guint32 inserted, GError **error);
GPtrArray *prd_document_get_missing (
    PrdDocument *self, JsonNode *state_vector, guint max_ops, gboolean *out_full, GError **error);

gboolean prd_utf16_length (const char *text, guint32 *out_units);

G_END_DECLS
