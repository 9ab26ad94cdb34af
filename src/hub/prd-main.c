/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * prdhub: `serve` (the default) runs the hub until SIGINT/SIGTERM; `token`
 * mints a JWT the hub accepts, for handing out to LAN users; `prd` creates,
 * imports, exports and lists PRDs in the hub's data folder (the same SQLite
 * database a running hub uses: WAL lets both work at once); `secret` sets,
 * deletes and lists the hub's credentials in its secret store; `discover` lists
 * the hubs announced on the LAN; `backup` and `restore` (prd-cli-backup.c)
 * copy a data folder and put a copy back.
 *
 * Logs go to stderr (or the journal) so that stdout carries only what
 * scripts read: the one "prdhub listening on URL" line, or the token.
 * `serve` logs at `--log-level` (default info); the other commands log
 * warnings and errors only.
 *
 * Exit status, for every command: 0 success, 1 failure (configuration,
 * data folder, storage, secrets, …), 2 usage error (unknown command, action
 * or option, missing or extra argument, missing or out-of-range option).
 * `prdhub help [COMMAND [ACTION]]` and `--help` anywhere print help on
 * stdout and exit 0.
 */
#define G_LOG_DOMAIN "prd-main"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gstdio.h>

#include "prd-cli.h"
#include "prd-cli-backup.h"
#include "prd-cli-remote.h"
#include "prd-eio-listener.h"
#include "prd-data-check.h"
#include "prd-data-lock.h"
#include "prd-data-swap.h"
#include "prd-error.h"
#include "prd-hub-rest.h"
#include "prd-hub-ai.h"
#include "prd-hub-config-ai.h"
#include "prd-hub-config-collab.h"
#include "prd-hub-config-log.h"
#include "prd-hub-config-server.h"
#include "prd-hub-dbus.h"
#include "prd-hub-discovery.h"
#include "prd-hub-secret.h"
#include "prd-hub-versions.h"
#include "prd-identity-text.h"
#include "prd-hub.h"
#include "prd-integration-registry.h"
#include "prd-json.h"
#include "prd-log.h"
#include "prd-revocation-store.h"
#include "prd-secret-store.h"
#include "prd-sqlite-store.h"
#include "prd-time.h"

#define DEFAULT_TOKEN_TTL (7 * 24 * 3600)
#define MAX_TOKEN_TTL     (366 * 24 * 3600)
#define STORE_FILE        "prdhub.db"
/* Largest Markdown file `prd create --file` / `prd import` accept. */
#define MAX_IMPORT_BYTES (4 * 1024 * 1024)
/* Exit status of a command line that is wrong; 1 is for failures. */
#define EXIT_USAGE PRD_CLI_EXIT_USAGE

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

/* Every command handles --help itself, so that the help can name the
 * command (and the action) rather than the program. */
static gboolean help_requested;

static const GOptionEntry help_entries[] = {
  { "help", 'h', 0, G_OPTION_ARG_NONE, &help_requested, "Show this help", NULL },
  { NULL },
};

/* Prints @context's help as that of @name (`prdhub serve`); returns 0. */
static int
print_help (GOptionContext *context, const char *name)
{
  g_autofree char *saved = g_strdup (g_get_prgname ());
  g_autofree char *text = NULL;

  g_set_prgname (name);
  text = g_option_context_get_help (context, TRUE, NULL);
  g_set_prgname (saved);
  fputs (text, stdout);
  return prd_cli_finish_output (0);
}

/* Parses the options of @command (adding -h/--help); -1 to go on,
 * otherwise the exit status (the usage error printed). */
