/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What a comment, a reply, a resolve, an approval, a new PRD or a new
 * version announces: the notifications (one per user) and the activities,
 * kept twice, as JSON objects to send and as records to store. The write
 * that stores a #PrdHubAnnounce is the feature's; sending it is the
 * notifications feature's (prd-hub-notifications.c), which hears of it
 * through a signal connected in prd-hub.c.
 */
#define G_LOG_DOMAIN "prd-hub-announce"

#include "config.h"

#include <string.h>

#include "prd-json.h"
#include "prd-time.h"

#include "prd-hub-announce.h"

G_DEFINE_BOXED_TYPE (PrdHubAnnounce, prd_hub_announce, prd_hub_announce_ref, prd_hub_announce_unref)

/**
 * prd_hub_announce_new:
 * @org: the organization
 *
 * Returns: (transfer full): an empty announce
 */
PrdHubAnnounce *
prd_hub_announce_new (const char *org)
{
  PrdHubAnnounce *self = g_new0 (PrdHubAnnounce, 1);

  g_atomic_ref_count_init (&self->ref_count);
  self->org = g_strdup (org);
  self->users = g_ptr_array_new_with_free_func (g_free);
  self->notifications = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  self->activities = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  self->notification_records =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_notification_record_free);
  self->activity_records =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_activity_record_free);
  return self;
}

PrdHubAnnounce *
prd_hub_announce_ref (PrdHubAnnounce *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
prd_hub_announce_unref (PrdHubAnnounce *self)
{
  g_return_if_fail (self != NULL);

  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_free (self->org);
  g_ptr_array_unref (self->users);
  g_ptr_array_unref (self->notifications);
  g_ptr_array_unref (self->activities);
  g_ptr_array_unref (self->notification_records);
  g_ptr_array_unref (self->activity_records);
  g_free (self);
}

/**
 * prd_hub_announce_notify:
 * @notification: (transfer full): from prd_hub_notification_new()
 *
 * Queues a notification for @user_id; a user already notified by this
 * announce is not notified again.
 */
void
prd_hub_announce_notify (PrdHubAnnounce *self, const char *user_id, JsonObject *notification)
{
  g_autofree char *payload = NULL;

  g_return_if_fail (self != NULL);

  for (guint i = 0; i < self->users->len; i++)
    if (g_str_equal (g_ptr_array_index (self->users, i), user_id))
      {
        json_object_unref (notification);
        return;
      }
  payload = prd_hub_object_to_string (notification);
  g_ptr_array_add (self->notification_records,
                   prd_notification_record_new (json_object_get_string_member (notification, "id"),
                                                user_id, self->org, payload));
  g_ptr_array_add (self->users, g_strdup (user_id));
  g_ptr_array_add (self->notifications, notification);
}

/**
 * prd_hub_announce_activity:
 * @activity: (transfer full): from prd_hub_activity_new()
 */
void
prd_hub_announce_activity (PrdHubAnnounce *self, JsonObject *activity)
{
  g_autofree char *payload = NULL;

  g_return_if_fail (self != NULL);

  payload = prd_hub_object_to_string (activity);
  g_ptr_array_add (
      self->activity_records,
      prd_activity_record_new (json_object_get_string_member (activity, "id"), self->org, payload));
  g_ptr_array_add (self->activities, activity);
}

typedef struct
{
  PrdHubAnnounce *announce; /* (owned) */
  GObject *instance;        /* (owned) */
  guint signal_id;
  char *who;
} Record;

static void
on_recorded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Record *record = user_data;
  g_autoptr (GError) error = NULL;

  if (prd_notification_store_record_finish (PRD_NOTIFICATION_STORE (source), result, &error))
    g_signal_emit (record->instance, record->signal_id, 0, record->announce);
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_warning ("Cannot record what %s announced: %s", record->who, error->message);
  g_object_unref (record->instance);
  prd_hub_announce_unref (record->announce);
  g_free (record->who);
  g_free (record);
}

/**
 * prd_hub_announce_record:
 * @feed: where notifications and activities are kept
 * @instance: (type GObject): the feature that announces
 * @signal_id: @instance's signal (one #PrdHubAnnounce argument) emitted once
 *   the rows are stored
 * @who: who announced, in words (for the warning when storing fails)
 *
 * Stores @self's notification and activity rows, then emits @signal_id on
 * @instance so that the hub delivers them. A failure is only logged.
 */
