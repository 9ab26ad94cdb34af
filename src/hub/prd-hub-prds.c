/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The /prds namespace: join-prd, leave-prd, content-update, sync-request and
 * presence-update turned into calls on the core objects (PrdDocument,
 * PrdRoom, PrdBatcher), and their results and signals turned into events.
 *
 * Durability. A room's document is loaded from the store on its first join
 * (snapshot + update log) and released, after a final snapshot, when its
 * last client leaves. A client's operation is integrated at once (the next
 * one is validated against it) and appended to the store; it is acked and
 * broadcast only in the append callback, i.e. after its transaction
 * committed. Appends of one room are kept in a FIFO, so acks and broadcasts
 * leave in the order the operations were integrated even if the store were
 * to complete them out of order. Joins and sync read the committed view of
 * the document only (PrdDocument), so no client ever holds an operation the
 * hub could lose. If an append fails the in-memory document is ahead of the
 * store: the room is closed (every member gets STORAGE and must rejoin) and
 * reloaded from the store on the next join.
 *
 * Core objects emit signals; store persistence is wired here, so core needs
 * neither sockets nor the store.
 */
#define G_LOG_DOMAIN "prd-hub"

#include "config.h"

#include "prd-batcher.h"
#include "prd-error.h"
#include "prd-hub.h"
#include "prd-hub-rest.h"
#include "prd-hub-social.h"
#include "prd-room.h"

#include "prd-hub-prds.h"

#define JOINED_KEY "prd-hub-prds-joined"

typedef struct _Room Room;

struct _PrdHubPrds
{
  GObject parent_instance;

  PrdSioNamespace *nsp; /* (unowned) (nullable): weak pointer */
  PrdStore *store;      /* (owned) */
  PrdHubConfig *config; /* (owned) */
  GHashTable *rooms;    /* prd id → (owned) Room */
  GCancellable *cancellable;
  gulong disconnection_id;
  guint autosave_id;
  PrdHubPrdsJoinedFunc joined_func;
  gpointer joined_data;
  PrdHubPrdsJoinedUserFunc joined_user_func;
  gpointer joined_user_data;
  PrdHubPrdsCommittedFunc committed_func;
  gpointer committed_data;
};

G_DEFINE_FINAL_TYPE (PrdHubPrds, prd_hub_prds, G_TYPE_OBJECT)

enum
{
  SIGNAL_MEMBERS_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

typedef struct
{
  PrdSioSocket *socket; /* (owned) */
  gint64 ack_id;
  gboolean edit;
  int requested_site;
  GArray *client_vector; /* (nullable) */
  PrdIdentity *identity; /* (owned) */
} JoinRequest;

typedef enum
{
  PENDING_OP,
  PENDING_DUPLICATE,
} PendingKind;

typedef struct
{
  PendingKind kind;
  Room *room;           /* (owned) */
  PrdSioSocket *socket; /* (owned) */
  gint64 ack_id;
  PrdCrdtOp *op; /* (owned) (nullable) */
  char *user_id;
  char *user_name;
  JsonNode *vector; /* (owned): the hub's vector right after integration */
  gboolean done;
  gint64 seq;
  GError *error;
  GArray *base; /* (nullable): a client's operation's base vector */
  guint32 client_position;
} Pending;

struct _Room
{
  gatomicrefcount ref_count;
  PrdHubPrds *prds; /* (unowned), NULL once the room is dead */
  char *prd_id;
  char *sio_room;
  gboolean loaded;
  gboolean failed;
  PrdDocument *document;
  PrdRoom *room;
  PrdBatcher *batcher;
  GQueue joins; /* JoinRequest */
  gboolean join_busy;
  GQueue inflight; /* Pending */
  gint64 last_seq;
  guint since_snapshot;
  gboolean snapshotting;
  guint snapshot_covered;
  gint64 unsaved_since;  /* real time of the first change no snapshot covers; 0: none */
  gboolean autosaving;   /* the running snapshot is an auto-save */
  PrdSioSocket *joining; /* (unowned) during prd_room_add_member() */
  guint ai_holds;        /* AI jobs writing here (prd_hub_prds_ai_hold()) */
};

static void room_pump_joins (Room *room);
static void members_changed (Room *room);
static void room_maybe_release (Room *room);
static void autosave_complete (Room *room);

static void
join_request_free (JoinRequest *request)
{
  g_clear_object (&request->socket);
  g_clear_pointer (&request->client_vector, g_array_unref);
  g_clear_pointer (&request->identity, prd_identity_free);
  g_free (request);
}

static Room *
room_ref (Room *room)
{
  g_atomic_ref_count_inc (&room->ref_count);
  return room;
}

static void
room_unref (Room *room)
{
  if (!g_atomic_ref_count_dec (&room->ref_count))
    return;
  g_assert (g_queue_is_empty (&room->inflight));
  g_queue_clear_full (&room->joins, (GDestroyNotify) join_request_free);
  if (room->room != NULL)
    g_signal_handlers_disconnect_by_data (room->room, room);
  if (room->batcher != NULL)
    g_signal_handlers_disconnect_by_data (room->batcher, room);
  g_clear_object (&room->batcher);
  g_clear_object (&room->room);
  g_clear_object (&room->document);
  g_free (room->prd_id);
  g_free (room->sio_room);
  g_free (room);
}

static void
pending_free (Pending *pending)
{
  g_clear_pointer (&pending->room, room_unref);
  g_clear_object (&pending->socket);
  g_clear_pointer (&pending->op, prd_crdt_op_free);
  g_free (pending->user_id);
  g_free (pending->user_name);
  g_clear_pointer (&pending->vector, json_node_unref);
  g_clear_pointer (&pending->base, g_array_unref);
  g_clear_error (&pending->error);
  g_free (pending);
}

/* ---- replies ----------------------------------------------------------- */

JsonNode *
prd_hub_vector_to_json (GArray *vector)
{
  return prd_crdt_vector_to_json ((const guint32 *) vector->data, vector->len);
}

static void
reply_error (
    PrdSioSocket *socket, gint64 ack_id, const char *event, const char *prd_id, const GError *error)
{
  g_autoptr (JsonNode) payload = prd_hub_error_to_json (error);
  JsonObject *object = json_node_get_object (payload);

  json_object_set_string_member (object, "event", event);
  if (prd_id != NULL)
    json_object_set_string_member (object, "prdId", prd_id);
  if (prd_sio_socket_is_connected (socket))
    prd_sio_socket_emit_one (socket, "error", payload);
  if (ack_id >= 0)
    {
      g_autoptr (JsonBuilder) builder = json_builder_new ();
      g_autoptr (JsonNode) ack = NULL;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "error");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "code");
      json_builder_add_string_value (builder, prd_error_get_protocol_code (error));
      json_builder_set_member_name (builder, "message");
      json_builder_add_string_value (builder, error->message);
      json_builder_end_object (builder);
      json_builder_end_object (builder);
      ack = json_builder_get_root (builder);
      prd_sio_socket_ack_one (socket, ack_id, ack);
    }
}

/* For the other /prds handlers (prd-hub-versions.c): the same error reply. */
void
prd_hub_reply_error (
    PrdSioSocket *socket, gint64 ack_id, const char *event, const char *prd_id, const GError *error)
{
  reply_error (socket, ack_id, event, prd_id, error);
}

static void
reply_error_literal (PrdSioSocket *socket,
                     gint64 ack_id,
                     const char *event,
                     const char *prd_id,
                     PrdErrorCode code,
                     const char *message)
{
  g_autoptr (GError) error = g_error_new_literal (PRD_ERROR, code, message);

  reply_error (socket, ack_id, event, prd_id, error);
}

/* @members: (transfer full) (nullable) a JSON object of extra ack members */
static void
reply_ok (PrdSioSocket *socket, gint64 ack_id, JsonObject *members)
{
  g_autoptr (JsonNode) ack = json_node_new (JSON_NODE_OBJECT);
  JsonObject *object = members != NULL ? members : json_object_new ();

  if (ack_id < 0)
    {
      json_object_unref (object);
      return;
    }
  json_object_set_boolean_member (object, "ok", TRUE);
  json_node_take_object (ack, object);
  prd_sio_socket_ack_one (socket, ack_id, ack);
}

/* ---- payload parsing ------------------------------------------------------ */

