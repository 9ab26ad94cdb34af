/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-ai-provider.h"

G_BEGIN_DECLS

#define PRD_OPENAI_DEFAULT_TIMEOUT_MS 60000
#define PRD_OPENAI_DEFAULT_MAX_TOKENS 2048
#define PRD_OPENAI_MIN_TIMEOUT_MS     100
#define PRD_OPENAI_MAX_TIMEOUT_MS     3600000
#define PRD_OPENAI_MAX_MAX_TOKENS     1000000
/* Longest server-sent event (one JSON chunk) accepted. */
#define PRD_OPENAI_MAX_EVENT_SIZE (1024 * 1024)
/* Default limit of a response body, streamed or not (the JSON around each
 * streamed token is a few hundred bytes). */
#define PRD_OPENAI_MAX_RESPONSE_SIZE (64 * 1024 * 1024)
/* Limit of a response that is not streamed (suggestions, reviews): read as
 * one JSON tree, which takes tens of times its size in memory. */
#define PRD_OPENAI_MAX_WHOLE_SIZE (1024 * 1024)
/* The longest a request may take, answer included: keep-alive comments
 * reset the silence timer, not this one. */
#define PRD_OPENAI_DEFAULT_MAX_DURATION_MS (15 * 60 * 1000)
/* The longest wait a provider's `Retry-After` is passed on as (seconds, one
 * day): a longer one, whatever its digits, is this. */
#define PRD_OPENAI_MAX_RETRY_AFTER (24 * 3600)

/**
 * PrdOpenAiSettings:
 * @base_url: the API root, e.g. `https://api.openai.com/v1` or
 *   `http://127.0.0.1:11434/v1` (Ollama); requests go to
 *   `{base_url}/chat/completions`
 * @model: the model name sent with each request
 * @api_key: (nullable): sent as `Authorization: Bearer`; %NULL or empty
 *   for servers without keys
 * @timeout_ms: how long the provider may stay silent (before the answer
 *   starts and between pieces) before the request fails
 * @max_tokens: the `max_tokens` of each request
 * @max_response_bytes: the most bytes of a response body read before the
 *   request fails, 0 for %PRD_OPENAI_MAX_RESPONSE_SIZE
 * @max_duration_ms: the longest a request may take, however lively the
 *   provider, 0 for %PRD_OPENAI_DEFAULT_MAX_DURATION_MS
 */
typedef struct
{
  const char *base_url;
  const char *model;
  const char *api_key;
  guint timeout_ms;
  guint max_tokens;
  gsize max_response_bytes;
  guint max_duration_ms;
} PrdOpenAiSettings;

#define PRD_TYPE_OPENAI_PROVIDER (prd_openai_provider_get_type ())

G_DECLARE_FINAL_TYPE (PrdOpenAiProvider, prd_openai_provider, PRD, OPENAI_PROVIDER, GObject)

PrdAiProvider *prd_openai_provider_new (const PrdOpenAiSettings *settings, GError **error);
const char *prd_openai_provider_get_base_url (PrdOpenAiProvider *self);
const char *prd_openai_provider_get_model (PrdOpenAiProvider *self);

G_END_DECLS
