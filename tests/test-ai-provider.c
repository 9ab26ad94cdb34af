/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdOpenAiProvider against the scripted OpenAI-compatible test server
 * (tests/ai-test-server) on 127.0.0.1:0, through real HTTP.
 */
#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "ai-test-server.h"
#include "prd-error.h"
#include "prd-openai-provider-private.h"
#include "prd-redact.h"

#define MODEL      "gpt-test"
#define API_KEY    "test-key"
#define MAX_TOKENS 256

typedef struct
{
  AiTestServer *server;
  char *base_url;
  PrdAiProvider *provider;
  GMainLoop *loop;
} Fixture;

static PrdAiProvider *
make_provider (Fixture *f, const char *api_key, guint timeout_ms)
{
  g_autoptr (GError) error = NULL;
  PrdOpenAiSettings settings = {
    .base_url = f->base_url,
    .model = MODEL,
    .api_key = api_key,
    .timeout_ms = timeout_ms,
    .max_tokens = MAX_TOKENS,
  };
  PrdAiProvider *provider = prd_openai_provider_new (&settings, &error);

  g_assert_no_error (error);
  g_assert_nonnull (provider);
  return provider;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->server = ai_test_server_new (0, &error);
  g_assert_no_error (error);
  f->base_url = ai_test_server_get_base_url (f->server);
  /* Generous: only the stall tests should ever hit a timeout. */
  f->provider = make_provider (f, API_KEY, 10000);
  f->loop = g_main_loop_new (NULL, FALSE);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->provider);
  /* Let the client's closing connections be seen by the server. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  ai_test_server_free (f->server);
  g_free (f->base_url);
  g_main_loop_unref (f->loop);
}

typedef struct
{
  Fixture *f;
  GPtrArray *deltas;
  GCancellable *cancellable;
  gboolean open_gate_on_first;
  gboolean cancel_on_first;
  GAsyncResult *result;
} Run;

static void
on_delta (const char *delta, gpointer user_data)
{
  Run *run = user_data;

  g_assert_true (g_utf8_validate (delta, -1, NULL));
  g_assert_cmpstr (delta, !=, "");
  g_ptr_array_add (run->deltas, g_strdup (delta));
  if (run->deltas->len == 1 && run->open_gate_on_first)
    ai_test_server_open_gate (run->f->server);
  if (run->deltas->len == 1 && run->cancel_on_first)
    g_cancellable_cancel (run->cancellable);
}

static void
on_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Run *run = user_data;

  run->result = g_object_ref (result);
  g_main_loop_quit (run->f->loop);
}

static GPtrArray *
messages_for (const char *prompt)
{
  GPtrArray *messages = prd_ai_messages_new ();

  g_ptr_array_add (messages, prd_ai_message_new (PRD_AI_ROLE_SYSTEM, "You write requirements."));
  g_ptr_array_add (messages, prd_ai_message_new (PRD_AI_ROLE_USER, prompt));
  return messages;
}

/* Streams @prompt through @provider; returns the finish result. */
static gboolean
stream (Fixture *f,
        PrdAiProvider *provider,
        Run *run,
        const char *prompt,
        PrdAiResponse **response,
        GError **error)
{
  g_autoptr (GPtrArray) messages = messages_for (prompt);
  gboolean ok;

  run->f = f;
  if (run->deltas == NULL)
    run->deltas = g_ptr_array_new_with_free_func (g_free);
  prd_ai_provider_stream_async (provider, messages, on_delta, run, run->cancellable, on_done, run);
  g_main_loop_run (f->loop);
  ok = prd_ai_provider_stream_finish (provider, run->result, response, error);
  g_clear_object (&run->result);
  g_assert_nonnull (*response);
  return ok;
}

static void
run_clear (Run *run)
{
  g_clear_pointer (&run->deltas, g_ptr_array_unref);
  g_clear_object (&run->cancellable);
}

static JsonObject *
last_request (Fixture *f, JsonParser *parser)
{
  g_autoptr (GError) error = NULL;

  json_parser_load_from_data (parser, ai_test_server_get_last_body (f->server), -1, &error);
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (parser));
}

/* ---- successful streams ---- */

