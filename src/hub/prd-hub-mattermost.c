/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Mattermost (seed §8.3): messages for what happens to PRDs, and the
 * connection status for admins.
 *
 * The hub wires the features' signals (an approval, a version, a mention
 * in a comment, a new PRD) to prd_hub_mattermost_announce(); for an
 * organization whose Mattermost is configured and whose `notify` setting
 * lists the event, one message is posted, then the PRD's room on /prds
 * hears `mattermost-message-sent` {prdId, channel, messageId, type,
 * timestamp}. A webhook gives no post id: messageId is then the hub's own
 * (`mmpost…`). A post that fails (after the HTTP client's retries) is only
 * reported: the call enters the activity feed and the status, which turns
 * to `error` and notifies the admins (prd-hub-integrations.c); nothing
 * waits for a post.
 *
 * `mattermost-connection-status` {status, serverUrl, error} goes on
 * /notifications to the organization's admins who subscribed whenever the
 * status changes, and to an admin right after `subscribe` (when Mattermost
 * is configured). Every PRD_HUB_MATTERMOST_CHECK_INTERVAL seconds, and once
 * at start, the connection of every configured Mattermost is checked.
 */
#define G_LOG_DOMAIN "prd-hub-mattermost"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-hub-announce.h"
#include "prd-hub-context.h"

#include "prd-hub-mattermost.h"

struct _PrdHubMattermost
{
  GObject parent_instance;

  PrdHubRoomRegistry *rooms;        /* (owned) */
  PrdIntegrationRegistry *registry; /* (owned) */
  PrdSioNamespace *notifications;   /* (owned) */
  char *public_url;                 /* (nullable) */
  GCancellable *cancellable;
  guint check_id;
  guint first_check_id;
};

G_DEFINE_FINAL_TYPE (PrdHubMattermost, prd_hub_mattermost, G_TYPE_OBJECT)

static void
prd_hub_mattermost_dispose (GObject *object)
{
  PrdHubMattermost *self = PRD_HUB_MATTERMOST (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->check_id, g_source_remove);
  g_clear_handle_id (&self->first_check_id, g_source_remove);
  if (self->registry != NULL)
    g_signal_handlers_disconnect_by_data (self->registry, self);
  g_clear_object (&self->rooms);
  g_clear_object (&self->registry);
  g_clear_object (&self->notifications);
  g_clear_pointer (&self->public_url, g_free);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (prd_hub_mattermost_parent_class)->dispose (object);
}

static void
prd_hub_mattermost_class_init (PrdHubMattermostClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = prd_hub_mattermost_dispose;
}

static void
prd_hub_mattermost_init (PrdHubMattermost *self)
{
  self->cancellable = g_cancellable_new ();
}

/* The room of an organization's admins on /notifications. */
static char *
admins_room (const char *org)
{
  return g_strdup_printf ("mattermost-admins/%s", org);
}

static JsonNode *
status_payload (PrdIntegration *integration, const char *server_url, const char *problem)
{
  JsonObject *payload = json_object_new ();
  const char *error = problem;
  const char *status = problem != NULL ? "error" : "disconnected";

  if (integration != NULL)
    {
      status = prd_integration_status_to_string (prd_integration_get_status (integration));
      error = prd_integration_get_status (integration) == PRD_INTEGRATION_ERROR
                  ? prd_integration_get_last_error (integration)
                  : NULL;
    }
  json_object_set_string_member (payload, "status", status);
  if (server_url != NULL)
    json_object_set_string_member (payload, "serverUrl", server_url);
  else
    json_object_set_null_member (payload, "serverUrl");
  if (error != NULL)
    json_object_set_string_member (payload, "error", error);
  else
    json_object_set_null_member (payload, "error");
  return prd_hub_object_node (payload);
}

static void
on_status_changed (PrdIntegrationRegistry *registry,
                   const char *org,
                   const char *service,
                   PrdIntegration *integration,
                   gpointer user_data)
{
  PrdHubMattermost *self = user_data;
  g_autoptr (JsonNode) payload = NULL;
  g_autofree char *room = NULL;

  if (!g_str_equal (service, PRD_MATTERMOST_SERVICE) || !PRD_IS_MATTERMOST (integration))
    return;
  payload = status_payload (integration,
                            prd_mattermost_get_server_url (PRD_MATTERMOST (integration)), NULL);
  room = admins_room (org);
  prd_sio_namespace_emit_one (self->notifications, room, NULL, "mattermost-connection-status",
                              payload);
}

/* ---- an admin subscribes ---- */

static void
on_status_entry (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PrdSioSocket) socket = user_data;
  g_autoptr (PrdIntegrationEntry) entry = NULL;
  g_autoptr (JsonNode) payload = NULL;
  const char *server_url = NULL;

  entry = prd_integration_registry_get_finish (PRD_INTEGRATION_REGISTRY (source), result, NULL);
  if (entry == NULL || !entry->configured || !prd_sio_socket_is_connected (socket))
    return;
  if (entry->settings != NULL && json_object_has_member (entry->settings, "serverUrl"))
    server_url = json_object_get_string_member_with_default (entry->settings, "serverUrl", NULL);
  payload = status_payload (entry->integration, server_url, entry->problem);
  prd_sio_socket_emit_one (socket, "mattermost-connection-status", payload);
}

