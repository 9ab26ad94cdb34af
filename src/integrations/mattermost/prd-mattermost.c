/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdMattermost: posts to a Mattermost (API v4) channel for one
 * organization.
 *
 * Settings: serverUrl, team and channel (the channel's name, its URL
 * handle, not its display name), secret token (a bot access token, sent as
 * Bearer), or instead secret webhookUrl (an incoming webhook: the URL is
 * the secret), and notify (a list out of prd_approved,
 * version_created, comment_mention and prd_created; a JSON list, or its
 * comma-separated text from the command line; default all four).
 * With a token, messages go through `POST /api/v4/posts` to the channel
 * found by name (`GET /api/v4/teams/name/{team}/channels/name/{channel}`,
 * remembered); without one, through the webhook, whose only success is
 * the literal answer `ok` (and which gives no post id). The connection
 * check is `GET /api/v4/users/me` with the token, or `GET
 * /api/v4/system/ping` for a webhook-only set-up.
 *
 * Messages are Markdown: user text is escaped (no mention in it can
 * notify anyone) and cut to PRD_MATTERMOST_MAX_QUOTE characters, the whole
 * to the post limit.
 */
#define G_LOG_DOMAIN "prd-integration-mattermost"

#include "config.h"

#include <string.h>

#include "prd-error.h"

#include "prd-mattermost.h"

#define DEFAULT_NOTIFY "prd_approved,version_created,comment_mention,prd_created"

static const char *const event_choices[] = {
  "prd_approved", "version_created", "comment_mention", "prd_created", NULL,
};

static const PrdIntegrationKey mattermost_keys[] = {
  { "serverUrl", PRD_INTEGRATION_KEY_URL, FALSE, TRUE, NULL, NULL, 0, 2048, NULL },
  { "team", PRD_INTEGRATION_KEY_STRING, FALSE, FALSE, NULL, NULL, 0, 64, NULL },
  { "channel", PRD_INTEGRATION_KEY_STRING, FALSE, FALSE, NULL, NULL, 0, 64, NULL },
  { "token", PRD_INTEGRATION_KEY_STRING, TRUE, FALSE, NULL, NULL, 0, 4096, "serverUrl" },
  { "webhookUrl", PRD_INTEGRATION_KEY_URL, TRUE, FALSE, NULL, NULL, 0, 2048, NULL },
  { "notify", PRD_INTEGRATION_KEY_LIST, FALSE, FALSE, DEFAULT_NOTIFY, event_choices, 0, 4, NULL },
};

static const char *const event_names[PRD_MATTERMOST_N_EVENTS] = {
  "prd_approved",
  "version_created",
  "comment_mention",
  "prd_created",
};

struct _PrdMattermost
{
  GObject parent_instance;

  char *org;
  char *server_url; /* without a trailing slash */
  char *team;       /* (nullable) */
  char *channel;    /* (nullable) */
  char *channel_id; /* (nullable): found by name, remembered */
  char *webhook_url;
  gboolean use_token;
  gboolean notify[PRD_MATTERMOST_N_EVENTS];
  PrdIntegrationHttp *http;
};

static void prd_mattermost_integration_init (PrdIntegrationInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PrdMattermost,
                               prd_mattermost,
                               G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PRD_TYPE_INTEGRATION,
                                                      prd_mattermost_integration_init))

static void
prd_mattermost_finalize (GObject *object)
{
  PrdMattermost *self = PRD_MATTERMOST (object);

  g_free (self->org);
  g_free (self->server_url);
  g_free (self->team);
  g_free (self->channel);
  g_free (self->channel_id);
  if (self->webhook_url != NULL)
    memset (self->webhook_url, 0, strlen (self->webhook_url));
  g_free (self->webhook_url);
  g_clear_object (&self->http);
  G_OBJECT_CLASS (prd_mattermost_parent_class)->finalize (object);
}

static void
prd_mattermost_class_init (PrdMattermostClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = prd_mattermost_finalize;
}

static void
prd_mattermost_init (PrdMattermost *self)
{
}

