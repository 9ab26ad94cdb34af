/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The hub's one JSON reader (prd-json.h). The corpus in data/json (see its
 * README) holds what it accepts (y_), what it refuses (n_) and valid JSON
 * with strings the hub cannot hold (b_); depth, size and pathological nesting
 * are generated here.
 */
#define G_LOG_DOMAIN "prd-test"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-json.h"

static char *
read_case (const char *path, gsize *len)
{
  g_autoptr (GError) error = NULL;
  char *contents = NULL;

  g_file_get_contents (path, &contents, len, &error);
  g_assert_no_error (error);
  return contents;
}

/* Every string (values and member names) of @node is UTF-8 without NUL. */
static void
assert_strings_clean (JsonNode *node)
{
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        assert_strings_clean (json_array_get_element (array, i));
    }
  else if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObjectIter iter;
      const char *name;
      JsonNode *member;

      json_object_iter_init (&iter, json_node_get_object (node));
      while (json_object_iter_next (&iter, &name, &member))
        {
          g_assert_true (g_utf8_validate (name, -1, NULL));
          assert_strings_clean (member);
        }
    }
  else if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    g_assert_true (g_utf8_validate (json_node_get_string (node), -1, NULL));
}

/* The reader builds its own tree; it must be the one json-glib's parser
 * makes of the same (accepted) text: values, their types (an integer is
 * not a double), member order, the last of two members of one name. */
static void
assert_same_as_json_glib (const char *text, gsize len, JsonNode *node)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *ours = NULL;
  g_autofree char *theirs = NULL;
  JsonNode *root;

  json_parser_load_from_data (parser, text, (gssize) len, &error);
  g_assert_no_error (error);
  root = json_parser_get_root (parser);
  g_assert_nonnull (root);
  g_assert_true (json_node_equal (node, root));
  ours = prd_json_to_string (node);
  theirs = prd_json_to_string (root);
  g_assert_cmpstr (ours, ==, theirs);
}

/* Texts the corpus does not spell out. */
static void
test_same_tree (void)
{
  static const char *const texts[] = {
    "{\"a\":1,\"b\":2,\"a\":3}",
    "[-0, 0, -0.0, 1e5, 1E+2, -1.5e-3, 9223372036854775807, -9223372036854775808, 0.1]",
    "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00x\"",
    "{\"\":[],\"nested\":{\"deep\":[[{}],[true,false,null]]}, \"s\" : \"v\" }",
    " [ 1 , \"two\" , { \"three\" : 3 } ] ",
    "{\"a-very-long-member-name-that-does-not-fit-in-sixty-four-bytes-of-stack\":\"\\u0041\"}",
    "17",
    "\"just a string\"",
  };

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (JsonNode) node = prd_json_parse (texts[i], -1, 0, &error);
      g_autoptr (JsonNode) sealed = NULL;

      g_assert_no_error (error);
      assert_same_as_json_glib (texts[i], strlen (texts[i]), node);
      g_assert_false (json_node_is_immutable (node));
      sealed = prd_json_parse_full (texts[i], -1, 0, PRD_JSON_PARSE_IMMUTABLE, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (json_node_is_immutable (sealed));
      g_assert_true (json_node_equal (node, sealed));
    }
}

/* A text that is not nul-terminated and ends in a number is read to its
 * length only. */
static void
test_unterminated_number (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = prd_json_parse ("12345", 3, 0, &error);
  g_autoptr (JsonNode) array = prd_json_parse ("[1,2]3", 5, 0, &error);

  g_assert_no_error (error);
  g_assert_cmpint (json_node_get_int (node), ==, 123);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (array)), ==, 2);
}

/* Integers are written without printf(): every one of them, the ends of
 * the range included, as printf() writes it. */
static void
test_write_integers (void)
{
  static const gint64 values[] = { 0,          1,          -1,         9,          10,
                                   -10,        99,         100,        1234567890, -987654321,
                                   G_MAXINT32, G_MININT32, G_MAXINT64, G_MININT64, G_MININT64 + 1 };

  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autoptr (JsonNode) node = json_node_init_int (json_node_alloc (), values[i]);
      g_autofree char *written = prd_json_to_string (node);
      g_autofree char *expected = g_strdup_printf ("%" G_GINT64_FORMAT, values[i]);

      g_assert_cmpstr (written, ==, expected);
    }
}

