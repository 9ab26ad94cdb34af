/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Signing in through a link, over REST (on the router of prd-hub-rest.c;
 * the rule is in prd-hub-tokens.c):
 *
 *   POST /api/sign-in   {link} → 200 {token}, once per link; no
 *                       bearer token: the link's token is the credential
 *
 * Anybody may send one, so its body is held to what a link can be (a token
 * is at most PRD_AUTH_MAX_TOKEN_LENGTH characters): at most
 * PRD_HUB_SIGN_IN_MAX_BODY bytes, checked from the headers (413).
 */
#define G_LOG_DOMAIN "prd-hub-rest-tokens"

#include "config.h"

#include "prd-error.h"
#include "prd-json.h"

#include "prd-hub-rest-tokens.h"

/* Room for a token of PRD_AUTH_MAX_TOKEN_LENGTH characters, its member name
 * and whitespace. */
#define PRD_HUB_SIGN_IN_MAX_BODY (2 * PRD_AUTH_MAX_TOKEN_LENGTH)

static void
on_signed_in (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (SoupServerMessage) msg = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *token = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonObject *object;

  token = prd_hub_tokens_sign_in_finish (PRD_HUB_TOKENS (source), result, &error);
  soup_server_message_unpause (msg);
  if (token == NULL)
    {
      prd_hub_rest_respond_error (msg, error);
      return;
    }
  object = json_object_new ();
  json_object_set_string_member (object, "token", token);
  node = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (node, object);
  prd_hub_rest_respond_json (msg, SOUP_STATUS_OK, node);
}

/* The body's size was checked before it was read (prd_hub_rest_check_headers()). */
static void
handle_sign_in (SoupServerMessage *msg,
                const PrdIdentity *identity,
                const char *const *params,
                GHashTable *query,
                gpointer user_data)
{
  PrdHubTokens *tokens = user_data;
  g_autoptr (GBytes) bytes = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) error = NULL;
  JsonNode *link = NULL;

  root = prd_json_parse (g_bytes_get_data (bytes, NULL), (gssize) g_bytes_get_size (bytes),
                         G_MAXSIZE, &error);
  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
    link = json_object_get_member (json_node_get_object (root), "link");
  if (link == NULL || !JSON_NODE_HOLDS_VALUE (link) ||
      json_node_get_value_type (link) != G_TYPE_STRING)
    {
      prd_hub_rest_respond_error_literal (
          msg, PRD_ERROR_INVALID_PAYLOAD,
          "The body must be {\"link\": the token of a sign-in link}");
      return;
    }
  soup_server_message_pause (msg);
  prd_hub_tokens_sign_in_async (tokens, json_node_get_string (link), NULL, on_signed_in,
                                g_object_ref (msg));
}

static const PrdHubRouteEntry tokens_routes[] = {
  { "POST", "/api/sign-in", handle_sign_in, PRD_HUB_ROUTE_NO_TOKEN | PRD_HUB_ROUTE_READS_BODY,
    PRD_HUB_SIGN_IN_MAX_BODY },
};

/**
 * prd_hub_rest_tokens_add:
 *
 * Adds `POST /api/sign-in` to @rest.
 */
void
prd_hub_rest_tokens_add (PrdHubRest *rest, PrdHubTokens *tokens)
{
  g_return_if_fail (PRD_IS_HUB_REST (rest));
  g_return_if_fail (PRD_IS_HUB_TOKENS (tokens));

  prd_hub_rest_add_routes (rest, tokens_routes, G_N_ELEMENTS (tokens_routes), g_object_ref (tokens),
                           g_object_unref);
}
