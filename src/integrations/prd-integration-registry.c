/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdIntegrationRegistry: the services the hub offers (registered by
 * prd-hub.c, one #PrdIntegration type each) and their configuration per
 * organization: non-secret settings in the #PrdIntegrationStore (SQLite),
 * secrets in the #PrdSecretStore, never the other way round.
 *
 * Settings are read again before every use (a listing, a test, a sync, a
 * webhook): what `prdhub integration set` wrote into the data folder
 * applies to a running hub from its next use, without a restart or a
 * signal. An integration object (with its HTTP client) is kept while its
 * settings and secrets stay the same, so its status lives on between uses;
 * changed settings give a fresh object, "disconnected" until it is used.
 *
 * Secret values are looked up only to set up an integration. Once one is
 * set up (or refused), the registry remembers which secrets were set and a
 * digest of the values, never the values, for as long as the stored
 * settings row stays the same (its text and its time: every write, the
 * hub's or the command line's, gives it a new time). A use whose settings
 * row is unchanged reuses the integration without asking the secret store,
 * which (libsecret) keeps memory per lookup and holds each value in the
 * process for a while; a secret written or removed through a registry
 * forgets what was remembered.
 *
 * The registry forwards every integration's "status-changed" and
 * "call-finished" with the organization and service, for the hub to
 * announce.
 *
 * An integration whose settings are removed or replaced is retired: every
 * call of its HTTP client, under way or to come, is cancelled, and
 * "integration-retired" tells the features, which end the work they do
 * with it (a Jira sync) without writing anything more. A configuration read
 * that was under way when an integration was retired is read again, so
 * that it never brings back what was removed.
 */
#define G_LOG_DOMAIN "prd-integration"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-json.h"
#include "prd-time.h"

#include "prd-integration-registry.h"

typedef struct
{
  GType type;
  char *name;
  const PrdIntegrationKey *keys;
  gsize n_keys;
} Service;

typedef struct
{
  PrdIntegration *integration; /* (owned) */
  PrdIntegrationHttp *http;    /* (owned) */
  char *fingerprint;
} Cached;

/* What the last full read of a service's configuration saw, without a
 * secret value: it stands for that read while the settings row is the same. */
typedef struct
{
  char *settings;    /* the stored settings text */
  gint64 updated_at; /* the row's time */
  GStrv secrets_set; /* the secret keys that were set */
  char *fingerprint; /* a digest of the settings and the secret values */
  char *problem;     /* (nullable): why the integration could not be set up */
} Known;

struct _PrdIntegrationRegistry
{
  GObject parent_instance;

  PrdIntegrationStore *store; /* (owned) */
  PrdSecretStore *secrets;    /* (owned) */
  GPtrArray *services;        /* (element-type Service) */
  GHashTable *cache;          /* "org\nservice" → Cached */
  GHashTable *known;          /* "org\nservice" → Known */
  GPtrArray *clients;         /* (element-type PrdIntegrationHttp) every client made, weakly */
  GCancellable *cancellable;  /* (owned): cancelled on shutdown */
  GHashTable *retirements; /* "org\nservice" → how often it was retired (a pointer-sized count):
                            * a read of it that saw one starts over */
};

enum
{
  SIGNAL_STATUS_CHANGED,
  SIGNAL_CALL_FINISHED,
  SIGNAL_INTEGRATION_RETIRED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PrdIntegrationRegistry, prd_integration_registry, G_TYPE_OBJECT)

static void
service_free (Service *service)
{
  g_free (service->name);
  g_free (service);
}

static void
on_client_finalized (gpointer user_data, GObject *where)
{
  PrdIntegrationRegistry *self = user_data;

  g_ptr_array_remove_fast (self->clients, where);
}

static void
cached_free (Cached *cached)
{
  g_signal_handlers_disconnect_matched (cached->integration, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL,
                                        cached);
  g_clear_object (&cached->integration);
  g_clear_object (&cached->http);
  g_free (cached->fingerprint);
  g_free (cached);
}

static void
known_free (Known *known)
{
  g_free (known->settings);
  g_strfreev (known->secrets_set);
  g_free (known->fingerprint);
  g_free (known->problem);
  g_free (known);
}

static void
forget_known (PrdIntegrationRegistry *self, const char *org, const char *service)
{
  g_autofree char *key = g_strdup_printf ("%s\n%s", org, service);

  if (self->known != NULL)
    g_hash_table_remove (self->known, key);
}

void
prd_integration_entry_free (PrdIntegrationEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->org);
  g_free (entry->service);
  g_clear_pointer (&entry->settings, json_object_unref);
  g_clear_pointer (&entry->stored, json_object_unref);
  g_strfreev (entry->secrets_set);
  g_clear_object (&entry->integration);
  g_free (entry->problem);
  g_free (entry);
}

/**
 * prd_integration_entry_check_usable:
 * @type: the integration's type (%PRD_TYPE_INTEGRATION: any)
 * @missing: the message when the entry does not say why it cannot be used
 *
 * Returns: %TRUE when @entry holds a working integration of @type;
 *   otherwise %FALSE with %PRD_ERROR_INTEGRATION_NOT_CONFIGURED, whose
 *   message is the entry's problem, or @missing when it has none
 */
gboolean
prd_integration_entry_check_usable (const PrdIntegrationEntry *entry,
                                    GType type,
                                    const char *missing,
                                    GError **error)
{
  g_return_val_if_fail (entry != NULL, FALSE);

  if (entry->integration != NULL && G_TYPE_CHECK_INSTANCE_TYPE (entry->integration, type))
    return TRUE;
  g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INTEGRATION_NOT_CONFIGURED,
                       entry->problem != NULL ? entry->problem : missing);
  return FALSE;
}

