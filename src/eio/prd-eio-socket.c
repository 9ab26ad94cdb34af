/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdEioSocket: one Engine.IO session. It owns the outgoing queue, the
 * heartbeat, the current transport (a held polling GET, or a WebSocket) and
 * the polling→websocket upgrade.
 *
 * Outgoing bytes are accounted in one place (queued_bytes + inflight_bytes)
 * so that "max-write-buffer" bounds what a client that stops reading can make
 * the hub hold:
 *
 * - polling: packets wait in our queue until the next GET takes them; the
 *   response body then counts as in flight until libsoup reports the message
 *   finished, every such response of the session (a client may ask again on
 *   another connection without reading the last answer). A response not
 *   written within ping-interval + ping-timeout (a client that takes its
 *   answers that slowly has lost its session anyway) has its connection
 *   shut down, whether or not the session still lives, so that it cannot
 *   hold the hub's memory for as long as the client keeps the connection.
 * - WebSocket: the connection lives behind a PrdEioWsLink, on an I/O
 *   thread or, with none, on this one (prd-eio-ws-link.h). Packets go to the
 *   link as they are sent, and the link hands them to libsoup only while its
 *   last write took all it was given; what waits in the link counts here
 *   through prd_eio_ws_link_get_buffered().
 *
 * A held GET's connection is looked at right before packets are written
 * into it (libsoup reads nothing from a paused message, so it would notice
 * nothing before writing): when the client has closed it, end of stream,
 * shut down for writing or reset, the session closes instead
 * ("transport close"), as engine.io closes it on the request's "close"
 * (Node's HTTP server destroys a request whose connection is half-closed as
 * well). The packets must not go into a connection nobody reads while the
 * session lives on: the client would lose them without knowing. It
 * reconnects and joins again. Nothing watches the connection meanwhile: a
 * source per held GET would make every main-loop iteration cost more with
 * each polling client; the heartbeat's ping is written at least every
 * pingInterval, so a closed connection is found by then.
 *
 * "closed" is emitted once, at the moment the session stops accepting
 * packets. A server-side close (prd_eio_socket_close) still flushes what was
 * queued before it (a Socket.IO DISCONNECT, typically) and then ends the
 * transport; other closes (client close, errors, timeouts, overflow) drop the
 * queue and end the transport at once.
 */
#define G_LOG_DOMAIN "prd-eio"

#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "prd-eio-private.h"
#include "prd-eio-refusal.h"
#include "prd-eio-ws-link.h"
#include "prd-metrics.h"
#include "prd-timer-queue.h"

#include "prd-eio-socket.h"

typedef enum
{
  STATE_OPEN,
  STATE_CLOSING, /* "closed" emitted; flushing before the transport ends */
  STATE_CLOSED,
} SocketState;

typedef enum
{
  CLOSE_FLUSH,  /* server close: deliver what is queued, then "1" */
  CLOSE_CLIENT, /* the client asked: a held GET gets "6" */
  CLOSE_ERROR,  /* drop everything: a held GET gets "1" */
} CloseMode;

typedef struct
{
  PrdEioPacket *packet;
  gsize cost;
} OutItem;

/* A polling response being written. It outlives its session if need be:
 * until libsoup has written it, or its deadline has cut the connection. */
typedef struct
{
  PrdEioSocket *owner;    /* (unowned) (nullable): NULL once the session is gone */
  GList *link;            /* in owner->inflight */
  SoupServerMessage *msg; /* (owned) */
  GSocket *socket;        /* (owned) (nullable) */
  gsize bytes;
  GSource *deadline; /* (owned) */
} InFlight;

struct _PrdEioSocket
{
  GObject parent_instance;

  char *id;             /* (owned) */
  char *remote_address; /* (owned) (nullable) */
  PrdEioConfig config;
  SocketState state;
  gboolean websocket;

  GQueue queue; /* (element-type OutItem) (owned) */
  guint64 queued_bytes;
  guint64 inflight_bytes;
  guint flush_idle_id;

  /* Polling. */
  SoupServerMessage *poll_get;  /* (owned) (nullable): held, not answered yet */
  GSocket *poll_get_socket;     /* (owned) (nullable): its connection, looked at before writing */
  GQueue inflight;              /* (element-type InFlight): answered, being written */
  SoupServerMessage *poll_post; /* (owned) (nullable): body being read */

  /* WebSocket. */
  PrdEioWsLink *ws; /* (owned) (nullable) */
  gushort ws_close_code;

  /* Upgrade. */
  PrdEioWsLink *probe_ws; /* (owned) (nullable) */
  gboolean probe_seen;
  PrdTimer upgrade_noop_timer;

  PrdTimer upgrade_timer;

  /* Heartbeat. */
  PrdTimer ping_timer;
  PrdTimer pong_timer;
  gboolean awaiting_pong;
  gboolean pong_refreshed;
  gint64 ping_due;      /* monotonic µs */
  gint64 pong_deadline; /* monotonic µs */

  PrdTimer close_timer;
  CloseMode closing_mode;

  /* The write buffer overflowed: nothing more is queued, and the session
   * closes from its own timer, never inside the send that overflowed (the
   * sender may be walking a room the close would take it out of). */
  gboolean overflowed;
  PrdTimer overflow_timer;

  /* The deadlines of every session are on two shared queues, one GSource
   * each, rather than a GSource per timer. Heartbeat timers run at high
   * priority so that busy I/O cannot delay a timeout past the moment a
   * client may rely on it having happened; the others at the default
   * priority, as the GLib timeouts they replace. */
  PrdTimerQueue *high_timers; /* (owned) */
  PrdTimerQueue *timers;      /* (owned) */

  const PrdEioSocketOwner *owner; /* (unowned) (nullable) */
  gpointer owner_data;

  /* A request has named the session since its handshake (see
   * prd_eio_socket_set_used()). Until then the session is on its server's
   * lists of unused sessions, by these two links (their data: the socket). */
  gboolean used;
  GList unused_links[2];

  const PrdEioSocketReceiver *receiver; /* (unowned) (nullable) */
  gpointer receiver_data;
};

