/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdDocument keeps one PRD in memory. The hub integrates a client's
 * operation at once (the next operation of the same site is validated
 * against it) but makes it visible to joins and sync only once the store
 * has committed it: prd_document_commit() moves the committed vector, and
 * every reader that hands state to a client reads that vector. An operation
 * that has not been committed can therefore never reach a client that
 * would keep it if the hub then crashed.
 */
#define G_LOG_DOMAIN "prd-core"

#include "config.h"

#include <string.h>

#include "prd-error.h"

#include "prd-document.h"

struct _PrdDocument
{
  GObject parent_instance;

  char *id;
  char *org;
  char *title;
  char *version;
  PrdCrdtDoc *crdt;        /* (owned) */
  GHashTable *site_owners; /* GUINT_TO_POINTER (site) → (owned) user id */
  GHashTable *owner_sites; /* (owned) user id → GUINT_TO_POINTER (number of its sites) */
  GHashTable *timestamps;  /* (site << 32 | seq) as gint64* → gint64* */
  GArray *committed;       /* (element-type guint32) */
  guint n_uncommitted;
  guint max_length; /* UTF-16 code units the text may grow to; 0: no limit */
};

enum
{
  SIGNAL_OPERATION_APPLIED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PrdDocument, prd_document, G_TYPE_OBJECT)

void
prd_document_update_free (PrdDocumentUpdate *update)
{
  if (update == NULL)
    return;
  g_clear_pointer (&update->op, prd_crdt_op_free);
  g_free (update->user_id);
  g_free (update);
}

static void
prd_document_finalize (GObject *object)
{
  PrdDocument *self = PRD_DOCUMENT (object);

  g_free (self->id);
  g_free (self->org);
  g_free (self->title);
  g_free (self->version);
  g_clear_pointer (&self->crdt, prd_crdt_doc_free);
  g_clear_pointer (&self->site_owners, g_hash_table_unref);
  g_clear_pointer (&self->owner_sites, g_hash_table_unref);
  g_clear_pointer (&self->timestamps, g_hash_table_unref);
  g_clear_pointer (&self->committed, g_array_unref);

  G_OBJECT_CLASS (prd_document_parent_class)->finalize (object);
}

static void
prd_document_class_init (PrdDocumentClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = prd_document_finalize;

  signals[SIGNAL_OPERATION_APPLIED] =
      g_signal_new ("operation-applied", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 2, G_TYPE_POINTER, G_TYPE_STRING);
}

static void
prd_document_init (PrdDocument *self)
{
  self->crdt = prd_crdt_doc_new ();
  self->site_owners = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
  self->owner_sites = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->timestamps = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  self->committed = g_array_new (FALSE, TRUE, sizeof (guint32));
}

PrdDocument *
prd_document_new (const char *id, const char *org, const char *title, const char *version)
{
  PrdDocument *self;

  g_return_val_if_fail (id != NULL && org != NULL, NULL);

  self = g_object_new (PRD_TYPE_DOCUMENT, NULL);
  self->id = g_strdup (id);
  self->org = g_strdup (org);
  self->title = g_strdup (title != NULL ? title : "");
  self->version = g_strdup (version != NULL ? version : "0.1.0");
  return self;
}

const char *
prd_document_get_id (PrdDocument *self)
{
  g_return_val_if_fail (PRD_IS_DOCUMENT (self), NULL);
  return self->id;
}

const char *
prd_document_get_org (PrdDocument *self)
{
  g_return_val_if_fail (PRD_IS_DOCUMENT (self), NULL);
  return self->org;
}

const char *
prd_document_get_title (PrdDocument *self)
{
  g_return_val_if_fail (PRD_IS_DOCUMENT (self), NULL);
  return self->title;
}

const char *
prd_document_get_version (PrdDocument *self)
{
  g_return_val_if_fail (PRD_IS_DOCUMENT (self), NULL);
  return self->version;
}

void
prd_document_set_version (PrdDocument *self, const char *version)
{
  g_return_if_fail (PRD_IS_DOCUMENT (self));
  g_return_if_fail (version != NULL);
  g_free (self->version);
  self->version = g_strdup (version);
}

