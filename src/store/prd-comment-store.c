/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdCommentStore: the interface's records and checked entry points.
 * Arguments are checked here, once for every backend, before anything is
 * queued; a rejected request changes nothing.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include "prd-error.h"
#include "prd-store.h"

#include "prd-comment-store.h"

G_DEFINE_INTERFACE (PrdCommentStore, prd_comment_store, G_TYPE_OBJECT)

static void
prd_comment_store_default_init (PrdCommentStoreInterface *iface)
{
}

/* ---- records ---- */

PrdReplyRecord *
prd_reply_record_copy (const PrdReplyRecord *record)
{
  PrdReplyRecord *copy;

  g_return_val_if_fail (record != NULL, NULL);

  copy = g_new0 (PrdReplyRecord, 1);
  copy->id = g_strdup (record->id);
  copy->comment_id = g_strdup (record->comment_id);
  copy->author_id = g_strdup (record->author_id);
  copy->author_name = g_strdup (record->author_name);
  copy->content = g_strdup (record->content);
  copy->created_at = record->created_at;
  return copy;
}

void
prd_reply_record_free (PrdReplyRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->id);
  g_free (record->comment_id);
  g_free (record->author_id);
  g_free (record->author_name);
  g_free (record->content);
  g_free (record);
}

static gpointer
copy_reply (gconstpointer reply, gpointer user_data)
{
  return prd_reply_record_copy (reply);
}

PrdCommentRecord *
prd_comment_record_copy (const PrdCommentRecord *record)
{
  PrdCommentRecord *copy;

  g_return_val_if_fail (record != NULL, NULL);

  copy = g_new0 (PrdCommentRecord, 1);
  copy->id = g_strdup (record->id);
  copy->prd_id = g_strdup (record->prd_id);
  copy->org = g_strdup (record->org);
  copy->author_id = g_strdup (record->author_id);
  copy->author_name = g_strdup (record->author_name);
  copy->author_avatar = g_strdup (record->author_avatar);
  copy->content = g_strdup (record->content);
  copy->anchor = g_strdup (record->anchor);
  copy->created_at = record->created_at;
  copy->resolved_by_id = g_strdup (record->resolved_by_id);
  copy->resolved_by_name = g_strdup (record->resolved_by_name);
  copy->resolved_at = record->resolved_at;
  if (record->replies != NULL)
    {
      copy->replies = g_ptr_array_copy (record->replies, copy_reply, NULL);
      g_ptr_array_set_free_func (copy->replies, (GDestroyNotify) prd_reply_record_free);
    }
  return copy;
}

void
prd_comment_record_free (PrdCommentRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->id);
  g_free (record->prd_id);
  g_free (record->org);
  g_free (record->author_id);
  g_free (record->author_name);
  g_free (record->author_avatar);
  g_free (record->content);
  g_free (record->anchor);
  g_free (record->resolved_by_id);
  g_free (record->resolved_by_name);
  g_clear_pointer (&record->replies, g_ptr_array_unref);
  g_free (record);
}

/* ---- checks ---- */

static gboolean
check_text (const char *what, const char *text, GError **error)
{
  if (text == NULL || !g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "The %s must be UTF-8 text", what);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_comment (const PrdCommentRecord *c, GError **error)
{
  return check_text ("comment id", c->id, error) && prd_store_validate_prd_id (c->prd_id, error) &&
         prd_store_validate_name ("organization", c->org, error) &&
         prd_store_validate_name ("author", c->author_id, error) &&
         check_text ("author name", c->author_name, error) &&
         (c->author_avatar == NULL || check_text ("avatar", c->author_avatar, error)) &&
         check_text ("content", c->content, error) && check_text ("anchor", c->anchor, error);
}

static gboolean
check_reply (const PrdReplyRecord *r, GError **error)
{
  return check_text ("reply id", r->id, error) && check_text ("comment id", r->comment_id, error) &&
         prd_store_validate_name ("author", r->author_id, error) &&
         check_text ("author name", r->author_name, error) &&
         check_text ("content", r->content, error);
}

/* ---- the interface ---- */

/**
 * prd_comment_store_load_async:
 *
 * Reads every comment with its replies.
 */
void
prd_comment_store_load_async (PrdCommentStore *self,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
  g_return_if_fail (PRD_IS_COMMENT_STORE (self));

  PRD_COMMENT_STORE_GET_IFACE (self)->load_async (self, cancellable, callback, user_data);
}

/**
 * prd_comment_store_load_finish:
 *
 * Returns: (transfer full) (element-type PrdCommentRecord): every comment,
 *   each with its replies in the order they were added, or %NULL with @error set
 */
GPtrArray *
prd_comment_store_load_finish (PrdCommentStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PRD_IS_COMMENT_STORE (self), NULL);

  return PRD_COMMENT_STORE_GET_IFACE (self)->load_finish (self, result, error);
}

