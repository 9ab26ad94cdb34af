/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The commands that change a running hub's PRDs or ask it who is connected
 * talk to it over its REST API, so that its rooms, versions and clients
 * learn of the change as they do of any other:
 *
 *   prdhub prd rename ID --title T
 *   prdhub prd archive ID / prdhub prd unarchive ID
 *   prdhub prd delete ID [--purge-versions]
 *   prdhub prd version ID --changelog TEXT [--type major|minor|patch] [--force]
 *   prdhub status [--json]
 *
 * The hub is found at --url, else from its configuration (`[server]
 * listen`; `https` with `tls-cert`, whose certificate is then trusted). The
 * command mints a short-lived admin token for --org (and --user) with the
 * hub's own secret, as `prdhub token` does. Before the token goes anywhere,
 * the server must prove it holds that secret (`GET /api/hub-proof`,
 * prd_auth_prove()): whatever else listens at the address (another user's
 * server while the hub is down) gets no token. Answers are read no further
 * than MAX_ANSWER bytes.
 */
#define G_LOG_DOMAIN "prdhub"

#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <libsoup/soup.h>

#include "prd-error.h"
#include "prd-hub-config-server.h"
#include "prd-hub-secret.h"
#include "prd-hub-versions.h"
#include "prd-hub.h"
#include "prd-json.h"
#include "prd-secret-store.h"
#include "prd-store.h"

#include "prd-cli.h"
#include "prd-cli-remote.h"

#define TOKEN_TTL      300        /* seconds */
#define CLI_USER       "operator" /* the token's user when --user is not given */
#define MAX_ANSWER     (64 * 1024 * 1024)
#define EXIT_FAILURE_1 PRD_CLI_EXIT_FAILURE
#define EXIT_USAGE     PRD_CLI_EXIT_USAGE

typedef struct
{
  char *url;                 /* without a trailing / */
  char *token;               /* (owned) */
  PrdAuth *auth;             /* (owned): what minted the token, and checks the proof */
  gboolean verified;         /* the server proved it is the hub */
  GTlsCertificate *hub_cert; /* (owned) (nullable): trusted as the hub's own */
  SoupSession *session;      /* (owned) */
} Remote;

static void
remote_free (Remote *remote)
{
  g_free (remote->url);
  g_free (remote->token);
  g_clear_object (&remote->auth);
  g_clear_object (&remote->hub_cert);
  g_clear_object (&remote->session);
  g_free (remote);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Remote, remote_free)

static int
fail (const char *what, const GError *error)
{
  if (what != NULL)
    g_printerr ("prdhub: %s: %s\n", what, error->message);
  else
    g_printerr ("prdhub: %s\n", error->message);
  return EXIT_FAILURE_1;
}

/* Where the hub listens, as seen from this machine. */
static char *
url_from_config (PrdHubConfig *config, GError **error)
{
  const PrdHubServerConfig *server = prd_hub_config_get_server (config);
  const char *host = server->listen_host;

  if (server->listen_port == 0)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CONFIG,
                           "the hub listens on a port chosen at start (listen port 0): give --url");
      return NULL;
    }
  if (g_str_equal (host, "0.0.0.0") || g_str_equal (host, "localhost"))
    host = "127.0.0.1";
  else if (g_str_equal (host, "::"))
    host = "::1";
  if (strchr (host, ':') != NULL)
    return g_strdup_printf ("%s://[%s]:%u", server->tls_cert != NULL ? "https" : "http", host,
                            server->listen_port);
  return g_strdup_printf ("%s://%s:%u", server->tls_cert != NULL ? "https" : "http", host,
                          server->listen_port);
}

/* --url: the hub's http:// or https:// address, without user info, query
 * or fragment (a usage error otherwise: it is an option, not a
 * configuration key). What a hub's address never has is refused, so that
 * the messages that name the address never show a password or a token. */
static gboolean
url_is_valid (const char *url)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

  return uri != NULL && g_uri_get_host (uri) != NULL && *g_uri_get_host (uri) != '\0' &&
         (g_strcmp0 (g_uri_get_scheme (uri), "http") == 0 ||
          g_strcmp0 (g_uri_get_scheme (uri), "https") == 0) &&
         g_uri_get_userinfo (uri) == NULL && g_uri_get_query (uri) == NULL &&
         g_uri_get_fragment (uri) == NULL;
}

