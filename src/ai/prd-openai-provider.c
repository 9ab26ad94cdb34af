/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdOpenAiProvider: the OpenAI Chat Completions API, as spoken by OpenAI
 * and by the compatible servers people run on a LAN (Ollama, vLLM,
 * llama.cpp, LocalAI).
 *
 * A streamed request posts `stream: true` with `stream_options.include_usage`
 * and reads the server-sent events as they arrive: the body is read in
 * pieces and split into lines here, so that each content delta reaches the
 * caller as soon as its event is complete and no more than one event is
 * ever held in memory (bounded by PRD_OPENAI_MAX_EVENT_SIZE). The answer is
 * complete at `data: [DONE]`, or at the end of the body once a choice has
 * reported its finish_reason; a body that ends before either was cut.
 *
 * The timeout is an idle timeout: it restarts with every piece of the body,
 * so a long answer that keeps flowing is never cut, and a provider that
 * stalls is.
 */
#define G_LOG_DOMAIN "prd-ai"

#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "prd-error.h"
#include "prd-json.h"
#include "prd-redact.h"

#include "prd-openai-provider-private.h"

#define READ_SIZE              8192
#define MAX_ERROR_BODY         (64 * 1024)
#define MAX_ERROR_MESSAGE      300
#define MAX_MODEL_LENGTH       256
#define MAX_API_KEY_LENGTH     4096
#define MAX_CONNS_PER_HOST     32
#define HTTP_TOO_MANY_REQUESTS 429

struct _PrdOpenAiProvider
{
  GObject parent_instance;

  SoupSession *session; /* (owned) */
  char *base_url;       /* (owned) without a trailing slash */
  char *endpoint;       /* (owned) */
  char *model;          /* (owned) */
  char *api_key;        /* (owned) (nullable) */
  guint timeout_ms;
  guint max_tokens;
  gsize max_response_bytes;
  guint max_duration_ms;
};

static void ai_provider_iface_init (PrdAiProviderInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PrdOpenAiProvider,
                               prd_openai_provider,
                               G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PRD_TYPE_AI_PROVIDER, ai_provider_iface_init))

/* ---- one request ---- */

struct _PrdOpenAiRequest
{
  PrdOpenAiProvider *self; /* (owned) */
  gboolean streaming;
  SoupMessage *msg;          /* (owned) */
  GInputStream *body;        /* (owned) (nullable) */
  GCancellable *cancellable; /* (owned) cancelled by the caller or the timeout */
  GCancellable *caller;      /* (owned) (nullable) */
  gulong caller_handler;
  GSource *idle_timeout; /* (owned) (nullable) */
  GSource *deadline;     /* (owned) (nullable): max_duration_ms */
  gboolean timed_out;
  gboolean overran; /* timed out by the deadline, not a silence */
  gboolean completed;

  PrdAiDeltaFunc delta_func;
  gpointer delta_data;

  /* SSE parsing */
  GString *line;     /* (owned) the line being read */
  gboolean skip_lf;  /* the previous byte was a CR */
  GString *data;     /* (owned) data lines of the current event */
  gboolean has_data; /* the current event has a data field */
  gboolean done;     /* `[DONE]` seen */
  gsize body_size;   /* bytes read so far */
  GByteArray *whole; /* (owned) (nullable) the body of a non-streamed answer or an error */

  GString *text;           /* (owned) */
  PrdAiResponse *response; /* (owned) */
};
typedef PrdOpenAiRequest Request;

static Request *
request_new (PrdOpenAiProvider *self,
             gboolean stream,
             PrdAiDeltaFunc delta_func,
             gpointer delta_data)
{
  Request *req = g_new0 (Request, 1);

  req->self = g_object_ref (self);
  req->streaming = stream;
  req->delta_func = delta_func;
  req->delta_data = delta_data;
  req->line = g_string_new (NULL);
  req->data = g_string_new (NULL);
  req->text = g_string_new (NULL);
  req->response = prd_ai_response_new ();
  req->cancellable = g_cancellable_new ();
  return req;
}

static void
request_free (gpointer data)
{
  Request *req = data;

  if (req->caller != NULL)
    g_cancellable_disconnect (req->caller, req->caller_handler);
  g_clear_object (&req->caller);
  if (req->idle_timeout != NULL)
    g_source_destroy (req->idle_timeout);
  g_clear_pointer (&req->idle_timeout, g_source_unref);
  if (req->deadline != NULL)
    g_source_destroy (req->deadline);
  g_clear_pointer (&req->deadline, g_source_unref);
  g_clear_object (&req->body);
  g_clear_object (&req->msg);
  g_clear_object (&req->cancellable);
  g_clear_object (&req->self);
  g_string_free (req->line, TRUE);
  g_string_free (req->data, TRUE);
  g_string_free (req->text, TRUE);
  g_clear_pointer (&req->whole, g_byte_array_unref);
  g_clear_pointer (&req->response, prd_ai_response_unref);
  g_free (req);
}

