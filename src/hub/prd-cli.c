/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What every command of the command line shares: how a usage error is
 * told, that a result which could not be written is a failure, and which
 * data folders a command may use.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "prd-error.h"

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

/**
 * prd_cli_finish_output:
 * @status: the command's exit status so far
 *
 * Flushes standard output, where a command prints its result (a token, a
 * PRD's id or text, a list). A result that could not be written all (a full
 * disk, a closed pipe, `> /dev/full`) is a failure, never a silent exit 0: a
 * script would go on with a truncated token or no id.
 *
 * Returns: @status, or %PRD_CLI_EXIT_FAILURE (the error printed) when
 *   @status is 0 and the output could not be written
 */
int
prd_cli_finish_output (int status)
{
  /* A failed write of the buffer leaves ferror() set and its errno. */
  int saved_errno = errno;
  gboolean failed = FALSE;

  errno = 0;
  if (fflush (stdout) != 0)
    {
      saved_errno = errno;
      failed = TRUE;
    }
  else if (ferror (stdout))
    failed = TRUE;
  if (!failed || status != 0)
    return status;
  g_printerr ("prdhub: cannot write the output: %s\n",
              g_strerror (saved_errno != 0 ? saved_errno : EIO));
  return PRD_CLI_EXIT_FAILURE;
}

/**
 * prd_cli_check_data_dir:
 * @data_dir: the data folder a command is to use
 *
 * Every command but `serve` works on the data folder of a hub that exists:
 * one that does not is a typo, not a new hub (`serve` creates it first).
 * Also says what is wrong with a folder the command cannot use.
 *
 * Returns: %FALSE with @error set when the command cannot use @data_dir
 */
gboolean
prd_cli_check_data_dir (const char *data_dir, GError **error)
{
  GStatBuf st;

  if (g_stat (data_dir, &st) != 0)
    {
      int saved_errno = errno;

      if (saved_errno == ENOENT)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND,
                       "The data folder %s does not exist (check --data-dir; `prdhub serve` "
                       "creates it when a hub first runs)",
                       data_dir);
          return FALSE;
        }
      g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "Cannot use the data folder %s: %s",
                   data_dir, g_strerror (saved_errno));
      return FALSE;
    }
  if (!S_ISDIR (st.st_mode))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE,
                   "Cannot use the data folder %s: it is not a folder", data_dir);
      return FALSE;
    }
  if (g_access (data_dir, R_OK | W_OK | X_OK) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "Cannot use the data folder %s: %s",
                   data_dir, g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}
