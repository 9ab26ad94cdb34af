/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-hub-room-registry.h"
#include "prd-sio-namespace.h"

G_BEGIN_DECLS

#define PRD_TYPE_HUB_COLLAB (prd_hub_collab_get_type ())
G_DECLARE_FINAL_TYPE (PrdHubCollab, prd_hub_collab, PRD, HUB_COLLAB, GObject)

PrdHubCollab *prd_hub_collab_new (PrdSioNamespace *nsp, PrdHubRoomRegistry *rooms);

G_END_DECLS
