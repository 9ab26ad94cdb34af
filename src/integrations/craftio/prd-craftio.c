/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdCraftio: Craft.io initiatives for one organization. Craft.io's public
 * API is beta, Enterprise-only and partly undocumented: every setting is
 * configurable.
 *
 * Settings: baseUrl (default https://api.craft.io; the EU host is
 * https://api-eu.craft.io), authHeader (the header that carries the key,
 * default x-api-key), secret apiKey, accountId, workspaceId, pollInterval
 * (seconds, default 300) and initiativeType (the item type that counts as
 * an initiative, default Initiative).
 *
 * Calls: the connection check is `GET /me/api-key`, falling back to
 * `GET /workspaces` when the first is not there (404, 405). Initiatives are
 * `GET /workspace/{workspaceId}/items?type=…&page=…&limit=…` (with
 * `updated_from` for the changes since a time), read page by page as the
 * answer's `metadata.totalPages` says (at most PRD_CRAFTIO_MAX_PAGES: a
 * listing stopped there says so, and logs it); one item is
 * `GET /item/{id}`.
 *
 * A call sets the status as it ends, except the calls of a poll (the
 * listing of what changed, and PRD_CRAFTIO_CALL_POLL item reads): those
 * are logged (prd_integration_log_call(): "call-finished" only when a
 * kind of call's outcome changes: a new failure, or a success after one),
 * and the poll sets
 * the status once for all of them (prd_craftio_report_poll()), so that a
 * poll whose listing works and whose item read fails does not flip the
 * status twice.
 *
 * Matching a new or renamed PRD's title reads the workspace's titles
 * (prd_craftio_list_titles_async()): one listing at a time, shared by every
 * match that asks while it runs, and reused for pollInterval seconds; it
 * keeps ids, titles, statuses, labels and links, not objectives (matching
 * does not read them).
 *
 * Items are read leniently: an id is text or a number; a status is an
 * object with a name or text; objectives are `objectives[]` (text or
 * objects with a title or name) or one `objective`; labels are the
 * keywords. Items of another type than initiativeType (when they say) are
 * left out.
 */
#define G_LOG_DOMAIN "prd-integration-craftio"

#include "config.h"

#include <string.h>

#include "prd-error.h"

#include "prd-craftio.h"

static const PrdIntegrationKey craftio_keys[] = {
  { "baseUrl", PRD_INTEGRATION_KEY_URL, FALSE, FALSE, "https://api.craft.io", NULL, 0, 2048, NULL },
  { "authHeader", PRD_INTEGRATION_KEY_STRING, FALSE, FALSE, "x-api-key", NULL, 0, 64, NULL },
  { "apiKey", PRD_INTEGRATION_KEY_STRING, TRUE, TRUE, NULL, NULL, 0, 4096, "baseUrl" },
  { "accountId", PRD_INTEGRATION_KEY_STRING, FALSE, FALSE, NULL, NULL, 0, 128, NULL },
  { "workspaceId", PRD_INTEGRATION_KEY_STRING, FALSE, TRUE, NULL, NULL, 0, 128, NULL },
  { "pollInterval", PRD_INTEGRATION_KEY_INT, FALSE, FALSE, "300", NULL, 2, 86400, NULL },
  { "initiativeType", PRD_INTEGRATION_KEY_STRING, FALSE, FALSE, "Initiative", NULL, 0, 64, NULL },
};

struct _PrdCraftio
{
  GObject parent_instance;

  char *org;
  char *base_url; /* without a trailing slash */
  char *workspace_id;
  char *initiative_type;
  guint poll_interval;
  PrdIntegrationHttp *http;

  GPtrArray *titles;         /* (owned) (nullable) (element-type PrdCraftInitiative): the last */
  gint64 titles_read;        /* µs, monotonic: when @titles was read */
  GPtrArray *titles_waiting; /* (owned) (element-type GTask): matches waiting for a listing */
};

static void prd_craftio_integration_init (PrdIntegrationInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PrdCraftio,
                               prd_craftio,
                               G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PRD_TYPE_INTEGRATION,
                                                      prd_craftio_integration_init))

static void
prd_craftio_finalize (GObject *object)
{
  PrdCraftio *self = PRD_CRAFTIO (object);

  g_free (self->org);
  g_free (self->base_url);
  g_free (self->workspace_id);
  g_free (self->initiative_type);
  g_clear_object (&self->http);
  g_clear_pointer (&self->titles, g_ptr_array_unref);
  g_clear_pointer (&self->titles_waiting, g_ptr_array_unref);
  G_OBJECT_CLASS (prd_craftio_parent_class)->finalize (object);
}

static void
prd_craftio_class_init (PrdCraftioClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = prd_craftio_finalize;
}

static void
prd_craftio_init (PrdCraftio *self)
{
}

/* ---- initiatives ---- */