G_DEFINE_FINAL_TYPE (PrdEioSocket, prd_eio_socket, G_TYPE_OBJECT)

enum
{
  SIGNAL_TEXT_MESSAGE,
  SIGNAL_BINARY_MESSAGE,
  SIGNAL_CLOSED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

enum
{
  PROP_0,
  PROP_TRANSPORT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* (unowned): the registry's, set in class_init */
static PrdMetric *slow_consumers_dropped;

static void socket_close (PrdEioSocket *self, const char *reason, CloseMode mode);
static void socket_flush (PrdEioSocket *self);
static void schedule_ping (PrdEioSocket *self);

static void
out_item_free (OutItem *item)
{
  prd_eio_packet_free (item->packet);
  g_free (item);
}

static gsize
packet_cost (PrdEioSocket *self, const PrdEioPacket *packet)
{
  /* What the packet occupies on the wire of the current transport: a frame
   * over WebSocket, a record (plus separator) in a polling payload. */
  if (self->websocket)
    return g_bytes_get_size (packet->data) + (packet->binary ? 0 : 1);
  return prd_eio_packet_get_polling_size (packet) + 1;
}

static void
queue_clear (PrdEioSocket *self)
{
  OutItem *item;

  while ((item = g_queue_pop_head (&self->queue)) != NULL)
    out_item_free (item);
  self->queued_bytes = 0;
}

static void
recompute_queue_cost (PrdEioSocket *self)
{
  self->queued_bytes = 0;
  for (GList *l = self->queue.head; l != NULL; l = l->next)
    {
      OutItem *item = l->data;

      item->cost = packet_cost (self, item->packet);
      self->queued_bytes += item->cost;
    }
}

/* ------------------------------------------------------------------ */
/* Polling responses                                                  */

static void
set_no_store (SoupServerMessage *msg)
{
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control",
                                "no-store");
}

/* (nullable) (transfer none): the TCP socket beneath @msg. A connection
 * PrdEioListener accepted (over TLS too) shows it only on its remote
 * address. */
static GSocket *
message_get_socket (SoupServerMessage *msg)
{
  GSocket *socket = soup_server_message_get_socket (msg);
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);

  if (socket == NULL && remote != NULL)
    socket = g_object_get_data (G_OBJECT (remote), PRD_EIO_SOCKET_KEY);
  return socket;
}

typedef enum
{
  PEER_QUIET, /* nothing to read */
  PEER_SENT,  /* bytes to read: the next request, pipelined (or TLS records) */
  PEER_GONE,  /* end of stream, reset, or an error */
} PeerState;

