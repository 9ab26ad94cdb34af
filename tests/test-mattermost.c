/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Mattermost without a server: Markdown escaping and the message limit,
 * the settings (notify, names, token or webhook), and the HTTP client's
 * text answers and secret URLs against a SoupServer on 127.0.0.1.
 */
#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-json.h"
#include "prd-mattermost.h"

static JsonObject *
parse_object (const char *text)
{
  g_autoptr (JsonNode) node = prd_json_parse (text, -1, 65536, NULL);

  g_assert_nonnull (node);
  return json_object_ref (json_node_get_object (node));
}

static void
test_escape (void)
{
  g_autofree char *plain = prd_mattermost_escape ("Checkout flow", 100);
  g_autofree char *marks =
      prd_mattermost_escape ("*a* _b_ [c](d) `e` #f <g> @h :i: ~j|k $l$ &amp;\\", 100);
  g_autofree char *mentions = prd_mattermost_escape ("@all x.@here a@channel @@Ada", 100);
  g_autofree char *lines = prd_mattermost_escape ("one\ntwo\r\tthree", 100);
  g_autofree char *controls = prd_mattermost_escape ("a\x7f"
                                                     "b\xc2\x85"
                                                     "c\xc2\x9f"
                                                     "d\u2028e\u2029f\u00a0g",
                                                     100);
  g_autofree char *cut = prd_mattermost_escape ("ééééé", 3);
  g_autofree char *bad = prd_mattermost_escape ("\xff\xfe", 10);

  g_assert_cmpstr (plain, ==, "Checkout flow");
  g_assert_cmpstr (marks, ==,
                   "\\*a\\* \\_b\\_ \\[c\\]\\(d\\) \\`e\\` \\#f \\<g\\> @\u2060h \\:i\\: \\~j\\|k "
                   "\\$l\\$ \\&amp;\\\\");
  /* No mention can fire: Mattermost reads `\@all` as `@all`; the word
   * joiner after every `@` splits the word, unseen. */
  g_assert_cmpstr (mentions, ==, "@\u2060all x\\.@\u2060here a@\u2060channel @\u2060@\u2060Ada");
  g_assert_cmpstr (lines, ==, "one two  three");
  /* DEL, C1 (NEXT LINE among them) and the separators too; U+00A0 is text. */
  g_assert_cmpstr (controls, ==, "a b c d e f\u00a0g");
  g_assert_cmpstr (cut, ==, "ééé…");
  g_assert_cmpstr (bad, ==, "");
}

static void
test_message (void)
{
  g_autofree char *approved = prd_mattermost_message (
      PRD_MATTERMOST_PRD_APPROVED, "Auth *v2*", "Sarah", NULL, "https://hub.example/api/prds/p/x");
  g_autofree char *version =
      prd_mattermost_message (PRD_MATTERMOST_VERSION_CREATED, "T", NULL, "1.2.0", NULL);
  g_autofree char *bad_link =
      prd_mattermost_message (PRD_MATTERMOST_PRD_CREATED, "T", "A", NULL, "javascript:alert(1)");
  g_autoptr (GString) huge = g_string_new (NULL);
  g_autofree char *long_message = NULL;

  g_assert_cmpstr (approved, ==,
                   ":white_check_mark: **Auth \\*v2\\*** was approved by Sarah\n"
                   "[Open the PRD](<https://hub.example/api/prds/p/x>)");
  g_assert_nonnull (strstr (version, "Someone created version 1\\.2\\.0 of **T**"));
  g_assert_null (strstr (bad_link, "javascript"));

  /* User text is cut; the message stays under the post limit. */
  for (guint i = 0; i < 40000; i++)
    g_string_append_c (huge, '*');
  long_message = prd_mattermost_message (PRD_MATTERMOST_COMMENT_MENTION, huge->str, huge->str,
                                         huge->str, NULL);
  g_assert_cmpint (g_utf8_strlen (long_message, -1), <=, PRD_MATTERMOST_MAX_MESSAGE);
  g_assert_nonnull (strstr (long_message, "…"));
}

static gboolean
check (const char *settings_json, GError **error)
{
  g_autoptr (PrdMattermost) mm = g_object_new (PRD_TYPE_MATTERMOST, NULL);
  g_autoptr (JsonObject) settings = parse_object (settings_json);
  g_autoptr (GHashTable) set = g_hash_table_new (g_str_hash, g_str_equal);

  return prd_integration_check_settings (PRD_INTEGRATION (mm), settings, set, error);
}

