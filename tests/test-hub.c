/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A real PrdHub on 127.0.0.1:0, driven over WebSocket by a minimal
 * Socket.IO client written on SoupSession.
 */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>
#include <jwt.h>
#include <libsoup/soup.h>

#include "prd-autocleanups.h"

#include "prd-error.h"
#include "prd-hub-config-collab.h"
#include "prd-hub-config-rate-limit.h"
#include "prd-hub-context.h"
#include "prd-hub-metrics.h"
#include "prd-hub-secret.h"
#include "prd-hub-tokens-private.h"
#include "prd-file-secret-store.h"
#include "prd-hub.h"
#include "prd-test-harness.h"

#define SECRET "integration-test-secret-0123456789abcdef"

typedef struct
{
  SoupSession *session;
  SoupWebsocketConnection *ws;
  GTlsCertificate *trusted; /* (nullable) */
  GQueue messages;          /* (element-type utf8) */
  gboolean closed;
  GError *error;
  gboolean done;
} Client;

typedef struct
{
  char *tmp_dir;
  PrdHubConfig *config;
  PrdAuth *auth;
  PrdHub *hub;
  char *url;
} Fixture;

/* ---- a minimal Socket.IO client ---- */

static void
on_ws_message (SoupWebsocketConnection *ws, int type, GBytes *bytes, gpointer user_data)
{
  Client *client = user_data;
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);

  g_assert_cmpint (type, ==, SOUP_WEBSOCKET_DATA_TEXT);
  /* Engine.IO heartbeat: answer and keep it out of the tests' way. */
  if (len == 1 && data[0] == '2')
    {
      soup_websocket_connection_send_text (ws, "3");
      return;
    }
  g_queue_push_tail (&client->messages, g_strndup (data, len));
}

static void
on_ws_closed (SoupWebsocketConnection *ws, gpointer user_data)
{
  Client *client = user_data;

  client->closed = TRUE;
}

static gboolean
on_accept_certificate (SoupMessage *msg,
                       GTlsCertificate *certificate,
                       GTlsCertificateFlags errors,
                       gpointer user_data)
{
  Client *client = user_data;

  return client->trusted != NULL && g_tls_certificate_is_same (certificate, client->trusted);
}

static void
connected_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Client *client = user_data;

  client->ws =
      soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &client->error);
  client->done = TRUE;
}

static void
client_free (Client *client)
{
  if (client->ws != NULL)
    {
      g_signal_handlers_disconnect_by_data (client->ws, client);
      if (soup_websocket_connection_get_state (client->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (client->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    }
  g_clear_object (&client->ws);
  g_clear_object (&client->session);
  g_clear_object (&client->trusted);
  g_queue_clear_full (&client->messages, g_free);
  g_clear_error (&client->error);
  g_free (client);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Client, client_free)

static char *
next_message (Client *client)
{
  prd_test_wait_while (g_queue_is_empty (&client->messages) && !client->closed,
                       PRD_TEST_TIMEOUT_MS);
  return g_queue_pop_head (&client->messages);
}

/* Opens a WebSocket Engine.IO session; returns NULL with @error set when the
 * connection itself fails. */
static Client *
client_open (const char *hub_url, GTlsCertificate *trusted, GError **error)
{
  g_autoptr (Client) client = g_new0 (Client, 1);
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GString) url = g_string_new (hub_url);
  g_autofree char *open = NULL;

  g_string_replace (url, "http", "ws", 1);
  g_string_append (url, "socket.io/?EIO=4&transport=websocket");
  client->session = soup_session_new ();
  client->trusted = trusted != NULL ? g_object_ref (trusted) : NULL;
  g_queue_init (&client->messages);
  msg = soup_message_new ("GET", url->str);
  g_signal_connect (msg, "accept-certificate", G_CALLBACK (on_accept_certificate), client);
  soup_session_websocket_connect_async (client->session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                        connected_cb, client);
  prd_test_wait_while (!client->done, PRD_TEST_TIMEOUT_MS);
  if (client->ws == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&client->error));
      return NULL;
    }
  g_signal_connect (client->ws, "message", G_CALLBACK (on_ws_message), client);
  g_signal_connect (client->ws, "closed", G_CALLBACK (on_ws_closed), client);

  open = next_message (client);
  g_assert_nonnull (open);
  g_assert_true (g_str_has_prefix (open, "0{\"sid\":"));
  return g_steal_pointer (&client);
}

static void
client_send (Client *client, const char *text)
{
  soup_websocket_connection_send_text (client->ws, text);
}

typedef struct
{
  int type;
  char *nsp;
  gint64 ack;
  JsonNode *data;
} Packet;

static void
packet_free (Packet *packet)
{
  g_free (packet->nsp);
  g_clear_pointer (&packet->data, json_node_unref);
  g_free (packet);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Packet, packet_free)

/* Parses an Engine.IO MESSAGE carrying a (non-binary) Socket.IO packet. */
static Packet *
parse_packet (const char *text)
{
  Packet *packet = g_new0 (Packet, 1);
  const char *p = text;
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (*p++, ==, '4');
  g_assert_true (g_ascii_isdigit (*p));
  packet->type = *p++ - '0';
  if (*p == '/')
    {
      const char *comma = strchr (p, ',');

      g_assert_nonnull (comma);
      packet->nsp = g_strndup (p, (gsize) (comma - p));
      p = comma + 1;
    }
  else
    packet->nsp = g_strdup ("/");
  packet->ack = -1;
  if (g_ascii_isdigit (*p))
    {
      char *end;

      packet->ack = g_ascii_strtoll (p, &end, 10);
      p = end;
    }
  if (*p != '\0')
    {
      packet->data = json_from_string (p, &error);
      g_assert_no_error (error);
    }
  return packet;
}

static Packet *
next_packet (Client *client)
{
  g_autofree char *text = next_message (client);

  g_assert_nonnull (text);
  g_test_message ("<< %s", text);
  return parse_packet (text);
}

static char *
connect_packet (const char *nsp, const char *auth_json)
{
  if (g_str_equal (nsp, "/"))
    return g_strdup_printf ("40%s", auth_json != NULL ? auth_json : "");
  return g_strdup_printf ("40%s,%s", nsp, auth_json != NULL ? auth_json : "");
}

static char *
token_auth (const char *token)
{
  return g_strdup_printf ("{\"token\":\"%s\"}", token);
}

static void
assert_connected (Client *client, const char *nsp, const char *token)
{
  g_autofree char *auth = token_auth (token);
  g_autofree char *packet_text = connect_packet (nsp, auth);
  g_autoptr (Packet) packet = NULL;
  JsonObject *data;

  client_send (client, packet_text);
  packet = next_packet (client);
  g_assert_cmpint (packet->type, ==, 0);
  g_assert_cmpstr (packet->nsp, ==, nsp);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (packet->data));
  data = json_node_get_object (packet->data);
  g_assert_true (json_object_has_member (data, "sid"));
}

