/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * PrdAiJobStore: the record of AI jobs.
 *
 * One record per job, written as the job moves from queued to streaming to
 * its end and kept after that, so that an admin can see who asked what and
 * what it cost: each user's (organization and user id) newest
 * PRD_AI_JOB_STORE_USER_LIMIT, in the order they were last recorded, with
 * the jobs not ended yet; the record of a new job deletes the user's older
 * ended ones, in the same transaction. No job survives a restart: when
 * the hub starts, it marks the jobs a previous run left unfinished as
 * failed (prd_ai_job_store_interrupt_async()).
 *
 * Every method is asynchronous and completes on the main context it was
 * called from; a write that fails changes nothing.
 */

/* The jobs kept per user: 33 hours of asking at the default hourly quota
 * (30), weeks of ordinary use; the rows carry the prompts. */
#define PRD_AI_JOB_STORE_USER_LIMIT 1000

/**
 * PrdAiJobRecord:
 * @id: the job id (`job_…`)
 * @prd_id: the PRD it writes into
 * @org: (nullable): the organization of who asked (%NULL: unknown, kept
 *   as the empty string)
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
 */
typedef struct
{
  char *id;
  char *prd_id;
  char *org;
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
} PrdAiJobRecord;

PrdAiJobRecord *prd_ai_job_record_copy (const PrdAiJobRecord *job);
void prd_ai_job_record_free (PrdAiJobRecord *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdAiJobRecord, prd_ai_job_record_free)

#define PRD_TYPE_AI_JOB_STORE (prd_ai_job_store_get_type ())

G_DECLARE_INTERFACE (PrdAiJobStore, prd_ai_job_store, PRD, AI_JOB_STORE, GObject)

/**
 * PrdAiJobStoreInterface:
 * @save_async: insert or replace one job's record
 * @get_async: one job's record; %NULL without error when there is none
 * @interrupt_async: mark every queued or streaming job failed; finishes
 *   with how many changed
 *
 * Arguments reach the implementation already checked.
 */
struct _PrdAiJobStoreInterface
{
  GTypeInterface parent_iface;

  void (*save_async) (PrdAiJobStore *self,
                      const PrdAiJobRecord *job,
                      GCancellable *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer user_data);
  gboolean (*save_finish) (PrdAiJobStore *self, GAsyncResult *result, GError **error);

  void (*get_async) (PrdAiJobStore *self,
                     const char *id,
                     GCancellable *cancellable,
                     GAsyncReadyCallback callback,
                     gpointer user_data);
  PrdAiJobRecord *(*get_finish) (PrdAiJobStore *self, GAsyncResult *result, GError **error);

  void (*interrupt_async) (PrdAiJobStore *self,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data);
  gint64 (*interrupt_finish) (PrdAiJobStore *self, GAsyncResult *result, GError **error);
};

void prd_ai_job_store_save_async (PrdAiJobStore *self,
                                  const PrdAiJobRecord *job,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);
gboolean prd_ai_job_store_save_finish (PrdAiJobStore *self, GAsyncResult *result, GError **error);

void prd_ai_job_store_get_async (PrdAiJobStore *self,
                                 const char *id,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
PrdAiJobRecord *
prd_ai_job_store_get_finish (PrdAiJobStore *self, GAsyncResult *result, GError **error);

void prd_ai_job_store_interrupt_async (PrdAiJobStore *self,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
gint64
prd_ai_job_store_interrupt_finish (PrdAiJobStore *self, GAsyncResult *result, GError **error);

G_END_DECLS
