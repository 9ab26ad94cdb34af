/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/* Defaults of the listener's limits (see prd-eio-listener.c). */
#define PRD_EIO_LISTENER_DEFAULT_BACKLOG         4096  /* SOMAXCONN on Linux >= 5.4 */
#define PRD_EIO_LISTENER_DEFAULT_IDLE_TIMEOUT    60000 /* ms */
#define PRD_EIO_LISTENER_DEFAULT_REQUEST_TIMEOUT 30000 /* ms */
#define PRD_EIO_LISTENER_DEFAULT_MAX_PER_ADDRESS 256
/* max-connections 0 ("automatic"): this many, or the open-file limit less
 * PRD_EIO_LISTENER_FD_RESERVE when that is lower. */
#define PRD_EIO_LISTENER_DEFAULT_MAX_CONNECTIONS 16384
#define PRD_EIO_LISTENER_FD_RESERVE              64
/* A request head (request line, headers, empty line) longer than this is
 * answered 431 and its connection closed; libsoup's own limit, which
 * closes without an answer, is 64 KiB. */
#define PRD_EIO_LISTENER_MAX_HEADER_SIZE 32768
/* Addresses exempt from the per-address limit unless told otherwise. */
#define PRD_EIO_LISTENER_DEFAULT_EXEMPT "127.0.0.0/8", "::1"

#define PRD_TYPE_EIO_LISTENER (prd_eio_listener_get_type ())
G_DECLARE_FINAL_TYPE (PrdEioListener, prd_eio_listener, PRD, EIO_LISTENER, GObject)

PrdEioListener *prd_eio_listener_new (SoupServer *server);
gboolean prd_eio_listener_listen (PrdEioListener *self,
                                  GSocketAddress *address,
                                  SoupServerListenOptions options,
                                  GError **error);
void prd_eio_listener_close (PrdEioListener *self);
guint prd_eio_listener_get_n_connections (PrdEioListener *self);
guint prd_eio_listener_get_max_connections (PrdEioListener *self);

G_END_DECLS
