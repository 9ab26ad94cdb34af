/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The caller's notifications over REST, for scripts (on the router of
 * prd-hub-rest.c; the live ones are `notification` events on
 * /notifications, prd-hub-notifications.c):
 *
 *   GET  /api/notifications?unread=&limit=&before=
 *        {notifications, nextBefore}: newest first, a page at a time
 *   POST /api/notifications/read {ids}  → {marked}, as `mark-read`
 */
#define G_LOG_DOMAIN "prd-hub-rest-notifications"

#include "config.h"

#include "prd-error.h"
#include "prd-hub-announce.h"
#include "prd-hub-notifications.h"
#include "prd-json.h"

#include "prd-hub-rest-notifications.h"

typedef struct
{
  SoupServerMessage *msg; /* (owned) */
  gint64 limit;
} Call;

static Call *
call_new (SoupServerMessage *msg, gint64 limit)
{
  Call *call = g_new0 (Call, 1);

  call->msg = g_object_ref (msg);
  call->limit = limit;
  soup_server_message_pause (msg);
  return call;
}

static void
call_finish (Call *call)
{
  soup_server_message_unpause (call->msg);
  g_clear_object (&call->msg);
  g_free (call);
}

static void
on_listed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  g_autoptr (GPtrArray) page = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonObject *object;
  JsonArray *notifications;
  gint64 last = 0;

  page = prd_notification_store_list_finish (PRD_NOTIFICATION_STORE (source), result, &error);
  if (page == NULL)
    {
      prd_hub_rest_respond_error (call->msg, error);
      call_finish (call);
      return;
    }
  object = json_object_new ();
  notifications = json_array_new ();
  /* The query reads one row more than the page to know whether more follow. */
  for (guint i = 0; i < page->len && i < (guint64) call->limit; i++)
    {
      PrdNotificationRecord *record = g_ptr_array_index (page, i);
      JsonNode *notification = prd_hub_payload_parse (record->payload);

      last = record->seq;
      if (notification == NULL || !JSON_NODE_HOLDS_OBJECT (notification))
        {
          g_clear_pointer (&notification, json_node_unref);
          continue;
        }
      json_object_set_boolean_member (json_node_get_object (notification), "read", record->read);
      json_array_add_element (notifications, notification);
    }
  json_object_set_array_member (object, "notifications", notifications);
  if (page->len > (guint64) call->limit)
    {
      g_autofree char *cursor = g_strdup_printf ("%" G_GINT64_FORMAT, last);

      json_object_set_string_member (object, "nextBefore", cursor);
    }
  else
    json_object_set_null_member (object, "nextBefore");
  node = prd_hub_object_node (object);
  prd_hub_rest_respond_json (call->msg, SOUP_STATUS_OK, node);
  call_finish (call);
}

static void
handle_list (SoupServerMessage *msg,
             const PrdIdentity *identity,
             const char *const *params,
             GHashTable *query,
             gpointer user_data)
{
  PrdNotificationStore *feed = user_data;
  const char *unread = query != NULL ? g_hash_table_lookup (query, "unread") : NULL;
  gint64 before_seq = G_MAXINT64, limit = PRD_HUB_REST_NOTIFICATIONS_DEFAULT_LIMIT;

  if (unread != NULL && !g_str_equal (unread, "true") && !g_str_equal (unread, "false"))
    {
      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD,
                                          "unread must be true or false");
      return;
    }
  if (!prd_hub_rest_query_count (msg, query, "limit", PRD_HUB_REST_NOTIFICATIONS_MAX_LIMIT, NULL,
                                 &limit) ||
      !prd_hub_rest_query_count (msg, query, "before", G_MAXINT64,
                                 "before must be a cursor (nextBefore of the previous page)",
                                 &before_seq))
    return;
  /* One entry more than the page, to know whether more follow. */
  prd_notification_store_list_async (feed, identity->org, identity->user_id,
                                     unread != NULL && g_str_equal (unread, "true"), before_seq,
                                     (guint) limit + 1, NULL, on_listed, call_new (msg, limit));
}

