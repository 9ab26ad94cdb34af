/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-ai-job-store.h"

G_BEGIN_DECLS

/* The ends of jobs the store refused to record, kept until a save
 * succeeds: at most a fixed number, the oldest forgotten first. */
typedef struct _PrdHubAiUnsaved PrdHubAiUnsaved;

/* How many ends are kept (docs/protocol.md, "Jobs on record"). */
#define PRD_HUB_AI_MAX_UNSAVED_JOBS 1000

PrdHubAiUnsaved *prd_hub_ai_unsaved_new (guint max);
void prd_hub_ai_unsaved_free (PrdHubAiUnsaved *self);
char *prd_hub_ai_unsaved_keep (PrdHubAiUnsaved *self, PrdAiJobRecord *record);
const PrdAiJobRecord *prd_hub_ai_unsaved_lookup (PrdHubAiUnsaved *self, const char *job_id);
gboolean prd_hub_ai_unsaved_forget (PrdHubAiUnsaved *self, const char *job_id);
guint prd_hub_ai_unsaved_get_size (PrdHubAiUnsaved *self);
GPtrArray *prd_hub_ai_unsaved_list (PrdHubAiUnsaved *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdHubAiUnsaved, prd_hub_ai_unsaved_free)

G_END_DECLS
