/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * prd-log: level names, the one line an integration logs per call, the
 * throttle of the lines a client can cause, and whether a debug message
 * would be shown.
 */
#include "config.h"

#include <string.h>

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
  g_test_expect_message ("prd-integrations", G_LOG_LEVEL_INFO,
                         "integration: service=jira org=org_1 call=\"connection check\" result=ok");
  prd_log_integration_call ("jira", "org_1", "connection check", PRD_LOG_CALL_OK, NULL);
  g_test_assert_expected_messages ();

  /* A failure is shown from the warning level up, with the cause. */
  g_test_expect_message ("prd-integrations", G_LOG_LEVEL_MESSAGE,
                         "integration: service=mattermost org=org_2 call=\"post a message\" "
                         "result=failed error=\"HTTP 503 from the service\"");
  prd_log_integration_call ("mattermost", "org_2", "post a message", PRD_LOG_CALL_FAILED,
                            "HTTP 503 from the service");
  g_test_assert_expected_messages ();

  /* A cancelled call (shutdown) says nothing about the service. */
  g_test_expect_message ("prd-integrations", G_LOG_LEVEL_INFO,
                         "integration: service=git org=org_3 call=\"push\" result=cancelled");
  prd_log_integration_call ("git", "org_3", "push", PRD_LOG_CALL_CANCELLED,
                            "Operation was cancelled");
  g_test_assert_expected_messages ();
}

/* PRD_LOG_THROTTLE_LINES lines an interval, then one summary of the rest
 * with the first line after the interval. Times are given, not waited for. */
static void
test_throttle (void)
{
  static PrdLogThrottle throttle =
      PRD_LOG_THROTTLE_INIT (G_LOG_LEVEL_INFO, "refused: request", "refusals");
  const gint64 interval = (gint64) PRD_LOG_THROTTLE_INTERVAL_S * G_USEC_PER_SEC;
  const gint64 start = 1000 * G_USEC_PER_SEC;
  guint admitted = 0;

  for (guint i = 0; i < 1000; i++)
    admitted += prd_log_throttle_admit_at (&throttle, start + i);
  g_assert_cmpuint (admitted, ==, PRD_LOG_THROTTLE_LINES);

  /* Still the same interval, to its last microsecond: nothing more. */
  g_assert_false (prd_log_throttle_admit_at (&throttle, start + interval - 1));

  /* The next one: the summary of the 981 left out, then the line. */
  g_test_expect_message (NULL, G_LOG_LEVEL_INFO,
                         "refused: request: 981 more refusals like this were not logged (at most "
                         "20 lines every 10 s)");
  g_assert_true (prd_log_throttle_admit_at (&throttle, start + interval));
  g_test_assert_expected_messages ();

  /* A quiet interval: no summary, a fresh budget. */
  admitted = 0;
  for (guint i = 0; i < PRD_LOG_THROTTLE_LINES; i++)
    admitted += prd_log_throttle_admit_at (&throttle, start + 3 * interval + i);
  g_assert_cmpuint (admitted, ==, PRD_LOG_THROTTLE_LINES);
  g_assert_false (prd_log_throttle_admit_at (&throttle, start + 3 * interval + 100));
}

/* Failed calls are throttled per service and organization: one
 * organization's failures never hide another's. */
static void
test_integration_throttle (void)
{
  for (guint i = 0; i < PRD_LOG_THROTTLE_LINES; i++)
    g_test_expect_message ("prd-integrations", G_LOG_LEVEL_MESSAGE,
                           "integration: service=jira org=org_a call=\"connection check\" "
                           "result=failed error=\"401\"");
  for (guint i = 0; i < PRD_LOG_THROTTLE_LINES + 5; i++)
    prd_log_integration_call ("jira", "org_a", "connection check", PRD_LOG_CALL_FAILED, "401");
  g_test_expect_message ("prd-integrations", G_LOG_LEVEL_MESSAGE,
                         "integration: service=jira org=org_b call=\"connection check\" "
                         "result=failed error=\"401\"");
  prd_log_integration_call ("jira", "org_b", "connection check", PRD_LOG_CALL_FAILED, "401");
  g_test_assert_expected_messages ();

  /* At the stop, the count of org_a's lines left out. */
  g_test_expect_message ("prd-integrations", G_LOG_LEVEL_MESSAGE,
                         "integration: service=jira org=org_a: 5 more failed calls like this were "
                         "not logged (at most 20 lines every 10 s)");
  prd_log_throttle_flush ();
  g_test_assert_expected_messages ();
}

/* Client input in a line: escaped, and cut at PRD_LOG_QUOTE_MAX bytes. */
static void
test_quote (void)
{
  g_autofree char *plain = prd_log_quote ("/api/prds/prd_1");
  g_autofree char *escaped = prd_log_quote ("/a\"b\\c\n\377");
  g_autofree char *at_limit = g_strnfill (PRD_LOG_QUOTE_MAX, 'a');
  g_autofree char *over_limit = g_strnfill (PRD_LOG_QUOTE_MAX + 1, 'a');
  g_autofree char *high = g_strnfill (30000, (char) 0xff);
  g_autofree char *quoted_at = prd_log_quote (at_limit);
  g_autofree char *quoted_over = prd_log_quote (over_limit);
  g_autofree char *quoted_high = prd_log_quote (high);

  g_assert_cmpstr (plain, ==, "/api/prds/prd_1");
  g_assert_cmpstr (escaped, ==, "/a\\\"b\\\\c\\012\\377");
  g_assert_cmpstr (quoted_at, ==, at_limit);
  g_assert_true (g_str_has_suffix (quoted_over, "a…"));
  g_assert_cmpuint (strlen (quoted_over), ==, PRD_LOG_QUOTE_MAX + strlen ("…"));
  /* Escapes are never cut in half. */
  g_assert_true (g_str_has_suffix (quoted_high, "\\377…"));
  g_assert_cmpuint (strlen (quoted_high), <=, PRD_LOG_QUOTE_MAX + strlen ("…"));
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
  g_test_add_func ("/prd/log/throttle", test_throttle);
  g_test_add_func ("/prd/log/integration-throttle", test_integration_throttle);
  g_test_add_func ("/prd/log/quote", test_quote);
  g_test_add_func ("/prd/log/would-debug", test_would_debug);

  return g_test_run ();
}
