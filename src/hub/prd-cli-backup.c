/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `prdhub backup DEST` and `prdhub restore SRC`: a consistent copy of a data
 * folder, whether a hub is running on it or not, and putting one back.
 *
 * A backup is a folder holding
 *   prdhub.db            the database, copied with SQLite's online backup API
 *                        (one read transaction: every transaction committed
 *                        when the copy started, nothing half-written)
 *   versions.git         the versions repository, copied by libgit2's local
 *                        fetch after the database, so it holds every version
 *                        the copied database records (a version is committed
 *                        to git before the database records it)
 *   secrets, jwt-secret  the owner-only secret files, when the hub keeps its
 *                        secrets in files (secrets in the Secret Service are
 *                        not copied)
 *   prdhub-backup.ini    written last: what was copied, when, by which prdhub
 *
 * The backup is assembled in a temporary folder beside DEST,
 * `.DEST.partial-XXXXXX`, and renamed into place once complete, so DEST is
 * either a whole backup or absent. SIGINT, SIGTERM and SIGHUP stop it
 * between two steps of the copy: the temporary folder is removed and the
 * command fails. The folder is held (flock()) while the backup runs; one
 * that no process holds any longer (a SIGKILL, a power loss) is removed by
 * the next backup to the same DEST.
 *
 * Restore copies the same way (the database through the backup API again,
 * checked with `PRAGMA quick_check`) into the `new/` folder of a swap in the
 * data folder, then swaps the hub's files (prd-data-swap.c: once the copy is
 * marked complete, a kill or power loss leaves a swap that the next command
 * or hub on the folder finishes). A data folder that holds anything is
 * left alone unless --force is given, and one whose database a running hub
 * has open is refused.
 */
#define G_LOG_DOMAIN "prd-cli-backup"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "prd-data-check.h"
#include "prd-data-lock.h"
#include "prd-data-swap.h"
#include "prd-error.h"
#include "prd-file-secret-store.h"
#include "prd-private-file.h"
#include "prd-git-repo.h"
#include "prd-hub-config-server.h"
#include "prd-hub-secret.h"
#include "prd-hub-versions.h"
#include "prd-sqlite-store.h"
#include "prd-time.h"

#include "prd-cli.h"
#include "prd-cli-backup.h"

#define STORE_FILE     PRD_CLI_STORE_FILE
#define SECRETS_FILE   "secrets"
#define MANIFEST_FILE  "prdhub-backup.ini"
#define MANIFEST_GROUP "backup"
#define FORMAT         1
/* The secret files are small; anything larger is not one of ours. */
#define MAX_SECRET_FILE (1024 * 1024)

static const char *const secret_files[] = { SECRETS_FILE, PRD_HUB_SECRET_FILE };

/* The signal that asked a backup to stop, 0 if none. */
static volatile sig_atomic_t stop_signal;

static void
on_stop_signal (int signum)
{
  stop_signal = signum;
}

/* Whether the command may go on: no SIGINT, SIGTERM or SIGHUP came since
 * watch_stop_signals() (looked at between the steps of a copy). Always
 * TRUE when nothing watches them (restore). */
static gboolean
check_not_stopped (GError **error)
{
  int signum = stop_signal;

  if (signum == 0)
    return TRUE;
  g_set_error (error, PRD_ERROR, PRD_ERROR_CANCELLED, "stopped by %s",
               signum == SIGINT    ? "SIGINT"
               : signum == SIGTERM ? "SIGTERM"
                                   : "SIGHUP");
  return FALSE;
}

/* From here on, SIGINT, SIGTERM and SIGHUP no longer end the process: they
 * make check_not_stopped() fail, so that what was made can be removed. The
 * command runs no main loop, so a plain handler sets a flag. */
static void
watch_stop_signals (void)
{
  static const int signals[] = { SIGINT, SIGTERM, SIGHUP };
  struct sigaction action = { 0 };

  action.sa_handler = on_stop_signal;
  action.sa_flags = SA_RESTART; /* the copy goes on to its next check */
  sigemptyset (&action.sa_mask);
  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    sigaction (signals[i], &action, NULL);
}

/* Whether @path is a folder with nothing in it. */
static gboolean
is_empty_dir (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);

  return dir != NULL && g_dir_read_name (dir) == NULL;
}

