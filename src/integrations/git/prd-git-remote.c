/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdGitRemote: the "git" integration, one remote repository per
 * organization that the versions are pushed to.
 *
 * The hub's versions repository is one per hub: every version of every PRD,
 * whatever its organization, is a commit on one branch (see
 * prd-git-repo.c). Pushing that branch would hand one organization's PRDs
 * to another's remote, so a push first brings the organization's own
 * history up to date in the same repository, under
 * PRD_GIT_REMOTE_EXPORT_PREFIX<digest>/: for each new commit of the main
 * branch that is tagged as a version of one of the organization's PRDs
 * (in order), one commit with the same author, committer and message whose
 * tree holds only that organization's PRDs, and a copy of the version tag
 * on it. `source` remembers the last main commit looked at, so that
 * history only grows and is never rewritten; a version tag on a commit
 * before it that has no copy yet (its PRD was listed after the export ran,
 * or its tag came late) is exported by the next push, before the new
 * commits: each version is exported exactly once. The push then sends that
 * branch to `refs/heads/<branch>` and the tags to `refs/tags/<prdId>/v<x.y.z>`,
 * never forced.
 *
 * A push runs on a worker thread; a watchdog on the caller's main context
 * ends it after `timeoutSeconds` (see prd-git-watch.c). A ref the remote
 * refuses comes back through the push-update-reference callback with the
 * remote's message and fails the push; the refs counted as updated are the
 * ones the push-negotiation callback saw change (libgit2 reports every ref
 * sent as updated, also the ones the remote had already).
 */
#define G_LOG_DOMAIN "prd-integration-git"

#include "config.h"

#include <string.h>

#include <git2.h>

#include "prd-autocleanups.h"
#include "prd-error.h"
#include "prd-git-watch.h"

#include "prd-git-remote.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (git_revwalk, git_revwalk_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (git_remote, git_remote_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (git_tag, git_tag_free)

/* Credentials are offered at most this many times per push. */
#define MAX_AUTH_ATTEMPTS 2

static const char *const booleans[] = { "true", "false", NULL };

static const PrdIntegrationKey git_keys[] = {
  { "remoteUrl", PRD_INTEGRATION_KEY_STRING, FALSE, TRUE, NULL, NULL, 0, 2048, NULL },
  { "branch", PRD_INTEGRATION_KEY_STRING, FALSE, FALSE, "main", NULL, 0, 200, NULL },
  { "pushOnVersion", PRD_INTEGRATION_KEY_CHOICE, FALSE, FALSE, "true", booleans, 0, 5, NULL },
  { "timeoutSeconds", PRD_INTEGRATION_KEY_INT, FALSE, FALSE, "120", NULL, 1, 3600, NULL },
  { "caFile", PRD_INTEGRATION_KEY_STRING, FALSE, FALSE, NULL, NULL, 0, 4096, NULL },
  { "username", PRD_INTEGRATION_KEY_STRING, TRUE, FALSE, NULL, NULL, 0, 256, "remoteUrl" },
  { "token", PRD_INTEGRATION_KEY_STRING, TRUE, FALSE, NULL, NULL, 0, 4096, "remoteUrl" },
  { "sshPrivateKey", PRD_INTEGRATION_KEY_STRING, TRUE, FALSE, NULL, NULL, 0, 16384, "remoteUrl" },
  { "sshPassphrase", PRD_INTEGRATION_KEY_STRING, TRUE, FALSE, NULL, NULL, 0, 1024, "remoteUrl" },
};

typedef enum
{
  KIND_FILE,
  KIND_HTTP,
  KIND_SSH,
} Kind;

struct _PrdGitRemote
{
  GObject parent_instance;

  char *org;
  char *url;
  Kind kind;
  char *host; /* (nullable) for file:// */
  char *branch;
  gboolean push_on_version;
  guint timeout;
  char *ca_file;         /* (nullable) */
  char *username;        /* (nullable) */
  char *token;           /* (nullable) */
  char *ssh_key;         /* (nullable) */
  char *ssh_passphrase;  /* (nullable) */
  GCancellable *retired; /* (owned) (nullable): its HTTP client's shutdown, cancelled when the
                          * settings are removed or replaced (or the hub stops) */
};

static void prd_git_remote_integration_init (PrdIntegrationInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PrdGitRemote,
                               prd_git_remote,
                               G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PRD_TYPE_INTEGRATION,
                                                      prd_git_remote_integration_init))

static GMutex export_lock;

static void
clear_secret (char **secret)
{
  if (*secret != NULL)
    memset (*secret, 0, strlen (*secret));
  g_clear_pointer (secret, g_free);
}

static void
prd_git_remote_finalize (GObject *object)
{
  PrdGitRemote *self = PRD_GIT_REMOTE (object);

  g_free (self->org);
  g_free (self->url);
  g_free (self->host);
  g_free (self->branch);
  g_free (self->ca_file);
  clear_secret (&self->username);
  clear_secret (&self->token);
  clear_secret (&self->ssh_key);
  clear_secret (&self->ssh_passphrase);
  g_clear_object (&self->retired);
  G_OBJECT_CLASS (prd_git_remote_parent_class)->finalize (object);
}

static void
prd_git_remote_class_init (PrdGitRemoteClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = prd_git_remote_finalize;
}

static void
prd_git_remote_init (PrdGitRemote *self)
{
}

void
prd_git_push_result_free (PrdGitPushResult *result)
{
  if (result == NULL)
    return;
  g_free (result->commit);
  g_free (result->branch);
  g_free (result);
}

/* ---- settings ---- */

/* The operator's [integrations] git-file-remotes: one for the process, set
 * before any remote is. */
static gint file_urls_allowed;

/**
 * prd_git_remote_set_file_urls_allowed:
 * @allowed: whether a remote may be a `file:///` URL
 *
 * Such a remote is any repository the hub's user can write: off (the
 * default), every organization's admin is held to remotes of their own.
 * Remotes already set up are checked again when they are next used.
 */
void
prd_git_remote_set_file_urls_allowed (gboolean allowed)
{
  g_atomic_int_set (&file_urls_allowed, allowed ? 1 : 0);
}

static gboolean
is_loopback (const char *host)
{
  return g_ascii_strcasecmp (host, "localhost") == 0 || g_str_equal (host, "127.0.0.1") ||
         g_str_equal (host, "[::1]") || g_str_equal (host, "::1");
}

static gboolean
bad_url (GError **error, const char *why)
{
  g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "Setting \"remoteUrl\": %s", why);
  return FALSE;
}

/* A host name, an IPv4 or a bracketed IPv6 address: never an option to the
 * ssh command (a leading '-'), nothing a shell or a command line reads
 * otherwise. */
static gboolean
host_is_valid (const char *host)
{
  if (*host == '\0' || *host == '-')
    return FALSE;
  for (const char *p = host; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && strchr ("-._:[]", *p) == NULL)
      return FALSE;
  return TRUE;
}

/* A user name for ssh: not an option (a leading '-'), no space or control
 * character. */
static gboolean
user_is_valid (const char *user)
{
  if (*user == '-')
    return FALSE;
  for (const char *p = user; *p != '\0'; p++)
    if ((guchar) *p <= 0x20 || *p == 0x7f)
      return FALSE;
  return TRUE;
}

