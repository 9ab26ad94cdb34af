/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The Socket.IO server against raw clients: a real SoupServer with a
 * PrdEioServer and a PrdSioServer on 127.0.0.1:0, driven with SoupSession
 * WebSockets (and HTTP long-polling) that speak the wire format by hand, so
 * every byte the server sends is checked.
 *
 * Nothing here waits for a fixed time: "X did not arrive" is shown by a
 * later reply on the same connection arriving first.
 */
#define G_LOG_DOMAIN "prd-test"

#include "config.h"

#include <libsoup/soup.h>
#include <string.h>

#include "prd-test-harness.h"
#include "prd-error.h"
#include "prd-json.h"
#include "prd-sio-private.h"
#include "prd-sio-server.h"

typedef struct
{
  SoupServer *soup;
  PrdEioServer *eio;
  PrdSioServer *sio;
  SoupSession *session;
  GUri *base;
  GPtrArray *disconnections; /* (element-type utf8) "nsp:reason" */
  guint n_connections;
  gboolean auth_kept; /* the last connected socket has its CONNECT payload */
} Fixture;

typedef struct
{
  gboolean binary;
  GBytes *data;
} Message;

typedef struct
{
  SoupWebsocketConnection *ws;
  GQueue messages; /* Message* */
  gboolean closed;
} Client;

static void
message_free (Message *message)
{
  g_bytes_unref (message->data);
  g_free (message);
}

/* ---- server side -------------------------------------------------------- */

static JsonArray *
args_from_json (const char *json)
{
  g_autoptr (JsonNode) node = json_from_string (json, NULL);

  g_assert_nonnull (node);
  return json_array_ref (json_node_get_array (node));
}

static void
on_echo (PrdSioSocket *socket,
         const char *event,
         JsonArray *args,
         GPtrArray *attachments,
         gint64 ack_id,
         gpointer user_data)
{
  if (ack_id >= 0)
    prd_sio_socket_ack (socket, ack_id, args, attachments);
  else
    prd_sio_socket_emit (socket, "echo-back", args, attachments);
}

/* raw(text): @text back as the arguments, written as JSON text already: in
 * the ack when asked for one, else as `raw-back` to the socket and as
 * `raw-room` to the socket's room but the socket */
static void
on_raw (PrdSioSocket *socket,
        const char *event,
        JsonArray *args,
        GPtrArray *attachments,
        gint64 ack_id,
        gpointer user_data)
{
  const char *text = json_array_get_string_element (args, 0);

  if (ack_id >= 0)
    {
      prd_sio_socket_ack_raw (socket, ack_id, text, -1);
      return;
    }
  prd_sio_socket_emit_raw (socket, "raw-back", text, (gssize) strlen (text));
  prd_sio_namespace_emit_raw (prd_sio_socket_get_namespace (socket), "r1", socket, "raw\"room",
                              text, -1);
}

static void
on_join (PrdSioSocket *socket,
         const char *event,
         JsonArray *args,
         GPtrArray *attachments,
         gint64 ack_id,
         gpointer user_data)
{
  g_autoptr (JsonNode) yes = json_node_init_boolean (json_node_alloc (), TRUE);

  prd_sio_socket_join (socket, json_array_get_string_element (args, 0));
  prd_sio_socket_ack_one (socket, ack_id, yes);
}

/* shout(room, ...rest): everything after the room to the room but the sender */
static void
on_shout (PrdSioSocket *socket,
          const char *event,
          JsonArray *args,
          GPtrArray *attachments,
          gint64 ack_id,
          gpointer user_data)
{
  g_autoptr (JsonArray) rest = json_array_new ();

  for (guint i = 1; i < json_array_get_length (args); i++)
    json_array_add_element (rest, json_node_copy (json_array_get_element (args, i)));
  prd_sio_namespace_emit (prd_sio_socket_get_namespace (socket),
                          json_array_get_string_element (args, 0), socket, "shout", rest, NULL);
}

static void
on_limited (PrdSioSocket *socket,
            const char *event,
            JsonArray *args,
            GPtrArray *attachments,
            gint64 ack_id,
            gpointer user_data)
{
  g_autoptr (JsonArray) reply = args_from_json ("[{\"ok\":true}]");

  prd_sio_socket_ack (socket, ack_id, reply, NULL);
}

static void
on_ack_twice (PrdSioSocket *socket,
              const char *event,
              JsonArray *args,
              GPtrArray *attachments,
              gint64 ack_id,
              gpointer user_data)
{
  g_autoptr (JsonArray) first = args_from_json ("[1]");
  g_autoptr (JsonArray) second = args_from_json ("[2]");

  prd_sio_socket_ack (socket, ack_id, first, NULL);
  prd_sio_socket_ack (socket, ack_id, second, NULL);
  prd_sio_socket_ack (socket, ack_id + 1000, second, NULL);
}

static void
on_bye (PrdSioSocket *socket,
        const char *event,
        JsonArray *args,
        GPtrArray *attachments,
        gint64 ack_id,
        gpointer user_data)
{
  prd_sio_socket_disconnect (socket);
}

/* hold: keeps the ack for release to answer */
static void
on_hold (PrdSioSocket *socket,
         const char *event,
         JsonArray *args,
         GPtrArray *attachments,
         gint64 ack_id,
         gpointer user_data)
{
  GArray *held = g_object_get_data (G_OBJECT (socket), "held");

  if (held == NULL)
    {
      held = g_array_new (FALSE, FALSE, sizeof (gint64));
      g_object_set_data_full (G_OBJECT (socket), "held", held, (GDestroyNotify) g_array_unref);
    }
  g_array_append_val (held, ack_id);
}

static void
on_release (PrdSioSocket *socket,
            const char *event,
            JsonArray *args,
            GPtrArray *attachments,
            gint64 ack_id,
            gpointer user_data)
{
  GArray *held = g_object_get_data (G_OBJECT (socket), "held");

  for (guint i = 0; held != NULL && i < held->len; i++)
    prd_sio_socket_ack (socket, g_array_index (held, gint64, i), NULL, NULL);
  g_object_set_data (G_OBJECT (socket), "held", NULL);
}

/* count(room): ack with how many sockets the room holds */
static void
on_count (PrdSioSocket *socket,
          const char *event,
          JsonArray *args,
          GPtrArray *attachments,
          gint64 ack_id,
          gpointer user_data)
{
  g_autoptr (GPtrArray) sockets = prd_sio_namespace_get_room_sockets (
      prd_sio_socket_get_namespace (socket), json_array_get_string_element (args, 0));
  g_autoptr (JsonNode) n = json_node_init_int (json_node_alloc (), sockets->len);

  prd_sio_socket_ack_one (socket, ack_id, n);
}

static void
on_catch_all (PrdSioSocket *socket,
              const char *event,
              JsonArray *args,
              GPtrArray *attachments,
              gint64 ack_id,
              gpointer user_data)
{
  g_autoptr (JsonArray) reply = json_array_new ();

  json_array_add_string_element (reply, "caught");
  json_array_add_string_element (reply, event);
  prd_sio_socket_ack (socket, ack_id, reply, NULL);
}

static gboolean
admin_connect (PrdSioNamespace *nsp,
               PrdSioSocket *socket,
               JsonNode *auth,
               char **error_message,
               JsonNode **error_data,
               gpointer user_data)
{
  const char *token = NULL;

  if (auth != NULL)
    token = json_object_get_string_member_with_default (json_node_get_object (auth), "token", NULL);
  if (g_strcmp0 (token, "good") == 0)
    {
      /* {"user": key}: the socket's events count for that key */
      prd_sio_socket_set_rate_key (socket, json_object_get_string_member_with_default (
                                               json_node_get_object (auth), "user", NULL));
      /* as the hub's hook: each accepted CONNECT is charged to the key's
       * "connect" class, when it has a limit */
      if (!prd_sio_socket_consume_rate (socket, "connect", NULL))
        {
          *error_message = g_strdup ("Rate limit exceeded");
          *error_data = json_from_string ("{\"code\":\"RATE_LIMITED\"}", NULL);
          return FALSE;
        }
      return TRUE;
    }
  if (g_strcmp0 (token, "nodata") == 0)
    {
      *error_message = g_strdup ("no data");
      return FALSE;
    }
  *error_message = g_strdup ("not authorized");
  *error_data = json_from_string ("{\"code\":\"AUTHENTICATION_FAILED\"}", NULL);
  return FALSE;
}

/* The sockets in @room: exactly @expected (or none). */
static void
assert_room_is (PrdSioNamespace *nsp, const char *room, PrdSioSocket *expected)
{
  g_autoptr (GPtrArray) sockets = prd_sio_namespace_get_room_sockets (nsp, room);

  g_assert_cmpuint (sockets->len, ==, expected != NULL ? 1 : 0);
  if (expected != NULL)
    g_assert_true (g_ptr_array_index (sockets, 0) == expected);
}

