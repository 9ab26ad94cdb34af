/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Notifications and the activity feed on /notifications: `subscribe`
 * (the unread notifications, then the rooms), `mark-read`, and the live
 * delivery of what other features announce.
 *
 * Notifications and activities are only written and read (through
 * PrdNotificationStore, or with the change they announce), never held.
 * Notifications go to the Socket.IO room `user:<org>/<userId>`, activities
 * to `org:<org>`; `subscribe` joins them. Comments and approvals store
 * their announces with their change and tell prd-hub.c
 * (`notifications-recorded`), which hands them to
 * prd_hub_notifications_deliver(); new PRDs and versions are recorded here
 * (#PrdHubCreation::prd-created, #PrdHubVersions::version-created).
 */
#define G_LOG_DOMAIN "prd-hub-notifications"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-hub-context.h"
#include "prd-hub-room-registry.h"

#include "prd-hub-notifications.h"

/* The running feature of a feed, for records made without the hub at hand
 * (prd_hub_notifications_record_prd_created_async()). */
#define NOTIFICATIONS_KEY "prd-hub-notifications"

struct _PrdHubNotifications
{
  GObject parent_instance;

  PrdStore *store;            /* (owned) */
  PrdNotificationStore *feed; /* (owned) */
  PrdSioNamespace *nsp;       /* (unowned): weak pointer */
  GCancellable *cancellable;
};

G_DEFINE_FINAL_TYPE (PrdHubNotifications, prd_hub_notifications, G_TYPE_OBJECT)

enum
{
  SIGNAL_SUBSCRIBED,
  SIGNAL_RECORDED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* A user is (organization, user id). The organization's length keeps the
 * name unambiguous: "a/b" + "c" and "a" + "b/c" are two rooms. */
static char *
user_room (const char *org, const char *user_id)
{
  return g_strdup_printf ("user:%zu:%s/%s", strlen (org), org, user_id);
}

static char *
org_room (const char *org)
{
  return g_strconcat ("org:", org, NULL);
}

static void
deliver (PrdSioNamespace *nsp, PrdHubAnnounce *announce)
{
  if (nsp == NULL)
    return;
  for (guint i = 0; i < announce->notifications->len; i++)
    {
      g_autofree char *room = user_room (announce->org, g_ptr_array_index (announce->users, i));
      g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);

      json_node_set_object (node, g_ptr_array_index (announce->notifications, i));
      prd_sio_namespace_emit_one (nsp, room, NULL, "notification", node);
    }
  for (guint i = 0; i < announce->activities->len; i++)
    {
      g_autofree char *room = org_room (announce->org);
      JsonObject *update = json_object_new ();
      g_autoptr (JsonNode) node = NULL;

      json_object_set_string_member (update, "organizationId", announce->org);
      json_object_set_object_member (update, "activity",
                                     json_object_ref (g_ptr_array_index (announce->activities, i)));
      node = prd_hub_object_node (update);
      prd_sio_namespace_emit_one (nsp, room, NULL, "activity-update", node);
    }
}

/**
 * prd_hub_notifications_deliver:
 * @announce: what a committed write announced
 *
 * Sends the notifications of @announce to their users' rooms and its
 * activities to the organization's room (for `notifications-recorded`).
 */
void
prd_hub_notifications_deliver (PrdHubNotifications *self, PrdHubAnnounce *announce)
{
  g_return_if_fail (PRD_IS_HUB_NOTIFICATIONS (self));
  g_return_if_fail (announce != NULL);

  deliver (self->nsp, announce);
}

/* ---- /notifications ---------------------------------------------------------------- */

typedef struct
{
  PrdHubNotifications *self; /* (owned) */
  PrdSioSocket *socket;      /* (owned) */
  gint64 ack_id;
  char *org;
  char *user_id;
} Request;

static void
request_free (Request *request)
{
  g_clear_object (&request->self);
  g_clear_object (&request->socket);
  g_free (request->org);
  g_free (request->user_id);
  g_free (request);
}

static Request *
request_new (PrdHubNotifications *self, PrdSioSocket *socket, gint64 ack_id)
{
  const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
  Request *request = g_new0 (Request, 1);

  request->self = g_object_ref (self);
  request->socket = g_object_ref (socket);
  request->ack_id = ack_id;
  request->org = g_strdup (identity->org);
  request->user_id = g_strdup (identity->user_id);
  return request;
}

static void
on_unread (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Request *request = user_data;
  g_autoptr (GPtrArray) unread = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *user = NULL, *org = NULL;
  JsonObject *ack;

  unread =
      prd_notification_store_list_unread_finish (PRD_NOTIFICATION_STORE (source), result, &error);
  if (unread == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        prd_hub_reply_error (request->socket, request->ack_id, "subscribe", NULL, error);
      request_free (request);
      return;
    }
  if (!prd_sio_socket_is_connected (request->socket))
    {
      request_free (request);
      return;
    }
  /* One callback: nothing sent to the rooms can come between the unread
   * notifications and the join. */
  for (guint i = 0; i < unread->len; i++)
    {
      g_autoptr (JsonNode) node = prd_hub_payload_parse (
          ((PrdNotificationRecord *) g_ptr_array_index (unread, i))->payload);

      if (node != NULL)
        prd_sio_socket_emit_one (request->socket, "notification", node);
    }
  user = user_room (request->org, request->user_id);
  org = org_room (request->org);
  prd_sio_socket_join (request->socket, user);
  prd_sio_socket_join (request->socket, org);
  ack = json_object_new ();
  json_object_set_string_member (ack, "organizationId", request->org);
  json_object_set_int_member (ack, "unread", unread->len);
  prd_hub_reply_ok (request->socket, request->ack_id, ack);
  g_signal_emit (request->self, signals[SIGNAL_SUBSCRIBED], 0, request->socket);
  request_free (request);
}

static void
on_subscribe (PrdSioSocket *socket,
              const char *event,
              JsonArray *args,
              GPtrArray *attachments,
              gint64 ack_id,
              gpointer user_data)
{
  PrdHubNotifications *self = user_data;
  const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
  g_autoptr (GError) error = NULL;
  JsonObject *payload;
  const char *org;

  payload = prd_hub_payload_get_object (socket, event, args, ack_id);
  if (payload == NULL)
    return;
  org = prd_hub_json_get_string (payload, "organizationId", &error);
  if (org == NULL)
    {
      prd_hub_reply_error (socket, ack_id, event, NULL, error);
      return;
    }
  if (!g_str_equal (org, identity->org))
    {
      prd_hub_reply_error_literal (socket, ack_id, event, NULL, PRD_ERROR_FORBIDDEN,
                                   "organizationId must be your own organization");
      return;
    }
  prd_notification_store_list_unread_async (self->feed, identity->org, identity->user_id,
                                            PRD_HUB_NOTIFICATIONS_MAX_UNREAD, NULL, on_unread,
                                            request_new (self, socket, ack_id));
}

static void
on_marked (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Request *request = user_data;
  g_autoptr (GError) error = NULL;
  JsonObject *ack;
  gint64 marked;

  marked =
      prd_notification_store_mark_read_finish (PRD_NOTIFICATION_STORE (source), result, &error);
  if (marked < 0)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        prd_hub_reply_error (request->socket, request->ack_id, "mark-read", NULL, error);
      request_free (request);
      return;
    }
  ack = json_object_new ();
  json_object_set_int_member (ack, "marked", marked);
  prd_hub_reply_ok (request->socket, request->ack_id, ack);
  request_free (request);
}

