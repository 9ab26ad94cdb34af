/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdIntegrationStore on SQLite: the tables `integration_settings`,
 * `integration_links` and `integration_deliveries` (schema migration
 * "integrations" in prd-sqlite-store.c). Secrets never come here.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include "prd-error.h"
#include "prd-sqlite-store-private.h"

typedef struct
{
  char *org;
  char *service;
  char *text; /* settings, prd id, remote key or delivery id */
  GPtrArray *links;
  guint max_links;
  char *status;
  gint64 at;
} Args;

static void
args_free (Args *args)
{
  g_free (args->org);
  g_free (args->service);
  g_free (args->text);
  g_free (args->status);
  g_clear_pointer (&args->links, g_ptr_array_unref);
  g_free (args);
}

static Args *
args_new (const char *org, const char *service, const char *text)
{
  Args *args = g_new0 (Args, 1);

  args->org = g_strdup (org);
  args->service = g_strdup (service);
  args->text = g_strdup (text);
  return args;
}

static void
run (PrdIntegrationStore *self,
     gboolean write,
     PrdSqliteOpFunc func,
     Args *args,
     gpointer tag,
     GCancellable *cancellable,
     GAsyncReadyCallback callback,
     gpointer user_data)
{
  prd_sqlite_store_run_async (PRD_SQLITE_STORE (self), write, func, args,
                              (GDestroyNotify) args_free, tag, cancellable, callback, user_data);
}

/* A write of @links (put, update or merge) by @func. */
static void
run_links (PrdIntegrationStore *self,
           PrdSqliteOpFunc func,
           GPtrArray *links,
           gpointer tag,
           GCancellable *cancellable,
           GAsyncReadyCallback callback,
           gpointer user_data)
{
  Args *args = args_new (NULL, NULL, NULL);

  args->links = g_ptr_array_ref (links);
  run (self, TRUE, func, args, tag, cancellable, callback, user_data);
}

static gpointer
finish_pointer (PrdIntegrationStore *self, GAsyncResult *result, GError **error)
{
  gpointer out = NULL;

  if (!prd_sqlite_store_run_finish (PRD_SQLITE_STORE (self), result, &out, error))
    return NULL;
  return out;
}

static gboolean
finish_boolean (PrdIntegrationStore *self, GAsyncResult *result, GError **error)
{
  return prd_sqlite_store_run_finish (PRD_SQLITE_STORE (self), result, NULL, error);
}

/* ---- settings ---- */

static gboolean
op_list_settings (PrdSqliteWorker *worker,
                  gpointer data,
                  gpointer *result,
                  GDestroyNotify *result_free,
                  GError **error)
{
  Args *args = data;
  g_autoptr (GPtrArray) records =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_integration_settings_record_free);
  g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (
      worker,
      "SELECT org, service, settings, updated_at FROM integration_settings "
      "WHERE ?1 IS NULL OR org = ?1 ORDER BY org, service",
      error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  prd_sqlite_bind_text (stmt, 1, args->org);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      PrdIntegrationSettingsRecord *record = g_new0 (PrdIntegrationSettingsRecord, 1);

      record->org = prd_sqlite_column_text (stmt, 0);
      record->service = prd_sqlite_column_text (stmt, 1);
      record->settings = prd_sqlite_column_text (stmt, 2);
      record->updated_at = sqlite3_column_int64 (stmt, 3);
      g_ptr_array_add (records, record);
    }
  if (rc != SQLITE_DONE)
    return prd_sqlite_worker_set_error (worker, rc, "Cannot read the integration settings", error);
  *result = g_steal_pointer (&records);
  *result_free = (GDestroyNotify) g_ptr_array_unref;
  return TRUE;
}

static void
list_settings_async (PrdIntegrationStore *self,
                     const char *org,
                     GCancellable *cancellable,
                     GAsyncReadyCallback callback,
                     gpointer user_data)
{
  run (self, FALSE, op_list_settings, args_new (org, NULL, NULL), list_settings_async, cancellable,
       callback, user_data);
}

/* Also the list of links: both hand over the worker's array. */
static GPtrArray *
list_settings_finish (PrdIntegrationStore *self, GAsyncResult *result, GError **error)
{
  return finish_pointer (self, result, error);
}

