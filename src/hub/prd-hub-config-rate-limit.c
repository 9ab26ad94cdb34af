/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The [rate-limit] group of the hub's configuration and its
 * [rate-limit.events] subgroup, owned by the server core (prd-hub.c hands
 * them to the Socket.IO rate limiter). Beside prd-hub-config.c, in the
 * prd-auth library, so that the parser can list it (see there).
 *
 *   [rate-limit]         CLASS = LIMIT/WINDOW_SECONDS
 *   [rate-limit.events]  EVENT = CLASS
 *
 * Defaults: `default` at 100 events per 10 seconds; content-update and
 * presence-update in the `collab` class at 1200/10; sync-request in the
 * `sync` class at 30/10 (its answer may be the PRD's whole state); one
 * user's REST writes (`rest`) at 600/60 and reads (`rest-read`) at 1200/60;
 * one user's accepted Socket.IO namespace CONNECTs (`connect`) at 60/60.
 */
#define G_LOG_DOMAIN "prd-hub-config"

#include "config.h"

#include <string.h>

#include "prd-error.h"

#include "prd-hub-config-rate-limit.h"

#define MAX_RATE_LIMIT  1000000
#define MAX_RATE_WINDOW 86400
#define MAX_NAME_LENGTH 128
#define EVENTS_GROUP    "rate-limit.events"

static void
rate_limit_free (gpointer data)
{
  PrdRateLimit *limit = data;

  g_free (limit->event_class);
  g_free (limit);
}

static gboolean
name_is_valid (const char *name, gboolean strict)
{
  gsize len = strlen (name);

  if (len == 0 || len > MAX_NAME_LENGTH || !g_utf8_validate (name, -1, NULL))
    return FALSE;
  if (strict)
    for (const char *p = name; *p != '\0'; p++)
      if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
        return FALSE;
  return TRUE;
}

/* @event_class: a class name (letters, digits, `-`, `_`)
 * @value: `LIMIT/WINDOW_SECONDS`, e.g. `100/10` */
static gboolean
set_limit (PrdHubRateLimitConfig *self, const char *event_class, const char *value, GError **error)
{
  g_auto (GStrv) parts = NULL;
  guint64 limit, window;
  PrdRateLimit *entry;

  if (!name_is_valid (event_class, TRUE))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "[rate-limit] %s: \"%s\" is not a valid class name (letters, digits, - and _)",
                   event_class, event_class);
      return FALSE;
    }
  parts = g_strsplit (value, "/", -1);
  if (g_strv_length (parts) != 2 ||
      !g_ascii_string_to_unsigned (g_strstrip (parts[0]), 10, 1, MAX_RATE_LIMIT, &limit, NULL) ||
      !g_ascii_string_to_unsigned (g_strstrip (parts[1]), 10, 1, MAX_RATE_WINDOW, &window, NULL))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "[rate-limit] %s: \"%s\" is not LIMIT/WINDOW_SECONDS (LIMIT 1-%d, "
                   "WINDOW_SECONDS 1-%d)",
                   event_class, value, MAX_RATE_LIMIT, MAX_RATE_WINDOW);
      return FALSE;
    }

  for (guint i = 0; i < self->limits->len; i++)
    {
      entry = g_ptr_array_index (self->limits, i);
      if (g_str_equal (entry->event_class, event_class))
        {
          entry->limit = (guint) limit;
          entry->window_seconds = (guint) window;
          return TRUE;
        }
    }
  entry = g_new0 (PrdRateLimit, 1);
  entry->event_class = g_strdup (event_class);
  entry->limit = (guint) limit;
  entry->window_seconds = (guint) window;
  g_ptr_array_add (self->limits, entry);
  return TRUE;
}

/* Puts @event in @event_class; the class must have a limit by the time the
 * configuration is validated. */
static gboolean
set_event_class (PrdHubRateLimitConfig *self,
                 const char *event,
                 const char *event_class,
                 GError **error)
{
  if (!name_is_valid (event, FALSE))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "[rate-limit.events] %s: \"%s\" is not a valid event name", event, event);
      return FALSE;
    }
  if (!name_is_valid (event_class, TRUE))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "[rate-limit.events] %s: \"%s\" is not a valid class name", event, event_class);
      return FALSE;
    }
  g_hash_table_replace (self->event_classes, g_strdup (event), g_strdup (event_class));
  return TRUE;
}

/**
 * prd_hub_rate_limit_config_lookup:
 *
 * Returns: (transfer none) (nullable): the limit of @event_class
 */
const PrdRateLimit *
prd_hub_rate_limit_config_lookup (const PrdHubRateLimitConfig *self, const char *event_class)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (event_class != NULL, NULL);

  for (guint i = 0; i < self->limits->len; i++)
    {
      PrdRateLimit *entry = g_ptr_array_index (self->limits, i);

      if (g_str_equal (entry->event_class, event_class))
        return entry;
    }
  return NULL;
}

