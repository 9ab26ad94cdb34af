/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-ai-provider.h"
#include "prd-hub-room-registry.h"
#include "prd-integration-registry.h"
#include "prd-notification-store.h"

G_BEGIN_DECLS

/* How often (seconds) the hub looks for organizations whose poll is due. */
#define PRD_HUB_CRAFTIO_TICK 2
/* The most initiatives linked to one PRD. */
#define PRD_HUB_CRAFTIO_MAX_LINKS 20

#define PRD_TYPE_HUB_CRAFTIO (prd_hub_craftio_get_type ())

G_DECLARE_FINAL_TYPE (PrdHubCraftio, prd_hub_craftio, PRD, HUB_CRAFTIO, GObject)

PrdHubCraftio *prd_hub_craftio_new (PrdHubRoomRegistry *rooms,
                                    PrdStore *store,
                                    PrdIntegrationRegistry *registry,
                                    PrdNotificationStore *feed);
void prd_hub_craftio_prd_titled (
    PrdHubCraftio *self, const char *org, const char *prd_id, const char *title, const char *owner);
void prd_hub_craftio_set_ai_provider (PrdHubCraftio *self, PrdAiProvider *provider);

G_END_DECLS
