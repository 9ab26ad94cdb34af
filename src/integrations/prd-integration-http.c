/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdIntegrationHttp: the one HTTP client every integration talks through,
 * one per service and organization (each with its own SoupSession, so one
 * organization's connections, cookies and rate limits never mix with
 * another's).
 *
 * - `Authorization` goes with the first request (services answer an
 *   anonymous request with fewer results rather than a challenge).
 * - 429 and 503 are retried after `Retry-After` (seconds or an HTTP date),
 *   or without one after an exponential backoff with jitter and a cap; a
 *   wait longer than PRD_INTEGRATION_HTTP_MAX_RETRY_AFTER fails the call.
 * - A transport failure (never reached, or no answer) is kept apart from an
 *   HTTP error status. Only requests flagged idempotent are retried after
 *   one: a POST may have been applied, and its caller decides (a bulk
 *   create searches before it sends again).
 * - Every call is cancellable, and prd_integration_http_shutdown() cancels
 *   all of a client's calls (the hub does on shutdown).
 * - An error body that is not JSON (an HTML page from a proxy) is described
 *   by its status and type, never parsed as JSON.
 * - Redirects are not followed, and an answer is read no further than
 *   PRD_INTEGRATION_HTTP_MAX_BODY decoded bytes.
 * - A service (or a proxy in front of it) may quote the request's
 *   credentials in its error answer: every error a call ends with has them
 *   replaced by `[redacted]` (prd_redact_all()): the `Authorization` or
 *   key header's value, its token, the user:password of `Basic` and the
 *   password, and for a secret URL its path.
 * - An attempt whose whole answer has not come within
 *   PRD_INTEGRATION_HTTP_DEADLINE seconds fails as a transport failure (the
 *   session's timeout only bounds a silence), so that a server that
 *   trickles its answers does not hold the client's connections (libsoup's
 *   two per host; more requests wait for them) for ever.
 *
 * Each call and its outcome is logged at info level; headers never are.
 */
#define G_LOG_DOMAIN "prd-integration-http"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-json.h"
#include "prd-redact.h"

#include "prd-integration-http.h"

struct _PrdIntegrationHttp
{
  GObject parent_instance;

  char *service;
  char *org;
  SoupSession *session;   /* (owned) */
  char *authorization;    /* (owned) (nullable) */
  char *auth_header;      /* (owned) (nullable): its header, when not Authorization */
  GCancellable *shutdown; /* (owned) */
  guint backoff_base;
  guint backoff_cap;
  guint deadline; /* s */
};

G_DEFINE_FINAL_TYPE (PrdIntegrationHttp, prd_integration_http, G_TYPE_OBJECT)

G_DEFINE_QUARK (prd - integration - http - error - quark, prd_integration_http_error)

typedef struct
{
  PrdIntegrationHttp *self; /* (owned) */
  char *method;
  char *url;
  char *shown;  /* the URL as logs and errors show it */
  GBytes *body; /* (owned) (nullable) */
  PrdIntegrationHttpFlags flags;
  GCancellable *cancel; /* (owned): cancelled by the caller's or the shutdown */
  GCancellable *caller; /* (owned) (nullable) */
  gulong caller_id;
  gulong shutdown_id;
  guint attempt;
  guint timeout_id;
  gint64 started;
  /* The attempt under way. */
  gboolean in_flight;           /* between attempt_begin() and attempt_end() */
  gboolean timed_out;           /* ended by its deadline */
  GCancellable *attempt_cancel; /* (owned) (nullable): with the call, or at the deadline */
  gulong attempt_link;          /* cancel → attempt_cancel */
  guint deadline_id;
  SoupMessage *msg;    /* (owned) (nullable) */
  GInputStream *input; /* (owned) (nullable): its body, being read */
  GByteArray *read;    /* (owned) (nullable): what was read of it */
} Call;

/* An answer's body is read by chunks of this size, and no further than
 * PRD_INTEGRATION_HTTP_MAX_BODY decoded bytes: a service (or a server an
 * admin points an integration at) cannot make the hub hold more, however
 * long the body or however well it is compressed. */
#define READ_CHUNK 65536

static void
call_free (Call *call)
{
  if (call->caller_id != 0)
    g_cancellable_disconnect (call->caller, call->caller_id);
  if (call->shutdown_id != 0)
    g_cancellable_disconnect (call->self->shutdown, call->shutdown_id);
  g_clear_handle_id (&call->timeout_id, g_source_remove);
  /* Every way an attempt ends goes through attempt_end(). */
  g_assert (!call->in_flight);
  g_clear_object (&call->caller);
  g_clear_object (&call->cancel);
  g_clear_object (&call->self);
  g_clear_pointer (&call->body, g_bytes_unref);
  g_clear_object (&call->msg);
  g_clear_object (&call->input);
  g_clear_pointer (&call->read, g_byte_array_unref);
  g_free (call->method);
  g_free (call->url);
  g_free (call->shown);
  g_free (call);
}

void
prd_integration_http_response_free (PrdIntegrationHttpResponse *response)
{
  if (response == NULL)
    return;
  g_clear_pointer (&response->json, json_node_unref);
  g_free (response->text);
  g_free (response);
}

/**
 * prd_integration_http_response_get_object:
 * @response: (nullable): an answer
 *
 * Returns: (transfer none) (nullable): the answer's body when it is a JSON
 *   object; %NULL when there is no answer or its body is anything else
 */
JsonObject *
prd_integration_http_response_get_object (const PrdIntegrationHttpResponse *response)
{
  if (response == NULL || response->json == NULL || !JSON_NODE_HOLDS_OBJECT (response->json))
    return NULL;
  return json_node_get_object (response->json);
}

static void
prd_integration_http_dispose (GObject *object)
{
  PrdIntegrationHttp *self = PRD_INTEGRATION_HTTP (object);

  g_cancellable_cancel (self->shutdown);
  if (self->session != NULL)
    soup_session_abort (self->session);
  g_clear_object (&self->session);
  G_OBJECT_CLASS (prd_integration_http_parent_class)->dispose (object);
}

static void
prd_integration_http_finalize (GObject *object)
{
  PrdIntegrationHttp *self = PRD_INTEGRATION_HTTP (object);

  g_clear_object (&self->shutdown);
  if (self->authorization != NULL)
    memset (self->authorization, 0, strlen (self->authorization));
  g_free (self->authorization);
  g_free (self->auth_header);
  g_free (self->service);
  g_free (self->org);
  G_OBJECT_CLASS (prd_integration_http_parent_class)->finalize (object);
}

static void
prd_integration_http_class_init (PrdIntegrationHttpClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = prd_integration_http_dispose;
  object_class->finalize = prd_integration_http_finalize;
}

static void
prd_integration_http_init (PrdIntegrationHttp *self)
{
  self->shutdown = g_cancellable_new ();
  self->backoff_base = PRD_INTEGRATION_HTTP_BACKOFF_BASE;
  self->backoff_cap = PRD_INTEGRATION_HTTP_BACKOFF_CAP;
  self->deadline = PRD_INTEGRATION_HTTP_DEADLINE;
}

/**
 * prd_integration_http_new:
 * @service: the service, for the log
 * @org: the organization, for the log
 */
PrdIntegrationHttp *
prd_integration_http_new (const char *service, const char *org)
{
  PrdIntegrationHttp *self = g_object_new (PRD_TYPE_INTEGRATION_HTTP, NULL);

  self->service = g_strdup (service);
  self->org = g_strdup (org);
  self->session =
      soup_session_new_with_options ("timeout", PRD_INTEGRATION_HTTP_TIMEOUT, "idle-timeout", 60,
                                     "user-agent", PACKAGE_NAME "/" PACKAGE_VERSION, NULL);
  return self;
}

const char *
prd_integration_http_get_service (PrdIntegrationHttp *self)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION_HTTP (self), NULL);

  return self->service;
}

