/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The integration layer and Jira's pure parts: Retry-After and backoff,
 * error bodies, settings by schema, the Markdown story extraction, the
 * matching of stories to links and the import plan; and the shared HTTP
 * client against a real SoupServer on 127.0.0.1 (429/503 retried, a POST
 * whose connection dies not sent again, an idempotent GET retried, HTML
 * error bodies, cancellation).
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "prd-error.h"
#include "prd-integration-http.h"
#include "prd-integration.h"
#include "prd-jira-stories.h"
#include "prd-jira.h"
#include "prd-test-harness.h"

/* ---- Retry-After and backoff ---- */

static void
test_retry_after (void)
{
  gint64 now = (gint64) 1767225600 * G_USEC_PER_SEC; /* Thu, 01 Jan 2026 00:00:00 GMT */
  gint64 ms = -1;

  g_assert_true (prd_integration_http_parse_retry_after ("120", now, &ms));
  g_assert_cmpint (ms, ==, 120000);
  g_assert_true (prd_integration_http_parse_retry_after (" 0 ", now, &ms));
  g_assert_cmpint (ms, ==, 0);
  g_assert_true (
      prd_integration_http_parse_retry_after ("Thu, 01 Jan 2026 00:00:30 GMT", now, &ms));
  g_assert_cmpint (ms, ==, 30000);
  /* A date past: no wait. */
  g_assert_true (
      prd_integration_http_parse_retry_after ("Wed, 31 Dec 2025 23:59:00 GMT", now, &ms));
  g_assert_cmpint (ms, ==, 0);
  g_assert_false (prd_integration_http_parse_retry_after (NULL, now, &ms));
  g_assert_false (prd_integration_http_parse_retry_after ("", now, &ms));
  g_assert_false (prd_integration_http_parse_retry_after ("soon", now, &ms));
  g_assert_false (prd_integration_http_parse_retry_after ("-1", now, &ms));
  g_assert_false (prd_integration_http_parse_retry_after ("1.5", now, &ms));
  g_assert_false (prd_integration_http_parse_retry_after ("100000s", now, &ms));
  /* However long a number of seconds, it is one: a wait (too long for any
   * caller), not a value to ignore. */
  g_assert_true (prd_integration_http_parse_retry_after ("86401", now, &ms));
  g_assert_cmpint (ms, ==, (gint64) 86401 * 1000);
  g_assert_true (prd_integration_http_parse_retry_after ("100000", now, &ms));
  g_assert_cmpint (ms, >, PRD_INTEGRATION_HTTP_MAX_RETRY_AFTER);
  g_assert_true (prd_integration_http_parse_retry_after ("99999999999", now, &ms));
  g_assert_cmpint (ms, >, PRD_INTEGRATION_HTTP_MAX_RETRY_AFTER);
  g_assert_true (
      prd_integration_http_parse_retry_after ("999999999999999999999999999999", now, &ms));
  g_assert_cmpint (ms, >, PRD_INTEGRATION_HTTP_MAX_RETRY_AFTER);
}

static void
test_backoff (void)
{
  gint64 previous_ceiling = 0;

  /* Half the ceiling plus up to the other half: never less, never more. */
  g_assert_cmpint (prd_integration_http_backoff_ms (1, 500, 8000, 0.0), ==, 250);
  g_assert_cmpint (prd_integration_http_backoff_ms (1, 500, 8000, 0.999), <=, 500);
  g_assert_cmpint (prd_integration_http_backoff_ms (2, 500, 8000, 0.0), ==, 500);
  g_assert_cmpint (prd_integration_http_backoff_ms (3, 500, 8000, 0.0), ==, 1000);
  for (guint attempt = 1; attempt < 40; attempt++)
    {
      gint64 low = prd_integration_http_backoff_ms (attempt, 500, 8000, 0.0);
      gint64 high = prd_integration_http_backoff_ms (attempt, 500, 8000, 0.9999);

      g_assert_cmpint (low, <=, high);
      g_assert_cmpint (high, <=, 8000);
      g_assert_cmpint (low, >=, previous_ceiling / 2);
      previous_ceiling = low * 2;
    }
  /* Capped: */
  g_assert_cmpint (prd_integration_http_backoff_ms (30, 500, 8000, 0.0), ==, 4000);
  /* A jitter outside [0, 1) counts as 0. */
  g_assert_cmpint (prd_integration_http_backoff_ms (1, 500, 8000, 7.0), ==, 250);
}

static void
test_error_body (void)
{
  const char jira[] = "{\"errorMessages\":[\"Issue does not exist\"],\"errors\":{\"project\":"
                      "\"project is required\"}}";
  const char html[] = "<html><body><h1>502 Bad Gateway</h1><script>x</script></body></html>";
  g_autoptr (GBytes) jira_body = g_bytes_new_static (jira, strlen (jira));
  g_autoptr (GBytes) html_body = g_bytes_new_static (html, strlen (html));
  g_autofree char *a =
      prd_integration_http_describe_error_body (400, "application/json", jira_body);
  g_autofree char *b = prd_integration_http_describe_error_body (502, "text/html", html_body);
  g_autofree char *c = prd_integration_http_describe_error_body (401, NULL, NULL);

  g_assert_nonnull (strstr (a, "HTTP 400"));
  g_assert_nonnull (strstr (a, "Issue does not exist"));
  g_assert_nonnull (strstr (a, "project: project is required"));
  g_assert_nonnull (strstr (b, "HTTP 502"));
  g_assert_nonnull (strstr (b, "text/html"));
  g_assert_nonnull (strstr (b, "not a JSON error"));
  g_assert_null (strstr (b, "<html>"));
  g_assert_cmpstr (c, ==, "HTTP 401 Unauthorized");
}

/* Statuses libsoup has no phrase for get a proper one, or none: never
 * "Unknown Error", which reaches admins in lastError. */
static void
test_error_phrase (void)
{
  g_autofree char *a = prd_integration_http_describe_error_body (429, NULL, NULL);
  g_autofree char *b = prd_integration_http_describe_error_body (599, NULL, NULL);
  g_autofree char *c = prd_integration_http_describe_error_body (503, NULL, NULL);

  g_assert_cmpstr (a, ==, "HTTP 429 Too Many Requests");
  g_assert_cmpstr (b, ==, "HTTP 599");
  g_assert_cmpstr (c, ==, "HTTP 503 Service Unavailable");
}

/* ---- settings by schema ---- */

static JsonObject *
parse_object (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();

  g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static gboolean
apply (const char *input_text,
       JsonObject *current,
       JsonObject **settings,
       GHashTable **secrets,
       char **bad_key,
       GError **error)
{
  g_autoptr (PrdIntegration) jira = g_object_new (PRD_TYPE_JIRA, NULL);
  g_autoptr (JsonObject) input = parse_object (input_text);
  gsize n_keys;
  const PrdIntegrationKey *keys = prd_integration_get_schema (jira, &n_keys);

  return prd_integration_schema_apply (keys, n_keys, current, input, FALSE, settings, secrets,
                                       bad_key, error);
}

static void
on_call_finished (PrdIntegration *integration,
                  const char *what,
                  gboolean ok,
                  const char *message,
                  gpointer user_data)
{
  g_free (*(char **) user_data);
  *(char **) user_data = g_strdup (message);
}

/* What a service said reaches logs, statuses and D-Bus as one line of valid
 * UTF-8, at most 1024 characters. */
static void
test_report_clean (void)
{
  g_autoptr (PrdIntegration) jira = g_object_new (PRD_TYPE_JIRA, NULL);
  g_autofree char *finished = NULL;
  g_autofree char *long_text = g_strnfill (3000, 'x');
  g_autoptr (GError) forged =
      g_error_new_literal (PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR,
                           "bad \xff\xfe bytes\nprd-hub-Message: FORGED\tline\x7f");
  g_autoptr (GError) longer =
      g_error_new_literal (PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR, long_text);
  const char *last;

  g_signal_connect (jira, "call-finished", G_CALLBACK (on_call_finished), &finished);
  prd_integration_report_call (jira, "push", forged);
  last = prd_integration_get_last_error (jira);
  g_assert_cmpstr (last, ==, "bad \xef\xbf\xbd\xef\xbf\xbd bytes prd-hub-Message: FORGED line ");
  g_assert_cmpstr (finished, ==, last);

  prd_integration_report_failure (jira, longer);
  last = prd_integration_get_last_error (jira);
  g_assert_true (g_utf8_validate (last, -1, NULL));
  g_assert_cmpint (g_utf8_strlen (last, -1), ==, 1025);
  g_assert_true (g_str_has_suffix (last, "x\xe2\x80\xa6"));
}

typedef struct
{
  guint n;
  gboolean ok;
} Finished;

static void
on_call_counted (PrdIntegration *integration,
                 const char *what,
                 gboolean ok,
                 const char *message,
                 gpointer user_data)
{
  Finished *finished = user_data;

  finished->n++;
  finished->ok = ok;
}

/* A background read (a Craft.io poll) that succeeds is not activity: no
 * "call-finished", so an idle organization's feed does not grow with every
 * poll. Its failures are, and so is its first success after one (while the
 * status is error); a call that sets the status itself always is. */
static void
test_background_calls (void)
{
  g_autoptr (PrdIntegration) jira = g_object_new (PRD_TYPE_JIRA, NULL);
  g_autoptr (GError) down =
      g_error_new_literal (PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR, "HTTP 500");
  g_autoptr (GError) other =
      g_error_new_literal (PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR, "HTTP 502");
  g_autoptr (GError) cancelled = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "stop");
  g_autoptr (PrdIntegration) restored = NULL;
  Finished finished = { 0 };

  g_signal_connect (jira, "call-finished", G_CALLBACK (on_call_counted), &finished);
  prd_integration_report_success (jira);
  for (guint i = 0; i < 5; i++)
    prd_integration_log_call (jira, "list initiatives", NULL);
  g_assert_cmpuint (finished.n, ==, 0);
  prd_integration_log_call (jira, "list initiatives", cancelled);
  g_assert_cmpuint (finished.n, ==, 0);

  prd_integration_log_call (jira, "list initiatives", down);
  g_assert_cmpuint (finished.n, ==, 1);
  g_assert_false (finished.ok);
  prd_integration_report_failure (jira, down);
  g_assert_cmpint (prd_integration_get_status (jira), ==, PRD_INTEGRATION_ERROR);
  /* The same failure at every poll of an outage: announced once; another
   * failure, or another kind of call failing, is news. */
  for (guint i = 0; i < 5; i++)
    prd_integration_log_call (jira, "list initiatives", down);
  g_assert_cmpuint (finished.n, ==, 1);
  prd_integration_log_call (jira, "list initiatives", other);
  g_assert_cmpuint (finished.n, ==, 2);
  prd_integration_log_call (jira, "read an initiative", other);
  g_assert_cmpuint (finished.n, ==, 3);
  prd_integration_log_call (jira, "read an initiative", other);
  g_assert_cmpuint (finished.n, ==, 3);

  /* Answering again after a failure: announced, once. */
  prd_integration_log_call (jira, "list initiatives", NULL);
  g_assert_cmpuint (finished.n, ==, 4);
  g_assert_true (finished.ok);
  prd_integration_report_success (jira);
  g_assert_cmpint (prd_integration_get_status (jira), ==, PRD_INTEGRATION_CONNECTED);
  prd_integration_log_call (jira, "list initiatives", NULL);
  g_assert_cmpuint (finished.n, ==, 4);
  /* The same failure after a recovery is news again. */
  prd_integration_log_call (jira, "list initiatives", down);
  g_assert_cmpuint (finished.n, ==, 5);

  /* A call that sets the status is announced whatever its outcome. */
  prd_integration_report_call (jira, "connection check", NULL);
  g_assert_cmpuint (finished.n, ==, 6);
  g_assert_true (finished.ok);
  prd_integration_report_call (jira, "connection check", NULL);
  g_assert_cmpuint (finished.n, ==, 7);

  /* Restored in error (a restart during an outage): the first success of
   * a kind is announced. */
  restored = g_object_new (PRD_TYPE_JIRA, NULL);
  finished.n = 0;
  g_signal_connect (restored, "call-finished", G_CALLBACK (on_call_counted), &finished);
  prd_integration_restore_status (restored, PRD_INTEGRATION_ERROR, "HTTP 500", 0, 0);
  prd_integration_log_call (restored, "list initiatives", NULL);
  g_assert_cmpuint (finished.n, ==, 1);
  prd_integration_log_call (restored, "list initiatives", NULL);
  g_assert_cmpuint (finished.n, ==, 1);
}