static gboolean
idle_timeout_fired (gpointer user_data)
{
  Request *req = user_data;

  req->timed_out = TRUE;
  g_cancellable_cancel (req->cancellable);
  return G_SOURCE_REMOVE;
}

static gboolean
deadline_passed (gpointer user_data)
{
  Request *req = user_data;

  req->overran = TRUE;
  return idle_timeout_fired (req);
}

/* The whole request's limit, started with it. */
static void
arm_deadline (Request *req)
{
  req->deadline = g_timeout_source_new (req->self->max_duration_ms);
  g_source_set_callback (req->deadline, deadline_passed, req, NULL);
  g_source_attach (req->deadline, g_main_context_get_thread_default ());
}

/* (Re)starts the silence timer: called when the request starts and with
 * every piece of the body. */
static void
arm_idle_timeout (Request *req)
{
  if (req->idle_timeout != NULL)
    {
      g_source_destroy (req->idle_timeout);
      g_source_unref (req->idle_timeout);
    }
  req->idle_timeout = g_timeout_source_new (req->self->timeout_ms);
  g_source_set_callback (req->idle_timeout, idle_timeout_fired, req, NULL);
  g_source_attach (req->idle_timeout, g_main_context_get_thread_default ());
}

static void
caller_cancelled (GCancellable *cancellable, gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

/* @text with the API key replaced by `[redacted]` wherever and however it
 * is spelled, whole or cut (prd_redact()): a provider or a proxy
 * may echo the key in its error text, and that text reaches users, the job
 * records and the log. */
static char *
redact (PrdOpenAiProvider *self, const char *text)
{
  return prd_redact (text, self->api_key);
}

/* What the provider said, for one of our messages: the key redacted
 * (before the cut, so that no part of it stays), then cut short. */
static char *
provider_text (PrdOpenAiProvider *self, const char *text)
{
  g_autofree char *redacted = redact (self, text);

  return prd_error_truncate_message (redacted, MAX_ERROR_MESSAGE);
}

static void
complete (GTask *task, GError *error)
{
  Request *req = g_task_get_task_data (task);

  g_assert (!req->completed);
  req->completed = TRUE;
  if (req->idle_timeout != NULL)
    {
      g_source_destroy (req->idle_timeout);
      g_clear_pointer (&req->idle_timeout, g_source_unref);
    }
  if (req->deadline != NULL)
    {
      g_source_destroy (req->deadline);
      g_clear_pointer (&req->deadline, g_source_unref);
    }
  g_free (req->response->text);
  req->response->text = g_strndup (req->text->str, req->text->len);
  if (error != NULL)
    {
      /* Whatever the message quotes (a libsoup error, a reason phrase), it
       * never carries the key. */
      char *redacted = redact (req->self, error->message);

      g_free (error->message);
      error->message = redacted;
      g_task_return_error (task, error);
    }
  else
    g_task_return_boolean (task, TRUE);
}

static GError *
io_error (Request *req, const GError *error, gboolean answer_started)
{
  if (req->overran)
    return g_error_new (PRD_ERROR, PRD_ERROR_PROVIDER_TIMEOUT,
                        "The AI provider's answer took longer than %u ms",
                        req->self->max_duration_ms);
  if (req->timed_out)
    return g_error_new (PRD_ERROR, PRD_ERROR_PROVIDER_TIMEOUT,
                        "The AI provider sent nothing for %u ms", req->self->timeout_ms);
  if (req->caller != NULL && g_cancellable_is_cancelled (req->caller))
    return g_error_new_literal (PRD_ERROR, PRD_ERROR_CANCELLED, "The AI request was cancelled");
  if (answer_started)
    return g_error_new (PRD_ERROR, PRD_ERROR_PROVIDER_PROTOCOL_ERROR,
                        "The AI provider's answer was cut: %s", error->message);
  return g_error_new (PRD_ERROR, PRD_ERROR_PROVIDER_ERROR, "Cannot reach the AI provider at %s: %s",
                      req->self->base_url, error->message);
}

/* The `error.message` of an OpenAI-style error object, if there is one. */
static char *
error_object_message (PrdOpenAiProvider *self, JsonNode *node)
{
  JsonObject *object;
  JsonNode *error_node;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  object = json_node_get_object (node);
  error_node = json_object_get_member (object, "error");
  if (error_node == NULL)
    return NULL;
  if (JSON_NODE_HOLDS_VALUE (error_node) && json_node_get_value_type (error_node) == G_TYPE_STRING)
    return provider_text (self, json_node_get_string (error_node));
  if (JSON_NODE_HOLDS_OBJECT (error_node))
    {
      JsonObject *error_object = json_node_get_object (error_node);
      JsonNode *message = json_object_get_member (error_object, "message");

      if (message != NULL && JSON_NODE_HOLDS_VALUE (message) &&
          json_node_get_value_type (message) == G_TYPE_STRING)
        return provider_text (self, json_node_get_string (message));
      return g_strdup ("(no message)");
    }
  return g_strdup ("(no message)");
}

static guint
parse_retry_after (SoupMessageHeaders *headers)
{
  const char *value = soup_message_headers_get_one (headers, "Retry-After");
  guint64 seconds;

  if (value == NULL)
    return 0;
  /* Delay-seconds: digits only, as many as the provider likes; however
   * many, the wait is at most PRD_OPENAI_MAX_RETRY_AFTER (not none). */
  if (*value != '\0' && strspn (value, "0123456789") == strlen (value))
    {
      if (!g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT64, &seconds, NULL))
        return PRD_OPENAI_MAX_RETRY_AFTER;
      return (guint) MIN (seconds, PRD_OPENAI_MAX_RETRY_AFTER);
    }
  {
    g_autoptr (GDateTime) when = soup_date_time_new_from_http_string (value);
    g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
    GTimeSpan diff;

    if (when == NULL)
      return 0;
    diff = g_date_time_difference (when, now) / G_TIME_SPAN_SECOND;
    if (diff <= 0)
      return 0;
    return (guint) MIN (diff, PRD_OPENAI_MAX_RETRY_AFTER);
  }
}

