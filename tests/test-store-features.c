/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The features' store interfaces (PrdCommentStore, PrdApprovalStore,
 * PrdNotificationStore, PrdConflictStore, PrdAiJobStore, PrdVersionStore)
 * against PrdSqliteStore on a real database file: what each operation
 * writes and reads back, that a change and its announcements commit or fail
 * together, that rows keep the form existing databases hold, and that a
 * closed or damaged database answers with a clear error.
 */
#include "config.h"

#include <string.h>

#include <gio/gio.h>

#include "prd-ai-job-store.h"
#include "prd-approval-store.h"
#include "prd-comment-store.h"
#include "prd-conflict-store.h"
#include "prd-notification-store.h"
#include "prd-revocation-store.h"
#include "prd-version-store.h"
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
  g_autoptr (PrdStoreInfo) b = NULL;

  f->dir = g_dir_make_tmp ("prd-store-features-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "prdhub.db", NULL);
  f->store = prd_test_store_open (f->path, &error);
  g_assert_no_error (error);
  a = prd_test_store_create (f->store, "prd_a", "org_a", "Alpha", "alice", &error);
  g_assert_no_error (error);
  b = prd_test_store_create (f->store, "prd_b", "org_a", "Beta", "bob", &error);
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

/* A second connection, to see what is on disk (committed rows only). */
static gint64
raw_count (Fixture *f, const char *sql)
{
  g_autoptr (sqlite3) db = prd_test_sqlite_open_ro (f->path);
  g_autoptr (sqlite3_stmt) stmt = NULL;

  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  return sqlite3_column_int64 (stmt, 0);
}

static char *
raw_text (Fixture *f, const char *sql)
{
  g_autoptr (sqlite3) db = prd_test_sqlite_open_ro (f->path);
  g_autoptr (sqlite3_stmt) stmt = NULL;

  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  return g_strdup ((const char *) sqlite3_column_text (stmt, 0));
}

static void
raw_exec_rw (Fixture *f, const char *sql)
{
  g_autoptr (sqlite3) db = NULL;

  g_assert_cmpint (sqlite3_open_v2 (f->path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
}

/* Announcements as the hub builds them. */
static GPtrArray *
notifications_new (const char *id, const char *user_id)
{
  GPtrArray *array = g_ptr_array_new_with_free_func ((GDestroyNotify) prd_notification_record_free);
  g_autofree char *payload = NULL;

  if (id == NULL)
    return array;
  payload = g_strdup_printf ("{\"id\":\"%s\",\"type\":\"mention\"}", id);
  g_ptr_array_add (array, prd_notification_record_new (id, user_id, "org_a", payload));
  return array;
}

static GPtrArray *
activities_new (const char *id)
{
  GPtrArray *array = g_ptr_array_new_with_free_func ((GDestroyNotify) prd_activity_record_free);
  g_autofree char *payload = NULL;

  if (id == NULL)
    return array;
  payload = g_strdup_printf ("{\"id\":\"%s\",\"type\":\"comment_added\"}", id);
  g_ptr_array_add (array, prd_activity_record_new (id, "org_a", payload));
  return array;
}

/* ---- synchronous helpers ---- */

static GPtrArray *
load_comments (Fixture *f)
{
  PrdCommentStore *store = PRD_COMMENT_STORE (f->store);
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_comment_store_load_async, store, NULL);
  GPtrArray *comments = prd_comment_store_load_finish (store, res, &error);

  g_assert_no_error (error);
  g_assert_nonnull (comments);
  return comments;
}

static PrdCommentRecord *
find_comment (GPtrArray *comments, const char *id)
{
  for (guint i = 0; i < comments->len; i++)
    {
      PrdCommentRecord *comment = g_ptr_array_index (comments, i);

      if (g_strcmp0 (comment->id, id) == 0)
        return comment;
    }
  return NULL;
}

static gboolean
add_comment (Fixture *f,
             const char *id,
             const char *avatar,
             const char *notification_id,
             const char *activity_id,
             GError **error)
{
  PrdCommentStore *store = PRD_COMMENT_STORE (f->store);
  PrdCommentRecord comment = {
    .id = (char *) id,
    .prd_id = "prd_a",
    .org = "org_a",
    .author_id = "alice",
    .author_name = "Alice",
    .author_avatar = (char *) avatar,
    .content = "Needs a diagram @bob",
    .anchor = "1:0:1:0 0 0:0:0:0 0:0:0:0",
    .created_at = 1000,
  };
  g_autoptr (GPtrArray) notifications = notifications_new (notification_id, "bob");
  g_autoptr (GPtrArray) activities = activities_new (activity_id);
  g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_comment_store_add_async, store, &comment,
                                                    notifications, activities, NULL);

  return prd_comment_store_add_finish (store, res, error);
}

static gboolean
add_reply (Fixture *f, const char *id, const char *comment_id, gint64 at, GError **error)
{
  PrdCommentStore *store = PRD_COMMENT_STORE (f->store);
  PrdReplyRecord reply = {
    .id = (char *) id,
    .comment_id = (char *) comment_id,
    .author_id = "bob",
    .author_name = "Bob",
    .content = "Here it is",
    .created_at = at,
  };
  g_autoptr (GPtrArray) notifications = notifications_new (NULL, NULL);
  g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_comment_store_add_reply_async, store,
                                                    &reply, notifications, NULL, NULL);

  return prd_comment_store_add_reply_finish (store, res, error);
}

static GPtrArray *
list_unread (Fixture *f, const char *user_id, guint limit)
{
  PrdNotificationStore *store = PRD_NOTIFICATION_STORE (f->store);
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_notification_store_list_unread_async, store,
                                                    "org_a", user_id, limit, NULL);
  GPtrArray *records = prd_notification_store_list_unread_finish (store, res, &error);

  g_assert_no_error (error);
  g_assert_nonnull (records);
  return records;
}

static GPtrArray *
list_activity (Fixture *f, gint64 before, guint limit)
{
  PrdNotificationStore *store = PRD_NOTIFICATION_STORE (f->store);
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_notification_store_list_activity_async,
                                                    store, "org_a", before, limit, NULL);
  GPtrArray *records = prd_notification_store_list_activity_finish (store, res, &error);

  g_assert_no_error (error);
  g_assert_nonnull (records);
  return records;
}

/* ---- comments ---- */

static void
test_comments (Fixture *f, gconstpointer data)
{
  PrdCommentStore *store = PRD_COMMENT_STORE (f->store);
  g_autoptr (GPtrArray) comments = NULL;
  g_autoptr (GPtrArray) unread = NULL;
  g_autoptr (GPtrArray) feed = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *avatar = NULL;
  PrdCommentRecord *comment;
  PrdReplyRecord *reply;

  g_assert_true (add_comment (f, "comment_1", NULL, "notif_1", "activity_1", &error));
  g_assert_no_error (error);
  g_assert_true (add_comment (f, "comment_2", "https://a/x.png", NULL, NULL, &error));
  g_assert_no_error (error);
  /* Replies come back in the order they were added (the hub's order),
   * not by created_at: the wall clock may have gone back between them. */
  g_assert_true (add_reply (f, "reply_2", "comment_1", 3000, &error));
  g_assert_true (add_reply (f, "reply_1", "comment_1", 2000, &error));
  g_assert_no_error (error);

  comments = load_comments (f);
  g_assert_cmpuint (comments->len, ==, 2);
  comment = find_comment (comments, "comment_1");
  g_assert_nonnull (comment);
  g_assert_cmpstr (comment->prd_id, ==, "prd_a");
  g_assert_cmpstr (comment->org, ==, "org_a");
  g_assert_cmpstr (comment->author_id, ==, "alice");
  g_assert_cmpstr (comment->author_name, ==, "Alice");
  g_assert_null (comment->author_avatar);
  g_assert_cmpstr (comment->content, ==, "Needs a diagram @bob");
  g_assert_cmpstr (comment->anchor, ==, "1:0:1:0 0 0:0:0:0 0:0:0:0");
  g_assert_cmpint (comment->created_at, ==, 1000);
  g_assert_null (comment->resolved_by_id);
  g_assert_cmpint (comment->resolved_at, ==, 0);
  g_assert_cmpuint (comment->replies->len, ==, 2);
  /* in the order they were added, whatever their created_at */
  g_assert_cmpstr (((PrdReplyRecord *) g_ptr_array_index (comment->replies, 0))->id, ==, "reply_2");
  reply = g_ptr_array_index (comment->replies, 1);
  g_assert_cmpstr (reply->id, ==, "reply_1");
  g_assert_cmpstr (reply->comment_id, ==, "comment_1");
  g_assert_cmpstr (reply->author_name, ==, "Bob");
  g_assert_cmpint (reply->created_at, ==, 2000);
  comment = find_comment (comments, "comment_2");
  g_assert_cmpstr (comment->author_avatar, ==, "https://a/x.png");
  g_assert_cmpuint (comment->replies->len, ==, 0);

  /* On disk as it always was: no avatar is an empty string. */
  avatar = raw_text (f, "SELECT author_avatar FROM social_comments WHERE id = 'comment_1'");
  g_assert_cmpstr (avatar, ==, "");

  /* The announcements went in with the comment. */
  unread = list_unread (f, "bob", 500);
  g_assert_cmpuint (unread->len, ==, 1);
  g_assert_cmpstr (((PrdNotificationRecord *) g_ptr_array_index (unread, 0))->id, ==, "notif_1");
  feed = list_activity (f, G_MAXINT64, 10);
  g_assert_cmpuint (feed->len, ==, 1);
  g_assert_cmpstr (((PrdActivityRecord *) g_ptr_array_index (feed, 0))->id, ==, "activity_1");

  /* Resolving: the first resolution stays; the second is refused and
   * announces nothing. */
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr (GAsyncResult) res = NULL;
      g_autoptr (GPtrArray) activities = activities_new (i == 0 ? "activity_r1" : "activity_r2");

      res = PRD_TEST_WAIT_FOR (prd_comment_store_resolve_async, store, "comment_1",
                               i == 0 ? "carol" : "dave", i == 0 ? "Carol" : "Dave", 5000 + i, NULL,
                               activities, NULL);
      if (i == 0)
        {
          g_assert_true (prd_comment_store_resolve_finish (store, res, &error));
          g_assert_no_error (error);
        }
      else
        {
          g_assert_false (prd_comment_store_resolve_finish (store, res, &error));
          g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION);
          g_clear_error (&error);
        }
    }
  g_clear_pointer (&comments, g_ptr_array_unref);
  comments = load_comments (f);
  comment = find_comment (comments, "comment_1");
  g_assert_cmpstr (comment->resolved_by_id, ==, "carol");
  g_assert_cmpstr (comment->resolved_by_name, ==, "Carol");
  g_assert_cmpint (comment->resolved_at, ==, 5000);
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_activity"), ==, 2);
}

