/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdEioListener in front of a real SoupServer (127.0.0.1, port 0), driven
 * by raw sockets and a SoupSession on the same main context. Timeouts are
 * set to a fraction of a second; the tests only wait, with generous bounds,
 * for what must happen eventually, and never assert how long it took.
 */
#define G_LOG_DOMAIN "prd-test"

#include "config.h"

#include <string.h>

#include <libsoup/soup.h>

#include "prd-test-harness.h"
#include "prd-eio-closed-notice.h"
#include "prd-eio-listener.h"

#define BOUND_MS 15000

typedef struct
{
  guint idle_timeout;    /* ms; 0: the default */
  guint request_timeout; /* ms; 0: the default */
  guint max_connections;
  guint max_per_address; /* G_MAXUINT: the default */
  gboolean no_exempt;
} ListenerConfig;

typedef struct
{
  SoupServer *server;
  PrdEioListener *listener;
  guint16 port;
  guint hold_ms; /* how long /hold holds its answer */
} Fixture;

static const ListenerConfig default_config = {
  .max_per_address = G_MAXUINT,
};

/* ------------------------------------------------------------------ */
/* Server side                                                        */

static void
respond_ok (SoupServerMessage *msg, const char *body)
{
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_COPY, body, strlen (body));
}

static gboolean
release_held (gpointer user_data)
{
  SoupServerMessage *msg = user_data;

  respond_ok (msg, "held");
  soup_server_message_unpause (msg);
  g_object_unref (msg);
  return G_SOURCE_REMOVE;
}

static void
server_handler (SoupServer *server,
                SoupServerMessage *msg,
                const char *path,
                GHashTable *query,
                gpointer user_data)
{
  Fixture *f = user_data;

  if (g_str_equal (path, "/hold"))
    {
      /* As the Engine.IO server holds a long-poll GET. */
      soup_server_message_pause (msg);
      g_timeout_add (f->hold_ms, release_held, g_object_ref (msg));
      return;
    }
  respond_ok (msg, "ok");
}

static void
on_ws_message (SoupWebsocketConnection *conn, int type, GBytes *message, gpointer user_data)
{
  soup_websocket_connection_send_message (conn, type, message);
}

static void
websocket_handler (SoupServer *server,
                   SoupServerMessage *msg,
                   const char *path,
                   SoupWebsocketConnection *conn,
                   gpointer user_data)
{
  g_object_set_data_full (G_OBJECT (server), "ws", g_object_ref (conn), g_object_unref);
  g_signal_connect (conn, "message", G_CALLBACK (on_ws_message), NULL);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  const ListenerConfig *config = data != NULL ? data : &default_config;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GError) error = NULL;
  GSList *uris;

  f->hold_ms = 1000;
  f->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (f->server, NULL, server_handler, f, NULL);
  soup_server_add_websocket_handler (f->server, "/ws", NULL, NULL, websocket_handler, f, NULL);
  f->listener = prd_eio_listener_new (f->server);
  if (config->idle_timeout != 0)
    g_object_set (f->listener, "idle-timeout", config->idle_timeout, NULL);
  if (config->request_timeout != 0)
    g_object_set (f->listener, "request-timeout", config->request_timeout, NULL);
  if (config->max_connections != 0)
    g_object_set (f->listener, "max-connections", config->max_connections, NULL);
  if (config->max_per_address != G_MAXUINT)
    g_object_set (f->listener, "max-connections-per-address", config->max_per_address, NULL);
  if (config->no_exempt)
    {
      const char *const none[] = { NULL };

      g_object_set (f->listener, "per-address-exempt", none, NULL);
    }
  g_assert_true (prd_eio_listener_listen (f->listener, address, 0, &error));
  g_assert_no_error (error);

  /* libsoup reports the address (through the listener it never uses). */
  uris = soup_server_get_uris (f->server);
  g_assert_nonnull (uris);
  g_assert_cmpstr (g_uri_get_scheme (uris->data), ==, "http");
  f->port = (guint16) g_uri_get_port (uris->data);
  g_assert_cmpuint (f->port, >, 0);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_object_set_data (G_OBJECT (f->server), "ws", NULL);
  prd_eio_listener_close (f->listener);
  soup_server_disconnect (f->server);
  g_clear_object (&f->listener);
  g_clear_object (&f->server);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* ------------------------------------------------------------------ */
/* Client side                                                        */

static gboolean
set_flag (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
set_flag_socket (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  return set_flag (user_data);
}

static GSource *
add_timeout (guint ms, gboolean *flag)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, set_flag, flag, NULL);
  g_source_attach (source, NULL);
  return source;
}

static void
remove_source (GSource *source)
{
  g_source_destroy (source);
  g_source_unref (source);
}

