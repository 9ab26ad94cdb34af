/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The program's log levels: one writer in front of GLib's default one that
 * drops what is below the chosen level. Debug messages of the domains named
 * in G_MESSAGES_DEBUG are kept at every level, so that
 * `G_MESSAGES_DEBUG=prd-hub-ai` still shows one feature without libsoup's
 * frame-by-frame debugging.
 *
 * Info lines follow one shape, `what: key=value …`, so that they can be
 * searched; they never carry a token or a secret. prd_log_integration_call()
 * is the one line an integration logs per call to its service. Lines a
 * client can cause at will (refusals) go through a PrdLogThrottle and quote
 * client input with prd_log_quote(): one client cannot fill the disk.
 *
 * The time on each line is GLib's default writer's: the local time of day,
 * without a date or an offset (README "Logs"); journald keeps a full
 * timestamp of its own for each line.
 */
#define G_LOG_DOMAIN "prd-log"

#include "config.h"

#include <string.h>

#include "prd-log.h"

static const char *const level_names[] = { "error", "warning", "info", "debug" };

static PrdLogLevel current_level = PRD_LOG_LEVEL_WARNING;
static gboolean initialized;
static char **debug_domains; /* (owned) (nullable): from G_MESSAGES_DEBUG */
static gboolean debug_all;

gboolean
prd_log_level_from_string (const char *name, PrdLogLevel *level)
{
  g_return_val_if_fail (level != NULL, FALSE);

  if (name == NULL)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (level_names); i++)
    if (g_str_equal (name, level_names[i]))
      {
        *level = (PrdLogLevel) i;
        return TRUE;
      }
  return FALSE;
}

const char *
prd_log_level_to_string (PrdLogLevel level)
{
  g_return_val_if_fail ((guint) level < G_N_ELEMENTS (level_names), NULL);

  return level_names[level];
}

static const char *
field_domain (const GLogField *fields, gsize n_fields)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
      return fields[i].value;
  return NULL;
}

static gboolean
domain_debugged (const char *domain)
{
  if (debug_all)
    return TRUE;
  if (debug_domains == NULL || domain == NULL)
    return FALSE;
  return g_strv_contains ((const char *const *) debug_domains, domain);
}

static GLogWriterOutput
writer (GLogLevelFlags log_level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  PrdLogLevel needed;

  if (log_level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    needed = PRD_LOG_LEVEL_ERROR;
  else if (log_level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE))
    needed = PRD_LOG_LEVEL_WARNING;
  else if (log_level & G_LOG_LEVEL_INFO)
    needed = PRD_LOG_LEVEL_INFO;
  else
    needed = PRD_LOG_LEVEL_DEBUG;

  if (needed > current_level &&
      !(needed >= PRD_LOG_LEVEL_INFO && domain_debugged (field_domain (fields, n_fields))))
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (log_level, fields, n_fields, user_data);
}

/**
 * prd_log_init:
 *
 * Installs the level filter (once per process; the program's main() calls
 * it before logging anything) and sets @level.
 */
void
prd_log_init (PrdLogLevel level)
{
  const char *env = g_getenv ("G_MESSAGES_DEBUG");

  if (env != NULL && *env != '\0')
    {
      debug_domains = g_strsplit_set (env, " ,", -1);
      debug_all = g_strv_contains ((const char *const *) debug_domains, "all");
    }
  g_log_set_writer_func (writer, NULL, NULL);
  initialized = TRUE;
  prd_log_set_level (level);
}

void
prd_log_set_level (PrdLogLevel level)
{
  g_return_if_fail ((guint) level < G_N_ELEMENTS (level_names));

  current_level = level;
  /* GLib's writer drops info and debug unless told otherwise; this writer
   * has decided already. */
  g_log_set_debug_enabled (level >= PRD_LOG_LEVEL_INFO || debug_domains != NULL);
}

PrdLogLevel
prd_log_get_level (void)
{
  return current_level;
}

/**
 * prd_log_would_debug:
 * @domain: a log domain
 *
 * Whether a debug message of @domain would be shown. GLib formats a
 * message before any writer drops it: code that logs per frame or per
 * message asks this first. Without prd_log_init() (the test programs),
 * GLib's own rule (`G_MESSAGES_DEBUG`) decides.
 */
gboolean
prd_log_would_debug (const char *domain)
{
  if (!initialized)
    return !g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, domain);
  return current_level >= PRD_LOG_LEVEL_DEBUG || domain_debugged (domain);
}

