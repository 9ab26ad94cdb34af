/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdVersionStore on SQLite: the table `versions` (schema in
 * prd-sqlite-store.c). Recording a version also sets the PRD's version
 * field in the same savepoint, so the two never disagree.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include <sqlite3.h>

#include "prd-autocleanups.h"
#include "prd-error.h"
#include "prd-sqlite-store-private.h"
#include "prd-sqlite-store.h"

static gboolean
add_op (PrdSqliteWorker *worker,
        gpointer data,
        gpointer *result,
        GDestroyNotify *result_free,
        GError **error)
{
  PrdVersionRecord *record = data;
  g_autoptr (PrdSqliteStmt) insert = NULL;
  g_autoptr (PrdSqliteStmt) update = NULL;

  update = prd_sqlite_worker_prepare (
      worker, "UPDATE prds SET version = ?, updated_at = MAX(updated_at, ?) WHERE id = ?", error);
  if (update == NULL)
    return FALSE;
  sqlite3_bind_text (update, 1, record->version, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (update, 2, record->created_at);
  sqlite3_bind_text (update, 3, record->prd_id, -1, SQLITE_STATIC);
  if (!prd_sqlite_worker_step_done (worker, update, error))
    return FALSE;
  if (sqlite3_changes (prd_sqlite_worker_get_db (worker)) == 0)
    {
      g_propagate_error (error, prd_error_new_prd_not_found (record->prd_id));
      return FALSE;
    }
  insert = prd_sqlite_worker_prepare (worker,
                                      "INSERT INTO versions (id, prd_id, version, commit_hash,"
                                      " changelog, created_by_id, created_by_name, created_at)"
                                      " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                      error);
  if (insert == NULL)
    return FALSE;
  sqlite3_bind_text (insert, 1, record->id, -1, SQLITE_STATIC);
  sqlite3_bind_text (insert, 2, record->prd_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (insert, 3, record->version, -1, SQLITE_STATIC);
  sqlite3_bind_text (insert, 4, record->commit_hash, -1, SQLITE_STATIC);
  sqlite3_bind_text (insert, 5, record->changelog, -1, SQLITE_STATIC);
  sqlite3_bind_text (insert, 6, record->created_by_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (insert, 7, record->created_by_name, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (insert, 8, record->created_at);
  if (!prd_sqlite_worker_step_done (worker, insert, error))
    {
      if (sqlite3_extended_errcode (prd_sqlite_worker_get_db (worker)) == SQLITE_CONSTRAINT_UNIQUE)
        {
          g_clear_error (error);
          g_set_error (error, PRD_ERROR, PRD_ERROR_ALREADY_EXISTS, "%s already has version %s",
                       record->prd_id, record->version);
        }
      return FALSE;
    }
  return TRUE;
}

static void
add_async (PrdVersionStore *self,
           const PrdVersionRecord *record,
           GCancellable *cancellable,
           GAsyncReadyCallback callback,
           gpointer user_data)
{
  prd_sqlite_store_run_async (
      PRD_SQLITE_STORE (self), TRUE, add_op, prd_version_record_copy (record),
      (GDestroyNotify) prd_version_record_free, add_async, cancellable, callback, user_data);
}

static gboolean
add_finish (PrdVersionStore *self, GAsyncResult *result, GError **error)
{
  return prd_sqlite_store_run_finish (PRD_SQLITE_STORE (self), result, NULL, error);
}

/* The columns every list reads, and one row of them as a record. */
#define RECORD_COLUMNS \
  "id, version, commit_hash, changelog, created_by_id, created_by_name, created_at, rowid"

static PrdVersionRecord *
record_from_row (sqlite3_stmt *stmt, const char *prd_id)
{
  PrdVersionRecord *record = g_new0 (PrdVersionRecord, 1);

  record->prd_id = g_strdup (prd_id);
  record->id = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  record->version = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
  record->commit_hash = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
  record->changelog = g_strdup ((const char *) sqlite3_column_text (stmt, 3));
  record->created_by_id = g_strdup ((const char *) sqlite3_column_text (stmt, 4));
  record->created_by_name = g_strdup ((const char *) sqlite3_column_text (stmt, 5));
  record->created_at = sqlite3_column_int64 (stmt, 6);
  record->seq = sqlite3_column_int64 (stmt, 7);
  return record;
}

static gboolean
list_op (PrdSqliteWorker *worker,
         gpointer data,
         gpointer *result,
         GDestroyNotify *result_free,
         GError **error)
{
  const char *prd_id = data;
  g_autoptr (PrdSqliteStmt) stmt = NULL;
  g_autoptr (GPtrArray) records =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_version_record_free);
  int rc;

  stmt = prd_sqlite_worker_prepare (
      worker, "SELECT " RECORD_COLUMNS " FROM versions WHERE prd_id = ? ORDER BY rowid", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, prd_id, -1, SQLITE_STATIC);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (records, record_from_row (stmt, prd_id));
  if (rc != SQLITE_DONE)
    return prd_sqlite_worker_set_error (worker, rc, "Cannot list the versions", error);
  *result = g_steal_pointer (&records);
  *result_free = (GDestroyNotify) g_ptr_array_unref;
  return TRUE;
}

static void
list_async (PrdVersionStore *self,
            const char *prd_id,
            GCancellable *cancellable,
            GAsyncReadyCallback callback,
            gpointer user_data)
{
  prd_sqlite_store_run_async (PRD_SQLITE_STORE (self), FALSE, list_op, g_strdup (prd_id), g_free,
                              list_async, cancellable, callback, user_data);
}

static GPtrArray *
list_finish (PrdVersionStore *self, GAsyncResult *result, GError **error)
{
  gpointer records = NULL;

  if (!prd_sqlite_store_run_finish (PRD_SQLITE_STORE (self), result, &records, error))
    return NULL;
  return records;
}

typedef struct
{
  char *prd_id;
  gint64 skip;
  guint limit;
} Page;

static void
page_free (Page *page)
{
  g_free (page->prd_id);
  g_free (page);
}

/* versions_by_prd (prd_id, rowid) makes this the page's rows and no more. */
static gboolean
list_page_op (PrdSqliteWorker *worker,
              gpointer data,
              gpointer *result,
              GDestroyNotify *result_free,
              GError **error)
{
  Page *page = data;
  g_autoptr (PrdSqliteStmt) stmt = NULL;
  g_autoptr (GPtrArray) records =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_version_record_free);
  int rc;

  stmt = prd_sqlite_worker_prepare (worker,
                                    "SELECT " RECORD_COLUMNS " FROM versions"
                                    " WHERE prd_id = ?1 ORDER BY rowid LIMIT ?3 OFFSET ?2",
                                    error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, page->prd_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, page->skip);
  sqlite3_bind_int64 (stmt, 3, page->limit);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (records, record_from_row (stmt, page->prd_id));
  if (rc != SQLITE_DONE)
    return prd_sqlite_worker_set_error (worker, rc, "Cannot list the versions", error);
  *result = g_steal_pointer (&records);
  *result_free = (GDestroyNotify) g_ptr_array_unref;
  return TRUE;
}

static void
list_page_async (PrdVersionStore *self,
                 const char *prd_id,
                 gint64 skip,
                 guint limit,
                 GCancellable *cancellable,
                 GAsyncReadyCallback callback,
                 gpointer user_data)
{
  Page *page = g_new0 (Page, 1);

  page->prd_id = g_strdup (prd_id);
  page->skip = skip;
  page->limit = limit;
  prd_sqlite_store_run_async (PRD_SQLITE_STORE (self), FALSE, list_page_op, page,
                              (GDestroyNotify) page_free, list_page_async, cancellable, callback,
                              user_data);
}

static GPtrArray *
list_page_finish (PrdVersionStore *self, GAsyncResult *result, GError **error)
{
  gpointer records = NULL;

  if (!prd_sqlite_store_run_finish (PRD_SQLITE_STORE (self), result, &records, error))
    return NULL;
  return records;
}

void
prd_sqlite_store_version_store_iface_init (PrdVersionStoreInterface *iface)
{
  iface->add_async = add_async;
  iface->add_finish = add_finish;
  iface->list_async = list_async;
  iface->list_finish = list_finish;
  iface->list_page_async = list_page_async;
  iface->list_page_finish = list_page_finish;
}

/**
 * prd_sqlite_store_file_records_versions:
 * @path: a database file, which a running hub may have open
 * @records: (out): whether it records any version
 *
 * Reads @path without a store (a command checks its data folder before it
 * opens one). A file that is not a prdhub database of a schema with
 * versions records none: opening it as the store says what is wrong.
 *
 * Returns: %FALSE with @error only if the file cannot be opened
 */
gboolean
prd_sqlite_store_file_records_versions (const char *path, gboolean *records, GError **error)
{
  g_autoptr (sqlite3) db = NULL;
  g_autoptr (sqlite3_stmt) stmt = NULL;
  g_autofree char *wal = NULL;
  g_autofree char *uri = NULL;
  int rc;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (records != NULL, FALSE);

  *records = FALSE;
  /* Without a WAL beside it (no hub has it open), the file alone is the
   * database: read it as immutable, which makes no -wal or -shm file. */
  wal = g_strconcat (path, "-wal", NULL);
  if (!g_file_test (wal, G_FILE_TEST_EXISTS))
    {
      g_autofree char *absolute = g_canonicalize_filename (path, NULL);
      g_autofree char *file_uri = g_filename_to_uri (absolute, NULL, error);

      if (file_uri == NULL)
        return FALSE;
      uri = g_strconcat (file_uri, "?immutable=1", NULL);
    }
  rc = sqlite3_open_v2 (uri != NULL ? uri : path, &db,
                        SQLITE_OPEN_READONLY | (uri != NULL ? SQLITE_OPEN_URI : 0), NULL);
  if (rc != SQLITE_OK)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "Cannot open %s: %s", path,
                   db != NULL ? sqlite3_errmsg (db) : sqlite3_errstr (rc));
      return FALSE;
    }
  sqlite3_busy_timeout (db, 10000);
  if (sqlite3_prepare_v2 (db, "SELECT EXISTS (SELECT 1 FROM versions)", -1, &stmt, NULL) !=
          SQLITE_OK ||
      sqlite3_step (stmt) != SQLITE_ROW)
    return TRUE;
  *records = sqlite3_column_int (stmt, 0) != 0;
  return TRUE;
}