/* A comment and its announcements are one transaction: when an
 * announcement cannot be written, neither is the comment. */
static void
test_comment_atomic (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) comments = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (add_comment (f, "comment_1", NULL, "notif_1", "activity_1", &error));
  g_assert_no_error (error);
  /* notif_1 is taken: the whole change fails. */
  g_assert_false (add_comment (f, "comment_2", NULL, "notif_1", "activity_2", &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_STORAGE);
  g_clear_error (&error);
  /* So does a comment id that is taken, and its announcements stay out. */
  g_assert_false (add_comment (f, "comment_1", NULL, "notif_3", "activity_3", &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_STORAGE);
  g_clear_error (&error);

  comments = load_comments (f);
  g_assert_cmpuint (comments->len, ==, 1);
  g_assert_nonnull (find_comment (comments, "comment_1"));
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_notifications"), ==, 1);
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_activity"), ==, 1);

  /* A reply to a comment that does not exist is refused with nothing
   * written. */
  {
    PrdCommentStore *store = PRD_COMMENT_STORE (f->store);
    PrdReplyRecord reply = {
      .id = "reply_x",
      .comment_id = "comment_none",
      .author_id = "bob",
      .author_name = "Bob",
      .content = "?",
      .created_at = 1,
    };
    g_autoptr (GPtrArray) notifications = notifications_new ("notif_x", "alice");
    g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_comment_store_add_reply_async, store,
                                                      &reply, notifications, NULL, NULL);

    g_assert_false (prd_comment_store_add_reply_finish (store, res, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND);
    g_clear_error (&error);
  }
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_replies"), ==, 0);
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_notifications"), ==, 1);
}

/* Replies load in the order they were added, as the hub holds them, not
 * by their created_at: a reply written after the clock was set back comes
 * after the earlier ones after a restart too. */
static void
test_reply_order (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) comments = NULL;
  g_autoptr (GError) error = NULL;
  const char *expected[] = { "reply_1", "reply_2", "reply_3" };
  const gint64 at[] = { 5000, 2000, 2000 };
  PrdCommentRecord *comment;

  g_assert_true (add_comment (f, "comment_1", NULL, "notif_1", "activity_1", &error));
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_assert_true (add_reply (f, expected[i], "comment_1", at[i], &error));
      g_assert_no_error (error);
    }

  comments = load_comments (f);
  comment = find_comment (comments, "comment_1");
  g_assert_nonnull (comment);
  g_assert_cmpuint (comment->replies->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpstr (((PrdReplyRecord *) g_ptr_array_index (comment->replies, i))->id, ==,
                     expected[i]);
}

/* Writes the hub checked while the PRD existed but that reach the store
 * after its deletion (queued right behind it, as on a busy hub): each is
 * refused with the answer it would have had a moment later, not a
 * foreign key's STORAGE_ERROR, and none of their announcements is kept. */
