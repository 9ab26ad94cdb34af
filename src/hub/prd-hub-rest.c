/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The REST routes, on the hub's SoupServer:
 *
 *   GET  /healthz                   {status: "ok"} (no token)
 *   POST /api/prds                  {title, content?} → 201 + Location
 *   GET  /api/prds                  the caller's organization's PRDs
 *   GET  /api/prds/{id}             content, version, stateVector, updatedAt …
 *   GET  /api/prds/{id}/export.md   the Markdown text
 *   GET  /api/prds/{id}/versions, /versions/{version}, /diff?from=&to=
 *                                   prd-hub-versions.c
 *
 * Every /api route needs `Authorization: Bearer <JWT>` (the token the
 * Socket.IO clients use). Errors are JSON {code, message} with the HTTP
 * status of the code. Store work is asynchronous: the message is paused
 * meanwhile so the main loop never blocks on SQLite.
 *
 * The token and the size of the body are checked from the request headers,
 * before libsoup reads the body (prd_hub_rest_check_headers(), for every
 * path the Engine.IO server does not serve): an upload without a valid
 * token, or larger than the limit, is answered at once and its connection
 * closed (prd-eio-refusal.c), so that it costs neither memory nor the time
 * to receive it.
 */
#define G_LOG_DOMAIN "prd-hub-rest"

#include "config.h"

#include <string.h>

#include "prd-eio-refusal.h"
#include "prd-error.h"
#include "prd-hub-room.h"
#include "prd-hub.h"
#include "prd-json.h"
#include "prd-time.h"

#include "prd-hub-rest.h"

typedef struct
{
  PrdAuth *auth;   /* (owned) */
  PrdStore *store; /* (owned) */
} Rest;

typedef struct
{
  Rest *rest;
  SoupServerMessage *msg; /* (owned) */
  PrdIdentity *identity;  /* (owned) */
  char *prd_id;
  gboolean export;
} Call;

#define ROUTE_KEY "prd-hub-rest-route:"
/* Object data on a request: the PrdIdentity of its token, verified with
 * the headers. */
#define IDENTITY_KEY "prd-hub-rest-identity"

typedef struct
{
  PrdHubRestPrdRoute func;
  gpointer user_data;
} PrdRoute;

static void
rest_free (Rest *rest)
{
  g_clear_object (&rest->auth);
  g_clear_object (&rest->store);
  g_free (rest);
}

static void
call_free (Call *call)
{
  g_clear_object (&call->msg);
  g_clear_pointer (&call->identity, prd_identity_free);
  g_free (call->prd_id);
  g_free (call);
}

void
prd_hub_rest_respond_json (SoupServerMessage *msg, guint status, JsonNode *node)
{
  g_autofree char *text = json_to_string (node, FALSE);
  gsize len = strlen (text);

  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE,
                                    g_steal_pointer (&text), len);
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
        return SOUP_STATUS_UNAUTHORIZED;
      case PRD_ERROR_FORBIDDEN:
        return SOUP_STATUS_FORBIDDEN;
      case PRD_ERROR_NOT_FOUND:
      case PRD_ERROR_PRD_NOT_FOUND:
        return SOUP_STATUS_NOT_FOUND;
      case PRD_ERROR_PAYLOAD_TOO_LARGE:
        return SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE;
      case PRD_ERROR_ALREADY_EXISTS:
        return SOUP_STATUS_CONFLICT;
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

static void
respond_error_literal (SoupServerMessage *msg, PrdErrorCode code, const char *message)
{
  g_autoptr (GError) error = g_error_new_literal (PRD_ERROR, code, message);

  prd_hub_rest_respond_error (msg, error);
}

static void
call_finish (Call *call)
{
  soup_server_message_unpause (call->msg);
  call_free (call);
}

