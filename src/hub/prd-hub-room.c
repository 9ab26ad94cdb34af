/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdHubRoom: one PRD open on the hub, from its first join until its last
 * member has left and its document is saved. It owns the document, who is
 * in it (PrdRoom), the batcher of its broadcasts, the queue of joins and the
 * queue of operations on their way to the store.
 *
 * Durability. A room's document is loaded from the store on its first join
 * (snapshot + update log) and released, after a final snapshot, when its
 * last client leaves and nobody holds it (prd_hub_room_hold()): once
 * `[collab] empty-room-grace` seconds have passed without a join, or at once
 * when another PRD needs its place under `max-open-rooms`
 * (prd_hub_room_evict()). Loading a large or tombstone-heavy PRD costs the
 * main thread tens of milliseconds, so a client that leaves and rejoins
 * does not pay it again each time. A client's
 * operation is integrated at once (the next one is validated against it)
 * and appended to the store; it is acked and broadcast only in the append
 * callback, i.e. after its transaction committed. Appends of one room are
 * kept in a FIFO, so acks and broadcasts leave in the order the operations
 * were integrated even if the store were to complete them out of order.
 * Joins and sync read the committed view of the document only
 * (PrdDocument), so no client ever holds an operation the hub could lose.
 * If an append fails the in-memory document is ahead of the store: the room
 * is closed (every member gets STORAGE and must rejoin) and reloaded from
 * the store on the next join.
 *
 * Writing on the hub's behalf. prd_hub_room_write() is the one way the hub
 * itself changes a PRD (AI text, conflict resolutions, later imports): the
 * operation takes the same durable path as a client's.
 *
 * What other features must learn (a member joined or left, an operation
 * was committed) is emitted as a signal of the #PrdHubRoomRegistry.
 */
#define G_LOG_DOMAIN "prd-hub-room"

#include "config.h"

#include "prd-batcher.h"
#include "prd-error.h"
#include "prd-hub-config-collab.h"
#include "prd-hub-config-server.h"
#include "prd-hub-context.h"
#include "prd-hub-room-private.h"
#include "prd-json.h"
#include "prd-log.h"

#include "prd-hub-room.h"
#include "prd-time.h"

typedef struct
{
  PrdSioSocket *socket; /* (owned) */
  gint64 ack_id;
  gboolean edit;
  int requested_site;
  GArray *client_vector; /* (nullable) */
  char *replica_id;      /* (nullable) */
  char *prd_id;          /* (owned): its room's, for the socket's count of joins */
  gboolean cancelled;    /* answered while its site was being acquired (leave-prd, room closed) */
  gint64 pending_from;   /* -1: not given */
  PrdIdentity *identity; /* (owned) */
} JoinRequest;

/* Who writes with a site: the replica that took it over last (join-prd's
 * replicaId; %NULL: one that did not say), and the site's operation count
 * at that moment. Kept in the store (prd_store_hold_site_async()). A
 * retired site (prd_store_retire_sites_async()) goes to nobody again. */
typedef struct
{
  char *replica; /* (nullable) */
  guint32 from;
  gboolean retired;
} SiteHolder;

typedef enum
{
  PENDING_OP,
  PENDING_DUPLICATE,
} PendingKind;

typedef struct
{
  PendingKind kind;
  PrdHubRoom *room;     /* (owned) */
  PrdSioSocket *socket; /* (owned) */
  gint64 ack_id;
  PrdCrdtOp *op; /* (owned) (nullable) */
  char *user_id;
  char *user_name;
  GArray *vector; /* (owned): the hub's vector right after integration */
  gboolean done;
  gint64 seq;
  GError *error;
  GArray *base; /* (nullable): a client's operation's base vector */
  guint32 client_position;
  gsize bytes; /* the encoded operation's size in the update log */
} Pending;

struct _PrdHubRoom
{
  GObject parent_instance;

  PrdHubRoomRegistry *registry; /* (unowned) (nullable): NULL once the room is dead */
  char *prd_id;
  char *sio_room;
  gboolean loaded;
  gboolean failed;
  PrdDocument *document; /* (owned) (nullable) until loaded */
  PrdRoom *members;      /* (owned) (nullable) until loaded */
  PrdBatcher *batcher;   /* (owned) (nullable) */
  GQueue joins;          /* (element-type JoinRequest) */
  gboolean join_busy;
  JoinRequest *acquiring; /* (unowned) (nullable): the join whose site is being acquired */
  GQueue inflight;        /* (element-type Pending) */
  gint64 last_seq;
  /* The log holds an update this room never integrated (its appends came
   * back past last_seq + 1): a snapshot labelled with last_seq would
   * compact it away, so none is written until the room is loaded again. */
  gboolean log_gap;
  guint since_snapshot;       /* operations committed after the last snapshot */
  gsize since_snapshot_bytes; /* their size in the update log */
  gboolean snapshotting;
  guint snapshot_covered; /* the running snapshot's operations */
  gsize snapshot_covered_bytes;
  gsize state_bytes;     /* the last snapshot's size before compression (at load: as stored) */
  gint64 unsaved_since;  /* real time of the first change no snapshot covers; 0: none */
  gboolean autosaving;   /* the running snapshot is an auto-save */
  PrdSioSocket *joining; /* (unowned) during prd_room_add_member() */
  guint holds;           /* prd_hub_room_hold() */
  gboolean archived;     /* read-only: joins get view mode, writes are refused */
  /* What the store changed while the document was being built from what
   * it had read before (applied over it once built). */
  gboolean changed_archived;
  char *changed_title;   /* (owned) (nullable) */
  char *changed_version; /* (owned) (nullable) */
  /* The encodedState of the last initial state and the CRDT's state vector
   * it encodes: joins and full syncs with no operation integrated in
   * between share one encoding (a large PRD's takes tens of ms). */
  char *encoded_state;    /* (owned) (nullable): base64 */
  GArray *encoded_vector; /* (owned) (nullable) */
  GHashTable *holders;    /* GINT_TO_POINTER (site) → (owned) SiteHolder, once loaded */
  /* The sync-response of a client that must take the full state, as JSON
   * text, for the committed version it was built at (full_sync_vector):
   * a burst of full syncs between two edits builds and copies it once. */
  char *full_sync; /* (owned) (nullable) */
  gsize full_sync_len;
  GArray *full_sync_vector; /* (owned) (nullable) */
  /* The initialState of a joined-prd, as JSON text, for the committed
   * version, the CRDT's state vector and the version name it was built at:
   * joins between two edits share it (a large PRD's text, escaped, and its
   * encoding would otherwise be copied and written again for each). */
  char *initial_state; /* (owned) (nullable) */
  gsize initial_state_len;
  GArray *initial_committed; /* (owned) (nullable) */
  GArray *initial_vector;    /* (owned) (nullable) */
  char *initial_version;     /* (owned) (nullable) */
  guint grace_id;            /* empty and saved: released when this timeout fires */
  gboolean grace_over;       /* maybe_release() may release now */
  /* Until loaded: the organization the store reads the PRD for (another's
   * is answered not found before its content is read); %NULL: any, once
   * the hub's own work opened the room (any_org) */
  char *load_org; /* (owned) (nullable) */
  gboolean any_org;
};

G_DEFINE_FINAL_TYPE (PrdHubRoom, prd_hub_room, G_TYPE_OBJECT)

static void room_pump_joins (PrdHubRoom *room);
static void autosave_complete (PrdHubRoom *room);

/* PRD_HUB_ROOM_JOINING_KEY: @delta (+1 or -1) requests of @socket for @prd_id. */
static void
count_joining (PrdSioSocket *socket, const char *prd_id, int delta)
{
  GHashTable *joining = g_object_get_data (G_OBJECT (socket), PRD_HUB_ROOM_JOINING_KEY);
  guint n;

  if (joining == NULL)
    {
      joining = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      g_object_set_data_full (G_OBJECT (socket), PRD_HUB_ROOM_JOINING_KEY, joining,
                              (GDestroyNotify) g_hash_table_unref);
    }
  n = GPOINTER_TO_UINT (g_hash_table_lookup (joining, prd_id));
  g_return_if_fail (delta > 0 || n > 0);
  n = delta > 0 ? n + 1 : n - 1;
  if (n == 0)
    g_hash_table_remove (joining, prd_id);
  else
    g_hash_table_replace (joining, g_strdup (prd_id), GUINT_TO_POINTER (n));
}

static void
join_request_free (JoinRequest *request)
{
  if (request->socket != NULL)
    count_joining (request->socket, request->prd_id, -1);
  g_clear_object (&request->socket);
  g_clear_pointer (&request->client_vector, g_array_unref);
  g_clear_pointer (&request->identity, prd_identity_free);
  g_free (request->replica_id);
  g_free (request->prd_id);
  g_free (request);
}

static void
site_holder_free (SiteHolder *holder)
{
  g_free (holder->replica);
  g_free (holder);
}

/* On a socket: how many of its content-updates await their ack. */
#define PENDING_ACKS_KEY "prd-hub-pending-acks"

static guint
pending_acks (PrdSioSocket *socket)
{
  return GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (socket), PENDING_ACKS_KEY));
}

static void
pending_free (Pending *pending)
{
  g_clear_pointer (&pending->room, g_object_unref);
  if (pending->socket != NULL)
    g_object_set_data (G_OBJECT (pending->socket), PENDING_ACKS_KEY,
                       GUINT_TO_POINTER (pending_acks (pending->socket) - 1));
  g_clear_object (&pending->socket);
  g_clear_pointer (&pending->op, prd_crdt_op_free);
  g_free (pending->user_id);
  g_free (pending->user_name);
  g_clear_pointer (&pending->vector, g_array_unref);
  g_clear_pointer (&pending->base, g_array_unref);
  g_clear_error (&pending->error);
  g_free (pending);
}

static void
prd_hub_room_dispose (GObject *object)
{
  PrdHubRoom *room = PRD_HUB_ROOM (object);

  g_queue_clear_full (&room->joins, (GDestroyNotify) join_request_free);
  g_clear_handle_id (&room->grace_id, g_source_remove);
  if (room->members != NULL)
    g_signal_handlers_disconnect_by_data (room->members, room);
  if (room->batcher != NULL)
    g_signal_handlers_disconnect_by_data (room->batcher, room);
  g_clear_object (&room->batcher);
  g_clear_object (&room->members);
  g_clear_object (&room->document);

  G_OBJECT_CLASS (prd_hub_room_parent_class)->dispose (object);
}

