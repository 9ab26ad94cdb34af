/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "prd-metrics.h"

static char *
render (void)
{
  GString *out = g_string_new (NULL);

  prd_metrics_render (out);
  return g_string_free (out, FALSE);
}

static void
test_counter (void)
{
  PrdMetric *plain = prd_metric_counter ("t_plain_total", "Plain.", NULL);
  PrdMetric *again = prd_metric_counter ("t_plain_total", "Plain.", NULL);
  g_autofree char *text = NULL;

  g_assert_true (plain == again);
  prd_metric_inc (plain, NULL);
  prd_metric_add (plain, NULL, 41);
  g_assert_cmpuint (prd_metric_get (plain, NULL), ==, 42);
  text = render ();
  g_assert_nonnull (strstr (text, "# HELP t_plain_total Plain.\n# TYPE t_plain_total counter\n"
                                  "t_plain_total 42\n"));
}

static void
test_labels_escaped_and_bounded (void)
{
  PrdMetric *labelled = prd_metric_counter ("t_labelled_total", "Back\\slash\nnewline.", "event");
  g_autofree char *text = NULL;

  prd_metric_inc (labelled, "a\"b\\c\nd");
  prd_metric_inc (labelled, "a\"b\\c\nd");
  text = render ();
  g_assert_nonnull (strstr (text, "# HELP t_labelled_total Back\\\\slash\\nnewline.\n"));
  g_assert_nonnull (strstr (text, "t_labelled_total{event=\"a\\\"b\\\\c\\nd\"} 2\n"));

  /* Past the bound, new values are counted under "other". */
  for (guint i = 0; i < PRD_METRIC_MAX_LABEL_VALUES + 10; i++)
    {
      char value[32];

      g_snprintf (value, sizeof value, "v%u", i);
      prd_metric_inc (labelled, value);
    }
  g_assert_cmpuint (prd_metric_get (labelled, PRD_METRIC_OTHER_LABEL), >=, 10);
  g_assert_cmpuint (prd_metric_get (labelled, "v300"), ==, 0);
}

static void
test_gauge (void)
{
  PrdMetric *gauge = prd_metric_gauge ("t_gauge", "A gauge.", "state");
  g_autofree char *text = NULL;

  prd_metric_set (gauge, "up", 5);
  prd_metric_add (gauge, "up", -2);
  text = render ();
  g_assert_nonnull (strstr (text, "# TYPE t_gauge gauge\nt_gauge{state=\"up\"} 3\n"));
}

static void
test_histogram (void)
{
  PrdMetric *histogram = prd_metric_histogram ("t_latency_seconds", "Latency.");
  g_autofree char *text = NULL;

  prd_metric_observe (histogram, 0.0001);
  prd_metric_observe (histogram, 0.003);
  prd_metric_observe (histogram, 100);
  prd_metric_observe (histogram, -1);
  g_assert_cmpuint (prd_metric_get (histogram, NULL), ==, 4);
  text = render ();
  g_assert_nonnull (strstr (text, "# TYPE t_latency_seconds histogram\n"
                                  "t_latency_seconds_bucket{le=\"0.0005\"} 2\n"));
  g_assert_nonnull (strstr (text, "t_latency_seconds_bucket{le=\"0.005\"} 3\n"));
  g_assert_nonnull (strstr (text, "t_latency_seconds_bucket{le=\"10\"} 3\n"
                                  "t_latency_seconds_bucket{le=\"+Inf\"} 4\n"
                                  "t_latency_seconds_sum 100.0031\n"
                                  "t_latency_seconds_count 4\n"));
}

static void
test_process (void)
{
  GString *out = g_string_new (NULL);
  g_autofree char *text = NULL;

  prd_metrics_render_process (out);
  text = g_string_free (out, FALSE);
  g_assert_nonnull (strstr (text, "# TYPE process_resident_memory_bytes gauge\n"));
  g_assert_nonnull (strstr (text, "# TYPE process_cpu_seconds_total counter\n"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/prd/metrics/counter", test_counter);
  g_test_add_func ("/prd/metrics/labels", test_labels_escaped_and_bounded);
  g_test_add_func ("/prd/metrics/gauge", test_gauge);
  g_test_add_func ("/prd/metrics/histogram", test_histogram);
  g_test_add_func ("/prd/metrics/process", test_process);
  return g_test_run ();
}
