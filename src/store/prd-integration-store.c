/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdIntegrationStore: the interface's records and checked entry points.
 * Arguments are checked here, once for every backend, before anything is
 * queued; a rejected request changes nothing.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-store.h"

#include "prd-integration-store.h"

#define MAX_ORG_LENGTH      256
#define MAX_SERVICE_LENGTH  32
#define MAX_KEY_LENGTH      255
#define MAX_DELIVERY_LENGTH 255

G_DEFINE_INTERFACE (PrdIntegrationStore, prd_integration_store, G_TYPE_OBJECT)

static void
prd_integration_store_default_init (PrdIntegrationStoreInterface *iface)
{
}

/* ---- records ---- */

PrdIntegrationSettingsRecord *
prd_integration_settings_record_copy (const PrdIntegrationSettingsRecord *record)
{
  PrdIntegrationSettingsRecord *copy;

  g_return_val_if_fail (record != NULL, NULL);

  copy = g_new0 (PrdIntegrationSettingsRecord, 1);
  copy->org = g_strdup (record->org);
  copy->service = g_strdup (record->service);
  copy->settings = g_strdup (record->settings);
  copy->updated_at = record->updated_at;
  return copy;
}

void
prd_integration_settings_record_free (PrdIntegrationSettingsRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->org);
  g_free (record->service);
  g_free (record->settings);
  g_free (record);
}

PrdIntegrationLinkRecord *
prd_integration_link_record_copy (const PrdIntegrationLinkRecord *record)
{
  PrdIntegrationLinkRecord *copy;

  g_return_val_if_fail (record != NULL, NULL);

  copy = g_new0 (PrdIntegrationLinkRecord, 1);
  copy->org = g_strdup (record->org);
  copy->service = g_strdup (record->service);
  copy->prd_id = g_strdup (record->prd_id);
  copy->remote_key = g_strdup (record->remote_key);
  copy->remote_id = g_strdup (record->remote_id);
  copy->url = g_strdup (record->url);
  copy->title = g_strdup (record->title);
  copy->digest = g_strdup (record->digest);
  copy->position = record->position;
  copy->status = g_strdup (record->status);
  copy->updated_at = record->updated_at;
  copy->status_at = record->status_at;
  return copy;
}

void
prd_integration_link_record_free (PrdIntegrationLinkRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->org);
  g_free (record->service);
  g_free (record->prd_id);
  g_free (record->remote_key);
  g_free (record->remote_id);
  g_free (record->url);
  g_free (record->title);
  g_free (record->digest);
  g_free (record->status);
  g_free (record);
}

/* ---- checks ---- */

/**
 * prd_integration_store_check_org:
 *
 * An organization id (the JWT's `org`): 1 to 256 bytes of UTF-8 without
 * control characters.
 */
gboolean
prd_integration_store_check_org (const char *org, GError **error)
{
  gsize len = org != NULL ? strlen (org) : 0;

  if (len == 0 || len > MAX_ORG_LENGTH || !g_utf8_validate (org, -1, NULL))
    goto bad;
  for (const char *p = org; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      goto bad;
  return TRUE;

bad:
  g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_ID,
               "An organization id is 1 to %d bytes of text without control characters",
               MAX_ORG_LENGTH);
  return FALSE;
}

/**
 * prd_integration_store_check_service:
 *
 * A service name: `[a-z][a-z0-9-]{0,31}`.
 */
gboolean
prd_integration_store_check_service (const char *service, GError **error)
{
  gsize len = service != NULL ? strlen (service) : 0;

  if (len == 0 || len > MAX_SERVICE_LENGTH || !g_ascii_islower (service[0]))
    goto bad;
  for (const char *p = service; *p != '\0'; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && *p != '-')
      goto bad;
  return TRUE;

bad:
  g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_ID,
                       "A service name is a lower-case letter, then up to 31 lower-case "
                       "letters, digits or '-'");
  return FALSE;
}

static gboolean
check_text (const char *text, gsize max, const char *what, GError **error)
{
  gsize len = text != NULL ? strlen (text) : 0;

  if (len == 0 || len > max || !g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                   "%s must be 1 to %" G_GSIZE_FORMAT " bytes of UTF-8", what, max);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_link (const PrdIntegrationLinkRecord *link, GError **error)
{
  return prd_integration_store_check_org (link->org, error) &&
         prd_integration_store_check_service (link->service, error) &&
         prd_store_validate_prd_id (link->prd_id, error) &&
         check_text (link->remote_key, MAX_KEY_LENGTH, "A remote key", error) &&
         check_text (link->title, 4096, "A title", error) &&
         check_text (link->digest, PRD_INTEGRATION_STORE_MAX_DIGEST, "A digest", error);
}

static gboolean
report (
    gpointer self, gpointer tag, GError *error, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;

  if (error == NULL)
    return FALSE;
  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, tag);
  g_task_return_error (task, error);
  return TRUE;
}