/* A tree made with a PrdJsonCursor alone, and every value also stepped over
 * with prd_json_cursor_skip() from the same place, which must end where the
 * reading ended. NULL when a member name holds an escape, which the cursor
 * does not compare (prd_json_cursor_read_name() refuses it). */
static JsonNode *
cursor_build (PrdJsonCursor *cursor)
{
  PrdJsonCursor skipped = *cursor;
  g_autoptr (JsonNode) node = NULL;
  char c = prd_json_cursor_peek (cursor);
  gint64 number;

  prd_json_cursor_skip (&skipped);
  if (c == '{')
    {
      g_autoptr (JsonObject) object = json_object_new ();

      g_assert_true (prd_json_cursor_enter (cursor, '{'));
      g_assert_false (prd_json_cursor_enter (cursor, '['));
      while (prd_json_cursor_next (cursor))
        {
          g_autofree char *name = NULL;
          const char *raw;
          const char *before = prd_json_cursor_get_position (cursor);
          gsize len;
          JsonNode *member;

          if (!prd_json_cursor_read_name (cursor, &raw, &len))
            {
              g_assert_true (prd_json_cursor_get_position (cursor) == before);
              return NULL;
            }
          name = g_strndup (raw, len);
          member = cursor_build (cursor);
          if (member == NULL)
            return NULL;
          json_object_set_member (object, name, member);
        }
      node = json_node_init_object (json_node_alloc (), object);
    }
  else if (c == '[')
    {
      g_autoptr (JsonArray) array = json_array_new ();

      g_assert_true (prd_json_cursor_enter (cursor, '['));
      while (prd_json_cursor_next (cursor))
        {
          JsonNode *element = cursor_build (cursor);

          if (element == NULL)
            return NULL;
          json_array_add_element (array, element);
        }
      node = json_node_init_array (json_node_alloc (), array);
    }
  else if (c == '"')
    {
      g_autoptr (GString) str = g_string_new ("stale");

      g_assert_false (prd_json_cursor_read_int (cursor, &number));
      g_assert_true (prd_json_cursor_read_string (cursor, str));
      node = json_node_init_string (json_node_alloc (), str->str);
    }
  else if (prd_json_cursor_read_int (cursor, &number))
    node = json_node_init_int (json_node_alloc (), number);
  else
    {
      const char *begin = prd_json_cursor_get_position (cursor);
      g_autofree char *literal = NULL;

      g_assert_false (prd_json_cursor_read_string (cursor, NULL));
      g_assert_true (prd_json_cursor_get_position (cursor) == begin);
      prd_json_cursor_skip (cursor);
      literal = g_strndup (begin, (gsize) (prd_json_cursor_get_position (cursor) - begin));
      if (g_str_equal (literal, "true") || g_str_equal (literal, "false"))
        node = json_node_init_boolean (json_node_alloc (), literal[0] == 't');
      else if (g_str_equal (literal, "null"))
        node = json_node_init_null (json_node_alloc ());
      else
        node = json_node_init_double (json_node_alloc (), g_ascii_strtod (literal, NULL));
    }
  g_assert_true (prd_json_cursor_get_position (cursor) == prd_json_cursor_get_position (&skipped));
  return g_steal_pointer (&node);
}

/* The cursor reads @text (accepted) as the tree @node has it. */
static gboolean
assert_cursor_reads (const char *text, gsize len, JsonNode *node)
{
  g_autoptr (JsonNode) read = NULL;
  g_autofree char *ours = NULL;
  g_autofree char *theirs = NULL;
  PrdJsonCursor cursor;

  prd_json_cursor_init (&cursor, text, len);
  read = cursor_build (&cursor);
  if (read == NULL)
    return FALSE;
  g_assert_cmpint (prd_json_cursor_peek (&cursor), ==, 0);
  g_assert_false (prd_json_cursor_next (&cursor));
  g_assert_true (json_node_equal (read, node));
  ours = prd_json_to_string (read);
  theirs = prd_json_to_string (node);
  g_assert_cmpstr (ours, ==, theirs);
  return TRUE;
}

