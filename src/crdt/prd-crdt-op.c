/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-crdt"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-json.h"
#include "prd-crdt-private.h"

/*
 * Operations in CRDT form: copying, the binary update format and the JSON
 * form sent on the wire (docs/crdt.md describes both).
 */

PrdCrdtOp *
prd_crdt_op_copy (const PrdCrdtOp *op)
{
  PrdCrdtOp *copy;

  g_return_val_if_fail (op != NULL, NULL);
  copy = g_memdup2 (op, sizeof *op);
  copy->content = g_strdup (op->content);
  copy->targets =
      op->n_targets ? g_memdup2 (op->targets, op->n_targets * sizeof (PrdCrdtIdRange)) : NULL;
  return copy;
}

void
prd_crdt_op_free (PrdCrdtOp *op)
{
  if (op == NULL)
    return;
  if (op->content != (char *) (op + 1)) /* else allocated with the op */
    g_free (op->content);
  if (op->targets != (PrdCrdtIdRange *) (void *) (op + 1))
    g_free (op->targets);
  g_free (op);
}

/* ---- binary ------------------------------------------------------------------ */

gboolean
prd_crdt_get_varint (PrdCrdtReader *r, guint64 *out, GError **error)
{
  guint64 v = 0;

  for (guint shift = 0; shift < 64; shift += 7)
    {
      guint8 b;
      if (r->p >= r->end)
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA, "Truncated data");
          return FALSE;
        }
      b = *r->p++;
      if (shift == 63 && (b & 0x7e))
        break;
      v |= (guint64) (b & 0x7f) << shift;
      if (!(b & 0x80))
        {
          *out = v;
          return TRUE;
        }
    }
  g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA,
                       "Malformed variable-length integer");
  return FALSE;
}

gboolean
prd_crdt_get_u32 (PrdCrdtReader *r, guint32 *out, GError **error)
{
  guint64 v;

  if (!prd_crdt_get_varint (r, &v, error))
    return FALSE;
  if (v > G_MAXUINT32)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA, "Integer out of range");
      return FALSE;
    }
  *out = (guint32) v;
  return TRUE;
}

static inline guint8 *
varint (guint8 *p, guint64 v)
{
  while (v >= 0x80)
    {
      *p++ = (guint8) (v | 0x80);
      v >>= 7;
    }
  *p++ = (guint8) v;
  return p;
}

/* Fixed fields go through a stack buffer and reach @out in one append, the
 * text in a second one: this runs once per keystroke, and growing @out to a
 * bound and shrinking it back makes GLib run g_array_remove_range() each time. */
#define PUT_OP_BUF 256
/* room for the largest insert header or one delete target range */
G_STATIC_ASSERT (PUT_OP_BUF >= 2 + 10 * 10);

static void
put_op (GByteArray *out, const PrdCrdtOp *op, gboolean version)
{
  guint8 buf[PUT_OP_BUF];
  guint8 *p = buf;

  if (version)
    *p++ = PRD_CRDT_FORMAT_VERSION;
  *p++ = op->type == PRD_CRDT_OP_INSERT ? 0 : 1;
  p = varint (p, op->site);
  p = varint (p, op->seq);
  p = varint (p, op->position);
  p = varint (p, prd_crdt_zigzag (op->timestamp));
  if (op->type == PRD_CRDT_OP_INSERT)
    {
      gsize blen = op->content ? strlen (op->content) : 0;

      p = varint (p, op->clock);
      *p++ = (op->has_origin ? 1 : 0) | (op->has_right_origin ? 2 : 0);
      if (op->has_origin)
        {
          p = varint (p, op->origin.site);
          p = varint (p, op->origin.clock);
        }
      if (op->has_right_origin)
        {
          p = varint (p, op->right_origin.site);
          p = varint (p, op->right_origin.clock);
        }
      p = varint (p, blen);
      if (blen <= (gsize) (buf + sizeof buf - p))
        {
          memcpy (p, op->content, blen);
          p += blen;
        }
      else
        {
          g_byte_array_append (out, buf, p - buf);
          g_byte_array_append (out, (const guint8 *) op->content, blen);
          return;
        }
    }
  else
    {
      p = varint (p, op->n_targets);
      for (guint i = 0; i < op->n_targets; i++)
        {
          if (buf + sizeof buf - p < 30)
            {
              g_byte_array_append (out, buf, p - buf);
              p = buf;
            }
          p = varint (p, op->targets[i].site);
          p = varint (p, op->targets[i].clock);
          p = varint (p, op->targets[i].length);
        }
    }
  g_byte_array_append (out, buf, p - buf);
}