const char *
prd_integration_http_get_org (PrdIntegrationHttp *self)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION_HTTP (self), NULL);

  return self->org;
}

/* @value: (nullable): the whole header value (`Basic …`, `Bearer …`) */
void
prd_integration_http_set_authorization (PrdIntegrationHttp *self, const char *value)
{
  g_return_if_fail (PRD_IS_INTEGRATION_HTTP (self));

  if (self->authorization != NULL)
    memset (self->authorization, 0, strlen (self->authorization));
  g_free (self->authorization);
  self->authorization = g_strdup (value);
  g_clear_pointer (&self->auth_header, g_free);
}

/**
 * prd_integration_http_set_credential:
 * @header: the header that carries the credential (`x-api-key`)
 * @value: (nullable): its value
 *
 * For services that take a key in a header of their own; like
 * `Authorization`, the header is never logged.
 */
void
prd_integration_http_set_credential (PrdIntegrationHttp *self,
                                     const char *header,
                                     const char *value)
{
  g_return_if_fail (PRD_IS_INTEGRATION_HTTP (self));
  g_return_if_fail (header != NULL);

  prd_integration_http_set_authorization (self, value);
  self->auth_header = g_strdup (header);
}

void
prd_integration_http_set_timeout (PrdIntegrationHttp *self, guint seconds)
{
  g_return_if_fail (PRD_IS_INTEGRATION_HTTP (self));

  soup_session_set_timeout (self->session, seconds);
}

/* The backoff without Retry-After: @base_ms doubled per attempt, at most
 * @cap_ms (tests shorten it). */
void
prd_integration_http_set_backoff (PrdIntegrationHttp *self, guint base_ms, guint cap_ms)
{
  g_return_if_fail (PRD_IS_INTEGRATION_HTTP (self));

  self->backoff_base = base_ms;
  self->backoff_cap = cap_ms;
}

