/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdConflictStore: the interface's record and checked entry points.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include "prd-error.h"
#include "prd-store.h"

#include "prd-conflict-store.h"

G_DEFINE_INTERFACE (PrdConflictStore, prd_conflict_store, G_TYPE_OBJECT)

static void
prd_conflict_store_default_init (PrdConflictStoreInterface *iface)
{
}

PrdConflictRecord *
prd_conflict_record_copy (const PrdConflictRecord *record)
{
  PrdConflictRecord *copy;

  g_return_val_if_fail (record != NULL, NULL);

  copy = g_new0 (PrdConflictRecord, 1);
  copy->id = g_strdup (record->id);
  copy->prd_id = g_strdup (record->prd_id);
  copy->position = record->position;
  copy->created_at = record->created_at;
  copy->parties = g_strdup (record->parties);
  return copy;
}

void
prd_conflict_record_free (PrdConflictRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->id);
  g_free (record->prd_id);
  g_free (record->parties);
  g_free (record);
}

/**
 * prd_conflict_store_list_async:
 *
 * Reads every open conflict.
 */
void
prd_conflict_store_list_async (PrdConflictStore *self,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
  g_return_if_fail (PRD_IS_CONFLICT_STORE (self));

  PRD_CONFLICT_STORE_GET_IFACE (self)->list_async (self, cancellable, callback, user_data);
}

/**
 * prd_conflict_store_list_finish:
 *
 * Returns: (transfer full) (element-type PrdConflictRecord): the open
 *   conflicts, or %NULL with @error set
 */
GPtrArray *
prd_conflict_store_list_finish (PrdConflictStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PRD_IS_CONFLICT_STORE (self), NULL);

  return PRD_CONFLICT_STORE_GET_IFACE (self)->list_finish (self, result, error);
}

/**
 * prd_conflict_store_add_async:
 * @conflict: the conflict; copied
 *
 * Stores a newly raised conflict. A PRD that does not exist, or an id that
 * is taken, fails and writes nothing.
 */
void
prd_conflict_store_add_async (PrdConflictStore *self,
                              const PrdConflictRecord *conflict,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
  GError *error = NULL;

  g_return_if_fail (PRD_IS_CONFLICT_STORE (self));
  g_return_if_fail (conflict != NULL);

  if (conflict->id == NULL || conflict->parties == NULL ||
      !g_utf8_validate (conflict->parties, -1, NULL) ||
      !prd_store_validate_prd_id (conflict->prd_id, &error))
    {
      if (error == NULL)
        g_set_error_literal (&error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                             "A conflict needs an id and its parties");
      g_task_report_error (self, callback, user_data, prd_conflict_store_add_async, error);
      return;
    }
  PRD_CONFLICT_STORE_GET_IFACE (self)->add_async (self, conflict, cancellable, callback, user_data);
}

/**
 * prd_conflict_store_add_finish:
 *
 * Returns: %TRUE once the conflict is committed
 */
gboolean
prd_conflict_store_add_finish (PrdConflictStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PRD_IS_CONFLICT_STORE (self), FALSE);

  if (g_async_result_is_tagged (result, prd_conflict_store_add_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return PRD_CONFLICT_STORE_GET_IFACE (self)->add_finish (self, result, error);
}

/**
 * prd_conflict_store_remove_async:
 * @id: the conflict
 *
 * Removes a resolved conflict; removing one that is not stored is not an
 * error.
 */
void
prd_conflict_store_remove_async (PrdConflictStore *self,
                                 const char *id,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  g_return_if_fail (PRD_IS_CONFLICT_STORE (self));
  g_return_if_fail (id != NULL);

  PRD_CONFLICT_STORE_GET_IFACE (self)->remove_async (self, id, cancellable, callback, user_data);
}

/**
 * prd_conflict_store_remove_finish:
 *
 * Returns: %TRUE once the removal is committed
 */
gboolean
prd_conflict_store_remove_finish (PrdConflictStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PRD_IS_CONFLICT_STORE (self), FALSE);

  return PRD_CONFLICT_STORE_GET_IFACE (self)->remove_finish (self, result, error);
}

/**
 * prd_conflict_store_resolve_async:
 * @id: the conflict resolved
 * @rewritten: (nullable) (element-type PrdConflictRecord): other open
 *   conflicts whose parties change with it (their @id and @parties are
 *   used); copied
 *
 * Removes a resolved conflict and rewrites the parties of @rewritten in
 * one transaction: both are written or neither. A conflict of @rewritten
 * that is not stored (resolved meanwhile) is skipped.
 */
void
prd_conflict_store_resolve_async (PrdConflictStore *self,
                                  const char *id,
                                  GPtrArray *rewritten,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  g_return_if_fail (PRD_IS_CONFLICT_STORE (self));
  g_return_if_fail (id != NULL);

  for (guint i = 0; rewritten != NULL && i < rewritten->len; i++)
    {
      const PrdConflictRecord *record = g_ptr_array_index (rewritten, i);

      if (record == NULL || record->id == NULL || record->parties == NULL ||
          !g_utf8_validate (record->parties, -1, NULL))
        {
          g_task_report_new_error (self, callback, user_data, prd_conflict_store_resolve_async,
                                   PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                                   "A rewritten conflict needs an id and its parties");
          return;
        }
    }
  PRD_CONFLICT_STORE_GET_IFACE (self)->resolve_async (self, id, rewritten, cancellable, callback,
                                                      user_data);
}

/**
 * prd_conflict_store_resolve_finish:
 *
 * Returns: %TRUE once the removal and the rewrites are committed
 */
gboolean
prd_conflict_store_resolve_finish (PrdConflictStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PRD_IS_CONFLICT_STORE (self), FALSE);

  if (g_async_result_is_tagged (result, prd_conflict_store_resolve_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return PRD_CONFLICT_STORE_GET_IFACE (self)->resolve_finish (self, result, error);
}
