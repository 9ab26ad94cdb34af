/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "prd-secret-store.h"

G_BEGIN_DECLS

#define PRD_HUB_SECRET_ENV  "PRDHUB_JWT_SECRET"
#define PRD_HUB_SECRET_FILE "jwt-secret"
/* The secret's name in the secret store. */
#define PRD_HUB_SECRET_NAME "jwt-secret"

void prd_hub_secret_set_store (PrdSecretStore *store);

GBytes *prd_hub_secret_load_jwt (const char *data_dir, GError **error);
GBytes *prd_hub_secret_find_jwt (const char *data_dir, GError **error);
gboolean prd_hub_secret_check_file (const char *path, GError **error);

G_END_DECLS