/* ---- entry points ---- */

void
prd_integration_store_list_settings_async (PrdIntegrationStore *self,
                                           const char *org,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data)
{
  GError *error = NULL;

  g_return_if_fail (PRD_IS_INTEGRATION_STORE (self));

  if (org != NULL)
    prd_integration_store_check_org (org, &error);
  if (report (self, prd_integration_store_list_settings_async, error, callback, user_data))
    return;
  PRD_INTEGRATION_STORE_GET_IFACE (self)->list_settings_async (self, org, cancellable, callback,
                                                               user_data);
}

GPtrArray *
prd_integration_store_list_settings_finish (PrdIntegrationStore *self,
                                            GAsyncResult *result,
                                            GError **error)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION_STORE (self), NULL);

  if (g_async_result_is_tagged (result, prd_integration_store_list_settings_async))
    return g_task_propagate_pointer (G_TASK (result), error);
  return PRD_INTEGRATION_STORE_GET_IFACE (self)->list_settings_finish (self, result, error);
}

void
prd_integration_store_put_settings_async (PrdIntegrationStore *self,
                                          const char *org,
                                          const char *service,
                                          const char *settings,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data)
{
  GError *error = NULL;

  g_return_if_fail (PRD_IS_INTEGRATION_STORE (self));

  if (prd_integration_store_check_org (org, &error) &&
      prd_integration_store_check_service (service, &error))
    check_text (settings, PRD_INTEGRATION_STORE_MAX_SETTINGS, "The settings", &error);
  if (report (self, prd_integration_store_put_settings_async, error, callback, user_data))
    return;
  PRD_INTEGRATION_STORE_GET_IFACE (self)->put_settings_async (self, org, service, settings,
                                                              cancellable, callback, user_data);
}

gboolean
prd_integration_store_put_settings_finish (PrdIntegrationStore *self,
                                           GAsyncResult *result,
                                           GError **error)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION_STORE (self), FALSE);

  if (g_async_result_is_tagged (result, prd_integration_store_put_settings_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return PRD_INTEGRATION_STORE_GET_IFACE (self)->put_settings_finish (self, result, error);
}

void
prd_integration_store_delete_settings_async (PrdIntegrationStore *self,
                                             const char *org,
                                             const char *service,
                                             GCancellable *cancellable,
                                             GAsyncReadyCallback callback,
                                             gpointer user_data)
{
  GError *error = NULL;

  g_return_if_fail (PRD_IS_INTEGRATION_STORE (self));

  if (prd_integration_store_check_org (org, &error))
    prd_integration_store_check_service (service, &error);
  if (report (self, prd_integration_store_delete_settings_async, error, callback, user_data))
    return;
  PRD_INTEGRATION_STORE_GET_IFACE (self)->delete_settings_async (self, org, service, cancellable,
                                                                 callback, user_data);
}

gboolean
prd_integration_store_delete_settings_finish (PrdIntegrationStore *self,
                                              GAsyncResult *result,
                                              GError **error)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION_STORE (self), FALSE);

  if (g_async_result_is_tagged (result, prd_integration_store_delete_settings_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return PRD_INTEGRATION_STORE_GET_IFACE (self)->delete_settings_finish (self, result, error);
}

void
prd_integration_store_list_links_async (PrdIntegrationStore *self,
                                        const char *org,
                                        const char *service,
                                        const char *prd_id,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data)
{
  GError *error = NULL;

  g_return_if_fail (PRD_IS_INTEGRATION_STORE (self));

  if (prd_integration_store_check_org (org, &error) &&
      prd_integration_store_check_service (service, &error) && prd_id != NULL)
    prd_store_validate_prd_id (prd_id, &error);
  if (report (self, prd_integration_store_list_links_async, error, callback, user_data))
    return;
  PRD_INTEGRATION_STORE_GET_IFACE (self)->list_links_async (self, org, service, prd_id, cancellable,
                                                            callback, user_data);
}

GPtrArray *
prd_integration_store_list_links_finish (PrdIntegrationStore *self,
                                         GAsyncResult *result,
                                         GError **error)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION_STORE (self), NULL);

  if (g_async_result_is_tagged (result, prd_integration_store_list_links_async))
    return g_task_propagate_pointer (G_TASK (result), error);
  return PRD_INTEGRATION_STORE_GET_IFACE (self)->list_links_finish (self, result, error);
}

