/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdAiJobStore on SQLite: the table `ai_jobs` (schema in
 * prd-sqlite-store.c), one row per AI job, kept after the job ends.
 *
 * Retention: the record of a new job (state "queued") deletes what the
 * user (organization and user id) holds beyond their newest
 * PRD_AI_JOB_STORE_USER_LIMIT jobs, ended ones only, at most TRIM_BACKLOG
 * more than one: rows a release before this one kept (nothing was ever
 * deleted) go over the next jobs rather than in one transaction in front
 * of every edit's commit. "Newest" is the order the rows were written
 * (rowid: INSERT OR REPLACE gives each save a new one), never created_at,
 * a wall-clock reading: after a clock set back, every new job was "older"
 * than the kept ones and deleted by the next. Both steps are ranges of
 * ai_jobs_by_user (org, user_id, rowid).
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include "prd-error.h"
#include "prd-sqlite-store-private.h"

/* How many rows of a backlog a new job may delete beyond one. */
#define TRIM_BACKLOG 64

/* Deletes the ended jobs of @user_id in @org older than their newest
 * PRD_AI_JOB_STORE_USER_LIMIT, at most TRIM_BACKLOG + 1, the oldest. */
static gboolean
trim_user (PrdSqliteWorker *worker, const char *org, const char *user_id, GError **error)
{
  g_autoptr (PrdSqliteStmt) oldest_kept = NULL;
  g_autoptr (PrdSqliteStmt) trim = NULL;
  int rc;

  oldest_kept =
      prd_sqlite_worker_prepare (worker,
                                 "SELECT rowid FROM ai_jobs WHERE org = ? AND user_id = ? "
                                 "ORDER BY rowid DESC LIMIT 1 OFFSET ?",
                                 error);
  if (oldest_kept == NULL)
    return FALSE;
  prd_sqlite_bind_text (oldest_kept, 1, org);
  prd_sqlite_bind_text (oldest_kept, 2, user_id);
  sqlite3_bind_int64 (oldest_kept, 3, PRD_AI_JOB_STORE_USER_LIMIT - 1);
  rc = sqlite3_step (oldest_kept);
  if (rc == SQLITE_DONE)
    return TRUE; /* fewer than the limit */
  if (rc != SQLITE_ROW)
    return prd_sqlite_worker_set_error (worker, rc, "Cannot trim the AI jobs", error);
  trim = prd_sqlite_worker_prepare (
      worker,
      "DELETE FROM ai_jobs WHERE rowid IN (SELECT rowid FROM ai_jobs WHERE org = ? AND user_id = ? "
      "AND rowid < ? AND state NOT IN ('queued', 'streaming') ORDER BY rowid LIMIT ?)",
      error);
  if (trim == NULL)
    return FALSE;
  prd_sqlite_bind_text (trim, 1, org);
  prd_sqlite_bind_text (trim, 2, user_id);
  sqlite3_bind_int64 (trim, 3, sqlite3_column_int64 (oldest_kept, 0));
  sqlite3_bind_int64 (trim, 4, TRIM_BACKLOG + 1);
  return prd_sqlite_worker_step_done (worker, trim, error);
}

