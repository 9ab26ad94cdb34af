/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdHubRoomRegistry: the open rooms of /prds, by PRD id. It opens a room on
 * its first join, finds the room a socket joined, leaves every room of a
 * socket that disconnects, and ticks the auto-save.
 *
 * What features must learn about rooms they learn from its signals, which
 * prd-hub.c connects:
 *
 * - #PrdHubRoomRegistry::member-joined: a socket joined a room; handlers
 *   may add members to the `joined-prd` payload before it is sent.
 * - #PrdHubRoomRegistry::member-left: a socket left a room (leave-prd or
 *   disconnection).
 * - #PrdHubRoomRegistry::member-changed: a member's presence (status,
 *   cursor) changed; the D-Bus admin interface (prd-hub-dbus.c) shows it.
 * - #PrdHubRoomRegistry::operation-committed: an operation was stored,
 *   committed and broadcast.
 *
 * Reads of a PRD nobody has open (REST) build its document from the store
 * off the main thread, a few at a time, so that a burst of them does not
 * hold up the rooms of every organization
 * (prd_hub_room_registry_load_document_async()).
 */
#define G_LOG_DOMAIN "prd-hub-room-registry"

#include "config.h"

#include "prd-error.h"
#include "prd-hub-config-collab.h"
#include "prd-hub-context.h"
#include "prd-hub-room-private.h"

#include "prd-hub-room-registry.h"

#define JOINED_KEY "prd-hub-room-registry-joined"

enum
{
  SIGNAL_MEMBER_JOINED,
  SIGNAL_MEMBER_LEFT,
  SIGNAL_MEMBER_CHANGED,
  SIGNAL_OPERATION_COMMITTED,
  SIGNAL_ROOM_CLOSED,
  SIGNAL_ROOM_LOADED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PrdHubRoomRegistry, prd_hub_room_registry, G_TYPE_OBJECT)

/* Returns: (transfer none): the ids of the PRDs @socket has joined */
GHashTable *
prd_hub_room_registry_socket_joined (PrdSioSocket *socket)
{
  GHashTable *joined = g_object_get_data (G_OBJECT (socket), JOINED_KEY);

  if (joined == NULL)
    {
      joined = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      g_object_set_data_full (G_OBJECT (socket), JOINED_KEY, joined,
                              (GDestroyNotify) g_hash_table_unref);
    }
  return joined;
}

/* Drops the registry's reference to @room, which has been released. */
void
prd_hub_room_registry_forget (PrdHubRoomRegistry *self, PrdHubRoom *room)
{
  g_autofree char *prd_id = g_strdup (prd_hub_room_get_prd_id (room));

  if (g_hash_table_remove (self->rooms, prd_id))
    g_signal_emit (self, signals[SIGNAL_ROOM_CLOSED], 0, prd_id);
}

void
prd_hub_room_registry_room_loaded (PrdHubRoomRegistry *self, PrdHubRoom *room)
{
  g_signal_emit (self, signals[SIGNAL_ROOM_LOADED], 0, room);
}

void
prd_hub_room_registry_member_joined (PrdHubRoomRegistry *self,
                                     PrdHubRoom *room,
                                     PrdSioSocket *socket,
                                     const char *user_id,
                                     JsonObject *joined)
{
  g_info ("join: prd=%s user=%s mode=%s socket=%s", prd_hub_room_get_prd_id (room), user_id,
          json_object_get_string_member_with_default (joined, "mode", "view"),
          prd_sio_socket_get_id (socket));
  g_signal_emit (self, signals[SIGNAL_MEMBER_JOINED], 0, room, socket, user_id, joined);
}

void
prd_hub_room_registry_member_left (PrdHubRoomRegistry *self,
                                   PrdHubRoom *room,
                                   PrdSioSocket *socket,
                                   const char *user_id)
{
  g_signal_emit (self, signals[SIGNAL_MEMBER_LEFT], 0, room, socket, user_id);
}

/* The disk filled up, or the database became unwritable: every client of
 * /prds hears it once (its edits are refused meanwhile with STORAGE_ERROR),
 * and again when an append succeeds. */