const char *
prd_mattermost_event_to_string (PrdMattermostEvent event)
{
  g_return_val_if_fail (event < PRD_MATTERMOST_N_EVENTS, NULL);

  return event_names[event];
}

/* ---- the interface ---- */

static const char *
mattermost_get_service (PrdIntegration *integration)
{
  return PRD_MATTERMOST_SERVICE;
}

static const PrdIntegrationKey *
mattermost_get_schema (PrdIntegration *integration, gsize *n_keys)
{
  *n_keys = G_N_ELEMENTS (mattermost_keys);
  return mattermost_keys;
}

/* Team and channel names (URL handles): lower-case letters, digits, '-',
 * '_' and '.'. */
static gboolean
name_is_valid (const char *name)
{
  if (name == NULL || *name == '\0')
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && *p != '-' && *p != '_' && *p != '.')
      return FALSE;
  return TRUE;
}

/* Reads the notify setting (a list the schema checked; all events when
 * it is not set) into @out. */
static void
read_notify (JsonObject *settings, gboolean out[PRD_MATTERMOST_N_EVENTS])
{
  JsonNode *node = json_object_get_member (settings, "notify");
  JsonArray *array;

  for (guint i = 0; i < PRD_MATTERMOST_N_EVENTS; i++)
    out[i] = node == NULL || !JSON_NODE_HOLDS_ARRAY (node);
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return;
  array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);

      if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING)
        continue;
      for (guint e = 0; e < PRD_MATTERMOST_N_EVENTS; e++)
        if (g_str_equal (json_node_get_string (element), event_names[e]))
          out[e] = TRUE;
    }
}

static gboolean
mattermost_check_settings (PrdIntegration *integration,
                           JsonObject *settings,
                           GHashTable *secrets_set,
                           GError **error)
{
  const char *team = prd_integration_settings_get_string (settings, "team");
  const char *channel = prd_integration_settings_get_string (settings, "channel");

  if (team != NULL && !name_is_valid (team))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "Setting \"team\": a team's name (its URL handle) is lower-case "
                           "letters, digits, '-', '_' or '.'");
      return FALSE;
    }
  if (channel != NULL && !name_is_valid (channel))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "Setting \"channel\": a channel's name (its URL handle, not its "
                           "display name) is lower-case letters, digits, '-', '_' or '.'");
      return FALSE;
    }
  return TRUE;
}

static gboolean
webhook_url_is_valid (const char *text)
{
  g_autoptr (GUri) uri = g_uri_parse (text, G_URI_FLAGS_NONE, NULL);

  return uri != NULL &&
         (g_ascii_strcasecmp (g_uri_get_scheme (uri), "http") == 0 ||
          g_ascii_strcasecmp (g_uri_get_scheme (uri), "https") == 0) &&
         g_uri_get_host (uri) != NULL && *g_uri_get_host (uri) != '\0' &&
         g_uri_get_userinfo (uri) == NULL;
}

static gboolean
mattermost_setup (PrdIntegration *integration,
                  const char *org,
                  JsonObject *settings,
                  GHashTable *secrets,
                  PrdIntegrationHttp *http,
                  GError **error)
{
  PrdMattermost *self = PRD_MATTERMOST (integration);
  const char *base = prd_integration_settings_get_string (settings, "serverUrl");
  const char *token = g_hash_table_lookup (secrets, "token");
  const char *hook = g_hash_table_lookup (secrets, "webhookUrl");
  gsize len;

  if (base == NULL)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INTEGRATION_NOT_CONFIGURED,
                           "Mattermost is not completely configured: serverUrl is not set");
      return FALSE;
    }
  if (token == NULL && hook == NULL)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INTEGRATION_NOT_CONFIGURED,
                           "Mattermost is not completely configured: set the token (a bot "
                           "access token) or the webhookUrl (an incoming webhook)");
      return FALSE;
    }
  if (token != NULL && (prd_integration_settings_get_string (settings, "team") == NULL ||
                        prd_integration_settings_get_string (settings, "channel") == NULL))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INTEGRATION_NOT_CONFIGURED,
                           "Mattermost is not completely configured: a bot token needs the team "
                           "and the channel");
      return FALSE;
    }
  if (token == NULL && !webhook_url_is_valid (hook))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INTEGRATION_NOT_CONFIGURED,
                           "Mattermost: webhookUrl is not an http or https URL");
      return FALSE;
    }
  read_notify (settings, self->notify);
  self->org = g_strdup (org);
  self->server_url = g_strdup (base);
  len = strlen (self->server_url);
  while (len > 0 && self->server_url[len - 1] == '/')
    self->server_url[--len] = '\0';
  self->team = g_strdup (prd_integration_settings_get_string (settings, "team"));
  self->channel = g_strdup (prd_integration_settings_get_string (settings, "channel"));
  self->http = g_object_ref (http);
  self->use_token = token != NULL;
  if (self->use_token)
    {
      g_autofree char *header = g_strdup_printf ("Bearer %s", token);

      prd_integration_http_set_authorization (http, header);
      memset (header, 0, strlen (header));
    }
  else
    self->webhook_url = g_strdup (hook);
  return TRUE;
}