static JsonObject *
get_payload (PrdSioSocket *socket,
             const char *event,
             JsonArray *args,
             gint64 ack_id,
             const char **out_prd_id)
{
  JsonNode *payload, *id_node;
  JsonObject *object;
  g_autoptr (GError) error = NULL;

  *out_prd_id = NULL;
  payload = json_array_get_length (args) > 0 ? json_array_get_element (args, 0) : NULL;
  if (payload == NULL || !JSON_NODE_HOLDS_OBJECT (payload))
    {
      reply_error_literal (socket, ack_id, event, NULL, PRD_ERROR_INVALID_PAYLOAD,
                           "The payload must be an object");
      return NULL;
    }
  object = json_node_get_object (payload);
  id_node = json_object_get_member (object, "prdId");
  if (id_node == NULL || !JSON_NODE_HOLDS_VALUE (id_node) ||
      json_node_get_value_type (id_node) != G_TYPE_STRING)
    {
      reply_error_literal (socket, ack_id, event, NULL, PRD_ERROR_INVALID_PAYLOAD,
                           "prdId must be a string");
      return NULL;
    }
  if (!prd_store_validate_prd_id (json_node_get_string (id_node), &error))
    {
      reply_error (socket, ack_id, event, NULL, error);
      return NULL;
    }
  *out_prd_id = json_node_get_string (id_node);
  return object;
}

static GHashTable *
socket_joined (PrdSioSocket *socket)
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

/* The room @socket has joined under @prd_id, or NULL after replying NOT_JOINED. */
static Room *
joined_room (
    PrdHubPrds *self, PrdSioSocket *socket, const char *event, const char *prd_id, gint64 ack_id)
{
  Room *room = g_hash_table_lookup (self->rooms, prd_id);

  if (room == NULL || room->room == NULL ||
      !prd_room_has_member (room->room, prd_sio_socket_get_id (socket)))
    {
      reply_error_literal (socket, ack_id, event, prd_id, PRD_ERROR_NOT_JOINED,
                           "Join the PRD first (join-prd)");
      return NULL;
    }
  return room;
}

/* ---- rooms ---------------------------------------------------------------- */

static void
members_changed (Room *room)
{
  if (room->prds != NULL)
    g_signal_emit (room->prds, signals[SIGNAL_MEMBERS_CHANGED], 0, room->prd_id);
}

static void
on_user_joined (PrdRoom *prd_room, const char *user_id, gpointer user_data)
{
  Room *room = user_data;
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) payload = NULL;

  if (room->prds == NULL)
    return;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "prdId");
  json_builder_add_string_value (builder, room->prd_id);
  json_builder_set_member_name (builder, "user");
  json_builder_add_value (builder, prd_room_build_user (prd_room, user_id, FALSE));
  json_builder_end_object (builder);
  payload = json_builder_get_root (builder);
  prd_sio_namespace_emit_one (room->prds->nsp, room->sio_room, room->joining, "user-joined",
                              payload);
}

static void
on_user_left (PrdRoom *prd_room, const char *user_id, const char *name, gpointer user_data)
{
  Room *room = user_data;
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) payload = NULL;

  if (room->prds == NULL)
    return;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "prdId");
  json_builder_add_string_value (builder, room->prd_id);
  json_builder_set_member_name (builder, "userId");
  json_builder_add_string_value (builder, user_id);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, name);
  json_builder_end_object (builder);
  payload = json_builder_get_root (builder);
  prd_sio_namespace_emit_one (room->prds->nsp, room->sio_room, NULL, "user-left", payload);
}

static JsonNode *
batch_entry (PrdBatchItem *item, Room *room)
{
  g_autoptr (JsonNode) payload = NULL;
  JsonObject *entry = json_object_new ();
  JsonNode *node;
  JsonObjectIter iter;
  const char *name;
  JsonNode *value;

  if (g_str_equal (item->type, "presence-update"))
    {
      /* Resolved now, against the text the batch's content updates produce. */
      payload = prd_room_build_presence (room->room, item->origin);
      if (payload == NULL)
        {
          json_object_unref (entry);
          return NULL;
        }
    }
  else
    payload = json_node_ref (item->payload);

  json_object_set_string_member (entry, "type", item->type);
  json_object_iter_init (&iter, json_node_get_object (payload));
  while (json_object_iter_next (&iter, &name, &value))
    json_object_set_member (entry, name, json_node_copy (value));
  node = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (node, entry);
  return node;
}

static void
on_batch_flush (PrdBatcher *batcher, GPtrArray *items, const char *batch_id, gpointer user_data)
{
  Room *room = user_data;
  g_autoptr (GPtrArray) sockets = NULL;
  g_autoptr (GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  g_autofree char *timestamp = prd_hub_timestamp_now ();

  if (room->prds == NULL)
    return;
  for (guint i = 0; i < items->len; i++)
    g_ptr_array_add (entries, batch_entry (g_ptr_array_index (items, i), room));

  sockets = prd_sio_namespace_get_room_sockets (room->prds->nsp, room->sio_room);
  for (guint s = 0; sockets != NULL && s < sockets->len; s++)
    {
      PrdSioSocket *socket = g_ptr_array_index (sockets, s);
      const char *id = prd_sio_socket_get_id (socket);
      g_autoptr (JsonNode) payload = json_node_new (JSON_NODE_OBJECT);
      JsonObject *object = json_object_new ();
      JsonArray *updates = json_array_new ();

      for (guint i = 0; i < items->len; i++)
        {
          PrdBatchItem *item = g_ptr_array_index (items, i);
          JsonNode *entry = g_ptr_array_index (entries, i);

          if (entry != NULL && g_strcmp0 (item->origin, id) != 0)
            json_array_add_element (updates, json_node_copy (entry));
        }
      if (json_array_get_length (updates) == 0)
        {
          json_array_unref (updates);
          json_object_unref (object);
          continue;
        }
      json_object_set_string_member (object, "prdId", room->prd_id);
      json_object_set_array_member (object, "updates", updates);
      json_object_set_string_member (object, "batchId", batch_id);
      json_object_set_string_member (object, "timestamp", timestamp);
      json_node_take_object (payload, object);
      prd_sio_socket_emit_one (socket, "batch-update", payload);
    }
}

/* Sends @payload to the room except @origin, now or in the next batch. */
static void
room_broadcast (
    Room *room, PrdSioSocket *origin, const char *event, const char *key, JsonNode *payload)
{
  if (prd_batcher_submit (room->batcher, event,
                          origin != NULL ? prd_sio_socket_get_id (origin) : NULL, key, payload,
                          g_get_monotonic_time ()))
    prd_sio_namespace_emit_one (room->prds->nsp, room->sio_room, origin, event, payload);
}

static Room *
room_new (PrdHubPrds *self, const char *prd_id)
{
  Room *room = g_new0 (Room, 1);

  g_atomic_ref_count_init (&room->ref_count);
  room->prds = self;
  room->prd_id = g_strdup (prd_id);
  room->sio_room = prd_hub_prds_room_name (prd_id);
  g_queue_init (&room->joins);
  g_queue_init (&room->inflight);
  room->batcher = prd_batcher_new (self->config->batch_threshold, self->config->batch_interval);
  g_signal_connect (room->batcher, "flush", G_CALLBACK (on_batch_flush), room);
  return room;
}

/* Forgets @room (the table's reference goes); nothing is written. */
static void
room_drop (Room *room)
{
  PrdHubPrds *self = room->prds;

  if (self == NULL)
    return;
  g_debug ("Releasing %s", room->prd_id);
  room->prds = NULL;
  if (room->batcher != NULL)
    g_signal_handlers_disconnect_by_data (room->batcher, room);
  g_clear_object (&room->batcher);
  g_hash_table_remove (self->rooms, room->prd_id);
}

static void
fail_joins (Room *room, const GError *error)
{
  JoinRequest *request;

  while ((request = g_queue_pop_head (&room->joins)) != NULL)
    {
      reply_error (request->socket, request->ack_id, "join-prd", room->prd_id, error);
      join_request_free (request);
    }
}

static void
on_sites_listed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GPtrArray) sites = NULL;
  g_autoptr (GError) error = NULL;
  Room *room = user_data;

  sites = prd_store_list_sites_finish (PRD_STORE (source), result, &error);
  if (room->prds == NULL)
    {
      room_unref (room);
      return;
    }
  if (sites == NULL)
    {
      g_warning ("Cannot read the sites of %s: %s", room->prd_id, error->message);
      fail_joins (room, error);
      room_drop (room);
      room_unref (room);
      return;
    }
  for (guint i = 0; i < sites->len; i++)
    {
      PrdStoreSite *site = g_ptr_array_index (sites, i);

      prd_document_set_site_owner (room->document, site->site, site->user_id);
    }
  room->room = prd_room_new (room->document);
  g_signal_connect (room->room, "user-joined", G_CALLBACK (on_user_joined), room);
  g_signal_connect (room->room, "user-left", G_CALLBACK (on_user_left), room);
  room->loaded = TRUE;
  room_pump_joins (room);
  room_maybe_release (room);
  room_unref (room);
}