/* Writes @contents to the new file @path, mode 0600, and syncs it. */
static gboolean
write_new_file (const char *path, const char *contents, gsize len, GError **error)
{
  int fd = g_open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  gsize done = 0;

  if (fd < 0)
    return prd_private_file_set_errno_error (error, errno, "Cannot create", path);
  while (done < len)
    {
      gssize n = write (fd, contents + done, len - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;

          close (fd);
          return prd_private_file_set_errno_error (error, saved_errno, "Cannot write", path);
        }
      done += (gsize) n;
    }
  if (fsync (fd) != 0)
    {
      int saved_errno = errno;

      close (fd);
      return prd_private_file_set_errno_error (error, saved_errno, "Cannot write", path);
    }
  if (close (fd) != 0)
    return prd_private_file_set_errno_error (error, errno, "Cannot write", path);
  return TRUE;
}

/* Copies the secret file @name from @from into @to if it is there. Only a
 * regular file is copied; the copy is owner-only whatever the original's
 * mode (the hub refuses a secret file others may read). */
static gboolean
copy_secret_file (
    const char *from, const char *to, const char *name, gboolean *copied, GError **error)
{
  g_autofree char *source = g_build_filename (from, name, NULL);
  g_autofree char *dest = g_build_filename (to, name, NULL);
  g_autofree char *contents = NULL;
  GStatBuf st;
  gsize len;

  *copied = FALSE;
  if (g_lstat (source, &st) != 0)
    return errno == ENOENT ? TRUE
                           : prd_private_file_set_errno_error (error, errno, "Cannot read", source);
  if (!S_ISREG (st.st_mode) || st.st_size > MAX_SECRET_FILE)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE,
                   "%s is not a regular file of at most %d bytes", source, MAX_SECRET_FILE);
      return FALSE;
    }
  if (!g_file_get_contents (source, &contents, &len, error))
    return FALSE;
  if (!write_new_file (dest, contents, len, error))
    return FALSE;
  *copied = TRUE;
  return TRUE;
}

/* Copies the hub's files of the data folder (or, @from_backup, the backup)
 * @from into the new folder @to: the database first, then the versions
 * repository, then the secret files. @copied gets the names of what was
 * copied, @schema_version the database's schema version. */
static gboolean
copy_data (const char *from,
           gboolean from_backup,
           const char *to,
           GPtrArray *copied,
           int *schema_version,
           GError **error)
{
  g_autofree char *db_from = g_build_filename (from, STORE_FILE, NULL);
  g_autofree char *db_to = g_build_filename (to, STORE_FILE, NULL);
  g_autofree char *git_from = g_build_filename (from, PRD_HUB_VERSIONS_REPO, NULL);
  g_autofree char *git_to = g_build_filename (to, PRD_HUB_VERSIONS_REPO, NULL);

  /* A folder holds the files themselves: a link could bring in a
   * database or repository from anywhere on the machine. */
  if (!prd_private_file_refuse_link (db_from, error) ||
      !prd_private_file_refuse_link (git_from, error))
    return FALSE;

  if (!g_file_test (db_from, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND, "%s has no %s: not a prdhub data folder",
                   from, STORE_FILE);
      return FALSE;
    }
  if (!check_not_stopped (error) ||
      !prd_sqlite_store_copy_file (db_from, from_backup, db_to, schema_version, error) ||
      !check_not_stopped (error))
    return FALSE;
  if (g_chmod (db_to, 0600) != 0)
    return prd_private_file_set_errno_error (error, errno, "Cannot make owner-only", db_to);
  g_ptr_array_add (copied, g_strdup (STORE_FILE));
  if (g_file_test (git_from, G_FILE_TEST_IS_DIR))
    {
      /* libgit2 makes the copy with the umask's modes: every
       * organization's PRD versions are in it, so every file of it is
       * made owner-only. */
      if (!prd_git_repo_copy (git_from, git_to, error) ||
          !prd_private_file_restrict_tree (git_to, error) || !check_not_stopped (error))
        return FALSE;
      g_ptr_array_add (copied, g_strdup (PRD_HUB_VERSIONS_REPO));
    }
  for (guint i = 0; i < G_N_ELEMENTS (secret_files); i++)
    {
      gboolean done;

      if (!copy_secret_file (from, to, secret_files[i], &done, error))
        return FALSE;
      if (done)
        g_ptr_array_add (copied, g_strdup (secret_files[i]));
    }
  return TRUE;
}

