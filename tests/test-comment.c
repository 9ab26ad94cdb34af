/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests of comment anchors (they follow inserts and deletes, and a
 * comment whose text is deleted is detached), mention parsing and content
 * limits.
 */
#include "config.h"

#include <string.h>

#include "prd-comment.h"
#include "prd-error.h"

/* Edits @doc as @site, having seen everything. */
static GArray *
base_for (PrdCrdtDoc *doc, guint32 site)
{
  GArray *vector = prd_crdt_doc_get_state_vector (doc);

  if (vector->len <= site)
    g_array_set_size (vector, site + 1);
  return vector;
}

static void
insert (PrdCrdtDoc *doc, guint32 site, guint32 position, const char *text)
{
  g_autoptr (GArray) base = base_for (doc, site);
  g_autoptr (GError) error = NULL;

  g_assert_true (prd_crdt_doc_apply_local_insert (doc, site, (const guint32 *) base->data,
                                                  base->len, position, text, -1, 0, NULL, &error));
  g_assert_no_error (error);
}

static void delete (PrdCrdtDoc *doc, guint32 site, guint32 position, guint32 length)
{
  g_autoptr (GArray) base = base_for (doc, site);
  g_autoptr (GError) error = NULL;

  g_assert_true (prd_crdt_doc_apply_local_delete (doc, site, (const guint32 *) base->data,
                                                  base->len, position, length, 0, NULL, &error));
  g_assert_no_error (error);
}

static PrdCrdtDoc *
doc_with (const char *text)
{
  PrdCrdtDoc *doc = prd_crdt_doc_new ();

  insert (doc, 0, 0, text);
  return doc;
}

static void
assert_place (const PrdCommentAnchor *anchor,
              PrdCrdtDoc *doc,
              guint32 position,
              guint32 start,
              guint32 end,
              const char *text,
              gboolean detached)
{
  g_auto (PrdCommentPlace) place = { 0 };

  prd_comment_anchor_resolve (anchor, doc, NULL, &place);
  g_assert_cmpuint (place.position, ==, position);
  g_assert_cmpuint (place.start, ==, start);
  g_assert_cmpuint (place.end, ==, end);
  g_assert_cmpstr (place.text, ==, text);
  g_assert_cmpint (place.detached, ==, detached);
}

static void
test_insert_before (void)
{
  g_autoptr (PrdCrdtDoc) doc = doc_with ("Hello OAuth2 endpoint world");
  g_autoptr (GError) error = NULL;
  PrdCommentAnchor anchor;

  g_assert_true (prd_comment_anchor_init (&anchor, doc, NULL, 0, 6, TRUE, 6, 21, &error));
  g_assert_no_error (error);
  assert_place (&anchor, doc, 6, 6, 21, "OAuth2 endpoint", FALSE);
  insert (doc, 1, 0, "XXX");
  assert_place (&anchor, doc, 9, 9, 24, "OAuth2 endpoint", FALSE);
  /* Typed at either edge of the selection: outside it; inside: part of it. */
  insert (doc, 1, 24, "!");
  insert (doc, 1, 9, "[");
  assert_place (&anchor, doc, 10, 10, 25, "OAuth2 endpoint", FALSE);
  insert (doc, 2, 15, "++");
  assert_place (&anchor, doc, 10, 10, 27, "OAuth++2 endpoint", FALSE);
  /* Edits after the selection change nothing. */
  insert (doc, 2, 30, "tail");
  assert_place (&anchor, doc, 10, 10, 27, "OAuth++2 endpoint", FALSE);
}

static void
test_delete_across (void)
{
  g_autoptr (PrdCrdtDoc) doc = doc_with ("Hello OAuth2 endpoint world");
  PrdCommentAnchor anchor;

  g_assert_true (prd_comment_anchor_init (&anchor, doc, NULL, 0, 6, TRUE, 6, 21, NULL));
  /* "o OAut" goes: the start moves to what is left. */
  delete (doc, 1, 4, 6);
  assert_place (&anchor, doc, 4, 4, 15, "h2 endpoint", FALSE);
  /* Across the end. */
  delete (doc, 1, 12, 6);
  assert_place (&anchor, doc, 4, 4, 12, "h2 endpo", FALSE);
}