/* Returns: (transfer full): a copy of @links, checked (@error set for the
 * first that is not valid) */
static GPtrArray *
copy_links (GPtrArray *links, GError **error)
{
  GPtrArray *copy =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_integration_link_record_free);

  for (guint i = 0; i < links->len && (error == NULL || *error == NULL); i++)
    {
      const PrdIntegrationLinkRecord *link = g_ptr_array_index (links, i);

      check_link (link, error);
      g_ptr_array_add (copy, prd_integration_link_record_copy (link));
    }
  return copy;
}

void
prd_integration_store_put_links_async (PrdIntegrationStore *self,
                                       GPtrArray *links,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data)
{
  g_autoptr (GPtrArray) copy = NULL;
  GError *error = NULL;

  g_return_if_fail (PRD_IS_INTEGRATION_STORE (self));
  g_return_if_fail (links != NULL);

  copy = copy_links (links, &error);
  if (report (self, prd_integration_store_put_links_async, error, callback, user_data))
    return;
  PRD_INTEGRATION_STORE_GET_IFACE (self)->put_links_async (self, copy, cancellable, callback,
                                                           user_data);
}

gboolean
prd_integration_store_put_links_finish (PrdIntegrationStore *self,
                                        GAsyncResult *result,
                                        GError **error)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION_STORE (self), FALSE);

  if (g_async_result_is_tagged (result, prd_integration_store_put_links_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return PRD_INTEGRATION_STORE_GET_IFACE (self)->put_links_finish (self, result, error);
}

/**
 * prd_integration_store_update_links_async:
 * @links: (element-type PrdIntegrationLinkRecord): what the links say now
 *
 * Replaces the title, status, url, digest and position of those of @links
 * that are still kept; a link forgotten meanwhile is not added again.
 */
void
prd_integration_store_update_links_async (PrdIntegrationStore *self,
                                          GPtrArray *links,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data)
{
  g_autoptr (GPtrArray) copy = NULL;
  GError *error = NULL;

  g_return_if_fail (PRD_IS_INTEGRATION_STORE (self));
  g_return_if_fail (links != NULL);

  copy = copy_links (links, &error);
  if (report (self, prd_integration_store_update_links_async, error, callback, user_data))
    return;
  PRD_INTEGRATION_STORE_GET_IFACE (self)->update_links_async (self, copy, cancellable, callback,
                                                              user_data);
}

gboolean
prd_integration_store_update_links_finish (PrdIntegrationStore *self,
                                           GAsyncResult *result,
                                           GError **error)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION_STORE (self), FALSE);

  if (g_async_result_is_tagged (result, prd_integration_store_update_links_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return PRD_INTEGRATION_STORE_GET_IFACE (self)->update_links_finish (self, result, error);
}

/**
 * prd_integration_store_merge_links_async:
 * @links: (element-type PrdIntegrationLinkRecord): what a sync keeps
 *
 * Keeps what a sync learnt without undoing what changed since it read the
 * links: a link with @updated_at 0 is new and added unless its remote key
 * is kept already (or its PRD is gone); any other is one the sync read,
 * whose remote id, url, title, digest and position are written if it is
 * still kept for its PRD, and its status only if its @status_at is still
 * the one read (no webhook delivery set a status since). One write.
 */
void
prd_integration_store_merge_links_async (PrdIntegrationStore *self,
                                         GPtrArray *links,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data)
{
  g_autoptr (GPtrArray) copy = NULL;
  GError *error = NULL;

  g_return_if_fail (PRD_IS_INTEGRATION_STORE (self));
  g_return_if_fail (links != NULL);

  copy = copy_links (links, &error);
  if (report (self, prd_integration_store_merge_links_async, error, callback, user_data))
    return;
  PRD_INTEGRATION_STORE_GET_IFACE (self)->merge_links_async (self, copy, cancellable, callback,
                                                             user_data);
}

gboolean
prd_integration_store_merge_links_finish (PrdIntegrationStore *self,
                                          GAsyncResult *result,
                                          GError **error)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION_STORE (self), FALSE);

  if (g_async_result_is_tagged (result, prd_integration_store_merge_links_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return PRD_INTEGRATION_STORE_GET_IFACE (self)->merge_links_finish (self, result, error);
}

/**
 * prd_integration_store_set_link_status_async:
 * @status: the status a webhook delivery gave
 * @sent_at: when the service sent the delivery (milliseconds since the
 *   Unix epoch)
 *
 * Sets the status of the link of @remote_key, unless a delivery sent after
 * @sent_at set it already (OUTDATED: deliveries may arrive out of order; a
 * time kept ahead of now, as after the clock was set back, orders nothing,
 * so that it cannot make every later delivery outdated);
 * the read and the write are one operation, so that deliveries handled
 * together leave the newest one's status.
 */
void
prd_integration_store_set_link_status_async (PrdIntegrationStore *self,
                                             const char *org,
                                             const char *service,
                                             const char *remote_key,
                                             const char *status,
                                             gint64 sent_at,
                                             GCancellable *cancellable,
                                             GAsyncReadyCallback callback,
                                             gpointer user_data)
{
  GError *error = NULL;

  g_return_if_fail (PRD_IS_INTEGRATION_STORE (self));

  if (prd_integration_store_check_org (org, &error) &&
      prd_integration_store_check_service (service, &error) &&
      check_text (remote_key, MAX_KEY_LENGTH, "A remote key", &error))
    check_text (status, 4096, "A status", &error);
  if (report (self, prd_integration_store_set_link_status_async, error, callback, user_data))
    return;
  PRD_INTEGRATION_STORE_GET_IFACE (self)->set_link_status_async (
      self, org, service, remote_key, status, sent_at, cancellable, callback, user_data);
}

/**
 * prd_integration_store_set_link_status_finish:
 * @out_outcome: (out) (optional): what was done
 */
gboolean
prd_integration_store_set_link_status_finish (PrdIntegrationStore *self,
                                              GAsyncResult *result,
                                              PrdIntegrationLinkStatusOutcome *out_outcome,
                                              GError **error)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION_STORE (self), FALSE);

  if (g_async_result_is_tagged (result, prd_integration_store_set_link_status_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return PRD_INTEGRATION_STORE_GET_IFACE (self)->set_link_status_finish (self, result, out_outcome,
                                                                         error);
}

/**
 * prd_integration_store_add_link_async:
 * @link: the link to add
 * @max_links: the most links of @link's service its PRD may hold
 *
 * Adds @link unless its remote key is kept already (ALREADY_EXISTS) or its
 * PRD holds @max_links links of the service already (LIMIT_REACHED). The
 * count and the insert are one write: adds under way together never pass
 * @max_links, where a count read before an add would let them all through.
 */
void
prd_integration_store_add_link_async (PrdIntegrationStore *self,
                                      const PrdIntegrationLinkRecord *link,
                                      guint max_links,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data)
{
  GError *error = NULL;

  g_return_if_fail (PRD_IS_INTEGRATION_STORE (self));
  g_return_if_fail (link != NULL);

  check_link (link, &error);
  if (report (self, prd_integration_store_add_link_async, error, callback, user_data))
    return;
  PRD_INTEGRATION_STORE_GET_IFACE (self)->add_link_async (self, link, max_links, cancellable,
                                                          callback, user_data);
}

gboolean
prd_integration_store_add_link_finish (PrdIntegrationStore *self,
                                       GAsyncResult *result,
                                       GError **error)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION_STORE (self), FALSE);

  if (g_async_result_is_tagged (result, prd_integration_store_add_link_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return PRD_INTEGRATION_STORE_GET_IFACE (self)->add_link_finish (self, result, error);
}

void
prd_integration_store_delete_link_async (PrdIntegrationStore *self,
                                         const char *org,
                                         const char *service,
                                         const char *remote_key,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data)
{
  GError *error = NULL;

  g_return_if_fail (PRD_IS_INTEGRATION_STORE (self));

  if (prd_integration_store_check_org (org, &error) &&
      prd_integration_store_check_service (service, &error))
    check_text (remote_key, MAX_KEY_LENGTH, "A remote key", &error);
  if (report (self, prd_integration_store_delete_link_async, error, callback, user_data))
    return;
  PRD_INTEGRATION_STORE_GET_IFACE (self)->delete_link_async (self, org, service, remote_key,
                                                             cancellable, callback, user_data);
}

/**
 * prd_integration_store_delete_link_finish:
 * @out_deleted: (out) (optional): whether a link was forgotten (%FALSE: it
 *   was not kept, or another delete forgot it first)
 */
gboolean
prd_integration_store_delete_link_finish (PrdIntegrationStore *self,
                                          GAsyncResult *result,
                                          gboolean *out_deleted,
                                          GError **error)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION_STORE (self), FALSE);

  if (out_deleted != NULL)
    *out_deleted = FALSE;
  if (g_async_result_is_tagged (result, prd_integration_store_delete_link_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return PRD_INTEGRATION_STORE_GET_IFACE (self)->delete_link_finish (self, result, out_deleted,
                                                                     error);
}

/**
 * prd_integration_store_delete_prd_links_async:
 *
 * Forgets the links of @prd_id, of every service (the PRD was deleted).
 */
void
prd_integration_store_delete_prd_links_async (PrdIntegrationStore *self,
                                              const char *org,
                                              const char *prd_id,
                                              GCancellable *cancellable,
                                              GAsyncReadyCallback callback,
                                              gpointer user_data)
{
  GError *error = NULL;

  g_return_if_fail (PRD_IS_INTEGRATION_STORE (self));

  if (prd_integration_store_check_org (org, &error))
    prd_store_validate_prd_id (prd_id, &error);
  if (report (self, prd_integration_store_delete_prd_links_async, error, callback, user_data))
    return;
  PRD_INTEGRATION_STORE_GET_IFACE (self)->delete_prd_links_async (self, org, prd_id, cancellable,
                                                                  callback, user_data);
}

gboolean
prd_integration_store_delete_prd_links_finish (PrdIntegrationStore *self,
                                               GAsyncResult *result,
                                               GError **error)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION_STORE (self), FALSE);

  if (g_async_result_is_tagged (result, prd_integration_store_delete_prd_links_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return PRD_INTEGRATION_STORE_GET_IFACE (self)->delete_prd_links_finish (self, result, error);
}

void
prd_integration_store_record_delivery_async (PrdIntegrationStore *self,
                                             const char *org,
                                             const char *service,
                                             const char *delivery_id,
                                             GCancellable *cancellable,
                                             GAsyncReadyCallback callback,
                                             gpointer user_data)
{
  GError *error = NULL;

  g_return_if_fail (PRD_IS_INTEGRATION_STORE (self));

  if (prd_integration_store_check_org (org, &error) &&
      prd_integration_store_check_service (service, &error))
    check_text (delivery_id, MAX_DELIVERY_LENGTH, "A delivery id", &error);
  if (report (self, prd_integration_store_record_delivery_async, error, callback, user_data))
    return;
  PRD_INTEGRATION_STORE_GET_IFACE (self)->record_delivery_async (self, org, service, delivery_id,
                                                                 cancellable, callback, user_data);
}

gboolean
prd_integration_store_record_delivery_finish (PrdIntegrationStore *self,
                                              GAsyncResult *result,
                                              GError **error)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION_STORE (self), FALSE);

  if (g_async_result_is_tagged (result, prd_integration_store_record_delivery_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return PRD_INTEGRATION_STORE_GET_IFACE (self)->record_delivery_finish (self, result, error);
}

/**
 * prd_integration_store_forget_delivery_async:
 *
 * Forgets a delivery prd_integration_store_record_delivery_async()
 * remembered and whose handling then failed: its retry is to be handled,
 * not answered as a duplicate.
 */
void
prd_integration_store_forget_delivery_async (PrdIntegrationStore *self,
                                             const char *org,
                                             const char *service,
                                             const char *delivery_id,
                                             GCancellable *cancellable,
                                             GAsyncReadyCallback callback,
                                             gpointer user_data)
{
  GError *error = NULL;

  g_return_if_fail (PRD_IS_INTEGRATION_STORE (self));

  if (prd_integration_store_check_org (org, &error) &&
      prd_integration_store_check_service (service, &error))
    check_text (delivery_id, MAX_DELIVERY_LENGTH, "A delivery id", &error);
  if (report (self, prd_integration_store_forget_delivery_async, error, callback, user_data))
    return;
  PRD_INTEGRATION_STORE_GET_IFACE (self)->forget_delivery_async (self, org, service, delivery_id,
                                                                 cancellable, callback, user_data);
}

gboolean
prd_integration_store_forget_delivery_finish (PrdIntegrationStore *self,
                                              GAsyncResult *result,
                                              GError **error)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION_STORE (self), FALSE);

  if (g_async_result_is_tagged (result, prd_integration_store_forget_delivery_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return PRD_INTEGRATION_STORE_GET_IFACE (self)->forget_delivery_finish (self, result, error);
}