static gboolean
write_manifest (
    const char *folder, const char *source, GPtrArray *copied, int schema_version, GError **error)
{
  g_autoptr (GKeyFile) manifest = g_key_file_new ();
  g_autofree char *path = g_build_filename (folder, MANIFEST_FILE, NULL);
  g_autofree char *created = prd_time_format_now ();
  g_autofree char *text = NULL;
  gsize len;

  g_key_file_set_integer (manifest, MANIFEST_GROUP, "format", FORMAT);
  g_key_file_set_string (manifest, MANIFEST_GROUP, "created", created);
  g_key_file_set_string (manifest, MANIFEST_GROUP, "prdhub-version", PACKAGE_VERSION);
  /* The copied database's, which is older than this prdhub's when the hub
   * has not yet opened (and upgraded) the folder. */
  g_key_file_set_integer (manifest, MANIFEST_GROUP, "schema-version", schema_version);
  g_key_file_set_string (manifest, MANIFEST_GROUP, "data-dir", source);
  g_ptr_array_add (copied, NULL);
  g_key_file_set_string_list (manifest, MANIFEST_GROUP, "files",
                              (const char *const *) copied->pdata, copied->len - 1);
  g_ptr_array_remove_index (copied, copied->len - 1);
  text = g_key_file_to_data (manifest, &len, NULL);
  return write_new_file (path, text, len, error);
}

/* The data folder the configuration names; it must exist. */
static char *
find_data_dir (const char *config_file, const char *data_dir, GError **error)
{
  g_autoptr (PrdHubConfig) config = prd_hub_config_new ();

  if (config_file != NULL && !prd_hub_config_load_file (config, config_file, error))
    return NULL;
  if (data_dir != NULL && !prd_hub_config_set (config, "server", "data-dir", data_dir, error))
    return NULL;
  if (!prd_hub_config_validate (config, error))
    return NULL;
  return g_strdup (prd_hub_config_get_server (config)->data_dir);
}

/* `backup/` names the same folder as `backup`. */
static char *
without_trailing_slashes (const char *path)
{
  gsize len = strlen (path);

  while (len > 1 && path[len - 1] == '/')
    len--;
  return g_strndup (path, len);
}

static int
fail (GError *error)
{
  g_printerr ("prdhub: %s\n", error->message);
  return 1;
}

static gboolean
parse (GOptionContext *context, const char *command, int *argc, char ***argv)
{
  g_autoptr (GError) error = NULL;

  if (!g_option_context_parse (context, argc, argv, &error))
    {
      prd_cli_usage_error (command, "%s", error->message);
      return FALSE;
    }
  return TRUE;
}

/* The real path of @path, which need not exist: that of the folder it is
 * in, and its name. %NULL if that folder does not exist either. */
static char *
real_path (const char *path)
{
  g_autofree char *parent = NULL;
  g_autofree char *base = NULL;
  char *real = realpath (path, NULL);

  if (real != NULL)
    {
      char *copy = g_strdup (real);

      free (real);
      return copy;
    }
  parent = g_path_get_dirname (path);
  base = g_path_get_basename (path);
  real = realpath (parent, NULL);
  if (real == NULL)
    return NULL;
  {
    char *joined = g_build_filename (real, base, NULL);

    free (real);
    return joined;
  }
}

/* Whether @path is @folder or inside it, once links and `..` are resolved. */
static gboolean
is_inside (const char *path, const char *folder)
{
  g_autofree char *real_child = real_path (path);
  g_autofree char *real_folder = real_path (folder);
  g_autofree char *prefix = NULL;

  if (real_child == NULL || real_folder == NULL)
    return FALSE;
  prefix = g_str_has_suffix (real_folder, "/") ? g_strdup (real_folder)
                                               : g_strconcat (real_folder, "/", NULL);
  return g_str_equal (real_child, real_folder) || g_str_has_prefix (real_child, prefix);
}