/**
 * prd_hub_mattermost_subscribed:
 * @socket: a /notifications socket that just subscribed
 *
 * An admin hears the status now, and its changes from now on.
 */
void
prd_hub_mattermost_subscribed (PrdHubMattermost *self, PrdSioSocket *socket)
{
  const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
  g_autofree char *room = NULL;

  g_return_if_fail (PRD_IS_HUB_MATTERMOST (self));

  if (identity == NULL || identity->role != PRD_ROLE_ADMIN)
    return;
  room = admins_room (identity->org);
  prd_sio_socket_join (socket, room);
  prd_integration_registry_get_async (self->registry, identity->org, PRD_MATTERMOST_SERVICE,
                                      self->cancellable, on_status_entry, g_object_ref (socket));
}

/* ---- messages ---- */

typedef struct
{
  PrdHubMattermost *self; /* (owned) */
  PrdMattermostEvent event;
  char *org;
  char *prd_id;
  char *title;
  char *actor;
  char *detail;
  char *channel;
} Post;

static void
post_free (Post *post)
{
  g_object_unref (post->self);
  g_free (post->org);
  g_free (post->prd_id);
  g_free (post->title);
  g_free (post->actor);
  g_free (post->detail);
  g_free (post->channel);
  g_free (post);
}

static void
on_posted (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Post *post = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonObject *payload;

  id = prd_mattermost_post_finish (PRD_MATTERMOST (source), result, &error);
  if (id == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_info ("mattermost (%s): no message for %s of %s: %s", post->org,
                prd_mattermost_event_to_string (post->event), post->prd_id, error->message);
      post_free (post);
      return;
    }
  if (*id == '\0')
    {
      g_free (id);
      id = prd_hub_new_id ("mmpost");
    }
  payload = json_object_new ();
  node = prd_hub_object_node (payload);
  json_object_set_string_member (payload, "prdId", post->prd_id);
  if (post->channel != NULL)
    json_object_set_string_member (payload, "channel", post->channel);
  else
    json_object_set_null_member (payload, "channel");
  json_object_set_string_member (payload, "messageId", id);
  json_object_set_string_member (payload, "type", prd_mattermost_event_to_string (post->event));
  prd_hub_json_set_time (payload, "timestamp", g_get_real_time ());
  prd_hub_room_registry_emit (post->self->rooms, post->prd_id, "mattermost-message-sent", node);
  post_free (post);
}

static void
on_entry (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Post *post = user_data;
  PrdHubMattermost *self = post->self;
  g_autoptr (PrdIntegrationEntry) entry = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *message = NULL;
  PrdMattermost *mattermost;

  entry = prd_integration_registry_get_finish (PRD_INTEGRATION_REGISTRY (source), result, &error);
  if (entry == NULL || entry->integration == NULL || !PRD_IS_MATTERMOST (entry->integration))
    {
      if (entry != NULL && entry->problem != NULL)
        g_info ("mattermost (%s): no message: %s", post->org, entry->problem);
      post_free (post);
      return;
    }
  mattermost = PRD_MATTERMOST (entry->integration);
  if (!prd_mattermost_notifies (mattermost, post->event))
    {
      post_free (post);
      return;
    }
  if (self->public_url != NULL)
    url = g_strdup_printf ("%s/api/prds/%s/export.md", self->public_url, post->prd_id);
  message = prd_mattermost_message (post->event, post->title, post->actor, post->detail, url);
  post->channel = g_strdup (prd_mattermost_get_channel (mattermost));
  prd_mattermost_post_async (mattermost, message, self->cancellable, on_posted, post);
}

/**
 * prd_hub_mattermost_announce:
 * @event: what happened
 * @org: the PRD's organization
 * @prd_title: the PRD's title
 * @actor_name: (nullable): who did it
 * @detail: (nullable): the version, the approval's comment, who was
 *   mentioned
 *
 * Posts a message for @event if the organization's Mattermost is
 * configured and notifies of it. Returns at once.
 */