static void
prd_hub_room_finalize (GObject *object)
{
  PrdHubRoom *room = PRD_HUB_ROOM (object);

  g_assert (g_queue_is_empty (&room->inflight));
  g_free (room->prd_id);
  g_free (room->sio_room);
  g_free (room->encoded_state);
  g_clear_pointer (&room->encoded_vector, g_array_unref);
  g_free (room->full_sync);
  g_clear_pointer (&room->full_sync_vector, g_array_unref);
  g_free (room->initial_state);
  g_clear_pointer (&room->initial_committed, g_array_unref);
  g_clear_pointer (&room->initial_vector, g_array_unref);
  g_free (room->initial_version);
  g_free (room->changed_title);
  g_free (room->changed_version);
  g_free (room->load_org);
  g_clear_pointer (&room->holders, g_hash_table_unref);

  G_OBJECT_CLASS (prd_hub_room_parent_class)->finalize (object);
}

static void
prd_hub_room_class_init (PrdHubRoomClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = prd_hub_room_dispose;
  object_class->finalize = prd_hub_room_finalize;
}

static void
prd_hub_room_init (PrdHubRoom *room)
{
  g_queue_init (&room->joins);
  g_queue_init (&room->inflight);
}

/* ---- replies ----------------------------------------------------------- */

JsonNode *
prd_hub_vector_to_json (GArray *vector)
{
  return prd_crdt_vector_to_json ((const guint32 *) vector->data, vector->len);
}

/* A string member's value; %NULL is null, as json_object_set_string_member()
 * has it. */
static void
write_nullable_string (GString *out, const char *str)
{
  if (str != NULL)
    prd_json_write_string (out, str);
  else
    g_string_append (out, "null");
}

/**
 * prd_hub_write_content_update:
 * @out: where the text goes
 * @vector: (element-type guint32): the hub's state vector after @op
 *
 * Appends the payload of the `content-update` event the room sends for a
 * committed operation: byte for byte prd_json_to_string() of
 * prd_hub_build_content_update(), without the tree (tests/test-collab.c
 * compares the two).
 */
void
prd_hub_write_content_update (GString *out,
                              const char *prd_id,
                              const char *user_id,
                              const char *user_name,
                              const PrdCrdtOp *op,
                              GArray *vector)
{
  g_string_append (out, "{\"prdId\":");
  write_nullable_string (out, prd_id);
  g_string_append (out, ",\"userId\":");
  write_nullable_string (out, user_id);
  g_string_append (out, ",\"userName\":");
  write_nullable_string (out, user_name);
  g_string_append (out, ",\"operation\":");
  prd_crdt_op_write_json (op, out);
  g_string_append (out, ",\"stateVector\":");
  prd_crdt_vector_write_json ((const guint32 *) (void *) vector->data, vector->len, out);
  g_string_append_c (out, '}');
}

/**
 * prd_hub_build_content_update:
 *
 * The payload of prd_hub_write_content_update() as a tree, for a
 * `batch-update` entry.
 *
 * Returns: (transfer full): the payload
 */
JsonNode *
prd_hub_build_content_update (const char *prd_id,
                              const char *user_id,
                              const char *user_name,
                              const PrdCrdtOp *op,
                              GArray *vector)
{
  JsonNode *payload = json_node_new (JSON_NODE_OBJECT);
  JsonObject *object = json_object_new ();

  json_node_take_object (payload, object);
  json_object_set_string_member (object, "prdId", prd_id);
  json_object_set_string_member (object, "userId", user_id);
  json_object_set_string_member (object, "userName", user_name);
  json_object_set_member (object, "operation", prd_crdt_op_to_json (op));
  json_object_set_member (object, "stateVector", prd_hub_vector_to_json (vector));
  return payload;
}

/* ---- rooms ---------------------------------------------------------------- */

static void
on_user_joined (PrdRoom *prd_room, const char *user_id, gpointer user_data)
{
  PrdHubRoom *room = user_data;
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) payload = NULL;

  if (room->registry == NULL)
    return;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "prdId");
  json_builder_add_string_value (builder, room->prd_id);
  json_builder_set_member_name (builder, "user");
  json_builder_add_value (builder, prd_room_build_user (prd_room, user_id, FALSE));
  json_builder_end_object (builder);
  payload = json_builder_get_root (builder);
  prd_sio_namespace_emit_one (room->registry->nsp, room->sio_room, room->joining, "user-joined",
                              payload);
}

static void
on_user_left (PrdRoom *prd_room, const char *user_id, const char *name, gpointer user_data)
{
  PrdHubRoom *room = user_data;
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) payload = NULL;

  if (room->registry == NULL)
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
  prd_sio_namespace_emit_one (room->registry->nsp, room->sio_room, NULL, "user-left", payload);
}

static JsonNode *
batch_entry (PrdBatchItem *item, PrdHubRoom *room)
{
  g_autoptr (JsonNode) payload = NULL;
  JsonObject *entry = json_object_new ();
  JsonNode *node;
  JsonObjectIter iter;
  const char *name;
  JsonNode *value;

  if (g_str_equal (item->type, "presence-update"))
    {
      /* Resolved now, against the text the batch's content updates leave
       * (not edits still being stored: prd_room_build_presence()). */
      payload = prd_room_build_presence (room->members, item->origin);
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

/* A batch's entries may be NULL (batch_entry(): the presence of a member
 * who has left since). */
static void
entry_free (gpointer entry)
{
  if (entry != NULL)
    json_node_unref (entry);
}

static void
on_batch_flush (PrdBatcher *batcher, GPtrArray *items, const char *batch_id, gpointer user_data)
{
  PrdHubRoom *room = user_data;
  g_autoptr (GPtrArray) sockets = NULL;
  g_autoptr (GPtrArray) entries = g_ptr_array_new_with_free_func (entry_free);
  g_autofree char *timestamp = prd_time_format_now ();

  if (room->registry == NULL)
    return;
  for (guint i = 0; i < items->len; i++)
    g_ptr_array_add (entries, batch_entry (g_ptr_array_index (items, i), room));

  sockets = prd_sio_namespace_get_room_sockets (room->registry->nsp, room->sio_room);
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
void
prd_hub_room_broadcast (
    PrdHubRoom *room, PrdSioSocket *origin, const char *event, const char *key, JsonNode *payload)
{
  if (prd_batcher_submit (room->batcher, event,
                          origin != NULL ? prd_sio_socket_get_id (origin) : NULL, key, payload,
                          g_get_monotonic_time ()))
    prd_sio_namespace_emit_one (room->registry->nsp, room->sio_room, origin, event, payload);
}

/* Forgets @room (the registry's reference goes); nothing is written. */
static void
room_drop (PrdHubRoom *room)
{
  PrdHubRoomRegistry *registry = room->registry;

  if (registry == NULL)
    return;
  g_debug ("Releasing %s", room->prd_id);
  prd_hub_room_detach (room);
  prd_hub_room_registry_forget (registry, room);
}

/* The registry is going, or has forgotten @room: nothing may reach it. */
void
prd_hub_room_detach (PrdHubRoom *room)
{
  room->registry = NULL;
  g_clear_handle_id (&room->grace_id, g_source_remove);
  if (room->batcher != NULL)
    g_signal_handlers_disconnect_by_data (room->batcher, room);
  g_clear_object (&room->batcher);
}

static void
fail_joins (PrdHubRoom *room, const GError *error)
{
  JoinRequest *request;

  while ((request = g_queue_pop_head (&room->joins)) != NULL)
    {
      prd_hub_reply_error (request->socket, request->ack_id, "join-prd", room->prd_id, error);
      join_request_free (request);
    }
  /* The join whose site is being acquired left the queue: answered here,
   * since on_site_acquired() finds the room dead and answers nothing. */
  if (room->acquiring != NULL && !room->acquiring->cancelled)
    {
      room->acquiring->cancelled = TRUE;
      prd_hub_reply_error (room->acquiring->socket, room->acquiring->ack_id, "join-prd",
                           room->prd_id, error);
    }
}

static void
on_sites_listed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GPtrArray) sites = NULL;
  g_autoptr (GError) error = NULL;
  PrdHubRoom *room = user_data;

  sites = prd_store_list_sites_finish (PRD_STORE (source), result, &error);
  if (room->registry == NULL)
    {
      g_object_unref (room);
      return;
    }
  if (sites == NULL)
    {
      g_warning ("Cannot read the sites of %s: %s", room->prd_id, error->message);
      fail_joins (room, error);
      room_drop (room);
      g_object_unref (room);
      return;
    }
  room->holders = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                         (GDestroyNotify) site_holder_free);
  for (guint i = 0; i < sites->len; i++)
    {
      PrdStoreSite *site = g_ptr_array_index (sites, i);
      SiteHolder *holder = g_new0 (SiteHolder, 1);

      prd_document_set_site_owner (room->document, site->site, site->user_id);
      holder->replica = g_strdup (site->holder);
      holder->from = (guint32) CLAMP (site->holder_from, 0, G_MAXUINT32);
      holder->retired = site->retired;
      g_hash_table_insert (room->holders, GINT_TO_POINTER (site->site), holder);
    }
  room->members = prd_room_new (room->document);
  g_signal_connect (room->members, "user-joined", G_CALLBACK (on_user_joined), room);
  g_signal_connect (room->members, "user-left", G_CALLBACK (on_user_left), room);
  room->loaded = TRUE;
  prd_hub_room_registry_room_loaded (room->registry, room);
  room_pump_joins (room);
  prd_hub_room_maybe_release (room);
  g_object_unref (room);
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

/**
 * prd_hub_add_prd_info:
 *
 * Adds the members of the protocol's PRD object (REST, `prd-updated`):
 * `id`, `title`, `organizationId`, `owner`, `version`, `createdAt`,
 * `updatedAt`, `archived` and `archivedAt` (null unless archived).
 */
void
prd_hub_add_prd_info (JsonBuilder *builder, const PrdStoreInfo *info)
{
  g_autofree char *created = prd_time_format (info->created_at);
  g_autofree char *updated = prd_time_format (info->updated_at);

  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, info->id);
  json_builder_set_member_name (builder, "title");
  json_builder_add_string_value (builder, info->title);
  json_builder_set_member_name (builder, "organizationId");
  json_builder_add_string_value (builder, info->org);
  json_builder_set_member_name (builder, "owner");
  json_builder_add_string_value (builder, info->owner);
  json_builder_set_member_name (builder, "version");
  json_builder_add_string_value (builder, info->version);
  json_builder_set_member_name (builder, "createdAt");
  json_builder_add_string_value (builder, created);
  json_builder_set_member_name (builder, "updatedAt");
  json_builder_add_string_value (builder, updated);
  json_builder_set_member_name (builder, "archived");
  json_builder_add_boolean_value (builder, info->archived_at != 0);
  json_builder_set_member_name (builder, "archivedAt");
  if (info->archived_at != 0)
    {
      g_autofree char *archived = prd_time_format (info->archived_at);

      json_builder_add_string_value (builder, archived);
    }
  else
    json_builder_add_null_value (builder);
}

