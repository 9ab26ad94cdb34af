/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests of the core layer: documents (validation, committed view,
 * replay), rooms (colours, membership signals, presence anchors) and the
 * batching policy.
 */
#include "config.h"

#include <string.h>

#include "prd-batcher.h"
#include "prd-document.h"
#include "prd-error.h"
#include "prd-room.h"

static JsonNode *
json (const char *text)
{
  g_autoptr (GError) error = NULL;
  JsonNode *node = json_from_string (text, &error);

  g_assert_no_error (error);
  return node;
}

/* @op and @vector read into a PrdClientOperation, as the hub reads a
 * content-update without a tree; FALSE when they are not of the types that
 * reader takes (the tree path alone answers those). */
static gboolean
to_client_operation (JsonNode *op, JsonNode *vector, PrdClientOperation *out, GArray **out_vector)
{
  JsonObject *object;
  JsonArray *array;
  const char *type;

  memset (out, 0, sizeof *out);
  if (op == NULL || vector == NULL || !JSON_NODE_HOLDS_OBJECT (op) ||
      !JSON_NODE_HOLDS_ARRAY (vector))
    return FALSE;
  object = json_node_get_object (op);
  type = json_object_get_string_member_with_default (object, "type", "");
  if (!json_object_has_member (object, "position") ||
      json_node_get_value_type (json_object_get_member (object, "position")) != G_TYPE_INT64 ||
      json_object_get_int_member (object, "position") < 0 ||
      json_object_get_int_member (object, "position") > G_MAXUINT32)
    return FALSE;
  out->position = (guint32) json_object_get_int_member (object, "position");
  if (json_object_has_member (object, "timestamp") &&
      json_node_get_value_type (json_object_get_member (object, "timestamp")) != G_TYPE_INT64)
    return FALSE;
  out->timestamp = json_object_get_int_member_with_default (object, "timestamp", 0);
  out->insert = g_str_equal (type, "insert");
  if (out->insert)
    out->content = json_object_get_string_member_with_default (object, "content", NULL);
  else if (g_str_equal (type, "delete") && json_object_has_member (object, "length") &&
           json_object_get_int_member (object, "length") >= 0 &&
           json_object_get_int_member (object, "length") <= G_MAXUINT32)
    /* 0 is kept: the reader refuses it, the struct path must too */
    out->length = (guint32) json_object_get_int_member (object, "length");
  else
    return FALSE;
  if (out->insert && out->content == NULL)
    return FALSE;
  array = json_node_get_array (vector);
  *out_vector = g_array_new (FALSE, FALSE, sizeof (guint32));
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *entry = json_array_get_element (array, i);
      guint32 value;

      if (json_node_get_value_type (entry) != G_TYPE_INT64 || json_node_get_int (entry) < 0 ||
          json_node_get_int (entry) > G_MAXUINT32)
        {
          g_clear_pointer (out_vector, g_array_unref);
          return FALSE;
        }
      value = (guint32) json_node_get_int (entry);
      g_array_append_val (*out_vector, value);
    }
  return TRUE;
}

/* Applies a client operation given as JSON and asserts success. Every other
 * call goes through prd_document_apply_operation() when the operation reads
 * as a PrdClientOperation; either way the other path then finds it a
 * duplicate. */
static PrdCrdtOp *
apply (PrdDocument *doc, guint32 site, const char *op, const char *vector)
{
  static guint calls;
  g_autoptr (JsonNode) op_node = json (op);
  g_autoptr (JsonNode) vector_node = json (vector);
  g_autoptr (GArray) read_vector = NULL;
  g_autoptr (GError) error = NULL;
  PrdClientOperation read;
  gboolean duplicate = TRUE;
  gboolean readable = to_client_operation (op_node, vector_node, &read, &read_vector);
  gboolean read_first = readable && calls++ % 2 == 1;
  PrdCrdtOp *result;

  if (read_first)
    result =
        prd_document_apply_operation (doc, &read, (const guint32 *) read_vector->data,
                                      read_vector->len, site, "user", 1024, &duplicate, &error);
  else
    result = prd_document_apply_client_operation (doc, op_node, vector_node, site, "user", 1024,
                                                  &duplicate, &error);
  g_assert_no_error (error);
  g_assert_false (duplicate);
  g_assert_nonnull (result);

  if (readable)
    {
      if (read_first)
        g_assert_null (prd_document_apply_client_operation (doc, op_node, vector_node, site, "user",
                                                            1024, &duplicate, &error));
      else
        g_assert_null (prd_document_apply_operation (
            doc, &read, (const guint32 *) read_vector->data, read_vector->len, site, "user", 1024,
            &duplicate, &error));
      g_assert_no_error (error);
      g_assert_true (duplicate);
    }
  return result;
}

/* Refused with @code, changing nothing; through prd_document_apply_operation()
 * too, with the same error, when the operation reads as a PrdClientOperation. */
static void
refuse (PrdDocument *doc, guint32 site, const char *op, const char *vector, PrdErrorCode code)
{
  g_autoptr (JsonNode) op_node = op != NULL ? json (op) : NULL;
  g_autoptr (JsonNode) vector_node = vector != NULL ? json (vector) : NULL;
  g_autoptr (GArray) read_vector = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) read_error = NULL;
  g_autofree char *before = prd_crdt_doc_get_text (prd_document_get_crdt (doc));
  g_autofree char *after = NULL;
  PrdClientOperation read;
  gboolean duplicate = TRUE;
  PrdCrdtOp *result;

  result = prd_document_apply_client_operation (doc, op_node, vector_node, site, "user", 16,
                                                &duplicate, &error);
  g_assert_null (result);
  g_assert_false (duplicate);
  g_assert_error (error, PRD_ERROR, (int) code);
  if (to_client_operation (op_node, vector_node, &read, &read_vector))
    {
      duplicate = TRUE;
      g_assert_null (prd_document_apply_operation (doc, &read, (const guint32 *) read_vector->data,
                                                   read_vector->len, site, "user", 16, &duplicate,
                                                   &read_error));
      g_assert_false (duplicate);
      g_assert_error (read_error, PRD_ERROR, (int) code);
      g_assert_cmpstr (read_error->message, ==, error->message);
    }
  after = prd_crdt_doc_get_text (prd_document_get_crdt (doc));
  g_assert_cmpstr (before, ==, after);
}

static char *
committed_text (PrdDocument *doc)
{
  return prd_document_get_committed_text (doc);
}

