/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Every command's exit status: 0 done, 1 an error (nothing changed), 2 a
 * usage error (README, "The command line"). */
#define PRD_CLI_EXIT_FAILURE 1
#define PRD_CLI_EXIT_USAGE   2

/* The hub's database in its data folder: a folder without it is no hub's. */
#define PRD_CLI_STORE_FILE "prdhub.db"

int prd_cli_usage_error (const char *command, const char *format, ...) G_GNUC_PRINTF (2, 3);
int prd_cli_finish_output (int status);
gboolean prd_cli_check_data_dir (const char *data_dir, GError **error);

G_END_DECLS
