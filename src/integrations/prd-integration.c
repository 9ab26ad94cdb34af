/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdIntegration: one service (Jira, Mattermost, …) configured for one
 * organization. The interface fixes what every service offers the hub: its
 * name, its settings schema (which keys, which are secrets, defaults,
 * validation), a connection check, and a status (connected, disconnected
 * or error, with the last error, when it changed and when a call last
 * succeeded), announced by "status-changed".
 *
 * Whatever an integration reports (its last error, the calls it announces
 * and logs) has the secrets it was set up with replaced by `[redacted]`
 * (prd_integration_redact()), in whatever spelling a service quoted them.
 *
 * The settings helpers below apply a schema to a JSON object of settings
 * the same way for REST and the command line: every key is checked, a bad
 * one is named, and nothing is kept unless everything is valid.
 */
#define G_LOG_DOMAIN "prd-integration"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-log.h"
#include "prd-redact.h"

#include "prd-integration.h"

typedef struct
{
  PrdIntegrationStatus status;
  char *last_error;
  gint64 changed_at;
  gint64 last_success;
  char *org; /* (owned) (nullable): from prd_integration_setup(), for the log */
  /* (owned) (element-type utf8): the secrets from prd_integration_setup()
   * and their forms (prd_integration_http_add_secret()) */
  GPtrArray *secrets;
  /* (owned) (nullable): what the last announced background call of each
   * kind (prd_integration_log_call()) said: its failure's message, or ""
   * for a success; the kinds are a few fixed words per service */
  GHashTable *background;
} Status;

enum
{
  SIGNAL_STATUS_CHANGED,
  SIGNAL_CALL_FINISHED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];
static GQuark status_quark;

G_DEFINE_INTERFACE (PrdIntegration, prd_integration, G_TYPE_OBJECT)

static void
prd_integration_default_init (PrdIntegrationInterface *iface)
{
  status_quark = g_quark_from_static_string ("prd-integration-status");

  /**
   * PrdIntegration::status-changed:
   *
   * The status or the last error changed.
   */
  signals[SIGNAL_STATUS_CHANGED] =
      g_signal_new ("status-changed", G_TYPE_FROM_INTERFACE (iface), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 0);

  /**
   * PrdIntegration::call-finished:
   * @what: what the call did, in words ("connection check", "export of 3
   *   stories")
   * @ok: whether it succeeded
   * @message: (nullable): why it failed
   *
   * One call to the service ended (for the activity feed). Every call
   * ends with it but a cancelled one and a background read that succeeded
   * while the status was not %PRD_INTEGRATION_ERROR
   * (prd_integration_log_call()).
   */
  signals[SIGNAL_CALL_FINISHED] =
      g_signal_new ("call-finished", G_TYPE_FROM_INTERFACE (iface), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_BOOLEAN, G_TYPE_STRING);
}

const char *
prd_integration_status_to_string (PrdIntegrationStatus status)
{
  switch (status)
    {
      case PRD_INTEGRATION_CONNECTED:
        return "connected";
      case PRD_INTEGRATION_ERROR:
        return "error";
      case PRD_INTEGRATION_DISCONNECTED:
      default:
        return "disconnected";
    }
}

static void
clear_secret (gpointer data)
{
  char *secret = data;

  memset (secret, 0, strlen (secret));
  g_free (secret);
}

static void
status_free (Status *status)
{
  g_free (status->last_error);
  g_free (status->org);
  g_clear_pointer (&status->secrets, g_ptr_array_unref);
  g_clear_pointer (&status->background, g_hash_table_unref);
  g_free (status);
}

static Status *
get_status (PrdIntegration *self)
{
  Status *status = g_object_get_qdata (G_OBJECT (self), status_quark);

  if (status == NULL)
    {
      status = g_new0 (Status, 1);
      status->changed_at = g_get_real_time ();
      g_object_set_qdata_full (G_OBJECT (self), status_quark, status, (GDestroyNotify) status_free);
    }
  return status;
}

const char *
prd_integration_get_service (PrdIntegration *self)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION (self), NULL);

  return PRD_INTEGRATION_GET_IFACE (self)->get_service (self);
}

const PrdIntegrationKey *
prd_integration_get_schema (PrdIntegration *self, gsize *n_keys)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION (self), NULL);

  return PRD_INTEGRATION_GET_IFACE (self)->get_schema (self, n_keys);
}

