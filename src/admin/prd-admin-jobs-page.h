/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "prd-dbus-hub1.h"

G_BEGIN_DECLS

/* The finished jobs the page keeps: as many as the hub lists
 * (PRD_HUB_DBUS_MAX_FINISHED_JOBS in src/hub/prd-hub-dbus.h). */
#define PRD_ADMIN_JOBS_MAX_FINISHED 100

#define PRD_TYPE_ADMIN_JOBS_PAGE (prd_admin_jobs_page_get_type ())
G_DECLARE_FINAL_TYPE (PrdAdminJobsPage, prd_admin_jobs_page, PRD, ADMIN_JOBS_PAGE, AdwBin)

void prd_admin_jobs_page_set_proxy (PrdAdminJobsPage *self, PrdDbusHub1 *proxy);
void prd_admin_jobs_page_refresh (PrdAdminJobsPage *self);
void prd_admin_jobs_page_focus_filter (PrdAdminJobsPage *self);
GListModel *prd_admin_jobs_page_get_model (PrdAdminJobsPage *self);

G_END_DECLS