/* Reads @url: its kind and host. scp-like `user@host:path` is ssh. Only
 * the transports named are accepted: no `<transport>::<address>` (git's
 * remote helpers, `ext::` runs a command), no host or user that reads as
 * an option, no space or control character anywhere. */
static gboolean
parse_remote_url (const char *url, Kind *out_kind, char **out_host, GError **error)
{
  g_autoptr (GUri) uri = NULL;
  const char *scheme;
  const char *colon;
  const char *p;

  for (p = url; *p != '\0'; p++)
    if ((guchar) *p <= 0x20 || *p == 0x7f)
      return bad_url (error, "not a URL: spaces and control characters are not allowed");
  for (p = url; g_ascii_isalnum (*p) || *p == '+' || *p == '-' || *p == '.'; p++)
    ;
  if (p > url && p[0] == ':' && p[1] == ':')
    return bad_url (error, "remote helpers (<transport>::<address>) are not accepted; only "
                           "https://, ssh://, user@host:path or file:///");
  if (strstr (url, "://") == NULL)
    {
      const char *at = strchr (url, '@');
      const char *slash = strchr (url, '/');
      g_autofree char *user = NULL;

      colon = strchr (url, ':');
      if (colon == NULL || colon == url || (slash != NULL && slash < colon) || colon[1] == '\0')
        return bad_url (error, "not a URL (https://, ssh://, user@host:path or file:///)");
      if (at != NULL && at < colon)
        user = g_strndup (url, at - url);
      *out_host = at != NULL && at < colon ? g_strndup (at + 1, colon - at - 1)
                                           : g_strndup (url, colon - url);
      if (**out_host == '\0')
        {
          g_clear_pointer (out_host, g_free);
          return bad_url (error, "the URL has no host");
        }
      if (!host_is_valid (*out_host) || (user != NULL && (*user == '\0' || !user_is_valid (user))))
        {
          g_clear_pointer (out_host, g_free);
          return bad_url (error, "the host or user may not start with '-' (it would be read as "
                                 "an option) and a host is letters, digits, '-', '.', '_' or an "
                                 "address");
        }
      if (colon[1] == '-')
        {
          g_clear_pointer (out_host, g_free);
          return bad_url (error, "the path may not start with '-'");
        }
      *out_kind = KIND_SSH;
      return TRUE;
    }
  uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL)
    return bad_url (error, "not a URL");
  scheme = g_uri_get_scheme (uri);
  if (g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL)
    return bad_url (error, "the URL may not have a query or a fragment");
  if (g_ascii_strcasecmp (scheme, "file") == 0)
    {
      if ((g_uri_get_host (uri) != NULL && *g_uri_get_host (uri) != '\0') ||
          !g_path_is_absolute (g_uri_get_path (uri)))
        return bad_url (error, "a file URL names an absolute path on this machine (file:///…)");
      if (!g_atomic_int_get (&file_urls_allowed))
        return bad_url (error, "file URLs are turned off on this hub (its operator turns them "
                               "on with [integrations] git-file-remotes = true)");
      *out_kind = KIND_FILE;
      *out_host = NULL;
      return TRUE;
    }
  if (g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    return bad_url (error, "the URL has no host");
  if (g_ascii_strcasecmp (scheme, "ssh") == 0)
    *out_kind = KIND_SSH;
  else if (g_ascii_strcasecmp (scheme, "https") == 0)
    *out_kind = KIND_HTTP;
  else if (g_ascii_strcasecmp (scheme, "http") == 0)
    {
      if (!is_loopback (g_uri_get_host (uri)))
        return bad_url (error, "plain http is only accepted for this machine (127.0.0.1, "
                               "localhost); use https");
      *out_kind = KIND_HTTP;
    }
  else
    return bad_url (error, "only https, ssh and file URLs are accepted");
  if (*out_kind == KIND_HTTP && g_uri_get_userinfo (uri) != NULL)
    return bad_url (error, "credentials belong in the secret settings (username, token)");
  if (!host_is_valid (g_uri_get_host (uri)) ||
      (g_uri_get_user (uri) != NULL && !user_is_valid (g_uri_get_user (uri))))
    return bad_url (error, "the host or user may not start with '-' (it would be read as an "
                           "option) and a host is letters, digits, '-', '.', '_' or an address");
  *out_host = g_strdup (g_uri_get_host (uri));
  return TRUE;
}

/* A branch name as `git check-ref-format --branch` takes it (and
 * libgit2 after it). */
static gboolean
branch_is_valid (const char *branch)
{
  g_autofree char *ref = NULL;
  g_auto (GStrv) parts = NULL;
  int valid = 0;

  if (*branch == '\0' || *branch == '-' || *branch == '/' || g_str_has_suffix (branch, "/") ||
      g_str_has_suffix (branch, ".") || g_str_equal (branch, "HEAD") || g_str_equal (branch, "@") ||
      strstr (branch, "..") != NULL || strstr (branch, "@{") != NULL ||
      strstr (branch, "//") != NULL)
    return FALSE;
  for (const char *p = branch; *p != '\0'; p++)
    if ((guchar) *p <= 0x20 || *p == 0x7f || strchr ("~^:?*[\\", *p) != NULL)
      return FALSE;
  parts = g_strsplit (branch, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    if (parts[i][0] == '.' || g_str_has_suffix (parts[i], ".lock"))
      return FALSE;
  ref = g_strconcat ("refs/heads/", branch, NULL);
  return git_reference_name_is_valid (&valid, ref) == 0 && valid;
}

static gboolean
git_check_settings (PrdIntegration *integration,
                    JsonObject *settings,
                    GHashTable *secrets_set,
                    GError **error)
{
  const char *url = prd_integration_settings_get_string (settings, "remoteUrl");
  const char *branch = prd_integration_settings_get_string (settings, "branch");
  const char *ca_file = prd_integration_settings_get_string (settings, "caFile");
  g_autofree char *host = NULL;
  Kind kind;

  if (url != NULL && !parse_remote_url (url, &kind, &host, error))
    return FALSE;
  if (branch != NULL && !branch_is_valid (branch))
    {
      g_set_error_literal (
          error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
          "Setting \"branch\": not a valid branch name (as `git check-ref-format --branch`: "
          "no leading '-', no \"..\", \"@{\", \"//\", space, control character or any of "
          "~^:?*[\\, no component starting with '.' or ending with \".lock\", not ending with "
          "'/' or '.', not \"HEAD\" or \"@\")");
      return FALSE;
    }
  if (ca_file != NULL && *ca_file != '\0' && !g_path_is_absolute (ca_file))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "Setting \"caFile\": an absolute path to a PEM file");
      return FALSE;
    }
  return TRUE;
}