static void
test_schema (void)
{
  static const struct
  {
    const char *input;
    const char *key;
    const char *message;
  } bad[] = {
    { "{\"baseUrl\": \"ftp://jira.example\"}", "baseUrl", "http" },
    { "{\"baseUrl\": \"not a url\"}", "baseUrl", "URL" },
    { "{\"baseUrl\": \"https://u:p@jira.example\"}", "baseUrl", "credentials" },
    { "{\"baseUrl\": \"https://jira.example/?x=1\"}", "baseUrl", "query" },
    { "{\"baseUrl\": 12}", "baseUrl", "string" },
    { "{\"deployment\": \"server\"}", "deployment", "cloud, datacenter" },
    { "{\"apiVersion\": 4}", "apiVersion", "from 2 to 3" },
    { "{\"apiVersion\": \"3\"}", "apiVersion", "integer" },
    { "{\"token\": 5}", "token", "string" },
    { "{\"colour\": \"blue\"}", "colour", "unknown key" },
    { "{\"issueType\": \"a\\u0001b\"}", "issueType", "control" },
  };
  g_autoptr (JsonObject) settings = NULL;
  g_autoptr (GHashTable) secrets = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *bad_key = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (JsonObject) s = NULL;
      g_autoptr (GHashTable) t = NULL;
      g_autoptr (GError) e = NULL;
      g_autofree char *k = NULL;

      g_assert_false (apply (bad[i].input, NULL, &s, &t, &k, &e));
      g_assert_error (e, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
      g_assert_cmpstr (k, ==, bad[i].key);
      g_assert_nonnull (strstr (e->message, bad[i].message));
      g_assert_null (s);
      g_assert_null (t);
    }

  /* A secret longer than its key allows. */
  {
    g_autoptr (GString) long_token = g_string_new ("{\"token\": \"");
    g_autoptr (JsonObject) s2 = NULL;
    g_autoptr (GHashTable) t2 = NULL;
    g_autoptr (GError) e2 = NULL;
    g_autofree char *k2 = NULL;

    for (guint i = 0; i < 4097; i++)
      g_string_append_c (long_token, 'a');
    g_string_append (long_token, "\"}");
    g_assert_false (apply (long_token->str, NULL, &s2, &t2, &k2, &e2));
    g_assert_error (e2, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
    g_assert_cmpstr (k2, ==, "token");
  }

  g_assert_true (apply ("{\"baseUrl\": \"https://jira.example\", \"apiVersion\": 3, \"token\": "
                        "\"s3cret\", \"webhookSecret\": null}",
                        NULL, &settings, &secrets, &bad_key, &error));
  g_assert_no_error (error);
  g_assert_null (bad_key);
  g_assert_cmpstr (json_object_get_string_member (settings, "baseUrl"), ==, "https://jira.example");
  g_assert_cmpint (json_object_get_int_member (settings, "apiVersion"), ==, 3);
  /* Secrets never land in the settings. */
  g_assert_false (json_object_has_member (settings, "token"));
  g_assert_cmpstr (g_hash_table_lookup (secrets, "token"), ==, "s3cret");
  g_assert_cmpstr (g_hash_table_lookup (secrets, "webhookSecret"), ==, "");

  /* Keys not given stay; null resets one. */
  {
    g_autoptr (JsonObject) next = NULL;
    g_autoptr (GHashTable) next_secrets = NULL;

    g_assert_true (apply ("{\"apiVersion\": null, \"projectKey\": \"PRD\"}", settings, &next,
                          &next_secrets, NULL, &error));
    g_assert_cmpstr (json_object_get_string_member (next, "baseUrl"), ==, "https://jira.example");
    g_assert_false (json_object_has_member (next, "apiVersion"));
    g_assert_cmpstr (json_object_get_string_member (next, "projectKey"), ==, "PRD");
    g_assert_cmpuint (g_hash_table_size (next_secrets), ==, 0);
  }
}

static void
test_secret_name (void)
{
  g_autofree char *a = prd_integration_secret_name ("jira", "Org_A", "webhookSecret");
  g_autofree char *b = prd_integration_secret_name ("jira", "org_a", "webhookSecret");

  g_assert_true (g_str_has_prefix (a, "integration.jira."));
  g_assert_true (g_str_has_suffix (a, ".webhooksecret"));
  g_assert_cmpstr (a, !=, b);
}

/* ---- stories ---- */

static const char prd_text[] = "# Checkout\n"
                               "\n"
                               "Intro.\n"
                               "\n"
                               "## User Stories\n"
                               "\n"
                               "- As a **buyer** I pay with `OAuth2`\n"
                               "  Details on a second line.\n"
                               "\n"
                               "  Another paragraph.\n"
                               "- [Login](https://x.invalid) page (PRD-12)\n"
                               "  - nested item, not a story\n"
                               "- Third story\n"
                               "- (PRD-9)\n"
                               "\n"
                               "## Other\n"
                               "\n"
                               "- not a story\n"
                               "\n"
                               "### user STORIES\n"
                               "\n"
                               "1. Numbered story\n";

static PrdJiraStory *
story (PrdJiraStories *stories, guint i)
{
  return g_ptr_array_index (stories->stories, i);
}

/* Every control character becomes a space in a summary: C0, DEL and C1
 * (NEL, U+0085, is a line break). */
static void
test_stories_controls (void)
{
  static const char text[] = "# P\n\n## User Stories\n\n"
                             "- DEL\x7fhere\n"
                             "- NEL\xc2\x85here\n"
                             "- CSI\xc2\x9bhere\xc2\x9f\n";
  g_autoptr (PrdJiraStories) stories = prd_jira_stories_parse (text, strlen (text));

  g_assert_cmpuint (stories->stories->len, ==, 3);
  g_assert_cmpstr (story (stories, 0)->summary, ==, "DEL here");
  g_assert_cmpstr (story (stories, 1)->summary, ==, "NEL here");
  g_assert_cmpstr (story (stories, 2)->summary, ==, "CSI here");
}

static void
test_stories (void)
{
  g_autoptr (PrdJiraStories) stories = prd_jira_stories_parse (prd_text, strlen (prd_text));
  g_autofree char *first_line = NULL;

  g_assert_cmpuint (stories->stories->len, ==, 4);
  g_assert_cmpstr (story (stories, 0)->summary, ==, "As a buyer I pay with OAuth2");
  g_assert_null (story (stories, 0)->key);
  g_assert_cmpstr (story (stories, 0)->description, ==,
                   "Details on a second line.\n\nAnother paragraph.");
  first_line = g_strndup (prd_text + story (stories, 0)->line_start,
                          story (stories, 0)->line_end - story (stories, 0)->line_start);
  g_assert_cmpstr (first_line, ==, "As a **buyer** I pay with `OAuth2`");
  g_assert_cmpstr (story (stories, 1)->summary, ==, "Login page");
  g_assert_cmpstr (story (stories, 1)->key, ==, "PRD-12");
  g_assert_cmpstr (story (stories, 1)->description, ==, "- nested item, not a story");
  g_assert_cmpstr (story (stories, 2)->summary, ==, "Third story");
  g_assert_cmpstr (story (stories, 2)->description, ==, "");
  g_assert_cmpstr (story (stories, 3)->summary, ==, "Numbered story");
  for (guint i = 0; i < 4; i++)
    g_assert_cmpuint (story (stories, i)->index, ==, i);
  /* New items go after the first list under the first heading. */
  g_assert_cmpstr (stories->insert_prefix, ==, "\n");
  g_assert_true (g_str_has_prefix (prd_text + stories->insert_at, "\n\n## Other"));
}

static void
test_stories_edge_cases (void)
{
  g_autoptr (PrdJiraStories) none = prd_jira_stories_parse ("# Title\n\nText.\n", 15);
  g_autoptr (PrdJiraStories) empty_section = NULL;
  g_autoptr (PrdJiraStories) empty = prd_jira_stories_parse ("", 0);
  g_autoptr (GString) long_item = g_string_new ("## User Stories\n\n- ");
  g_autoptr (PrdJiraStories) longest = NULL;
  const char section[] = "## User Stories\n\nNo list yet.\n";

  g_assert_cmpuint (none->stories->len, ==, 0);
  g_assert_cmpstr (none->insert_prefix, ==, "\n\n## User Stories\n\n");
  g_assert_cmpuint (none->insert_at, ==, 14);
  g_assert_cmpuint (empty->stories->len, ==, 0);
  g_assert_cmpuint (empty->insert_at, ==, 0);
  empty_section = prd_jira_stories_parse (section, strlen (section));
  g_assert_cmpuint (empty_section->stories->len, ==, 0);
  g_assert_cmpuint (empty_section->insert_at, ==, strlen ("## User Stories"));
  g_assert_cmpstr (empty_section->insert_prefix, ==, "\n\n");

  for (guint i = 0; i < 300; i++)
    g_string_append (long_item, "é");
  g_string_append (long_item, "\n");
  longest = prd_jira_stories_parse (long_item->str, long_item->len);
  g_assert_cmpuint (longest->stories->len, ==, 1);
  g_assert_cmpint (g_utf8_strlen (story (longest, 0)->summary, -1), ==, PRD_JIRA_MAX_SUMMARY);

  g_assert_true (prd_jira_key_is_valid ("PRD-1"));
  g_assert_true (prd_jira_key_is_valid ("AB_2-10"));
  g_assert_false (prd_jira_key_is_valid ("prd-1"));
  g_assert_false (prd_jira_key_is_valid ("P-1"));
  g_assert_false (prd_jira_key_is_valid ("PRD-"));
  g_assert_false (prd_jira_key_is_valid ("PRD-1a"));
  g_assert_false (prd_jira_key_is_valid (NULL));

  /* At most PRD_JIRA_MAX_STORIES stories per PRD. */
  {
    g_autoptr (GString) many = g_string_new ("## User Stories\n\n");
    g_autoptr (PrdJiraStories) capped = NULL;

    for (guint i = 0; i < PRD_JIRA_MAX_STORIES + 5; i++)
      g_string_append_printf (many, "- Story %u\n", i);
    capped = prd_jira_stories_parse (many->str, many->len);
    g_assert_cmpuint (capped->stories->len, ==, PRD_JIRA_MAX_STORIES);
    /* ... and a sync of a PRD with more is refused, naming both counts;
     * at the limit it is not. */
    g_assert_cmpuint (capped->n_found, ==, PRD_JIRA_MAX_STORIES + 5);
    for (guint n = PRD_JIRA_MAX_STORIES; n <= PRD_JIRA_MAX_STORIES + 1; n++)
      {
        g_autoptr (GString) text = g_string_new ("## User Stories\n\n");
        g_autoptr (PrdJiraStories) stories = NULL;
        g_autoptr (GError) error = NULL;

        for (guint i = 0; i < n; i++)
          g_string_append_printf (text, "- Story %u\n", i);
        stories = prd_jira_stories_parse (text->str, text->len);
        g_assert_cmpuint (stories->n_found, ==, n);
        if (n == PRD_JIRA_MAX_STORIES)
          {
            g_assert_true (prd_jira_stories_check (stories, &error));
            g_assert_no_error (error);
          }
        else
          {
            g_assert_false (prd_jira_stories_check (stories, &error));
            g_assert_error (error, PRD_ERROR, PRD_ERROR_LIMIT_REACHED);
            g_assert_nonnull (strstr (error->message, "1001"));
            g_assert_nonnull (strstr (error->message, "1000"));
          }
      }
  }
}

/* ---- matching and the import plan ---- */

static PrdIntegrationLinkRecord *
link_record (const char *key, const char *title, const char *digest, int position)
{
  PrdIntegrationLinkRecord *link = g_new0 (PrdIntegrationLinkRecord, 1);

  link->org = g_strdup ("org");
  link->service = g_strdup ("jira");
  link->prd_id = g_strdup ("prd_1");
  link->remote_key = g_strdup (key);
  link->title = g_strdup (title);
  link->digest = g_strdup (digest);
  link->position = position;
  return link;
}

static PrdJiraIssue *
issue_record (const char *key, const char *summary)
{
  PrdJiraIssue *issue = g_new0 (PrdJiraIssue, 1);

  issue->id = g_strdup ("1");
  issue->key = g_strdup (key);
  issue->summary = g_strdup (summary);
  issue->status = g_strdup ("To Do");
  return issue;
}

static PrdJira *
configured_jira (void)
{
  PrdJira *jira = g_object_new (PRD_TYPE_JIRA, NULL);
  g_autoptr (JsonObject) settings =
      parse_object ("{\"baseUrl\": \"https://jira.example/\", \"deployment\": \"datacenter\", "
                    "\"apiVersion\": 2, \"projectKey\": \"PRD\"}");
  g_autoptr (GHashTable) secrets = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (PrdIntegrationHttp) http = prd_integration_http_new ("jira", "org");
  g_autoptr (GError) error = NULL;

  g_hash_table_insert (secrets, "token", "pat");
  g_assert_true (
      prd_integration_setup (PRD_INTEGRATION (jira), "org", settings, secrets, http, &error));
  g_assert_no_error (error);
  return jira;
}

static void
test_match (void)
{
  const char text[] = "## User Stories\n\n- Alpha\n- Beta renamed\n- Gamma (PRD-3)\n- Delta\n";
  g_autoptr (PrdJiraStories) stories = prd_jira_stories_parse (text, strlen (text));
  g_autoptr (GPtrArray) links =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_integration_link_record_free);
  g_autoptr (GPtrArray) matched = NULL;

  g_ptr_array_add (links, link_record ("PRD-1", "Alpha", "x", 0));
  g_ptr_array_add (links, link_record ("PRD-2", "Beta", "x", 1));
  g_ptr_array_add (links, link_record ("PRD-3", "Gamma old", "x", 5));
  matched = prd_jira_match (stories, links);
  g_assert_cmpuint (matched->len, ==, 4);
  g_assert_true (matched->pdata[0] == links->pdata[0]); /* by title */
  g_assert_true (matched->pdata[1] == links->pdata[1]); /* by position: renamed */
  g_assert_true (matched->pdata[2] == links->pdata[2]); /* by key */
  g_assert_null (matched->pdata[3]);                    /* new */
}

