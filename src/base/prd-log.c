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
 * is the one line an integration logs per call to its service.
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

/**
 * prd_log_integration_call:
 * @service: the integration (`jira`, `mattermost`, …)
 * @organization: the organization it worked for
 * @operation: what it asked the service (`create-issue`, …)
 * @duration_us: how long the call took, in microseconds
 * @error: (nullable): why it failed
 *
 * The one log line of an integration's call to its service: at info level
 * when it succeeded, as a message (shown from the warning level up) when it
 * failed. Credentials never go in any argument.
 */
void
prd_log_integration_call (const char *service,
                          const char *organization,
                          const char *operation,
                          gint64 duration_us,
                          const GError *error)
{
  g_return_if_fail (service != NULL && organization != NULL && operation != NULL);

  if (error == NULL)
    g_log ("prd-integrations", G_LOG_LEVEL_INFO,
           "integration: service=%s org=%s call=%s result=ok ms=%" G_GINT64_FORMAT, service,
           organization, operation, duration_us / 1000);
  else
    g_log ("prd-integrations", G_LOG_LEVEL_MESSAGE,
           "integration: service=%s org=%s call=%s result=failed ms=%" G_GINT64_FORMAT
           " error=\"%s\"",
           service, organization, operation, duration_us / 1000, error->message);
}
