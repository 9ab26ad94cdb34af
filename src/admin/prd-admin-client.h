/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-dbus-hub1.h"

G_BEGIN_DECLS

#define PRD_ADMIN_HUB_NAME "org.prdtool.Hub"
#define PRD_ADMIN_HUB_PATH "/org/prdtool/Hub"

typedef enum
{
  PRD_ADMIN_CLIENT_CONNECTING,
  PRD_ADMIN_CLIENT_CONNECTED,
  PRD_ADMIN_CLIENT_NO_HUB,
  PRD_ADMIN_CLIENT_UNREADABLE,
} PrdAdminClientState;

#define PRD_TYPE_ADMIN_CLIENT (prd_admin_client_get_type ())
G_DECLARE_FINAL_TYPE (PrdAdminClient, prd_admin_client, PRD, ADMIN_CLIENT, GObject)

PrdAdminClient *prd_admin_client_new (void);
PrdAdminClientState prd_admin_client_get_state (PrdAdminClient *self);
PrdDbusHub1 *prd_admin_client_get_proxy (PrdAdminClient *self);
const GError *prd_admin_client_get_error (PrdAdminClient *self);
void prd_admin_client_start_hub_async (PrdAdminClient *self,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
gboolean
prd_admin_client_start_hub_finish (PrdAdminClient *self, GAsyncResult *result, GError **error);
char *prd_admin_error_message (const GError *error);

G_END_DECLS