static void
add_info (JsonBuilder *builder, const PrdStoreInfo *info)
{
  g_autofree char *created = prd_time_format (info->created_at);
  g_autofree char *updated = prd_time_format (info->updated_at);

  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, info->id);
  json_builder_set_member_name (builder, "title");
  json_builder_add_string_value (builder, info->title);
  json_builder_set_member_name (builder, "organizationId");
  json_builder_add_string_value (builder, info->org);
  json_builder_set_member_name (builder, "owner");
  json_builder_add_string_value (builder, info->owner);
  json_builder_set_member_name (builder, "version");
  json_builder_add_string_value (builder, info->version);
  json_builder_set_member_name (builder, "createdAt");
  json_builder_add_string_value (builder, created);
  json_builder_set_member_name (builder, "updatedAt");
  json_builder_add_string_value (builder, updated);
}

static void
on_loaded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  g_autoptr (PrdStoreDocument) stored = NULL;
  g_autoptr (PrdDocument) document = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;

  stored = prd_store_load_finish (PRD_STORE (source), result, &error);
  if (stored != NULL && !g_str_equal (stored->info->org, call->identity->org))
    {
      g_clear_pointer (&stored, prd_store_document_free);
      g_set_error (&error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND, "No PRD %s", call->prd_id);
    }
  if (stored != NULL)
    document = prd_hub_document_from_store (stored, &error);
  if (document == NULL)
    {
      if (g_error_matches (error, PRD_ERROR, PRD_ERROR_NOT_FOUND))
        error->code = PRD_ERROR_PRD_NOT_FOUND;
      prd_hub_rest_respond_error (call->msg, error);
      call_finish (call);
      return;
    }

  text = prd_crdt_doc_get_text (prd_document_get_crdt (document));
  if (call->export)
    {
      gsize len = strlen (text);

      soup_server_message_set_status (call->msg, SOUP_STATUS_OK, NULL);
      soup_server_message_set_response (call->msg, "text/markdown; charset=utf-8", SOUP_MEMORY_TAKE,
                                        g_steal_pointer (&text), len);
    }
  else
    {
      g_autoptr (JsonBuilder) builder = json_builder_new ();
      g_autoptr (JsonNode) node = NULL;
      g_autoptr (GArray) vector = prd_crdt_doc_get_state_vector (prd_document_get_crdt (document));

      json_builder_begin_object (builder);
      add_info (builder, stored->info);
      json_builder_set_member_name (builder, "content");
      json_builder_add_string_value (builder, text);
      json_builder_set_member_name (builder, "stateVector");
      json_builder_add_value (builder, prd_hub_vector_to_json (vector));
      json_builder_end_object (builder);
      node = json_builder_get_root (builder);
      prd_hub_rest_respond_json (call->msg, SOUP_STATUS_OK, node);
    }
  call_finish (call);
}

static void
on_listed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  g_autoptr (GPtrArray) infos = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) node = NULL;

  infos = prd_store_list_finish (PRD_STORE (source), result, &error);
  if (infos == NULL)
    {
      prd_hub_rest_respond_error (call->msg, error);
      call_finish (call);
      return;
    }
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "prds");
  json_builder_begin_array (builder);
  for (guint i = 0; i < infos->len; i++)
    {
      json_builder_begin_object (builder);
      add_info (builder, g_ptr_array_index (infos, i));
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  prd_hub_rest_respond_json (call->msg, SOUP_STATUS_OK, node);
  call_finish (call);
}

static void
on_created (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) node = NULL;
  g_autofree char *location = NULL;

  info = prd_hub_create_prd_finish (result, &error);
  if (info == NULL)
    {
      prd_hub_rest_respond_error (call->msg, error);
      call_finish (call);
      return;
    }
  location = g_strconcat ("/api/prds/", info->id, NULL);
  soup_message_headers_replace (soup_server_message_get_response_headers (call->msg), "Location",
                                location);
  json_builder_begin_object (builder);
  add_info (builder, info);
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  prd_hub_rest_respond_json (call->msg, SOUP_STATUS_CREATED, node);
  call_finish (call);
}

