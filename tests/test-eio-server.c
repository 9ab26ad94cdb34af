/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdEioServer on a real SoupServer (127.0.0.1, port 0), driven by a
 * SoupSession and, where a misbehaving client is needed, by raw sockets.
 * The sessions run on the test's main context: the helpers iterate it
 * until the awaited event happened; nothing depends on how long anything
 * takes. Every WebSocket test runs twice: with the connections on the main
 * context, and on two I/O threads ("websocket-io-threads/...").
 */
#define G_LOG_DOMAIN "prd-test"

#include "config.h"

#include <string.h>
#include <sys/socket.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "prd-metrics.h"
#include "prd-test-harness.h"
#include "prd-eio-server.h"

typedef struct
{
  guint ping_interval;
  guint ping_timeout;
  guint upgrade_timeout; /* 0: the default */
  guint64 max_payload;
  guint64 max_write_buffer;
  gboolean compression;
  const char *const *cors;
  guint io_threads;
} ServerConfig;

typedef struct
{
  SoupServer *soup_server;
  PrdEioServer *eio;
  SoupSession *session;
  char *base; /* http://127.0.0.1:PORT/engine.io/ */
  guint16 port;

  GPtrArray *sockets;  /* (element-type PrdEioSocket) every connection, in order */
  GPtrArray *closed;   /* (element-type utf8) close reasons, in order */
  GPtrArray *texts;    /* (element-type utf8) text messages received by the server */
  GPtrArray *binaries; /* (element-type GBytes) */
  GPtrArray *upgraded; /* (element-type PrdEioSocket) "upgraded", in order */
  gboolean echo;
} Fixture;

static const ServerConfig default_config = {
  .ping_interval = 60000,
  .ping_timeout = 60000,
  .max_payload = 1000,
  .max_write_buffer = 1 << 20,
};

static void
iterate_until (gboolean *flag)
{
  prd_test_wait_while (!*flag, PRD_TEST_TIMEOUT_MS);
}

/* ------------------------------------------------------------------ */
/* Server side                                                        */

static void
on_closed (PrdEioSocket *socket, const char *reason, Fixture *f)
{
  g_ptr_array_add (f->closed, g_strdup (reason));
}

static void
on_text (PrdEioSocket *socket, const char *text, gulong len, Fixture *f)
{
  g_assert_cmpuint (strlen (text), ==, len);
  g_ptr_array_add (f->texts, g_strdup (text));
  if (f->echo)
    prd_eio_socket_send_text (socket, text, len);
}

static void
on_binary (PrdEioSocket *socket, GBytes *data, Fixture *f)
{
  g_ptr_array_add (f->binaries, g_bytes_ref (data));
  if (f->echo)
    prd_eio_socket_send_binary (socket, data);
}

static void
on_connection (PrdEioServer *server, PrdEioSocket *socket, Fixture *f)
{
  g_ptr_array_add (f->sockets, g_object_ref (socket));
  g_signal_connect (socket, "closed", G_CALLBACK (on_closed), f);
  g_signal_connect (socket, "text-message", G_CALLBACK (on_text), f);
  g_signal_connect (socket, "binary-message", G_CALLBACK (on_binary), f);
}

static void
on_upgraded (PrdEioServer *server, PrdEioSocket *socket, Fixture *f)
{
  g_assert_cmpstr (prd_eio_socket_get_transport_name (socket), ==, "websocket");
  g_ptr_array_add (f->upgraded, g_object_ref (socket));
}

static void
fixture_setup (Fixture *f, gconstpointer user_data)
{
  const ServerConfig *config = user_data != NULL ? user_data : &default_config;
  g_autoptr (GError) error = NULL;
  GSList *uris;

  f->soup_server = soup_server_new (NULL, NULL);
  f->eio =
      g_object_new (PRD_TYPE_EIO_SERVER, "ping-interval", config->ping_interval, "ping-timeout",
                    config->ping_timeout, "max-payload", config->max_payload, "max-write-buffer",
                    config->max_write_buffer, "websocket-compression", config->compression,
                    "cors-origins", config->cors, "io-threads", config->io_threads, NULL);
  if (config->upgrade_timeout != 0)
    g_object_set (f->eio, "upgrade-timeout", config->upgrade_timeout, NULL);
  g_signal_connect (f->eio, "connection", G_CALLBACK (on_connection), f);
  g_signal_connect (f->eio, "upgraded", G_CALLBACK (on_upgraded), f);
  prd_eio_server_attach (f->eio, f->soup_server, "/engine.io/");

  soup_server_listen_local (f->soup_server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (f->soup_server);
  g_assert_nonnull (uris);
  f->port = g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  f->base = g_strdup_printf ("http://127.0.0.1:%u/engine.io/", f->port);

  f->session = soup_session_new ();
  f->sockets = g_ptr_array_new_with_free_func (g_object_unref);
  f->closed = g_ptr_array_new_with_free_func (g_free);
  f->texts = g_ptr_array_new_with_free_func (g_free);
  f->binaries = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  f->upgraded = g_ptr_array_new_with_free_func (g_object_unref);
  f->echo = TRUE;
}

static void
fixture_teardown (Fixture *f, gconstpointer user_data)
{
  for (guint i = 0; i < f->sockets->len; i++)
    g_signal_handlers_disconnect_by_data (g_ptr_array_index (f->sockets, i), f);
  g_clear_object (&f->session);
  g_clear_object (&f->eio);
  soup_server_disconnect (f->soup_server);
  g_clear_object (&f->soup_server);
  g_ptr_array_unref (f->sockets);
  g_ptr_array_unref (f->closed);
  g_ptr_array_unref (f->texts);
  g_ptr_array_unref (f->binaries);
  g_ptr_array_unref (f->upgraded);
  g_free (f->base);

  /* Let pending closes and idles run before the next test. */
  while (g_main_context_pending (NULL))
    g_main_context_iteration (NULL, FALSE);
}

static PrdEioSocket *
last_socket (Fixture *f)
{
  g_assert_cmpuint (f->sockets->len, >, 0);
  return g_ptr_array_index (f->sockets, f->sockets->len - 1);
}

static void
wait_closed (Fixture *f, guint n)
{
  prd_test_wait_while (f->closed->len < n, PRD_TEST_TIMEOUT_MS);
}

/* ------------------------------------------------------------------ */
/* HTTP client                                                        */

typedef struct
{
  SoupMessage *msg;
  GBytes *body;
  GError *error;
  gboolean done;
} Request;

static void
request_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Request *req = user_data;

  req->body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &req->error);
  req->done = TRUE;
}

static Request *
request_start (Fixture *f,
               const char *method,
               const char *query,
               const char *body,
               gssize body_len,
               const char *content_type,
               const char *origin)
{
  g_autofree char *url = g_strconcat (f->base, "?", query, NULL);
  Request *req = g_new0 (Request, 1);

  req->msg = soup_message_new (method, url);
  g_assert_nonnull (req->msg);
  if (body != NULL)
    {
      g_autoptr (GBytes) bytes =
          g_bytes_new (body, body_len < 0 ? strlen (body) : (gsize) body_len);

      soup_message_set_request_body_from_bytes (
          req->msg, content_type != NULL ? content_type : "text/plain;charset=UTF-8", bytes);
    }
  if (origin != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (req->msg), "Origin", origin);
  soup_session_send_and_read_async (f->session, req->msg, G_PRIORITY_DEFAULT, NULL, request_done,
                                    req);
  return req;
}

static void
request_free (Request *req)
{
  g_clear_object (&req->msg);
  g_clear_pointer (&req->body, g_bytes_unref);
  g_clear_error (&req->error);
  g_free (req);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Request, request_free)

static void
request_wait (Request *req)
{
  iterate_until (&req->done);
  g_assert_no_error (req->error);
}

static char *
request_body (Request *req)
{
  gsize len;
  const char *data = g_bytes_get_data (req->body, &len);

  return g_strndup (data != NULL ? data : "", len);
}

static Request *
request (Fixture *f, const char *method, const char *query, const char *body)
{
  Request *req = request_start (f, method, query, body, -1, NULL, NULL);

  request_wait (req);
  return req;
}

static void
assert_response (Request *req, guint status, const char *body)
{
  g_autofree char *got = request_body (req);

  g_assert_cmpuint (soup_message_get_status (req->msg), ==, status);
  if (body != NULL)
    g_assert_cmpstr (got, ==, body);
}

static void
assert_eio_error (Request *req, int code, const char *message)
{
  g_autofree char *expected = g_strdup_printf ("{\"code\":%d,\"message\":\"%s\"}", code, message);
  const char *type =
      soup_message_headers_get_content_type (soup_message_get_response_headers (req->msg), NULL);

  assert_response (req, code == 4 ? SOUP_STATUS_FORBIDDEN : SOUP_STATUS_BAD_REQUEST, expected);
  g_assert_cmpstr (type, ==, "application/json");
}

/* Opens a polling session; returns its sid. */
static char *
handshake (Fixture *f, JsonObject **out_open)
{
  g_autoptr (Request) req = request (f, "GET", "EIO=4&transport=polling", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *body = request_body (req);
  JsonObject *open;
  char *sid;

  g_assert_cmpuint (soup_message_get_status (req->msg), ==, SOUP_STATUS_OK);
  g_assert_true (body[0] == '0');
  json_parser_load_from_data (parser, body + 1, -1, &error);
  g_assert_no_error (error);
  open = json_node_get_object (json_parser_get_root (parser));
  sid = g_strdup (json_object_get_string_member (open, "sid"));
  if (out_open != NULL)
    *out_open = json_object_ref (open);
  return sid;
}

static char *
sid_query (const char *sid)
{
  return g_strdup_printf ("EIO=4&transport=polling&sid=%s", sid);
}

/* ------------------------------------------------------------------ */
/* WebSocket client                                                   */

typedef struct
{
  SoupWebsocketConnection *conn;
  GError *error;
  gboolean done;
  GQueue messages; /* (element-type GBytes), text frames prefixed "T", binary "B" */
  gboolean closed;
} WsClient;

static void
ws_on_message (SoupWebsocketConnection *conn, int type, GBytes *message, WsClient *ws)
{
  gsize len;
  const char *data = g_bytes_get_data (message, &len);
  g_autoptr (GByteArray) tagged = g_byte_array_new ();

  g_byte_array_append (tagged, (const guint8 *) (type == SOUP_WEBSOCKET_DATA_TEXT ? "T" : "B"), 1);
  if (len > 0)
    g_byte_array_append (tagged, (const guint8 *) data, len);
  g_queue_push_tail (&ws->messages, g_byte_array_free_to_bytes (g_steal_pointer (&tagged)));
}

static void
ws_on_closed (SoupWebsocketConnection *conn, WsClient *ws)
{
  ws->closed = TRUE;
}

static void
ws_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  WsClient *ws = user_data;

  ws->conn = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &ws->error);
  if (ws->conn != NULL)
    {
      g_signal_connect (ws->conn, "message", G_CALLBACK (ws_on_message), ws);
      g_signal_connect (ws->conn, "closed", G_CALLBACK (ws_on_closed), ws);
    }
  ws->done = TRUE;
}

static WsClient *
ws_connect_full (Fixture *f, const char *sid, const char *origin)
{
  g_autofree char *url = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  WsClient *ws = g_new0 (WsClient, 1);

  g_queue_init (&ws->messages);
  if (sid != NULL)
    url = g_strdup_printf ("ws://127.0.0.1:%u/engine.io/?EIO=4&transport=websocket&sid=%s", f->port,
                           sid);
  else
    url = g_strdup_printf ("ws://127.0.0.1:%u/engine.io/?EIO=4&transport=websocket", f->port);
  msg = soup_message_new ("GET", url);
  soup_session_websocket_connect_async (f->session, msg, origin, NULL, G_PRIORITY_DEFAULT, NULL,
                                        ws_connected, ws);
  iterate_until (&ws->done);
  if (ws->conn != NULL)
    soup_websocket_connection_set_max_incoming_payload_size (ws->conn, 0);
  return ws;
}

