/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Durability under kill -9: a child copy of this program appends updates
 * from several simulated clients and prints every update the store
 * acknowledged; the parent SIGKILLs it mid-stream, reopens the database and
 * checks that every acknowledged update is there and that the log is whole.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>

#include <gio/gio.h>

#include "prd-test-harness.h"

#define PRD_ID         "prd_crash"
#define N_CLIENTS      4
#define IN_FLIGHT      8      /* unacknowledged appends per client */
#define CHILD_MAX_ACKS 200000 /* a child that is never killed stops here */

/* Child */

typedef struct
{
  PrdStore *store;
  char *user_id;
  int site;
  gint64 next_clock;
} Client;

typedef struct
{
  Client *client;
  gint64 clock;
} Pending;

static guint child_acks;

static GBytes *
crash_payload (int site, gint64 clock)
{
  char *text = g_strdup_printf ("site %d clock %" G_GINT64_FORMAT, site, clock);

  return g_bytes_new_take (text, strlen (text));
}

static void child_append (Client *client);

static void
child_append_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autofree Pending *pending = data;
  g_autoptr (GError) error = NULL;
  gint64 seq = prd_store_append_update_finish (PRD_STORE (source), result, &error);

  if (seq < 0)
    {
      g_printerr ("append failed: %s\n", error->message);
      exit (2);
    }
  /* Acknowledged: only now may anyone rely on it. */
  printf ("ack %" G_GINT64_FORMAT " %d %" G_GINT64_FORMAT "\n", seq, pending->client->site,
          pending->clock);
  fflush (stdout);

  if (++child_acks >= CHILD_MAX_ACKS)
    exit (0);
  child_append (pending->client);
}

static void
child_append (Client *client)
{
  Pending *pending = g_new0 (Pending, 1);
  g_autoptr (GBytes) payload = NULL;

  pending->client = client;
  pending->clock = client->next_clock++;
  payload = crash_payload (client->site, pending->clock);
  prd_store_append_update_async (client->store, PRD_ID, client->site, pending->clock,
                                 client->user_id, payload, NULL, child_append_cb, pending);
}

static int
run_child (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdStore) store = prd_test_store_open (path, &error);
  g_autoptr (PrdStoreInfo) info = NULL;
  Client clients[N_CLIENTS];

  if (store == NULL)
    g_error ("open: %s", error->message);

  info = prd_test_store_create (store, PRD_ID, "acme", "Crash test", "client-0", &error);
  if (info == NULL && !g_error_matches (error, PRD_ERROR, PRD_ERROR_ALREADY_EXISTS))
    g_error ("create: %s", error->message);
  g_clear_error (&error);

  for (int i = 0; i < N_CLIENTS; i++)
    {
      g_autoptr (PrdStoreSite) site = NULL;

      clients[i].store = store;
      clients[i].user_id = g_strdup_printf ("client-%d", i);
      site = prd_test_store_acquire_site (store, PRD_ID, clients[i].user_id, NULL, 0, &error);
      if (site == NULL)
        g_error ("acquire: %s", error->message);
      /* A restarted client continues from its site's stored clock. */
      clients[i].site = site->site;
      clients[i].next_clock = site->clock + 1;
    }

  for (int i = 0; i < N_CLIENTS; i++)
    for (int j = 0; j < IN_FLIGHT; j++)
      child_append (&clients[i]);

  for (;;)
    g_main_context_iteration (NULL, TRUE);
  return 0;
}

/* Parent */

typedef struct
{
  gint64 seq;
  int site;
  gint64 clock;
} Ack;

static void
run_round (const char *path, guint kill_after, GArray *acks)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *self = g_file_read_link ("/proc/self/exe", &error);
  g_autoptr (GSubprocess) child = NULL;
  g_autoptr (GDataInputStream) in = NULL;
  guint n = 0;
  char *line;

  g_assert_no_error (error);
  child =
      g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, self, "--crash-child", path, NULL);
  g_assert_no_error (error);
  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (child));

  /* Keep reading after the kill: lines written before it were acknowledged. */
  while ((line = g_data_input_stream_read_line (in, NULL, NULL, &error)) != NULL)
    {
      Ack ack;

      g_assert_cmpint (sscanf (line, "ack %" G_GINT64_FORMAT " %d %" G_GINT64_FORMAT, &ack.seq,
                               &ack.site, &ack.clock),
                       ==, 3);
      g_free (line);
      g_array_append_val (acks, ack);
      if (++n == kill_after)
        g_subprocess_force_exit (child);
    }
  g_assert_no_error (error);
  g_subprocess_wait (child, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_signaled (child));
  g_assert_cmpint (g_subprocess_get_term_sig (child), ==, SIGKILL);
  g_test_message ("child killed after %u acknowledged updates (%u read before the kill)", n,
                  kill_after);
}

