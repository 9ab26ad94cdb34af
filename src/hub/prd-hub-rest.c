/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The hub's REST router: one table of routes on the hub's SoupServer, to
 * which each feature adds its own static array of PrdHubRouteEntry
 * (prd-hub-rest-<feature>.c):
 *
 *   GET  /healthz                   {status: "ok"} (no token; here)
 *   GET, POST /api/prds, GET /api/prds/{id}[/export.md]   prd-hub-rest-prds.c
 *   GET  /api/prds/{id}/versions[/{version}], /diff        prd-hub-rest-versions.c
 *   GET  /api/prds/{id}/comments                          prd-hub-rest-comments.c
 *   GET  /api/activity                                     prd-hub-rest-activity.c
 *
 * Every /api route needs `Authorization: Bearer <JWT>` (the token the
 * Socket.IO clients use). Errors are JSON {code, message} with the HTTP
 * status of the code: 404 `NOT_FOUND` when no pattern matches the path, 405
 * with `Allow` when one matches but not with the request's method, 400
 * `INVALID_ID` for a path segment that is not UTF-8 or a `{prd}` that is not
 * a PRD id, 400 `INVALID_PAYLOAD` for a query naming a parameter twice.
 * Every GET route answers HEAD too, through the same checks (HEAD is in its
 * `Allow`). Store work is asynchronous: a route pauses the message meanwhile
 * so the main loop never blocks on SQLite.
 *
 * The token and the size of the body are checked from the request headers,
 * before libsoup reads the body (prd_hub_rest_check_headers(), for every
 * path the Engine.IO server does not serve): an upload without a valid
 * token, or larger than the limit, is answered at once and its connection
 * closed (prd-eio-refusal.c), so that it costs neither memory nor the time
 * to receive it.
 *
 * CORS, for browser apps on another origin, with the origins Engine.IO
 * allows (`[server] cors-origins`, `--cors-origin`; the rule is
 * prd_eio_origin_is_allowed()): a preflight (`OPTIONS` with an `Origin`) is
 * answered from the headers, without a token: 204 with
 * `Access-Control-Allow-Origin`, `-Methods` (the path's), `-Headers`
 * (`Authorization, Content-Type`) and `-Max-Age` for an allowed origin, 403
 * `FORBIDDEN` without any CORS header for another. Every other response to
 * an allowed origin carries `Access-Control-Allow-Origin` and `Vary: Origin`
 * (errors too, so that the app can read them); to another origin, none.
 *
 * Writes (any method but GET and HEAD) by one user are rate-limited
 * ([rate-limit] class `rest`, prd_hub_rest_set_write_rate()): one over the
 * limit gets 429 `RATE_LIMITED` with `Retry-After`, and changes nothing.
 * Reads (GET and HEAD) with a token are too, separately ([rate-limit] class
 * `rest-read`, prd_hub_rest_set_read_rate()); requests without a token
 * (/healthz, /metrics, the web editor's files, /api/hub-proof) are not
 * counted: they cost next to nothing and name nobody.
 *
 * A JSON body, with a token or without (a sign-in, a webhook), holds at
 * most %PRD_HUB_REST_MAX_JSON_VALUES values (counted while its grammar is
 * checked, before any handler builds a tree of it): no route takes more
 * than a few hundred, and a tree costs time with each (a 2 MiB body of
 * tiny values, about 300 ms). More is 413 `PAYLOAD_TOO_LARGE`.
 *
 * No answer is partial: `Range` is dropped from every request, and a
 * request whose body's framing is ambiguous is refused 400 and closed
 * (prd_hub_rest_check_headers()).
 */
#define G_LOG_DOMAIN "prd-hub-rest"

#include "config.h"

#include <string.h>

#include "prd-json.h"
#include "prd-eio-origin.h"
#include "prd-eio-refusal.h"
#include "prd-eio-server.h"
#include "prd-error.h"
#include "prd-log.h"
#include "prd-metrics.h"
#include "prd-sio-rate-limiter.h"
#include "prd-store.h"

#include "prd-hub-rest.h"

/* Object data on a request: the PrdIdentity of its token, verified with
 * the headers. */
#define IDENTITY_KEY "prd-hub-rest-identity"

typedef struct
{
  gatomicrefcount ref_count;
  gpointer user_data;
  GDestroyNotify destroy;
} Group;

typedef struct
{
  const PrdHubRouteEntry *entry; /* (unowned): static */
  char **segments;               /* (owned): the pattern split at '/', without the first '' */
  Group *group;                  /* (owned): a reference */
} Route;

struct _PrdHubRest
{
  GObject parent_instance;

  PrdAuth *auth; /* (owned) */
  gsize max_body;
  char *engine_path;
  char **cors_origins; /* (owned) (nullable) */
  GPtrArray *routes;   /* (element-type Route) (owned) */
  /* Requests per user: "org\nuser" → (owned) Writer. */
  GHashTable *writers; /* (owned) */
  guint write_limit;   /* 0: not limited */
  guint write_window;  /* seconds */
  guint read_limit;    /* 0: not limited */
  guint read_window;   /* seconds */
};

/* One user's requests, writes and reads. */
typedef struct
{
  PrdSioRateLimiter *limiter; /* (owned): classes WRITE_CLASS and READ_CLASS */
  gint64 window_end_us;       /* when both its buckets are full again */
} Writer;

#define WRITE_CLASS "rest"
#define READ_CLASS  "rest-read"
/* Users whose window has ended are forgotten once this many are known. */
#define WRITERS_PRUNE_AT 1024

#define PRD_HUB_REST_MAX_JSON_VALUES 4096

static void
writer_free (Writer *writer)
{
  prd_sio_rate_limiter_free (writer->limiter);
  g_free (writer);
}

G_DEFINE_FINAL_TYPE (PrdHubRest, prd_hub_rest, G_TYPE_OBJECT)

static void
group_unref (Group *group)
{
  if (!g_atomic_ref_count_dec (&group->ref_count))
    return;
  if (group->destroy != NULL)
    group->destroy (group->user_data);
  g_free (group);
}

static void
route_free (Route *route)
{
  g_strfreev (route->segments);
  group_unref (route->group);
  g_free (route);
}

void
prd_hub_rest_respond_json (SoupServerMessage *msg, guint status, JsonNode *node)
{
  g_autofree char *text = prd_json_to_string (node);
  gsize len = strlen (text);

  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE,
                                    g_steal_pointer (&text), len);
}

/**
 * prd_hub_rest_respond_json_bytes:
 * @body: JSON text, shared with whoever else sends it
 *
 * Answers @msg with @body (not copied).
 */
void
prd_hub_rest_respond_json_bytes (SoupServerMessage *msg, guint status, GBytes *body)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_message_headers_set_content_type (soup_server_message_get_response_headers (msg),
                                         "application/json", NULL);
  soup_message_body_append_bytes (soup_server_message_get_response_body (msg), body);
}

