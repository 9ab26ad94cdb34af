/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-comment-store.h"
#include "prd-document.h"
#include "prd-hub-room-registry.h"

G_BEGIN_DECLS

#define PRD_TYPE_HUB_COMMENTS (prd_hub_comments_get_type ())
G_DECLARE_FINAL_TYPE (PrdHubComments, prd_hub_comments, PRD, HUB_COMMENTS, GObject)

void prd_hub_comments_new_async (PrdHubRoomRegistry *rooms,
                                 PrdCommentStore *comments,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
PrdHubComments *prd_hub_comments_new_finish (GAsyncResult *result, GError **error);
void prd_hub_comments_member_joined (PrdHubComments *self, PrdHubRoom *room, JsonObject *joined);
GBytes *
prd_hub_comments_get_open_answer (PrdHubComments *self, const char *prd_id, PrdDocument *document);

void prd_hub_comments_prd_deleted (PrdHubComments *self, const char *prd_id);

G_END_DECLS