static void
prd_integration_registry_dispose (GObject *object)
{
  PrdIntegrationRegistry *self = PRD_INTEGRATION_REGISTRY (object);

  prd_integration_registry_shutdown (self);
  g_clear_pointer (&self->cache, g_hash_table_unref);
  g_clear_pointer (&self->known, g_hash_table_unref);
  g_clear_pointer (&self->retirements, g_hash_table_unref);
  for (guint i = 0; self->clients != NULL && i < self->clients->len; i++)
    g_object_weak_unref (g_ptr_array_index (self->clients, i), on_client_finalized, self);
  g_clear_pointer (&self->clients, g_ptr_array_unref);
  g_clear_object (&self->store);
  g_clear_object (&self->secrets);
  G_OBJECT_CLASS (prd_integration_registry_parent_class)->dispose (object);
}

static void
prd_integration_registry_finalize (GObject *object)
{
  PrdIntegrationRegistry *self = PRD_INTEGRATION_REGISTRY (object);

  g_ptr_array_unref (self->services);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (prd_integration_registry_parent_class)->finalize (object);
}

static void
prd_integration_registry_class_init (PrdIntegrationRegistryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = prd_integration_registry_dispose;
  object_class->finalize = prd_integration_registry_finalize;

  /**
   * PrdIntegrationRegistry::status-changed:
   * @org: the organization
   * @service: the service
   * @integration: the integration, with its new status
   */
  signals[SIGNAL_STATUS_CHANGED] =
      g_signal_new ("status-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, PRD_TYPE_INTEGRATION);

  /**
   * PrdIntegrationRegistry::call-finished:
   * @org: the organization
   * @service: the service
   * @what: what the call did
   * @ok: whether it succeeded
   * @message: (nullable): why not
   */
  signals[SIGNAL_CALL_FINISHED] = g_signal_new (
      "call-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 5, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_BOOLEAN, G_TYPE_STRING);

  /**
   * PrdIntegrationRegistry::integration-retired:
   * @org: the organization
   * @service: the service
   *
   * The service's settings for @org are being removed, or were replaced:
   * the integration handed out before is retired and its calls are
   * cancelled. A feature ends what it does with that integration and
   * writes nothing more for it (an entry read from now on is a new one).
   */
  signals[SIGNAL_INTEGRATION_RETIRED] =
      g_signal_new ("integration-retired", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
}

static void
prd_integration_registry_init (PrdIntegrationRegistry *self)
{
  self->services = g_ptr_array_new_with_free_func ((GDestroyNotify) service_free);
  self->cache =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) cached_free);
  self->known =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) known_free);
  self->retirements = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->clients = g_ptr_array_new ();
  self->cancellable = g_cancellable_new ();
}

PrdIntegrationRegistry *
prd_integration_registry_new (PrdIntegrationStore *store, PrdSecretStore *secrets)
{
  PrdIntegrationRegistry *self;

  g_return_val_if_fail (PRD_IS_INTEGRATION_STORE (store), NULL);
  g_return_val_if_fail (PRD_IS_SECRET_STORE (secrets), NULL);

  self = g_object_new (PRD_TYPE_INTEGRATION_REGISTRY, NULL);
  self->store = g_object_ref (store);
  self->secrets = g_object_ref (secrets);
  return self;
}

/**
 * prd_integration_registry_add_service:
 * @type: a type implementing #PrdIntegration
 *
 * Offers a service. Its name and schema come from a throwaway instance.
 */
void
prd_integration_registry_add_service (PrdIntegrationRegistry *self, GType type)
{
  g_autoptr (GObject) probe = NULL;
  Service *service;

  g_return_if_fail (PRD_IS_INTEGRATION_REGISTRY (self));
  g_return_if_fail (g_type_is_a (type, PRD_TYPE_INTEGRATION));

  probe = g_object_new (type, NULL);
  service = g_new0 (Service, 1);
  service->type = type;
  service->name = g_strdup (prd_integration_get_service (PRD_INTEGRATION (probe)));
  /* The schema is static data of the type. */
  service->keys = prd_integration_get_schema (PRD_INTEGRATION (probe), &service->n_keys);
  g_return_if_fail (!prd_integration_registry_has_service (self, service->name));
  g_ptr_array_add (self->services, service);
}

static Service *
find_service (PrdIntegrationRegistry *self, const char *name)
{
  for (guint i = 0; i < self->services->len; i++)
    {
      Service *service = g_ptr_array_index (self->services, i);

      if (g_str_equal (service->name, name))
        return service;
    }
  return NULL;
}

gboolean
prd_integration_registry_has_service (PrdIntegrationRegistry *self, const char *service)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION_REGISTRY (self), FALSE);

  return service != NULL && find_service (self, service) != NULL;
}

const PrdIntegrationKey *
prd_integration_registry_get_schema (PrdIntegrationRegistry *self,
                                     const char *service,
                                     gsize *n_keys)
{
  Service *found;

  g_return_val_if_fail (PRD_IS_INTEGRATION_REGISTRY (self), NULL);

  found = find_service (self, service);
  if (found == NULL)
    return NULL;
  *n_keys = found->n_keys;
  return found->keys;
}