static guint
status_for (const GError *error)
{
  if (error->domain != PRD_ERROR)
    return SOUP_STATUS_INTERNAL_SERVER_ERROR;
  switch (error->code)
    {
      case PRD_ERROR_INVALID_PAYLOAD:
      case PRD_ERROR_INVALID_ID:
      case PRD_ERROR_INVALID_OPERATION:
        return SOUP_STATUS_BAD_REQUEST;
      case PRD_ERROR_AUTHENTICATION_FAILED:
      case PRD_ERROR_TOKEN_EXPIRED:
      case PRD_ERROR_TOKEN_REVOKED:
        return SOUP_STATUS_UNAUTHORIZED;
      case PRD_ERROR_FORBIDDEN:
        return SOUP_STATUS_FORBIDDEN;
      case PRD_ERROR_NOT_FOUND:
      case PRD_ERROR_PRD_NOT_FOUND:
        return SOUP_STATUS_NOT_FOUND;
      case PRD_ERROR_PAYLOAD_TOO_LARGE:
        return SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE;
      case PRD_ERROR_ALREADY_EXISTS:
      case PRD_ERROR_VERSION_UNCHANGED:
      case PRD_ERROR_SYNC_IN_PROGRESS:
      case PRD_ERROR_INTEGRATION_NOT_CONFIGURED:
      case PRD_ERROR_CANCELLED: /* by a change made meanwhile (settings removed) */
        return SOUP_STATUS_CONFLICT;
      case PRD_ERROR_INTEGRATION_ERROR:
        return SOUP_STATUS_BAD_GATEWAY;
      case PRD_ERROR_RATE_LIMITED:
        return 429; /* Too Many Requests: libsoup 3.2 has no name for it */
      case PRD_ERROR_LIMIT_REACHED:
        return SOUP_STATUS_UNPROCESSABLE_ENTITY;
      default:
        return SOUP_STATUS_INTERNAL_SERVER_ERROR;
    }
}

/**
 * prd_hub_rest_respond_error:
 *
 * Answers @msg with the JSON error object {code, message} and the HTTP
 * status of @error's code. The message may quote what the client sent
 * (a path segment, a query parameter); it goes out as valid UTF-8, any
 * invalid byte replaced with U+FFFD.
 */
void
prd_hub_rest_respond_error (SoupServerMessage *msg, const GError *error)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) node = NULL;
  g_autofree char *message = g_utf8_make_valid (error->message, -1);
  guint status = status_for (error);

  if (status == SOUP_STATUS_INTERNAL_SERVER_ERROR)
    g_warning ("REST %s %s: %s", soup_server_message_get_method (msg),
               g_uri_get_path (soup_server_message_get_uri (msg)), error->message);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "code");
  json_builder_add_string_value (builder, prd_error_get_protocol_code (error));
  json_builder_set_member_name (builder, "message");
  json_builder_add_string_value (builder, message);
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  if (status == SOUP_STATUS_UNAUTHORIZED)
    soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                  "WWW-Authenticate", "Bearer");
  prd_hub_rest_respond_json (msg, status, node);
}

/**
 * prd_hub_rest_respond_error_literal:
 * @code: a #PrdErrorCode
 *
 * prd_hub_rest_respond_error() with a new error of @code and @message.
 */
void
prd_hub_rest_respond_error_literal (SoupServerMessage *msg, int code, const char *message)
{
  g_autoptr (GError) error = g_error_new_literal (PRD_ERROR, code, message);

  prd_hub_rest_respond_error (msg, error);
}

static PrdIdentity *
verify_bearer (PrdAuth *auth, SoupServerMessage *msg, GError **error)
{
  const char *header =
      soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Authorization");

  if (header == NULL || g_ascii_strncasecmp (header, "Bearer ", 7) != 0)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_AUTHENTICATION_FAILED,
                           "Authorization: Bearer <token> is required");
      return NULL;
    }
  return prd_auth_verify (auth, header + 7, error);
}

/* The identity of @msg's bearer token (checked with the headers already),
 * or %NULL after answering @msg with the error. */
static PrdIdentity *
authenticate (PrdHubRest *self, SoupServerMessage *msg)
{
  const PrdIdentity *checked = g_object_get_data (G_OBJECT (msg), IDENTITY_KEY);
  g_autoptr (GError) error = NULL;
  PrdIdentity *identity;

  if (checked != NULL)
    return prd_identity_copy (checked);
  identity = verify_bearer (self->auth, msg, &error);
  if (identity == NULL)
    prd_hub_rest_respond_error (msg, error);
  return identity;
}

