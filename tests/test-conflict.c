/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests of the conflict rule: which pairs of integrated edits must and
 * must not be flagged, and the window that bounds the comparison.
 */
#include "config.h"

#include <string.h>

#include "prd-conflict.h"

/* A replica: the hub's document plus the window of recent edits. */
typedef struct
{
  PrdCrdtDoc *doc;
  PrdConflictWindow *window;
  gint64 now;
} Hub;

static void
hub_init (Hub *hub, const char *text)
{
  g_autoptr (GArray) base = g_array_new (FALSE, TRUE, sizeof (guint32));

  hub->doc = prd_crdt_doc_new ();
  hub->window =
      prd_conflict_window_new (PRD_CONFLICT_DEFAULT_WINDOW_EDITS, PRD_CONFLICT_DEFAULT_WINDOW_AGE);
  hub->now = 1;
  g_array_set_size (base, 1);
  g_assert_true (prd_crdt_doc_apply_local_insert (hub->doc, 0, (const guint32 *) base->data,
                                                  base->len, 0, text, -1, 0, NULL, NULL));
}

static void
hub_clear (Hub *hub)
{
  prd_crdt_doc_free (hub->doc);
  prd_conflict_window_free (hub->window);
}

/* The hub's vector now, with @site's entry present: a client that has
 * seen everything. */
static GArray *
seen_all (Hub *hub, guint32 site)
{
  GArray *vector = prd_crdt_doc_get_state_vector (hub->doc);

  if (vector->len <= site)
    g_array_set_size (vector, site + 1);
  return vector;
}

/* Integrates one client edit made at @base (NULL: having seen everything)
 * and returns the number of conflicts it raised. */
static guint
edit (Hub *hub,
      const char *user,
      guint32 site,
      GArray *base,
      gboolean insert,
      guint32 position,
      const char *text,
      guint32 length,
      char **out_other_text)
{
  g_autoptr (GArray) own = base != NULL ? g_array_ref (base) : seen_all (hub, site);
  g_autoptr (GArray) vector = g_array_copy (own);
  g_autoptr (PrdCrdtOp) op = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) found = NULL;
  PrdConflictEdit *e;
  gboolean ok;

  if (vector->len <= site)
    g_array_set_size (vector, site + 1);
  g_array_index (vector, guint32, site) = prd_crdt_doc_get_site_ops (hub->doc, site);
  if (insert)
    ok = prd_crdt_doc_apply_local_insert (hub->doc, site, (const guint32 *) vector->data,
                                          vector->len, position, text, -1, 0, &op, &error);
  else
    ok = prd_crdt_doc_apply_local_delete (hub->doc, site, (const guint32 *) vector->data,
                                          vector->len, position, length, 0, &op, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  e = prd_conflict_edit_new (op, (const guint32 *) vector->data, vector->len, position, user, user,
                             hub->now++);
  found = prd_conflict_window_add (hub->window, hub->doc, e);
  if (out_other_text != NULL)
    *out_other_text =
        found->len > 0
            ? g_strdup (prd_conflict_edit_get_text (g_ptr_array_index (found, 0), hub->doc))
            : NULL;
  return found->len;
}

static void
test_same_user (void)
{
  Hub hub;
  g_autoptr (GArray) stale = NULL;

  hub_init (&hub, "hello world");
  stale = prd_crdt_doc_get_state_vector (hub.doc);
  g_assert_cmpuint (edit (&hub, "alice", 1, stale, TRUE, 5, "X", 0, NULL), ==, 0);
  /* Alice's second connection, which had not seen the first edit. */
  g_assert_cmpuint (edit (&hub, "alice", 2, stale, TRUE, 5, "Y", 0, NULL), ==, 0);
  hub_clear (&hub);
}

static void
test_sequential (void)
{
  Hub hub;

  hub_init (&hub, "hello world");
  g_assert_cmpuint (edit (&hub, "alice", 1, NULL, TRUE, 5, "X", 0, NULL), ==, 0);
  /* Bob saw Alice's edit: right next to it, but no conflict. */
  g_assert_cmpuint (edit (&hub, "bob", 2, NULL, TRUE, 6, "Y", 0, NULL), ==, 0);
  g_assert_cmpuint (edit (&hub, "bob", 2, NULL, FALSE, 4, NULL, 3, NULL), ==, 0);
  hub_clear (&hub);
}