void
prd_hub_room_registry_storage_result (PrdHubRoomRegistry *self, const GError *error)
{
  g_autoptr (JsonNode) payload = NULL;
  g_autofree char *timestamp = NULL;
  JsonObject *object;

  if (error != NULL)
    self->writes_lost = TRUE;
  if ((error != NULL) == self->storage_failed)
    return;
  self->storage_failed = error != NULL;
  if (error != NULL)
    g_warning ("Cannot store edits: %s; refusing them until the database takes writes again",
               error->message);
  else
    g_message ("The database takes writes again");
  if (self->nsp == NULL)
    return;
  timestamp = prd_time_format_now ();
  payload = json_node_new (JSON_NODE_OBJECT);
  object = json_object_new ();
  json_node_take_object (payload, object);
  json_object_set_boolean_member (object, "ok", error == NULL);
  if (error != NULL)
    {
      g_autofree char *message = g_utf8_make_valid (error->message, -1);

      json_object_set_string_member (object, "code", prd_error_get_protocol_code (error));
      json_object_set_string_member (object, "message", message);
    }
  json_object_set_string_member (object, "timestamp", timestamp);
  prd_sio_namespace_emit_one (self->nsp, NULL, NULL, "storage-status", payload);
}

void
prd_hub_room_registry_member_changed (PrdHubRoomRegistry *self,
                                      PrdHubRoom *room,
                                      PrdSioSocket *socket)
{
  g_signal_emit (self, signals[SIGNAL_MEMBER_CHANGED], 0, room, socket);
}

void
prd_hub_room_registry_operation_committed (PrdHubRoomRegistry *self,
                                           PrdHubRoom *room,
                                           const PrdCrdtOp *op,
                                           GArray *base,
                                           guint32 client_position,
                                           const char *user_id,
                                           const char *user_name)
{
  g_signal_emit (self, signals[SIGNAL_OPERATION_COMMITTED], 0, room, op, base, client_position,
                 user_id, user_name);
}

static void
on_disconnection (PrdSioNamespace *nsp,
                  PrdSioSocket *socket,
                  const char *reason,
                  gpointer user_data)
{
  PrdHubRoomRegistry *self = user_data;
  GHashTable *joined = g_object_get_data (G_OBJECT (socket), JOINED_KEY);
  g_autoptr (GPtrArray) ids = NULL;
  GHashTableIter iter;
  gpointer key;

  if (joined == NULL)
    return;
  ids = g_ptr_array_new_with_free_func (g_free);
  g_hash_table_iter_init (&iter, joined);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (ids, g_strdup (key));
  for (guint i = 0; i < ids->len; i++)
    {
      PrdHubRoom *room = g_hash_table_lookup (self->rooms, g_ptr_array_index (ids, i));

      if (room != NULL)
        prd_hub_room_leave (room, socket);
    }
}

/* Snapshots every loaded room with unsaved changes (prd_hub_room_autosave()). */
static gboolean
on_autosave_tick (gpointer user_data)
{
  PrdHubRoomRegistry *self = user_data;
  GHashTableIter iter;
  PrdHubRoom *room;

  g_hash_table_iter_init (&iter, self->rooms);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &room))
    prd_hub_room_autosave (room);
  return G_SOURCE_CONTINUE;
}

static void
prd_hub_room_registry_dispose (GObject *object)
{
  PrdHubRoomRegistry *self = PRD_HUB_ROOM_REGISTRY (object);
  GTask *waiting;

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  while ((waiting = g_queue_pop_head (&self->loads_waiting)) != NULL)
    {
      g_task_return_new_error (waiting, PRD_ERROR, PRD_ERROR_CANCELLED, "The hub is stopping");
      g_object_unref (waiting);
    }
  g_clear_handle_id (&self->autosave_id, g_source_remove);
  if (self->nsp != NULL)
    {
      g_clear_signal_handler (&self->disconnection_id, self->nsp);
      g_object_remove_weak_pointer (G_OBJECT (self->nsp), (gpointer *) &self->nsp);
      self->nsp = NULL;
    }
  if (self->rooms != NULL)
    {
      GHashTableIter iter;
      PrdHubRoom *room;

      g_hash_table_iter_init (&iter, self->rooms);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &room))
        {
          prd_hub_room_detach (room);
          g_hash_table_iter_remove (&iter);
        }
    }
  g_clear_object (&self->store);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (prd_hub_room_registry_parent_class)->dispose (object);
}

