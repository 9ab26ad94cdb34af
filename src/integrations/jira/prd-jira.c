/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdJira: Jira Cloud (REST v2 or v3) and Jira Data Center (REST v2) for
 * one organization.
 *
 * Settings: baseUrl, deployment (cloud | datacenter), apiVersion (2 | 3;
 * Data Center only 2), email (Cloud), secret token (Cloud: an API token,
 * sent with the email as Basic auth; Data Center: a personal access token,
 * sent as Bearer), projectKey, issueType (default Story), secret
 * webhookSecret. The connection check is `GET …/myself`.
 *
 * Export: each story (prd-jira-stories.c) is one issue; a PRD with more
 * than %PRD_JIRA_MAX_STORIES stories is refused (LIMIT_REACHED) before
 * anything is sent. The links it returns are the ones it read with what
 * it set, and new ones (prd_integration_store_merge_links_async() keeps
 * them without undoing a webhook handled meanwhile). Stories are
 * matched to the issues they were synced with (the links kept in the
 * #PrdIntegrationStore): by the key their first line ends with, else by
 * their title as of the last sync, else by their position among the
 * stories as of the last sync (a title edited in place); a key no link has
 * does not stop the title and position steps. A matched story
 * whose text changed is updated (`PUT issue`); an unmatched one is created,
 * with the others, by bulk create in batches of at most 50, partial
 * failures mapped back by `failedElementNumber`. A story is never created
 * twice: before the first create the issues labelled for the PRD are
 * searched (newest first, so that those an earlier export just made are
 * within the search's limit however many the label has), and an issue of
 * the project linked to no story whose summary is a story's to create is
 * adopted instead (an earlier export created it and never heard back):
 * stories with one summary take such issues oldest first, and an adopted
 * link keeps the digest ADOPTED_DIGEST, which no story has, so that the
 * next export sends the story's text. A
 * bulk create that gets no answer (a transport failure) is never sent
 * again: its issues are searched for (newest first), again after 1, 2 and
 * 4 s while some are missing (Jira's search index lags), those found are
 * adopted and the rest fail (the next export adopts them).
 *
 * Import: the issues labelled `prdhub-<prdId>` (`/search/jql` on Cloud,
 * `/search` on Data Center) that the PRD lacks become new items under the
 * User Stories heading, `- Title (KEY)` (the title's Markdown escaped, so
 * that it reads back as the summary); an issue whose summary changed in
 * Jira while its story did not has the story's first line rewritten; an
 * unlinked issue whose summary is that of a story never linked is linked
 * to it (not added again). A
 * story changed on both sides keeps the PRD's text (a bidirectional sync
 * then exports it). A story removed from the PRD is not brought back.
 */
#define G_LOG_DOMAIN "prd-integration-jira"

#include "config.h"

#include <string.h>

#include "prd-error.h"
#include "prd-json.h"

#include "prd-jira.h"

#define SEARCH_PAGE 100

/* The digest of an adopted issue's link: no story's (those are hex), so
 * that the next export updates the issue with its story's text. */
#define ADOPTED_DIGEST "adopted"

static const char *const deployments[] = { "cloud", "datacenter", NULL };

static const PrdIntegrationKey jira_keys[] = {
  { "baseUrl", PRD_INTEGRATION_KEY_URL, FALSE, TRUE, NULL, NULL, 0, 2048, NULL },
  { "deployment", PRD_INTEGRATION_KEY_CHOICE, FALSE, FALSE, "cloud", deployments, 0, 16, NULL },
  { "apiVersion", PRD_INTEGRATION_KEY_INT, FALSE, FALSE, "2", NULL, 2, 3, NULL },
  { "email", PRD_INTEGRATION_KEY_STRING, FALSE, FALSE, NULL, NULL, 0, 254, NULL },
  { "token", PRD_INTEGRATION_KEY_STRING, TRUE, TRUE, NULL, NULL, 0, 4096, "baseUrl" },
  { "projectKey", PRD_INTEGRATION_KEY_STRING, FALSE, TRUE, NULL, NULL, 0, 64, NULL },
  { "issueType", PRD_INTEGRATION_KEY_STRING, FALSE, FALSE, "Story", NULL, 0, 255, NULL },
  { "webhookSecret", PRD_INTEGRATION_KEY_STRING, TRUE, FALSE, NULL, NULL, 0, 4096, NULL },
};

struct _PrdJira
{
  GObject parent_instance;

  char *org;
  char *base_url; /* without a trailing slash */
  gboolean cloud;
  int api_version;
  char *project_key;
  char *issue_type;
  char *webhook_secret; /* (nullable) */
  PrdIntegrationHttp *http;
};

static void prd_jira_integration_init (PrdIntegrationInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PrdJira,
                               prd_jira,
                               G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PRD_TYPE_INTEGRATION,
                                                      prd_jira_integration_init))

static void
prd_jira_finalize (GObject *object)
{
  PrdJira *self = PRD_JIRA (object);

  g_free (self->org);
  g_free (self->base_url);
  g_free (self->project_key);
  g_free (self->issue_type);
  if (self->webhook_secret != NULL)
    memset (self->webhook_secret, 0, strlen (self->webhook_secret));
  g_free (self->webhook_secret);
  g_clear_object (&self->http);
  G_OBJECT_CLASS (prd_jira_parent_class)->finalize (object);
}

static void
prd_jira_class_init (PrdJiraClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = prd_jira_finalize;
}

static void
prd_jira_init (PrdJira *self)
{
}

/* ---- records ---- */

void
prd_jira_issue_free (PrdJiraIssue *issue)
{
  if (issue == NULL)
    return;
  g_free (issue->id);
  g_free (issue->key);
  g_free (issue->summary);
  g_free (issue->status);
  g_free (issue);
}

PrdJiraResult *
prd_jira_result_new (void)
{
  PrdJiraResult *result = g_new0 (PrdJiraResult, 1);

  result->issues = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  result->failures = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  result->links =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_integration_link_record_free);
  return result;
}

void
prd_jira_result_free (PrdJiraResult *result)
{
  if (result == NULL)
    return;
  g_ptr_array_unref (result->issues);
  g_ptr_array_unref (result->failures);
  g_ptr_array_unref (result->links);
  g_free (result);
}

/* Adds @from's counts and lists to @into. */
void
prd_jira_result_merge (PrdJiraResult *into, PrdJiraResult *from)
{
  into->created += from->created;
  into->updated += from->updated;
  into->errors += from->errors;
  for (guint i = 0; i < from->issues->len; i++)
    g_ptr_array_add (into->issues, json_object_ref (g_ptr_array_index (from->issues, i)));
  for (guint i = 0; i < from->failures->len; i++)
    g_ptr_array_add (into->failures, json_object_ref (g_ptr_array_index (from->failures, i)));
  for (guint i = 0; i < from->links->len; i++)
    g_ptr_array_add (into->links,
                     prd_integration_link_record_copy (g_ptr_array_index (from->links, i)));
}

void
prd_jira_import_plan_free (PrdJiraImportPlan *plan)
{
  if (plan == NULL)
    return;
  g_ptr_array_unref (plan->edits);
  prd_jira_result_free (plan->result);
  g_free (plan);
}

static void
edit_free (PrdJiraEdit *edit)
{
  g_free (edit->text);
  g_free (edit);
}

/* ---- the interface ---- */

static const char *
jira_get_service (PrdIntegration *integration)
{
  return PRD_JIRA_SERVICE;
}

static const PrdIntegrationKey *
jira_get_schema (PrdIntegration *integration, gsize *n_keys)
{
  *n_keys = G_N_ELEMENTS (jira_keys);
  return jira_keys;
}

