/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-test"

#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <zlib.h>
#include <json-glib/json-glib.h>

#include "prd-error.h"
#include "prd-crdt.h"
#include "prd-json.h"
#include "prd-test-text.h"

/* A document with some history from several sites. */
static PrdCrdtDoc *
make_doc (guint32 seed, guint n_ops)
{
  PrdCrdtDoc *doc = prd_crdt_doc_new ();
  GRand *rand = g_rand_new_with_seed (seed);
  static const char *const words[] = { "alpha ", "b", "\xf0\x9f\x98\x80", "\xc3\xa9t\xc3\xa9 ",
                                       "x" };

  for (guint i = 0; i < n_ops; i++)
    {
      g_autoptr (GArray) v = prd_crdt_doc_get_state_vector (doc);
      guint32 site = g_rand_int_range (rand, 0, 4);
      guint32 len = prd_crdt_doc_get_length (doc);
      guint32 pos = g_rand_int_range (rand, 0, len + 1);
      g_autoptr (GError) error = NULL;

      if (len > 0 && pos < len && g_rand_int_range (rand, 0, 3) == 0)
        prd_crdt_doc_apply_local_delete (doc, site, (guint32 *) (void *) v->data, v->len, pos,
                                         MIN (len - pos, (guint32) g_rand_int_range (rand, 1, 5)),
                                         0, NULL, &error);
      else
        prd_crdt_doc_apply_local_insert (doc, site, (guint32 *) (void *) v->data, v->len, pos,
                                         words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))],
                                         -1, 0, NULL, &error);
      /* a position inside a surrogate pair is refused, nothing else */
      if (error)
        g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
    }
  g_rand_free (rand);
  return doc;
}

static void
assert_same_op (const PrdCrdtOp *a, const PrdCrdtOp *b)
{
  g_assert_cmpint (a->type, ==, b->type);
  g_assert_cmpuint (a->site, ==, b->site);
  g_assert_cmpuint (a->seq, ==, b->seq);
  g_assert_cmpuint (a->position, ==, b->position);
  g_assert_cmpuint (a->length, ==, b->length);
  g_assert_cmpint (a->timestamp, ==, b->timestamp);
  if (a->type == PRD_CRDT_OP_INSERT)
    {
      g_assert_cmpstr (a->content, ==, b->content);
      g_assert_cmpuint (a->clock, ==, b->clock);
      g_assert_cmpint (a->has_origin, ==, b->has_origin);
      g_assert_cmpint (a->has_right_origin, ==, b->has_right_origin);
      g_assert_cmpmem (&a->origin, sizeof a->origin, &b->origin, sizeof b->origin);
      g_assert_cmpmem (&a->right_origin, sizeof a->right_origin, &b->right_origin,
                       sizeof b->right_origin);
    }
  else
    g_assert_cmpmem (a->targets, a->n_targets * sizeof (PrdCrdtIdRange), b->targets,
                     b->n_targets * sizeof (PrdCrdtIdRange));
}

