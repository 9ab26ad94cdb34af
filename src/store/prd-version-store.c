/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdVersionStore: the interface's record, checked entry points, and the
 * version arithmetic (ids, semantic-version bumps) the hub needs around it.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-git-repo.h"
#include "prd-store.h"

#include "prd-version-store.h"

G_DEFINE_INTERFACE (PrdVersionStore, prd_version_store, G_TYPE_OBJECT)

static void
prd_version_store_default_init (PrdVersionStoreInterface *iface)
{
}

PrdVersionRecord *
prd_version_record_copy (const PrdVersionRecord *record)
{
  PrdVersionRecord *copy = g_new0 (PrdVersionRecord, 1);

  copy->id = g_strdup (record->id);
  copy->prd_id = g_strdup (record->prd_id);
  copy->version = g_strdup (record->version);
  copy->commit_hash = g_strdup (record->commit_hash);
  copy->changelog = g_strdup (record->changelog);
  copy->created_by_id = g_strdup (record->created_by_id);
  copy->created_by_name = g_strdup (record->created_by_name);
  copy->created_at = record->created_at;
  copy->seq = record->seq;
  return copy;
}

void
prd_version_record_free (PrdVersionRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->id);
  g_free (record->prd_id);
  g_free (record->version);
  g_free (record->commit_hash);
  g_free (record->changelog);
  g_free (record->created_by_id);
  g_free (record->created_by_name);
  g_free (record);
}

/* `ver_` and 16 lower-case hex digits (64 random bits). */
char *
prd_version_generate_id (void)
{
  return g_strdup_printf ("ver_%08x%08x", g_random_int (), g_random_int ());
}

/**
 * prd_version_bump:
 * @type: "major", "minor" or "patch"
 *
 * Returns: (transfer full): the next version, or %NULL with
 *   INVALID_PAYLOAD for an unknown @type or a bad @version
 */
char *
prd_version_bump (const char *version, const char *type, GError **error)
{
  g_auto (GStrv) parts = NULL;
  guint64 major, minor, patch;

  if (!prd_git_validate_version (version, error))
    return NULL;
  parts = g_strsplit (version, ".", 3);
  major = g_ascii_strtoull (parts[0], NULL, 10);
  minor = g_ascii_strtoull (parts[1], NULL, 10);
  patch = g_ascii_strtoull (parts[2], NULL, 10);
  if (g_strcmp0 (type, "major") == 0)
    return g_strdup_printf ("%" G_GUINT64_FORMAT ".0.0", major + 1);
  if (g_strcmp0 (type, "minor") == 0)
    return g_strdup_printf ("%" G_GUINT64_FORMAT ".%" G_GUINT64_FORMAT ".0", major, minor + 1);
  if (g_strcmp0 (type, "patch") == 0)
    return g_strdup_printf ("%" G_GUINT64_FORMAT ".%" G_GUINT64_FORMAT ".%" G_GUINT64_FORMAT, major,
                            minor, patch + 1);
  g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                       "versionType must be \"major\", \"minor\" or \"patch\"");
  return NULL;
}

/**
 * prd_version_store_add_async:
 * @record: the version; copied
 *
 * Records @record and sets the PRD's version to `record->version`, in one
 * transaction. A PRD that does not exist fails with
 * %PRD_ERROR_PRD_NOT_FOUND, a version it already has with
 * %PRD_ERROR_ALREADY_EXISTS; either writes nothing.
 */
