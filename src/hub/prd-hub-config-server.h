/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-hub-config.h"

G_BEGIN_DECLS

#define PRD_HUB_CONFIG_DEFAULT_HOST "127.0.0.1"
#define PRD_HUB_CONFIG_DEFAULT_PORT 3000

/* [server] max-request-body: the largest HTTP request body outside the
 * Engine.IO path (whose limit is [engine] max-payload), in bytes. */
#define PRD_HUB_CONFIG_DEFAULT_MAX_REQUEST_BODY (2 * 1024 * 1024)

/* [server] connection limits (see PrdEioListener) */
#define PRD_HUB_CONFIG_DEFAULT_LISTEN_BACKLOG            4096 /* SOMAXCONN */
#define PRD_HUB_CONFIG_DEFAULT_IDLE_TIMEOUT              60   /* s */
#define PRD_HUB_CONFIG_DEFAULT_REVOCATION_CHECK_INTERVAL 5    /* s */
#define PRD_HUB_CONFIG_DEFAULT_REQUEST_TIMEOUT           30   /* s */
#define PRD_HUB_CONFIG_DEFAULT_MAX_PER_ADDRESS           256
/* [engine] Engine.IO sessions (see PrdEioServer) */
#define PRD_HUB_CONFIG_DEFAULT_MAX_SESSIONS             16384
#define PRD_HUB_CONFIG_DEFAULT_MAX_SESSIONS_PER_ADDRESS 1024
/* [engine] max-json-values: twice the longest state vector a client may send
 * (65,536 sites); docs/protocol.md, "JSON input". */
#define PRD_HUB_CONFIG_DEFAULT_MAX_JSON_VALUES 131072

/**
 * PrdHubServerConfig:
 *
 * The [server] group, owned by the server core (prd-hub.c, prd-main.c).
 */
typedef struct
{
  char *listen_host; /* (owned) an IP literal or "localhost" */
  guint16 listen_port;
  char *data_dir;     /* (owned) */
  char *tls_cert;     /* (owned) (nullable) */
  char *tls_key;      /* (owned) (nullable) */
  GStrv cors_origins; /* (owned) (nullable) */
  guint64 max_request_body;
  guint listen_backlog;
  guint idle_timeout;                /* s between two requests on a connection */
  guint request_timeout;             /* s to receive a request (from accept, or its first byte) */
  guint max_connections;             /* 0: automatic (from the open-file limit) */
  guint max_connections_per_address; /* 0: no limit */
  GStrv per_address_exempt;          /* (owned) addresses or ADDRESS/LENGTH masks */
} PrdHubServerConfig;

/**
 * PrdHubEngineConfig:
 *
 * The [engine] group (Engine.IO and Socket.IO timings and limits), owned by
 * the server core.
 */
typedef struct
{
  guint ping_interval; /* ms */
  guint ping_timeout;  /* ms */
  guint64 max_payload;
  guint64 max_write_buffer;
  guint connect_timeout;          /* ms */
  guint max_sessions;             /* Engine.IO sessions at once */
  guint max_sessions_per_address; /* the same from one address; 0: no limit */
  guint io_threads;               /* threads for WebSocket I/O; 0: the main thread */
  guint max_json_values;          /* JSON values in one Socket.IO packet's payload */
} PrdHubEngineConfig;

/* The largest [engine] io-threads. */
#define PRD_HUB_CONFIG_MAX_IO_THREADS 64

guint prd_hub_config_default_io_threads (void);

/**
 * PrdHubAuthConfig:
 *
 * The [auth] group, owned by the server core.
 */
typedef struct
{
  char *jwt_public_key;            /* (owned) (nullable) */
  guint revocation_check_interval; /* seconds */
} PrdHubAuthConfig;

extern const PrdHubConfigSection prd_hub_server_config_section;
extern const PrdHubConfigSection prd_hub_engine_config_section;
extern const PrdHubConfigSection prd_hub_auth_config_section;

static inline PrdHubServerConfig *
prd_hub_config_get_server (PrdHubConfig *config)
{
  return prd_hub_config_get_section (config, &prd_hub_server_config_section);
}

static inline PrdHubEngineConfig *
prd_hub_config_get_engine (PrdHubConfig *config)
{
  return prd_hub_config_get_section (config, &prd_hub_engine_config_section);
}

static inline PrdHubAuthConfig *
prd_hub_config_get_auth (PrdHubConfig *config)
{
  return prd_hub_config_get_section (config, &prd_hub_auth_config_section);
}

char *prd_hub_server_config_get_listen_string (const PrdHubServerConfig *self);
guint prd_hub_config_get_idle_timeout_ms (PrdHubConfig *config);

G_END_DECLS