static PrdCrdtOp *
get_op (PrdCrdtReader *r, GError **error)
{
  g_autoptr (PrdCrdtOp) op = g_new0 (PrdCrdtOp, 1);
  guint64 ts;
  guint8 type;

  if (r->p >= r->end)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA, "Truncated operation");
      return NULL;
    }
  type = *r->p++;
  if (type > 1)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA, "Unknown operation type %u", type);
      return NULL;
    }
  op->type = type == 0 ? PRD_CRDT_OP_INSERT : PRD_CRDT_OP_DELETE;
  if (!prd_crdt_get_u32 (r, &op->site, error) || !prd_crdt_get_u32 (r, &op->seq, error) ||
      !prd_crdt_get_u32 (r, &op->position, error) || !prd_crdt_get_varint (r, &ts, error))
    return NULL;
  op->timestamp = prd_crdt_unzigzag (ts);
  if (op->type == PRD_CRDT_OP_INSERT)
    {
      guint32 flags, blen;
      if (!prd_crdt_get_u32 (r, &op->clock, error) || !prd_crdt_get_u32 (r, &flags, error))
        return NULL;
      if (flags > 3)
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA, "Unknown insert flags");
          return NULL;
        }
      op->has_origin = (flags & 1) != 0;
      op->has_right_origin = (flags & 2) != 0;
      if (op->has_origin && (!prd_crdt_get_u32 (r, &op->origin.site, error) ||
                             !prd_crdt_get_u32 (r, &op->origin.clock, error)))
        return NULL;
      if (op->has_right_origin && (!prd_crdt_get_u32 (r, &op->right_origin.site, error) ||
                                   !prd_crdt_get_u32 (r, &op->right_origin.clock, error)))
        return NULL;
      if (!prd_crdt_get_u32 (r, &blen, error))
        return NULL;
      if (blen > (gsize) (r->end - r->p))
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA, "Truncated insert text");
          return NULL;
        }
      if (memchr (r->p, 0, blen) != NULL || !g_utf8_validate_len ((const char *) r->p, blen, NULL))
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA,
                               "Insert text is not valid UTF-8");
          return NULL;
        }
      op->content = g_strndup ((const char *) r->p, blen);
      op->length = prd_crdt_utf16_length (op->content, blen);
      r->p += blen;
    }
  else
    {
      guint32 n;
      guint64 total = 0;
      if (!prd_crdt_get_u32 (r, &n, error))
        return NULL;
      if (n > (gsize) (r->end - r->p) / 3)
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA, "Truncated delete");
          return NULL;
        }
      op->n_targets = n;
      op->targets = g_new0 (PrdCrdtIdRange, MAX (n, 1));
      for (guint i = 0; i < n; i++)
        {
          if (!prd_crdt_get_u32 (r, &op->targets[i].site, error) ||
              !prd_crdt_get_u32 (r, &op->targets[i].clock, error) ||
              !prd_crdt_get_u32 (r, &op->targets[i].length, error))
            return NULL;
          total += op->targets[i].length;
        }
      if (total > G_MAXUINT32)
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA, "Delete too long");
          return NULL;
        }
      op->length = (guint32) total;
    }
  {
    g_autoptr (GError) local = NULL;
    if (!prd_crdt_op_validate (op, &local))
      {
        g_set_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA, "Invalid operation: %s",
                     local->message);
        return NULL;
      }
  }
  return g_steal_pointer (&op);
}

void
prd_crdt_op_encode_into (const PrdCrdtOp *op, GByteArray *out)
{
  g_return_if_fail (op != NULL);
  g_return_if_fail (out != NULL);
  put_op (out, op, TRUE);
}

GBytes *
prd_crdt_op_encode (const PrdCrdtOp *op)
{
  GByteArray *out;

  g_return_val_if_fail (op != NULL, NULL);
  out = g_byte_array_sized_new (32 + (op->content ? strlen (op->content) : 0));
  put_op (out, op, TRUE);
  return g_byte_array_free_to_bytes (out);
}