static void
rate_limit_init (gpointer data)
{
  PrdHubRateLimitConfig *self = data;

  self->limits = g_ptr_array_new_with_free_func (rate_limit_free);
  self->event_classes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_assert (set_limit (self, "default", "100/10", NULL));
  /* Typing sends one content-update per edit and presence with it: the
   * default class (10 events/s) would refuse a fast typist. */
  g_assert (
      set_limit (self, PRD_HUB_CONFIG_COLLAB_CLASS, PRD_HUB_CONFIG_DEFAULT_COLLAB_RATE, NULL));
  g_assert (set_event_class (self, "content-update", PRD_HUB_CONFIG_COLLAB_CLASS, NULL));
  g_assert (set_event_class (self, "presence-update", PRD_HUB_CONFIG_COLLAB_CLASS, NULL));
  /* A sync-response may be the PRD's whole state (a client far behind):
   * far dearer than an edit, and needed only after a gap. */
  g_assert (set_limit (self, PRD_HUB_CONFIG_SYNC_CLASS, PRD_HUB_CONFIG_DEFAULT_SYNC_RATE, NULL));
  g_assert (set_event_class (self, "sync-request", PRD_HUB_CONFIG_SYNC_CLASS, NULL));
  g_assert (set_limit (self, PRD_HUB_CONFIG_REST_CLASS, PRD_HUB_CONFIG_DEFAULT_REST_RATE, NULL));
  g_assert (set_limit (self, PRD_HUB_CONFIG_REST_READ_CLASS, PRD_HUB_CONFIG_DEFAULT_REST_READ_RATE,
                       NULL));
  g_assert (
      set_limit (self, PRD_HUB_CONFIG_CONNECT_CLASS, PRD_HUB_CONFIG_DEFAULT_CONNECT_RATE, NULL));
}

static void
rate_limit_clear (gpointer data)
{
  PrdHubRateLimitConfig *self = data;

  g_clear_pointer (&self->limits, g_ptr_array_unref);
  g_clear_pointer (&self->event_classes, g_hash_table_unref);
}

/* Any key is a class in [rate-limit] and an event in [rate-limit.events]. */
static gboolean
rate_limit_set (gpointer data,
                const char *group,
                const char *key,
                const char *value,
                const char *base_dir,
                GError **error)
{
  PrdHubRateLimitConfig *self = data;

  if (g_str_equal (group, EVENTS_GROUP))
    return set_event_class (self, key, value, error);
  return set_limit (self, key, value, error);
}

/* The classes the hub uses whether or not an event is mapped to them. */
static const char *const builtin_classes[] = {
  "default",
  PRD_HUB_CONFIG_COLLAB_CLASS,
  PRD_HUB_CONFIG_SYNC_CLASS,
  PRD_HUB_CONFIG_REST_CLASS,
  PRD_HUB_CONFIG_REST_READ_CLASS,
  PRD_HUB_CONFIG_CONNECT_CLASS,
  NULL,
};

/**
 * prd_hub_config_events:
 *
 * Every event a client may send the hub (the names the hub's features
 * register on its namespaces, docs/protocol.md): what [rate-limit.events]
 * may name. A static list, so that a misspelt name is refused while the
 * configuration is validated, before the data folder is touched; test-hub
 * checks that it equals what a started hub registers.
 */
const char *const prd_hub_config_events[] = {
  "add-comment",      "ai-cancel",     "ai-job-status",  "ai-prompt",
  "ai-review",        "approve-prd",   "content-update", "craft-check-alignment",
  "craft-link",       "craft-unlink",  "create-version", "jira-sync",
  "join-prd",         "leave-prd",     "mark-read",      "ping",
  "presence-update",  "refresh-token", "reply-comment",  "resolve-comment",
  "resolve-conflict", "subscribe",     "sync-request",   NULL,
};

/* Whether some event of [rate-limit.events] is in @event_class. */
static gboolean
class_is_mapped (const PrdHubRateLimitConfig *self, const char *event_class)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->event_classes);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_str_equal (value, event_class))
      return TRUE;
  return FALSE;
}

/* Every mapped event is one of the hub's, every mapped class has a limit,
 * and every limit is of a class in use (a built-in one, or one an event is
 * mapped to): a misspelt event or class name would otherwise leave the
 * limit it was meant to change as it was. */
static gboolean
rate_limit_validate (gconstpointer data, GError **error)
{
  const PrdHubRateLimitConfig *self = data;
  GHashTableIter iter;
  gpointer key, value;

  if (prd_hub_rate_limit_config_lookup (self, "default") == NULL)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CONFIG,
                           "[rate-limit] default: the \"default\" class has no limit");
      return FALSE;
    }
  g_hash_table_iter_init (&iter, self->event_classes);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_strv_contains (prd_hub_config_events, key))
      {
        g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                     "[rate-limit.events] %s: the hub has no event \"%s\" (docs/protocol.md "
                     "lists them)",
                     (const char *) key, (const char *) key);
        return FALSE;
      }
  g_hash_table_iter_init (&iter, self->event_classes);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (prd_hub_rate_limit_config_lookup (self, value) == NULL)
      {
        g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                     "[rate-limit.events] %s: class \"%s\" has no limit in [rate-limit]",
                     (const char *) key, (const char *) value);
        return FALSE;
      }
  for (guint i = 0; i < self->limits->len; i++)
    {
      const PrdRateLimit *limit = g_ptr_array_index (self->limits, i);

      if (!g_strv_contains (builtin_classes, limit->event_class) &&
          !class_is_mapped (self, limit->event_class))
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                       "[rate-limit] %s: no event is in class \"%s\" (map events to it in "
                       "[rate-limit.events]; the built-in classes are default, collab, sync, "
                       "rest, rest-read and connect)",
                       limit->event_class, limit->event_class);
          return FALSE;
        }
    }
  return TRUE;
}

static const char *const extra_groups[] = { EVENTS_GROUP, NULL };

const PrdHubConfigSection prd_hub_rate_limit_config_section = {
  .name = "rate-limit",
  .extra_groups = extra_groups,
  .settings_size = sizeof (PrdHubRateLimitConfig),
  .init = rate_limit_init,
  .set = rate_limit_set,
  .validate = rate_limit_validate,
  .clear = rate_limit_clear,
};
