/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-fuzz"

#include "config.h"

#include "prd-fuzz.h"
#include "prd-json.h"

/*
 * The strict JSON reader (prd_json_parse_full), the only way the hub reads
 * JSON: the input is parsed with every flag combination, with and without a
 * small size limit; whatever parses is written out again by the hub's writer
 * (prd_json_to_string) and must read back to the same tree. The reader
 * builds its tree itself: when the text has no unusable string, that tree
 * must be the one json-glib's own parser makes of it (same values and types,
 * same text when written out), and a PrdJsonCursor must read the same values
 * from the text.
 */

/* Reads the value at @cursor as @node has it (a checked text): strings and
 * integers equal, containers member by member (a name given twice is in
 * the tree once, with its last value), and prd_json_cursor_skip() ends where
 * the reading ends. FALSE when an escaped member name stopped the reading
 * (the cursor does not read those names). */
static gboolean
cursor_matches (PrdJsonCursor *cursor, JsonNode *node)
{
  PrdJsonCursor skipped = *cursor;
  g_autoptr (GString) str = g_string_new (NULL);
  gint64 number;

  prd_json_cursor_skip (&skipped);
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *object = json_node_get_object (node);

      g_assert_true (prd_json_cursor_enter (cursor, '{'));
      while (prd_json_cursor_next (cursor))
        {
          g_autofree char *name = NULL;
          const char *raw;
          gsize len;

          if (!prd_json_cursor_read_name (cursor, &raw, &len))
            return FALSE;
          name = g_strndup (raw, len);
          g_assert_true (json_object_has_member (object, name));
          prd_json_cursor_skip (cursor);
        }
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      guint i = 0;

      g_assert_true (prd_json_cursor_enter (cursor, '['));
      while (prd_json_cursor_next (cursor))
        {
          g_assert_cmpuint (i, <, json_array_get_length (array));
          if (!cursor_matches (cursor, json_array_get_element (array, i++)))
            return FALSE;
        }
      g_assert_cmpuint (i, ==, json_array_get_length (array));
    }
  else if (json_node_get_value_type (node) == G_TYPE_STRING)
    {
      g_assert_true (prd_json_cursor_read_string (cursor, str));
      g_assert_cmpstr (str->str, ==, json_node_get_string (node));
    }
  else if (json_node_get_value_type (node) == G_TYPE_INT64)
    {
      g_assert_true (prd_json_cursor_read_int (cursor, &number));
      g_assert_cmpint (number, ==, json_node_get_int (node));
    }
  else
    {
      g_assert_false (prd_json_cursor_read_int (cursor, &number));
      prd_json_cursor_skip (cursor);
    }
  g_assert_true (prd_json_cursor_get_position (cursor) == prd_json_cursor_get_position (&skipped));
  return TRUE;
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  return 0;
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  const char *text = (const char *) data;

  for (int i = 0; i < 8; i++)
    {
      PrdJsonParseFlags flags = i & 3;
      g_autoptr (JsonNode) node = NULL;
      g_autoptr (GError) error = NULL;
      gboolean bad = FALSE;

      node = prd_json_parse_full (text, (gssize) size, i & 4 ? 256 : 0, flags, &bad, &error);
      g_assert_true ((node == NULL) == (error != NULL));
      if (node != NULL)
        {
          g_autofree char *out = prd_json_to_string (node);
          g_autoptr (JsonNode) again = prd_json_parse (out, -1, 0, &error);

          g_assert_no_error (error);
          g_assert_true (json_node_equal (node, again));
          if (flags & PRD_JSON_PARSE_IMMUTABLE)
            g_assert_true (json_node_is_immutable (node));
          if (!bad && i == 0)
            {
              g_autoptr (JsonParser) parser = json_parser_new ();
              g_autofree char *theirs = NULL;
              PrdJsonCursor cursor;

              prd_json_cursor_init (&cursor, text, size);
              cursor_matches (&cursor, node);

              g_assert_true (json_parser_load_from_data (parser, text, (gssize) size, NULL));
              g_assert_true (json_node_equal (node, json_parser_get_root (parser)));
              theirs = prd_json_to_string (json_parser_get_root (parser));
              g_assert_cmpstr (out, ==, theirs);
            }
        }
    }
  return 0;
}
