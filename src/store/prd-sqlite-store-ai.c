/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The `ai_jobs` table: one row per AI job, kept after the job ends so that
 * an admin can see who asked what and what it cost.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include "prd-error.h"
#include "prd-sqlite-store-ai.h"
#include "prd-sqlite-store-private.h"

PrdStoreAiJob *
prd_store_ai_job_copy (const PrdStoreAiJob *job)
{
  PrdStoreAiJob *copy = g_new0 (PrdStoreAiJob, 1);

  *copy = *job;
  copy->id = g_strdup (job->id);
  copy->prd_id = g_strdup (job->prd_id);
  copy->user_id = g_strdup (job->user_id);
  copy->prompt = g_strdup (job->prompt);
  copy->section = g_strdup (job->section);
  copy->state = g_strdup (job->state);
  copy->error_code = g_strdup (job->error_code);
  copy->error_message = g_strdup (job->error_message);
  return copy;
}

void
prd_store_ai_job_free (PrdStoreAiJob *job)
{
  if (job == NULL)
    return;
  g_free (job->id);
  g_free (job->prd_id);
  g_free (job->user_id);
  g_free (job->prompt);
  g_free (job->section);
  g_free (job->state);
  g_free (job->error_code);
  g_free (job->error_message);
  g_free (job);
}

static void
bind_text (sqlite3_stmt *stmt, int index, const char *text)
{
  if (text == NULL)
    sqlite3_bind_null (stmt, index);
  else
    sqlite3_bind_text (stmt, index, text, -1, SQLITE_TRANSIENT);
}

static char *
column_text (sqlite3_stmt *stmt, int index)
{
  const unsigned char *text = sqlite3_column_text (stmt, index);

  return text != NULL ? g_strdup ((const char *) text) : NULL;
}

static gboolean
op_save (PrdSqliteWorker *worker,
         gpointer data,
         gpointer *result,
         GDestroyNotify *result_free,
         GError **error)
{
  const PrdStoreAiJob *job = data;
  g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (
      worker,
      "INSERT OR REPLACE INTO ai_jobs (id, prd_id, user_id, prompt, section, state, tokens, "
      "duration, error_code, error_message, created_at, updated_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      error);

  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, job->id);
  bind_text (stmt, 2, job->prd_id);
  bind_text (stmt, 3, job->user_id);
  bind_text (stmt, 4, job->prompt);
  bind_text (stmt, 5, job->section);
  bind_text (stmt, 6, job->state);
  sqlite3_bind_int64 (stmt, 7, job->tokens);
  sqlite3_bind_int64 (stmt, 8, job->duration);
  bind_text (stmt, 9, job->error_code);
  bind_text (stmt, 10, job->error_message);
  sqlite3_bind_int64 (stmt, 11, job->created_at);
  sqlite3_bind_int64 (stmt, 12, job->updated_at);
  return prd_sqlite_worker_step_done (worker, stmt, error);
}

void
prd_sqlite_store_ai_save_job_async (PrdSqliteStore *self,
                                    const PrdStoreAiJob *job,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  g_return_if_fail (PRD_IS_SQLITE_STORE (self));
  g_return_if_fail (job != NULL && job->id != NULL && job->prd_id != NULL && job->user_id != NULL &&
                    job->prompt != NULL && job->state != NULL);

  prd_sqlite_store_run_async (self, TRUE, op_save, prd_store_ai_job_copy (job),
                              (GDestroyNotify) prd_store_ai_job_free,
                              prd_sqlite_store_ai_save_job_async, cancellable, callback, user_data);
}

gboolean
prd_sqlite_store_ai_save_job_finish (PrdSqliteStore *self, GAsyncResult *result, GError **error)
{
  return prd_sqlite_store_run_finish (self, result, NULL, error);
}

static gboolean
op_get (PrdSqliteWorker *worker,
        gpointer data,
        gpointer *result,
        GDestroyNotify *result_free,
        GError **error)
{
  g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (
      worker,
      "SELECT id, prd_id, user_id, prompt, section, state, tokens, duration, error_code, "
      "error_message, created_at, updated_at FROM ai_jobs WHERE id = ?",
      error);
  PrdStoreAiJob *job;
  int rc;

  if (stmt == NULL)
    return FALSE;
  bind_text (stmt, 1, data);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_DONE)
    return TRUE;
  if (rc != SQLITE_ROW)
    return prd_sqlite_worker_set_error (worker, rc, "reading an AI job", error);
  job = g_new0 (PrdStoreAiJob, 1);
  job->id = column_text (stmt, 0);
  job->prd_id = column_text (stmt, 1);
  job->user_id = column_text (stmt, 2);
  job->prompt = column_text (stmt, 3);
  job->section = column_text (stmt, 4);
  job->state = column_text (stmt, 5);
  job->tokens = sqlite3_column_int64 (stmt, 6);
  job->duration = sqlite3_column_int64 (stmt, 7);
  job->error_code = column_text (stmt, 8);
  job->error_message = column_text (stmt, 9);
  job->created_at = sqlite3_column_int64 (stmt, 10);
  job->updated_at = sqlite3_column_int64 (stmt, 11);
  *result = job;
  *result_free = (GDestroyNotify) prd_store_ai_job_free;
  return TRUE;
}

void
prd_sqlite_store_ai_get_job_async (PrdSqliteStore *self,
                                   const char *id,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  g_return_if_fail (PRD_IS_SQLITE_STORE (self));
  g_return_if_fail (id != NULL);

  prd_sqlite_store_run_async (self, FALSE, op_get, g_strdup (id), g_free,
                              prd_sqlite_store_ai_get_job_async, cancellable, callback, user_data);
}

PrdStoreAiJob *
prd_sqlite_store_ai_get_job_finish (PrdSqliteStore *self, GAsyncResult *result, GError **error)
{
  gpointer job = NULL;

  if (!prd_sqlite_store_run_finish (self, result, &job, error))
    return NULL;
  return job;
}

static gboolean
op_interrupt (PrdSqliteWorker *worker,
              gpointer data,
              gpointer *result,
              GDestroyNotify *result_free,
              GError **error)
{
  g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (
      worker,
      "UPDATE ai_jobs SET state = 'failed', error_code = 'INTERRUPTED', "
      "error_message = 'The hub restarted while the job ran', updated_at = ? "
      "WHERE state IN ('queued', 'streaming')",
      error);
  gint64 *changed;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, g_get_real_time () / 1000);
  if (!prd_sqlite_worker_step_done (worker, stmt, error))
    return FALSE;
  changed = g_new (gint64, 1);
  *changed = sqlite3_changes (prd_sqlite_worker_get_db (worker));
  *result = changed;
  *result_free = g_free;
  return TRUE;
}

void
prd_sqlite_store_ai_interrupt_async (PrdSqliteStore *self,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data)
{
  g_return_if_fail (PRD_IS_SQLITE_STORE (self));

  prd_sqlite_store_run_async (self, TRUE, op_interrupt, NULL, NULL,
                              prd_sqlite_store_ai_interrupt_async, cancellable, callback,
                              user_data);
}

gint64
prd_sqlite_store_ai_interrupt_finish (PrdSqliteStore *self, GAsyncResult *result, GError **error)
{
  gpointer changed = NULL;
  gint64 n;

  if (!prd_sqlite_store_run_finish (self, result, &changed, error))
    return -1;
  n = changed != NULL ? *(gint64 *) changed : 0;
  g_free (changed);
  return n;
}
