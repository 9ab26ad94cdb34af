/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-store.h"

G_BEGIN_DECLS

#define PRD_TYPE_SQLITE_STORE (prd_sqlite_store_get_type ())

G_DECLARE_FINAL_TYPE (PrdSqliteStore, prd_sqlite_store, PRD, SQLITE_STORE, GObject)

/* The size a checkpoint cuts the WAL back to (`PRAGMA journal_size_limit`):
 * twice what 1,000 pages of automatic checkpoint make it under load. */
#define PRD_SQLITE_STORE_WAL_LIMIT 8388608 /* 8 MiB */

void prd_sqlite_store_new_async (const char *path,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
PrdSqliteStore *prd_sqlite_store_new_finish (GAsyncResult *result, GError **error);

const char *prd_sqlite_store_get_path (PrdSqliteStore *self);
guint64 prd_sqlite_store_get_transactions_committed (PrdSqliteStore *self);
int prd_sqlite_store_get_schema_version (void);
gboolean prd_sqlite_store_copy_file (const char *source,
                                     gboolean from_backup,
                                     const char *dest,
                                     int *schema_version,
                                     GError **error);
gboolean prd_sqlite_store_check_unused (const char *path, GError **error);
gboolean
prd_sqlite_store_file_records_versions (const char *path, gboolean *records, GError **error);

G_END_DECLS
