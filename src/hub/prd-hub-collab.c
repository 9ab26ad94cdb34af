/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Collaboration on /prds: join-prd, leave-prd, content-update, sync-request
 * and presence-update, read from the socket and turned into calls on the
 * room (PrdHubRoom) and its registry; the room answers what waits for the
 * store (joins, operations), the handlers here answer the rest.
 *
 * content-update, sent with every edit, is read without a JSON tree when it
 * has the protocol's shape (on_content_update_text()); any other payload is
 * read as a tree, whose reading is the reference: both end in the same
 * checks of the document (prd_document_apply_operation()).
 */
#define G_LOG_DOMAIN "prd-hub-collab"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-hub-context.h"
#include "prd-hub-room-private.h"
#include "prd-json.h"

#include "prd-hub-collab.h"
#include "prd-hub-config-collab.h"
#include "prd-hub-config-server.h"

struct _PrdHubCollab
{
  GObject parent_instance;

  PrdSioNamespace *nsp;      /* (unowned) (nullable): weak pointer */
  PrdHubRoomRegistry *rooms; /* (owned) */
};

G_DEFINE_FINAL_TYPE (PrdHubCollab, prd_hub_collab, G_TYPE_OBJECT)

/* What a join-prd asks for. */
typedef struct
{
  PrdIdentity *identity; /* (owned) */
  gboolean edit;
  int requested_site;
  GArray *client_vector;  /* (owned) (nullable) */
  const char *replica_id; /* (nullable): in the payload */
  gint64 pending_from;    /* -1: not given */
} JoinRequest;

/* The room @socket has joined under @prd_id, or NULL after replying NOT_JOINED. */
static PrdHubRoom *
joined_room (
    PrdHubCollab *self, PrdSioSocket *socket, const char *event, const char *prd_id, gint64 ack_id)
{
  g_autoptr (GError) error = NULL;
  PrdHubRoom *room = prd_hub_room_registry_get_joined (self->rooms, socket, prd_id, &error);

  if (room == NULL)
    prd_hub_reply_error (socket, ack_id, event, prd_id, error);
  return room;
}

static void
on_content_update (PrdSioSocket *socket,
                   const char *event,
                   JsonArray *args,
                   GPtrArray *attachments,
                   gint64 ack_id,
                   gpointer user_data)
{
  PrdHubCollab *self = user_data;
  const char *prd_id;
  JsonObject *payload;
  PrdHubRoom *room;

  payload = prd_hub_payload_get_prd (socket, event, args, ack_id, &prd_id);
  if (payload == NULL)
    return;
  room = joined_room (self, socket, event, prd_id, ack_id);
  if (room == NULL)
    return;
  prd_hub_room_submit (room, socket, event, payload, ack_id);
}

/* A content-update read without a tree (the event most often sent). */
typedef struct
{
  GString *prd_id;
  GString *content;
  PrdClientOperation operation;
  GArray *vector; /* (element-type guint32) */
} ContentUpdate;

static void
content_update_clear (ContentUpdate *update)
{
  g_string_free (update->prd_id, TRUE);
  g_string_free (update->content, TRUE);
  g_array_unref (update->vector);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ContentUpdate, content_update_clear)

enum
{
  SEEN_PRD_ID = 1 << 0,
  SEEN_OPERATION = 1 << 1,
  SEEN_STATE_VECTOR = 1 << 2,
  SEEN_TYPE = 1 << 3,
  SEEN_POSITION = 1 << 4,
  SEEN_TIMESTAMP = 1 << 5,
  SEEN_CONTENT = 1 << 6,
  SEEN_LENGTH = 1 << 7,
  SEEN_TWICE = 1 << 8,
};

/* Whether the member read is @want, which is then marked in @seen. A name
 * given twice marks SEEN_TWICE: the tree keeps the last of the two, this
 * reader gives up. */
static gboolean
member_is (const char *name, gsize len, const char *want, guint bit, guint *seen)
{
  if (len != strlen (want) || memcmp (name, want, len) != 0)
    return FALSE;
  *seen |= (*seen & bit) != 0 ? SEEN_TWICE : bit;
  return TRUE;
}