static void
test_stream (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  Run run = { 0 };
  JsonObject *request, *message;
  JsonArray *messages;

  g_assert_true (stream (f, f->provider, &run, "Write the goals", &response, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (run.deltas->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (run.deltas, 0), ==, "Hello");
  g_assert_cmpstr (g_ptr_array_index (run.deltas, 1), ==, ", ");
  g_assert_cmpstr (g_ptr_array_index (run.deltas, 2), ==, "world \xe2\x9c\x93");
  g_assert_cmpstr (response->text, ==, "Hello, world \xe2\x9c\x93");
  g_assert_cmpstr (response->finish_reason, ==, "stop");
  g_assert_cmpstr (response->model, ==, AI_TEST_SERVER_MODEL);
  g_assert_cmpint (response->prompt_tokens, ==, 12);
  g_assert_cmpint (response->completion_tokens, ==, 3);
  g_assert_cmpint (response->total_tokens, ==, 15);
  g_assert_cmpint (prd_ai_response_get_tokens_used (response), ==, 15);
  g_assert_cmpuint (response->http_status, ==, 200);
  g_assert_cmpuint (response->retry_after, ==, 0);

  /* The request, as the server received it */
  g_assert_cmpstr (ai_test_server_get_last_authorization (f->server), ==, "Bearer " API_KEY);
  g_assert_cmpstr (ai_test_server_get_last_accept (f->server), ==, "text/event-stream");
  request = last_request (f, parser);
  g_assert_cmpstr (json_object_get_string_member (request, "model"), ==, MODEL);
  g_assert_true (json_object_get_boolean_member (request, "stream"));
  g_assert_true (json_object_get_boolean_member (
      json_object_get_object_member (request, "stream_options"), "include_usage"));
  g_assert_cmpint (json_object_get_int_member (request, "max_tokens"), ==, MAX_TOKENS);
  messages = json_object_get_array_member (request, "messages");
  g_assert_cmpuint (json_array_get_length (messages), ==, 2);
  message = json_array_get_object_element (messages, 0);
  g_assert_cmpstr (json_object_get_string_member (message, "role"), ==, "system");
  g_assert_cmpstr (json_object_get_string_member (message, "content"), ==,
                   "You write requirements.");
  message = json_array_get_object_element (messages, 1);
  g_assert_cmpstr (json_object_get_string_member (message, "role"), ==, "user");
  g_assert_cmpstr (json_object_get_string_member (message, "content"), ==, "Write the goals");
  run_clear (&run);
}

static void
test_no_api_key (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdAiProvider) keyless = make_provider (f, "", 10000);
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  Run run = { 0 };

  g_assert_true (stream (f, keyless, &run, "Hi", &response, &error));
  g_assert_no_error (error);
  /* Local servers such as Ollama take no key: no header at all */
  g_assert_null (ai_test_server_get_last_authorization (f->server));
  run_clear (&run);
}

static void
test_completion_usage (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  Run run = { 0 };

  g_assert_true (stream (f, f->provider, &run, "scenario:completion-usage", &response, &error));
  g_assert_no_error (error);
  g_assert_cmpint (response->total_tokens, ==, -1);
  g_assert_cmpint (prd_ai_response_get_tokens_used (response), ==, 3);
  run_clear (&run);
}

static void
test_length (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  Run run = { 0 };

  g_assert_true (stream (f, f->provider, &run, "scenario:length", &response, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (response->finish_reason, ==, "length");
  run_clear (&run);
}

static void
test_split (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  Run run = { 0 };

  g_assert_true (stream (f, f->provider, &run, "scenario:split", &response, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (run.deltas->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (run.deltas, 0), ==, "\xc3\xa9");
  g_assert_cmpstr (g_ptr_array_index (run.deltas, 1), ==, "Hel");
  g_assert_cmpstr (g_ptr_array_index (run.deltas, 2), ==, "lo");
  g_assert_cmpstr (response->text, ==, "\xc3\xa9Hello");
  g_assert_cmpint (response->total_tokens, ==, 3);
  run_clear (&run);
}

/* The server holds the rest of the answer until the client has reported
 * the first delta: a client that waited for the whole body would never
 * see one, and this test would end in a timeout. */
static void
test_incremental (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  Run run = { .open_gate_on_first = TRUE };

  g_assert_true (stream (f, f->provider, &run, "scenario:gated", &response, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (run.deltas->len, ==, 2);
  g_assert_cmpstr (response->text, ==, "first second");
  run_clear (&run);
}

/* The timeout is for silence, not for the whole answer. */
static void
test_slow_but_alive (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdAiProvider) provider = make_provider (f, API_KEY, 600);
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  Run run = { 0 };

  g_assert_true (stream (f, provider, &run, "scenario:slow", &response, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (response->text, ==, "abcde");
  run_clear (&run);
}

/* However lively, a request ends at its deadline; what came stays. */
static void
test_max_duration (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  PrdOpenAiSettings settings = { .base_url = f->base_url,
                                 .model = MODEL,
                                 .timeout_ms = 10000,
                                 .max_tokens = 10,
                                 .max_duration_ms = 400 };
  g_autoptr (PrdAiProvider) provider = prd_openai_provider_new (&settings, &error);
  g_autoptr (PrdAiResponse) response = NULL;
  Run run = { 0 };

  g_assert_no_error (error);
  g_assert_false (stream (f, provider, &run, "scenario:slow", &response, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PROVIDER_TIMEOUT);
  g_assert_nonnull (strstr (error->message, "took longer than 400 ms"));
  /* Five deltas 150 ms apart: not all of them came. */
  g_assert_cmpuint (strlen (response->text), <, 5);
  run_clear (&run);
}

static void
test_finish_without_done (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  Run run = { 0 };

  g_assert_true (stream (f, f->provider, &run, "scenario:finish-no-done", &response, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (response->text, ==, "done");
  g_assert_cmpstr (response->finish_reason, ==, "stop");
  run_clear (&run);
}

static void
test_concurrent (Fixture *f, gconstpointer data)
{
  Run runs[4] = { 0 };
  guint remaining = G_N_ELEMENTS (runs);

  for (guint i = 0; i < G_N_ELEMENTS (runs); i++)
    {
      g_autoptr (GPtrArray) messages = messages_for ("scenario:stream");

      runs[i].f = f;
      runs[i].deltas = g_ptr_array_new_with_free_func (g_free);
      prd_ai_provider_stream_async (f->provider, messages, on_delta, &runs[i], NULL, on_done,
                                    &runs[i]);
    }
  while (remaining > 0)
    {
      remaining = 0;
      for (guint i = 0; i < G_N_ELEMENTS (runs); i++)
        if (runs[i].result == NULL)
          remaining++;
      if (remaining > 0)
        g_main_context_iteration (NULL, TRUE);
    }
  for (guint i = 0; i < G_N_ELEMENTS (runs); i++)
    {
      g_autoptr (PrdAiResponse) response = NULL;
      g_autoptr (GError) error = NULL;

      g_assert_true (
          prd_ai_provider_stream_finish (f->provider, runs[i].result, &response, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (response->text, ==, "Hello, world \xe2\x9c\x93");
      g_clear_object (&runs[i].result);
      run_clear (&runs[i]);
    }
}

/* ---- HTTP errors ---- */

static void
test_rate_limit (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  Run run = { 0 };

  g_assert_false (stream (f, f->provider, &run, "scenario:rate-limit", &response, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_RATE_LIMIT_EXCEEDED);
  g_assert_cmpstr (prd_error_get_protocol_code (error), ==, "RATE_LIMIT_EXCEEDED");
  g_assert_nonnull (strstr (error->message, "Rate limit reached for requests"));
  g_assert_nonnull (strstr (error->message, "retry after 7 s"));
  g_assert_cmpuint (response->http_status, ==, 429);
  g_assert_cmpuint (response->retry_after, ==, 7);
  g_assert_cmpstr (response->text, ==, "");
  g_assert_cmpuint (run.deltas->len, ==, 0);
  run_clear (&run);
}

static void
test_rate_limit_date (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  Run run = { 0 };

  g_assert_false (stream (f, f->provider, &run, "scenario:rate-limit-date", &response, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_RATE_LIMIT_EXCEEDED);
  /* An HTTP date two minutes ahead, in whole seconds */
  g_assert_cmpuint (response->retry_after, >, 0);
  g_assert_cmpuint (response->retry_after, <=, 120);
  run_clear (&run);
}

/* A wait past PRD_OPENAI_MAX_RETRY_AFTER, even one past 32 or 64 bits, is
 * that maximum: still a wait, not none. */
static void
test_rate_limit_huge (Fixture *f, gconstpointer data)
{
  const char *scenarios[] = { "scenario:rate-limit-huge", "scenario:rate-limit-vast" };

  for (guint i = 0; i < G_N_ELEMENTS (scenarios); i++)
    {
      g_autoptr (PrdAiResponse) response = NULL;
      g_autoptr (GError) error = NULL;
      Run run = { 0 };

      g_assert_false (stream (f, f->provider, &run, scenarios[i], &response, &error));
      g_assert_error (error, PRD_ERROR, PRD_ERROR_RATE_LIMIT_EXCEEDED);
      g_assert_cmpuint (response->http_status, ==, 429);
      g_assert_cmpuint (response->retry_after, ==, PRD_OPENAI_MAX_RETRY_AFTER);
      g_assert_nonnull (strstr (error->message, "retry after 86400 s"));
      run_clear (&run);
    }
}

static void
test_server_error (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  Run run = { 0 };

  g_assert_false (stream (f, f->provider, &run, "scenario:server-error", &response, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PROVIDER_ERROR);
  g_assert_cmpstr (prd_error_get_protocol_code (error), ==, "PROVIDER_ERROR");
  g_assert_nonnull (strstr (error->message, "HTTP 500"));
  g_assert_nonnull (strstr (error->message, "The model exploded"));
  g_assert_cmpuint (response->http_status, ==, 500);
  run_clear (&run);
}

static void
test_unauthorized (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  Run run = { 0 };

  g_assert_false (stream (f, f->provider, &run, "scenario:unauthorized", &response, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PROVIDER_ERROR);
  g_assert_nonnull (strstr (error->message, "HTTP 401: no key, no answer"));
  g_assert_cmpuint (response->http_status, ==, 401);
  run_clear (&run);
}

/* A provider (or a proxy) that quotes the API key in its error text: the
 * message that reaches users, records and the log never carries the key,
 * nor a piece of it where the provider's text is cut short. */
static void
test_key_redacted (Fixture *f, gconstpointer data)
{
  static const char *const scenarios[] = { "scenario:echo-key", "scenario:echo-key-text",
                                           "scenario:mid-error-key" };
  static const char key[] = "sk-TOPSECRET-0123456789abcdef";
  g_autoptr (PrdAiProvider) provider = make_provider (f, key, 10000);

  for (gsize i = 0; i < G_N_ELEMENTS (scenarios); i++)
    {
      g_autoptr (PrdAiResponse) response = NULL;
      g_autoptr (GError) error = NULL;
      Run run = { 0 };

      g_assert_false (stream (f, provider, &run, scenarios[i], &response, &error));
      g_assert_error (error, PRD_ERROR, PRD_ERROR_PROVIDER_ERROR);
      g_test_message ("%s: %s", scenarios[i], error->message);
      g_assert_null (strstr (error->message, "TOPSECRET"));
      g_assert_null (strstr (error->message, "sk-"));
      g_assert_cmpuint (g_utf8_strlen (error->message, -1), <, 400);
      run_clear (&run);
    }
  {
    g_autoptr (PrdAiResponse) response = NULL;
    g_autoptr (GError) error = NULL;
    Run run = { 0 };

    /* The explanation around the key stays. */
    g_assert_false (stream (f, provider, &run, "scenario:echo-key", &response, &error));
    g_assert_cmpstr (
        error->message, ==,
        "The AI provider answered HTTP 401: Incorrect API key provided: " PRD_REDACTED);
    g_clear_error (&error);
    g_clear_pointer (&response, prd_ai_response_unref);
    g_assert_false (stream (f, provider, &run, "scenario:mid-error-key", &response, &error));
    g_assert_cmpstr (
        error->message, ==,
        "The AI provider reported an error: upstream failed for key Bearer " PRD_REDACTED);
    run_clear (&run);
  }
}

/* A key of every sort of character that URLs, JSON and base64 treat
 * apart. */
#define SPELLED_KEY "sk-TOP+SECRET/0123456789=abcdefXYZ"

/* The key where the error body's bound cuts it, URL-encoded and in a
 * `Basic` header: none of it reaches the message. */
typedef struct
{
  const char *scenario;
  const char *message;
  gboolean cut; /* the message starts so, and is cut after 300 characters of the provider's */
} SpelledCase;

static const SpelledCase spelled_cases[] = {
  { "echo-key-split", "The AI provider answered HTTP 401: " PRD_REDACTED },
  { "echo-key-urlencoded", "The AI provider answered HTTP 401: bad key " PRD_REDACTED },
  /* `:` and the last key character's low bits are all that is left */
  { "echo-key-basic", "The AI provider answered HTTP 401: bad Basic On" PRD_REDACTED "o=" },
  /* redacted before the cut, as an error body is */
  { "echo-key-reason", "The AI provider answered HTTP 401: Bad key Bearer " PRD_REDACTED "...",
    TRUE },
};

static void
test_key_redacted_spelled (Fixture *f, gconstpointer data)
{
  const SpelledCase *c = data;
  g_autoptr (PrdAiProvider) provider = make_provider (f, SPELLED_KEY, 10000);
  g_autofree char *prompt = g_strconcat ("scenario:", c->scenario, NULL);
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  Run run = { 0 };

  g_assert_false (stream (f, provider, &run, prompt, &response, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PROVIDER_ERROR);
  g_test_message ("%s: %s", c->scenario, error->message);
  if (c->cut)
    {
      g_assert_true (g_str_has_prefix (error->message, c->message));
      g_assert_true (g_str_has_suffix (error->message, ".…"));
      g_assert_cmpint (g_utf8_strlen (error->message, -1), ==,
                       strlen ("The AI provider answered HTTP 401: ") + 300 + 1);
    }
  else
    g_assert_cmpstr (error->message, ==, c->message);
  g_assert_cmpuint (response->http_status, ==, 401);
  run_clear (&run);
}

/* An error body is read only as far as needed to explain the error. */
static void
test_server_error_huge (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  Run run = { 0 };

  g_assert_false (stream (f, f->provider, &run, "scenario:server-error-huge", &response, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PROVIDER_ERROR);
  g_assert_cmpuint (response->http_status, ==, 500);
  g_assert_nonnull (strstr (error->message, "HTTP 500: eeee"));
  /* The provider's explanation is cut short in the message */
  g_assert_cmpuint (g_utf8_strlen (error->message, -1), <, 400);
  run_clear (&run);
}

/* A provider that never stops is stopped by the response size limit. */
static void
test_response_limit (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  PrdOpenAiSettings settings = { .base_url = f->base_url,
                                 .model = MODEL,
                                 .timeout_ms = 10000,
                                 .max_tokens = 10,
                                 .max_response_bytes = 600 };
  g_autoptr (PrdAiProvider) provider = prd_openai_provider_new (&settings, &error);
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (GPtrArray) messages = messages_for ("scenario:complete");
  Run run = { 0 };

  g_assert_no_error (error);
  g_assert_false (stream (f, provider, &run, "scenario:stream", &response, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PROVIDER_PROTOCOL_ERROR);
  g_assert_nonnull (strstr (error->message, "exceeds 600 bytes"));
  g_clear_error (&error);
  g_clear_pointer (&response, prd_ai_response_unref);

  /* The non-streamed answer is about 300 bytes: within 600, not within 100 */
  run.f = f;
  prd_ai_provider_complete_async (provider, messages, NULL, on_done, &run);
  g_main_loop_run (f->loop);
  g_assert_true (prd_ai_provider_complete_finish (provider, run.result, &response, &error));
  g_assert_no_error (error);
  g_clear_object (&run.result);
  g_clear_pointer (&response, prd_ai_response_unref);
  g_clear_object (&provider);

  settings.max_response_bytes = 100;
  provider = prd_openai_provider_new (&settings, &error);
  g_assert_no_error (error);
  prd_ai_provider_complete_async (provider, messages, NULL, on_done, &run);
  g_main_loop_run (f->loop);
  g_assert_false (prd_ai_provider_complete_finish (provider, run.result, &response, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PROVIDER_PROTOCOL_ERROR);
  g_clear_object (&run.result);
  run_clear (&run);
}

static void
test_not_found (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *wrong = g_strconcat (f->base_url, "/nested", NULL);
  PrdOpenAiSettings settings = {
    .base_url = wrong, .model = MODEL, .timeout_ms = 10000, .max_tokens = 10
  };
  g_autoptr (PrdAiProvider) provider = prd_openai_provider_new (&settings, &error);
  g_autoptr (PrdAiResponse) response = NULL;
  Run run = { 0 };

  g_assert_no_error (error);
  g_assert_false (stream (f, provider, &run, "Hi", &response, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PROVIDER_ERROR);
  g_assert_cmpuint (response->http_status, ==, 404);
  run_clear (&run);
}

static void
test_unreachable (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autofree char *url = NULL;
  g_autoptr (PrdAiProvider) provider = NULL;
  g_autoptr (PrdAiResponse) response = NULL;
  PrdOpenAiSettings settings = { .model = MODEL, .timeout_ms = 10000, .max_tokens = 10 };
  Run run = { 0 };

  /* A port that was free a moment ago and has no listener */
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_bind (socket, any, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  url = g_strdup_printf ("http://127.0.0.1:%u/v1",
                         g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  settings.base_url = url;
  provider = prd_openai_provider_new (&settings, &error);
  g_assert_no_error (error);

  g_assert_false (stream (f, provider, &run, "Hi", &response, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PROVIDER_ERROR);
  g_assert_nonnull (strstr (error->message, "Cannot reach the AI provider"));
  g_assert_cmpuint (response->http_status, ==, 0);
  run_clear (&run);
}

/* ---- broken streams: errors, and what came before them ---- */

typedef struct
{
  const char *scenario;
  int code;
  const char *text;
  const char *message_part;
} BrokenCase;

static const BrokenCase broken_cases[] = {
  { "cut", PRD_ERROR_PROVIDER_PROTOCOL_ERROR, "Hello world", "ended before the answer" },
  { "drop", PRD_ERROR_PROVIDER_PROTOCOL_ERROR, "Hello", "ended before the answer" },
  { "malformed", PRD_ERROR_PROVIDER_PROTOCOL_ERROR, "Hello", "not JSON" },
  { "not-object", PRD_ERROR_PROVIDER_PROTOCOL_ERROR, "Hello", "not a JSON object" },
  { "mid-error", PRD_ERROR_PROVIDER_ERROR, "Hello", "Overloaded, try again" },
  { "huge-event", PRD_ERROR_PROVIDER_PROTOCOL_ERROR, "Hello", "larger than" },
  { "deep-event", PRD_ERROR_PROVIDER_PROTOCOL_ERROR, "Hello", "nesting too deep" },
  { "nul-event", PRD_ERROR_PROVIDER_PROTOCOL_ERROR, "Hello", "U+0000" },
  { "json-instead", PRD_ERROR_PROVIDER_PROTOCOL_ERROR, "", "instead of an event stream" },
};

static void
test_broken (Fixture *f, gconstpointer data)
{
  const BrokenCase *c = data;
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *prompt = g_strconcat ("scenario:", c->scenario, NULL);
  Run run = { 0 };

  g_assert_false (stream (f, f->provider, &run, prompt, &response, &error));
  g_assert_error (error, PRD_ERROR, c->code);
  g_test_message ("%s: %s", c->scenario, error->message);
  g_assert_nonnull (strstr (error->message, c->message_part));
  g_assert_cmpstr (response->text, ==, c->text);
  g_assert_cmpuint (response->http_status, ==, 200);
  run_clear (&run);
}

static void
test_stall (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdAiProvider) provider = make_provider (f, API_KEY, 300);
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  Run run = { 0 };

  g_assert_false (stream (f, provider, &run, "scenario:stall", &response, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PROVIDER_TIMEOUT);
  g_assert_cmpstr (prd_error_get_protocol_code (error), ==, "PROVIDER_TIMEOUT");
  g_assert_nonnull (strstr (error->message, "300 ms"));
  g_assert_cmpstr (response->text, ==, "Hello");
  g_assert_cmpuint (run.deltas->len, ==, 1);
  run_clear (&run);
}

static void
test_stall_headers (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdAiProvider) provider = make_provider (f, API_KEY, 300);
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  Run run = { 0 };

  g_assert_false (stream (f, provider, &run, "scenario:stall-headers", &response, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PROVIDER_TIMEOUT);
  g_assert_cmpstr (response->text, ==, "");
  g_assert_cmpuint (response->http_status, ==, 0);
  run_clear (&run);
}

/* ---- cancellation ---- */

static void
test_cancel_mid_stream (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  Run run = { .cancel_on_first = TRUE, .cancellable = g_cancellable_new () };

  g_assert_false (stream (f, f->provider, &run, "scenario:gated", &response, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CANCELLED);
  g_assert_cmpstr (prd_error_get_protocol_code (error), ==, "CANCELLED");
  g_assert_cmpstr (response->text, ==, "first");
  run_clear (&run);
}

static void
test_cancel_before (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  Run run = { .cancellable = g_cancellable_new () };

  g_cancellable_cancel (run.cancellable);
  g_assert_false (stream (f, f->provider, &run, "scenario:stream", &response, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_CANCELLED);
  g_assert_cmpstr (response->text, ==, "");
  run_clear (&run);
}

/* ---- the non-streamed helper ---- */

static gboolean
complete (Fixture *f, const char *prompt, PrdAiResponse **response, GError **error)
{
  g_autoptr (GPtrArray) messages = messages_for (prompt);
  Run run = { .f = f };
  gboolean ok;

  prd_ai_provider_complete_async (f->provider, messages, NULL, on_done, &run);
  g_main_loop_run (f->loop);
  ok = prd_ai_provider_complete_finish (f->provider, run.result, response, error);
  g_clear_object (&run.result);
  return ok;
}

static void
test_complete (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *request;

  g_assert_true (complete (f, "Suggest one follow-up", &response, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (response->text, ==, "Add a sequence diagram");
  g_assert_cmpstr (response->finish_reason, ==, "stop");
  g_assert_cmpint (prd_ai_response_get_tokens_used (response), ==, 25);
  g_assert_cmpstr (ai_test_server_get_last_accept (f->server), ==, "application/json");
  request = last_request (f, parser);
  g_assert_false (json_object_get_boolean_member (request, "stream"));
  g_assert_false (json_object_has_member (request, "stream_options"));
  g_assert_cmpint (json_object_get_int_member (request, "max_tokens"), ==, MAX_TOKENS);
}

static void
test_complete_errors (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_false (complete (f, "scenario:complete-garbage", &response, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PROVIDER_PROTOCOL_ERROR);
  g_clear_error (&error);
  g_clear_pointer (&response, prd_ai_response_unref);

  g_assert_false (complete (f, "scenario:rate-limit", &response, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_RATE_LIMIT_EXCEEDED);
  g_assert_cmpuint (response->retry_after, ==, 7);
  g_clear_error (&error);
  g_clear_pointer (&response, prd_ai_response_unref);

  /* A redirect is not followed. */
  g_assert_false (complete (f, "scenario:redirect", &response, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PROVIDER_ERROR);
  g_assert_nonnull (strstr (error->message, "answered HTTP 302"));
  g_clear_error (&error);
  g_clear_pointer (&response, prd_ai_response_unref);

  /* A non-streamed answer is read as one tree: at most 1 MiB of it. */
  g_assert_false (complete (f, "scenario:complete-huge", &response, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PROVIDER_PROTOCOL_ERROR);
  g_assert_nonnull (strstr (error->message, "exceeds 1048576 bytes"));
}

/* ---- bad requests and settings change nothing ---- */

static void
test_invalid_requests (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) empty = prd_ai_messages_new ();
  g_autoptr (GPtrArray) binary = prd_ai_messages_new ();
  g_autoptr (PrdAiResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  Run run = { .f = f };

  prd_ai_provider_stream_async (f->provider, empty, on_delta, &run, NULL, on_done, &run);
  g_main_loop_run (f->loop);
  g_assert_false (prd_ai_provider_stream_finish (f->provider, run.result, &response, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_assert_nonnull (response);
  g_clear_error (&error);
  g_clear_object (&run.result);
  g_clear_pointer (&response, prd_ai_response_unref);

  g_ptr_array_add (binary, prd_ai_message_new (PRD_AI_ROLE_USER, "\xff\xfe"));
  prd_ai_provider_complete_async (f->provider, binary, NULL, on_done, &run);
  g_main_loop_run (f->loop);
  g_assert_false (prd_ai_provider_complete_finish (f->provider, run.result, &response, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_clear_object (&run.result);

  g_assert_cmpuint (ai_test_server_get_n_requests (f->server), ==, 0);
}

static void
test_settings (void)
{
  static const struct
  {
    const char *base_url;
    const char *model;
    const char *api_key;
    guint timeout_ms;
    guint max_tokens;
    int code;
  } cases[] = {
    { NULL, "m", NULL, 1000, 10, PRD_ERROR_AI_NOT_CONFIGURED },
    { "", "m", NULL, 1000, 10, PRD_ERROR_AI_NOT_CONFIGURED },
    { "http://127.0.0.1:1/v1", NULL, NULL, 1000, 10, PRD_ERROR_AI_NOT_CONFIGURED },
    { "http://127.0.0.1:1/v1", "", NULL, 1000, 10, PRD_ERROR_AI_NOT_CONFIGURED },
    { "ftp://127.0.0.1/v1", "m", NULL, 1000, 10, PRD_ERROR_CONFIG },
    { "127.0.0.1:8080", "m", NULL, 1000, 10, PRD_ERROR_CONFIG },
    { "http://user:pw@127.0.0.1/v1", "m", NULL, 1000, 10, PRD_ERROR_CONFIG },
    { "http://127.0.0.1/v1?x=1", "m", NULL, 1000, 10, PRD_ERROR_CONFIG },
    { "http:///v1", "m", NULL, 1000, 10, PRD_ERROR_CONFIG },
    { "http://127.0.0.1/v1", "m\nX-Evil: 1", NULL, 1000, 10, PRD_ERROR_CONFIG },
    { "http://127.0.0.1/v1", "m", "key\r\nX-Evil: 1", 1000, 10, PRD_ERROR_CONFIG },
    { "http://127.0.0.1/v1", "m", NULL, 99, 10, PRD_ERROR_CONFIG },
    { "http://127.0.0.1/v1", "m", NULL, 3600001, 10, PRD_ERROR_CONFIG },
    { "http://127.0.0.1/v1", "m", NULL, 1000, 0, PRD_ERROR_CONFIG },
    { "http://127.0.0.1/v1", "m", NULL, 1000, 1000001, PRD_ERROR_CONFIG },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      PrdOpenAiSettings settings = { cases[i].base_url, cases[i].model, cases[i].api_key,
                                     cases[i].timeout_ms, cases[i].max_tokens };

      g_assert_null (prd_openai_provider_new (&settings, &error));
      g_assert_error (error, PRD_ERROR, cases[i].code);
    }

  {
    g_autoptr (GError) error = NULL;
    PrdOpenAiSettings settings = { "https://llm.example:8443/v1//", "llama3.1:8b", NULL, 100, 1 };
    g_autoptr (PrdAiProvider) provider = prd_openai_provider_new (&settings, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (prd_openai_provider_get_base_url (PRD_OPENAI_PROVIDER (provider)), ==,
                     "https://llm.example:8443/v1");
    g_assert_cmpstr (prd_openai_provider_get_model (PRD_OPENAI_PROVIDER (provider)), ==,
                     "llama3.1:8b");
  }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/prd/ai/openai/stream", test_stream);
  ADD ("/prd/ai/openai/no-api-key", test_no_api_key);
  ADD ("/prd/ai/openai/completion-usage", test_completion_usage);
  ADD ("/prd/ai/openai/length", test_length);
  ADD ("/prd/ai/openai/split", test_split);
  ADD ("/prd/ai/openai/incremental", test_incremental);
  ADD ("/prd/ai/openai/slow-but-alive", test_slow_but_alive);
  ADD ("/prd/ai/openai/max-duration", test_max_duration);
  ADD ("/prd/ai/openai/finish-without-done", test_finish_without_done);
  ADD ("/prd/ai/openai/concurrent", test_concurrent);
  ADD ("/prd/ai/openai/rate-limit", test_rate_limit);
  ADD ("/prd/ai/openai/rate-limit-date", test_rate_limit_date);
  ADD ("/prd/ai/openai/rate-limit-huge", test_rate_limit_huge);
  ADD ("/prd/ai/openai/server-error", test_server_error);
  ADD ("/prd/ai/openai/unauthorized", test_unauthorized);
  ADD ("/prd/ai/openai/server-error-huge", test_server_error_huge);
  ADD ("/prd/ai/openai/key-redacted", test_key_redacted);
  ADD ("/prd/ai/openai/response-limit", test_response_limit);
  ADD ("/prd/ai/openai/not-found", test_not_found);
  ADD ("/prd/ai/openai/unreachable", test_unreachable);
  ADD ("/prd/ai/openai/stall", test_stall);
  ADD ("/prd/ai/openai/stall-headers", test_stall_headers);
  ADD ("/prd/ai/openai/cancel-mid-stream", test_cancel_mid_stream);
  ADD ("/prd/ai/openai/cancel-before", test_cancel_before);
  ADD ("/prd/ai/openai/complete", test_complete);
  ADD ("/prd/ai/openai/complete-errors", test_complete_errors);
  ADD ("/prd/ai/openai/invalid-requests", test_invalid_requests);
  for (gsize i = 0; i < G_N_ELEMENTS (spelled_cases); i++)
    {
      g_autofree char *path =
          g_strconcat ("/prd/ai/openai/key-redacted-spelled/", spelled_cases[i].scenario, NULL);

      g_test_add (path, Fixture, &spelled_cases[i], fixture_setup, test_key_redacted_spelled,
                  fixture_teardown);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (broken_cases); i++)
    {
      g_autofree char *path =
          g_strconcat ("/prd/ai/openai/broken/", broken_cases[i].scenario, NULL);

      g_test_add (path, Fixture, &broken_cases[i], fixture_setup, test_broken, fixture_teardown);
    }
#undef ADD
  g_test_add_func ("/prd/ai/openai/settings", test_settings);

  return g_test_run ();
}
