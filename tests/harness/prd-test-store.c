/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Synchronous wrappers over the async store API: each runs the default main
 * context until its operation completes. */
#define G_LOG_DOMAIN "prd-test"

#include "config.h"

#include "prd-autocleanups.h"
#include "prd-hub-room.h"

#include "prd-test-harness.h"

PrdStore *
prd_test_store_open (const char *path, GError **error)
{
  g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_sqlite_store_new_async, path, NULL);

  return PRD_STORE (prd_sqlite_store_new_finish (res, error));
}

void
prd_test_store_close (PrdStore *store)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_store_close_async, store, NULL);

  g_assert_true (prd_store_close_finish (store, res, &error));
  g_assert_no_error (error);
}

PrdStoreInfo *
prd_test_store_create (PrdStore *store,
                       const char *prd_id,
                       const char *org,
                       const char *title,
                       const char *owner,
                       GError **error)
{
  g_autoptr (GAsyncResult) res =
      PRD_TEST_WAIT_FOR (prd_store_create_async, store, prd_id, org, title, owner, NULL);

  return prd_store_create_finish (store, res, error);
}

PrdStoreSite *
prd_test_store_acquire_site (PrdStore *store,
                             const char *prd_id,
                             const char *user_id,
                             const int *busy,
                             guint n_busy,
                             GError **error)
{
  g_autoptr (GAsyncResult) res =
      PRD_TEST_WAIT_FOR (prd_store_acquire_site_async, store, prd_id, user_id, busy, n_busy, NULL);

  return prd_store_acquire_site_finish (store, res, error);
}

gint64
prd_test_store_append (PrdStore *store,
                       const char *prd_id,
                       int site,
                       gint64 clock,
                       const char *user_id,
                       GBytes *payload,
                       GError **error)
{
  g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_store_append_update_async, store, prd_id,
                                                    site, clock, user_id, payload, NULL);

  return prd_store_append_update_finish (store, res, error);
}

PrdStoreDocument *
prd_test_store_load (PrdStore *store, const char *prd_id, GError **error)
{
  g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_store_load_async, store, prd_id, NULL);

  return prd_store_load_finish (store, res, error);
}

char *
prd_test_store_text (PrdStore *store, const char *prd_id, gint64 *out_snapshot_seq)
{
  g_autoptr (PrdStoreDocument) stored = NULL;
  g_autoptr (PrdDocument) document = NULL;
  g_autoptr (GError) error = NULL;

  stored = prd_test_store_load (store, prd_id, &error);
  g_assert_no_error (error);
  if (out_snapshot_seq != NULL)
    *out_snapshot_seq = stored->info->snapshot_seq;
  document = prd_hub_document_from_store (stored, &error);
  g_assert_no_error (error);
  return prd_crdt_doc_get_text (prd_document_get_crdt (document));
}

sqlite3 *
prd_test_sqlite_open_ro (const char *path)
{
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  return db;
}