static void
test_accepted_file (gconstpointer user_data)
{
  g_autoptr (GError) error = NULL;
  gsize len;
  g_autofree char *text = read_case (user_data, &len);
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (JsonNode) replaced = NULL;
  gboolean bad = TRUE;

  node = prd_json_parse (text, (gssize) len, 0, &error);
  g_assert_no_error (error);
  g_assert_nonnull (node);
  assert_strings_clean (node);

  replaced =
      prd_json_parse_full (text, (gssize) len, 0, PRD_JSON_PARSE_REPLACE_BAD_STRINGS, &bad, &error);
  g_assert_no_error (error);
  g_assert_false (bad);
  g_assert_true (json_node_equal (node, replaced));
  assert_same_as_json_glib (text, len, node);
}

/* The cursor reads every accepted file as the tree has it, but for those
 * with an escape in a member name, which it does not read. */
static void
test_cursor_file (gconstpointer user_data)
{
  g_autoptr (GError) error = NULL;
  gsize len;
  g_autofree char *text = read_case (user_data, &len);
  g_autoptr (JsonNode) node = prd_json_parse (text, (gssize) len, 0, &error);

  g_assert_no_error (error);
  g_assert_true (prd_json_validate (text, (gssize) len, 0, PRD_JSON_PARSE_DEFAULT, NULL, &error));
  g_assert_no_error (error);
  if (!assert_cursor_reads (text, len, node))
    g_assert_nonnull (memchr (text, '\\', len));
}

/* The cursor over the arguments of an event (values separated by commas,
 * no brackets) and what it refuses to read. */