static void
test_document_validation (void)
{
  g_autoptr (PrdDocument) doc = prd_document_new ("prd_t", "org", "T", NULL);
  g_autoptr (PrdCrdtOp) op = NULL;
  g_autoptr (JsonNode) dup_op = NULL;
  g_autoptr (JsonNode) dup_vector = NULL;
  g_autoptr (GError) error = NULL;
  gboolean duplicate = FALSE;

  g_assert_cmpstr (prd_document_get_version (doc), ==, "0.1.0");
  op = apply (doc, 1,
              "{\"type\":\"insert\",\"position\":0,\"content\":\"\xf0\x9f\x98\x80 ab\","
              "\"timestamp\":1706265030000}",
              "[0,1]");
  g_assert_cmpuint (op->site, ==, 1);
  g_assert_cmpuint (op->seq, ==, 1);
  g_assert_cmpint (op->timestamp, ==, 1706265030000);

  /* The same operation again is a duplicate, not an error. */
  dup_op = json ("{\"type\":\"insert\",\"position\":0,\"content\":\"\xf0\x9f\x98\x80 ab\"}");
  dup_vector = json ("[0,1]");
  g_assert_null (prd_document_apply_client_operation (doc, dup_op, dup_vector, 1, "user", 1024,
                                                      &duplicate, &error));
  g_assert_no_error (error);
  g_assert_true (duplicate);
  /* Another operation under a known id is refused. */
  refuse (doc, 1, "{\"type\":\"insert\",\"position\":0,\"content\":\"zz\"}", "[0,1]",
          PRD_ERROR_OPERATION_ID_REUSED);
  refuse (doc, 1, "{\"type\":\"insert\",\"position\":0,\"content\":\"\xf0\x9f\x98\x80 a\"}",
          "[0,1]", PRD_ERROR_OPERATION_ID_REUSED);
  refuse (doc, 1, "{\"type\":\"delete\",\"position\":0,\"length\":5}", "[0,1]",
          PRD_ERROR_OPERATION_ID_REUSED);
  refuse (doc, 1, "{\"type\":\"insert\",\"position\":0}", "[0,1]", PRD_ERROR_INVALID_PAYLOAD);

  refuse (doc, 1, NULL, "[0,2]", PRD_ERROR_INVALID_PAYLOAD);
  refuse (doc, 1, "[]", "[0,2]", PRD_ERROR_INVALID_PAYLOAD);
  refuse (doc, 1, "{\"type\":\"move\",\"position\":0}", "[0,2]", PRD_ERROR_INVALID_PAYLOAD);
  refuse (doc, 1, "{\"type\":\"insert\",\"position\":-1,\"content\":\"x\"}", "[0,2]",
          PRD_ERROR_INVALID_PAYLOAD);
  refuse (doc, 1, "{\"type\":\"insert\",\"position\":0.5,\"content\":\"x\"}", "[0,2]",
          PRD_ERROR_INVALID_PAYLOAD);
  refuse (doc, 1, "{\"type\":\"insert\",\"position\":0,\"content\":7}", "[0,2]",
          PRD_ERROR_INVALID_PAYLOAD);
  refuse (doc, 1, "{\"type\":\"insert\",\"position\":0,\"content\":\"\"}", "[0,2]",
          PRD_ERROR_INVALID_OPERATION);
  /* 17 UTF-16 units against a limit of 16 */
  refuse (doc, 1, "{\"type\":\"insert\",\"position\":0,\"content\":\"12345678901234567\"}", "[0,2]",
          PRD_ERROR_PAYLOAD_TOO_LARGE);
  /* 8 emoji are 16 units: accepted size-wise, but position 1 splits a pair */
  refuse (doc, 1, "{\"type\":\"insert\",\"position\":1,\"content\":\"x\"}", "[0,2]",
          PRD_ERROR_INVALID_OPERATION);
  refuse (doc, 1, "{\"type\":\"insert\",\"position\":99,\"content\":\"x\"}", "[0,2]",
          PRD_ERROR_INVALID_OPERATION);
  refuse (doc, 1, "{\"type\":\"delete\",\"position\":0,\"length\":0}", "[0,2]",
          PRD_ERROR_INVALID_PAYLOAD);
  refuse (doc, 1, "{\"type\":\"delete\",\"position\":0,\"length\":17}", "[0,2]",
          PRD_ERROR_PAYLOAD_TOO_LARGE);
  refuse (doc, 1, "{\"type\":\"delete\",\"position\":0,\"length\":9}", "[0,2]",
          PRD_ERROR_INVALID_OPERATION);
  refuse (doc, 1, "{\"type\":\"insert\",\"position\":0,\"content\":\"x\",\"timestamp\":\"now\"}",
          "[0,2]", PRD_ERROR_INVALID_PAYLOAD);
  /* vectors: missing, malformed, own entry absent, gap, another site ahead */
  refuse (doc, 1, "{\"type\":\"insert\",\"position\":0,\"content\":\"x\"}", NULL,
          PRD_ERROR_INVALID_PAYLOAD);
  refuse (doc, 1, "{\"type\":\"insert\",\"position\":0,\"content\":\"x\"}", "[\"1\"]",
          PRD_ERROR_INVALID_PAYLOAD);
  refuse (doc, 2, "{\"type\":\"insert\",\"position\":0,\"content\":\"x\"}", "[0,2]",
          PRD_ERROR_INVALID_OPERATION);
  refuse (doc, 1, "{\"type\":\"insert\",\"position\":0,\"content\":\"x\"}", "[0,3]",
          PRD_ERROR_INVALID_OPERATION);
  refuse (doc, 1, "{\"type\":\"insert\",\"position\":0,\"content\":\"x\"}", "[4,2]",
          PRD_ERROR_INVALID_OPERATION);
}

