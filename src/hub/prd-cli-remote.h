/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean prd_cli_remote_handles (const char *action);
int prd_cli_remote_prd (int argc, char **argv);
int prd_cli_remote_status (int argc, char **argv);

G_END_DECLS
