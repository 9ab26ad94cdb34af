/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Longest secret value accepted, in bytes. */
#define PRD_SECRET_MAX_VALUE_LENGTH 65536
/* How long prd_secret_store_open_default_async() waits for a Secret Service. */
#define PRD_SECRET_STORE_PROBE_TIMEOUT_MS 3000

#define PRD_TYPE_SECRET_STORE (prd_secret_store_get_type ())

G_DECLARE_INTERFACE (PrdSecretStore, prd_secret_store, PRD, SECRET_STORE, GObject)

/**
 * PrdSecretStoreInterface:
 * @get_description: where the secrets live, for log lines and the CLI
 * @lookup_async: fetch one value; a missing name is %PRD_ERROR_NOT_FOUND
 * @store_async: create or replace one value
 * @delete_async: remove one value; a missing name is %PRD_ERROR_NOT_FOUND
 * @list_async: the names, sorted, never the values
 * @lookup_sync, @store_sync, @delete_sync, @list_sync: the same, blocking
 *   the calling thread (for the command line and for start-up, before the
 *   main loop runs); an implementation blocks on its own I/O, never by
 *   running a main loop
 *
 * Names and values reach the implementation already validated.
 */
struct _PrdSecretStoreInterface
{
  GTypeInterface parent_iface;

  const char *(*get_description) (PrdSecretStore *self);

  void (*lookup_async) (PrdSecretStore *self,
                        const char *name,
                        GCancellable *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer user_data);
  char *(*lookup_finish) (PrdSecretStore *self, GAsyncResult *result, GError **error);

  void (*store_async) (PrdSecretStore *self,
                       const char *name,
                       const char *value,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer user_data);
  gboolean (*store_finish) (PrdSecretStore *self, GAsyncResult *result, GError **error);

  void (*delete_async) (PrdSecretStore *self,
                        const char *name,
                        GCancellable *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer user_data);
  gboolean (*delete_finish) (PrdSecretStore *self, GAsyncResult *result, GError **error);

  void (*list_async) (PrdSecretStore *self,
                      GCancellable *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer user_data);
  GStrv (*list_finish) (PrdSecretStore *self, GAsyncResult *result, GError **error);

  char *(*lookup_sync) (PrdSecretStore *self,
                        const char *name,
                        GCancellable *cancellable,
                        GError **error);
  gboolean (*store_sync) (PrdSecretStore *self,
                          const char *name,
                          const char *value,
                          GCancellable *cancellable,
                          GError **error);
  gboolean (*delete_sync) (PrdSecretStore *self,
                           const char *name,
                           GCancellable *cancellable,
                           GError **error);
  GStrv (*list_sync) (PrdSecretStore *self, GCancellable *cancellable, GError **error);
};

gboolean prd_secret_name_is_valid (const char *name);
gboolean prd_secret_check_name (const char *name, GError **error);
gboolean prd_secret_check_value (const char *value, GError **error);

const char *prd_secret_store_get_description (PrdSecretStore *self);

void prd_secret_store_lookup_async (PrdSecretStore *self,
                                    const char *name,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
char *prd_secret_store_lookup_finish (PrdSecretStore *self, GAsyncResult *result, GError **error);

void prd_secret_store_store_async (PrdSecretStore *self,
                                   const char *name,
                                   const char *value,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
gboolean prd_secret_store_store_finish (PrdSecretStore *self, GAsyncResult *result, GError **error);

void prd_secret_store_delete_async (PrdSecretStore *self,
                                    const char *name,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
gboolean
prd_secret_store_delete_finish (PrdSecretStore *self, GAsyncResult *result, GError **error);

void prd_secret_store_list_async (PrdSecretStore *self,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);
GStrv prd_secret_store_list_finish (PrdSecretStore *self, GAsyncResult *result, GError **error);

void prd_secret_store_open_default_async (const char *fallback_dir,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data);
PrdSecretStore *prd_secret_store_open_default_finish (GAsyncResult *result, GError **error);

/* Blocking forms for command-line tools and start-up code that runs before
 * the main loop: each iterates the thread-default main context until the
 * call is done. Never call them from a main-loop callback. */
PrdSecretStore *prd_secret_store_open_default_sync (const char *fallback_dir,
                                                    GCancellable *cancellable,
                                                    GError **error);
char *prd_secret_store_lookup_sync (PrdSecretStore *self,
                                    const char *name,
                                    GCancellable *cancellable,
                                    GError **error);
gboolean prd_secret_store_store_sync (PrdSecretStore *self,
                                      const char *name,
                                      const char *value,
                                      GCancellable *cancellable,
                                      GError **error);
gboolean prd_secret_store_delete_sync (PrdSecretStore *self,
                                       const char *name,
                                       GCancellable *cancellable,
                                       GError **error);
GStrv prd_secret_store_list_sync (PrdSecretStore *self, GCancellable *cancellable, GError **error);

G_END_DECLS
