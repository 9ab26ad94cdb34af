/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The [ai] group of the hub's configuration, and the section API through it.
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
    { "[ai]\nbase-url = ftp://x/v1\nmodel = m\n",
      "[ai] base-url is not an http:// or https:// URL" },
    { "[ai]\nbase-url = localhost:11434\nmodel = m\n", "[ai] base-url" },
    { "[ai]\nbase-url = http://u:p@x/v1\nmodel = m\n", "[ai] base-url carries credentials" },
    { "[ai]\nbase-url = http://x/v1?k=1\nmodel = m\n", "[ai] base-url has a query" },
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
      /* A refused URL may hold a password or an API key: never quoted. */
      g_assert_null (strstr (error->message, "u:p@"));
      g_assert_null (strstr (error->message, "k=1"));
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

/* The [ai] section parses and validates its own keys: its descriptor works
 * on its own settings struct, without a PrdHubConfig, and the file and
 * command-line paths reach the same code. */
static void
test_section (void)
{
  const PrdHubConfigSection *section = &prd_hub_ai_config_section;
  g_autofree PrdHubAiConfig *ai = g_malloc0 (section->settings_size);
  g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
  g_autoptr (GError) error = NULL;

  g_assert_cmpstr (section->name, ==, "ai");
  g_assert_cmpuint (section->settings_size, ==, sizeof (PrdHubAiConfig));
  section->init (ai);
  g_assert_cmpuint (ai->timeout, ==, PRD_HUB_CONFIG_DEFAULT_AI_TIMEOUT);
  g_assert_true (section->set (ai, "ai", "base-url", "http://127.0.0.1:8080/v1", NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (ai->base_url, ==, "http://127.0.0.1:8080/v1");
  g_assert_false (section->validate (ai, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_assert_cmpstr (error->message, ==, "[ai] base-url is set but model is not");
  g_clear_error (&error);
  g_assert_false (section->set (ai, "ai", "timeout", "0", NULL, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "[ai] timeout: \"0\""));
  g_clear_error (&error);
  g_assert_true (section->set (ai, "ai", "model", "local-model", NULL, &error));
  g_assert_true (section->validate (ai, &error));
  g_assert_no_error (error);
  section->clear (ai);
  g_assert_null (ai->base_url);

  /* A key file and a command-line override land in the same settings, which
   * prd_hub_config_get_section() returns. */
  g_assert_true (prd_hub_config_load_data (config, "[ai]\ntimeout = 7\n", -1, &error));
  g_assert_no_error (error);
  g_assert_true (prd_hub_config_set (config, "ai", "max-tokens", "99", &error));
  g_assert_no_error (error);
  g_assert_true (prd_hub_config_get_section (config, section) == prd_hub_config_get_ai (config));
  g_assert_cmpuint (prd_hub_config_get_ai (config)->timeout, ==, 7);
  g_assert_cmpuint (prd_hub_config_get_ai (config)->max_tokens, ==, 99);
  g_assert_true (prd_hub_config_set (config, "ai", "model", "m", &error));
  g_assert_false (prd_hub_config_validate (config, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_assert_cmpstr (error->message, ==, "[ai] model is set but base-url is not");
}

/* A group no section owns and a key its section does not know are refused
 * by name, from a file and from the command line alike. */
static void
test_unknown (void)
{
  g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
  g_autofree PrdHubAiConfig *ai = g_malloc0 (prd_hub_ai_config_section.settings_size);
  g_autoptr (GError) error = NULL;

  g_assert_false (prd_hub_config_load_data (config, "[jira]\nurl = https://x\n", -1, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_assert_cmpstr (error->message, ==, "Unknown group [jira]");
  g_clear_error (&error);
  g_assert_false (prd_hub_config_set (config, "jira", "url", "https://x", &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_assert_cmpstr (error->message, ==, "Unknown group [jira]");
  g_clear_error (&error);
  g_assert_false (prd_hub_config_load_data (config, "[ai.extra]\nmodel = m\n", -1, &error));
  g_assert_cmpstr (error->message, ==, "Unknown group [ai.extra]");
  g_clear_error (&error);

  g_assert_false (prd_hub_config_set (config, "ai", "api-key", "sk-1", &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_assert_cmpstr (error->message, ==, "Unknown key \"api-key\" in [ai]");
  g_clear_error (&error);
  g_assert_false (prd_hub_config_load_data (config, "[collab]\nbatch-size = 3\n", -1, &error));
  g_assert_cmpstr (error->message, ==, "Unknown key \"batch-size\" in [collab]");
  g_clear_error (&error);

  /* The refusal is the section's own */
  prd_hub_ai_config_section.init (ai);
  g_assert_false (prd_hub_ai_config_section.set (ai, "ai", "api-key", "sk-1", NULL, &error));
  g_assert_cmpstr (error->message, ==, "Unknown key \"api-key\" in [ai]");
  prd_hub_ai_config_section.clear (ai);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/prd/ai/config/defaults", test_defaults);
  g_test_add_func ("/prd/ai/config/valid", test_valid);
  g_test_add_func ("/prd/ai/config/invalid", test_invalid);
  g_test_add_func ("/prd/ai/config/half-configured", test_half_configured);
  g_test_add_func ("/prd/ai/config/section", test_section);
  g_test_add_func ("/prd/ai/config/unknown", test_unknown);
  return g_test_run ();
}