/* An HTTP error: the body (read whole, bounded) may explain it. */
static GError *
http_error (Request *req)
{
  guint status = soup_message_get_status (req->msg);
  g_autofree char *detail = NULL;

  if (req->whole != NULL && req->whole->len > 0)
    {
      g_autoptr (JsonNode) root = prd_json_parse ((const char *) req->whole->data,
                                                  (gssize) req->whole->len, MAX_ERROR_BODY, NULL);

      if (root != NULL)
        detail = error_object_message (req->self, root);
      if (detail == NULL &&
          g_utf8_validate ((const char *) req->whole->data, (gssize) req->whole->len, NULL))
        {
          g_autofree char *text = g_strndup ((const char *) req->whole->data, req->whole->len);

          detail = provider_text (req->self, g_strstrip (text));
        }
    }
  if (detail == NULL || *detail == '\0')
    {
      g_free (detail);
      detail = soup_message_get_reason_phrase (req->msg) != NULL
                   ? provider_text (req->self, soup_message_get_reason_phrase (req->msg))
                   : g_strdup ("no explanation");
    }

  if (status == HTTP_TOO_MANY_REQUESTS)
    {
      req->response->retry_after = parse_retry_after (soup_message_get_response_headers (req->msg));
      if (req->response->retry_after > 0)
        return g_error_new (PRD_ERROR, PRD_ERROR_RATE_LIMIT_EXCEEDED,
                            "The AI provider's rate limit was reached (%s); retry after %u s",
                            detail, req->response->retry_after);
      return g_error_new (PRD_ERROR, PRD_ERROR_RATE_LIMIT_EXCEEDED,
                          "The AI provider's rate limit was reached (%s)", detail);
    }
  return g_error_new (PRD_ERROR, PRD_ERROR_PROVIDER_ERROR, "The AI provider answered HTTP %u: %s",
                      status, detail);
}

static void
read_usage (Request *req, JsonObject *object)
{
  JsonNode *usage_node = json_object_get_member (object, "usage");
  JsonObject *usage;
  static const char *const fields[] = { "prompt_tokens", "completion_tokens", "total_tokens" };
  gint64 *targets[] = { &req->response->prompt_tokens, &req->response->completion_tokens,
                        &req->response->total_tokens };

  if (usage_node == NULL || !JSON_NODE_HOLDS_OBJECT (usage_node))
    return;
  usage = json_node_get_object (usage_node);
  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      JsonNode *n = json_object_get_member (usage, fields[i]);

      if (n != NULL && JSON_NODE_HOLDS_VALUE (n) &&
          (json_node_get_value_type (n) == G_TYPE_INT64 ||
           json_node_get_value_type (n) == G_TYPE_DOUBLE) &&
          json_node_get_int (n) >= 0)
        *targets[i] = json_node_get_int (n);
    }
}

static void
read_model (Request *req, JsonObject *object)
{
  const char *model;

  if (!json_object_has_member (object, "model"))
    return;
  model = json_object_get_string_member_with_default (object, "model", NULL);
  if (model != NULL && req->response->model == NULL)
    req->response->model = g_utf8_make_valid (model, -1);
}