static void
test_document_committed_view (void)
{
  g_autoptr (PrdDocument) doc = prd_document_new ("prd_t", "org", "T", "1.2.0");
  g_autoptr (PrdCrdtOp) a = NULL;
  g_autoptr (PrdCrdtOp) b = NULL;
  g_autoptr (GArray) vector = NULL;
  g_autoptr (GPtrArray) missing = NULL;
  g_autoptr (JsonNode) empty = json ("[]");
  g_autoptr (JsonNode) ahead = json ("[0,0,5]");
  g_autofree char *text = NULL;
  gboolean full = TRUE;

  prd_document_set_site_owner (doc, 0, "alice");
  prd_document_set_site_owner (doc, 1, "bob");
  a = apply (doc, 0, "{\"type\":\"insert\",\"position\":0,\"content\":\"hello\",\"timestamp\":5}",
             "[1]");
  prd_document_commit (doc, 0, 1);
  b = apply (doc, 1, "{\"type\":\"insert\",\"position\":5,\"content\":\" world\"}", "[1,1]");
  g_assert_true (prd_document_has_uncommitted (doc));

  text = committed_text (doc);
  g_assert_cmpstr (text, ==, "hello");
  vector = prd_document_get_committed_vector (doc);
  g_assert_cmpuint (vector->len, ==, 1);
  missing = prd_document_get_missing (doc, empty, 0, &full, NULL);
  g_assert_false (full);
  g_assert_cmpuint (missing->len, ==, 1);
  g_clear_pointer (&missing, g_ptr_array_unref);

  prd_document_commit (doc, 1, 1);
  g_assert_false (prd_document_has_uncommitted (doc));
  g_clear_pointer (&text, g_free);
  text = committed_text (doc);
  g_assert_cmpstr (text, ==, "hello world");
  missing = prd_document_get_missing (doc, empty, 0, &full, NULL);
  g_assert_cmpuint (missing->len, ==, 2);
  {
    PrdDocumentUpdate *first = g_ptr_array_index (missing, 0);
    PrdDocumentUpdate *second = g_ptr_array_index (missing, 1);

    g_assert_cmpstr (first->user_id, ==, "alice");
    g_assert_cmpint (first->timestamp, ==, 5);
    g_assert_cmpstr (second->user_id, ==, "bob");
  }
  g_clear_pointer (&missing, g_ptr_array_unref);
  /* More missing than the caller lists: the full state instead. */
  missing = prd_document_get_missing (doc, empty, 2, &full, NULL);
  g_assert_false (full);
  g_assert_cmpuint (missing->len, ==, 2);
  g_clear_pointer (&missing, g_ptr_array_unref);
  missing = prd_document_get_missing (doc, empty, 1, &full, NULL);
  g_assert_true (full);
  g_assert_cmpuint (missing->len, ==, 0);
  g_clear_pointer (&missing, g_ptr_array_unref);
  missing = prd_document_get_missing (doc, ahead, 0, &full, NULL);
  g_assert_true (full);
  g_assert_cmpuint (missing->len, ==, 0);
}

/* An insert past the document's maximum length is refused LIMIT_REACHED and
 * changes nothing; a deletion makes room again. */