/* Steps over a member this reader does not use, as the tree path ignores
 * it; FALSE for a name it cannot compare (an escape in it). */
static gboolean
skip_other_member (PrdJsonCursor *cursor, const char *name, gsize len)
{
  if (memchr (name, '\\', len) != NULL)
    return FALSE;
  prd_json_cursor_skip (cursor);
  return TRUE;
}

static gboolean
read_bounded_int (PrdJsonCursor *cursor, gint64 min, gint64 max, gint64 *out)
{
  return prd_json_cursor_read_int (cursor, out) && *out >= min && *out <= max;
}

static gboolean
read_operation (PrdJsonCursor *cursor, ContentUpdate *update, guint *seen)
{
  PrdClientOperation *op = &update->operation;
  g_autoptr (GString) type = g_string_new (NULL);
  const char *name;
  gsize len;
  gint64 value;

  if (!prd_json_cursor_enter (cursor, '{'))
    return FALSE;
  while (prd_json_cursor_next (cursor))
    {
      if (!prd_json_cursor_read_name (cursor, &name, &len))
        return FALSE;
      if (member_is (name, len, "type", SEEN_TYPE, seen))
        {
          if (!prd_json_cursor_read_string (cursor, type))
            return FALSE;
        }
      else if (member_is (name, len, "position", SEEN_POSITION, seen))
        {
          if (!read_bounded_int (cursor, 0, G_MAXUINT32, &value))
            return FALSE;
          op->position = (guint32) value;
        }
      else if (member_is (name, len, "timestamp", SEEN_TIMESTAMP, seen))
        {
          if (!read_bounded_int (cursor, 0, G_MAXINT64, &op->timestamp))
            return FALSE;
        }
      else if (member_is (name, len, "content", SEEN_CONTENT, seen))
        {
          if (!prd_json_cursor_read_string (cursor, update->content))
            return FALSE;
          op->content = update->content->str;
        }
      else if (member_is (name, len, "length", SEEN_LENGTH, seen))
        {
          if (!read_bounded_int (cursor, 1, G_MAXUINT32, &value))
            return FALSE;
          op->length = (guint32) value;
        }
      else if (!skip_other_member (cursor, name, len))
        return FALSE;
    }
  if ((*seen & (SEEN_TYPE | SEEN_POSITION)) != (SEEN_TYPE | SEEN_POSITION))
    return FALSE;
  op->insert = g_str_equal (type->str, "insert");
  if (op->insert)
    return (*seen & SEEN_CONTENT) != 0;
  return g_str_equal (type->str, "delete") && (*seen & SEEN_LENGTH) != 0;
}

/* Reads a stateVector as prd_crdt_vector_from_json() does: without its
 * trailing zeros (a missing entry is 0), so that what the room copies and
 * the conflict window keeps per operation is bounded by the sites the
 * document has, not by the padding a client sends. */
static gboolean
read_state_vector (PrdJsonCursor *cursor, GArray *vector)
{
  gint64 value;
  guint n = 0, zeros = 0;

  if (!prd_json_cursor_enter (cursor, '['))
    return FALSE;
  while (prd_json_cursor_next (cursor))
    {
      guint32 entry;

      if (n == PRD_CRDT_MAX_SITES || !read_bounded_int (cursor, 0, G_MAXUINT32, &value))
        return FALSE;
      n++;
      entry = (guint32) value;
      if (entry == 0)
        {
          zeros++;
          continue;
        }
      g_array_set_size (vector, vector->len + zeros);
      zeros = 0;
      g_array_append_val (vector, entry);
    }
  return TRUE;
}

/* Reads the arguments of a content-update that has the shape the protocol
 * gives it, each member of the right type and in range, each once. FALSE
 * for anything else, which the tree path then reads and answers: its errors
 * stay the only ones. */