static void
test_settings (void)
{
  const char *bad[] = { "{\"team\": \"Product\"}", "{\"channel\": \"town square\"}" };
  const char *bad_text[] = { "prd_approved,nope", "prd_created,prd_created", "prd_created,," };
  const char *bad_json[] = {
    "{\"notify\": \"prd_approved\"}",
    "{\"notify\": [\"prd_approved\", \"nope\"]}",
    "{\"notify\": [\"prd_created\", \"prd_created\"]}",
    "{\"notify\": [7]}",
  };
  g_autoptr (PrdMattermost) mm = g_object_new (PRD_TYPE_MATTERMOST, NULL);
  gsize n_keys;
  const PrdIntegrationKey *keys = prd_integration_get_schema (PRD_INTEGRATION (mm), &n_keys);
  const PrdIntegrationKey *notify = prd_integration_schema_lookup (keys, n_keys, "notify");
  g_autoptr (JsonNode) none = NULL;
  g_autoptr (JsonNode) two = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_false (check (bad[i], &error));
      g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
    }
  g_assert_true (check ("{\"team\": \"a-b\", \"channel\": \"town-square\"}", NULL));

  /* notify: a list of distinct events, or their comma-separated text. */
  for (guint i = 0; i < G_N_ELEMENTS (bad_text); i++)
    {
      g_autoptr (GError) error = NULL;
      JsonNode *node = NULL;

      g_assert_false (prd_integration_schema_parse_value (notify, bad_text[i], &node, &error));
      g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
      g_assert_null (node);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad_json); i++)
    {
      g_autoptr (JsonObject) input = parse_object (bad_json[i]);
      g_autoptr (JsonObject) out = NULL;
      g_autoptr (GHashTable) secrets = NULL;
      g_autofree char *key = NULL;
      g_autoptr (GError) error = NULL;

      g_assert_false (prd_integration_schema_apply (keys, n_keys, NULL, input, FALSE, &out,
                                                    &secrets, &key, &error));
      g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
      g_assert_cmpstr (key, ==, "notify");
    }
  /* webhookUrl is a secret and an address: checked as one, the message
   * never quoting it; an empty value removes it. */
  {
    const char *bad_hooks[] = {
      "{\"webhookUrl\": \"javascript:alert(1)\"}",
      "{\"webhookUrl\": \"http://user:pw@mm.example/hooks/x\"}",
      "{\"webhookUrl\": \"ftp://mm.example/hooks/x\"}",
      "{\"webhookUrl\": \"https://mm.example/hooks/x#f\"}",
      "{\"webhookUrl\": \"https:///hooks/x\"}",
      "{\"webhookUrl\": \"hooks\"}",
    };

    for (guint i = 0; i < G_N_ELEMENTS (bad_hooks); i++)
      {
        g_autoptr (JsonObject) input = parse_object (bad_hooks[i]);
        g_autoptr (JsonObject) out = NULL;
        g_autoptr (GHashTable) secrets = NULL;
        g_autofree char *key = NULL;
        g_autoptr (GError) error = NULL;

        g_assert_false (prd_integration_schema_apply (keys, n_keys, NULL, input, FALSE, &out,
                                                      &secrets, &key, &error));
        g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
        g_assert_cmpstr (key, ==, "webhookUrl");
        g_assert_null (strstr (error->message, "mm.example"));
        g_assert_null (out);
        g_assert_null (secrets);
      }
    for (guint i = 0; i < 2; i++)
      {
        g_autoptr (JsonObject) input =
            parse_object (i == 0 ? "{\"webhookUrl\": \"https://mm.example/hooks/abc\"}"
                                 : "{\"webhookUrl\": \"\"}");
        g_autoptr (JsonObject) out = NULL;
        g_autoptr (GHashTable) secrets = NULL;
        g_autoptr (GError) error = NULL;

        g_assert_true (prd_integration_schema_apply (keys, n_keys, NULL, input, FALSE, &out,
                                                     &secrets, NULL, &error));
        g_assert_no_error (error);
        g_assert_true (g_hash_table_contains (secrets, "webhookUrl"));
      }
  }

  g_assert_true (prd_integration_schema_parse_value (notify, "", &none, NULL));
  g_assert_cmpuint (json_array_get_length (json_node_get_array (none)), ==, 0);
  g_assert_true (
      prd_integration_schema_parse_value (notify, " version_created , prd_approved", &two, NULL));
  g_assert_cmpuint (json_array_get_length (json_node_get_array (two)), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (json_node_get_array (two), 0), ==,
                   "version_created");
}

