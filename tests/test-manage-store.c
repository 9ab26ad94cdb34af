/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What managing PRDs keeps: archiving and renaming (PrdManageStore on
 * SQLite), the organization's PRDs a page at a time, a user's notifications newest first with the
 * unread filter and the paging cursor, and purging a deleted PRD's versions from git.
 */
#include "config.h"

#include <string.h>

#include <gio/gio.h>

#include "prd-error.h"
#include "prd-git-repo.h"
#include "prd-manage-store.h"
#include "prd-notification-store.h"
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
  g_autoptr (PrdStoreInfo) a = NULL;

  f->dir = g_dir_make_tmp ("prd-manage-store-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "prdhub.db", NULL);
  f->store = prd_test_store_open (f->path, &error);
  g_assert_no_error (error);
  a = prd_test_store_create (f->store, "prd_a", "org_a", "Alpha", "alice", &error);
  g_assert_no_error (error);
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

static PrdStoreInfo *
update (Fixture *f, const char *prd_id, const char *title, PrdManageArchive archive, GError **error)
{
  g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (
      prd_manage_store_update_async, PRD_MANAGE_STORE (f->store), prd_id, title, archive, NULL);

  return prd_manage_store_update_finish (PRD_MANAGE_STORE (f->store), res, error);
}

static PrdStoreInfo *
get (Fixture *f, const char *prd_id)
{
  g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_store_get_async, f->store, prd_id, NULL);
  g_autoptr (GError) error = NULL;
  PrdStoreInfo *info = prd_store_get_finish (f->store, res, &error);

  g_assert_no_error (error);
  return info;
}

static void
test_archive_and_rename (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdStoreInfo) created = get (f, "prd_a");
  g_autoptr (PrdStoreInfo) archived = NULL;
  g_autoptr (PrdStoreInfo) again = NULL;
  g_autoptr (PrdStoreInfo) renamed = NULL;
  g_autoptr (PrdStoreInfo) cleared = NULL;
  g_autoptr (PrdStoreInfo) reopened = NULL;

  g_assert_cmpint (created->archived_at, ==, 0);

  archived = update (f, "prd_a", NULL, PRD_MANAGE_ARCHIVE_SET, &error);
  g_assert_no_error (error);
  g_assert_cmpint (archived->archived_at, >, 0);
  g_assert_cmpstr (archived->title, ==, "Alpha");
  g_assert_cmpint (archived->updated_at, >=, created->updated_at);

  /* Archiving again keeps the first time. */
  again = update (f, "prd_a", "Alpha 2", PRD_MANAGE_ARCHIVE_SET, &error);
  g_assert_no_error (error);
  g_assert_cmpint (again->archived_at, ==, archived->archived_at);
  g_assert_cmpstr (again->title, ==, "Alpha 2");

  renamed = update (f, "prd_a", "Alpha 3", PRD_MANAGE_ARCHIVE_KEEP, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (renamed->title, ==, "Alpha 3");
  g_assert_cmpint (renamed->archived_at, ==, archived->archived_at);

  cleared = update (f, "prd_a", NULL, PRD_MANAGE_ARCHIVE_CLEAR, &error);
  g_assert_no_error (error);
  g_assert_cmpint (cleared->archived_at, ==, 0);
  g_assert_cmpstr (cleared->title, ==, "Alpha 3");

  /* It is on disk: a store opened again reads the same. */
  prd_test_store_close (f->store);
  g_clear_object (&f->store);
  f->store = prd_test_store_open (f->path, &error);
  g_assert_no_error (error);
  reopened = get (f, "prd_a");
  g_assert_cmpstr (reopened->title, ==, "Alpha 3");
  g_assert_cmpint (reopened->archived_at, ==, 0);
}

/* The ids of one page of @org's PRDs, joined with spaces; its last PRD's
 * position in @last_created_at and @last_id (when not %NULL). */
static char *
list_page (Fixture *f,
           const char *org,
           PrdManageListWhich which,
           gint64 after_created_at,
           const char *after_id,
           guint limit,
           gint64 *last_created_at,
           char **last_id)
{
  g_autoptr (GAsyncResult) res =
      PRD_TEST_WAIT_FOR (prd_manage_store_list_page_async, PRD_MANAGE_STORE (f->store), org, which,
                         after_created_at, after_id, limit, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) infos =
      prd_manage_store_list_page_finish (PRD_MANAGE_STORE (f->store), res, &error);
  g_autoptr (GString) ids = g_string_new (NULL);

  g_assert_no_error (error);
  for (guint i = 0; i < infos->len; i++)
    {
      PrdStoreInfo *info = g_ptr_array_index (infos, i);

      g_assert_cmpstr (info->org, ==, org);
      g_string_append_printf (ids, "%s%s", i == 0 ? "" : " ", info->id);
      if (last_created_at != NULL)
        *last_created_at = info->created_at;
      if (last_id != NULL)
        {
          g_free (*last_id);
          *last_id = g_strdup (info->id);
        }
    }
  return g_string_free (g_steal_pointer (&ids), FALSE);
}