/* How long an attempt may take, its answer included (tests shorten it). */
void
prd_integration_http_set_deadline (PrdIntegrationHttp *self, guint seconds)
{
  g_return_if_fail (PRD_IS_INTEGRATION_HTTP (self));
  g_return_if_fail (seconds > 0);

  self->deadline = seconds;
}

/* Cancels every call under way and every call made from now on. */
void
prd_integration_http_shutdown (PrdIntegrationHttp *self)
{
  g_return_if_fail (PRD_IS_INTEGRATION_HTTP (self));

  g_cancellable_cancel (self->shutdown);
}

/**
 * prd_integration_http_get_shutdown:
 *
 * Returns: (transfer none): cancelled by prd_integration_http_shutdown():
 *   an integration that also calls its service another way (git, through
 *   libgit2) stops those calls with it
 */
GCancellable *
prd_integration_http_get_shutdown (PrdIntegrationHttp *self)
{
  g_return_val_if_fail (PRD_IS_INTEGRATION_HTTP (self), NULL);

  return self->shutdown;
}

/* ---- pure helpers ---- */

/* The longest wait prd_integration_http_parse_retry_after() reports. */
#define MAX_RETRY_AFTER_SECONDS ((guint64) 366 * 86400)

/**
 * prd_integration_http_parse_retry_after:
 * @value: a `Retry-After` value: delta seconds, or an HTTP date
 * @now_usec: the current time, microseconds since the Unix epoch
 * @out_ms: (out): how long to wait, in milliseconds (0 for a date past;
 *   at most a year, which any longer number of seconds reads as)
 *
 * Returns: %FALSE when @value is neither form
 */
gboolean
prd_integration_http_parse_retry_after (const char *value, gint64 now_usec, gint64 *out_ms)
{
  g_autoptr (GDateTime) date = NULL;
  g_autofree char *text = NULL;
  guint64 seconds;
  gint64 diff;

  if (value == NULL)
    return FALSE;
  text = g_strstrip (g_strdup (value));
  if (*text == '\0')
    return FALSE;
  if (g_ascii_isdigit (*text))
    {
      /* Delta seconds, however many digits: a wait too long for any
       * caller (more than a year, or past what a number holds) counts as
       * that year, so that it fails the call rather than reading as no
       * Retry-After at all (which would retry soon). */
      if (text[strspn (text, "0123456789")] != '\0')
        return FALSE;
      if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT64, &seconds, NULL) ||
          seconds > MAX_RETRY_AFTER_SECONDS)
        seconds = MAX_RETRY_AFTER_SECONDS;
      *out_ms = (gint64) seconds * 1000;
      return TRUE;
    }
  date = soup_date_time_new_from_http_string (text);
  if (date == NULL)
    return FALSE;
  diff = g_date_time_to_unix (date) * G_USEC_PER_SEC - now_usec;
  *out_ms = diff > 0 ? (diff + 999) / 1000 : 0;
  return TRUE;
}

/**
 * prd_integration_http_backoff_ms:
 * @attempt: 1 after the first failure, 2 after the second, …
 * @random: a number in [0, 1): the jitter
 *
 * Returns: the wait before the next attempt: "equal jitter" on an
 *   exponential backoff, half of `min(cap, base·2^(attempt-1))` plus up to
 *   the other half at random
 */
gint64
prd_integration_http_backoff_ms (guint attempt, guint base_ms, guint cap_ms, double random)
{
  gint64 ceiling = base_ms;

  for (guint i = 1; i < attempt && ceiling < cap_ms; i++)
    ceiling *= 2;
  ceiling = MIN (ceiling, (gint64) cap_ms);
  if (random < 0 || random >= 1)
    random = 0;
  return ceiling / 2 + (gint64) ((double) (ceiling - ceiling / 2) * random);
}

static void
append_strings (GString *out, JsonNode *node)
{
  if (node == NULL)
    return;
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *element = json_array_get_element (array, i);

          if (JSON_NODE_HOLDS_VALUE (element) &&
              json_node_get_value_type (element) == G_TYPE_STRING)
            g_string_append_printf (out, "%s%s", out->len > 0 ? "; " : "",
                                    json_node_get_string (element));
        }
    }
  else if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObjectIter iter;
      const char *name;
      JsonNode *value;

      json_object_iter_init (&iter, json_node_get_object (node));
      while (json_object_iter_next (&iter, &name, &value))
        if (JSON_NODE_HOLDS_VALUE (value) && json_node_get_value_type (value) == G_TYPE_STRING)
          g_string_append_printf (out, "%s%s: %s", out->len > 0 ? "; " : "", name,
                                  json_node_get_string (value));
    }
  else if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    g_string_append_printf (out, "%s%s", out->len > 0 ? "; " : "", json_node_get_string (node));
}

