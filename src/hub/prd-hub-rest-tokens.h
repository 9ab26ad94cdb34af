/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-hub-rest.h"
#include "prd-hub-tokens.h"

G_BEGIN_DECLS

void prd_hub_rest_tokens_add (PrdHubRest *rest, PrdHubTokens *tokens);

G_END_DECLS