static void
test_cursor (void)
{
  static const char args[] =
      " {\"prdId\":\"p\\u0031\", \"n\" : -42, \"skip\": [1, {\"a\": \"}]\\\"\"}, 2.5e1]},"
      "\"x\\\"y\" ,1.5, 7,true , null ";
  g_autoptr (GString) str = g_string_new (NULL);
  PrdJsonCursor cursor;
  const char *name;
  gsize len;
  gint64 number = 0;

  g_autofree char *array = g_strdup_printf ("[%s]", args);

  /* the text a cursor reads was checked */
  g_assert_true (prd_json_validate (array, -1, 0, PRD_JSON_PARSE_DEFAULT, NULL, NULL));
  prd_json_cursor_init (&cursor, args, sizeof args - 1);
  g_assert_true (prd_json_cursor_next (&cursor));
  g_assert_cmpint (prd_json_cursor_peek (&cursor), ==, '{');
  g_assert_false (prd_json_cursor_read_int (&cursor, &number));
  g_assert_false (prd_json_cursor_read_string (&cursor, str));
  g_assert_true (prd_json_cursor_enter (&cursor, '{'));

  g_assert_true (prd_json_cursor_next (&cursor));
  g_assert_true (prd_json_cursor_read_name (&cursor, &name, &len));
  g_assert_cmpmem (name, len, "prdId", 5);
  g_assert_true (prd_json_cursor_read_string (&cursor, str));
  g_assert_cmpstr (str->str, ==, "p1");

  g_assert_true (prd_json_cursor_next (&cursor));
  g_assert_true (prd_json_cursor_read_name (&cursor, &name, &len));
  g_assert_cmpmem (name, len, "n", 1);
  g_assert_true (prd_json_cursor_read_int (&cursor, &number));
  g_assert_cmpint (number, ==, -42);

  g_assert_true (prd_json_cursor_next (&cursor));
  g_assert_true (prd_json_cursor_read_name (&cursor, &name, &len));
  g_assert_cmpmem (name, len, "skip", 4);
  prd_json_cursor_skip (&cursor);
  g_assert_false (prd_json_cursor_next (&cursor)); /* the object's '}' */

  g_assert_true (prd_json_cursor_next (&cursor));
  g_assert_true (prd_json_cursor_read_string (&cursor, str));
  g_assert_cmpstr (str->str, ==, "x\"y");
  g_assert_true (prd_json_cursor_next (&cursor));
  g_assert_false (prd_json_cursor_read_int (&cursor, &number)); /* 1.5 */
  g_assert_cmpint (number, ==, -42);
  prd_json_cursor_skip (&cursor);
  g_assert_true (prd_json_cursor_next (&cursor));
  g_assert_true (prd_json_cursor_read_int (&cursor, &number));
  g_assert_cmpint (number, ==, 7);
  g_assert_true (prd_json_cursor_next (&cursor));
  g_assert_cmpint (prd_json_cursor_peek (&cursor), ==, 't');
  g_assert_false (prd_json_cursor_enter (&cursor, '['));
  prd_json_cursor_skip (&cursor);
  g_assert_true (prd_json_cursor_next (&cursor));
  g_assert_cmpint (prd_json_cursor_peek (&cursor), ==, 'n');
  prd_json_cursor_skip (&cursor);
  g_assert_false (prd_json_cursor_next (&cursor));
  g_assert_cmpint (prd_json_cursor_peek (&cursor), ==, 0);
  /* stepping over nothing at the end moves nothing */
  prd_json_cursor_skip (&cursor);
  g_assert_false (prd_json_cursor_next (&cursor));

  /* an escaped member name is not read, and the cursor stays */
  {
    static const char escaped[] = "{\"l\\u0061st\": 1}";
    const char *before;

    prd_json_cursor_init (&cursor, escaped, sizeof escaped - 1);
    g_assert_true (prd_json_cursor_enter (&cursor, '{'));
    g_assert_true (prd_json_cursor_next (&cursor));
    before = prd_json_cursor_get_position (&cursor);
    g_assert_false (prd_json_cursor_read_name (&cursor, &name, &len));
    g_assert_true (prd_json_cursor_get_position (&cursor) == before);
  }

  /* an empty list, and empty containers */
  prd_json_cursor_init (&cursor, "  ", 2);
  g_assert_false (prd_json_cursor_next (&cursor));
  prd_json_cursor_init (&cursor, "[ ],{}", 6);
  g_assert_true (prd_json_cursor_next (&cursor));
  g_assert_true (prd_json_cursor_enter (&cursor, '['));
  g_assert_false (prd_json_cursor_next (&cursor));
  g_assert_true (prd_json_cursor_next (&cursor));
  g_assert_true (prd_json_cursor_enter (&cursor, '{'));
  g_assert_false (prd_json_cursor_next (&cursor));
  g_assert_false (prd_json_cursor_next (&cursor));

  /* a number at the very end of a text that is not nul-terminated */
  prd_json_cursor_init (&cursor, "[12]", 3);
  g_assert_true (prd_json_cursor_enter (&cursor, '['));
  g_assert_true (prd_json_cursor_next (&cursor));
  g_assert_true (prd_json_cursor_read_int (&cursor, &number));
  g_assert_cmpint (number, ==, 12);
  g_assert_false (prd_json_cursor_next (&cursor));
}

/* prd_json_validate() and prd_json_build_checked() are prd_json_parse_full()
 * in two steps: the same errors, the same trees. */
static void
test_validate_then_build (void)
{
  static const char *const texts[] = {
    "[1,2]", "{\"a\":\"\\ud800\"}", "[1,", "{\"a\":1}x", "\"\\u0000\"", "12345",
  };

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    for (PrdJsonParseFlags flags = 0; flags <= PRD_JSON_PARSE_REPLACE_BAD_STRINGS; flags += 2)
      {
        g_autoptr (GError) parse_error = NULL;
        g_autoptr (GError) validate_error = NULL;
        gboolean parse_bad = FALSE, validate_bad = FALSE;
        gssize len = i == G_N_ELEMENTS (texts) - 1 ? 3 : -1;
        g_autoptr (JsonNode) parsed =
            prd_json_parse_full (texts[i], len, 0, flags, &parse_bad, &parse_error);
        gboolean valid =
            prd_json_validate (texts[i], len, 0, flags, &validate_bad, &validate_error);

        g_assert_cmpint (valid, ==, parsed != NULL);
        g_assert_cmpint (validate_bad, ==, parse_bad);
        if (!valid)
          {
            g_assert_error (validate_error, PRD_ERROR, parse_error->code);
            g_assert_cmpstr (validate_error->message, ==, parse_error->message);
          }
        else
          {
            g_autoptr (JsonNode) built = prd_json_build_checked (texts[i], len, flags);

            g_assert_true (json_node_equal (built, parsed));
          }
      }
}

