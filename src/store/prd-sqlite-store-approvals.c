/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdApprovalStore on SQLite: the table `social_approvals` (schema
 * migration "social" in prd-sqlite-store.c). An approval and the
 * notifications and activities announcing it are one write request, hence
 * one savepoint.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include "prd-error.h"
#include "prd-sqlite-store-private.h"

typedef struct
{
  PrdApprovalRecord *approval; /* (owned) */
  GPtrArray *notifications;    /* (owned) */
  GPtrArray *activities;       /* (owned) */
} Approve;

static void
approve_free (Approve *approve)
{
  prd_approval_record_free (approve->approval);
  g_ptr_array_unref (approve->notifications);
  g_ptr_array_unref (approve->activities);
  g_free (approve);
}

static gboolean
op_add (PrdSqliteWorker *worker,
        gpointer data,
        gpointer *result,
        GDestroyNotify *result_free,
        GError **error)
{
  Approve *approve = data;
  const PrdApprovalRecord *a = approve->approval;
  g_autoptr (PrdSqliteStmt) stmt = NULL;

  if (!prd_sqlite_worker_check_prd (worker, a->prd_id, NULL, error))
    return FALSE;
  stmt = prd_sqlite_worker_prepare (worker,
                                    "INSERT INTO social_approvals (prd_id, approver_id, "
                                    "approver_name, comment, created_at) VALUES (?, ?, ?, ?, ?)",
                                    error);
  if (stmt == NULL)
    return FALSE;
  prd_sqlite_bind_text (stmt, 1, a->prd_id);
  prd_sqlite_bind_text (stmt, 2, a->approver_id);
  prd_sqlite_bind_text (stmt, 3, a->approver_name);
  prd_sqlite_bind_text (stmt, 4, a->comment);
  sqlite3_bind_int64 (stmt, 5, a->created_at);
  if (!prd_sqlite_worker_step_done (worker, stmt, error))
    return FALSE;
  return prd_sqlite_worker_insert_announcements (worker, approve->notifications,
                                                 approve->activities, error);
}

static void
add_async (PrdApprovalStore *self,
           const PrdApprovalRecord *approval,
           GPtrArray *notifications,
           GPtrArray *activities,
           GCancellable *cancellable,
           GAsyncReadyCallback callback,
           gpointer user_data)
{
  Approve *approve = g_new0 (Approve, 1);

  approve->approval = prd_approval_record_copy (approval);
  approve->notifications = g_ptr_array_ref (notifications);
  approve->activities = g_ptr_array_ref (activities);
  prd_sqlite_store_run_async (PRD_SQLITE_STORE (self), TRUE, op_add, approve,
                              (GDestroyNotify) approve_free, add_async, cancellable, callback,
                              user_data);
}

static gboolean
add_finish (PrdApprovalStore *self, GAsyncResult *result, GError **error)
{
  return prd_sqlite_store_run_finish (PRD_SQLITE_STORE (self), result, NULL, error);
}

void
prd_sqlite_store_approval_store_iface_init (PrdApprovalStoreInterface *iface)
{
  iface->add_async = add_async;
  iface->add_finish = add_finish;
}
