/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-hub-rest.h"
#include "prd-integration-registry.h"
#include "prd-store.h"

G_BEGIN_DECLS

#define PRD_TYPE_HUB_GIT (prd_hub_git_get_type ())

G_DECLARE_FINAL_TYPE (PrdHubGit, prd_hub_git, PRD, HUB_GIT, GObject)

PrdHubGit *
prd_hub_git_new (PrdStore *store, PrdIntegrationRegistry *registry, const char *repo_path);
void prd_hub_git_version_created (PrdHubGit *self, const char *org);
void prd_hub_git_shutdown (PrdHubGit *self);
void prd_hub_git_add_routes (PrdHubGit *self, PrdHubRest *rest);

G_END_DECLS
