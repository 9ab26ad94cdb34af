/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-hub-announce.h"
#include "prd-notification-store.h"
#include "prd-sio-namespace.h"
#include "prd-store.h"

G_BEGIN_DECLS

/* The most unread notifications `subscribe` delivers (oldest first). */
#define PRD_HUB_NOTIFICATIONS_MAX_UNREAD 500
/* The most ids one `mark-read` takes. */
#define PRD_HUB_NOTIFICATIONS_MAX_MARK_READ 500

#define PRD_TYPE_HUB_NOTIFICATIONS (prd_hub_notifications_get_type ())
G_DECLARE_FINAL_TYPE (PrdHubNotifications, prd_hub_notifications, PRD, HUB_NOTIFICATIONS, GObject)

PrdHubNotifications *
prd_hub_notifications_new (PrdSioNamespace *nsp, PrdStore *store, PrdNotificationStore *feed);
void prd_hub_notifications_deliver (PrdHubNotifications *self, PrdHubAnnounce *announce);
void prd_hub_notifications_version_created (PrdHubNotifications *self,
                                            const char *prd_id,
                                            const char *org,
                                            const char *title,
                                            const char *version,
                                            const char *actor_id,
                                            const char *actor_name,
                                            const char *const *editors);

/* For #PrdHubCreation::prd-created (REST and command line). */
void prd_hub_notifications_record_prd_created_async (PrdNotificationStore *feed,
                                                     const PrdStoreInfo *info,
                                                     const char *actor_name,
                                                     GCancellable *cancellable,
                                                     GAsyncReadyCallback callback,
                                                     gpointer user_data);
gboolean prd_hub_notifications_record_prd_created_finish (GAsyncResult *result, GError **error);

G_END_DECLS
