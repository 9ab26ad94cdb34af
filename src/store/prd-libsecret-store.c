/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdLibsecretStore: secrets in the Secret Service (GNOME Keyring, KWallet,
 * KeePassXC…) through libsecret. Each secret is one item of the schema
 * org.prdtool.Hub.Secret in the default collection, found by its `name`
 * attribute and by a `hub` attribute holding the hub's data folder: two
 * hubs of one user (or a test run beside the user's real hub) never see
 * each other's secrets, as with the per-folder fallback file. libsecret's errors are translated
 * here into PRD_ERROR codes.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include <string.h>

#include <libsecret/secret.h>

#include "prd-error.h"

#include "prd-libsecret-store.h"

struct _PrdLibsecretStore
{
  GObject parent_instance;

  SecretService *service; /* (owned) */
  char *scope;            /* (owned) the `hub` attribute */
};

static void secret_store_iface_init (PrdSecretStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PrdLibsecretStore,
                               prd_libsecret_store,
                               G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PRD_TYPE_SECRET_STORE,
                                                      secret_store_iface_init))

static const SecretSchema hub_schema = {
  PRD_LIBSECRET_SCHEMA_NAME,
  SECRET_SCHEMA_NONE,
  {
      { "name", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { "hub", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
  },
};

static GHashTable *
name_attributes (PrdLibsecretStore *self, const char *name)
{
  GHashTable *attributes = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);

  g_hash_table_insert (attributes, (gpointer) "hub", g_strdup (self->scope));
  if (name != NULL)
    g_hash_table_insert (attributes, (gpointer) "name", g_strdup (name));
  return attributes;
}

static void
set_translated (GError **error, const GError *from, const char *what)
{
  if (g_error_matches (from, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_set_error (error, PRD_ERROR, PRD_ERROR_CANCELLED, "%s was cancelled", what);
  else
    g_set_error (error, PRD_ERROR, PRD_ERROR_SECRET_STORE, "%s failed: %s", what, from->message);
}

static void
translate_error (GTask *task, GError *error, const char *what)
{
  GError *translated = NULL;

  set_translated (&translated, error, what);
  g_task_return_error (task, translated);
}

/* The text of a looked-up @value (consumed), or %NULL with @error. */
static char *
lookup_text (const char *name, SecretValue *value, GError **error)
{
  const char *text;
  char *copy;

  if (value == NULL)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND,
                   "There is no secret named \"%s\" in the Secret Service", name);
      return NULL;
    }
  text = secret_value_get_text (value);
  copy = text != NULL ? g_strdup (text) : NULL;
  secret_value_unref (value);
  if (copy == NULL)
    g_set_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA,
                 "The secret \"%s\" in the Secret Service is not text", name);
  return copy;
}

/* ---- lookup ---- */

static void
lookup_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  SecretValue *value;
  char *text;

  value = secret_service_lookup_finish (SECRET_SERVICE (source), result, &error);
  if (error != NULL)
    {
      translate_error (task, error, "Reading from the Secret Service");
      return;
    }
  text = lookup_text (g_task_get_task_data (task), value, &error);
  if (text == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, text, g_free);
}

static void
prd_libsecret_store_lookup_async (PrdSecretStore *store,
                                  const char *name,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  PrdLibsecretStore *self = PRD_LIBSECRET_STORE (store);
  g_autoptr (GHashTable) attributes = name_attributes (self, name);
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, prd_libsecret_store_lookup_async);

  g_task_set_check_cancellable (task, FALSE);
  g_task_set_task_data (task, g_strdup (name), g_free);
  secret_service_lookup (self->service, &hub_schema, attributes, cancellable, lookup_done, task);
}

