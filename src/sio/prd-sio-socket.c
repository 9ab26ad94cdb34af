/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdSioSocket: one client's membership of one namespace.
 *
 * The socket keeps only a weak link to its Engine.IO session, so a socket
 * that an application holds on to after the disconnect never keeps the
 * transport alive; sending on it is then a no-op. Incoming events pass a
 * rate limiter before they reach a handler (the buckets of the socket's
 * user when the application gave it a rate key, else its connection's);
 * refusals, unknown events, events whose payload the decoder marked
 * unusable or too large are always answered (never dropped silently).
 */
#define G_LOG_DOMAIN "prd-sio"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "prd-error.h"
#include "prd-json.h"
#include "prd-time.h"
#include "prd-sio-private.h"
#include "prd-sio-socket.h"

struct _PrdSioSocket
{
  GObject parent_instance;

  char *id;                 /* (owned) */
  PrdSioNamespace *nsp;     /* (owned) */
  PrdSioClient *client;     /* (unowned) (nullable): cleared when disconnected */
  GWeakRef engine;          /* PrdEioSocket */
  JsonNode *auth;           /* (owned) (nullable) */
  GHashTable *rooms;        /* (owned) (nullable) set of room names but its own id */
  GHashTable *pending_acks; /* (owned) (nullable) set of (owned) PendingAck, by ack id; made
                             * at the first (most sockets of idle clients never need it) */
  PrdSioSharedLimiter *shared_limiter; /* (owned) (nullable): its rate key's buckets */
  gboolean connected;
  gint64 connected_at; /* µs since the epoch */
  gboolean closed;
  /* In the room named by its id. That room is not in the namespace's table
   * of rooms (the namespace finds the socket by id), nor in @rooms: every
   * connection would otherwise carry two tables for it. */
  gboolean in_own_room;
};

/* An ack id the client asked for, keyed by the id (its first member, as
 * g_int64_hash() reads it), with when the event arrived. */
typedef struct
{
  gint64 id;
  gint64 received_us; /* monotonic */
} PendingAck;

G_DEFINE_FINAL_TYPE (PrdSioSocket, prd_sio_socket, G_TYPE_OBJECT)

enum
{
  SIGNAL_DISCONNECTED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
prd_sio_socket_dispose (GObject *object)
{
  PrdSioSocket *self = PRD_SIO_SOCKET (object);

  g_weak_ref_set (&self->engine, NULL);
  G_OBJECT_CLASS (prd_sio_socket_parent_class)->dispose (object);
}

static void
prd_sio_socket_finalize (GObject *object)
{
  PrdSioSocket *self = PRD_SIO_SOCKET (object);

  g_weak_ref_clear (&self->engine);
  g_clear_pointer (&self->shared_limiter, prd_sio_shared_limiter_release);
  g_clear_object (&self->nsp);
  g_clear_pointer (&self->auth, json_node_unref);
  g_clear_pointer (&self->rooms, g_hash_table_unref);
  g_clear_pointer (&self->pending_acks, g_hash_table_unref);
  g_free (self->id);
  G_OBJECT_CLASS (prd_sio_socket_parent_class)->finalize (object);
}

static void
prd_sio_socket_class_init (PrdSioSocketClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = prd_sio_socket_dispose;
  object_class->finalize = prd_sio_socket_finalize;

  signals[SIGNAL_DISCONNECTED] =
      g_signal_new ("disconnected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
prd_sio_socket_init (PrdSioSocket *self)
{
  g_weak_ref_init (&self->engine, NULL);
}

/* Socket ids name rooms and are shown to other clients, so they must not let
 * anyone guess another connection's id: 128 bits from the kernel's CSPRNG. */
static char *
new_socket_id (void)
{
  guint8 bytes[16];
  gsize done = 0;
  char *id;

  while (done < sizeof bytes)
    {
      ssize_t n = getrandom (bytes + done, sizeof bytes - done, 0);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          g_error ("getrandom() failed: %s", g_strerror (errno));
        }
      done += (gsize) n;
    }

  id = g_base64_encode (bytes, sizeof bytes);
  /* base64url without padding, as engine.io ids look */
  for (char *p = id; *p != '\0'; p++)
    {
      if (*p == '+')
        *p = '-';
      else if (*p == '/')
        *p = '_';
      else if (*p == '=')
        {
          *p = '\0';
          break;
        }
    }
  return id;
}

PrdSioSocket *
prd_sio_socket_new (PrdSioNamespace *nsp, PrdSioClient *client, JsonNode *auth)
{
  PrdSioSocket *self = g_object_new (PRD_TYPE_SIO_SOCKET, NULL);

  self->id = new_socket_id ();
  self->nsp = g_object_ref (nsp);
  self->client = client;
  g_weak_ref_set (&self->engine, client->engine);
  if (auth != NULL && prd_sio_namespace_get_keep_auth (nsp))
    self->auth = json_node_copy (auth);
  return self;
}

void
prd_sio_socket_set_connected (PrdSioSocket *self)
{
  self->connected = TRUE;
  self->connected_at = g_get_real_time ();
}

gint64
prd_sio_socket_get_connected_at (PrdSioSocket *self)
{
  g_return_val_if_fail (PRD_IS_SIO_SOCKET (self), 0);

  return self->connected_at;
}

const char *
prd_sio_socket_get_id (PrdSioSocket *self)
{
  g_return_val_if_fail (PRD_IS_SIO_SOCKET (self), NULL);

  return self->id;
}

PrdSioNamespace *
prd_sio_socket_get_namespace (PrdSioSocket *self)
{
  g_return_val_if_fail (PRD_IS_SIO_SOCKET (self), NULL);

  return self->nsp;
}

/**
 * prd_sio_socket_get_engine:
 *
 * Returns: (transfer none) (nullable): the Engine.IO session while the
 *   socket is connected, else %NULL
 */
PrdEioSocket *
prd_sio_socket_get_engine (PrdSioSocket *self)
{
  PrdEioSocket *engine;

  g_return_val_if_fail (PRD_IS_SIO_SOCKET (self), NULL);

  if (!self->connected)
    return NULL;
  engine = g_weak_ref_get (&self->engine);
  /* the client's own reference keeps it alive while we are connected */
  if (engine != NULL)
    g_object_unref (engine);
  return engine;
}

/**
 * prd_sio_socket_get_remote_address:
 *
 * Returns: (transfer none): the client's address, also while its connect
 *   hook runs, or "-" once its Engine.IO session is gone
 */
const char *
prd_sio_socket_get_remote_address (PrdSioSocket *self)
{
  g_autoptr (PrdEioSocket) engine = NULL;

  g_return_val_if_fail (PRD_IS_SIO_SOCKET (self), NULL);

  engine = g_weak_ref_get (&self->engine);
  /* The session's own string: the client holds the session meanwhile. */
  return engine != NULL ? prd_eio_socket_get_remote_address (engine) : "-";
}

/**
 * prd_sio_socket_get_transport_name:
 *
 * Returns: (transfer none): "polling" or "websocket" (the transport now),
 *   or "-" once its Engine.IO session is gone
 */
const char *
prd_sio_socket_get_transport_name (PrdSioSocket *self)
{
  g_autoptr (PrdEioSocket) engine = NULL;

  g_return_val_if_fail (PRD_IS_SIO_SOCKET (self), NULL);

  engine = g_weak_ref_get (&self->engine);
  return engine != NULL ? prd_eio_socket_get_transport_name (engine) : "-";
}

/**
 * prd_sio_socket_get_auth:
 *
 * Returns: (transfer none) (nullable): the CONNECT payload, %NULL when the
 *   client sent none or the namespace does not keep it
 *   (prd_sio_namespace_set_keep_auth())
 */
JsonNode *
prd_sio_socket_get_auth (PrdSioSocket *self)
{
  g_return_val_if_fail (PRD_IS_SIO_SOCKET (self), NULL);

  return self->auth;
}

gboolean
prd_sio_socket_is_connected (PrdSioSocket *self)
{
  g_return_val_if_fail (PRD_IS_SIO_SOCKET (self), FALSE);

  return self->connected;
}

static void
send_attachments (PrdEioSocket *engine, GPtrArray *attachments)
{
  if (attachments != NULL)
    for (guint i = 0; i < attachments->len; i++)
      if (!prd_eio_socket_send_binary (engine, g_ptr_array_index (attachments, i)))
        return;
}

void
prd_sio_send_packet (PrdEioSocket *engine, const char *text, GPtrArray *attachments)
{
  if (prd_eio_socket_send_text (engine, text, -1))
    send_attachments (engine, attachments);
}

/* @message: prd_eio_packet_new_message(), the same for every recipient */
void
prd_sio_send_shared (PrdEioSocket *engine, const PrdEioPacket *message, GPtrArray *attachments)
{
  if (prd_eio_socket_send_message (engine, message))
    send_attachments (engine, attachments);
}

/* Encodes an EVENT (when @event is set) or ACK, switching to the binary type
 * when there are attachments. */
char *
prd_sio_encode_with_args (PrdSioPacketType type,
                          const char *nsp,
                          gint64 id,
                          const char *event,
                          JsonArray *args,
                          GPtrArray *attachments)
{
  g_autoptr (PrdSioPacket) packet = NULL;
  JsonArray *array = json_array_new ();
  JsonNode *data = json_node_new (JSON_NODE_ARRAY);
  gboolean binary = attachments != NULL && attachments->len > 0;

  g_return_val_if_fail (attachments == NULL || attachments->len <= PRD_SIO_MAX_ATTACHMENTS, NULL);

  if (event != NULL)
    json_array_add_string_element (array, event);
  if (args != NULL)
    for (guint i = 0; i < json_array_get_length (args); i++)
      json_array_add_element (array, json_node_copy (json_array_get_element (args, i)));
  json_node_take_array (data, array);

  if (binary)
    type = type == PRD_SIO_PACKET_EVENT ? PRD_SIO_PACKET_BINARY_EVENT : PRD_SIO_PACKET_BINARY_ACK;
  packet = prd_sio_packet_new (type, nsp, id, data);
  if (binary)
    packet->n_attachments = attachments->len;
  return prd_sio_packet_encode (packet);
}

/* Encodes an EVENT (when @event is set) or ACK whose arguments after the
 * event name are JSON text already: @args is the array's inside, values
 * separated by commas (%NULL or empty for none; @args_len -1 when
 * nul-terminated). No attachments. */
GString *
prd_sio_encode_raw (PrdSioPacketType type,
                    const char *nsp,
                    gint64 id,
                    const char *event,
                    const char *args,
                    gssize args_len)
{
  GString *out;

  if (args == NULL)
    args_len = 0;
  else if (args_len < 0)
    args_len = (gssize) strlen (args);
  out = g_string_sized_new (args_len + 64);

  g_string_append_c (out, (char) ('0' + type));
  if (nsp != NULL && strcmp (nsp, "/") != 0)
    {
      g_string_append (out, nsp);
      g_string_append_c (out, ',');
    }
  if (id >= 0)
    prd_json_write_int (out, id);
  g_string_append_c (out, '[');
  if (event != NULL)
    {
      prd_json_write_string (out, event);
      if (args_len > 0)
        g_string_append_c (out, ',');
    }
  g_string_append_len (out, args, args_len);
  g_string_append_c (out, ']');
  return out;
}

/**
 * prd_sio_socket_emit_raw:
 * @event: the event's name (escaped here)
 * @args: (nullable): the arguments after the name as JSON text, values
 *   separated by commas (`{"a":1}`, `1,"two"`); %NULL or empty for none
 * @args_len: the length of @args, or -1 when nul-terminated
 *
 * prd_sio_socket_emit() for arguments written as JSON text already (no
 * binary attachments). @args is sent as it is: it must be valid JSON values
 * in the hub's output form (prd_json_write_string() escapes every control
 * character, as the Engine.IO framing needs).
 */
void
prd_sio_socket_emit_raw (PrdSioSocket *self, const char *event, const char *args, gssize args_len)
{
  g_autoptr (PrdEioSocket) engine = NULL;
  g_autoptr (GString) text = NULL;

  g_return_if_fail (PRD_IS_SIO_SOCKET (self));
  g_return_if_fail (event != NULL);

  if (!self->connected || (engine = g_weak_ref_get (&self->engine)) == NULL)
    return;
  text = prd_sio_encode_raw (PRD_SIO_PACKET_EVENT, prd_sio_namespace_get_name (self->nsp), -1,
                             event, args, args_len);
  prd_eio_socket_send_text (engine, text->str, (gssize) text->len);
  prd_metric_inc (prd_sio_metrics.events_sent, event);
  if (prd_sio_namespace_get_server (self->nsp) != NULL)
    prd_sio_server_count_events (prd_sio_namespace_get_server (self->nsp), 0, 1);
}

/**
 * prd_sio_socket_emit:
 * @args: (nullable): the arguments after the event name; not consumed
 * @attachments: (nullable) (element-type GBytes): binaries the placeholders
 *   in @args refer to; not consumed
 */
void
prd_sio_socket_emit (PrdSioSocket *self, const char *event, JsonArray *args, GPtrArray *attachments)
{
  g_autoptr (PrdEioSocket) engine = NULL;
  g_autofree char *text = NULL;

  g_return_if_fail (PRD_IS_SIO_SOCKET (self));
  g_return_if_fail (event != NULL);

  if (!self->connected || (engine = g_weak_ref_get (&self->engine)) == NULL)
    return;
  text = prd_sio_encode_with_args (PRD_SIO_PACKET_EVENT, prd_sio_namespace_get_name (self->nsp), -1,
                                   event, args, attachments);
  if (text == NULL)
    return;
  prd_sio_send_packet (engine, text, attachments);
  prd_metric_inc (prd_sio_metrics.events_sent, event);
  if (prd_sio_namespace_get_server (self->nsp) != NULL)
    prd_sio_server_count_events (prd_sio_namespace_get_server (self->nsp), 0, 1);
}

/**
 * prd_sio_socket_emit_one:
 * @payload: (nullable): the one argument (not consumed); %NULL for none
 */
void
prd_sio_socket_emit_one (PrdSioSocket *self, const char *event, JsonNode *payload)
{
  g_autoptr (JsonArray) args = json_array_new ();

  if (payload != NULL)
    json_array_add_element (args, json_node_copy (payload));
  prd_sio_socket_emit (self, event, args, NULL);
}

static void
send_ack (PrdSioSocket *self, gint64 ack_id, JsonArray *args, GPtrArray *attachments)
{
  g_autoptr (PrdEioSocket) engine = NULL;
  g_autofree char *text = NULL;

  if (!self->connected || (engine = g_weak_ref_get (&self->engine)) == NULL)
    return;
  text = prd_sio_encode_with_args (PRD_SIO_PACKET_ACK, prd_sio_namespace_get_name (self->nsp),
                                   ack_id, NULL, args, attachments);
  if (text != NULL)
    prd_sio_send_packet (engine, text, attachments);
}

/* Forgets @ack_id as awaited; FALSE if it was not. The time since the event
 * arrived goes to the ack latency histogram. */
static gboolean
take_pending_ack (PrdSioSocket *self, gint64 ack_id)
{
  gpointer key;

  if (ack_id < 0 || self->pending_acks == NULL ||
      !g_hash_table_lookup_extended (self->pending_acks, &ack_id, &key, NULL))
    return FALSE;
  prd_metric_observe (prd_sio_metrics.ack_latency,
                      (double) (g_get_monotonic_time () - ((PendingAck *) key)->received_us) /
                          G_USEC_PER_SEC);
  g_hash_table_remove (self->pending_acks, &ack_id);
  return TRUE;
}

/**
 * prd_sio_socket_ack:
 * @ack_id: the id the client's event carried
 * @args: (nullable): the ack's arguments; not consumed
 * @attachments: (nullable) (element-type GBytes): makes it a BINARY_ACK
 *
 * Answers an event once. An id the client did not ask for, or one already
 * answered, is ignored.
 */
void
prd_sio_socket_ack (PrdSioSocket *self, gint64 ack_id, JsonArray *args, GPtrArray *attachments)
{
  g_return_if_fail (PRD_IS_SIO_SOCKET (self));

  if (!take_pending_ack (self, ack_id))
    {
      g_debug ("Socket %s: ignoring ack %" G_GINT64_FORMAT ", not awaited", self->id, ack_id);
      return;
    }
  send_ack (self, ack_id, args, attachments);
}

/**
 * prd_sio_socket_ack_raw:
 * @args: (nullable): the ack's arguments as JSON text, values separated by
 *   commas; %NULL or empty for none
 * @args_len: the length of @args, or -1 when nul-terminated
 *
 * prd_sio_socket_ack() for arguments written as JSON text already (see
 * prd_sio_socket_emit_raw()).
 */
void
prd_sio_socket_ack_raw (PrdSioSocket *self, gint64 ack_id, const char *args, gssize args_len)
{
  g_autoptr (PrdEioSocket) engine = NULL;
  g_autoptr (GString) text = NULL;

  g_return_if_fail (PRD_IS_SIO_SOCKET (self));

  if (!take_pending_ack (self, ack_id))
    {
      g_debug ("Socket %s: ignoring ack %" G_GINT64_FORMAT ", not awaited", self->id, ack_id);
      return;
    }
  if (!self->connected || (engine = g_weak_ref_get (&self->engine)) == NULL)
    return;
  text = prd_sio_encode_raw (PRD_SIO_PACKET_ACK, prd_sio_namespace_get_name (self->nsp), ack_id,
                             NULL, args, args_len);
  prd_eio_socket_send_text (engine, text->str, (gssize) text->len);
}

void
prd_sio_socket_ack_one (PrdSioSocket *self, gint64 ack_id, JsonNode *payload)
{
  g_autoptr (JsonArray) args = json_array_new ();

  if (payload != NULL)
    json_array_add_element (args, json_node_copy (payload));
  prd_sio_socket_ack (self, ack_id, args, NULL);
}

void
prd_sio_socket_join (PrdSioSocket *self, const char *room)
{
  g_return_if_fail (PRD_IS_SIO_SOCKET (self));
  g_return_if_fail (room != NULL);

  if (!self->connected)
    return;
  if (g_str_equal (room, self->id))
    {
      self->in_own_room = TRUE;
      return;
    }
  if (self->rooms == NULL)
    self->rooms = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  else if (g_hash_table_contains (self->rooms, room))
    return;
  g_hash_table_add (self->rooms, g_strdup (room));
  prd_sio_namespace_add_to_room (self->nsp, room, self);
}

void
prd_sio_socket_leave (PrdSioSocket *self, const char *room)
{
  g_return_if_fail (PRD_IS_SIO_SOCKET (self));
  g_return_if_fail (room != NULL);

  if (g_str_equal (room, self->id))
    {
      self->in_own_room = FALSE;
      return;
    }
  if (self->rooms == NULL || !g_hash_table_contains (self->rooms, room))
    return;
  prd_sio_namespace_remove_from_room (self->nsp, room, self);
  g_hash_table_remove (self->rooms, room);
}

gboolean
prd_sio_socket_in_room (PrdSioSocket *self, const char *room)
{
  g_return_val_if_fail (PRD_IS_SIO_SOCKET (self), FALSE);
  g_return_val_if_fail (room != NULL, FALSE);

  if (g_str_equal (room, self->id))
    return self->in_own_room;
  return self->rooms != NULL && g_hash_table_contains (self->rooms, room);
}

void
prd_sio_socket_close (PrdSioSocket *self, const char *reason)
{
  g_autoptr (PrdSioSocket) hold = NULL;
  PrdSioClient *client = self->client;
  GHashTableIter iter;
  const char *room;

  if (self->closed)
    return;
  self->closed = TRUE;
  hold = g_object_ref (self);
  self->client = NULL;

  self->in_own_room = FALSE;
  if (self->rooms != NULL)
    {
      g_hash_table_iter_init (&iter, self->rooms);
      while (g_hash_table_iter_next (&iter, (gpointer *) &room, NULL))
        prd_sio_namespace_remove_from_room (self->nsp, room, self);
      g_hash_table_remove_all (self->rooms);
    }
  if (self->pending_acks != NULL)
    g_hash_table_remove_all (self->pending_acks);

  /* The user's buckets go with their last connection. */
  g_clear_pointer (&self->shared_limiter, prd_sio_shared_limiter_release);
  if (client != NULL)
    prd_sio_client_forget_socket (client, self);

  if (self->connected)
    {
      self->connected = FALSE;
      g_signal_emit (self, signals[SIGNAL_DISCONNECTED], 0, reason);
      prd_sio_namespace_remove_socket (self->nsp, self, reason);
    }
  g_weak_ref_set (&self->engine, NULL);
}

/**
 * prd_sio_socket_disconnect:
 *
 * Ends this namespace's connection from the server side: the client gets a
 * DISCONNECT packet, the Engine.IO session stays for other namespaces.
 */
void
prd_sio_socket_disconnect (PrdSioSocket *self)
{
  g_autoptr (PrdEioSocket) engine = NULL;

  g_return_if_fail (PRD_IS_SIO_SOCKET (self));

  if (!self->connected)
    return;
  engine = g_weak_ref_get (&self->engine);
  if (engine != NULL)
    {
      g_autoptr (PrdSioPacket) packet = prd_sio_packet_new (
          PRD_SIO_PACKET_DISCONNECT, prd_sio_namespace_get_name (self->nsp), -1, NULL);
      g_autofree char *text = prd_sio_packet_encode (packet);

      prd_eio_socket_send_text (engine, text, -1);
    }
  prd_sio_socket_close (self, "server namespace disconnect");
}

/**
 * prd_sio_socket_set_rate_key:
 * @key: (nullable): who the socket's events count for, e.g. the user it
 *   authenticated as; %NULL for its connection's own buckets
 *
 * Makes the socket's events count against buckets shared by every socket
 * with the same key, whatever its connection, instead of its connection's:
 * one user's many connections then share one budget per event class. The
 * buckets are made with the first socket of a key and freed with the last
 * one (when it closes), so that only connected keys take memory. Call it
 * from the namespace's connect hook (prd_sio_namespace_set_connect_func()),
 * before any event. Tokens taken from the connection's buckets so far are
 * not carried over.
 */
void
prd_sio_socket_set_rate_key (PrdSioSocket *self, const char *key)
{
  PrdSioServer *server;
  PrdSioSharedLimiter *old;

  g_return_if_fail (PRD_IS_SIO_SOCKET (self));

  old = g_steal_pointer (&self->shared_limiter);
  server = prd_sio_namespace_get_server (self->nsp);
  if (key != NULL && server != NULL && !self->closed)
    self->shared_limiter = prd_sio_server_acquire_limiter (server, key);
  if (old != NULL)
    prd_sio_shared_limiter_release (old);
}

/* The buckets the socket's events count against, or NULL once it has
 * neither a key nor a connection. */
static PrdSioRateLimiter *
socket_limiter (PrdSioSocket *self)
{
  if (self->shared_limiter != NULL)
    return prd_sio_shared_limiter_get_limiter (self->shared_limiter);
  return self->client != NULL ? self->client->limiter : NULL;
}

/**
 * prd_sio_socket_charge_rate:
 * @event: an event name; its class's bucket is charged
 * @tokens: how many events' worth to take
 *
 * Takes @tokens more from the bucket of @event's class, the one the
 * socket's events count against (its rate key's, else its connection's),
 * for work that cost more than one event: a handler calls it after doing
 * it. A bucket with fewer tokens is emptied: later events of the class are
 * refused until its window ends. Nothing happens when the class has no
 * limit or the socket is closed.
 */
void
prd_sio_socket_charge_rate (PrdSioSocket *self, const char *event, guint tokens)
{
  PrdSioServer *server;
  PrdSioRateLimiter *limiter;

  g_return_if_fail (PRD_IS_SIO_SOCKET (self));
  g_return_if_fail (event != NULL);

  server = prd_sio_namespace_get_server (self->nsp);
  limiter = socket_limiter (self);
  if (server == NULL || limiter == NULL || tokens == 0)
    return;
  prd_sio_server_charge_rate (server, limiter, event, tokens);
}

/**
 * prd_sio_socket_consume_rate:
 * @event_class: a rate-limit class (prd_sio_server_set_rate_limit())
 * @info: (out caller-allocates) (optional): the bucket after it, its
 *   retry_after when refused
 *
 * Takes one token of @event_class's bucket, the one the socket's events
 * count against (its rate key's, else its connection's), for something
 * the application limits that is no event: the hub's connect hook charges
 * each accepted namespace CONNECT to the user's "connect" class. Returns
 * %FALSE when none is left (the bucket stays as it was, the refusal is
 * counted in prdhub_rate_limit_refusals_total, and the caller answers it);
 * %TRUE when one was taken, the class has no limit or the socket is closed.
 */
gboolean
prd_sio_socket_consume_rate (PrdSioSocket *self, const char *event_class, PrdSioRateInfo *info)
{
  PrdSioServer *server;
  PrdSioRateLimiter *limiter;
  PrdSioRateInfo unused;

  g_return_val_if_fail (PRD_IS_SIO_SOCKET (self), TRUE);
  g_return_val_if_fail (event_class != NULL, TRUE);

  server = prd_sio_namespace_get_server (self->nsp);
  limiter = socket_limiter (self);
  if (server == NULL || limiter == NULL)
    return TRUE;
  return prd_sio_server_consume_class (server, limiter, event_class, info != NULL ? info : &unused);
}

/**
 * prd_sio_socket_get_session_connects:
 *
 * Returns: how many namespace CONNECTs the socket's Engine.IO session
 * accepted before this socket's was (its own counts once accepted); 0
 * once the session is gone.
 */
guint
prd_sio_socket_get_session_connects (PrdSioSocket *self)
{
  g_return_val_if_fail (PRD_IS_SIO_SOCKET (self), 0);

  return self->client != NULL ? self->client->accepted_connects : 0;
}

/* The most characters of a refused event's name that its refusal quotes
 * (in `event`, and in `message` for an unknown event): the name is the
 * client's, as long as the payload may be; no event of the hub's is half
 * as long. */
#define EVENT_NAME_SHOWN 64

/* @event: (nullable): the refused event, named in `error` events (cut to
 * EVENT_NAME_SHOWN characters). @message and @event may quote the client:
 * what goes out is valid UTF-8 whatever they hold. */
static JsonNode *
error_object (const char *code, const char *message, const char *event, gboolean with_timestamp)
{
  g_autoptr (JsonBuilder) builder = json_builder_new_immutable ();
  g_autofree char *valid = g_utf8_make_valid (message, -1);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "code");
  json_builder_add_string_value (builder, code);
  json_builder_set_member_name (builder, "message");
  json_builder_add_string_value (builder, valid);
  if (event != NULL)
    {
      g_autofree char *valid_event = prd_error_truncate_message (event, EVENT_NAME_SHOWN);

      json_builder_set_member_name (builder, "event");
      json_builder_add_string_value (builder, valid_event);
    }
  if (with_timestamp)
    {
      g_autofree char *timestamp = prd_time_format_now ();

      json_builder_set_member_name (builder, "timestamp");
      json_builder_add_string_value (builder, timestamp);
    }
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static void
ack_error (PrdSioSocket *self, gint64 ack_id, const char *code, const char *message)
{
  g_autoptr (JsonNode) error = error_object (code, message, NULL, FALSE);
  g_autoptr (JsonObject) wrapper = json_object_new ();
  g_autoptr (JsonNode) payload = json_node_new (JSON_NODE_OBJECT);
  g_autoptr (JsonArray) args = json_array_new ();

  json_object_set_member (wrapper, "error", g_steal_pointer (&error));
  json_node_set_object (payload, wrapper);
  json_array_add_element (args, g_steal_pointer (&payload));
  take_pending_ack (self, ack_id);
  send_ack (self, ack_id, args, NULL);
}

static void
refuse_rate_limited (PrdSioSocket *self, const PrdSioRateInfo *info, gint64 ack_id)
{
  g_autoptr (JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr (JsonNode) payload = NULL;
  g_autofree char *reset = NULL;
  gint64 reset_real = g_get_real_time () + (info->reset_time_us - g_get_monotonic_time ());

  reset = prd_time_format (reset_real);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "message");
  json_builder_add_string_value (builder, "Rate limit exceeded");
  json_builder_set_member_name (builder, "retryAfter");
  json_builder_add_int_value (builder, info->retry_after);
  json_builder_set_member_name (builder, "limit");
  json_builder_add_int_value (builder, info->limit);
  json_builder_set_member_name (builder, "remaining");
  json_builder_add_int_value (builder, info->remaining);
  json_builder_set_member_name (builder, "resetTime");
  json_builder_add_string_value (builder, reset);
  json_builder_end_object (builder);
  payload = json_builder_get_root (builder);

  prd_sio_socket_emit_one (self, "rate-limit", payload);
  if (ack_id >= 0)
    ack_error (self, ack_id, prd_error_code_to_string (PRD_ERROR_RATE_LIMITED),
               "Rate limit exceeded");
}

static void
refuse_unknown_event (PrdSioSocket *self, const char *event, gint64 ack_id)
{
  const char *code = prd_error_code_to_string (PRD_ERROR_UNKNOWN_EVENT);
  /* valid UTF-8, cut with "…" */
  g_autofree char *shown = prd_error_truncate_message (event, EVENT_NAME_SHOWN);
  g_autofree char *message = g_strdup_printf ("Unknown event '%s'", shown);
  g_autoptr (JsonNode) payload = error_object (code, message, shown, TRUE);

  prd_sio_socket_emit_one (self, "error", payload);
  if (ack_id >= 0)
    ack_error (self, ack_id, code, message);
}

/* Answered like any payload a handler refuses: the `error` event, naming the
 * event, and the ack's error when the client asked for one. */
static void
refuse_unusable_payload (PrdSioSocket *self, const char *event, gint64 ack_id)
{
  const char *code = prd_error_code_to_string (PRD_ERROR_INVALID_PAYLOAD);
  const char *message = "A string in the payload holds U+0000 or an unpaired surrogate";
  g_autoptr (JsonNode) payload = error_object (code, message, event, TRUE);

  prd_sio_socket_emit_one (self, "error", payload);
  if (ack_id >= 0)
    ack_error (self, ack_id, code, message);
}

static void
refuse_too_many_values (PrdSioSocket *self, const char *event, gsize n_values, gint64 ack_id)
{
  const char *code = prd_error_code_to_string (PRD_ERROR_PAYLOAD_TOO_LARGE);
  g_autofree char *message = NULL;
  g_autoptr (JsonNode) payload = NULL;
  PrdSioServer *server = prd_sio_namespace_get_server (self->nsp);

  message =
      g_strdup_printf ("The payload holds %" G_GSIZE_FORMAT
                       " JSON values, more than the limit of %u (max-json-values)",
                       n_values, server != NULL ? prd_sio_server_get_max_json_values (server) : 0);
  payload = error_object (code, message, event, TRUE);
  prd_sio_socket_emit_one (self, "error", payload);
  if (ack_id >= 0)
    ack_error (self, ack_id, code, message);
}

/* Answered like any request the hub refuses: the ack's error and the
 * `error` event, naming the event. */
static void
refuse_pending_acks (PrdSioSocket *self, const char *event, guint n_pending, gint64 ack_id)
{
  const char *code = prd_error_code_to_string (PRD_ERROR_RATE_LIMITED);
  g_autofree char *message = g_strdup_printf (
      "%u requests of this connection await their answer, as many as it may; wait for them",
      n_pending);
  g_autoptr (JsonNode) payload = error_object (code, message, event, TRUE);

  prd_sio_socket_emit_one (self, "error", payload);
  ack_error (self, ack_id, code, message);
}

/* Runs one EVENT/BINARY_EVENT packet of this socket's client.
 *
 * Everything that may refuse the event is decided from its name and the
 * decoder's counts, before any tree of its payload is built: a refused
 * event costs the check of its text and nothing more, whatever it holds. */
void
prd_sio_socket_handle_event (PrdSioSocket *self, PrdSioPacket *packet)
{
  g_autoptr (PrdSioSocket) hold = g_object_ref (self);
  g_autoptr (JsonArray) args = NULL;
  g_autofree char *number_name = NULL;
  const char *event = packet->event;
  PrdSioServer *server = prd_sio_namespace_get_server (self->nsp);
  PrdSioRateInfo info;
  JsonArray *array;

  if (server != NULL)
    prd_sio_server_count_events (server, 1, 0);
  if (event == NULL)
    {
      JsonNode *name_node = json_array_get_element (json_node_get_array (packet->data), 0);

      if (json_node_get_value_type (name_node) == G_TYPE_STRING)
        event = json_node_get_string (name_node);
      else if (json_node_get_value_type (name_node) == G_TYPE_INT64)
        event = number_name = g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (name_node));
      else
        {
          char buf[G_ASCII_DTOSTR_BUF_SIZE];

          event = number_name =
              g_strdup (g_ascii_dtostr (buf, sizeof buf, json_node_get_double (name_node)));
        }
    }

  prd_metric_inc (prd_sio_metrics.events_received,
                  prd_sio_namespace_handles (self->nsp, event) ? event : PRD_METRIC_OTHER_LABEL);

  if (packet->id >= 0)
    {
      PendingAck *key;

      /* Handlers may answer later (after a commit), so ids are kept until
       * answered; a client that piles up unanswered requests is refused
       * rather than allowed to grow the set without bound. */
      if (self->pending_acks == NULL)
        self->pending_acks = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
      if (server != NULL &&
          g_hash_table_size (self->pending_acks) >= prd_sio_server_get_max_pending_acks (server))
        {
          g_debug ("Socket %s: event '%s' refused, %u acks already pending", self->id, event,
                   g_hash_table_size (self->pending_acks));
          prd_metric_inc (prd_sio_metrics.pending_ack_refusals, NULL);
          refuse_pending_acks (self, event, g_hash_table_size (self->pending_acks), packet->id);
          return;
        }
      key = g_new (PendingAck, 1);
      key->id = packet->id;
      key->received_us = g_get_monotonic_time ();
      g_hash_table_add (self->pending_acks, key);
    }

  if (server != NULL && self->client != NULL &&
      !prd_sio_server_check_rate (server, self->client, socket_limiter (self), event, &info))
    {
      g_debug ("Socket %s: event '%s' refused, rate limit of %u reached", self->id, event,
               info.limit);
      /* unless the refusal closed the client */
      if (self->client != NULL && !self->client->closed)
        refuse_rate_limited (self, &info, packet->id);
      return;
    }

  if (packet->unusable_payload)
    {
      g_debug ("Socket %s: event '%s' refused, a string in it cannot be held", self->id, event);
      refuse_unusable_payload (self, event, packet->id);
      return;
    }

  if (!prd_sio_namespace_takes (self->nsp, event))
    {
      refuse_unknown_event (self, event, packet->id);
      return;
    }

  if (packet->too_many_values)
    {
      g_debug ("Socket %s: event '%s' refused, %" G_GSIZE_FORMAT " JSON values", self->id, event,
               packet->n_values);
      refuse_too_many_values (self, event, packet->n_values, packet->id);
      return;
    }

  if (packet->args != NULL && prd_sio_namespace_dispatch_text (self->nsp, self, event, packet->args,
                                                               packet->args_len, packet->id))
    return;

  /* A tree costs time and memory with each value it holds (a payload read
   * as text, above, builds none): every PRD_SIO_VALUES_PER_EVENT of them
   * count as one more event of the event's class, so that the rate limit
   * bounds that work too. */
  if (packet->n_values >= PRD_SIO_VALUES_PER_EVENT)
    prd_sio_socket_charge_rate (self, event, (guint) (packet->n_values / PRD_SIO_VALUES_PER_EVENT));

  array = json_node_get_array (prd_sio_packet_get_data (packet));
  args = json_array_sized_new (json_array_get_length (array) - 1);
  for (guint i = 1; i < json_array_get_length (array); i++)
    json_array_add_element (args, json_node_copy (json_array_get_element (array, i)));
  if (!prd_sio_namespace_dispatch (self->nsp, self, event, args, packet->attachments, packet->id))
    refuse_unknown_event (self, event, packet->id);
}