static void
test_op_round_trip (void)
{
  g_autoptr (PrdCrdtDoc) doc = make_doc (7, 200);
  g_autoptr (GPtrArray) ops = NULL;
  g_autoptr (GBytes) all = NULL;
  g_autoptr (GPtrArray) back = NULL;
  g_autoptr (GError) error = NULL;

  ops = prd_crdt_doc_get_missing_ops (doc, NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ops->len, >, 100);
  for (guint i = 0; i < ops->len; i++)
    {
      PrdCrdtOp *op = ops->pdata[i];
      g_autoptr (GBytes) b = NULL;
      g_autoptr (PrdCrdtOp) dec = NULL;
      g_autoptr (JsonNode) json = NULL;
      g_autoptr (PrdCrdtOp) from_json = NULL;
      g_autofree char *str = NULL;

      op->timestamp = 1706265030000 + i;
      b = prd_crdt_op_encode (op);
      dec = prd_crdt_op_decode (g_bytes_get_data (b, NULL), g_bytes_get_size (b), &error);
      g_assert_no_error (error);
      assert_same_op (op, dec);

      json = prd_crdt_op_to_json (op);
      str = json_to_string (json, FALSE);
      from_json = prd_crdt_op_from_json (json, &error);
      g_assert_no_error (error);
      assert_same_op (op, from_json);
    }
  all = prd_crdt_ops_encode ((PrdCrdtOp **) ops->pdata, ops->len);
  back = prd_crdt_ops_decode (g_bytes_get_data (all, NULL), g_bytes_get_size (all), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (back->len, ==, ops->len);
  for (guint i = 0; i < ops->len; i++)
    assert_same_op (ops->pdata[i], back->pdata[i]);

  /* and a fresh replica built from them has the same text */
  {
    g_autoptr (PrdCrdtDoc) copy = prd_crdt_doc_new ();
    g_autofree char *a = prd_crdt_doc_get_text (doc);
    g_autofree char *b = NULL;
    for (guint i = 0; i < back->len; i++)
      g_assert_true (prd_crdt_doc_apply_remote (copy, back->pdata[i], NULL, &error));
    b = prd_crdt_doc_get_text (copy);
    g_assert_cmpstr (a, ==, b);
  }
}

static void
test_json_shape (void)
{
  g_autoptr (PrdCrdtDoc) doc = prd_crdt_doc_new ();
  g_autoptr (PrdCrdtOp) ins = NULL;
  g_autoptr (PrdCrdtOp) del = NULL;
  g_autoptr (JsonNode) a = NULL;
  g_autoptr (JsonNode) b = NULL;
  g_autofree char *sa = NULL;
  g_autofree char *sb = NULL;
  guint32 v0[] = { 0, 0 }, v1[] = { 0, 1 };

  g_assert_true (
      prd_crdt_doc_apply_local_insert (doc, 1, v0, 2, 0, "hey", -1, 1706265030000, &ins, NULL));
  g_assert_true (prd_crdt_doc_apply_local_delete (doc, 1, v1, 2, 1, 2, 5, &del, NULL));
  a = prd_crdt_op_to_json (ins);
  b = prd_crdt_op_to_json (del);
  sa = json_to_string (a, FALSE);
  sb = json_to_string (b, FALSE);
  g_assert_cmpstr (
      sa, ==,
      "{\"type\":\"insert\",\"position\":0,\"content\":\"hey\",\"timestamp\":1706265030000,"
      "\"id\":[1,1],\"clock\":0,\"origin\":null,\"rightOrigin\":null}");
  g_assert_cmpstr (sb, ==,
                   "{\"type\":\"delete\",\"position\":1,\"length\":2,\"timestamp\":5,\"id\":[1,2],"
                   "\"targets\":[[1,1,2]]}");
}

static void
test_json_invalid (void)
{
  static const char *const bad[] = {
    "[]",
    "{}",
    "{\"type\":\"move\",\"position\":0,\"id\":[0,1]}",
    "{\"type\":7,\"position\":0,\"id\":[0,1]}",
    "{\"type\":\"insert\",\"position\":-1,\"content\":\"a\",\"id\":[0,1],\"clock\":0}",
    "{\"type\":\"insert\",\"position\":1.5,\"content\":\"a\",\"id\":[0,1],\"clock\":0}",
    "{\"type\":\"insert\",\"position\":0,\"content\":\"a\",\"id\":[0],\"clock\":0}",
    "{\"type\":\"insert\",\"position\":0,\"content\":\"a\",\"id\":[0,0],\"clock\":0}",
    "{\"type\":\"insert\",\"position\":0,\"content\":\"a\",\"id\":[70000,1],\"clock\":0}",
    "{\"type\":\"insert\",\"position\":0,\"content\":\"a\",\"id\":[0,1]}",
    "{\"type\":\"insert\",\"position\":0,\"content\":\"\",\"id\":[0,1],\"clock\":0}",
    "{\"type\":\"insert\",\"position\":0,\"content\":5,\"id\":[0,1],\"clock\":0}",
    "{\"type\":\"insert\",\"position\":0,\"content\":\"a\",\"id\":[0,1],\"clock\":0,\"origin\":[0]"
    "}",
    "{\"type\":\"insert\",\"position\":0,\"content\":\"a\",\"id\":[0,1],\"clock\":0,\"origin\":[0,"
    "0]}",
    "{\"type\":\"insert\",\"position\":0,\"content\":\"a\",\"id\":[0,1],\"clock\":0,"
    "\"rightOrigin\":\"x\"}",
    "{\"type\":\"insert\",\"position\":0,\"content\":\"a\",\"id\":[0,1],\"clock\":4294967296}",
    "{\"type\":\"insert\",\"position\":0,\"content\":\"a\",\"id\":[0,1],\"clock\":0,\"timestamp\":"
    "\"now\"}",
    "{\"type\":\"delete\",\"position\":0,\"length\":1,\"id\":[0,1]}",
    "{\"type\":\"delete\",\"position\":0,\"length\":1,\"id\":[0,1],\"targets\":[]}",
    "{\"type\":\"delete\",\"position\":0,\"length\":2,\"id\":[0,1],\"targets\":[[0,0,1]]}",
    "{\"type\":\"delete\",\"position\":0,\"length\":0,\"id\":[0,1],\"targets\":[[0,0,0]]}",
    "{\"type\":\"delete\",\"position\":0,\"length\":1,\"id\":[0,1],\"targets\":[[0,0]]}",
    "{\"type\":\"delete\",\"position\":0,\"length\":1,\"id\":[0,1],\"targets\":[[0,4294967295,1]]}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (JsonNode) node = json_from_string (bad[i], NULL);
      g_autoptr (GError) error = NULL;
      g_autoptr (PrdCrdtOp) op = NULL;

      g_assert_nonnull (node);
      op = prd_crdt_op_from_json (node, &error);
      if (op != NULL)
        g_error ("accepted %s", bad[i]);
      g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
      g_assert_nonnull (error->message);
    }
}

static void
test_vector_json (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) good = json_from_string ("[1,2,3,5]", NULL);
  g_autoptr (GArray) v = prd_crdt_vector_from_json (good, &error);
  static const char *const bad[] = { "{}", "[1,-2]", "[\"1\"]", "[1.5]", "[4294967296]" };

  g_assert_no_error (error);
  g_assert_cmpuint (v->len, ==, 4);
  g_assert_cmpuint (g_array_index (v, guint32, 3), ==, 5);
  /* Trailing zeros are not kept (a missing entry is 0), inner ones are. */
  {
    static const struct
    {
      const char *json;
      guint len;
    } padded[] = {
      { "[]", 0 }, { "[0]", 0 }, { "[0,0,0]", 0 }, { "[1,0,2,0,0]", 3 }, { "[0,0,7]", 3 }
    };

    for (guint i = 0; i < G_N_ELEMENTS (padded); i++)
      {
        g_autoptr (JsonNode) node = json_from_string (padded[i].json, NULL);
        g_autoptr (GArray) r = prd_crdt_vector_from_json (node, &error);

        g_assert_no_error (error);
        g_assert_cmpuint (r->len, ==, padded[i].len);
        g_assert_true (r->len == 0 || g_array_index (r, guint32, r->len - 1) != 0);
      }
  }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (JsonNode) node = json_from_string (bad[i], NULL);
      g_autoptr (GArray) r = prd_crdt_vector_from_json (node, &error);
      g_assert_null (r);
      g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
      g_clear_error (&error);
    }
}

