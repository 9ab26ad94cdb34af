/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* One sample a second for ten minutes. */
#define PRD_ADMIN_CHART_SAMPLES    600
#define PRD_ADMIN_CHART_MAX_SERIES 2

#define PRD_TYPE_ADMIN_CHART (prd_admin_chart_get_type ())
G_DECLARE_FINAL_TYPE (PrdAdminChart, prd_admin_chart, PRD, ADMIN_CHART, GtkWidget)

GtkWidget *prd_admin_chart_new (void);
void prd_admin_chart_set_labels (PrdAdminChart *self, const char *first, const char *second);
void prd_admin_chart_push (PrdAdminChart *self, double first, double second);
void prd_admin_chart_clear (PrdAdminChart *self);
guint prd_admin_chart_get_n_samples (PrdAdminChart *self);
double prd_admin_chart_get_sample (PrdAdminChart *self, guint series, guint age);

G_END_DECLS