/* The PRD could not be read or rebuilt: its joins fail, the room goes. */
static void
load_failed (PrdHubRoom *room, GError *error)
{
  if (g_error_matches (error, PRD_ERROR, PRD_ERROR_NOT_FOUND))
    error->code = PRD_ERROR_PRD_NOT_FOUND;
  else if (!g_error_matches (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND))
    g_warning ("Cannot load %s: %s", room->prd_id, error->message);
  fail_joins (room, error);
  room_drop (room);
}

static void
build_in_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  GError *error = NULL;
  PrdDocument *document = prd_hub_document_from_store (task_data, &error);

  if (document == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, document, g_object_unref);
}

/* The document is built (or not): the room opens, or its joins fail. */
static void
on_built (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PrdHubRoom *room = PRD_HUB_ROOM (source);
  PrdStoreDocument *stored = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;
  PrdDocument *document = g_task_propagate_pointer (G_TASK (result), &error);

  if (room->registry == NULL)
    {
      g_clear_object (&document);
      return;
    }
  room->document = document;
  if (room->document != NULL)
    prd_document_set_max_length (
        room->document, prd_hub_config_get_collab (room->registry->config)->max_document_size);
  if (room->document == NULL)
    {
      load_failed (room, error);
      return;
    }
  room->last_seq = stored->info->last_seq;
  room->state_bytes = stored->snapshot != NULL ? g_bytes_get_size (stored->snapshot) : 0;
  /* A PATCH or a new version recorded while the document was built
   * is newer than what the store had read. */
  if (!room->changed_archived)
    room->archived = stored->info->archived_at != 0;
  if (room->changed_title != NULL)
    prd_document_set_title (room->document, room->changed_title);
  if (room->changed_version != NULL)
    prd_document_set_version (room->document, room->changed_version);
  g_clear_pointer (&room->changed_title, g_free);
  g_clear_pointer (&room->changed_version, g_free);
  prd_store_list_sites_async (room->registry->store, room->prd_id, room->registry->cancellable,
                              on_sites_listed, g_object_ref (room));
}

static void room_load (PrdHubRoom *room);

/* The load for room->load_org found no PRD of that organization: its joins
 * get what an unknown id gets, and the room goes at once unless joins of
 * another organization (or the hub's own work) came meanwhile; those load
 * again, each organization for itself. Returns whether it loads again. */
static gboolean
load_refused (PrdHubRoom *room, const GError *error)
{
  GList *link = room->joins.head;
  const char *next_org = NULL;

  while (link != NULL)
    {
      GList *next = link->next;
      JoinRequest *request = link->data;

      if (g_str_equal (request->identity->org, room->load_org))
        {
          prd_hub_reply_error (request->socket, request->ack_id, "join-prd", room->prd_id, error);
          g_queue_delete_link (&room->joins, link);
          join_request_free (request);
        }
      else if (next_org == NULL)
        next_org = request->identity->org;
      link = next;
    }
  if (!room->any_org && next_org == NULL)
    return FALSE;
  g_free (room->load_org);
  room->load_org = room->any_org ? NULL : g_strdup (next_org);
  room_load (room);
  return TRUE;
}

static void
on_loaded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PrdStoreDocument) stored = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GTask) build = NULL;
  PrdHubRoom *room = user_data;

  stored = prd_store_load_finish (PRD_STORE (source), result, &error);
  if (room->registry == NULL)
    {
      g_object_unref (room);
      return;
    }
  if (stored == NULL)
    {
      if (g_error_matches (error, PRD_ERROR, PRD_ERROR_NOT_FOUND))
        error->code = PRD_ERROR_PRD_NOT_FOUND;
      if (room->load_org == NULL || !g_error_matches (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND) ||
          !load_refused (room, error))
        load_failed (room, error);
      g_object_unref (room);
      return;
    }
  g_clear_pointer (&room->load_org, g_free);
  /* Decoding the snapshot and replaying the log of a large or
   * tombstone-heavy PRD takes tens of milliseconds, which every other room
   * would wait for on the main thread: on a worker thread. The task holds
   * the room. */
  build = g_task_new (room, NULL, on_built, NULL);
  g_task_set_source_tag (build, on_loaded);
  g_task_set_task_data (build, g_steal_pointer (&stored), (GDestroyNotify) prd_store_document_free);
  g_task_run_in_thread (build, build_in_thread);
  g_object_unref (room);
}

static void
room_load (PrdHubRoom *room)
{
  PrdHubRoomRegistry *registry = room->registry;

  if (room->load_org != NULL)
    prd_store_load_in_org_async (registry->store, room->prd_id, room->load_org,
                                 registry->cancellable, on_loaded, g_object_ref (room));
  else
    prd_store_load_async (registry->store, room->prd_id, registry->cancellable, on_loaded,
                          g_object_ref (room));
}

/**
 * prd_hub_room_new:
 * @registry: the registry that will keep the room
 * @org: (nullable): the organization of the join that opens it: a PRD of
 *   another organization is answered `PRD_NOT_FOUND` from its metadata
 *   (prd_store_load_in_org_async()) and the room goes at once, nothing of it
 *   read or built; %NULL for the hub's own work (any organization)
 *
 * Starts loading the document of @prd_id; joins queue until it is loaded.
 */
PrdHubRoom *
prd_hub_room_new (PrdHubRoomRegistry *registry, const char *prd_id, const char *org)
{
  PrdHubRoom *room = g_object_new (PRD_TYPE_HUB_ROOM, NULL);
  PrdHubConfig *config = registry->config;

  room->registry = registry;
  room->prd_id = g_strdup (prd_id);
  room->sio_room = g_strconcat ("prd:", prd_id, NULL);
  room->batcher = prd_batcher_new (prd_hub_config_get_collab (config)->batch_threshold,
                                   prd_hub_config_get_collab (config)->batch_interval);
  g_signal_connect (room->batcher, "flush", G_CALLBACK (on_batch_flush), room);
  room->load_org = g_strdup (org);
  room->any_org = org == NULL;
  room_load (room);
  return room;
}

/**
 * prd_hub_room_load_for_any_org:
 *
 * The hub's own work needs @room whatever its PRD's organization: a load
 * under way for a joiner's organization that finds none loads again for
 * any. Nothing changes once the room is loaded.
 */
void
prd_hub_room_load_for_any_org (PrdHubRoom *room)
{
  room->any_org = TRUE;
}

static void
autosave_complete (PrdHubRoom *room)
{
  g_autoptr (JsonNode) payload = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *saved_at = prd_time_format_now ();
  JsonObject *object = json_object_new ();

  json_node_take_object (payload, object);
  json_object_set_string_member (object, "prdId", room->prd_id);
  json_object_set_string_member (object, "savedAt", saved_at);
  json_object_set_int_member (
      object, "nextSaveIn", prd_hub_config_get_collab (room->registry->config)->autosave_interval);
  prd_sio_namespace_emit_one (room->registry->nsp, room->sio_room, NULL, "auto-save-complete",
                              payload);
}

/* A snapshot after every `snapshot-every` operations; for a large PRD only
 * once the operations since the last one add up to a quarter of its size.
 * Packing a snapshot costs in proportion to the PRD's size, so this keeps
 * that cost in proportion to the editing, and what a load replays to about
 * a quarter of the state. */
static gboolean
snapshot_due (PrdHubRoom *room)
{
  return room->since_snapshot >=
             prd_hub_config_get_collab (room->registry->config)->snapshot_every &&
         room->since_snapshot_bytes >= room->state_bytes / 4;
}

static void room_snapshot (PrdHubRoom *room);

static void
on_snapshot_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  PrdHubRoom *room = user_data;

  if (!prd_store_write_snapshot_finish (PRD_STORE (source), result, &error))
    g_warning ("Cannot write the snapshot of %s: %s", room->prd_id, error->message);
  room->snapshotting = FALSE;
  if (error == NULL)
    {
      room->since_snapshot -= MIN (room->snapshot_covered, room->since_snapshot);
      room->since_snapshot_bytes -= MIN (room->snapshot_covered_bytes, room->since_snapshot_bytes);
    }
  if (error == NULL && room->since_snapshot == 0)
    room->unsaved_since = 0;
  if (room->autosaving && room->registry != NULL && error == NULL)
    autosave_complete (room);
  room->autosaving = FALSE;
  /* What was committed while it was written may have made the next one
   * due: no later commit may come to ask. */
  if (room->registry != NULL && error == NULL && !room->failed &&
      g_queue_is_empty (&room->inflight) && snapshot_due (room))
    room_snapshot (room);
  if (room->registry != NULL)
    prd_hub_room_maybe_release (room);
  g_object_unref (room);
}

static void
room_snapshot (PrdHubRoom *room)
{
  PrdCrdtStateDraft *draft;

  g_assert (g_queue_is_empty (&room->inflight));
  if (room->snapshotting || room->failed || room->log_gap || room->since_snapshot == 0)
    return;
  room->snapshotting = TRUE;
  /* The whole history stays in the snapshot: sync-request serves old
   * vectors from it after the log behind it is compacted. Only the draft
   * reads the document here; compressing it, most of the work, happens on
   * the store's thread. */
  draft =
      prd_crdt_doc_draft_state (prd_document_get_crdt (room->document), PRD_CRDT_ENCODE_DEFAULT);
  g_debug ("Snapshot of %s at update %" G_GINT64_FORMAT, room->prd_id, room->last_seq);
  room->snapshot_covered = room->since_snapshot;
  room->snapshot_covered_bytes = room->since_snapshot_bytes;
  room->state_bytes = prd_crdt_state_draft_get_size (draft);
  prd_store_write_snapshot_packed_async (room->registry->store, room->prd_id,
                                         (PrdStorePackFunc) prd_crdt_state_draft_pack, draft,
                                         (GDestroyNotify) prd_crdt_state_draft_free, room->last_seq,
                                         NULL, on_snapshot_written, g_object_ref (room));
}

static gboolean
on_grace_over (gpointer user_data)
{
  PrdHubRoom *room = g_object_ref (user_data);

  room->grace_id = 0;
  room->grace_over = TRUE;
  prd_hub_room_maybe_release (room);
  room->grace_over = FALSE;
  g_object_unref (room);
  return G_SOURCE_REMOVE;
}

/* Releases @room when nobody is in it and nothing is under way; the
 * document is snapshotted first, and stays loaded for `empty-room-grace`
 * seconds after that. */
void
prd_hub_room_maybe_release (PrdHubRoom *room)
{
  guint grace;

  if (room->registry == NULL || !room->loaded)
    return;
  if (prd_room_get_n_members (room->members) > 0 || !g_queue_is_empty (&room->joins) ||
      room->join_busy || !g_queue_is_empty (&room->inflight) || room->snapshotting ||
      room->holds > 0)
    return;
  if (room->since_snapshot > 0 && !room->failed && !room->log_gap)
    {
      room_snapshot (room);
      return;
    }
  grace = prd_hub_config_get_collab (room->registry->config)->empty_room_grace;
  /* A room whose log has a gap is reloaded on its next join instead. */
  if (!room->grace_over && !room->failed && !room->log_gap && grace > 0)
    {
      if (room->grace_id == 0)
        {
          g_debug ("%s is empty: unloaded in %u s unless joined", room->prd_id, grace);
          room->grace_id = g_timeout_add_seconds (grace, on_grace_over, room);
        }
      return;
    }
  room_drop (room);
}