void
prd_document_set_title (PrdDocument *self, const char *title)
{
  g_return_if_fail (PRD_IS_DOCUMENT (self));
  g_return_if_fail (title != NULL);
  g_free (self->title);
  self->title = g_strdup (title);
}

PrdCrdtDoc *
prd_document_get_crdt (PrdDocument *self)
{
  g_return_val_if_fail (PRD_IS_DOCUMENT (self), NULL);
  return self->crdt;
}

static void
sync_committed_to_crdt (PrdDocument *self)
{
  g_autoptr (GArray) vector = prd_crdt_doc_get_state_vector (self->crdt);

  g_array_set_size (self->committed, 0);
  g_array_append_vals (self->committed, vector->data, vector->len);
}

static void
remember_timestamp (PrdDocument *self, guint32 site, guint32 seq, gint64 timestamp)
{
  gint64 key = ((gint64) site << 32) | seq;

  g_hash_table_replace (self->timestamps, g_memdup2 (&key, sizeof key),
                        g_memdup2 (&timestamp, sizeof timestamp));
}

/**
 * prd_document_load_state:
 * @state: an encoded CRDT state (prd_crdt_doc_encode_state())
 *
 * Replaces the content by @state (a stored snapshot); committed.
 */
gboolean
prd_document_load_state (PrdDocument *self, GBytes *state, GError **error)
{
  gsize size;
  const guint8 *data;
  PrdCrdtDoc *crdt;

  g_return_val_if_fail (PRD_IS_DOCUMENT (self), FALSE);
  g_return_val_if_fail (state != NULL, FALSE);

  data = g_bytes_get_data (state, &size);
  crdt = prd_crdt_doc_decode_state (data, size, error);
  if (crdt == NULL)
    return FALSE;
  prd_crdt_doc_free (self->crdt);
  self->crdt = crdt;
  sync_committed_to_crdt (self);
  return TRUE;
}

/**
 * prd_document_replay:
 * @payload: an encoded update (prd_crdt_ops_encode() or prd_crdt_op_encode())
 * @user_id: the user whose site produced it
 *
 * Integrates a stored update (idempotent); committed.
 */
gboolean
prd_document_replay (PrdDocument *self, GBytes *payload, const char *user_id, GError **error)
{
  g_autoptr (GPtrArray) ops = NULL;
  gsize size;
  const guint8 *data;

  g_return_val_if_fail (PRD_IS_DOCUMENT (self), FALSE);
  g_return_val_if_fail (payload != NULL, FALSE);

  data = g_bytes_get_data (payload, &size);
  ops = prd_crdt_ops_decode (data, size, error);
  if (ops == NULL)
    return FALSE;
  for (guint i = 0; i < ops->len; i++)
    {
      PrdCrdtOp *op = g_ptr_array_index (ops, i);

      if (!prd_crdt_doc_apply_remote (self->crdt, op, NULL, error))
        return FALSE;
      remember_timestamp (self, op->site, op->seq, op->timestamp);
      if (user_id != NULL && prd_document_get_site_owner (self, op->site) == NULL)
        prd_document_set_site_owner (self, op->site, user_id);
      g_signal_emit (self, signals[SIGNAL_OPERATION_APPLIED], 0, op, user_id);
    }
  sync_committed_to_crdt (self);
  return TRUE;
}

void
prd_document_set_site_owner (PrdDocument *self, guint32 site, const char *user_id)
{
  const char *previous;

  g_return_if_fail (PRD_IS_DOCUMENT (self));
  g_return_if_fail (user_id != NULL);

  previous = g_hash_table_lookup (self->site_owners, GUINT_TO_POINTER (site));
  if (previous != NULL)
    {
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (self->owner_sites, previous));

      if (n <= 1)
        g_hash_table_remove (self->owner_sites, previous);
      else
        g_hash_table_insert (self->owner_sites, g_strdup (previous), GUINT_TO_POINTER (n - 1));
    }
  g_hash_table_insert (
      self->owner_sites, g_strdup (user_id),
      GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (self->owner_sites, user_id)) + 1));
  g_hash_table_replace (self->site_owners, GUINT_TO_POINTER (site), g_strdup (user_id));
}