/* A key no link has (a mistyped one, or an issue made by hand) does not
 * stop the title and position steps: the story keeps the issue it was
 * created as, and is not created again on the next export. */
static void
test_match_unlinked_key (void)
{
  const char text[] = "## User Stories\n\n- Keyed story (PRD-77)\n- Plain (PRD-78)\n"
                      "- Renamed (PRD-79)\n- Alpha (PRD-2)\n";
  g_autoptr (PrdJiraStories) stories = prd_jira_stories_parse (text, strlen (text));
  g_autoptr (GPtrArray) links =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_integration_link_record_free);
  g_autoptr (GPtrArray) matched = NULL;

  g_ptr_array_add (links, link_record ("PRD-1", "Keyed story", "x", 0));
  g_ptr_array_add (links, link_record ("PRD-2", "Alpha", "x", 3));
  g_ptr_array_add (links, link_record ("PRD-3", "Before the rename", "x", 2));
  matched = prd_jira_match (stories, links);
  g_assert_true (matched->pdata[0] == links->pdata[0]); /* unlinked key, by title */
  g_assert_null (matched->pdata[1]);                    /* nothing left for it */
  g_assert_true (matched->pdata[2] == links->pdata[2]); /* unlinked key, by position */
  g_assert_true (matched->pdata[3] == links->pdata[1]); /* by key */
}

static char *
apply_plan (const char *text, PrdJiraImportPlan *plan)
{
  g_autoptr (GString) out = g_string_new (text);

  for (guint i = 0; i < plan->edits->len; i++)
    {
      PrdJiraEdit *edit = g_ptr_array_index (plan->edits, i);

      g_string_erase (out, (gssize) edit->start, (gssize) (edit->end - edit->start));
      g_string_insert (out, (gssize) edit->start, edit->text);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* Summaries with Markdown in them are written escaped: the items read back
 * as the summaries themselves, so the next export has nothing to send. */
static void
test_plan_import_markdown (void)
{
  static const char *const summaries[] = {
    "*stars* and [link](x) `code`",
    "a &amp; b \\* c",
    "_under_ and under_score_name",
    "# not a heading",
    "> not a quote",
    "<tag> and <b>bold</b> <http://x.example>",
    "Wow! ![image](y) !",
    "back\\slash \\\\ and end\\",
    "- not a list",
    "+ not a list",
    "1. not a list",
    "2) not a list",
    "``` not a fence",
    "~~~ not a fence",
    "--- not a rule",
    "***",
    "= not an underline",
    "&#35; &copy; entities",
    "Ends with key (PRD-999)",
    "[ref]: /not-a-definition",
    "a | b | c",
  };
  const char text[] = "# PRD\n\n## User Stories\n\n- Alpha (PRD-1)\n\n## End\n";
  g_autoptr (PrdJira) jira = configured_jira ();
  g_autoptr (GPtrArray) links =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_integration_link_record_free);
  g_autoptr (GPtrArray) issues =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_jira_issue_free);
  g_autoptr (PrdJiraImportPlan) plan = NULL;
  g_autoptr (PrdJiraStories) stories = NULL;
  g_autoptr (GPtrArray) matched = NULL;
  g_autofree char *alpha = prd_jira_story_digest ("Alpha", "");
  g_autofree char *result = NULL;
  g_autofree char *retitled = NULL;

  g_ptr_array_add (links, link_record ("PRD-1", "Alpha", alpha, 0));
  /* Changed in Jira only: the first line is rewritten. */
  g_ptr_array_add (issues, issue_record ("PRD-1", "*Alpha* <em>"));
  for (guint i = 0; i < G_N_ELEMENTS (summaries); i++)
    {
      g_autofree char *key = g_strdup_printf ("PRD-%u", 10 + i);

      g_ptr_array_add (issues, issue_record (key, summaries[i]));
    }
  plan = prd_jira_plan_import (jira, "org", "prd_1", text, links, issues);
  g_assert_cmpuint (plan->result->created, ==, G_N_ELEMENTS (summaries));
  g_assert_cmpuint (plan->result->updated, ==, 1);
  result = apply_plan (text, plan);
  stories = prd_jira_stories_parse (result, strlen (result));
  g_assert_cmpuint (stories->stories->len, ==, 1 + G_N_ELEMENTS (summaries));
  g_assert_cmpstr (story (stories, 0)->summary, ==, "*Alpha* <em>");
  g_assert_cmpstr (story (stories, 0)->key, ==, "PRD-1");
  retitled = g_strndup (result + story (stories, 0)->line_start,
                        story (stories, 0)->line_end - story (stories, 0)->line_start);
  g_assert_cmpstr (retitled, ==, "\\*Alpha\\* \\<em> (PRD-1)");
  for (guint i = 0; i < G_N_ELEMENTS (summaries); i++)
    {
      g_autofree char *key = g_strdup_printf ("PRD-%u", 10 + i);

      g_assert_cmpstr (story (stories, 1 + i)->summary, ==, summaries[i]);
      g_assert_cmpstr (story (stories, 1 + i)->key, ==, key);
      g_assert_cmpstr (story (stories, 1 + i)->description, ==, "");
    }
  /* The links keep the summaries and the digests the items read back as:
   * nothing to export. */
  matched = prd_jira_match (stories, plan->result->links);
  for (guint i = 0; i < stories->stories->len; i++)
    {
      PrdIntegrationLinkRecord *link = matched->pdata[i];

      g_assert_nonnull (link);
      g_assert_cmpstr (link->title, ==, story (stories, i)->summary);
      g_assert_cmpstr (link->digest, ==, story (stories, i)->digest);
    }

  /* A title longer than a summary keeps its key. */
  {
    g_autoptr (GString) line = g_string_new ("## User Stories\n\n- ");
    g_autoptr (PrdJiraStories) longest = NULL;

    for (guint i = 0; i < PRD_JIRA_MAX_SUMMARY; i++)
      g_string_append_c (line, 'x');
    g_string_append (line, " (PRD-6)\n");
    longest = prd_jira_stories_parse (line->str, line->len);
    g_assert_cmpstr (story (longest, 0)->key, ==, "PRD-6");
    g_assert_cmpint (g_utf8_strlen (story (longest, 0)->summary, -1), ==, PRD_JIRA_MAX_SUMMARY);
  }
}

