/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-auth.h"
#include "prd-document.h"
#include "prd-hub-config.h"
#include "prd-room.h"
#include "prd-sio-namespace.h"
#include "prd-store.h"

G_BEGIN_DECLS

/* The user id of the hub's own site (initial content of a created PRD). */
#define PRD_HUB_SITE_USER PRD_AUTH_HUB_USER_ID

#define PRD_TYPE_HUB_PRDS (prd_hub_prds_get_type ())
G_DECLARE_FINAL_TYPE (PrdHubPrds, prd_hub_prds, PRD, HUB_PRDS, GObject)

PrdHubPrds *prd_hub_prds_new (PrdSioNamespace *nsp, PrdStore *store, PrdHubConfig *config);
guint prd_hub_prds_get_n_rooms (PrdHubPrds *self);
void prd_hub_prds_emit (PrdHubPrds *self, const char *prd_id, const char *event, JsonNode *payload);
void prd_hub_prds_set_version (PrdHubPrds *self, const char *prd_id, const char *version);

/* Shared with the REST routes and the command line. */
PrdDocument *prd_hub_document_from_store (PrdStoreDocument *stored, GError **error);
void prd_hub_create_prd_async (PrdStore *store,
                               const char *org,
                               const char *title,
                               const char *owner,
                               const char *content,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data);
void prd_hub_create_prd_as_async (PrdStore *store,
                                  const char *org,
                                  const char *title,
                                  const char *owner,
                                  const char *owner_name,
                                  const char *content,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);
PrdStoreInfo *prd_hub_create_prd_finish (GAsyncResult *result, GError **error);
JsonNode *prd_hub_vector_to_json (GArray *vector);
void prd_hub_reply_error (PrdSioSocket *socket,
                          gint64 ack_id,
                          const char *event,
                          const char *prd_id,
                          const GError *error);

/* For features that live next to the collaboration (comments, approvals). */
typedef void (*PrdHubPrdsJoinedFunc) (const char *prd_id,
                                      PrdDocument *document,
                                      JsonObject *joined,
                                      gpointer user_data);
void prd_hub_prds_set_joined_func (PrdHubPrds *self, PrdHubPrdsJoinedFunc func, gpointer user_data);
PrdSioNamespace *prd_hub_prds_get_namespace (PrdHubPrds *self);
PrdDocument *prd_hub_prds_get_joined (PrdHubPrds *self,
                                      PrdSioSocket *socket,
                                      const char *prd_id,
                                      PrdRoom **room);
PrdDocument *prd_hub_prds_peek_document (PrdHubPrds *self, const char *prd_id);
char *prd_hub_prds_room_name (const char *prd_id);
GStrv prd_hub_prds_get_socket_prds (PrdHubPrds *self, PrdSioSocket *socket);

/* The hub's AI site (prd-hub-ai.c) writes into a room as this user. */
#define PRD_HUB_AI_USER      PRD_AUTH_AI_USER_ID
#define PRD_HUB_AI_USER_NAME "AI Assistant"

typedef struct _Room PrdHubRoom;

PrdHubRoom *prd_hub_prds_ai_hold (
    PrdHubPrds *self, const char *prd_id, PrdSioSocket *socket, gboolean edit, GError **error);
void prd_hub_prds_ai_release (PrdHubRoom *room);
PrdDocument *prd_hub_room_get_document (PrdHubRoom *room);
gboolean prd_hub_room_is_open (PrdHubRoom *room);
GArray *prd_hub_room_get_busy_sites (PrdHubRoom *room);
void prd_hub_room_emit (PrdHubRoom *room, const char *event, JsonNode *payload);
void prd_hub_room_set_status (PrdHubRoom *room, PrdSioSocket *socket, const char *status);
gboolean prd_hub_room_ai_insert (
    PrdHubRoom *room, guint32 site, guint32 position, const char *text, GError **error);
gboolean prd_hub_room_edit (PrdHubRoom *room,
                            guint32 site,
                            const char *site_user,
                            const char *user_id,
                            const char *user_name,
                            gboolean insert,
                            guint32 position,
                            const char *text,
                            guint32 length,
                            GError **error);
const char *prd_hub_room_get_prd_id (PrdHubRoom *room);
PrdRoom *prd_hub_room_get_room (PrdHubRoom *room);

/* Conflict review (prd-hub-conflicts.c). */
typedef void (*PrdHubPrdsJoinedUserFunc) (PrdHubRoom *room,
                                          PrdSioSocket *socket,
                                          const char *user_id,
                                          JsonObject *joined,
                                          gpointer user_data);
void prd_hub_prds_set_joined_user_func (PrdHubPrds *self,
                                        PrdHubPrdsJoinedUserFunc func,
                                        gpointer user_data);
typedef void (*PrdHubPrdsCommittedFunc) (PrdHubRoom *room,
                                         const char *prd_id,
                                         const PrdCrdtOp *op,
                                         GArray *base,
                                         guint32 client_position,
                                         const char *user_id,
                                         const char *user_name,
                                         gpointer user_data);
void prd_hub_prds_set_committed_func (PrdHubPrds *self,
                                      PrdHubPrdsCommittedFunc func,
                                      gpointer user_data);

G_END_DECLS