static gboolean
is_iso_timestamp (const char *text)
{
  return g_regex_match_simple ("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$", text, 0, 0);
}

/* ---- long-polling ---- */

typedef struct
{
  GBytes *body;
  guint status;
  gboolean done;
} PollResult;

static void
poll_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PollResult *poll = user_data;
  g_autoptr (GError) error = NULL;
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (source), result);

  poll->body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  g_assert_no_error (error);
  poll->status = soup_message_get_status (msg);
  poll->done = TRUE;
}

/* Starts a polling request; the caller iterates until ->done. */
static PollResult *
poll_start (SoupSession *session, const char *hub_url, const char *sid, const char *post_body)
{
  g_autofree char *url = g_strdup_printf ("%ssocket.io/?EIO=4&transport=polling%s%s", hub_url,
                                          sid != NULL ? "&sid=" : "", sid != NULL ? sid : "");
  g_autoptr (SoupMessage) msg = soup_message_new (post_body != NULL ? "POST" : "GET", url);
  PollResult *poll = g_new0 (PollResult, 1);

  if (post_body != NULL)
    {
      g_autoptr (GBytes) body = g_bytes_new (post_body, strlen (post_body));

      soup_message_set_request_body_from_bytes (msg, "text/plain;charset=UTF-8", body);
    }
  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, poll_done_cb, poll);
  return poll;
}

static char *
poll_finish (PollResult *poll)
{
  char *text;

  prd_test_wait_while (!poll->done, PRD_TEST_TIMEOUT_MS);
  g_assert_cmpuint (poll->status, ==, 200);
  text = g_strndup (g_bytes_get_data (poll->body, NULL), g_bytes_get_size (poll->body));
  g_bytes_unref (poll->body);
  g_free (poll);
  return text;
}

static char *
poll_request (SoupSession *session, const char *hub_url, const char *sid, const char *post_body)
{
  return poll_finish (poll_start (session, hub_url, sid, post_body));
}

/* ---- fixture ---- */

/* A token that expired a minute ago (prd_auth_mint() refuses to make one). */
static char *
sign_expired (void)
{
  g_autoptr (jwt_t) jwt = NULL;
  g_autofree char *claims = g_strdup_printf (
      "{\"sub\":\"u\",\"name\":\"n\",\"org\":\"o\",\"role\":\"viewer\",\"exp\":%" G_GINT64_FORMAT
      "}",
      g_get_real_time () / G_USEC_PER_SEC - 60);
  char *raw;
  char *token;

  g_assert_cmpint (jwt_new (&jwt), ==, 0);
  g_assert_cmpint (jwt_add_grants_json (jwt, claims), ==, 0);
  g_assert_cmpint (
      jwt_set_alg (jwt, JWT_ALG_HS256, (const unsigned char *) SECRET, strlen (SECRET)), ==, 0);
  raw = jwt_encode_str (jwt);
  token = g_strdup (raw);
  free (raw);
  return token;
}

static char *
mint (PrdAuth *auth, gint64 ttl)
{
  g_autoptr (PrdIdentity) identity =
      prd_identity_new ("user_456", "Sarah Smith", "https://avatar.url", "org_123", PRD_ROLE_EDITOR,
                        g_get_real_time () / G_USEC_PER_SEC + ttl);

  return prd_test_mint (auth, identity);
}

static void
fixture_start (Fixture *f)
{
  g_autoptr (GError) error = NULL;

  f->hub = prd_hub_new (f->config, f->auth);
  /* A shutdown that only ends by its timeout hangs the test instead. */
  g_object_set (f->hub, "drain-timeout", G_MAXUINT, NULL);
  prd_hub_listen (f->hub, &error);
  g_assert_no_error (error);
  f->url = prd_hub_get_url (f->hub);
  g_assert_nonnull (f->url);
}

static void
fixture_setup_config (Fixture *f, const char *extra_config)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) secret = g_bytes_new_static (SECRET, strlen (SECRET));

  f->tmp_dir = g_dir_make_tmp ("prd-hub-XXXXXX", &error);
  g_assert_no_error (error);
  f->config = prd_hub_config_new ();
  g_assert_true (prd_hub_config_set (f->config, "server", "listen", "127.0.0.1:0", &error));
  g_assert_true (prd_hub_config_set (f->config, "server", "data-dir", f->tmp_dir, &error));
  if (extra_config != NULL)
    g_assert_true (prd_hub_config_load_data (f->config, extra_config, -1, &error));
  g_assert_no_error (error);
  g_assert_true (prd_hub_config_validate (f->config, &error));
  g_assert_no_error (error);
  f->auth = prd_auth_new_hmac (secret, &error);
  g_assert_no_error (error);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  fixture_setup_config (f, data);
  fixture_start (f);
}

static void
fixture_setup_tls (Fixture *f, gconstpointer data)
{
  /* The test configures TLS, then starts the hub itself. */
  fixture_setup_config (f, NULL);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  PrdEioServer *engine = NULL;

  if (f->hub != NULL)
    {
      prd_hub_stop (f->hub);
      engine = prd_hub_get_engine (f->hub);
      g_object_add_weak_pointer (G_OBJECT (engine), (gpointer *) &engine);
    }
  g_clear_object (&f->hub);
  /* Nothing the hub built outlives it: its engine's I/O threads flush what
   * is left to send only when the engine goes. */
  g_assert_null (engine);
  g_clear_object (&f->auth);
  g_clear_pointer (&f->config, prd_hub_config_unref);
  /* Let closing connections finish before the next test. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_free (f->url);
  if (f->tmp_dir != NULL)
    {
      g_autoptr (GDir) dir = g_dir_open (f->tmp_dir, 0, NULL);
      const char *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *path = g_build_filename (f->tmp_dir, name, NULL);

          g_unlink (path);
        }
      g_rmdir (f->tmp_dir);
      g_free (f->tmp_dir);
    }
}

/* ---- tests ---- */

static void
on_connection (PrdSioNamespace *nsp, PrdSioSocket *socket, gpointer user_data)
{
  GPtrArray *seen = user_data;
  const PrdIdentity *identity = prd_hub_socket_get_identity (socket);

  g_assert_nonnull (identity);
  g_ptr_array_add (seen, g_strdup_printf ("%s %s %s %s %s", prd_sio_namespace_get_name (nsp),
                                          identity->user_id, identity->name, identity->org,
                                          prd_role_to_string (identity->role)));
}

static void
test_connect_accepted (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Client) client = client_open (f->url, NULL, &error);
  g_autofree char *token = mint (f->auth, 600);
  g_autoptr (GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  const char *const names[] = { "/", "/prds", "/notifications" };

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    g_signal_connect (prd_sio_server_lookup (prd_hub_get_sio_server (f->hub), names[i]),
                      "connection", G_CALLBACK (on_connection), seen);

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    assert_connected (client, names[i], token);

  g_assert_cmpuint (seen->len, ==, 3);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *expected =
          g_strdup_printf ("%s user_456 Sarah Smith org_123 editor", names[i]);

      g_assert_cmpstr (g_ptr_array_index (seen, i), ==, expected);
    }
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    g_signal_handlers_disconnect_by_data (
        prd_sio_server_lookup (prd_hub_get_sio_server (f->hub), names[i]), seen);
}

