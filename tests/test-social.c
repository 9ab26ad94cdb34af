/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The social features inside one process: what the notifications feature
 * records for a new version (prd_hub_notifications_version_created), what a
 * PRD's creation records, and that a damaged comment row stops the hub's
 * comments from loading.
 * What is on disk is read through a second SQLite connection, after a
 * request through the store (which completes only once everything queued
 * before it has committed).
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "prd-autocleanups.h"
#include "prd-error.h"
#include "prd-hub.h"
#include "prd-sqlite-store.h"
#include "prd-test-harness.h"

#define SECRET "social-test-secret-0123456789abcdef0123"

typedef struct
{
  char *tmp_dir;
  char *db;
  PrdHubConfig *config;
  PrdAuth *auth;
  PrdStore *store;
  PrdHub *hub;
} Fixture;

/* prd_hub_set_store_async() to the end. */
static gboolean
start_hub (Fixture *f, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  prd_hub_set_store_async (f->hub, f->store, NULL, prd_test_result_cb, &result);
  return prd_hub_set_store_finish (f->hub, prd_test_wait_result (&result), error);
}

/* Waits for everything queued on the store so far to commit: the store
 * completes requests in order. */
static void
sync_store (Fixture *f)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GPtrArray) unread = NULL;
  g_autoptr (GError) error = NULL;
  PrdNotificationStore *store = PRD_NOTIFICATION_STORE (f->store);

  prd_notification_store_list_unread_async (store, "org_a", "nobody", 1, NULL, prd_test_result_cb,
                                            &result);
  unread =
      prd_notification_store_list_unread_finish (store, prd_test_wait_result (&result), &error);
  g_assert_no_error (error);
}

/* The rows of @sql, each a GStrv of its columns (NULL as ""), read through
 * a second connection. */
static GPtrArray *
db_rows (Fixture *f, const char *sql)
{
  g_autoptr (sqlite3) db = NULL;
  g_autoptr (sqlite3_stmt) stmt = NULL;
  GPtrArray *rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  int rc;

  sync_store (f);
  g_assert_cmpint (sqlite3_open_v2 (f->db, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      GStrv row = g_new0 (char *, sqlite3_column_count (stmt) + 1);

      for (int i = 0; i < sqlite3_column_count (stmt); i++)
        row[i] = g_strdup (sqlite3_column_type (stmt, i) == SQLITE_NULL
                               ? ""
                               : (const char *) sqlite3_column_text (stmt, i));
      g_ptr_array_add (rows, row);
    }
  g_assert_cmpint (rc, ==, SQLITE_DONE);
  return rows;
}

static const char *
cell (GPtrArray *rows, guint row, guint column)
{
  return ((GStrv) g_ptr_array_index (rows, row))[column];
}

/* Writes a row behind the store's back (a damaged one, say). */
static void
db_exec (Fixture *f, const char *sql)
{
  g_autoptr (sqlite3) db = NULL;

  sync_store (f);
  g_assert_cmpint (sqlite3_open_v2 (f->db, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_changes (db), ==, 1);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) secret = g_bytes_new_static (SECRET, strlen (SECRET));

  f->tmp_dir = prd_test_make_tmp_dir ("prd-social-XXXXXX");
  f->config = prd_hub_config_new ();
  g_assert_true (prd_hub_config_set (f->config, "server", "listen", "127.0.0.1:0", &error));
  g_assert_true (prd_hub_config_set (f->config, "server", "data-dir", f->tmp_dir, &error));
  g_assert_true (prd_hub_config_validate (f->config, &error));
  f->auth = prd_auth_new_hmac (secret, &error);
  g_assert_no_error (error);
  f->db = g_build_filename (f->tmp_dir, "prdhub.db", NULL);
  f->store = prd_test_store_open (f->db, &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->hub);
  prd_test_store_close (f->store);
  g_clear_object (&f->store);
  g_clear_object (&f->auth);
  g_clear_pointer (&f->config, prd_hub_config_unref);
  prd_test_remove_tree (f->tmp_dir);
  g_free (f->tmp_dir);
  g_free (f->db);
}

static char *
create_prd (Fixture *f, const char *owner)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autoptr (GError) error = NULL;

  prd_hub_create_prd_async (f->store, "org_a", "Versions", owner, "text", NULL, prd_test_result_cb,
                            &result);
  info = prd_hub_create_prd_finish (prd_test_wait_result (&result), &error);
  g_assert_no_error (error);
  return g_strdup (info->id);
}

