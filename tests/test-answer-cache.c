/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The REST reads' kept answers (prd-hub-answer-cache.c): an answer is found
 * only at the state vector it was made at, the least recently used goes
 * first, and the entries and bytes kept never pass their limits.
 */
#include "config.h"

#include "prd-hub-answer-cache.h"

static GArray *
vector (guint32 a, guint32 b)
{
  GArray *v = g_array_new (FALSE, FALSE, sizeof (guint32));

  g_array_append_val (v, a);
  g_array_append_val (v, b);
  return v;
}

static GBytes *
bytes_of (gsize size)
{
  return g_bytes_new_take (g_malloc0 (size), size);
}

static void
test_vector (void)
{
  g_autoptr (PrdHubAnswerCache) cache = prd_hub_answer_cache_new (4, 1024);
  g_autoptr (GArray) v1 = vector (1, 2);
  g_autoptr (GArray) v2 = vector (1, 3);
  g_autoptr (GArray) empty = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr (GBytes) answer = bytes_of (10);
  g_autoptr (GBytes) other = bytes_of (20);

  prd_hub_answer_cache_insert (cache, "prd_a", v1, answer);
  g_assert_true (prd_hub_answer_cache_lookup (cache, "prd_a", v1) == answer);
  g_assert_null (prd_hub_answer_cache_lookup (cache, "prd_a", v2));
  g_assert_null (prd_hub_answer_cache_lookup (cache, "prd_a", empty));
  g_assert_null (prd_hub_answer_cache_lookup (cache, "prd_b", v1));
  /* A newer answer takes the older one's place. */
  prd_hub_answer_cache_insert (cache, "prd_a", v2, other);
  g_assert_null (prd_hub_answer_cache_lookup (cache, "prd_a", v1));
  g_assert_true (prd_hub_answer_cache_lookup (cache, "prd_a", v2) == other);
  prd_hub_answer_cache_remove (cache, "prd_a");
  g_assert_null (prd_hub_answer_cache_lookup (cache, "prd_a", v2));
  prd_hub_answer_cache_remove (cache, "prd_a");
  /* An empty vector (a new PRD) is a vector like any other. */
  prd_hub_answer_cache_insert (cache, "prd_e", empty, answer);
  g_assert_true (prd_hub_answer_cache_lookup (cache, "prd_e", empty) == answer);
}

static void
test_limits (void)
{
  g_autoptr (PrdHubAnswerCache) cache = prd_hub_answer_cache_new (3, 100);
  g_autoptr (GArray) v = vector (5, 5);
  g_autoptr (GBytes) small = bytes_of (30);
  g_autoptr (GBytes) big = bytes_of (60);
  g_autoptr (GBytes) huge = bytes_of (101);
  g_autoptr (GBytes) tiny = bytes_of (1);

  /* At most three entries: the least recently used goes. */
  prd_hub_answer_cache_insert (cache, "a", v, small);
  prd_hub_answer_cache_insert (cache, "b", v, small);
  prd_hub_answer_cache_insert (cache, "c", v, small);
  g_assert_nonnull (prd_hub_answer_cache_lookup (cache, "a", v)); /* a is used again */
  prd_hub_answer_cache_insert (cache, "d", v, tiny);
  g_assert_nonnull (prd_hub_answer_cache_lookup (cache, "a", v));
  g_assert_null (prd_hub_answer_cache_lookup (cache, "b", v));
  g_assert_nonnull (prd_hub_answer_cache_lookup (cache, "c", v));
  g_assert_nonnull (prd_hub_answer_cache_lookup (cache, "d", v));

  /* At most 100 bytes, however few the entries: in a cache of ten, three
   * answers of 30 and one of 60 keep 90 or fewer. */
  {
    g_autoptr (PrdHubAnswerCache) roomy = prd_hub_answer_cache_new (10, 100);

    prd_hub_answer_cache_insert (roomy, "a", v, small);
    prd_hub_answer_cache_insert (roomy, "b", v, small);
    prd_hub_answer_cache_insert (roomy, "c", v, small);
    g_assert_nonnull (prd_hub_answer_cache_lookup (roomy, "a", v));
    prd_hub_answer_cache_insert (roomy, "e", v, big);
    g_assert_nonnull (prd_hub_answer_cache_lookup (roomy, "e", v));
    g_assert_nonnull (prd_hub_answer_cache_lookup (roomy, "a", v));
    g_assert_null (prd_hub_answer_cache_lookup (roomy, "b", v));
    g_assert_null (prd_hub_answer_cache_lookup (roomy, "c", v));
  }
  prd_hub_answer_cache_insert (cache, "e", v, big);
  g_assert_nonnull (prd_hub_answer_cache_lookup (cache, "e", v));

  /* An answer larger than the limit is not kept, and takes nothing's place
   * but its own key's. */
  prd_hub_answer_cache_insert (cache, "f", v, huge);
  g_assert_null (prd_hub_answer_cache_lookup (cache, "f", v));
  g_assert_nonnull (prd_hub_answer_cache_lookup (cache, "e", v));
  prd_hub_answer_cache_insert (cache, "e", v, huge);
  g_assert_null (prd_hub_answer_cache_lookup (cache, "e", v));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/prd/hub/answer-cache/vector", test_vector);
  g_test_add_func ("/prd/hub/answer-cache/limits", test_limits);

  return g_test_run ();
}