static void
prd_hub_room_registry_finalize (GObject *object)
{
  PrdHubRoomRegistry *self = PRD_HUB_ROOM_REGISTRY (object);

  g_clear_pointer (&self->rooms, g_hash_table_unref);
  g_clear_pointer (&self->config, prd_hub_config_unref);

  G_OBJECT_CLASS (prd_hub_room_registry_parent_class)->finalize (object);
}

static void
prd_hub_room_registry_class_init (PrdHubRoomRegistryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = prd_hub_room_registry_dispose;
  object_class->finalize = prd_hub_room_registry_finalize;

  /**
   * PrdHubRoomRegistry::member-joined:
   * @room: the room
   * @socket: who joined
   * @user_id: as whom
   * @joined: the `joined-prd` payload, not sent yet: handlers may add
   *   members to it
   *
   * A socket has been let into @room (or repeated its join-prd).
   */
  signals[SIGNAL_MEMBER_JOINED] = g_signal_new (
      "member-joined", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 4, PRD_TYPE_HUB_ROOM, PRD_TYPE_SIO_SOCKET, G_TYPE_STRING, JSON_TYPE_OBJECT);

  /**
   * PrdHubRoomRegistry::member-left:
   * @room: the room
   * @socket: who left
   * @user_id: as whom
   *
   * A socket has left @room (leave-prd or disconnection).
   */
  signals[SIGNAL_MEMBER_LEFT] =
      g_signal_new ("member-left", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 3, PRD_TYPE_HUB_ROOM, PRD_TYPE_SIO_SOCKET, G_TYPE_STRING);

  /**
   * PrdHubRoomRegistry::member-changed:
   * @room: the room
   * @socket: whose presence changed
   *
   * The presence of a member of @room (its status, cursor or selection)
   * has changed and been relayed to the others.
   */
  signals[SIGNAL_MEMBER_CHANGED] =
      g_signal_new ("member-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 2, PRD_TYPE_HUB_ROOM, PRD_TYPE_SIO_SOCKET);

  /**
   * PrdHubRoomRegistry::operation-committed:
   * @room: the room
   * @op: (type gpointer): the #PrdCrdtOp, stored and broadcast
   * @base: (nullable) (element-type guint32): the state vector a client's
   *   operation was made against (its own earlier operations counted);
   *   %NULL for the hub's own writes (prd_hub_room_write())
   * @client_position: where the client put it, in its own text
   * @user_id: whom the broadcast named
   * @user_name: the name it gave
   *
   * An operation is durable and has been sent to the room.
   */
  signals[SIGNAL_OPERATION_COMMITTED] =
      g_signal_new ("operation-committed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 6, PRD_TYPE_HUB_ROOM, G_TYPE_POINTER, G_TYPE_ARRAY,
                    G_TYPE_UINT, G_TYPE_STRING, G_TYPE_STRING);

  /**
   * PrdHubRoomRegistry::room-closed:
   * @prd_id: the PRD whose room is gone
   *
   * A room's last member left, its state is saved and its grace period
   * (`[collab] empty-room-grace`) is over or its place was needed: the PRD
   * is no longer held in memory.
   */
  signals[SIGNAL_ROOM_CLOSED] =
      g_signal_new ("room-closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 1, G_TYPE_STRING);

  /**
   * PrdHubRoomRegistry::room-loaded:
   * @room: the room whose document and members are now ready
   *
   * For the hub's own work on a PRD nobody had open (a sync started by
   * REST): it may write once the room has loaded.
   */
  signals[SIGNAL_ROOM_LOADED] =
      g_signal_new ("room-loaded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 1, PRD_TYPE_HUB_ROOM);
}

static void
prd_hub_room_registry_init (PrdHubRoomRegistry *self)
{
  self->rooms = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->cancellable = g_cancellable_new ();
  g_queue_init (&self->loads_waiting);
}

/**
 * prd_hub_room_registry_new:
 * @nsp: the /prds namespace
 * @store: where PRDs live
 *
 * Returns: (transfer full): a registry without rooms
 */
PrdHubRoomRegistry *
prd_hub_room_registry_new (PrdSioNamespace *nsp, PrdStore *store, PrdHubConfig *config)
{
  PrdHubRoomRegistry *self;

  g_return_val_if_fail (PRD_IS_SIO_NAMESPACE (nsp), NULL);
  g_return_val_if_fail (PRD_IS_STORE (store), NULL);

  self = g_object_new (PRD_TYPE_HUB_ROOM_REGISTRY, NULL);
  self->nsp = nsp;
  g_object_add_weak_pointer (G_OBJECT (nsp), (gpointer *) &self->nsp);
  self->store = g_object_ref (store);
  self->config = prd_hub_config_ref (config);
  self->disconnection_id =
      g_signal_connect (nsp, "disconnection", G_CALLBACK (on_disconnection), self);
  if (prd_hub_config_get_collab (config)->autosave_interval > 0)
    self->autosave_id = g_timeout_add_seconds (
        prd_hub_config_get_collab (config)->autosave_interval, on_autosave_tick, self);
  return self;
}

/* (transfer none) (nullable): the /prds namespace, while it lives */
PrdSioNamespace *
prd_hub_room_registry_get_namespace (PrdHubRoomRegistry *self)
{
  g_return_val_if_fail (PRD_IS_HUB_ROOM_REGISTRY (self), NULL);

  return self->nsp;
}

/* (transfer none): the hub's configuration (its [collab] group bounds the
 * features riding on the rooms too) */
PrdHubConfig *
prd_hub_room_registry_get_config (PrdHubRoomRegistry *self)
{
  g_return_val_if_fail (PRD_IS_HUB_ROOM_REGISTRY (self), NULL);

  return self->config;
}

/**
 * prd_hub_room_registry_get_writes_lost:
 *
 * Whether an append failed since the hub started (a full disk, an
 * unwritable database): operations in flight then were lost, after joins
 * may have been handed them. Rooms retire their PRD's sites when that
 * happens, with a write that may fail too; the hub makes the next start
 * retire every site as well (prd-main.c).
 *
 * Returns: whether an append failed in this run
 */
gboolean
prd_hub_room_registry_get_writes_lost (PrdHubRoomRegistry *self)
{
  g_return_val_if_fail (PRD_IS_HUB_ROOM_REGISTRY (self), FALSE);
  return self->writes_lost;
}

/* The rooms open now (loading, in use or being saved). */
guint
prd_hub_room_registry_get_n_rooms (PrdHubRoomRegistry *self)
{
  g_return_val_if_fail (PRD_IS_HUB_ROOM_REGISTRY (self), 0);

  return g_hash_table_size (self->rooms);
}

/**
 * prd_hub_room_registry_open_in_org:
 * @org: (nullable): the organization of the joiner; %NULL for the hub's
 *   own work, which takes the PRD whatever its organization
 *
 * A room opened for a join of @org loads the PRD only if it belongs to
 * @org: another organization's is answered from its metadata, as an
 * unknown id is (one look at the store, nothing read or built), and the
 * room goes at once (prd_store_load_in_org_async()).
 *
 * Returns: (transfer none): the room of @prd_id, opened (and its loading
 *   started) if it was not
 */
PrdHubRoom *
prd_hub_room_registry_open_in_org (PrdHubRoomRegistry *self, const char *prd_id, const char *org)
{
  PrdHubRoom *room;

  g_return_val_if_fail (PRD_IS_HUB_ROOM_REGISTRY (self), NULL);

  room = g_hash_table_lookup (self->rooms, prd_id);
  if (room != NULL)
    {
      if (org == NULL)
        prd_hub_room_load_for_any_org (room);
      return room;
    }
  room = prd_hub_room_new (self, prd_id, org);
  g_hash_table_insert (self->rooms, g_strdup (prd_id), room);
  return room;
}

/**
 * prd_hub_room_registry_open:
 *
 * prd_hub_room_registry_open_in_org() for the hub's own work (any
 * organization).
 *
 * Returns: (transfer none): the room of @prd_id, opened (and its loading
 *   started) if it was not
 */
PrdHubRoom *
prd_hub_room_registry_open (PrdHubRoomRegistry *self, const char *prd_id)
{
  return prd_hub_room_registry_open_in_org (self, prd_id, NULL);
}

/* Returns: (transfer none) (nullable): the open room of @prd_id */
PrdHubRoom *
prd_hub_room_registry_lookup (PrdHubRoomRegistry *self, const char *prd_id)
{
  g_return_val_if_fail (PRD_IS_HUB_ROOM_REGISTRY (self), NULL);

  return g_hash_table_lookup (self->rooms, prd_id);
}

static int
compare_strings (gconstpointer a, gconstpointer b, gpointer user_data)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

/**
 * prd_hub_room_registry_check_join:
 * @socket: a socket asking to join @prd_id
 *
 * The limits of a join (`[collab] max-joined-prds`, `max-open-rooms`),
 * checked before anything is opened. Joining a PRD again is not counted,
 * nor is a PRD of the joiner's organization that is open already.
 *
 * Returns: %TRUE when @socket may join, else %FALSE with @error set
 *   (%PRD_ERROR_LIMIT_REACHED)
 */
gboolean
prd_hub_room_registry_check_join (PrdHubRoomRegistry *self,
                                  PrdSioSocket *socket,
                                  const char *prd_id,
                                  GError **error)
{
  const PrdHubCollabConfig *config;
  GHashTable *joined;
  GHashTable *joining;
  PrdHubRoom *room;
  gboolean open;
  guint n_joined;

  g_return_val_if_fail (PRD_IS_HUB_ROOM_REGISTRY (self), FALSE);
  g_return_val_if_fail (PRD_IS_SIO_SOCKET (socket), FALSE);

  config = prd_hub_config_get_collab (self->config);
  joined = g_object_get_data (G_OBJECT (socket), JOINED_KEY);
  joining = g_object_get_data (G_OBJECT (socket), PRD_HUB_ROOM_JOINING_KEY);
  if ((joined != NULL && g_hash_table_contains (joined, prd_id)) ||
      (joining != NULL && g_hash_table_contains (joining, prd_id)))
    return TRUE;
  /* PRDs whose joins are still being answered count too, or a burst of
   * them would pass; each once, whether or not it is joined already. */
  n_joined = joined != NULL ? g_hash_table_size (joined) : 0;
  if (joining != NULL)
    {
      GHashTableIter iter;
      gpointer key;

      g_hash_table_iter_init (&iter, joining);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        if (joined == NULL || !g_hash_table_contains (joined, key))
          n_joined++;
    }
  if (n_joined >= config->max_joined_prds)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_LIMIT_REACHED,
                   "This connection has joined %u PRDs (max-joined-prds); leave one first",
                   n_joined);
      return FALSE;
    }
  /* An open room is this PRD's only for its own organization (and only
   * once loaded, when that is known): another organization's user must get
   * what an unknown id gets, or the limit would tell that the PRD exists. */
  room = g_hash_table_lookup (self->rooms, prd_id);
  open = room != NULL && prd_hub_room_is_loaded (room) &&
         g_strcmp0 (prd_document_get_org (prd_hub_room_get_document (room)),
                    prd_hub_socket_get_identity (socket)->org) == 0;
  /* An empty room waiting out its grace period is the first to go. */
  if (!open && g_hash_table_size (self->rooms) >= config->max_open_rooms)
    {
      GHashTableIter iter;
      PrdHubRoom *idle = NULL;

      g_hash_table_iter_init (&iter, self->rooms);
      while (idle == NULL && g_hash_table_iter_next (&iter, NULL, (gpointer *) &room))
        if (prd_hub_room_is_idle (room))
          idle = room;
      if (idle != NULL)
        prd_hub_room_evict (idle);
    }
  if (!open && g_hash_table_size (self->rooms) >= config->max_open_rooms)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_LIMIT_REACHED,
                   "The hub has %u PRDs open (max-open-rooms); try again later",
                   g_hash_table_size (self->rooms));
      return FALSE;
    }
  return TRUE;
}