static void
test_delete_anchor (void)
{
  g_autoptr (PrdCrdtDoc) doc = doc_with ("Hello OAuth2 endpoint world");
  PrdCommentAnchor anchor, point;

  g_assert_true (prd_comment_anchor_init (&anchor, doc, NULL, 0, 6, TRUE, 6, 21, NULL));
  g_assert_true (prd_comment_anchor_init (&point, doc, NULL, 0, 22, FALSE, 0, 0, NULL));
  assert_place (&point, doc, 22, 0, 0, NULL, FALSE);
  delete (doc, 1, 6, 15);
  assert_place (&anchor, doc, 6, 6, 6, "", TRUE);
  /* A later insert at the place does not bring the comment back (it lands
   * before the deleted characters). */
  insert (doc, 2, 6, "new");
  assert_place (&anchor, doc, 9, 9, 9, "", TRUE);
  assert_place (&point, doc, 10, 0, 0, NULL, FALSE);
  /* A comment without a selection is detached with its character. */
  delete (doc, 2, 10, 1);
  assert_place (&point, doc, 10, 0, 0, NULL, TRUE);
}

static void
test_concurrent (void)
{
  g_autoptr (PrdCrdtDoc) doc = doc_with ("abcdefghij");
  g_autoptr (GArray) base = prd_crdt_doc_get_state_vector (doc);
  g_autoptr (GError) error = NULL;
  PrdCommentAnchor anchor;

  g_array_set_size (base, 3);
  g_assert_true (prd_comment_anchor_init (&anchor, doc, NULL, 0, 4, TRUE, 4, 7, NULL));
  /* Two sites edit from the same base, neither seeing the other. */
  g_assert_true (prd_crdt_doc_apply_local_insert (doc, 1, (const guint32 *) base->data, base->len,
                                                  2, "12", -1, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (prd_crdt_doc_apply_local_delete (doc, 2, (const guint32 *) base->data, base->len,
                                                  5, 1, 0, NULL, &error));
  g_assert_no_error (error);
  assert_place (&anchor, doc, 6, 6, 8, "eg", FALSE);
}

static void
test_bounds (void)
{
  g_autoptr (PrdCrdtDoc) doc = doc_with ("abc");
  PrdCommentAnchor anchor;
  struct
  {
    guint32 position;
    gboolean selection;
    guint32 start, end;
  } bad[] = {
    { 4, FALSE, 0, 0 }, { 0, TRUE, 2, 2 }, { 0, TRUE, 2, 1 }, { 0, TRUE, 0, 4 }, { 0, TRUE, 5, 9 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_false (prd_comment_anchor_init (&anchor, doc, NULL, 0, bad[i].position,
                                               bad[i].selection, bad[i].start, bad[i].end, &error));
      g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
    }
  /* The end of the text is a valid position. */
  g_assert_true (prd_comment_anchor_init (&anchor, doc, NULL, 0, 3, TRUE, 0, 3, NULL));
  assert_place (&anchor, doc, 3, 0, 3, "abc", FALSE);
}

static void
test_utf16 (void)
{
  g_autofree char *a = prd_comment_utf16_slice ("a😀b", 1, 3);
  g_autofree char *b = prd_comment_utf16_slice ("a😀b", 3, 4);
  g_autofree char *c = prd_comment_utf16_slice ("abc", 2, 99);

  g_assert_cmpstr (a, ==, "😀");
  g_assert_cmpstr (b, ==, "b");
  g_assert_cmpstr (c, ==, "c");
}

/* selection.text is cut at PRD_COMMENT_MAX_SELECTION_TEXT UTF-16 code
 * units, never inside a surrogate pair, and says so. */
static void
test_selection_cut (void)
{
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (PrdCrdtDoc) doc = NULL;
  g_autoptr (PrdCommentText) shared = NULL;
  g_autofree char *head = NULL;
  PrdCommentAnchor anchor;

  /* 450 units, then 999 'a', an emoji across the limit, 1200 'b'. */
  for (guint i = 0; i < 150; i++)
    g_string_append (text, "x\xf0\x9f\x98\x80");
  for (guint i = 0; i < 999; i++)
    g_string_append_c (text, 'a');
  g_string_append (text, "\xf0\x9f\x98\x80");
  for (guint i = 0; i < 1200; i++)
    g_string_append_c (text, 'b');
  doc = doc_with (text->str);
  shared = prd_comment_text_new (doc);

  /* 150 × ("x" + emoji) = 450 units before the 'a's. */
  g_assert_true (prd_comment_anchor_init (&anchor, doc, NULL, 0, 450, TRUE, 450, 2651, NULL));
  for (guint round = 0; round < 2; round++)
    {
      g_auto (PrdCommentPlace) place = { 0 };
      g_autofree char *as = g_strnfill (999, 'a');

      prd_comment_anchor_resolve (&anchor, doc, round == 0 ? NULL : shared, &place);
      g_assert_cmpuint (place.start, ==, 450);
      g_assert_cmpuint (place.end, ==, 2651);
      g_assert_cmpstr (place.text, ==, as);
      g_assert_true (place.truncated);
    }
  g_assert_true (prd_comment_anchor_init (&anchor, doc, NULL, 0, 0, TRUE, 0, 3, NULL));
  {
    g_auto (PrdCommentPlace) place = { 0 };

    prd_comment_anchor_resolve (&anchor, doc, shared, &place);
    g_assert_cmpstr (place.text, ==, "x\xf0\x9f\x98\x80");
    g_assert_false (place.truncated);
  }
  /* Exactly the limit: whole, not truncated. */
  head = g_strnfill (1000, 'b');
  g_assert_true (prd_comment_anchor_init (&anchor, doc, NULL, 0, 1451, TRUE, 1451, 2451, NULL));
  {
    g_auto (PrdCommentPlace) place = { 0 };

    prd_comment_anchor_resolve (&anchor, doc, shared, &place);
    g_assert_cmpstr (place.text, ==, head);
    g_assert_false (place.truncated);
  }
}

static void
test_mentions (void)
{
  g_autoptr (GPtrArray) names =
      prd_comment_parse_mentions ("hi @bob, @Sarah.Smith. mail a@b.c @bob @ @user_1-x!");
  g_autoptr (GPtrArray) none = prd_comment_parse_mentions ("no mentions @ here x@y");

  g_assert_cmpuint (names->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (names, 0), ==, "bob");
  g_assert_cmpstr (g_ptr_array_index (names, 1), ==, "Sarah.Smith");
  g_assert_cmpstr (g_ptr_array_index (names, 2), ==, "user_1-x");
  g_assert_cmpuint (none->len, ==, 0);
}

static void
test_content (void)
{
  g_autofree char *max = g_strnfill (PRD_COMMENT_MAX_CONTENT, 'x');
  g_autofree char *over = g_strnfill (PRD_COMMENT_MAX_CONTENT + 1, 'x');
  g_autoptr (GString) wide = g_string_new (NULL);
  g_autoptr (GError) error = NULL;

  for (int i = 0; i < PRD_COMMENT_MAX_CONTENT; i++)
    g_string_append (wide, "é");
  g_assert_true (prd_comment_validate_content ("content", max, NULL));
  g_assert_true (prd_comment_validate_content ("content", wide->str, NULL));
  g_assert_false (prd_comment_validate_content ("content", over, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_clear_error (&error);
  g_assert_false (prd_comment_validate_content ("content", "", &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/prd/comment/insert-before", test_insert_before);
  g_test_add_func ("/prd/comment/delete-across", test_delete_across);
  g_test_add_func ("/prd/comment/delete-anchor", test_delete_anchor);
  g_test_add_func ("/prd/comment/concurrent", test_concurrent);
  g_test_add_func ("/prd/comment/bounds", test_bounds);
  g_test_add_func ("/prd/comment/utf16", test_utf16);
  g_test_add_func ("/prd/comment/selection-cut", test_selection_cut);
  g_test_add_func ("/prd/comment/mentions", test_mentions);
  g_test_add_func ("/prd/comment/content", test_content);

  return g_test_run ();
}