static Remote *
remote_open (const char *config_file,
             const char *data_dir,
             const char *url,
             const char *org,
             const char *user,
             GError **error)
{
  g_autoptr (Remote) remote = g_new0 (Remote, 1);
  g_autoptr (PrdHubConfig) config = prd_hub_config_new ();
  g_autoptr (PrdSecretStore) secrets = NULL;
  g_autoptr (PrdIdentity) identity = NULL;
  g_autoptr (PrdAuth) auth = NULL;
  g_autoptr (GBytes) secret = NULL;
  const PrdHubServerConfig *server;

  if (config_file != NULL && !prd_hub_config_load_file (config, config_file, error))
    return NULL;
  if (data_dir != NULL && !prd_hub_config_set (config, "server", "data-dir", data_dir, error))
    return NULL;
  if (!prd_hub_config_validate (config, error))
    return NULL;
  server = prd_hub_config_get_server (config);
  if (prd_hub_config_get_auth (config)->jwt_public_key != NULL)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "the hub verifies tokens with %s (jwt-public-key): this command cannot mint "
                   "one",
                   prd_hub_config_get_auth (config)->jwt_public_key);
      return NULL;
    }
  if (url != NULL)
    remote->url = g_strdup (url); /* checked by url_is_valid() */
  else if ((remote->url = url_from_config (config, error)) == NULL)
    return NULL;
  while (g_str_has_suffix (remote->url, "/"))
    remote->url[strlen (remote->url) - 1] = '\0';
  if (server->tls_cert != NULL)
    {
      remote->hub_cert = g_tls_certificate_new_from_file (server->tls_cert, error);
      if (remote->hub_cert == NULL)
        return NULL;
    }

  /* The environment's secret wins, as for `prdhub token`; else the hub's
   * secret is read from its data folder, which must exist (a command never
   * makes a new secret where no hub is). */
  if (g_getenv (PRD_HUB_SECRET_ENV) == NULL || *g_getenv (PRD_HUB_SECRET_ENV) == '\0')
    {
      g_autofree char *db = g_build_filename (server->data_dir, PRD_CLI_STORE_FILE, NULL);

      if (!prd_cli_check_data_dir (server->data_dir, error))
        return NULL;
      /* An existing folder that no hub ever ran in (a --data-dir typo)
       * would get a new secret that no hub knows. */
      if (!g_file_test (db, G_FILE_TEST_IS_REGULAR))
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND,
                       "%s is not a hub's data folder (it has no %s; `prdhub serve` makes one)",
                       server->data_dir, PRD_CLI_STORE_FILE);
          return NULL;
        }
      secrets = prd_secret_store_open_default_sync (server->data_dir, NULL, error);
      if (secrets == NULL)
        return NULL;
      prd_hub_secret_set_store (secrets);
    }
  /* The running hub's secret, never a new one (jwt-public-key was refused
   * above). */
  secret = prd_hub_secret_find_jwt (server->data_dir, error);
  if (secret == NULL)
    return NULL;
  auth = prd_auth_new_hmac (secret, error);
  if (auth == NULL)
    return NULL;
  identity =
      prd_identity_new (user != NULL ? user : CLI_USER, user != NULL ? user : PRD_HUB_OPERATOR_NAME,
                        NULL, org != NULL ? org : "default", PRD_ROLE_ADMIN,
                        g_get_real_time () / G_USEC_PER_SEC + TOKEN_TTL);
  remote->token = prd_auth_mint (auth, identity, error);
  if (remote->token == NULL)
    return NULL;
  remote->auth = g_steal_pointer (&auth);
  remote->session = soup_session_new ();
  return g_steal_pointer (&remote);
}

/* A certificate the system does not trust is accepted when it is the one
 * the hub's configuration names. */
static gboolean
on_accept_certificate (SoupMessage *msg,
                       GTlsCertificate *certificate,
                       GTlsCertificateFlags errors,
                       gpointer user_data)
{
  Remote *remote = user_data;

  return remote->hub_cert != NULL && g_tls_certificate_is_same (certificate, remote->hub_cert);
}

