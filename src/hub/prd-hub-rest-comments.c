/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The comments' REST route (on the router of prd-hub-rest.c):
 *
 *   GET /api/prds/{id}/comments   {prdId, comments}: the open comments,
 *                                 oldest first, placed in the current text
 *
 * An open room's document places them; else the PRD's document is built
 * from the store off the main thread (the store also decides whether the
 * caller's organization may see it): comments are anchored to the CRDT's
 * characters, so placing them needs the document. The answer is kept
 * until the comments or the text change (prd_hub_comments_get_open_answer()).
 */
#define G_LOG_DOMAIN "prd-hub-rest-comments"

#include "config.h"

#include "prd-error.h"
#include "prd-hub-announce.h"

#include "prd-hub-rest-comments.h"

typedef struct
{
  PrdHubComments *comments;  /* (owned) */
  PrdHubRoomRegistry *rooms; /* (owned) */
  PrdStore *store;           /* (owned) */
} Routes;

static void
routes_free (Routes *routes)
{
  g_clear_object (&routes->comments);
  g_clear_object (&routes->rooms);
  g_clear_object (&routes->store);
  g_free (routes);
}

typedef struct
{
  PrdHubComments *comments;  /* (owned) */
  PrdHubRoomRegistry *rooms; /* (owned) */
  SoupServerMessage *msg;    /* (owned) */
  char *org;
  char *prd_id;
} Call;

static void
call_finish (Call *call)
{
  soup_server_message_unpause (call->msg);
  g_clear_object (&call->comments);
  g_clear_object (&call->rooms);
  g_clear_object (&call->msg);
  g_free (call->org);
  g_free (call->prd_id);
  g_free (call);
}

static void
respond_comments (Call *call, PrdDocument *document)
{
  g_autoptr (GBytes) body =
      prd_hub_comments_get_open_answer (call->comments, call->prd_id, document);

  prd_hub_rest_respond_json_bytes (call->msg, SOUP_STATUS_OK, body);
}

static void
on_prd_loaded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  g_autoptr (PrdDocument) document = NULL;
  g_autoptr (GError) error = NULL;

  document = prd_hub_room_registry_load_document_finish (PRD_HUB_ROOM_REGISTRY (source), result,
                                                         NULL, NULL, NULL, &error);
  if (document == NULL)
    {
      if (g_error_matches (error, PRD_ERROR, PRD_ERROR_RATE_LIMITED))
        {
          g_autofree char *retry = g_strdup_printf ("%d", PRD_HUB_ROOM_REGISTRY_RETRY_LOAD);

          soup_message_headers_replace (soup_server_message_get_response_headers (call->msg),
                                        "Retry-After", retry);
        }
      prd_hub_rest_respond_error (call->msg, error);
    }
  else
    respond_comments (call, document);
  call_finish (call);
}

static void
handle_comments (SoupServerMessage *msg,
                 const PrdIdentity *identity,
                 const char *const *params,
                 GHashTable *query,
                 gpointer user_data)
{
  Routes *routes = user_data;
  const char *prd_id = params[0];
  PrdDocument *document;
  Call *call;

  call = g_new0 (Call, 1);
  call->comments = g_object_ref (routes->comments);
  call->rooms = g_object_ref (routes->rooms);
  call->msg = g_object_ref (msg);
  call->org = g_strdup (identity->org);
  call->prd_id = g_strdup (prd_id);
  soup_server_message_pause (msg);
  document = prd_hub_room_registry_peek_document (routes->rooms, prd_id);
  if (document != NULL && g_str_equal (prd_document_get_org (document), identity->org))
    {
      respond_comments (call, document);
      call_finish (call);
      return;
    }
  /* Not open (or another organization's): the store decides. */
  prd_hub_room_registry_load_document_async (routes->rooms, prd_id, identity->org, NULL,
                                             on_prd_loaded, call);
}

static const PrdHubRouteEntry comments_routes[] = {
  { "GET", "/api/prds/{prd}/comments", handle_comments },
};

/**
 * prd_hub_rest_comments_add:
 * @comments: the comments feature, which holds the comments
 * @rooms: the open rooms (an open PRD's current text places the comments)
 * @store: where the PRDs are
 *
 * Adds `GET /api/prds/{id}/comments` to @rest.
 */
void
prd_hub_rest_comments_add (PrdHubRest *rest,
                           PrdHubComments *comments,
                           PrdHubRoomRegistry *rooms,
                           PrdStore *store)
{
  Routes *routes;

  g_return_if_fail (PRD_IS_HUB_REST (rest));
  g_return_if_fail (PRD_IS_HUB_COMMENTS (comments));
  g_return_if_fail (PRD_IS_HUB_ROOM_REGISTRY (rooms));
  g_return_if_fail (PRD_IS_STORE (store));

  routes = g_new0 (Routes, 1);
  routes->comments = g_object_ref (comments);
  routes->rooms = g_object_ref (rooms);
  routes->store = g_object_ref (store);
  prd_hub_rest_add_routes (rest, comments_routes, G_N_ELEMENTS (comments_routes), routes,
                           (GDestroyNotify) routes_free);
}