static void
on_connection (PrdSioNamespace *nsp, PrdSioSocket *socket, Fixture *fixture)
{
  const char *id = prd_sio_socket_get_id (socket);

  g_assert_true (prd_sio_socket_is_connected (socket));
  g_assert_true (prd_sio_socket_in_room (socket, id));
  g_assert_nonnull (prd_sio_socket_get_engine (socket));
  /* The room named by its id holds the socket, can be left and joined. */
  assert_room_is (nsp, id, socket);
  prd_sio_socket_leave (socket, id);
  g_assert_false (prd_sio_socket_in_room (socket, id));
  assert_room_is (nsp, id, NULL);
  prd_sio_socket_join (socket, id);
  g_assert_true (prd_sio_socket_in_room (socket, id));
  assert_room_is (nsp, id, socket);
  fixture->auth_kept = prd_sio_socket_get_auth (socket) != NULL;
  fixture->n_connections++;
}

static void
on_disconnection (PrdSioNamespace *nsp, PrdSioSocket *socket, const char *reason, Fixture *fixture)
{
  g_assert_false (prd_sio_socket_is_connected (socket));
  g_assert_false (prd_sio_socket_in_room (socket, prd_sio_socket_get_id (socket)));
  assert_room_is (nsp, prd_sio_socket_get_id (socket), NULL);
  g_ptr_array_add (fixture->disconnections,
                   g_strdup_printf ("%s:%s", prd_sio_namespace_get_name (nsp), reason));
}

static void
setup_namespace (Fixture *fixture, PrdSioNamespace *nsp)
{
  prd_sio_namespace_on (nsp, "echo", on_echo, NULL);
  prd_sio_namespace_on (nsp, "raw", on_raw, NULL);
  prd_sio_namespace_on (nsp, "join", on_join, NULL);
  prd_sio_namespace_on (nsp, "shout", on_shout, NULL);
  prd_sio_namespace_on (nsp, "limited", on_limited, NULL);
  prd_sio_namespace_on (nsp, "ack-twice", on_ack_twice, NULL);
  prd_sio_namespace_on (nsp, "bye", on_bye, NULL);
  prd_sio_namespace_on (nsp, "count", on_count, NULL);
  prd_sio_namespace_on (nsp, "hold", on_hold, NULL);
  prd_sio_namespace_on (nsp, "release", on_release, NULL);
  g_signal_connect (nsp, "connection", G_CALLBACK (on_connection), fixture);
  g_signal_connect (nsp, "disconnection", G_CALLBACK (on_disconnection), fixture);
}

static void
fixture_setup (Fixture *fixture, gconstpointer user_data)
{
  guint connect_timeout = GPOINTER_TO_UINT (user_data);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSList) uris = NULL;
  PrdSioNamespace *nsp;

  fixture->disconnections = g_ptr_array_new_with_free_func (g_free);
  fixture->soup = soup_server_new (NULL, NULL);
  fixture->eio = prd_eio_server_new ();
  prd_eio_server_attach (fixture->eio, fixture->soup, "/socket.io/");
  fixture->sio = prd_sio_server_new (fixture->eio);
  if (connect_timeout != 0)
    g_object_set (fixture->sio, "connect-timeout", connect_timeout, NULL);

  setup_namespace (fixture, prd_sio_server_of (fixture->sio, "/"));
  setup_namespace (fixture, prd_sio_server_of (fixture->sio, "/custom"));
  nsp = prd_sio_server_of (fixture->sio, "/admin");
  setup_namespace (fixture, nsp);
  prd_sio_namespace_set_connect_func (nsp, admin_connect, NULL, NULL);
  prd_sio_namespace_set_keep_auth (nsp, FALSE);
  nsp = prd_sio_server_of (fixture->sio, "/catch");
  prd_sio_namespace_set_catch_all (nsp, on_catch_all, NULL);
  g_assert_true (prd_sio_server_lookup (fixture->sio, "/catch") == nsp);
  g_assert_null (prd_sio_server_lookup (fixture->sio, "/nope"));

  g_object_set (fixture->sio, "max-pending-acks", 3, NULL);
  prd_sio_server_set_event_class (fixture->sio, "limited", "chat");
  prd_sio_server_set_rate_limit (fixture->sio, "chat", 2, 60);

  soup_server_listen_local (fixture->soup, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (fixture->soup);
  g_assert_nonnull (uris);
  fixture->base = g_uri_ref (uris->data);
  g_slist_free_full (g_steal_pointer (&uris), (GDestroyNotify) g_uri_unref);

  fixture->session = soup_session_new ();
}

static void
fixture_teardown (Fixture *fixture, gconstpointer user_data)
{
  g_clear_object (&fixture->session);
  prd_eio_server_close_all (fixture->eio);
  soup_server_disconnect (fixture->soup);
  g_clear_object (&fixture->sio);
  g_clear_object (&fixture->eio);
  g_clear_object (&fixture->soup);
  g_clear_pointer (&fixture->base, g_uri_unref);
  g_clear_pointer (&fixture->disconnections, g_ptr_array_unref);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* ---- raw WebSocket client ----------------------------------------------- */

static void
on_ws_message (SoupWebsocketConnection *ws, int type, GBytes *data, Client *client)
{
  Message *message = g_new0 (Message, 1);

  message->binary = type == SOUP_WEBSOCKET_DATA_BINARY;
  message->data = g_bytes_ref (data);
  g_queue_push_tail (&client->messages, message);
}

static void
on_ws_closed (SoupWebsocketConnection *ws, Client *client)
{
  client->closed = TRUE;
}

static void
on_ws_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SoupWebsocketConnection **ws = user_data;
  g_autoptr (GError) error = NULL;

  *ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  g_assert_no_error (error);
}

static char *
endpoint (Fixture *fixture, const char *scheme, const char *query)
{
  return g_strdup_printf ("%s://127.0.0.1:%d/socket.io/?EIO=4&%s", scheme,
                          g_uri_get_port (fixture->base), query);
}

/* Next message that is not an Engine.IO ping (pings are answered); NULL
 * once the connection is closed. */
static Message *
client_next (Client *client)
{
  for (;;)
    {
      Message *message;

      prd_test_wait_while (g_queue_is_empty (&client->messages) && !client->closed,
                           PRD_TEST_TIMEOUT_MS);
      message = g_queue_pop_head (&client->messages);
      if (message == NULL)
        return NULL;
      if (!message->binary && g_bytes_get_size (message->data) == 1 &&
          *(const char *) g_bytes_get_data (message->data, NULL) == '2')
        {
          soup_websocket_connection_send_text (client->ws, "3");
          message_free (message);
          continue;
        }
      return message;
    }
}

/* The next message's text, without the Engine.IO "4" */
static char *
client_next_text (Client *client)
{
  Message *message = client_next (client);
  gsize len;
  const char *data;
  char *text;

  g_assert_nonnull (message);
  g_assert_false (message->binary);
  data = g_bytes_get_data (message->data, &len);
  g_assert_cmpuint (len, >, 0);
  g_assert_cmpint (data[0], ==, '4');
  text = g_strndup (data + 1, len - 1);
  message_free (message);
  return text;
}

static void
client_expect (Client *client, const char *expected)
{
  g_autofree char *text = client_next_text (client);

  g_assert_cmpstr (text, ==, expected);
}

static void
client_expect_binary (Client *client, const char *bytes, gsize len)
{
  Message *message = client_next (client);

  g_assert_nonnull (message);
  g_assert_true (message->binary);
  g_assert_cmpmem (g_bytes_get_data (message->data, NULL), g_bytes_get_size (message->data), bytes,
                   len);
  message_free (message);
}

/* The server must close the session, sending nothing but pings first. */
static void
client_expect_closed (Client *client)
{
  Message *message = client_next (client);

  if (message != NULL)
    g_error ("expected the connection to close, got %.*s", (int) g_bytes_get_size (message->data),
             (const char *) g_bytes_get_data (message->data, NULL));
}