static void
test_document_max_length (void)
{
  g_autoptr (PrdDocument) doc = prd_document_new ("prd_t", "org", "T", NULL);
  g_autoptr (PrdCrdtOp) first = NULL;
  g_autoptr (PrdCrdtOp) removed = NULL;
  g_autoptr (PrdCrdtOp) refill = NULL;
  g_autoptr (JsonNode) op = json ("{\"type\":\"insert\",\"position\":8,\"content\":\"xyz\"}");
  g_autoptr (JsonNode) vector = json ("[1,1]");
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  gboolean duplicate = FALSE;

  prd_document_set_max_length (doc, 10);
  first = apply (doc, 0, "{\"type\":\"insert\",\"position\":0,\"content\":\"abcdefgh\"}", "[1]");
  g_assert_null (
      prd_document_apply_client_operation (doc, op, vector, 1, "user", 1024, &duplicate, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_LIMIT_REACHED);
  g_assert_nonnull (strstr (error->message, "max-document-size"));
  g_assert_false (duplicate);
  g_assert_cmpuint (prd_crdt_doc_get_site_ops (prd_document_get_crdt (doc), 1), ==, 0);
  text = prd_crdt_doc_get_text (prd_document_get_crdt (doc));
  g_assert_cmpstr (text, ==, "abcdefgh");
  removed = apply (doc, 1, "{\"type\":\"delete\",\"position\":0,\"length\":2}", "[1,1]");
  refill = apply (doc, 1, "{\"type\":\"insert\",\"position\":6,\"content\":\"xyzw\"}", "[1,2]");
  g_clear_pointer (&text, g_free);
  text = prd_crdt_doc_get_text (prd_document_get_crdt (doc));
  g_assert_cmpstr (text, ==, "cdefghxyzw");
}

/* A known operation id: the same operation again is a duplicate (acked, nothing
 * applied), another operation under it is OPERATION_ID_REUSED. */
static void
test_document_repeated_id (void)
{
  g_autoptr (PrdDocument) doc = prd_document_new ("prd_t", "org", "T", NULL);
  g_autoptr (PrdCrdtOp) insert = NULL;
  g_autoptr (PrdCrdtOp) delete = NULL;
  g_autoptr (PrdCrdtOp) other = NULL;
  g_autofree char *text = NULL;
  const char *resends[] = {
    "{\"type\":\"delete\",\"position\":1,\"length\":2}",
    /* the position is not part of the comparison */
    "{\"type\":\"delete\",\"position\":0,\"length\":2,\"timestamp\":5}",
  };

  insert = apply (doc, 1, "{\"type\":\"insert\",\"position\":0,\"content\":\"abcd\"}", "[0,1]");
  delete = apply (doc, 1, "{\"type\":\"delete\",\"position\":1,\"length\":2}", "[0,2]");
  other = apply (doc, 2, "{\"type\":\"insert\",\"position\":1,\"content\":\"X\"}", "[0,2,1]");
  for (guint i = 0; i < G_N_ELEMENTS (resends); i++)
    {
      g_autoptr (JsonNode) op_node = json (resends[i]);
      g_autoptr (JsonNode) vector_node = json ("[0,2]");
      g_autoptr (GError) error = NULL;
      gboolean duplicate = FALSE;

      g_assert_null (prd_document_apply_client_operation (doc, op_node, vector_node, 1, "user",
                                                          1024, &duplicate, &error));
      g_assert_no_error (error);
      g_assert_true (duplicate);
    }
  refuse (doc, 1, "{\"type\":\"delete\",\"position\":1,\"length\":1}", "[0,2]",
          PRD_ERROR_OPERATION_ID_REUSED);
  refuse (doc, 1, "{\"type\":\"insert\",\"position\":1,\"content\":\"bc\"}", "[0,2]",
          PRD_ERROR_OPERATION_ID_REUSED);
  refuse (doc, 1, "{\"type\":\"delete\",\"position\":0,\"length\":4}", "[0,1]",
          PRD_ERROR_OPERATION_ID_REUSED);
  refuse (doc, 2, "{\"type\":\"insert\",\"position\":2,\"content\":\"Y\"}", "[0,2,1]",
          PRD_ERROR_OPERATION_ID_REUSED);
  refuse (doc, 1, "{\"type\":\"delete\",\"position\":1}", "[0,2]", PRD_ERROR_INVALID_PAYLOAD);
  text = prd_crdt_doc_get_text (prd_document_get_crdt (doc));
  g_assert_cmpstr (text, ==, "aXd");
}

/* A stored insert holding U+FFFF is compared by its text like any other: only
 * a document decoded from a state that dropped the text of deleted
 * characters (which then reads as U+FFFF) compares those characters by
 * length, and only those. */
static void
test_document_repeated_id_ffff (void)
{
  g_autoptr (PrdDocument) doc = prd_document_new ("prd_t", "org", "T", NULL);
  g_autoptr (PrdDocument) lossy = prd_document_new ("prd_t", "org", "T", NULL);
  g_autoptr (PrdCrdtOp) insert = NULL;
  g_autoptr (PrdCrdtOp) delete = NULL;
  g_autoptr (PrdCrdtOp) kept = NULL;
  g_autoptr (GBytes) state = NULL;
  g_autoptr (GError) error = NULL;
  const char *resends[] = {
    "{\"type\":\"insert\",\"position\":0,\"content\":\"abc\"}",
    "{\"type\":\"insert\",\"position\":0,\"content\":\"abd\"}",
  };

  insert = apply (doc, 1, "{\"type\":\"insert\",\"position\":0,\"content\":\"abc\"}", "[0,1]");
  delete = apply (doc, 1, "{\"type\":\"delete\",\"position\":0,\"length\":3}", "[0,2]");
  kept =
      apply (doc, 1, "{\"type\":\"insert\",\"position\":0,\"content\":\"x\xef\xbf\xbf\"}", "[0,3]");
  /* Not lossy: a U+FFFF typed is text, and the same length is not the same. */
  refuse (doc, 1, "{\"type\":\"insert\",\"position\":0,\"content\":\"yz\"}", "[0,3]",
          PRD_ERROR_OPERATION_ID_REUSED);
  refuse (doc, 1, "{\"type\":\"insert\",\"position\":0,\"content\":\"x\xef\xbf\xbe\"}", "[0,3]",
          PRD_ERROR_OPERATION_ID_REUSED);

  state =
      prd_crdt_doc_encode_state (prd_document_get_crdt (doc), PRD_CRDT_ENCODE_DROP_DELETED_TEXT);
  g_assert_true (prd_document_load_state (lossy, state, &error));
  g_assert_no_error (error);
  g_assert_true (prd_crdt_doc_is_lossy (prd_document_get_crdt (lossy)));
  g_assert_false (prd_crdt_doc_is_lossy (prd_document_get_crdt (doc)));
  /* "abc" was deleted: its text is gone, any three units pass as it. */
  for (guint i = 0; i < G_N_ELEMENTS (resends); i++)
    {
      g_autoptr (JsonNode) op_node = json (resends[i]);
      g_autoptr (JsonNode) vector_node = json ("[0,1]");
      gboolean duplicate = FALSE;

      g_assert_null (prd_document_apply_client_operation (lossy, op_node, vector_node, 1, "user",
                                                          1024, &duplicate, &error));
      g_assert_no_error (error);
      g_assert_true (duplicate);
    }
  refuse (lossy, 1, "{\"type\":\"insert\",\"position\":0,\"content\":\"ab\"}", "[0,1]",
          PRD_ERROR_OPERATION_ID_REUSED);
  /* The visible U+FFFF kept its text, even in a lossy document. */
  refuse (lossy, 1, "{\"type\":\"insert\",\"position\":0,\"content\":\"yz\"}", "[0,3]",
          PRD_ERROR_OPERATION_ID_REUSED);
}

static void
test_document_replay (void)
{
  g_autoptr (PrdDocument) doc = prd_document_new ("prd_t", "org", "T", NULL);
  g_autoptr (PrdDocument) copy = prd_document_new ("prd_t", "org", "T", NULL);
  g_autoptr (PrdDocument) from_snapshot = prd_document_new ("prd_t", "org", "T", NULL);
  g_autoptr (GPtrArray) payloads = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr (GBytes) snapshot = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *got = NULL;
  g_autofree char *got2 = NULL;
  const char *ops[] = {
    "{\"type\":\"insert\",\"position\":0,\"content\":\"abc\"}",
    "{\"type\":\"insert\",\"position\":1,\"content\":\"XY\"}",
    "{\"type\":\"delete\",\"position\":0,\"length\":2}",
    "{\"type\":\"insert\",\"position\":3,\"content\":\"\xc3\xa9t\xc3\xa9\"}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (ops); i++)
    {
      g_autofree char *vector = g_strdup_printf ("[%u]", i + 1);
      g_autoptr (PrdCrdtOp) op = apply (doc, 0, ops[i], vector);

      g_ptr_array_add (payloads, prd_crdt_ops_encode (&op, 1));
      prd_document_commit (doc, 0, i + 1);
      if (i == 1)
        snapshot = prd_crdt_doc_encode_state (prd_document_get_crdt (doc), 0);
    }
  expected = prd_crdt_doc_get_text (prd_document_get_crdt (doc));
  g_assert_cmpstr (expected, ==, "Ybc\xc3\xa9t\xc3\xa9");

  for (guint i = 0; i < payloads->len; i++)
    g_assert_true (prd_document_replay (copy, g_ptr_array_index (payloads, i), "u", &error));
  g_assert_no_error (error);
  got = prd_crdt_doc_get_text (prd_document_get_crdt (copy));
  g_assert_cmpstr (got, ==, expected);
  g_assert_cmpstr (prd_document_get_site_owner (copy, 0), ==, "u");
  g_assert_true (prd_document_is_site_owner (copy, "u"));
  g_assert_false (prd_document_is_site_owner (copy, "v"));
  /* A site handed to someone else: the first owner owns nothing now. */
  prd_document_set_site_owner (copy, 1, "u");
  prd_document_set_site_owner (copy, 0, "v");
  g_assert_true (prd_document_is_site_owner (copy, "u"));
  prd_document_set_site_owner (copy, 1, "v");
  g_assert_false (prd_document_is_site_owner (copy, "u"));
  g_assert_true (prd_document_is_site_owner (copy, "v"));

  /* Snapshot after op 2, then the whole log (the store may keep older
   * updates until compaction): replay is idempotent. */
  g_assert_true (prd_document_load_state (from_snapshot, snapshot, &error));
  for (guint i = 0; i < payloads->len; i++)
    g_assert_true (
        prd_document_replay (from_snapshot, g_ptr_array_index (payloads, i), "u", &error));
  got2 = prd_document_get_committed_text (from_snapshot);
  g_assert_cmpstr (got2, ==, expected);

  {
    g_autoptr (GBytes) junk = g_bytes_new_static ("\x01\xff\xff", 3);

    g_assert_false (prd_document_replay (copy, junk, "u", &error));
    g_assert_nonnull (error);
  }
}

/* ---- rooms ---- */

typedef struct
{
  GPtrArray *joined;
  GPtrArray *left;
} Events;

static void
on_joined (PrdRoom *room, const char *user_id, Events *events)
{
  g_ptr_array_add (events->joined, g_strdup (user_id));
}

static void
on_left (PrdRoom *room, const char *user_id, const char *name, Events *events)
{
  g_ptr_array_add (events->left, g_strdup_printf ("%s/%s", user_id, name));
}

static void
test_room_colors (void)
{
  g_autoptr (PrdDocument) doc = prd_document_new ("prd_colors", "org", "T", NULL);
  g_autoptr (PrdRoom) room = prd_room_new (doc);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *first_color = NULL;
  gboolean has_violet = FALSE, has_pink = FALSE;

  for (guint i = 0; i < PRD_ROOM_N_COLORS; i++)
    {
      has_violet |= g_str_equal (prd_room_color_at (i), "#8B5CF6");
      has_pink |= g_str_equal (prd_room_color_at (i), "#EC4899");
      g_hash_table_add (seen, (gpointer) prd_room_color_at (i));
    }
  g_assert_true (has_violet && has_pink);
  g_assert_cmpuint (g_hash_table_size (seen), ==, PRD_ROOM_N_COLORS);
  g_hash_table_remove_all (seen);

  g_assert_cmpuint (prd_room_preferred_color ("prd_colors", "user_1"), ==,
                    prd_room_preferred_color ("prd_colors", "user_1"));

  /* Twelve users present: twelve distinct colours. */
  for (guint i = 0; i < PRD_ROOM_N_COLORS; i++)
    {
      g_autofree char *conn = g_strdup_printf ("c%u", i);
      g_autofree char *user = g_strdup_printf ("user_%u", i);

      prd_room_add_member (room, conn, user, user, NULL, TRUE, (int) i);
      g_hash_table_add (seen, (gpointer) prd_room_get_user_color (room, user));
    }
  g_assert_cmpuint (g_hash_table_size (seen), ==, PRD_ROOM_N_COLORS);

  /* Stable: alone again, user_5 gets its preferred colour every time. */
  first_color = g_strdup (prd_room_get_user_color (room, "user_5"));
  for (guint i = 0; i < PRD_ROOM_N_COLORS; i++)
    {
      g_autofree char *conn = g_strdup_printf ("c%u", i);

      prd_room_remove_member (room, conn);
    }
  prd_room_add_member (room, "again", "user_5", "u5", NULL, FALSE, -1);
  g_assert_cmpstr (prd_room_get_user_color (room, "user_5"), ==,
                   prd_room_color_at (prd_room_preferred_color ("prd_colors", "user_5")));
  prd_room_remove_member (room, "again");
  prd_room_add_member (room, "again2", "user_5", "u5", NULL, FALSE, -1);
  g_assert_cmpstr (prd_room_get_user_color (room, "user_5"), ==,
                   prd_room_color_at (prd_room_preferred_color ("prd_colors", "user_5")));
}

static void
test_room_membership (void)
{
  g_autoptr (PrdDocument) doc = prd_document_new ("prd_m", "org", "T", NULL);
  g_autoptr (PrdRoom) room = prd_room_new (doc);
  g_autoptr (JsonNode) users = NULL;
  g_autoptr (GArray) busy = NULL;
  Events events = { g_ptr_array_new_with_free_func (g_free),
                    g_ptr_array_new_with_free_func (g_free) };

  g_signal_connect (room, "user-joined", G_CALLBACK (on_joined), &events);
  g_signal_connect (room, "user-left", G_CALLBACK (on_left), &events);

  g_assert_true (prd_room_add_member (room, "tab1", "ann", "Ann", "https://a", TRUE, 3));
  g_assert_false (prd_room_add_member (room, "tab2", "ann", "Ann", "https://a", TRUE, 4));
  g_assert_true (prd_room_add_member (room, "v1", "vic", "Vic", NULL, FALSE, -1));
  g_assert_cmpuint (events.joined->len, ==, 2);
  g_assert_cmpuint (prd_room_get_n_members (room), ==, 3);
  g_assert_cmpuint (prd_room_get_n_users (room), ==, 2);
  g_assert_true (prd_room_site_is_held (room, 4));
  g_assert_false (prd_room_site_is_held (room, 5));
  g_assert_true (prd_room_member_can_edit (room, "tab1"));
  g_assert_false (prd_room_member_can_edit (room, "v1"));
  busy = prd_room_get_busy_sites (room);
  g_assert_cmpuint (busy->len, ==, 2);

  users = prd_room_build_active_users (room);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (users)), ==, 2);
  {
    JsonObject *ann = json_array_get_object_element (json_node_get_array (users), 0);

    g_assert_cmpstr (json_object_get_string_member (ann, "userId"), ==, "ann");
    g_assert_cmpstr (json_object_get_string_member (ann, "status"), ==, "viewing");
    g_assert_cmpint (json_object_get_int_member (ann, "siteId"), ==, 3);
  }

  prd_room_remove_member (room, "tab1");
  g_assert_cmpuint (events.left->len, ==, 0);
  g_assert_false (prd_room_remove_member (room, "tab1"));
  prd_room_remove_member (room, "tab2");
  g_assert_cmpuint (events.left->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (events.left, 0), ==, "ann/Ann");
  prd_room_remove_member (room, "v1");
  g_assert_cmpuint (prd_room_get_n_members (room), ==, 0);
  g_assert_cmpuint (events.left->len, ==, 2);

  g_ptr_array_unref (events.joined);
  g_ptr_array_unref (events.left);
}

