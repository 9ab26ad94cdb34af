/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The PRDs' own REST routes (on the router of prd-hub-rest.c):
 *
 *   GET  /api/prds[?archived=false|true|all][&limit=N][&after=CURSOR]
 *                                   {prds, nextAfter}: a page of the caller's
 *                                   organization's PRDs, oldest first (by
 *                                   default those not archived)
 *   POST /api/prds                  {title, content?} → 201 + Location
 *   GET  /api/prds/{id}             content, version, stateVector, updatedAt …
 *   GET  /api/prds/{id}/export.md   the Markdown text
 *
 * A PRD whose room is open is read from the room's document (its committed
 * text); another one is built from the store off the main thread
 * (prd_hub_room_registry_load_document_async()). The text of the last few
 * PRDs read, and the same as a JSON string, are kept with the committed
 * state vector they are of (prd-hub-answer-cache.c): a burst of readers of
 * a PRD nobody edits costs one copy of its text, not one each.
 */
#define G_LOG_DOMAIN "prd-hub-rest-prds"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-hub-answer-cache.h"
#include "prd-hub-config-collab.h"
#include "prd-hub-room-registry.h"
#include "prd-hub-room.h"
#include "prd-hub.h"
#include "prd-json.h"
#include "prd-manage-store.h"

#include "prd-hub-rest-prds.h"

typedef struct
{
  PrdHubRest *rest;          /* (unowned): it owns the routes */
  PrdStore *store;           /* (owned) */
  PrdHubRoomRegistry *rooms; /* (owned) */
  guint max_document_size;
  guint insert_units;          /* [collab] insert-units-per-event */
  PrdHubAnswerCache *texts;    /* (owned): the text of export.md, by PRD id */
  PrdHubAnswerCache *contents; /* (owned): the same as a JSON string, by PRD id */
} Routes;

/* What each of the two keeps: a PRD's text is up to [collab]
 * max-document-size (4 MiB of UTF-16 at most), its JSON string up to six
 * times its bytes. */
#define MAX_TEXTS      16
#define MAX_TEXT_BYTES (32 * 1024 * 1024)

typedef struct
{
  SoupServerMessage *msg;      /* (owned) */
  PrdIdentity *identity;       /* (owned) */
  PrdHubRoomRegistry *rooms;   /* (owned) (nullable): a read's */
  PrdHubAnswerCache *texts;    /* (owned) (nullable): a read's (export.md) */
  PrdHubAnswerCache *contents; /* (owned) (nullable): a read's (the PRD) */
  char *prd_id;
  gboolean export;
  int archived;  /* the list: 0 not archived, 1 archived, 2 both */
  guint32 units; /* a create's content, in UTF-16 code units */
} Call;

static void
routes_free (Routes *routes)
{
  g_clear_object (&routes->store);
  g_clear_object (&routes->rooms);
  g_clear_pointer (&routes->texts, prd_hub_answer_cache_unref);
  g_clear_pointer (&routes->contents, prd_hub_answer_cache_unref);
  g_free (routes);
}

static Call *
call_new (SoupServerMessage *msg, const PrdIdentity *identity)
{
  Call *call = g_new0 (Call, 1);

  call->msg = g_object_ref (msg);
  call->identity = prd_identity_copy (identity);
  return call;
}

static void
call_free (Call *call)
{
  g_clear_object (&call->msg);
  g_clear_pointer (&call->identity, prd_identity_free);
  g_clear_object (&call->rooms);
  g_clear_pointer (&call->texts, prd_hub_answer_cache_unref);
  g_clear_pointer (&call->contents, prd_hub_answer_cache_unref);
  g_free (call->prd_id);
  g_free (call);
}

static void
call_finish (Call *call)
{
  soup_server_message_unpause (call->msg);
  call_free (call);
}

/* The PRD object, archived state included (prd-hub-room.c). */
static void
add_info (JsonBuilder *builder, const PrdStoreInfo *info)
{
  prd_hub_add_prd_info (builder, info);
}