static void
client_send (Client *client, const char *sio_text)
{
  g_autofree char *text = g_strconcat ("4", sio_text, NULL);

  /* a closed connection shows in the next expectation */
  if (soup_websocket_connection_get_state (client->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  soup_websocket_connection_send_text (client->ws, text);
}

static void
client_send_binary (Client *client, const char *bytes, gsize len)
{
  if (soup_websocket_connection_get_state (client->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  soup_websocket_connection_send_binary (client->ws, bytes, len);
}

static Client *
client_new (Fixture *fixture)
{
  g_autofree char *url = endpoint (fixture, "ws", "transport=websocket");
  g_autoptr (SoupMessage) msg = soup_message_new (SOUP_METHOD_GET, url);
  Client *client = g_new0 (Client, 1);
  Message *open;

  soup_session_websocket_connect_async (fixture->session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                        on_ws_connected, &client->ws);
  prd_test_wait_while (client->ws == NULL, PRD_TEST_TIMEOUT_MS);
  g_signal_connect (client->ws, "message", G_CALLBACK (on_ws_message), client);
  g_signal_connect (client->ws, "closed", G_CALLBACK (on_ws_closed), client);

  open = client_next (client);
  g_assert_nonnull (open);
  g_assert_cmpint (*(const char *) g_bytes_get_data (open->data, NULL), ==, '0');
  message_free (open);
  return client;
}

/* CONNECTs to @nsp and returns the socket id the server gave */
static char *
client_connect (Client *client, const char *nsp)
{
  g_autofree char *request = NULL;
  g_autofree char *prefix = NULL;
  g_autofree char *reply = NULL;
  g_autoptr (JsonNode) node = NULL;

  prefix = g_strcmp0 (nsp, "/") == 0 ? g_strdup ("0") : g_strdup_printf ("0%s,", nsp);
  request = g_strdup (prefix);
  client_send (client, request);
  reply = client_next_text (client);
  g_assert_true (g_str_has_prefix (reply, prefix));
  node = json_from_string (reply + strlen (prefix), NULL);
  g_assert_nonnull (node);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  return g_strdup (json_object_get_string_member (json_node_get_object (node), "sid"));
}

/* CONNECTs to @nsp with @auth (JSON) and expects it accepted */
static void
client_connect_with (Client *client, const char *nsp, const char *auth)
{
  g_autofree char *request = g_strdup_printf ("0%s,%s", nsp, auth);
  g_autofree char *prefix = g_strdup_printf ("0%s,{\"sid\":", nsp);
  g_autofree char *reply = NULL;

  client_send (client, request);
  reply = client_next_text (client);
  g_assert_true (g_str_has_prefix (reply, prefix));
}

static void
client_free (Client *client)
{
  if (!client->closed)
    {
      soup_websocket_connection_close (client->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      prd_test_wait_while (!client->closed, PRD_TEST_TIMEOUT_MS);
    }
  g_queue_clear_full (&client->messages, (GDestroyNotify) message_free);
  g_object_unref (client->ws);
  g_free (client);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Client, client_free)

static void
wait_for_disconnections (Fixture *fixture, guint n)
{
  prd_test_wait_while (fixture->disconnections->len < n, PRD_TEST_TIMEOUT_MS);
}

/* ---- tests -------------------------------------------------------------- */

static void
test_connect (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) client = client_new (fixture);
  g_autofree char *sid = NULL;
  g_autofree char *reply = NULL;

  client_send (client, "0");
  reply = client_next_text (client);
  g_assert_true (g_str_has_prefix (reply, "0{\"sid\":\""));
  g_assert_true (g_str_has_suffix (reply, "\"}"));
  sid = g_strndup (reply + 9, strlen (reply) - 11);
  /* 128 random bits, base64url */
  g_assert_cmpuint (strlen (sid), ==, 22);
  g_assert_cmpuint (fixture->n_connections, ==, 1);
  g_assert_cmpuint (prd_sio_namespace_get_n_sockets (prd_sio_server_of (fixture->sio, "/")), ==, 1);

  client_send (client, "2[\"echo\",1,\"2\",{\"3\":[true]}]");
  client_expect (client, "2[\"echo-back\",1,\"2\",{\"3\":[true]}]");
}

static void
test_socket_ids_differ (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) a = client_new (fixture);
  g_autoptr (Client) b = client_new (fixture);
  g_autofree char *sid_a = client_connect (a, "/");
  g_autofree char *sid_b = client_connect (b, "/");
  g_autofree char *sid_a2 = client_connect (a, "/custom");

  g_assert_cmpstr (sid_a, !=, sid_b);
  g_assert_cmpstr (sid_a, !=, sid_a2);
}

static void
test_auth (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) client = client_new (fixture);
  g_autofree char *reply = NULL;

  client_send (client, "0/admin,{\"token\":\"bad\"}");
  client_expect (
      client,
      "4/admin,{\"message\":\"not authorized\",\"data\":{\"code\":\"AUTHENTICATION_FAILED\"}}");
  client_send (client, "0/admin,");
  client_expect (
      client,
      "4/admin,{\"message\":\"not authorized\",\"data\":{\"code\":\"AUTHENTICATION_FAILED\"}}");
  client_send (client, "0/admin,{\"token\":\"nodata\"}");
  client_expect (client, "4/admin,{\"message\":\"no data\"}");
  g_assert_cmpuint (fixture->n_connections, ==, 0);

  /* a refusal leaves the session open for another try */
  client_send (client, "0/admin,{\"token\":\"good\"}");
  reply = client_next_text (client);
  g_assert_true (g_str_has_prefix (reply, "0/admin,{\"sid\":"));
  g_assert_cmpuint (fixture->n_connections, ==, 1);
  /* /admin does not keep the payload its connect function checked */
  g_assert_false (fixture->auth_kept);
  client_send (client, "2/admin,1[\"echo\",\"x\"]");
  client_expect (client, "3/admin,1[\"x\"]");

  /* the other namespaces keep it */
  g_clear_pointer (&reply, g_free);
  client_send (client, "0/custom,{\"a\":1}");
  reply = client_next_text (client);
  g_assert_true (g_str_has_prefix (reply, "0/custom,{\"sid\":"));
  g_assert_true (fixture->auth_kept);
}

static void
test_invalid_namespace (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) client = client_new (fixture);
  g_autofree char *sid = NULL;

  client_send (client, "0/random");
  client_expect (client, "4/random,{\"message\":\"Invalid namespace\"}");
  client_send (client, "0/random,{\"token\":\"x\"}");
  client_expect (client, "4/random,{\"message\":\"Invalid namespace\"}");
  sid = client_connect (client, "/");
  g_assert_nonnull (sid);
}

static void
test_multiplexing (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) client = client_new (fixture);
  g_autofree char *sid = client_connect (client, "/");
  g_autofree char *sid_custom = client_connect (client, "/custom");

  client_send (client, "2/custom,[\"echo\",\"c\"]");
  client_expect (client, "2/custom,[\"echo-back\",\"c\"]");
  client_send (client, "2[\"echo\",\"m\"]");
  client_expect (client, "2[\"echo-back\",\"m\"]");

  /* leaving one namespace keeps the session and the other namespace */
  client_send (client, "1/custom,");
  client_send (client, "27[\"echo\",\"still\"]");
  client_expect (client, "37[\"still\"]");
  g_assert_cmpuint (fixture->disconnections->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (fixture->disconnections, 0), ==,
                   "/custom:client namespace disconnect");

  /* and it can come back */
  g_clear_pointer (&sid_custom, g_free);
  sid_custom = client_connect (client, "/custom");

  /* leaving the main namespace keeps the session too */
  client_send (client, "1");
  client_send (client, "2/custom,8[\"echo\",\"x\"]");
  client_expect (client, "3/custom,8[\"x\"]");

  /* a packet for the namespace it left ends the session */
  client_send (client, "2[\"echo\",\"m\"]");
  client_expect_closed (client);
  wait_for_disconnections (fixture, 3);
  g_assert_cmpstr (g_ptr_array_index (fixture->disconnections, 2), ==, "/custom:forced close");
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static void
test_engine_close (Fixture *fixture, gconstpointer user_data)
{
  Client *client = client_new (fixture);
  g_autofree char *sid = client_connect (client, "/");
  g_autofree char *sid_custom = client_connect (client, "/custom");

  /* every namespace socket hears the engine's reason */
  client_free (client);
  wait_for_disconnections (fixture, 2);
  g_ptr_array_sort (fixture->disconnections, compare_strings);
  g_assert_cmpstr (g_ptr_array_index (fixture->disconnections, 0), ==, "/:transport close");
  g_assert_cmpstr (g_ptr_array_index (fixture->disconnections, 1), ==, "/custom:transport close");
  g_assert_cmpuint (prd_sio_namespace_get_n_sockets (prd_sio_server_of (fixture->sio, "/")), ==, 0);
}

static void
test_acks (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) client = client_new (fixture);
  g_autofree char *sid = client_connect (client, "/");

  client_send (client, "2456[\"echo\",1,\"2\",{\"3\":[false]}]");
  client_expect (client, "3456[1,\"2\",{\"3\":[false]}]");
  client_send (client, "20[\"echo\"]");
  client_expect (client, "30[]");

  /* a second ack, and an ack nobody asked for, are not sent */
  client_send (client, "25[\"ack-twice\"]");
  client_expect (client, "35[1]");
  client_send (client, "26[\"echo\",\"after\"]");
  client_expect (client, "36[\"after\"]");

  /* acks from the client are ignored */
  client_send (client, "31[\"unsolicited\"]");
  client_send (client, "27[\"echo\"]");
  client_expect (client, "37[]");
}

static void
test_binary (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) client = client_new (fixture);
  g_autofree char *sid = client_connect (client, "/");

  client_send (client,
               "52-[\"echo\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]");
  client_send_binary (client, "\1\2\3", 3);
  client_send_binary (client, "\4\5\6", 3);
  client_expect (
      client,
      "52-[\"echo-back\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]");
  client_expect_binary (client, "\1\2\3", 3);
  client_expect_binary (client, "\4\5\6", 3);

  client_send (client, "51-789[\"echo\",\"x\",{\"_placeholder\":true,\"num\":0}]");
  client_send_binary (client, "\0\377", 2);
  client_expect (client, "61-789[\"x\",{\"_placeholder\":true,\"num\":0}]");
  client_expect_binary (client, "\0\377", 2);
}