/* What the client did on @socket, as far as it shows without reading. */
static PeerState
peek_peer (GSocket *socket)
{
  int fd = g_socket_get_fd (socket);
  char byte;
  gssize n;

  n = recv (fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0)
    {
#ifdef TCP_INFO
      struct tcp_info info;
      socklen_t len = sizeof info;

      /* Bytes waiting hide an end of stream behind them (a TLS client's
       * close_notify, a request pipelined before a half-close): the
       * connection's state tells. */
      if (getsockopt (fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 &&
          info.tcpi_state == TCP_CLOSE_WAIT)
        return PEER_GONE;
#endif
      return PEER_SENT;
    }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return PEER_QUIET;
  return PEER_GONE;
}

static void
forget_get_socket (PrdEioSocket *self)
{
  g_clear_object (&self->poll_get_socket);
}

static void
on_get_finished (SoupServerMessage *msg, gpointer user_data)
{
  PrdEioSocket *self = user_data;

  g_signal_handlers_disconnect_by_func (msg, on_get_finished, self);

  if (msg == self->poll_get)
    {
      /* The client went away while its GET was held. */
      forget_get_socket (self);
      g_clear_object (&self->poll_get);
      socket_close (self, "transport close", CLOSE_ERROR);
    }
}

static void
inflight_forget (InFlight *inflight)
{
  if (inflight->owner == NULL)
    return;
  inflight->owner->inflight_bytes -= inflight->bytes;
  g_queue_delete_link (&inflight->owner->inflight, inflight->link);
  inflight->owner = NULL;
  inflight->link = NULL;
}

static void
on_inflight_finished (SoupServerMessage *msg, gpointer user_data)
{
  InFlight *inflight = user_data;

  g_signal_handlers_disconnect_by_data (msg, inflight);
  inflight_forget (inflight);
  g_source_destroy (inflight->deadline);
  g_source_unref (inflight->deadline);
  g_clear_object (&inflight->socket);
  g_object_unref (inflight->msg);
  g_free (inflight);
}

static gboolean
on_inflight_deadline (gpointer user_data)
{
  InFlight *inflight = user_data;

  g_debug ("polling response of %" G_GSIZE_FORMAT " bytes not taken in time: closing its "
           "connection",
           inflight->bytes);
  /* libsoup's next write fails, and the message finishes. */
  if (inflight->socket != NULL)
    g_socket_shutdown (inflight->socket, TRUE, TRUE, NULL);
  return G_SOURCE_REMOVE;
}

/* @msg has its response: counted until it is written. */
static void
inflight_add (PrdEioSocket *self, SoupServerMessage *msg, gsize bytes)
{
  InFlight *inflight = g_new0 (InFlight, 1);
  GSocket *socket = message_get_socket (msg);

  inflight->owner = self;
  inflight->msg = g_object_ref (msg);
  inflight->socket = socket != NULL ? g_object_ref (socket) : NULL;
  inflight->bytes = bytes;
  inflight->deadline = g_timeout_source_new (
      (guint) MIN ((guint64) self->config.ping_interval + (guint64) self->config.ping_timeout,
                   (guint64) G_MAXUINT));
  g_source_set_callback (inflight->deadline, on_inflight_deadline, inflight, NULL);
  g_source_set_static_name (inflight->deadline, "[prdhub] polling response deadline");
  g_source_attach (inflight->deadline, g_main_context_get_thread_default ());
  g_queue_push_tail (&self->inflight, inflight);
  inflight->link = self->inflight.tail;
  self->inflight_bytes += bytes;
  g_signal_connect (msg, "finished", G_CALLBACK (on_inflight_finished), inflight);
  g_signal_connect (msg, "disconnected", G_CALLBACK (on_inflight_finished), inflight);
}

/* The session is gone: its responses still being written go on, on their
 * own deadlines. */
static void
inflight_detach_all (PrdEioSocket *self)
{
  while (!g_queue_is_empty (&self->inflight))
    inflight_forget (g_queue_peek_head (&self->inflight));
}

/* Answers the held GET with @tail ("1", "6") or, when @tail is NULL, with
 * everything queued. */
static void
answer_get (PrdEioSocket *self, const char *tail)
{
  g_autoptr (SoupServerMessage) msg = NULL;
  g_autoptr (GString) payload = NULL;
  OutItem *item;
  gsize len;

  g_assert (self->poll_get != NULL);

  /* The client may have closed the connection while the GET was held:
   * then the packets are not written into it, the session closes instead. */
  if (tail == NULL && self->poll_get_socket != NULL &&
      peek_peer (self->poll_get_socket) == PEER_GONE)
    {
      g_debug ("socket %s: the connection of its held GET was closed", self->id);
      g_object_ref (self);
      socket_close (self, "transport close", CLOSE_ERROR);
      g_object_unref (self);
      return;
    }

  msg = g_steal_pointer (&self->poll_get);
  payload = g_string_new (NULL);
  forget_get_socket (self);

  while ((item = g_queue_pop_head (&self->queue)) != NULL)
    {
      prd_eio_payload_append (payload, item->packet);
      out_item_free (item);
    }
  self->queued_bytes = 0;

  if (tail != NULL)
    {
      if (payload->len > 0)
        g_string_append_c (payload, PRD_EIO_RECORD_SEPARATOR);
      g_string_append (payload, tail);
    }

  len = payload->len;
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  set_no_store (msg);
  soup_server_message_set_response (msg, "text/plain; charset=UTF-8", SOUP_MEMORY_TAKE,
                                    g_string_free (g_steal_pointer (&payload), FALSE), len);

  /* Still our memory until libsoup has written it. */
  g_signal_handlers_disconnect_by_func (msg, on_get_finished, self);
  inflight_add (self, msg, len);

  soup_server_message_unpause (msg);
}

static void
reject_get (PrdEioSocket *self)
{
  g_autoptr (SoupServerMessage) msg = g_steal_pointer (&self->poll_get);

  forget_get_socket (self);
  g_signal_handlers_disconnect_by_func (msg, on_get_finished, self);
  soup_server_message_set_status (msg, SOUP_STATUS_BAD_REQUEST, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC,
                                    "{\"code\":3,\"message\":\"Bad request\"}", 34);
  soup_server_message_unpause (msg);
}

/* ------------------------------------------------------------------ */
/* WebSocket output                                                    */

static void
ws_send_packet (PrdEioWsLink *link, const PrdEioPacket *packet)
{
  if (packet->binary)
    {
      prd_eio_ws_link_send (link, SOUP_WEBSOCKET_DATA_BINARY, packet->data);
    }
  else
    {
      g_autoptr (GBytes) frame = prd_eio_packet_encode_text (packet);

      prd_eio_ws_link_send (link, SOUP_WEBSOCKET_DATA_TEXT, frame);
    }
}

static void teardown (PrdEioSocket *self, CloseMode mode);

/* Everything queued goes to the link, which writes it as the connection
 * takes it. */
static void
flush_websocket (PrdEioSocket *self)
{
  OutItem *item;

  if (!prd_eio_ws_link_is_open (self->ws))
    return;

  while ((item = g_queue_pop_head (&self->queue)) != NULL)
    {
      self->queued_bytes -= item->cost;
      ws_send_packet (self->ws, item->packet);
      out_item_free (item);
    }

  if (self->state == STATE_CLOSING)
    teardown (self, CLOSE_FLUSH);
}

/* ------------------------------------------------------------------ */

static void
socket_flush (PrdEioSocket *self)
{
  if (self->state == STATE_CLOSED)
    return;

  if (self->websocket)
    flush_websocket (self);
  else if (self->poll_get != NULL && !g_queue_is_empty (&self->queue))
    answer_get (self, NULL);
}

static gboolean
flush_idle_cb (gpointer user_data)
{
  PrdEioSocket *self = user_data;

  self->flush_idle_id = 0;
  socket_flush (self);
  return G_SOURCE_REMOVE;
}

/* Takes ownership of @packet. Returns FALSE if the socket is not open or the
 * packet does not fit in the write buffer (the socket is then closed). */
static gboolean
enqueue (PrdEioSocket *self, PrdEioPacket *packet)
{
  OutItem *item;
  guint64 buffered;
  gsize cost;

  if (self->state != STATE_OPEN || self->overflowed)
    {
      prd_eio_packet_free (packet);
      return FALSE;
    }

  cost = packet_cost (self, packet);
  buffered = prd_eio_socket_get_buffered_amount (self);
  if (buffered + cost > self->config.max_write_buffer)
    {
      prd_eio_packet_free (packet);
      g_debug ("socket %s: write buffer overflow (%" G_GUINT64_FORMAT " bytes queued)", self->id,
               buffered);
      self->ws_close_code = SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION;
      prd_metric_inc (slow_consumers_dropped, NULL);
      self->overflowed = TRUE;
      prd_timer_queue_schedule_ms (self->timers, &self->overflow_timer, 0);
      return FALSE;
    }

  item = g_new0 (OutItem, 1);
  item->packet = packet;
  item->cost = cost;
  g_queue_push_tail (&self->queue, item);
  self->queued_bytes += cost;

  if (self->websocket)
    {
      flush_websocket (self);
    }
  else if (self->poll_get != NULL && self->flush_idle_id == 0)
    {
      /* Batch what is sent in one main-loop iteration into one response. */
      self->flush_idle_id = g_idle_add_full (G_PRIORITY_DEFAULT, flush_idle_cb, self, NULL);
    }

  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Heartbeat                                                          */

static void
on_pong_timeout (PrdTimer *timer, gpointer user_data)
{
  PrdEioSocket *self = user_data;

  socket_close (self, "ping timeout", CLOSE_ERROR);
}

static void
arm_pong_timeout (PrdEioSocket *self, gint64 from)
{
  self->pong_deadline = from + (gint64) self->config.ping_timeout * 1000;
  prd_timer_queue_schedule (self->high_timers, &self->pong_timer, self->pong_deadline);
}

static void
on_ping_timer (PrdTimer *timer, gpointer user_data)
{
  PrdEioSocket *self = user_data;

  self->awaiting_pong = TRUE;
  self->pong_refreshed = FALSE;
  /* In engine.io 6 the timeout runs from the moment the ping is sent; count
   * from when it was due, so that a late main loop does not add up. */
  arm_pong_timeout (self, self->ping_due);
  enqueue (self, prd_eio_packet_new (PRD_EIO_PACKET_PING, NULL, 0));
}

static void
schedule_ping (PrdEioSocket *self)
{
  self->ping_due = g_get_monotonic_time () + (gint64) self->config.ping_interval * 1000;
  prd_timer_queue_schedule (self->high_timers, &self->ping_timer, self->ping_due);
}

static void
stop_timers (PrdEioSocket *self)
{
  prd_timer_cancel (&self->ping_timer);
  prd_timer_cancel (&self->pong_timer);
  g_clear_handle_id (&self->flush_idle_id, g_source_remove);
  self->awaiting_pong = FALSE;
}

/* ------------------------------------------------------------------ */
/* Incoming packets                                                   */

static void
handle_packet (PrdEioSocket *self, const PrdEioPacket *packet)
{
  if (self->state != STATE_OPEN)
    return;

  if (packet->type != PRD_EIO_PACKET_PONG && self->awaiting_pong && !self->pong_refreshed)
    {
      /* A client busy sending may see the ping late: any traffic while the
       * pong is awaited extends the timeout, once (as engine.io 6 does). */
      self->pong_refreshed = TRUE;
      arm_pong_timeout (self, g_get_monotonic_time ());
    }

  switch (packet->type)
    {
      case PRD_EIO_PACKET_PONG:
        if (self->awaiting_pong)
          {
            self->awaiting_pong = FALSE;
            prd_timer_cancel (&self->pong_timer);
            schedule_ping (self);
          }
        break;

      case PRD_EIO_PACKET_MESSAGE:
        if (packet->binary)
          {
            g_signal_emit (self, signals[SIGNAL_BINARY_MESSAGE], 0, packet->data);
          }
        else
          {
            gsize len;
            const char *text = g_bytes_get_data (packet->data, &len);
            g_autofree char *copy = g_strndup (text != NULL ? text : "", len);

            g_signal_emit (self, signals[SIGNAL_TEXT_MESSAGE], 0, copy, len);
          }
        break;

      case PRD_EIO_PACKET_CLOSE:
        socket_close (self, "transport close", CLOSE_CLIENT);
        break;

      case PRD_EIO_PACKET_NOOP:
        break;

      case PRD_EIO_PACKET_PING:
        /* In v4 only the server pings (the probe goes to the probe socket). */
        g_debug ("socket %s: invalid heartbeat direction", self->id);
        self->ws_close_code = SOUP_WEBSOCKET_CLOSE_PROTOCOL_ERROR;
        socket_close (self, "transport error", CLOSE_ERROR);
        break;

      case PRD_EIO_PACKET_OPEN:
      case PRD_EIO_PACKET_UPGRADE:
      default:
        g_debug ("socket %s: unexpected packet type %d", self->id, (int) packet->type);
        self->ws_close_code = SOUP_WEBSOCKET_CLOSE_PROTOCOL_ERROR;
        socket_close (self, "parse error", CLOSE_ERROR);
        break;
    }
}

/* ------------------------------------------------------------------ */
/* WebSocket input                                                    */

/* Closes @link (if still open) and drops our reference: the link lives on
 * its I/O thread until libsoup has finished the closing handshake, or given
 * up after its own timeout. */
static void
ws_close_and_release (PrdEioWsLink *link, gushort code, gboolean flush, guint flush_ms)
{
  prd_eio_ws_link_close (link, code, flush, flush_ms);
  prd_eio_ws_link_unref (link);
}

static gboolean
check_incoming_size (PrdEioSocket *self, GBytes *message)
{
  /* libsoup checks frame sizes before inflating and per fragment; the
   * message it hands us is what counts. */
  return g_bytes_get_size (message) <= self->config.max_payload;
}

/* Too many bytes without a complete message: a message being assembled
 * from fragments is already past max-payload. */
static void
on_ws_overflow (PrdEioWsLink *link, gpointer user_data)
{
  PrdEioSocket *self = user_data;

  self->ws_close_code = SOUP_WEBSOCKET_CLOSE_TOO_BIG;
  socket_close (self, "transport error", CLOSE_ERROR);
}

static void
on_ws_message (PrdEioWsLink *link, int type, GBytes *message, gpointer user_data)
{
  PrdEioSocket *self = user_data;
  g_autoptr (PrdEioPacket) packet = NULL;
  g_autoptr (GError) error = NULL;

  if (!check_incoming_size (self, message))
    {
      self->ws_close_code = SOUP_WEBSOCKET_CLOSE_TOO_BIG;
      socket_close (self, "transport error", CLOSE_ERROR);
      return;
    }

  if (type == SOUP_WEBSOCKET_DATA_BINARY)
    {
      packet = prd_eio_packet_new_binary (message);
    }
  else
    {
      gsize len;
      const char *data = g_bytes_get_data (message, &len);

      packet = prd_eio_packet_decode_string (data, len, &error);
      if (packet == NULL)
        {
          g_debug ("socket %s: %s", self->id, error->message);
          self->ws_close_code = SOUP_WEBSOCKET_CLOSE_PROTOCOL_ERROR;
          socket_close (self, "parse error", CLOSE_ERROR);
          return;
        }
    }

  g_object_ref (self);
  handle_packet (self, packet);
  g_object_unref (self);
}

static void
on_ws_closed (PrdEioWsLink *link, gpointer user_data)
{
  PrdEioSocket *self = user_data;

  if (self->state == STATE_OPEN)
    socket_close (self, "transport close", CLOSE_CLIENT);
  else if (self->state == STATE_CLOSING)
    teardown (self, CLOSE_ERROR);
}

static const PrdEioWsLinkHandler ws_handler = {
  .message = on_ws_message,
  .closed = on_ws_closed,
  .overflow = on_ws_overflow,
};

static void
attach_websocket (PrdEioSocket *self, PrdEioWsLink *link)
{
  self->ws = link;
  self->websocket = TRUE;
  prd_eio_ws_link_set_handler (link, &ws_handler, self);
}

static void
detach_websocket (PrdEioSocket *self, CloseMode mode)
{
  PrdEioWsLink *link = g_steal_pointer (&self->ws);

  if (link == NULL)
    return;
  /* A server-side close delivers what was sent before it, as long as the
   * client keeps reading; the others drop it. */
  ws_close_and_release (link, self->ws_close_code, mode == CLOSE_FLUSH, self->config.ping_timeout);
}

/* ------------------------------------------------------------------ */
/* Upgrade                                                            */

static void
abort_upgrade (PrdEioSocket *self, gushort code)
{
  PrdEioWsLink *probe = g_steal_pointer (&self->probe_ws);

  prd_timer_cancel (&self->upgrade_timer);
  prd_timer_cancel (&self->upgrade_noop_timer);
  self->probe_seen = FALSE;
  if (probe == NULL)
    return;
  ws_close_and_release (probe, code, FALSE, 0);
}

static void
on_upgrade_timeout (PrdTimer *timer, gpointer user_data)
{
  PrdEioSocket *self = user_data;

  g_debug ("socket %s: upgrade timed out", self->id);
  abort_upgrade (self, SOUP_WEBSOCKET_CLOSE_NORMAL);
}

#define UPGRADE_NOOP_MS 100

static void
on_upgrade_noop (PrdTimer *timer, gpointer user_data)
{
  PrdEioSocket *self = user_data;

  /* Again and again until the upgrade completes or fails. */
  prd_timer_queue_schedule_ms (self->timers, timer, UPGRADE_NOOP_MS);
  if (self->poll_get != NULL)
    answer_get (self, g_queue_is_empty (&self->queue) ? "6" : NULL);
}

static void
complete_upgrade (PrdEioSocket *self)
{
  PrdEioWsLink *link = g_steal_pointer (&self->probe_ws);

  prd_timer_cancel (&self->upgrade_timer);
  prd_timer_cancel (&self->upgrade_noop_timer);
  self->probe_seen = FALSE;

  /* The client sent "5" after its last poll returned: a GET held now was
   * sent on an upgraded session. */
  if (self->poll_get != NULL)
    reject_get (self);
  g_clear_handle_id (&self->flush_idle_id, g_source_remove);

  attach_websocket (self, link);
  recompute_queue_cost (self);
  flush_websocket (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TRANSPORT]);
  if (self->owner != NULL)
    self->owner->upgraded (self, self->owner_data);
}

static void
on_probe_message (PrdEioWsLink *link, int type, GBytes *message, gpointer user_data)
{
  PrdEioSocket *self = user_data;
  g_autoptr (PrdEioPacket) packet = NULL;
  gboolean is_probe;
  gsize len;
  const char *data;

  if (!check_incoming_size (self, message))
    {
      abort_upgrade (self, SOUP_WEBSOCKET_CLOSE_TOO_BIG);
      return;
    }
  if (type != SOUP_WEBSOCKET_DATA_TEXT)
    {
      abort_upgrade (self, SOUP_WEBSOCKET_CLOSE_PROTOCOL_ERROR);
      return;
    }

  data = g_bytes_get_data (message, &len);
  packet = prd_eio_packet_decode_text (data, len, NULL);
  is_probe =
      packet != NULL && packet->type == PRD_EIO_PACKET_PING && g_bytes_get_size (packet->data) == 5;
  if (is_probe && self->probe_seen)
    {
      /* A client probes once. Answering every probe of one that does not
       * read would queue answers without limit. */
      g_debug ("socket %s: a second probe", self->id);
      abort_upgrade (self, SOUP_WEBSOCKET_CLOSE_PROTOCOL_ERROR);
    }
  else if (is_probe)
    {
      prd_eio_ws_link_send_text (link, "3probe");
      self->probe_seen = TRUE;
      /* Make the client's pending poll return so it can send "5"; like
       * engine.io, on a 100 ms tick, which also lets a "5" already on its
       * way arrive before a GET sent after it is answered. */
      if (!prd_timer_is_scheduled (&self->upgrade_noop_timer))
        prd_timer_queue_schedule_ms (self->timers, &self->upgrade_noop_timer, UPGRADE_NOOP_MS);
    }
  else if (packet != NULL && packet->type == PRD_EIO_PACKET_UPGRADE)
    {
      g_object_ref (self);
      complete_upgrade (self);
      g_object_unref (self);
    }
  else
    {
      g_debug ("socket %s: invalid upgrade packet", self->id);
      abort_upgrade (self, SOUP_WEBSOCKET_CLOSE_PROTOCOL_ERROR);
    }
}

static void
on_probe_overflow (PrdEioWsLink *link, gpointer user_data)
{
  abort_upgrade (user_data, SOUP_WEBSOCKET_CLOSE_TOO_BIG);
}

static void
on_probe_closed (PrdEioWsLink *link, gpointer user_data)
{
  abort_upgrade (user_data, SOUP_WEBSOCKET_CLOSE_NORMAL);
}

static const PrdEioWsLinkHandler probe_handler = {
  .message = on_probe_message,
  .closed = on_probe_closed,
  .overflow = on_probe_overflow,
};

/* ------------------------------------------------------------------ */
/* Close                                                              */

static void
teardown (PrdEioSocket *self, CloseMode mode)
{
  if (self->state == STATE_CLOSED)
    return;

  self->state = STATE_CLOSED;
  stop_timers (self);
  prd_timer_cancel (&self->close_timer);
  prd_timer_cancel (&self->overflow_timer);
  abort_upgrade (self, SOUP_WEBSOCKET_CLOSE_GOING_AWAY);

  if (mode != CLOSE_FLUSH)
    queue_clear (self);

  if (self->poll_get != NULL)
    answer_get (self, mode == CLOSE_CLIENT ? "6" : "1");
  queue_clear (self);

  detach_websocket (self, mode);

  if (self->owner != NULL)
    {
      const PrdEioSocketOwner *owner = self->owner;

      self->owner = NULL;
      owner->finished (self, self->owner_data);
    }
}

static void
on_close_timeout (PrdTimer *timer, gpointer user_data)
{
  PrdEioSocket *self = user_data;

  /* The client never came back for the last packets. */
  teardown (self, CLOSE_ERROR);
}

static void
on_overflow (PrdTimer *timer, gpointer user_data)
{
  PrdEioSocket *self = user_data;

  socket_close (self, "write buffer overflow", CLOSE_ERROR);
}

static void
socket_close (PrdEioSocket *self, const char *reason, CloseMode mode)
{
  if (self->state == STATE_CLOSED)
    return;
  if (self->state == STATE_CLOSING)
    {
      if (mode != CLOSE_FLUSH)
        teardown (self, mode);
      return;
    }

  g_object_ref (self);

  self->state = STATE_CLOSING;
  stop_timers (self);
  abort_upgrade (self, SOUP_WEBSOCKET_CLOSE_GOING_AWAY);

  g_debug ("socket %s closed: %s", self->id, reason);
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, reason);

  self->closing_mode = mode;
  if (self->state != STATE_CLOSING || mode == CLOSE_ERROR ||
      (self->websocket && mode == CLOSE_CLIENT))
    {
      teardown (self, mode);
    }
  else if (mode == CLOSE_CLIENT)
    {
      /* A client that closes over polling may have a GET on its way that
       * was sent just before its "1"; that GET gets the noop it would have
       * got had it arrived first. */
      queue_clear (self);
      if (self->poll_get != NULL)
        teardown (self, mode);
      else
        prd_timer_queue_schedule_ms (self->timers, &self->close_timer, self->config.ping_timeout);
    }
  else if (self->websocket)
    {
      if (g_queue_is_empty (&self->queue))
        teardown (self, mode);
      else
        prd_timer_queue_schedule_ms (self->timers, &self->close_timer, self->config.ping_timeout);
    }
  else if (self->poll_get != NULL && g_queue_is_empty (&self->queue))
    {
      teardown (self, mode);
    }
  else
    {
      /* The last packets and the close packet go out in separate responses
       * (as engine.io does): socket.io-client handles a close packet before
       * the packets decoded from the same payload, so it would drop them.
       * Keep the session until the next GET collects the close packet, but
       * not for longer than a client may be silent. */
      if (self->poll_get != NULL)
        answer_get (self, NULL);
      prd_timer_queue_schedule_ms (self->timers, &self->close_timer,
                                   self->config.ping_interval + self->config.ping_timeout);
    }

  g_object_unref (self);
}

