/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * prdhub: `serve` (the default) runs the hub until SIGINT/SIGTERM; `token`
 * mints a JWT the hub accepts, for handing out to LAN users; `prd` creates,
 * imports, exports and lists PRDs in the hub's data folder (the same SQLite
 * database a running hub uses: WAL lets both work at once); `secret` sets,
 * deletes and lists the hub's credentials in its secret store; `discover` lists
 * the hubs announced on the LAN.
 *
 * Logs go to stderr (or the journal) so that stdout carries only what
 * scripts read: the one "prdhub listening on URL" line, or the token.
 */
#define G_LOG_DOMAIN "prd-main"

#include "config.h"

#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <termios.h>
#include <unistd.h>

#include <glib-unix.h>

#include "prd-error.h"
#include "prd-hub-rest.h"
#include "prd-hub-ai.h"
#include "prd-hub-config-ai.h"
#include "prd-hub-config-server.h"
#include "prd-hub-dbus.h"
#include "prd-hub-discovery.h"
#include "prd-hub-secret.h"
#include "prd-hub.h"
#include "prd-secret-store.h"
#include "prd-sqlite-store.h"
#include "prd-time.h"

#define DEFAULT_TOKEN_TTL (7 * 24 * 3600)
#define MAX_TOKEN_TTL     (366 * 24 * 3600)
#define STORE_FILE        "prdhub.db"
/* Largest Markdown file `prd create --file` / `prd import` accept. */
#define MAX_IMPORT_BYTES (4 * 1024 * 1024)

typedef struct
{
  GMainLoop *loop;
  PrdHub *hub;
  gboolean stopping;
} ServeState;

static int
fail (GError *error)
{
  g_printerr ("prdhub: %s\n", error->message);
  return 1;
}

static PrdHubConfig *
load_config (const char *config_file,
             const char *listen,
             const char *data_dir,
             const char *tls_cert,
             const char *tls_key,
             const char *jwt_public_key,
             char **cors_origins,
             const char *autosave_interval,
             GError **error)
{
  g_autoptr (PrdHubConfig) config = prd_hub_config_new ();

  if (config_file != NULL && !prd_hub_config_load_file (config, config_file, error))
    return NULL;
  if ((listen != NULL && !prd_hub_config_set (config, "server", "listen", listen, error)) ||
      (data_dir != NULL && !prd_hub_config_set (config, "server", "data-dir", data_dir, error)) ||
      (tls_cert != NULL && !prd_hub_config_set (config, "server", "tls-cert", tls_cert, error)) ||
      (tls_key != NULL && !prd_hub_config_set (config, "server", "tls-key", tls_key, error)) ||
      (jwt_public_key != NULL &&
       !prd_hub_config_set (config, "auth", "jwt-public-key", jwt_public_key, error)) ||
      (cors_origins != NULL &&
       !prd_hub_config_set_list (config, "server", "cors-origins",
                                 (const char *const *) cors_origins, error)) ||
      (autosave_interval != NULL &&
       !prd_hub_config_set (config, "collab", "autosave-interval", autosave_interval, error)))
    return NULL;
  if (!prd_hub_config_validate (config, error))
    return NULL;
  return g_steal_pointer (&config);
}

/* Opens the hub's secret store (the Secret Service, else the owner-only
 * file in the data folder) and hands it to the JWT secret loader. */
static PrdSecretStore *
open_secret_store (PrdHubConfig *config, GError **error)
{
  g_autoptr (PrdSecretStore) store = NULL;

  store = prd_secret_store_open_default_sync (prd_hub_config_get_server (config)->data_dir, NULL,
                                              error);
  if (store == NULL)
    return NULL;
  prd_hub_secret_set_store (store);
  return g_steal_pointer (&store);
}

static gboolean
parse_options (GOptionContext *context, int *argc, char ***argv, GError **error)
{
  g_autoptr (GError) local_error = NULL;

  if (!g_option_context_parse (context, argc, argv, &local_error))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_CONFIG, local_error->message);
      return FALSE;
    }
  if (*argc > 1)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "unexpected argument \"%s\"", (*argv)[1]);
      return FALSE;
    }
  return TRUE;
}

