/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-core"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-metrics.h"

#include "prd-ai-queue.h"

#define HOUR_US (G_USEC_PER_SEC * (gint64) 3600)
/* How many charges apart the submission times of idle users are swept. */
#define SWEEP_EVERY 1024

/* What one user (see prd_ai_user_key()) has in the queue. */
typedef struct
{
  guint running;      /* jobs streaming */
  guint active;       /* jobs waiting or streaming; 0: idle (see forget_idle_users()) */
  guint64 last_start; /* PrdAiQueue.starts when a job of this user last started, 0: none yet */
  guint walk;         /* the walk (PrdAiQueue.walk) that last counted this user */
  guint waiting;      /* that walk: waiting jobs of this user passed so far */
  guint head;         /* that walk: index in @waiting of this user's oldest waiting job */
} UserLoad;

struct _PrdAiQueue
{
  GObject parent_instance;

  guint concurrency;
  guint hourly_quota;
  guint max_per_user;
  GQueue waiting;        /* (owned) PrdAiJob, in the order they were submitted */
  GHashTable *running;   /* (owned) job id → PrdAiJob (owned) */
  GHashTable *by_id;     /* job id → PrdAiJob (unowned), waiting or running */
  GHashTable *submitted; /* user key (see prd_ai_user_key()) → (owned) GQueue of submission times */
  guint charges;         /* counts charges: every SWEEP_EVERY, users idle an hour are forgotten */
  GHashTable *users;     /* user key → (owned) UserLoad: users with a job waiting or running,
                          * and idle ones while their last start matters */
  GHashTable *loads;     /* PrdAiJob (unowned), waiting or running → its user's UserLoad */
  guint walk;            /* counts walks over @waiting (see walk_pass()) */
  guint64 starts;        /* jobs started so far: the clock of UserLoad.last_start */
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
  g_clear_pointer (&self->loads, g_hash_table_unref);
  g_clear_pointer (&self->users, g_hash_table_unref);

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
  self->users = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->loads = g_hash_table_new (g_direct_hash, g_direct_equal);
}

/**
 * prd_ai_queue_new:
 * @concurrency: jobs that may run at once, 1 to %PRD_AI_QUEUE_MAX_CONCURRENCY
 * @hourly_quota: jobs one user may submit per sliding hour
 * @max_per_user: jobs one user may have waiting or running at once, 1 to
 *   %PRD_AI_QUEUE_MAX_PER_USER
 */
PrdAiQueue *
prd_ai_queue_new (guint concurrency, guint hourly_quota, guint max_per_user)
{
  PrdAiQueue *self;

  g_return_val_if_fail (concurrency >= 1 && concurrency <= PRD_AI_QUEUE_MAX_CONCURRENCY, NULL);
  g_return_val_if_fail (hourly_quota >= 1 && hourly_quota <= PRD_AI_QUEUE_MAX_HOURLY_QUOTA, NULL);
  g_return_val_if_fail (max_per_user >= 1 && max_per_user <= PRD_AI_QUEUE_MAX_PER_USER, NULL);

  self = g_object_new (PRD_TYPE_AI_QUEUE, NULL);
  self->concurrency = concurrency;
  self->hourly_quota = hourly_quota;
  self->max_per_user = max_per_user;
  return self;
}

/* Forgets the submission times of users who submitted nothing in the last
 * hour (they no longer count against any quota), so that the table holds
 * the last hour's users, not every user ever. */
static void
sweep_submitted (PrdAiQueue *self, gint64 now)
{
  GHashTableIter iter;
  gpointer times;

  g_hash_table_iter_init (&iter, self->submitted);
  while (g_hash_table_iter_next (&iter, NULL, &times))
    if (g_queue_is_empty (times) || *(gint64 *) g_queue_peek_tail (times) + HOUR_US <= now)
      g_hash_table_iter_remove (&iter);
}

/**
 * prd_ai_queue_charge:
 * @org: the user's organization
 * @user_id: the user's id in it
 * @now: monotonic µs
 * @out_retry_after: (out) (optional): on RATE_LIMIT_EXCEEDED, the seconds
 *   until the oldest submission of the hour leaves the window
 *
 * Counts one request of the user (organization and user id) against the
 * hourly quota, unless it is used up already (then nothing is counted).
 * prd_ai_queue_submit() charges each job; an AI request that does not queue
 * (a review) calls this on its own.
 */