static void
test_list_page (Fixture *f, gconstpointer data)
{
  const char *const more[] = { "prd_b", "prd_c", "prd_d", "prd_e" };
  g_autoptr (GError) error = NULL;
  g_autofree char *last_id = NULL;
  gint64 last_created_at = 0;
  char *page;

  for (guint i = 0; i < G_N_ELEMENTS (more); i++)
    {
      g_autoptr (PrdStoreInfo) info =
          prd_test_store_create (f->store, more[i], "org_a", more[i], "alice", &error);

      g_assert_no_error (error);
    }
  {
    g_autoptr (PrdStoreInfo) other =
        prd_test_store_create (f->store, "prd_x", "org_b", "Other", "bob", &error);
    g_autoptr (PrdStoreInfo) b = update (f, "prd_b", NULL, PRD_MANAGE_ARCHIVE_SET, &error);
    g_autoptr (PrdStoreInfo) d = update (f, "prd_d", NULL, PRD_MANAGE_ARCHIVE_SET, &error);

    g_assert_no_error (error);
  }

  /* Each filter, in creation order, a page at a time. */
  page = list_page (f, "org_a", PRD_MANAGE_LIST_ACTIVE, 0, NULL, 2, &last_created_at, &last_id);
  g_assert_cmpstr (page, ==, "prd_a prd_c");
  g_free (page);
  page = list_page (f, "org_a", PRD_MANAGE_LIST_ACTIVE, last_created_at, last_id, 2, NULL, NULL);
  g_assert_cmpstr (page, ==, "prd_e");
  g_free (page);
  page = list_page (f, "org_a", PRD_MANAGE_LIST_ARCHIVED, 0, NULL, 10, NULL, NULL);
  g_assert_cmpstr (page, ==, "prd_b prd_d");
  g_free (page);
  page = list_page (f, "org_a", PRD_MANAGE_LIST_ALL, 0, NULL, 3, &last_created_at, &last_id);
  g_assert_cmpstr (page, ==, "prd_a prd_b prd_c");
  g_free (page);
  g_assert_cmpstr (last_id, ==, "prd_c");

  /* The cursor is a position: its PRD deleted, the next page still
   * starts right after it; one created meanwhile comes last. */
  {
    g_autoptr (GAsyncResult) res =
        PRD_TEST_WAIT_FOR (prd_store_delete_async, f->store, "prd_c", NULL);
    g_autoptr (PrdStoreInfo) late =
        prd_test_store_create (f->store, "prd_0", "org_a", "Late", "alice", &error);

    g_assert_true (prd_store_delete_finish (f->store, res, &error));
    g_assert_no_error (error);
  }
  page = list_page (f, "org_a", PRD_MANAGE_LIST_ALL, last_created_at, last_id, 3, NULL, NULL);
  g_assert_cmpstr (page, ==, "prd_d prd_e prd_0");
  g_free (page);

  /* Another organization's, and past the end. */
  page = list_page (f, "org_b", PRD_MANAGE_LIST_ALL, 0, NULL, 100, NULL, NULL);
  g_assert_cmpstr (page, ==, "prd_x");
  g_free (page);
  page = list_page (f, "org_b", PRD_MANAGE_LIST_ALL, G_MAXINT64, "prd_x", 100, NULL, NULL);
  g_assert_cmpstr (page, ==, "");
  g_free (page);
}

static void
test_refusals (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdStoreInfo) after = NULL;
  g_autofree char *long_title = g_strnfill (PRD_STORE_TITLE_MAX_CHARS + 1, 'x');
  struct
  {
    const char *prd_id;
    const char *title;
    int code;
  } cases[] = {
    { "prd_nope", "T", PRD_ERROR_PRD_NOT_FOUND },
    { "nope", "T", PRD_ERROR_INVALID_ID },
    { "prd_a", "", PRD_ERROR_INVALID_PAYLOAD },
    { "prd_a", long_title, PRD_ERROR_INVALID_PAYLOAD },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PrdStoreInfo) info =
          update (f, cases[i].prd_id, cases[i].title, PRD_MANAGE_ARCHIVE_SET, &error);

      g_assert_null (info);
      g_assert_error (error, PRD_ERROR, cases[i].code);
    }
  after = get (f, "prd_a");
  g_assert_cmpstr (after->title, ==, "Alpha");
  g_assert_cmpint (after->archived_at, ==, 0);
}

