/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * An OpenAI-compatible Chat Completions server for tests, on 127.0.0.1
 * only. `POST /v1/chat/completions` answers by a script chosen with the
 * first word of the last message, `scenario:NAME` (default `stream`, or
 * `complete` for a request without `stream: true`):
 *
 *   stream            three content deltas, finish_reason, a usage chunk, [DONE]
 *   completion-usage  like stream, usage with completion_tokens only
 *   length            finish_reason "length"
 *   split             stream, in 3-byte writes, CRLF line endings, comments,
 *                     an `event:` field and a JSON object over two data lines
 *   gated             "first", then waits for ai_test_server_open_gate(), then
 *                     50 ms later the rest
 *   slow              five deltas 150 ms apart
 *   many              400 one-character deltas ("a", "é", "✓", U+1F600
 *                     over and over) in one write, then finish_reason and
 *                     [DONE]
 *   finish-no-done    finish_reason, then the body ends without [DONE]
 *   rate-limit        429, Retry-After: 7
 *   rate-limit-date   429, Retry-After as an HTTP date two minutes ahead
 *   rate-limit-huge   429, Retry-After: 1000000000000 (past 32 bits)
 *   rate-limit-vast   429, Retry-After of 30 digits (past 64 bits)
 *   server-error      500 with an OpenAI error object
 *   server-error-huge 500 with a 200 KiB plain-text body
 *   unauthorized      401 with a plain-text body
 *   echo-key          401 with an OpenAI error object quoting the API key
 *   echo-key-text     401 with a plain-text body of 290 characters, then
 *                     the request's Authorization header (the key straddles
 *                     the client's cut of a provider's text)
 *   mid-error-key     one delta, then an error event quoting the request's
 *                     Authorization header
 *   echo-key-split    401 with a plain-text body of spaces up to 20 bytes
 *                     short of the client's 64 KiB bound of an error body,
 *                     the first 20 characters of the API key, then, 100 ms
 *                     later, the rest of it (the bound cuts the key)
 *   echo-key-urlencoded 401 with an OpenAI error object quoting the API key
 *                     URL-encoded
 *   echo-key-basic    401 with an OpenAI error object quoting
 *                     `Basic base64(":" key)`
 *   echo-key-reason   401 without a body, whose reason phrase quotes the
 *                     API key, then goes on for 400 characters
 *   stall             one delta, then silence
 *   stall-headers     silence before any header
 *   cut               two deltas, then the body ends (no finish_reason, no [DONE])
 *   drop              one delta, then the connection is closed mid-body
 *   malformed         one delta, then an event that is not JSON
 *   not-object        one delta, then an event that is a JSON array
 *   mid-error         one delta, then an OpenAI error object as an event
 *   huge-event        a data line longer than the client's event limit
 *   deep-event        one delta, then an event of 100,000 nested arrays
 *   nul-event         one delta, then a delta whose content escapes U+0000
 *   json-instead      a non-streamed JSON answer to a streamed request
 *   complete          a non-streamed answer with usage
 *   complete-garbage  a non-streamed answer that is not JSON
 *   redirect          302 to this server's own answer (`complete`)
 *   complete-huge     a non-streamed answer of 2 MiB (valid: an array of
 *                     empty arrays in its content's place)
 *   suggestions       a non-streamed answer: a JSON array of follow-up
 *                     suggestions, one valid and two not
 *   review            a non-streamed answer: a JSON array of review
 *                     suggestions, one valid and one without confidence
 *   review-sections   a non-streamed answer: four valid review suggestions
 *                     whose sections are "User Stories", "!!!",
 *                     "No Such Heading" and "user-stories"
 *   alignment         a non-streamed answer: a fenced JSON alignment
 *                     object (score, status, suggestions with a non-string
 *                     and an empty one)
 *   alignment-bad     a non-streamed answer: an alignment object whose
 *                     score and status are out of range
 *
 * A non-streamed request whose last message names no scenario takes the one
 * named `then:NAME` in an earlier message, so that a follow-up request can
 * be scripted from the first one's prompt.
 *
 * Scripted steps run on the server's main context with pauses between
 * them, so the client sees the body arrive piece by piece.
 */
#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "ai-test-server.h"

#define HUGE_EVENT_SIZE (2 * 1024 * 1024)
/* How much of an error body the client reads (MAX_ERROR_BODY of
 * prd-openai-provider.c). */
#define CLIENT_ERROR_BODY (64 * 1024)
#define SPLIT_KEY_AT      20

typedef enum
{
  STEP_SEND,
  STEP_WAIT_GATE,
  STEP_STALL,
  STEP_END,
  STEP_DROP,
} StepKind;

typedef struct
{
  StepKind kind;
  guint delay_ms;
  GBytes *data; /* (owned) (nullable) */
} Step;

typedef struct _Stream Stream;

struct _AiTestServer
{
  SoupServer *server;
  GPtrArray *streams; /* (element-type Stream) (owned) */
  gboolean gate_open;
  guint n_requests;
  char *last_body;
  char *last_authorization;
  char *last_accept;
};

struct _Stream
{
  AiTestServer *owner;
  SoupServerMessage *msg; /* (owned) */
  GPtrArray *steps;       /* (element-type Step) (owned) */
  guint next;
  GSource *timer; /* (owned) (nullable) */
  gulong finished_id;
  gboolean waiting_gate;
};

static void
step_free (gpointer data)
{
  Step *step = data;

  g_clear_pointer (&step->data, g_bytes_unref);
  g_free (step);
}

static void
add_step (GPtrArray *steps, StepKind kind, guint delay_ms, const char *data, gssize len)
{
  Step *step = g_new0 (Step, 1);

  step->kind = kind;
  step->delay_ms = delay_ms;
  if (data != NULL)
    step->data = g_bytes_new (data, len < 0 ? strlen (data) : (gsize) len);
  g_ptr_array_add (steps, step);
}

static void
stream_free (Stream *stream)
{
  if (stream->timer != NULL)
    g_source_destroy (stream->timer);
  g_clear_pointer (&stream->timer, g_source_unref);
  if (stream->finished_id != 0)
    g_signal_handler_disconnect (stream->msg, stream->finished_id);
  g_clear_object (&stream->msg);
  g_ptr_array_unref (stream->steps);
  g_free (stream);
}

static void
stream_remove (Stream *stream)
{
  g_ptr_array_remove (stream->owner->streams, stream);
  stream_free (stream);
}

static void run_stream (Stream *stream);

static gboolean
timer_fired (gpointer user_data)
{
  Stream *stream = user_data;

  g_clear_pointer (&stream->timer, g_source_unref);
  run_stream (stream);
  return G_SOURCE_REMOVE;
}

static void
schedule (Stream *stream, guint delay_ms)
{
  stream->timer = g_timeout_source_new (delay_ms);
  g_source_set_callback (stream->timer, timer_fired, stream, NULL);
  g_source_attach (stream->timer, g_main_context_get_thread_default ());
}

/* Runs the next step, then schedules the one after it. */
static void
run_stream (Stream *stream)
{
  SoupMessageBody *body = soup_server_message_get_response_body (stream->msg);
  Step *step;

  if (stream->next >= stream->steps->len)
    return;
  step = g_ptr_array_index (stream->steps, stream->next);

  switch (step->kind)
    {
      case STEP_SEND:
        soup_message_body_append_bytes (body, step->data);
        soup_server_message_unpause (stream->msg);
        break;
      case STEP_WAIT_GATE:
        if (!stream->owner->gate_open)
          {
            stream->waiting_gate = TRUE;
            return;
          }
        stream->waiting_gate = FALSE;
        break;
      case STEP_STALL:
        return;
      case STEP_END:
        soup_message_body_complete (body);
        soup_server_message_unpause (stream->msg);
        stream->next++;
        return;
      case STEP_DROP:
        {
          GIOStream *connection = soup_server_message_steal_connection (stream->msg);

          g_io_stream_close (connection, NULL, NULL);
          g_object_unref (connection);
          stream_remove (stream);
          return;
        }
      default:
        g_assert_not_reached ();
    }

  stream->next++;
  if (stream->next < stream->steps->len)
    schedule (stream, ((Step *) g_ptr_array_index (stream->steps, stream->next))->delay_ms);
}

static void
message_finished (SoupServerMessage *msg, gpointer user_data)
{
  Stream *stream = user_data;

  g_signal_handler_disconnect (msg, stream->finished_id);
  stream->finished_id = 0;
  stream_remove (stream);
}

static char *
sse_event (JsonNode *node)
{
  g_autofree char *json = json_to_string (node, FALSE);

  return g_strdup_printf ("data: %s\n\n", json);
}

static JsonNode *
chunk_node (const char *content, const char *finish_reason, gboolean with_choice)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, "chatcmpl-test");
  json_builder_set_member_name (b, "object");
  json_builder_add_string_value (b, "chat.completion.chunk");
  json_builder_set_member_name (b, "created");
  json_builder_add_int_value (b, 1700000000);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, AI_TEST_SERVER_MODEL);
  json_builder_set_member_name (b, "choices");
  json_builder_begin_array (b);
  if (with_choice)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "index");
      json_builder_add_int_value (b, 0);
      json_builder_set_member_name (b, "delta");
      json_builder_begin_object (b);
      if (content != NULL)
        {
          json_builder_set_member_name (b, "content");
          json_builder_add_string_value (b, content);
        }
      json_builder_end_object (b);
      json_builder_set_member_name (b, "finish_reason");
      if (finish_reason != NULL)
        json_builder_add_string_value (b, finish_reason);
      else
        json_builder_add_null_value (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static char *
delta_event (const char *content)
{
  g_autoptr (JsonNode) node = chunk_node (content, NULL, TRUE);

  return sse_event (node);
}

static char *
finish_event (const char *reason)
{
  g_autoptr (JsonNode) node = chunk_node (NULL, reason, TRUE);

  return sse_event (node);
}

static char *
usage_event (gint64 prompt, gint64 completion, gint64 total)
{
  g_autoptr (JsonNode) node = chunk_node (NULL, NULL, FALSE);
  JsonObject *usage = json_object_new ();

  if (prompt >= 0)
    json_object_set_int_member (usage, "prompt_tokens", prompt);
  if (completion >= 0)
    json_object_set_int_member (usage, "completion_tokens", completion);
  if (total >= 0)
    json_object_set_int_member (usage, "total_tokens", total);
  json_object_set_object_member (json_node_get_object (node), "usage", usage);
  return sse_event (node);
}

static void
send_text (GPtrArray *steps, guint delay_ms, char *owned_text)
{
  add_step (steps, STEP_SEND, delay_ms, owned_text, -1);
  g_free (owned_text);
}

/* The usual successful stream, with @finish and usage as given. */
static void
add_normal_stream (GPtrArray *steps, const char *finish, gint64 total)
{
  send_text (steps, 0, delta_event (""));
  send_text (steps, 10, delta_event ("Hello"));
  send_text (steps, 10, delta_event (", "));
  send_text (steps, 10, delta_event ("world \xe2\x9c\x93"));
  send_text (steps, 10, finish_event (finish));
  send_text (steps, 0, usage_event (12, 3, total));
  add_step (steps, STEP_SEND, 0, "data: [DONE]\n\n", -1);
  add_step (steps, STEP_END, 0, NULL, 0);
}

static void
respond_json (SoupServerMessage *msg, guint status, const char *json)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, json, strlen (json));
}