/* The text of the read at @vector, as export.md sends it or as a JSON
 * string: kept, or made from @text (taken) or else from @document. */
static GBytes *
read_text (Call *call, GArray *vector, char *text, PrdDocument *document)
{
  PrdHubAnswerCache *cache = call->export ? call->texts : call->contents;
  g_autofree char *owned = text;
  GBytes *piece = prd_hub_answer_cache_lookup (cache, call->prd_id, vector);

  if (piece != NULL)
    return g_bytes_ref (piece);
  if (owned == NULL)
    owned = prd_document_get_committed_text (document);
  if (call->export)
    {
      gsize len = strlen (owned);

      piece = g_bytes_new_take (g_steal_pointer (&owned), len);
    }
  else
    {
      GString *out = g_string_sized_new (strlen (owned) + 2);

      prd_json_write_string (out, owned);
      piece = g_string_free_to_bytes (out);
    }
  prd_hub_answer_cache_insert (cache, call->prd_id, vector, piece);
  return piece;
}

/* Answers a read of the text at @vector (taken): @text (taken), or else
 * @document's committed text, when it is not kept. */
static void
respond_read (
    Call *call, const PrdStoreInfo *info, GArray *vector, char *text, PrdDocument *document)
{
  g_autoptr (GArray) owned_vector = vector;
  g_autoptr (GBytes) piece = read_text (call, owned_vector, text, document);
  SoupMessageBody *body = soup_server_message_get_response_body (call->msg);
  g_autoptr (JsonBuilder) builder = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autofree char *head = NULL;
  GString *tail;
  gsize len;

  soup_server_message_set_status (call->msg, SOUP_STATUS_OK, NULL);
  if (call->export)
    {
      soup_message_headers_set_content_type (soup_server_message_get_response_headers (call->msg),
                                             "text/markdown; charset=utf-8", NULL);
      soup_message_body_append_bytes (body, piece);
      return;
    }
  /* {info…, "content": the kept string, "stateVector": […]} */
  builder = json_builder_new ();
  json_builder_begin_object (builder);
  add_info (builder, info);
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  head = prd_json_to_string (node);
  len = strlen (head) - 1; /* without its '}' */
  soup_message_headers_set_content_type (soup_server_message_get_response_headers (call->msg),
                                         "application/json", NULL);
  soup_message_body_append (body, SOUP_MEMORY_COPY, head, len);
  soup_message_body_append (body, SOUP_MEMORY_STATIC,
                            len > 1 ? ",\"content\":" : "\"content\":", len > 1 ? 11 : 10);
  soup_message_body_append_bytes (body, piece);
  tail = g_string_new (",\"stateVector\":");
  prd_crdt_vector_write_json ((const guint32 *) owned_vector->data, owned_vector->len, tail);
  g_string_append_c (tail, '}');
  len = tail->len;
  soup_message_body_append (body, SOUP_MEMORY_TAKE, g_string_free (tail, FALSE), len);
}

static void
respond_load_error (Call *call, const GError *error)
{
  if (g_error_matches (error, PRD_ERROR, PRD_ERROR_RATE_LIMITED))
    {
      g_autofree char *retry = g_strdup_printf ("%d", PRD_HUB_ROOM_REGISTRY_RETRY_LOAD);

      soup_message_headers_replace (soup_server_message_get_response_headers (call->msg),
                                    "Retry-After", retry);
    }
  prd_hub_rest_respond_error (call->msg, error);
}

static void
on_built (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autoptr (PrdDocument) document = NULL;
  g_autoptr (GError) error = NULL;
  char *text = NULL;
  GArray *vector = NULL;

  document = prd_hub_room_registry_load_document_finish (PRD_HUB_ROOM_REGISTRY (source), result,
                                                         &info, &text, &vector, &error);
  if (document == NULL)
    respond_load_error (call, error);
  else
    respond_read (call, info, vector, text, NULL);
  call_finish (call);
}

