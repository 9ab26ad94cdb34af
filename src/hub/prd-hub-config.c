/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The hub's configuration. A key file sets what it names; command-line
 * options override after it. Unknown groups and keys are errors rather than
 * being ignored, so that a typo does not silently leave a default in place.
 *
 *   [server]   listen = HOST:PORT, data-dir, tls-cert, tls-key, cors-origins (list),
 *              max-request-body (bytes),
 *              listen-backlog, idle-timeout, request-timeout (s), max-connections,
 *              max-connections-per-address, per-address-exempt (list of masks)
 *   [engine]   ping-interval, ping-timeout, connect-timeout (ms), max-payload,
 *              max-write-buffer (bytes)
 *   [auth]     jwt-public-key (PEM file; switches verification to RS256/ES256 and kin)
 *   [rate-limit]         CLASS = LIMIT/WINDOW_SECONDS
 *   [rate-limit.events]  EVENT = CLASS
 *   [ai]       base-url (OpenAI-compatible API root), model, timeout (s of
 *              silence), max-tokens, context-chars; the API key is the
 *              secret `ai-api-key` (`prdhub secret set ai-api-key`)
 *
 * Relative paths in a file are taken relative to that file's folder.
 */
#define G_LOG_DOMAIN "prd-hub-config"

#include "config.h"

#include <string.h>

#include <gio/gio.h>

#include "prd-error.h"

#include "prd-hub-config.h"

#define MIN_TIMEOUT_MS       100
#define MAX_TIMEOUT_MS       3600000
#define MIN_MAX_PAYLOAD      1024
#define MAX_MAX_PAYLOAD      (256 * 1024 * 1024)
#define MAX_MAX_WRITE_BUFFER (G_GUINT64_CONSTANT (4) * 1024 * 1024 * 1024)
#define MIN_MAX_REQUEST_BODY 1024
#define MAX_MAX_REQUEST_BODY (256 * 1024 * 1024)
#define MAX_RATE_LIMIT       1000000
#define MAX_RATE_WINDOW      86400
#define MAX_NAME_LENGTH      128
#define MAX_AI_TIMEOUT       3600
#define MAX_AI_MAX_TOKENS    1000000
#define MIN_AI_CONTEXT_CHARS 256
#define MAX_AI_CONTEXT_CHARS 4000000
#define MAX_AI_MODEL_LENGTH  256
#define MAX_IDLE_TIMEOUT     86400
#define MAX_REQUEST_TIMEOUT  3600
#define MAX_CONNECTIONS      1000000

G_DEFINE_BOXED_TYPE (PrdHubConfig, prd_hub_config, prd_hub_config_ref, prd_hub_config_unref)

static void
rate_limit_free (gpointer data)
{
  PrdRateLimit *limit = data;

  g_free (limit->event_class);
  g_free (limit);
}

static void
config_clear (gpointer data)
{
  PrdHubConfig *self = data;

  g_free (self->listen_host);
  g_free (self->data_dir);
  g_free (self->tls_cert);
  g_free (self->tls_key);
  g_strfreev (self->cors_origins);
  g_strfreev (self->per_address_exempt);
  g_free (self->jwt_public_key);
  g_clear_pointer (&self->rate_limits, g_ptr_array_unref);
  g_clear_pointer (&self->event_classes, g_hash_table_unref);
  g_free (self->ai_base_url);
  g_free (self->ai_model);
}

/**
 * prd_hub_config_new:
 *
 * The defaults: listen on 127.0.0.1:3000, data in `$XDG_DATA_HOME/prdhub`,
 * engine.io's timings and limits, HS256 with the hub's secret, no CORS
 * origins, and the `default` rate-limit class at 100 events per 10 seconds.
 *
 * Returns: (transfer full): a new configuration
 */