/* The direct writer gives the tree path's text, byte for byte. */
static void
assert_op_written_as_tree (const PrdCrdtOp *op)
{
  g_autoptr (JsonNode) tree = prd_crdt_op_to_json (op);
  g_autofree char *expected = prd_json_to_string (tree);
  g_autoptr (GString) direct = g_string_new ("prefix:");

  prd_crdt_op_write_json (op, direct);
  g_assert_cmpstr (direct->str + strlen ("prefix:"), ==, expected);
}

static guint32
random_u32 (GRand *rand)
{
  /* small values and the extremes more often than a uniform draw gives them */
  switch (g_rand_int_range (rand, 0, 4))
    {
      case 0:
        return (guint32) g_rand_int_range (rand, 0, 10);
      case 1:
        return G_MAXUINT32 - (guint32) g_rand_int_range (rand, 0, 3);
      default:
        return g_rand_int (rand) >> g_rand_int_range (rand, 0, 32);
    }
}

/* Random operations, of every field's range (not only what a document
 * makes), and the operations of a document edited with awkward text. */
static void
test_op_write_json (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  g_autoptr (PrdCrdtDoc) doc = prd_crdt_doc_new ();
  guint n_doc_ops = 0;

  for (guint i = 0; i < 3000; i++)
    {
      PrdCrdtOp op = { 0 };
      g_autofree char *content = NULL;
      g_autofree PrdCrdtIdRange *targets = NULL;

      op.type = g_rand_boolean (rand) ? PRD_CRDT_OP_INSERT : PRD_CRDT_OP_DELETE;
      op.site = random_u32 (rand);
      op.seq = random_u32 (rand);
      op.position = random_u32 (rand);
      op.length = random_u32 (rand);
      op.timestamp = (gint64) ((guint64) g_rand_int (rand) << 32 | g_rand_int (rand)) >>
                     g_rand_int_range (rand, 0, 64);
      if (op.type == PRD_CRDT_OP_INSERT)
        {
          op.content = content = prd_test_random_text (rand, i % 10 == 0 ? 300 : 12);
          op.clock = random_u32 (rand);
          op.has_origin = g_rand_boolean (rand);
          op.origin.site = random_u32 (rand);
          op.origin.clock = random_u32 (rand);
          op.has_right_origin = g_rand_boolean (rand);
          op.right_origin.site = random_u32 (rand);
          op.right_origin.clock = random_u32 (rand);
        }
      else
        {
          op.n_targets = (guint) g_rand_int_range (rand, 0, 6);
          op.targets = targets = g_new0 (PrdCrdtIdRange, MAX (op.n_targets, 1));
          for (guint t = 0; t < op.n_targets; t++)
            {
              targets[t].site = random_u32 (rand);
              targets[t].clock = random_u32 (rand);
              targets[t].length = random_u32 (rand);
            }
        }
      assert_op_written_as_tree (&op);
    }

  /* what the hub really broadcasts: a document's operations from three sites */
  for (guint i = 0; i < 2000; i++)
    {
      g_autoptr (GArray) v = prd_crdt_doc_get_state_vector (doc);
      guint32 site = (guint32) g_rand_int_range (rand, 0, 3);
      guint32 len = prd_crdt_doc_get_length (doc);
      guint32 pos = (guint32) g_rand_int_range (rand, 0, (gint32) len + 1);
      g_autoptr (PrdCrdtOp) op = NULL;
      g_autoptr (GError) error = NULL;
      g_autoptr (GString) direct = g_string_new (NULL);
      g_autoptr (JsonNode) tree = NULL;
      g_autofree char *expected = NULL;

      if (len > 0 && pos < len && g_rand_int_range (rand, 0, 3) == 0)
        prd_crdt_doc_apply_local_delete (doc, site, (guint32 *) (void *) v->data, v->len, pos,
                                         MIN (len - pos, (guint32) g_rand_int_range (rand, 1, 20)),
                                         g_get_real_time () / 1000, &op, &error);
      else
        {
          g_autofree char *text = prd_test_random_text (rand, 6);

          prd_crdt_doc_apply_local_insert (doc, site, (guint32 *) (void *) v->data, v->len, pos,
                                           text, -1, g_get_real_time () / 1000, &op, &error);
        }
      /* a position inside a surrogate pair is refused, nothing else */
      if (op == NULL)
        {
          g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
          continue;
        }
      assert_op_written_as_tree (op);
      n_doc_ops++;

      g_clear_pointer (&v, g_array_unref);
      v = prd_crdt_doc_get_state_vector (doc);
      tree = prd_crdt_vector_to_json ((const guint32 *) (void *) v->data, v->len);
      expected = prd_json_to_string (tree);
      prd_crdt_vector_write_json ((const guint32 *) (void *) v->data, v->len, direct);
      g_assert_cmpstr (direct->str, ==, expected);
    }
  g_assert_cmpuint (n_doc_ops, >, 1000);
}

static void
test_vector_write_json (void)
{
  static const guint32 vectors[][4] = {
    { 0, 0, 0, 0 }, { 1, 2, 3, 5 }, { G_MAXUINT32, 0, 10, 4000000000u }, { 9, 99, 999, 9999 }
  };

  for (guint n = 0; n <= 4; n++)
    for (guint i = 0; i < G_N_ELEMENTS (vectors); i++)
      {
        g_autoptr (JsonNode) tree = prd_crdt_vector_to_json (vectors[i], n);
        g_autofree char *expected = prd_json_to_string (tree);
        g_autoptr (GString) direct = g_string_new (NULL);

        prd_crdt_vector_write_json (vectors[i], n, direct);
        g_assert_cmpstr (direct->str, ==, expected);
      }
}

