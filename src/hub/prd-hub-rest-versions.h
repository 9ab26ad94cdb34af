/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-git-repo.h"
#include "prd-hub-rest.h"
#include "prd-hub-versions.h"
#include "prd-store.h"
#include "prd-version-store.h"

G_BEGIN_DECLS

/* Page sizes of GET /api/prds/{id}/versions. */
#define PRD_HUB_REST_VERSIONS_DEFAULT_LIMIT 100
#define PRD_HUB_REST_VERSIONS_MAX_LIMIT     100

void prd_hub_rest_versions_add (PrdHubRest *rest,
                                PrdStore *store,
                                PrdVersionStore *versions,
                                PrdGitRepo *repo);
void prd_hub_rest_versions_add_create (PrdHubRest *rest, PrdHubVersions *versions);

G_END_DECLS