static void
test_comment_prd_deleted (Fixture *f, gconstpointer data)
{
  PrdCommentStore *store = PRD_COMMENT_STORE (f->store);
  PrdApprovalStore *approvals = PRD_APPROVAL_STORE (f->store);
  g_autoptr (GAsyncResult) deleted = NULL;
  g_autoptr (GAsyncResult) added = NULL;
  g_autoptr (GAsyncResult) replied = NULL;
  g_autoptr (GAsyncResult) resolved = NULL;
  g_autoptr (GAsyncResult) approved = NULL;
  g_autoptr (GPtrArray) n1 = notifications_new ("notif_2", "bob");
  g_autoptr (GPtrArray) a1 = activities_new ("activity_2");
  g_autoptr (GPtrArray) a2 = activities_new ("activity_3");
  g_autoptr (GPtrArray) a3 = activities_new ("activity_4");
  g_autoptr (GPtrArray) a4 = activities_new ("activity_5");
  g_autoptr (GError) error = NULL;
  PrdCommentRecord comment = {
    .id = "comment_2",
    .prd_id = "prd_a",
    .org = "org_a",
    .author_id = "alice",
    .author_name = "Alice",
    .content = "Late",
    .anchor = "1:0:1:0 0 0:0:0:0 0:0:0:0",
    .created_at = 2000,
  };
  PrdReplyRecord reply = {
    .id = "reply_1",
    .comment_id = "comment_1",
    .author_id = "bob",
    .author_name = "Bob",
    .content = "Late too",
    .created_at = 2001,
  };
  PrdApprovalRecord approval = {
    .prd_id = "prd_a",
    .approver_id = "carol",
    .approver_name = "Carol",
    .created_at = 2002,
  };

  g_assert_true (add_comment (f, "comment_1", NULL, "notif_1", "activity_1", &error));
  g_assert_no_error (error);

  prd_store_delete_async (f->store, "prd_a", NULL, prd_test_result_cb, &deleted);
  prd_comment_store_add_async (store, &comment, n1, a1, NULL, prd_test_result_cb, &added);
  prd_comment_store_add_reply_async (store, &reply, NULL, a2, NULL, prd_test_result_cb, &replied);
  prd_comment_store_resolve_async (store, "comment_1", "carol", "Carol", 2003, NULL, a3, NULL,
                                   prd_test_result_cb, &resolved);
  prd_approval_store_add_async (approvals, &approval, NULL, a4, NULL, prd_test_result_cb,
                                &approved);
  prd_test_wait_while (approved == NULL, 30000);

  g_assert_true (prd_store_delete_finish (f->store, deleted, &error));
  g_assert_no_error (error);
  g_assert_false (prd_comment_store_add_finish (store, added, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (prd_comment_store_add_reply_finish (store, replied, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (prd_comment_store_resolve_finish (store, resolved, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (prd_approval_store_add_finish (approvals, approved, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND);
  g_clear_error (&error);

  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_comments"), ==, 0);
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_approvals"), ==, 0);
  /* comment_1's own announcements stay, as a deletion leaves them. */
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_notifications"), ==, 1);
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_activity"), ==, 1);
}

/* Rows written before the interfaces existed (or by hand) load as they
 * are; bad input is refused before it is queued. */
static void
test_comment_rows (Fixture *f, gconstpointer data)
{
  PrdCommentStore *store = PRD_COMMENT_STORE (f->store);
  g_autoptr (GPtrArray) comments = NULL;
  g_autoptr (GError) error = NULL;
  PrdCommentRecord *comment;

  raw_exec_rw (f, "INSERT INTO social_comments (id, prd_id, org, author_id, author_name, "
                  "author_avatar, content, anchor, created_at) VALUES ('comment_old', 'prd_b', "
                  "'org_a', 'bob', 'Bob', NULL, 'old', 'garbage', 7)");
  comments = load_comments (f);
  comment = find_comment (comments, "comment_old");
  g_assert_nonnull (comment);
  g_assert_null (comment->author_avatar);
  /* The anchor is the hub's to read. */
  g_assert_cmpstr (comment->anchor, ==, "garbage");

  {
    PrdCommentRecord bad = *comment;
    g_autoptr (GAsyncResult) res = NULL;

    bad.id = "comment_bad";
    bad.prd_id = "not a prd id";
    res = PRD_TEST_WAIT_FOR (prd_comment_store_add_async, store, &bad, NULL, NULL, NULL);
    g_assert_false (prd_comment_store_add_finish (store, res, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_ID);
    g_clear_error (&error);
  }
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_comments"), ==, 1);
}

/* ---- approvals ---- */

static GPtrArray *
list_revocations (PrdRevocationStore *store)
{
  g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_revocation_store_list_async, store, NULL);
  g_autoptr (GError) error = NULL;
  GPtrArray *records = prd_revocation_store_list_finish (store, res, &error);

  g_assert_no_error (error);
  return records;
}

static gboolean
revoke_user (
    PrdRevocationStore *store, const char *org, const char *user, gint64 at, GError **error)
{
  g_autoptr (GAsyncResult) res =
      PRD_TEST_WAIT_FOR (prd_revocation_store_revoke_async, store, org, user, at, NULL);

  return prd_revocation_store_revoke_finish (store, res, error);
}

/* One row per user, the latest revocation; bad arguments write nothing. */
static void
test_revocations (Fixture *f, gconstpointer data)
{
  PrdRevocationStore *store = PRD_REVOCATION_STORE (f->store);
  g_autoptr (GPtrArray) records = NULL;
  g_autoptr (GError) error = NULL;

  records = list_revocations (store);
  g_assert_cmpuint (records->len, ==, 0);
  g_clear_pointer (&records, g_ptr_array_unref);

  g_assert_true (revoke_user (store, "org_a", "alice", 100, &error));
  g_assert_true (revoke_user (store, "org_a", "alice", 300, &error));
  g_assert_true (revoke_user (store, "org_a", "alice", 200, &error));
  g_assert_true (revoke_user (store, "org_b", "alice", 50, &error));
  g_assert_no_error (error);
  g_assert_false (revoke_user (store, "org_a", "", 400, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_clear_error (&error);
  g_assert_false (revoke_user (store, "org\x01", "bob", 400, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_clear_error (&error);
  g_assert_false (revoke_user (store, "org_a", "bob", 0, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_clear_error (&error);

  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM token_revocations"), ==, 2);
  records = list_revocations (store);
  g_assert_cmpuint (records->len, ==, 2);
  for (guint i = 0; i < records->len; i++)
    {
      const PrdRevocationRecord *r = g_ptr_array_index (records, i);

      g_assert_cmpstr (r->user_id, ==, "alice");
      g_assert_cmpint (r->revoked_at, ==, g_str_equal (r->org, "org_a") ? 300 : 50);
    }
}

static gboolean
use_link (PrdRevocationStore *store, const char *link_id, gint64 expires_at, GError **error)
{
  g_autoptr (GAsyncResult) res =
      PRD_TEST_WAIT_FOR (prd_revocation_store_use_link_async, store, link_id, expires_at, NULL);

  return prd_revocation_store_use_link_finish (store, res, error);
}

/* A sign-in link is used once; links that expired over 30 days ago are
 * forgotten, not before: a clock stepped forward, then back, must not
 * forget a link that is still valid. */
static void
test_sign_in_links (Fixture *f, gconstpointer data)
{
  PrdRevocationStore *store = PRD_REVOCATION_STORE (f->store);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autoptr (GError) error = NULL;

  g_assert_true (use_link (store, "link-a", now + 600, &error));
  g_assert_no_error (error);
  g_assert_false (use_link (store, "link-a", now + 600, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_TOKEN_REVOKED);
  g_clear_error (&error);
  /* used while the clock was 2 days ahead: already expired by the clock now */
  g_assert_true (use_link (store, "link-ahead", now - 10, &error));
  g_assert_no_error (error);
  g_assert_true (use_link (store, "link-old", now - 31 * 24 * 3600, &error));
  g_assert_no_error (error);
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM sign_in_links"), ==, 3);
  /* the next use forgets the link expired over 30 days ago, and only it */
  g_assert_true (use_link (store, "link-b", now + 600, &error));
  g_assert_no_error (error);
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM sign_in_links"), ==, 3);
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM sign_in_links WHERE link_id = 'link-old'"),
                   ==, 0);
  g_assert_false (use_link (store, "link-ahead", now - 10, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_TOKEN_REVOKED);
  g_clear_error (&error);
  /* bad ids write nothing */
  for (const char *const *bad = (const char *const[]){ "", "a b", "a'--", NULL }; *bad != NULL;
       bad++)
    {
      g_assert_false (use_link (store, *bad, now + 600, &error));
      g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
      g_clear_error (&error);
    }
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM sign_in_links"), ==, 3);
}

static void
test_approvals (Fixture *f, gconstpointer data)
{
  PrdApprovalStore *store = PRD_APPROVAL_STORE (f->store);
  PrdApprovalRecord approval = {
    .prd_id = "prd_a",
    .approver_id = "carol",
    .approver_name = "Carol",
    .comment = NULL,
    .created_at = 42,
  };
  g_autoptr (GError) error = NULL;

  {
    g_autoptr (GPtrArray) notifications = notifications_new ("notif_a", "alice");
    g_autoptr (GPtrArray) activities = activities_new ("activity_a");
    g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_approval_store_add_async, store,
                                                      &approval, notifications, activities, NULL);

    g_assert_true (prd_approval_store_add_finish (store, res, &error));
    g_assert_no_error (error);
  }
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_approvals WHERE prd_id = 'prd_a' "
                                 "AND approver_id = 'carol' AND comment IS NULL "
                                 "AND created_at = 42"),
                   ==, 1);
  {
    g_autoptr (GPtrArray) unread = list_unread (f, "alice", 500);

    g_assert_cmpuint (unread->len, ==, 1);
  }

  /* An approval of a PRD that is gone writes nothing, announcements
   * included. */
  approval.prd_id = "prd_gone";
  approval.comment = "Ship it";
  {
    g_autoptr (GPtrArray) notifications = notifications_new ("notif_b", "alice");
    g_autoptr (GPtrArray) activities = activities_new ("activity_b");
    g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_approval_store_add_async, store,
                                                      &approval, notifications, activities, NULL);

    g_assert_false (prd_approval_store_add_finish (store, res, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND);
  }
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_approvals"), ==, 1);
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_notifications"), ==, 1);
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_activity"), ==, 1);
}

/* ---- notifications and activity ---- */

static void
test_notifications (Fixture *f, gconstpointer data)
{
  PrdNotificationStore *store = PRD_NOTIFICATION_STORE (f->store);
  g_autoptr (GPtrArray) notifications =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_notification_record_free);
  g_autoptr (GPtrArray) activities =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_activity_record_free);
  g_autoptr (GPtrArray) unread = NULL;
  g_autoptr (GError) error = NULL;
  const char *const ids[] = { "notif_0", "notif_2", "notif_2", "notif_9", "notif_carol", NULL };
  gint64 marked;

  for (guint i = 0; i < 4; i++)
    {
      g_autofree char *id = g_strdup_printf ("notif_%u", i);

      g_ptr_array_add (notifications, prd_notification_record_new (id, "bob", "org_a", "{}"));
    }
  g_ptr_array_add (notifications,
                   prd_notification_record_new ("notif_carol", "carol", "org_a", "{}"));
  g_ptr_array_add (notifications,
                   prd_notification_record_new ("notif_other", "bob", "org_b", "{}"));
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *id = g_strdup_printf ("activity_%u", i);
      g_autofree char *payload = g_strdup_printf ("{\"n\":%u}", i);

      g_ptr_array_add (activities, prd_activity_record_new (id, "org_a", payload));
    }
  g_ptr_array_add (activities, prd_activity_record_new ("activity_b", "org_b", "{}"));
  {
    g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_notification_store_record_async, store,
                                                      notifications, activities, NULL);

    g_assert_true (prd_notification_store_record_finish (store, res, &error));
    g_assert_no_error (error);
  }

  /* Oldest first, one organization, up to the limit. */
  unread = list_unread (f, "bob", 3);
  g_assert_cmpuint (unread->len, ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      PrdNotificationRecord *record = g_ptr_array_index (unread, i);
      g_autofree char *id = g_strdup_printf ("notif_%u", i);

      g_assert_cmpstr (record->id, ==, id);
      g_assert_cmpstr (record->user_id, ==, "bob");
      g_assert_cmpstr (record->org, ==, "org_a");
      g_assert_cmpstr (record->payload, ==, "{}");
      g_assert_false (record->read);
      g_assert_cmpint (record->seq, >, 0);
    }

  /* Only the user's own, each once. */
  {
    g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_notification_store_mark_read_async, store,
                                                      "org_a", "bob", ids, NULL);

    marked = prd_notification_store_mark_read_finish (store, res, &error);
    g_assert_no_error (error);
    g_assert_cmpint (marked, ==, 2);
  }
  g_clear_pointer (&unread, g_ptr_array_unref);
  unread = list_unread (f, "bob", 500);
  g_assert_cmpuint (unread->len, ==, 2);
  g_assert_cmpstr (((PrdNotificationRecord *) g_ptr_array_index (unread, 0))->id, ==, "notif_1");
  g_assert_cmpstr (((PrdNotificationRecord *) g_ptr_array_index (unread, 1))->id, ==, "notif_3");
  g_clear_pointer (&unread, g_ptr_array_unref);
  unread = list_unread (f, "carol", 500);
  g_assert_cmpuint (unread->len, ==, 1);

  /* The feed pages back from the newest with the seq cursor. */
  {
    g_autoptr (GPtrArray) page = list_activity (f, G_MAXINT64, 2);
    g_autoptr (GPtrArray) next = NULL;
    g_autoptr (GPtrArray) rest = NULL;
    PrdActivityRecord *last;

    g_assert_cmpuint (page->len, ==, 2);
    g_assert_cmpstr (((PrdActivityRecord *) g_ptr_array_index (page, 0))->id, ==, "activity_4");
    last = g_ptr_array_index (page, 1);
    g_assert_cmpstr (last->id, ==, "activity_3");
    g_assert_cmpstr (last->payload, ==, "{\"n\":3}");
    g_assert_cmpstr (last->org, ==, "org_a");
    next = list_activity (f, last->seq, 10);
    g_assert_cmpuint (next->len, ==, 3);
    g_assert_cmpstr (((PrdActivityRecord *) g_ptr_array_index (next, 2))->id, ==, "activity_0");
    rest = list_activity (f, ((PrdActivityRecord *) g_ptr_array_index (next, 2))->seq, 10);
    g_assert_cmpuint (rest->len, ==, 0);
  }

  /* A batch that cannot be written entirely is not written at all. */
  {
    g_autoptr (GPtrArray) again = notifications_new ("notif_new", "bob");
    g_autoptr (GPtrArray) more = activities_new ("activity_0");
    g_autoptr (GAsyncResult) res =
        PRD_TEST_WAIT_FOR (prd_notification_store_record_async, store, again, more, NULL);

    g_assert_false (prd_notification_store_record_finish (store, res, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_STORAGE);
    g_clear_error (&error);
  }
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_notifications"), ==, 6);

  /* Incomplete records are refused before anything is queued. */
  {
    g_autoptr (GPtrArray) broken = notifications_new ("notif_broken", "bob");
    g_autoptr (GAsyncResult) res = NULL;

    g_clear_pointer (&((PrdNotificationRecord *) g_ptr_array_index (broken, 0))->user_id, g_free);
    res = PRD_TEST_WAIT_FOR (prd_notification_store_record_async, store, broken, NULL, NULL);
    g_assert_false (prd_notification_store_record_finish (store, res, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  }
}

/* Many notifications of one user, read and unread, paged both ways as
 * GET /api/notifications does: newest first, each cursor strictly older
 * than the page before, nothing skipped or repeated, other users' and
 * other organizations' rows never in between. */

#define MANY_NOTIFICATIONS 1000
#define PAGE_LIMIT         64

static GPtrArray *
list_page (Fixture *f, gboolean unread_only, gint64 before, guint limit)
{
  PrdNotificationStore *store = PRD_NOTIFICATION_STORE (f->store);
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (
      prd_notification_store_list_async, store, "org_a", "bob", unread_only, before, limit, NULL);
  GPtrArray *records = prd_notification_store_list_finish (store, res, &error);

  g_assert_no_error (error);
  g_assert_nonnull (records);
  return records;
}

/* bob's notification i in org_a is notif_bob_<i>, read when i % 3 == 0;
 * carol's and bob's in org_b come between them. */
static void
record_many (Fixture *f)
{
  PrdNotificationStore *store = PRD_NOTIFICATION_STORE (f->store);
  g_autoptr (GPtrArray) notifications =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_notification_record_free);
  g_autoptr (GPtrArray) activities =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_activity_record_free);
  g_autoptr (GPtrArray) read = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < MANY_NOTIFICATIONS; i++)
    {
      g_autofree char *id = g_strdup_printf ("notif_bob_%04u", i);
      g_autofree char *carol = g_strdup_printf ("notif_carol_%04u", i);
      g_autofree char *other = g_strdup_printf ("notif_other_%04u", i);

      g_ptr_array_add (notifications, prd_notification_record_new (id, "bob", "org_a", "{}"));
      g_ptr_array_add (notifications, prd_notification_record_new (carol, "carol", "org_a", "{}"));
      g_ptr_array_add (notifications, prd_notification_record_new (other, "bob", "org_b", "{}"));
      if (i % 3 == 0)
        g_ptr_array_add (read, g_steal_pointer (&id));
    }
  g_ptr_array_add (read, NULL);
  {
    g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_notification_store_record_async, store,
                                                      notifications, activities, NULL);

    g_assert_true (prd_notification_store_record_finish (store, res, &error));
    g_assert_no_error (error);
  }
  {
    g_autoptr (GAsyncResult) res =
        PRD_TEST_WAIT_FOR (prd_notification_store_mark_read_async, store, "org_a", "bob",
                           (const char *const *) read->pdata, NULL);

    g_assert_cmpint (prd_notification_store_mark_read_finish (store, res, &error), ==,
                     read->len - 1);
    g_assert_no_error (error);
  }
}

static void
test_notifications_paging (Fixture *f, gconstpointer data)
{
  record_many (f);
  for (guint unread_only = 0; unread_only <= 1; unread_only++)
    {
      gint64 before = G_MAXINT64;
      gint64 expected = MANY_NOTIFICATIONS - 1; /* the next record's i */
      guint seen = 0;
      guint pages = 0;

      for (;;)
        {
          g_autoptr (GPtrArray) page = list_page (f, unread_only, before, PAGE_LIMIT);

          pages++;
          for (guint j = 0; j < page->len; j++)
            {
              PrdNotificationRecord *record = g_ptr_array_index (page, j);
              g_autofree char *id = NULL;

              while (unread_only && expected >= 0 && expected % 3 == 0)
                expected--;
              g_assert_cmpint (expected, >=, 0);
              id = g_strdup_printf ("notif_bob_%04u", (guint) expected);
              g_assert_cmpstr (record->id, ==, id);
              g_assert_cmpstr (record->user_id, ==, "bob");
              g_assert_cmpstr (record->org, ==, "org_a");
              g_assert_cmpint (record->read, ==, expected % 3 == 0);
              g_assert_cmpint (record->seq, <, before);
              expected--;
              seen++;
            }
          if (page->len < PAGE_LIMIT)
            break;
          before = ((PrdNotificationRecord *) g_ptr_array_index (page, page->len - 1))->seq;
        }
      /* 1000 notifications, 334 of them read: 15 full pages and one of 40,
       * or 10 full pages of unread ones and one of 26. */
      g_assert_cmpuint (seen, ==, unread_only ? 666 : MANY_NOTIFICATIONS);
      g_assert_cmpuint (pages, ==, unread_only ? 11 : 16);
    }

  /* Past the oldest (read) one, nothing is left; the unread ones end one
   * step earlier. */
  {
    g_autoptr (GPtrArray) first = list_page (f, FALSE, G_MAXINT64, 1);
    g_autoptr (GPtrArray) oldest_unread = list_unread (f, "bob", 1);
    g_autoptr (GPtrArray) oldest = NULL;
    g_autoptr (GPtrArray) none = NULL;
    g_autoptr (GPtrArray) unread_none = NULL;
    gint64 second;

    g_assert_cmpstr (((PrdNotificationRecord *) g_ptr_array_index (first, 0))->id, ==,
                     "notif_bob_0999");
    g_assert_cmpstr (((PrdNotificationRecord *) g_ptr_array_index (oldest_unread, 0))->id, ==,
                     "notif_bob_0001");
    second = ((PrdNotificationRecord *) g_ptr_array_index (oldest_unread, 0))->seq;
    oldest = list_page (f, FALSE, second, PAGE_LIMIT);
    g_assert_cmpuint (oldest->len, ==, 1);
    g_assert_cmpstr (((PrdNotificationRecord *) g_ptr_array_index (oldest, 0))->id, ==,
                     "notif_bob_0000");
    none = list_page (f, FALSE, ((PrdNotificationRecord *) g_ptr_array_index (oldest, 0))->seq,
                      PAGE_LIMIT);
    g_assert_cmpuint (none->len, ==, 0);
    unread_none = list_page (f, TRUE, second, PAGE_LIMIT);
    g_assert_cmpuint (unread_none->len, ==, 0);
  }
}

/* Records @n notifications of @user in org_a, named notif_<user>_<first + i>,
 * in one write. */
static void
record_notifications (Fixture *f, const char *user, guint first, guint n)
{
  PrdNotificationStore *store = PRD_NOTIFICATION_STORE (f->store);
  g_autoptr (GPtrArray) notifications =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_notification_record_free);
  g_autoptr (GPtrArray) activities =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_activity_record_free);
  g_autoptr (GAsyncResult) res = NULL;
  g_autoptr (GError) error = NULL;

  for (guint i = first; i < first + n; i++)
    {
      g_autofree char *id = g_strdup_printf ("notif_%s_%04u", user, i);

      g_ptr_array_add (notifications, prd_notification_record_new (id, user, "org_a", "{}"));
    }
  res = PRD_TEST_WAIT_FOR (prd_notification_store_record_async, store, notifications, activities,
                           NULL);
  g_assert_true (prd_notification_store_record_finish (store, res, &error));
  g_assert_no_error (error);
}

/* A user keeps their newest PRD_NOTIFICATION_STORE_NOTIFICATION_LIMIT
 * notifications in an organization, read or not; other users' and the
 * same user's in another organization are left alone (nothing was ever
 * deleted from social_notifications). A larger list is brought down by at
 * most 64 rows more than a write inserts. */
static void
test_notification_limit (Fixture *f, gconstpointer data)
{
  const guint limit = PRD_NOTIFICATION_STORE_NOTIFICATION_LIMIT;
  PrdNotificationStore *store = PRD_NOTIFICATION_STORE (f->store);
  g_autoptr (GError) error = NULL;
  g_autofree char *oldest = NULL;

  g_assert_cmpuint (limit, ==, MANY_NOTIFICATIONS);
  record_many (f); /* bob and carol in org_a, bob in org_b: the limit each */
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_notifications"), ==, 3 * limit);

  /* Two more of bob's: his two oldest go (one read, one not). */
  record_notifications (f, "bob", limit, 2);
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_notifications WHERE user_id = 'bob' "
                                 "AND org = 'org_a'"),
                   ==, limit);
  oldest = raw_text (f, "SELECT id FROM social_notifications WHERE user_id = 'bob' AND org = "
                        "'org_a' ORDER BY seq LIMIT 1");
  g_assert_cmpstr (oldest, ==, "notif_bob_0002");
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_notifications WHERE user_id = "
                                 "'carol'"),
                   ==, limit);
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_notifications WHERE org = 'org_b'"),
                   ==, limit);
  {
    const char *gone[] = { "notif_bob_0001", NULL };
    g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_notification_store_mark_read_async, store,
                                                      "org_a", "bob", gone, NULL);

    g_assert_cmpint (prd_notification_store_mark_read_finish (store, res, &error), ==, 0);
    g_assert_no_error (error);
  }

  /* 200 more of carol's written behind the store's back (a release
   * before the limit): a write of one takes 64 + 1 of her oldest with it,
   * until she is back at the limit. */
  raw_exec_rw (f, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) "
                  "INSERT INTO social_notifications (id, user_id, org, payload) "
                  "SELECT printf('notif_old_%05d', i), 'carol', 'org_a', '{}' FROM n");
  record_notifications (f, "carol", limit, 1);
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_notifications WHERE user_id = "
                                 "'carol'"),
                   ==, limit + 200 + 1 - 65);
  for (guint i = 1; i <= 3; i++)
    record_notifications (f, "carol", limit + i, 1);
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_notifications WHERE user_id = "
                                 "'carol'"),
                   ==, limit);
  g_clear_pointer (&oldest, g_free);
  oldest = raw_text (f, "SELECT id FROM social_notifications WHERE user_id = 'carol' ORDER BY seq "
                        "LIMIT 1");
  g_assert_cmpstr (oldest, ==, "notif_carol_0204"); /* 65 + 65 + 65 + 9 went */
}

