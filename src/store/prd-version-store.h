/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-sqlite-store.h"

G_BEGIN_DECLS

#define PRD_VERSION_CHANGELOG_MAX_CHARS 2000

/**
 * PrdVersionRecord:
 * @id: `ver_…`
 * @prd_id: the PRD
 * @version: MAJOR.MINOR.PATCH
 * @commit_hash: the git commit (40 hex digits)
 * @changelog: the commit message
 * @created_by_id: the author's user id
 * @created_by_name: the author's display name
 * @created_at: microseconds since the Unix epoch
 */
typedef struct
{
  char *id;
  char *prd_id;
  char *version;
  char *commit_hash;
  char *changelog;
  char *created_by_id;
  char *created_by_name;
  gint64 created_at;
} PrdVersionRecord;

PrdVersionRecord *prd_version_record_copy (const PrdVersionRecord *record);
void prd_version_record_free (PrdVersionRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdVersionRecord, prd_version_record_free)

char *prd_version_generate_id (void);
char *prd_version_bump (const char *version, const char *type, GError **error);

void prd_version_store_add_async (PrdSqliteStore *store,
                                  const PrdVersionRecord *record,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);
gboolean prd_version_store_add_finish (PrdSqliteStore *store, GAsyncResult *result, GError **error);

void prd_version_store_list_async (PrdSqliteStore *store,
                                   const char *prd_id,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
GPtrArray *
prd_version_store_list_finish (PrdSqliteStore *store, GAsyncResult *result, GError **error);

G_END_DECLS