static int
parse_command_line (GOptionContext *context, const char *command, int *argc, char ***argv)
{
  g_autoptr (GError) error = NULL;

  help_requested = FALSE;
  g_option_context_set_help_enabled (context, FALSE);
  g_option_context_add_main_entries (context, help_entries, NULL);
  if (!g_option_context_parse (context, argc, argv, &error))
    return prd_cli_usage_error (command, "%s", error->message);
  return -1;
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

/* load_config() for the commands other than `serve`: the data folder must
 * exist. A restore interrupted there is finished (or undone) before the
 * command opens its files (prd-data-swap.c). */
static PrdHubConfig *
load_existing_hub_config (const char *config_file, const char *data_dir, GError **error)
{
  g_autoptr (PrdHubConfig) config =
      load_config (config_file, NULL, data_dir, NULL, NULL, NULL, NULL, NULL, error);

  if (config == NULL ||
      !prd_cli_check_data_dir (prd_hub_config_get_server (config)->data_dir, error) ||
      !prd_data_swap_recover (prd_hub_config_get_server (config)->data_dir, NULL, error) ||
      !prd_data_check_files (prd_hub_config_get_server (config)->data_dir, STORE_FILE,
                             PRD_HUB_VERSIONS_REPO, error))
    return NULL;
  return g_steal_pointer (&config);
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

/* A hub the session bus started (D-Bus activation: the bus sets
 * DBUS_STARTER_BUS_TYPE) belongs to that session: when the bus goes, at
 * the end of the session, it stops as for SIGTERM rather than run on with
 * no one to stop it. */
static void
on_bus_closed (PrdHubDbus *dbus, gpointer user_data)
{
  ServeState *state = user_data;

  if (g_strcmp0 (g_getenv ("DBUS_STARTER_BUS_TYPE"), "session") != 0 || state->loop == NULL ||
      state->stopping)
    return;
  g_message ("The session bus that started this hub is gone: stopping");
  state->stopping = TRUE;
  prd_hub_stop (state->hub);
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

/* Makes the data folder if need be and takes it for this hub
 * (prd-data-lock.c): a second hub on it would append over this one's
 * updates. */
static PrdDataLock *
lock_data_dir (PrdHubConfig *config, GError **error)
{
  const char *data_dir = prd_hub_config_get_server (config)->data_dir;
  g_autoptr (PrdDataLock) lock = NULL;

  if (g_mkdir_with_parents (data_dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "Cannot create the data folder %s: %s",
                   data_dir, g_strerror (saved_errno));
      return NULL;
    }
  if (!prd_cli_check_data_dir (data_dir, error))
    return NULL;
  lock = prd_data_lock_acquire (data_dir, error);
  /* A restore interrupted there is finished (or undone) before the hub
   * opens its files (prd-data-swap.c). */
  if (lock == NULL || !prd_data_swap_recover (data_dir, lock, error))
    return NULL;
  /* A database or versions repository gone missing is said before a new
   * one is made in its place. */
  if (!prd_data_check_files (data_dir, STORE_FILE, PRD_HUB_VERSIONS_REPO, error))
    return NULL;
  return g_steal_pointer (&lock);
}

/* The data folder exists and is this hub's (lock_data_dir()). */
static PrdStore *
open_store (PrdHubConfig *config, GError **error)
{
  const char *data_dir = prd_hub_config_get_server (config)->data_dir;
  g_autofree char *path = g_build_filename (data_dir, STORE_FILE, NULL);
  g_autoptr (GAsyncResult) result = NULL;

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

/* The hub before this one on the folder did not let it go (it crashed or
 * was killed), or the folder was restored from a backup: operations that
 * were handed out to joining clients before they were stored may be gone,
 * and a site that went on would number new operations like them (a client
 * that held a lost one would take the new one for it). Every site is
 * retired; editors get new ones, and the SDK re-applies unsent edits. */
static gboolean
retire_sites (PrdStore *store, const char *left_by, const char *data_dir, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  prd_store_retire_sites_async (store, NULL, NULL, store_result, &result);
  wait_for (&result);
  if (!prd_store_retire_sites_finish (store, result, error))
    {
      g_prefix_error (error, "Cannot retire the CRDT sites after an unclean stop: ");
      return FALSE;
    }
  if (g_str_equal (left_by, "restore"))
    g_message ("The data folder %s was restored from a backup: editors of every PRD get new "
               "CRDT sites",
               data_dir);
  else
    g_message ("The hub before this one on %s (process %s) did not mark a clean stop (it "
               "crashed or was killed, or was an older prdhub): editors of every PRD get new CRDT "
               "sites",
               data_dir, left_by);
  return TRUE;
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
 * open-file limit left at 1024 for select() users: the hub polls. Runs
 * before the listener derives its automatic max-connections from the
 * limit. */
static void
raise_open_file_limit (PrdHubServerConfig *server)
{
  struct rlimit limit;
  rlim_t soft;
  guint64 wanted;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0)
    {
      g_warning ("Cannot read the open-file limit: %s", g_strerror (errno));
      return;
    }
  if (limit.rlim_cur < limit.rlim_max)
    {
      soft = limit.rlim_cur;
      limit.rlim_cur = limit.rlim_max;
      if (setrlimit (RLIMIT_NOFILE, &limit) == 0)
        {
          g_info ("Open-file limit raised from %llu to %llu", (unsigned long long) soft,
                  (unsigned long long) limit.rlim_max);
        }
      else
        {
          g_warning ("Cannot raise the open-file limit from %llu to %llu: %s",
                     (unsigned long long) soft, (unsigned long long) limit.rlim_max,
                     g_strerror (errno));
          limit.rlim_cur = soft;
        }
    }

  /* One descriptor per connection, and a reserve for the store, logs and
   * the rest (the listener's automatic max-connections keeps it free). */
  wanted = (guint64) (server->max_connections != 0 ? server->max_connections
                                                   : PRD_EIO_LISTENER_DEFAULT_MAX_CONNECTIONS) +
           PRD_EIO_LISTENER_FD_RESERVE;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted)
    {
      g_autofree char *what =
          server->max_connections != 0
              ? g_strdup_printf ("max-connections = %u", server->max_connections)
              : g_strdup_printf ("the automatic max-connections (%u)",
                                 PRD_EIO_LISTENER_DEFAULT_MAX_CONNECTIONS);

      g_warning ("Open-file limit %llu is below the %" G_GUINT64_FORMAT
                 " descriptors %s needs: fewer connections can be open at once. Raise the hard "
                 "limit: `ulimit -Hn %" G_GUINT64_FORMAT "` (as root) before starting prdhub, or "
                 "LimitNOFILE=%" G_GUINT64_FORMAT " in its systemd unit",
                 (unsigned long long) limit.rlim_cur, wanted, what, wanted, wanted);
    }
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
  g_autofree char *log_level = NULL;
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
    { "log-level", 0, 0, G_OPTION_ARG_STRING, &log_level, "error, warning, info (default) or debug",
      "LEVEL" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Same as --log-level debug", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- run the prdhub server");
  /* Let go of last, after the store is closed. */
  g_autoptr (PrdDataLock) data_lock = NULL;
  g_autoptr (PrdHubConfig) config = NULL;
  g_autoptr (PrdSecretStore) secrets = NULL;
  g_autoptr (PrdAuth) auth = NULL;
  g_autoptr (GTlsCertificate) certificate = NULL;
  g_autoptr (PrdStore) store = NULL;
  g_autoptr (PrdAiProvider) provider = NULL;
  g_autoptr (PrdHub) hub = NULL;
  g_autoptr (PrdHubDbus) dbus = NULL;
  g_autoptr (PrdHubDiscovery) discovery = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *url = NULL;
  ServeState state = { 0 };
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context, "The default command: `prdhub [OPTION…]` is `prdhub serve "
                                         "[OPTION…]`. Other commands: see `prdhub help`.");
  if ((status = parse_command_line (context, "serve", &argc, &argv)) >= 0)
    return status;
  if (help_requested)
    return print_help (context, "prdhub serve");
  if (argc > 1)
    return prd_cli_usage_error ("serve", "unexpected argument \"%s\"", argv[1]);
  if (verbose && log_level != NULL && !g_str_equal (log_level, "debug"))
    return prd_cli_usage_error ("serve", "--verbose is --log-level debug");

  config = load_config (config_file, listen, data_dir, tls_cert, tls_key, jwt_public_key,
                        cors_origins, autosave_interval, &error);
  if (config == NULL)
    return fail (error);
  if ((ai_base_url != NULL &&
       !prd_hub_config_set (config, "ai", "base-url", ai_base_url, &error)) ||
      (ai_model != NULL && !prd_hub_config_set (config, "ai", "model", ai_model, &error)) ||
      (log_level != NULL && !prd_hub_config_set (config, "log", "level", log_level, &error)) ||
      (verbose && !prd_hub_config_set (config, "log", "level", "debug", &error)) ||
      !prd_hub_config_validate (config, &error))
    return fail (error);
  prd_log_set_level (prd_hub_config_get_log (config)->level);
  /* What the configuration names outside the data folder is checked before
   * anything there is made or changed (the folder, its lock, the secrets,
   * an older schema's upgrade): a start refused for it leaves the folder
   * as it was. */
  certificate = prd_hub_load_tls_certificate (config, &error);
  if (certificate == NULL && error != NULL)
    return fail (error);
  if (prd_hub_config_get_auth (config)->jwt_public_key != NULL)
    {
      auth = prd_hub_create_auth (config, &error);
      if (auth == NULL)
        return fail (error);
    }
  /* So is what the environment gives: the JWT secret and the AI key. */
  if (auth == NULL && g_getenv (PRD_HUB_SECRET_ENV) != NULL &&
      *g_getenv (PRD_HUB_SECRET_ENV) != '\0')
    {
      auth = prd_hub_create_auth (config, &error);
      if (auth == NULL)
        return fail (error);
    }
  if (g_getenv ("PRDHUB_AI_API_KEY") != NULL && *g_getenv ("PRDHUB_AI_API_KEY") != '\0')
    {
      provider = open_ai_provider (config, NULL, &error);
      if (provider == NULL && error != NULL)
        return fail (error);
    }
  raise_open_file_limit (prd_hub_config_get_server (config));
  /* Before anything is written there: the secret store may make files. */
  data_lock = lock_data_dir (config, &error);
  if (data_lock == NULL)
    return fail (error);
  secrets = open_secret_store (config, &error);
  if (secrets == NULL)
    return fail (error);
  if (provider == NULL)
    provider = open_ai_provider (config, secrets, &error);
  if (provider == NULL && error != NULL)
    return fail (error);
  /* The hub's own secret, in the data folder, when no public key is set. */
  if (auth == NULL)
    {
      auth = prd_hub_create_auth (config, &error);
      if (auth == NULL)
        return fail (error);
    }

  store = open_store (config, &error);
  if (store == NULL)
    return fail (error);
  if (prd_data_lock_get_left_by (data_lock) != NULL)
    {
      if (!retire_sites (store, prd_data_lock_get_left_by (data_lock),
                         prd_hub_config_get_server (config)->data_dir, &error))
        {
          close_store (store);
          return fail (error);
        }
      prd_data_lock_forget_left_by (data_lock);
    }
  hub = prd_hub_new (config, auth);
  prd_hub_set_secret_store (hub, secrets);
  prd_hub_set_tls_certificate (hub, certificate);
  if (!start_hub (hub, store, &error))
    {
      close_store (store);
      return fail (error);
    }
  prd_hub_set_ai_provider (hub, provider);
  /* The handlers are in place before the "listening" line: a supervisor or
   * script that reads it and stops the hub at once gets a clean stop, not
   * the default action of SIGTERM. */
  loop = g_main_loop_new (NULL, FALSE);
  state.loop = loop;
  state.hub = hub;
  g_signal_connect (hub, "stopped", G_CALLBACK (on_stopped), &state);
  /* A file size limit (RLIMIT_FSIZE) makes a write fail with EFBIG, which
   * the store reports as STORAGE_ERROR like a full disk, instead of
   * killing the hub. */
  signal (SIGXFSZ, SIG_IGN);
  g_unix_signal_add (SIGINT, on_signal, &state);
  g_unix_signal_add (SIGTERM, on_signal, &state);
  if (!prd_hub_listen (hub, &error))
    {
      /* The address is taken, say: the store is closed as on a stop. */
      g_clear_object (&hub);
      close_store (store);
      return fail (error);
    }

  url = prd_hub_get_url (hub);
  printf ("prdhub listening on %s\n", url);
  fflush (stdout);
  discovery = new_discovery (hub, config);
  prd_hub_discovery_start (discovery);
  if (!no_dbus)
    {
      dbus = prd_hub_dbus_new (hub);
      prd_hub_dbus_set_discovery (dbus, discovery);
      g_signal_connect (dbus, "bus-closed", G_CALLBACK (on_bus_closed), &state);
      prd_hub_dbus_start (dbus);
    }

  g_main_loop_run (loop);

  /* The handlers stay installed until the process exits: removing them
   * restores the default action, and a repeated SIGTERM from a supervisor
   * would then kill a clean shutdown half-way. Signals that arrive from now
   * on find no loop and are ignored. */
  state.loop = NULL;
  state.hub = NULL;
  if (prd_hub_room_registry_get_writes_lost (prd_hub_get_rooms (hub)))
    {
      g_message ("Some edits could not be stored in this run: the next start gives editors of "
                 "every PRD new CRDT sites");
      prd_data_lock_leave_unclean (data_lock);
    }
  g_clear_object (&dbus);
  g_clear_object (&discovery);
  g_clear_object (&hub);
  /* Waits for the store's last commits (signals are ignored meanwhile). */
  close_store (store);
  return 0;
}

/* A usage error (its exit status) when @value of @option (an organization
 * or a user id) is not what a token's `org` or `sub` may be; -1 when it is,
 * or is not given. */
static int
check_identity_option (const char *command, const char *option, const char *value)
{
  const char *why;

  if (value == NULL)
    return -1;
  why = prd_identity_text_check (value, PRD_AUTH_MAX_ID_BYTES, TRUE, TRUE);
  if (why == NULL)
    return -1;
  if (strlen (value) > PRD_AUTH_MAX_ID_BYTES)
    return prd_cli_usage_error (command, "%s %s (at most %d bytes)", option, why,
                                PRD_AUTH_MAX_ID_BYTES);
  return prd_cli_usage_error (command, "%s %s", option, why);
}

/* Returns once this machine's wall clock has passed @second (seconds since
 * the epoch). A revocation covers the tokens issued at or before its second
 * (`iat` counts whole seconds), so a token minted in that second after the
 * revocation would be refused for its whole life: once `token revoke` has
 * returned, every token minted here carries a later `iat`. Waits at most
 * about a second of the monotonic clock, whatever the wall clock does. */
static void
wait_until_second_passed (gint64 second)
{
  gint64 deadline = (second + 1) * G_USEC_PER_SEC;
  gint64 give_up = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  gint64 left;

  while ((left = deadline - g_get_real_time ()) > 0 && g_get_monotonic_time () < give_up)
    g_usleep (MIN (left, G_USEC_PER_SEC));
}

/* prdhub token revoke: recorded in the store; a running hub reads it within
 * [auth] revocation-check-interval and disconnects the user's sessions. It
 * returns once the second it revoked at has passed. */
static int
cmd_token_revoke (int argc, char **argv)
{
  g_autofree char *user = NULL;
  g_autofree char *org = NULL;
  g_autofree char *data_dir = NULL;
  g_autofree char *config_file = NULL;
  const GOptionEntry entries[] = {
    { "user", 'u', 0, G_OPTION_ARG_STRING, &user, "User id (the sub claim), required", "ID" },
    { "org", 'o', 0, G_OPTION_ARG_STRING, &org, "Organization id (default \"default\")", "ORG" },
    { "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir, "Data folder of the hub", "DIR" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file, "Configuration file of the hub",
      "FILE" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "- revoke every token of a user issued until now (open connections included)");
  g_autoptr (PrdHubConfig) config = NULL;
  g_autoptr (PrdStore) store = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *when = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gboolean ok;

  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  if ((status = parse_command_line (context, "token", &argc, &argv)) >= 0)
    return status;
  if (help_requested)
    return print_help (context, "prdhub token revoke");
  if (argc > 1)
    return prd_cli_usage_error ("token", "unexpected argument \"%s\"", argv[1]);
  if (user == NULL || *user == '\0')
    return prd_cli_usage_error ("token", "token revoke needs --user");
  if ((status = check_identity_option ("token", "--user", user)) >= 0 ||
      (status = check_identity_option ("token", "--org", org)) >= 0)
    return status;
  config = load_existing_hub_config (config_file, data_dir, &error);
  if (config == NULL)
    return fail (error);
  store = open_store (config, &error);
  if (store == NULL)
    return fail (error);
  prd_revocation_store_revoke_async (PRD_REVOCATION_STORE (store), org != NULL ? org : "default",
                                     user, now, NULL, store_result, &result);
  wait_for (&result);
  ok = prd_revocation_store_revoke_finish (PRD_REVOCATION_STORE (store), result, &error);
  close_store (store);
  if (!ok)
    return fail (error);
  wait_until_second_passed (now);
  when = prd_time_format (now * G_USEC_PER_SEC);
  printf ("Revoked the tokens of %s (organization %s) issued until %s; a running hub "
          "disconnects their sessions within %u s\n",
          user, org != NULL ? org : "default", when,
          prd_hub_config_get_auth (config)->revocation_check_interval);
  return prd_cli_finish_output (0);
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
      "Print a sign-in link to the web editor, http://HOST:PORT/#token=…, that signs in once",
      NULL },
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
  int status;

  if (argc > 1 && g_str_equal (argv[1], "revoke"))
    {
      argv[1] = argv[0];
      return cmd_token_revoke (argc - 1, argv + 1);
    }
  g_option_context_add_main_entries (context, entries, NULL);
  if ((status = parse_command_line (context, "token", &argc, &argv)) >= 0)
    return status;
  if (help_requested)
    return print_help (context, "prdhub token");
  if (argc > 1)
    return prd_cli_usage_error ("token", "unexpected argument \"%s\"", argv[1]);
  if (user == NULL || *user == '\0' || name == NULL || *name == '\0')
    return prd_cli_usage_error ("token", "token needs --user and --name");
  if (role_str != NULL && !prd_role_from_string (role_str, &role))
    return prd_cli_usage_error ("token", "--role must be viewer, editor or admin");
  if (ttl <= 0 || ttl > MAX_TOKEN_TTL)
    return prd_cli_usage_error ("token", "--ttl must be between 1 and %d seconds", MAX_TOKEN_TTL);
  if (listen != NULL && !link)
    return prd_cli_usage_error ("token", "--listen goes with --link");
  /* The hub's rule for a token's claims: a value it refuses is one out of
   * range of its option. */
  if (!prd_identity_check_claims (user, name, org != NULL ? org : "default", avatar, &error))
    return prd_cli_usage_error ("token", "%s", error->message);

  config = load_existing_hub_config (config_file, data_dir, &error);
  if (config == NULL ||
      (listen != NULL && !prd_hub_config_set (config, "server", "listen", listen, &error)))
    return fail (error);
  if (link && prd_hub_config_get_server (config)->listen_port == 0)
    return prd_cli_usage_error ("token",
                                "--link needs the hub's real port, not 0 (--listen HOST:PORT)");
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
  /* A link's token opens the link once and nothing else (prd_auth_mint_link()). */
  token =
      link ? prd_auth_mint_link (auth, identity, &error) : prd_auth_mint (auth, identity, &error);
  if (token == NULL)
    return fail (error);
  if (link)
    {
      g_autofree char *url = web_link (prd_hub_config_get_server (config), token);

      printf ("%s\n", url);
    }
  else
    printf ("%s\n", token);
  return prd_cli_finish_output (0);
}

/* Reads no more than one byte past the limit, so that an endless input
 * (/dev/zero, a FIFO, standard input) or a huge file is refused without
 * being held in memory. */
static gboolean
read_markdown (const char *path, char **out, GError **error)
{
  g_autofree char *text = g_malloc (MAX_IMPORT_BYTES + 2);
  gsize len = 0;
  int fd;

  fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "Cannot open %s: %s", path,
                   g_strerror (saved_errno));
      return FALSE;
    }
  while (len <= MAX_IMPORT_BYTES)
    {
      ssize_t n = read (fd, text + len, MAX_IMPORT_BYTES + 1 - len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;

          close (fd);
          g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "Cannot read %s: %s", path,
                       g_strerror (saved_errno));
          return FALSE;
        }
      if (n == 0)
        break;
      len += (gsize) n;
    }
  close (fd);
  if (len > MAX_IMPORT_BYTES)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_PAYLOAD_TOO_LARGE, "%s is larger than %d bytes",
                   path, MAX_IMPORT_BYTES);
      return FALSE;
    }
  text[len] = '\0';
  if (memchr (text, '\0', len) != NULL || !g_utf8_validate (text, len, NULL))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "%s is not UTF-8 text", path);
      return FALSE;
    }
  *out = g_steal_pointer (&text);
  return TRUE;
}