/* apply(), then committed, as the hub does once the store has it. */
static PrdCrdtOp *
apply_committed (PrdDocument *doc, guint32 site, const char *op, const char *vector)
{
  PrdCrdtOp *result = apply (doc, site, op, vector);

  prd_document_commit (doc, result->site, result->seq);
  return result;
}

static void
assert_presence (PrdRoom *room, const char *conn, int cursor, int start, int end)
{
  g_autoptr (JsonNode) node = prd_room_build_presence (room, conn);
  JsonObject *object = json_node_get_object (node);
  JsonObject *selection = json_object_get_object_member (object, "selection");

  g_assert_cmpint (json_object_get_int_member (object, "cursorPosition"), ==, cursor);
  g_assert_cmpint (json_object_get_int_member (selection, "start"), ==, start);
  g_assert_cmpint (json_object_get_int_member (selection, "end"), ==, end);
}

static void
test_room_presence_anchors (void)
{
  g_autoptr (PrdDocument) doc = prd_document_new ("prd_p", "org", "T", NULL);
  g_autoptr (PrdRoom) room = prd_room_new (doc);
  g_autoptr (PrdCrdtOp) op1 = NULL;
  g_autoptr (PrdCrdtOp) op2 = NULL;
  g_autoptr (PrdCrdtOp) op3 = NULL;
  g_autoptr (JsonNode) presence =
      json ("{\"prdId\":\"prd_p\",\"status\":\"editing\",\"cursorPosition\":6,"
            "\"selection\":{\"start\":6,\"end\":11}}");
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (GError) error = NULL;

  op1 = apply_committed (doc, 0, "{\"type\":\"insert\",\"position\":0,\"content\":\"hello world\"}",
                         "[1]");
  prd_room_add_member (room, "c", "ann", "Ann", NULL, TRUE, 1);
  g_assert_true (prd_room_update_presence (room, "c", json_node_get_object (presence), &error));
  g_assert_no_error (error);
  assert_presence (room, "c", 6, 6, 11);

  /* Someone else types before the cursor: everything moves right. */
  op2 = apply_committed (doc, 2, "{\"type\":\"insert\",\"position\":0,\"content\":\">> \"}",
                         "[1,0,1]");
  assert_presence (room, "c", 9, 9, 14);
  /* … and deletes "hello ": the anchors follow the text left. */
  op3 = apply_committed (doc, 2, "{\"type\":\"delete\",\"position\":3,\"length\":6}", "[1,0,2]");
  assert_presence (room, "c", 3, 3, 8);

  node = prd_room_build_presence (room, "c");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (node), "status"), ==,
                   "editing");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (node), "userName"), ==,
                   "Ann");
  g_assert_null (prd_room_build_presence (room, "nobody"));
}