static int
do_backup (const char *data_dir, const char *dest)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) copied = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *parent = g_path_get_dirname (dest);
  g_autofree char *base = g_path_get_basename (dest);
  g_autofree char *prefix = g_strdup_printf (".%s.partial-", base);
  g_autofree char *name = NULL;
  g_autofree char *template = NULL;
  g_autofree char *work = NULL;
  g_autofree char *files = NULL;
  g_autoptr (GPtrArray) stale = g_ptr_array_new_with_free_func (g_free);
  int schema_version = 0;
  int work_fd = -1;

  if (!g_file_test (data_dir, G_FILE_TEST_IS_DIR))
    {
      g_printerr ("prdhub: The data folder %s does not exist (check --data-dir)\n", data_dir);
      return 1;
    }
  /* Inside, it would take the name of one of the hub's files (a backup
   * named prdhub.db-journal breaks the database), and go with the folder
   * it is meant to outlive. */
  if (is_inside (dest, data_dir))
    {
      g_printerr ("prdhub: %s is inside the data folder %s; a backup goes outside it\n", dest,
                  data_dir);
      return 1;
    }
  /* What a restore interrupted there left is put right before it is read. */
  if (!prd_data_swap_recover (data_dir, NULL, &error))
    return fail (error);
  /* A backup of a folder that lost its database or its versions would
   * pass for a good one. */
  if (!prd_data_check_files (data_dir, STORE_FILE, PRD_HUB_VERSIONS_REPO, &error))
    {
      g_prefix_error (&error, "Nothing was backed up: ");
      return fail (error);
    }
  if (prd_private_file_lexists (dest) && !is_empty_dir (dest))
    {
      g_printerr ("prdhub: %s exists and is not an empty folder; "
                  "a backup goes into a new or empty folder\n",
                  dest);
      return 1;
    }
  if (!g_file_test (parent, G_FILE_TEST_IS_DIR))
    {
      g_printerr ("prdhub: the folder %s does not exist\n", parent);
      return 1;
    }
  /* What a backup to DEST that was killed (SIGKILL, a power loss) left:
   * a copy of the database and the secret files, for no one. */
  if (!prd_private_file_remove_stale_dirs (parent, prefix, strlen ("XXXXXX"), stale, &error))
    {
      /* Tidying up; the backup itself may still succeed. */
      g_warning ("Cannot remove what a stopped backup to %s left: %s", dest, error->message);
      g_clear_error (&error);
    }
  for (guint i = 0; i < stale->len; i++)
    g_message ("Removed %s, what a backup to %s that was stopped left", (char *) stale->pdata[i],
               dest);
  watch_stop_signals ();
  name = g_strconcat (prefix, "XXXXXX", NULL);
  template = g_build_filename (parent, name, NULL);
  work = prd_private_file_make_held_dir (template, &work_fd, &error);
  if (work == NULL)
    return fail (error);
  if (!copy_data (data_dir, FALSE, work, copied, &schema_version, &error) ||
      !write_manifest (work, data_dir, copied, schema_version, &error) ||
      !prd_private_file_sync_dir (work, TRUE, &error) || !check_not_stopped (&error))
    goto failed;
  if (prd_private_file_lexists (dest) && g_rmdir (dest) != 0)
    {
      prd_private_file_set_errno_error (&error, errno, "Cannot replace the empty folder", dest);
      goto failed;
    }
  if (g_rename (work, dest) != 0)
    {
      prd_private_file_set_errno_error (&error, errno, "Cannot rename the backup to", dest);
      goto failed;
    }
  close (work_fd);
  if (!prd_private_file_sync_dir (parent, TRUE, &error))
    return fail (error);
  g_ptr_array_add (copied, NULL);
  files = g_strjoinv (", ", (char **) copied->pdata);
  printf ("Backed up %s to %s (%s)\n", data_dir, dest, files);
  /* The backup is whole; a line that could not be written is still told. */
  return prd_cli_finish_output (0);

failed:
  {
    g_autoptr (GError) cleanup_error = NULL;

    g_prefix_error (&error, "Nothing was backed up: ");
    if (!prd_private_file_remove_tree (work, &cleanup_error))
      g_printerr ("prdhub: %s\n", cleanup_error->message);
    close (work_fd);
  }
  return fail (error);
}

/**
 * prd_cli_backup:
 *
 * `prdhub backup DEST [--data-dir DIR] [--config FILE]`
 *
 * Returns: the exit status (0, 1 on failure, 2 on a usage error)
 */