static void
on_mark_read (PrdSioSocket *socket,
              const char *event,
              JsonArray *args,
              GPtrArray *attachments,
              gint64 ack_id,
              gpointer user_data)
{
  PrdHubNotifications *self = user_data;
  const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
  g_autoptr (GPtrArray) marked = NULL;
  JsonObject *payload;
  JsonNode *ids_node;
  JsonArray *ids;
  guint n;

  payload = prd_hub_payload_get_object (socket, event, args, ack_id);
  if (payload == NULL)
    return;
  ids_node = json_object_get_member (payload, "ids");
  if (ids_node == NULL || !JSON_NODE_HOLDS_ARRAY (ids_node) ||
      (n = json_array_get_length (ids = json_node_get_array (ids_node))) == 0 ||
      n > PRD_HUB_NOTIFICATIONS_MAX_MARK_READ)
    {
      g_autofree char *message = g_strdup_printf (
          "ids must be an array of 1 to %d notification ids", PRD_HUB_NOTIFICATIONS_MAX_MARK_READ);

      prd_hub_reply_error_literal (socket, ack_id, event, NULL, PRD_ERROR_INVALID_PAYLOAD, message);
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

          prd_hub_reply_error_literal (socket, ack_id, event, NULL, PRD_ERROR_INVALID_ID, message);
          return;
        }
      g_ptr_array_add (marked, (gpointer) json_node_get_string (id));
    }
  g_ptr_array_add (marked, NULL);
  prd_notification_store_mark_read_async (self->feed, identity->org, identity->user_id,
                                          (const char *const *) marked->pdata, NULL, on_marked,
                                          request_new (self, socket, ack_id));
}