gboolean
prd_integration_check_settings (PrdIntegration *self,
                                JsonObject *settings,
                                GHashTable *secrets_set,
                                GError **error)
{
  PrdIntegrationInterface *iface;

  g_return_val_if_fail (PRD_IS_INTEGRATION (self), FALSE);

  iface = PRD_INTEGRATION_GET_IFACE (self);
  if (iface->check_settings == NULL)
    return TRUE;
  return iface->check_settings (self, settings, secrets_set, error);
}

/**
 * prd_integration_setup:
 * @org: the organization
 * @settings: every non-secret key, defaults applied
 * @secrets: (element-type utf8 utf8): the secrets stored, by key
 * @http: the client this service and organization talk through
 */
gboolean
prd_integration_setup (PrdIntegration *self,
                       const char *org,
                       JsonObject *settings,
                       GHashTable *secrets,
                       PrdIntegrationHttp *http,
                       GError **error)
{
  Status *status;

  g_return_val_if_fail (PRD_IS_INTEGRATION (self), FALSE);

  status = get_status (self);
  g_free (status->org);
  status->org = g_strdup (org);
  g_clear_pointer (&status->secrets, g_ptr_array_unref);
  status->secrets = g_ptr_array_new_with_free_func (clear_secret);
  if (secrets != NULL)
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, secrets);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        prd_integration_http_add_secret (status->secrets, value);
    }
  return PRD_INTEGRATION_GET_IFACE (self)->setup (self, org, settings, secrets, http, error);
}

/**
 * prd_integration_test_async:
 *
 * Runs the connection check now; the status follows its outcome.
 */
void
prd_integration_test_async (PrdIntegration *self,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data)
{
  g_return_if_fail (PRD_IS_INTEGRATION (self));

  PRD_INTEGRATION_GET_IFACE (self)->test_async (self, cancellable, callback, user_data);
}

gboolean
prd_integration_test_finish (PrdIntegration *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION (self), FALSE);

  return PRD_INTEGRATION_GET_IFACE (self)->test_finish (self, result, error);
}

PrdIntegrationStatus
prd_integration_get_status (PrdIntegration *self)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION (self), PRD_INTEGRATION_DISCONNECTED);

  return get_status (self)->status;
}

/* (nullable): the message of the last failure, while the status is error */
const char *
prd_integration_get_last_error (PrdIntegration *self)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION (self), NULL);

  return get_status (self)->last_error;
}

gint64
prd_integration_get_changed_at (PrdIntegration *self)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION (self), 0);

  return get_status (self)->changed_at;
}

/* 0 when no call has succeeded yet */
gint64
prd_integration_get_last_success (PrdIntegration *self)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION (self), 0);

  return get_status (self)->last_success;
}

void
prd_integration_report_success (PrdIntegration *self)
{
  Status *status;
  gboolean changed;

  g_return_if_fail (PRD_IS_INTEGRATION (self));

  status = get_status (self);
  changed = status->status != PRD_INTEGRATION_CONNECTED;
  status->last_success = g_get_real_time ();
  if (!changed)
    return;
  status->status = PRD_INTEGRATION_CONNECTED;
  g_clear_pointer (&status->last_error, g_free);
  status->changed_at = status->last_success;
  g_signal_emit (self, signals[SIGNAL_STATUS_CHANGED], 0);
}

/**
 * prd_integration_redact:
 * @text: what the service said, or a message quoting it
 *
 * @text with every secret the integration was set up with replaced by
 * `[redacted]`, in every spelling prd_redact() knows.
 *
 * Returns: (transfer full): the text
 */
char *
prd_integration_redact (PrdIntegration *self, const char *text)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION (self), NULL);
  g_return_val_if_fail (text != NULL, NULL);

  return prd_redact_all (text, get_status (self)->secrets);
}

/* What a service or remote said, as logs, statuses and D-Bus show it:
 * its secrets redacted (before the cut, so that no part of one stays),
 * valid UTF-8 without control characters (a remote's text could forge a
 * log line, and D-Bus refuses invalid UTF-8), at most MESSAGE_MAX
 * characters. */
#define MESSAGE_MAX 1024

