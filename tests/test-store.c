/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#include "prd-data-swap.h"
#include "prd-error.h"
#include "prd-sqlite-store-private.h"
#include "prd-test-harness.h"

typedef struct
{
  char *dir;
  char *path;
  PrdStore *store;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("prd-store-XXXXXX", &error);
  g_assert_no_error (error);
  /* A folder that does not exist yet: the store creates it. */
  f->path = g_build_filename (f->dir, "data", "prdhub.db", NULL);
  f->store = prd_test_store_open (f->path, &error);
  g_assert_no_error (error);
  g_assert_true (PRD_IS_SQLITE_STORE (f->store));
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  if (f->store != NULL)
    {
      prd_test_store_close (f->store);
      g_clear_object (&f->store);
    }
  prd_test_remove_tree (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

static void
fixture_reopen (Fixture *f)
{
  g_autoptr (GError) error = NULL;

  prd_test_store_close (f->store);
  g_clear_object (&f->store);
  f->store = prd_test_store_open (f->path, &error);
  g_assert_no_error (error);
}

static guint64
commits (Fixture *f)
{
  return prd_sqlite_store_get_transactions_committed (PRD_SQLITE_STORE (f->store));
}

static sqlite3 *
raw_open (const char *path)
{
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                   ==, SQLITE_OK);
  return db;
}

static gint64
raw_int (sqlite3 *db, const char *sql)
{
  g_autoptr (sqlite3_stmt) stmt = NULL;

  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  return sqlite3_column_int64 (stmt, 0);
}

static void
raw_exec (sqlite3 *db, const char *sql)
{
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
}

static PrdStoreInfo *
create_ok (Fixture *f, const char *prd_id, const char *org)
{
  g_autoptr (GError) error = NULL;
  PrdStoreInfo *info = prd_test_store_create (f->store, prd_id, org, "A title", "alice", &error);

  g_assert_no_error (error);
  g_assert_nonnull (info);
  return info;
}

static int
acquire_ok (Fixture *f, const char *prd_id, const char *user_id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdStoreSite) site =
      prd_test_store_acquire_site (f->store, prd_id, user_id, NULL, 0, &error);

  g_assert_no_error (error);
  return site->site;
}

static GBytes *
payload_for (int site, gint64 clock)
{
  char *text = g_strdup_printf ("op %d:%" G_GINT64_FORMAT ";", site, clock);

  return g_bytes_new_take (text, strlen (text));
}

/* Validation */

static void
test_validate_id (void)
{
  const char *valid[] = {
    "prd_a",     "prd_abc123",
    "prd_A-b_C", "prd_-",
    "prd__",     "prd_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX", /* 64 */
  };
  const char *invalid[] = {
    "",
    "prd_",
    "prd",
    "PRD_abc",
    "Prd_abc",
    "abc",
    "_prd_abc",
    " prd_abc",
    "prd_abc ",
    "prd_a b",
    "prd_a;DROP TABLE prds;--",
    "prd_a'--",
    "prd_a\"",
    "prd_a%",
    "prd_a%00",
    "prd_a*",
    "prd_../../etc/passwd",
    "prd_a/b",
    "prd_a\\b",
    "prd_a.md",
    "prd_..",
    "prd_a\n",
    "prd_a\tb",
    "prd_a\x7f",
    "prd_\xc3\xa9",      /* é */
    "prd_\xef\xbc\xa1",  /* fullwidth A */
    "prd_a\xe2\x80\xae", /* right-to-left override */
    "prd_\xff",
    "prd_\xc0\xaf",                                                      /* overlong / */
    "prd_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY", /* 65 */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (valid); i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_true (prd_store_validate_prd_id (valid[i], &error));
      g_assert_no_error (error);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      g_autoptr (GError) error = NULL;

      g_test_message ("invalid id %zu", i);
      g_assert_false (prd_store_validate_prd_id (invalid[i], &error));
      g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_ID);
      g_assert_nonnull (error->message);
    }
  {
    g_autoptr (GError) error = NULL;

    g_assert_false (prd_store_validate_prd_id (NULL, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_ID);
  }
}

static void
test_validate_fields (void)
{
  g_autoptr (GString) long_title = g_string_new (NULL);
  g_autofree char *long_name = NULL;
  const char *good_titles[] = { "Checkout v2", "Überarbeitung", "a", "日本語のタイトル" };
  const char *bad_titles[] = { "", "   ", "\t\n", "a\nb", "a\x01", "\xff\xfe" };
  const char *good_versions[] = { "0.1.0", "1.2.3", "10.0.0", "0.0.0", "999999999.1.1" };
  const char *bad_versions[] = { "",           "1.2",    "01.2.3",         "1.02.3",
                                 "1.2.3-beta", "a.b.c",  "1..2",           "1.2.3.4",
                                 " 1.2.3",     "1.2.3 ", "1234567890.0.0", "v1.2.3",
                                 "1.2.3\n" };

  for (gsize i = 0; i < G_N_ELEMENTS (good_titles); i++)
    g_assert_true (prd_store_validate_title (good_titles[i], NULL));
  for (gsize i = 0; i < G_N_ELEMENTS (bad_titles); i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_false (prd_store_validate_title (bad_titles[i], &error));
      g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
    }
  g_assert_false (prd_store_validate_title (NULL, NULL));

  /* The limit counts characters, not bytes. */
  for (int i = 0; i < PRD_STORE_TITLE_MAX_CHARS; i++)
    g_string_append (long_title, "é");
  g_assert_true (prd_store_validate_title (long_title->str, NULL));
  g_string_append_c (long_title, 'x');
  g_assert_false (prd_store_validate_title (long_title->str, NULL));

  for (gsize i = 0; i < G_N_ELEMENTS (good_versions); i++)
    g_assert_true (prd_store_validate_version (good_versions[i], NULL));
  for (gsize i = 0; i < G_N_ELEMENTS (bad_versions); i++)
    {
      g_autoptr (GError) error = NULL;

      g_test_message ("bad version %s", bad_versions[i]);
      g_assert_false (prd_store_validate_version (bad_versions[i], &error));
      g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
    }

  long_name = g_strnfill (PRD_STORE_NAME_MAX_BYTES, 'u');
  g_assert_true (prd_store_validate_name ("user id", long_name, NULL));
  g_assert_true (prd_store_validate_name ("user id", "user@example.com", NULL));
  g_assert_false (prd_store_validate_name ("user id", "", NULL));
  g_assert_false (prd_store_validate_name ("user id", NULL, NULL));
  g_assert_false (prd_store_validate_name ("user id", "a\nb", NULL));
  g_assert_false (prd_store_validate_name ("user id", "\xff", NULL));
  g_free (long_name);
  long_name = g_strnfill (PRD_STORE_NAME_MAX_BYTES + 1, 'u');
  g_assert_false (prd_store_validate_name ("user id", long_name, NULL));
}

static void
test_generate_id (void)
{
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (int i = 0; i < 1000; i++)
    {
      char *id = prd_store_generate_prd_id ();

      g_assert_true (prd_store_validate_prd_id (id, NULL));
      g_assert_cmpuint (strlen (id), ==, 20);
      for (const char *p = id + 4; *p; p++)
        g_assert_true (g_ascii_islower (*p) || (*p >= '2' && *p <= '7'));
      g_assert_true (g_hash_table_add (seen, id));
    }
}

/* Schema */

static void
test_schema_fresh (Fixture *f, gconstpointer data)
{
  g_autoptr (sqlite3) db = NULL;
  g_autoptr (PrdStoreInfo) created = create_ok (f, "prd_keep", "acme");
  g_autoptr (PrdStoreInfo) got = NULL;
  g_autoptr (GAsyncResult) res = NULL;
  g_autoptr (GError) error = NULL;

  db = raw_open (f->path);
  g_assert_cmpint (raw_int (db, "PRAGMA user_version"), ==, prd_sqlite_store_get_schema_version ());
  g_assert_cmpint (prd_sqlite_store_get_schema_version (), >=, 1);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND"
                                " name IN ('prds', 'prd_updates', 'prd_sites')"),
                   ==, 3);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM pragma_journal_mode WHERE"
                                " journal_mode = 'wal'"),
                   ==, 1);
  g_clear_pointer (&db, sqlite3_close);

  /* Data survives a reopen, which runs no migration. */
  fixture_reopen (f);
  res = PRD_TEST_WAIT_FOR (prd_store_get_async, f->store, "prd_keep", NULL);
  got = prd_store_get_finish (f->store, res, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (got->id, ==, "prd_keep");
  g_assert_cmpstr (got->org, ==, "acme");
  g_assert_cmpstr (got->version, ==, "0.1.0");
  g_assert_cmpint (got->created_at, ==, created->created_at);
}

static char *
make_tmp_db (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("prd-store-XXXXXX", &error);

  g_assert_no_error (error);
  return g_build_filename (dir, "prdhub.db", NULL);
}

static void
remove_tmp_db (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);

  prd_test_remove_tree (dir);
}

static guint
file_mode (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_mode & 07777;
}

/* @path and its -wal and -shm files are mode 0600. */
static void
assert_private (const char *path)
{
  static const char *const suffixes[] = { "", "-wal", "-shm" };

  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *file = g_strconcat (path, suffixes[i], NULL);

      g_assert_cmpuint (file_mode (file), ==, 0600);
    }
}

/* The database and its -wal and -shm files are the owner's only, whatever
 * the umask; those of an older prdhub, readable by all, are made so. */
static void
test_files_private (void)
{
  g_autofree char *path = make_tmp_db ();
  g_autofree char *wal = g_strconcat (path, "-wal", NULL);
  g_autofree char *shm = g_strconcat (path, "-shm", NULL);
  g_autoptr (PrdStore) store = NULL;
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autoptr (sqlite3) db = NULL;
  g_autoptr (GError) error = NULL;
  mode_t saved = umask (022);

  store = prd_test_store_open (path, &error);
  g_assert_no_error (error);
  info = prd_test_store_create (store, "prd_private", "acme", "Title", "alice", &error);
  g_assert_no_error (error);
  assert_private (path);
  prd_test_store_close (store);
  g_clear_object (&store);

  /* As an older prdhub left them, a connection of its still open. */
  g_assert_cmpint (g_chmod (path, 0644), ==, 0);
  db = raw_open (path);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM prds"), ==, 1);
  g_assert_cmpint (g_chmod (wal, 0644), ==, 0);
  g_assert_cmpint (g_chmod (shm, 0644), ==, 0);
  store = prd_test_store_open (path, &error);
  g_assert_no_error (error);
  assert_private (path);
  prd_test_store_close (store);
  g_clear_object (&store);
  g_clear_pointer (&db, sqlite3_close);

  umask (saved);
  remove_tmp_db (path);
}

/* A database written by the store at schema version 8, before snapshots
 * moved out of the prds table: opening it migrates it, and every PRD loads
 * as it was stored. */
static void
test_schema_migrate_snapshots (void)
{
  g_autofree char *path = make_tmp_db ();
  g_autofree char *dump_path =
      g_test_build_filename (G_TEST_DIST, "data", "store", "schema-8.sql", NULL);
  g_autofree char *dump = NULL;
  g_autoptr (sqlite3) db = raw_open (path);
  g_autoptr (PrdStore) store = NULL;
  g_autoptr (PrdStoreDocument) with = NULL;
  g_autoptr (PrdStoreDocument) without = NULL;
  g_autoptr (PrdStoreDocument) after = NULL;
  g_autoptr (GBytes) state = g_bytes_new_static ("state-after-3", 13);
  g_autoptr (GBytes) payload = g_bytes_new_static ("update-6", 8);
  g_autoptr (GAsyncResult) res = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (g_file_get_contents (dump_path, &dump, NULL, &error));
  g_assert_no_error (error);
  raw_exec (db, "PRAGMA journal_mode = WAL");
  raw_exec (db, dump);
  g_assert_cmpint (raw_int (db, "PRAGMA user_version"), ==, 8);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM prds WHERE snapshot IS NOT NULL"), ==, 1);

  /* Not upgraded while another connection (a running hub of the previous
   * version, say) has it open. */
  store = prd_test_store_open (path, &error);
  g_assert_null (store);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_STORAGE);
  g_assert_nonnull (
      strstr (error->message, "has schema version 8 and another process has it open"));
  g_clear_error (&error);
  g_assert_cmpint (raw_int (db, "PRAGMA user_version"), ==, 8);
  g_clear_pointer (&db, sqlite3_close);

  store = prd_test_store_open (path, &error);
  g_assert_no_error (error);

  with = prd_test_store_load (store, "prd_with_snapshot", &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (with->snapshot, state));
  g_assert_cmpint (with->info->snapshot_seq, ==, 3);
  g_assert_cmpint (with->info->last_seq, ==, 5);
  g_assert_cmpuint (with->updates->len, ==, 2);
  g_assert_cmpint (((PrdStoreUpdate *) with->updates->pdata[0])->seq, ==, 4);
  g_assert_cmpmem (g_bytes_get_data (((PrdStoreUpdate *) with->updates->pdata[1])->payload, NULL),
                   g_bytes_get_size (((PrdStoreUpdate *) with->updates->pdata[1])->payload),
                   "update-5-of-prd_with_snapshot", 29);

  without = prd_test_store_load (store, "prd_without_snapshot", &error);
  g_assert_no_error (error);
  g_assert_null (without->snapshot);
  g_assert_cmpint (without->info->snapshot_seq, ==, 0);
  g_assert_cmpuint (without->updates->len, ==, 5);

  /* The log goes on where it was, and a new snapshot replaces the old. */
  g_assert_cmpint (
      prd_test_store_append (store, "prd_with_snapshot", 0, 6, "alice", payload, &error), ==, 6);
  g_assert_no_error (error);
  res = PRD_TEST_WAIT_FOR (prd_store_write_snapshot_async, store, "prd_with_snapshot", payload, 6,
                           NULL);
  g_assert_true (prd_store_write_snapshot_finish (store, res, &error));
  g_assert_no_error (error);
  after = prd_test_store_load (store, "prd_with_snapshot", &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (after->snapshot, payload));
  g_assert_cmpuint (after->updates->len, ==, 0);

  /* Sites from before replicaId are held by nobody since their start. */
  {
    g_autoptr (GAsyncResult) listed =
        PRD_TEST_WAIT_FOR (prd_store_list_sites_async, store, "prd_with_snapshot", NULL);
    g_autoptr (GPtrArray) sites = prd_store_list_sites_finish (store, listed, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (sites->len, ==, 1);
    g_assert_null (((PrdStoreSite *) sites->pdata[0])->holder);
    g_assert_cmpint (((PrdStoreSite *) sites->pdata[0])->holder_from, ==, 0);
    /* and retired: a hub that old may have crashed without a trace */
    g_assert_true (((PrdStoreSite *) sites->pdata[0])->retired);
  }
  prd_test_store_close (store);

  db = raw_open (path);
  g_assert_cmpint (raw_int (db, "PRAGMA user_version"), ==, prd_sqlite_store_get_schema_version ());
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM prd_snapshots"), ==, 1);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM pragma_table_info('prds')"
                                " WHERE name = 'snapshot'"),
                   ==, 0);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM pragma_foreign_key_check"), ==, 0);
  g_clear_pointer (&db, sqlite3_close);
  remove_tmp_db (path);
}

