/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <libsoup/soup.h>

#include "prd-auth.h"
#include "prd-git-repo.h"
#include "prd-hub-room-registry.h"
#include "prd-version-store.h"

G_BEGIN_DECLS

/* The versions repository inside the data folder. */
#define PRD_HUB_VERSIONS_REPO "versions.git"

/* The author of versions created by the operator (D-Bus CreateVersion). */
#define PRD_HUB_OPERATOR_NAME "Hub operator"

#define PRD_TYPE_HUB_VERSIONS (prd_hub_versions_get_type ())
G_DECLARE_FINAL_TYPE (PrdHubVersions, prd_hub_versions, PRD, HUB_VERSIONS, GObject)

PrdHubVersions *prd_hub_versions_new (PrdSioNamespace *nsp,
                                      PrdHubRoomRegistry *rooms,
                                      PrdStore *store,
                                      PrdVersionStore *versions,
                                      PrdHubConfig *config);
PrdGitRepo *prd_hub_versions_get_repo (PrdHubVersions *self);
JsonNode *prd_hub_version_to_json (const PrdVersionRecord *record);
void prd_hub_versions_create_async (PrdHubVersions *self,
                                    const char *prd_id,
                                    const char *changelog,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
char *prd_hub_versions_create_finish (PrdHubVersions *self, GAsyncResult *result, GError **error);

void prd_hub_versions_create_as_async (PrdHubVersions *self,
                                       const PrdIdentity *identity,
                                       const char *prd_id,
                                       const char *changelog,
                                       const char *version_type,
                                       gboolean force,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
PrdVersionRecord *
prd_hub_versions_create_as_finish (PrdHubVersions *self, GAsyncResult *result, GError **error);

G_END_DECLS