static const char *
scenario_of (JsonObject *request)
{
  static char scenario[64];
  JsonArray *messages;
  JsonObject *last;
  const char *content;
  const char *end;

  if (!json_object_has_member (request, "messages"))
    return "";
  messages = json_object_get_array_member (request, "messages");
  if (messages == NULL || json_array_get_length (messages) == 0)
    return "";
  last = json_array_get_object_element (messages, json_array_get_length (messages) - 1);
  content = last != NULL ? json_object_get_string_member_with_default (last, "content", "") : "";
  if (!g_str_has_prefix (content, "scenario:"))
    {
      if (json_object_get_boolean_member_with_default (request, "stream", FALSE))
        return "";
      content = NULL;
      for (guint i = 0; content == NULL && i + 1 < json_array_get_length (messages); i++)
        {
          JsonObject *message = json_array_get_object_element (messages, i);
          const char *text =
              message != NULL ? json_object_get_string_member_with_default (message, "content", "")
                              : "";

          content = strstr (text, "then:");
        }
      if (content == NULL)
        return "";
      content += strlen ("then:");
    }
  else
    content += strlen ("scenario:");
  end = content;
  while (*end != '\0' && !g_ascii_isspace (*end))
    end++;
  g_strlcpy (scenario, content, MIN (sizeof scenario, (gsize) (end - content) + 1));
  return scenario;
}