static void
test_plan_import (void)
{
  const char text[] =
      "# PRD\n\n## User Stories\n\n- Alpha\n- Beta *local edit*\n- Gamma\n\n## End\n";
  g_autoptr (PrdJira) jira = configured_jira ();
  g_autoptr (GPtrArray) links =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_integration_link_record_free);
  g_autoptr (GPtrArray) issues =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_jira_issue_free);
  g_autoptr (PrdJiraImportPlan) plan = NULL;
  g_autofree char *result = NULL;
  g_autofree char *alpha = prd_jira_story_digest ("Alpha", "");
  g_autofree char *gamma = prd_jira_story_digest ("Gamma", "");

  g_ptr_array_add (links, link_record ("PRD-1", "Alpha", alpha, 0));
  g_ptr_array_add (links, link_record ("PRD-2", "Beta", "d", 1));
  g_ptr_array_add (links, link_record ("PRD-3", "Gamma", gamma, 2));
  g_ptr_array_add (links, link_record ("PRD-9", "Removed here", "d", 3));
  g_ptr_array_add (issues, issue_record ("PRD-1", "Alpha from Jira")); /* Jira only */
  g_ptr_array_add (issues, issue_record ("PRD-2", "Beta from Jira"));  /* both sides */
  g_ptr_array_add (issues, issue_record ("PRD-3", "Gamma"));           /* unchanged */
  g_ptr_array_add (issues, issue_record ("PRD-9", "Removed here"));    /* removed in the PRD */
  g_ptr_array_add (issues, issue_record ("PRD-10", "Made in  Jira"));  /* new */
  g_ptr_array_add (issues, issue_record ("PRD-11", "Also new"));

  plan = prd_jira_plan_import (jira, "org", "prd_1", text, links, issues);
  result = apply_plan (text, plan);
  g_assert_cmpstr (result, ==,
                   "# PRD\n\n## User Stories\n\n- Alpha from Jira (PRD-1)\n- Beta *local edit*\n"
                   "- Gamma\n- Made in Jira (PRD-10)\n- Also new (PRD-11)\n\n## End\n");
  g_assert_cmpuint (plan->result->created, ==, 2);
  g_assert_cmpuint (plan->result->updated, ==, 1);
  g_assert_cmpuint (plan->result->errors, ==, 0);
  g_assert_cmpuint (plan->result->issues->len, ==, 3);
  g_assert_cmpstr (
      json_object_get_string_member (g_ptr_array_index (plan->result->issues, 0), "url"), ==,
      "https://jira.example/browse/PRD-1");

  /* Importing the result again changes nothing. */
  {
    g_autoptr (GPtrArray) kept =
        g_ptr_array_new_with_free_func ((GDestroyNotify) prd_integration_link_record_free);
    g_autoptr (PrdJiraImportPlan) again = NULL;

    for (guint i = 0; i < plan->result->links->len; i++)
      g_ptr_array_add (
          kept, prd_integration_link_record_copy (g_ptr_array_index (plan->result->links, i)));
    /* PRD-2 changed on both sides keeps its last agreed title. */
    again = prd_jira_plan_import (jira, "org", "prd_1", result, kept, issues);
    g_assert_cmpuint (again->edits->len, ==, 0);
    g_assert_cmpuint (again->result->created + again->result->updated, ==, 0);
  }

  /* Issues an export created without hearing back (a lost answer): their
   * stories, never linked, are linked to them, not added again. */
  {
    const char fresh[] = "# PRD\n\n## User Stories\n\n- Delta\n- Epsilon\n- Delta\n";
    g_autoptr (GPtrArray) none =
        g_ptr_array_new_with_free_func ((GDestroyNotify) prd_integration_link_record_free);
    g_autoptr (GPtrArray) made =
        g_ptr_array_new_with_free_func ((GDestroyNotify) prd_jira_issue_free);
    g_autoptr (PrdJiraImportPlan) lost = NULL;
    g_autofree char *after = NULL;

    g_ptr_array_add (made, issue_record ("PRD-20", "Delta"));
    g_ptr_array_add (made, issue_record ("PRD-21", "Epsilon"));
    g_ptr_array_add (made, issue_record ("PRD-22", "Delta"));
    g_ptr_array_add (made, issue_record ("PRD-23", "Delta"));
    lost = prd_jira_plan_import (jira, "org", "prd_1", fresh, none, made);
    after = apply_plan (fresh, lost);
    /* Two stories "Delta", three issues: the third is a new item. */
    g_assert_cmpstr (after, ==,
                     "# PRD\n\n## User Stories\n\n- Delta\n- Epsilon\n- Delta\n"
                     "- Delta (PRD-23)\n");
    g_assert_cmpuint (lost->result->links->len, ==, 4);
    g_assert_cmpstr (
        ((PrdIntegrationLinkRecord *) g_ptr_array_index (lost->result->links, 0))->remote_key, ==,
        "PRD-20");
    g_assert_cmpint (
        ((PrdIntegrationLinkRecord *) g_ptr_array_index (lost->result->links, 0))->position, ==, 0);
    g_assert_cmpint (
        ((PrdIntegrationLinkRecord *) g_ptr_array_index (lost->result->links, 2))->position, ==, 2);
    g_assert_cmpuint (lost->result->created, ==, 1);
  }

  /* An issue listed twice (on two search pages) is one new item. */
  {
    const char before[] = "# PRD\n\n## User Stories\n\n- Alpha\n";
    g_autoptr (GPtrArray) none =
        g_ptr_array_new_with_free_func ((GDestroyNotify) prd_integration_link_record_free);
    g_autoptr (GPtrArray) twice =
        g_ptr_array_new_with_free_func ((GDestroyNotify) prd_jira_issue_free);
    g_autoptr (PrdJiraImportPlan) dup = NULL;
    g_autofree char *after = NULL;

    g_ptr_array_add (twice, issue_record ("PRD-30", "Imported story"));
    g_ptr_array_add (twice, issue_record ("PRD-31", "Other"));
    g_ptr_array_add (twice, issue_record ("PRD-30", "Imported story"));
    dup = prd_jira_plan_import (jira, "org", "prd_1", before, none, twice);
    after = apply_plan (before, dup);
    g_assert_cmpstr (after, ==,
                     "# PRD\n\n## User Stories\n\n- Alpha\n- Imported story (PRD-30)\n"
                     "- Other (PRD-31)\n");
    g_assert_cmpuint (dup->result->created, ==, 2);
    g_assert_cmpuint (dup->result->links->len, ==, 2);
  }
}

static void
test_descriptions (void)
{
  g_autofree char *wiki = prd_jira_description_wiki ("Line one\nLine two", "Checkout",
                                                     "http://hub/api/prds/prd_1/export.md");
  g_autoptr (JsonNode) adf =
      prd_jira_description_adf ("Line one\n\nLine two", "Checkout", "http://hub/x");
  g_autofree char *adf_text = json_to_string (adf, FALSE);

  g_assert_cmpstr (wiki, ==,
                   "Line one\nLine two\n\n----\nFrom the PRD "
                   "[Checkout|http://hub/api/prds/prd_1/export.md]");
  g_assert_true (g_str_has_prefix (adf_text, "{\"version\":1,\"type\":\"doc\",\"content\":["));
  g_assert_nonnull (strstr (adf_text, "\"href\":\"http://hub/x\""));
  g_assert_nonnull (strstr (adf_text, "\"text\":\"Line two\""));
}

/* ---- the store ---- */

static void
on_store_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

#define STORE_WAIT(result) prd_test_wait_while ((result) == NULL, 30000)

static gboolean
put_settings (PrdIntegrationStore *store, const char *org, const char *settings, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  prd_integration_store_put_settings_async (store, org, "jira", settings, NULL, on_store_result,
                                            &result);
  STORE_WAIT (result);
  return prd_integration_store_put_settings_finish (store, result, error);
}

static GPtrArray *
list_settings (PrdIntegrationStore *store, const char *org)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  GPtrArray *records;

  prd_integration_store_list_settings_async (store, org, NULL, on_store_result, &result);
  STORE_WAIT (result);
  records = prd_integration_store_list_settings_finish (store, result, &error);
  g_assert_no_error (error);
  return records;
}

static gboolean
record_delivery_of (PrdIntegrationStore *store, const char *org, const char *id, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  prd_integration_store_record_delivery_async (store, org, "jira", id, NULL, on_store_result,
                                               &result);
  STORE_WAIT (result);
  return prd_integration_store_record_delivery_finish (store, result, error);
}

static gboolean
record_delivery (PrdIntegrationStore *store, const char *id, GError **error)
{
  return record_delivery_of (store, "org_a", id, error);
}

static void
on_delivery_recorded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  guint *pending = user_data;
  g_autoptr (GError) error = NULL;

  g_assert_true (prd_integration_store_record_delivery_finish (PRD_INTEGRATION_STORE (source),
                                                               result, &error));
  g_assert_no_error (error);
  (*pending)--;
}