/* A write that notifies many users who each hold an older release's
 * backlog deletes at most 64 old rows in all, not 64 per user (a version
 * notifying 500 such editors deleted 282,000 rows in one commit). */
static void
test_notification_backlog_shared (Fixture *f, gconstpointer data)
{
  const guint limit = PRD_NOTIFICATION_STORE_NOTIFICATION_LIMIT;
  PrdNotificationStore *store = PRD_NOTIFICATION_STORE (f->store);
  g_autoptr (GPtrArray) notifications =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_notification_record_free);
  g_autoptr (GPtrArray) activities =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_activity_record_free);
  g_autoptr (GAsyncResult) res = NULL;
  g_autoptr (GError) error = NULL;
  gint64 before;

  /* Ten users, each 100 over the limit. */
  raw_exec_rw (f, "WITH RECURSIVE u(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM u WHERE k < 9), "
                  "n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1100) "
                  "INSERT INTO social_notifications (id, user_id, org, payload) "
                  "SELECT printf('notif_u%d_%05d', k, i), printf('user_%d', k), 'org_a', '{}' "
                  "FROM u, n");
  before = raw_count (f, "SELECT count(*) FROM social_notifications");
  g_assert_cmpint (before, ==, 10 * (limit + 100));
  for (guint k = 0; k < 10; k++)
    {
      g_autofree char *id = g_strdup_printf ("notif_new_%u", k);
      g_autofree char *user = g_strdup_printf ("user_%u", k);

      g_ptr_array_add (notifications, prd_notification_record_new (id, user, "org_a", "{}"));
    }
  res = PRD_TEST_WAIT_FOR (prd_notification_store_record_async, store, notifications, activities,
                           NULL);
  g_assert_true (prd_notification_store_record_finish (store, res, &error));
  g_assert_no_error (error);
  /* 10 inserted; each user lost one old row for their new one, and 64
   * more went in all. */
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_notifications"), ==,
                   before + 10 - 10 - 64);
}

