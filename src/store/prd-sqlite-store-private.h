/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <sqlite3.h>

#include "prd-sqlite-store.h"

G_BEGIN_DECLS

/*
 * How a feature keeps its tables in the hub's database without growing
 * prd-sqlite-store.c: it writes its operations in a file of its own as
 * #PrdSqliteOpFunc functions and queues them with prd_sqlite_store_run_async().
 * They run on the store's worker thread, inside the same grouped
 * transactions as every other request (a write's callback fires only after
 * COMMIT), so the worker's connection stays the only one. Its schema is one
 * more entry at the end of the `migrations` array in prd-sqlite-store.c.
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
 * %FALSE rolls back what it did and fails only this request.
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

typedef sqlite3_stmt PrdSqliteStmt;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdSqliteStmt, prd_sqlite_stmt_reset)

G_END_DECLS
