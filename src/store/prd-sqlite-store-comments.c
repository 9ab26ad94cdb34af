/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdCommentStore on SQLite: the tables `social_comments` and
 * `social_replies` (schema migration "social" in prd-sqlite-store.c). Each
 * change and the notifications and activities announcing it are one write
 * request, hence one savepoint: they commit or roll back together.
 *
 * A comment without an avatar is stored with an empty `author_avatar`, as
 * it always was; reading treats empty and NULL alike.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include "prd-error.h"
#include "prd-sqlite-store-private.h"

typedef struct
{
  PrdCommentRecord *comment; /* (owned) (nullable) */
  PrdReplyRecord *reply;     /* (owned) (nullable) */
  char *comment_id;          /* resolve */
  char *resolved_by_id;
  char *resolved_by_name;
  gint64 resolved_at;
  GPtrArray *notifications; /* (owned) */
  GPtrArray *activities;    /* (owned) */
} Change;

static Change *
change_new (GPtrArray *notifications, GPtrArray *activities)
{
  Change *change = g_new0 (Change, 1);

  change->notifications = g_ptr_array_ref (notifications);
  change->activities = g_ptr_array_ref (activities);
  return change;
}

static void
change_free (Change *change)
{
  g_clear_pointer (&change->comment, prd_comment_record_free);
  g_clear_pointer (&change->reply, prd_reply_record_free);
  g_free (change->comment_id);
  g_free (change->resolved_by_id);
  g_free (change->resolved_by_name);
  g_ptr_array_unref (change->notifications);
  g_ptr_array_unref (change->activities);
  g_free (change);
}

static gboolean
finish_change (PrdCommentStore *self, GAsyncResult *result, GError **error)
{
  return prd_sqlite_store_run_finish (PRD_SQLITE_STORE (self), result, NULL, error);
}

enum
{
  COMMENT_GONE,
  COMMENT_EXISTS,
};

/* Returns: COMMENT_GONE or COMMENT_EXISTS, or -1 with @error set */
static int
comment_state (PrdSqliteWorker *worker, const char *comment_id, GError **error)
{
  g_autoptr (PrdSqliteStmt) stmt =
      prd_sqlite_worker_prepare (worker, "SELECT 1 FROM social_comments WHERE id = ?", error);
  int rc;

  if (stmt == NULL)
    return -1;
  prd_sqlite_bind_text (stmt, 1, comment_id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return COMMENT_EXISTS;
  if (rc == SQLITE_DONE)
    return COMMENT_GONE;
  prd_sqlite_worker_set_error (worker, rc, "Cannot read a comment", error);
  return -1;
}

/* The hub's answer for a comment it does not know (deleted with its PRD
 * after the request was queued). */
static void
set_comment_gone (GError **error, const char *comment_id)
{
  g_set_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND, "No comment %s", comment_id);
}

/* ---- load ---- */

static gboolean
op_load (PrdSqliteWorker *worker,
         gpointer data,
         gpointer *result,
         GDestroyNotify *result_free,
         GError **error)
{
  g_autoptr (GPtrArray) comments =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_comment_record_free);
  g_autoptr (GHashTable) by_id = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (PrdSqliteStmt) stmt = NULL;
  int rc;

  stmt = prd_sqlite_worker_prepare (
      worker,
      "SELECT id, prd_id, org, author_id, author_name, author_avatar, content, anchor, "
      "created_at, resolved_by_id, resolved_by_name, resolved_at FROM social_comments "
      "ORDER BY rowid",
      error);
  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      PrdCommentRecord *comment = g_new0 (PrdCommentRecord, 1);

      comment->id = prd_sqlite_column_text (stmt, 0);
      comment->prd_id = prd_sqlite_column_text (stmt, 1);
      comment->org = prd_sqlite_column_text (stmt, 2);
      comment->author_id = prd_sqlite_column_text (stmt, 3);
      comment->author_name = prd_sqlite_column_text (stmt, 4);
      comment->author_avatar = prd_sqlite_column_text (stmt, 5);
      if (comment->author_avatar != NULL && *comment->author_avatar == '\0')
        g_clear_pointer (&comment->author_avatar, g_free);
      comment->content = prd_sqlite_column_text (stmt, 6);
      comment->anchor = prd_sqlite_column_text (stmt, 7);
      comment->created_at = sqlite3_column_int64 (stmt, 8);
      comment->resolved_by_id = prd_sqlite_column_text (stmt, 9);
      comment->resolved_by_name = prd_sqlite_column_text (stmt, 10);
      comment->resolved_at = sqlite3_column_int64 (stmt, 11);
      comment->replies = g_ptr_array_new_with_free_func ((GDestroyNotify) prd_reply_record_free);
      g_ptr_array_add (comments, comment);
      if (comment->id != NULL)
        g_hash_table_insert (by_id, comment->id, comment);
    }
  if (rc != SQLITE_DONE)
    return prd_sqlite_worker_set_error (worker, rc, "Cannot read the comments", error);
  g_clear_pointer (&stmt, prd_sqlite_stmt_reset);

  /* In the order they were added, as the hub holds them while it runs:
   * created_at is the wall clock, which may have been set back meanwhile. */
  stmt = prd_sqlite_worker_prepare (worker,
                                    "SELECT id, comment_id, author_id, author_name, content, "
                                    "created_at FROM social_replies ORDER BY rowid",
                                    error);
  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const char *comment_id = (const char *) sqlite3_column_text (stmt, 1);
      PrdCommentRecord *comment =
          comment_id != NULL ? g_hash_table_lookup (by_id, comment_id) : NULL;
      PrdReplyRecord *reply;

      /* Replies of a comment that is gone go with it (ON DELETE CASCADE). */
      if (comment == NULL)
        continue;
      reply = g_new0 (PrdReplyRecord, 1);
      reply->id = prd_sqlite_column_text (stmt, 0);
      reply->comment_id = prd_sqlite_column_text (stmt, 1);
      reply->author_id = prd_sqlite_column_text (stmt, 2);
      reply->author_name = prd_sqlite_column_text (stmt, 3);
      reply->content = prd_sqlite_column_text (stmt, 4);
      reply->created_at = sqlite3_column_int64 (stmt, 5);
      g_ptr_array_add (comment->replies, reply);
    }
  if (rc != SQLITE_DONE)
    return prd_sqlite_worker_set_error (worker, rc, "Cannot read the replies", error);

  *result = g_steal_pointer (&comments);
  *result_free = (GDestroyNotify) g_ptr_array_unref;
  return TRUE;
}