void
prd_craft_initiative_free (PrdCraftInitiative *initiative)
{
  if (initiative == NULL)
    return;
  g_free (initiative->id);
  g_free (initiative->title);
  g_free (initiative->status);
  g_strfreev (initiative->objectives);
  g_strfreev (initiative->keywords);
  g_free (initiative->url);
  g_free (initiative);
}

/* `In Progress` → `in_progress`. */
char *
prd_craft_status_normalize (const char *name)
{
  GString *out = g_string_new (NULL);
  gboolean gap = FALSE;

  for (const char *p = name; p != NULL && *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_isalnum (c))
        {
          if (gap && out->len > 0)
            g_string_append_c (out, '_');
          g_string_append_unichar (out, g_unichar_tolower (c));
          gap = FALSE;
        }
      else
        gap = TRUE;
    }
  return g_string_free (out, FALSE);
}

/* Text, or an object's first of @names that is text. */
static const char *
named_text (JsonNode *node, const char *const *names)
{
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *object = json_node_get_object (node);

      for (guint i = 0; names[i] != NULL; i++)
        if (prd_integration_json_text (json_object_get_member (object, names[i])) != NULL)
          return prd_integration_json_text (json_object_get_member (object, names[i]));
      return NULL;
    }
  return prd_integration_json_text (node);
}

static const char *const title_names[] = { "title", "name", NULL };

static char *
id_text (JsonNode *node)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return NULL;
  if (json_node_get_value_type (node) == G_TYPE_STRING)
    return g_strdup (json_node_get_string (node));
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
  return NULL;
}

/**
 * prd_craftio_id_is_valid:
 * @id: (nullable): a Craft.io id (an initiative's, a workspace's)
 *
 * Ids go into paths, and craft-unlink takes only these: 1 to 128 letters,
 * digits, '-', '_' and '.', not dots only (`.` and `..` are path segments
 * of their own: `{baseUrl}/item/..` would ask for `{baseUrl}/`).
 */
gboolean
prd_craftio_id_is_valid (const char *id)
{
  gboolean only_dots = TRUE;

  if (id == NULL || *id == '\0' || strlen (id) > 128)
    return FALSE;
  for (const char *p = id; *p != '\0'; p++)
    {
      if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
        return FALSE;
      only_dots = only_dots && *p == '.';
    }
  return !only_dots;
}

static void
add_texts (GPtrArray *out, JsonNode *node)
{
  if (node == NULL)
    return;
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        add_texts (out, json_array_get_element (array, i));
      return;
    }
  if (out->len < PRD_CRAFTIO_MAX_OBJECTIVES)
    {
      const char *text = named_text (node, title_names);

      if (text != NULL && *text != '\0' && strlen (text) <= 1024 &&
          g_utf8_validate (text, -1, NULL))
        g_ptr_array_add (out, g_strdup (text));
    }
}

static GStrv
texts_of (JsonObject *item, const char *many, const char *one)
{
  GPtrArray *out = g_ptr_array_new ();

  add_texts (out, json_object_get_member (item, many));
  if (one != NULL)
    add_texts (out, json_object_get_member (item, one));
  g_ptr_array_add (out, NULL);
  return (GStrv) g_ptr_array_free (out, FALSE);
}

/**
 * prd_craft_initiative_parse:
 * @item: a Craft.io item
 *
 * Returns: (transfer full) (nullable): the initiative; %NULL with @error
 *   set when the item has no id or title, or an id that is not 1 to 128
 *   letters, digits, '-', '_' or '.' (listings leave such items out)
 */
PrdCraftInitiative *
prd_craft_initiative_parse (JsonObject *item, GError **error)
{
  g_autoptr (PrdCraftInitiative) initiative = g_new0 (PrdCraftInitiative, 1);
  const char *title = prd_integration_json_text (json_object_get_member (item, "title"));
  const char *status = named_text (json_object_get_member (item, "status"), title_names);
  const char *url = prd_integration_json_text (json_object_get_member (item, "webUrl"));

  initiative->id = id_text (json_object_get_member (item, "id"));
  if (initiative->id == NULL || title == NULL || strlen (title) > 1024 ||
      !g_utf8_validate (title, -1, NULL))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR,
                           "Craft.io: an item without an id or a title (has the API changed?)");
      return NULL;
    }
  /* An id the hub could not ask for again (nor an editor unlink) is never
   * linked: it is not an initiative the hub can keep. */
  if (!prd_craftio_id_is_valid (initiative->id))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR,
                           "Craft.io: an item whose id is not 1 to 128 letters, digits, '-', '_' "
                           "or '.' (not dots only)");
      return NULL;
    }
  initiative->title = g_strdup (title);
  if (status != NULL && strlen (status) <= 256)
    initiative->status = prd_craft_status_normalize (status);
  initiative->objectives = texts_of (item, "objectives", "objective");
  initiative->keywords = texts_of (item, "labels", NULL);
  if (url != NULL && (g_str_has_prefix (url, "https://") || g_str_has_prefix (url, "http://")) &&
      strlen (url) <= 2048)
    initiative->url = g_strdup (url);
  return g_steal_pointer (&initiative);
}