PrdHubConfig *
prd_hub_config_new (void)
{
  PrdHubConfig *self = g_rc_box_new0 (PrdHubConfig);

  self->listen_host = g_strdup (PRD_HUB_CONFIG_DEFAULT_HOST);
  self->listen_port = PRD_HUB_CONFIG_DEFAULT_PORT;
  self->data_dir = g_build_filename (g_get_user_data_dir (), "prdhub", NULL);
  self->listen_backlog = PRD_HUB_CONFIG_DEFAULT_LISTEN_BACKLOG;
  self->idle_timeout = PRD_HUB_CONFIG_DEFAULT_IDLE_TIMEOUT;
  self->request_timeout = PRD_HUB_CONFIG_DEFAULT_REQUEST_TIMEOUT;
  self->max_connections = 0;
  self->max_connections_per_address = PRD_HUB_CONFIG_DEFAULT_MAX_PER_ADDRESS;
  self->per_address_exempt = g_strsplit ("127.0.0.0/8,::1", ",", -1);
  self->ping_interval = 25000;
  self->ping_timeout = 20000;
  self->max_payload = 1000000;
  self->max_request_body = PRD_HUB_CONFIG_DEFAULT_MAX_REQUEST_BODY;
  self->max_write_buffer = 16 * 1024 * 1024;
  self->connect_timeout = 45000;
  self->batch_threshold = PRD_HUB_CONFIG_DEFAULT_BATCH_THRESHOLD;
  self->batch_interval = PRD_HUB_CONFIG_DEFAULT_BATCH_INTERVAL;
  self->max_operation_size = PRD_HUB_CONFIG_DEFAULT_MAX_OPERATION_SIZE;
  self->snapshot_every = PRD_HUB_CONFIG_DEFAULT_SNAPSHOT_EVERY;
  self->autosave_interval = PRD_HUB_CONFIG_DEFAULT_AUTOSAVE_INTERVAL;
  self->rate_limits = g_ptr_array_new_with_free_func (rate_limit_free);
  self->event_classes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->ai_timeout = PRD_HUB_CONFIG_DEFAULT_AI_TIMEOUT;
  self->ai_max_tokens = PRD_HUB_CONFIG_DEFAULT_AI_MAX_TOKENS;
  self->ai_context_chars = PRD_HUB_CONFIG_DEFAULT_AI_CONTEXT_CHARS;
  self->ai_concurrency = 2;
  self->ai_hourly_quota = 30;
  g_assert (prd_hub_config_set_rate_limit (self, "default", "100/10", NULL));
  /* Typing sends one content-update per edit and presence with it: the
   * default class (10 events/s) would refuse a fast typist. */
  g_assert (prd_hub_config_set_rate_limit (self, PRD_HUB_CONFIG_COLLAB_CLASS,
                                           PRD_HUB_CONFIG_DEFAULT_COLLAB_RATE, NULL));
  g_assert (
      prd_hub_config_set_event_class (self, "content-update", PRD_HUB_CONFIG_COLLAB_CLASS, NULL));
  g_assert (
      prd_hub_config_set_event_class (self, "presence-update", PRD_HUB_CONFIG_COLLAB_CLASS, NULL));
  g_assert (
      prd_hub_config_set_event_class (self, "sync-request", PRD_HUB_CONFIG_COLLAB_CLASS, NULL));
  return self;
}

PrdHubConfig *
prd_hub_config_ref (PrdHubConfig *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return g_rc_box_acquire (self);
}

void
prd_hub_config_unref (PrdHubConfig *self)
{
  g_return_if_fail (self != NULL);

  g_rc_box_release_full (self, config_clear);
}

static char *
resolve_path (const char *value, const char *base_dir)
{
  return g_canonicalize_filename (value, base_dir);
}

static gboolean
set_path (char **field, const char *key, const char *value, const char *base_dir, GError **error)
{
  if (value == NULL || *value == '\0')
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "%s: a path is required", key);
      return FALSE;
    }
  g_free (*field);
  *field = resolve_path (value, base_dir);
  return TRUE;
}

/**
 * prd_hub_config_set_listen:
 * @value: `HOST:PORT`; HOST an IPv4 literal, `[IPv6]` or `localhost`; PORT
 *   0–65535 (0: any free port)
 */