static void
test_refused_file (gconstpointer user_data)
{
  g_autoptr (GError) error = NULL;
  gsize len;
  g_autofree char *text = read_case (user_data, &len);
  g_autoptr (JsonNode) node = NULL;
  gboolean bad = TRUE;

  node = prd_json_parse (text, (gssize) len, 0, &error);
  g_assert_null (node);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_test_message ("%s: %s", (const char *) user_data, error->message);
  g_clear_error (&error);

  /* grammar comes first: a bad string does not make invalid JSON usable */
  node =
      prd_json_parse_full (text, (gssize) len, 0, PRD_JSON_PARSE_REPLACE_BAD_STRINGS, &bad, &error);
  g_assert_null (node);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_assert_false (bad);
}

static void
test_bad_strings_file (gconstpointer user_data)
{
  const char *path = user_data;
  g_autoptr (GError) error = NULL;
  gsize len;
  g_autofree char *text = read_case (path, &len);
  g_autofree char *stem = g_strndup (path, strlen (path) - strlen (".json"));
  g_autofree char *expected_path = g_strconcat (stem, ".expected", NULL);
  g_autofree char *expected = read_case (expected_path, NULL);
  g_autofree char *written = NULL;
  g_autoptr (JsonNode) node = NULL;
  gboolean bad = FALSE;

  node = prd_json_parse (text, (gssize) len, 0, &error);
  g_assert_null (node);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_assert_true (g_str_has_prefix (error->message, "Unusable JSON string at offset "));
  g_test_message ("%s: %s", path, error->message);
  g_clear_error (&error);

  node =
      prd_json_parse_full (text, (gssize) len, 0, PRD_JSON_PARSE_REPLACE_BAD_STRINGS, &bad, &error);
  g_assert_no_error (error);
  g_assert_nonnull (node);
  g_assert_true (bad);
  assert_strings_clean (node);
  written = json_to_string (node, FALSE);
  g_strchomp (expected);
  g_assert_cmpstr (written, ==, expected);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static guint
add_corpus (const char *prefix, const char *kind, GTestDataFunc func)
{
  g_autofree char *dir_path = g_test_build_filename (G_TEST_DIST, "data", "json", NULL);
  g_autoptr (GDir) dir = g_dir_open (dir_path, 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, prefix) && g_str_has_suffix (name, ".json"))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    {
      const char *file = g_ptr_array_index (names, i);
      g_autofree char *stem = g_strndup (file, strlen (file) - strlen (".json"));
      g_autofree char *test_path = g_strdup_printf ("/prd/json/%s/%s", kind, stem);

      g_test_add_data_func_full (test_path, g_build_filename (dir_path, file, NULL), func, g_free);
    }
  return names->len;
}

/* @depth arrays (or objects, each one member deep) around a 1. */
static char *
nested (guint depth, gboolean objects)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; i < depth; i++)
    g_string_append (text, objects ? "{\"a\":" : "[");
  g_string_append (text, "1");
  for (guint i = 0; i < depth; i++)
    g_string_append_c (text, objects ? '}' : ']');
  return g_string_free (text, FALSE);
}