/* {id, title, status, objectives}, the seed's initiative. */
JsonObject *
prd_craft_initiative_to_json (const PrdCraftInitiative *initiative)
{
  JsonObject *object = json_object_new ();
  JsonArray *objectives = json_array_new ();

  json_object_set_string_member (object, "id", initiative->id);
  json_object_set_string_member (object, "title", initiative->title);
  if (initiative->status != NULL)
    json_object_set_string_member (object, "status", initiative->status);
  else
    json_object_set_null_member (object, "status");
  for (guint i = 0; initiative->objectives[i] != NULL; i++)
    json_array_add_string_element (objectives, initiative->objectives[i]);
  json_object_set_array_member (object, "objectives", objectives);
  return object;
}

/* ---- matching and alignment ---- */

static const char *const stop_words[] = {
  "the", "and",  "for", "with", "from", "into", "our", "your",       "this",    "that",    "are",
  "was", "will", "can", "not",  "all",  "new",  "prd", "initiative", "project", "feature", NULL,
};

/* The distinct words (letters and digits, case-folded, three characters
 * or more, stop words left out) of @text. */
static GHashTable *
words_of (const char *text)
{
  GHashTable *words = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GString *word = g_string_new (NULL);

  for (const char *p = text;; p = g_utf8_next_char (p))
    {
      gunichar c = p != NULL && *p != '\0' ? g_utf8_get_char (p) : 0;

      if (c != 0 && g_unichar_isalnum (c))
        {
          g_string_append_unichar (word, g_unichar_tolower (c));
          continue;
        }
      if (g_utf8_strlen (word->str, -1) >= 3 &&
          !g_strv_contains ((const char *const *) stop_words, word->str))
        g_hash_table_add (words, g_strdup (word->str));
      g_string_truncate (word, 0);
      if (c == 0)
        break;
    }
  g_string_free (word, TRUE);
  return words;
}

static guint
shared_words (GHashTable *prd, GHashTable *other)
{
  GHashTableIter iter;
  gpointer word;
  guint shared = 0;

  g_hash_table_iter_init (&iter, prd);
  while (g_hash_table_iter_next (&iter, &word, NULL))
    if (g_hash_table_contains (other, word))
      shared++;
  return shared;
}

static GHashTable *
initiative_words (const PrdCraftInitiative *initiative)
{
  g_autoptr (GString) text = g_string_new (initiative->title);

  for (guint i = 0; initiative->keywords[i] != NULL; i++)
    g_string_append_printf (text, " %s", initiative->keywords[i]);
  return words_of (text->str);
}

/**
 * prd_craftio_match_score:
 *
 * Returns: the share (0 to 1) of the words of @prd_title found in the
 *   initiative's title or keywords
 */
double
prd_craftio_match_score (const char *prd_title, const PrdCraftInitiative *initiative)
{
  g_autoptr (GHashTable) prd = words_of (prd_title);
  g_autoptr (GHashTable) other = initiative_words (initiative);

  if (g_hash_table_size (prd) == 0)
    return 0;
  return (double) shared_words (prd, other) / g_hash_table_size (prd);
}

gboolean
prd_craftio_match_is_automatic (const char *prd_title, const PrdCraftInitiative *initiative)
{
  g_autoptr (GHashTable) prd = words_of (prd_title);
  g_autoptr (GHashTable) other = initiative_words (initiative);

  return g_hash_table_size (prd) > 0 && shared_words (prd, other) >= 2 &&
         (double) shared_words (prd, other) / g_hash_table_size (prd) >= PRD_CRAFTIO_AUTO_SCORE;
}

static gboolean
has_heading (const char *text, const char *const *names)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autofree char *lower = NULL;

      if (lines[i][0] != '#')
        continue;
      lower = g_utf8_strdown (lines[i], -1);
      for (guint n = 0; names[n] != NULL; n++)
        if (strstr (lower, names[n]) != NULL)
          return TRUE;
    }
  return FALSE;
}

/**
 * prd_craftio_alignment:
 * @initiatives: the initiatives linked to the PRD
 * @prd_text: the PRD's Markdown
 * @suggestions: (element-type utf8): where suggestions are added (at most
 *   PRD_CRAFTIO_MAX_SUGGESTIONS)
 *
 * The coverage heuristic: an objective is covered when at least half of
 * its words appear in the PRD; the score is the share of the objectives
 * covered, less 0.1 when the PRD has no heading about goals or metrics.
 * Each objective not covered, and a missing metrics section, gives a
 * suggestion. Without objectives the score is 0.5.
 *
 * Returns: the score, 0 to 1, rounded to two decimals
 */