/* Records @n activities of @org, named activity_<org>_<first + i>, in one
 * write. */
static void
record_activities (Fixture *f, const char *org, guint first, guint n)
{
  PrdNotificationStore *store = PRD_NOTIFICATION_STORE (f->store);
  g_autoptr (GPtrArray) notifications =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_notification_record_free);
  g_autoptr (GPtrArray) activities =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_activity_record_free);
  g_autoptr (GError) error = NULL;

  for (guint i = first; i < first + n; i++)
    {
      g_autofree char *id = g_strdup_printf ("activity_%s_%05u", org, i);

      g_ptr_array_add (activities, prd_activity_record_new (id, org, "{}"));
    }
  {
    g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_notification_store_record_async, store,
                                                      notifications, activities, NULL);

    g_assert_true (prd_notification_store_record_finish (store, res, &error));
    g_assert_no_error (error);
  }
}

/* The id of org_a's oldest activity, paging the feed as REST does. */
static char *
oldest_activity (Fixture *f, guint *count)
{
  gint64 before = G_MAXINT64;
  g_autofree char *oldest = NULL;

  *count = 0;
  for (;;)
    {
      g_autoptr (GPtrArray) page = list_activity (f, before, 100);
      PrdActivityRecord *last;

      if (page->len == 0)
        return g_steal_pointer (&oldest);
      *count += page->len;
      last = g_ptr_array_index (page, page->len - 1);
      g_free (oldest);
      oldest = g_strdup (last->id);
      before = last->seq;
    }
}

/* An organization's feed keeps its newest
 * PRD_NOTIFICATION_STORE_ACTIVITY_LIMIT activities, whichever write
 * records them, and another organization's feed is left alone (nothing was
 * ever deleted from social_activity). */
static void
test_activity_limit (Fixture *f, gconstpointer data)
{
  const guint limit = PRD_NOTIFICATION_STORE_ACTIVITY_LIMIT;
  g_autoptr (GError) error = NULL;
  g_autofree char *oldest = NULL;
  guint count;

  record_activities (f, "org_b", 0, 3);
  record_activities (f, "org_a", 0, limit - 1);
  oldest = oldest_activity (f, &count);
  g_assert_cmpuint (count, ==, limit - 1);
  g_assert_cmpstr (oldest, ==, "activity_org_a_00000");

  /* One write beyond the limit, and one of many. */
  record_activities (f, "org_a", limit - 1, 2);
  g_clear_pointer (&oldest, g_free);
  oldest = oldest_activity (f, &count);
  g_assert_cmpuint (count, ==, limit);
  g_assert_cmpstr (oldest, ==, "activity_org_a_00001");
  record_activities (f, "org_a", limit + 1, limit + 10);
  g_clear_pointer (&oldest, g_free);
  oldest = oldest_activity (f, &count);
  g_assert_cmpuint (count, ==, limit);
  g_assert_cmpstr (oldest, ==, "activity_org_a_01011");

  /* A change that announces itself trims too. */
  g_assert_true (add_comment (f, "comment_1", NULL, "notif_1", "activity_comment", &error));
  g_assert_no_error (error);
  g_clear_pointer (&oldest, g_free);
  oldest = oldest_activity (f, &count);
  g_assert_cmpuint (count, ==, limit);
  g_assert_cmpstr (oldest, ==, "activity_org_a_01012");
  {
    g_autoptr (GPtrArray) newest = list_activity (f, G_MAXINT64, 1);

    g_assert_cmpstr (((PrdActivityRecord *) g_ptr_array_index (newest, 0))->id, ==,
                     "activity_comment");
  }
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_activity WHERE org = 'org_b'"), ==,
                   3);
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_activity"), ==, limit + 3);
}

/* A feed far past the limit (a release before the limit, polls adding a
 * row each) is not deleted in one write, which held every organization's
 * edits behind it: each write deletes at most 64 rows more than it
 * inserted, the oldest, until the feed is back at the limit. */