int
prd_cli_backup (int argc, char **argv)
{
  g_autofree char *data_dir = NULL;
  g_autofree char *config_file = NULL;
  const GOptionEntry entries[] = { { "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
                                     "Data folder of the hub", "DIR" },
                                   { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file,
                                     "Configuration file of the hub", "FILE" },
                                   { NULL } };
  g_autoptr (GOptionContext) context =
      g_option_context_new ("DEST - copy the hub's data folder (running or not) into DEST");
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = NULL;

  g_set_prgname ("prdhub backup");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (
      context, "DEST must not exist or be an empty folder. The database is copied with SQLite's "
               "online backup API, then the versions repository, then the secret files.");
  if (!parse (context, "backup", &argc, &argv))
    return PRD_CLI_EXIT_USAGE;
  if (argc != 2)
    return prd_cli_usage_error (
        "backup", "%s", argc < 2 ? "backup needs a DEST folder" : "backup takes one DEST folder");
  if (*argv[1] == '\0')
    return prd_cli_usage_error ("backup", "DEST is empty: backup needs the name of a folder");
  dir = find_data_dir (config_file, data_dir, &error);
  if (dir == NULL)
    return fail (error);
  {
    g_autofree char *dest = without_trailing_slashes (argv[1]);

    return do_backup (dir, dest);
  }
}

/* Reads and checks SRC/prdhub-backup.ini. */
static gboolean
check_manifest (const char *src, GError **error)
{
  g_autoptr (GKeyFile) manifest = g_key_file_new ();
  g_autofree char *path = g_build_filename (src, MANIFEST_FILE, NULL);
  g_autoptr (GError) local_error = NULL;
  int format;

  if (!g_key_file_load_from_file (manifest, path, G_KEY_FILE_NONE, &local_error))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_NOT_FOUND,
                   "%s is not a prdhub backup (cannot read %s: %s)", src, MANIFEST_FILE,
                   local_error->message);
      return FALSE;
    }
  format = g_key_file_get_integer (manifest, MANIFEST_GROUP, "format", &local_error);
  if (local_error != NULL || format != FORMAT)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_UNSUPPORTED_VERSION,
                   "%s is a backup of format %d; this prdhub restores format %d", src,
                   local_error != NULL ? 0 : format, FORMAT);
      return FALSE;
    }
  return TRUE;
}

/* The hub's own files in a data folder, which a restore replaces: the
 * database with its WAL and journal files, the versions repository, the
 * secret files. */
static const char *const replaced_files[] = {
  STORE_FILE,
  STORE_FILE "-wal",
  STORE_FILE "-shm",
  STORE_FILE "-journal",
  PRD_HUB_VERSIONS_REPO,
  SECRETS_FILE,
  PRD_HUB_SECRET_FILE,
  NULL,
};

/* Reads the restored secret files in @dir the way the hub will: a hub
 * that cannot read them does not start. */
static gboolean
check_secrets (const char *src, const char *dir, GPtrArray *copied, GError **error)
{
  g_autofree char *jwt_secret = g_build_filename (dir, PRD_HUB_SECRET_FILE, NULL);

  for (guint i = 0; i < copied->len; i++)
    {
      const char *name = copied->pdata[i];

      if (g_str_equal (name, SECRETS_FILE))
        {
          g_autoptr (PrdSecretStore) store = prd_file_secret_store_new (dir);
          g_auto (GStrv) names = prd_secret_store_list_sync (store, NULL, error);

          if (names == NULL)
            {
              g_prefix_error (error, "the backup's %s/%s cannot be used: ", src, name);
              return FALSE;
            }
        }
      else if (g_str_equal (name, PRD_HUB_SECRET_FILE) &&
               !prd_hub_secret_check_file (jwt_secret, error))
        {
          g_prefix_error (error, "the backup's %s/%s cannot be used: ", src, name);
          return FALSE;
        }
    }
  return TRUE;
}

