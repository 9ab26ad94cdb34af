/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdRevocationStore on SQLite: the table `token_revocations` (schema
 * migration "token revocations" in prd-sqlite-store.c), one row per user,
 * the latest revocation; and `sign_in_links`, one row per sign-in link used,
 * kept until LINK_KEPT_AFTER_EXPIRY seconds after the link expired.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include "prd-error.h"
#include "prd-sqlite-store-private.h"

/* A used link is remembered this long past its expiry, not just until it:
 * a wall clock stepped forward (by mistake, then corrected) would otherwise
 * forget links that are still valid once the clock is back. The rows are a
 * UUID and a time each. */
#define LINK_KEPT_AFTER_EXPIRY (30 * 24 * 3600)

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

typedef struct
{
  char *link_id;
  gint64 expires_at;
} UseLink;

static void
use_link_free (UseLink *use)
{
  g_free (use->link_id);
  g_free (use);
}

static gboolean
op_use_link (PrdSqliteWorker *worker,
             gpointer data,
             gpointer *result,
             GDestroyNotify *result_free,
             GError **error)
{
  UseLink *use = data;
  g_autoptr (PrdSqliteStmt) purge =
      prd_sqlite_worker_prepare (worker, "DELETE FROM sign_in_links WHERE expires_at < ?", error);
  g_autoptr (PrdSqliteStmt) insert = NULL;

  if (purge == NULL)
    return FALSE;
  sqlite3_bind_int64 (purge, 1, g_get_real_time () / G_USEC_PER_SEC - LINK_KEPT_AFTER_EXPIRY);
  if (!prd_sqlite_worker_step_done (worker, purge, error))
    return FALSE;
  insert =
      prd_sqlite_worker_prepare (worker,
                                 "INSERT INTO sign_in_links (link_id, expires_at) VALUES (?, ?) "
                                 "ON CONFLICT (link_id) DO NOTHING",
                                 error);
  if (insert == NULL)
    return FALSE;
  prd_sqlite_bind_text (insert, 1, use->link_id);
  sqlite3_bind_int64 (insert, 2, use->expires_at);
  if (!prd_sqlite_worker_step_done (worker, insert, error))
    return FALSE;
  if (sqlite3_changes (prd_sqlite_worker_get_db (worker)) == 0)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_TOKEN_REVOKED,
                           "This sign-in link was used already: ask for a new one "
                           "(prdhub token --link)");
      return FALSE;
    }
  return TRUE;
}

static void
use_link_async (PrdRevocationStore *self,
                const char *link_id,
                gint64 expires_at,
                GCancellable *cancellable,
                GAsyncReadyCallback callback,
                gpointer user_data)
{
  UseLink *use = g_new0 (UseLink, 1);

  use->link_id = g_strdup (link_id);
  use->expires_at = expires_at;
  prd_sqlite_store_run_async (PRD_SQLITE_STORE (self), TRUE, op_use_link, use,
                              (GDestroyNotify) use_link_free, use_link_async, cancellable, callback,
                              user_data);
}

static gboolean
use_link_finish (PrdRevocationStore *self, GAsyncResult *result, GError **error)
{
  return prd_sqlite_store_run_finish (PRD_SQLITE_STORE (self), result, NULL, error);
}

void
prd_sqlite_store_revocation_store_iface_init (PrdRevocationStoreInterface *iface)
{
  iface->revoke_async = revoke_async;
  iface->revoke_finish = revoke_finish;
  iface->list_async = list_async;
  iface->list_finish = list_finish;
  iface->use_link_async = use_link_async;
  iface->use_link_finish = use_link_finish;
}
