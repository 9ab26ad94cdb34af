/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The git integration (PrdGitRemote): versions committed with PrdGitRepo
 * are pushed to bare repositories over file:// and over smart HTTP (Debian's
 * git-http-backend behind tests/git-http-server.py with Basic auth), and
 * checked with the stock git command on the receiving side; a remote that
 * diverged, a ref a hook refuses, wrong credentials, and a host that
 * accepts and never answers (the watchdog ends the push); the settings.
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "prd-error.h"
#include "prd-git-remote.h"
#include "prd-git-repo.h"
#include "prd-test-harness.h"

typedef struct
{
  char *dir;
  char *repo_path;
  PrdGitRepo *repo;
  GSubprocess *http; /* (nullable) */
  guint http_port;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = prd_test_make_tmp_dir ("prd-git-push-XXXXXX");
  f->repo_path = g_build_filename (f->dir, "versions.git", NULL);
  f->repo = prd_git_repo_new (f->repo_path);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  if (f->http != NULL)
    {
      g_subprocess_force_exit (f->http);
      g_subprocess_wait (f->http, NULL, NULL);
      g_clear_object (&f->http);
    }
  g_clear_object (&f->repo);
  prd_test_remove_tree (f->dir);
  g_free (f->repo_path);
  g_free (f->dir);
}

/* Runs git with @args (NULL-terminated) in @dir; asserts it succeeds;
 * returns its output, stripped. */
static char *
git_full (const char *dir, gboolean must_succeed, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = 0;
  const char *arg;
  va_list args;
  g_autoptr (GError) error = NULL;
  const char *env[] = { "GIT_CONFIG_NOSYSTEM=1", "HOME=/nonexistent",
                        "GIT_AUTHOR_NAME=t",     "GIT_AUTHOR_EMAIL=t@t",
                        "GIT_COMMITTER_NAME=t",  "GIT_COMMITTER_EMAIL=t@t",
                        "PATH=/usr/bin:/bin",    NULL };

  g_ptr_array_add (argv, (gpointer) "git");
  va_start (args, must_succeed);
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (dir, (char **) argv->pdata, (char **) env, G_SPAWN_SEARCH_PATH, NULL,
                               NULL, &out, &err, &status, &error));
  g_assert_no_error (error);
  if (must_succeed && !g_spawn_check_wait_status (status, NULL))
    g_error ("git %s failed: %s", (char *) argv->pdata[1], err);
  return g_strdup (g_strstrip (out));
}

#define git(dir, ...) git_full ((dir), TRUE, __VA_ARGS__, NULL)

static char *
make_remote (Fixture *f, const char *name)
{
  g_autofree char *path = g_build_filename (f->dir, name, NULL);
  g_autofree char *out = git (f->dir, "init", "--bare", "-q", "-b", "main", path);

  return g_steal_pointer (&path);
}

static void
commit_version (Fixture *f, const char *prd_id, const char *version, const char *text)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *message = g_strdup_printf ("%s %s", prd_id, version);
  g_autofree char *hash = NULL;

  result = PRD_TEST_WAIT_FOR (prd_git_repo_commit_async, f->repo, prd_id, version, text, message,
                              "Ada", "ada@org", g_get_real_time (), NULL);
  hash = prd_git_repo_commit_finish (f->repo, result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (hash);
}

static PrdGitRemote *
make_git_remote_va (
    const char *org, const char *url, const char *timeout, const char *ca_file, va_list args)
{
  g_autoptr (JsonObject) settings = json_object_new ();
  g_autoptr (GHashTable) secrets = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) set = g_hash_table_new (g_str_hash, g_str_equal);
  PrdGitRemote *remote = g_object_new (PRD_TYPE_GIT_REMOTE, NULL);
  const char *key;

  json_object_set_string_member (settings, "remoteUrl", url);
  if (ca_file != NULL)
    json_object_set_string_member (settings, "caFile", ca_file);
  json_object_set_string_member (settings, "branch", "main");
  if (timeout != NULL)
    json_object_set_int_member (settings, "timeoutSeconds", g_ascii_strtoll (timeout, NULL, 10));
  while ((key = va_arg (args, const char *)) != NULL)
    {
      g_hash_table_insert (secrets, (gpointer) key, va_arg (args, gpointer));
      g_hash_table_add (set, (gpointer) key);
    }
  g_assert_true (prd_integration_check_settings (PRD_INTEGRATION (remote), settings, set, &error));
  g_assert_no_error (error);
  g_assert_true (
      prd_integration_setup (PRD_INTEGRATION (remote), org, settings, secrets, NULL, &error));
  g_assert_no_error (error);
  return remote;
}

static PrdGitRemote *
make_git_remote (const char *org, const char *url, const char *timeout, ...)
{
  PrdGitRemote *remote;
  va_list args;

  va_start (args, timeout);
  remote = make_git_remote_va (org, url, timeout, NULL, args);
  va_end (args);
  return remote;
}

static PrdGitRemote *
make_git_remote_full (
    const char *org, const char *url, const char *timeout, const char *ca_file, ...)
{
  PrdGitRemote *remote;
  va_list args;

  va_start (args, ca_file);
  remote = make_git_remote_va (org, url, timeout, ca_file, args);
  va_end (args);
  return remote;
}

