/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdRevocationStore: the interface's record and checked entry points.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-store.h"

#include "prd-revocation-store.h"

G_DEFINE_INTERFACE (PrdRevocationStore, prd_revocation_store, G_TYPE_OBJECT)

static void
prd_revocation_store_default_init (PrdRevocationStoreInterface *iface)
{
}

void
prd_revocation_record_free (PrdRevocationRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->org);
  g_free (record->user_id);
  g_free (record);
}

/**
 * prd_revocation_store_revoke_async:
 * @org: the user's organization
 * @user_id: the user
 * @revoked_at: seconds since the Unix epoch, > 0
 *
 * Revokes the user's tokens issued at or before @revoked_at.
 */
void
prd_revocation_store_revoke_async (PrdRevocationStore *self,
                                   const char *org,
                                   const char *user_id,
                                   gint64 revoked_at,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  GError *error = NULL;

  g_return_if_fail (PRD_IS_REVOCATION_STORE (self));

  if (!prd_store_validate_name ("organization", org, &error) ||
      !prd_store_validate_name ("user", user_id, &error))
    {
      g_task_report_error (self, callback, user_data, prd_revocation_store_revoke_async, error);
      return;
    }
  if (revoked_at <= 0)
    {
      g_task_report_new_error (self, callback, user_data, prd_revocation_store_revoke_async,
                               PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                               "A revocation needs a time after the epoch");
      return;
    }
  PRD_REVOCATION_STORE_GET_IFACE (self)->revoke_async (self, org, user_id, revoked_at, cancellable,
                                                       callback, user_data);
}

gboolean
prd_revocation_store_revoke_finish (PrdRevocationStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PRD_IS_REVOCATION_STORE (self), FALSE);

  if (g_async_result_is_tagged (result, prd_revocation_store_revoke_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return PRD_REVOCATION_STORE_GET_IFACE (self)->revoke_finish (self, result, error);
}

void
prd_revocation_store_list_async (PrdRevocationStore *self,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  g_return_if_fail (PRD_IS_REVOCATION_STORE (self));

  PRD_REVOCATION_STORE_GET_IFACE (self)->list_async (self, cancellable, callback, user_data);
}

/**
 * prd_revocation_store_list_finish:
 *
 * Returns: (transfer container) (element-type PrdRevocationRecord): every
 *   revocation, or %NULL with @error
 */
GPtrArray *
prd_revocation_store_list_finish (PrdRevocationStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PRD_IS_REVOCATION_STORE (self), NULL);

  return PRD_REVOCATION_STORE_GET_IFACE (self)->list_finish (self, result, error);
}

/**
 * prd_revocation_store_use_link_async:
 * @link_id: the link's id (its token's `sign_in_link` claim): 1 to 64
 *   ASCII letters, digits and `-`
 * @expires_at: when the link expires, seconds since the Unix epoch
 *
 * Records that the sign-in link @link_id has opened its session. Links that
 * expired are forgotten meanwhile.
 */
void
prd_revocation_store_use_link_async (PrdRevocationStore *self,
                                     const char *link_id,
                                     gint64 expires_at,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data)
{
  gsize len;

  g_return_if_fail (PRD_IS_REVOCATION_STORE (self));
  g_return_if_fail (link_id != NULL);

  len = strlen (link_id);
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (link_id[i]) && link_id[i] != '-')
      len = 0;
  if (len == 0 || len > 64)
    {
      g_task_report_new_error (self, callback, user_data, prd_revocation_store_use_link_async,
                               PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                               "A sign-in link's id is 1 to 64 letters, digits and -");
      return;
    }
  PRD_REVOCATION_STORE_GET_IFACE (self)->use_link_async (self, link_id, expires_at, cancellable,
                                                         callback, user_data);
}

/**
 * prd_revocation_store_use_link_finish:
 *
 * Returns: %TRUE if the link had not been used, else %FALSE with
 *   %PRD_ERROR_TOKEN_REVOKED (used already) or another error
 */
gboolean
prd_revocation_store_use_link_finish (PrdRevocationStore *self,
                                      GAsyncResult *result,
                                      GError **error)
{
  g_return_val_if_fail (PRD_IS_REVOCATION_STORE (self), FALSE);

  if (g_async_result_is_tagged (result, prd_revocation_store_use_link_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return PRD_REVOCATION_STORE_GET_IFACE (self)->use_link_finish (self, result, error);
}
