/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-sqlite-store.h"

G_BEGIN_DECLS

/**
 * PrdStoreAiJob:
 * @id: the job id (`job_…`)
 * @prd_id: the PRD it writes into
 * @user_id: who asked
 * @prompt: what they asked
 * @section: (nullable): the section slug
 * @state: "queued", "streaming", "complete", "failed" or "cancelled"
 * @tokens: tokens used (0 when unknown)
 * @duration: milliseconds from start to end (0 while not ended)
 * @error_code: (nullable): the protocol code of a failure
 * @error_message: (nullable): its message
 * @created_at: ms since the epoch
 * @updated_at: ms since the epoch
 *
 * One row of `ai_jobs`, the record an admin lists.
 */
typedef struct
{
  char *id;
  char *prd_id;
  char *user_id;
  char *prompt;
  char *section;
  char *state;
  gint64 tokens;
  gint64 duration;
  char *error_code;
  char *error_message;
  gint64 created_at;
  gint64 updated_at;
} PrdStoreAiJob;

PrdStoreAiJob *prd_store_ai_job_copy (const PrdStoreAiJob *job);
void prd_store_ai_job_free (PrdStoreAiJob *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdStoreAiJob, prd_store_ai_job_free)

/* Inserts or replaces the row of @job->id. */
void prd_sqlite_store_ai_save_job_async (PrdSqliteStore *self,
                                         const PrdStoreAiJob *job,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
gboolean
prd_sqlite_store_ai_save_job_finish (PrdSqliteStore *self, GAsyncResult *result, GError **error);

/* (transfer full) (nullable): NULL with no error when there is no such job. */
void prd_sqlite_store_ai_get_job_async (PrdSqliteStore *self,
                                        const char *id,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data);
PrdStoreAiJob *
prd_sqlite_store_ai_get_job_finish (PrdSqliteStore *self, GAsyncResult *result, GError **error);

/* Marks every queued or streaming job failed with INTERRUPTED (at startup:
 * no job survives a restart); the number of jobs changed. */
void prd_sqlite_store_ai_interrupt_async (PrdSqliteStore *self,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data);
gint64
prd_sqlite_store_ai_interrupt_finish (PrdSqliteStore *self, GAsyncResult *result, GError **error);

G_END_DECLS
