/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-fuzz"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-fuzz.h"
#include "prd-openai-provider-private.h"

/*
 * The AI provider's reader of a successful answer: the server-sent events
 * of a streamed answer (line assembly, fields, `[DONE]`, JSON chunks, the
 * event size limit) or a whole JSON answer. The first byte's low bit picks
 * a whole answer, its other bits the size of the pieces the body arrives in
 * (1 to 128 bytes), so that lines and events are split anywhere. The deltas
 * handed to the caller must add up to the answer's text.
 */

static PrdAiProvider *provider;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  PrdOpenAiSettings settings = {
    .base_url = "http://127.0.0.1:9/v1",
    .model = "fuzz",
    .timeout_ms = 1000,
    .max_tokens = 100,
    .max_response_bytes = 256 * 1024,
  };
  g_autoptr (GError) error = NULL;

  provider = prd_openai_provider_new (&settings, &error);
  g_assert_no_error (error);
  return 0;
}

static void
on_delta (const char *delta, gpointer user_data)
{
  GString *deltas = user_data;

  g_assert_true (g_utf8_validate (delta, -1, NULL));
  g_string_append (deltas, delta);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autoptr (GString) deltas = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  PrdOpenAiRequest *req;
  gboolean streaming;
  gsize piece, text_len;
  const char *text;

  if (size == 0)
    return 0;
  streaming = (data[0] & 1) == 0;
  piece = (gsize) (data[0] >> 1) + 1;
  data++;
  size--;

  req = prd_openai_request_new (PRD_OPENAI_PROVIDER (provider), streaming, on_delta, deltas);
  for (gsize at = 0; at < size && error == NULL && !prd_openai_request_is_done (req); at += piece)
    {
      gboolean ok = prd_openai_request_read (req, data + at, MIN (piece, size - at), &error);

      g_assert_true (ok == (error == NULL));
    }
  if (error == NULL)
    error = prd_openai_request_end (req);
  if (error != NULL)
    {
      g_assert_true (error->domain == PRD_ERROR);
      g_assert_true (error->code == PRD_ERROR_PROVIDER_PROTOCOL_ERROR ||
                     error->code == PRD_ERROR_PROVIDER_ERROR);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
    }
  text = prd_openai_request_get_text (req, &text_len);
  g_assert_true (g_utf8_validate (text, (gssize) text_len, NULL));
  if (streaming)
    {
      g_assert_cmpuint (deltas->len, ==, text_len);
      g_assert_true (memcmp (deltas->str, text, text_len) == 0);
    }
  prd_openai_request_free (req);
  return 0;
}