static gboolean
op_put_settings (PrdSqliteWorker *worker,
                 gpointer data,
                 gpointer *result,
                 GDestroyNotify *result_free,
                 GError **error)
{
  Args *args = data;
  g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (
      worker,
      "INSERT INTO integration_settings (org, service, settings, updated_at) VALUES (?, ?, ?, ?) "
      "ON CONFLICT (org, service) DO UPDATE SET settings = excluded.settings, "
      "updated_at = excluded.updated_at",
      error);

  if (stmt == NULL)
    return FALSE;
  prd_sqlite_bind_text (stmt, 1, args->org);
  prd_sqlite_bind_text (stmt, 2, args->service);
  prd_sqlite_bind_text (stmt, 3, args->text);
  sqlite3_bind_int64 (stmt, 4, g_get_real_time ());
  return prd_sqlite_worker_step_done (worker, stmt, error);
}

static void
put_settings_async (PrdIntegrationStore *self,
                    const char *org,
                    const char *service,
                    const char *settings,
                    GCancellable *cancellable,
                    GAsyncReadyCallback callback,
                    gpointer user_data)
{
  run (self, TRUE, op_put_settings, args_new (org, service, settings), put_settings_async,
       cancellable, callback, user_data);
}

/* Runs @sql, whose two parameters are @first and @second. */
static gboolean
exec_pair (
    PrdSqliteWorker *worker, const char *sql, const char *first, const char *second, GError **error)
{
  g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (worker, sql, error);

  if (stmt == NULL)
    return FALSE;
  prd_sqlite_bind_text (stmt, 1, first);
  prd_sqlite_bind_text (stmt, 2, second);
  return prd_sqlite_worker_step_done (worker, stmt, error);
}

static gboolean
op_delete_settings (PrdSqliteWorker *worker,
                    gpointer data,
                    gpointer *result,
                    GDestroyNotify *result_free,
                    GError **error)
{
  Args *args = data;

  if (!exec_pair (worker, "DELETE FROM integration_settings WHERE org = ? AND service = ?",
                  args->org, args->service, error))
    return FALSE;
  if (sqlite3_changes (prd_sqlite_worker_get_db (worker)) == 0)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND, "No %s integration is configured",
                   args->service);
      return FALSE;
    }
  return exec_pair (worker, "DELETE FROM integration_links WHERE org = ? AND service = ?",
                    args->org, args->service, error) &&
         exec_pair (worker, "DELETE FROM integration_deliveries WHERE org = ? AND service = ?",
                    args->org, args->service, error);
}

static void
delete_settings_async (PrdIntegrationStore *self,
                       const char *org,
                       const char *service,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer user_data)
{
  run (self, TRUE, op_delete_settings, args_new (org, service, NULL), delete_settings_async,
       cancellable, callback, user_data);
}

/* ---- links ---- */

static gboolean
op_list_links (PrdSqliteWorker *worker,
               gpointer data,
               gpointer *result,
               GDestroyNotify *result_free,
               GError **error)
{
  Args *args = data;
  g_autoptr (GPtrArray) records =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_integration_link_record_free);
  g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (
      worker,
      "SELECT org, service, prd_id, remote_key, remote_id, url, title, digest, position, status, "
      "updated_at, status_at FROM integration_links WHERE org = ?1 AND service = ?2 "
      "AND (?3 IS NULL OR prd_id = ?3) ORDER BY prd_id, position, remote_key",
      error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  prd_sqlite_bind_text (stmt, 1, args->org);
  prd_sqlite_bind_text (stmt, 2, args->service);
  prd_sqlite_bind_text (stmt, 3, args->text);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      PrdIntegrationLinkRecord *record = g_new0 (PrdIntegrationLinkRecord, 1);

      record->org = prd_sqlite_column_text (stmt, 0);
      record->service = prd_sqlite_column_text (stmt, 1);
      record->prd_id = prd_sqlite_column_text (stmt, 2);
      record->remote_key = prd_sqlite_column_text (stmt, 3);
      record->remote_id = prd_sqlite_column_text (stmt, 4);
      record->url = prd_sqlite_column_text (stmt, 5);
      record->title = prd_sqlite_column_text (stmt, 6);
      record->digest = prd_sqlite_column_text (stmt, 7);
      record->position = sqlite3_column_int (stmt, 8);
      record->status = prd_sqlite_column_text (stmt, 9);
      record->updated_at = sqlite3_column_int64 (stmt, 10);
      record->status_at = sqlite3_column_int64 (stmt, 11);
      g_ptr_array_add (records, record);
    }
  if (rc != SQLITE_DONE)
    return prd_sqlite_worker_set_error (worker, rc, "Cannot read the integration links", error);
  *result = g_steal_pointer (&records);
  *result_free = (GDestroyNotify) g_ptr_array_unref;
  return TRUE;
}

