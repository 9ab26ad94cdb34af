/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdManageStore on SQLite: the `title` and `archived_at` columns of
 * `prds` (schema in prd-sqlite-store.c).
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include "prd-error.h"
#include "prd-sqlite-store-private.h"

typedef struct
{
  char *prd_id;
  char *title; /* (nullable) */
  PrdManageArchive archive;
} Update;

static void
update_free (Update *update)
{
  g_free (update->prd_id);
  g_free (update->title);
  g_free (update);
}

static gboolean
update_op (PrdSqliteWorker *worker,
           gpointer data,
           gpointer *result,
           GDestroyNotify *result_free,
           GError **error)
{
  Update *update = data;
  g_autoptr (PrdSqliteStmt) stmt = NULL;
  PrdStoreInfo *info;

  /* archived_at: 0 when not archived; archiving again keeps the first time. */
  stmt = prd_sqlite_worker_prepare (
      worker,
      "UPDATE prds SET title = coalesce(?2, title),"
      " archived_at = CASE ?3 WHEN 1 THEN (CASE archived_at WHEN 0 THEN ?4 ELSE archived_at END)"
      " WHEN 2 THEN 0 ELSE archived_at END,"
      " updated_at = ?4 WHERE id = ?1",
      error);
  if (stmt == NULL)
    return FALSE;
  prd_sqlite_bind_text (stmt, 1, update->prd_id);
  prd_sqlite_bind_text (stmt, 2, update->title);
  sqlite3_bind_int (stmt, 3, (int) update->archive);
  sqlite3_bind_int64 (stmt, 4, g_get_real_time ());
  if (!prd_sqlite_worker_step_done (worker, stmt, error))
    return FALSE;
  if (sqlite3_changes (prd_sqlite_worker_get_db (worker)) == 0)
    {
      g_propagate_error (error, prd_error_new_prd_not_found (update->prd_id));
      return FALSE;
    }
  info = prd_sqlite_worker_get_info (worker, update->prd_id, error);
  if (info == NULL)
    return FALSE;
  *result = info;
  *result_free = (GDestroyNotify) prd_store_info_free;
  return TRUE;
}

static void
update_async (PrdManageStore *self,
              const char *prd_id,
              const char *title,
              PrdManageArchive archive,
              GCancellable *cancellable,
              GAsyncReadyCallback callback,
              gpointer user_data)
{
  Update *update = g_new0 (Update, 1);

  update->prd_id = g_strdup (prd_id);
  update->title = g_strdup (title);
  update->archive = archive;
  prd_sqlite_store_run_async (PRD_SQLITE_STORE (self), TRUE, update_op, update,
                              (GDestroyNotify) update_free, update_async, cancellable, callback,
                              user_data);
}

static PrdStoreInfo *
update_finish (PrdManageStore *self, GAsyncResult *result, GError **error)
{
  gpointer info = NULL;

  if (!prd_sqlite_store_run_finish (PRD_SQLITE_STORE (self), result, &info, error))
    return NULL;
  return info;
}

void
prd_sqlite_store_manage_store_iface_init (PrdManageStoreInterface *iface)
{
  iface->update_async = update_async;
  iface->update_finish = update_finish;
}