/* ------------------------------------------------------------------ */
/* GObject                                                            */

static void
prd_eio_socket_dispose (GObject *object)
{
  PrdEioSocket *self = PRD_EIO_SOCKET (object);

  self->owner = NULL;
  stop_timers (self);
  prd_timer_cancel (&self->close_timer);
  prd_timer_cancel (&self->overflow_timer);
  prd_timer_cancel (&self->upgrade_timer);
  abort_upgrade (self, SOUP_WEBSOCKET_CLOSE_GOING_AWAY);
  if (self->poll_get != NULL)
    answer_get (self, "1");
  inflight_detach_all (self);
  if (self->poll_post != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->poll_post, self);
      g_clear_object (&self->poll_post);
    }
  detach_websocket (self, CLOSE_ERROR);
  queue_clear (self);
  self->state = STATE_CLOSED;

  G_OBJECT_CLASS (prd_eio_socket_parent_class)->dispose (object);
}

static void
prd_eio_socket_finalize (GObject *object)
{
  PrdEioSocket *self = PRD_EIO_SOCKET (object);

  g_free (self->id);
  g_free (self->remote_address);
  g_clear_pointer (&self->high_timers, prd_timer_queue_unref);
  g_clear_pointer (&self->timers, prd_timer_queue_unref);

  G_OBJECT_CLASS (prd_eio_socket_parent_class)->finalize (object);
}

