/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/*
 * Refusing a request from its headers, before its body is read (for every
 * server on the hub's SoupServer: Engine.IO and the REST routes).
 *
 * libsoup 3.2 reads a request body to its end whatever status a
 * "got-headers" or "got-chunk" handler sets; only a request that says
 * "Expect: 100-continue" is answered without its body. For a request that
 * announces a body, prd_eio_refuse_now() answers at once and closes the
 * connection instead. A request without a body needs no such thing: a status
 * set from "got-headers" is answered by libsoup as usual, and the connection
 * stays open.
 */

gboolean prd_eio_request_has_body (SoupServerMessage *msg);
void prd_eio_refuse_now (SoupServerMessage *msg);

/* How long a refused connection is still read (and what arrives dropped)
 * after the response went out, so that the client reads the response
 * instead of a connection reset. */
#define PRD_EIO_REFUSAL_LINGER_MS 2000

/* Object data on the remote address of a connection handed to libsoup with
 * soup_server_accept_iostream() (PrdEioListener): its GSocket, which libsoup
 * does not know for such a connection (soup_server_message_get_socket() is
 * %NULL), so that a refusal can half-close it and read what still arrives
 * instead of closing at once, which would reset the connection and could
 * lose the response. */
#define PRD_EIO_SOCKET_KEY "prd-eio-socket"

G_END_DECLS