static void
test_activity_backlog (Fixture *f, gconstpointer data)
{
  const guint limit = PRD_NOTIFICATION_STORE_ACTIVITY_LIMIT;
  const guint backlog = limit + 200;
  g_autofree char *first = NULL;
  g_autofree char *oldest = NULL;
  guint count;

  record_activities (f, "org_a", 0, 1);
  raw_exec_rw (f, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200) "
                  "INSERT INTO social_activity (id, org, payload) "
                  "SELECT printf('old_%05d', i), 'org_a', '{}' FROM n");
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_activity"), ==, backlog + 1);

  /* One activity: 64 + 1 of the oldest go, the first activity among them. */
  record_activities (f, "org_a", 1, 1);
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_activity"), ==, backlog + 2 - 65);
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_activity WHERE id = "
                                 "'activity_org_a_00000'"),
                   ==, 0);
  first = raw_text (f, "SELECT id FROM social_activity ORDER BY seq LIMIT 1");
  g_assert_cmpstr (first, ==, "old_00065");
  /* Three more writes: back at the limit (65 + 65 + 10), the newest kept. */
  for (guint i = 2; i <= 4; i++)
    record_activities (f, "org_a", i, 1);
  oldest = oldest_activity (f, &count);
  g_assert_cmpuint (count, ==, limit);
  g_assert_cmpstr (oldest, ==, "old_00205");
}

/* Every statement the store runs on the notification tables is a range of
 * an index that stops at its limit: no plan scans the table or sorts in a
 * temporary B-tree, whose cost grows with the notifications a user holds
 * (the store's one worker thread runs them in front of every edit's
 * commit). The statements are the store's own, taken from its connection
 * through an auto extension, and explained on a second connection. */

static GMutex traced_lock;
static GHashTable *traced; /* (element-type utf8): SQL text; NULL when not tracing */

static int
trace_statement (unsigned mask, void *context, void *statement, void *unexpanded)
{
  const char *sql = sqlite3_sql (statement);

  g_mutex_lock (&traced_lock);
  if (traced != NULL && sql != NULL &&
      (strstr (sql, "social_notifications") != NULL || strstr (sql, "social_activity") != NULL))
    g_hash_table_add (traced, g_strdup (sql));
  g_mutex_unlock (&traced_lock);
  return 0;
}

static int
trace_connection (sqlite3 *db, const char **error_message, const sqlite3_api_routines *api)
{
  sqlite3_trace_v2 (db, SQLITE_TRACE_STMT, trace_statement, NULL);
  return SQLITE_OK;
}

static void
test_notifications_plans (Fixture *f, gconstpointer data)
{
  g_autoptr (GHashTable) statements = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (sqlite3) db = NULL;
  GHashTableIter iter;
  const char *sql;
  guint checked = 0;

  /* The store's connection is opened again, traced. */
  g_mutex_lock (&traced_lock);
  traced = statements;
  g_mutex_unlock (&traced_lock);
  g_assert_cmpint (sqlite3_auto_extension ((void (*) (void)) trace_connection), ==, SQLITE_OK);
  prd_test_store_close (f->store);
  g_clear_object (&f->store);
  f->store = prd_test_store_open (f->path, &error);
  g_assert_no_error (error);

  /* record, mark-read, every list: subscribe's unread, REST's all and
   * unread only, the activity feed */
  record_many (f);
  g_ptr_array_unref (list_unread (f, "bob", 500));
  g_ptr_array_unref (list_page (f, FALSE, G_MAXINT64, PAGE_LIMIT));
  g_ptr_array_unref (list_page (f, TRUE, G_MAXINT64, PAGE_LIMIT));
  g_ptr_array_unref (list_activity (f, G_MAXINT64, PAGE_LIMIT));
  record_activities (f, "org_a", 0, PRD_NOTIFICATION_STORE_ACTIVITY_LIMIT + 1);

  g_assert_cmpint (sqlite3_cancel_auto_extension ((void (*) (void)) trace_connection), ==, 1);
  g_mutex_lock (&traced_lock);
  traced = NULL;
  g_mutex_unlock (&traced_lock);

  db = prd_test_sqlite_open_ro (f->path);
  g_hash_table_iter_init (&iter, statements);
  while (g_hash_table_iter_next (&iter, (gpointer *) &sql, NULL))
    {
      g_autofree char *explain = NULL;
      g_autoptr (sqlite3_stmt) stmt = NULL;
      guint steps = 0;

      if (g_str_has_prefix (sql, "INSERT "))
        continue;
      explain = g_strconcat ("EXPLAIN QUERY PLAN ", sql, NULL);
      g_assert_cmpint (sqlite3_prepare_v2 (db, explain, -1, &stmt, NULL), ==, SQLITE_OK);
      while (sqlite3_step (stmt) == SQLITE_ROW)
        {
          const char *detail = (const char *) sqlite3_column_text (stmt, 3);

          g_test_message ("%s\n  %s", sql, detail);
          g_assert_null (strstr (detail, "TEMP B-TREE"));
          g_assert_true (g_str_has_prefix (detail, "SEARCH "));
          g_assert_true (strstr (detail, " INDEX ") != NULL ||
                         strstr (detail, "INTEGER PRIMARY KEY") != NULL);
          steps++;
        }
      g_assert_cmpuint (steps, ==, 1);
      checked++;
    }
  /* mark-read, subscribe's list, REST's two, the activity feed, and the
   * trims of the feed and of a user's notifications (record_many() leaves
   * each user at the limit): the oldest row kept, the end of a bounded
   * delete, the delete */
  g_assert_cmpuint (checked, ==, 11);
}

/* ---- conflicts ---- */

static void
test_conflicts (Fixture *f, gconstpointer data)
{
  PrdConflictStore *store = PRD_CONFLICT_STORE (f->store);
  PrdConflictRecord conflict = {
    .id = "conflict_1",
    .prd_id = "prd_a",
    .position = 12,
    .created_at = 99,
    .parties = "[{\"userId\":\"alice\"},{\"userId\":\"bob\"}]",
  };
  g_autoptr (GPtrArray) open = NULL;
  g_autoptr (GError) error = NULL;
  PrdConflictRecord *read;

  for (guint i = 0; i < 2; i++)
    {
      g_autoptr (GAsyncResult) res =
          PRD_TEST_WAIT_FOR (prd_conflict_store_add_async, store, &conflict, NULL);

      g_assert_true (prd_conflict_store_add_finish (store, res, &error));
      g_assert_no_error (error);
      conflict.id = "conflict_2";
      conflict.prd_id = "prd_b";
    }
  {
    g_autoptr (GAsyncResult) res = NULL;

    /* A conflict in a PRD that does not exist is refused. */
    conflict.id = "conflict_3";
    conflict.prd_id = "prd_gone";
    res = PRD_TEST_WAIT_FOR (prd_conflict_store_add_async, store, &conflict, NULL);
    g_assert_false (prd_conflict_store_add_finish (store, res, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_STORAGE);
    g_clear_error (&error);
  }
  {
    g_autoptr (GAsyncResult) res =
        PRD_TEST_WAIT_FOR (prd_conflict_store_remove_async, store, "conflict_2", NULL);

    g_assert_true (prd_conflict_store_remove_finish (store, res, &error));
    g_assert_no_error (error);
  }
  {
    /* Removing what is not there is no error: a resolution may race a
     * deleted PRD. */
    g_autoptr (GAsyncResult) res =
        PRD_TEST_WAIT_FOR (prd_conflict_store_remove_async, store, "conflict_9", NULL);

    g_assert_true (prd_conflict_store_remove_finish (store, res, &error));
    g_assert_no_error (error);
  }
  {
    g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_conflict_store_list_async, store, NULL);

    open = prd_conflict_store_list_finish (store, res, &error);
    g_assert_no_error (error);
  }
  g_assert_cmpuint (open->len, ==, 1);
  read = g_ptr_array_index (open, 0);
  g_assert_cmpstr (read->id, ==, "conflict_1");
  g_assert_cmpstr (read->prd_id, ==, "prd_a");
  g_assert_cmpuint (read->position, ==, 12);
  g_assert_cmpint (read->created_at, ==, 99);
  g_assert_cmpstr (read->parties, ==, "[{\"userId\":\"alice\"},{\"userId\":\"bob\"}]");
}

/* A resolution removes its conflict and rewrites the parties of others in
 * one savepoint; a rewritten conflict no longer stored is skipped. */