gboolean
prd_hub_config_set_listen (PrdHubConfig *self, const char *value, GError **error)
{
  g_autofree char *host = NULL;
  const char *port_str;
  guint64 port;

  g_return_val_if_fail (self != NULL, FALSE);

  if (value == NULL)
    value = "";
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
               "listen: \"%s\" is not HOST:PORT (HOST an IP address, [IPv6] or localhost; "
               "PORT 0-65535)",
               value);
  return FALSE;
}

/**
 * prd_hub_config_get_listen_string:
 *
 * Returns: (transfer full): the listen address as `HOST:PORT`
 */
char *
prd_hub_config_get_listen_string (PrdHubConfig *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  if (strchr (self->listen_host, ':') != NULL)
    return g_strdup_printf ("[%s]:%u", self->listen_host, self->listen_port);
  return g_strdup_printf ("%s:%u", self->listen_host, self->listen_port);
}

gboolean
prd_hub_config_set_data_dir (PrdHubConfig *self, const char *value, GError **error)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return set_path (&self->data_dir, "data-dir", value, NULL, error);
}

gboolean
prd_hub_config_set_tls_cert (PrdHubConfig *self, const char *value, GError **error)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return set_path (&self->tls_cert, "tls-cert", value, NULL, error);
}

gboolean
prd_hub_config_set_tls_key (PrdHubConfig *self, const char *value, GError **error)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return set_path (&self->tls_key, "tls-key", value, NULL, error);
}

gboolean
prd_hub_config_set_jwt_public_key (PrdHubConfig *self, const char *value, GError **error)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return set_path (&self->jwt_public_key, "jwt-public-key", value, NULL, error);
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

/**
 * prd_hub_config_set_cors_origins:
 * @origins: (nullable) (array zero-terminated=1): `scheme://host[:port]`
 *   origins, or the single entry `*` for any; %NULL or empty for none
 */
gboolean
prd_hub_config_set_cors_origins (PrdHubConfig *self, const char *const *origins, GError **error)
{
  guint n;

  g_return_val_if_fail (self != NULL, FALSE);

  n = origins != NULL ? g_strv_length ((GStrv) origins) : 0;
  for (guint i = 0; i < n; i++)
    {
      if (g_str_equal (origins[i], "*"))
        {
          if (n != 1)
            {
              g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CONFIG,
                                   "cors-origins: \"*\" cannot be combined with other origins");
              return FALSE;
            }
          continue;
        }
      if (!origin_is_valid (origins[i]))
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                       "cors-origins: \"%s\" is not an origin (http[s]://host[:port]) or \"*\"",
                       origins[i]);
          return FALSE;
        }
    }
  g_clear_pointer (&self->cors_origins, g_strfreev);
  if (n > 0)
    self->cors_origins = g_strdupv ((GStrv) origins);
  return TRUE;
}

/**
 * prd_hub_config_set_per_address_exempt:
 * @masks: (nullable) (array zero-terminated=1): IP addresses or
 *   `ADDRESS/LENGTH` masks not subject to max-connections-per-address;
 *   %NULL or empty for none
 */