/* Runs the main context for @ms. */
static void
sleep_ms (guint ms)
{
  gboolean done = FALSE;
  GSource *timeout = add_timeout (ms, &done);

  prd_test_wait_while (!done, PRD_TEST_TIMEOUT_MS);
  remove_source (timeout);
}

/* Runs the main context until @socket is readable or @ms passed. */
static void
wait_socket (GSocket *socket, guint ms)
{
  gboolean done = FALSE;
  GSource *source = g_socket_create_source (socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  GSource *timeout = add_timeout (ms, &done);

  g_source_set_callback (source, G_SOURCE_FUNC (set_flag_socket), &done, NULL);
  g_source_attach (source, NULL);
  prd_test_wait_while (!done, PRD_TEST_TIMEOUT_MS);
  remove_source (source);
  remove_source (timeout);
}

/* Runs the main context until @listener has @expected connections open, or
 * fails after BOUND_MS. */
static void
wait_count (PrdEioListener *listener, guint expected)
{
  gint64 deadline = g_get_monotonic_time () + BOUND_MS * 1000;

  while (prd_eio_listener_get_n_connections (listener) != expected)
    {
      sleep_ms (10);
      if (g_get_monotonic_time () > deadline)
        g_error ("%u connections open, expected %u", prd_eio_listener_get_n_connections (listener),
                 expected);
    }
}

static GSocket *
raw_connect (Fixture *f)
{
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, f->port);
  g_autoptr (GError) error = NULL;
  GSocket *socket;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  /* The kernel completes the handshake from the listen queue. */
  g_assert_true (g_socket_connect (socket, address, NULL, &error));
  g_assert_no_error (error);
  g_socket_set_blocking (socket, FALSE);
  return socket;
}

