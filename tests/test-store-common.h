/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Synchronous wrappers over the async store API for tests: each runs the
 * default main context until its operation completes. */

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "prd-autocleanups.h"
#include "prd-error.h"
#include "prd-sqlite-store.h"

static void
test_store_result_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  GAsyncResult **out = data;

  g_assert_null (*out);
  *out = g_object_ref (result);
}

static inline GAsyncResult *
test_store_wait (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *result;
}

#define WAIT_FOR(call, ...)                          \
  ({                                                 \
    GAsyncResult *_res = NULL;                       \
    call (__VA_ARGS__, test_store_result_cb, &_res); \
    test_store_wait (&_res);                         \
  })

static inline PrdStore *
test_store_open (const char *path, GError **error)
{
  g_autoptr (GAsyncResult) res = WAIT_FOR (prd_sqlite_store_new_async, path, NULL);

  return PRD_STORE (prd_sqlite_store_new_finish (res, error));
}

static inline void
test_store_close (PrdStore *store)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) res = WAIT_FOR (prd_store_close_async, store, NULL);

  g_assert_true (prd_store_close_finish (store, res, &error));
  g_assert_no_error (error);
}

static inline PrdStoreInfo *
test_store_create (PrdStore *store,
                   const char *prd_id,
                   const char *org,
                   const char *title,
                   const char *owner,
                   GError **error)
{
  g_autoptr (GAsyncResult) res =
      WAIT_FOR (prd_store_create_async, store, prd_id, org, title, owner, NULL);

  return prd_store_create_finish (store, res, error);
}

static inline PrdStoreSite *
test_store_acquire_site (PrdStore *store,
                         const char *prd_id,
                         const char *user_id,
                         const int *busy,
                         guint n_busy,
                         GError **error)
{
  g_autoptr (GAsyncResult) res =
      WAIT_FOR (prd_store_acquire_site_async, store, prd_id, user_id, busy, n_busy, NULL);

  return prd_store_acquire_site_finish (store, res, error);
}

static inline gint64
test_store_append (PrdStore *store,
                   const char *prd_id,
                   int site,
                   gint64 clock,
                   const char *user_id,
                   GBytes *payload,
                   GError **error)
{
  g_autoptr (GAsyncResult) res =
      WAIT_FOR (prd_store_append_update_async, store, prd_id, site, clock, user_id, payload, NULL);

  return prd_store_append_update_finish (store, res, error);
}

static inline PrdStoreDocument *
test_store_load (PrdStore *store, const char *prd_id, GError **error)
{
  g_autoptr (GAsyncResult) res = WAIT_FOR (prd_store_load_async, store, prd_id, NULL);

  return prd_store_load_finish (store, res, error);
}

static inline void
test_store_rm_rf (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          test_store_rm_rf (child);
        }
      g_rmdir (path);
    }
  else
    {
      g_unlink (path);
    }
}

static inline sqlite3 *
raw_open_ro (const char *path)
{
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  return db;
}
