/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define PRD_BATCHER_DEFAULT_THRESHOLD 50 /* events per second */
#define PRD_BATCHER_DEFAULT_INTERVAL  50 /* ms */
#define PRD_BATCHER_MIN_INTERVAL      5
#define PRD_BATCHER_MAX_INTERVAL      5000

/**
 * PrdBatchItem:
 * @type: the event name (`content-update`, `presence-update`)
 * @origin: the connection the event came from (it is not sent back to it)
 * @key: (nullable): items with the same non-%NULL key coalesce, latest wins
 * @payload: the event's payload
 */
typedef struct
{
  char *type;
  char *origin;
  char *key;
  JsonNode *payload;
} PrdBatchItem;

void prd_batch_item_free (PrdBatchItem *item);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdBatchItem, prd_batch_item_free)

#define PRD_TYPE_BATCHER (prd_batcher_get_type ())
G_DECLARE_FINAL_TYPE (PrdBatcher, prd_batcher, PRD, BATCHER, GObject)

/*
 * PrdBatcher: the batching policy of one room (seed §12). It measures the
 * room's outgoing event rate over the last second; above the threshold,
 * events are queued instead of sent and handed out every interval through
 * the "flush" signal (GPtrArray *items, const char *batch_id): ordered
 * events (no key) in submission order, then the coalesced ones (latest per
 * key). Once a flush finds the rate back under the threshold, events go out
 * one by one again. A threshold of 0 never batches.
 */

PrdBatcher *prd_batcher_new (guint threshold, guint interval_ms);
gboolean prd_batcher_submit (PrdBatcher *self,
                             const char *type,
                             const char *origin,
                             const char *key,
                             JsonNode *payload,
                             gint64 now_us);
gboolean prd_batcher_count (PrdBatcher *self, gint64 now_us);
void prd_batcher_queue (
    PrdBatcher *self, const char *type, const char *origin, const char *key, JsonNode *payload);
gboolean prd_batcher_is_batching (PrdBatcher *self);
guint prd_batcher_get_rate (PrdBatcher *self, gint64 now_us);
guint prd_batcher_get_n_queued (PrdBatcher *self);
void prd_batcher_flush (PrdBatcher *self, gint64 now_us);

G_END_DECLS