static void
test_state_round_trip (void)
{
  for (guint32 seed = 1; seed <= 20; seed++)
    {
      g_autoptr (PrdCrdtDoc) doc = make_doc (seed, 300);
      g_autoptr (GBytes) state = prd_crdt_doc_encode_state (doc, PRD_CRDT_ENCODE_DEFAULT);
      g_autoptr (GError) error = NULL;
      g_autoptr (PrdCrdtDoc) copy = prd_crdt_doc_decode_state (g_bytes_get_data (state, NULL),
                                                               g_bytes_get_size (state), &error);
      g_autofree char *a = prd_crdt_doc_get_text (doc);
      g_autofree char *b = NULL;
      g_autoptr (GBytes) again = NULL;
      g_autoptr (GPtrArray) ops1 = NULL;
      g_autoptr (GPtrArray) ops2 = NULL;
      guint32 half[] = { 20, 20, 20, 20 };

      g_assert_no_error (error);
      b = prd_crdt_doc_get_text (copy);
      g_assert_cmpstr (a, ==, b);
      again = prd_crdt_doc_encode_state (copy, PRD_CRDT_ENCODE_DEFAULT);
      g_assert_true (g_bytes_equal (state, again));
      /* Compressed for speed, it is the same state. */
      {
        g_autoptr (GBytes) fast =
            prd_crdt_doc_encode_state (doc, PRD_CRDT_ENCODE_DEFAULT | PRD_CRDT_ENCODE_FAST);
        g_autoptr (PrdCrdtDoc) fast_copy = prd_crdt_doc_decode_state (
            g_bytes_get_data (fast, NULL), g_bytes_get_size (fast), &error);
        g_autoptr (GBytes) from_fast = NULL;

        g_assert_no_error (error);
        from_fast = prd_crdt_doc_encode_state (fast_copy, PRD_CRDT_ENCODE_DEFAULT);
        g_assert_true (g_bytes_equal (state, from_fast));
      }
      /* history survives: old versions and missing operations */
      g_clear_pointer (&a, g_free);
      g_clear_pointer (&b, g_free);
      a = prd_crdt_doc_get_text_at (doc, half, 4, &error);
      g_assert_no_error (error);
      b = prd_crdt_doc_get_text_at (copy, half, 4, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (a, ==, b);
      ops1 = prd_crdt_doc_get_missing_ops (doc, half, 4, &error);
      ops2 = prd_crdt_doc_get_missing_ops (copy, half, 4, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (ops1->len, ==, ops2->len);
      for (guint i = 0; i < ops1->len; i++)
        assert_same_op (ops1->pdata[i], ops2->pdata[i]);
    }
}

static gpointer
pack_in_thread (gpointer data)
{
  return prd_crdt_state_draft_pack (data);
}

/* Drafting then packing is encoding, byte for byte, and packing needs
 * nothing but the draft: it gives the same bytes on another thread, after
 * the document has changed or is gone. */
static void
test_state_draft_pack (void)
{
  for (guint32 seed = 1; seed <= 40; seed++)
    for (guint flags = 0; flags < 4; flags++)
      {
        g_autoptr (PrdCrdtDoc) doc = make_doc (seed * 7919, seed * 17);
        g_autoptr (GBytes) state = prd_crdt_doc_encode_state (doc, flags);
        g_autoptr (PrdCrdtStateDraft) draft = prd_crdt_doc_draft_state (doc, flags);
        g_autoptr (GBytes) packed = prd_crdt_state_draft_pack (draft);
        g_autoptr (GBytes) again = prd_crdt_state_draft_pack (draft);
        g_autoptr (GBytes) threaded = NULL;
        g_autoptr (GArray) v = prd_crdt_doc_get_state_vector (doc);
        g_autoptr (GError) error = NULL;
        GThread *thread;

        g_assert_true (g_bytes_equal (packed, state));
        g_assert_true (g_bytes_equal (again, state));
        /* The draft holds the text uncompressed (at least a byte a UTF-16
         * unit), besides the metadata. */
        if ((flags & PRD_CRDT_ENCODE_DROP_DELETED_TEXT) == 0)
          g_assert_cmpuint (prd_crdt_state_draft_get_size (draft), >,
                            prd_crdt_doc_get_length (doc));

        g_assert_true (prd_crdt_doc_apply_local_insert (doc, 0, (guint32 *) (void *) v->data,
                                                        v->len, 0, "changed after the draft", -1, 0,
                                                        NULL, &error));
        g_assert_no_error (error);
        g_clear_pointer (&doc, prd_crdt_doc_free);
        thread = g_thread_new ("pack", pack_in_thread, draft);
        threaded = g_thread_join (thread);
        g_assert_true (g_bytes_equal (threaded, state));
      }

  /* and the empty document */
  {
    g_autoptr (PrdCrdtDoc) doc = prd_crdt_doc_new ();
    g_autoptr (GBytes) state = prd_crdt_doc_encode_state (doc, PRD_CRDT_ENCODE_DEFAULT);
    g_autoptr (PrdCrdtStateDraft) draft = prd_crdt_doc_draft_state (doc, PRD_CRDT_ENCODE_DEFAULT);
    g_autoptr (GBytes) packed = prd_crdt_state_draft_pack (draft);

    g_assert_true (g_bytes_equal (packed, state));
    g_assert_cmpuint (prd_crdt_state_draft_get_size (draft), >, 0);
    g_assert_cmpuint (prd_crdt_state_draft_get_size (draft), <, 64);
  }
}

static void
test_state_lossy (void)
{
  g_autoptr (PrdCrdtDoc) doc = prd_crdt_doc_new ();
  g_autoptr (GBytes) full = NULL;
  g_autoptr (GBytes) lossy = NULL;
  g_autoptr (PrdCrdtDoc) copy = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *old = NULL;
  g_autoptr (GPtrArray) ops = NULL;
  guint32 v1[] = { 1 }, v2[] = { 2 };

  g_assert_true (
      prd_crdt_doc_apply_local_insert (doc, 0, NULL, 0, 0, "a secret here", -1, 0, NULL, NULL));
  g_assert_true (prd_crdt_doc_apply_local_delete (doc, 0, v1, 1, 2, 7, 0, NULL, NULL));
  g_assert_true (prd_crdt_doc_apply_local_insert (doc, 0, v2, 1, 2, "nothing ", -1, 0, NULL, NULL));
  full = prd_crdt_doc_encode_state (doc, PRD_CRDT_ENCODE_DEFAULT);
  lossy = prd_crdt_doc_encode_state (doc, PRD_CRDT_ENCODE_DROP_DELETED_TEXT);
  copy =
      prd_crdt_doc_decode_state (g_bytes_get_data (lossy, NULL), g_bytes_get_size (lossy), &error);
  g_assert_no_error (error);
  text = prd_crdt_doc_get_text (copy);
  g_assert_cmpstr (text, ==, "a nothing here");
  old = prd_crdt_doc_get_text_at (copy, v1, 1, &error);
  g_assert_null (old);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  ops = prd_crdt_doc_get_missing_ops (copy, NULL, 0, &error);
  g_assert_null (ops);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  /* what remains visible is still there */
  ops = prd_crdt_doc_get_missing_ops (copy, v2, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ops->len, ==, 1);
}

static void
test_state_version (void)
{
  g_autoptr (PrdCrdtDoc) doc = make_doc (3, 20);
  g_autoptr (GBytes) state = prd_crdt_doc_encode_state (doc, PRD_CRDT_ENCODE_DEFAULT);
  g_autofree guint8 *data = g_memdup2 (g_bytes_get_data (state, NULL), g_bytes_get_size (state));
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdCrdtDoc) copy = NULL;
  g_autoptr (PrdCrdtOp) op = NULL;
  guint8 op_bytes[] = { 9, 0, 0, 1 };
  const guint8 versions[] = { 0, PRD_CRDT_STATE_VERSION + 1, 255 };

  g_assert_cmpuint (data[0], ==, PRD_CRDT_STATE_VERSION);
  for (guint i = 0; i < G_N_ELEMENTS (versions); i++)
    {
      data[0] = versions[i];
      copy = prd_crdt_doc_decode_state (data, g_bytes_get_size (state), &error);
      g_assert_null (copy);
      g_assert_error (error, PRD_ERROR, PRD_ERROR_UNSUPPORTED_VERSION);
      g_clear_error (&error);
    }
  /* a version 2 state is not read as version 1, nor the reverse */
  data[0] = 1;
  copy = prd_crdt_doc_decode_state (data, g_bytes_get_size (state), &error);
  g_assert_null (copy);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA);
  g_clear_error (&error);
  op = prd_crdt_op_decode (op_bytes, sizeof op_bytes, &error);
  g_assert_null (op);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_UNSUPPORTED_VERSION);
}