void
prd_hub_announce_record (PrdHubAnnounce *self,
                         PrdNotificationStore *feed,
                         gpointer instance,
                         guint signal_id,
                         const char *who,
                         GCancellable *cancellable)
{
  Record *data;

  g_return_if_fail (self != NULL);
  g_return_if_fail (G_IS_OBJECT (instance));

  data = g_new0 (Record, 1);
  data->announce = prd_hub_announce_ref (self);
  data->instance = g_object_ref (instance);
  data->signal_id = signal_id;
  data->who = g_strdup (who);
  prd_notification_store_record_async (feed, self->notification_records, self->activity_records,
                                       cancellable, on_recorded, data);
}

/* ---- the seed's shapes ------------------------------------------------------- */

/* Returns: (transfer full): the seed's notification object */
JsonObject *
prd_hub_notification_new (const char *type,
                          const char *title,
                          const char *message,
                          JsonObject *data)
{
  JsonObject *object = json_object_new ();
  g_autofree char *id = prd_hub_new_id ("notif_");
  g_autofree char *now = prd_time_format_now ();

  json_object_set_string_member (object, "id", id);
  json_object_set_string_member (object, "type", type);
  json_object_set_string_member (object, "title", title);
  json_object_set_string_member (object, "message", message);
  json_object_set_object_member (object, "data", data);
  json_object_set_string_member (object, "timestamp", now);
  return object;
}

/* Returns: (transfer full): the seed's `activity` object */
JsonObject *
prd_hub_activity_new (const char *type,
                      const char *actor_id,
                      const char *actor_name,
                      JsonObject *object)
{
  JsonObject *activity = json_object_new ();
  g_autofree char *id = prd_hub_new_id ("activity_");
  g_autofree char *now = prd_time_format_now ();

  json_object_set_string_member (activity, "id", id);
  json_object_set_string_member (activity, "type", type);
  json_object_set_object_member (activity, "actor", prd_hub_person_new (actor_id, actor_name));
  json_object_set_object_member (activity, "object", object);
  json_object_set_string_member (activity, "timestamp", now);
  return activity;
}

/* Returns: (transfer full): an activity's object `{type: 'prd', id, title}` */
JsonObject *
prd_hub_prd_object_new (const char *prd_id, const char *title)
{
  JsonObject *object = json_object_new ();

  json_object_set_string_member (object, "type", "prd");
  json_object_set_string_member (object, "id", prd_id);
  json_object_set_string_member (object, "title", title);
  return object;
}

/* Returns: (transfer full): `{id, name}` */
JsonObject *
prd_hub_person_new (const char *id, const char *name)
{
  JsonObject *object = json_object_new ();

  json_object_set_string_member (object, "id", id);
  json_object_set_string_member (object, "name", name);
  return object;
}

/* ---- small helpers ------------------------------------------------------------ */

/* Returns: (transfer full): @prefix and 32 hex digits */
char *
prd_hub_new_id (const char *prefix)
{
  g_autofree char *uuid = g_uuid_string_random ();
  GString *id = g_string_new (prefix);

  for (const char *p = uuid; *p != '\0'; p++)
    if (*p != '-')
      g_string_append_c (id, *p);
  return g_string_free (id, FALSE);
}

/* Whether @id is of the one form prd_hub_new_id() has always given:
 * @prefix and 32 lower-case hex digits. */
gboolean
prd_hub_id_is_valid (const char *id, const char *prefix)
{
  gsize len = strlen (prefix);

  if (!g_str_has_prefix (id, prefix) || strlen (id) != len + 32)
    return FALSE;
  for (const char *p = id + len; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p) && (*p < 'a' || *p > 'f'))
      return FALSE;
  return TRUE;
}

void
prd_hub_json_set_time (JsonObject *object, const char *member, gint64 usec)
{
  g_autofree char *text = prd_time_format (usec);

  json_object_set_string_member (object, member, text);
}

/* Returns: (transfer full): a node that took @object */
JsonNode *
prd_hub_object_node (JsonObject *object)
{
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  json_node_take_object (node, object);
  return node;
}

/* Returns: (transfer full): @object as compact JSON */
char *
prd_hub_object_to_string (JsonObject *object)
{
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);

  json_node_set_object (node, object);
  return prd_json_to_string (node);
}

/* Returns: (transfer full) (nullable): a stored payload, or %NULL */
JsonNode *
prd_hub_payload_parse (const char *text)
{
  if (text == NULL)
    return NULL;
  return prd_json_parse (text, -1, 0, NULL);
}