/**
 * prd_hub_document_from_store:
 *
 * Rebuilds a document exactly from its stored snapshot and update log.
 */
PrdDocument *
prd_hub_document_from_store (PrdStoreDocument *stored, GError **error)
{
  g_autoptr (PrdDocument) document = NULL;
  PrdStoreInfo *info = stored->info;

  document = prd_document_new (info->id, info->org, info->title, info->version);
  if (stored->snapshot != NULL && !prd_document_load_state (document, stored->snapshot, error))
    {
      g_prefix_error (error, "%s: snapshot: ", info->id);
      return NULL;
    }
  for (guint i = 0; stored->updates != NULL && i < stored->updates->len; i++)
    {
      PrdStoreUpdate *update = g_ptr_array_index (stored->updates, i);

      if (!prd_document_replay (document, update->payload, update->user_id, error))
        {
          g_prefix_error (error, "%s: update %" G_GINT64_FORMAT ": ", info->id, update->seq);
          return NULL;
        }
    }
  return g_steal_pointer (&document);
}

static void
on_loaded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PrdStoreDocument) stored = NULL;
  g_autoptr (GError) error = NULL;
  Room *room = user_data;

  stored = prd_store_load_finish (PRD_STORE (source), result, &error);
  if (room->prds == NULL)
    {
      room_unref (room);
      return;
    }
  if (stored != NULL)
    room->document = prd_hub_document_from_store (stored, &error);
  if (room->document == NULL)
    {
      if (g_error_matches (error, PRD_ERROR, PRD_ERROR_NOT_FOUND))
        error->code = PRD_ERROR_PRD_NOT_FOUND;
      else if (!g_error_matches (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND))
        g_warning ("Cannot load %s: %s", room->prd_id, error->message);
      fail_joins (room, error);
      room_drop (room);
      room_unref (room);
      return;
    }
  room->last_seq = stored->info->last_seq;
  prd_store_list_sites_async (room->prds->store, room->prd_id, room->prds->cancellable,
                              on_sites_listed, room);
}

static Room *
room_get (PrdHubPrds *self, const char *prd_id)
{
  Room *room = g_hash_table_lookup (self->rooms, prd_id);

  if (room != NULL)
    return room;
  room = room_new (self, prd_id);
  g_hash_table_insert (self->rooms, room->prd_id, room);
  prd_store_load_async (self->store, prd_id, self->cancellable, on_loaded, room_ref (room));
  return room;
}

static void
autosave_complete (Room *room)
{
  g_autoptr (JsonNode) payload = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *saved_at = prd_hub_timestamp_now ();
  JsonObject *object = json_object_new ();

  json_node_take_object (payload, object);
  json_object_set_string_member (object, "prdId", room->prd_id);
  json_object_set_string_member (object, "savedAt", saved_at);
  json_object_set_int_member (object, "nextSaveIn", room->prds->config->autosave_interval);
  prd_sio_namespace_emit_one (room->prds->nsp, room->sio_room, NULL, "auto-save-complete", payload);
}

static void
on_snapshot_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  Room *room = user_data;

  if (!prd_store_write_snapshot_finish (PRD_STORE (source), result, &error))
    g_warning ("Cannot write the snapshot of %s: %s", room->prd_id, error->message);
  room->snapshotting = FALSE;
  if (error == NULL)
    room->since_snapshot -= MIN (room->snapshot_covered, room->since_snapshot);
  if (error == NULL && room->since_snapshot == 0)
    room->unsaved_since = 0;
  if (room->autosaving && room->prds != NULL && error == NULL)
    autosave_complete (room);
  room->autosaving = FALSE;
  if (room->prds != NULL)
    room_maybe_release (room);
  room_unref (room);
}

static void
room_snapshot (Room *room)
{
  g_autoptr (GBytes) state = NULL;

  g_assert (g_queue_is_empty (&room->inflight));
  if (room->snapshotting || room->failed || room->since_snapshot == 0)
    return;
  room->snapshotting = TRUE;
  /* The whole history stays in the snapshot: sync-request serves old
   * vectors from it after the log behind it is compacted. */
  state =
      prd_crdt_doc_encode_state (prd_document_get_crdt (room->document), PRD_CRDT_ENCODE_DEFAULT);
  g_debug ("Snapshot of %s at update %" G_GINT64_FORMAT, room->prd_id, room->last_seq);
  room->snapshot_covered = room->since_snapshot;
  prd_store_write_snapshot_async (room->prds->store, room->prd_id, state, room->last_seq, NULL,
                                  on_snapshot_written, room_ref (room));
}

/* Releases @room when nobody is in it and nothing is under way; the
 * document is snapshotted first. */
static void
room_maybe_release (Room *room)
{
  if (room->prds == NULL || !room->loaded)
    return;
  if (prd_room_get_n_members (room->room) > 0 || !g_queue_is_empty (&room->joins) ||
      room->join_busy || !g_queue_is_empty (&room->inflight) || room->snapshotting ||
      room->ai_holds > 0)
    return;
  if (room->since_snapshot > 0 && !room->failed)
    {
      room_snapshot (room);
      return;
    }
  room_drop (room);
}

/* Closes a room whose memory is ahead of the store: everyone must rejoin. */
static void
room_fail (Room *room, const GError *error)
{
  g_autoptr (GPtrArray) sockets = NULL;

  if (room->prds == NULL)
    return;
  g_warning ("Closing %s: %s", room->prd_id, error->message);
  sockets = prd_sio_namespace_get_room_sockets (room->prds->nsp, room->sio_room);
  for (guint i = 0; sockets != NULL && i < sockets->len; i++)
    {
      PrdSioSocket *socket = g_ptr_array_index (sockets, i);

      reply_error (socket, -1, "content-update", room->prd_id, error);
      prd_sio_socket_leave (socket, room->sio_room);
      g_hash_table_remove (socket_joined (socket), room->prd_id);
    }
  g_signal_handlers_disconnect_by_data (room->room, room);
  fail_joins (room, error);
  room_drop (room);
}

static JsonNode *
build_initial_state (Room *room)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (GArray) vector = prd_document_get_committed_vector (room->document);
  g_autoptr (GBytes) state = NULL;
  g_autofree char *text = prd_document_get_committed_text (room->document);
  g_autofree char *encoded = NULL;

  state =
      prd_crdt_doc_encode_state (prd_document_get_crdt (room->document), PRD_CRDT_ENCODE_DEFAULT);
  encoded = g_base64_encode (g_bytes_get_data (state, NULL), g_bytes_get_size (state));
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "content");
  json_builder_add_string_value (builder, text != NULL ? text : "");
  json_builder_set_member_name (builder, "version");
  json_builder_add_string_value (builder, prd_document_get_version (room->document));
  json_builder_set_member_name (builder, "stateVector");
  json_builder_add_value (builder, prd_hub_vector_to_json (vector));
  json_builder_set_member_name (builder, "encodedState");
  json_builder_add_string_value (builder, encoded);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static void
send_joined (Room *room, JoinRequest *request, int site, int previous_site)
{
  const PrdIdentity *identity = request->identity;
  const char *conn_id = prd_sio_socket_get_id (request->socket);
  g_autoptr (JsonNode) payload = NULL;
  g_autoptr (GArray) vector = NULL;
  JsonObject *object, *ack;

  if (!prd_room_has_member (room->room, conn_id))
    {
      /* The joiner's initial state already holds what a pending batch
       * carries: send the batch to the others before the joiner is in. */
      if (room->batcher != NULL && prd_batcher_get_n_queued (room->batcher) > 0)
        prd_batcher_flush (room->batcher, g_get_monotonic_time ());
      prd_sio_socket_join (request->socket, room->sio_room);
      room->joining = request->socket;
      prd_room_add_member (room->room, conn_id, identity->user_id, identity->name, identity->avatar,
                           request->edit, site);
      room->joining = NULL;
      g_hash_table_add (socket_joined (request->socket), g_strdup (room->prd_id));
      members_changed (room);
    }
  site = prd_room_member_get_site (room->room, conn_id);

  payload = json_node_new (JSON_NODE_OBJECT);
  object = json_object_new ();
  json_node_take_object (payload, object);
  json_object_set_string_member (object, "prdId", room->prd_id);
  json_object_set_member (object, "initialState", build_initial_state (room));
  json_object_set_member (object, "activeUsers", prd_room_build_active_users (room->room));
  if (site >= 0)
    json_object_set_int_member (object, "siteId", site);
  json_object_set_string_member (object, "title", prd_document_get_title (room->document));
  json_object_set_string_member (object, "mode",
                                 prd_room_member_can_edit (room->room, conn_id) ? "edit" : "view");
  if (room->prds->joined_func != NULL)
    room->prds->joined_func (room->prd_id, room->document, object, room->prds->joined_data);
  if (room->prds->joined_user_func != NULL)
    room->prds->joined_user_func (room, request->socket, identity->user_id, object,
                                  room->prds->joined_user_data);
  if (previous_site >= 0)
    {
      JsonObject *conflict = json_object_new ();
      g_autofree char *message =
          g_strdup_printf ("Site %d is held by another connection or user; use site %d and "
                           "re-apply your pending edits",
                           previous_site, site);

      json_object_set_string_member (conflict, "code", "SITE_CONFLICT");
      json_object_set_string_member (conflict, "message", message);
      json_object_set_int_member (conflict, "previousSiteId", previous_site);
      json_object_set_object_member (object, "siteConflict", conflict);
    }
  prd_sio_socket_emit_one (request->socket, "joined-prd", payload);

  ack = json_object_new ();
  if (site >= 0)
    json_object_set_int_member (ack, "siteId", site);
  vector = prd_document_get_committed_vector (room->document);
  json_object_set_member (ack, "stateVector", prd_hub_vector_to_json (vector));
  reply_ok (request->socket, request->ack_id, ack);
}