static void
test_store (void)
{
  g_autofree char *dir = g_dir_make_tmp ("prd-integrations-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "prdhub.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdStore) store = prd_test_store_open (path, &error);
  PrdIntegrationStore *integrations = PRD_INTEGRATION_STORE (store);
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autoptr (GPtrArray) all = NULL;
  g_autoptr (GPtrArray) links = NULL;
  g_autoptr (GString) huge = g_string_new ("\"");

  g_assert_no_error (error);
  info = prd_test_store_create (store, "prd_1", "org_a", "One", "alice", &error);
  g_assert_no_error (error);
  g_assert_true (put_settings (integrations, "org_a", "{\"baseUrl\":\"https://a\"}", &error));
  g_assert_true (put_settings (integrations, "org_b", "{}", &error));
  g_assert_true (put_settings (integrations, "org_a", "{\"baseUrl\":\"https://b\"}", &error));
  g_assert_no_error (error);
  all = list_settings (integrations, NULL);
  g_assert_cmpuint (all->len, ==, 2);
  g_clear_pointer (&all, g_ptr_array_unref);
  all = list_settings (integrations, "org_a");
  g_assert_cmpuint (all->len, ==, 1);
  g_assert_cmpstr (((PrdIntegrationSettingsRecord *) all->pdata[0])->settings, ==,
                   "{\"baseUrl\":\"https://b\"}");

  /* Refused before anything is queued. */
  while (huge->len <= PRD_INTEGRATION_STORE_MAX_SETTINGS)
    g_string_append (huge, "xxxxxxxx");
  g_assert_false (put_settings (integrations, "org_a", huge->str, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD);
  g_clear_error (&error);
  g_assert_false (put_settings (integrations, "", "{}", &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_ID);
  g_clear_error (&error);
  g_assert_false (put_settings (integrations, "org\nx", "{}", &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INVALID_ID);
  g_clear_error (&error);

  /* Links: put, replace, list by PRD, delete with the settings. */
  {
    g_autoptr (GPtrArray) put =
        g_ptr_array_new_with_free_func ((GDestroyNotify) prd_integration_link_record_free);
    g_autoptr (GAsyncResult) result = NULL;

    g_ptr_array_add (put, link_record ("PRD-1", "One", "d1", 0));
    g_ptr_array_add (put, link_record ("PRD-2", "Two", "d2", 1));
    g_free (((PrdIntegrationLinkRecord *) put->pdata[0])->org);
    ((PrdIntegrationLinkRecord *) put->pdata[0])->org = g_strdup ("org_a");
    g_free (((PrdIntegrationLinkRecord *) put->pdata[1])->org);
    ((PrdIntegrationLinkRecord *) put->pdata[1])->org = g_strdup ("org_a");
    prd_integration_store_put_links_async (integrations, put, NULL, on_store_result, &result);
    STORE_WAIT (result);
    g_assert_true (prd_integration_store_put_links_finish (integrations, result, &error));
    g_assert_no_error (error);
    g_clear_object (&result);
    prd_integration_store_list_links_async (integrations, "org_a", "jira", "prd_1", NULL,
                                            on_store_result, &result);
    STORE_WAIT (result);
    links = prd_integration_store_list_links_finish (integrations, result, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (links->len, ==, 2);
    g_assert_cmpstr (((PrdIntegrationLinkRecord *) links->pdata[1])->title, ==, "Two");
    g_clear_object (&result);
    prd_integration_store_delete_settings_async (integrations, "org_a", "jira", NULL,
                                                 on_store_result, &result);
    STORE_WAIT (result);
    g_assert_true (prd_integration_store_delete_settings_finish (integrations, result, &error));
    g_clear_object (&result);
    prd_integration_store_delete_settings_async (integrations, "org_a", "jira", NULL,
                                                 on_store_result, &result);
    STORE_WAIT (result);
    g_assert_false (prd_integration_store_delete_settings_finish (integrations, result, &error));
    g_assert_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND);
    g_clear_error (&error);
    g_clear_object (&result);
    g_clear_pointer (&links, g_ptr_array_unref);
    prd_integration_store_list_links_async (integrations, "org_a", "jira", NULL, NULL,
                                            on_store_result, &result);
    STORE_WAIT (result);
    links = prd_integration_store_list_links_finish (integrations, result, &error);
    g_assert_cmpuint (links->len, ==, 0);
  }

  /* Deliveries: each once; only an organization's newest are remembered,
   * and another organization's deliveries do not push them out. */
  g_assert_true (record_delivery_of (integrations, "org_b", "first", &error));
  g_assert_true (record_delivery (integrations, "first", &error));
  g_assert_false (record_delivery (integrations, "first", &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_ALREADY_EXISTS);
  g_clear_error (&error);
  /* Queued at once, they commit in a few grouped transactions. */
  {
    guint pending = PRD_INTEGRATION_STORE_MAX_DELIVERIES;

    for (guint i = 0; i < PRD_INTEGRATION_STORE_MAX_DELIVERIES; i++)
      {
        g_autofree char *id = g_strdup_printf ("d%06u", i);

        prd_integration_store_record_delivery_async (integrations, "org_a", "jira", id, NULL,
                                                     on_delivery_recorded, &pending);
      }
    prd_test_wait_while (pending > 0, 60000);
  }
  /* org_a's "first" was forgotten, its newest MAX_DELIVERIES (d000000 the
   * oldest of them) were not, nor org_b's one. */
  g_assert_false (record_delivery (integrations, "d000000", &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_ALREADY_EXISTS);
  g_clear_error (&error);
  g_assert_false (record_delivery_of (integrations, "org_b", "first", &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_ALREADY_EXISTS);
  g_clear_error (&error);
  g_assert_true (record_delivery (integrations, "first", &error));
  g_assert_false (record_delivery (integrations, "d099999", &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_ALREADY_EXISTS);
  g_clear_error (&error);

  prd_test_store_close (store);
  g_clear_object (&store);
  {
    g_autofree char *wal = g_strconcat (path, "-wal", NULL);
    g_autofree char *shm = g_strconcat (path, "-shm", NULL);

    g_unlink (path);
    g_unlink (wal);
    g_unlink (shm);
    g_rmdir (dir);
  }
}

/* ---- a capped add ---- */

typedef struct
{
  guint pending;
  guint added;
  guint limited;
} Adds;

static void
on_link_added (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Adds *adds = user_data;
  g_autoptr (GError) error = NULL;

  if (prd_integration_store_add_link_finish (PRD_INTEGRATION_STORE (source), result, &error))
    adds->added++;
  else
    {
      g_assert_error (error, PRD_ERROR, PRD_ERROR_LIMIT_REACHED);
      adds->limited++;
    }
  adds->pending--;
}

static gboolean
add_link (PrdIntegrationStore *store, const char *key, const char *prd, guint max, GError **error)
{
  g_autoptr (PrdIntegrationLinkRecord) link = link_record (key, "Title", "d", 0);
  g_autoptr (GAsyncResult) result = NULL;

  g_free (link->prd_id);
  link->prd_id = g_strdup (prd);
  prd_integration_store_add_link_async (store, link, max, NULL, on_store_result, &result);
  STORE_WAIT (result);
  return prd_integration_store_add_link_finish (store, result, error);
}

static guint
count_prd_links (PrdIntegrationStore *store, const char *prd)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GPtrArray) links = NULL;
  g_autoptr (GError) error = NULL;

  prd_integration_store_list_links_async (store, "org", "jira", prd, NULL, on_store_result,
                                          &result);
  STORE_WAIT (result);
  links = prd_integration_store_list_links_finish (store, result, &error);
  g_assert_no_error (error);
  return links->len;
}

static GPtrArray *
list_prd_links (PrdIntegrationStore *store, const char *prd)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  GPtrArray *links;

  prd_integration_store_list_links_async (store, "org", "jira", prd, NULL, on_store_result,
                                          &result);
  STORE_WAIT (result);
  links = prd_integration_store_list_links_finish (store, result, &error);
  g_assert_no_error (error);
  return links;
}

static PrdIntegrationLinkStatusOutcome
set_status (PrdIntegrationStore *store, const char *key, const char *status, gint64 sent_at)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  PrdIntegrationLinkStatusOutcome outcome = PRD_INTEGRATION_LINK_STATUS_CHANGED;

  prd_integration_store_set_link_status_async (store, "org", "jira", key, status, sent_at, NULL,
                                               on_store_result, &result);
  STORE_WAIT (result);
  g_assert_true (prd_integration_store_set_link_status_finish (store, result, &outcome, &error));
  g_assert_no_error (error);
  return outcome;
}

static void
merge (PrdIntegrationStore *store, GPtrArray *links)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  prd_integration_store_merge_links_async (store, links, NULL, on_store_result, &result);
  STORE_WAIT (result);
  g_assert_true (prd_integration_store_merge_links_finish (store, result, &error));
  g_assert_no_error (error);
}

/* A sync reads the links, works for a while, then keeps what it learnt;
 * webhook deliveries handled meanwhile (a link forgotten, a status set)
 * are not undone by it, and an older delivery arriving after a newer one
 * does not set the status back. */
static void
test_store_merge_links (void)
{
  g_autofree char *dir = g_dir_make_tmp ("prd-integrations-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "prdhub.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdStore) store = prd_test_store_open (path, &error);
  PrdIntegrationStore *integrations = PRD_INTEGRATION_STORE (store);
  g_autoptr (GPtrArray) added =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_integration_link_record_free);
  g_autoptr (GPtrArray) read = NULL;
  g_autoptr (GPtrArray) kept =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_integration_link_record_free);
  g_autoptr (GPtrArray) now = NULL;
  g_autoptr (PrdStoreInfo) info = NULL;

  g_assert_no_error (error);
  info = prd_test_store_create (store, "prd_1", "org", "T", "alice", &error);
  g_assert_no_error (error);
  for (guint i = 1; i <= 3; i++)
    {
      g_autofree char *key = g_strdup_printf ("PRD-%u", i);

      g_ptr_array_add (added, link_record (key, "Old", "d", (int) i - 1));
    }
  merge (integrations, added);
  read = list_prd_links (integrations, "prd_1");
  g_assert_cmpuint (read->len, ==, 3);
  g_assert_cmpint (((PrdIntegrationLinkRecord *) read->pdata[0])->updated_at, >, 0);
  g_assert_cmpint (((PrdIntegrationLinkRecord *) read->pdata[0])->status_at, ==, 0);

  /* Meanwhile: PRD-1's issue is deleted, PRD-2's status set by a webhook. */
  {
    g_autoptr (GAsyncResult) result = NULL;
    gboolean deleted = FALSE;

    prd_integration_store_delete_link_async (integrations, "org", "jira", "PRD-1", NULL,
                                             on_store_result, &result);
    STORE_WAIT (result);
    g_assert_true (
        prd_integration_store_delete_link_finish (integrations, result, &deleted, &error));
    g_assert_true (deleted);
  }
  g_assert_cmpint (set_status (integrations, "PRD-2", "Done", 2000), ==,
                   PRD_INTEGRATION_LINK_STATUS_CHANGED);

  /* The sync keeps the links as it read them, with new titles and the
   * statuses its search saw; and a new one whose key is kept already. */
  for (guint i = 0; i < read->len; i++)
    {
      PrdIntegrationLinkRecord *copy = prd_integration_link_record_copy (read->pdata[i]);

      g_free (copy->title);
      copy->title = g_strdup ("New");
      g_free (copy->status);
      copy->status = g_strdup ("To Do");
      g_ptr_array_add (kept, copy);
    }
  g_ptr_array_add (kept, link_record ("PRD-3", "Taken", "d", 9));
  merge (integrations, kept);
  now = list_prd_links (integrations, "prd_1");
  g_assert_cmpuint (now->len, ==, 2); /* PRD-1 stays forgotten */
  g_assert_cmpstr (((PrdIntegrationLinkRecord *) now->pdata[0])->remote_key, ==, "PRD-2");
  g_assert_cmpstr (((PrdIntegrationLinkRecord *) now->pdata[0])->title, ==, "New");
  g_assert_cmpstr (((PrdIntegrationLinkRecord *) now->pdata[0])->status, ==, "Done");
  g_assert_cmpint (((PrdIntegrationLinkRecord *) now->pdata[0])->status_at, ==, 2000);
  /* PRD-3: no delivery since the read, so the sync's status is kept; the
   * "new" link with its key did not replace it. */
  g_assert_cmpstr (((PrdIntegrationLinkRecord *) now->pdata[1])->title, ==, "New");
  g_assert_cmpstr (((PrdIntegrationLinkRecord *) now->pdata[1])->status, ==, "To Do");
  g_assert_cmpint (((PrdIntegrationLinkRecord *) now->pdata[1])->position, ==, 2);

  /* Deliveries out of order: an older one is OUTDATED, changes nothing. */
  g_assert_cmpint (set_status (integrations, "PRD-2", "In Progress", 1999), ==,
                   PRD_INTEGRATION_LINK_STATUS_OUTDATED);
  g_assert_cmpint (set_status (integrations, "PRD-2", "Done", 2001), ==,
                   PRD_INTEGRATION_LINK_STATUS_UNCHANGED);
  g_assert_cmpint (set_status (integrations, "PRD-2", "Review", 2000), ==,
                   PRD_INTEGRATION_LINK_STATUS_OUTDATED);
  g_assert_cmpint (set_status (integrations, "PRD-2", "Review", 2001), ==,
                   PRD_INTEGRATION_LINK_STATUS_CHANGED);
  g_assert_cmpint (set_status (integrations, "PRD-1", "Done", 3000), ==,
                   PRD_INTEGRATION_LINK_STATUS_NOT_LINKED);
  g_clear_pointer (&now, g_ptr_array_unref);
  now = list_prd_links (integrations, "prd_1");
  g_assert_cmpstr (((PrdIntegrationLinkRecord *) now->pdata[0])->status, ==, "Review");
  g_assert_cmpuint (now->len, ==, 2);

  /* A time kept ahead of now (the clock was set back since) orders
   * nothing: a delivery sent before now is not outdated by it. */
  {
    gint64 at = g_get_real_time () / 1000;

    g_assert_cmpint (set_status (integrations, "PRD-3", "Bogus", at + (gint64) 365 * 86400000), ==,
                     PRD_INTEGRATION_LINK_STATUS_CHANGED);
    g_assert_cmpint (set_status (integrations, "PRD-3", "In Progress", at - 1000), ==,
                     PRD_INTEGRATION_LINK_STATUS_CHANGED);
    g_assert_cmpint (set_status (integrations, "PRD-3", "Done", at - 2000), ==,
                     PRD_INTEGRATION_LINK_STATUS_OUTDATED);
    g_assert_cmpint (set_status (integrations, "PRD-3", "Review", G_MAXINT64), ==,
                     PRD_INTEGRATION_LINK_STATUS_CHANGED);
    g_assert_cmpint (set_status (integrations, "PRD-3", "Done", at), ==,
                     PRD_INTEGRATION_LINK_STATUS_CHANGED);

    /* A sync reads the link; a delivery sent at the same millisecond as
     * the one that set its status sets another: the sync's older status
     * does not overwrite it. */
    {
      g_autoptr (GPtrArray) reread = list_prd_links (integrations, "prd_1");
      g_autoptr (GPtrArray) stale =
          g_ptr_array_new_with_free_func ((GDestroyNotify) prd_integration_link_record_free);
      g_autoptr (GPtrArray) after = NULL;
      PrdIntegrationLinkRecord *copy = prd_integration_link_record_copy (reread->pdata[1]);

      g_assert_cmpstr (copy->remote_key, ==, "PRD-3");
      g_assert_cmpint (copy->status_at, ==, at);
      g_assert_cmpint (set_status (integrations, "PRD-3", "Released", at), ==,
                       PRD_INTEGRATION_LINK_STATUS_CHANGED);
      g_free (copy->status);
      copy->status = g_strdup ("Done");
      g_ptr_array_add (stale, copy);
      merge (integrations, stale);
      after = list_prd_links (integrations, "prd_1");
      g_assert_cmpstr (((PrdIntegrationLinkRecord *) after->pdata[1])->status, ==, "Released");
    }
  }

  prd_test_store_close (store);
  g_clear_object (&store);
  {
    g_autofree char *wal = g_strconcat (path, "-wal", NULL);
    g_autofree char *shm = g_strconcat (path, "-shm", NULL);

    g_unlink (path);
    g_unlink (wal);
    g_unlink (shm);
    g_rmdir (dir);
  }
}

/* Adds queued together are counted one after the other: never more than
 * the limit, however many were under it when they were asked for. */
