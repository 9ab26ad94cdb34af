/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-ai-job-store.h"
#include "prd-ai-provider.h"
#include "prd-hub-config.h"
#include "prd-hub-room-registry.h"

G_BEGIN_DECLS

#define PRD_TYPE_HUB_AI (prd_hub_ai_get_type ())
G_DECLARE_FINAL_TYPE (PrdHubAi, prd_hub_ai, PRD, HUB_AI, GObject)

void prd_hub_ai_new_async (PrdSioNamespace *nsp,
                           PrdHubRoomRegistry *rooms,
                           PrdStore *store,
                           PrdAiJobStore *jobs,
                           PrdHubConfig *config,
                           PrdAiProvider *provider,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data);
PrdHubAi *prd_hub_ai_new_finish (GAsyncResult *result, GError **error);
void prd_hub_ai_set_provider (PrdHubAi *self, PrdAiProvider *provider);
PrdAiProvider *
prd_hub_ai_build_provider (PrdHubConfig *config, const char *api_key, GError **error);
GPtrArray *prd_hub_ai_list_jobs (PrdHubAi *self);
gboolean prd_hub_ai_cancel_job (PrdHubAi *self, const char *job_id, GError **error);
void prd_hub_ai_shutdown (PrdHubAi *self);
void prd_hub_ai_prd_deleted (PrdHubAi *self, const char *prd_id);
void prd_hub_ai_identities_revoked (PrdHubAi *self,
                                    const char *org,
                                    const char *user_id,
                                    gint64 revoked_at);

G_END_DECLS