typedef struct
{
  Room *room;
  JoinRequest *request;
  int previous_site;
} Acquire;

static void
on_site_acquired (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Acquire *acquire = user_data;
  Room *room = acquire->room;
  JoinRequest *request = acquire->request;
  g_autoptr (PrdStoreSite) site = NULL;
  g_autoptr (GError) error = NULL;

  site = prd_store_acquire_site_finish (PRD_STORE (source), result, &error);
  room->join_busy = FALSE;
  if (room->prds != NULL)
    {
      if (site == NULL)
        reply_error (request->socket, request->ack_id, "join-prd", room->prd_id, error);
      else if (site->site >= PRD_CRDT_MAX_SITES)
        reply_error_literal (request->socket, request->ack_id, "join-prd", room->prd_id,
                             PRD_ERROR_INVALID_OPERATION, "This PRD has run out of sites");
      else
        {
          prd_document_set_site_owner (room->document, site->site, site->user_id);
          if (prd_sio_socket_is_connected (request->socket))
            send_joined (room, request, site->site,
                         acquire->previous_site != site->site ? acquire->previous_site : -1);
        }
      room_pump_joins (room);
      room_maybe_release (room);
    }
  join_request_free (request);
  room_unref (room);
  g_free (acquire);
}

/* Processes queued joins in order; a site acquisition is asynchronous and
 * the next join waits for it, so two tabs of a user never get one site. */
static void
room_pump_joins (Room *room)
{
  JoinRequest *request;

  while (room->prds != NULL && room->loaded && !room->join_busy &&
         (request = g_queue_pop_head (&room->joins)) != NULL)
    {
      const PrdIdentity *identity = request->identity;
      const char *conn_id = prd_sio_socket_get_id (request->socket);
      int requested = request->requested_site;
      int previous_site = -1;
      g_autoptr (GArray) busy = NULL;
      Acquire *acquire;

      if (!prd_sio_socket_is_connected (request->socket))
        {
          join_request_free (request);
          continue;
        }
      if (!g_str_equal (identity->org, prd_document_get_org (room->document)))
        {
          /* Indistinguishable from an unknown id, on purpose. */
          g_autofree char *message = g_strdup_printf ("No PRD %s", room->prd_id);

          reply_error_literal (request->socket, request->ack_id, "join-prd", room->prd_id,
                               PRD_ERROR_PRD_NOT_FOUND, message);
          join_request_free (request);
          continue;
        }
      if (prd_room_has_member (room->room, conn_id) || !request->edit)
        {
          send_joined (room, request, -1, -1);
          join_request_free (request);
          continue;
        }

      if (requested >= 0)
        {
          const char *owner = prd_document_get_site_owner (room->document, requested);
          guint32 hub_ops =
              prd_crdt_doc_get_site_ops (prd_document_get_crdt (room->document), requested);
          guint32 client_ops =
              request->client_vector != NULL && (guint) requested < request->client_vector->len
                  ? g_array_index (request->client_vector, guint32, requested)
                  : 0;

          if (g_strcmp0 (owner, identity->user_id) == 0 &&
              !prd_room_site_is_held (room->room, requested))
            {
              send_joined (room, request, requested, -1);
              join_request_free (request);
              continue;
            }
          if (client_ops > hub_ops)
            previous_site = requested;
        }

      room->join_busy = TRUE;
      busy = prd_room_get_busy_sites (room->room);
      acquire = g_new0 (Acquire, 1);
      acquire->room = room_ref (room);
      acquire->request = request;
      acquire->previous_site = previous_site;
      prd_store_acquire_site_async (room->prds->store, room->prd_id, identity->user_id,
                                    (const int *) busy->data, busy->len, room->prds->cancellable,
                                    on_site_acquired, acquire);
    }
}

static void
room_leave (Room *room, PrdSioSocket *socket)
{
  const char *conn_id = prd_sio_socket_get_id (socket);

  prd_sio_socket_leave (socket, room->sio_room);
  g_hash_table_remove (socket_joined (socket), room->prd_id);
  if (room->room != NULL)
    {
      g_autofree char *user_id = g_strdup (prd_room_member_get_user_id (room->room, conn_id));
      const char *remaining;

      prd_room_remove_member (room->room, conn_id);
      /* The user stays through another tab (no user-left): the others may
       * still show the cursor of the tab that left, so they are told where
       * the user is now. */
      remaining = user_id != NULL ? prd_room_get_latest_member (room->room, user_id) : NULL;
      if (remaining != NULL)
        {
          g_autoptr (JsonNode) relay = prd_room_build_presence (room->room, remaining);

          json_object_set_int_member (json_node_get_object (relay), "timestamp",
                                      g_get_real_time () / 1000);
          room_broadcast (room, socket, "presence-update", user_id, relay);
        }
      members_changed (room);
    }
  room_maybe_release (room);
}

/* ---- content ------------------------------------------------------------ */

static void room_settle (Room *room);

static void
on_appended (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Pending *pending = user_data;
  Room *room = pending->room;

  pending->seq = prd_store_append_update_finish (PRD_STORE (source), result, &pending->error);
  pending->done = TRUE;
  room_settle (room);
}

static void
settle_one (Room *room, Pending *pending)
{
  g_autoptr (JsonNode) payload = NULL;
  JsonObject *ack;

  /* After a failed append, nothing behind it is confirmed: a repeat of an
   * operation that was never stored is no success either. */
  if (pending->error != NULL || room->failed)
    {
      if (pending->error == NULL)
        g_set_error_literal (&pending->error, PRD_ERROR, PRD_ERROR_STORAGE,
                             "An earlier operation could not be stored");
      else if (pending->error->domain != PRD_ERROR)
        {
          g_autofree char *message = g_strdup (pending->error->message);

          g_clear_error (&pending->error);
          g_set_error (&pending->error, PRD_ERROR, PRD_ERROR_STORAGE, "Cannot store: %s", message);
        }
      room->failed = TRUE;
      if (pending->socket != NULL)
        reply_error (pending->socket, pending->ack_id, "content-update", room->prd_id,
                     pending->error);
      return;
    }
  if (pending->kind == PENDING_DUPLICATE)
    {
      g_autoptr (GArray) vector = prd_document_get_committed_vector (room->document);

      ack = json_object_new ();
      json_object_set_member (ack, "stateVector", prd_hub_vector_to_json (vector));
      json_object_set_boolean_member (ack, "duplicate", TRUE);
      reply_ok (pending->socket, pending->ack_id, ack);
      return;
    }

  prd_document_commit (room->document, pending->op->site, pending->op->seq);
  room->last_seq = pending->seq;
  room->since_snapshot++;
  if (room->unsaved_since == 0)
    room->unsaved_since = g_get_real_time ();

  payload = json_node_new (JSON_NODE_OBJECT);
  {
    JsonObject *object = json_object_new ();

    json_node_take_object (payload, object);
    json_object_set_string_member (object, "prdId", room->prd_id);
    json_object_set_string_member (object, "userId", pending->user_id);
    json_object_set_string_member (object, "userName", pending->user_name);
    json_object_set_member (object, "operation", prd_crdt_op_to_json (pending->op));
    json_object_set_member (object, "stateVector", json_node_ref (pending->vector));
  }
  if (room->prds != NULL)
    room_broadcast (room, pending->socket, "content-update", NULL, payload);
  if (room->prds != NULL && pending->base != NULL && room->prds->committed_func != NULL)
    room->prds->committed_func (room, room->prd_id, pending->op, pending->base,
                                pending->client_position, pending->user_id, pending->user_name,
                                room->prds->committed_data);

  if (pending->socket == NULL) /* the hub's AI site: nobody to acknowledge */
    return;
  ack = json_object_new ();
  json_object_set_member (ack, "stateVector", json_node_ref (pending->vector));
  reply_ok (pending->socket, pending->ack_id, ack);
}

