/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-ai-job.h"
#include "prd-eio-server.h"
#include "prd-hub-config.h"
#include "prd-hub-rest.h"

G_BEGIN_DECLS

#define PRD_TYPE_HUB_METRICS (prd_hub_metrics_get_type ())
G_DECLARE_FINAL_TYPE (PrdHubMetrics, prd_hub_metrics, PRD, HUB_METRICS, GObject)

PrdHubMetrics *prd_hub_metrics_new (PrdEioServer *engine, PrdAuth *auth, PrdHubConfig *config);
void prd_hub_metrics_member_joined (PrdHubMetrics *self,
                                    const char *prd_id,
                                    const char *org,
                                    gconstpointer member,
                                    const char *user_id);
void prd_hub_metrics_member_left (PrdHubMetrics *self, const char *prd_id, gconstpointer member);
void prd_hub_metrics_job_changed (PrdHubMetrics *self, const PrdAiJob *job);
char *prd_hub_metrics_render (PrdHubMetrics *self, const char *org);
void prd_hub_metrics_add_routes (PrdHubMetrics *self, PrdHubRest *rest);

G_END_DECLS
