/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "prd-eio-packet.h"

G_BEGIN_DECLS

#define PRD_TYPE_EIO_SOCKET (prd_eio_socket_get_type ())
G_DECLARE_FINAL_TYPE (PrdEioSocket, prd_eio_socket, PRD, EIO_SOCKET, GObject)

/*
 * PrdEioSocket: one Engine.IO session, whatever its transport.
 *
 * Signals (emitted on the main context, in arrival order):
 *   "text-message"   (const char *text, gsize len)   a MESSAGE packet's text
 *   "binary-message" (GBytes *data)                   a binary MESSAGE packet
 *   "closed"         (const char *reason)             emitted once; reasons as
 *       engine.io: "transport close", "transport error", "ping timeout",
 *       "forced close", "parse error", "write buffer overflow",
 *       "server shutting down"
 *
 * Property "transport" (string, read-only): "polling" or "websocket",
 * notified when a polling session upgrades.
 *
 * Sending after "closed" is a no-op returning FALSE. A send that would
 * take the buffered amount past the server's "max-write-buffer" returns
 * FALSE, as does every send after it, and the socket closes ("write buffer
 * overflow") from the main loop, never inside the send: a caller may go on
 * with what it was doing (a room it walks stays as it was). Text must be
 * valid UTF-8 without U+001E (the polling packet separator; JSON escapes it).
 *
 * prd_eio_socket_close() delivers what was sent before it (over polling,
 * with the next GET, followed by the close packet) and then ends the
 * transport; "closed" is emitted at once. prd_eio_socket_abort() drops
 * what is queued and ends the session at once, so that it no longer counts
 * against the session limits.
 */

/*
 * A receiver gets what the three signals carry through plain function
 * pointers, called by the signals' class handlers (before any handler, and
 * whoever emits them): the layer above (Socket.IO) has one per session, and
 * three signal handlers (closures) per session cost about 670 bytes each
 * connection. NULL functions are skipped.
 */
typedef struct
{
  void (*text_message) (PrdEioSocket *socket, const char *text, gsize len, gpointer user_data);
  void (*binary_message) (PrdEioSocket *socket, GBytes *data, gpointer user_data);
  void (*closed) (PrdEioSocket *socket, const char *reason, gpointer user_data);
} PrdEioSocketReceiver;

void prd_eio_socket_set_receiver (PrdEioSocket *self,
                                  const PrdEioSocketReceiver *receiver,
                                  gpointer user_data);

const char *prd_eio_socket_get_id (PrdEioSocket *self);
const char *prd_eio_socket_get_transport_name (PrdEioSocket *self);
const char *prd_eio_socket_get_remote_address (PrdEioSocket *self);
gboolean prd_eio_socket_is_open (PrdEioSocket *self);
guint64 prd_eio_socket_get_buffered_amount (PrdEioSocket *self);
gboolean prd_eio_socket_send_text (PrdEioSocket *self, const char *text, gssize len);
/* @message: from prd_eio_packet_new_message(); not consumed */
gboolean prd_eio_socket_send_message (PrdEioSocket *self, const PrdEioPacket *message);
gboolean prd_eio_socket_send_binary (PrdEioSocket *self, GBytes *data);
void prd_eio_socket_close (PrdEioSocket *self, const char *reason);
void prd_eio_socket_abort (PrdEioSocket *self, const char *reason);

G_END_DECLS