static void
test_concurrent_far_apart (void)
{
  Hub hub;
  g_autoptr (GArray) stale = NULL;

  hub_init (&hub, "hello wonderful world");
  stale = prd_crdt_doc_get_state_vector (hub.doc);
  g_assert_cmpuint (edit (&hub, "alice", 1, stale, TRUE, 0, "A", 0, NULL), ==, 0);
  g_assert_cmpuint (edit (&hub, "bob", 2, stale, TRUE, 21, "B", 0, NULL), ==, 0);
  /* One unit apart is not touching: Alice's "A" is [0, 1], this is [2, 3]. */
  g_assert_cmpuint (edit (&hub, "carol", 3, stale, TRUE, 1, "C", 0, NULL), ==, 0);
  g_assert_cmpuint (edit (&hub, "dave", 4, stale, FALSE, 10, NULL, 3, NULL), ==, 0);
  hub_clear (&hub);
}

static void
test_concurrent_overlapping (void)
{
  Hub hub;
  g_autoptr (GArray) stale = NULL;
  g_autofree char *other = NULL;

  hub_init (&hub, "hello world");
  stale = prd_crdt_doc_get_state_vector (hub.doc);
  g_assert_cmpuint (edit (&hub, "alice", 1, stale, FALSE, 0, NULL, 5, NULL), ==, 0);
  /* Bob deletes "lo wo", overlapping Alice's deleted "hello". */
  g_assert_cmpuint (edit (&hub, "bob", 2, stale, FALSE, 3, NULL, 5, &other), ==, 1);
  g_assert_cmpstr (other, ==, "hello");
  hub_clear (&hub);
}

static void
test_touching (void)
{
  Hub hub;
  g_autoptr (GArray) stale = NULL;
  g_autofree char *other = NULL;

  hub_init (&hub, "hello world");
  stale = prd_crdt_doc_get_state_vector (hub.doc);
  g_assert_cmpuint (edit (&hub, "alice", 1, stale, TRUE, 5, "AAA", 0, NULL), ==, 0);
  /* Both typed at the same place. */
  g_assert_cmpuint (edit (&hub, "bob", 2, stale, TRUE, 5, "BB", 0, &other), ==, 1);
  g_assert_cmpstr (other, ==, "AAA");
  hub_clear (&hub);

  hub_init (&hub, "hello world");
  stale = (g_array_unref (stale), prd_crdt_doc_get_state_vector (hub.doc));
  g_assert_cmpuint (edit (&hub, "alice", 1, stale, TRUE, 5, "AAA", 0, NULL), ==, 0);
  /* Bob deleted " world", which starts where Alice's text ends. */
  g_assert_cmpuint (edit (&hub, "bob", 2, stale, FALSE, 5, NULL, 6, NULL), ==, 1);
  hub_clear (&hub);
}

static void
test_delete_across_insert (void)
{
  Hub hub;
  g_autoptr (GArray) stale = NULL;
  g_autofree char *other = NULL;
  g_autofree char *text = NULL;

  hub_init (&hub, "abcdefgh");
  stale = prd_crdt_doc_get_state_vector (hub.doc);
  g_assert_cmpuint (edit (&hub, "alice", 1, stale, TRUE, 4, "XY", 0, NULL), ==, 0);
  /* Bob deletes "bcdefg" around Alice's insert; the CRDT keeps "XY". */
  g_assert_cmpuint (edit (&hub, "bob", 2, stale, FALSE, 1, NULL, 6, &other), ==, 1);
  g_assert_cmpstr (other, ==, "XY");
  text = prd_crdt_doc_get_text (hub.doc);
  g_assert_cmpstr (text, ==, "aXYh");
  hub_clear (&hub);

  /* The other way round: the delete first, the insert inside it later. */
  hub_init (&hub, "abcdefgh");
  stale = (g_array_unref (stale), prd_crdt_doc_get_state_vector (hub.doc));
  g_assert_cmpuint (edit (&hub, "bob", 2, stale, FALSE, 1, NULL, 6, NULL), ==, 0);
  g_clear_pointer (&other, g_free);
  g_assert_cmpuint (edit (&hub, "alice", 1, stale, TRUE, 4, "XY", 0, &other), ==, 1);
  g_assert_cmpstr (other, ==, "bcdefg");
  hub_clear (&hub);
}

