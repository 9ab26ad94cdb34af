/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "prd-dbus-hub1.h"

G_BEGIN_DECLS

#define PRD_TYPE_ADMIN_SESSIONS_PAGE (prd_admin_sessions_page_get_type ())
G_DECLARE_FINAL_TYPE (
    PrdAdminSessionsPage, prd_admin_sessions_page, PRD, ADMIN_SESSIONS_PAGE, AdwBin)

void prd_admin_sessions_page_set_proxy (PrdAdminSessionsPage *self, PrdDbusHub1 *proxy);
void prd_admin_sessions_page_refresh (PrdAdminSessionsPage *self);
void prd_admin_sessions_page_focus_filter (PrdAdminSessionsPage *self);
GListModel *prd_admin_sessions_page_get_model (PrdAdminSessionsPage *self);
guint prd_admin_sessions_page_get_n_refreshes (PrdAdminSessionsPage *self);

G_END_DECLS