static char *
api_url (PrdMattermost *self, const char *path)
{
  return g_strdup_printf ("%s/api/v4%s", self->server_url, path);
}

/* A failed call as the hub reports it. */
static GError *
translate_error (PrdMattermost *self, const GError *error, gboolean lookup)
{
  guint status = prd_integration_http_error_get_status (error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return g_error_copy (error);
  if (status == SOUP_STATUS_UNAUTHORIZED)
    return g_error_new (PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR,
                        "Mattermost refused the bot token (%s)", error->message);
  if (status == SOUP_STATUS_FORBIDDEN)
    return g_error_new (PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR,
                        "Mattermost: the bot may not post in channel \"%s\"; add it to the "
                        "channel (%s)",
                        self->channel != NULL ? self->channel : "", error->message);
  if (status == SOUP_STATUS_NOT_FOUND && lookup)
    return g_error_new (PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR,
                        "Mattermost: no channel \"%s\" in team \"%s\" (%s)",
                        self->channel != NULL ? self->channel : "",
                        self->team != NULL ? self->team : "", error->message);
  if (status == 501 && !self->use_token)
    return g_error_new (PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR,
                        "Mattermost: incoming webhooks are disabled on the server (%s)",
                        error->message);
  return g_error_new (PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR, "Mattermost: %s", error->message);
}

static void
on_checked (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PrdMattermost *self = g_task_get_source_object (task);
  g_autoptr (PrdIntegrationHttpResponse) response = NULL;
  g_autoptr (GError) error = NULL;

  response = prd_integration_http_send_finish (PRD_INTEGRATION_HTTP (source), result, &error);
  prd_integration_return_check (PRD_INTEGRATION (self), task,
                                response == NULL ? translate_error (self, error, FALSE) : NULL);
}

static void
mattermost_test_async (PrdIntegration *integration,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer user_data)
{
  PrdMattermost *self = PRD_MATTERMOST (integration);
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  g_autofree char *url = api_url (self, self->use_token ? "/users/me" : "/system/ping");

  g_task_set_source_tag (task, mattermost_test_async);
  prd_integration_http_send_async (self->http, "GET", url, NULL, PRD_INTEGRATION_HTTP_IDEMPOTENT,
                                   cancellable, on_checked, task);
}

static gboolean
mattermost_test_finish (PrdIntegration *integration, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
prd_mattermost_integration_init (PrdIntegrationInterface *iface)
{
  iface->get_service = mattermost_get_service;
  iface->get_schema = mattermost_get_schema;
  iface->check_settings = mattermost_check_settings;
  iface->setup = mattermost_setup;
  iface->test_async = mattermost_test_async;
  iface->test_finish = mattermost_test_finish;
}

/* ---- accessors ---- */

const char *
prd_mattermost_get_server_url (PrdMattermost *self)
{
  g_return_val_if_fail (PRD_IS_MATTERMOST (self), NULL);

  return self->server_url;
}

/* Returns: (nullable): the channel's name (a webhook may have none) */
const char *
prd_mattermost_get_channel (PrdMattermost *self)
{
  g_return_val_if_fail (PRD_IS_MATTERMOST (self), NULL);

  return self->channel;
}

gboolean
prd_mattermost_notifies (PrdMattermost *self, PrdMattermostEvent event)
{
  g_return_val_if_fail (PRD_IS_MATTERMOST (self), FALSE);
  g_return_val_if_fail (event < PRD_MATTERMOST_N_EVENTS, FALSE);

  return self->notify[event];
}

/* ---- messages ---- */

/**
 * prd_mattermost_escape:
 * @text: user text (a title, a name, a comment)
 * @max_chars: the most characters of @text kept (an ellipsis marks a cut)
 *
 * Every `@` is followed by U+2060 WORD JOINER, so that no mention
 * (`@all`, `@channel`, `@here`, `@someone`) can notify anyone: Mattermost
 * looks for mentions in the text once Markdown is parsed, where a
 * backslash is gone (`\@all` reads as `@all`), and splits words on
 * characters that are neither letters nor digits, which the word joiner
 * is; it is invisible, so the text reads the same.
 *
 * Returns: @text as literal Markdown on one line: every other character
 *   Markdown could read as syntax (`$` included, for inline LaTeX) is
 *   escaped with a backslash, line breaks and other control characters
 *   become spaces
 */
char *
prd_mattermost_escape (const char *text, gsize max_chars)
{
  GString *out = g_string_new (NULL);
  gsize count = 0;

  if (text == NULL || !g_utf8_validate (text, -1, NULL))
    return g_string_free (out, FALSE);
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (count == max_chars)
        {
          g_string_append (out, "…");
          break;
        }
      count++;
      /* Control characters, C1 (U+0085 NEXT LINE) included, and the
       * line and paragraph separators: spaces. */
      if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029)
        g_string_append_c (out, ' ');
      else if (c == '@')
        g_string_append (out, "@\u2060");
      else if (c < 0x80 && strchr ("\\`*_{}[]()#+-.!|<>~:&$", (char) c) != NULL)
        {
          g_string_append_c (out, '\\');
          g_string_append_c (out, (char) c);
        }
      else
        g_string_append_unichar (out, c);
    }
  return g_string_free (out, FALSE);
}