static gboolean
check_version (PrdCrdtReader *r, GError **error)
{
  if (r->p >= r->end)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA, "Empty data");
      return FALSE;
    }
  if (*r->p != PRD_CRDT_FORMAT_VERSION)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_UNSUPPORTED_VERSION,
                   "Unsupported CRDT format version %u (this build reads %u)", *r->p,
                   PRD_CRDT_FORMAT_VERSION);
      return FALSE;
    }
  r->p++;
  return TRUE;
}

PrdCrdtOp *
prd_crdt_op_decode (const guint8 *data, gsize size, GError **error)
{
  PrdCrdtReader r = { data, data + size };
  g_autoptr (PrdCrdtOp) op = NULL;

  g_return_val_if_fail (data != NULL || size == 0, NULL);
  if (!check_version (&r, error))
    return NULL;
  op = get_op (&r, error);
  if (op == NULL)
    return NULL;
  if (r.p != r.end)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA,
                           "Trailing bytes after the operation");
      return NULL;
    }
  return g_steal_pointer (&op);
}

GBytes *
prd_crdt_ops_encode (PrdCrdtOp *const *ops, guint n_ops)
{
  GByteArray *out = g_byte_array_new ();
  guint8 version = PRD_CRDT_FORMAT_VERSION;

  g_byte_array_append (out, &version, 1);
  prd_crdt_put_varint (out, n_ops);
  for (guint i = 0; i < n_ops; i++)
    put_op (out, ops[i], FALSE);
  return g_byte_array_free_to_bytes (out);
}

GPtrArray *
prd_crdt_ops_decode (const guint8 *data, gsize size, GError **error)
{
  PrdCrdtReader r = { data, data + size };
  g_autoptr (GPtrArray) ops = NULL;
  guint32 n;

  g_return_val_if_fail (data != NULL || size == 0, NULL);
  if (!check_version (&r, error) || !prd_crdt_get_u32 (&r, &n, error))
    return NULL;
  if (n > (gsize) (r.end - r.p) / 6)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA, "Truncated update");
      return NULL;
    }
  ops = g_ptr_array_new_full (n, (GDestroyNotify) prd_crdt_op_free);
  for (guint i = 0; i < n; i++)
    {
      PrdCrdtOp *op = get_op (&r, error);
      if (op == NULL)
        return NULL;
      g_ptr_array_add (ops, op);
    }
  if (r.p != r.end)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA,
                           "Trailing bytes after the update");
      return NULL;
    }
  return g_steal_pointer (&ops);
}

/* ---- JSON ---------------------------------------------------------------------- */

static JsonNode *
id_array (guint32 a, guint32 b)
{
  JsonArray *arr = json_array_sized_new (2);
  JsonNode *node = json_node_new (JSON_NODE_ARRAY);

  json_array_add_int_element (arr, a);
  json_array_add_int_element (arr, b);
  json_node_take_array (node, arr);
  return node;
}

JsonNode *
prd_crdt_op_to_json (const PrdCrdtOp *op)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  g_return_val_if_fail (op != NULL, NULL);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, op->type == PRD_CRDT_OP_INSERT ? "insert" : "delete");
  json_builder_set_member_name (b, "position");
  json_builder_add_int_value (b, op->position);
  if (op->type == PRD_CRDT_OP_INSERT)
    {
      json_builder_set_member_name (b, "content");
      json_builder_add_string_value (b, op->content);
    }
  else
    {
      json_builder_set_member_name (b, "length");
      json_builder_add_int_value (b, op->length);
    }
  json_builder_set_member_name (b, "timestamp");
  json_builder_add_int_value (b, op->timestamp);
  json_builder_set_member_name (b, "id");
  json_builder_add_value (b, id_array (op->site, op->seq));
  if (op->type == PRD_CRDT_OP_INSERT)
    {
      json_builder_set_member_name (b, "clock");
      json_builder_add_int_value (b, op->clock);
      json_builder_set_member_name (b, "origin");
      if (op->has_origin)
        json_builder_add_value (b, id_array (op->origin.site, op->origin.clock));
      else
        json_builder_add_null_value (b);
      json_builder_set_member_name (b, "rightOrigin");
      if (op->has_right_origin)
        json_builder_add_value (b, id_array (op->right_origin.site, op->right_origin.clock));
      else
        json_builder_add_null_value (b);
    }
  else
    {
      json_builder_set_member_name (b, "targets");
      json_builder_begin_array (b);
      for (guint i = 0; i < op->n_targets; i++)
        {
          json_builder_begin_array (b);
          json_builder_add_int_value (b, op->targets[i].site);
          json_builder_add_int_value (b, op->targets[i].clock);
          json_builder_add_int_value (b, op->targets[i].length);
          json_builder_end_array (b);
        }
      json_builder_end_array (b);
    }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static void
