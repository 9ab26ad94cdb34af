/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-core"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-metrics.h"

#include "prd-ai-queue.h"

#define HOUR_US (G_USEC_PER_SEC * (gint64) 3600)

struct _PrdAiQueue
{
  GObject parent_instance;

  guint concurrency;
  guint hourly_quota;
  GQueue waiting;        /* (owned) PrdAiJob */
  GHashTable *running;   /* (owned) job id → PrdAiJob (owned) */
  GHashTable *by_id;     /* job id → PrdAiJob (unowned), waiting or running */
  GHashTable *submitted; /* user key (see user_key()) → (owned) GQueue of submission times */
  gint64 durations[PRD_AI_QUEUE_N_DURATIONS];
  guint n_durations;
  guint next_duration;
};

G_DEFINE_FINAL_TYPE (PrdAiQueue, prd_ai_queue, G_TYPE_OBJECT)

/* (unowned): the registry's family of refusals, as the "ai-hourly-quota" class. */
static PrdMetric *refusals;

enum
{
  SIGNAL_START,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
times_free (GQueue *times)
{
  g_queue_free_full (times, g_free);
}

static void
prd_ai_queue_finalize (GObject *object)
{
  PrdAiQueue *self = PRD_AI_QUEUE (object);

  g_queue_clear_full (&self->waiting, (GDestroyNotify) prd_ai_job_unref);
  g_clear_pointer (&self->running, g_hash_table_unref);
  g_clear_pointer (&self->by_id, g_hash_table_unref);
  g_clear_pointer (&self->submitted, g_hash_table_unref);

  G_OBJECT_CLASS (prd_ai_queue_parent_class)->finalize (object);
}

static void
prd_ai_queue_class_init (PrdAiQueueClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = prd_ai_queue_finalize;
  refusals = prd_metric_rate_limit_refusals ();
  signals[SIGNAL_START] = g_signal_new ("start", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                        NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
}

static void
prd_ai_queue_init (PrdAiQueue *self)
{
  g_queue_init (&self->waiting);
  self->running =
      g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) prd_ai_job_unref);
  self->by_id = g_hash_table_new (g_str_hash, g_str_equal);
  self->submitted =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) times_free);
}

/**
 * prd_ai_queue_new:
 * @concurrency: jobs that may run at once, 1 to %PRD_AI_QUEUE_MAX_CONCURRENCY
 * @hourly_quota: jobs one user may submit per sliding hour
 */
PrdAiQueue *
prd_ai_queue_new (guint concurrency, guint hourly_quota)
{
  PrdAiQueue *self;

  g_return_val_if_fail (concurrency >= 1 && concurrency <= PRD_AI_QUEUE_MAX_CONCURRENCY, NULL);
  g_return_val_if_fail (hourly_quota >= 1 && hourly_quota <= PRD_AI_QUEUE_MAX_HOURLY_QUOTA, NULL);

  self = g_object_new (PRD_TYPE_AI_QUEUE, NULL);
  self->concurrency = concurrency;
  self->hourly_quota = hourly_quota;
  return self;
}

/* A user is (organization, user id): the same `sub` in two organizations is
 * two users with a quota each. The organization's length keeps the key
 * unambiguous whatever either part holds. */
static char *
user_key (const PrdAiJob *job)
{
  return g_strdup_printf ("%zu:%s%s", strlen (job->org), job->org, job->user_id);
}

/**
 * prd_ai_queue_submit:
 * @now: monotonic µs
 * @out_retry_after: (out) (optional): on RATE_LIMIT_EXCEEDED, the seconds
 *   until the oldest submission of the hour leaves the window
 *
 * Queues @job unless its user (organization and user id) has used up the
 * hour's quota. Nothing starts
 * until prd_ai_queue_pump().
 */
