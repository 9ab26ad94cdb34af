/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The [integrations] group of the hub's configuration (see prd-hub-config.c):
 * what the operator allows the integrations that each organization's
 * admins set up.
 *
 * [integrations]
 *   git-file-remotes   true or false (default): whether a git remote may be a
 *                      file:/// URL. Such a remote is any repository the hub's
 *                      user can write, so on a hub of several organizations
 *                      an admin of one could push into another's; turn it on
 *                      where every admin may do that.
 */
#define G_LOG_DOMAIN "prd-hub-config"

#include "config.h"

#include "prd-error.h"

#include "prd-hub-config-integrations.h"

static void
integrations_init (gpointer data)
{
  PrdHubIntegrationsConfig *self = data;

  self->git_file_remotes = FALSE;
}

static gboolean
integrations_set (gpointer data,
                  const char *group,
                  const char *key,
                  const char *value,
                  const char *base_dir,
                  GError **error)
{
  PrdHubIntegrationsConfig *self = data;

  if (g_str_equal (key, "git-file-remotes"))
    return prd_hub_config_parse_bool (group, key, value, &self->git_file_remotes, error);
  prd_hub_config_set_unknown_key_error (error, group, key);
  return FALSE;
}

const PrdHubConfigSection prd_hub_integrations_config_section = {
  .name = "integrations",
  .settings_size = sizeof (PrdHubIntegrationsConfig),
  .init = integrations_init,
  .set = integrations_set,
};