static PrdMattermost *
set_up (const char *settings_json, const char *token, const char *hook, GError **error)
{
  g_autoptr (PrdMattermost) mm = g_object_new (PRD_TYPE_MATTERMOST, NULL);
  g_autoptr (JsonObject) settings = parse_object (settings_json);
  g_autoptr (GHashTable) secrets = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (PrdIntegrationHttp) http = prd_integration_http_new ("mattermost", "org");

  if (token != NULL)
    g_hash_table_insert (secrets, "token", (gpointer) token);
  if (hook != NULL)
    g_hash_table_insert (secrets, "webhookUrl", (gpointer) hook);
  if (!prd_integration_setup (PRD_INTEGRATION (mm), "org", settings, secrets, http, error))
    return NULL;
  return g_steal_pointer (&mm);
}

static void
test_setup (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdMattermost) bot = NULL;
  g_autoptr (PrdMattermost) hook = NULL;
  PrdMattermost *none;

  none = set_up ("{\"serverUrl\": \"https://mm.example\"}", NULL, NULL, &error);
  g_assert_null (none);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_NOT_CONFIGURED);
  g_clear_error (&error);
  none = set_up ("{\"serverUrl\": \"https://mm.example\", \"team\": \"t\"}", "tok", NULL, &error);
  g_assert_null (none);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_NOT_CONFIGURED);
  g_clear_error (&error);
  none =
      set_up ("{\"serverUrl\": \"https://mm.example\"}", NULL, "ftp://mm.example/hooks/x", &error);
  g_assert_null (none);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_NOT_CONFIGURED);
  g_clear_error (&error);

  bot = set_up ("{\"serverUrl\": \"https://mm.example//\", \"team\": \"t\", \"channel\": \"c\", "
                "\"notify\": [\"comment_mention\"]}",
                "tok", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (prd_mattermost_get_server_url (bot), ==, "https://mm.example");
  g_assert_cmpstr (prd_mattermost_get_channel (bot), ==, "c");
  g_assert_true (prd_mattermost_notifies (bot, PRD_MATTERMOST_COMMENT_MENTION));
  g_assert_false (prd_mattermost_notifies (bot, PRD_MATTERMOST_PRD_APPROVED));

  hook = set_up ("{\"serverUrl\": \"https://mm.example\"}", NULL, "https://mm.example/hooks/abc",
                 &error);
  g_assert_no_error (error);
  g_assert_null (prd_mattermost_get_channel (hook));
  for (guint e = 0; e < PRD_MATTERMOST_N_EVENTS; e++)
    g_assert_true (prd_mattermost_notifies (hook, e));
}

/* ---- posting through the HTTP client to a SoupServer ---- */

typedef struct
{
  const char *answer;
  guint status;
  GPtrArray *paths;
} Server;

static void
on_request (SoupServer *server,
            SoupServerMessage *msg,
            const char *path,
            GHashTable *query,
            gpointer user_data)
{
  Server *s = user_data;

  g_ptr_array_add (s->paths, g_strdup (path));
  soup_server_message_set_status (msg, s->status, NULL);
  if (s->status == 429)
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
                                  "30");
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC, s->answer,
                                    strlen (s->answer));
}

static void
on_posted (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GError **error = user_data;
  char *id = prd_mattermost_post_finish (PRD_MATTERMOST (source), result, error);

  g_assert_true ((id == NULL) == (*error != NULL));
  if (id != NULL)
    g_assert_cmpstr (id, ==, "");
  g_free (id);
  if (*error == NULL)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_EXISTS, "done");
}