static void
test_conflicts_resolve (Fixture *f, gconstpointer data)
{
  PrdConflictStore *store = PRD_CONFLICT_STORE (f->store);
  const char *ids[] = { "conflict_1", "conflict_2", "conflict_3" };
  PrdConflictRecord rewrite[] = {
    { .id = "conflict_2", .parties = "[\"rewritten\"]" },
    { .id = "conflict_9", .parties = "[\"gone\"]" },
  };
  PrdConflictRecord bad = { .id = "conflict_3", .parties = NULL };
  g_autoptr (GPtrArray) rewritten = g_ptr_array_new ();
  g_autoptr (GPtrArray) open = NULL;
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      PrdConflictRecord conflict = {
        .id = (char *) ids[i], .prd_id = "prd_a", .position = i, .created_at = i, .parties = "[]"
      };
      g_autoptr (GAsyncResult) res =
          PRD_TEST_WAIT_FOR (prd_conflict_store_add_async, store, &conflict, NULL);

      g_assert_true (prd_conflict_store_add_finish (store, res, &error));
      g_assert_no_error (error);
    }
  {
    /* A rewrite without parties is refused, and nothing is removed. */
    g_autoptr (GAsyncResult) res = NULL;

    g_ptr_array_add (rewritten, &bad);
    res =
        PRD_TEST_WAIT_FOR (prd_conflict_store_resolve_async, store, "conflict_1", rewritten, NULL);
    g_assert_false (prd_conflict_store_resolve_finish (store, res, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
    g_clear_error (&error);
    g_ptr_array_set_size (rewritten, 0);
  }
  {
    g_autoptr (GAsyncResult) res = NULL;

    for (guint i = 0; i < G_N_ELEMENTS (rewrite); i++)
      g_ptr_array_add (rewritten, &rewrite[i]);
    res =
        PRD_TEST_WAIT_FOR (prd_conflict_store_resolve_async, store, "conflict_1", rewritten, NULL);
    g_assert_true (prd_conflict_store_resolve_finish (store, res, &error));
    g_assert_no_error (error);
  }
  {
    g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_conflict_store_list_async, store, NULL);

    open = prd_conflict_store_list_finish (store, res, &error);
    g_assert_no_error (error);
  }
  g_assert_cmpuint (open->len, ==, 2);
  for (guint i = 0; i < open->len; i++)
    {
      const PrdConflictRecord *read = g_ptr_array_index (open, i);

      if (g_str_equal (read->id, "conflict_2"))
        g_assert_cmpstr (read->parties, ==, "[\"rewritten\"]");
      else
        {
          g_assert_cmpstr (read->id, ==, "conflict_3");
          g_assert_cmpstr (read->parties, ==, "[]");
        }
    }
}

/* ---- AI jobs ---- */

static PrdAiJobRecord *
get_job (Fixture *f, const char *id)
{
  PrdAiJobStore *store = PRD_AI_JOB_STORE (f->store);
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_ai_job_store_get_async, store, id, NULL);
  PrdAiJobRecord *job = prd_ai_job_store_get_finish (store, res, &error);

  g_assert_no_error (error);
  return job;
}

static void
test_ai_jobs (Fixture *f, gconstpointer data)
{
  PrdAiJobStore *store = PRD_AI_JOB_STORE (f->store);
  PrdAiJobRecord job = {
    .id = "job_1",
    .prd_id = "prd_a",
    .user_id = "alice",
    .prompt = "Write the goals",
    .section = "goals",
    .state = "streaming",
    .created_at = 10,
    .updated_at = 11,
  };
  g_autoptr (PrdAiJobRecord) read = NULL;
  g_autoptr (PrdAiJobRecord) missing = NULL;
  g_autoptr (GError) error = NULL;
  gint64 n;

  for (guint i = 0; i < 3; i++)
    {
      g_autoptr (GAsyncResult) res =
          PRD_TEST_WAIT_FOR (prd_ai_job_store_save_async, store, &job, NULL);

      g_assert_true (prd_ai_job_store_save_finish (store, res, &error));
      g_assert_no_error (error);
      /* job_1 is saved twice (replaced), job_2 ends complete. */
      if (i == 1)
        {
          job.id = "job_2";
          job.section = NULL;
          job.state = "complete";
          job.tokens = 120;
          job.duration = 900;
        }
    }
  read = get_job (f, "job_1");
  g_assert_nonnull (read);
  g_assert_cmpstr (read->prd_id, ==, "prd_a");
  g_assert_cmpstr (read->prompt, ==, "Write the goals");
  g_assert_cmpstr (read->section, ==, "goals");
  g_assert_cmpstr (read->state, ==, "streaming");
  g_assert_cmpint (read->created_at, ==, 10);
  missing = get_job (f, "job_none");
  g_assert_null (missing);

  {
    g_autoptr (GAsyncResult) res =
        PRD_TEST_WAIT_FOR (prd_ai_job_store_interrupt_async, store, NULL);

    n = prd_ai_job_store_interrupt_finish (store, res, &error);
    g_assert_no_error (error);
    g_assert_cmpint (n, ==, 1);
  }
  g_clear_pointer (&read, prd_ai_job_record_free);
  read = get_job (f, "job_1");
  g_assert_cmpstr (read->state, ==, "failed");
  g_assert_cmpstr (read->error_code, ==, "INTERRUPTED");
  g_clear_pointer (&read, prd_ai_job_record_free);
  read = get_job (f, "job_2");
  g_assert_cmpstr (read->state, ==, "complete");
  g_assert_null (read->section);
  g_assert_null (read->error_code);
  g_assert_cmpint (read->tokens, ==, 120);
  g_assert_cmpint (read->duration, ==, 900);

  /* A record without its prompt is refused before it is queued. */
  {
    g_autoptr (GAsyncResult) res = NULL;

    job.id = "job_3";
    job.prompt = NULL;
    res = PRD_TEST_WAIT_FOR (prd_ai_job_store_save_async, store, &job, NULL);
    g_assert_false (prd_ai_job_store_save_finish (store, res, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  }
}

/* Saves a job of @user_id in org_a created at @created_at in @state. */
static void
save_job (Fixture *f, const char *id, const char *user_id, const char *state, gint64 created_at)
{
  PrdAiJobStore *store = PRD_AI_JOB_STORE (f->store);
  PrdAiJobRecord job = {
    .id = (char *) id,
    .prd_id = "prd_a",
    .org = "org_a",
    .user_id = (char *) user_id,
    .prompt = "Write the goals",
    .state = (char *) state,
    .created_at = created_at,
    .updated_at = created_at,
  };
  g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_ai_job_store_save_async, store, &job, NULL);
  g_autoptr (GError) error = NULL;

  g_assert_true (prd_ai_job_store_save_finish (store, res, &error));
  g_assert_no_error (error);
}

/* A user (organization and user id) keeps their newest
 * PRD_AI_JOB_STORE_USER_LIMIT jobs, in the order they were recorded, and
 * every job not ended yet; the record of a new job deletes the older ended
 * ones, at most 65 at a time (rows were never deleted before), and leaves
 * other users' alone, the same user id in another organization included.
 * The wall clock plays no part: jobs recorded after it was set back are
 * the newest all the same. */
static void
test_ai_job_limit (Fixture *f, gconstpointer data)
{
  const gint64 limit = PRD_AI_JOB_STORE_USER_LIMIT;
  g_autofree char *oldest = NULL;

  g_assert_cmpint (limit, ==, 1000);
  /* One job of alice's still streaming (the oldest), 1,200 ended ones from
   * an older release, three of bob's, three of alice's in org_b. */
  raw_exec_rw (f, "INSERT INTO ai_jobs (id, prd_id, org, user_id, prompt, state, created_at, "
                  "updated_at) VALUES ('job_running', 'prd_a', 'org_a', 'alice', 'p', "
                  "'streaming', 0, 0)");
  raw_exec_rw (f, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200) "
                  "INSERT INTO ai_jobs (id, prd_id, org, user_id, prompt, state, created_at, "
                  "updated_at) SELECT printf('job_old_%05d', i), 'prd_a', 'org_a', 'alice', 'p', "
                  "'complete', 1000000 + i, 1000000 + i FROM n");
  raw_exec_rw (f, "INSERT INTO ai_jobs (id, prd_id, org, user_id, prompt, state, created_at, "
                  "updated_at) VALUES ('job_b1', 'prd_a', 'org_a', 'bob', 'p', 'complete', 1, 1), "
                  "('job_b2', 'prd_a', 'org_a', 'bob', 'p', 'failed', 2, 2), "
                  "('job_b3', 'prd_a', 'org_a', 'bob', 'p', 'cancelled', 3, 3), "
                  "('job_o1', 'prd_o', 'org_b', 'alice', 'p', 'complete', 1, 1), "
                  "('job_o2', 'prd_o', 'org_b', 'alice', 'p', 'complete', 2, 2), "
                  "('job_o3', 'prd_o', 'org_b', 'alice', 'p', 'complete', 3, 3)");

  /* A job that ends trims nothing; a new one takes 65 ended ones. The new
   * jobs are created "before" every kept one (a clock set back). */
  save_job (f, "job_old_01200", "alice", "complete", 1001200);
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM ai_jobs WHERE org = 'org_a' AND user_id = "
                                 "'alice'"),
                   ==, 1201);
  save_job (f, "job_new_0", "alice", "queued", 500);
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM ai_jobs WHERE org = 'org_a' AND user_id = "
                                 "'alice'"),
                   ==, 1202 - 65);
  save_job (f, "job_new_0", "alice", "complete", 500);
  for (guint i = 1; i <= 3; i++)
    {
      g_autofree char *id = g_strdup_printf ("job_new_%u", i);

      save_job (f, id, "alice", "queued", 500 - i);
      save_job (f, id, "alice", "complete", 500 - i);
    }
  /* 65 + 65 + 65 + 9 went: the newest 1,000 stay, the new ones among them,
   * and the one streaming. */
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM ai_jobs WHERE org = 'org_a' AND user_id = "
                                 "'alice'"),
                   ==, limit + 1);
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM ai_jobs WHERE id LIKE 'job_new_%'"), ==, 4);
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM ai_jobs WHERE id = 'job_running'"), ==, 1);
  oldest = raw_text (f, "SELECT id FROM ai_jobs WHERE org = 'org_a' AND user_id = 'alice' AND "
                        "state = 'complete' ORDER BY rowid LIMIT 1");
  g_assert_cmpstr (oldest, ==, "job_old_00205");
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM ai_jobs WHERE user_id = 'bob'"), ==, 3);
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM ai_jobs WHERE org = 'org_b'"), ==, 3);
}