/* ---- activities recorded here ----------------------------------------------------- */

static void
on_recorded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  PrdHubAnnounce *announce = g_task_get_task_data (task);
  PrdHubNotifications *self;

  if (!prd_notification_store_record_finish (PRD_NOTIFICATION_STORE (source), result, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  self = g_object_get_data (source, NOTIFICATIONS_KEY);
  if (self != NULL)
    {
      deliver (self->nsp, announce);
      g_signal_emit (self, signals[SIGNAL_RECORDED], 0, announce);
    }
  g_task_return_boolean (task, TRUE);
}

/**
 * prd_hub_notifications_record_prd_created_async:
 * @feed: where the activity feed is kept
 * @actor_name: (nullable): the creator's name (default: the owner id)
 *
 * Records a `prd_created` activity and, in a running hub, sends it to the
 * organization's room.
 */
void
prd_hub_notifications_record_prd_created_async (PrdNotificationStore *feed,
                                                const PrdStoreInfo *info,
                                                const char *actor_name,
                                                GCancellable *cancellable,
                                                GAsyncReadyCallback callback,
                                                gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  PrdHubAnnounce *announce;

  g_return_if_fail (PRD_IS_NOTIFICATION_STORE (feed));
  g_return_if_fail (info != NULL);

  task = g_task_new (feed, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_hub_notifications_record_prd_created_async);
  announce = prd_hub_announce_new (info->org);
  g_task_set_task_data (task, announce, (GDestroyNotify) prd_hub_announce_unref);
  prd_hub_announce_activity (announce,
                             prd_hub_activity_new ("prd_created", info->owner,
                                                   actor_name != NULL ? actor_name : info->owner,
                                                   prd_hub_prd_object_new (info->id, info->title)));
  prd_notification_store_record_async (feed, announce->notification_records,
                                       announce->activity_records, cancellable, on_recorded,
                                       g_steal_pointer (&task));
}

gboolean
prd_hub_notifications_record_prd_created_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* The store's answer for a version's rows; completes the caller's task. */
static void
on_version_recorded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

typedef struct
{
  PrdHubNotifications *self; /* (owned) */
  char *prd_id;
  char *org;
  char *title;
  char *version;
  char *actor_id;
  char *actor_name;
  GTask *task; /* (owned) (nullable): the caller's, until the rows are recorded */
} Version;

static void
version_free (Version *v)
{
  g_clear_object (&v->self);
  g_free (v->prd_id);
  g_free (v->org);
  g_free (v->title);
  g_free (v->version);
  g_free (v->actor_id);
  g_free (v->actor_name);
  g_clear_object (&v->task);
  g_free (v);
}

static void
record_version (Version *v, const char *const *editors)
{
  PrdHubNotifications *self = v->self;
  g_autoptr (GTask) task = NULL;
  JsonObject *object;
  PrdHubAnnounce *announce;

  task =
      g_task_new (self->feed, self->cancellable, on_version_recorded, g_steal_pointer (&v->task));
  announce = prd_hub_announce_new (v->org);
  g_task_set_task_data (task, announce, (GDestroyNotify) prd_hub_announce_unref);
  for (guint i = 0; editors != NULL && editors[i] != NULL; i++)
    {
      JsonObject *data;
      g_autofree char *message = NULL;

      if (g_str_equal (editors[i], v->actor_id) || g_str_equal (editors[i], PRD_HUB_SITE_USER))
        continue;
      data = json_object_new ();
      json_object_set_string_member (data, "prdId", v->prd_id);
      json_object_set_string_member (data, "version", v->version);
      json_object_set_string_member (data, "author", v->actor_name);
      message =
          g_strdup_printf ("%s created version %s of \"%s\"", v->actor_name, v->version, v->title);
      prd_hub_announce_notify (
          announce, editors[i],
          prd_hub_notification_new ("version_created", "New Version", message, data));
    }
  object = prd_hub_prd_object_new (v->prd_id, v->title);
  json_object_set_string_member (object, "version", v->version);
  prd_hub_announce_activity (
      announce, prd_hub_activity_new ("version_created", v->actor_id, v->actor_name, object));
  prd_notification_store_record_async (self->feed, announce->notification_records,
                                       announce->activity_records, self->cancellable, on_recorded,
                                       g_steal_pointer (&task));
}

static void
on_editors_listed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Version *v = user_data;
  g_autoptr (GPtrArray) sites = NULL;
  g_autoptr (GPtrArray) editors = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;

  sites = prd_store_list_sites_finish (PRD_STORE (source), result, &error);
  /* A PRD deleted right after its version was made has no editors left to
   * tell: no failure of the hub. The activity still records the version. */
  if (sites == NULL && g_error_matches (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND))
    g_debug ("No editors to tell of %s %s: %s", v->prd_id, v->version, error->message);
  else if (sites == NULL)
    g_warning ("Cannot list the editors of %s: %s", v->prd_id, error->message);
  for (guint i = 0; sites != NULL && i < sites->len; i++)
    g_ptr_array_add (editors, ((PrdStoreSite *) g_ptr_array_index (sites, i))->user_id);
  g_ptr_array_add (editors, NULL);
  record_version (v, (const char *const *) editors->pdata);
  version_free (v);
}