static void
assert_refused (Client *client,
                const char *nsp,
                const char *auth_json,
                const char *message,
                const char *code,
                const char *reason)
{
  g_autofree char *text = connect_packet (nsp, auth_json);
  g_autoptr (Packet) packet = NULL;
  JsonObject *object, *data;

  client_send (client, text);
  packet = next_packet (client);
  g_assert_cmpint (packet->type, ==, 4);
  g_assert_cmpstr (packet->nsp, ==, nsp);
  object = json_node_get_object (packet->data);
  g_assert_cmpuint (json_object_get_size (object), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (object, "message"), ==, message);
  data = json_object_get_object_member (object, "data");
  g_assert_nonnull (data);
  g_assert_cmpuint (json_object_get_size (data), ==, 3);
  g_assert_cmpstr (json_object_get_string_member (data, "code"), ==, code);
  g_assert_cmpstr (json_object_get_string_member (data, "message"), ==, reason);
  g_assert_true (is_iso_timestamp (json_object_get_string_member (data, "timestamp")));
}

static void
test_connect_refused (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Client) client = client_open (f->url, NULL, &error);
  g_autofree char *valid = mint (f->auth, 600);
  g_autofree char *expired_token = NULL;
  g_autofree char *expired = NULL;
  g_autofree char *tampered = NULL;
  g_autoptr (GBytes) other_secret = g_bytes_new_static ("x" SECRET, strlen (SECRET) + 1);
  g_autoptr (PrdAuth) other = prd_auth_new_hmac (other_secret, NULL);
  g_autofree char *foreign = NULL;
  g_autofree char *foreign_token = mint (other, 600);
  const char *const names[] = { "/", "/prds", "/notifications" };

  g_assert_no_error (error);
  expired_token = sign_expired ();
  expired = token_auth (expired_token);
  tampered = token_auth (valid);
  /* Change one signature character (to another base64url one). */
  {
    char *c = &tampered[strlen (tampered) - 4];

    *c = *c == 'A' ? 'B' : 'A';
  }
  foreign = token_auth (foreign_token);

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      const char *nsp = names[i];

      assert_refused (client, nsp, NULL, "Authentication failed", "AUTHENTICATION_FAILED",
                      "Missing token");
      assert_refused (client, nsp, "{}", "Authentication failed", "AUTHENTICATION_FAILED",
                      "Missing token");
      assert_refused (client, nsp, "{\"token\":null}", "Authentication failed",
                      "AUTHENTICATION_FAILED", "Missing token");
      assert_refused (client, nsp, "{\"token\":42}", "Authentication failed",
                      "AUTHENTICATION_FAILED", "auth.token must be a string");
      assert_refused (client, nsp, "{\"token\":\"not-a-jwt\"}", "Authentication failed",
                      "AUTHENTICATION_FAILED", "Malformed token");
      assert_refused (client, nsp, tampered, "Authentication failed", "AUTHENTICATION_FAILED",
                      "Invalid token signature");
      assert_refused (client, nsp, foreign, "Authentication failed", "AUTHENTICATION_FAILED",
                      "Invalid token signature");
      assert_refused (client, nsp, expired, "Token expired", "TOKEN_EXPIRED", "Token expired");
    }

  /* A refusal leaves the Engine.IO session usable. */
  assert_connected (client, "/prds", valid);
}

static void
test_ping (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Client) client = client_open (f->url, NULL, &error);
  g_autofree char *token = mint (f->auth, 600);
  const char *const names[] = { "/", "/prds", "/notifications" };

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      const char *nsp = names[i];
      g_autofree char *prefix =
          g_str_equal (nsp, "/") ? g_strdup ("42") : g_strdup_printf ("42%s,", nsp);
      g_autofree char *plain = g_strdup_printf ("%s[\"ping\"]", prefix);
      g_autofree char *with_ack = g_strdup_printf ("%s7[\"ping\"]", prefix);
      g_autoptr (Packet) pong = NULL;
      g_autoptr (Packet) pong2 = NULL;
      g_autoptr (Packet) ack = NULL;
      g_autofree char *ack_json = NULL;
      JsonArray *args;
      JsonObject *payload;
      gint64 before_ms = g_get_real_time () / 1000;

      assert_connected (client, nsp, token);

      client_send (client, plain);
      pong = next_packet (client);
      g_assert_cmpint (pong->type, ==, 2);
      g_assert_cmpstr (pong->nsp, ==, nsp);
      g_assert_cmpint (pong->ack, ==, -1);
      args = json_node_get_array (pong->data);
      g_assert_cmpuint (json_array_get_length (args), ==, 2);
      g_assert_cmpstr (json_array_get_string_element (args, 0), ==, "pong");
      payload = json_array_get_object_element (args, 1);
      g_assert_cmpuint (json_object_get_size (payload), ==, 1);
      g_assert_cmpint (json_node_get_value_type (json_object_get_member (payload, "timestamp")), ==,
                       G_TYPE_INT64);
      g_assert_cmpint (json_object_get_int_member (payload, "timestamp"), >=, before_ms);
      g_assert_cmpint (json_object_get_int_member (payload, "timestamp"), <=,
                       g_get_real_time () / 1000);

      client_send (client, with_ack);
      pong2 = next_packet (client);
      g_assert_cmpint (pong2->type, ==, 2);
      ack = next_packet (client);
      g_assert_cmpint (ack->type, ==, 3);
      g_assert_cmpstr (ack->nsp, ==, nsp);
      g_assert_cmpint (ack->ack, ==, 7);
      ack_json = json_to_string (ack->data, FALSE);
      g_assert_cmpstr (ack_json, ==, "[{\"ok\":true}]");
    }
}

