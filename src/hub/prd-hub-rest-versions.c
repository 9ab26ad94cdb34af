/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The versions' REST routes (on the router of prd-hub-rest.c):
 *
 *   GET /api/prds/{id}/versions[?limit=N][&after=CURSOR]
 *                                           {prdId, versions, nextAfter}: a
 *                                           page of them, oldest first
 *   GET /api/prds/{id}/versions/{version}   that version's Markdown
 *   GET /api/prds/{id}/diff?from=&to=       a unified diff of two versions
 *   POST /api/prds/{id}/versions {changelog, versionType?, force?}
 *                                           → 201 the new version
 * (prd_hub_versions_create_as_async())
 */
#define G_LOG_DOMAIN "prd-hub-rest-versions"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-hub-versions.h"
#include "prd-json.h"

#include "prd-hub-rest-versions.h"

typedef struct
{
  PrdStore *store;           /* (owned) */
  PrdVersionStore *versions; /* (owned) */
  PrdGitRepo *repo;          /* (owned) */
} Routes;

static void
routes_free (Routes *routes)
{
  g_clear_object (&routes->store);
  g_clear_object (&routes->versions);
  g_clear_object (&routes->repo);
  g_free (routes);
}

typedef enum
{
  ROUTE_LIST,
  ROUTE_READ,
  ROUTE_DIFF,
} Route;

typedef struct
{
  PrdStore *store;           /* (owned) */
  PrdVersionStore *versions; /* (owned) */
  PrdGitRepo *repo;          /* (owned) */
  SoupServerMessage *msg;    /* (owned) */
  char *org;
  char *prd_id;
  Route route;
  char *version;
  char *to_version;
  gint64 after; /* ROUTE_LIST: the cursor (0: the first page) */
  gint64 limit; /* ROUTE_LIST: the page's size */
} Call;

static void
call_free (Call *call)
{
  g_clear_object (&call->store);
  g_clear_object (&call->versions);
  g_clear_object (&call->repo);
  g_clear_object (&call->msg);
  g_free (call->org);
  g_free (call->prd_id);
  g_free (call->version);
  g_free (call->to_version);
  g_free (call);
}

static void
call_fail (Call *call, const GError *error)
{
  prd_hub_rest_respond_error (call->msg, error);
  soup_server_message_unpause (call->msg);
  call_free (call);
}

static void
respond_text (Call *call, const char *content_type, char *text)
{
  gsize len = strlen (text);

  soup_server_message_set_status (call->msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (call->msg, content_type, SOUP_MEMORY_TAKE, text, len);
  soup_server_message_unpause (call->msg);
  call_free (call);
}

static void
on_rest_listed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) records = NULL;
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  JsonObject *object;
  JsonArray *array;

  records = prd_version_store_list_page_finish (PRD_VERSION_STORE (source), result, &error);
  if (records == NULL)
    {
      call_fail (call, error);
      return;
    }
  object = json_object_new ();
  json_node_take_object (node, object);
  json_object_set_string_member (object, "prdId", call->prd_id);
  array = json_array_new ();
  /* The query reads one version more than the page to know whether more follow. */
  for (guint i = 0; i < records->len && i < (guint64) call->limit; i++)
    {
      PrdVersionRecord *record = g_ptr_array_index (records, i);

      json_array_add_element (array, prd_hub_version_to_json (record));
    }
  json_object_set_array_member (object, "versions", array);
  if (records->len > (guint64) call->limit)
    {
      /* How many of the PRD's versions were listed so far: its versions
       * are only ever added at the end, and the number tells nothing of
       * other PRDs' (a row number would). */
      g_autofree char *cursor = g_strdup_printf ("%" G_GINT64_FORMAT, call->after + call->limit);

      json_object_set_string_member (object, "nextAfter", cursor);
    }
  else
    json_object_set_null_member (object, "nextAfter");
  prd_hub_rest_respond_json (call->msg, SOUP_STATUS_OK, node);
  soup_server_message_unpause (call->msg);
  call_free (call);
}

static void
on_rest_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  g_autoptr (GError) error = NULL;
  char *text = prd_git_repo_read_finish (PRD_GIT_REPO (source), result, &error);

  if (text == NULL)
    call_fail (call, error);
  else
    respond_text (call, "text/markdown; charset=utf-8", text);
}

static void
on_rest_diff (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  g_autoptr (GError) error = NULL;
  char *text = prd_git_repo_diff_finish (PRD_GIT_REPO (source), result, &error);

  if (text == NULL)
    call_fail (call, error);
  else
    respond_text (call, "text/x-diff; charset=utf-8", text);
}