static gboolean
git_setup (PrdIntegration *integration,
           const char *org,
           JsonObject *settings,
           GHashTable *secrets,
           PrdIntegrationHttp *http,
           GError **error)
{
  PrdGitRemote *self = PRD_GIT_REMOTE (integration);
  const char *url = prd_integration_settings_get_string (settings, "remoteUrl");
  const char *ca_file = prd_integration_settings_get_string (settings, "caFile");
  const char *username = g_hash_table_lookup (secrets, "username");
  const char *token = g_hash_table_lookup (secrets, "token");
  const char *key = g_hash_table_lookup (secrets, "sshPrivateKey");
  g_autoptr (GError) bad = NULL;

  if (url == NULL)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INTEGRATION_NOT_CONFIGURED,
                           "Git is not completely configured: remoteUrl is not set");
      return FALSE;
    }
  if (!parse_remote_url (url, &self->kind, &self->host, &bad))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INTEGRATION_NOT_CONFIGURED, bad->message);
      return FALSE;
    }
  if ((token != NULL) != (username != NULL))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INTEGRATION_NOT_CONFIGURED,
                           "Git is not completely configured: username and token go together");
      return FALSE;
    }
  if (token != NULL && self->kind != KIND_HTTP)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INTEGRATION_NOT_CONFIGURED,
                           "Git: a username and token are for https remotes");
      return FALSE;
    }
  if (key != NULL && self->kind != KIND_SSH)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INTEGRATION_NOT_CONFIGURED,
                           "Git: an SSH key is for ssh remotes");
      return FALSE;
    }
  prd_git_watch_setup ();
  self->org = g_strdup (org);
  self->url = g_strdup (url);
  self->branch = g_strdup (prd_integration_settings_get_string (settings, "branch"));
  if (self->branch == NULL)
    self->branch = g_strdup ("main");
  self->push_on_version =
      g_strcmp0 (prd_integration_settings_get_string (settings, "pushOnVersion"), "false") != 0;
  self->timeout = (guint) json_object_get_int_member_with_default (settings, "timeoutSeconds", 120);
  self->ca_file = ca_file != NULL && *ca_file != '\0' ? g_strdup (ca_file) : NULL;
  self->username = g_strdup (username);
  self->token = g_strdup (token);
  self->ssh_key = g_strdup (key);
  self->ssh_passphrase = g_strdup (g_hash_table_lookup (secrets, "sshPassphrase"));
  /* libgit2 does not go through @http: its shutdown (the registry's, when
   * these settings are removed or replaced) stops this remote's calls too. */
  if (http != NULL)
    self->retired = g_object_ref (prd_integration_http_get_shutdown (http));
  return TRUE;
}

/* ---- a push (or a connection check) on a worker thread ---- */

typedef struct
{
  /* copied from the remote when the push starts */
  char *url;
  Kind kind;
  char *host;
  char *branch;
  char *ca_file;
  char *username;
  char *token;
  char *ssh_key;
  char *ssh_passphrase;
  guint timeout;
  /* what to do */
  gboolean check_only;
  char *repo_path;
  char *export_ns; /* refs/prdhub/export/<digest> */
  GHashTable *prd_ids;
  /* while it runs */
  PrdGitWatch *watch;
  guint auth_attempts;
  GPtrArray *rejected;  /* "<ref>: <message>" */
  GHashTable *changing; /* remote ref names the push changes */
  guint n_updated;
  /* main thread only */
  GSource *watchdog;
  gboolean timed_out;
  GCancellable *cancellable;
  gulong cancelled_id;
  GCancellable *retired; /* the remote's (see PrdGitRemote) */
  gulong retired_id;
  GTask *outer;
} Push;

static void
push_free (Push *push)
{
  g_free (push->url);
  g_free (push->host);
  g_free (push->branch);
  g_free (push->ca_file);
  clear_secret (&push->username);
  clear_secret (&push->token);
  clear_secret (&push->ssh_key);
  clear_secret (&push->ssh_passphrase);
  g_free (push->repo_path);
  g_free (push->export_ns);
  g_clear_pointer (&push->prd_ids, g_hash_table_unref);
  prd_git_watch_unref (push->watch);
  g_ptr_array_unref (push->rejected);
  g_hash_table_unref (push->changing);
  g_free (push);
}

static gboolean
git_error_out (int rc, const char *what, GError **error)
{
  const git_error *last = git_error_last ();

  g_set_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR, "%s: %s (libgit2 error %d)", what,
               last != NULL && last->message != NULL ? last->message : "unknown error", rc);
  return FALSE;
}

/* The origin of a remote URL, `scheme://host:port` with the scheme's
 * default port filled in and the host in lower case (scp-like
 * `user@host:path` is ssh on port 22); %NULL for a URL it cannot read. */
static char *
url_origin (const char *url)
{
  g_autoptr (GUri) uri = NULL;
  g_autofree char *host = NULL;
  g_autofree char *lower = NULL;
  g_autofree char *scheme = NULL;
  Kind kind;
  int port;

  if (!parse_remote_url (url, &kind, &host, NULL) || host == NULL)
    return NULL;
  if (strstr (url, "://") == NULL)
    {
      lower = g_ascii_strdown (host, -1);
      return g_strdup_printf ("ssh://%s:22", lower);
    }
  uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL)
    return NULL;
  scheme = g_ascii_strdown (g_uri_get_scheme (uri), -1);
  lower = g_ascii_strdown (g_uri_get_host (uri), -1);
  port = g_uri_get_port (uri);
  if (port <= 0)
    port = g_str_equal (scheme, "https") ? 443 : g_str_equal (scheme, "http") ? 80 : 22;
  return g_strdup_printf ("%s://%s:%d", scheme, lower, port);
}

static int
refuse_credentials (const char *why)
{
  git_error_set_str (GIT_ERROR_CALLBACK, why);
  return GIT_EUSER;
}

static int
on_credentials (git_credential **out,
                const char *url,
                const char *username_from_url,
                unsigned int allowed,
                void *payload)
{
  Push *push = payload;
  g_autofree char *origin = url != NULL ? url_origin (url) : NULL;
  g_autofree char *configured = url_origin (push->url);
  const char *user = username_from_url != NULL ? username_from_url : "git";

  /* Never hand the credentials to another origin (a redirect): another
   * host, another port of the same host, or plain http instead of https. */
  if (push->host != NULL &&
      (origin == NULL || configured == NULL || !g_str_equal (origin, configured)))
    return refuse_credentials ("the remote sent the push to another address (scheme, host or "
                               "port); no credentials are given there");
  if (allowed & GIT_CREDENTIAL_USERNAME)
    return git_credential_username_new (out, user);
  if (++push->auth_attempts > MAX_AUTH_ATTEMPTS)
    return refuse_credentials ("the remote refused the credentials");
  if ((allowed & GIT_CREDENTIAL_SSH_MEMORY) && push->ssh_key != NULL)
    return git_credential_ssh_key_memory_new (out, user, NULL, push->ssh_key, push->ssh_passphrase);
  if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && push->token != NULL)
    return git_credential_userpass_plaintext_new (out, push->username, push->token);
  return refuse_credentials ("the remote asks for credentials and none are configured "
                             "(username and token, or sshPrivateKey)");
}

/* With a caFile, a server certificate libgit2 does not trust is checked
 * against that file (for this remote only). */