gboolean
prd_hub_config_set_per_address_exempt (PrdHubConfig *self, const char *const *masks, GError **error)
{
  g_return_val_if_fail (self != NULL, FALSE);

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
name_is_valid (const char *name, gboolean strict)
{
  gsize len = strlen (name);

  if (len == 0 || len > MAX_NAME_LENGTH || !g_utf8_validate (name, -1, NULL))
    return FALSE;
  if (strict)
    for (const char *p = name; *p != '\0'; p++)
      if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
        return FALSE;
  return TRUE;
}

/**
 * prd_hub_config_set_rate_limit:
 * @event_class: a class name (letters, digits, `-`, `_`)
 * @value: `LIMIT/WINDOW_SECONDS`, e.g. `100/10`
 */
gboolean
prd_hub_config_set_rate_limit (PrdHubConfig *self,
                               const char *event_class,
                               const char *value,
                               GError **error)
{
  g_auto (GStrv) parts = NULL;
  guint64 limit, window;
  PrdRateLimit *entry;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (event_class != NULL, FALSE);
  g_return_val_if_fail (value != NULL, FALSE);

  if (!name_is_valid (event_class, TRUE))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "rate-limit: \"%s\" is not a valid class name (letters, digits, - and _)",
                   event_class);
      return FALSE;
    }
  parts = g_strsplit (value, "/", -1);
  if (g_strv_length (parts) != 2 ||
      !g_ascii_string_to_unsigned (g_strstrip (parts[0]), 10, 1, MAX_RATE_LIMIT, &limit, NULL) ||
      !g_ascii_string_to_unsigned (g_strstrip (parts[1]), 10, 1, MAX_RATE_WINDOW, &window, NULL))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "rate-limit %s: \"%s\" is not LIMIT/WINDOW_SECONDS (LIMIT 1-%d, "
                   "WINDOW_SECONDS 1-%d)",
                   event_class, value, MAX_RATE_LIMIT, MAX_RATE_WINDOW);
      return FALSE;
    }

  for (guint i = 0; i < self->rate_limits->len; i++)
    {
      entry = g_ptr_array_index (self->rate_limits, i);
      if (g_str_equal (entry->event_class, event_class))
        {
          entry->limit = (guint) limit;
          entry->window_seconds = (guint) window;
          return TRUE;
        }
    }
  entry = g_new0 (PrdRateLimit, 1);
  entry->event_class = g_strdup (event_class);
  entry->limit = (guint) limit;
  entry->window_seconds = (guint) window;
  g_ptr_array_add (self->rate_limits, entry);
  return TRUE;
}

/**
 * prd_hub_config_get_rate_limit:
 *
 * Returns: (transfer none) (nullable): the limit of @event_class
 */
const PrdRateLimit *
prd_hub_config_get_rate_limit (PrdHubConfig *self, const char *event_class)
{
  g_return_val_if_fail (self != NULL, NULL);

  for (guint i = 0; i < self->rate_limits->len; i++)
    {
      PrdRateLimit *entry = g_ptr_array_index (self->rate_limits, i);

      if (g_str_equal (entry->event_class, event_class))
        return entry;
    }
  return NULL;
}

/**
 * prd_hub_config_set_event_class:
 *
 * Puts @event in @event_class; the class must have a rate limit by the time
 * prd_hub_config_validate() runs.
 */
gboolean
prd_hub_config_set_event_class (PrdHubConfig *self,
                                const char *event,
                                const char *event_class,
                                GError **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (event != NULL, FALSE);
  g_return_val_if_fail (event_class != NULL, FALSE);

  if (!name_is_valid (event, FALSE))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "rate-limit.events: \"%s\" is not a valid event name", event);
      return FALSE;
    }
  if (!name_is_valid (event_class, TRUE))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "rate-limit.events %s: \"%s\" is not a valid class name", event, event_class);
      return FALSE;
    }
  g_hash_table_replace (self->event_classes, g_strdup (event), g_strdup (event_class));
  return TRUE;
}

static gboolean parse_uint (const char *group,
                            const char *key,
                            const char *value,
                            guint64 min,
                            guint64 max,
                            guint64 *out,
                            GError **error);

static gboolean
ai_base_url_is_valid (const char *value)
{
  g_autoptr (GUri) uri = g_uri_parse (value, G_URI_FLAGS_NONE, NULL);
  const char *scheme;

  if (uri == NULL)
    return FALSE;
  scheme = g_uri_get_scheme (uri);
  return (g_str_equal (scheme, "http") || g_str_equal (scheme, "https")) &&
         g_uri_get_host (uri) != NULL && *g_uri_get_host (uri) != '\0' &&
         g_uri_get_userinfo (uri) == NULL && g_uri_get_query (uri) == NULL &&
         g_uri_get_fragment (uri) == NULL;
}

/**
 * prd_hub_config_set_ai:
 * @key: `base-url`, `model`, `timeout`, `max-tokens` or `context-chars`
 * @value: its value
 *
 * Sets one key of the [ai] group.
 */
