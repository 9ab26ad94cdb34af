/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdAiProvider: a chat-completion backend (OpenAI-compatible servers,
 * Ollama, vLLM…). Callers hand it a list of messages and get the answer
 * streamed piece by piece, or whole. Whatever the outcome, the finish
 * functions hand back a PrdAiResponse, so a failed stream still yields the
 * text that arrived and, for a 429, how long to wait.
 */
#define G_LOG_DOMAIN "prd-ai"

#include "config.h"

#include "prd-error.h"

#include "prd-ai-provider.h"

G_DEFINE_INTERFACE (PrdAiProvider, prd_ai_provider, G_TYPE_OBJECT)

G_DEFINE_BOXED_TYPE (PrdAiResponse, prd_ai_response, prd_ai_response_ref, prd_ai_response_unref)

static void
prd_ai_provider_default_init (PrdAiProviderInterface *iface)
{
}

PrdAiMessage *
prd_ai_message_new (PrdAiRole role, const char *content)
{
  PrdAiMessage *message;

  g_return_val_if_fail (content != NULL, NULL);

  message = g_new0 (PrdAiMessage, 1);
  message->role = role;
  message->content = g_strdup (content);
  return message;
}

void
prd_ai_message_free (PrdAiMessage *message)
{
  if (message == NULL)
    return;
  g_free (message->content);
  g_free (message);
}

/**
 * prd_ai_messages_new:
 *
 * Returns: (transfer full) (element-type PrdAiMessage): an empty list that
 *   frees its messages
 */
GPtrArray *
prd_ai_messages_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) prd_ai_message_free);
}

/**
 * prd_ai_role_to_string:
 *
 * Returns: (transfer none): the role's name in the Chat Completions API
 */
const char *
prd_ai_role_to_string (PrdAiRole role)
{
  switch (role)
    {
      case PRD_AI_ROLE_SYSTEM:
        return "system";
      case PRD_AI_ROLE_USER:
        return "user";
      case PRD_AI_ROLE_ASSISTANT:
        return "assistant";
      default:
        g_return_val_if_reached ("user");
    }
}

static void
response_clear (gpointer data)
{
  PrdAiResponse *self = data;

  g_free (self->text);
  g_free (self->finish_reason);
  g_free (self->model);
}

PrdAiResponse *
prd_ai_response_new (void)
{
  PrdAiResponse *self = g_rc_box_new0 (PrdAiResponse);

  self->text = g_strdup ("");
  self->prompt_tokens = -1;
  self->completion_tokens = -1;
  self->total_tokens = -1;
  return self;
}

PrdAiResponse *
prd_ai_response_ref (PrdAiResponse *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return g_rc_box_acquire (self);
}

void
prd_ai_response_unref (PrdAiResponse *self)
{
  g_return_if_fail (self != NULL);

  g_rc_box_release_full (self, response_clear);
}

/**
 * prd_ai_response_get_tokens_used:
 *
 * Returns: the total tokens when the provider reported them, else the
 *   completion tokens, else 0
 */
gint64
prd_ai_response_get_tokens_used (const PrdAiResponse *self)
{
  g_return_val_if_fail (self != NULL, 0);

  if (self->total_tokens >= 0)
    return self->total_tokens;
  if (self->completion_tokens >= 0)
    return self->completion_tokens;
  return 0;
}

static gboolean
check_messages (GPtrArray *messages, GError **error)
{
  if (messages == NULL || messages->len == 0)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "An AI request needs at least one message");
      return FALSE;
    }
  for (guint i = 0; i < messages->len; i++)
    {
      PrdAiMessage *message = g_ptr_array_index (messages, i);

      if (message == NULL || message->content == NULL ||
          !g_utf8_validate (message->content, -1, NULL) ||
          (guint) message->role > PRD_AI_ROLE_ASSISTANT)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                       "Message %u of the AI request is not valid UTF-8 text with a role", i);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