static void
test_rate_limit (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Client) client = client_open (f->url, NULL, &error);
  g_autofree char *token = mint (f->auth, 600);
  g_autoptr (Packet) limited = NULL;
  g_autoptr (Packet) ack = NULL;
  JsonArray *args;
  JsonObject *info;
  JsonObject *ack_error;

  g_assert_no_error (error);
  assert_connected (client, "/prds", token);

  /* `ping` is in class "pings", 2 per hour (see the fixture's config). */
  for (int i = 0; i < 2; i++)
    {
      g_autoptr (Packet) pong = NULL;
      g_autoptr (Packet) ok = NULL;

      client_send (client, "42/prds,1[\"ping\"]");
      pong = next_packet (client);
      g_assert_cmpint (pong->type, ==, 2);
      ok = next_packet (client);
      g_assert_cmpint (ok->type, ==, 3);
    }

  client_send (client, "42/prds,9[\"ping\"]");
  limited = next_packet (client);
  g_assert_cmpint (limited->type, ==, 2);
  args = json_node_get_array (limited->data);
  g_assert_cmpstr (json_array_get_string_element (args, 0), ==, "rate-limit");
  info = json_array_get_object_element (args, 1);
  g_assert_cmpstr (json_object_get_string_member (info, "message"), ==, "Rate limit exceeded");
  g_assert_cmpint (json_object_get_int_member (info, "limit"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (info, "remaining"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (info, "retryAfter"), >, 0);
  g_assert_cmpint (json_object_get_int_member (info, "retryAfter"), <=, 3600);
  g_assert_true (is_iso_timestamp (json_object_get_string_member (info, "resetTime")));

  ack = next_packet (client);
  g_assert_cmpint (ack->type, ==, 3);
  g_assert_cmpint (ack->ack, ==, 9);
  ack_error = json_object_get_object_member (
      json_array_get_object_element (json_node_get_array (ack->data), 0), "error");
  g_assert_cmpstr (json_object_get_string_member (ack_error, "code"), ==, "RATE_LIMITED");
}

static void
test_shutdown (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Client) client = client_open (f->url, NULL, &error);
  g_autoptr (Client) late = NULL;
  g_autofree char *token = mint (f->auth, 600);
  const char *const names[] = { "/", "/prds", "/notifications" };

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    assert_connected (client, names[i], token);

  prd_hub_stop (f->hub);

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr (Packet) packet = next_packet (client);
      JsonArray *args;
      JsonObject *payload;

      g_assert_cmpint (packet->type, ==, 2);
      g_assert_cmpstr (packet->nsp, ==, names[i]);
      args = json_node_get_array (packet->data);
      g_assert_cmpstr (json_array_get_string_element (args, 0), ==, "server-shutdown");
      payload = json_array_get_object_element (args, 1);
      g_assert_cmpuint (json_object_get_size (payload), ==, 2);
      g_assert_cmpstr (json_object_get_string_member (payload, "message"), ==,
                       "Server shutting down");
      g_assert_true (is_iso_timestamp (json_object_get_string_member (payload, "timestamp")));
    }

  /* Then the engine session ends (an Engine.IO close packet may precede it). */
  while (!client->closed)
    {
      g_autofree char *text = next_message (client);

      g_assert_true (text == NULL || g_str_equal (text, "1"));
    }

  /* Once every session has finished, nothing listens any more. */
  prd_test_wait_while (!prd_hub_is_stopped (f->hub), PRD_TEST_TIMEOUT_MS);
  late = client_open (f->url, NULL, &error);
  g_assert_null (late);
  g_assert_nonnull (error);
}

static void
test_token_expiry (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Client) client = client_open (f->url, NULL, &error);
  g_autoptr (Packet) expired = NULL;
  g_autoptr (Packet) disconnect = NULL;
  g_autofree char *short_lived = mint (f->auth, 2);
  g_autofree char *long_lived = mint (f->auth, 600);
  JsonArray *args;
  JsonObject *payload;

  g_assert_no_error (error);
  assert_connected (client, "/", long_lived);
  assert_connected (client, "/prds", short_lived);

  /* When the token's exp passes, the namespace connection it opened ends. */
  expired = next_packet (client);
  g_assert_cmpint (expired->type, ==, 2);
  g_assert_cmpstr (expired->nsp, ==, "/prds");
  args = json_node_get_array (expired->data);
  g_assert_cmpstr (json_array_get_string_element (args, 0), ==, "error");
  payload = json_array_get_object_element (args, 1);
  g_assert_cmpstr (json_object_get_string_member (payload, "code"), ==, "TOKEN_EXPIRED");
  g_assert_cmpstr (json_object_get_string_member (payload, "message"), ==, "Token expired");
  g_assert_true (is_iso_timestamp (json_object_get_string_member (payload, "timestamp")));
  disconnect = next_packet (client);
  g_assert_cmpint (disconnect->type, ==, 1);
  g_assert_cmpstr (disconnect->nsp, ==, "/prds");

  /* The other namespace, opened with a longer-lived token, stays. */
  client_send (client, "421[\"ping\"]");
  {
    g_autoptr (Packet) pong = next_packet (client);
    g_autoptr (Packet) ack = next_packet (client);

    g_assert_cmpint (pong->type, ==, 2);
    g_assert_cmpstr (pong->nsp, ==, "/");
    g_assert_cmpint (ack->type, ==, 3);
  }
}

static void
test_shutdown_polling (Fixture *f, gconstpointer data)
{
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree char *token = mint (f->auth, 600);
  g_autofree char *open = NULL;
  g_autofree char *connect = NULL;
  g_autofree char *ok = NULL;
  g_autofree char *connected = NULL;
  g_autofree char *shutdown = NULL;
  g_autofree char *sid = NULL;
  g_autoptr (JsonNode) handshake = NULL;
  g_autoptr (Packet) packet = NULL;
  PollResult *held;

  open = poll_request (session, f->url, NULL, NULL);
  g_assert_cmpint (open[0], ==, '0');
  handshake = json_from_string (open + 1, NULL);
  sid = g_strdup (json_object_get_string_member (json_node_get_object (handshake), "sid"));

  connect = g_strdup_printf ("40/prds,{\"token\":\"%s\"}", token);
  ok = poll_request (session, f->url, sid, connect);
  g_assert_cmpstr (ok, ==, "ok");
  connected = poll_request (session, f->url, sid, NULL);
  g_assert_true (g_str_has_prefix (connected, "40/prds,{\"sid\":"));

  /* A GET is held when the hub stops: it must carry the event alone, the
   * close packet coming only in a later response (a client given both in
   * one payload drops the event). */
  held = poll_start (session, f->url, sid, NULL);
  while (!g_main_context_iteration (NULL, FALSE))
    ;
  prd_hub_stop (f->hub);
  shutdown = poll_finish (held);
  g_test_message ("<< %s", shutdown);
  g_assert_null (strchr (shutdown, '\x1e'));
  packet = parse_packet (shutdown);
  g_assert_cmpint (packet->type, ==, 2);
  g_assert_cmpstr (packet->nsp, ==, "/prds");
  g_assert_cmpstr (json_array_get_string_element (json_node_get_array (packet->data), 0), ==,
                   "server-shutdown");

  /* The next GET ends the session, then the hub stops listening. */
  {
    g_autofree char *last = poll_request (session, f->url, sid, NULL);

    g_assert_cmpstr (last, ==, "1");
  }
  prd_test_wait_while (!prd_hub_is_stopped (f->hub), PRD_TEST_TIMEOUT_MS);
}

