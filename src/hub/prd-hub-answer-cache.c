/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The last few answers of a REST read, each kept with the state vector of
 * the text it was made from: an operation id names one operation forever,
 * so a vector names one text, and a burst of readers of an unchanged PRD
 * costs one answer, not one each. The least recently used answers go
 * first, so that at most max_entries and max_bytes are kept. Main thread
 * only.
 */
#define G_LOG_DOMAIN "prd-hub-answer-cache"

#include "config.h"

#include <string.h>

#include "prd-hub-answer-cache.h"

typedef struct
{
  char *key;
  GArray *vector; /* (element-type guint32) */
  GBytes *answer;
  GList link; /* in order */
} Entry;

struct _PrdHubAnswerCache
{
  GHashTable *entries; /* key → (owned) Entry */
  GQueue order;        /* (element-type Entry) (unowned): the most recently used first */
  gsize bytes;         /* the answers' */
  guint max_entries;
  gsize max_bytes;
};

static void
entry_free (Entry *entry)
{
  g_free (entry->key);
  g_array_unref (entry->vector);
  g_bytes_unref (entry->answer);
  g_free (entry);
}

static void
cache_clear (PrdHubAnswerCache *cache)
{
  g_hash_table_unref (cache->entries);
}

/**
 * prd_hub_answer_cache_new:
 * @max_entries: answers kept at most
 * @max_bytes: their bytes at most (a larger answer is not kept)
 *
 * Returns: (transfer full): an empty cache
 */
PrdHubAnswerCache *
prd_hub_answer_cache_new (guint max_entries, gsize max_bytes)
{
  PrdHubAnswerCache *cache = g_rc_box_new0 (PrdHubAnswerCache);

  cache->entries =
      g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) entry_free);
  g_queue_init (&cache->order);
  cache->max_entries = max_entries;
  cache->max_bytes = max_bytes;
  return cache;
}

PrdHubAnswerCache *
prd_hub_answer_cache_ref (PrdHubAnswerCache *cache)
{
  return g_rc_box_acquire (cache);
}

void
prd_hub_answer_cache_unref (PrdHubAnswerCache *cache)
{
  g_rc_box_release_full (cache, (GDestroyNotify) cache_clear);
}

static gboolean
vectors_equal (GArray *a, GArray *b)
{
  return a->len == b->len &&
         (a->len == 0 || memcmp (a->data, b->data, a->len * sizeof (guint32)) == 0);
}

/**
 * prd_hub_answer_cache_remove:
 * @key: what the answer is of (a PRD id)
 *
 * Drops the answer kept for @key, if any: what it was made from changed
 * other than its text.
 */
void
prd_hub_answer_cache_remove (PrdHubAnswerCache *cache, const char *key)
{
  Entry *entry = g_hash_table_lookup (cache->entries, key);

  if (entry == NULL)
    return;
  g_queue_unlink (&cache->order, &entry->link);
  cache->bytes -= g_bytes_get_size (entry->answer);
  g_hash_table_remove (cache->entries, key);
}

/**
 * prd_hub_answer_cache_lookup:
 * @key: what the answer is of
 * @vector: (element-type guint32): the state vector of its text now
 *
 * Returns: (transfer none) (nullable): the answer kept for @key, if it was
 *   made at @vector
 */
GBytes *
prd_hub_answer_cache_lookup (PrdHubAnswerCache *cache, const char *key, GArray *vector)
{
  Entry *entry = g_hash_table_lookup (cache->entries, key);

  if (entry == NULL || !vectors_equal (entry->vector, vector))
    return NULL;
  g_queue_unlink (&cache->order, &entry->link);
  g_queue_push_head_link (&cache->order, &entry->link);
  return entry->answer;
}

/**
 * prd_hub_answer_cache_insert:
 * @key: what the answer is of
 * @vector: (element-type guint32): the state vector of the text it was made from
 * @answer: the answer
 *
 * Keeps @answer for @key in place of any other, making room by dropping the
 * least recently used.
 */
void
prd_hub_answer_cache_insert (PrdHubAnswerCache *cache,
                             const char *key,
                             GArray *vector,
                             GBytes *answer)
{
  gsize size = g_bytes_get_size (answer);
  Entry *entry;

  prd_hub_answer_cache_remove (cache, key);
  if (size > cache->max_bytes || cache->max_entries == 0)
    return;
  while (cache->order.length >= cache->max_entries || cache->bytes + size > cache->max_bytes)
    prd_hub_answer_cache_remove (cache, ((Entry *) cache->order.tail->data)->key);
  entry = g_new0 (Entry, 1);
  entry->key = g_strdup (key);
  entry->vector = g_array_copy (vector);
  entry->answer = g_bytes_ref (answer);
  entry->link.data = entry;
  g_hash_table_insert (cache->entries, entry->key, entry);
  g_queue_push_head_link (&cache->order, &entry->link);
  cache->bytes += size;
}