double
prd_craftio_alignment (const PrdCraftInitiative *const *initiatives,
                       guint n_initiatives,
                       const char *prd_text,
                       GPtrArray *suggestions)
{
  static const char *const metric_headings[] = {
    "goal", "metric", "kpi", "success", "objective", "outcome", NULL,
  };
  g_autoptr (GHashTable) prd = words_of (prd_text);
  guint total = 0, covered = 0;
  double score;

  for (guint i = 0; i < n_initiatives; i++)
    for (guint o = 0; initiatives[i]->objectives[o] != NULL; o++)
      {
        g_autoptr (GHashTable) words = words_of (initiatives[i]->objectives[o]);
        guint size = g_hash_table_size (words);

        if (size == 0)
          continue;
        total++;
        if (shared_words (words, prd) * 2 >= size)
          covered++;
        else if (suggestions->len < PRD_CRAFTIO_MAX_SUGGESTIONS)
          g_ptr_array_add (suggestions,
                           g_strdup_printf ("Address the objective \"%s\" of \"%s\"",
                                            initiatives[i]->objectives[o], initiatives[i]->title));
      }
  score = total == 0 ? 0.5 : (double) covered / total;
  if (total == 0 && suggestions->len < PRD_CRAFTIO_MAX_SUGGESTIONS)
    g_ptr_array_add (suggestions, g_strdup ("The linked initiatives list no objectives to "
                                            "compare with; review the alignment by hand"));
  if (!has_heading (prd_text, metric_headings))
    {
      score = MAX (0.0, score - 0.1);
      if (suggestions->len < PRD_CRAFTIO_MAX_SUGGESTIONS)
        g_ptr_array_add (suggestions, g_strdup ("Consider adding a section with goals and "
                                                "success metrics (KPIs) for the objectives"));
    }
  return (double) (gint64) (score * 100 + 0.5) / 100;
}

/* `aligned`, `review_needed` or `misaligned`. */
const char *
prd_craftio_alignment_status (double score)
{
  if (score >= PRD_CRAFTIO_ALIGNED_SCORE)
    return "aligned";
  if (score >= PRD_CRAFTIO_REVIEW_SCORE)
    return "review_needed";
  return "misaligned";
}

/* ---- the interface ---- */

static const char *
craftio_get_service (PrdIntegration *integration)
{
  return PRD_CRAFTIO_SERVICE;
}

static const PrdIntegrationKey *
craftio_get_schema (PrdIntegration *integration, gsize *n_keys)
{
  *n_keys = G_N_ELEMENTS (craftio_keys);
  return craftio_keys;
}

/* An HTTP header name (RFC 9110 token). */
static gboolean
header_is_valid (const char *name)
{
  if (name == NULL || *name == '\0')
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && strchr ("!#$%&'*+-.^_`|~", *p) == NULL)
      return FALSE;
  return TRUE;
}

static gboolean
craftio_check_settings (PrdIntegration *integration,
                        JsonObject *settings,
                        GHashTable *secrets_set,
                        GError **error)
{
  const char *header = prd_integration_settings_get_string (settings, "authHeader");
  const char *workspace = prd_integration_settings_get_string (settings, "workspaceId");
  const char *account = prd_integration_settings_get_string (settings, "accountId");

  if (header != NULL && !header_is_valid (header))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "Setting \"authHeader\": not an HTTP header name");
      return FALSE;
    }
  if (header != NULL && (g_ascii_strcasecmp (header, "host") == 0 ||
                         g_ascii_strcasecmp (header, "content-type") == 0 ||
                         g_ascii_strcasecmp (header, "content-length") == 0))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "Setting \"authHeader\": that header cannot carry the key");
      return FALSE;
    }
  if (workspace != NULL && !prd_craftio_id_is_valid (workspace))
    {
      g_set_error_literal (
          error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
          "Setting \"workspaceId\": letters, digits, '-', '_' or '.', not dots only");
      return FALSE;
    }
  if (account != NULL && !prd_craftio_id_is_valid (account))
    {
      g_set_error_literal (
          error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
          "Setting \"accountId\": letters, digits, '-', '_' or '.', not dots only");
      return FALSE;
    }
  return TRUE;
}

static gboolean
craftio_setup (PrdIntegration *integration,
               const char *org,
               JsonObject *settings,
               GHashTable *secrets,
               PrdIntegrationHttp *http,
               GError **error)
{
  PrdCraftio *self = PRD_CRAFTIO (integration);
  const char *base = prd_integration_settings_get_string (settings, "baseUrl");
  const char *key = g_hash_table_lookup (secrets, "apiKey");
  const char *header = prd_integration_settings_get_string (settings, "authHeader");
  const char *type = prd_integration_settings_get_string (settings, "initiativeType");
  gsize len;

  if (key == NULL || prd_integration_settings_get_string (settings, "workspaceId") == NULL)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_NOT_CONFIGURED,
                   "Craft.io is not completely configured: %s is not set",
                   key == NULL ? "the apiKey" : "workspaceId");
      return FALSE;
    }
  self->org = g_strdup (org);
  self->base_url = g_strdup (base != NULL ? base : "https://api.craft.io");
  len = strlen (self->base_url);
  while (len > 0 && self->base_url[len - 1] == '/')
    self->base_url[--len] = '\0';
  self->workspace_id = g_strdup (prd_integration_settings_get_string (settings, "workspaceId"));
  self->initiative_type = g_strdup (type != NULL ? type : "Initiative");
  self->poll_interval =
      (guint) json_object_get_int_member_with_default (settings, "pollInterval", 300);
  self->http = g_object_ref (http);
  prd_integration_http_set_credential (http, header != NULL ? header : "x-api-key", key);
  return TRUE;
}

