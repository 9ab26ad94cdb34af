/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdSecretStore: where the hub keeps credentials (its JWT secret, AI
 * provider keys, integration tokens). The Secret Service through libsecret
 * when one answers on the session bus; otherwise an owner-only key file in
 * the hub's folder, announced once in the log so that an operator knows
 * their secrets are on disk.
 *
 * The wrappers here validate names and values once for every backend, so an
 * invalid name never reaches the keyring or the file.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-file-secret-store.h"
#include "prd-libsecret-store.h"

#include "prd-secret-store.h"

#define MAX_NAME_LENGTH 64

G_DEFINE_INTERFACE (PrdSecretStore, prd_secret_store, G_TYPE_OBJECT)

static void
prd_secret_store_default_init (PrdSecretStoreInterface *iface)
{
}

/**
 * prd_secret_name_is_valid:
 * @name: (nullable): a secret name
 *
 * Names are `[a-z0-9][a-z0-9._-]{0,63}`: safe as a key-file key, a keyring
 * attribute and a command-line argument.
 */
gboolean
prd_secret_name_is_valid (const char *name)
{
  gsize len;

  if (name == NULL)
    return FALSE;
  len = strlen (name);
  if (len == 0 || len > MAX_NAME_LENGTH)
    return FALSE;
  if (!g_ascii_islower (name[0]) && !g_ascii_isdigit (name[0]))
    return FALSE;
  for (const char *p = name + 1; *p != '\0'; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && *p != '.' && *p != '_' && *p != '-')
      return FALSE;
  return TRUE;
}

gboolean
prd_secret_check_name (const char *name, GError **error)
{
  if (prd_secret_name_is_valid (name))
    return TRUE;
  g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_ID,
               "\"%s\" is not a valid secret name (lower-case letters, digits, '.', '_' and '-', "
               "starting with a letter or digit, at most %d characters)",
               name != NULL ? name : "", MAX_NAME_LENGTH);
  return FALSE;
}

gboolean
prd_secret_check_value (const char *value, GError **error)
{
  gsize len;

  if (value == NULL || *value == '\0')
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "A secret cannot be empty");
      return FALSE;
    }
  len = strlen (value);
  if (len > PRD_SECRET_MAX_VALUE_LENGTH)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_PAYLOAD_TOO_LARGE,
                   "A secret can be at most %d bytes long", PRD_SECRET_MAX_VALUE_LENGTH);
      return FALSE;
    }
  if (!g_utf8_validate (value, (gssize) len, NULL))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "A secret must be UTF-8 text");
      return FALSE;
    }
  return TRUE;
}

/**
 * prd_secret_store_get_description:
 *
 * Returns: (transfer none): e.g. "the Secret Service" or the file's path
 */
const char *
prd_secret_store_get_description (PrdSecretStore *self)
{
  g_return_val_if_fail (PRD_IS_SECRET_STORE (self), NULL);

  return PRD_SECRET_STORE_GET_IFACE (self)->get_description (self);
}

static void
report_invalid (
    gpointer source, GAsyncReadyCallback callback, gpointer user_data, gpointer tag, GError *error)
{
  g_task_report_error (source, callback, user_data, tag, error);
}

/**
 * prd_secret_store_lookup_async:
 * @name: a valid secret name
 *
 * Fetches the value of @name. Finish with prd_secret_store_lookup_finish().
 */
void
prd_secret_store_lookup_async (PrdSecretStore *self,
                               const char *name,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
  GError *error = NULL;

  g_return_if_fail (PRD_IS_SECRET_STORE (self));

  if (!prd_secret_check_name (name, &error))
    {
      report_invalid (self, callback, user_data, prd_secret_store_lookup_async, error);
      return;
    }
  PRD_SECRET_STORE_GET_IFACE (self)->lookup_async (self, name, cancellable, callback, user_data);
}

/**
 * prd_secret_store_lookup_finish:
 *
 * Returns: (transfer full): the value, or %NULL with @error set
 *   (%PRD_ERROR_NOT_FOUND when there is no such secret)
 */