/* Splits @path at '/' (without the leading '' and a trailing ''). */
static char **
split_path (const char *path)
{
  g_auto (GStrv) parts = g_strsplit (*path == '/' ? path + 1 : path, "/", -1);
  guint n = g_strv_length (parts);

  if (n > 0 && *parts[n - 1] == '\0')
    {
      g_free (parts[n - 1]);
      parts[n - 1] = NULL;
    }
  return g_steal_pointer (&parts);
}

static gboolean
route_matches_path (const Route *route, char **parts)
{
  guint i;

  for (i = 0; route->segments[i] != NULL && parts[i] != NULL; i++)
    if (route->segments[i][0] != '{' && !g_str_equal (route->segments[i], parts[i]))
      return FALSE;
  return route->segments[i] == NULL && parts[i] == NULL;
}

/* The {…} segments of @parts under @route, checked. */
static GPtrArray *
route_params (const Route *route, char **parts, GError **error)
{
  g_autoptr (GPtrArray) params = g_ptr_array_new ();

  for (guint i = 0; route->segments[i] != NULL; i++)
    {
      if (route->segments[i][0] != '{')
        continue;
      if (g_str_equal (route->segments[i], "{prd}") && !prd_store_validate_prd_id (parts[i], error))
        return NULL;
      g_ptr_array_add (params, parts[i]);
    }
  g_ptr_array_add (params, NULL);
  return g_steal_pointer (&params);
}

static gboolean
is_api_path (const char *path)
{
  return g_str_equal (path, "/api") || g_str_has_prefix (path, "/api/");
}

/* Takes one of @identity's requests of @klass (WRITE_CLASS, READ_CLASS),
 * or answers @msg with 429. */
static gboolean
request_allowed (PrdHubRest *self,
                 SoupServerMessage *msg,
                 const PrdIdentity *identity,
                 const char *klass)
{
  gboolean write = g_str_equal (klass, WRITE_CLASS);
  guint limit = write ? self->write_limit : self->read_limit;
  guint window = write ? self->write_window : self->read_window;
  g_autofree char *key = NULL;
  g_autofree char *message = NULL;
  g_autofree char *retry_after = NULL;
  gint64 now = g_get_monotonic_time ();
  PrdSioRateInfo info;
  gboolean allowed;
  Writer *writer;

  if (limit == 0)
    return TRUE;
  key = g_strconcat (identity->org, "\n", identity->user_id, NULL);
  writer = g_hash_table_lookup (self->writers, key);
  if (writer == NULL)
    {
      if (g_hash_table_size (self->writers) >= WRITERS_PRUNE_AT)
        {
          GHashTableIter iter;
          gpointer value;

          g_hash_table_iter_init (&iter, self->writers);
          while (g_hash_table_iter_next (&iter, NULL, &value))
            if (((Writer *) value)->window_end_us <= now)
              g_hash_table_iter_remove (&iter);
        }
      writer = g_new0 (Writer, 1);
      writer->limiter = prd_sio_rate_limiter_new ();
      g_hash_table_insert (self->writers, g_steal_pointer (&key), writer);
    }
  allowed = prd_sio_rate_limiter_consume (writer->limiter, klass, limit, window, now, &info);
  writer->window_end_us = MAX (writer->window_end_us, info.reset_time_us);
  if (allowed)
    return TRUE;
  prd_metric_inc (prd_metric_rate_limit_refusals (), klass);
  retry_after = g_strdup_printf ("%u", info.retry_after);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
                                retry_after);
  message = g_strdup_printf ("Too many %s: at most %u in %u seconds; retry in %u seconds",
                             write ? "changes" : "requests", limit, window, info.retry_after);
  prd_hub_rest_respond_error_literal (msg, PRD_ERROR_RATE_LIMITED, message);
  return FALSE;
}

/* A JSON body of more than PRD_HUB_REST_MAX_JSON_VALUES values is refused
 * (413) before a handler reads it, with a token or without (a sign-in, a
 * webhook); a body that is not JSON is the handler's to refuse, with its
 * own words. */
static gboolean
body_allowed (SoupServerMessage *msg)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (GBytes) bytes = NULL;
  g_autofree char *message = NULL;
  gsize n_values = 0;

  if (body == NULL || body->length == 0)
    return TRUE;
  bytes = soup_message_body_flatten (body);
  if (!prd_json_validate_full (g_bytes_get_data (bytes, NULL), (gssize) g_bytes_get_size (bytes),
                               G_MAXSIZE, PRD_JSON_PARSE_REPLACE_BAD_STRINGS, NULL, &n_values,
                               NULL) ||
      n_values <= PRD_HUB_REST_MAX_JSON_VALUES)
    return TRUE;
  message = g_strdup_printf ("The body holds %" G_GSIZE_FORMAT
                             " JSON values, more than a request may (%d)",
                             n_values, PRD_HUB_REST_MAX_JSON_VALUES);
  prd_hub_rest_respond_error_literal (msg, PRD_ERROR_PAYLOAD_TOO_LARGE, message);
  return FALSE;
}

/**
 * prd_hub_rest_query_count:
 * @msg: the request; answered `400 INVALID_PAYLOAD` when the parameter is
 *   malformed
 * @query: (nullable): its query
 * @name: the parameter (`limit`, `before`, `after`)
 * @max: its largest value (the smallest is 1)
 * @message: (nullable): the error's message; %NULL for "NAME must be an
 *   integer from 1 to MAX"
 * @value: (inout): the default in, the parameter's value out when it is there
 *
 * Reads a paged list's count or cursor parameter: decimal digits only (no
 * sign, no space), from 1 to @max.
 *
 * Returns: %FALSE when @msg was answered
 */
