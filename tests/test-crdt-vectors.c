/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-test"

#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "prd-error.h"
#include "prd-crdt.h"

/*
 * Shared CRDT test vectors (the JSON files in tests/data/crdt-vectors, described in
 * tests/data/crdt-vectors/README.md). Every implementation of the algorithm
 * (this one, the JavaScript client SDK) must reproduce them exactly.
 *
 *   test-crdt-vectors                  check every vector
 *   test-crdt-vectors --generate DIR   write the vectors again
 */

/* ---- generation --------------------------------------------------------- */

typedef struct
{
  guint32 site;
  GArray *base;
  gboolean is_insert;
  guint32 pos;
  guint32 len;
  char *text;
} Edit;

static void
edit_free (gpointer p)
{
  Edit *e = p;
  g_array_unref (e->base);
  g_free (e->text);
  g_free (e);
}

typedef struct
{
  guint n_sites;
  PrdCrdtDoc *hub;
  PrdCrdtDoc *clients[8];
  GQueue to_hub[8];
  GPtrArray *inbox[8]; /* ops not yet seen, in hub order */
  GPtrArray *ops;      /* (element-type PrdCrdtOp) in hub order */
  JsonBuilder *inputs;
} Sim;

static void
sim_init (Sim *sim, guint n_sites)
{
  memset (sim, 0, sizeof *sim);
  sim->n_sites = n_sites;
  sim->hub = prd_crdt_doc_new ();
  for (guint i = 0; i < n_sites; i++)
    {
      sim->clients[i] = prd_crdt_doc_new ();
      g_queue_init (&sim->to_hub[i]);
      sim->inbox[i] = g_ptr_array_new ();
    }
  sim->ops = g_ptr_array_new_with_free_func ((GDestroyNotify) prd_crdt_op_free);
  sim->inputs = json_builder_new ();
  json_builder_begin_array (sim->inputs);
}

static void
sim_clear (Sim *sim)
{
  prd_crdt_doc_free (sim->hub);
  for (guint i = 0; i < sim->n_sites; i++)
    {
      prd_crdt_doc_free (sim->clients[i]);
      g_queue_clear_full (&sim->to_hub[i], edit_free);
      g_ptr_array_unref (sim->inbox[i]);
    }
  g_ptr_array_unref (sim->ops);
  g_object_unref (sim->inputs);
}

static gboolean
sim_edit (Sim *sim, guint32 site, gboolean is_insert, guint32 pos, guint32 len, const char *text)
{
  PrdCrdtDoc *c = sim->clients[site];
  Edit *e = g_new0 (Edit, 1);
  g_autoptr (GError) error = NULL;
  gboolean ok;

  e->site = site;
  e->base = prd_crdt_doc_get_state_vector (c);
  e->is_insert = is_insert;
  e->pos = pos;
  e->len = len;
  e->text = g_strdup (text);
  if (is_insert)
    ok = prd_crdt_doc_apply_local_insert (c, site, (guint32 *) (void *) e->base->data, e->base->len,
                                          pos, text, -1, 0, NULL, &error);
  else
    ok = prd_crdt_doc_apply_local_delete (c, site, (guint32 *) (void *) e->base->data, e->base->len,
                                          pos, len, 0, NULL, &error);
  if (!ok)
    {
      edit_free (e);
      return FALSE;
    }
  g_queue_push_tail (&sim->to_hub[site], e);
  return TRUE;
}

static void
sim_hub (Sim *sim, guint32 site)
{
  Edit *e = g_queue_pop_head (&sim->to_hub[site]);
  PrdCrdtOp *op = NULL;
  g_autoptr (GError) error = NULL;
  const guint32 *base = (guint32 *) (void *) e->base->data;

  if (e->is_insert)
    g_assert_true (prd_crdt_doc_apply_local_insert (sim->hub, site, base, e->base->len, e->pos,
                                                    e->text, -1, 0, &op, &error));
  else
    g_assert_true (prd_crdt_doc_apply_local_delete (sim->hub, site, base, e->base->len, e->pos,
                                                    e->len, 0, &op, &error));
  g_assert_no_error (error);
  g_ptr_array_add (sim->ops, op);
  for (guint i = 0; i < sim->n_sites; i++)
    if (i != site)
      g_ptr_array_add (sim->inbox[i], op);

  json_builder_begin_object (sim->inputs);
  json_builder_set_member_name (sim->inputs, "site");
  json_builder_add_int_value (sim->inputs, site);
  json_builder_set_member_name (sim->inputs, "baseVector");
  json_builder_add_value (sim->inputs, prd_crdt_vector_to_json (base, e->base->len));
  json_builder_set_member_name (sim->inputs, "operation");
  json_builder_begin_object (sim->inputs);
  json_builder_set_member_name (sim->inputs, "type");
  json_builder_add_string_value (sim->inputs, e->is_insert ? "insert" : "delete");
  json_builder_set_member_name (sim->inputs, "position");
  json_builder_add_int_value (sim->inputs, e->pos);
  if (e->is_insert)
    {
      json_builder_set_member_name (sim->inputs, "content");
      json_builder_add_string_value (sim->inputs, e->text);
    }
  else
    {
      json_builder_set_member_name (sim->inputs, "length");
      json_builder_add_int_value (sim->inputs, e->len);
    }
  json_builder_end_object (sim->inputs);
  json_builder_set_member_name (sim->inputs, "expected");
  json_builder_add_value (sim->inputs, prd_crdt_op_to_json (op));
  json_builder_end_object (sim->inputs);
  edit_free (e);
}

