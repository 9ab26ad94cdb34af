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
 * same text when written out).
 */

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

              g_assert_true (json_parser_load_from_data (parser, text, (gssize) size, NULL));
              g_assert_true (json_node_equal (node, json_parser_get_root (parser)));
              theirs = prd_json_to_string (json_parser_get_root (parser));
              g_assert_cmpstr (out, ==, theirs);
            }
        }
    }
  return 0;
}