static GBytes *
pack_stream (GBytes *data, GZlibCompressorFormat format)
{
  g_autoptr (GZlibCompressor) zc = g_zlib_compressor_new (format, 1);
  g_autoptr (GOutputStream) mem = g_memory_output_stream_new_resizable ();
  g_autoptr (GOutputStream) out = g_converter_output_stream_new (mem, G_CONVERTER (zc));
  gsize written;

  g_assert_true (g_output_stream_write_all (out, g_bytes_get_data (data, NULL),
                                            g_bytes_get_size (data), &written, NULL, NULL));
  g_assert_true (g_output_stream_close (out, NULL, NULL));
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (mem));
}

static GBytes *
unpack_stream (const guint8 *data, gsize size, GZlibCompressorFormat format)
{
  g_autoptr (GZlibDecompressor) zd = g_zlib_decompressor_new (format);
  g_autoptr (GInputStream) mem = g_memory_input_stream_new_from_data (data, size, NULL);
  g_autoptr (GInputStream) in = g_converter_input_stream_new (mem, G_CONVERTER (zd));
  g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();

  g_assert_cmpint (
      g_output_stream_splice (out, in, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, NULL), >=, 0);
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
}

/* Rebuilds a state around a modified body (and text, for version 2) with a
 * valid checksum, so that the structural checks are what has to catch the
 * damage. */
static GBytes *
repack (const guint8 *head, GBytes *body, GBytes *text)
{
  GByteArray *res = g_byte_array_new ();

  g_byte_array_append (res, head, 2);
  if (head[0] == 1)
    {
      g_autoptr (GBytes) z = pack_stream (body, G_ZLIB_COMPRESSOR_FORMAT_ZLIB);
      g_byte_array_append (res, g_bytes_get_data (z, NULL), g_bytes_get_size (z));
    }
  else
    {
      g_autoptr (GBytes) zb = pack_stream (body, G_ZLIB_COMPRESSOR_FORMAT_RAW);
      g_autoptr (GBytes) zt = pack_stream (text, G_ZLIB_COMPRESSOR_FORMAT_RAW);
      guint32 crc = crc32_z (crc32_z (0, g_bytes_get_data (body, NULL), g_bytes_get_size (body)),
                             g_bytes_get_data (text, NULL), g_bytes_get_size (text));
      gsize n = g_bytes_get_size (zb);
      guint8 b[4] = { crc & 0xff, (crc >> 8) & 0xff, (crc >> 16) & 0xff, crc >> 24 };

      g_byte_array_append (res, b, 4);
      do
        {
          guint8 v = (n & 0x7f) | (n >= 0x80 ? 0x80 : 0);
          g_byte_array_append (res, &v, 1);
          n >>= 7;
        }
      while (n);
      g_byte_array_append (res, g_bytes_get_data (zb, NULL), g_bytes_get_size (zb));
      g_byte_array_append (res, g_bytes_get_data (zt, NULL), g_bytes_get_size (zt));
    }
  return g_byte_array_free_to_bytes (res);
}

