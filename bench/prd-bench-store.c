/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * prdhub-bench-store: what group commit buys and what synchronous=FULL costs, on a
 * real file, and what an append costs next to PRDs with snapshots of growing
 * size (the reference is the PRD without one, in the same run). Prints one
 * JSON object. Figures depend on the disk; run it on the hub's data disk
 * with --dir.
 */
#define G_LOG_DOMAIN "prd-bench-store"

#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/resource.h>

#include "prd-autocleanups.h"
#include "prd-sqlite-store.h"

typedef struct
{
  PrdStore *store;
  const char *prd_id;
  int site;
  gint64 next_clock;
  guint to_issue;
  guint in_flight;
  guint acked;
  gboolean done;
} Run;

static void issue (Run *run);

static void
append_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  Run *run = data;
  g_autoptr (GError) error = NULL;

  if (prd_store_append_update_finish (PRD_STORE (source), result, &error) < 0)
    g_error ("append: %s", error->message);
  run->in_flight--;
  run->acked++;
  issue (run);
}

static void
issue (Run *run)
{
  g_autoptr (GBytes) payload = g_bytes_new_static ("an encoded insert of a few bytes", 32);

  if (run->to_issue == 0)
    {
      run->done = run->in_flight == 0;
      return;
    }
  run->to_issue--;
  run->in_flight++;
  prd_store_append_update_async (run->store, run->prd_id, run->site, run->next_clock++, "bench",
                                 payload, NULL, append_cb, run);
}

