/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-fuzz"

#include "config.h"

#include "prd-error.h"
#include "prd-fuzz.h"
#include "prd-hub-config.h"

/*
 * The configuration file reader: the input is a key file applied to a fresh
 * configuration (prd_hub_config_load_data, every section's parser), then
 * validated. A failure must be a PRD_ERROR_CONFIG error.
 */

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  return 0;
}

static void
check_error (const GError *error)
{
  g_assert_nonnull (error);
  g_assert_true (error->domain == PRD_ERROR);
  g_assert_cmpint (error->code, ==, PRD_ERROR_CONFIG);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
  g_autoptr (GError) error = NULL;

  if (!prd_hub_config_load_data (config, (const char *) data, (gssize) size, &error))
    {
      check_error (error);
      return 0;
    }
  if (!prd_hub_config_validate (config, &error))
    check_error (error);
  return 0;
}