static char *
clean_message (PrdIntegration *self, const char *text)
{
  g_autofree char *redacted = prd_integration_redact (self, text);
  g_autofree char *cut = prd_error_truncate_message (redacted, MESSAGE_MAX);
  GString *out = g_string_sized_new (strlen (cut));

  for (const char *p = cut; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
        g_string_append_c (out, ' ');
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
    }
  return g_string_free (out, FALSE);
}

static gboolean
is_cancelled (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
         g_error_matches (error, PRD_ERROR, PRD_ERROR_CANCELLED);
}

/* @message: a clean_message() */
static void
report_failure_message (PrdIntegration *self, char *message)
{
  g_autofree char *owned = message;
  Status *status = get_status (self);

  if (status->status == PRD_INTEGRATION_ERROR && g_strcmp0 (status->last_error, owned) == 0)
    return;
  status->status = PRD_INTEGRATION_ERROR;
  g_free (status->last_error);
  status->last_error = g_steal_pointer (&owned);
  status->changed_at = g_get_real_time ();
  g_signal_emit (self, signals[SIGNAL_STATUS_CHANGED], 0);
}

void
prd_integration_report_failure (PrdIntegration *self, const GError *error)
{
  g_return_if_fail (PRD_IS_INTEGRATION (self));
  g_return_if_fail (error != NULL);

  /* A call the hub cancelled (shutdown) says nothing about the service. */
  if (!is_cancelled (error))
    report_failure_message (self, clean_message (self, error->message));
}

/* Whether a background call of kind @what that said @message (%NULL: a
 * success) is news, and remembers it: a failure unlike the last one
 * announced of its kind, or a success after a failure (before any was
 * announced, while the status says error). */
static gboolean
background_news (PrdIntegration *self, const char *what, const char *message)
{
  Status *status = get_status (self);
  const char *last;
  gboolean news;

  if (status->background == NULL)
    status->background = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  last = g_hash_table_lookup (status->background, what);
  if (message != NULL)
    news = g_strcmp0 (last, message) != 0;
  else
    news = last != NULL ? *last != '\0' : status->status == PRD_INTEGRATION_ERROR;
  g_hash_table_replace (status->background, g_strdup (what),
                        g_strdup (message != NULL ? message : ""));
  return news;
}

/* Logs a call and emits "call-finished" (for a call in the background,
 * only when background_news()); returns the failure's cleaned message for
 * the status (%NULL on success, or when cancelled). */
static char *
log_call (PrdIntegration *self, const char *what, const GError *error, gboolean background)
{
  g_autofree char *message = NULL;
  const char *service = prd_integration_get_service (self);
  const char *org = get_status (self)->org;

  if (error == NULL)
    {
      prd_log_integration_call (service, org, what, PRD_LOG_CALL_OK, NULL);
      if (!background || background_news (self, what, NULL))
        g_signal_emit (self, signals[SIGNAL_CALL_FINISHED], 0, what, TRUE, NULL);
      return NULL;
    }
  message = clean_message (self, error->message);
  if (is_cancelled (error))
    {
      prd_log_integration_call (service, org, what, PRD_LOG_CALL_CANCELLED, message);
      return NULL;
    }
  prd_log_integration_call (service, org, what, PRD_LOG_CALL_FAILED, message);
  if (!background || background_news (self, what, message))
    g_signal_emit (self, signals[SIGNAL_CALL_FINISHED], 0, what, FALSE, message);
  return g_steal_pointer (&message);
}

/**
 * prd_integration_report_call:
 * @what: what the call did, in words
 * @error: (nullable): why it failed; %NULL when it succeeded
 *
 * Logs a call and its outcome (prd_log_integration_call(): info level, a
 * failure as a message, shown from the warning level up), emits
 * "call-finished" and updates the status. A cancelled call (shutdown) is
 * only logged.
 */
void
prd_integration_report_call (PrdIntegration *self, const char *what, const GError *error)
{
  char *message;

  g_return_if_fail (PRD_IS_INTEGRATION (self));

  message = log_call (self, what, error, FALSE);
  if (error == NULL)
    prd_integration_report_success (self);
  else if (message != NULL)
    report_failure_message (self, message);
}

