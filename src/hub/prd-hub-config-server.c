/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The server core's groups of the hub's configuration. Beside
 * prd-hub-config.c, in the prd-auth library, so that the parser can list
 * them (see there).
 *
 *   [server]   listen = HOST:PORT, data-dir, tls-cert, tls-key, cors-origins (list),
 *              max-request-body (bytes),
 *              listen-backlog, idle-timeout, request-timeout (s), max-connections,
 *              max-connections-per-address, per-address-exempt (list of masks)
 *   [engine]   ping-interval, ping-timeout, connect-timeout (ms), max-payload,
 *              max-sessions, max-sessions-per-address (Engine.IO sessions),
 *              max-write-buffer (bytes), io-threads (or "auto"),
 *              max-json-values (in one Socket.IO packet's payload)
 *   [auth]     jwt-public-key (PEM file; switches verification to RS256/ES256 and kin),
 *              revocation-check-interval (s)
 *
 * Defaults: listen on 127.0.0.1:3000, data in `$XDG_DATA_HOME/prdhub`,
 * engine.io's timings and limits, HS256 with the hub's secret, no CORS
 * origins.
 */
#define G_LOG_DOMAIN "prd-hub-config"

#include "config.h"

#include <string.h>

#include <gio/gio.h>

#include "prd-error.h"

#include "prd-hub-config-server.h"

#define MIN_TIMEOUT_MS                100
#define MAX_TIMEOUT_MS                3600000
#define MIN_MAX_PAYLOAD               1024
#define MAX_MAX_PAYLOAD               (256 * 1024 * 1024)
#define MAX_MAX_WRITE_BUFFER          (G_GUINT64_CONSTANT (4) * 1024 * 1024 * 1024)
#define MIN_MAX_REQUEST_BODY          1024
#define MAX_MAX_REQUEST_BODY          (256 * 1024 * 1024)
#define MAX_IDLE_TIMEOUT              86400
#define MIN_MAX_JSON_VALUES           1024
#define MAX_MAX_JSON_VALUES           (64 * 1024 * 1024)
#define MAX_REQUEST_TIMEOUT           3600
#define MAX_CONNECTIONS               1000000
#define MAX_REVOCATION_CHECK_INTERVAL 3600

static gboolean
set_uint (guint *field,
          const char *group,
          const char *key,
          const char *value,
          guint64 min,
          guint64 max,
          GError **error)
{
  guint64 v;

  if (!prd_hub_config_parse_uint (group, key, value, min, max, &v, error))
    return FALSE;
  *field = (guint) v;
  return TRUE;
}

/* ---- [server] ---- */

static void
server_init (gpointer data)
{
  PrdHubServerConfig *self = data;

  self->listen_host = g_strdup (PRD_HUB_CONFIG_DEFAULT_HOST);
  self->listen_port = PRD_HUB_CONFIG_DEFAULT_PORT;
  self->data_dir = g_build_filename (g_get_user_data_dir (), "prdhub", NULL);
  self->max_request_body = PRD_HUB_CONFIG_DEFAULT_MAX_REQUEST_BODY;
  self->listen_backlog = PRD_HUB_CONFIG_DEFAULT_LISTEN_BACKLOG;
  self->idle_timeout = PRD_HUB_CONFIG_DEFAULT_IDLE_TIMEOUT;
  self->request_timeout = PRD_HUB_CONFIG_DEFAULT_REQUEST_TIMEOUT;
  self->max_connections = 0;
  self->max_connections_per_address = PRD_HUB_CONFIG_DEFAULT_MAX_PER_ADDRESS;
  self->per_address_exempt = g_strsplit ("127.0.0.0/8,::1", ",", -1);
}

static void
server_clear (gpointer data)
{
  PrdHubServerConfig *self = data;

  g_clear_pointer (&self->listen_host, g_free);
  g_clear_pointer (&self->data_dir, g_free);
  g_clear_pointer (&self->tls_cert, g_free);
  g_clear_pointer (&self->tls_key, g_free);
  g_clear_pointer (&self->cors_origins, g_strfreev);
  g_clear_pointer (&self->per_address_exempt, g_strfreev);
}

/* @value: `HOST:PORT`; HOST an IPv4 literal, `[IPv6]` or `localhost`; PORT
 *   0–65535 (0: any free port) */
static gboolean
set_listen (PrdHubServerConfig *self, const char *value, GError **error)
{
  g_autofree char *host = NULL;
  const char *port_str;
  guint64 port;

  if (value[0] == '[')
    {
      const char *close = strchr (value, ']');

      if (close == NULL || close[1] != ':')
        goto bad;
      host = g_strndup (value + 1, (gsize) (close - value - 1));
      port_str = close + 2;
      if (!g_hostname_is_ip_address (host) || strchr (host, ':') == NULL)
        goto bad;
    }
  else
    {
      const char *colon = strrchr (value, ':');

      if (colon == NULL)
        goto bad;
      host = g_strndup (value, (gsize) (colon - value));
      port_str = colon + 1;
      if (strchr (host, ':') != NULL ||
          (!g_str_equal (host, "localhost") && !g_hostname_is_ip_address (host)))
        goto bad;
    }
  if (!g_ascii_string_to_unsigned (port_str, 10, 0, 65535, &port, NULL))
    goto bad;

  g_free (self->listen_host);
  self->listen_host = g_steal_pointer (&host);
  self->listen_port = (guint16) port;
  return TRUE;

bad:
  g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
               "[server] listen: \"%s\" is not HOST:PORT (HOST an IP address, [IPv6] or localhost; "
               "PORT 0-65535)",
               value);
  return FALSE;
}

