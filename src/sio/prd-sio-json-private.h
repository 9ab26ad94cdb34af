/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Deepest array/object nesting a packet may carry. json-glib parses
 * recursively, so an unbounded depth would let one frame exhaust the stack. */
#define PRD_SIO_JSON_MAX_DEPTH 64

JsonNode *prd_sio_json_parse_strict (const char *text, gsize len, GError **error);
char *prd_sio_json_timestamp_now (void);
char *prd_sio_json_timestamp (gint64 real_time_us);

G_END_DECLS