gboolean
prd_hub_config_set_ai (PrdHubConfig *self, const char *key, const char *value, GError **error)
{
  guint64 v;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (value != NULL, FALSE);

  if (g_str_equal (key, "base-url"))
    {
      if (!ai_base_url_is_valid (value))
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                       "[ai] base-url: \"%s\" is not an http:// or https:// URL without "
                       "credentials, query or fragment",
                       value);
          return FALSE;
        }
      g_free (self->ai_base_url);
      self->ai_base_url = g_strdup (value);
      return TRUE;
    }
  if (g_str_equal (key, "model"))
    {
      gboolean ok = *value != '\0' && strlen (value) <= MAX_AI_MODEL_LENGTH;

      for (const char *p = value; ok && *p != '\0'; p++)
        ok = (guchar) *p > 0x20 && (guchar) *p < 0x7f;
      if (!ok)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                       "[ai] model: \"%s\" must be printable ASCII without spaces, at most %d "
                       "characters",
                       value, MAX_AI_MODEL_LENGTH);
          return FALSE;
        }
      g_free (self->ai_model);
      self->ai_model = g_strdup (value);
      return TRUE;
    }
  if (g_str_equal (key, "timeout"))
    {
      if (!parse_uint ("ai", key, value, 1, MAX_AI_TIMEOUT, &v, error))
        return FALSE;
      self->ai_timeout = (guint) v;
      return TRUE;
    }
  if (g_str_equal (key, "max-tokens"))
    {
      if (!parse_uint ("ai", key, value, 1, MAX_AI_MAX_TOKENS, &v, error))
        return FALSE;
      self->ai_max_tokens = (guint) v;
      return TRUE;
    }
  if (g_str_equal (key, "context-chars"))
    {
      if (!parse_uint ("ai", key, value, MIN_AI_CONTEXT_CHARS, MAX_AI_CONTEXT_CHARS, &v, error))
        return FALSE;
      self->ai_context_chars = (guint) v;
      return TRUE;
    }
  if (g_str_equal (key, "concurrency"))
    {
      if (!parse_uint ("ai", key, value, 1, 64, &v, error))
        return FALSE;
      self->ai_concurrency = (guint) v;
      return TRUE;
    }
  if (g_str_equal (key, "hourly-quota"))
    {
      if (!parse_uint ("ai", key, value, 1, 100000, &v, error))
        return FALSE;
      self->ai_hourly_quota = (guint) v;
      return TRUE;
    }
  g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "Unknown key \"%s\" in [ai]", key);
  return FALSE;
}

/**
 * prd_hub_config_validate:
 *
 * Checks what no single key can: TLS certificate and key come together and
 * exist, every mapped event class has a limit.
 */
gboolean
prd_hub_config_validate (PrdHubConfig *self, GError **error)
{
  GHashTableIter iter;
  gpointer key, value;

  g_return_val_if_fail (self != NULL, FALSE);

  if ((self->tls_cert == NULL) != (self->tls_key == NULL))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CONFIG,
                           self->tls_cert == NULL ? "tls-key is set but tls-cert is not"
                                                  : "tls-cert is set but tls-key is not");
      return FALSE;
    }
  if (self->tls_cert != NULL && !g_file_test (self->tls_cert, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "tls-cert: %s does not exist",
                   self->tls_cert);
      return FALSE;
    }
  if (self->tls_key != NULL && !g_file_test (self->tls_key, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "tls-key: %s does not exist", self->tls_key);
      return FALSE;
    }
  if (self->jwt_public_key != NULL && !g_file_test (self->jwt_public_key, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "jwt-public-key: %s does not exist",
                   self->jwt_public_key);
      return FALSE;
    }
  if ((self->ai_base_url == NULL) != (self->ai_model == NULL))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CONFIG,
                           self->ai_base_url == NULL ? "[ai] model is set but base-url is not"
                                                     : "[ai] base-url is set but model is not");
      return FALSE;
    }
  if (prd_hub_config_get_rate_limit (self, "default") == NULL)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CONFIG,
                           "rate-limit: the \"default\" class has no limit");
      return FALSE;
    }
  g_hash_table_iter_init (&iter, self->event_classes);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (prd_hub_config_get_rate_limit (self, value) == NULL)
      {
        g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                     "rate-limit.events %s: class \"%s\" has no limit in [rate-limit]",
                     (const char *) key, (const char *) value);
        return FALSE;
      }
  return TRUE;
}