static int
on_certificate (git_cert *cert, int valid, const char *host, void *payload)
{
  Push *push = payload;
  git_cert_x509 *x509 = (git_cert_x509 *) cert;
  g_autoptr (GTlsDatabase) database = NULL;
  g_autoptr (GTlsCertificate) certificate = NULL;
  g_autoptr (GSocketConnectable) identity = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *base64 = NULL;
  g_autofree char *pem = NULL;
  GTlsCertificateFlags flags;

  if (valid)
    return 0;
  if (cert->cert_type != GIT_CERT_X509 || push->ca_file == NULL)
    return GIT_PASSTHROUGH;
  database = g_tls_file_database_new (push->ca_file, &error);
  if (database == NULL)
    {
      /* Why goes to the hub's log only: the organization's admin who set
       * caFile must not learn which files the hub's machine has. */
      g_message ("Cannot read caFile %s: %s", push->ca_file, error->message);
      git_error_set_str (GIT_ERROR_SSL, "caFile is not a readable file of PEM certificates");
      return GIT_ECERTIFICATE;
    }
  base64 = g_base64_encode (x509->data, x509->len);
  pem = g_strdup_printf ("-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n", base64);
  certificate = g_tls_certificate_new_from_pem (pem, -1, &error);
  if (certificate == NULL)
    return GIT_PASSTHROUGH;
  identity = g_network_address_new (host, 0);
  flags = g_tls_database_verify_chain (database, certificate,
                                       G_TLS_DATABASE_PURPOSE_AUTHENTICATE_SERVER, identity, NULL,
                                       G_TLS_DATABASE_VERIFY_NONE, NULL, &error);
  if (error == NULL && flags == 0)
    return 0;
  git_error_set_str (GIT_ERROR_SSL, "the certificate is not signed by caFile for this host");
  return GIT_ECERTIFICATE;
}

/* Which of the refs sent change on the remote: libgit2 reports every ref
 * of the push as updated, also the ones the remote already had. */
static int
on_negotiation (const git_push_update **updates, size_t len, void *payload)
{
  Push *push = payload;

  for (size_t i = 0; i < len; i++)
    if (!git_oid_equal (&updates[i]->src, &updates[i]->dst))
      g_hash_table_add (push->changing, g_strdup (updates[i]->dst_refname));
  return 0;
}

static int
on_update_reference (const char *refname, const char *status, void *payload)
{
  Push *push = payload;

  if (status != NULL)
    g_ptr_array_add (push->rejected, g_strdup_printf ("%s: %s", refname, status));
  else if (g_hash_table_contains (push->changing, refname))
    push->n_updated++;
  return 0;
}

static int
on_transfer (unsigned int current, unsigned int total, size_t bytes, void *payload)
{
  Push *push = payload;

  return prd_git_watch_is_aborted (push->watch) ? -1 : 0;
}

static void
fill_callbacks (Push *push, git_remote_callbacks *callbacks)
{
  callbacks->credentials = on_credentials;
  callbacks->certificate_check = on_certificate;
  callbacks->push_negotiation = on_negotiation;
  callbacks->push_update_reference = on_update_reference;
  callbacks->push_transfer_progress = on_transfer;
  callbacks->payload = push;
}

/* ---- the organization's history ---- */

typedef struct
{
  Push *push;
  git_repository *repo;
  GHashTable *by_commit; /* commit hex → GPtrArray of tag names (prd/vX) */
  GPtrArray *names;
} Export;

static int
collect_name (const char *name, void *payload)
{
  g_ptr_array_add (payload, g_strdup (name));
  return 0;
}

/* Which of the hub's tags are versions of the organization's PRDs that its
 * history has no copy of yet, by the commit they name. */
static gboolean
collect_tags (Export *export, GError **error)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  int rc;

  rc = git_reference_foreach_glob (export->repo, "refs/tags/*", collect_name, names);
  if (rc != 0)
    return git_error_out (rc, "Cannot list the version tags", error);
  for (guint i = 0; i < names->len; i++)
    {
      const char *tag = (const char *) names->pdata[i] + strlen ("refs/tags/");
      const char *slash = strchr (tag, '/');
      g_autofree char *prd = slash != NULL ? g_strndup (tag, slash - tag) : NULL;
      g_autoptr (git_reference) ref = NULL;
      g_autoptr (git_object) commit = NULL;
      g_autofree char *copy = NULL;
      char hex[GIT_OID_HEXSZ + 1];
      git_oid copied;
      GPtrArray *list;

      if (prd == NULL || !g_hash_table_contains (export->push->prd_ids, prd))
        continue;
      copy = g_strdup_printf ("%s/tags/%s", export->push->export_ns, tag);
      rc = git_reference_name_to_id (&copied, export->repo, copy);
      if (rc == 0)
        continue;
      if (rc != GIT_ENOTFOUND)
        return git_error_out (rc, "Cannot read the organization's tags", error);
      if ((rc = git_reference_lookup (&ref, export->repo, names->pdata[i])) != 0 ||
          (rc = git_reference_peel (&commit, ref, GIT_OBJECT_COMMIT)) != 0)
        return git_error_out (rc, "Cannot read a version tag", error);
      git_oid_tostr (hex, sizeof hex, git_object_id (commit));
      list = g_hash_table_lookup (export->by_commit, hex);
      if (list == NULL)
        {
          list = g_ptr_array_new_with_free_func (g_free);
          g_hash_table_insert (export->by_commit, g_strdup (hex), list);
        }
      g_ptr_array_add (list, g_strdup (tag));
    }
  return TRUE;
}

static char *
export_ref (Export *export, const char *what)
{
  return g_strdup_printf ("%s/%s", export->push->export_ns, what);
}

/* One commit of the organization's history for @source (tagged @tags). */
static gboolean
export_commit (
    Export *export, git_commit *source, GPtrArray *tags, git_commit **head, GError **error)
{
  g_autoptr (git_tree) source_tree = NULL;
  g_autoptr (git_tree) head_tree = NULL;
  g_autoptr (git_treebuilder) builder = NULL;
  g_autoptr (git_tree) tree = NULL;
  g_autoptr (git_commit) commit = NULL;
  git_oid tree_oid, commit_oid;
  const git_commit *parents[1] = { *head };
  int rc;

  if ((rc = git_commit_tree (&source_tree, source)) != 0 ||
      (*head != NULL && (rc = git_commit_tree (&head_tree, *head)) != 0) ||
      (rc = git_treebuilder_new (&builder, export->repo, head_tree)) != 0)
    return git_error_out (rc, "Cannot read a version", error);
  for (guint i = 0; i < tags->len; i++)
    {
      const char *tag = tags->pdata[i];
      g_autofree char *file = g_strdup_printf ("%.*s.md", (int) (strchr (tag, '/') - tag), tag);
      const git_tree_entry *entry;

      entry = git_tree_entry_byname (source_tree, file);
      if (entry == NULL)
        continue;
      rc = git_treebuilder_insert (NULL, builder, file, git_tree_entry_id (entry),
                                   GIT_FILEMODE_BLOB);
      if (rc != 0)
        return git_error_out (rc, "Cannot build the organization's tree", error);
    }
  if ((rc = git_treebuilder_write (&tree_oid, builder)) != 0 ||
      (rc = git_tree_lookup (&tree, export->repo, &tree_oid)) != 0 ||
      (rc = git_commit_create (&commit_oid, export->repo, NULL, git_commit_author (source),
                               git_commit_committer (source), git_commit_message_encoding (source),
                               git_commit_message (source), tree, *head != NULL ? 1 : 0,
                               parents)) != 0 ||
      (rc = git_commit_lookup (&commit, export->repo, &commit_oid)) != 0)
    return git_error_out (rc, "Cannot write the organization's history", error);

  for (guint i = 0; i < tags->len; i++)
    {
      const char *tag = tags->pdata[i];
      g_autofree char *name = g_strconcat ("refs/tags/", tag, NULL);
      g_autofree char *copy_name = g_strdup_printf ("tags/%s", tag);
      g_autofree char *copy = export_ref (export, copy_name);
      g_autoptr (git_reference) ref = NULL;
      g_autoptr (git_reference) created = NULL;
      g_autoptr (git_tag) annotated = NULL;
      git_oid target;

      if ((rc = git_reference_lookup (&ref, export->repo, name)) != 0)
        return git_error_out (rc, "Cannot read a version tag", error);
      git_oid_cpy (&target, git_reference_target (ref));
      if (git_tag_lookup (&annotated, export->repo, &target) == 0)
        rc = git_tag_annotation_create (&target, export->repo, tag, (git_object *) commit,
                                        git_tag_tagger (annotated), git_tag_message (annotated));
      else
        git_oid_cpy (&target, &commit_oid);
      if (rc != 0 || (rc = git_reference_create (&created, export->repo, copy, &target, 1,
                                                 "prdhub export")) != 0)
        return git_error_out (rc, "Cannot tag the organization's history", error);
    }
  g_clear_pointer (head, git_commit_free);
  *head = g_steal_pointer (&commit);
  return TRUE;
}

