/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The [ai] group of the hub's configuration.
 */
#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-hub-config.h"
#include "prd-hub-config-ai.h"

static void
test_defaults (void)
{
  g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
  g_autoptr (GError) error = NULL;

  g_assert_null (prd_hub_config_get_ai (config)->base_url);
  g_assert_null (prd_hub_config_get_ai (config)->model);
  g_assert_cmpuint (prd_hub_config_get_ai (config)->timeout, ==, PRD_HUB_CONFIG_DEFAULT_AI_TIMEOUT);
  g_assert_cmpuint (prd_hub_config_get_ai (config)->max_tokens, ==,
                    PRD_HUB_CONFIG_DEFAULT_AI_MAX_TOKENS);
  g_assert_cmpuint (prd_hub_config_get_ai (config)->context_chars, ==,
                    PRD_HUB_CONFIG_DEFAULT_AI_CONTEXT_CHARS);
  /* No AI at all is a valid configuration */
  g_assert_true (prd_hub_config_validate (config, &error));
  g_assert_no_error (error);
}

static void
test_valid (void)
{
  g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
  g_autoptr (GError) error = NULL;
  const char *text = "[ai]\n"
                     "base-url = http://127.0.0.1:11434/v1\n"
                     "model = llama3.1:8b\n"
                     "timeout = 90\n"
                     "max-tokens = 4096\n"
                     "context-chars = 48000\n";

  g_assert_true (prd_hub_config_load_data (config, text, -1, &error));
  g_assert_no_error (error);
  g_assert_true (prd_hub_config_validate (config, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (prd_hub_config_get_ai (config)->base_url, ==, "http://127.0.0.1:11434/v1");
  g_assert_cmpstr (prd_hub_config_get_ai (config)->model, ==, "llama3.1:8b");
  g_assert_cmpuint (prd_hub_config_get_ai (config)->timeout, ==, 90);
  g_assert_cmpuint (prd_hub_config_get_ai (config)->max_tokens, ==, 4096);
  g_assert_cmpuint (prd_hub_config_get_ai (config)->context_chars, ==, 48000);

  /* The limits themselves are accepted */
  g_assert_true (prd_hub_config_set (config, "ai", "timeout", "3600", &error));
  g_assert_true (prd_hub_config_set (config, "ai", "timeout", "1", &error));
  g_assert_true (prd_hub_config_set (config, "ai", "max-tokens", "1000000", &error));
  g_assert_true (prd_hub_config_set (config, "ai", "context-chars", "256", &error));
  g_assert_true (prd_hub_config_set (config, "ai", "context-chars", "4000000", &error));
  g_assert_no_error (error);
}

static void
test_invalid (void)
{
  static const struct
  {
    const char *text;
    const char *message;
  } cases[] = {
    { "[ai]\nbase-url = ftp://x/v1\nmodel = m\n", "[ai] base-url: \"ftp://x/v1\"" },
    { "[ai]\nbase-url = localhost:11434\nmodel = m\n", "[ai] base-url" },
    { "[ai]\nbase-url = http://u:p@x/v1\nmodel = m\n", "[ai] base-url" },
    { "[ai]\nbase-url = http://x/v1?k=1\nmodel = m\n", "[ai] base-url" },
    { "[ai]\nbase-url =\nmodel = m\n", "[ai] base-url" },
    { "[ai]\nbase-url = http://x/v1\nmodel = two words\n", "[ai] model" },
    { "[ai]\nbase-url = http://x/v1\nmodel =\n", "[ai] model" },
    { "[ai]\ntimeout = 0\n", "[ai] timeout" },
    { "[ai]\ntimeout = 3601\n", "[ai] timeout" },
    { "[ai]\ntimeout = soon\n", "[ai] timeout: \"soon\" is not a whole number" },
    { "[ai]\nmax-tokens = 0\n", "[ai] max-tokens" },
    { "[ai]\nmax-tokens = 1000001\n", "[ai] max-tokens" },
    { "[ai]\ncontext-chars = 255\n", "[ai] context-chars" },
    { "[ai]\ncontext-chars = 4000001\n", "[ai] context-chars" },
    { "[ai]\napi-key = sk-123\n", "Unknown key \"api-key\" in [ai]" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
      g_autoptr (GError) error = NULL;

      g_assert_false (prd_hub_config_load_data (config, cases[i].text, -1, &error));
      g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
      if (strstr (error->message, cases[i].message) == NULL)
        g_error ("case %" G_GSIZE_FORMAT ": \"%s\" does not contain \"%s\"", i, error->message,
                 cases[i].message);
    }
}

static void
test_half_configured (void)
{
  g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
  g_autoptr (PrdHubConfig) other = prd_hub_config_new ();
  g_autoptr (GError) error = NULL;

  g_assert_true (
      prd_hub_config_load_data (config, "[ai]\nbase-url = https://api.example/v1\n", -1, &error));
  g_assert_no_error (error);
  g_assert_false (prd_hub_config_validate (config, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "base-url is set but model is not"));
  g_clear_error (&error);

  g_assert_true (prd_hub_config_load_data (other, "[ai]\nmodel = gpt-4o-mini\n", -1, &error));
  g_assert_false (prd_hub_config_validate (other, &error));
  g_assert_nonnull (strstr (error->message, "model is set but base-url is not"));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/prd/ai/config/defaults", test_defaults);
  g_test_add_func ("/prd/ai/config/valid", test_valid);
  g_test_add_func ("/prd/ai/config/invalid", test_invalid);
  g_test_add_func ("/prd/ai/config/half-configured", test_half_configured);
  return g_test_run ();
}
