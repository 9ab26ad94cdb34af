/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Who is connected, for REST (`GET /api/sessions`, prd-hub-rest-sessions.c)
 * and `prdhub status`: one entry per Socket.IO namespace connection of an
 * organization, with the PRDs it joined, its mode and presence status
 * there, its transport and when it connected. The D-Bus admin interface
 * (prd-hub-dbus.c) shows the same sessions of every organization.
 */
#define G_LOG_DOMAIN "prd-hub-sessions"

#include "config.h"

#include "prd-hub-context.h"
#include "prd-hub-room.h"
#include "prd-hub.h"
#include "prd-time.h"

#include "prd-hub-sessions.h"

struct _PrdHubSessions
{
  GObject parent_instance;

  PrdSioServer *sio;         /* (owned) */
  PrdHubRoomRegistry *rooms; /* (owned) (nullable): without a store, nobody joins a PRD */
};

G_DEFINE_FINAL_TYPE (PrdHubSessions, prd_hub_sessions, G_TYPE_OBJECT)

static const char *const namespaces[] = {
  PRD_HUB_NAMESPACE_MAIN,
  PRD_HUB_NAMESPACE_PRDS,
  PRD_HUB_NAMESPACE_NOTIFICATIONS,
};

static void
add_prds (PrdHubSessions *self, JsonBuilder *builder, PrdSioSocket *socket)
{
  g_auto (GStrv) prd_ids = NULL;
  const char *conn_id = prd_sio_socket_get_id (socket);

  json_builder_set_member_name (builder, "prds");
  json_builder_begin_array (builder);
  if (self->rooms != NULL)
    prd_ids = prd_hub_room_registry_get_socket_prds (self->rooms, socket);
  for (guint i = 0; prd_ids != NULL && prd_ids[i] != NULL; i++)
    {
      PrdHubRoom *room = prd_hub_room_registry_get_joined (self->rooms, socket, prd_ids[i], NULL);
      PrdRoom *members = room != NULL ? prd_hub_room_get_members (room) : NULL;
      const char *status = members != NULL ? prd_room_member_get_status (members, conn_id) : NULL;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "prdId");
      json_builder_add_string_value (builder, prd_ids[i]);
      json_builder_set_member_name (builder, "mode");
      if (members != NULL)
        json_builder_add_string_value (
            builder, prd_room_member_can_edit (members, conn_id) ? "edit" : "view");
      else
        json_builder_add_null_value (builder);
      json_builder_set_member_name (builder, "status");
      if (status != NULL)
        json_builder_add_string_value (builder, status);
      else
        json_builder_add_null_value (builder);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
}

/**
 * prd_hub_sessions_list:
 * @org: the organization whose sessions are listed
 *
 * Returns: (transfer full): `{ sessions: [ { id, namespace, user: { id,
 *   name }, role, transport, connectedSince, prds: [ { prdId, mode, status
 *   } ] } ] }`, oldest connection first
 */
JsonNode *
prd_hub_sessions_list (PrdHubSessions *self, const char *org)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (GPtrArray) sockets = g_ptr_array_new_with_free_func (g_object_unref);

  g_return_val_if_fail (PRD_IS_HUB_SESSIONS (self), NULL);
  g_return_val_if_fail (org != NULL, NULL);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "sessions");
  json_builder_begin_array (builder);
  for (guint i = 0; i < G_N_ELEMENTS (namespaces); i++)
    {
      PrdSioNamespace *nsp = prd_sio_server_lookup (self->sio, namespaces[i]);
      g_autoptr (GPtrArray) in_nsp = NULL;

      if (nsp == NULL)
        continue;
      in_nsp = prd_sio_namespace_get_room_sockets (nsp, NULL);
      for (guint j = 0; in_nsp != NULL && j < in_nsp->len; j++)
        {
          PrdSioSocket *socket = g_ptr_array_index (in_nsp, j);
          const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
          PrdEioSocket *engine = prd_sio_socket_get_engine (socket);
          g_autofree char *connected = NULL;

          if (!prd_sio_socket_is_connected (socket) || identity == NULL ||
              !g_str_equal (identity->org, org))
            continue;
          connected = prd_time_format (prd_sio_socket_get_connected_at (socket));
          json_builder_begin_object (builder);
          json_builder_set_member_name (builder, "id");
          json_builder_add_string_value (builder, prd_sio_socket_get_id (socket));
          json_builder_set_member_name (builder, "namespace");
          json_builder_add_string_value (builder, namespaces[i]);
          json_builder_set_member_name (builder, "user");
          json_builder_begin_object (builder);
          json_builder_set_member_name (builder, "id");
          json_builder_add_string_value (builder, identity->user_id);
          json_builder_set_member_name (builder, "name");
          json_builder_add_string_value (builder, identity->name);
          json_builder_end_object (builder);
          json_builder_set_member_name (builder, "role");
          json_builder_add_string_value (builder, prd_role_to_string (identity->role));
          json_builder_set_member_name (builder, "transport");
          json_builder_add_string_value (
              builder, engine != NULL ? prd_eio_socket_get_transport_name (engine) : "");
          json_builder_set_member_name (builder, "connectedSince");
          json_builder_add_string_value (builder, connected);
          add_prds (self, builder, socket);
          json_builder_end_object (builder);
        }
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

/**
 * prd_hub_sessions_set_rooms:
 * @rooms: where the joined PRDs are found
 */
void
prd_hub_sessions_set_rooms (PrdHubSessions *self, PrdHubRoomRegistry *rooms)
{
  g_return_if_fail (PRD_IS_HUB_SESSIONS (self));

  g_set_object (&self->rooms, rooms);
}

static void
prd_hub_sessions_dispose (GObject *object)
{
  PrdHubSessions *self = PRD_HUB_SESSIONS (object);

  for (guint i = 0; self->sio != NULL && i < G_N_ELEMENTS (namespaces); i++)
    {
      PrdSioNamespace *nsp = prd_sio_server_lookup (self->sio, namespaces[i]);

      if (nsp != NULL)
        g_signal_handlers_disconnect_by_data (nsp, self);
    }
  g_clear_object (&self->sio);
  g_clear_object (&self->rooms);
  G_OBJECT_CLASS (prd_hub_sessions_parent_class)->dispose (object);
}

static void
prd_hub_sessions_class_init (PrdHubSessionsClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = prd_hub_sessions_dispose;
}

static void
prd_hub_sessions_init (PrdHubSessions *self)
{
}

/**
 * prd_hub_sessions_new:
 * @sio: the hub's Socket.IO server, before anyone connects
 *
 * Starts noting when each connection arrives.
 */
PrdHubSessions *
prd_hub_sessions_new (PrdSioServer *sio)
{
  PrdHubSessions *self;

  g_return_val_if_fail (PRD_IS_SIO_SERVER (sio), NULL);

  self = g_object_new (PRD_TYPE_HUB_SESSIONS, NULL);
  self->sio = g_object_ref (sio);
  return self;
}