static void
on_stopped (PrdHub *hub, gpointer user_data)
{
  ServeState *state = user_data;

  if (state->loop != NULL)
    g_main_loop_quit (state->loop);
}

static gboolean
on_signal (gpointer user_data)
{
  ServeState *state = user_data;

  /* The hub is being torn down already. */
  if (state->loop == NULL)
    return G_SOURCE_CONTINUE;

  /* A second signal does not wait for clients any longer. */
  if (state->stopping)
    {
      g_message ("Stopping now");
      g_main_loop_quit (state->loop);
      return G_SOURCE_CONTINUE;
    }
  state->stopping = TRUE;
  g_message ("Stopping");
  prd_hub_stop (state->hub);
  return G_SOURCE_CONTINUE;
}

/* Runs the default main context until *@done. */
static void
wait_for (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
}

/* The [ai] provider, its key from PRDHUB_AI_API_KEY or the secret
 * `ai-api-key`; NULL without error when no AI is configured. */
static PrdAiProvider *
open_ai_provider (PrdHubConfig *config, PrdSecretStore *secrets, GError **error)
{
  g_autofree char *key = NULL;
  const char *env = g_getenv ("PRDHUB_AI_API_KEY");
  g_autoptr (GError) local_error = NULL;

  if (prd_hub_config_get_ai (config)->base_url == NULL)
    return NULL;
  if (env != NULL && *env != '\0')
    key = g_strdup (env);
  else
    {
      key = prd_secret_store_lookup_sync (secrets, "ai-api-key", NULL, &local_error);
      if (key == NULL && !g_error_matches (local_error, PRD_ERROR, PRD_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
    }
  return prd_hub_ai_build_provider (config, key, error);
}

static void
store_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static PrdStore *
open_store (PrdHubConfig *config, GError **error)
{
  const char *data_dir = prd_hub_config_get_server (config)->data_dir;
  g_autofree char *path = g_build_filename (data_dir, STORE_FILE, NULL);
  g_autoptr (GAsyncResult) result = NULL;

  if (g_mkdir_with_parents (data_dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "Cannot create the data folder %s: %s",
                   data_dir, g_strerror (saved_errno));
      return NULL;
    }
  prd_sqlite_store_new_async (path, NULL, store_result, &result);
  wait_for (&result);
  return (PrdStore *) prd_sqlite_store_new_finish (result, error);
}

static void
close_store (PrdStore *store)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  prd_store_close_async (store, NULL, store_result, &result);
  wait_for (&result);
  if (!prd_store_close_finish (store, result, &error))
    g_warning ("Cannot close the store: %s", error->message);
}

/* Every feature starts (and loads what it holds) before the hub listens. */
static gboolean
start_hub (PrdHub *hub, PrdStore *store, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  prd_hub_set_store_async (hub, store, NULL, store_result, &result);
  wait_for (&result);
  return prd_hub_set_store_finish (hub, result, error);
}

/* Connections are bounded by [server] max-connections, not by a soft
 * open-file limit left at 1024 for select() users: the hub polls. */
static void
raise_open_file_limit (void)
{
  struct rlimit limit;
  rlim_t soft;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max)
    return;
  soft = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit (RLIMIT_NOFILE, &limit) == 0)
    g_debug ("Open-file limit raised from %llu to %llu", (unsigned long long) soft,
             (unsigned long long) limit.rlim_max);
}

/* The LAN announcement of @hub, on the port it really listens on. */
static PrdHubDiscovery *
new_discovery (PrdHub *hub, PrdHubConfig *config)
{
  GSList *uris = prd_hub_get_uris (hub);
  g_autofree char *name = prd_hub_discovery_default_name ();
  PrdHubServerConfig *server = prd_hub_config_get_server (config);
  int port = uris != NULL ? g_uri_get_port (uris->data) : server->listen_port;
  PrdHubDiscovery *discovery;

  discovery =
      prd_hub_discovery_new (name, server->listen_host, (guint16) port, server->tls_cert != NULL);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return discovery;
}