static void
prd_eio_socket_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PrdEioSocket *self = PRD_EIO_SOCKET (object);

  switch (prop_id)
    {
      case PROP_TRANSPORT:
        g_value_set_string (value, prd_eio_socket_get_transport_name (self));
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* The signals' class handlers (run first): the receiver. */
static void
receive_text_message (PrdEioSocket *self, const char *text, gulong len)
{
  if (self->receiver != NULL && self->receiver->text_message != NULL)
    self->receiver->text_message (self, text, len, self->receiver_data);
}

static void
receive_binary_message (PrdEioSocket *self, GBytes *data)
{
  if (self->receiver != NULL && self->receiver->binary_message != NULL)
    self->receiver->binary_message (self, data, self->receiver_data);
}

static void
receive_closed (PrdEioSocket *self, const char *reason)
{
  if (self->receiver != NULL && self->receiver->closed != NULL)
    self->receiver->closed (self, reason, self->receiver_data);
}

static void
prd_eio_socket_class_init (PrdEioSocketClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  slow_consumers_dropped = prd_metric_counter (
      "prdhub_slow_consumers_dropped_total",
      "Sessions closed because more than [engine] max-write-buffer bytes waited for them.", NULL);

  object_class->dispose = prd_eio_socket_dispose;
  object_class->finalize = prd_eio_socket_finalize;
  object_class->get_property = prd_eio_socket_get_property;

  /**
   * PrdEioSocket:transport:
   *
   * "polling" or "websocket"; notified when the session upgrades.
   */
  properties[PROP_TRANSPORT] =
      g_param_spec_string ("transport", NULL, NULL, "polling",
                           G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* The receiver is the class handler, so that it runs before the
   * handlers, and whoever emits the signals. */
  signals[SIGNAL_TEXT_MESSAGE] =
      g_signal_new_class_handler ("text-message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_FIRST,
                                  G_CALLBACK (receive_text_message), NULL, NULL, NULL, G_TYPE_NONE,
                                  2, G_TYPE_STRING, G_TYPE_ULONG);
  signals[SIGNAL_BINARY_MESSAGE] = g_signal_new_class_handler (
      "binary-message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_FIRST,
      G_CALLBACK (receive_binary_message), NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BYTES);
  signals[SIGNAL_CLOSED] = g_signal_new_class_handler (
      "closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_FIRST, G_CALLBACK (receive_closed), NULL,
      NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
prd_eio_socket_init (PrdEioSocket *self)
{
  g_queue_init (&self->queue);
  g_queue_init (&self->inflight);
  self->ws_close_code = SOUP_WEBSOCKET_CLOSE_NORMAL;
  self->high_timers = prd_timer_queue_get_shared (G_PRIORITY_HIGH);
  self->timers = prd_timer_queue_get_shared (G_PRIORITY_DEFAULT);
  prd_timer_init (&self->ping_timer, on_ping_timer, self);
  prd_timer_init (&self->pong_timer, on_pong_timeout, self);
  prd_timer_init (&self->close_timer, on_close_timeout, self);
  prd_timer_init (&self->overflow_timer, on_overflow, self);
  prd_timer_init (&self->upgrade_timer, on_upgrade_timeout, self);
  prd_timer_init (&self->upgrade_noop_timer, on_upgrade_noop, self);
}

/* ------------------------------------------------------------------ */
/* Internal API (prd-eio-private.h)                                   */

PrdEioSocket *
prd_eio_socket_new_internal (const char *id, const char *remote_address, const PrdEioConfig *config)
{
  PrdEioSocket *self = g_object_new (PRD_TYPE_EIO_SOCKET, NULL);

  self->id = g_strdup (id);
  self->remote_address = g_strdup (remote_address);
  self->config = *config;
  return self;
}

void
prd_eio_socket_set_owner (PrdEioSocket *self, const PrdEioSocketOwner *owner, gpointer user_data)
{
  self->owner = owner;
  self->owner_data = owner != NULL ? user_data : NULL;
}

gboolean
prd_eio_socket_is_websocket (PrdEioSocket *self)
{
  return self->websocket;
}

gboolean
prd_eio_socket_is_finished (PrdEioSocket *self)
{
  return self->state == STATE_CLOSED;
}

gboolean
prd_eio_socket_is_used (PrdEioSocket *self)
{
  return self->used;
}

void
prd_eio_socket_set_used (PrdEioSocket *self)
{
  self->used = TRUE;
}

GList *
prd_eio_socket_get_unused_link (PrdEioSocket *self, gboolean of_address)
{
  GList *link = &self->unused_links[of_address ? 1 : 0];

  link->data = self;
  return link;
}

void
prd_eio_socket_check_heartbeat (PrdEioSocket *self)
{
  /* A request can be dispatched in the same main-loop iteration as the
   * timeout that should have ended the session before it arrived. */
  if (self->state == STATE_OPEN && self->awaiting_pong &&
      g_get_monotonic_time () >= self->pong_deadline)
    {
      prd_timer_cancel (&self->pong_timer);
      socket_close (self, "ping timeout", CLOSE_ERROR);
    }
}

void
prd_eio_socket_start_polling (PrdEioSocket *self)
{
  schedule_ping (self);
}

void
prd_eio_socket_handle_get (PrdEioSocket *self, SoupServerMessage *msg)
{
  if (self->poll_get != NULL)
    {
      /* Two GETs at once: the client is confused or hostile. */
      soup_server_message_set_status (msg, SOUP_STATUS_BAD_REQUEST, NULL);
      soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC,
                                        "{\"code\":3,\"message\":\"Bad request\"}", 34);
      socket_close (self, "transport error", CLOSE_ERROR);
      return;
    }

  /* Answered or not, it is ours now; the status is set before pausing so
   * that libsoup does not take a held GET for a failed WebSocket handshake. */
  self->poll_get = g_object_ref (msg);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_pause (msg);
  g_signal_connect (msg, "finished", G_CALLBACK (on_get_finished), self);

  if (self->state == STATE_CLOSING && g_queue_is_empty (&self->queue))
    {
      teardown (self, self->closing_mode);
    }
  else if (!g_queue_is_empty (&self->queue))
    {
      answer_get (self, NULL);
    }
  else
    {
      GSocket *socket = message_get_socket (msg);

      /* Held: its connection is looked at before it is answered (see the
       * top of this file). An in-process message has no socket. */
      if (socket != NULL)
        g_set_object (&self->poll_get_socket, socket);
    }
}

static void
on_post_finished (SoupServerMessage *msg, gpointer user_data)
{
  PrdEioSocket *self = user_data;

  g_signal_handlers_disconnect_by_func (msg, on_post_finished, self);
  if (msg == self->poll_post)
    g_clear_object (&self->poll_post);
}

gboolean
prd_eio_socket_begin_post (PrdEioSocket *self, SoupServerMessage *msg)
{
  if (self->poll_post != NULL)
    return FALSE;

  self->poll_post = g_object_ref (msg);
  g_signal_connect (msg, "finished", G_CALLBACK (on_post_finished), self);
  /* A POST refused while its body arrives (prd_eio_refuse_now()) never
   * reports "finished". */
  g_signal_connect (msg, "disconnected", G_CALLBACK (on_post_finished), self);
  return TRUE;
}

void
prd_eio_socket_handle_post (PrdEioSocket *self, SoupServerMessage *msg, const char *body, gsize len)
{
  g_autoptr (GPtrArray) packets = NULL;
  g_autoptr (GError) error = NULL;

  packets = prd_eio_payload_decode (body, len, &error);
  if (packets == NULL)
    {
      g_debug ("socket %s: %s", self->id, error->message);
      soup_server_message_set_status (msg, SOUP_STATUS_BAD_REQUEST, NULL);
      soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC,
                                        "{\"code\":3,\"message\":\"Bad request\"}", 34);
      socket_close (self, "parse error", CLOSE_ERROR);
      return;
    }

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  set_no_store (msg);
  soup_server_message_set_response (msg, "text/html", SOUP_MEMORY_STATIC, "ok", 2);

  g_object_ref (self);
  for (guint i = 0; i < packets->len && self->state == STATE_OPEN; i++)
    handle_packet (self, g_ptr_array_index (packets, i));
  g_object_unref (self);
}

void
prd_eio_socket_start_websocket (PrdEioSocket *self, PrdEioWsLink *link, const char *open_packet)
{
  attach_websocket (self, prd_eio_ws_link_ref (link));
  prd_eio_ws_link_send_text (link, open_packet);
  schedule_ping (self);
}

void
prd_eio_socket_offer_upgrade (PrdEioSocket *self, PrdEioWsLink *link)
{
  if (self->state != STATE_OPEN || self->websocket || self->probe_ws != NULL)
    {
      /* engine.io accepts a second WebSocket for the session and closes it. */
      prd_eio_ws_link_close (link, SOUP_WEBSOCKET_CLOSE_NORMAL, FALSE, 0);
      return;
    }

  self->probe_ws = prd_eio_ws_link_ref (link);
  prd_eio_ws_link_set_handler (link, &probe_handler, self);
  prd_timer_queue_schedule_ms (self->timers, &self->upgrade_timer, self->config.upgrade_timeout);
}

guint64
prd_eio_websocket_hard_limit (guint64 max_payload)
{
  if (max_payload > G_MAXUINT64 / 2)
    return G_MAXUINT64;
  return max_payload * 2 + 1024;
}

/* ------------------------------------------------------------------ */
/* Public API                                                         */

/**
 * prd_eio_socket_set_receiver:
 * @self: a session
 * @receiver: (nullable): the functions, which must outlive their use; %NULL
 *   to stop receiving
 * @user_data: passed to them
 *
 * Sets the one receiver of @self (see #PrdEioSocketReceiver).
 */
void
prd_eio_socket_set_receiver (PrdEioSocket *self,
                             const PrdEioSocketReceiver *receiver,
                             gpointer user_data)
{
  g_return_if_fail (PRD_IS_EIO_SOCKET (self));

  self->receiver = receiver;
  self->receiver_data = receiver != NULL ? user_data : NULL;
}

const char *
prd_eio_socket_get_id (PrdEioSocket *self)
{
  g_return_val_if_fail (PRD_IS_EIO_SOCKET (self), NULL);
  return self->id;
}

const char *
prd_eio_socket_get_transport_name (PrdEioSocket *self)
{
  g_return_val_if_fail (PRD_IS_EIO_SOCKET (self), NULL);
  return self->websocket ? "websocket" : "polling";
}

const char *
prd_eio_socket_get_remote_address (PrdEioSocket *self)
{
  g_return_val_if_fail (PRD_IS_EIO_SOCKET (self), NULL);
  return self->remote_address;
}

gboolean
prd_eio_socket_is_open (PrdEioSocket *self)
{
  g_return_val_if_fail (PRD_IS_EIO_SOCKET (self), FALSE);
  return self->state == STATE_OPEN;
}

guint64
prd_eio_socket_get_buffered_amount (PrdEioSocket *self)
{
  g_return_val_if_fail (PRD_IS_EIO_SOCKET (self), 0);
  return self->queued_bytes + self->inflight_bytes +
         (self->ws != NULL ? prd_eio_ws_link_get_buffered (self->ws) : 0);
}

GPtrArray *
prd_eio_socket_take_queued (PrdEioSocket *self)
{
  GPtrArray *packets = g_ptr_array_new_with_free_func ((GDestroyNotify) prd_eio_packet_free);
  OutItem *item;

  g_return_val_if_fail (PRD_IS_EIO_SOCKET (self), packets);

  while ((item = g_queue_pop_head (&self->queue)) != NULL)
    {
      g_ptr_array_add (packets, g_steal_pointer (&item->packet));
      out_item_free (item);
    }
  self->queued_bytes = 0;
  return packets;
}

gboolean
prd_eio_socket_send_text (PrdEioSocket *self, const char *text, gssize len)
{
  PrdEioPacket *packet;

  g_return_val_if_fail (PRD_IS_EIO_SOCKET (self), FALSE);
  g_return_val_if_fail (text != NULL, FALSE);

  packet = prd_eio_packet_new_message (text, len);
  return packet != NULL && enqueue (self, packet);
}

gboolean
prd_eio_socket_send_message (PrdEioSocket *self, const PrdEioPacket *message)
{
  g_return_val_if_fail (PRD_IS_EIO_SOCKET (self), FALSE);
  g_return_val_if_fail (message != NULL && message->frame != NULL, FALSE);

  return enqueue (self, prd_eio_packet_copy (message));
}

gboolean
prd_eio_socket_send_binary (PrdEioSocket *self, GBytes *data)
{
  g_return_val_if_fail (PRD_IS_EIO_SOCKET (self), FALSE);
  g_return_val_if_fail (data != NULL, FALSE);

  return enqueue (self, prd_eio_packet_new_binary (data));
}

void
prd_eio_socket_close (PrdEioSocket *self, const char *reason)
{
  g_return_if_fail (PRD_IS_EIO_SOCKET (self));

  socket_close (self, reason != NULL ? reason : "forced close", CLOSE_FLUSH);
}

void
prd_eio_socket_abort (PrdEioSocket *self, const char *reason)
{
  g_return_if_fail (PRD_IS_EIO_SOCKET (self));

  socket_close (self, reason != NULL ? reason : "forced close", CLOSE_ERROR);
}