static void
sim_sync (Sim *sim, guint32 site)
{
  for (guint i = 0; i < sim->inbox[site]->len; i++)
    g_assert_true (
        prd_crdt_doc_apply_remote (sim->clients[site], sim->inbox[site]->pdata[i], NULL, NULL));
  g_ptr_array_set_size (sim->inbox[site], 0);
}

static void
sim_flush (Sim *sim)
{
  for (guint s = 0; s < sim->n_sites; s++)
    while (!g_queue_is_empty (&sim->to_hub[s]))
      sim_hub (sim, s);
  for (guint s = 0; s < sim->n_sites; s++)
    sim_sync (sim, s);
}

/* A script: "e S i POS TEXT" / "e S d POS LEN" (site S edits its replica),
 * "h S" (the hub takes S's next edit), "s S" (S receives what it missed). */
static void
sim_script (Sim *sim, const char *const *lines)
{
  for (guint i = 0; lines[i]; i++)
    {
      g_auto (GStrv) w = g_strsplit (lines[i], " ", 5);
      guint32 site = atoi (w[1]);
      if (w[0][0] == 'e')
        g_assert_true (sim_edit (sim, site, w[2][0] == 'i', atoi (w[3]),
                                 w[2][0] == 'd' ? atoi (w[4]) : 0, w[2][0] == 'i' ? w[4] : NULL));
      else if (w[0][0] == 'h')
        sim_hub (sim, site);
      else
        sim_sync (sim, site);
    }
}

static const char *const snippets[] = { "a",        "b",        "xy", "hello", "\xf0\x9f\x98\x80",
                                        "\xc3\xa9", "12345678", "Z",  " ",     "\n" };

static void
sim_random (Sim *sim, GRand *rand, guint n_steps)
{
  guint step = 0;

  while (step < n_steps)
    {
      guint who = g_rand_int_range (rand, 0, sim->n_sites);
      guint action = g_rand_int_range (rand, 0, 3);

      if (action == 0)
        {
          PrdCrdtDoc *c = sim->clients[who];
          guint32 len = prd_crdt_doc_get_length (c);
          guint32 near = g_rand_int_range (rand, 0, 3);
          guint32 pos = g_rand_boolean (rand) ? MIN (len, near)
                                              : (guint32) g_rand_int_range (rand, 0, len + 1);
          step++;
          if (len == 0 || pos == len || g_rand_int_range (rand, 0, 3) > 0)
            sim_edit (sim, who, TRUE, pos, 0,
                      snippets[g_rand_int_range (rand, 0, G_N_ELEMENTS (snippets))]);
          else
            {
              guint32 most = MIN (len - pos, 6);
              sim_edit (sim, who, FALSE, pos, g_rand_int_range (rand, 1, most + 1), NULL);
            }
        }
      else if (action == 1 && !g_queue_is_empty (&sim->to_hub[who]))
        sim_hub (sim, who);
      else if (action == 2)
        sim_sync (sim, who);
    }
  sim_flush (sim);
}