gboolean
prd_ai_queue_charge (PrdAiQueue *self,
                     const char *org,
                     const char *user_id,
                     gint64 now,
                     guint *out_retry_after,
                     GError **error)
{
  g_autofree char *key = NULL;
  GQueue *times;
  gint64 *stamp;

  g_return_val_if_fail (PRD_IS_AI_QUEUE (self), FALSE);
  g_return_val_if_fail (org != NULL && user_id != NULL, FALSE);

  if (out_retry_after != NULL)
    *out_retry_after = 0;
  if (++self->charges % SWEEP_EVERY == 0)
    sweep_submitted (self, now);
  key = prd_ai_user_key (org, user_id);
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
  return TRUE;
}

/**
 * prd_ai_queue_submit:
 * @now: monotonic µs
 * @out_retry_after: (out) (optional): on RATE_LIMIT_EXCEEDED, the seconds
 *   until the oldest submission of the hour leaves the window
 *
 * Queues @job unless its user (organization and user id) has
 * @max_per_user jobs waiting or running already (LIMIT_REACHED) or has
 * used up the hour's quota (RATE_LIMIT_EXCEEDED); a refused job is not
 * counted against the quota. Nothing starts until prd_ai_queue_pump().
 */
gboolean
prd_ai_queue_submit (
    PrdAiQueue *self, PrdAiJob *job, gint64 now, guint *out_retry_after, GError **error)
{
  g_autofree char *key = NULL;
  UserLoad *load;

  g_return_val_if_fail (PRD_IS_AI_QUEUE (self), FALSE);
  g_return_val_if_fail (job != NULL && job->state == PRD_AI_JOB_QUEUED, FALSE);

  if (out_retry_after != NULL)
    *out_retry_after = 0;
  key = prd_ai_user_key (job->org, job->user_id);
  load = g_hash_table_lookup (self->users, key);
  if (load != NULL && load->active >= self->max_per_user)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_LIMIT_REACHED,
                   "You have %u AI jobs queued or running, as many as one user may "
                   "(max-queued-per-user): wait for one to end or cancel one",
                   load->active);
      return FALSE;
    }
  if (!prd_ai_queue_charge (self, job->org, job->user_id, now, out_retry_after, error))
    return FALSE;
  if (load == NULL)
    {
      load = g_new0 (UserLoad, 1);
      g_hash_table_insert (self->users, g_steal_pointer (&key), load);
    }
  load->active++;
  g_hash_table_insert (self->loads, job, load);
  g_queue_push_tail (&self->waiting, prd_ai_job_ref (job));
  g_hash_table_insert (self->by_id, job->id, job);
  return TRUE;
}

/* Forgets the users with nothing waiting or running whose last start no
 * longer matters. A user who comes back keeps their last start, so that
 * one who asks again as soon as their job ends does not count as never
 * served and pass a user who waits (round robin). Forgotten, a user counts
 * as one with none started yet: that orders them as their last start would
 * against every user with a job waiting or running once each of those who
 * has had a job start had it after this user's last start. So the table
 * holds only the users served since the longest-waiting user's last start. */
static void
forget_idle_users (PrdAiQueue *self)
{
  guint64 oldest = G_MAXUINT64;
  GHashTableIter iter;
  UserLoad *load;

  g_hash_table_iter_init (&iter, self->users);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &load))
    if (load->active > 0 && load->last_start > 0)
      oldest = MIN (oldest, load->last_start);
  g_hash_table_iter_init (&iter, self->users);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &load))
    if (load->active == 0 && load->last_start < oldest)
      g_hash_table_iter_remove (&iter);
}

/* A job left the queue (ended or cancelled): its user has one fewer. */
static void
forget_job (PrdAiQueue *self, PrdAiJob *job, gboolean was_running)
{
  UserLoad *load = g_hash_table_lookup (self->loads, job);

  g_assert (load != NULL && load->active > 0);
  g_hash_table_remove (self->loads, job);
  if (was_running)
    load->running--;
  if (--load->active == 0)
    forget_idle_users (self);
}

/* The user of @job, the @index-th job of @waiting, as a walk over @waiting
 * passes it: the walk's first pass of a user notes its oldest waiting job;
 * each pass counts one more waiting job. Returns the jobs of the user the
 * walk passed before @job. */
static guint
walk_pass (PrdAiQueue *self, PrdAiJob *job, guint index, UserLoad **out_load)
{
  UserLoad *load = g_hash_table_lookup (self->loads, job);

  g_assert (load != NULL);
  if (load->walk != self->walk)
    {
      load->walk = self->walk;
      load->waiting = 0;
      load->head = index;
    }
  *out_load = load;
  return load->waiting++;
}