gboolean
prd_hub_rest_query_count (SoupServerMessage *msg,
                          GHashTable *query,
                          const char *name,
                          gint64 max,
                          const char *message,
                          gint64 *value)
{
  const char *text = query != NULL ? g_hash_table_lookup (query, name) : NULL;
  guint64 parsed;

  if (text == NULL)
    return TRUE;
  if (!g_ascii_string_to_unsigned (text, 10, 1, (guint64) max, &parsed, NULL))
    {
      g_autofree char *fallback =
          g_strdup_printf ("%s must be an integer from 1 to %" G_GINT64_FORMAT, name, max);

      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD,
                                          message != NULL ? message : fallback);
      return FALSE;
    }
  *value = (gint64) parsed;
  return TRUE;
}

/* Whether @uri's query, as sent (percent-encoded), holds an encoded NUL. */
static gboolean
query_has_nul (GUri *uri)
{
  const char *query = g_uri_get_query (uri);

  return query != NULL && strstr (query, "%00") != NULL;
}

/* Refuses a query that names a parameter more than once (libsoup keeps
 * the last, and which one a client meant is not known) or names one
 * without a value (libsoup drops it: `?purgeVersions` would read as no
 * parameter at all). */
static gboolean
query_is_unambiguous (GUri *uri, GError **error)
{
  const char *query = g_uri_get_query (uri);
  g_autoptr (GHashTable) names = NULL;
  g_auto (GStrv) pairs = NULL;

  if (query == NULL)
    return TRUE;
  names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  pairs = g_strsplit (query, "&", -1);
  for (guint i = 0; pairs[i] != NULL; i++)
    {
      const char *equals = strchr (pairs[i], '=');
      g_autofree char *raw =
          g_strndup (pairs[i], equals != NULL ? (gsize) (equals - pairs[i]) : strlen (pairs[i]));
      g_autofree char *name = NULL;

      if (*pairs[i] == '\0')
        continue;
      /* As libsoup decodes it (soup_form_decode()): '+' is a space. */
      g_strdelimit (raw, "+", ' ');
      name = g_uri_unescape_string (raw, NULL);
      if (name == NULL)
        name = g_steal_pointer (&raw);
      if (equals == NULL)
        {
          g_autofree char *valid = g_utf8_make_valid (name, -1);

          g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                       "The query parameter \"%s\" has no value (write %s=…)", valid, valid);
          return FALSE;
        }
      if (!g_hash_table_add (names, g_strdup (name)))
        {
          g_autofree char *valid = g_utf8_make_valid (name, -1);

          g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                       "The query parameter \"%s\" is given more than once", valid);
          return FALSE;
        }
    }
  return TRUE;
}

/* Whether @route serves @method; a GET route serves HEAD too (libsoup
 * sends the headers of the answer without its body). */
static gboolean
route_serves (const Route *route, const char *method)
{
  return g_str_equal (route->entry->method, method) ||
         (g_str_equal (method, SOUP_METHOD_HEAD) && g_str_equal (route->entry->method, "GET"));
}

/* The route that serves @method on @parts, one of that very method first,
 * or %NULL. */
static const Route *
find_route (PrdHubRest *self, char **parts, const char *method)
{
  const Route *found = NULL;

  for (guint i = 0; i < self->routes->len; i++)
    {
      const Route *route = g_ptr_array_index (self->routes, i);

      if (!route_matches_path (route, parts) || !route_serves (route, method))
        continue;
      if (g_str_equal (route->entry->method, method))
        return route;
      if (found == NULL)
        found = route;
    }
  return found;
}

/* The methods of the routes that serve @parts ("GET, HEAD, POST": HEAD
 * wherever GET is), or %NULL. */
static char *
methods_of (PrdHubRest *self, char **parts)
{
  g_autoptr (GPtrArray) methods = g_ptr_array_new ();
  g_autoptr (GString) text = NULL;

  for (guint i = 0; i < self->routes->len; i++)
    {
      const Route *route = g_ptr_array_index (self->routes, i);
      const char *method = route->entry->method;

      if (!route_matches_path (route, parts))
        continue;
      if (!g_ptr_array_find_with_equal_func (methods, method, g_str_equal, NULL))
        g_ptr_array_add (methods, (gpointer) method);
      if (g_str_equal (method, "GET") &&
          !g_ptr_array_find_with_equal_func (methods, SOUP_METHOD_HEAD, g_str_equal, NULL))
        g_ptr_array_add (methods, (gpointer) SOUP_METHOD_HEAD);
    }
  if (methods->len == 0)
    return NULL;
  text = g_string_new (NULL);
  for (guint i = 0; i < methods->len; i++)
    g_string_append_printf (text, "%s%s", i > 0 ? ", " : "", (const char *) methods->pdata[i]);
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static void
dispatch (SoupServer *server,
          SoupServerMessage *msg,
          const char *path,
          GHashTable *query,
          gpointer user_data)
{
  PrdHubRest *self = user_data;
  const char *method = soup_server_message_get_method (msg);
  g_auto (GStrv) parts = split_path (path);
  g_autoptr (GPtrArray) params = NULL;
  g_autoptr (PrdIdentity) identity = NULL;
  g_autoptr (GError) error = NULL;
  const Route *found = NULL;

  /* libsoup hands over the path percent-decoded, whatever bytes it holds;
   * ids, versions and route names are all UTF-8 (ASCII in fact). */
  for (guint i = 0; parts[i] != NULL; i++)
    if (!g_utf8_validate (parts[i], -1, NULL))
      {
        prd_hub_rest_respond_error_literal (
            msg, PRD_ERROR_INVALID_ID,
            "A path segment is not valid UTF-8 (after percent-decoding)");
        return;
      }
  /* libsoup cuts a query value at a %00 (`from=0.2.0%00x` would read as
   * `0.2.0`): no parameter of any route holds a NUL. */
  if (query_has_nul (soup_server_message_get_uri (msg)))
    {
      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD,
                                          "A query parameter holds a NUL byte (%00)");
      return;
    }
  found = find_route (self, parts, method);
  if (found == NULL)
    {
      g_autofree char *allow = methods_of (self, parts);

      if (allow == NULL)
        {
          prd_hub_rest_respond_error_literal (msg, PRD_ERROR_NOT_FOUND, "No such route");
          return;
        }
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", allow);
      soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL);
      return;
    }
  if (is_api_path (path) && (found->entry->flags & PRD_HUB_ROUTE_NO_TOKEN) == 0 &&
      (identity = authenticate (self, msg)) == NULL)
    return;
  if (identity != NULL &&
      !request_allowed (self, msg, identity,
                        g_str_equal (method, "GET") || g_str_equal (method, "HEAD") ? READ_CLASS
                                                                                    : WRITE_CLASS))
    return;
  if (!body_allowed (msg))
    return;
  params = route_params (found, parts, &error);
  if (params == NULL || !query_is_unambiguous (soup_server_message_get_uri (msg), &error))
    {
      prd_hub_rest_respond_error (msg, error);
      return;
    }
  found->entry->func (msg, identity, (const char *const *) params->pdata, query,
                      found->group->user_data);
}