/* What a client can make the hub log as often as it likes (a refusal) is
 * counted per kind: PRD_LOG_THROTTLE_LINES lines every
 * PRD_LOG_THROTTLE_INTERVAL_S, then one summary line with how many were
 * left out, written when the interval is over (a timer of the default main
 * context) or with the next line after it, whichever comes first. The lock:
 * any thread may log. */
static GMutex throttle_lock;
static PrdLogThrottle *throttles_dropping; /* (element-type PrdLogThrottle) by ->next */

#define THROTTLE_INTERVAL_US ((gint64) PRD_LOG_THROTTLE_INTERVAL_S * G_USEC_PER_SEC)

static void
log_summary (const PrdLogThrottle *throttle, guint64 dropped)
{
  g_log (throttle->domain, throttle->level,
         "%s: %" G_GUINT64_FORMAT
         " more %s like this were not logged (at most %d lines every %d s)",
         throttle->prefix, dropped, throttle->noun, PRD_LOG_THROTTLE_LINES,
         PRD_LOG_THROTTLE_INTERVAL_S);
}

static gboolean
on_throttle_interval_over (gpointer user_data)
{
  PrdLogThrottle *throttle = user_data;
  guint64 dropped;

  g_mutex_lock (&throttle_lock);
  dropped = throttle->dropped;
  throttle->dropped = 0;
  throttle->timer = FALSE;
  g_mutex_unlock (&throttle_lock);
  if (dropped > 0)
    log_summary (throttle, dropped);
  return G_SOURCE_REMOVE;
}

static gboolean
throttle_admit (PrdLogThrottle *throttle, gint64 now, gboolean arm_timer)
{
  guint64 dropped = 0;
  gboolean admitted;

  g_mutex_lock (&throttle_lock);
  if (throttle->lines == 0 || now - throttle->window_start >= THROTTLE_INTERVAL_US)
    {
      dropped = throttle->dropped;
      throttle->dropped = 0;
      throttle->window_start = now;
      throttle->lines = 0;
    }
  admitted = throttle->lines < PRD_LOG_THROTTLE_LINES;
  if (admitted)
    throttle->lines++;
  else
    throttle->dropped++;
  if (!admitted && !throttle->listed)
    {
      /* Listed once, for prd_log_throttle_flush(). */
      throttle->listed = TRUE;
      throttle->next = throttles_dropping;
      throttles_dropping = throttle;
    }
  if (!admitted && arm_timer && !throttle->timer)
    {
      gint64 left = throttle->window_start + THROTTLE_INTERVAL_US - now;

      throttle->timer = TRUE;
      g_timeout_add ((guint) MAX (left / 1000, 0) + 1, on_throttle_interval_over, throttle);
    }
  g_mutex_unlock (&throttle_lock);

  if (dropped > 0)
    log_summary (throttle, dropped);
  return admitted;
}

/**
 * prd_log_throttle_admit:
 * @throttle: (not nullable): a static #PrdLogThrottle
 *
 * Whether the next line of @throttle's kind may be logged. When it may not,
 * it is counted, and the count is logged in one line (at @throttle's domain
 * and level) once the interval is over: "… N more refusals like this were
 * not logged". A line admitted after an interval with lines left out comes
 * after that summary.
 *
 * Returns: %TRUE when the caller logs its line
 */
gboolean
prd_log_throttle_admit (PrdLogThrottle *throttle)
{
  g_return_val_if_fail (throttle != NULL, FALSE);

  return throttle_admit (throttle, g_get_monotonic_time (), TRUE);
}

/**
 * prd_log_throttle_admit_at:
 * @throttle: a #PrdLogThrottle
 * @now_us: the monotonic time, in microseconds
 *
 * prd_log_throttle_admit() at a given time and without the timer: the
 * summary is only logged with the next line after the interval (for tests).
 */
gboolean
prd_log_throttle_admit_at (PrdLogThrottle *throttle, gint64 now_us)
{
  g_return_val_if_fail (throttle != NULL, FALSE);

  return throttle_admit (throttle, now_us, FALSE);
}

/**
 * prd_log_throttle_flush:
 *
 * Logs the summary of every throttle with lines left out that it has not
 * logged yet: for the hub's stop, so that no count is lost with the timer
 * that would have written it.
 */
void
prd_log_throttle_flush (void)
{
  g_autoptr (GPtrArray) due = g_ptr_array_new ();
  g_autoptr (GArray) counts = g_array_new (FALSE, FALSE, sizeof (guint64));

  g_mutex_lock (&throttle_lock);
  for (PrdLogThrottle *t = throttles_dropping; t != NULL; t = t->next)
    if (t->dropped > 0)
      {
        g_ptr_array_add (due, t);
        g_array_append_val (counts, t->dropped);
        t->dropped = 0;
      }
  g_mutex_unlock (&throttle_lock);
  for (guint i = 0; i < due->len; i++)
    log_summary (g_ptr_array_index (due, i), g_array_index (counts, guint64, i));
}

