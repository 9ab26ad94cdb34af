/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * PrdNotificationStore: notifications and the activity feed, durable.
 *
 * A notification belongs to one user of one organization and is unread
 * until marked read; an activity is one entry of an organization's feed,
 * paged back from the newest by its sequence number. Both are kept as the
 * JSON object clients receive (`payload`), which the store does not look
 * into. A change that announces itself (a comment, an approval) is written
 * through its own store together with its notifications and activities, in
 * one transaction (prd_comment_store_add_async() and friends); this
 * interface records announcements that stand alone (a PRD created, a
 * version created) and reads them back.
 *
 * Every method is asynchronous and completes on the main context it was
 * called from; a write that fails changes nothing.
 *
 * An organization's feed keeps its newest
 * PRD_NOTIFICATION_STORE_ACTIVITY_LIMIT activities: the write that records
 * more (through this interface or with a change that announces itself)
 * deletes the oldest ones beyond it, in the same transaction. So does a
 * user's list of notifications in an organization, at
 * PRD_NOTIFICATION_STORE_NOTIFICATION_LIMIT, read or not.
 */

/* The activities kept per organization: ten pages of the REST feed's 100,
 * far more than the web editor's panel (30) shows. */
#define PRD_NOTIFICATION_STORE_ACTIVITY_LIMIT 1000

/* The notifications kept per user and organization: twice what a
 * subscription sends unread (500), twenty pages of the REST list's 50. */
#define PRD_NOTIFICATION_STORE_NOTIFICATION_LIMIT 1000

/**
 * PrdNotificationRecord:
 * @seq: the store's order of arrival (filled in when read)
 * @id: `notif_…`
 * @user_id: the user it is for
 * @org: that user's organization
 * @payload: the notification object sent to clients, as JSON text
 * @read: whether the user marked it read (filled in when read)
 */
typedef struct
{
  gint64 seq;
  char *id;
  char *user_id;
  char *org;
  char *payload;
  gboolean read;
} PrdNotificationRecord;

/**
 * PrdActivityRecord:
 * @seq: the position in the feed (filled in when read); the paging cursor
 * @id: `activity_…`
 * @org: the organization whose feed it is in
 * @payload: the activity object sent to clients, as JSON text
 */
typedef struct
{
  gint64 seq;
  char *id;
  char *org;
  char *payload;
} PrdActivityRecord;

PrdNotificationRecord *prd_notification_record_new (const char *id,
                                                    const char *user_id,
                                                    const char *org,
                                                    const char *payload);
PrdNotificationRecord *prd_notification_record_copy (const PrdNotificationRecord *record);
void prd_notification_record_free (PrdNotificationRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdNotificationRecord, prd_notification_record_free)

PrdActivityRecord *prd_activity_record_new (const char *id, const char *org, const char *payload);
PrdActivityRecord *prd_activity_record_copy (const PrdActivityRecord *record);
void prd_activity_record_free (PrdActivityRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdActivityRecord, prd_activity_record_free)

GPtrArray *prd_notification_records_copy (GPtrArray *records);
GPtrArray *prd_activity_records_copy (GPtrArray *records);
gboolean
prd_notification_records_validate (GPtrArray *notifications, GPtrArray *activities, GError **error);

#define PRD_TYPE_NOTIFICATION_STORE (prd_notification_store_get_type ())

G_DECLARE_INTERFACE (PrdNotificationStore, prd_notification_store, PRD, NOTIFICATION_STORE, GObject)

/**
 * PrdNotificationStoreInterface:
 * @record_async: write notifications and activities in one transaction
 * @list_unread_async: a user's unread notifications, oldest first
 * @mark_read_async: mark a user's notifications read; finishes with how many
 *   changed
 * @list_activity_async: an organization's feed, newest first, before a cursor
 * @list_async: a user's notifications (all, or the unread ones), newest
 *   first, before a cursor
 *
 * Arguments reach the implementation already checked; the record arrays
 * are its own copies (never %NULL), which it may keep a reference to.
 */
struct _PrdNotificationStoreInterface
{
  GTypeInterface parent_iface;

  void (*record_async) (PrdNotificationStore *self,
                        GPtrArray *notifications,
                        GPtrArray *activities,
                        GCancellable *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer user_data);
  gboolean (*record_finish) (PrdNotificationStore *self, GAsyncResult *result, GError **error);

  void (*list_unread_async) (PrdNotificationStore *self,
                             const char *org,
                             const char *user_id,
                             guint limit,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data);
  GPtrArray *(*list_unread_finish) (PrdNotificationStore *self,
                                    GAsyncResult *result,
                                    GError **error);

  void (*mark_read_async) (PrdNotificationStore *self,
                           const char *org,
                           const char *user_id,
                           const char *const *ids,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data);
  gint64 (*mark_read_finish) (PrdNotificationStore *self, GAsyncResult *result, GError **error);

  void (*list_activity_async) (PrdNotificationStore *self,
                               const char *org,
                               gint64 before,
                               guint limit,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data);
  GPtrArray *(*list_activity_finish) (PrdNotificationStore *self,
                                      GAsyncResult *result,
                                      GError **error);

  void (*list_async) (PrdNotificationStore *self,
                      const char *org,
                      const char *user_id,
                      gboolean unread_only,
                      gint64 before,
                      guint limit,
                      GCancellable *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer user_data);
  GPtrArray *(*list_finish) (PrdNotificationStore *self, GAsyncResult *result, GError **error);
};

void prd_notification_store_record_async (PrdNotificationStore *self,
                                          GPtrArray *notifications,
                                          GPtrArray *activities,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data);
gboolean prd_notification_store_record_finish (PrdNotificationStore *self,
                                               GAsyncResult *result,
                                               GError **error);

void prd_notification_store_list_unread_async (PrdNotificationStore *self,
                                               const char *org,
                                               const char *user_id,
                                               guint limit,
                                               GCancellable *cancellable,
                                               GAsyncReadyCallback callback,
                                               gpointer user_data);
GPtrArray *prd_notification_store_list_unread_finish (PrdNotificationStore *self,
                                                      GAsyncResult *result,
                                                      GError **error);

void prd_notification_store_mark_read_async (PrdNotificationStore *self,
                                             const char *org,
                                             const char *user_id,
                                             const char *const *ids,
                                             GCancellable *cancellable,
                                             GAsyncReadyCallback callback,
                                             gpointer user_data);
gint64 prd_notification_store_mark_read_finish (PrdNotificationStore *self,
                                                GAsyncResult *result,
                                                GError **error);

void prd_notification_store_list_activity_async (PrdNotificationStore *self,
                                                 const char *org,
                                                 gint64 before,
                                                 guint limit,
                                                 GCancellable *cancellable,
                                                 GAsyncReadyCallback callback,
                                                 gpointer user_data);
GPtrArray *prd_notification_store_list_activity_finish (PrdNotificationStore *self,
                                                        GAsyncResult *result,
                                                        GError **error);

void prd_notification_store_list_async (PrdNotificationStore *self,
                                        const char *org,
                                        const char *user_id,
                                        gboolean unread_only,
                                        gint64 before,
                                        guint limit,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data);
GPtrArray *prd_notification_store_list_finish (PrdNotificationStore *self,
                                               GAsyncResult *result,
                                               GError **error);

G_END_DECLS
