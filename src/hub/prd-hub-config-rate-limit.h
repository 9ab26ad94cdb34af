/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-hub-config.h"

G_BEGIN_DECLS

/**
 * PrdRateLimit:
 * @event_class: the class name ("default" for unmapped events)
 * @limit: events allowed per window
 * @window_seconds: window length
 */
typedef struct
{
  char *event_class; /* (owned) */
  guint limit;
  guint window_seconds;
} PrdRateLimit;

#define PRD_HUB_CONFIG_DEFAULT_RATE_LIMIT  100
#define PRD_HUB_CONFIG_DEFAULT_RATE_WINDOW 10

/* Rate-limit class of content-update and presence-update. */
#define PRD_HUB_CONFIG_COLLAB_CLASS        "collab"
#define PRD_HUB_CONFIG_DEFAULT_COLLAB_RATE "1200/10"

/* Rate-limit class of sync-request: an answer may be the whole state. */
#define PRD_HUB_CONFIG_SYNC_CLASS        "sync"
#define PRD_HUB_CONFIG_DEFAULT_SYNC_RATE "30/10"

/* Rate-limit class of one user's REST writes (requests but GET and HEAD). */
#define PRD_HUB_CONFIG_REST_CLASS        "rest"
#define PRD_HUB_CONFIG_DEFAULT_REST_RATE "600/60"

/* Rate-limit class of one user's REST reads (GET and HEAD with a token). */
#define PRD_HUB_CONFIG_REST_READ_CLASS        "rest-read"
#define PRD_HUB_CONFIG_DEFAULT_REST_READ_RATE "1200/60"

/* Rate-limit class of one user's accepted namespace CONNECTs (Socket.IO),
 * whatever their sessions: enough for tabs and reconnects, bounded for a
 * client that connects and disconnects in a loop. */
#define PRD_HUB_CONFIG_CONNECT_CLASS        "connect"
#define PRD_HUB_CONFIG_DEFAULT_CONNECT_RATE "60/60"

/**
 * PrdHubRateLimitConfig:
 *
 * The [rate-limit] group (CLASS = LIMIT/WINDOW_SECONDS) and its
 * [rate-limit.events] subgroup (EVENT = CLASS), owned by the server core.
 */
typedef struct
{
  GPtrArray *limits;         /* (owned) (element-type PrdRateLimit) */
  GHashTable *event_classes; /* (owned) event name → class name */
} PrdHubRateLimitConfig;

extern const PrdHubConfigSection prd_hub_rate_limit_config_section;

extern const char *const prd_hub_config_events[];

static inline PrdHubRateLimitConfig *
prd_hub_config_get_rate_limits (PrdHubConfig *config)
{
  return prd_hub_config_get_section (config, &prd_hub_rate_limit_config_section);
}

const PrdRateLimit *prd_hub_rate_limit_config_lookup (const PrdHubRateLimitConfig *self,
                                                      const char *event_class);

G_END_DECLS
