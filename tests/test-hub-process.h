/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* A `prdhub serve` child process on 127.0.0.1:0 for the tests that talk to
 * the hub over D-Bus (test-hub-dbus, test-admin-ui), and waiting helpers. */

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct
{
  GSubprocess *process;
  GDataInputStream *stdout_lines;
  char *url;
  char *stderr_path;
} HubProcess;

HubProcess *hub_process_spawn (const char *data_dir,
                               const char *jwt_secret,
                               const char *ai_base_url,
                               gboolean unset_bus,
                               const char *extra_arg);
char *hub_process_read_stderr (HubProcess *hub);
void hub_process_stop (HubProcess *hub);
void hub_process_free (HubProcess *hub);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HubProcess, hub_process_free)

gboolean hub_name_has_owner (void);

typedef gboolean (*WaitCondition) (gpointer data);
void wait_until (WaitCondition condition, gpointer data, const char *what);
void run_for (guint ms);

G_END_DECLS
