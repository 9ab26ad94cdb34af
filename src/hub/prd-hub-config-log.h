/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-hub-config.h"
#include "prd-log.h"

G_BEGIN_DECLS

/**
 * PrdHubLogConfig:
 *
 * The [log] group, owned by the program (prd-main.c applies it with
 * prd_log_set_level()).
 */
typedef struct
{
  PrdLogLevel level; /* default info */
} PrdHubLogConfig;

extern const PrdHubConfigSection prd_hub_log_config_section;

static inline PrdHubLogConfig *
prd_hub_config_get_log (PrdHubConfig *config)
{
  return prd_hub_config_get_section (config, &prd_hub_log_config_section);
}

G_END_DECLS
