/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The activity feed's REST route (on the router of prd-hub-rest.c):
 *
 *   GET /api/activity?organizationId=&limit=&before=
 *       {organizationId, activities, nextBefore}: newest first, a page at a
 *       time; `nextBefore` is the cursor of the next page, or null
 */
#define G_LOG_DOMAIN "prd-hub-rest-activity"

#include "config.h"

#include "prd-error.h"
#include "prd-hub-announce.h"

#include "prd-hub-rest-activity.h"

typedef struct
{
  SoupServerMessage *msg; /* (owned) */
  char *org;
  gint64 limit;
} Call;

static void
call_finish (Call *call)
{
  soup_server_message_unpause (call->msg);
  g_clear_object (&call->msg);
  g_free (call->org);
  g_free (call);
}

static void
on_activity_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Call *call = user_data;
  g_autoptr (GPtrArray) page = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonObject *object;
  JsonArray *activities;
  gint64 last = 0;

  page =
      prd_notification_store_list_activity_finish (PRD_NOTIFICATION_STORE (source), result, &error);
  if (page == NULL)
    {
      prd_hub_rest_respond_error (call->msg, error);
      call_finish (call);
      return;
    }
  object = json_object_new ();
  activities = json_array_new ();
  /* The query reads one row more than the page to know whether more follow. */
  for (guint i = 0; i < page->len && i < (guint64) call->limit; i++)
    {
      PrdActivityRecord *record = g_ptr_array_index (page, i);
      JsonNode *activity = prd_hub_payload_parse (record->payload);

      last = record->seq;
      if (activity != NULL)
        json_array_add_element (activities, activity);
    }
  json_object_set_string_member (object, "organizationId", call->org);
  json_object_set_array_member (object, "activities", activities);
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
handle_activity (SoupServerMessage *msg,
                 const PrdIdentity *identity,
                 const char *const *params,
                 GHashTable *query,
                 gpointer user_data)
{
  PrdNotificationStore *feed = user_data;
  const char *org;
  gint64 before_seq = G_MAXINT64, limit = PRD_HUB_ACTIVITY_DEFAULT_LIMIT;
  Call *call;

  org = query != NULL ? g_hash_table_lookup (query, "organizationId") : NULL;
  if (org == NULL)
    {
      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_INVALID_PAYLOAD,
                                          "organizationId is required");
      return;
    }
  if (!g_str_equal (org, identity->org))
    {
      prd_hub_rest_respond_error_literal (msg, PRD_ERROR_FORBIDDEN,
                                          "organizationId must be your own organization");
      return;
    }
  if (!prd_hub_rest_query_count (msg, query, "limit", PRD_HUB_ACTIVITY_MAX_LIMIT, NULL, &limit) ||
      !prd_hub_rest_query_count (msg, query, "before", G_MAXINT64,
                                 "before must be a cursor (nextBefore of the previous page)",
                                 &before_seq))
    return;
  call = g_new0 (Call, 1);
  call->msg = g_object_ref (msg);
  call->org = g_strdup (identity->org);
  call->limit = limit;
  soup_server_message_pause (msg);
  /* One entry more than the page, to know whether more follow. */
  prd_notification_store_list_activity_async (feed, identity->org, before_seq, (guint) limit + 1,
                                              NULL, on_activity_read, call);
}

static const PrdHubRouteEntry activity_routes[] = {
  { "GET", "/api/activity", handle_activity },
};

/**
 * prd_hub_rest_activity_add:
 * @feed: where the activity feed is kept
 *
 * Adds `GET /api/activity` to @rest.
 */
void
prd_hub_rest_activity_add (PrdHubRest *rest, PrdNotificationStore *feed)
{
  g_return_if_fail (PRD_IS_HUB_REST (rest));
  g_return_if_fail (PRD_IS_NOTIFICATION_STORE (feed));

  prd_hub_rest_add_routes (rest, activity_routes, G_N_ELEMENTS (activity_routes),
                           g_object_ref (feed), g_object_unref);
}