/* The uncompressed parts of a state: the body, and for version 2 the text. */
static void
unpack (GBytes *state, GBytes **body, GBytes **text)
{
  const guint8 *data = g_bytes_get_data (state, NULL);
  gsize size = g_bytes_get_size (state), len = 0, at = 6;

  if (data[0] == 1)
    {
      *body = unpack_stream (data + 2, size - 2, G_ZLIB_COMPRESSOR_FORMAT_ZLIB);
      *text = g_bytes_new (NULL, 0);
      return;
    }
  g_assert_cmpuint (data[0], ==, 2);
  for (guint shift = 0;; shift += 7)
    {
      len |= (gsize) (data[at] & 0x7f) << shift;
      if (!(data[at++] & 0x80))
        break;
    }
  *body = unpack_stream (data + at, len, G_ZLIB_COMPRESSOR_FORMAT_RAW);
  *text = unpack_stream (data + at + len, size - at - len, G_ZLIB_COMPRESSOR_FORMAT_RAW);
}

static void
check_decode (const guint8 *data, gsize size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdCrdtDoc) doc = prd_crdt_doc_decode_state (data, size, &error);

  if (doc == NULL)
    {
      g_assert_nonnull (error);
      g_assert_true (error->domain == PRD_ERROR);
      g_assert_true (error->code == PRD_ERROR_CORRUPT_DATA ||
                     error->code == PRD_ERROR_UNSUPPORTED_VERSION);
    }
  else
    {
      /* a damaged but well-formed document is still a document */
      g_autofree char *text = prd_crdt_doc_get_text (doc);
      g_autoptr (GBytes) again = prd_crdt_doc_encode_state (doc, PRD_CRDT_ENCODE_DEFAULT);
      g_autoptr (PrdCrdtDoc) copy = NULL;
      g_autofree char *text2 = NULL;
      g_assert_no_error (error);
      g_assert_nonnull (text);
      g_assert_nonnull (again);
      /* and its re-encoding reads back as the same document */
      copy = prd_crdt_doc_decode_state (g_bytes_get_data (again, NULL), g_bytes_get_size (again),
                                        &error);
      g_assert_no_error (error);
      text2 = prd_crdt_doc_get_text (copy);
      g_assert_cmpstr (text, ==, text2);
    }
}

/* Damages @state every way: each truncation must be refused, flipped bits
 * and (behind a valid checksum) damaged bodies refused or read as some
 * well-formed document. */
static void
fuzz_state (GBytes *state, GRand *rand)
{
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GBytes) text = NULL;
  const guint8 *data = g_bytes_get_data (state, NULL);
  gsize size = g_bytes_get_size (state), bsize, tsize;

  unpack (state, &body, &text);
  bsize = g_bytes_get_size (body);
  tsize = g_bytes_get_size (text);

  /* every truncation of the encoded state */
  for (gsize cut = 0; cut < size; cut++)
    {
      g_autofree guint8 *copy = g_memdup2 (data, cut + 1);
      g_autoptr (GError) error = NULL;
      g_autoptr (PrdCrdtDoc) d = prd_crdt_doc_decode_state (copy, cut, &error);
      g_assert_null (d);
      g_assert_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA);
    }
  /* every truncation of the body and of the text, recompressed */
  for (gsize cut = 0; cut < bsize; cut += 1 + cut / 64)
    {
      g_autoptr (GBytes) part = g_bytes_new_from_bytes (body, 0, cut);
      g_autoptr (GBytes) packed = repack (data, part, text);
      g_autoptr (GError) error = NULL;
      g_autoptr (PrdCrdtDoc) d = prd_crdt_doc_decode_state (g_bytes_get_data (packed, NULL),
                                                            g_bytes_get_size (packed), &error);
      g_assert_null (d);
      g_assert_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA);
    }
  for (gsize cut = 0; cut < tsize; cut += 1 + cut / 64)
    {
      g_autoptr (GBytes) part = g_bytes_new_from_bytes (text, 0, cut);
      g_autoptr (GBytes) packed = repack (data, body, part);
      g_autoptr (GError) error = NULL;
      g_autoptr (PrdCrdtDoc) d = prd_crdt_doc_decode_state (g_bytes_get_data (packed, NULL),
                                                            g_bytes_get_size (packed), &error);
      g_assert_null (d);
      g_assert_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA);
    }
  /* bit flips, in the encoded state and in the body */
  for (guint i = 0; i < 1500; i++)
    {
      g_autofree guint8 *copy = g_memdup2 (data, size);
      gsize at = g_rand_int_range (rand, 0, size);
      copy[at] ^= 1 << g_rand_int_range (rand, 0, 8);
      check_decode (copy, size);
    }
  for (guint i = 0; i < 1500; i++)
    {
      g_autofree guint8 *copy = g_memdup2 (g_bytes_get_data (body, NULL), bsize);
      g_autoptr (GBytes) changed = NULL;
      g_autoptr (GBytes) packed = NULL;
      for (guint k = 0, n = g_rand_int_range (rand, 1, 4); k < n; k++)
        {
          gsize at = g_rand_int_range (rand, 0, bsize);
          if (g_rand_boolean (rand))
            copy[at] ^= 1 << g_rand_int_range (rand, 0, 8);
          else
            copy[at] = g_rand_int_range (rand, 0, 256);
        }
      changed = g_bytes_new_take (g_steal_pointer (&copy), bsize);
      packed = repack (data, changed, text);
      check_decode (g_bytes_get_data (packed, NULL), g_bytes_get_size (packed));
    }
  for (guint i = 0; i < 300 && tsize > 0; i++)
    {
      g_autofree guint8 *copy = g_memdup2 (g_bytes_get_data (text, NULL), tsize);
      g_autoptr (GBytes) changed = NULL;
      g_autoptr (GBytes) packed = NULL;
      copy[g_rand_int_range (rand, 0, tsize)] = g_rand_int_range (rand, 0, 256);
      changed = g_bytes_new_take (g_steal_pointer (&copy), tsize);
      packed = repack (data, body, changed);
      check_decode (g_bytes_get_data (packed, NULL), g_bytes_get_size (packed));
    }
}