/* Whether @room is empty, saved and waiting out its grace period. */
gboolean
prd_hub_room_is_idle (PrdHubRoom *room)
{
  return room->grace_id != 0;
}

/**
 * prd_hub_room_evict:
 *
 * Releases an idle room (prd_hub_room_is_idle()) now, before its grace
 * period is over: another PRD needs its place.
 */
void
prd_hub_room_evict (PrdHubRoom *room)
{
  g_return_if_fail (prd_hub_room_is_idle (room));

  g_clear_handle_id (&room->grace_id, g_source_remove);
  g_object_ref (room);
  room->grace_over = TRUE;
  prd_hub_room_maybe_release (room);
  room->grace_over = FALSE;
  g_object_unref (room);
}

static void
on_sites_retired (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  if (!prd_store_retire_sites_finish (PRD_STORE (source), result, &error))
    g_warning ("Cannot retire the sites of a closed PRD: %s", error->message);
}

/* Closes a room whose memory is ahead of the store: everyone must rejoin. */
static void
room_fail (PrdHubRoom *room, const GError *error)
{
  g_autoptr (GPtrArray) sockets = NULL;

  if (room->registry == NULL)
    return;
  g_warning ("Closing %s: %s", room->prd_id, error->message);
  /* Its operations in flight were lost, after joins may have been handed
   * them: their ids must not come back with other operations. */
  prd_store_retire_sites_async (room->registry->store, room->prd_id, NULL, on_sites_retired, NULL);
  sockets = prd_sio_namespace_get_room_sockets (room->registry->nsp, room->sio_room);
  for (guint i = 0; sockets != NULL && i < sockets->len; i++)
    {
      PrdSioSocket *socket = g_ptr_array_index (sockets, i);

      prd_hub_reply_error (socket, -1, "content-update", room->prd_id, error);
      prd_sio_socket_leave (socket, room->sio_room);
      g_hash_table_remove (prd_hub_room_registry_socket_joined (socket), room->prd_id);
    }
  g_signal_handlers_disconnect_by_data (room->members, room);
  fail_joins (room, error);
  room_drop (room);
}

/* Closes @room because its PRD is gone: @event goes to every member, who
 * leave it; nothing is written (there is nowhere to write). */
void
prd_hub_room_close (PrdHubRoom *room, const char *event, JsonNode *payload)
{
  g_autoptr (GPtrArray) sockets = NULL;
  g_autoptr (GError) error = NULL;

  if (room->registry == NULL)
    return;
  g_message ("Closing %s: %s", room->prd_id, event);
  prd_sio_namespace_emit_one (room->registry->nsp, room->sio_room, NULL, event, payload);
  sockets = prd_sio_namespace_get_room_sockets (room->registry->nsp, room->sio_room);
  for (guint i = 0; sockets != NULL && i < sockets->len; i++)
    {
      PrdSioSocket *socket = g_ptr_array_index (sockets, i);
      const char *conn_id = prd_sio_socket_get_id (socket);
      g_autofree char *user_id = NULL;

      prd_sio_socket_leave (socket, room->sio_room);
      g_hash_table_remove (prd_hub_room_registry_socket_joined (socket), room->prd_id);
      if (room->members == NULL)
        continue;
      user_id = g_strdup (prd_room_member_get_user_id (room->members, conn_id));
      if (user_id != NULL)
        prd_hub_room_registry_member_left (room->registry, room, socket, user_id);
    }
  if (room->members != NULL)
    g_signal_handlers_disconnect_by_data (room->members, room);
  error = prd_error_new_prd_not_found (room->prd_id);
  fail_joins (room, error);
  room->failed = TRUE;
  room_drop (room);
}

/* The PRD's title or archived state changed in the store. */
void
prd_hub_room_set_info (PrdHubRoom *room, const char *title, gboolean archived)
{
  room->archived = archived;
  if (room->document == NULL)
    {
      /* Loading: the store's read may be older than this. */
      room->changed_archived = TRUE;
      if (title != NULL)
        {
          g_free (room->changed_title);
          room->changed_title = g_strdup (title);
        }
      return;
    }
  if (title != NULL)
    prd_document_set_title (room->document, title);
}

/* The PRD has a new version (recorded in the store). */
void
prd_hub_room_set_version (PrdHubRoom *room, const char *version)
{
  if (room->document != NULL)
    prd_document_set_version (room->document, version);
  else
    {
      g_free (room->changed_version);
      room->changed_version = g_strdup (version);
    }
}

/* The CRDT's encoded state in base64, encoded again only when an operation
 * was integrated since the last time (the state holds integrated operations
 * only, so the state vector tells). */
static const char *
room_encoded_state (PrdHubRoom *room)
{
  PrdCrdtDoc *crdt = prd_document_get_crdt (room->document);
  g_autoptr (GArray) vector = prd_crdt_doc_get_state_vector (crdt);
  g_autoptr (GBytes) state = NULL;

  /* An empty vector's data is NULL, which memcmp() must not be given. */
  if (room->encoded_state != NULL && room->encoded_vector->len == vector->len &&
      (vector->len == 0 || memcmp (room->encoded_vector->data, vector->data,
                                   vector->len * g_array_get_element_size (vector)) == 0))
    return room->encoded_state;
  /* On the main thread, with every room waiting: compressed for speed (a
   * stored snapshot is compressed for size, on the packer's thread). */
  state = prd_crdt_doc_encode_state (crdt, PRD_CRDT_ENCODE_DEFAULT | PRD_CRDT_ENCODE_FAST);
  g_free (room->encoded_state);
  room->encoded_state = g_base64_encode (g_bytes_get_data (state, NULL), g_bytes_get_size (state));
  g_clear_pointer (&room->encoded_vector, g_array_unref);
  room->encoded_vector = g_steal_pointer (&vector);
  return room->encoded_state;
}

JsonNode *
prd_hub_room_build_initial_state (PrdHubRoom *room)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (GArray) vector = prd_document_get_committed_vector (room->document);
  g_autofree char *text = prd_document_get_committed_text (room->document);
  const char *encoded = room_encoded_state (room);

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

static gboolean
vectors_equal (GArray *a, GArray *b)
{
  /* An empty vector's data is NULL, which memcmp() must not be given. */
  return a->len == b->len &&
         (a->len == 0 || memcmp (a->data, b->data, a->len * g_array_get_element_size (a)) == 0);
}

/**
 * prd_hub_room_get_full_sync:
 * @out_len: (out): the text's length
 *
 * The `sync-response` payload for a client that must take the full state
 * (`full: true`, no missing updates), as JSON text. Built once per
 * committed version and shared by every such sync-request until the next
 * edit: the text and its encoded state weigh twice the PRD, which each
 * request would otherwise copy, build into a tree and serialize again.
 *
 * Returns: (transfer none): the payload
 */
const char *
prd_hub_room_get_full_sync (PrdHubRoom *room, gsize *out_len)
{
  g_autoptr (GArray) vector = prd_document_get_committed_vector (room->document);
  g_autoptr (JsonNode) response = NULL;
  g_autoptr (JsonNode) state = NULL;
  JsonObject *object, *full_state, *initial;

  if (room->full_sync != NULL && vectors_equal (room->full_sync_vector, vector))
    {
      *out_len = room->full_sync_len;
      return room->full_sync;
    }
  state = prd_hub_room_build_initial_state (room);
  initial = json_node_get_object (state);
  response = json_node_new (JSON_NODE_OBJECT);
  object = json_object_new ();
  json_node_take_object (response, object);
  json_object_set_string_member (object, "prdId", room->prd_id);
  json_object_set_array_member (object, "missingUpdates", json_array_new ());
  json_object_set_member (object, "stateVector", prd_hub_vector_to_json (vector));
  json_object_set_boolean_member (object, "full", TRUE);
  full_state = json_object_new ();
  json_object_set_string_member (full_state, "content",
                                 json_object_get_string_member (initial, "content"));
  json_object_set_string_member (full_state, "encodedState",
                                 json_object_get_string_member (initial, "encodedState"));
  json_object_set_object_member (object, "fullState", full_state);
  g_free (room->full_sync);
  room->full_sync = prd_json_to_string (response);
  room->full_sync_len = strlen (room->full_sync);
  g_clear_pointer (&room->full_sync_vector, g_array_unref);
  room->full_sync_vector = g_steal_pointer (&vector);
  *out_len = room->full_sync_len;
  return room->full_sync;
}

/* The `initialState` of a `joined-prd` as JSON text (see initial_state). */
static const char *
room_initial_state (PrdHubRoom *room, gsize *out_len)
{
  g_autoptr (GArray) committed = prd_document_get_committed_vector (room->document);
  g_autoptr (GArray) vector =
      prd_crdt_doc_get_state_vector (prd_document_get_crdt (room->document));
  const char *version = prd_document_get_version (room->document);
  g_autoptr (JsonNode) state = NULL;

  if (room->initial_state == NULL || !vectors_equal (room->initial_committed, committed) ||
      !vectors_equal (room->initial_vector, vector) ||
      g_strcmp0 (room->initial_version, version) != 0)
    {
      state = prd_hub_room_build_initial_state (room);
      g_free (room->initial_state);
      room->initial_state = prd_json_to_string (state);
      room->initial_state_len = strlen (room->initial_state);
      g_clear_pointer (&room->initial_committed, g_array_unref);
      room->initial_committed = g_steal_pointer (&committed);
      g_clear_pointer (&room->initial_vector, g_array_unref);
      room->initial_vector = g_steal_pointer (&vector);
      g_free (room->initial_version);
      room->initial_version = g_strdup (version);
    }
  *out_len = room->initial_state_len;
  return room->initial_state;
}

/* What a user's entry in activeUsers holds besides its strings (status,
 * colour, site), at most. */
#define JOINER_ENTRY_EXTRA 128

/* Whether @request's joined-prd fits in its connection's write buffer
 * beside what the connection has not read yet; refused (and nothing
 * changed) otherwise, since sent it would overflow the buffer and close the
 * connection without a word. Its document part, initialState, is most of
 * it and grows with the PRD's history, not only its text: the encoded state
 * keeps every operation (a few bytes each, deleted characters included),
 * so a short text edited for long can outgrow a small buffer. The users
 * present are counted as they will be sent (a name of 256 bytes and an
 * avatar of 2 KiB each, at most), the joiner's own entry with them;
 * comments and conflicts, which other features add, are bounded apart
 * (comments by max-open-comments-bytes) and not counted; the event's
 * framing takes PRD_HUB_CONFIG_EVENT_ENVELOPE. */
