/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdSioNamespace: a Socket.IO namespace: its connect (auth) hook, its event
 * handlers, its connected sockets and their rooms.
 *
 * Rooms map a name to the set of sockets in it; every socket is also in the
 * room named by its own id, so "send to one socket" is a room broadcast like
 * any other. A broadcast encodes its packet once and then only queues the
 * same text and buffers on each target's engine.
 */
#define G_LOG_DOMAIN "prd-sio"

#include "config.h"

#include <string.h>

#include "prd-sio-namespace.h"
#include "prd-sio-private.h"
#include "prd-sio-socket.h"

typedef struct
{
  PrdSioEventFunc func;
  PrdSioTextEventFunc text_func; /* (nullable) */
  gpointer user_data;
} Handler;

struct _PrdSioNamespace
{
  GObject parent_instance;

  PrdSioServer *server; /* (unowned) (nullable): the server owns us */
  char *name;           /* (owned) */

  PrdSioConnectFunc connect_func;
  gpointer connect_data;
  GDestroyNotify connect_destroy;
  gboolean forget_auth; /* sockets do not keep their CONNECT payload */

  GHashTable *handlers; /* (owned) event → (owned) Handler */
  Handler catch_all;

  GHashTable *sockets; /* (owned) id → (owned) PrdSioSocket */
  GHashTable *rooms;   /* (owned) room → (owned) GHashTable set of (unowned) PrdSioSocket */
};

G_DEFINE_FINAL_TYPE (PrdSioNamespace, prd_sio_namespace, G_TYPE_OBJECT)

enum
{
  SIGNAL_CONNECTION,
  SIGNAL_DISCONNECTION,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
prd_sio_namespace_dispose (GObject *object)
{
  PrdSioNamespace *self = PRD_SIO_NAMESPACE (object);

  if (self->connect_destroy != NULL)
    self->connect_destroy (self->connect_data);
  self->connect_func = NULL;
  self->connect_destroy = NULL;
  self->connect_data = NULL;
  g_hash_table_remove_all (self->rooms);
  g_hash_table_remove_all (self->sockets);
  G_OBJECT_CLASS (prd_sio_namespace_parent_class)->dispose (object);
}

static void
prd_sio_namespace_finalize (GObject *object)
{
  PrdSioNamespace *self = PRD_SIO_NAMESPACE (object);

  g_hash_table_unref (self->handlers);
  g_hash_table_unref (self->sockets);
  g_hash_table_unref (self->rooms);
  g_free (self->name);
  G_OBJECT_CLASS (prd_sio_namespace_parent_class)->finalize (object);
}

static void
prd_sio_namespace_class_init (PrdSioNamespaceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = prd_sio_namespace_dispose;
  object_class->finalize = prd_sio_namespace_finalize;

  signals[SIGNAL_CONNECTION] =
      g_signal_new ("connection", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 1, PRD_TYPE_SIO_SOCKET);
  signals[SIGNAL_DISCONNECTION] =
      g_signal_new ("disconnection", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 2, PRD_TYPE_SIO_SOCKET, G_TYPE_STRING);
}

static void
prd_sio_namespace_init (PrdSioNamespace *self)
{
  self->handlers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->sockets = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_object_unref);
  self->rooms =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_hash_table_unref);
}

PrdSioNamespace *
prd_sio_namespace_new (PrdSioServer *server, const char *name)
{
  PrdSioNamespace *self = g_object_new (PRD_TYPE_SIO_NAMESPACE, NULL);

  self->server = server;
  self->name = g_strdup (name);
  return self;
}

/* (nullable): NULL once the server is gone */
PrdSioServer *
prd_sio_namespace_get_server (PrdSioNamespace *self)
{
  return self->server;
}

void
prd_sio_namespace_forget_server (PrdSioNamespace *self)
{
  self->server = NULL;
}

const char *
prd_sio_namespace_get_name (PrdSioNamespace *self)
{
  g_return_val_if_fail (PRD_IS_SIO_NAMESPACE (self), NULL);

  return self->name;
}

/**
 * prd_sio_namespace_set_connect_func:
 * @func: (nullable): the auth hook; %NULL accepts every CONNECT
 */
void
prd_sio_namespace_set_connect_func (PrdSioNamespace *self,
                                    PrdSioConnectFunc func,
                                    gpointer user_data,
                                    GDestroyNotify destroy)
{
  g_return_if_fail (PRD_IS_SIO_NAMESPACE (self));

  if (self->connect_destroy != NULL)
    self->connect_destroy (self->connect_data);
  self->connect_func = func;
  self->connect_data = user_data;
  self->connect_destroy = destroy;
}