static void
test_store_add_link (void)
{
  g_autofree char *dir = g_dir_make_tmp ("prd-integrations-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "prdhub.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdStore) store = prd_test_store_open (path, &error);
  PrdIntegrationStore *integrations = PRD_INTEGRATION_STORE (store);
  Adds adds = { 10, 0, 0 };

  g_assert_no_error (error);
  for (guint i = 1; i <= 3; i++)
    {
      g_autofree char *id = g_strdup_printf ("prd_%u", i);
      g_autoptr (PrdStoreInfo) info =
          prd_test_store_create (store, id, "org", "T", "alice", &error);

      g_assert_no_error (error);
    }
  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *key = g_strdup_printf ("i-%u@prd_1", i);
      g_autoptr (PrdIntegrationLinkRecord) link = link_record (key, "Title", "d", 0);

      prd_integration_store_add_link_async (integrations, link, 4, NULL, on_link_added, &adds);
    }
  prd_test_wait_while (adds.pending > 0, 60000);
  g_assert_cmpuint (adds.added, ==, 4);
  g_assert_cmpuint (adds.limited, ==, 6);
  g_assert_cmpuint (count_prd_links (integrations, "prd_1"), ==, 4);

  /* The same key again: ALREADY_EXISTS, whatever the limit. */
  g_assert_true (add_link (integrations, "k@prd_2", "prd_2", 4, &error));
  g_assert_no_error (error);
  g_assert_false (add_link (integrations, "k@prd_2", "prd_2", 4, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_ALREADY_EXISTS);
  g_clear_error (&error);
  /* The edge: one under the limit adds, at it refuses; another PRD's
   * links do not count. */
  g_assert_true (add_link (integrations, "l@prd_2", "prd_2", 3, &error));
  g_assert_true (add_link (integrations, "m@prd_2", "prd_2", 3, &error));
  g_assert_no_error (error);
  g_assert_false (add_link (integrations, "n@prd_2", "prd_2", 3, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_LIMIT_REACHED);
  g_clear_error (&error);
  g_assert_cmpuint (count_prd_links (integrations, "prd_2"), ==, 3);

  /* A link for a PRD deleted after it was asked for (a craft-link or a
   * sync under way): PRD_NOT_FOUND and nothing kept, in the same write as
   * the check; a put leaves that PRD's links out and keeps the others'.
   * Queued right behind the deletion, as the hub's would be. */
  {
    g_autoptr (GAsyncResult) deleted = NULL;
    g_autoptr (GAsyncResult) put_result = NULL;
    g_autoptr (GPtrArray) put =
        g_ptr_array_new_with_free_func ((GDestroyNotify) prd_integration_link_record_free);
    PrdIntegrationLinkRecord *gone = link_record ("g@prd_3", "Gone", "d", 0);
    PrdIntegrationLinkRecord *kept = link_record ("k2@prd_1", "Kept", "d", 1);

    g_free (gone->prd_id);
    gone->prd_id = g_strdup ("prd_3");
    g_ptr_array_add (put, gone);
    g_ptr_array_add (put, kept);
    prd_store_delete_async (store, "prd_3", NULL, on_store_result, &deleted);
    prd_integration_store_put_links_async (integrations, put, NULL, on_store_result, &put_result);
    STORE_WAIT (put_result);
    g_assert_nonnull (deleted);
    g_assert_true (prd_store_delete_finish (store, deleted, &error));
    g_assert_true (prd_integration_store_put_links_finish (integrations, put_result, &error));
    g_assert_no_error (error);
  }
  g_assert_cmpuint (count_prd_links (integrations, "prd_3"), ==, 0);
  g_assert_cmpuint (count_prd_links (integrations, "prd_1"), ==, 5);
  g_assert_false (add_link (integrations, "h@prd_3", "prd_3", 4, &error));
  g_assert_error (error, PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND);
  g_clear_error (&error);
  g_assert_cmpuint (count_prd_links (integrations, "prd_3"), ==, 0);

  prd_test_store_close (store);
  g_clear_object (&store);
  {
    g_autofree char *wal = g_strconcat (path, "-wal", NULL);
    g_autofree char *shm = g_strconcat (path, "-shm", NULL);

    g_unlink (path);
    g_unlink (wal);
    g_unlink (shm);
    g_rmdir (dir);
  }
}

/* ---- the HTTP client against a real server ---- */

typedef struct
{
  SoupServer *server;
  char *base;
  guint requests;
  char *last_authorization;
  char *mode;
  guint64 streamed; /* bytes of /endless's body handed to libsoup */
  guint trickle_id; /* /trickle's bytes */
} Fixture;

#define ENDLESS_CHUNK (64 * 1024)
#define ENDLESS_MAX   ((guint64) 256 * 1024 * 1024)

/* /endless: one more chunk each time one is written, up to ENDLESS_MAX. */
static void
on_endless_wrote_chunk (SoupServerMessage *msg, gsize size, gpointer user_data)
{
  Fixture *f = user_data;
  SoupMessageBody *body = soup_server_message_get_response_body (msg);

  if (f->streamed >= ENDLESS_MAX)
    {
      soup_message_body_append (body, SOUP_MEMORY_STATIC, "\"", 1);
      soup_message_body_complete (body);
    }
  else
    {
      soup_message_body_append_take (body, (guchar *) g_strnfill (ENDLESS_CHUNK, 'x'),
                                     ENDLESS_CHUNK);
      f->streamed += ENDLESS_CHUNK;
    }
  soup_server_message_unpause (msg);
}

static gboolean
trickle_byte (gpointer user_data)
{
  SoupServerMessage *msg = user_data;

  soup_message_body_append (soup_server_message_get_response_body (msg), SOUP_MEMORY_STATIC, " ",
                            1);
  soup_server_message_unpause (msg);
  return G_SOURCE_CONTINUE;
}

static void
on_request (SoupServer *server,
            SoupServerMessage *msg,
            const char *path,
            GHashTable *query,
            gpointer user_data)
{
  Fixture *f = user_data;
  SoupMessageHeaders *response = soup_server_message_get_response_headers (msg);
  const char *json = "{\"ok\":true}";

  f->requests++;
  g_free (f->last_authorization);
  f->last_authorization = g_strdup (soup_message_headers_get_one (
      soup_server_message_get_request_headers (msg), "Authorization"));
  if (g_str_equal (path, "/429-once") && f->requests == 1)
    {
      soup_message_headers_replace (response, "Retry-After", "1");
      soup_server_message_set_status (msg, 429, NULL);
      soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC, "slow down", 9);
      return;
    }
  if (g_str_equal (path, "/503-always"))
    {
      soup_server_message_set_status (msg, 503, NULL);
      return;
    }
  if (g_str_equal (path, "/429-too-long"))
    {
      soup_message_headers_replace (response, "Retry-After", "3600");
      soup_server_message_set_status (msg, 429, NULL);
      return;
    }
  if (g_str_equal (path, "/429-over-a-day"))
    {
      soup_message_headers_replace (response, "Retry-After", "100000");
      soup_server_message_set_status (msg, 429, NULL);
      return;
    }
  if (g_str_equal (path, "/redirect"))
    {
      g_autofree char *to = g_strconcat (f->base, "/hooks/SECRETKEY?token=SECRET", NULL);

      soup_message_headers_replace (response, "Location", to);
      soup_server_message_set_status (msg, 302, NULL);
      return;
    }
  if (g_str_equal (path, "/redirect-relative"))
    {
      soup_message_headers_replace (response, "Location", "/hooks/SECRETKEY");
      soup_server_message_set_status (msg, 301, NULL);
      return;
    }
  if (g_str_equal (path, "/endless"))
    {
      soup_message_headers_set_encoding (response, SOUP_ENCODING_CHUNKED);
      soup_message_headers_set_content_type (response, "application/json", NULL);
      soup_server_message_set_status (msg, 200, NULL);
      soup_message_body_append (soup_server_message_get_response_body (msg), SOUP_MEMORY_STATIC,
                                "\"", 1);
      g_signal_connect (msg, "wrote-chunk", G_CALLBACK (on_endless_wrote_chunk), f);
      return;
    }
  if (g_str_equal (path, "/huge") || g_str_equal (path, "/gzip-bomb"))
    {
      /* 16 MiB of a JSON string: whole, or gzipped to some 16 KiB. */
      gsize size = 16 * 1024 * 1024;
      g_autofree char *text = g_malloc (size);
      g_autoptr (GBytes) body = NULL;

      memset (text, 'x', size);
      text[0] = '"';
      text[size - 1] = '"';
      body = g_bytes_new_take (g_steal_pointer (&text), size);
      if (g_str_equal (path, "/gzip-bomb"))
        {
          g_autoptr (GZlibCompressor) gz = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP, 9);
          g_autoptr (GInputStream) plain = g_memory_input_stream_new_from_bytes (body);
          g_autoptr (GInputStream) packed = g_converter_input_stream_new (plain, G_CONVERTER (gz));
          g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();

          g_assert_cmpint (
              g_output_stream_splice (out, packed, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, NULL),
              >, 0);
          g_clear_pointer (&body, g_bytes_unref);
          body = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
          g_assert_cmpuint (g_bytes_get_size (body), <, PRD_INTEGRATION_HTTP_MAX_BODY / 64);
          soup_message_headers_replace (response, "Content-Encoding", "gzip");
        }
      soup_server_message_set_status (msg, 200, NULL);
      soup_message_headers_set_content_type (response, "application/json", NULL);
      soup_message_body_append_bytes (soup_server_message_get_response_body (msg), body);
      return;
    }
  if (g_str_equal (path, "/html"))
    {
      const char *html = "<html><body>Bad gateway</body></html>";

      soup_server_message_set_status (msg, 502, NULL);
      soup_server_message_set_response (msg, "text/html", SOUP_MEMORY_STATIC, html, strlen (html));
      return;
    }
  if (g_str_equal (path, "/html-200"))
    {
      const char *html = "<html>login</html>";

      soup_server_message_set_status (msg, 200, NULL);
      soup_server_message_set_response (msg, "text/html", SOUP_MEMORY_STATIC, html, strlen (html));
      return;
    }
  if (f->mode != NULL &&
      (g_str_has_suffix (path, "/search/jql") || g_str_has_suffix (path, "/search")))
    {
      /* A Jira that misbehaves: entries that are no issues on every page,
       * offering the same page again ("same-token"), always a new token
       * ("new-token"), or a total never reached ("huge-total"); empty
       * pages that are not the last, offering themselves again
       * ("empty-same-token") or a new token each ("empty-new-token"); or
       * one issue on two pages ("duplicate"). */
      const char *token = query != NULL ? g_hash_table_lookup (query, "nextPageToken") : NULL;
      g_autofree char *body = NULL;

      if (g_str_equal (f->mode, "same-token"))
        body = g_strdup ("{\"issues\":[{\"key\":\"not a key\"},7,null],"
                         "\"nextPageToken\":\"same\",\"isLast\":false}");
      else if (g_str_equal (f->mode, "new-token"))
        body = g_strdup_printf ("{\"issues\":[{\"key\":\"not a key\"},7,null],"
                                "\"nextPageToken\":\"t%u\",\"isLast\":false}",
                                f->requests);
      else if (g_str_equal (f->mode, "empty-same-token"))
        body = g_strdup ("{\"issues\":[],\"nextPageToken\":\"same\",\"isLast\":false}");
      else if (g_str_equal (f->mode, "empty-new-token"))
        body = g_strdup_printf ("{\"issues\":[],\"nextPageToken\":\"t%u\",\"isLast\":false}",
                                f->requests);
      else if (g_str_equal (f->mode, "huge-total"))
        body = g_strdup ("{\"issues\":[{\"key\":\"bad\"},7,null],\"total\":1000000000}");
      else if (token == NULL)
        body = g_strdup ("{\"issues\":[{\"id\":\"1\",\"key\":\"PRD-1\",\"fields\":{\"summary\":"
                         "\"One\"}},{\"id\":\"2\",\"key\":\"PRD-2\",\"fields\":{\"summary\":"
                         "\"Two\"}}],\"nextPageToken\":\"p2\",\"isLast\":false}");
      else
        body = g_strdup ("{\"issues\":[{\"id\":\"1\",\"key\":\"PRD-1\",\"fields\":{\"summary\":"
                         "\"One\"}},{\"id\":\"3\",\"key\":\"PRD-3\",\"fields\":{\"summary\":"
                         "\"Three\"}}],\"isLast\":true}");
      soup_server_message_set_status (msg, 200, NULL);
      soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, body,
                                        strlen (body));
      return;
    }
  if (g_str_has_suffix (path, "/search/jql") || g_str_has_suffix (path, "/search"))
    {
      /* Cloud: 1500 issues by pages of 100 with nextPageToken; Data
       * Center: 250 issues by startAt. */
      gboolean cloud = g_str_has_suffix (path, "/jql");
      const char *token = query != NULL ? g_hash_table_lookup (query, "nextPageToken") : NULL;
      const char *start_at = query != NULL ? g_hash_table_lookup (query, "startAt") : NULL;
      guint start = (guint) g_ascii_strtoull (
          cloud ? (token != NULL ? token : "0") : (start_at != NULL ? start_at : "0"), NULL, 10);
      guint total = cloud ? 1500 : 250;
      g_autoptr (GString) body = g_string_new ("{\"issues\":[");

      for (guint i = start; i < MIN (start + 100, total); i++)
        g_string_append_printf (body,
                                "%s{\"id\":\"%u\",\"key\":\"PRD-%u\",\"fields\":{\"summary\":"
                                "\"Issue %u\",\"status\":{\"name\":\"Done\"}}}",
                                i > start ? "," : "", i, i + 1, i + 1);
      g_string_append (body, "]");
      if (cloud && start + 100 < total)
        g_string_append_printf (body, ",\"isLast\":false,\"nextPageToken\":\"%u\"", start + 100);
      else if (cloud)
        g_string_append (body, ",\"isLast\":true");
      else
        g_string_append_printf (body, ",\"startAt\":%u,\"maxResults\":100,\"total\":%u", start,
                                total);
      g_string_append (body, "}");
      soup_server_message_set_status (msg, 200, NULL);
      soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, body->str,
                                        body->len);
      return;
    }
  if (g_str_equal (path, "/drop"))
    {
      /* The connection dies before an answer. */
      GIOStream *stream = soup_server_message_steal_connection (msg);

      g_io_stream_close (stream, NULL, NULL);
      g_object_unref (stream);
      return;
    }
  if (g_str_equal (path, "/trickle"))
    {
      /* A byte now and then, never the whole answer. */
      soup_message_headers_set_encoding (response, SOUP_ENCODING_CHUNKED);
      soup_server_message_set_status (msg, 200, NULL);
      soup_message_body_append (soup_server_message_get_response_body (msg), SOUP_MEMORY_STATIC,
                                "[", 1);
      f->trickle_id = g_timeout_add_full (G_PRIORITY_DEFAULT, 200, trickle_byte, g_object_ref (msg),
                                          g_object_unref);
      return;
    }
  if (g_str_equal (path, "/hang"))
    {
      soup_server_message_pause (msg);
      g_object_set_data_full (G_OBJECT (server), "paused", g_object_ref (msg), g_object_unref);
      return;
    }
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, json,
                                    strlen (json));
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSList) uris = NULL;

  f->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (f->server, NULL, on_request, f, NULL);
  g_assert_true (soup_server_listen_local (f->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (f->server);
  f->base = g_uri_to_string (uris->data);
  g_slist_free_full (g_steal_pointer (&uris), (GDestroyNotify) g_uri_unref);
  if (g_str_has_suffix (f->base, "/"))
    f->base[strlen (f->base) - 1] = '\0';
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_object_set_data (G_OBJECT (f->server), "paused", NULL);
  g_clear_handle_id (&f->trickle_id, g_source_remove);
  soup_server_disconnect (f->server);
  g_clear_object (&f->server);
  g_free (f->base);
  g_free (f->last_authorization);
  g_free (f->mode);
}

typedef struct
{
  gboolean done;
  PrdIntegrationHttpResponse *response;
  GError *error;
} Outcome;

static void
on_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Outcome *outcome = user_data;

  outcome->response =
      prd_integration_http_send_finish (PRD_INTEGRATION_HTTP (source), result, &outcome->error);
  outcome->done = TRUE;
}