static void
list_links_async (PrdIntegrationStore *self,
                  const char *org,
                  const char *service,
                  const char *prd_id,
                  GCancellable *cancellable,
                  GAsyncReadyCallback callback,
                  gpointer user_data)
{
  run (self, FALSE, op_list_links, args_new (org, service, prd_id), list_links_async, cancellable,
       callback, user_data);
}

/* Adds or replaces @link (by org, service and remote key). Its callers
 * check first that its PRD still exists, in the same transaction: a sync
 * or a link under way when its PRD was deleted leaves no link behind. */
static gboolean
upsert_link (PrdSqliteWorker *worker, const PrdIntegrationLinkRecord *link, GError **error)
{
  g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (
      worker,
      "INSERT INTO integration_links (org, service, prd_id, remote_key, remote_id, url, title, "
      "digest, position, status, updated_at, status_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (org, service, remote_key) DO UPDATE SET prd_id = excluded.prd_id, "
      "remote_id = excluded.remote_id, url = excluded.url, title = excluded.title, "
      "digest = excluded.digest, position = excluded.position, status = excluded.status, "
      "updated_at = excluded.updated_at, status_at = excluded.status_at",
      error);

  if (stmt == NULL)
    return FALSE;
  prd_sqlite_bind_text (stmt, 1, link->org);
  prd_sqlite_bind_text (stmt, 2, link->service);
  prd_sqlite_bind_text (stmt, 3, link->prd_id);
  prd_sqlite_bind_text (stmt, 4, link->remote_key);
  prd_sqlite_bind_text (stmt, 5, link->remote_id);
  prd_sqlite_bind_text (stmt, 6, link->url);
  prd_sqlite_bind_text (stmt, 7, link->title);
  prd_sqlite_bind_text (stmt, 8, link->digest);
  sqlite3_bind_int (stmt, 9, link->position);
  prd_sqlite_bind_text (stmt, 10, link->status);
  sqlite3_bind_int64 (stmt, 11, g_get_real_time ());
  sqlite3_bind_int64 (stmt, 12, link->status_at);
  return prd_sqlite_worker_step_done (worker, stmt, error);
}

/* Whether @link's PRD is still there: a PRD deleted after its links were
 * read leaves them out, the others are kept. FALSE only on a database
 * error. */