static void
test_binary_interrupted (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) client = client_new (fixture);
  g_autofree char *sid = client_connect (client, "/");

  client_send (client,
               "52-[\"echo\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]");
  client_send_binary (client, "\1\2\3", 3);
  client_send (client, "2[\"echo\"]");
  client_expect_closed (client);
}

static void
test_unexpected_binary (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) client = client_new (fixture);
  g_autofree char *sid = client_connect (client, "/");

  client_send_binary (client, "\1\2\3", 3);
  client_expect_closed (client);
  wait_for_disconnections (fixture, 1);
  g_assert_cmpstr (g_ptr_array_index (fixture->disconnections, 0), ==, "/:parse error");
}

static void
test_rooms (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) a = client_new (fixture);
  g_autoptr (Client) b = client_new (fixture);
  g_autoptr (Client) c = client_new (fixture);
  g_autofree char *sid_a = client_connect (a, "/");
  g_autofree char *sid_b = client_connect (b, "/");
  g_autofree char *sid_c = client_connect (c, "/");
  g_autofree char *to_a = NULL;
  g_autofree char *expected = NULL;

  client_send (a, "21[\"join\",\"r1\"]");
  client_expect (a, "31[true]");
  client_send (b, "21[\"join\",\"r1\"]");
  client_expect (b, "31[true]");
  client_send (c, "21[\"count\",\"r1\"]");
  client_expect (c, "31[2]");

  /* to the room but the sender */
  client_send (a, "2[\"shout\",\"r1\",\"hello\",{\"n\":1}]");
  client_expect (b, "2[\"shout\",\"hello\",{\"n\":1}]");
  client_send (a, "22[\"echo\"]");
  client_expect (a, "32[]");
  client_send (c, "22[\"echo\"]");
  client_expect (c, "32[]");

  /* every socket is in the room named by its id */
  to_a = g_strdup_printf ("2[\"shout\",\"%s\",\"direct\"]", sid_a);
  client_send (c, to_a);
  client_expect (a, "2[\"shout\",\"direct\"]");
  client_send (b, "23[\"echo\"]");
  client_expect (b, "33[]");

  /* a disconnected socket leaves its rooms */
  client_free (g_steal_pointer (&b));
  wait_for_disconnections (fixture, 1);
  client_send (c, "24[\"count\",\"r1\"]");
  client_expect (c, "34[1]");
  expected = g_strdup_printf ("25[\"count\",\"%s\"]", sid_b);
  client_send (c, expected);
  client_expect (c, "35[0]");
}

static void
test_broadcast_namespace (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) a = client_new (fixture);
  g_autoptr (Client) b = client_new (fixture);
  g_autofree char *sid_a = client_connect (a, "/");
  g_autofree char *sid_b = client_connect (b, "/");
  g_autofree char *sid_a_custom = client_connect (a, "/custom");
  g_autoptr (JsonNode) payload = json_from_string ("{\"all\":true}", NULL);

  prd_sio_namespace_emit_one (prd_sio_server_of (fixture->sio, "/"), NULL, NULL, "news", payload);
  client_expect (a, "2[\"news\",{\"all\":true}]");
  client_expect (b, "2[\"news\",{\"all\":true}]");
  prd_sio_namespace_emit_one (prd_sio_server_of (fixture->sio, "/custom"), NULL, NULL, "news",
                              payload);
  client_expect (a, "2/custom,[\"news\",{\"all\":true}]");
  client_send (b, "21[\"echo\"]");
  client_expect (b, "31[]");
}

/* Arguments written as JSON text already reach clients as the tree path
 * would write them; the event name is escaped. */
static void
test_emit_raw (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) a = client_new (fixture);
  g_autoptr (Client) b = client_new (fixture);
  g_autofree char *sid_a = client_connect (a, "/");
  g_autofree char *sid_b = client_connect (b, "/");
  g_autofree char *sid_a_custom = client_connect (a, "/custom");
  g_autofree char *sid_b_custom = client_connect (b, "/custom");

  client_send (a, "2/custom,1[\"join\",\"r1\"]");
  client_expect (a, "3/custom,1[true]");
  client_send (b, "2/custom,1[\"join\",\"r1\"]");
  client_expect (b, "3/custom,1[true]");

  prd_sio_namespace_emit_raw (prd_sio_server_of (fixture->sio, "/"), NULL, NULL, "news",
                              "{\"all\":true}", -1);
  client_expect (a, "2[\"news\",{\"all\":true}]");
  client_expect (b, "2[\"news\",{\"all\":true}]");
  prd_sio_namespace_emit_raw (prd_sio_server_of (fixture->sio, "/"), NULL, NULL, "n\x01\\\"", NULL,
                              -1);
  client_expect (a, "2[\"n\\u0001\\\\\\\"\"]");
  client_expect (b, "2[\"n\\u0001\\\\\\\"\"]");

  /* an ack, an event to one socket, one to a room but the sender */
  client_send (a, "2/custom,7[\"raw\",\"{\\\"ok\\\":true},[1,2]\"]");
  client_expect (a, "3/custom,7[{\"ok\":true},[1,2]]");
  client_send (a, "2/custom,[\"raw\",\"\\\"\\u00e9\\\\u001f\\\"\"]");
  client_expect (a, "2/custom,[\"raw-back\",\"\u00e9\\u001f\"]");
  client_expect (b, "2/custom,[\"raw\\\"room\",\"\u00e9\\u001f\"]");
  client_send (a, "2/custom,8[\"raw\",\"\"]");
  client_expect (a, "3/custom,8[]");
  client_send (b, "21[\"echo\"]");
  client_expect (b, "31[]");
}

static void
test_unknown_event (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) client = client_new (fixture);
  g_autofree char *sid = client_connect (client, "/");
  g_autofree char *error_event = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (GDateTime) timestamp = NULL;
  JsonArray *array;
  JsonObject *error;

  client_send (client, "25[\"nope\",1]");
  error_event = client_next_text (client);
  g_assert_true (g_str_has_prefix (error_event, "2[\"error\","));
  node = json_from_string (error_event + 1, NULL);
  array = json_node_get_array (node);
  g_assert_cmpuint (json_array_get_length (array), ==, 2);
  error = json_array_get_object_element (array, 1);
  g_assert_cmpuint (json_object_get_size (error), ==, 4);
  g_assert_cmpstr (json_object_get_string_member (error, "code"), ==, "UNKNOWN_EVENT");
  g_assert_cmpstr (json_object_get_string_member (error, "message"), ==, "Unknown event 'nope'");
  g_assert_cmpstr (json_object_get_string_member (error, "event"), ==, "nope");
  g_assert_true (g_str_has_suffix (json_object_get_string_member (error, "timestamp"), "Z"));
  timestamp =
      g_date_time_new_from_iso8601 (json_object_get_string_member (error, "timestamp"), NULL);
  g_assert_nonnull (timestamp);
  client_expect (
      client, "35[{\"error\":{\"code\":\"UNKNOWN_EVENT\",\"message\":\"Unknown event 'nope'\"}}]");

  /* without an ack only the error event */
  client_send (client, "2[42]");
  g_clear_pointer (&error_event, g_free);
  error_event = client_next_text (client);
  g_assert_true (g_str_has_prefix (error_event,
                                   "2[\"error\",{\"code\":\"UNKNOWN_EVENT\",\"message\":\"Unknown "
                                   "event '42'\""));
  client_send (client, "26[\"echo\"]");
  client_expect (client, "36[]");
}

static void
test_catch_all (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) client = client_new (fixture);
  g_autofree char *sid = client_connect (client, "/catch");

  client_send (client, "2/catch,3[\"whatever\",1]");
  client_expect (client, "3/catch,3[\"caught\",\"whatever\"]");
}

/* read: acks ["tree", args...] */
static void
on_read_tree (PrdSioSocket *socket,
              const char *event,
              JsonArray *args,
              GPtrArray *attachments,
              gint64 ack_id,
              gpointer user_data)
{
  g_autoptr (JsonArray) reply = json_array_new ();

  json_array_add_string_element (reply, "tree");
  for (guint i = 0; i < json_array_get_length (args); i++)
    json_array_add_element (reply, json_node_copy (json_array_get_element (args, i)));
  prd_sio_socket_ack (socket, ack_id, reply, NULL);
}

/* read, as text: acks ["text", args...] with the arguments as they came,
 * unless the first is "tree" */
static gboolean
on_read_text (PrdSioSocket *socket,
              const char *event,
              const char *args,
              gsize args_len,
              gint64 ack_id,
              gpointer user_data)
{
  g_autoptr (GString) reply = g_string_new ("\"text\"");
  g_autoptr (GString) first = g_string_new (NULL);
  PrdJsonCursor cursor;

  prd_json_cursor_init (&cursor, args, args_len);
  if (prd_json_cursor_next (&cursor) && prd_json_cursor_read_string (&cursor, first) &&
      g_str_equal (first->str, "tree"))
    return FALSE;
  if (args_len > 0)
    g_string_append_c (reply, ',');
  g_string_append_len (reply, args, (gssize) args_len);
  prd_sio_socket_ack_raw (socket, ack_id, reply->str, (gssize) reply->len);
  return TRUE;
}

