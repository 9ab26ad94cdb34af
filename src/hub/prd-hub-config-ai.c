/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The [ai] group of the hub's configuration, owned by the AI feature
 * (prd-hub-ai.c). It lives beside prd-hub-config.c, in the prd-auth library,
 * so that the parser can list it (see there).
 *
 *   [ai]  base-url (OpenAI-compatible API root), model, timeout (s of
 *         silence), max-tokens, context-chars, concurrency (jobs at once),
 *         hourly-quota (jobs per user per hour), max-queued-per-user (jobs
 *         one user may have waiting or running at once), chunk-interval (ms at
 *         least between two pieces of one job's answer sent to its room);
 *         the API key is the secret
 *         `ai-api-key` (`prdhub secret set ai-api-key`)
 *
 * base-url and model come together or not at all.
 */
#define G_LOG_DOMAIN "prd-hub-config"

#include "config.h"

#include <string.h>

#include "prd-error.h"

#include "prd-hub-config-ai.h"

#define MAX_AI_TIMEOUT        3600
#define MAX_AI_MAX_TOKENS     1000000
#define MIN_AI_CONTEXT_CHARS  256
#define MAX_AI_CONTEXT_CHARS  4000000
#define MAX_AI_MODEL_LENGTH   256
#define MAX_AI_CONCURRENCY    64
#define MAX_AI_HOURLY_QUOTA   100000
#define MAX_AI_MAX_QUEUED     1000
#define MAX_AI_CHUNK_INTERVAL 1000

static void
ai_init (gpointer data)
{
  PrdHubAiConfig *self = data;

  self->timeout = PRD_HUB_CONFIG_DEFAULT_AI_TIMEOUT;
  self->max_tokens = PRD_HUB_CONFIG_DEFAULT_AI_MAX_TOKENS;
  self->context_chars = PRD_HUB_CONFIG_DEFAULT_AI_CONTEXT_CHARS;
  self->concurrency = PRD_HUB_CONFIG_DEFAULT_AI_CONCURRENCY;
  self->hourly_quota = PRD_HUB_CONFIG_DEFAULT_AI_HOURLY_QUOTA;
  self->max_queued_per_user = PRD_HUB_CONFIG_DEFAULT_AI_MAX_QUEUED_PER_USER;
  self->chunk_interval = PRD_HUB_CONFIG_DEFAULT_AI_CHUNK_INTERVAL;
}

static void
ai_clear (gpointer data)
{
  PrdHubAiConfig *self = data;

  g_clear_pointer (&self->base_url, g_free);
  g_clear_pointer (&self->model, g_free);
}

/* What is wrong with @value as the API root, or %NULL when it is one. The
 * value itself is never quoted: a refused URL may carry a password or an
 * API key (in its user info or query), and the message goes to the log. */
static const char *
base_url_problem (const char *value)
{
  g_autoptr (GUri) uri = g_uri_parse (value, G_URI_FLAGS_NONE, NULL);
  const char *scheme;

  if (uri == NULL)
    return "is not a URL";
  scheme = g_uri_get_scheme (uri);
  if (!g_str_equal (scheme, "http") && !g_str_equal (scheme, "https"))
    return "is not an http:// or https:// URL";
  if (g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    return "has no host";
  if (g_uri_get_userinfo (uri) != NULL)
    return "carries credentials (user info); give the API key with `prdhub secret set ai-api-key`";
  if (g_uri_get_query (uri) != NULL)
    return "has a query; give the API key with `prdhub secret set ai-api-key`";
  if (g_uri_get_fragment (uri) != NULL)
    return "has a fragment";
  return NULL;
}

static gboolean
set_uint (
    guint *field, const char *key, const char *value, guint64 min, guint64 max, GError **error)
{
  guint64 v;

  if (!prd_hub_config_parse_uint ("ai", key, value, min, max, &v, error))
    return FALSE;
  *field = (guint) v;
  return TRUE;
}

static gboolean
ai_set (gpointer data,
        const char *group,
        const char *key,
        const char *value,
        const char *base_dir,
        GError **error)
{
  PrdHubAiConfig *self = data;

  if (g_str_equal (key, "base-url"))
    {
      const char *problem = base_url_problem (value);

      if (problem != NULL)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                       "[ai] base-url %s (it must be an http:// or https:// URL without "
                       "credentials, query or fragment)",
                       problem);
          return FALSE;
        }
      g_free (self->base_url);
      self->base_url = g_strdup (value);
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
      g_free (self->model);
      self->model = g_strdup (value);
      return TRUE;
    }
  if (g_str_equal (key, "timeout"))
    return set_uint (&self->timeout, key, value, 1, MAX_AI_TIMEOUT, error);
  if (g_str_equal (key, "max-tokens"))
    return set_uint (&self->max_tokens, key, value, 1, MAX_AI_MAX_TOKENS, error);
  if (g_str_equal (key, "context-chars"))
    return set_uint (&self->context_chars, key, value, MIN_AI_CONTEXT_CHARS, MAX_AI_CONTEXT_CHARS,
                     error);
  if (g_str_equal (key, "concurrency"))
    return set_uint (&self->concurrency, key, value, 1, MAX_AI_CONCURRENCY, error);
  if (g_str_equal (key, "hourly-quota"))
    return set_uint (&self->hourly_quota, key, value, 1, MAX_AI_HOURLY_QUOTA, error);
  if (g_str_equal (key, "max-queued-per-user"))
    return set_uint (&self->max_queued_per_user, key, value, 1, MAX_AI_MAX_QUEUED, error);
  if (g_str_equal (key, "chunk-interval"))
    return set_uint (&self->chunk_interval, key, value, 0, MAX_AI_CHUNK_INTERVAL, error);
  prd_hub_config_set_unknown_key_error (error, group, key);
  return FALSE;
}

static gboolean
ai_validate (gconstpointer data, GError **error)
{
  const PrdHubAiConfig *self = data;

  if ((self->base_url == NULL) != (self->model == NULL))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CONFIG,
                           self->base_url == NULL ? "[ai] model is set but base-url is not"
                                                  : "[ai] base-url is set but model is not");
      return FALSE;
    }
  return TRUE;
}

const PrdHubConfigSection prd_hub_ai_config_section = {
  .name = "ai",
  .settings_size = sizeof (PrdHubAiConfig),
  .init = ai_init,
  .set = ai_set,
  .validate = ai_validate,
  .clear = ai_clear,
};