static void
test_schema_migrate_from_zero (void)
{
  g_autofree char *path = make_tmp_db ();
  g_autoptr (sqlite3) db = raw_open (path);
  g_autoptr (PrdStore) store = NULL;
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autoptr (GError) error = NULL;

  /* An existing, empty database at version 0 (e.g. touched by a tool). */
  raw_exec (db, "PRAGMA user_version = 0; VACUUM;");
  g_clear_pointer (&db, sqlite3_close);

  store = prd_test_store_open (path, &error);
  g_assert_no_error (error);
  info = prd_test_store_create (store, "prd_after_migration", "acme", "Title", "alice", &error);
  g_assert_no_error (error);
  prd_test_store_close (store);

  db = raw_open (path);
  g_assert_cmpint (raw_int (db, "PRAGMA user_version"), ==, prd_sqlite_store_get_schema_version ());
  g_assert_cmpint (raw_int (db, "PRAGMA application_id"), !=, 0);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM prds"), ==, 1);
  g_clear_pointer (&db, sqlite3_close);
  remove_tmp_db (path);
}

/* An older release's backup: a WAL-mode database of an older schema, with
 * no -wal file beside it. Copying it (a restore) reports its schema
 * version and writes nothing beside it, so a backup on read-only media
 * restores; copying a data folder's database (a backup) reports its
 * version too, which the backup's manifest records. */
static void
test_copy_old_backup (void)
{
  g_autofree char *path = make_tmp_db ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *wal = g_strconcat (path, "-wal", NULL);
  g_autofree char *shm = g_strconcat (path, "-shm", NULL);
  g_autofree char *restored = g_build_filename (dir, "restored.db", NULL);
  g_autofree char *copied = g_build_filename (dir, "copied.db", NULL);
  g_autofree char *dump_path =
      g_test_build_filename (G_TEST_DIST, "data", "store", "schema-8.sql", NULL);
  g_autofree char *dump = NULL;
  g_autoptr (sqlite3) db = raw_open (path);
  g_autoptr (GError) error = NULL;
  int version = 0;

  g_assert_true (g_file_get_contents (dump_path, &dump, NULL, &error));
  g_assert_no_error (error);
  raw_exec (db, "PRAGMA journal_mode = WAL");
  raw_exec (db, dump);
  g_clear_pointer (&db, sqlite3_close);
  g_assert_false (g_file_test (wal, G_FILE_TEST_EXISTS));

  g_assert_true (prd_sqlite_store_copy_file (path, TRUE, restored, &version, &error));
  g_assert_no_error (error);
  g_assert_cmpint (version, ==, 8);
  g_assert_false (g_file_test (wal, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (shm, G_FILE_TEST_EXISTS));
  db = raw_open (restored);
  g_assert_cmpint (raw_int (db, "PRAGMA user_version"), ==, 8);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM prds"), ==, 2);
  g_clear_pointer (&db, sqlite3_close);

  version = 0;
  g_assert_true (prd_sqlite_store_copy_file (path, FALSE, copied, &version, &error));
  g_assert_no_error (error);
  g_assert_cmpint (version, ==, 8);
  g_assert_cmpint (prd_sqlite_store_get_schema_version (), >, 8);

  remove_tmp_db (path);
}

static void
test_schema_newer_refused (void)
{
  g_autofree char *path = make_tmp_db ();
  g_autoptr (sqlite3) db = NULL;
  g_autoptr (PrdStore) store = NULL;
  g_autoptr (GError) error = NULL;

  /* A database from a future prdhub: ours (application id) but newer. */
  store = prd_test_store_open (path, &error);
  g_assert_no_error (error);
  prd_test_store_close (store);
  g_clear_object (&store);
  db = raw_open (path);
  raw_exec (db, "PRAGMA user_version = 999; CREATE TABLE from_the_future (x);");
  g_clear_pointer (&db, sqlite3_close);

  store = prd_test_store_open (path, &error);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_UNSUPPORTED_VERSION);
  g_assert_null (store);
  g_assert_nonnull (strstr (error->message, "999"));

  /* Left untouched. */
  db = raw_open (path);
  g_assert_cmpint (raw_int (db, "PRAGMA user_version"), ==, 999);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM sqlite_master WHERE name ="
                                " 'from_the_future'"),
                   ==, 1);
  g_clear_pointer (&db, sqlite3_close);
  remove_tmp_db (path);
}

static void
test_schema_foreign_refused (void)
{
  g_autofree char *path = make_tmp_db ();
  g_autofree char *garbage = NULL;
  g_autoptr (sqlite3) db = raw_open (path);
  g_autoptr (PrdStore) store = NULL;
  g_autoptr (GError) error = NULL;

  /* Some other program's database at version 0 must not get our tables. */
  raw_exec (db, "CREATE TABLE contacts (name TEXT);");
  g_clear_pointer (&db, sqlite3_close);
  store = prd_test_store_open (path, &error);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA);
  g_assert_null (store);
  g_clear_error (&error);

  /* Not a database at all. */
  garbage = g_strdup_printf ("%s.garbage", path);
  g_assert_true (g_file_set_contents (garbage,
                                      "This is not an SQLite database, just text that "
                                      "is long enough to have a header of sorts.\n",
                                      -1, NULL));
  store = prd_test_store_open (garbage, &error);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA);
  g_assert_null (store);
  remove_tmp_db (path);
}

static void
test_schema_unwritable (void)
{
  g_autofree char *path = make_tmp_db ();
  g_autofree char *below_file = NULL;
  g_autoptr (PrdStore) store = NULL;
  g_autoptr (GError) error = NULL;

  /* The data folder cannot be created under a regular file, not even by
   * root. */
  g_assert_true (g_file_set_contents (path, "", 0, NULL));
  below_file = g_build_filename (path, "data", "prdhub.db", NULL);
  store = prd_test_store_open (below_file, &error);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_STORAGE);
  g_assert_null (store);
  remove_tmp_db (path);
}

/* CRUD */

static void
test_crud (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdStoreInfo) a = create_ok (f, "prd_alpha", "acme");
  g_autoptr (PrdStoreInfo) b = NULL;
  g_autoptr (PrdStoreInfo) c = create_ok (f, NULL, "other");
  g_autoptr (PrdStoreInfo) updated = NULL;
  g_autoptr (PrdStoreInfo) dup = NULL;
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (GError) error = NULL;
  GAsyncResult *res = NULL;

  g_assert_cmpstr (a->id, ==, "prd_alpha");
  g_assert_cmpstr (a->title, ==, "A title");
  g_assert_cmpstr (a->owner, ==, "alice");
  g_assert_cmpstr (a->version, ==, "0.1.0");
  g_assert_cmpint (a->created_at, >, 0);
  g_assert_cmpint (a->created_at, ==, a->updated_at);
  g_assert_cmpint (a->last_seq, ==, 0);
  g_assert_true (prd_store_validate_prd_id (c->id, NULL));
  g_assert_cmpuint (strlen (c->id), ==, 20);

  dup = prd_test_store_create (f->store, "prd_alpha", "acme", "Again", "bob", &error);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_ALREADY_EXISTS);
  g_assert_null (dup);
  g_clear_error (&error);

  b = create_ok (f, "prd_beta", "acme");

  res = PRD_TEST_WAIT_FOR (prd_store_list_async, f->store, "acme", NULL);
  list = prd_store_list_finish (f->store, res, &error);
  g_clear_object (&res);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_cmpstr (((PrdStoreInfo *) list->pdata[0])->id, ==, "prd_alpha");
  g_assert_cmpstr (((PrdStoreInfo *) list->pdata[1])->id, ==, "prd_beta");
  g_clear_pointer (&list, g_ptr_array_unref);

  res = PRD_TEST_WAIT_FOR (prd_store_list_async, f->store, "nobody", NULL);
  list = prd_store_list_finish (f->store, res, &error);
  g_clear_object (&res);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 0);

  res = PRD_TEST_WAIT_FOR (prd_store_update_metadata_async, f->store, "prd_alpha", "New title",
                           "0.2.0", NULL);
  updated = prd_store_update_metadata_finish (f->store, res, &error);
  g_clear_object (&res);
  g_assert_no_error (error);
  g_assert_cmpstr (updated->title, ==, "New title");
  g_assert_cmpstr (updated->version, ==, "0.2.0");
  g_assert_cmpint (updated->updated_at, >=, a->updated_at);
  g_clear_pointer (&updated, prd_store_info_free);

  /* Only the version; the title stays. */
  res = PRD_TEST_WAIT_FOR (prd_store_update_metadata_async, f->store, "prd_alpha", NULL, "1.0.0",
                           NULL);
  updated = prd_store_update_metadata_finish (f->store, res, &error);
  g_clear_object (&res);
  g_assert_no_error (error);
  g_assert_cmpstr (updated->title, ==, "New title");
  g_assert_cmpstr (updated->version, ==, "1.0.0");
  g_clear_pointer (&updated, prd_store_info_free);

  res =
      PRD_TEST_WAIT_FOR (prd_store_update_metadata_async, f->store, "prd_missing", "T", NULL, NULL);
  updated = prd_store_update_metadata_finish (f->store, res, &error);
  g_clear_object (&res);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND);
  g_clear_error (&error);

  res = PRD_TEST_WAIT_FOR (prd_store_delete_async, f->store, "prd_alpha", NULL);
  g_assert_true (prd_store_delete_finish (f->store, res, &error));
  g_clear_object (&res);
  g_assert_no_error (error);

  res = PRD_TEST_WAIT_FOR (prd_store_get_async, f->store, "prd_alpha", NULL);
  g_assert_null (prd_store_get_finish (f->store, res, &error));
  g_clear_object (&res);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND);
  g_clear_error (&error);

  res = PRD_TEST_WAIT_FOR (prd_store_delete_async, f->store, "prd_alpha", NULL);
  g_assert_false (prd_store_delete_finish (f->store, res, &error));
  g_clear_object (&res);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND);
}

static void
test_delete_cascades (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdStoreInfo) a = create_ok (f, "prd_gone", "acme");
  g_autoptr (GBytes) payload = payload_for (0, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) res = NULL;
  g_autoptr (sqlite3) db = NULL;
  int site = acquire_ok (f, "prd_gone", "alice");

  g_assert_cmpint (prd_test_store_append (f->store, "prd_gone", site, 1, "alice", payload, &error),
                   ==, 1);
  g_assert_no_error (error);
  res = PRD_TEST_WAIT_FOR (prd_store_write_snapshot_async, f->store, "prd_gone", payload, 1, NULL);
  g_assert_true (prd_store_write_snapshot_finish (f->store, res, &error));
  g_assert_no_error (error);
  g_clear_object (&res);
  res = PRD_TEST_WAIT_FOR (prd_store_delete_async, f->store, "prd_gone", NULL);
  g_assert_true (prd_store_delete_finish (f->store, res, &error));
  g_assert_no_error (error);

  db = raw_open (f->path);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM prd_updates"), ==, 0);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM prd_sites"), ==, 0);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM prd_snapshots"), ==, 0);
}

static void
check_rejected (Fixture *f, GAsyncResult *res, int code)
{
  g_autoptr (GError) error = NULL;

  g_assert_null (g_task_propagate_pointer (G_TASK (res), &error));
  g_assert_error (error, PRD_ERROR, code);
  g_object_unref (res);
}

/* A PRD created with its first update has it from the start: one
 * transaction gives the row, site 0 and update 1, and a refused one gives
 * nothing. */
