/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Craft.io without a server: reading items leniently, status names, the
 * title match of a new PRD, the alignment heuristic, and the settings.
 */
#include "config.h"

#include <string.h>

#include "prd-craftio.h"
#include "prd-error.h"
#include "prd-json.h"

static JsonObject *
parse_object (const char *text)
{
  g_autoptr (JsonNode) node = prd_json_parse (text, -1, 65536, NULL);

  g_assert_nonnull (node);
  return json_object_ref (json_node_get_object (node));
}

static PrdCraftInitiative *
initiative (const char *json)
{
  g_autoptr (JsonObject) item = parse_object (json);
  g_autoptr (GError) error = NULL;
  PrdCraftInitiative *parsed = prd_craft_initiative_parse (item, &error);

  g_assert_no_error (error);
  return parsed;
}

static void
test_parse (void)
{
  g_autoptr (PrdCraftInitiative) full = initiative (
      "{\"id\": 42, \"title\": \"Auth\", \"status\": {\"id\": \"s\", \"name\": \"In  Progress!\"},"
      " \"objectives\": [{\"id\": 1, \"title\": \"Improve security\"}, \"Reduce friction\", 7],"
      " \"objective\": {\"name\": \"Grow\"}, \"labels\": [\"login\", {\"name\": \"sso\"}],"
      " \"webUrl\": \"https://app.craft.io/i/42\"}");
  g_autoptr (PrdCraftInitiative) bare =
      initiative ("{\"id\": \"init_456\", \"title\": \"T\", \"status\": \"Done\", "
                  "\"webUrl\": \"javascript:x\"}");
  g_autoptr (JsonObject) json = prd_craft_initiative_to_json (full);
  g_autofree char *text = NULL;
  g_autoptr (JsonNode) node = NULL;
  const char *bad[] = {
    "{\"title\": \"no id\"}",
    "{\"id\": 1}",
    "{\"id\": \"\", \"title\": \"x\"}",
    "{\"id\": 1.5, \"title\": \"x\"}",
    "{\"id\": 1, \"title\": 3}",
    /* Ids the hub could neither ask for again nor unlink: */
    "{\"id\": \"odd id/with:chars\", \"title\": \"x\"}",
    "{\"id\": \"other-B\\u202e\", \"title\": \"x\"}",
    "{\"id\": \"../x\", \"title\": \"x\"}",
    /* Dots only: path segments of their own. */
    "{\"id\": \".\", \"title\": \"x\"}",
    "{\"id\": \"..\", \"title\": \"x\"}",
    "{\"id\": \"...\", \"title\": \"x\"}",
    "{\"id\": "
    "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\", \"title\": \"x\"}",
  };
  g_autoptr (PrdCraftInitiative) longest =
      initiative ("{\"id\": "
                  "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\", \"title\": \"x\"}");
  g_autoptr (PrdCraftInitiative) marks = initiative ("{\"id\": \"A-b_c.9\", \"title\": \"x\"}");
  g_autoptr (PrdCraftInitiative) dotted = initiative ("{\"id\": \"..a\", \"title\": \"x\"}");

  g_assert_cmpstr (full->id, ==, "42");
  g_assert_cmpuint (strlen (longest->id), ==, 128);
  g_assert_cmpstr (marks->id, ==, "A-b_c.9");
  g_assert_cmpstr (dotted->id, ==, "..a");
  g_assert_cmpstr (full->status, ==, "in_progress");
  g_assert_cmpuint (g_strv_length (full->objectives), ==, 3);
  g_assert_cmpstr (full->objectives[2], ==, "Grow");
  g_assert_cmpuint (g_strv_length (full->keywords), ==, 2);
  g_assert_cmpstr (full->url, ==, "https://app.craft.io/i/42");
  g_assert_cmpstr (bare->status, ==, "done");
  g_assert_null (bare->url);
  g_assert_cmpuint (g_strv_length (bare->objectives), ==, 0);
  node = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (node, json);
  text = json_to_string (node, FALSE);
  g_assert_cmpstr (text, ==,
                   "{\"id\":\"42\",\"title\":\"Auth\",\"status\":\"in_progress\",\"objectives\":"
                   "[\"Improve security\",\"Reduce friction\",\"Grow\"]}");
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (JsonObject) item = parse_object (bad[i]);
      g_autoptr (GError) error = NULL;

      g_assert_null (prd_craft_initiative_parse (item, &error));
      g_assert_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR);
    }
}

