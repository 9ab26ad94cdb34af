/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdConflictStore on SQLite: the table `conflicts` (schema in
 * prd-sqlite-store.c). Open conflicts only: a resolved one is deleted,
 * with the rewrites of the other conflicts it changed, in one savepoint.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include "prd-error.h"
#include "prd-sqlite-store-private.h"

static gboolean
op_list (PrdSqliteWorker *worker,
         gpointer data,
         gpointer *result,
         GDestroyNotify *result_free,
         GError **error)
{
  g_autoptr (GPtrArray) conflicts =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_conflict_record_free);
  g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (
      worker, "SELECT id, prd_id, position, created_at, parties FROM conflicts", error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      PrdConflictRecord *conflict = g_new0 (PrdConflictRecord, 1);

      conflict->id = prd_sqlite_column_text (stmt, 0);
      conflict->prd_id = prd_sqlite_column_text (stmt, 1);
      conflict->position = (guint32) sqlite3_column_int64 (stmt, 2);
      conflict->created_at = sqlite3_column_int64 (stmt, 3);
      conflict->parties = prd_sqlite_column_text (stmt, 4);
      g_ptr_array_add (conflicts, conflict);
    }
  if (rc != SQLITE_DONE)
    return prd_sqlite_worker_set_error (worker, rc, "Cannot read the conflicts", error);
  *result = g_steal_pointer (&conflicts);
  *result_free = (GDestroyNotify) g_ptr_array_unref;
  return TRUE;
}

static void
list_async (PrdConflictStore *self,
            GCancellable *cancellable,
            GAsyncReadyCallback callback,
            gpointer user_data)
{
  prd_sqlite_store_run_async (PRD_SQLITE_STORE (self), FALSE, op_list, NULL, NULL, list_async,
                              cancellable, callback, user_data);
}

static GPtrArray *
list_finish (PrdConflictStore *self, GAsyncResult *result, GError **error)
{
  gpointer conflicts = NULL;

  if (!prd_sqlite_store_run_finish (PRD_SQLITE_STORE (self), result, &conflicts, error))
    return NULL;
  return conflicts;
}

static gboolean
op_add (PrdSqliteWorker *worker,
        gpointer data,
        gpointer *result,
        GDestroyNotify *result_free,
        GError **error)
{
  const PrdConflictRecord *conflict = data;
  g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (
      worker,
      "INSERT INTO conflicts (id, prd_id, position, created_at, parties) "
      "VALUES (?, ?, ?, ?, ?)",
      error);

  if (stmt == NULL)
    return FALSE;
  prd_sqlite_bind_text (stmt, 1, conflict->id);
  prd_sqlite_bind_text (stmt, 2, conflict->prd_id);
  sqlite3_bind_int64 (stmt, 3, conflict->position);
  sqlite3_bind_int64 (stmt, 4, conflict->created_at);
  prd_sqlite_bind_text (stmt, 5, conflict->parties);
  return prd_sqlite_worker_step_done (worker, stmt, error);
}

static void
add_async (PrdConflictStore *self,
           const PrdConflictRecord *conflict,
           GCancellable *cancellable,
           GAsyncReadyCallback callback,
           gpointer user_data)
{
  prd_sqlite_store_run_async (
      PRD_SQLITE_STORE (self), TRUE, op_add, prd_conflict_record_copy (conflict),
      (GDestroyNotify) prd_conflict_record_free, add_async, cancellable, callback, user_data);
}

static gboolean
op_remove (PrdSqliteWorker *worker,
           gpointer data,
           gpointer *result,
           GDestroyNotify *result_free,
           GError **error)
{
  g_autoptr (PrdSqliteStmt) stmt =
      prd_sqlite_worker_prepare (worker, "DELETE FROM conflicts WHERE id = ?", error);

  if (stmt == NULL)
    return FALSE;
  prd_sqlite_bind_text (stmt, 1, data);
  return prd_sqlite_worker_step_done (worker, stmt, error);
}

static void
remove_async (PrdConflictStore *self,
              const char *id,
              GCancellable *cancellable,
              GAsyncReadyCallback callback,
              gpointer user_data)
{
  prd_sqlite_store_run_async (PRD_SQLITE_STORE (self), TRUE, op_remove, g_strdup (id), g_free,
                              remove_async, cancellable, callback, user_data);
}

typedef struct
{
  char *id;
  GPtrArray *rewritten; /* (element-type PrdConflictRecord) */
} Resolution;

static void
resolution_free (Resolution *resolution)
{
  g_free (resolution->id);
  g_ptr_array_unref (resolution->rewritten);
  g_free (resolution);
}

static gboolean
op_resolve (PrdSqliteWorker *worker,
            gpointer data,
            gpointer *result,
            GDestroyNotify *result_free,
            GError **error)
{
  Resolution *resolution = data;

  for (guint i = 0; i < resolution->rewritten->len; i++)
    {
      const PrdConflictRecord *record = g_ptr_array_index (resolution->rewritten, i);
      g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (
          worker, "UPDATE conflicts SET parties = ? WHERE id = ?", error);

      if (stmt == NULL)
        return FALSE;
      prd_sqlite_bind_text (stmt, 1, record->parties);
      prd_sqlite_bind_text (stmt, 2, record->id);
      if (!prd_sqlite_worker_step_done (worker, stmt, error))
        return FALSE;
    }
  return op_remove (worker, resolution->id, result, result_free, error);
}

static void
resolve_async (PrdConflictStore *self,
               const char *id,
               GPtrArray *rewritten,
               GCancellable *cancellable,
               GAsyncReadyCallback callback,
               gpointer user_data)
{
  Resolution *resolution = g_new0 (Resolution, 1);

  resolution->id = g_strdup (id);
  resolution->rewritten =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_conflict_record_free);
  for (guint i = 0; rewritten != NULL && i < rewritten->len; i++)
    g_ptr_array_add (resolution->rewritten,
                     prd_conflict_record_copy (g_ptr_array_index (rewritten, i)));
  prd_sqlite_store_run_async (PRD_SQLITE_STORE (self), TRUE, op_resolve, resolution,
                              (GDestroyNotify) resolution_free, resolve_async, cancellable,
                              callback, user_data);
}

static gboolean
write_finish (PrdConflictStore *self, GAsyncResult *result, GError **error)
{
  return prd_sqlite_store_run_finish (PRD_SQLITE_STORE (self), result, NULL, error);
}

void
prd_sqlite_store_conflict_store_iface_init (PrdConflictStoreInterface *iface)
{
  iface->list_async = list_async;
  iface->list_finish = list_finish;
  iface->add_async = add_async;
  iface->add_finish = write_finish;
  iface->remove_async = remove_async;
  iface->remove_finish = write_finish;
  iface->resolve_async = resolve_async;
  iface->resolve_finish = write_finish;
}