static int
prd_create (PrdStore *store,
            const char *org,
            const char *title,
            const char *owner,
            const char *file,
            guint max_length)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (PrdStoreInfo) info = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *content = NULL;

  if (file != NULL && !read_markdown (file, &content, &error))
    return fail (error);
  if (!prd_hub_check_content_size (content, max_length, &error))
    return fail (error);
  prd_hub_create_prd_async (store, org, title, owner, content, NULL, store_result, &result);
  wait_for (&result);
  info = prd_hub_create_prd_finish (result, &error);
  if (info == NULL)
    return fail (error);
  printf ("%s\n", info->id);
  return 0;
}

/* What `prd export --output PATH` writes to: PATH when it is a regular file
 * or names none yet, else, when it is a symbolic link, what the link leads
 * to (so that the link stays a link and its target gets the text). Anything
 * else (a FIFO, a device, a folder, a socket) is refused: the file is
 * replaced whole (written beside it, then renamed over it), which would put
 * a regular file in the place of the FIFO or the device. */
static char *
resolve_export_output (const char *path, GError **error)
{
  g_autofree char *current = g_strdup (path);

  /* As many links as the kernel follows (MAXSYMLINKS). */
  for (guint hops = 0; hops <= 40; hops++)
    {
      GStatBuf st;
      g_autofree char *target = NULL;

      if (g_lstat (current, &st) != 0)
        {
          int saved_errno = errno;

          if (saved_errno == ENOENT)
            return g_steal_pointer (&current);
          g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "Cannot write %s: %s", path,
                       g_strerror (saved_errno));
          return NULL;
        }
      if (S_ISREG (st.st_mode))
        return g_steal_pointer (&current);
      if (!S_ISLNK (st.st_mode))
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                       "Cannot write %s: it is not a regular file (--output writes a file; to "
                       "send the text to a pipe or a device, leave --output out and redirect "
                       "standard output)",
                       path);
          return NULL;
        }
      target = g_file_read_link (current, error);
      if (target == NULL)
        return NULL;
      if (!g_path_is_absolute (target))
        {
          g_autofree char *dir = g_path_get_dirname (current);

          g_free (current);
          current = g_build_filename (dir, target, NULL);
        }
      else
        {
          g_free (current);
          current = g_steal_pointer (&target);
        }
    }
  g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "Cannot write %s: %s", path,
               g_strerror (ELOOP));
  return NULL;
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
      g_autofree char *path = resolve_export_output (output, &error);

      if (path == NULL || !g_file_set_contents (path, text, -1, &error))
        return fail (error);
      return 0;
    }
  fputs (text, stdout);
  return 0;
}