static void
test_state_fuzz (void)
{
  g_autoptr (PrdCrdtDoc) doc = make_doc (11, 120);
  GRand *rand = g_rand_new_with_seed (99);

  for (guint flags = 0; flags < 2; flags++)
    {
      g_autoptr (GBytes) state = prd_crdt_doc_encode_state (doc, flags);
      fuzz_state (state, rand);
    }
  g_rand_free (rand);
}

/* Version 1 states (tests/data/sdk-states-v1, written before version 2) still
 * load: same text and state vector as recorded, and re-encoded they are
 * exactly the version 2 state of the same document (tests/data/sdk-states). */
static void
test_state_v1 (void)
{
  g_autofree char *dir = g_build_filename (SOURCE_ROOT, "tests", "data", "sdk-states-v1", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) d = g_dir_open (dir, 0, &error);
  const char *entry;
  guint n = 0;
  GRand *rand = g_rand_new_with_seed (7);

  g_assert_no_error (error);
  while ((entry = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, entry, NULL);
      g_autofree char *path2 =
          g_build_filename (SOURCE_ROOT, "tests", "data", "sdk-states", entry, NULL);
      g_autoptr (JsonParser) p1 = json_parser_new ();
      g_autoptr (JsonParser) p2 = json_parser_new ();
      const char *members[] = { "encodedState", "encodedStateDropped" };
      JsonObject *o1, *o2;

      if (!g_str_has_suffix (entry, ".json"))
        continue;
      g_assert_true (json_parser_load_from_file (p1, path, &error));
      g_assert_true (json_parser_load_from_file (p2, path2, &error));
      g_assert_no_error (error);
      o1 = json_node_get_object (json_parser_get_root (p1));
      o2 = json_node_get_object (json_parser_get_root (p2));
      for (guint m = 0; m < G_N_ELEMENTS (members); m++)
        {
          gsize size, size2;
          g_autofree guint8 *data =
              g_base64_decode (json_object_get_string_member (o1, members[m]), &size);
          g_autofree guint8 *want =
              g_base64_decode (json_object_get_string_member (o2, members[m]), &size2);
          g_autoptr (PrdCrdtDoc) doc = NULL;
          g_autoptr (GBytes) again = NULL;
          g_autoptr (GArray) vector = NULL;
          g_autofree char *text = NULL;
          JsonArray *expected = json_object_get_array_member (o1, "expectedStateVector");

          g_assert_cmpuint (data[0], ==, 1);
          doc = prd_crdt_doc_decode_state (data, size, &error);
          g_assert_no_error (error);
          text = prd_crdt_doc_get_text (doc);
          g_assert_cmpstr (text, ==, json_object_get_string_member (o1, "expectedText"));
          vector = prd_crdt_doc_get_state_vector (doc);
          g_assert_cmpuint (vector->len, ==, json_array_get_length (expected));
          for (guint i = 0; i < vector->len; i++)
            g_assert_cmpint (g_array_index (vector, guint32, i), ==,
                             json_array_get_int_element (expected, i));
          again = prd_crdt_doc_encode_state (doc, m == 0 ? PRD_CRDT_ENCODE_DEFAULT
                                                         : PRD_CRDT_ENCODE_DROP_DELETED_TEXT);
          g_assert_cmpuint (g_bytes_get_size (again), ==, size2);
          g_assert_cmpmem (g_bytes_get_data (again, NULL), size2, want, size2);
          if (g_str_equal (entry, "random-08.json"))
            {
              g_autoptr (GBytes) state = g_bytes_new (data, size);
              fuzz_state (state, rand);
            }
        }
      n++;
    }
  g_assert_cmpuint (n, >=, 10);
  g_rand_free (rand);
}