static gboolean
parse_uint (const char *group,
            const char *key,
            const char *value,
            guint64 min,
            guint64 max,
            guint64 *out,
            GError **error)
{
  g_autofree char *copy = g_strstrip (g_strdup (value));

  if (!g_ascii_string_to_unsigned (copy, 10, min, max, out, NULL))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "[%s] %s: \"%s\" is not a whole number between %" G_GUINT64_FORMAT
                   " and %" G_GUINT64_FORMAT,
                   group, key, value, min, max);
      return FALSE;
    }
  return TRUE;
}

static gboolean
set_server_uint (
    guint *field, const char *key, const char *value, guint64 min, guint64 max, GError **error)
{
  guint64 v;

  if (!parse_uint ("server", key, value, min, max, &v, error))
    return FALSE;
  *field = (guint) v;
  return TRUE;
}

static gboolean
load_server_key (
    PrdHubConfig *self, GKeyFile *file, const char *key, const char *base_dir, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autofree char *value = NULL;
  gboolean ok;

  if (g_str_equal (key, "cors-origins"))
    {
      g_auto (GStrv) list = g_key_file_get_string_list (file, "server", key, NULL, &local_error);

      if (list == NULL && local_error != NULL)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "[server] cors-origins: %s",
                       local_error->message);
          return FALSE;
        }
      for (guint i = 0; list != NULL && list[i] != NULL; i++)
        g_strstrip (list[i]);
      return prd_hub_config_set_cors_origins (self, (const char *const *) list, error);
    }
  if (g_str_equal (key, "per-address-exempt"))
    {
      g_auto (GStrv) list = g_key_file_get_string_list (file, "server", key, NULL, &local_error);

      if (list == NULL && local_error != NULL)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "[server] per-address-exempt: %s",
                       local_error->message);
          return FALSE;
        }
      for (guint i = 0; list != NULL && list[i] != NULL; i++)
        g_strstrip (list[i]);
      return prd_hub_config_set_per_address_exempt (self, (const char *const *) list, error);
    }

  value = g_key_file_get_string (file, "server", key, &local_error);
  if (value == NULL)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "[server] %s: %s", key,
                   local_error->message);
      return FALSE;
    }
  g_strstrip (value);
  if (g_str_equal (key, "listen"))
    ok = prd_hub_config_set_listen (self, value, error);
  else if (g_str_equal (key, "data-dir"))
    ok = set_path (&self->data_dir, "[server] data-dir", value, base_dir, error);
  else if (g_str_equal (key, "tls-cert"))
    ok = set_path (&self->tls_cert, "[server] tls-cert", value, base_dir, error);
  else if (g_str_equal (key, "tls-key"))
    ok = set_path (&self->tls_key, "[server] tls-key", value, base_dir, error);
  else if (g_str_equal (key, "max-request-body"))
    ok = parse_uint ("server", key, value, MIN_MAX_REQUEST_BODY, MAX_MAX_REQUEST_BODY,
                     &self->max_request_body, error);
  else if (g_str_equal (key, "listen-backlog"))
    ok = set_server_uint (&self->listen_backlog, key, value, 1, 65535, error);
  else if (g_str_equal (key, "idle-timeout"))
    ok = set_server_uint (&self->idle_timeout, key, value, 1, MAX_IDLE_TIMEOUT, error);
  else if (g_str_equal (key, "request-timeout"))
    ok = set_server_uint (&self->request_timeout, key, value, 1, MAX_REQUEST_TIMEOUT, error);
  else if (g_str_equal (key, "max-connections"))
    ok = set_server_uint (&self->max_connections, key, value, 0, MAX_CONNECTIONS, error);
  else if (g_str_equal (key, "max-connections-per-address"))
    ok =
        set_server_uint (&self->max_connections_per_address, key, value, 0, MAX_CONNECTIONS, error);
  else
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "Unknown key \"%s\" in [server]", key);
      return FALSE;
    }
  return ok;
}

