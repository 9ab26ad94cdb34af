/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The [log] group of the hub's configuration (see prd-hub-config.c).
 *
 * [log]
 *   level   error, warning, info (default) or debug; `--log-level` overrides.
 *           info logs one line per connection, join, refusal, version, AI job
 *           and integration call; debug adds every library's debugging
 *           (libsoup's WebSocket frames included).
 */
#define G_LOG_DOMAIN "prd-hub-config"

#include "config.h"

#include "prd-error.h"

#include "prd-hub-config-log.h"

static void
log_init (gpointer data)
{
  PrdHubLogConfig *self = data;

  self->level = PRD_LOG_LEVEL_INFO;
}

static gboolean
log_set (gpointer data,
         const char *group,
         const char *key,
         const char *value,
         const char *base_dir,
         GError **error)
{
  PrdHubLogConfig *self = data;

  if (g_str_equal (key, "level"))
    {
      if (prd_log_level_from_string (value, &self->level))
        return TRUE;
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "[%s] %s: \"%s\" is not %s", group, key,
                   value, PRD_LOG_LEVEL_NAMES);
      return FALSE;
    }
  prd_hub_config_set_unknown_key_error (error, group, key);
  return FALSE;
}

const PrdHubConfigSection prd_hub_log_config_section = {
  .name = "log",
  .settings_size = sizeof (PrdHubLogConfig),
  .init = log_init,
  .set = log_set,
};
