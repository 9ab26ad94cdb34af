/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The process-wide metrics registry. Layers register their families once
 * (a counter, a gauge or a histogram of seconds, each with at most one
 * label) and count into them: an unlabelled counter is one atomic add, a
 * labelled one a lookup under the registry's lock (a label value is copied
 * the first time it is seen, never again), a histogram observation a few
 * comparisons under the lock. Nothing allocates per event, and no layer
 * learns of another: the hub's /metrics route renders whatever is
 * registered, plus what its own collector computes when scraped
 * (prd_metrics_write_header(), prd_metrics_write_sample()).
 *
 * The text is the Prometheus exposition format 0.0.4: a HELP and a TYPE
 * line per family, histograms as cumulative `_bucket{le=…}` samples ending
 * with `le="+Inf"` (equal to `_count`), `_sum` and `_count`.
 */
#define G_LOG_DOMAIN "prd-metrics"

#include "config.h"

#include <math.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gio/gio.h>

#include "prd-metrics.h"

typedef enum
{
  KIND_COUNTER,
  KIND_GAUGE,
  KIND_HISTOGRAM,
} Kind;

/* Seconds: from half a millisecond (an ack of an edit on an idle hub) to ten
 * seconds (a commit on a disk that stalls). */
static const double bucket_bounds[] = {
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
#define N_BUCKETS (G_N_ELEMENTS (bucket_bounds) + 1)

struct _PrdMetric
{
  char *name;
  char *help;
  char *label_name; /* (nullable) */
  Kind kind;
  gint64 value;               /* unlabelled counter or gauge; atomic */
  GHashTable *labels;         /* (nullable) label value → (owned) gint64, under the lock */
  guint64 buckets[N_BUCKETS]; /* histogram, not cumulative; under the lock */
  double sum;                 /* histogram; under the lock */
};

static GMutex lock;
static GPtrArray *families; /* (element-type PrdMetric) under the lock, never freed */

static gboolean
valid_name (const char *name)
{
  if (name == NULL || !(g_ascii_isalpha (*name) || *name == '_' || *name == ':'))
    return FALSE;
  for (const char *p = name + 1; *p != '\0'; p++)
    if (!(g_ascii_isalnum (*p) || *p == '_' || *p == ':'))
      return FALSE;
  return TRUE;
}

static PrdMetric *
register_family (const char *name, const char *help, const char *label_name, Kind kind)
{
  PrdMetric *metric = NULL;

  g_return_val_if_fail (valid_name (name), NULL);
  g_return_val_if_fail (help != NULL, NULL);
  g_return_val_if_fail (label_name == NULL || (valid_name (label_name) && *label_name != '_' &&
                                               !g_str_equal (label_name, "le")),
                        NULL);

  g_mutex_lock (&lock);
  if (families == NULL)
    families = g_ptr_array_new ();
  for (guint i = 0; i < families->len && metric == NULL; i++)
    if (g_str_equal (((PrdMetric *) families->pdata[i])->name, name))
      metric = families->pdata[i];
  if (metric == NULL)
    {
      metric = g_new0 (PrdMetric, 1);
      metric->name = g_strdup (name);
      metric->help = g_strdup (help);
      metric->label_name = g_strdup (label_name);
      metric->kind = kind;
      if (label_name != NULL)
        metric->labels = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      g_ptr_array_add (families, metric);
    }
  g_mutex_unlock (&lock);

  /* Registered twice (two instances of a class): the same family. */
  g_return_val_if_fail (metric->kind == kind && g_strcmp0 (metric->label_name, label_name) == 0,
                        NULL);
  return metric;
}

/**
 * prd_metric_counter:
 * @name: the family's name, ending in `_total` by convention
 * @help: one line saying what is counted
 * @label_name: (nullable): the one label the samples carry
 *
 * Registers a counter, or returns the one registered under @name.
 *
 * Returns: (transfer none): the family, alive as long as the process
 */
PrdMetric *
prd_metric_counter (const char *name, const char *help, const char *label_name)
{
  return register_family (name, help, label_name, KIND_COUNTER);
}

/**
 * prd_metric_rate_limit_refusals:
 *
 * `prdhub_rate_limit_refusals_total`, labelled by rate-limit class:
 * Socket.IO events over a connection's limit, REST writes over a user's
 * (class `rest`), AI requests over the hourly quota.
 *
 * Returns: (transfer none): the family
 */
PrdMetric *
prd_metric_rate_limit_refusals (void)
{
  return prd_metric_counter ("prdhub_rate_limit_refusals_total",
                             "Requests refused because their sender was over a rate limit, by "
                             "rate-limit class.",
                             "class");
}

/**
 * prd_metric_gauge:
 *
 * Like prd_metric_counter(), for a value that goes up and down.
 */
PrdMetric *
prd_metric_gauge (const char *name, const char *help, const char *label_name)
{
  return register_family (name, help, label_name, KIND_GAUGE);
}

/**
 * prd_metric_histogram:
 * @name: the family's name, ending in `_seconds`
 *
 * A histogram of durations in seconds, with fixed buckets from 0.5 ms to
 * 10 s.
 */
PrdMetric *
prd_metric_histogram (const char *name, const char *help)
{
  return register_family (name, help, NULL, KIND_HISTOGRAM);
}

/* The slot of @label_value, created on first sight. Called with the lock. */
static gint64 *
label_slot (PrdMetric *metric, const char *label_value)
{
  gint64 *slot = g_hash_table_lookup (metric->labels, label_value);

  if (slot != NULL)
    return slot;
  if (g_hash_table_size (metric->labels) >= PRD_METRIC_MAX_LABEL_VALUES)
    {
      slot = g_hash_table_lookup (metric->labels, PRD_METRIC_OTHER_LABEL);
      if (slot != NULL)
        return slot;
      label_value = PRD_METRIC_OTHER_LABEL;
    }
  slot = g_new0 (gint64, 1);
  g_hash_table_insert (metric->labels, g_strdup (label_value), slot);
  return slot;
}

static void
change (PrdMetric *metric, const char *label_value, gint64 delta, gboolean set)
{
  /* A layer whose class was never initialized has nothing to count into. */
  if (metric == NULL)
    return;
  g_return_if_fail (metric->kind != KIND_HISTOGRAM);
  g_return_if_fail ((metric->label_name == NULL) == (label_value == NULL));
  g_return_if_fail (metric->kind == KIND_GAUGE || (!set && delta >= 0));

  if (label_value == NULL)
    {
      if (set)
        __atomic_store_n (&metric->value, delta, __ATOMIC_RELAXED);
      else
        __atomic_add_fetch (&metric->value, delta, __ATOMIC_RELAXED);
      return;
    }
  g_mutex_lock (&lock);
  {
    gint64 *slot = label_slot (metric, label_value);

    *slot = set ? delta : *slot + delta;
  }
  g_mutex_unlock (&lock);
}

/**
 * prd_metric_inc:
 * @label_value: (nullable): the label's value; %NULL for a family without label
 */
void
prd_metric_inc (PrdMetric *metric, const char *label_value)
{
  change (metric, label_value, 1, FALSE);
}

/**
 * prd_metric_add:
 * @delta: what to add; a counter only goes up
 */
void
prd_metric_add (PrdMetric *metric, const char *label_value, gint64 delta)
{
  change (metric, label_value, delta, FALSE);
}

/**
 * prd_metric_set:
 *
 * Sets a gauge.
 */
void
prd_metric_set (PrdMetric *metric, const char *label_value, gint64 value)
{
  change (metric, label_value, value, TRUE);
}

/**
 * prd_metric_observe:
 * @seconds: a duration (negative ones count as 0)
 */
void
prd_metric_observe (PrdMetric *metric, double seconds)
{
  guint i = 0;

  if (metric == NULL)
    return;
  g_return_if_fail (metric->kind == KIND_HISTOGRAM);

  if (!(seconds > 0))
    seconds = 0;
  while (i < G_N_ELEMENTS (bucket_bounds) && seconds > bucket_bounds[i])
    i++;
  g_mutex_lock (&lock);
  metric->buckets[i]++;
  metric->sum += seconds;
  g_mutex_unlock (&lock);
}

/**
 * prd_metric_get:
 * @label_value: (nullable): for a labelled family, which sample
 *
 * Returns: a counter's or gauge's value (negative gauges as 0), or a
 *   histogram's count
 */
guint64
prd_metric_get (PrdMetric *metric, const char *label_value)
{
  gint64 value = 0;

  g_return_val_if_fail (metric != NULL, 0);

  if (metric->kind != KIND_HISTOGRAM && metric->label_name == NULL)
    return (guint64) MAX (__atomic_load_n (&metric->value, __ATOMIC_RELAXED), 0);
  g_mutex_lock (&lock);
  if (metric->kind == KIND_HISTOGRAM)
    for (guint i = 0; i < N_BUCKETS; i++)
      value += (gint64) metric->buckets[i];
  else if (label_value != NULL)
    {
      gint64 *slot = g_hash_table_lookup (metric->labels, label_value);

      value = slot != NULL ? *slot : 0;
    }
  g_mutex_unlock (&lock);
  return (guint64) MAX (value, 0);
}

static void
append_escaped (GString *out, const char *text, gboolean quote)
{
  for (const char *p = text; *p != '\0'; p++)
    {
      if (*p == '\\')
        g_string_append (out, "\\\\");
      else if (*p == '\n')
        g_string_append (out, "\\n");
      else if (quote && *p == '"')
        g_string_append (out, "\\\"");
      else
        g_string_append_c (out, *p);
    }
}

static void
append_double (GString *out, double value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (isinf (value))
    g_string_append (out, value > 0 ? "+Inf" : "-Inf");
  else if (isnan (value))
    g_string_append (out, "NaN");
  else
    {
      /* The shortest of the two that reads back as the same double. */
      g_ascii_formatd (buf, sizeof buf, "%.15g", value);
      if (g_ascii_strtod (buf, NULL) != value)
        g_ascii_formatd (buf, sizeof buf, "%.17g", value);
      g_string_append (out, buf);
    }
}

/**
 * prd_metrics_write_header:
 * @type: `counter`, `gauge` or `histogram`
 *
 * The HELP and TYPE lines of a family a collector renders itself.
 */
void
prd_metrics_write_header (GString *out, const char *name, const char *help, const char *type)
{
  g_return_if_fail (valid_name (name));

  g_string_append_printf (out, "# HELP %s ", name);
  append_escaped (out, help, FALSE);
  g_string_append_printf (out, "\n# TYPE %s %s\n", name, type);
}

/**
 * prd_metrics_write_sample:
 * @label_name: (nullable): the sample's one label
 * @label_value: (nullable): its value (escaped here)
 */
void
prd_metrics_write_sample (
    GString *out, const char *name, const char *label_name, const char *label_value, double value)
{
  g_string_append (out, name);
  if (label_name != NULL)
    {
      g_string_append_printf (out, "{%s=\"", label_name);
      append_escaped (out, label_value, TRUE);
      g_string_append (out, "\"}");
    }
  g_string_append_c (out, ' ');
  append_double (out, value);
  g_string_append_c (out, '\n');
}

static void
append_int_sample (GString *out,
                   const char *name,
                   const char *suffix,
                   const char *label_name,
                   const char *label_value,
                   gint64 value)
{
  g_string_append (out, name);
  g_string_append (out, suffix);
  if (label_name != NULL)
    {
      g_string_append_printf (out, "{%s=\"", label_name);
      append_escaped (out, label_value, TRUE);
      g_string_append (out, "\"}");
    }
  g_string_append_printf (out, " %" G_GINT64_FORMAT "\n", value);
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static void
render_family (GString *out, PrdMetric *metric)
{
  static const char *const type_names[] = { "counter", "gauge", "histogram" };

  prd_metrics_write_header (out, metric->name, metric->help, type_names[metric->kind]);
  if (metric->kind == KIND_HISTOGRAM)
    {
      gint64 cumulative = 0;

      for (guint i = 0; i < N_BUCKETS; i++)
        {
          char bound[G_ASCII_DTOSTR_BUF_SIZE];

          cumulative += (gint64) metric->buckets[i];
          if (i < G_N_ELEMENTS (bucket_bounds))
            g_ascii_formatd (bound, sizeof bound, "%g", bucket_bounds[i]);
          else
            g_strlcpy (bound, "+Inf", sizeof bound);
          append_int_sample (out, metric->name, "_bucket", "le", bound, cumulative);
        }
      g_string_append_printf (out, "%s_sum ", metric->name);
      append_double (out, metric->sum);
      g_string_append_c (out, '\n');
      append_int_sample (out, metric->name, "_count", NULL, NULL, cumulative);
    }
  else if (metric->labels == NULL)
    append_int_sample (out, metric->name, "", NULL, NULL,
                       __atomic_load_n (&metric->value, __ATOMIC_RELAXED));
  else
    {
      g_autofree gpointer *keys = NULL;
      guint n = 0;

      keys = g_hash_table_get_keys_as_array (metric->labels, &n);
      qsort (keys, n, sizeof *keys, compare_strings);
      for (guint i = 0; i < n; i++)
        append_int_sample (out, metric->name, "", metric->label_name, keys[i],
                           *(gint64 *) g_hash_table_lookup (metric->labels, keys[i]));
    }
}

/**
 * prd_metrics_render:
 * @out: where the text goes
 *
 * Appends every registered family, in the order they were registered.
 */
void
prd_metrics_render (GString *out)
{
  g_return_if_fail (out != NULL);

  g_mutex_lock (&lock);
  for (guint i = 0; families != NULL && i < families->len; i++)
    render_family (out, families->pdata[i]);
  g_mutex_unlock (&lock);
}

/* Resident pages of this process, from Linux's /proc/self/statm. */
static gboolean
read_rss (gint64 *bytes)
{
  g_autofree char *text = NULL;
  guint64 pages;
  char *end;
  const char *second;

  if (!g_file_get_contents ("/proc/self/statm", &text, NULL, NULL))
    return FALSE;
  second = strchr (text, ' ');
  if (second == NULL)
    return FALSE;
  pages = g_ascii_strtoull (second + 1, &end, 10);
  if (end == second + 1)
    return FALSE;
  *bytes = (gint64) pages * sysconf (_SC_PAGESIZE);
  return TRUE;
}

/**
 * prd_metrics_render_process:
 *
 * The standard process families: `process_resident_memory_bytes`,
 * `process_cpu_seconds_total` (user and system), `process_open_fds` and
 * `process_max_fds`.
 */
void
prd_metrics_render_process (GString *out)
{
  struct rusage usage;
  struct rlimit limit;
  gint64 rss;

  if (read_rss (&rss))
    {
      prd_metrics_write_header (out, "process_resident_memory_bytes",
                                "Resident memory size in bytes.", "gauge");
      prd_metrics_write_sample (out, "process_resident_memory_bytes", NULL, NULL, (double) rss);
    }
  if (getrusage (RUSAGE_SELF, &usage) == 0)
    {
      double cpu = (double) usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
                   (double) usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;

      prd_metrics_write_header (out, "process_cpu_seconds_total",
                                "Total user and system CPU time spent in seconds.", "counter");
      prd_metrics_write_sample (out, "process_cpu_seconds_total", NULL, NULL, cpu);
    }
  {
    g_autoptr (GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);

    if (dir != NULL)
      {
        guint n = 0;

        while (g_dir_read_name (dir) != NULL)
          n++;
        /* Less the one reading the folder. */
        prd_metrics_write_header (out, "process_open_fds", "Number of open file descriptors.",
                                  "gauge");
        prd_metrics_write_sample (out, "process_open_fds", NULL, NULL, n > 0 ? n - 1 : 0);
      }
  }
  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
    {
      prd_metrics_write_header (out, "process_max_fds", "Maximum number of open file descriptors.",
                                "gauge");
      prd_metrics_write_sample (out, "process_max_fds", NULL, NULL, (double) limit.rlim_cur);
    }
}