static void
test_room_presence_invalid (void)
{
  g_autoptr (PrdDocument) doc = prd_document_new ("prd_p", "org", "T", NULL);
  g_autoptr (PrdRoom) room = prd_room_new (doc);
  g_autoptr (PrdCrdtOp) op = NULL;
  const char *bad[] = {
    "{\"status\":\"sleeping\"}",
    "{\"cursorPosition\":1}",
    "{\"status\":\"editing\",\"cursorPosition\":-1}",
    "{\"status\":\"editing\",\"cursorPosition\":\"1\"}",
    "{\"status\":\"editing\",\"selection\":{\"start\":4,\"end\":1}}",
    "{\"status\":\"editing\",\"selection\":{\"start\":1}}",
    "{\"status\":\"editing\",\"selection\":[1,2]}",
  };
  g_autoptr (JsonNode) good = json ("{\"status\":\"ai-prompting\",\"cursorPosition\":2}");
  g_autoptr (JsonNode) far = json ("{\"status\":\"viewing\",\"cursorPosition\":1000}");
  g_autoptr (GError) error = NULL;

  op = apply_committed (
      doc, 0, "{\"type\":\"insert\",\"position\":0,\"content\":\"\xf0\x9f\x98\x80x\"}", "[1]");
  prd_room_add_member (room, "c", "ann", "Ann", NULL, TRUE, 1);
  g_assert_true (prd_room_update_presence (room, "c", json_node_get_object (good), &error));
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (JsonNode) node = json (bad[i]);
      g_autoptr (JsonNode) after = NULL;
      g_autoptr (GError) local_error = NULL;

      g_assert_false (
          prd_room_update_presence (room, "c", json_node_get_object (node), &local_error));
      g_assert_error (local_error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
      after = prd_room_build_presence (room, "c");
      g_assert_cmpstr (json_object_get_string_member (json_node_get_object (after), "status"), ==,
                       "ai-prompting");
      g_assert_cmpint (json_object_get_int_member (json_node_get_object (after), "cursorPosition"),
                       ==, 2);
    }
  g_assert_false (prd_room_update_presence (room, "nobody", json_node_get_object (good), &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_NOT_JOINED);
  g_clear_error (&error);
  /* A caret past the end (a client a few operations behind) is clamped. */
  g_assert_true (prd_room_update_presence (room, "c", json_node_get_object (far), &error));
  {
    g_autoptr (JsonNode) after = prd_room_build_presence (room, "c");

    g_assert_cmpint (json_object_get_int_member (json_node_get_object (after), "cursorPosition"),
                     ==, 3);
  }
  /* So is one between the two halves of the hub's surrogate pair: the
   * caret goes before the pair. */
  {
    g_autoptr (JsonNode) split = json ("{\"status\":\"editing\",\"cursorPosition\":1,"
                                       "\"selection\":{\"start\":1,\"end\":3}}");
    g_autoptr (JsonNode) after = NULL;
    JsonObject *selection;

    g_assert_true (prd_room_update_presence (room, "c", json_node_get_object (split), &error));
    g_assert_no_error (error);
    after = prd_room_build_presence (room, "c");
    g_assert_cmpint (json_object_get_int_member (json_node_get_object (after), "cursorPosition"),
                     ==, 0);
    selection = json_object_get_object_member (json_node_get_object (after), "selection");
    g_assert_cmpint (json_object_get_int_member (selection, "start"), ==, 0);
    g_assert_cmpint (json_object_get_int_member (selection, "end"), ==, 3);
  }
}

static const char *
active_status (PrdRoom *room, const char *user_id)
{
  g_autoptr (JsonNode) users = prd_room_build_active_users (room);
  JsonArray *array = json_node_get_array (users);
  static char status[16];

  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *user = json_array_get_object_element (array, i);

      if (g_str_equal (json_object_get_string_member (user, "userId"), user_id))
        {
          g_strlcpy (status, json_object_get_string_member (user, "status"), sizeof status);
          return status;
        }
    }
  return NULL;
}

/* Presence is per connection: a user is shown with the presence of the
 * connection that changed last, and what one connection set (the hub's
 * "ai-prompting" for the tab that asked the AI) leaves with it. */