static void
send (Fixture *f,
      PrdIntegrationHttp *http,
      const char *method,
      const char *path,
      PrdIntegrationHttpFlags flags,
      GCancellable *cancellable,
      Outcome *outcome)
{
  g_autofree char *url = g_strconcat (f->base, path, NULL);

  memset (outcome, 0, sizeof *outcome);
  prd_integration_http_send_async (http, method, url, NULL, flags, cancellable, on_sent, outcome);
  prd_test_wait_while (!outcome->done, 30000);
}

static void
outcome_clear (Outcome *outcome)
{
  prd_integration_http_response_free (outcome->response);
  g_clear_error (&outcome->error);
}

static PrdIntegrationHttp *
client (void)
{
  PrdIntegrationHttp *http = prd_integration_http_new ("test", "org");

  prd_integration_http_set_authorization (http, "Bearer t0ken");
  prd_integration_http_set_backoff (http, 10, 40);
  return http;
}

static void
test_http_auth_and_json (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdIntegrationHttp) http = client ();
  Outcome outcome;

  send (f, http, "GET", "/ok", PRD_INTEGRATION_HTTP_IDEMPOTENT, NULL, &outcome);
  g_assert_no_error (outcome.error);
  g_assert_cmpuint (outcome.response->status, ==, 200);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (outcome.response->json));
  /* Sent with the first request, unasked. */
  g_assert_cmpuint (f->requests, ==, 1);
  g_assert_cmpstr (f->last_authorization, ==, "Bearer t0ken");
  outcome_clear (&outcome);
}

/* An answer that trickles in fails at the deadline, however lively, and
 * the client is free again. */
static void
test_http_deadline (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdIntegrationHttp) http = client ();
  Outcome outcome;

  prd_integration_http_set_deadline (http, 1);
  send (f, http, "GET", "/trickle", PRD_INTEGRATION_HTTP_DEFAULT, NULL, &outcome);
  g_assert_error (outcome.error, PRD_INTEGRATION_HTTP_ERROR, PRD_INTEGRATION_HTTP_ERROR_TRANSPORT);
  g_assert_nonnull (strstr (outcome.error->message, "no whole answer within 1 s"));
  g_assert_cmpuint (f->requests, ==, 1);
  outcome_clear (&outcome);
  g_clear_handle_id (&f->trickle_id, g_source_remove);

  send (f, http, "GET", "/ok", PRD_INTEGRATION_HTTP_IDEMPOTENT, NULL, &outcome);
  g_assert_no_error (outcome.error);
  g_assert_cmpuint (outcome.response->status, ==, 200);
  outcome_clear (&outcome);
}

/* A redirect is not followed: the credentials would go with it. Its
 * target is shown by scheme and authority only: its path may be a secret
 * (an incoming webhook's address behind an http-to-https redirect). */
static void
test_http_redirect (Fixture *f, gconstpointer data)
{
  const char *const paths[] = { "/redirect", "/redirect-relative" };

  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autoptr (PrdIntegrationHttp) http = client ();
      g_autofree char *shown = g_strconcat (f->base, "/..., which is not followed", NULL);
      Outcome outcome;

      f->requests = 0;
      send (f, http, "GET", paths[i], PRD_INTEGRATION_HTTP_IDEMPOTENT, NULL, &outcome);
      g_assert_error (outcome.error, PRD_INTEGRATION_HTTP_ERROR, PRD_INTEGRATION_HTTP_ERROR_STATUS);
      g_assert_cmpuint (prd_integration_http_error_get_status (outcome.error), ==,
                        i == 0 ? 302 : 301);
      g_assert_nonnull (strstr (outcome.error->message, shown));
      g_assert_null (strstr (outcome.error->message, "SECRET"));
      g_assert_cmpuint (f->requests, ==, 1);
      outcome_clear (&outcome);
    }
}

/* An answer is read no further than the limit, counted after decoding. */
static void
test_http_answer_limit (Fixture *f, gconstpointer data)
{
  const char *const paths[] = { "/huge", "/gzip-bomb", "/endless" };

  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autoptr (PrdIntegrationHttp) http = client ();
      Outcome outcome;

      f->requests = 0;
      send (f, http, "GET", paths[i], PRD_INTEGRATION_HTTP_IDEMPOTENT, NULL, &outcome);
      g_assert_error (outcome.error, PRD_INTEGRATION_HTTP_ERROR,
                      PRD_INTEGRATION_HTTP_ERROR_NOT_JSON);
      g_assert_nonnull (strstr (outcome.error->message, "the answer is larger than 4194304 bytes"));
      g_assert_cmpuint (f->requests, ==, 1);
      outcome_clear (&outcome);
    }
  /* The client stopped reading the endless body soon after the limit
   * (what was streamed beyond it sat in socket buffers). */
  g_assert_cmpuint (f->streamed, >, PRD_INTEGRATION_HTTP_MAX_BODY);
  g_assert_cmpuint (f->streamed, <, ENDLESS_MAX / 4);
}

static void
test_http_retry_after (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdIntegrationHttp) http = client ();
  Outcome outcome;

  /* A POST told to wait is sent again: 429 means it was not applied. */
  send (f, http, "POST", "/429-once", PRD_INTEGRATION_HTTP_DEFAULT, NULL, &outcome);
  g_assert_no_error (outcome.error);
  g_assert_cmpuint (outcome.response->status, ==, 200);
  g_assert_cmpuint (f->requests, ==, 2);
  outcome_clear (&outcome);

  f->requests = 0;
  send (f, http, "GET", "/503-always", PRD_INTEGRATION_HTTP_IDEMPOTENT, NULL, &outcome);
  g_assert_error (outcome.error, PRD_INTEGRATION_HTTP_ERROR, PRD_INTEGRATION_HTTP_ERROR_STATUS);
  g_assert_cmpuint (prd_integration_http_error_get_status (outcome.error), ==, 503);
  g_assert_cmpuint (f->requests, ==, PRD_INTEGRATION_HTTP_MAX_ATTEMPTS);
  outcome_clear (&outcome);

  f->requests = 0;
  send (f, http, "GET", "/429-too-long", PRD_INTEGRATION_HTTP_IDEMPOTENT, NULL, &outcome);
  g_assert_error (outcome.error, PRD_INTEGRATION_HTTP_ERROR,
                  PRD_INTEGRATION_HTTP_ERROR_RATE_LIMITED);
  g_assert_nonnull (strstr (outcome.error->message, "too long"));
  g_assert_cmpuint (f->requests, ==, 1);
  outcome_clear (&outcome);

  /* Over a day is too long as well: not retried after the backoff. */
  f->requests = 0;
  send (f, http, "GET", "/429-over-a-day", PRD_INTEGRATION_HTTP_IDEMPOTENT, NULL, &outcome);
  g_assert_error (outcome.error, PRD_INTEGRATION_HTTP_ERROR,
                  PRD_INTEGRATION_HTTP_ERROR_RATE_LIMITED);
  g_assert_nonnull (strstr (outcome.error->message, "HTTP 429 Too Many Requests"));
  g_assert_nonnull (strstr (outcome.error->message, "asked to wait too long"));
  g_assert_cmpuint (f->requests, ==, 1);
  outcome_clear (&outcome);
}

static void
test_http_transport (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdIntegrationHttp) http = client ();
  Outcome outcome;

  /* A POST whose answer never came may have been applied: not resent. */
  send (f, http, "POST", "/drop", PRD_INTEGRATION_HTTP_DEFAULT, NULL, &outcome);
  g_assert_error (outcome.error, PRD_INTEGRATION_HTTP_ERROR, PRD_INTEGRATION_HTTP_ERROR_TRANSPORT);
  g_assert_nonnull (strstr (outcome.error->message, "may or may not have been applied"));
  g_assert_cmpuint (f->requests, ==, 1);
  outcome_clear (&outcome);

  /* An idempotent request is retried. */
  f->requests = 0;
  send (f, http, "GET", "/drop", PRD_INTEGRATION_HTTP_IDEMPOTENT, NULL, &outcome);
  g_assert_error (outcome.error, PRD_INTEGRATION_HTTP_ERROR, PRD_INTEGRATION_HTTP_ERROR_TRANSPORT);
  g_assert_cmpuint (f->requests, ==, PRD_INTEGRATION_HTTP_MAX_ATTEMPTS);
  outcome_clear (&outcome);
}