static void
raw_send (GSocket *socket, const char *text)
{
  g_autoptr (GError) error = NULL;
  gssize n = g_socket_send (socket, text, strlen (text), NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (n, ==, (gssize) strlen (text));
}

/* Reads into @out until @done says so, the peer closes (returns TRUE) or
 * BOUND_MS pass (returns FALSE). */
static gboolean
raw_read (GSocket *socket, GString *out, gboolean (*done) (GString *out))
{
  gint64 deadline = g_get_monotonic_time () + BOUND_MS * 1000;

  for (;;)
    {
      g_autoptr (GError) error = NULL;
      char buffer[4096];
      gssize n = g_socket_receive (socket, buffer, sizeof buffer, NULL, &error);

      if (n > 0)
        {
          g_string_append_len (out, buffer, n);
          if (done != NULL && done (out))
            return FALSE;
          continue;
        }
      if (n == 0 || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        return TRUE; /* closed (or reset) by the server */
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      wait_socket (socket, 100);
    }
}

/* A whole response with a Content-Length body is in @out. */
static gboolean
response_complete (GString *out)
{
  const char *end = strstr (out->str, "\r\n\r\n");
  const char *length;

  if (end == NULL)
    return FALSE;
  length = g_strstr_len (out->str, end - out->str, "Content-Length: ");
  g_assert_nonnull (length);
  return out->len >= (gsize) (end + 4 - out->str) + g_ascii_strtoull (length + 16, NULL, 10);
}

/* Sends a GET on @socket and returns the response (the connection stays). */
static char *
raw_get (GSocket *socket, const char *path)
{
  g_autoptr (GString) out = g_string_new (NULL);
  g_autofree char *request = g_strdup_printf ("GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path);

  raw_send (socket, request);
  g_assert_false (raw_read (socket, out, response_complete));
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* The server closes @socket without answering. */
static void
assert_closed_silently (GSocket *socket)
{
  g_autoptr (GString) out = g_string_new (NULL);

  g_assert_true (raw_read (socket, out, NULL));
  g_assert_cmpstr (out->str, ==, "");
}

static guint
count_fds (void)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* ------------------------------------------------------------------ */
/* Tests                                                              */

/* Clients that close kept-alive connections between requests: the
 * connections are closed on the server's side too (libsoup 3.2 alone leaves
 * every one in CLOSE-WAIT). */
static void
test_keepalive_hangup (Fixture *f, gconstpointer data)
{
  guint before;

  /* One round first, so that lazily opened descriptors are counted. */
  {
    g_autoptr (GSocket) socket = raw_connect (f);
    g_autofree char *response = raw_get (socket, "/ok");

    g_assert_true (g_str_has_prefix (response, "HTTP/1.1 200 OK\r\n"));
    g_socket_close (socket, NULL);
    wait_count (f->listener, 0);
  }
  before = count_fds ();

  for (guint i = 0; i < 100; i++)
    {
      g_autoptr (GSocket) socket = raw_connect (f);
      g_autofree char *first = raw_get (socket, "/ok");
      g_autofree char *second = raw_get (socket, "/ok");

      /* Kept alive: the second request went over the same connection. */
      g_assert_true (g_str_has_prefix (first, "HTTP/1.1 200 OK\r\n"));
      g_assert_true (g_str_has_prefix (second, "HTTP/1.1 200 OK\r\n"));
      g_assert_null (strstr (first, "Connection: close"));
      g_socket_close (socket, NULL);
    }
  wait_count (f->listener, 0);
  g_assert_cmpuint (count_fds (), <=, before);
}

static const ListenerConfig short_timeouts = {
  .idle_timeout = 300,
  .request_timeout = 300,
  .max_per_address = G_MAXUINT,
};

/* A connection that sends nothing, one that never finishes its request and
 * one that stays idle after a response are all closed. */
static void
test_timeouts (Fixture *f, gconstpointer data)
{
  g_autoptr (GSocket) silent = raw_connect (f);
  g_autoptr (GSocket) partial = raw_connect (f);
  g_autoptr (GSocket) idle = raw_connect (f);
  g_autofree char *response = NULL;

  raw_send (partial, "GET /ok HTTP/1.1\r\nHost: test\r\n");
  response = raw_get (idle, "/ok");
  g_assert_true (g_str_has_prefix (response, "HTTP/1.1 200 OK\r\n"));

  assert_closed_silently (silent);
  assert_closed_silently (partial);
  assert_closed_silently (idle);
  wait_count (f->listener, 0);
}

/* A request being answered (a held long-poll) is not a stalled one. */
static void
test_held_request (Fixture *f, gconstpointer data)
{
  g_autoptr (GSocket) socket = raw_connect (f);
  g_autofree char *response = NULL;

  f->hold_ms = 1500; /* five times either timeout */
  response = raw_get (socket, "/hold");
  g_assert_true (g_str_has_prefix (response, "HTTP/1.1 200 OK\r\n"));
  g_assert_true (g_str_has_suffix (response, "\r\n\r\nheld"));
  /* Then it is idle like any other. */
  assert_closed_silently (socket);
}

static void
on_ws_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SoupWebsocketConnection **out = user_data;
  g_autoptr (GError) error = NULL;

  *out = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  g_assert_no_error (error);
}

static void
on_ws_echo (SoupWebsocketConnection *conn, int type, GBytes *message, gpointer user_data)
{
  *(GBytes **) user_data = g_bytes_ref (message);
}

/* A connection taken over as a WebSocket is not an idle one. */
static void
test_websocket (Fixture *f, gconstpointer data)
{
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (SoupWebsocketConnection) conn = NULL;
  g_autoptr (GBytes) echo = NULL;
  g_autofree char *url = g_strdup_printf ("ws://127.0.0.1:%u/ws", f->port);

  msg = soup_message_new ("GET", url);
  soup_session_websocket_connect_async (session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                        on_ws_connected, &conn);
  prd_test_wait_while (conn == NULL, PRD_TEST_TIMEOUT_MS);

  sleep_ms (1500);
  g_assert_cmpint (soup_websocket_connection_get_state (conn), ==, SOUP_WEBSOCKET_STATE_OPEN);
  g_assert_cmpuint (prd_eio_listener_get_n_connections (f->listener), ==, 1);

  g_signal_connect (conn, "message", G_CALLBACK (on_ws_echo), &echo);
  soup_websocket_connection_send_text (conn, "still here");
  prd_test_wait_while (echo == NULL, PRD_TEST_TIMEOUT_MS);
  g_assert_cmpmem (g_bytes_get_data (echo, NULL), g_bytes_get_size (echo), "still here", 10);

  soup_websocket_connection_close (conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  prd_test_wait_while (soup_websocket_connection_get_state (conn) != SOUP_WEBSOCKET_STATE_CLOSED,
                       PRD_TEST_TIMEOUT_MS);
  g_clear_object (&conn);
  wait_count (f->listener, 0);
}

static const ListenerConfig per_address = {
  .max_per_address = 3,
  .no_exempt = TRUE,
};

static void
test_per_address (Fixture *f, gconstpointer data)
{
  GSocket *open[3];
  g_autoptr (GSocket) refused = NULL;
  g_autoptr (GSocket) again = NULL;
  g_autofree char *response = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (open); i++)
    open[i] = raw_connect (f);
  wait_count (f->listener, 3);

  refused = raw_connect (f);
  assert_closed_silently (refused);
  g_assert_cmpuint (prd_eio_listener_get_n_connections (f->listener), ==, 3);

  /* One goes: there is room again. */
  g_socket_close (open[0], NULL);
  wait_count (f->listener, 2);
  again = raw_connect (f);
  response = raw_get (again, "/ok");
  g_assert_true (g_str_has_prefix (response, "HTTP/1.1 200 OK\r\n"));

  for (guint i = 0; i < G_N_ELEMENTS (open); i++)
    g_object_unref (open[i]);
}

static const ListenerConfig exempt = {
  .max_per_address = 1,
};

/* Loopback is exempt from the per-address limit unless told otherwise. */
static void
test_exempt (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) sockets = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < 5; i++)
    {
      GSocket *socket = raw_connect (f);
      g_autofree char *response = raw_get (socket, "/ok");

      g_assert_true (g_str_has_prefix (response, "HTTP/1.1 200 OK\r\n"));
      g_ptr_array_add (sockets, socket);
    }
  g_assert_cmpuint (prd_eio_listener_get_n_connections (f->listener), ==, 5);
}

static const ListenerConfig total = {
  .max_connections = 2,
  .max_per_address = G_MAXUINT,
};

static void
test_max_connections (Fixture *f, gconstpointer data)
{
  g_autoptr (GSocket) first = raw_connect (f);
  g_autoptr (GSocket) second = raw_connect (f);
  g_autoptr (GSocket) third = NULL;

  g_assert_cmpuint (prd_eio_listener_get_max_connections (f->listener), ==, 2);
  wait_count (f->listener, 2);
  third = raw_connect (f);
  assert_closed_silently (third);
  g_assert_cmpuint (prd_eio_listener_get_n_connections (f->listener), ==, 2);
}

/* "Automatic" follows the open-file limit. */
static void
test_auto_max_connections (Fixture *f, gconstpointer data)
{
  guint max = prd_eio_listener_get_max_connections (f->listener);

  g_assert_cmpuint (max, >, 0);
  g_assert_cmpuint (max, <=, PRD_EIO_LISTENER_DEFAULT_MAX_CONNECTIONS);
}

static gpointer
fire_in_thread (gpointer notice)
{
  prd_eio_closed_notice_fire (notice);
  return NULL;
}

static void
count_call (gpointer user_data)
{
  (*(guint *) user_data)++;
}

/* How the listener hears that a connection it counts was closed, by
 * whatever thread closes it: the notice runs on the thread that made it,
 * once; one cancelled meanwhile (the listener forgot the connection first)
 * never runs. */
static void
test_closed_notice (void)
{
  guint calls = 0, cancelled_calls = 0;
  g_autoptr (PrdEioClosedNotice) notice = prd_eio_closed_notice_new (count_call, &calls);
  g_autoptr (PrdEioClosedNotice) cancelled =
      prd_eio_closed_notice_new (count_call, &cancelled_calls);

  g_thread_join (g_thread_new ("fire", fire_in_thread, notice));
  g_thread_join (g_thread_new ("fire", fire_in_thread, cancelled));
  /* Not on the firing thread, even though this context was free. */
  g_assert_cmpuint (calls, ==, 0);
  prd_eio_closed_notice_cancel (cancelled);
  prd_test_wait_while (calls == 0, PRD_TEST_TIMEOUT_MS);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  /* Fired again, on this thread: it already ran. */
  prd_eio_closed_notice_fire (notice);
  g_assert_cmpuint (calls, ==, 1);
  g_assert_cmpuint (cancelled_calls, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/prd/eio-listener/closed-notice", test_closed_notice);
  g_test_add ("/prd/eio-listener/keepalive-hangup", Fixture, NULL, fixture_setup,
              test_keepalive_hangup, fixture_teardown);
  g_test_add ("/prd/eio-listener/timeouts", Fixture, &short_timeouts, fixture_setup, test_timeouts,
              fixture_teardown);
  g_test_add ("/prd/eio-listener/held-request", Fixture, &short_timeouts, fixture_setup,
              test_held_request, fixture_teardown);
  g_test_add ("/prd/eio-listener/websocket", Fixture, &short_timeouts, fixture_setup,
              test_websocket, fixture_teardown);
  g_test_add ("/prd/eio-listener/per-address", Fixture, &per_address, fixture_setup,
              test_per_address, fixture_teardown);
  g_test_add ("/prd/eio-listener/exempt", Fixture, &exempt, fixture_setup, test_exempt,
              fixture_teardown);
  g_test_add ("/prd/eio-listener/max-connections", Fixture, &total, fixture_setup,
              test_max_connections, fixture_teardown);
  g_test_add ("/prd/eio-listener/auto-max-connections", Fixture, NULL, fixture_setup,
              test_auto_max_connections, fixture_teardown);
  return g_test_run ();
}
