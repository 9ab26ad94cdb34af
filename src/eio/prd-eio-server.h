/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <libsoup/soup.h>

#include "prd-eio-socket.h"

G_BEGIN_DECLS

#define PRD_TYPE_EIO_SERVER (prd_eio_server_get_type ())
G_DECLARE_FINAL_TYPE (PrdEioServer, prd_eio_server, PRD, EIO_SERVER, GObject)

/* The largest PrdEioServer:io-threads. */
#define PRD_EIO_SERVER_MAX_IO_THREADS 64

/*
 * PrdEioServer: an Engine.IO v4 server (HTTP long-polling and WebSocket,
 * the polling→websocket upgrade, server-sent heartbeats) attached to a
 * SoupServer at a path.
 *
 * Properties (all construct/readwrite, defaults as engine.io 6):
 *   "ping-interval"     guint   ms, 25000
 *   "ping-timeout"      guint   ms, 20000
 *   "upgrade-timeout"   guint   ms, 10000
 *   "max-payload"       guint64 bytes, 1000000 (announced as maxPayload)
 *   "max-write-buffer"  guint64 bytes queued for one socket before it is
 *                       dropped as a slow consumer, default 16 MiB
 *   "cors-origins"      GStrv   allowed Origins; NULL = none, {"*"} = any
 *   "websocket-compression" gboolean  (added) accept permessage-deflate,
 *                       default FALSE like engine.io's perMessageDeflate
 *                       (inflating costs CPU and memory before max-payload
 *                       can be checked)
 *
 * Origins (added detail): a request whose Origin is neither in
 * "cors-origins" nor the hub's own (the Host it was sent to) is refused with
 * HTTP 403 {"code":4,"message":"Forbidden"} (engine.io's status for code 4;
 * codes 0-3 and 5 are HTTP 400). This applies to WebSocket handshakes too,
 * against cross-site WebSocket hijacking; clients that send no Origin
 * (Node, native apps) are not affected.
 *
 * Signals:
 *   "connection" (PrdEioSocket *socket): a new session completed its
 *   handshake. The handler takes its own reference if it keeps the socket.
 *   "upgraded" (PrdEioSocket *socket): a session moved from polling to
 *   WebSocket (its "transport" property changed): one handler for every
 *   session, rather than one on each.
 */

PrdEioServer *prd_eio_server_new (void);
void prd_eio_server_attach (PrdEioServer *self, SoupServer *server, const char *path);
void prd_eio_server_detach (PrdEioServer *self);
guint prd_eio_server_get_ping_interval (PrdEioServer *self);
guint prd_eio_server_get_ping_timeout (PrdEioServer *self);
guint64 prd_eio_server_get_max_payload (PrdEioServer *self);
guint prd_eio_server_get_n_sockets (PrdEioServer *self);
guint prd_eio_server_get_n_sockets_on (PrdEioServer *self, const char *transport);
void prd_eio_server_close_all (PrdEioServer *self);

G_END_DECLS