static void
test_create_with_update (Fixture *f, gconstpointer data)
{
  g_autoptr (GBytes) first = payload_for (0, 1);
  g_autoptr (GBytes) empty = g_bytes_new_static ("", 0);
  g_autoptr (GAsyncResult) res = NULL;
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autoptr (PrdStoreDocument) doc = NULL;
  g_autoptr (GPtrArray) sites = NULL;
  g_autoptr (GError) error = NULL;
  const PrdStoreUpdate *update;

  res = PRD_TEST_WAIT_FOR (prd_store_create_with_update_async, f->store, "prd_full", "acme", "T",
                           "alice", "hub", 1, first, NULL);
  info = prd_store_create_finish (f->store, res, &error);
  g_assert_no_error (error);
  g_assert_cmpint (info->last_seq, ==, 1);
  doc = prd_test_store_load (f->store, "prd_full", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (doc->updates->len, ==, 1);
  update = doc->updates->pdata[0];
  g_assert_cmpint (update->seq, ==, 1);
  g_assert_cmpint (update->site, ==, 0);
  g_assert_cmpint (update->clock, ==, 1);
  g_assert_cmpstr (update->user_id, ==, "hub");
  g_assert_true (g_bytes_equal (update->payload, first));
  g_clear_object (&res);
  res = PRD_TEST_WAIT_FOR (prd_store_list_sites_async, f->store, "prd_full", NULL);
  sites = prd_store_list_sites_finish (f->store, res, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (sites->len, ==, 1);
  g_assert_cmpint (((PrdStoreSite *) sites->pdata[0])->site, ==, 0);
  g_assert_cmpstr (((PrdStoreSite *) sites->pdata[0])->user_id, ==, "hub");
  g_assert_cmpint (((PrdStoreSite *) sites->pdata[0])->clock, ==, 1);
  /* the next site is another's */
  g_assert_cmpint (acquire_ok (f, "prd_full", "alice"), ==, 1);

  /* refused: nothing is created */
  check_rejected (f,
                  PRD_TEST_WAIT_FOR (prd_store_create_with_update_async, f->store, "prd_none",
                                     "acme", "T", "alice", "hub", 0, first, NULL),
                  PRD_ERROR_INVALID_OPERATION);
  check_rejected (f,
                  PRD_TEST_WAIT_FOR (prd_store_create_with_update_async, f->store, "prd_none",
                                     "acme", "T", "alice", "hub", 1, empty, NULL),
                  PRD_ERROR_INVALID_PAYLOAD);
  check_rejected (f,
                  PRD_TEST_WAIT_FOR (prd_store_create_with_update_async, f->store, "prd_full",
                                     "acme", "T", "alice", "hub", 1, first, NULL),
                  PRD_ERROR_ALREADY_EXISTS);
  g_assert_null (prd_test_store_load (f->store, "prd_none", &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND);
}

static void
test_invalid_input_changes_nothing (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdStoreInfo) a = create_ok (f, "prd_ok", "acme");
  g_autoptr (GBytes) payload = payload_for (0, 1);
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr (GBytes) big =
      g_bytes_new_take (g_malloc0 (PRD_STORE_UPDATE_MAX_BYTES + 1), PRD_STORE_UPDATE_MAX_BYTES + 1);
  g_autoptr (GBytes) huge = g_bytes_new_take (g_malloc0 (PRD_STORE_SNAPSHOT_MAX_BYTES + 1),
                                              PRD_STORE_SNAPSHOT_MAX_BYTES + 1);
  g_autoptr (GBytes) max =
      g_bytes_new_take (g_malloc0 (PRD_STORE_UPDATE_MAX_BYTES), PRD_STORE_UPDATE_MAX_BYTES);
  g_autofree char *long_title = g_strnfill (PRD_STORE_TITLE_MAX_CHARS + 1, 't');
  g_autofree char *long_user = g_strnfill (PRD_STORE_NAME_MAX_BYTES + 1, 'u');
  const char *evil = "prd_x'; DROP TABLE prds; --";
  const char *const unreachable_names[] = { " acme", "acme ", "a<b>", "bob>", "a\u2028b" };
  g_autoptr (GError) error = NULL;
  g_autoptr (sqlite3) db = NULL;
  guint64 before;
  int site = acquire_ok (f, "prd_ok", "alice");

  before = commits (f);

  check_rejected (
      f, PRD_TEST_WAIT_FOR (prd_store_create_async, f->store, evil, "acme", "T", "a", NULL),
      PRD_ERROR_INVALID_ID);
  check_rejected (f,
                  PRD_TEST_WAIT_FOR (prd_store_create_async, f->store, "prd_new", "acme",
                                     long_title, "a", NULL),
                  PRD_ERROR_INVALID_PAYLOAD);
  check_rejected (
      f, PRD_TEST_WAIT_FOR (prd_store_create_async, f->store, "prd_new", "", "T", "a", NULL),
      PRD_ERROR_INVALID_PAYLOAD);
  check_rejected (
      f,
      PRD_TEST_WAIT_FOR (prd_store_create_async, f->store, "prd_new", "acme", "T", long_user, NULL),
      PRD_ERROR_INVALID_PAYLOAD);
  /* An organization or owner no token can carry (prd_identity_check_claims()
   * refuses the same) would make a PRD no one can open. */
  for (gsize i = 0; i < G_N_ELEMENTS (unreachable_names); i++)
    {
      g_test_message ("unreachable name \"%s\"", unreachable_names[i]);
      check_rejected (f,
                      PRD_TEST_WAIT_FOR (prd_store_create_async, f->store, "prd_new",
                                         unreachable_names[i], "T", "a", NULL),
                      PRD_ERROR_INVALID_PAYLOAD);
      check_rejected (f,
                      PRD_TEST_WAIT_FOR (prd_store_create_async, f->store, "prd_new", "acme", "T",
                                         unreachable_names[i], NULL),
                      PRD_ERROR_INVALID_PAYLOAD);
    }
  check_rejected (f, PRD_TEST_WAIT_FOR (prd_store_get_async, f->store, "../prdhub.db", NULL),
                  PRD_ERROR_INVALID_ID);
  check_rejected (f, PRD_TEST_WAIT_FOR (prd_store_load_async, f->store, evil, NULL),
                  PRD_ERROR_INVALID_ID);
  check_rejected (
      f, PRD_TEST_WAIT_FOR (prd_store_update_metadata_async, f->store, "prd_ok", "", NULL, NULL),
      PRD_ERROR_INVALID_PAYLOAD);
  check_rejected (
      f, PRD_TEST_WAIT_FOR (prd_store_update_metadata_async, f->store, "prd_ok", NULL, "1.0", NULL),
      PRD_ERROR_INVALID_PAYLOAD);
  check_rejected (f, PRD_TEST_WAIT_FOR (prd_store_list_sites_async, f->store, "prd_\xc3\xa9", NULL),
                  PRD_ERROR_INVALID_ID);
  check_rejected (
      f, PRD_TEST_WAIT_FOR (prd_store_acquire_site_async, f->store, "prd_ok", "", NULL, 0, NULL),
      PRD_ERROR_INVALID_PAYLOAD);
  check_rejected (f,
                  PRD_TEST_WAIT_FOR (prd_store_append_update_async, f->store, "prd_ok", site, 1,
                                     "alice", big, NULL),
                  PRD_ERROR_PAYLOAD_TOO_LARGE);
  check_rejected (f,
                  PRD_TEST_WAIT_FOR (prd_store_append_update_async, f->store, "prd_ok", site, 1,
                                     "alice", empty, NULL),
                  PRD_ERROR_INVALID_PAYLOAD);
  check_rejected (f,
                  PRD_TEST_WAIT_FOR (prd_store_append_update_async, f->store, "prd_ok", -1, 1,
                                     "alice", payload, NULL),
                  PRD_ERROR_INVALID_OPERATION);
  check_rejected (f,
                  PRD_TEST_WAIT_FOR (prd_store_append_update_async, f->store, "prd_ok", site, 0,
                                     "alice", payload, NULL),
                  PRD_ERROR_INVALID_OPERATION);
  check_rejected (
      f, PRD_TEST_WAIT_FOR (prd_store_write_snapshot_async, f->store, "prd_ok", huge, 0, NULL),
      PRD_ERROR_PAYLOAD_TOO_LARGE);
  check_rejected (
      f, PRD_TEST_WAIT_FOR (prd_store_write_snapshot_async, f->store, "prd_ok", payload, -1, NULL),
      PRD_ERROR_INVALID_OPERATION);
  check_rejected (f, PRD_TEST_WAIT_FOR (prd_store_delete_async, f->store, "prd_ok/../x", NULL),
                  PRD_ERROR_INVALID_ID);

  /* Rejected by the database, after validation: also no trace. */
  check_rejected (f,
                  PRD_TEST_WAIT_FOR (prd_store_append_update_async, f->store, "prd_ok", site + 7, 1,
                                     "alice", payload, NULL),
                  PRD_ERROR_INVALID_OPERATION);
  check_rejected (f,
                  PRD_TEST_WAIT_FOR (prd_store_append_update_async, f->store, "prd_ok", site, 1,
                                     "mallory", payload, NULL),
                  PRD_ERROR_INVALID_OPERATION);
  check_rejected (f,
                  PRD_TEST_WAIT_FOR (prd_store_append_update_async, f->store, "prd_nope", site, 1,
                                     "alice", payload, NULL),
                  PRD_ERROR_PRD_NOT_FOUND);
  check_rejected (
      f, PRD_TEST_WAIT_FOR (prd_store_write_snapshot_async, f->store, "prd_ok", payload, 1, NULL),
      PRD_ERROR_INVALID_OPERATION);

  g_assert_cmpuint (commits (f), ==, before);
  db = raw_open (f->path);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM prds"), ==, 1);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM prd_updates"), ==, 0);
  g_assert_cmpint (raw_int (db, "SELECT last_seq FROM prds"), ==, 0);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM prd_snapshots"), ==, 0);

  /* The limit itself is allowed. */
  g_assert_cmpint (prd_test_store_append (f->store, "prd_ok", site, 1, "alice", max, &error), ==,
                   1);
  g_assert_no_error (error);
}

/* Sites */