static int
cmd_serve (int argc, char **argv)
{
  g_autofree char *listen = NULL;
  g_autofree char *data_dir = NULL;
  g_autofree char *config_file = NULL;
  g_autofree char *tls_cert = NULL;
  g_autofree char *tls_key = NULL;
  g_autofree char *jwt_public_key = NULL;
  g_auto (GStrv) cors_origins = NULL;
  g_autofree char *autosave_interval = NULL;
  g_autofree char *ai_base_url = NULL;
  g_autofree char *ai_model = NULL;
  gboolean verbose = FALSE;
  gboolean no_dbus = FALSE;
  const GOptionEntry entries[] = {
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &listen,
      "Address to listen on (default 127.0.0.1:3000; port 0: any free port)", "HOST:PORT" },
    { "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      "Data folder (default $XDG_DATA_HOME/prdhub)", "DIR" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file, "Configuration file (key file)",
      "FILE" },
    { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &tls_cert, "PEM certificate; serve HTTPS/WSS",
      "FILE" },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &tls_key, "PEM private key of --tls-cert", "FILE" },
    { "jwt-public-key", 0, 0, G_OPTION_ARG_FILENAME, &jwt_public_key,
      "Verify RS/ES tokens with this PEM public key instead of the hub secret", "FILE" },
    { "cors-origin", 0, 0, G_OPTION_ARG_STRING_ARRAY, &cors_origins,
      "Allow browser requests from ORIGIN (repeatable; * for any)", "ORIGIN" },
    { "autosave-interval", 0, 0, G_OPTION_ARG_STRING, &autosave_interval,
      "Auto-save PRDs with unsaved changes every SECONDS (default 300)", "SECONDS" },
    { "ai-base-url", 0, 0, G_OPTION_ARG_STRING, &ai_base_url,
      "OpenAI-compatible API root for AI help, e.g. http://127.0.0.1:11434/v1", "URL" },
    { "ai-model", 0, 0, G_OPTION_ARG_STRING, &ai_model, "Model name for AI help", "NAME" },
    { "no-dbus", 0, 0, G_OPTION_ARG_NONE, &no_dbus,
      "Do not offer the admin interface (org.prdtool.Hub) on the session bus", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log debug messages", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- run the prdhub server");
  g_autoptr (PrdHubConfig) config = NULL;
  g_autoptr (PrdSecretStore) secrets = NULL;
  g_autoptr (PrdAuth) auth = NULL;
  g_autoptr (PrdStore) store = NULL;
  g_autoptr (PrdAiProvider) provider = NULL;
  g_autoptr (PrdHub) hub = NULL;
  g_autoptr (PrdHubDbus) dbus = NULL;
  g_autoptr (PrdHubDiscovery) discovery = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *url = NULL;
  ServeState state = { 0 };

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context, "Commands: serve (default), token, prd, secret, discover. "
                                         "See `prdhub token --help`, `prdhub prd --help`, "
                                         "`prdhub secret --help`.");
  if (!parse_options (context, &argc, &argv, &error))
    return fail (error);
  if (verbose)
    g_log_set_debug_enabled (TRUE);

  config = load_config (config_file, listen, data_dir, tls_cert, tls_key, jwt_public_key,
                        cors_origins, autosave_interval, &error);
  if (config == NULL)
    return fail (error);
  if ((ai_base_url != NULL &&
       !prd_hub_config_set (config, "ai", "base-url", ai_base_url, &error)) ||
      (ai_model != NULL && !prd_hub_config_set (config, "ai", "model", ai_model, &error)) ||
      !prd_hub_config_validate (config, &error))
    return fail (error);
  secrets = open_secret_store (config, &error);
  if (secrets == NULL)
    return fail (error);
  provider = open_ai_provider (config, secrets, &error);
  if (provider == NULL && error != NULL)
    return fail (error);
  auth = prd_hub_create_auth (config, &error);
  if (auth == NULL)
    return fail (error);

  store = open_store (config, &error);
  if (store == NULL)
    return fail (error);
  hub = prd_hub_new (config, auth);
  if (!start_hub (hub, store, &error))
    {
      close_store (store);
      return fail (error);
    }
  prd_hub_set_ai_provider (hub, provider);
  raise_open_file_limit ();
  if (!prd_hub_listen (hub, &error))
    return fail (error);

  url = prd_hub_get_url (hub);
  printf ("prdhub listening on %s\n", url);
  fflush (stdout);
  discovery = new_discovery (hub, config);
  prd_hub_discovery_start (discovery);
  if (!no_dbus)
    {
      dbus = prd_hub_dbus_new (hub);
      prd_hub_dbus_set_discovery (dbus, discovery);
      prd_hub_dbus_start (dbus);
    }

  loop = g_main_loop_new (NULL, FALSE);
  state.loop = loop;
  state.hub = hub;
  g_signal_connect (hub, "stopped", G_CALLBACK (on_stopped), &state);
  g_unix_signal_add (SIGINT, on_signal, &state);
  g_unix_signal_add (SIGTERM, on_signal, &state);
  g_main_loop_run (loop);

  /* The handlers stay installed until the process exits: removing them
   * restores the default action, and a repeated SIGTERM from a supervisor
   * would then kill a clean shutdown half-way. Signals that arrive from now
   * on find no loop and are ignored. */
  state.loop = NULL;
  state.hub = NULL;
  g_clear_object (&dbus);
  g_clear_object (&discovery);
  g_clear_object (&hub);
  /* Waits for the store's last commits (signals are ignored meanwhile). */
  close_store (store);
  return 0;
}