/* Sends @msg and reads its answer, at most @limit bytes of it. */
static GBytes *
send_and_read_bounded (Remote *remote, SoupMessage *msg, gsize limit, GError **error)
{
  g_autoptr (GInputStream) in = NULL;
  g_autoptr (GByteArray) answer = g_byte_array_new ();
  GError *local_error = NULL;

  g_signal_connect (msg, "accept-certificate", G_CALLBACK (on_accept_certificate), remote);
  in = soup_session_send (remote->session, msg, NULL, &local_error);
  if (in == NULL)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INTERNAL, "cannot reach the hub at %s: %s",
                   remote->url, local_error->message);
      g_error_free (local_error);
      return NULL;
    }
  while (TRUE)
    {
      guint8 buffer[65536];
      gssize n = g_input_stream_read (in, buffer, sizeof buffer, NULL, &local_error);

      if (n < 0)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_INTERNAL, "cannot read the hub's answer: %s",
                       local_error->message);
          g_error_free (local_error);
          return NULL;
        }
      if (n == 0)
        break;
      if (answer->len + (gsize) n > limit)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_INTERNAL,
                       "the answer from %s is larger than %" G_GSIZE_FORMAT " bytes", remote->url,
                       limit);
          return NULL;
        }
      g_byte_array_append (answer, buffer, (guint) n);
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&answer));
}

/* In a time that does not depend on where the two texts differ. */
static gboolean
same_text (const char *a, const char *b)
{
  gsize len = strlen (b);
  guint8 diff = strlen (a) != len;

  for (gsize i = 0; i < len && a[i] != '\0'; i++)
    diff |= (guint8) (a[i] ^ b[i]);
  return diff == 0;
}

/* The server at remote->url must show it holds the hub's secret before it
 * gets a token minted with it. */
static gboolean
remote_verify (Remote *remote, GError **error)
{
  guint8 random[24];
  g_autoptr (GString) challenge = g_string_new (NULL);
  g_autofree char *uri = NULL;
  g_autofree char *expected = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GBytes) answer = NULL;
  g_autoptr (JsonNode) node = NULL;
  const char *proof = NULL;

  if (remote->verified)
    return TRUE;
  if (getrandom (random, sizeof random, 0) != sizeof random)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INTERNAL, "no random bytes for a challenge");
      return FALSE;
    }
  for (gsize i = 0; i < sizeof random; i++)
    g_string_append_printf (challenge, "%02x", random[i]);
  uri = g_strconcat (remote->url, "/api/hub-proof?challenge=", challenge->str, NULL);
  msg = soup_message_new (SOUP_METHOD_GET, uri);
  if (msg == NULL)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "%s is not a usable address", remote->url);
      return FALSE;
    }
  answer = send_and_read_bounded (remote, msg, 4096, error);
  if (answer == NULL)
    return FALSE;
  node = prd_json_parse (g_bytes_get_data (answer, NULL), (gssize) g_bytes_get_size (answer), 4096,
                         NULL);
  if (soup_message_get_status (msg) == SOUP_STATUS_OK && node != NULL &&
      JSON_NODE_HOLDS_OBJECT (node))
    proof = json_object_get_string_member_with_default (json_node_get_object (node), "proof", NULL);
  expected = prd_auth_prove (remote->auth, challenge->str);
  if (proof == NULL || expected == NULL || !same_text (proof, expected))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_AUTHENTICATION_FAILED,
                   "the server at %s did not prove it is this hub (it does not hold the hub's "
                   "secret); no token was sent to it",
                   remote->url);
      return FALSE;
    }
  remote->verified = TRUE;
  return TRUE;
}

/* Sends one request; returns the parsed JSON answer of a 2xx, else NULL
 * with @error set from the hub's { code, message } (or the transport). */