static gboolean
project_key_is_valid (const char *key)
{
  if (key == NULL || !g_ascii_isupper (*key) || strlen (key) < 2)
    return FALSE;
  for (const char *p = key; *p != '\0'; p++)
    if (!g_ascii_isupper (*p) && !g_ascii_isdigit (*p) && *p != '_')
      return FALSE;
  return TRUE;
}

static gboolean
jira_check_settings (PrdIntegration *integration,
                     JsonObject *settings,
                     GHashTable *secrets_set,
                     GError **error)
{
  const char *deployment = prd_integration_settings_get_string (settings, "deployment");
  const char *project = prd_integration_settings_get_string (settings, "projectKey");
  const char *email = prd_integration_settings_get_string (settings, "email");

  if (g_strcmp0 (deployment, "datacenter") == 0 &&
      json_object_get_int_member_with_default (settings, "apiVersion", 2) != 2)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "Setting \"apiVersion\": Jira Data Center speaks only version 2");
      return FALSE;
    }
  if (project != NULL && !project_key_is_valid (project))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "Setting \"projectKey\": a Jira project key is an upper-case letter "
                           "followed by upper-case letters, digits or '_'");
      return FALSE;
    }
  if (email != NULL && strchr (email, '@') == NULL)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "Setting \"email\": not an email address");
      return FALSE;
    }
  return TRUE;
}

static gboolean
jira_setup (PrdIntegration *integration,
            const char *org,
            JsonObject *settings,
            GHashTable *secrets,
            PrdIntegrationHttp *http,
            GError **error)
{
  PrdJira *self = PRD_JIRA (integration);
  const char *base = prd_integration_settings_get_string (settings, "baseUrl");
  const char *token = g_hash_table_lookup (secrets, "token");
  const char *email = prd_integration_settings_get_string (settings, "email");
  const char *secret = g_hash_table_lookup (secrets, "webhookSecret");
  gsize len;

  if (base == NULL || prd_integration_settings_get_string (settings, "projectKey") == NULL ||
      token == NULL)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_NOT_CONFIGURED,
                   "Jira is not completely configured: %s is not set",
                   base == NULL ? "baseUrl"
                   : prd_integration_settings_get_string (settings, "projectKey") == NULL
                       ? "projectKey"
                       : "the token");
      return FALSE;
    }
  self->org = g_strdup (org);
  self->cloud =
      g_strcmp0 (prd_integration_settings_get_string (settings, "deployment"), "datacenter") != 0;
  if (self->cloud && email == NULL)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INTEGRATION_NOT_CONFIGURED,
                           "Jira Cloud is not completely configured: email is not set");
      return FALSE;
    }
  self->base_url = g_strdup (base);
  len = strlen (self->base_url);
  while (len > 0 && self->base_url[len - 1] == '/')
    self->base_url[--len] = '\0';
  self->api_version = (int) json_object_get_int_member_with_default (settings, "apiVersion", 2);
  self->project_key = g_strdup (prd_integration_settings_get_string (settings, "projectKey"));
  self->issue_type = g_strdup (prd_integration_settings_get_string (settings, "issueType"));
  if (self->issue_type == NULL)
    self->issue_type = g_strdup ("Story");
  self->webhook_secret = g_strdup (secret);
  self->http = g_object_ref (http);
  if (self->cloud)
    {
      g_autofree char *pair = g_strdup_printf ("%s:%s", email, token);
      g_autofree char *encoded = g_base64_encode ((const guchar *) pair, strlen (pair));
      g_autofree char *header = g_strdup_printf ("Basic %s", encoded);

      prd_integration_http_set_authorization (http, header);
      memset (pair, 0, strlen (pair));
      memset (encoded, 0, strlen (encoded));
      memset (header, 0, strlen (header));
    }
  else
    {
      g_autofree char *header = g_strdup_printf ("Bearer %s", token);

      prd_integration_http_set_authorization (http, header);
      memset (header, 0, strlen (header));
    }
  return TRUE;
}

static char *
api_url (PrdJira *self, const char *path)
{
  return g_strdup_printf ("%s/rest/api/%d%s", self->base_url, self->api_version, path);
}