static GError *
translate_error (const GError *error)
{
  guint status = prd_integration_http_error_get_status (error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      g_error_matches (error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR))
    return g_error_copy (error);
  if (status == SOUP_STATUS_UNAUTHORIZED)
    return g_error_new (PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR, "Craft.io refused the API key (%s)",
                        error->message);
  if (status == SOUP_STATUS_FORBIDDEN)
    return g_error_new (PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR,
                        "Craft.io: the API key may not read this (%s)", error->message);
  return g_error_new (PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR, "Craft.io: %s", error->message);
}

static void
on_workspaces (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PrdCraftio *self = g_task_get_source_object (task);
  g_autoptr (PrdIntegrationHttpResponse) response = NULL;
  g_autoptr (GError) error = NULL;

  response = prd_integration_http_send_finish (PRD_INTEGRATION_HTTP (source), result, &error);
  prd_integration_return_check (PRD_INTEGRATION (self), task,
                                response == NULL ? translate_error (error) : NULL);
}

static void
on_api_key (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PrdCraftio *self = g_task_get_source_object (task);
  g_autoptr (PrdIntegrationHttpResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  guint status;

  response = prd_integration_http_send_finish (PRD_INTEGRATION_HTTP (source), result, &error);
  status = response == NULL ? prd_integration_http_error_get_status (error) : 0;
  if (response == NULL && (status == SOUP_STATUS_NOT_FOUND || status == 405))
    {
      g_autofree char *url = g_strdup_printf ("%s/workspaces", self->base_url);

      prd_integration_http_send_async (
          self->http, "GET", url, NULL, PRD_INTEGRATION_HTTP_IDEMPOTENT,
          g_task_get_cancellable (task), on_workspaces, g_object_ref (task));
      return;
    }
  prd_integration_return_check (PRD_INTEGRATION (self), task,
                                response == NULL ? translate_error (error) : NULL);
}

static void
craftio_test_async (PrdIntegration *integration,
                    GCancellable *cancellable,
                    GAsyncReadyCallback callback,
                    gpointer user_data)
{
  PrdCraftio *self = PRD_CRAFTIO (integration);
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  g_autofree char *url = g_strdup_printf ("%s/me/api-key", self->base_url);

  g_task_set_source_tag (task, craftio_test_async);
  prd_integration_http_send_async (self->http, "GET", url, NULL, PRD_INTEGRATION_HTTP_IDEMPOTENT,
                                   cancellable, on_api_key, task);
}

static gboolean
craftio_test_finish (PrdIntegration *integration, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
prd_craftio_integration_init (PrdIntegrationInterface *iface)
{
  iface->get_service = craftio_get_service;
  iface->get_schema = craftio_get_schema;
  iface->check_settings = craftio_check_settings;
  iface->setup = craftio_setup;
  iface->test_async = craftio_test_async;
  iface->test_finish = craftio_test_finish;
}

guint
prd_craftio_get_poll_interval (PrdCraftio *self)
{
  g_return_val_if_fail (PRD_IS_CRAFTIO (self), 300);

  return self->poll_interval;
}

/* A call of a poll is logged and announced; the poll's end sets the
 * status (prd_craftio_report_poll()). */
static void
report (PrdCraftio *self, PrdCraftioCall call, const char *what, const GError *error)
{
  if (call == PRD_CRAFTIO_CALL_POLL)
    prd_integration_log_call (PRD_INTEGRATION (self), what, error);
  else
    prd_integration_report_call (PRD_INTEGRATION (self), what, error);
}

/**
 * prd_craftio_report_poll:
 * @error: (nullable): the poll's first failure; %NULL when every call of
 *   it succeeded
 *
 * Sets the status once for a whole poll: connected when it read all it
 * asked for, else error with @error's message (unchanged, and not told
 * again, while the same failure lasts from poll to poll).
 */
void
prd_craftio_report_poll (PrdCraftio *self, const GError *error)
{
  g_return_if_fail (PRD_IS_CRAFTIO (self));

  if (error == NULL)
    prd_integration_report_success (PRD_INTEGRATION (self));
  else
    prd_integration_report_failure (PRD_INTEGRATION (self), error);
}

/* ---- one item ---- */

typedef struct
{
  char *id;
  PrdCraftioCall call;
} ItemRead;

static void
item_read_free (ItemRead *read)
{
  g_free (read->id);
  g_free (read);
}

static void
on_item (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PrdCraftio *self = g_task_get_source_object (task);
  g_autoptr (PrdIntegrationHttpResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  ItemRead *read = g_task_get_task_data (task);
  PrdCraftInitiative *initiative = NULL;

  response = prd_integration_http_send_finish (PRD_INTEGRATION_HTTP (source), result, &error);
  if (response == NULL && prd_integration_http_error_get_status (error) == SOUP_STATUS_NOT_FOUND)
    {
      /* The item is not there: the service works, the id is wrong. */
      report (self, read->call, "read an initiative", NULL);
      g_task_return_new_error (task, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                               "Craft.io has no item %s", read->id);
      return;
    }
  if (response != NULL && prd_integration_http_response_get_object (response) == NULL)
    g_set_error_literal (&error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR,
                         "Craft.io: the item is not a JSON object");
  else if (response != NULL)
    initiative =
        prd_craft_initiative_parse (prd_integration_http_response_get_object (response), &error);
  if (initiative != NULL && !g_str_equal (initiative->id, read->id))
    {
      /* Another item than the one asked for: linking it would keep an
       * initiative nobody chose, under an id the editor never gave. */
      g_set_error (&error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR,
                   "Craft.io: asked for item %s, it answered with item %s", read->id,
                   initiative->id);
      g_clear_pointer (&initiative, prd_craft_initiative_free);
    }
  if (initiative == NULL)
    {
      GError *translated = translate_error (error);

      report (self, read->call, "read an initiative", translated);
      g_task_return_error (task, translated);
      return;
    }
  report (self, read->call, "read an initiative", NULL);
  g_task_return_pointer (task, initiative, (GDestroyNotify) prd_craft_initiative_free);
}

/**
 * prd_craftio_get_item_async:
 * @call: whether the read sets the status (PRD_CRAFTIO_CALL_DEFAULT) or a
 *   poll does once it ends (PRD_CRAFTIO_CALL_POLL)
 */
void
prd_craftio_get_item_async (PrdCraftio *self,
                            const char *id,
                            PrdCraftioCall call,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data)
{
  GTask *task;
  ItemRead *read;
  g_autofree char *url = NULL;
  g_autofree char *escaped = NULL;

  g_return_if_fail (PRD_IS_CRAFTIO (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_craftio_get_item_async);
  read = g_new0 (ItemRead, 1);
  read->id = g_strdup (id);
  read->call = call;
  g_task_set_task_data (task, read, (GDestroyNotify) item_read_free);
  if (!prd_craftio_id_is_valid (id))
    {
      g_task_return_new_error (task, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                               "initiativeId must be 1 to 128 letters, digits, '-', '_' or '.', "
                               "not dots only");
      g_object_unref (task);
      return;
    }
  /* Escaped all the same: the id is one segment, whatever the rule above
   * lets through one day. */
  escaped = g_uri_escape_string (id, NULL, FALSE);
  url = g_strdup_printf ("%s/item/%s", self->base_url, escaped);
  prd_integration_http_send_async (self->http, "GET", url, NULL, PRD_INTEGRATION_HTTP_IDEMPOTENT,
                                   cancellable, on_item, task);
}

/* Returns: (transfer full): the initiative, or %NULL with @error set
 * (INVALID_PAYLOAD for an id Craft.io does not know; INTEGRATION_ERROR
 * when it answers with another item than the one asked for) */
PrdCraftInitiative *
prd_craftio_get_item_finish (PrdCraftio *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- listing ---- */

typedef struct
{
  char *updated_from; /* (nullable): ISO 8601 */
  guint page;
  gboolean titles_only; /* objectives left out */
  PrdCraftioCall call;
  gboolean complete; /* FALSE: stopped at PRD_CRAFTIO_MAX_PAGES */
  GHashTable *only;  /* (owned) (nullable): the ids of the items kept */
  GPtrArray *initiatives;
  gint64 requested_at; /* µs, monotonic: when the first page was asked for */
  gint64 clock;        /* Craft.io's clock at requested_at, at the latest, µs; 0: no Date */
} Listing;

static void
listing_free (Listing *listing)
{
  g_free (listing->updated_from);
  g_clear_pointer (&listing->only, g_hash_table_unref);
  g_ptr_array_unref (listing->initiatives);
  g_free (listing);
}

static void list_page (GTask *task);

static gboolean
is_initiative (PrdCraftio *self, JsonObject *item)
{
  const char *type = named_text (json_object_get_member (item, "type"), title_names);

  return type == NULL || g_ascii_strcasecmp (type, self->initiative_type) == 0;
}

static void
on_page (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PrdCraftio *self = g_task_get_source_object (task);
  Listing *listing = g_task_get_task_data (task);
  g_autoptr (PrdIntegrationHttpResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  JsonArray *items = NULL;
  gint64 total_pages = 1;

  response = prd_integration_http_send_finish (PRD_INTEGRATION_HTTP (source), result, &error);
  if (response != NULL && response->json != NULL && JSON_NODE_HOLDS_ARRAY (response->json))
    items = json_node_get_array (response->json);
  else if (response != NULL && response->json != NULL && JSON_NODE_HOLDS_OBJECT (response->json))
    {
      JsonObject *body = json_node_get_object (response->json);
      JsonNode *node = json_object_get_member (body, "items");
      JsonNode *meta = json_object_get_member (body, "metadata");

      if (node != NULL && JSON_NODE_HOLDS_ARRAY (node))
        items = json_node_get_array (node);
      if (meta != NULL && JSON_NODE_HOLDS_OBJECT (meta))
        {
          JsonNode *pages = json_object_get_member (json_node_get_object (meta), "totalPages");

          if (pages != NULL && JSON_NODE_HOLDS_VALUE (pages) &&
              json_node_get_value_type (pages) == G_TYPE_INT64)
            total_pages = json_node_get_int (pages);
        }
    }
  if (response != NULL && items == NULL)
    g_set_error_literal (&error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR,
                         "Craft.io: the item list has no items (has the API changed?)");
  if (error != NULL)
    {
      GError *translated = translate_error (error);

      report (self, listing->call, "list initiatives", translated);
      g_task_return_error (task, translated);
      return;
    }
  /* The Date is when Craft.io sent its answer, not when it took the
   * listing: less the round trip, it is its clock when we asked, at the
   * latest (a slow answer moves it back, never ahead). */
  if (listing->page == 1 && response->date > 0)
    listing->clock = MAX (0, response->date - (g_get_monotonic_time () - listing->requested_at));
  for (guint i = 0; i < json_array_get_length (items); i++)
    {
      JsonNode *node = json_array_get_element (items, i);
      PrdCraftInitiative *initiative;

      if (!JSON_NODE_HOLDS_OBJECT (node) || !is_initiative (self, json_node_get_object (node)))
        continue;
      initiative = prd_craft_initiative_parse (json_node_get_object (node), NULL);
      if (initiative != NULL && listing->only != NULL &&
          !g_hash_table_contains (listing->only, initiative->id))
        g_clear_pointer (&initiative, prd_craft_initiative_free);
      if (initiative != NULL && listing->titles_only)
        {
          g_strfreev (initiative->objectives);
          initiative->objectives = g_new0 (char *, 1);
        }
      if (initiative != NULL)
        g_ptr_array_add (listing->initiatives, initiative);
    }
  if (json_array_get_length (items) > 0 && listing->page < total_pages &&
      listing->page < PRD_CRAFTIO_MAX_PAGES)
    {
      listing->page++;
      list_page (g_steal_pointer (&task));
      return;
    }
  if (json_array_get_length (items) > 0 && listing->page < total_pages)
    {
      listing->complete = FALSE;
      g_message (
          "craftio (%s): the listing of initiatives%s stopped at %d pages of %" G_GINT64_FORMAT
          " (PRD_CRAFTIO_MAX_PAGES)",
          self->org, listing->updated_from != NULL ? " updated since the last poll" : "",
          PRD_CRAFTIO_MAX_PAGES, total_pages);
    }
  report (self, listing->call, "list initiatives", NULL);
  g_task_return_pointer (task, g_ptr_array_ref (listing->initiatives),
                         (GDestroyNotify) g_ptr_array_unref);
}

/* Takes over @task. */
static void
list_page (GTask *task)
{
  PrdCraftio *self = g_task_get_source_object (task);
  Listing *listing = g_task_get_task_data (task);
  g_autofree char *type = g_uri_escape_string (self->initiative_type, NULL, FALSE);
  g_autoptr (GString) url = g_string_new (NULL);

  g_string_printf (url, "%s/workspace/%s/items?type=%s&page=%u&limit=%d", self->base_url,
                   self->workspace_id, type, listing->page, PRD_CRAFTIO_PAGE_SIZE);
  if (listing->updated_from != NULL)
    {
      g_autofree char *from = g_uri_escape_string (listing->updated_from, NULL, FALSE);

      g_string_append_printf (url, "&updated_from=%s", from);
    }
  if (listing->page == 1)
    listing->requested_at = g_get_monotonic_time ();
  prd_integration_http_send_async (self->http, "GET", url->str, NULL,
                                   PRD_INTEGRATION_HTTP_IDEMPOTENT, g_task_get_cancellable (task),
                                   on_page, task);
}

/**
 * prd_craftio_list_initiatives_async:
 * @updated_from: only those updated since (microseconds since the epoch);
 *   0 for all
 * @only: (nullable): the ids (keys) of the initiatives to keep; the others
 *   are read and left out (a poll keeps the linked ones only)
 *
 * A poll's listing: it leaves the status to prd_craftio_report_poll().
 */
void
prd_craftio_list_initiatives_async (PrdCraftio *self,
                                    gint64 updated_from,
                                    GHashTable *only,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  GTask *task;
  Listing *listing;

  g_return_if_fail (PRD_IS_CRAFTIO (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_craftio_list_initiatives_async);
  listing = g_new0 (Listing, 1);
  listing->page = 1;
  listing->complete = TRUE;
  listing->call = PRD_CRAFTIO_CALL_POLL;
  listing->only = only != NULL ? g_hash_table_ref (only) : NULL;
  listing->initiatives =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_craft_initiative_free);
  if (updated_from > 0)
    {
      g_autoptr (GDateTime) time = g_date_time_new_from_unix_utc (updated_from / G_USEC_PER_SEC);

      listing->updated_from = g_date_time_format (time, "%Y-%m-%dT%H:%M:%SZ");
    }
  g_task_set_task_data (task, listing, (GDestroyNotify) listing_free);
  list_page (task);
}

/**
 * prd_craftio_list_initiatives_finish:
 * @out_complete: (out) (optional): %FALSE when the listing stopped at
 *   PRD_CRAFTIO_MAX_PAGES while Craft.io had more pages
 * @out_requested_at: (out) (optional): when the first page was asked for
 *   (g_get_monotonic_time())
 * @out_clock: (out) (optional): Craft.io's clock at @out_requested_at, at
 *   the latest (microseconds since the epoch): the first page's `Date`
 *   header less the page's round trip; 0 when it sent no date that reads.
 *   Craft.io compares `updated_from` with its own `updateTime`.
 *
 * Returns: (transfer container) (element-type PrdCraftInitiative):
 */
GPtrArray *
prd_craftio_list_initiatives_finish (PrdCraftio *self,
                                     GAsyncResult *result,
                                     gboolean *out_complete,
                                     gint64 *out_requested_at,
                                     gint64 *out_clock,
                                     GError **error)
{
  Listing *listing;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  listing = g_task_get_task_data (G_TASK (result));
  if (out_complete != NULL)
    *out_complete = listing->complete;
  if (out_requested_at != NULL)
    *out_requested_at = listing->requested_at;
  if (out_clock != NULL)
    *out_clock = listing->clock;
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- titles for matching ---- */

static void
on_titles (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (PrdCraftio) self = user_data;
  g_autoptr (GPtrArray) waiting = g_steal_pointer (&self->titles_waiting);
  g_autoptr (GPtrArray) titles = NULL;
  g_autoptr (GError) error = NULL;

  titles = g_task_propagate_pointer (G_TASK (result), &error);
  if (titles != NULL)
    {
      g_clear_pointer (&self->titles, g_ptr_array_unref);
      self->titles = g_ptr_array_ref (titles);
      self->titles_read = g_get_monotonic_time ();
    }
  for (guint i = 0; i < waiting->len; i++)
    {
      GTask *task = g_ptr_array_index (waiting, i);

      if (titles != NULL)
        g_task_return_pointer (task, g_ptr_array_ref (titles), (GDestroyNotify) g_ptr_array_unref);
      else
        g_task_return_error (task, g_error_copy (error));
    }
}

/**
 * prd_craftio_list_titles_async:
 *
 * The workspace's initiatives without their objectives, for matching a
 * PRD's title. One listing runs at a time: a match that asks while one
 * runs waits for it, and a listing is reused for pollInterval seconds, so
 * that a burst of new PRDs costs Craft.io one listing.
 */
void
prd_craftio_list_titles_async (PrdCraftio *self,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  gboolean running;
  GTask *listing_task;
  Listing *listing;

  g_return_if_fail (PRD_IS_CRAFTIO (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_craftio_list_titles_async);
  if (self->titles != NULL &&
      g_get_monotonic_time () - self->titles_read < (gint64) self->poll_interval * G_USEC_PER_SEC)
    {
      g_task_return_pointer (task, g_ptr_array_ref (self->titles),
                             (GDestroyNotify) g_ptr_array_unref);
      return;
    }
  running = self->titles_waiting != NULL;
  if (!running)
    self->titles_waiting = g_ptr_array_new_with_free_func (g_object_unref);
  g_ptr_array_add (self->titles_waiting, g_steal_pointer (&task));
  if (running)
    return;
  /* Not one asker's cancellable: the listing serves every one waiting.
   * Retired settings cancel it through the HTTP client. */
  listing_task = g_task_new (self, NULL, on_titles, g_object_ref (self));
  g_task_set_source_tag (listing_task, prd_craftio_list_initiatives_async);
  listing = g_new0 (Listing, 1);
  listing->page = 1;
  listing->complete = TRUE;
  listing->titles_only = TRUE;
  listing->initiatives =
      g_ptr_array_new_with_free_func ((GDestroyNotify) prd_craft_initiative_free);
  g_task_set_task_data (listing_task, listing, (GDestroyNotify) listing_free);
  list_page (listing_task);
}

/* Returns: (transfer container) (element-type PrdCraftInitiative): shared
 * with other matches; read only */
GPtrArray *
prd_craftio_list_titles_finish (PrdCraftio *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
