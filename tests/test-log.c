/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * prd-log: level names, the one line an integration logs per call, and
 * whether a debug message would be shown.
 */
#include "config.h"

#include "prd-error.h"
#include "prd-log.h"

static void
test_level_names (void)
{
  const char *const names[] = { "error", "warning", "info", "debug" };
  const char *const bad[] = { "", "Info", "verbose", "warn", "debug ", "4" };
  PrdLogLevel level;

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_assert_true (prd_log_level_from_string (names[i], &level));
      g_assert_cmpint (level, ==, (PrdLogLevel) i);
      g_assert_cmpstr (prd_log_level_to_string (level), ==, names[i]);
    }
  level = PRD_LOG_LEVEL_DEBUG;
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_false (prd_log_level_from_string (bad[i], &level));
      g_assert_cmpint (level, ==, PRD_LOG_LEVEL_DEBUG);
    }
  g_assert_false (prd_log_level_from_string (NULL, &level));
}

static void
test_integration_call (void)
{
  g_autoptr (GError) error =
      g_error_new_literal (PRD_ERROR, PRD_ERROR_INTERNAL, "HTTP 503 from the service");

  g_test_expect_message ("prd-integrations", G_LOG_LEVEL_INFO,
                         "integration: service=jira org=org_1 call=create-issue result=ok ms=12");
  prd_log_integration_call ("jira", "org_1", "create-issue", 12345, NULL);
  g_test_assert_expected_messages ();

  /* A failure is shown from the warning level up, with the cause. */
  g_test_expect_message (
      "prd-integrations", G_LOG_LEVEL_MESSAGE,
      "integration: service=mattermost org=org_2 call=post result=failed ms=2000 "
      "error=\"HTTP 503 from the service\"");
  prd_log_integration_call ("mattermost", "org_2", "post", 2000000, error);
  g_test_assert_expected_messages ();
}

/* Whether a debug message would be shown: GLib's rule before
 * prd_log_init(), the level and G_MESSAGES_DEBUG's domains after. Each
 * case runs in a subprocess: the writer and the environment are global. */
static void
test_would_debug (void)
{
  if (g_test_subprocess ())
    {
      const char *domains = g_getenv ("PRD_TEST_DEBUG_DOMAINS");

      if (*domains != '\0')
        g_setenv ("G_MESSAGES_DEBUG", domains, TRUE);
      else
        g_unsetenv ("G_MESSAGES_DEBUG");
      g_assert_cmpint (prd_log_would_debug ("prd-eio"), ==, *domains != '\0');
      g_assert_false (prd_log_would_debug ("prd-hub"));

      prd_log_init (PRD_LOG_LEVEL_WARNING);
      g_assert_cmpint (prd_log_would_debug ("prd-eio"), ==, *domains != '\0');
      g_assert_false (prd_log_would_debug ("prd-hub"));
      prd_log_set_level (PRD_LOG_LEVEL_INFO);
      g_assert_cmpint (prd_log_would_debug ("prd-eio"), ==, *domains != '\0');
      g_assert_false (prd_log_would_debug ("prd-hub"));
      prd_log_set_level (PRD_LOG_LEVEL_DEBUG);
      g_assert_true (prd_log_would_debug ("prd-eio"));
      g_assert_true (prd_log_would_debug ("prd-hub"));
      return;
    }

  g_setenv ("PRD_TEST_DEBUG_DOMAINS", "", TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
  g_setenv ("PRD_TEST_DEBUG_DOMAINS", "prd-store prd-eio", TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/prd/log/level-names", test_level_names);
  g_test_add_func ("/prd/log/integration-call", test_integration_call);
  g_test_add_func ("/prd/log/would-debug", test_would_debug);

  return g_test_run ();
}
