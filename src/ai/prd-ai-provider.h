/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum
{
  PRD_AI_ROLE_SYSTEM,
  PRD_AI_ROLE_USER,
  PRD_AI_ROLE_ASSISTANT,
} PrdAiRole;

/**
 * PrdAiMessage:
 * @role: who speaks
 * @content: (owned): what they say, UTF-8
 *
 * One message of a chat request.
 */
typedef struct
{
  PrdAiRole role;
  char *content;
} PrdAiMessage;

PrdAiMessage *prd_ai_message_new (PrdAiRole role, const char *content);
void prd_ai_message_free (PrdAiMessage *message);
const char *prd_ai_role_to_string (PrdAiRole role);
GPtrArray *prd_ai_messages_new (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdAiMessage, prd_ai_message_free)

/**
 * PrdAiResponse:
 * @text: (owned): the whole answer; after an error, what arrived before it
 * @finish_reason: (owned) (nullable): e.g. "stop" or "length"
 * @model: (owned) (nullable): the model as the provider named it
 * @prompt_tokens: tokens of the request, -1 when not reported
 * @completion_tokens: tokens of the answer, -1 when not reported
 * @total_tokens: both, -1 when not reported
 * @http_status: the provider's HTTP status, 0 when none arrived
 * @retry_after: seconds the provider asked to wait (429), 0 when not given
 *
 * What a request produced. Handed out on success and on failure alike, so
 * that a caller can keep what was streamed before an error.
 */
typedef struct
{
  char *text;
  char *finish_reason;
  char *model;
  gint64 prompt_tokens;
  gint64 completion_tokens;
  gint64 total_tokens;
  guint http_status;
  guint retry_after;
} PrdAiResponse;

#define PRD_TYPE_AI_RESPONSE (prd_ai_response_get_type ())

GType prd_ai_response_get_type (void) G_GNUC_CONST;
PrdAiResponse *prd_ai_response_new (void);
PrdAiResponse *prd_ai_response_ref (PrdAiResponse *self);
void prd_ai_response_unref (PrdAiResponse *self);
gint64 prd_ai_response_get_tokens_used (const PrdAiResponse *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdAiResponse, prd_ai_response_unref)

/**
 * PrdAiDeltaFunc:
 * @delta: the next piece of the answer, UTF-8, never empty
 * @user_data: the data given with the function
 *
 * Called for each piece of a streamed answer as it arrives, on the thread
 * default main context of the caller that started the request.
 */
typedef void (*PrdAiDeltaFunc) (const char *delta, gpointer user_data);

#define PRD_TYPE_AI_PROVIDER (prd_ai_provider_get_type ())

G_DECLARE_INTERFACE (PrdAiProvider, prd_ai_provider, PRD, AI_PROVIDER, GObject)

/**
 * PrdAiProviderInterface:
 * @stream_async: send @messages and stream the answer through @delta_func
 * @stream_finish: the outcome; @response is filled on success and failure
 * @complete_async: send @messages and wait for the whole answer
 * @complete_finish: like @stream_finish
 *
 * A chat-completion backend. Requests reach the implementation validated
 * (at least one message, every content UTF-8).
 */
struct _PrdAiProviderInterface
{
  GTypeInterface parent_iface;

  void (*stream_async) (PrdAiProvider *self,
                        GPtrArray *messages,
                        PrdAiDeltaFunc delta_func,
                        gpointer delta_data,
                        GCancellable *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer user_data);
  gboolean (*stream_finish) (PrdAiProvider *self,
                             GAsyncResult *result,
                             PrdAiResponse **response,
                             GError **error);

  void (*complete_async) (PrdAiProvider *self,
                          GPtrArray *messages,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer user_data);
  gboolean (*complete_finish) (PrdAiProvider *self,
                               GAsyncResult *result,
                               PrdAiResponse **response,
                               GError **error);
};

void prd_ai_provider_stream_async (PrdAiProvider *self,
                                   GPtrArray *messages,
                                   PrdAiDeltaFunc delta_func,
                                   gpointer delta_data,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
gboolean prd_ai_provider_stream_finish (PrdAiProvider *self,
                                        GAsyncResult *result,
                                        PrdAiResponse **response,
                                        GError **error);
void prd_ai_provider_complete_async (PrdAiProvider *self,
                                     GPtrArray *messages,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
gboolean prd_ai_provider_complete_finish (PrdAiProvider *self,
                                          GAsyncResult *result,
                                          PrdAiResponse **response,
                                          GError **error);

G_END_DECLS