static void
test_webhook (void)
{
  g_autoptr (SoupServer) server = soup_server_new (NULL, NULL);
  g_autoptr (GError) error = NULL;
  Server s = { "ok", 200, g_ptr_array_new_with_free_func (g_free) };
  g_autofree char *hook = NULL;
  g_autoptr (PrdMattermost) mm = NULL;
  GSList *uris;
  guint port;

  g_assert_true (soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  soup_server_add_handler (server, NULL, on_request, &s, NULL);
  uris = soup_server_get_uris (server);
  port = g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  hook = g_strdup_printf ("http://127.0.0.1:%u/hooks/secretkey123", port);
  mm = set_up ("{\"serverUrl\": \"http://127.0.0.1:1\"}", NULL, hook, &error);
  g_assert_no_error (error);

  /* `ok` is success, with no post id. */
  prd_mattermost_post_async (mm, "hello", NULL, on_posted, &error);
  while (error == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);
  g_assert_cmpstr (g_ptr_array_index (s.paths, 0), ==, "/hooks/secretkey123");

  /* Anything else is a failure, and the hook's key shows in no message. */
  s.answer = "not ok";
  prd_mattermost_post_async (mm, "hello", NULL, on_posted, &error);
  while (error == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR);
  g_assert_null (strstr (error->message, "secretkey123"));
  g_clear_error (&error);
  s.status = 400;
  s.answer =
      "{\"id\": \"web.incoming_webhook.invalid.app_error\", \"message\": \"Invalid webhook\"}";
  prd_mattermost_post_async (mm, "hello", NULL, on_posted, &error);
  while (error == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR);
  g_assert_nonnull (strstr (error->message, "Invalid webhook"));
  g_assert_null (strstr (error->message, "secretkey123"));
  g_assert_cmpint (prd_integration_get_status (PRD_INTEGRATION (mm)), ==, PRD_INTEGRATION_ERROR);
  g_assert_null (strstr (prd_integration_get_last_error (PRD_INTEGRATION (mm)), "secretkey123"));
  g_ptr_array_unref (s.paths);
}

static void
on_cancelled_post (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GError **error = user_data;
  char *id = prd_mattermost_post_finish (PRD_MATTERMOST (source), result, error);

  g_assert_null (id);
  g_assert_nonnull (*error);
}

static gboolean
shut_down (gpointer user_data)
{
  prd_integration_http_shutdown (PRD_INTEGRATION_HTTP (user_data));
  return G_SOURCE_REMOVE;
}

/* A post waiting out a 429 ends, cancelled, when the client shuts down (the
 * hub stopping): it must neither wait 30 s nor hang. */
static void
test_shutdown_while_waiting (void)
{
  g_autoptr (SoupServer) server = soup_server_new (NULL, NULL);
  g_autoptr (GError) error = NULL;
  Server s = { "limit exceeded", 429, g_ptr_array_new_with_free_func (g_free) };
  g_autofree char *hook = NULL;
  g_autofree char *json = NULL;
  g_autoptr (PrdMattermost) mm = g_object_new (PRD_TYPE_MATTERMOST, NULL);
  g_autoptr (JsonObject) settings = parse_object ("{\"serverUrl\": \"http://127.0.0.1:1\"}");
  g_autoptr (GHashTable) secrets = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (PrdIntegrationHttp) http = prd_integration_http_new ("mattermost", "org");
  GSList *uris;

  g_assert_true (soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  soup_server_add_handler (server, NULL, on_request, &s, NULL);
  uris = soup_server_get_uris (server);
  hook = g_strdup_printf ("http://127.0.0.1:%d/hooks/k", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  g_hash_table_insert (secrets, "webhookUrl", hook);
  g_assert_true (
      prd_integration_setup (PRD_INTEGRATION (mm), "org", settings, secrets, http, &error));
  g_assert_no_error (error);

  prd_mattermost_post_async (mm, "hello", NULL, on_cancelled_post, &error);
  while (s.paths->len == 0)
    g_main_context_iteration (NULL, TRUE);
  /* Let the client read the 429 and start waiting. */
  for (guint i = 0; i < 20 && error == NULL; i++)
    g_main_context_iteration (NULL, FALSE);
  /* From a source, as a signal handler stops the hub. */
  g_idle_add (shut_down, http);
  while (error == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (s.paths->len, ==, 1);
  g_ptr_array_unref (s.paths);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/prd/mattermost/escape", test_escape);
  g_test_add_func ("/prd/mattermost/message", test_message);
  g_test_add_func ("/prd/mattermost/settings", test_settings);
  g_test_add_func ("/prd/mattermost/setup", test_setup);
  g_test_add_func ("/prd/mattermost/webhook", test_webhook);
  g_test_add_func ("/prd/mattermost/shutdown-while-waiting", test_shutdown_while_waiting);
  return g_test_run ();
}
