/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-auth.h"
#include "prd-hub-config.h"
#include "prd-hub-room.h"
#include "prd-sio-namespace.h"
#include "prd-store.h"

G_BEGIN_DECLS

/* The user id of the hub's own site (initial content of a created PRD,
 * conflict resolutions). */
#define PRD_HUB_SITE_USER PRD_AUTH_HUB_USER_ID

#define PRD_TYPE_HUB_ROOM_REGISTRY (prd_hub_room_registry_get_type ())
G_DECLARE_FINAL_TYPE (PrdHubRoomRegistry, prd_hub_room_registry, PRD, HUB_ROOM_REGISTRY, GObject)

PrdHubRoomRegistry *
prd_hub_room_registry_new (PrdSioNamespace *nsp, PrdStore *store, PrdHubConfig *config);
PrdSioNamespace *prd_hub_room_registry_get_namespace (PrdHubRoomRegistry *self);
PrdHubConfig *prd_hub_room_registry_get_config (PrdHubRoomRegistry *self);
guint prd_hub_room_registry_get_n_rooms (PrdHubRoomRegistry *self);
gboolean prd_hub_room_registry_get_writes_lost (PrdHubRoomRegistry *self);
PrdHubRoom *prd_hub_room_registry_open (PrdHubRoomRegistry *self, const char *prd_id);
PrdHubRoom *
prd_hub_room_registry_open_in_org (PrdHubRoomRegistry *self, const char *prd_id, const char *org);
PrdHubRoom *prd_hub_room_registry_lookup (PrdHubRoomRegistry *self, const char *prd_id);
PrdHubRoom *prd_hub_room_registry_get_joined (PrdHubRoomRegistry *self,
                                              PrdSioSocket *socket,
                                              const char *prd_id,
                                              GError **error);
GStrv prd_hub_room_registry_get_socket_prds (PrdHubRoomRegistry *self, PrdSioSocket *socket);
gboolean prd_hub_room_registry_check_join (PrdHubRoomRegistry *self,
                                           PrdSioSocket *socket,
                                           const char *prd_id,
                                           GError **error);
PrdDocument *prd_hub_room_registry_peek_document (PrdHubRoomRegistry *self, const char *prd_id);
void prd_hub_room_registry_load_document_async (PrdHubRoomRegistry *self,
                                                const char *prd_id,
                                                const char *org,
                                                GCancellable *cancellable,
                                                GAsyncReadyCallback callback,
                                                gpointer user_data);
PrdDocument *prd_hub_room_registry_load_document_finish (PrdHubRoomRegistry *self,
                                                         GAsyncResult *result,
                                                         PrdStoreInfo **out_info,
                                                         char **out_text,
                                                         GArray **out_vector,
                                                         GError **error);
guint prd_hub_room_registry_get_n_loads (PrdHubRoomRegistry *self);

/* How many documents prd_hub_room_registry_load_document_async() builds at
 * once, each on a thread of its own; the others wait (`[collab]
 * max-queued-loads` of them). */
#define PRD_HUB_ROOM_REGISTRY_BUILDS_AT_ONCE 2
/* The Retry-After, in seconds, of a read refused for max-queued-loads. */
#define PRD_HUB_ROOM_REGISTRY_RETRY_LOAD 1
void prd_hub_room_registry_emit (PrdHubRoomRegistry *self,
                                 const char *prd_id,
                                 const char *event,
                                 JsonNode *payload);
void prd_hub_room_registry_set_version (PrdHubRoomRegistry *self,
                                        const char *prd_id,
                                        const char *version);

void prd_hub_room_registry_close (PrdHubRoomRegistry *self,
                                  const char *prd_id,
                                  const char *event,
                                  JsonNode *payload);
void prd_hub_room_registry_set_info (PrdHubRoomRegistry *self,
                                     const char *prd_id,
                                     const char *title,
                                     gboolean archived);

G_END_DECLS
