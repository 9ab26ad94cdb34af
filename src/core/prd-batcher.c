/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The rate is counted in ten 100 ms buckets (the last second), which bounds
 * memory whatever the rate and needs no per-event timestamps.
 */
#define G_LOG_DOMAIN "prd-core"

#include "config.h"

#include "prd-batcher.h"

#define N_BUCKETS 10
#define BUCKET_US (100 * 1000)

struct _PrdBatcher
{
  GObject parent_instance;

  guint threshold;
  guint interval_ms;
  guint counts[N_BUCKETS];
  gint64 last_bucket; /* absolute bucket number of the newest count */
  gboolean batching;
  GPtrArray *ordered;   /* (element-type PrdBatchItem) */
  GPtrArray *coalesced; /* (element-type PrdBatchItem) */
  guint timer_id;
  guint64 next_batch;
};

enum
{
  SIGNAL_FLUSH,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PrdBatcher, prd_batcher, G_TYPE_OBJECT)

void
prd_batch_item_free (PrdBatchItem *item)
{
  if (item == NULL)
    return;
  g_free (item->type);
  g_free (item->origin);
  g_free (item->key);
  g_clear_pointer (&item->payload, json_node_unref);
  g_free (item);
}

static void
prd_batcher_dispose (GObject *object)
{
  PrdBatcher *self = PRD_BATCHER (object);

  g_clear_handle_id (&self->timer_id, g_source_remove);

  G_OBJECT_CLASS (prd_batcher_parent_class)->dispose (object);
}

static void
prd_batcher_finalize (GObject *object)
{
  PrdBatcher *self = PRD_BATCHER (object);

  g_clear_pointer (&self->ordered, g_ptr_array_unref);
  g_clear_pointer (&self->coalesced, g_ptr_array_unref);

  G_OBJECT_CLASS (prd_batcher_parent_class)->finalize (object);
}

static void
prd_batcher_class_init (PrdBatcherClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = prd_batcher_dispose;
  object_class->finalize = prd_batcher_finalize;

  signals[SIGNAL_FLUSH] =
      g_signal_new ("flush", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 2, G_TYPE_PTR_ARRAY, G_TYPE_STRING);
}

static void
prd_batcher_init (PrdBatcher *self)
{
  self->ordered = g_ptr_array_new_with_free_func ((GDestroyNotify) prd_batch_item_free);
  self->coalesced = g_ptr_array_new_with_free_func ((GDestroyNotify) prd_batch_item_free);
  self->last_bucket = -1;
}

/**
 * prd_batcher_new:
 * @threshold: events per second above which the room batches; 0: never
 * @interval_ms: how often a batching room flushes
 */
PrdBatcher *
prd_batcher_new (guint threshold, guint interval_ms)
{
  PrdBatcher *self = g_object_new (PRD_TYPE_BATCHER, NULL);

  self->threshold = threshold;
  self->interval_ms = CLAMP (interval_ms, PRD_BATCHER_MIN_INTERVAL, PRD_BATCHER_MAX_INTERVAL);
  return self;
}

static void
advance (PrdBatcher *self, gint64 now_us)
{
  gint64 bucket = now_us / BUCKET_US;

  if (self->last_bucket < 0 || bucket - self->last_bucket >= N_BUCKETS)
    memset (self->counts, 0, sizeof self->counts);
  else
    for (gint64 b = self->last_bucket + 1; b <= bucket; b++)
      self->counts[b % N_BUCKETS] = 0;
  if (bucket > self->last_bucket)
    self->last_bucket = bucket;
}

guint
prd_batcher_get_rate (PrdBatcher *self, gint64 now_us)
{
  guint sum = 0;

  g_return_val_if_fail (PRD_IS_BATCHER (self), 0);

  advance (self, now_us);
  for (guint i = 0; i < N_BUCKETS; i++)
    sum += self->counts[i];
  return sum;
}

static gboolean
on_timer (gpointer user_data)
{
  PrdBatcher *self = user_data;

  prd_batcher_flush (self, g_get_monotonic_time ());
  if (self->batching)
    return G_SOURCE_CONTINUE;
  self->timer_id = 0;
  return G_SOURCE_REMOVE;
}

/**
 * prd_batcher_count:
 * @now_us: a monotonic time in microseconds
 *
 * Counts one outgoing event. Returns %TRUE when the caller sends it now;
 * %FALSE when it must go to the next batch: the caller then hands it over
 * with prd_batcher_queue(). A caller that writes its event as text without
 * a tree builds the tree only in that case.
 */