static WsClient *
ws_connect (Fixture *f, const char *sid)
{
  WsClient *ws = ws_connect_full (f, sid, NULL);

  g_assert_no_error (ws->error);
  return ws;
}

static void
ws_free (WsClient *ws)
{
  if (ws->conn != NULL)
    {
      g_signal_handlers_disconnect_by_data (ws->conn, ws);
      if (soup_websocket_connection_get_state (ws->conn) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (ws->conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      g_object_unref (ws->conn);
    }
  g_queue_clear_full (&ws->messages, (GDestroyNotify) g_bytes_unref);
  g_clear_error (&ws->error);
  g_free (ws);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WsClient, ws_free)

/* Next message as "T<text>" or "B<bytes>". */
static char *
ws_next (WsClient *ws)
{
  g_autoptr (GBytes) message = NULL;
  gsize len;
  const char *data;
  char *copy;

  while (g_queue_is_empty (&ws->messages))
    {
      g_assert_false (ws->closed);
      g_main_context_iteration (NULL, TRUE);
    }
  message = g_queue_pop_head (&ws->messages);
  data = g_bytes_get_data (message, &len);
  copy = g_malloc (len + 1);
  memcpy (copy, data, len);
  copy[len] = '\0';
  return copy;
}

static void
ws_wait_closed (WsClient *ws)
{
  iterate_until (&ws->closed);
}

/* ------------------------------------------------------------------ */
/* Polling                                                            */

static void
test_polling_handshake (Fixture *f, gconstpointer user_data)
{
  g_autoptr (Request) req = request (f, "GET", "EIO=4&transport=polling&t=abc", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *body = request_body (req);
  g_autofree char *sid2 = NULL;
  SoupMessageHeaders *headers = soup_message_get_response_headers (req->msg);
  JsonObject *open;
  JsonArray *upgrades;

  g_assert_cmpuint (soup_message_get_status (req->msg), ==, SOUP_STATUS_OK);
  g_assert_cmpstr (soup_message_headers_get_one (headers, "Content-Type"), ==,
                   "text/plain; charset=UTF-8");
  g_assert_cmpstr (soup_message_headers_get_one (headers, "Cache-Control"), ==, "no-store");
  g_assert_cmpint (body[0], ==, '0');

  json_parser_load_from_data (parser, body + 1, -1, &error);
  g_assert_no_error (error);
  open = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpuint (json_object_get_size (open), ==, 5);
  g_assert_cmpuint (strlen (json_object_get_string_member (open, "sid")), >=, 20);
  upgrades = json_object_get_array_member (open, "upgrades");
  g_assert_cmpuint (json_array_get_length (upgrades), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (upgrades, 0), ==, "websocket");
  g_assert_cmpint (json_object_get_int_member (open, "pingInterval"), ==, 60000);
  g_assert_cmpint (json_object_get_int_member (open, "pingTimeout"), ==, 60000);
  g_assert_cmpint (json_object_get_int_member (open, "maxPayload"), ==, 1000);

  g_assert_cmpuint (f->sockets->len, ==, 1);
  g_assert_cmpstr (prd_eio_socket_get_id (last_socket (f)), ==,
                   json_object_get_string_member (open, "sid"));
  g_assert_cmpstr (prd_eio_socket_get_transport_name (last_socket (f)), ==, "polling");
  g_assert_cmpstr (prd_eio_socket_get_remote_address (last_socket (f)), ==, "127.0.0.1");
  g_assert_true (prd_eio_socket_is_open (last_socket (f)));
  g_assert_cmpuint (prd_eio_server_get_n_sockets (f->eio), ==, 1);

  sid2 = handshake (f, NULL);
  g_assert_cmpstr (sid2, !=, json_object_get_string_member (open, "sid"));
  g_assert_cmpuint (prd_eio_server_get_n_sockets (f->eio), ==, 2);
}

static void
test_polling_exchange (Fixture *f, gconstpointer user_data)
{
  g_autofree char *sid = handshake (f, NULL);
  g_autofree char *query = sid_query (sid);
  g_autoptr (Request) post = NULL;
  g_autoptr (Request) get = NULL;
  g_autoptr (Request) held = NULL;
  GBytes *bin;

  post = request (f, "POST", query,
                  "4hello\x1e"
                  "bAQIDBA==\x1e"
                  "4wörld");
  assert_response (post, SOUP_STATUS_OK, "ok");
  g_assert_cmpstr (
      soup_message_headers_get_content_type (soup_message_get_response_headers (post->msg), NULL),
      ==, "text/html");

  g_assert_cmpuint (f->texts->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (f->texts, 0), ==, "hello");
  g_assert_cmpstr (g_ptr_array_index (f->texts, 1), ==, "wörld");
  g_assert_cmpuint (f->binaries->len, ==, 1);
  bin = g_ptr_array_index (f->binaries, 0);
  g_assert_cmpmem (g_bytes_get_data (bin, NULL), g_bytes_get_size (bin), "\1\2\3\4", 4);

  /* The echoes were queued in order and come back in one payload. */
  get = request (f, "GET", query, NULL);
  assert_response (get, SOUP_STATUS_OK,
                   "4hello\x1e"
                   "bAQIDBA==\x1e"
                   "4wörld");
  g_assert_cmpuint (prd_eio_socket_get_buffered_amount (last_socket (f)), ==, 0);

  /* A held GET is answered when the server sends. */
  held = request_start (f, "GET", query, NULL, -1, NULL, NULL);
  while (g_main_context_pending (NULL))
    g_main_context_iteration (NULL, FALSE);
  g_assert_false (held->done);
  g_assert_true (prd_eio_socket_send_text (last_socket (f), "pushed", -1));
  g_assert_true (prd_eio_socket_send_text (last_socket (f), "batched", -1));
  request_wait (held);
  assert_response (held, SOUP_STATUS_OK,
                   "4pushed\x1e"
                   "4batched");
}

static void
test_polling_binary_body (Fixture *f, gconstpointer user_data)
{
  g_autofree char *sid = handshake (f, NULL);
  g_autofree char *query = sid_query (sid);
  g_autoptr (Request) post =
      request_start (f, "POST", query, "\x04\x01\x02", 3, "application/octet-stream", NULL);

  request_wait (post);
  assert_eio_error (post, 3, "Bad request");
  g_assert_cmpuint (f->texts->len + f->binaries->len, ==, 0);
}

static void
test_polling_too_large (Fixture *f, gconstpointer user_data)
{
  g_autofree char *sid = handshake (f, NULL);
  g_autofree char *query = sid_query (sid);
  g_autofree char *big = g_strnfill (1001, 'x');
  g_autofree char *exact = g_strnfill (1000, 'y');
  g_autoptr (Request) post = NULL;
  g_autoptr (Request) post2 = NULL;
  g_autoptr (Request) post3 = NULL;
  g_autoptr (Request) get = NULL;

  big[0] = '4';
  post = request (f, "POST", query, big);
  assert_response (post, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, NULL);
  g_assert_cmpuint (f->texts->len, ==, 0);

  /* The session lives on, and a body of exactly max-payload is fine. */
  g_assert_true (prd_eio_socket_is_open (last_socket (f)));
  exact[0] = '4';
  post2 = request (f, "POST", query, exact);
  assert_response (post2, SOUP_STATUS_OK, "ok");
  post3 = request (f, "POST", query, "4after");
  assert_response (post3, SOUP_STATUS_OK, "ok");
  get = request (f, "GET", query, NULL);
  g_assert_cmpuint (soup_message_get_status (get->msg), ==, SOUP_STATUS_OK);
  g_assert_cmpuint (f->texts->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (f->texts, 1), ==, "after");

  /* Without a Content-Length (chunked), the limit holds all the same. */
  {
    g_autofree char *url = g_strconcat (f->base, "?", query, NULL);
    g_autofree char *huge = g_strnfill (100000, 'h');
    g_autoptr (GInputStream) stream = NULL;
    g_autoptr (Request) chunked = g_new0 (Request, 1);

    huge[0] = '4';
    stream = g_memory_input_stream_new_from_data (huge, strlen (huge), NULL);
    chunked->msg = soup_message_new ("POST", url);
    soup_message_set_request_body (chunked->msg, "text/plain", stream, -1);
    soup_session_send_and_read_async (f->session, chunked->msg, G_PRIORITY_DEFAULT, NULL,
                                      request_done, chunked);
    request_wait (chunked);
    g_assert_cmpstr (soup_message_headers_get_one (soup_message_get_request_headers (chunked->msg),
                                                   "Transfer-Encoding"),
                     ==, "chunked");
    assert_response (chunked, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, NULL);
  }
  g_assert_cmpuint (f->texts->len, ==, 2);
  g_assert_true (prd_eio_socket_is_open (last_socket (f)));
  g_assert_cmpuint (f->closed->len, ==, 0);
}

static void
test_polling_parse_error (Fixture *f, gconstpointer user_data)
{
  g_autofree char *sid = handshake (f, NULL);
  g_autofree char *query = sid_query (sid);
  g_autoptr (Request) post = request (f, "POST", query,
                                      "4ok\x1e"
                                      "abc");
  g_autoptr (Request) get = NULL;

  assert_eio_error (post, 3, "Bad request");
  g_assert_cmpuint (f->closed->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->closed, 0), ==, "parse error");
  /* Nothing of a refused payload is delivered. */
  g_assert_cmpuint (f->texts->len, ==, 0);

  get = request (f, "GET", query, NULL);
  assert_eio_error (get, 1, "Session ID unknown");
  g_assert_cmpuint (prd_eio_server_get_n_sockets (f->eio), ==, 0);
}

static void
test_polling_overlapping_get (Fixture *f, gconstpointer user_data)
{
  g_autofree char *sid = handshake (f, NULL);
  g_autofree char *query = sid_query (sid);
  g_autoptr (Request) first = request_start (f, "GET", query, NULL, -1, NULL, NULL);
  g_autoptr (Request) second = NULL;
  g_autoptr (Request) third = NULL;

  while (g_main_context_pending (NULL))
    g_main_context_iteration (NULL, FALSE);
  g_assert_false (first->done);

  second = request (f, "GET", query, NULL);
  assert_eio_error (second, 3, "Bad request");
  request_wait (first);
  assert_response (first, SOUP_STATUS_OK, "1");
  g_assert_cmpuint (f->closed->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->closed, 0), ==, "transport error");

  third = request (f, "GET", query, NULL);
  assert_eio_error (third, 1, "Session ID unknown");
}

static gboolean
set_flag (GObject *stream, gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* A POST whose body is still being read when a second POST arrives. */
static void
test_polling_overlapping_post (Fixture *f, gconstpointer user_data)
{
  g_autofree char *sid = handshake (f, NULL);
  g_autofree char *query = sid_query (sid);
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (Request) second = NULL;
  g_autofree char *head = NULL;
  g_autoptr (GString) response = g_string_new (NULL);
  GOutputStream *out;
  GInputStream *in;
  char buf[1024];

  conn = g_socket_client_connect_to_host (client, "127.0.0.1", f->port, NULL, &error);
  g_assert_no_error (error);
  out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  in = g_io_stream_get_input_stream (G_IO_STREAM (conn));

  head = g_strdup_printf ("POST /engine.io/?%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Content-Type: text/plain\r\nContent-Length: 6\r\n\r\n4fi",
                          query);
  g_output_stream_write_all (out, head, strlen (head), NULL, NULL, &error);
  g_assert_no_error (error);

  /* Until the server has seen the first POST's headers, a second POST
   * would not overlap; iterate until it has. */
  while (f->texts->len == 0)
    {
      g_autoptr (Request) probe = NULL;

      while (g_main_context_pending (NULL))
        g_main_context_iteration (NULL, FALSE);
      probe = request (f, "POST", query, "4probe");
      if (soup_message_get_status (probe->msg) == SOUP_STATUS_BAD_REQUEST)
        {
          assert_eio_error (probe, 3, "Bad request");
          break;
        }
      /* The raw POST's headers were not read yet: try again. */
      g_assert_cmpuint (soup_message_get_status (probe->msg), ==, SOUP_STATUS_OK);
      g_ptr_array_set_size (f->texts, 0);
      g_main_context_iteration (NULL, FALSE);
    }

  /* The first POST completes normally, and the session is alive. */
  g_output_stream_write_all (out, "rst", 3, NULL, NULL, &error);
  g_assert_no_error (error);
  while (strstr (response->str, "\r\n\r\nok") == NULL)
    {
      gssize n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (in), buf,
                                                           sizeof buf, NULL, NULL);
      if (n > 0)
        {
          g_string_append_len (response, buf, n);
        }
      else
        {
          g_autoptr (GSource) source = NULL;
          gboolean readable = FALSE;

          g_assert_cmpint (n, !=, 0);
          source = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (in), NULL);
          g_source_set_callback (source, G_SOURCE_FUNC (set_flag), &readable, NULL);
          g_source_attach (source, NULL);
          iterate_until (&readable);
          g_source_destroy (source);
        }
    }
  g_assert_true (g_str_has_prefix (response->str, "HTTP/1.1 200"));
  g_assert_cmpuint (f->texts->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->texts, 0), ==, "first");

  second = request (f, "POST", query, "4second");
  assert_response (second, SOUP_STATUS_OK, "ok");
  g_assert_cmpuint (f->closed->len, ==, 0);
}