/* The body's size was checked before it was read (prd_hub_rest_check_headers()). */
static void
create (Rest *rest, Call *call)
{
  SoupMessageBody *body = soup_server_message_get_request_body (call->msg);
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  JsonNode *title, *content;
  JsonObject *object;

  if (call->identity->role == PRD_ROLE_VIEWER)
    {
      respond_error_literal (call->msg, PRD_ERROR_FORBIDDEN, "Viewers cannot create PRDs");
      call_free (call);
      return;
    }
  root = prd_json_parse (g_bytes_get_data (bytes, NULL), (gssize) g_bytes_get_size (bytes),
                         G_MAXSIZE, &error);
  if (root == NULL)
    {
      g_autofree char *message =
          g_strdup_printf ("The body is not usable JSON: %s", error->message);

      respond_error_literal (call->msg, PRD_ERROR_INVALID_PAYLOAD, message);
      call_free (call);
      return;
    }
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      respond_error_literal (call->msg, PRD_ERROR_INVALID_PAYLOAD,
                             "The body must be a JSON object");
      call_free (call);
      return;
    }
  object = json_node_get_object (root);
  title = json_object_get_member (object, "title");
  content = json_object_get_member (object, "content");
  if (title == NULL || !JSON_NODE_HOLDS_VALUE (title) ||
      json_node_get_value_type (title) != G_TYPE_STRING ||
      !prd_store_validate_title (json_node_get_string (title), &error))
    {
      if (error == NULL)
        g_set_error_literal (&error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                             "title must be a string");
      prd_hub_rest_respond_error (call->msg, error);
      call_free (call);
      return;
    }
  if (content != NULL && !JSON_NODE_HOLDS_NULL (content) &&
      (!JSON_NODE_HOLDS_VALUE (content) || json_node_get_value_type (content) != G_TYPE_STRING))
    {
      respond_error_literal (call->msg, PRD_ERROR_INVALID_PAYLOAD, "content must be a string");
      call_free (call);
      return;
    }
  soup_server_message_pause (call->msg);
  prd_hub_create_prd_as_async (
      rest->store, call->identity->org, json_node_get_string (title), call->identity->user_id,
      call->identity->name,
      content != NULL && JSON_NODE_HOLDS_VALUE (content) ? json_node_get_string (content) : NULL,
      NULL, on_created, call);
}

