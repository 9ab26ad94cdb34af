/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <sqlite3.h>

#include "prd-ai-job-store.h"
#include "prd-approval-store.h"
#include "prd-comment-store.h"
#include "prd-conflict-store.h"
#include "prd-manage-store.h"
#include "prd-integration-store.h"
#include "prd-notification-store.h"
#include "prd-revocation-store.h"
#include "prd-sqlite-store.h"
#include "prd-version-store.h"

G_BEGIN_DECLS

/*
 * How a store interface gets its SQLite side without growing
 * prd-sqlite-store.c: a file of its own (prd-sqlite-store-<concern>.c)
 * writes the operations as #PrdSqliteOpFunc functions and queues them with
 * prd_sqlite_store_run_async(), and its `_iface_init` function below is
 * named in PrdSqliteStore's type definition. The operations run on the
 * store's worker thread, inside the same grouped transactions as every
 * other request (a write's callback fires only after COMMIT), so the
 * worker's connection stays the only one; each write runs in a savepoint of
 * its own, so everything one operation does commits or rolls back together.
 * A new table is one more entry at the end of the `migrations` array in
 * prd-sqlite-store.c.
 */

typedef struct _PrdSqliteWorker PrdSqliteWorker;

/**
 * PrdSqliteOpFunc:
 * @worker: the worker, for prd_sqlite_worker_prepare() and friends
 * @data: the data given to prd_sqlite_store_run_async()
 * @result: (out) (transfer full) (nullable): what the `_finish` returns
 * @result_free: (out) (nullable): how to free @result
 *
 * Runs on the worker thread. A write runs inside a savepoint: returning
 * %FALSE rolls back what it did and fails only this request. It may run
 * twice: when its group's transaction fails as a whole, every request of
 * the group runs again alone. So it must change nothing but the database
 * (not @data, nothing in memory), and build @result afresh.
 */
typedef gboolean (*PrdSqliteOpFunc) (PrdSqliteWorker *worker,
                                     gpointer data,
                                     gpointer *result,
                                     GDestroyNotify *result_free,
                                     GError **error);

void prd_sqlite_store_run_async (PrdSqliteStore *self,
                                 gboolean write,
                                 PrdSqliteOpFunc func,
                                 gpointer data,
                                 GDestroyNotify data_free,
                                 gpointer source_tag,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
gboolean prd_sqlite_store_run_finish (PrdSqliteStore *self,
                                      GAsyncResult *result,
                                      gpointer *out_result,
                                      GError **error);

/* Worker-thread helpers. Statements are cached by their (static) SQL text;
 * reset them with prd_sqlite_stmt_reset() (or g_autoptr (PrdSqliteStmt))
 * when done. Errors are translated to PRD_ERROR here. */
sqlite3 *prd_sqlite_worker_get_db (PrdSqliteWorker *worker);
sqlite3_stmt *prd_sqlite_worker_prepare (PrdSqliteWorker *worker, const char *sql, GError **error);
gboolean prd_sqlite_worker_step_done (PrdSqliteWorker *worker, sqlite3_stmt *stmt, GError **error);
gboolean
prd_sqlite_worker_set_error (PrdSqliteWorker *worker, int rc, const char *what, GError **error);
void prd_sqlite_stmt_reset (sqlite3_stmt *stmt);
/* (transfer full): the PRD's row, or %NULL with PRD_ERROR_PRD_NOT_FOUND */
PrdStoreInfo *
prd_sqlite_worker_get_info (PrdSqliteWorker *worker, const char *prd_id, GError **error);
/* Whether the PRD @prd_id (of @org, unless %NULL) exists now, in the
 * transaction of the operation that asks: a write that belongs to a PRD
 * checks it first, since the PRD may have been deleted after the hub
 * queued the write (PRD_ERROR_PRD_NOT_FOUND, not a foreign key's failure,
 * and nothing written for a PRD without a foreign key to it). */
gboolean prd_sqlite_worker_check_prd (PrdSqliteWorker *worker,
                                      const char *prd_id,
                                      const char *org,
                                      GError **error);

typedef sqlite3_stmt PrdSqliteStmt;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdSqliteStmt, prd_sqlite_stmt_reset)

/* Binds @text (copied), or SQL NULL for %NULL. */
static inline int
prd_sqlite_bind_text (sqlite3_stmt *stmt, int index, const char *text)
{
  if (text == NULL)
    return sqlite3_bind_null (stmt, index);
  return sqlite3_bind_text (stmt, index, text, -1, SQLITE_TRANSIENT);
}

/* (transfer full) (nullable): a copy of a text column, %NULL for SQL NULL */
static inline char *
prd_sqlite_column_text (sqlite3_stmt *stmt, int index)
{
  return g_strdup ((const char *) sqlite3_column_text (stmt, index));
}

/* Inserts the records (prd-sqlite-store-notifications.c): for the writes
 * that announce themselves, inside their own savepoint. */
gboolean prd_sqlite_worker_insert_announcements (PrdSqliteWorker *worker,
                                                 GPtrArray *notifications,
                                                 GPtrArray *activities,
                                                 GError **error);

/* The interfaces PrdSqliteStore implements besides PrdStore, one file each. */
void prd_sqlite_store_ai_job_store_iface_init (PrdAiJobStoreInterface *iface);
void prd_sqlite_store_approval_store_iface_init (PrdApprovalStoreInterface *iface);
void prd_sqlite_store_comment_store_iface_init (PrdCommentStoreInterface *iface);
void prd_sqlite_store_conflict_store_iface_init (PrdConflictStoreInterface *iface);
void prd_sqlite_store_integration_store_iface_init (PrdIntegrationStoreInterface *iface);
void prd_sqlite_store_notification_store_iface_init (PrdNotificationStoreInterface *iface);
void prd_sqlite_store_version_store_iface_init (PrdVersionStoreInterface *iface);
void prd_sqlite_store_manage_store_iface_init (PrdManageStoreInterface *iface);
void prd_sqlite_store_revocation_store_iface_init (PrdRevocationStoreInterface *iface);

G_END_DECLS