write_id (GString *out, guint32 a, guint32 b)
{
  g_string_append_c (out, '[');
  prd_json_write_int (out, a);
  g_string_append_c (out, ',');
  prd_json_write_int (out, b);
  g_string_append_c (out, ']');
}

/**
 * prd_crdt_op_write_json:
 * @out: where the text goes
 *
 * Appends the JSON text of @op: byte for byte what prd_json_to_string()
 * makes of prd_crdt_op_to_json(), members in the same order, without
 * building the tree (about a tenth of the instructions). Keep the two in
 * step: tests/test-crdt-codec.c compares them on random operations.
 */
void
prd_crdt_op_write_json (const PrdCrdtOp *op, GString *out)
{
  gboolean insert;

  g_return_if_fail (op != NULL);
  g_return_if_fail (out != NULL);

  insert = op->type == PRD_CRDT_OP_INSERT;
  g_string_append (out, insert ? "{\"type\":\"insert\",\"position\":"
                               : "{\"type\":\"delete\",\"position\":");
  prd_json_write_int (out, op->position);
  if (insert)
    {
      g_string_append (out, ",\"content\":");
      prd_json_write_string (out, op->content);
    }
  else
    {
      g_string_append (out, ",\"length\":");
      prd_json_write_int (out, op->length);
    }
  g_string_append (out, ",\"timestamp\":");
  prd_json_write_int (out, op->timestamp);
  g_string_append (out, ",\"id\":");
  write_id (out, op->site, op->seq);
  if (insert)
    {
      g_string_append (out, ",\"clock\":");
      prd_json_write_int (out, op->clock);
      g_string_append (out, ",\"origin\":");
      if (op->has_origin)
        write_id (out, op->origin.site, op->origin.clock);
      else
        g_string_append (out, "null");
      g_string_append (out, ",\"rightOrigin\":");
      if (op->has_right_origin)
        write_id (out, op->right_origin.site, op->right_origin.clock);
      else
        g_string_append (out, "null");
    }
  else
    {
      g_string_append (out, ",\"targets\":[");
      for (guint i = 0; i < op->n_targets; i++)
        {
          if (i > 0)
            g_string_append_c (out, ',');
          g_string_append_c (out, '[');
          prd_json_write_int (out, op->targets[i].site);
          g_string_append_c (out, ',');
          prd_json_write_int (out, op->targets[i].clock);
          g_string_append_c (out, ',');
          prd_json_write_int (out, op->targets[i].length);
          g_string_append_c (out, ']');
        }
      g_string_append_c (out, ']');
    }
  g_string_append_c (out, '}');
}

static gboolean
json_u32 (JsonNode *node, const char *what, guint32 min, guint32 *out, GError **error)
{
  gint64 v;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION, "%s must be an integer", what);
      return FALSE;
    }
  v = json_node_get_int (node);
  if (v < min || v > G_MAXUINT32)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                   "%s is out of range (%" G_GINT64_FORMAT ")", what, v);
      return FALSE;
    }
  *out = (guint32) v;
  return TRUE;
}

/* [a, b] or [a, b, c] of non-negative integers */
static gboolean
json_tuple (JsonNode *node, const char *what, guint n, guint32 *out, GError **error)
{
  JsonArray *arr;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node) ||
      json_array_get_length (arr = json_node_get_array (node)) != n)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                   "%s must be an array of %u integers", what, n);
      return FALSE;
    }
  for (guint i = 0; i < n; i++)
    if (!json_u32 (json_array_get_element (arr, i), what, 0, &out[i], error))
      return FALSE;
  return TRUE;
}

static gboolean
json_optional_id (JsonObject *obj, const char *name, gboolean *has, PrdCrdtId *id, GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);
  guint32 t[2];

  *has = FALSE;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!json_tuple (node, name, 2, t, error))
    return FALSE;
  *has = TRUE;
  id->site = t[0];
  id->clock = t[1];
  return TRUE;
}

