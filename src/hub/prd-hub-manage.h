/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

#include "prd-auth.h"
#include "prd-git-repo.h"
#include "prd-manage-store.h"
#include "prd-store.h"

G_BEGIN_DECLS

#define PRD_TYPE_HUB_MANAGE (prd_hub_manage_get_type ())
G_DECLARE_FINAL_TYPE (PrdHubManage, prd_hub_manage, PRD, HUB_MANAGE, GObject)

PrdHubManage *prd_hub_manage_new (PrdStore *store, PrdManageStore *manage, PrdGitRepo *repo);

void prd_hub_manage_update_async (PrdHubManage *self,
                                  const PrdIdentity *identity,
                                  const char *prd_id,
                                  const char *title,
                                  PrdManageArchive archive,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);
PrdStoreInfo *
prd_hub_manage_update_finish (PrdHubManage *self, GAsyncResult *result, GError **error);

void prd_hub_manage_delete_async (PrdHubManage *self,
                                  const PrdIdentity *identity,
                                  const char *prd_id,
                                  gboolean purge_versions,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);
gboolean prd_hub_manage_delete_finish (PrdHubManage *self,
                                       GAsyncResult *result,
                                       guint *out_purged,
                                       GError **error);

G_END_DECLS
