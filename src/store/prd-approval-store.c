/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdApprovalStore: the interface's record and checked entry point.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include "prd-error.h"
#include "prd-store.h"

#include "prd-approval-store.h"

G_DEFINE_INTERFACE (PrdApprovalStore, prd_approval_store, G_TYPE_OBJECT)

static void
prd_approval_store_default_init (PrdApprovalStoreInterface *iface)
{
}

PrdApprovalRecord *
prd_approval_record_copy (const PrdApprovalRecord *record)
{
  PrdApprovalRecord *copy;

  g_return_val_if_fail (record != NULL, NULL);

  copy = g_new0 (PrdApprovalRecord, 1);
  copy->prd_id = g_strdup (record->prd_id);
  copy->approver_id = g_strdup (record->approver_id);
  copy->approver_name = g_strdup (record->approver_name);
  copy->comment = g_strdup (record->comment);
  copy->created_at = record->created_at;
  return copy;
}

void
prd_approval_record_free (PrdApprovalRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->prd_id);
  g_free (record->approver_id);
  g_free (record->approver_name);
  g_free (record->comment);
  g_free (record);
}

/**
 * prd_approval_store_add_async:
 * @approval: the approval; copied
 * @notifications: (nullable) (element-type PrdNotificationRecord): copied
 * @activities: (nullable) (element-type PrdActivityRecord): copied
 *
 * Records @approval with the notifications and activities that announce
 * it, in one transaction. A PRD that does not exist fails and writes
 * nothing.
 */
void
prd_approval_store_add_async (PrdApprovalStore *self,
                              const PrdApprovalRecord *approval,
                              GPtrArray *notifications,
                              GPtrArray *activities,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
  g_autoptr (GPtrArray) n = NULL;
  g_autoptr (GPtrArray) a = NULL;
  GError *error = NULL;

  g_return_if_fail (PRD_IS_APPROVAL_STORE (self));
  g_return_if_fail (approval != NULL);

  if (!prd_store_validate_prd_id (approval->prd_id, &error) ||
      !prd_store_validate_name ("approver", approval->approver_id, &error) ||
      !prd_notification_records_validate (notifications, activities, &error))
    {
      g_task_report_error (self, callback, user_data, prd_approval_store_add_async, error);
      return;
    }
  if (approval->approver_name == NULL)
    {
      g_task_report_new_error (self, callback, user_data, prd_approval_store_add_async, PRD_ERROR,
                               PRD_ERROR_INVALID_PAYLOAD, "The approver needs a name");
      return;
    }
  n = prd_notification_records_copy (notifications);
  a = prd_activity_records_copy (activities);
  PRD_APPROVAL_STORE_GET_IFACE (self)->add_async (self, approval, n, a, cancellable, callback,
                                                  user_data);
}

/**
 * prd_approval_store_add_finish:
 *
 * Returns: %TRUE once the approval and its announcements are committed
 */
gboolean
prd_approval_store_add_finish (PrdApprovalStore *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PRD_IS_APPROVAL_STORE (self), FALSE);

  if (g_async_result_is_tagged (result, prd_approval_store_add_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return PRD_APPROVAL_STORE_GET_IFACE (self)->add_finish (self, result, error);
}
