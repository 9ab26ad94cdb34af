/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdNotificationStore: the interface's records and checked entry points.
 * Arguments are checked here, once for every backend; a backend sees only
 * complete records.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include "prd-error.h"
#include "prd-store.h"

#include "prd-notification-store.h"

G_DEFINE_INTERFACE (PrdNotificationStore, prd_notification_store, G_TYPE_OBJECT)

static void
prd_notification_store_default_init (PrdNotificationStoreInterface *iface)
{
}

/* ---- records ---- */

/**
 * prd_notification_record_new:
 * @id: `notif_…`
 * @user_id: the user it is for
 * @org: that user's organization
 * @payload: the notification object as JSON text
 *
 * Returns: (transfer full): a new unread record
 */
PrdNotificationRecord *
prd_notification_record_new (const char *id,
                             const char *user_id,
                             const char *org,
                             const char *payload)
{
  PrdNotificationRecord *record = g_new0 (PrdNotificationRecord, 1);

  record->id = g_strdup (id);
  record->user_id = g_strdup (user_id);
  record->org = g_strdup (org);
  record->payload = g_strdup (payload);
  return record;
}

PrdNotificationRecord *
prd_notification_record_copy (const PrdNotificationRecord *record)
{
  PrdNotificationRecord *copy;

  g_return_val_if_fail (record != NULL, NULL);

  copy = prd_notification_record_new (record->id, record->user_id, record->org, record->payload);
  copy->seq = record->seq;
  copy->read = record->read;
  return copy;
}

void
prd_notification_record_free (PrdNotificationRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->id);
  g_free (record->user_id);
  g_free (record->org);
  g_free (record->payload);
  g_free (record);
}

/**
 * prd_activity_record_new:
 * @id: `activity_…`
 * @org: the organization whose feed it goes to
 * @payload: the activity object as JSON text
 *
 * Returns: (transfer full): a new record
 */
PrdActivityRecord *
prd_activity_record_new (const char *id, const char *org, const char *payload)
{
  PrdActivityRecord *record = g_new0 (PrdActivityRecord, 1);

  record->id = g_strdup (id);
  record->org = g_strdup (org);
  record->payload = g_strdup (payload);
  return record;
}

PrdActivityRecord *
prd_activity_record_copy (const PrdActivityRecord *record)
{
  PrdActivityRecord *copy;

  g_return_val_if_fail (record != NULL, NULL);

  copy = prd_activity_record_new (record->id, record->org, record->payload);
  copy->seq = record->seq;
  return copy;
}

void
prd_activity_record_free (PrdActivityRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->id);
  g_free (record->org);
  g_free (record->payload);
  g_free (record);
}

static gpointer
copy_notification (gconstpointer record, gpointer user_data)
{
  return prd_notification_record_copy (record);
}

static gpointer
copy_activity (gconstpointer record, gpointer user_data)
{
  return prd_activity_record_copy (record);
}

/**
 * prd_notification_records_copy:
 * @records: (nullable) (element-type PrdNotificationRecord)
 *
 * Returns: (transfer full) (element-type PrdNotificationRecord): a deep
 *   copy (empty for %NULL), which a worker thread may read while the caller
 *   goes on
 */
GPtrArray *
prd_notification_records_copy (GPtrArray *records)
{
  GPtrArray *copy;

  if (records == NULL)
    return g_ptr_array_new_with_free_func ((GDestroyNotify) prd_notification_record_free);
  copy = g_ptr_array_copy (records, copy_notification, NULL);
  g_ptr_array_set_free_func (copy, (GDestroyNotify) prd_notification_record_free);
  return copy;
}

/**
 * prd_activity_records_copy:
 * @records: (nullable) (element-type PrdActivityRecord)
 *
 * Returns: (transfer full) (element-type PrdActivityRecord): a deep copy
 *   (empty for %NULL)
 */
GPtrArray *
prd_activity_records_copy (GPtrArray *records)
{
  GPtrArray *copy;

  if (records == NULL)
    return g_ptr_array_new_with_free_func ((GDestroyNotify) prd_activity_record_free);
  copy = g_ptr_array_copy (records, copy_activity, NULL);
  g_ptr_array_set_free_func (copy, (GDestroyNotify) prd_activity_record_free);
  return copy;
}