/**
 * prd_hub_notifications_version_created_async:
 * @editors: (nullable) (array zero-terminated=1): the users to notify; %NULL
 *   for every user who ever edited the PRD (holds a CRDT site in it)
 *
 * For #PrdHubVersions::version-created: notifies the editors but the actor
 * (`version_created`, also the hub's own site user is skipped; each user
 * once) and records a `version_created` activity. Completes once the rows
 * are committed and sent to the sockets subscribed.
 */
void
prd_hub_notifications_version_created_async (PrdHubNotifications *self,
                                             const char *prd_id,
                                             const char *org,
                                             const char *title,
                                             const char *version,
                                             const char *actor_id,
                                             const char *actor_name,
                                             const char *const *editors,
                                             GCancellable *cancellable,
                                             GAsyncReadyCallback callback,
                                             gpointer user_data)
{
  Version *v;

  g_return_if_fail (PRD_IS_HUB_NOTIFICATIONS (self));

  v = g_new0 (Version, 1);
  v->self = g_object_ref (self);
  v->prd_id = g_strdup (prd_id);
  v->org = g_strdup (org);
  v->title = g_strdup (title);
  v->version = g_strdup (version);
  v->actor_id = g_strdup (actor_id);
  v->actor_name = g_strdup (actor_name);
  /* No source object: a pending version must not keep the feature alive
   * (its disposal cancels what it still has in flight). */
  v->task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (v->task, prd_hub_notifications_version_created_async);
  if (editors != NULL)
    {
      record_version (v, editors);
      version_free (v);
      return;
    }
  prd_store_list_sites_async (self->store, prd_id, self->cancellable, on_editors_listed, v);
}

