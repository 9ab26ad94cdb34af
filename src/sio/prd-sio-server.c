/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdSioServer: Socket.IO v5 on top of a PrdEioServer.
 *
 * Every Engine.IO session gets a PrdSioClient that decodes its messages and
 * routes packets to the namespace sockets multiplexed on it. The protocol is
 * enforced the way socket.io enforces it: the first thing a session must do
 * is CONNECT to a namespace (within "connect-timeout"); any packet for a
 * namespace that is not connected, a second CONNECT to the same namespace and
 * any packet that does not decode end the whole session. A refused CONNECT
 * (unknown namespace, auth hook said no, an auth payload with a string the
 * hub cannot hold) is answered with CONNECT_ERROR and leaves the session
 * open, as clients retry with other credentials. Events whose payload the
 * decoder marked unusable are answered by the namespace socket.
 */
#define G_LOG_DOMAIN "prd-sio"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-time.h"
#include "prd-sio-private.h"
#include "prd-sio-server.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 45000
#define DEFAULT_EVENT_CLASS        "default"
#define DEFAULT_MAX_PENDING_ACKS   1000
/* Twice the longest state vector (PRD_CRDT_MAX_SITES entries), the largest
 * thing a client sends in one payload: this layer cannot see the CRDT's
 * headers, docs/protocol.md says why the number. */
#define DEFAULT_MAX_JSON_VALUES 131072

typedef struct
{
  guint limit;
  guint window_seconds;
} RateLimit;

struct _PrdSioServer
{
  GObject parent_instance;

  PrdEioServer *engine; /* (owned) */
  gulong connection_handler;
  guint connect_timeout;
  guint max_pending_acks;
  guint max_json_values;
  PrdTimerQueue *timers;     /* (owned): the sessions' connect timeouts */
  guint64 n_events_received; /* EVENT packets from clients */
  guint64 n_events_sent;     /* EVENT packets to clients, one per receiver */

  GHashTable *namespaces;    /* (owned) name → (owned) PrdSioNamespace */
  GHashTable *clients;       /* (owned) PrdEioSocket → (owned) PrdSioClient */
  GHashTable *rate_limits;   /* (owned) class → (owned) RateLimit */
  GHashTable *event_classes; /* (owned) event → (owned) class */
  /* (owned) rate key → PrdSioSharedLimiter: in use ones hold a reference
   * to the table and are unowned; idle ones (no socket, a window still
   * running) are the table's */
  GHashTable *shared_limiters;
  gint64 limiters_pruned_us; /* when idle limiters were last looked over */
};

struct _PrdSioSharedLimiter
{
  guint n_sockets;            /* sockets with the key; 0: idle */
  char *key;                  /* (owned) */
  GHashTable *table;          /* (owned) (nullable): the server's shared_limiters, while in use */
  PrdSioRateLimiter *limiter; /* (owned) */
  gint64 idle_until;          /* idle: when its last window ends (monotonic µs) */
  gboolean orphan;            /* in use when the server went: freed with its last socket */
};

static void
shared_limiter_free (PrdSioSharedLimiter *shared)
{
  prd_sio_rate_limiter_free (shared->limiter);
  g_free (shared->key);
  g_free (shared);
}

