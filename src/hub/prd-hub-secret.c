/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Where the hub's HS256 secret comes from. Kept behind one function so that
 * callers do not care whether it lives in the environment, the secret store
 * or a file.
 *
 * Order: the PRDHUB_JWT_SECRET environment variable; else, when the program
 * has installed a secret store (prd_hub_secret_set_store(), as prdhub does),
 * the secret `jwt-secret` there (`prdhub secret set jwt-secret`); else
 * `<data-dir>/jwt-secret`. When neither holds one, a secret of 32 random
 * bytes (hex) is generated: into the Secret Service when the store is one,
 * otherwise into `<data-dir>/jwt-secret` with mode 0600 — the owner-only
 * file the hub has always used without a keyring, which scripts and older
 * hubs of the same folder know. An existing `jwt-secret` file is never
 * moved, so tokens already handed out stay valid.
 * A secret file that group or others may read is refused rather than used:
 * anyone who can read it can mint tokens for any user.
 */
#define G_LOG_DOMAIN "prd-hub-secret"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "prd-auth.h"
#include "prd-error.h"
#include "prd-file-secret-store.h"
#include "prd-secret-store.h"

#include "prd-hub-secret.h"

#define SECRET_RANDOM_BYTES 32
/* A secret file is one line of hex; anything much bigger is not ours. */
#define SECRET_FILE_MAX 4096

static GBytes *
read_secret_file (const char *path, GError **error)
{
  g_autofree char *contents = NULL;
  struct stat st;
  ssize_t n;
  int fd;

  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "Cannot open the JWT secret file %s: %s",
                   path, g_strerror (saved_errno));
      return NULL;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "The JWT secret file %s is not a regular file", path);
      return NULL;
    }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    {
      close (fd);
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "The JWT secret file %s is accessible by group or others (mode %04o); "
                   "run `chmod 600 %s`",
                   path, (unsigned) (st.st_mode & 07777), path);
      return NULL;
    }
  if (st.st_uid != geteuid ())
    {
      close (fd);
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "The JWT secret file %s belongs to another user", path);
      return NULL;
    }

  contents = g_malloc (SECRET_FILE_MAX + 1);
  n = read (fd, contents, SECRET_FILE_MAX + 1);
  close (fd);
  if (n < 0 || n > SECRET_FILE_MAX)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   n < 0 ? "Cannot read the JWT secret file %s"
                         : "The JWT secret file %s is too large",
                   path);
      return NULL;
    }
  contents[n] = '\0';
  g_strstrip (contents);
  if (strlen (contents) < PRD_AUTH_MIN_SECRET_LENGTH)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "The JWT secret in %s is shorter than %d characters", path,
                   PRD_AUTH_MIN_SECRET_LENGTH);
      return NULL;
    }
  return g_bytes_new (contents, strlen (contents));
}

/**
 * prd_hub_secret_check_file:
 * @path: a JWT secret file
 *
 * Whether a hub could use @path as its `jwt-secret` file: an owner-only
 * regular file of at most 4096 bytes holding a secret long enough
 * (what `prdhub restore` checks before it puts one in place).
 *
 * Returns: %FALSE with %PRD_ERROR_CONFIG saying why not
 */
gboolean
prd_hub_secret_check_file (const char *path, GError **error)
{
  g_autoptr (GBytes) secret = NULL;

  g_return_val_if_fail (path != NULL, FALSE);

  secret = read_secret_file (path, error);
  return secret != NULL;
}

static PrdSecretStore *installed_store; /* (owned) (nullable) */

/**
 * prd_hub_secret_set_store:
 * @store: (nullable): where prd_hub_secret_load_jwt() keeps the secret, or
 *   %NULL for the `jwt-secret` file of the data folder
 *
 * Called once by the program at start-up, before any secret is loaded.
 */
void
prd_hub_secret_set_store (PrdSecretStore *store)
{
  g_return_if_fail (store == NULL || PRD_IS_SECRET_STORE (store));

  g_set_object (&installed_store, store);
}

static char *
random_hex_secret (GError **error)
{
  guint8 random[SECRET_RANDOM_BYTES];
  g_autoptr (GString) hex = g_string_new (NULL);
  gsize done = 0;

  while (done < sizeof random)
    {
      ssize_t n = getrandom (random + done, sizeof random - done, 0);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;

          g_set_error (error, PRD_ERROR, PRD_ERROR_INTERNAL, "getrandom failed: %s",
                       g_strerror (saved_errno));
          return NULL;
        }
      done += (gsize) n;
    }
  for (gsize i = 0; i < sizeof random; i++)
    g_string_append_printf (hex, "%02x", random[i]);
  memset (random, 0, sizeof random);
  return g_string_free (g_steal_pointer (&hex), FALSE);
}

static GBytes *
check_stored_secret (char *value, PrdSecretStore *store, GError **error)
{
  g_autofree char *owned = value;

  if (strlen (value) < PRD_AUTH_MIN_SECRET_LENGTH)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "The secret \"%s\" in %s is shorter than %d characters; replace it with "
                   "`prdhub secret set %s`",
                   PRD_HUB_SECRET_NAME, prd_secret_store_get_description (store),
                   PRD_AUTH_MIN_SECRET_LENGTH, PRD_HUB_SECRET_NAME);
      return NULL;
    }
  return g_bytes_new_take (g_steal_pointer (&owned), strlen (value));
}

/* The store's secret, or %NULL with @error unset when it holds none. */
static GBytes *
load_from_store (PrdSecretStore *store, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autofree char *value = NULL;

  value = prd_secret_store_lookup_sync (store, PRD_HUB_SECRET_NAME, NULL, &local_error);
  if (value != NULL)
    return check_stored_secret (g_steal_pointer (&value), store, error);
  if (!g_error_matches (local_error, PRD_ERROR, PRD_ERROR_NOT_FOUND))
    g_propagate_error (error, g_steal_pointer (&local_error));
  return NULL;
}