static void
write_case (Sim *sim, GRand *rand, const char *dir, const char *name, const char *description)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = prd_crdt_doc_get_text (sim->hub);
  g_autoptr (GArray) vec = prd_crdt_doc_get_state_vector (sim->hub);
  g_autofree char *file = g_strconcat (name, ".json", NULL);
  g_autofree char *path = g_build_filename (dir, file, NULL);
  g_autoptr (GError) error = NULL;
  guint n = sim->ops->len;

  /* every replica agrees before anything is written */
  for (guint i = 0; i < sim->n_sites; i++)
    {
      g_autofree char *t = prd_crdt_doc_get_text (sim->clients[i]);
      g_assert_cmpstr (t, ==, text);
    }

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, name);
  json_builder_set_member_name (b, "description");
  json_builder_add_string_value (b, description);
  json_builder_set_member_name (b, "sites");
  json_builder_add_int_value (b, sim->n_sites);
  json_builder_set_member_name (b, "hubInputs");
  json_builder_end_array (sim->inputs);
  json_builder_add_value (b, json_builder_get_root (sim->inputs));
  json_builder_set_member_name (b, "operations");
  json_builder_begin_array (b);
  for (guint i = 0; i < n; i++)
    json_builder_add_value (b, prd_crdt_op_to_json (sim->ops->pdata[i]));
  json_builder_end_array (b);
  json_builder_set_member_name (b, "deliveries");
  json_builder_begin_array (b);
  for (guint d = 0; d < 4; d++)
    {
      g_autofree guint *order = g_new (guint, n + 1);
      for (guint i = 0; i < n; i++)
        order[i] = d == 0 ? i : d == 1 ? n - 1 - i : i;
      if (d >= 2)
        for (guint i = n; i > 1; i--)
          {
            guint j = g_rand_int_range (rand, 0, i), t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
          }
      json_builder_begin_array (b);
      for (guint i = 0; i < n; i++)
        {
          json_builder_add_int_value (b, order[i]);
          if (d == 3 && g_rand_int_range (rand, 0, 4) == 0) /* duplicates */
            json_builder_add_int_value (b, order[g_rand_int_range (rand, 0, i + 1)]);
        }
      json_builder_end_array (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "expectedText");
  json_builder_add_string_value (b, text);
  json_builder_set_member_name (b, "expectedStateVector");
  json_builder_add_value (b, prd_crdt_vector_to_json ((guint32 *) (void *) vec->data, vec->len));
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_indent (gen, 1);
  if (!json_generator_to_file (gen, path, &error))
    g_error ("%s", error->message);
}

static int
generate (const char *dir)
{
  struct
  {
    const char *name;
    const char *description;
    guint sites;
    const char *script[16];
  } scripted[] = {
    { "same-position",
      "Three sites insert at the same position concurrently",
      3,
      { "e 0 i 0 base", "h 0", "s 1", "s 2", "e 0 i 2 A", "e 1 i 2 B", "e 2 i 2 C", "e 2 i 3 c",
        "h 2", "h 1", "h 0", "h 2", NULL } },
    { "delete-while-inserting",
      "One site deletes a range another is typing into",
      2,
      { "e 0 i 0 hello world", "h 0", "s 1", "e 0 d 2 7", "e 1 i 5 ,", "e 1 i 6 dear", "h 1", "h 1",
        "h 0", NULL } },
    { "old-base",
      "An edit made at an old version, after others have edited the same text",
      3,
      { "e 0 i 0 abcdef", "h 0", "s 1", "s 2", "e 1 d 0 3", "h 1", "e 1 i 0 XYZ", "h 1",
        "e 2 i 6 !", "e 2 d 1 2", "h 2", "h 2", NULL } },
    { "surrogates",
      "Text outside the BMP counts two UTF-16 units",
      2,
      { "e 0 i 0 a\xf0\x9f\x98\x80"
        "b",
        "h 0", "s 1", "e 1 i 3 \xf0\x9f\x8e\x89", "e 0 d 1 2", "h 0", "h 1", NULL } },
    { "concurrent-deletes",
      "Two sites delete overlapping ranges",
      2,
      { "e 0 i 0 0123456789", "h 0", "s 1", "e 0 d 2 5", "e 1 d 4 5", "h 1", "h 0", NULL } },
  };
  GRand *rand = g_rand_new_with_seed (20240126);

  g_mkdir_with_parents (dir, 0755);
  for (guint i = 0; i < G_N_ELEMENTS (scripted); i++)
    {
      Sim sim;
      sim_init (&sim, scripted[i].sites);
      sim_script (&sim, scripted[i].script);
      sim_flush (&sim);
      write_case (&sim, rand, dir, scripted[i].name, scripted[i].description);
      sim_clear (&sim);
    }
  for (guint i = 0; i < 8; i++)
    {
      Sim sim;
      g_autofree char *name = g_strdup_printf ("random-%02u", i + 1);
      g_autofree char *desc =
          g_strdup_printf ("Random edits of %u sites, delivered late", 2 + i % 7);
      sim_init (&sim, 2 + i % 7);
      sim_random (&sim, rand, 12 + 4 * i);
      write_case (&sim, rand, dir, name, desc);
      sim_clear (&sim);
    }
  g_rand_free (rand);
  return 0;
}

/* ---- checking ------------------------------------------------------------- */

static GArray *
vector_member (JsonObject *obj, const char *name)
{
  g_autoptr (GError) error = NULL;
  GArray *v = prd_crdt_vector_from_json (json_object_get_member (obj, name), &error);

  g_assert_no_error (error);
  return v;
}