static PrdGitPushResult *
push (Fixture *f, PrdGitRemote *remote, const char *const *prds, GError **error)
{
  g_autoptr (GAsyncResult) result =
      PRD_TEST_WAIT_FOR (prd_git_remote_push_async, remote, f->repo_path, prds, NULL);

  return prd_git_remote_push_finish (remote, result, error);
}

static void start_http (Fixture *f, const char *user, const char *password);

static const char *const org_a_prds[] = { "prd_alpha", NULL };

/* Two organizations' versions in one repository; each push carries only
 * the organization's PRDs and tags, and grows its history fast-forward. */
static void
test_file_push (Fixture *f, gconstpointer data)
{
  g_autofree char *remote_path = make_remote (f, "a.git");
  g_autofree char *url = g_strconcat ("file://", remote_path, NULL);
  g_autoptr (PrdGitRemote) remote = make_git_remote ("org-a", url, NULL, NULL);
  g_autoptr (PrdGitPushResult) first = NULL;
  g_autoptr (PrdGitPushResult) second = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *files = NULL;
  g_autofree char *tags = NULL;
  g_autofree char *count = NULL;
  g_autofree char *head = NULL;
  g_autofree char *type = NULL;
  g_autofree char *content = NULL;
  g_autofree char *subject = NULL;
  g_autofree char *fsck = NULL;

  /* nothing yet: a success with no commit */
  first = push (f, remote, org_a_prds, &error);
  g_assert_no_error (error);
  g_assert_null (first->commit);
  g_clear_pointer (&first, prd_git_push_result_free);

  commit_version (f, "prd_alpha", "1.0.0", "# Alpha\n");
  commit_version (f, "prd_beta", "1.0.0", "# Beta, another organization\n");
  first = push (f, remote, org_a_prds, &error);
  g_assert_no_error (error);
  g_assert_nonnull (first->commit);
  g_assert_cmpstr (first->branch, ==, "refs/heads/main");
  g_assert_cmpuint (first->n_tags, ==, 1);

  files = git (remote_path, "ls-tree", "-r", "--name-only", "main");
  g_assert_cmpstr (files, ==, "prd_alpha.md");
  tags = git (remote_path, "tag", "-l");
  g_assert_cmpstr (tags, ==, "prd_alpha/v1.0.0");
  type = git (remote_path, "cat-file", "-t", "prd_alpha/v1.0.0");
  g_assert_cmpstr (type, ==, "tag");
  head = git (remote_path, "rev-parse", "main");
  g_assert_cmpstr (head, ==, first->commit);
  subject = git (remote_path, "log", "-1", "--format=%an %s", "prd_alpha/v1.0.0");
  g_assert_cmpstr (subject, ==, "Ada prd_alpha 1.0.0");

  commit_version (f, "prd_beta", "1.1.0", "# Beta 2\n");
  commit_version (f, "prd_alpha", "1.1.0", "# Alpha 2\n");
  second = push (f, remote, org_a_prds, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (second->n_tags, ==, 2);
  g_assert_cmpstr (second->commit, !=, first->commit);
  count = git (remote_path, "rev-list", "--count", "main");
  g_assert_cmpstr (count, ==, "2");
  g_free (head);
  head = git (remote_path, "rev-parse", "main~1");
  g_assert_cmpstr (head, ==, first->commit);
  content = git (remote_path, "show", "prd_alpha/v1.1.0:prd_alpha.md");
  g_assert_cmpstr (content, ==, "# Alpha 2");
  g_free (tags);
  tags = git (remote_path, "tag", "-l");
  g_assert_cmpstr (tags, ==, "prd_alpha/v1.0.0\nprd_alpha/v1.1.0");
  fsck = git (remote_path, "fsck", "--strict");

  /* the branch and the new tag changed; the first tag was there already */
  g_assert_cmpuint (second->n_updated, ==, 2);

  /* a push with nothing new changes nothing */
  g_clear_pointer (&first, prd_git_push_result_free);
  first = push (f, remote, org_a_prds, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (first->commit, ==, second->commit);
  g_assert_cmpuint (first->n_tags, ==, 2);
  g_assert_cmpuint (first->n_updated, ==, 0);
  g_assert_cmpint (prd_integration_get_status (PRD_INTEGRATION (remote)), ==,
                   PRD_INTEGRATION_CONNECTED);
}

/* A deleted PRD (its tags removed, its file committed away on the hub):
 * the next push removes its file from the branch and its tags from the
 * remote, and keeps the organization's other PRDs. */
static void
test_deleted_prd (Fixture *f, gconstpointer data)
{
  static const char *const prds[] = { "prd_alpha", "prd_gamma", NULL };
  static const char *const after[] = { "prd_gamma", NULL };
  g_autofree char *remote_path = make_remote (f, "a.git");
  g_autofree char *url = g_strconcat ("file://", remote_path, NULL);
  g_autoptr (PrdGitRemote) remote = make_git_remote ("org-a", url, NULL, NULL);
  g_autoptr (PrdGitPushResult) result = NULL;
  g_autoptr (GAsyncResult) purged = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *files = NULL;
  g_autofree char *tags = NULL;
  g_autofree char *subject = NULL;
  g_autofree char *count = NULL;
  guint n_tags = 0;

  commit_version (f, "prd_alpha", "1.0.0", "# Alpha\n");
  commit_version (f, "prd_gamma", "1.0.0", "# Gamma\n");
  commit_version (f, "prd_beta", "1.0.0", "# Beta, another organization\n");
  result = push (f, remote, prds, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (result->n_tags, ==, 2);
  g_clear_pointer (&result, prd_git_push_result_free);

  purged = PRD_TEST_WAIT_FOR (prd_git_repo_purge_async, f->repo, "prd_alpha", "Delete prd_alpha",
                              "Ada", "ada@org", g_get_real_time (), NULL);
  g_assert_true (prd_git_repo_purge_finish (f->repo, purged, &n_tags, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_tags, ==, 1);

  result = push (f, remote, after, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (result->n_tags, ==, 1);
  files = git (remote_path, "ls-tree", "-r", "--name-only", "main");
  g_assert_cmpstr (files, ==, "prd_gamma.md");
  tags = git (remote_path, "tag", "-l");
  g_assert_cmpstr (tags, ==, "prd_gamma/v1.0.0");
  subject = git (remote_path, "log", "-1", "--format=%s", "main");
  g_assert_cmpstr (subject, ==, "Delete prd_alpha");
  count = git (remote_path, "rev-list", "--count", "main");
  g_assert_cmpstr (count, ==, "3");
  g_clear_pointer (&result, prd_git_push_result_free);

  /* again: nothing left to delete, nothing changes */
  result = push (f, remote, after, &error);
  g_assert_no_error (error);
  g_free (count);
  count = git (remote_path, "rev-list", "--count", "main");
  g_assert_cmpstr (count, ==, "3");
}

/* A version whose tag the export did not find when it walked past its
 * commit (the tag was written after the branch moved, or the PRD was
 * listed before it was created): the next push still sends it, once. */
static void
test_late_versions (Fixture *f, gconstpointer data)
{
  static const char *const both[] = { "prd_alpha", "prd_new", NULL };
  g_autofree char *remote_path = make_remote (f, "a.git");
  g_autofree char *url = g_strconcat ("file://", remote_path, NULL);
  g_autoptr (PrdGitRemote) remote = make_git_remote ("org-a", url, NULL, NULL);
  g_autoptr (PrdGitPushResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *tag_oid = NULL;
  g_autofree char *out = NULL;
  g_autofree char *tags = NULL;
  g_autofree char *files = NULL;
  g_autofree char *content = NULL;
  g_autofree char *count = NULL;

  /* prd_new is created and versioned after the PRDs were listed */
  commit_version (f, "prd_alpha", "1.0.0", "# Alpha\n");
  commit_version (f, "prd_new", "0.2.0", "# New\n");
  result = push (f, remote, org_a_prds, &error);
  g_assert_no_error (error);
  g_clear_pointer (&result, prd_git_push_result_free);

  /* alpha's 1.1.0 is on the branch, its tag not yet written */
  commit_version (f, "prd_alpha", "1.1.0", "# Alpha 2\n");
  tag_oid = git (f->repo_path, "rev-parse", "refs/tags/prd_alpha/v1.1.0");
  out = git (f->repo_path, "update-ref", "-d", "refs/tags/prd_alpha/v1.1.0");
  result = push (f, remote, both, &error);
  g_assert_no_error (error);
  g_clear_pointer (&result, prd_git_push_result_free);
  g_free (out);
  out = git (f->repo_path, "update-ref", "refs/tags/prd_alpha/v1.1.0", tag_oid);

  /* main has not moved since: both late versions go now */
  result = push (f, remote, both, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (result->n_tags, ==, 3);
  tags = git (remote_path, "tag", "-l");
  g_assert_cmpstr (tags, ==, "prd_alpha/v1.0.0\nprd_alpha/v1.1.0\nprd_new/v0.2.0");
  files = git (remote_path, "ls-tree", "-r", "--name-only", "main");
  g_assert_cmpstr (files, ==, "prd_alpha.md\nprd_new.md");
  content = git (remote_path, "show", "main:prd_alpha.md");
  g_assert_cmpstr (content, ==, "# Alpha 2");
  g_free (content);
  content = git (remote_path, "show", "prd_new/v0.2.0:prd_new.md");
  g_assert_cmpstr (content, ==, "# New");
  count = git (remote_path, "rev-list", "--count", "main");
  g_assert_cmpstr (count, ==, "3");

  /* exactly once */
  g_clear_pointer (&result, prd_git_push_result_free);
  result = push (f, remote, both, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (result->n_updated, ==, 0);
  g_free (count);
  count = git (remote_path, "rev-list", "--count", "main");
  g_assert_cmpstr (count, ==, "3");
}

/* A tag no record names (a crash came between the commit and the
 * database): a commit for that version fails and leaves it where it is
 * (it may have been pushed); the next number works and pushes. */
static void
test_tag_never_moved (Fixture *f, gconstpointer data)
{
  g_autofree char *remote_path = make_remote (f, "a.git");
  g_autofree char *url = g_strconcat ("file://", remote_path, NULL);
  g_autoptr (PrdGitRemote) remote = make_git_remote ("org-a", url, NULL, NULL);
  g_autoptr (PrdGitPushResult) result = NULL;
  g_autoptr (GAsyncResult) committed = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *before = NULL;
  g_autofree char *main_before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *main_after = NULL;
  g_autofree char *hash = NULL;
  g_autofree char *tags = NULL;

  commit_version (f, "prd_alpha", "1.0.0", "# Alpha\n");
  result = push (f, remote, org_a_prds, &error);
  g_assert_no_error (error);
  g_clear_pointer (&result, prd_git_push_result_free);
  before = git (f->repo_path, "rev-parse", "refs/tags/prd_alpha/v1.0.0");
  main_before = git (f->repo_path, "rev-parse", "main");

  committed =
      PRD_TEST_WAIT_FOR (prd_git_repo_commit_async, f->repo, "prd_alpha", "1.0.0",
                         "# Alpha again\n", "again", "Ada", "ada@org", g_get_real_time (), NULL);
  hash = prd_git_repo_commit_finish (f->repo, committed, &error);
  g_assert_null (hash);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_ALREADY_EXISTS);
  g_clear_error (&error);
  after = git (f->repo_path, "rev-parse", "refs/tags/prd_alpha/v1.0.0");
  g_assert_cmpstr (after, ==, before);
  main_after = git (f->repo_path, "rev-parse", "main");
  g_assert_cmpstr (main_after, ==, main_before);

  commit_version (f, "prd_alpha", "1.1.0", "# Alpha again\n");
  result = push (f, remote, org_a_prds, &error);
  g_assert_no_error (error);
  tags = git (remote_path, "tag", "-l");
  g_assert_cmpstr (tags, ==, "prd_alpha/v1.0.0\nprd_alpha/v1.1.0");
}

/* The remote's branch moved elsewhere: the push fails, nothing is forced. */
static void
test_diverged (Fixture *f, gconstpointer data)
{
  g_autofree char *remote_path = make_remote (f, "a.git");
  g_autofree char *url = g_strconcat ("file://", remote_path, NULL);
  g_autoptr (PrdGitRemote) remote = make_git_remote ("org-a", url, NULL, NULL);
  g_autoptr (PrdGitPushResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *tree = NULL;
  g_autofree char *other = NULL;
  g_autofree char *out = NULL;
  g_autofree char *head = NULL;

  commit_version (f, "prd_alpha", "1.0.0", "# Alpha\n");
  result = push (f, remote, org_a_prds, &error);
  g_assert_no_error (error);
  g_clear_pointer (&result, prd_git_push_result_free);

  /* someone commits on the remote's main */
  tree = git (remote_path, "rev-parse", "main^{tree}");
  other = git (remote_path, "commit-tree", tree, "-p", "main", "-m", "edited elsewhere");
  out = git (remote_path, "update-ref", "refs/heads/main", other);

  commit_version (f, "prd_alpha", "1.1.0", "# Alpha 2\n");
  result = push (f, remote, org_a_prds, &error);
  g_assert_null (result);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR);
  g_assert_nonnull (strstr (error->message, "never forces"));
  head = git (remote_path, "rev-parse", "main");
  g_assert_cmpstr (head, ==, other);
  g_assert_cmpint (prd_integration_get_status (PRD_INTEGRATION (remote)), ==,
                   PRD_INTEGRATION_ERROR);
  g_assert_cmpstr (prd_integration_get_last_error (PRD_INTEGRATION (remote)), ==, error->message);
}

/* A hook on the remote (over smart HTTP: libgit2's file:// transport runs
 * no hooks) refuses the branch: the remote's message is the
 * error. */
static void
test_refused_by_hook (Fixture *f, gconstpointer data)
{
  g_autofree char *remote_path = make_remote (f, "a.git");
  g_autofree char *url = NULL;
  g_autofree char *hook = g_build_filename (remote_path, "hooks", "update", NULL);
  g_autoptr (PrdGitRemote) remote = NULL;
  g_autoptr (PrdGitPushResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *branches = NULL;

  g_assert_true (g_file_set_contents (
      hook, "#!/bin/sh\ncase \"$1\" in refs/heads/*) echo 'main is locked' >&2; exit 1;; esac\n",
      -1, NULL));
  g_assert_cmpint (g_chmod (hook, 0755), ==, 0);
  start_http (f, "pusher", "token");
  url = g_strdup_printf ("http://127.0.0.1:%u/a.git", f->http_port);
  remote = make_git_remote ("org-a", url, NULL, "username", "pusher", "token", "token", NULL);
  commit_version (f, "prd_alpha", "1.0.0", "# Alpha\n");
  result = push (f, remote, org_a_prds, &error);
  g_assert_null (result);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR);
  g_assert_nonnull (strstr (error->message, "refs/heads/main"));
  g_assert_nonnull (strstr (error->message, "hook declined"));
  branches = git (remote_path, "branch", "--list");
  g_assert_cmpstr (branches, ==, "");
}

static void
start_server (Fixture *f, const char *user, const char *password, const char *cert, const char *key)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDataInputStream) lines = NULL;
  g_autofree char *line = NULL;
  const char *script = g_getenv ("PRD_TEST_GIT_HTTP_SERVER");

  g_assert_nonnull (script);
  f->http = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, "/usr/bin/python3", script,
                              f->dir, user, password, cert, key, NULL);
  g_assert_no_error (error);
  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (f->http));
  line = g_data_input_stream_read_line (lines, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  f->http_port = (guint) g_ascii_strtoull (line, NULL, 10);
  g_assert_cmpuint (f->http_port, >, 0);
}

static void
start_http (Fixture *f, const char *user, const char *password)
{
  start_server (f, user, password, NULL, NULL);
}

static void
openssl (Fixture *f, const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *err = NULL;
  g_autoptr (GError) error = NULL;
  int status = 0;

  g_ptr_array_add (argv, (gpointer) "openssl");
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (f->dir, (char **) argv->pdata, NULL,
                               G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                               &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("openssl %s failed: %s", args[0], err);
}

/* HTTPS with a certificate of a test CA: refused by default, accepted with
 * caFile naming that CA. */
static void
test_https_ca_file (Fixture *f, gconstpointer data)
{
  static const char *const make_ca[] = { "req",
                                         "-x509",
                                         "-newkey",
                                         "rsa:2048",
                                         "-nodes",
                                         "-keyout",
                                         "ca.key",
                                         "-out",
                                         "ca.pem",
                                         "-days",
                                         "2",
                                         "-subj",
                                         "/CN=prdhub test CA",
                                         NULL };
  static const char *const make_request[] = { "req",     "-newkey",       "rsa:2048", "-nodes",
                                              "-keyout", "server.key",    "-out",     "server.csr",
                                              "-subj",   "/CN=localhost", NULL };
  static const char *const sign[] = { "x509",       "-req",       "-in",
                                      "server.csr", "-CA",        "ca.pem",
                                      "-CAkey",     "ca.key",     "-CAcreateserial",
                                      "-out",       "server.pem", "-days",
                                      "2",          "-extfile",   "ext.cnf",
                                      NULL };
  g_autofree char *remote_path = make_remote (f, "a.git");
  g_autofree char *ext = g_build_filename (f->dir, "ext.cnf", NULL);
  g_autofree char *cert = g_build_filename (f->dir, "server.pem", NULL);
  g_autofree char *key = g_build_filename (f->dir, "server.key", NULL);
  g_autofree char *ca = g_build_filename (f->dir, "ca.pem", NULL);
  g_autofree char *url = NULL;
  g_autoptr (PrdGitRemote) untrusted = NULL;
  g_autoptr (PrdGitRemote) trusted = NULL;
  g_autoptr (PrdGitPushResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *head = NULL;

  g_assert_true (g_file_set_contents (ext, "subjectAltName=DNS:localhost\n", -1, NULL));
  openssl (f, make_ca);
  openssl (f, make_request);
  openssl (f, sign);
  start_server (f, "pusher", "token", cert, key);
  url = g_strdup_printf ("https://localhost:%u/a.git", f->http_port);
  commit_version (f, "prd_alpha", "1.0.0", "# Alpha\n");

  untrusted = make_git_remote ("org-a", url, NULL, "username", "pusher", "token", "token", NULL);
  result = push (f, untrusted, org_a_prds, &error);
  g_assert_null (result);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR);
  g_assert_nonnull (strstr (error->message, "not trusted"));
  g_clear_error (&error);

  /* A caFile that is missing and one that holds no certificate fail the
   * same way: which files the hub's machine has is none of the
   * organization's business. */
  {
    g_autofree char *missing = g_build_filename (f->dir, "missing.pem", NULL);
    const char *const files[] = { missing, ext };
    g_autofree char *first = NULL;

    for (guint i = 0; i < G_N_ELEMENTS (files); i++)
      {
        g_autoptr (PrdGitRemote) wrong = make_git_remote_full (
            "org-a", url, NULL, files[i], "username", "pusher", "token", "token", NULL);
        g_autoptr (PrdGitPushResult) none = push (f, wrong, org_a_prds, &error);

        g_assert_null (none);
        g_assert_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR);
        g_assert_nonnull (strstr (error->message, "caFile is not a readable file"));
        g_assert_null (strstr (error->message, files[i]));
        if (first == NULL)
          first = g_strdup (error->message);
        g_assert_cmpstr (error->message, ==, first);
        g_clear_error (&error);
      }
  }

  trusted =
      make_git_remote_full ("org-a", url, NULL, ca, "username", "pusher", "token", "token", NULL);
  result = push (f, trusted, org_a_prds, &error);
  g_assert_no_error (error);
  head = git (remote_path, "rev-parse", "main");
  g_assert_cmpstr (head, ==, result->commit);
}

/* Smart HTTP with Basic auth: the token opens it, a wrong one does not. */
static void
test_http_push (Fixture *f, gconstpointer data)
{
  g_autofree char *remote_path = make_remote (f, "a.git");
  g_autofree char *url = NULL;
  g_autoptr (PrdGitRemote) remote = NULL;
  g_autoptr (PrdGitRemote) wrong = NULL;
  g_autoptr (PrdGitRemote) anonymous = NULL;
  g_autoptr (PrdGitPushResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *head = NULL;
  g_autofree char *tags = NULL;
  g_autofree char *files = NULL;

  start_http (f, "pusher", "s3cret-token");
  url = g_strdup_printf ("http://127.0.0.1:%u/a.git", f->http_port);
  commit_version (f, "prd_alpha", "1.0.0", "# Alpha\n");
  commit_version (f, "prd_beta", "1.0.0", "# Beta\n");

  wrong = make_git_remote ("org-a", url, NULL, "username", "pusher", "token", "wrong", NULL);
  result = push (f, wrong, org_a_prds, &error);
  g_assert_null (result);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR);
  g_assert_nonnull (strstr (error->message, "refused the credentials"));
  g_assert_null (strstr (error->message, "wrong"));
  g_clear_error (&error);

  anonymous = make_git_remote ("org-a", url, NULL, NULL);
  result = push (f, anonymous, org_a_prds, &error);
  g_assert_null (result);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR);
  g_assert_nonnull (strstr (error->message, "none are configured"));
  g_clear_error (&error);
  head = git_full (remote_path, FALSE, "rev-parse", "--verify", "-q", "main", NULL);
  g_assert_cmpstr (head, ==, "");

  remote =
      make_git_remote ("org-a", url, NULL, "username", "pusher", "token", "s3cret-token", NULL);
  result = push (f, remote, org_a_prds, &error);
  g_assert_no_error (error);
  g_assert_nonnull (result->commit);
  g_free (head);
  head = git (remote_path, "rev-parse", "main");
  g_assert_cmpstr (head, ==, result->commit);
  tags = git (remote_path, "tag", "-l");
  g_assert_cmpstr (tags, ==, "prd_alpha/v1.0.0");
  files = git (remote_path, "ls-tree", "-r", "--name-only", "main");
  g_assert_cmpstr (files, ==, "prd_alpha.md");
  g_assert_cmpuint (result->n_updated, ==, 2);

  /* over smart HTTP too, `updated` counts what the remote changed */
  g_clear_pointer (&result, prd_git_push_result_free);
  result = push (f, remote, org_a_prds, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (result->n_tags, ==, 1);
  g_assert_cmpuint (result->n_updated, ==, 0);

  /* the connection check */
  {
    g_autoptr (GAsyncResult) checked =
        PRD_TEST_WAIT_FOR (prd_integration_test_async, PRD_INTEGRATION (remote), NULL);

    g_assert_true (prd_integration_test_finish (PRD_INTEGRATION (remote), checked, &error));
    g_assert_no_error (error);
  }
}

/* Starts @service on a free loopback port; returns a remote URL there. */
static char *
listen_local (GSocketService *service, GCallback on_connection, gpointer data)
{
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (g_socket_listener_add_address (G_SOCKET_LISTENER (service), address,
                                                G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                                                &bound, &error));
  g_assert_no_error (error);
  g_signal_connect (service, "incoming", on_connection, data);
  g_socket_service_start (service);
  return g_strdup_printf ("http://127.0.0.1:%u/a.git",
                          g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
}

static gboolean
on_incoming (GSocketService *service,
             GSocketConnection *connection,
             GObject *source,
             gpointer user_data)
{
  /* keep it open, never answer */
  g_ptr_array_add (user_data, g_object_ref (connection));
  return TRUE;
}

/* A host that accepts and never answers: the watchdog ends the push. */
static void
test_watchdog (Fixture *f, gconstpointer data)
{
  g_autoptr (GSocketService) service = g_socket_service_new ();
  g_autoptr (GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdGitRemote) remote = NULL;
  g_autoptr (PrdGitPushResult) result = NULL;
  g_autofree char *url = listen_local (service, G_CALLBACK (on_incoming), held);

  commit_version (f, "prd_alpha", "1.0.0", "# Alpha\n");
  remote = make_git_remote ("org-a", url, "1", "username", "u", "token", "t", NULL);

  result = push (f, remote, org_a_prds, &error);
  g_assert_null (result);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR);
  g_assert_nonnull (strstr (error->message, "No answer from the remote within 1 s"));
  g_assert_cmpuint (held->len, >=, 1);
  g_assert_cmpint (prd_integration_get_status (PRD_INTEGRATION (remote)), ==,
                   PRD_INTEGRATION_ERROR);
  g_socket_service_stop (service);
}

typedef struct
{
  GSocketConnection *connection; /* (owned) */
  GThread *thread;               /* (owned) (nullable): writes to it */
  guint64 sent;                  /* atomic */
} Flood;

/* Answers a smart-HTTP ref discovery with refs that never end, until the
 * client goes away. */
static gpointer
flood_refs (gpointer data)
{
  Flood *flood = data;
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (flood->connection));
  const char *head = "HTTP/1.1 200 OK\r\n"
                     "Content-Type: application/x-git-receive-pack-advertisement\r\n"
                     "Cache-Control: no-cache\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n"
                     "1f\r\n001f# service=git-receive-pack\n\r\n4\r\n0000\r\n";
  g_autoptr (GString) chunk = g_string_new (NULL);
  guint64 n = 0;

  if (!g_output_stream_write_all (out, head, strlen (head), NULL, NULL, NULL))
    return NULL;
  while (TRUE)
    {
      g_autoptr (GString) lines = g_string_new (NULL);

      /* 1,000 refs a chunk, each "<len><sha> refs/tags/t<10 digits>\n" (67 bytes) */
      for (guint i = 0; i < 1000; i++, n++)
        g_string_append_printf (lines, "0043%040u refs/tags/t%010" G_GUINT64_FORMAT "\n", 0u, n);
      g_string_printf (chunk, "%zx\r\n%s\r\n", lines->len, lines->str);
      if (!g_output_stream_write_all (out, chunk->str, chunk->len, NULL, NULL, NULL))
        break;
      __atomic_add_fetch (&flood->sent, chunk->len, __ATOMIC_RELAXED);
      /* The test's bound, for a client that would not stop. */
      if (__atomic_load_n (&flood->sent, __ATOMIC_RELAXED) > 64u * 1024 * 1024)
        break;
    }
  return NULL;
}

static gboolean
on_flood_incoming (GSocketService *service,
                   GSocketConnection *connection,
                   GObject *source,
                   gpointer user_data)
{
  Flood *flood = user_data;
  char request[4096];

  /* One connection is flooded; another is not answered. */
  if (flood->thread != NULL)
    return FALSE;
  /* the request's head, then refs */
  g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (connection)), request,
                       sizeof request, NULL, NULL);
  flood->connection = g_object_ref (connection);
  flood->thread = g_thread_new ("flood", flood_refs, flood);
  return TRUE;
}

/* A remote whose refs never end: the push stops after 16 MiB of them, long
 * before its watchdog. */
static void
test_read_limit (Fixture *f, gconstpointer data)
{
  g_autoptr (GSocketService) service = g_socket_service_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdGitRemote) remote = NULL;
  g_autoptr (PrdGitPushResult) result = NULL;
  Flood flood = { 0 };
  g_autofree char *url = listen_local (service, G_CALLBACK (on_flood_incoming), &flood);

  commit_version (f, "prd_alpha", "1.0.0", "# Alpha\n");
  remote = make_git_remote ("org-a", url, "600", "username", "u", "token", "t", NULL);

  result = push (f, remote, org_a_prds, &error);
  g_assert_null (result);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR);
  g_assert_nonnull (strstr (error->message, "the remote sent more than 16 MiB"));
  g_socket_service_stop (service);
  if (flood.connection != NULL)
    g_socket_shutdown (g_socket_connection_get_socket (flood.connection), TRUE, TRUE, NULL);
  if (flood.thread != NULL)
    g_thread_join (flood.thread);
  /* What was sent past the limit sat in socket buffers. */
  g_assert_cmpuint (__atomic_load_n (&flood.sent, __ATOMIC_RELAXED), <, 48u * 1024 * 1024);
  g_clear_object (&flood.connection);
}