/* The web editor's sign-in link for @token on the hub @server describes:
 * the token goes in the fragment, which browsers never send. A hub that
 * listens on every address is named by this machine's host name. */
static char *
web_link (const PrdHubServerConfig *server, const char *token)
{
  const char *host = server->listen_host;
  g_autofree char *bracketed = NULL;

  if (g_str_equal (host, "0.0.0.0") || g_str_equal (host, "::"))
    host = g_get_host_name ();
  else if (strchr (host, ':') != NULL)
    host = bracketed = g_strdup_printf ("[%s]", host);
  return g_strdup_printf ("%s://%s:%u/#token=%s", server->tls_cert != NULL ? "https" : "http", host,
                          (guint) server->listen_port, token);
}

static int
cmd_token (int argc, char **argv)
{
  g_autofree char *user = NULL;
  g_autofree char *name = NULL;
  g_autofree char *org = NULL;
  g_autofree char *role_str = NULL;
  g_autofree char *avatar = NULL;
  g_autofree char *data_dir = NULL;
  g_autofree char *config_file = NULL;
  g_autofree char *listen = NULL;
  gboolean link = FALSE;
  int ttl = DEFAULT_TOKEN_TTL;
  const GOptionEntry entries[] = {
    { "user", 'u', 0, G_OPTION_ARG_STRING, &user, "User id (the sub claim), required", "ID" },
    { "name", 'n', 0, G_OPTION_ARG_STRING, &name, "Display name, required", "NAME" },
    { "org", 'o', 0, G_OPTION_ARG_STRING, &org, "Organization id (default \"default\")", "ORG" },
    { "role", 'r', 0, G_OPTION_ARG_STRING, &role_str, "viewer, editor (default) or admin", "ROLE" },
    { "avatar", 'a', 0, G_OPTION_ARG_STRING, &avatar, "Avatar URL", "URL" },
    { "ttl", 't', 0, G_OPTION_ARG_INT, &ttl, "Lifetime in seconds (default 604800, 7 days)",
      "SECONDS" },
    { "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      "Data folder of the hub (where its secret is)", "DIR" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file, "Configuration file of the hub",
      "FILE" },
    { "link", 'l', 0, G_OPTION_ARG_NONE, &link,
      "Print a sign-in link to the web editor, http://HOST:PORT/#token=…", NULL },
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen,
      "With --link: the hub's address (default: [server] listen, else 127.0.0.1:3000)",
      "HOST:PORT" },
    { NULL }
  };
  g_autoptr (GOptionContext) context =
      g_option_context_new ("- print a token the hub accepts (HS256, signed with its secret)");
  g_autoptr (PrdHubConfig) config = NULL;
  g_autoptr (PrdSecretStore) secrets = NULL;
  g_autoptr (PrdIdentity) identity = NULL;
  g_autoptr (PrdAuth) auth = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *token = NULL;
  PrdRole role = PRD_ROLE_EDITOR;

  /* So that --help reads "prdhub token [OPTION…]". */
  g_set_prgname ("prdhub token");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!parse_options (context, &argc, &argv, &error))
    return fail (error);

  if (user == NULL || *user == '\0' || name == NULL)
    {
      g_printerr ("prdhub: token needs --user and --name\n");
      return 1;
    }
  if (role_str != NULL && !prd_role_from_string (role_str, &role))
    {
      g_printerr ("prdhub: --role must be viewer, editor or admin\n");
      return 1;
    }
  if (ttl <= 0 || ttl > MAX_TOKEN_TTL)
    {
      g_printerr ("prdhub: --ttl must be between 1 and %d seconds\n", MAX_TOKEN_TTL);
      return 1;
    }

  if (listen != NULL && !link)
    {
      g_printerr ("prdhub: --listen goes with --link\n");
      return 1;
    }
  config = load_config (config_file, listen, data_dir, NULL, NULL, NULL, NULL, NULL, &error);
  if (config == NULL)
    return fail (error);
  if (link && prd_hub_config_get_server (config)->listen_port == 0)
    {
      g_printerr ("prdhub: --link needs the hub's real port, not 0 (--listen HOST:PORT)\n");
      return 1;
    }
  if (prd_hub_config_get_auth (config)->jwt_public_key != NULL)
    {
      g_printerr ("prdhub: the hub verifies tokens with %s (jwt-public-key); "
                  "mint them with that key's identity provider\n",
                  prd_hub_config_get_auth (config)->jwt_public_key);
      return 1;
    }
  /* The environment's secret wins; no need to wait for a keyring then. */
  if (g_getenv (PRD_HUB_SECRET_ENV) == NULL || *g_getenv (PRD_HUB_SECRET_ENV) == '\0')
    {
      secrets = open_secret_store (config, &error);
      if (secrets == NULL)
        return fail (error);
    }
  auth = prd_hub_create_auth (config, &error);
  if (auth == NULL)
    return fail (error);

  identity = prd_identity_new (user, name, avatar, org != NULL ? org : "default", role,
                               g_get_real_time () / G_USEC_PER_SEC + ttl);
  token = prd_auth_mint (auth, identity, &error);
  if (token == NULL)
    return fail (error);
  if (link)
    {
      g_autofree char *url = web_link (prd_hub_config_get_server (config), token);

      printf ("%s\n", url);
    }
  else
    printf ("%s\n", token);
  fflush (stdout);
  return 0;
}