static void
test_room_presence_per_connection (void)
{
  g_autoptr (PrdDocument) doc = prd_document_new ("prd_p", "org", "T", NULL);
  g_autoptr (PrdRoom) room = prd_room_new (doc);
  g_autoptr (PrdCrdtOp) op = NULL;
  g_autoptr (JsonNode) editing = json ("{\"status\":\"editing\",\"cursorPosition\":3}");
  g_autoptr (JsonNode) viewing = json ("{\"status\":\"viewing\",\"cursorPosition\":8}");
  g_autoptr (GError) error = NULL;

  op = apply_committed (doc, 0, "{\"type\":\"insert\",\"position\":0,\"content\":\"hello world\"}",
                        "[1]");
  prd_room_add_member (room, "tab1", "ann", "Ann", NULL, TRUE, 1);
  prd_room_add_member (room, "tab2", "ann", "Ann", NULL, TRUE, 2);
  prd_room_add_member (room, "v1", "vic", "Vic", NULL, FALSE, -1);
  g_assert_cmpstr (active_status (room, "ann"), ==, "viewing");

  g_assert_true (prd_room_update_presence (room, "tab1", json_node_get_object (editing), &error));
  g_assert_true (prd_room_update_presence (room, "tab2", json_node_get_object (viewing), &error));
  g_assert_no_error (error);
  g_assert_cmpstr (prd_room_member_get_status (room, "tab1"), ==, "editing");
  g_assert_cmpstr (prd_room_member_get_status (room, "tab2"), ==, "viewing");
  /* Two changes in the same millisecond still have an order. */
  g_assert_cmpstr (prd_room_get_latest_member (room, "ann"), ==, "tab2");
  g_assert_cmpstr (active_status (room, "ann"), ==, "viewing");

  /* The tab that changed last leaves: the user is the remaining one. */
  prd_room_remove_member (room, "tab2");
  g_assert_cmpstr (prd_room_get_latest_member (room, "ann"), ==, "tab1");
  {
    g_autoptr (JsonNode) node = prd_room_build_presence (room, "tab1");
    JsonObject *object = json_node_get_object (node);

    g_assert_cmpstr (json_object_get_string_member (object, "status"), ==, "editing");
    g_assert_cmpint (json_object_get_int_member (object, "cursorPosition"), ==, 3);
  }
  g_assert_cmpstr (active_status (room, "ann"), ==, "editing");

  /* A tab that joined and never changed is not the one the user is shown with. */
  prd_room_add_member (room, "tab3", "ann", "Ann", NULL, TRUE, 3);
  g_assert_cmpstr (prd_room_get_latest_member (room, "ann"), ==, "tab1");
  g_assert_cmpstr (active_status (room, "ann"), ==, "editing");

  /* The hub's status for one tab (an AI job it asked for) ends with it. */
  g_assert_true (prd_room_set_status (room, "tab3", "ai-prompting"));
  g_assert_cmpstr (active_status (room, "ann"), ==, "ai-prompting");
  g_assert_cmpstr (prd_room_member_get_status (room, "tab1"), ==, "editing");
  prd_room_remove_member (room, "tab3");
  g_assert_false (prd_room_set_status (room, "tab3", "editing"));
  g_assert_cmpstr (active_status (room, "ann"), ==, "editing");
  g_assert_cmpstr (prd_room_member_get_status (room, "tab1"), ==, "editing");
  g_assert_cmpstr (active_status (room, "vic"), ==, "viewing");
  /* … and, while the tab stays, with what it sets next. */
  prd_room_add_member (room, "tab4", "ann", "Ann", NULL, TRUE, 4);
  g_assert_true (prd_room_set_status (room, "tab4", "ai-prompting"));
  g_assert_true (prd_room_set_status (room, "tab4", "editing"));
  g_assert_cmpstr (active_status (room, "ann"), ==, "editing");
  g_assert_cmpstr (prd_room_get_latest_member (room, "ann"), ==, "tab4");
}

/* Positions are those of the text the room has been sent: an operation
 * that is integrated but not committed yet (not broadcast) moves nothing
 * until it is, except for the member who made it, whose text has it. */
static void
test_room_presence_committed (void)
{
  g_autoptr (PrdDocument) doc = prd_document_new ("prd_p", "org", "T", NULL);
  g_autoptr (PrdRoom) room = prd_room_new (doc);
  g_autoptr (PrdCrdtOp) op1 = NULL;
  g_autoptr (PrdCrdtOp) op2 = NULL;
  g_autoptr (PrdCrdtOp) op3 = NULL;
  g_autoptr (JsonNode) presence =
      json ("{\"status\":\"editing\",\"cursorPosition\":6,\"selection\":{\"start\":6,\"end\":11}}");
  g_autoptr (JsonNode) far = json ("{\"status\":\"editing\",\"cursorPosition\":1000}");
  g_autoptr (JsonNode) own = json ("{\"status\":\"editing\",\"cursorPosition\":1}");
  g_autoptr (GError) error = NULL;

  op1 = apply_committed (doc, 0, "{\"type\":\"insert\",\"position\":0,\"content\":\"hello world\"}",
                         "[1]");
  prd_room_add_member (room, "c", "ann", "Ann", NULL, TRUE, 1);
  prd_room_add_member (room, "v", "bob", "Bob", NULL, FALSE, -1);

  /* Someone else's insert before the cursor, not committed yet: the
   * cursor is read and relayed in the text without it. */
  op2 = apply (doc, 2, "{\"type\":\"insert\",\"position\":0,\"content\":\">> \"}", "[1,0,1]");
  g_assert_true (prd_room_update_presence (room, "c", json_node_get_object (presence), &error));
  g_assert_no_error (error);
  assert_presence (room, "c", 6, 6, 11);
  /* Past the end is the end of that text, not of the hub's. */
  g_assert_true (prd_room_update_presence (room, "v", json_node_get_object (far), &error));
  {
    g_autoptr (JsonNode) node = prd_room_build_presence (room, "v");

    g_assert_cmpint (json_object_get_int_member (json_node_get_object (node), "cursorPosition"), ==,
                     11);
  }
  /* Committed (and broadcast): it moves them. */
  prd_document_commit (doc, op2->site, op2->seq);
  assert_presence (room, "c", 9, 9, 14);

  /* The member's own insert is in its text before it is committed: its
   * caret after it is tied to it, and relayed where it goes until then. */
  op3 = apply (doc, 1, "{\"type\":\"insert\",\"position\":0,\"content\":\"X\"}", "[1,1,1]");
  g_assert_true (prd_room_update_presence (room, "c", json_node_get_object (own), &error));
  g_assert_no_error (error);
  {
    g_autoptr (JsonNode) node = prd_room_build_presence (room, "c");

    g_assert_cmpint (json_object_get_int_member (json_node_get_object (node), "cursorPosition"), ==,
                     0);
  }
  prd_document_commit (doc, op3->site, op3->seq);
  {
    g_autoptr (JsonNode) node = prd_room_build_presence (room, "c");

    g_assert_cmpint (json_object_get_int_member (json_node_get_object (node), "cursorPosition"), ==,
                     1);
  }
  g_assert_false (prd_document_has_uncommitted (doc));
}

