/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The DNS-SD service type hubs are announced under. */
#define PRD_HUB_DISCOVERY_TYPE "_prdhub._tcp"

#define PRD_TYPE_HUB_DISCOVERY (prd_hub_discovery_get_type ())
G_DECLARE_FINAL_TYPE (PrdHubDiscovery, prd_hub_discovery, PRD, HUB_DISCOVERY, GObject)

PrdHubDiscovery *
prd_hub_discovery_new (const char *name, const char *listen_host, guint16 port, gboolean tls);
void prd_hub_discovery_start (PrdHubDiscovery *self);
GVariant *prd_hub_discovery_get_state (PrdHubDiscovery *self);
char *prd_hub_discovery_default_name (void);

/**
 * PrdHubFound:
 * @name: the announced name
 * @url: where to connect, e.g. `http://192.168.1.20:3000/`
 * @version: (nullable): the hub's version from its TXT record
 */
typedef struct
{
  char *name;
  char *url;
  char *version;
} PrdHubFound;

void prd_hub_found_free (PrdHubFound *found);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdHubFound, prd_hub_found_free)

void prd_hub_discover_async (guint timeout_ms,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data);
GPtrArray *prd_hub_discover_finish (GAsyncResult *result, GError **error);

G_END_DECLS