/**
 * prd_notification_records_validate:
 * @notifications: (nullable) (element-type PrdNotificationRecord)
 * @activities: (nullable) (element-type PrdActivityRecord)
 *
 * Checks that every record names its id, user, organization and payload,
 * for the stores whose changes carry announcements.
 *
 * Returns: %TRUE, or %FALSE with %PRD_ERROR_INVALID_PAYLOAD
 */
gboolean
prd_notification_records_validate (GPtrArray *notifications, GPtrArray *activities, GError **error)
{
  for (guint i = 0; notifications != NULL && i < notifications->len; i++)
    {
      const PrdNotificationRecord *n = g_ptr_array_index (notifications, i);

      if (n == NULL || n->id == NULL || n->payload == NULL ||
          !prd_store_validate_name ("user", n->user_id, error) ||
          !prd_store_validate_name ("organization", n->org, error))
        {
          if (error != NULL && *error == NULL)
            g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                                 "A notification needs an id and a payload");
          return FALSE;
        }
    }
  for (guint i = 0; activities != NULL && i < activities->len; i++)
    {
      const PrdActivityRecord *a = g_ptr_array_index (activities, i);

      if (a == NULL || a->id == NULL || a->payload == NULL ||
          !prd_store_validate_name ("organization", a->org, error))
        {
          if (error != NULL && *error == NULL)
            g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                                 "An activity needs an id and a payload");
          return FALSE;
        }
    }
  return TRUE;
}

/* ---- the interface ---- */

/**
 * prd_notification_store_record_async:
 * @notifications: (nullable) (element-type PrdNotificationRecord): copied
 * @activities: (nullable) (element-type PrdActivityRecord): copied
 *
 * Writes @notifications and @activities in one transaction: all of them or
 * none.
 */
void
prd_notification_store_record_async (PrdNotificationStore *self,
                                     GPtrArray *notifications,
                                     GPtrArray *activities,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data)
{
  g_autoptr (GPtrArray) n = NULL;
  g_autoptr (GPtrArray) a = NULL;
  GError *error = NULL;

  g_return_if_fail (PRD_IS_NOTIFICATION_STORE (self));

  if (!prd_notification_records_validate (notifications, activities, &error))
    {
      g_task_report_error (self, callback, user_data, prd_notification_store_record_async, error);
      return;
    }
  n = prd_notification_records_copy (notifications);
  a = prd_activity_records_copy (activities);
  PRD_NOTIFICATION_STORE_GET_IFACE (self)->record_async (self, n, a, cancellable, callback,
                                                         user_data);
}

/**
 * prd_notification_store_record_finish:
 *
 * Returns: %TRUE once the records are committed
 */
