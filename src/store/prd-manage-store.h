/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "prd-store.h"

G_BEGIN_DECLS

/**
 * PrdManageArchive:
 * @PRD_MANAGE_ARCHIVE_KEEP: leave the PRD archived or not, as it is
 * @PRD_MANAGE_ARCHIVE_SET: archive it (a PRD archived already keeps its time)
 * @PRD_MANAGE_ARCHIVE_CLEAR: unarchive it
 */
typedef enum
{
  PRD_MANAGE_ARCHIVE_KEEP,
  PRD_MANAGE_ARCHIVE_SET,
  PRD_MANAGE_ARCHIVE_CLEAR,
} PrdManageArchive;

/**
 * PrdManageListWhich:
 * @PRD_MANAGE_LIST_ACTIVE: the PRDs that are not archived
 * @PRD_MANAGE_LIST_ARCHIVED: the archived ones only
 * @PRD_MANAGE_LIST_ALL: both
 */
typedef enum
{
  PRD_MANAGE_LIST_ACTIVE,
  PRD_MANAGE_LIST_ARCHIVED,
  PRD_MANAGE_LIST_ALL,
} PrdManageListWhich;

#define PRD_TYPE_MANAGE_STORE (prd_manage_store_get_type ())

G_DECLARE_INTERFACE (PrdManageStore, prd_manage_store, PRD, MANAGE_STORE, GObject)

/**
 * PrdManageStoreInterface:
 * @update_async: rename and/or archive or unarchive a PRD in one write
 * @list_page_async: at most `limit` PRDs of an organization, archived or
 *   not, in creation order (`created_at`, then id), after a given one
 *
 * What managing PRDs (rename, archive) writes besides what #PrdStore does.
 * Arguments reach the implementation already checked.
 */
struct _PrdManageStoreInterface
{
  GTypeInterface parent_iface;

  void (*update_async) (PrdManageStore *self,
                        const char *prd_id,
                        const char *title,
                        PrdManageArchive archive,
                        GCancellable *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer user_data);
  PrdStoreInfo *(*update_finish) (PrdManageStore *self, GAsyncResult *result, GError **error);

  void (*list_page_async) (PrdManageStore *self,
                           const char *org,
                           PrdManageListWhich which,
                           gint64 after_created_at,
                           const char *after_id,
                           guint limit,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data);
  GPtrArray *(*list_page_finish) (PrdManageStore *self, GAsyncResult *result, GError **error);
};

void prd_manage_store_update_async (PrdManageStore *self,
                                    const char *prd_id,
                                    const char *title,
                                    PrdManageArchive archive,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
PrdStoreInfo *
prd_manage_store_update_finish (PrdManageStore *self, GAsyncResult *result, GError **error);

void prd_manage_store_list_page_async (PrdManageStore *self,
                                       const char *org,
                                       PrdManageListWhich which,
                                       gint64 after_created_at,
                                       const char *after_id,
                                       guint limit,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
GPtrArray *
prd_manage_store_list_page_finish (PrdManageStore *self, GAsyncResult *result, GError **error);

G_END_DECLS