/**
 * prd_integration_log_call:
 *
 * prd_integration_report_call() without the status: for a background read
 * that is part of a larger operation whose end decides it (a Craft.io
 * poll). It is always logged; it emits "call-finished" only when its
 * outcome is news for its kind (@what): a failure whose message differs
 * from the last one announced of that kind, or a success after an
 * announced failure (or, before any, while the status is
 * %PRD_INTEGRATION_ERROR: the service answering again). A poll every few
 * minutes that reads nothing new is not activity: announcing each one
 * filled an idle organization's activity feed with a row per poll, and,
 * with the feed's bound, an outage of a few days replaced everything else
 * in it with the same failure.
 */
void
prd_integration_log_call (PrdIntegration *self, const char *what, const GError *error)
{
  g_return_if_fail (PRD_IS_INTEGRATION (self));

  g_free (log_call (self, what, error, TRUE));
}

/**
 * prd_integration_return_check:
 * @task: the connection check's task (its callback gets a boolean)
 * @error: (transfer full) (nullable): why the check failed, as the hub
 *   reports it; %NULL when it succeeded
 *
 * Ends a connection check: reports it as the call "connection check" (see
 * prd_integration_report_call()) and returns %TRUE or @error through @task.
 */
void
prd_integration_return_check (PrdIntegration *self, GTask *task, GError *error)
{
  g_return_if_fail (PRD_IS_INTEGRATION (self));
  g_return_if_fail (G_IS_TASK (task));

  prd_integration_report_call (self, "connection check", error);
  if (error != NULL)
    {
      char *redacted = prd_integration_redact (self, error->message);

      g_free (error->message);
      error->message = redacted;
      g_task_return_error (task, error);
    }
  else
    g_task_return_boolean (task, TRUE);
}

/* Carries the status of a replaced instance over (no signal). */
void
prd_integration_restore_status (PrdIntegration *self,
                                PrdIntegrationStatus status_value,
                                const char *last_error,
                                gint64 changed_at,
                                gint64 last_success)
{
  Status *status;

  g_return_if_fail (PRD_IS_INTEGRATION (self));

  status = get_status (self);
  status->status = status_value;
  g_free (status->last_error);
  status->last_error = g_strdup (last_error);
  status->changed_at = changed_at;
  status->last_success = last_success;
}

/* ---- settings by schema ---- */

const PrdIntegrationKey *
prd_integration_schema_lookup (const PrdIntegrationKey *keys, gsize n_keys, const char *name)
{
  for (gsize i = 0; i < n_keys; i++)
    if (g_str_equal (keys[i].name, name))
      return &keys[i];
  return NULL;
}

static gboolean
bad_key (const PrdIntegrationKey *key, const char *name, GError **error, const char *format, ...)
    G_GNUC_PRINTF (4, 5);

static gboolean
bad_key (const PrdIntegrationKey *key, const char *name, GError **error, const char *format, ...)
{
  g_autofree char *what = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "Setting \"%s\": %s",
               key != NULL ? key->name : name, what);
  return FALSE;
}