gboolean
prd_notification_store_record_finish (PrdNotificationStore *self,
                                      GAsyncResult *result,
                                      GError **error)
{
  g_return_val_if_fail (PRD_IS_NOTIFICATION_STORE (self), FALSE);

  if (g_async_result_is_tagged (result, prd_notification_store_record_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return PRD_NOTIFICATION_STORE_GET_IFACE (self)->record_finish (self, result, error);
}

/**
 * prd_notification_store_list_unread_async:
 * @org: the user's organization
 * @user_id: the user
 * @limit: the most notifications to return (the oldest come first)
 *
 * Reads the user's unread notifications, oldest first.
 */
void
prd_notification_store_list_unread_async (PrdNotificationStore *self,
                                          const char *org,
                                          const char *user_id,
                                          guint limit,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data)
{
  g_return_if_fail (PRD_IS_NOTIFICATION_STORE (self));
  g_return_if_fail (org != NULL && user_id != NULL);

  PRD_NOTIFICATION_STORE_GET_IFACE (self)->list_unread_async (self, org, user_id, limit,
                                                              cancellable, callback, user_data);
}

/**
 * prd_notification_store_list_unread_finish:
 *
 * Returns: (transfer full) (element-type PrdNotificationRecord): the
 *   notifications, or %NULL with @error set
 */
GPtrArray *
prd_notification_store_list_unread_finish (PrdNotificationStore *self,
                                           GAsyncResult *result,
                                           GError **error)
{
  g_return_val_if_fail (PRD_IS_NOTIFICATION_STORE (self), NULL);

  return PRD_NOTIFICATION_STORE_GET_IFACE (self)->list_unread_finish (self, result, error);
}

/**
 * prd_notification_store_mark_read_async:
 * @org: the user's organization
 * @user_id: the user; other users' notifications are left alone
 * @ids: (array zero-terminated=1): notification ids
 *
 * Marks the user's notifications among @ids read, in one transaction.
 */
void
prd_notification_store_mark_read_async (PrdNotificationStore *self,
                                        const char *org,
                                        const char *user_id,
                                        const char *const *ids,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data)
{
  g_return_if_fail (PRD_IS_NOTIFICATION_STORE (self));
  g_return_if_fail (org != NULL && user_id != NULL && ids != NULL);

  PRD_NOTIFICATION_STORE_GET_IFACE (self)->mark_read_async (self, org, user_id, ids, cancellable,
                                                            callback, user_data);
}

/**
 * prd_notification_store_mark_read_finish:
 *
 * Returns: how many notifications went from unread to read, or -1 with
 *   @error set
 */
gint64
prd_notification_store_mark_read_finish (PrdNotificationStore *self,
                                         GAsyncResult *result,
                                         GError **error)
{
  g_return_val_if_fail (PRD_IS_NOTIFICATION_STORE (self), -1);

  return PRD_NOTIFICATION_STORE_GET_IFACE (self)->mark_read_finish (self, result, error);
}

/**
 * prd_notification_store_list_activity_async:
 * @org: the organization
 * @before: only entries whose seq is lower (%G_MAXINT64: from the newest)
 * @limit: the most entries to return
 *
 * Reads a page of the organization's feed, newest first.
 */
void
prd_notification_store_list_activity_async (PrdNotificationStore *self,
                                            const char *org,
                                            gint64 before,
                                            guint limit,
                                            GCancellable *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer user_data)
{
  g_return_if_fail (PRD_IS_NOTIFICATION_STORE (self));
  g_return_if_fail (org != NULL);

  PRD_NOTIFICATION_STORE_GET_IFACE (self)->list_activity_async (self, org, before, limit,
                                                                cancellable, callback, user_data);
}

/**
 * prd_notification_store_list_activity_finish:
 *
 * Returns: (transfer full) (element-type PrdActivityRecord): the entries,
 *   or %NULL with @error set
 */
GPtrArray *
prd_notification_store_list_activity_finish (PrdNotificationStore *self,
                                             GAsyncResult *result,
                                             GError **error)
{
  g_return_val_if_fail (PRD_IS_NOTIFICATION_STORE (self), NULL);

  return PRD_NOTIFICATION_STORE_GET_IFACE (self)->list_activity_finish (self, result, error);
}

/**
 * prd_notification_store_list_async:
 * @org: the user's organization
 * @user_id: the user
 * @unread_only: only the unread ones
 * @before: only those whose `seq` is below this (the paging cursor;
 *   %G_MAXINT64 for the newest)
 * @limit: the most notifications to return (1 to 500)
 *
 * Reads a user's notifications, newest first.
 */
void
prd_notification_store_list_async (PrdNotificationStore *self,
                                   const char *org,
                                   const char *user_id,
                                   gboolean unread_only,
                                   gint64 before,
                                   guint limit,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  g_return_if_fail (PRD_IS_NOTIFICATION_STORE (self));
  g_return_if_fail (org != NULL && user_id != NULL);
  g_return_if_fail (limit >= 1 && limit <= 500);

  PRD_NOTIFICATION_STORE_GET_IFACE (self)->list_async (self, org, user_id, unread_only, before,
                                                       limit, cancellable, callback, user_data);
}

/**
 * prd_notification_store_list_finish:
 *
 * Returns: (transfer full) (element-type PrdNotificationRecord): the
 *   notifications, newest first, or %NULL with @error set
 */
GPtrArray *
prd_notification_store_list_finish (PrdNotificationStore *self,
                                    GAsyncResult *result,
                                    GError **error)
{
  g_return_val_if_fail (PRD_IS_NOTIFICATION_STORE (self), NULL);

  return PRD_NOTIFICATION_STORE_GET_IFACE (self)->list_finish (self, result, error);
}
