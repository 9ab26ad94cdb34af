/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-approval-store.h"
#include "prd-hub-room-registry.h"
#include "prd-store.h"

G_BEGIN_DECLS

#define PRD_TYPE_HUB_APPROVALS (prd_hub_approvals_get_type ())
G_DECLARE_FINAL_TYPE (PrdHubApprovals, prd_hub_approvals, PRD, HUB_APPROVALS, GObject)

PrdHubApprovals *
prd_hub_approvals_new (PrdHubRoomRegistry *rooms, PrdStore *store, PrdApprovalStore *approvals);

G_END_DECLS