void
prd_version_store_add_async (PrdVersionStore *self,
                             const PrdVersionRecord *record,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data)
{
  GError *error = NULL;

  g_return_if_fail (PRD_IS_VERSION_STORE (self));
  g_return_if_fail (record != NULL);

  if (!prd_store_validate_prd_id (record->prd_id, &error) ||
      !prd_store_validate_name ("author", record->created_by_id, &error))
    {
      g_task_report_error (self, callback, user_data, prd_version_store_add_async, error);
      return;
    }
  if (record->id == NULL || record->version == NULL || record->commit_hash == NULL ||
      record->changelog == NULL || record->created_by_name == NULL)
    {
      g_task_report_new_error (
          self, callback, user_data, prd_version_store_add_async, PRD_ERROR,
          PRD_ERROR_INVALID_PAYLOAD,
          "A version needs an id, a number, a commit, a changelog and an author name");
      return;
    }
  PRD_VERSION_STORE_GET_IFACE (self)->add_async (self, record, cancellable, callback, user_data);
}

/**
 * prd_version_store_add_finish:
 *
 * Returns: %TRUE once the version is committed
 */
gboolean
prd_version_store_add_finish (PrdVersionStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PRD_IS_VERSION_STORE (self), FALSE);

  if (g_async_result_is_tagged (result, prd_version_store_add_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return PRD_VERSION_STORE_GET_IFACE (self)->add_finish (self, result, error);
}

/**
 * prd_version_store_list_async:
 * @prd_id: the PRD
 *
 * Reads the versions of @prd_id, oldest first.
 */
void
prd_version_store_list_async (PrdVersionStore *self,
                              const char *prd_id,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
  GError *error = NULL;

  g_return_if_fail (PRD_IS_VERSION_STORE (self));

  if (!prd_store_validate_prd_id (prd_id, &error))
    {
      g_task_report_error (self, callback, user_data, prd_version_store_list_async, error);
      return;
    }
  PRD_VERSION_STORE_GET_IFACE (self)->list_async (self, prd_id, cancellable, callback, user_data);
}

/**
 * prd_version_store_list_finish:
 *
 * Returns: (transfer full) (element-type PrdVersionRecord): the versions,
 *   or %NULL with @error set
 */
GPtrArray *
prd_version_store_list_finish (PrdVersionStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PRD_IS_VERSION_STORE (self), NULL);

  if (g_async_result_is_tagged (result, prd_version_store_list_async))
    return g_task_propagate_pointer (G_TASK (result), error);
  return PRD_VERSION_STORE_GET_IFACE (self)->list_finish (self, result, error);
}

/**
 * prd_version_store_list_page_async:
 * @prd_id: the PRD
 * @skip: how many of the PRD's versions the previous pages held, 0 for
 *   the first page
 * @limit: how many versions at most (at least 1)
 *
 * Reads a page of the versions of @prd_id, oldest first: at most @limit of
 * them, after the first @skip. A PRD's versions are only ever added after
 * the others (they go only with the PRD), so paging on never skips or
 * repeats one; the cost grows with @skip, bounded by the PRD's versions.
 */
void
prd_version_store_list_page_async (PrdVersionStore *self,
                                   const char *prd_id,
                                   gint64 skip,
                                   guint limit,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  GError *error = NULL;

  g_return_if_fail (PRD_IS_VERSION_STORE (self));
  g_return_if_fail (skip >= 0);
  g_return_if_fail (limit > 0);

  if (!prd_store_validate_prd_id (prd_id, &error))
    {
      g_task_report_error (self, callback, user_data, prd_version_store_list_page_async, error);
      return;
    }
  PRD_VERSION_STORE_GET_IFACE (self)->list_page_async (self, prd_id, skip, limit, cancellable,
                                                       callback, user_data);
}

/**
 * prd_version_store_list_page_finish:
 *
 * Returns: (transfer full) (element-type PrdVersionRecord): the page's
 *   versions (empty past the last one), or %NULL with @error set
 */
GPtrArray *
prd_version_store_list_page_finish (PrdVersionStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PRD_IS_VERSION_STORE (self), NULL);

  if (g_async_result_is_tagged (result, prd_version_store_list_page_async))
    return g_task_propagate_pointer (G_TASK (result), error);
  return PRD_VERSION_STORE_GET_IFACE (self)->list_page_finish (self, result, error);
}
