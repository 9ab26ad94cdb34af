/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-integration.h"

G_BEGIN_DECLS

#define PRD_CRAFTIO_SERVICE "craftio"
/* Items read per page, and the most pages one listing reads. */
#define PRD_CRAFTIO_PAGE_SIZE 100
#define PRD_CRAFTIO_MAX_PAGES 50
/* The most objectives and keywords kept per initiative. */
#define PRD_CRAFTIO_MAX_OBJECTIVES 50
/* Matching a PRD's title to initiatives (prd_craftio_match_score()):
 * at or above SUGGEST an initiative is offered, at or above AUTO (with at
 * least two words in common) it is linked. */
#define PRD_CRAFTIO_SUGGEST_SCORE 0.5
#define PRD_CRAFTIO_AUTO_SCORE    0.8
/* The alignment heuristic's thresholds (prd_craftio_alignment()). */
#define PRD_CRAFTIO_ALIGNED_SCORE   0.75
#define PRD_CRAFTIO_REVIEW_SCORE    0.4
#define PRD_CRAFTIO_MAX_SUGGESTIONS 10

/**
 * PrdCraftInitiative:
 * @id: the item's id (as text)
 * @title: its title
 * @status: (nullable): its status, as `in_progress` (lower case, words
 *   joined by `_`)
 * @objectives: (array zero-terminated=1): its objectives' titles
 * @keywords: (array zero-terminated=1): its labels
 * @url: (nullable): where people see it
 */
typedef struct
{
  char *id;
  char *title;
  char *status;
  GStrv objectives;
  GStrv keywords;
  char *url;
} PrdCraftInitiative;

void prd_craft_initiative_free (PrdCraftInitiative *initiative);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdCraftInitiative, prd_craft_initiative_free)
PrdCraftInitiative *prd_craft_initiative_parse (JsonObject *item, GError **error);
JsonObject *prd_craft_initiative_to_json (const PrdCraftInitiative *initiative);
char *prd_craft_status_normalize (const char *name);
gboolean prd_craftio_id_is_valid (const char *id);

double prd_craftio_match_score (const char *prd_title, const PrdCraftInitiative *initiative);
gboolean prd_craftio_match_is_automatic (const char *prd_title,
                                         const PrdCraftInitiative *initiative);
double prd_craftio_alignment (const PrdCraftInitiative *const *initiatives,
                              guint n_initiatives,
                              const char *prd_text,
                              GPtrArray *suggestions);
const char *prd_craftio_alignment_status (double score);

#define PRD_TYPE_CRAFTIO (prd_craftio_get_type ())

G_DECLARE_FINAL_TYPE (PrdCraftio, prd_craftio, PRD, CRAFTIO, GObject)

/**
 * PrdCraftioCall:
 * @PRD_CRAFTIO_CALL_DEFAULT: the call's outcome sets the status
 * @PRD_CRAFTIO_CALL_POLL: the call is part of a poll: it is logged
 *   (prd_integration_log_call()), and the poll sets the status once, when it ends
 *   (prd_craftio_report_poll())
 */
typedef enum
{
  PRD_CRAFTIO_CALL_DEFAULT,
  PRD_CRAFTIO_CALL_POLL,
} PrdCraftioCall;

guint prd_craftio_get_poll_interval (PrdCraftio *self);
void prd_craftio_report_poll (PrdCraftio *self, const GError *error);

void prd_craftio_get_item_async (PrdCraftio *self,
                                 const char *id,
                                 PrdCraftioCall call,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
PrdCraftInitiative *
prd_craftio_get_item_finish (PrdCraftio *self, GAsyncResult *result, GError **error);

void prd_craftio_list_initiatives_async (PrdCraftio *self,
                                         gint64 updated_from,
                                         GHashTable *only,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
GPtrArray *prd_craftio_list_initiatives_finish (PrdCraftio *self,
                                                GAsyncResult *result,
                                                gboolean *out_complete,
                                                gint64 *out_requested_at,
                                                gint64 *out_clock,
                                                GError **error);

void prd_craftio_list_titles_async (PrdCraftio *self,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
GPtrArray *prd_craftio_list_titles_finish (PrdCraftio *self, GAsyncResult *result, GError **error);

G_END_DECLS
