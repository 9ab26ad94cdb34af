/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-hub-rest.h"
#include "prd-hub-room-registry.h"

G_BEGIN_DECLS

/* The most PRD ids one GET /api/presence may name. */
#define PRD_HUB_PRESENCE_MAX_IDS 200

void prd_hub_rest_presence_add (PrdHubRest *rest, PrdHubRoomRegistry *rooms);

G_END_DECLS
