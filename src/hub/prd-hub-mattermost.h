/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-hub-room-registry.h"
#include "prd-integration-registry.h"
#include "prd-mattermost.h"
#include "prd-sio-socket.h"

G_BEGIN_DECLS

/* How often (seconds) the connection of every configured Mattermost is
 * checked. */
#define PRD_HUB_MATTERMOST_CHECK_INTERVAL 300

#define PRD_TYPE_HUB_MATTERMOST (prd_hub_mattermost_get_type ())

G_DECLARE_FINAL_TYPE (PrdHubMattermost, prd_hub_mattermost, PRD, HUB_MATTERMOST, GObject)

PrdHubMattermost *prd_hub_mattermost_new (PrdHubRoomRegistry *rooms,
                                          PrdIntegrationRegistry *registry,
                                          PrdSioNamespace *notifications);
void prd_hub_mattermost_set_public_url (PrdHubMattermost *self, const char *url);
void prd_hub_mattermost_announce (PrdHubMattermost *self,
                                  PrdMattermostEvent event,
                                  const char *org,
                                  const char *prd_id,
                                  const char *prd_title,
                                  const char *actor_name,
                                  const char *detail);
void prd_hub_mattermost_subscribed (PrdHubMattermost *self, PrdSioSocket *socket);

G_END_DECLS
