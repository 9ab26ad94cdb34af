/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-hub-config.h"

G_BEGIN_DECLS

/**
 * PrdHubMetricsConfig:
 *
 * The [metrics] group, owned by the /metrics route (prd-hub-metrics.c).
 */
typedef struct
{
  gboolean enabled;           /* serve GET /metrics at all */
  char **allow_without_token; /* (owned) (nullable): addresses or masks served without a token */
} PrdHubMetricsConfig;

extern const PrdHubConfigSection prd_hub_metrics_config_section;

static inline PrdHubMetricsConfig *
prd_hub_config_get_metrics (PrdHubConfig *config)
{
  return prd_hub_config_get_section (config, &prd_hub_metrics_config_section);
}

G_END_DECLS
