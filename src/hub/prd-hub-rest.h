/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "prd-auth.h"

G_BEGIN_DECLS

/**
 * PrdHubRouteFlags:
 * @PRD_HUB_ROUTE_DEFAULT: the route reads no request body (one that comes
 *   is dropped as it arrives)
 * @PRD_HUB_ROUTE_READS_BODY: the body is kept for the handler (at most
 *   `[server] max-request-body` bytes)
 * @PRD_HUB_ROUTE_NO_TOKEN: below `/api`, a route that authenticates its
 *   requests itself (a signed webhook): no bearer token is asked for, and
 *   the handler's identity is %NULL
 */
typedef enum
{
  PRD_HUB_ROUTE_DEFAULT = 0,
  PRD_HUB_ROUTE_READS_BODY = 1 << 0,
  PRD_HUB_ROUTE_NO_TOKEN = 1 << 1,
} PrdHubRouteFlags;

/**
 * PrdHubRouteFunc:
 * @msg: the request, answered by the function (pausing it meanwhile if the
 *   answer comes later)
 * @identity: (nullable): the bearer token's identity; never %NULL below
 *   `/api`, always %NULL elsewhere
 * @params: (array zero-terminated=1): the path segments the route's pattern
 *   names in braces, in order (percent-decoded, valid UTF-8; a `{prd}`
 *   segment is a syntactically valid PRD id)
 * @query: (nullable) (element-type utf8 utf8): the query parameters
 * @user_data: the data the route was added with
 */
typedef void (*PrdHubRouteFunc) (SoupServerMessage *msg,
                                 const PrdIdentity *identity,
                                 const char *const *params,
                                 GHashTable *query,
                                 gpointer user_data);

/**
 * PrdHubRouteEntry:
 * @method: the HTTP method (`GET`, `POST`, …)
 * @pattern: the path, segment by segment; `{prd}` matches a PRD id, any other
 *   `{name}` matches one segment. A trailing `/` on a request is ignored.
 * @func: the handler
 * @flags: what the route needs
 * @max_body: a route that reads a body and has a fixed limit of its own
 *   (a sign-in): the most it takes, in bytes, checked from the headers as
 *   `[server] max-request-body` is and used instead of it (0: that limit)
 *
 * One route of a feature; a feature adds a static array of them with
 * prd_hub_rest_add_routes().
 */
typedef struct
{
  const char *method;
  const char *pattern;
  PrdHubRouteFunc func;
  PrdHubRouteFlags flags;
  gsize max_body;
} PrdHubRouteEntry;

#define PRD_TYPE_HUB_REST (prd_hub_rest_get_type ())
G_DECLARE_FINAL_TYPE (PrdHubRest, prd_hub_rest, PRD, HUB_REST, GObject)

PrdHubRest *prd_hub_rest_new (PrdAuth *auth, gsize max_body, const char *engine_path);
void prd_hub_rest_set_cors_origins (PrdHubRest *self, const char *const *origins);
void prd_hub_rest_set_write_rate (PrdHubRest *self, guint limit, guint window_seconds);
void prd_hub_rest_set_read_rate (PrdHubRest *self, guint limit, guint window_seconds);
void prd_hub_rest_charge_write (PrdHubRest *self, const PrdIdentity *identity, guint events);
void prd_hub_rest_add_routes (PrdHubRest *self,
                              const PrdHubRouteEntry *entries,
                              gsize n_entries,
                              gpointer user_data,
                              GDestroyNotify destroy);
void prd_hub_rest_attach (PrdHubRest *self, SoupServer *server);
void prd_hub_rest_detach (PrdHubRest *self, SoupServer *server);
void prd_hub_rest_check_headers (PrdHubRest *self, SoupServerMessage *msg);
void prd_hub_rest_set_inert_headers (SoupServerMessage *msg);

/* What every route answers with. */
void prd_hub_rest_respond_json (SoupServerMessage *msg, guint status, JsonNode *node);
void prd_hub_rest_respond_json_bytes (SoupServerMessage *msg, guint status, GBytes *body);
void prd_hub_rest_respond_error (SoupServerMessage *msg, const GError *error);
void prd_hub_rest_respond_error_literal (SoupServerMessage *msg, int code, const char *message);
gboolean prd_hub_rest_query_count (SoupServerMessage *msg,
                                   GHashTable *query,
                                   const char *name,
                                   gint64 max,
                                   const char *message,
                                   gint64 *value);

G_END_DECLS
