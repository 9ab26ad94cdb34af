/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The [metrics] group of the hub's configuration, owned by the /metrics
 * route (prd-hub-metrics.c).
 *
 * [metrics]
 *   enabled              true (default) or false: without it GET /metrics is 404
 *   allow-without-token  IP addresses or ADDRESS/LENGTH masks whose requests
 *                        are answered without a token (default
 *                        127.0.0.0/8;::1, the hub's own host; empty: only
 *                        admins' bearer tokens). Every other request needs
 *                        `Authorization: Bearer` with an admin's token.
 */
#define G_LOG_DOMAIN "prd-hub-config"

#include "config.h"

#include <gio/gio.h>

#include "prd-error.h"

#include "prd-hub-config-metrics.h"

static void
metrics_init (gpointer data)
{
  PrdHubMetricsConfig *self = data;

  self->enabled = TRUE;
  self->allow_without_token = g_strsplit ("127.0.0.0/8,::1", ",", -1);
}

static void
metrics_clear (gpointer data)
{
  PrdHubMetricsConfig *self = data;

  g_clear_pointer (&self->allow_without_token, g_strfreev);
}

static gboolean
metrics_set (gpointer data,
             const char *group,
             const char *key,
             const char *value,
             const char *base_dir,
             GError **error)
{
  PrdHubMetricsConfig *self = data;

  if (g_str_equal (key, "enabled"))
    return prd_hub_config_parse_bool (group, key, value, &self->enabled, error);
  prd_hub_config_set_unknown_key_error (error, group, key);
  return FALSE;
}

static gboolean
metrics_set_list (
    gpointer data, const char *key, const char *const *values, const char *base_dir, GError **error)
{
  PrdHubMetricsConfig *self = data;

  g_assert (g_str_equal (key, "allow-without-token"));
  for (guint i = 0; values != NULL && values[i] != NULL; i++)
    {
      g_autoptr (GInetAddressMask) mask = g_inet_address_mask_new_from_string (values[i], NULL);

      if (mask == NULL)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                       "[metrics] allow-without-token: \"%s\" is not an IP address or "
                       "ADDRESS/LENGTH mask",
                       values[i]);
          return FALSE;
        }
    }
  g_strfreev (self->allow_without_token);
  self->allow_without_token = g_strdupv ((GStrv) values);
  return TRUE;
}

static const char *const metrics_list_keys[] = { "allow-without-token", NULL };

const PrdHubConfigSection prd_hub_metrics_config_section = {
  .name = "metrics",
  .settings_size = sizeof (PrdHubMetricsConfig),
  .init = metrics_init,
  .set = metrics_set,
  .list_keys = metrics_list_keys,
  .set_list = metrics_set_list,
  .clear = metrics_clear,
};
