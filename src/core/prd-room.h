/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-document.h"

G_BEGIN_DECLS

#define PRD_ROOM_N_COLORS 12

const char *prd_room_color_at (guint index);
guint prd_room_preferred_color (const char *prd_id, const char *user_id);

#define PRD_TYPE_ROOM (prd_room_get_type ())
G_DECLARE_FINAL_TYPE (PrdRoom, prd_room, PRD, ROOM, GObject)

/*
 * PrdRoom: who is in one PRD and where. Members are connections (a user may
 * have several), each with its own presence (status, cursor, selection);
 * users are what others see: one colour, the presence of the connection
 * that changed last, one user-joined / user-left per user whatever the
 * number of connections.
 * Cursors and selections are kept as CRDT anchors so that the positions
 * relayed later follow the text while others edit.
 *
 * Signals:
 *   "user-joined" (const char *user_id)   the user's first connection joined
 *   "user-left"   (const char *user_id, const char *name)  their last one left
 */

PrdRoom *prd_room_new (PrdDocument *document);
PrdDocument *prd_room_get_document (PrdRoom *self);

gboolean prd_room_add_member (PrdRoom *self,
                              const char *conn_id,
                              const char *user_id,
                              const char *name,
                              const char *avatar,
                              gboolean edit,
                              int site);
gboolean prd_room_remove_member (PrdRoom *self, const char *conn_id);
gboolean prd_room_has_member (PrdRoom *self, const char *conn_id);
guint prd_room_get_n_members (PrdRoom *self);
guint prd_room_get_n_users (PrdRoom *self);
gboolean prd_room_member_can_edit (PrdRoom *self, const char *conn_id);
int prd_room_member_get_site (PrdRoom *self, const char *conn_id);
const char *prd_room_member_get_user_id (PrdRoom *self, const char *conn_id);
const char *prd_room_member_get_status (PrdRoom *self, const char *conn_id);
gboolean prd_room_site_is_held (PrdRoom *self, int site);
GArray *prd_room_get_busy_sites (PrdRoom *self);
const char *prd_room_get_user_color (PrdRoom *self, const char *user_id);

gboolean
prd_room_update_presence (PrdRoom *self, const char *conn_id, JsonObject *payload, GError **error);

gboolean prd_room_set_status (PrdRoom *self, const char *conn_id, const char *status);
JsonNode *prd_room_build_user (PrdRoom *self, const char *user_id, gboolean with_site);
JsonNode *prd_room_build_active_users (PrdRoom *self);
JsonNode *prd_room_build_presence (PrdRoom *self, const char *conn_id);
const char *prd_room_get_latest_member (PrdRoom *self, const char *user_id);

G_END_DECLS