/**
 * prd_hub_server_config_get_listen_string:
 *
 * Returns: (transfer full): the listen address as `HOST:PORT`
 */
char *
prd_hub_server_config_get_listen_string (const PrdHubServerConfig *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  if (strchr (self->listen_host, ':') != NULL)
    return g_strdup_printf ("[%s]:%u", self->listen_host, self->listen_port);
  return g_strdup_printf ("%s:%u", self->listen_host, self->listen_port);
}

static gboolean
origin_is_valid (const char *origin)
{
  g_autoptr (GUri) uri = NULL;
  const char *scheme;
  const char *path;

  if (g_str_has_suffix (origin, "/"))
    return FALSE;
  uri = g_uri_parse (origin, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL)
    return FALSE;
  scheme = g_uri_get_scheme (uri);
  path = g_uri_get_path (uri);
  return (g_str_equal (scheme, "http") || g_str_equal (scheme, "https")) &&
         g_uri_get_host (uri) != NULL && *g_uri_get_host (uri) != '\0' &&
         g_uri_get_userinfo (uri) == NULL && (path == NULL || *path == '\0') &&
         g_uri_get_query (uri) == NULL && g_uri_get_fragment (uri) == NULL;
}

/* @origins: `scheme://host[:port]` origins, or the single entry `*` for any;
 *   %NULL or empty for none */
static gboolean
set_cors_origins (PrdHubServerConfig *self, const char *const *origins, GError **error)
{
  guint n = origins != NULL ? g_strv_length ((GStrv) origins) : 0;

  for (guint i = 0; i < n; i++)
    {
      if (g_str_equal (origins[i], "*"))
        {
          if (n != 1)
            {
              g_set_error_literal (
                  error, PRD_ERROR, PRD_ERROR_CONFIG,
                  "[server] cors-origins: \"*\" cannot be combined with other origins");
              return FALSE;
            }
          continue;
        }
      if (!origin_is_valid (origins[i]))
        {
          g_set_error (
              error, PRD_ERROR, PRD_ERROR_CONFIG,
              "[server] cors-origins: \"%s\" is not an origin (http[s]://host[:port]) or \"*\"",
              origins[i]);
          return FALSE;
        }
    }
  g_clear_pointer (&self->cors_origins, g_strfreev);
  if (n > 0)
    self->cors_origins = g_strdupv ((GStrv) origins);
  return TRUE;
}

/* @masks: IP addresses or `ADDRESS/LENGTH` masks not subject to
 *   max-connections-per-address; %NULL or empty for none */
static gboolean
set_per_address_exempt (PrdHubServerConfig *self, const char *const *masks, GError **error)
{
  for (guint i = 0; masks != NULL && masks[i] != NULL; i++)
    {
      g_autoptr (GInetAddressMask) mask = g_inet_address_mask_new_from_string (masks[i], NULL);

      if (mask == NULL)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                       "[server] per-address-exempt: \"%s\" is not an IP address or "
                       "ADDRESS/LENGTH mask",
                       masks[i]);
          return FALSE;
        }
    }
  g_strfreev (self->per_address_exempt);
  self->per_address_exempt = g_strdupv ((GStrv) masks);
  return TRUE;
}