/* Reason phrases libsoup 3 does not know (it says "Unknown Error"). */
static const struct
{
  guint status;
  const char *phrase;
} extra_phrases[] = {
  { 421, "Misdirected Request" },
  { 425, "Too Early" },
  { 426, "Upgrade Required" },
  { 428, "Precondition Required" },
  { 429, "Too Many Requests" },
  { 431, "Request Header Fields Too Large" },
  { 451, "Unavailable For Legal Reasons" },
  { 506, "Variant Also Negotiates" },
  { 508, "Loop Detected" },
  { 511, "Network Authentication Required" },
};

/* `HTTP 429 Too Many Requests`; a status no phrase is known for is its
 * number alone, never "Unknown Error" (which admins read in lastError). */
static char *
status_line (guint status)
{
  const char *phrase = soup_status_get_phrase (status);

  for (gsize i = 0; i < G_N_ELEMENTS (extra_phrases); i++)
    if (extra_phrases[i].status == status)
      phrase = extra_phrases[i].phrase;
  if (phrase == NULL || *phrase == '\0' || g_str_equal (phrase, "Unknown Error"))
    return g_strdup_printf ("HTTP %u", status);
  return g_strdup_printf ("HTTP %u %s", status, phrase);
}

/**
 * prd_integration_http_describe_error_body:
 * @content_type: (nullable): the answer's Content-Type
 * @body: (nullable): the answer's body
 *
 * Returns: what a service said, for an error message: the messages of a
 *   JSON error body (`errorMessages`/`errors` of Jira, `message` of
 *   Mattermost and others), or for any other body its type and size, never
 *   its text (an HTML page is no message)
 */
char *
prd_integration_http_describe_error_body (guint status, const char *content_type, GBytes *body)
{
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (JsonNode) node = NULL;
  gsize size = body != NULL ? g_bytes_get_size (body) : 0;
  g_autofree char *line = status_line (status);

  if (size > 0 && size <= 65536)
    node = prd_json_parse (g_bytes_get_data (body, NULL), (gssize) size, 65536, NULL);
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *object = json_node_get_object (node);

      append_strings (out, json_object_get_member (object, "errorMessages"));
      append_strings (out, json_object_get_member (object, "errors"));
      append_strings (out, json_object_get_member (object, "message"));
    }
  if (out->len > 0)
    return g_strdup_printf ("%s: %s", line, out->str);
  if (size == 0)
    return g_steal_pointer (&line);
  return g_strdup_printf ("%s (a %" G_GSIZE_FORMAT "-byte %s body, not a JSON error)", line, size,
                          content_type != NULL ? content_type : "untyped");
}

/**
 * prd_integration_http_error_get_status:
 *
 * Returns: the HTTP status of a %PRD_INTEGRATION_HTTP_ERROR_STATUS or
 *   RATE_LIMITED error, 0 for any other error
 */
guint
prd_integration_http_error_get_status (const GError *error)
{
  guint64 status;

  if (error == NULL || error->domain != PRD_INTEGRATION_HTTP_ERROR ||
      (error->code != PRD_INTEGRATION_HTTP_ERROR_STATUS &&
       error->code != PRD_INTEGRATION_HTTP_ERROR_RATE_LIMITED) ||
      !g_str_has_prefix (error->message, "HTTP "))
    return 0;
  status = g_ascii_strtoull (error->message + 5, NULL, 10);
  return status <= 999 ? (guint) status : 0;
}

/* ---- calls ---- */

static void send_attempt (GTask *task);
static gboolean check_cancelled (GTask *task);

static void
on_cancelled (GCancellable *cancellable, gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

static gboolean
on_retry (gpointer user_data)
{
  GTask *task = user_data;
  Call *call = g_task_get_task_data (task);

  call->timeout_id = 0;
  send_attempt (g_object_ref (task));
  return G_SOURCE_REMOVE;
}

static gboolean
end_cancelled_wait (gpointer user_data)
{
  check_cancelled (G_TASK (user_data));
  return G_SOURCE_REMOVE;
}

/* A call waiting for its next attempt ends as soon as it is cancelled: from
 * an idle, not inside the "cancelled" emission, since freeing the call
 * disconnects from the cancellables being cancelled (which, from within
 * their handlers, would deadlock in g_cancellable_disconnect()). */
static void
on_wait_cancelled (GCancellable *cancellable, gpointer user_data)
{
  GTask *task = user_data;
  Call *call = g_task_get_task_data (task);

  if (call->timeout_id == 0)
    return;
  g_idle_add_full (G_PRIORITY_DEFAULT, end_cancelled_wait, g_object_ref (task), g_object_unref);
  g_clear_handle_id (&call->timeout_id, g_source_remove);
}

static void
retry_later (GTask *task, gint64 delay_ms)
{
  Call *call = g_task_get_task_data (task);

  g_info ("%s (%s): %s %s: retrying in %" G_GINT64_FORMAT " ms (attempt %u of %d)",
          call->self->service, call->self->org, call->method, call->shown, delay_ms,
          call->attempt + 1, PRD_INTEGRATION_HTTP_MAX_ATTEMPTS);
  /* The timeout holds the task; a cancellation ends the wait at once. */
  call->timeout_id = g_timeout_add_full (G_PRIORITY_DEFAULT, (guint) delay_ms, on_retry,
                                         g_object_ref (task), g_object_unref);
}

static gboolean
check_cancelled (GTask *task)
{
  Call *call = g_task_get_task_data (task);

  if (!g_cancellable_is_cancelled (call->cancel))
    return FALSE;
  g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "%s call cancelled",
                           call->self->service);
  return TRUE;
}