static void
room_settle (Room *room)
{
  Pending *pending;

  room_ref (room);
  while ((pending = g_queue_peek_head (&room->inflight)) != NULL && pending->done)
    {
      g_queue_pop_head (&room->inflight);
      settle_one (room, pending);
      pending_free (pending);
    }
  if (g_queue_is_empty (&room->inflight) && room->prds != NULL)
    {
      if (room->failed)
        {
          g_autoptr (GError) error =
              g_error_new_literal (PRD_ERROR, PRD_ERROR_STORAGE,
                                   "The PRD could not be stored and was closed; join it again");

          room_fail (room, error);
        }
      else if (room->since_snapshot >= room->prds->config->snapshot_every)
        room_snapshot (room);
      room_maybe_release (room);
    }
  room_unref (room);
}

static void
on_content_update (PrdSioSocket *socket,
                   const char *event,
                   JsonArray *args,
                   GPtrArray *attachments,
                   gint64 ack_id,
                   gpointer user_data)
{
  PrdHubPrds *self = user_data;
  const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
  const char *conn_id = prd_sio_socket_get_id (socket);
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdCrdtOp) op = NULL;
  g_autoptr (GArray) vector = NULL;
  g_autoptr (GBytes) encoded = NULL;
  const char *prd_id;
  JsonObject *payload;
  gboolean duplicate = FALSE;
  Pending *pending;
  Room *room;
  int site;

  payload = get_payload (socket, event, args, ack_id, &prd_id);
  if (payload == NULL)
    return;
  room = joined_room (self, socket, event, prd_id, ack_id);
  if (room == NULL)
    return;
  if (!prd_room_member_can_edit (room->room, conn_id))
    {
      reply_error_literal (socket, ack_id, event, prd_id, PRD_ERROR_FORBIDDEN,
                           identity->role == PRD_ROLE_VIEWER
                               ? "Viewers cannot change content"
                               : "Joined in view mode; join in edit mode to change content");
      return;
    }
  if (room->failed)
    {
      reply_error_literal (socket, ack_id, event, prd_id, PRD_ERROR_STORAGE,
                           "The PRD could not be stored; join it again");
      return;
    }
  site = prd_room_member_get_site (room->room, conn_id);
  op = prd_document_apply_client_operation (
      room->document, json_object_get_member (payload, "operation"),
      json_object_get_member (payload, "stateVector"), (guint32) site, identity->user_id,
      self->config->max_operation_size, &duplicate, &error);
  if (op == NULL && !duplicate)
    {
      reply_error (socket, ack_id, event, prd_id, error);
      return;
    }

  pending = g_new0 (Pending, 1);
  pending->room = room_ref (room);
  pending->socket = g_object_ref (socket);
  pending->ack_id = ack_id;
  if (duplicate)
    {
      pending->kind = PENDING_DUPLICATE;
      pending->done = TRUE;
      g_queue_push_tail (&room->inflight, pending);
      room_settle (room);
      return;
    }
  pending->kind = PENDING_OP;
  pending->user_id = g_strdup (identity->user_id);
  pending->user_name = g_strdup (identity->name);
  vector = prd_crdt_doc_get_state_vector (prd_document_get_crdt (room->document));
  pending->vector = prd_hub_vector_to_json (vector);
  pending->base = prd_crdt_vector_from_json (json_object_get_member (payload, "stateVector"), NULL);
  if (pending->base != NULL && pending->base->len > (guint) site)
    g_array_index (pending->base, guint32, site) = op->seq - 1;
  pending->client_position = (guint32) json_object_get_int_member (
      json_object_get_object_member (payload, "operation"), "position");
  encoded = prd_crdt_ops_encode (&op, 1);
  pending->op = g_steal_pointer (&op);
  g_queue_push_tail (&room->inflight, pending);
  prd_store_append_update_async (self->store, prd_id, site, pending->op->seq, identity->user_id,
                                 encoded, NULL, on_appended, pending);
}

/* ---- the other events ------------------------------------------------------ */

static gboolean
parse_join (JsonObject *payload, JoinRequest *request, GError **error)
{
  JsonNode *mode = json_object_get_member (payload, "mode");
  JsonNode *site = json_object_get_member (payload, "siteId");
  JsonNode *vector = json_object_get_member (payload, "stateVector");

  request->edit = request->identity->role != PRD_ROLE_VIEWER;
  if (mode != NULL && !JSON_NODE_HOLDS_NULL (mode))
    {
      const char *value;

      if (!JSON_NODE_HOLDS_VALUE (mode) || json_node_get_value_type (mode) != G_TYPE_STRING ||
          (!g_str_equal ((value = json_node_get_string (mode)), "edit") &&
           !g_str_equal (value, "view")))
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                               "mode must be \"view\" or \"edit\"");
          return FALSE;
        }
      request->edit = g_str_equal (value, "edit");
    }
  request->requested_site = -1;
  if (site != NULL && !JSON_NODE_HOLDS_NULL (site))
    {
      if (!JSON_NODE_HOLDS_VALUE (site) || json_node_get_value_type (site) != G_TYPE_INT64 ||
          json_node_get_int (site) < 0 || json_node_get_int (site) >= PRD_CRDT_MAX_SITES)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                       "siteId must be an integer between 0 and %d", PRD_CRDT_MAX_SITES - 1);
          return FALSE;
        }
      request->requested_site = (int) json_node_get_int (site);
    }
  if (vector != NULL && !JSON_NODE_HOLDS_NULL (vector))
    {
      g_autoptr (GError) local_error = NULL;

      request->client_vector = prd_crdt_vector_from_json (vector, &local_error);
      if (request->client_vector == NULL)
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, local_error->message);
          return FALSE;
        }
    }
  if (request->edit && request->identity->role == PRD_ROLE_VIEWER)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_FORBIDDEN,
                           "Viewers may join in view mode only");
      return FALSE;
    }
  return TRUE;
}

static void
on_join_prd (PrdSioSocket *socket,
             const char *event,
             JsonArray *args,
             GPtrArray *attachments,
             gint64 ack_id,
             gpointer user_data)
{
  PrdHubPrds *self = user_data;
  JoinRequest *request;
  g_autoptr (GError) error = NULL;
  const char *prd_id;
  JsonObject *payload;
  Room *room;

  payload = get_payload (socket, event, args, ack_id, &prd_id);
  if (payload == NULL)
    return;
  request = g_new0 (JoinRequest, 1);
  request->socket = g_object_ref (socket);
  request->ack_id = ack_id;
  request->identity = prd_identity_copy (prd_hub_socket_get_identity (socket));
  if (!parse_join (payload, request, &error))
    {
      reply_error (socket, ack_id, event, prd_id, error);
      join_request_free (request);
      return;
    }
  room = room_get (self, prd_id);
  g_queue_push_tail (&room->joins, request);
  room_pump_joins (room);
  /* A refused join (another organization's PRD) may leave the room empty. */
  room_maybe_release (room);
}

static void
on_leave_prd (PrdSioSocket *socket,
              const char *event,
              JsonArray *args,
              GPtrArray *attachments,
              gint64 ack_id,
              gpointer user_data)
{
  PrdHubPrds *self = user_data;
  const char *prd_id;
  Room *room;

  if (get_payload (socket, event, args, ack_id, &prd_id) == NULL)
    return;
  room = joined_room (self, socket, event, prd_id, ack_id);
  if (room == NULL)
    return;
  reply_ok (socket, ack_id, NULL);
  room_leave (room, socket);
}