static void
on_rest_info (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdStoreInfo) info = prd_store_get_finish (PRD_STORE (source), result, &error);

  if (info != NULL && !g_str_equal (info->org, call->org))
    {
      g_clear_pointer (&info, prd_store_info_free);
      g_propagate_error (&error, prd_error_new_prd_not_found (call->prd_id));
    }
  if (info == NULL)
    {
      if (g_error_matches (error, PRD_ERROR, PRD_ERROR_NOT_FOUND))
        error->code = PRD_ERROR_PRD_NOT_FOUND;
      call_fail (call, error);
      return;
    }
  switch (call->route)
    {
      case ROUTE_LIST:
        /* One version more than the page, to know whether more follow. */
        prd_version_store_list_page_async (call->versions, call->prd_id, call->after,
                                           (guint) call->limit + 1, NULL, on_rest_listed, call);
        break;
      case ROUTE_READ:
        prd_git_repo_read_async (call->repo, call->prd_id, call->version, NULL, on_rest_read, call);
        break;
      case ROUTE_DIFF:
        prd_git_repo_diff_async (call->repo, call->prd_id, call->version, call->to_version, NULL,
                                 on_rest_diff, call);
        break;
      default:
        g_assert_not_reached ();
    }
}

/* Checks the PRD (its organization's, or PRD_NOT_FOUND) before @route. */
static void
start (SoupServerMessage *msg,
       const PrdIdentity *identity,
       const char *prd_id,
       Routes *routes,
       Route route,
       const char *version,
       const char *to_version,
       gint64 after,
       gint64 limit)
{
  Call *call = g_new0 (Call, 1);

  call->store = g_object_ref (routes->store);
  call->versions = g_object_ref (routes->versions);
  call->repo = g_object_ref (routes->repo);
  call->msg = g_object_ref (msg);
  call->org = g_strdup (identity->org);
  call->prd_id = g_strdup (prd_id);
  call->route = route;
  call->version = g_strdup (version);
  call->to_version = g_strdup (to_version);
  call->after = after;
  call->limit = limit;
  soup_server_message_pause (msg);
  prd_store_get_async (call->store, call->prd_id, NULL, on_rest_info, call);
}

static void
handle_list (SoupServerMessage *msg,
             const PrdIdentity *identity,
             const char *const *params,
             GHashTable *query,
             gpointer user_data)
{
  gint64 limit = PRD_HUB_REST_VERSIONS_DEFAULT_LIMIT, after = 0;

  if (!prd_hub_rest_query_count (msg, query, "limit", PRD_HUB_REST_VERSIONS_MAX_LIMIT, NULL,
                                 &limit) ||
      !prd_hub_rest_query_count (msg, query, "after", G_MAXINT64,
                                 "after must be a cursor (nextAfter of the previous page)", &after))
    return;
  start (msg, identity, params[0], user_data, ROUTE_LIST, NULL, NULL, (gint64) after,
         (gint64) limit);
}

static void
handle_read (SoupServerMessage *msg,
             const PrdIdentity *identity,
             const char *const *params,
             GHashTable *query,
             gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  if (!prd_git_validate_version (params[1], &error))
    prd_hub_rest_respond_error (msg, error);
  else
    start (msg, identity, params[0], user_data, ROUTE_READ, params[1], NULL, 0, 0);
}

static void
handle_diff (SoupServerMessage *msg,
             const PrdIdentity *identity,
             const char *const *params,
             GHashTable *query,
             gpointer user_data)
{
  const char *from = query != NULL ? g_hash_table_lookup (query, "from") : NULL;
  const char *to = query != NULL ? g_hash_table_lookup (query, "to") : NULL;
  g_autoptr (GError) error = NULL;

  if (from == NULL || to == NULL)
    g_set_error_literal (&error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                         "The query parameters from and to (versions) are required");
  else if (prd_git_validate_version (from, &error) && prd_git_validate_version (to, &error))
    {
      start (msg, identity, params[0], user_data, ROUTE_DIFF, from, to, 0, 0);
      return;
    }
  prd_hub_rest_respond_error (msg, error);
}

static const PrdHubRouteEntry versions_routes[] = {
  { "GET", "/api/prds/{prd}/versions", handle_list },
  { "GET", "/api/prds/{prd}/versions/{version}", handle_read },
  { "GET", "/api/prds/{prd}/diff", handle_diff },
};

/**
 * prd_hub_rest_versions_add:
 * @store: where the PRDs are
 * @versions: the versions on record
 * @repo: the versions repository
 *
 * Adds the versions' routes to @rest.
 */
void
prd_hub_rest_versions_add (PrdHubRest *rest,
                           PrdStore *store,
                           PrdVersionStore *versions,
                           PrdGitRepo *repo)
{
  Routes *routes;

  g_return_if_fail (PRD_IS_HUB_REST (rest));
  g_return_if_fail (PRD_IS_STORE (store));
  g_return_if_fail (PRD_IS_VERSION_STORE (versions));
  g_return_if_fail (PRD_IS_GIT_REPO (repo));

  routes = g_new0 (Routes, 1);
  routes->store = g_object_ref (store);
  routes->versions = g_object_ref (versions);
  routes->repo = g_object_ref (repo);
  prd_hub_rest_add_routes (rest, versions_routes, G_N_ELEMENTS (versions_routes), routes,
                           (GDestroyNotify) routes_free);
}

