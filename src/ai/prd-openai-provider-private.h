/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-openai-provider.h"

G_BEGIN_DECLS

/*
 * How PrdOpenAiProvider reads the body of a successful answer (a streamed
 * one's server-sent events, or a whole JSON answer), without the HTTP around
 * it: the provider's own request uses these, and so does the fuzz target of
 * the event-stream parser (tests/fuzz/fuzz-ai-sse.c).
 */

typedef struct _PrdOpenAiRequest PrdOpenAiRequest;

PrdOpenAiRequest *prd_openai_request_new (PrdOpenAiProvider *self,
                                          gboolean streaming,
                                          PrdAiDeltaFunc delta_func,
                                          gpointer delta_data);
void prd_openai_request_free (PrdOpenAiRequest *req);
/* One piece of the body, in arrival order. FALSE with @error ends the answer. */
gboolean
prd_openai_request_read (PrdOpenAiRequest *req, const guint8 *bytes, gsize len, GError **error);
/* `data: [DONE]` was read: nothing after it is. */
gboolean prd_openai_request_is_done (PrdOpenAiRequest *req);
/* The end of the body: %NULL if the answer is complete, else why not. */
GError *prd_openai_request_end (PrdOpenAiRequest *req);
const char *prd_openai_request_get_text (PrdOpenAiRequest *req, gsize *len);
PrdAiResponse *prd_openai_request_get_response (PrdOpenAiRequest *req);

G_END_DECLS