/* The methods of the routes that serve @path, or %NULL. */
static char *
path_methods (PrdHubRest *self, const char *path)
{
  g_auto (GStrv) parts = split_path (path);

  return methods_of (self, parts);
}

/* An OPTIONS request, answered from its headers without a token. */
static void
answer_options (PrdHubRest *self, SoupServerMessage *msg, const char *path, const char *origin)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  const char *asked = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                    "Access-Control-Request-Headers");
  g_autofree char *methods = path_methods (self, path);

  if (methods == NULL)
    {
      if (origin != NULL)
        prd_eio_origin_add_cors_headers (msg, origin);
      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_NOT_FOUND, "No such route");
      return;
    }
  soup_message_headers_replace (headers, "Allow", methods);
  if (origin != NULL)
    {
      prd_eio_origin_add_cors_headers (msg, origin);
      soup_message_headers_replace (headers, "Access-Control-Allow-Methods", methods);
      soup_message_headers_replace (headers, "Access-Control-Allow-Headers",
                                    asked != NULL ? asked : "Authorization, Content-Type");
      soup_message_headers_replace (headers, "Access-Control-Max-Age", "600");
    }
  soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
}

/* The route that serves @msg, or %NULL. */
static const PrdHubRouteEntry *
lookup_route (PrdHubRest *self, SoupServerMessage *msg, const char *path)
{
  const char *method = soup_server_message_get_method (msg);
  g_auto (GStrv) parts = split_path (path);
  const Route *route = find_route (self, parts, method);

  return route != NULL ? route->entry : NULL;
}

/* The largest body a request to @route (nullable) may have: the route's
 * own fixed limit when it has one (a sign-in's is what a link can be,
 * whatever `[server] max-request-body` says), else the router's. */
static gsize
max_body_for (PrdHubRest *self, const PrdHubRouteEntry *route)
{
  if (route != NULL && route->max_body > 0)
    return route->max_body;
  return self->max_body;
}

/* Answers @msg with @error from its headers: at once, the connection
 * closed, when a body follows them; otherwise libsoup answers as usual (the
 * path's handler is not called for a message with a status). */
static void
refuse (SoupServerMessage *msg, const GError *error)
{
  prd_hub_rest_respond_error (msg, error);
  if (prd_eio_request_has_body (msg))
    prd_eio_refuse_now (msg);
}

static void
refuse_too_large (SoupServerMessage *msg, gsize max_body)
{
  g_autoptr (GError) error = NULL;

  g_set_error (&error, PRD_ERROR, PRD_ERROR_PAYLOAD_TOO_LARGE,
               "Request bodies are limited to %" G_GSIZE_FORMAT " bytes", max_body);
  refuse (msg, error);
}

typedef struct
{
  gsize max_body;
  gsize received;
} BodyCount;

/* A chunked body: counted as it arrives, refused once past the limit. */
static void
on_got_chunk (SoupServerMessage *msg, GBytes *chunk, gpointer user_data)
{
  BodyCount *count = user_data;

  count->received += g_bytes_get_size (chunk);
  if (count->received > count->max_body && soup_server_message_get_status (msg) == 0)
    refuse_too_large (msg, count->max_body);
}

/* RFC 9112 §6.1, §6.3: a request with both Transfer-Encoding and
 * Content-Length, or with more than one Content-Length (two header lines,
 * or a list in one), could end where the hub does not think it ends (libsoup
 * takes the last Content-Length, or the chunked body). */
static gboolean
framing_is_clear (SoupMessageHeaders *headers, GError **error)
{
  SoupMessageHeadersIter iter;
  const char *name, *value;
  guint n_lengths = 0;
  gboolean transfer_encoding = FALSE;

  soup_message_headers_iter_init (&iter, headers);
  while (soup_message_headers_iter_next (&iter, &name, &value))
    {
      if (g_ascii_strcasecmp (name, "Content-Length") == 0)
        n_lengths += strchr (value, ',') != NULL ? 2 : 1;
      else if (g_ascii_strcasecmp (name, "Transfer-Encoding") == 0)
        transfer_encoding = TRUE;
    }
  if (n_lengths > 1 || (n_lengths > 0 && transfer_encoding))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "A request has one Content-Length or a Transfer-Encoding, not "
                           "several Content-Lengths nor both");
      return FALSE;
    }
  return TRUE;
}

