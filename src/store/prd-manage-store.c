/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdManageStore: renaming and archiving PRDs. Deleting one is
 * prd_store_delete_async(); its versions, comments, sites and update log
 * go with it.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include "prd-error.h"

#include "prd-manage-store.h"

G_DEFINE_INTERFACE (PrdManageStore, prd_manage_store, G_TYPE_OBJECT)

static void
prd_manage_store_default_init (PrdManageStoreInterface *iface)
{
}

/**
 * prd_manage_store_update_async:
 * @prd_id: the PRD
 * @title: (nullable): the new title (1 to %PRD_STORE_TITLE_MAX_CHARS
 *   characters), or %NULL to keep it
 * @archive: whether to archive or unarchive it
 *
 * Renames and/or archives @prd_id in one write (its `updated_at` moves on).
 * An unknown PRD fails with %PRD_ERROR_PRD_NOT_FOUND, a bad id or title
 * with %PRD_ERROR_INVALID_ID / %PRD_ERROR_INVALID_PAYLOAD; either writes
 * nothing.
 */
void
prd_manage_store_update_async (PrdManageStore *self,
                               const char *prd_id,
                               const char *title,
                               PrdManageArchive archive,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
  GError *error = NULL;

  g_return_if_fail (PRD_IS_MANAGE_STORE (self));
  g_return_if_fail (archive >= PRD_MANAGE_ARCHIVE_KEEP && archive <= PRD_MANAGE_ARCHIVE_CLEAR);

  if (!prd_store_validate_prd_id (prd_id, &error) ||
      (title != NULL && !prd_store_validate_title (title, &error)))
    {
      g_task_report_error (self, callback, user_data, prd_manage_store_update_async, error);
      return;
    }
  PRD_MANAGE_STORE_GET_IFACE (self)->update_async (self, prd_id, title, archive, cancellable,
                                                   callback, user_data);
}

/**
 * prd_manage_store_update_finish:
 *
 * Returns: (transfer full): the PRD as it is now, or %NULL with @error set
 */
PrdStoreInfo *
prd_manage_store_update_finish (PrdManageStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PRD_IS_MANAGE_STORE (self), NULL);

  if (g_async_result_is_tagged (result, prd_manage_store_update_async))
    return g_task_propagate_pointer (G_TASK (result), error);
  return PRD_MANAGE_STORE_GET_IFACE (self)->update_finish (self, result, error);
}

/**
 * prd_manage_store_list_page_async:
 * @org: the organization
 * @which: archived PRDs, the others, or both
 * @after_created_at: the `created_at` of the last PRD of the previous page
 * @after_id: (nullable): the id of that PRD, or %NULL for the first page
 * @limit: how many PRDs at most (at least 1)
 *
 * Reads a page of the PRDs of @org, oldest first (by `created_at`, then
 * id): at most @limit of those that come after (@after_created_at,
 * @after_id). The filter is the query's, so a page costs its own rows,
 * however many PRDs the organization has. A PRD created meanwhile comes
 * after every older one, and a deleted one takes no other's place, so
 * paging on neither skips nor repeats one.
 */
void
prd_manage_store_list_page_async (PrdManageStore *self,
                                  const char *org,
                                  PrdManageListWhich which,
                                  gint64 after_created_at,
                                  const char *after_id,
                                  guint limit,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  GError *error = NULL;

  g_return_if_fail (PRD_IS_MANAGE_STORE (self));
  g_return_if_fail (which >= PRD_MANAGE_LIST_ACTIVE && which <= PRD_MANAGE_LIST_ALL);
  g_return_if_fail (limit > 0);

  if (!prd_store_validate_name ("organization", org, &error) ||
      (after_id != NULL && !prd_store_validate_prd_id (after_id, &error)))
    {
      g_task_report_error (self, callback, user_data, prd_manage_store_list_page_async, error);
      return;
    }
  PRD_MANAGE_STORE_GET_IFACE (self)->list_page_async (self, org, which, after_created_at, after_id,
                                                      limit, cancellable, callback, user_data);
}

/**
 * prd_manage_store_list_page_finish:
 *
 * Returns: (transfer full) (element-type PrdStoreInfo): the page's PRDs
 *   (empty past the last one), or %NULL with @error set
 */
GPtrArray *
prd_manage_store_list_page_finish (PrdManageStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PRD_IS_MANAGE_STORE (self), NULL);

  if (g_async_result_is_tagged (result, prd_manage_store_list_page_async))
    return g_task_propagate_pointer (G_TASK (result), error);
  return PRD_MANAGE_STORE_GET_IFACE (self)->list_page_finish (self, result, error);
}
