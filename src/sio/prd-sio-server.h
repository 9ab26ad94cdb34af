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
 *
 * Rate limiting: every EVENT belongs to an event class ("default" unless
 * mapped with prd_sio_server_set_event_class()); each connection has a token
 * bucket per class holding `limit` tokens, refilled fully every
 * `window_seconds`, one token per event. An event over the limit is not
 * dispatched: the socket gets `rate-limit` {message, retryAfter, limit,
 * remaining, resetTime} and, if it asked for an ack, the ack carries
 * {"error":{"code":"RATE_LIMITED","message":…}}.
 */

PrdSioServer *prd_sio_server_new (PrdEioServer *engine);
PrdEioServer *prd_sio_server_get_engine (PrdSioServer *self);
PrdSioNamespace *prd_sio_server_of (PrdSioServer *self, const char *name);
PrdSioNamespace *prd_sio_server_lookup (PrdSioServer *self, const char *name);
void prd_sio_server_set_rate_limit (PrdSioServer *self,
                                    const char *event_class,
                                    guint limit,
                                    guint window_seconds);
void
prd_sio_server_set_event_class (PrdSioServer *self, const char *event, const char *event_class);

G_END_DECLS