gboolean
prd_ai_queue_submit (
    PrdAiQueue *self, PrdAiJob *job, gint64 now, guint *out_retry_after, GError **error)
{
  g_autofree char *key = NULL;
  GQueue *times;
  gint64 *stamp;

  g_return_val_if_fail (PRD_IS_AI_QUEUE (self), FALSE);
  g_return_val_if_fail (job != NULL && job->state == PRD_AI_JOB_QUEUED, FALSE);

  if (out_retry_after != NULL)
    *out_retry_after = 0;
  key = user_key (job);
  times = g_hash_table_lookup (self->submitted, key);
  if (times == NULL)
    {
      times = g_queue_new ();
      g_hash_table_insert (self->submitted, g_steal_pointer (&key), times);
    }
  while (!g_queue_is_empty (times) && *(gint64 *) g_queue_peek_head (times) + HOUR_US <= now)
    g_free (g_queue_pop_head (times));
  if (g_queue_get_length (times) >= self->hourly_quota)
    {
      gint64 wait = *(gint64 *) g_queue_peek_head (times) + HOUR_US - now;
      guint seconds = (guint) ((wait + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);

      if (out_retry_after != NULL)
        *out_retry_after = MAX (seconds, 1);
      g_set_error (error, PRD_ERROR, PRD_ERROR_RATE_LIMIT_EXCEEDED,
                   "AI request limit exceeded for this hour (%u requests)", self->hourly_quota);
      prd_metric_inc (refusals, "ai-hourly-quota");
      return FALSE;
    }
  stamp = g_new (gint64, 1);
  *stamp = now;
  g_queue_push_tail (times, stamp);
  g_queue_push_tail (&self->waiting, prd_ai_job_ref (job));
  g_hash_table_insert (self->by_id, job->id, job);
  return TRUE;
}

/* Starts waiting jobs while slots are free. */
void
prd_ai_queue_pump (PrdAiQueue *self, gint64 now)
{
  g_return_if_fail (PRD_IS_AI_QUEUE (self));

  g_object_ref (self);
  while (g_hash_table_size (self->running) < self->concurrency &&
         !g_queue_is_empty (&self->waiting))
    {
      PrdAiJob *job = g_queue_pop_head (&self->waiting);

      job->state = PRD_AI_JOB_STREAMING;
      job->started_at = now;
      g_hash_table_insert (self->running, job->id, job);
      g_signal_emit (self, signals[SIGNAL_START], 0, job);
    }
  g_object_unref (self);
}

/**
 * prd_ai_queue_finish:
 * @state: complete, failed or cancelled
 *
 * Frees @job's slot (a complete job's duration feeds the estimate) and starts
 * the next one.
 */
void
prd_ai_queue_finish (PrdAiQueue *self, PrdAiJob *job, PrdAiJobState state, gint64 now)
{
  g_autoptr (PrdAiJob) held = NULL;

  g_return_if_fail (PRD_IS_AI_QUEUE (self));
  g_return_if_fail (state == PRD_AI_JOB_COMPLETE || state == PRD_AI_JOB_FAILED ||
                    state == PRD_AI_JOB_CANCELLED);

  if (g_hash_table_lookup (self->running, job->id) != job)
    return;
  held = prd_ai_job_ref (job);
  g_hash_table_remove (self->by_id, job->id);
  g_hash_table_remove (self->running, job->id);
  job->state = state;
  job->duration = (now - job->started_at) / 1000;
  if (state == PRD_AI_JOB_COMPLETE)
    {
      self->durations[self->next_duration] = job->duration;
      self->next_duration = (self->next_duration + 1) % PRD_AI_QUEUE_N_DURATIONS;
      self->n_durations = MIN (self->n_durations + 1, PRD_AI_QUEUE_N_DURATIONS);
    }
  prd_ai_queue_pump (self, now);
}

/* Removes @job when it still waits; it is then cancelled. */
gboolean
prd_ai_queue_cancel_queued (PrdAiQueue *self, PrdAiJob *job)
{
  GList *link;

  g_return_val_if_fail (PRD_IS_AI_QUEUE (self), FALSE);

  link = g_queue_find (&self->waiting, job);
  if (link == NULL)
    return FALSE;
  g_queue_delete_link (&self->waiting, link);
  g_hash_table_remove (self->by_id, job->id);
  job->state = PRD_AI_JOB_CANCELLED;
  prd_ai_job_unref (job);
  return TRUE;
}

/* (transfer none) (nullable): a waiting or running job */
PrdAiJob *
prd_ai_queue_lookup (PrdAiQueue *self, const char *job_id)
{
  g_return_val_if_fail (PRD_IS_AI_QUEUE (self), NULL);

  return g_hash_table_lookup (self->by_id, job_id);
}

/* 0 when @job runs, n ≥ 1 when n − 1 jobs wait before it, -1 when unknown. */
int
prd_ai_queue_get_position (PrdAiQueue *self, PrdAiJob *job)
{
  int index;

  g_return_val_if_fail (PRD_IS_AI_QUEUE (self), -1);

  if (g_hash_table_lookup (self->running, job->id) == job)
    return 0;
  index = g_queue_index (&self->waiting, job);
  return index < 0 ? -1 : index + 1;
}

/**
 * prd_ai_queue_estimate:
 * @position: as prd_ai_queue_get_position() gives it
 *
 * Seconds until a job at @position is done: the mean of the recent complete
 * jobs' durations (%PRD_AI_QUEUE_DEFAULT_ESTIMATE before any), times the
 * rounds of slots it waits for plus its own.
 */
guint
prd_ai_queue_estimate (PrdAiQueue *self, int position)
{
  gint64 mean_ms = PRD_AI_QUEUE_DEFAULT_ESTIMATE * 1000;
  guint rounds;

  g_return_val_if_fail (PRD_IS_AI_QUEUE (self), 0);

  if (self->n_durations > 0)
    {
      gint64 sum = 0;

      for (guint i = 0; i < self->n_durations; i++)
        sum += self->durations[i];
      mean_ms = sum / self->n_durations;
    }
  rounds = position <= 0 ? 1 : 1 + (guint) (position + self->concurrency - 1) / self->concurrency;
  if (position > 0 && g_hash_table_size (self->running) + (guint) position <= self->concurrency)
    rounds = 1;
  return (guint) MAX (1, (mean_ms * rounds + 999) / 1000);
}

guint
prd_ai_queue_get_n_running (PrdAiQueue *self)
{
  g_return_val_if_fail (PRD_IS_AI_QUEUE (self), 0);
  return g_hash_table_size (self->running);
}

guint
prd_ai_queue_get_n_queued (PrdAiQueue *self)
{
  g_return_val_if_fail (PRD_IS_AI_QUEUE (self), 0);
  return g_queue_get_length (&self->waiting);
}
