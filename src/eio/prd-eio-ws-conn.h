/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "prd-eio-poller.h"
#include "prd-eio-ws-frame.h"

G_BEGIN_DECLS

/*
 * PrdEioWsConn: the server side of a WebSocket connection without
 * extensions, on the stream libsoup handed over after the 101 (internal to
 * src/eio; the links of prd-eio-ws-link.c use it, and libsoup's
 * SoupWebsocketConnection only when permessage-deflate was negotiated).
 *
 * What it does differently from libsoup's, and why:
 * - On a plain socket it keeps a duplicate of the descriptor and nothing
 *   else: the stream libsoup handed over, and the GIO and libsoup objects
 *   under it, are closed and freed at once (about 1.3 KB a connection);
 *   what libsoup had read past the handshake is taken from its buffer
 *   first. The listener's notice that the connection is closed
 *   (prd-eio-closed-notice.h) is fired when that descriptor is closed.
 * - A frame is written as its header and the payload the caller gave, with
 *   one writev(2) for every frame waiting: a broadcast's text is shared by
 *   all its recipients, never copied into a frame per recipient.
 * - A connection waiting for input has no GSource: on a plain socket, the
 *   context's PrdEioPoller calls it when the socket is readable. (Over TLS,
 *   or without a poller, it waits with a pollable source.)
 * - It reads nothing while the gate is shut (see PrdEioWsConnFuncs.gate),
 *   so that a peer that sends faster than the hub handles is held back by
 *   TCP; and it holds the peer's Close, or the end of its input, until the
 *   gate lets it pass.
 * - A message is limited as a whole, fragments included, before its
 *   payload is read.
 * - A peer that pings and does not read is not read either once
 *   MAX_PONGS (16) Pongs wait for its socket.
 *
 * Everything runs on the thread of the context that was thread-default when
 * it was created. The functions may free the connection (see
 * prd_eio_ws_conn_free()).
 */

typedef struct _PrdEioWsConn PrdEioWsConn;

typedef struct
{
  /* A complete message; @type is SOUP_WEBSOCKET_DATA_TEXT or _BINARY. */
  void (*message) (gpointer user_data, int type, GBytes *message);
  /* The connection is closed (the closing handshake is over, the peer went
   * away, or it broke the protocol); nothing follows. */
  void (*closed) (gpointer user_data);
  /* A message is larger than the limit; the caller closes with 1009. */
  void (*overflow) (gpointer user_data);
  /* TRUE while the peer's next frame must wait, given the @messages
   * reported before it; @close: it is a Close frame, or the end of input. */
  gboolean (*gate) (gpointer user_data, guint64 messages, gboolean close);
  /* @size bytes of sent payload were written whole, or dropped. */
  void (*written) (gpointer user_data, gsize size);
} PrdEioWsConnFuncs;

/* @stream: what soup_server_message_steal_connection() returned, with
 * nothing of it read yet but what libsoup buffered; on a plain socket it is
 * closed before this returns.
 * @poller: (nullable): the context's epoll set */
PrdEioWsConn *prd_eio_ws_conn_new (GIOStream *stream,
                                   guint64 limit,
                                   PrdEioPoller *poller,
                                   const PrdEioWsConnFuncs *funcs,
                                   gpointer user_data);
/* Closes the stream (if still open) and frees @conn, at once or, from
 * inside one of its functions, when it returns; no function is called
 * after this. */
void prd_eio_ws_conn_free (PrdEioWsConn *conn);

/* TRUE until our Close is queued, or the connection closed. */
gboolean prd_eio_ws_conn_is_open (PrdEioWsConn *conn);
gboolean prd_eio_ws_conn_is_closed (PrdEioWsConn *conn);
/* Queues a text or binary message (the payload is not copied) and writes
 * what the socket takes now. */
void prd_eio_ws_conn_send (PrdEioWsConn *conn, int type, GBytes *payload);
/* Whether sent frames wait for the socket; how many (Pongs and Close
 * included). */
gboolean prd_eio_ws_conn_has_output (PrdEioWsConn *conn);
guint prd_eio_ws_conn_get_n_queued (PrdEioWsConn *conn);
/* Drops the frames not begun yet (reported as written). */
void prd_eio_ws_conn_drop_output (PrdEioWsConn *conn);
/* Sends a Close with @code after what was sent before, then waits for the
 * peer's (at most 5 s) and closes the stream. */
void prd_eio_ws_conn_close (PrdEioWsConn *conn, gushort code);
/* The gate may be open now. */
void prd_eio_ws_conn_open_gate (PrdEioWsConn *conn);

G_END_DECLS