static gboolean
load_engine_key (PrdHubConfig *self, GKeyFile *file, const char *key, GError **error)
{
  g_autofree char *value = g_key_file_get_value (file, "engine", key, NULL);
  guint64 v;

  if (g_str_equal (key, "ping-interval") || g_str_equal (key, "ping-timeout") ||
      g_str_equal (key, "connect-timeout"))
    {
      if (!parse_uint ("engine", key, value, MIN_TIMEOUT_MS, MAX_TIMEOUT_MS, &v, error))
        return FALSE;
      if (g_str_equal (key, "ping-interval"))
        self->ping_interval = (guint) v;
      else if (g_str_equal (key, "ping-timeout"))
        self->ping_timeout = (guint) v;
      else
        self->connect_timeout = (guint) v;
      return TRUE;
    }
  if (g_str_equal (key, "max-payload"))
    {
      if (!parse_uint ("engine", key, value, MIN_MAX_PAYLOAD, MAX_MAX_PAYLOAD, &v, error))
        return FALSE;
      self->max_payload = v;
      return TRUE;
    }
  if (g_str_equal (key, "max-write-buffer"))
    {
      if (!parse_uint ("engine", key, value, MIN_MAX_PAYLOAD, MAX_MAX_WRITE_BUFFER, &v, error))
        return FALSE;
      self->max_write_buffer = v;
      return TRUE;
    }
  g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "Unknown key \"%s\" in [engine]", key);
  return FALSE;
}

/*
 * [collab]
 *   batch-threshold     events per second in one PRD room above which the hub
 *                       sends batch-update instead of single events
 *                       (0 = never batch; default 50, at most 1000000)
 *   batch-interval      ms between two batch-update flushes (5–5000, default 50)
 *   max-operation-size  largest content-update, in UTF-16 code units of
 *                       inserted text or deleted characters (1–4194304,
 *                       default 65536)
 *   snapshot-every      operations appended between two snapshots of a PRD
 *                       (1–1000000, default 500)
 *   autosave-interval   seconds between two auto-saves (snapshot, auto-save-start,
 *                       auto-save-complete) of a PRD with unsaved changes
 *                       (1–86400, default 300)
 */
static gboolean
load_collab_key (PrdHubConfig *self, GKeyFile *file, const char *key, GError **error)
{
  g_autofree char *value = g_key_file_get_value (file, "collab", key, NULL);
  guint64 v;

  if (g_str_equal (key, "batch-threshold"))
    {
      if (!parse_uint ("collab", key, value, 0, 1000000, &v, error))
        return FALSE;
      self->batch_threshold = (guint) v;
      return TRUE;
    }
  if (g_str_equal (key, "batch-interval"))
    {
      if (!parse_uint ("collab", key, value, 5, 5000, &v, error))
        return FALSE;
      self->batch_interval = (guint) v;
      return TRUE;
    }
  if (g_str_equal (key, "max-operation-size"))
    {
      if (!parse_uint ("collab", key, value, 1, 4 * 1024 * 1024, &v, error))
        return FALSE;
      self->max_operation_size = (guint) v;
      return TRUE;
    }
  if (g_str_equal (key, "snapshot-every"))
    {
      if (!parse_uint ("collab", key, value, 1, 1000000, &v, error))
        return FALSE;
      self->snapshot_every = (guint) v;
      return TRUE;
    }
  if (g_str_equal (key, "autosave-interval"))
    return prd_hub_config_set_autosave_interval (self, value, error);
  g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "Unknown key \"%s\" in [collab]", key);
  return FALSE;
}