static GBytes *
generate_into_store (PrdSecretStore *store, GError **error)
{
  g_autofree char *value = NULL;
  g_autofree char *stored = NULL;

  value = random_hex_secret (error);
  if (value == NULL ||
      !prd_secret_store_store_sync (store, PRD_HUB_SECRET_NAME, value, NULL, error))
    return NULL;
  g_message ("Generated a new JWT secret in %s", prd_secret_store_get_description (store));

  /* Read back what is stored: when two hubs start at once, the last write
   * wins and both must sign with it. */
  stored = prd_secret_store_lookup_sync (store, PRD_HUB_SECRET_NAME, NULL, error);
  if (stored == NULL)
    return NULL;
  return check_stored_secret (g_steal_pointer (&stored), store, error);
}

/* Writes a fresh secret beside @path and links it into place, so that a
 * crash never leaves a half-written secret and two hubs starting at once
 * agree on one secret (the loser of link() reads the winner's). */
static gboolean
create_secret_file (const char *data_dir, const char *path, GError **error)
{
  g_autofree char *hex = NULL;
  g_autofree char *line = NULL;
  g_autofree char *tmp_path = g_build_filename (data_dir, ".jwt-secret.XXXXXX", NULL);
  gsize line_len;
  int fd;
  int saved_errno;

  hex = random_hex_secret (error);
  if (hex == NULL)
    return FALSE;
  line = g_strconcat (hex, "\n", NULL);
  line_len = strlen (line);

  fd = g_mkstemp_full (tmp_path, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      saved_errno = errno;
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "Cannot create the JWT secret file in %s: %s", data_dir,
                   g_strerror (saved_errno));
      return FALSE;
    }
  if (write (fd, line, line_len) != (ssize_t) line_len || fsync (fd) != 0)
    {
      saved_errno = errno;
      close (fd);
      g_unlink (tmp_path);
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "Cannot write the JWT secret file: %s",
                   g_strerror (saved_errno));
      return FALSE;
    }
  close (fd);
  if (link (tmp_path, path) != 0 && errno != EEXIST)
    {
      saved_errno = errno;
      g_unlink (tmp_path);
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "Cannot create %s: %s", path,
                   g_strerror (saved_errno));
      return FALSE;
    }
  g_unlink (tmp_path);
  return TRUE;
}

/* The environment, else the installed store, else the `jwt-secret` file;
 * made when there is none only when @may_generate. */
static GBytes *
load_jwt (const char *data_dir, gboolean may_generate, GError **error)
{
  const char *env = g_getenv (PRD_HUB_SECRET_ENV);
  g_autofree char *path = NULL;
  gboolean created = FALSE;

  if (env != NULL && *env != '\0')
    {
      if (strlen (env) < PRD_AUTH_MIN_SECRET_LENGTH)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "%s must be at least %d bytes long",
                       PRD_HUB_SECRET_ENV, PRD_AUTH_MIN_SECRET_LENGTH);
          return NULL;
        }
      return g_bytes_new (env, strlen (env));
    }

  if (may_generate && g_mkdir_with_parents (data_dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "Cannot create the data folder %s: %s",
                   data_dir, g_strerror (saved_errno));
      return NULL;
    }

  if (installed_store != NULL)
    {
      g_autoptr (GError) local_error = NULL;
      GBytes *stored = load_from_store (installed_store, &local_error);

      if (stored != NULL)
        return stored;
      if (local_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
    }

  path = g_build_filename (data_dir, PRD_HUB_SECRET_FILE, NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      if (!may_generate)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND,
                       "The hub of %s keeps no JWT secret (it was started with %s?): give this "
                       "command the same %s",
                       data_dir, PRD_HUB_SECRET_ENV, PRD_HUB_SECRET_ENV);
          return NULL;
        }
      if (installed_store != NULL && !PRD_IS_FILE_SECRET_STORE (installed_store))
        return generate_into_store (installed_store, error);
      if (!create_secret_file (data_dir, path, error))
        return NULL;
      created = TRUE;
    }
  if (created)
    g_message ("Generated a new JWT secret in %s", path);
  return read_secret_file (path, error);
}

/**
 * prd_hub_secret_load_jwt:
 * @data_dir: the hub's data folder (created 0700 if missing)
 *
 * The environment, else the installed secret store, else the data folder's
 * `jwt-secret` file; generated on first start (see the top of this file).
 * With a store installed this blocks on it (see
 * prd_secret_store_lookup_sync()): call it at start-up, not from the loop.
 *
 * Returns: (transfer full): the HS256 secret, or %NULL with @error set
 *   (%PRD_ERROR_CONFIG; %PRD_ERROR_SECRET_STORE when the store fails)
 */
GBytes *
prd_hub_secret_load_jwt (const char *data_dir, GError **error)
{
  g_return_val_if_fail (data_dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return load_jwt (data_dir, TRUE, error);
}

/**
 * prd_hub_secret_find_jwt:
 * @data_dir: the data folder of a hub that has run
 *
 * As prd_hub_secret_load_jwt(), but never makes a secret (nor the folder):
 * for the commands that ask the running hub, whose secret a new one would
 * not be.
 *
 * Returns: (transfer full): the HS256 secret, or %NULL with @error set
 *   (%PRD_ERROR_NOT_FOUND when the hub keeps none)
 */
GBytes *
prd_hub_secret_find_jwt (const char *data_dir, GError **error)
{
  g_return_val_if_fail (data_dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return load_jwt (data_dir, FALSE, error);
}