/* An event's text handler gets the arguments as the client wrote them, may
 * leave the event to the tree handler, and goes with its handler. */
static void
test_text_handler (Fixture *fixture, gconstpointer user_data)
{
  PrdSioNamespace *nsp = prd_sio_server_of (fixture->sio, "/");
  g_autoptr (Client) client = client_new (fixture);
  g_autofree char *sid = client_connect (client, "/");

  prd_sio_namespace_on (nsp, "read", on_read_tree, NULL);
  prd_sio_namespace_set_text_handler (nsp, "read", on_read_text);

  client_send (client, "21[\"read\",{\"a\":[1,\"]\"]}, 2 ]");
  client_expect (client, "31[\"text\",{\"a\":[1,\"]\"]}, 2 ]");
  client_send (client, "22[\"read\"]");
  client_expect (client, "32[\"text\"]");
  client_send (client, "23[ \"re\\u0061d\" , 5 ]");
  client_expect (client, "33[\"text\", 5 ]");
  /* declined: the tree handler answers */
  client_send (client, "24[\"read\",\"tree\",1]");
  client_expect (client, "34[\"tree\",\"tree\",1]");
  /* an event named by a number is read as a tree */
  prd_sio_namespace_on (nsp, "7", on_read_tree, NULL);
  prd_sio_namespace_set_text_handler (nsp, "7", on_read_text);
  client_send (client, "25[7,1]");
  client_expect (client, "35[\"tree\",1]");
  /* replacing the handler removes its text form */
  prd_sio_namespace_on (nsp, "read", on_read_tree, NULL);
  client_send (client, "26[\"read\",{}]");
  client_expect (client, "36[\"tree\",{}]");
}

/* The next message is the `error` event with @code, naming @event. */
static void
client_expect_error_event (Client *client, const char *code, const char *event)
{
  g_autofree char *text = client_next_text (client);
  g_autoptr (JsonNode) node = NULL;
  JsonObject *error;

  g_assert_true (g_str_has_prefix (text, "2[\"error\","));
  node = json_from_string (text + 1, NULL);
  g_assert_nonnull (node);
  error = json_array_get_object_element (json_node_get_array (node), 1);
  g_assert_cmpstr (json_object_get_string_member (error, "code"), ==, code);
  g_assert_cmpstr (json_object_get_string_member_with_default (error, "event", NULL), ==, event);
}

/* A payload with more JSON values than max-json-values is refused with
 * PAYLOAD_TOO_LARGE, whatever would read it (tree or text handler, binary
 * or not), after the checks that need no tree (unknown event, rate limit);
 * the connection stays open. */
static void
test_too_many_values (Fixture *fixture, gconstpointer user_data)
{
  PrdSioNamespace *nsp = prd_sio_server_of (fixture->sio, "/");
  g_autoptr (Client) client = NULL;
  g_autofree char *sid = NULL;
  g_autofree char *sid_custom = NULL;
  const char *too_large = "{\"error\":{\"code\":\"PAYLOAD_TOO_LARGE\",\"message\":\"The payload "
                          "holds 9 JSON values, more than the limit of 8 (max-json-values)\"}}";
  g_autofree char *expected = NULL;

  /* read by the sessions that start after it is set */
  g_object_set (fixture->sio, "max-json-values", 8, NULL);
  client = client_new (fixture);
  sid = client_connect (client, "/");
  prd_sio_namespace_on (nsp, "read", on_read_tree, NULL);
  prd_sio_namespace_set_text_handler (nsp, "read", on_read_text);

  /* 8 values: the array, the name and 6 more */
  client_send (client, "21[\"echo\",1,[2,{\"a\":3}],4]");
  client_expect (client, "31[1,[2,{\"a\":3}],4]");

  /* 9: refused, for the tree handler and the text handler alike */
  client_send (client, "22[\"echo\",1,[2,{\"a\":3}],4,5]");
  client_expect_error_event (client, "PAYLOAD_TOO_LARGE", "echo");
  expected = g_strdup_printf ("32[%s]", too_large);
  client_expect (client, expected);
  client_send (client, "23[\"read\",1,[2,{\"a\":3}],4,5]");
  client_expect_error_event (client, "PAYLOAD_TOO_LARGE", "read");
  g_free (expected);
  expected = g_strdup_printf ("33[%s]", too_large);
  client_expect (client, expected);
  /* an event named by a number, and a binary event */
  prd_sio_namespace_on (nsp, "7", on_read_tree, NULL);
  client_send (client, "24[7,1,[2,{\"a\":3}],4,5]");
  client_expect_error_event (client, "PAYLOAD_TOO_LARGE", "7");
  g_free (expected);
  expected = g_strdup_printf ("34[%s]", too_large);
  client_expect (client, expected);
  client_send (client, "51-5[\"echo\",{\"_placeholder\":true,\"num\":0},[1,2,3]]");
  client_send_binary (client, "\1", 1);
  client_expect_error_event (client, "PAYLOAD_TOO_LARGE", "echo");
  g_free (expected);
  expected = g_strdup_printf ("35[%s]", too_large);
  client_expect (client, expected);

  /* an unknown event is refused as such, before its size is looked at */
  client_send (client, "26[\"nope\",1,2,3,4,5,6,7,8,9]");
  client_expect_error_event (client, "UNKNOWN_EVENT", "nope");
  client_expect (
      client, "36[{\"error\":{\"code\":\"UNKNOWN_EVENT\",\"message\":\"Unknown event 'nope'\"}}]");
  /* so is one over the rate limit */
  client_send (client, "27[\"limited\"]");
  client_expect (client, "37[{\"ok\":true}]");
  client_send (client, "28[\"limited\"]");
  client_expect (client, "38[{\"ok\":true}]");
  client_send (client, "29[\"limited\",1,2,3,4,5,6,7,8,9]");
  {
    g_autofree char *text = client_next_text (client);

    g_assert_true (g_str_has_prefix (text, "2[\"rate-limit\","));
  }
  client_expect (client,
                 "39[{\"error\":{\"code\":\"RATE_LIMITED\",\"message\":\"Rate limit exceeded\"}}]");

  /* a CONNECT whose auth holds too many: connect_error, the session stays */
  client_send (client, "0/custom,{\"a\":[1,2,3,4,5,6,7,8]}");
  {
    g_autofree char *text = client_next_text (client);

    g_assert_true (g_str_has_prefix (
        text,
        "4/custom,{\"message\":\"Payload too large\",\"data\":{\"code\":\"PAYLOAD_TOO_LARGE\","
        "\"message\":\"auth holds 10 JSON values, more than the limit of 8 "
        "(max-json-values)\",\"timestamp\":"));
  }
  sid_custom = client_connect (client, "/custom");
  client_send (client, "2/custom,10[\"echo\",1]");
  client_expect (client, "3/custom,10[1]");

  client_send (client, "211[\"echo\"]");
  client_expect (client, "311[]");

  /* a name that is not one is still a protocol violation */
  client_send (client, "2[[1,2,3,4,5,6,7,8,9],1]");
  client_expect_closed (client);
}

static void
test_rate_limit (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) client = client_new (fixture);
  g_autofree char *sid = client_connect (client, "/");
  g_autofree char *sid_custom = client_connect (client, "/custom");
  g_autofree char *text = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (GDateTime) reset = NULL;
  JsonObject *info;

  client_send (client, "21[\"limited\"]");
  client_expect (client, "31[{\"ok\":true}]");
  /* the budget is the connection's, whatever the namespace */
  client_send (client, "2/custom,2[\"limited\"]");
  client_expect (client, "3/custom,2[{\"ok\":true}]");

  client_send (client, "23[\"limited\",\"x\"]");
  text = client_next_text (client);
  g_assert_true (g_str_has_prefix (text, "2[\"rate-limit\","));
  node = json_from_string (text + 1, NULL);
  info = json_array_get_object_element (json_node_get_array (node), 1);
  g_assert_cmpuint (json_object_get_size (info), ==, 5);
  g_assert_cmpstr (json_object_get_string_member (info, "message"), ==, "Rate limit exceeded");
  g_assert_cmpint (json_object_get_int_member (info, "retryAfter"), >=, 1);
  g_assert_cmpint (json_object_get_int_member (info, "retryAfter"), <=, 60);
  g_assert_cmpint (json_object_get_int_member (info, "limit"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (info, "remaining"), ==, 0);
  reset = g_date_time_new_from_iso8601 (json_object_get_string_member (info, "resetTime"), NULL);
  g_assert_nonnull (reset);
  client_expect (client,
                 "33[{\"error\":{\"code\":\"RATE_LIMITED\",\"message\":\"Rate limit exceeded\"}}]");

  /* without an ack: only the rate-limit event */
  client_send (client, "2[\"limited\"]");
  g_clear_pointer (&text, g_free);
  text = client_next_text (client);
  g_assert_true (g_str_has_prefix (text, "2[\"rate-limit\",{\"message\":\"Rate limit exceeded\""));

  /* other classes are not limited */
  client_send (client, "24[\"echo\"]");
  client_expect (client, "34[]");

  /* as many events again as the limit, past it, within the window: the
   * client is closed rather than answered without end, each namespace told
   * first (socket.io-client: "io server disconnect", no reconnection) */
  client_send (client, "25[\"limited\"]");
  client_expect (client, "1/custom,");
  client_expect (client, "1");
  client_expect_closed (client);
  wait_for_disconnections (fixture, 2);
  for (guint i = 0; i < 2; i++)
    g_assert_true (
        g_str_has_suffix (g_ptr_array_index (fixture->disconnections, i), ":forced close"));
}