static const char *
string_member (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static JsonObject *
first_choice (JsonObject *object)
{
  JsonNode *choices = json_object_get_member (object, "choices");
  JsonArray *array;

  if (choices == NULL || !JSON_NODE_HOLDS_ARRAY (choices))
    return NULL;
  array = json_node_get_array (choices);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *choice = json_array_get_element (array, i);
      JsonObject *choice_object;
      JsonNode *index;

      if (!JSON_NODE_HOLDS_OBJECT (choice))
        continue;
      choice_object = json_node_get_object (choice);
      index = json_object_get_member (choice_object, "index");
      /* Servers that leave out the index send one choice only. */
      if (index == NULL || (JSON_NODE_HOLDS_VALUE (index) && json_node_get_int (index) == 0))
        return choice_object;
    }
  return NULL;
}

/* One complete event. Returns FALSE with @error set to end the request. */
static gboolean
dispatch_event (Request *req, GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) parse_error = NULL;
  g_autofree char *provider_message = NULL;
  JsonObject *object, *choice;

  if (!req->has_data)
    return TRUE;
  req->has_data = FALSE;
  /* The data lines were joined with '\n'; the last one is not part of it. */
  if (req->data->len > 0 && req->data->str[req->data->len - 1] == '\n')
    g_string_truncate (req->data, req->data->len - 1);

  if (g_str_equal (req->data->str, "[DONE]"))
    {
      req->done = TRUE;
      g_string_truncate (req->data, 0);
      return TRUE;
    }

  root = prd_json_parse (req->data->str, (gssize) req->data->len, PRD_OPENAI_MAX_EVENT_SIZE,
                         &parse_error);
  if (root == NULL)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_PROVIDER_PROTOCOL_ERROR,
                   "The AI provider sent an event that is not JSON: %s", parse_error->message);
      return FALSE;
    }
  g_string_truncate (req->data, 0);
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_PROVIDER_PROTOCOL_ERROR,
                           "The AI provider sent an event that is not a JSON object");
      return FALSE;
    }
  provider_message = error_object_message (req->self, root);
  if (provider_message != NULL)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_PROVIDER_ERROR,
                   "The AI provider reported an error: %s", provider_message);
      return FALSE;
    }

  object = json_node_get_object (root);
  read_model (req, object);
  read_usage (req, object);
  choice = first_choice (object);
  if (choice != NULL)
    {
      JsonNode *delta_node = json_object_get_member (choice, "delta");
      const char *finish = string_member (choice, "finish_reason");

      if (delta_node != NULL && JSON_NODE_HOLDS_OBJECT (delta_node))
        {
          const char *content = string_member (json_node_get_object (delta_node), "content");

          if (content != NULL && *content != '\0')
            {
              g_string_append (req->text, content);
              if (req->delta_func != NULL)
                req->delta_func (content, req->delta_data);
              if (g_cancellable_is_cancelled (req->cancellable))
                {
                  g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CANCELLED,
                                       "The AI request was cancelled");
                  return FALSE;
                }
            }
        }
      if (finish != NULL && req->response->finish_reason == NULL)
        req->response->finish_reason = g_utf8_make_valid (finish, -1);
    }
  return TRUE;
}

/* One line of the event stream, without its line ending. */
static gboolean
handle_line (Request *req, GError **error)
{
  const char *line = req->line->str;
  const char *colon;
  const char *value;
  gsize field_len;

  if (req->line->len == 0)
    return dispatch_event (req, error);
  if (line[0] == ':')
    return TRUE; /* a comment, e.g. a keep-alive */

  colon = strchr (line, ':');
  field_len = colon != NULL ? (gsize) (colon - line) : req->line->len;
  value = colon != NULL ? colon + 1 : "";
  if (*value == ' ')
    value++;

  if (field_len == 4 && strncmp (line, "data", 4) == 0)
    {
      g_string_append (req->data, value);
      g_string_append_c (req->data, '\n');
      req->has_data = TRUE;
      if (req->data->len > PRD_OPENAI_MAX_EVENT_SIZE)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_PROVIDER_PROTOCOL_ERROR,
                       "The AI provider sent an event larger than %d bytes",
                       PRD_OPENAI_MAX_EVENT_SIZE);
          return FALSE;
        }
    }
  /* event, id, retry and unknown fields carry nothing for chat completions */
  return TRUE;
}