static void
on_marked (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonObject *object;
  gint64 marked;

  marked =
      prd_notification_store_mark_read_finish (PRD_NOTIFICATION_STORE (source), result, &error);
  if (marked < 0)
    {
      prd_hub_rest_respond_error (call->msg, error);
      call_finish (call);
      return;
    }
  object = json_object_new ();
  json_object_set_int_member (object, "marked", marked);
  node = prd_hub_object_node (object);
  prd_hub_rest_respond_json (call->msg, SOUP_STATUS_OK, node);
  call_finish (call);
}

/* The body's size was checked before it was read (prd_hub_rest_check_headers()). */
static void
handle_read (SoupServerMessage *msg,
             const PrdIdentity *identity,
             const char *const *params,
             GHashTable *query,
             gpointer user_data)
{
  PrdNotificationStore *feed = user_data;
  g_autoptr (GBytes) bytes = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) marked = NULL;
  JsonNode *ids_node;
  JsonArray *ids;
  guint n;

  root = prd_json_parse (g_bytes_get_data (bytes, NULL), (gssize) g_bytes_get_size (bytes),
                         G_MAXSIZE, &error);
  if (root == NULL)
    {
      g_autofree char *message =
          g_strdup_printf ("The body is not usable JSON: %s", error->message);

      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD, message);
      return;
    }
  ids_node = JSON_NODE_HOLDS_OBJECT (root)
                 ? json_object_get_member (json_node_get_object (root), "ids")
                 : NULL;
  if (ids_node == NULL || !JSON_NODE_HOLDS_ARRAY (ids_node) ||
      (n = json_array_get_length (ids = json_node_get_array (ids_node))) == 0 ||
      n > PRD_HUB_NOTIFICATIONS_MAX_MARK_READ)
    {
      g_autofree char *message =
          g_strdup_printf ("The body must be { ids: [ 1 to %d notification ids ] }",
                           PRD_HUB_NOTIFICATIONS_MAX_MARK_READ);

      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD, message);
      return;
    }
  marked = g_ptr_array_new ();
  for (guint i = 0; i < n; i++)
    {
      JsonNode *id = json_array_get_element (ids, i);

      if (!JSON_NODE_HOLDS_VALUE (id) || json_node_get_value_type (id) != G_TYPE_STRING ||
          !prd_hub_id_is_valid (json_node_get_string (id), "notif_"))
        {
          g_autofree char *message =
              g_strdup_printf ("ids[%u] must be a notification id (notif_…)", i);

          prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INVALID_ID, message);
          return;
        }
      g_ptr_array_add (marked, (gpointer) json_node_get_string (id));
    }
  g_ptr_array_add (marked, NULL);
  prd_notification_store_mark_read_async (feed, identity->org, identity->user_id,
                                          (const char *const *) marked->pdata, NULL, on_marked,
                                          call_new (msg, 0));
}

static const PrdHubRouteEntry notifications_routes[] = {
  { "GET", "/api/notifications", handle_list },
  { "POST", "/api/notifications/read", handle_read, PRD_HUB_ROUTE_READS_BODY },
};

/**
 * prd_hub_rest_notifications_add:
 * @feed: where notifications are kept
 *
 * Adds `GET /api/notifications` and `POST /api/notifications/read` to @rest.
 */
void
prd_hub_rest_notifications_add (PrdHubRest *rest, PrdNotificationStore *feed)
{
  g_return_if_fail (PRD_IS_HUB_REST (rest));
  g_return_if_fail (PRD_IS_NOTIFICATION_STORE (feed));

  prd_hub_rest_add_routes (rest, notifications_routes, G_N_ELEMENTS (notifications_routes),
                           g_object_ref (feed), g_object_unref);
}