gboolean
prd_batcher_count (PrdBatcher *self, gint64 now_us)
{
  g_return_val_if_fail (PRD_IS_BATCHER (self), TRUE);

  advance (self, now_us);
  self->counts[self->last_bucket % N_BUCKETS]++;
  if (!self->batching)
    {
      if (self->threshold == 0 || prd_batcher_get_rate (self, now_us) <= self->threshold)
        return TRUE;
      self->batching = TRUE;
      g_debug ("Batching above %u events/s", self->threshold);
      if (self->timer_id == 0)
        self->timer_id = g_timeout_add (self->interval_ms, on_timer, self);
    }
  return FALSE;
}

/**
 * prd_batcher_queue:
 *
 * Queues an event prd_batcher_count() kept for the next batch (the batcher
 * keeps a reference to @payload).
 */
void
prd_batcher_queue (
    PrdBatcher *self, const char *type, const char *origin, const char *key, JsonNode *payload)
{
  PrdBatchItem *item;

  g_return_if_fail (PRD_IS_BATCHER (self));

  item = g_new0 (PrdBatchItem, 1);
  item->type = g_strdup (type);
  item->origin = g_strdup (origin);
  item->key = g_strdup (key);
  item->payload = json_node_ref (payload);
  if (key == NULL)
    g_ptr_array_add (self->ordered, item);
  else
    {
      for (guint i = 0; i < self->coalesced->len; i++)
        if (g_str_equal (((PrdBatchItem *) g_ptr_array_index (self->coalesced, i))->key, key))
          {
            g_ptr_array_remove_index (self->coalesced, i);
            break;
          }
      g_ptr_array_add (self->coalesced, item);
    }
}

/**
 * prd_batcher_submit:
 * @now_us: a monotonic time in microseconds
 *
 * prd_batcher_count(), then prd_batcher_queue() when the event is kept for
 * the next batch. Returns %TRUE when the caller sends it now; %FALSE when
 * it was queued (the batcher keeps a reference to @payload).
 */
gboolean
prd_batcher_submit (PrdBatcher *self,
                    const char *type,
                    const char *origin,
                    const char *key,
                    JsonNode *payload,
                    gint64 now_us)
{
  g_return_val_if_fail (PRD_IS_BATCHER (self), TRUE);

  if (prd_batcher_count (self, now_us))
    return TRUE;
  prd_batcher_queue (self, type, origin, key, payload);
  return FALSE;
}

gboolean
prd_batcher_is_batching (PrdBatcher *self)
{
  g_return_val_if_fail (PRD_IS_BATCHER (self), FALSE);
  return self->batching;
}

guint
prd_batcher_get_n_queued (PrdBatcher *self)
{
  g_return_val_if_fail (PRD_IS_BATCHER (self), 0);
  return self->ordered->len + self->coalesced->len;
}

/**
 * prd_batcher_flush:
 *
 * Emits "flush" with everything queued (if anything) and leaves batching
 * mode when the rate has dropped to the threshold.
 */
void
prd_batcher_flush (PrdBatcher *self, gint64 now_us)
{
  g_autoptr (GPtrArray) items = NULL;

  g_return_if_fail (PRD_IS_BATCHER (self));

  items = g_ptr_array_new_with_free_func ((GDestroyNotify) prd_batch_item_free);
  g_ptr_array_extend_and_steal (items, g_steal_pointer (&self->ordered));
  g_ptr_array_extend_and_steal (items, g_steal_pointer (&self->coalesced));
  self->ordered = g_ptr_array_new_with_free_func ((GDestroyNotify) prd_batch_item_free);
  self->coalesced = g_ptr_array_new_with_free_func ((GDestroyNotify) prd_batch_item_free);

  if (items->len > 0)
    {
      g_autofree char *batch_id = g_strdup_printf ("batch_%" G_GUINT64_FORMAT, ++self->next_batch);

      g_object_ref (self);
      g_signal_emit (self, signals[SIGNAL_FLUSH], 0, items, batch_id);
      g_object_unref (self);
    }
  if (self->batching && prd_batcher_get_rate (self, now_us) <= self->threshold)
    {
      g_debug ("Batching off");
      self->batching = FALSE;
    }
}