/* What `prd list --archived` selects, as `GET /api/prds?archived=`. */
typedef enum
{
  LIST_ACTIVE,
  LIST_ARCHIVED,
  LIST_ALL,
} ListWhich;

static int
prd_list (PrdStore *store, const char *org, ListWhich which)
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
      g_autofree char *updated = NULL;

      if (which != LIST_ALL && (info->archived_at != 0) != (which == LIST_ARCHIVED))
        continue;
      updated = prd_time_format (info->updated_at);
      printf ("%s\t%s\t%s\t%s\n", info->id, info->version, updated, info->title);
    }
  return 0;
}

/* One action of a command with actions (`prd`, `secret`): its arguments,
 * what it does, and the long names of the options it reads (besides
 * --data-dir and --config). */
typedef struct
{
  const char *name;
  const char *arguments; /* the positional arguments after the action */
  guint n_arguments;
  const char *summary;
  const char *const options[6];
} ActionHelp;

static const ActionHelp prd_actions[] = {
  { "create", "", 0, "Create a PRD and print its id.", { "title", "org", "owner", "file" } },
  { "import",
    "FILE",
    1,
    "Create a PRD from the Markdown FILE and print its id.",
    { "title", "org", "owner" } },
  { "export",
    "ID",
    1,
    "Print the text of PRD ID as Markdown, or write it to --output FILE: a regular file "
    "(replaced whole) or the file a symbolic link leads to (the link stays); a FIFO, a "
    "device or a folder is refused (redirect standard output to those).",
    { "output" } },
  { "list",
    "",
    0,
    "List the PRDs of an organization that are not archived (--archived=true: the "
    "archived ones, --archived=all: both): id, version, last update and title "
    "(tab-separated).",
    { "org", "archived" } },
};