/**
 * prd_mattermost_message:
 * @prd_title: the PRD's title
 * @actor: (nullable): who did it
 * @detail: (nullable): the version, the approval's comment, who was
 *   mentioned
 * @prd_url: (nullable): a link to the PRD
 *
 * Returns: the Markdown message for @event, at most
 *   PRD_MATTERMOST_MAX_MESSAGE characters
 */
char *
prd_mattermost_message (PrdMattermostEvent event,
                        const char *prd_title,
                        const char *actor,
                        const char *detail,
                        const char *prd_url)
{
  g_autofree char *title = prd_mattermost_escape (prd_title, PRD_MATTERMOST_MAX_QUOTE);
  g_autofree char *who =
      prd_mattermost_escape (actor != NULL && *actor != '\0' ? actor : "Someone", 200);
  g_autofree char *what = detail != NULL && *detail != '\0'
                              ? prd_mattermost_escape (detail, PRD_MATTERMOST_MAX_QUOTE)
                              : NULL;
  GString *out = g_string_new (NULL);
  glong length;

  switch (event)
    {
      case PRD_MATTERMOST_PRD_APPROVED:
        g_string_append_printf (out, ":white_check_mark: **%s** was approved by %s", title, who);
        if (what != NULL)
          g_string_append_printf (out, ": “%s”", what);
        break;
      case PRD_MATTERMOST_VERSION_CREATED:
        g_string_append_printf (out, ":bookmark: %s created version %s of **%s**", who,
                                what != NULL ? what : "", title);
        break;
      case PRD_MATTERMOST_COMMENT_MENTION:
        g_string_append_printf (out, ":speech_balloon: %s mentioned %s in a comment on **%s**", who,
                                what != NULL ? what : "someone", title);
        break;
      case PRD_MATTERMOST_PRD_CREATED:
      case PRD_MATTERMOST_N_EVENTS:
      default:
        g_string_append_printf (out, ":page_facing_up: %s created the PRD **%s**", who, title);
        break;
    }
  if (prd_url != NULL && g_str_has_prefix (prd_url, "http") && strchr (prd_url, '>') == NULL &&
      strchr (prd_url, ' ') == NULL && strlen (prd_url) <= 2048)
    g_string_append_printf (out, "\n[Open the PRD](<%s>)", prd_url);
  length = g_utf8_strlen (out->str, -1);
  if (length > PRD_MATTERMOST_MAX_MESSAGE)
    {
      /* Not reached with the quotes bounded as they are; kept as a guard. */
      const char *end = g_utf8_offset_to_pointer (out->str, PRD_MATTERMOST_MAX_MESSAGE - 1);

      g_string_truncate (out, end - out->str);
      g_string_append (out, "…");
    }
  return g_string_free (out, FALSE);
}

