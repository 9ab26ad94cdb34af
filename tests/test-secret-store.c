/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The secret store against its two real backends. The same program runs
 * twice: in the `keyring` suite under tests/run-with-keyring.sh (a real
 * gnome-keyring on a private session bus; PRD_TEST_SECRET_BACKEND=keyring),
 * and in the `unit` suite with the session bus pointing nowhere, where the
 * owner-only file must take over (PRD_TEST_SECRET_BACKEND=file).
 */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "prd-auth.h"
#include "prd-error.h"
#include "prd-file-secret-store-private.h"
#include "prd-hub-secret.h"
#include "prd-libsecret-store.h"
#include "prd-secret-store.h"
#include "prd-test-harness.h"

static gboolean keyring_mode;
static guint store_log_lines;

typedef struct
{
  char *dir;
  PrdSecretStore *store;
} Fixture;

static void
count_store_logs (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  store_log_lines++;
  g_test_message ("log: %s", message);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("prd-secret-store-XXXXXX", &error);

  g_assert_no_error (error);
  /* A folder that does not exist yet: the store creates it, 0700. */
  f->dir = g_build_filename (tmp, "hub", NULL);
  store_log_lines = 0;
  f->store = prd_secret_store_open_default_sync (f->dir, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->store);
  if (keyring_mode)
    {
      g_assert_true (PRD_IS_LIBSECRET_STORE (f->store));
      g_assert_cmpuint (store_log_lines, ==, 0);
    }
  else
    {
      g_assert_true (PRD_IS_FILE_SECRET_STORE (f->store));
      /* The one line that tells the operator where the secrets are. */
      g_assert_cmpuint (store_log_lines, ==, 1);
    }
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_autofree char *tmp = g_path_get_dirname (f->dir);

  prd_hub_secret_set_store (NULL);
  g_clear_object (&f->store);
  prd_test_remove_tree (tmp);
  g_free (f->dir);
}

/* ---- async round trip through the interface ---- */

typedef struct
{
  GMainLoop *loop;
  GAsyncResult *result;
} Wait;

static void
wait_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Wait *w = user_data;

  w->result = g_object_ref (result);
  g_main_loop_quit (w->loop);
}