static void
load_async (PrdCommentStore *self,
            GCancellable *cancellable,
            GAsyncReadyCallback callback,
            gpointer user_data)
{
  prd_sqlite_store_run_async (PRD_SQLITE_STORE (self), FALSE, op_load, NULL, NULL, load_async,
                              cancellable, callback, user_data);
}

static GPtrArray *
load_finish (PrdCommentStore *self, GAsyncResult *result, GError **error)
{
  gpointer comments = NULL;

  if (!prd_sqlite_store_run_finish (PRD_SQLITE_STORE (self), result, &comments, error))
    return NULL;
  return comments;
}

/* ---- add ---- */

static gboolean
op_add (PrdSqliteWorker *worker,
        gpointer data,
        gpointer *result,
        GDestroyNotify *result_free,
        GError **error)
{
  Change *change = data;
  const PrdCommentRecord *c = change->comment;
  g_autoptr (PrdSqliteStmt) stmt = NULL;

  if (!prd_sqlite_worker_check_prd (worker, c->prd_id, c->org, error))
    return FALSE;
  stmt = prd_sqlite_worker_prepare (
      worker,
      "INSERT INTO social_comments (id, prd_id, org, author_id, author_name, author_avatar, "
      "content, anchor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      error);
  if (stmt == NULL)
    return FALSE;
  prd_sqlite_bind_text (stmt, 1, c->id);
  prd_sqlite_bind_text (stmt, 2, c->prd_id);
  prd_sqlite_bind_text (stmt, 3, c->org);
  prd_sqlite_bind_text (stmt, 4, c->author_id);
  prd_sqlite_bind_text (stmt, 5, c->author_name);
  prd_sqlite_bind_text (stmt, 6, c->author_avatar != NULL ? c->author_avatar : "");
  prd_sqlite_bind_text (stmt, 7, c->content);
  prd_sqlite_bind_text (stmt, 8, c->anchor);
  sqlite3_bind_int64 (stmt, 9, c->created_at);
  if (!prd_sqlite_worker_step_done (worker, stmt, error))
    return FALSE;
  return prd_sqlite_worker_insert_announcements (worker, change->notifications, change->activities,
                                                 error);
}

static void
add_async (PrdCommentStore *self,
           const PrdCommentRecord *comment,
           GPtrArray *notifications,
           GPtrArray *activities,
           GCancellable *cancellable,
           GAsyncReadyCallback callback,
           gpointer user_data)
{
  Change *change = change_new (notifications, activities);

  change->comment = prd_comment_record_copy (comment);
  prd_sqlite_store_run_async (PRD_SQLITE_STORE (self), TRUE, op_add, change,
                              (GDestroyNotify) change_free, add_async, cancellable, callback,
                              user_data);
}

/* ---- add-reply ---- */

static gboolean
op_add_reply (PrdSqliteWorker *worker,
              gpointer data,
              gpointer *result,
              GDestroyNotify *result_free,
              GError **error)
{
  Change *change = data;
  const PrdReplyRecord *r = change->reply;
  g_autoptr (PrdSqliteStmt) stmt = NULL;
  int found;

  found = comment_state (worker, r->comment_id, error);
  if (found < 0)
    return FALSE;
  if (found == COMMENT_GONE)
    {
      set_comment_gone (error, r->comment_id);
      return FALSE;
    }
  stmt = prd_sqlite_worker_prepare (worker,
                                    "INSERT INTO social_replies (id, comment_id, author_id, "
                                    "author_name, content, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                                    error);
  if (stmt == NULL)
    return FALSE;
  prd_sqlite_bind_text (stmt, 1, r->id);
  prd_sqlite_bind_text (stmt, 2, r->comment_id);
  prd_sqlite_bind_text (stmt, 3, r->author_id);
  prd_sqlite_bind_text (stmt, 4, r->author_name);
  prd_sqlite_bind_text (stmt, 5, r->content);
  sqlite3_bind_int64 (stmt, 6, r->created_at);
  if (!prd_sqlite_worker_step_done (worker, stmt, error))
    return FALSE;
  return prd_sqlite_worker_insert_announcements (worker, change->notifications, change->activities,
                                                 error);
}

static void
add_reply_async (PrdCommentStore *self,
                 const PrdReplyRecord *reply,
                 GPtrArray *notifications,
                 GPtrArray *activities,
                 GCancellable *cancellable,
                 GAsyncReadyCallback callback,
                 gpointer user_data)
{
  Change *change = change_new (notifications, activities);

  change->reply = prd_reply_record_copy (reply);
  prd_sqlite_store_run_async (PRD_SQLITE_STORE (self), TRUE, op_add_reply, change,
                              (GDestroyNotify) change_free, add_reply_async, cancellable, callback,
                              user_data);
}

/* ---- resolve ---- */

static gboolean
op_resolve (PrdSqliteWorker *worker,
            gpointer data,
            gpointer *result,
            GDestroyNotify *result_free,
            GError **error)
{
  Change *change = data;
  g_autoptr (PrdSqliteStmt) stmt =
      prd_sqlite_worker_prepare (worker,
                                 "UPDATE social_comments SET resolved_by_id = ?, "
                                 "resolved_by_name = ?, resolved_at = ? "
                                 "WHERE id = ? AND resolved_by_id IS NULL",
                                 error);

  if (stmt == NULL)
    return FALSE;
  prd_sqlite_bind_text (stmt, 1, change->resolved_by_id);
  prd_sqlite_bind_text (stmt, 2, change->resolved_by_name);
  sqlite3_bind_int64 (stmt, 3, change->resolved_at);
  prd_sqlite_bind_text (stmt, 4, change->comment_id);
  if (!prd_sqlite_worker_step_done (worker, stmt, error))
    return FALSE;
  if (sqlite3_changes (prd_sqlite_worker_get_db (worker)) == 0)
    {
      /* Gone with its PRD, or resolved by a request before this one: its
       * announcements would speak of a resolution that did not happen. */
      int found = comment_state (worker, change->comment_id, error);

      if (found < 0)
        return FALSE;
      if (found == COMMENT_GONE)
        set_comment_gone (error, change->comment_id);
      else
        g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_OPERATION,
                     "Comment %s is already resolved", change->comment_id);
      return FALSE;
    }
  return prd_sqlite_worker_insert_announcements (worker, change->notifications, change->activities,
                                                 error);
}

static void
resolve_async (PrdCommentStore *self,
               const char *comment_id,
               const char *resolved_by_id,
               const char *resolved_by_name,
               gint64 resolved_at,
               GPtrArray *notifications,
               GPtrArray *activities,
               GCancellable *cancellable,
               GAsyncReadyCallback callback,
               gpointer user_data)
{
  Change *change = change_new (notifications, activities);

  change->comment_id = g_strdup (comment_id);
  change->resolved_by_id = g_strdup (resolved_by_id);
  change->resolved_by_name = g_strdup (resolved_by_name);
  change->resolved_at = resolved_at;
  prd_sqlite_store_run_async (PRD_SQLITE_STORE (self), TRUE, op_resolve, change,
                              (GDestroyNotify) change_free, resolve_async, cancellable, callback,
                              user_data);
}

void
prd_sqlite_store_comment_store_iface_init (PrdCommentStoreInterface *iface)
{
  iface->load_async = load_async;
  iface->load_finish = load_finish;
  iface->add_async = add_async;
  iface->add_finish = finish_change;
  iface->add_reply_async = add_reply_async;
  iface->add_reply_finish = finish_change;
  iface->resolve_async = resolve_async;
  iface->resolve_finish = finish_change;
}