/**
 * prd_comment_store_add_async:
 * @comment: the new comment (open, without replies); copied
 * @notifications: (nullable) (element-type PrdNotificationRecord): copied
 * @activities: (nullable) (element-type PrdActivityRecord): copied
 *
 * Stores @comment with the notifications and activities that announce it,
 * in one transaction. A comment id that is taken fails and writes nothing.
 */
void
prd_comment_store_add_async (PrdCommentStore *self,
                             const PrdCommentRecord *comment,
                             GPtrArray *notifications,
                             GPtrArray *activities,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data)
{
  g_autoptr (GPtrArray) n = NULL;
  g_autoptr (GPtrArray) a = NULL;
  GError *error = NULL;

  g_return_if_fail (PRD_IS_COMMENT_STORE (self));
  g_return_if_fail (comment != NULL);

  if (!check_comment (comment, &error) ||
      !prd_notification_records_validate (notifications, activities, &error))
    {
      g_task_report_error (self, callback, user_data, prd_comment_store_add_async, error);
      return;
    }
  n = prd_notification_records_copy (notifications);
  a = prd_activity_records_copy (activities);
  PRD_COMMENT_STORE_GET_IFACE (self)->add_async (self, comment, n, a, cancellable, callback,
                                                 user_data);
}

/**
 * prd_comment_store_add_finish:
 *
 * Returns: %TRUE once the comment and its announcements are committed
 */
gboolean
prd_comment_store_add_finish (PrdCommentStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PRD_IS_COMMENT_STORE (self), FALSE);

  if (g_async_result_is_tagged (result, prd_comment_store_add_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return PRD_COMMENT_STORE_GET_IFACE (self)->add_finish (self, result, error);
}

/**
 * prd_comment_store_add_reply_async:
 * @reply: the new reply; copied
 * @notifications: (nullable) (element-type PrdNotificationRecord): copied
 * @activities: (nullable) (element-type PrdActivityRecord): copied
 *
 * Stores @reply with its announcements, in one transaction.
 */
void
prd_comment_store_add_reply_async (PrdCommentStore *self,
                                   const PrdReplyRecord *reply,
                                   GPtrArray *notifications,
                                   GPtrArray *activities,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  g_autoptr (GPtrArray) n = NULL;
  g_autoptr (GPtrArray) a = NULL;
  GError *error = NULL;

  g_return_if_fail (PRD_IS_COMMENT_STORE (self));
  g_return_if_fail (reply != NULL);

  if (!check_reply (reply, &error) ||
      !prd_notification_records_validate (notifications, activities, &error))
    {
      g_task_report_error (self, callback, user_data, prd_comment_store_add_reply_async, error);
      return;
    }
  n = prd_notification_records_copy (notifications);
  a = prd_activity_records_copy (activities);
  PRD_COMMENT_STORE_GET_IFACE (self)->add_reply_async (self, reply, n, a, cancellable, callback,
                                                       user_data);
}

gboolean
prd_comment_store_add_reply_finish (PrdCommentStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PRD_IS_COMMENT_STORE (self), FALSE);

  if (g_async_result_is_tagged (result, prd_comment_store_add_reply_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return PRD_COMMENT_STORE_GET_IFACE (self)->add_reply_finish (self, result, error);
}

/**
 * prd_comment_store_resolve_async:
 * @comment_id: the comment
 * @resolved_by_id: who resolves it
 * @resolved_by_name: their display name
 * @resolved_at: when, microseconds since the Unix epoch
 * @notifications: (nullable) (element-type PrdNotificationRecord): copied
 * @activities: (nullable) (element-type PrdActivityRecord): copied
 *
 * Marks the comment resolved, unless it already is (a comment keeps its
 * first resolution), and stores the announcements, in one transaction.
 */
void
prd_comment_store_resolve_async (PrdCommentStore *self,
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
  g_autoptr (GPtrArray) n = NULL;
  g_autoptr (GPtrArray) a = NULL;
  GError *error = NULL;

  g_return_if_fail (PRD_IS_COMMENT_STORE (self));

  if (!check_text ("comment id", comment_id, &error) ||
      !prd_store_validate_name ("resolver", resolved_by_id, &error) ||
      !check_text ("resolver name", resolved_by_name, &error) ||
      !prd_notification_records_validate (notifications, activities, &error))
    {
      g_task_report_error (self, callback, user_data, prd_comment_store_resolve_async, error);
      return;
    }
  n = prd_notification_records_copy (notifications);
  a = prd_activity_records_copy (activities);
  PRD_COMMENT_STORE_GET_IFACE (self)->resolve_async (self, comment_id, resolved_by_id,
                                                     resolved_by_name, resolved_at, n, a,
                                                     cancellable, callback, user_data);
}

gboolean
prd_comment_store_resolve_finish (PrdCommentStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PRD_IS_COMMENT_STORE (self), FALSE);

  if (g_async_result_is_tagged (result, prd_comment_store_resolve_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return PRD_COMMENT_STORE_GET_IFACE (self)->resolve_finish (self, result, error);
}