static gboolean
read_markdown (const char *path, char **out, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autofree char *text = NULL;
  gsize len;

  if (!g_file_get_contents (path, &text, &len, &local_error))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "%s", local_error->message);
      return FALSE;
    }
  if (len > MAX_IMPORT_BYTES)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_PAYLOAD_TOO_LARGE, "%s is larger than %d bytes",
                   path, MAX_IMPORT_BYTES);
      return FALSE;
    }
  if (memchr (text, '\0', len) != NULL || !g_utf8_validate (text, len, NULL))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "%s is not UTF-8 text", path);
      return FALSE;
    }
  *out = g_steal_pointer (&text);
  return TRUE;
}

static int
prd_create (
    PrdStore *store, const char *org, const char *title, const char *owner, const char *file)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *content = NULL;

  if (title == NULL)
    {
      g_printerr ("prdhub: prd create/import needs --title\n");
      return 2;
    }
  if (file != NULL && !read_markdown (file, &content, &error))
    return fail (error);
  prd_hub_create_prd_async (store, org, title, owner, content, NULL, store_result, &result);
  wait_for (&result);
  info = prd_hub_create_prd_finish (result, &error);
  if (info == NULL)
    return fail (error);
  printf ("%s\n", info->id);
  return 0;
}

static int
prd_export (PrdStore *store, const char *id, const char *output)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (PrdStoreDocument) stored = NULL;
  g_autoptr (PrdDocument) document = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;

  if (!prd_store_validate_prd_id (id, &error))
    return fail (error);
  prd_store_load_async (store, id, NULL, store_result, &result);
  wait_for (&result);
  stored = prd_store_load_finish (store, result, &error);
  if (stored == NULL)
    return fail (error);
  document = prd_hub_document_from_store (stored, &error);
  if (document == NULL)
    return fail (error);
  text = prd_crdt_doc_get_text (prd_document_get_crdt (document));
  if (output != NULL)
    {
      if (!g_file_set_contents (output, text, -1, &error))
        return fail (error);
      return 0;
    }
  fputs (text, stdout);
  return 0;
}