static gboolean
link_prd_exists (PrdSqliteWorker *worker,
                 const PrdIntegrationLinkRecord *link,
                 gboolean *exists,
                 GError **error)
{
  g_autoptr (GError) local_error = NULL;

  *exists = prd_sqlite_worker_check_prd (worker, link->prd_id, link->org, &local_error);
  if (*exists || g_error_matches (local_error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

static gboolean
op_put_links (PrdSqliteWorker *worker,
              gpointer data,
              gpointer *result,
              GDestroyNotify *result_free,
              GError **error)
{
  Args *args = data;

  for (guint i = 0; i < args->links->len; i++)
    {
      const PrdIntegrationLinkRecord *link = g_ptr_array_index (args->links, i);
      gboolean exists;

      if (!link_prd_exists (worker, link, &exists, error))
        return FALSE;
      if (!exists)
        continue;
      if (!upsert_link (worker, link, error))
        return FALSE;
    }
  return TRUE;
}

static void
put_links_async (PrdIntegrationStore *self,
                 GPtrArray *links,
                 GCancellable *cancellable,
                 GAsyncReadyCallback callback,
                 gpointer user_data)
{
  run_links (self, op_put_links, links, put_links_async, cancellable, callback, user_data);
}

/* Links forgotten meanwhile (a craft-unlink after a poll read them) are
 * not there to update: an UPDATE never brings one back. */
static gboolean
op_update_links (PrdSqliteWorker *worker,
                 gpointer data,
                 gpointer *result,
                 GDestroyNotify *result_free,
                 GError **error)
{
  Args *args = data;

  for (guint i = 0; i < args->links->len; i++)
    {
      const PrdIntegrationLinkRecord *link = g_ptr_array_index (args->links, i);
      g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (
          worker,
          "UPDATE integration_links SET url = ?, title = ?, digest = ?, position = ?, "
          "status = ?, updated_at = ? WHERE org = ? AND service = ? AND remote_key = ?",
          error);

      if (stmt == NULL)
        return FALSE;
      prd_sqlite_bind_text (stmt, 1, link->url);
      prd_sqlite_bind_text (stmt, 2, link->title);
      prd_sqlite_bind_text (stmt, 3, link->digest);
      sqlite3_bind_int (stmt, 4, link->position);
      prd_sqlite_bind_text (stmt, 5, link->status);
      sqlite3_bind_int64 (stmt, 6, g_get_real_time ());
      prd_sqlite_bind_text (stmt, 7, link->org);
      prd_sqlite_bind_text (stmt, 8, link->service);
      prd_sqlite_bind_text (stmt, 9, link->remote_key);
      if (!prd_sqlite_worker_step_done (worker, stmt, error))
        return FALSE;
    }
  return TRUE;
}

static void
update_links_async (PrdIntegrationStore *self,
                    GPtrArray *links,
                    GCancellable *cancellable,
                    GAsyncReadyCallback callback,
                    gpointer user_data)
{
  run_links (self, op_update_links, links, update_links_async, cancellable, callback, user_data);
}

/* A link not kept yet: added unless its remote key is kept already. */
static gboolean
insert_link (PrdSqliteWorker *worker, const PrdIntegrationLinkRecord *link, GError **error)
{
  g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (
      worker,
      "INSERT INTO integration_links (org, service, prd_id, remote_key, remote_id, url, title, "
      "digest, position, status, updated_at, status_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (org, service, remote_key) DO NOTHING",
      error);

  if (stmt == NULL)
    return FALSE;
  prd_sqlite_bind_text (stmt, 1, link->org);
  prd_sqlite_bind_text (stmt, 2, link->service);
  prd_sqlite_bind_text (stmt, 3, link->prd_id);
  prd_sqlite_bind_text (stmt, 4, link->remote_key);
  prd_sqlite_bind_text (stmt, 5, link->remote_id);
  prd_sqlite_bind_text (stmt, 6, link->url);
  prd_sqlite_bind_text (stmt, 7, link->title);
  prd_sqlite_bind_text (stmt, 8, link->digest);
  sqlite3_bind_int (stmt, 9, link->position);
  prd_sqlite_bind_text (stmt, 10, link->status);
  sqlite3_bind_int64 (stmt, 11, g_get_real_time ());
  sqlite3_bind_int64 (stmt, 12, link->status_at);
  return prd_sqlite_worker_step_done (worker, stmt, error);
}

/* A link as a sync read it: the columns a sync sets, if it is still kept
 * for its PRD; its status only if no delivery set one since: status_at and
 * updated_at as read. status_at alone would not tell a delivery sent at the
 * same millisecond as the one before it; every delivery's write moves
 * updated_at forward (op_set_link_status()). */
static gboolean
update_read_link (PrdSqliteWorker *worker, const PrdIntegrationLinkRecord *link, GError **error)
{
  g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (
      worker,
      "UPDATE integration_links SET remote_id = ?1, url = ?2, title = ?3, digest = ?4, "
      "position = ?5, "
      "status = CASE WHEN status_at = ?6 AND updated_at = ?13 THEN ?7 ELSE status END, "
      "updated_at = ?8 WHERE org = ?9 AND service = ?10 AND remote_key = ?11 AND prd_id = ?12",
      error);

  if (stmt == NULL)
    return FALSE;
  prd_sqlite_bind_text (stmt, 1, link->remote_id);
  prd_sqlite_bind_text (stmt, 2, link->url);
  prd_sqlite_bind_text (stmt, 3, link->title);
  prd_sqlite_bind_text (stmt, 4, link->digest);
  sqlite3_bind_int (stmt, 5, link->position);
  sqlite3_bind_int64 (stmt, 6, link->status_at);
  prd_sqlite_bind_text (stmt, 7, link->status);
  sqlite3_bind_int64 (stmt, 8, g_get_real_time ());
  prd_sqlite_bind_text (stmt, 9, link->org);
  prd_sqlite_bind_text (stmt, 10, link->service);
  prd_sqlite_bind_text (stmt, 11, link->remote_key);
  prd_sqlite_bind_text (stmt, 12, link->prd_id);
  sqlite3_bind_int64 (stmt, 13, link->updated_at);
  return prd_sqlite_worker_step_done (worker, stmt, error);
}

/* One transaction: a webhook handled meanwhile is either wholly before it
 * (and kept) or wholly after. */
static gboolean
op_merge_links (PrdSqliteWorker *worker,
                gpointer data,
                gpointer *result,
                GDestroyNotify *result_free,
                GError **error)
{
  Args *args = data;

  for (guint i = 0; i < args->links->len; i++)
    {
      const PrdIntegrationLinkRecord *link = g_ptr_array_index (args->links, i);
      gboolean exists;

      if (link->updated_at != 0)
        {
          if (!update_read_link (worker, link, error))
            return FALSE;
          continue;
        }
      if (!link_prd_exists (worker, link, &exists, error))
        return FALSE;
      if (!exists)
        continue;
      if (!insert_link (worker, link, error))
        return FALSE;
    }
  return TRUE;
}

static void
merge_links_async (PrdIntegrationStore *self,
                   GPtrArray *links,
                   GCancellable *cancellable,
                   GAsyncReadyCallback callback,
                   gpointer user_data)
{
  run_links (self, op_merge_links, links, merge_links_async, cancellable, callback, user_data);
}

/* The read and the write in one operation of the one worker thread: of
 * deliveries handled together, the one sent last leaves its status. A
 * delivery sent at the same millisecond as the one that set the status
 * is taken as newer. */
static gboolean
op_set_link_status (PrdSqliteWorker *worker,
                    gpointer data,
                    gpointer *result,
                    GDestroyNotify *result_free,
                    GError **error)
{
  Args *args = data;
  PrdIntegrationLinkStatusOutcome outcome;
  g_autofree char *status = NULL;
  gint64 status_at;
  int rc;

  {
    g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (
        worker,
        "SELECT status, status_at FROM integration_links WHERE org = ? AND service = ? "
        "AND remote_key = ?",
        error);

    if (stmt == NULL)
      return FALSE;
    prd_sqlite_bind_text (stmt, 1, args->org);
    prd_sqlite_bind_text (stmt, 2, args->service);
    prd_sqlite_bind_text (stmt, 3, args->text);
    rc = sqlite3_step (stmt);
    if (rc == SQLITE_DONE)
      {
        *result = GINT_TO_POINTER (PRD_INTEGRATION_LINK_STATUS_NOT_LINKED);
        return TRUE;
      }
    if (rc != SQLITE_ROW)
      return prd_sqlite_worker_set_error (worker, rc, "Cannot read the integration link", error);
    status = prd_sqlite_column_text (stmt, 0);
    status_at = sqlite3_column_int64 (stmt, 1);
  }
  /* A time ahead of now (kept before the clock was set back; the hub
   * never keeps a delivery's date past when it came) orders nothing: it
   * must not make every later delivery outdated. */
  if (status_at > g_get_real_time () / 1000)
    status_at = 0;
  if (args->at < status_at)
    {
      *result = GINT_TO_POINTER (PRD_INTEGRATION_LINK_STATUS_OUTDATED);
      return TRUE;
    }
  outcome = g_strcmp0 (status, args->status) == 0 ? PRD_INTEGRATION_LINK_STATUS_UNCHANGED
                                                  : PRD_INTEGRATION_LINK_STATUS_CHANGED;
  {
    /* Unchanged too keeps the newer time: an older delivery with another
     * status, arriving later, is outdated. updated_at always moves forward,
     * even within one microsecond or with the clock set back: a sync that
     * read the link before sees it was written since (update_read_link()). */
    g_autoptr (PrdSqliteStmt) stmt =
        prd_sqlite_worker_prepare (worker,
                                   "UPDATE integration_links SET status = ?, status_at = ?, "
                                   "updated_at = MAX(?, updated_at + 1) "
                                   "WHERE org = ? AND service = ? AND remote_key = ?",
                                   error);

    if (stmt == NULL)
      return FALSE;
    prd_sqlite_bind_text (stmt, 1, args->status);
    sqlite3_bind_int64 (stmt, 2, args->at);
    sqlite3_bind_int64 (stmt, 3, g_get_real_time ());
    prd_sqlite_bind_text (stmt, 4, args->org);
    prd_sqlite_bind_text (stmt, 5, args->service);
    prd_sqlite_bind_text (stmt, 6, args->text);
    if (!prd_sqlite_worker_step_done (worker, stmt, error))
      return FALSE;
  }
  *result = GINT_TO_POINTER (outcome);
  return TRUE;
}

static void
set_link_status_async (PrdIntegrationStore *self,
                       const char *org,
                       const char *service,
                       const char *remote_key,
                       const char *status,
                       gint64 sent_at,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer user_data)
{
  Args *args = args_new (org, service, remote_key);

  args->status = g_strdup (status);
  args->at = sent_at;
  run (self, TRUE, op_set_link_status, args, set_link_status_async, cancellable, callback,
       user_data);
}

static gboolean
finish_set_link_status (PrdIntegrationStore *self,
                        GAsyncResult *result,
                        PrdIntegrationLinkStatusOutcome *out_outcome,
                        GError **error)
{
  gpointer outcome = NULL;

  if (!prd_sqlite_store_run_finish (PRD_SQLITE_STORE (self), result, &outcome, error))
    return FALSE;
  if (out_outcome != NULL)
    *out_outcome = (PrdIntegrationLinkStatusOutcome) GPOINTER_TO_INT (outcome);
  return TRUE;
}

/* Returns: the number @sql (one row, one column; its parameters @link's
 * org, service, and then PRD id or remote key) counts, or -1 with @error
 * set */
static gint64
count_links (PrdSqliteWorker *worker,
             const char *sql,
             const PrdIntegrationLinkRecord *link,
             const char *third,
             GError **error)
{
  g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (worker, sql, error);
  int rc;

  if (stmt == NULL)
    return -1;
  prd_sqlite_bind_text (stmt, 1, link->org);
  prd_sqlite_bind_text (stmt, 2, link->service);
  prd_sqlite_bind_text (stmt, 3, third);
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      prd_sqlite_worker_set_error (worker, rc, "Cannot count the integration links", error);
      return -1;
    }
  return sqlite3_column_int64 (stmt, 0);
}

/* The count and the insert run in one operation of the one worker thread
 * (one transaction): no other write comes between them. */
static gboolean
op_add_link (PrdSqliteWorker *worker,
             gpointer data,
             gpointer *result,
             GDestroyNotify *result_free,
             GError **error)
{
  Args *args = data;
  const PrdIntegrationLinkRecord *link = g_ptr_array_index (args->links, 0);
  gint64 n;

  if (!prd_sqlite_worker_check_prd (worker, link->prd_id, link->org, error))
    return FALSE;
  n = count_links (worker,
                   "SELECT COUNT (*) FROM integration_links WHERE org = ? AND service = ? "
                   "AND remote_key = ?",
                   link, link->remote_key, error);
  if (n < 0)
    return FALSE;
  if (n > 0)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_ALREADY_EXISTS, "%s is linked already",
                   link->remote_key);
      return FALSE;
    }
  n = count_links (worker,
                   "SELECT COUNT (*) FROM integration_links WHERE org = ? AND service = ? "
                   "AND prd_id = ?",
                   link, link->prd_id, error);
  if (n < 0)
    return FALSE;
  if (n >= args->max_links)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_LIMIT_REACHED,
                   "%s holds %" G_GINT64_FORMAT " %s links, the most it may (%u)", link->prd_id, n,
                   link->service, args->max_links);
      return FALSE;
    }
  return upsert_link (worker, link, error);
}