static void
on_sync_request (PrdSioSocket *socket,
                 const char *event,
                 JsonArray *args,
                 GPtrArray *attachments,
                 gint64 ack_id,
                 gpointer user_data)
{
  PrdHubPrds *self = user_data;
  g_autoptr (GPtrArray) updates = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) vector = NULL;
  g_autoptr (JsonNode) response = NULL;
  JsonObject *object, *ack;
  JsonArray *missing;
  const char *prd_id;
  JsonObject *payload;
  gboolean full = FALSE;
  Room *room;

  payload = get_payload (socket, event, args, ack_id, &prd_id);
  if (payload == NULL)
    return;
  room = joined_room (self, socket, event, prd_id, ack_id);
  if (room == NULL)
    return;
  updates = prd_document_get_missing (
      room->document, json_object_get_member (payload, "stateVector"), &full, &error);
  if (updates == NULL)
    {
      reply_error (socket, ack_id, event, prd_id, error);
      return;
    }

  vector = prd_document_get_committed_vector (room->document);
  response = json_node_new (JSON_NODE_OBJECT);
  object = json_object_new ();
  json_node_take_object (response, object);
  json_object_set_string_member (object, "prdId", prd_id);
  missing = json_array_new ();
  for (guint i = 0; i < updates->len; i++)
    {
      PrdDocumentUpdate *update = g_ptr_array_index (updates, i);
      JsonObject *entry = json_object_new ();

      json_object_set_member (entry, "operation", prd_crdt_op_to_json (update->op));
      json_object_set_int_member (entry, "timestamp", update->timestamp);
      if (update->user_id != NULL)
        json_object_set_string_member (entry, "userId", update->user_id);
      else
        json_object_set_null_member (entry, "userId");
      json_array_add_object_element (missing, entry);
    }
  json_object_set_array_member (object, "missingUpdates", missing);
  json_object_set_member (object, "stateVector", prd_hub_vector_to_json (vector));
  json_object_set_boolean_member (object, "full", full);
  if (full)
    {
      JsonNode *state = build_initial_state (room);
      JsonObject *full_state = json_object_new ();
      JsonObject *initial = json_node_get_object (state);

      json_object_set_string_member (full_state, "content",
                                     json_object_get_string_member (initial, "content"));
      json_object_set_string_member (full_state, "encodedState",
                                     json_object_get_string_member (initial, "encodedState"));
      json_object_set_object_member (object, "fullState", full_state);
      json_node_unref (state);
    }
  prd_sio_socket_emit_one (socket, "sync-response", response);

  ack = json_object_new ();
  json_object_set_member (ack, "stateVector", prd_hub_vector_to_json (vector));
  json_object_set_boolean_member (ack, "full", full);
  reply_ok (socket, ack_id, ack);
}

static void
on_presence_update (PrdSioSocket *socket,
                    const char *event,
                    JsonArray *args,
                    GPtrArray *attachments,
                    gint64 ack_id,
                    gpointer user_data)
{
  PrdHubPrds *self = user_data;
  const char *conn_id = prd_sio_socket_get_id (socket);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) relay = NULL;
  const char *prd_id;
  JsonObject *payload;
  Room *room;

  payload = get_payload (socket, event, args, ack_id, &prd_id);
  if (payload == NULL)
    return;
  room = joined_room (self, socket, event, prd_id, ack_id);
  if (room == NULL)
    return;
  if (!prd_room_update_presence (room->room, conn_id, payload, &error))
    {
      reply_error (socket, ack_id, event, prd_id, error);
      return;
    }
  relay = prd_room_build_presence (room->room, conn_id);
  room_broadcast (room, socket, "presence-update",
                  prd_room_member_get_user_id (room->room, conn_id), relay);
  members_changed (room);
  reply_ok (socket, ack_id, NULL);
}

static void
on_disconnection (PrdSioNamespace *nsp,
                  PrdSioSocket *socket,
                  const char *reason,
                  gpointer user_data)
{
  PrdHubPrds *self = user_data;
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
      Room *room = g_hash_table_lookup (self->rooms, g_ptr_array_index (ids, i));

      if (room != NULL)
        room_leave (room, socket);
    }
}

/* ---- auto-save ---------------------------------------------------------------- */

/* Snapshots every loaded room with unsaved changes. A room whose appends
 * are still in flight waits for the next tick (a snapshot needs a settled
 * room); a room nobody is in is snapshotted on release anyway. */
static gboolean
on_autosave_tick (gpointer user_data)
{
  PrdHubPrds *self = user_data;
  GHashTableIter iter;
  Room *room;

  g_hash_table_iter_init (&iter, self->rooms);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &room))
    {
      g_autoptr (JsonNode) payload = NULL;
      g_autofree char *since = NULL;
      JsonObject *object;

      if (!room->loaded || room->failed || room->since_snapshot == 0 || room->snapshotting ||
          !g_queue_is_empty (&room->inflight) || self->nsp == NULL)
        continue;
      since = prd_hub_format_time (room->unsaved_since);
      payload = json_node_new (JSON_NODE_OBJECT);
      object = json_object_new ();
      json_node_take_object (payload, object);
      json_object_set_string_member (object, "prdId", room->prd_id);
      json_object_set_string_member (object, "changesSince", since);
      prd_sio_namespace_emit_one (self->nsp, room->sio_room, NULL, "auto-save-start", payload);
      room->autosaving = TRUE;
      room_snapshot (room);
    }
  return G_SOURCE_CONTINUE;
}

/**
 * prd_hub_prds_emit:
 *
 * Sends @event to everyone who joined @prd_id.
 */
void
prd_hub_prds_emit (PrdHubPrds *self, const char *prd_id, const char *event, JsonNode *payload)
{
  g_autofree char *sio_room = NULL;

  g_return_if_fail (PRD_IS_HUB_PRDS (self));
  if (self->nsp == NULL)
    return;
  sio_room = g_strconcat ("prd:", prd_id, NULL);
  prd_sio_namespace_emit_one (self->nsp, sio_room, NULL, event, payload);
}

/**
 * prd_hub_prds_set_version:
 *
 * Tells a loaded room that the stored version of @prd_id changed, so that
 * later joins report it.
 */
void
prd_hub_prds_set_version (PrdHubPrds *self, const char *prd_id, const char *version)
{
  Room *room;

  g_return_if_fail (PRD_IS_HUB_PRDS (self));
  room = g_hash_table_lookup (self->rooms, prd_id);
  if (room != NULL && room->document != NULL)
    prd_document_set_version (room->document, version);
}

/* ---- object ------------------------------------------------------------------ */

static const char *const events[] = {
  "join-prd", "leave-prd", "content-update", "sync-request", "presence-update",
};

static void
prd_hub_prds_dispose (GObject *object)
{
  PrdHubPrds *self = PRD_HUB_PRDS (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->autosave_id, g_source_remove);
  if (self->nsp != NULL)
    {
      /* The namespace may outlive us: no handler may point here any more. */
      for (guint i = 0; i < G_N_ELEMENTS (events); i++)
        prd_sio_namespace_on (self->nsp, events[i], NULL, NULL);
      g_clear_signal_handler (&self->disconnection_id, self->nsp);
      g_object_remove_weak_pointer (G_OBJECT (self->nsp), (gpointer *) &self->nsp);
      self->nsp = NULL;
    }
  if (self->rooms != NULL)
    {
      GHashTableIter iter;
      Room *room;

      g_hash_table_iter_init (&iter, self->rooms);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &room))
        {
          room->prds = NULL;
          if (room->batcher != NULL)
            g_signal_handlers_disconnect_by_data (room->batcher, room);
          g_clear_object (&room->batcher);
          g_hash_table_iter_remove (&iter);
        }
    }
  g_clear_object (&self->store);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (prd_hub_prds_parent_class)->dispose (object);
}

static void
prd_hub_prds_finalize (GObject *object)
{
  PrdHubPrds *self = PRD_HUB_PRDS (object);

  g_clear_pointer (&self->rooms, g_hash_table_unref);
  g_clear_pointer (&self->config, prd_hub_config_unref);

  G_OBJECT_CLASS (prd_hub_prds_parent_class)->finalize (object);
}

static void
prd_hub_prds_class_init (PrdHubPrdsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = prd_hub_prds_dispose;
  object_class->finalize = prd_hub_prds_finalize;

  /**
   * PrdHubPrds::members-changed:
   * @prd_id: the PRD
   *
   * A connection joined or left the PRD, or a member's presence status
   * changed.
   */
  signals[SIGNAL_MEMBERS_CHANGED] =
      g_signal_new ("members-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
prd_hub_prds_init (PrdHubPrds *self)
{
  self->rooms = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) room_unref);
  self->cancellable = g_cancellable_new ();
}

/**
 * prd_hub_prds_new:
 * @nsp: the /prds namespace
 * @store: where PRDs live
 *
 * Installs the /prds event handlers on @nsp.
 */