static gboolean
on_deadline (gpointer user_data)
{
  Call *call = user_data;

  call->deadline_id = 0;
  call->timed_out = TRUE;
  g_cancellable_cancel (call->attempt_cancel);
  return G_SOURCE_REMOVE;
}

/* An attempt starts: its own cancellable, cancelled with the call or at its
 * deadline. */
static void
attempt_begin (Call *call)
{
  call->in_flight = TRUE;
  call->timed_out = FALSE;
  call->attempt_cancel = g_cancellable_new ();
  /* Cancelling the call cancels the attempt (at once if it already is). */
  call->attempt_link = g_cancellable_connect (call->cancel, G_CALLBACK (on_cancelled),
                                              g_object_ref (call->attempt_cancel), g_object_unref);
  call->deadline_id = g_timeout_add_seconds (call->self->deadline, on_deadline, call);
}

/* The attempt is over: an answer, an error, or given up. */
static void
attempt_end (Call *call)
{
  if (!call->in_flight)
    return;
  call->in_flight = FALSE;
  g_clear_handle_id (&call->deadline_id, g_source_remove);
  g_cancellable_disconnect (call->cancel, call->attempt_link);
  call->attempt_link = 0;
  g_clear_object (&call->attempt_cancel);
}

static void
log_outcome (Call *call, guint status, const char *outcome)
{
  g_info ("%s (%s): %s %s -> %s%s%u (%" G_GINT64_FORMAT " ms)", call->self->service,
          call->self->org, call->method, call->shown, outcome != NULL ? outcome : "",
          outcome != NULL ? ", " : "", status, (g_get_monotonic_time () - call->started) / 1000);
}

/* A URL that is itself a secret (an incoming webhook's) as logs and errors
 * show it: its scheme and authority only. */
static char *
shown_url (const char *url)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

  if (uri == NULL || g_uri_get_host (uri) == NULL)
    return g_strdup ("(a secret URL)");
  if (g_uri_get_port (uri) > 0)
    return g_strdup_printf ("%s://%s:%d/...", g_uri_get_scheme (uri), g_uri_get_host (uri),
                            g_uri_get_port (uri));
  return g_strdup_printf ("%s://%s/...", g_uri_get_scheme (uri), g_uri_get_host (uri));
}

/* Where a redirect points, as errors and logs show it: its scheme and
 * authority only (its path and query may carry a token, as an incoming
 * webhook's address does), resolved against the request's address. */
static char *
shown_location (SoupMessage *msg, const char *location)
{
  g_autoptr (GUri) target = NULL;
  g_autofree char *text = NULL;

  if (location == NULL)
    return g_strdup ("(no address)");
  target = g_uri_parse_relative (soup_message_get_uri (msg), location, G_URI_FLAGS_NONE, NULL);
  if (target == NULL)
    return g_strdup ("(an address that is not a URL)");
  text = g_uri_to_string (target);
  return shown_url (text);
}