static void
test_later_edit_moves_range (void)
{
  Hub hub;
  g_autoptr (GArray) stale = NULL;
  g_autofree char *other = NULL;
  g_autofree char *other2 = NULL;

  hub_init (&hub, "hello world");
  stale = prd_crdt_doc_get_state_vector (hub.doc);
  g_assert_cmpuint (edit (&hub, "alice", 1, stale, TRUE, 6, "big ", 0, NULL), ==, 0);
  /* Carol, up to date, types at the start: Alice's range moves right. */
  g_assert_cmpuint (edit (&hub, "carol", 3, NULL, TRUE, 0, ">>>>>>>>", 0, NULL), ==, 0);
  /* Bob, who saw neither, types at the start: Carol's text, not Alice's
   * (which moved away from position 0). */
  g_assert_cmpuint (edit (&hub, "bob", 2, stale, TRUE, 0, "Z", 0, &other), ==, 1);
  g_assert_cmpstr (other, ==, ">>>>>>>>");
  /* Dave, who saw neither, types where Alice did in his text: hers only. */
  g_assert_cmpuint (edit (&hub, "dave", 4, stale, TRUE, 6, "Q", 0, &other2), ==, 1);
  g_assert_cmpstr (other2, ==, "big ");
  hub_clear (&hub);
}

static void
test_window_bounds (void)
{
  g_autoptr (PrdConflictWindow) window = prd_conflict_window_new (2, 100);
  g_autoptr (PrdCrdtDoc) doc = prd_crdt_doc_new ();
  g_autoptr (GArray) base = g_array_new (FALSE, TRUE, sizeof (guint32));
  g_autoptr (GPtrArray) found = NULL;

  g_array_set_size (base, 4);
  for (guint32 site = 1; site <= 3; site++)
    {
      g_autoptr (PrdCrdtOp) op = NULL;
      g_autoptr (GPtrArray) none = NULL;
      g_autofree char *user = g_strdup_printf ("user%u", site);

      g_array_index (base, guint32, site) = 0;
      g_assert_true (prd_crdt_doc_apply_local_insert (doc, site, (const guint32 *) base->data,
                                                      base->len, 0, "x", -1, 0, &op, NULL));
      none = prd_conflict_window_add (window, doc,
                                      prd_conflict_edit_new (op, (const guint32 *) base->data,
                                                             base->len, 0, user, NULL,
                                                             site == 3 ? 1000 : site));
      /* Site 2 conflicts with site 1; site 3 comes too late for both. */
      g_assert_cmpuint (none->len, ==, site == 2 ? 1 : 0);
      g_assert_cmpuint (prd_conflict_window_get_n_edits (window), ==, site == 3 ? 1 : site);
    }
  /* Expiry alone (the hub's sweep of windows nobody edits any more). */
  g_assert_cmpuint (prd_conflict_window_expire (window, 1100), ==, 1);
  g_assert_cmpuint (prd_conflict_window_expire (window, 1101), ==, 0);
  g_assert_cmpuint (prd_conflict_window_get_n_edits (window), ==, 0);
}

/* The window against the rule applied to its kept edits one by one: many
 * concurrent writers at stale bases, past the window's size many times. */