PrdHubPrds *
prd_hub_prds_new (PrdSioNamespace *nsp, PrdStore *store, PrdHubConfig *config)
{
  PrdHubPrds *self;

  g_return_val_if_fail (PRD_IS_SIO_NAMESPACE (nsp), NULL);
  g_return_val_if_fail (PRD_IS_STORE (store), NULL);

  self = g_object_new (PRD_TYPE_HUB_PRDS, NULL);
  self->nsp = nsp;
  g_object_add_weak_pointer (G_OBJECT (nsp), (gpointer *) &self->nsp);
  self->store = g_object_ref (store);
  self->config = prd_hub_config_ref (config);
  prd_sio_namespace_on (nsp, "join-prd", on_join_prd, self);
  prd_sio_namespace_on (nsp, "leave-prd", on_leave_prd, self);
  prd_sio_namespace_on (nsp, "content-update", on_content_update, self);
  prd_sio_namespace_on (nsp, "sync-request", on_sync_request, self);
  prd_sio_namespace_on (nsp, "presence-update", on_presence_update, self);
  self->disconnection_id =
      g_signal_connect (nsp, "disconnection", G_CALLBACK (on_disconnection), self);
  if (config->autosave_interval > 0)
    self->autosave_id = g_timeout_add_seconds (config->autosave_interval, on_autosave_tick, self);
  return self;
}

guint
prd_hub_prds_get_n_rooms (PrdHubPrds *self)
{
  g_return_val_if_fail (PRD_IS_HUB_PRDS (self), 0);
  return g_hash_table_size (self->rooms);
}

/**
 * prd_hub_prds_set_joined_func:
 *
 * @func adds members to every `joined-prd` payload before it is sent.
 */
void
prd_hub_prds_set_joined_func (PrdHubPrds *self, PrdHubPrdsJoinedFunc func, gpointer user_data)
{
  g_return_if_fail (PRD_IS_HUB_PRDS (self));
  self->joined_func = func;
  self->joined_data = user_data;
}

/**
 * prd_hub_prds_set_joined_user_func:
 *
 * Like prd_hub_prds_set_joined_func(), for members that depend on the
 * joining user.
 */
void
prd_hub_prds_set_joined_user_func (PrdHubPrds *self,
                                   PrdHubPrdsJoinedUserFunc func,
                                   gpointer user_data)
{
  g_return_if_fail (PRD_IS_HUB_PRDS (self));
  self->joined_user_func = func;
  self->joined_user_data = user_data;
}

/**
 * prd_hub_prds_set_committed_func:
 *
 * @func hears of every client operation once it is stored, acknowledged
 * and broadcast, with the base vector it was made at.
 */
void
prd_hub_prds_set_committed_func (PrdHubPrds *self, PrdHubPrdsCommittedFunc func, gpointer user_data)
{
  g_return_if_fail (PRD_IS_HUB_PRDS (self));
  self->committed_func = func;
  self->committed_data = user_data;
}

PrdSioNamespace *
prd_hub_prds_get_namespace (PrdHubPrds *self)
{
  g_return_val_if_fail (PRD_IS_HUB_PRDS (self), NULL);
  return self->nsp;
}

/**
 * prd_hub_prds_get_joined:
 * @room: (out) (optional) (transfer none): the PRD's room
 *
 * Returns: (transfer none) (nullable): the document of @prd_id if @socket
 *   has joined it, else %NULL
 */
PrdDocument *
prd_hub_prds_get_joined (PrdHubPrds *self, PrdSioSocket *socket, const char *prd_id, PrdRoom **room)
{
  Room *r;

  g_return_val_if_fail (PRD_IS_HUB_PRDS (self), NULL);
  r = g_hash_table_lookup (self->rooms, prd_id);
  if (r == NULL || r->room == NULL || r->failed ||
      !prd_room_has_member (r->room, prd_sio_socket_get_id (socket)))
    return NULL;
  if (room != NULL)
    *room = r->room;
  return r->document;
}

/* Returns: (transfer none) (nullable): the document of a loaded room */
PrdDocument *
prd_hub_prds_peek_document (PrdHubPrds *self, const char *prd_id)
{
  Room *r;

  g_return_val_if_fail (PRD_IS_HUB_PRDS (self), NULL);
  r = g_hash_table_lookup (self->rooms, prd_id);
  return r != NULL && r->loaded && !r->failed ? r->document : NULL;
}

static int
compare_strings (gconstpointer a, gconstpointer b, gpointer user_data)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

/**
 * prd_hub_prds_get_socket_prds:
 *
 * Returns: (transfer full): the ids of the PRDs @socket has joined, sorted
 */
GStrv
prd_hub_prds_get_socket_prds (PrdHubPrds *self, PrdSioSocket *socket)
{
  GHashTable *joined = g_object_get_data (G_OBJECT (socket), JOINED_KEY);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_autofree const char **ids = NULL;
  guint n = 0;

  g_return_val_if_fail (PRD_IS_HUB_PRDS (self), NULL);

  if (joined != NULL)
    {
      ids = (const char **) g_hash_table_get_keys_as_array (joined, &n);
      g_qsort_with_data (ids, (int) n, sizeof (char *), compare_strings, NULL);
    }
  for (guint i = 0; i < n; i++)
    g_strv_builder_add (builder, ids[i]);
  return g_strv_builder_end (builder);
}

/* The Socket.IO room of a PRD on /prds. */
char *
prd_hub_prds_room_name (const char *prd_id)
{
  return g_strconcat ("prd:", prd_id, NULL);
}

/* ---- creating a PRD ------------------------------------------------------------ */

typedef struct
{
  char *content;
  char *owner;
  char *owner_name;
  PrdStoreInfo *info;
  GBytes *update;
  int site;
} CreateData;

static void
create_data_free (CreateData *data)
{
  g_free (data->content);
  g_free (data->owner);
  g_free (data->owner_name);
  g_clear_pointer (&data->info, prd_store_info_free);
  g_clear_pointer (&data->update, g_bytes_unref);
  g_free (data);
}

static void
create_on_recorded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  CreateData *data = g_task_get_task_data (task);

  /* The PRD exists either way; a lost feed entry is not worth failing it. */
  if (!prd_hub_social_record_prd_created_finish (result, &error))
    g_warning ("Cannot record the creation of %s: %s", data->info->id, error->message);
  g_task_return_pointer (task, prd_store_info_copy (data->info),
                         (GDestroyNotify) prd_store_info_free);
}

static void
create_record (GTask *task)
{
  CreateData *data = g_task_get_task_data (task);

  prd_hub_social_record_prd_created_async (g_task_get_source_object (task), data->info,
                                           data->owner_name, g_task_get_cancellable (task),
                                           create_on_recorded, task);
}

