/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-store.h"

G_BEGIN_DECLS

#define PRD_TYPE_HUB_CREATION (prd_hub_creation_get_type ())
G_DECLARE_FINAL_TYPE (PrdHubCreation, prd_hub_creation, PRD, HUB_CREATION, GObject)

PrdHubCreation *prd_hub_creation_new (PrdStore *store);
void prd_hub_creation_create_async (PrdHubCreation *self,
                                    const char *org,
                                    const char *title,
                                    const char *owner,
                                    const char *owner_name,
                                    const char *content,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
PrdStoreInfo *
prd_hub_creation_create_finish (PrdHubCreation *self, GAsyncResult *result, GError **error);

G_END_DECLS