static void
test_window_random (void)
{
  const guint max_edits = 8, n_sites = 4;
  g_autoptr (PrdConflictWindow) window = prd_conflict_window_new (max_edits, G_MAXINT64 / 2);
  g_autoptr (PrdCrdtDoc) doc = prd_crdt_doc_new ();
  g_autoptr (GPtrArray) kept = g_ptr_array_new (); /* the window's edits, oldest first */
  GArray *seen[4];
  GRand *rand = g_rand_new_with_seed (11);
  guint n_conflicts = 0;

  for (guint i = 0; i < n_sites; i++)
    {
      seen[i] = g_array_new (FALSE, TRUE, sizeof (guint32));
      g_array_set_size (seen[i], n_sites + 1);
    }
  for (guint n = 0; n < 400; n++)
    {
      guint32 site = 1 + g_rand_int_range (rand, 0, n_sites);
      GArray *vector = seen[site - 1];
      g_autofree char *text = NULL;
      g_autofree char *user = g_strdup_printf ("user%u", site);
      g_autoptr (PrdCrdtOp) op = NULL;
      g_autoptr (GPtrArray) found = NULL;
      g_autoptr (GPtrArray) expected = g_ptr_array_new ();
      g_autoptr (GError) error = NULL;
      PrdConflictEdit *e;
      guint32 position;

      /* Now and then the writer catches up with everything. */
      if (g_rand_int_range (rand, 0, 4) == 0)
        {
          g_autoptr (GArray) now = prd_crdt_doc_get_state_vector (doc);

          for (guint k = 0; k < now->len && k < vector->len; k++)
            g_array_index (vector, guint32, k) = g_array_index (now, guint32, k);
        }
      text = prd_crdt_doc_get_text_at (doc, (const guint32 *) vector->data, vector->len, NULL);
      g_assert_nonnull (text);
      /* Near the start, where the writers meet. */
      position = (guint32) g_rand_int_range (rand, 0, 4);
      position = MIN (position, (guint32) strlen (text));
      prd_crdt_doc_apply_local_insert (doc, site, (const guint32 *) vector->data, vector->len,
                                       position, "ab", -1, 0, &op, &error);
      g_assert_no_error (error);
      e = prd_conflict_edit_new (op, (const guint32 *) vector->data, vector->len, position, user,
                                 NULL, n);
      g_array_index (vector, guint32, site) = op->seq;

      if (kept->len == max_edits)
        g_ptr_array_remove_index (kept, 0);
      for (guint k = 0; k < kept->len; k++)
        if (prd_conflict_edits_conflict (kept->pdata[k], e, doc, NULL))
          g_ptr_array_add (expected, kept->pdata[k]);
      found = prd_conflict_window_add (window, doc, e);
      g_ptr_array_add (kept, e);

      g_assert_cmpuint (found->len, ==, expected->len);
      for (guint k = 0; k < found->len; k++)
        g_assert_true (found->pdata[k] == expected->pdata[k]);
      g_assert_cmpuint (prd_conflict_window_get_n_edits (window), ==, kept->len);
      n_conflicts += found->len;
    }
  /* The test compared something. */
  g_assert_cmpuint (n_conflicts, >, 40);
  for (guint i = 0; i < n_sites; i++)
    g_array_unref (seen[i]);
  g_rand_free (rand);
}

/* A base vector padded with zeros (a missing entry is 0) is kept without
 * them: each of the window's edits holds its base, and a client's padding up
 * to PRD_CRDT_MAX_SITES entries would make each one 256 KiB. */
static void
test_padded_base (void)
{
  Hub hub;
  g_autoptr (GArray) stale = NULL;
  g_autoptr (GArray) padded = NULL;
  g_autoptr (GArray) vector = NULL;
  g_autoptr (PrdCrdtOp) op = NULL;
  g_autoptr (GPtrArray) found = NULL;
  PrdConflictEdit *e;

  hub_init (&hub, "hello world");
  stale = prd_crdt_doc_get_state_vector (hub.doc);
  g_assert_cmpuint (edit (&hub, "alice", 1, stale, TRUE, 5, "X", 0, NULL), ==, 0);

  /* Bob, at site 2, had not seen Alice's edit: [1, 0, 0, 0, …]. */
  padded = g_array_copy (stale);
  g_array_set_size (padded, PRD_CRDT_MAX_SITES);
  g_assert_true (prd_crdt_doc_apply_local_insert (hub.doc, 2, (const guint32 *) padded->data,
                                                  padded->len, 5, "Y", -1, 0, &op, NULL));
  e = prd_conflict_edit_new (op, (const guint32 *) padded->data, padded->len, 5, "bob", "bob",
                             hub.now++);
  g_assert_cmpuint (e->base->len, ==, 1);
  g_assert_cmpuint (g_array_index (e->base, guint32, 0), ==, 1);
  /* Still compared as the vector it stands for. */
  found = prd_conflict_window_add (hub.window, hub.doc, e);
  g_assert_cmpuint (found->len, ==, 1);

  /* Only zeros: nothing at all is kept. */
  vector = g_array_new (FALSE, TRUE, sizeof (guint32));
  g_array_set_size (vector, 1000);
  e = prd_conflict_edit_new (op, (const guint32 *) vector->data, vector->len, 5, "carol", "carol",
                             hub.now++);
  g_assert_cmpuint (e->base->len, ==, 0);
  prd_conflict_edit_free (e);
  hub_clear (&hub);
}

