/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The REST router (prd-hub-rest.c) on a real SoupServer on 127.0.0.1:0,
 * driven by a SoupSession: route tables, path parameters, 404 / 405 + Allow,
 * INVALID_ID, the token under /api, and the routes' user data freed with
 * the router.
 */
#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-hub-rest.h"
#include "prd-test-harness.h"

#define SECRET "router-test-secret-of-at-least-32-bytes"

typedef struct
{
  GPtrArray *calls; /* (element-type utf8) "METHOD pattern param…" */
  gboolean freed;
} Seen;

typedef struct
{
  PrdAuth *auth;
  PrdHubRest *rest;
  SoupServer *server;
  SoupSession *session;
  char *base;
  char *token;
  Seen seen;
} Fixture;

static void
record (SoupServerMessage *msg,
        const PrdIdentity *identity,
        const char *const *params,
        GHashTable *query,
        gpointer user_data)
{
  Seen *seen = user_data;
  g_autoptr (GString) line = g_string_new (soup_server_message_get_method (msg));
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);

  g_string_append_printf (line, " %s", identity != NULL ? identity->user_id : "-");
  for (guint i = 0; params[i] != NULL; i++)
    g_string_append_printf (line, " %s", params[i]);
  if (query != NULL && g_hash_table_lookup (query, "q") != NULL)
    g_string_append_printf (line, " q=%s", (const char *) g_hash_table_lookup (query, "q"));
  g_ptr_array_add (seen->calls, g_strdup (line->str));
  json_node_take_object (node, json_object_new ());
  prd_hub_rest_respond_json (msg, SOUP_STATUS_OK, node);
}

static const PrdHubRouteEntry routes[] = {
  { "GET", "/api/things", record },
  { "POST", "/api/things", record, PRD_HUB_ROUTE_READS_BODY },
  { "GET", "/api/prds/{prd}/things/{name}", record },
  { "DELETE", "/api/prds/{prd}/things/{name}", record },
  { "GET", "/open", record },
  /* A fixed limit of its own, above the router's 1024 bytes. */
  { "POST", "/api/big", record, PRD_HUB_ROUTE_READS_BODY, 4096 },
};

static void
seen_freed (gpointer data)
{
  ((Seen *) data)->freed = TRUE;
}

/* As the hub does: the token and the body's size from the headers. */
static void
on_got_headers (SoupServerMessage *msg, gpointer user_data)
{
  prd_hub_rest_check_headers (PRD_HUB_REST (user_data), msg);
}

static void
on_request_started (SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
  g_signal_connect_object (msg, "got-headers", G_CALLBACK (on_got_headers), user_data, 0);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GBytes) secret = g_bytes_new_static (SECRET, strlen (SECRET));
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdIdentity) identity = NULL;
  GSList *uris;

  f->auth = prd_auth_new_hmac (secret, &error);
  g_assert_no_error (error);
  identity = prd_identity_new ("ann", "Ann", NULL, "org", PRD_ROLE_EDITOR,
                               g_get_real_time () / G_USEC_PER_SEC + 600);
  f->token = prd_test_mint (f->auth, identity);
  f->seen.calls = g_ptr_array_new_with_free_func (g_free);
  f->rest = prd_hub_rest_new (f->auth, 1024, "/socket.io");
  prd_hub_rest_add_routes (f->rest, routes, G_N_ELEMENTS (routes), &f->seen, seen_freed);
  f->server = soup_server_new (NULL, NULL);
  prd_hub_rest_attach (f->rest, f->server);
  g_signal_connect (f->server, "request-started", G_CALLBACK (on_request_started), f->rest);
  soup_server_listen_local (f->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (f->server);
  f->base = g_uri_to_string (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  if (g_str_has_suffix (f->base, "/"))
    f->base[strlen (f->base) - 1] = '\0';
  f->session = soup_session_new ();
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->session);
  soup_server_disconnect (f->server);
  g_clear_object (&f->server);
  g_assert_false (f->seen.freed);
  g_clear_object (&f->rest);
  /* The routes' data goes with the router. */
  g_assert_true (f->seen.freed);
  g_clear_object (&f->auth);
  g_ptr_array_unref (f->seen.calls);
  g_free (f->base);
  g_free (f->token);
}