static PrdIdentity *
authenticate (Rest *rest, SoupServerMessage *msg)
{
  return prd_hub_rest_authenticate (rest->auth, msg);
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

/**
 * prd_hub_rest_authenticate:
 *
 * Returns: (transfer full) (nullable): the identity of the request's
 *   bearer token, or %NULL after answering the request with the error
 */
PrdIdentity *
prd_hub_rest_authenticate (PrdAuth *auth, SoupServerMessage *msg)
{
  const PrdIdentity *checked = g_object_get_data (G_OBJECT (msg), IDENTITY_KEY);
  g_autoptr (GError) error = NULL;
  PrdIdentity *identity;

  /* Verified with the headers (prd_hub_rest_check_headers()). */
  if (checked != NULL)
    return prd_identity_copy (checked);
  identity = verify_bearer (auth, msg, &error);
  if (identity == NULL)
    prd_hub_rest_respond_error (msg, error);
  return identity;
}

static void
handle_prds (SoupServer *server,
             SoupServerMessage *msg,
             const char *path,
             GHashTable *query,
             gpointer user_data)
{
  Rest *rest = user_data;
  const char *method = soup_server_message_get_method (msg);
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) parts = NULL;
  const char *rest_path;
  guint n_parts;
  Call *call;

  if (g_str_has_prefix (path, "/api/prds") == FALSE)
    {
      respond_error_literal (msg, PRD_ERROR_NOT_FOUND, "No such route");
      return;
    }
  rest_path = path + strlen ("/api/prds");
  if (*rest_path != '\0' && *rest_path != '/')
    {
      respond_error_literal (msg, PRD_ERROR_NOT_FOUND, "No such route");
      return;
    }
  parts = g_strsplit (*rest_path == '/' ? rest_path + 1 : rest_path, "/", -1);
  n_parts = g_strv_length (parts);
  if (n_parts > 0 && *parts[n_parts - 1] == '\0')
    {
      g_free (parts[n_parts - 1]);
      parts[--n_parts] = NULL;
    }
  /* libsoup hands over the path percent-decoded, whatever bytes it holds;
   * ids, versions and route names are all UTF-8 (ASCII in fact). */
  for (guint i = 0; i < n_parts; i++)
    {
      if (!g_utf8_validate (parts[i], -1, NULL))
        {
          respond_error_literal (msg, PRD_ERROR_INVALID_ID,
                                 "A path segment is not valid UTF-8 (after percent-decoding)");
          return;
        }
    }
  /* /api/prds/{id}/{leaf}[/…]: a route of a feature (prd_hub_rest_add_prd_route). */
  if (n_parts >= 2 && !(n_parts == 2 && g_str_equal (parts[1], "export.md")))
    {
      g_autofree char *key = g_strconcat (ROUTE_KEY, parts[1], NULL);
      PrdRoute *route = g_object_get_data (G_OBJECT (server), key);
      g_autoptr (PrdIdentity) identity = NULL;

      if (route == NULL)
        {
          respond_error_literal (msg, PRD_ERROR_NOT_FOUND, "No such route");
          return;
        }
      identity = authenticate (rest, msg);
      if (identity == NULL)
        return;
      if (!prd_store_validate_prd_id (parts[0], &error))
        prd_hub_rest_respond_error (msg, error);
      else
        route->func (msg, identity, (const char *const *) parts, n_parts, query, route->user_data);
      return;
    }

  call = g_new0 (Call, 1);
  call->rest = rest;
  call->msg = g_object_ref (msg);
  call->identity = authenticate (rest, msg);
  if (call->identity == NULL)
    {
      call_free (call);
      return;
    }

  if (n_parts == 0)
    {
      if (g_str_equal (method, "POST"))
        create (rest, call);
      else if (g_str_equal (method, "GET"))
        {
          soup_server_message_pause (msg);
          prd_store_list_async (rest->store, call->identity->org, NULL, on_listed, call);
        }
      else
        {
          soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow",
                                        "GET, POST");
          soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL);
          call_free (call);
        }
      return;
    }

  if (!g_str_equal (method, "GET"))
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", "GET");
      soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL);
      call_free (call);
      return;
    }
  if (!prd_store_validate_prd_id (parts[0], &error))
    {
      prd_hub_rest_respond_error (msg, error);
      call_free (call);
      return;
    }
  call->prd_id = g_strdup (parts[0]);
  call->export = n_parts == 2;
  soup_server_message_pause (msg);
  prd_store_load_async (rest->store, call->prd_id, NULL, on_loaded, call);
}

static void
handle_healthz (SoupServer *server,
                SoupServerMessage *msg,
                const char *path,
                GHashTable *query,
                gpointer user_data)
{
  g_autoptr (JsonNode) node = json_from_string ("{\"status\":\"ok\"}", NULL);

  if (!g_str_equal (soup_server_message_get_method (msg), "GET") &&
      !g_str_equal (soup_server_message_get_method (msg), "HEAD"))
    {
      soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL);
      return;
    }
  prd_hub_rest_respond_json (msg, SOUP_STATUS_OK, node);
}

static gboolean
is_api_path (const char *path)
{
  return g_str_equal (path, "/api") || g_str_has_prefix (path, "/api/");
}