/* The metadata of a PRD whose room was open: the room's committed text
 * answers, unless the room has closed since. */
static void
on_info (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autoptr (GError) error = NULL;
  PrdDocument *document;

  info = prd_store_get_finish (PRD_STORE (source), result, &error);
  if (info != NULL && !g_str_equal (info->org, call->identity->org))
    {
      g_clear_pointer (&info, prd_store_info_free);
      g_clear_error (&error);
      error = prd_error_new_prd_not_found (call->prd_id);
    }
  if (info == NULL)
    {
      if (g_error_matches (error, PRD_ERROR, PRD_ERROR_NOT_FOUND))
        error->code = PRD_ERROR_PRD_NOT_FOUND;
      prd_hub_rest_respond_error (call->msg, error);
      call_finish (call);
      return;
    }
  document = prd_hub_room_registry_peek_document (call->rooms, call->prd_id);
  if (document == NULL)
    {
      prd_hub_room_registry_load_document_async (call->rooms, call->prd_id, call->identity->org,
                                                 NULL, on_built, call);
      return;
    }
  respond_read (call, info, prd_document_get_committed_vector (document), NULL, document);
  call_finish (call);
}

/* The list: one page of the organization's PRDs (prd_manage_store_list_page_async()). */
typedef struct
{
  SoupServerMessage *msg; /* (owned) */
  gint64 limit;
} ListCall;

static void
list_call_finish (ListCall *call)
{
  soup_server_message_unpause (call->msg);
  g_clear_object (&call->msg);
  g_free (call);
}

static void
on_listed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ListCall *call = user_data;
  g_autoptr (GPtrArray) infos = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) node = NULL;
  const PrdStoreInfo *last = NULL;

  infos = prd_manage_store_list_page_finish (PRD_MANAGE_STORE (source), result, &error);
  if (infos == NULL)
    {
      prd_hub_rest_respond_error (call->msg, error);
      list_call_finish (call);
      return;
    }
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "prds");
  json_builder_begin_array (builder);
  /* The query reads one PRD more than the page to know whether more follow. */
  for (guint i = 0; i < infos->len && i < (guint64) call->limit; i++)
    {
      last = g_ptr_array_index (infos, i);
      json_builder_begin_object (builder);
      add_info (builder, last);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "nextAfter");
  if (infos->len > (guint64) call->limit)
    {
      g_autofree char *cursor =
          g_strdup_printf ("%" G_GINT64_FORMAT ".%s", last->created_at, last->id);

      json_builder_add_string_value (builder, cursor);
    }
  else
    json_builder_add_null_value (builder);
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  prd_hub_rest_respond_json (call->msg, SOUP_STATUS_OK, node);
  list_call_finish (call);
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
create (Routes *routes, Call *call)
{
  SoupMessageBody *body = soup_server_message_get_request_body (call->msg);
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  JsonNode *title, *content;
  JsonObject *object;

  if (call->identity->role == PRD_ROLE_VIEWER)
    {
      prd_hub_rest_respond_error_literal (call->msg, PRD_ERROR_FORBIDDEN,
                                          "Viewers cannot create PRDs");
      call_free (call);
      return;
    }
  root = prd_json_parse (g_bytes_get_data (bytes, NULL), (gssize) g_bytes_get_size (bytes),
                         G_MAXSIZE, &error);
  if (root == NULL)
    {
      g_autofree char *message =
          g_strdup_printf ("The body is not usable JSON: %s", error->message);

      prd_hub_rest_respond_error_literal (call->msg, PRD_ERROR_INVALID_PAYLOAD, message);
      call_free (call);
      return;
    }
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      prd_hub_rest_respond_error_literal (call->msg, PRD_ERROR_INVALID_PAYLOAD,
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
      prd_hub_rest_respond_error_literal (call->msg, PRD_ERROR_INVALID_PAYLOAD,
                                          "content must be a string");
      call_free (call);
      return;
    }
  if (content != NULL && JSON_NODE_HOLDS_VALUE (content) &&
      !prd_hub_check_content_size (json_node_get_string (content), routes->max_document_size,
                                   &error))
    {
      prd_hub_rest_respond_error (call->msg, error);
      call_free (call);
      return;
    }
  if (content != NULL && JSON_NODE_HOLDS_VALUE (content) &&
      !prd_utf16_length (json_node_get_string (content), &call->units))
    call->units = 0; /* not UTF-8: refused by the creation */
  /* The content is one insert of the hub's site, kept for ever: weighed as
   * a content-update's insert is (`[collab] insert-units-per-event`), so
   * that the rate limit bounds how fast one user fills the store. Taken
   * now, not once the PRD exists, or a burst of creations would all be let
   * in before the first is counted. */
  if (call->units >= routes->insert_units)
    prd_hub_rest_charge_write (routes->rest, call->identity, call->units / routes->insert_units);
  soup_server_message_pause (call->msg);
  prd_hub_create_prd_as_async (
      routes->store, call->identity->org, json_node_get_string (title), call->identity->user_id,
      call->identity->name,
      content != NULL && JSON_NODE_HOLDS_VALUE (content) ? json_node_get_string (content) : NULL,
      NULL, on_created, call);
}

