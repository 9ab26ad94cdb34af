/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Who is in which PRD now, for a list of PRDs (the web editor's PRD list),
 * on the router of prd-hub-rest.c:
 *
 *   GET /api/presence?prdIds=ID,ID,…
 *       {prds: {ID: [user, …], …}}: for each named PRD of the caller's
 *       organization that someone has open, its activeUsers as in
 *       `joined-prd` (userId, name, avatar, status, color, siteId?). PRDs
 *       nobody has open, unknown ones and other organizations' are left
 *       out alike. 1 to PRD_HUB_PRESENCE_MAX_IDS ids.
 *
 * Read from the open rooms in memory: no store work.
 */
#define G_LOG_DOMAIN "prd-hub-rest-presence"

#include "config.h"

#include "prd-error.h"
#include "prd-hub-room.h"
#include "prd-store.h"

#include "prd-hub-rest-presence.h"

static void
handle_presence (SoupServerMessage *msg,
                 const PrdIdentity *identity,
                 const char *const *params,
                 GHashTable *query,
                 gpointer user_data)
{
  PrdHubRoomRegistry *rooms = user_data;
  const char *list = query != NULL ? g_hash_table_lookup (query, "prdIds") : NULL;
  g_auto (GStrv) ids = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonObject *prds;
  JsonObject *object;
  guint n;

  if (list == NULL || *list == '\0')
    {
      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD,
                                          "prdIds (a comma-separated list of PRD ids) is required");
      return;
    }
  ids = g_strsplit (list, ",", -1);
  n = g_strv_length (ids);
  if (n > PRD_HUB_PRESENCE_MAX_IDS)
    {
      g_autofree char *message =
          g_strdup_printf ("prdIds names at most %d PRDs", PRD_HUB_PRESENCE_MAX_IDS);

      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD, message);
      return;
    }
  for (guint i = 0; i < n; i++)
    if (!prd_store_validate_prd_id (ids[i], &error))
      {
        prd_hub_rest_respond_error (msg, error);
        return;
      }

  prds = json_object_new ();
  for (guint i = 0; i < n; i++)
    {
      PrdHubRoom *room = prd_hub_room_registry_lookup (rooms, ids[i]);
      PrdRoom *members;

      if (room == NULL || !prd_hub_room_is_open (room) || json_object_has_member (prds, ids[i]) ||
          g_strcmp0 (prd_document_get_org (prd_hub_room_get_document (room)), identity->org) != 0)
        continue;
      members = prd_hub_room_get_members (room);
      if (prd_room_get_n_users (members) == 0)
        continue;
      json_object_set_member (prds, ids[i], prd_room_build_active_users (members));
    }
  object = json_object_new ();
  json_object_set_object_member (object, "prds", prds);
  node = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (node, object);
  prd_hub_rest_respond_json (msg, SOUP_STATUS_OK, node);
}

static const PrdHubRouteEntry presence_routes[] = {
  { "GET", "/api/presence", handle_presence },
};

/**
 * prd_hub_rest_presence_add:
 * @rooms: the open rooms of /prds
 *
 * Adds `GET /api/presence` to @rest.
 */
void
prd_hub_rest_presence_add (PrdHubRest *rest, PrdHubRoomRegistry *rooms)
{
  g_return_if_fail (PRD_IS_HUB_REST (rest));
  g_return_if_fail (PRD_IS_HUB_ROOM_REGISTRY (rooms));

  prd_hub_rest_add_routes (rest, presence_routes, G_N_ELEMENTS (presence_routes),
                           g_object_ref (rooms), g_object_unref);
}