static gboolean
join_fits (PrdHubRoom *room, JoinRequest *request, GError **error)
{
  static PrdLogThrottle refusals =
      PRD_LOG_THROTTLE_INIT (G_LOG_LEVEL_WARNING, "join refused: prd", "refusals");
  PrdEioSocket *engine = prd_sio_socket_get_engine (request->socket);
  guint64 max = prd_hub_config_get_engine (room->registry->config)->max_write_buffer;
  const PrdIdentity *identity = request->identity;
  g_autoptr (JsonNode) users = NULL;
  g_autofree char *users_text = NULL;
  guint64 buffered, needed;
  gsize len;

  if (engine == NULL)
    return TRUE;
  room_initial_state (room, &len);
  users = prd_room_build_active_users (room->members);
  users_text = prd_json_to_string (users);
  needed = (guint64) len + strlen (users_text) + PRD_HUB_CONFIG_EVENT_ENVELOPE;
  /* The joiner's entry when it is not there yet: its strings as JSON, and
   * the status, colour and site beside them. */
  if (!prd_room_has_member (room->members, prd_sio_socket_get_id (request->socket)))
    {
      g_autoptr (JsonNode) entry = json_node_new (JSON_NODE_OBJECT);
      g_autofree char *entry_text = NULL;
      JsonObject *object = json_object_new ();

      json_node_take_object (entry, object);
      json_object_set_string_member (object, "userId", identity->user_id);
      json_object_set_string_member (object, "name", identity->name);
      json_object_set_string_member (object, "avatar",
                                     identity->avatar != NULL ? identity->avatar : "");
      entry_text = prd_json_to_string (entry);
      needed += strlen (entry_text) + JOINER_ENTRY_EXTRA;
    }
  if (needed > max)
    {
      /* Any connection's join fails alike: only the operator can help. */
      if (prd_log_throttle_admit (&refusals))
        g_warning ("join refused: prd=%s state=%" G_GSIZE_FORMAT
                   " bytes (users present %" G_GSIZE_FORMAT
                   " bytes), more than [engine] max-write-buffer (%" G_GUINT64_FORMAT
                   " bytes): raise max-write-buffer for this PRD to be joined",
                   room->prd_id, len, strlen (users_text), max);
      g_set_error (error, PRD_ERROR, PRD_ERROR_LIMIT_REACHED,
                   "This PRD's state (%" G_GSIZE_FORMAT " bytes: its text and the history it "
                   "keeps) and the users present (%" G_GSIZE_FORMAT " bytes) do not fit in a "
                   "connection's write buffer ([engine] max-write-buffer, %" G_GUINT64_FORMAT
                   " bytes); the hub's operator must raise max-write-buffer",
                   len, strlen (users_text), max);
      return FALSE;
    }
  buffered = prd_eio_socket_get_buffered_amount (engine);
  if (buffered + needed > max)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_RATE_LIMITED,
                   "This PRD's state (%" G_GSIZE_FORMAT " bytes) does not fit in this "
                   "connection's write buffer ([engine] max-write-buffer, %" G_GUINT64_FORMAT
                   " bytes) beside what it has not read yet (%" G_GUINT64_FORMAT
                   " bytes); retry once it has",
                   len, max, buffered);
      return FALSE;
    }
  return TRUE;
}

/* join_fits() for @request, which is answered when it does not. */
static gboolean
join_check_fits (PrdHubRoom *room, JoinRequest *request)
{
  g_autoptr (GError) error = NULL;

  if (join_fits (room, request, &error))
    return TRUE;
  prd_hub_reply_error (request->socket, request->ack_id, "join-prd", room->prd_id, error);
  return FALSE;
}

static void
send_joined (PrdHubRoom *room, JoinRequest *request, int site, int previous_site)
{
  const PrdIdentity *identity = request->identity;
  const char *conn_id = prd_sio_socket_get_id (request->socket);
  g_autoptr (JsonNode) payload = NULL;
  g_autoptr (GArray) vector = NULL;
  JsonObject *object, *ack;

  if (!prd_room_has_member (room->members, conn_id))
    {
      /* The joiner's initial state already holds what a pending batch
       * carries: send the batch to the others before the joiner is in. */
      if (room->batcher != NULL && prd_batcher_get_n_queued (room->batcher) > 0)
        prd_batcher_flush (room->batcher, g_get_monotonic_time ());
      prd_sio_socket_join (request->socket, room->sio_room);
      room->joining = request->socket;
      prd_room_add_member (room->members, conn_id, identity->user_id, identity->name,
                           identity->avatar, request->edit, site);
      room->joining = NULL;
      g_hash_table_add (prd_hub_room_registry_socket_joined (request->socket),
                        g_strdup (room->prd_id));
    }
  site = prd_room_member_get_site (room->members, conn_id);

  payload = json_node_new (JSON_NODE_OBJECT);
  object = json_object_new ();
  json_node_take_object (payload, object);
  json_object_set_string_member (object, "prdId", room->prd_id);
  json_object_set_member (object, "activeUsers", prd_room_build_active_users (room->members));
  if (site >= 0)
    json_object_set_int_member (object, "siteId", site);
  json_object_set_string_member (object, "title", prd_document_get_title (room->document));
  json_object_set_string_member (
      object, "mode", prd_room_member_can_edit (room->members, conn_id) ? "edit" : "view");
  json_object_set_boolean_member (object, "archived", room->archived);
  /* So that a client splits long edits the way this hub takes them. */
  json_object_set_int_member (
      object, "maxOperationSize",
      prd_hub_config_get_collab (room->registry->config)->max_operation_size);
  json_object_set_int_member (
      object, "maxDocumentSize",
      prd_hub_config_get_collab (room->registry->config)->max_document_size);
  prd_hub_room_registry_member_joined (room->registry, room, request->socket, identity->user_id,
                                       object);
  if (previous_site >= 0)
    {
      JsonObject *conflict = json_object_new ();
      g_autofree char *message =
          g_strdup_printf ("Site %d is held by another connection, user or device, or was "
                           "retired after a crash; use site %d and re-apply your pending edits",
                           previous_site, site);

      json_object_set_string_member (conflict, "code", "SITE_CONFLICT");
      json_object_set_string_member (conflict, "message", message);
      json_object_set_int_member (conflict, "previousSiteId", previous_site);
      json_object_set_object_member (object, "siteConflict", conflict);
    }
  /* {"initialState": the shared text, the other members…} */
  {
    g_autofree char *members = prd_json_to_string (payload);
    g_autoptr (GString) text = NULL;
    const char *initial;
    gsize initial_len;

    initial = room_initial_state (room, &initial_len);
    text = g_string_sized_new (initial_len + strlen (members) + 32);
    g_string_append (text, "{\"initialState\":");
    g_string_append_len (text, initial, (gssize) initial_len);
    g_string_append_c (text, ',');
    g_string_append (text, members + 1); /* after its '{'; prdId is always there */
    prd_sio_socket_emit_raw (request->socket, "joined-prd", text->str, (gssize) text->len);
  }

  ack = json_object_new ();
  if (site >= 0)
    json_object_set_int_member (ack, "siteId", site);
  vector = prd_document_get_committed_vector (room->document);
  json_object_set_member (ack, "stateVector", prd_hub_vector_to_json (vector));
  prd_hub_reply_ok (request->socket, request->ack_id, ack);
}

/* Whether a replica that rejoins with its old @site, holding @client_ops
 * operations under it of which those from @pending_from on are not
 * acknowledged (-1: it did not say), may go on writing with it. Yes when it
 * is the replica that took the site over last, or when nobody took the
 * ids of its unacknowledged operations (the hub has fewer than
 * @pending_from operations of the site; an acknowledged one is in the hub
 * as it sent it). Otherwise another device of its user wrote with the site
 * meanwhile: the hub would ack one of its operations that matches as a
 * re-send and refuse the others, and its edits would be lost. Without
 * @pending_from, all its operations must have come before the last
 * takeover: a guess, wrong once the site changed hands twice. A client that
 * does not name its replica cannot tell, and gets its site back as before.
 * A retired site goes on for nobody. */
static gboolean
site_continues (PrdHubRoom *room,
                int site,
                const char *replica,
                guint32 client_ops,
                gint64 pending_from,
                guint32 hub_ops)
{
  const SiteHolder *holder = g_hash_table_lookup (room->holders, GINT_TO_POINTER (site));

  if (holder != NULL && holder->retired)
    return FALSE;
  if (replica == NULL)
    return TRUE;
  if (holder != NULL && g_strcmp0 (holder->replica, replica) == 0)
    return TRUE;
  if (pending_from >= 1)
    return pending_from > client_ops || hub_ops < pending_from;
  return client_ops <= (holder != NULL ? holder->from : 0);
}

static void
on_site_held (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  if (!prd_store_hold_site_finish (PRD_STORE (source), result, &error))
    g_warning ("Cannot record who holds a site: %s", error->message);
}

/* Records that @replica writes with @site from now on, unless it already
 * did. Not cancellable: it must be stored before any operation the new
 * holder appends after it (the store runs requests in order). */
static void
room_hold_site (PrdHubRoom *room, int site, const char *replica)
{
  SiteHolder *before = g_hash_table_lookup (room->holders, GINT_TO_POINTER (site));
  SiteHolder *holder;

  if (before != NULL && g_strcmp0 (before->replica, replica) == 0)
    return;
  g_return_if_fail (before == NULL || !before->retired);
  holder = g_new0 (SiteHolder, 1);
  holder->replica = g_strdup (replica);
  holder->from = prd_crdt_doc_get_site_ops (prd_document_get_crdt (room->document), site);
  /* A site new to this room's list (just allocated) has that row already:
   * no holder, from 0. */
  if (before == NULL && replica == NULL && holder->from == 0)
    {
      g_hash_table_insert (room->holders, GINT_TO_POINTER (site), holder);
      return;
    }
  g_hash_table_replace (room->holders, GINT_TO_POINTER (site), holder);
  prd_store_hold_site_async (room->registry->store, room->prd_id, site, replica, holder->from, NULL,
                             on_site_held, NULL);
}

/* Adds to @busy every site of @user_id that has operations in the
 * document. A joiner that re-applies its pending edits (`siteConflict`)
 * must get a site with none: the SDK places an insert after the character
 * it was typed after in the version where that character is visible and
 * every operation of the new site is (crdt.js insertAfter()); when the
 * site's earlier operations (another device of the user) deleted it, no
 * such version exists and the insert lands where the character was,
 * possibly before edits typed before it. A site of the user that nobody
 * wrote with has no history and may be handed out again. */