char *
prd_secret_store_lookup_finish (PrdSecretStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PRD_IS_SECRET_STORE (self), NULL);

  if (g_async_result_is_tagged (result, prd_secret_store_lookup_async))
    return g_task_propagate_pointer (G_TASK (result), error);
  return PRD_SECRET_STORE_GET_IFACE (self)->lookup_finish (self, result, error);
}

/**
 * prd_secret_store_store_async:
 * @name: a valid secret name
 * @value: non-empty UTF-8 text of at most %PRD_SECRET_MAX_VALUE_LENGTH bytes
 *
 * Creates or replaces the secret @name.
 */
void
prd_secret_store_store_async (PrdSecretStore *self,
                              const char *name,
                              const char *value,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
  GError *error = NULL;

  g_return_if_fail (PRD_IS_SECRET_STORE (self));

  if (!prd_secret_check_name (name, &error) || !prd_secret_check_value (value, &error))
    {
      report_invalid (self, callback, user_data, prd_secret_store_store_async, error);
      return;
    }
  PRD_SECRET_STORE_GET_IFACE (self)->store_async (self, name, value, cancellable, callback,
                                                  user_data);
}

gboolean
prd_secret_store_store_finish (PrdSecretStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PRD_IS_SECRET_STORE (self), FALSE);

  if (g_async_result_is_tagged (result, prd_secret_store_store_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return PRD_SECRET_STORE_GET_IFACE (self)->store_finish (self, result, error);
}

/**
 * prd_secret_store_delete_async:
 * @name: a valid secret name
 *
 * Removes the secret @name; finishing reports %PRD_ERROR_NOT_FOUND when
 * there was none.
 */
void
prd_secret_store_delete_async (PrdSecretStore *self,
                               const char *name,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
  GError *error = NULL;

  g_return_if_fail (PRD_IS_SECRET_STORE (self));

  if (!prd_secret_check_name (name, &error))
    {
      report_invalid (self, callback, user_data, prd_secret_store_delete_async, error);
      return;
    }
  PRD_SECRET_STORE_GET_IFACE (self)->delete_async (self, name, cancellable, callback, user_data);
}

gboolean
prd_secret_store_delete_finish (PrdSecretStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PRD_IS_SECRET_STORE (self), FALSE);

  if (g_async_result_is_tagged (result, prd_secret_store_delete_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return PRD_SECRET_STORE_GET_IFACE (self)->delete_finish (self, result, error);
}

void
prd_secret_store_list_async (PrdSecretStore *self,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data)
{
  g_return_if_fail (PRD_IS_SECRET_STORE (self));

  PRD_SECRET_STORE_GET_IFACE (self)->list_async (self, cancellable, callback, user_data);
}

/**
 * prd_secret_store_list_finish:
 *
 * Returns: (transfer full): the names of the stored secrets, sorted
 */
GStrv
prd_secret_store_list_finish (PrdSecretStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PRD_IS_SECRET_STORE (self), NULL);

  return PRD_SECRET_STORE_GET_IFACE (self)->list_finish (self, result, error);
}

/* ---- choosing a backend ---- */

typedef struct
{
  char *fallback_dir;   /* (owned) */
  GCancellable *probe;  /* (owned) cancelled by the timeout or the caller */
  GCancellable *caller; /* (owned) (nullable) */
  gulong caller_handler;
  GSource *timeout; /* (owned) (nullable) */
  gboolean timed_out;
} OpenData;

static void
open_data_free (gpointer data)
{
  OpenData *od = data;

  if (od->caller != NULL)
    g_cancellable_disconnect (od->caller, od->caller_handler);
  g_clear_object (&od->caller);
  if (od->timeout != NULL)
    g_source_destroy (od->timeout);
  g_clear_pointer (&od->timeout, g_source_unref);
  g_clear_object (&od->probe);
  g_free (od->fallback_dir);
  g_free (od);
}

static gboolean
probe_timed_out (gpointer user_data)
{
  OpenData *od = user_data;

  od->timed_out = TRUE;
  g_cancellable_cancel (od->probe);
  return G_SOURCE_REMOVE;
}

static void
caller_cancelled (GCancellable *cancellable, gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

static void
libsecret_opened (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  OpenData *od = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdSecretStore) store = NULL;
  g_autofree char *reason = NULL;

  store = prd_libsecret_store_new_finish (result, &error);
  if (store != NULL)
    {
      g_task_return_pointer (task, g_steal_pointer (&store), g_object_unref);
      return;
    }
  if (od->caller != NULL && g_cancellable_is_cancelled (od->caller))
    {
      g_task_return_new_error (task, PRD_ERROR, PRD_ERROR_CANCELLED,
                               "Opening the secret store was cancelled");
      return;
    }

  reason = od->timed_out
               ? g_strdup_printf ("no answer within %d ms", PRD_SECRET_STORE_PROBE_TIMEOUT_MS)
               : g_strdup (error->message);
  store = prd_file_secret_store_new (od->fallback_dir);
  g_info ("No Secret Service available (%s); keeping secrets in the owner-only file %s", reason,
          prd_secret_store_get_description (store));
  g_task_return_pointer (task, g_steal_pointer (&store), g_object_unref);
}

/**
 * prd_secret_store_open_default_async:
 * @fallback_dir: the hub's data folder: it scopes the hub's items in the
 *   Secret Service, and holds the owner-only `secrets` file used when no
 *   Secret Service answers
 *
 * Opens the Secret Service, waiting at most
 * %PRD_SECRET_STORE_PROBE_TIMEOUT_MS for it, and falls back to the file
 * with one log message saying so.
 */
void
prd_secret_store_open_default_async (const char *fallback_dir,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  OpenData *od;

  g_return_if_fail (fallback_dir != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_secret_store_open_default_async);
  g_task_set_check_cancellable (task, FALSE);
  od = g_new0 (OpenData, 1);
  od->fallback_dir = g_strdup (fallback_dir);
  od->probe = g_cancellable_new ();
  if (cancellable != NULL)
    {
      od->caller = g_object_ref (cancellable);
      od->caller_handler =
          g_cancellable_connect (cancellable, G_CALLBACK (caller_cancelled), od->probe, NULL);
    }
  /* On the caller's thread-default context, so that the blocking form
   * (which runs a private context) gets its timeout too. */
  od->timeout = g_timeout_source_new (PRD_SECRET_STORE_PROBE_TIMEOUT_MS);
  g_source_set_callback (od->timeout, probe_timed_out, od, NULL);
  g_source_attach (od->timeout, g_main_context_get_thread_default ());
  g_task_set_task_data (task, od, open_data_free);

  prd_libsecret_store_new_async (od->fallback_dir, od->probe, libsecret_opened,
                                 g_steal_pointer (&task));
}

/**
 * prd_secret_store_open_default_finish:
 *
 * Returns: (transfer full): the store, or %NULL with @error set
 *   (%PRD_ERROR_CANCELLED)
 */
PrdSecretStore *
prd_secret_store_open_default_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- blocking forms ----
 *
 * For code that runs before its main loop, or has none (the command line,
 * loading the hub's JWT secret at start-up). Each backend blocks on its own
 * I/O (a worker thread for the file, libsecret's synchronous D-Bus calls);
 * no main loop runs meanwhile. */

typedef struct
{
  GMutex lock;
  GCond cond;
  gboolean done;
  gboolean timed_out;
  GCancellable *probe; /* (unowned) */
} Watchdog;

/* Cancels the probe unless it finishes within the timeout. */
static gpointer
watchdog_run (gpointer data)
{
  Watchdog *dog = data;
  gint64 deadline = g_get_monotonic_time () +
                    (gint64) PRD_SECRET_STORE_PROBE_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;

  g_mutex_lock (&dog->lock);
  while (!dog->done)
    if (!g_cond_wait_until (&dog->cond, &dog->lock, deadline))
      {
        dog->timed_out = !dog->done;
        break;
      }
  g_mutex_unlock (&dog->lock);
  if (dog->timed_out)
    g_cancellable_cancel (dog->probe);
  return NULL;
}

/**
 * prd_secret_store_open_default_sync:
 *
 * prd_secret_store_open_default_async(), blocking the calling thread: the
 * Secret Service if it answers within %PRD_SECRET_STORE_PROBE_TIMEOUT_MS,
 * otherwise the owner-only file (with one log message saying so).
 *
 * Returns: (transfer full): the store, or %NULL with @error set
 *   (%PRD_ERROR_CANCELLED)
 */
PrdSecretStore *
prd_secret_store_open_default_sync (const char *fallback_dir,
                                    GCancellable *cancellable,
                                    GError **error)
{
  g_autoptr (GCancellable) probe = g_cancellable_new ();
  g_autoptr (GError) local_error = NULL;
  g_autofree char *reason = NULL;
  PrdSecretStore *store;
  Watchdog dog = { 0 };
  GThread *thread;
  gulong handler = 0;

  g_return_val_if_fail (fallback_dir != NULL, NULL);

  if (cancellable != NULL)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (caller_cancelled), probe, NULL);
  g_mutex_init (&dog.lock);
  g_cond_init (&dog.cond);
  dog.probe = probe;
  thread = g_thread_new ("prd-secret-probe", watchdog_run, &dog);
  store = prd_libsecret_store_new_sync (fallback_dir, probe, &local_error);
  g_mutex_lock (&dog.lock);
  dog.done = TRUE;
  g_cond_signal (&dog.cond);
  g_mutex_unlock (&dog.lock);
  g_thread_join (thread);
  g_mutex_clear (&dog.lock);
  g_cond_clear (&dog.cond);
  if (cancellable != NULL)
    g_cancellable_disconnect (cancellable, handler);

  if (store != NULL)
    return store;
  if (cancellable != NULL && g_cancellable_is_cancelled (cancellable))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CANCELLED,
                           "Opening the secret store was cancelled");
      return NULL;
    }
  reason = dog.timed_out
               ? g_strdup_printf ("no answer within %d ms", PRD_SECRET_STORE_PROBE_TIMEOUT_MS)
               : g_strdup (local_error->message);
  store = prd_file_secret_store_new (fallback_dir);
  g_info ("No Secret Service available (%s); keeping secrets in the owner-only file %s", reason,
          prd_secret_store_get_description (store));
  return store;
}

