/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "prd-auth.h"
#include "prd-store.h"

G_BEGIN_DECLS

void prd_hub_rest_attach (SoupServer *server, PrdAuth *auth, PrdStore *store);
void prd_hub_rest_check_headers (SoupServerMessage *msg,
                                 PrdAuth *auth,
                                 gsize max_body,
                                 const char *engine_path);
void prd_hub_rest_respond_error (SoupServerMessage *msg, const GError *error);
void prd_hub_rest_respond_json (SoupServerMessage *msg, guint status, JsonNode *node);

/* For features that add routes of their own. */
/* @parts: the path below /api/prds split at '/': parts[0] is the PRD id
 * (syntax checked), parts[1] the route's leaf, then whatever follows. */
typedef void (*PrdHubRestPrdRoute) (SoupServerMessage *msg,
                                    const PrdIdentity *identity,
                                    const char *const *parts,
                                    guint n_parts,
                                    GHashTable *query,
                                    gpointer user_data);
void prd_hub_rest_add_prd_route (SoupServer *server,
                                 const char *leaf,
                                 PrdHubRestPrdRoute func,
                                 gpointer user_data);
PrdIdentity *prd_hub_rest_authenticate (PrdAuth *auth, SoupServerMessage *msg);
gboolean prd_hub_rest_only_get (SoupServerMessage *msg);
void prd_hub_rest_respond_json (SoupServerMessage *msg, guint status, JsonNode *node);
void prd_hub_rest_respond_error (SoupServerMessage *msg, const GError *error);

G_END_DECLS