static gboolean
set_flag_timeout (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Everything @conn receives until the server closes it (or, as a bound,
 * until 30 s passed: then the test fails). */
static char *
raw_read_to_end (GSocketConnection *conn)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  GString *response = g_string_new (NULL);
  gboolean timed_out = FALSE;
  guint timeout_id = g_timeout_add_seconds (30, set_flag_timeout, &timed_out);
  char buf[1024];

  for (;;)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GSource) source = NULL;
      gboolean readable = FALSE;
      gssize n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (in), buf,
                                                           sizeof buf, NULL, &error);

      if (n > 0)
        {
          g_string_append_len (response, buf, n);
          continue;
        }
      if (n == 0 || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        break;
      source = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (in), NULL);
      g_source_set_callback (source, G_SOURCE_FUNC (set_flag), &readable, NULL);
      g_source_attach (source, NULL);
      prd_test_wait_while (!readable && !timed_out, PRD_TEST_TIMEOUT_MS);
      g_source_destroy (source);
      g_assert_false (timed_out);
    }
  g_source_remove (timeout_id);
  return g_string_free (response, FALSE);
}

/* A body over max-payload is refused from the headers, before it is sent
 * (Content-Length) or as soon as it grows past the limit (chunked): 413,
 * the connection closed, and the session lives on. */
static void
test_polling_too_large_early (Fixture *f, gconstpointer user_data)
{
  g_autofree char *sid = handshake (f, NULL);
  g_autofree char *query = sid_query (sid);
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (Request) after = NULL;
  const char *const framings[] = { "Content-Length: 500000000", "Transfer-Encoding: chunked" };

  for (guint i = 0; i < G_N_ELEMENTS (framings); i++)
    {
      g_autoptr (GSocketConnection) conn = NULL;
      g_autoptr (GError) error = NULL;
      g_autofree char *head = NULL;
      g_autofree char *response = NULL;
      GOutputStream *out;

      conn = g_socket_client_connect_to_host (client, "127.0.0.1", f->port, NULL, &error);
      g_assert_no_error (error);
      out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
      head = g_strdup_printf ("POST /engine.io/?%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Content-Type: text/plain\r\n%s\r\n\r\n",
                              query, framings[i]);
      g_output_stream_write_all (out, head, strlen (head), NULL, NULL, &error);
      g_assert_no_error (error);
      if (i == 1)
        {
          /* 1200 bytes in three chunks, more than max-payload (1000), and
           * no last chunk: only a refusal from the chunks ends this. */
          for (guint c = 0; c < 3; c++)
            {
              g_autofree char *data = g_strnfill (400, c == 0 ? '4' : 'x');
              g_autofree char *chunk = g_strdup_printf ("190\r\n%s\r\n", data);

              g_output_stream_write_all (out, chunk, strlen (chunk), NULL, NULL, &error);
              g_assert_no_error (error);
            }
        }

      response = raw_read_to_end (conn);
      g_assert_true (g_str_has_prefix (response, "HTTP/1.1 413 "));
      g_assert_nonnull (strstr (response, "\r\nConnection: close\r\n"));
    }

  g_assert_cmpuint (f->texts->len, ==, 0);
  g_assert_true (prd_eio_socket_is_open (last_socket (f)));
  /* Neither refused POST is still taken for one in progress. */
  after = request (f, "POST", query, "4after");
  assert_response (after, SOUP_STATUS_OK, "ok");
  g_assert_cmpuint (f->texts->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->texts, 0), ==, "after");
}

static void
test_polling_client_close (Fixture *f, gconstpointer user_data)
{
  g_autofree char *sid = handshake (f, NULL);
  g_autofree char *query = sid_query (sid);
  g_autoptr (Request) get = request_start (f, "GET", query, NULL, -1, NULL, NULL);
  g_autoptr (Request) post = NULL;
  g_autoptr (Request) after = NULL;

  while (g_main_context_pending (NULL))
    g_main_context_iteration (NULL, FALSE);
  post = request (f, "POST", query, "1");
  assert_response (post, SOUP_STATUS_OK, "ok");
  request_wait (get);
  assert_response (get, SOUP_STATUS_OK, "6");
  g_assert_cmpuint (f->closed->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->closed, 0), ==, "transport close");
  g_assert_false (prd_eio_socket_send_text (last_socket (f), "late", -1));

  after = request (f, "GET", query, NULL);
  assert_eio_error (after, 1, "Session ID unknown");
}

static void
test_polling_server_close (Fixture *f, gconstpointer user_data)
{
  g_autofree char *sid = handshake (f, NULL);
  g_autofree char *query = sid_query (sid);
  g_autofree char *sid2 = NULL;
  g_autofree char *query2 = NULL;
  g_autoptr (Request) get = NULL;
  g_autoptr (Request) held = NULL;
  g_autoptr (Request) after = NULL;

  /* Queued packets are still delivered, then the close packet in a response
   * of its own (a client handles a close before the packets decoded with it). */
  g_assert_true (prd_eio_socket_send_text (last_socket (f), "bye", -1));
  prd_eio_socket_close (last_socket (f), NULL);
  g_assert_cmpuint (f->closed->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->closed, 0), ==, "forced close");
  g_assert_false (prd_eio_socket_is_open (last_socket (f)));
  g_assert_false (prd_eio_socket_send_text (last_socket (f), "late", -1));
  get = request (f, "GET", query, NULL);
  assert_response (get, SOUP_STATUS_OK, "4bye");
  g_clear_pointer (&get, request_free);
  get = request (f, "GET", query, NULL);
  assert_response (get, SOUP_STATUS_OK, "1");
  after = request (f, "GET", query, NULL);
  assert_eio_error (after, 1, "Session ID unknown");

  /* A held GET gets the close packet at once. */
  sid2 = handshake (f, NULL);
  query2 = sid_query (sid2);
  held = request_start (f, "GET", query2, NULL, -1, NULL, NULL);
  while (g_main_context_pending (NULL))
    g_main_context_iteration (NULL, FALSE);
  g_assert_false (held->done);
  prd_eio_server_close_all (f->eio);
  request_wait (held);
  assert_response (held, SOUP_STATUS_OK, "1");
  g_assert_cmpstr (g_ptr_array_index (f->closed, 1), ==, "server shutting down");
  g_assert_cmpuint (prd_eio_server_get_n_sockets (f->eio), ==, 0);
}

/* How the client lets go of the connection of its held GET. */
typedef enum
{
  HELD_CLOSE,          /* close(): FIN */
  HELD_RESET,          /* SO_LINGER 0: RST */
  HELD_HALF,           /* shutdown(SHUT_WR), still reading */
  HELD_PIPELINED,      /* another request behind it, connection kept */
  HELD_PIPELINED_HALF, /* another request behind it, then a half-close */
} HeldEnd;

static void
count_request (SoupServer *server, SoupServerMessage *msg, guint *n)
{
  (*n)++;
}

/* A polling GET of @sid on a connection of its own (blocking), returned
 * once the server holds it. */
static GSocket *
held_get (Fixture *f, const char *sid)
{
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new_from_string ("127.0.0.1", f->port);
  g_autoptr (GError) error = NULL;
  g_autofree char *head = g_strdup_printf (
      "GET /engine.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", sid);
  guint requests = 0;
  gulong id =
      g_signal_connect (f->soup_server, "request-read", G_CALLBACK (count_request), &requests);

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_connect (socket, address, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_socket_send (socket, head, strlen (head), NULL, &error), ==, strlen (head));
  g_assert_no_error (error);
  /* The handler runs in the dispatch that read the request. */
  prd_test_wait_while (requests == 0, PRD_TEST_TIMEOUT_MS);
  g_signal_handler_disconnect (f->soup_server, id);
  return g_steal_pointer (&socket);
}

/* What @socket receives until it ends with @end, or the server closes it
 * (libsoup's own listener keeps a half-closed connection open). */