static gboolean
read_content_update (const char *args, gsize args_len, ContentUpdate *update)
{
  PrdJsonCursor cursor;
  const char *name;
  gsize len;
  guint seen = 0;

  prd_json_cursor_init (&cursor, args, args_len);
  if (!prd_json_cursor_next (&cursor) || !prd_json_cursor_enter (&cursor, '{'))
    return FALSE;
  while (prd_json_cursor_next (&cursor))
    {
      if (!prd_json_cursor_read_name (&cursor, &name, &len))
        return FALSE;
      if (member_is (name, len, "prdId", SEEN_PRD_ID, &seen))
        {
          if (!prd_json_cursor_read_string (&cursor, update->prd_id))
            return FALSE;
        }
      else if (member_is (name, len, "operation", SEEN_OPERATION, &seen))
        {
          if (!read_operation (&cursor, update, &seen))
            return FALSE;
        }
      else if (member_is (name, len, "stateVector", SEEN_STATE_VECTOR, &seen))
        {
          if (!read_state_vector (&cursor, update->vector))
            return FALSE;
        }
      else if (!skip_other_member (&cursor, name, len))
        return FALSE;
    }
  return (seen & (SEEN_PRD_ID | SEEN_OPERATION | SEEN_STATE_VECTOR | SEEN_TWICE)) ==
         (SEEN_PRD_ID | SEEN_OPERATION | SEEN_STATE_VECTOR);
}

/* content-update without a tree: what on_content_update() does, for the
 * payloads read_content_update() takes. */
static gboolean
on_content_update_text (PrdSioSocket *socket,
                        const char *event,
                        const char *args,
                        gsize args_len,
                        gint64 ack_id,
                        gpointer user_data)
{
  PrdHubCollab *self = user_data;
  g_auto (ContentUpdate) update = {
    .prd_id = g_string_new (NULL),
    .content = g_string_new (NULL),
    .vector = g_array_sized_new (FALSE, TRUE, sizeof (guint32), 16),
  };
  g_autoptr (GError) error = NULL;
  PrdHubRoom *room;

  if (!read_content_update (args, args_len, &update))
    return FALSE;
  if (!prd_store_validate_prd_id (update.prd_id->str, &error))
    {
      prd_hub_reply_error (socket, ack_id, event, NULL, error);
      return TRUE;
    }
  room = joined_room (self, socket, event, update.prd_id->str, ack_id);
  if (room != NULL)
    prd_hub_room_submit_operation (room, socket, event, &update.operation,
                                   (const guint32 *) update.vector->data, update.vector->len,
                                   ack_id);
  return TRUE;
}

static gboolean
parse_join (JsonObject *payload, JoinRequest *request, GError **error)
{
  JsonNode *mode = json_object_get_member (payload, "mode");
  JsonNode *site = json_object_get_member (payload, "siteId");
  JsonNode *replica = json_object_get_member (payload, "replicaId");
  JsonNode *pending = json_object_get_member (payload, "pendingFrom");

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
  if (replica != NULL && !JSON_NODE_HOLDS_NULL (replica))
    {
      if (!JSON_NODE_HOLDS_VALUE (replica) || json_node_get_value_type (replica) != G_TYPE_STRING)
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                               "replicaId must be a string");
          return FALSE;
        }
      request->replica_id = json_node_get_string (replica);
      if (!prd_store_validate_replica_id (request->replica_id, error))
        return FALSE;
    }
  request->pending_from = -1;
  if (pending != NULL && !JSON_NODE_HOLDS_NULL (pending))
    {
      if (!JSON_NODE_HOLDS_VALUE (pending) || json_node_get_value_type (pending) != G_TYPE_INT64 ||
          json_node_get_int (pending) < 1 || json_node_get_int (pending) > G_MAXUINT32)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                       "pendingFrom must be an integer between 1 and %u", G_MAXUINT32);
          return FALSE;
        }
      request->pending_from = json_node_get_int (pending);
    }
  if (!prd_hub_json_get_optional_vector (payload, "stateVector", NULL, &request->client_vector,
                                         error))
    return FALSE;
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
  PrdHubCollab *self = user_data;
  g_autoptr (GError) error = NULL;
  JoinRequest request = { 0 };
  const char *prd_id;
  JsonObject *payload;

  payload = prd_hub_payload_get_prd (socket, event, args, ack_id, &prd_id);
  if (payload == NULL)
    return;
  if (!prd_hub_room_registry_check_join (self->rooms, socket, prd_id, &error))
    {
      prd_hub_reply_error (socket, ack_id, event, prd_id, error);
      return;
    }
  request.identity = prd_identity_copy (prd_hub_socket_get_identity (socket));
  if (!parse_join (payload, &request, &error))
    {
      prd_hub_reply_error (socket, ack_id, event, prd_id, error);
      g_clear_pointer (&request.client_vector, g_array_unref);
      prd_identity_free (request.identity);
      return;
    }
  prd_hub_room_join (prd_hub_room_registry_open_in_org (self->rooms, prd_id, request.identity->org),
                     socket, ack_id, request.identity, request.edit, request.requested_site,
                     request.client_vector, request.replica_id, request.pending_from);
}

