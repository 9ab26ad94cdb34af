/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Versions end to end inside one process: create-version through a PrdHub
 * with a PrdSqliteStore on 127.0.0.1:0 (minimal Socket.IO clients over
 * SoupSession WebSockets, as in test-collab.c), then the versions
 * repository read back with libgit2 and with the stock git command line.
 */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <unistd.h>

#include <git2.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <sqlite3.h>

#include "prd-autocleanups.h"
#include "prd-error.h"
#include "prd-git-repo.h"
#include "prd-git-repo-private.h"
#include "prd-hub.h"
#include "prd-hub-config-collab.h"
#include "prd-hub-versions.h"
#include "prd-version-store.h"
#include "prd-sqlite-store.h"

#include "prd-test-harness.h"

#define SECRET "versions-test-secret-0123456789abcdef0123"

typedef PrdTestHub Fixture;

/* Opens a WebSocket session and connects to /prds as @user. */
static PrdTestClient *
client_new (Fixture *f, const char *user, const char *org, PrdRole role)
{
  g_autofree char *token = prd_test_mint_token (f->auth, user, org, role);

  return prd_test_client_connect (f->url, token);
}

static char *
create_prd (Fixture *f, const char *org, const char *content)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autoptr (GError) error = NULL;

  prd_hub_create_prd_async (f->store, org, "Collab", "owner", content, NULL, prd_test_result_cb,
                            &result);
  info = prd_hub_create_prd_finish (prd_test_wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (info->version, ==, "0.1.0");
  return g_strdup (info->id);
}

/* What a fresh replica rebuilt from the store holds. */
static char *
stored_text (Fixture *f, const char *prd_id, gint64 *out_snapshot_seq)
{
  return prd_test_store_text (f->store, prd_id, out_snapshot_seq);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  prd_test_hub_setup (f, "prd-versions-XXXXXX", SECRET, data);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  prd_test_hub_teardown (f);
}

static gint64
join (PrdTestClient *client, const char *prd_id, const char *mode, JsonNode **out_joined)
{
  g_autofree char *payload = g_strdup_printf ("{\"prdId\":\"%s\",\"mode\":\"%s\"}", prd_id, mode);
  g_autoptr (JsonNode) ack = prd_test_client_request (client, "join-prd", payload);
  g_autoptr (JsonNode) joined = prd_test_client_wait_event (client, "joined-prd");

  prd_test_assert_ok (ack);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (joined), "prdId"), ==,
                   prd_id);
  if (out_joined != NULL)
    *out_joined = json_node_copy (joined);
  return json_object_get_int_member_with_default (json_node_get_object (ack), "siteId", -1);
}

/* Joins in edit mode; returns the ack's state vector as JSON text. */
static char *
join_edit (PrdTestClient *client, const char *prd_id)
{
  g_autofree char *payload = g_strdup_printf ("{\"prdId\":\"%s\",\"mode\":\"edit\"}", prd_id);
  g_autoptr (JsonNode) ack = prd_test_client_request (client, "join-prd", payload);
  g_autoptr (JsonNode) joined = prd_test_client_wait_event (client, "joined-prd");

  prd_test_assert_ok (ack);
  client->site = json_object_get_int_member (json_node_get_object (ack), "siteId");
  return json_to_string (json_object_get_member (json_node_get_object (ack), "stateVector"), FALSE);
}

/* Inserts @text at @position on top of @vector (the client's own entry
 * counts the new operation); returns the new vector. */
static char *
insert (
    PrdTestClient *client, const char *prd_id, const char *vector, int position, const char *text)
{
  g_autoptr (JsonNode) parsed = json_from_string (vector, NULL);
  JsonArray *array = json_node_get_array (parsed);
  g_autoptr (GString) next = g_string_new ("[");
  g_autofree char *payload = NULL;
  g_autoptr (JsonNode) ack = NULL;
  guint n = MAX (json_array_get_length (array), (guint) client->site + 1);

  for (guint i = 0; i < n; i++)
    {
      gint64 v = i < json_array_get_length (array) ? json_array_get_int_element (array, i) : 0;

      g_string_append_printf (next, "%s%" G_GINT64_FORMAT, i > 0 ? "," : "",
                              i == (guint) client->site ? v + 1 : v);
    }
  g_string_append_c (next, ']');
  payload = g_strdup_printf ("{\"prdId\":\"%s\",\"operation\":{\"type\":\"insert\",\"position\":%d,"
                             "\"content\":\"%s\"},\"stateVector\":%s}",
                             prd_id, position, text, next->str);
  ack = prd_test_client_request (client, "content-update", payload);
  prd_test_assert_ok (ack);
  return json_to_string (json_object_get_member (json_node_get_object (ack), "stateVector"), FALSE);
}

/* Forced: these versions need not differ in text (an unchanged text is
 * refused otherwise, VERSION_UNCHANGED). */
static JsonNode *
create_version (PrdTestClient *client, const char *prd_id, const char *changelog, const char *type)
{
  g_autofree char *payload =
      g_strdup_printf ("{\"prdId\":\"%s\",\"changelog\":\"%s\",\"versionType\":\"%s\","
                       "\"force\":true}",
                       prd_id, changelog, type);

  return prd_test_client_request (client, "create-version", payload);
}

static const char *
ack_version (JsonNode *ack, const char *member)
{
  prd_test_assert_ok (ack);
  return json_object_get_string_member (
      json_object_get_object_member (json_node_get_object (ack), "version"), member);
}

static char *
repo_path (Fixture *f)
{
  return g_build_filename (f->tmp_dir, PRD_HUB_VERSIONS_REPO, NULL);
}

/* Runs git with @args (NULL-terminated) on the repository; returns stdout. */
static char *
run_git (Fixture *f, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *repo = repo_path (f);
  g_autoptr (GError) error = NULL;
  g_autofree char *err = NULL;
  char *out = NULL;
  int status = 0;
  const char *arg;
  va_list ap;

  g_ptr_array_add (argv, g_strdup ("git"));
  g_ptr_array_add (argv, g_strdup_printf ("--git-dir=%s", repo));
  va_start (ap, f);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (argv, g_strdup (arg));
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("git %s failed: %s", (char *) argv->pdata[2], err);
  return out;
}

static char *
store_version (Fixture *f, const char *prd_id)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autoptr (GError) error = NULL;

  prd_store_get_async (f->store, prd_id, NULL, prd_test_result_cb, &result);
  info = prd_store_get_finish (f->store, prd_test_wait_result (&result), &error);
  g_assert_no_error (error);
  return g_strdup (info->version);
}

typedef struct
{
  const char *version;
  const char *changelog;
  const char *user;
  const char *content;
  char *hash;
} Expected;

static void
check_with_libgit2 (Fixture *f, const char *prd_id, Expected *expected, guint n)
{
  g_autofree char *path = repo_path (f);
  g_autofree char *file = g_strconcat (prd_id, ".md", NULL);
  g_autoptr (git_repository) repo = NULL;
  git_oid oid;
  guint i;

  git_libgit2_init ();
  g_assert_cmpint (git_repository_open_bare (&repo, path), ==, 0);
  g_assert_true (git_repository_is_bare (repo));
  /* Every organization's PRDs are in it: nobody else may go in. */
  {
    GStatBuf st;

    g_assert_cmpint (g_stat (path, &st), ==, 0);
    g_assert_cmpuint (st.st_mode & 0777, ==, 0700);
  }
  for (i = 0; i < n; i++)
    {
      g_autofree char *ref = g_strdup_printf ("refs/tags/%s/v%s", prd_id, expected[i].version);
      g_autofree char *email = g_strdup_printf ("%s@org", expected[i].user);
      g_autofree char *message = g_strconcat (expected[i].changelog, "\n", NULL);
      g_autoptr (git_reference) reference = NULL;
      g_autoptr (git_object) commit = NULL;
      g_autoptr (git_tree) tree = NULL;
      g_autoptr (git_tree_entry) entry = NULL;
      g_autoptr (git_blob) blob = NULL;
      const git_signature *author;
      char hex[GIT_OID_HEXSZ + 1];

      g_assert_cmpint (git_reference_lookup (&reference, repo, ref), ==, 0);
      g_assert_cmpint (git_reference_peel (&commit, reference, GIT_OBJECT_COMMIT), ==, 0);
      git_oid_tostr (hex, sizeof hex, git_object_id (commit));
      g_assert_cmpstr (hex, ==, expected[i].hash);
      author = git_commit_author ((git_commit *) commit);
      g_assert_cmpstr (author->name, ==, expected[i].user);
      g_assert_cmpstr (author->email, ==, email);
      g_assert_cmpstr (git_commit_message ((git_commit *) commit), ==, message);
      g_assert_cmpuint (git_commit_parentcount ((git_commit *) commit), ==, i == 0 ? 0 : 1);
      if (i > 0)
        {
          git_oid_tostr (hex, sizeof hex, git_commit_parent_id ((git_commit *) commit, 0));
          g_assert_cmpstr (hex, ==, expected[i - 1].hash);
        }
      g_assert_cmpint (git_commit_tree (&tree, (git_commit *) commit), ==, 0);
      g_assert_cmpint (git_tree_entry_bypath (&entry, tree, file), ==, 0);
      g_assert_cmpint (git_blob_lookup (&blob, repo, git_tree_entry_id (entry)), ==, 0);
      g_assert_cmpmem (git_blob_rawcontent (blob), git_blob_rawsize (blob), expected[i].content,
                       strlen (expected[i].content));
    }
  g_assert_cmpint (git_reference_name_to_id (&oid, repo, "refs/heads/main"), ==, 0);
  {
    char hex[GIT_OID_HEXSZ + 1];

    git_oid_tostr (hex, sizeof hex, &oid);
    g_assert_cmpstr (hex, ==, expected[n - 1].hash);
  }
  git_libgit2_shutdown ();
}