static char *
socket_read_until (GSocket *socket, const char *end)
{
  GString *got = g_string_new (NULL);

  g_socket_set_blocking (socket, FALSE);
  for (;;)
    {
      char buffer[4096];
      g_autoptr (GError) error = NULL;
      gssize n = g_socket_receive (socket, buffer, sizeof buffer, NULL, &error);

      if (n > 0)
        g_string_append_len (got, buffer, n);
      else if (n == 0 || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        break;
      else
        g_main_context_iteration (NULL, FALSE);
      if (g_str_has_suffix (got->str, end))
        break;
    }
  return g_string_free (got, FALSE);
}

/* A held GET whose connection the client closed (FIN, RST or a half-close,
 * as engine.io under Node's HTTP server) closes the session when the next
 * packet would be written: it must not go into a connection nobody reads
 * while the session lives on. Another request pipelined behind the GET is
 * no close. */
static void
test_polling_held_get_closed (Fixture *f, gconstpointer user_data)
{
  for (HeldEnd how = HELD_CLOSE; how <= HELD_PIPELINED_HALF; how++)
    {
      g_autofree char *sid = handshake (f, NULL);
      g_autofree char *query = sid_query (sid);
      g_autofree char *pipelined = g_strdup_printf (
          "GET /engine.io/?%s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", query);
      g_autoptr (GSocket) socket = held_get (f, sid);
      g_autoptr (Request) after = NULL;
      g_autoptr (GError) error = NULL;
      g_autofree char *got = NULL;
      PrdEioSocket *session = last_socket (f);
      guint closed = f->closed->len;

      g_test_message ("how: %d", how);
      switch (how)
        {
          case HELD_CLOSE:
            g_socket_close (socket, &error);
            break;
          case HELD_RESET:
            {
              struct linger linger = { .l_onoff = 1, .l_linger = 0 };

              g_assert_cmpint (setsockopt (g_socket_get_fd (socket), SOL_SOCKET, SO_LINGER, &linger,
                                           sizeof linger),
                               ==, 0);
            }
            g_socket_close (socket, &error);
            break;
          case HELD_HALF:
            g_socket_shutdown (socket, FALSE, TRUE, &error);
            break;
          case HELD_PIPELINED:
          case HELD_PIPELINED_HALF:
            /* Sent once the GET is held, so that the bytes wait unread
             * under it rather than in libsoup's buffer. */
            g_assert_cmpint (g_socket_send (socket, pipelined, strlen (pipelined), NULL, &error),
                             ==, strlen (pipelined));
            break;
        }
      g_assert_no_error (error);

      if (how == HELD_PIPELINED)
        {
          /* Whatever the server does with the bytes behind the GET, it
           * keeps the session and answers both GETs in turn. */
          while (g_main_context_pending (NULL))
            g_main_context_iteration (NULL, FALSE);
          g_assert_true (prd_eio_socket_is_open (session));
          g_assert_true (prd_eio_socket_send_text (session, "first", -1));
          prd_test_wait_while (prd_eio_socket_get_buffered_amount (session) > 0,
                               PRD_TEST_TIMEOUT_MS);
          g_assert_true (prd_eio_socket_send_text (session, "second", -1));
          got = socket_read_until (socket, "\r\n\r\n4second");
          g_assert_nonnull (strstr (got, "\r\n\r\n4first"));
          g_assert_nonnull (strstr (got, "\r\n\r\n4second"));
          g_assert_cmpuint (f->closed->len, ==, closed);
          g_assert_true (prd_eio_socket_is_open (session));
          continue;
        }
      if (how == HELD_PIPELINED_HALF)
        {
          /* The end of stream behind the request shows only in the
           * connection's state: it is looked at before anything is written
           * into the connection. */
          while (g_main_context_pending (NULL))
            g_main_context_iteration (NULL, FALSE);
          g_socket_shutdown (socket, FALSE, TRUE, &error);
          g_assert_no_error (error);
          if (prd_eio_socket_send_text (session, "lost", -1))
            g_assert_cmpuint (f->closed->len, ==, closed);
        }

      if (how == HELD_CLOSE || how == HELD_RESET || how == HELD_HALF)
        {
          /* Nothing watches the connection while the GET is held: the
           * next packet written into it finds it closed. */
          while (g_main_context_pending (NULL))
            g_main_context_iteration (NULL, FALSE);
          g_assert_true (prd_eio_socket_is_open (session));
          prd_eio_socket_send_text (session, "lost", -1);
        }

      wait_closed (f, closed + 1);
      g_assert_cmpstr (g_ptr_array_index (f->closed, closed), ==, "transport close");
      g_assert_false (prd_eio_socket_send_text (session, "lost", -1));
      if (how == HELD_HALF || how == HELD_PIPELINED_HALF)
        {
          /* The client still reading gets the close packet. */
          got = socket_read_until (socket, "\r\n\r\n1");
          g_assert_true (g_str_has_prefix (got, "HTTP/1.1 200 "));
          g_assert_true (g_str_has_suffix (got, "\r\n\r\n1"));
          g_assert_null (strstr (got, "lost"));
        }
      after = request (f, "GET", query, NULL);
      assert_eio_error (after, 1, "Session ID unknown");
      g_clear_pointer (&after, request_free);
      after = request (f, "POST", query, "4x");
      assert_eio_error (after, 1, "Session ID unknown");
    }
  g_assert_cmpuint (f->texts->len, ==, 0);
}

/* ------------------------------------------------------------------ */
/* Heartbeat                                                          */

static const ServerConfig heartbeat_config = {
  .ping_interval = 50,
  .ping_timeout = 60000,
  .max_payload = 1000,
  .max_write_buffer = 1 << 20,
};

static const ServerConfig timeout_config = {
  .ping_interval = 20,
  .ping_timeout = 20,
  .max_payload = 1000,
  .max_write_buffer = 1 << 20,
};

static void
test_heartbeat_polling (Fixture *f, gconstpointer user_data)
{
  g_autofree char *sid = handshake (f, NULL);
  g_autofree char *query = sid_query (sid);

  for (int i = 0; i < 3; i++)
    {
      g_autoptr (Request) get = request (f, "GET", query, NULL);
      g_autoptr (Request) post = NULL;

      assert_response (get, SOUP_STATUS_OK, "2");
      post = request (f, "POST", query, "3");
      assert_response (post, SOUP_STATUS_OK, "ok");
    }
  g_assert_cmpuint (f->closed->len, ==, 0);
}

static void
test_heartbeat_timeout (Fixture *f, gconstpointer user_data)
{
  g_autofree char *sid = handshake (f, NULL);
  g_autofree char *query = sid_query (sid);
  g_autoptr (Request) get = NULL;
  g_autoptr (WsClient) ws = NULL;
  g_autofree char *open = NULL;

  wait_closed (f, 1);
  g_assert_cmpstr (g_ptr_array_index (f->closed, 0), ==, "ping timeout");
  get = request (f, "GET", query, NULL);
  assert_eio_error (get, 1, "Session ID unknown");

  /* Same over WebSocket: the client never answers the ping. */
  ws = ws_connect (f, NULL);
  open = ws_next (ws);
  g_assert_true (g_str_has_prefix (open, "T0{"));
  wait_closed (f, 2);
  g_assert_cmpstr (g_ptr_array_index (f->closed, 1), ==, "ping timeout");
  ws_wait_closed (ws);
}

static void
test_heartbeat_client_ping (Fixture *f, gconstpointer user_data)
{
  g_autofree char *sid = handshake (f, NULL);
  g_autofree char *query = sid_query (sid);
  g_autoptr (Request) post = request (f, "POST", query, "2");

  g_assert_cmpuint (f->closed->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->closed, 0), ==, "transport error");
}

/* ------------------------------------------------------------------ */
/* WebSocket                                                          */

static void
test_websocket_direct (Fixture *f, gconstpointer user_data)
{
  g_autoptr (WsClient) ws = ws_connect (f, NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *open = ws_next (ws);
  g_autofree char *echo = NULL;
  g_autofree char *echo_bin = NULL;
  g_autoptr (GBytes) bin = g_bytes_new_static ("\0\1\2", 3);
  JsonObject *obj;

  g_assert_true (g_str_has_prefix (open, "T0"));
  json_parser_load_from_data (parser, open + 2, -1, &error);
  g_assert_no_error (error);
  obj = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (obj, "upgrades")), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (obj, "sid"), ==,
                   prd_eio_socket_get_id (last_socket (f)));
  g_assert_cmpstr (prd_eio_socket_get_transport_name (last_socket (f)), ==, "websocket");

  soup_websocket_connection_send_text (ws->conn, "4hello");
  echo = ws_next (ws);
  g_assert_cmpstr (echo, ==, "T4hello");

  soup_websocket_connection_send_binary (ws->conn, "\0\1\2", 3);
  echo_bin = ws_next (ws);
  g_assert_cmpmem (echo_bin, 4, "B\0\1\2", 4);

  soup_websocket_connection_send_text (ws->conn, "1");
  ws_wait_closed (ws);
  wait_closed (f, 1);
  g_assert_cmpstr (g_ptr_array_index (f->closed, 0), ==, "transport close");
}

static void
test_websocket_server_close (Fixture *f, gconstpointer user_data)
{
  g_autoptr (WsClient) ws = ws_connect (f, NULL);
  g_autoptr (WsClient) ws2 = NULL;
  g_autofree char *open = ws_next (ws);
  g_autofree char *open2 = NULL;
  g_autofree char *bye = NULL;

  /* What was sent before the close arrives, then a clean close. */
  g_assert_true (prd_eio_socket_send_text (last_socket (f), "bye", -1));
  prd_eio_socket_close (last_socket (f), "forced close");
  g_assert_cmpuint (f->closed->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->closed, 0), ==, "forced close");
  g_assert_false (prd_eio_socket_send_text (last_socket (f), "late", -1));
  bye = ws_next (ws);
  g_assert_cmpstr (bye, ==, "T4bye");
  ws_wait_closed (ws);
  g_assert_cmpuint (soup_websocket_connection_get_close_code (ws->conn), ==,
                    SOUP_WEBSOCKET_CLOSE_NORMAL);

  ws2 = ws_connect (f, NULL);
  open2 = ws_next (ws2);
  prd_eio_server_close_all (f->eio);
  ws_wait_closed (ws2);
  g_assert_cmpstr (g_ptr_array_index (f->closed, 1), ==, "server shutting down");
  g_assert_cmpuint (prd_eio_server_get_n_sockets (f->eio), ==, 0);
}

static void
test_websocket_parse_error (Fixture *f, gconstpointer user_data)
{
  g_autoptr (WsClient) ws = ws_connect (f, NULL);
  g_autofree char *open = ws_next (ws);

  soup_websocket_connection_send_text (ws->conn, "abc");
  ws_wait_closed (ws);
  wait_closed (f, 1);
  g_assert_cmpstr (g_ptr_array_index (f->closed, 0), ==, "parse error");
}

static void
test_websocket_upgrade (Fixture *f, gconstpointer user_data)
{
  g_autofree char *sid = handshake (f, NULL);
  g_autofree char *query = sid_query (sid);
  g_autoptr (Request) held = request_start (f, "GET", query, NULL, -1, NULL, NULL);
  g_autoptr (Request) after = NULL;
  g_autoptr (WsClient) ws = NULL;
  g_autoptr (WsClient) ws2 = NULL;
  g_autofree char *probe = NULL;
  g_autofree char *flushed = NULL;
  g_autofree char *echo = NULL;

  ws = ws_connect (f, sid);
  soup_websocket_connection_send_text (ws->conn, "2probe");
  probe = ws_next (ws);
  g_assert_cmpstr (probe, ==, "T3probe");

  /* The held GET is released with a noop so the client can switch. */
  request_wait (held);
  assert_response (held, SOUP_STATUS_OK, "6");
  g_assert_cmpstr (prd_eio_socket_get_transport_name (last_socket (f)), ==, "polling");
  g_assert_cmpuint (f->upgraded->len, ==, 0);

  /* Sent before the switch: delivered over the new transport. */
  g_assert_true (prd_eio_socket_send_text (last_socket (f), "queued", -1));
  soup_websocket_connection_send_text (ws->conn, "5");
  flushed = ws_next (ws);
  g_assert_cmpstr (flushed, ==, "T4queued");
  g_assert_cmpstr (prd_eio_socket_get_transport_name (last_socket (f)), ==, "websocket");
  /* The server says so, once. */
  g_assert_cmpuint (f->upgraded->len, ==, 1);
  g_assert_true (g_ptr_array_index (f->upgraded, 0) == last_socket (f));

  soup_websocket_connection_send_text (ws->conn, "4hello");
  echo = ws_next (ws);
  g_assert_cmpstr (echo, ==, "T4hello");

  after = request (f, "GET", query, NULL);
  assert_eio_error (after, 3, "Bad request");

  /* A second WebSocket for the session is accepted and closed. */
  ws2 = ws_connect (f, sid);
  ws_wait_closed (ws2);
  g_assert_cmpuint (f->closed->len, ==, 0);
  g_assert_cmpuint (f->sockets->len, ==, 1);
  g_assert_cmpuint (f->upgraded->len, ==, 1);
}

static const ServerConfig upgrade_timeout_config = {
  .ping_interval = 60000,
  .ping_timeout = 60000,
  .upgrade_timeout = 20,
  .max_payload = 1000,
  .max_write_buffer = 1 << 20,
};

/* A probe that never completes the upgrade is dropped; polling goes on. */
static void
test_websocket_upgrade_timeout (Fixture *f, gconstpointer user_data)
{
  g_autofree char *sid = handshake (f, NULL);
  g_autofree char *query = sid_query (sid);
  g_autoptr (WsClient) ws = ws_connect (f, sid);
  g_autoptr (Request) post = NULL;
  g_autoptr (Request) get = NULL;
  g_autofree char *probe = NULL;

  soup_websocket_connection_send_text (ws->conn, "2probe");
  probe = ws_next (ws);
  g_assert_cmpstr (probe, ==, "T3probe");
  ws_wait_closed (ws);

  g_assert_cmpstr (prd_eio_socket_get_transport_name (last_socket (f)), ==, "polling");
  post = request (f, "POST", query, "4still");
  assert_response (post, SOUP_STATUS_OK, "ok");
  get = request (f, "GET", query, NULL);
  assert_response (get, SOUP_STATUS_OK, "4still");
  g_assert_cmpuint (f->closed->len, ==, 0);
}

/* Anything but "2probe" or "5" on the probe aborts the upgrade only. */
static void
test_websocket_bad_probe (Fixture *f, gconstpointer user_data)
{
  g_autofree char *sid = handshake (f, NULL);
  g_autofree char *query = sid_query (sid);
  g_autoptr (WsClient) ws = ws_connect (f, sid);
  g_autoptr (Request) get = NULL;

  soup_websocket_connection_send_text (ws->conn, "4hello");
  ws_wait_closed (ws);
  g_assert_cmpuint (f->texts->len, ==, 0);
  g_assert_true (prd_eio_socket_send_text (last_socket (f), "polling", -1));
  get = request (f, "GET", query, NULL);
  assert_response (get, SOUP_STATUS_OK, "4polling");
  g_assert_cmpuint (f->closed->len, ==, 0);
}