static void
test_async (Fixture *f, gconstpointer data)
{
  Wait w = { g_main_loop_new (NULL, FALSE), NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *value = NULL;
  g_auto (GStrv) names = NULL;

  prd_secret_store_store_async (f->store, "async.key", "v1", NULL, wait_done, &w);
  g_main_loop_run (w.loop);
  g_assert_true (prd_secret_store_store_finish (f->store, w.result, &error));
  g_assert_no_error (error);
  g_clear_object (&w.result);

  prd_secret_store_lookup_async (f->store, "async.key", NULL, wait_done, &w);
  g_main_loop_run (w.loop);
  value = prd_secret_store_lookup_finish (f->store, w.result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, "v1");
  g_clear_object (&w.result);

  /* An invalid name is reported through the callback too. */
  prd_secret_store_lookup_async (f->store, "Bad Name", NULL, wait_done, &w);
  g_main_loop_run (w.loop);
  g_assert_null (prd_secret_store_lookup_finish (f->store, w.result, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_ID);
  g_clear_error (&error);
  g_clear_object (&w.result);

  prd_secret_store_list_async (f->store, NULL, wait_done, &w);
  g_main_loop_run (w.loop);
  names = prd_secret_store_list_finish (f->store, w.result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (names), ==, 1);
  g_assert_cmpstr (names[0], ==, "async.key");
  g_clear_object (&w.result);

  prd_secret_store_delete_async (f->store, "async.key", NULL, wait_done, &w);
  g_main_loop_run (w.loop);
  g_assert_true (prd_secret_store_delete_finish (f->store, w.result, &error));
  g_assert_no_error (error);
  g_clear_object (&w.result);

  g_main_loop_unref (w.loop);
}

/* ---- store, read, list, overwrite, delete ---- */

static void
test_round_trip (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *value = NULL;
  g_auto (GStrv) names = NULL;
  const char *multi_line = "line one\nline two\twith tab = and [brackets]\n\u00e9t\u00e9";

  names = prd_secret_store_list_sync (f->store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (names), ==, 0);
  g_clear_pointer (&names, g_strfreev);

  value = prd_secret_store_lookup_sync (f->store, "ai-key", NULL, &error);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND);
  g_assert_null (value);
  g_clear_error (&error);

  g_assert_true (prd_secret_store_store_sync (f->store, "ai-key", "sk-first", NULL, &error));
  g_assert_no_error (error);
  g_assert_true (prd_secret_store_store_sync (f->store, "jira.token", multi_line, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (prd_secret_store_store_sync (f->store, "0-first", "zero", NULL, &error));
  g_assert_no_error (error);

  value = prd_secret_store_lookup_sync (f->store, "ai-key", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, "sk-first");
  g_clear_pointer (&value, g_free);
  value = prd_secret_store_lookup_sync (f->store, "jira.token", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, multi_line);
  g_clear_pointer (&value, g_free);

  /* Overwrite: one item, the new value */
  g_assert_true (prd_secret_store_store_sync (f->store, "ai-key", "sk-second", NULL, &error));
  g_assert_no_error (error);
  value = prd_secret_store_lookup_sync (f->store, "ai-key", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, "sk-second");
  g_clear_pointer (&value, g_free);

  names = prd_secret_store_list_sync (f->store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (names), ==, 3);
  g_assert_cmpstr (names[0], ==, "0-first");
  g_assert_cmpstr (names[1], ==, "ai-key");
  g_assert_cmpstr (names[2], ==, "jira.token");
  g_clear_pointer (&names, g_strfreev);

  g_assert_true (prd_secret_store_delete_sync (f->store, "ai-key", NULL, &error));
  g_assert_no_error (error);
  g_assert_false (prd_secret_store_delete_sync (f->store, "ai-key", NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND);
  g_clear_error (&error);
  value = prd_secret_store_lookup_sync (f->store, "ai-key", NULL, &error);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND);
  g_clear_error (&error);

  names = prd_secret_store_list_sync (f->store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (names), ==, 2);
  g_assert_cmpstr (names[0], ==, "0-first");
  g_assert_cmpstr (names[1], ==, "jira.token");

  /* Only the fallback logs, and only once, when it is opened. */
  g_assert_cmpuint (store_log_lines, ==, keyring_mode ? 0 : 1);
}

/* Two hubs (two data folders) never see each other's secrets. */
static void
test_scoped (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *tmp = g_path_get_dirname (f->dir);
  g_autofree char *other_dir = g_build_filename (tmp, "other-hub", NULL);
  g_autoptr (PrdSecretStore) other = NULL;
  g_autofree char *value = NULL;
  g_auto (GStrv) names = NULL;

  other = prd_secret_store_open_default_sync (other_dir, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (prd_secret_store_store_sync (f->store, "shared-name", "first hub", NULL, &error));
  g_assert_no_error (error);
  g_assert_true (prd_secret_store_store_sync (other, "shared-name", "second hub", NULL, &error));
  g_assert_no_error (error);

  value = prd_secret_store_lookup_sync (f->store, "shared-name", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, "first hub");
  g_clear_pointer (&value, g_free);
  value = prd_secret_store_lookup_sync (other, "shared-name", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, "second hub");

  g_assert_true (prd_secret_store_delete_sync (other, "shared-name", NULL, &error));
  g_assert_no_error (error);
  names = prd_secret_store_list_sync (f->store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (names), ==, 1);
  g_assert_cmpstr (names[0], ==, "shared-name");
}

/* ---- validation: bad input changes nothing ---- */

static void
test_invalid (Fixture *f, gconstpointer data)
{
  static const char *const bad_names[] = {
    "",    "Upper", "-leading", ".leading", "_leading", "has space",
    "a/b", "a\\b",  "x=y",      "\u00e9",   "a[1]",
  };
  g_autoptr (GError) error = NULL;
  g_autofree char *longest = g_strnfill (64, 'a');
  g_autofree char *too_long = g_strnfill (65, 'a');
  g_autofree char *big = g_strnfill (PRD_SECRET_MAX_VALUE_LENGTH + 1, 'v');
  g_autofree char *biggest = g_strnfill (PRD_SECRET_MAX_VALUE_LENGTH, 'v');
  g_autofree char *value = NULL;
  g_auto (GStrv) names = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (bad_names); i++)
    {
      g_assert_false (prd_secret_name_is_valid (bad_names[i]));
      g_assert_false (prd_secret_store_store_sync (f->store, bad_names[i], "v", NULL, &error));
      g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_ID);
      g_clear_error (&error);
      g_assert_null (prd_secret_store_lookup_sync (f->store, bad_names[i], NULL, &error));
      g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_ID);
      g_clear_error (&error);
      g_assert_false (prd_secret_store_delete_sync (f->store, bad_names[i], NULL, &error));
      g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_ID);
      g_clear_error (&error);
    }
  g_assert_false (prd_secret_name_is_valid (NULL));
  g_assert_false (prd_secret_store_store_sync (f->store, too_long, "v", NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_ID);
  g_clear_error (&error);

  g_assert_false (prd_secret_store_store_sync (f->store, "empty", "", NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_clear_error (&error);
  g_assert_false (prd_secret_store_store_sync (f->store, "binary", "\xff\xfe", NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_clear_error (&error);
  g_assert_false (prd_secret_store_store_sync (f->store, "big", big, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PAYLOAD_TOO_LARGE);
  g_clear_error (&error);

  names = prd_secret_store_list_sync (f->store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (names), ==, 0);
  if (!keyring_mode)
    {
      g_autofree char *path = g_build_filename (f->dir, "secrets", NULL);

      g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
    }

  /* The limits themselves are accepted. */
  g_assert_true (prd_secret_store_store_sync (f->store, longest, biggest, NULL, &error));
  g_assert_no_error (error);
  value = prd_secret_store_lookup_sync (f->store, longest, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, biggest);
}

/* ---- the owner-only file ---- */

static void
test_file_permissions (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (f->dir, "secrets", NULL);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *value = NULL;
  struct stat st;

  g_assert_true (prd_secret_store_store_sync (f->store, "ai-key", "sk-1", NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (prd_secret_store_get_description (f->store), ==, path);

  g_assert_cmpint (g_stat (f->dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
  g_assert_cmpint (g_lstat (path, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  /* Rewritten in place: still 0600, no temporary file left */
  g_assert_true (prd_secret_store_store_sync (f->store, "ai-key", "sk-2", NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  {
    g_autoptr (GDir) listing = g_dir_open (f->dir, 0, &error);
    g_autoptr (GPtrArray) names = g_ptr_array_new ();

    g_assert_no_error (error);
    for (const char *name; (name = g_dir_read_name (listing)) != NULL;)
      g_ptr_array_add (names, g_strdup (name));
    g_ptr_array_set_free_func (names, g_free);
    g_assert_cmpuint (names->len, ==, 2);
    g_assert_true (g_ptr_array_find_with_equal_func (names, "secrets", g_str_equal, NULL));
    g_assert_true (g_ptr_array_find_with_equal_func (names, "secrets.lock", g_str_equal, NULL));
  }
  /* The lock file holds nothing and is as private as the file. */
  {
    g_autofree char *lock_path = g_build_filename (f->dir, "secrets.lock", NULL);

    g_assert_cmpint (g_lstat (lock_path, &st), ==, 0);
    g_assert_true (S_ISREG (st.st_mode));
    g_assert_cmpint (st.st_mode & 0777, ==, 0600);
    g_assert_cmpint (st.st_size, ==, 0);
  }

  /* Readable by others: refused for reading and for writing, untouched. */
  g_file_get_contents (path, &before, NULL, &error);
  g_assert_no_error (error);
  g_chmod (path, 0644);
  g_assert_null (prd_secret_store_lookup_sync (f->store, "ai-key", NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "accessible by group or others (mode 0644)"));
  g_assert_nonnull (strstr (error->message, "chmod 600"));
  g_clear_error (&error);
  g_assert_false (prd_secret_store_store_sync (f->store, "ai-key", "sk-3", NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_clear_error (&error);
  g_assert_null (prd_secret_store_list_sync (f->store, NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_clear_error (&error);
  g_file_get_contents (path, &after, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (before, ==, after);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0644);

  /* Group-writable only: refused as well */
  g_chmod (path, 0620);
  g_assert_null (prd_secret_store_lookup_sync (f->store, "ai-key", NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_clear_error (&error);

  g_chmod (path, 0600);
  value = prd_secret_store_lookup_sync (f->store, "ai-key", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, "sk-2");

  /* A folder others may write to is refused for writing */
  g_chmod (f->dir, 0777);
  g_assert_false (prd_secret_store_store_sync (f->store, "ai-key", "sk-4", NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "chmod 700"));
  g_clear_error (&error);
  g_chmod (f->dir, 0700);
}

static void
test_file_refuses_symlink_and_garbage (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (f->dir, "secrets", NULL);
  g_autofree char *elsewhere = g_build_filename (f->dir, "elsewhere", NULL);

  g_assert_cmpint (g_mkdir_with_parents (f->dir, 0700), ==, 0);
  g_file_set_contents (elsewhere, "[secrets]\nai-key=x\n", -1, &error);
  g_assert_no_error (error);
  g_chmod (elsewhere, 0600);
  g_assert_cmpint (symlink (elsewhere, path), ==, 0);
  g_assert_null (prd_secret_store_lookup_sync (f->store, "ai-key", NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_clear_error (&error);
  g_unlink (path);

  g_file_set_contents (path, "this is not a key file\n\x01", -1, &error);
  g_assert_no_error (error);
  g_chmod (path, 0600);
  g_assert_null (prd_secret_store_lookup_sync (f->store, "ai-key", NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA);
  g_clear_error (&error);
  g_unlink (elsewhere);
}

/* Writers in other processes: this test program run again with
 * --write-secrets DIR PREFIX N, storing PREFIX0 … PREFIX(N-1). */
#define CONCURRENT_SECRETS 40

static int
write_secrets (const char *dir, const char *prefix, guint n)
{
  g_autoptr (PrdSecretStore) store = prd_file_secret_store_new (dir);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *name = g_strdup_printf ("%s%u", prefix, i);

      if (!prd_secret_store_store_sync (store, name, name, NULL, &error))
        {
          g_printerr ("%s: %s\n", name, error->message);
          return 1;
        }
    }
  return 0;
}

static GSubprocess *
spawn_writer (const char *dir, const char *prefix)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *self = g_file_read_link ("/proc/self/exe", &error);
  g_autofree char *count = g_strdup_printf ("%u", CONCURRENT_SECRETS);
  GSubprocess *process;

  g_assert_no_error (error);
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, self, "--write-secrets", dir, prefix,
                              count, NULL);
  g_assert_no_error (error);
  return process;
}

/* Two other processes (two `prdhub secret set`) and this one (the hub)
 * write at once: every write reads the file under the lock, so none
 * writes back a file without another's secret. */
static void
test_file_concurrent_processes (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) a = NULL;
  g_autoptr (GSubprocess) b = NULL;
  g_auto (GStrv) names = NULL;

  g_assert_cmpint (g_mkdir_with_parents (f->dir, 0700), ==, 0);
  a = spawn_writer (f->dir, "a");
  b = spawn_writer (f->dir, "b");
  g_assert_cmpint (write_secrets (f->dir, "p", CONCURRENT_SECRETS), ==, 0);
  g_assert_true (g_subprocess_wait_check (a, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait_check (b, NULL, &error));
  g_assert_no_error (error);

  names = prd_secret_store_list_sync (f->store, NULL, &error);
  g_assert_no_error (error);
  for (const char *prefix = "abp"; *prefix != '\0'; prefix++)
    for (guint i = 0; i < CONCURRENT_SECRETS; i++)
      {
        g_autofree char *name = g_strdup_printf ("%c%u", *prefix, i);

        if (!g_strv_contains ((const char *const *) names, name))
          g_error ("%s was lost (%u of %u secrets kept)", name, g_strv_length (names),
                   3 * CONCURRENT_SECRETS);
      }
  g_assert_cmpuint (g_strv_length (names), ==, 3 * CONCURRENT_SECRETS);
}

/* A write waits for the lock no longer than its wait, then fails, changing
 * nothing; once the other process lets go, writes go on. */
static void
test_file_lock_wait (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (f->dir, "secrets", NULL);
  g_autofree char *lock_path = g_build_filename (f->dir, "secrets.lock", NULL);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *value = NULL;
  g_auto (GStrv) names = NULL;
  int fd;

  g_assert_true (prd_secret_store_store_sync (f->store, "kept", "v1", NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (path, &before, NULL, NULL));
  prd_file_secret_store_set_lock_wait (PRD_FILE_SECRET_STORE (f->store), 50);

  /* Another open file description: flock(2) treats it as another process. */
  fd = open (lock_path, O_RDWR | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (flock (fd, LOCK_EX | LOCK_NB), ==, 0);
  g_assert_false (prd_secret_store_store_sync (f->store, "new", "v2", NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_STORAGE);
  g_assert_nonnull (strstr (error->message, lock_path));
  g_assert_nonnull (strstr (error->message, "nothing was changed"));
  g_clear_error (&error);
  g_assert_false (prd_secret_store_delete_sync (f->store, "kept", NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_STORAGE);
  g_clear_error (&error);
  g_assert_true (g_file_get_contents (path, &after, NULL, NULL));
  g_assert_cmpstr (before, ==, after);
  /* Reading needs no lock. */
  value = prd_secret_store_lookup_sync (f->store, "kept", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, "v1");

  close (fd);
  g_assert_true (prd_secret_store_store_sync (f->store, "new", "v2", NULL, &error));
  g_assert_no_error (error);
  names = prd_secret_store_list_sync (f->store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (names), ==, 2);
}

/* The fallback is chosen within the probe time, however the bus fails. */
static void
test_file_fallback_async (Fixture *f, gconstpointer data)
{
  Wait w = { g_main_loop_new (NULL, FALSE), NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdSecretStore) store = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();

  store_log_lines = 0;
  prd_secret_store_open_default_async (f->dir, NULL, wait_done, &w);
  g_main_loop_run (w.loop);
  store = prd_secret_store_open_default_finish (w.result, &error);
  g_assert_no_error (error);
  g_assert_true (PRD_IS_FILE_SECRET_STORE (store));
  g_assert_cmpuint (store_log_lines, ==, 1);
  g_clear_object (&w.result);

  /* A caller that gives up gets CANCELLED, not a fallback */
  g_cancellable_cancel (cancellable);
  prd_secret_store_open_default_async (f->dir, cancellable, wait_done, &w);
  g_main_loop_run (w.loop);
  g_assert_null (prd_secret_store_open_default_finish (w.result, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CANCELLED);
  g_clear_object (&w.result);
  g_main_loop_unref (w.loop);
}

/* ---- the hub's JWT secret ---- */

static void
test_hub_jwt_secret (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *legacy = g_build_filename (f->dir, PRD_HUB_SECRET_FILE, NULL);
  g_autoptr (GBytes) first = NULL;
  g_autoptr (GBytes) second = NULL;
  g_autoptr (GBytes) third = NULL;
  g_autofree char *stored = NULL;
  const char *operator_set = "operator-chosen-secret-0123456789abcdef";

  prd_hub_secret_set_store (f->store);

  /* First start: generated. Into the keyring when there is one; without,
   * into the owner-only jwt-secret file as hubs always did. */
  first = prd_hub_secret_load_jwt (f->dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (first), ==, 64);
  stored = prd_secret_store_lookup_sync (f->store, PRD_HUB_SECRET_NAME, NULL, &error);
  if (keyring_mode)
    {
      g_assert_no_error (error);
      g_assert_cmpmem (stored, strlen (stored), g_bytes_get_data (first, NULL),
                       g_bytes_get_size (first));
      g_assert_false (g_file_test (legacy, G_FILE_TEST_EXISTS));
    }
  else
    {
      g_assert_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND);
      g_clear_error (&error);
      g_assert_true (g_file_test (legacy, G_FILE_TEST_IS_REGULAR));
    }

  /* Second start: the same secret */
  second = prd_hub_secret_load_jwt (f->dir, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (first, second));

  /* What the operator sets in the store wins over a generated file */
  g_assert_true (
      prd_secret_store_store_sync (f->store, PRD_HUB_SECRET_NAME, operator_set, NULL, &error));
  g_assert_no_error (error);
  third = prd_hub_secret_load_jwt (f->dir, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (third, NULL), g_bytes_get_size (third), operator_set,
                   strlen (operator_set));

  /* A stored secret too short to be safe is refused, not used */
  g_assert_true (
      prd_secret_store_store_sync (f->store, PRD_HUB_SECRET_NAME, "short", NULL, &error));
  g_assert_no_error (error);
  g_assert_null (prd_hub_secret_load_jwt (f->dir, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "prdhub secret set jwt-secret"));
  g_clear_error (&error);

  /* The environment still wins over everything */
  g_setenv (PRD_HUB_SECRET_ENV, operator_set, TRUE);
  g_clear_pointer (&third, g_bytes_unref);
  third = prd_hub_secret_load_jwt (f->dir, &error);
  g_unsetenv (PRD_HUB_SECRET_ENV);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (third, NULL), g_bytes_get_size (third), operator_set,
                   strlen (operator_set));
}

/* An older hub's jwt-secret file keeps working: tokens already handed out
 * stay valid when the hub starts using a store. */
static void
test_hub_jwt_secret_legacy_file (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *legacy = g_build_filename (f->dir, PRD_HUB_SECRET_FILE, NULL);
  g_autoptr (GBytes) secret = NULL;
  const char *old = "0123456789abcdef0123456789abcdef-older-hub";
  g_autofree char *line = g_strconcat (old, "\n", NULL);

  g_assert_cmpint (g_mkdir_with_parents (f->dir, 0700), ==, 0);
  g_file_set_contents (legacy, line, -1, &error);
  g_assert_no_error (error);
  g_chmod (legacy, 0600);

  prd_hub_secret_set_store (f->store);
  secret = prd_hub_secret_load_jwt (f->dir, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (secret, NULL), g_bytes_get_size (secret), old, strlen (old));

  /* Its permission checks still apply */
  g_chmod (legacy, 0640);
  g_assert_null (prd_hub_secret_load_jwt (f->dir, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_clear_error (&error);
}

/* ---- the prdhub secret command ---- */

static const char *
prdhub_bin (void)
{
  const char *bin = g_getenv ("PRDHUB_BIN");

  if (bin == NULL)
    g_test_skip ("PRDHUB_BIN is not set");
  return bin;
}

static int
run_prdhub (const char *stdin_text, char **out, char **err, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) proc = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *stdin_path = NULL;
  const char *arg;
  va_list args;

  g_ptr_array_add (argv, (gpointer) prdhub_bin ());
  va_start (args, err);
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  /* Standard input is a file, not a pipe: a prdhub that refuses its
   * arguments exits without reading it, and writing into a pipe nobody
   * reads would fail with EPIPE depending on who runs first. */
  if (stdin_text != NULL)
    {
      int fd = g_file_open_tmp ("prd-secret-stdin-XXXXXX", &stdin_path, &error);

      g_assert_no_error (error);
      close (fd);
      g_file_set_contents (stdin_path, stdin_text, -1, &error);
      g_assert_no_error (error);
    }
  launcher = g_subprocess_launcher_new (
      (stdin_text != NULL ? G_SUBPROCESS_FLAGS_NONE : G_SUBPROCESS_FLAGS_STDIN_PIPE) |
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  if (stdin_path != NULL)
    g_subprocess_launcher_set_stdin_file_path (launcher, stdin_path);
  g_subprocess_launcher_unsetenv (launcher, PRD_HUB_SECRET_ENV);
  proc = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, out, err, &error);
  g_assert_no_error (error);
  if (stdin_path != NULL)
    g_unlink (stdin_path);
  g_assert_true (g_subprocess_get_if_exited (proc));
  return g_subprocess_get_exit_status (proc);
}

static void
test_cli (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdAuth) auth = NULL;
  g_autoptr (PrdIdentity) identity = NULL;
  g_autoptr (GBytes) secret_bytes = NULL;
  g_autofree char *value = NULL;
  char *out = NULL, *err = NULL;
  const char *secret = "keyring-jwt-secret-0123456789abcdef-0123";
  g_autofree char *secret_line = g_strconcat (secret, "\n", NULL);
  g_autofree char *fallback_file = g_build_filename (f->dir, "secrets", NULL);

  if (prdhub_bin () == NULL)
    return;

  /* Every command but serve refuses a data folder that does not exist: a
   * typo must not start a new hub's secrets. */
  g_assert_cmpint (run_prdhub (secret_line, &out, &err, "secret", "set", "jwt-secret", "--data-dir",
                               f->dir, NULL),
                   ==, 1);
  g_assert_nonnull (strstr (err, f->dir));
  g_assert_nonnull (strstr (err, "does not exist"));
  g_assert_false (g_file_test (f->dir, G_FILE_TEST_EXISTS));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (g_mkdir (f->dir, 0700), ==, 0);

  /* set: value from standard input, one trailing newline dropped */
  g_assert_cmpint (run_prdhub (secret_line, &out, &err, "secret", "set", "jwt-secret", "--data-dir",
                               f->dir, NULL),
                   ==, 0);
  g_assert_cmpstr (out, ==, "");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_prdhub ("sk-test\r\n", &out, &err, "secret", "set", "ai.openai-key",
                               "--data-dir", f->dir, NULL),
                   ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  value = prd_secret_store_lookup_sync (f->store, "ai.openai-key", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, "sk-test");
  g_clear_pointer (&value, g_free);
  value = prd_secret_store_lookup_sync (f->store, "jwt-secret", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, secret);
  g_assert_cmpint (g_file_test (fallback_file, G_FILE_TEST_EXISTS), ==, !keyring_mode);

  /* list: names only */
  g_assert_cmpint (run_prdhub (NULL, &out, &err, "secret", "list", "--data-dir", f->dir, NULL), ==,
                   0);
  g_assert_cmpstr (out, ==, "ai.openai-key\njwt-secret\n");
  /* The file is the expected store where no Secret Service runs: the
   * command line does not say so on every call (`serve` does, once). */
  g_assert_null (strstr (err, "Secret Service"));
  g_assert_null (strstr (err, secret));
  g_assert_null (strstr (err, "sk-test"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* token signs with the secret from the store, so a hub verifying with
   * it accepts the token */
  g_assert_cmpint (run_prdhub (NULL, &out, &err, "token", "--user", "u1", "--name", "U One",
                               "--data-dir", f->dir, NULL),
                   ==, 0);
  g_strstrip (out);
  secret_bytes = g_bytes_new_static (secret, strlen (secret));
  auth = prd_auth_new_hmac (secret_bytes, &error);
  g_assert_no_error (error);
  identity = prd_auth_verify (auth, out, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (identity->user_id, ==, "u1");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  /* ... and the in-process loader of a hub of that folder agrees */
  prd_hub_secret_set_store (f->store);
  g_clear_pointer (&secret_bytes, g_bytes_unref);
  secret_bytes = prd_hub_secret_load_jwt (f->dir, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (secret_bytes, NULL), g_bytes_get_size (secret_bytes), secret,
                   strlen (secret));

  /* delete */
  g_assert_cmpint (run_prdhub (NULL, &out, &err, "secret", "delete", "ai.openai-key", "--data-dir",
                               f->dir, NULL),
                   ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_null (prd_secret_store_lookup_sync (f->store, "ai.openai-key", NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* errors: exit 1, a message, nothing changed */
  g_assert_cmpint (run_prdhub (NULL, &out, &err, "secret", "delete", "ai.openai-key", "--data-dir",
                               f->dir, NULL),
                   ==, 1);
  g_assert_nonnull (strstr (err, "no secret named \"ai.openai-key\""));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (
      run_prdhub ("v\n", &out, &err, "secret", "set", "Bad", "--data-dir", f->dir, NULL), ==, 2);
  g_assert_nonnull (strstr (err, "not a valid secret name"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (
      run_prdhub ("\n", &out, &err, "secret", "set", "empty", "--data-dir", f->dir, NULL), ==, 1);
  g_assert_nonnull (strstr (err, "cannot be empty"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_prdhub ("too-short\n", &out, &err, "secret", "set", "jwt-secret",
                               "--data-dir", f->dir, NULL),
                   ==, 1);
  g_assert_nonnull (strstr (err, "at least 32"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (
      run_prdhub ("value\n", &out, &err, "secret", "set", "a", "b", "--data-dir", f->dir, NULL), ==,
      2);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_prdhub (NULL, &out, &err, "secret", "frobnicate", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "unknown secret action"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_clear_pointer (&value, g_free);
  value = prd_secret_store_lookup_sync (f->store, "jwt-secret", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, secret);
}

int
main (int argc, char *argv[])
{
  const char *backend = g_getenv ("PRD_TEST_SECRET_BACKEND");

  if (argc == 5 && g_str_equal (argv[1], "--write-secrets"))
    return write_secrets (argv[2], argv[3], (guint) g_ascii_strtoull (argv[4], NULL, 10));
  g_unsetenv (PRD_HUB_SECRET_ENV);
  keyring_mode = g_strcmp0 (backend, "keyring") == 0;
  if (!keyring_mode)
    /* No Secret Service can answer on a bus that does not exist. */
    g_setenv ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/prd-test-bus", TRUE);

  g_test_init (&argc, &argv, NULL);
  g_log_set_handler ("prd-store", G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO, count_store_logs, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("/prd/secret-store/async", test_async);
  ADD ("/prd/secret-store/round-trip", test_round_trip);
  ADD ("/prd/secret-store/scoped", test_scoped);
  ADD ("/prd/secret-store/invalid", test_invalid);
  ADD ("/prd/secret-store/hub-jwt-secret", test_hub_jwt_secret);
  ADD ("/prd/secret-store/hub-jwt-secret-legacy-file", test_hub_jwt_secret_legacy_file);
  ADD ("/prd/secret-store/cli", test_cli);
  if (!keyring_mode)
    {
      ADD ("/prd/secret-store/file/permissions", test_file_permissions);
      ADD ("/prd/secret-store/file/symlink-and-garbage", test_file_refuses_symlink_and_garbage);
      ADD ("/prd/secret-store/file/fallback-async", test_file_fallback_async);
      ADD ("/prd/secret-store/file/concurrent-processes", test_file_concurrent_processes);
      ADD ("/prd/secret-store/file/lock-wait", test_file_lock_wait);
    }
#undef ADD

  return g_test_run ();
}