gboolean
prd_hub_notifications_version_created_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- object ------------------------------------------------------------------------- */

static const PrdHubEventEntry events[] = {
  { "subscribe", on_subscribe },
  { "mark-read", on_mark_read },
};

static void
prd_hub_notifications_dispose (GObject *object)
{
  PrdHubNotifications *self = PRD_HUB_NOTIFICATIONS (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  if (self->nsp != NULL)
    {
      prd_hub_remove_events (self->nsp, events, G_N_ELEMENTS (events));
      g_object_remove_weak_pointer (G_OBJECT (self->nsp), (gpointer *) &self->nsp);
      self->nsp = NULL;
    }
  if (self->feed != NULL && g_object_get_data (G_OBJECT (self->feed), NOTIFICATIONS_KEY) == self)
    g_object_set_data (G_OBJECT (self->feed), NOTIFICATIONS_KEY, NULL);
  g_clear_object (&self->store);
  g_clear_object (&self->feed);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (prd_hub_notifications_parent_class)->dispose (object);
}

static void
prd_hub_notifications_class_init (PrdHubNotificationsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = prd_hub_notifications_dispose;

  /**
   * PrdHubNotifications::subscribed:
   * @socket: a /notifications socket whose `subscribe` was just answered
   */
  signals[SIGNAL_SUBSCRIBED] =
      g_signal_new ("subscribed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 1, PRD_TYPE_SIO_SOCKET);

  /**
   * PrdHubNotifications::recorded:
   * @announce: (type PrdHubAnnounce): activities this feature recorded
   *   itself (a new PRD's), stored and delivered
   */
  signals[SIGNAL_RECORDED] =
      g_signal_new ("recorded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 1, PRD_TYPE_HUB_ANNOUNCE);
}

static void
prd_hub_notifications_init (PrdHubNotifications *self)
{
  self->cancellable = g_cancellable_new ();
}

/**
 * prd_hub_notifications_new:
 * @nsp: the /notifications namespace
 * @store: the PRDs (who edited one, for `version_created`)
 * @feed: where notifications and the activity feed are kept
 *
 * Installs `subscribe` and `mark-read` on @nsp.
 *
 * Returns: (transfer full): the notifications and activity feature
 */
PrdHubNotifications *
prd_hub_notifications_new (PrdSioNamespace *nsp, PrdStore *store, PrdNotificationStore *feed)
{
  PrdHubNotifications *self;

  g_return_val_if_fail (PRD_IS_SIO_NAMESPACE (nsp), NULL);
  g_return_val_if_fail (PRD_IS_STORE (store), NULL);
  g_return_val_if_fail (PRD_IS_NOTIFICATION_STORE (feed), NULL);

  self = g_object_new (PRD_TYPE_HUB_NOTIFICATIONS, NULL);
  self->store = g_object_ref (store);
  self->feed = g_object_ref (feed);
  self->nsp = nsp;
  g_object_add_weak_pointer (G_OBJECT (nsp), (gpointer *) &self->nsp);
  g_object_set_data (G_OBJECT (feed), NOTIFICATIONS_KEY, self);
  prd_hub_add_events (nsp, events, G_N_ELEMENTS (events), self);
  return self;
}