/**
 * prd_hub_rest_set_inert_headers:
 * @msg: any request
 *
 * Sets the headers of every answer outside /socket.io/: no answer of the
 * router is a page, so a browser must neither sniff one into HTML nor run
 * or frame anything it holds, nor keep one on disk (a PRD's text, a
 * session's token, notifications: `Cache-Control: no-store`). The web
 * editor's routes (prd-hub-web.c) replace the policy and the caching with
 * their own. Set when a request starts (before libsoup may answer a head
 * it cannot parse) and again once its path is known
 * (prd_hub_rest_check_headers()).
 */
void
prd_hub_rest_set_inert_headers (SoupServerMessage *msg)
{
  SoupMessageHeaders *headers;

  g_return_if_fail (SOUP_IS_SERVER_MESSAGE (msg));

  headers = soup_server_message_get_response_headers (msg);
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace (headers, "Content-Security-Policy",
                                "default-src 'none'; frame-ancestors 'none'");
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
}

static void
unset_inert_headers (SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  soup_message_headers_remove (headers, "X-Content-Type-Options");
  soup_message_headers_remove (headers, "Content-Security-Policy");
  soup_message_headers_remove (headers, "Cache-Control");
}

/**
 * prd_hub_rest_check_headers:
 * @msg: any request, its headers just read ("got-headers")
 *
 * Decides from the headers alone, before any of the body is read, for
 * every request (Engine.IO's too): its `Range` is dropped (no answer is
 * partial), and one whose body's end is ambiguous (`Content-Length` with
 * `Transfer-Encoding`, or more than one `Content-Length`) gets 400
 * `INVALID_PAYLOAD` and its connection closed. Then, for the router's
 * paths: below /api, a request without a valid bearer token gets 401 (the
 * JSON error, `WWW-Authenticate: Bearer`); then a `Content-Length` above
 * the route's body limit (the router's, or the route's own max_body) gets
 * 413. A request with a body is answered at once and its connection closed; a
 * chunked body is counted as it arrives and refused the same way once it
 * grows past the limit. Bodies that no route reads are dropped as they
 * arrive rather than kept.
 *
 * A request that already has a status (libsoup answers a path with ".."
 * segments or a %00 400 before any handler sees it) is answered the same
 * way, at once if a body follows, whatever its path; below the router's
 * paths, libsoup's bare 400 gets the JSON error `INVALID_ID`.
 */
void
prd_hub_rest_check_headers (PrdHubRest *self, SoupServerMessage *msg)
{
  SoupMessageHeaders *headers;
  SoupEncoding encoding;
  g_autoptr (GError) error = NULL;
  const char *path;
  const char *origin = NULL;
  const PrdHubRouteEntry *route;
  gboolean engine;
  gsize engine_len;
  gsize max_body;

  g_return_if_fail (PRD_IS_HUB_REST (self));
  g_return_if_fail (SOUP_IS_SERVER_MESSAGE (msg));

  headers = soup_server_message_get_request_headers (msg);

  /* No answer honours Range (RFC 9110 lets a server ignore it): libsoup
   * would cut any 200 to a GET into the ranges asked for when it writes
   * the headers, building a multipart/byteranges body of every range,
   * overlapping or not, in memory (3000 ranges of a 400 KB file: 1.2 GB). */
  soup_message_headers_remove (headers, "Range");
  soup_message_headers_remove (headers, "If-Range");

  path = g_uri_get_path (soup_server_message_get_uri (msg));
  engine_len = strlen (self->engine_path);
  engine = strncmp (path, self->engine_path, engine_len) == 0 &&
           (path[engine_len] == '\0' || path[engine_len] == '/');

  /* Set before any refusal below, so that those carry them too; an
   * Engine.IO answer is engine.io's own. */
  if (engine)
    unset_inert_headers (msg);
  else
    prd_hub_rest_set_inert_headers (msg);

  if (soup_server_message_get_status (msg) == 0 && !framing_is_clear (headers, &error))
    {
      /* Where the body ends is not known: the connection cannot go on. */
      prd_hub_rest_respond_error (msg, error);
      prd_eio_refuse_now (msg);
      return;
    }

  encoding = soup_message_headers_get_encoding (headers);
  if (soup_server_message_get_status (msg) != 0)
    {
      /* libsoup (or the Engine.IO server) answered already, but libsoup
       * would still read the whole body first. libsoup's own 400 (a path
       * that does not decode: %00, a bad escape, a ".." segment) has no
       * body: it gets the JSON error every other refusal has. */
      if (soup_server_message_get_status (msg) == SOUP_STATUS_BAD_REQUEST &&
          soup_server_message_get_response_body (msg)->length == 0 && !engine)
        prd_hub_rest_respond_error_literal (
            msg, PRD_ERROR_INVALID_ID,
            "The request's path cannot be read: it holds %00, an invalid percent escape or a "
            "\"..\" segment");
      if (prd_eio_request_has_body (msg))
        prd_eio_refuse_now (msg);
      return;
    }
  if (engine)
    return;

  /* The Origin rule (prd-eio-origin.h), as for Engine.IO. */
  if (!prd_eio_origin_allowed ((const char *const *) self->cors_origins, msg, &origin))
    {
      g_set_error (&error, PRD_ERROR, PRD_ERROR_FORBIDDEN,
                   "Origin %s is not allowed (cors-origins)", origin);
      refuse (msg, error);
      return;
    }
  /* A preflight (or any OPTIONS) carries no token. */
  if (g_str_equal (soup_server_message_get_method (msg), SOUP_METHOD_OPTIONS))
    {
      answer_options (self, msg, path, origin);
      if (prd_eio_request_has_body (msg))
        prd_eio_refuse_now (msg);
      return;
    }
  if (origin != NULL)
    prd_eio_origin_add_cors_headers (msg, origin);

  /* One lookup decides the token, the body's limit and whether it is kept. */
  route = lookup_route (self, msg, path);
  if (is_api_path (path) && (route == NULL || (route->flags & PRD_HUB_ROUTE_NO_TOKEN) == 0))
    {
      PrdIdentity *identity = verify_bearer (self->auth, msg, &error);

      if (identity == NULL)
        {
          /* The code, never the token; the path as C escapes, whatever it
           * holds, cut short; throttled, since a client can ask again and
           * again. */
          static PrdLogThrottle refusals =
              PRD_LOG_THROTTLE_INIT (G_LOG_LEVEL_INFO, "refused: request", "refusals");

          if (prd_log_throttle_admit (&refusals))
            {
              g_autofree char *method = prd_log_quote (soup_server_message_get_method (msg));
              g_autofree char *quoted = prd_log_quote (path);

              g_info ("refused: request=\"%s %s\" address=%s code=%s", method, quoted,
                      soup_server_message_get_remote_host (msg),
                      prd_error_get_protocol_code (error));
            }
          refuse (msg, error);
          return;
        }
      g_object_set_data_full (G_OBJECT (msg), IDENTITY_KEY, identity,
                              (GDestroyNotify) prd_identity_free);
    }

  max_body = max_body_for (self, route);
  if (encoding == SOUP_ENCODING_CONTENT_LENGTH &&
      (guint64) MAX (soup_message_headers_get_content_length (headers), 0) > max_body)
    {
      refuse_too_large (msg, max_body);
      return;
    }
  if (route == NULL || (route->flags & PRD_HUB_ROUTE_READS_BODY) == 0)
    soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  if (encoding != SOUP_ENCODING_CONTENT_LENGTH && prd_eio_request_has_body (msg))
    {
      BodyCount *count = g_new0 (BodyCount, 1);

      count->max_body = max_body;
      g_signal_connect_data (msg, "got-chunk", G_CALLBACK (on_got_chunk), count,
                             (GClosureNotify) (GCallback) g_free, 0);
    }
}