/* A client probes once: a second probe aborts the upgrade (answering
 * every probe of a client that does not read would queue answers without
 * limit). The session goes on over polling. */
static void
test_websocket_second_probe (Fixture *f, gconstpointer user_data)
{
  g_autofree char *sid = handshake (f, NULL);
  g_autofree char *query = sid_query (sid);
  g_autoptr (WsClient) ws = ws_connect (f, sid);
  g_autoptr (Request) get = NULL;
  g_autofree char *probe = NULL;

  soup_websocket_connection_send_text (ws->conn, "2probe");
  probe = ws_next (ws);
  g_assert_cmpstr (probe, ==, "T3probe");
  soup_websocket_connection_send_text (ws->conn, "2probe");
  ws_wait_closed (ws);
  g_assert_cmpuint (soup_websocket_connection_get_close_code (ws->conn), ==,
                    SOUP_WEBSOCKET_CLOSE_PROTOCOL_ERROR);
  g_assert_cmpstr (prd_eio_socket_get_transport_name (last_socket (f)), ==, "polling");
  g_assert_true (prd_eio_socket_send_text (last_socket (f), "polling", -1));
  get = request (f, "GET", query, NULL);
  assert_response (get, SOUP_STATUS_OK, "4polling");
  g_assert_cmpuint (f->closed->len, ==, 0);
}

static void
test_websocket_too_big (Fixture *f, gconstpointer user_data)
{
  g_autoptr (WsClient) ws = ws_connect (f, NULL);
  g_autofree char *open = ws_next (ws);
  g_autofree char *fits = g_strnfill (1000, 'a');
  g_autofree char *big = g_strnfill (1001, 'a');
  g_autofree char *echo = NULL;

  fits[0] = '4';
  soup_websocket_connection_send_text (ws->conn, fits);
  echo = ws_next (ws);
  g_assert_cmpuint (strlen (echo), ==, 1001);

  big[0] = '4';
  soup_websocket_connection_send_text (ws->conn, big);
  ws_wait_closed (ws);
  g_assert_cmpuint (soup_websocket_connection_get_close_code (ws->conn), ==,
                    SOUP_WEBSOCKET_CLOSE_TOO_BIG);
  wait_closed (f, 1);
  g_assert_cmpstr (g_ptr_array_index (f->closed, 0), ==, "transport error");
  g_assert_cmpuint (f->texts->len, ==, 1);
}

/* Reads what the server sends until it closes the connection. */
static GBytes *
read_until_eof (GSocketConnection *conn)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  g_autoptr (GByteArray) data = g_byte_array_new ();
  guint8 buf[4096];

  for (;;)
    {
      g_autoptr (GError) error = NULL;
      gssize n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (in), buf,
                                                           sizeof buf, NULL, &error);

      if (n > 0)
        {
          g_byte_array_append (data, buf, n);
        }
      else if (n == 0 || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          break;
        }
      else
        {
          g_autoptr (GSource) source = NULL;
          gboolean readable = FALSE;

          source = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (in), NULL);
          g_source_set_callback (source, G_SOURCE_FUNC (set_flag), &readable, NULL);
          g_source_attach (source, NULL);
          iterate_until (&readable);
          g_source_destroy (source);
        }
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&data));
}

/* Connects, and sends the handshake with @early (nullable) after it in the
 * same write. */
static GSocketConnection *
raw_websocket_connect_with (Fixture *f, GByteArray *early)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GError) error = NULL;
  static const char handshake_text[] = "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                                       "Host: 127.0.0.1\r\n"
                                       "Upgrade: websocket\r\n"
                                       "Connection: Upgrade\r\n"
                                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                       "Sec-WebSocket-Version: 13\r\n\r\n";

  g_autoptr (GByteArray) sent = g_byte_array_new ();
  guint before = f->sockets->len;

  conn = g_socket_client_connect_to_host (client, "127.0.0.1", f->port, NULL, &error);
  g_assert_no_error (error);
  g_byte_array_append (sent, (const guint8 *) handshake_text, strlen (handshake_text));
  if (early != NULL)
    g_byte_array_append (sent, early->data, early->len);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), sent->data,
                             sent->len, NULL, NULL, &error);
  g_assert_no_error (error);
  prd_test_wait_while (f->sockets->len == before, PRD_TEST_TIMEOUT_MS);
  return g_steal_pointer (&conn);
}

static GSocketConnection *
raw_websocket_connect (Fixture *f)
{
  return raw_websocket_connect_with (f, NULL);
}

/* A message sent as many small fragments is refused once it passes the
 * limit, long before it is complete. */
static void
test_websocket_too_big_fragmented (Fixture *f, gconstpointer user_data)
{
  g_autoptr (GSocketConnection) conn = raw_websocket_connect (f);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  g_autoptr (GBytes) received = NULL;
  static const guint8 close_too_big[] = { 0x88, 0x02, 0x03, 0xf1 };
  guint8 frame[6 + 100];
  gsize len;
  const guint8 *data;
  gboolean found = FALSE;
  guint n_sent = 0;

  /* 100-byte fragments, masked with a zero key; the first is a text frame,
   * the others continuations, none final. */
  memset (frame, 'x', sizeof frame);
  frame[1] = 0x80 | 100;
  memset (frame + 2, 0, 4);
  frame[6] = '4';
  while (f->closed->len == 0)
    {
      g_autoptr (GError) error = NULL;

      frame[0] = n_sent == 0 ? 0x01 : 0x00;
      if (!g_output_stream_write_all (out, frame, sizeof frame, NULL, NULL, &error))
        break;
      n_sent++;
      while (g_main_context_pending (NULL))
        g_main_context_iteration (NULL, FALSE);
      /* A complete-message limit that never triggers would loop forever. */
      g_assert_cmpuint (n_sent, <, 100000);
    }
  g_test_message ("server gave up after %u fragments", n_sent);
  g_assert_cmpuint (n_sent * 100, >, 1000);

  wait_closed (f, 1);
  g_assert_cmpstr (g_ptr_array_index (f->closed, 0), ==, "transport error");
  g_assert_cmpuint (f->texts->len, ==, 0);

  received = read_until_eof (conn);
  data = g_bytes_get_data (received, &len);
  for (gsize i = 0; i + sizeof close_too_big <= len; i++)
    if (memcmp (data + i, close_too_big, sizeof close_too_big) == 0)
      found = TRUE;
  g_assert_true (found);
}

/* A client that sends messages and closes at once, in one write: the
 * answers to its messages still reach it, before the server's Close. With
 * the connection on an I/O thread, the Close is held back until the
 * session has handled the messages read before it. */
static void
test_websocket_close_after_messages (Fixture *f, gconstpointer user_data)
{
  g_autoptr (GSocketConnection) conn = raw_websocket_connect (f);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  g_autoptr (GByteArray) frames = g_byte_array_new ();
  g_autoptr (GBytes) received = NULL;
  g_autoptr (GError) error = NULL;
  static const guint8 close_normal[] = { 0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8 };
  const char *messages[] = { "4first", "4second", "4third" };
  const char *data;
  gsize len;
  const char *last = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (messages); i++)
    {
      /* Masked with a zero key. */
      guint8 header[6] = { 0x81, 0x80 | (guint8) strlen (messages[i]), 0, 0, 0, 0 };

      g_byte_array_append (frames, header, sizeof header);
      g_byte_array_append (frames, (const guint8 *) messages[i], strlen (messages[i]));
    }
  g_byte_array_append (frames, close_normal, sizeof close_normal);
  g_output_stream_write_all (out, frames->data, frames->len, NULL, NULL, &error);
  g_assert_no_error (error);

  received = read_until_eof (conn);
  wait_closed (f, 1);
  g_assert_cmpuint (f->texts->len, ==, G_N_ELEMENTS (messages));

  /* Every echo arrived, in order, and nothing after the Close frame. */
  data = g_bytes_get_data (received, &len);
  for (guint i = 0; i < G_N_ELEMENTS (messages); i++)
    {
      const char *found = g_strstr_len (last != NULL ? last : data,
                                        len - ((last != NULL ? last : data) - data), messages[i]);

      g_assert_nonnull (found);
      last = found + strlen (messages[i]);
    }
  g_assert_nonnull (memchr (last, 0x88, len - (last - data)));
}

typedef struct
{
  GSocketConnection *conn;
  gint stop;     /* atomic */
  gint finished; /* atomic: the flood stopped by itself */
} Flood;

#define FLOOD_MAX_BYTES (256 * 1024 * 1024)

/* Sends empty Pongs (which ask for nothing back) as fast as the socket
 * takes them, until told to stop or FLOOD_MAX_BYTES are sent. */
static gpointer
flood_run (gpointer data)
{
  Flood *flood = data;
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (flood->conn));
  static const guint8 pong[] = { 0x8a, 0x80, 0, 0, 0, 0 };
  g_autoptr (GByteArray) chunk = g_byte_array_new ();
  gsize sent = 0;

  while (chunk->len < 60000)
    g_byte_array_append (chunk, pong, sizeof pong);
  while (!g_atomic_int_get (&flood->stop) && sent < FLOOD_MAX_BYTES)
    {
      if (!g_output_stream_write_all (out, chunk->data, chunk->len, NULL, NULL, NULL))
        break;
      sent += chunk->len;
    }
  g_atomic_int_set (&flood->finished, 1);
  return NULL;
}

/* A peer that sends faster than its frames are parsed does not keep the
 * context from everything else on it: a timer fires while the flood goes
 * on (before the bound, here connections run on the main context, timers
 * and all; reading without end stopped them until the flood ended). */
static void
test_websocket_flood (Fixture *f, gconstpointer user_data)
{
  g_autoptr (GSocketConnection) conn = raw_websocket_connect (f);
  Flood flood = { conn, 0, 0 };
  GThread *thread;
  gboolean fired = FALSE;
  gboolean flooding;

  thread = g_thread_new ("flood", flood_run, &flood);
  g_timeout_add (10, set_flag_timeout, &fired);
  iterate_until (&fired);
  flooding = !g_atomic_int_get (&flood.finished);
  g_atomic_int_set (&flood.stop, 1);
  /* The writer may wait for the server to read: let it. */
  while (!g_atomic_int_get (&flood.finished))
    g_main_context_iteration (NULL, FALSE);
  g_thread_join (thread);
  g_assert_true (flooding);
}

/* Appends a client frame (masked with @key) to @out. */
static void
append_frame (GByteArray *out, guint8 first, const void *payload, gsize len, guint32 key)
{
  guint8 header[8] = { first };
  guint8 mask[4] = { key >> 24, key >> 16, key >> 8, key };
  gsize at = out->len;
  gsize n = 2;

  g_assert_cmpuint (len, <, 65536);
  if (len < 126)
    header[1] = 0x80 | len;
  else
    {
      header[1] = 0x80 | 126;
      header[2] = len >> 8;
      header[3] = len & 0xff;
      n = 4;
    }
  g_byte_array_append (out, header, n);
  g_byte_array_append (out, mask, 4);
  g_byte_array_append (out, payload, len);
  for (gsize i = 0; i < len; i++)
    out->data[at + n + 4 + i] ^= mask[i & 3];
}

/* Writes @frames to a new raw WebSocket connection and returns everything
 * the server sent until it closed the connection. */
static GBytes *
exchange_raw (Fixture *f, GByteArray *frames)
{
  g_autoptr (GSocketConnection) conn = raw_websocket_connect (f);
  g_autoptr (GError) error = NULL;

  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), frames->data,
                             frames->len, NULL, NULL, &error);
  g_assert_no_error (error);
  return read_until_eof (conn);
}

/* The offset of the first @needle in @haystack, or -1; *count (if not
 * NULL) is set to how many there are. */
static gssize
find_bytes_counted (GBytes *haystack, const void *needle, gsize len, guint *count)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (haystack, &size);
  gssize first = -1;
  guint n = 0;

  for (gsize i = 0; i + len <= size; i++)
    if (memcmp (data + i, needle, len) == 0)
      {
        if (first < 0)
          first = i;
        n++;
      }
  if (count != NULL)
    *count = n;
  return first;
}

