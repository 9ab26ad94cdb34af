/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Who is connected, over REST (on the router of prd-hub-rest.c):
 *
 *   GET /api/sessions   admins only: {sessions} of the caller's organization
 *                       (prd_hub_sessions_list())
 */
#define G_LOG_DOMAIN "prd-hub-rest-sessions"

#include "config.h"

#include "prd-error.h"

#include "prd-hub-rest-sessions.h"

static void
handle_sessions (SoupServerMessage *msg,
                 const PrdIdentity *identity,
                 const char *const *params,
                 GHashTable *query,
                 gpointer user_data)
{
  PrdHubSessions *sessions = user_data;
  g_autoptr (JsonNode) node = NULL;

  if (identity->role != PRD_ROLE_ADMIN)
    {
      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_FORBIDDEN,
                                          "Only admins may list who is connected");
      return;
    }
  node = prd_hub_sessions_list (sessions, identity->org);
  prd_hub_rest_respond_json (msg, SOUP_STATUS_OK, node);
}

static const PrdHubRouteEntry sessions_routes[] = {
  { "GET", "/api/sessions", handle_sessions },
};

/**
 * prd_hub_rest_sessions_add:
 *
 * Adds `GET /api/sessions` to @rest.
 */
void
prd_hub_rest_sessions_add (PrdHubRest *rest, PrdHubSessions *sessions)
{
  g_return_if_fail (PRD_IS_HUB_REST (rest));
  g_return_if_fail (PRD_IS_HUB_SESSIONS (sessions));

  prd_hub_rest_add_routes (rest, sessions_routes, G_N_ELEMENTS (sessions_routes),
                           g_object_ref (sessions), g_object_unref);
}