/* Sockets given the same rate key share their buckets, whatever their
 * sessions; the buckets go with the key's last socket. */
static void
test_rate_key (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) a = client_new (fixture);
  g_autoptr (Client) b = client_new (fixture);
  g_autoptr (Client) c = client_new (fixture);
  g_autoptr (Client) d = NULL;
  g_autofree char *text = NULL;
  g_autofree char *sid = NULL;
  const char *limited =
      "3/admin,2[{\"error\":{\"code\":\"RATE_LIMITED\",\"message\":\"Rate limit exceeded\"}}]";

  client_connect_with (a, "/admin", "{\"token\":\"good\",\"user\":\"u1\"}");
  client_connect_with (b, "/admin", "{\"token\":\"good\",\"user\":\"u1\"}");
  client_connect_with (c, "/admin", "{\"token\":\"good\",\"user\":\"u2\"}");
  g_assert_cmpuint (prd_sio_server_get_n_rate_keys (fixture->sio), ==, 2);

  /* u1's limit of 2, over two sessions */
  client_send (a, "2/admin,1[\"limited\"]");
  client_expect (a, "3/admin,1[{\"ok\":true}]");
  client_send (b, "2/admin,1[\"limited\"]");
  client_expect (b, "3/admin,1[{\"ok\":true}]");
  client_send (b, "2/admin,2[\"limited\"]");
  text = client_next_text (b);
  g_assert_true (g_str_has_prefix (text, "2/admin,[\"rate-limit\","));
  client_expect (b, limited);
  client_send (a, "2/admin,2[\"limited\"]");
  g_clear_pointer (&text, g_free);
  text = client_next_text (a);
  g_assert_true (g_str_has_prefix (text, "2/admin,[\"rate-limit\","));
  client_expect (a, limited);
  /* u2 has its own */
  client_send (c, "2/admin,1[\"limited\"]");
  client_expect (c, "3/admin,1[{\"ok\":true}]");
  /* a namespace without a key counts against its session's own buckets */
  sid = client_connect (a, "/custom");
  client_send (a, "2/custom,3[\"limited\"]");
  client_expect (a, "3/custom,3[{\"ok\":true}]");

  /* u1's buckets outlive its last socket while their window runs:
   * connecting again does not refill them */
  g_clear_pointer (&a, client_free);
  wait_for_disconnections (fixture, 2);
  g_assert_cmpuint (prd_sio_server_get_n_rate_keys (fixture->sio), ==, 2);
  g_clear_pointer (&b, client_free);
  wait_for_disconnections (fixture, 3);
  g_assert_cmpuint (prd_sio_server_get_n_rate_keys (fixture->sio), ==, 2);
  d = client_new (fixture);
  client_connect_with (d, "/admin", "{\"token\":\"good\",\"user\":\"u1\"}");
  client_send (d, "2/admin,1[\"limited\"]");
  g_clear_pointer (&text, g_free);
  text = client_next_text (d);
  g_assert_true (g_str_has_prefix (text, "2/admin,[\"rate-limit\","));
  client_expect (d, "3/admin,1[{\"error\":{\"code\":\"RATE_LIMITED\",\"message\":\"Rate limit "
                    "exceeded\"}}]");
  g_assert_cmpuint (prd_sio_server_get_n_rate_keys (fixture->sio), ==, 2);
  g_clear_pointer (&c, client_free);
  g_clear_pointer (&d, client_free);
  wait_for_disconnections (fixture, 5);
  g_assert_cmpuint (prd_sio_server_get_n_rate_keys (fixture->sio), ==, 2);

  /* a refused CONNECT leaves no key behind */
  {
    g_autoptr (Client) e = client_new (fixture);

    client_send (e, "0/admin,{\"token\":\"bad\",\"user\":\"u3\"}");
    g_clear_pointer (&text, g_free);
    text = client_next_text (e);
    g_assert_true (g_str_has_prefix (text, "4/admin,"));
    g_assert_cmpuint (prd_sio_server_get_n_rate_keys (fixture->sio), ==, 2);
  }
}

/* Idle buckets go once their windows have ended (here 1 s), looked over
 * when a socket next takes a key; a key used by no event never stays. */
static void
test_rate_key_pruned (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) a = client_new (fixture);
  g_autoptr (Client) b = client_new (fixture);
  g_autoptr (Client) c = client_new (fixture);

  prd_sio_server_set_rate_limit (fixture->sio, "chat", 2, 1);
  client_connect_with (a, "/admin", "{\"token\":\"good\",\"user\":\"u1\"}");
  client_connect_with (b, "/admin", "{\"token\":\"good\",\"user\":\"u2\"}");
  client_send (a, "2/admin,1[\"limited\"]");
  client_expect (a, "3/admin,1[{\"ok\":true}]");
  g_clear_pointer (&a, client_free);
  g_clear_pointer (&b, client_free);
  wait_for_disconnections (fixture, 2);
  /* u1's window runs: kept; u2 never used one: gone */
  g_assert_cmpuint (prd_sio_server_get_n_rate_keys (fixture->sio), ==, 1);
  g_usleep (1100 * 1000);
  client_connect_with (c, "/admin", "{\"token\":\"good\",\"user\":\"u3\"}");
  g_assert_cmpuint (prd_sio_server_get_n_rate_keys (fixture->sio), ==, 1);
}

/* expensive: charges GPOINTER_TO_UINT (user_data) more tokens of its class */
static void
on_expensive (PrdSioSocket *socket,
              const char *event,
              JsonArray *args,
              GPtrArray *attachments,
              gint64 ack_id,
              gpointer user_data)
{
  prd_sio_socket_charge_rate (socket, event, GPOINTER_TO_UINT (user_data));
  prd_sio_socket_ack (socket, ack_id, NULL, NULL);
}

/* A handler may charge its event's class for what its work cost: later
 * events are refused sooner, never less than an empty bucket. */
static void
test_charge_rate (Fixture *fixture, gconstpointer user_data)
{
  PrdSioNamespace *nsp = prd_sio_server_of (fixture->sio, "/");
  g_autoptr (Client) client = client_new (fixture);
  g_autoptr (Client) other = client_new (fixture);
  g_autofree char *sid = client_connect (client, "/");
  g_autofree char *sid_other = client_connect (other, "/");
  g_autofree char *text = NULL;

  prd_sio_server_set_rate_limit (fixture->sio, "chat", 10, 60);
  prd_sio_namespace_on (nsp, "expensive", on_expensive, GUINT_TO_POINTER (3));
  prd_sio_namespace_on (nsp, "ruinous", on_expensive, GUINT_TO_POINTER (1000));
  prd_sio_server_set_event_class (fixture->sio, "expensive", "chat");
  prd_sio_server_set_event_class (fixture->sio, "ruinous", "chat");

  /* 10 - 1 - 3: six more */
  client_send (client, "21[\"expensive\"]");
  client_expect (client, "31[]");
  for (guint i = 0; i < 6; i++)
    {
      g_autofree char *send = g_strdup_printf ("2%u[\"limited\"]", 10 + i);
      g_autofree char *expected = g_strdup_printf ("3%u[{\"ok\":true}]", 10 + i);

      client_send (client, send);
      client_expect (client, expected);
    }
  client_send (client, "220[\"limited\"]");
  text = client_next_text (client);
  g_assert_true (g_str_has_prefix (text, "2[\"rate-limit\","));
  client_expect (
      client, "320[{\"error\":{\"code\":\"RATE_LIMITED\",\"message\":\"Rate limit exceeded\"}}]");

  /* more than the bucket holds empties it */
  client_send (other, "21[\"ruinous\"]");
  client_expect (other, "31[]");
  client_send (other, "22[\"limited\"]");
  g_clear_pointer (&text, g_free);
  text = client_next_text (other);
  g_assert_true (g_str_has_prefix (text, "2[\"rate-limit\","));
  client_expect (other,
                 "32[{\"error\":{\"code\":\"RATE_LIMITED\",\"message\":\"Rate limit exceeded\"}}]");
  /* a class without a limit is not charged */
  prd_sio_server_set_event_class (fixture->sio, "ruinous", NULL);
  client_send (other, "23[\"ruinous\"]");
  client_expect (other, "33[]");
  client_send (other, "24[\"echo\"]");
  client_expect (other, "34[]");
}