GStrv
prd_integration_registry_list_services (PrdIntegrationRegistry *self)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  g_return_val_if_fail (PRD_IS_INTEGRATION_REGISTRY (self), NULL);

  for (guint i = 0; i < self->services->len; i++)
    g_strv_builder_add (builder, ((Service *) g_ptr_array_index (self->services, i))->name);
  return g_strv_builder_end (builder);
}

PrdIntegrationStore *
prd_integration_registry_get_store (PrdIntegrationRegistry *self)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION_REGISTRY (self), NULL);

  return self->store;
}

/* Cancels every call of every integration, now and from now on. */
void
prd_integration_registry_shutdown (PrdIntegrationRegistry *self)
{
  g_return_if_fail (PRD_IS_INTEGRATION_REGISTRY (self));

  g_cancellable_cancel (self->cancellable);
  for (guint i = 0; self->clients != NULL && i < self->clients->len; i++)
    prd_integration_http_shutdown (g_ptr_array_index (self->clients, i));
}

/* The integration of @service for @org (if one was made) calls no more:
 * its calls under way and to come are cancelled, the features hear of it,
 * and reads under way start over. */
static guintptr
retirements_of (PrdIntegrationRegistry *self, const char *org, const char *service)
{
  g_autofree char *key = g_strdup_printf ("%s\n%s", org, service);

  return self->retirements != NULL ? GPOINTER_TO_SIZE (g_hash_table_lookup (self->retirements, key))
                                   : 0;
}

static void
retire (PrdIntegrationRegistry *self, const char *org, const char *service)
{
  g_autofree char *cache_key = g_strdup_printf ("%s\n%s", org, service);
  Cached *cached = g_hash_table_lookup (self->cache, cache_key);

  /* Only reads of this organization's service start over: another
   * organization's removals never hold up its reads. */
  g_hash_table_insert (self->retirements, g_strdup (cache_key),
                       GSIZE_TO_POINTER (retirements_of (self, org, service) + 1));
  g_hash_table_remove (self->known, cache_key);
  if (cached != NULL)
    {
      g_info ("%s (%s): settings removed or replaced; its calls under way are cancelled", service,
              org);
      prd_integration_http_shutdown (cached->http);
      g_hash_table_remove (self->cache, cache_key);
    }
  g_signal_emit (self, signals[SIGNAL_INTEGRATION_RETIRED], 0, org, service);
}

static gboolean
check_service (PrdIntegrationRegistry *self, const char *org, const char *service, GError **error)
{
  if (!prd_integration_store_check_org (org, error))
    return FALSE;
  if (find_service (self, service) == NULL)
    {
      g_autofree char *known = NULL;
      g_auto (GStrv) names = prd_integration_registry_list_services (self);

      known = g_strjoinv (", ", names);
      g_set_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND, "No integration service \"%s\" (%s)",
                   service, known);
      return FALSE;
    }
  return TRUE;
}

/* ---- reading one service's configuration ---- */

typedef struct
{
  Service *service;
  char *org;
  PrdIntegrationSettingsRecord *record; /* (nullable) */
  GHashTable *secrets;                  /* key → value */
  Known *known; /* (nullable) (unowned): stands for the secrets, none were looked up */
  gsize next_key;
  guintptr retirements; /* retirements_of() its org and service when the read started */
} Read;

static void
read_free (Read *read)
{
  g_free (read->org);
  prd_integration_settings_record_free (read->record);
  g_hash_table_unref (read->secrets);
  g_free (read);
}

static void
clear_value (gpointer value)
{
  if (value != NULL)
    memset (value, 0, strlen (value));
  g_free (value);
}

static void
on_status_changed (PrdIntegration *integration, gpointer user_data)
{
  PrdIntegrationRegistry *self = g_object_get_data (G_OBJECT (integration), "prd-registry");
  const char *org = g_object_get_data (G_OBJECT (integration), "prd-org");

  if (self != NULL)
    g_signal_emit (self, signals[SIGNAL_STATUS_CHANGED], 0, org,
                   prd_integration_get_service (integration), integration);
}

static void
on_call_finished (PrdIntegration *integration,
                  const char *what,
                  gboolean ok,
                  const char *message,
                  gpointer user_data)
{
  PrdIntegrationRegistry *self = g_object_get_data (G_OBJECT (integration), "prd-registry");
  const char *org = g_object_get_data (G_OBJECT (integration), "prd-org");

  if (self != NULL)
    g_signal_emit (self, signals[SIGNAL_CALL_FINISHED], 0, org,
                   prd_integration_get_service (integration), what, ok, message);
}

static JsonObject *
with_defaults (Service *service, JsonObject *stored)
{
  JsonObject *settings = json_object_new ();

  for (gsize i = 0; i < service->n_keys; i++)
    {
      const PrdIntegrationKey *key = &service->keys[i];
      JsonNode *value = stored != NULL ? json_object_get_member (stored, key->name) : NULL;

      if (key->secret)
        continue;
      if (value != NULL)
        json_object_set_member (settings, key->name, json_node_copy (value));
      else if (key->default_value != NULL)
        {
          JsonNode *node = NULL;

          if (prd_integration_schema_parse_value (key, key->default_value, &node, NULL))
            json_object_set_member (settings, key->name, node);
        }
    }
  return settings;
}

/* A secret the integration sends to the service and that is stored goes
 * nowhere new: changing where it is sent needs it given again in the same
 * write (or removed). Otherwise an admin who cannot read a token back could
 * point the integration at a server of their own and receive it there. */
