/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-integration-store.h"
#include "prd-integration.h"
#include "prd-secret-store.h"

G_BEGIN_DECLS

/**
 * PrdIntegrationEntry:
 * @org: the organization
 * @service: the service
 * @configured: whether settings are kept for it
 * @settings: (nullable): the non-secret settings, defaults applied (%NULL
 *   when not configured)
 * @secrets_set: (array zero-terminated=1): the secret keys that are stored
 * @integration: (nullable): the service, ready to use; %NULL when not
 *   configured or incomplete
 * @problem: (nullable): why a configured service cannot be used
 * @updated_at: when its settings last changed (0 if never)
 */
typedef struct
{
  char *org;
  char *service;
  gboolean configured;
  JsonObject *settings;
  GStrv secrets_set;
  PrdIntegration *integration;
  char *problem;
  gint64 updated_at;
  /*< private >*/
  JsonObject *stored;
} PrdIntegrationEntry;

void prd_integration_entry_free (PrdIntegrationEntry *entry);
gboolean prd_integration_entry_check_usable (const PrdIntegrationEntry *entry,
                                             GType type,
                                             const char *missing,
                                             GError **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdIntegrationEntry, prd_integration_entry_free)

#define PRD_TYPE_INTEGRATION_REGISTRY (prd_integration_registry_get_type ())

G_DECLARE_FINAL_TYPE (
    PrdIntegrationRegistry, prd_integration_registry, PRD, INTEGRATION_REGISTRY, GObject)

PrdIntegrationRegistry *prd_integration_registry_new (PrdIntegrationStore *store,
                                                      PrdSecretStore *secrets);
void prd_integration_registry_add_service (PrdIntegrationRegistry *self, GType type);
gboolean prd_integration_registry_has_service (PrdIntegrationRegistry *self, const char *service);
const PrdIntegrationKey *prd_integration_registry_get_schema (PrdIntegrationRegistry *self,
                                                              const char *service,
                                                              gsize *n_keys);
GStrv prd_integration_registry_list_services (PrdIntegrationRegistry *self);
PrdIntegrationStore *prd_integration_registry_get_store (PrdIntegrationRegistry *self);
void prd_integration_registry_shutdown (PrdIntegrationRegistry *self);

void prd_integration_registry_get_async (PrdIntegrationRegistry *self,
                                         const char *org,
                                         const char *service,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
PrdIntegrationEntry *prd_integration_registry_get_finish (PrdIntegrationRegistry *self,
                                                          GAsyncResult *result,
                                                          GError **error);

void prd_integration_registry_list_async (PrdIntegrationRegistry *self,
                                          const char *org,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data);
GPtrArray *prd_integration_registry_list_finish (PrdIntegrationRegistry *self,
                                                 GAsyncResult *result,
                                                 GError **error);

void prd_integration_registry_put_async (PrdIntegrationRegistry *self,
                                         const char *org,
                                         const char *service,
                                         JsonObject *input,
                                         gboolean replace,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
PrdIntegrationEntry *prd_integration_registry_put_finish (PrdIntegrationRegistry *self,
                                                          GAsyncResult *result,
                                                          char **out_bad_key,
                                                          GError **error);

void prd_integration_registry_remove_async (PrdIntegrationRegistry *self,
                                            const char *org,
                                            const char *service,
                                            GCancellable *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer user_data);
gboolean prd_integration_registry_remove_finish (PrdIntegrationRegistry *self,
                                                 GAsyncResult *result,
                                                 GError **error);

JsonObject *prd_integration_entry_to_json (PrdIntegrationRegistry *self,
                                           const PrdIntegrationEntry *entry);

G_END_DECLS