/* A cursor of the list (nextAfter): the last PRD's `created_at`, a dot and its id. */
static gboolean
parse_list_cursor (const char *text, gint64 *created_at, char **prd_id)
{
  const char *dot = text != NULL ? strchr (text, '.') : NULL;
  g_autofree char *number = NULL;
  gint64 value;

  if (dot == NULL || dot == text)
    return FALSE;
  number = g_strndup (text, dot - text);
  if (!g_ascii_string_to_signed (number, 10, 0, G_MAXINT64, &value, NULL) ||
      !prd_store_validate_prd_id (dot + 1, NULL))
    return FALSE;
  *created_at = value;
  *prd_id = g_strdup (dot + 1);
  return TRUE;
}

static void
handle_list (SoupServerMessage *msg,
             const PrdIdentity *identity,
             const char *const *params,
             GHashTable *query,
             gpointer user_data)
{
  Routes *routes = user_data;
  const char *archived = query != NULL ? g_hash_table_lookup (query, "archived") : NULL;
  const char *after = query != NULL ? g_hash_table_lookup (query, "after") : NULL;
  g_autofree char *after_id = NULL;
  gint64 after_created_at = 0;
  gint64 limit = PRD_HUB_REST_PRDS_DEFAULT_LIMIT;
  PrdManageListWhich which;
  ListCall *call;

  if (archived == NULL || g_str_equal (archived, "false"))
    which = PRD_MANAGE_LIST_ACTIVE;
  else if (g_str_equal (archived, "true"))
    which = PRD_MANAGE_LIST_ARCHIVED;
  else if (g_str_equal (archived, "all"))
    which = PRD_MANAGE_LIST_ALL;
  else
    {
      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD,
                                          "archived must be false, true or all");
      return;
    }
  if (!prd_hub_rest_query_count (msg, query, "limit", PRD_HUB_REST_PRDS_MAX_LIMIT, NULL, &limit))
    return;
  if (after != NULL && !parse_list_cursor (after, &after_created_at, &after_id))
    {
      prd_hub_rest_respond_error_literal (
          msg, PRD_ERROR_INVALID_PAYLOAD,
          "after must be a cursor (nextAfter of the previous page)");
      return;
    }
  call = g_new0 (ListCall, 1);
  call->msg = g_object_ref (msg);
  call->limit = limit;
  soup_server_message_pause (msg);
  /* One PRD more than the page, to know whether more follow. The store is
   * the hub's SQLite store, which manages PRDs too (prd-hub.c). */
  prd_manage_store_list_page_async (PRD_MANAGE_STORE (routes->store), identity->org, which,
                                    after_created_at, after_id, (guint) limit + 1, NULL, on_listed,
                                    call);
}