/* The attempt's answer: its whole @body, or the @error that ended it. */
static void
on_answer (GTask *task, GBytes *body, GError *error)
{
  Call *call = g_task_get_task_data (task);
  g_autoptr (SoupMessage) msg = g_steal_pointer (&call->msg);
  g_autoptr (PrdIntegrationHttpResponse) response = NULL;
  gboolean more = call->attempt < PRD_INTEGRATION_HTTP_MAX_ATTEMPTS;
  SoupMessageHeaders *headers;
  const char *content_type;
  g_autoptr (GError) late = NULL;
  guint status;

  g_clear_object (&call->input);
  g_clear_pointer (&call->read, g_byte_array_unref);
  attempt_end (call);
  if (check_cancelled (task))
    return;
  if (body == NULL && call->timed_out)
    error = late = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no whole answer within %u s",
                                call->self->deadline);
  if (body == NULL)
    {
      log_outcome (call, 0, error->message);
      if ((call->flags & PRD_INTEGRATION_HTTP_IDEMPOTENT) != 0 && more)
        {
          retry_later (
              task, prd_integration_http_backoff_ms (call->attempt, call->self->backoff_base,
                                                     call->self->backoff_cap, g_random_double ()));
          return;
        }
      g_task_return_new_error (task, PRD_INTEGRATION_HTTP_ERROR,
                               PRD_INTEGRATION_HTTP_ERROR_TRANSPORT, "%s %s: %s%s", call->method,
                               call->shown, error->message,
                               (call->flags & PRD_INTEGRATION_HTTP_IDEMPOTENT) != 0
                                   ? ""
                                   : " (the request may or may not have been applied)");
      return;
    }

  status = soup_message_get_status (msg);
  headers = soup_message_get_response_headers (msg);
  content_type = soup_message_headers_get_content_type (headers, NULL);
  log_outcome (call, status, NULL);
  if (SOUP_STATUS_IS_REDIRECTION (status))
    {
      const char *location = soup_message_headers_get_one (headers, "Location");
      g_autofree char *line = status_line (status);
      g_autofree char *shown = shown_location (msg, location);
      /* Not followed: the credentials go to the configured address only. */
      g_task_return_new_error (
          task, PRD_INTEGRATION_HTTP_ERROR, PRD_INTEGRATION_HTTP_ERROR_STATUS,
          "%s: %s %s redirects to %s, which is not followed (an integration's "
          "credentials go to its configured address only); configure the address it points to",
          line, call->method, call->shown, shown);
      return;
    }
  if (status == 429 || status == SOUP_STATUS_SERVICE_UNAVAILABLE)
    {
      gint64 wait_ms;
      const char *retry_after = soup_message_headers_get_one (headers, "Retry-After");
      g_autofree char *described =
          prd_integration_http_describe_error_body (status, content_type, body);

      if (!prd_integration_http_parse_retry_after (retry_after, g_get_real_time (), &wait_ms))
        wait_ms = prd_integration_http_backoff_ms (call->attempt, call->self->backoff_base,
                                                   call->self->backoff_cap, g_random_double ());
      if (more && wait_ms <= PRD_INTEGRATION_HTTP_MAX_RETRY_AFTER)
        {
          retry_later (task, wait_ms);
          return;
        }
      g_task_return_new_error (
          task, PRD_INTEGRATION_HTTP_ERROR,
          status == 429 ? PRD_INTEGRATION_HTTP_ERROR_RATE_LIMITED
                        : PRD_INTEGRATION_HTTP_ERROR_STATUS,
          "%s (after %u %s%s)", described, call->attempt,
          call->attempt == 1 ? "attempt" : "attempts",
          wait_ms > PRD_INTEGRATION_HTTP_MAX_RETRY_AFTER ? "; asked to wait too long" : "");
      return;
    }
  if ((status < 200 || status >= 300) &&
      !(status == SOUP_STATUS_BAD_REQUEST &&
        (call->flags & PRD_INTEGRATION_HTTP_BAD_REQUEST_BODY) != 0 && g_bytes_get_size (body) > 0 &&
        g_bytes_get_size (body) <= PRD_INTEGRATION_HTTP_MAX_BODY && content_type != NULL &&
        g_str_equal (content_type, "application/json")))
    {
      g_autofree char *described =
          prd_integration_http_describe_error_body (status, content_type, body);

      g_task_return_new_error (task, PRD_INTEGRATION_HTTP_ERROR, PRD_INTEGRATION_HTTP_ERROR_STATUS,
                               "%s", described);
      return;
    }

  response = g_new0 (PrdIntegrationHttpResponse, 1);
  response->status = status;
  {
    const char *date = soup_message_headers_get_one (headers, "Date");
    g_autoptr (GDateTime) parsed = date != NULL ? soup_date_time_new_from_http_string (date) : NULL;

    if (parsed != NULL && g_date_time_to_unix (parsed) > 0)
      response->date = g_date_time_to_unix (parsed) * G_USEC_PER_SEC;
  }
  if ((call->flags & PRD_INTEGRATION_HTTP_TEXT_BODY) != 0)
    {
      gsize size = g_bytes_get_size (body);

      if (size > PRD_INTEGRATION_HTTP_MAX_TEXT ||
          !g_utf8_validate (g_bytes_get_data (body, NULL), (gssize) size, NULL))
        {
          g_task_return_new_error (task, PRD_INTEGRATION_HTTP_ERROR,
                                   PRD_INTEGRATION_HTTP_ERROR_NOT_JSON,
                                   "%s %s: the answer is not text of at most %d bytes",
                                   call->method, call->shown, PRD_INTEGRATION_HTTP_MAX_TEXT);
          return;
        }
      response->text = g_strndup (g_bytes_get_data (body, NULL), size);
    }
  else if ((call->flags & PRD_INTEGRATION_HTTP_NO_BODY) == 0 && g_bytes_get_size (body) > 0)
    {
      g_autoptr (GError) parse_error = NULL;

      if (g_bytes_get_size (body) > PRD_INTEGRATION_HTTP_MAX_BODY)
        {
          g_task_return_new_error (task, PRD_INTEGRATION_HTTP_ERROR,
                                   PRD_INTEGRATION_HTTP_ERROR_NOT_JSON,
                                   "%s %s: the answer is larger than %d bytes", call->method,
                                   call->shown, PRD_INTEGRATION_HTTP_MAX_BODY);
          return;
        }
      response->json =
          prd_json_parse (g_bytes_get_data (body, NULL), (gssize) g_bytes_get_size (body),
                          PRD_INTEGRATION_HTTP_MAX_BODY, &parse_error);
      if (response->json == NULL)
        {
          g_task_return_new_error (
              task, PRD_INTEGRATION_HTTP_ERROR, PRD_INTEGRATION_HTTP_ERROR_NOT_JSON,
              "%s %s: HTTP %u with a %s body that is not JSON", call->method, call->shown, status,
              content_type != NULL ? content_type : "untyped");
          return;
        }
    }
  g_task_return_pointer (task, g_steal_pointer (&response),
                         (GDestroyNotify) prd_integration_http_response_free);
}

