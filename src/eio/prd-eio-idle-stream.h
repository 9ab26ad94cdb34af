/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "prd-eio-closed-notice.h"

G_BEGIN_DECLS

/*
 * PrdEioIdleStream: the input side of an HTTP connection that
 * #PrdEioListener hands to libsoup (internal to src/eio).
 *
 * libsoup before 3.3.0 (commit d20c6601, "do not leak idle connections
 * closed by the client") drops a kept-alive connection on the floor when
 * the client closes it between two requests: the end of stream is read by a
 * message nobody watches, and the socket stays open (CLOSE-WAIT) for the
 * life of the process. libsoup does close the connection when a request
 * that has begun ends early. So while the listener marks the connection
 * idle, this stream turns the end of stream (or a read error) into one empty
 * line followed by an error: libsoup sees a request begin and break off, and
 * closes the connection itself. Nothing else changes: data passes through
 * untouched, and a connection that is not idle sees its end of stream as it
 * is.
 */

#define PRD_TYPE_EIO_IDLE_STREAM (prd_eio_idle_stream_get_type ())
G_DECLARE_FINAL_TYPE (
    PrdEioIdleStream, prd_eio_idle_stream, PRD, EIO_IDLE_STREAM, GFilterInputStream)

/* Returns a GIOStream that reads through an idle stream and writes to
 * @base's output stream; closing it closes @base. @out_idle is
 * (transfer none): the returned stream owns it. */
GIOStream *prd_eio_idle_io_stream_new (GIOStream *base, PrdEioIdleStream **out_idle);
void prd_eio_idle_stream_set_idle (PrdEioIdleStream *self, gboolean idle);
gboolean prd_eio_idle_stream_get_idle (PrdEioIdleStream *self);
/* @notice (nullable) is fired when the stream (and so @base) is closed. */
void prd_eio_idle_stream_set_closed_notice (PrdEioIdleStream *self, PrdEioClosedNotice *notice);
/* The connection outlives this stream (its descriptor was duplicated;
 * prd-eio-ws-conn.c): closing the stream no longer fires the notice, which
 * is returned (transfer full, nullable) for the new owner to fire once it
 * closes the connection. */
PrdEioClosedNotice *prd_eio_idle_stream_hand_off (PrdEioIdleStream *self);

/* Why a request head is refused before libsoup parses it. */
typedef enum
{
  PRD_EIO_HEAD_TOO_LARGE,      /* past the limit */
  PRD_EIO_HEAD_BAD_FRAMING,    /* a folded line, a Content-Length that is not a number */
  PRD_EIO_HEAD_UNKNOWN_CODING, /* a Transfer-Encoding other than chunked (or several) */
  PRD_EIO_HEAD_NUL,            /* a NUL byte */
} PrdEioHeadRefusal;

typedef void (*PrdEioHeadRefusedFunc) (PrdEioHeadRefusal why, gpointer user_data);

void prd_eio_idle_stream_set_header_limit (PrdEioIdleStream *self,
                                           gsize limit,
                                           PrdEioHeadRefusedFunc func,
                                           gpointer user_data);
gboolean prd_eio_idle_stream_get_head_refused (PrdEioIdleStream *self);

G_END_DECLS