/* A commit without a tag that removes files of the organization's history
 * (a deleted PRD, see prd_git_repo_purge_async()) is mirrored: the files
 * leave the tree, and the copies of the PRD's tags move to `deleted/` so
 * that the next push deletes them on the remote. */
static gboolean
export_removal (Export *export, git_commit *source, git_commit **head, GError **error)
{
  g_autoptr (git_tree) head_tree = NULL;
  g_autoptr (git_tree) source_tree = NULL;
  g_autoptr (git_commit) parent = NULL;
  g_autoptr (git_tree) parent_tree = NULL;
  g_autoptr (git_treebuilder) builder = NULL;
  g_autoptr (git_tree) tree = NULL;
  g_autoptr (git_commit) commit = NULL;
  g_autoptr (GPtrArray) removed = g_ptr_array_new_with_free_func (g_free);
  const git_commit *parents[1] = { *head };
  git_oid tree_oid, commit_oid;
  int rc;

  if (git_commit_parentcount (source) == 0)
    return TRUE;
  if ((rc = git_commit_tree (&head_tree, *head)) != 0 ||
      (rc = git_commit_tree (&source_tree, source)) != 0 ||
      (rc = git_commit_parent (&parent, source, 0)) != 0 ||
      (rc = git_commit_tree (&parent_tree, parent)) != 0)
    return git_error_out (rc, "Cannot read a version", error);
  for (size_t i = 0; i < git_tree_entrycount (head_tree); i++)
    {
      const char *name = git_tree_entry_name (git_tree_entry_byindex (head_tree, i));

      if (git_tree_entry_byname (source_tree, name) == NULL &&
          git_tree_entry_byname (parent_tree, name) != NULL)
        g_ptr_array_add (removed, g_strdup (name));
    }
  if (removed->len == 0)
    return TRUE;
  if ((rc = git_treebuilder_new (&builder, export->repo, head_tree)) != 0)
    return git_error_out (rc, "Cannot build the organization's tree", error);
  for (guint i = 0; i < removed->len; i++)
    if ((rc = git_treebuilder_remove (builder, removed->pdata[i])) != 0)
      return git_error_out (rc, "Cannot build the organization's tree", error);
  if ((rc = git_treebuilder_write (&tree_oid, builder)) != 0 ||
      (rc = git_tree_lookup (&tree, export->repo, &tree_oid)) != 0 ||
      (rc = git_commit_create (&commit_oid, export->repo, NULL, git_commit_author (source),
                               git_commit_committer (source), git_commit_message_encoding (source),
                               git_commit_message (source), tree, 1, parents)) != 0 ||
      (rc = git_commit_lookup (&commit, export->repo, &commit_oid)) != 0)
    return git_error_out (rc, "Cannot write the organization's history", error);

  for (guint i = 0; i < removed->len; i++)
    {
      const char *name = removed->pdata[i];
      g_autofree char *prd = NULL;
      g_autofree char *glob = NULL;
      g_autoptr (GPtrArray) copies = g_ptr_array_new_with_free_func (g_free);

      if (!g_str_has_suffix (name, ".md"))
        continue;
      prd = g_strndup (name, strlen (name) - strlen (".md"));
      glob = g_strdup_printf ("%s/tags/%s/v*", export->push->export_ns, prd);
      if ((rc = git_reference_foreach_glob (export->repo, glob, collect_name, copies)) != 0)
        return git_error_out (rc, "Cannot list the organization's tags", error);
      for (guint j = 0; j < copies->len; j++)
        {
          const char *copy = copies->pdata[j];
          g_autofree char *gone =
              g_strdup_printf ("%s/deleted/%s", export->push->export_ns,
                               copy + strlen (export->push->export_ns) + strlen ("/tags/"));
          g_autoptr (git_reference) ref = NULL;
          g_autoptr (git_reference) moved = NULL;

          if ((rc = git_reference_lookup (&ref, export->repo, copy)) != 0 ||
              (rc = git_reference_create (&moved, export->repo, gone, git_reference_target (ref), 1,
                                          "prdhub export: PRD deleted")) != 0 ||
              (rc = git_reference_delete (ref)) != 0)
            return git_error_out (rc, "Cannot forget a deleted PRD's tags", error);
        }
    }
  g_clear_pointer (head, git_commit_free);
  *head = g_steal_pointer (&commit);
  return TRUE;
}

static gboolean
lookup_optional (
    git_repository *repo, const char *name, git_oid *out, gboolean *found, GError **error)
{
  int rc = git_reference_name_to_id (out, repo, name);

  *found = rc == 0;
  if (rc == 0 || rc == GIT_ENOTFOUND)
    return TRUE;
  return git_error_out (rc, "Cannot read the versions repository", error);
}

typedef struct
{
  git_oid oid;
  size_t behind; /* how many commits the branch has after it */
} Late;

static int
compare_late (gconstpointer a, gconstpointer b)
{
  const Late *x = a, *y = b;

  return x->behind < y->behind ? 1 : x->behind > y->behind ? -1 : 0;
}

/* Whether @version is greater than the version in the tag name @copy
 * (`…/v<x.y.z>`). */
static gboolean
version_greater (const char *copy, guint64 major, guint64 minor, guint64 patch)
{
  const char *v = strrchr (copy, 'v');
  guint64 other[3] = { 0, 0, 0 };
  g_auto (GStrv) parts = v != NULL ? g_strsplit (v + 1, ".", 3) : NULL;

  for (guint i = 0; parts != NULL && parts[i] != NULL && i < 3; i++)
    other[i] = g_ascii_strtoull (parts[i], NULL, 10);
  if (major != other[0])
    return major > other[0];
  if (minor != other[1])
    return minor > other[1];
  return patch > other[2];
}

/* Whether the history has a copy of a later version of @tag's PRD than
 * @tag (`<prdId>/v<x.y.z>`). */
