/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * PrdMetric:
 *
 * One metric family of the process-wide registry: a counter (optionally
 * with one label), a gauge (set or moved up and down) or a histogram of
 * seconds. Families live as long as the process; layers register theirs
 * once (in a class_init) and increment them from any thread without
 * allocating. Rendered in the Prometheus text exposition format 0.0.4 by
 * prd_metrics_render().
 */
typedef struct _PrdMetric PrdMetric;

/* The most label values one labelled family keeps; later values are counted
 * under PRD_METRIC_OTHER_LABEL, so a family never grows without bound. */
#define PRD_METRIC_MAX_LABEL_VALUES 256
#define PRD_METRIC_OTHER_LABEL      "other"

PrdMetric *prd_metric_counter (const char *name, const char *help, const char *label_name);
PrdMetric *prd_metric_gauge (const char *name, const char *help, const char *label_name);
PrdMetric *prd_metric_histogram (const char *name, const char *help);
/* The one family three layers count into: what a rate limit refused. */
PrdMetric *prd_metric_rate_limit_refusals (void);

void prd_metric_inc (PrdMetric *metric, const char *label_value);
void prd_metric_add (PrdMetric *metric, const char *label_value, gint64 delta);
void prd_metric_set (PrdMetric *metric, const char *label_value, gint64 value);
void prd_metric_observe (PrdMetric *metric, double seconds);
guint64 prd_metric_get (PrdMetric *metric, const char *label_value);

void prd_metrics_render (GString *out);

/* For families a collector computes when scraped. */
void prd_metrics_write_header (GString *out, const char *name, const char *help, const char *type);
void prd_metrics_write_sample (
    GString *out, const char *name, const char *label_name, const char *label_value, double value);
void prd_metrics_render_process (GString *out);

G_END_DECLS
