/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-hub-config.h"

G_BEGIN_DECLS

/**
 * PrdHubIntegrationsConfig:
 *
 * The [integrations] group: what the hub's operator allows every
 * organization's integrations to do.
 */
typedef struct
{
  gboolean git_file_remotes; /* default FALSE */
} PrdHubIntegrationsConfig;

extern const PrdHubConfigSection prd_hub_integrations_config_section;

static inline PrdHubIntegrationsConfig *
prd_hub_config_get_integrations (PrdHubConfig *config)
{
  return prd_hub_config_get_section (config, &prd_hub_integrations_config_section);
}

G_END_DECLS
