/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-core"

#include "config.h"

#include <string.h>

#include "prd-ai-job.h"

typedef struct
{
  PrdAiJob job;
  gatomicrefcount ref_count;
} RealJob;

const char *
prd_ai_job_state_to_string (PrdAiJobState state)
{
  switch (state)
    {
      case PRD_AI_JOB_QUEUED:
        return "queued";
      case PRD_AI_JOB_STREAMING:
        return "streaming";
      case PRD_AI_JOB_COMPLETE:
        return "complete";
      case PRD_AI_JOB_FAILED:
        return "failed";
      case PRD_AI_JOB_CANCELLED:
        return "cancelled";
      default:
        g_return_val_if_reached ("failed");
    }
}

/**
 * prd_ai_user_key:
 *
 * Returns: (transfer full): one string per user, the pair (@org, @user_id):
 *   the same `sub` in two organizations is two users. The organization's
 *   length keeps the key unambiguous whatever either part holds.
 */
char *
prd_ai_user_key (const char *org, const char *user_id)
{
  g_return_val_if_fail (org != NULL && user_id != NULL, NULL);

  return g_strdup_printf ("%zu:%s%s", strlen (org), org, user_id);
}

PrdAiJob *
prd_ai_job_new (const char *prd_id,
                const char *org,
                const char *user_id,
                const char *prompt,
                const char *section)
{
  RealJob *real = g_new0 (RealJob, 1);
  PrdAiJob *job = &real->job;
  guint8 bytes[12];

  g_return_val_if_fail (prd_id != NULL && org != NULL && user_id != NULL && prompt != NULL, NULL);

  g_atomic_ref_count_init (&real->ref_count);
  for (guint i = 0; i < G_N_ELEMENTS (bytes); i++)
    bytes[i] = (guint8) g_random_int_range (0, 256);
  job->id = g_strdup_printf ("job_%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x", bytes[0],
                             bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                             bytes[8], bytes[9], bytes[10], bytes[11]);
  job->prd_id = g_strdup (prd_id);
  job->org = g_strdup (org);
  job->user_id = g_strdup (user_id);
  job->prompt = g_strdup (prompt);
  job->section = g_strdup (section);
  job->state = PRD_AI_JOB_QUEUED;
  job->created_at = g_get_real_time () / 1000;
  job->cancellable = g_cancellable_new ();
  return job;
}

PrdAiJob *
prd_ai_job_ref (PrdAiJob *job)
{
  RealJob *real = (RealJob *) job;

  g_atomic_ref_count_inc (&real->ref_count);
  return job;
}

void
prd_ai_job_unref (PrdAiJob *job)
{
  RealJob *real = (RealJob *) job;

  if (!g_atomic_ref_count_dec (&real->ref_count))
    return;
  if (job->data_free != NULL && job->data != NULL)
    job->data_free (job->data);
  g_clear_object (&job->cancellable);
  g_free (job->id);
  g_free (job->prd_id);
  g_free (job->org);
  g_free (job->user_id);
  g_free (job->prompt);
  g_free (job->section);
  g_free (job->error_code);
  g_free (job->error_message);
  g_free (real);
}

gboolean
prd_ai_job_is_finished (const PrdAiJob *job)
{
  return job->state == PRD_AI_JOB_COMPLETE || job->state == PRD_AI_JOB_FAILED ||
         job->state == PRD_AI_JOB_CANCELLED;
}

void
prd_ai_job_set_error (PrdAiJob *job, const char *code, const char *message)
{
  g_free (job->error_code);
  g_free (job->error_message);
  job->error_code = g_strdup (code);
  job->error_message = g_strdup (message);
}

/**
 * prd_ai_job_is_owned_by:
 *
 * Returns: %TRUE if the user (@org, @user_id) asked for @job; a user id alone
 *   never identifies a user
 */
gboolean
prd_ai_job_is_owned_by (const PrdAiJob *job, const char *org, const char *user_id)
{
  g_return_val_if_fail (job != NULL && org != NULL && user_id != NULL, FALSE);

  return g_str_equal (job->org, org) && g_str_equal (job->user_id, user_id);
}