/**
 * prd_document_is_site_owner:
 * @user_id: a user id
 *
 * Returns: whether @user_id owns one of the document's sites (has edited
 *   it, in this or an earlier session)
 */
gboolean
prd_document_is_site_owner (PrdDocument *self, const char *user_id)
{
  g_return_val_if_fail (PRD_IS_DOCUMENT (self), FALSE);
  g_return_val_if_fail (user_id != NULL, FALSE);

  return g_hash_table_contains (self->owner_sites, user_id);
}

const char *
prd_document_get_site_owner (PrdDocument *self, guint32 site)
{
  g_return_val_if_fail (PRD_IS_DOCUMENT (self), NULL);

  return g_hash_table_lookup (self->site_owners, GUINT_TO_POINTER (site));
}

/**
 * prd_utf16_length:
 * @text: UTF-8 text
 * @out_units: (out): its length in UTF-16 code units
 *
 * Returns: %FALSE when @text is not valid UTF-8 (lone surrogates included)
 */
gboolean
prd_utf16_length (const char *text, guint32 *out_units)
{
  guint64 units = 0;

  if (!g_utf8_validate (text, -1, NULL))
    return FALSE;
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    units += g_utf8_get_char (p) >= 0x10000 ? 2 : 1;
  if (units > G_MAXUINT32)
    return FALSE;
  *out_units = (guint32) units;
  return TRUE;
}

static gboolean
check_range (const char *name, gint64 value, gint64 min, gint64 max, GError **error)
{
  if (value < min || value > max)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                   "operation.%s must be between %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT, name,
                   min, max);
      return FALSE;
    }
  return TRUE;
}

static gboolean
get_uint_member (JsonObject *object,
                 const char *name,
                 gboolean required,
                 gint64 min,
                 gint64 max,
                 gint64 *out,
                 GError **error)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      if (required)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "operation.%s is required",
                       name);
          return FALSE;
        }
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "operation.%s must be an integer",
                   name);
      return FALSE;
    }
  *out = json_node_get_int (node);
  return check_range (name, *out, min, max, error);
}

static GArray *
parse_vector (JsonNode *node, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  GArray *vector;

  if (node == NULL)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "stateVector is required");
      return NULL;
    }
  vector = prd_crdt_vector_from_json (node, &local_error);
  if (vector == NULL)
    g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, local_error->message);
  return vector;
}

/* An operation on its way in. Read from a tree, @object is set, and the
 * content or length is read from it only where it is needed, so that a
 * payload with several faults is answered with the same one as always; given
 * read (a #PrdClientOperation), @object is %NULL. */
typedef struct
{
  PrdClientOperation op;
  JsonObject *object; /* (nullable) */
} Incoming;

static gboolean
incoming_get_content (const Incoming *in, const char **out, GError **error)
{
  if (in->object != NULL)
    {
      JsonNode *content = json_object_get_member (in->object, "content");

      *out = content != NULL && JSON_NODE_HOLDS_VALUE (content) &&
                     json_node_get_value_type (content) == G_TYPE_STRING
                 ? json_node_get_string (content)
                 : NULL;
    }
  else
    *out = in->op.content;
  if (*out == NULL)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "operation.content must be a string");
      return FALSE;
    }
  return TRUE;
}

static gboolean
incoming_get_length (const Incoming *in, gint64 *out, GError **error)
{
  if (in->object != NULL)
    return get_uint_member (in->object, "length", TRUE, 1, G_MAXUINT32, out, error);
  *out = in->op.length;
  return check_range ("length", *out, 1, G_MAXUINT32, error);
}

/* Whether @text is @known, where a U+FFFF of @known (a character whose text a
 * lossy stored state dropped) stands for any one UTF-16 code unit. Only a
 * document decoded from such a state has dropped text: elsewhere a U+FFFF
 * is a character like any other. */