static char *
make_certificate (const char *dir)
{
  g_autofree char *cert = g_build_filename (dir, "cert.pem", NULL);
  g_autofree char *key = g_build_filename (dir, "key.pem", NULL);
  g_autoptr (GSubprocess) openssl = NULL;
  g_autoptr (GError) error = NULL;

  openssl = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                              &error, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                              "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                              "-addext", "subjectAltName=IP:127.0.0.1", NULL);
  g_assert_no_error (error);
  g_subprocess_wait_check (openssl, NULL, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&cert);
}

static void
test_tls (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *cert_path = make_certificate (f->tmp_dir);
  g_autofree char *key_path = g_build_filename (f->tmp_dir, "key.pem", NULL);
  g_autoptr (GTlsCertificate) cert = NULL;
  g_autoptr (Client) client = NULL;
  g_autoptr (Client) untrusting = NULL;
  g_autofree char *token = mint (f->auth, 600);

  g_assert_true (prd_hub_config_set (f->config, "server", "tls-cert", cert_path, &error));
  g_assert_true (prd_hub_config_set (f->config, "server", "tls-key", key_path, &error));
  g_assert_true (prd_hub_config_validate (f->config, &error));
  g_assert_no_error (error);
  fixture_start (f);
  g_assert_true (g_str_has_prefix (f->url, "https://127.0.0.1:"));

  /* A client that does not trust the certificate cannot connect: TLS is real. */
  untrusting = client_open (f->url, NULL, &error);
  g_assert_null (untrusting);
  g_assert_nonnull (error);
  g_clear_error (&error);

  cert = g_tls_certificate_new_from_file (cert_path, &error);
  g_assert_no_error (error);
  client = client_open (f->url, cert, &error);
  g_assert_no_error (error);
  assert_connected (client, "/prds", token);
}

