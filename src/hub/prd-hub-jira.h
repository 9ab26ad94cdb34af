/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-hub-rest.h"
#include "prd-hub-room-registry.h"
#include "prd-integration-registry.h"
#include "prd-notification-store.h"

G_BEGIN_DECLS

#define PRD_TYPE_HUB_JIRA (prd_hub_jira_get_type ())

G_DECLARE_FINAL_TYPE (PrdHubJira, prd_hub_jira, PRD, HUB_JIRA, GObject)

PrdHubJira *prd_hub_jira_new (PrdHubRoomRegistry *rooms,
                              PrdStore *store,
                              PrdIntegrationRegistry *registry,
                              PrdNotificationStore *feed);
void prd_hub_jira_set_public_url (PrdHubJira *self, const char *url);
void prd_hub_jira_add_routes (PrdHubJira *self, PrdHubRest *rest);
void prd_hub_jira_prd_deleted (PrdHubJira *self, const char *prd_id, const char *org);

G_END_DECLS