static void
check_with_git_cli (Fixture *f, const char *prd_id, Expected *expected, guint n)
{
  g_autofree char *log = run_git (f, "log", "--format=%H%x09%an%x09%ae%x09%s", "main", NULL);
  g_autofree char *tags = run_git (f, "tag", "-l", NULL);
  g_auto (GStrv) lines = g_strsplit (log, "\n", -1);
  g_auto (GStrv) tag_lines = g_strsplit (tags, "\n", -1);
  g_autofree char *repo = repo_path (f);
  g_autofree char *clone = g_build_filename (f->tmp_dir, "clone", NULL);
  g_autofree char *cloned = g_build_filename (clone, prd_id, NULL);
  g_autofree char *cloned_md = g_strconcat (cloned, ".md", NULL);
  g_autofree char *clone_text = NULL;
  g_autoptr (GError) error = NULL;
  int status = 0;

  /* git log: newest first, one line per version. */
  g_assert_cmpuint (g_strv_length (lines), ==, n + 1);
  for (guint i = 0; i < n; i++)
    {
      Expected *e = &expected[n - 1 - i];
      g_autofree char *line =
          g_strdup_printf ("%s\t%s\t%s@org\t%s", e->hash, e->user, e->user, e->changelog);
      g_autofree char *spec = g_strdup_printf ("%s/v%s:%s.md", prd_id, e->version, prd_id);
      g_autofree char *shown = run_git (f, "show", spec, NULL);

      g_assert_cmpstr (lines[i], ==, line);
      g_assert_cmpstr (shown, ==, e->content);
    }

  /* A stock clone checks out the newest version. */
  {
    const char *argv[] = { "git", "clone", "-q", repo, clone, NULL };

    g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status,
                  &error);
    g_assert_no_error (error);
    g_assert_true (g_spawn_check_wait_status (status, NULL));
  }
  g_assert_true (g_file_get_contents (cloned_md, &clone_text, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (clone_text, ==, expected[n - 1].content);

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *tag = g_strdup_printf ("%s/v%s\n", prd_id, expected[i].version);

      g_assert_nonnull (strstr (tags, tag));
    }
  g_assert_cmpuint (g_strv_length (tag_lines), ==, n + 1);
}

/* Stops the hub and the store. */
static void
stop (Fixture *f)
{
  g_clear_object (&f->hub);
  prd_test_store_close (f->store);
  g_clear_object (&f->store);
  g_clear_pointer (&f->url, g_free);
}

/* Starts the store and the hub again on the same folder. */
static void
start (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *db = g_build_filename (f->tmp_dir, "prdhub.db", NULL);

  f->store = prd_test_store_open (db, &error);
  g_assert_no_error (error);
  f->hub = prd_hub_new (f->config, f->auth);
  prd_test_start_hub (f->hub, f->store);
  g_assert_true (prd_hub_listen (f->hub, &error));
  f->url = prd_hub_get_url (f->hub);
}

/* Stops the hub and the store and starts both again on the same folder. */
static void
restart (Fixture *f)
{
  stop (f);
  start (f);
}

static void
test_git (Fixture *f, gconstpointer data)
{
  g_autofree char *prd_id = create_prd (f, "org", "# Spec\n");
  Expected expected[] = {
    { "0.2.0", "First cut", "alice", "# Spec\n", NULL },
    { "0.2.1", "Second line", "bob", "# Spec\nTwo\n", NULL },
    { "1.0.0", "Release", "carol", "# Spec\nTwo\n", NULL },
    { "1.0.1", "After restart", "alice", "# Spec\nTwo\n", NULL },
  };
  g_autofree char *version = NULL;

  {
    g_autoptr (PrdTestClient) alice = client_new (f, "alice", "org", PRD_ROLE_EDITOR);
    g_autoptr (PrdTestClient) bob = client_new (f, "bob", "org", PRD_ROLE_EDITOR);
    g_autoptr (PrdTestClient) carol = client_new (f, "carol", "org", PRD_ROLE_ADMIN);
    g_autofree char *vector = join_edit (alice, prd_id);
    g_autofree char *vector2 = NULL;
    g_autoptr (JsonNode) ack1 = NULL;
    g_autoptr (JsonNode) ack2 = NULL;
    g_autoptr (JsonNode) ack3 = NULL;
    g_autoptr (JsonNode) created = NULL;
    g_autoptr (JsonNode) commit = NULL;
    JsonObject *object, *inner, *by;
    JsonArray *files;
    g_autofree char *file = g_strconcat (prd_id, ".md", NULL);

    ack1 = create_version (alice, prd_id, "First cut", "minor");
    g_assert_cmpstr (ack_version (ack1, "version"), ==, "0.2.0");
    expected[0].hash = g_strdup (ack_version (ack1, "commitHash"));
    g_assert_cmpuint (strlen (expected[0].hash), ==, 40);

    /* version-created and git-commit in the seed's shapes. */
    created = prd_test_client_wait_event (alice, "version-created");
    object = json_node_get_object (created);
    g_assert_cmpstr (json_object_get_string_member (object, "prdId"), ==, prd_id);
    inner = json_object_get_object_member (object, "version");
    g_assert_true (g_str_has_prefix (json_object_get_string_member (inner, "id"), "ver_"));
    g_assert_cmpstr (json_object_get_string_member (inner, "version"), ==, "0.2.0");
    g_assert_cmpstr (json_object_get_string_member (inner, "changelog"), ==, "First cut");
    g_assert_cmpstr (json_object_get_string_member (inner, "commitHash"), ==, expected[0].hash);
    by = json_object_get_object_member (inner, "createdBy");
    g_assert_cmpstr (json_object_get_string_member (by, "id"), ==, "alice");
    g_assert_cmpstr (json_object_get_string_member (by, "name"), ==, "alice");
    g_assert_true (g_str_has_suffix (json_object_get_string_member (inner, "createdAt"), "Z"));
    g_assert_cmpuint (json_object_get_size (inner), ==, 6);
    commit = prd_test_client_wait_event (alice, "git-commit");
    object = json_node_get_object (commit);
    g_assert_cmpstr (json_object_get_string_member (object, "prdId"), ==, prd_id);
    inner = json_object_get_object_member (object, "commit");
    g_assert_cmpstr (json_object_get_string_member (inner, "hash"), ==, expected[0].hash);
    g_assert_cmpstr (json_object_get_string_member (inner, "message"), ==, "First cut");
    g_assert_cmpstr (json_object_get_string_member (inner, "author"), ==, "alice");
    g_assert_true (g_str_has_suffix (json_object_get_string_member (inner, "timestamp"), "Z"));
    files = json_object_get_array_member (inner, "files");
    g_assert_cmpuint (json_array_get_length (files), ==, 1);
    g_assert_cmpstr (json_array_get_string_element (files, 0), ==, file);

    vector2 = insert (alice, prd_id, vector, 7, "Two\\n");
    /* bob has not joined: creating a version needs no join. */
    ack2 = create_version (bob, prd_id, "Second line", "patch");
    g_assert_cmpstr (ack_version (ack2, "version"), ==, "0.2.1");
    expected[1].hash = g_strdup (ack_version (ack2, "commitHash"));
    ack3 = create_version (carol, prd_id, "Release", "major");
    g_assert_cmpstr (ack_version (ack3, "version"), ==, "1.0.0");
    expected[2].hash = g_strdup (ack_version (ack3, "commitHash"));
    /* Identical text, still a commit of its own. */
    g_assert_cmpstr (expected[2].hash, !=, expected[1].hash);
  }
  version = store_version (f, prd_id);
  g_assert_cmpstr (version, ==, "1.0.0");
  check_with_libgit2 (f, prd_id, expected, 3);
  check_with_git_cli (f, prd_id, expected, 3);

  /* Versions survive a restart and the history goes on. */
  restart (f);
  {
    g_autoptr (PrdTestClient) alice = client_new (f, "alice", "org", PRD_ROLE_EDITOR);
    g_autoptr (JsonNode) ack = create_version (alice, prd_id, "After restart", "patch");
    g_autoptr (JsonNode) joined = NULL;

    g_assert_cmpstr (ack_version (ack, "version"), ==, "1.0.1");
    expected[3].hash = g_strdup (ack_version (ack, "commitHash"));
    join (alice, prd_id, "view", &joined);
    g_assert_cmpstr (
        json_object_get_string_member (
            json_object_get_object_member (json_node_get_object (joined), "initialState"),
            "version"),
        ==, "1.0.1");
  }
  check_with_libgit2 (f, prd_id, expected, 4);
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_free (expected[i].hash);
}

