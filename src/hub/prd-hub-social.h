/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <libsoup/soup.h>

#include "prd-approval-store.h"
#include "prd-auth.h"
#include "prd-comment-store.h"
#include "prd-hub-rest.h"
#include "prd-hub-room-registry.h"
#include "prd-notification-store.h"
#include "prd-sio-namespace.h"
#include "prd-store.h"

G_BEGIN_DECLS

/* The most unread notifications `subscribe` delivers (oldest first). */
#define PRD_HUB_SOCIAL_MAX_UNREAD 500
/* The most ids one `mark-read` takes. */
#define PRD_HUB_SOCIAL_MAX_MARK_READ 500
/* Page sizes of GET /api/activity. */
#define PRD_HUB_ACTIVITY_DEFAULT_LIMIT 50
#define PRD_HUB_ACTIVITY_MAX_LIMIT     100

#define PRD_TYPE_HUB_SOCIAL (prd_hub_social_get_type ())
G_DECLARE_FINAL_TYPE (PrdHubSocial, prd_hub_social, PRD, HUB_SOCIAL, GObject)

void prd_hub_social_new_async (PrdHubRoomRegistry *rooms,
                               PrdSioNamespace *notifications,
                               PrdStore *store,
                               PrdCommentStore *comments,
                               PrdApprovalStore *approvals,
                               PrdNotificationStore *feed,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data);
PrdHubSocial *prd_hub_social_new_finish (GAsyncResult *result, GError **error);
void prd_hub_social_add_open_comments (PrdHubSocial *self, PrdHubRoom *room, JsonObject *joined);
void prd_hub_social_add_routes (PrdHubSocial *self, PrdHubRest *rest);

/* For #PrdHubCreation::prd-created (REST and command line). */
void prd_hub_social_record_prd_created_async (PrdNotificationStore *store,
                                              const PrdStoreInfo *info,
                                              const char *actor_name,
                                              GCancellable *cancellable,
                                              GAsyncReadyCallback callback,
                                              gpointer user_data);
gboolean prd_hub_social_record_prd_created_finish (GAsyncResult *result, GError **error);

/* For the versions feature: notifies @editors (user ids; NULL: everyone
 * who edited the PRD; the actor is skipped) with a `version_created`
 * notification and records a `version_created` activity. */
void prd_hub_notify_version_created (PrdHubSocial *self,
                                     const char *prd_id,
                                     const char *org,
                                     const char *title,
                                     const char *version,
                                     const char *actor_id,
                                     const char *actor_name,
                                     const char *const *editors);

G_END_DECLS