/* A client that keeps asking for namespaces it cannot have is closed. */
static void
test_refused_connects (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) client = client_new (fixture);
  g_autofree char *sid = client_connect (client, "/");

  for (guint i = 0; i < PRD_SIO_MAX_REFUSED_CONNECTS; i++)
    {
      client_send (client, "0/nowhere,");
      client_expect (client, "4/nowhere,{\"message\":\"Invalid namespace\"}");
    }
  client_send (client, "2[\"echo\",1]");
  client_expect (client, "2[\"echo-back\",1]");
  client_send (client, "0/nowhere,");
  client_expect (client, "4/nowhere,{\"message\":\"Invalid namespace\"}");
  client_expect (client, "1");
  client_expect_closed (client);
}

/* A session's accepted CONNECTs are not counted over its life: a client
 * that leaves and opens a namespace as its user moves between pages keeps
 * its session (and its other namespaces) however long it lives. What
 * bounds a loop is the rate its connect hook charges each CONNECT to
 * (test_connect_rate). */
static void
test_connect_churn (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) client = client_new (fixture);
  g_autofree char *sid = client_connect (client, "/custom");

  for (guint i = 0; i < 2000; i++)
    {
      g_autofree char *churned = client_connect (client, "/");

      client_send (client, "1");
    }
  client_send (client, "2/custom,1[\"echo\"]");
  client_expect (client, "3/custom,1[]");
  g_assert_false (client->closed);
}

/* A connect hook that charges each accepted CONNECT to its key's
 * "connect" class (as the hub's does) refuses the CONNECTs past the
 * class's limit, whatever the session; another key has its own budget. A
 * refused CONNECT counts toward the session's refusals. */
static void
test_connect_rate (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) a = client_new (fixture);
  g_autoptr (Client) b = client_new (fixture);
  const char *refused = "4/admin,{\"message\":\"Rate limit exceeded\",\"data\":{\"code\":"
                        "\"RATE_LIMITED\"}}";

  prd_sio_server_set_rate_limit (fixture->sio, "connect", 3, 3600);
  for (guint i = 0; i < 3; i++)
    {
      client_connect_with (a, "/admin", "{\"token\":\"good\",\"user\":\"u1\"}");
      client_send (a, "1/admin,");
    }
  client_send (a, "0/admin,{\"token\":\"good\",\"user\":\"u1\"}");
  client_expect (a, refused);
  /* the same key in another session: the same budget */
  client_send (b, "0/admin,{\"token\":\"good\",\"user\":\"u1\"}");
  client_expect (b, refused);
  /* another key has its own */
  client_connect_with (b, "/admin", "{\"token\":\"good\",\"user\":\"u2\"}");
  client_send (b, "2/admin,1[\"echo\"]");
  client_expect (b, "3/admin,1[]");

  /* refused ones count toward the session's refusals: the 65th is answered
   * and closes it */
  for (guint i = 1; i < PRD_SIO_MAX_REFUSED_CONNECTS; i++)
    {
      client_send (a, "0/admin,{\"token\":\"good\",\"user\":\"u1\"}");
      client_expect (a, refused);
    }
  client_send (a, "0/admin,{\"token\":\"good\",\"user\":\"u1\"}");
  client_expect (a, refused);
  client_expect_closed (a);
}

/* Refusals count toward the close per class, each against its own limit:
 * those of a class with a larger limit do not close a client at its first
 * refusal in another. */
static void
test_rate_limit_per_class (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) client = client_new (fixture);
  g_autofree char *sid = client_connect (client, "/");
  const char *refused =
      "{\"error\":{\"code\":\"RATE_LIMITED\",\"message\":\"Rate limit exceeded\"}}]";
  guint id = 1;

  prd_sio_server_set_event_class (fixture->sio, "echo", "wide");
  prd_sio_server_set_rate_limit (fixture->sio, "wide", 4, 60);

  /* wide: its 4, then 4 refused (as many as its limit: still open) */
  for (guint i = 0; i < 8; i++, id++)
    {
      g_autofree char *event = g_strdup_printf ("2%u[\"echo\"]", id);
      g_autofree char *ack = NULL;

      client_send (client, event);
      if (i < 4)
        {
          ack = g_strdup_printf ("3%u[]", id);
          client_expect (client, ack);
          continue;
        }
      g_free (client_next_text (client)); /* rate-limit */
      ack = g_strdup_printf ("3%u[%s", id, refused);
      client_expect (client, ack);
    }

  /* chat (limit 2): its 2, then 2 refused, answered */
  for (guint i = 0; i < 4; i++, id++)
    {
      g_autofree char *event = g_strdup_printf ("2%u[\"limited\"]", id);
      g_autofree char *ack = NULL;

      client_send (client, event);
      if (i < 2)
        {
          ack = g_strdup_printf ("3%u[{\"ok\":true}]", id);
          client_expect (client, ack);
          continue;
        }
      g_free (client_next_text (client));
      ack = g_strdup_printf ("3%u[%s", id, refused);
      client_expect (client, ack);
    }

  /* the third past chat's limit closes it */
  client_send (client, "2[\"limited\"]");
  client_expect (client, "1");
  client_expect_closed (client);
  wait_for_disconnections (fixture, 1);
  g_assert_cmpstr (g_ptr_array_index (fixture->disconnections, 0), ==, "/:forced close");
}

static void
test_pending_acks_limit (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) client = client_new (fixture);
  g_autofree char *sid = client_connect (client, "/");
  const char *message =
      "3 requests of this connection await their answer, as many as it may; wait for them";
  g_autofree char *text = NULL;
  g_autofree char *ack = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonObject *error;

  /* max-pending-acks is 3: three held requests are taken */

  client_send (client, "21[\"hold\"]");
  client_send (client, "22[\"hold\"]");
  client_send (client, "23[\"hold\"]");
  client_send (client, "24[\"hold\"]");
  /* answered as any refusal: the `error` event, then the ack's error */
  text = client_next_text (client);
  node = json_from_string (text + 1, NULL);
  g_assert_nonnull (node);
  g_assert_cmpstr (json_array_get_string_element (json_node_get_array (node), 0), ==, "error");
  error = json_array_get_object_element (json_node_get_array (node), 1);
  g_assert_cmpstr (json_object_get_string_member (error, "code"), ==, "RATE_LIMITED");
  g_assert_cmpstr (json_object_get_string_member (error, "message"), ==, message);
  g_assert_cmpstr (json_object_get_string_member (error, "event"), ==, "hold");
  g_assert_true (json_object_has_member (error, "timestamp"));
  ack = g_strdup_printf ("34[{\"error\":{\"code\":\"RATE_LIMITED\",\"message\":\"%s\"}}]", message);
  client_expect (client, ack);
  /* events without an ack still go through */
  client_send (client, "2[\"echo\",1]");
  client_expect (client, "2[\"echo-back\",1]");

  /* answered requests free their slots */
  client_send (client, "2[\"release\"]");
  client_expect (client, "31[]");
  client_expect (client, "32[]");
  client_expect (client, "33[]");
  client_send (client, "25[\"echo\"]");
  client_expect (client, "35[]");
}

static void
test_server_disconnect (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) client = client_new (fixture);
  g_autofree char *sid = client_connect (client, "/");
  g_autofree char *sid_custom = client_connect (client, "/custom");

  client_send (client, "2/custom,[\"bye\"]");
  client_expect (client, "1/custom,");
  g_assert_cmpuint (fixture->disconnections->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (fixture->disconnections, 0), ==,
                   "/custom:server namespace disconnect");
  client_send (client, "21[\"echo\"]");
  client_expect (client, "31[]");
}

/* After an optional CONNECT to "/", @bad must end the session */
static void
check_closes (Fixture *fixture, gboolean connect_first, const char *bad)
{
  g_autoptr (Client) client = client_new (fixture);
  g_autofree char *sid = connect_first ? client_connect (client, "/") : NULL;

  client_send (client, bad);
  client_expect_closed (client);
  prd_test_wait_while (prd_eio_server_get_n_sockets (fixture->eio) > 0, PRD_TEST_TIMEOUT_MS);
}

static void
test_protocol_violations (Fixture *fixture, gconstpointer user_data)
{
  /* decoding errors */
  check_closes (fixture, FALSE, "abc");
  check_closes (fixture, TRUE, "2{}");
  check_closes (fixture, TRUE, "2abc[\"echo\"]");
  check_closes (fixture, TRUE, "2[\"echo\"");
  /* reserved event names */
  check_closes (fixture, TRUE, "2[\"disconnect\"]");
  check_closes (fixture, TRUE, "2[\"connect\",{}]");
  /* not CONNECT first */
  check_closes (fixture, FALSE, "2[\"echo\"]");
  check_closes (fixture, FALSE, "1");
  check_closes (fixture, TRUE, "2/custom,[\"echo\"]");
  /* duplicate CONNECT */
  check_closes (fixture, TRUE, "0");
  /* CONNECT_ERROR from a client */
  check_closes (fixture, TRUE, "4{\"message\":\"x\"}");
  /* a binary packet for a namespace not connected: closed at its header,
   * its attachments are not waited for (nor kept) */
  check_closes (fixture, FALSE, "51-[\"echo\",{\"_placeholder\":true,\"num\":0}]");
  check_closes (fixture, TRUE, "51-/custom,[\"echo\",{\"_placeholder\":true,\"num\":0}]");
  /* a namespace name longer than 256 bytes */
  {
    g_autofree char *name = g_strnfill (300, 'n');
    g_autofree char *connect = g_strdup_printf ("0/%s,", name);

    check_closes (fixture, FALSE, connect);
  }
}