char *
prd_secret_store_lookup_sync (PrdSecretStore *self,
                              const char *name,
                              GCancellable *cancellable,
                              GError **error)
{
  g_return_val_if_fail (PRD_IS_SECRET_STORE (self), NULL);

  if (!prd_secret_check_name (name, error))
    return NULL;
  return PRD_SECRET_STORE_GET_IFACE (self)->lookup_sync (self, name, cancellable, error);
}

gboolean
prd_secret_store_store_sync (PrdSecretStore *self,
                             const char *name,
                             const char *value,
                             GCancellable *cancellable,
                             GError **error)
{
  g_return_val_if_fail (PRD_IS_SECRET_STORE (self), FALSE);

  if (!prd_secret_check_name (name, error) || !prd_secret_check_value (value, error))
    return FALSE;
  return PRD_SECRET_STORE_GET_IFACE (self)->store_sync (self, name, value, cancellable, error);
}

gboolean
prd_secret_store_delete_sync (PrdSecretStore *self,
                              const char *name,
                              GCancellable *cancellable,
                              GError **error)
{
  g_return_val_if_fail (PRD_IS_SECRET_STORE (self), FALSE);

  if (!prd_secret_check_name (name, error))
    return FALSE;
  return PRD_SECRET_STORE_GET_IFACE (self)->delete_sync (self, name, cancellable, error);
}

GStrv
prd_secret_store_list_sync (PrdSecretStore *self, GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (PRD_IS_SECRET_STORE (self), NULL);

  return PRD_SECRET_STORE_GET_IFACE (self)->list_sync (self, cancellable, error);
}
