/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

#include "prd-hub-room-registry.h"
#include "prd-sio-server.h"

G_BEGIN_DECLS

#define PRD_TYPE_HUB_SESSIONS (prd_hub_sessions_get_type ())
G_DECLARE_FINAL_TYPE (PrdHubSessions, prd_hub_sessions, PRD, HUB_SESSIONS, GObject)

PrdHubSessions *prd_hub_sessions_new (PrdSioServer *sio);
void prd_hub_sessions_set_rooms (PrdHubSessions *self, PrdHubRoomRegistry *rooms);
JsonNode *prd_hub_sessions_list (PrdHubSessions *self, const char *org);

G_END_DECLS
