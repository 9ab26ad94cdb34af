/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

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

#define PRD_HUB_CONFIG_DEFAULT_HOST        "127.0.0.1"
#define PRD_HUB_CONFIG_DEFAULT_PORT        3000
#define PRD_HUB_CONFIG_DEFAULT_RATE_LIMIT  100
#define PRD_HUB_CONFIG_DEFAULT_RATE_WINDOW 10
/* [ai] defaults: seconds of provider silence, tokens per answer, characters
 * of PRD context per request (about 4 characters per token). */
#define PRD_HUB_CONFIG_DEFAULT_AI_TIMEOUT       60
#define PRD_HUB_CONFIG_DEFAULT_AI_MAX_TOKENS    2048
#define PRD_HUB_CONFIG_DEFAULT_AI_CONTEXT_CHARS 24000

/* Rate-limit class of content-update, presence-update and sync-request. */
#define PRD_HUB_CONFIG_COLLAB_CLASS        "collab"
#define PRD_HUB_CONFIG_DEFAULT_COLLAB_RATE "1200/10"

/* [server] max-request-body: the largest HTTP request body outside the
 * Engine.IO path (whose limit is [engine] max-payload), in bytes. */
#define PRD_HUB_CONFIG_DEFAULT_MAX_REQUEST_BODY (2 * 1024 * 1024)

#define PRD_HUB_CONFIG_DEFAULT_BATCH_THRESHOLD    50
#define PRD_HUB_CONFIG_DEFAULT_BATCH_INTERVAL     50
#define PRD_HUB_CONFIG_DEFAULT_MAX_OPERATION_SIZE (64 * 1024)
#define PRD_HUB_CONFIG_DEFAULT_SNAPSHOT_EVERY     500
#define PRD_HUB_CONFIG_DEFAULT_AUTOSAVE_INTERVAL  300
#define PRD_HUB_CONFIG_MAX_AUTOSAVE_INTERVAL      86400

/* [server] connection limits (see PrdEioListener) */
#define PRD_HUB_CONFIG_DEFAULT_LISTEN_BACKLOG  4096 /* SOMAXCONN */
#define PRD_HUB_CONFIG_DEFAULT_IDLE_TIMEOUT    60   /* s */
#define PRD_HUB_CONFIG_DEFAULT_REQUEST_TIMEOUT 30   /* s */
#define PRD_HUB_CONFIG_DEFAULT_MAX_PER_ADDRESS 256

#define PRD_TYPE_HUB_CONFIG (prd_hub_config_get_type ())

/**
 * PrdHubConfig:
 *
 * The hub's settings: defaults, then a key file, then command-line overrides.
 * Every setter validates its value and names the offending key on error.
 * Reference counted; treat a config handed to a #PrdHub as read-only.
 */
typedef struct
{
  char *listen_host; /* (owned) an IP literal or "localhost" */
  guint16 listen_port;
  char *data_dir;       /* (owned) */
  char *tls_cert;       /* (owned) (nullable) */
  char *tls_key;        /* (owned) (nullable) */
  GStrv cors_origins;   /* (owned) (nullable) */
  char *jwt_public_key; /* (owned) (nullable) */
  guint ping_interval;  /* ms */
  guint ping_timeout;   /* ms */
  guint64 max_payload;
  guint64 max_write_buffer;
  guint64 max_request_body;
  guint connect_timeout;     /* ms */
  GPtrArray *rate_limits;    /* (owned) (element-type PrdRateLimit) */
  GHashTable *event_classes; /* (owned) event name → class name */
  char *ai_base_url;         /* (owned) (nullable) unset: no AI help */
  char *ai_model;            /* (owned) (nullable) */
  guint ai_timeout;          /* s */
  guint ai_max_tokens;
  guint ai_context_chars;
  /* [collab] */
  guint batch_threshold;    /* events/s per room above which the room batches; 0: never */
  guint batch_interval;     /* ms between batch-update flushes */
  guint max_operation_size; /* UTF-16 code units of one content-update */
  guint snapshot_every;     /* appended operations between two snapshots */
  guint autosave_interval;  /* s between two auto-saves of a PRD with unsaved changes */
  /* [ai] jobs */
  guint ai_concurrency;  /* jobs running at once */
  guint ai_hourly_quota; /* jobs per user per sliding hour */
  /* [server] connection limits */
  guint listen_backlog;
  guint idle_timeout;                /* s between two requests on a connection */
  guint request_timeout;             /* s to receive a request (from accept, or its first byte) */
  guint max_connections;             /* 0: automatic (from the open-file limit) */
  guint max_connections_per_address; /* 0: no limit */
  GStrv per_address_exempt;          /* (owned) addresses or ADDRESS/LENGTH masks */
} PrdHubConfig;

GType prd_hub_config_get_type (void) G_GNUC_CONST;
PrdHubConfig *prd_hub_config_new (void);
PrdHubConfig *prd_hub_config_ref (PrdHubConfig *self);
void prd_hub_config_unref (PrdHubConfig *self);

gboolean prd_hub_config_load_file (PrdHubConfig *self, const char *path, GError **error);
gboolean
prd_hub_config_load_data (PrdHubConfig *self, const char *data, gssize len, GError **error);

gboolean prd_hub_config_set_listen (PrdHubConfig *self, const char *value, GError **error);
gboolean prd_hub_config_set_data_dir (PrdHubConfig *self, const char *value, GError **error);
gboolean
prd_hub_config_set_autosave_interval (PrdHubConfig *self, const char *value, GError **error);
gboolean prd_hub_config_set_tls_cert (PrdHubConfig *self, const char *value, GError **error);
gboolean prd_hub_config_set_tls_key (PrdHubConfig *self, const char *value, GError **error);
gboolean prd_hub_config_set_jwt_public_key (PrdHubConfig *self, const char *value, GError **error);
gboolean
prd_hub_config_set_cors_origins (PrdHubConfig *self, const char *const *origins, GError **error);
gboolean prd_hub_config_set_per_address_exempt (PrdHubConfig *self,
                                                const char *const *masks,
                                                GError **error);
gboolean prd_hub_config_set_rate_limit (PrdHubConfig *self,
                                        const char *event_class,
                                        const char *value,
                                        GError **error);
gboolean prd_hub_config_set_event_class (PrdHubConfig *self,
                                         const char *event,
                                         const char *event_class,
                                         GError **error);
const PrdRateLimit *prd_hub_config_get_rate_limit (PrdHubConfig *self, const char *event_class);
gboolean
prd_hub_config_set_ai (PrdHubConfig *self, const char *key, const char *value, GError **error);
gboolean prd_hub_config_validate (PrdHubConfig *self, GError **error);
guint prd_hub_config_get_idle_timeout_ms (PrdHubConfig *self);
char *prd_hub_config_get_listen_string (PrdHubConfig *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdHubConfig, prd_hub_config_unref)

G_END_DECLS