static void
add_link_async (PrdIntegrationStore *self,
                const PrdIntegrationLinkRecord *link,
                guint max_links,
                GCancellable *cancellable,
                GAsyncReadyCallback callback,
                gpointer user_data)
{
  Args *args = args_new (NULL, NULL, NULL);

  args->links = g_ptr_array_new_with_free_func ((GDestroyNotify) prd_integration_link_record_free);
  g_ptr_array_add (args->links, prd_integration_link_record_copy (link));
  args->max_links = max_links;
  run (self, TRUE, op_add_link, args, add_link_async, cancellable, callback, user_data);
}

static gboolean
op_delete_link (PrdSqliteWorker *worker,
                gpointer data,
                gpointer *result,
                GDestroyNotify *result_free,
                GError **error)
{
  Args *args = data;
  g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (
      worker, "DELETE FROM integration_links WHERE org = ? AND service = ? AND remote_key = ?",
      error);

  if (stmt == NULL)
    return FALSE;
  prd_sqlite_bind_text (stmt, 1, args->org);
  prd_sqlite_bind_text (stmt, 2, args->service);
  prd_sqlite_bind_text (stmt, 3, args->text);
  if (!prd_sqlite_worker_step_done (worker, stmt, error))
    return FALSE;
  /* Deletes of one link under way together run one after the other here:
   * the first forgets it, the others learn they did not. */
  *result = GINT_TO_POINTER (sqlite3_changes (prd_sqlite_worker_get_db (worker)) > 0);
  return TRUE;
}

