/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "prd-admin-chart.h"
#include "prd-dbus-hub1.h"

G_BEGIN_DECLS

#define PRD_TYPE_ADMIN_OVERVIEW_PAGE (prd_admin_overview_page_get_type ())
G_DECLARE_FINAL_TYPE (
    PrdAdminOverviewPage, prd_admin_overview_page, PRD, ADMIN_OVERVIEW_PAGE, AdwBin)

typedef enum
{
  PRD_ADMIN_CHART_CONNECTIONS,
  PRD_ADMIN_CHART_EVENTS,
  PRD_ADMIN_CHART_AI_JOBS,
} PrdAdminChartKind;

void prd_admin_overview_page_set_proxy (PrdAdminOverviewPage *self, PrdDbusHub1 *proxy);
PrdAdminChart *prd_admin_overview_page_get_chart (PrdAdminOverviewPage *self,
                                                  PrdAdminChartKind kind);
const char *prd_admin_overview_page_get_value (PrdAdminOverviewPage *self, const char *name);
void prd_admin_overview_page_sample (PrdAdminOverviewPage *self);

G_END_DECLS
