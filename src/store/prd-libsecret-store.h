/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-secret-store.h"

G_BEGIN_DECLS

/* The libsecret schema of the hub's items: attribute `name` is the secret's
 * name, attribute `hub` the hub's data folder; the label reads "prdhub: NAME". */
#define PRD_LIBSECRET_SCHEMA_NAME "org.prdtool.Hub.Secret"

#define PRD_TYPE_LIBSECRET_STORE (prd_libsecret_store_get_type ())

G_DECLARE_FINAL_TYPE (PrdLibsecretStore, prd_libsecret_store, PRD, LIBSECRET_STORE, GObject)

void prd_libsecret_store_new_async (const char *scope,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
PrdSecretStore *prd_libsecret_store_new_finish (GAsyncResult *result, GError **error);
PrdSecretStore *
prd_libsecret_store_new_sync (const char *scope, GCancellable *cancellable, GError **error);

G_END_DECLS