static void
test_depth (void)
{
  for (int objects = 0; objects < 2; objects++)
    {
      g_autofree char *ok_text = nested (PRD_JSON_MAX_DEPTH, objects);
      g_autofree char *deep_text = nested (PRD_JSON_MAX_DEPTH + 1, objects);
      g_autoptr (JsonNode) ok = NULL;
      g_autoptr (JsonNode) deep = NULL;
      g_autoptr (GError) error = NULL;
      JsonNode *node;
      guint levels = 0;

      g_assert_cmpint (PRD_JSON_MAX_DEPTH, ==, 64);
      ok = prd_json_parse (ok_text, -1, 0, &error);
      g_assert_no_error (error);
      for (node = ok; !JSON_NODE_HOLDS_VALUE (node); levels++)
        node = objects ? json_object_get_member (json_node_get_object (node), "a")
                       : json_array_get_element (json_node_get_array (node), 0);
      g_assert_cmpuint (levels, ==, 64);

      deep = prd_json_parse (deep_text, -1, 0, &error);
      g_assert_null (deep);
      g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
      g_assert_nonnull (strstr (error->message, "nesting too deep"));
    }
}

/* json-glib alone overflows the stack on these (issue 9, item 1). */
static void
test_pathological_nesting (void)
{
  static const char *const units[] = { "[", "{\"a\":", "[{\"a\":", "[\"\\u0000\"," };

  for (guint u = 0; u < G_N_ELEMENTS (units); u++)
    {
      g_autoptr (GString) text = g_string_new (NULL);
      g_autoptr (JsonNode) node = NULL;
      g_autoptr (GError) error = NULL;
      gboolean bad = TRUE;

      for (guint i = 0; i < 100000; i++)
        g_string_append (text, units[u]);
      node = prd_json_parse (text->str, (gssize) text->len, 0, &error);
      g_assert_null (node);
      g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
      g_clear_error (&error);

      /* the same, balanced: still too deep */
      for (guint i = 0; i < 100000; i++)
        g_string_append_c (text, units[u][0] == '{' ? '}' : ']');
      node = prd_json_parse_full (text->str, (gssize) text->len, G_MAXSIZE,
                                  PRD_JSON_PARSE_REPLACE_BAD_STRINGS, &bad, &error);
      g_assert_null (node);
      g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
      g_assert_false (bad);
    }
}

static void
test_size_limit (void)
{
  static const char text[] = "{\"title\":\"0123456789\"}";
  gsize len = strlen (text);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (GString) big = NULL;

  node = prd_json_parse (text, (gssize) len, len, &error);
  g_assert_no_error (error);
  g_clear_pointer (&node, json_node_unref);

  node = prd_json_parse (text, (gssize) len, len - 1, &error);
  g_assert_null (node);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PAYLOAD_TOO_LARGE);
  g_clear_error (&error);

  /* -1: nul-terminated, the same limit */
  node = prd_json_parse (text, -1, len - 1, &error);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PAYLOAD_TOO_LARGE);
  g_clear_error (&error);

  /* 0: the default limit */
  big = g_string_new ("\"");
  while (big->len < PRD_JSON_DEFAULT_MAX_SIZE - 1)
    g_string_append (big, "xxxxxxxxxxxxxxxx");
  g_string_truncate (big, PRD_JSON_DEFAULT_MAX_SIZE - 1);
  g_string_append_c (big, '"');
  node = prd_json_parse (big->str, (gssize) big->len, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (json_node_get_string (node)), ==, PRD_JSON_DEFAULT_MAX_SIZE - 2);
  g_clear_pointer (&node, json_node_unref);
  g_string_insert_c (big, 1, 'x');
  node = prd_json_parse (big->str, (gssize) big->len, 0, &error);
  g_assert_null (node);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PAYLOAD_TOO_LARGE);
}

/* @len bounds the text: what follows it is never read. */
static void
test_length (void)
{
  static const char text[] = "{\"a\":1}garbage";
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = NULL;

  node = prd_json_parse (text, 7, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (node), "a"), ==, 1);
  g_clear_pointer (&node, json_node_unref);

  node = prd_json_parse (text, -1, 0, &error);
  g_assert_null (node);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_clear_error (&error);

  node = prd_json_parse (NULL, 0, 0, &error);
  g_assert_null (node);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
}

