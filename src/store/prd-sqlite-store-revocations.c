/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdRevocationStore on SQLite: the table `token_revocations` (schema
 * migration "token revocations" in prd-sqlite-store.c), one row per user,
 * the latest revocation.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include "prd-error.h"
#include "prd-sqlite-store-private.h"

typedef struct
{
  char *org;
  char *user_id;
  gint64 revoked_at;
} Revoke;

static void
revoke_free (Revoke *revoke)
{
  g_free (revoke->org);
  g_free (revoke->user_id);
  g_free (revoke);
}

static gboolean
op_revoke (PrdSqliteWorker *worker,
           gpointer data,
           gpointer *result,
           GDestroyNotify *result_free,
           GError **error)
{
  Revoke *revoke = data;
  g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (
      worker,
      "INSERT INTO token_revocations (org, user_id, revoked_at) VALUES (?, ?, ?) "
      "ON CONFLICT (org, user_id) DO UPDATE SET revoked_at = MAX (revoked_at, excluded.revoked_at)",
      error);

  if (stmt == NULL)
    return FALSE;
  prd_sqlite_bind_text (stmt, 1, revoke->org);
  prd_sqlite_bind_text (stmt, 2, revoke->user_id);
  sqlite3_bind_int64 (stmt, 3, revoke->revoked_at);
  return prd_sqlite_worker_step_done (worker, stmt, error);
}

static void
revoke_async (PrdRevocationStore *self,
              const char *org,
              const char *user_id,
              gint64 revoked_at,
              GCancellable *cancellable,
              GAsyncReadyCallback callback,
              gpointer user_data)
{
  Revoke *revoke = g_new0 (Revoke, 1);

  revoke->org = g_strdup (org);
  revoke->user_id = g_strdup (user_id);
  revoke->revoked_at = revoked_at;
  prd_sqlite_store_run_async (PRD_SQLITE_STORE (self), TRUE, op_revoke, revoke,
                              (GDestroyNotify) revoke_free, revoke_async, cancellable, callback,
                              user_data);
}

static gboolean
revoke_finish (PrdRevocationStore *self, GAsyncResult *result, GError **error)
{
  return prd_sqlite_store_run_finish (PRD_SQLITE_STORE (self), result, NULL, error);
}

static gboolean
op_list (PrdSqliteWorker *worker,
         gpointer data,
         gpointer *result,
         GDestroyNotify *result_free,
         GError **error)
{
  g_autoptr (GPtrArray) records =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_revocation_record_free);
  g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (
      worker, "SELECT org, user_id, revoked_at FROM token_revocations", error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      PrdRevocationRecord *record = g_new0 (PrdRevocationRecord, 1);

      record->org = prd_sqlite_column_text (stmt, 0);
      record->user_id = prd_sqlite_column_text (stmt, 1);
      record->revoked_at = sqlite3_column_int64 (stmt, 2);
      g_ptr_array_add (records, record);
    }
  if (rc != SQLITE_DONE)
    return prd_sqlite_worker_set_error (worker, rc, "Cannot read the token revocations", error);
  *result = g_steal_pointer (&records);
  *result_free = (GDestroyNotify) g_ptr_array_unref;
  return TRUE;
}

static void
list_async (PrdRevocationStore *self,
            GCancellable *cancellable,
            GAsyncReadyCallback callback,
            gpointer user_data)
{
  prd_sqlite_store_run_async (PRD_SQLITE_STORE (self), FALSE, op_list, NULL, NULL, list_async,
                              cancellable, callback, user_data);
}

static GPtrArray *
list_finish (PrdRevocationStore *self, GAsyncResult *result, GError **error)
{
  gpointer records = NULL;

  if (!prd_sqlite_store_run_finish (PRD_SQLITE_STORE (self), result, &records, error))
    return NULL;
  return records;
}

void
prd_sqlite_store_revocation_store_iface_init (PrdRevocationStoreInterface *iface)
{
  iface->revoke_async = revoke_async;
  iface->revoke_finish = revoke_finish;
  iface->list_async = list_async;
  iface->list_finish = list_finish;
}