static void
test_match (void)
{
  g_autoptr (PrdCraftInitiative) auth = initiative (
      "{\"id\": 1, \"title\": \"User Authentication Initiative\", \"labels\": [\"sso\"]}");
  g_autoptr (PrdCraftInitiative) other = initiative ("{\"id\": 2, \"title\": \"Billing\"}");

  g_assert_cmpfloat (prd_craftio_match_score ("User authentication", auth), ==, 1.0);
  g_assert_true (prd_craftio_match_is_automatic ("User authentication", auth));
  /* One word in common is never automatic. */
  g_assert_cmpfloat (prd_craftio_match_score ("SSO", auth), ==, 1.0);
  g_assert_false (prd_craftio_match_is_automatic ("SSO", auth));
  g_assert_cmpfloat (prd_craftio_match_score ("Authentication for billing", auth), ==, 0.5);
  g_assert_cmpfloat (prd_craftio_match_score ("The PRD", auth), ==, 0.0);
  g_assert_cmpfloat (prd_craftio_match_score ("User authentication", other), ==, 0.0);
}

static void
test_alignment (void)
{
  g_autoptr (PrdCraftInitiative) a = initiative (
      "{\"id\": 1, \"title\": \"A\", \"objectives\": [\"Improve account security\", \"Grow "
      "revenue in Asia\"]}");
  g_autoptr (PrdCraftInitiative) none = initiative ("{\"id\": 2, \"title\": \"B\"}");
  g_autoptr (GPtrArray) suggestions = g_ptr_array_new_with_free_func (g_free);
  const PrdCraftInitiative *both[] = { a, none };
  double score;

  score = prd_craftio_alignment (both, 2, "# X\n\n## Success metrics\n\nImprove account security.",
                                 suggestions);
  g_assert_cmpfloat (score, ==, 0.5);
  g_assert_cmpstr (prd_craftio_alignment_status (score), ==, "review_needed");
  g_assert_cmpuint (suggestions->len, ==, 1);
  g_ptr_array_set_size (suggestions, 0);

  /* No metrics heading: 0.1 less and a suggestion. */
  score = prd_craftio_alignment (both, 1, "Improve account security; grow revenue in Asia.",
                                 suggestions);
  g_assert_cmpfloat (score, ==, 0.9);
  g_assert_cmpstr (prd_craftio_alignment_status (score), ==, "aligned");
  g_assert_cmpuint (suggestions->len, ==, 1);
  g_ptr_array_set_size (suggestions, 0);

  score = prd_craftio_alignment (both + 1, 1, "# Goals\n", suggestions);
  g_assert_cmpfloat (score, ==, 0.5);
  g_assert_cmpuint (suggestions->len, ==, 1);
  g_assert_cmpstr (prd_craftio_alignment_status (0.1), ==, "misaligned");
}

static gboolean
check (const char *settings_json, GError **error)
{
  g_autoptr (PrdCraftio) craft = g_object_new (PRD_TYPE_CRAFTIO, NULL);
  g_autoptr (JsonObject) settings = parse_object (settings_json);
  g_autoptr (GHashTable) set = g_hash_table_new (g_str_hash, g_str_equal);

  return prd_integration_check_settings (PRD_INTEGRATION (craft), settings, set, error);
}

static void
test_settings (void)
{
  const char *bad[] = {
    "{\"authHeader\": \"x api key\"}",
    "{\"authHeader\": \"Content-Length\"}",
    "{\"workspaceId\": \"a/b\"}",
    "{\"accountId\": \"a?b\"}",
  };
  g_autoptr (PrdCraftio) craft = g_object_new (PRD_TYPE_CRAFTIO, NULL);
  g_autoptr (JsonObject) settings = parse_object ("{\"workspaceId\": \"ws\"}");
  g_autoptr (GHashTable) secrets = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (PrdIntegrationHttp) http = prd_integration_http_new ("craftio", "org");
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) bad_error = NULL;

      g_assert_false (check (bad[i], &bad_error));
      g_assert_error (bad_error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
    }
  g_assert_true (check ("{\"authHeader\": \"X-Api-Key\", \"workspaceId\": \"ws_1.a-b\"}", NULL));

  g_assert_false (
      prd_integration_setup (PRD_INTEGRATION (craft), "org", settings, secrets, http, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_NOT_CONFIGURED);
  g_assert_nonnull (strstr (error->message, "apiKey"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/prd/craftio/parse", test_parse);
  g_test_add_func ("/prd/craftio/match", test_match);
  g_test_add_func ("/prd/craftio/alignment", test_alignment);
  g_test_add_func ("/prd/craftio/settings", test_settings);
  return g_test_run ();
}