static void
busy_add_sites_with_history (PrdHubRoom *room, const char *user_id, GArray *busy)
{
  g_autoptr (GArray) vector =
      prd_crdt_doc_get_state_vector (prd_document_get_crdt (room->document));

  for (guint i = 0; i < vector->len; i++)
    {
      int site = (int) i;

      if (g_array_index (vector, guint32, i) > 0 &&
          g_strcmp0 (prd_document_get_site_owner (room->document, i), user_id) == 0)
        g_array_append_val (busy, site);
    }
}

typedef struct
{
  PrdHubRoom *room;
  JoinRequest *request;
  int previous_site;
} Acquire;

static void
on_site_acquired (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Acquire *acquire = user_data;
  PrdHubRoom *room = acquire->room;
  JoinRequest *request = acquire->request;
  g_autoptr (PrdStoreSite) site = NULL;
  g_autoptr (GError) error = NULL;

  site = prd_store_acquire_site_finish (PRD_STORE (source), result, &error);
  room->join_busy = FALSE;
  room->acquiring = NULL;
  if (room->registry != NULL)
    {
      if (request->cancelled)
        {
          /* Answered when the leave came; a site acquired stays the user's,
           * free for their next join. */
          if (site != NULL && site->site < PRD_CRDT_MAX_SITES)
            prd_document_set_site_owner (room->document, site->site, site->user_id);
        }
      else if (site == NULL)
        prd_hub_reply_error (request->socket, request->ack_id, "join-prd", room->prd_id, error);
      else if (site->site >= PRD_CRDT_MAX_SITES)
        prd_hub_reply_error_literal (request->socket, request->ack_id, "join-prd", room->prd_id,
                                     PRD_ERROR_INVALID_OPERATION, "This PRD has run out of sites");
      else
        {
          prd_document_set_site_owner (room->document, site->site, site->user_id);
          /* The state may have grown while the site was acquired; a site
           * acquired for a join refused stays the user's, as for a
           * cancelled one. */
          if (prd_sio_socket_is_connected (request->socket) && join_check_fits (room, request))
            {
              room_hold_site (room, site->site, request->replica_id);
              send_joined (room, request, site->site,
                           acquire->previous_site != site->site ? acquire->previous_site : -1);
            }
        }
      room_pump_joins (room);
      prd_hub_room_maybe_release (room);
    }
  join_request_free (request);
  g_object_unref (room);
  g_free (acquire);
}

/* Processes queued joins in order; a site acquisition is asynchronous and
 * the next join waits for it, so two tabs of a user never get one site. */
typedef struct
{
  PrdSioSocket *socket; /* (owned) */
  gint64 ack_id;
  char *prd_id; /* (owned) */
} ForeignJoin;

static void
on_foreign_join_looked_up (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ForeignJoin *join = user_data;
  g_autoptr (GError) error = NULL;
  PrdStoreDocument *stored = prd_store_load_finish (PRD_STORE (source), result, &error);

  /* Another organization's PRD: the store answers not found from its
   * metadata (nothing read). Whatever it said, the answer is an unknown
   * id's. */
  g_clear_pointer (&stored, prd_store_document_free);
  g_clear_error (&error);
  error = prd_error_new_prd_not_found (join->prd_id);
  if (prd_sio_socket_is_connected (join->socket))
    prd_hub_reply_error (join->socket, join->ack_id, "join-prd", join->prd_id, error);
  g_object_unref (join->socket);
  g_free (join->prd_id);
  g_free (join);
}

/* Refuses @request, a join of another organization than the loaded
 * PRD's, as an unknown id is refused: after one look at the store, not
 * at once from memory, whose quicker answer told that the id was an open
 * PRD of another organization. Frees @request. */
static void
refuse_foreign_join (PrdHubRoom *room, JoinRequest *request)
{
  ForeignJoin *join = g_new0 (ForeignJoin, 1);

  join->socket = g_object_ref (request->socket);
  join->ack_id = request->ack_id;
  join->prd_id = g_strdup (room->prd_id);
  prd_store_load_in_org_async (room->registry->store, room->prd_id, request->identity->org,
                               room->registry->cancellable, on_foreign_join_looked_up, join);
  join_request_free (request);
}

static void
room_pump_joins (PrdHubRoom *room)
{
  JoinRequest *request;

  while (room->registry != NULL && room->loaded && !room->join_busy &&
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
          refuse_foreign_join (room, request);
          continue;
        }
      /* Before anything changes: no member added, no site taken. */
      if (!join_check_fits (room, request))
        {
          join_request_free (request);
          continue;
        }
      /* An archived PRD is read-only: everyone joins in view mode. */
      if (room->archived)
        request->edit = FALSE;
      if (prd_room_has_member (room->members, conn_id) || !request->edit)
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

          gboolean continues = site_continues (room, requested, request->replica_id, client_ops,
                                               request->pending_from, hub_ops);
          gboolean pending =
              request->pending_from >= 1 ? request->pending_from <= client_ops : client_ops > 0;

          if (g_strcmp0 (owner, identity->user_id) == 0 &&
              !prd_room_site_is_held (room->members, requested) && continues)
            {
              room_hold_site (room, requested, request->replica_id);
              send_joined (room, request, requested, -1);
              join_request_free (request);
              continue;
            }
          if (client_ops > hub_ops || (!continues && pending))
            previous_site = requested;
        }

      room->join_busy = TRUE;
      busy = prd_room_get_busy_sites (room->members);
      /* Not given back: not handed out again as the user's free site either. */
      if (requested >= 0)
        g_array_append_val (busy, requested);
      /* It re-applies its edits: a site with no operations, free or new. A
       * joiner without local state gets the user's free site, history and
       * all, and continues at its operation count. */
      if (previous_site >= 0)
        busy_add_sites_with_history (room, identity->user_id, busy);
      acquire = g_new0 (Acquire, 1);
      acquire->room = g_object_ref (room);
      acquire->request = request;
      acquire->previous_site = previous_site;
      room->acquiring = request;
      prd_store_acquire_site_async (room->registry->store, room->prd_id, identity->user_id,
                                    (const int *) busy->data, busy->len,
                                    room->registry->cancellable, on_site_acquired, acquire);
    }
}

void
prd_hub_room_leave (PrdHubRoom *room, PrdSioSocket *socket)
{
  const char *conn_id = prd_sio_socket_get_id (socket);

  prd_sio_socket_leave (socket, room->sio_room);
  g_hash_table_remove (prd_hub_room_registry_socket_joined (socket), room->prd_id);
  if (room->members != NULL)
    {
      g_autofree char *user_id = g_strdup (prd_room_member_get_user_id (room->members, conn_id));
      const char *remaining;

      prd_room_remove_member (room->members, conn_id);
      if (user_id != NULL && room->registry != NULL)
        prd_hub_room_registry_member_left (room->registry, room, socket, user_id);
      /* The user stays through another tab (no user-left): the others may
       * still show the cursor of the tab that left, so they are told where
       * the user is now. */
      remaining = user_id != NULL ? prd_room_get_latest_member (room->members, user_id) : NULL;
      if (remaining != NULL)
        {
          g_autoptr (JsonNode) relay = prd_room_build_presence (room->members, remaining);

          json_object_set_int_member (json_node_get_object (relay), "timestamp",
                                      g_get_real_time () / 1000);
          prd_hub_room_broadcast (room, socket, "presence-update", user_id, relay);
        }
    }
  prd_hub_room_maybe_release (room);
}

/* ---- content ------------------------------------------------------------ */

static void room_settle (PrdHubRoom *room);

static void
on_appended (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Pending *pending = user_data;
  PrdHubRoom *room = pending->room;

  pending->seq = prd_store_append_update_finish (PRD_STORE (source), result, &pending->error);
  pending->done = TRUE;
  room_settle (room);
}

/* `"stateVector":[…]`, the ack's member, into @out. */
static void
write_vector_member (GString *out, GArray *vector)
{
  g_string_append (out, "\"stateVector\":");
  prd_crdt_vector_write_json ((const guint32 *) (void *) vector->data, vector->len, out);
}

/* The committed operation to the room but its sender. Every update takes
 * this path: its text is written directly; a tree is built only when the
 * batcher keeps the event for a batch-update. */
static void
broadcast_operation (PrdHubRoom *room, Pending *pending)
{
  g_autoptr (GString) text = NULL;
  g_autoptr (JsonNode) payload = NULL;

  if (!prd_batcher_count (room->batcher, g_get_monotonic_time ()))
    {
      payload = prd_hub_build_content_update (room->prd_id, pending->user_id, pending->user_name,
                                              pending->op, pending->vector);
      prd_batcher_queue (room->batcher, "content-update",
                         pending->socket != NULL ? prd_sio_socket_get_id (pending->socket) : NULL,
                         NULL, payload);
      return;
    }
  text = g_string_sized_new (256);
  prd_hub_write_content_update (text, room->prd_id, pending->user_id, pending->user_name,
                                pending->op, pending->vector);
  prd_sio_namespace_emit_raw (room->registry->nsp, room->sio_room, pending->socket,
                              "content-update", text->str, (gssize) text->len);
}

static void
settle_one (PrdHubRoom *room, Pending *pending)
{
  g_autoptr (GString) ack = NULL;

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
      /* The database refused the write (full disk, read-only files, I/O
       * error), not this PRD alone (deleted meanwhile). */
      if (!room->failed && room->registry != NULL &&
          g_error_matches (pending->error, PRD_ERROR, PRD_ERROR_STORAGE))
        prd_hub_room_registry_storage_result (room->registry, pending->error);
      room->failed = TRUE;
      if (pending->socket != NULL)
        prd_hub_reply_error (pending->socket, pending->ack_id, "content-update", room->prd_id,
                             pending->error);
      return;
    }
  if (pending->kind == PENDING_DUPLICATE)
    {
      g_autoptr (GArray) vector = prd_document_get_committed_vector (room->document);

      ack = g_string_sized_new (64);
      write_vector_member (ack, vector);
      g_string_append (ack, ",\"duplicate\":true");
      prd_hub_reply_ok_raw (pending->socket, pending->ack_id, ack->str, (gssize) ack->len);
      return;
    }

  if (room->registry != NULL)
    prd_hub_room_registry_storage_result (room->registry, NULL);
  prd_document_commit (room->document, pending->op->site, pending->op->seq);
  g_clear_pointer (&room->full_sync, g_free);
  g_clear_pointer (&room->full_sync_vector, g_array_unref);
  if (pending->seq != room->last_seq + 1 && !room->log_gap)
    {
      g_warning ("%s: update %" G_GINT64_FORMAT " was stored after %" G_GINT64_FORMAT
                 ", which this room has not seen; it writes no snapshot until it is loaded again",
                 room->prd_id, pending->seq, room->last_seq);
      room->log_gap = TRUE;
    }
  room->last_seq = pending->seq;
  room->since_snapshot++;
  room->since_snapshot_bytes += pending->bytes;
  if (room->unsaved_since == 0)
    room->unsaved_since = g_get_real_time ();

  if (room->registry != NULL)
    broadcast_operation (room, pending);
  if (room->registry != NULL)
    prd_hub_room_registry_operation_committed (room->registry, room, pending->op, pending->base,
                                               pending->client_position, pending->user_id,
                                               pending->user_name);

  if (pending->socket == NULL) /* the hub's AI site: nobody to acknowledge */
    return;
  ack = g_string_sized_new (64);
  write_vector_member (ack, pending->vector);
  prd_hub_reply_ok_raw (pending->socket, pending->ack_id, ack->str, (gssize) ack->len);
}