static gboolean
check_secrets_follow (Service *service,
                      JsonObject *stored,
                      JsonObject *complete,
                      GHashTable *given,
                      char **secrets_set,
                      char **bad_key,
                      GError **error)
{
  g_autoptr (JsonObject) before = with_defaults (service, stored);

  for (gsize i = 0; i < service->n_keys; i++)
    {
      const PrdIntegrationKey *key = &service->keys[i];
      const char *was, *will_be;

      if (key->sent_to == NULL || g_hash_table_contains (given, key->name) ||
          !g_strv_contains ((const char *const *) secrets_set, key->name))
        continue;
      was = prd_integration_settings_get_string (before, key->sent_to);
      will_be = prd_integration_settings_get_string (complete, key->sent_to);
      if (g_strcmp0 (was, will_be) == 0)
        continue;
      *bad_key = g_strdup (key->name);
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                   "Setting \"%s\": give it again with the new %s (a stored secret is never "
                   "sent to another address)",
                   key->name, key->sent_to);
      return FALSE;
    }
  return TRUE;
}

static JsonObject *
parse_stored (const char *text)
{
  g_autoptr (JsonNode) node = prd_json_parse (text, -1, PRD_INTEGRATION_STORE_MAX_SETTINGS, NULL);

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return json_object_new ();
  return json_object_ref (json_node_get_object (node));
}

/* Builds the entry from what was read, reusing the cached integration when
 * nothing changed. */
static PrdIntegrationEntry *
make_entry (PrdIntegrationRegistry *self, Read *read)
{
  PrdIntegrationEntry *entry = g_new0 (PrdIntegrationEntry, 1);
  g_autoptr (GStrvBuilder) set = g_strv_builder_new ();
  g_autoptr (JsonObject) stored = NULL;
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree char *cache_key = g_strdup_printf ("%s\n%s", read->org, read->service->name);
  g_autoptr (GError) error = NULL;
  Cached *cached;

  Known *known;
  const char *fingerprint;

  entry->org = g_strdup (read->org);
  entry->service = g_strdup (read->service->name);
  if (read->known != NULL)
    entry->secrets_set = g_strdupv (read->known->secrets_set);
  else
    {
      for (gsize i = 0; i < read->service->n_keys; i++)
        if (read->service->keys[i].secret &&
            g_hash_table_contains (read->secrets, read->service->keys[i].name))
          g_strv_builder_add (set, read->service->keys[i].name);
      entry->secrets_set = g_strv_builder_end (set);
    }
  cached = g_hash_table_lookup (self->cache, cache_key);
  if (read->record == NULL)
    {
      /* Removed behind the hub's back (the command line). */
      g_hash_table_remove (self->known, cache_key);
      if (cached != NULL)
        retire (self, read->org, read->service->name);
      return entry;
    }
  entry->configured = TRUE;
  entry->updated_at = read->record->updated_at;
  stored = parse_stored (read->record->settings);
  entry->settings = with_defaults (read->service, stored);
  entry->stored = json_object_ref (stored);

  if (read->known != NULL)
    {
      /* Unchanged since the read that set it up (or refused it). */
      if (read->known->problem != NULL)
        entry->problem = g_strdup (read->known->problem);
      else
        entry->integration = g_object_ref (cached->integration);
      return entry;
    }

  g_checksum_update (checksum, (const guchar *) read->record->settings, -1);
  for (gsize i = 0; i < read->service->n_keys; i++)
    {
      const char *value = g_hash_table_lookup (read->secrets, read->service->keys[i].name);

      g_checksum_update (checksum, (const guchar *) "\n", 1);
      if (value != NULL)
        g_checksum_update (checksum, (const guchar *) value, -1);
    }
  fingerprint = g_checksum_get_string (checksum);
  known = g_new0 (Known, 1);
  known->settings = g_strdup (read->record->settings);
  known->updated_at = read->record->updated_at;
  known->secrets_set = g_strdupv (entry->secrets_set);
  known->fingerprint = g_strdup (fingerprint);
  if (cached != NULL && g_str_equal (cached->fingerprint, fingerprint))
    {
      g_hash_table_replace (self->known, g_strdup (cache_key), known);
      entry->integration = g_object_ref (cached->integration);
      return entry;
    }
  /* Replaced: what was sent with the old settings stops. */
  if (cached != NULL)
    retire (self, read->org, read->service->name);

  {
    g_autoptr (PrdIntegration) integration = g_object_new (read->service->type, NULL);
    g_autoptr (PrdIntegrationHttp) http = prd_integration_http_new (read->service->name, read->org);
    g_autoptr (GHashTable) secret_names = g_hash_table_new (g_str_hash, g_str_equal);

    for (guint i = 0; entry->secrets_set[i] != NULL; i++)
      g_hash_table_add (secret_names, entry->secrets_set[i]);
    if (!prd_integration_check_settings (integration, entry->settings, secret_names, &error) ||
        !prd_integration_setup (integration, read->org, entry->settings, read->secrets, http,
                                &error))
      {
        entry->problem = g_strdup (error->message);
        known->problem = g_strdup (error->message);
        g_hash_table_replace (self->known, g_strdup (cache_key), known);
        return entry;
      }
    g_hash_table_replace (self->known, g_strdup (cache_key), known);
    g_object_set_data (G_OBJECT (integration), "prd-registry", self);
    g_object_set_data_full (G_OBJECT (integration), "prd-org", g_strdup (read->org), g_free);
    cached = g_new0 (Cached, 1);
    cached->integration = g_object_ref (integration);
    cached->http = g_object_ref (http);
    cached->fingerprint = g_strdup (fingerprint);
    g_signal_connect (integration, "status-changed", G_CALLBACK (on_status_changed), cached);
    g_signal_connect (integration, "call-finished", G_CALLBACK (on_call_finished), cached);
    g_ptr_array_add (self->clients, http);
    g_object_weak_ref (G_OBJECT (http), on_client_finalized, self);
    if (g_cancellable_is_cancelled (self->cancellable))
      prd_integration_http_shutdown (http);
    g_hash_table_replace (self->cache, g_steal_pointer (&cache_key), cached);
    entry->integration = g_steal_pointer (&integration);
  }
  return entry;
}