static JsonNode *
remote_call (Remote *remote,
             const char *method,
             const char *path,
             JsonNode *body,
             guint *out_status,
             GError **error)
{
  g_autofree char *uri = g_strconcat (remote->url, path, NULL);
  g_autofree char *auth = g_strconcat ("Bearer ", remote->token, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (method, uri);
  g_autoptr (GBytes) answer = NULL;
  g_autoptr (JsonNode) node = NULL;
  guint status;

  if (msg == NULL)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "%s is not a usable address", uri);
      return NULL;
    }
  if (!remote_verify (remote, error))
    return NULL;
  soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", auth);
  if (body != NULL)
    {
      char *text = json_to_string (body, FALSE);
      gsize len = strlen (text);
      g_autoptr (GBytes) bytes = g_bytes_new_take (text, len);

      soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    }
  answer = send_and_read_bounded (remote, msg, MAX_ANSWER, error);
  if (answer == NULL)
    return NULL;
  status = soup_message_get_status (msg);
  if (out_status != NULL)
    *out_status = status;
  node = prd_json_parse (g_bytes_get_data (answer, NULL), (gssize) g_bytes_get_size (answer),
                         G_MAXSIZE, NULL);
  if (status >= 200 && status < 300 && node != NULL)
    return g_steal_pointer (&node);
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *object = json_node_get_object (node);
      const char *code = json_object_get_string_member_with_default (object, "code", NULL);
      const char *message = json_object_get_string_member_with_default (object, "message", NULL);
      PrdErrorCode prd_code = PRD_ERROR_INTERNAL;

      if (code != NULL && message != NULL)
        {
          prd_error_code_from_string (code, &prd_code);
          g_set_error (error, PRD_ERROR, (int) prd_code, "%s (%s)", message, code);
          return NULL;
        }
    }
  g_set_error (error, PRD_ERROR, PRD_ERROR_INTERNAL, "the hub answered %u %s", status,
               soup_message_get_reason_phrase (msg));
  return NULL;
}

/* ---- prdhub prd rename|archive|unarchive|delete|version ---------------------------- */

static const char *const actions[] = { "rename", "archive", "unarchive", "delete", "version" };

/**
 * prd_cli_remote_handles:
 *
 * Returns: whether `prdhub prd @action` is one of the commands that go
 *   through a running hub
 */
gboolean
prd_cli_remote_handles (const char *action)
{
  for (guint i = 0; i < G_N_ELEMENTS (actions); i++)
    if (g_strcmp0 (action, actions[i]) == 0)
      return TRUE;
  return FALSE;
}

static void
print_prd (JsonNode *node)
{
  JsonObject *prd = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;

  if (prd == NULL)
    return;
  printf ("%s\t%s\t%s\t%s\n", json_object_get_string_member_with_default (prd, "id", ""),
          json_object_get_string_member_with_default (prd, "version", ""),
          json_object_get_boolean_member_with_default (prd, "archived", FALSE) ? "archived"
                                                                               : "active",
          json_object_get_string_member_with_default (prd, "title", ""));
}

static const char *const prd_summary =
    "Actions that go through the running hub (its rooms and clients learn of them):\n"
    "  rename ID --title TITLE       rename a PRD\n"
    "  archive ID                    archive a PRD (read-only, hidden from lists)\n"
    "  unarchive ID                  make it editable and listed again\n"
    "  delete ID [--purge-versions]  delete a PRD (its versions stay in git unless purged)\n"
    "  version ID --changelog TEXT [--type major|minor|patch] [--force]\n"
    "                                create a version; refused when the text has not\n"
    "                                changed since the last one, unless --force\n"
    "\n"
    "The hub is found at --url, else from its configuration; the command signs a\n"
    "5-minute admin token for --org with the hub's secret.";

/**
 * prd_cli_remote_prd:
 * @argv: `prdhub prd ACTION …` with the command dropped (argv[1] is the
 *   action)
 *
 * Returns: the exit status: 0, 1 on an error, 2 on a usage error
 */