static gboolean
same_but_dropped (const char *text, const char *known)
{
  g_autofree gunichar2 *a = g_utf8_to_utf16 (text, -1, NULL, NULL, NULL);
  g_autofree gunichar2 *b = g_utf8_to_utf16 (known, -1, NULL, NULL, NULL);
  gsize i;

  if (a == NULL || b == NULL)
    return FALSE;
  for (i = 0; a[i] != 0 && b[i] != 0; i++)
    if (a[i] != b[i] && b[i] != 0xFFFF)
      return FALSE;
  return a[i] == b[i];
}

/* A repeated operation id (@site, @seq) is a re-send only when it carries the
 * operation the hub has under that id: the same type and the same text
 * (insert) or length (delete). The position is not compared: the hub keeps
 * an operation by character ids, not by the position it was typed at. */
static gboolean
check_repeat (PrdDocument *self, guint32 site, guint32 seq, const Incoming *in, GError **error)
{
  g_autoptr (PrdCrdtOp) known = prd_crdt_doc_get_op (self->crdt, site, seq);
  gboolean same;

  g_assert (known != NULL);
  if (in->op.insert != (known->type == PRD_CRDT_OP_INSERT))
    same = FALSE;
  else if (in->op.insert)
    {
      const char *text;

      if (!incoming_get_content (in, &text, error))
        return FALSE;
      if (prd_crdt_doc_is_lossy (self->crdt) && strstr (known->content, "\xef\xbf\xbf") != NULL)
        same = same_but_dropped (text, known->content);
      else
        same = g_str_equal (text, known->content);
    }
  else
    {
      gint64 length = 0;

      if (!incoming_get_length (in, &length, error))
        return FALSE;
      same = length == known->length;
    }
  if (!same)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_OPERATION_ID_REUSED,
                   "Operation %u of site %u is already another operation; sync, then send "
                   "this edit as operation %u",
                   seq, site, prd_crdt_doc_get_site_ops (self->crdt, site) + 1);
      return FALSE;
    }
  return TRUE;
}

/* Everything after the operation's own fields: @vector (the client's, which
 * this changes) against the document, then the content or length. */
static PrdCrdtOp *
apply_incoming (PrdDocument *self,
                const Incoming *in,
                GArray *vector,
                guint32 site,
                const char *user_id,
                guint max_operation_size,
                gboolean *out_duplicate,
                GError **error)
{
  g_autoptr (PrdCrdtOp) op = NULL;
  guint32 seq, known;
  gboolean ok;

  if (site >= vector->len || g_array_index (vector, guint32, site) == 0)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                   "stateVector[%u] (your site) must be the operation's number, from 1", site);
      return NULL;
    }
  seq = g_array_index (vector, guint32, site);
  known = prd_crdt_doc_get_site_ops (self->crdt, site);
  if (seq <= known)
    {
      if (!check_repeat (self, site, seq, in, error))
        return NULL;
      *out_duplicate = TRUE;
      return NULL;
    }
  if (seq > known + 1)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                   "missing operations; sync first (operation %u of site %u, the hub has %u)", seq,
                   site, known);
      return NULL;
    }
  for (guint s = 0; s < vector->len; s++)
    if (s != site && g_array_index (vector, guint32, s) > prd_crdt_doc_get_site_ops (self->crdt, s))
      {
        g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                     "missing operations; sync first (stateVector[%u] is ahead of the hub)", s);
        return NULL;
      }
  g_array_index (vector, guint32, site) = seq - 1;

  if (in->op.insert)
    {
      const char *content;
      guint32 units;

      if (!incoming_get_content (in, &content, error))
        return NULL;
      if (!prd_utf16_length (content, &units))
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                               "operation.content is not valid Unicode text");
          return NULL;
        }
      if (units == 0)
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                               "operation.content must not be empty");
          return NULL;
        }
      if (units > max_operation_size)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_PAYLOAD_TOO_LARGE,
                       "operation.content has %u UTF-16 code units (at most %u)", units,
                       max_operation_size);
          return NULL;
        }
      if (!prd_document_check_growth (self, 0, units, error))
        return NULL;
      ok = prd_crdt_doc_apply_local_insert (self->crdt, site, (const guint32 *) vector->data,
                                            vector->len, in->op.position, content, -1,
                                            in->op.timestamp, &op, error);
    }
  else
    {
      gint64 length = 0;

      if (!incoming_get_length (in, &length, error))
        return NULL;
      if (length > max_operation_size)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_PAYLOAD_TOO_LARGE,
                       "operation.length is %" G_GINT64_FORMAT " (at most %u)", length,
                       max_operation_size);
          return NULL;
        }
      ok = prd_crdt_doc_apply_local_delete (self->crdt, site, (const guint32 *) vector->data,
                                            vector->len, in->op.position, (guint32) length,
                                            in->op.timestamp, &op, error);
    }
  if (!ok)
    return NULL;

  self->n_uncommitted++;
  remember_timestamp (self, op->site, op->seq, in->op.timestamp);
  g_signal_emit (self, signals[SIGNAL_OPERATION_APPLIED], 0, op, user_id);
  return g_steal_pointer (&op);
}

