/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PRD_HUB_SECRET_ENV  "PRDHUB_JWT_SECRET"
#define PRD_HUB_SECRET_FILE "jwt-secret"

GBytes *prd_hub_secret_load_jwt (const char *data_dir, GError **error);

G_END_DECLS