/* ---- batcher ---- */

typedef struct
{
  guint n_flushes;
  GPtrArray *last; /* (element-type JsonNode): the payloads of the last flush */
  char *batch_id;
} Flushes;

static void
on_flush (PrdBatcher *batcher, GPtrArray *items, const char *batch_id, Flushes *flushes)
{
  flushes->n_flushes++;
  g_clear_pointer (&flushes->last, g_ptr_array_unref);
  flushes->last = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  for (guint i = 0; i < items->len; i++)
    {
      PrdBatchItem *item = g_ptr_array_index (items, i);

      g_ptr_array_add (flushes->last, json_node_ref (item->payload));
    }
  g_free (flushes->batch_id);
  flushes->batch_id = g_strdup (batch_id);
}

static void
test_batcher (void)
{
  g_autoptr (PrdBatcher) never = prd_batcher_new (0, 50);
  g_autoptr (PrdBatcher) batcher = prd_batcher_new (3, 50);
  Flushes flushes = { 0 };
  gint64 t = 10 * G_USEC_PER_SEC;
  const char *payloads[] = { "1", "2", "3", "4", "5", "6", "7" };

  /* Threshold 0: never batches, whatever the rate. */
  for (guint i = 0; i < 1000; i++)
    {
      g_autoptr (JsonNode) p = json ("1");

      g_assert_true (prd_batcher_submit (never, "presence-update", "c", "u", p, t));
    }
  g_assert_false (prd_batcher_is_batching (never));
  g_assert_cmpuint (prd_batcher_get_rate (never, t), ==, 1000);

  g_signal_connect (batcher, "flush", G_CALLBACK (on_flush), &flushes);
  /* Up to the threshold: one by one. */
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr (JsonNode) p = json (payloads[i]);

      g_assert_true (prd_batcher_submit (batcher, "content-update", "c", NULL, p, t));
    }
  g_assert_false (prd_batcher_is_batching (batcher));
  /* Past it: queued. Presence coalesces per key, content keeps order. */
  {
    g_autoptr (JsonNode) c4 = json ("4");
    g_autoptr (JsonNode) pa = json ("\"a1\"");
    g_autoptr (JsonNode) c5 = json ("5");
    g_autoptr (JsonNode) pb = json ("\"b1\"");
    g_autoptr (JsonNode) pa2 = json ("\"a2\"");

    g_assert_false (prd_batcher_submit (batcher, "content-update", "c", NULL, c4, t));
    g_assert_true (prd_batcher_is_batching (batcher));
    g_assert_false (prd_batcher_submit (batcher, "presence-update", "ca", "a", pa, t));
    g_assert_false (prd_batcher_submit (batcher, "content-update", "c", NULL, c5, t));
    g_assert_false (prd_batcher_submit (batcher, "presence-update", "cb", "b", pb, t));
    g_assert_false (prd_batcher_submit (batcher, "presence-update", "ca", "a", pa2, t));
  }
  g_assert_cmpuint (prd_batcher_get_n_queued (batcher), ==, 4);
  prd_batcher_flush (batcher, t);
  g_assert_cmpuint (flushes.n_flushes, ==, 1);
  g_assert_nonnull (flushes.batch_id);
  g_assert_cmpuint (flushes.last->len, ==, 4);
  g_assert_cmpint (json_node_get_int (g_ptr_array_index (flushes.last, 0)), ==, 4);
  g_assert_cmpint (json_node_get_int (g_ptr_array_index (flushes.last, 1)), ==, 5);
  g_assert_cmpstr (json_node_get_string (g_ptr_array_index (flushes.last, 2)), ==, "b1");
  g_assert_cmpstr (json_node_get_string (g_ptr_array_index (flushes.last, 3)), ==, "a2");
  /* Still above the threshold within the same second: still batching. */
  g_assert_true (prd_batcher_is_batching (batcher));
  /* An empty flush sends nothing. */
  prd_batcher_flush (batcher, t);
  g_assert_cmpuint (flushes.n_flushes, ==, 1);

  /* Two seconds later the rate is 0: back to one by one. */
  t += 2 * G_USEC_PER_SEC;
  prd_batcher_flush (batcher, t);
  g_assert_false (prd_batcher_is_batching (batcher));
  g_assert_cmpuint (prd_batcher_get_rate (batcher, t), ==, 0);
  {
    g_autoptr (JsonNode) p = json ("6");

    g_assert_true (prd_batcher_submit (batcher, "content-update", "c", NULL, p, t));
  }
  g_signal_handlers_disconnect_by_data (batcher, &flushes);
  g_clear_pointer (&flushes.last, g_ptr_array_unref);
  g_free (flushes.batch_id);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/prd/core/document/validation", test_document_validation);
  g_test_add_func ("/prd/core/document/committed-view", test_document_committed_view);
  g_test_add_func ("/prd/core/document/replay", test_document_replay);
  g_test_add_func ("/prd/core/document/repeated-id", test_document_repeated_id);
  g_test_add_func ("/prd/core/document/repeated-id-ffff", test_document_repeated_id_ffff);
  g_test_add_func ("/prd/core/document/max-length", test_document_max_length);
  g_test_add_func ("/prd/core/room/colors", test_room_colors);
  g_test_add_func ("/prd/core/room/membership", test_room_membership);
  g_test_add_func ("/prd/core/room/presence-anchors", test_room_presence_anchors);
  g_test_add_func ("/prd/core/room/presence-invalid", test_room_presence_invalid);
  g_test_add_func ("/prd/core/room/presence-committed", test_room_presence_committed);
  g_test_add_func ("/prd/core/room/presence-per-connection", test_room_presence_per_connection);
  g_test_add_func ("/prd/core/batcher", test_batcher);

  return g_test_run ();
}