static int
prd_list (PrdStore *store, const char *org)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GPtrArray) infos = NULL;
  g_autoptr (GError) error = NULL;

  prd_store_list_async (store, org, NULL, store_result, &result);
  wait_for (&result);
  infos = prd_store_list_finish (store, result, &error);
  if (infos == NULL)
    return fail (error);
  for (guint i = 0; i < infos->len; i++)
    {
      PrdStoreInfo *info = g_ptr_array_index (infos, i);
      g_autofree char *updated = prd_time_format (info->updated_at);

      printf ("%s\t%s\t%s\t%s\n", info->id, info->version, updated, info->title);
    }
  return 0;
}

static int
cmd_prd (int argc, char **argv)
{
  g_autofree char *title = NULL;
  g_autofree char *org = NULL;
  g_autofree char *owner = NULL;
  g_autofree char *file = NULL;
  g_autofree char *output = NULL;
  g_autofree char *data_dir = NULL;
  g_autofree char *config_file = NULL;
  const GOptionEntry entries[] = {
    { "title", 't', 0, G_OPTION_ARG_STRING, &title, "Title (create, import)", "TITLE" },
    { "org", 'o', 0, G_OPTION_ARG_STRING, &org, "Organization (default \"default\")", "ORG" },
    { "owner", 'u', 0, G_OPTION_ARG_STRING, &owner, "Owner user id (default \"hub\")", "USER" },
    { "file", 'f', 0, G_OPTION_ARG_FILENAME, &file, "Initial Markdown content (create)", "FILE" },
    { "output", 'O', 0, G_OPTION_ARG_FILENAME, &output, "Write here instead of stdout (export)",
      "FILE" },
    { "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir, "Data folder of the hub", "DIR" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file, "Configuration file of the hub",
      "FILE" },
    { NULL }
  };
  g_autoptr (GOptionContext) context =
      g_option_context_new ("create|import FILE|export ID|list - manage PRDs");
  g_autoptr (PrdHubConfig) config = NULL;
  g_autoptr (PrdStore) store = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) local_error = NULL;
  const char *action;
  int status;

  g_set_prgname ("prdhub prd");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &local_error))
    {
      g_printerr ("prdhub: %s\n", local_error->message);
      return 2;
    }
  if (argc < 2)
    {
      g_printerr ("prdhub: prd needs an action: create, import, export or list\n");
      return 2;
    }
  action = argv[1];
  if (g_str_equal (action, "create") || g_str_equal (action, "list"))
    {
      if (argc != 2)
        {
          g_printerr ("prdhub: unexpected argument \"%s\"\n", argv[2]);
          return 2;
        }
    }
  else if (g_str_equal (action, "import") || g_str_equal (action, "export"))
    {
      if (argc != 3)
        {
          g_printerr ("prdhub: prd %s needs exactly one %s\n", action,
                      g_str_equal (action, "import") ? "FILE" : "ID");
          return 2;
        }
    }
  else
    {
      g_printerr ("prdhub: unknown prd action \"%s\" (create, import, export, list)\n", action);
      return 2;
    }

  config = load_config (config_file, NULL, data_dir, NULL, NULL, NULL, NULL, NULL, &error);
  if (config == NULL)
    return fail (error);
  store = open_store (config, &error);
  if (store == NULL)
    return fail (error);

  if (g_str_equal (action, "create"))
    status = prd_create (store, org != NULL ? org : "default", title,
                         owner != NULL ? owner : PRD_HUB_SITE_USER, file);
  else if (g_str_equal (action, "import"))
    status = prd_create (store, org != NULL ? org : "default", title,
                         owner != NULL ? owner : PRD_HUB_SITE_USER, argv[2]);
  else if (g_str_equal (action, "export"))
    status = prd_export (store, argv[2], output);
  else
    status = prd_list (store, org != NULL ? org : "default");
  fflush (stdout);
  close_store (store);
  return status;
}