static void
on_leave_prd (PrdSioSocket *socket,
              const char *event,
              JsonArray *args,
              GPtrArray *attachments,
              gint64 ack_id,
              gpointer user_data)
{
  PrdHubCollab *self = user_data;
  g_autoptr (GError) error = NULL;
  const char *prd_id;
  PrdHubRoom *room;
  guint cancelled = 0;

  if (prd_hub_payload_get_prd (socket, event, args, ack_id, &prd_id) == NULL)
    return;
  /* Joins of this PRD sent before the leave and not answered yet end
   * first (CANCELLED): the leave undoes them as it would had they been
   * answered. */
  room = prd_hub_room_registry_lookup (self->rooms, prd_id);
  if (room != NULL)
    {
      g_object_ref (room);
      cancelled = prd_hub_room_cancel_joins (room, socket);
      prd_hub_room_maybe_release (room);
      g_object_unref (room);
    }
  room = prd_hub_room_registry_get_joined (self->rooms, socket, prd_id, &error);
  if (room == NULL)
    {
      if (cancelled > 0)
        prd_hub_reply_ok (socket, ack_id, NULL);
      else
        prd_hub_reply_error (socket, ack_id, event, prd_id, error);
      return;
    }
  prd_hub_reply_ok (socket, ack_id, NULL);
  prd_hub_room_leave (room, socket);
}

static void
on_sync_request (PrdSioSocket *socket,
                 const char *event,
                 JsonArray *args,
                 GPtrArray *attachments,
                 gint64 ack_id,
                 gpointer user_data)
{
  PrdHubCollab *self = user_data;
  g_autoptr (GPtrArray) updates = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) vector = NULL;
  g_autoptr (JsonNode) response = NULL;
  JsonObject *object, *ack;
  JsonArray *missing;
  const char *prd_id;
  JsonObject *payload;
  gboolean full = FALSE;
  PrdHubRoom *room;

  payload = prd_hub_payload_get_prd (socket, event, args, ack_id, &prd_id);
  if (payload == NULL)
    return;
  room = joined_room (self, socket, event, prd_id, ack_id);
  if (room == NULL)
    return;
  updates = prd_document_get_missing (
      prd_hub_room_get_document (room), json_object_get_member (payload, "stateVector"),
      prd_hub_config_get_collab (prd_hub_room_registry_get_config (self->rooms))->max_sync_ops,
      &full, &error);
  if (updates == NULL)
    {
      prd_hub_reply_error (socket, ack_id, event, prd_id, error);
      return;
    }

  vector = prd_document_get_committed_vector (prd_hub_room_get_document (room));
  if (full)
    {
      /* One text per version of the PRD, shared by every full sync. */
      gsize len;
      const char *text = prd_hub_room_get_full_sync (room, &len);
      PrdEioSocket *engine = prd_sio_socket_get_engine (socket);
      guint64 max = prd_hub_config_get_engine (prd_hub_room_registry_get_config (self->rooms))
                        ->max_write_buffer;

      /* Answered at once, a burst of them would overflow the connection's
       * write buffer and close it: one more is refused until the client has
       * read what it was sent. */
      if (engine != NULL && prd_eio_socket_get_buffered_amount (engine) + len > max)
        {
          g_set_error (&error, PRD_ERROR, PRD_ERROR_RATE_LIMITED,
                       "The full state (%" G_GSIZE_FORMAT " bytes) does not fit in this "
                       "connection's write buffer ([engine] max-write-buffer, %" G_GUINT64_FORMAT
                       " bytes) beside what it has not read yet; retry once it has",
                       len, max);
          prd_hub_reply_error (socket, ack_id, event, prd_id, error);
          return;
        }
      prd_sio_socket_emit_raw (socket, "sync-response", text, (gssize) len);
    }
  else
    {
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
      json_object_set_boolean_member (object, "full", FALSE);
      prd_sio_socket_emit_one (socket, "sync-response", response);
    }

  ack = json_object_new ();
  json_object_set_member (ack, "stateVector", prd_hub_vector_to_json (vector));
  json_object_set_boolean_member (ack, "full", full);
  prd_hub_reply_ok (socket, ack_id, ack);
}