static gboolean
later_version_copied (Export *export, const char *tag, gboolean *later, GError **error)
{
  const char *slash = strchr (tag, '/');
  g_autofree char *glob =
      g_strdup_printf ("%s/tags/%.*s/v*", export->push->export_ns, (int) (slash - tag), tag);
  g_autoptr (GPtrArray) copies = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) parts = g_strsplit (slash + 2, ".", 3);
  guint64 version[3] = { 0, 0, 0 };
  int rc;

  for (guint i = 0; parts[i] != NULL && i < 3; i++)
    version[i] = g_ascii_strtoull (parts[i], NULL, 10);
  if ((rc = git_reference_foreach_glob (export->repo, glob, collect_name, copies)) != 0)
    return git_error_out (rc, "Cannot list the organization's tags", error);
  *later = FALSE;
  for (guint i = 0; i < copies->len && !*later; i++)
    *later = !version_greater (copies->pdata[i], version[0], version[1], version[2]);
  return TRUE;
}

/* The versions on the branch up to @source (what an earlier export looked
 * at) that have no copy yet: their tag did not exist yet or their PRD was
 * not known to be the organization's (created after the PRDs were listed)
 * when that export ran. They go first, oldest first, so that the history's
 * tree ends with each PRD's latest version. A version older than one
 * already copied (left behind before the hub exported this way) is left
 * out: it would bring back an older text. */
static gboolean
export_late (
    Export *export, const git_oid *source_oid, git_commit **head, gboolean *moved, GError **error)
{
  g_autoptr (GArray) late = g_array_new (FALSE, FALSE, sizeof (Late));
  g_autoptr (git_revwalk) walk = NULL;
  gpointer key;
  git_oid walked;
  size_t behind = 0;
  int rc;

  /* One walk back from @source (not one per tag: a backlog of N versions
   * would cost N walks): the tagged commits it meets are the late ones,
   * "behind" counting how far back. */
  if ((rc = git_revwalk_new (&walk, export->repo)) != 0 ||
      (rc = git_revwalk_sorting (walk, GIT_SORT_TOPOLOGICAL)) != 0 ||
      (rc = git_revwalk_push (walk, source_oid)) != 0)
    return git_error_out (rc, "Cannot walk the versions", error);
  while (late->len < g_hash_table_size (export->by_commit) &&
         (rc = git_revwalk_next (&walked, walk)) == 0)
    {
      char hex[GIT_OID_HEXSZ + 1];

      git_oid_tostr (hex, sizeof hex, &walked);
      if (g_hash_table_contains (export->by_commit, hex))
        {
          Late entry = { .oid = walked, .behind = behind };

          g_array_append_val (late, entry);
        }
      behind++;
    }
  if (rc != 0 && rc != GIT_ITEROVER)
    return git_error_out (rc, "Cannot walk the versions", error);
  g_array_sort (late, compare_late);
  for (guint i = 0; i < late->len; i++)
    {
      const git_oid *oid = &g_array_index (late, Late, i).oid;
      char hex[GIT_OID_HEXSZ + 1];
      g_autoptr (git_commit) source = NULL;
      g_autoptr (GPtrArray) tags = NULL;

      git_oid_tostr (hex, sizeof hex, oid);
      g_hash_table_steal_extended (export->by_commit, hex, &key, (gpointer *) &tags);
      g_free (key);
      for (guint j = tags->len; j > 0; j--)
        {
          gboolean later;

          if (!later_version_copied (export, tags->pdata[j - 1], &later, error))
            return FALSE;
          if (later)
            {
              g_message ("git export: %s is older than a version already exported; left out",
                         (const char *) tags->pdata[j - 1]);
              g_ptr_array_remove_index (tags, j - 1);
            }
        }
      if (tags->len == 0)
        continue;
      if ((rc = git_commit_lookup (&source, export->repo, oid)) != 0)
        return git_error_out (rc, "Cannot read a version", error);
      if (!export_commit (export, source, tags, head, error))
        return FALSE;
      *moved = TRUE;
    }
  return TRUE;
}

/* Brings the organization's history up to date; @out_head is unset when it
 * has no version. Every version tag of the organization's PRDs on the
 * branch gets exactly one copy, whenever the export runs: the new commits
 * of the branch are walked from `source` on, and the tags on commits
 * before it that have no copy yet (see export_late()) are exported first.
 * Lock held. */
static gboolean
export_update (Export *export, git_oid *out_head, gboolean *has_head, GError **error)
{
  g_autofree char *head_name = export_ref (export, "main");
  g_autofree char *source_name = export_ref (export, "source");
  g_autoptr (git_revwalk) walk = NULL;
  g_autoptr (git_commit) head = NULL;
  g_autoptr (git_reference) ref = NULL;
  git_oid main_oid, source_oid, head_oid, oid;
  gboolean has_main, has_source;
  int rc;

  if (!lookup_optional (export->repo, "refs/heads/main", &main_oid, &has_main, error) ||
      !lookup_optional (export->repo, source_name, &source_oid, &has_source, error) ||
      !lookup_optional (export->repo, head_name, &head_oid, has_head, error))
    return FALSE;
  if (*has_head && (rc = git_commit_lookup (&head, export->repo, &head_oid)) != 0)
    return git_error_out (rc, "Cannot read the organization's history", error);
  if (has_main && !collect_tags (export, error))
    return FALSE;
  if (has_main && has_source && g_hash_table_size (export->by_commit) > 0)
    {
      gboolean moved = FALSE;

      if (!export_late (export, &source_oid, &head, &moved, error))
        return FALSE;
      if (moved && (rc = git_reference_create (&ref, export->repo, head_name, git_commit_id (head),
                                               1, "prdhub export")) != 0)
        return git_error_out (rc, "Cannot record the organization's history", error);
      g_clear_pointer (&ref, git_reference_free);
    }
  if (has_main && !(has_source && git_oid_equal (&main_oid, &source_oid)))
    {
      if ((rc = git_revwalk_new (&walk, export->repo)) != 0 ||
          (rc = git_revwalk_sorting (walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE)) != 0 ||
          (rc = git_revwalk_push (walk, &main_oid)) != 0 ||
          (has_source && (rc = git_revwalk_hide (walk, &source_oid)) != 0))
        return git_error_out (rc, "Cannot walk the versions", error);
      while ((rc = git_revwalk_next (&oid, walk)) == 0)
        {
          char hex[GIT_OID_HEXSZ + 1];
          GPtrArray *tags;
          g_autoptr (git_commit) source = NULL;

          git_oid_tostr (hex, sizeof hex, &oid);
          tags = g_hash_table_lookup (export->by_commit, hex);
          if (tags == NULL && head == NULL)
            continue;
          if ((rc = git_commit_lookup (&source, export->repo, &oid)) != 0)
            return git_error_out (rc, "Cannot read a version", error);
          if (tags == NULL && !export_removal (export, source, &head, error))
            return FALSE;
          if (tags != NULL && !export_commit (export, source, tags, &head, error))
            return FALSE;
        }
      if (rc != GIT_ITEROVER)
        return git_error_out (rc, "Cannot walk the versions", error);
      if (head != NULL &&
          (rc = git_reference_create (&ref, export->repo, head_name, git_commit_id (head), 1,
                                      "prdhub export")) != 0)
        return git_error_out (rc, "Cannot record the organization's history", error);
      g_clear_pointer (&ref, git_reference_free);
      if ((rc = git_reference_create (&ref, export->repo, source_name, &main_oid, 1,
                                      "prdhub export")) != 0)
        return git_error_out (rc, "Cannot record the organization's history", error);
    }
  *has_head = head != NULL;
  if (head != NULL)
    git_oid_cpy (out_head, git_commit_id (head));
  return TRUE;
}

