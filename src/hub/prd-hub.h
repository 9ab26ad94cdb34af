/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <libsoup/soup.h>

#include "prd-ai-provider.h"
#include "prd-auth.h"
#include "prd-hub-ai.h"
#include "prd-hub-config.h"
#include "prd-hub-room-registry.h"
#include "prd-hub-comments.h"
#include "prd-hub-notifications.h"
#include "prd-hub-versions.h"
#include "prd-integration-registry.h"
#include "prd-secret-store.h"
#include "prd-sio-server.h"
#include "prd-store.h"

G_BEGIN_DECLS

/* Namespaces every hub serves. */
#define PRD_HUB_NAMESPACE_MAIN          "/"
#define PRD_HUB_NAMESPACE_PRDS          "/prds"
#define PRD_HUB_NAMESPACE_NOTIFICATIONS "/notifications"

/* Default of PrdHub:drain-timeout: how long a stopping hub waits for client
 * sessions to take their last packets before it stops listening anyway. */
#define PRD_HUB_DRAIN_TIMEOUT_MS 5000

#define PRD_TYPE_HUB (prd_hub_get_type ())
G_DECLARE_FINAL_TYPE (PrdHub, prd_hub, PRD, HUB, GObject)

PrdHub *prd_hub_new (PrdHubConfig *config, PrdAuth *auth);
PrdAuth *prd_hub_create_auth (PrdHubConfig *config, GError **error);
GTlsCertificate *prd_hub_load_tls_certificate (PrdHubConfig *config, GError **error);
void prd_hub_set_tls_certificate (PrdHub *self, GTlsCertificate *certificate);
gboolean prd_hub_listen (PrdHub *self, GError **error);
GSList *prd_hub_get_uris (PrdHub *self);
char *prd_hub_get_url (PrdHub *self);
void prd_hub_stop (PrdHub *self);
gboolean prd_hub_is_stopped (PrdHub *self);
PrdHubConfig *prd_hub_get_config (PrdHub *self);
PrdAuth *prd_hub_get_auth (PrdHub *self);
PrdSioServer *prd_hub_get_sio_server (PrdHub *self);
PrdEioServer *prd_hub_get_engine (PrdHub *self);
void prd_hub_set_store_async (PrdHub *self,
                              PrdStore *store,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data);
gboolean prd_hub_set_store_finish (PrdHub *self, GAsyncResult *result, GError **error);
PrdStore *prd_hub_get_store (PrdHub *self);
PrdHubRoomRegistry *prd_hub_get_rooms (PrdHub *self);
PrdHubComments *prd_hub_get_comments (PrdHub *self);
PrdHubNotifications *prd_hub_get_notifications (PrdHub *self);
PrdHubAi *prd_hub_get_ai (PrdHub *self);
PrdHubVersions *prd_hub_get_versions (PrdHub *self);
void prd_hub_set_ai_provider (PrdHub *self, PrdAiProvider *provider);
void prd_hub_set_secret_store (PrdHub *self, PrdSecretStore *secrets);
PrdIntegrationRegistry *prd_hub_get_integration_registry (PrdHub *self);
void prd_hub_add_integration_services (PrdIntegrationRegistry *registry, PrdHubConfig *config);

/* Creating a PRD, as the REST route and the command line do. */
void prd_hub_create_prd_async (PrdStore *store,
                               const char *org,
                               const char *title,
                               const char *owner,
                               const char *content,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data);
void prd_hub_create_prd_as_async (PrdStore *store,
                                  const char *org,
                                  const char *title,
                                  const char *owner,
                                  const char *owner_name,
                                  const char *content,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);
PrdStoreInfo *prd_hub_create_prd_finish (GAsyncResult *result, GError **error);
gboolean prd_hub_check_content_size (const char *content, guint max_length, GError **error);

G_END_DECLS