/* A file:/// remote only when the operator allows them. */
static void
test_file_urls_allowed (void)
{
  g_autoptr (PrdGitRemote) remote = g_object_new (PRD_TYPE_GIT_REMOTE, NULL);
  g_autoptr (GHashTable) set = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (JsonObject) settings = json_object_new ();
  g_autoptr (GError) error = NULL;

  json_object_set_string_member (settings, "remoteUrl", "file:///srv/git/prds.git");
  prd_git_remote_set_file_urls_allowed (FALSE);
  g_assert_false (prd_integration_check_settings (PRD_INTEGRATION (remote), settings, set, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_assert_nonnull (strstr (error->message, "git-file-remotes"));
  g_clear_error (&error);
  prd_git_remote_set_file_urls_allowed (TRUE);
  g_assert_true (prd_integration_check_settings (PRD_INTEGRATION (remote), settings, set, &error));
  g_assert_no_error (error);
}

/* Settings that are refused, each with the key named. */
static void
test_settings (void)
{
  static const struct
  {
    const char *key;
    const char *value;
    const char *expect;
  } cases[] = {
    { "remoteUrl", "ftp://example.com/x.git", "only https, ssh and file" },
    { "remoteUrl", "http://example.com/x.git", "plain http" },
    { "remoteUrl", "https://user:pw@example.com/x.git", "secret settings" },
    { "remoteUrl", "https://example.com/x.git?a=b", "query" },
    { "remoteUrl", "file://relative/x.git", "absolute path" },
    { "remoteUrl", "not a url", "not a URL" },
    { "branch", "a..b", "not a valid branch name" },
    { "caFile", "relative.pem", "absolute path" },
    /* No remote helper (ext:: runs a command), no host or user that ssh
     * would read as an option, no space. */
    { "remoteUrl", "ext::sh -c touch% /tmp/pwned", "spaces" },
    { "remoteUrl", "ext::sh%20-c%20x", "remote helpers" },
    { "remoteUrl", "fd::17", "remote helpers" },
    { "remoteUrl", "ssh://-oProxyCommand=x/r", "start with '-'" },
    { "remoteUrl", "ssh://-oProxyCommand=x@example.com/r", "start with '-'" },
    { "remoteUrl", "-oProxyCommand=x:r", "start with '-'" },
    { "remoteUrl", "-o@example.com:r", "start with '-'" },
    { "remoteUrl", "git@example.com:-r", "path may not start with '-'" },
    { "remoteUrl", "git@ex$ample.com:r", "a host is" },
    { "remoteUrl", "https://example.com/a\tb.git", "control" },
    { "remoteUrl", "git://example.com/r.git", "only https, ssh and file" },
    /* Branches as `git check-ref-format --branch` takes them. */
    { "branch", "-x", "not a valid branch name" },
    { "branch", "a b", "not a valid branch name" },
    { "branch", "a~1", "not a valid branch name" },
    { "branch", "a^", "not a valid branch name" },
    { "branch", "a:b", "not a valid branch name" },
    { "branch", "a?", "not a valid branch name" },
    { "branch", "a*", "not a valid branch name" },
    { "branch", "a[b", "not a valid branch name" },
    { "branch", "a\\b", "not a valid branch name" },
    { "branch", "a@{1}", "not a valid branch name" },
    { "branch", "a/", "not a valid branch name" },
    { "branch", "/a", "not a valid branch name" },
    { "branch", "a.lock", "not a valid branch name" },
    { "branch", "a/b.lock/c", "not a valid branch name" },
    { "branch", ".a", "not a valid branch name" },
    { "branch", "a/.b", "not a valid branch name" },
    { "branch", "a.", "not a valid branch name" },
    { "branch", "a//b", "not a valid branch name" },
    { "branch", "HEAD", "not a valid branch name" },
    { "branch", "@", "not a valid branch name" },
    { "branch", "a\x7f", "not a valid branch name" },
  };
  g_autoptr (PrdGitRemote) remote = g_object_new (PRD_TYPE_GIT_REMOTE, NULL);
  g_autoptr (GHashTable) set = g_hash_table_new (g_str_hash, g_str_equal);
  static const char *const good[] = {
    "https://git.example.com/team/prds.git",
    "ssh://git@git.example.com:2222/team/prds.git",
    "git@git.example.com:team/prds.git",
    "file:///srv/git/prds.git",
    "http://127.0.0.1:8080/prds.git",
    "ssh://[::1]:22/prds.git",
    "git@[::1]:prds.git",
    "git.example.com:prds.git",
  };
  static const char *const good_branches[] = { "main", "release/1.x", "feature-a_b.c", "a-",
                                               "v1@x" };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (JsonObject) settings = json_object_new ();
      g_autoptr (GError) error = NULL;

      json_object_set_string_member (settings, cases[i].key, cases[i].value);
      g_assert_false (
          prd_integration_check_settings (PRD_INTEGRATION (remote), settings, set, &error));
      g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
      g_assert_nonnull (strstr (error->message, cases[i].key));
      if (strstr (error->message, cases[i].expect) == NULL)
        g_error ("%s \"%s\": \"%s\" lacks \"%s\"", cases[i].key, cases[i].value, error->message,
                 cases[i].expect);
    }
  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr (JsonObject) settings = json_object_new ();
      g_autoptr (GError) error = NULL;

      json_object_set_string_member (settings, "remoteUrl", good[i]);
      g_assert_true (
          prd_integration_check_settings (PRD_INTEGRATION (remote), settings, set, &error));
      g_assert_no_error (error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (good_branches); i++)
    {
      g_autoptr (JsonObject) settings = json_object_new ();
      g_autoptr (GError) error = NULL;

      json_object_set_string_member (settings, "remoteUrl", "https://example.com/x.git");
      json_object_set_string_member (settings, "branch", good_branches[i]);
      g_assert_true (
          prd_integration_check_settings (PRD_INTEGRATION (remote), settings, set, &error));
      g_assert_no_error (error);
    }
}

/* A token for an ssh remote, or a username without a token, is incomplete. */
static void
test_setup_refusals (void)
{
  static const struct
  {
    const char *url;
    const char *secret;
  } cases[] = {
    { "ssh://git@example.com/x.git", "token" },
    { "https://example.com/x.git", "sshPrivateKey" },
    { "https://example.com/x.git", "username" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (PrdGitRemote) remote = g_object_new (PRD_TYPE_GIT_REMOTE, NULL);
      g_autoptr (JsonObject) settings = json_object_new ();
      g_autoptr (GHashTable) secrets = g_hash_table_new (g_str_hash, g_str_equal);
      g_autoptr (GError) error = NULL;

      json_object_set_string_member (settings, "remoteUrl", cases[i].url);
      g_hash_table_insert (secrets, (gpointer) cases[i].secret, (gpointer) "x");
      if (g_str_equal (cases[i].secret, "token"))
        g_hash_table_insert (secrets, (gpointer) "username", (gpointer) "u");
      g_assert_false (
          prd_integration_setup (PRD_INTEGRATION (remote), "org", settings, secrets, NULL, &error));
      g_assert_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_NOT_CONFIGURED);
    }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  /* The pushes here go to file:/// remotes too. */
  prd_git_remote_set_file_urls_allowed (TRUE);

  g_test_add ("/git-push/file", Fixture, NULL, fixture_setup, test_file_push, fixture_teardown);
  g_test_add ("/git-push/deleted-prd", Fixture, NULL, fixture_setup, test_deleted_prd,
              fixture_teardown);
  g_test_add ("/git-push/diverged", Fixture, NULL, fixture_setup, test_diverged, fixture_teardown);
  g_test_add ("/git-push/late-versions", Fixture, NULL, fixture_setup, test_late_versions,
              fixture_teardown);
  g_test_add ("/git-push/tag-never-moved", Fixture, NULL, fixture_setup, test_tag_never_moved,
              fixture_teardown);
  g_test_add ("/git-push/refused-by-hook", Fixture, NULL, fixture_setup, test_refused_by_hook,
              fixture_teardown);
  g_test_add ("/git-push/http", Fixture, NULL, fixture_setup, test_http_push, fixture_teardown);
  g_test_add ("/git-push/https-ca-file", Fixture, NULL, fixture_setup, test_https_ca_file,
              fixture_teardown);
  g_test_add ("/git-push/watchdog", Fixture, NULL, fixture_setup, test_watchdog, fixture_teardown);
  g_test_add ("/git-push/read-limit", Fixture, NULL, fixture_setup, test_read_limit,
              fixture_teardown);
  g_test_add_func ("/git-push/settings", test_settings);
  g_test_add_func ("/git-push/setup-refusals", test_setup_refusals);
  g_test_add_func ("/git-push/file-urls-allowed", test_file_urls_allowed);
  return g_test_run ();
}
