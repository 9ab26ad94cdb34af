/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * prdhub-ai-test-server: the scripted OpenAI-compatible server of the tests
 * as a program, for trying the hub's AI client by hand or from other test
 * suites. Listens on 127.0.0.1 only, prints one line
 * "prdhub-ai-test-server listening on http://127.0.0.1:PORT/v1" and serves
 * until SIGINT/SIGTERM; SIGUSR1 opens the gate of `gated` streams. See
 * ai-test-server.c for the scenarios.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>

#include <glib-unix.h>

#include "ai-test-server.h"

static gboolean
quit (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_CONTINUE;
}

static gboolean
open_gate (gpointer user_data)
{
  ai_test_server_open_gate (user_data);
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char *argv[])
{
  int port = 0;
  const GOptionEntry entries[] = { { "port", 'p', 0, G_OPTION_ARG_INT, &port,
                                     "Port on 127.0.0.1 (default: any free port)", "PORT" },
                                   { NULL } };
  g_autoptr (GOptionContext) context =
      g_option_context_new ("- scripted OpenAI-compatible server for tests");
  g_autoptr (AiTestServer) server = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *url = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("prdhub-ai-test-server: %s\n", error->message);
      return 1;
    }
  if (port < 0 || port > 65535)
    {
      g_printerr ("prdhub-ai-test-server: --port must be between 0 and 65535\n");
      return 1;
    }

  server = ai_test_server_new ((guint) port, &error);
  if (server == NULL)
    {
      g_printerr ("prdhub-ai-test-server: %s\n", error->message);
      return 1;
    }
  url = ai_test_server_get_base_url (server);
  printf ("prdhub-ai-test-server listening on %s\n", url);
  fflush (stdout);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, quit, loop);
  g_unix_signal_add (SIGTERM, quit, loop);
  g_unix_signal_add (SIGUSR1, open_gate, server);
  g_main_loop_run (loop);
  return 0;
}