static gboolean
translate_push_error (int rc, GError **error)
{
  const git_error *last = git_error_last ();
  const char *message = last != NULL && last->message != NULL ? last->message : "unknown error";

  switch (rc)
    {
      case GIT_ENONFASTFORWARD:
        g_set_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR,
                     "The remote branch has commits the hub does not have (it was changed "
                     "elsewhere); the hub never forces a push (%s)",
                     message);
        return FALSE;
      case GIT_ECERTIFICATE:
        g_set_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR,
                     "The remote's certificate or host key is not trusted (%s)", message);
        return FALSE;
      case GIT_EAUTH:
      case GIT_EUSER:
        g_set_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR, "Git authentication: %s",
                     message);
        return FALSE;
      default:
        return git_error_out (rc, "Cannot push to the remote", error);
    }
}

static PrdGitPushResult *
run_push (Push *push, GError **error)
{
  g_autoptr (PrdGitPushResult) result = g_new0 (PrdGitPushResult, 1);
  g_autoptr (git_repository) repo = NULL;
  g_autoptr (git_remote) remote = NULL;
  g_autoptr (GPtrArray) refspecs = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) tags = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) deleted = g_ptr_array_new_with_free_func (g_free);
  git_push_options options = GIT_PUSH_OPTIONS_INIT;
  git_remote_create_options create = GIT_REMOTE_CREATE_OPTIONS_INIT;
  git_strarray specs;
  git_oid head;
  gboolean has_head = FALSE;
  g_autofree char *glob = NULL;
  int rc;

  result->branch = g_strconcat ("refs/heads/", push->branch, NULL);
  rc = git_repository_open_bare (&repo, push->repo_path);
  if (rc == GIT_ENOTFOUND)
    return g_steal_pointer (&result); /* no version yet */
  if (rc != 0)
    {
      git_error_out (rc, "Cannot open the versions repository", error);
      return NULL;
    }
  {
    Export export = { push, repo, NULL, NULL };
    gboolean ok;

    export.by_commit =
        g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
    g_mutex_lock (&export_lock);
    ok = export_update (&export, &head, &has_head, error);
    g_mutex_unlock (&export_lock);
    g_hash_table_unref (export.by_commit);
    if (!ok)
      return NULL;
  }
  if (!has_head)
    return g_steal_pointer (&result);

  result->commit = g_malloc (GIT_OID_HEXSZ + 1);
  git_oid_tostr (result->commit, GIT_OID_HEXSZ + 1, &head);
  g_ptr_array_add (refspecs, g_strdup_printf ("%s/main:%s", push->export_ns, result->branch));
  glob = g_strdup_printf ("%s/tags/*", push->export_ns);
  if ((rc = git_reference_foreach_glob (repo, glob, collect_name, tags)) != 0)
    {
      git_error_out (rc, "Cannot list the organization's tags", error);
      return NULL;
    }
  for (guint i = 0; i < tags->len; i++)
    {
      const char *name = tags->pdata[i];

      g_ptr_array_add (refspecs,
                       g_strdup_printf ("%s:refs/%s", name, name + strlen (push->export_ns) + 1));
    }
  result->n_tags = tags->len;
  g_free (glob);
  glob = g_strdup_printf ("%s/deleted/*", push->export_ns);
  if ((rc = git_reference_foreach_glob (repo, glob, collect_name, deleted)) != 0)
    {
      git_error_out (rc, "Cannot list the organization's deleted tags", error);
      return NULL;
    }
  for (guint i = 0; i < deleted->len; i++)
    {
      const char *name = deleted->pdata[i];

      g_ptr_array_add (refspecs, g_strdup_printf (":refs/tags/%s", name + strlen (push->export_ns) +
                                                                       strlen ("/deleted/")));
    }
  specs.strings = (char **) refspecs->pdata;
  specs.count = refspecs->len;
  fill_callbacks (push, &options.callbacks);
  /* the hub's own repository has no url.*.insteadOf to honour */
  create.repository = repo;
  create.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
  if ((rc = git_remote_create_with_opts (&remote, push->url, &create)) != 0)
    {
      git_error_out (rc, "Cannot use the remote URL", error);
      return NULL;
    }
  rc = git_remote_push (remote, &specs, &options);
  if (rc != 0)
    {
      translate_push_error (rc, error);
      return NULL;
    }
  if (push->rejected->len > 0)
    {
      g_autofree char *list = NULL;

      g_ptr_array_add (push->rejected, NULL);
      list = g_strjoinv ("; ", (char **) push->rejected->pdata);

      g_set_error (error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR, "The remote refused %s", list);
      return NULL;
    }
  /* the remote no longer has the deleted PRDs' tags */
  g_mutex_lock (&export_lock);
  for (guint i = 0; i < deleted->len; i++)
    {
      g_autoptr (git_reference) ref = NULL;

      if (git_reference_lookup (&ref, repo, deleted->pdata[i]) == 0)
        git_reference_delete (ref);
    }
  g_mutex_unlock (&export_lock);
  result->n_updated = push->n_updated;
  return g_steal_pointer (&result);
}

static gboolean
run_check (Push *push, GError **error)
{
  g_autoptr (git_remote) remote = NULL;
  git_remote_callbacks callbacks = GIT_REMOTE_CALLBACKS_INIT;
  int rc;

  fill_callbacks (push, &callbacks);
  if ((rc = git_remote_create_detached (&remote, push->url)) != 0)
    return git_error_out (rc, "Cannot use the remote URL", error);
  rc = git_remote_connect (remote, GIT_DIRECTION_PUSH, &callbacks, NULL, NULL);
  if (rc != 0)
    return translate_push_error (rc, error);
  git_remote_disconnect (remote);
  return TRUE;
}

static void
do_push (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Push *push = task_data;
  GError *error = NULL;

  git_error_clear ();
  prd_git_watch_begin (push->watch);
  if (push->check_only)
    {
      if (run_check (push, &error))
        g_task_return_boolean (task, TRUE);
      else
        g_task_return_error (task, error);
    }
  else
    {
      PrdGitPushResult *result = run_push (push, &error);

      if (result != NULL)
        g_task_return_pointer (task, result, (GDestroyNotify) prd_git_push_result_free);
      else
        g_task_return_error (task, error);
    }
  prd_git_watch_end (push->watch);
}

static gboolean
on_watchdog (gpointer user_data)
{
  Push *push = user_data;

  push->timed_out = TRUE;
  prd_git_watch_abort (push->watch);
  return G_SOURCE_REMOVE;
}

static void
on_cancelled (GCancellable *cancellable, gpointer user_data)
{
  prd_git_watch_abort (user_data);
}

static const char *
what_of (Push *push)
{
  return push->check_only ? "connection check" : "push";
}