static JsonObject *
parse (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();

  g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

/* Records a version of @prd_id by alice and waits until its rows are
 * committed (and delivered). */
static void
version_created (Fixture *f, const char *prd_id, const char *version, const char *const *editors)
{
  PrdHubNotifications *notifications = prd_hub_get_notifications (f->hub);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  prd_hub_notifications_version_created_async (notifications, prd_id, "org_a", "Versions", version,
                                               "alice", "Alice", editors, NULL, prd_test_result_cb,
                                               &result);
  g_assert_true (
      prd_hub_notifications_version_created_finish (prd_test_wait_result (&result), &error));
  g_assert_no_error (error);
}

static void
test_version_created (Fixture *f, gconstpointer data)
{
  const char *const editors[] = { "alice", "bob", "hub", "bob", NULL };
  g_autoptr (GPtrArray) notes = NULL;
  g_autoptr (GPtrArray) feed = NULL;
  g_autoptr (JsonObject) note = NULL;
  g_autoptr (JsonObject) created = NULL;
  g_autoptr (JsonObject) version = NULL;
  g_autofree char *prd_id = NULL;
  JsonObject *object;

  g_autoptr (GError) error = NULL;

  f->hub = prd_hub_new (f->config, f->auth);
  g_assert_true (start_hub (f, &error));
  g_assert_no_error (error);
  g_assert_nonnull (prd_hub_get_notifications (f->hub));
  prd_id = create_prd (f, "alice");
  version_created (f, prd_id, "1.0.0", editors);
  notes = db_rows (f, "SELECT user_id, org, payload, read FROM social_notifications ORDER BY seq");
  g_assert_cmpuint (notes->len, ==, 1);
  g_assert_cmpstr (cell (notes, 0, 0), ==, "bob");
  g_assert_cmpstr (cell (notes, 0, 1), ==, "org_a");
  g_assert_cmpstr (cell (notes, 0, 3), ==, "0");
  note = parse (cell (notes, 0, 2));
  g_assert_cmpstr (json_object_get_string_member (note, "type"), ==, "version_created");
  g_assert_true (g_str_has_prefix (json_object_get_string_member (note, "id"), "notif_"));
  object = json_object_get_object_member (note, "data");
  g_assert_cmpstr (json_object_get_string_member (object, "prdId"), ==, prd_id);
  g_assert_cmpstr (json_object_get_string_member (object, "version"), ==, "1.0.0");

  feed = db_rows (f, "SELECT org, payload FROM social_activity ORDER BY seq");
  g_assert_cmpuint (feed->len, ==, 2);
  created = parse (cell (feed, 0, 1));
  version = parse (cell (feed, 1, 1));
  g_assert_cmpstr (json_object_get_string_member (created, "type"), ==, "prd_created");
  object = json_object_get_object_member (created, "actor");
  g_assert_cmpstr (json_object_get_string_member (object, "id"), ==, "alice");
  g_assert_cmpstr (json_object_get_string_member (version, "type"), ==, "version_created");
  object = json_object_get_object_member (version, "object");
  g_assert_cmpstr (json_object_get_string_member (object, "version"), ==, "1.0.0");
  g_assert_cmpstr (json_object_get_string_member (object, "id"), ==, prd_id);
}

static void
acquire_site (Fixture *f, const char *prd_id, const char *user_id)
{
  g_autoptr (PrdStoreSite) site = NULL;
  g_autoptr (GError) error = NULL;

  site = prd_test_store_acquire_site (f->store, prd_id, user_id, NULL, 0, &error);
  g_assert_no_error (error);
}

/* Without a list, the editors are the users holding a site in the PRD. */
static void
test_version_editors (Fixture *f, gconstpointer data)
{
  g_autofree char *prd_id = NULL;
  g_autoptr (GPtrArray) notes = NULL;

  g_autoptr (GError) error = NULL;

  f->hub = prd_hub_new (f->config, f->auth);
  g_assert_true (start_hub (f, &error));
  g_assert_no_error (error);
  prd_id = create_prd (f, "alice");
  acquire_site (f, prd_id, "alice");
  acquire_site (f, prd_id, "bob");
  acquire_site (f, prd_id, "carol");
  acquire_site (f, prd_id, "bob");
  /* The sites are listed first, then the notifications written. */
  version_created (f, prd_id, "0.2.0", NULL);
  notes = db_rows (f, "SELECT user_id FROM social_notifications ORDER BY user_id");
  g_assert_cmpuint (notes->len, ==, 2);
  g_assert_cmpstr (cell (notes, 0, 0), ==, "bob");
  g_assert_cmpstr (cell (notes, 1, 0), ==, "carol");
}

/* A PRD deleted right after its version was made: no editors to tell, no
 * warning (the old code warned "Cannot list the editors"). */
static void
test_version_deleted_prd (Fixture *f, gconstpointer data)
{
  g_autofree char *prd_id = NULL;
  g_autofree char *delete = NULL;
  g_autoptr (GPtrArray) notes = NULL;

  g_autoptr (GError) error = NULL;

  f->hub = prd_hub_new (f->config, f->auth);
  g_assert_true (start_hub (f, &error));
  g_assert_no_error (error);
  prd_id = create_prd (f, "alice");
  acquire_site (f, prd_id, "bob");
  delete = g_strdup_printf ("DELETE FROM prds WHERE id = '%s'", prd_id);
  db_exec (f, delete);
  version_created (f, prd_id, "0.2.0", NULL);
  notes = db_rows (f, "SELECT user_id FROM social_notifications");
  g_assert_cmpuint (notes->len, ==, 0);
}

static void
test_damaged_comment (Fixture *f, gconstpointer data)
{
  g_autofree char *prd_id = create_prd (f, "alice");
  g_autofree char *insert = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (PrdHubComments) comments = NULL;
  g_autoptr (PrdHubRoomRegistry) rooms = NULL;
  g_autoptr (PrdHub) hub = NULL;
  PrdSioServer *sio;
  g_autoptr (GError) error = NULL;

  insert = g_strdup_printf ("INSERT INTO social_comments (id, prd_id, org, author_id, author_name, "
                            "content, anchor, created_at) VALUES ('comment_1', '%s', 'org_a', "
                            "'alice', 'Alice', 'c', 'garbage', 1)",
                            prd_id);
  db_exec (f, insert);
  /* The feature alone, as prd_hub_set_store_async() starts it. */
  hub = prd_hub_new (f->config, f->auth);
  sio = prd_hub_get_sio_server (hub);
  rooms = prd_hub_room_registry_new (prd_sio_server_of (sio, PRD_HUB_NAMESPACE_PRDS), f->store,
                                     f->config);
  prd_hub_comments_new_async (rooms, PRD_COMMENT_STORE (f->store), NULL, prd_test_result_cb,
                              &result);
  comments = prd_hub_comments_new_finish (prd_test_wait_result (&result), &error);
  g_assert_null (comments);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA);
}