static GPtrArray *
list (Fixture *f, const char *user, gboolean unread_only, gint64 before, guint limit)
{
  PrdNotificationStore *store = PRD_NOTIFICATION_STORE (f->store);
  g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (
      prd_notification_store_list_async, store, "org_a", user, unread_only, before, limit, NULL);
  g_autoptr (GError) error = NULL;
  GPtrArray *records = prd_notification_store_list_finish (store, res, &error);

  g_assert_no_error (error);
  return records;
}

static const char *
id_at (GPtrArray *records, guint i)
{
  return ((PrdNotificationRecord *) g_ptr_array_index (records, i))->id;
}

static void
test_notifications_newest_first (Fixture *f, gconstpointer data)
{
  PrdNotificationStore *store = PRD_NOTIFICATION_STORE (f->store);
  g_autoptr (GPtrArray) notifications =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_notification_record_free);
  g_autoptr (GPtrArray) activities =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_activity_record_free);
  g_autoptr (GPtrArray) all = NULL;
  g_autoptr (GPtrArray) page = NULL;
  g_autoptr (GPtrArray) unread = NULL;
  g_autoptr (GPtrArray) carol = NULL;
  g_autoptr (GError) error = NULL;
  const char *const read_ids[] = { "notif_3", NULL };

  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *id = g_strdup_printf ("notif_%u", i);

      g_ptr_array_add (notifications, prd_notification_record_new (id, "bob", "org_a", "{}"));
    }
  g_ptr_array_add (notifications,
                   prd_notification_record_new ("notif_carol", "carol", "org_a", "{}"));
  g_ptr_array_add (notifications,
                   prd_notification_record_new ("notif_other", "bob", "org_b", "{}"));
  {
    g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_notification_store_record_async, store,
                                                      notifications, activities, NULL);

    g_assert_true (prd_notification_store_record_finish (store, res, &error));
    g_assert_no_error (error);
  }
  {
    g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_notification_store_mark_read_async, store,
                                                      "org_a", "bob", read_ids, NULL);

    g_assert_cmpint (prd_notification_store_mark_read_finish (store, res, &error), ==, 1);
    g_assert_no_error (error);
  }

  all = list (f, "bob", FALSE, G_MAXINT64, 500);
  g_assert_cmpuint (all->len, ==, 5);
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *id = g_strdup_printf ("notif_%u", 4 - i);
      PrdNotificationRecord *record = g_ptr_array_index (all, i);

      g_assert_cmpstr (record->id, ==, id);
      g_assert_cmpstr (record->org, ==, "org_a");
      g_assert_cmpint (record->read, ==, g_str_equal (id, "notif_3"));
    }

  /* The cursor: strictly older than the last seq of a page. */
  page = list (f, "bob", FALSE, ((PrdNotificationRecord *) g_ptr_array_index (all, 1))->seq, 2);
  g_assert_cmpuint (page->len, ==, 2);
  g_assert_cmpstr (id_at (page, 0), ==, "notif_2");
  g_assert_cmpstr (id_at (page, 1), ==, "notif_1");

  unread = list (f, "bob", TRUE, G_MAXINT64, 500);
  g_assert_cmpuint (unread->len, ==, 4);
  g_assert_cmpstr (id_at (unread, 0), ==, "notif_4");
  g_assert_cmpstr (id_at (unread, 1), ==, "notif_2");

  carol = list (f, "carol", FALSE, G_MAXINT64, 1);
  g_assert_cmpuint (carol->len, ==, 1);
  g_assert_cmpstr (id_at (carol, 0), ==, "notif_carol");
}

static char *
git_commit (PrdGitRepo *repo, const char *prd_id, const char *version, const char *text)
{
  g_autoptr (GAsyncResult) res =
      PRD_TEST_WAIT_FOR (prd_git_repo_commit_async, repo, prd_id, version, text, "message", "Alice",
                         "alice@org_a", g_get_real_time (), NULL);
  g_autoptr (GError) error = NULL;
  char *hash = prd_git_repo_commit_finish (repo, res, &error);

  g_assert_no_error (error);
  return hash;
}

static char *
git_read (PrdGitRepo *repo, const char *prd_id, const char *version, GError **error)
{
  g_autoptr (GAsyncResult) res =
      PRD_TEST_WAIT_FOR (prd_git_repo_read_async, repo, prd_id, version, NULL);

  return prd_git_repo_read_finish (repo, res, error);
}

