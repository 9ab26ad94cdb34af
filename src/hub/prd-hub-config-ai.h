/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-hub-config.h"

G_BEGIN_DECLS

/* [ai] defaults: seconds of provider silence, tokens per answer, characters
 * of PRD context per request (about 4 characters per token). */
#define PRD_HUB_CONFIG_DEFAULT_AI_TIMEOUT       60
#define PRD_HUB_CONFIG_DEFAULT_AI_MAX_TOKENS    2048
#define PRD_HUB_CONFIG_DEFAULT_AI_CONTEXT_CHARS 24000
#define PRD_HUB_CONFIG_DEFAULT_AI_CONCURRENCY   2
#define PRD_HUB_CONFIG_DEFAULT_AI_HOURLY_QUOTA  30
/* AI jobs one user may have waiting or running at once. */
#define PRD_HUB_CONFIG_DEFAULT_AI_MAX_QUEUED_PER_USER 4
/* Milliseconds at least between two pieces of one job's answer written to
 * its room: deltas arriving meanwhile are merged into the next piece. */
#define PRD_HUB_CONFIG_DEFAULT_AI_CHUNK_INTERVAL 20

/**
 * PrdHubAiConfig:
 *
 * The [ai] group, owned by the AI feature (prd-hub-ai.c).
 */
typedef struct
{
  char *base_url;            /* (owned) (nullable) unset: no AI help */
  char *model;               /* (owned) (nullable) */
  guint timeout;             /* s of provider silence */
  guint max_tokens;          /* per answer */
  guint context_chars;       /* of PRD text per request */
  guint concurrency;         /* jobs running at once */
  guint hourly_quota;        /* jobs per user per sliding hour */
  guint max_queued_per_user; /* jobs one user may have waiting or running at once */
  guint chunk_interval;      /* ms at least between two chunks of one job */
} PrdHubAiConfig;

extern const PrdHubConfigSection prd_hub_ai_config_section;

static inline PrdHubAiConfig *
prd_hub_config_get_ai (PrdHubConfig *config)
{
  return prd_hub_config_get_section (config, &prd_hub_ai_config_section);
}

G_END_DECLS
