/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-test"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-crdt-private.h"
#include "prd-crdt.h"
#include "test-crdt-trace.h"

static const char *source_root;

static GArray *
vec (PrdCrdtDoc *doc)
{
  return prd_crdt_doc_get_state_vector (doc);
}

#define V(a) ((guint32 *) (void *) (a)->data), (a)->len

static void
assert_text (PrdCrdtDoc *doc, const char *expected)
{
  g_autofree char *text = prd_crdt_doc_get_text (doc);
  g_assert_cmpstr (text, ==, expected);
}

static void
insert_at (PrdCrdtDoc *doc, guint32 site, guint32 pos, const char *text, PrdCrdtOp **out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) v = vec (doc);

  g_assert_true (prd_crdt_doc_apply_local_insert (doc, site, V (v), pos, text, -1, 0, out, &error));
  g_assert_no_error (error);
}

static void
delete_at (PrdCrdtDoc *doc, guint32 site, guint32 pos, guint32 len, PrdCrdtOp **out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) v = vec (doc);

  g_assert_true (prd_crdt_doc_apply_local_delete (doc, site, V (v), pos, len, 0, out, &error));
  g_assert_no_error (error);
}

static void
test_basic (void)
{
  g_autoptr (PrdCrdtDoc) doc = prd_crdt_doc_new ();
  g_autoptr (PrdCrdtOp) op = NULL;
  g_autoptr (GArray) v = NULL;

  insert_at (doc, 0, 0, "hello", &op);
  g_assert_cmpuint (op->seq, ==, 1);
  g_assert_cmpuint (op->clock, ==, 0);
  g_assert_false (op->has_origin);
  g_assert_false (op->has_right_origin);
  g_clear_pointer (&op, prd_crdt_op_free);
  insert_at (doc, 0, 5, " world", &op);
  g_assert_cmpuint (op->seq, ==, 2);
  g_assert_cmpuint (op->clock, ==, 5);
  g_assert_true (op->has_origin);
  g_assert_cmpuint (op->origin.clock, ==, 4);
  g_assert_cmpuint (op->position, ==, 5);
  g_clear_pointer (&op, prd_crdt_op_free);
  insert_at (doc, 2, 0, ">", NULL);
  assert_text (doc, ">hello world");
  delete_at (doc, 0, 1, 6, &op);
  g_assert_cmpuint (op->n_targets, ==, 1);
  g_assert_cmpuint (op->targets[0].clock, ==, 0);
  g_assert_cmpuint (op->targets[0].length, ==, 6);
  g_assert_cmpuint (op->position, ==, 1);
  assert_text (doc, ">world");
  g_assert_cmpuint (prd_crdt_doc_get_length (doc), ==, 6);
  v = vec (doc);
  g_assert_cmpuint (v->len, ==, 3);
  g_assert_cmpuint (g_array_index (v, guint32, 0), ==, 3);
  g_assert_cmpuint (g_array_index (v, guint32, 1), ==, 0);
  g_assert_cmpuint (g_array_index (v, guint32, 2), ==, 1);
}

