/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * PrdIntegrationStore: what the integrations keep durable, per organization
 * and service: their settings (never their secrets, which live in the
 * #PrdSecretStore), the links between a PRD's items and the remote items
 * they were synchronised with, and the webhook deliveries already handled.
 *
 * Every method is asynchronous and completes on the main context it was
 * called from; a write that fails changes nothing.
 */

/* The longest settings text (JSON) one service keeps for one organization. */
#define PRD_INTEGRATION_STORE_MAX_SETTINGS 16384
/* How many webhook deliveries are remembered per organization (its newest,
 * all services together): more than a day of a busy organization's, the age
 * past which a delivery is refused as stale. One organization's deliveries
 * never push out another's. */
#define PRD_INTEGRATION_STORE_MAX_DELIVERIES 100000
/* The longest digest of a link: Jira's hash of an item's text, or what
 * Craft.io's objectives were at the last check (JSON). */
#define PRD_INTEGRATION_STORE_MAX_DIGEST 65536

/**
 * PrdIntegrationSettingsRecord:
 * @org: the organization
 * @service: the service (`jira`, …)
 * @settings: the settings as a JSON object text, secrets excluded
 * @updated_at: microseconds since the Unix epoch
 */
typedef struct
{
  char *org;
  char *service;
  char *settings;
  gint64 updated_at;
} PrdIntegrationSettingsRecord;

/**
 * PrdIntegrationLinkRecord:
 * @org: the organization
 * @service: the service
 * @prd_id: the PRD the item is in
 * @remote_key: the remote item's key (`PRD-12`), unique per org and service
 * @remote_id: (nullable): the remote item's id
 * @url: (nullable): where people see the remote item
 * @title: the item's title as of the last sync (both sides agreed on it)
 * @digest: what the item was as of the last sync, for seeing changes (a
 *   hash of its whole text, or its objectives), at most
 *   %PRD_INTEGRATION_STORE_MAX_DIGEST bytes
 * @position: the item's index among the PRD's items at the last sync
 * @status: (nullable): the remote item's status as last heard
 * @updated_at: microseconds since the Unix epoch when the store last wrote
 *   the link; 0 for a link not kept yet (see
 *   prd_integration_store_merge_links_async())
 * @status_at: the time (milliseconds since the Unix epoch) the service
 *   gave with the newest webhook delivery that set @status (see
 *   prd_integration_store_set_link_status_async()); 0 when none did
 */
typedef struct
{
  char *org;
  char *service;
  char *prd_id;
  char *remote_key;
  char *remote_id;
  char *url;
  char *title;
  char *digest;
  int position;
  char *status;
  gint64 updated_at;
  gint64 status_at;
} PrdIntegrationLinkRecord;

/**
 * PrdIntegrationLinkStatusOutcome:
 * @PRD_INTEGRATION_LINK_STATUS_CHANGED: the status was set
 * @PRD_INTEGRATION_LINK_STATUS_UNCHANGED: the link had that status already
 * @PRD_INTEGRATION_LINK_STATUS_OUTDATED: a newer delivery set the link's
 *   status already: nothing changed
 * @PRD_INTEGRATION_LINK_STATUS_NOT_LINKED: no such link is kept
 *
 * What prd_integration_store_set_link_status_async() did.
 */
typedef enum
{
  PRD_INTEGRATION_LINK_STATUS_CHANGED,
  PRD_INTEGRATION_LINK_STATUS_UNCHANGED,
  PRD_INTEGRATION_LINK_STATUS_OUTDATED,
  PRD_INTEGRATION_LINK_STATUS_NOT_LINKED,
} PrdIntegrationLinkStatusOutcome;

PrdIntegrationSettingsRecord *
prd_integration_settings_record_copy (const PrdIntegrationSettingsRecord *record);
void prd_integration_settings_record_free (PrdIntegrationSettingsRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdIntegrationSettingsRecord, prd_integration_settings_record_free)

PrdIntegrationLinkRecord *prd_integration_link_record_copy (const PrdIntegrationLinkRecord *record);
void prd_integration_link_record_free (PrdIntegrationLinkRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdIntegrationLinkRecord, prd_integration_link_record_free)

#define PRD_TYPE_INTEGRATION_STORE (prd_integration_store_get_type ())

G_DECLARE_INTERFACE (PrdIntegrationStore, prd_integration_store, PRD, INTEGRATION_STORE, GObject)

/**
 * PrdIntegrationStoreInterface:
 * @list_settings_async: the settings of every service of one organization,
 *   or of all organizations (@org %NULL)
 * @put_settings_async: replaces one service's settings
 * @delete_settings_async: forgets one service's settings and links
 *   (NOT_FOUND when none were kept)
 * @list_links_async: the links of one service, of one PRD or all (@prd_id
 *   %NULL)
 * @put_links_async: adds or replaces links (by org, service and remote key);
 *   a link whose PRD no longer exists is left out
 * @update_links_async: replaces what links that are still kept say (title,
 *   status, url, digest, position, by org, service and remote key); never
 *   adds one, so that a link forgotten after it was read stays forgotten
 * @merge_links_async: what a sync keeps, each link in one of two ways: a
 *   link not kept yet (@updated_at 0) is added unless its remote key is
 *   kept already or its PRD no longer exists; a link as it was read (with
 *   its @updated_at) has what a sync sets (remote id, url, title, digest,
 *   position) written only if it is still kept for its PRD, and its status
 *   only if no webhook delivery set one since it was read (@status_at
 *   and @updated_at unchanged; a delivery's write always moves
 *   @updated_at forward, so that one sent at the same millisecond as the
 *   one before it counts too): a link forgotten, or a status heard, after
 *   the sync read them stays so
 * @set_link_status_async: sets one link's status as a webhook delivery
 *   sent at @sent_at (ms) says, unless a delivery sent later set it
 *   already; the outcome says which
 * @add_link_async: adds one link, unless its PRD no longer exists
 *   (PRD_NOT_FOUND), its remote key is kept already
 *   (ALREADY_EXISTS) or its PRD holds @max_links links of its service
 *   already (LIMIT_REACHED); the count and the insert are one write, so
 *   that adds under way together never pass @max_links
 * @delete_link_async: forgets one link; its finish says whether there was
 *   one to forget (of deletes of one link under way together, one did)
 * @delete_prd_links_async: forgets the links of one PRD (it was deleted)
 * @record_delivery_async: remembers a webhook delivery; ALREADY_EXISTS when
 *   it was seen before
 * @forget_delivery_async: forgets a webhook delivery (its handling failed:
 *   a retry is handled again); forgetting one not remembered is no error
 *
 * Arguments reach the implementation already checked.
 */
struct _PrdIntegrationStoreInterface
{
  GTypeInterface parent_iface;

  void (*list_settings_async) (PrdIntegrationStore *self,
                               const char *org,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data);
  GPtrArray *(*list_settings_finish) (PrdIntegrationStore *self,
                                      GAsyncResult *result,
                                      GError **error);
  void (*put_settings_async) (PrdIntegrationStore *self,
                              const char *org,
                              const char *service,
                              const char *settings,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data);
  gboolean (*put_settings_finish) (PrdIntegrationStore *self, GAsyncResult *result, GError **error);
  void (*delete_settings_async) (PrdIntegrationStore *self,
                                 const char *org,
                                 const char *service,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
  gboolean (*delete_settings_finish) (PrdIntegrationStore *self,
                                      GAsyncResult *result,
                                      GError **error);
  void (*list_links_async) (PrdIntegrationStore *self,
                            const char *org,
                            const char *service,
                            const char *prd_id,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data);
  GPtrArray *(*list_links_finish) (PrdIntegrationStore *self, GAsyncResult *result, GError **error);
  void (*put_links_async) (PrdIntegrationStore *self,
                           GPtrArray *links,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data);
  gboolean (*put_links_finish) (PrdIntegrationStore *self, GAsyncResult *result, GError **error);
  void (*update_links_async) (PrdIntegrationStore *self,
                              GPtrArray *links,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data);
  gboolean (*update_links_finish) (PrdIntegrationStore *self, GAsyncResult *result, GError **error);
  void (*merge_links_async) (PrdIntegrationStore *self,
                             GPtrArray *links,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data);
  gboolean (*merge_links_finish) (PrdIntegrationStore *self, GAsyncResult *result, GError **error);
  void (*set_link_status_async) (PrdIntegrationStore *self,
                                 const char *org,
                                 const char *service,
                                 const char *remote_key,
                                 const char *status,
                                 gint64 sent_at,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
  gboolean (*set_link_status_finish) (PrdIntegrationStore *self,
                                      GAsyncResult *result,
                                      PrdIntegrationLinkStatusOutcome *out_outcome,
                                      GError **error);
  void (*add_link_async) (PrdIntegrationStore *self,
                          const PrdIntegrationLinkRecord *link,
                          guint max_links,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer user_data);
  gboolean (*add_link_finish) (PrdIntegrationStore *self, GAsyncResult *result, GError **error);
  void (*delete_link_async) (PrdIntegrationStore *self,
                             const char *org,
                             const char *service,
                             const char *remote_key,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data);
  gboolean (*delete_link_finish) (PrdIntegrationStore *self,
                                  GAsyncResult *result,
                                  gboolean *out_deleted,
                                  GError **error);
  void (*delete_prd_links_async) (PrdIntegrationStore *self,
                                  const char *org,
                                  const char *prd_id,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);
  gboolean (*delete_prd_links_finish) (PrdIntegrationStore *self,
                                       GAsyncResult *result,
                                       GError **error);
  void (*record_delivery_async) (PrdIntegrationStore *self,
                                 const char *org,
                                 const char *service,
                                 const char *delivery_id,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
  gboolean (*record_delivery_finish) (PrdIntegrationStore *self,
                                      GAsyncResult *result,
                                      GError **error);
  void (*forget_delivery_async) (PrdIntegrationStore *self,
                                 const char *org,
                                 const char *service,
                                 const char *delivery_id,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
  gboolean (*forget_delivery_finish) (PrdIntegrationStore *self,
                                      GAsyncResult *result,
                                      GError **error);
};

void prd_integration_store_list_settings_async (PrdIntegrationStore *self,
                                                const char *org,
                                                GCancellable *cancellable,
                                                GAsyncReadyCallback callback,
                                                gpointer user_data);
GPtrArray *prd_integration_store_list_settings_finish (PrdIntegrationStore *self,
                                                       GAsyncResult *result,
                                                       GError **error);
void prd_integration_store_put_settings_async (PrdIntegrationStore *self,
                                               const char *org,
                                               const char *service,
                                               const char *settings,
                                               GCancellable *cancellable,
                                               GAsyncReadyCallback callback,
                                               gpointer user_data);
gboolean prd_integration_store_put_settings_finish (PrdIntegrationStore *self,
                                                    GAsyncResult *result,
                                                    GError **error);
void prd_integration_store_delete_settings_async (PrdIntegrationStore *self,
                                                  const char *org,
                                                  const char *service,
                                                  GCancellable *cancellable,
                                                  GAsyncReadyCallback callback,
                                                  gpointer user_data);
gboolean prd_integration_store_delete_settings_finish (PrdIntegrationStore *self,
                                                       GAsyncResult *result,
                                                       GError **error);
void prd_integration_store_list_links_async (PrdIntegrationStore *self,
                                             const char *org,
                                             const char *service,
                                             const char *prd_id,
                                             GCancellable *cancellable,
                                             GAsyncReadyCallback callback,
                                             gpointer user_data);
GPtrArray *prd_integration_store_list_links_finish (PrdIntegrationStore *self,
                                                    GAsyncResult *result,
                                                    GError **error);
void prd_integration_store_put_links_async (PrdIntegrationStore *self,
                                            GPtrArray *links,
                                            GCancellable *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer user_data);
gboolean prd_integration_store_put_links_finish (PrdIntegrationStore *self,
                                                 GAsyncResult *result,
                                                 GError **error);
void prd_integration_store_update_links_async (PrdIntegrationStore *self,
                                               GPtrArray *links,
                                               GCancellable *cancellable,
                                               GAsyncReadyCallback callback,
                                               gpointer user_data);
gboolean prd_integration_store_update_links_finish (PrdIntegrationStore *self,
                                                    GAsyncResult *result,
                                                    GError **error);
void prd_integration_store_merge_links_async (PrdIntegrationStore *self,
                                              GPtrArray *links,
                                              GCancellable *cancellable,
                                              GAsyncReadyCallback callback,
                                              gpointer user_data);
gboolean prd_integration_store_merge_links_finish (PrdIntegrationStore *self,
                                                   GAsyncResult *result,
                                                   GError **error);
void prd_integration_store_set_link_status_async (PrdIntegrationStore *self,
                                                  const char *org,
                                                  const char *service,
                                                  const char *remote_key,
                                                  const char *status,
                                                  gint64 sent_at,
                                                  GCancellable *cancellable,
                                                  GAsyncReadyCallback callback,
                                                  gpointer user_data);
gboolean prd_integration_store_set_link_status_finish (PrdIntegrationStore *self,
                                                       GAsyncResult *result,
                                                       PrdIntegrationLinkStatusOutcome *out_outcome,
                                                       GError **error);
void prd_integration_store_add_link_async (PrdIntegrationStore *self,
                                           const PrdIntegrationLinkRecord *link,
                                           guint max_links,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data);
gboolean prd_integration_store_add_link_finish (PrdIntegrationStore *self,
                                                GAsyncResult *result,
                                                GError **error);
void prd_integration_store_delete_link_async (PrdIntegrationStore *self,
                                              const char *org,
                                              const char *service,
                                              const char *remote_key,
                                              GCancellable *cancellable,
                                              GAsyncReadyCallback callback,
                                              gpointer user_data);
gboolean prd_integration_store_delete_link_finish (PrdIntegrationStore *self,
                                                   GAsyncResult *result,
                                                   gboolean *out_deleted,
                                                   GError **error);
void prd_integration_store_delete_prd_links_async (PrdIntegrationStore *self,
                                                   const char *org,
                                                   const char *prd_id,
                                                   GCancellable *cancellable,
                                                   GAsyncReadyCallback callback,
                                                   gpointer user_data);
gboolean prd_integration_store_delete_prd_links_finish (PrdIntegrationStore *self,
                                                        GAsyncResult *result,
                                                        GError **error);
void prd_integration_store_record_delivery_async (PrdIntegrationStore *self,
                                                  const char *org,
                                                  const char *service,
                                                  const char *delivery_id,
                                                  GCancellable *cancellable,
                                                  GAsyncReadyCallback callback,
                                                  gpointer user_data);
gboolean prd_integration_store_record_delivery_finish (PrdIntegrationStore *self,
                                                       GAsyncResult *result,
                                                       GError **error);
void prd_integration_store_forget_delivery_async (PrdIntegrationStore *self,
                                                  const char *org,
                                                  const char *service,
                                                  const char *delivery_id,
                                                  GCancellable *cancellable,
                                                  GAsyncReadyCallback callback,
                                                  gpointer user_data);
gboolean prd_integration_store_forget_delivery_finish (PrdIntegrationStore *self,
                                                       GAsyncResult *result,
                                                       GError **error);

gboolean prd_integration_store_check_org (const char *org, GError **error);
gboolean prd_integration_store_check_service (const char *service, GError **error);

G_END_DECLS