/**
 * prd_document_apply_client_operation:
 * @operation: the seed's `operation` object
 * @state_vector: the client's vector after the operation
 * @site: the sender's site
 * @max_operation_size: the largest insert/delete, in UTF-16 code units
 * @out_duplicate: (out): set when the operation is already known
 *
 * Validates and integrates a client's `content-update`. A refused operation
 * changes nothing. The result is not committed until prd_document_commit().
 *
 * Returns: (transfer full) (nullable): the integrated operation; %NULL with
 *   @out_duplicate set for a repeated operation, %NULL with @error otherwise
 */
PrdCrdtOp *
prd_document_apply_client_operation (PrdDocument *self,
                                     JsonNode *operation,
                                     JsonNode *state_vector,
                                     guint32 site,
                                     const char *user_id,
                                     guint max_operation_size,
                                     gboolean *out_duplicate,
                                     GError **error)
{
  g_autoptr (GArray) vector = NULL;
  Incoming in = { 0 };
  JsonObject *object;
  JsonNode *type_node;
  const char *type;
  gint64 position = 0, timestamp = 0;

  g_return_val_if_fail (PRD_IS_DOCUMENT (self), NULL);

  *out_duplicate = FALSE;
  if (operation == NULL || !JSON_NODE_HOLDS_OBJECT (operation))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "operation must be an object");
      return NULL;
    }
  object = json_node_get_object (operation);
  type_node = json_object_get_member (object, "type");
  if (type_node == NULL || !JSON_NODE_HOLDS_VALUE (type_node) ||
      json_node_get_value_type (type_node) != G_TYPE_STRING)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "operation.type must be \"insert\" or \"delete\"");
      return NULL;
    }
  type = json_node_get_string (type_node);
  if (!g_str_equal (type, "insert") && !g_str_equal (type, "delete"))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "operation.type must be \"insert\" or \"delete\"");
      return NULL;
    }
  if (!get_uint_member (object, "position", TRUE, 0, G_MAXUINT32, &position, error) ||
      !get_uint_member (object, "timestamp", FALSE, 0, G_MAXINT64, &timestamp, error))
    return NULL;

  vector = parse_vector (state_vector, error);
  if (vector == NULL)
    return NULL;
  in.op.insert = g_str_equal (type, "insert");
  in.op.position = (guint32) position;
  in.op.timestamp = timestamp;
  in.object = object;
  return apply_incoming (self, &in, vector, site, user_id, max_operation_size, out_duplicate,
                         error);
}

/**
 * prd_document_apply_operation:
 * @operation: the operation, read already
 * @state_vector: (array length=n_state_vector): the client's vector after
 *   the operation
 * @site: the sender's site
 * @max_operation_size: the largest insert/delete, in UTF-16 code units
 * @out_duplicate: (out): set when the operation is already known
 *
 * prd_document_apply_client_operation() for an operation that is not a JSON
 * tree: the same checks, the same errors, the same result.
 *
 * Returns: (transfer full) (nullable): the integrated operation; %NULL with
 *   @out_duplicate set for a repeated operation, %NULL with @error otherwise
 */