static gboolean
check_url (const PrdIntegrationKey *key, const char *text, GError **error)
{
  g_autoptr (GUri) uri = NULL;
  const char *scheme;

  uri = g_uri_parse (text, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL)
    return bad_key (key, NULL, error, "not a URL");
  scheme = g_uri_get_scheme (uri);
  if (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0)
    return bad_key (key, NULL, error, "only http and https URLs are allowed");
  if (g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    return bad_key (key, NULL, error, "the URL has no host");
  if (g_uri_get_userinfo (uri) != NULL)
    return bad_key (key, NULL, error, "credentials belong in the secret settings, not the URL");
  if (g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL)
    return bad_key (key, NULL, error, "the URL may not have a query or a fragment");
  return TRUE;
}

static gboolean
check_text (const PrdIntegrationKey *key, const char *text, GError **error)
{
  glong chars;

  if (!g_utf8_validate (text, -1, NULL))
    return bad_key (key, NULL, error, "not valid UTF-8");
  chars = g_utf8_strlen (text, -1);
  if (chars > key->max)
    return bad_key (key, NULL, error, "at most %" G_GINT64_FORMAT " characters", key->max);
  for (const char *p = text; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      return bad_key (key, NULL, error, "control characters are not allowed");
  if (key->required && *text == '\0')
    return bad_key (key, NULL, error, "may not be empty");
  return TRUE;
}

/* Checks one value against its key: @node is a string or, for INT, a number. */
static gboolean
check_value (const PrdIntegrationKey *key, JsonNode *node, GError **error)
{
  GType type = JSON_NODE_HOLDS_VALUE (node) ? json_node_get_value_type (node) : G_TYPE_INVALID;

  if (key->type == PRD_INTEGRATION_KEY_LIST)
    {
      JsonArray *array;

      if (!JSON_NODE_HOLDS_ARRAY (node))
        return bad_key (key, NULL, error, "must be a list");
      array = json_node_get_array (node);
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *element = json_array_get_element (array, i);
          const char *text;

          if (!JSON_NODE_HOLDS_VALUE (element) ||
              json_node_get_value_type (element) != G_TYPE_STRING ||
              !g_strv_contains (key->choices, (text = json_node_get_string (element))))
            {
              g_autofree char *list = g_strjoinv (", ", (char **) key->choices);

              return bad_key (key, NULL, error, "each entry must be one of %s", list);
            }
          for (guint j = 0; j < i; j++)
            if (g_str_equal (json_array_get_string_element (array, j), text))
              return bad_key (key, NULL, error, "\"%s\" is listed twice", text);
        }
      return TRUE;
    }
  if (key->type == PRD_INTEGRATION_KEY_INT)
    {
      gint64 value;

      if (type != G_TYPE_INT64)
        return bad_key (key, NULL, error, "must be an integer");
      value = json_node_get_int (node);
      if (value < key->min || value > key->max)
        return bad_key (key, NULL, error, "must be from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT,
                        key->min, key->max);
      return TRUE;
    }
  if (type != G_TYPE_STRING)
    return bad_key (key, NULL, error, "must be a string");
  if (!check_text (key, json_node_get_string (node), error))
    return FALSE;
  switch (key->type)
    {
      case PRD_INTEGRATION_KEY_URL:
        return check_url (key, json_node_get_string (node), error);
      case PRD_INTEGRATION_KEY_CHOICE:
        if (!g_strv_contains (key->choices, json_node_get_string (node)))
          {
            g_autofree char *list = g_strjoinv (", ", (char **) key->choices);

            return bad_key (key, NULL, error, "must be one of %s", list);
          }
        return TRUE;
      case PRD_INTEGRATION_KEY_STRING:
      case PRD_INTEGRATION_KEY_INT:
      default:
        return TRUE;
    }
}

/**
 * prd_integration_schema_parse_value:
 * @text: a value as typed on the command line
 * @out: (out): the JSON value it stands for
 *
 * For INT keys the decimal text becomes a number; every other key keeps
 * the text. The value is checked against the key.
 */
gboolean
prd_integration_schema_parse_value (const PrdIntegrationKey *key,
                                    const char *text,
                                    JsonNode **out,
                                    GError **error)
{
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_VALUE);

  if (key->type == PRD_INTEGRATION_KEY_LIST)
    {
      g_auto (GStrv) parts = g_strsplit (text, ",", -1);
      JsonArray *array = json_array_new ();

      g_clear_pointer (&node, json_node_unref);
      node = json_node_new (JSON_NODE_ARRAY);
      json_node_take_array (node, array);
      for (guint i = 0; parts[i] != NULL; i++)
        {
          const char *part = g_strstrip (parts[i]);

          if (*part == '\0' && parts[1] == NULL)
            break;
          json_array_add_string_element (array, part);
        }
    }
  else if (key->type == PRD_INTEGRATION_KEY_INT)
    {
      gint64 value;

      if (!g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, &value, NULL))
        return bad_key (key, NULL, error, "must be an integer");
      json_node_set_int (node, value);
    }
  else
    json_node_set_string (node, text);
  if (!check_value (key, node, error))
    return FALSE;
  *out = g_steal_pointer (&node);
  return TRUE;
}

/**
 * prd_integration_schema_apply:
 * @current: (nullable): the settings kept now (non-secret keys only)
 * @input: the keys to set; a secret key with a string value sets the
 *   secret, an empty string or null removes it; a null value resets a
 *   non-secret key to its default
 * @replace: forget every non-secret key of @current that @input omits
 * @out_settings: (out): the resulting non-secret settings, defaults not
 *   applied (only what was set)
 * @out_secrets: (out) (element-type utf8 utf8): the secrets @input sets
 *   (value "" for those it removes)
 * @out_bad_key: (out) (optional) (nullable): the key that was refused
 *
 * Returns: %FALSE with @error (INVALID_PAYLOAD, naming the key) when a key
 *   is unknown or a value is wrong; nothing is produced then
 */
