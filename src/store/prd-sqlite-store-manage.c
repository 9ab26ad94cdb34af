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

typedef struct
{
  char *org;
  PrdManageListWhich which;
  gint64 after_created_at;
  char *after_id; /* "" for the first page: every id sorts after it */
  guint limit;
} Page;

static void
page_free (Page *page)
{
  g_free (page->org);
  g_free (page->after_id);
  g_free (page);
}

/* A range of prds_by_org_archived (or prds_by_org, for both): the page's
 * rows and no more. Each row's PRD is then read as prd_store_get_async()
 * reads it. */
static gboolean
list_page_op (PrdSqliteWorker *worker,
              gpointer data,
              gpointer *result,
              GDestroyNotify *result_free,
              GError **error)
{
  Page *page = data;
  g_autoptr (PrdSqliteStmt) stmt = NULL;
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) infos =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_store_info_free);
  int rc;

  if (page->which == PRD_MANAGE_LIST_ALL)
    stmt = prd_sqlite_worker_prepare (worker,
                                      "SELECT id FROM prds WHERE org = ?1"
                                      " AND (created_at, id) > (?3, ?4)"
                                      " ORDER BY created_at, id LIMIT ?5",
                                      error);
  else
    stmt = prd_sqlite_worker_prepare (worker,
                                      "SELECT id FROM prds WHERE org = ?1"
                                      " AND (archived_at != 0) = ?2 AND (created_at, id) > (?3, ?4)"
                                      " ORDER BY created_at, id LIMIT ?5",
                                      error);
  if (stmt == NULL)
    return FALSE;
  prd_sqlite_bind_text (stmt, 1, page->org);
  if (page->which != PRD_MANAGE_LIST_ALL)
    sqlite3_bind_int (stmt, 2, page->which == PRD_MANAGE_LIST_ARCHIVED);
  sqlite3_bind_int64 (stmt, 3, page->after_created_at);
  prd_sqlite_bind_text (stmt, 4, page->after_id);
  sqlite3_bind_int64 (stmt, 5, page->limit);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (ids, prd_sqlite_column_text (stmt, 0));
  if (rc != SQLITE_DONE)
    return prd_sqlite_worker_set_error (worker, rc, "Cannot list PRDs", error);
  g_clear_pointer (&stmt, prd_sqlite_stmt_reset);
  for (guint i = 0; i < ids->len; i++)
    {
      PrdStoreInfo *info = prd_sqlite_worker_get_info (worker, g_ptr_array_index (ids, i), error);

      if (info == NULL)
        return FALSE;
      g_ptr_array_add (infos, info);
    }
  *result = g_steal_pointer (&infos);
  *result_free = (GDestroyNotify) g_ptr_array_unref;
  return TRUE;
}

static void
list_page_async (PrdManageStore *self,
                 const char *org,
                 PrdManageListWhich which,
                 gint64 after_created_at,
                 const char *after_id,
                 guint limit,
                 GCancellable *cancellable,
                 GAsyncReadyCallback callback,
                 gpointer user_data)
{
  Page *page = g_new0 (Page, 1);

  page->org = g_strdup (org);
  page->which = which;
  page->after_created_at = after_id != NULL ? after_created_at : G_MININT64;
  page->after_id = g_strdup (after_id != NULL ? after_id : "");
  page->limit = limit;
  prd_sqlite_store_run_async (PRD_SQLITE_STORE (self), FALSE, list_page_op, page,
                              (GDestroyNotify) page_free, list_page_async, cancellable, callback,
                              user_data);
}

static GPtrArray *
list_page_finish (PrdManageStore *self, GAsyncResult *result, GError **error)
{
  gpointer infos = NULL;

  if (!prd_sqlite_store_run_finish (PRD_SQLITE_STORE (self), result, &infos, error))
    return NULL;
  return infos;
}

void
prd_sqlite_store_manage_store_iface_init (PrdManageStoreInterface *iface)
{
  iface->update_async = update_async;
  iface->update_finish = update_finish;
  iface->list_page_async = list_page_async;
  iface->list_page_finish = list_page_finish;
}