static void
handle_completions (SoupServer *server,
                    SoupServerMessage *msg,
                    const char *path,
                    GHashTable *query,
                    gpointer user_data)
{
  AiTestServer *self = user_data;
  SoupMessageHeaders *request_headers = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  SoupMessageBody *request_body = soup_server_message_get_request_body (msg);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GBytes) flattened = NULL;
  g_autoptr (GPtrArray) steps = NULL;
  JsonObject *request;
  const char *scenario;
  gboolean stream;
  Stream *s;
  guint status = 200;
  const char *content_type = "text/event-stream";

  if (soup_server_message_get_method (msg) != SOUP_METHOD_POST)
    {
      respond_json (msg, 405, "{\"error\":{\"message\":\"POST only\"}}");
      return;
    }
  self->n_requests++;
  flattened = soup_message_body_flatten (request_body);
  g_free (self->last_body);
  self->last_body = g_strndup (g_bytes_get_data (flattened, NULL), g_bytes_get_size (flattened));
  g_free (self->last_authorization);
  self->last_authorization =
      g_strdup (soup_message_headers_get_one (request_headers, "Authorization"));
  g_free (self->last_accept);
  self->last_accept = g_strdup (soup_message_headers_get_one (request_headers, "Accept"));

  if (!json_parser_load_from_data (parser, self->last_body, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      respond_json (msg, 400, "{\"error\":{\"message\":\"the body is not a JSON object\"}}");
      return;
    }
  request = json_node_get_object (json_parser_get_root (parser));
  stream = json_object_get_boolean_member_with_default (request, "stream", FALSE);
  scenario = scenario_of (request);
  if (*scenario == '\0')
    scenario = stream ? "stream" : "complete";

  if (g_str_equal (scenario, "rate-limit") || g_str_equal (scenario, "rate-limit-date") ||
      g_str_equal (scenario, "rate-limit-huge") || g_str_equal (scenario, "rate-limit-vast"))
    {
      if (g_str_equal (scenario, "rate-limit"))
        soup_message_headers_replace (headers, "Retry-After", "7");
      else if (g_str_equal (scenario, "rate-limit-huge"))
        soup_message_headers_replace (headers, "Retry-After", "1000000000000");
      else if (g_str_equal (scenario, "rate-limit-vast"))
        soup_message_headers_replace (headers, "Retry-After", "123456789012345678901234567890");
      else
        {
          g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
          g_autoptr (GDateTime) later = g_date_time_add_seconds (now, 120);
          g_autofree char *date = soup_date_time_to_string (later, SOUP_DATE_HTTP);

          soup_message_headers_replace (headers, "Retry-After", date);
        }
      respond_json (msg, 429,
                    "{\"error\":{\"message\":\"Rate limit reached for requests\","
                    "\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}");
      return;
    }
  if (g_str_equal (scenario, "server-error"))
    {
      respond_json (msg, 500,
                    "{\"error\":{\"message\":\"The model exploded\",\"type\":\"server_error\"}}");
      return;
    }
  if (g_str_equal (scenario, "server-error-huge"))
    {
      gsize size = 200 * 1024;
      char *body = g_malloc (size);

      memset (body, 'e', size);
      soup_server_message_set_status (msg, 500, NULL);
      soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_TAKE, body, size);
      return;
    }
  if (g_str_equal (scenario, "redirect"))
    {
      g_autofree char *to = g_uri_to_string (soup_server_message_get_uri (msg));

      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Location", to);
      soup_server_message_set_status (msg, 302, NULL);
      return;
    }
  if (g_str_equal (scenario, "complete-huge"))
    {
      g_autoptr (GString) body = g_string_new ("{\"choices\":[{\"message\":{\"content\":[");

      while (body->len < 2 * 1024 * 1024)
        g_string_append (body, "[],");
      g_string_append (body, "[]]}}]}");
      soup_server_message_set_status (msg, 200, NULL);
      soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, body->str,
                                        body->len);
      return;
    }
  if (g_str_equal (scenario, "echo-key") || g_str_equal (scenario, "echo-key-text") ||
      g_str_equal (scenario, "echo-key-urlencoded") || g_str_equal (scenario, "echo-key-basic"))
    {
      const char *authorization = self->last_authorization != NULL ? self->last_authorization : "";
      const char *key =
          g_str_has_prefix (authorization, "Bearer ") ? authorization + 7 : authorization;

      if (!g_str_equal (scenario, "echo-key-text"))
        {
          g_autoptr (JsonNode) error = json_node_new (JSON_NODE_OBJECT);
          JsonObject *outer = json_object_new ();
          JsonObject *inner = json_object_new ();
          g_autofree char *message = NULL;
          g_autofree char *json = NULL;

          if (g_str_equal (scenario, "echo-key-urlencoded"))
            {
              g_autofree char *escaped = g_uri_escape_string (key, NULL, FALSE);

              message = g_strdup_printf ("bad key %s", escaped);
            }
          else if (g_str_equal (scenario, "echo-key-basic"))
            {
              g_autofree char *user_key = g_strconcat (":", key, NULL);
              g_autofree char *basic =
                  g_base64_encode ((const guchar *) user_key, strlen (user_key));

              message = g_strdup_printf ("bad Basic %s", basic);
            }
          else
            message = g_strdup_printf ("Incorrect API key provided: %s", key);

          json_object_set_string_member (inner, "message", message);
          json_object_set_object_member (outer, "error", inner);
          json_node_take_object (error, outer);
          json = json_to_string (error, FALSE);
          respond_json (msg, 401, json);
        }
      else
        {
          g_autoptr (GString) body = g_string_new (NULL);

          for (guint i = 0; i < 290; i++)
            g_string_append_c (body, 'k');
          g_string_append_printf (body, " %s\n", authorization);
          soup_server_message_set_status (msg, 401, NULL);
          soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_COPY, body->str,
                                            body->len);
        }
      return;
    }
  if (g_str_equal (scenario, "echo-key-reason"))
    {
      g_autoptr (GString) reason = g_string_new ("Bad key ");

      g_string_append (reason, self->last_authorization != NULL ? self->last_authorization : "");
      for (guint i = 0; i < 400; i++)
        g_string_append_c (reason, '.');
      soup_server_message_set_status (msg, 401, reason->str);
      return;
    }
  if (g_str_equal (scenario, "unauthorized"))
    {
      soup_server_message_set_status (msg, 401, NULL);
      soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC,
                                        "no key, no answer\n", strlen ("no key, no answer\n"));
      return;
    }
  if (g_str_equal (scenario, "complete") || g_str_equal (scenario, "json-instead"))
    {
      respond_json (
          msg, 200,
          "{\"id\":\"chatcmpl-test\",\"object\":\"chat.completion\",\"model\":"
          "\"" AI_TEST_SERVER_MODEL
          "\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
          "\"content\":\"Add a sequence diagram\"},\"finish_reason\":\"stop\"}],"
          "\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":5,\"total_tokens\":25}}");
      return;
    }
  if (g_str_equal (scenario, "suggestions") || g_str_equal (scenario, "review") ||
      g_str_equal (scenario, "review-sections") || g_str_equal (scenario, "alignment") ||
      g_str_equal (scenario, "alignment-bad"))
    {
      const char *content =
          g_str_equal (scenario, "review-sections")
              ? "[{\"type\": \"risk\", \"section\": \"User Stories\", \"title\": \"a\", "
                "\"description\": \"d\", \"confidence\": 0.5}, {\"type\": \"risk\", "
                "\"section\": \"!!!\", \"title\": \"b\", \"description\": \"d\", "
                "\"confidence\": 0.5}, {\"type\": \"risk\", \"section\": \"No Such Heading\", "
                "\"title\": \"c\", \"description\": \"d\", \"confidence\": 0.5}, {\"type\": "
                "\"risk\", \"section\": \"user-stories\", \"title\": \"d\", \"description\": "
                "\"d\", \"confidence\": 0.5}]"
          : g_str_equal (scenario, "alignment")
              ? "```json\n{\"score\": 0.91, \"status\": \"aligned\", \"suggestions\": "
                "[\"Align timeline with Q2 objectives\", 7, \"\"]}\n```"
          : g_str_equal (scenario, "alignment-bad") ? "{\"score\": 3, \"status\": \"great\"}"
          : g_str_equal (scenario, "suggestions")
              ? "Here you are:\n[{\"type\": \"diagram\", \"description\": \"Create sequence "
                "diagram for OAuth flow\"}, {\"type\": \"bogus\", \"description\": \"x\"}, "
                "{\"type\": \"risk\"}]"
              : "[{\"type\": \"improvement\", \"section\": \"User Stories\", \"title\": "
                "\"Consider edge cases\", \"description\": \"Add user stories for error "
                "scenarios\", \"confidence\": 0.85}, {\"type\": \"improvement\", \"title\": "
                "\"t\", \"description\": \"d\"}]";
      g_autoptr (JsonBuilder) b = json_builder_new ();
      g_autoptr (JsonNode) root = NULL;
      g_autofree char *json = NULL;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "model");
      json_builder_add_string_value (b, AI_TEST_SERVER_MODEL);
      json_builder_set_member_name (b, "choices");
      json_builder_begin_array (b);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "index");
      json_builder_add_int_value (b, 0);
      json_builder_set_member_name (b, "message");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "role");
      json_builder_add_string_value (b, "assistant");
      json_builder_set_member_name (b, "content");
      json_builder_add_string_value (b, content);
      json_builder_end_object (b);
      json_builder_set_member_name (b, "finish_reason");
      json_builder_add_string_value (b, "stop");
      json_builder_end_object (b);
      json_builder_end_array (b);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      json = json_to_string (root, FALSE);
      respond_json (msg, 200, json);
      return;
    }
  if (g_str_equal (scenario, "complete-garbage"))
    {
      soup_server_message_set_status (msg, 200, NULL);
      soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC,
                                        "{\"choices\":[", strlen ("{\"choices\":["));
      return;
    }

  steps = g_ptr_array_new_with_free_func (step_free);
  if (g_str_equal (scenario, "echo-key-split"))
    {
      const char *authorization = self->last_authorization != NULL ? self->last_authorization : "";
      const char *key =
          g_str_has_prefix (authorization, "Bearer ") ? authorization + 7 : authorization;
      gsize head = MIN (strlen (key), SPLIT_KEY_AT);
      g_autoptr (GString) first = g_string_new (NULL);

      for (gsize i = 0; i < CLIENT_ERROR_BODY - head; i++)
        g_string_append_c (first, ' ');
      g_string_append_len (first, key, (gssize) head);
      add_step (steps, STEP_SEND, 0, first->str, (gssize) first->len);
      send_text (steps, 100, g_strconcat (key + head, " and more text", NULL));
      add_step (steps, STEP_END, 0, NULL, 0);
      status = 401;
      content_type = "text/plain";
    }
  else if (g_str_equal (scenario, "stream"))
    add_normal_stream (steps, "stop", 15);
  else if (g_str_equal (scenario, "completion-usage"))
    add_normal_stream (steps, "stop", -1);
  else if (g_str_equal (scenario, "length"))
    add_normal_stream (steps, "length", 15);
  else if (g_str_equal (scenario, "split"))
    {
      g_autoptr (GString) all = g_string_new (": keep-alive\r\n\r\n");
      g_autofree char *first = delta_event ("Hel");
      g_autofree char *second = delta_event ("lo");
      g_autofree char *finish = finish_event ("stop");
      g_autofree char *usage = usage_event (1, 2, 3);
      g_auto (GStrv) lines = NULL;

      /* A JSON object over two data lines, joined by the client with '\n'. */
      g_string_append (all, "event: message\r\n");
      g_string_append (all, "data: {\"choices\":[{\"index\":0,\r\n");
      g_string_append (all, "data: \"delta\":{\"content\":\"\xc3\xa9\"}}]}\r\n\r\n");
      for (const char *e = first; e != NULL; e = e == first ? second : NULL)
        {
          g_autofree char *crlf = NULL;

          lines = g_strsplit (e, "\n", -1);
          crlf = g_strjoinv ("\r\n", lines);
          g_string_append (all, crlf);
          g_clear_pointer (&lines, g_strfreev);
        }
      g_string_append (all, finish);
      g_string_append (all, usage);
      g_string_append (all, "data: [DONE]\r\n\r\n");
      for (gsize i = 0; i < all->len; i += 3)
        add_step (steps, STEP_SEND, 1, all->str + i, MIN (3, all->len - i));
      add_step (steps, STEP_END, 0, NULL, 0);
    }
  else if (g_str_equal (scenario, "gated"))
    {
      send_text (steps, 0, delta_event ("first"));
      add_step (steps, STEP_WAIT_GATE, 0, NULL, 0);
      /* Apart from "first" even when the gate is open already, so that the
       * hub (which merges deltas that arrive together) sends two chunks. */
      send_text (steps, 50, delta_event (" second"));
      send_text (steps, 0, finish_event ("stop"));
      add_step (steps, STEP_SEND, 0, "data: [DONE]\n\n", -1);
      add_step (steps, STEP_END, 0, NULL, 0);
    }
  else if (g_str_equal (scenario, "many"))
    {
      static const char *const pieces[] = { "a", "\xc3\xa9", "\xe2\x9c\x93", "\xf0\x9f\x98\x80" };
      g_autoptr (GString) all = g_string_new (NULL);

      for (guint i = 0; i < 400; i++)
        {
          g_autofree char *event = delta_event (pieces[i % G_N_ELEMENTS (pieces)]);

          g_string_append (all, event);
        }
      add_step (steps, STEP_SEND, 0, all->str, (gssize) all->len);
      send_text (steps, 0, finish_event ("stop"));
      add_step (steps, STEP_SEND, 0, "data: [DONE]\n\n", -1);
      add_step (steps, STEP_END, 0, NULL, 0);
    }
  else if (g_str_equal (scenario, "slow"))
    {
      static const char *const pieces[] = { "a", "b", "c", "d", "e" };

      for (gsize i = 0; i < G_N_ELEMENTS (pieces); i++)
        send_text (steps, 150, delta_event (pieces[i]));
      send_text (steps, 150, finish_event ("stop"));
      add_step (steps, STEP_SEND, 0, "data: [DONE]\n\n", -1);
      add_step (steps, STEP_END, 0, NULL, 0);
    }
  else if (g_str_equal (scenario, "finish-no-done"))
    {
      send_text (steps, 0, delta_event ("done"));
      send_text (steps, 0, finish_event ("stop"));
      add_step (steps, STEP_END, 0, NULL, 0);
    }
  else if (g_str_equal (scenario, "stall"))
    {
      send_text (steps, 0, delta_event ("Hello"));
      add_step (steps, STEP_STALL, 0, NULL, 0);
    }
  else if (g_str_equal (scenario, "stall-headers"))
    {
      /* Never answered: the handler leaves the message paused. */
      s = g_new0 (Stream, 1);
      s->owner = self;
      s->msg = g_object_ref (msg);
      s->steps = g_ptr_array_new ();
      s->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (message_finished), s);
      g_ptr_array_add (self->streams, s);
      soup_server_message_pause (msg);
      return;
    }
  else if (g_str_equal (scenario, "cut"))
    {
      send_text (steps, 0, delta_event ("Hello"));
      send_text (steps, 5, delta_event (" world"));
      add_step (steps, STEP_END, 5, NULL, 0);
    }
  else if (g_str_equal (scenario, "drop"))
    {
      send_text (steps, 0, delta_event ("Hello"));
      add_step (steps, STEP_DROP, 50, NULL, 0);
    }
  else if (g_str_equal (scenario, "malformed"))
    {
      send_text (steps, 0, delta_event ("Hello"));
      add_step (steps, STEP_SEND, 5, "data: {\"choices\": [{\"delta\": {\"content\": \"x\"\n\n",
                -1);
      add_step (steps, STEP_END, 0, NULL, 0);
    }
  else if (g_str_equal (scenario, "not-object"))
    {
      send_text (steps, 0, delta_event ("Hello"));
      add_step (steps, STEP_SEND, 5, "data: [1, 2, 3]\n\n", -1);
      add_step (steps, STEP_END, 0, NULL, 0);
    }
  else if (g_str_equal (scenario, "mid-error"))
    {
      send_text (steps, 0, delta_event ("Hello"));
      add_step (
          steps, STEP_SEND, 5,
          "data: {\"error\":{\"message\":\"Overloaded, try again\",\"type\":\"overloaded\"}}\n\n",
          -1);
      add_step (steps, STEP_END, 0, NULL, 0);
    }
  else if (g_str_equal (scenario, "mid-error-key"))
    {
      g_autofree char *event =
          g_strdup_printf ("data: {\"error\":{\"message\":\"upstream failed for key %s\"}}\n\n",
                           self->last_authorization != NULL ? self->last_authorization : "");

      send_text (steps, 0, delta_event ("Hello"));
      send_text (steps, 5, g_steal_pointer (&event));
      add_step (steps, STEP_END, 0, NULL, 0);
    }
  else if (g_str_equal (scenario, "deep-event"))
    {
      g_autoptr (GString) deep = g_string_new ("data: ");

      for (guint i = 0; i < 100000; i++)
        g_string_append_c (deep, '[');
      g_string_append (deep, "\n\n");
      send_text (steps, 0, delta_event ("Hello"));
      add_step (steps, STEP_SEND, 5, deep->str, (gssize) deep->len);
      add_step (steps, STEP_END, 0, NULL, 0);
    }
  else if (g_str_equal (scenario, "nul-event"))
    {
      send_text (steps, 0, delta_event ("Hello"));
      add_step (steps, STEP_SEND, 5,
                "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\\u0000b\"}}]}\n\n",
                -1);
      add_step (steps, STEP_END, 0, NULL, 0);
    }
  else if (g_str_equal (scenario, "huge-event"))
    {
      g_autofree char *huge = g_malloc (HUGE_EVENT_SIZE + 16);

      memcpy (huge, "data: \"", 7);
      memset (huge + 7, 'x', HUGE_EVENT_SIZE);
      memcpy (huge + 7 + HUGE_EVENT_SIZE, "\"\n\n", 3);
      send_text (steps, 0, delta_event ("Hello"));
      add_step (steps, STEP_SEND, 5, huge, HUGE_EVENT_SIZE + 10);
      add_step (steps, STEP_END, 0, NULL, 0);
    }
  else
    {
      g_autofree char *json =
          g_strdup_printf ("{\"error\":{\"message\":\"unknown scenario %s\"}}", scenario);

      respond_json (msg, 400, json);
      return;
    }

  soup_server_message_set_status (msg, status, NULL);
  soup_message_headers_set_content_type (headers, content_type, NULL);
  soup_message_headers_replace (headers, "Cache-Control", "no-cache");
  soup_message_headers_set_encoding (headers, SOUP_ENCODING_CHUNKED);

  s = g_new0 (Stream, 1);
  s->owner = self;
  s->msg = g_object_ref (msg);
  s->steps = g_steal_pointer (&steps);
  s->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (message_finished), s);
  g_ptr_array_add (self->streams, s);
  soup_server_message_pause (msg);
  schedule (s, ((Step *) g_ptr_array_index (s->steps, 0))->delay_ms);
}