static void
result_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static GAsyncResult *
wait_for (GAsyncResult **res)
{
  while (*res == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *res;
}

/* CPU time of the whole process (all threads), in microseconds. */
static gint64
cpu_time (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * G_USEC_PER_SEC + usage.ru_utime.tv_usec +
         usage.ru_stime.tv_usec;
}

/* @window appends are kept in flight; window 1 is one transaction per
 * append, a large window is what a busy hub sees. */
static void
bench_appends (PrdStore *store,
               const char *prd_id,
               int site,
               gint64 *clock,
               guint count,
               guint window,
               GString *json)
{
  Run run = { store, prd_id, site, *clock, count, 0, 0, FALSE };
  guint64 commits_before = prd_sqlite_store_get_transactions_committed (PRD_SQLITE_STORE (store));
  gint64 start = g_get_monotonic_time ();
  gint64 cpu_start = cpu_time ();
  double seconds;
  guint64 commits;

  for (guint i = 0; i < window && run.to_issue > 0; i++)
    issue (&run);
  while (!run.done)
    g_main_context_iteration (NULL, TRUE);

  seconds = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
  commits = prd_sqlite_store_get_transactions_committed (PRD_SQLITE_STORE (store)) - commits_before;
  *clock = run.next_clock;
  g_string_append_printf (json,
                          "\"in_flight\": %u, \"appends\": %u, \"transactions\": %" G_GUINT64_FORMAT
                          ", \"seconds\": %.3f, \"appends_per_s\": %.0f, \"ms_per_commit\": %.3f"
                          ", \"cpu_us_per_append\": %.1f}",
                          window, run.acked, commits, seconds, run.acked / seconds,
                          commits > 0 ? seconds * 1000.0 / commits : 0.0,
                          (cpu_time () - cpu_start) / (double) MAX (run.acked, 1));
}

static int
new_prd (PrdStore *store, const char *prd_id)
{
  g_autoptr (GAsyncResult) res = NULL;
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autoptr (PrdStoreSite) site = NULL;
  g_autoptr (GError) error = NULL;

  prd_store_create_async (store, prd_id, "bench", "Benchmark", "bench", NULL, result_cb, &res);
  info = prd_store_create_finish (store, wait_for (&res), &error);
  g_assert_no_error (error);
  g_clear_object (&res);
  prd_store_acquire_site_async (store, prd_id, "bench", NULL, 0, NULL, result_cb, &res);
  site = prd_store_acquire_site_finish (store, wait_for (&res), &error);
  g_assert_no_error (error);
  return site->site;
}

/* Appends to a PRD whose snapshot has @size bytes (none for 0): random
 * bytes, as incompressible as a real, compressed state. */
static void
bench_snapshot_size (PrdStore *store, gsize size, guint count, GString *json)
{
  g_autofree char *prd_id = g_strdup_printf ("prd_snapshot_%" G_GSIZE_FORMAT, size);
  g_autoptr (GAsyncResult) res = NULL;
  g_autoptr (GError) error = NULL;
  int site = new_prd (store, prd_id);
  gint64 clock = 1;

  if (size > 0)
    {
      g_autofree guint32 *data = g_new (guint32, size / 4 + 1);
      g_autoptr (GBytes) state = NULL;
      g_autoptr (GBytes) payload = g_bytes_new_static ("the update the snapshot covers", 30);

      for (gsize i = 0; i < size / 4 + 1; i++)
        data[i] = g_random_int ();
      state = g_bytes_new (data, size);
      prd_store_append_update_async (store, prd_id, site, clock++, "bench", payload, NULL,
                                     result_cb, &res);
      g_assert_cmpint (prd_store_append_update_finish (store, wait_for (&res), &error), ==, 1);
      g_clear_object (&res);
      prd_store_write_snapshot_async (store, prd_id, state, 1, NULL, result_cb, &res);
      g_assert_true (prd_store_write_snapshot_finish (store, wait_for (&res), &error));
      g_clear_object (&res);
    }
  g_string_append_printf (json, "    {\"snapshot_bytes\": %" G_GSIZE_FORMAT ", ", size);
  bench_appends (store, prd_id, site, &clock, count, 64, json);
}

/* The raw cost of one small WAL commit at a synchronous level. */
static double
raw_commits_per_s (const char *dir, const char *level, guint count)
{
  g_autofree char *path = g_build_filename (dir, "raw.db", NULL);
  g_autofree char *pragma = g_strdup_printf ("PRAGMA synchronous = %s", level);
  g_autoptr (sqlite3_stmt) stmt = NULL;
  sqlite3 *db = NULL;
  gint64 start;
  double seconds;

  if (sqlite3_open (path, &db) != SQLITE_OK ||
      sqlite3_exec (db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_exec (db, pragma, NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_exec (db, "CREATE TABLE IF NOT EXISTS t (x BLOB)", NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2 (db, "INSERT INTO t VALUES (randomblob(32))", -1, &stmt, NULL) !=
          SQLITE_OK)
    g_error ("raw sqlite: %s", sqlite3_errmsg (db));

  start = g_get_monotonic_time ();
  for (guint i = 0; i < count; i++)
    {
      /* Autocommit: one transaction (one WAL sync at FULL) per insert. */
      if (sqlite3_step (stmt) != SQLITE_DONE)
        g_error ("raw sqlite: %s", sqlite3_errmsg (db));
      sqlite3_reset (stmt);
    }
  seconds = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
  g_clear_pointer (&stmt, sqlite3_finalize);
  sqlite3_close (db);
  g_unlink (path);
  return count / seconds;
}

static void
remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      g_unlink (child);
    }
  g_rmdir (path);
}

int
main (int argc, char *argv[])
{
  g_autoptr (GOptionContext) context = g_option_context_new ("- benchmark the SQLite store");
  g_autoptr (GError) error = NULL;
  g_autofree char *base = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autoptr (PrdStore) store = NULL;
  g_autoptr (GAsyncResult) res = NULL;
  g_autoptr (GString) json = g_string_new ("{\n");
  int count = 2000;
  const guint windows[] = { 1, 8, 64, 512 };
  const gsize snapshot_sizes[] = { 0, 64 * 1024, 256 * 1024, 1024 * 1024 };
  gint64 clock = 1;
  int site;
  GOptionEntry entries[] = {
    { "count", 'n', 0, G_OPTION_ARG_INT, &count, "Appends per run (default 2000)", "N" },
    { "dir", 'd', 0, G_OPTION_ARG_FILENAME, &base, "Folder for the database (default: tmp)",
      "DIR" },
    { NULL },
  };

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  if (count < 1)
    count = 1;

  if (base != NULL)
    {
      dir = g_build_filename (base, "bench-store-XXXXXX", NULL);
      if (g_mkdtemp (dir) == NULL)
        g_error ("Cannot create a folder in %s: %s", base, g_strerror (errno));
    }
  else
    {
      dir = g_dir_make_tmp ("bench-store-XXXXXX", &error);
      if (dir == NULL)
        g_error ("Cannot create a folder: %s", error->message);
    }
  path = g_build_filename (dir, "prdhub.db", NULL);

  prd_sqlite_store_new_async (path, NULL, result_cb, &res);
  store = PRD_STORE (prd_sqlite_store_new_finish (wait_for (&res), &error));
  if (store == NULL)
    g_error ("open: %s", error->message);
  g_clear_object (&res);

  site = new_prd (store, "prd_bench");

  g_string_append_printf (json, "  \"database\": \"%s\",\n  \"synchronous\": \"FULL\",\n", path);
  g_string_append (json, "  \"appends\": [\n");
  for (gsize i = 0; i < G_N_ELEMENTS (windows); i++)
    {
      g_string_append (json, "    {");
      bench_appends (store, "prd_bench", site, &clock, (guint) count, windows[i], json);
      g_string_append (json, i + 1 < G_N_ELEMENTS (windows) ? ",\n" : "\n");
    }
  g_string_append (json, "  ],\n  \"appends_by_snapshot_size\": [\n");
  for (gsize i = 0; i < G_N_ELEMENTS (snapshot_sizes); i++)
    {
      bench_snapshot_size (store, snapshot_sizes[i], (guint) count, json);
      g_string_append (json, i + 1 < G_N_ELEMENTS (snapshot_sizes) ? ",\n" : "\n");
    }
  g_string_append (json, "  ],\n");

  prd_store_close_async (store, NULL, result_cb, &res);
  g_assert_true (prd_store_close_finish (store, wait_for (&res), &error));
  g_clear_object (&res);

  g_string_append_printf (json,
                          "  \"raw_wal_commits_per_s\": {\"FULL\": %.0f, \"NORMAL\": %.0f}\n}\n",
                          raw_commits_per_s (dir, "FULL", (guint) count),
                          raw_commits_per_s (dir, "NORMAL", (guint) count));
  fputs (json->str, stdout);

  remove_tree (dir);
  return 0;
}