static gboolean
server_set (gpointer data,
            const char *group,
            const char *key,
            const char *value,
            const char *base_dir,
            GError **error)
{
  PrdHubServerConfig *self = data;

  if (g_str_equal (key, "listen"))
    return set_listen (self, value, error);
  if (g_str_equal (key, "data-dir"))
    return prd_hub_config_parse_path (group, key, value, base_dir, &self->data_dir, error);
  if (g_str_equal (key, "tls-cert"))
    return prd_hub_config_parse_path (group, key, value, base_dir, &self->tls_cert, error);
  if (g_str_equal (key, "tls-key"))
    return prd_hub_config_parse_path (group, key, value, base_dir, &self->tls_key, error);
  if (g_str_equal (key, "max-request-body"))
    return prd_hub_config_parse_uint (group, key, value, MIN_MAX_REQUEST_BODY, MAX_MAX_REQUEST_BODY,
                                      &self->max_request_body, error);
  if (g_str_equal (key, "listen-backlog"))
    return set_uint (&self->listen_backlog, group, key, value, 1, 65535, error);
  if (g_str_equal (key, "idle-timeout"))
    return set_uint (&self->idle_timeout, group, key, value, 1, MAX_IDLE_TIMEOUT, error);
  if (g_str_equal (key, "request-timeout"))
    return set_uint (&self->request_timeout, group, key, value, 1, MAX_REQUEST_TIMEOUT, error);
  if (g_str_equal (key, "max-connections"))
    return set_uint (&self->max_connections, group, key, value, 0, MAX_CONNECTIONS, error);
  if (g_str_equal (key, "max-connections-per-address"))
    return set_uint (&self->max_connections_per_address, group, key, value, 0, MAX_CONNECTIONS,
                     error);
  prd_hub_config_set_unknown_key_error (error, group, key);
  return FALSE;
}

static gboolean
server_set_list (
    gpointer data, const char *key, const char *const *values, const char *base_dir, GError **error)
{
  PrdHubServerConfig *self = data;

  if (g_str_equal (key, "cors-origins"))
    return set_cors_origins (self, values, error);
  g_assert (g_str_equal (key, "per-address-exempt"));
  return set_per_address_exempt (self, values, error);
}

/* A file the hub reads at start: named by @key, it must be a regular file
 * (a FIFO would block the start, a device would be read without end). */
static gboolean
check_regular_file (const char *key, const char *path, GError **error)
{
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "%s: %s does not exist", key, path);
      return FALSE;
    }
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "%s: %s is not a regular file (not a pipe, a device or a folder)", key, path);
      return FALSE;
    }
  return TRUE;
}

/* TLS certificate and key come together and are regular files. */
static gboolean
server_validate (gconstpointer data, GError **error)
{
  const PrdHubServerConfig *self = data;

  if ((self->tls_cert == NULL) != (self->tls_key == NULL))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CONFIG,
                           self->tls_cert == NULL ? "[server] tls-key is set but tls-cert is not"
                                                  : "[server] tls-cert is set but tls-key is not");
      return FALSE;
    }
  return (self->tls_cert == NULL || check_regular_file ("tls-cert", self->tls_cert, error)) &&
         (self->tls_key == NULL || check_regular_file ("tls-key", self->tls_key, error));
}

static const char *const server_list_keys[] = { "cors-origins", "per-address-exempt", NULL };

const PrdHubConfigSection prd_hub_server_config_section = {
  .name = "server",
  .settings_size = sizeof (PrdHubServerConfig),
  .init = server_init,
  .set = server_set,
  .list_keys = server_list_keys,
  .set_list = server_set_list,
  .validate = server_validate,
  .clear = server_clear,
};

/* ---- [engine] ---- */

static void
engine_init (gpointer data)
{
  PrdHubEngineConfig *self = data;

  self->ping_interval = 25000;
  self->ping_timeout = 20000;
  self->max_payload = 1000000;
  self->max_write_buffer = 16 * 1024 * 1024;
  self->connect_timeout = 45000;
  self->max_sessions = PRD_HUB_CONFIG_DEFAULT_MAX_SESSIONS;
  self->max_sessions_per_address = PRD_HUB_CONFIG_DEFAULT_MAX_SESSIONS_PER_ADDRESS;
  self->io_threads = prd_hub_config_default_io_threads ();
  self->max_json_values = PRD_HUB_CONFIG_DEFAULT_MAX_JSON_VALUES;
}

/**
 * prd_hub_config_default_io_threads:
 *
 * What `io-threads = auto` (the default) stands for: the processors beyond
 * two, at most four. The thread that holds the documents and the store's
 * thread keep a processor each; on two processors the connections stay on
 * the first, where handing every frame to another thread costs more than
 * it saves (docs/performance.md, "I/O threads").
 */
guint
prd_hub_config_default_io_threads (void)
{
  guint n = g_get_num_processors ();

  return n > 2 ? MIN (n - 2, 4) : 0;
}