static void
test_op_fuzz (void)
{
  g_autoptr (PrdCrdtDoc) doc = make_doc (5, 60);
  g_autoptr (GPtrArray) ops = prd_crdt_doc_get_missing_ops (doc, NULL, 0, NULL);
  g_autoptr (GBytes) all = prd_crdt_ops_encode ((PrdCrdtOp **) ops->pdata, ops->len);
  GRand *rand = g_rand_new_with_seed (5);
  const guint8 *data = g_bytes_get_data (all, NULL);
  gsize size = g_bytes_get_size (all);

  for (gsize cut = 0; cut < size; cut++)
    {
      g_autofree guint8 *copy = g_memdup2 (data, cut + 1);
      g_autoptr (GError) error = NULL;
      g_autoptr (GPtrArray) r = prd_crdt_ops_decode (copy, cut, &error);
      g_assert_null (r);
      g_assert_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA);
    }
  for (guint i = 0; i < ops->len; i++)
    {
      g_autoptr (GBytes) one = prd_crdt_op_encode (ops->pdata[i]);
      gsize n = g_bytes_get_size (one);
      for (gsize cut = 0; cut < n; cut++)
        {
          g_autofree guint8 *copy = g_memdup2 (g_bytes_get_data (one, NULL), cut + 1);
          g_autoptr (GError) error = NULL;
          g_autoptr (PrdCrdtOp) op = prd_crdt_op_decode (copy, cut, &error);
          g_assert_null (op);
          g_assert_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA);
        }
    }
  for (guint i = 0; i < 5000; i++)
    {
      g_autofree guint8 *copy = g_memdup2 (data, size);
      g_autoptr (GError) error = NULL;
      g_autoptr (GPtrArray) r = NULL;
      g_autoptr (PrdCrdtDoc) target = prd_crdt_doc_new ();

      copy[g_rand_int_range (rand, 0, size)] ^= 1 << g_rand_int_range (rand, 0, 8);
      r = prd_crdt_ops_decode (copy, size, &error);
      if (r == NULL)
        {
          g_assert_true (error->domain == PRD_ERROR);
          continue;
        }
      /* whatever decodes is safe to apply: it is taken or refused */
      for (guint k = 0; k < r->len; k++)
        {
          g_autoptr (GError) e2 = NULL;
          if (!prd_crdt_doc_apply_remote (target, r->pdata[k], NULL, &e2))
            g_assert_error (e2, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
        }
      g_free (prd_crdt_doc_get_text (target));
    }
  g_rand_free (rand);
}

static void
test_content_update (void)
{
  g_autoptr (PrdCrdtDoc) doc = prd_crdt_doc_new ();
  g_autoptr (GError) error = NULL;
  static const struct
  {
    const char *op;
    const char *vector;
  } bad[] = {
    { "[]", "[1]" },
    { "{\"type\":\"insert\",\"position\":0,\"content\":\"x\"}", "[0]" },
    { "{\"type\":\"insert\",\"position\":0,\"content\":\"x\"}", "[]" },
    { "{\"type\":\"insert\",\"position\":0,\"content\":\"x\"}", "[2]" },
    { "{\"type\":\"insert\",\"position\":0,\"content\":\"x\"}", "{}" },
    { "{\"type\":\"insert\",\"position\":9,\"content\":\"x\"}", "[1]" },
    { "{\"type\":\"insert\",\"position\":0}", "[1]" },
    { "{\"type\":\"insert\",\"position\":\"0\",\"content\":\"x\"}", "[1]" },
    { "{\"type\":\"insert\",\"position\":0,\"content\":\"x\",\"timestamp\":true}", "[1]" },
    { "{\"type\":\"delete\",\"position\":0,\"length\":1}", "[1]" },
    { "{\"type\":\"delete\",\"position\":0}", "[1]" },
    { "{\"type\":\"replace\",\"position\":0}", "[1]" },
  };
  const char *ok_ops[] = {
    "{\"type\":\"insert\",\"position\":0,\"content\":\"Hello\",\"timestamp\":1706265030000}",
    "{\"type\":\"insert\",\"position\":5,\"content\":\" world\"}",
    "{\"type\":\"delete\",\"position\":0,\"length\":1}",
  };
  const char *ok_vectors[] = { "[0,1]", "[0,2]", "[0,3]" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (JsonNode) op = json_from_string (bad[i].op, NULL);
      g_autoptr (JsonNode) v = json_from_string (bad[i].vector, NULL);
      g_assert_false (prd_crdt_doc_apply_content_update (doc, 0, op, v, NULL, &error));
      g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
      g_clear_error (&error);
      g_assert_cmpuint (prd_crdt_doc_get_length (doc), ==, 0);
    }
  for (guint i = 0; i < G_N_ELEMENTS (ok_ops); i++)
    {
      g_autoptr (JsonNode) op = json_from_string (ok_ops[i], NULL);
      g_autoptr (JsonNode) v = json_from_string (ok_vectors[i], NULL);
      g_autoptr (PrdCrdtOp) out = NULL;
      g_assert_true (prd_crdt_doc_apply_content_update (doc, 1, op, v, &out, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (out->site, ==, 1);
      g_assert_cmpuint (out->seq, ==, i + 1);
      if (i == 0)
        g_assert_cmpint (out->timestamp, ==, 1706265030000);
    }
  {
    g_autofree char *text = prd_crdt_doc_get_text (doc);
    g_assert_cmpstr (text, ==, "ello world");
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/prd/crdt-codec/op-round-trip", test_op_round_trip);
  g_test_add_func ("/prd/crdt-codec/json-shape", test_json_shape);
  g_test_add_func ("/prd/crdt-codec/json-invalid", test_json_invalid);
  g_test_add_func ("/prd/crdt-codec/vector-json", test_vector_json);
  g_test_add_func ("/prd/crdt-codec/op-write-json", test_op_write_json);
  g_test_add_func ("/prd/crdt-codec/vector-write-json", test_vector_write_json);
  g_test_add_func ("/prd/crdt-codec/content-update", test_content_update);
  g_test_add_func ("/prd/crdt-codec/state-round-trip", test_state_round_trip);
  g_test_add_func ("/prd/crdt-codec/state-lossy", test_state_lossy);
  g_test_add_func ("/prd/crdt-codec/state-draft-pack", test_state_draft_pack);
  g_test_add_func ("/prd/crdt-codec/state-version", test_state_version);
  g_test_add_func ("/prd/crdt-codec/state-fuzz", test_state_fuzz);
  g_test_add_func ("/prd/crdt-codec/state-v1", test_state_v1);
  g_test_add_func ("/prd/crdt-codec/op-fuzz", test_op_fuzz);
  return g_test_run ();
}