/* The actions of `prd` that go through the running hub (prd-cli-remote.c),
 * named in the usage errors of the others. */
static const char *const prd_remote_actions[] = { "rename", "archive", "unarchive",
                                                  "delete", "version", NULL };

static const ActionHelp secret_actions[] = {
  { "set",
    "NAME",
    1,
    "Store the secret NAME; its value is read from standard input (not echoed on a terminal; "
    "one trailing newline removed).",
    { NULL } },
  { "delete", "NAME", 1, "Delete the secret NAME.", { NULL } },
  { "list", "", 0, "Print the names of the hub's secrets (never their values).", { NULL } },
};

static const ActionHelp *
find_action (const ActionHelp *actions, gsize n_actions, const char *name)
{
  for (gsize i = 0; i < n_actions; i++)
    if (g_str_equal (actions[i].name, name))
      return &actions[i];
  return NULL;
}

/* "create, import, export or list": the names of @actions, then those of
 * @more (nullable, %NULL-terminated), actions of the command handled
 * elsewhere. */
static char *
action_names (const ActionHelp *actions, gsize n_actions, const char *const *more)
{
  g_autoptr (GString) names = g_string_new (NULL);
  gsize n_more = more != NULL ? g_strv_length ((char **) more) : 0;
  gsize n = n_actions + n_more;

  for (gsize i = 0; i < n; i++)
    g_string_append_printf (names, "%s%s",
                            i == 0       ? ""
                            : i + 1 == n ? " or "
                                         : ", ",
                            i < n_actions ? actions[i].name : more[i - n_actions]);
  return g_string_free (g_steal_pointer (&names), FALSE);
}

/* The help of `prdhub COMMAND ACTION`: its arguments, what it does and only
 * the options it reads. */
static int
print_action_help (const char *command, const ActionHelp *action, const GOptionEntry *entries)
{
  g_autofree char *parameters = g_strdup_printf (
      "%s%s%s", action->name, *action->arguments != '\0' ? " " : "", action->arguments);
  g_autoptr (GOptionContext) context = g_option_context_new (parameters);
  g_autoptr (GArray) used = g_array_new (TRUE, TRUE, sizeof (GOptionEntry));
  g_autofree char *name = g_strdup_printf ("prdhub %s", command);

  for (const GOptionEntry *e = entries; e->long_name != NULL; e++)
    {
      gboolean wanted =
          g_str_equal (e->long_name, "data-dir") || g_str_equal (e->long_name, "config");

      for (guint i = 0; i < G_N_ELEMENTS (action->options) && action->options[i] != NULL; i++)
        wanted = wanted || g_str_equal (e->long_name, action->options[i]);
      if (wanted)
        g_array_append_val (used, *e);
    }
  g_option_context_set_help_enabled (context, FALSE);
  g_option_context_add_main_entries (context, (const GOptionEntry *) used->data, NULL);
  g_option_context_add_main_entries (context, help_entries, NULL);
  g_option_context_set_summary (context, action->summary);
  return print_help (context, name);
}

/* After parsing `prdhub COMMAND [ACTION [ARG…]]`: -1 when @argv holds a
 * known action with its arguments (in *@action), otherwise the exit status
 * (help printed, or the usage error, which names @actions and
 * @more_actions). */
