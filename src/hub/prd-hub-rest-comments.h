/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-hub-comments.h"
#include "prd-hub-rest.h"
#include "prd-hub-room-registry.h"
#include "prd-store.h"

G_BEGIN_DECLS

void prd_hub_rest_comments_add (PrdHubRest *rest,
                                PrdHubComments *comments,
                                PrdHubRoomRegistry *rooms,
                                PrdStore *store);

G_END_DECLS