/* A feature that cannot start stops the hub from starting, with an error
 * that names it; the hub is left without a store. */
static void
test_hub_start_fails (Fixture *f, gconstpointer data)
{
  g_autofree char *prd_id = create_prd (f, "alice");
  g_autofree char *insert = NULL;
  g_autoptr (GError) error = NULL;
  gboolean comments = GPOINTER_TO_INT (data);

  if (comments)
    insert = g_strdup_printf ("INSERT INTO social_comments (id, prd_id, org, author_id, "
                              "author_name, content, anchor, created_at) VALUES ('comment_1', "
                              "'%s', 'org_a', 'alice', 'Alice', 'c', 'garbage', 1)",
                              prd_id);
  else
    insert = g_strdup_printf ("INSERT INTO conflicts (id, prd_id, position, created_at, parties) "
                              "VALUES ('conflict_1', '%s', 0, 1, 'garbage')",
                              prd_id);
  db_exec (f, insert);
  f->hub = prd_hub_new (f->config, f->auth);
  g_assert_false (start_hub (f, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA);
  g_assert_true (g_str_has_prefix (error->message, comments ? "Comments cannot start: Comment "
                                                              "comment_1"
                                                            : "Conflict review cannot start: "
                                                              "Conflict conflict_1"));
  g_assert_null (prd_hub_get_store (f->hub));
  g_assert_null (prd_hub_get_comments (f->hub));
  g_assert_null (prd_hub_get_notifications (f->hub));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/prd/social/version-created", Fixture, NULL, fixture_setup, test_version_created,
              fixture_teardown);
  g_test_add ("/prd/social/version-editors", Fixture, NULL, fixture_setup, test_version_editors,
              fixture_teardown);
  g_test_add ("/prd/social/version-deleted-prd", Fixture, NULL, fixture_setup,
              test_version_deleted_prd, fixture_teardown);
  g_test_add ("/prd/social/damaged-comment", Fixture, NULL, fixture_setup, test_damaged_comment,
              fixture_teardown);
  g_test_add ("/prd/social/hub-start-fails/comments", Fixture, GINT_TO_POINTER (TRUE),
              fixture_setup, test_hub_start_fails, fixture_teardown);
  g_test_add ("/prd/social/hub-start-fails/conflicts", Fixture, GINT_TO_POINTER (FALSE),
              fixture_setup, test_hub_start_fails, fixture_teardown);

  return g_test_run ();
}