/* A hub killed while writing leaves libgit2's lock files: the next start
 * removes them, and versions go on. */
static void
test_stale_locks (Fixture *f, gconstpointer data)
{
  g_autofree char *prd_id = create_prd (f, "org", "# Spec\n");
  g_autofree char *repo = repo_path (f);
  g_autofree char *tag_dir = g_build_filename (repo, "refs", "tags", prd_id, NULL);
  const char *const locks[] = { "refs/heads/main.lock", "packed-refs.lock", "HEAD.lock",
                                "config.lock", "index.lock" };
  g_autofree char *tag_lock = g_build_filename (tag_dir, "v0.3.0.lock", NULL);
  g_autofree char *tags = NULL;

  {
    g_autoptr (PrdTestClient) alice = client_new (f, "alice", "org", PRD_ROLE_EDITOR);
    g_autoptr (JsonNode) ack = create_version (alice, prd_id, "First", "minor");

    g_assert_cmpstr (ack_version (ack, "version"), ==, "0.2.0");
  }
  stop (f);
  for (guint i = 0; i < G_N_ELEMENTS (locks); i++)
    {
      g_autofree char *path = g_build_filename (repo, locks[i], NULL);

      g_assert_true (g_file_set_contents (path, "", 0, NULL));
    }
  g_assert_true (g_file_set_contents (tag_lock, "", 0, NULL));
  start (f);
  {
    g_autoptr (PrdTestClient) alice = client_new (f, "alice", "org", PRD_ROLE_EDITOR);
    g_autoptr (JsonNode) ack = create_version (alice, prd_id, "After the kill", "minor");

    g_assert_cmpstr (ack_version (ack, "version"), ==, "0.3.0");
  }
  for (guint i = 0; i < G_N_ELEMENTS (locks); i++)
    {
      g_autofree char *path = g_build_filename (repo, locks[i], NULL);

      g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
    }
  g_assert_false (g_file_test (tag_lock, G_FILE_TEST_EXISTS));
  tags = run_git (f, "tag", "-l", NULL);
  g_assert_nonnull (strstr (tags, "/v0.3.0\n"));
}

/* A crash between a version's commit and its record leaves a tag no record
 * names: the next version takes the next number and leaves the tag as it
 * is. */
static void
test_unrecorded_tag (Fixture *f, gconstpointer data)
{
  g_autofree char *prd_id = create_prd (f, "org", "# Spec\n");
  g_autofree char *repo = repo_path (f);
  g_autofree char *ref = g_strdup_printf ("refs/tags/%s/v0.2.0", prd_id);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *version = NULL;

  stop (f);
  {
    g_autoptr (PrdGitRepo) crashed = prd_git_repo_new (repo);
    g_autoptr (GAsyncResult) result = NULL;
    g_autoptr (GError) error = NULL;
    g_autofree char *hash = NULL;

    prd_git_repo_commit_async (crashed, prd_id, "0.2.0", "# Spec\n", "Lost record", "alice",
                               "alice@org", g_get_real_time (), NULL, prd_test_result_cb, &result);
    hash = prd_git_repo_commit_finish (crashed, prd_test_wait_result (&result), &error);
    g_assert_no_error (error);
  }
  before = run_git (f, "rev-parse", ref, NULL);
  start (f);
  {
    g_autoptr (PrdTestClient) alice = client_new (f, "alice", "org", PRD_ROLE_EDITOR);
    g_autoptr (JsonNode) ack = create_version (alice, prd_id, "Next", "minor");

    g_assert_cmpstr (ack_version (ack, "version"), ==, "0.3.0");
  }
  after = run_git (f, "rev-parse", ref, NULL);
  g_assert_cmpstr (after, ==, before);
  version = store_version (f, prd_id);
  g_assert_cmpstr (version, ==, "0.3.0");
}

/* A PRD deleted between a version's commit and its record: the version is
 * refused (PRD_NOT_FOUND) and leaves no tag behind, as none was announced.
 * A second writer holds the database so that the version's load comes
 * first and the deletion right after it. */