/**
 * prd_sio_namespace_set_keep_auth:
 * @keep: whether sockets keep their CONNECT payload (the default)
 *
 * A namespace whose connect function is all that reads the payload (a
 * token, a few hundred bytes) can have its sockets drop it:
 * prd_sio_socket_get_auth() then returns %NULL.
 */
void
prd_sio_namespace_set_keep_auth (PrdSioNamespace *self, gboolean keep)
{
  g_return_if_fail (PRD_IS_SIO_NAMESPACE (self));

  self->forget_auth = !keep;
}

gboolean
prd_sio_namespace_get_keep_auth (PrdSioNamespace *self)
{
  g_return_val_if_fail (PRD_IS_SIO_NAMESPACE (self), TRUE);

  return !self->forget_auth;
}

/**
 * prd_sio_namespace_on:
 * @func: (nullable): the handler; %NULL removes it
 *
 * Sets the one handler of @event (a later call replaces it).
 */
void
prd_sio_namespace_on (PrdSioNamespace *self,
                      const char *event,
                      PrdSioEventFunc func,
                      gpointer user_data)
{
  Handler *handler;

  g_return_if_fail (PRD_IS_SIO_NAMESPACE (self));
  g_return_if_fail (event != NULL);

  if (func == NULL)
    {
      g_hash_table_remove (self->handlers, event);
      return;
    }
  handler = g_new0 (Handler, 1);
  handler->func = func;
  handler->user_data = user_data;
  g_hash_table_replace (self->handlers, g_strdup (event), handler);
}

/**
 * prd_sio_namespace_set_text_handler:
 * @event: an event with a handler (prd_sio_namespace_on())
 * @func: (nullable): reads the event's arguments as text first; %NULL removes it
 *
 * Gives @event's handler a second form, called with the arguments as
 * checked JSON text when the client sent the event as text (not binary) and
 * its name as a string. It gets the handler's user data, and goes with the
 * handler when that is replaced or removed. When it returns %FALSE, having
 * done nothing, the handler is called with the arguments as a tree.
 */
void
prd_sio_namespace_set_text_handler (PrdSioNamespace *self,
                                    const char *event,
                                    PrdSioTextEventFunc func)
{
  Handler *handler;

  g_return_if_fail (PRD_IS_SIO_NAMESPACE (self));
  g_return_if_fail (event != NULL);

  handler = g_hash_table_lookup (self->handlers, event);
  g_return_if_fail (handler != NULL);
  handler->text_func = func;
}

/**
 * prd_sio_namespace_set_catch_all:
 * @func: (nullable): called for events without their own handler
 */
void
prd_sio_namespace_set_catch_all (PrdSioNamespace *self, PrdSioEventFunc func, gpointer user_data)
{
  g_return_if_fail (PRD_IS_SIO_NAMESPACE (self));

  self->catch_all.func = func;
  self->catch_all.user_data = user_data;
}

guint
prd_sio_namespace_get_n_sockets (PrdSioNamespace *self)
{
  g_return_val_if_fail (PRD_IS_SIO_NAMESPACE (self), 0);

  return g_hash_table_size (self->sockets);
}

/**
 * prd_sio_namespace_get_room_sockets:
 * @room: (nullable): a room, or %NULL for every socket of the namespace
 *
 * Returns: (transfer full) (element-type PrdSioSocket): the connected
 *   sockets in @room, in no particular order
 */
GPtrArray *
prd_sio_namespace_get_room_sockets (PrdSioNamespace *self, const char *room)
{
  GPtrArray *result = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTable *set;
  GHashTableIter iter;
  gpointer socket;
  PrdSioSocket *owner;

  g_return_val_if_fail (PRD_IS_SIO_NAMESPACE (self), result);

  if (room == NULL)
    {
      g_hash_table_iter_init (&iter, self->sockets);
      while (g_hash_table_iter_next (&iter, NULL, &socket))
        g_ptr_array_add (result, g_object_ref (socket));
      return result;
    }

  set = g_hash_table_lookup (self->rooms, room);
  if (set != NULL)
    {
      g_hash_table_iter_init (&iter, set);
      while (g_hash_table_iter_next (&iter, &socket, NULL))
        g_ptr_array_add (result, g_object_ref (socket));
    }
  /* The room named by a socket's id is kept by the socket (prd-sio-socket.c). */
  owner = g_hash_table_lookup (self->sockets, room);
  if (owner != NULL && prd_sio_socket_in_room (owner, room))
    g_ptr_array_add (result, g_object_ref (owner));
  return result;
}

