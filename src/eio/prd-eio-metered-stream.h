/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "prd-eio-poller.h"

G_BEGIN_DECLS

/*
 * PrdEioMeteredStream: the input side of a WebSocket connection handled by
 * libsoup (with permessage-deflate; see prd-eio-ws-conn.h for the others),
 * counting the bytes read since the last complete message (internal to
 * src/eio).
 *
 * libsoup 3.2 checks max-incoming-payload-size per frame, not per message:
 * a message sent as many small fragments grows in libsoup's memory without
 * bound before the hub ever sees it. Everything libsoup reads passes through
 * here, so once more than "limit" bytes arrived without a complete message,
 * the stream calls its overflow function once and then reports end of
 * stream, which stops libsoup from reading (and accumulating) more.
 */

#define PRD_TYPE_EIO_METERED_STREAM (prd_eio_metered_stream_get_type ())
G_DECLARE_FINAL_TYPE (
    PrdEioMeteredStream, prd_eio_metered_stream, PRD, EIO_METERED_STREAM, GFilterInputStream)

typedef void (*PrdEioOverflowFunc) (gpointer user_data);

/*
 * PrdEioWatchedOutput: the output side of the same connection, a
 * pass-through that tells whether the last write took all it was given
 * (libsoup otherwise holds the rest of a frame until the socket is
 * writable again).
 */
#define PRD_TYPE_EIO_WATCHED_OUTPUT (prd_eio_watched_output_get_type ())
G_DECLARE_FINAL_TYPE (
    PrdEioWatchedOutput, prd_eio_watched_output, PRD, EIO_WATCHED_OUTPUT, GFilterOutputStream)

gboolean prd_eio_watched_output_is_stalled (PrdEioWatchedOutput *self);

/* Returns a GIOStream that reads through a metered stream and writes
 * through a watched output to @base's output stream; closing it closes
 * @base. @out_metered is (transfer none): the returned stream owns it. */
GIOStream *
prd_eio_metered_io_stream_new (GIOStream *base, guint64 limit, PrdEioMeteredStream **out_metered);
void prd_eio_metered_stream_reset (PrdEioMeteredStream *self);
void prd_eio_metered_stream_set_overflow_func (PrdEioMeteredStream *self,
                                               PrdEioOverflowFunc func,
                                               gpointer user_data);

/* TRUE while the peer's next frame must wait, given the @messages that
 * came before it; @close: it is a Close frame, or the end of input (see
 * prd_eio_metered_stream_set_gate()). */
typedef gboolean (*PrdEioGateFunc) (guint64 messages, gboolean close, gpointer user_data);

void prd_eio_metered_stream_set_gate (PrdEioMeteredStream *self,
                                      PrdEioGateFunc func,
                                      gpointer user_data);
void prd_eio_metered_stream_open_gate (PrdEioMeteredStream *self);
void prd_eio_metered_stream_set_poller (PrdEioMeteredStream *self, PrdEioPoller *poller);

/* The GSocket at the bottom of @stream's chain of filter streams when it is
 * a socket's own stream (not, say, a TLS connection's); (transfer full). */
GSocket *prd_eio_find_socket (GInputStream *stream);

/* The TCP socket under a stream that does not show it (a TLS connection's),
 * noted when the stream is taken from libsoup. Closing such a stream writes
 * TLS's close_notify, which waits for a peer that does not read:
 * prd_eio_stream_shut_down() shuts the socket down first, so that it
 * fails at once. */
void prd_eio_stream_set_socket (GIOStream *stream, GSocket *socket);
GSocket *prd_eio_stream_get_socket (GIOStream *stream);
void prd_eio_stream_shut_down (GIOStream *stream);

G_END_DECLS