static gboolean
feed (Request *req, const guint8 *bytes, gsize len, GError **error)
{
  for (gsize i = 0; i < len && !req->done; i++)
    {
      guint8 c = bytes[i];

      if (c == '\n' && req->skip_lf)
        {
          req->skip_lf = FALSE;
          continue;
        }
      req->skip_lf = FALSE;
      if (c == '\r' || c == '\n')
        {
          req->skip_lf = c == '\r';
          if (!g_utf8_validate (req->line->str, (gssize) req->line->len, NULL))
            {
              g_set_error_literal (error, PRD_ERROR, PRD_ERROR_PROVIDER_PROTOCOL_ERROR,
                                   "The AI provider sent an event that is not UTF-8");
              return FALSE;
            }
          if (!handle_line (req, error))
            return FALSE;
          g_string_truncate (req->line, 0);
          continue;
        }
      if (c == '\0')
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_PROVIDER_PROTOCOL_ERROR,
                               "The AI provider sent a NUL byte in its event stream");
          return FALSE;
        }
      g_string_append_c (req->line, (char) c);
      if (req->line->len > PRD_OPENAI_MAX_EVENT_SIZE)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_PROVIDER_PROTOCOL_ERROR,
                       "The AI provider sent an event larger than %d bytes",
                       PRD_OPENAI_MAX_EVENT_SIZE);
          return FALSE;
        }
    }
  return TRUE;
}

/* A non-streamed answer: `choices[0].message.content`. */
static GError *
parse_whole_answer (Request *req)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) parse_error = NULL;
  JsonObject *object, *choice;
  JsonNode *message;
  const char *content;

  root = prd_json_parse ((const char *) req->whole->data, (gssize) req->whole->len,
                         req->self->max_response_bytes, &parse_error);
  if (root == NULL)
    return g_error_new (PRD_ERROR, PRD_ERROR_PROVIDER_PROTOCOL_ERROR,
                        "The AI provider's answer is not JSON: %s", parse_error->message);
  if (!JSON_NODE_HOLDS_OBJECT (root))
    return g_error_new_literal (PRD_ERROR, PRD_ERROR_PROVIDER_PROTOCOL_ERROR,
                                "The AI provider's answer is not a JSON object");
  {
    g_autofree char *provider_message = error_object_message (req->self, root);

    if (provider_message != NULL)
      return g_error_new (PRD_ERROR, PRD_ERROR_PROVIDER_ERROR,
                          "The AI provider reported an error: %s", provider_message);
  }
  object = json_node_get_object (root);
  read_model (req, object);
  read_usage (req, object);
  choice = first_choice (object);
  message = choice != NULL ? json_object_get_member (choice, "message") : NULL;
  content = message != NULL && JSON_NODE_HOLDS_OBJECT (message)
                ? string_member (json_node_get_object (message), "content")
                : NULL;
  if (content == NULL)
    return g_error_new_literal (PRD_ERROR, PRD_ERROR_PROVIDER_PROTOCOL_ERROR,
                                "The AI provider's answer has no choices[0].message.content");
  g_string_append (req->text, content);
  if (req->response->finish_reason == NULL && string_member (choice, "finish_reason") != NULL)
    req->response->finish_reason = g_utf8_make_valid (string_member (choice, "finish_reason"), -1);
  return NULL;
}

/* ---- the body of a successful answer (also driven by tests/fuzz/fuzz-ai-sse.c) ---- */

PrdOpenAiRequest *
prd_openai_request_new (PrdOpenAiProvider *self,
                        gboolean streaming,
                        PrdAiDeltaFunc delta_func,
                        gpointer delta_data)
{
  Request *req = request_new (self, streaming, delta_func, delta_data);

  if (!streaming)
    req->whole = g_byte_array_new ();
  return req;
}

void
prd_openai_request_free (PrdOpenAiRequest *req)
{
  request_free (req);
}

/* One piece of the body: a streamed answer's events are handled as soon as
 * they are complete, a whole answer is kept until the end. */
gboolean
prd_openai_request_read (PrdOpenAiRequest *req, const guint8 *bytes, gsize len, GError **error)
{
  gsize limit = req->streaming ? req->self->max_response_bytes
                               : MIN (req->self->max_response_bytes, PRD_OPENAI_MAX_WHOLE_SIZE);

  req->body_size += len;
  /* Keep-alive comments reset the idle timer, so only a size limit stops a
   * provider that streams for ever. */
  if (req->body_size > limit)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_PROVIDER_PROTOCOL_ERROR,
                   "The AI provider's answer exceeds %" G_GSIZE_FORMAT " bytes", limit);
      return FALSE;
    }
  if (!req->streaming)
    {
      g_byte_array_append (req->whole, bytes, (guint) len);
      return TRUE;
    }
  return feed (req, bytes, len, error);
}

gboolean
prd_openai_request_is_done (PrdOpenAiRequest *req)
{
  return req->done;
}

/* The end of the body: NULL if the answer is complete. */
GError *
prd_openai_request_end (PrdOpenAiRequest *req)
{
  if (!req->streaming)
    return parse_whole_answer (req);
  if (req->done || req->response->finish_reason != NULL)
    return NULL;
  return g_error_new_literal (PRD_ERROR, PRD_ERROR_PROVIDER_PROTOCOL_ERROR,
                              "The AI provider's stream ended before the answer was complete");
}

