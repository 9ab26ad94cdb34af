/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-ai-job.h"

G_BEGIN_DECLS

#define PRD_AI_QUEUE_DEFAULT_CONCURRENCY  2
#define PRD_AI_QUEUE_MAX_CONCURRENCY      64
#define PRD_AI_QUEUE_DEFAULT_HOURLY_QUOTA 30
#define PRD_AI_QUEUE_MAX_HOURLY_QUOTA     100000
/* Jobs one user may have waiting or running at once. */
#define PRD_AI_QUEUE_DEFAULT_MAX_PER_USER 4
#define PRD_AI_QUEUE_MAX_PER_USER         1000
/* estimatedTime of a job when no job has finished yet, in seconds. */
#define PRD_AI_QUEUE_DEFAULT_ESTIMATE 30
/* How many recent durations the estimate averages. */
#define PRD_AI_QUEUE_N_DURATIONS 20

#define PRD_TYPE_AI_QUEUE (prd_ai_queue_get_type ())
G_DECLARE_FINAL_TYPE (PrdAiQueue, prd_ai_queue, PRD, AI_QUEUE, GObject)

/*
 * PrdAiQueue: jobs wait here until one of @concurrency slots is free; each
 * user may submit @hourly_quota jobs in any sliding hour and have
 * @max_per_user waiting or running at once. Slots are shared out fairly: the
 * next job to start is the oldest waiting job of the user with the fewest
 * jobs running. Times are given by the caller (monotonic µs) so that the
 * arithmetic is testable.
 *
 * Signal "start" (PrdAiJob *job): the job took a slot; its state is
 * streaming. The runner calls prd_ai_queue_finish() when it ends.
 */

PrdAiQueue *prd_ai_queue_new (guint concurrency, guint hourly_quota, guint max_per_user);
gboolean prd_ai_queue_charge (PrdAiQueue *self,
                              const char *org,
                              const char *user_id,
                              gint64 now,
                              guint *out_retry_after,
                              GError **error);
gboolean prd_ai_queue_submit (
    PrdAiQueue *self, PrdAiJob *job, gint64 now, guint *out_retry_after, GError **error);
void prd_ai_queue_finish (PrdAiQueue *self, PrdAiJob *job, PrdAiJobState state, gint64 now);
gboolean prd_ai_queue_cancel_queued (PrdAiQueue *self, PrdAiJob *job);
void prd_ai_queue_pump (PrdAiQueue *self, gint64 now);
PrdAiJob *prd_ai_queue_lookup (PrdAiQueue *self, const char *job_id);
int prd_ai_queue_get_position (PrdAiQueue *self, PrdAiJob *job);
guint prd_ai_queue_estimate (PrdAiQueue *self, int position);
guint prd_ai_queue_get_n_running (PrdAiQueue *self);
guint prd_ai_queue_get_n_queued (PrdAiQueue *self);

guint prd_ai_queue_get_n_charged_users (PrdAiQueue *self);

G_END_DECLS