static gboolean
finish_delete_link (PrdIntegrationStore *self,
                    GAsyncResult *result,
                    gboolean *out_deleted,
                    GError **error)
{
  gpointer deleted = NULL;

  if (!prd_sqlite_store_run_finish (PRD_SQLITE_STORE (self), result, &deleted, error))
    return FALSE;
  if (out_deleted != NULL)
    *out_deleted = GPOINTER_TO_INT (deleted);
  return TRUE;
}

static void
delete_link_async (PrdIntegrationStore *self,
                   const char *org,
                   const char *service,
                   const char *remote_key,
                   GCancellable *cancellable,
                   GAsyncReadyCallback callback,
                   gpointer user_data)
{
  run (self, TRUE, op_delete_link, args_new (org, service, remote_key), delete_link_async,
       cancellable, callback, user_data);
}

static gboolean
op_delete_prd_links (PrdSqliteWorker *worker,
                     gpointer data,
                     gpointer *result,
                     GDestroyNotify *result_free,
                     GError **error)
{
  Args *args = data;

  return exec_pair (worker, "DELETE FROM integration_links WHERE org = ? AND prd_id = ?", args->org,
                    args->text, error);
}

static void
delete_prd_links_async (PrdIntegrationStore *self,
                        const char *org,
                        const char *prd_id,
                        GCancellable *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer user_data)
{
  run (self, TRUE, op_delete_prd_links, args_new (org, NULL, prd_id), delete_prd_links_async,
       cancellable, callback, user_data);
}

