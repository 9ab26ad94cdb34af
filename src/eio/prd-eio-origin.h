/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/*
 * The hub's one Origin rule, for Engine.IO (polling and WebSocket) and the
 * REST routes alike: a request without an Origin header (not a browser) is
 * not concerned; a request with one is served when the origin is listed in
 * `cors-origins` (compared without regard to case), when that list holds
 * `*`, or when it names the host the request was sent to (scheme://Host, a
 * page served from the hub's own address). Any other origin is refused with
 * 403 before anything else is looked at.
 */

gboolean prd_eio_origin_allowed (const char *const *cors_origins,
                                 SoupServerMessage *msg,
                                 const char **out_origin);
void prd_eio_origin_add_cors_headers (SoupServerMessage *msg, const char *origin);

G_END_DECLS