/* The value comes from standard input, never from the command line where
 * ps and the shell history would see it. One trailing newline (as `echo`
 * and a typed line leave) is not part of it. */
static char *
read_secret_value (const char *name, GError **error)
{
  g_autoptr (GString) value = g_string_new (NULL);
  gboolean tty = isatty (STDIN_FILENO);
  struct termios saved, quiet;
  gboolean echo_off = FALSE;
  char buf[4096];
  size_t n;

  if (tty)
    {
      g_printerr ("Value of %s (not echoed): ", name);
      if (tcgetattr (STDIN_FILENO, &saved) == 0)
        {
          quiet = saved;
          quiet.c_lflag &= ~(tcflag_t) ECHO;
          echo_off = tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
        }
      /* A terminal ends the value at the first line. */
      if (fgets (buf, sizeof buf, stdin) != NULL)
        g_string_append (value, buf);
      if (echo_off)
        tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved);
      g_printerr ("\n");
    }
  else
    {
      while ((n = fread (buf, 1, sizeof buf, stdin)) > 0)
        {
          g_string_append_len (value, buf, (gssize) n);
          if (value->len > PRD_SECRET_MAX_VALUE_LENGTH + 2)
            break;
        }
      if (ferror (stdin))
        {
          g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                               "Cannot read the value from standard input");
          return NULL;
        }
    }
  memset (buf, 0, sizeof buf);

  if (value->len > 0 && value->str[value->len - 1] == '\n')
    g_string_truncate (value, value->len - 1);
  if (value->len > 0 && value->str[value->len - 1] == '\r')
    g_string_truncate (value, value->len - 1);
  if (strlen (value->str) != value->len)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "A secret cannot contain NUL bytes");
      return NULL;
    }
  if (!prd_secret_check_value (value->str, error))
    return NULL;
  return g_string_free (g_steal_pointer (&value), FALSE);
}

static int
cmd_secret (int argc, char **argv)
{
  g_autofree char *data_dir = NULL;
  g_autofree char *config_file = NULL;
  const GOptionEntry entries[] = { { "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
                                     "Data folder of the hub", "DIR" },
                                   { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file,
                                     "Configuration file of the hub", "FILE" },
                                   { NULL } };
  g_autoptr (GOptionContext) context =
      g_option_context_new ("set NAME | delete NAME | list - manage the hub's secrets");
  g_autoptr (PrdHubConfig) config = NULL;
  g_autoptr (PrdSecretStore) store = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) parse_error = NULL;
  const char *action;
  const char *name = NULL;

  g_set_prgname ("prdhub secret");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (
      context, "set NAME reads the value from standard input (one trailing newline removed);\n"
               "list prints the names only. Secrets live in the Secret Service, or where none\n"
               "runs, in the owner-only file DIR/secrets.");
  if (!g_option_context_parse (context, &argc, &argv, &parse_error))
    {
      g_printerr ("prdhub: %s\n", parse_error->message);
      return 1;
    }
  if (argc < 2)
    {
      g_printerr ("prdhub: secret needs an action: set NAME, delete NAME or list\n");
      return 1;
    }
  action = argv[1];
  if (g_str_equal (action, "set") || g_str_equal (action, "delete"))
    {
      if (argc != 3)
        {
          g_printerr ("prdhub: secret %s needs exactly one NAME%s\n", action,
                      g_str_equal (action, "set") ? " (the value is read from standard input)"
                                                  : "");
          return 1;
        }
      name = argv[2];
      if (!prd_secret_check_name (name, &error))
        return fail (error);
    }
  else if (g_str_equal (action, "list"))
    {
      if (argc != 2)
        {
          g_printerr ("prdhub: secret list takes no argument\n");
          return 1;
        }
    }
  else
    {
      g_printerr ("prdhub: unknown secret action \"%s\" (set, delete, list)\n", action);
      return 1;
    }

  config = load_config (config_file, NULL, data_dir, NULL, NULL, NULL, NULL, NULL, &error);
  if (config == NULL)
    return fail (error);

  if (g_str_equal (action, "set"))
    {
      g_autofree char *value = read_secret_value (name, &error);

      if (value == NULL)
        return fail (error);
      if (g_str_equal (name, PRD_HUB_SECRET_NAME) && strlen (value) < PRD_AUTH_MIN_SECRET_LENGTH)
        {
          g_printerr ("prdhub: the JWT secret must be at least %d characters long\n",
                      PRD_AUTH_MIN_SECRET_LENGTH);
          return 1;
        }
      store = prd_secret_store_open_default_sync (prd_hub_config_get_server (config)->data_dir,
                                                  NULL, &error);
      if (store == NULL || !prd_secret_store_store_sync (store, name, value, NULL, &error))
        {
          memset (value, 0, strlen (value));
          return fail (error);
        }
      memset (value, 0, strlen (value));
      return 0;
    }

  store = prd_secret_store_open_default_sync (prd_hub_config_get_server (config)->data_dir, NULL,
                                              &error);
  if (store == NULL)
    return fail (error);
  if (g_str_equal (action, "delete"))
    return prd_secret_store_delete_sync (store, name, NULL, &error) ? 0 : fail (error);

  {
    g_auto (GStrv) names = prd_secret_store_list_sync (store, NULL, &error);

    if (names == NULL)
      return fail (error);
    for (guint i = 0; names[i] != NULL; i++)
      printf ("%s\n", names[i]);
    fflush (stdout);
  }
  return 0;
}

