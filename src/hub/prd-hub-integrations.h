/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-hub-rest.h"
#include "prd-integration-registry.h"
#include "prd-notification-store.h"
#include "prd-sio-namespace.h"

G_BEGIN_DECLS

#define PRD_TYPE_HUB_INTEGRATIONS (prd_hub_integrations_get_type ())

G_DECLARE_FINAL_TYPE (PrdHubIntegrations, prd_hub_integrations, PRD, HUB_INTEGRATIONS, GObject)

PrdHubIntegrations *prd_hub_integrations_new (PrdIntegrationRegistry *registry,
                                              PrdNotificationStore *feed);
void prd_hub_integrations_watch_namespace (PrdHubIntegrations *self, PrdSioNamespace *nsp);
void prd_hub_integrations_add_routes (PrdHubIntegrations *self, PrdHubRest *rest);

G_END_DECLS