/* Queues @message (and @attachments) on every socket of @targets but
 * @except, and counts what was sent. */
static void
send_to_targets (PrdSioNamespace *self,
                 GPtrArray *targets,
                 PrdSioSocket *except,
                 const char *event,
                 const PrdEioPacket *message,
                 GPtrArray *attachments)
{
  guint sent = 0;

  for (guint i = 0; i < targets->len; i++)
    {
      PrdSioSocket *socket = g_ptr_array_index (targets, i);
      PrdEioSocket *engine;

      if (socket == except)
        continue;
      engine = prd_sio_socket_get_engine (socket);
      if (engine != NULL)
        {
          prd_sio_send_shared (engine, message, attachments);
          sent++;
        }
    }
  if (self->server != NULL)
    prd_sio_server_count_events (self->server, 0, sent);
  prd_metric_inc (prd_sio_metrics.broadcasts, NULL);
  prd_metric_add (prd_sio_metrics.broadcast_deliveries, NULL, sent);
  if (sent > 0)
    prd_metric_add (prd_sio_metrics.events_sent, event, sent);
}

/**
 * prd_sio_namespace_emit:
 * @room: (nullable): the room, %NULL for the whole namespace
 * @except: (nullable): a socket that does not get the event (the sender)
 * @args: (nullable): not consumed
 * @attachments: (nullable) (element-type GBytes): not consumed
 */
void
prd_sio_namespace_emit (PrdSioNamespace *self,
                        const char *room,
                        PrdSioSocket *except,
                        const char *event,
                        JsonArray *args,
                        GPtrArray *attachments)
{
  g_autoptr (GPtrArray) targets = NULL;
  g_autofree char *text = NULL;
  g_autoptr (PrdEioPacket) message = NULL;

  g_return_if_fail (PRD_IS_SIO_NAMESPACE (self));
  g_return_if_fail (event != NULL);

  /* A send can end a slow consumer's session and with it change the room
   * while we walk it: take the list first. */
  targets = prd_sio_namespace_get_room_sockets (self, room);
  if (targets->len == 0)
    return;
  text = prd_sio_encode_with_args (PRD_SIO_PACKET_EVENT, self->name, -1, event, args, attachments);
  if (text == NULL)
    return;
  /* Checked and framed once, queued by reference to every recipient. */
  message = prd_eio_packet_new_message (text, -1);
  if (message == NULL)
    return;
  send_to_targets (self, targets, except, event, message, attachments);
}

/**
 * prd_sio_namespace_emit_raw:
 * @room: (nullable): the room, %NULL for the whole namespace
 * @except: (nullable): a socket that does not get the event (the sender)
 * @event: the event's name (escaped here)
 * @args: (nullable): the arguments after the name as JSON text, values
 *   separated by commas; %NULL or empty for none
 * @args_len: the length of @args, or -1 when nul-terminated
 *
 * prd_sio_namespace_emit() for arguments written as JSON text already, no
 * attachments: the hub's per-update events are written without a tree.
 * @args is sent as it is (see prd_sio_socket_emit_raw()).
 */
void
prd_sio_namespace_emit_raw (PrdSioNamespace *self,
                            const char *room,
                            PrdSioSocket *except,
                            const char *event,
                            const char *args,
                            gssize args_len)
{
  g_autoptr (GPtrArray) targets = NULL;
  g_autoptr (GString) text = NULL;
  g_autoptr (PrdEioPacket) message = NULL;

  g_return_if_fail (PRD_IS_SIO_NAMESPACE (self));
  g_return_if_fail (event != NULL);

  /* A send can end a slow consumer's session and with it change the room
   * while we walk it: take the list first. */
  targets = prd_sio_namespace_get_room_sockets (self, room);
  if (targets->len == 0)
    return;
  text = prd_sio_encode_raw (PRD_SIO_PACKET_EVENT, self->name, -1, event, args, args_len);
  message = prd_eio_packet_new_message (text->str, (gssize) text->len);
  if (message == NULL)
    return;
  send_to_targets (self, targets, except, event, message, NULL);
}