/**
 * prd_hub_room_registry_get_socket_prds:
 *
 * Returns: (transfer full): the ids of the PRDs @socket has joined, sorted
 */
GStrv
prd_hub_room_registry_get_socket_prds (PrdHubRoomRegistry *self, PrdSioSocket *socket)
{
  GHashTable *joined;
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_autofree const char **ids = NULL;
  guint n = 0;

  g_return_val_if_fail (PRD_IS_HUB_ROOM_REGISTRY (self), NULL);
  g_return_val_if_fail (PRD_IS_SIO_SOCKET (socket), NULL);

  joined = g_object_get_data (G_OBJECT (socket), JOINED_KEY);
  if (joined != NULL)
    {
      ids = (const char **) g_hash_table_get_keys_as_array (joined, &n);
      g_qsort_with_data (ids, (int) n, sizeof (char *), compare_strings, NULL);
    }
  for (guint i = 0; i < n; i++)
    g_strv_builder_add (builder, ids[i]);
  return g_strv_builder_end (builder);
}

/**
 * prd_hub_room_registry_get_joined:
 *
 * Returns: (transfer none) (nullable): the room of @prd_id if @socket is
 *   in it, else %NULL with @error set (NOT_JOINED)
 */
PrdHubRoom *
prd_hub_room_registry_get_joined (PrdHubRoomRegistry *self,
                                  PrdSioSocket *socket,
                                  const char *prd_id,
                                  GError **error)
{
  PrdHubRoom *room;
  PrdRoom *members;

  g_return_val_if_fail (PRD_IS_HUB_ROOM_REGISTRY (self), NULL);

  room = g_hash_table_lookup (self->rooms, prd_id);
  members = room != NULL ? prd_hub_room_get_members (room) : NULL;
  if (members == NULL || !prd_room_has_member (members, prd_sio_socket_get_id (socket)))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_NOT_JOINED, "Join the PRD first (join-prd)");
      return NULL;
    }
  return room;
}