/* A failed call as the hub reports it. */
static GError *
translate_error (const GError *error)
{
  guint status = prd_integration_http_error_get_status (error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return g_error_copy (error);
  if (status == SOUP_STATUS_UNAUTHORIZED)
    return g_error_new (PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR, "Jira refused the credentials (%s)",
                        error->message);
  if (status == SOUP_STATUS_GONE)
    return g_error_new (PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR,
                        "Jira no longer offers this endpoint (%s)", error->message);
  return g_error_new (PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR, "Jira: %s", error->message);
}

static void
on_myself (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PrdJira *self = g_task_get_source_object (task);
  g_autoptr (PrdIntegrationHttpResponse) response = NULL;
  g_autoptr (GError) error = NULL;

  response = prd_integration_http_send_finish (PRD_INTEGRATION_HTTP (source), result, &error);
  prd_integration_return_check (PRD_INTEGRATION (self), task,
                                response == NULL ? translate_error (error) : NULL);
}

static void
jira_test_async (PrdIntegration *integration,
                 GCancellable *cancellable,
                 GAsyncReadyCallback callback,
                 gpointer user_data)
{
  PrdJira *self = PRD_JIRA (integration);
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  g_autofree char *url = api_url (self, "/myself");

  g_task_set_source_tag (task, jira_test_async);
  prd_integration_http_send_async (self->http, "GET", url, NULL, PRD_INTEGRATION_HTTP_IDEMPOTENT,
                                   cancellable, on_myself, task);
}

static gboolean
jira_test_finish (PrdIntegration *integration, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
prd_jira_integration_init (PrdIntegrationInterface *iface)
{
  iface->get_service = jira_get_service;
  iface->get_schema = jira_get_schema;
  iface->check_settings = jira_check_settings;
  iface->setup = jira_setup;
  iface->test_async = jira_test_async;
  iface->test_finish = jira_test_finish;
}

const char *
prd_jira_get_project_key (PrdJira *self)
{
  g_return_val_if_fail (PRD_IS_JIRA (self), NULL);

  return self->project_key;
}

/* (nullable): the webhook secret; %NULL when none is set */
const char *
prd_jira_get_webhook_secret (PrdJira *self)
{
  g_return_val_if_fail (PRD_IS_JIRA (self), NULL);

  return self->webhook_secret;
}

/* `<site>/browse/<KEY>` */
char *
prd_jira_browse_url (PrdJira *self, const char *key)
{
  g_return_val_if_fail (PRD_IS_JIRA (self), NULL);

  return g_strdup_printf ("%s/browse/%s", self->base_url, key);
}

/* ---- descriptions ---- */

/* Wiki text (REST v2): the story's Markdown as it is, and a link back. */
char *
prd_jira_description_wiki (const char *description, const char *prd_title, const char *prd_url)
{
  g_autoptr (GString) out = g_string_new (description);

  if (out->len > 0)
    g_string_append (out, "\n\n");
  g_string_append (out, "----\nFrom the PRD ");
  if (prd_url != NULL)
    g_string_append_printf (out, "[%s|%s]", prd_title, prd_url);
  else
    g_string_append (out, prd_title);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static JsonObject *
adf_text (const char *text, const char *href)
{
  JsonObject *node = json_object_new ();

  json_object_set_string_member (node, "type", "text");
  json_object_set_string_member (node, "text", text);
  if (href != NULL)
    {
      JsonArray *marks = json_array_new ();
      JsonObject *link = json_object_new ();
      JsonObject *attrs = json_object_new ();

      json_object_set_string_member (link, "type", "link");
      json_object_set_string_member (attrs, "href", href);
      json_object_set_object_member (link, "attrs", attrs);
      json_array_add_object_element (marks, link);
      json_object_set_array_member (node, "marks", marks);
    }
  return node;
}

static JsonObject *
adf_paragraph (void)
{
  JsonObject *paragraph = json_object_new ();

  json_object_set_string_member (paragraph, "type", "paragraph");
  json_object_set_array_member (paragraph, "content", json_array_new ());
  return paragraph;
}

/* ADF (REST v3): one paragraph per line of the story, and a link back. */
JsonNode *
prd_jira_description_adf (const char *description, const char *prd_title, const char *prd_url)
{
  g_auto (GStrv) lines = g_strsplit (description, "\n", -1);
  JsonObject *doc = json_object_new ();
  JsonArray *content = json_array_new ();
  JsonObject *last;

  json_object_set_int_member (doc, "version", 1);
  json_object_set_string_member (doc, "type", "doc");
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autofree char *line = g_strstrip (g_strdup (lines[i]));
      JsonObject *paragraph;

      if (*line == '\0')
        continue;
      paragraph = adf_paragraph ();
      json_array_add_object_element (json_object_get_array_member (paragraph, "content"),
                                     adf_text (line, NULL));
      json_array_add_object_element (content, paragraph);
    }
  last = adf_paragraph ();
  json_array_add_object_element (json_object_get_array_member (last, "content"),
                                 adf_text ("From the PRD ", NULL));
  json_array_add_object_element (json_object_get_array_member (last, "content"),
                                 adf_text (prd_title, prd_url));
  json_array_add_object_element (content, last);
  json_object_set_array_member (doc, "content", content);
  return json_node_init_object (json_node_alloc (), doc);
}

/* ---- matching stories and links ---- */

/**
 * prd_jira_match:
 * @links: (element-type PrdIntegrationLinkRecord): the PRD's links
 *
 * Matches each story to a link: by the key its first line ends with, else
 * (no key, or a key no link has) by its title as of the last sync, else by
 * its position as of the last sync. A link matches one story at most.
 *
 * Returns: (transfer container): parallel to the stories, the link each
 *   one matches (borrowed from @links) or %NULL
 */
GPtrArray *
prd_jira_match (PrdJiraStories *stories, GPtrArray *links)
{
  GPtrArray *matched = g_ptr_array_new ();
  g_autoptr (GHashTable) claimed = g_hash_table_new (NULL, NULL);
  guint n = stories->stories->len;

  g_ptr_array_set_size (matched, (gint) n);
  /* 1. the key the first line ends with */
  for (guint i = 0; i < n; i++)
    {
      PrdJiraStory *story = g_ptr_array_index (stories->stories, i);

      for (guint j = 0; story->key != NULL && j < links->len; j++)
        {
          PrdIntegrationLinkRecord *link = g_ptr_array_index (links, j);

          if (!g_hash_table_contains (claimed, link) && g_str_equal (link->remote_key, story->key))
            {
              matched->pdata[i] = link;
              g_hash_table_add (claimed, link);
              break;
            }
        }
    }
  /* 2. the title as of the last sync */
  for (guint i = 0; i < n; i++)
    {
      PrdJiraStory *story = g_ptr_array_index (stories->stories, i);

      for (guint j = 0; matched->pdata[i] == NULL && j < links->len; j++)
        {
          PrdIntegrationLinkRecord *link = g_ptr_array_index (links, j);

          if (!g_hash_table_contains (claimed, link) && g_str_equal (link->title, story->summary))
            {
              matched->pdata[i] = link;
              g_hash_table_add (claimed, link);
            }
        }
    }
  /* 3. the position as of the last sync: a title edited in place */
  for (guint i = 0; i < n; i++)
    {
      for (guint j = 0; matched->pdata[i] == NULL && j < links->len; j++)
        {
          PrdIntegrationLinkRecord *link = g_ptr_array_index (links, j);

          if (!g_hash_table_contains (claimed, link) && link->position == (int) i)
            {
              matched->pdata[i] = link;
              g_hash_table_add (claimed, link);
            }
        }
    }
  return matched;
}

static PrdIntegrationLinkRecord *
link_new (PrdJira *self,
          const char *org,
          const char *prd_id,
          const char *key,
          const char *id,
          const char *title,
          const char *digest,
          int position,
          const char *status)
{
  PrdIntegrationLinkRecord *link = g_new0 (PrdIntegrationLinkRecord, 1);

  link->org = g_strdup (org);
  link->service = g_strdup (PRD_JIRA_SERVICE);
  link->prd_id = g_strdup (prd_id);
  link->remote_key = g_strdup (key);
  link->remote_id = g_strdup (id);
  link->url = prd_jira_browse_url (self, key);
  link->title = g_strdup (title);
  link->digest = g_strdup (digest);
  link->position = position;
  link->status = g_strdup (status);
  return link;
}

static void
add_issue (PrdJira *self, PrdJiraResult *result, const char *key, const char *title)
{
  JsonObject *issue = json_object_new ();
  g_autofree char *url = prd_jira_browse_url (self, key);

  json_object_set_string_member (issue, "key", key);
  json_object_set_string_member (issue, "title", title);
  json_object_set_string_member (issue, "url", url);
  g_ptr_array_add (result->issues, issue);
}

static void
add_failure (PrdJiraResult *result, const char *title, const char *message)
{
  JsonObject *failure = json_object_new ();

  json_object_set_string_member (failure, "title", title);
  json_object_set_string_member (failure, "message", message);
  g_ptr_array_add (result->failures, failure);
  result->errors++;
}

static gint
compare_edits (gconstpointer a, gconstpointer b)
{
  const PrdJiraEdit *x = *(PrdJiraEdit *const *) a;
  const PrdJiraEdit *y = *(PrdJiraEdit *const *) b;

  return x->start > y->start ? -1 : x->start < y->start ? 1 : 0;
}

/**
 * prd_jira_plan_import:
 * @text: the PRD's text now
 * @links: (element-type PrdIntegrationLinkRecord): its links
 * @issues: (element-type PrdJiraIssue): the issues labelled for it
 *
 * Returns: (transfer full): the edits that bring Jira's changes into the
 *   PRD, and the links to keep
 */
PrdJiraImportPlan *
prd_jira_plan_import (PrdJira *self,
                      const char *org,
                      const char *prd_id,
                      const char *text,
                      GPtrArray *links,
                      GPtrArray *issues)
{
  g_autoptr (PrdJiraStories) stories = prd_jira_stories_parse (text, strlen (text));
  g_autoptr (GPtrArray) matched = prd_jira_match (stories, links);
  g_autoptr (GString) appended = g_string_new (NULL);
  PrdJiraImportPlan *plan = g_new0 (PrdJiraImportPlan, 1);
  g_autoptr (GHashTable) adopted = g_hash_table_new (NULL, NULL);
  g_autoptr (GHashTable) planned = g_hash_table_new (g_str_hash, g_str_equal);
  guint next_position = stories->stories->len;

  plan->edits = g_ptr_array_new_with_free_func ((GDestroyNotify) edit_free);
  plan->result = prd_jira_result_new ();
  for (guint i = 0; i < issues->len; i++)
    {
      PrdJiraIssue *issue = g_ptr_array_index (issues, i);
      PrdIntegrationLinkRecord *link = NULL;
      PrdJiraStory *story = NULL;
      g_autofree char *summary = NULL;

      /* An issue listed twice is planned once: never two items for it. */
      if (!g_hash_table_add (planned, issue->key))
        continue;
      summary = prd_jira_clean_summary (issue->summary);

      for (guint j = 0; j < links->len && link == NULL; j++)
        if (g_str_equal (((PrdIntegrationLinkRecord *) g_ptr_array_index (links, j))->remote_key,
                         issue->key))
          link = g_ptr_array_index (links, j);
      for (guint j = 0; j < stories->stories->len && story == NULL; j++)
        {
          PrdJiraStory *candidate = g_ptr_array_index (stories->stories, j);

          if ((link != NULL && matched->pdata[j] == link) ||
              g_strcmp0 (candidate->key, issue->key) == 0)
            story = candidate;
        }
      if (*summary == '\0')
        continue;
      for (guint j = 0; link == NULL && j < stories->stories->len && story == NULL; j++)
        {
          PrdJiraStory *candidate = g_ptr_array_index (stories->stories, j);

          /* A story never linked with the issue's summary: the issue was
           * made for it by an export that did not hear back (or by hand);
           * it is linked, not added again. */
          if (matched->pdata[j] == NULL && candidate->key == NULL &&
              !g_hash_table_contains (adopted, candidate) &&
              g_str_equal (candidate->summary, summary))
            {
              story = candidate;
              g_hash_table_add (adopted, candidate);
            }
        }
      if (link == NULL && story == NULL)
        {
          /* An issue the PRD lacks: a new item. */
          g_autofree char *digest = prd_jira_story_digest (summary, "");
          g_autofree char *markdown = prd_jira_escape_summary (summary);

          /* Escaped, so that the item reads back as the summary itself and
           * the next export has nothing to send. */
          g_string_append_printf (appended, "%s- %s (%s)", appended->len > 0 ? "\n" : "", markdown,
                                  issue->key);
          g_ptr_array_add (plan->result->links,
                           link_new (self, org, prd_id, issue->key, issue->id, summary, digest,
                                     (int) next_position++, issue->status));
          add_issue (self, plan->result, issue->key, summary);
          plan->result->created++;
          continue;
        }
      if (story == NULL)
        {
          /* Removed from the PRD since the last sync: the removal stands. */
          PrdIntegrationLinkRecord *copy = prd_integration_link_record_copy (link);

          g_free (copy->status);
          copy->status = g_strdup (issue->status);
          g_ptr_array_add (plan->result->links, copy);
          continue;
        }
      if (link == NULL)
        {
          /* The item names the issue but its link was lost: link it again. */
          g_ptr_array_add (plan->result->links,
                           link_new (self, org, prd_id, issue->key, issue->id, story->summary,
                                     story->digest, (int) story->index, issue->status));
          continue;
        }
      if (!g_str_equal (summary, link->title) && g_str_equal (story->summary, link->title))
        {
          /* Changed in Jira only: the item's first line follows. */
          PrdJiraEdit *edit = g_new0 (PrdJiraEdit, 1);
          g_autofree char *digest = prd_jira_story_digest (summary, story->description);
          g_autofree char *markdown = prd_jira_escape_summary (summary);

          edit->start = story->line_start;
          edit->end = story->line_end;
          edit->text = g_strdup_printf ("%s (%s)", markdown, issue->key);
          g_ptr_array_add (plan->edits, edit);
          {
            /* The link as read, so that it is not brought back if it was
             * forgotten meanwhile (see prd_integration_store_merge_links_async()). */
            PrdIntegrationLinkRecord *copy = prd_integration_link_record_copy (link);

            g_free (copy->title);
            copy->title = g_strdup (summary);
            g_free (copy->digest);
            copy->digest = g_strdup (digest);
            copy->position = (int) story->index;
            g_free (copy->status);
            copy->status = g_strdup (issue->status);
            g_ptr_array_add (plan->result->links, copy);
          }
          add_issue (self, plan->result, issue->key, summary);
          plan->result->updated++;
          continue;
        }
      /* Unchanged in Jira, or changed on both sides (the PRD's text stays;
       * the link keeps the last agreed title so that an export sends it). */
      {
        PrdIntegrationLinkRecord *copy = prd_integration_link_record_copy (link);

        g_free (copy->status);
        copy->status = g_strdup (issue->status);
        g_ptr_array_add (plan->result->links, copy);
      }
    }
  if (appended->len > 0)
    {
      PrdJiraEdit *edit = g_new0 (PrdJiraEdit, 1);

      edit->start = stories->insert_at;
      edit->end = stories->insert_at;
      edit->text = g_strconcat (stories->insert_prefix, appended->str, NULL);
      g_ptr_array_add (plan->edits, edit);
    }
  g_ptr_array_sort (plan->edits, compare_edits);
  return plan;
}

/* ---- search ---- */

typedef struct
{
  char *jql;
  GPtrArray *issues; /* (element-type PrdJiraIssue) */
  GHashTable *keys;  /* the keys in @issues (borrowed) */
  char *next_page_token;
  guint start_at; /* Data Center: the entries before this offset were read */
  guint back;     /* Data Center: how many of them the next page reads again */
  guint asked_at; /* Data Center: the offset the page under way was asked from */
  guint seen;     /* entries read, whether they were issues or not */
  guint pages;    /* pages asked for */
} Search;

static void
search_free (Search *search)
{
  g_free (search->jql);
  g_hash_table_unref (search->keys);
  g_ptr_array_unref (search->issues);
  g_free (search->next_page_token);
  g_free (search);
}

static void search_page (GTask *task);

static const char *
object_string (JsonObject *object, const char *name)
{
  return prd_integration_json_text (object != NULL ? json_object_get_member (object, name) : NULL);
}

static JsonObject *
object_object (JsonObject *object, const char *name)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static JsonArray *
object_array (JsonObject *object, const char *name)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  return node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

/* The key of an entry of a search's page, or %NULL when it is no issue. */
static const char *
entry_key (JsonArray *issues, guint i)
{
  JsonNode *node = json_array_get_element (issues, i);
  const char *key =
      JSON_NODE_HOLDS_OBJECT (node) ? object_string (json_node_get_object (node), "key") : NULL;

  return key != NULL && prd_jira_key_is_valid (key) ? key : NULL;
}

/* Data Center: whether a page asked from before the entries not read yet
 * starts among those read, so that no entry lies unread between them. An
 * issue deleted before the offset between two pages moves the others up:
 * the page then starts past an entry never read. */
static gboolean
page_joins (Search *search, JsonArray *issues, guint n, gint64 total)
{
  if (search->start_at == search->asked_at || search->asked_at == 0)
    return TRUE; /* nothing to check against, or nothing before it to miss */
  if (n == 0)
    return total == 0; /* the list shrank below the offset, unless it is empty */
  for (guint i = 0; i < n; i++)
    {
      const char *key = entry_key (issues, i);

      if (key != NULL)
        return g_hash_table_contains (search->keys, key);
    }
  return TRUE; /* no issue to check by: nothing to miss either */
}

static void
search_fail (GTask *task, GError *error)
{
  prd_integration_report_call (PRD_INTEGRATION (g_task_get_source_object (task)), "search", error);
  g_task_return_error (task, error);
  g_object_unref (task);
}

static void
on_search_page (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  PrdJira *self = g_task_get_source_object (task);
  Search *search = g_task_get_task_data (task);
  g_autoptr (PrdIntegrationHttpResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  JsonObject *body;
  JsonArray *issues;
  gboolean more;
  guint reread = 0;
  guint n;

  response = prd_integration_http_send_finish (PRD_INTEGRATION_HTTP (source), result, &error);
  body = prd_integration_http_response_get_object (response);
  if (body == NULL)
    {
      search_fail (task, error != NULL ? translate_error (error)
                                       : g_error_new_literal (
                                             PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR,
                                             "Jira: the search answered without a JSON object"));
      return;
    }
  issues = object_array (body, "issues");
  n = issues != NULL ? json_array_get_length (issues) : 0;
  if (!self->cloud)
    {
      gint64 total = json_object_get_int_member_with_default (body, "total", 0);

      if (!page_joins (search, issues, n, total))
        {
          /* Issues before the offset went: step back further (at 0 the page
           * joins), and take nothing from this page. */
          search->back = MIN (search->back * 2, search->start_at);
          more = TRUE;
          goto next;
        }
      reread = search->start_at - search->asked_at;
    }
  /* Every entry counts toward the limit, an issue or not, so that a search
   * whose pages hold nothing usable still ends; an entry read again to
   * check that the list did not move does not count twice. */
  for (guint i = 0; i < n && (i < reread || search->seen < PRD_JIRA_MAX_SEARCH); i++)
    {
      JsonNode *node = json_array_get_element (issues, i);
      JsonObject *issue = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
      JsonObject *fields = object_object (issue, "fields");
      const char *key = entry_key (issues, i);
      PrdJiraIssue *found;

      if (i >= reread)
        search->seen++;
      /* An issue on two pages (the results moved between them, or read
       * again) is one. */
      if (key == NULL || g_hash_table_contains (search->keys, key))
        continue;
      found = g_new0 (PrdJiraIssue, 1);
      found->id = g_strdup (object_string (issue, "id"));
      found->key = g_strdup (key);
      found->summary = g_strdup (object_string (fields, "summary"));
      if (found->summary == NULL)
        found->summary = g_strdup ("");
      found->status = g_strdup (object_string (object_object (fields, "status"), "name"));
      g_ptr_array_add (search->issues, found);
      g_hash_table_add (search->keys, found->key);
    }
  if (self->cloud)
    {
      JsonNode *last = json_object_get_member (body, "isLast");
      const char *next = object_string (body, "nextPageToken");
      g_autofree char *previous = g_steal_pointer (&search->next_page_token);

      if (next != NULL &&
          !(last != NULL && JSON_NODE_HOLDS_VALUE (last) && json_node_get_boolean (last)))
        {
          if (search->seen < PRD_JIRA_MAX_SEARCH && g_strcmp0 (next, previous) == 0)
            {
              /* The page just read, offered again: it would never end. */
              search_fail (task, g_error_new_literal (
                                     PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR,
                                     "Jira: the search offered the same page again (a repeated "
                                     "nextPageToken)"));
              return;
            }
          search->next_page_token = g_strdup (next);
        }
      /* A page may be empty and not the last (Jira Cloud filters a page
       * after it cut it): its token is followed all the same. */
      more = search->seen < PRD_JIRA_MAX_SEARCH && search->next_page_token != NULL;
    }
  else
    {
      /* The next page reads the last issue of this one again, to check
       * that nothing before it went meanwhile; not when this page brought
       * nothing new (a page of one entry) or ended on an entry no issue. */
      more =
          n > 0 && search->seen < PRD_JIRA_MAX_SEARCH &&
          search->asked_at + n < (guint) json_object_get_int_member_with_default (body, "total", 0);
      search->back = n > reread && entry_key (issues, n - 1) != NULL ? 1 : 0;
      search->start_at = search->asked_at + n;
    }

next:
  if (!more)
    {
      prd_integration_report_call (PRD_INTEGRATION (self), "search", NULL);
      g_task_return_pointer (task, g_ptr_array_ref (search->issues),
                             (GDestroyNotify) g_ptr_array_unref);
      g_object_unref (task);
      return;
    }
  if (search->pages >= PRD_JIRA_MAX_SEARCH_PAGES)
    {
      search_fail (task, g_error_new (PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR,
                                      "Jira: the search did not end within %d pages (pages with "
                                      "few or no issues); nothing was taken from it",
                                      PRD_JIRA_MAX_SEARCH_PAGES));
      return;
    }
  search_page (task);
}

static void
search_page (GTask *task)
{
  PrdJira *self = g_task_get_source_object (task);
  Search *search = g_task_get_task_data (task);
  g_autofree char *jql = g_uri_escape_string (search->jql, NULL, FALSE);
  g_autofree char *path = NULL;
  g_autofree char *url = NULL;

  search->pages++;
  if (self->cloud)
    {
      g_autofree char *token = search->next_page_token != NULL
                                   ? g_uri_escape_string (search->next_page_token, NULL, FALSE)
                                   : NULL;

      path = g_strdup_printf ("/search/jql?jql=%s&fields=summary,status&maxResults=%d%s%s", jql,
                              SEARCH_PAGE, token != NULL ? "&nextPageToken=" : "",
                              token != NULL ? token : "");
    }
  else
    {
      search->asked_at = search->start_at - MIN (search->back, search->start_at);
      path = g_strdup_printf ("/search?jql=%s&fields=summary,status&startAt=%u&maxResults=%d", jql,
                              search->asked_at, SEARCH_PAGE);
    }
  url = api_url (self, path);
  prd_integration_http_send_async (self->http, "GET", url, NULL, PRD_INTEGRATION_HTTP_IDEMPOTENT,
                                   g_task_get_cancellable (task), on_search_page, task);
}

static void
search_start (PrdJira *self,
              const char *prd_id,
              gboolean newest_first,
              GCancellable *cancellable,
              GAsyncReadyCallback callback,
              gpointer user_data)
{
  GTask *task;
  Search *search;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_jira_search_async);
  search = g_new0 (Search, 1);
  search->jql = g_strdup_printf ("labels = \"prdhub-%s\" ORDER BY %s", prd_id,
                                 newest_first ? "created DESC, key DESC" : "key ASC");
  search->issues = g_ptr_array_new_with_free_func ((GDestroyNotify) prd_jira_issue_free);
  search->keys = g_hash_table_new (g_str_hash, g_str_equal);
  g_task_set_task_data (task, search, (GDestroyNotify) search_free);
  search_page (task);
}

/**
 * prd_jira_search_async:
 *
 * The issues labelled `prdhub-<prd_id>` (`/search/jql` on Cloud, `/search`
 * on Data Center), each key once. At most %PRD_JIRA_MAX_SEARCH entries are
 * read, whether they are issues or not (an entry without a valid key, or a
 * key already found, counts too; an entry a Data Center page reads again to
 * check that the list did not move does not), so that every search ends.
 * A Data Center page starts at the last issue of the one before and steps
 * back while that issue is not where it was (issues before it deleted), so
 * that a deletion between pages skips no issue; a Cloud page that is empty
 * but not the last is followed. A Cloud page that offers its own token as
 * the next one, or a search that needs more than
 * %PRD_JIRA_MAX_SEARCH_PAGES pages, fails (%PRD_ERROR_INTEGRATION_ERROR).
 * In key order: the oldest issues first.
 */
void
prd_jira_search_async (PrdJira *self,
                       const char *prd_id,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer user_data)
{
  g_return_if_fail (PRD_IS_JIRA (self));

  search_start (self, prd_id, FALSE, cancellable, callback, user_data);
}

GPtrArray *
prd_jira_search_finish (PrdJira *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- export ---- */

typedef struct
{
  char *org;
  char *prd_id;
  char *prd_title;
  char *prd_url;
  char *project_key;
  PrdJiraStories *stories;
  GPtrArray *links;   /* (element-type PrdIntegrationLinkRecord) */
  GPtrArray *matched; /* parallel to the stories */
  GArray *updates;    /* (element-type guint) story indices */
  GArray *creates;    /* (element-type guint) story indices */
  GArray *batch;      /* (element-type guint) story indices of the bulk create under way */
  guint next_update;
  guint next_create;
  gboolean reconciled; /* the PRD's issues were searched before the first create */
  guint lost_searches; /* searches for the issues of a bulk create that got no answer */
  PrdJiraResult *result;
} Export;

/* After a bulk create got no answer: the waits before searching again for
 * its issues (Jira's search index lags behind its writes). */
static const guint lost_search_delays_ms[] = { 1000, 2000, 4000 };

static void
export_free (Export *export)
{
  g_free (export->org);
  g_free (export->prd_id);
  g_free (export->prd_title);
  g_free (export->prd_url);
  g_free (export->project_key);
  prd_jira_stories_free (export->stories);
  /* A refused export ends before it has these. */
  g_clear_pointer (&export->links, g_ptr_array_unref);
  g_clear_pointer (&export->matched, g_ptr_array_unref);
  g_clear_pointer (&export->updates, g_array_unref);
  g_clear_pointer (&export->creates, g_array_unref);
  g_clear_pointer (&export->batch, g_array_unref);
  prd_jira_result_free (export->result);
  g_free (export);
}

static PrdJiraStory *
story_at (Export *export, guint index)
{
  return g_ptr_array_index (export->stories->stories, index);
}

static JsonNode *
description_for (PrdJira *self, Export *export, PrdJiraStory *story)
{
  g_autofree char *wiki = NULL;

  if (self->api_version >= 3)
    return prd_jira_description_adf (story->description, export->prd_title, export->prd_url);
  wiki = prd_jira_description_wiki (story->description, export->prd_title, export->prd_url);
  return json_node_init_string (json_node_alloc (), wiki);
}

static JsonObject *
issue_fields (PrdJira *self, Export *export, PrdJiraStory *story)
{
  JsonObject *fields = json_object_new ();
  JsonObject *project = json_object_new ();
  JsonObject *type = json_object_new ();
  JsonArray *labels = json_array_new ();
  g_autofree char *label = g_strdup_printf ("prdhub-%s", export->prd_id);

  json_object_set_string_member (project, "key", export->project_key);
  json_object_set_object_member (fields, "project", project);
  json_object_set_string_member (fields, "summary", story->summary);
  json_object_set_string_member (type, "name", self->issue_type);
  json_object_set_object_member (fields, "issuetype", type);
  json_array_add_string_element (labels, "prdhub");
  json_array_add_string_element (labels, label);
  json_object_set_array_member (fields, "labels", labels);
  json_object_set_member (fields, "description", description_for (self, export, story));
  return fields;
}

static void export_next (GTask *task);

static void
export_done (GTask *task)
{
  PrdJira *self = g_task_get_source_object (task);
  Export *export = g_task_get_task_data (task);
  PrdJiraResult *result = g_steal_pointer (&export->result);
  g_autofree char *what =
      g_strdup_printf ("export of %u stories of %s", export->stories->stories->len, export->prd_id);

  export->result = prd_jira_result_new ();
  /* Jira's per-issue errors go to everyone in the room: never with a
   * credential it quoted. */
  for (guint i = 0; i < result->failures->len; i++)
    {
      JsonObject *failure = g_ptr_array_index (result->failures, i);
      const char *message = object_string (failure, "message");
      g_autofree char *redacted =
          message != NULL ? prd_integration_redact (PRD_INTEGRATION (self), message) : NULL;

      if (redacted != NULL)
        json_object_set_string_member (failure, "message", redacted);
    }
  if (result->errors > 0 && result->created + result->updated == 0 && result->failures->len > 0)
    {
      g_autoptr (GError) error =
          g_error_new (PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR, "%s",
                       object_string (g_ptr_array_index (result->failures, 0), "message"));

      prd_integration_report_call (PRD_INTEGRATION (self), what, error);
    }
  else
    prd_integration_report_call (PRD_INTEGRATION (self), what, NULL);
  g_task_return_pointer (task, result, (GDestroyNotify) prd_jira_result_free);
  g_object_unref (task);
}

/* Fails every story still to be created, from @from on. */
static void
fail_creates (Export *export, guint from, const char *message)
{
  for (guint i = from; i < export->creates->len; i++)
    add_failure (export->result,
                 story_at (export, g_array_index (export->creates, guint, i))->summary, message);
  export->next_create = export->creates->len;
}

static void
on_updated (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  PrdJira *self = g_task_get_source_object (task);
  Export *export = g_task_get_task_data (task);
  guint index = g_array_index (export->updates, guint, export->next_update);
  PrdJiraStory *story = story_at (export, index);
  PrdIntegrationLinkRecord *link = export->matched->pdata[index];
  g_autoptr (PrdIntegrationHttpResponse) response = NULL;
  g_autoptr (GError) error = NULL;

  response = prd_integration_http_send_finish (PRD_INTEGRATION_HTTP (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  if (response == NULL)
    {
      g_autoptr (GError) translated = translate_error (error);

      add_failure (export->result, story->summary, translated->message);
    }
  else
    {
      /* The link as it was read, with what the export sets: the store
       * writes it only if it is still kept, its status untouched. */
      PrdIntegrationLinkRecord *kept = prd_integration_link_record_copy (link);

      g_free (kept->title);
      kept->title = g_strdup (story->summary);
      g_free (kept->digest);
      kept->digest = g_strdup (story->digest);
      kept->position = (int) index;
      g_ptr_array_add (export->result->links, kept);
      add_issue (self, export->result, link->remote_key, story->summary);
      export->result->updated++;
    }
  export->next_update++;
  export_next (task);
}

static void send_batch (GTask *task);

/* Maps a bulk create's answer back to its stories. */
static void
take_bulk_answer (PrdJira *self, Export *export, JsonObject *body)
{
  JsonArray *issues = object_array (body, "issues");
  JsonArray *errors = object_array (body, "errors");
  g_autoptr (GHashTable) failed = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  guint next_issue = 0;

  for (guint i = 0; errors != NULL && i < json_array_get_length (errors); i++)
    {
      JsonNode *node = json_array_get_element (errors, i);
      JsonObject *error = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
      JsonNode *number =
          error != NULL ? json_object_get_member (error, "failedElementNumber") : NULL;
      g_autoptr (GBytes) bytes = NULL;
      g_autofree char *text = NULL;
      gint64 element;

      if (number == NULL || !JSON_NODE_HOLDS_VALUE (number) ||
          json_node_get_value_type (number) != G_TYPE_INT64)
        continue;
      element = json_node_get_int (number);
      if (element < 0 || element >= export->batch->len)
        continue;
      {
        JsonObject *element_errors = object_object (error, "elementErrors");
        g_autoptr (JsonNode) copy = json_node_init_object (
            json_node_alloc (), element_errors != NULL ? element_errors : json_object_new ());
        g_autofree char *json = prd_json_to_string (copy);

        bytes = g_bytes_new (json, strlen (json));
        text = prd_integration_http_describe_error_body (
            (guint) json_object_get_int_member_with_default (error, "status", 400),
            "application/json", bytes);
        if (element_errors == NULL)
          json_object_unref (json_node_get_object (copy));
      }
      g_hash_table_replace (failed, GINT_TO_POINTER ((int) element + 1), g_steal_pointer (&text));
    }
  for (guint i = 0; i < export->batch->len; i++)
    {
      guint index = g_array_index (export->batch, guint, i);
      PrdJiraStory *story = story_at (export, index);
      const char *message = g_hash_table_lookup (failed, GINT_TO_POINTER ((int) i + 1));
      JsonObject *issue = NULL;

      if (message != NULL)
        {
          add_failure (export->result, story->summary, message);
          continue;
        }
      while (issues != NULL && next_issue < json_array_get_length (issues) && issue == NULL)
        {
          JsonNode *node = json_array_get_element (issues, next_issue++);

          if (JSON_NODE_HOLDS_OBJECT (node) &&
              prd_jira_key_is_valid (object_string (json_node_get_object (node), "key")))
            issue = json_node_get_object (node);
        }
      if (issue == NULL)
        {
          add_failure (export->result, story->summary, "Jira's answer did not name its issue");
          continue;
        }
      g_ptr_array_add (export->result->links,
                       link_new (self, export->org, export->prd_id, object_string (issue, "key"),
                                 object_string (issue, "id"), story->summary, story->digest,
                                 (int) index, NULL));
      add_issue (self, export->result, object_string (issue, "key"), story->summary);
      export->result->created++;
    }
  g_array_set_size (export->batch, 0);
}

/* The keys of the issues already linked to a story of the PRD, or to one
 * by this export. */
static GHashTable *
claimed_keys (Export *export)
{
  GHashTable *known = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < export->links->len; i++)
    g_hash_table_add (
        known, ((PrdIntegrationLinkRecord *) g_ptr_array_index (export->links, i))->remote_key);
  for (guint i = 0; i < export->result->links->len; i++)
    g_hash_table_add (
        known,
        ((PrdIntegrationLinkRecord *) g_ptr_array_index (export->result->links, i))->remote_key);
  return known;
}

/* The number of @key, an issue key of the project @project_len characters
 * long: Jira numbers a project's issues in the order it creates them. */
static guint64
key_number (const char *key, gsize project_len)
{
  return g_ascii_strtoull (key + project_len + 1, NULL, 10);
}

/* An issue labelled for the PRD, in the export's project, linked to no
 * story, whose summary is @story's: one the hub created for it and never
 * heard of (a lost answer). Of several, the oldest: the stories are
 * adopted in their order, and a bulk create makes its issues in the order
 * of its stories, so that stories with the same summary get their own
 * issues back (the search's order, newest first, would swap them). */
static PrdJiraIssue *
find_unclaimed (Export *export, GPtrArray *issues, GHashTable *known, PrdJiraStory *story)
{
  gsize project_len = strlen (export->project_key);
  PrdJiraIssue *oldest = NULL;

  for (guint j = 0; j < issues->len; j++)
    {
      PrdJiraIssue *issue = g_ptr_array_index (issues, j);

      if (!g_hash_table_contains (known, issue->key) &&
          strncmp (issue->key, export->project_key, project_len) == 0 &&
          issue->key[project_len] == '-' && g_str_equal (issue->summary, story->summary) &&
          (oldest == NULL ||
           key_number (issue->key, project_len) < key_number (oldest->key, project_len)))
        oldest = issue;
    }
  return oldest;
}

/* Links the story at @index to @issue, found in Jira: it counts as created
 * (the issue exists for it now). The link keeps ADOPTED_DIGEST, not the
 * story's digest: the issue was found by its summary alone, and may hold another story's
 * text (stories with the same summary), so the next export sends the
 * story's own text to it. */
static void
adopt (PrdJira *self, Export *export, GHashTable *known, guint index, PrdJiraIssue *issue)
{
  PrdJiraStory *story = story_at (export, index);

  g_hash_table_add (known, issue->key);
  g_ptr_array_add (export->result->links,
                   link_new (self, export->org, export->prd_id, issue->key, issue->id,
                             story->summary, ADOPTED_DIGEST, (int) index, issue->status));
  add_issue (self, export->result, issue->key, story->summary);
  export->result->created++;
}

/* Adopts, for each story in @indices, the unclaimed issue that matches it;
 * leaves in @indices the stories none matches. Returns how many were
 * adopted. */
static guint
adopt_found (PrdJira *self, Export *export, GPtrArray *issues, GArray *indices)
{
  g_autoptr (GHashTable) known = claimed_keys (export);
  g_autoptr (GArray) rest = g_array_new (FALSE, FALSE, sizeof (guint));
  guint adopted;

  for (guint i = 0; i < indices->len; i++)
    {
      guint index = g_array_index (indices, guint, i);
      PrdJiraIssue *found = find_unclaimed (export, issues, known, story_at (export, index));

      if (found == NULL)
        g_array_append_val (rest, index);
      else
        adopt (self, export, known, index, found);
    }
  adopted = indices->len - rest->len;
  g_array_set_size (indices, 0);
  g_array_append_vals (indices, rest->data, rest->len);
  return adopted;
}

static void search_after_loss (GTask *task);

static gboolean
on_search_wait (GCancellable *cancellable, gpointer user_data)
{
  GTask *task = user_data;

  /* The source holds its own reference; the export's goes on. */
  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return G_SOURCE_REMOVE;
    }
  search_after_loss (task);
  return G_SOURCE_REMOVE;
}

static void
on_searched_after_failure (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  PrdJira *self = g_task_get_source_object (task);
  Export *export = g_task_get_task_data (task);
  g_autoptr (GPtrArray) issues = NULL;
  g_autoptr (GError) error = NULL;
  guint before = export->batch->len;
  guint adopted;

  issues = prd_jira_search_finish (self, result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  if (issues == NULL)
    {
      g_autofree char *message = g_strdup_printf (
          "Jira did not answer a bulk create and could not be searched: %s; the issue is not "
          "created again (the next export adopts it if Jira created it)",
          error->message);

      for (guint i = 0; i < export->batch->len; i++)
        add_failure (export->result,
                     story_at (export, g_array_index (export->batch, guint, i))->summary, message);
      g_array_set_size (export->batch, 0);
      export_next (task);
      return;
    }
  /* What the lost request created is adopted. */
  adopted = adopt_found (self, export, issues, export->batch);
  g_info ("jira (%s): a bulk create for %s got no answer; search %u found %u of the %u issues "
          "still missing",
          export->org, export->prd_id, export->lost_searches, adopted, before);
  if (export->batch->len == 0)
    {
      export_next (task);
      return;
    }
  if (export->lost_searches <= G_N_ELEMENTS (lost_search_delays_ms))
    {
      /* Jira's search index lags behind its writes: look again later. */
      GSource *wait = g_cancellable_source_new (g_task_get_cancellable (task));

      g_source_set_ready_time (wait, g_get_monotonic_time () +
                                         (gint64) lost_search_delays_ms[export->lost_searches - 1] *
                                             G_TIME_SPAN_MILLISECOND);
      g_task_attach_source (task, wait, G_SOURCE_FUNC (on_search_wait));
      g_source_unref (wait);
      return;
    }
  /* Never sent again: it may have been created and not be searchable yet. */
  for (guint i = 0; i < export->batch->len; i++)
    add_failure (export->result,
                 story_at (export, g_array_index (export->batch, guint, i))->summary,
                 "Jira did not answer a bulk create and its search does not show the issue; it "
                 "is not created again (the next export adopts it if Jira created it)");
  g_array_set_size (export->batch, 0);
  export_next (task);
}

static void
search_after_loss (GTask *task)
{
  PrdJira *self = g_task_get_source_object (task);
  Export *export = g_task_get_task_data (task);

  export->lost_searches++;
  /* Newest first: the issues the lost request made are the label's
   * newest, within the search's limit however many the label has. */
  search_start (self, export->prd_id, TRUE, g_task_get_cancellable (task),
                on_searched_after_failure, task);
}

static void
on_bulk (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  PrdJira *self = g_task_get_source_object (task);
  Export *export = g_task_get_task_data (task);
  g_autoptr (PrdIntegrationHttpResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  JsonObject *body;

  response = prd_integration_http_send_finish (PRD_INTEGRATION_HTTP (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  if (response == NULL &&
      g_error_matches (error, PRD_INTEGRATION_HTTP_ERROR, PRD_INTEGRATION_HTTP_ERROR_TRANSPORT))
    {
      /* The request may have been applied: look for its issues, a few
       * times, and never send it again. */
      export->lost_searches = 0;
      search_after_loss (task);
      return;
    }
  body = prd_integration_http_response_get_object (response);
  if (body == NULL)
    {
      g_autoptr (GError) translated =
          error != NULL ? translate_error (error)
                        : g_error_new_literal (PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR,
                                               "Jira: the bulk create answered without JSON");

      for (guint i = 0; i < export->batch->len; i++)
        add_failure (export->result,
                     story_at (export, g_array_index (export->batch, guint, i))->summary,
                     translated->message);
      g_array_set_size (export->batch, 0);
      /* A refusal of the whole request (credentials, permissions, a rate
       * limit) would refuse the next batches too. */
      fail_creates (export, export->next_create, translated->message);
      export_next (task);
      return;
    }
  take_bulk_answer (self, export, body);
  export_next (task);
}

static void
send_batch (GTask *task)
{
  PrdJira *self = g_task_get_source_object (task);
  Export *export = g_task_get_task_data (task);
  g_autoptr (JsonNode) body = json_node_new (JSON_NODE_OBJECT);
  JsonObject *object = json_object_new ();
  JsonArray *updates = json_array_new ();
  g_autofree char *url = api_url (self, "/issue/bulk");

  for (guint i = 0; i < export->batch->len; i++)
    {
      JsonObject *update = json_object_new ();

      json_object_set_object_member (
          update, "fields",
          issue_fields (self, export, story_at (export, g_array_index (export->batch, guint, i))));
      json_array_add_object_element (updates, update);
    }
  json_object_set_array_member (object, "issueUpdates", updates);
  json_node_take_object (body, object);
  prd_integration_http_send_async (self->http, "POST", url, body,
                                   PRD_INTEGRATION_HTTP_BAD_REQUEST_BODY,
                                   g_task_get_cancellable (task), on_bulk, task);
}

static void
on_searched_before_create (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  PrdJira *self = g_task_get_source_object (task);
  Export *export = g_task_get_task_data (task);
  g_autoptr (GPtrArray) issues = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) pending = NULL;
  guint adopted;

  issues = prd_jira_search_finish (self, result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  if (issues == NULL)
    {
      g_autofree char *message =
          g_strdup_printf ("Jira could not be searched before creating issues: %s", error->message);

      fail_creates (export, export->next_create, message);
      export_next (task);
      return;
    }
  pending = g_array_new (FALSE, FALSE, sizeof (guint));
  g_array_append_vals (pending, &g_array_index (export->creates, guint, export->next_create),
                       export->creates->len - export->next_create);
  adopted = adopt_found (self, export, issues, pending);
  if (adopted > 0)
    g_info ("jira (%s): %u issues labelled for %s and linked to no story were adopted", export->org,
            adopted, export->prd_id);
  g_array_set_size (export->creates, export->next_create);
  g_array_append_vals (export->creates, pending->data, pending->len);
  export_next (task);
}

/* Takes over @task: the updates one by one, then the creates by batches. */
static void
export_next (GTask *task)
{
  PrdJira *self = g_task_get_source_object (task);
  Export *export = g_task_get_task_data (task);

  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return;
    }
  if (export->next_update < export->updates->len)
    {
      guint index = g_array_index (export->updates, guint, export->next_update);
      PrdJiraStory *story = story_at (export, index);
      PrdIntegrationLinkRecord *link = export->matched->pdata[index];
      g_autoptr (JsonNode) body = json_node_new (JSON_NODE_OBJECT);
      JsonObject *object = json_object_new ();
      JsonObject *fields = json_object_new ();
      g_autofree char *escaped = g_uri_escape_string (link->remote_key, NULL, FALSE);
      g_autofree char *path = g_strdup_printf ("/issue/%s", escaped);
      g_autofree char *url = api_url (self, path);

      json_object_set_string_member (fields, "summary", story->summary);
      json_object_set_member (fields, "description", description_for (self, export, story));
      json_object_set_object_member (object, "fields", fields);
      json_node_take_object (body, object);
      /* The same PUT twice leaves the same issue: safe to retry. */
      prd_integration_http_send_async (self->http, "PUT", url, body,
                                       PRD_INTEGRATION_HTTP_IDEMPOTENT |
                                           PRD_INTEGRATION_HTTP_NO_BODY,
                                       g_task_get_cancellable (task), on_updated, task);
      return;
    }
  if (!export->reconciled && export->next_create < export->creates->len)
    {
      /* Issues an earlier export created without hearing of it (a lost
       * answer) are adopted, never created twice. */
      export->reconciled = TRUE;
      search_start (self, export->prd_id, TRUE, g_task_get_cancellable (task),
                    on_searched_before_create, task);
      return;
    }
  if (export->next_create < export->creates->len)
    {
      guint n = MIN (PRD_JIRA_BULK_LIMIT, export->creates->len - export->next_create);

      g_array_set_size (export->batch, 0);
      g_array_append_vals (export->batch,
                           &g_array_index (export->creates, guint, export->next_create), n);
      export->next_create += n;
      send_batch (task);
      return;
    }
  export_done (task);
}

/**
 * prd_jira_export_async:
 * @prd_url: (nullable): where people read the PRD (the issues link to it)
 * @project_key: (nullable): the project; %NULL for the configured one
 * @text: the PRD's text
 * @links: (element-type PrdIntegrationLinkRecord): the PRD's links
 *
 * Exports the PRD's stories: updates the changed ones that are linked,
 * creates the others. Failed stories are in the result, not an error; the
 * call fails only when cancelled.
 */
void
prd_jira_export_async (PrdJira *self,
                       const char *org,
                       const char *prd_id,
                       const char *prd_title,
                       const char *prd_url,
                       const char *project_key,
                       const char *text,
                       GPtrArray *links,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer user_data)
{
  GTask *task;
  Export *export;

  g_return_if_fail (PRD_IS_JIRA (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_jira_export_async);
  export = g_new0 (Export, 1);
  export->org = g_strdup (org);
  export->prd_id = g_strdup (prd_id);
  export->prd_title = g_strdup (prd_title);
  export->prd_url = g_strdup (prd_url);
  export->project_key = g_strdup (project_key != NULL ? project_key : self->project_key);
  export->stories = prd_jira_stories_parse (text, strlen (text));
  g_task_set_task_data (task, export, (GDestroyNotify) export_free);
  {
    GError *error = NULL;

    /* Nothing is sent for a PRD whose stories are not all read: the links
     * of those past the limit would go to others by position. */
    if (!prd_jira_stories_check (export->stories, &error))
      {
        g_task_return_error (task, error);
        g_object_unref (task);
        return;
      }
  }
  export->links = g_ptr_array_ref (links);
  export->matched = prd_jira_match (export->stories, links);
  export->updates = g_array_new (FALSE, FALSE, sizeof (guint));
  export->creates = g_array_new (FALSE, FALSE, sizeof (guint));
  export->batch = g_array_new (FALSE, FALSE, sizeof (guint));
  export->result = prd_jira_result_new ();
  for (guint i = 0; i < export->stories->stories->len; i++)
    {
      PrdJiraStory *story = story_at (export, i);
      PrdIntegrationLinkRecord *link = export->matched->pdata[i];

      if (link == NULL)
        g_array_append_val (export->creates, i);
      else if (!g_str_equal (link->digest, story->digest))
        g_array_append_val (export->updates, i);
      else if (link->position != (int) i)
        {
          /* Unchanged, but it moved: the link follows, nothing is sent. */
          PrdIntegrationLinkRecord *moved = prd_integration_link_record_copy (link);

          moved->position = (int) i;
          g_ptr_array_add (export->result->links, moved);
        }
    }
  export_next (task);
}

PrdJiraResult *
prd_jira_export_finish (PrdJira *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
