/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <libsoup/soup.h>

#include "prd-eio-packet.h"
#include "prd-eio-socket.h"
#include "prd-eio-ws-link.h"

G_BEGIN_DECLS

/* What PrdEioServer hands each socket: a copy of its settings at the time
 * the session was created. */
typedef struct
{
  guint ping_interval;
  guint ping_timeout;
  guint upgrade_timeout;
  guint64 max_payload;
  guint64 max_write_buffer;
} PrdEioConfig;

/* What a session tells the server that made it. */
typedef struct
{
  /* The session moved to WebSocket (an upgrade completed). */
  void (*upgraded) (PrdEioSocket *socket, gpointer user_data);
  /* Once, when the session is completely torn down and its id may be
   * forgotten (after "closed", once the last queued packets were flushed);
   * nothing is called after it. */
  void (*finished) (PrdEioSocket *socket, gpointer user_data);
} PrdEioSocketOwner;

PrdEioSocket *prd_eio_socket_new_internal (const char *id,
                                           const char *remote_address,
                                           const PrdEioConfig *config);
/* @owner: (nullable) */
void
prd_eio_socket_set_owner (PrdEioSocket *self, const PrdEioSocketOwner *owner, gpointer user_data);
gboolean prd_eio_socket_is_websocket (PrdEioSocket *self);
gboolean prd_eio_socket_is_finished (PrdEioSocket *self);
void prd_eio_socket_check_heartbeat (PrdEioSocket *self);

/* Whether a request has named the session's id since its handshake (a
 * poll, a POST, an upgrade); a session opened over WebSocket is used from
 * the start. Only the server's request handling sets it. A session nobody
 * has used may be closed to admit a new one over the session limits
 * (prd-eio-server.c). */
gboolean prd_eio_socket_is_used (PrdEioSocket *self);
void prd_eio_socket_set_used (PrdEioSocket *self);
/* The socket's places in its server's lists of unused sessions (every
 * address's, and its own address's: @of_address), which link sockets
 * without allocating; the socket only carries them. */
GList *prd_eio_socket_get_unused_link (PrdEioSocket *self, gboolean of_address);

/* Polling transport. */
void prd_eio_socket_start_polling (PrdEioSocket *self);
void prd_eio_socket_handle_get (PrdEioSocket *self, SoupServerMessage *msg);
gboolean prd_eio_socket_begin_post (PrdEioSocket *self, SoupServerMessage *msg);
void prd_eio_socket_handle_post (PrdEioSocket *self,
                                 SoupServerMessage *msg,
                                 const char *body,
                                 gsize len);

/* What the next polling GET would carry, taken off the queue: the packets
 * (element-type PrdEioPacket) in order. For in-process clients that read
 * no HTTP (tests/fuzz/fuzz-events.c). */
GPtrArray *prd_eio_socket_take_queued (PrdEioSocket *self);

/* WebSocket transport: a direct connection (the open packet is sent first),
 * or a probe for the polling→websocket upgrade. */
void
prd_eio_socket_start_websocket (PrdEioSocket *self, PrdEioWsLink *link, const char *open_packet);
void prd_eio_socket_offer_upgrade (PrdEioSocket *self, PrdEioWsLink *link);

/* Frames larger than this are refused by libsoup itself (connection dropped
 * without a close frame); anything between max-payload and this is read and
 * refused by the hub with close code 1009, as engine.io does. */
guint64 prd_eio_websocket_hard_limit (guint64 max_payload);

G_END_DECLS