/* Returns: (transfer none) (nullable): the document of a loaded, open room */
PrdDocument *
prd_hub_room_registry_peek_document (PrdHubRoomRegistry *self, const char *prd_id)
{
  PrdHubRoom *room;

  g_return_val_if_fail (PRD_IS_HUB_ROOM_REGISTRY (self), NULL);

  room = g_hash_table_lookup (self->rooms, prd_id);
  return room != NULL && prd_hub_room_is_loaded (room) && prd_hub_room_is_open (room)
             ? prd_hub_room_get_document (room)
             : NULL;
}

/**
 * prd_hub_room_registry_emit:
 *
 * Sends @event to everyone who joined @prd_id, unbatched.
 */
void
prd_hub_room_registry_emit (PrdHubRoomRegistry *self,
                            const char *prd_id,
                            const char *event,
                            JsonNode *payload)
{
  g_autofree char *sio_room = NULL;

  g_return_if_fail (PRD_IS_HUB_ROOM_REGISTRY (self));

  if (self->nsp == NULL)
    return;
  sio_room = g_strconcat ("prd:", prd_id, NULL);
  prd_sio_namespace_emit_one (self->nsp, sio_room, NULL, event, payload);
}

/**
 * prd_hub_room_registry_set_version:
 *
 * Tells an open room that the stored version of @prd_id changed, so that
 * later joins report it.
 */