static gboolean
op_save (PrdSqliteWorker *worker,
         gpointer data,
         gpointer *result,
         GDestroyNotify *result_free,
         GError **error)
{
  const PrdAiJobRecord *job = data;
  g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (
      worker,
      "INSERT OR REPLACE INTO ai_jobs (id, prd_id, user_id, prompt, section, state, tokens, "
      "duration, error_code, error_message, created_at, updated_at, org) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      error);

  if (stmt == NULL)
    return FALSE;
  prd_sqlite_bind_text (stmt, 1, job->id);
  prd_sqlite_bind_text (stmt, 2, job->prd_id);
  prd_sqlite_bind_text (stmt, 3, job->user_id);
  prd_sqlite_bind_text (stmt, 4, job->prompt);
  prd_sqlite_bind_text (stmt, 5, job->section);
  prd_sqlite_bind_text (stmt, 6, job->state);
  sqlite3_bind_int64 (stmt, 7, job->tokens);
  sqlite3_bind_int64 (stmt, 8, job->duration);
  prd_sqlite_bind_text (stmt, 9, job->error_code);
  prd_sqlite_bind_text (stmt, 10, job->error_message);
  sqlite3_bind_int64 (stmt, 11, job->created_at);
  sqlite3_bind_int64 (stmt, 12, job->updated_at);
  prd_sqlite_bind_text (stmt, 13, job->org != NULL ? job->org : "");
  if (!prd_sqlite_worker_step_done (worker, stmt, error))
    return FALSE;
  return !g_str_equal (job->state, "queued") ||
         trim_user (worker, job->org != NULL ? job->org : "", job->user_id, error);
}

static void
save_async (PrdAiJobStore *self,
            const PrdAiJobRecord *job,
            GCancellable *cancellable,
            GAsyncReadyCallback callback,
            gpointer user_data)
{
  prd_sqlite_store_run_async (PRD_SQLITE_STORE (self), TRUE, op_save, prd_ai_job_record_copy (job),
                              (GDestroyNotify) prd_ai_job_record_free, save_async, cancellable,
                              callback, user_data);
}

static gboolean
save_finish (PrdAiJobStore *self, GAsyncResult *result, GError **error)
{
  return prd_sqlite_store_run_finish (PRD_SQLITE_STORE (self), result, NULL, error);
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
      "error_message, created_at, updated_at, org FROM ai_jobs WHERE id = ?",
      error);
  PrdAiJobRecord *job;
  int rc;

  if (stmt == NULL)
    return FALSE;
  prd_sqlite_bind_text (stmt, 1, data);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_DONE)
    return TRUE;
  if (rc != SQLITE_ROW)
    return prd_sqlite_worker_set_error (worker, rc, "reading an AI job", error);
  job = g_new0 (PrdAiJobRecord, 1);
  job->id = prd_sqlite_column_text (stmt, 0);
  job->prd_id = prd_sqlite_column_text (stmt, 1);
  job->user_id = prd_sqlite_column_text (stmt, 2);
  job->prompt = prd_sqlite_column_text (stmt, 3);
  job->section = prd_sqlite_column_text (stmt, 4);
  job->state = prd_sqlite_column_text (stmt, 5);
  job->tokens = sqlite3_column_int64 (stmt, 6);
  job->duration = sqlite3_column_int64 (stmt, 7);
  job->error_code = prd_sqlite_column_text (stmt, 8);
  job->error_message = prd_sqlite_column_text (stmt, 9);
  job->created_at = sqlite3_column_int64 (stmt, 10);
  job->updated_at = sqlite3_column_int64 (stmt, 11);
  job->org = prd_sqlite_column_text (stmt, 12);
  *result = job;
  *result_free = (GDestroyNotify) prd_ai_job_record_free;
  return TRUE;
}

static void
get_async (PrdAiJobStore *self,
           const char *id,
           GCancellable *cancellable,
           GAsyncReadyCallback callback,
           gpointer user_data)
{
  prd_sqlite_store_run_async (PRD_SQLITE_STORE (self), FALSE, op_get, g_strdup (id), g_free,
                              get_async, cancellable, callback, user_data);
}

static PrdAiJobRecord *
get_finish (PrdAiJobStore *self, GAsyncResult *result, GError **error)
{
  gpointer job = NULL;

  if (!prd_sqlite_store_run_finish (PRD_SQLITE_STORE (self), result, &job, error))
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

static void
interrupt_async (PrdAiJobStore *self,
                 GCancellable *cancellable,
                 GAsyncReadyCallback callback,
                 gpointer user_data)
{
  prd_sqlite_store_run_async (PRD_SQLITE_STORE (self), TRUE, op_interrupt, NULL, NULL,
                              interrupt_async, cancellable, callback, user_data);
}

static gint64
interrupt_finish (PrdAiJobStore *self, GAsyncResult *result, GError **error)
{
  gpointer changed = NULL;
  gint64 n;

  if (!prd_sqlite_store_run_finish (PRD_SQLITE_STORE (self), result, &changed, error))
    return -1;
  n = changed != NULL ? *(gint64 *) changed : 0;
  g_free (changed);
  return n;
}

void
prd_sqlite_store_ai_job_store_iface_init (PrdAiJobStoreInterface *iface)
{
  iface->save_async = save_async;
  iface->save_finish = save_finish;
  iface->get_async = get_async;
  iface->get_finish = get_finish;
  iface->interrupt_async = interrupt_async;
  iface->interrupt_finish = interrupt_finish;
}
