/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-integration.h"

G_BEGIN_DECLS

#define PRD_MATTERMOST_SERVICE "mattermost"
/* Mattermost's post size limit (characters), since server 5.0. */
#define PRD_MATTERMOST_MAX_MESSAGE 16383
/* The longest user text (a title, a name, a comment) quoted in a message;
 * longer text is cut with an ellipsis. */
#define PRD_MATTERMOST_MAX_QUOTE 2000

/**
 * PrdMattermostEvent:
 * The events a message can be posted for (the `notify` setting).
 */
typedef enum
{
  PRD_MATTERMOST_PRD_APPROVED,
  PRD_MATTERMOST_VERSION_CREATED,
  PRD_MATTERMOST_COMMENT_MENTION,
  PRD_MATTERMOST_PRD_CREATED,
  PRD_MATTERMOST_N_EVENTS,
} PrdMattermostEvent;

const char *prd_mattermost_event_to_string (PrdMattermostEvent event);

#define PRD_TYPE_MATTERMOST (prd_mattermost_get_type ())

G_DECLARE_FINAL_TYPE (PrdMattermost, prd_mattermost, PRD, MATTERMOST, GObject)

const char *prd_mattermost_get_server_url (PrdMattermost *self);
const char *prd_mattermost_get_channel (PrdMattermost *self);
gboolean prd_mattermost_notifies (PrdMattermost *self, PrdMattermostEvent event);

char *prd_mattermost_escape (const char *text, gsize max_chars);
char *prd_mattermost_message (PrdMattermostEvent event,
                              const char *prd_title,
                              const char *actor,
                              const char *detail,
                              const char *prd_url);

void prd_mattermost_post_async (PrdMattermost *self,
                                const char *message,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data);
char *prd_mattermost_post_finish (PrdMattermost *self, GAsyncResult *result, GError **error);

G_END_DECLS