static gssize
find_bytes (GBytes *haystack, const void *needle, gsize len)
{
  return find_bytes_counted (haystack, needle, len, NULL);
}

/* A Ping is answered with a Pong carrying its payload; a message sent in
 * fragments, with a Ping between them and a mask key that is not zero, is
 * one message; the peer's Close is answered with its code. */
static void
test_websocket_frames (Fixture *f, gconstpointer user_data)
{
  g_autoptr (GByteArray) frames = g_byte_array_new ();
  g_autoptr (GBytes) received = NULL;
  static const guint8 pong[] = { 0x8a, 0x05, 'h', 'e', 'l', 'l', 'o' };
  static const guint8 close_4000[] = { 0x88, 0x02, 0x0f, 0xa0 };
  static const guint8 close_4000_bye[] = { 0x0f, 0xa0, 'b', 'y', 'e' };
  /* "4fragmé" split inside the two bytes of the é */
  static const char text[] = "4fragm\xc3\xa9";
  gssize at_pong, at_echo, at_close;
  guint n_pongs;

  append_frame (frames, 0x89, "hello", 5, 0x12345678);
  append_frame (frames, 0x01, text, 3, 0xdeadbeef);
  append_frame (frames, 0x89, "hello", 5, 0x01020304);
  append_frame (frames, 0x00, text + 3, 4, 0xcafef00d);
  append_frame (frames, 0x80, text + 7, 1, 0x0badf00d);
  append_frame (frames, 0x88, close_4000_bye, sizeof close_4000_bye, 0x55aa55aa);
  received = exchange_raw (f, frames);
  wait_closed (f, 1);

  g_assert_cmpuint (f->texts->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->texts, 0), ==, "fragm\xc3\xa9");
  g_assert_cmpstr (g_ptr_array_index (f->closed, 0), ==, "transport close");
  at_pong = find_bytes_counted (received, pong, sizeof pong, &n_pongs);
  at_echo = find_bytes (received, "fragm\xc3\xa9", 7);
  at_close = find_bytes (received, close_4000, sizeof close_4000);
  g_assert_cmpint (at_pong, >=, 0);
  g_assert_cmpint (at_echo, >, at_pong);
  g_assert_cmpint (at_close, >, at_echo);
  /* Both Pings were answered. */
  g_assert_cmpuint (n_pongs, ==, 2);
}

/* Frames sent in the same write as the handshake arrive with it, and
 * libsoup reads them into its buffer with the request: the connection,
 * which keeps only the socket's descriptor, takes them from there. */
static void
test_websocket_early_frames (Fixture *f, gconstpointer user_data)
{
  g_autoptr (GByteArray) frames = g_byte_array_new ();
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GBytes) received = NULL;
  static const guint8 close_1000[] = { 0x88, 0x02, 0x03, 0xe8 };

  append_frame (frames, 0x81, "4first", 6, 0x11223344);
  append_frame (frames, 0x81, "4second", 7, 0x55667788);
  append_frame (frames, 0x88, "\x03\xe8", 2, 0x99aabbcc);
  conn = raw_websocket_connect_with (f, frames);
  received = read_until_eof (conn);
  wait_closed (f, 1);

  g_assert_cmpuint (f->texts->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (f->texts, 0), ==, "first");
  g_assert_cmpstr (g_ptr_array_index (f->texts, 1), ==, "second");
  g_assert_cmpint (find_bytes (received, "4second", 7), >, find_bytes (received, "4first", 6));
  g_assert_cmpint (find_bytes (received, close_1000, sizeof close_1000), >,
                   find_bytes (received, "4second", 7));
}

/* Each frame a client may not send closes the connection with the code the
 * protocol gives, and nothing of it reaches the session. */
static void
test_websocket_protocol_errors (Fixture *f, gconstpointer user_data)
{
  static const struct
  {
    const char *what;
    guint8 first;
    const char *payload;
    gsize len;
    gboolean unmasked;
    gushort code;
  } cases[] = {
    { "unmasked", 0x81, "4abc", 4, TRUE, 1002 },
    { "reserved bit", 0x81 | 0x40, "4abc", 4, FALSE, 1002 },
    { "unknown opcode", 0x83, "4abc", 4, FALSE, 1002 },
    { "continuation first", 0x80, "4abc", 4, FALSE, 1002 },
    { "fragmented ping", 0x09, "p", 1, FALSE, 1002 },
    { "text not UTF-8", 0x81, "4a\xff", 3, FALSE, 1007 },
    { "close code 1005", 0x88, "\x03\xed", 2, FALSE, 1002 },
    { "close of one byte", 0x88, "\x03", 1, FALSE, 1002 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GByteArray) frames = g_byte_array_new ();
      g_autoptr (GBytes) received = NULL;
      guint8 close[] = { 0x88, 0x02, cases[i].code >> 8, cases[i].code & 0xff };

      g_test_message ("%s", cases[i].what);
      if (cases[i].unmasked)
        {
          guint8 header[] = { cases[i].first, cases[i].len };

          g_byte_array_append (frames, header, sizeof header);
          g_byte_array_append (frames, (const guint8 *) cases[i].payload, cases[i].len);
        }
      else
        append_frame (frames, cases[i].first, cases[i].payload, cases[i].len, 0x0f0f0f0f);
      received = exchange_raw (f, frames);
      wait_closed (f, i + 1);
      g_assert_cmpint (find_bytes (received, close, sizeof close), >=, 0);
      g_assert_cmpuint (f->texts->len, ==, 0);
    }
}

/* Many connections waiting on the I/O context's epoll set: each message
 * is read from the connection that sent it, in any order. */
static void
test_websocket_many_idle (Fixture *f, gconstpointer user_data)
{
  enum
  {
    N_CONNS = 40
  };
  GSocketConnection *conns[N_CONNS];
  guint order[N_CONNS];

  for (guint i = 0; i < N_CONNS; i++)
    {
      conns[i] = raw_websocket_connect (f);
      order[i] = i;
    }
  for (guint i = N_CONNS - 1; i > 0; i--)
    {
      guint j = g_test_rand_int_range (0, i + 1);
      guint tmp = order[i];

      order[i] = order[j];
      order[j] = tmp;
    }

  for (guint k = 0; k < N_CONNS; k++)
    {
      g_autofree char *text = g_strdup_printf ("4conn-%02u", order[k]);
      g_autofree char *expected = g_strdup_printf ("conn-%02u", order[k]);
      g_autoptr (GError) error = NULL;
      guint8 header[6] = { 0x81, 0x80 | (guint8) strlen (text), 0, 0, 0, 0 };
      GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (conns[order[k]]));

      g_output_stream_write_all (out, header, sizeof header, NULL, NULL, &error);
      g_assert_no_error (error);
      g_output_stream_write_all (out, text, strlen (text), NULL, NULL, &error);
      g_assert_no_error (error);
      prd_test_wait_while (f->texts->len == k, PRD_TEST_TIMEOUT_MS);
      g_assert_cmpstr (g_ptr_array_index (f->texts, k), ==, expected);
    }
  g_assert_cmpuint (f->closed->len, ==, 0);

  for (guint i = 0; i < N_CONNS; i++)
    g_object_unref (conns[i]);
  wait_closed (f, N_CONNS);
}

static const ServerConfig compression_config = {
  .ping_interval = 60000,
  .ping_timeout = 60000,
  .max_payload = 100000,
  .max_write_buffer = 1 << 20,
  .compression = TRUE,
};

/* A frame that inflates far past max-payload is refused by its inflated
 * size, not by the size it had on the wire. */
static void
test_websocket_too_big_compressed (Fixture *f, gconstpointer user_data)
{
  g_autoptr (WsClient) ws = NULL;
  g_autofree char *open = NULL;
  g_autofree char *big = g_strnfill (1000000, 'a');

  soup_session_add_feature_by_type (f->session, SOUP_TYPE_WEBSOCKET_EXTENSION_MANAGER);
  ws = ws_connect (f, NULL);
  open = ws_next (ws);
  g_assert_nonnull (soup_websocket_connection_get_extensions (ws->conn));

  big[0] = '4';
  soup_websocket_connection_send_text (ws->conn, big);
  ws_wait_closed (ws);
  g_assert_cmpuint (soup_websocket_connection_get_close_code (ws->conn), ==,
                    SOUP_WEBSOCKET_CLOSE_TOO_BIG);
  wait_closed (f, 1);
  g_assert_cmpuint (f->texts->len, ==, 0);
}

/* ------------------------------------------------------------------ */
/* Errors and CORS                                                    */

static void
test_errors (Fixture *f, gconstpointer user_data)
{
  static const struct
  {
    const char *method;
    const char *query;
    int code;
    const char *message;
  } cases[] = {
    { "GET", "EIO=4", 0, "Transport unknown" },
    { "GET", "EIO=4&transport=abc", 0, "Transport unknown" },
    { "GET", "transport=abc", 0, "Transport unknown" },
    { "GET", "EIO=4&transport=polling&sid=nope", 1, "Session ID unknown" },
    { "POST", "EIO=4&transport=polling&sid=nope", 1, "Session ID unknown" },
    { "POST", "EIO=4&transport=polling", 2, "Bad handshake method" },
    { "PUT", "EIO=4&transport=polling", 2, "Bad handshake method" },
    { "GET", "EIO=4&transport=websocket", 3, "Bad request" },
    { "GET", "transport=polling", 5, "Unsupported protocol version" },
    { "GET", "EIO=abc&transport=polling", 5, "Unsupported protocol version" },
    { "GET", "EIO=3&transport=polling", 5, "Unsupported protocol version" },
  };
  g_autoptr (Request) other = NULL;
  g_autoptr (Request) root = NULL;
  g_autoptr (Request) forbidden = NULL;
  g_autofree char *url = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (Request) req = request (f, cases[i].method, cases[i].query, NULL);

      g_test_message ("%s ?%s", cases[i].method, cases[i].query);
      assert_eio_error (req, cases[i].code, cases[i].message);
    }

  /* Code 4: an Origin that is not allowed (none are, in this fixture). */
  forbidden =
      request_start (f, "GET", "EIO=4&transport=polling", NULL, -1, NULL, "https://evil.example");
  request_wait (forbidden);
  assert_eio_error (forbidden, 4, "Forbidden");
  g_assert_cmpuint (f->sockets->len, ==, 0);

  url = g_strdup_printf ("http://127.0.0.1:%u/engine.io/other?EIO=4&transport=polling", f->port);
  other = g_new0 (Request, 1);
  other->msg = soup_message_new ("GET", url);
  soup_session_send_and_read_async (f->session, other->msg, G_PRIORITY_DEFAULT, NULL, request_done,
                                    other);
  request_wait (other);
  g_assert_cmpuint (soup_message_get_status (other->msg), ==, SOUP_STATUS_NOT_FOUND);

  g_free (url);
  url = g_strdup_printf ("http://127.0.0.1:%u/socket.io/?EIO=4&transport=polling", f->port);
  root = g_new0 (Request, 1);
  root->msg = soup_message_new ("GET", url);
  soup_session_send_and_read_async (f->session, root->msg, G_PRIORITY_DEFAULT, NULL, request_done,
                                    root);
  request_wait (root);
  g_assert_cmpuint (soup_message_get_status (root->msg), ==, SOUP_STATUS_NOT_FOUND);
  g_assert_cmpuint (f->sockets->len, ==, 0);
}

static const char *const cors_origins[] = { "https://app.example", NULL };

static const ServerConfig cors_config = {
  .ping_interval = 60000,
  .ping_timeout = 60000,
  .max_payload = 1000,
  .max_write_buffer = 1 << 20,
  .cors = cors_origins,
};