int
prd_cli_remote_prd (int argc, char **argv)
{
  g_autofree char *title = NULL;
  g_autofree char *changelog = NULL;
  g_autofree char *type = NULL;
  g_autofree char *org = NULL;
  g_autofree char *user = NULL;
  g_autofree char *url = NULL;
  g_autofree char *data_dir = NULL;
  g_autofree char *config_file = NULL;
  gboolean purge = FALSE, force = FALSE;
  const GOptionEntry entries[] = {
    { "title", 't', 0, G_OPTION_ARG_STRING, &title, "The new title (rename)", "TITLE" },
    { "changelog", 'm', 0, G_OPTION_ARG_STRING, &changelog, "What changed (version)", "TEXT" },
    { "type", 'T', 0, G_OPTION_ARG_STRING, &type, "major, minor (default) or patch (version)",
      "TYPE" },
    { "force", 'F', 0, G_OPTION_ARG_NONE, &force,
      "Create the version even if the text has not changed (version)", NULL },
    { "purge-versions", 0, 0, G_OPTION_ARG_NONE, &purge,
      "Also delete its version tags and its file from the repository's branch (delete)", NULL },
    { "org", 'o', 0, G_OPTION_ARG_STRING, &org, "Organization (default \"default\")", "ORG" },
    { "user", 'u', 0, G_OPTION_ARG_STRING, &user, "Act as this user id (default \"operator\")",
      "USER" },
    { "url", 0, 0, G_OPTION_ARG_STRING, &url, "The hub's address (default: from its configuration)",
      "URL" },
    { "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir, "Data folder of the hub", "DIR" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file, "Configuration file of the hub",
      "FILE" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "rename|archive|unarchive|delete|version ID - change a PRD on the running hub");
  g_autoptr (GError) error = NULL;
  g_autoptr (Remote) remote = NULL;
  g_autoptr (JsonNode) answer = NULL;
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) body = NULL;
  g_autofree char *path = NULL;
  const char *action, *prd_id;
  const char *method;

  g_set_prgname ("prdhub prd");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context, prd_summary);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return prd_cli_usage_error ("prd", "%s", error->message);
  if (argc != 3 || !prd_cli_remote_handles (argv[1]))
    return prd_cli_usage_error ("prd", "prd %s needs exactly one ID", argc > 1 ? argv[1] : "");
  action = argv[1];
  prd_id = argv[2];
  if (!prd_store_validate_prd_id (prd_id, &error))
    return fail (NULL, error);
  if (g_str_equal (action, "rename") != (title != NULL) ||
      g_str_equal (action, "version") != (changelog != NULL) ||
      (!g_str_equal (action, "version") && (type != NULL || force)) ||
      (!g_str_equal (action, "delete") && purge))
    return prd_cli_usage_error (
        "prd", "prd rename needs --title, prd version --changelog (and only it "
               "takes --type and --force), only prd delete takes --purge-versions");

  json_builder_begin_object (builder);
  if (g_str_equal (action, "rename"))
    {
      json_builder_set_member_name (builder, "title");
      json_builder_add_string_value (builder, title);
    }
  else if (g_str_equal (action, "archive") || g_str_equal (action, "unarchive"))
    {
      json_builder_set_member_name (builder, "archived");
      json_builder_add_boolean_value (builder, g_str_equal (action, "archive"));
    }
  else if (g_str_equal (action, "version"))
    {
      json_builder_set_member_name (builder, "changelog");
      json_builder_add_string_value (builder, changelog);
      json_builder_set_member_name (builder, "versionType");
      json_builder_add_string_value (builder, type != NULL ? type : "minor");
      json_builder_set_member_name (builder, "force");
      json_builder_add_boolean_value (builder, force);
    }
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  if (g_str_equal (action, "delete"))
    {
      method = "DELETE";
      path = g_strdup_printf ("/api/prds/%s%s", prd_id, purge ? "?purgeVersions=true" : "");
      g_clear_pointer (&body, json_node_unref);
    }
  else if (g_str_equal (action, "version"))
    {
      method = "POST";
      path = g_strdup_printf ("/api/prds/%s/versions", prd_id);
    }
  else
    {
      method = "PATCH";
      path = g_strdup_printf ("/api/prds/%s", prd_id);
    }

  if (url != NULL && !url_is_valid (url))
    return prd_cli_usage_error (
        "prd",
        "--url is not an http:// or https:// address (without user info, query or fragment)");
  remote = remote_open (config_file, data_dir, url, org, user, &error);
  if (remote == NULL)
    return fail (NULL, error);
  answer = remote_call (remote, method, path, body, NULL, &error);
  if (answer == NULL)
    return fail (action, error);
  if (g_str_equal (action, "version"))
    printf ("%s\n", json_object_get_string_member_with_default (json_node_get_object (answer),
                                                                "version", ""));
  else if (!g_str_equal (action, "delete"))
    print_prd (answer);
  return prd_cli_finish_output (0);
}