const char *
prd_openai_request_get_text (PrdOpenAiRequest *req, gsize *len)
{
  *len = req->text->len;
  return req->text->str;
}

PrdAiResponse *
prd_openai_request_get_response (PrdOpenAiRequest *req)
{
  return req->response;
}

static void read_next (GTask *task);

static void
body_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Request *req = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = NULL;
  GError *failure = NULL;
  guint status = soup_message_get_status (req->msg);
  gboolean success = SOUP_STATUS_IS_SUCCESSFUL (status);
  gsize len;

  bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  if (bytes == NULL)
    {
      /* An error body that breaks off still explains the status. */
      if (!success && !req->timed_out &&
          !(req->caller != NULL && g_cancellable_is_cancelled (req->caller)))
        complete (task, http_error (req));
      else
        complete (task, io_error (req, error, TRUE));
      return;
    }

  len = g_bytes_get_size (bytes);
  if (len == 0)
    {
      complete (task, success ? prd_openai_request_end (req) : http_error (req));
      return;
    }

  arm_idle_timeout (req);
  if (!success)
    {
      req->body_size += len;
      if (req->body_size > MAX_ERROR_BODY)
        {
          /* Enough to explain the error. */
          complete (task, http_error (req));
          return;
        }
      g_byte_array_append (req->whole, g_bytes_get_data (bytes, NULL), (guint) len);
      read_next (g_steal_pointer (&task));
      return;
    }

  if (!prd_openai_request_read (req, g_bytes_get_data (bytes, NULL), len, &failure))
    {
      complete (task, failure);
      return;
    }
  if (req->done)
    {
      /* Whatever follows [DONE] is not read; the connection is dropped
       * with the stream. */
      complete (task, NULL);
      return;
    }
  read_next (g_steal_pointer (&task));
}

static void
read_next (GTask *task)
{
  Request *req = g_task_get_task_data (task);

  g_input_stream_read_bytes_async (req->body, READ_SIZE, G_PRIORITY_DEFAULT, req->cancellable,
                                   body_read, task);
}

static void
sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Request *req = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  guint status;

  req->body = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (req->body == NULL)
    {
      complete (task, io_error (req, error, FALSE));
      return;
    }
  arm_idle_timeout (req);
  status = soup_message_get_status (req->msg);
  req->response->http_status = status;
  if (!SOUP_STATUS_IS_SUCCESSFUL (status) || !req->streaming)
    {
      req->whole = g_byte_array_new ();
      read_next (g_steal_pointer (&task));
      return;
    }
  if (status != SOUP_STATUS_OK ||
      g_strcmp0 (soup_message_headers_get_content_type (
                     soup_message_get_response_headers (req->msg), NULL),
                 "text/event-stream") != 0)
    {
      complete (task, g_error_new (PRD_ERROR, PRD_ERROR_PROVIDER_PROTOCOL_ERROR,
                                   "The AI provider answered a streamed request with HTTP %u "
                                   "and %s instead of an event stream",
                                   status,
                                   soup_message_headers_get_content_type (
                                       soup_message_get_response_headers (req->msg), NULL) != NULL
                                       ? soup_message_headers_get_content_type (
                                             soup_message_get_response_headers (req->msg), NULL)
                                       : "no content type"));
      return;
    }
  read_next (g_steal_pointer (&task));
}

static GBytes *
build_body (PrdOpenAiProvider *self, GPtrArray *messages, gboolean stream)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  char *text;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "model");
  json_builder_add_string_value (builder, self->model);
  json_builder_set_member_name (builder, "messages");
  json_builder_begin_array (builder);
  for (guint i = 0; i < messages->len; i++)
    {
      PrdAiMessage *message = g_ptr_array_index (messages, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "role");
      json_builder_add_string_value (builder, prd_ai_role_to_string (message->role));
      json_builder_set_member_name (builder, "content");
      json_builder_add_string_value (builder, message->content);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "stream");
  json_builder_add_boolean_value (builder, stream);
  if (stream)
    {
      json_builder_set_member_name (builder, "stream_options");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "include_usage");
      json_builder_add_boolean_value (builder, TRUE);
      json_builder_end_object (builder);
    }
  json_builder_set_member_name (builder, "max_tokens");
  json_builder_add_int_value (builder, self->max_tokens);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  text = prd_json_to_string (root);
  return g_bytes_new_take (text, strlen (text));
}