void
prd_sio_namespace_emit_one (PrdSioNamespace *self,
                            const char *room,
                            PrdSioSocket *except,
                            const char *event,
                            JsonNode *payload)
{
  g_autoptr (JsonArray) args = json_array_new ();

  if (payload != NULL)
    json_array_add_element (args, json_node_copy (payload));
  prd_sio_namespace_emit (self, room, except, event, args, NULL);
}

gboolean
prd_sio_namespace_authorize (PrdSioNamespace *self,
                             PrdSioSocket *socket,
                             JsonNode *auth,
                             char **error_message,
                             JsonNode **error_data)
{
  *error_message = NULL;
  *error_data = NULL;
  if (self->connect_func == NULL)
    return TRUE;
  return self->connect_func (self, socket, auth, error_message, error_data, self->connect_data);
}

void
prd_sio_namespace_add_socket (PrdSioNamespace *self, PrdSioSocket *socket)
{
  g_hash_table_insert (self->sockets, (gpointer) prd_sio_socket_get_id (socket),
                       g_object_ref (socket));
  prd_sio_socket_join (socket, prd_sio_socket_get_id (socket));
  g_signal_emit (self, signals[SIGNAL_CONNECTION], 0, socket);
}

void
prd_sio_namespace_remove_socket (PrdSioNamespace *self, PrdSioSocket *socket, const char *reason)
{
  g_autoptr (PrdSioSocket) hold = g_object_ref (socket);

  if (!g_hash_table_remove (self->sockets, prd_sio_socket_get_id (socket)))
    return;
  g_signal_emit (self, signals[SIGNAL_DISCONNECTION], 0, socket, reason);
}

void
prd_sio_namespace_add_to_room (PrdSioNamespace *self, const char *room, PrdSioSocket *socket)
{
  GHashTable *set = g_hash_table_lookup (self->rooms, room);

  if (set == NULL)
    {
      set = g_hash_table_new (NULL, NULL);
      g_hash_table_insert (self->rooms, g_strdup (room), set);
    }
  g_hash_table_add (set, socket);
}

void
prd_sio_namespace_remove_from_room (PrdSioNamespace *self, const char *room, PrdSioSocket *socket)
{
  GHashTable *set = g_hash_table_lookup (self->rooms, room);

  if (set == NULL)
    return;
  g_hash_table_remove (set, socket);
  /* empty rooms go away, or every connection would leave its id behind */
  if (g_hash_table_size (set) == 0)
    g_hash_table_remove (self->rooms, room);
}

/* Whether @event has a handler of its own (not the catch-all): only such
 * names are counted by name, so clients cannot grow the metrics. */
gboolean
prd_sio_namespace_handles (PrdSioNamespace *self, const char *event)
{
  return g_hash_table_contains (self->handlers, event);
}

void
prd_sio_namespace_collect_events (PrdSioNamespace *self, GHashTable *names)
{
  GHashTableIter iter;
  gpointer event;

  g_hash_table_iter_init (&iter, self->handlers);
  while (g_hash_table_iter_next (&iter, &event, NULL))
    g_hash_table_add (names, event);
}

gboolean
prd_sio_namespace_takes (PrdSioNamespace *self, const char *event)
{
  return self->catch_all.func != NULL || g_hash_table_contains (self->handlers, event);
}

/* Returns TRUE when @event has a text handler and it took the event
 * (prd_sio_namespace_set_text_handler()); otherwise nothing happened. */
gboolean
prd_sio_namespace_dispatch_text (PrdSioNamespace *self,
                                 PrdSioSocket *socket,
                                 const char *event,
                                 const char *args,
                                 gsize args_len,
                                 gint64 ack_id)
{
  Handler *handler = g_hash_table_lookup (self->handlers, event);

  return handler != NULL && handler->text_func != NULL &&
         handler->text_func (socket, event, args, args_len, ack_id, handler->user_data);
}

/* Returns FALSE when no handler (nor catch-all) takes @event. */
gboolean
prd_sio_namespace_dispatch (PrdSioNamespace *self,
                            PrdSioSocket *socket,
                            const char *event,
                            JsonArray *args,
                            GPtrArray *attachments,
                            gint64 ack_id)
{
  Handler *handler = g_hash_table_lookup (self->handlers, event);

  if (handler == NULL && self->catch_all.func != NULL)
    handler = &self->catch_all;
  if (handler == NULL)
    return FALSE;
  handler->func (socket, event, args, attachments, ack_id, handler->user_data);
  return TRUE;
}