static void
on_presence_update (PrdSioSocket *socket,
                    const char *event,
                    JsonArray *args,
                    GPtrArray *attachments,
                    gint64 ack_id,
                    gpointer user_data)
{
  PrdHubCollab *self = user_data;
  const char *conn_id = prd_sio_socket_get_id (socket);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) relay = NULL;
  const char *prd_id;
  JsonObject *payload;
  PrdHubRoom *room;

  payload = prd_hub_payload_get_prd (socket, event, args, ack_id, &prd_id);
  if (payload == NULL)
    return;
  room = joined_room (self, socket, event, prd_id, ack_id);
  if (room == NULL)
    return;
  if (!prd_room_update_presence (prd_hub_room_get_members (room), conn_id, payload, &error))
    {
      prd_hub_reply_error (socket, ack_id, event, prd_id, error);
      return;
    }
  relay = prd_room_build_presence (prd_hub_room_get_members (room), conn_id);
  prd_hub_room_broadcast (room, socket, "presence-update",
                          prd_room_member_get_user_id (prd_hub_room_get_members (room), conn_id),
                          relay);
  prd_hub_room_registry_member_changed (self->rooms, room, socket);
  prd_hub_reply_ok (socket, ack_id, NULL);
}

static const PrdHubEventEntry events[] = {
  { "join-prd", on_join_prd },
  { "leave-prd", on_leave_prd },
  { "content-update", on_content_update },
  { "sync-request", on_sync_request },
  { "presence-update", on_presence_update },
};

static void
prd_hub_collab_dispose (GObject *object)
{
  PrdHubCollab *self = PRD_HUB_COLLAB (object);

  if (self->nsp != NULL)
    {
      prd_hub_remove_events (self->nsp, events, G_N_ELEMENTS (events));
      g_object_remove_weak_pointer (G_OBJECT (self->nsp), (gpointer *) &self->nsp);
      self->nsp = NULL;
    }
  g_clear_object (&self->rooms);

  G_OBJECT_CLASS (prd_hub_collab_parent_class)->dispose (object);
}

static void
prd_hub_collab_class_init (PrdHubCollabClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = prd_hub_collab_dispose;
}

static void
prd_hub_collab_init (PrdHubCollab *self)
{
}

/**
 * prd_hub_collab_new:
 * @rooms: the rooms of @nsp
 *
 * Installs the collaboration events on @nsp (normally /prds).
 */
PrdHubCollab *
prd_hub_collab_new (PrdSioNamespace *nsp, PrdHubRoomRegistry *rooms)
{
  PrdHubCollab *self;

  g_return_val_if_fail (PRD_IS_SIO_NAMESPACE (nsp), NULL);
  g_return_val_if_fail (PRD_IS_HUB_ROOM_REGISTRY (rooms), NULL);

  self = g_object_new (PRD_TYPE_HUB_COLLAB, NULL);
  self->nsp = nsp;
  g_object_add_weak_pointer (G_OBJECT (nsp), (gpointer *) &self->nsp);
  self->rooms = g_object_ref (rooms);
  prd_hub_add_events (nsp, events, G_N_ELEMENTS (events), self);
  prd_sio_namespace_set_text_handler (nsp, "content-update", on_content_update_text);
  return self;
}