void
prd_hub_room_registry_set_version (PrdHubRoomRegistry *self,
                                   const char *prd_id,
                                   const char *version)
{
  PrdHubRoom *room;

  g_return_if_fail (PRD_IS_HUB_ROOM_REGISTRY (self));

  room = g_hash_table_lookup (self->rooms, prd_id);
  if (room != NULL)
    prd_hub_room_set_version (room, version);
}

/**
 * prd_hub_room_registry_close:
 * @event: what every member is sent before the room closes
 *
 * Closes the room of a PRD that no longer exists: @event goes to its
 * members, who leave it (#PrdHubRoomRegistry::member-left), pending joins
 * fail with `PRD_NOT_FOUND`, and nothing is written. Nothing happens when
 * the PRD is not open.
 */
void
prd_hub_room_registry_close (PrdHubRoomRegistry *self,
                             const char *prd_id,
                             const char *event,
                             JsonNode *payload)
{
  PrdHubRoom *room;

  g_return_if_fail (PRD_IS_HUB_ROOM_REGISTRY (self));

  room = g_hash_table_lookup (self->rooms, prd_id);
  if (room == NULL)
    return;
  /* Closing drops the registry's reference. */
  g_object_ref (room);
  prd_hub_room_close (room, event, payload);
  g_object_unref (room);
}

/**
 * prd_hub_room_registry_set_info:
 * @title: the PRD's title now
 * @archived: whether it is archived now
 *
 * Tells an open room that the PRD was renamed, archived or unarchived: later
 * joins report the title, and an archived PRD takes no more edits.
 */