/* ---- webhook deliveries ---- */

static gboolean
op_record_delivery (PrdSqliteWorker *worker,
                    gpointer data,
                    gpointer *result,
                    GDestroyNotify *result_free,
                    GError **error)
{
  Args *args = data;
  /* The organization's deliveries are numbered 1, 2, … (seq). */
  g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (
      worker,
      "INSERT OR IGNORE INTO integration_deliveries (org, service, delivery_id, received_at, seq) "
      "VALUES (?1, ?2, ?3, ?4, "
      "(SELECT COALESCE (MAX (seq), 0) + 1 FROM integration_deliveries WHERE org = ?1))",
      error);
  g_autoptr (PrdSqliteStmt) trim = NULL;

  if (stmt == NULL)
    return FALSE;
  prd_sqlite_bind_text (stmt, 1, args->org);
  prd_sqlite_bind_text (stmt, 2, args->service);
  prd_sqlite_bind_text (stmt, 3, args->text);
  sqlite3_bind_int64 (stmt, 4, g_get_real_time ());
  if (!prd_sqlite_worker_step_done (worker, stmt, error))
    return FALSE;
  if (sqlite3_changes (prd_sqlite_worker_get_db (worker)) == 0)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_ALREADY_EXISTS,
                           "This delivery was handled already");
      return FALSE;
    }
  /* Only the organization's newest deliveries are remembered (retries come
   * within hours): a range of the index on (org, seq), so that trimming
   * stays cheap, and one organization's deliveries never push out
   * another's. */
  trim = prd_sqlite_worker_prepare (
      worker,
      "DELETE FROM integration_deliveries WHERE org = ?1 AND seq <= "
      "(SELECT MAX (seq) FROM integration_deliveries WHERE org = ?1) - ?2",
      error);
  if (trim == NULL)
    return FALSE;
  prd_sqlite_bind_text (trim, 1, args->org);
  sqlite3_bind_int64 (trim, 2, PRD_INTEGRATION_STORE_MAX_DELIVERIES);
  return prd_sqlite_worker_step_done (worker, trim, error);
}