gboolean
prd_integration_schema_apply (const PrdIntegrationKey *keys,
                              gsize n_keys,
                              JsonObject *current,
                              JsonObject *input,
                              gboolean replace,
                              JsonObject **out_settings,
                              GHashTable **out_secrets,
                              char **out_bad_key,
                              GError **error)
{
  g_autoptr (JsonObject) settings = json_object_new ();
  g_autoptr (GHashTable) secrets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  JsonObjectIter iter;
  const char *name;
  JsonNode *node;

  if (current != NULL && !replace)
    {
      json_object_iter_init (&iter, current);
      while (json_object_iter_next (&iter, &name, &node))
        {
          const PrdIntegrationKey *key = prd_integration_schema_lookup (keys, n_keys, name);

          if (key != NULL && !key->secret)
            json_object_set_member (settings, name, json_node_copy (node));
        }
    }

  json_object_iter_init (&iter, input);
  while (json_object_iter_next (&iter, &name, &node))
    {
      const PrdIntegrationKey *key = prd_integration_schema_lookup (keys, n_keys, name);

      if (out_bad_key != NULL)
        {
          g_free (*out_bad_key);
          *out_bad_key = g_strdup (name);
        }
      if (key == NULL)
        {
          g_autofree char *valid = NULL;
          g_autoptr (GPtrArray) names = g_ptr_array_new ();

          for (gsize i = 0; i < n_keys; i++)
            g_ptr_array_add (names, (gpointer) keys[i].name);
          g_ptr_array_add (names, NULL);
          valid = g_strjoinv (", ", (char **) names->pdata);
          return bad_key (NULL, name, error, "unknown key (known: %s)", valid);
        }
      if (JSON_NODE_HOLDS_NULL (node))
        {
          if (key->secret)
            g_hash_table_replace (secrets, g_strdup (name), g_strdup (""));
          else
            json_object_remove_member (settings, name);
          continue;
        }
      if (key->secret)
        {
          const char *value;

          if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
            return bad_key (key, NULL, error, "must be a string");
          value = json_node_get_string (node);
          if (strlen (value) > (gsize) key->max || !g_utf8_validate (value, -1, NULL))
            return bad_key (key, NULL, error, "at most %" G_GINT64_FORMAT " bytes of UTF-8",
                            key->max);
          /* A secret address (a webhook URL) is checked like any other;
           * the messages never show the value. */
          if (key->type == PRD_INTEGRATION_KEY_URL && *value != '\0' &&
              (!check_text (key, value, error) || !check_url (key, value, error)))
            return FALSE;
          g_hash_table_replace (secrets, g_strdup (name), g_strdup (value));
          continue;
        }
      if (!check_value (key, node, error))
        return FALSE;
      json_object_set_member (settings, name, json_node_copy (node));
    }
  if (out_bad_key != NULL)
    g_clear_pointer (out_bad_key, g_free);
  *out_settings = g_steal_pointer (&settings);
  *out_secrets = g_steal_pointer (&secrets);
  return TRUE;
}

/**
 * prd_integration_secret_name:
 *
 * Returns: the name under which @key of @service for @org is kept in the
 *   secret store: `integration.<service>.<digest of org>.<key, lower case>`
 *   (secret names are lower case; organization ids need not be)
 */
char *
prd_integration_secret_name (const char *service, const char *org, const char *key)
{
  g_autofree char *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, org, -1);
  g_autofree char *lower = g_ascii_strdown (key, -1);

  digest[16] = '\0';
  return g_strdup_printf ("integration.%s.%s.%s", service, digest, lower);
}

/**
 * prd_integration_json_text:
 * @node: (nullable): a JSON value
 *
 * Returns: (nullable): @node's text when it is a string; %NULL when it is
 *   missing or of any other type
 */
const char *
prd_integration_json_text (JsonNode *node)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/**
 * prd_integration_settings_get_string:
 *
 * Returns: (nullable): the setting @name of @settings when it is a string;
 *   %NULL when it is missing or of any other type
 */
const char *
prd_integration_settings_get_string (JsonObject *settings, const char *name)
{
  return prd_integration_json_text (json_object_get_member (settings, name));
}