static void
room_settle (PrdHubRoom *room)
{
  Pending *pending;

  g_object_ref (room);
  while ((pending = g_queue_peek_head (&room->inflight)) != NULL && pending->done)
    {
      g_queue_pop_head (&room->inflight);
      settle_one (room, pending);
      pending_free (pending);
    }
  if (g_queue_is_empty (&room->inflight) && room->registry != NULL)
    {
      if (room->failed)
        {
          g_autoptr (GError) error =
              g_error_new_literal (PRD_ERROR, PRD_ERROR_STORAGE,
                                   "The PRD could not be stored and was closed; join it again");

          room_fail (room, error);
        }
      else if (snapshot_due (room))
        room_snapshot (room);
      prd_hub_room_maybe_release (room);
    }
  g_object_unref (room);
}

/* ---- joining and submitting (the collaboration events) ------------------------- */

/**
 * prd_hub_room_join:
 * @identity: (transfer full): who joins
 * @client_vector: (transfer full) (nullable): the client's state vector
 * @replica_id: (nullable): the client's replica (join-prd's `replicaId`),
 *   validated with prd_store_validate_replica_id()
 * @pending_from: the number of the client's first unacknowledged operation
 *   under @requested_site (join-prd's `pendingFrom`), or -1
 *
 * Queues a join-prd; it is answered (joined-prd and the ack, or an error)
 * once the room is loaded and the joins before it are done.
 */
void
prd_hub_room_join (PrdHubRoom *room,
                   PrdSioSocket *socket,
                   gint64 ack_id,
                   PrdIdentity *identity,
                   gboolean edit,
                   int requested_site,
                   GArray *client_vector,
                   const char *replica_id,
                   gint64 pending_from)
{
  JoinRequest *request = g_new0 (JoinRequest, 1);

  /* Joined again within its grace period: kept. */
  g_clear_handle_id (&room->grace_id, g_source_remove);
  request->socket = g_object_ref (socket);
  request->prd_id = g_strdup (room->prd_id);
  count_joining (socket, request->prd_id, +1);
  request->ack_id = ack_id;
  request->identity = identity;
  request->edit = edit;
  request->requested_site = requested_site;
  request->client_vector = client_vector;
  request->replica_id = g_strdup (replica_id);
  request->pending_from = pending_from;
  g_queue_push_tail (&room->joins, request);
  room_pump_joins (room);
  /* A refused join (another organization's PRD) may leave the room empty. */
  prd_hub_room_maybe_release (room);
}

/**
 * prd_hub_room_cancel_joins:
 *
 * A leave-prd of @socket: its joins of this room not answered yet are
 * answered `CANCELLED` now (the one whose site is being acquired, once it
 * is), so that a join sent before the leave does not make the socket a
 * member after it.
 *
 * Returns: how many joins were cancelled
 */
guint
prd_hub_room_cancel_joins (PrdHubRoom *room, PrdSioSocket *socket)
{
  g_autoptr (GError) error = NULL;
  GList *l = room->joins.head;
  guint n = 0;

  g_set_error_literal (&error, PRD_ERROR, PRD_ERROR_CANCELLED,
                       "A leave-prd for this PRD came before this join was answered");
  while (l != NULL)
    {
      GList *next = l->next;
      JoinRequest *request = l->data;

      if (request->socket == socket)
        {
          g_queue_delete_link (&room->joins, l);
          prd_hub_reply_error (socket, request->ack_id, "join-prd", room->prd_id, error);
          join_request_free (request);
          n++;
        }
      l = next;
    }
  if (room->acquiring != NULL && room->acquiring->socket == socket && !room->acquiring->cancelled)
    {
      room->acquiring->cancelled = TRUE;
      prd_hub_reply_error (socket, room->acquiring->ack_id, "join-prd", room->prd_id, error);
      n++;
    }
  return n;
}

/* What may refuse a member's operation before it is read; returns its site,
 * or -1 after replying. */
static int
submit_check (PrdHubRoom *room, PrdSioSocket *socket, const char *event, gint64 ack_id)
{
  const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
  const char *conn_id = prd_sio_socket_get_id (socket);
  g_autoptr (GError) error = NULL;

  if (!prd_hub_room_check_writable (room, &error))
    {
      prd_hub_reply_error (socket, ack_id, event, room->prd_id, error);
      return -1;
    }
  if (!prd_room_member_can_edit (room->members, conn_id))
    {
      prd_hub_reply_error_literal (
          socket, ack_id, event, room->prd_id, PRD_ERROR_FORBIDDEN,
          identity->role == PRD_ROLE_VIEWER
              ? "Viewers cannot change content"
              : "Joined in view mode; join in edit mode to change content");
      return -1;
    }
  if (room->failed)
    {
      prd_hub_reply_error_literal (socket, ack_id, event, room->prd_id, PRD_ERROR_STORAGE,
                                   "The PRD could not be stored; join it again");
      return -1;
    }
  if (pending_acks (socket) >= prd_hub_config_get_collab (room->registry->config)->max_pending_acks)
    {
      g_autofree char *message =
          g_strdup_printf ("%u content-updates await their ack (max-pending-acks); wait for them",
                           pending_acks (socket));

      prd_hub_reply_error_literal (socket, ack_id, event, room->prd_id, PRD_ERROR_LIMIT_REACHED,
                                   message);
      return -1;
    }
  return prd_room_member_get_site (room->members, conn_id);
}

/* The rest of a member's operation once the document took it (@op) or knew
 * it (@op %NULL: a duplicate): it is acked and broadcast once stored, in
 * order. @base (transfer full) (nullable) is the client's vector,
 * @client_position where it typed. */
static void
submit_applied (PrdHubRoom *room,
                PrdSioSocket *socket,
                const char *event,
                int site,
                PrdCrdtOp *op,
                GArray *base,
                guint32 client_position,
                gint64 ack_id)
{
  const PrdIdentity *identity = prd_hub_socket_get_identity (socket);
  g_autoptr (GBytes) encoded = NULL;
  Pending *pending;

  pending = g_new0 (Pending, 1);
  pending->room = g_object_ref (room);
  pending->socket = g_object_ref (socket);
  g_object_set_data (G_OBJECT (socket), PENDING_ACKS_KEY,
                     GUINT_TO_POINTER (pending_acks (socket) + 1));
  pending->ack_id = ack_id;
  if (op == NULL)
    {
      g_clear_pointer (&base, g_array_unref);
      pending->kind = PENDING_DUPLICATE;
      pending->done = TRUE;
      g_queue_push_tail (&room->inflight, pending);
      room_settle (room);
      return;
    }
  /* The document keeps every character ever inserted (deleted ones as
   * tombstones): long inserts count as more events, so that the rate limit
   * bounds how fast one user grows it, not only how often. */
  if (op->type == PRD_CRDT_OP_INSERT)
    {
      guint per_event = prd_hub_config_get_collab (room->registry->config)->insert_units;

      if (op->length >= per_event)
        prd_sio_socket_charge_rate (socket, event, op->length / per_event);
    }
  pending->kind = PENDING_OP;
  pending->user_id = g_strdup (identity->user_id);
  pending->user_name = g_strdup (identity->name);
  pending->vector = prd_crdt_doc_get_state_vector (prd_document_get_crdt (room->document));
  pending->base = base;
  if (pending->base != NULL && pending->base->len > (guint) site)
    g_array_index (pending->base, guint32, site) = op->seq - 1;
  pending->client_position = client_position;
  encoded = prd_crdt_ops_encode (&op, 1);
  pending->bytes = g_bytes_get_size (encoded);
  pending->op = op;
  g_queue_push_tail (&room->inflight, pending);
  prd_store_append_update_async (room->registry->store, room->prd_id, site, pending->op->seq,
                                 identity->user_id, encoded, NULL, on_appended, pending);
}

/**
 * prd_hub_room_submit:
 * @socket: a member that may edit
 * @payload: the content-update payload
 *
 * Integrates a client's operation and sends it to the store; it is acked
 * and broadcast once stored, in order.
 */
void
prd_hub_room_submit (
    PrdHubRoom *room, PrdSioSocket *socket, const char *event, JsonObject *payload, gint64 ack_id)
{
  g_autoptr (GError) error = NULL;
  JsonNode *vector_node;
  PrdCrdtOp *op;
  GArray *base;
  gboolean duplicate = FALSE;
  int site = submit_check (room, socket, event, ack_id);

  if (site < 0)
    return;
  op = prd_document_apply_client_operation (
      room->document, json_object_get_member (payload, "operation"),
      json_object_get_member (payload, "stateVector"), (guint32) site,
      prd_hub_socket_get_identity (socket)->user_id,
      prd_hub_config_get_collab (room->registry->config)->max_operation_size, &duplicate, &error);
  /* read as the document just did (when it could: a payload without one
   * was refused) */
  vector_node = json_object_get_member (payload, "stateVector");
  base = vector_node != NULL ? prd_crdt_vector_from_json (vector_node, NULL) : NULL;
  if (base != NULL && !duplicate)
    prd_hub_charge_history (socket, event, prd_document_get_crdt (room->document),
                            (const guint32 *) base->data, base->len, 1,
                            prd_hub_config_get_collab (room->registry->config)->history_ops);
  if (op == NULL && !duplicate)
    {
      g_clear_pointer (&base, g_array_unref);
      prd_hub_reply_error (socket, ack_id, event, room->prd_id, error);
      return;
    }
  submit_applied (room, socket, event, site, op, base,
                  (guint32) json_object_get_int_member (
                      json_object_get_object_member (payload, "operation"), "position"),
                  ack_id);
}

/**
 * prd_hub_room_submit_operation:
 * @socket: a member that may edit
 * @operation: the content-update's `operation`, read already
 * @vector: (array length=n_vector): its `stateVector`
 *
 * prd_hub_room_submit() for a content-update read without a tree.
 */