static void read_next_secret (GTask *task);
static void on_settings_listed (GObject *source, GAsyncResult *result, gpointer user_data);

/* What an earlier read saw, when it still holds for @read's settings row:
 * its integration is still the one kept (or it was refused and nothing was
 * kept since). */
static Known *
find_known (PrdIntegrationRegistry *self, Read *read)
{
  g_autofree char *key = NULL;
  Known *known;
  Cached *cached;

  if (read->record == NULL)
    return NULL;
  key = g_strdup_printf ("%s\n%s", read->org, read->service->name);
  known = g_hash_table_lookup (self->known, key);
  cached = g_hash_table_lookup (self->cache, key);
  if (known == NULL || known->updated_at != read->record->updated_at ||
      !g_str_equal (known->settings, read->record->settings))
    return NULL;
  if (known->problem != NULL
          ? cached != NULL
          : cached == NULL || !g_str_equal (cached->fingerprint, known->fingerprint))
    return NULL;
  return known;
}

static void
on_secret_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Read *read = g_task_get_task_data (task);
  const PrdIntegrationKey *key = &read->service->keys[read->next_key];
  g_autoptr (GError) error = NULL;
  char *value;

  value = prd_secret_store_lookup_finish (PRD_SECRET_STORE (source), result, &error);
  if (value == NULL && !g_error_matches (error, PRD_ERROR, PRD_ERROR_NOT_FOUND))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  if (value != NULL)
    g_hash_table_replace (read->secrets, g_strdup (key->name), value);
  read->next_key++;
  read_next_secret (task);
}

/* Takes over @task. */
static void
read_next_secret (GTask *task)
{
  PrdIntegrationRegistry *self = g_task_get_source_object (task);
  Read *read = g_task_get_task_data (task);

  if (read->next_key == 0 && (read->known = find_known (self, read)) != NULL)
    read->next_key = read->service->n_keys;
  while (read->next_key < read->service->n_keys && !read->service->keys[read->next_key].secret)
    read->next_key++;
  if (read->next_key < read->service->n_keys)
    {
      g_autofree char *name = prd_integration_secret_name (
          read->service->name, read->org, read->service->keys[read->next_key].name);

      prd_secret_store_lookup_async (self->secrets, name, g_task_get_cancellable (task),
                                     on_secret_read, task);
      return;
    }
  if (read->retirements != retirements_of (self, read->org, read->service->name))
    {
      /* The integration was retired meanwhile: what was read may be what
       * was removed. Read again. */
      read->retirements = retirements_of (self, read->org, read->service->name);
      read->next_key = 0;
      read->known = NULL;
      g_clear_pointer (&read->record, prd_integration_settings_record_free);
      g_hash_table_remove_all (read->secrets);
      prd_integration_store_list_settings_async (
          self->store, read->org, g_task_get_cancellable (task), on_settings_listed, task);
      return;
    }
  g_task_return_pointer (task, make_entry (self, read),
                         (GDestroyNotify) prd_integration_entry_free);
  g_object_unref (task);
}

static void
on_settings_listed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Read *read = g_task_get_task_data (task);
  g_autoptr (GPtrArray) records = NULL;
  GError *error = NULL;

  records =
      prd_integration_store_list_settings_finish (PRD_INTEGRATION_STORE (source), result, &error);
  if (records == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  for (guint i = 0; i < records->len; i++)
    {
      PrdIntegrationSettingsRecord *record = g_ptr_array_index (records, i);

      if (g_str_equal (record->service, read->service->name))
        read->record = prd_integration_settings_record_copy (record);
    }
  read_next_secret (task);
}

/**
 * prd_integration_registry_get_async:
 *
 * Reads one service's configuration for @org afresh (settings, which
 * secrets are set) and readies its integration. NOT_FOUND for a service
 * the hub does not offer; a service not configured is an entry with
 * `configured` %FALSE.
 */