static int
do_restore (const char *src, const char *data_dir, gboolean force)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) copied = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *work = NULL;
  g_autofree char *new_dir = NULL;
  g_autoptr (PrdDataLock) lock = NULL;
  gboolean created;

  if (!g_file_test (src, G_FILE_TEST_IS_DIR))
    {
      g_printerr ("prdhub: the backup folder %s does not exist\n", src);
      return 1;
    }
  if (!check_manifest (src, &error))
    return fail (error);
  if (!prd_data_check_files (src, STORE_FILE, PRD_HUB_VERSIONS_REPO, &error))
    {
      g_prefix_error (&error, "Nothing was restored: ");
      return fail (error);
    }
  if (prd_private_file_lexists (data_dir) && !g_file_test (data_dir, G_FILE_TEST_IS_DIR))
    {
      g_printerr ("prdhub: %s is not a folder\n", data_dir);
      return 1;
    }
  if (g_file_test (data_dir, G_FILE_TEST_IS_DIR) && !is_empty_dir (data_dir) && !force)
    {
      g_printerr ("prdhub: the data folder %s is not empty; stop its hub and add --force to "
                  "replace its database, versions and secret files with the backup's\n",
                  data_dir);
      return 1;
    }
  {
    g_autofree char *db = g_build_filename (data_dir, STORE_FILE, NULL);

    if (!prd_sqlite_store_check_unused (db, &error))
      return fail (error);
  }
  created = !prd_private_file_lexists (data_dir);
  if (g_mkdir_with_parents (data_dir, 0700) != 0)
    {
      prd_private_file_set_errno_error (&error, errno, "Cannot create the data folder", data_dir);
      return fail (error);
    }
  /* No hub may start on the folder while its files are replaced. */
  lock = prd_data_lock_acquire (data_dir, &error);
  if (lock == NULL)
    return fail (error);
  /* A restore interrupted before this one is finished (or removed) first. */
  if (!prd_data_swap_recover (data_dir, lock, &error))
    return fail (error);
  work = prd_data_swap_begin (data_dir, &error);
  if (work == NULL)
    return fail (error);
  new_dir = g_build_filename (work, PRD_DATA_SWAP_NEW, NULL);
  if (!copy_data (src, TRUE, new_dir, copied, NULL, &error) ||
      !check_secrets (src, new_dir, copied, &error) ||
      !prd_private_file_sync_dir (new_dir, TRUE, &error))
    {
      g_autoptr (GError) cleanup_error = NULL;

      g_prefix_error (&error, "Nothing was restored: ");
      if (!prd_data_swap_abandon (work, &cleanup_error))
        g_printerr ("prdhub: %s\n", cleanup_error->message);
      /* A failed restore leaves no data folder it made (the lock file
       * included: no hub can have taken a folder this one made). */
      else if (created)
        {
          g_autofree char *lock_file = g_build_filename (data_dir, PRD_DATA_LOCK_FILE, NULL);

          g_unlink (lock_file);
          g_rmdir (data_dir);
        }
      return fail (error);
    }
  /* From here on the restore is done, even if this process dies: the next
   * command or hub on the folder finishes it (prd-data-swap.c). */
  g_ptr_array_add (copied, NULL);
  if (!prd_data_swap_commit (work, data_dir, (const char *const *) copied->pdata, replaced_files,
                             &error))
    {
      g_printerr ("prdhub: %s; the restored files are complete in %s, and the next prdhub "
                  "command or hub on %s puts them in place\n",
                  error->message, work, data_dir);
      prd_data_lock_release_restored (g_steal_pointer (&lock));
      return 1;
    }
  /* Clients of the hub before may hold operations the backup lacks: the
   * next hub retires every site, so that none is numbered like them. */
  prd_data_lock_release_restored (g_steal_pointer (&lock));
  {
    g_autofree char *files = NULL;

    files = g_strjoinv (", ", (char **) copied->pdata);
    printf ("Restored %s into %s (%s)\n", src, data_dir, files);
  }
  /* The data is restored; a line that could not be written is still told. */
  return prd_cli_finish_output (0);
}

/**
 * prd_cli_restore:
 *
 * `prdhub restore SRC [--data-dir DIR] [--config FILE] [--force]`
 *
 * Returns: the exit status (0, 1 on failure, 2 on a usage error)
 */
int
prd_cli_restore (int argc, char **argv)
{
  g_autofree char *data_dir = NULL;
  g_autofree char *config_file = NULL;
  gboolean force = FALSE;
  const GOptionEntry entries[] = {
    { "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir, "Data folder to restore into", "DIR" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file, "Configuration file of the hub",
      "FILE" },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force,
      "Replace the database, versions and secret files of a data folder that is not empty", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) context =
      g_option_context_new ("SRC - put a backup made by `prdhub backup` back into a data folder");
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = NULL;

  g_set_prgname ("prdhub restore");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context,
                                "Stop the hub first. A data folder that is not empty is left "
                                "alone unless --force is given.");
  if (!parse (context, "restore", &argc, &argv))
    return PRD_CLI_EXIT_USAGE;
  if (argc != 2)
    return prd_cli_usage_error ("restore", "%s",
                                argc < 2 ? "restore needs the SRC folder of a backup"
                                         : "restore takes one SRC folder");
  if (*argv[1] == '\0')
    return prd_cli_usage_error ("restore", "SRC is empty: restore needs the folder of a backup");
  dir = find_data_dir (config_file, data_dir, &error);
  if (dir == NULL)
    return fail (error);
  return do_restore (argv[1], dir, force);
}
