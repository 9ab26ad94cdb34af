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
/* It attaches its own PrdEioServer (from create_eio_server()) wrapped in a
 * PrdSioServer at "/socket.io/" in setup_socketio() below. */

static void
setup_socketio (SoupServer *soup_server)
{
  (void) soup_server;
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