static void
on_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Push *push = user_data;
  PrdGitRemote *self = PRD_GIT_REMOTE (source);
  g_autoptr (GTask) outer = g_steal_pointer (&push->outer);
  g_autoptr (GError) error = NULL;
  g_autofree char *what = NULL;
  g_autofree char *reason = NULL;
  gpointer value = NULL;
  gboolean ok;

  g_source_destroy (push->watchdog);
  g_clear_pointer (&push->watchdog, g_source_unref);
  if (push->cancellable != NULL)
    g_cancellable_disconnect (push->cancellable, push->cancelled_id);
  if (push->retired != NULL)
    g_cancellable_disconnect (push->retired, push->retired_id);
  if (push->check_only)
    ok = g_task_propagate_boolean (G_TASK (result), &error);
  else
    ok = (value = g_task_propagate_pointer (G_TASK (result), &error)) != NULL;

  if (!ok && push->timed_out)
    {
      g_clear_error (&error);
      g_set_error (&error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR,
                   "No answer from the remote within %u s; the %s was stopped", push->timeout,
                   what_of (push));
    }
  else if (!ok && ((push->cancellable != NULL && g_cancellable_is_cancelled (push->cancellable)) ||
                   (push->retired != NULL && g_cancellable_is_cancelled (push->retired))))
    {
      g_clear_error (&error);
      g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "The push was cancelled");
    }
  else if (!ok && (reason = prd_git_watch_dup_reason (push->watch)) != NULL)
    {
      /* The hub's own reason, not what libgit2 made of it (under TLS, the
       * TLS library's "Generic error"). */
      g_clear_error (&error);
      g_set_error (&error, PRD_ERROR, PRD_ERROR_INTEGRATION_ERROR, "Cannot push to the remote: %s",
                   reason);
    }
  /* A remote may quote the credentials in its error (`remote error: …`):
   * never passed on. */
  if (error != NULL)
    {
      char *redacted = prd_integration_redact (PRD_INTEGRATION (self), error->message);

      g_free (error->message);
      error->message = redacted;
    }

  if (push->check_only)
    what = g_strdup_printf ("connection check of %s", self->url);
  else if (ok && ((PrdGitPushResult *) value)->commit == NULL)
    what = g_strdup ("push: no version to push yet");
  else if (ok)
    what = g_strdup_printf ("push of %u version tags and %s to %s",
                            ((PrdGitPushResult *) value)->n_tags,
                            ((PrdGitPushResult *) value)->branch, self->url);
  else
    what = g_strdup_printf ("push to %s", self->url);
  if (ok && !push->check_only && ((PrdGitPushResult *) value)->commit == NULL)
    g_info ("git (%s): nothing to push yet", self->org);
  else
    prd_integration_report_call (PRD_INTEGRATION (self), what, error);

  if (!ok)
    g_task_return_error (outer, g_steal_pointer (&error));
  else if (push->check_only)
    g_task_return_boolean (outer, TRUE);
  else
    g_task_return_pointer (outer, value, (GDestroyNotify) prd_git_push_result_free);
}

static void
start (PrdGitRemote *self, Push *push, GTask *outer, GCancellable *cancellable)
{
  GTask *inner;

  push->url = g_strdup (self->url);
  push->kind = self->kind;
  push->host = g_strdup (self->host);
  push->branch = g_strdup (self->branch);
  push->ca_file = g_strdup (self->ca_file);
  push->username = g_strdup (self->username);
  push->token = g_strdup (self->token);
  push->ssh_key = g_strdup (self->ssh_key);
  push->ssh_passphrase = g_strdup (self->ssh_passphrase);
  push->timeout = self->timeout;
  push->watch = prd_git_watch_new ();
  push->rejected = g_ptr_array_new_with_free_func (g_free);
  push->changing = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  push->outer = outer;

  /* the inner task owns the push; it ends only once the thread returned */
  inner = g_task_new (self, NULL, on_done, push);
  g_task_set_task_data (inner, push, (GDestroyNotify) push_free);
  push->watchdog = g_timeout_source_new_seconds (push->timeout);
  g_source_set_callback (push->watchdog, on_watchdog, push, NULL);
  g_source_attach (push->watchdog, g_main_context_get_thread_default ());
  if (cancellable != NULL)
    {
      push->cancellable = cancellable;
      push->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled),
                                                  prd_git_watch_ref (push->watch),
                                                  (GDestroyNotify) prd_git_watch_unref);
    }
  /* Settings removed or replaced meanwhile: nothing more is sent with them
   * (already so: the push stops before its first connect). */
  if (self->retired != NULL)
    {
      push->retired = self->retired;
      push->retired_id = g_cancellable_connect (self->retired, G_CALLBACK (on_cancelled),
                                                prd_git_watch_ref (push->watch),
                                                (GDestroyNotify) prd_git_watch_unref);
    }
  g_task_run_in_thread (inner, do_push);
  g_object_unref (inner);
}

/**
 * prd_git_remote_push_async:
 * @repo_path: the hub's versions repository (bare)
 * @prd_ids: (array zero-terminated=1): the organization's PRDs
 *
 * Brings the organization's history up to date and pushes it with its
 * version tags. Reports the outcome as a call (activity feed, status).
 */
void
prd_git_remote_push_async (PrdGitRemote *self,
                           const char *repo_path,
                           const char *const *prd_ids,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data)
{
  GTask *outer;
  Push *push;
  g_autofree char *digest = NULL;

  g_return_if_fail (PRD_IS_GIT_REMOTE (self));
  g_return_if_fail (repo_path != NULL);

  outer = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (outer, prd_git_remote_push_async);
  push = g_new0 (Push, 1);
  push->repo_path = g_strdup (repo_path);
  digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, self->org, -1);
  digest[16] = '\0';
  push->export_ns = g_strconcat (PRD_GIT_REMOTE_EXPORT_PREFIX, digest, NULL);
  push->prd_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; prd_ids != NULL && prd_ids[i] != NULL; i++)
    g_hash_table_add (push->prd_ids, g_strdup (prd_ids[i]));
  start (self, push, outer, cancellable);
}

PrdGitPushResult *
prd_git_remote_push_finish (PrdGitRemote *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

gboolean
prd_git_remote_get_push_on_version (PrdGitRemote *self)
{
  g_return_val_if_fail (PRD_IS_GIT_REMOTE (self), FALSE);

  return self->push_on_version;
}

const char *
prd_git_remote_get_url (PrdGitRemote *self)
{
  g_return_val_if_fail (PRD_IS_GIT_REMOTE (self), NULL);

  return self->url;
}

/* ---- PrdIntegration ---- */

static const char *
git_get_service (PrdIntegration *integration)
{
  return PRD_GIT_REMOTE_SERVICE;
}

static const PrdIntegrationKey *
git_get_schema (PrdIntegration *integration, gsize *n_keys)
{
  *n_keys = G_N_ELEMENTS (git_keys);
  return git_keys;
}

/* The connection check: the remote answers a push negotiation. */
static void
git_test_async (PrdIntegration *integration,
                GCancellable *cancellable,
                GAsyncReadyCallback callback,
                gpointer user_data)
{
  PrdGitRemote *self = PRD_GIT_REMOTE (integration);
  GTask *outer = g_task_new (self, cancellable, callback, user_data);
  Push *push = g_new0 (Push, 1);

  g_task_set_source_tag (outer, git_test_async);
  push->check_only = TRUE;
  start (self, push, outer, cancellable);
}

static gboolean
git_test_finish (PrdIntegration *integration, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
prd_git_remote_integration_init (PrdIntegrationInterface *iface)
{
  iface->get_service = git_get_service;
  iface->get_schema = git_get_schema;
  iface->check_settings = git_check_settings;
  iface->setup = git_setup;
  iface->test_async = git_test_async;
  iface->test_finish = git_test_finish;
}