static void
test_listen_errors (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *bad_cert = g_build_filename (f->tmp_dir, "bad.pem", NULL);
  g_autoptr (PrdHub) tls_hub = NULL;
  g_autoptr (PrdHub) busy_hub = NULL;
  g_autoptr (PrdHubConfig) tls_config = prd_hub_config_new ();
  g_autoptr (PrdHubConfig) busy_config = prd_hub_config_new ();
  g_autoptr (GUri) uri = NULL;
  g_autofree char *busy_listen = NULL;

  /* The port the fixture's hub holds */
  uri = g_uri_parse (f->url, G_URI_FLAGS_NONE, &error);
  g_assert_no_error (error);
  busy_listen = g_strdup_printf ("127.0.0.1:%d", g_uri_get_port (uri));
  g_assert_true (prd_hub_config_set (busy_config, "server", "listen", busy_listen, &error));
  busy_hub = prd_hub_new (busy_config, f->auth);
  g_assert_false (prd_hub_listen (busy_hub, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_assert_true (g_str_has_prefix (error->message, "Cannot listen on 127.0.0.1:"));
  g_clear_error (&error);

  g_file_set_contents (bad_cert, "not a certificate", -1, &error);
  g_assert_no_error (error);
  g_assert_true (prd_hub_config_set (tls_config, "server", "listen", "127.0.0.1:0", &error));
  g_assert_true (prd_hub_config_set (tls_config, "server", "tls-cert", bad_cert, &error));
  g_assert_true (prd_hub_config_set (tls_config, "server", "tls-key", bad_cert, &error));
  tls_hub = prd_hub_new (tls_config, f->auth);
  g_assert_false (prd_hub_listen (tls_hub, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
  g_assert_true (g_str_has_prefix (error->message, "Cannot load the TLS certificate"));
  g_clear_error (&error);

  /* A certificate and the key of another pair: each loads, no handshake
   * would succeed. Refused before listening. */
  {
    g_autofree char *dir_a = g_build_filename (f->tmp_dir, "a", NULL);
    g_autofree char *dir_b = g_build_filename (f->tmp_dir, "b", NULL);
    g_autofree char *cert_a = NULL;
    g_autofree char *cert_b = NULL;
    g_autofree char *key_a = g_build_filename (dir_a, "key.pem", NULL);
    g_autofree char *key_b = g_build_filename (dir_b, "key.pem", NULL);
    g_autoptr (PrdHubConfig) mismatched_config = prd_hub_config_new ();
    g_autoptr (PrdHubConfig) matched_config = prd_hub_config_new ();
    g_autoptr (PrdHub) mismatched_hub = NULL;
    g_autoptr (PrdHub) matched_hub = NULL;

    g_assert_cmpint (g_mkdir (dir_a, 0700), ==, 0);
    g_assert_cmpint (g_mkdir (dir_b, 0700), ==, 0);
    cert_a = make_certificate (dir_a);
    cert_b = make_certificate (dir_b);
    g_assert_true (
        prd_hub_config_set (mismatched_config, "server", "listen", "127.0.0.1:0", &error));
    g_assert_true (prd_hub_config_set (mismatched_config, "server", "tls-cert", cert_a, &error));
    g_assert_true (prd_hub_config_set (mismatched_config, "server", "tls-key", key_b, &error));
    mismatched_hub = prd_hub_new (mismatched_config, f->auth);
    g_assert_false (prd_hub_listen (mismatched_hub, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_CONFIG);
    g_assert_true (g_str_has_prefix (error->message, "Cannot use the TLS certificate"));
    g_assert_nonnull (strstr (error->message, key_b));
    g_clear_error (&error);

    /* Its own key: the check passes. */
    g_assert_true (prd_hub_config_set (matched_config, "server", "listen", "127.0.0.1:0", &error));
    g_assert_true (prd_hub_config_set (matched_config, "server", "tls-cert", cert_b, &error));
    g_assert_true (prd_hub_config_set (matched_config, "server", "tls-key", key_b, &error));
    matched_hub = prd_hub_new (matched_config, f->auth);
    g_assert_true (prd_hub_listen (matched_hub, &error));
    g_assert_no_error (error);
    prd_hub_stop (matched_hub);
  }
}

/* The hub's token watcher goes away while it reads the revocations: the
 * read's answer finds nothing freed (it used to reach a freed object). */
static void
test_tokens_gone_while_reading (void)
{
  g_autofree char *dir = prd_test_make_tmp_dir ("prd-hub-tokens-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "prdhub.db", NULL);
  g_autoptr (GBytes) secret = g_bytes_new_static (SECRET, strlen (SECRET));
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdAuth) auth = prd_auth_new_hmac (secret, &error);
  PrdStore *store = prd_test_store_open (path, &error);
  PrdHubTokens *tokens;

  g_assert_no_error (error);
  for (guint round = 0; round < 20; round++)
    {
      GWeakRef weak;

      tokens = prd_hub_tokens_new (auth, 1);
      g_weak_ref_init (&weak, tokens);
      /* the first read is due at once: the timer starts it */
      prd_hub_tokens_set_store (tokens, PRD_REVOCATION_STORE (store));
      for (guint i = 0; i < round % 4; i++)
        g_main_context_iteration (NULL, FALSE);
      g_object_unref (tokens);
      prd_test_run_for (20);
      g_assert_null (g_weak_ref_get (&weak));
      g_weak_ref_clear (&weak);
    }
  prd_test_store_close (store);
  prd_test_remove_tree (dir);
}

/* A wall clock the test steps, as NTP or date(1) would. */
static gint64
stepped_wall_clock (gpointer user_data)
{
  return g_get_real_time () + *(gint64 *) user_data;
}

typedef struct
{
  PrdAuth *auth;
  PrdIdentity *identity;
} RevokedCheck;

static gboolean
identity_revoked (gpointer data)
{
  RevokedCheck *check = data;

  return prd_auth_is_revoked (check->auth, check->identity);
}

/* The revocations are read every check interval on the monotonic clock: a
 * wall clock set back an hour does not hold the next read back an hour. */
static void
test_tokens_revocations_clock_back (void)
{
  g_autofree char *dir = prd_test_make_tmp_dir ("prd-hub-tokens-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "prdhub.db", NULL);
  g_autoptr (GBytes) secret = g_bytes_new_static (SECRET, strlen (SECRET));
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdAuth) auth = prd_auth_new_hmac (secret, &error);
  g_autoptr (PrdIdentity) alice =
      prd_identity_new ("alice", "Alice", NULL, "org_a", PRD_ROLE_EDITOR, 4102444800);
  g_autoptr (PrdIdentity) bob =
      prd_identity_new ("bob", "Bob", NULL, "org_a", PRD_ROLE_EDITOR, 4102444800);
  PrdStore *store = prd_test_store_open (path, &error);
  PrdRevocationStore *revocations = PRD_REVOCATION_STORE (store);
  g_autoptr (PrdHubTokens) tokens = NULL;
  gint64 offset = 0;

  g_assert_no_error (error);
  alice->iat = bob->iat = 100;
  {
    g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_revocation_store_revoke_async,
                                                      revocations, "org_a", "alice", 200, NULL);
    g_assert_true (prd_revocation_store_revoke_finish (revocations, res, &error));
    g_assert_no_error (error);
  }
  tokens = prd_hub_tokens_new (auth, 1);
  prd_hub_tokens_set_wall_clock (tokens, stepped_wall_clock, &offset);
  prd_hub_tokens_set_store (tokens, revocations);
  /* the first read, due at once */
  prd_test_wait_until (identity_revoked, (&(RevokedCheck){ auth, alice }), PRD_TEST_TIMEOUT_MS);

  offset = -3600 * (gint64) G_USEC_PER_SEC;
  {
    g_autoptr (GAsyncResult) res = PRD_TEST_WAIT_FOR (prd_revocation_store_revoke_async,
                                                      revocations, "org_a", "bob", 200, NULL);
    g_assert_true (prd_revocation_store_revoke_finish (revocations, res, &error));
    g_assert_no_error (error);
  }
  /* read within a second or so; it used to wait for the hour to come back */
  prd_test_wait_until (identity_revoked, (&(RevokedCheck){ auth, bob }), PRD_TEST_TIMEOUT_MS);

  g_clear_object (&tokens);
  prd_test_store_close (store);
  prd_test_remove_tree (dir);
}

/* [rate-limit.events] is checked against a static list of the hub's events
 * while the configuration is validated, before the data folder is touched
 * (prd_hub_config_events): it must be exactly what a hub with every
 * feature started (a store, a secret store for the integrations)
 * registers, so that the two cannot drift apart. */
static void
test_events_listed (void)
{
  g_autofree char *dir = prd_test_make_tmp_dir ("prd-hub-events-XXXXXX");
  g_autofree char *db = g_build_filename (dir, "prdhub.db", NULL);
  g_autoptr (GBytes) secret = g_bytes_new_static (SECRET, strlen (SECRET));
  g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
  g_autoptr (PrdSecretStore) secrets = prd_file_secret_store_new (dir);
  g_autoptr (PrdAuth) auth = NULL;
  g_autoptr (PrdStore) store = NULL;
  g_autoptr (PrdHub) hub = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) registered = NULL;
  g_autofree char *listed = NULL;
  g_autofree char *actual = NULL;

  g_assert_true (prd_hub_config_set (config, "server", "listen", "127.0.0.1:0", &error));
  g_assert_true (prd_hub_config_set (config, "server", "data-dir", dir, &error));
  g_assert_true (prd_hub_config_validate (config, &error));
  g_assert_no_error (error);
  auth = prd_auth_new_hmac (secret, &error);
  g_assert_no_error (error);
  store = prd_test_store_open (db, &error);
  g_assert_no_error (error);
  hub = prd_hub_new (config, auth);
  prd_hub_set_secret_store (hub, secrets);
  prd_hub_set_store_async (hub, store, NULL, prd_test_result_cb, &result);
  g_assert_true (prd_hub_set_store_finish (hub, prd_test_wait_result (&result), &error));
  g_assert_no_error (error);

  registered = prd_sio_server_dup_events (prd_hub_get_sio_server (hub));
  /* Both sorted: compared as one line each, so a failure shows the names. */
  listed = g_strjoinv (" ", (char **) prd_hub_config_events);
  actual = g_strjoinv (" ", registered);
  g_assert_cmpstr (listed, ==, actual);

  g_clear_object (&hub);
  prd_test_store_close (store);
  prd_test_remove_tree (dir);
}

static void
test_create_auth (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("prd-hub-auth-XXXXXX", &error);
  g_autofree char *secret_path = g_build_filename (dir, PRD_HUB_SECRET_FILE, NULL);
  g_autofree char *pub =
      g_test_build_filename (G_TEST_DIST, "data", "auth", "rsa-public.pem", NULL);
  g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
  g_autoptr (PrdAuth) hmac = NULL;
  g_autoptr (PrdAuth) rsa = NULL;

  g_assert_no_error (error);
  g_assert_true (prd_hub_config_set (config, "server", "data-dir", dir, &error));
  hmac = prd_hub_create_auth (config, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (prd_auth_get_algorithm_family (hmac), ==, "HS");
  g_assert_true (g_file_test (secret_path, G_FILE_TEST_IS_REGULAR));

  g_assert_true (prd_hub_config_set (config, "auth", "jwt-public-key", pub, &error));
  rsa = prd_hub_create_auth (config, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (prd_auth_get_algorithm_family (rsa), ==, "RS");

  g_unlink (secret_path);
  g_rmdir (dir);
}

/* ---- the prdhub program ---- */

static GSubprocessLauncher *
launcher_new (const char *secret)
{
  GSubprocessLauncher *launcher =
      g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);

  if (secret != NULL)
    g_subprocess_launcher_setenv (launcher, PRD_HUB_SECRET_ENV, secret, TRUE);
  else
    g_subprocess_launcher_unsetenv (launcher, PRD_HUB_SECRET_ENV);
  return launcher;
}

static const char *
prdhub_bin (void)
{
  const char *bin = g_getenv ("PRDHUB_BIN");

  g_assert_nonnull (bin);
  return bin;
}

static void
test_cli_serve (Fixture *f, gconstpointer data)
{
  g_autoptr (GSubprocessLauncher) launcher = launcher_new (SECRET);
  g_autoptr (GSubprocess) proc = NULL;
  g_autoptr (GDataInputStream) out = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (Client) client = NULL;
  g_autoptr (Packet) shutdown = NULL;
  g_autofree char *line = NULL;
  g_autofree char *url = NULL;
  g_autofree char *rest = NULL;
  g_autofree char *token = mint (f->auth, 600);

  proc = g_subprocess_launcher_spawn (launcher, &error, prdhub_bin (), "serve", "--listen",
                                      "127.0.0.1:0", "--data-dir", f->tmp_dir, NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  g_assert_true (g_regex_match_simple ("^prdhub listening on http://127\\.0\\.0\\.1:[1-9][0-9]*/$",
                                       line, 0, 0));
  url = g_strdup (line + strlen ("prdhub listening on "));

  client = client_open (url, NULL, &error);
  g_assert_no_error (error);
  assert_connected (client, "/prds", token);

  g_subprocess_send_signal (proc, SIGTERM);
  shutdown = next_packet (client);
  g_assert_cmpint (shutdown->type, ==, 2);
  g_assert_cmpstr (json_array_get_string_element (json_node_get_array (shutdown->data), 0), ==,
                   "server-shutdown");

  g_subprocess_wait (proc, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proc));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 0);
  /* Exactly one line on stdout */
  rest = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_null (rest);
}

static void
test_cli_token (Fixture *f, gconstpointer data)
{
  g_autoptr (GSubprocessLauncher) launcher = launcher_new (NULL);
  g_autoptr (GSubprocess) proc = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdAuth) auth = NULL;
  g_autoptr (PrdIdentity) identity = NULL;
  g_autofree char *stdout_text = NULL;
  g_autofree char *stderr_text = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  proc = g_subprocess_launcher_spawn (launcher, &error, prdhub_bin (), "token", "--user", "user_9",
                                      "--name", "Nine", "--org", "org_9", "--role", "admin",
                                      "--avatar", "https://a.example/9.png", "--ttl", "120",
                                      "--data-dir", f->tmp_dir, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, &stdout_text, &stderr_text, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 0);
  g_assert_true (g_str_has_suffix (stdout_text, "\n"));
  g_strstrip (stdout_text);

  /* The secret it generated is the one the hub of that data folder uses. */
  auth = prd_hub_create_auth (f->config, &error);
  g_assert_no_error (error);
  identity = prd_auth_verify (auth, stdout_text, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (identity->user_id, ==, "user_9");
  g_assert_cmpstr (identity->name, ==, "Nine");
  g_assert_cmpstr (identity->org, ==, "org_9");
  g_assert_cmpstr (identity->avatar, ==, "https://a.example/9.png");
  g_assert_cmpint (identity->role, ==, PRD_ROLE_ADMIN);
  g_assert_cmpint (identity->exp, >=, now + 120);
  g_assert_cmpint (identity->exp, <=, now + 121 + 60);
}

static void
test_cli_errors (Fixture *f, gconstpointer data)
{
  /* The exit status, then the command line: 2 for a wrong command line,
   * 1 for a configuration the hub refuses (README, "Exit status"). */
  const char *const cases[][8] = {
    { "2", "token", "--user", "u", "--name", "n", "--role", "overlord" },
    { "2", "token", "--user", "u", "--name", "n", "--ttl", "0" },
    { "2", "token", "--name", "n", NULL },
    { "2", "token", "--user", "u", "--name", "n", "extra-argument" },
    { "1", "serve", "--listen", "nowhere", NULL },
    { "1", "serve", "--tls-cert", "/nonexistent/cert.pem", NULL },
    { "1", "serve", "--log-level", "loud", NULL },
    { "2", "serve", "--no-such-option", NULL },
    { "2", "serve", "extra-argument", NULL },
    { "2", "prd", "frobnicate", NULL },
    { "2", "prd", "create", NULL },
    { "2", "prd", "export", NULL },
    { "2", "secret", NULL },
    { "2", "secret", "set", "Bad", NULL },
    { "2", "secret", "list", "extra-argument", NULL },
    { "2", "discover", "--timeout", "0", NULL },
    { "2", "help", "frobnicate", NULL },
    { "2", "frobnicate", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GSubprocessLauncher) launcher = launcher_new (NULL);
      g_autoptr (GSubprocess) proc = NULL;
      g_autoptr (GError) error = NULL;
      g_autoptr (GPtrArray) argv = g_ptr_array_new ();
      g_autofree char *stdout_text = NULL;
      g_autofree char *stderr_text = NULL;

      g_ptr_array_add (argv, (gpointer) prdhub_bin ());
      for (guint j = 1; j < G_N_ELEMENTS (cases[i]) && cases[i][j] != NULL; j++)
        g_ptr_array_add (argv, (gpointer) cases[i][j]);
      g_ptr_array_add (argv, (gpointer) "--data-dir");
      g_ptr_array_add (argv, f->tmp_dir);
      g_ptr_array_add (argv, NULL);
      proc = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
      g_assert_no_error (error);
      g_subprocess_communicate_utf8 (proc, NULL, NULL, &stdout_text, &stderr_text, &error);
      g_assert_no_error (error);
      g_test_message ("%s → %s", cases[i][1], stderr_text);
      g_assert_true (g_subprocess_get_if_exited (proc));
      g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, atoi (cases[i][0]));
      g_assert_cmpstr (stdout_text, ==, "");
      g_assert_true (g_str_has_prefix (stderr_text, "prdhub: "));
      /* one line */
      g_assert_true (strchr (stderr_text, '\n') == stderr_text + strlen (stderr_text) - 1);
    }
}

/* The Socket.IO layer's limit on requests awaiting their answer stays
 * above [collab] max-pending-acks, so that the collaboration's limit,
 * which names its setting, answers first (docs/protocol.md, "Limits"). */
static void
test_pending_requests (Fixture *f, gconstpointer data)
{
  guint collab = prd_hub_config_get_collab (f->config)->max_pending_acks;
  guint sio = 0;

  g_object_get (prd_hub_get_sio_server (f->hub), "max-pending-acks", &sio, NULL);
  g_assert_cmpuint (collab, ==, data != NULL ? 5000 : 1024);
  g_assert_cmpuint (sio, ==, collab + 1024);
}

/* How many series of prdhub_prd_joined_users @text holds, and the value
 * of the one labelled @prd (-1 when absent). */
static guint
joined_users (const char *text, const char *prd, int *value)
{
  g_autofree char *prefix = g_strdup_printf ("prdhub_prd_joined_users{prd=\"%s\"} ", prd);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  guint n = 0;

  *value = -1;
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "prdhub_prd_joined_users{"))
        n++;
      if (g_str_has_prefix (lines[i], prefix))
        *value = atoi (lines[i] + strlen (prefix));
    }
  return n;
}