G_DEFINE_FINAL_TYPE (PrdSioServer, prd_sio_server, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_ENGINE,
  PROP_CONNECT_TIMEOUT,
  PROP_MAX_PENDING_ACKS,
  PROP_MAX_JSON_VALUES,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void on_engine_connection (PrdEioServer *engine, PrdEioSocket *socket, gpointer user_data);

/* ---- PrdSioClient ------------------------------------------------------ */

PrdSioClient *
prd_sio_client_ref (PrdSioClient *client)
{
  g_ref_count_inc (&client->ref_count);
  return client;
}

void
prd_sio_client_unref (PrdSioClient *client)
{
  if (!g_ref_count_dec (&client->ref_count))
    return;
  g_assert (client->closed);
  g_slist_free_full (g_steal_pointer (&client->sockets), g_object_unref);
  g_clear_pointer (&client->decoder, prd_sio_decoder_free);
  g_clear_pointer (&client->limiter, prd_sio_rate_limiter_free);
  g_clear_pointer (&client->refusals, g_hash_table_unref);
  g_clear_object (&client->engine);
  g_free (client);
}

PrdSioSocket *
prd_sio_client_find_socket (PrdSioClient *client, const char *nsp)
{
  for (GSList *l = client->sockets; l != NULL; l = l->next)
    if (g_str_equal (prd_sio_namespace_get_name (prd_sio_socket_get_namespace (l->data)), nsp))
      return l->data;
  return NULL;
}

void
prd_sio_client_forget_socket (PrdSioClient *client, PrdSioSocket *socket)
{
  GSList *link = g_slist_find (client->sockets, socket);

  if (link == NULL)
    return;
  client->sockets = g_slist_delete_link (client->sockets, link);
  g_object_unref (socket);
}

/* Ends every namespace socket of @client with @reason and forgets the
 * session. Safe to call more than once and from within a handler. */
static void
client_teardown (PrdSioClient *client, const char *reason)
{
  g_autoptr (PrdSioClient) hold = NULL;
  GSList *sockets;

  if (client->closed)
    return;
  client->closed = TRUE;
  hold = prd_sio_client_ref (client);

  prd_timer_cancel (&client->connect_timer);
  if (client->receiving)
    {
      prd_eio_socket_set_receiver (client->engine, NULL, NULL);
      client->receiving = FALSE;
    }

  /* Taken first: closing a socket makes it leave the list. */
  sockets = g_steal_pointer (&client->sockets);
  for (GSList *l = sockets; l != NULL; l = l->next)
    prd_sio_socket_close (l->data, reason);
  g_slist_free_full (sockets, g_object_unref);

  if (client->server != NULL)
    {
      PrdSioServer *server = client->server;

      client->server = NULL;
      g_hash_table_remove (server->clients, client->engine);
    }
}

/* Ends the whole Engine.IO session: a protocol violation or a timeout. */
void
prd_sio_client_close (PrdSioClient *client, const char *reason)
{
  g_autoptr (PrdSioClient) hold = prd_sio_client_ref (client);

  if (client->closed)
    return;
  prd_eio_socket_close (client->engine, reason);
  client_teardown (client, reason);
}

static void violation_va (PrdSioClient *client,
                          const char *reason,
                          gboolean disconnect,
                          const char *format,
                          va_list args) G_GNUC_PRINTF (4, 0);

static void
violation_va (
    PrdSioClient *client, const char *reason, gboolean disconnect, const char *format, va_list args)
{
  g_autofree char *message = g_strdup_vprintf (format, args);

  g_debug ("Closing Engine.IO session %s: %s", prd_eio_socket_get_id (client->engine), message);
  /* Queued before the session's close, which delivers what is queued
   * first: socket.io-client then ends each namespace with "io server
   * disconnect" and does not reconnect by itself. */
  for (GSList *l = disconnect ? client->sockets : NULL; l != NULL; l = l->next)
    {
      g_autoptr (PrdSioPacket) packet = prd_sio_packet_new (
          PRD_SIO_PACKET_DISCONNECT,
          prd_sio_namespace_get_name (prd_sio_socket_get_namespace (l->data)), -1, NULL);
      g_autofree char *text = prd_sio_packet_encode (packet);

      prd_eio_socket_send_text (client->engine, text, -1);
    }
  prd_sio_client_close (client, reason);
}

/* A packet that breaks the protocol (does not decode, names a namespace
 * that is not connected, a second CONNECT): the session ends at the
 * Engine.IO level, as socket.io ends it; such a client may not even read a
 * DISCONNECT packet. */
static void violation (PrdSioClient *client, const char *reason, const char *format, ...)
    G_GNUC_PRINTF (3, 4);

static void
violation (PrdSioClient *client, const char *reason, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  violation_va (client, reason, FALSE, format, args);
  va_end (args);
}

/* A client that keeps doing what is refused (events past a rate limit,
 * namespaces it cannot have) while speaking the protocol: each namespace it
 * joined gets a DISCONNECT, then the session ends ("forced close"). */
static void violation_disconnect (PrdSioClient *client, const char *format, ...)
    G_GNUC_PRINTF (2, 3);

static void
violation_disconnect (PrdSioClient *client, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  violation_va (client, "forced close", TRUE, format, args);
  va_end (args);
}

static void
send_connect_error (PrdSioClient *client, const char *nsp, const char *message, JsonNode *data)
{
  g_autoptr (JsonObject) object = json_object_new ();
  g_autoptr (PrdSioPacket) packet = NULL;
  g_autofree char *text = NULL;
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  json_object_set_string_member (object, "message", message);
  if (data != NULL)
    json_object_set_member (object, "data", json_node_copy (data));
  json_node_set_object (node, object);
  packet = prd_sio_packet_new (PRD_SIO_PACKET_CONNECT_ERROR, nsp, -1, node);
  text = prd_sio_packet_encode (packet);
  prd_eio_socket_send_text (client->engine, text, -1);
}

/* A client that keeps asking for namespaces it cannot have (unknown, or
 * refused by their auth hook) is closed: each answer costs the hub a
 * CONNECT_ERROR, and a payload holds thousands of such requests. */
static void
connect_refused (PrdSioClient *client)
{
  if (++client->refused_connects > PRD_SIO_MAX_REFUSED_CONNECTS)
    violation_disconnect (client, "%u namespace CONNECTs refused", client->refused_connects);
}

static void
client_connect (PrdSioClient *client, PrdSioPacket *packet)
{
  g_autoptr (PrdSioSocket) socket = NULL;
  g_autoptr (JsonNode) error_data = NULL;
  g_autofree char *error_message = NULL;
  g_autoptr (PrdSioPacket) reply = NULL;
  g_autofree char *text = NULL;
  g_autoptr (JsonObject) object = NULL;
  JsonNode *node;
  PrdSioNamespace *nsp = NULL;

  if (client->server != NULL)
    nsp = g_hash_table_lookup (client->server->namespaces, packet->nsp);
  if (nsp == NULL)
    {
      send_connect_error (client, packet->nsp, "Invalid namespace", NULL);
      connect_refused (client);
      return;
    }

  if (packet->unusable_payload || packet->too_many_values)
    {
      g_autoptr (JsonObject) data = json_object_new ();
      g_autoptr (JsonNode) data_node = json_node_new (JSON_NODE_OBJECT);
      g_autofree char *timestamp = prd_time_format_now ();
      g_autofree char *message = NULL;

      if (packet->unusable_payload)
        message = g_strdup ("A string in auth holds U+0000 or an unpaired surrogate");
      else
        message = g_strdup_printf ("auth holds %" G_GSIZE_FORMAT
                                   " JSON values, more than the limit of %u (max-json-values)",
                                   packet->n_values, client->server->max_json_values);
      json_object_set_string_member (data, "code",
                                     prd_error_code_to_string (packet->unusable_payload
                                                                   ? PRD_ERROR_INVALID_PAYLOAD
                                                                   : PRD_ERROR_PAYLOAD_TOO_LARGE));
      json_object_set_string_member (data, "message", message);
      json_object_set_string_member (data, "timestamp", timestamp);
      json_node_set_object (data_node, data);
      send_connect_error (client, packet->nsp,
                          packet->unusable_payload ? "Invalid payload" : "Payload too large",
                          data_node);
      connect_refused (client);
      return;
    }

  g_object_ref (nsp);
  socket = prd_sio_socket_new (nsp, client, packet->data);
  if (!prd_sio_namespace_authorize (nsp, socket, packet->data, &error_message, &error_data))
    {
      g_object_unref (nsp);
      if (client->closed)
        return;
      send_connect_error (client, packet->nsp,
                          error_message != NULL ? error_message : "not authorized", error_data);
      prd_sio_socket_close (socket, "connection refused");
      connect_refused (client);
      return;
    }
  g_object_unref (nsp);
  if (client->closed || prd_sio_client_find_socket (client, packet->nsp) != NULL)
    return;

  prd_timer_cancel (&client->connect_timer);
  client->accepted_connects++;
  prd_sio_socket_set_connected (socket);
  client->sockets = g_slist_prepend (client->sockets, g_object_ref (socket));

  object = json_object_new ();
  json_object_set_string_member (object, "sid", prd_sio_socket_get_id (socket));
  node = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (node, object);
  reply = prd_sio_packet_new (PRD_SIO_PACKET_CONNECT, packet->nsp, -1, node);
  text = prd_sio_packet_encode (reply);
  prd_eio_socket_send_text (client->engine, text, -1);

  prd_sio_namespace_add_socket (prd_sio_socket_get_namespace (socket), socket);
}

static void
client_handle_packet (PrdSioClient *client, PrdSioPacket *packet)
{
  PrdSioSocket *socket = prd_sio_client_find_socket (client, packet->nsp);

  switch (packet->type)
    {
      case PRD_SIO_PACKET_CONNECT:
        if (socket != NULL)
          violation (client, "forced close", "second CONNECT to %s", packet->nsp);
        else
          client_connect (client, packet);
        return;

      case PRD_SIO_PACKET_CONNECT_ERROR:
        violation (client, "forced close", "CONNECT_ERROR sent by a client");
        return;

      default:
        break;
    }

  if (socket == NULL)
    {
      violation (client, "forced close", "packet type %d for namespace %s, which is not connected",
                 (int) packet->type, packet->nsp);
      return;
    }

  switch (packet->type)
    {
      case PRD_SIO_PACKET_DISCONNECT:
        prd_sio_socket_close (socket, "client namespace disconnect");
        break;

      case PRD_SIO_PACKET_EVENT:
      case PRD_SIO_PACKET_BINARY_EVENT:
        prd_sio_socket_handle_event (socket, packet);
        break;

      case PRD_SIO_PACKET_ACK:
      case PRD_SIO_PACKET_BINARY_ACK:
        /* the server never asks for acks */
        g_debug ("Socket %s: ignoring unsolicited ack %" G_GINT64_FORMAT,
                 prd_sio_socket_get_id (socket), packet->id);
        break;

      case PRD_SIO_PACKET_CONNECT:
      case PRD_SIO_PACKET_CONNECT_ERROR:
      default:
        g_assert_not_reached ();
    }
}

static void
on_text_message (PrdEioSocket *engine, const char *text, gsize len, gpointer user_data)
{
  g_autoptr (PrdSioClient) client = prd_sio_client_ref (user_data);
  g_autoptr (PrdSioPacket) packet = NULL;
  g_autoptr (GError) error = NULL;

  if (client->closed)
    return;
  /* the signal carries a C string: a NUL inside would hide the rest */
  if (strnlen (text, len) != len)
    {
      violation (client, "parse error", "text message contains a NUL byte");
      return;
    }
  if (!prd_sio_decoder_feed_text (client->decoder, text, len, &packet, &error))
    {
      violation (client, "parse error", "%s", error->message);
      return;
    }
  if (packet != NULL)
    client_handle_packet (client, packet);
  else if (prd_sio_decoder_is_awaiting_binary (client->decoder) &&
           prd_sio_client_find_socket (client,
                                       prd_sio_decoder_get_awaiting_nsp (client->decoder)) == NULL)
    /* Its attachments would be kept for nothing (before any CONNECT, too). */
    violation (client, "forced close", "binary packet for namespace %s, which is not connected",
               prd_sio_decoder_get_awaiting_nsp (client->decoder));
}

static void
on_binary_message (PrdEioSocket *engine, GBytes *data, gpointer user_data)
{
  g_autoptr (PrdSioClient) client = prd_sio_client_ref (user_data);
  g_autoptr (PrdSioPacket) packet = NULL;
  g_autoptr (GError) error = NULL;

  if (client->closed)
    return;
  if (!prd_sio_decoder_feed_binary (client->decoder, data, &packet, &error))
    {
      violation (client, "parse error", "%s", error->message);
      return;
    }
  if (packet != NULL)
    client_handle_packet (client, packet);
}

static void
on_engine_closed (PrdEioSocket *engine, const char *reason, gpointer user_data)
{
  client_teardown (user_data, reason);
}

static const PrdEioSocketReceiver client_receiver = {
  .text_message = on_text_message,
  .binary_message = on_binary_message,
  .closed = on_engine_closed,
};

static void
on_connect_timeout (PrdTimer *timer, gpointer user_data)
{
  PrdSioClient *client = user_data;

  g_autoptr (PrdSioClient) hold = prd_sio_client_ref (client);

  if (client->sockets != NULL || client->closed)
    return;
  g_debug ("Closing Engine.IO session %s: no namespace CONNECT within the connect timeout",
           prd_eio_socket_get_id (client->engine));
  /* Nothing the client waits for is queued (a refused CONNECT's answer had
   * the whole timeout to be taken): the session ends now and frees its
   * place, rather than wait a heartbeat for a poll to take the close. */
  prd_eio_socket_abort (client->engine, "forced close");
  client_teardown (client, "forced close");
}

static void
on_engine_connection (PrdEioServer *engine, PrdEioSocket *socket, gpointer user_data)
{
  PrdSioServer *self = user_data;
  PrdSioClient *client = g_new0 (PrdSioClient, 1);

  g_ref_count_init (&client->ref_count);
  client->server = self;
  client->engine = g_object_ref (socket);
  client->decoder = prd_sio_decoder_new ();
  prd_sio_decoder_set_max_size (client->decoder, prd_eio_server_get_max_payload (engine));
  prd_sio_decoder_set_max_values (client->decoder, self->max_json_values);
  client->limiter = prd_sio_rate_limiter_new ();
  prd_eio_socket_set_receiver (socket, &client_receiver, client);
  client->receiving = TRUE;
  prd_timer_init (&client->connect_timer, on_connect_timeout, client);
  prd_timer_queue_schedule_ms (self->timers, &client->connect_timer, self->connect_timeout);
  g_hash_table_insert (self->clients, socket, client);

  if (!prd_eio_socket_is_open (socket))
    client_teardown (client, "transport close");
}

/* ---- PrdSioServer ------------------------------------------------------ */

static void
prd_sio_server_constructed (GObject *object)
{
  PrdSioServer *self = PRD_SIO_SERVER (object);

  G_OBJECT_CLASS (prd_sio_server_parent_class)->constructed (object);

  g_assert (self->engine != NULL);
  self->connection_handler =
      g_signal_connect (self->engine, "connection", G_CALLBACK (on_engine_connection), self);
}

static void
prd_sio_server_dispose (GObject *object)
{
  PrdSioServer *self = PRD_SIO_SERVER (object);
  GHashTableIter iter;
  gpointer value;

  if (self->engine != NULL)
    g_clear_signal_handler (&self->connection_handler, self->engine);

  while (g_hash_table_size (self->clients) > 0)
    {
      g_hash_table_iter_init (&iter, self->clients);
      g_hash_table_iter_next (&iter, NULL, &value);
      /* without us the sessions could not speak Socket.IO any more */
      prd_sio_client_close (value, "server shutting down");
    }

  g_hash_table_iter_init (&iter, self->namespaces);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    prd_sio_namespace_forget_server (value);
  g_hash_table_remove_all (self->namespaces);
  g_clear_object (&self->engine);

  G_OBJECT_CLASS (prd_sio_server_parent_class)->dispose (object);
}

static void
prd_sio_server_finalize (GObject *object)
{
  PrdSioServer *self = PRD_SIO_SERVER (object);

  g_hash_table_unref (self->namespaces);
  g_hash_table_unref (self->clients);
  g_hash_table_unref (self->rate_limits);
  g_hash_table_unref (self->event_classes);
  /* Idle limiters are the table's; those still in use are freed with
   * their last socket. */
  {
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init (&iter, self->shared_limiters);
    while (g_hash_table_iter_next (&iter, NULL, &value))
      {
        PrdSioSharedLimiter *shared = value;

        g_hash_table_iter_remove (&iter);
        if (shared->n_sockets == 0)
          shared_limiter_free (shared);
        else
          shared->orphan = TRUE;
      }
  }
  g_hash_table_unref (self->shared_limiters);
  prd_timer_queue_unref (self->timers);
  G_OBJECT_CLASS (prd_sio_server_parent_class)->finalize (object);
}

static void
prd_sio_server_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PrdSioServer *self = PRD_SIO_SERVER (object);

  switch (prop_id)
    {
      case PROP_ENGINE:
        g_value_set_object (value, self->engine);
        break;
      case PROP_CONNECT_TIMEOUT:
        g_value_set_uint (value, self->connect_timeout);
        break;
      case PROP_MAX_PENDING_ACKS:
        g_value_set_uint (value, self->max_pending_acks);
        break;
      case PROP_MAX_JSON_VALUES:
        g_value_set_uint (value, self->max_json_values);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
prd_sio_server_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  PrdSioServer *self = PRD_SIO_SERVER (object);

  switch (prop_id)
    {
      case PROP_ENGINE:
        self->engine = g_value_dup_object (value);
        break;
      case PROP_CONNECT_TIMEOUT:
        if (self->connect_timeout != g_value_get_uint (value))
          {
            self->connect_timeout = g_value_get_uint (value);
            g_object_notify_by_pspec (object, pspec);
          }
        break;
      case PROP_MAX_PENDING_ACKS:
        if (self->max_pending_acks != g_value_get_uint (value))
          {
            self->max_pending_acks = g_value_get_uint (value);
            g_object_notify_by_pspec (object, pspec);
          }
        break;
      case PROP_MAX_JSON_VALUES:
        if (self->max_json_values != g_value_get_uint (value))
          {
            self->max_json_values = g_value_get_uint (value);
            g_object_notify_by_pspec (object, pspec);
          }
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

PrdSioMetrics prd_sio_metrics;

static void
init_metrics (void)
{
  prd_sio_metrics.events_received = prd_metric_counter (
      "prdhub_events_received_total",
      "Socket.IO events received from clients, by name (events without a handler as \"other\").",
      "event");
  prd_sio_metrics.events_sent =
      prd_metric_counter ("prdhub_events_sent_total",
                          "Socket.IO events sent to clients, one per receiver, by name.", "event");
  prd_sio_metrics.ack_latency = prd_metric_histogram (
      "prdhub_ack_latency_seconds",
      "Time from receiving an event that asks for an ack to sending its ack (ok or error).");
  prd_sio_metrics.broadcasts = prd_metric_counter (
      "prdhub_broadcasts_total", "Events emitted to a room or a whole namespace.", NULL);
  prd_sio_metrics.broadcast_deliveries = prd_metric_counter (
      "prdhub_broadcast_deliveries_total",
      "Packets sent to the receivers of broadcasts (one per receiving connection).", NULL);
  prd_sio_metrics.rate_limit_refusals = prd_metric_rate_limit_refusals ();
  prd_sio_metrics.pending_ack_refusals = prd_metric_counter (
      "prdhub_pending_ack_refusals_total",
      "Events refused because the connection had too many requests awaiting an ack.", NULL);
}

static void
prd_sio_server_class_init (PrdSioServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  init_metrics ();

  object_class->constructed = prd_sio_server_constructed;
  object_class->dispose = prd_sio_server_dispose;
  object_class->finalize = prd_sio_server_finalize;
  object_class->get_property = prd_sio_server_get_property;
  object_class->set_property = prd_sio_server_set_property;

  properties[PROP_ENGINE] =
      g_param_spec_object ("engine", NULL, NULL, PRD_TYPE_EIO_SERVER,
                           G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /* Applies to sessions that start after it is set. */
  properties[PROP_CONNECT_TIMEOUT] = g_param_spec_uint (
      "connect-timeout", NULL, NULL, 1, G_MAXUINT, DEFAULT_CONNECT_TIMEOUT_MS,
      G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* Events asking for an ack that one socket may have unanswered at once;
   * beyond it an event is refused with the `error` event and an ack error
   * (RATE_LIMITED). */
  properties[PROP_MAX_PENDING_ACKS] = g_param_spec_uint (
      "max-pending-acks", NULL, NULL, 1, G_MAXUINT, DEFAULT_MAX_PENDING_ACKS,
      G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* JSON values (arrays, objects, strings, numbers, literals, nested ones
   * included) one packet's payload may hold; a packet with more is never
   * made into a tree: an event is refused with PAYLOAD_TOO_LARGE, a CONNECT
   * with connect_error. 0: no limit. Applies to sessions that start after it
   * is set. */
  properties[PROP_MAX_JSON_VALUES] = g_param_spec_uint (
      "max-json-values", NULL, NULL, 0, G_MAXUINT, DEFAULT_MAX_JSON_VALUES,
      G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
prd_sio_server_init (PrdSioServer *self)
{
  self->connect_timeout = DEFAULT_CONNECT_TIMEOUT_MS;
  self->max_pending_acks = DEFAULT_MAX_PENDING_ACKS;
  self->max_json_values = DEFAULT_MAX_JSON_VALUES;
  self->namespaces = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->clients = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) prd_sio_client_unref);
  self->rate_limits = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->event_classes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->shared_limiters = g_hash_table_new (g_str_hash, g_str_equal);
  self->timers = prd_timer_queue_get_shared (G_PRIORITY_DEFAULT);
}

PrdSioServer *
prd_sio_server_new (PrdEioServer *engine)
{
  g_return_val_if_fail (PRD_IS_EIO_SERVER (engine), NULL);

  return g_object_new (PRD_TYPE_SIO_SERVER, "engine", engine, NULL);
}

PrdEioServer *
prd_sio_server_get_engine (PrdSioServer *self)
{
  g_return_val_if_fail (PRD_IS_SIO_SERVER (self), NULL);

  return self->engine;
}

/**
 * prd_sio_server_of:
 * @name: a namespace name starting with "/"
 *
 * Returns: (transfer none): the namespace @name, created on first use
 */
PrdSioNamespace *
prd_sio_server_of (PrdSioServer *self, const char *name)
{
  PrdSioNamespace *nsp;

  g_return_val_if_fail (PRD_IS_SIO_SERVER (self), NULL);
  g_return_val_if_fail (name != NULL && name[0] == '/' && strchr (name, ',') == NULL, NULL);

  nsp = g_hash_table_lookup (self->namespaces, name);
  if (nsp == NULL)
    {
      nsp = prd_sio_namespace_new (self, name);
      g_hash_table_insert (self->namespaces, g_strdup (name), nsp);
    }
  return nsp;
}

/**
 * prd_sio_server_lookup:
 *
 * Returns: (transfer none) (nullable): the namespace @name if it exists
 */
PrdSioNamespace *
prd_sio_server_lookup (PrdSioServer *self, const char *name)
{
  g_return_val_if_fail (PRD_IS_SIO_SERVER (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  return g_hash_table_lookup (self->namespaces, name);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/**
 * prd_sio_server_dup_events:
 *
 * The events some namespace has a handler of its own for (not a
 * catch-all): what a rate-limit mapping may name. The hub's configuration
 * checks those names against a static list before anything starts; its
 * tests compare that list with this one.
 *
 * Returns: (transfer full): the names, sorted, each once
 */
char **
prd_sio_server_dup_events (PrdSioServer *self)
{
  g_autoptr (GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) sorted = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer nsp, name;

  g_return_val_if_fail (PRD_IS_SIO_SERVER (self), NULL);

  g_hash_table_iter_init (&iter, self->namespaces);
  while (g_hash_table_iter_next (&iter, NULL, &nsp))
    prd_sio_namespace_collect_events (nsp, names);
  g_hash_table_iter_init (&iter, names);
  while (g_hash_table_iter_next (&iter, &name, NULL))
    g_ptr_array_add (sorted, g_strdup (name));
  g_ptr_array_sort (sorted, compare_names);
  g_ptr_array_add (sorted, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&sorted), FALSE);
}

/**
 * prd_sio_server_set_rate_limit:
 * @limit: events allowed per window; 0 removes the limit of @event_class
 * @window_seconds: the window, at least 1 when @limit is set
 */
void
prd_sio_server_set_rate_limit (PrdSioServer *self,
                               const char *event_class,
                               guint limit,
                               guint window_seconds)
{
  RateLimit *rate;

  g_return_if_fail (PRD_IS_SIO_SERVER (self));
  g_return_if_fail (event_class != NULL);
  g_return_if_fail (limit == 0 || window_seconds > 0);

  if (limit == 0)
    {
      g_hash_table_remove (self->rate_limits, event_class);
      return;
    }
  rate = g_new0 (RateLimit, 1);
  rate->limit = limit;
  rate->window_seconds = window_seconds;
  g_hash_table_replace (self->rate_limits, g_strdup (event_class), rate);
}

/**
 * prd_sio_server_set_event_class:
 * @event_class: (nullable): the class, %NULL puts @event back in "default"
 */
void
prd_sio_server_set_event_class (PrdSioServer *self, const char *event, const char *event_class)
{
  g_return_if_fail (PRD_IS_SIO_SERVER (self));
  g_return_if_fail (event != NULL);

  if (event_class == NULL)
    g_hash_table_remove (self->event_classes, event);
  else
    g_hash_table_replace (self->event_classes, g_strdup (event), g_strdup (event_class));
}

/**
 * prd_sio_server_get_n_events_received:
 *
 * Returns: how many events (EVENT and BINARY_EVENT packets) clients have
 *   sent, whether they were dispatched or refused
 */
guint64
prd_sio_server_get_n_events_received (PrdSioServer *self)
{
  g_return_val_if_fail (PRD_IS_SIO_SERVER (self), 0);

  return self->n_events_received;
}

/**
 * prd_sio_server_get_n_events_sent:
 *
 * Returns: how many events the server has sent, a broadcast counting once
 *   per socket it went to (acks are not events)
 */
guint64
prd_sio_server_get_n_events_sent (PrdSioServer *self)
{
  g_return_val_if_fail (PRD_IS_SIO_SERVER (self), 0);

  return self->n_events_sent;
}

void
prd_sio_server_count_events (PrdSioServer *self, guint received, guint sent)
{
  self->n_events_received += received;
  self->n_events_sent += sent;
}

guint
prd_sio_server_get_max_pending_acks (PrdSioServer *self)
{
  return self->max_pending_acks;
}

guint
prd_sio_server_get_max_json_values (PrdSioServer *self)
{
  return self->max_json_values;
}

/* ---- rate limits ------------------------------------------------------- */

/* Idle limiters whose windows have all ended hold nothing a new socket of
 * their key would not get afresh: they go, looked over at most once a
 * second. */
static void
prune_limiters (PrdSioServer *self, gint64 now)
{
  GHashTableIter iter;
  gpointer value;

  if (now - self->limiters_pruned_us < G_USEC_PER_SEC)
    return;
  self->limiters_pruned_us = now;
  g_hash_table_iter_init (&iter, self->shared_limiters);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      PrdSioSharedLimiter *shared = value;

      if (shared->n_sockets == 0 && shared->idle_until <= now)
        {
          g_hash_table_iter_remove (&iter);
          shared_limiter_free (shared);
        }
    }
}

PrdSioSharedLimiter *
prd_sio_server_acquire_limiter (PrdSioServer *self, const char *key)
{
  gint64 now = g_get_monotonic_time ();
  PrdSioSharedLimiter *shared;

  prune_limiters (self, now);
  shared = g_hash_table_lookup (self->shared_limiters, key);
  if (shared != NULL)
    {
      /* An idle one comes back with what its windows left. */
      if (shared->n_sockets++ == 0)
        shared->table = g_hash_table_ref (self->shared_limiters);
      return shared;
    }
  shared = g_new0 (PrdSioSharedLimiter, 1);
  shared->n_sockets = 1;
  shared->key = g_strdup (key);
  shared->table = g_hash_table_ref (self->shared_limiters);
  shared->limiter = prd_sio_rate_limiter_new ();
  g_hash_table_insert (self->shared_limiters, shared->key, shared);
  return shared;
}

/* A user's last socket gone: its buckets stay while a window runs, so
 * that connecting again does not refill them (the table owns them then);
 * else they go at once. */
void
prd_sio_shared_limiter_release (PrdSioSharedLimiter *shared)
{
  gint64 now = g_get_monotonic_time ();
  g_autoptr (GHashTable) table = NULL;

  g_return_if_fail (shared->n_sockets > 0);

  if (--shared->n_sockets > 0)
    return;
  table = g_steal_pointer (&shared->table);
  if (!shared->orphan)
    {
      shared->idle_until = prd_sio_rate_limiter_get_windows_end (shared->limiter, now);
      if (shared->idle_until > now)
        return;
      g_hash_table_remove (table, shared->key);
    }
  shared_limiter_free (shared);
}

PrdSioRateLimiter *
prd_sio_shared_limiter_get_limiter (PrdSioSharedLimiter *shared)
{
  return shared->limiter;
}

guint
prd_sio_server_get_n_rate_keys (PrdSioServer *self)
{
  return g_hash_table_size (self->shared_limiters);
}

/* The limit of @event's class, or NULL when the class has none. */
static RateLimit *
lookup_rate (PrdSioServer *self, const char *event, const char **event_class)
{
  *event_class = g_hash_table_lookup (self->event_classes, event);
  if (*event_class == NULL)
    *event_class = DEFAULT_EVENT_CLASS;
  return g_hash_table_lookup (self->rate_limits, *event_class);
}

/* @limiter: the buckets @event counts against, @client's own or those of
 * the socket's rate key. Refusals are counted per @client and per class
 * whatever the buckets: a session that goes on sending past a class's limit
 * is closed. */
gboolean
prd_sio_server_check_rate (PrdSioServer *self,
                           PrdSioClient *client,
                           PrdSioRateLimiter *limiter,
                           const char *event,
                           PrdSioRateInfo *info)
{
  const char *event_class;
  RateLimit *rate = lookup_rate (self, event, &event_class);
  PrdSioRefusals *refusals;
  gint64 now;

  if (rate == NULL)
    return TRUE;
  now = g_get_monotonic_time ();
  if (prd_sio_rate_limiter_consume (limiter, event_class, rate->limit, rate->window_seconds, now,
                                    info))
    return TRUE;
  prd_metric_inc (prd_sio_metrics.rate_limit_refusals, event_class);
  /* Each refusal is answered (rate-limit, the ack): a client that sends as
   * many events of a class again as its limit past it, within one window,
   * is closed rather than answered without end. Refusals of another class
   * (with a limit of its own) do not count. */
  if (client->refusals == NULL)
    client->refusals = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  refusals = g_hash_table_lookup (client->refusals, event_class);
  if (refusals == NULL)
    {
      refusals = g_new0 (PrdSioRefusals, 1);
      g_hash_table_insert (client->refusals, g_strdup (event_class), refusals);
    }
  if (refusals->n_events == 0 ||
      now - refusals->since > (gint64) rate->window_seconds * G_USEC_PER_SEC)
    {
      refusals->since = now;
      refusals->n_events = 0;
    }
  if (++refusals->n_events > rate->limit)
    violation_disconnect (client, "%u events past the rate limit of class %s", refusals->n_events,
                          event_class);
  return FALSE;
}

gboolean
prd_sio_server_consume_class (PrdSioServer *self,
                              PrdSioRateLimiter *limiter,
                              const char *event_class,
                              PrdSioRateInfo *info)
{
  RateLimit *rate = g_hash_table_lookup (self->rate_limits, event_class);

  if (rate == NULL)
    return TRUE;
  if (prd_sio_rate_limiter_consume (limiter, event_class, rate->limit, rate->window_seconds,
                                    g_get_monotonic_time (), info))
    return TRUE;
  prd_metric_inc (prd_sio_metrics.rate_limit_refusals, event_class);
  return FALSE;
}

void
prd_sio_server_charge_rate (PrdSioServer *self,
                            PrdSioRateLimiter *limiter,
                            const char *event,
                            guint tokens)
{
  const char *event_class;
  RateLimit *rate = lookup_rate (self, event, &event_class);

  if (rate != NULL)
    prd_sio_rate_limiter_charge (limiter, event_class, rate->limit, rate->window_seconds,
                                 g_get_monotonic_time (), tokens);
}