static void
start_request (PrdOpenAiProvider *self,
               GPtrArray *messages,
               gboolean stream,
               PrdAiDeltaFunc delta_func,
               gpointer delta_data,
               gpointer tag,
               GCancellable *cancellable,
               GAsyncReadyCallback callback,
               gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr (GBytes) body = build_body (self, messages, stream);
  SoupMessageHeaders *headers;
  Request *req;

  g_task_set_source_tag (task, tag);
  /* Cancellation is reported as PRD_ERROR_CANCELLED, with the partial text. */
  g_task_set_check_cancellable (task, FALSE);

  req = request_new (self, stream, delta_func, delta_data);
  if (cancellable != NULL)
    {
      req->caller = g_object_ref (cancellable);
      req->caller_handler = g_cancellable_connect (cancellable, G_CALLBACK (caller_cancelled),
                                                   req->cancellable, NULL);
    }
  g_task_set_task_data (task, req, request_free);

  req->msg = soup_message_new (SOUP_METHOD_POST, self->endpoint);
  /* A redirect is an error (http_error()): it would turn the POST into a
   * GET to wherever the provider points, with the API key unless libsoup
   * drops it. */
  soup_message_add_flags (req->msg, SOUP_MESSAGE_NO_REDIRECT);
  g_assert (req->msg != NULL);
  headers = soup_message_get_request_headers (req->msg);
  soup_message_headers_replace (headers, "Accept",
                                stream ? "text/event-stream" : "application/json");
  if (self->api_key != NULL)
    {
      g_autofree char *authorization = g_strconcat ("Bearer ", self->api_key, NULL);

      soup_message_headers_replace (headers, "Authorization", authorization);
    }
  soup_message_set_request_body_from_bytes (req->msg, "application/json", body);

  arm_idle_timeout (req);
  arm_deadline (req);
  soup_session_send_async (self->session, req->msg, G_PRIORITY_DEFAULT, req->cancellable, sent,
                           g_steal_pointer (&task));
}

static gboolean
request_finish (GAsyncResult *result, PrdAiResponse **response, GError **error)
{
  Request *req = g_task_get_task_data (G_TASK (result));

  if (response != NULL)
    *response = prd_ai_response_ref (req->response);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
prd_openai_provider_stream_async (PrdAiProvider *provider,
                                  GPtrArray *messages,
                                  PrdAiDeltaFunc delta_func,
                                  gpointer delta_data,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  start_request (PRD_OPENAI_PROVIDER (provider), messages, TRUE, delta_func, delta_data,
                 prd_openai_provider_stream_async, cancellable, callback, user_data);
}

static gboolean
prd_openai_provider_stream_finish (PrdAiProvider *provider,
                                   GAsyncResult *result,
                                   PrdAiResponse **response,
                                   GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, provider), FALSE);

  return request_finish (result, response, error);
}

static void
prd_openai_provider_complete_async (PrdAiProvider *provider,
                                    GPtrArray *messages,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  start_request (PRD_OPENAI_PROVIDER (provider), messages, FALSE, NULL, NULL,
                 prd_openai_provider_complete_async, cancellable, callback, user_data);
}

static gboolean
prd_openai_provider_complete_finish (PrdAiProvider *provider,
                                     GAsyncResult *result,
                                     PrdAiResponse **response,
                                     GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, provider), FALSE);

  return request_finish (result, response, error);
}

static void
ai_provider_iface_init (PrdAiProviderInterface *iface)
{
  iface->stream_async = prd_openai_provider_stream_async;
  iface->stream_finish = prd_openai_provider_stream_finish;
  iface->complete_async = prd_openai_provider_complete_async;
  iface->complete_finish = prd_openai_provider_complete_finish;
}

static void
prd_openai_provider_dispose (GObject *object)
{
  PrdOpenAiProvider *self = PRD_OPENAI_PROVIDER (object);

  if (self->session != NULL)
    soup_session_abort (self->session);
  g_clear_object (&self->session);

  G_OBJECT_CLASS (prd_openai_provider_parent_class)->dispose (object);
}

static void
prd_openai_provider_finalize (GObject *object)
{
  PrdOpenAiProvider *self = PRD_OPENAI_PROVIDER (object);

  g_free (self->base_url);
  g_free (self->endpoint);
  g_free (self->model);
  if (self->api_key != NULL)
    memset (self->api_key, 0, strlen (self->api_key));
  g_free (self->api_key);

  G_OBJECT_CLASS (prd_openai_provider_parent_class)->finalize (object);
}

static void
prd_openai_provider_class_init (PrdOpenAiProviderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = prd_openai_provider_dispose;
  object_class->finalize = prd_openai_provider_finalize;
}

static void
prd_openai_provider_init (PrdOpenAiProvider *self)
{
}