/* prdhub_prd_joined_users keeps 256 PRDs, those with the most users (then
 * by id), and sums the users of the others under prd="other". */
static void
test_metrics_prd_cap (void)
{
  g_autoptr (GBytes) secret = g_bytes_new_static (SECRET, strlen (SECRET));
  g_autoptr (PrdAuth) auth = prd_auth_new_hmac (secret, NULL);
  g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
  g_autoptr (PrdEioServer) engine = prd_eio_server_new ();
  g_autoptr (PrdHubMetrics) metrics = prd_hub_metrics_new (engine, auth, config);
  g_autofree char *text = NULL;
  guint member = 0;
  int value;

  /* 256 PRDs: each its own series */
  for (guint i = 0; i < 256; i++)
    {
      g_autofree char *prd = g_strdup_printf ("prd_%03u", i);

      prd_hub_metrics_member_joined (metrics, prd, "a", GUINT_TO_POINTER (++member), "u1");
    }
  /* a second connection of the same user is not a second user */
  prd_hub_metrics_member_joined (metrics, "prd_000", "a", GUINT_TO_POINTER (++member), "u1");
  text = prd_hub_metrics_render (metrics, NULL);
  g_assert_cmpuint (joined_users (text, "other", &value), ==, 256);
  g_assert_cmpint (value, ==, -1);
  g_assert_cmpuint (joined_users (text, "prd_255", &value), ==, 256);
  g_assert_cmpint (value, ==, 1);

  /* 300: the two with three users first, then by id; 44 in "other" */
  for (guint i = 256; i < 300; i++)
    {
      g_autofree char *prd = g_strdup_printf ("prd_%03u", i);

      prd_hub_metrics_member_joined (metrics, prd, "a", GUINT_TO_POINTER (++member), "u1");
      if (i >= 298)
        {
          prd_hub_metrics_member_joined (metrics, prd, "a", GUINT_TO_POINTER (++member), "u2");
          prd_hub_metrics_member_joined (metrics, prd, "a", GUINT_TO_POINTER (++member), "u3");
        }
    }
  g_clear_pointer (&text, g_free);
  text = prd_hub_metrics_render (metrics, NULL);
  g_assert_cmpuint (joined_users (text, "other", &value), ==, 257);
  g_assert_cmpint (value, ==, 44);
  joined_users (text, "prd_299", &value);
  g_assert_cmpint (value, ==, 3);
  joined_users (text, "prd_253", &value);
  g_assert_cmpint (value, ==, 1);
  joined_users (text, "prd_254", &value);
  g_assert_cmpint (value, ==, -1);
  g_assert_true (strstr (text, "{prd=\"prd_298\"} 3\nprdhub_prd_joined_users{prd=\"prd_299\"} 3\n"
                               "prdhub_prd_joined_users{prd=\"prd_000\"} 1\n") != NULL);

  /* an admin sees their organization's PRDs only, and counts them alone */
  prd_hub_metrics_member_joined (metrics, "prd_b", "b", GUINT_TO_POINTER (++member), "u1");
  g_clear_pointer (&text, g_free);
  text = prd_hub_metrics_render (metrics, "b");
  g_assert_cmpuint (joined_users (text, "prd_b", &value), ==, 1);
  g_assert_cmpint (value, ==, 1);
  g_clear_pointer (&text, g_free);
  text = prd_hub_metrics_render (metrics, NULL);
  g_assert_cmpuint (joined_users (text, "other", &value), ==, 257);
  g_assert_cmpint (value, ==, 45);
}