static void
test_strings (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) pair = NULL;
  g_autoptr (JsonNode) text = NULL;

  /* a surrogate pair is one character */
  pair = prd_json_parse ("\"\\ud83d\\ude00\"", -1, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_node_get_string (pair), ==, "\xf0\x9f\x98\x80");

  /* an escaped backslash before u0000 is text, not an escape */
  text = prd_json_parse ("\"\\\\u0000\"", -1, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_node_get_string (text), ==, "\\u0000");
}

static void
test_mutability (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) mutable_node = prd_json_parse ("{\"a\":[1]}", -1, 0, &error);
  g_autoptr (JsonNode) sealed = NULL;

  g_assert_no_error (error);
  g_assert_false (json_node_is_immutable (mutable_node));
  json_object_set_int_member (json_node_get_object (mutable_node), "b", 2);

  sealed = prd_json_parse_full ("{\"a\":[1]}", -1, 0, PRD_JSON_PARSE_IMMUTABLE, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (json_node_is_immutable (sealed));
}

/* The writer: what json-glib 1.6's own writer gets wrong (U+001F raw, 1e308
 * as "1e+308.0") comes out as JSON, and everything reads back the same. */
static void
test_write (void)
{
  static const struct
  {
    const char *in;
    const char *out;
  } cases[] = {
    { "[\"\\u001f\\u0001\\u001e\"]", "[\"\\u001f\\u0001\\u001e\"]" },
    { "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\\"\\\\/\\b\\f\\n\\r\\t\"" },
    { "[1e308,1.5e3,-0.01,0.5,-0.0,1e-400]", "[1e+308,1500.0,-0.01,0.5,-0.0,0.0]" },
    { "[9223372036854775807,-9223372036854775808,0]",
      "[9223372036854775807,-9223372036854775808,0]" },
    { "{\"b\":true,\"a\":[null,false,{}],\"\\u00e9\":\"\u00e9\"}",
      "{\"b\":true,\"a\":[null,false,{}],\"\u00e9\":\"\u00e9\"}" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (JsonNode) node = prd_json_parse (cases[i].in, -1, 0, &error);
      g_autoptr (JsonNode) again = NULL;
      g_autofree char *out = NULL;

      g_assert_no_error (error);
      out = prd_json_to_string (node);
      g_assert_cmpstr (out, ==, cases[i].out);
      again = prd_json_parse (out, -1, 0, &error);
      g_assert_no_error (error);
      g_assert_true (json_node_equal (node, again));
    }
}

/* The writer as it was before it wrote runs of plain bytes in one append:
 * one byte at a time. The direct writer must give exactly its text. */
static void
reference_write_string (GString *out, const char *str)
{
  g_string_append_c (out, '"');
  for (const guchar *p = (const guchar *) str; *p != '\0'; p++)
    switch (*p)
      {
        case '"':
          g_string_append (out, "\\\"");
          break;
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '\b':
          g_string_append (out, "\\b");
          break;
        case '\f':
          g_string_append (out, "\\f");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        case '\t':
          g_string_append (out, "\\t");
          break;
        default:
          if (*p < 0x20)
            g_string_append_printf (out, "\\u%04x", *p);
          else
            g_string_append_c (out, (char) *p);
      }
  g_string_append_c (out, '"');
}

/* A random string of characters JSON writers get wrong: controls, quotes,
 * backslashes, DEL, U+2028, two- and three-byte characters and characters
 * outside the BMP (a surrogate pair in UTF-16). */
static char *
random_awkward_string (guint max_chars)
{
  static const gunichar specials[] = { '"',    '\\',   '/',    0x7f,   0x80,    0xe9,    0x2028,
                                       0x2029, 0xfeff, 0xfffd, 0xffff, 0x10000, 0x1f600, 0x10ffff };
  GString *out = g_string_new (NULL);
  guint n = (guint) g_test_rand_int_range (0, (gint32) max_chars + 1);

  for (guint i = 0; i < n; i++)
    {
      gunichar c;

      switch (g_test_rand_int_range (0, 5))
        {
          case 0:
            c = (gunichar) g_test_rand_int_range (1, 0x20); /* a control character */
            break;
          case 1:
            c = specials[g_test_rand_int_range (0, G_N_ELEMENTS (specials))];
            break;
          case 2:
            c = (gunichar) g_test_rand_int_range (0x10000, 0x110000);
            break;
          case 3:
            do
              c = (gunichar) g_test_rand_int_range (0x80, 0x10000);
            while (c >= 0xd800 && c <= 0xdfff);
            break;
          default:
            c = (gunichar) g_test_rand_int_range (0x20, 0x7f);
            break;
        }
      g_string_append_unichar (out, c);
    }
  return g_string_free (out, FALSE);
}

static void
test_write_string_direct (void)
{
  static const char *const fixed[] = {
    "",     "a", "\"", "\\", "\x1f", "\x1e\x01", "a\"b\\c\nd", "\xf0\x9f\x98\x80", "\xe2\x80\xa8",
    "\x7f",
  };

  for (guint i = 0; i < G_N_ELEMENTS (fixed) + 2000; i++)
    {
      g_autofree char *str =
          i < G_N_ELEMENTS (fixed) ? g_strdup (fixed[i]) : random_awkward_string (i % 3 ? 8 : 200);
      g_autoptr (GString) direct = g_string_new ("x");
      g_autoptr (GString) reference = g_string_new ("x");
      g_autoptr (JsonNode) node = json_node_init_string (json_node_alloc (), str);
      g_autofree char *tree = prd_json_to_string (node);
      g_autoptr (JsonNode) again = NULL;
      g_autoptr (GError) error = NULL;

      prd_json_write_string (direct, str);
      reference_write_string (reference, str);
      g_assert_cmpstr (direct->str, ==, reference->str);
      g_assert_cmpstr (direct->str + 1, ==, tree);
      again = prd_json_parse (direct->str + 1, -1, 0, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (json_node_get_string (again), ==, str);
    }
}

static void
test_write_int_direct (void)
{
  for (guint i = 0; i < 5000; i++)
    {
      gint64 value;
      g_autoptr (GString) direct = g_string_new ("[");
      g_autofree char *expected = NULL;

      switch (i)
        {
          case 0:
            value = G_MININT64;
            break;
          case 1:
            value = G_MAXINT64;
            break;
          case 2:
            value = 0;
            break;
          case 3:
            value = G_MAXUINT32;
            break;
          default:
            /* every magnitude: a random 64-bit value shifted right by 0..63 */
            value = (gint64) (((guint64) g_test_rand_int () << 32 | (guint32) g_test_rand_int ()) >>
                              (i % 64));
            break;
        }
      expected = g_strdup_printf ("[%" G_GINT64_FORMAT, value);
      prd_json_write_int (direct, value);
      g_assert_cmpstr (direct->str, ==, expected);
    }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_assert_cmpuint (add_corpus ("y_", "accepted", test_accepted_file), >=, 10);
  add_corpus ("y_", "cursor", test_cursor_file);
  g_assert_cmpuint (add_corpus ("n_", "refused", test_refused_file), >=, 30);
  g_assert_cmpuint (add_corpus ("b_", "bad-strings", test_bad_strings_file), >=, 10);
  g_test_add_func ("/prd/json/depth", test_depth);
  g_test_add_func ("/prd/json/cursor", test_cursor);
  g_test_add_func ("/prd/json/validate-then-build", test_validate_then_build);
  g_test_add_func ("/prd/json/same-tree", test_same_tree);
  g_test_add_func ("/prd/json/write-integers", test_write_integers);
  g_test_add_func ("/prd/json/unterminated-number", test_unterminated_number);
  g_test_add_func ("/prd/json/pathological-nesting", test_pathological_nesting);
  g_test_add_func ("/prd/json/size-limit", test_size_limit);
  g_test_add_func ("/prd/json/length", test_length);
  g_test_add_func ("/prd/json/strings", test_strings);
  g_test_add_func ("/prd/json/mutability", test_mutability);
  g_test_add_func ("/prd/json/write", test_write);
  g_test_add_func ("/prd/json/write-string-direct", test_write_string_direct);
  g_test_add_func ("/prd/json/write-int-direct", test_write_int_direct);

  return g_test_run ();
}
