/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Managing PRDs over REST (on the router of prd-hub-rest.c; the rules are
 * in prd-hub-manage.c):
 *
 *   PATCH  /api/prds/{id}   {title?, archived?} → 200 the PRD
 *   DELETE /api/prds/{id}[?purgeVersions=true]  → 200 {prdId, deleted, purgedVersions}
 */
#define G_LOG_DOMAIN "prd-hub-rest-manage"

#include "config.h"

#include "prd-error.h"
#include "prd-hub-room.h"
#include "prd-json.h"

#include "prd-hub-rest-manage.h"

typedef struct
{
  SoupServerMessage *msg; /* (owned) */
  char *prd_id;
} Call;

static Call *
call_new (SoupServerMessage *msg, const char *prd_id)
{
  Call *call = g_new0 (Call, 1);

  call->msg = g_object_ref (msg);
  call->prd_id = g_strdup (prd_id);
  soup_server_message_pause (msg);
  return call;
}

static void
call_finish (Call *call)
{
  soup_server_message_unpause (call->msg);
  g_clear_object (&call->msg);
  g_free (call->prd_id);
  g_free (call);
}

static void
on_updated (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonBuilder) builder = NULL;
  g_autoptr (JsonNode) node = NULL;

  info = prd_hub_manage_update_finish (PRD_HUB_MANAGE (source), result, &error);
  if (info == NULL)
    {
      prd_hub_rest_respond_error (call->msg, error);
      call_finish (call);
      return;
    }
  builder = json_builder_new ();
  json_builder_begin_object (builder);
  prd_hub_add_prd_info (builder, info);
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  prd_hub_rest_respond_json (call->msg, SOUP_STATUS_OK, node);
  call_finish (call);
}

/* The body's size was checked before it was read (prd_hub_rest_check_headers()). */
static void
handle_patch (SoupServerMessage *msg,
              const PrdIdentity *identity,
              const char *const *params,
              GHashTable *query,
              gpointer user_data)
{
  PrdHubManage *manage = user_data;
  g_autoptr (GBytes) bytes = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) error = NULL;
  PrdManageArchive archive = PRD_MANAGE_ARCHIVE_KEEP;
  const char *title = NULL;
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;
  JsonObject *object;

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
  object = json_node_get_object (root);
  json_object_iter_init (&iter, object);
  while (json_object_iter_next (&iter, &name, &member))
    {
      /* null is an absent member, as on sockets: {archived: null} alone is
       * an empty patch. */
      if (JSON_NODE_HOLDS_NULL (member) &&
          (g_str_equal (name, "title") || g_str_equal (name, "archived")))
        continue;
      if (g_str_equal (name, "title"))
        {
          if (!JSON_NODE_HOLDS_VALUE (member) || json_node_get_value_type (member) != G_TYPE_STRING)
            {
              prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD,
                                                  "title must be a string");
              return;
            }
          title = json_node_get_string (member);
          if (!prd_store_validate_title (title, &error))
            {
              prd_hub_rest_respond_error (msg, error);
              return;
            }
        }
      else if (g_str_equal (name, "archived"))
        {
          if (!JSON_NODE_HOLDS_VALUE (member) ||
              json_node_get_value_type (member) != G_TYPE_BOOLEAN)
            {
              prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD,
                                                  "archived must be true or false");
              return;
            }
          archive =
              json_node_get_boolean (member) ? PRD_MANAGE_ARCHIVE_SET : PRD_MANAGE_ARCHIVE_CLEAR;
        }
      else
        {
          g_autofree char *valid = g_utf8_make_valid (name, -1);
          g_autofree char *message = g_strdup_printf (
              "Unknown member \"%.64s\" (a PRD's title and archived can be changed)", valid);

          prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD, message);
          return;
        }
    }
  if (title == NULL && archive == PRD_MANAGE_ARCHIVE_KEEP)
    {
      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD,
                                          "Nothing to change: give title and/or archived");
      return;
    }
  prd_hub_manage_update_async (manage, identity, params[0], title, archive, NULL, on_updated,
                               call_new (msg, params[0]));
}

static void
on_deleted (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonBuilder) builder = NULL;
  g_autoptr (JsonNode) node = NULL;
  guint purged = 0;

  if (!prd_hub_manage_delete_finish (PRD_HUB_MANAGE (source), result, &purged, &error))
    {
      prd_hub_rest_respond_error (call->msg, error);
      call_finish (call);
      return;
    }
  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "prdId");
  json_builder_add_string_value (builder, call->prd_id);
  json_builder_set_member_name (builder, "deleted");
  json_builder_add_boolean_value (builder, TRUE);
  json_builder_set_member_name (builder, "purgedVersions");
  json_builder_add_int_value (builder, purged);
  json_builder_end_object (builder);
  node = json_builder_get_root (builder);
  prd_hub_rest_respond_json (call->msg, SOUP_STATUS_OK, node);
  call_finish (call);
}

static void
handle_delete (SoupServerMessage *msg,
               const PrdIdentity *identity,
               const char *const *params,
               GHashTable *query,
               gpointer user_data)
{
  PrdHubManage *manage = user_data;
  const char *purge = query != NULL ? g_hash_table_lookup (query, "purgeVersions") : NULL;
  GHashTableIter iter;
  gpointer key;

  if (query != NULL)
    {
      g_hash_table_iter_init (&iter, query);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        if (!g_str_equal (key, "purgeVersions"))
          {
            g_autofree char *valid = g_utf8_make_valid (key, -1);
            g_autofree char *message =
                g_strdup_printf ("Unknown parameter \"%.64s\" (purgeVersions only)", valid);

            prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD, message);
            return;
          }
    }
  if (purge != NULL && !g_str_equal (purge, "true") && !g_str_equal (purge, "false"))
    {
      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD,
                                          "purgeVersions must be true or false");
      return;
    }
  prd_hub_manage_delete_async (manage, identity, params[0],
                               purge != NULL && g_str_equal (purge, "true"), NULL, on_deleted,
                               call_new (msg, params[0]));
}

static const PrdHubRouteEntry manage_routes[] = {
  { "PATCH", "/api/prds/{prd}", handle_patch, PRD_HUB_ROUTE_READS_BODY },
  { "DELETE", "/api/prds/{prd}", handle_delete },
};

/**
 * prd_hub_rest_manage_add:
 *
 * Adds `PATCH` and `DELETE /api/prds/{id}` to @rest.
 */
void
prd_hub_rest_manage_add (PrdHubRest *rest, PrdHubManage *manage)
{
  g_return_if_fail (PRD_IS_HUB_REST (rest));
  g_return_if_fail (PRD_IS_HUB_MANAGE (manage));

  prd_hub_rest_add_routes (rest, manage_routes, G_N_ELEMENTS (manage_routes), g_object_ref (manage),
                           g_object_unref);
}