static void
verify (const char *path, GArray *acks)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdStore) store = prd_test_store_open (path, &error);
  g_autoptr (PrdStoreDocument) doc = NULL;
  g_autoptr (GPtrArray) sites = NULL;
  g_autoptr (GAsyncResult) res = NULL;
  g_autoptr (sqlite3) db = NULL;
  g_autoptr (sqlite3_stmt) stmt = NULL;
  gint64 max_clock[N_CLIENTS] = { 0 };

  g_assert_no_error (error);

  /* load() fails with CORRUPT_DATA on any hole in the log. */
  doc = prd_test_store_load (store, PRD_ID, &error);
  g_assert_no_error (error);
  g_assert_cmpint (doc->info->last_seq, ==, doc->updates->len);

  for (guint i = 0; i < acks->len; i++)
    {
      Ack *ack = &g_array_index (acks, Ack, i);
      PrdStoreUpdate *u;
      g_autoptr (GBytes) expected = crash_payload (ack->site, ack->clock);

      g_assert_cmpint (ack->seq, >=, 1);
      g_assert_cmpint (ack->seq, <=, doc->updates->len);
      u = doc->updates->pdata[ack->seq - 1];
      g_assert_cmpint (u->seq, ==, ack->seq);
      g_assert_cmpint (u->site, ==, ack->site);
      g_assert_cmpint (u->clock, ==, ack->clock);
      g_assert_true (g_bytes_equal (u->payload, expected));
    }

  /* Each site's clocks are gap-free: a committed update implies every
   * earlier one of the same client. */
  for (guint i = 0; i < doc->updates->len; i++)
    {
      PrdStoreUpdate *u = doc->updates->pdata[i];
      g_autoptr (GBytes) expected = crash_payload (u->site, u->clock);

      g_assert_cmpint (u->site, >=, 0);
      g_assert_cmpint (u->site, <, N_CLIENTS);
      g_assert_cmpint (u->clock, ==, max_clock[u->site] + 1);
      max_clock[u->site] = u->clock;
      g_assert_true (g_bytes_equal (u->payload, expected));
    }

  /* The sites remember where their clients got to. */
  res = PRD_TEST_WAIT_FOR (prd_store_list_sites_async, store, PRD_ID, NULL);
  sites = prd_store_list_sites_finish (store, res, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (sites->len, ==, N_CLIENTS);
  for (guint i = 0; i < sites->len; i++)
    {
      PrdStoreSite *site = sites->pdata[i];

      g_assert_cmpint (site->clock, ==, max_clock[site->site]);
    }

  prd_test_store_close (store);

  db = prd_test_sqlite_open_ro (path);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &stmt, NULL), ==,
                   SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 0), ==, "ok");
}

static void
test_crash (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("prd-store-crash-XXXXXX", &error);
  g_autofree char *path = NULL;
  g_autoptr (GArray) acks = g_array_new (FALSE, FALSE, sizeof (Ack));
  /* Different kill points; later rounds restart on the same database. */
  const guint kill_after[] = { 150, 401, 777 };

  g_assert_no_error (error);
  path = g_build_filename (dir, "prdhub.db", NULL);

  for (gsize round = 0; round < G_N_ELEMENTS (kill_after); round++)
    {
      run_round (path, kill_after[round], acks);
      verify (path, acks);
    }
  g_assert_cmpuint (acks->len, >=, 150 + 401 + 777);

  prd_test_remove_tree (dir);
}

/* Another process holding the write lock past the busy timeout: the
 * requests fail with a clear error and nothing is acknowledged; once the
 * lock is gone the store works again. */
static void
test_locked (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("prd-store-lock-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "prdhub.db", NULL);
  g_autoptr (PrdStore) store = NULL;
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autoptr (PrdStoreSite) site = NULL;
  g_autoptr (PrdStoreDocument) doc = NULL;
  g_autoptr (GBytes) p1 = crash_payload (0, 1);
  g_autoptr (GBytes) p2 = crash_payload (0, 2);
  sqlite3 *other = NULL;

  store = prd_test_store_open (path, &error);
  g_assert_no_error (error);
  info = prd_test_store_create (store, PRD_ID, "acme", "Locked", "alice", &error);
  g_assert_no_error (error);
  site = prd_test_store_acquire_site (store, PRD_ID, "alice", NULL, 0, &error);
  g_assert_no_error (error);

  g_assert_cmpint (sqlite3_open (path, &other), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), ==, SQLITE_OK);
  g_assert_cmpint (prd_test_store_append (store, PRD_ID, site->site, 1, "alice", p1, &error), ==,
                   -1);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_STORAGE);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_cmpint (sqlite3_exec (other, "COMMIT", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (other);

  g_assert_cmpint (prd_test_store_append (store, PRD_ID, site->site, 2, "alice", p2, &error), ==,
                   1);
  g_assert_no_error (error);
  doc = prd_test_store_load (store, PRD_ID, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (doc->updates->len, ==, 1);
  prd_test_store_close (store);
  prd_test_remove_tree (dir);
}

int
main (int argc, char *argv[])
{
  if (argc == 3 && g_str_equal (argv[1], "--crash-child"))
    return run_child (argv[2]);

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/prd/store/crash/kill-9", test_crash);
  g_test_add_func ("/prd/store/crash/locked-by-other-process", test_locked);
  return g_test_run ();
}