static gboolean
load_key_file (PrdHubConfig *self, GKeyFile *file, const char *base_dir, GError **error)
{
  g_auto (GStrv) groups = g_key_file_get_groups (file, NULL);

  for (guint g = 0; groups[g] != NULL; g++)
    {
      const char *group = groups[g];
      g_auto (GStrv) keys = g_key_file_get_keys (file, group, NULL, NULL);

      if (!g_str_equal (group, "server") && !g_str_equal (group, "engine") &&
          !g_str_equal (group, "auth") && !g_str_equal (group, "rate-limit") &&
          !g_str_equal (group, "rate-limit.events") && !g_str_equal (group, "collab") &&
          !g_str_equal (group, "ai"))
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "Unknown group [%s]", group);
          return FALSE;
        }

      for (guint k = 0; keys != NULL && keys[k] != NULL; k++)
        {
          const char *key = keys[k];
          g_autofree char *value = g_key_file_get_value (file, group, key, NULL);

          if (g_str_equal (group, "server"))
            {
              if (!load_server_key (self, file, key, base_dir, error))
                return FALSE;
            }
          else if (g_str_equal (group, "engine"))
            {
              if (!load_engine_key (self, file, key, error))
                return FALSE;
            }
          else if (g_str_equal (group, "collab"))
            {
              if (!load_collab_key (self, file, key, error))
                return FALSE;
            }
          else if (g_str_equal (group, "auth"))
            {
              g_autofree char *path = g_key_file_get_string (file, group, key, NULL);

              if (!g_str_equal (key, "jwt-public-key"))
                {
                  g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "Unknown key \"%s\" in [auth]",
                               key);
                  return FALSE;
                }
              if (!set_path (&self->jwt_public_key, "[auth] jwt-public-key",
                             path != NULL ? g_strstrip (path) : NULL, base_dir, error))
                return FALSE;
            }
          else if (g_str_equal (group, "ai"))
            {
              g_autofree char *text = g_key_file_get_string (file, group, key, NULL);

              if (!prd_hub_config_set_ai (self, key, text != NULL ? g_strstrip (text) : "", error))
                return FALSE;
            }
          else if (g_str_equal (group, "rate-limit"))
            {
              if (!prd_hub_config_set_rate_limit (self, key, g_strstrip (value), error))
                return FALSE;
            }
          else if (!prd_hub_config_set_event_class (self, key, g_strstrip (value), error))
            return FALSE;
        }
    }
  return TRUE;
}

/**
 * prd_hub_config_load_data:
 * @data: key-file text
 * @len: length of @data, or -1 if nul-terminated
 *
 * Applies the key file over the current settings (relative paths are taken
 * relative to the current folder). On error the configuration may be
 * partially updated; callers discard it. Call prd_hub_config_validate()
 * once every source has been applied.
 */
gboolean
prd_hub_config_load_data (PrdHubConfig *self, const char *data, gssize len, GError **error)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autoptr (GError) local_error = NULL;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (data != NULL, FALSE);

  if (!g_key_file_load_from_data (file, data, len < 0 ? strlen (data) : (gsize) len,
                                  G_KEY_FILE_NONE, &local_error))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "Invalid configuration: %s",
                   local_error->message);
      return FALSE;
    }
  return load_key_file (self, file, NULL, error);
}

/**
 * prd_hub_config_load_file:
 * @path: a key file
 *
 * Like prd_hub_config_load_data(); relative paths are taken relative to the
 * folder of @path, and errors name the file.
 */
gboolean
prd_hub_config_load_file (PrdHubConfig *self, const char *path, GError **error)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autoptr (GError) local_error = NULL;
  g_autofree char *base_dir = NULL;
  g_autofree char *absolute = NULL;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  absolute = g_canonicalize_filename (path, NULL);
  base_dir = g_path_get_dirname (absolute);
  if (!g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, &local_error) ||
      !load_key_file (self, file, base_dir, &local_error))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "%s: %s", path, local_error->message);
      return FALSE;
    }
  return TRUE;
}

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
prd_hub_config_get_idle_timeout_ms (PrdHubConfig *self)
{
  guint64 configured, polling;

  g_return_val_if_fail (self != NULL, 0);

  configured = (guint64) self->idle_timeout * 1000;
  polling = (guint64) self->ping_interval + self->ping_timeout;
  return (guint) MIN (MAX (configured, polling), G_MAXUINT);
}

/**
 * prd_hub_config_set_autosave_interval:
 * @value: seconds, 1–86400 (`--autosave-interval`, `[collab] autosave-interval`)
 */
gboolean
prd_hub_config_set_autosave_interval (PrdHubConfig *self, const char *value, GError **error)
{
  guint64 v;

  if (!parse_uint ("collab", "autosave-interval", value, 1, PRD_HUB_CONFIG_MAX_AUTOSAVE_INTERVAL,
                   &v, error))
    return FALSE;
  self->autosave_interval = (guint) v;
  return TRUE;
}
