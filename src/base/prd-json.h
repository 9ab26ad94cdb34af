/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Deepest array/object nesting any JSON text may have: json-glib parses
 * recursively, so an unbounded depth would let one message exhaust the stack.
 * A top-level array holding 63 more levels of arrays is the deepest accepted. */
#define PRD_JSON_MAX_DEPTH 64

/* The size limit when a caller passes 0 as @max_size. */
#define PRD_JSON_DEFAULT_MAX_SIZE (8 * 1024 * 1024)

/**
 * PrdJsonParseFlags:
 * @PRD_JSON_PARSE_DEFAULT: a mutable tree; any unusable string fails the parse
 * @PRD_JSON_PARSE_IMMUTABLE: the tree is sealed (json_node_seal())
 * @PRD_JSON_PARSE_REPLACE_BAD_STRINGS: grammatically valid JSON whose strings
 *   hold U+0000 or an unpaired surrogate does not fail: each such escape is
 *   read as U+FFFD and the caller is told through @has_bad_strings, so that it
 *   can refuse the content while still reading the document's frame (the
 *   Socket.IO decoder needs the event name and ack id to answer)
 */
typedef enum
{
  PRD_JSON_PARSE_DEFAULT = 0,
  PRD_JSON_PARSE_IMMUTABLE = 1 << 0,
  PRD_JSON_PARSE_REPLACE_BAD_STRINGS = 1 << 1,
} PrdJsonParseFlags;

gboolean prd_json_validate (const char *text,
                            gssize len,
                            gsize max_size,
                            PrdJsonParseFlags flags,
                            gboolean *has_bad_strings,
                            GError **error);
gboolean prd_json_validate_full (const char *text,
                                 gssize len,
                                 gsize max_size,
                                 PrdJsonParseFlags flags,
                                 gboolean *has_bad_strings,
                                 gsize *n_values,
                                 GError **error);
JsonNode *prd_json_build_checked (const char *text, gssize len, PrdJsonParseFlags flags);
JsonNode *prd_json_parse (const char *text, gssize len, gsize max_size, GError **error);
JsonNode *prd_json_parse_full (const char *text,
                               gssize len,
                               gsize max_size,
                               PrdJsonParseFlags flags,
                               gboolean *has_bad_strings,
                               GError **error);

/**
 * PrdJsonCursor:
 *
 * Reads a text that prd_json_validate() accepted, in place, without a tree
 * (see prd-json.c). Lives on the stack; nothing to free.
 */
typedef struct
{
  /*< private >*/
  const char *p;
  const char *end;
} PrdJsonCursor;

void prd_json_cursor_init (PrdJsonCursor *cursor, const char *text, gsize len);
char prd_json_cursor_peek (PrdJsonCursor *cursor);
gboolean prd_json_cursor_enter (PrdJsonCursor *cursor, char open);
gboolean prd_json_cursor_next (PrdJsonCursor *cursor);
gboolean prd_json_cursor_read_name (PrdJsonCursor *cursor, const char **name, gsize *name_len);
gboolean prd_json_cursor_read_string (PrdJsonCursor *cursor, GString *out);
gboolean prd_json_cursor_read_int (PrdJsonCursor *cursor, gint64 *out);
void prd_json_cursor_skip (PrdJsonCursor *cursor);
const char *prd_json_cursor_get_position (PrdJsonCursor *cursor);

/* Compact JSON text of @node that strict readers accept (see prd-json.c). */
char *prd_json_to_string (JsonNode *node);

/* The pieces prd_json_to_string() writes with, for JSON text written
 * directly, without a tree (the hub's per-update events). */
void prd_json_write_string (GString *out, const char *str);
void prd_json_write_int (GString *out, gint64 value);

G_END_DECLS