/* ---- posting ---- */

typedef struct
{
  char *message;
  char *post_id; /* (nullable) */
} Post;

static void
post_free (Post *post)
{
  g_free (post->message);
  g_free (post->post_id);
  g_free (post);
}

static void
post_fail (GTask *task, const GError *error, gboolean lookup)
{
  PrdMattermost *self = g_task_get_source_object (task);
  GError *translated = translate_error (self, error, lookup);

  prd_integration_report_call (PRD_INTEGRATION (self), "post a message", translated);
  g_task_return_error (task, translated);
  g_object_unref (task);
}

static void
post_done (GTask *task, const char *post_id)
{
  PrdMattermost *self = g_task_get_source_object (task);
  Post *post = g_task_get_task_data (task);

  post->post_id = g_strdup (post_id);
  prd_integration_report_call (PRD_INTEGRATION (self), "post a message", NULL);
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static const char *
response_id (PrdIntegrationHttpResponse *response)
{
  JsonObject *object;
  JsonNode *id;

  object = prd_integration_http_response_get_object (response);
  if (object == NULL)
    return NULL;
  id = json_object_get_member (object, "id");
  if (id == NULL || !JSON_NODE_HOLDS_VALUE (id) || json_node_get_value_type (id) != G_TYPE_STRING)
    return NULL;
  if (*json_node_get_string (id) == '\0' || strlen (json_node_get_string (id)) > 64)
    return NULL;
  return json_node_get_string (id);
}

static void
on_posted (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  PrdMattermost *self = g_task_get_source_object (task);
  g_autoptr (PrdIntegrationHttpResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  const char *id;

  response = prd_integration_http_send_finish (PRD_INTEGRATION_HTTP (source), result, &error);
  if (response == NULL)
    {
      /* A channel deleted or left since it was found is looked up again
       * next time. */
      if (prd_integration_http_error_get_status (error) == SOUP_STATUS_FORBIDDEN ||
          prd_integration_http_error_get_status (error) == SOUP_STATUS_NOT_FOUND)
        g_clear_pointer (&self->channel_id, g_free);
      post_fail (task, error, FALSE);
      return;
    }
  id = response_id (response);
  if (id == NULL)
    {
      g_set_error_literal (&error, PRD_INTEGRATION_HTTP_ERROR, PRD_INTEGRATION_HTTP_ERROR_NOT_JSON,
                           "the created post has no id");
      post_fail (task, error, FALSE);
      return;
    }
  post_done (task, id);
}

static void
send_post (GTask *task)
{
  PrdMattermost *self = g_task_get_source_object (task);
  Post *post = g_task_get_task_data (task);
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) body = NULL;
  g_autofree char *url = api_url (self, "/posts");

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "channel_id");
  json_builder_add_string_value (builder, self->channel_id);
  json_builder_set_member_name (builder, "message");
  json_builder_add_string_value (builder, post->message);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  prd_integration_http_send_async (self->http, "POST", url, body, PRD_INTEGRATION_HTTP_DEFAULT,
                                   g_task_get_cancellable (task), on_posted, task);
}

