/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdAiJobStore: the interface's record and checked entry points.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include "prd-error.h"

#include "prd-ai-job-store.h"

G_DEFINE_INTERFACE (PrdAiJobStore, prd_ai_job_store, G_TYPE_OBJECT)

static void
prd_ai_job_store_default_init (PrdAiJobStoreInterface *iface)
{
}

PrdAiJobRecord *
prd_ai_job_record_copy (const PrdAiJobRecord *job)
{
  PrdAiJobRecord *copy;

  g_return_val_if_fail (job != NULL, NULL);

  copy = g_new0 (PrdAiJobRecord, 1);
  *copy = *job;
  copy->id = g_strdup (job->id);
  copy->prd_id = g_strdup (job->prd_id);
  copy->org = g_strdup (job->org);
  copy->user_id = g_strdup (job->user_id);
  copy->prompt = g_strdup (job->prompt);
  copy->section = g_strdup (job->section);
  copy->state = g_strdup (job->state);
  copy->error_code = g_strdup (job->error_code);
  copy->error_message = g_strdup (job->error_message);
  return copy;
}

void
prd_ai_job_record_free (PrdAiJobRecord *job)
{
  if (job == NULL)
    return;
  g_free (job->id);
  g_free (job->prd_id);
  g_free (job->org);
  g_free (job->user_id);
  g_free (job->prompt);
  g_free (job->section);
  g_free (job->state);
  g_free (job->error_code);
  g_free (job->error_message);
  g_free (job);
}

/**
 * prd_ai_job_store_save_async:
 * @job: the job's record; copied
 *
 * Inserts or replaces the record of `job->id`.
 */
void
prd_ai_job_store_save_async (PrdAiJobStore *self,
                             const PrdAiJobRecord *job,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data)
{
  g_return_if_fail (PRD_IS_AI_JOB_STORE (self));
  g_return_if_fail (job != NULL);

  if (job->id == NULL || job->prd_id == NULL || job->user_id == NULL || job->prompt == NULL ||
      job->state == NULL)
    {
      g_task_report_new_error (self, callback, user_data, prd_ai_job_store_save_async, PRD_ERROR,
                               PRD_ERROR_INVALID_PAYLOAD,
                               "An AI job needs an id, a PRD, a user, a prompt and a state");
      return;
    }
  PRD_AI_JOB_STORE_GET_IFACE (self)->save_async (self, job, cancellable, callback, user_data);
}

/**
 * prd_ai_job_store_save_finish:
 *
 * Returns: %TRUE once the record is committed
 */
gboolean
prd_ai_job_store_save_finish (PrdAiJobStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PRD_IS_AI_JOB_STORE (self), FALSE);

  if (g_async_result_is_tagged (result, prd_ai_job_store_save_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return PRD_AI_JOB_STORE_GET_IFACE (self)->save_finish (self, result, error);
}

/**
 * prd_ai_job_store_get_async:
 * @id: the job id
 *
 * Reads one job's record.
 */
void
prd_ai_job_store_get_async (PrdAiJobStore *self,
                            const char *id,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data)
{
  g_return_if_fail (PRD_IS_AI_JOB_STORE (self));
  g_return_if_fail (id != NULL);

  PRD_AI_JOB_STORE_GET_IFACE (self)->get_async (self, id, cancellable, callback, user_data);
}

/**
 * prd_ai_job_store_get_finish:
 *
 * Returns: (transfer full) (nullable): the record; %NULL with @error unset
 *   when there is no such job
 */
PrdAiJobRecord *
prd_ai_job_store_get_finish (PrdAiJobStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PRD_IS_AI_JOB_STORE (self), NULL);

  return PRD_AI_JOB_STORE_GET_IFACE (self)->get_finish (self, result, error);
}

/**
 * prd_ai_job_store_interrupt_async:
 *
 * Marks every queued or streaming job failed with `INTERRUPTED`: no job
 * survives a restart. Call when the hub starts.
 */
void
prd_ai_job_store_interrupt_async (PrdAiJobStore *self,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  g_return_if_fail (PRD_IS_AI_JOB_STORE (self));

  PRD_AI_JOB_STORE_GET_IFACE (self)->interrupt_async (self, cancellable, callback, user_data);
}

/**
 * prd_ai_job_store_interrupt_finish:
 *
 * Returns: how many jobs were marked, or -1 with @error set
 */
gint64
prd_ai_job_store_interrupt_finish (PrdAiJobStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PRD_IS_AI_JOB_STORE (self), -1);

  return PRD_AI_JOB_STORE_GET_IFACE (self)->interrupt_finish (self, result, error);
}