/* The only route that reads a request body: POST /api/prds. */
static gboolean
reads_body (SoupServerMessage *msg, const char *path)
{
  return g_str_equal (soup_server_message_get_method (msg), SOUP_METHOD_POST) &&
         (g_str_equal (path, "/api/prds") || g_str_equal (path, "/api/prds/"));
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

/**
 * prd_hub_rest_check_headers:
 * @msg: any request, its headers just read ("got-headers")
 * @auth: verifies bearer tokens
 * @max_body: the largest request body, in bytes
 * @engine_path: requests to this path and below are the Engine.IO server's,
 *   which checks them itself (max-payload; no token)
 *
 * Decides from the headers alone, before any of the body is read:
 * below /api, a request without a valid bearer token gets 401 (the JSON
 * error, `WWW-Authenticate: Bearer`); then a `Content-Length` above
 * @max_body gets 413. A request with a body is answered at once and its
 * connection closed; a chunked body is counted as it arrives and refused the
 * same way once it grows past @max_body. Bodies that no route reads are
 * dropped as they arrive rather than kept.
 *
 * A request that already has a status (libsoup answers a path with ".."
 * segments 400 before any handler sees it) is answered the same way, at
 * once if a body follows, whatever its path.
 */
void
prd_hub_rest_check_headers (SoupServerMessage *msg,
                            PrdAuth *auth,
                            gsize max_body,
                            const char *engine_path)
{
  SoupMessageHeaders *headers;
  SoupEncoding encoding;
  g_autoptr (GError) error = NULL;
  const char *path;
  gsize engine_len;

  g_return_if_fail (SOUP_IS_SERVER_MESSAGE (msg));
  g_return_if_fail (PRD_IS_AUTH (auth));
  g_return_if_fail (engine_path != NULL);

  headers = soup_server_message_get_request_headers (msg);
  encoding = soup_message_headers_get_encoding (headers);
  path = g_uri_get_path (soup_server_message_get_uri (msg));
  engine_len = strlen (engine_path);
  if (soup_server_message_get_status (msg) != 0)
    {
      /* libsoup (or the Engine.IO server) answered already, but libsoup
       * would still read the whole body first. */
      if (prd_eio_request_has_body (msg))
        prd_eio_refuse_now (msg);
      return;
    }
  if (strncmp (path, engine_path, engine_len) == 0 &&
      (path[engine_len] == '\0' || path[engine_len] == '/'))
    return;

  if (is_api_path (path))
    {
      PrdIdentity *identity = verify_bearer (auth, msg, &error);

      if (identity == NULL)
        {
          refuse (msg, error);
          return;
        }
      g_object_set_data_full (G_OBJECT (msg), IDENTITY_KEY, identity,
                              (GDestroyNotify) prd_identity_free);
    }

  if (encoding == SOUP_ENCODING_CONTENT_LENGTH &&
      (guint64) MAX (soup_message_headers_get_content_length (headers), 0) > max_body)
    {
      refuse_too_large (msg, max_body);
      return;
    }
  if (!reads_body (msg, path))
    soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  if (encoding != SOUP_ENCODING_CONTENT_LENGTH && prd_eio_request_has_body (msg))
    {
      BodyCount *count = g_new0 (BodyCount, 1);

      count->max_body = max_body;
      g_signal_connect_data (msg, "got-chunk", G_CALLBACK (on_got_chunk), count,
                             (GClosureNotify) (GCallback) g_free, 0);
    }
}

/**
 * prd_hub_rest_attach:
 *
 * Adds the REST routes to @server.
 */
void
prd_hub_rest_attach (SoupServer *server, PrdAuth *auth, PrdStore *store)
{
  Rest *rest = g_new0 (Rest, 1);

  rest->auth = g_object_ref (auth);
  rest->store = g_object_ref (store);
  soup_server_add_handler (server, "/healthz", handle_healthz, NULL, NULL);
  soup_server_add_handler (server, "/api/prds", handle_prds, rest, (GDestroyNotify) rest_free);
}

/**
 * prd_hub_rest_only_get:
 *
 * For routes that only read: answers anything but GET with 405.
 *
 * Returns: %TRUE when @msg is a GET
 */
gboolean
prd_hub_rest_only_get (SoupServerMessage *msg)
{
  if (g_str_equal (soup_server_message_get_method (msg), "GET"))
    return TRUE;
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", "GET");
  soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL);
  return FALSE;
}

/**
 * prd_hub_rest_add_prd_route:
 * @leaf: the segment after the id: `/api/prds/{id}/@leaf[/…]`
 *
 * Serves `/api/prds/{id}/@leaf` and the paths below it with @func, called
 * after the token and the id's syntax were checked. @func answers every
 * method and every deeper path itself.
 */
void
prd_hub_rest_add_prd_route (SoupServer *server,
                            const char *leaf,
                            PrdHubRestPrdRoute func,
                            gpointer user_data)
{
  g_autofree char *key = g_strconcat (ROUTE_KEY, leaf, NULL);
  PrdRoute *route = g_new0 (PrdRoute, 1);

  route->func = func;
  route->user_data = user_data;
  g_object_set_data_full (G_OBJECT (server), key, route, g_free);
}
