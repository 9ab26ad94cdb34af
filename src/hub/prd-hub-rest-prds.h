/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-hub-rest.h"
#include "prd-hub-room-registry.h"
#include "prd-store.h"

G_BEGIN_DECLS

/* Page sizes of GET /api/prds. */
#define PRD_HUB_REST_PRDS_DEFAULT_LIMIT 100
#define PRD_HUB_REST_PRDS_MAX_LIMIT     100

void prd_hub_rest_prds_add (PrdHubRest *rest,
                            PrdStore *store,
                            PrdHubRoomRegistry *rooms,
                            guint max_document_size);

G_END_DECLS