/* ---- POST /api/prds/{id}/versions ---------------------------------------------- */

typedef struct
{
  SoupServerMessage *msg; /* (owned) */
  char *prd_id;
} Post;

static void
on_version_posted (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Post *post = user_data;
  g_autoptr (PrdVersionRecord) record = NULL;
  g_autoptr (GError) error = NULL;

  record = prd_hub_versions_create_as_finish (PRD_HUB_VERSIONS (source), result, &error);
  if (record == NULL)
    prd_hub_rest_respond_error (post->msg, error);
  else
    {
      g_autoptr (JsonNode) node = prd_hub_version_to_json (record);
      g_autofree char *location =
          g_strdup_printf ("/api/prds/%s/versions/%s", record->prd_id, record->version);

      soup_message_headers_replace (soup_server_message_get_response_headers (post->msg),
                                    "Location", location);
      prd_hub_rest_respond_json (post->msg, SOUP_STATUS_CREATED, node);
    }
  soup_server_message_unpause (post->msg);
  g_clear_object (&post->msg);
  g_free (post->prd_id);
  g_free (post);
}

/* The body's size was checked before it was read (prd_hub_rest_check_headers()). */
static void
handle_post (SoupServerMessage *msg,
             const PrdIdentity *identity,
             const char *const *params,
             GHashTable *query,
             gpointer user_data)
{
  PrdHubVersions *versions = user_data;
  g_autoptr (GBytes) bytes = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) error = NULL;
  const char *changelog = NULL, *type = "minor";
  gboolean force = FALSE;
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;
  Post *post;

  root = prd_json_parse (g_bytes_get_data (bytes, NULL), (gssize) g_bytes_get_size (bytes),
                         G_MAXSIZE, &error);
  if (root == NULL)
    {
      g_autofree char *message =
          g_strdup_printf ("The body is not usable JSON: %s", error->message);

      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD, message);
      return;
    }
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD,
                                          "The body must be a JSON object");
      return;
    }
  json_object_iter_init (&iter, json_node_get_object (root));
  while (json_object_iter_next (&iter, &name, &member))
    {
      gboolean is_string =
          JSON_NODE_HOLDS_VALUE (member) && json_node_get_value_type (member) == G_TYPE_STRING;

      /* null is an absent member, as on sockets (a null changelog is then
       * missing). */
      if (JSON_NODE_HOLDS_NULL (member) &&
          (g_str_equal (name, "changelog") || g_str_equal (name, "versionType") ||
           g_str_equal (name, "force")))
        continue;
      if (g_str_equal (name, "changelog") && is_string)
        changelog = json_node_get_string (member);
      else if (g_str_equal (name, "versionType") && is_string)
        type = json_node_get_string (member);
      else if (g_str_equal (name, "force") && JSON_NODE_HOLDS_VALUE (member) &&
               json_node_get_value_type (member) == G_TYPE_BOOLEAN)
        force = json_node_get_boolean (member);
      else
        {
          g_autofree char *valid = g_utf8_make_valid (name, -1);
          g_autofree char *message = g_strdup_printf (
              "Bad or unknown member \"%.64s\" (changelog: string, versionType: string, "
              "force: boolean)",
              valid);

          prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD, message);
          return;
        }
    }
  if (changelog == NULL)
    {
      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD, "changelog is required");
      return;
    }
  post = g_new0 (Post, 1);
  post->msg = g_object_ref (msg);
  post->prd_id = g_strdup (params[0]);
  soup_server_message_pause (msg);
  prd_hub_versions_create_as_async (versions, identity, params[0], changelog, type, force, NULL,
                                    on_version_posted, post);
}

static const PrdHubRouteEntry create_routes[] = {
  { "POST", "/api/prds/{prd}/versions", handle_post, PRD_HUB_ROUTE_READS_BODY },
};

/**
 * prd_hub_rest_versions_add_create:
 * @versions: the versions feature
 *
 * Adds `POST /api/prds/{id}/versions` to @rest.
 */
void
prd_hub_rest_versions_add_create (PrdHubRest *rest, PrdHubVersions *versions)
{
  g_return_if_fail (PRD_IS_HUB_REST (rest));
  g_return_if_fail (PRD_IS_HUB_VERSIONS (versions));

  prd_hub_rest_add_routes (rest, create_routes, G_N_ELEMENTS (create_routes),
                           g_object_ref (versions), g_object_unref);
}
