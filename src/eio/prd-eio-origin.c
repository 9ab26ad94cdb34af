/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The Origin rule shared by the Engine.IO server and the REST router
 * (prd-eio-origin.h).
 */
#define G_LOG_DOMAIN "prd-eio"

#include "config.h"

#include <string.h>

#include "prd-eio-origin.h"

static gboolean
origin_is_same_host (SoupServerMessage *msg, const char *origin)
{
  const char *host =
      soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Host");
  const char *p = strstr (origin, "://");

  return host != NULL && p != NULL && g_ascii_strcasecmp (p + 3, host) == 0;
}

/**
 * prd_eio_origin_allowed:
 * @cors_origins: (nullable) (array zero-terminated=1): the allowed origins
 * @out_origin: (out) (transfer none) (nullable): the request's Origin, %NULL
 *   when it has none
 *
 * Returns: whether @msg may be served under the Origin rule
 */
gboolean
prd_eio_origin_allowed (const char *const *cors_origins,
                        SoupServerMessage *msg,
                        const char **out_origin)
{
  const char *origin =
      soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Origin");

  *out_origin = origin;
  if (origin == NULL)
    return TRUE;
  for (guint i = 0; cors_origins != NULL && cors_origins[i] != NULL; i++)
    if (g_str_equal (cors_origins[i], "*") || g_ascii_strcasecmp (cors_origins[i], origin) == 0)
      return TRUE;
  /* A page served by the hub itself is not cross-origin. */
  return origin_is_same_host (msg, origin);
}

/**
 * prd_eio_origin_add_cors_headers:
 * @origin: an allowed origin
 *
 * Lets a browser page of @origin read the response (with credentials).
 */
void
prd_eio_origin_add_cors_headers (SoupServerMessage *msg, const char *origin)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  soup_message_headers_replace (headers, "Access-Control-Allow-Origin", origin);
  soup_message_headers_replace (headers, "Access-Control-Allow-Credentials", "true");
  soup_message_headers_append (headers, "Vary", "Origin");
}