void
prd_hub_room_registry_set_info (PrdHubRoomRegistry *self,
                                const char *prd_id,
                                const char *title,
                                gboolean archived)
{
  PrdHubRoom *room;

  g_return_if_fail (PRD_IS_HUB_ROOM_REGISTRY (self));

  room = g_hash_table_lookup (self->rooms, prd_id);
  if (room != NULL)
    prd_hub_room_set_info (room, title, archived);
}

/* ---- documents for reads ----------------------------------------------- */

typedef struct
{
  char *prd_id;
  char *org;
  PrdStoreDocument *stored; /* (owned) (nullable): once read */
} Load;

typedef struct
{
  PrdStoreInfo *info;    /* (owned) */
  PrdDocument *document; /* (owned) */
  char *text;            /* (owned): the document's text, read on the thread too */
  GArray *vector;        /* (owned): its state vector */
} Loaded;

static void
load_free (Load *load)
{
  g_free (load->prd_id);
  g_free (load->org);
  g_clear_pointer (&load->stored, prd_store_document_free);
  g_free (load);
}

static void
loaded_free (Loaded *loaded)
{
  g_clear_pointer (&loaded->info, prd_store_info_free);
  g_clear_object (&loaded->document);
  g_free (loaded->text);
  g_clear_pointer (&loaded->vector, g_array_unref);
  g_free (loaded);
}

static void load_start (PrdHubRoomRegistry *self, GTask *task);

/* A load ended (@task has returned): the next one waiting may start. */
static void
load_done (PrdHubRoomRegistry *self)
{
  GTask *next;

  g_assert (self->loads_running > 0);
  self->loads_running--;
  g_debug ("Document builds running: %u, waiting: %u", self->loads_running,
           self->loads_waiting.length);
  if ((next = g_queue_pop_head (&self->loads_waiting)) != NULL)
    load_start (self, next);
}

/* On a thread of GLib's pool: everything it touches is the task's own. */
static void
build_in_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Load *load = task_data;
  GError *error = NULL;
  PrdDocument *document = prd_hub_document_from_store (load->stored, &error);
  Loaded *loaded;

  if (document == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  /* Reading the text walks every character ever inserted (tombstones
   * too): here, not on the main thread. */
  loaded = g_new0 (Loaded, 1);
  loaded->document = document;
  loaded->text = prd_crdt_doc_get_text (prd_document_get_crdt (document));
  loaded->vector = prd_crdt_doc_get_state_vector (prd_document_get_crdt (document));
  g_task_return_pointer (task, loaded, (GDestroyNotify) loaded_free);
}

static void
on_built (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PrdHubRoomRegistry *self = PRD_HUB_ROOM_REGISTRY (source);
  g_autoptr (GTask) task = user_data;
  Load *load = g_task_get_task_data (task);
  GError *error = NULL;
  Loaded *loaded = g_task_propagate_pointer (G_TASK (result), &error);

  if (loaded == NULL)
    g_task_return_error (task, error);
  else
    {
      loaded->info = g_steal_pointer (&load->stored->info);
      g_task_return_pointer (task, loaded, (GDestroyNotify) loaded_free);
    }
  /* Its snapshot and log are not needed any more. */
  g_clear_pointer (&load->stored, prd_store_document_free);
  load_done (self);
}

static void
on_load_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PrdHubRoomRegistry *self = g_task_get_source_object (task);
  Load *load = g_task_get_task_data (task);
  g_autoptr (GTask) build = NULL;
  GError *error = NULL;

  /* Another organization's PRD is as unknown as one that does not exist:
   * the store answered so from its metadata, nothing of it read. */
  load->stored = prd_store_load_finish (PRD_STORE (source), result, &error);
  if (load->stored == NULL)
    {
      if (g_error_matches (error, PRD_ERROR, PRD_ERROR_NOT_FOUND))
        error->code = PRD_ERROR_PRD_NOT_FOUND;
      g_task_return_error (task, error);
      load_done (self);
      return;
    }
  build = g_task_new (self, g_task_get_cancellable (task), on_built, g_object_ref (task));
  g_task_set_source_tag (build, on_load_read);
  g_task_set_task_data (build, load, NULL);
  g_task_run_in_thread (build, build_in_thread);
}