static int
check_action (const char *command,
              GOptionContext *context,
              const GOptionEntry *entries,
              const ActionHelp *actions,
              gsize n_actions,
              const char *const *more_actions,
              int argc,
              char **argv,
              const ActionHelp **action)
{
  g_autofree char *names = action_names (actions, n_actions, more_actions);
  g_autofree char *help_name = g_strdup_printf ("prdhub %s", command);

  if (argc < 2)
    {
      if (help_requested)
        return print_help (context, help_name);
      return prd_cli_usage_error (command, "%s needs an action: %s", command, names);
    }
  *action = find_action (actions, n_actions, argv[1]);
  if (*action == NULL)
    return prd_cli_usage_error (command, "unknown %s action \"%s\" (%s)", command, argv[1], names);
  if (help_requested)
    return print_action_help (command, *action, entries);
  if ((guint) argc - 2 != (*action)->n_arguments)
    {
      if ((*action)->n_arguments == 0)
        return prd_cli_usage_error (command, "%s %s takes no argument", command, (*action)->name);
      return prd_cli_usage_error (command, "%s %s needs exactly one %s", command, (*action)->name,
                                  (*action)->arguments);
    }
  return -1;
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
  g_autofree char *archived = NULL;
  const GOptionEntry entries[] = {
    { "title", 't', 0, G_OPTION_ARG_STRING, &title, "Title (create, import)", "TITLE" },
    { "org", 'o', 0, G_OPTION_ARG_STRING, &org, "Organization (default \"default\")", "ORG" },
    { "owner", 'u', 0, G_OPTION_ARG_STRING, &owner, "Owner user id (default \"hub\")", "USER" },
    { "file", 'f', 0, G_OPTION_ARG_FILENAME, &file, "Initial Markdown content (create)", "FILE" },
    { "output", 'O', 0, G_OPTION_ARG_FILENAME, &output,
      "Write to this regular file instead of stdout (export)", "FILE" },
    { "archived", 'a', 0, G_OPTION_ARG_STRING, &archived,
      "Which PRDs: false (default, those not archived), true (archived) or all (list)", "WHICH" },
    { "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir, "Data folder of the hub", "DIR" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file, "Configuration file of the hub",
      "FILE" },
    { NULL }
  };
  g_autoptr (GOptionContext) context =
      g_option_context_new ("create|import FILE|export ID|list|rename ID|archive ID|unarchive "
                            "ID|delete ID|version ID - manage PRDs");
  g_autoptr (PrdHubConfig) config = NULL;
  g_autoptr (PrdStore) store = NULL;
  g_autoptr (GError) error = NULL;
  const ActionHelp *action = NULL;
  ListWhich which = LIST_ACTIVE;
  int status;

  /* rename, archive, unarchive, delete, version: through the running hub */
  if (argc > 1 && prd_cli_remote_handles (argv[1]))
    return prd_cli_remote_prd (argc, argv);
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (
      context, "create, import, export and list work on the data folder (list leaves archived\n"
               "PRDs out unless --archived); rename, archive, unarchive, delete and version go\n"
               "through the running hub. `prdhub help prd ACTION` describes one action.");
  if ((status = parse_command_line (context, "prd", &argc, &argv)) >= 0)
    return status;
  if ((status = check_action ("prd", context, entries, prd_actions, G_N_ELEMENTS (prd_actions),
                              prd_remote_actions, argc, argv, &action)) >= 0)
    return status;
  if ((g_str_equal (action->name, "create") || g_str_equal (action->name, "import")) &&
      title == NULL)
    return prd_cli_usage_error ("prd", "prd %s needs --title", action->name);
  if (archived == NULL || g_str_equal (archived, "false"))
    which = LIST_ACTIVE;
  else if (g_str_equal (archived, "true"))
    which = LIST_ARCHIVED;
  else if (g_str_equal (archived, "all"))
    which = LIST_ALL;
  else
    return prd_cli_usage_error ("prd", "--archived must be false, true or all");
  /* Only what a token can carry: a PRD of another organization or owner
   * would be one no user can open. */
  if ((status = check_identity_option ("prd", "--org", org)) >= 0 ||
      (status = check_identity_option ("prd", "--owner", owner)) >= 0)
    return status;

  config = load_existing_hub_config (config_file, data_dir, &error);
  if (config == NULL)
    return fail (error);
  store = open_store (config, &error);
  if (store == NULL)
    return fail (error);

  if (g_str_equal (action->name, "create"))
    status = prd_create (store, org != NULL ? org : "default", title,
                         owner != NULL ? owner : PRD_HUB_SITE_USER, file,
                         prd_hub_config_get_collab (config)->max_document_size);
  else if (g_str_equal (action->name, "import"))
    status = prd_create (store, org != NULL ? org : "default", title,
                         owner != NULL ? owner : PRD_HUB_SITE_USER, argv[2],
                         prd_hub_config_get_collab (config)->max_document_size);
  else if (g_str_equal (action->name, "export"))
    status = prd_export (store, argv[2], output);
  else
    status = prd_list (store, org != NULL ? org : "default", which);
  /* A PRD created whose id could not be printed is still there (`prd list`). */
  status = prd_cli_finish_output (status);
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
  const ActionHelp *action = NULL;
  const char *name = NULL;
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (
      context, "set NAME reads the value from standard input (one trailing newline removed);\n"
               "list prints the names only. Secrets live in the Secret Service, or where none\n"
               "runs, in the owner-only file DIR/secrets. `prdhub help secret ACTION` describes\n"
               "one action.");
  if ((status = parse_command_line (context, "secret", &argc, &argv)) >= 0)
    return status;
  if ((status = check_action ("secret", context, entries, secret_actions,
                              G_N_ELEMENTS (secret_actions), NULL, argc, argv, &action)) >= 0)
    return status;
  if (action->n_arguments == 1)
    {
      name = argv[2];
      if (!prd_secret_check_name (name, &error))
        return prd_cli_usage_error ("secret", "%s", error->message);
    }

  config = load_existing_hub_config (config_file, data_dir, &error);
  if (config == NULL)
    return fail (error);

  if (g_str_equal (action->name, "set"))
    {
      g_autofree char *value = read_secret_value (name, &error);

      if (value == NULL)
        return fail (error);
      if (g_str_equal (name, PRD_HUB_SECRET_NAME) && strlen (value) < PRD_AUTH_MIN_SECRET_LENGTH)
        {
          g_printerr ("prdhub: the JWT secret must be at least %d bytes long\n",
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
  if (g_str_equal (action->name, "delete"))
    return prd_secret_store_delete_sync (store, name, NULL, &error) ? 0 : fail (error);

  {
    g_auto (GStrv) names = prd_secret_store_list_sync (store, NULL, &error);

    if (names == NULL)
      return fail (error);
    for (guint i = 0; names[i] != NULL; i++)
      printf ("%s\n", names[i]);
  }
  return prd_cli_finish_output (0);
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
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context, "Prints one line per hub: its name, its URL and its "
                                         "version, separated by tabs.");
  if ((status = parse_command_line (context, "discover", &argc, &argv)) >= 0)
    return status;
  if (help_requested)
    return print_help (context, "prdhub discover");
  if (argc > 1)
    return prd_cli_usage_error ("discover", "unexpected argument \"%s\"", argv[1]);
  if (timeout < 1 || timeout > 60)
    return prd_cli_usage_error ("discover", "--timeout must be between 1 and 60 seconds");
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
  return prd_cli_finish_output (0);
}

/* ---- integration ---- */

static void
print_json (JsonNode *node)
{
  g_autofree char *text = prd_json_to_string (node);

  printf ("%s\n", text);
}

/* A service's settings as the CLI prints them: the REST object plus its
 * organization. */
static JsonObject *
entry_to_json (PrdIntegrationRegistry *registry, PrdIntegrationEntry *entry)
{
  JsonObject *object = prd_integration_entry_to_json (registry, entry);

  json_object_set_string_member (object, "organizationId", entry->org);
  return object;
}

static int
integration_list (PrdIntegrationRegistry *registry, const char *org)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GPtrArray) entries = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_ARRAY);
  JsonArray *array = json_array_new ();

  json_node_take_array (node, array);
  prd_integration_registry_list_async (registry, org, NULL, store_result, &result);
  wait_for (&result);
  entries = prd_integration_registry_list_finish (registry, result, &error);
  if (entries == NULL)
    return fail (error);
  for (guint i = 0; i < entries->len; i++)
    {
      json_array_add_object_element (array,
                                     entry_to_json (registry, g_ptr_array_index (entries, i)));
    }
  print_json (node);
  return 0;
}