/**
 * prd_log_quote:
 * @text: client input, any bytes (a request's path)
 *
 * @text for a log line: C escapes for `"`, `\`, control bytes and bytes
 * above 0x7e (as g_strescape() writes them), cut at %PRD_LOG_QUOTE_MAX bytes
 * of escaped text and then marked with "…", so that no client makes a line
 * longer than that.
 *
 * Returns: (transfer full): the text to log
 */
char *
prd_log_quote (const char *text)
{
  GString *out;

  g_return_val_if_fail (text != NULL, NULL);

  out = g_string_sized_new (MIN (strlen (text), PRD_LOG_QUOTE_MAX) + 4);
  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    {
      char piece[8];

      if (*p == '"' || *p == '\\')
        g_snprintf (piece, sizeof piece, "\\%c", *p);
      else if (*p < 0x20 || *p > 0x7e)
        g_snprintf (piece, sizeof piece, "\\%03o", *p);
      else
        g_snprintf (piece, sizeof piece, "%c", *p);
      if (out->len + strlen (piece) > PRD_LOG_QUOTE_MAX)
        {
          g_string_append (out, "…");
          break;
        }
      g_string_append (out, piece);
    }
  return g_string_free (out, FALSE);
}

/* A service's failures can come as fast as a client asks for calls (an
 * admin's connection checks): throttled per service and organization, so
 * that one organization's failures never hide another's; past
 * INTEGRATION_THROTTLES of them, the rest share one. Kept for the life of
 * the process (their summaries may be due). */
#define INTEGRATION_THROTTLES 256

static GMutex integration_lock;
static GHashTable *integration_failures; /* "service org" → (owned) PrdLogThrottle */
static PrdLogThrottle integration_overflow = {
  "prd-integrations",
  G_LOG_LEVEL_MESSAGE,
  "integration: service=* org=*",
  "failed calls",
  0,
  0,
  0,
  FALSE,
  NULL,
  FALSE,
};

static PrdLogThrottle *
integration_throttle (const char *service, const char *organization)
{
  g_autofree char *key = g_strdup_printf ("%s %s", service, organization);
  PrdLogThrottle *throttle;

  g_mutex_lock (&integration_lock);
  if (integration_failures == NULL)
    integration_failures = g_hash_table_new (g_str_hash, g_str_equal);
  throttle = g_hash_table_lookup (integration_failures, key);
  if (throttle == NULL && g_hash_table_size (integration_failures) < INTEGRATION_THROTTLES)
    {
      throttle = g_new0 (PrdLogThrottle, 1);
      throttle->domain = "prd-integrations";
      throttle->level = G_LOG_LEVEL_MESSAGE;
      throttle->prefix = g_strdup_printf ("integration: service=%s org=%s", service, organization);
      throttle->noun = "failed calls";
      g_hash_table_insert (integration_failures, g_steal_pointer (&key), throttle);
    }
  g_mutex_unlock (&integration_lock);
  return throttle != NULL ? throttle : &integration_overflow;
}

/**
 * prd_log_integration_call:
 * @service: the integration (`jira`, `mattermost`, …)
 * @organization: (nullable): the organization it worked for
 * @operation: what it asked the service, in words (`connection check`, …)
 * @result: how the call ended
 * @error_message: (nullable): why it failed, one line
 *
 * The one log line of an integration's call to its service: at info level
 * when it succeeded or was cancelled, as a message (shown from the warning
 * level up, throttled as refusals are) when it failed. Credentials never go
 * in any argument.
 */
void
prd_log_integration_call (const char *service,
                          const char *organization,
                          const char *operation,
                          PrdLogCallResult result,
                          const char *error_message)
{
  g_return_if_fail (service != NULL && operation != NULL);

  if (organization == NULL)
    organization = "-";
  if (result != PRD_LOG_CALL_FAILED)
    g_log ("prd-integrations", G_LOG_LEVEL_INFO,
           "integration: service=%s org=%s call=\"%s\" result=%s", service, organization, operation,
           result == PRD_LOG_CALL_OK ? "ok" : "cancelled");
  else if (prd_log_throttle_admit (integration_throttle (service, organization)))
    g_log ("prd-integrations", G_LOG_LEVEL_MESSAGE,
           "integration: service=%s org=%s call=\"%s\" result=failed error=\"%s\"", service,
           organization, operation, error_message != NULL ? error_message : "");
}
