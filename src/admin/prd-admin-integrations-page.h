/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "prd-dbus-hub1.h"

G_BEGIN_DECLS

#define PRD_TYPE_ADMIN_INTEGRATIONS_PAGE (prd_admin_integrations_page_get_type ())
G_DECLARE_FINAL_TYPE (
    PrdAdminIntegrationsPage, prd_admin_integrations_page, PRD, ADMIN_INTEGRATIONS_PAGE, AdwBin)

void prd_admin_integrations_page_set_proxy (PrdAdminIntegrationsPage *self, PrdDbusHub1 *proxy);
void prd_admin_integrations_page_refresh (PrdAdminIntegrationsPage *self);
GListModel *prd_admin_integrations_page_get_model (PrdAdminIntegrationsPage *self);
guint prd_admin_integrations_page_get_n_refreshes (PrdAdminIntegrationsPage *self);

G_END_DECLS