static void
test_utf16_substring (void)
{
  g_autofree char *a = prd_utf16_substring ("a\xF0\x9F\x98\x80"
                                            "bc",
                                            1, 3);
  g_autofree char *b = prd_utf16_substring ("abc", 3, 0);
  g_autofree char *c = prd_utf16_substring ("abc", 1, 10);

  g_assert_cmpstr (a, ==,
                   "\xF0\x9F\x98\x80"
                   "b");
  g_assert_cmpstr (b, ==, "");
  g_assert_cmpstr (c, ==, "bc");
}

/* One client edit at @stale (its own entry brought up to date). */
static PrdCrdtOp *
apply_at (PrdCrdtDoc *doc,
          guint32 site,
          GArray *stale,
          const char *text,
          guint32 position,
          guint32 length)
{
  g_autoptr (GArray) vector = g_array_copy (stale);
  g_autoptr (GError) error = NULL;
  PrdCrdtOp *op = NULL;
  gboolean ok;

  if (vector->len <= site)
    g_array_set_size (vector, site + 1);
  g_array_index (vector, guint32, site) = prd_crdt_doc_get_site_ops (doc, site);
  if (text != NULL)
    ok = prd_crdt_doc_apply_local_insert (doc, site, (const guint32 *) vector->data, vector->len,
                                          position, text, -1, 0, &op, &error);
  else
    ok = prd_crdt_doc_apply_local_delete (doc, site, (const guint32 *) vector->data, vector->len,
                                          position, length, 0, &op, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  return op;
}

/* "text": a's delete (@a_position, @a_length) and b's edit (an insert of
 * @b_text, else a delete of @b_length), concurrent; undoing a's delete
 * as the hub does (the pieces from the last) must give @expected. */
static void
check_restore (const char *text,
               guint32 a_position,
               guint32 a_length,
               guint32 b_position,
               const char *b_text,
               guint32 b_length,
               const char *expected)
{
  Hub hub;
  g_autoptr (GArray) stale = NULL;
  g_autoptr (PrdCrdtOp) a = NULL;
  g_autoptr (PrdCrdtOp) b = NULL;
  g_autoptr (GPtrArray) pieces = NULL;
  g_autofree char *deleted = prd_utf16_substring (text, a_position, a_length);
  g_autofree char *result = NULL;

  hub_init (&hub, text);
  stale = prd_crdt_doc_get_state_vector (hub.doc);
  a = apply_at (hub.doc, 1, stale, NULL, a_position, a_length);
  b = apply_at (hub.doc, 2, stale, b_text, b_position, b_length);
  pieces = prd_conflict_restore_pieces (hub.doc, a, deleted, (const PrdCrdtOp *const *) &b, 1);
  g_assert_nonnull (pieces);
  for (guint i = 1; i < pieces->len; i++)
    g_assert_cmpuint (((PrdConflictRestore *) pieces->pdata[i - 1])->position, <=,
                      ((PrdConflictRestore *) pieces->pdata[i])->position);
  for (guint i = pieces->len; i > 0; i--)
    {
      const PrdConflictRestore *piece = pieces->pdata[i - 1];
      g_autoptr (GArray) now = seen_all (&hub, 3);
      g_autoptr (PrdCrdtOp) op = apply_at (hub.doc, 3, now, piece->text, piece->position, 0);
    }
  result = prd_crdt_doc_get_text (hub.doc);
  g_assert_cmpstr (result, ==, expected);
  hub_clear (&hub);
}

/* Undoing a delete puts back only what the other delete did not remove
 * too, each character where it was. */
static void
test_restore_pieces (void)
{
  /* Overlapping deletes: "llo w" and "o wor". */
  check_restore ("hello world", 2, 5, 4, NULL, 5, "hellld");
  check_restore ("hello world", 4, 5, 2, NULL, 5, "heorld");
  /* The other delete inside this one: both sides of it come back. */
  check_restore ("abcdefgh", 1, 6, 3, NULL, 2, "abcfgh");
  /* This delete inside the other one: nothing comes back. */
  check_restore ("abcdefgh", 3, 2, 1, NULL, 6, "ah");
  /* Apart: all of it. */
  check_restore ("abcdefgh", 1, 2, 5, NULL, 2, "abcdeh");
  /* Text typed inside the deleted text stays where it was typed. */
  check_restore ("hello world", 0, 5, 3, "QQ", 0, "helQQlo world");
  check_restore ("abcdefgh", 1, 6, 4, "XY", 0, "abcdXYefgh");
  /* Surrogate pairs: "\xF0\x9F\x98\x80b\xF0\x9F\x98\x8E" and "b\xF0\x9F\x98\x8E". */
  check_restore ("a\xF0\x9F\x98\x80"
                 "b\xF0\x9F\x98\x8E"
                 "c",
                 1, 5, 3, NULL, 3,
                 "a\xF0\x9F\x98\x80"
                 "c");
}

/* A deleted text that is not the operation's: no pieces (the hub then
 * puts the whole text back as before). */
static void
test_restore_mismatch (void)
{
  Hub hub;
  g_autoptr (GArray) stale = NULL;
  g_autoptr (PrdCrdtOp) a = NULL;
  g_autoptr (GPtrArray) pieces = NULL;
  g_autoptr (GPtrArray) alone = NULL;

  hub_init (&hub, "hello world");
  stale = prd_crdt_doc_get_state_vector (hub.doc);
  a = apply_at (hub.doc, 1, stale, NULL, 2, 5);
  pieces = prd_conflict_restore_pieces (hub.doc, a, "llo", NULL, 0);
  g_assert_null (pieces);
  alone = prd_conflict_restore_pieces (hub.doc, a, "llo w", NULL, 0);
  g_assert_nonnull (alone);
  g_assert_cmpuint (alone->len, ==, 1);
  g_assert_cmpuint (((PrdConflictRestore *) alone->pdata[0])->position, ==, 2);
  g_assert_cmpstr (((PrdConflictRestore *) alone->pdata[0])->text, ==, "llo w");
  hub_clear (&hub);
}

/* Undoing a's delete while several deletes stand (overlapping one another,
 * listed in any order): only what none of them removed comes back. */
static void
test_restore_several (void)
{
  Hub hub;
  g_autoptr (GArray) stale = NULL;
  g_autoptr (PrdCrdtOp) a = NULL;
  g_autoptr (PrdCrdtOp) b = NULL;
  g_autoptr (PrdCrdtOp) c = NULL;
  g_autoptr (PrdCrdtOp) d = NULL;

  hub_init (&hub, "hello world");
  stale = prd_crdt_doc_get_state_vector (hub.doc);
  a = apply_at (hub.doc, 1, stale, NULL, 2, 5); /* "llo w" */
  b = apply_at (hub.doc, 2, stale, NULL, 4, 5); /* "o wor" */
  c = apply_at (hub.doc, 3, stale, NULL, 0, 3); /* "hel" */
  d = apply_at (hub.doc, 4, stale, NULL, 3, 2); /* "lo", inside b's and c's */
  {
    const PrdCrdtOp *also[] = { d, c, b };
    g_autoptr (GPtrArray) pieces =
        prd_conflict_restore_pieces (hub.doc, a, "llo w", also, G_N_ELEMENTS (also));

    /* l (c), l o (d), o and the space (b): nothing left */
    g_assert_nonnull (pieces);
    g_assert_cmpuint (pieces->len, ==, 0);
  }
  {
    const PrdCrdtOp *also[] = { b, c };
    g_autoptr (GPtrArray) pieces =
        prd_conflict_restore_pieces (hub.doc, a, "llo w", also, G_N_ELEMENTS (also));

    /* the second l: b and c did not delete it (d did, but does not count) */
    g_assert_nonnull (pieces);
    g_assert_cmpuint (pieces->len, ==, 1);
    g_assert_cmpstr (((PrdConflictRestore *) pieces->pdata[0])->text, ==, "l");
    g_assert_cmpuint (((PrdConflictRestore *) pieces->pdata[0])->position, ==, 0);
  }
  hub_clear (&hub);

  /* One standing delete inside another: the outer one still counts. */
  hub_init (&hub, "abcdefgh");
  g_clear_pointer (&stale, g_array_unref);
  g_clear_pointer (&a, prd_crdt_op_free);
  g_clear_pointer (&b, prd_crdt_op_free);
  g_clear_pointer (&c, prd_crdt_op_free);
  stale = prd_crdt_doc_get_state_vector (hub.doc);
  a = apply_at (hub.doc, 1, stale, NULL, 1, 6); /* "bcdefg" */
  b = apply_at (hub.doc, 2, stale, NULL, 0, 8); /* all */
  c = apply_at (hub.doc, 3, stale, NULL, 2, 1); /* "c" */
  {
    const PrdCrdtOp *also[] = { b, c };
    g_autoptr (GPtrArray) pieces =
        prd_conflict_restore_pieces (hub.doc, a, "bcdefg", also, G_N_ELEMENTS (also));

    g_assert_nonnull (pieces);
    g_assert_cmpuint (pieces->len, ==, 0);
  }
  hub_clear (&hub);
}

/* The window remembers that a kept edit was undone, for the conflicts it
 * raises later. */
static void
test_window_mark_undone (void)
{
  Hub hub;
  g_autoptr (GArray) stale = NULL;
  g_autoptr (PrdCrdtOp) a = NULL;
  g_autoptr (PrdCrdtOp) b = NULL;
  g_autoptr (GPtrArray) none = NULL;
  g_autoptr (GPtrArray) found = NULL;

  hub_init (&hub, "hello world");
  stale = prd_crdt_doc_get_state_vector (hub.doc);
  a = apply_at (hub.doc, 1, stale, NULL, 0, 6);
  none = prd_conflict_window_add (
      hub.window, hub.doc,
      prd_conflict_edit_new (a, (const guint32 *) stale->data, stale->len, 0, "a", NULL, hub.now));
  g_assert_cmpuint (none->len, ==, 0);
  g_assert_false (prd_conflict_window_mark_undone (hub.window, a->site, a->seq + 1));
  g_assert_false (prd_conflict_window_mark_undone (hub.window, a->site + 1, a->seq));
  g_assert_true (prd_conflict_window_mark_undone (hub.window, a->site, a->seq));
  b = apply_at (hub.doc, 2, stale, "X", 1, 0);
  found = prd_conflict_window_add (
      hub.window, hub.doc,
      prd_conflict_edit_new (b, (const guint32 *) stale->data, stale->len, 1, "b", NULL, hub.now));
  g_assert_cmpuint (found->len, ==, 1);
  g_assert_true (((PrdConflictEdit *) found->pdata[0])->undone);
  hub_clear (&hub);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/prd/conflict/same-user", test_same_user);
  g_test_add_func ("/prd/conflict/sequential", test_sequential);
  g_test_add_func ("/prd/conflict/concurrent-far-apart", test_concurrent_far_apart);
  g_test_add_func ("/prd/conflict/concurrent-overlapping", test_concurrent_overlapping);
  g_test_add_func ("/prd/conflict/touching", test_touching);
  g_test_add_func ("/prd/conflict/delete-across-insert", test_delete_across_insert);
  g_test_add_func ("/prd/conflict/later-edit-moves-range", test_later_edit_moves_range);
  g_test_add_func ("/prd/conflict/window-bounds", test_window_bounds);
  g_test_add_func ("/prd/conflict/window-random", test_window_random);
  g_test_add_func ("/prd/conflict/padded-base", test_padded_base);
  g_test_add_func ("/prd/conflict/utf16-substring", test_utf16_substring);
  g_test_add_func ("/prd/conflict/restore-pieces", test_restore_pieces);
  g_test_add_func ("/prd/conflict/restore-mismatch", test_restore_mismatch);
  g_test_add_func ("/prd/conflict/restore-several", test_restore_several);
  g_test_add_func ("/prd/conflict/window-mark-undone", test_window_mark_undone);
  return g_test_run ();
}