/* ---- versions ---- */

static gboolean
add_version (Fixture *f, const char *prd_id, const char *version, GError **error)
{
  PrdVersionStore *store = PRD_VERSION_STORE (f->store);
  g_autofree char *id = prd_version_generate_id ();
  PrdVersionRecord record = {
    .id = id,
    .prd_id = (char *) prd_id,
    .version = (char *) version,
    .commit_hash = "0123456789abcdef0123456789abcdef01234567",
    .changelog = "Goals",
    .created_by_id = "alice",
    .created_by_name = "Alice",
    .created_at = 77,
  };
  g_autoptr (GAsyncResult) res =
      PRD_TEST_WAIT_FOR (prd_version_store_add_async, store, &record, NULL);

  return prd_version_store_add_finish (store, res, error);
}

static void
test_versions (Fixture *f, gconstpointer data)
{
  PrdVersionStore *store = PRD_VERSION_STORE (f->store);
  g_autoptr (GPtrArray) versions = NULL;
  g_autoptr (GError) error = NULL;
  PrdVersionRecord *first;

  g_assert_true (add_version (f, "prd_a", "0.2.0", &error));
  g_assert_true (add_version (f, "prd_a", "1.0.0", &error));
  g_assert_no_error (error);
  /* A version the PRD has is refused, and the PRD keeps its number. */
  g_assert_false (add_version (f, "prd_a", "0.2.0", &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_ALREADY_EXISTS);
  g_clear_error (&error);
  g_assert_false (add_version (f, "prd_gone", "0.2.0", &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND);
  g_clear_error (&error);
  {
    g_autofree char *version = raw_text (f, "SELECT version FROM prds WHERE id = 'prd_a'");

    g_assert_cmpstr (version, ==, "1.0.0");
  }
  {
    g_autoptr (GAsyncResult) res =
        PRD_TEST_WAIT_FOR (prd_version_store_list_async, store, "prd_a", NULL);

    versions = prd_version_store_list_finish (store, res, &error);
    g_assert_no_error (error);
  }
  g_assert_cmpuint (versions->len, ==, 2);
  first = g_ptr_array_index (versions, 0);
  g_assert_cmpstr (first->version, ==, "0.2.0");
  g_assert_cmpstr (first->prd_id, ==, "prd_a");
  g_assert_cmpstr (first->created_by_name, ==, "Alice");
  g_assert_cmpint (first->created_at, ==, 77);
  g_assert_cmpstr (((PrdVersionRecord *) g_ptr_array_index (versions, 1))->version, ==, "1.0.0");
}

/* ---- failures ---- */

/* After close, every interface answers with a storage error. */
static void
test_closed (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) notifications = notifications_new ("notif_1", "bob");

  prd_test_store_close (f->store);

  g_assert_false (add_comment (f, "comment_1", NULL, "notif_1", NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_STORAGE);
  g_assert_nonnull (strstr (error->message, "closed"));
  g_clear_error (&error);
  {
    PrdCommentStore *store = PRD_COMMENT_STORE (f->store);
    g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_comment_store_load_async, store, NULL);

    g_assert_null (prd_comment_store_load_finish (store, res, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_STORAGE);
    g_clear_error (&error);
  }
  {
    PrdNotificationStore *store = PRD_NOTIFICATION_STORE (f->store);
    g_autoptr (GAsyncResult) res =
        PRD_TEST_WAIT_FOR (prd_notification_store_record_async, store, notifications, NULL, NULL);

    g_assert_false (prd_notification_store_record_finish (store, res, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_STORAGE);
    g_clear_error (&error);
  }
  {
    PrdNotificationStore *store = PRD_NOTIFICATION_STORE (f->store);
    const char *const ids[] = { "notif_1", NULL };
    g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_notification_store_mark_read_async, store,
                                                      "org_a", "bob", ids, NULL);

    g_assert_cmpint (prd_notification_store_mark_read_finish (store, res, &error), ==, -1);
    g_assert_error (error, PRD_ERROR, PRD_ERROR_STORAGE);
    g_clear_error (&error);
  }
  {
    PrdConflictStore *store = PRD_CONFLICT_STORE (f->store);
    g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_conflict_store_list_async, store, NULL);

    g_assert_null (prd_conflict_store_list_finish (store, res, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_STORAGE);
    g_clear_error (&error);
  }
  {
    PrdAiJobStore *store = PRD_AI_JOB_STORE (f->store);
    g_autoptr (GAsyncResult) res =
        PRD_TEST_WAIT_FOR (prd_ai_job_store_interrupt_async, store, NULL);

    g_assert_cmpint (prd_ai_job_store_interrupt_finish (store, res, &error), ==, -1);
    g_assert_error (error, PRD_ERROR, PRD_ERROR_STORAGE);
    g_clear_error (&error);
  }
  {
    PrdApprovalStore *store = PRD_APPROVAL_STORE (f->store);
    PrdApprovalRecord approval = {
      .prd_id = "prd_a",
      .approver_id = "carol",
      .approver_name = "Carol",
    };
    g_autoptr (GAsyncResult) res =
        PRD_TEST_WAIT_FOR (prd_approval_store_add_async, store, &approval, NULL, NULL, NULL);

    g_assert_false (prd_approval_store_add_finish (store, res, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_STORAGE);
    g_clear_error (&error);
  }
  g_assert_false (add_version (f, "prd_a", "0.2.0", &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_STORAGE);
  g_clear_object (&f->store);
}

/* A database whose tables are not what the store expects (damaged, or
 * changed by hand) gives an error that says so, and a half-done change is
 * rolled back. */
static void
test_damaged (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  prd_test_store_close (f->store);
  g_clear_object (&f->store);
  raw_exec_rw (f, "DROP TABLE social_activity");
  f->store = prd_test_store_open (f->path, &error);
  g_assert_no_error (error);

  g_assert_false (add_comment (f, "comment_1", NULL, "notif_1", "activity_1", &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_STORAGE);
  g_assert_nonnull (strstr (error->message, "social_activity"));
  g_clear_error (&error);
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_comments"), ==, 0);
  g_assert_cmpint (raw_count (f, "SELECT count(*) FROM social_notifications"), ==, 0);
  {
    g_autoptr (GPtrArray) feed = NULL;
    PrdNotificationStore *store = PRD_NOTIFICATION_STORE (f->store);
    g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_notification_store_list_activity_async,
                                                      store, "org_a", G_MAXINT64, 10, NULL);

    feed = prd_notification_store_list_activity_finish (store, res, &error);
    g_assert_null (feed);
    g_assert_error (error, PRD_ERROR, PRD_ERROR_STORAGE);
  }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/prd/store/comments/roundtrip", test_comments);
  ADD ("/prd/store/comments/atomic", test_comment_atomic);
  ADD ("/prd/store/comments/existing-rows", test_comment_rows);
  ADD ("/prd/store/comments/prd-deleted", test_comment_prd_deleted);
  ADD ("/prd/store/comments/reply-order", test_reply_order);
  ADD ("/prd/store/approvals/add", test_approvals);
  ADD ("/prd/store/revocations/roundtrip", test_revocations);
  ADD ("/prd/store/revocations/sign-in-links", test_sign_in_links);
  ADD ("/prd/store/notifications/roundtrip", test_notifications);
  ADD ("/prd/store/notifications/paging", test_notifications_paging);
  ADD ("/prd/store/notifications/plans", test_notifications_plans);
  ADD ("/prd/store/notifications/notification-limit", test_notification_limit);
  ADD ("/prd/store/notifications/notification-backlog-shared", test_notification_backlog_shared);
  ADD ("/prd/store/notifications/activity-limit", test_activity_limit);
  ADD ("/prd/store/notifications/activity-backlog", test_activity_backlog);
  ADD ("/prd/store/conflicts/roundtrip", test_conflicts);
  ADD ("/prd/store/conflicts/resolve", test_conflicts_resolve);
  ADD ("/prd/store/ai-jobs/roundtrip", test_ai_jobs);
  ADD ("/prd/store/ai-jobs/user-limit", test_ai_job_limit);
  ADD ("/prd/store/versions/roundtrip", test_versions);
  ADD ("/prd/store/features/closed", test_closed);
  ADD ("/prd/store/features/damaged", test_damaged);
#undef ADD

  return g_test_run ();
}
