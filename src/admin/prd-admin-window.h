/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "prd-admin-client.h"
#include "prd-admin-integrations-page.h"
#include "prd-admin-jobs-page.h"
#include "prd-admin-overview-page.h"
#include "prd-admin-sessions-page.h"

G_BEGIN_DECLS

#define PRD_ADMIN_SCHEMA_ID "org.prdtool.Hub.Admin"

#define PRD_TYPE_ADMIN_WINDOW (prd_admin_window_get_type ())
G_DECLARE_FINAL_TYPE (PrdAdminWindow, prd_admin_window, PRD, ADMIN_WINDOW, AdwApplicationWindow)

PrdAdminWindow *prd_admin_window_new (GtkApplication *application, PrdAdminClient *client);
const char *prd_admin_window_get_state_page (PrdAdminWindow *self);
const char *prd_admin_window_get_banner (PrdAdminWindow *self);
void prd_admin_window_show_page (PrdAdminWindow *self, const char *name);
PrdAdminOverviewPage *prd_admin_window_get_overview_page (PrdAdminWindow *self);
PrdAdminSessionsPage *prd_admin_window_get_sessions_page (PrdAdminWindow *self);
PrdAdminJobsPage *prd_admin_window_get_jobs_page (PrdAdminWindow *self);
PrdAdminIntegrationsPage *prd_admin_window_get_integrations_page (PrdAdminWindow *self);

G_END_DECLS