PrdCrdtOp *
prd_crdt_op_from_json (JsonNode *node, GError **error)
{
  g_autoptr (PrdCrdtOp) op = g_new0 (PrdCrdtOp, 1);
  JsonObject *obj;
  JsonNode *m;
  const char *type;
  guint32 id[2];

  g_return_val_if_fail (node != NULL, NULL);
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                           "Operation must be an object");
      return NULL;
    }
  obj = json_node_get_object (node);
  m = json_object_get_member (obj, "type");
  if (m == NULL || !JSON_NODE_HOLDS_VALUE (m) || json_node_get_value_type (m) != G_TYPE_STRING)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                           "Operation type must be a string");
      return NULL;
    }
  type = json_node_get_string (m);
  if (g_str_equal (type, "insert"))
    op->type = PRD_CRDT_OP_INSERT;
  else if (g_str_equal (type, "delete"))
    op->type = PRD_CRDT_OP_DELETE;
  else
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION, "Unknown operation type \"%s\"",
                   type);
      return NULL;
    }
  if (!json_u32 (json_object_get_member (obj, "position"), "position", 0, &op->position, error))
    return NULL;
  m = json_object_get_member (obj, "timestamp");
  if (m != NULL && !JSON_NODE_HOLDS_NULL (m))
    {
      if (!JSON_NODE_HOLDS_VALUE (m) || json_node_get_value_type (m) != G_TYPE_INT64)
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                               "timestamp must be an integer");
          return NULL;
        }
      op->timestamp = json_node_get_int (m);
    }
  if (!json_tuple (json_object_get_member (obj, "id"), "id", 2, id, error))
    return NULL;
  op->site = id[0];
  op->seq = id[1];

  if (op->type == PRD_CRDT_OP_INSERT)
    {
      m = json_object_get_member (obj, "content");
      if (m == NULL || !JSON_NODE_HOLDS_VALUE (m) || json_node_get_value_type (m) != G_TYPE_STRING)
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                               "content must be a string");
          return NULL;
        }
      op->content = g_strdup (json_node_get_string (m));
      op->length = prd_crdt_utf16_length (op->content, strlen (op->content));
      if (!json_u32 (json_object_get_member (obj, "clock"), "clock", 0, &op->clock, error) ||
          !json_optional_id (obj, "origin", &op->has_origin, &op->origin, error) ||
          !json_optional_id (obj, "rightOrigin", &op->has_right_origin, &op->right_origin, error))
        return NULL;
    }
  else
    {
      JsonArray *arr;
      guint64 total = 0;

      if (!json_u32 (json_object_get_member (obj, "length"), "length", 1, &op->length, error))
        return NULL;
      m = json_object_get_member (obj, "targets");
      if (m == NULL || !JSON_NODE_HOLDS_ARRAY (m) ||
          json_array_get_length (arr = json_node_get_array (m)) == 0)
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                               "targets must be a non-empty array");
          return NULL;
        }
      op->n_targets = json_array_get_length (arr);
      op->targets = g_new0 (PrdCrdtIdRange, op->n_targets);
      for (guint i = 0; i < op->n_targets; i++)
        {
          guint32 t[3];
          if (!json_tuple (json_array_get_element (arr, i), "targets entry", 3, t, error))
            return NULL;
          op->targets[i].site = t[0];
          op->targets[i].clock = t[1];
          op->targets[i].length = t[2];
          total += t[2];
        }
      if (total != op->length)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                       "length %u does not match the targets (%" G_GUINT64_FORMAT " characters)",
                       op->length, total);
          return NULL;
        }
    }
  if (!prd_crdt_op_validate (op, error))
    return NULL;
  return g_steal_pointer (&op);
}

JsonNode *
prd_crdt_vector_to_json (const guint32 *vector, gsize n_vector)
{
  JsonArray *arr = json_array_sized_new (n_vector);
  JsonNode *node = json_node_new (JSON_NODE_ARRAY);

  for (gsize i = 0; i < n_vector; i++)
    json_array_add_int_element (arr, vector[i]);
  json_node_take_array (node, arr);
  return node;
}

/**
 * prd_crdt_vector_write_json:
 * @out: where the text goes
 *
 * Appends the text of prd_crdt_vector_to_json(): `[1,2,3]`.
 */
void
prd_crdt_vector_write_json (const guint32 *vector, gsize n_vector, GString *out)
{
  g_return_if_fail (vector != NULL || n_vector == 0);
  g_return_if_fail (out != NULL);

  g_string_append_c (out, '[');
  for (gsize i = 0; i < n_vector; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      prd_json_write_int (out, vector[i]);
    }
  g_string_append_c (out, ']');
}