static void
handle_healthz (SoupServerMessage *msg,
                const PrdIdentity *identity,
                const char *const *params,
                GHashTable *query,
                gpointer user_data)
{
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  JsonObject *object = json_object_new ();

  json_object_set_string_member (object, "status", "ok");
  json_node_take_object (node, object);
  prd_hub_rest_respond_json (msg, SOUP_STATUS_OK, node);
}

/* The command line's check that it talks to its own hub (prd_auth_prove())
 * before it sends a token: no token, a challenge of 32 to 128 hex digits. */
static void
handle_proof (SoupServerMessage *msg,
              const PrdIdentity *identity,
              const char *const *params,
              GHashTable *query,
              gpointer user_data)
{
  PrdHubRest *self = user_data;
  const char *challenge = query != NULL ? g_hash_table_lookup (query, "challenge") : NULL;
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *proof = NULL;
  JsonObject *object;
  gsize len = challenge != NULL ? strlen (challenge) : 0;

  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isxdigit (challenge[i]))
      len = 0;
  if (len < 32 || len > 128)
    {
      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD,
                                          "?challenge= takes 32 to 128 hex digits");
      return;
    }
  proof = prd_auth_prove (self->auth, challenge);
  if (proof == NULL)
    {
      prd_hub_rest_respond_error_literal (
          msg, PRD_ERROR_NOT_FOUND, "This hub verifies tokens with a public key: it has no proof");
      return;
    }
  object = json_object_new ();
  json_object_set_string_member (object, "proof", proof);
  json_node_take_object (node, object);
  prd_hub_rest_respond_json (msg, SOUP_STATUS_OK, node);
}

static const PrdHubRouteEntry health_routes[] = {
  { "GET", "/healthz", handle_healthz },
  { "HEAD", "/healthz", handle_healthz },
};

static const PrdHubRouteEntry proof_routes[] = {
  { "GET", "/api/hub-proof", handle_proof, PRD_HUB_ROUTE_NO_TOKEN },
};

static void
prd_hub_rest_finalize (GObject *object)
{
  PrdHubRest *self = PRD_HUB_REST (object);

  g_clear_object (&self->auth);
  g_clear_pointer (&self->routes, g_ptr_array_unref);
  g_clear_pointer (&self->writers, g_hash_table_unref);
  g_free (self->engine_path);
  g_strfreev (self->cors_origins);

  G_OBJECT_CLASS (prd_hub_rest_parent_class)->finalize (object);
}

static void
prd_hub_rest_class_init (PrdHubRestClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = prd_hub_rest_finalize;
}

static void
prd_hub_rest_init (PrdHubRest *self)
{
  self->routes = g_ptr_array_new_with_free_func ((GDestroyNotify) route_free);
  self->writers =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) writer_free);
}

/**
 * prd_hub_rest_set_write_rate:
 * @limit: writes one user may make per window (0: any number)
 * @window_seconds: the window (at least 1 when @limit is not 0)
 *
 * The [rate-limit] class `rest`: how many requests other than GET and HEAD
 * one user (the token's organization and subject) may make.
 */
void
prd_hub_rest_set_write_rate (PrdHubRest *self, guint limit, guint window_seconds)
{
  g_return_if_fail (PRD_IS_HUB_REST (self));
  g_return_if_fail (limit == 0 || window_seconds > 0);

  self->write_limit = limit;
  self->write_window = window_seconds;
}