static void
handle_create (SoupServerMessage *msg,
               const PrdIdentity *identity,
               const char *const *params,
               GHashTable *query,
               gpointer user_data)
{
  create (user_data, call_new (msg, identity));
}

static void
load (SoupServerMessage *msg,
      const PrdIdentity *identity,
      const char *prd_id,
      gboolean export,
      Routes *routes)
{
  Call *call = call_new (msg, identity);
  PrdDocument *document;

  call->prd_id = g_strdup (prd_id);
  call->export = export;
  call->rooms = g_object_ref (routes->rooms);
  call->texts = prd_hub_answer_cache_ref (routes->texts);
  call->contents = prd_hub_answer_cache_ref (routes->contents);
  soup_server_message_pause (msg);
  document = prd_hub_room_registry_peek_document (routes->rooms, prd_id);
  /* Open in the caller's organization: the store gives its metadata. Any
   * other PRD, another organization's open one included, takes the path
   * an unknown id takes (the read queue, its 429, the metadata lookup):
   * answered from the open room at once, it told that the id was a PRD
   * another organization had open. */
  if (document != NULL && g_str_equal (prd_document_get_org (document), identity->org))
    prd_store_get_async (routes->store, call->prd_id, NULL, on_info, call);
  else
    prd_hub_room_registry_load_document_async (routes->rooms, call->prd_id, identity->org, NULL,
                                               on_built, call);
}

static void
handle_get (SoupServerMessage *msg,
            const PrdIdentity *identity,
            const char *const *params,
            GHashTable *query,
            gpointer user_data)
{
  load (msg, identity, params[0], FALSE, user_data);
}

static void
handle_export (SoupServerMessage *msg,
               const PrdIdentity *identity,
               const char *const *params,
               GHashTable *query,
               gpointer user_data)
{
  load (msg, identity, params[0], TRUE, user_data);
}

static const PrdHubRouteEntry prds_routes[] = {
  { "GET", "/api/prds", handle_list },
  { "POST", "/api/prds", handle_create, PRD_HUB_ROUTE_READS_BODY },
  { "GET", "/api/prds/{prd}", handle_get },
  { "GET", "/api/prds/{prd}/export.md", handle_export },
};

/**
 * prd_hub_rest_prds_add:
 * @store: where the PRDs are
 * @rooms: the open rooms, which answer reads of their PRDs and build the
 *   others' documents
 * @max_document_size: the longest content a new PRD may have (UTF-16 code
 *   units)
 *
 * Adds the PRDs' routes to @rest.
 */
void
prd_hub_rest_prds_add (PrdHubRest *rest,
                       PrdStore *store,
                       PrdHubRoomRegistry *rooms,
                       guint max_document_size)
{
  Routes *routes;

  g_return_if_fail (PRD_IS_HUB_REST (rest));
  g_return_if_fail (PRD_IS_STORE (store));
  g_return_if_fail (PRD_IS_HUB_ROOM_REGISTRY (rooms));

  routes = g_new0 (Routes, 1);
  routes->store = g_object_ref (store);
  routes->rooms = g_object_ref (rooms);
  routes->rest = rest;
  routes->texts = prd_hub_answer_cache_new (MAX_TEXTS, MAX_TEXT_BYTES);
  routes->contents = prd_hub_answer_cache_new (MAX_TEXTS, MAX_TEXT_BYTES);
  routes->insert_units =
      prd_hub_config_get_collab (prd_hub_room_registry_get_config (rooms))->insert_units;
  routes->max_document_size = max_document_size;
  prd_hub_rest_add_routes (rest, prds_routes, G_N_ELEMENTS (prds_routes), routes,
                           (GDestroyNotify) routes_free);
}