static void read_more (GTask *task);

static void
on_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Call *call = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) chunk = NULL;
  g_autoptr (GBytes) body = NULL;

  chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  if (chunk == NULL)
    {
      on_answer (task, NULL, error);
      return;
    }
  if (g_bytes_get_size (chunk) == 0)
    {
      body = g_byte_array_free_to_bytes (g_steal_pointer (&call->read));
      on_answer (task, body, NULL);
      return;
    }
  if (call->read->len + g_bytes_get_size (chunk) > PRD_INTEGRATION_HTTP_MAX_BODY)
    {
      /* Dropping the stream unread closes the connection. */
      log_outcome (call, soup_message_get_status (call->msg), "answer too large");
      g_clear_object (&call->input);
      g_clear_object (&call->msg);
      attempt_end (call);
      g_task_return_new_error (task, PRD_INTEGRATION_HTTP_ERROR,
                               PRD_INTEGRATION_HTTP_ERROR_NOT_JSON,
                               "%s %s: the answer is larger than %d bytes", call->method,
                               call->shown, PRD_INTEGRATION_HTTP_MAX_BODY);
      return;
    }
  g_byte_array_append (call->read, g_bytes_get_data (chunk, NULL), g_bytes_get_size (chunk));
  read_more (g_steal_pointer (&task));
}

/* Takes over a reference to @task. */
static void
read_more (GTask *task)
{
  Call *call = g_task_get_task_data (task);

  g_input_stream_read_bytes_async (call->input, READ_CHUNK, G_PRIORITY_DEFAULT,
                                   call->attempt_cancel, on_read, task);
}

static void
on_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Call *call = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  call->input = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (call->input == NULL)
    {
      on_answer (task, NULL, error);
      return;
    }
  call->read = g_byte_array_new ();
  read_more (g_steal_pointer (&task));
}

/* Takes over a reference to @task. */
static void
send_attempt (GTask *task)
{
  Call *call = g_task_get_task_data (task);
  g_autoptr (SoupMessage) msg = NULL;
  SoupMessageHeaders *headers;

  if (check_cancelled (task))
    {
      g_object_unref (task);
      return;
    }
  msg = soup_message_new (call->method, call->url);
  if (msg == NULL)
    {
      g_task_return_new_error (task, PRD_INTEGRATION_HTTP_ERROR,
                               PRD_INTEGRATION_HTTP_ERROR_TRANSPORT, "%s is not a valid URL",
                               call->shown);
      g_object_unref (task);
      return;
    }
  call->attempt++;
  headers = soup_message_get_request_headers (msg);
  soup_message_headers_replace (headers, "Accept", "application/json");
  if (call->self->authorization != NULL)
    soup_message_headers_replace (
        headers, call->self->auth_header != NULL ? call->self->auth_header : "Authorization",
        call->self->authorization);
  if (call->body != NULL)
    soup_message_set_request_body_from_bytes (msg, "application/json", call->body);
  /* A redirect is answered as an error (on_answer()): libsoup would carry
   * a key in its own header (Craft.io's) to any host it is sent to. */
  soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
  g_set_object (&call->msg, msg);
  attempt_begin (call);
  soup_session_send_async (call->self->session, msg, G_PRIORITY_DEFAULT, call->attempt_cancel,
                           on_sent, task);
}

/**
 * prd_integration_http_send_async:
 * @method: `GET`, `POST`, `PUT`, `DELETE`
 * @url: the absolute URL
 * @body: (nullable): a JSON body
 * @flags: how the request may be retried and read
 *
 * Sends a request, retrying as the overview says.
 */
