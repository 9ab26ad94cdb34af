/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A server for the official Engine.IO and Socket.IO conformance suites
 * (socketio/engine.io-protocol and socketio/socket.io-protocol, test-suite/),
 * which expect http://localhost:3000 with pingInterval 300, pingTimeout 200
 * and maxPayload 1000000.
 *
 *   /engine.io/  every Engine.IO message is echoed back as it came (text or
 *                binary).
 *   /socket.io/  see SOCKET.IO CONFORMANCE below.
 *
 * Usage: prdhub-sio-conformance [--port PORT]
 */
#define G_LOG_DOMAIN "prd-conformance"

#include "config.h"

#include <glib-unix.h>
#include <libsoup/soup.h>

#include "prd-eio-server.h"
#include "prd-sio-server.h"

static void
on_text_message (PrdEioSocket *socket, const char *text, gulong len, gpointer user_data)
{
  prd_eio_socket_send_text (socket, text, len);
}

static void
on_binary_message (PrdEioSocket *socket, GBytes *data, gpointer user_data)
{
  prd_eio_socket_send_binary (socket, data);
}

static void
on_eio_connection (PrdEioServer *server, PrdEioSocket *socket, gpointer user_data)
{
  g_signal_connect (socket, "text-message", G_CALLBACK (on_text_message), NULL);
  g_signal_connect (socket, "binary-message", G_CALLBACK (on_binary_message), NULL);
}

static PrdEioServer *
create_eio_server (void)
{
  return g_object_new (PRD_TYPE_EIO_SERVER, "ping-interval", 300, "ping-timeout", 200,
                       "max-payload", (guint64) 1000000, NULL);
}

/* ---- SOCKET.IO CONFORMANCE: the /socket.io/ part goes here. ----------- */
/*
 * /socket.io/  namespaces "/" and "/custom": on connect each emits `auth`
 *              with the CONNECT payload ({} when there was none), echoes
 *              `message` as `message-back` and acks `message-with-ack` with
 *              the same arguments, binary attachments included.
 */

/* The suite's client (ws 8.5) emits all frames of one TCP read
 * synchronously and re-arms its one-shot listener only after an await, so a
 * frame that arrives in the same read as the CONNECT reply is lost to it.
 * socket.io's engine happens to space the two writes by a write callback;
 * here the `auth` event waits a moment after the CONNECT reply instead.
 * This is a property of the test client, not of the protocol. */
#define AUTH_EMIT_DELAY_MS 20

static gboolean
emit_auth (gpointer user_data)
{
  PrdSioSocket *socket = user_data;
  JsonNode *auth = prd_sio_socket_get_auth (socket);
  g_autoptr (JsonNode) empty = NULL;

  if (auth == NULL)
    {
      empty = json_node_new (JSON_NODE_OBJECT);
      json_node_take_object (empty, json_object_new ());
      auth = empty;
    }
  prd_sio_socket_emit_one (socket, "auth", auth);
  return G_SOURCE_REMOVE;
}

static void
on_sio_connection (PrdSioNamespace *nsp, PrdSioSocket *socket, gpointer user_data)
{
  g_timeout_add_full (G_PRIORITY_DEFAULT, AUTH_EMIT_DELAY_MS, emit_auth, g_object_ref (socket),
                      g_object_unref);
}

static void
on_sio_message (PrdSioSocket *socket,
                const char *event,
                JsonArray *args,
                GPtrArray *attachments,
                gint64 ack_id,
                gpointer user_data)
{
  prd_sio_socket_emit (socket, "message-back", args, attachments);
}

static void
on_sio_message_with_ack (PrdSioSocket *socket,
                         const char *event,
                         JsonArray *args,
                         GPtrArray *attachments,
                         gint64 ack_id,
                         gpointer user_data)
{
  prd_sio_socket_ack (socket, ack_id, args, attachments);
}

static void
setup_socketio (SoupServer *soup_server)
{
  g_autoptr (PrdEioServer) eio = create_eio_server ();
  g_autoptr (PrdSioServer) sio = prd_sio_server_new (eio);
  const char *const names[] = { "/", "/custom" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      PrdSioNamespace *nsp = prd_sio_server_of (sio, names[i]);

      g_signal_connect (nsp, "connection", G_CALLBACK (on_sio_connection), NULL);
      prd_sio_namespace_on (nsp, "message", on_sio_message, NULL);
      prd_sio_namespace_on (nsp, "message-with-ack", on_sio_message_with_ack, NULL);
    }
  prd_eio_server_attach (eio, soup_server, "/socket.io/");
  /* they live as long as the HTTP server */
  g_object_set_data_full (G_OBJECT (soup_server), "prd-sio-server", g_steal_pointer (&sio),
                          g_object_unref);
  g_object_set_data_full (G_OBJECT (soup_server), "prd-sio-engine", g_steal_pointer (&eio),
                          g_object_unref);
}

/* ---- end of SOCKET.IO CONFORMANCE ------------------------------------- */

static gboolean
on_signal (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char *argv[])
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (SoupServer) soup_server = NULL;
  g_autoptr (PrdEioServer) eio = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  g_autoptr (GInetAddress) loopback = NULL;
  g_autoptr (GSocketAddress) address = NULL;
  int port = 3000;
  GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, "Port to listen on (default 3000)", "PORT" },
    { NULL },
  };

  context = g_option_context_new ("- Engine.IO/Socket.IO conformance server");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (port <= 0 || port > 65535)
    {
      g_printerr ("Invalid port %d\n", port);
      return 2;
    }

  soup_server = soup_server_new ("server-header", "prdhub-conformance", NULL);

  eio = create_eio_server ();
  g_signal_connect (eio, "connection", G_CALLBACK (on_eio_connection), NULL);
  prd_eio_server_attach (eio, soup_server, "/engine.io/");

  setup_socketio (soup_server);

  /* The suites use http://localhost:3000, which may resolve to either
   * loopback address: listen on both (IPv6 only if the host has it). */
  loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  address = g_inet_socket_address_new (loopback, port);
  if (!soup_server_listen (soup_server, address, 0, &error))
    {
      g_printerr ("Cannot listen on 127.0.0.1:%d: %s\n", port, error->message);
      return 1;
    }
  g_clear_object (&address);
  g_clear_object (&loopback);
  loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV6);
  address = g_inet_socket_address_new (loopback, port);
  if (!soup_server_listen (soup_server, address, 0, &error))
    {
      g_debug ("Not listening on [::1]:%d: %s", port, error->message);
      g_clear_error (&error);
    }

  g_print ("Listening on http://localhost:%d/\n", port);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, on_signal, loop);
  g_unix_signal_add (SIGTERM, on_signal, loop);
  g_main_loop_run (loop);

  prd_eio_server_close_all (eio);
  soup_server_disconnect (soup_server);
  return 0;
}
