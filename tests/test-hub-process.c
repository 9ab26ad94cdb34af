/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <signal.h>
#include <string.h>

#include "test-hub-process.h"

#define TIMEOUT_US (30 * G_USEC_PER_SEC)

/**
 * hub_process_spawn:
 * @data_dir: the hub's data folder
 * @ai_base_url: (nullable): the AI test server
 * @unset_bus: run it without any way to reach a session bus
 * @extra_arg: (nullable): one more argument
 *
 * Runs $PRDHUB_BIN serve and waits for its "listening" line.
 */
HubProcess *
hub_process_spawn (const char *data_dir,
                   const char *jwt_secret,
                   const char *ai_base_url,
                   gboolean unset_bus,
                   const char *extra_arg)
{
  g_autoptr (GSubprocessLauncher) launcher =
      g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;
  HubProcess *hub = g_new0 (HubProcess, 1);

  hub->stderr_path = g_strconcat (data_dir, ".stderr", NULL);
  g_subprocess_launcher_setenv (launcher, "PRDHUB_JWT_SECRET", jwt_secret, TRUE);
  g_subprocess_launcher_unsetenv (launcher, "DISPLAY");
  if (unset_bus)
    {
      g_subprocess_launcher_unsetenv (launcher, "DBUS_SESSION_BUS_ADDRESS");
      g_subprocess_launcher_setenv (launcher, "XDG_RUNTIME_DIR", data_dir, TRUE);
    }
  g_subprocess_launcher_set_stderr_file_path (launcher, hub->stderr_path);
  g_ptr_array_add (argv, (char *) g_getenv ("PRDHUB_BIN"));
  g_ptr_array_add (argv, "serve");
  g_ptr_array_add (argv, "--listen");
  g_ptr_array_add (argv, "127.0.0.1:0");
  g_ptr_array_add (argv, "--data-dir");
  g_ptr_array_add (argv, (char *) data_dir);
  if (ai_base_url != NULL)
    {
      g_ptr_array_add (argv, "--ai-base-url");
      g_ptr_array_add (argv, (char *) ai_base_url);
      g_ptr_array_add (argv, "--ai-model");
      g_ptr_array_add (argv, "m");
    }
  if (extra_arg != NULL)
    g_ptr_array_add (argv, (char *) extra_arg);
  g_ptr_array_add (argv, NULL);
  g_assert_nonnull (argv->pdata[0]);
  hub->process = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  hub->stdout_lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (hub->process));
  line = g_data_input_stream_read_line_utf8 (hub->stdout_lines, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, "prdhub listening on "));
  hub->url = g_strdup (line + strlen ("prdhub listening on "));
  return hub;
}

char *
hub_process_read_stderr (HubProcess *hub)
{
  char *text = NULL;

  g_assert_true (g_file_get_contents (hub->stderr_path, &text, NULL, NULL));
  return text;
}

/* SIGTERM, and the hub must exit with status 0. */
void
hub_process_stop (HubProcess *hub)
{
  g_autoptr (GError) error = NULL;

  g_subprocess_send_signal (hub->process, SIGTERM);
  g_assert_true (g_subprocess_wait_check (hub->process, NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&hub->process);
}

void
hub_process_free (HubProcess *hub)
{
  if (hub->process != NULL)
    {
      g_subprocess_send_signal (hub->process, SIGKILL);
      g_subprocess_wait (hub->process, NULL, NULL);
    }
  g_clear_object (&hub->stdout_lines);
  g_clear_object (&hub->process);
  g_free (hub->url);
  g_free (hub->stderr_path);
  g_free (hub);
}

gboolean
hub_name_has_owner (void)
{
  g_autoptr (GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_autoptr (GVariant) reply = NULL;
  gboolean owned = FALSE;

  reply = g_dbus_connection_call_sync (
      bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner",
      g_variant_new ("(s)", "org.prdtool.Hub"), G_VARIANT_TYPE ("(b)"), G_DBUS_CALL_FLAGS_NONE, -1,
      NULL, NULL);
  g_assert_nonnull (reply);
  g_variant_get (reply, "(b)", &owned);
  return owned;
}

/* Runs the main context until @condition holds; fails after 30 s. */
void
wait_until (WaitCondition condition, gpointer data, const char *what)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_US;

  while (!condition (data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("timed out waiting for %s", what);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

void
run_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}