static int
integration_put (PrdIntegrationRegistry *registry,
                 const char *org,
                 const char *service,
                 JsonObject *input)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (PrdIntegrationEntry) entry = NULL;
  g_autoptr (GError) error = NULL;

  prd_integration_registry_put_async (registry, org, service, input, FALSE, NULL, store_result,
                                      &result);
  wait_for (&result);
  entry = prd_integration_registry_put_finish (registry, result, NULL, &error);
  if (entry == NULL)
    return fail (error);
  g_info ("%s (%s): settings changed on the command line", service, org);
  {
    g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);

    json_node_take_object (node, entry_to_json (registry, entry));
    print_json (node);
  }
  return 0;
}

static int
integration_set (PrdIntegrationRegistry *registry,
                 const char *org,
                 const char *service,
                 char **pairs,
                 int n_pairs)
{
  g_autoptr (JsonObject) input = json_object_new ();
  const PrdIntegrationKey *keys;
  gsize n_keys;

  keys = prd_integration_registry_get_schema (registry, service, &n_keys);
  if (keys == NULL)
    {
      g_printerr ("prdhub: no integration service \"%s\"\n", service);
      return 1;
    }
  if (n_pairs == 0)
    {
      g_printerr ("prdhub: integration set needs KEY=VALUE arguments\n");
      return 1;
    }
  for (int i = 0; i < n_pairs; i++)
    {
      const char *eq = strchr (pairs[i], '=');
      g_autofree char *name = NULL;
      const PrdIntegrationKey *key;
      g_autoptr (GError) error = NULL;
      JsonNode *value = NULL;

      if (eq == NULL || eq == pairs[i])
        {
          g_printerr ("prdhub: \"%s\" is not KEY=VALUE\n", pairs[i]);
          return 1;
        }
      name = g_strndup (pairs[i], (gsize) (eq - pairs[i]));
      key = prd_integration_schema_lookup (keys, n_keys, name);
      if (key != NULL && key->secret)
        {
          g_printerr ("prdhub: %s is a secret: set it with `prdhub integration secret %s %s` "
                      "(the value is read from standard input)\n",
                      name, service, name);
          return 1;
        }
      if (key == NULL)
        {
          g_autoptr (JsonObject) probe = json_object_new ();
          g_autoptr (JsonObject) settings = NULL;
          g_autoptr (GHashTable) secrets = NULL;

          /* The schema says why (and which keys there are). */
          json_object_set_string_member (probe, name, eq + 1);
          if (!prd_integration_schema_apply (keys, n_keys, NULL, probe, FALSE, &settings, &secrets,
                                             NULL, &error))
            return fail (error);
        }
      if (*(eq + 1) == '\0')
        value = json_node_new (JSON_NODE_NULL);
      else if (!prd_integration_schema_parse_value (key, eq + 1, &value, &error))
        return fail (error);
      json_object_set_member (input, name, value);
    }
  return integration_put (registry, org, service, input);
}

static int
integration_secret (PrdIntegrationRegistry *registry,
                    const char *org,
                    const char *service,
                    const char *name)
{
  g_autoptr (JsonObject) input = json_object_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *value = NULL;
  const PrdIntegrationKey *keys, *key;
  gsize n_keys;
  int status;

  keys = prd_integration_registry_get_schema (registry, service, &n_keys);
  if (keys == NULL)
    {
      g_printerr ("prdhub: no integration service \"%s\"\n", service);
      return 1;
    }
  key = prd_integration_schema_lookup (keys, n_keys, name);
  if (key == NULL || !key->secret)
    {
      g_printerr ("prdhub: %s is not a secret of %s\n", name, service);
      return 1;
    }
  value = read_secret_value (name, &error);
  if (value == NULL)
    return fail (error);
  json_object_set_string_member (input, name, value);
  memset (value, 0, strlen (value));
  status = integration_put (registry, org, service, input);
  {
    JsonNode *node = json_object_get_member (input, name);
    char *copy = (char *) json_node_get_string (node);

    memset (copy, 0, strlen (copy));
  }
  return status;
}

static int
integration_remove (PrdIntegrationRegistry *registry, const char *org, const char *service)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  prd_integration_registry_remove_async (registry, org, service, NULL, store_result, &result);
  wait_for (&result);
  if (!prd_integration_registry_remove_finish (registry, result, &error))
    return fail (error);
  return 0;
}

static const ActionHelp integration_actions[] = {
  { "list",
    "",
    0,
    "Print the integrations as JSON: of one organization with --org (every service, "
    "configured or not), else every configured one. Secrets show only as <key>Set.",
    { "org" } },
  { "set",
    "SERVICE KEY=VALUE…",
    1,
    "Set settings of SERVICE (KEY= resets a key to its default). Secrets are refused here: "
    "use `prdhub integration secret`.",
    { "org" } },
  { "secret",
    "SERVICE NAME",
    2,
    "Store the secret NAME of SERVICE; its value is read from standard input (not echoed on a "
    "terminal; one trailing newline removed; an empty value removes it).",
    { "org" } },
  { "remove",
    "SERVICE",
    1,
    "Forget SERVICE's settings, secrets and links for the organization.",
    { "org" } },
};

/* Settings go into the data folder's SQLite database and secrets into the
 * secret store, where a running hub reads them before each use. */