PrdCrdtOp *
prd_document_apply_operation (PrdDocument *self,
                              const PrdClientOperation *operation,
                              const guint32 *state_vector,
                              guint n_state_vector,
                              guint32 site,
                              const char *user_id,
                              guint max_operation_size,
                              gboolean *out_duplicate,
                              GError **error)
{
  g_autoptr (GArray) vector = NULL;
  Incoming in = { .op = *operation, .object = NULL };

  g_return_val_if_fail (PRD_IS_DOCUMENT (self), NULL);
  g_return_val_if_fail (operation != NULL, NULL);
  g_return_val_if_fail (state_vector != NULL || n_state_vector == 0, NULL);

  *out_duplicate = FALSE;
  if (!check_range ("timestamp", operation->timestamp, 0, G_MAXINT64, error))
    return NULL;
  if (n_state_vector > PRD_CRDT_MAX_SITES)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                   "stateVector has %u entries (at most %d)", n_state_vector, PRD_CRDT_MAX_SITES);
      return NULL;
    }
  /* A missing entry is 0: what follows works on the entries that count. */
  while (n_state_vector > 0 && state_vector[n_state_vector - 1] == 0)
    n_state_vector--;
  vector = g_array_sized_new (FALSE, FALSE, sizeof (guint32), n_state_vector);
  g_array_append_vals (vector, state_vector, n_state_vector);
  return apply_incoming (self, &in, vector, site, user_id, max_operation_size, out_duplicate,
                         error);
}

/**
 * prd_document_commit:
 *
 * Records that operation (@site, @seq) is durable. Operations commit in the
 * order they were integrated.
 */
void
prd_document_commit (PrdDocument *self, guint32 site, guint32 seq)
{
  g_return_if_fail (PRD_IS_DOCUMENT (self));

  if (self->committed->len <= site)
    g_array_set_size (self->committed, site + 1);
  if (g_array_index (self->committed, guint32, site) < seq)
    g_array_index (self->committed, guint32, site) = seq;
  if (self->n_uncommitted > 0)
    self->n_uncommitted--;
}

gboolean
prd_document_has_uncommitted (PrdDocument *self)
{
  g_return_val_if_fail (PRD_IS_DOCUMENT (self), FALSE);
  return self->n_uncommitted > 0;
}

/**
 * prd_document_get_committed_vector:
 *
 * Returns: (transfer full) (element-type guint32): the durable state
 *   vector, without trailing zeros
 */
GArray *
prd_document_get_committed_vector (PrdDocument *self)
{
  GArray *vector;
  guint len;

  g_return_val_if_fail (PRD_IS_DOCUMENT (self), NULL);

  len = self->committed->len;
  while (len > 0 && g_array_index (self->committed, guint32, len - 1) == 0)
    len--;
  vector = g_array_sized_new (FALSE, TRUE, sizeof (guint32), len);
  g_array_append_vals (vector, self->committed->data, len);
  return vector;
}

char *
prd_document_get_committed_text (PrdDocument *self)
{
  g_autoptr (GArray) vector = NULL;

  g_return_val_if_fail (PRD_IS_DOCUMENT (self), NULL);

  if (self->n_uncommitted == 0)
    return prd_crdt_doc_get_text (self->crdt);
  vector = prd_document_get_committed_vector (self);
  return prd_crdt_doc_get_text_at (self->crdt, (const guint32 *) vector->data, vector->len, NULL);
}

static gboolean
is_committed (PrdDocument *self, const PrdCrdtOp *op)
{
  return op->site < self->committed->len &&
         op->seq <= g_array_index (self->committed, guint32, op->site);
}

/**
 * prd_document_set_max_length:
 * @max_length: UTF-16 code units the text may grow to (0: no limit)
 *
 * Inserts that would make the text longer are refused with
 * %PRD_ERROR_LIMIT_REACHED; deletions always pass, and a text longer
 * already (loaded from before the limit) stays as it is.
 */
void
prd_document_set_max_length (PrdDocument *self, guint max_length)
{
  g_return_if_fail (PRD_IS_DOCUMENT (self));
  self->max_length = max_length;
}

