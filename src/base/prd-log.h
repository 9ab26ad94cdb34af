/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * PrdLogLevel:
 * @PRD_LOG_LEVEL_ERROR: errors and criticals only
 * @PRD_LOG_LEVEL_WARNING: also warnings and messages (g_message())
 * @PRD_LOG_LEVEL_INFO: also g_info(): one line per connection, join,
 *   refusal (throttled: prd_log_throttle_admit()), version, AI job and
 *   integration call
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

/**
 * PrdLogCallResult:
 * @PRD_LOG_CALL_OK: the call succeeded
 * @PRD_LOG_CALL_FAILED: it failed
 * @PRD_LOG_CALL_CANCELLED: the hub cancelled it (shutdown, settings replaced)
 */
typedef enum
{
  PRD_LOG_CALL_OK,
  PRD_LOG_CALL_FAILED,
  PRD_LOG_CALL_CANCELLED,
} PrdLogCallResult;

void prd_log_integration_call (const char *service,
                               const char *organization,
                               const char *operation,
                               PrdLogCallResult result,
                               const char *error_message);

/* At most this many lines of one kind per interval; the rest are counted
 * and summed up in one line. */
#define PRD_LOG_THROTTLE_LINES      20
#define PRD_LOG_THROTTLE_INTERVAL_S 10

/* Longest piece of client input (a request's path) a log line quotes. */
#define PRD_LOG_QUOTE_MAX 200

/**
 * PrdLogThrottle:
 * @domain: the log domain of the lines and of their summary
 * @level: their level
 * @prefix: how their lines begin, and so the summary (`refused: request`)
 * @noun: what they are, for the summary (`refusals`)
 *
 * One kind of log line a client can cause as often as it likes (a refusal):
 * a static variable of the file that logs it, set up with
 * PRD_LOG_THROTTLE_INIT() and asked with prd_log_throttle_admit() before each
 * line.
 */
typedef struct
{
  const char *domain;
  GLogLevelFlags level;
  const char *prefix;
  const char *noun;
  /*< private >*/
  gint64 window_start;
  guint lines;
  guint64 dropped;
  gboolean timer;
  gpointer next; /* the throttles that ever left a line out, for the flush */
  gboolean listed;
} PrdLogThrottle;

#define PRD_LOG_THROTTLE_INIT(level, prefix, noun)                       \
  {                                                                      \
    G_LOG_DOMAIN, (level), (prefix), (noun), 0, 0, 0, FALSE, NULL, FALSE \
  }

gboolean prd_log_throttle_admit (PrdLogThrottle *throttle);
gboolean prd_log_throttle_admit_at (PrdLogThrottle *throttle, gint64 now_us);
void prd_log_throttle_flush (void);
char *prd_log_quote (const char *text);

G_END_DECLS