static void
test_cors (Fixture *f, gconstpointer user_data)
{
  g_autoptr (Request) allowed = NULL;
  g_autoptr (Request) denied = NULL;
  g_autoptr (Request) preflight = NULL;
  g_autoptr (Request) preflight_denied = NULL;
  g_autoptr (Request) same_origin = NULL;
  g_autofree char *self_origin = g_strdup_printf ("http://127.0.0.1:%u", f->port);
  SoupMessageHeaders *headers;

  allowed =
      request_start (f, "GET", "EIO=4&transport=polling", NULL, -1, NULL, "https://app.example");
  request_wait (allowed);
  g_assert_cmpuint (soup_message_get_status (allowed->msg), ==, SOUP_STATUS_OK);
  headers = soup_message_get_response_headers (allowed->msg);
  g_assert_cmpstr (soup_message_headers_get_one (headers, "Access-Control-Allow-Origin"), ==,
                   "https://app.example");
  g_assert_cmpstr (soup_message_headers_get_one (headers, "Access-Control-Allow-Credentials"), ==,
                   "true");

  denied =
      request_start (f, "GET", "EIO=4&transport=polling", NULL, -1, NULL, "https://evil.example");
  request_wait (denied);
  assert_eio_error (denied, 4, "Forbidden");
  g_assert_null (soup_message_headers_get_one (soup_message_get_response_headers (denied->msg),
                                               "Access-Control-Allow-Origin"));

  preflight = request_start (f, "OPTIONS", "EIO=4&transport=polling", NULL, -1, NULL,
                             "https://app.example");
  soup_message_headers_replace (soup_message_get_request_headers (preflight->msg),
                                "Access-Control-Request-Method", "POST");
  request_wait (preflight);
  g_assert_cmpuint (soup_message_get_status (preflight->msg), ==, SOUP_STATUS_NO_CONTENT);
  headers = soup_message_get_response_headers (preflight->msg);
  g_assert_cmpstr (soup_message_headers_get_one (headers, "Access-Control-Allow-Origin"), ==,
                   "https://app.example");
  g_assert_cmpstr (soup_message_headers_get_one (headers, "Access-Control-Allow-Methods"), ==,
                   "GET,POST");
  g_assert_nonnull (soup_message_headers_get_one (headers, "Access-Control-Allow-Headers"));
  g_assert_cmpstr (soup_message_headers_get_one (headers, "Access-Control-Allow-Credentials"), ==,
                   "true");

  preflight_denied = request_start (f, "OPTIONS", "EIO=4&transport=polling", NULL, -1, NULL,
                                    "https://evil.example");
  request_wait (preflight_denied);
  assert_eio_error (preflight_denied, 4, "Forbidden");

  /* A page served from the hub's own origin is not cross-origin. */
  same_origin = request_start (f, "GET", "EIO=4&transport=polling", NULL, -1, NULL, self_origin);
  request_wait (same_origin);
  g_assert_cmpuint (soup_message_get_status (same_origin->msg), ==, SOUP_STATUS_OK);

  g_assert_cmpuint (f->sockets->len, ==, 2);

  /* WebSocket handshakes are checked too (cross-site WebSocket hijacking). */
  {
    g_autoptr (WsClient) ws_denied = ws_connect_full (f, NULL, "https://evil.example");
    g_autoptr (WsClient) ws_allowed = ws_connect_full (f, NULL, "https://app.example");
    g_autofree char *open = NULL;

    g_assert_error (ws_denied->error, SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_ERROR_NOT_WEBSOCKET);
    g_assert_no_error (ws_allowed->error);
    open = ws_next (ws_allowed);
    g_assert_true (g_str_has_prefix (open, "T0{"));
    g_assert_cmpuint (f->sockets->len, ==, 3);
  }
}

/* ------------------------------------------------------------------ */
/* Slow consumers                                                     */

static const ServerConfig unread_config = {
  .ping_interval = 400,
  .ping_timeout = 400,
  .max_payload = 1000,
  .max_write_buffer = 64 * 1024 * 1024,
};

/* Far more than the kernel's buffers take: the rest waits in the hub. */
#define UNREAD_SIZE (8 * 1024 * 1024)

/* A polling GET of @sid on a connection of its own that reads nothing. */
static GSocket *
unread_get (Fixture *f, const char *sid)
{
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new_from_string ("127.0.0.1", f->port);
  g_autoptr (GError) error = NULL;
  g_autofree char *head = g_strdup_printf (
      "GET /engine.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", sid);

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_set_option (socket, SOL_SOCKET, SO_RCVBUF, 4096, &error);
  g_assert_no_error (error);
  g_socket_connect (socket, address, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_socket_send (socket, head, strlen (head), NULL, &error), ==, strlen (head));
  g_assert_no_error (error);
  g_socket_set_blocking (socket, FALSE);
  return g_steal_pointer (&socket);
}

/* Runs the main loop for @ms. */
static void
iterate_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * G_TIME_SPAN_MILLISECOND;

  while (g_get_monotonic_time () < end)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (2 * G_TIME_SPAN_MILLISECOND);
    }
}

/* Polling responses a client leaves unread all count against the write
 * buffer, and one not written within ping-interval + ping-timeout loses
 * its connection, session or not: a client could otherwise make the hub
 * hold them for as long as it keeps the connections open. */
static void
test_slow_reader_polling_unread (Fixture *f, gconstpointer user_data)
{
  g_autofree char *sid = handshake (f, NULL);
  g_autofree char *big = g_strnfill (UNREAD_SIZE, 'z');
  g_autoptr (GSocket) first = NULL;
  g_autoptr (GSocket) second = NULL;
  PrdEioSocket *session = last_socket (f);
  guint64 got = 0;
  gboolean ended = FALSE;
  gint64 deadline;

  g_assert_true (prd_eio_socket_send_text (session, big, -1));
  first = unread_get (f, sid);
  iterate_for (100);
  g_assert_cmpuint (prd_eio_socket_get_buffered_amount (session), >=, UNREAD_SIZE);
  g_assert_true (prd_eio_socket_send_text (session, big, -1));
  second = unread_get (f, sid);
  iterate_for (100);
  /* both answers: neither was written */
  g_assert_cmpuint (prd_eio_socket_get_buffered_amount (session), >=, 2 * UNREAD_SIZE);

  /* No pong comes: the session ends; the answers' deadline cuts their
   * connections. A client that reads now gets what the kernel had, then
   * the end, not the whole answer. */
  wait_closed (f, 1);
  g_assert_cmpstr (g_ptr_array_index (f->closed, 0), ==, "ping timeout");
  iterate_for (unread_config.ping_interval + unread_config.ping_timeout);
  deadline = g_get_monotonic_time () + PRD_TEST_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  while (!ended && g_get_monotonic_time () < deadline)
    {
      char buffer[65536];
      g_autoptr (GError) error = NULL;
      gssize n = g_socket_receive (first, buffer, sizeof buffer, NULL, &error);

      if (n > 0)
        got += (guint64) n;
      else if (n == 0 || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        ended = TRUE;
      else
        iterate_for (5);
    }
  g_test_message ("read %" G_GUINT64_FORMAT " bytes before the end", got);
  g_assert_true (ended);
  g_assert_cmpuint (got, <, UNREAD_SIZE);
}

static const ServerConfig slow_config = {
  .ping_interval = 60000,
  .ping_timeout = 60000,
  .max_payload = 1000,
  .max_write_buffer = 256 * 1024,
};

#define SLOW_MESSAGE_SIZE 8192

/* Sends until the socket refuses; returns the largest buffered amount seen. */
static guint64
flood (Fixture *f, PrdEioSocket *socket, guint64 *out_sent)
{
  g_autofree char *message = g_strnfill (SLOW_MESSAGE_SIZE, 'z');
  guint64 max_buffered = 0;
  guint64 sent = 0;

  while (prd_eio_socket_send_text (socket, message, -1))
    {
      sent += SLOW_MESSAGE_SIZE;
      max_buffered = MAX (max_buffered, prd_eio_socket_get_buffered_amount (socket));
      /* Let the transport write what the peer's kernel still accepts. */
      while (g_main_context_pending (NULL))
        g_main_context_iteration (NULL, FALSE);
      /* Far more than any socket buffer: the limit must have hit by now. */
      g_assert_cmpuint (sent, <, 1024 * 1024 * 1024);
    }
  *out_sent = sent;
  return max_buffered;
}

static void
test_slow_reader_websocket (Fixture *f, gconstpointer user_data)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *request_text = NULL;
  guint64 max_buffered;
  guint64 sent;

  conn = g_socket_client_connect_to_host (client, "127.0.0.1", f->port, NULL, &error);
  g_assert_no_error (error);

  /* A WebSocket handshake by hand; after it, this client never reads. */
  request_text = g_strdup ("GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                           "Host: 127.0.0.1\r\n"
                           "Upgrade: websocket\r\n"
                           "Connection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n");
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), request_text,
                             strlen (request_text), NULL, NULL, &error);
  g_assert_no_error (error);

  prd_test_wait_while (f->sockets->len == 0, PRD_TEST_TIMEOUT_MS);
  g_assert_cmpstr (prd_eio_socket_get_transport_name (last_socket (f)), ==, "websocket");

  max_buffered = flood (f, last_socket (f), &sent);
  g_test_message ("sent %" G_GUINT64_FORMAT " bytes, at most %" G_GUINT64_FORMAT " buffered", sent,
                  max_buffered);

  /* Never under the send that overflowed: its caller may be walking what
   * the close takes the session out of (a room that would unload). */
  g_assert_cmpuint (f->closed->len, ==, 0);
  g_assert_false (prd_eio_socket_send_text (last_socket (f), "late", -1));
  wait_closed (f, 1);
  g_assert_cmpuint (f->closed->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->closed, 0), ==, "write buffer overflow");
  g_assert_cmpuint (max_buffered, <=, slow_config.max_write_buffer + SLOW_MESSAGE_SIZE + 1);
  g_assert_cmpuint (max_buffered, >, 0);
  g_assert_cmpuint (prd_eio_socket_get_buffered_amount (last_socket (f)), ==, 0);
  g_assert_cmpuint (prd_eio_server_get_n_sockets (f->eio), ==, 0);
}

static void
test_slow_reader_polling (Fixture *f, gconstpointer user_data)
{
  g_autofree char *sid = handshake (f, NULL);
  g_autofree char *query = sid_query (sid);
  g_autoptr (Request) get = NULL;
  guint64 max_buffered;
  guint64 sent;

  /* The client never polls. */
  max_buffered = flood (f, last_socket (f), &sent);
  g_assert_cmpuint (f->closed->len, ==, 0);
  wait_closed (f, 1);
  g_assert_cmpuint (f->closed->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->closed, 0), ==, "write buffer overflow");
  g_assert_cmpuint (max_buffered, <=, slow_config.max_write_buffer);
  g_assert_cmpuint (sent, >=, slow_config.max_write_buffer - SLOW_MESSAGE_SIZE - 2);

  get = request (f, "GET", query, NULL);
  assert_eio_error (get, 1, "Session ID unknown");
}

/* ------------------------------------------------------------------ */
/* Session limits: unused sessions give way                           */

/* How many sessions were closed for @limit, in this process. */
static guint64
evicted (const char *limit)
{
  return prd_metric_get (prd_metric_counter ("prdhub_sessions_evicted_total", "", "limit"), limit);
}

static void
assert_too_many (Request *req, const char *message)
{
  g_autofree char *expected = g_strdup_printf ("{\"code\":3,\"message\":\"%s\"}", message);

  assert_response (req, SOUP_STATUS_SERVICE_UNAVAILABLE, expected);
}

/* A page's no-cors fetches open sessions it never learns the ids of: at
 * max-sessions-per-address, the oldest of them gives way to a new
 * handshake, which a client then uses as any. */