static void
assert_vector (PrdCrdtDoc *doc, GArray *expected)
{
  g_autoptr (GArray) v = prd_crdt_doc_get_state_vector (doc);
  g_assert_cmpmem (v->data, v->len * 4, expected->data, expected->len * 4);
}

static void
test_vector (gconstpointer data)
{
  const char *path = data;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdCrdtDoc) hub = prd_crdt_doc_new ();
  g_autoptr (GPtrArray) ops = g_ptr_array_new_with_free_func ((GDestroyNotify) prd_crdt_op_free);
  g_autoptr (GArray) expected_vec = NULL;
  JsonObject *root;
  JsonArray *inputs, *arr, *deliveries;
  const char *expected_text;

  g_assert_true (json_parser_load_from_file (parser, path, &error));
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  expected_text = json_object_get_string_member (root, "expectedText");
  expected_vec = vector_member (root, "expectedStateVector");

  /* the hub's path: positional operations at their base versions */
  inputs = json_object_get_array_member (root, "hubInputs");
  for (guint i = 0; i < json_array_get_length (inputs); i++)
    {
      JsonObject *in = json_array_get_object_element (inputs, i);
      JsonObject *o = json_object_get_object_member (in, "operation");
      g_autoptr (GArray) base = vector_member (in, "baseVector");
      g_autoptr (PrdCrdtOp) op = NULL;
      g_autoptr (JsonNode) got = NULL;
      guint32 site = json_object_get_int_member (in, "site");
      guint32 pos = json_object_get_int_member (o, "position");
      gboolean ok;

      if (g_str_equal (json_object_get_string_member (o, "type"), "insert"))
        ok = prd_crdt_doc_apply_local_insert (hub, site, (guint32 *) (void *) base->data, base->len,
                                              pos, json_object_get_string_member (o, "content"), -1,
                                              0, &op, &error);
      else
        ok = prd_crdt_doc_apply_local_delete (hub, site, (guint32 *) (void *) base->data, base->len,
                                              pos, json_object_get_int_member (o, "length"), 0, &op,
                                              &error);
      g_assert_no_error (error);
      g_assert_true (ok);
      got = prd_crdt_op_to_json (op);
      g_assert_true (json_node_equal (got, json_object_get_member (in, "expected")));
    }
  {
    g_autofree char *text = prd_crdt_doc_get_text (hub);
    g_assert_cmpstr (text, ==, expected_text);
    assert_vector (hub, expected_vec);
  }

  /* the CRDT path: every delivery order gives the same document */
  arr = json_object_get_array_member (root, "operations");
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      PrdCrdtOp *op = prd_crdt_op_from_json (json_array_get_element (arr, i), &error);
      g_assert_no_error (error);
      g_ptr_array_add (ops, op);
    }
  deliveries = json_object_get_array_member (root, "deliveries");
  g_assert_cmpuint (json_array_get_length (deliveries), >, 0);
  for (guint d = 0; d < json_array_get_length (deliveries); d++)
    {
      JsonArray *order = json_array_get_array_element (deliveries, d);
      g_autoptr (PrdCrdtDoc) doc = prd_crdt_doc_new ();
      g_autofree char *text = NULL;

      for (guint i = 0; i < json_array_get_length (order); i++)
        {
          guint k = json_array_get_int_element (order, i);
          g_assert_cmpuint (k, <, ops->len);
          g_assert_true (prd_crdt_doc_apply_remote (doc, ops->pdata[k], NULL, &error));
          g_assert_no_error (error);
        }
      text = prd_crdt_doc_get_text (doc);
      g_assert_cmpstr (text, ==, expected_text);
      assert_vector (doc, expected_vec);
      g_assert_cmpuint (prd_crdt_doc_get_n_pending (doc), ==, 0);
    }
}

static int
cmp_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

int
main (int argc, char **argv)
{
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (argc == 3 && g_str_equal (argv[1], "--generate"))
    return generate (argv[2]);

  g_test_init (&argc, &argv, NULL);
  {
    g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "crdt-vectors", NULL);
    dir = g_dir_open (path, 0, NULL);
  }
  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)))
    if (g_str_has_suffix (name, ".json"))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, cmp_names);
  g_assert_cmpuint (names->len, >, 0);
  for (guint i = 0; i < names->len; i++)
    {
      const char *n = g_ptr_array_index (names, i);
      g_autofree char *stem = g_strndup (n, strlen (n) - 5);
      g_autofree char *test = g_strconcat ("/prd/crdt-vectors/", stem, NULL);
      char *path = g_test_build_filename (G_TEST_DIST, "data", "crdt-vectors", n, NULL);
      g_test_add_data_func_full (test, path, test_vector, g_free);
    }
  return g_test_run ();
}