static char *
prd_libsecret_store_lookup_finish (PrdSecretStore *store, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- store ---- */

static void
store_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;

  if (!secret_service_store_finish (SECRET_SERVICE (source), result, &error))
    {
      translate_error (task, error, "Writing to the Secret Service");
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
prd_libsecret_store_store_async (PrdSecretStore *store,
                                 const char *name,
                                 const char *value,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  PrdLibsecretStore *self = PRD_LIBSECRET_STORE (store);
  g_autoptr (GHashTable) attributes = name_attributes (self, name);
  g_autofree char *label = g_strdup_printf ("prdhub: %s", name);
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  SecretValue *secret = secret_value_new (value, -1, "text/plain");

  g_task_set_source_tag (task, prd_libsecret_store_store_async);

  g_task_set_check_cancellable (task, FALSE);
  /* An item with the same attributes is replaced, not duplicated. */
  secret_service_store (self->service, &hub_schema, attributes, SECRET_COLLECTION_DEFAULT, label,
                        secret, cancellable, store_done, task);
  secret_value_unref (secret);
}

static gboolean
prd_libsecret_store_store_finish (PrdSecretStore *store, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- delete ---- */

static void
clear_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;

  if (!secret_service_clear_finish (SECRET_SERVICE (source), result, &error))
    {
      if (error != NULL)
        translate_error (task, error, "Deleting from the Secret Service");
      else
        g_task_return_new_error (task, PRD_ERROR, PRD_ERROR_NOT_FOUND,
                                 "There is no secret named \"%s\" in the Secret Service",
                                 (const char *) g_task_get_task_data (task));
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
prd_libsecret_store_delete_async (PrdSecretStore *store,
                                  const char *name,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  PrdLibsecretStore *self = PRD_LIBSECRET_STORE (store);
  g_autoptr (GHashTable) attributes = name_attributes (self, name);
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, prd_libsecret_store_delete_async);

  g_task_set_check_cancellable (task, FALSE);
  g_task_set_task_data (task, g_strdup (name), g_free);
  secret_service_clear (self->service, &hub_schema, attributes, cancellable, clear_done, task);
}

static gboolean
prd_libsecret_store_delete_finish (PrdSecretStore *store, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- list ---- */

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The names of @items (consumed), sorted, each once. */
static GStrv
names_of_items (GList *items)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  gpointer key;

  for (GList *l = items; l != NULL; l = l->next)
    {
      g_autoptr (GHashTable) attributes = secret_item_get_attributes (l->data);
      const char *name = g_hash_table_lookup (attributes, "name");

      /* Items of our schema written by something else may carry any name;
       * list only those the hub could have written and can address. */
      if (prd_secret_name_is_valid (name) && !g_hash_table_contains (seen, name))
        g_hash_table_add (seen, g_strdup (name));
    }
  g_list_free_full (items, g_object_unref);

  g_hash_table_iter_init (&iter, seen);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (names, g_strdup (key));
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return (GStrv) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

static void
search_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  GList *items;

  items = secret_service_search_finish (SECRET_SERVICE (source), result, &error);
  if (error != NULL)
    {
      translate_error (task, error, "Searching the Secret Service");
      return;
    }
  g_task_return_pointer (task, names_of_items (items), (GDestroyNotify) g_strfreev);
}

static void
prd_libsecret_store_list_async (PrdSecretStore *store,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data)
{
  PrdLibsecretStore *self = PRD_LIBSECRET_STORE (store);
  g_autoptr (GHashTable) attributes = name_attributes (self, NULL);
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, prd_libsecret_store_list_async);

  g_task_set_check_cancellable (task, FALSE);
  /* Names only: no unlocking, no secrets loaded. */
  secret_service_search (self->service, &hub_schema, attributes, SECRET_SEARCH_ALL, cancellable,
                         search_done, task);
}

static GStrv
prd_libsecret_store_list_finish (PrdSecretStore *store, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- blocking forms: libsecret's own synchronous calls ---- */

static char *
prd_libsecret_store_lookup_sync (PrdSecretStore *store,
                                 const char *name,
                                 GCancellable *cancellable,
                                 GError **error)
{
  PrdLibsecretStore *self = PRD_LIBSECRET_STORE (store);
  g_autoptr (GHashTable) attributes = name_attributes (self, name);
  g_autoptr (GError) local_error = NULL;
  SecretValue *value;

  value = secret_service_lookup_sync (self->service, &hub_schema, attributes, cancellable,
                                      &local_error);
  if (local_error != NULL)
    {
      set_translated (error, local_error, "Reading from the Secret Service");
      return NULL;
    }
  return lookup_text (name, value, error);
}

static gboolean
prd_libsecret_store_store_sync (PrdSecretStore *store,
                                const char *name,
                                const char *value,
                                GCancellable *cancellable,
                                GError **error)
{
  PrdLibsecretStore *self = PRD_LIBSECRET_STORE (store);
  g_autoptr (GHashTable) attributes = name_attributes (self, name);
  g_autofree char *label = g_strdup_printf ("prdhub: %s", name);
  g_autoptr (GError) local_error = NULL;
  SecretValue *secret = secret_value_new (value, -1, "text/plain");
  gboolean ok;

  ok = secret_service_store_sync (self->service, &hub_schema, attributes, SECRET_COLLECTION_DEFAULT,
                                  label, secret, cancellable, &local_error);
  secret_value_unref (secret);
  if (!ok)
    set_translated (error, local_error, "Writing to the Secret Service");
  return ok;
}

static gboolean
prd_libsecret_store_delete_sync (PrdSecretStore *store,
                                 const char *name,
                                 GCancellable *cancellable,
                                 GError **error)
{
  PrdLibsecretStore *self = PRD_LIBSECRET_STORE (store);
  g_autoptr (GHashTable) attributes = name_attributes (self, name);
  g_autoptr (GError) local_error = NULL;

  if (secret_service_clear_sync (self->service, &hub_schema, attributes, cancellable, &local_error))
    return TRUE;
  if (local_error != NULL)
    set_translated (error, local_error, "Deleting from the Secret Service");
  else
    g_set_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND,
                 "There is no secret named \"%s\" in the Secret Service", name);
  return FALSE;
}

static GStrv
prd_libsecret_store_list_sync (PrdSecretStore *store, GCancellable *cancellable, GError **error)
{
  PrdLibsecretStore *self = PRD_LIBSECRET_STORE (store);
  g_autoptr (GHashTable) attributes = name_attributes (self, NULL);
  g_autoptr (GError) local_error = NULL;
  GList *items;

  items = secret_service_search_sync (self->service, &hub_schema, attributes, SECRET_SEARCH_ALL,
                                      cancellable, &local_error);
  if (local_error != NULL)
    {
      set_translated (error, local_error, "Searching the Secret Service");
      return NULL;
    }
  return names_of_items (items);
}

static const char *
prd_libsecret_store_get_description (PrdSecretStore *store)
{
  return "the Secret Service";
}

static void
secret_store_iface_init (PrdSecretStoreInterface *iface)
{
  iface->get_description = prd_libsecret_store_get_description;
  iface->lookup_async = prd_libsecret_store_lookup_async;
  iface->lookup_finish = prd_libsecret_store_lookup_finish;
  iface->store_async = prd_libsecret_store_store_async;
  iface->store_finish = prd_libsecret_store_store_finish;
  iface->delete_async = prd_libsecret_store_delete_async;
  iface->delete_finish = prd_libsecret_store_delete_finish;
  iface->list_async = prd_libsecret_store_list_async;
  iface->list_finish = prd_libsecret_store_list_finish;
  iface->lookup_sync = prd_libsecret_store_lookup_sync;
  iface->store_sync = prd_libsecret_store_store_sync;
  iface->delete_sync = prd_libsecret_store_delete_sync;
  iface->list_sync = prd_libsecret_store_list_sync;
}

static void
prd_libsecret_store_dispose (GObject *object)
{
  PrdLibsecretStore *self = PRD_LIBSECRET_STORE (object);

  g_clear_object (&self->service);

  G_OBJECT_CLASS (prd_libsecret_store_parent_class)->dispose (object);
}

static void
prd_libsecret_store_finalize (GObject *object)
{
  PrdLibsecretStore *self = PRD_LIBSECRET_STORE (object);

  g_free (self->scope);

  G_OBJECT_CLASS (prd_libsecret_store_parent_class)->finalize (object);
}

static void
prd_libsecret_store_class_init (PrdLibsecretStoreClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = prd_libsecret_store_dispose;
  G_OBJECT_CLASS (klass)->finalize = prd_libsecret_store_finalize;
}

static void
prd_libsecret_store_init (PrdLibsecretStore *self)
{
}

static void
service_opened (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  PrdLibsecretStore *self;
  SecretService *service;

  service = secret_service_open_finish (result, &error);
  if (service == NULL)
    {
      translate_error (task, error, "Connecting to the Secret Service");
      return;
    }
  self = g_object_new (PRD_TYPE_LIBSECRET_STORE, NULL);
  self->service = service;
  self->scope = g_strdup (g_task_get_task_data (task));
  g_task_return_pointer (task, self, g_object_unref);
}

/**
 * prd_libsecret_store_new_async:
 * @scope: the hub's data folder; the store sees only the items of that hub
 *
 * Connects to the Secret Service on the session bus and opens a transfer
 * session, so that a store is only handed out when a service answers.
 */
void
prd_libsecret_store_new_async (const char *scope,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
  GTask *task;

  g_return_if_fail (scope != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_libsecret_store_new_async);
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_task_data (task, g_canonicalize_filename (scope, NULL), g_free);
  secret_service_open (SECRET_TYPE_SERVICE, NULL, SECRET_SERVICE_OPEN_SESSION, cancellable,
                       service_opened, task);
}

/**
 * prd_libsecret_store_new_finish:
 *
 * Returns: (transfer full): the store, or %NULL with @error set
 *   (%PRD_ERROR_SECRET_STORE, %PRD_ERROR_CANCELLED)
 */
PrdSecretStore *
prd_libsecret_store_new_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * prd_libsecret_store_new_sync:
 * @scope: the hub's data folder; the store sees only the items of that hub
 *
 * prd_libsecret_store_new_async(), blocking the calling thread (libsecret's
 * own synchronous connection; no main loop runs meanwhile).
 *
 * Returns: (transfer full): the store, or %NULL with @error set
 *   (%PRD_ERROR_SECRET_STORE, %PRD_ERROR_CANCELLED)
 */
PrdSecretStore *
prd_libsecret_store_new_sync (const char *scope, GCancellable *cancellable, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  PrdLibsecretStore *self;
  SecretService *service;

  g_return_val_if_fail (scope != NULL, NULL);

  service = secret_service_open_sync (SECRET_TYPE_SERVICE, NULL, SECRET_SERVICE_OPEN_SESSION,
                                      cancellable, &local_error);
  if (service == NULL)
    {
      set_translated (error, local_error, "Connecting to the Secret Service");
      return NULL;
    }
  self = g_object_new (PRD_TYPE_LIBSECRET_STORE, NULL);
  self->service = service;
  self->scope = g_canonicalize_filename (scope, NULL);
  return PRD_SECRET_STORE (self);
}