static int
cmd_integration (int argc, char **argv)
{
  g_autofree char *org = NULL;
  g_autofree char *data_dir = NULL;
  g_autofree char *config_file = NULL;
  const GOptionEntry entries[] = {
    { "org", 'o', 0, G_OPTION_ARG_STRING, &org,
      "Organization (default \"default\"; list: every one when omitted)", "ORG" },
    { "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir, "Data folder of the hub", "DIR" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file, "Configuration file of the hub",
      "FILE" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "list | set SERVICE KEY=VALUE… | secret SERVICE NAME | remove SERVICE - configure "
      "integrations");
  g_autoptr (PrdHubConfig) config = NULL;
  g_autoptr (PrdStore) store = NULL;
  g_autoptr (PrdSecretStore) secrets = NULL;
  g_autoptr (PrdIntegrationRegistry) registry = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *names = NULL;
  const ActionHelp *action;
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (
      context, "A running hub uses the new settings from its next use of the service.\n"
               "`prdhub help integration ACTION` describes one action.");
  if ((status = parse_command_line (context, "integration", &argc, &argv)) >= 0)
    return status;
  names = action_names (integration_actions, G_N_ELEMENTS (integration_actions), NULL);
  if (argc < 2)
    {
      if (help_requested)
        return print_help (context, "prdhub integration");
      return prd_cli_usage_error ("integration", "integration needs an action: %s", names);
    }
  action = find_action (integration_actions, G_N_ELEMENTS (integration_actions), argv[1]);
  if (action == NULL)
    return prd_cli_usage_error ("integration", "unknown integration action \"%s\" (%s)", argv[1],
                                names);
  if (help_requested)
    return print_action_help ("integration", action, entries);
  /* set takes KEY=VALUE… after its SERVICE; the others exactly their arguments. */
  if (g_str_equal (action->name, "set") ? argc < 4 : (guint) argc - 2 != action->n_arguments)
    return prd_cli_usage_error ("integration", "usage: prdhub integration %s %s", action->name,
                                action->arguments);

  config = load_existing_hub_config (config_file, data_dir, &error);
  if (config == NULL)
    return fail (error);
  store = open_store (config, &error);
  if (store == NULL)
    return fail (error);
  secrets = prd_secret_store_open_default_sync (prd_hub_config_get_server (config)->data_dir, NULL,
                                                &error);
  if (secrets == NULL)
    {
      close_store (store);
      return fail (error);
    }
  registry = prd_integration_registry_new (PRD_INTEGRATION_STORE (store), secrets);
  prd_hub_add_integration_services (registry, config);

  if (g_str_equal (action->name, "list"))
    status = integration_list (registry, org);
  else if (g_str_equal (action->name, "set"))
    status = integration_set (registry, org != NULL ? org : "default", argv[2], argv + 3, argc - 3);
  else if (g_str_equal (action->name, "secret"))
    status = integration_secret (registry, org != NULL ? org : "default", argv[2], argv[3]);
  else
    status = integration_remove (registry, org != NULL ? org : "default", argv[2]);
  status = prd_cli_finish_output (status);
  g_clear_object (&registry);
  close_store (store);
  return status;
}

typedef struct
{
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
} Command;

static const Command commands[] = {
  { "serve", cmd_serve, "run the hub (the default command)" },
  { "token", cmd_token, "print a token the hub accepts, for a LAN user" },
  { "prd", cmd_prd, "create, import, export, list, rename, archive, delete and version PRDs" },
  { "secret", cmd_secret, "set, delete and list the hub's secrets" },
  { "discover", cmd_discover, "list the hubs announced on the LAN" },
  { "integration", cmd_integration,
    "configure integrations (Jira, Mattermost, Craft.io) of an organization" },
  { "backup", prd_cli_backup, "copy a consistent snapshot of a hub's data folder" },
  { "restore", prd_cli_restore, "restore a backup into a data folder" },
  { "status", prd_cli_remote_status, "list who is connected to a running hub" },
};

static const Command *
find_command (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (commands[i].name, name))
      return &commands[i];
  return NULL;
}

static int
print_general_help (void)
{
  printf ("Usage:\n"
          "  prdhub [COMMAND] [OPTION…]\n"
          "\n"
          "Commands:\n");
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    printf ("  %-10s %s\n", commands[i].name, commands[i].summary);
  printf ("  %-10s %s\n", "help", "show the help of a command: prdhub help [COMMAND [ACTION]]");
  printf ("\n"
          "Options:\n"
          "  -h, --help     Show this help\n"
          "  --version      Show the version\n"
          "\n"
          "Without a command, prdhub runs `serve` with the options given.\n"
          "Exit status: 0 success, 1 failure, 2 usage error.\n");
  return prd_cli_finish_output (0);
}

/* `prdhub help [COMMAND [ACTION]]` is `prdhub COMMAND [ACTION] --help`. */
static int
cmd_help (int argc, char **argv)
{
  const Command *command;
  g_autoptr (GPtrArray) args = NULL;

  if (argc < 2)
    return print_general_help ();
  /* Where every misuse of `help` points. */
  if (g_str_equal (argv[1], "help"))
    {
      if (argc > 2)
        return prd_cli_usage_error ("help", "unexpected argument \"%s\"", argv[2]);
      printf ("Usage:\n"
              "  prdhub help [COMMAND [ACTION]]\n"
              "\n"
              "Print the help of COMMAND (and of its ACTION), the same as\n"
              "`prdhub COMMAND [ACTION] --help`; without COMMAND, list the commands.\n");
      return prd_cli_finish_output (0);
    }
  command = find_command (argv[1]);
  if (command == NULL)
    return prd_cli_usage_error (NULL, "unknown command \"%s\"", argv[1]);
  if (argc > 3)
    return prd_cli_usage_error ("help", "unexpected argument \"%s\"", argv[3]);
  args = g_ptr_array_new ();
  g_ptr_array_add (args, argv[0]);
  if (argc == 3)
    g_ptr_array_add (args, argv[2]);
  g_ptr_array_add (args, (gpointer) "--help");
  g_ptr_array_add (args, NULL);
  return command->run ((int) args->len - 1, (char **) args->pdata);
}

int
main (int argc, char *argv[])
{
  setlocale (LC_ALL, "");
  /* Options are read in the locale's character set; under C or POSIX (a
   * systemd unit, cron, a small container) that is ASCII, and a name such
   * as "Zoë" would be refused before any check names it. Everything the
   * hub keeps and speaks is UTF-8: so is its command line. */
  if (!g_get_charset (NULL) && setlocale (LC_CTYPE, "C.UTF-8") == NULL)
    setlocale (LC_CTYPE, "C.utf8");
  g_set_prgname ("prdhub");
  g_log_writer_default_set_use_stderr (TRUE);
  /* `serve` sets its own level once its configuration is read. */
  prd_log_init (PRD_LOG_LEVEL_WARNING);

  if (argc == 2 && g_str_equal (argv[1], "--version"))
    {
      printf ("prdhub %s\n", PACKAGE_VERSION);
      return prd_cli_finish_output (0);
    }
  if (argc == 2 && (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h")))
    return print_general_help ();
  if (argc > 1 && argv[1][0] != '-')
    {
      const char *name = argv[1];
      const Command *command = find_command (name);

      /* Drop the command so GOption sees "prdhub [options]". */
      argv[1] = argv[0];
      if (g_str_equal (name, "help"))
        return cmd_help (argc - 1, argv + 1);
      if (command == NULL)
        return prd_cli_usage_error (NULL, "unknown command \"%s\"", name);
      return command->run (argc - 1, argv + 1);
    }
  return cmd_serve (argc, argv);
}
