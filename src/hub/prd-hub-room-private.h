/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Between the room registry, its rooms and the collaboration events only.
 */
#pragma once

#include "prd-auth.h"
#include "prd-crdt.h"
#include "prd-hub-room-registry.h"

G_BEGIN_DECLS

struct _PrdHubRoomRegistry
{
  GObject parent_instance;

  PrdSioNamespace *nsp; /* (unowned) (nullable): weak pointer */
  PrdStore *store;      /* (owned) */
  PrdHubConfig *config; /* (owned) */
  GHashTable *rooms;    /* prd id → (owned) PrdHubRoom */
  GCancellable *cancellable;
  gulong disconnection_id;
  guint autosave_id;
  gboolean storage_failed; /* the last append failed: clients were told */
  /* An append failed in this run: operations a join was handed may be gone. */
  gboolean writes_lost;
  /* prd_hub_room_registry_load_document_async(): reads being loaded and
   * built, and those waiting for their turn. */
  guint loads_running;
  GQueue loads_waiting; /* (element-type GTask) */
};

/* On a socket: its join-prd requests queued in rooms and not answered yet,
 * a GHashTable of PRD id → requests (GUINT_TO_POINTER); each PRD among them
 * counts once against max-joined-prds with the PRDs the socket is in. */
#define PRD_HUB_ROOM_JOINING_KEY "prd-hub-room-joining"

/* The registry, for its rooms. */
GHashTable *prd_hub_room_registry_socket_joined (PrdSioSocket *socket);
void prd_hub_room_registry_forget (PrdHubRoomRegistry *self, PrdHubRoom *room);
void prd_hub_room_registry_room_loaded (PrdHubRoomRegistry *self, PrdHubRoom *room);
void prd_hub_room_registry_member_joined (PrdHubRoomRegistry *self,
                                          PrdHubRoom *room,
                                          PrdSioSocket *socket,
                                          const char *user_id,
                                          JsonObject *joined);
void prd_hub_room_registry_member_left (PrdHubRoomRegistry *self,
                                        PrdHubRoom *room,
                                        PrdSioSocket *socket,
                                        const char *user_id);
void prd_hub_room_registry_member_changed (PrdHubRoomRegistry *self,
                                           PrdHubRoom *room,
                                           PrdSioSocket *socket);
void prd_hub_room_registry_operation_committed (PrdHubRoomRegistry *self,
                                                PrdHubRoom *room,
                                                const PrdCrdtOp *op,
                                                GArray *base,
                                                guint32 client_position,
                                                const char *user_id,
                                                const char *user_name);

/* Each append's outcome (@error %NULL: stored): `storage-status` goes to
 * the whole namespace when it changes. */
void prd_hub_room_registry_storage_result (PrdHubRoomRegistry *self, const GError *error);

/* The rooms, for the registry and the collaboration events. */
PrdHubRoom *prd_hub_room_new (PrdHubRoomRegistry *registry, const char *prd_id, const char *org);
void prd_hub_room_load_for_any_org (PrdHubRoom *self);
void prd_hub_room_detach (PrdHubRoom *self);
gboolean prd_hub_room_is_loaded (PrdHubRoom *self);
void prd_hub_room_autosave (PrdHubRoom *self);
void prd_hub_room_maybe_release (PrdHubRoom *self);
gboolean prd_hub_room_is_idle (PrdHubRoom *self);
void prd_hub_room_evict (PrdHubRoom *self);
void prd_hub_room_join (PrdHubRoom *self,
                        PrdSioSocket *socket,
                        gint64 ack_id,
                        PrdIdentity *identity,
                        gboolean edit,
                        int requested_site,
                        GArray *client_vector,
                        const char *replica_id,
                        gint64 pending_from);
void prd_hub_room_leave (PrdHubRoom *self, PrdSioSocket *socket);
guint prd_hub_room_cancel_joins (PrdHubRoom *self, PrdSioSocket *socket);
void prd_hub_room_submit (
    PrdHubRoom *self, PrdSioSocket *socket, const char *event, JsonObject *payload, gint64 ack_id);
void prd_hub_room_submit_operation (PrdHubRoom *room,
                                    PrdSioSocket *socket,
                                    const char *event,
                                    const PrdClientOperation *operation,
                                    const guint32 *vector,
                                    guint n_vector,
                                    gint64 ack_id);
JsonNode *prd_hub_room_build_initial_state (PrdHubRoom *self);
const char *prd_hub_room_get_full_sync (PrdHubRoom *self, gsize *out_len);
void prd_hub_room_close (PrdHubRoom *self, const char *event, JsonNode *payload);
void prd_hub_room_set_info (PrdHubRoom *self, const char *title, gboolean archived);
void prd_hub_room_set_version (PrdHubRoom *self, const char *version);

/* The content-update a committed operation is broadcast with: written
 * directly (every update), or as a tree (a batch-update's entry). */
void prd_hub_write_content_update (GString *out,
                                   const char *prd_id,
                                   const char *user_id,
                                   const char *user_name,
                                   const PrdCrdtOp *op,
                                   GArray *vector);
JsonNode *prd_hub_build_content_update (const char *prd_id,
                                        const char *user_id,
                                        const char *user_name,
                                        const PrdCrdtOp *op,
                                        GArray *vector);

G_END_DECLS