int
main (int argc, char *argv[])
{
  const char *rate_config = "[rate-limit]\npings = 2/3600\n[rate-limit.events]\nping = pings\n";

  g_unsetenv (PRD_HUB_SECRET_ENV);
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/prd/hub/connect-accepted", Fixture, NULL, fixture_setup, test_connect_accepted,
              fixture_teardown);
  g_test_add ("/prd/hub/connect-refused", Fixture, NULL, fixture_setup, test_connect_refused,
              fixture_teardown);
  g_test_add ("/prd/hub/ping", Fixture, NULL, fixture_setup, test_ping, fixture_teardown);
  g_test_add ("/prd/hub/rate-limit", Fixture, rate_config, fixture_setup, test_rate_limit,
              fixture_teardown);
  g_test_add ("/prd/hub/shutdown", Fixture, NULL, fixture_setup, test_shutdown, fixture_teardown);
  g_test_add ("/prd/hub/token-expiry", Fixture, NULL, fixture_setup, test_token_expiry,
              fixture_teardown);
  g_test_add ("/prd/hub/shutdown-polling", Fixture, NULL, fixture_setup, test_shutdown_polling,
              fixture_teardown);
  g_test_add ("/prd/hub/tls", Fixture, NULL, fixture_setup_tls, test_tls, fixture_teardown);
  g_test_add ("/prd/hub/listen-errors", Fixture, NULL, fixture_setup, test_listen_errors,
              fixture_teardown);
  g_test_add ("/prd/hub/pending-requests", Fixture, NULL, fixture_setup, test_pending_requests,
              fixture_teardown);
  g_test_add ("/prd/hub/pending-requests-configured", Fixture,
              "[collab]\nmax-pending-acks = 5000\n", fixture_setup, test_pending_requests,
              fixture_teardown);
  g_test_add_func ("/prd/hub/metrics-prd-cap", test_metrics_prd_cap);
  g_test_add_func ("/prd/hub/create-auth", test_create_auth);
  g_test_add_func ("/prd/hub/events-listed", test_events_listed);
  g_test_add_func ("/prd/hub/tokens-gone-while-reading", test_tokens_gone_while_reading);
  g_test_add_func ("/prd/hub/tokens-revocations-clock-back", test_tokens_revocations_clock_back);
  g_test_add ("/prd/hub/cli-serve", Fixture, NULL, fixture_setup_tls, test_cli_serve,
              fixture_teardown);
  g_test_add ("/prd/hub/cli-token", Fixture, NULL, fixture_setup_tls, test_cli_token,
              fixture_teardown);
  g_test_add ("/prd/hub/cli-errors", Fixture, NULL, fixture_setup_tls, test_cli_errors,
              fixture_teardown);

  return g_test_run ();
}