static gboolean
engine_set (gpointer data,
            const char *group,
            const char *key,
            const char *value,
            const char *base_dir,
            GError **error)
{
  PrdHubEngineConfig *self = data;

  if (g_str_equal (key, "ping-interval"))
    return set_uint (&self->ping_interval, group, key, value, MIN_TIMEOUT_MS, MAX_TIMEOUT_MS,
                     error);
  if (g_str_equal (key, "ping-timeout"))
    return set_uint (&self->ping_timeout, group, key, value, MIN_TIMEOUT_MS, MAX_TIMEOUT_MS, error);
  if (g_str_equal (key, "connect-timeout"))
    return set_uint (&self->connect_timeout, group, key, value, MIN_TIMEOUT_MS, MAX_TIMEOUT_MS,
                     error);
  if (g_str_equal (key, "max-payload"))
    return prd_hub_config_parse_uint (group, key, value, MIN_MAX_PAYLOAD, MAX_MAX_PAYLOAD,
                                      &self->max_payload, error);
  if (g_str_equal (key, "max-write-buffer"))
    return prd_hub_config_parse_uint (group, key, value, MIN_MAX_PAYLOAD, MAX_MAX_WRITE_BUFFER,
                                      &self->max_write_buffer, error);
  if (g_str_equal (key, "max-sessions"))
    return set_uint (&self->max_sessions, group, key, value, 1, MAX_CONNECTIONS, error);
  if (g_str_equal (key, "max-sessions-per-address"))
    return set_uint (&self->max_sessions_per_address, group, key, value, 0, MAX_CONNECTIONS, error);
  if (g_str_equal (key, "max-json-values"))
    return set_uint (&self->max_json_values, group, key, value, MIN_MAX_JSON_VALUES,
                     MAX_MAX_JSON_VALUES, error);
  if (g_str_equal (key, "io-threads"))
    {
      if (g_str_equal (value, "auto"))
        {
          self->io_threads = prd_hub_config_default_io_threads ();
          return TRUE;
        }
      return set_uint (&self->io_threads, group, key, value, 0, PRD_HUB_CONFIG_MAX_IO_THREADS,
                       error);
    }
  prd_hub_config_set_unknown_key_error (error, group, key);
  return FALSE;
}

const PrdHubConfigSection prd_hub_engine_config_section = {
  .name = "engine",
  .settings_size = sizeof (PrdHubEngineConfig),
  .init = engine_init,
  .set = engine_set,
};

/**
 * prd_hub_config_get_idle_timeout_ms:
 *
 * A long-polling client may send nothing on a connection for a ping
 * interval (plus the ping timeout when it is slow to answer): an idle
 * connection is never closed sooner than that, whatever `idle-timeout`
 * says.
 *
 * Returns: how long, in ms, a connection may sit between two requests
 */
guint
prd_hub_config_get_idle_timeout_ms (PrdHubConfig *config)
{
  const PrdHubServerConfig *server;
  const PrdHubEngineConfig *engine;
  guint64 configured, polling;

  g_return_val_if_fail (config != NULL, 0);

  server = prd_hub_config_get_server (config);
  engine = prd_hub_config_get_engine (config);
  configured = (guint64) server->idle_timeout * 1000;
  polling = (guint64) engine->ping_interval + engine->ping_timeout;
  return (guint) MIN (MAX (configured, polling), G_MAXUINT);
}

/* ---- [auth] ---- */

static void
auth_init (gpointer data)
{
  PrdHubAuthConfig *self = data;

  self->revocation_check_interval = PRD_HUB_CONFIG_DEFAULT_REVOCATION_CHECK_INTERVAL;
}

static void
auth_clear (gpointer data)
{
  PrdHubAuthConfig *self = data;

  g_clear_pointer (&self->jwt_public_key, g_free);
}

static gboolean
auth_set (gpointer data,
          const char *group,
          const char *key,
          const char *value,
          const char *base_dir,
          GError **error)
{
  PrdHubAuthConfig *self = data;

  if (g_str_equal (key, "jwt-public-key"))
    return prd_hub_config_parse_path (group, key, value, base_dir, &self->jwt_public_key, error);
  if (g_str_equal (key, "revocation-check-interval"))
    {
      guint64 v;

      if (!prd_hub_config_parse_uint (group, key, value, 1, MAX_REVOCATION_CHECK_INTERVAL, &v,
                                      error))
        return FALSE;
      self->revocation_check_interval = (guint) v;
      return TRUE;
    }
  prd_hub_config_set_unknown_key_error (error, group, key);
  return FALSE;
}

static gboolean
auth_validate (gconstpointer data, GError **error)
{
  const PrdHubAuthConfig *self = data;

  return self->jwt_public_key == NULL ||
         check_regular_file ("jwt-public-key", self->jwt_public_key, error);
}

const PrdHubConfigSection prd_hub_auth_config_section = {
  .name = "auth",
  .settings_size = sizeof (PrdHubAuthConfig),
  .init = auth_init,
  .set = auth_set,
  .validate = auth_validate,
  .clear = auth_clear,
};
