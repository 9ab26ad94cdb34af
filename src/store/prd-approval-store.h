/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "prd-notification-store.h"

G_BEGIN_DECLS

/*
 * PrdApprovalStore: approvals of PRDs.
 *
 * An approval is written together with the notifications and activities
 * that announce it, in one transaction. Approvals are only recorded; nothing
 * in the hub reads them back yet.
 *
 * Every method is asynchronous and completes on the main context it was
 * called from; a write that fails changes nothing.
 */

/**
 * PrdApprovalRecord:
 * @prd_id: the PRD approved
 * @approver_id: the approver's user id
 * @approver_name: the approver's display name
 * @comment: (nullable): what they added
 * @created_at: microseconds since the Unix epoch
 */
typedef struct
{
  char *prd_id;
  char *approver_id;
  char *approver_name;
  char *comment;
  gint64 created_at;
} PrdApprovalRecord;

PrdApprovalRecord *prd_approval_record_copy (const PrdApprovalRecord *record);
void prd_approval_record_free (PrdApprovalRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdApprovalRecord, prd_approval_record_free)

#define PRD_TYPE_APPROVAL_STORE (prd_approval_store_get_type ())

G_DECLARE_INTERFACE (PrdApprovalStore, prd_approval_store, PRD, APPROVAL_STORE, GObject)

/**
 * PrdApprovalStoreInterface:
 * @add_async: an approval, with its announcements (PRD_NOT_FOUND, nothing
 *   written, when its PRD no longer exists)
 *
 * Arguments reach the implementation already checked; the announcement
 * arrays are its own copies (never %NULL), which it may keep a reference to.
 */
struct _PrdApprovalStoreInterface
{
  GTypeInterface parent_iface;

  void (*add_async) (PrdApprovalStore *self,
                     const PrdApprovalRecord *approval,
                     GPtrArray *notifications,
                     GPtrArray *activities,
                     GCancellable *cancellable,
                     GAsyncReadyCallback callback,
                     gpointer user_data);
  gboolean (*add_finish) (PrdApprovalStore *self, GAsyncResult *result, GError **error);
};

void prd_approval_store_add_async (PrdApprovalStore *self,
                                   const PrdApprovalRecord *approval,
                                   GPtrArray *notifications,
                                   GPtrArray *activities,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
gboolean
prd_approval_store_add_finish (PrdApprovalStore *self, GAsyncResult *result, GError **error);

G_END_DECLS
