/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The versions table (schema in prd-sqlite-store.c), through the store's
 * worker. Recording a version also sets the PRD's version field in the same
 * savepoint, so the two never disagree.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-git-repo.h"
#include "prd-sqlite-store-private.h"

#include "prd-version-store.h"

PrdVersionRecord *
prd_version_record_copy (const PrdVersionRecord *record)
{
  PrdVersionRecord *copy = g_new0 (PrdVersionRecord, 1);

  copy->id = g_strdup (record->id);
  copy->prd_id = g_strdup (record->prd_id);
  copy->version = g_strdup (record->version);
  copy->commit_hash = g_strdup (record->commit_hash);
  copy->changelog = g_strdup (record->changelog);
  copy->created_by_id = g_strdup (record->created_by_id);
  copy->created_by_name = g_strdup (record->created_by_name);
  copy->created_at = record->created_at;
  return copy;
}

void
prd_version_record_free (PrdVersionRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->id);
  g_free (record->prd_id);
  g_free (record->version);
  g_free (record->commit_hash);
  g_free (record->changelog);
  g_free (record->created_by_id);
  g_free (record->created_by_name);
  g_free (record);
}

/* `ver_` and 16 lower-case hex digits (64 random bits). */
char *
prd_version_generate_id (void)
{
  return g_strdup_printf ("ver_%08x%08x", g_random_int (), g_random_int ());
}

/**
 * prd_version_bump:
 * @type: "major", "minor" or "patch"
 *
 * Returns: (transfer full): the next version, or %NULL with
 *   INVALID_PAYLOAD for an unknown @type or a bad @version
 */
char *
prd_version_bump (const char *version, const char *type, GError **error)
{
  g_auto (GStrv) parts = NULL;
  guint64 major, minor, patch;

  if (!prd_git_validate_version (version, error))
    return NULL;
  parts = g_strsplit (version, ".", 3);
  major = g_ascii_strtoull (parts[0], NULL, 10);
  minor = g_ascii_strtoull (parts[1], NULL, 10);
  patch = g_ascii_strtoull (parts[2], NULL, 10);
  if (g_strcmp0 (type, "major") == 0)
    return g_strdup_printf ("%" G_GUINT64_FORMAT ".0.0", major + 1);
  if (g_strcmp0 (type, "minor") == 0)
    return g_strdup_printf ("%" G_GUINT64_FORMAT ".%" G_GUINT64_FORMAT ".0", major, minor + 1);
  if (g_strcmp0 (type, "patch") == 0)
    return g_strdup_printf ("%" G_GUINT64_FORMAT ".%" G_GUINT64_FORMAT ".%" G_GUINT64_FORMAT, major,
                            minor, patch + 1);
  g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                       "versionType must be \"major\", \"minor\" or \"patch\"");
  return NULL;
}

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
      g_set_error (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND, "There is no PRD %s", record->prd_id);
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

/**
 * prd_version_store_add_async:
 *
 * Records @record and sets the PRD's version to `record->version`.
 */
void
prd_version_store_add_async (PrdSqliteStore *store,
                             const PrdVersionRecord *record,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data)
{
  prd_sqlite_store_run_async (store, TRUE, add_op, prd_version_record_copy (record),
                              (GDestroyNotify) prd_version_record_free, prd_version_store_add_async,
                              cancellable, callback, user_data);
}

gboolean
prd_version_store_add_finish (PrdSqliteStore *store, GAsyncResult *result, GError **error)
{
  return prd_sqlite_store_run_finish (store, result, NULL, error);
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

  stmt = prd_sqlite_worker_prepare (worker,
                                    "SELECT id, version, commit_hash, changelog, created_by_id,"
                                    " created_by_name, created_at FROM versions"
                                    " WHERE prd_id = ? ORDER BY rowid",
                                    error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, prd_id, -1, SQLITE_STATIC);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
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
      g_ptr_array_add (records, record);
    }
  if (rc != SQLITE_DONE)
    return prd_sqlite_worker_set_error (worker, rc, "Cannot list the versions", error);
  *result = g_steal_pointer (&records);
  *result_free = (GDestroyNotify) g_ptr_array_unref;
  return TRUE;
}

/**
 * prd_version_store_list_async:
 *
 * Finishes with the versions of @prd_id (element-type PrdVersionRecord),
 * oldest first.
 */
void
prd_version_store_list_async (PrdSqliteStore *store,
                              const char *prd_id,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
  prd_sqlite_store_run_async (store, FALSE, list_op, g_strdup (prd_id), g_free,
                              prd_version_store_list_async, cancellable, callback, user_data);
}

GPtrArray *
prd_version_store_list_finish (PrdSqliteStore *store, GAsyncResult *result, GError **error)
{
  gpointer records = NULL;

  if (!prd_sqlite_store_run_finish (store, result, &records, error))
    return NULL;
  return records;
}
