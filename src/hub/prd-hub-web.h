/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-hub-rest.h"

G_BEGIN_DECLS

/* The longest file name under /assets/ the web editor serves. */
#define PRD_HUB_WEB_MAX_ASSET_NAME 128

gboolean prd_hub_web_is_built (void);
gboolean prd_hub_web_validate_asset_name (const char *name, GError **error);
void prd_hub_web_add (PrdHubRest *rest);

G_END_DECLS