static void
test_sites (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdStoreInfo) a = create_ok (f, "prd_sites", "acme");
  g_autoptr (PrdStoreInfo) other = create_ok (f, "prd_other", "acme");
  g_autoptr (PrdStoreSite) alice = NULL;
  g_autoptr (PrdStoreSite) bob = NULL;
  g_autoptr (PrdStoreSite) alice2 = NULL;
  g_autoptr (PrdStoreSite) again = NULL;
  g_autoptr (PrdStoreSite) missing = NULL;
  g_autoptr (GPtrArray) sites = NULL;
  g_autoptr (GAsyncResult) res = NULL;
  g_autoptr (GError) error = NULL;
  int busy[2];

  alice = prd_test_store_acquire_site (f->store, "prd_sites", "alice", NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (alice->site, ==, 0);
  g_assert_true (alice->is_new);
  g_assert_cmpint (alice->clock, ==, 0);

  bob = prd_test_store_acquire_site (f->store, "prd_sites", "bob", NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (bob->site, ==, 1);
  g_assert_true (bob->is_new);

  /* Sites are per PRD. */
  g_assert_cmpint (acquire_ok (f, "prd_other", "bob"), ==, 0);

  /* Alice's site 0 is held by a live connection: a second tab gets a new one. */
  busy[0] = 0;
  alice2 = prd_test_store_acquire_site (f->store, "prd_sites", "alice", busy, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (alice2->site, ==, 2);
  g_assert_true (alice2->is_new);

  for (gint64 clock = 1; clock <= 3; clock++)
    {
      g_autoptr (GBytes) payload = payload_for (2, clock);

      prd_test_store_append (f->store, "prd_sites", 2, clock, "alice", payload, &error);
      g_assert_no_error (error);
    }

  /* After a restart, with site 0 busy, alice continues site 2 at its clock. */
  fixture_reopen (f);
  again = prd_test_store_acquire_site (f->store, "prd_sites", "alice", busy, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (again->site, ==, 2);
  g_assert_false (again->is_new);
  g_assert_cmpint (again->clock, ==, 3);
  g_clear_pointer (&again, prd_store_site_free);

  /* Handing back a site changes nothing and commits nothing. */
  {
    guint64 before = commits (f);
    g_autoptr (PrdStoreSite) same =
        prd_test_store_acquire_site (f->store, "prd_sites", "alice", busy, 1, &error);

    g_assert_no_error (error);
    g_assert_cmpint (same->site, ==, 2);
    g_assert_cmpuint (commits (f), ==, before);
  }

  /* Nothing busy: the lowest of hers. */
  again = prd_test_store_acquire_site (f->store, "prd_sites", "alice", NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (again->site, ==, 0);
  g_assert_false (again->is_new);
  g_clear_pointer (&again, prd_store_site_free);

  /* Both busy: a new one. */
  busy[1] = 2;
  again = prd_test_store_acquire_site (f->store, "prd_sites", "alice", busy, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpint (again->site, ==, 3);
  g_assert_true (again->is_new);

  res = PRD_TEST_WAIT_FOR (prd_store_list_sites_async, f->store, "prd_sites", NULL);
  sites = prd_store_list_sites_finish (f->store, res, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (sites->len, ==, 4);
  g_assert_cmpstr (((PrdStoreSite *) sites->pdata[0])->user_id, ==, "alice");
  g_assert_cmpstr (((PrdStoreSite *) sites->pdata[1])->user_id, ==, "bob");
  g_assert_cmpint (((PrdStoreSite *) sites->pdata[2])->clock, ==, 3);
  g_assert_cmpint (((PrdStoreSite *) sites->pdata[3])->site, ==, 3);

  /* The site space is bounded (sites are int32 on the wire and in vectors). */
  {
    g_autoptr (sqlite3) db = raw_open (f->path);
    g_autoptr (PrdStoreSite) none = NULL;

    raw_exec (db, "INSERT INTO prd_sites (prd_id, site, user_id, created_at)"
                  " VALUES ('prd_other', 2147483647, 'zed', 0)");
    none = prd_test_store_acquire_site (f->store, "prd_other", "carol", NULL, 0, &error);
    g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
    g_assert_null (none);
    g_clear_error (&error);
  }

  missing = prd_test_store_acquire_site (f->store, "prd_none", "alice", NULL, 0, &error);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND);
  g_assert_null (missing);
}

static gboolean
hold_site (
    Fixture *f, const char *prd_id, int site, const char *holder, gint64 from, GError **error)
{
  g_autoptr (GAsyncResult) res =
      PRD_TEST_WAIT_FOR (prd_store_hold_site_async, f->store, prd_id, site, holder, from, NULL);

  return prd_store_hold_site_finish (f->store, res, error);
}

static PrdStoreSite *
list_site (Fixture *f, const char *prd_id, int site)
{
  g_autoptr (GAsyncResult) res =
      PRD_TEST_WAIT_FOR (prd_store_list_sites_async, f->store, prd_id, NULL);
  g_autoptr (GPtrArray) sites = NULL;
  g_autoptr (GError) error = NULL;

  sites = prd_store_list_sites_finish (f->store, res, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < sites->len; i++)
    if (((PrdStoreSite *) sites->pdata[i])->site == site)
      return prd_store_site_copy (sites->pdata[i]);
  return NULL;
}

/* Who holds a site is kept across a restart; a bad holder or count changes
 * nothing; a site or PRD that is gone is no error. */
static void
test_site_holders (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdStoreInfo) a = create_ok (f, "prd_held", "acme");
  g_autoptr (PrdStoreSite) site = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *too_long = g_strnfill (PRD_STORE_ID_MAX_LENGTH + 1, 'r');
  const char *bad[] = { "", "a b", "x/y", "é", too_long };

  g_assert_cmpint (acquire_ok (f, "prd_held", "alice"), ==, 0);
  site = list_site (f, "prd_held", 0);
  g_assert_null (site->holder);
  g_assert_cmpint (site->holder_from, ==, 0);
  g_clear_pointer (&site, prd_store_site_free);

  g_assert_true (hold_site (f, "prd_held", 0, "replica-A_1", 7, &error));
  g_assert_no_error (error);
  fixture_reopen (f);
  site = list_site (f, "prd_held", 0);
  g_assert_cmpstr (site->holder, ==, "replica-A_1");
  g_assert_cmpint (site->holder_from, ==, 7);
  g_clear_pointer (&site, prd_store_site_free);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_false (hold_site (f, "prd_held", 0, bad[i], 9, &error));
      g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
      g_clear_error (&error);
    }
  g_assert_false (hold_site (f, "prd_held", 0, "B", -1, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  g_assert_false (hold_site (f, "prd_held", -1, "B", 1, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  g_assert_false (hold_site (f, "bad id", 0, "B", 1, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_ID);
  g_clear_error (&error);
  site = list_site (f, "prd_held", 0);
  g_assert_cmpstr (site->holder, ==, "replica-A_1");
  g_assert_cmpint (site->holder_from, ==, 7);
  g_clear_pointer (&site, prd_store_site_free);

  /* A client that does not name its replica. */
  g_assert_true (hold_site (f, "prd_held", 0, NULL, 8, &error));
  g_assert_no_error (error);
  site = list_site (f, "prd_held", 0);
  g_assert_null (site->holder);
  g_assert_cmpint (site->holder_from, ==, 8);

  g_assert_true (hold_site (f, "prd_held", 5, "B", 1, &error));
  g_assert_no_error (error);
  g_assert_true (hold_site (f, "prd_gone", 0, "B", 1, &error));
  g_assert_no_error (error);
  g_assert_null (list_site (f, "prd_held", 5));
}

static gboolean
retire_sites (Fixture *f, const char *prd_id, GError **error)
{
  g_autoptr (GAsyncResult) res =
      PRD_TEST_WAIT_FOR (prd_store_retire_sites_async, f->store, prd_id, NULL);

  return prd_store_retire_sites_finish (f->store, res, error);
}

/* Retired sites are listed as such and never handed out again, whoever
 * asks: one PRD's, or every PRD's at once. */
static void
test_retire_sites (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdStoreInfo) a = create_ok (f, "prd_ret_a", "acme");
  g_autoptr (PrdStoreInfo) b = create_ok (f, "prd_ret_b", "acme");
  g_autoptr (PrdStoreSite) site = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (acquire_ok (f, "prd_ret_a", "alice"), ==, 0);
  g_assert_cmpint (acquire_ok (f, "prd_ret_a", "bob"), ==, 1);
  g_assert_cmpint (acquire_ok (f, "prd_ret_b", "alice"), ==, 0);

  g_assert_true (retire_sites (f, "prd_ret_a", &error));
  g_assert_no_error (error);
  site = list_site (f, "prd_ret_a", 0);
  g_assert_true (site->retired);
  g_clear_pointer (&site, prd_store_site_free);
  site = list_site (f, "prd_ret_b", 0);
  g_assert_false (site->retired);
  g_clear_pointer (&site, prd_store_site_free);

  /* Alice's free site of prd_ret_a is retired: a new one. prd_ret_b's
   * comes back as before. */
  g_assert_cmpint (acquire_ok (f, "prd_ret_a", "alice"), ==, 2);
  g_assert_cmpint (acquire_ok (f, "prd_ret_b", "alice"), ==, 0);

  /* Every PRD's, kept across a restart. */
  g_assert_true (retire_sites (f, NULL, &error));
  g_assert_no_error (error);
  fixture_reopen (f);
  for (int i = 0; i < 3; i++)
    {
      site = list_site (f, "prd_ret_a", i);
      g_assert_true (site->retired);
      g_clear_pointer (&site, prd_store_site_free);
    }
  g_assert_cmpint (acquire_ok (f, "prd_ret_a", "alice"), ==, 3);
  g_assert_cmpint (acquire_ok (f, "prd_ret_b", "alice"), ==, 1);
  g_assert_cmpint (acquire_ok (f, "prd_ret_b", "hub"), ==, 2);

  /* A bad id changes nothing; an unknown PRD has nothing to retire. */
  g_assert_false (retire_sites (f, "no such id", &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_ID);
  g_clear_error (&error);
  site = list_site (f, "prd_ret_b", 1);
  g_assert_false (site->retired);
  g_clear_pointer (&site, prd_store_site_free);
  g_assert_true (retire_sites (f, "prd_unknown", &error));
  g_assert_no_error (error);
}

static void
test_duplicate_update (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdStoreInfo) a = create_ok (f, "prd_dup", "acme");
  g_autoptr (GBytes) payload = payload_for (0, 1);
  g_autoptr (GError) error = NULL;
  int site = acquire_ok (f, "prd_dup", "alice");

  g_assert_cmpint (prd_test_store_append (f->store, "prd_dup", site, 1, "alice", payload, &error),
                   ==, 1);
  g_assert_no_error (error);
  g_assert_cmpint (prd_test_store_append (f->store, "prd_dup", site, 1, "alice", payload, &error),
                   ==, -1);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_ALREADY_EXISTS);
  g_clear_error (&error);
  g_assert_cmpint (prd_test_store_append (f->store, "prd_dup", site, 2, "alice", payload, &error),
                   ==, 2);
  g_assert_no_error (error);
}

/* Group commit */

typedef struct
{
  Fixture *f;
  sqlite3 *observer; /* a second connection: sees only committed data */
  guint64 commits_before;
  int n_done;
  int n_failed;
  int n_expected;
  gint64 last_seq;
} GroupState;

typedef struct
{
  GroupState *state;
  int index;
  gboolean expect_failure;
} AppendCall;

/* Every append of test_group_commit() acknowledged, one way or the other. */
static gboolean
all_acked (gpointer data)
{
  GroupState *state = data;

  return state->n_done + state->n_failed >= state->n_expected;
}

static void
group_append_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autofree AppendCall *call = data;
  GroupState *state = call->state;
  g_autoptr (GError) error = NULL;
  g_autoptr (sqlite3_stmt) stmt = NULL;
  gint64 seq = prd_store_append_update_finish (PRD_STORE (source), result, &error);

  /* Callbacks come in submission order, and only after the commit. */
  g_assert_cmpint (call->index, ==, state->n_done + state->n_failed);
  g_assert_cmpuint (commits (state->f), ==, state->commits_before + 1);

  if (call->expect_failure)
    {
      g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
      state->n_failed++;
      return;
    }
  g_assert_no_error (error);
  g_assert_cmpint (seq, ==, state->last_seq + 1);
  state->last_seq = seq;
  state->n_done++;

  g_assert_cmpint (sqlite3_prepare_v2 (state->observer,
                                       "SELECT count(*) FROM prd_updates WHERE seq = ?1", -1, &stmt,
                                       NULL),
                   ==, SQLITE_OK);
  sqlite3_bind_int64 (stmt, 1, seq);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpint (sqlite3_column_int (stmt, 0), ==, 1);
}

static void
test_group_commit (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdStoreInfo) a = create_ok (f, "prd_group", "acme");
  g_autoptr (PrdStoreDocument) doc = NULL;
  g_autoptr (GError) error = NULL;
  GroupState state = { f };
  int site = acquire_ok (f, "prd_group", "alice");
  const int n = 100;

  state.observer = raw_open (f->path);
  state.commits_before = commits (f);

  /* 100 appends in one main-loop iteration, one of them bad (unknown site):
   * it fails alone, the others share one transaction. */
  for (int i = 0; i < n; i++)
    {
      g_autoptr (GBytes) payload = payload_for (site, i + 1);
      AppendCall *call = g_new0 (AppendCall, 1);

      call->state = &state;
      call->index = i;
      call->expect_failure = (i == 50);
      prd_store_append_update_async (f->store, "prd_group", i == 50 ? 99 : site, i + 1, "alice",
                                     payload, NULL, group_append_cb, call);
    }
  state.n_expected = n;
  /* Nothing is acknowledged before the loop runs. */
  g_assert_cmpint (state.n_done, ==, 0);

  prd_test_wait_until (all_acked, &state, PRD_TEST_TIMEOUT_MS);

  g_assert_cmpint (state.n_done, ==, n - 1);
  g_assert_cmpint (state.n_failed, ==, 1);
  g_assert_cmpuint (commits (f), ==, state.commits_before + 1);

  doc = prd_test_store_load (f->store, "prd_group", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (doc->updates->len, ==, n - 1);
  for (guint i = 0; i < doc->updates->len; i++)
    {
      PrdStoreUpdate *u = doc->updates->pdata[i];
      gint64 clock = i < 50 ? i + 1 : i + 2;
      g_autoptr (GBytes) expected = payload_for (site, clock);

      g_assert_cmpint (u->seq, ==, i + 1);
      g_assert_cmpint (u->clock, ==, clock);
      g_assert_true (g_bytes_equal (u->payload, expected));
    }
  sqlite3_close (state.observer);
}

/* Appends issued one at a time, each after the previous was acknowledged,
 * get a transaction each: the count is real, not a constant. */
static void
test_commit_count_sequential (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdStoreInfo) a = create_ok (f, "prd_seq", "acme");
  int site = acquire_ok (f, "prd_seq", "alice");
  guint64 before = commits (f);

  for (int i = 1; i <= 5; i++)
    {
      g_autoptr (GBytes) payload = payload_for (site, i);
      g_autoptr (GError) error = NULL;

      g_assert_cmpint (
          prd_test_store_append (f->store, "prd_seq", site, i, "alice", payload, &error), ==, i);
      g_assert_no_error (error);
    }
  g_assert_cmpuint (commits (f), ==, before + 5);
}

/* Snapshots and restore */

static GBytes *
concat_payloads (GBytes *snapshot, GPtrArray *updates, guint from, guint to)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();

  if (snapshot != NULL)
    g_byte_array_append (out, g_bytes_get_data (snapshot, NULL), g_bytes_get_size (snapshot));
  for (guint i = from; i < to; i++)
    {
      GBytes *p = ((PrdStoreUpdate *) updates->pdata[i])->payload;

      g_byte_array_append (out, g_bytes_get_data (p, NULL), g_bytes_get_size (p));
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

static void
test_snapshot_restore (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdStoreInfo) a = create_ok (f, "prd_snap", "acme");
  g_autoptr (PrdStoreDocument) full = NULL;
  g_autoptr (PrdStoreDocument) restored = NULL;
  g_autoptr (GBytes) original = NULL;
  g_autoptr (GBytes) state = NULL;
  g_autoptr (GBytes) rebuilt = NULL;
  g_autoptr (GAsyncResult) res = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (sqlite3) db = NULL;
  int s0 = acquire_ok (f, "prd_snap", "alice");
  int s1 = acquire_ok (f, "prd_snap", "bob");

  /* Interleaved updates of two sites, in one batch. */
  for (int i = 0; i < 10; i++)
    {
      g_autoptr (GBytes) payload = payload_for (i % 2 ? s1 : s0, i / 2 + 1);

      prd_store_append_update_async (f->store, "prd_snap", i % 2 ? s1 : s0, i / 2 + 1,
                                     i % 2 ? "bob" : "alice", payload, NULL, NULL, NULL);
    }
  full = prd_test_store_load (f->store, "prd_snap", &error);
  g_assert_no_error (error);
  g_assert_null (full->snapshot);
  g_assert_cmpuint (full->updates->len, ==, 10);
  g_assert_cmpint (full->info->last_seq, ==, 10);
  /* In this test a "state" is the concatenation of the updates it covers. */
  original = concat_payloads (NULL, full->updates, 0, 10);

  state = concat_payloads (NULL, full->updates, 0, 6);
  res = PRD_TEST_WAIT_FOR (prd_store_write_snapshot_async, f->store, "prd_snap", state, 6, NULL);
  g_assert_true (prd_store_write_snapshot_finish (f->store, res, &error));
  g_assert_no_error (error);
  g_clear_object (&res);

  /* An older snapshot than the stored one is refused. */
  res = PRD_TEST_WAIT_FOR (prd_store_write_snapshot_async, f->store, "prd_snap", state, 5, NULL);
  g_assert_false (prd_store_write_snapshot_finish (f->store, res, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
  g_clear_error (&error);
  g_clear_object (&res);

  db = raw_open (f->path);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM prd_updates"), ==, 4);
  g_assert_cmpint (raw_int (db, "SELECT min(seq) FROM prd_updates"), ==, 7);
  /* The snapshot is kept apart from the PRD's row, which every append
   * reads and rewrites. */
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM prd_snapshots"), ==, 1);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM pragma_table_info('prds')"
                                " WHERE name = 'snapshot'"),
                   ==, 0);

  fixture_reopen (f);
  restored = prd_test_store_load (f->store, "prd_snap", &error);
  g_assert_no_error (error);
  g_assert_cmpint (restored->info->snapshot_seq, ==, 6);
  g_assert_cmpint (restored->info->last_seq, ==, 10);
  g_assert_true (g_bytes_equal (restored->snapshot, state));
  g_assert_cmpuint (restored->updates->len, ==, 4);
  for (guint i = 0; i < 4; i++)
    {
      PrdStoreUpdate *u = restored->updates->pdata[i];
      PrdStoreUpdate *o = full->updates->pdata[6 + i];

      g_assert_cmpint (u->seq, ==, o->seq);
      g_assert_cmpint (u->site, ==, o->site);
      g_assert_cmpint (u->clock, ==, o->clock);
      g_assert_cmpstr (u->user_id, ==, o->user_id);
    }
  rebuilt = concat_payloads (restored->snapshot, restored->updates, 0, restored->updates->len);
  g_assert_true (g_bytes_equal (rebuilt, original));

  /* Appends continue the sequence after compaction. */
  {
    g_autoptr (GBytes) payload = payload_for (s0, 6);

    g_assert_cmpint (prd_test_store_append (f->store, "prd_snap", s0, 6, "alice", payload, &error),
                     ==, 11);
    g_assert_no_error (error);
  }

  /* A snapshot of everything empties the log; an empty state is a state. */
  {
    g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
    g_autoptr (GAsyncResult) res2 =
        PRD_TEST_WAIT_FOR (prd_store_write_snapshot_async, f->store, "prd_snap", empty, 11, NULL);
    g_autoptr (PrdStoreDocument) last = NULL;

    g_assert_true (prd_store_write_snapshot_finish (f->store, res2, &error));
    g_assert_no_error (error);
    last = prd_test_store_load (f->store, "prd_snap", &error);
    g_assert_no_error (error);
    g_assert_nonnull (last->snapshot);
    g_assert_cmpuint (g_bytes_get_size (last->snapshot), ==, 0);
    g_assert_cmpuint (last->updates->len, ==, 0);
  }
}

/* What a pack function saw: where it ran, and how often it and its destroy
 * notify were called. */
typedef struct
{
  GBytes *bytes; /* (nullable): what pack returns */
  GThread *thread;
  int packed;    /* atomic */
  int destroyed; /* atomic */
} PackProbe;

static GBytes *
probe_pack (gpointer data)
{
  PackProbe *probe = data;

  probe->thread = g_thread_self ();
  g_atomic_int_inc (&probe->packed);
  return probe->bytes != NULL ? g_bytes_ref (probe->bytes) : NULL;
}

static void
probe_destroy (gpointer data)
{
  PackProbe *probe = data;

  g_atomic_int_inc (&probe->destroyed);
}

static GAsyncResult *
write_packed (Fixture *f, const char *prd_id, PackProbe *probe, gint64 seq)
{
  return PRD_TEST_WAIT_FOR (prd_store_write_snapshot_packed_async, f->store, prd_id, probe_pack,
                            probe, probe_destroy, seq, NULL);
}

static void
assert_snapshot (Fixture *f, const char *prd_id, GBytes *state, gint64 seq, guint n_updates)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdStoreDocument) doc = prd_test_store_load (f->store, prd_id, &error);

  g_assert_no_error (error);
  g_assert_cmpint (doc->info->snapshot_seq, ==, seq);
  if (state == NULL)
    g_assert_null (doc->snapshot);
  else
    g_assert_true (g_bytes_equal (doc->snapshot, state));
  g_assert_cmpuint (doc->updates->len, ==, n_updates);
}

/* A snapshot made on the store's thread is stored like one passed in; what
 * the function returns is checked alike, and its data is freed once. */
static void
test_snapshot_packed (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdStoreInfo) a = create_ok (f, "prd_pack", "acme");
  g_autoptr (GBytes) first = g_bytes_new_static ("first state", 11);
  g_autoptr (GBytes) second = g_bytes_new_static ("second state", 12);
  g_autoptr (GBytes) huge = g_bytes_new_take (g_malloc0 (PRD_STORE_SNAPSHOT_MAX_BYTES + 1),
                                              PRD_STORE_SNAPSHOT_MAX_BYTES + 1);
  g_autoptr (GBytes) max =
      g_bytes_new_take (g_malloc0 (PRD_STORE_SNAPSHOT_MAX_BYTES), PRD_STORE_SNAPSHOT_MAX_BYTES);
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr (GError) error = NULL;
  GAsyncResult *res;
  guint64 before;
  int site = acquire_ok (f, "prd_pack", "alice");

  for (int i = 1; i <= 4; i++)
    {
      g_autoptr (GBytes) payload = payload_for (site, i);

      prd_test_store_append (f->store, "prd_pack", site, i, "alice", payload, &error);
      g_assert_no_error (error);
    }

  /* Written, packed on another thread than the caller's. */
  {
    PackProbe probe = { .bytes = first };

    res = write_packed (f, "prd_pack", &probe, 2);
    g_assert_true (prd_store_write_snapshot_finish (f->store, res, &error));
    g_assert_no_error (error);
    g_clear_object (&res);
    g_assert_cmpint (probe.packed, ==, 1);
    g_assert_cmpint (probe.destroyed, ==, 1);
    g_assert_nonnull (probe.thread);
    g_assert_true (probe.thread != g_thread_self ());
    assert_snapshot (f, "prd_pack", first, 2, 2);
  }

  /* NULL and too many bytes are refused as the bytes of
   * prd_store_write_snapshot_async() are, and change nothing. */
  before = commits (f);
  {
    PackProbe probe = { .bytes = NULL };

    res = write_packed (f, "prd_pack", &probe, 3);
    g_assert_false (prd_store_write_snapshot_finish (f->store, res, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
    g_clear_error (&error);
    g_clear_object (&res);
    g_assert_cmpint (probe.packed, ==, 1);
    g_assert_cmpint (probe.destroyed, ==, 1);
  }
  {
    PackProbe probe = { .bytes = huge };

    res = write_packed (f, "prd_pack", &probe, 3);
    g_assert_false (prd_store_write_snapshot_finish (f->store, res, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_PAYLOAD_TOO_LARGE);
    g_clear_error (&error);
    g_clear_object (&res);
    g_assert_cmpint (probe.packed, ==, 1);
    g_assert_cmpint (probe.destroyed, ==, 1);
  }
  /* The bytes' checks come first, as they do for bytes passed in. */
  {
    PackProbe probe = { .bytes = huge };

    res = write_packed (f, "prd_pack", &probe, 99);
    g_assert_false (prd_store_write_snapshot_finish (f->store, res, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_PAYLOAD_TOO_LARGE);
    g_clear_error (&error);
    g_clear_object (&res);
    g_assert_cmpint (probe.destroyed, ==, 1);
  }
  /* Good bytes outside the log: refused after packing. */
  {
    PackProbe probe = { .bytes = second };

    res = write_packed (f, "prd_pack", &probe, 5);
    g_assert_false (prd_store_write_snapshot_finish (f->store, res, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
    g_clear_error (&error);
    g_clear_object (&res);
    g_assert_cmpint (probe.packed, ==, 1);
    g_assert_cmpint (probe.destroyed, ==, 1);
  }
  /* Arguments refused up front: never packed, still freed. */
  {
    PackProbe probe = { .bytes = second };

    res = write_packed (f, "prd_nope'--", &probe, 3);
    g_assert_false (prd_store_write_snapshot_finish (f->store, res, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_ID);
    g_clear_error (&error);
    g_clear_object (&res);
    res = write_packed (f, "prd_pack", &probe, -1);
    g_assert_false (prd_store_write_snapshot_finish (f->store, res, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
    g_clear_error (&error);
    g_clear_object (&res);
    g_assert_cmpint (probe.packed, ==, 0);
    g_assert_cmpint (probe.destroyed, ==, 2);
  }
  /* A PRD that does not exist. */
  {
    PackProbe probe = { .bytes = second };

    res = write_packed (f, "prd_none", &probe, 0);
    g_assert_false (prd_store_write_snapshot_finish (f->store, res, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND);
    g_clear_error (&error);
    g_clear_object (&res);
    g_assert_cmpint (probe.destroyed, ==, 1);
  }
  g_assert_cmpuint (commits (f), ==, before);
  assert_snapshot (f, "prd_pack", first, 2, 2);

  /* The limit itself, and an empty state, are states. */
  {
    PackProbe probe = { .bytes = max };

    res = write_packed (f, "prd_pack", &probe, 3);
    g_assert_true (prd_store_write_snapshot_finish (f->store, res, &error));
    g_assert_no_error (error);
    g_clear_object (&res);
    g_assert_cmpint (probe.destroyed, ==, 1);
    assert_snapshot (f, "prd_pack", max, 3, 1);
  }
  {
    PackProbe probe = { .bytes = empty };

    res = write_packed (f, "prd_pack", &probe, 4);
    g_assert_true (prd_store_write_snapshot_finish (f->store, res, &error));
    g_assert_no_error (error);
    g_clear_object (&res);
    g_assert_cmpint (probe.destroyed, ==, 1);
    assert_snapshot (f, "prd_pack", empty, 4, 0);
  }
}

/* Cancelled while queued: never packed, freed once. Queued before the
 * store closes: packed and written before it closes. After: freed once. */
/* A pack function that waits until the test lets it go. */
typedef struct
{
  GMutex lock;
  GCond cond;
  gboolean released;
  GBytes *bytes;
} PackGate;

static GBytes *
gated_pack (gpointer data)
{
  PackGate *gate = data;

  g_mutex_lock (&gate->lock);
  while (!gate->released)
    g_cond_wait (&gate->cond, &gate->lock);
  g_mutex_unlock (&gate->lock);
  return g_bytes_ref (gate->bytes);
}

static void
gate_open (PackGate *gate)
{
  g_mutex_lock (&gate->lock);
  gate->released = TRUE;
  g_cond_signal (&gate->cond);
  g_mutex_unlock (&gate->lock);
}

/* A result and the order results came in. */
typedef struct
{
  GString *order; /* (unowned) */
  const char *name;
  GAsyncResult *result;
} Noted;

static void
noted_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Noted *noted = user_data;

  noted->result = g_object_ref (result);
  g_string_append_printf (noted->order, "%s%s", noted->order->len > 0 ? " " : "", noted->name);
}

static void
wait_noted (Noted *noted)
{
  prd_test_wait_result (&noted->result);
}

/* Nothing waits for a snapshot's packing: writes asked for before it and
 * after it, in the same main-loop iteration or later, commit and are
 * reported while it packs. */
static void
test_snapshot_packed_aside (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdStoreInfo) a = create_ok (f, "prd_gate", "acme");
  g_autoptr (GBytes) state = g_bytes_new_static ("a state", 7);
  g_autoptr (GString) order = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  PackGate gate = { .bytes = state };
  int site = acquire_ok (f, "prd_gate", "alice");
  Noted before = { order, "before" }, after = { order, "after" }, later = { order, "later" };
  Noted written = { order, "snapshot" };
  g_autoptr (GBytes) first = payload_for (site, 1);

  g_mutex_init (&gate.lock);
  g_cond_init (&gate.cond);
  prd_test_store_append (f->store, "prd_gate", site, 1, "alice", first, &error);
  g_assert_no_error (error);

  /* one main-loop iteration: one batch */
  {
    g_autoptr (GBytes) second = payload_for (site, 2);
    g_autoptr (GBytes) third = payload_for (site, 3);

    prd_store_append_update_async (f->store, "prd_gate", site, 2, "alice", second, NULL, noted_cb,
                                   &before);
    prd_store_write_snapshot_packed_async (f->store, "prd_gate", gated_pack, &gate, NULL, 1, NULL,
                                           noted_cb, &written);
    prd_store_append_update_async (f->store, "prd_gate", site, 3, "alice", third, NULL, noted_cb,
                                   &after);
  }
  wait_noted (&before);
  wait_noted (&after);
  {
    g_autoptr (GBytes) fourth = payload_for (site, 4);

    prd_store_append_update_async (f->store, "prd_gate", site, 4, "alice", fourth, NULL, noted_cb,
                                   &later);
  }
  wait_noted (&later);
  g_assert_cmpstr (order->str, ==, "before after later");
  g_assert_cmpint (prd_store_append_update_finish (f->store, before.result, &error), ==, 2);
  g_assert_cmpint (prd_store_append_update_finish (f->store, after.result, &error), ==, 3);
  g_assert_cmpint (prd_store_append_update_finish (f->store, later.result, &error), ==, 4);
  g_assert_no_error (error);

  gate_open (&gate);
  wait_noted (&written);
  g_assert_true (prd_store_write_snapshot_finish (f->store, written.result, &error));
  g_assert_no_error (error);
  assert_snapshot (f, "prd_gate", state, 1, 3);
  g_clear_object (&before.result);
  g_clear_object (&after.result);
  g_clear_object (&later.result);
  g_clear_object (&written.result);
  g_mutex_clear (&gate.lock);
  g_cond_clear (&gate.cond);
}

/* Deleting a PRD waits for the snapshots being packed, and so does every
 * request made after the delete: they see the PRD gone; a snapshot asked for
 * meanwhile is packed in its turn. Closing the store waits as well, and the
 * snapshot is written before it closes. */
static void
test_snapshot_packed_barrier (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdStoreInfo) a = create_ok (f, "prd_gate", "acme");
  g_autoptr (PrdStoreInfo) b = create_ok (f, "prd_other", "acme");
  g_autoptr (GBytes) state = g_bytes_new_static ("a state", 7);
  g_autoptr (GString) order = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  PackGate gate = { .bytes = state };
  int site = acquire_ok (f, "prd_gate", "alice");
  int other_site = acquire_ok (f, "prd_other", "alice");
  Noted written = { order, "snapshot" }, deleted = { order, "delete" };
  Noted appended = { order, "append" }, elsewhere = { order, "elsewhere" };
  Noted last = { order, "last" }, closed = { order, "close" };
  Noted waiting = { order, "waiting-snapshot" };
  PackProbe probe = { .bytes = state };
  g_autoptr (GBytes) first = payload_for (site, 1);
  g_autoptr (GBytes) second = payload_for (site, 2);
  g_autoptr (GBytes) other_first = payload_for (other_site, 1);

  g_mutex_init (&gate.lock);
  g_cond_init (&gate.cond);
  prd_test_store_append (f->store, "prd_gate", site, 1, "alice", first, &error);
  g_assert_no_error (error);

  prd_store_write_snapshot_packed_async (f->store, "prd_gate", gated_pack, &gate, NULL, 1, NULL,
                                         noted_cb, &written);
  /* a later iteration: the snapshot is with the packer */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  prd_store_delete_async (f->store, "prd_gate", NULL, noted_cb, &deleted);
  prd_store_append_update_async (f->store, "prd_gate", site, 2, "alice", second, NULL, noted_cb,
                                 &appended);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  prd_store_append_update_async (f->store, "prd_other", other_site, 1, "alice", other_first, NULL,
                                 noted_cb, &elsewhere);
  /* behind the barrier too, and packed before the worker writes it (it
   * used to reach the worker unpacked, which aborted the hub) */
  prd_store_write_snapshot_packed_async (f->store, "prd_other", probe_pack, &probe, probe_destroy,
                                         1, NULL, noted_cb, &waiting);
  /* give the worker time to answer what would not wait */
  g_usleep (100 * G_TIME_SPAN_MILLISECOND);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpstr (order->str, ==, "");

  gate_open (&gate);
  wait_noted (&elsewhere);
  wait_noted (&waiting);
  g_assert_cmpstr (order->str, ==, "snapshot delete append elsewhere waiting-snapshot");
  g_assert_true (prd_store_write_snapshot_finish (f->store, waiting.result, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_atomic_int_get (&probe.packed), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&probe.destroyed), ==, 1);
  assert_snapshot (f, "prd_other", state, 1, 0);
  g_assert_true (prd_store_write_snapshot_finish (f->store, written.result, &error));
  g_assert_no_error (error);
  g_assert_true (prd_store_delete_finish (f->store, deleted.result, &error));
  g_assert_no_error (error);
  g_assert_cmpint (prd_store_append_update_finish (f->store, appended.result, &error), ==, -1);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND);
  g_clear_error (&error);
  g_assert_cmpint (prd_store_append_update_finish (f->store, elsewhere.result, &error), ==, 1);
  g_assert_no_error (error);

  /* closing: the snapshot asked for before it is written first */
  g_string_truncate (order, 0);
  gate.released = FALSE;
  prd_store_write_snapshot_packed_async (f->store, "prd_other", gated_pack, &gate, NULL, 1, NULL,
                                         noted_cb, &last);
  prd_store_close_async (f->store, NULL, noted_cb, &closed);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_usleep (100 * G_TIME_SPAN_MILLISECOND);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpstr (order->str, ==, "");
  gate_open (&gate);
  wait_noted (&closed);
  g_assert_cmpstr (order->str, ==, "last close");
  g_assert_true (prd_store_write_snapshot_finish (f->store, last.result, &error));
  g_assert_no_error (error);
  g_assert_true (prd_store_close_finish (f->store, closed.result, &error));
  g_assert_no_error (error);

  g_clear_object (&f->store);
  f->store = prd_test_store_open (f->path, &error);
  g_assert_no_error (error);
  assert_snapshot (f, "prd_other", state, 1, 0);
  g_clear_object (&written.result);
  g_clear_object (&deleted.result);
  g_clear_object (&appended.result);
  g_clear_object (&elsewhere.result);
  g_clear_object (&last.result);
  g_clear_object (&closed.result);
  g_clear_object (&waiting.result);
  g_mutex_clear (&gate.lock);
  g_cond_clear (&gate.cond);
}

static void
test_snapshot_packed_lifecycle (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdStoreInfo) a = create_ok (f, "prd_pack", "acme");
  g_autoptr (GBytes) state = g_bytes_new_static ("a state", 7);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) close_res = NULL;
  GAsyncResult *res = NULL;
  PackProbe cancelled = { .bytes = state };
  PackProbe queued = { .bytes = state };
  PackProbe late = { .bytes = state };
  int site = acquire_ok (f, "prd_pack", "alice");
  g_autoptr (GBytes) payload = payload_for (site, 1);

  prd_test_store_append (f->store, "prd_pack", site, 1, "alice", payload, &error);
  g_assert_no_error (error);

  prd_store_write_snapshot_packed_async (f->store, "prd_pack", probe_pack, &cancelled,
                                         probe_destroy, 1, cancellable, prd_test_result_cb, &res);
  g_cancellable_cancel (cancellable);
  prd_test_wait_result (&res);
  g_assert_false (prd_store_write_snapshot_finish (f->store, res, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&res);
  g_assert_cmpint (cancelled.packed, ==, 0);
  g_assert_cmpint (cancelled.destroyed, ==, 1);
  assert_snapshot (f, "prd_pack", NULL, 0, 1);

  prd_store_write_snapshot_packed_async (f->store, "prd_pack", probe_pack, &queued, probe_destroy,
                                         1, NULL, prd_test_result_cb, &res);
  prd_store_close_async (f->store, NULL, prd_test_result_cb, &close_res);
  prd_store_write_snapshot_packed_async (f->store, "prd_pack", probe_pack, &late, probe_destroy, 1,
                                         NULL, NULL, NULL);
  g_assert_cmpint (late.packed, ==, 0);
  g_assert_cmpint (late.destroyed, ==, 1);
  prd_test_wait_result (&res);
  g_assert_true (prd_store_write_snapshot_finish (f->store, res, &error));
  g_assert_no_error (error);
  g_clear_object (&res);
  prd_test_wait_result (&close_res);
  g_assert_true (prd_store_close_finish (f->store, close_res, &error));
  g_assert_no_error (error);
  g_assert_cmpint (queued.packed, ==, 1);
  g_assert_cmpint (queued.destroyed, ==, 1);

  res = PRD_TEST_WAIT_FOR (prd_store_write_snapshot_packed_async, f->store, "prd_pack", probe_pack,
                           &late, probe_destroy, 1, NULL);
  g_assert_false (prd_store_write_snapshot_finish (f->store, res, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_STORAGE);
  g_clear_error (&error);
  g_clear_object (&res);
  g_assert_cmpint (late.packed, ==, 0);
  g_assert_cmpint (late.destroyed, ==, 2);

  g_clear_object (&f->store);
  f->store = prd_test_store_open (f->path, &error);
  g_assert_no_error (error);
  assert_snapshot (f, "prd_pack", state, 1, 0);
}

static void
test_corrupt_log_detected (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdStoreInfo) a = create_ok (f, "prd_hole", "acme");
  g_autoptr (PrdStoreDocument) doc = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (sqlite3) db = NULL;
  int site = acquire_ok (f, "prd_hole", "alice");

  for (int i = 1; i <= 3; i++)
    {
      g_autoptr (GBytes) payload = payload_for (site, i);

      prd_test_store_append (f->store, "prd_hole", site, i, "alice", payload, &error);
      g_assert_no_error (error);
    }
  db = raw_open (f->path);
  raw_exec (db, "DELETE FROM prd_updates WHERE seq = 2");
  doc = prd_test_store_load (f->store, "prd_hole", &error);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA);
  g_assert_null (doc);
  g_clear_error (&error);

  /* A missing tail is just as broken. */
  raw_exec (db, "DELETE FROM prd_updates WHERE seq >= 2");
  doc = prd_test_store_load (f->store, "prd_hole", &error);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA);
}

static PrdStoreDocument *
load_in_org (Fixture *f, const char *prd_id, const char *org, GError **error)
{
  g_autoptr (GAsyncResult) res =
      PRD_TEST_WAIT_FOR (prd_store_load_in_org_async, f->store, prd_id, org, NULL);

  return prd_store_load_finish (f->store, res, error);
}

/* A load for another organization is answered from the PRD's row alone,
 * exactly as an unknown id is: its snapshot and log are not read, which a
 * broken log and then a snapshot table that cannot be read show (the
 * organization's own reader gets their error, the other one not found). */
static void
test_load_other_org (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdStoreInfo) a = create_ok (f, "prd_theirs", "acme");
  g_autoptr (PrdStoreInfo) b = create_ok (f, "prd_fine", "acme");
  g_autoptr (PrdStoreDocument) doc = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) unknown = NULL;
  g_autoptr (sqlite3) db = NULL;
  g_autofree char *expected = NULL;
  int site = acquire_ok (f, "prd_theirs", "alice");

  for (int i = 1; i <= 3; i++)
    {
      g_autoptr (GBytes) payload = payload_for (site, i);

      prd_test_store_append (f->store, "prd_theirs", site, i, "alice", payload, &error);
      g_assert_no_error (error);
    }

  /* Its own organization reads it; an unknown id is not found. */
  doc = load_in_org (f, "prd_theirs", "acme", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (doc->updates->len, ==, 3);
  g_clear_pointer (&doc, prd_store_document_free);
  doc = load_in_org (f, "prd_nobody", "globex", &unknown);
  g_assert_error (unknown, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND);
  g_assert_null (doc);
  expected = g_strdup (unknown->message);
  g_assert_nonnull (strstr (expected, "prd_nobody"));
  {
    g_autoptr (GString) message = g_string_new (expected);

    g_string_replace (message, "prd_nobody", "prd_theirs", 0);
    g_free (expected);
    expected = g_string_free (g_steal_pointer (&message), FALSE);
  }

  /* Another organization's PRD: the same code and message. */
  doc = load_in_org (f, "prd_theirs", "globex", &error);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, expected);
  g_assert_null (doc);
  g_clear_error (&error);

  /* Its log broken: the owner's load fails reading it, another
   * organization's is not found all the same (the log was not read). */
  db = raw_open (f->path);
  raw_exec (db, "DELETE FROM prd_updates WHERE prd_id = 'prd_theirs' AND seq = 2");
  doc = load_in_org (f, "prd_theirs", "acme", &error);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA);
  g_assert_null (doc);
  g_clear_error (&error);
  doc = load_in_org (f, "prd_theirs", "globex", &error);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, expected);
  g_assert_null (doc);
  g_clear_error (&error);

  /* No snapshot can be read at all: another organization's load does not
   * try, its own does and fails. */
  raw_exec (db, "DROP TABLE prd_snapshots");
  doc = load_in_org (f, "prd_fine", "acme", &error);
  g_assert_nonnull (error);
  g_assert_false (g_error_matches (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND));
  g_assert_null (doc);
  g_clear_error (&error);
  doc = load_in_org (f, "prd_fine", "globex", &error);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND);
  g_assert_null (doc);
  g_clear_error (&error);

  /* An organization no token can carry is refused before anything. */
  check_rejected (f,
                  PRD_TEST_WAIT_FOR (prd_store_load_in_org_async, f->store, "prd_fine", "", NULL),
                  PRD_ERROR_INVALID_PAYLOAD);
}