static void
on_channel (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  PrdMattermost *self = g_task_get_source_object (task);
  g_autoptr (PrdIntegrationHttpResponse) response = NULL;
  g_autoptr (GError) error = NULL;
  const char *id;

  response = prd_integration_http_send_finish (PRD_INTEGRATION_HTTP (source), result, &error);
  if (response == NULL)
    {
      post_fail (task, error, TRUE);
      return;
    }
  id = response_id (response);
  if (id == NULL)
    {
      g_set_error_literal (&error, PRD_INTEGRATION_HTTP_ERROR, PRD_INTEGRATION_HTTP_ERROR_NOT_JSON,
                           "the channel found has no id");
      post_fail (task, error, TRUE);
      return;
    }
  g_free (self->channel_id);
  self->channel_id = g_strdup (id);
  send_post (task);
}

static void
on_hooked (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  g_autoptr (PrdIntegrationHttpResponse) response = NULL;
  g_autoptr (GError) error = NULL;

  response = prd_integration_http_send_finish (PRD_INTEGRATION_HTTP (source), result, &error);
  if (response == NULL)
    {
      post_fail (task, error, FALSE);
      return;
    }
  if (response->text == NULL || !g_str_equal (g_strstrip (response->text), "ok"))
    {
      g_set_error_literal (&error, PRD_INTEGRATION_HTTP_ERROR, PRD_INTEGRATION_HTTP_ERROR_NOT_JSON,
                           "the webhook did not answer \"ok\"");
      post_fail (task, error, FALSE);
      return;
    }
  post_done (task, NULL);
}

/**
 * prd_mattermost_post_async:
 * @message: Markdown (prd_mattermost_message())
 *
 * Posts @message to the channel (or the webhook's). Rate limits are waited
 * out by the HTTP client; the outcome enters the status.
 */
void
prd_mattermost_post_async (PrdMattermost *self,
                           const char *message,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data)
{
  GTask *task;
  Post *post;

  g_return_if_fail (PRD_IS_MATTERMOST (self));
  g_return_if_fail (message != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_mattermost_post_async);
  post = g_new0 (Post, 1);
  post->message = g_strdup (message);
  g_task_set_task_data (task, post, (GDestroyNotify) post_free);
  if (!self->use_token)
    {
      g_autoptr (JsonBuilder) builder = json_builder_new ();
      g_autoptr (JsonNode) body = NULL;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "text");
      json_builder_add_string_value (builder, message);
      if (self->channel != NULL)
        {
          json_builder_set_member_name (builder, "channel");
          json_builder_add_string_value (builder, self->channel);
        }
      json_builder_end_object (builder);
      body = json_builder_get_root (builder);
      prd_integration_http_send_async (self->http, "POST", self->webhook_url, body,
                                       PRD_INTEGRATION_HTTP_TEXT_BODY |
                                           PRD_INTEGRATION_HTTP_SECRET_URL,
                                       cancellable, on_hooked, task);
    }
  else if (self->channel_id == NULL)
    {
      g_autofree char *team = g_uri_escape_string (self->team, NULL, FALSE);
      g_autofree char *channel = g_uri_escape_string (self->channel, NULL, FALSE);
      g_autofree char *path =
          g_strdup_printf ("/teams/name/%s/channels/name/%s?include_deleted=false", team, channel);
      g_autofree char *url = api_url (self, path);

      prd_integration_http_send_async (self->http, "GET", url, NULL,
                                       PRD_INTEGRATION_HTTP_IDEMPOTENT, cancellable, on_channel,
                                       task);
    }
  else
    send_post (task);
}

/**
 * prd_mattermost_post_finish:
 *
 * Returns: (transfer full) (nullable): the post's id; an empty string for a
 *   webhook (which gives none); %NULL with @error set when it failed
 */
char *
prd_mattermost_post_finish (PrdMattermost *self, GAsyncResult *result, GError **error)
{
  Post *post;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  post = g_task_get_task_data (G_TASK (result));
  return g_strdup (post->post_id != NULL ? post->post_id : "");
}