static void
test_utf16 (void)
{
  g_autoptr (PrdCrdtDoc) doc = prd_crdt_doc_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) v = NULL;
  PrdCrdtAnchor anchor;

  insert_at (doc, 0, 0,
             "a\xf0\x9f\x98\x80"
             "b",
             NULL); /* a😀b */
  g_assert_cmpuint (prd_crdt_doc_get_length (doc), ==, 4);
  v = vec (doc);
  g_assert_false (prd_crdt_doc_apply_local_insert (doc, 0, V (v), 2, "x", -1, 0, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  g_assert_false (prd_crdt_doc_apply_local_delete (doc, 0, V (v), 1, 1, 0, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  g_assert_false (prd_crdt_doc_anchor_at (doc, 2, PRD_CRDT_ASSOC_AFTER, &anchor, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  g_assert_false (prd_crdt_doc_apply_local_insert (doc, 0, V (v), 0, "\xff", -1, 0, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  assert_text (doc, "a\xf0\x9f\x98\x80"
                    "b");
  delete_at (doc, 0, 1, 2, NULL);
  assert_text (doc, "ab");
  insert_at (doc, 0, 1, "\xc3\xa9", NULL);
  assert_text (doc, "a\xc3\xa9"
                    "b");
}

/* UTF-16 to UTF-8, appended: every length of a character, pairs, and a
 * lone half (which only a lossy snapshot can hold) as U+FFFD. */
static void
test_utf16_to_utf8 (void)
{
  static const struct
  {
    guint16 units[4];
    gsize n;
    const char *utf8;
  } cases[] = {
    { { 'a' }, 1, "a" },
    { { 0xE9 }, 1, "\xc3\xa9" },
    { { 0x20AC }, 1, "\xe2\x82\xac" },
    { { 0xD83D, 0xDE00 }, 2, "\xf0\x9f\x98\x80" },
    { { 0xD83D }, 1, "\xef\xbf\xbd" },
    { { 0xDE00, 'b' },
      2,
      "\xef\xbf\xbd"
      "b" },
    { { 0xD83D, 'c', 0xE9 },
      3,
      "\xef\xbf\xbd"
      "c\xc3\xa9" },
    { { 0 }, 0, "" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GString) out = g_string_new ("x");

      prd_crdt_utf16_append_utf8 (out, cases[i].units, cases[i].n);
      g_assert_cmpuint (out->len, ==, 1 + strlen (cases[i].utf8));
      g_assert_cmpstr (out->str + 1, ==, cases[i].utf8);
      g_assert_true (g_utf8_validate (out->str, out->len, NULL));
    }
}

static void
test_bad_local (void)
{
  g_autoptr (PrdCrdtDoc) doc = prd_crdt_doc_new ();
  g_autoptr (GError) error = NULL;
  guint32 wrong[] = { 5 };
  guint32 ahead[] = { 1, 3 };
  guint32 ok[] = { 1 };

  insert_at (doc, 0, 0, "abc", NULL);
  g_assert_false (prd_crdt_doc_apply_local_insert (doc, 0, wrong, 1, 0, "x", -1, 0, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  g_assert_false (prd_crdt_doc_apply_local_insert (doc, 0, ahead, 2, 0, "x", -1, 0, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  g_assert_false (prd_crdt_doc_apply_local_insert (doc, 0, ok, 1, 4, "x", -1, 0, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  g_assert_false (prd_crdt_doc_apply_local_insert (doc, 0, ok, 1, 0, "", -1, 0, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  g_assert_false (prd_crdt_doc_apply_local_delete (doc, 0, ok, 1, 2, 2, 0, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  g_assert_false (prd_crdt_doc_apply_local_delete (doc, 0, ok, 1, 0, 0, 0, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  g_assert_false (prd_crdt_doc_apply_local_insert (doc, PRD_CRDT_MAX_SITES, ok, 1, 0, "x", -1, 0,
                                                   NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  assert_text (doc, "abc");
  g_assert_cmpuint (prd_crdt_doc_get_site_ops (doc, 0), ==, 1);
}

/* Positions read at an older version: the concurrent edits of others are
 * skipped, as if the edit had been made before them. */
static void
test_old_base (void)
{
  g_autoptr (PrdCrdtDoc) doc = prd_crdt_doc_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *old = NULL;
  guint32 base1[] = { 1 };
  guint32 base2[] = { 1, 0, 0 };

  insert_at (doc, 0, 0, "hello world", NULL);
  insert_at (doc, 1, 5, ",", NULL);     /* hello, world */
  delete_at (doc, 1, 7, 5, NULL);       /* hello,  */
  insert_at (doc, 1, 7, "there", NULL); /* hello, there */
  assert_text (doc, "hello, there");
  /* site 2 saw only "hello world" and appends "!" after "world" */
  g_assert_true (prd_crdt_doc_apply_local_insert (doc, 2, base2, 3, 11, "!", -1, 0, NULL, &error));
  g_assert_no_error (error);
  assert_text (doc, "hello, there!");
  /* and deletes "hello" */
  {
    guint32 b[] = { 1, 0, 1 };
    g_assert_true (prd_crdt_doc_apply_local_delete (doc, 2, b, 3, 0, 5, 0, NULL, &error));
    g_assert_no_error (error);
  }
  assert_text (doc, ", there!");
  old = prd_crdt_doc_get_text_at (doc, base1, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (old, ==, "hello world");
  g_clear_pointer (&old, g_free);
  {
    guint32 b[] = { 1, 2, 1 };
    old = prd_crdt_doc_get_text_at (doc, b, 3, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (old, ==, "hello, !");
  }
}

static void
test_remote_pending (void)
{
  g_autoptr (PrdCrdtDoc) a = prd_crdt_doc_new ();
  g_autoptr (PrdCrdtDoc) b = prd_crdt_doc_new ();
  g_autoptr (GPtrArray) ops = NULL;
  g_autoptr (GError) error = NULL;
  guint applied = 0;

  insert_at (a, 0, 0, "abc", NULL);
  insert_at (a, 1, 1, "XY", NULL);
  delete_at (a, 0, 2, 2, NULL);
  insert_at (a, 0, 0, "<", NULL);
  ops = prd_crdt_doc_get_missing_ops (a, NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ops->len, ==, 4);
  /* newest first: everything waits for the first one */
  for (guint i = ops->len; i-- > 1;)
    {
      g_assert_true (prd_crdt_doc_apply_remote (b, ops->pdata[i], &applied, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (applied, ==, 0);
    }
  g_assert_cmpuint (prd_crdt_doc_get_n_pending (b), ==, 3);
  g_assert_true (prd_crdt_doc_apply_remote (b, ops->pdata[0], &applied, &error));
  g_assert_cmpuint (applied, ==, 4);
  g_assert_cmpuint (prd_crdt_doc_get_n_pending (b), ==, 0);
  /* duplicates change nothing */
  for (guint i = 0; i < ops->len; i++)
    {
      g_assert_true (prd_crdt_doc_apply_remote (b, ops->pdata[i], &applied, &error));
      g_assert_cmpuint (applied, ==, 0);
    }
  assert_text (b, "<aXc");
  assert_text (a, "<aXc");
}

static void
test_remote_invalid (void)
{
  g_autoptr (PrdCrdtDoc) doc = prd_crdt_doc_new ();
  g_autoptr (GError) error = NULL;
  PrdCrdtOp op = { 0 };
  PrdCrdtIdRange bad_range = { 0, 0, 0 };

  op.type = PRD_CRDT_OP_INSERT;
  op.site = 0;
  op.seq = 0;
  op.content = (char *) "x";
  g_assert_false (prd_crdt_doc_apply_remote (doc, &op, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  op.seq = 1;
  op.clock = 3; /* must be 0 */
  g_assert_false (prd_crdt_doc_apply_remote (doc, &op, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  op.clock = 0;
  op.content = (char *) "";
  g_assert_false (prd_crdt_doc_apply_remote (doc, &op, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  op.type = PRD_CRDT_OP_DELETE;
  op.targets = &bad_range;
  op.n_targets = 1;
  g_assert_false (prd_crdt_doc_apply_remote (doc, &op, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  g_assert_cmpuint (prd_crdt_doc_get_length (doc), ==, 0);
  g_assert_cmpuint (prd_crdt_doc_get_n_pending (doc), ==, 0);

  /* held back, then found not to fit its site's history */
  op.type = PRD_CRDT_OP_INSERT;
  op.targets = NULL;
  op.n_targets = 0;
  op.content = (char *) "late";
  op.seq = 2;
  op.clock = 7; /* operation 1 will have 1 unit: must be 1 */
  g_assert_true (prd_crdt_doc_apply_remote (doc, &op, NULL, &error));
  g_assert_cmpuint (prd_crdt_doc_get_n_pending (doc), ==, 1);
  op.content = (char *) "x";
  op.seq = 1;
  op.clock = 0;
  g_assert_true (prd_crdt_doc_apply_remote (doc, &op, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (prd_crdt_doc_get_n_pending (doc), ==, 0);
  g_assert_cmpuint (prd_crdt_doc_get_n_rejected (doc), ==, 1);
  assert_text (doc, "x");
}

static void
test_insert_limit (void)
{
  g_autoptr (PrdCrdtDoc) doc = prd_crdt_doc_new ();
  g_autoptr (GError) error = NULL;
  gsize n = PRD_CRDT_MAX_INSERT_UNITS + 1;
  g_autofree char *big = g_malloc (n + 1);
  PrdCrdtOp op = { 0 };

  memset (big, 'a', n);
  big[n] = '\0';
  g_assert_false (prd_crdt_doc_apply_local_insert (doc, 0, NULL, 0, 0, big, n, 0, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  op.type = PRD_CRDT_OP_INSERT;
  op.seq = 1;
  op.content = big;
  g_assert_false (prd_crdt_doc_apply_remote (doc, &op, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  /* the largest allowed insert is taken */
  big[n - 1] = '\0';
  g_assert_true (prd_crdt_doc_apply_local_insert (doc, 0, NULL, 0, 0, big, n - 1, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (prd_crdt_doc_get_length (doc), ==, PRD_CRDT_MAX_INSERT_UNITS);
}

static void
test_pending_limit (void)
{
  g_autoptr (PrdCrdtDoc) doc = prd_crdt_doc_new ();
  g_autoptr (GError) error = NULL;
  PrdCrdtOp op = { 0 };

  op.type = PRD_CRDT_OP_INSERT;
  op.content = (char *) "x";
  op.site = 1;
  for (guint i = 0; i < PRD_CRDT_MAX_PENDING; i++)
    {
      op.seq = i + 2; /* never ready: operation 1 is missing */
      op.clock = i + 1;
      g_assert_true (prd_crdt_doc_apply_remote (doc, &op, NULL, &error));
      g_assert_no_error (error);
    }
  op.seq = PRD_CRDT_MAX_PENDING + 2;
  g_assert_false (prd_crdt_doc_apply_remote (doc, &op, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
  g_assert_cmpuint (prd_crdt_doc_get_n_pending (doc), ==, PRD_CRDT_MAX_PENDING);
}

static void
test_anchors (void)
{
  g_autoptr (PrdCrdtDoc) doc = prd_crdt_doc_new ();
  g_autoptr (GError) error = NULL;
  PrdCrdtAnchor start, end, at_end, at_start;
  guint32 pos;

  insert_at (doc, 0, 0, "hello world", NULL);
  g_assert_true (prd_crdt_doc_anchor_at (doc, 6, PRD_CRDT_ASSOC_AFTER, &start, &error));
  g_assert_true (prd_crdt_doc_anchor_at (doc, 11, PRD_CRDT_ASSOC_BEFORE, &end, &error));
  g_assert_true (prd_crdt_doc_anchor_at (doc, 11, PRD_CRDT_ASSOC_AFTER, &at_end, &error));
  g_assert_true (prd_crdt_doc_anchor_at (doc, 0, PRD_CRDT_ASSOC_BEFORE, &at_start, &error));
  g_assert_false (at_end.has_id);
  g_assert_false (at_start.has_id);
  insert_at (doc, 1, 0, ">> ", NULL);
  insert_at (doc, 1, 9, "big ", NULL); /* ">> hello big world" */
  insert_at (doc, 1, 18, "!", NULL);
  g_assert_true (prd_crdt_doc_anchor_resolve (doc, &start, &pos, &error));
  g_assert_cmpuint (pos, ==, 13);
  g_assert_true (prd_crdt_doc_anchor_resolve (doc, &end, &pos, &error));
  g_assert_cmpuint (pos, ==, 18);
  g_assert_true (prd_crdt_doc_anchor_resolve (doc, &at_end, &pos, &error));
  g_assert_cmpuint (pos, ==, 19);
  delete_at (doc, 1, 12, 7, NULL); /* ">> hello big" */
  g_assert_true (prd_crdt_doc_anchor_resolve (doc, &start, &pos, &error));
  g_assert_cmpuint (pos, ==, 12);
  g_assert_true (prd_crdt_doc_anchor_resolve (doc, &end, &pos, &error));
  g_assert_cmpuint (pos, ==, 12);
  g_assert_no_error (error);
  /* Read at the first version ("hello world", site 0's one operation),
   * position 5 (after "hello") is after the same "o" now. */
  {
    const guint32 first[] = { 1 };
    const guint32 ahead[] = { 1, 9 };
    PrdCrdtAnchor then;

    g_assert_true (
        prd_crdt_doc_anchor_at_version (doc, first, 1, 5, PRD_CRDT_ASSOC_BEFORE, &then, &error));
    g_assert_no_error (error);
    g_assert_true (prd_crdt_doc_anchor_resolve (doc, &then, &pos, &error));
    g_assert_cmpuint (pos, ==, 8); /* ">> hello" */
    /* what that read walked back through: site 1's four operations */
    g_assert_cmpuint (prd_crdt_doc_count_missing (doc, first, 1), ==, 4);
    g_assert_cmpuint (prd_crdt_doc_count_missing (doc, NULL, 0), ==, 5);
    g_assert_cmpuint (prd_crdt_doc_count_missing (doc, ahead, 2), ==, 0);
    g_assert_false (
        prd_crdt_doc_anchor_at_version (doc, first, 1, 12, PRD_CRDT_ASSOC_BEFORE, &then, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
    g_clear_error (&error);
    g_assert_false (
        prd_crdt_doc_anchor_at_version (doc, ahead, 2, 0, PRD_CRDT_ASSOC_BEFORE, &then, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
    g_clear_error (&error);
  }
  end.id.clock = 999;
  g_assert_false (prd_crdt_doc_anchor_resolve (doc, &end, &pos, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  g_assert_false (prd_crdt_doc_anchor_at (doc, 13, PRD_CRDT_ASSOC_AFTER, &start, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
}

/* Where an insert's characters are now: its own, visible, in order;
 * text typed among them and deleted characters left out. */
/* What read_at_version() hands its function: a version's length, and
 * where two anchors are in it. */
typedef struct
{
  const PrdCrdtAnchor *caret;
  const PrdCrdtAnchor *typed;
  guint32 length;
  guint32 caret_at;
  guint32 typed_at;
} VersionRead;

static void
read_version (PrdCrdtDoc *doc, gpointer user_data)
{
  VersionRead *read = user_data;

  read->length = prd_crdt_doc_get_length (doc);
  g_assert_true (prd_crdt_doc_anchor_resolve (doc, read->caret, &read->caret_at, NULL));
  g_assert_true (prd_crdt_doc_anchor_resolve (doc, read->typed, &read->typed_at, NULL));
}

static void
test_read_at_version (void)
{
  g_autoptr (PrdCrdtDoc) doc = prd_crdt_doc_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  const guint32 first[] = { 1 };
  const guint32 current[] = { 1, 2 };
  const guint32 ahead[] = { 1, 3 };
  PrdCrdtAnchor caret, typed;
  VersionRead read = { &caret, &typed };

  insert_at (doc, 0, 0, "hello world", NULL);
  g_assert_true (prd_crdt_doc_anchor_at (doc, 5, PRD_CRDT_ASSOC_BEFORE, &caret, &error));
  insert_at (doc, 1, 0, ">> ", NULL);
  delete_at (doc, 1, 8, 1, NULL); /* ">> helloworld" */
  g_assert_true (prd_crdt_doc_anchor_at (doc, 2, PRD_CRDT_ASSOC_BEFORE, &typed, &error));

  /* In the first version: "hello world", the caret after "hello"; the
   * character typed since resolves to where it goes. */
  g_assert_true (prd_crdt_doc_read_at_version (doc, first, 1, read_version, &read, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (read.length, ==, 11);
  g_assert_cmpuint (read.caret_at, ==, 5);
  g_assert_cmpuint (read.typed_at, ==, 0);
  /* And the document is itself again. */
  text = prd_crdt_doc_get_text (doc);
  g_assert_cmpstr (text, ==, ">> helloworld");
  g_assert_true (prd_crdt_doc_read_at_version (doc, current, 2, read_version, &read, &error));
  g_assert_cmpuint (read.length, ==, 13);
  g_assert_cmpuint (read.caret_at, ==, 8);
  g_assert_cmpuint (read.typed_at, ==, 2);
  read.length = 0;
  g_assert_false (prd_crdt_doc_read_at_version (doc, ahead, 2, read_version, &read, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
  g_assert_cmpuint (read.length, ==, 0);
  g_assert_true (prd_crdt_doc_check_consistency (doc, NULL));
}

static void
test_visible_spans (void)
{
  g_autoptr (PrdCrdtDoc) doc = prd_crdt_doc_new ();
  g_autoptr (GArray) spans = NULL;
  const PrdCrdtSpan *span;

  insert_at (doc, 0, 0, "hello world", NULL);
  insert_at (doc, 1, 5, "ABCDEF", NULL); /* "helloABCDEF world", site 1 clocks 0-5 */
  insert_at (doc, 2, 7, "xy", NULL);     /* "helloABxyCDEF world" */
  delete_at (doc, 0, 10, 1, NULL);       /* "helloABxyCEF world": D gone */
  insert_at (doc, 0, 0, ">", NULL);      /* ">helloABxyCEF world" */

  spans = prd_crdt_doc_get_visible_spans (doc, 1, 0, 6);
  g_assert_cmpuint (spans->len, ==, 2);
  span = &g_array_index (spans, PrdCrdtSpan, 0);
  g_assert_cmpuint (span->position, ==, 6);
  g_assert_cmpuint (span->length, ==, 2); /* AB */
  span = &g_array_index (spans, PrdCrdtSpan, 1);
  g_assert_cmpuint (span->position, ==, 10);
  g_assert_cmpuint (span->length, ==, 3); /* C and EF, adjacent once D went */
  g_clear_pointer (&spans, g_array_unref);

  /* Part of it; past what the site has; a site it does not have. */
  spans = prd_crdt_doc_get_visible_spans (doc, 1, 4, 100);
  g_assert_cmpuint (spans->len, ==, 1);
  g_assert_cmpuint (g_array_index (spans, PrdCrdtSpan, 0).position, ==, 11);
  g_assert_cmpuint (g_array_index (spans, PrdCrdtSpan, 0).length, ==, 2);
  g_clear_pointer (&spans, g_array_unref);
  spans = prd_crdt_doc_get_visible_spans (doc, 1, 3, 1);
  g_assert_cmpuint (spans->len, ==, 0);
  g_clear_pointer (&spans, g_array_unref);
  spans = prd_crdt_doc_get_visible_spans (doc, 7, 0, 3);
  g_assert_cmpuint (spans->len, ==, 0);
  g_clear_pointer (&spans, g_array_unref);
  spans = prd_crdt_doc_get_visible_spans (doc, 1, G_MAXUINT32, G_MAXUINT32);
  g_assert_cmpuint (spans->len, ==, 0);
}

/* ---- randomised convergence ------------------------------------------------ */

typedef struct
{
  guint32 site;
  GArray *base;
  gboolean is_insert;
  guint32 pos;
  guint32 len;
  char *text;
  PrdCrdtOp *expect; /* the client's own integration */
} Msg;

static void
msg_free (gpointer p)
{
  Msg *m = p;
  g_array_unref (m->base);
  g_free (m->text);
  prd_crdt_op_free (m->expect);
  g_free (m);
}

static void
assert_same_op (const PrdCrdtOp *a, const PrdCrdtOp *b)
{
  g_assert_cmpint (a->type, ==, b->type);
  g_assert_cmpuint (a->site, ==, b->site);
  g_assert_cmpuint (a->seq, ==, b->seq);
  if (a->type == PRD_CRDT_OP_INSERT)
    {
      g_assert_cmpstr (a->content, ==, b->content);
      g_assert_cmpuint (a->clock, ==, b->clock);
      g_assert_cmpint (a->has_origin, ==, b->has_origin);
      g_assert_cmpint (a->has_right_origin, ==, b->has_right_origin);
      if (a->has_origin)
        g_assert_true (a->origin.site == b->origin.site && a->origin.clock == b->origin.clock);
      if (a->has_right_origin)
        g_assert_true (a->right_origin.site == b->right_origin.site &&
                       a->right_origin.clock == b->right_origin.clock);
    }
  else
    {
      g_assert_cmpuint (a->n_targets, ==, b->n_targets);
      g_assert_cmpmem (a->targets, a->n_targets * sizeof (PrdCrdtIdRange), b->targets,
                       b->n_targets * sizeof (PrdCrdtIdRange));
    }
}

static const char *const snippets[] = { "a",        "b",        "xy", "hello", "\xf0\x9f\x98\x80",
                                        "\xc3\xa9", "12345678", "Z" };

static void
run_case (guint32 seed)
{
  GRand *rand = g_rand_new_with_seed (seed);
  guint n_sites = g_rand_int_range (rand, 2, 9);
  guint n_steps = g_rand_int_range (rand, 10, 80);
  g_autoptr (PrdCrdtDoc) hub = prd_crdt_doc_new ();
  PrdCrdtDoc *clients[8];
  GQueue to_hub[8];
  GPtrArray *inbox[8];
  g_autoptr (GPtrArray) hub_ops =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_crdt_op_free);
  g_autofree char *hub_text = NULL;
  g_autoptr (GArray) hub_vec = NULL;
  guint step = 0;

  for (guint i = 0; i < n_sites; i++)
    {
      clients[i] = prd_crdt_doc_new ();
      g_queue_init (&to_hub[i]);
      inbox[i] = g_ptr_array_new ();
    }

  while (TRUE)
    {
      guint action = g_rand_int_range (rand, 0, 3);
      guint who = g_rand_int_range (rand, 0, n_sites);
      gboolean busy = step < n_steps;

      for (guint i = 0; i < n_sites && !busy; i++)
        busy = !g_queue_is_empty (&to_hub[i]) || inbox[i]->len > 0;
      if (!busy)
        break;

      if (action == 0 && step < n_steps)
        {
          /* a client edits its own replica */
          PrdCrdtDoc *c = clients[who];
          guint32 len = prd_crdt_doc_get_length (c);
          Msg *m = g_new0 (Msg, 1);
          g_autoptr (GError) error = NULL;
          gboolean ok;
          guint32 near, most;

          step++;
          m->site = who;
          m->base = vec (c);
          /* bias towards the same few positions */
          near = g_rand_int_range (rand, 0, 3);
          m->pos = g_rand_boolean (rand) ? MIN (len, near)
                                         : (guint32) g_rand_int_range (rand, 0, len + 1);
          m->is_insert = len == 0 || m->pos == len || g_rand_int_range (rand, 0, 3) > 0;
          if (m->is_insert)
            {
              m->text = g_strdup (snippets[g_rand_int_range (rand, 0, G_N_ELEMENTS (snippets))]);
              ok = prd_crdt_doc_apply_local_insert (c, who, V (m->base), m->pos, m->text, -1, 0,
                                                    &m->expect, &error);
            }
          else
            {
              most = MIN (len - m->pos, 6);
              m->len = g_rand_int_range (rand, 1, most + 1);
              ok = prd_crdt_doc_apply_local_delete (c, who, V (m->base), m->pos, m->len, 0,
                                                    &m->expect, &error);
            }
          if (!ok)
            {
              /* only a split surrogate pair may be refused */
              g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
              if (!strstr (error->message, "surrogate"))
                g_error ("seed %u: %s (len %u, base len %u, is_current len %u)", seed,
                         error->message, len, m->base->len, prd_crdt_doc_get_length (c));
              msg_free (m);
              continue;
            }
          g_queue_push_tail (&to_hub[who], m);
        }
      else if (action == 1 && !g_queue_is_empty (&to_hub[who]))
        {
          /* the hub receives a client's next content-update */
          Msg *m = g_queue_pop_head (&to_hub[who]);
          PrdCrdtOp *op = NULL;
          g_autoptr (GError) error = NULL;

          if (m->is_insert)
            g_assert_true (prd_crdt_doc_apply_local_insert (hub, m->site, V (m->base), m->pos,
                                                            m->text, -1, 0, &op, &error));
          else
            g_assert_true (prd_crdt_doc_apply_local_delete (hub, m->site, V (m->base), m->pos,
                                                            m->len, 0, &op, &error));
          g_assert_no_error (error);
          assert_same_op (op, m->expect);
          g_ptr_array_add (hub_ops, op);
          for (guint i = 0; i < n_sites; i++)
            if (i != m->site)
              g_ptr_array_add (inbox[i], op);
          msg_free (m);
        }
      else if (action == 2 && inbox[who]->len > 0)
        {
          /* a client receives a broadcast, in any order, maybe twice */
          guint k = g_rand_int_range (rand, 0, inbox[who]->len);
          g_autoptr (GError) error = NULL;

          g_assert_true (
              prd_crdt_doc_apply_remote (clients[who], inbox[who]->pdata[k], NULL, &error));
          g_assert_no_error (error);
          if (g_rand_int_range (rand, 0, 4) > 0)
            g_ptr_array_remove_index_fast (inbox[who], k);
        }
    }

  hub_text = prd_crdt_doc_get_text (hub);
  hub_vec = vec (hub);
  /* anchors made on one replica resolve to the same place on every other */
  for (guint k = 0; k < 4; k++)
    {
      PrdCrdtAnchor anchor;
      guint32 len = prd_crdt_doc_get_length (hub), at, there;
      guint32 pos = g_rand_int_range (rand, 0, len + 1);
      PrdCrdtAssoc assoc = k % 2 ? PRD_CRDT_ASSOC_BEFORE : PRD_CRDT_ASSOC_AFTER;

      if (!prd_crdt_doc_anchor_at (hub, pos, assoc, &anchor, NULL))
        continue; /* inside a surrogate pair */
      g_assert_true (prd_crdt_doc_anchor_resolve (hub, &anchor, &at, NULL));
      g_assert_cmpuint (at, ==, pos);
      for (guint i = 0; i < n_sites; i++)
        {
          g_assert_true (prd_crdt_doc_anchor_resolve (clients[i], &anchor, &there, NULL));
          g_assert_cmpuint (there, ==, pos);
        }
    }
  for (guint i = 0; i < n_sites; i++)
    {
      g_autoptr (GArray) v = vec (clients[i]);
      g_assert_cmpuint (prd_crdt_doc_get_n_pending (clients[i]), ==, 0);
      assert_text (clients[i], hub_text);
      g_assert_cmpmem (v->data, v->len * 4, hub_vec->data, hub_vec->len * 4);
    }

  /* a fresh replica fed the hub's operations in a random order */
  {
    g_autoptr (PrdCrdtDoc) fresh = prd_crdt_doc_new ();
    g_autoptr (GPtrArray) missing = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (GArray) v = NULL;

    for (guint i = hub_ops->len; i > 1; i--)
      {
        guint j = g_rand_int_range (rand, 0, i);
        gpointer t = hub_ops->pdata[i - 1];
        hub_ops->pdata[i - 1] = hub_ops->pdata[j];
        hub_ops->pdata[j] = t;
      }
    for (guint i = 0; i < hub_ops->len; i++)
      g_assert_true (prd_crdt_doc_apply_remote (fresh, hub_ops->pdata[i], NULL, &error));
    assert_text (fresh, hub_text);
    v = vec (fresh);
    g_assert_cmpmem (v->data, v->len * 4, hub_vec->data, hub_vec->len * 4);

    missing = prd_crdt_doc_get_missing_ops (hub, NULL, 0, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (missing->len, ==, hub_ops->len);
  }
  /* a replica that has a random part of the history: what it is missing
   * comes in causal order (each operation applies at once) and brings it up
   * to date */
  {
    g_autoptr (PrdCrdtDoc) part = prd_crdt_doc_new ();
    g_autoptr (GPtrArray) all = prd_crdt_doc_get_missing_ops (hub, NULL, 0, NULL);
    g_autoptr (GPtrArray) missing = NULL;
    g_autoptr (GArray) v = NULL;
    g_autoptr (GError) error = NULL;
    guint n = all->len ? g_rand_int_range (rand, 0, all->len) : 0;

    for (guint i = 0; i < n; i++)
      g_assert_true (prd_crdt_doc_apply_remote (
          part, all->pdata[g_rand_int_range (rand, 0, all->len)], NULL, &error));
    v = vec (part);
    missing = prd_crdt_doc_get_missing_ops (hub, V (v), &error);
    g_assert_no_error (error);
    for (guint i = 0; i < missing->len; i++)
      {
        guint applied = 0;
        PrdCrdtOp *op = missing->pdata[i];
        g_assert_true (prd_crdt_doc_apply_remote (part, op, &applied, &error));
        g_assert_no_error (error);
        /* integrated now, not held back */
        g_assert_cmpuint (prd_crdt_doc_get_site_ops (part, op->site), >=, op->seq);
      }
    assert_text (part, hub_text);
    g_assert_cmpuint (prd_crdt_doc_get_n_pending (part), ==, 0);
  }
  {
    g_autoptr (GBytes) state = prd_crdt_doc_encode_state (hub, PRD_CRDT_ENCODE_DEFAULT);
    g_autoptr (GError) error = NULL;
    g_autoptr (PrdCrdtDoc) copy = prd_crdt_doc_decode_state (g_bytes_get_data (state, NULL),
                                                             g_bytes_get_size (state), &error);
    g_assert_no_error (error);
    assert_text (copy, hub_text);
    /* the copy keeps merging: a client at an old version edits it */
    {
      g_autoptr (GArray) v = vec (copy);
      guint32 site = v->len;
      g_autofree guint32 *old = g_new0 (guint32, v->len + 1);
      g_assert_true (prd_crdt_doc_apply_local_insert (copy, site, old, v->len + 1, 0, "#", -1, 0,
                                                      NULL, &error));
      g_assert_no_error (error);
      g_assert_true (prd_crdt_doc_apply_local_insert (hub, site, old, v->len + 1, 0, "#", -1, 0,
                                                      NULL, &error));
      {
        g_autofree char *a = prd_crdt_doc_get_text (copy);
        assert_text (hub, a);
      }
    }
  }

  for (guint i = 0; i < n_sites; i++)
    {
      prd_crdt_doc_free (clients[i]);
      g_queue_clear_full (&to_hub[i], msg_free);
      g_ptr_array_unref (inbox[i]);
    }
  g_rand_free (rand);
}

static void
test_random (void)
{
  guint n = g_test_slow () ? 20000 : 3000;

  for (guint32 seed = 1; seed <= n; seed++)
    {
      if (g_test_verbose ())
        g_test_message ("seed %u", seed);
      run_case (seed);
    }
}

/* ---- traces ------------------------------------------------------------------- */

static void
test_trace (gconstpointer data)
{
  const char *name = data;
  g_autofree char *path = prd_trace_path (source_root, name);
  g_autoptr (PrdTrace) trace = NULL;
  g_autoptr (PrdCrdtDoc) doc = prd_crdt_doc_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("trace not found: see tests/data/traces/README.md");
      return;
    }
  trace = prd_trace_load (path, &error);
  g_assert_no_error (error);
  g_assert_true (prd_trace_replay (doc, trace, FALSE, NULL, NULL, &error));
  g_assert_no_error (error);
  text = prd_crdt_doc_get_text (doc);
  g_assert_true (g_str_equal (text, trace->end_content));

  /* the final state survives encoding, with and without deleted text */
  for (guint flags = 0; flags < 2; flags++)
    {
      g_autoptr (GBytes) state = prd_crdt_doc_encode_state (doc, flags);
      g_autoptr (PrdCrdtDoc) copy = prd_crdt_doc_decode_state (g_bytes_get_data (state, NULL),
                                                               g_bytes_get_size (state), &error);
      g_autofree char *copy_text = NULL;
      g_autoptr (GArray) v1 = vec (doc);
      g_autoptr (GArray) v2 = NULL;

      g_assert_no_error (error);
      copy_text = prd_crdt_doc_get_text (copy);
      g_assert_true (g_str_equal (copy_text, trace->end_content));
      v2 = vec (copy);
      g_assert_cmpmem (v1->data, v1->len * 4, v2->data, v2->len * 4);
      g_test_message ("%s: %u ops, state %" G_GSIZE_FORMAT " bytes (flags %u)", name,
                      prd_crdt_doc_get_site_ops (doc, 0), g_bytes_get_size (state), flags);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  source_root = g_getenv ("PRDHUB_SOURCE_ROOT") ? g_getenv ("PRDHUB_SOURCE_ROOT") : SOURCE_ROOT;

  g_test_add_func ("/prd/crdt/basic", test_basic);
  g_test_add_func ("/prd/crdt/utf16", test_utf16);
  g_test_add_func ("/prd/crdt/utf16-to-utf8", test_utf16_to_utf8);
  g_test_add_func ("/prd/crdt/bad-local", test_bad_local);
  g_test_add_func ("/prd/crdt/old-base", test_old_base);
  g_test_add_func ("/prd/crdt/remote-pending", test_remote_pending);
  g_test_add_func ("/prd/crdt/remote-invalid", test_remote_invalid);
  g_test_add_func ("/prd/crdt/pending-limit", test_pending_limit);
  g_test_add_func ("/prd/crdt/insert-limit", test_insert_limit);
  g_test_add_func ("/prd/crdt/anchors", test_anchors);
  g_test_add_func ("/prd/crdt/read-at-version", test_read_at_version);
  g_test_add_func ("/prd/crdt/visible-spans", test_visible_spans);
  g_test_add_func ("/prd/crdt/random", test_random);
  g_test_add_data_func ("/prd/crdt/trace/automerge-paper", "automerge-paper", test_trace);
  g_test_add_data_func ("/prd/crdt/trace/seph-blog1", "seph-blog1", test_trace);
  g_test_add_data_func ("/prd/crdt/trace/rustcode", "rustcode", test_trace);
  g_test_add_data_func ("/prd/crdt/trace/sveltecomponent", "sveltecomponent", test_trace);
  g_test_add_data_func ("/prd/crdt/trace/friendsforever", "friendsforever", test_trace);
  g_test_add_data_func ("/prd/crdt/trace/clownschool", "clownschool", test_trace);
  return g_test_run ();
}