/**
 * prd_document_check_growth:
 * @deleted: UTF-16 code units an edit made of several operations deletes
 * @inserted: UTF-16 code units it inserts
 *
 * Whether the text keeps within the maximum length once an edit is
 * applied: an insert (@deleted 0), or an edit written as several
 * operations (deletions, then inserts), checked before the first so that
 * it is applied whole or not at all. An edit that does not make the text
 * longer always passes.
 *
 * Returns: %FALSE with %PRD_ERROR_LIMIT_REACHED when it would not
 */
gboolean
prd_document_check_growth (PrdDocument *self, guint32 deleted, guint32 inserted, GError **error)
{
  guint32 length;
  guint64 after;

  g_return_val_if_fail (PRD_IS_DOCUMENT (self), FALSE);

  length = prd_crdt_doc_get_length (self->crdt);
  after = (guint64) length - MIN (deleted, length) + inserted;
  if (self->max_length == 0 || inserted <= deleted || after <= self->max_length)
    return TRUE;
  g_set_error (error, PRD_ERROR, PRD_ERROR_LIMIT_REACHED,
               "The PRD would have %" G_GUINT64_FORMAT
               " UTF-16 code units, more than it may hold (%u, max-document-size): "
               "delete text first",
               after, self->max_length);
  return FALSE;
}

/**
 * prd_document_get_missing:
 * @state_vector: the client's vector (JSON)
 * @max_ops: the most operations to list (0: no limit); a client missing
 *   more is given the full state
 * @out_full: (out): set when the client must take the full state instead
 *
 * Returns: (transfer full) (element-type PrdDocumentUpdate): the committed
 *   operations the client lacks, in causal order; %NULL with @error for an
 *   invalid vector
 */
GPtrArray *
prd_document_get_missing (
    PrdDocument *self, JsonNode *state_vector, guint max_ops, gboolean *out_full, GError **error)
{
  g_autoptr (GArray) vector = NULL;
  g_autoptr (GArray) current = NULL;
  guint64 n_missing = 0;
  g_autoptr (GPtrArray) ops = NULL;
  g_autoptr (GError) local_error = NULL;
  GPtrArray *updates;

  g_return_val_if_fail (PRD_IS_DOCUMENT (self), NULL);

  *out_full = FALSE;
  vector = parse_vector (state_vector, error);
  if (vector == NULL)
    return NULL;
  updates = g_ptr_array_new_with_free_func ((GDestroyNotify) prd_document_update_free);
  for (guint s = 0; s < vector->len; s++)
    if (g_array_index (vector, guint32, s) > prd_crdt_doc_get_site_ops (self->crdt, s))
      {
        *out_full = TRUE;
        return updates;
      }
  /* Counted before anything is built: listing costs time and memory with
   * each operation, the full state only with the text's size. */
  current = prd_crdt_doc_get_state_vector (self->crdt);
  for (guint s = 0; s < current->len; s++)
    n_missing += g_array_index (current, guint32, s) -
                 (s < vector->len ? g_array_index (vector, guint32, s) : 0);
  if (max_ops > 0 && n_missing > max_ops)
    {
      *out_full = TRUE;
      return updates;
    }
  ops = prd_crdt_doc_get_missing_ops (self->crdt, (const guint32 *) vector->data, vector->len,
                                      &local_error);
  if (ops == NULL)
    {
      g_debug ("%s: serving the full state: %s", self->id, local_error->message);
      *out_full = TRUE;
      return updates;
    }
  for (guint i = 0; i < ops->len; i++)
    {
      PrdCrdtOp *op = g_ptr_array_index (ops, i);
      PrdDocumentUpdate *update;
      gint64 key = ((gint64) op->site << 32) | op->seq;
      gint64 *timestamp;

      if (!is_committed (self, op))
        continue;
      update = g_new0 (PrdDocumentUpdate, 1);
      update->op = prd_crdt_op_copy (op);
      timestamp = g_hash_table_lookup (self->timestamps, &key);
      update->timestamp = timestamp != NULL ? *timestamp : 0;
      update->op->timestamp = update->timestamp;
      update->user_id = g_strdup (prd_document_get_site_owner (self, op->site));
      g_ptr_array_add (updates, update);
    }
  return updates;
}