static void
record_delivery_async (PrdIntegrationStore *self,
                       const char *org,
                       const char *service,
                       const char *delivery_id,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer user_data)
{
  run (self, TRUE, op_record_delivery, args_new (org, service, delivery_id), record_delivery_async,
       cancellable, callback, user_data);
}

static gboolean
op_forget_delivery (PrdSqliteWorker *worker,
                    gpointer data,
                    gpointer *result,
                    GDestroyNotify *result_free,
                    GError **error)
{
  Args *args = data;
  g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (
      worker,
      "DELETE FROM integration_deliveries WHERE org = ? AND service = ? AND delivery_id = ?",
      error);

  if (stmt == NULL)
    return FALSE;
  prd_sqlite_bind_text (stmt, 1, args->org);
  prd_sqlite_bind_text (stmt, 2, args->service);
  prd_sqlite_bind_text (stmt, 3, args->text);
  return prd_sqlite_worker_step_done (worker, stmt, error);
}

static void
forget_delivery_async (PrdIntegrationStore *self,
                       const char *org,
                       const char *service,
                       const char *delivery_id,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer user_data)
{
  run (self, TRUE, op_forget_delivery, args_new (org, service, delivery_id), forget_delivery_async,
       cancellable, callback, user_data);
}

void
prd_sqlite_store_integration_store_iface_init (PrdIntegrationStoreInterface *iface)
{
  iface->list_settings_async = list_settings_async;
  iface->list_settings_finish = list_settings_finish;
  iface->put_settings_async = put_settings_async;
  iface->put_settings_finish = finish_boolean;
  iface->delete_settings_async = delete_settings_async;
  iface->delete_settings_finish = finish_boolean;
  iface->list_links_async = list_links_async;
  iface->list_links_finish = list_settings_finish;
  iface->put_links_async = put_links_async;
  iface->put_links_finish = finish_boolean;
  iface->update_links_async = update_links_async;
  iface->update_links_finish = finish_boolean;
  iface->merge_links_async = merge_links_async;
  iface->merge_links_finish = finish_boolean;
  iface->set_link_status_async = set_link_status_async;
  iface->set_link_status_finish = finish_set_link_status;
  iface->add_link_async = add_link_async;
  iface->add_link_finish = finish_boolean;
  iface->delete_link_async = delete_link_async;
  iface->delete_link_finish = finish_delete_link;
  iface->delete_prd_links_async = delete_prd_links_async;
  iface->delete_prd_links_finish = finish_boolean;
  iface->record_delivery_async = record_delivery_async;
  iface->record_delivery_finish = finish_boolean;
  iface->forget_delivery_async = forget_delivery_async;
  iface->forget_delivery_finish = finish_boolean;
}