void
prd_integration_registry_get_async (PrdIntegrationRegistry *self,
                                    const char *org,
                                    const char *service,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  GTask *task;
  GError *error = NULL;
  Read *read;

  g_return_if_fail (PRD_IS_INTEGRATION_REGISTRY (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_integration_registry_get_async);
  if (!check_service (self, org, service, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  read = g_new0 (Read, 1);
  read->service = find_service (self, service);
  read->org = g_strdup (org);
  read->secrets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, clear_value);
  read->retirements = retirements_of (self, org, read->service->name);
  g_task_set_task_data (task, read, (GDestroyNotify) read_free);
  prd_integration_store_list_settings_async (self->store, org, cancellable, on_settings_listed,
                                             task);
}

PrdIntegrationEntry *
prd_integration_registry_get_finish (PrdIntegrationRegistry *self,
                                     GAsyncResult *result,
                                     GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- listing ---- */

typedef struct
{
  GPtrArray *pairs;   /* (element-type utf8) org, service, org, service, … */
  GPtrArray *entries; /* (element-type PrdIntegrationEntry) */
  guint next;
} List;

static void
list_free (List *list)
{
  g_ptr_array_unref (list->pairs);
  g_ptr_array_unref (list->entries);
  g_free (list);
}

static void list_next (GTask *task);

static void
on_listed_one (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  List *list = g_task_get_task_data (task);
  GError *error = NULL;
  PrdIntegrationEntry *entry;

  entry = prd_integration_registry_get_finish (PRD_INTEGRATION_REGISTRY (source), result, &error);
  if (entry == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  g_ptr_array_add (list->entries, entry);
  list_next (task);
}

static void
list_next (GTask *task)
{
  PrdIntegrationRegistry *self = g_task_get_source_object (task);
  List *list = g_task_get_task_data (task);

  if (list->next + 1 < list->pairs->len)
    {
      const char *org = g_ptr_array_index (list->pairs, list->next);
      const char *service = g_ptr_array_index (list->pairs, list->next + 1);

      list->next += 2;
      prd_integration_registry_get_async (self, org, service, g_task_get_cancellable (task),
                                          on_listed_one, task);
      return;
    }
  g_task_return_pointer (task, g_ptr_array_ref (list->entries), (GDestroyNotify) g_ptr_array_unref);
  g_object_unref (task);
}

static void
on_list_settings (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  PrdIntegrationRegistry *self = g_task_get_source_object (task);
  List *list = g_task_get_task_data (task);
  g_autoptr (GPtrArray) records = NULL;
  GError *error = NULL;
  const char *org = g_object_get_data (G_OBJECT (task), "org");

  records =
      prd_integration_store_list_settings_finish (PRD_INTEGRATION_STORE (source), result, &error);
  if (records == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  if (org != NULL)
    for (guint i = 0; i < self->services->len; i++)
      {
        g_ptr_array_add (list->pairs, g_strdup (org));
        g_ptr_array_add (list->pairs,
                         g_strdup (((Service *) g_ptr_array_index (self->services, i))->name));
      }
  else
    for (guint i = 0; i < records->len; i++)
      {
        PrdIntegrationSettingsRecord *record = g_ptr_array_index (records, i);

        /* A service this hub no longer offers stays stored, unused. */
        if (find_service (self, record->service) == NULL)
          continue;
        g_ptr_array_add (list->pairs, g_strdup (record->org));
        g_ptr_array_add (list->pairs, g_strdup (record->service));
      }
  list_next (task);
}

/**
 * prd_integration_registry_list_async:
 * @org: (nullable): an organization: every service the hub offers, each
 *   configured or not; %NULL: every configured service of every
 *   organization
 */
void
prd_integration_registry_list_async (PrdIntegrationRegistry *self,
                                     const char *org,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data)
{
  GTask *task;
  GError *error = NULL;
  List *list;

  g_return_if_fail (PRD_IS_INTEGRATION_REGISTRY (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_integration_registry_list_async);
  if (org != NULL && !prd_integration_store_check_org (org, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  list = g_new0 (List, 1);
  list->pairs = g_ptr_array_new_with_free_func (g_free);
  list->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) prd_integration_entry_free);
  g_task_set_task_data (task, list, (GDestroyNotify) list_free);
  g_object_set_data_full (G_OBJECT (task), "org", g_strdup (org), g_free);
  prd_integration_store_list_settings_async (self->store, org, cancellable, on_list_settings, task);
}

GPtrArray *
prd_integration_registry_list_finish (PrdIntegrationRegistry *self,
                                      GAsyncResult *result,
                                      GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- writing ---- */

typedef struct
{
  Service *service;
  char *org;
  char *settings_text;      /* (nullable): NULL for a removal */
  GPtrArray *secret_names;  /* (element-type utf8) secret store names */
  GPtrArray *secret_values; /* (element-type utf8) parallel; "" deletes */
  guint next;
  char *bad_key;
} Write;

static void
write_free (Write *write)
{
  g_free (write->org);
  g_free (write->settings_text);
  g_ptr_array_unref (write->secret_names);
  g_ptr_array_unref (write->secret_values);
  g_free (write->bad_key);
  g_free (write);
}

static void write_next_secret (GTask *task);

static void
on_got_after_write (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;
  PrdIntegrationEntry *entry;

  entry = prd_integration_registry_get_finish (PRD_INTEGRATION_REGISTRY (source), result, &error);
  if (entry == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, entry, (GDestroyNotify) prd_integration_entry_free);
}

static void
on_settings_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  PrdIntegrationRegistry *self = g_task_get_source_object (task);
  Write *write = g_task_get_task_data (task);
  GError *error = NULL;
  gboolean ok;

  if (write->settings_text != NULL)
    ok = prd_integration_store_put_settings_finish (PRD_INTEGRATION_STORE (source), result, &error);
  else
    ok = prd_integration_store_delete_settings_finish (PRD_INTEGRATION_STORE (source), result,
                                                       &error);
  if (!ok)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  if (write->settings_text == NULL)
    {
      /* The settings are gone: now the secrets. */
      write_next_secret (task);
      return;
    }
  prd_integration_registry_get_async (self, write->org, write->service->name,
                                      g_task_get_cancellable (task), on_got_after_write, task);
}

static void
on_secret_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Write *write = g_task_get_task_data (task);
  const char *value = g_ptr_array_index (write->secret_values, write->next);
  g_autoptr (GError) error = NULL;
  gboolean ok;

  if (*value != '\0')
    ok = prd_secret_store_store_finish (PRD_SECRET_STORE (source), result, &error);
  else
    ok = prd_secret_store_delete_finish (PRD_SECRET_STORE (source), result, &error) ||
         g_error_matches (error, PRD_ERROR, PRD_ERROR_NOT_FOUND);
  /* Whatever was remembered of this service's secrets is stale now, even
   * after a failed write. */
  forget_known (g_task_get_source_object (task), write->org, write->service->name);
  if (!ok)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  write->next++;
  write_next_secret (task);
}

/* Takes over @task: the secrets one after the other, then (for a put) the
 * settings, so that settings never name a secret that failed to store. */
static void
write_next_secret (GTask *task)
{
  PrdIntegrationRegistry *self = g_task_get_source_object (task);
  Write *write = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);

  if (write->next < write->secret_names->len)
    {
      const char *name = g_ptr_array_index (write->secret_names, write->next);
      const char *value = g_ptr_array_index (write->secret_values, write->next);

      if (*value != '\0')
        prd_secret_store_store_async (self->secrets, name, value, cancellable, on_secret_written,
                                      task);
      else
        prd_secret_store_delete_async (self->secrets, name, cancellable, on_secret_written, task);
      return;
    }
  if (write->settings_text != NULL)
    {
      prd_integration_store_put_settings_async (self->store, write->org, write->service->name,
                                                write->settings_text, cancellable,
                                                on_settings_written, task);
      return;
    }
  {
    g_autofree char *cache_key = g_strdup_printf ("%s\n%s", write->org, write->service->name);

    g_hash_table_remove (self->cache, cache_key);
  }
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
on_current_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  PrdIntegrationRegistry *self = g_task_get_source_object (task);
  Write *write = g_task_get_task_data (task);
  JsonObject *input = g_object_get_data (G_OBJECT (task), "input");
  gboolean replace = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (task), "replace"));
  g_autoptr (PrdIntegrationEntry) current = NULL;
  g_autoptr (JsonObject) settings = NULL;
  g_autoptr (JsonObject) complete = NULL;
  g_autoptr (GHashTable) secrets = NULL;
  g_autoptr (GHashTable) secrets_set = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (PrdIntegration) probe = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (JsonObject) stored = NULL;
  GError *error = NULL;
  GHashTableIter iter;
  gpointer name, value;

  current = prd_integration_registry_get_finish (self, result, &error);
  if (current == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  /* What is stored, without defaults, so that a default stays a default. */
  stored = current->stored != NULL ? json_object_ref (current->stored) : NULL;
  if (!prd_integration_schema_apply (write->service->keys, write->service->n_keys, stored, input,
                                     replace, &settings, &secrets, &write->bad_key, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  for (guint i = 0; current->secrets_set[i] != NULL; i++)
    g_hash_table_add (secrets_set, current->secrets_set[i]);
  g_hash_table_iter_init (&iter, secrets);
  while (g_hash_table_iter_next (&iter, &name, &value))
    if (*(const char *) value != '\0')
      g_hash_table_add (secrets_set, name);
    else
      g_hash_table_remove (secrets_set, name);

  /* Checks across keys, on the settings as they would be. */
  probe = g_object_new (write->service->type, NULL);
  complete = with_defaults (write->service, settings);
  /* The values first: a bad address is refused for what it is, not for the
   * credential that would have to follow it. */
  if (!prd_integration_check_settings (probe, complete, secrets_set, &error))
    {
      /* A check across keys names the key it refuses as the schema does. */
      if (g_str_has_prefix (error->message, "Setting \"") &&
          strchr (error->message + 9, '"') != NULL)
        write->bad_key = g_strndup (
            error->message + 9, (gsize) (strchr (error->message + 9, '"') - (error->message + 9)));
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  if (!check_secrets_follow (write->service, stored, complete, secrets, current->secrets_set,
                             &write->bad_key, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  node = json_node_init_object (json_node_alloc (), settings);
  write->settings_text = prd_json_to_string (node);
  if (strlen (write->settings_text) > PRD_INTEGRATION_STORE_MAX_SETTINGS)
    {
      g_task_return_new_error (task, PRD_ERROR, PRD_ERROR_PAYLOAD_TOO_LARGE,
                               "The settings are larger than %d bytes",
                               PRD_INTEGRATION_STORE_MAX_SETTINGS);
      g_object_unref (task);
      return;
    }
  g_hash_table_iter_init (&iter, secrets);
  while (g_hash_table_iter_next (&iter, &name, &value))
    {
      g_ptr_array_add (write->secret_names,
                       prd_integration_secret_name (write->service->name, write->org, name));
      g_ptr_array_add (write->secret_values, g_strdup (value));
    }
  write_next_secret (task);
}

static Write *
write_new (Service *service, const char *org)
{
  Write *write = g_new0 (Write, 1);

  write->service = service;
  write->org = g_strdup (org);
  write->secret_names = g_ptr_array_new_with_free_func (g_free);
  write->secret_values = g_ptr_array_new_with_free_func (clear_value);
  return write;
}

/**
 * prd_integration_registry_put_async:
 * @input: the keys to set (secrets write-only; null resets a key)
 * @replace: forget the non-secret keys @input omits
 *
 * Validates @input against the service's schema and its checks across
 * keys, then stores the secrets and the settings. A refused input changes
 * nothing; put_finish() names the key that was refused.
 */
void
prd_integration_registry_put_async (PrdIntegrationRegistry *self,
                                    const char *org,
                                    const char *service,
                                    JsonObject *input,
                                    gboolean replace,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  GTask *task;
  GError *error = NULL;

  g_return_if_fail (PRD_IS_INTEGRATION_REGISTRY (self));
  g_return_if_fail (input != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_integration_registry_put_async);
  if (!check_service (self, org, service, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  g_task_set_task_data (task, write_new (find_service (self, service), org),
                        (GDestroyNotify) write_free);
  g_object_set_data_full (G_OBJECT (task), "input", json_object_ref (input),
                          (GDestroyNotify) json_object_unref);
  g_object_set_data (G_OBJECT (task), "replace", GINT_TO_POINTER (replace));
  prd_integration_registry_get_async (self, org, service, cancellable, on_current_read, task);
}

PrdIntegrationEntry *
prd_integration_registry_put_finish (PrdIntegrationRegistry *self,
                                     GAsyncResult *result,
                                     char **out_bad_key,
                                     GError **error)
{
  Write *write;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  write = g_task_get_task_data (G_TASK (result));
  if (out_bad_key != NULL)
    *out_bad_key = write != NULL ? g_strdup (write->bad_key) : NULL;
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * prd_integration_registry_remove_async:
 *
 * Forgets a service's settings, links and secrets for @org (NOT_FOUND when
 * it was not configured). First the integration is retired: its calls
 * under way are cancelled and #PrdIntegrationRegistry::integration-retired
 * is emitted, before anything is deleted.
 */
void
prd_integration_registry_remove_async (PrdIntegrationRegistry *self,
                                       const char *org,
                                       const char *service,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data)
{
  GTask *task;
  GError *error = NULL;
  Write *write;
  Service *found;

  g_return_if_fail (PRD_IS_INTEGRATION_REGISTRY (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_integration_registry_remove_async);
  if (!check_service (self, org, service, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  /* check_service() found it. */
  found = find_service (self, service);
  g_assert (found != NULL);
  write = write_new (found, org);
  for (gsize i = 0; i < found->n_keys; i++)
    if (found->keys[i].secret)
      {
        g_ptr_array_add (write->secret_names,
                         prd_integration_secret_name (found->name, org, found->keys[i].name));
        g_ptr_array_add (write->secret_values, g_strdup (""));
      }
  g_task_set_task_data (task, write, (GDestroyNotify) write_free);
  /* Before anything is deleted: a sync under way must not write its links
   * after the store has forgotten them. */
  retire (self, org, service);
  prd_integration_store_delete_settings_async (self->store, org, service, cancellable,
                                               on_settings_written, task);
}

gboolean
prd_integration_registry_remove_finish (PrdIntegrationRegistry *self,
                                        GAsyncResult *result,
                                        GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- JSON ---- */

static void
set_time (JsonObject *object, const char *member, gint64 usec)
{
  g_autofree char *text = NULL;

  if (usec <= 0)
    {
      json_object_set_null_member (object, member);
      return;
    }
  text = prd_time_format (usec);
  json_object_set_string_member (object, member, text);
}

/**
 * prd_integration_entry_to_json:
 *
 * Returns: (transfer full): `{service, configured, settings, status,
 *   lastError, statusChangedAt, lastSuccessAt, updatedAt}`; `settings`
 *   holds every non-secret key and, for each secret key, `<key>Set`
 *   (boolean), never a secret
 */
JsonObject *
prd_integration_entry_to_json (PrdIntegrationRegistry *self, const PrdIntegrationEntry *entry)
{
  JsonObject *object = json_object_new ();
  JsonObject *settings = json_object_new ();
  Service *service = find_service (self, entry->service);
  PrdIntegration *integration = entry->integration;

  json_object_set_string_member (object, "service", entry->service);
  json_object_set_boolean_member (object, "configured", entry->configured);
  for (gsize i = 0; service != NULL && i < service->n_keys; i++)
    {
      const PrdIntegrationKey *key = &service->keys[i];

      if (key->secret)
        {
          g_autofree char *flag = g_strdup_printf ("%sSet", key->name);

          json_object_set_boolean_member (
              settings, flag,
              g_strv_contains ((const char *const *) entry->secrets_set, key->name));
        }
      else if (entry->settings != NULL && json_object_has_member (entry->settings, key->name))
        json_object_set_member (
            settings, key->name,
            json_node_copy (json_object_get_member (entry->settings, key->name)));
      else
        json_object_set_null_member (settings, key->name);
    }
  json_object_set_object_member (object, "settings", settings);
  if (integration != NULL)
    {
      json_object_set_string_member (
          object, "status",
          prd_integration_status_to_string (prd_integration_get_status (integration)));
      if (prd_integration_get_last_error (integration) != NULL)
        json_object_set_string_member (object, "lastError",
                                       prd_integration_get_last_error (integration));
      else
        json_object_set_null_member (object, "lastError");
      set_time (object, "statusChangedAt", prd_integration_get_changed_at (integration));
      set_time (object, "lastSuccessAt", prd_integration_get_last_success (integration));
    }
  else
    {
      json_object_set_string_member (object, "status", "disconnected");
      if (entry->problem != NULL)
        json_object_set_string_member (object, "lastError", entry->problem);
      else
        json_object_set_null_member (object, "lastError");
      json_object_set_null_member (object, "statusChangedAt");
      json_object_set_null_member (object, "lastSuccessAt");
    }
  set_time (object, "updatedAt", entry->updated_at);
  return object;
}