static void
handle_other (SoupServer *server,
              SoupServerMessage *msg,
              const char *path,
              GHashTable *query,
              gpointer user_data)
{
  respond_json (msg, 404, "{\"error\":{\"message\":\"not found\"}}");
}

/**
 * ai_test_server_new:
 * @port: 0 for any free port
 *
 * Listens on 127.0.0.1 on the thread-default main context.
 */
AiTestServer *
ai_test_server_new (guint port, GError **error)
{
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, (guint16) port);
  AiTestServer *self = g_new0 (AiTestServer, 1);

  self->server = soup_server_new ("server-header", "prd-ai-test-server ", NULL);
  self->streams = g_ptr_array_new ();
  soup_server_add_handler (self->server, "/v1/chat/completions", handle_completions, self, NULL);
  soup_server_add_handler (self->server, NULL, handle_other, self, NULL);
  if (!soup_server_listen (self->server, address, 0, error))
    {
      ai_test_server_free (self);
      return NULL;
    }
  return self;
}

void
ai_test_server_free (AiTestServer *self)
{
  if (self == NULL)
    return;
  while (self->streams->len > 0)
    stream_remove (g_ptr_array_index (self->streams, 0));
  g_ptr_array_unref (self->streams);
  soup_server_disconnect (self->server);
  g_object_unref (self->server);
  g_free (self->last_body);
  g_free (self->last_authorization);
  g_free (self->last_accept);
  g_free (self);
}

/**
 * ai_test_server_get_base_url:
 *
 * Returns: (transfer full): `http://127.0.0.1:PORT/v1`
 */
char *
ai_test_server_get_base_url (AiTestServer *self)
{
  GSList *uris = soup_server_get_uris (self->server);
  char *url;

  g_assert (uris != NULL);
  url = g_strdup_printf ("http://127.0.0.1:%d/v1", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return url;
}

/* Lets every `gated` stream go on, now and from now on. */
void
ai_test_server_open_gate (AiTestServer *self)
{
  self->gate_open = TRUE;
  for (guint i = 0; i < self->streams->len; i++)
    {
      Stream *s = g_ptr_array_index (self->streams, i);

      if (s->waiting_gate && s->timer == NULL)
        schedule (s, 0);
    }
}

guint
ai_test_server_get_n_requests (AiTestServer *self)
{
  return self->n_requests;
}

const char *
ai_test_server_get_last_body (AiTestServer *self)
{
  return self->last_body;
}

const char *
ai_test_server_get_last_authorization (AiTestServer *self)
{
  return self->last_authorization;
}

const char *
ai_test_server_get_last_accept (AiTestServer *self)
{
  return self->last_accept;
}