static gboolean
git_purge (PrdGitRepo *repo, const char *prd_id, guint *out_tags, GError **error)
{
  g_autoptr (GAsyncResult) res =
      PRD_TEST_WAIT_FOR (prd_git_repo_purge_async, repo, prd_id, "Delete", "Alice", "alice@org_a",
                         g_get_real_time (), NULL);

  return prd_git_repo_purge_finish (repo, res, out_tags, error);
}

static void
test_git_purge (Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->dir, "versions.git", NULL);
  g_autoptr (PrdGitRepo) repo = prd_git_repo_new (path);
  g_autoptr (GError) error = NULL;
  g_autofree char *h1 = NULL, *h2 = NULL, *h3 = NULL;
  g_autofree char *kept = NULL;
  g_autofree char *gone = NULL;
  guint tags = 99;

  /* No repository yet: nothing to purge. */
  g_assert_true (git_purge (repo, "prd_none", &tags, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (tags, ==, 0);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  h1 = git_commit (repo, "prd_a", "0.2.0", "a1\n");
  h2 = git_commit (repo, "prd_a", "0.3.0", "a2\n");
  h3 = git_commit (repo, "prd_ab", "0.2.0", "ab\n");

  g_assert_true (git_purge (repo, "prd_a", &tags, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (tags, ==, 2);
  gone = git_read (repo, "prd_a", "0.2.0", &error);
  g_assert_null (gone);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND);
  g_clear_error (&error);
  /* A PRD whose id starts the same is not touched. */
  kept = git_read (repo, "prd_ab", "0.2.0", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (kept, ==, "ab\n");

  /* Again: nothing left, no new commit needed. */
  g_assert_true (git_purge (repo, "prd_a", &tags, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (tags, ==, 0);

  /* A version of the PRD still on its way (its text was read before the
   * delete) does not bring the text back, whichever runs first. */
  {
    g_autoptr (GAsyncResult) committed = NULL;
    g_autoptr (GAsyncResult) purged = NULL;
    g_autofree char *hash = NULL;
    g_autofree char *back = NULL;

    h1 = (g_free (h1), git_commit (repo, "prd_c", "0.2.0", "c1\n"));
    prd_git_repo_commit_async (repo, "prd_c", "0.3.0", "secret\n", "message", "Alice",
                               "alice@org_a", g_get_real_time (), NULL, prd_test_result_cb,
                               &committed);
    prd_git_repo_purge_async (repo, "prd_c", "Delete", "Alice", "alice@org_a", g_get_real_time (),
                              NULL, prd_test_result_cb, &purged);
    prd_test_wait_result (&committed);
    prd_test_wait_result (&purged);
    hash = prd_git_repo_commit_finish (repo, committed, &error);
    g_clear_error (&error); /* refused, or undone by the purge */
    g_assert_true (prd_git_repo_purge_finish (repo, purged, &tags, &error));
    g_assert_no_error (error);
    for (const char *const *v = (const char *const[]){ "0.2.0", "0.3.0", NULL }; *v != NULL; v++)
      {
        back = (g_free (back), git_read (repo, "prd_c", *v, &error));
        g_assert_null (back);
        g_assert_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND);
        g_clear_error (&error);
      }
    /* and one asked for after the purge is refused */
    g_clear_object (&committed);
    committed = PRD_TEST_WAIT_FOR (prd_git_repo_commit_async, repo, "prd_c", "0.4.0", "late\n",
                                   "message", "Alice", "alice@org_a", g_get_real_time (), NULL);
    g_assert_null (prd_git_repo_commit_finish (repo, committed, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND);
    g_clear_error (&error);
    back = (g_free (back), git_read (repo, "prd_c", "0.4.0", &error));
    g_assert_null (back);
    g_clear_error (&error);
  }

  g_assert_false (git_purge (repo, "../evil", &tags, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_ID);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/prd/manage-store/archive-and-rename", Fixture, NULL, fixture_set_up,
              test_archive_and_rename, fixture_tear_down);
  g_test_add ("/prd/manage-store/refusals", Fixture, NULL, fixture_set_up, test_refusals,
              fixture_tear_down);
  g_test_add ("/prd/manage-store/list-page", Fixture, NULL, fixture_set_up, test_list_page,
              fixture_tear_down);
  g_test_add ("/prd/manage-store/notifications-newest-first", Fixture, NULL, fixture_set_up,
              test_notifications_newest_first, fixture_tear_down);
  g_test_add ("/prd/manage-store/git-purge", Fixture, NULL, fixture_set_up, test_git_purge,
              fixture_tear_down);
  return g_test_run ();
}
