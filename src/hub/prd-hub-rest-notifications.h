/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-hub-rest.h"
#include "prd-notification-store.h"

G_BEGIN_DECLS

#define PRD_HUB_REST_NOTIFICATIONS_DEFAULT_LIMIT 50
#define PRD_HUB_REST_NOTIFICATIONS_MAX_LIMIT     100

void prd_hub_rest_notifications_add (PrdHubRest *rest, PrdNotificationStore *feed);

G_END_DECLS
