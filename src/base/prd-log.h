/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * PrdLogLevel:
 * @PRD_LOG_LEVEL_ERROR: errors and criticals only
 * @PRD_LOG_LEVEL_WARNING: also warnings and messages (g_message())
 * @PRD_LOG_LEVEL_INFO: also g_info(): one line per connection, join,
 *   refusal, version, AI job and integration call
 * @PRD_LOG_LEVEL_DEBUG: everything, libsoup's own debugging included
 *
 * How much the program logs (`--log-level`, `[log] level`).
 */
typedef enum
{
  PRD_LOG_LEVEL_ERROR,
  PRD_LOG_LEVEL_WARNING,
  PRD_LOG_LEVEL_INFO,
  PRD_LOG_LEVEL_DEBUG,
} PrdLogLevel;

#define PRD_LOG_LEVEL_NAMES "error, warning, info or debug"

gboolean prd_log_level_from_string (const char *name, PrdLogLevel *level);
const char *prd_log_level_to_string (PrdLogLevel level);

void prd_log_init (PrdLogLevel level);
void prd_log_set_level (PrdLogLevel level);
PrdLogLevel prd_log_get_level (void);
gboolean prd_log_would_debug (const char *domain);

void prd_log_integration_call (const char *service,
                               const char *organization,
                               const char *operation,
                               gint64 duration_us,
                               const GError *error);

G_END_DECLS
