/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-conflict-store.h"
#include "prd-crdt.h"
#include "prd-hub-config.h"
#include "prd-hub-room-registry.h"
#include "prd-store.h"

G_BEGIN_DECLS

/* Open conflicts one PRD may have; later ones are not raised. */
#define PRD_HUB_CONFLICTS_MAX_OPEN 64

#define PRD_TYPE_HUB_CONFLICTS (prd_hub_conflicts_get_type ())
G_DECLARE_FINAL_TYPE (PrdHubConflicts, prd_hub_conflicts, PRD, HUB_CONFLICTS, GObject)

void prd_hub_conflicts_new_async (PrdHubRoomRegistry *rooms,
                                  PrdStore *store,
                                  PrdConflictStore *conflicts,
                                  PrdHubConfig *config,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);
PrdHubConflicts *prd_hub_conflicts_new_finish (GAsyncResult *result, GError **error);
guint prd_hub_conflicts_get_n_open (PrdHubConflicts *self);
void prd_hub_conflicts_member_joined (PrdHubConflicts *self,
                                      PrdHubRoom *room,
                                      PrdSioSocket *socket,
                                      const char *user_id,
                                      JsonObject *joined);
void prd_hub_conflicts_operation_committed (PrdHubConflicts *self,
                                            PrdHubRoom *room,
                                            const PrdCrdtOp *op,
                                            GArray *base,
                                            guint32 client_position,
                                            const char *user_id,
                                            const char *user_name);

void prd_hub_conflicts_prd_deleted (PrdHubConflicts *self, const char *prd_id);

G_END_DECLS