/* Cancellation */

static void
test_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdStoreInfo) a = create_ok (f, "prd_cancel", "acme");
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GBytes) p1 = payload_for (0, 1);
  g_autoptr (GBytes) p2 = payload_for (0, 2);
  g_autoptr (GAsyncResult) r1 = NULL;
  g_autoptr (GAsyncResult) r2 = NULL;
  g_autoptr (GAsyncResult) r3 = NULL;
  g_autoptr (PrdStoreDocument) doc = NULL;
  g_autoptr (GError) error = NULL;
  int site = acquire_ok (f, "prd_cancel", "alice");

  /* Cancelled while queued: not written; its neighbour is. */
  prd_store_append_update_async (f->store, "prd_cancel", site, 1, "alice", p1, cancellable,
                                 prd_test_result_cb, &r1);
  prd_store_append_update_async (f->store, "prd_cancel", site, 2, "alice", p2, NULL,
                                 prd_test_result_cb, &r2);
  g_cancellable_cancel (cancellable);
  prd_test_wait_result (&r1);
  prd_test_wait_result (&r2);

  g_assert_cmpint (prd_store_append_update_finish (f->store, r1, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpint (prd_store_append_update_finish (f->store, r2, &error), ==, 1);
  g_assert_no_error (error);

  doc = prd_test_store_load (f->store, "prd_cancel", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (doc->updates->len, ==, 1);
  g_assert_cmpint (((PrdStoreUpdate *) doc->updates->pdata[0])->clock, ==, 2);

  /* A read with a cancelled cancellable. */
  prd_store_load_async (f->store, "prd_cancel", cancellable, prd_test_result_cb, &r3);
  prd_test_wait_result (&r3);
  g_assert_null (prd_store_load_finish (f->store, r3, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
test_closed (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autoptr (GAsyncResult) close_res = NULL;
  GAsyncResult *res = NULL;

  /* Work queued before close is committed; work after it is refused. */
  prd_store_create_async (f->store, "prd_before_close", "acme", "T", "alice", NULL,
                          prd_test_result_cb, &res);
  prd_store_close_async (f->store, NULL, prd_test_result_cb, &close_res);
  prd_test_wait_result (&res);
  info = prd_store_create_finish (f->store, res, &error);
  g_assert_no_error (error);
  g_clear_object (&res);
  prd_test_wait_result (&close_res);
  g_assert_true (prd_store_close_finish (f->store, close_res, &error));
  g_assert_no_error (error);
  g_clear_pointer (&info, prd_store_info_free);

  info = prd_test_store_create (f->store, "prd_after_close", "acme", "T", "alice", &error);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_STORAGE);
  g_assert_null (info);
  g_clear_error (&error);
  g_clear_object (&f->store);

  f->store = prd_test_store_open (f->path, &error);
  g_assert_no_error (error);
  res = PRD_TEST_WAIT_FOR (prd_store_get_async, f->store, "prd_before_close", NULL);
  info = prd_store_get_finish (f->store, res, &error);
  g_assert_no_error (error);
  g_clear_object (&res);
}

static void
test_cancel_open (void)
{
  g_autofree char *path = make_tmp_db ();
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GAsyncResult) res = NULL;
  g_autoptr (PrdSqliteStore) store = NULL;
  g_autoptr (GError) error = NULL;

  prd_sqlite_store_new_async (path, cancellable, prd_test_result_cb, &res);
  g_cancellable_cancel (cancellable);
  store = prd_sqlite_store_new_finish (prd_test_wait_result (&res), &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (store);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  remove_tmp_db (path);
}

/* Dropping the last reference without close() still closes cleanly. */
static void
test_unref_without_close (void)
{
  g_autofree char *path = make_tmp_db ();
  g_autoptr (GError) error = NULL;
  PrdStore *store = prd_test_store_open (path, &error);
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autoptr (sqlite3) db = NULL;

  g_assert_no_error (error);
  info = prd_test_store_create (store, "prd_unref", "acme", "T", "alice", &error);
  g_assert_no_error (error);
  g_object_unref (store);

  db = raw_open (path);
  g_assert_cmpint (raw_int (db, "SELECT count(*) FROM prds"), ==, 1);
  g_clear_pointer (&db, sqlite3_close);
  remove_tmp_db (path);
}

/* A feature's own operations (prd-sqlite-store-private.h): a read returns its
 * result; a failing write is rolled back alone and the others of its group
 * still commit. */
static gboolean
op_count_prds (PrdSqliteWorker *worker,
               gpointer data,
               gpointer *result,
               GDestroyNotify *result_free,
               GError **error)
{
  g_autoptr (PrdSqliteStmt) stmt =
      prd_sqlite_worker_prepare (worker, "SELECT count(*) FROM prds WHERE org = ?", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, data, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return prd_sqlite_worker_set_error (worker, sqlite3_errcode (prd_sqlite_worker_get_db (worker)),
                                        "count", error);
  *result = g_strdup_printf ("%d", sqlite3_column_int (stmt, 0));
  *result_free = g_free;
  return TRUE;
}

static gboolean
op_retitle (PrdSqliteWorker *worker,
            gpointer data,
            gpointer *result,
            GDestroyNotify *result_free,
            GError **error)
{
  g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (
      worker, "UPDATE prds SET title = ? WHERE id = 'prd_custom'", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, data, -1, SQLITE_STATIC);
  if (!prd_sqlite_worker_step_done (worker, stmt, error))
    return FALSE;
  if (g_str_equal (data, "refused"))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "refused after writing");
      return FALSE;
    }
  return TRUE;
}

/* ---- space: the WAL's limit, secure delete ---- */

static gboolean
op_read_pragmas (PrdSqliteWorker *worker,
                 gpointer data,
                 gpointer *result,
                 GDestroyNotify *result_free,
                 GError **error)
{
  GString *out = g_string_new (NULL);

  for (const char *const *sql =
           (const char *const[]){ "PRAGMA secure_delete", "PRAGMA journal_size_limit",
                                  "PRAGMA auto_vacuum", NULL };
       *sql != NULL; sql++)
    {
      g_autoptr (PrdSqliteStmt) stmt = prd_sqlite_worker_prepare (worker, *sql, error);

      if (stmt == NULL || sqlite3_step (stmt) != SQLITE_ROW)
        {
          g_string_free (out, TRUE);
          return stmt == NULL ? FALSE
                              : prd_sqlite_worker_set_error (worker, SQLITE_ERROR, *sql, error);
        }
      g_string_append_printf (out, "%s%lld", out->len > 0 ? " " : "",
                              (long long) sqlite3_column_int64 (stmt, 0));
    }
  *result = g_string_free (out, FALSE);
  *result_free = g_free;
  return TRUE;
}

/* A megabyte into a table of the test's own, @data times, in one write. */
static gboolean
op_write_burst (PrdSqliteWorker *worker,
                gpointer data,
                gpointer *result,
                GDestroyNotify *result_free,
                GError **error)
{
  g_autoptr (PrdSqliteStmt) create =
      prd_sqlite_worker_prepare (worker, "CREATE TABLE IF NOT EXISTS test_burst (b BLOB)", error);

  if (create == NULL || !prd_sqlite_worker_step_done (worker, create, error))
    return FALSE;
  for (guint i = 0; i < GPOINTER_TO_UINT (data); i++)
    {
      g_autoptr (PrdSqliteStmt) insert = prd_sqlite_worker_prepare (
          worker, "INSERT INTO test_burst VALUES (randomblob(1048576))", error);

      if (insert == NULL || !prd_sqlite_worker_step_done (worker, insert, error))
        return FALSE;
    }
  return TRUE;
}

static char *
run_op (Fixture *f, gboolean write, PrdSqliteOpFunc func, gpointer data)
{
  PrdSqliteStore *store = PRD_SQLITE_STORE (f->store);
  g_autoptr (GError) error = NULL;
  GAsyncResult *res = NULL;
  char *out = NULL;

  prd_sqlite_store_run_async (store, write, func, data, NULL, NULL, NULL, prd_test_result_cb, &res);
  prd_test_wait_result (&res);
  g_assert_true (prd_sqlite_store_run_finish (store, res, (gpointer *) &out, &error));
  g_assert_no_error (error);
  g_object_unref (res);
  return out;
}

static goffset
file_size (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_size;
}

/* The store's connection cuts the WAL back after a checkpoint and zeroes
 * what it deletes, whatever SQLite's build defaults are. */
static void
test_pragmas (Fixture *f, gconstpointer data)
{
  g_autofree char *pragmas = run_op (f, FALSE, op_read_pragmas, NULL);
  g_autofree char *expected = g_strdup_printf ("1 %d 0", PRD_SQLITE_STORE_WAL_LIMIT);

  /* secure_delete, journal_size_limit, auto_vacuum (none: the file never
   * shrinks by itself; docs/durability.md) */
  g_assert_cmpstr (pragmas, ==, expected);
}

/* A write burst grows the WAL past the limit; it stayed that size until
 * the store closed. The automatic checkpoint after the burst empties it,
 * and the next commit cuts it back. */
static void
test_wal_limit (Fixture *f, gconstpointer data)
{
  g_autofree char *wal = g_strconcat (f->path, "-wal", NULL);
  guint burst = PRD_SQLITE_STORE_WAL_LIMIT / 1048576 + 4;

  g_free (run_op (f, TRUE, op_write_burst, GUINT_TO_POINTER (burst)));
  g_assert_cmpint (file_size (wal), >, PRD_SQLITE_STORE_WAL_LIMIT);
  for (int i = 0; i < 2; i++)
    {
      g_autofree char *id = g_strdup_printf ("prd_after_%d", i);
      g_autoptr (PrdStoreInfo) info = create_ok (f, id, "acme");
    }
  g_assert_cmpint (file_size (wal), <=, PRD_SQLITE_STORE_WAL_LIMIT);
}

static gboolean
file_contains (const char *path, const char *needle)
{
  g_autofree char *contents = NULL;
  gsize length;
  g_autoptr (GError) error = NULL;

  g_assert_true (g_file_get_contents (path, &contents, &length, &error));
  g_assert_no_error (error);
  return memmem (contents, length, needle, strlen (needle)) != NULL;
}

/* A deleted PRD's title is gone from the file, not left in a free page. */
static void
test_secure_delete (Fixture *f, gconstpointer data)
{
  const char *marker = "Zq7 deleted title marker";
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdStoreInfo) info =
      prd_test_store_create (f->store, "prd_gone", "acme", marker, "alice", &error);
  g_autoptr (PrdStoreInfo) kept = create_ok (f, "prd_kept", "acme");

  g_assert_no_error (error);
  fixture_reopen (f); /* closing checkpoints the WAL into the file */
  g_assert_true (file_contains (f->path, marker));
  {
    g_autoptr (GAsyncResult) res =
        PRD_TEST_WAIT_FOR (prd_store_delete_async, f->store, "prd_gone", NULL);

    g_assert_true (prd_store_delete_finish (f->store, res, &error));
    g_assert_no_error (error);
  }
  fixture_reopen (f);
  g_assert_false (file_contains (f->path, marker));
}

static void
test_custom_operations (Fixture *f, gconstpointer data)
{
  PrdSqliteStore *store = PRD_SQLITE_STORE (f->store);
  GAsyncResult *count = NULL, *good = NULL, *bad = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autofree char *n = NULL;
  guint64 before;

  info = create_ok (f, "prd_custom", "org_a");
  before = commits (f);

  /* One main-loop iteration: one group, one transaction. */
  prd_sqlite_store_run_async (store, FALSE, op_count_prds, g_strdup ("org_a"), g_free, NULL, NULL,
                              prd_test_result_cb, &count);
  prd_sqlite_store_run_async (store, TRUE, op_retitle, g_strdup ("Kept"), g_free, NULL, NULL,
                              prd_test_result_cb, &good);
  prd_sqlite_store_run_async (store, TRUE, op_retitle, g_strdup ("refused"), g_free, NULL, NULL,
                              prd_test_result_cb, &bad);
  prd_test_wait_result (&count);
  prd_test_wait_result (&bad);
  prd_test_wait_result (&good);

  g_assert_true (prd_sqlite_store_run_finish (store, count, (gpointer *) &n, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (n, ==, "1");
  g_assert_false (prd_sqlite_store_run_finish (store, bad, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_clear_error (&error);
  g_assert_true (prd_sqlite_store_run_finish (store, good, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (commits (f), ==, before + 1);

  {
    g_autoptr (PrdStoreDocument) doc = prd_test_store_load (f->store, "prd_custom", &error);

    g_assert_no_error (error);
    g_assert_cmpstr (doc->info->title, ==, "Kept");
  }

  g_object_unref (count);
  g_object_unref (bad);
  g_object_unref (good);
}

/* A group whose transaction fails as a whole (here its COMMIT, refused by a
 * deferred foreign key; on a full disk, the COMMIT that cannot grow the
 * WAL) does not fail its other requests: each runs again alone. The reads
 * are answered, from committed data only (the one after the doomed write
 * saw its rolled-back title inside the group), and the good write commits. */
static gboolean
op_read_title (PrdSqliteWorker *worker,
               gpointer data,
               gpointer *result,
               GDestroyNotify *result_free,
               GError **error)
{
  g_autoptr (PrdSqliteStmt) stmt =
      prd_sqlite_worker_prepare (worker, "SELECT title FROM prds WHERE id = ?", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, data, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    return prd_sqlite_worker_set_error (worker, sqlite3_errcode (prd_sqlite_worker_get_db (worker)),
                                        "title", error);
  *result = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  *result_free = g_free;
  return TRUE;
}

/* Retitles prd_other, then leaves a row that only the COMMIT checks. */
static gboolean
op_doom_commit (PrdSqliteWorker *worker,
                gpointer data,
                gpointer *result,
                GDestroyNotify *result_free,
                GError **error)
{
  sqlite3 *db = prd_sqlite_worker_get_db (worker);
  int rc = sqlite3_exec (db,
                         "UPDATE prds SET title = 'Ghost' WHERE id = 'prd_other';"
                         "PRAGMA defer_foreign_keys = ON;"
                         "INSERT INTO prd_sites (prd_id, site, user_id, created_at)"
                         " VALUES ('prd_missing', 1, 'alice', 0);",
                         NULL, NULL, NULL);

  if (rc != SQLITE_OK)
    return prd_sqlite_worker_set_error (worker, rc, "doom", error);
  return TRUE;
}

static void
test_failed_group_runs_alone (Fixture *f, gconstpointer data)
{
  PrdSqliteStore *store = PRD_SQLITE_STORE (f->store);
  GAsyncResult *before_read = NULL, *good = NULL, *doomed = NULL, *after_read = NULL,
               *good_read = NULL, *appended = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdStoreInfo) custom = create_ok (f, "prd_custom", "org_a");
  g_autoptr (PrdStoreInfo) other = create_ok (f, "prd_other", "org_a");
  g_autofree char *title_before = NULL;
  g_autofree char *title_after = NULL;
  g_autofree char *title_good = NULL;
  int site = acquire_ok (f, "prd_other", "alice");
  g_autoptr (GBytes) payload = payload_for (site, 1);
  guint64 commits_before = commits (f);

  /* One main-loop iteration: one group. */
  prd_sqlite_store_run_async (store, FALSE, op_read_title, g_strdup ("prd_other"), g_free, NULL,
                              NULL, prd_test_result_cb, &before_read);
  prd_sqlite_store_run_async (store, TRUE, op_retitle, g_strdup ("Good"), g_free, NULL, NULL,
                              prd_test_result_cb, &good);
  /* An update fails with its group: its room takes nothing behind a
   * failed update as stored, so it must not be stored alone. */
  prd_store_append_update_async (f->store, "prd_other", site, 1, "alice", payload, NULL,
                                 prd_test_result_cb, &appended);
  prd_sqlite_store_run_async (store, TRUE, op_doom_commit, NULL, NULL, NULL, NULL,
                              prd_test_result_cb, &doomed);
  prd_sqlite_store_run_async (store, FALSE, op_read_title, g_strdup ("prd_other"), g_free, NULL,
                              NULL, prd_test_result_cb, &after_read);
  prd_sqlite_store_run_async (store, FALSE, op_read_title, g_strdup ("prd_custom"), g_free, NULL,
                              NULL, prd_test_result_cb, &good_read);
  prd_test_wait_result (&before_read);
  prd_test_wait_result (&good);
  prd_test_wait_result (&doomed);
  prd_test_wait_result (&after_read);
  prd_test_wait_result (&good_read);
  prd_test_wait_result (&appended);

  g_assert_false (prd_store_append_update_finish (f->store, appended, &error) > 0);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_STORAGE);
  g_clear_error (&error);
  g_assert_true (
      prd_sqlite_store_run_finish (store, before_read, (gpointer *) &title_before, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (title_before, ==, other->title);
  g_assert_true (prd_sqlite_store_run_finish (store, good, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (prd_sqlite_store_run_finish (store, doomed, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_STORAGE);
  g_clear_error (&error);
  /* Not "Ghost": the doomed write was rolled back. */
  g_assert_true (
      prd_sqlite_store_run_finish (store, after_read, (gpointer *) &title_after, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (title_after, ==, other->title);
  g_assert_true (prd_sqlite_store_run_finish (store, good_read, (gpointer *) &title_good, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (title_good, ==, "Good");
  /* The PRD's later updates are refused too, until its room is gone (see
   * below): a room takes nothing behind a refused update as stored, so
   * none may be. */
  {
    g_autoptr (GBytes) second = payload_for (site, 2);

    check_rejected (f,
                    PRD_TEST_WAIT_FOR (prd_store_append_update_async, f->store, "prd_other", site,
                                       2, "alice", second, NULL),
                    PRD_ERROR_STORAGE);
  }
  /* The good write committed alone; the doomed one did not. */
  g_assert_cmpuint (commits (f), ==, commits_before + 1);

  {
    g_autoptr (PrdStoreDocument) doc = prd_test_store_load (f->store, "prd_other", &error);

    g_assert_no_error (error);
    g_assert_cmpstr (doc->info->title, ==, other->title);
    g_assert_cmpuint (doc->updates->len, ==, 0);
  }

  /* A load (a version, a read) is no new room: still refused. */
  {
    g_autoptr (GBytes) third = payload_for (site, 3);

    check_rejected (f,
                    PRD_TEST_WAIT_FOR (prd_store_append_update_async, f->store, "prd_other", site,
                                       3, "alice", third, NULL),
                    PRD_ERROR_STORAGE);
  }

  /* Once its room is gone (its sites retired), the PRD's updates are taken
   * again. */
  {
    g_autoptr (GAsyncResult) retired = NULL;
    g_autoptr (GAsyncResult) later = NULL;
    int bob;

    retired = PRD_TEST_WAIT_FOR (prd_store_retire_sites_async, f->store, "prd_other", NULL);
    g_assert_true (prd_store_retire_sites_finish (f->store, retired, &error));
    g_assert_no_error (error);
    bob = acquire_ok (f, "prd_other", "bob");
    {
      g_autoptr (GBytes) bobs = payload_for (bob, 1);

      later = PRD_TEST_WAIT_FOR (prd_store_append_update_async, f->store, "prd_other", bob, 1,
                                 "bob", bobs, NULL);
      g_assert_cmpint (prd_store_append_update_finish (f->store, later, &error), ==, 1);
      g_assert_no_error (error);
    }
  }

  g_object_unref (appended);
  g_object_unref (before_read);
  g_object_unref (good);
  g_object_unref (doomed);
  g_object_unref (after_read);
  g_object_unref (good_read);
}

/* A restore's swap of a data folder's files (prd-data-swap.c), interrupted
 * at each point a kill or a power loss can stop it: the states are built on
 * disk as the swap leaves them, and the next open of the folder
 * (prd_data_swap_recover()) must end with the old files or the new ones,
 * whole, never neither. */

static const char *const swap_files[] = { "prdhub.db", "secrets", NULL };
static const char *const swap_replaced[] = { "prdhub.db", "prdhub.db-wal", "versions.git",
                                             "secrets", NULL };

typedef enum
{
  SWAP_UNMARKED,     /* new/ filled, no mark: nothing was replaced yet */
  SWAP_MARK_WRITING, /* the mark's temporary file only */
  SWAP_MARKED,       /* marked, nothing moved */
  SWAP_HALF_ASIDE,   /* marked, some old files moved aside */
  SWAP_HALF_IN,      /* every old file aside, one new file moved in */
  SWAP_ALL_IN,       /* every new file in, old/ half removed */
  SWAP_MARK_LEFT,    /* everything done but the mark and the folder */
} SwapState;

static void
put (const char *dir, const char *name, const char *contents)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
}

/* The contents of @dir/@name, or NULL if it does not exist. */
static char *
get (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  char *contents = NULL;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return NULL;
  return contents;
}

static void
move (const char *from_dir, const char *to_dir, const char *name)
{
  g_autofree char *from = g_build_filename (from_dir, name, NULL);
  g_autofree char *to = g_build_filename (to_dir, name, NULL);

  g_assert_cmpint (g_rename (from, to), ==, 0);
}

/* The data folder's own files: a database with its WAL, a versions
 * repository, a secrets file, and a file of the operator's. */
static void
put_old_files (const char *data)
{
  g_autofree char *git = g_build_filename (data, "versions.git", NULL);

  put (data, "prdhub.db", "old db");
  put (data, "prdhub.db-wal", "old wal");
  put (data, "secrets", "old secrets");
  put (data, "notes", "operator's");
  g_assert_cmpint (g_mkdir (git, 0700), ==, 0);
  put (git, "HEAD", "old head");
}

static void
assert_old_files (const char *data)
{
  g_autofree char *db = get (data, "prdhub.db");
  g_autofree char *wal = get (data, "prdhub.db-wal");
  g_autofree char *secrets = get (data, "secrets");
  g_autofree char *head = get (data, "versions.git/HEAD");
  g_autofree char *notes = get (data, "notes");

  g_assert_cmpstr (db, ==, "old db");
  g_assert_cmpstr (wal, ==, "old wal");
  g_assert_cmpstr (secrets, ==, "old secrets");
  g_assert_cmpstr (head, ==, "old head");
  g_assert_cmpstr (notes, ==, "operator's");
}

static void
assert_new_files (const char *data)
{
  g_autofree char *db = get (data, "prdhub.db");
  g_autofree char *secrets = get (data, "secrets");
  g_autofree char *notes = get (data, "notes");
  g_autofree char *wal = g_build_filename (data, "prdhub.db-wal", NULL);
  g_autofree char *git = g_build_filename (data, "versions.git", NULL);

  g_assert_cmpstr (db, ==, "new db");
  g_assert_cmpstr (secrets, ==, "new secrets");
  g_assert_cmpstr (notes, ==, "operator's");
  /* The old WAL would be replayed into the new database; the backup had
   * no versions repository. */
  g_assert_false (g_file_test (wal, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (git, G_FILE_TEST_EXISTS));
}

/* No swap folder is left in @data. */
static void
assert_no_swap (const char *data)
{
  g_autoptr (GDir) dir = g_dir_open (data, 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_assert_false (g_str_has_prefix (name, PRD_DATA_SWAP_PREFIX));
}

/* Builds @state in @data, as a swap interrupted there leaves it. */
static void
build_swap_state (const char *data, SwapState state)
{
  g_autofree char *swap = g_build_filename (data, PRD_DATA_SWAP_PREFIX "test01", NULL);
  g_autofree char *new_dir = g_build_filename (swap, PRD_DATA_SWAP_NEW, NULL);
  g_autofree char *old_dir = g_build_filename (swap, PRD_DATA_SWAP_OLD, NULL);
  g_autofree char *old_git = g_build_filename (old_dir, "versions.git", NULL);
  const char *mark = "[swap]\nfiles=prdhub.db;secrets;\n"
                     "replaced=prdhub.db;prdhub.db-wal;versions.git;secrets;\n";

  put_old_files (data);
  g_assert_cmpint (g_mkdir (swap, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (new_dir, 0700), ==, 0);
  put (new_dir, "prdhub.db", "new db");
  put (new_dir, "secrets", "new secrets");
  if (state == SWAP_UNMARKED)
    return;
  if (state == SWAP_MARK_WRITING)
    {
      put (swap, PRD_DATA_SWAP_COMPLETE ".AB12CD", "[swap]\nfil");
      return;
    }
  put (swap, PRD_DATA_SWAP_COMPLETE, mark);
  if (state == SWAP_MARKED)
    return;
  g_assert_cmpint (g_mkdir (old_dir, 0700), ==, 0);
  move (data, old_dir, "prdhub.db");
  move (data, old_dir, "prdhub.db-wal");
  if (state == SWAP_HALF_ASIDE)
    return;
  move (data, old_dir, "versions.git");
  move (data, old_dir, "secrets");
  move (new_dir, data, "prdhub.db");
  if (state == SWAP_HALF_IN)
    return;
  move (new_dir, data, "secrets");
  prd_test_remove_tree (old_git);
  if (state == SWAP_ALL_IN)
    return;
  prd_test_remove_tree (old_dir);
  prd_test_remove_tree (new_dir);
}

static void
test_swap_recover (gconstpointer data)
{
  SwapState state = GPOINTER_TO_INT (data);
  g_autofree char *dir = prd_test_make_tmp_dir ("prd-swap-XXXXXX");
  g_autofree char *folder = g_build_filename (dir, "data", NULL);
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (g_mkdir (folder, 0700), ==, 0);
  build_swap_state (folder, state);

  /* While another process holds the folder (a restore under way), a
   * command does not touch the swap. */
  {
    g_autoptr (PrdDataLock) holder = prd_data_lock_acquire (folder, &error);

    g_assert_no_error (error);
    g_assert_false (prd_data_swap_recover (folder, NULL, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_STORAGE);
    g_assert_nonnull (strstr (error->message, "A restore into"));
    g_clear_error (&error);
  }

  g_assert_true (prd_data_swap_recover (folder, NULL, &error));
  g_assert_no_error (error);
  if (state == SWAP_UNMARKED || state == SWAP_MARK_WRITING)
    assert_old_files (folder);
  else
    assert_new_files (folder);
  assert_no_swap (folder);

  /* Nothing is left to do the next time. */
  g_assert_true (prd_data_swap_recover (folder, NULL, &error));
  g_assert_no_error (error);
  prd_test_remove_tree (dir);
}

/* A whole swap, and names it refuses before it changes anything; a folder
 * named like a swap's that is not one is left alone. */
static void
test_swap_commit (void)
{
  g_autofree char *dir = prd_test_make_tmp_dir ("prd-swap-XXXXXX");
  g_autofree char *folder = g_build_filename (dir, "data", NULL);
  g_autofree char *swap = NULL;
  g_autofree char *new_dir = NULL;
  g_autofree char *foreign = NULL;
  g_autoptr (PrdDataLock) lock = NULL;
  g_autoptr (GError) error = NULL;
  const char *const bad_files[] = { "../prdhub.db", NULL };
  const char *const unlisted[] = { "prdhub.db", "notes", NULL };

  g_assert_cmpint (g_mkdir (folder, 0700), ==, 0);
  put_old_files (folder);
  lock = prd_data_lock_acquire (folder, &error);
  g_assert_no_error (error);
  swap = prd_data_swap_begin (folder, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (swap, folder));
  new_dir = g_build_filename (swap, PRD_DATA_SWAP_NEW, NULL);
  put (new_dir, "prdhub.db", "new db");
  put (new_dir, "secrets", "new secrets");

  g_assert_false (prd_data_swap_commit (swap, folder, bad_files, swap_replaced, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_clear_error (&error);
  g_assert_false (prd_data_swap_commit (swap, folder, unlisted, swap_replaced, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_clear_error (&error);
  assert_old_files (folder);

  g_assert_true (prd_data_swap_commit (swap, folder, swap_files, swap_replaced, &error));
  g_assert_no_error (error);
  assert_new_files (folder);
  assert_no_swap (folder);

  /* Abandoned before its mark: the data folder is untouched. */
  g_clear_pointer (&swap, g_free);
  swap = prd_data_swap_begin (folder, &error);
  g_assert_no_error (error);
  g_assert_true (prd_data_swap_abandon (swap, &error));
  g_assert_no_error (error);
  assert_new_files (folder);
  assert_no_swap (folder);

  /* Not a swap's folder: recovering leaves it, and says so. */
  foreign = g_build_filename (folder, PRD_DATA_SWAP_PREFIX "mine", NULL);
  g_assert_cmpint (g_mkdir (foreign, 0700), ==, 0);
  put (foreign, "keep", "x");
  g_test_expect_message ("prd-store", G_LOG_LEVEL_WARNING, "*is not the folder of an unfinished*");
  g_assert_true (prd_data_swap_recover (folder, lock, &error));
  g_assert_no_error (error);
  g_test_assert_expected_messages ();
  g_assert_true (g_file_test (foreign, G_FILE_TEST_IS_DIR));
  /* Nor does it make a command wait for the folder's lock: with the folder
   * held (a hub serving it), there is nothing to recover. */
  g_test_expect_message ("prd-store", G_LOG_LEVEL_WARNING, "*is not the folder of an unfinished*");
  g_assert_true (prd_data_swap_recover (folder, NULL, &error));
  g_assert_no_error (error);
  g_test_assert_expected_messages ();
  g_assert_true (g_file_test (foreign, G_FILE_TEST_IS_DIR));
  g_clear_pointer (&lock, prd_data_lock_release);
  prd_test_remove_tree (dir);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/prd/store/validate-id", test_validate_id);
  g_test_add_func ("/prd/store/validate-fields", test_validate_fields);
  g_test_add_func ("/prd/store/generate-id", test_generate_id);
  g_test_add ("/prd/store/schema/fresh-and-reopen", Fixture, NULL, fixture_set_up,
              test_schema_fresh, fixture_tear_down);
  g_test_add_func ("/prd/store/schema/migrate-from-0", test_schema_migrate_from_zero);
  g_test_add_func ("/prd/store/schema/migrate-snapshots", test_schema_migrate_snapshots);
  g_test_add_func ("/prd/store/files-private", test_files_private);
  g_test_add_data_func ("/prd/store/swap/unmarked", GINT_TO_POINTER (SWAP_UNMARKED),
                        test_swap_recover);
  g_test_add_data_func ("/prd/store/swap/mark-writing", GINT_TO_POINTER (SWAP_MARK_WRITING),
                        test_swap_recover);
  g_test_add_data_func ("/prd/store/swap/marked", GINT_TO_POINTER (SWAP_MARKED), test_swap_recover);
  g_test_add_data_func ("/prd/store/swap/half-aside", GINT_TO_POINTER (SWAP_HALF_ASIDE),
                        test_swap_recover);
  g_test_add_data_func ("/prd/store/swap/half-in", GINT_TO_POINTER (SWAP_HALF_IN),
                        test_swap_recover);
  g_test_add_data_func ("/prd/store/swap/all-in", GINT_TO_POINTER (SWAP_ALL_IN), test_swap_recover);
  g_test_add_data_func ("/prd/store/swap/mark-left", GINT_TO_POINTER (SWAP_MARK_LEFT),
                        test_swap_recover);
  g_test_add_func ("/prd/store/swap/commit", test_swap_commit);
  g_test_add_func ("/prd/store/schema/newer-refused", test_schema_newer_refused);
  g_test_add_func ("/prd/store/copy/old-backup", test_copy_old_backup);
  g_test_add_func ("/prd/store/schema/foreign-refused", test_schema_foreign_refused);
  g_test_add_func ("/prd/store/schema/unwritable", test_schema_unwritable);
  g_test_add ("/prd/store/crud", Fixture, NULL, fixture_set_up, test_crud, fixture_tear_down);
  g_test_add ("/prd/store/delete-cascades", Fixture, NULL, fixture_set_up, test_delete_cascades,
              fixture_tear_down);
  g_test_add ("/prd/store/invalid-input-changes-nothing", Fixture, NULL, fixture_set_up,
              test_invalid_input_changes_nothing, fixture_tear_down);
  g_test_add ("/prd/store/create-with-update", Fixture, NULL, fixture_set_up,
              test_create_with_update, fixture_tear_down);
  g_test_add ("/prd/store/sites", Fixture, NULL, fixture_set_up, test_sites, fixture_tear_down);
  g_test_add ("/prd/store/site-holders", Fixture, NULL, fixture_set_up, test_site_holders,
              fixture_tear_down);
  g_test_add ("/prd/store/retire-sites", Fixture, NULL, fixture_set_up, test_retire_sites,
              fixture_tear_down);
  g_test_add ("/prd/store/duplicate-update", Fixture, NULL, fixture_set_up, test_duplicate_update,
              fixture_tear_down);
  g_test_add ("/prd/store/group-commit", Fixture, NULL, fixture_set_up, test_group_commit,
              fixture_tear_down);
  g_test_add ("/prd/store/commit-count-sequential", Fixture, NULL, fixture_set_up,
              test_commit_count_sequential, fixture_tear_down);
  g_test_add ("/prd/store/snapshot-restore", Fixture, NULL, fixture_set_up, test_snapshot_restore,
              fixture_tear_down);
  g_test_add ("/prd/store/snapshot-packed", Fixture, NULL, fixture_set_up, test_snapshot_packed,
              fixture_tear_down);
  g_test_add ("/prd/store/snapshot-packed-aside", Fixture, NULL, fixture_set_up,
              test_snapshot_packed_aside, fixture_tear_down);
  g_test_add ("/prd/store/snapshot-packed-barrier", Fixture, NULL, fixture_set_up,
              test_snapshot_packed_barrier, fixture_tear_down);
  g_test_add ("/prd/store/snapshot-packed-lifecycle", Fixture, NULL, fixture_set_up,
              test_snapshot_packed_lifecycle, fixture_tear_down);
  g_test_add ("/prd/store/corrupt-log", Fixture, NULL, fixture_set_up, test_corrupt_log_detected,
              fixture_tear_down);
  g_test_add ("/prd/store/load-other-org", Fixture, NULL, fixture_set_up, test_load_other_org,
              fixture_tear_down);
  g_test_add ("/prd/store/cancel", Fixture, NULL, fixture_set_up, test_cancel, fixture_tear_down);
  g_test_add ("/prd/store/closed", Fixture, NULL, fixture_set_up, test_closed, fixture_tear_down);
  g_test_add ("/prd/store/pragmas", Fixture, NULL, fixture_set_up, test_pragmas, fixture_tear_down);
  g_test_add ("/prd/store/wal-limit", Fixture, NULL, fixture_set_up, test_wal_limit,
              fixture_tear_down);
  g_test_add ("/prd/store/secure-delete", Fixture, NULL, fixture_set_up, test_secure_delete,
              fixture_tear_down);
  g_test_add ("/prd/store/custom-operations", Fixture, NULL, fixture_set_up, test_custom_operations,
              fixture_tear_down);
  g_test_add ("/prd/store/failed-group-runs-alone", Fixture, NULL, fixture_set_up,
              test_failed_group_runs_alone, fixture_tear_down);
  g_test_add_func ("/prd/store/unref-without-close", test_unref_without_close);
  g_test_add_func ("/prd/store/cancel-open", test_cancel_open);

  return g_test_run ();
}