static void
load_start (PrdHubRoomRegistry *self, GTask *task)
{
  Load *load = g_task_get_task_data (task);

  self->loads_running++;
  g_debug ("Document builds running: %u, waiting: %u", self->loads_running,
           self->loads_waiting.length);
  prd_store_load_in_org_async (self->store, load->prd_id, load->org, g_task_get_cancellable (task),
                               on_load_read, task);
}

/**
 * prd_hub_room_registry_load_document_async:
 * @prd_id: the PRD to read
 * @org: the reader's organization: another's PRD is not found
 *
 * Builds the document of @prd_id from the store (snapshot and update log)
 * for a read, on a thread: a large or tombstone-heavy PRD takes tens of
 * milliseconds to rebuild, which the main thread (every room of every
 * organization) must not wait for. At most
 * %PRD_HUB_ROOM_REGISTRY_BUILDS_AT_ONCE loads run at once; up to `[collab]
 * max-queued-loads` more wait, holding nothing but their request, and the
 * next fails with %PRD_ERROR_RATE_LIMITED. An open room's document is not
 * looked at: prd_hub_room_registry_peek_document() answers without a build.
 */
void
prd_hub_room_registry_load_document_async (PrdHubRoomRegistry *self,
                                           const char *prd_id,
                                           const char *org,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data)
{
  GTask *task;
  Load *load;

  g_return_if_fail (PRD_IS_HUB_ROOM_REGISTRY (self));
  g_return_if_fail (prd_id != NULL);
  g_return_if_fail (org != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_hub_room_registry_load_document_async);
  load = g_new0 (Load, 1);
  load->prd_id = g_strdup (prd_id);
  load->org = g_strdup (org);
  g_task_set_task_data (task, load, (GDestroyNotify) load_free);
  if (self->loads_running < PRD_HUB_ROOM_REGISTRY_BUILDS_AT_ONCE)
    {
      load_start (self, task);
      return;
    }
  if (self->loads_waiting.length >= prd_hub_config_get_collab (self->config)->max_queued_loads)
    {
      g_task_return_new_error (task, PRD_ERROR, PRD_ERROR_RATE_LIMITED,
                               "The hub is reading %u PRDs already (max-queued-loads); retry in "
                               "%d second",
                               self->loads_running + self->loads_waiting.length,
                               PRD_HUB_ROOM_REGISTRY_RETRY_LOAD);
      g_object_unref (task);
      return;
    }
  g_queue_push_tail (&self->loads_waiting, task);
}

/**
 * prd_hub_room_registry_load_document_finish:
 * @out_info: (out) (transfer full) (optional): the PRD's metadata as stored
 * @out_text: (out) (transfer full) (optional): the document's text, read
 *   on the thread that built it
 * @out_vector: (out) (transfer full) (optional): its state vector
 *
 * Returns: (transfer full): the document, not tied to any room; %NULL with
 *   @error (%PRD_ERROR_PRD_NOT_FOUND, %PRD_ERROR_RATE_LIMITED, a store's
 *   error)
 */
PrdDocument *
prd_hub_room_registry_load_document_finish (PrdHubRoomRegistry *self,
                                            GAsyncResult *result,
                                            PrdStoreInfo **out_info,
                                            char **out_text,
                                            GArray **out_vector,
                                            GError **error)
{
  Loaded *loaded;
  PrdDocument *document;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  loaded = g_task_propagate_pointer (G_TASK (result), error);
  if (loaded == NULL)
    return NULL;
  document = g_steal_pointer (&loaded->document);
  if (out_info != NULL)
    *out_info = g_steal_pointer (&loaded->info);
  if (out_text != NULL)
    *out_text = g_steal_pointer (&loaded->text);
  if (out_vector != NULL)
    *out_vector = g_steal_pointer (&loaded->vector);
  loaded_free (loaded);
  return document;
}

/* The loads running or waiting (prd_hub_room_registry_load_document_async()). */
guint
prd_hub_room_registry_get_n_loads (PrdHubRoomRegistry *self)
{
  g_return_val_if_fail (PRD_IS_HUB_ROOM_REGISTRY (self), 0);

  return self->loads_running + self->loads_waiting.length;
}
