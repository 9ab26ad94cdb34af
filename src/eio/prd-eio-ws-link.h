/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/*
 * PrdEioIoPool and PrdEioWsLink: WebSocket connections on I/O threads
 * (internal to src/eio).
 *
 * Every Engine.IO session's logic (queue, heartbeat, upgrade) stays on the
 * thread of the hub's main context, with the documents. What costs per
 * delivery and grows with the connections, the framing, the write(2) of
 * each frame, the wait for each socket and the reading and unmasking of
 * incoming frames, runs on a small pool of I/O threads, each with its own
 * GMainContext: a WebSocket connection is created on one of them and stays
 * there until it is closed. The connection is a PrdEioWsConn
 * (prd-eio-ws-conn.h), or libsoup's SoupWebsocketConnection when an
 * extension (permessage-deflate) was negotiated.
 *
 * The main thread talks to a connection through its PrdEioWsLink. Commands
 * (send a frame, close) go to the link's thread, events (a message, closed,
 * too much input) come back to the main context, each through one mailbox
 * per thread: a GSource that wakes its context once for everything posted
 * since it last ran, so that a broadcast to many sessions costs one
 * wake-up per I/O thread, not one per recipient.
 *
 * A pool of no threads runs every connection on the main context itself;
 * the links behave the same (commands run at once, events arrive from the
 * main loop).
 *
 * Backpressure: prd_eio_ws_link_get_buffered() tells how many bytes of the
 * frames sent were not yet written whole, from any thread, so that the
 * session can enforce max-write-buffer. (With libsoup's connection, frames
 * wait in the link until libsoup's last write took all it was given.)
 */

typedef struct _PrdEioIoPool PrdEioIoPool;
typedef struct _PrdEioWsLink PrdEioWsLink;

/* The main context's end of a link. Every function runs on the thread of
 * the context that was thread-default when the pool was created. */
typedef struct
{
  void (*message) (PrdEioWsLink *link, int type, GBytes *message, gpointer user_data);
  void (*closed) (PrdEioWsLink *link, gpointer user_data);
  /* More than the link's input limit arrived without a complete message. */
  void (*overflow) (PrdEioWsLink *link, gpointer user_data);
} PrdEioWsLinkHandler;

PrdEioIoPool *prd_eio_io_pool_new (guint n_threads);
/* Lets every thread write what its links hold (for at most @flush_ms),
 * then stops the threads and closes what is left. */
void prd_eio_io_pool_free (PrdEioIoPool *pool, guint flush_ms);

/* Takes over @stream (already past the 101) as a server-side WebSocket on
 * one of @pool's threads; @extensions (transfer full) are those accepted in
 * the handshake. Incoming messages larger than @input_limit close it, as
 * do more than @input_limit bytes without a complete message. */
PrdEioWsLink *prd_eio_ws_link_new (PrdEioIoPool *pool,
                                   GIOStream *stream,
                                   GUri *uri,
                                   const char *origin,
                                   GList *extensions,
                                   guint64 input_limit);
PrdEioWsLink *prd_eio_ws_link_ref (PrdEioWsLink *link);
void prd_eio_ws_link_unref (PrdEioWsLink *link);

void prd_eio_ws_link_set_handler (PrdEioWsLink *link,
                                  const PrdEioWsLinkHandler *handler,
                                  gpointer user_data);
/* FALSE once closed was reported or prd_eio_ws_link_close() was called. */
gboolean prd_eio_ws_link_is_open (PrdEioWsLink *link);
void prd_eio_ws_link_send (PrdEioWsLink *link, SoupWebsocketDataType type, GBytes *frame);
void prd_eio_ws_link_send_text (PrdEioWsLink *link, const char *text);
/* Bytes of frames sent and not yet taken by a write that took them whole. */
guint64 prd_eio_ws_link_get_buffered (PrdEioWsLink *link);
/* Closes the WebSocket with @code: with @flush, after every frame sent
 * before (for at most @flush_ms); otherwise at once, dropping them. No
 * event is reported after this. */
void prd_eio_ws_link_close (PrdEioWsLink *link, gushort code, gboolean flush, guint flush_ms);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdEioWsLink, prd_eio_ws_link_unref)

G_END_DECLS