static void
on_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* Sends METHOD PATH (with the token unless @anonymous, with a JSON body of
 * @body_len bytes unless 0) and returns the status; *code (optional) gets
 * the JSON error code, if any, *allow (optional) the Allow header and
 * *body_length the length of the answer's body. */
static guint
send_full (Fixture *f,
           const char *method,
           const char *path,
           gboolean anonymous,
           gsize body_len,
           char **code,
           char **allow,
           gsize *body_length)
{
  g_autofree char *url = g_strconcat (f->base, path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;

  if (body_len > 0)
    {
      /* {"a":"xxx…"} */
      char *text = g_malloc (body_len);
      g_autoptr (GBytes) bytes = NULL;

      g_assert_cmpuint (body_len, >=, 8);
      memcpy (text, "{\"a\":\"", 6);
      memset (text + 6, 'x', body_len - 8);
      memcpy (text + body_len - 2, "\"}", 2);
      bytes = g_bytes_new_take (text, body_len);
      soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    }
  if (!anonymous)
    {
      g_autofree char *auth = g_strconcat ("Bearer ", f->token, NULL);

      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", auth);
    }
  /* The server runs on this thread's main context too. */
  soup_session_send_and_read_async (f->session, msg, G_PRIORITY_DEFAULT, NULL, on_read, &result);
  prd_test_wait_while (result == NULL, PRD_TEST_TIMEOUT_MS);
  body = soup_session_send_and_read_finish (f->session, result, &error);
  g_assert_no_error (error);
  if (code != NULL)
    {
      g_autoptr (JsonNode) node = g_bytes_get_size (body) > 0
                                      ? json_from_string (g_bytes_get_data (body, NULL), NULL)
                                      : NULL;

      *code = node != NULL && JSON_NODE_HOLDS_OBJECT (node)
                  ? g_strdup (json_object_get_string_member_with_default (
                        json_node_get_object (node), "code", ""))
                  : NULL;
    }
  if (soup_message_get_status (msg) == SOUP_STATUS_METHOD_NOT_ALLOWED)
    g_assert_nonnull (
        soup_message_headers_get_one (soup_message_get_response_headers (msg), "Allow"));
  if (allow != NULL)
    *allow =
        g_strdup (soup_message_headers_get_one (soup_message_get_response_headers (msg), "Allow"));
  if (body_length != NULL)
    *body_length = g_bytes_get_size (body);
  return soup_message_get_status (msg);
}

static guint
send (Fixture *f, const char *method, const char *path, gboolean anonymous, char **code)
{
  return send_full (f, method, path, anonymous, 0, code, NULL, NULL);
}

static void
test_routes (Fixture *f, gconstpointer data)
{
  g_assert_cmpuint (send (f, "GET", "/api/things", FALSE, NULL), ==, 200);
  g_assert_cmpuint (send (f, "GET", "/api/things/?q=x", FALSE, NULL), ==, 200);
  g_assert_cmpuint (send (f, "POST", "/api/things", FALSE, NULL), ==, 200);
  g_assert_cmpuint (send (f, "GET", "/api/prds/prd_abc/things/one", FALSE, NULL), ==, 200);
  g_assert_cmpuint (send (f, "DELETE", "/api/prds/prd_abc/things/two", FALSE, NULL), ==, 200);
  /* Outside /api no token is asked for, and none is given to the route. */
  g_assert_cmpuint (send (f, "GET", "/open", TRUE, NULL), ==, 200);
  g_assert_cmpuint (f->seen.calls->len, ==, 6);
  g_assert_cmpstr (g_ptr_array_index (f->seen.calls, 0), ==, "GET ann");
  g_assert_cmpstr (g_ptr_array_index (f->seen.calls, 1), ==, "GET ann q=x");
  g_assert_cmpstr (g_ptr_array_index (f->seen.calls, 2), ==, "POST ann");
  g_assert_cmpstr (g_ptr_array_index (f->seen.calls, 3), ==, "GET ann prd_abc one");
  g_assert_cmpstr (g_ptr_array_index (f->seen.calls, 4), ==, "DELETE ann prd_abc two");
  g_assert_cmpstr (g_ptr_array_index (f->seen.calls, 5), ==, "GET -");
}

static void
test_refusals (Fixture *f, gconstpointer data)
{
  g_autofree char *c1 = NULL, *c2 = NULL, *c3 = NULL, *c4 = NULL, *c5 = NULL, *c6 = NULL;

  g_assert_cmpuint (send (f, "GET", "/api/nothing", FALSE, &c1), ==, 404);
  g_assert_cmpstr (c1, ==, "NOT_FOUND");
  g_assert_cmpuint (send (f, "GET", "/api/prds/prd_abc/things", FALSE, &c2), ==, 404);
  g_assert_cmpstr (c2, ==, "NOT_FOUND");
  g_assert_cmpuint (send (f, "GET", "/", TRUE, &c3), ==, 404);
  g_assert_cmpstr (c3, ==, "NOT_FOUND");
  /* The path is served, the method is not: 405 with Allow. */
  g_assert_cmpuint (send (f, "PUT", "/api/things", FALSE, NULL), ==, 405);
  g_assert_cmpuint (send (f, "POST", "/api/prds/prd_abc/things/x", FALSE, NULL), ==, 405);
  /* {prd} must be a PRD id; every segment must be UTF-8. */
  g_assert_cmpuint (send (f, "GET", "/api/prds/not%20an%20id/things/x", FALSE, &c4), ==, 400);
  g_assert_cmpstr (c4, ==, "INVALID_ID");
  g_assert_cmpuint (send (f, "GET", "/api/prds/prd_abc/things/%FF", FALSE, &c5), ==, 400);
  g_assert_cmpstr (c5, ==, "INVALID_ID");
  /* Below /api, a route runs only with a valid token. */
  g_assert_cmpuint (send (f, "GET", "/api/things", TRUE, &c6), ==, 401);
  g_assert_cmpstr (c6, ==, "AUTHENTICATION_FAILED");
  g_assert_cmpuint (f->seen.calls->len, ==, 0);
  /* /healthz is the router's own. */
  g_assert_cmpuint (send (f, "GET", "/healthz", TRUE, NULL), ==, 200);
  g_assert_cmpuint (send (f, "HEAD", "/healthz", TRUE, NULL), ==, 200);
  g_assert_cmpuint (send (f, "POST", "/healthz", TRUE, NULL), ==, 405);
}

/* A route's own fixed limit is its limit, above the router's or below. */
static void
test_route_limit (Fixture *f, gconstpointer data)
{
  g_autofree char *c1 = NULL, *c2 = NULL;

  g_assert_cmpuint (send_full (f, "POST", "/api/big", FALSE, 4096, NULL, NULL, NULL), ==, 200);
  g_assert_cmpuint (send_full (f, "POST", "/api/big", FALSE, 4097, &c1, NULL, NULL), ==, 413);
  g_assert_cmpstr (c1, ==, "PAYLOAD_TOO_LARGE");
  /* The others keep the router's. */
  g_assert_cmpuint (send_full (f, "POST", "/api/things", FALSE, 1024, NULL, NULL, NULL), ==, 200);
  g_assert_cmpuint (send_full (f, "POST", "/api/things", FALSE, 1025, &c2, NULL, NULL), ==, 413);
  g_assert_cmpstr (c2, ==, "PAYLOAD_TOO_LARGE");
  g_assert_cmpuint (f->seen.calls->len, ==, 2);
}

/* HEAD wherever GET: the same checks, the same status, no body. */
static void
test_head (Fixture *f, gconstpointer data)
{
  g_autofree char *allow1 = NULL, *allow2 = NULL, *allow3 = NULL, *allow4 = NULL;
  g_autofree char *c1 = NULL, *c2 = NULL;
  gsize length = 1;

  g_assert_cmpuint (send_full (f, "HEAD", "/api/things", FALSE, 0, NULL, NULL, &length), ==, 200);
  g_assert_cmpuint (length, ==, 0);
  g_assert_cmpuint (send (f, "HEAD", "/api/prds/prd_abc/things/one", FALSE, NULL), ==, 200);
  g_assert_cmpuint (send (f, "HEAD", "/open", TRUE, NULL), ==, 200);
  g_assert_cmpuint (f->seen.calls->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (f->seen.calls, 0), ==, "HEAD ann");
  g_assert_cmpstr (g_ptr_array_index (f->seen.calls, 1), ==, "HEAD ann prd_abc one");
  g_assert_cmpstr (g_ptr_array_index (f->seen.calls, 2), ==, "HEAD -");
  /* The same checks as GET. */
  g_assert_cmpuint (send (f, "HEAD", "/api/things", TRUE, NULL), ==, 401);
  g_assert_cmpuint (send (f, "HEAD", "/api/prds/not%20an%20id/things/x", FALSE, NULL), ==, 400);
  g_assert_cmpuint (f->seen.calls->len, ==, 3);
  /* HEAD is in Allow wherever GET is, and only there. */
  g_assert_cmpuint (send_full (f, "PUT", "/api/things", FALSE, 0, &c1, &allow1, NULL), ==, 405);
  g_assert_cmpstr (allow1, ==, "GET, HEAD, POST");
  g_assert_cmpuint (send_full (f, "HEAD", "/api/big", FALSE, 0, &c2, &allow2, NULL), ==, 405);
  g_assert_cmpstr (allow2, ==, "POST");
  g_assert_cmpuint (send_full (f, "POST", "/healthz", TRUE, 0, NULL, &allow3, NULL), ==, 405);
  g_assert_cmpstr (allow3, ==, "GET, HEAD");
  g_assert_cmpuint (
      send_full (f, "OPTIONS", "/api/prds/prd_abc/things/x", TRUE, 0, NULL, &allow4, NULL), ==,
      204);
  g_assert_cmpstr (allow4, ==, "GET, HEAD, DELETE");
}

/* A query parameter named twice is refused, whichever way it is spelt. */
static void
test_query_twice (Fixture *f, gconstpointer data)
{
  g_autofree char *c1 = NULL, *c2 = NULL, *c3 = NULL;

  g_assert_cmpuint (send (f, "GET", "/api/things?q=a&r=b&", FALSE, NULL), ==, 200);
  g_assert_cmpuint (send (f, "GET", "/api/things?q=a&q=b", FALSE, &c1), ==, 400);
  g_assert_cmpstr (c1, ==, "INVALID_PAYLOAD");
  g_assert_cmpuint (send (f, "GET", "/api/things?q=a&%71=b", FALSE, &c2), ==, 400);
  g_assert_cmpstr (c2, ==, "INVALID_PAYLOAD");
  g_assert_cmpuint (send (f, "GET", "/api/things?q&q=", FALSE, &c3), ==, 400);
  g_assert_cmpstr (c3, ==, "INVALID_PAYLOAD");
  g_assert_cmpuint (f->seen.calls->len, ==, 1);
}

/* A parameter without a value is refused: libsoup would drop it, and
 * `DELETE …?purgeVersions` would then read as no parameter at all. */
static void
test_query_no_value (Fixture *f, gconstpointer data)
{
  g_autofree char *c1 = NULL, *c2 = NULL;

  g_assert_cmpuint (send (f, "GET", "/api/things?q=", FALSE, NULL), ==, 200);
  g_assert_cmpuint (send (f, "GET", "/api/things?flag", FALSE, &c1), ==, 400);
  g_assert_cmpstr (c1, ==, "INVALID_PAYLOAD");
  g_assert_cmpuint (send (f, "GET", "/api/things?q=a&flag&r=b", FALSE, &c2), ==, 400);
  g_assert_cmpstr (c2, ==, "INVALID_PAYLOAD");
  g_assert_cmpuint (f->seen.calls->len, ==, 1);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/prd/rest-router/routes", Fixture, NULL, fixture_set_up, test_routes,
              fixture_tear_down);
  g_test_add ("/prd/rest-router/refusals", Fixture, NULL, fixture_set_up, test_refusals,
              fixture_tear_down);
  g_test_add ("/prd/rest-router/route-limit", Fixture, NULL, fixture_set_up, test_route_limit,
              fixture_tear_down);
  g_test_add ("/prd/rest-router/head", Fixture, NULL, fixture_set_up, test_head, fixture_tear_down);
  g_test_add ("/prd/rest-router/query-twice", Fixture, NULL, fixture_set_up, test_query_twice,
              fixture_tear_down);
  g_test_add ("/prd/rest-router/query-no-value", Fixture, NULL, fixture_set_up, test_query_no_value,
              fixture_tear_down);
  return g_test_run ();
}