static void
test_http_not_json (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdIntegrationHttp) http = client ();
  Outcome outcome;

  send (f, http, "GET", "/html", PRD_INTEGRATION_HTTP_DEFAULT, NULL, &outcome);
  g_assert_error (outcome.error, PRD_INTEGRATION_HTTP_ERROR, PRD_INTEGRATION_HTTP_ERROR_STATUS);
  g_assert_cmpuint (prd_integration_http_error_get_status (outcome.error), ==, 502);
  g_assert_nonnull (strstr (outcome.error->message, "text/html"));
  g_assert_null (strstr (outcome.error->message, "Bad gateway"));
  outcome_clear (&outcome);

  send (f, http, "GET", "/html-200", PRD_INTEGRATION_HTTP_DEFAULT, NULL, &outcome);
  g_assert_error (outcome.error, PRD_INTEGRATION_HTTP_ERROR, PRD_INTEGRATION_HTTP_ERROR_NOT_JSON);
  outcome_clear (&outcome);
}

static gboolean
shut_down (gpointer user_data)
{
  prd_integration_http_shutdown (user_data);
  return G_SOURCE_REMOVE;
}

static void
test_http_shutdown (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdIntegrationHttp) http = client ();
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  Outcome outcome;

  /* A call under way ends when the client shuts down. */
  g_idle_add (shut_down, http);
  send (f, http, "GET", "/hang", PRD_INTEGRATION_HTTP_IDEMPOTENT, NULL, &outcome);
  g_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  outcome_clear (&outcome);

  /* And every call made after it. */
  send (f, http, "GET", "/ok", PRD_INTEGRATION_HTTP_IDEMPOTENT, NULL, &outcome);
  g_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  outcome_clear (&outcome);
}

static gboolean
cancel_soon (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static void
test_http_cancel_wait (Fixture *f, gconstpointer data)
{
  g_autoptr (PrdIntegrationHttp) http = prd_integration_http_new ("test", "org");
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  Outcome outcome;

  /* A call waiting out a long backoff ends as soon as it is cancelled. */
  prd_integration_http_set_backoff (http, 50000, 50000);
  g_timeout_add (50, cancel_soon, cancellable);
  send (f, http, "GET", "/503-always", PRD_INTEGRATION_HTTP_IDEMPOTENT, cancellable, &outcome);
  g_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (f->requests, ==, 1);
  outcome_clear (&outcome);
}

typedef struct
{
  gboolean done;
  GPtrArray *issues;
  GError *error;
} Searched;

static void
on_searched (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Searched *out = user_data;

  out->issues = prd_jira_search_finish (PRD_JIRA (source), result, &out->error);
  out->done = TRUE;
}

/* Returns the issues found, or %NULL with @error set. */
static GPtrArray *
search_or_error (Fixture *f, const char *deployment, GError **error)
{
  g_autoptr (PrdJira) jira = g_object_new (PRD_TYPE_JIRA, NULL);
  g_autofree char *text = g_strdup_printf (
      "{\"baseUrl\": \"%s\", \"deployment\": \"%s\", \"apiVersion\": 2, \"email\": "
      "\"a@b.c\", \"projectKey\": \"PRD\"}",
      f->base, deployment);
  g_autoptr (JsonObject) settings = parse_object (text);
  g_autoptr (GHashTable) secrets = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (PrdIntegrationHttp) http = prd_integration_http_new ("jira", "org");
  Searched out = { 0 };

  g_hash_table_insert (secrets, "token", "t");
  g_assert_true (
      prd_integration_setup (PRD_INTEGRATION (jira), "org", settings, secrets, http, NULL));
  prd_jira_search_async (jira, "prd_1", NULL, on_searched, &out);
  prd_test_wait_while (!out.done, 30000);
  g_assert_true ((out.issues == NULL) == (out.error != NULL));
  if (out.error != NULL)
    g_propagate_error (error, out.error);
  return out.issues;
}

static GPtrArray *
search_with (Fixture *f, const char *deployment)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *issues = search_or_error (f, deployment, &error);

  g_assert_no_error (error);
  return issues;
}

static void
test_jira_search_pages (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) cloud = search_with (f, "cloud");
  g_autoptr (GPtrArray) datacenter = NULL;
  guint cloud_requests = f->requests;

  /* Cloud: /search/jql by nextPageToken, at most PRD_JIRA_MAX_SEARCH. */
  g_assert_cmpuint (cloud->len, ==, PRD_JIRA_MAX_SEARCH);
  g_assert_cmpuint (cloud_requests, ==, PRD_JIRA_MAX_SEARCH / 100);
  g_assert_cmpstr (((PrdJiraIssue *) cloud->pdata[999])->key, ==, "PRD-1000");
  g_assert_cmpstr (((PrdJiraIssue *) cloud->pdata[0])->status, ==, "Done");
  /* Data Center: /search by startAt until total. */
  datacenter = search_with (f, "datacenter");
  g_assert_cmpuint (datacenter->len, ==, 250);
  g_assert_cmpuint (f->requests - cloud_requests, ==, 3);
  g_assert_cmpstr (((PrdJiraIssue *) datacenter->pdata[249])->summary, ==, "Issue 250");
}

/* A search ends whatever Jira answers: entries that are no issues count
 * toward PRD_JIRA_MAX_SEARCH, a page offering itself again is an error, and
 * an issue on two pages is found once. */
static void
test_jira_search_ends (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) issues = NULL;
  g_autoptr (GError) error = NULL;

  f->mode = g_strdup ("same-token");
  issues = search_or_error (f, "cloud", &error);
  g_assert_null (issues);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR);
  g_assert_nonnull (strstr (error->message, "the same page again"));
  g_assert_cmpuint (f->requests, ==, 2);
  g_clear_error (&error);

  /* Three entries a page, none an issue: 334 pages reach 1000 entries. */
  g_free (f->mode);
  f->mode = g_strdup ("new-token");
  f->requests = 0;
  issues = search_with (f, "cloud");
  g_assert_cmpuint (issues->len, ==, 0);
  g_assert_cmpuint (f->requests, ==, (PRD_JIRA_MAX_SEARCH + 2) / 3);
  g_clear_pointer (&issues, g_ptr_array_unref);

  /* Empty pages that are not the last are followed, a repeated token
   * still fails, and a search ends after PRD_JIRA_MAX_SEARCH_PAGES pages. */
  g_free (f->mode);
  f->mode = g_strdup ("empty-same-token");
  f->requests = 0;
  issues = search_or_error (f, "cloud", &error);
  g_assert_null (issues);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR);
  g_assert_nonnull (strstr (error->message, "the same page again"));
  g_assert_cmpuint (f->requests, ==, 2);
  g_clear_error (&error);
  g_free (f->mode);
  f->mode = g_strdup ("empty-new-token");
  f->requests = 0;
  issues = search_or_error (f, "cloud", &error);
  g_assert_null (issues);
  g_assert_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR);
  g_assert_nonnull (strstr (error->message, "did not end within 1000 pages"));
  g_assert_cmpuint (f->requests, ==, PRD_JIRA_MAX_SEARCH_PAGES);
  g_clear_error (&error);

  g_free (f->mode);
  f->mode = g_strdup ("huge-total");
  f->requests = 0;
  issues = search_with (f, "datacenter");
  g_assert_cmpuint (issues->len, ==, 0);
  g_assert_cmpuint (f->requests, ==, (PRD_JIRA_MAX_SEARCH + 2) / 3);
  g_clear_pointer (&issues, g_ptr_array_unref);

  g_free (f->mode);
  f->mode = g_strdup ("duplicate");
  f->requests = 0;
  issues = search_with (f, "cloud");
  g_assert_cmpuint (f->requests, ==, 2);
  g_assert_cmpuint (issues->len, ==, 3);
  g_assert_cmpstr (((PrdJiraIssue *) issues->pdata[0])->key, ==, "PRD-1");
  g_assert_cmpstr (((PrdJiraIssue *) issues->pdata[1])->key, ==, "PRD-2");
  g_assert_cmpstr (((PrdJiraIssue *) issues->pdata[2])->key, ==, "PRD-3");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/prd/integrations/retry-after", test_retry_after);
  g_test_add_func ("/prd/integrations/error-phrase", test_error_phrase);
  g_test_add_func ("/prd/integrations/backoff", test_backoff);
  g_test_add_func ("/prd/integrations/error-body", test_error_body);
  g_test_add_func ("/prd/integrations/schema", test_schema);
  g_test_add_func ("/prd/integrations/report-clean", test_report_clean);
  g_test_add_func ("/prd/integrations/background-calls", test_background_calls);
  g_test_add_func ("/prd/integrations/secret-name", test_secret_name);
  g_test_add_func ("/prd/integrations/store", test_store);
  g_test_add_func ("/prd/integrations/store/add-link", test_store_add_link);
  g_test_add_func ("/prd/integrations/store/merge-links", test_store_merge_links);
  g_test_add_func ("/prd/integrations/jira/stories-controls", test_stories_controls);
  g_test_add_func ("/prd/integrations/jira/stories", test_stories);
  g_test_add_func ("/prd/integrations/jira/stories-edge-cases", test_stories_edge_cases);
  g_test_add_func ("/prd/integrations/jira/match", test_match);
  g_test_add_func ("/prd/integrations/jira/match-unlinked-key", test_match_unlinked_key);
  g_test_add_func ("/prd/integrations/jira/plan-import", test_plan_import);
  g_test_add_func ("/prd/integrations/jira/plan-import-markdown", test_plan_import_markdown);
  g_test_add_func ("/prd/integrations/jira/descriptions", test_descriptions);
  g_test_add ("/prd/integrations/http/auth-and-json", Fixture, NULL, fixture_set_up,
              test_http_auth_and_json, fixture_tear_down);
  g_test_add ("/prd/integrations/http/retry-after", Fixture, NULL, fixture_set_up,
              test_http_retry_after, fixture_tear_down);
  g_test_add ("/prd/integrations/http/redirect", Fixture, NULL, fixture_set_up, test_http_redirect,
              fixture_tear_down);
  g_test_add ("/prd/integrations/http/deadline", Fixture, NULL, fixture_set_up, test_http_deadline,
              fixture_tear_down);
  g_test_add ("/prd/integrations/http/answer-limit", Fixture, NULL, fixture_set_up,
              test_http_answer_limit, fixture_tear_down);
  g_test_add ("/prd/integrations/http/transport", Fixture, NULL, fixture_set_up,
              test_http_transport, fixture_tear_down);
  g_test_add ("/prd/integrations/http/not-json", Fixture, NULL, fixture_set_up, test_http_not_json,
              fixture_tear_down);
  g_test_add ("/prd/integrations/http/shutdown", Fixture, NULL, fixture_set_up, test_http_shutdown,
              fixture_tear_down);
  g_test_add ("/prd/integrations/http/cancel-wait", Fixture, NULL, fixture_set_up,
              test_http_cancel_wait, fixture_tear_down);
  g_test_add ("/prd/integrations/jira/search-pages", Fixture, NULL, fixture_set_up,
              test_jira_search_pages, fixture_tear_down);
  g_test_add ("/prd/integrations/jira/search-ends", Fixture, NULL, fixture_set_up,
              test_jira_search_ends, fixture_tear_down);

  return g_test_run ();
}
