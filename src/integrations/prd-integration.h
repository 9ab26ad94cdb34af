/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

#include "prd-integration-http.h"

G_BEGIN_DECLS

/**
 * PrdIntegrationStatus:
 * @PRD_INTEGRATION_DISCONNECTED: configured, not tested or used since
 * @PRD_INTEGRATION_CONNECTED: the last call to the service succeeded
 * @PRD_INTEGRATION_ERROR: the last call failed (see the last error)
 */
typedef enum
{
  PRD_INTEGRATION_DISCONNECTED,
  PRD_INTEGRATION_CONNECTED,
  PRD_INTEGRATION_ERROR,
} PrdIntegrationStatus;

const char *prd_integration_status_to_string (PrdIntegrationStatus status);

/**
 * PrdIntegrationKeyType:
 * @PRD_INTEGRATION_KEY_STRING: text of at most `max` characters
 * @PRD_INTEGRATION_KEY_URL: an absolute http or https URL without user
 *   info, query or fragment (a secret one too, checked when it is written;
 *   the empty text removes a secret)
 * @PRD_INTEGRATION_KEY_CHOICE: one of `choices`
 * @PRD_INTEGRATION_KEY_INT: an integer from `min` to `max` (a JSON number,
 *   or its decimal text from the command line)
 * @PRD_INTEGRATION_KEY_LIST: a JSON array of distinct `choices` (or their
 *   comma-separated text from the command line; empty text: none)
 */
typedef enum
{
  PRD_INTEGRATION_KEY_STRING,
  PRD_INTEGRATION_KEY_URL,
  PRD_INTEGRATION_KEY_CHOICE,
  PRD_INTEGRATION_KEY_INT,
  PRD_INTEGRATION_KEY_LIST,
} PrdIntegrationKeyType;

/**
 * PrdIntegrationKey:
 * @name: the key (camelCase, as in the REST body)
 * @type: what it holds
 * @secret: kept in the secret store, write-only
 * @required: a configuration without it is incomplete
 * @default_value: (nullable): the value when unset (its text)
 * @choices: (nullable) (array zero-terminated=1): for CHOICE and LIST
 * @min: for INT
 * @max: for INT; the longest text otherwise
 * @sent_to: (nullable): for a secret the integration sends to the service
 *   (a token, a key), the key that says where to. Changing where is refused
 *   unless the secret is given again with it: a stored secret never goes
 *   to an address it was not given for.
 *
 * One row of a service's settings schema.
 */
typedef struct
{
  const char *name;
  PrdIntegrationKeyType type;
  gboolean secret;
  gboolean required;
  const char *default_value;
  const char *const *choices;
  gint64 min;
  gint64 max;
  const char *sent_to;
} PrdIntegrationKey;

#define PRD_TYPE_INTEGRATION (prd_integration_get_type ())

G_DECLARE_INTERFACE (PrdIntegration, prd_integration, PRD, INTEGRATION, GObject)

/**
 * PrdIntegrationInterface:
 * @get_service: the service's name (`jira`)
 * @get_schema: its settings schema
 * @check_settings: checks across keys, after each key was checked alone
 *   (@settings holds every non-secret key with its default applied,
 *   @secrets_set the names of the secrets stored)
 * @setup: takes the organization's settings and secrets; called once,
 *   right after construction
 * @test_async: the connection check
 */
struct _PrdIntegrationInterface
{
  GTypeInterface parent_iface;

  const char *(*get_service) (PrdIntegration *self);
  const PrdIntegrationKey *(*get_schema) (PrdIntegration *self, gsize *n_keys);
  gboolean (*check_settings) (PrdIntegration *self,
                              JsonObject *settings,
                              GHashTable *secrets_set,
                              GError **error);
  gboolean (*setup) (PrdIntegration *self,
                     const char *org,
                     JsonObject *settings,
                     GHashTable *secrets,
                     PrdIntegrationHttp *http,
                     GError **error);
  void (*test_async) (PrdIntegration *self,
                      GCancellable *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer user_data);
  gboolean (*test_finish) (PrdIntegration *self, GAsyncResult *result, GError **error);
};

const char *prd_integration_get_service (PrdIntegration *self);
const PrdIntegrationKey *prd_integration_get_schema (PrdIntegration *self, gsize *n_keys);
gboolean prd_integration_check_settings (PrdIntegration *self,
                                         JsonObject *settings,
                                         GHashTable *secrets_set,
                                         GError **error);
gboolean prd_integration_setup (PrdIntegration *self,
                                const char *org,
                                JsonObject *settings,
                                GHashTable *secrets,
                                PrdIntegrationHttp *http,
                                GError **error);
void prd_integration_test_async (PrdIntegration *self,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
gboolean prd_integration_test_finish (PrdIntegration *self, GAsyncResult *result, GError **error);

/* The status every integration keeps (set by the integration as its calls
 * end; "status-changed" is emitted when the status or the error changes). */
PrdIntegrationStatus prd_integration_get_status (PrdIntegration *self);
const char *prd_integration_get_last_error (PrdIntegration *self);
gint64 prd_integration_get_changed_at (PrdIntegration *self);
gint64 prd_integration_get_last_success (PrdIntegration *self);
void prd_integration_report_success (PrdIntegration *self);
void prd_integration_report_failure (PrdIntegration *self, const GError *error);
void prd_integration_report_call (PrdIntegration *self, const char *what, const GError *error);
void prd_integration_log_call (PrdIntegration *self, const char *what, const GError *error);
char *prd_integration_redact (PrdIntegration *self, const char *text);
void prd_integration_restore_status (PrdIntegration *self,
                                     PrdIntegrationStatus status,
                                     const char *last_error,
                                     gint64 changed_at,
                                     gint64 last_success);
void prd_integration_return_check (PrdIntegration *self, GTask *task, GError *error);

/* ---- settings by schema ---- */

gboolean prd_integration_schema_apply (const PrdIntegrationKey *keys,
                                       gsize n_keys,
                                       JsonObject *current,
                                       JsonObject *input,
                                       gboolean replace,
                                       JsonObject **out_settings,
                                       GHashTable **out_secrets,
                                       char **out_bad_key,
                                       GError **error);
gboolean prd_integration_schema_parse_value (const PrdIntegrationKey *key,
                                             const char *text,
                                             JsonNode **out,
                                             GError **error);
const PrdIntegrationKey *
prd_integration_schema_lookup (const PrdIntegrationKey *keys, gsize n_keys, const char *name);
char *prd_integration_secret_name (const char *service, const char *org, const char *key);
const char *prd_integration_json_text (JsonNode *node);
const char *prd_integration_settings_get_string (JsonObject *settings, const char *name);

G_END_DECLS