/**
 * prd_crdt_vector_from_json:
 * @node: a JSON array of integers ≥ 0, at most %PRD_CRDT_MAX_SITES
 *
 * Reads a state vector. Trailing zeros are not kept (a missing entry is 0):
 * what a client pads its vector with costs nothing past this read.
 *
 * Returns: (transfer full) (element-type guint32): the vector, without
 *   trailing zeros; %NULL with @error
 */
GArray *
prd_crdt_vector_from_json (JsonNode *node, GError **error)
{
  g_autoptr (GArray) v = NULL;
  JsonArray *arr;
  guint n, zeros = 0;

  g_return_val_if_fail (node != NULL, NULL);
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                           "stateVector must be an array");
      return NULL;
    }
  arr = json_node_get_array (node);
  n = json_array_get_length (arr);
  if (n > PRD_CRDT_MAX_SITES)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                   "stateVector has %u entries (at most %d)", n, PRD_CRDT_MAX_SITES);
      return NULL;
    }
  v = g_array_new (FALSE, TRUE, sizeof (guint32));
  for (guint i = 0; i < n; i++)
    {
      guint32 x;
      if (!json_u32 (json_array_get_element (arr, i), "stateVector entry", 0, &x, error))
        return NULL;
      /* Zeros are added only once a nonzero entry follows them. */
      if (x == 0)
        {
          zeros++;
          continue;
        }
      g_array_set_size (v, v->len + zeros);
      zeros = 0;
      g_array_append_val (v, x);
    }
  return g_steal_pointer (&v);
}

gboolean
prd_crdt_doc_apply_content_update (PrdCrdtDoc *doc,
                                   guint32 site,
                                   JsonNode *operation,
                                   JsonNode *state_vector,
                                   PrdCrdtOp **out_op,
                                   GError **error)
{
  g_autoptr (GArray) vector = NULL;
  JsonObject *obj;
  JsonNode *m;
  const char *type;
  guint32 position;
  gint64 timestamp = 0;

  g_return_val_if_fail (doc != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (operation == NULL || !JSON_NODE_HOLDS_OBJECT (operation))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                           "operation must be an object");
      return FALSE;
    }
  if (state_vector == NULL)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION, "stateVector is missing");
      return FALSE;
    }
  vector = prd_crdt_vector_from_json (state_vector, error);
  if (vector == NULL)
    return FALSE;
  if (site >= vector->len || g_array_index (vector, guint32, site) == 0)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                   "stateVector must count this operation in its own entry (site %u)", site);
      return FALSE;
    }
  /* the client sends the vector after its operation; it was made at the
   * vector before it */
  g_array_index (vector, guint32, site)--;

  obj = json_node_get_object (operation);
  m = json_object_get_member (obj, "type");
  if (m == NULL || !JSON_NODE_HOLDS_VALUE (m) || json_node_get_value_type (m) != G_TYPE_STRING)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                           "Operation type must be a string");
      return FALSE;
    }
  type = json_node_get_string (m);
  if (!json_u32 (json_object_get_member (obj, "position"), "position", 0, &position, error))
    return FALSE;
  m = json_object_get_member (obj, "timestamp");
  if (m != NULL && !JSON_NODE_HOLDS_NULL (m))
    {
      if (!JSON_NODE_HOLDS_VALUE (m) || json_node_get_value_type (m) != G_TYPE_INT64)
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                               "timestamp must be an integer");
          return FALSE;
        }
      timestamp = json_node_get_int (m);
    }
  if (g_str_equal (type, "insert"))
    {
      m = json_object_get_member (obj, "content");
      if (m == NULL || !JSON_NODE_HOLDS_VALUE (m) || json_node_get_value_type (m) != G_TYPE_STRING)
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                               "content must be a string");
          return FALSE;
        }
      return prd_crdt_doc_apply_local_insert (doc, site, (guint32 *) (void *) vector->data,
                                              vector->len, position, json_node_get_string (m), -1,
                                              timestamp, out_op, error);
    }
  if (g_str_equal (type, "delete"))
    {
      guint32 length;
      if (!json_u32 (json_object_get_member (obj, "length"), "length", 1, &length, error))
        return FALSE;
      return prd_crdt_doc_apply_local_delete (doc, site, (guint32 *) (void *) vector->data,
                                              vector->len, position, length, timestamp, out_op,
                                              error);
    }
  g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION, "Unknown operation type \"%s\"",
               type);
  return FALSE;
}