finish_reported (GAsyncResult *result, PrdAiResponse **response, GError **error)
{
  if (response != NULL)
    *response = prd_ai_response_new ();
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * prd_ai_provider_stream_async:
 * @messages: (element-type PrdAiMessage): the conversation
 * @delta_func: (scope notified) (nullable): called with each piece of the
 *   answer as it arrives
 * @delta_data: data for @delta_func; must stay valid until @callback runs
 *
 * Sends @messages and streams the answer. Cancelling @cancellable stops the
 * request (%PRD_ERROR_CANCELLED).
 */
void
prd_ai_provider_stream_async (PrdAiProvider *self,
                              GPtrArray *messages,
                              PrdAiDeltaFunc delta_func,
                              gpointer delta_data,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
  GError *error = NULL;

  g_return_if_fail (PRD_IS_AI_PROVIDER (self));

  if (!check_messages (messages, &error))
    {
      g_task_report_error (self, callback, user_data, prd_ai_provider_stream_async, error);
      return;
    }
  PRD_AI_PROVIDER_GET_IFACE (self)->stream_async (self, messages, delta_func, delta_data,
                                                  cancellable, callback, user_data);
}

/**
 * prd_ai_provider_stream_finish:
 * @response: (out) (optional) (transfer full): what the request produced,
 *   set on success and on failure
 *
 * Returns: %TRUE when the answer was complete; %FALSE with @error set:
 *   %PRD_ERROR_PROVIDER_ERROR (HTTP error or unreachable; see
 *   @response's http_status), %PRD_ERROR_RATE_LIMIT_EXCEEDED (429; see
 *   retry_after), %PRD_ERROR_PROVIDER_TIMEOUT, %PRD_ERROR_PROVIDER_PROTOCOL_ERROR,
 *   %PRD_ERROR_CANCELLED, %PRD_ERROR_INVALID_PAYLOAD
 */
gboolean
prd_ai_provider_stream_finish (PrdAiProvider *self,
                               GAsyncResult *result,
                               PrdAiResponse **response,
                               GError **error)
{
  g_return_val_if_fail (PRD_IS_AI_PROVIDER (self), FALSE);

  if (g_async_result_is_tagged (result, prd_ai_provider_stream_async))
    return finish_reported (result, response, error);
  return PRD_AI_PROVIDER_GET_IFACE (self)->stream_finish (self, result, response, error);
}

/**
 * prd_ai_provider_complete_async:
 * @messages: (element-type PrdAiMessage): the conversation
 *
 * Sends @messages and waits for the whole answer (no streaming), for short
 * requests such as follow-up suggestions.
 */
void
prd_ai_provider_complete_async (PrdAiProvider *self,
                                GPtrArray *messages,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data)
{
  GError *error = NULL;

  g_return_if_fail (PRD_IS_AI_PROVIDER (self));

  if (!check_messages (messages, &error))
    {
      g_task_report_error (self, callback, user_data, prd_ai_provider_complete_async, error);
      return;
    }
  PRD_AI_PROVIDER_GET_IFACE (self)->complete_async (self, messages, cancellable, callback,
                                                    user_data);
}

/**
 * prd_ai_provider_complete_finish:
 * @response: (out) (optional) (transfer full): set on success and failure
 *
 * Returns: %TRUE with the answer in @response; errors as for
 *   prd_ai_provider_stream_finish()
 */
gboolean
prd_ai_provider_complete_finish (PrdAiProvider *self,
                                 GAsyncResult *result,
                                 PrdAiResponse **response,
                                 GError **error)
{
  g_return_val_if_fail (PRD_IS_AI_PROVIDER (self), FALSE);

  if (g_async_result_is_tagged (result, prd_ai_provider_complete_async))
    return finish_reported (result, response, error);
  return PRD_AI_PROVIDER_GET_IFACE (self)->complete_finish (self, result, response, error);
}
