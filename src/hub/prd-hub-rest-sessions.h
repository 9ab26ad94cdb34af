/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-hub-rest.h"
#include "prd-hub-sessions.h"

G_BEGIN_DECLS

void prd_hub_rest_sessions_add (PrdHubRest *rest, PrdHubSessions *sessions);

G_END_DECLS