/* ---- prdhub status -------------------------------------------------------------- */

/**
 * prd_cli_remote_status:
 * @argv: `prdhub status …` with the command dropped
 *
 * Prints who is connected to the running hub (`GET /api/sessions`): one
 * line per connection, tab-separated: id, namespace, user id, name, role,
 * transport, connected since, and the PRDs it joined as `prdId:mode:status`
 * (comma-separated; `-` when none). --json prints the hub's answer.
 */
int
prd_cli_remote_status (int argc, char **argv)
{
  g_autofree char *org = NULL;
  g_autofree char *url = NULL;
  g_autofree char *data_dir = NULL;
  g_autofree char *config_file = NULL;
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "org", 'o', 0, G_OPTION_ARG_STRING, &org, "Organization (default \"default\")", "ORG" },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &json, "Print the hub's JSON answer", NULL },
    { "url", 0, 0, G_OPTION_ARG_STRING, &url, "The hub's address (default: from its configuration)",
      "URL" },
    { "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir, "Data folder of the hub", "DIR" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file, "Configuration file of the hub",
      "FILE" },
    { NULL }
  };
  g_autoptr (GOptionContext) context =
      g_option_context_new ("- who is connected to the running hub (one organization)");
  g_autoptr (GError) error = NULL;
  g_autoptr (Remote) remote = NULL;
  g_autoptr (JsonNode) answer = NULL;
  JsonArray *sessions;

  g_set_prgname ("prdhub status");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return prd_cli_usage_error ("status", "%s", error->message);
  if (argc > 1)
    return prd_cli_usage_error ("status", "unexpected argument \"%s\"", argv[1]);
  if (url != NULL && !url_is_valid (url))
    return prd_cli_usage_error (
        "status",
        "--url is not an http:// or https:// address (without user info, query or fragment)");
  remote = remote_open (config_file, data_dir, url, org, NULL, &error);
  if (remote == NULL)
    return fail (NULL, error);
  answer = remote_call (remote, "GET", "/api/sessions", NULL, NULL, &error);
  if (answer == NULL)
    return fail ("status", error);
  if (json)
    {
      g_autofree char *text = json_to_string (answer, TRUE);

      printf ("%s\n", text);
      return prd_cli_finish_output (0);
    }
  sessions = JSON_NODE_HOLDS_OBJECT (answer)
                 ? json_object_get_array_member (json_node_get_object (answer), "sessions")
                 : NULL;
  for (guint i = 0; sessions != NULL && i < json_array_get_length (sessions); i++)
    {
      JsonObject *session = json_array_get_object_element (sessions, i);
      JsonObject *user = json_object_get_object_member (session, "user");
      JsonArray *prds = json_object_get_array_member (session, "prds");
      g_autoptr (GString) joined = g_string_new (NULL);

      for (guint j = 0; prds != NULL && j < json_array_get_length (prds); j++)
        {
          JsonObject *prd = json_array_get_object_element (prds, j);

          g_string_append_printf (joined, "%s%s:%s:%s", j > 0 ? "," : "",
                                  json_object_get_string_member_with_default (prd, "prdId", ""),
                                  json_object_get_string_member_with_default (prd, "mode", "-"),
                                  json_object_get_string_member_with_default (prd, "status", "-"));
        }
      printf ("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
              json_object_get_string_member_with_default (session, "id", ""),
              json_object_get_string_member_with_default (session, "namespace", ""),
              json_object_get_string_member_with_default (user, "id", ""),
              json_object_get_string_member_with_default (user, "name", ""),
              json_object_get_string_member_with_default (session, "role", ""),
              json_object_get_string_member_with_default (session, "transport", ""),
              json_object_get_string_member_with_default (session, "connectedSince", ""),
              joined->len > 0 ? joined->str : "-");
    }
  return prd_cli_finish_output (0);
}