/* Whether @a's oldest waiting job starts before @b's when both users have
 * as many jobs running: the user served longest ago first (round robin;
 * one with none started yet first of all), then the older job. */
static gboolean
serves_before (const UserLoad *a, const UserLoad *b)
{
  if (a->last_start != b->last_start)
    return a->last_start < b->last_start;
  return a->head < b->head;
}

/* The fair order: the next job to start is the oldest waiting job of the
 * user with the fewest jobs running, among those the one served longest
 * ago (serves_before()). So one user's backlog delays another user's first
 * job by no more than the jobs that run already. */
static GList *
next_link (PrdAiQueue *self)
{
  GList *best = NULL;
  UserLoad *best_load = NULL;
  guint index = 0;

  self->walk++;
  for (GList *l = self->waiting.head; l != NULL; l = l->next, index++)
    {
      UserLoad *load;

      if (walk_pass (self, l->data, index, &load) != 0)
        continue;
      if (best_load == NULL || load->running < best_load->running ||
          (load->running == best_load->running && serves_before (load, best_load)))
        {
          best = l;
          best_load = load;
        }
    }
  return best;
}

/* Starts waiting jobs while slots are free. */
void
prd_ai_queue_pump (PrdAiQueue *self, gint64 now)
{
  guint64 starts;

  g_return_if_fail (PRD_IS_AI_QUEUE (self));

  g_object_ref (self);
  starts = self->starts;
  while (g_hash_table_size (self->running) < self->concurrency &&
         !g_queue_is_empty (&self->waiting))
    {
      GList *link = next_link (self);
      PrdAiJob *job;
      UserLoad *load;

      /* (a queue with a job always has a next one) */
      if (G_UNLIKELY (link == NULL))
        break;
      job = link->data;
      load = g_hash_table_lookup (self->loads, job);
      g_queue_delete_link (&self->waiting, link);
      load->running++;
      load->last_start = ++self->starts;
      job->state = PRD_AI_JOB_STREAMING;
      job->started_at = now;
      g_hash_table_insert (self->running, job->id, job);
      g_signal_emit (self, signals[SIGNAL_START], 0, job);
    }
  /* A user served again may have been the one who kept others remembered. */
  if (self->starts != starts)
    forget_idle_users (self);
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
  forget_job (self, job, TRUE);
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
  forget_job (self, job, FALSE);
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

/* 0 when @job runs, n ≥ 1 when n − 1 waiting jobs start before it in the
 * fair order (see next_link()) as the queue stands, -1 when unknown.
 *
 * Looking ahead as if every job kept its slot: a user's k-th waiting job
 * (from 0) starts at "level" running + k, and jobs start level by level.
 * Within a level, a user who had a job start at the level below (in this
 * look-ahead, later than any real start) comes after one whose first
 * waiting job is at this level, so the order within a level is: more jobs
 * running first, then serves_before(). */
int
prd_ai_queue_get_position (PrdAiQueue *self, PrdAiJob *job)
{
  GHashTableIter iter;
  UserLoad *load = NULL, *other;
  guint index = 0, k = 0, level;
  int position = 1;
  gboolean found = FALSE;

  g_return_val_if_fail (PRD_IS_AI_QUEUE (self), -1);

  if (g_hash_table_lookup (self->running, job->id) == job)
    return 0;
  self->walk++;
  for (GList *l = self->waiting.head; l != NULL; l = l->next, index++)
    {
      UserLoad *passed;
      guint before = walk_pass (self, l->data, index, &passed);

      if (l->data == job)
        {
          found = TRUE;
          load = passed;
          k = before;
        }
    }
  if (!found)
    return -1;
  level = load->running + k;
  position += (int) k;
  g_hash_table_iter_init (&iter, self->users);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &other))
    {
      if (other == load || other->walk != self->walk || other->running > level)
        continue;
      /* its jobs below @level, then its job at @level if that goes first */
      position += (int) MIN (level - other->running, other->waiting);
      if (level - other->running < other->waiting &&
          (other->running > load->running ||
           (other->running == load->running && serves_before (other, load))))
        position++;
    }
  return position;
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

/**
 * prd_ai_queue_get_n_charged_users:
 *
 * Returns: how many users the hourly quota remembers submissions of (those
 *   of the last hour, and idle ones not swept yet)
 */
guint
prd_ai_queue_get_n_charged_users (PrdAiQueue *self)
{
  g_return_val_if_fail (PRD_IS_AI_QUEUE (self), 0);

  return g_hash_table_size (self->submitted);
}