static void
test_violation_disconnects (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) client = client_new (fixture);
  g_autofree char *sid = client_connect (client, "/");

  client_send (client, "2[\"newListener\"]");
  client_expect_closed (client);
  wait_for_disconnections (fixture, 1);
  g_assert_cmpstr (g_ptr_array_index (fixture->disconnections, 0), ==, "/:parse error");
}

static void
test_connect_timeout (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) refused = client_new (fixture);
  g_autoptr (Client) idle = NULL;

  /* a refused CONNECT does not stop the clock */
  client_send (refused, "0/admin,");
  client_expect (
      refused,
      "4/admin,{\"message\":\"not authorized\",\"data\":{\"code\":\"AUTHENTICATION_FAILED\"}}");
  client_expect_closed (refused);

  idle = client_new (fixture);
  client_expect_closed (idle);
  g_assert_cmpuint (fixture->n_connections, ==, 0);
}

static void
test_connect_in_time (Fixture *fixture, gconstpointer user_data)
{
  g_autoptr (Client) client = client_new (fixture);
  g_autoptr (Client) idle = client_new (fixture);
  g_autofree char *sid = client_connect (client, "/");

  /* the idle one is closed at the timeout; the connected one stays */
  client_expect_closed (idle);
  client_send (client, "21[\"echo\"]");
  client_expect (client, "31[]");
}

/* ---- polling ------------------------------------------------------------ */

static void
on_http_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GBytes **body = user_data;
  g_autoptr (GError) error = NULL;

  *body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  g_assert_no_error (error);
}

static char *
http (Fixture *fixture, const char *method, const char *query, const char *body)
{
  g_autofree char *url = endpoint (fixture, "http", query);
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  g_autoptr (GBytes) response = NULL;

  if (body != NULL)
    {
      g_autoptr (GBytes) bytes = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (msg, "text/plain;charset=UTF-8", bytes);
    }
  soup_session_send_and_read_async (fixture->session, msg, G_PRIORITY_DEFAULT, NULL, on_http_done,
                                    &response);
  prd_test_wait_while (response == NULL, PRD_TEST_TIMEOUT_MS);
  g_assert_cmpuint (soup_message_get_status (msg), ==, SOUP_STATUS_OK);
  return g_strndup (g_bytes_get_data (response, NULL), g_bytes_get_size (response));
}

/* A polling client that never CONNECTs and never polls: its session ends at
 * the connect timeout and frees its place then (max-sessions counts every
 * session), not a heartbeat later while it waits for a GET to take the
 * close packet. It sends a noop first: a session no request has named
 * would give way to the next handshake at once. */
static void
test_connect_timeout_polling (Fixture *fixture, gconstpointer user_data)
{
  g_autofree char *open = NULL;
  g_autofree char *url = endpoint (fixture, "http", "transport=polling");
  g_autoptr (JsonNode) handshake = NULL;
  g_autofree char *query = NULL;
  g_autofree char *ok = NULL;
  gint64 deadline;
  guint status = 0;

  g_object_set (fixture->eio, "max-sessions", 1, NULL);
  open = http (fixture, SOUP_METHOD_GET, "transport=polling", NULL);
  g_assert_true (g_str_has_prefix (open, "0{"));
  handshake = json_from_string (open + 1, NULL);
  query = g_strdup_printf ("transport=polling&sid=%s",
                           json_object_get_string_member (json_node_get_object (handshake), "sid"));
  ok = http (fixture, SOUP_METHOD_POST, query, "6");
  g_assert_cmpstr (ok, ==, "ok");

  /* Far less than the heartbeat (25 s + 20 s) the place was held for. */
  deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  while (status != SOUP_STATUS_OK && g_get_monotonic_time () < deadline)
    {
      g_autoptr (SoupMessage) msg = soup_message_new (SOUP_METHOD_GET, url);
      g_autoptr (GBytes) response = NULL;

      soup_session_send_and_read_async (fixture->session, msg, G_PRIORITY_DEFAULT, NULL,
                                        on_http_done, &response);
      prd_test_wait_while (response == NULL, PRD_TEST_TIMEOUT_MS);
      status = soup_message_get_status (msg);
      if (status != SOUP_STATUS_OK)
        {
          gint64 retry = g_get_monotonic_time () + 100 * G_TIME_SPAN_MILLISECOND;

          g_assert_cmpuint (status, ==, SOUP_STATUS_SERVICE_UNAVAILABLE);
          prd_test_wait_while (g_get_monotonic_time () < retry, PRD_TEST_TIMEOUT_MS);
        }
    }
  g_assert_cmpuint (status, ==, SOUP_STATUS_OK);
}

static void
test_polling (Fixture *fixture, gconstpointer user_data)
{
  g_autofree char *open = http (fixture, SOUP_METHOD_GET, "transport=polling", NULL);
  g_autoptr (JsonNode) handshake = json_from_string (open + 1, NULL);
  const char *sid = json_object_get_string_member (json_node_get_object (handshake), "sid");
  g_autofree char *query = g_strdup_printf ("transport=polling&sid=%s", sid);
  g_autofree char *ok = NULL;
  g_autofree char *reply = NULL;
  g_autofree char *echo = NULL;
  g_autofree char *binary = NULL;

  ok = http (fixture, SOUP_METHOD_POST, query, "40{\"token\":\"abc\"}");
  g_assert_cmpstr (ok, ==, "ok");
  reply = http (fixture, SOUP_METHOD_GET, query, NULL);
  g_assert_true (g_str_has_prefix (reply, "40{\"sid\":\""));
  g_assert_null (strchr (reply, '\x1e'));

  g_clear_pointer (&ok, g_free);
  ok = http (fixture, SOUP_METHOD_POST, query,
             "42[\"echo\",\"a\"]\x1e"
             "421[\"echo\",\"b\"]");
  g_assert_cmpstr (ok, ==, "ok");
  echo = http (fixture, SOUP_METHOD_GET, query, NULL);
  g_assert_cmpstr (echo, ==,
                   "42[\"echo-back\",\"a\"]\x1e"
                   "431[\"b\"]");

  /* binary attachments ride as base64 over polling */
  g_clear_pointer (&ok, g_free);
  ok = http (fixture, SOUP_METHOD_POST, query,
             "451-[\"echo\",{\"_placeholder\":true,\"num\":0}]\x1e"
             "bAQID");
  g_assert_cmpstr (ok, ==, "ok");
  binary = http (fixture, SOUP_METHOD_GET, query, NULL);
  g_assert_cmpstr (binary, ==,
                   "451-[\"echo-back\",{\"_placeholder\":true,\"num\":0}]\x1e"
                   "bAQID");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func, timeout)                                                                 \
  g_test_add ("/prd/sio-server/" path, Fixture, GUINT_TO_POINTER (timeout), fixture_setup, func, \
              fixture_teardown)

  ADD ("connect", test_connect, 0);
  ADD ("socket-ids-differ", test_socket_ids_differ, 0);
  ADD ("auth", test_auth, 0);
  ADD ("invalid-namespace", test_invalid_namespace, 0);
  ADD ("multiplexing", test_multiplexing, 0);
  ADD ("engine-close", test_engine_close, 0);
  ADD ("acks", test_acks, 0);
  ADD ("binary", test_binary, 0);
  ADD ("binary-interrupted", test_binary_interrupted, 0);
  ADD ("unexpected-binary", test_unexpected_binary, 0);
  ADD ("rooms", test_rooms, 0);
  ADD ("broadcast-namespace", test_broadcast_namespace, 0);
  ADD ("emit-raw", test_emit_raw, 0);
  ADD ("unknown-event", test_unknown_event, 0);
  ADD ("catch-all", test_catch_all, 0);
  ADD ("text-handler", test_text_handler, 0);
  ADD ("rate-limit", test_rate_limit, 0);
  ADD ("too-many-values", test_too_many_values, 0);
  ADD ("rate-key", test_rate_key, 0);
  ADD ("rate-key-pruned", test_rate_key_pruned, 0);
  ADD ("charge-rate", test_charge_rate, 0);
  ADD ("refused-connects", test_refused_connects, 0);
  ADD ("connect-churn", test_connect_churn, 0);
  ADD ("connect-rate", test_connect_rate, 0);
  ADD ("rate-limit-per-class", test_rate_limit_per_class, 0);
  ADD ("pending-acks-limit", test_pending_acks_limit, 0);
  ADD ("server-disconnect", test_server_disconnect, 0);
  ADD ("protocol-violations", test_protocol_violations, 0);
  ADD ("violation-disconnects", test_violation_disconnects, 0);
  /* long enough for one CONNECT round trip on a loaded machine */
  ADD ("connect-timeout", test_connect_timeout, 1000);
  ADD ("connect-in-time", test_connect_in_time, 1000);
  ADD ("connect-timeout-polling", test_connect_timeout_polling, 1000);
  ADD ("polling", test_polling, 0);

#undef ADD

  return g_test_run ();
}
