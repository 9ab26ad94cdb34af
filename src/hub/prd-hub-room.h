/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-document.h"
#include "prd-room.h"
#include "prd-sio-socket.h"
#include "prd-store.h"

G_BEGIN_DECLS

#define PRD_TYPE_HUB_ROOM (prd_hub_room_get_type ())
G_DECLARE_FINAL_TYPE (PrdHubRoom, prd_hub_room, PRD, HUB_ROOM, GObject)

const char *prd_hub_room_get_prd_id (PrdHubRoom *self);
PrdDocument *prd_hub_room_get_document (PrdHubRoom *self);
PrdRoom *prd_hub_room_get_members (PrdHubRoom *self);
gboolean prd_hub_room_is_open (PrdHubRoom *self);
gboolean prd_hub_room_check_writable (PrdHubRoom *self, GError **error);
GArray *prd_hub_room_get_busy_sites (PrdHubRoom *self);
void prd_hub_room_emit (PrdHubRoom *self, const char *event, JsonNode *payload);
guint prd_hub_room_emit_to_user (
    PrdHubRoom *self, const char *org, const char *user_id, const char *event, JsonNode *payload);
void prd_hub_room_broadcast (
    PrdHubRoom *self, PrdSioSocket *origin, const char *event, const char *key, JsonNode *payload);
void prd_hub_room_set_status (PrdHubRoom *self, PrdSioSocket *socket, const char *status);
gboolean prd_hub_room_hold (PrdHubRoom *self, GError **error);
void prd_hub_room_release (PrdHubRoom *self);
gboolean prd_hub_room_write (PrdHubRoom *self,
                             guint32 site,
                             const char *site_user,
                             const char *user_id,
                             const char *user_name,
                             gboolean insert,
                             guint32 position,
                             const char *text,
                             guint32 length,
                             GError **error);

PrdDocument *prd_hub_document_from_store (PrdStoreDocument *stored, GError **error);
JsonNode *prd_hub_vector_to_json (GArray *vector);
void prd_hub_add_prd_info (JsonBuilder *builder, const PrdStoreInfo *info);

G_END_DECLS
