/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-test"

#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "prd-error.h"
#include "prd-crdt.h"
#include "test-crdt-trace.h"

/*
 * Encoded document states for the JavaScript SDK's decoder
 * (tests/data/sdk-states): the SDK starts from the hub's exact CRDT state,
 * sent as prd_crdt_doc_encode_state() bytes, so its decoder is checked
 * against states this engine wrote.
 *
 * Each file: { name, encodedState, encodedStateDropped (base64, with
 * PRD_CRDT_ENCODE_DROP_DELETED_TEXT), expectedText, expectedStateVector }.
 * The states are those of the shared CRDT vectors (all operations applied in
 * the hub's order) and of editing trace prefixes (the sequential sveltecomponent
 * trace: typing runs, backspace and forward-delete runs; a prefix of the
 * concurrent clownschool trace).
 *
 *   test-sdk-states                  check that every stored state decodes here
 *   test-sdk-states --generate DIR   write the states again
 */

static JsonNode *
state_json (const char *name, PrdCrdtDoc *doc)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (GBytes) full = prd_crdt_doc_encode_state (doc, PRD_CRDT_ENCODE_DEFAULT);
  g_autoptr (GBytes) dropped = prd_crdt_doc_encode_state (doc, PRD_CRDT_ENCODE_DROP_DELETED_TEXT);
  g_autofree char *b64 = NULL;
  g_autofree char *b64d = NULL;
  g_autofree char *text = prd_crdt_doc_get_text (doc);
  g_autoptr (GArray) vector = prd_crdt_doc_get_state_vector (doc);
  gsize size;
  const guint8 *data;

  data = g_bytes_get_data (full, &size);
  b64 = g_base64_encode (data, size);
  data = g_bytes_get_data (dropped, &size);
  b64d = g_base64_encode (data, size);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, name);
  json_builder_set_member_name (b, "encodedState");
  json_builder_add_string_value (b, b64);
  json_builder_set_member_name (b, "encodedStateDropped");
  json_builder_add_string_value (b, b64d);
  json_builder_set_member_name (b, "expectedText");
  json_builder_add_string_value (b, text);
  json_builder_set_member_name (b, "expectedStateVector");
  json_builder_begin_array (b);
  for (guint i = 0; i < vector->len; i++)
    json_builder_add_int_value (b, g_array_index (vector, guint32, i));
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static gboolean
write_state (const char *dir, const char *name, PrdCrdtDoc *doc, GError **error)
{
  g_autoptr (JsonNode) root = state_json (name, doc);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autofree char *file = g_strdup_printf ("%s.json", name);
  g_autofree char *path = g_build_filename (dir, file, NULL);

  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  return json_generator_to_file (gen, path, error);
}

static PrdCrdtDoc *
doc_from_vector (const char *path, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (PrdCrdtDoc) doc = prd_crdt_doc_new ();
  JsonArray *ops;

  if (!json_parser_load_from_file (parser, path, error))
    return NULL;
  ops = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)),
                                      "operations");
  for (guint i = 0; i < json_array_get_length (ops); i++)
    {
      g_autoptr (PrdCrdtOp) op = prd_crdt_op_from_json (json_array_get_element (ops, i), error);
      if (op == NULL || !prd_crdt_doc_apply_remote (doc, op, NULL, error))
        return NULL;
    }
  return g_steal_pointer (&doc);
}

/* Replays the first @n_txns transactions of a trace (all when 0). */
static PrdCrdtDoc *
doc_from_trace (const char *name, guint n_txns, GError **error)
{
  g_autofree char *path = prd_trace_path (SOURCE_ROOT, name);
  g_autoptr (PrdTrace) trace = prd_trace_load (path, error);
  g_autoptr (PrdCrdtDoc) doc = prd_crdt_doc_new ();

  if (trace == NULL)
    return NULL;
  if (n_txns > 0 && n_txns < trace->n_txns)
    trace->n_txns = n_txns;
  if (!prd_trace_replay (doc, trace, FALSE, NULL, NULL, error))
    return NULL;
  return g_steal_pointer (&doc);
}

static int
generate (const char *dir)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *vdir = g_build_filename (SOURCE_ROOT, "tests", "data", "crdt-vectors", NULL);
  g_autoptr (GDir) d = g_dir_open (vdir, 0, &error);
  const char *entry;
  const struct
  {
    const char *trace;
    guint n_txns;
    const char *name;
  } traces[] = {
    { "sveltecomponent", 5000, "trace-sveltecomponent-5000" },
    { "clownschool", 4000, "trace-clownschool-4000" },
  };

  if (d == NULL)
    g_error ("%s", error->message);
  while ((entry = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *name = NULL;
      g_autoptr (PrdCrdtDoc) doc = NULL;

      if (!g_str_has_suffix (entry, ".json"))
        continue;
      path = g_build_filename (vdir, entry, NULL);
      name = g_strndup (entry, strlen (entry) - 5);
      doc = doc_from_vector (path, &error);
      if (doc == NULL || !write_state (dir, name, doc, &error))
        g_error ("%s: %s", entry, error->message);
    }
  for (guint i = 0; i < G_N_ELEMENTS (traces); i++)
    {
      g_autoptr (PrdCrdtDoc) doc = doc_from_trace (traces[i].trace, traces[i].n_txns, &error);
      if (doc == NULL || !write_state (dir, traces[i].name, doc, &error))
        g_error ("%s: %s", traces[i].trace, error->message);
    }
  return 0;
}

/* ---- checking ------------------------------------------------------------- */

static void
check_one (const char *path, const char *member)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (PrdCrdtDoc) doc = NULL;
  g_autoptr (GArray) vector = NULL;
  g_autofree guint8 *data = NULL;
  g_autofree char *text = NULL;
  JsonObject *obj;
  JsonArray *want;
  gsize size;

  g_assert_true (json_parser_load_from_file (parser, path, &error));
  g_assert_no_error (error);
  obj = json_node_get_object (json_parser_get_root (parser));
  data = g_base64_decode (json_object_get_string_member (obj, member), &size);
  doc = prd_crdt_doc_decode_state (data, size, &error);
  g_assert_no_error (error);
  text = prd_crdt_doc_get_text (doc);
  g_assert_cmpstr (text, ==, json_object_get_string_member (obj, "expectedText"));
  vector = prd_crdt_doc_get_state_vector (doc);
  want = json_object_get_array_member (obj, "expectedStateVector");
  g_assert_cmpuint (vector->len, ==, json_array_get_length (want));
  for (guint i = 0; i < vector->len; i++)
    g_assert_cmpint (g_array_index (vector, guint32, i), ==, json_array_get_int_element (want, i));
}

static void
test_states (void)
{
  g_autofree char *dir = g_build_filename (SOURCE_ROOT, "tests", "data", "sdk-states", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) d = g_dir_open (dir, 0, &error);
  const char *entry;
  guint n = 0;

  g_assert_no_error (error);
  while ((entry = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = NULL;
      if (!g_str_has_suffix (entry, ".json"))
        continue;
      path = g_build_filename (dir, entry, NULL);
      check_one (path, "encodedState");
      check_one (path, "encodedStateDropped");
      n++;
    }
  g_assert_cmpuint (n, >=, 10);
}

int
main (int argc, char **argv)
{
  if (argc == 3 && g_str_equal (argv[1], "--generate"))
    return generate (argv[2]);

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/prd/sdk-states/decode", test_states);
  return g_test_run ();
}