static void
create_on_info (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  CreateData *data = g_task_get_task_data (task);
  PrdStoreInfo *info = prd_store_get_finish (PRD_STORE (source), result, &error);

  if (info == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  prd_store_info_free (data->info);
  data->info = info;
  create_record (g_steal_pointer (&task));
}

static void
create_on_appended (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  CreateData *data = g_task_get_task_data (task);

  if (prd_store_append_update_finish (PRD_STORE (source), result, &error) == 0 && error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  prd_store_get_async (PRD_STORE (source), data->info->id, g_task_get_cancellable (task),
                       create_on_info, g_object_ref (task));
}

static void
create_on_site (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdStoreSite) site = NULL;
  g_autoptr (PrdCrdtDoc) crdt = NULL;
  g_autoptr (PrdCrdtOp) op = NULL;
  g_autoptr (GArray) base = NULL;
  g_autoptr (GBytes) encoded = NULL;
  CreateData *data = g_task_get_task_data (task);
  GCancellable *cancellable;

  site = prd_store_acquire_site_finish (PRD_STORE (source), result, &error);
  if (site == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  crdt = prd_crdt_doc_new ();
  base = g_array_new (FALSE, TRUE, sizeof (guint32));
  g_array_set_size (base, site->site + 1);
  if (!prd_crdt_doc_apply_local_insert (crdt, site->site, (const guint32 *) base->data, base->len,
                                        0, data->content, -1, g_get_real_time () / 1000, &op,
                                        &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  encoded = prd_crdt_ops_encode (&op, 1);
  cancellable = g_task_get_cancellable (task);
  prd_store_append_update_async (PRD_STORE (source), data->info->id, site->site, op->seq,
                                 PRD_HUB_SITE_USER, encoded, cancellable, create_on_appended,
                                 g_steal_pointer (&task));
}

static void
create_on_created (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  CreateData *data = g_task_get_task_data (task);
  GCancellable *cancellable;

  data->info = prd_store_create_finish (PRD_STORE (source), result, &error);
  if (data->info == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (data->content == NULL || *data->content == '\0')
    {
      create_record (g_steal_pointer (&task));
      return;
    }
  cancellable = g_task_get_cancellable (task);
  prd_store_acquire_site_async (PRD_STORE (source), data->info->id, PRD_HUB_SITE_USER, NULL, 0,
                                cancellable, create_on_site, g_steal_pointer (&task));
}

/**
 * prd_hub_create_prd_async:
 * @content: (nullable): initial Markdown, stored as one insert by the hub's
 *   own site (user `hub`) so that it merges like any edit
 *
 * Creates a PRD with a fresh id.
 */
void
prd_hub_create_prd_async (PrdStore *store,
                          const char *org,
                          const char *title,
                          const char *owner,
                          const char *content,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer user_data)
{
  prd_hub_create_prd_as_async (store, org, title, owner, NULL, content, cancellable, callback,
                               user_data);
}

/**
 * prd_hub_create_prd_as_async:
 * @owner_name: (nullable): the owner's display name, for the activity feed
 *
 * prd_hub_create_prd_async() with the creator's name.
 */
void
prd_hub_create_prd_as_async (PrdStore *store,
                             const char *org,
                             const char *title,
                             const char *owner,
                             const char *owner_name,
                             const char *content,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (store, cancellable, callback, user_data);
  g_autofree char *id = prd_store_generate_prd_id ();
  CreateData *data = g_new0 (CreateData, 1);
  guint32 units;

  g_task_set_source_tag (task, prd_hub_create_prd_async);
  data->content = g_strdup (content);
  data->owner = g_strdup (owner);
  data->owner_name = g_strdup (owner_name);
  g_task_set_task_data (task, data, (GDestroyNotify) create_data_free);
  if (content != NULL && !prd_utf16_length (content, &units))
    {
      g_task_return_new_error (task, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                               "The content is not valid UTF-8 text");
      return;
    }
  prd_store_create_async (store, id, org, title, owner, cancellable, create_on_created,
                          g_steal_pointer (&task));
}

PrdStoreInfo *
prd_hub_create_prd_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- the hub's AI site (prd-hub-ai.c) ------------------------------------------ */

/**
 * prd_hub_prds_ai_hold:
 * @socket: the requester, who must have joined @prd_id (in edit mode when
 *   @edit)
 *
 * Keeps the room of @prd_id loaded while an AI job writes into it.
 *
 * Returns: (transfer full) (nullable): the room, for the other ai functions
 *   and prd_hub_prds_ai_release()
 */
PrdHubRoom *
prd_hub_prds_ai_hold (
    PrdHubPrds *self, const char *prd_id, PrdSioSocket *socket, gboolean edit, GError **error)
{
  Room *room;

  g_return_val_if_fail (PRD_IS_HUB_PRDS (self), NULL);

  room = g_hash_table_lookup (self->rooms, prd_id);
  if (room == NULL || room->room == NULL ||
      !prd_room_has_member (room->room, prd_sio_socket_get_id (socket)))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_NOT_JOINED, "Join the PRD first (join-prd)");
      return NULL;
    }
  if (edit && !prd_room_member_can_edit (room->room, prd_sio_socket_get_id (socket)))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_FORBIDDEN,
                           "Only editors may have the AI write into the PRD (insert: false "
                           "previews without writing)");
      return NULL;
    }
  if (room->failed)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_STORAGE,
                           "The PRD could not be stored; join it again");
      return NULL;
    }
  room->ai_holds++;
  return room_ref (room);
}

void
prd_hub_prds_ai_release (PrdHubRoom *room)
{
  g_return_if_fail (room != NULL && room->ai_holds > 0);

  room->ai_holds--;
  room_maybe_release (room);
  room_unref (room);
}

PrdDocument *
prd_hub_room_get_document (PrdHubRoom *room)
{
  return room->document;
}

gboolean
prd_hub_room_is_open (PrdHubRoom *room)
{
  return room->prds != NULL && !room->failed;
}

/* The sites a new AI site must not take: those of members and other AI jobs. */
GArray *
prd_hub_room_get_busy_sites (PrdHubRoom *room)
{
  return prd_room_get_busy_sites (room->room);
}

/* Sends @payload to everyone in the room, unbatched. */
void
prd_hub_room_emit (PrdHubRoom *room, const char *event, JsonNode *payload)
{
  if (room->prds != NULL && room->prds->nsp != NULL)
    prd_sio_namespace_emit_one (room->prds->nsp, room->sio_room, NULL, event, payload);
}

/* Sets the presence status of @socket's member and relays it. */
void
prd_hub_room_set_status (PrdHubRoom *room, PrdSioSocket *socket, const char *status)
{
  const char *conn_id = prd_sio_socket_get_id (socket);
  g_autoptr (JsonNode) relay = NULL;

  if (room->prds == NULL || !prd_room_set_status (room->room, conn_id, status))
    return;
  relay = prd_room_build_presence (room->room, conn_id);
  room_broadcast (room, socket, "presence-update",
                  prd_room_member_get_user_id (room->room, conn_id), relay);
  members_changed (room);
}

/**
 * prd_hub_room_ai_insert:
 * @site: a site of user %PRD_HUB_AI_USER in this PRD
 * @position: where @text goes, in UTF-16 code units of the current text
 *
 * Inserts @text as an operation of @site and sends it down the same path as
 * a client's content-update: appended to the store, then committed and
 * broadcast (userId `ai`, userName "AI Assistant") in order.
 */
gboolean
prd_hub_room_ai_insert (
    PrdHubRoom *room, guint32 site, guint32 position, const char *text, GError **error)
{
  return prd_hub_room_edit (room, site, PRD_HUB_AI_USER, PRD_HUB_AI_USER, PRD_HUB_AI_USER_NAME,
                            TRUE, position, text, 0, error);
}

/**
 * prd_hub_room_edit:
 * @site: a site of @site_user in this PRD, which no client writes with
 * @user_id: (nullable): the user the broadcast names (default: @site_user)
 * @insert: insert @text, or delete @length units
 * @position: in UTF-16 code units of the current text
 *
 * Makes one operation of the hub and sends it down the same path as a
 * client's content-update: appended to the store, then committed and
 * broadcast to the whole room in order.
 */
gboolean
prd_hub_room_edit (PrdHubRoom *room,
                   guint32 site,
                   const char *site_user,
                   const char *user_id,
                   const char *user_name,
                   gboolean insert,
                   guint32 position,
                   const char *text,
                   guint32 length,
                   GError **error)
{
  PrdHubPrds *self = room->prds;
  g_autoptr (JsonNode) operation = json_node_new (JSON_NODE_OBJECT);
  g_autoptr (GArray) vector = NULL;
  g_autoptr (GBytes) encoded = NULL;
  g_autoptr (JsonNode) vector_node = NULL;
  g_autoptr (PrdCrdtOp) op = NULL;
  JsonObject *object = json_object_new ();
  gboolean duplicate = FALSE;
  Pending *pending;
  guint32 zero = 0;

  if (self == NULL || room->failed)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_STORAGE, "The PRD was closed");
      return FALSE;
    }
  json_node_take_object (operation, object);
  json_object_set_string_member (object, "type", insert ? "insert" : "delete");
  json_object_set_int_member (object, "position", position);
  if (insert)
    json_object_set_string_member (object, "content", text);
  else
    json_object_set_int_member (object, "length", length);
  json_object_set_int_member (object, "timestamp", g_get_real_time () / 1000);
  vector = prd_crdt_doc_get_state_vector (prd_document_get_crdt (room->document));
  while (vector->len <= site)
    g_array_append_val (vector, zero);
  g_array_index (vector, guint32, site)++;
  vector_node = prd_hub_vector_to_json (vector);
  op = prd_document_apply_client_operation (room->document, operation, vector_node, site, site_user,
                                            PRD_DOCUMENT_MAX_OPERATION_SIZE, &duplicate, error);
  if (op == NULL)
    {
      if (duplicate)
        g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INTERNAL, "The hub's site is out of step");
      return FALSE;
    }

  pending = g_new0 (Pending, 1);
  pending->room = room_ref (room);
  pending->kind = PENDING_OP;
  pending->ack_id = -1;
  pending->user_id = g_strdup (user_id != NULL ? user_id : site_user);
  pending->user_name = g_strdup (user_name != NULL ? user_name : pending->user_id);
  g_clear_pointer (&vector, g_array_unref);
  vector = prd_crdt_doc_get_state_vector (prd_document_get_crdt (room->document));
  pending->vector = prd_hub_vector_to_json (vector);
  encoded = prd_crdt_ops_encode (&op, 1);
  pending->op = g_steal_pointer (&op);
  g_queue_push_tail (&room->inflight, pending);
  prd_store_append_update_async (self->store, room->prd_id, site, pending->op->seq, site_user,
                                 encoded, NULL, on_appended, pending);
  return TRUE;
}

const char *
prd_hub_room_get_prd_id (PrdHubRoom *room)
{
  return room->prd_id;
}

/* (nullable): who is in the room; %NULL before it has loaded */
PrdRoom *
prd_hub_room_get_room (PrdHubRoom *room)
{
  return room->room;
}