void
prd_integration_http_send_async (PrdIntegrationHttp *self,
                                 const char *method,
                                 const char *url,
                                 JsonNode *body,
                                 PrdIntegrationHttpFlags flags,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  GTask *task;
  Call *call;

  g_return_if_fail (PRD_IS_INTEGRATION_HTTP (self));
  g_return_if_fail (method != NULL && url != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_integration_http_send_async);
  call = g_new0 (Call, 1);
  call->self = g_object_ref (self);
  call->method = g_strdup (method);
  call->url = g_strdup (url);
  call->shown = (flags & PRD_INTEGRATION_HTTP_SECRET_URL) != 0 ? shown_url (url) : g_strdup (url);
  call->flags = flags;
  call->started = g_get_monotonic_time ();
  call->cancel = g_cancellable_new ();
  if (body != NULL)
    {
      g_autofree char *text = prd_json_to_string (body);
      gsize len = strlen (text);

      call->body = g_bytes_new_take (g_steal_pointer (&text), len);
    }
  g_task_set_task_data (task, call, (GDestroyNotify) call_free);
  if (cancellable != NULL)
    {
      call->caller = g_object_ref (cancellable);
      call->caller_id = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled),
                                               g_object_ref (call->cancel), g_object_unref);
    }
  call->shutdown_id = g_cancellable_connect (self->shutdown, G_CALLBACK (on_cancelled),
                                             g_object_ref (call->cancel), g_object_unref);
  /* A wait between attempts ends as soon as the call is cancelled. */
  g_signal_connect_object (call->cancel, "cancelled", G_CALLBACK (on_wait_cancelled), task, 0);
  send_attempt (task);
}

PrdIntegrationHttpResponse *
prd_integration_http_send_finish (PrdIntegrationHttp *self, GAsyncResult *result, GError **error)
{
  PrdIntegrationHttpResponse *response;
  GError *local = NULL;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  response = g_task_propagate_pointer (G_TASK (result), &local);
  if (local != NULL)
    {
      Call *call = g_task_get_task_data (G_TASK (result));
      g_autoptr (GPtrArray) secrets = g_ptr_array_new_with_free_func (g_free);
      char *redacted;

      prd_integration_http_add_secret (secrets, self->authorization);
      if ((call->flags & PRD_INTEGRATION_HTTP_SECRET_URL) != 0)
        prd_integration_http_add_secret (secrets, call->url);
      redacted = prd_redact_all (local->message, secrets);
      g_free (local->message);
      local->message = redacted;
      g_propagate_error (error, local);
    }
  return response;
}

static void
add_form (GPtrArray *secrets, const char *form, gssize len)
{
  if (len != 0 && *form != '\0')
    g_ptr_array_add (secrets, len < 0 ? g_strdup (form) : g_strndup (form, len));
}

/**
 * prd_integration_http_add_secret:
 * @secrets: (element-type utf8): where to add, an array that frees its
 *   elements with g_free()
 * @secret: (nullable): a secret an integration holds: a token, a key, a
 *   password, a header value (`Bearer …`, `Basic …`), a URL
 *
 * Adds @secret and what of it a service may quote on its own: the token of
 * `Bearer`; the base64 of `Basic`, the `user:password` it stands for and the
 * password; the path of a URL and its last segment (an incoming webhook's
 * address is a secret by its path). prd_redact_all() takes it from there
 * (escaped spellings, base64 of the bytes around a secret).
 */
void
prd_integration_http_add_secret (GPtrArray *secrets, const char *secret)
{
  g_autoptr (GUri) uri = NULL;

  g_return_if_fail (secrets != NULL);

  if (secret == NULL || *secret == '\0')
    return;
  add_form (secrets, secret, -1);
  if (g_ascii_strncasecmp (secret, "Bearer ", 7) == 0)
    add_form (secrets, secret + 7, -1);
  else if (g_ascii_strncasecmp (secret, "Basic ", 6) == 0)
    {
      gsize len = 0;
      g_autofree guchar *decoded = NULL;

      add_form (secrets, secret + 6, -1);
      decoded = g_base64_decode (secret + 6, &len);
      if (decoded != NULL && len > 0 && memchr (decoded, '\0', len) == NULL &&
          g_utf8_validate ((const char *) decoded, (gssize) len, NULL))
        {
          const char *text = (const char *) decoded;
          const char *colon = memchr (text, ':', len);

          add_form (secrets, text, (gssize) len);
          if (colon != NULL)
            add_form (secrets, colon + 1, (gssize) (len - (gsize) (colon + 1 - text)));
        }
    }
  uri = g_uri_parse (secret, G_URI_FLAGS_ENCODED, NULL);
  if (uri != NULL && g_uri_get_host (uri) != NULL)
    {
      const char *path = g_uri_get_path (uri);
      const char *last = strrchr (path, '/');

      if (strcmp (path, "/") != 0)
        add_form (secrets, path, -1);
      if (last != NULL)
        add_form (secrets, last + 1, -1);
    }
}