static void
test_deleted_before_record (Fixture *f, gconstpointer data)
{
  g_autofree char *prd_id = create_prd (f, "org", "# Spec\n");
  g_autofree char *path = g_build_filename (f->tmp_dir, "prdhub.db", NULL);
  g_autofree char *pattern = g_strdup_printf ("%s/*", prd_id);
  g_autofree char *payload = g_strdup_printf (
      "{\"prdId\":\"%s\",\"changelog\":\"Late\",\"versionType\":\"minor\",\"force\":true}", prd_id);
  g_autoptr (PrdTestClient) alice = client_new (f, "alice", "org", PRD_ROLE_EDITOR);
  g_autoptr (GAsyncResult) deleted = NULL;
  g_autoptr (JsonNode) probe = NULL;
  g_autoptr (JsonNode) ack = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *tags = NULL;
  sqlite3 *db = NULL;
  gint64 id;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  /* The hub may still be committing what the PRD's creation started. */
  sqlite3_busy_timeout (db, 30000);
  g_assert_cmpint (sqlite3_exec (db, "BEGIN IMMEDIATE", NULL, NULL, NULL), ==, SQLITE_OK);
  id = prd_test_client_emit (alice, "create-version", payload);
  /* Answered at once, after the create-version was handled. */
  probe = prd_test_client_request (alice, "create-version", "{}");
  g_assert_cmpstr (prd_test_ack_error_code (probe), ==, "INVALID_PAYLOAD");
  prd_store_delete_async (f->store, prd_id, NULL, prd_test_result_cb, &deleted);
  g_assert_cmpint (sqlite3_exec (db, "COMMIT", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  ack = prd_test_client_wait_ack (alice, id);
  g_assert_cmpstr (prd_test_ack_error_code (ack), ==, "PRD_NOT_FOUND");
  g_assert_true (prd_store_delete_finish (f->store, prd_test_wait_result (&deleted), &error));
  g_assert_no_error (error);
  tags = run_git (f, "tag", "-l", pattern, NULL);
  g_assert_cmpstr (tags, ==, "");
}

/* Names the hub accepts that libgit2 trims to nothing (it trims spaces
 * and .,:;"'\ from both ends): the commit's author is the user id
 * instead, and purging works too. */
static void
test_signature_names (void)
{
  const char *const names[] = { ".", "'", "...", ", ;", " \\\"" };
  g_autofree char *dir = prd_test_make_tmp_dir ("prd-versions-names-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "versions.git", NULL);
  g_autoptr (PrdGitRepo) repo = prd_git_repo_new (path);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *authors = NULL;
  g_autofree char *files = NULL;
  guint tags = 0;

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *version = g_strdup_printf ("0.%u.0", i + 2);
      g_autofree char *hash = NULL;

      prd_git_repo_commit_async (repo, "prd_names", version, "text\n", "c", names[i], "u1@org",
                                 g_get_real_time (), NULL, prd_test_result_cb, &result);
      hash = prd_git_repo_commit_finish (repo, prd_test_wait_result (&result), &error);
      g_assert_no_error (error);
      g_assert_nonnull (hash);
      g_clear_object (&result);
    }
  prd_git_repo_purge_async (repo, "prd_names", "deleted", ".", "u2@org", g_get_real_time (), NULL,
                            prd_test_result_cb, &result);
  g_assert_true (prd_git_repo_purge_finish (repo, prd_test_wait_result (&result), &tags, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (tags, ==, G_N_ELEMENTS (names));
  {
    const char *argv[] = { "git", "log", "--format=%an <%ae>", "main", NULL };
    g_autofree char *err = NULL;
    int status = 0;

    g_assert_true (g_spawn_sync (path, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                                 &authors, &err, &status, &error));
    g_assert_no_error (error);
    g_assert_true (g_spawn_check_wait_status (status, NULL));
  }
  g_assert_cmpstr (authors, ==,
                   "u2 <u2@org>\nu1 <u1@org>\nu1 <u1@org>\nu1 <u1@org>\nu1 <u1@org>\n"
                   "u1 <u1@org>\n");
  {
    const char *argv[] = { "git", "ls-tree", "--name-only", "main", NULL };

    g_assert_true (g_spawn_sync (path, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                                 &files, NULL, NULL, &error));
    g_assert_cmpstr (files, ==, "");
  }
  g_clear_object (&repo);
  prd_test_remove_tree (dir);
}

static void
test_refusals (Fixture *f, gconstpointer data)
{
  g_autofree char *prd_id = create_prd (f, "org", "text");
  g_autoptr (PrdTestClient) viewer = client_new (f, "vera", "org", PRD_ROLE_VIEWER);
  g_autoptr (PrdTestClient) editor = client_new (f, "ed", "org", PRD_ROLE_EDITOR);
  g_autoptr (PrdTestClient) other = client_new (f, "olga", "other", PRD_ROLE_ADMIN);
  g_autoptr (GString) long_log = g_string_new (NULL);
  g_autofree char *repo = repo_path (f);
  g_autofree char *version = NULL;
  struct
  {
    PrdTestClient *client;
    const char *payload;
    const char *code;
  } cases[] = {
    { viewer, "{\"prdId\":\"%s\",\"changelog\":\"x\",\"versionType\":\"minor\"}", "FORBIDDEN" },
    { editor, "{\"prdId\":\"%s\",\"changelog\":\"x\",\"versionType\":\"huge\"}",
      "INVALID_PAYLOAD" },
    { editor, "{\"prdId\":\"%s\",\"changelog\":\"x\",\"versionType\":1}", "INVALID_PAYLOAD" },
    { editor, "{\"prdId\":\"%s\",\"changelog\":7,\"versionType\":\"minor\"}", "INVALID_PAYLOAD" },
    { editor, "{\"prdId\":\"%s\",\"changelog\":\"  \",\"versionType\":\"minor\"}",
      "INVALID_PAYLOAD" },
    /* Unicode's white space is white space too */
    { editor,
      "{\"prdId\":\"%s\",\"changelog\":\"\\u00a0\\u2028 \\u3000\",\"versionType\":\"minor\"}",
      "INVALID_PAYLOAD" },
    { editor, "{\"prdId\":\"%s\",\"versionType\":\"minor\"}", "INVALID_PAYLOAD" },
    { editor, "{\"prdId\":\"%s\",\"changelog\":\"%s\",\"versionType\":\"minor\"}",
      "INVALID_PAYLOAD" },
    { editor, "{\"prdId\":\"prd_%snope\",\"changelog\":\"x\",\"versionType\":\"minor\"}",
      "PRD_NOT_FOUND" },
    { editor, "{\"prdId\":\"../%s\",\"changelog\":\"x\",\"versionType\":\"minor\"}", "INVALID_ID" },
    { editor, "[\"%s\"]", "INVALID_PAYLOAD" },
    { other, "{\"prdId\":\"%s\",\"changelog\":\"x\",\"versionType\":\"minor\"}", "PRD_NOT_FOUND" },
  };

  for (int i = 0; i < PRD_VERSION_CHANGELOG_MAX_CHARS + 1; i++)
    g_string_append_c (long_log, 'a');
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GString) payload = g_string_new (cases[i].payload);
      g_autoptr (JsonNode) ack = NULL;

      g_string_replace (payload, "%s", i == 8 ? "" : prd_id, 1);
      g_string_replace (payload, "%s", long_log->str, 1);
      ack = prd_test_client_request (cases[i].client, "create-version", payload->str);
      g_test_message ("case %u: %s", i, payload->str);
      g_assert_cmpstr (prd_test_ack_error_code (ack), ==, cases[i].code);
    }
  /* Nothing changed: no version, no commit in the repository (which the
   * hub creates, empty, when it starts). */
  version = store_version (f, prd_id);
  g_assert_cmpstr (version, ==, "0.1.0");
  g_assert_true (g_file_test (repo, G_FILE_TEST_IS_DIR));
  {
    g_autofree char *main_ref = g_build_filename (repo, "refs", "heads", "main", NULL);
    g_autofree char *packed = g_build_filename (repo, "packed-refs", NULL);

    g_assert_false (g_file_test (main_ref, G_FILE_TEST_EXISTS));
    g_assert_false (g_file_test (packed, G_FILE_TEST_EXISTS));
  }

  /* Exactly at the limit is fine. */
  g_string_truncate (long_log, PRD_VERSION_CHANGELOG_MAX_CHARS);
  {
    g_autofree char *payload = g_strdup_printf (
        "{\"prdId\":\"%s\",\"changelog\":\"%s\",\"versionType\":\"minor\"}", prd_id, long_log->str);
    g_autoptr (JsonNode) ack = prd_test_client_request (editor, "create-version", payload);

    g_assert_cmpstr (ack_version (ack, "version"), ==, "0.2.0");
  }
}

static void
test_concurrent (Fixture *f, gconstpointer data)
{
  g_autofree char *prd_id = create_prd (f, "org", "text");
  g_autoptr (PrdTestClient) a = client_new (f, "alice", "org", PRD_ROLE_EDITOR);
  g_autoptr (PrdTestClient) b = client_new (f, "bob", "org", PRD_ROLE_EDITOR);
  g_autofree char *payload = g_strdup_printf (
      "{\"prdId\":\"%s\",\"changelog\":\"step\",\"versionType\":\"patch\",\"force\":true}", prd_id);
  gint64 ids_a[4], ids_b[4];
  GHashTable *seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint patch_a = 0, patch_b = 0;

  /* Interleaved and without waiting: every one gets its own version, and
   * one client's requests are served in the order it sent them. */
  for (int i = 0; i < 4; i++)
    {
      ids_a[i] = prd_test_client_emit (a, "create-version", payload);
      ids_b[i] = prd_test_client_emit (b, "create-version", payload);
    }
  for (int i = 0; i < 4; i++)
    {
      g_autoptr (JsonNode) ack_a = prd_test_client_wait_ack (a, ids_a[i]);
      g_autoptr (JsonNode) ack_b = prd_test_client_wait_ack (b, ids_b[i]);
      const char *va = ack_version (ack_a, "version");
      const char *vb = ack_version (ack_b, "version");
      guint pa = (guint) g_ascii_strtoull (strrchr (va, '.') + 1, NULL, 10);
      guint pb = (guint) g_ascii_strtoull (strrchr (vb, '.') + 1, NULL, 10);

      g_assert_true (g_str_has_prefix (va, "0.1."));
      g_assert_true (g_str_has_prefix (vb, "0.1."));
      g_assert_cmpuint (pa, >, patch_a);
      g_assert_cmpuint (pb, >, patch_b);
      patch_a = pa;
      patch_b = pb;
      g_assert_true (g_hash_table_add (seen, g_strdup (va)));
      g_assert_true (g_hash_table_add (seen, g_strdup (vb)));
    }
  g_assert_cmpuint (g_hash_table_size (seen), ==, 8);
  for (int p = 1; p <= 8; p++)
    {
      g_autofree char *v = g_strdup_printf ("0.1.%d", p);

      g_assert_true (g_hash_table_contains (seen, v));
    }
  g_hash_table_unref (seen);
  {
    g_autofree char *version = store_version (f, prd_id);

    g_assert_cmpstr (version, ==, "0.1.8");
  }
}

static void
test_autosave (Fixture *f, gconstpointer data)
{
  g_autofree char *prd_id = create_prd (f, "org", "text");
  g_autoptr (PrdTestClient) a = client_new (f, "alice", "org", PRD_ROLE_EDITOR);
  g_autofree char *vector = join_edit (a, prd_id);
  g_autofree char *vector2 = NULL;
  g_autoptr (JsonNode) start = NULL;
  g_autoptr (JsonNode) complete = NULL;
  g_autofree char *text = NULL;
  gint64 snapshot_seq = 0;
  JsonObject *object;

  /* Nothing unsaved yet: a few ticks pass without an auto-save. */
  prd_test_run_for (2500);
  for (GList *l = a->messages.head; l != NULL; l = l->next)
    g_assert_null (strstr (l->data, "auto-save"));

  vector2 = insert (a, prd_id, vector, 4, "!");
  start = prd_test_client_wait_event (a, "auto-save-start");
  object = json_node_get_object (start);
  g_assert_cmpstr (json_object_get_string_member (object, "prdId"), ==, prd_id);
  g_assert_true (g_str_has_suffix (json_object_get_string_member (object, "changesSince"), "Z"));
  g_assert_cmpuint (json_object_get_size (object), ==, 2);
  complete = prd_test_client_wait_event (a, "auto-save-complete");
  object = json_node_get_object (complete);
  g_assert_cmpstr (json_object_get_string_member (object, "prdId"), ==, prd_id);
  g_assert_true (g_str_has_suffix (json_object_get_string_member (object, "savedAt"), "Z"));
  g_assert_cmpint (json_object_get_int_member (object, "nextSaveIn"), ==, 1);
  g_assert_cmpuint (json_object_get_size (object), ==, 3);
  /* The snapshot covers the edit. */
  text = stored_text (f, prd_id, &snapshot_seq);
  g_assert_cmpstr (text, ==, "text!");
  g_assert_cmpint (snapshot_seq, ==, 2);

  /* Saved: no more auto-saves until the next change. */
  prd_test_run_for (2500);
  for (GList *l = a->messages.head; l != NULL; l = l->next)
    g_assert_null (strstr (l->data, "auto-save"));
}

static void
test_config (void)
{
  g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
  g_autoptr (GError) error = NULL;

  g_assert_cmpuint (prd_hub_config_get_collab (config)->autosave_interval, ==, 300);
  g_assert_true (prd_hub_config_load_data (config, "[collab]\nautosave-interval=7\n", -1, &error));
  g_assert_cmpuint (prd_hub_config_get_collab (config)->autosave_interval, ==, 7);
  g_assert_false (prd_hub_config_load_data (config, "[collab]\nautosave-interval=0\n", -1, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_clear_error (&error);
  g_assert_false (prd_hub_config_set (config, "collab", "autosave-interval", "86401", &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_clear_error (&error);
  g_assert_false (prd_hub_config_set (config, "collab", "autosave-interval", "x", &error));
  g_clear_error (&error);
  g_assert_true (prd_hub_config_set (config, "collab", "autosave-interval", "86400", &error));
  g_assert_cmpuint (prd_hub_config_get_collab (config)->autosave_interval, ==, 86400);
}

static void
test_bump (void)
{
  g_autoptr (GError) error = NULL;
  struct
  {
    const char *from, *type, *to;
  } cases[] = {
    { "0.1.0", "patch", "0.1.1" }, { "0.1.0", "minor", "0.2.0" },  { "0.1.9", "major", "1.0.0" },
    { "1.2.3", "minor", "1.3.0" }, { "9.9.9", "patch", "9.9.10" },
  };
  const char *bad_versions[] = { "1.2", "1.2.3.4",   "01.2.3",     "a.b.c",         "1..2",
                                 "",    "1.2.3-rc1", "1.2.3/../x", "1234567890.0.0" };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *next = prd_version_bump (cases[i].from, cases[i].type, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (next, ==, cases[i].to);
    }
  g_assert_null (prd_version_bump ("0.1.0", "mega", &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_clear_error (&error);
  for (guint i = 0; i < G_N_ELEMENTS (bad_versions); i++)
    {
      g_assert_false (prd_git_validate_version (bad_versions[i], &error));
      g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
      g_clear_error (&error);
    }
}

/* Compaction of the versions repository (PrdGitRepo alone). */

G_DEFINE_AUTOPTR_CLEANUP_FUNC (git_packbuilder, git_packbuilder_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (git_odb, git_odb_free)

static int
collect_oid (const git_oid *oid, void *payload)
{
  g_array_append_val ((GArray *) payload, *oid);
  return 0;
}

/* Runs git --git-dir=@git_dir with @args (NULL-terminated); returns its
 * output and fails the test if git fails. */
static char *
git_at (const char *git_dir, const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  g_autofree char *err = NULL;
  char *out = NULL;
  int status = 0;

  g_ptr_array_add (argv, g_strdup ("git"));
  g_ptr_array_add (argv, g_strdup_printf ("--git-dir=%s", git_dir));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("git %s failed: %s", args[0], err);
  return out;
}

static guint
count_lines (const char *text)
{
  guint n = 0;

  for (const char *p = text; *p != '\0'; p++)
    n += *p == '\n';
  return n;
}

/* Files under @dir (recursively) whose name @accept takes. */
static guint
count_files (const char *dir, gboolean (*accept) (const char *name))
{
  g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
  const char *name;
  guint n = 0;

  while (listing != NULL && (name = g_dir_read_name (listing)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        n += count_files (path, accept);
      else if (accept (name))
        n++;
    }
  return n;
}

static gboolean
is_object_name (const char *name)
{
  return strlen (name) == 38 && strspn (name, "0123456789abcdef") == 38;
}

static gboolean
is_pack_name (const char *name)
{
  return g_str_has_prefix (name, "pack-") && g_str_has_suffix (name, ".pack");
}

static gboolean
is_any (const char *name)
{
  return TRUE;
}

/* The loose objects (objects/xx/…) of the repository at @path. */
static guint
count_loose (const char *path)
{
  g_autofree char *objects = g_build_filename (path, "objects", NULL);
  g_autoptr (GDir) listing = g_dir_open (objects, 0, NULL);
  const char *name;
  guint n = 0;

  g_assert_nonnull (listing);
  while ((name = g_dir_read_name (listing)) != NULL)
    if (strlen (name) == 2 && strspn (name, "0123456789abcdef") == 2)
      {
        g_autofree char *dir = g_build_filename (objects, name, NULL);

        n += count_files (dir, is_object_name);
      }
  return n;
}

static guint
count_packs (const char *path)
{
  g_autofree char *packs = g_build_filename (path, "objects", "pack", NULL);

  return count_files (packs, is_pack_name);
}

static void
repo_init (PrdGitRepo *repo)
{
  g_autoptr (GAsyncResult) result = PRD_TEST_WAIT_FOR (prd_git_repo_init_async, repo, NULL);
  g_autoptr (GError) error = NULL;

  g_assert_true (prd_git_repo_init_finish (repo, result, &error));
  g_assert_no_error (error);
}

static void
repo_commit (PrdGitRepo *repo, const char *prd_id, const char *version, const char *text)
{
  g_autoptr (GAsyncResult) result =
      PRD_TEST_WAIT_FOR (prd_git_repo_commit_async, repo, prd_id, version, text, "v", "Ann",
                         "ann@org", g_get_real_time (), NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *hash = prd_git_repo_commit_finish (repo, result, &error);

  g_assert_no_error (error);
  g_assert_nonnull (hash);
  /* a compaction the commit started runs after its answer */
  prd_git_repo_wait_compaction (repo);
}

static char *
repo_read (PrdGitRepo *repo, const char *prd_id, const char *version, GError **error)
{
  g_autoptr (GAsyncResult) result =
      PRD_TEST_WAIT_FOR (prd_git_repo_read_async, repo, prd_id, version, NULL);

  return prd_git_repo_read_finish (repo, result, error);
}

#define PACK_VERSIONS (PRD_GIT_REPO_PACK_LOOSE_OBJECTS / 4)

static const char *const pack_prds[] = { "prd_pa", "prd_pb", "prd_pc" };

/* The @i-th version committed by test_pack(): its PRD, number and text. */
static void
pack_version (guint i, const char **prd_id, char **version, char **text)
{
  *prd_id = pack_prds[i % 3];
  *version = g_strdup_printf ("0.%u.0", i / 3 + 1);
  *text = g_strdup_printf ("# %s\n\nversion %u\n", *prd_id, i);
}

static void
check_pack_versions (PrdGitRepo *repo, guint n, const char *skip_prd)
{
  for (guint i = 0; i < n; i++)
    {
      const char *prd_id;
      g_autofree char *version = NULL;
      g_autofree char *text = NULL;
      g_autofree char *read = NULL;
      g_autoptr (GError) error = NULL;

      pack_version (i, &prd_id, &version, &text);
      read = repo_read (repo, prd_id, version, &error);
      if (g_strcmp0 (prd_id, skip_prd) == 0)
        {
          g_assert_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND);
          continue;
        }
      g_assert_no_error (error);
      g_assert_cmpstr (read, ==, text);
    }
}

/* Versions past the threshold: their objects end up in one pack and the
 * refs in packed-refs, and reading, diffing, purging, dropping a tag,
 * copying and stock git all work on them. */
static void
test_pack (void)
{
  g_autofree char *dir = prd_test_make_tmp_dir ("prd-versions-pack-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "versions.git", NULL);
  g_autofree char *tags_dir = g_build_filename (path, "refs", "tags", NULL);
  g_autofree char *main_ref = g_build_filename (path, "refs", "heads", "main", NULL);
  g_autofree char *packed_path = g_build_filename (path, "packed-refs", NULL);
  g_autofree char *copy = g_build_filename (dir, "copy.git", NULL);
  g_autofree char *export_ref =
      g_build_filename (path, "refs", "prdhub", "export", "x", "main", NULL);
  g_autoptr (PrdGitRepo) repo = prd_git_repo_new (path);
  g_autoptr (GError) error = NULL;
  g_autofree char *packed = NULL;
  guint n_tags = 0;

  repo_init (repo);
  for (guint i = 0; i < PACK_VERSIONS; i++)
    {
      const char *prd_id;
      g_autofree char *version = NULL;
      g_autofree char *text = NULL;
      g_autofree char *read = NULL;

      pack_version (i, &prd_id, &version, &text);
      repo_commit (repo, prd_id, version, text);
      /* waits for a compaction the commit started */
      read = repo_read (repo, prd_id, version, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (read, ==, text);
      if (i == 0)
        {
          /* a ref of the git integration's export (refs/prdhub/) */
          g_autoptr (git_repository) handle = NULL;
          g_autoptr (git_reference) ref = NULL;
          git_oid oid;

          g_assert_cmpint (git_repository_open_bare (&handle, path), ==, 0);
          g_assert_cmpint (git_reference_name_to_id (&oid, handle, "refs/heads/main"), ==, 0);
          g_assert_cmpint (
              git_reference_create (&ref, handle, "refs/prdhub/export/x/main", &oid, 0, "test"), ==,
              0);
        }
      if (i == PACK_VERSIONS - 2)
        {
          /* one version before the threshold: nothing packed */
          g_assert_cmpuint (count_loose (path), ==, 4 * (PACK_VERSIONS - 1));
          g_assert_cmpuint (count_packs (path), ==, 0);
          g_assert_cmpuint (count_files (tags_dir, is_any), ==, PACK_VERSIONS - 1);
        }
    }
  g_assert_cmpuint (count_loose (path), ==, 0);
  g_assert_cmpuint (count_packs (path), ==, 1);
  g_assert_cmpuint (count_files (tags_dir, is_any), ==, 0);
  g_assert_false (g_file_test (main_ref, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_get_contents (packed_path, &packed, NULL, NULL));
  g_assert_nonnull (strstr (packed, " refs/heads/main\n"));
  g_assert_nonnull (strstr (packed, " refs/tags/prd_pb/v0.1.0\n^"));
  /* the integration's refs stay loose: its thread deletes them */
  g_assert_null (strstr (packed, "refs/prdhub/"));
  g_assert_true (g_file_test (export_ref, G_FILE_TEST_EXISTS));
  check_pack_versions (repo, PACK_VERSIONS, NULL);
  {
    g_autoptr (GAsyncResult) result =
        PRD_TEST_WAIT_FOR (prd_git_repo_diff_async, repo, "prd_pa", "0.1.0", "0.2.0", NULL);
    g_autofree char *diff = prd_git_repo_diff_finish (repo, result, &error);

    g_assert_no_error (error);
    g_assert_nonnull (strstr (diff, "-version 0\n+version 3\n"));
  }
  {
    const char *fsck[] = { "fsck", "--strict", "--no-dangling", NULL };
    const char *log[] = { "log", "--all", "--format=%H", NULL };
    const char *tags[] = { "tag", "-l", NULL };
    const char *show[] = { "show", "prd_pc/v0.2.0:prd_pc.md", NULL };
    g_autofree char *fsck_out = git_at (path, fsck);
    g_autofree char *log_out = git_at (path, log);
    g_autofree char *tags_out = git_at (path, tags);
    g_autofree char *show_out = git_at (path, show);

    g_assert_cmpuint (count_lines (log_out), ==, PACK_VERSIONS);
    g_assert_cmpuint (count_lines (tags_out), ==, PACK_VERSIONS);
    g_assert_cmpstr (show_out, ==, "# prd_pc\n\nversion 5\n");
  }
  /* a backup of it */
  g_assert_true (prd_git_repo_copy (path, copy, &error));
  g_assert_no_error (error);
  {
    const char *fsck[] = { "fsck", "--strict", NULL };
    const char *tags[] = { "tag", "-l", NULL };
    g_autofree char *fsck_out = git_at (copy, fsck);
    g_autofree char *tags_out = git_at (copy, tags);

    g_assert_cmpuint (count_lines (tags_out), ==, PACK_VERSIONS);
  }

  /* one more version, loose, then a purge and a dropped tag on packed refs */
  repo_commit (repo, "prd_pc", "9.0.0", "loose\n");
  g_assert_cmpuint (count_loose (path), ==, 4);
  {
    g_autoptr (GAsyncResult) result =
        PRD_TEST_WAIT_FOR (prd_git_repo_purge_async, repo, "prd_pa", "deleted", "Ann", "ann@org",
                           g_get_real_time (), NULL);

    g_assert_true (prd_git_repo_purge_finish (repo, result, &n_tags, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (n_tags, ==, (PACK_VERSIONS + 2) / 3);
  }
  {
    g_autoptr (GAsyncResult) result =
        PRD_TEST_WAIT_FOR (prd_git_repo_drop_tag_async, repo, "prd_pb", "0.1.0", NULL);

    g_assert_true (prd_git_repo_drop_tag_finish (repo, result, &error));
    g_assert_no_error (error);
  }
  {
    g_autofree char *read = repo_read (repo, "prd_pb", "0.1.0", &error);

    g_assert_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND);
    g_clear_error (&error);
  }
  {
    const char *fsck[] = { "fsck", "--strict", "--no-dangling", NULL };
    const char *purged[] = { "tag", "-l", "prd_pa/*", NULL };
    const char *tags[] = { "tag", "-l", NULL };
    g_autofree char *fsck_out = git_at (path, fsck);
    g_autofree char *purged_out = git_at (path, purged);
    g_autofree char *tags_out = git_at (path, tags);

    g_assert_cmpstr (purged_out, ==, "");
    g_assert_cmpuint (count_lines (tags_out), ==, PACK_VERSIONS + 1 - n_tags - 1);
  }

  /* what a restarted hub reads */
  g_clear_object (&repo);
  repo = prd_git_repo_new (path);
  repo_init (repo);
  for (guint i = 0; i < PACK_VERSIONS; i++)
    {
      const char *prd_id;
      g_autofree char *version = NULL;
      g_autofree char *text = NULL;
      g_autofree char *read = NULL;

      pack_version (i, &prd_id, &version, &text);
      read = repo_read (repo, prd_id, version, &error);
      if (strcmp (prd_id, "prd_pa") == 0 || (i == 1))
        {
          g_assert_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND);
          g_clear_error (&error);
          continue;
        }
      g_assert_no_error (error);
      g_assert_cmpstr (read, ==, text);
    }
  g_clear_object (&repo);
  prd_test_remove_tree (dir);
}

/* Writes @n loose blobs "@label <i>" into @repo; their ids into @oids. */
static void
write_loose_blobs (git_repository *repo, const char *label, guint n, GArray *oids)
{
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *text = g_strdup_printf ("%s %u\n", label, i);
      git_oid oid;

      g_assert_cmpint (git_blob_create_from_buffer (&oid, repo, text, strlen (text)), ==, 0);
      g_array_append_val (oids, oid);
    }
}

/* A pack of @oids written into @repo, whose loose copies stay. */
static void
write_pack (git_repository *repo, const git_oid *oids, guint n)
{
  g_autoptr (git_packbuilder) builder = NULL;
  g_autofree char *pack_dir =
      g_build_filename (git_repository_path (repo), "objects", "pack", NULL);

  g_assert_cmpint (git_packbuilder_new (&builder, repo), ==, 0);
  for (guint i = 0; i < n; i++)
    g_assert_cmpint (git_packbuilder_insert (builder, &oids[i], NULL), ==, 0);
  g_assert_cmpint (git_packbuilder_write (builder, pack_dir, 0, NULL, NULL), ==, 0);
}

static void
assert_blobs (git_repository *repo, GArray *oids)
{
  for (guint i = 0; i < oids->len; i++)
    {
      g_autoptr (git_blob) blob = NULL;

      g_assert_cmpint (git_blob_lookup (&blob, repo, &g_array_index (oids, git_oid, i)), ==, 0);
    }
}

/* What a crash in the middle of a compaction leaves: a pack whose objects
 * are loose too, packed-refs whose refs are loose too, and a pack being
 * written. The repository reads the same, and its next start packs what
 * is loose and removes the unfinished pack. */
static void
test_pack_crash (void)
{
  g_autofree char *dir = prd_test_make_tmp_dir ("prd-versions-pack-crash-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "versions.git", NULL);
  g_autofree char *tags_dir = g_build_filename (path, "refs", "tags", NULL);
  g_autofree char *unfinished =
      g_build_filename (path, "objects", "pack", "pack_git2_0a1b2c", NULL);
  g_autoptr (PrdGitRepo) repo = prd_git_repo_new (path);
  g_autoptr (git_repository) handle = NULL;
  g_autoptr (GArray) oids = g_array_new (FALSE, FALSE, sizeof (git_oid));
  g_autoptr (GError) error = NULL;
  guint n_versions = 12;

  repo_init (repo);
  for (guint i = 0; i < n_versions; i++)
    {
      const char *prd_id;
      g_autofree char *version = NULL;
      g_autofree char *text = NULL;

      pack_version (i, &prd_id, &version, &text);
      repo_commit (repo, prd_id, version, text);
    }
  g_clear_object (&repo);

  /* every object in a pack and loose; every ref in packed-refs and loose;
   * enough loose objects for a compaction */
  g_assert_cmpint (git_repository_open_bare (&handle, path), ==, 0);
  write_loose_blobs (handle, "crash", PRD_GIT_REPO_PACK_LOOSE_OBJECTS, oids);
  {
    g_autoptr (GArray) all = g_array_new (FALSE, FALSE, sizeof (git_oid));
    g_autoptr (git_odb) odb = NULL;

    g_assert_cmpint (git_repository_odb (&odb, handle), ==, 0);
    g_assert_cmpint (git_odb_foreach (odb, collect_oid, all), ==, 0);
    write_pack (handle, (const git_oid *) all->data, all->len);
  }
  {
    const char *pack_refs[] = { "pack-refs", "--all", "--no-prune", NULL };
    g_autofree char *out = git_at (path, pack_refs);
  }
  g_assert_true (g_file_set_contents (unfinished, "PACK", -1, NULL));
  g_clear_pointer (&handle, git_repository_free);
  g_assert_cmpuint (count_loose (path), ==, 4 * n_versions + PRD_GIT_REPO_PACK_LOOSE_OBJECTS);
  g_assert_cmpuint (count_files (tags_dir, is_any), ==, n_versions);

  repo = prd_git_repo_new (path);
  repo_init (repo);
  check_pack_versions (repo, n_versions, NULL);
  g_assert_false (g_file_test (unfinished, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (count_loose (path), ==, 0);
  g_assert_cmpuint (count_packs (path), ==, 2);
  g_assert_cmpuint (count_files (tags_dir, is_any), ==, 0);
  g_assert_cmpint (git_repository_open_bare (&handle, path), ==, 0);
  assert_blobs (handle, oids);
  {
    const char *fsck[] = { "fsck", "--strict", NULL };
    const char *tags[] = { "tag", "-l", NULL };
    g_autofree char *fsck_out = git_at (path, fsck);
    g_autofree char *tags_out = git_at (path, tags);

    g_assert_cmpuint (count_lines (tags_out), ==, n_versions);
  }
  g_clear_object (&repo);
  prd_test_remove_tree (dir);
}

/* Pack files this process holds open that were removed. */
static guint
count_deleted_open_packs (void)
{
  g_autoptr (GDir) fds = g_dir_open ("/proc/self/fd", 0, NULL);
  const char *name;
  guint n = 0;

  g_assert_nonnull (fds);
  while ((name = g_dir_read_name (fds)) != NULL)
    {
      g_autofree char *link = g_build_filename ("/proc/self/fd", name, NULL);
      g_autofree char *target = g_file_read_link (link, NULL);

      if (target != NULL && strstr (target, "/objects/pack/pack-") != NULL &&
          g_str_has_suffix (target, " (deleted)"))
        n++;
    }
  return n;
}

/* At most PRD_GIT_REPO_PACK_MAX_PACKS packs: one less and a compaction
 * adds one; that many and it writes one pack of everything. A handle
 * opened before (another thread's, a backup's) still reads every object
 * once the packs it knew are gone. */
static void
test_pack_max (void)
{
  g_autofree char *dir = prd_test_make_tmp_dir ("prd-versions-pack-max-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "versions.git", NULL);
  g_autoptr (PrdGitRepo) repo = prd_git_repo_new (path);
  g_autoptr (git_repository) handle = NULL;
  g_autoptr (git_repository) reader = NULL;
  g_autoptr (GArray) oids = g_array_new (FALSE, FALSE, sizeof (git_oid));

  repo_init (repo);
  g_clear_object (&repo);
  g_assert_cmpint (git_repository_open_bare (&handle, path), ==, 0);
  for (guint i = 0; i < PRD_GIT_REPO_PACK_MAX_PACKS - 1; i++)
    {
      g_autofree char *label = g_strdup_printf ("pack %u", i);
      guint first = oids->len;

      write_loose_blobs (handle, label, 2, oids);
      write_pack (handle, &g_array_index (oids, git_oid, first), 2);
    }
  write_loose_blobs (handle, "first", PRD_GIT_REPO_PACK_LOOSE_OBJECTS, oids);
  g_assert_cmpuint (count_packs (path), ==, PRD_GIT_REPO_PACK_MAX_PACKS - 1);

  repo = prd_git_repo_new (path);
  repo_init (repo);
  g_clear_object (&repo);
  g_assert_cmpuint (count_loose (path), ==, 0);
  g_assert_cmpuint (count_packs (path), ==, PRD_GIT_REPO_PACK_MAX_PACKS);

  /* a reader that has read from the packs there now */
  g_assert_cmpint (git_repository_open_bare (&reader, path), ==, 0);
  {
    g_autoptr (git_blob) blob = NULL;

    g_assert_cmpint (git_blob_lookup (&blob, reader, &g_array_index (oids, git_oid, 0)), ==, 0);
  }
  write_loose_blobs (handle, "second", PRD_GIT_REPO_PACK_LOOSE_OBJECTS, oids);
  repo = prd_git_repo_new (path);
  repo_init (repo);
  g_assert_cmpuint (count_loose (path), ==, 0);
  g_assert_cmpuint (count_packs (path), ==, 1);
  assert_blobs (reader, oids);
  g_clear_pointer (&reader, git_repository_free);
  g_clear_pointer (&handle, git_repository_free);
  /* the repository's own handle let the removed packs go (their space) */
  g_assert_cmpuint (count_deleted_open_packs (), ==, 0);
  g_clear_object (&repo);
  g_assert_cmpint (git_repository_open_bare (&handle, path), ==, 0);
  assert_blobs (handle, oids);
  prd_test_remove_tree (dir);
}

/* The renames onto packed-refs that the inotify watch @inotify_fd saw
 * (it watches creations too: the kernel merges an event into an identical
 * one just before it, and packed-refs.lock is created before each). */
static guint
count_packed_refs_writes (int inotify_fd)
{
  char buf[64 * 1024] __attribute__ ((aligned (__alignof__(struct inotify_event))));
  guint n = 0;
  gssize len;

  while ((len = read (inotify_fd, buf, sizeof buf)) > 0)
    for (char *p = buf; p < buf + len;)
      {
        const struct inotify_event *event = (const struct inotify_event *) p;

        if ((event->mask & IN_MOVED_TO) && event->len > 0 &&
            strcmp (event->name, "packed-refs") == 0)
          n++;
        p += sizeof (struct inotify_event) + event->len;
      }
  return n;
}

/* A purge of a PRD whose tags are packed (and one loose) deletes them all
 * with one rewrite of packed-refs, and keeps the other PRDs' tags. */
static void
test_purge_packed (void)
{
  g_autofree char *dir = prd_test_make_tmp_dir ("prd-versions-purge-packed-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "versions.git", NULL);
  g_autofree char *packed_path = g_build_filename (path, "packed-refs", NULL);
  g_autofree char *victim_dir = g_build_filename (path, "refs", "tags", "prd_victim", NULL);
  g_autofree char *packed = NULL;
  g_autoptr (PrdGitRepo) repo = prd_git_repo_new (path);
  g_autoptr (GError) error = NULL;
  guint n_tags = 0;
  int fd;

  repo_init (repo);
  for (guint i = 0; i < PACK_VERSIONS; i++)
    {
      g_autofree char *version = g_strdup_printf ("0.%u.0", i / 2 + 1);
      g_autofree char *text = g_strdup_printf ("# text %u\n", i);

      repo_commit (repo, i % 2 == 0 ? "prd_victim" : "prd_other", version, text);
    }
  g_assert_true (g_file_get_contents (packed_path, &packed, NULL, NULL));
  g_assert_nonnull (strstr (packed, " refs/tags/prd_victim/v0.1.0\n"));
  g_assert_nonnull (strstr (packed, " refs/tags/prd_victim/v0.64.0\n"));
  g_assert_cmpuint (count_files (victim_dir, is_any), ==, 0);
  /* and one loose */
  repo_commit (repo, "prd_victim", "1.0.0", "# loose\n");
  g_assert_cmpuint (count_files (victim_dir, is_any), ==, 1);

  fd = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (inotify_add_watch (fd, path, IN_CREATE | IN_MOVED_TO), >=, 0);
  {
    g_autoptr (GAsyncResult) result =
        PRD_TEST_WAIT_FOR (prd_git_repo_purge_async, repo, "prd_victim", "deleted", "Ann",
                           "ann@org", g_get_real_time (), NULL);

    g_assert_true (prd_git_repo_purge_finish (repo, result, &n_tags, &error));
    g_assert_no_error (error);
  }
  g_assert_cmpuint (count_packed_refs_writes (fd), ==, 1);
  close (fd);
  g_assert_cmpuint (n_tags, ==, PACK_VERSIONS / 2 + 1);
  g_assert_false (g_file_test (victim_dir, G_FILE_TEST_EXISTS));
  {
    const char *victim[] = { "for-each-ref", "refs/tags/prd_victim", NULL };
    const char *other[] = { "tag", "-l", "prd_other/*", NULL };
    const char *fsck[] = { "fsck", "--strict", "--no-dangling", NULL };
    g_autofree char *victim_out = git_at (path, victim);
    g_autofree char *other_out = git_at (path, other);
    g_autofree char *fsck_out = git_at (path, fsck);

    g_assert_cmpstr (victim_out, ==, "");
    g_assert_cmpuint (count_lines (other_out), ==, PACK_VERSIONS / 2);
  }
  for (guint i = 0; i < PACK_VERSIONS; i++)
    {
      g_autofree char *version = g_strdup_printf ("0.%u.0", i / 2 + 1);
      g_autofree char *text = g_strdup_printf ("# text %u\n", i);
      g_autofree char *read =
          repo_read (repo, i % 2 == 0 ? "prd_victim" : "prd_other", version, &error);

      if (i % 2 == 0)
        {
          g_assert_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND);
          g_clear_error (&error);
          continue;
        }
      g_assert_no_error (error);
      g_assert_cmpstr (read, ==, text);
    }
  /* what a restarted hub reads */
  g_clear_object (&repo);
  repo = prd_git_repo_new (path);
  repo_init (repo);
  {
    g_autofree char *read = repo_read (repo, "prd_victim", "1.0.0", &error);

    g_assert_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND);
    g_clear_error (&error);
  }
  g_clear_object (&repo);
  prd_test_remove_tree (dir);
}

typedef struct
{
  GMutex lock;
  GCond cond;
  gboolean paused;
  gboolean released;
} Pause;

static void
pause_compaction (PrdGitRepo *repo, gpointer user_data)
{
  Pause *pause = user_data;
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&pause->lock);

  pause->paused = TRUE;
  g_cond_broadcast (&pause->cond);
  while (!pause->released)
    g_cond_wait (&pause->cond, &pause->lock);
}

/* A compaction holds the repository only for its refs: while it is paused
 * once its pack is written, a version is committed and versions are read
 * (if it held the repository, they would wait for it, and the harness's
 * wait for their results fail). */
static void
test_pack_concurrent (void)
{
  g_autofree char *dir = prd_test_make_tmp_dir ("prd-versions-pack-concurrent-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "versions.git", NULL);
  g_autoptr (PrdGitRepo) repo = prd_git_repo_new (path);
  g_autoptr (GError) error = NULL;
  Pause pause = { 0 };

  g_mutex_init (&pause.lock);
  g_cond_init (&pause.cond);
  repo_init (repo);
  for (guint i = 0; i + 1 < PACK_VERSIONS; i++)
    {
      const char *prd_id;
      g_autofree char *version = NULL;
      g_autofree char *text = NULL;

      pack_version (i, &prd_id, &version, &text);
      repo_commit (repo, prd_id, version, text);
    }
  g_assert_cmpuint (count_packs (path), ==, 0);
  prd_git_repo_set_compact_hook (repo, pause_compaction, &pause);
  {
    const char *prd_id;
    g_autofree char *version = NULL;
    g_autofree char *text = NULL;
    g_autoptr (GAsyncResult) result = NULL;
    g_autofree char *hash = NULL;

    /* the version that starts the compaction */
    pack_version (PACK_VERSIONS - 1, &prd_id, &version, &text);
    result = PRD_TEST_WAIT_FOR (prd_git_repo_commit_async, repo, prd_id, version, text, "v", "Ann",
                                "ann@org", g_get_real_time (), NULL);
    hash = prd_git_repo_commit_finish (repo, result, &error);
    g_assert_no_error (error);
  }
  g_mutex_lock (&pause.lock);
  while (!pause.paused)
    g_cond_wait (&pause.cond, &pause.lock);
  g_mutex_unlock (&pause.lock);
  g_assert_cmpuint (count_packs (path), ==, 1);
  {
    g_autoptr (GAsyncResult) result =
        PRD_TEST_WAIT_FOR (prd_git_repo_commit_async, repo, "prd_pa", "9.0.0", "during\n", "v",
                           "Ann", "ann@org", g_get_real_time (), NULL);
    g_autofree char *hash = prd_git_repo_commit_finish (repo, result, &error);
    g_autofree char *read = NULL;

    g_assert_no_error (error);
    read = repo_read (repo, "prd_pa", "9.0.0", &error);
    g_assert_no_error (error);
    g_assert_cmpstr (read, ==, "during\n");
  }
  check_pack_versions (repo, PACK_VERSIONS, NULL);
  g_mutex_lock (&pause.lock);
  pause.released = TRUE;
  g_cond_broadcast (&pause.cond);
  g_mutex_unlock (&pause.lock);
  prd_git_repo_wait_compaction (repo);
  prd_git_repo_set_compact_hook (repo, NULL, NULL);

  /* the version written meanwhile stays loose, everything else is packed */
  g_assert_cmpuint (count_loose (path), ==, 4);
  g_assert_cmpuint (count_packs (path), ==, 1);
  check_pack_versions (repo, PACK_VERSIONS, NULL);
  {
    g_autofree char *read = repo_read (repo, "prd_pa", "9.0.0", &error);
    const char *fsck[] = { "fsck", "--strict", "--no-dangling", NULL };
    const char *tags[] = { "tag", "-l", NULL };
    g_autofree char *fsck_out = git_at (path, fsck);
    g_autofree char *tags_out = git_at (path, tags);

    g_assert_no_error (error);
    g_assert_cmpstr (read, ==, "during\n");
    g_assert_cmpuint (count_lines (tags_out), ==, PACK_VERSIONS + 1);
  }
  g_clear_object (&repo);
  g_mutex_clear (&pause.lock);
  g_cond_clear (&pause.cond);
  prd_test_remove_tree (dir);
}

/* A write libgit2 fails without an error of its own (its file buffer's,
 * here past the file size limit, as on a full disk) is reported as a
 * storage error that names no earlier, expected failure (the lookup of
 * the tag that is not there yet), and leaves no version. */
static void
test_write_error (void)
{
  g_autofree char *dir = prd_test_make_tmp_dir ("prd-versions-write-error-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "versions.git", NULL);
  g_autoptr (PrdGitRepo) repo = prd_git_repo_new (path);
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) big = g_string_new (NULL);
  g_autofree char *hash = NULL;
  struct rlimit old_limit, limit;
  void (*old_handler) (int);

  repo_init (repo);
  repo_commit (repo, "prd_big", "0.1.0", "# small\n");
  /* about 1 MiB that deflate cannot shrink below the limit */
  for (guint i = 0; i < 1024 * 1024 / 8; i++)
    g_string_append_printf (big, "%08x", g_random_int ());
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &old_limit), ==, 0);
  limit = old_limit;
  limit.rlim_cur = 64 * 1024;
  old_handler = signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limit), ==, 0);
  {
    g_autoptr (GAsyncResult) result =
        PRD_TEST_WAIT_FOR (prd_git_repo_commit_async, repo, "prd_big", "0.2.0", big->str, "v",
                           "Ann", "ann@org", g_get_real_time (), NULL);

    hash = prd_git_repo_commit_finish (repo, result, &error);
  }
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &old_limit), ==, 0);
  signal (SIGXFSZ, old_handler);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_STORAGE);
  g_assert_null (hash);
  g_test_message ("%s", error->message);
  g_assert_true (g_str_has_prefix (error->message, "Cannot write the blob: "));
  g_assert_null (strstr (error->message, "refs/tags"));
  g_assert_null (strstr (error->message, "not found"));
  g_clear_error (&error);
  {
    g_autofree char *read = repo_read (repo, "prd_big", "0.2.0", &error);

    g_assert_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND);
    g_clear_error (&error);
  }
  /* and the repository takes the version once it can be written */
  repo_commit (repo, "prd_big", "0.2.0", big->str);
  g_clear_object (&repo);
  prd_test_remove_tree (dir);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/prd/versions/config", test_config);
  g_test_add_func ("/prd/versions/bump", test_bump);
  g_test_add_func ("/prd/versions/signature-names", test_signature_names);
  g_test_add_func ("/prd/versions/pack", test_pack);
  g_test_add_func ("/prd/versions/pack-crash", test_pack_crash);
  g_test_add_func ("/prd/versions/pack-max", test_pack_max);
  g_test_add_func ("/prd/versions/purge-packed", test_purge_packed);
  g_test_add_func ("/prd/versions/pack-concurrent", test_pack_concurrent);
  g_test_add_func ("/prd/versions/write-error", test_write_error);
  g_test_add ("/prd/versions/git", Fixture, "[collab]\nautosave-interval=3600\n", fixture_setup,
              test_git, fixture_teardown);
  g_test_add ("/prd/versions/stale-locks", Fixture, NULL, fixture_setup, test_stale_locks,
              fixture_teardown);
  g_test_add ("/prd/versions/deleted-before-record", Fixture, NULL, fixture_setup,
              test_deleted_before_record, fixture_teardown);
  g_test_add ("/prd/versions/unrecorded-tag", Fixture, NULL, fixture_setup, test_unrecorded_tag,
              fixture_teardown);
  g_test_add ("/prd/versions/refusals", Fixture, NULL, fixture_setup, test_refusals,
              fixture_teardown);
  g_test_add ("/prd/versions/concurrent", Fixture, NULL, fixture_setup, test_concurrent,
              fixture_teardown);
  g_test_add ("/prd/versions/autosave", Fixture, "[collab]\nautosave-interval=1\n", fixture_setup,
              test_autosave, fixture_teardown);
  return g_test_run ();
}