void
prd_hub_room_submit_operation (PrdHubRoom *room,
                               PrdSioSocket *socket,
                               const char *event,
                               const PrdClientOperation *operation,
                               const guint32 *vector,
                               guint n_vector,
                               gint64 ack_id)
{
  g_autoptr (GError) error = NULL;
  PrdCrdtOp *op;
  GArray *base;
  gboolean duplicate = FALSE;
  int site = submit_check (room, socket, event, ack_id);

  if (site < 0)
    return;
  op = prd_document_apply_operation (
      room->document, operation, vector, n_vector, (guint32) site,
      prd_hub_socket_get_identity (socket)->user_id,
      prd_hub_config_get_collab (room->registry->config)->max_operation_size, &duplicate, &error);
  if (!duplicate)
    prd_hub_charge_history (socket, event, prd_document_get_crdt (room->document), vector, n_vector,
                            1, prd_hub_config_get_collab (room->registry->config)->history_ops);
  if (op == NULL && !duplicate)
    {
      prd_hub_reply_error (socket, ack_id, event, room->prd_id, error);
      return;
    }
  base = g_array_sized_new (FALSE, FALSE, sizeof (guint32), n_vector);
  g_array_append_vals (base, vector, n_vector);
  submit_applied (room, socket, event, site, op, base, operation->position, ack_id);
}

gboolean
prd_hub_room_is_loaded (PrdHubRoom *room)
{
  return room->loaded;
}

/* Snapshots the room if it has unsaved changes and is settled, telling its
 * members (auto-save-start, then auto-save-complete). A room whose appends
 * are still in flight waits for the next tick; a room nobody is in is
 * snapshotted on release anyway. */
void
prd_hub_room_autosave (PrdHubRoom *room)
{
  g_autoptr (JsonNode) payload = NULL;
  g_autofree char *since = NULL;
  JsonObject *object;

  if (room->registry == NULL || room->registry->nsp == NULL || !room->loaded || room->failed ||
      room->log_gap || room->since_snapshot == 0 || room->snapshotting ||
      !g_queue_is_empty (&room->inflight))
    return;
  since = prd_time_format (room->unsaved_since);
  payload = json_node_new (JSON_NODE_OBJECT);
  object = json_object_new ();
  json_node_take_object (payload, object);
  json_object_set_string_member (object, "prdId", room->prd_id);
  json_object_set_string_member (object, "changesSince", since);
  prd_sio_namespace_emit_one (room->registry->nsp, room->sio_room, NULL, "auto-save-start",
                              payload);
  room->autosaving = TRUE;
  room_snapshot (room);
}

/* ---- the room API ------------------------------------------------------------- */

/**
 * prd_hub_room_hold:
 *
 * Keeps the room loaded while the hub works on it (an AI job, a conflict
 * resolution), even when its last member leaves. Undo with
 * prd_hub_room_release().
 *
 * Returns: %FALSE with @error set (STORAGE) when the room was closed
 */
gboolean
prd_hub_room_hold (PrdHubRoom *room, GError **error)
{
  g_return_val_if_fail (PRD_IS_HUB_ROOM (room), FALSE);

  if (room->failed || room->registry == NULL)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_STORAGE,
                           "The PRD could not be stored; join it again");
      return FALSE;
    }
  room->holds++;
  /* Held, it is no longer idle (nor evicted to make way). */
  g_clear_handle_id (&room->grace_id, g_source_remove);
  g_object_ref (room);
  return TRUE;
}

/**
 * prd_hub_room_release:
 *
 * Undoes prd_hub_room_hold(); the room is saved and released if nobody is
 * in it any more.
 */
void
prd_hub_room_release (PrdHubRoom *room)
{
  g_return_if_fail (PRD_IS_HUB_ROOM (room) && room->holds > 0);

  room->holds--;
  prd_hub_room_maybe_release (room);
  g_object_unref (room);
}

/* (nullable): %NULL until loaded */
PrdDocument *
prd_hub_room_get_document (PrdHubRoom *room)
{
  g_return_val_if_fail (PRD_IS_HUB_ROOM (room), NULL);

  return room->document;
}

/**
 * prd_hub_room_check_writable:
 *
 * Whether the PRD's content may change now: not while it is archived.
 *
 * Returns: %FALSE with @error set (FORBIDDEN) when archived
 */
gboolean
prd_hub_room_check_writable (PrdHubRoom *room, GError **error)
{
  g_return_val_if_fail (PRD_IS_HUB_ROOM (room), FALSE);

  if (!room->archived)
    return TRUE;
  g_set_error (error, PRD_ERROR, PRD_ERROR_FORBIDDEN,
               "%s is archived; unarchive it to change content", room->prd_id);
  return FALSE;
}

/* Whether the room still takes writes: not closed after a failed append,
 * nor released. */
gboolean
prd_hub_room_is_open (PrdHubRoom *room)
{
  g_return_val_if_fail (PRD_IS_HUB_ROOM (room), FALSE);

  return room->registry != NULL && !room->failed;
}

/* The sites a new site of the hub must not take: those of members and of
 * other writers. */
GArray *
prd_hub_room_get_busy_sites (PrdHubRoom *room)
{
  g_return_val_if_fail (PRD_IS_HUB_ROOM (room), NULL);

  return prd_room_get_busy_sites (room->members);
}

/* Sends @payload to everyone in the room, unbatched. */
void
prd_hub_room_emit (PrdHubRoom *room, const char *event, JsonNode *payload)
{
  g_return_if_fail (PRD_IS_HUB_ROOM (room));

  if (room->registry != NULL && room->registry->nsp != NULL)
    prd_sio_namespace_emit_one (room->registry->nsp, room->sio_room, NULL, event, payload);
}

/**
 * prd_hub_room_emit_to_user:
 *
 * Sends @payload to every connection of one user (@org and @user_id) in the
 * room, unbatched.
 *
 * Returns: how many connections it went to
 */
guint
prd_hub_room_emit_to_user (
    PrdHubRoom *room, const char *org, const char *user_id, const char *event, JsonNode *payload)
{
  g_autoptr (GPtrArray) sockets = NULL;
  guint n = 0;

  g_return_val_if_fail (PRD_IS_HUB_ROOM (room), 0);

  if (room->registry == NULL || room->registry->nsp == NULL)
    return 0;
  sockets = prd_sio_namespace_get_room_sockets (room->registry->nsp, room->sio_room);
  for (guint i = 0; i < sockets->len; i++)
    {
      PrdSioSocket *socket = sockets->pdata[i];
      const PrdIdentity *identity = prd_hub_socket_get_identity (socket);

      if (identity != NULL && g_strcmp0 (identity->org, org) == 0 &&
          g_strcmp0 (identity->user_id, user_id) == 0 && prd_sio_socket_is_connected (socket))
        {
          prd_sio_socket_emit_one (socket, event, payload);
          n++;
        }
    }
  return n;
}

/* Sets the presence status of @socket's member and relays it. */
void
prd_hub_room_set_status (PrdHubRoom *room, PrdSioSocket *socket, const char *status)
{
  const char *conn_id = prd_sio_socket_get_id (socket);
  g_autoptr (JsonNode) relay = NULL;

  g_return_if_fail (PRD_IS_HUB_ROOM (room));

  if (room->registry == NULL || !prd_room_set_status (room->members, conn_id, status))
    return;
  relay = prd_room_build_presence (room->members, conn_id);
  prd_hub_room_broadcast (room, socket, "presence-update",
                          prd_room_member_get_user_id (room->members, conn_id), relay);
  prd_hub_room_registry_member_changed (room->registry, room, socket);
}

/**
 * prd_hub_room_write:
 * @site: a site of @site_user in this PRD, which no client writes with
 *   (acquired from the store with prd_hub_room_get_busy_sites() excluded)
 * @site_user: the user the store records for the operation (the hub's
 *   %PRD_HUB_SITE_USER, the AI's `ai`, …)
 * @user_id: (nullable): the user the broadcast names (default: @site_user)
 * @user_name: (nullable): the name the broadcast gives (default: @user_id)
 * @insert: insert @text, or delete @length units
 * @position: in UTF-16 code units of the current text
 *
 * The one way the hub writes into a PRD on someone's behalf (AI text,
 * conflict resolutions, imports). The operation takes the durable path of a
 * client's content-update: integrated now, appended to the store, then
 * committed and broadcast to the whole room (content-update), in order,
 * and announced with #PrdHubRoomRegistry::operation-committed.
 *
 * Returns: %FALSE with @error set when the room was closed or the
 *   operation is not valid
 */
gboolean
prd_hub_room_write (PrdHubRoom *room,
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
  PrdClientOperation operation = {
    .insert = insert,
    .position = position,
    .timestamp = g_get_real_time () / 1000,
    .content = text,
    .length = length,
  };
  g_autoptr (GArray) vector = NULL;
  g_autoptr (GBytes) encoded = NULL;
  g_autoptr (PrdCrdtOp) op = NULL;
  gboolean duplicate = FALSE;
  Pending *pending;
  guint32 zero = 0;

  if (room->registry == NULL || room->failed)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_STORAGE, "The PRD was closed");
      return FALSE;
    }
  if (!prd_hub_room_check_writable (room, error))
    return FALSE;
  vector = prd_crdt_doc_get_state_vector (prd_document_get_crdt (room->document));
  while (vector->len <= site)
    g_array_append_val (vector, zero);
  g_array_index (vector, guint32, site)++;
  op = prd_document_apply_operation (room->document, &operation, (const guint32 *) vector->data,
                                     vector->len, site, site_user, PRD_DOCUMENT_MAX_OPERATION_SIZE,
                                     &duplicate, error);
  if (op == NULL)
    {
      if (duplicate)
        g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INTERNAL, "The hub's site is out of step");
      return FALSE;
    }

  pending = g_new0 (Pending, 1);
  pending->room = g_object_ref (room);
  pending->kind = PENDING_OP;
  pending->ack_id = -1;
  pending->user_id = g_strdup (user_id != NULL ? user_id : site_user);
  pending->user_name = g_strdup (user_name != NULL ? user_name : pending->user_id);
  g_clear_pointer (&vector, g_array_unref);
  vector = prd_crdt_doc_get_state_vector (prd_document_get_crdt (room->document));
  pending->vector = g_steal_pointer (&vector);
  encoded = prd_crdt_ops_encode (&op, 1);
  pending->bytes = g_bytes_get_size (encoded);
  pending->op = g_steal_pointer (&op);
  g_queue_push_tail (&room->inflight, pending);
  prd_store_append_update_async (room->registry->store, room->prd_id, site, pending->op->seq,
                                 site_user, encoded, NULL, on_appended, pending);
  return TRUE;
}

const char *
prd_hub_room_get_prd_id (PrdHubRoom *room)
{
  g_return_val_if_fail (PRD_IS_HUB_ROOM (room), NULL);

  return room->prd_id;
}

/* (nullable): who is in the room; %NULL before it has loaded */
PrdRoom *
prd_hub_room_get_members (PrdHubRoom *room)
{
  g_return_val_if_fail (PRD_IS_HUB_ROOM (room), NULL);

  return room->members;
}