static void
test_limits_unused_evicted (Fixture *f, gconstpointer user_data)
{
  g_autoptr (GPtrArray) sids = g_ptr_array_new_with_free_func (g_free);
  guint64 before = evicted ("max-sessions-per-address");
  g_autofree char *sid = NULL;
  g_autofree char *query = NULL;
  g_autofree char *first_query = NULL;
  g_autoptr (Request) post = NULL;
  g_autoptr (Request) get = NULL;
  g_autoptr (Request) gone = NULL;

  g_object_set (f->eio, "max-sessions-per-address", 3, NULL);
  for (guint i = 0; i < 3; i++)
    g_ptr_array_add (sids, handshake (f, NULL));
  g_assert_cmpuint (f->closed->len, ==, 0);

  /* Refused with 503 before; now the first of them is closed. */
  sid = handshake (f, NULL);
  g_assert_cmpuint (f->closed->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->closed, 0), ==, "forced close");
  g_assert_false (prd_eio_socket_is_open (g_ptr_array_index (f->sockets, 0)));
  g_assert_cmpuint (prd_eio_server_get_n_sockets (f->eio), ==, 3);
  g_assert_cmpuint (evicted ("max-sessions-per-address"), ==, before + 1);
  first_query = sid_query (g_ptr_array_index (sids, 0));
  gone = request (f, "GET", first_query, NULL);
  assert_eio_error (gone, 1, "Session ID unknown");

  /* The new session works. */
  query = sid_query (sid);
  post = request (f, "POST", query, "4hello");
  assert_response (post, SOUP_STATUS_OK, "ok");
  get = request (f, "GET", query, NULL);
  assert_response (get, SOUP_STATUS_OK, "4hello");

  /* Many more: each takes the place of the oldest unused one. */
  for (guint i = 0; i < 50; i++)
    g_free (handshake (f, NULL));
  g_assert_cmpuint (prd_eio_server_get_n_sockets (f->eio), ==, 3);
  g_assert_true (prd_eio_socket_is_open (g_ptr_array_index (f->sockets, 3)));
  g_assert_cmpuint (evicted ("max-sessions-per-address"), ==, before + 51);
}

/* A session a request has named (a poll, a POST, an upgrade) is never
 * closed to make room, even when it is the oldest. */
static void
test_limits_used_kept (Fixture *f, gconstpointer user_data)
{
  g_autofree char *polled = handshake (f, NULL);
  g_autofree char *posted = handshake (f, NULL);
  g_autofree char *upgraded = handshake (f, NULL);
  g_autofree char *unused = NULL;
  g_autofree char *polled_query = sid_query (polled);
  g_autofree char *posted_query = sid_query (posted);
  g_autofree char *newer = NULL;
  g_autofree char *newest = NULL;
  g_autoptr (Request) get = NULL;
  g_autoptr (Request) post = NULL;
  g_autoptr (WsClient) probe = NULL;

  g_object_set (f->eio, "max-sessions-per-address", 4, NULL);
  g_assert_true (prd_eio_socket_send_text (g_ptr_array_index (f->sockets, 0), "hi", -1));
  get = request (f, "GET", polled_query, NULL);
  assert_response (get, SOUP_STATUS_OK, "4hi");
  post = request (f, "POST", posted_query, "6");
  assert_response (post, SOUP_STATUS_OK, "ok");
  probe = ws_connect (f, upgraded);
  unused = handshake (f, NULL);

  /* At the limit: the one unused session goes, then its successor. */
  newer = handshake (f, NULL);
  g_assert_cmpuint (f->closed->len, ==, 1);
  g_assert_false (prd_eio_socket_is_open (g_ptr_array_index (f->sockets, 3)));
  newest = handshake (f, NULL);
  g_assert_cmpuint (f->closed->len, ==, 2);
  g_assert_false (prd_eio_socket_is_open (g_ptr_array_index (f->sockets, 4)));
  for (guint i = 0; i < 3; i++)
    g_assert_true (prd_eio_socket_is_open (g_ptr_array_index (f->sockets, i)));
  g_assert_true (prd_eio_socket_is_open (g_ptr_array_index (f->sockets, 5)));
  g_assert_cmpuint (prd_eio_server_get_n_sockets (f->eio), ==, 4);
}

/* Once every session of the address has been used, a handshake over the
 * limit is refused as it always was, polling and WebSocket alike: the
 * unused session went first, and then there is none. */
static void
test_limits_all_used_refused (Fixture *f, gconstpointer user_data)
{
  g_autofree char *sid = handshake (f, NULL);
  g_autofree char *query = sid_query (sid);
  g_autofree char *unused = NULL;
  g_autofree char *newcomer = NULL;
  g_autofree char *newcomer_query = NULL;
  g_autoptr (Request) post = NULL;
  g_autoptr (Request) post2 = NULL;
  g_autoptr (Request) refused = NULL;
  g_autoptr (WsClient) direct = NULL;
  g_autoptr (WsClient) ws_refused = NULL;
  g_autofree char *open = NULL;
  guint64 before = evicted ("max-sessions-per-address");

  g_object_set (f->eio, "max-sessions-per-address", 3, NULL);
  post = request (f, "POST", query, "6");
  assert_response (post, SOUP_STATUS_OK, "ok");
  /* A session opened over WebSocket is used from the start. */
  direct = ws_connect (f, NULL);
  open = ws_next (direct);
  g_assert_true (g_str_has_prefix (open, "T0{"));
  unused = handshake (f, NULL);

  /* At the limit with one unused session: it gives way. */
  newcomer = handshake (f, NULL);
  g_assert_cmpuint (f->closed->len, ==, 1);
  g_assert_false (prd_eio_socket_is_open (g_ptr_array_index (f->sockets, 2)));
  g_assert_cmpuint (evicted ("max-sessions-per-address"), ==, before + 1);
  newcomer_query = sid_query (newcomer);
  post2 = request (f, "POST", newcomer_query, "6");
  assert_response (post2, SOUP_STATUS_OK, "ok");

  /* Every session used: refused, and nothing is closed. */
  refused = request (f, "GET", "EIO=4&transport=polling", NULL);
  assert_too_many (refused, "Too many sessions from this address (max-sessions-per-address)");
  ws_refused = ws_connect_full (f, NULL, NULL);
  g_assert_nonnull (ws_refused->error);
  g_assert_cmpuint (f->closed->len, ==, 1);
  g_assert_cmpuint (prd_eio_server_get_n_sockets (f->eio), ==, 3);
  g_assert_true (prd_eio_socket_is_open (g_ptr_array_index (f->sockets, 0)));
  g_assert_true (prd_eio_socket_is_open (g_ptr_array_index (f->sockets, 1)));
  g_assert_true (prd_eio_socket_is_open (g_ptr_array_index (f->sockets, 3)));
  g_assert_cmpuint (evicted ("max-sessions-per-address"), ==, before + 1);
}

/* max-sessions: the oldest unused session gives way as well; none left,
 * the handshake is refused. */
static void
test_limits_global (Fixture *f, gconstpointer user_data)
{
  g_autofree char *unused = handshake (f, NULL);
  g_autofree char *used = handshake (f, NULL);
  g_autofree char *used_query = sid_query (used);
  g_autofree char *third = NULL;
  g_autofree char *third_query = NULL;
  g_autoptr (Request) post = NULL;
  g_autoptr (Request) post3 = NULL;
  g_autoptr (Request) refused = NULL;
  guint64 before = evicted ("max-sessions");

  g_object_set (f->eio, "max-sessions", 2, NULL);
  post = request (f, "POST", used_query, "6");
  assert_response (post, SOUP_STATUS_OK, "ok");

  third = handshake (f, NULL);
  g_assert_cmpuint (f->closed->len, ==, 1);
  g_assert_false (prd_eio_socket_is_open (g_ptr_array_index (f->sockets, 0)));
  g_assert_true (prd_eio_socket_is_open (g_ptr_array_index (f->sockets, 1)));
  g_assert_cmpuint (evicted ("max-sessions"), ==, before + 1);

  third_query = sid_query (third);
  post3 = request (f, "POST", third_query, "6");
  assert_response (post3, SOUP_STATUS_OK, "ok");
  refused = request (f, "GET", "EIO=4&transport=polling", NULL);
  assert_too_many (refused, "Too many sessions (max-sessions)");
  g_assert_cmpuint (f->closed->len, ==, 1);
  g_assert_cmpuint (evicted ("max-sessions"), ==, before + 1);
}

/* ------------------------------------------------------------------ */

int
main (int argc, char *argv[])
{
  g_autoptr (GPtrArray) configs = g_ptr_array_new_with_free_func (g_free);

  g_test_init (&argc, &argv, NULL);

#define ADD(path, config, func) \
  g_test_add ("/prd/eio-server/" path, Fixture, config, fixture_setup, func, fixture_teardown)
/* The same test with the WebSocket connections on two I/O threads. */
#define ADD_THREADED(path, config, func)                                                    \
  G_STMT_START                                                                              \
  {                                                                                         \
    ServerConfig *threaded = g_new (ServerConfig, 1);                                       \
                                                                                            \
    *threaded = config != NULL ? *(const ServerConfig *) config : default_config;           \
    threaded->io_threads = 2;                                                               \
    g_ptr_array_add (configs, threaded);                                                    \
    ADD (path, config, func);                                                               \
    g_test_add ("/prd/eio-server/io-threads/" path, Fixture, threaded, fixture_setup, func, \
                fixture_teardown);                                                          \
  }                                                                                         \
  G_STMT_END

  ADD ("polling/handshake", NULL, test_polling_handshake);
  ADD ("polling/exchange", NULL, test_polling_exchange);
  ADD ("polling/binary-body", NULL, test_polling_binary_body);
  ADD ("polling/too-large", NULL, test_polling_too_large);
  ADD ("polling/too-large-early", NULL, test_polling_too_large_early);
  ADD ("polling/parse-error", NULL, test_polling_parse_error);
  ADD ("polling/overlapping-get", NULL, test_polling_overlapping_get);
  ADD ("polling/overlapping-post", NULL, test_polling_overlapping_post);
  ADD ("polling/client-close", NULL, test_polling_client_close);
  ADD ("polling/server-close", NULL, test_polling_server_close);
  ADD_THREADED ("polling/held-get-closed", NULL, test_polling_held_get_closed);
  ADD ("heartbeat/polling", &heartbeat_config, test_heartbeat_polling);
  ADD ("heartbeat/timeout", &timeout_config, test_heartbeat_timeout);
  ADD ("heartbeat/client-ping", NULL, test_heartbeat_client_ping);
  ADD_THREADED ("websocket/direct", NULL, test_websocket_direct);
  ADD_THREADED ("websocket/server-close", NULL, test_websocket_server_close);
  ADD_THREADED ("websocket/parse-error", NULL, test_websocket_parse_error);
  ADD_THREADED ("websocket/upgrade", NULL, test_websocket_upgrade);
  ADD_THREADED ("websocket/upgrade-timeout", &upgrade_timeout_config,
                test_websocket_upgrade_timeout);
  ADD_THREADED ("websocket/bad-probe", NULL, test_websocket_bad_probe);
  ADD_THREADED ("websocket/second-probe", NULL, test_websocket_second_probe);
  ADD ("websocket/flood", NULL, test_websocket_flood);
  ADD_THREADED ("websocket/too-big", NULL, test_websocket_too_big);
  ADD_THREADED ("websocket/too-big-fragmented", NULL, test_websocket_too_big_fragmented);
  ADD_THREADED ("websocket/close-after-messages", NULL, test_websocket_close_after_messages);
  ADD_THREADED ("websocket/many-idle", NULL, test_websocket_many_idle);
  ADD_THREADED ("websocket/frames", NULL, test_websocket_frames);
  ADD_THREADED ("websocket/early-frames", NULL, test_websocket_early_frames);
  ADD_THREADED ("websocket/protocol-errors", NULL, test_websocket_protocol_errors);
  ADD_THREADED ("websocket/too-big-compressed", &compression_config,
                test_websocket_too_big_compressed);
  ADD ("errors", NULL, test_errors);
  ADD ("cors", &cors_config, test_cors);
  ADD_THREADED ("slow-reader/websocket", &slow_config, test_slow_reader_websocket);
  ADD ("slow-reader/polling", &slow_config, test_slow_reader_polling);
  ADD ("slow-reader/polling-unread", &unread_config, test_slow_reader_polling_unread);
  ADD ("limits/unused-evicted", NULL, test_limits_unused_evicted);
  ADD ("limits/used-kept", NULL, test_limits_used_kept);
  ADD ("limits/all-used-refused", NULL, test_limits_all_used_refused);
  ADD ("limits/global", NULL, test_limits_global);

#undef ADD

  return g_test_run ();
}