static gboolean
check_base_url (const char *base_url, GError **error)
{
  g_autoptr (GUri) uri = g_uri_parse (base_url, G_URI_FLAGS_NONE, NULL);
  const char *scheme;

  if (uri == NULL)
    goto bad;
  scheme = g_uri_get_scheme (uri);
  if ((g_strcmp0 (scheme, "http") != 0 && g_strcmp0 (scheme, "https") != 0) ||
      g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0' ||
      g_uri_get_userinfo (uri) != NULL || g_uri_get_query (uri) != NULL ||
      g_uri_get_fragment (uri) != NULL)
    goto bad;
  return TRUE;

bad:
  g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
               "[ai] base-url: \"%s\" is not an http:// or https:// URL without credentials, "
               "query or fragment",
               base_url);
  return FALSE;
}

static gboolean
is_printable_ascii (const char *str)
{
  for (const char *p = str; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || (guchar) *p > 0x7e)
      return FALSE;
  return TRUE;
}

/**
 * prd_openai_provider_new:
 * @settings: where and how to ask
 *
 * Returns: (transfer full): the provider, or %NULL with @error set:
 *   %PRD_ERROR_AI_NOT_CONFIGURED without a base URL or model,
 *   %PRD_ERROR_CONFIG for a value out of range
 */
PrdAiProvider *
prd_openai_provider_new (const PrdOpenAiSettings *settings, GError **error)
{
  g_autoptr (PrdOpenAiProvider) self = NULL;
  g_autofree char *base_url = NULL;

  g_return_val_if_fail (settings != NULL, NULL);

  if (settings->base_url == NULL || *settings->base_url == '\0' || settings->model == NULL ||
      *settings->model == '\0')
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_AI_NOT_CONFIGURED,
                           "AI help is not configured: set base-url and model in [ai]");
      return NULL;
    }
  if (!check_base_url (settings->base_url, error))
    return NULL;
  if (strlen (settings->model) > MAX_MODEL_LENGTH || !is_printable_ascii (settings->model))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "[ai] model: must be printable ASCII of at most %d characters",
                   MAX_MODEL_LENGTH);
      return NULL;
    }
  /* A key with a line break would let it write headers of its own. */
  if (settings->api_key != NULL &&
      (strlen (settings->api_key) > MAX_API_KEY_LENGTH || !is_printable_ascii (settings->api_key)))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "The AI provider's API key must be printable ASCII of at most %d characters",
                   MAX_API_KEY_LENGTH);
      return NULL;
    }
  if (settings->timeout_ms < PRD_OPENAI_MIN_TIMEOUT_MS ||
      settings->timeout_ms > PRD_OPENAI_MAX_TIMEOUT_MS)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "[ai] timeout: must be between %d and %d ms",
                   PRD_OPENAI_MIN_TIMEOUT_MS, PRD_OPENAI_MAX_TIMEOUT_MS);
      return NULL;
    }
  if (settings->max_tokens < 1 || settings->max_tokens > PRD_OPENAI_MAX_MAX_TOKENS)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "[ai] max-tokens: must be between 1 and %d",
                   PRD_OPENAI_MAX_MAX_TOKENS);
      return NULL;
    }

  base_url = g_strdup (settings->base_url);
  while (g_str_has_suffix (base_url, "/"))
    base_url[strlen (base_url) - 1] = '\0';

  self = g_object_new (PRD_TYPE_OPENAI_PROVIDER, NULL);
  self->base_url = g_steal_pointer (&base_url);
  self->endpoint = g_strconcat (self->base_url, "/chat/completions", NULL);
  self->model = g_strdup (settings->model);
  self->api_key =
      settings->api_key != NULL && *settings->api_key != '\0' ? g_strdup (settings->api_key) : NULL;
  self->timeout_ms = settings->timeout_ms;
  self->max_tokens = settings->max_tokens;
  self->max_response_bytes = settings->max_response_bytes != 0 ? settings->max_response_bytes
                                                               : PRD_OPENAI_MAX_RESPONSE_SIZE;
  self->max_duration_ms = settings->max_duration_ms != 0 ? settings->max_duration_ms
                                                         : PRD_OPENAI_DEFAULT_MAX_DURATION_MS;
  /* Our own idle timer covers the timeouts; several jobs may stream from
   * one server at once. */
  self->session = soup_session_new_with_options ("user-agent", PACKAGE_NAME "/" PACKAGE_VERSION,
                                                 "max-conns-per-host", MAX_CONNS_PER_HOST,
                                                 "timeout", 0, "idle-timeout", 60, NULL);
  return PRD_AI_PROVIDER (g_steal_pointer (&self));
}

const char *
prd_openai_provider_get_base_url (PrdOpenAiProvider *self)
{
  g_return_val_if_fail (PRD_IS_OPENAI_PROVIDER (self), NULL);

  return self->base_url;
}

const char *
prd_openai_provider_get_model (PrdOpenAiProvider *self)
{
  g_return_val_if_fail (PRD_IS_OPENAI_PROVIDER (self), NULL);

  return self->model;
}
