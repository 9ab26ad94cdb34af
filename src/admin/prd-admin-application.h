/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "prd-admin-client.h"

G_BEGIN_DECLS

#define PRD_ADMIN_APPLICATION_ID "org.prdtool.Hub.Admin"

#define PRD_TYPE_ADMIN_APPLICATION (prd_admin_application_get_type ())
G_DECLARE_FINAL_TYPE (
    PrdAdminApplication, prd_admin_application, PRD, ADMIN_APPLICATION, AdwApplication)

PrdAdminApplication *prd_admin_application_new (void);
PrdAdminClient *prd_admin_application_get_client (PrdAdminApplication *self);

G_END_DECLS
