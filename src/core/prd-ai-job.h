/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum
{
  PRD_AI_JOB_QUEUED,
  PRD_AI_JOB_STREAMING,
  PRD_AI_JOB_COMPLETE,
  PRD_AI_JOB_FAILED,
  PRD_AI_JOB_CANCELLED,
} PrdAiJobState;

const char *prd_ai_job_state_to_string (PrdAiJobState state);

/**
 * PrdAiJob:
 * @id: `job_` and 24 hex digits
 * @prd_id, @org, @user_id, @prompt, @section (nullable): what was asked, by whom
 *   (a user is the pair (@org, @user_id): the same `sub` in another
 *   organization is another user)
 * @state: where the job is
 * @created_at: ms since the epoch
 * @started_at: monotonic µs when it started streaming, 0 before
 * @tokens: tokens used, 0 when unknown
 * @chunks: pieces of the answer streamed so far
 * @duration: ms from start to end, 0 while running
 * @error_code, @error_message: (nullable): why it failed
 * @cancellable: cancelled to stop a running job
 * @data: (nullable): the runner's own data, freed with @data_free
 *
 * One AI request. Reference counted; the queue and the runner share it.
 */
typedef struct
{
  char *id;
  char *prd_id;
  char *org;
  char *user_id;
  char *prompt;
  char *section;
  PrdAiJobState state;
  gint64 created_at;
  gint64 started_at;
  gint64 tokens;
  guint chunks;
  gint64 duration;
  char *error_code;
  char *error_message;
  GCancellable *cancellable;
  gpointer data;
  GDestroyNotify data_free;
} PrdAiJob;

PrdAiJob *prd_ai_job_new (const char *prd_id,
                          const char *org,
                          const char *user_id,
                          const char *prompt,
                          const char *section);
gboolean prd_ai_job_is_owned_by (const PrdAiJob *job, const char *org, const char *user_id);
char *prd_ai_user_key (const char *org, const char *user_id);
PrdAiJob *prd_ai_job_ref (PrdAiJob *job);
void prd_ai_job_unref (PrdAiJob *job);
gboolean prd_ai_job_is_finished (const PrdAiJob *job);
void prd_ai_job_set_error (PrdAiJob *job, const char *code, const char *message);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdAiJob, prd_ai_job_unref)

G_END_DECLS