/**
 * prd_hub_rest_set_read_rate:
 * @limit: reads one user may make per window (0: any number)
 * @window_seconds: the window (at least 1 when @limit is not 0)
 *
 * The [rate-limit] class `rest-read`: how many GET and HEAD requests with a
 * token one user (the token's organization and subject) may make.
 */
void
prd_hub_rest_set_read_rate (PrdHubRest *self, guint limit, guint window_seconds)
{
  g_return_if_fail (PRD_IS_HUB_REST (self));
  g_return_if_fail (limit == 0 || window_seconds > 0);

  self->read_limit = limit;
  self->read_window = window_seconds;
}

/**
 * prd_hub_rest_charge_write:
 * @identity: whose writes pay
 * @events: how many more
 *
 * Counts @events more writes (`[rate-limit] rest`) of @identity, for a
 * request whose work weighs more than one (the content of a new PRD, as
 * `insert-units-per-event` weighs a content-update's insert). Taken after
 * the request was allowed: as many as are left, then later writes are
 * refused until the window ends.
 */
void
prd_hub_rest_charge_write (PrdHubRest *self, const PrdIdentity *identity, guint events)
{
  g_autofree char *key = NULL;
  Writer *writer;

  g_return_if_fail (PRD_IS_HUB_REST (self));
  g_return_if_fail (identity != NULL);

  if (self->write_limit == 0 || events == 0)
    return;
  key = g_strconcat (identity->org, "\n", identity->user_id, NULL);
  writer = g_hash_table_lookup (self->writers, key);
  if (writer == NULL)
    return;
  prd_sio_rate_limiter_charge (writer->limiter, WRITE_CLASS, self->write_limit, self->write_window,
                               g_get_monotonic_time (), events);
}

/**
 * prd_hub_rest_set_cors_origins:
 * @origins: (nullable) (array zero-terminated=1): `[server] cors-origins`
 *
 * The origins allowed besides the hub's own (prd-eio-origin.h).
 */
void
prd_hub_rest_set_cors_origins (PrdHubRest *self, const char *const *origins)
{
  g_return_if_fail (PRD_IS_HUB_REST (self));

  g_strfreev (self->cors_origins);
  self->cors_origins = g_strdupv ((char **) origins);
}

/**
 * prd_hub_rest_new:
 * @auth: verifies bearer tokens
 * @max_body: the largest request body, in bytes
 * @engine_path: requests to this path and below are the Engine.IO server's,
 *   which checks them itself (max-payload; no token)
 *
 * Returns: (transfer full): a router that serves `/healthz` and whatever
 *   routes are added
 */
PrdHubRest *
prd_hub_rest_new (PrdAuth *auth, gsize max_body, const char *engine_path)
{
  PrdHubRest *self;

  g_return_val_if_fail (PRD_IS_AUTH (auth), NULL);
  g_return_val_if_fail (engine_path != NULL, NULL);

  self = g_object_new (PRD_TYPE_HUB_REST, NULL);
  self->auth = g_object_ref (auth);
  self->max_body = max_body;
  self->engine_path = g_strdup (engine_path);
  prd_hub_rest_add_routes (self, health_routes, G_N_ELEMENTS (health_routes), NULL, NULL);
  prd_hub_rest_add_routes (self, proof_routes, G_N_ELEMENTS (proof_routes), self, NULL);
  return self;
}

/**
 * prd_hub_rest_add_routes:
 * @entries: (array length=n_entries): routes, usually a static array
 * @user_data: passed to each route's function
 * @destroy: (nullable): frees @user_data when the router goes
 *
 * Adds a feature's routes. A path and method served twice is a programming
 * error.
 */
void
prd_hub_rest_add_routes (PrdHubRest *self,
                         const PrdHubRouteEntry *entries,
                         gsize n_entries,
                         gpointer user_data,
                         GDestroyNotify destroy)
{
  Group *group;

  g_return_if_fail (PRD_IS_HUB_REST (self));
  g_return_if_fail (entries != NULL || n_entries == 0);

  group = g_new0 (Group, 1);
  g_atomic_ref_count_init (&group->ref_count);
  group->user_data = user_data;
  group->destroy = destroy;
  for (gsize i = 0; i < n_entries; i++)
    {
      Route *route = g_new0 (Route, 1);

      g_return_if_fail (entries[i].pattern[0] == '/' && entries[i].func != NULL);
      route->entry = &entries[i];
      route->segments = split_path (entries[i].pattern);
      g_atomic_ref_count_inc (&group->ref_count);
      route->group = group;
      for (guint j = 0; j < self->routes->len; j++)
        {
          const Route *other = g_ptr_array_index (self->routes, j);

          g_warn_if_fail (!g_str_equal (other->entry->pattern, route->entry->pattern) ||
                          !g_str_equal (other->entry->method, route->entry->method));
        }
      g_ptr_array_add (self->routes, route);
    }
  group_unref (group);
}

/**
 * prd_hub_rest_attach:
 *
 * Serves every path of @server that has no handler of its own (the
 * Engine.IO server's has) from the route table.
 */
void
prd_hub_rest_attach (PrdHubRest *self, SoupServer *server)
{
  g_return_if_fail (PRD_IS_HUB_REST (self));
  g_return_if_fail (SOUP_IS_SERVER (server));

  soup_server_add_handler (server, NULL, dispatch, g_object_ref (self), g_object_unref);
}

/**
 * prd_hub_rest_detach:
 *
 * Undoes prd_hub_rest_attach(): @server drops its reference to @self, and
 * with it to every route's data.
 */
void
prd_hub_rest_detach (PrdHubRest *self, SoupServer *server)
{
  g_return_if_fail (PRD_IS_HUB_REST (self));
  g_return_if_fail (SOUP_IS_SERVER (server));

  soup_server_remove_handler (server, NULL);
}