void
prd_hub_mattermost_announce (PrdHubMattermost *self,
                             PrdMattermostEvent event,
                             const char *org,
                             const char *prd_id,
                             const char *prd_title,
                             const char *actor_name,
                             const char *detail)
{
  Post *post;

  g_return_if_fail (PRD_IS_HUB_MATTERMOST (self));
  g_return_if_fail (event < PRD_MATTERMOST_N_EVENTS);
  g_return_if_fail (org != NULL && prd_id != NULL);

  post = g_new0 (Post, 1);
  post->self = g_object_ref (self);
  post->event = event;
  post->org = g_strdup (org);
  post->prd_id = g_strdup (prd_id);
  post->title = g_strdup (prd_title != NULL ? prd_title : prd_id);
  post->actor = g_strdup (actor_name);
  post->detail = g_strdup (detail);
  prd_integration_registry_get_async (self->registry, org, PRD_MATTERMOST_SERVICE,
                                      self->cancellable, on_entry, post);
}

/* ---- the periodic connection check ---- */

static void
on_checked (GObject *source, GAsyncResult *result, gpointer user_data)
{
  /* The outcome reaches the admins through "status-changed". */
  prd_integration_test_finish (PRD_INTEGRATION (source), result, NULL);
}

static void
on_check_entry (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PrdHubMattermost) self = user_data;
  g_autoptr (PrdIntegrationEntry) entry = NULL;

  entry = prd_integration_registry_get_finish (PRD_INTEGRATION_REGISTRY (source), result, NULL);
  if (entry == NULL || entry->integration == NULL)
    return;
  prd_integration_test_async (entry->integration, self->cancellable, on_checked, NULL);
}

static void
on_configured (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PrdHubMattermost) self = user_data;
  g_autoptr (GPtrArray) records = NULL;
  g_autoptr (GError) error = NULL;

  records =
      prd_integration_store_list_settings_finish (PRD_INTEGRATION_STORE (source), result, &error);
  if (records == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning ("Cannot list the configured Mattermost servers: %s", error->message);
      return;
    }
  for (guint i = 0; i < records->len; i++)
    {
      PrdIntegrationSettingsRecord *record = g_ptr_array_index (records, i);

      if (g_str_equal (record->service, PRD_MATTERMOST_SERVICE))
        prd_integration_registry_get_async (self->registry, record->org, PRD_MATTERMOST_SERVICE,
                                            self->cancellable, on_check_entry, g_object_ref (self));
    }
}

static gboolean
check_all (gpointer user_data)
{
  PrdHubMattermost *self = user_data;

  prd_integration_store_list_settings_async (prd_integration_registry_get_store (self->registry),
                                             NULL, self->cancellable, on_configured,
                                             g_object_ref (self));
  return G_SOURCE_CONTINUE;
}

static gboolean
check_first (gpointer user_data)
{
  PrdHubMattermost *self = user_data;

  self->first_check_id = 0;
  check_all (self);
  return G_SOURCE_REMOVE;
}

/**
 * prd_hub_mattermost_new:
 * @rooms: the rooms of /prds (where `mattermost-message-sent` goes)
 * @registry: the integrations (Mattermost among them)
 * @notifications: the /notifications namespace (admins hear the status)
 */
PrdHubMattermost *
prd_hub_mattermost_new (PrdHubRoomRegistry *rooms,
                        PrdIntegrationRegistry *registry,
                        PrdSioNamespace *notifications)
{
  PrdHubMattermost *self;

  g_return_val_if_fail (PRD_IS_HUB_ROOM_REGISTRY (rooms), NULL);
  g_return_val_if_fail (PRD_IS_INTEGRATION_REGISTRY (registry), NULL);
  g_return_val_if_fail (PRD_IS_SIO_NAMESPACE (notifications), NULL);

  self = g_object_new (PRD_TYPE_HUB_MATTERMOST, NULL);
  self->rooms = g_object_ref (rooms);
  self->registry = g_object_ref (registry);
  self->notifications = g_object_ref (notifications);
  g_signal_connect (registry, "status-changed", G_CALLBACK (on_status_changed), self);
  self->check_id = g_timeout_add_seconds (PRD_HUB_MATTERMOST_CHECK_INTERVAL, check_all, self);
  self->first_check_id = g_idle_add_full (G_PRIORITY_LOW, check_first, self, NULL);
  return self;
}

/* @url: (nullable): the hub's address, for the link to the PRD */
void
prd_hub_mattermost_set_public_url (PrdHubMattermost *self, const char *url)
{
  g_return_if_fail (PRD_IS_HUB_MATTERMOST (self));

  g_free (self->public_url);
  self->public_url = g_strdup (url);
  if (self->public_url != NULL && g_str_has_suffix (self->public_url, "/"))
    self->public_url[strlen (self->public_url) - 1] = '\0';
}
