/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-sio"

#include "config.h"

#include "prd-sio-rate-limiter.h"

typedef struct
{
  guint tokens;
  gint64 window_end_us; /* 0: the bucket is full and no window runs */
} Bucket;

struct _PrdSioRateLimiter
{
  GHashTable *buckets; /* (owned) (nullable): char* class → (owned) Bucket*; made at the first
                        * event (a client that sends none costs no table) */
};

PrdSioRateLimiter *
prd_sio_rate_limiter_new (void)
{
  return g_new0 (PrdSioRateLimiter, 1);
}

void
prd_sio_rate_limiter_free (PrdSioRateLimiter *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->buckets, g_hash_table_unref);
  g_free (self);
}

/* @event_class's bucket as of @now_us: refilled if its window has passed,
 * a window started if none runs. */
static Bucket *
get_bucket (PrdSioRateLimiter *self,
            const char *event_class,
            guint limit,
            guint window_seconds,
            gint64 now_us)
{
  Bucket *bucket;

  if (self->buckets == NULL)
    self->buckets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  bucket = g_hash_table_lookup (self->buckets, event_class);
  if (bucket == NULL)
    {
      bucket = g_new0 (Bucket, 1);
      bucket->tokens = limit;
      g_hash_table_insert (self->buckets, g_strdup (event_class), bucket);
    }

  if (bucket->window_end_us != 0 && now_us >= bucket->window_end_us)
    {
      bucket->tokens = limit;
      bucket->window_end_us = 0;
    }
  /* A limit lowered by configuration applies at once. */
  bucket->tokens = MIN (bucket->tokens, limit);
  if (bucket->window_end_us == 0)
    bucket->window_end_us = now_us + (gint64) window_seconds * G_USEC_PER_SEC;
  return bucket;
}

gboolean
prd_sio_rate_limiter_consume (PrdSioRateLimiter *self,
                              const char *event_class,
                              guint limit,
                              guint window_seconds,
                              gint64 now_us,
                              PrdSioRateInfo *info)
{
  Bucket *bucket;
  gint64 left_us;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (event_class != NULL, FALSE);
  g_return_val_if_fail (window_seconds > 0, FALSE);

  bucket = get_bucket (self, event_class, limit, window_seconds, now_us);
  left_us = bucket->window_end_us - now_us;
  if (info != NULL)
    {
      info->limit = limit;
      info->reset_time_us = bucket->window_end_us;
      info->retry_after = (guint) MAX (1, (left_us + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
    }

  if (bucket->tokens == 0)
    {
      if (info != NULL)
        info->remaining = 0;
      return FALSE;
    }

  bucket->tokens--;
  if (info != NULL)
    info->remaining = bucket->tokens;
  return TRUE;
}

void
prd_sio_rate_limiter_charge (PrdSioRateLimiter *self,
                             const char *event_class,
                             guint limit,
                             guint window_seconds,
                             gint64 now_us,
                             guint tokens)
{
  Bucket *bucket;

  g_return_if_fail (self != NULL);
  g_return_if_fail (event_class != NULL);
  g_return_if_fail (window_seconds > 0);

  bucket = get_bucket (self, event_class, limit, window_seconds, now_us);
  bucket->tokens -= MIN (bucket->tokens, tokens);
}

gint64
prd_sio_rate_limiter_get_windows_end (PrdSioRateLimiter *self, gint64 now_us)
{
  GHashTableIter iter;
  gpointer value;
  gint64 end = 0;

  g_return_val_if_fail (self != NULL, 0);

  if (self->buckets == NULL)
    return 0;
  g_hash_table_iter_init (&iter, self->buckets);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      const Bucket *bucket = value;

      if (bucket->window_end_us > now_us)
        end = MAX (end, bucket->window_end_us);
    }
  return end;
}