static int
cmd_discover (int argc, char **argv)
{
  int timeout = 3;
  const GOptionEntry entries[] = { { "timeout", 't', 0, G_OPTION_ARG_INT, &timeout,
                                     "Seconds to wait for answers (default 3)", "SECONDS" },
                                   { NULL } };
  g_autoptr (GOptionContext) context =
      g_option_context_new ("- list the hubs announced on the LAN (through Avahi)");
  g_autoptr (GPtrArray) hubs = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  g_set_prgname ("prdhub discover");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context, "Prints one line per hub: its name, its URL and its "
                                         "version, separated by tabs.");
  if (!parse_options (context, &argc, &argv, &error))
    return fail (error);
  if (timeout < 1 || timeout > 60)
    {
      g_printerr ("prdhub: --timeout must be between 1 and 60 seconds\n");
      return 1;
    }
  prd_hub_discover_async ((guint) timeout * 1000, NULL, store_result, &result);
  wait_for (&result);
  hubs = prd_hub_discover_finish (result, &error);
  if (hubs == NULL)
    return fail (error);
  for (guint i = 0; i < hubs->len; i++)
    {
      const PrdHubFound *found = g_ptr_array_index (hubs, i);

      printf ("%s\t%s\t%s\n", found->name, found->url,
              found->version != NULL ? found->version : "");
    }
  fflush (stdout);
  return 0;
}

int
main (int argc, char *argv[])
{
  setlocale (LC_ALL, "");
  g_set_prgname ("prdhub");
  g_log_writer_default_set_use_stderr (TRUE);

  if (argc > 1 && argv[1][0] != '-')
    {
      const char *command = argv[1];

      /* Drop the command so GOption sees "prdhub [options]". */
      argv[1] = argv[0];
      if (g_str_equal (command, "serve"))
        return cmd_serve (argc - 1, argv + 1);
      if (g_str_equal (command, "token"))
        return cmd_token (argc - 1, argv + 1);
      if (g_str_equal (command, "prd"))
        return cmd_prd (argc - 1, argv + 1);
      if (g_str_equal (command, "secret"))
        return cmd_secret (argc - 1, argv + 1);
      if (g_str_equal (command, "discover"))
        return cmd_discover (argc - 1, argv + 1);
      g_printerr ("prdhub: unknown command \"%s\" (commands: serve, token, prd, secret, "
                  "discover)\n",
                  command);
      return 1;
    }
  return cmd_serve (argc, argv);
}
