/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What every command of the command line shares: how a usage error is
 * told.
 */
#include "config.h"

#include <stdarg.h>

#include "prd-cli.h"

/**
 * prd_cli_usage_error:
 * @command: (nullable): the command (and action) whose help to read, e.g.
 *   "prd export"; %NULL for `prdhub help`
 *
 * Prints one line on stderr, the message and where the help is.
 *
 * Returns: %PRD_CLI_EXIT_USAGE
 */
int
prd_cli_usage_error (const char *command, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("prdhub: %s (see `prdhub help%s%s`)\n", message, command != NULL ? " " : "",
              command != NULL ? command : "");
  return PRD_CLI_EXIT_USAGE;
}
