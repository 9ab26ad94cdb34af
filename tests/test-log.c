/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * prd-log: level names, and the one line an integration logs per call.
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

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/prd/log/level-names", test_level_names);
  g_test_add_func ("/prd/log/integration-call", test_integration_call);

  return g_test_run ();
}
