/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-eio-server.h"
#include "prd-sio-namespace.h"
#include "prd-sio-socket.h"

G_BEGIN_DECLS

#define PRD_TYPE_SIO_SERVER (prd_sio_server_get_type ())
G_DECLARE_FINAL_TYPE (PrdSioServer, prd_sio_server, PRD, SIO_SERVER, GObject)

/*
 * PrdSioServer: Socket.IO v5 on a PrdEioServer. Namespaces are created with
 * prd_sio_server_of(); a CONNECT to any other namespace gets
 * CONNECT_ERROR {"message":"Invalid namespace"}.
 *
 * Properties: "connect-timeout" (guint ms, 45000).
 *   Added: "engine" (PrdEioServer, construct-only) and "max-pending-acks"
 *   (guint, 1000): how many events asking for an ack one socket may have
 *   unanswered; beyond it an event is refused, not dispatched, with the
 *   `error` event {code: "RATE_LIMITED", message, event, timestamp} and the
 *   ack error {"error":{"code":"RATE_LIMITED","message":…}}.
 *
 * Rate limiting: every EVENT belongs to an event class ("default" unless
 * mapped with prd_sio_server_set_event_class()); each connection has a token
 * bucket per class holding `limit` tokens, refilled fully every
 * `window_seconds`, one token per event. An event over the limit is not
 * dispatched: the socket gets `rate-limit` {message, retryAfter, limit,
 * remaining, resetTime} and, if it asked for an ack, the ack carries
 * {"error":{"code":"RATE_LIMITED","message":…}}.
 * The buckets belong to the Engine.IO connection and are shared by all
 * namespaces multiplexed on it. Classes without a configured limit are not
 * limited; set_rate_limit() with limit 0 removes a class's limit.
 *
 * Close reasons handed to "disconnection": the engine's reason when the
 * Engine.IO session ends; "client namespace disconnect" (client sent
 * DISCONNECT), "server namespace disconnect" (prd_sio_socket_disconnect()),
 * "parse error" (a packet did not decode), "forced close" (protocol state
 * violation or connect timeout; also a client that sends past a rate limit
 * or has too many CONNECTs refused, whose namespaces each get a DISCONNECT
 * packet before the session ends), "server shutting down" (server
 * disposed).
 *
 * Additions outside these headers: prd-sio-decoder.h (binary reassembly)
 * and prd-sio-rate-limiter.h (the token buckets), both public.
 */

PrdSioServer *prd_sio_server_new (PrdEioServer *engine);
PrdEioServer *prd_sio_server_get_engine (PrdSioServer *self);
PrdSioNamespace *prd_sio_server_of (PrdSioServer *self, const char *name);
PrdSioNamespace *prd_sio_server_lookup (PrdSioServer *self, const char *name);
char **prd_sio_server_dup_events (PrdSioServer *self);
void prd_sio_server_set_rate_limit (PrdSioServer *self,
                                    const char *event_class,
                                    guint limit,
                                    guint window_seconds);
void
prd_sio_server_set_event_class (PrdSioServer *self, const char *event, const char *event_class);
guint64 prd_sio_server_get_n_events_received (PrdSioServer *self);
guint64 prd_sio_server_get_n_events_sent (PrdSioServer *self);

G_END_DECLS
