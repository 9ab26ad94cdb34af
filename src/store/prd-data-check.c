/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Whether a data folder's database and versions repository belong
 * together, checked before a command uses the folder. Either can go
 * missing on its own (deleted, emptied, left behind by a copy): a hub that
 * then started would make a new empty database beside the versions of
 * every PRD, or list versions whose commits no longer exist and start a
 * new repository at the next version, without a word. Either can also be
 * a symbolic link to a file elsewhere, which the hub would use without
 * making it private (README: the database and the repository are the
 * owner's only): refused too, as backup and restore refuse it. The checks
 * only read; the folder is left as it is.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include <errno.h>

#include <glib/gstdio.h>

#include "prd-error.h"
#include "prd-git-repo.h"
#include "prd-private-file.h"
#include "prd-sqlite-store.h"

#include "prd-data-check.h"

/* The size of @path, 0 when it does not exist. */
static gboolean
file_size (const char *path, gboolean *exists, gint64 *size, GError **error)
{
  GStatBuf st;

  *exists = FALSE;
  *size = 0;
  if (g_stat (path, &st) != 0)
    return errno == ENOENT ? TRUE
                           : prd_private_file_set_errno_error (error, errno, "Cannot read", path);
  *exists = TRUE;
  *size = st.st_size;
  return TRUE;
}

/**
 * prd_data_check_files:
 * @data_dir: a data folder (that may not exist yet)
 * @db_name: the database's file name in it
 * @repo_name: the versions repository's folder name in it
 *
 * Refuses a data folder whose database is missing or empty while its
 * versions repository holds refs (the database was lost: the PRDs would be
 * gone), and one whose database records versions while its versions
 * repository is missing (their texts would be gone, and the next version
 * would start a new history). A new folder (neither there) and a database
 * without versions yet are fine. The database, its -wal, -shm and -journal
 * files and the versions repository must be themselves, not symbolic
 * links (prd_private_file_refuse_link()).
 *
 * Returns: %FALSE with %PRD_ERROR_CORRUPT_DATA naming the problem and what
 *   to do, %PRD_ERROR_INVALID_PAYLOAD naming a symbolic link, or
 *   %PRD_ERROR_STORAGE if the folder cannot be read
 */
gboolean
prd_data_check_files (const char *data_dir,
                      const char *db_name,
                      const char *repo_name,
                      GError **error)
{
  g_autofree char *db = g_build_filename (data_dir, db_name, NULL);
  g_autofree char *wal = g_strconcat (db, "-wal", NULL);
  g_autofree char *repo = g_build_filename (data_dir, repo_name, NULL);
  gboolean db_exists, wal_exists, has_refs, records;
  gint64 db_size, wal_size;

  g_return_val_if_fail (data_dir != NULL, FALSE);

  {
    g_autofree char *shm = g_strconcat (db, "-shm", NULL);
    g_autofree char *journal = g_strconcat (db, "-journal", NULL);
    const char *const own[] = { db, wal, shm, journal, repo };

    for (guint i = 0; i < G_N_ELEMENTS (own); i++)
      if (!prd_private_file_refuse_link (own[i], error))
        return FALSE;
  }

  if (!file_size (db, &db_exists, &db_size, error) ||
      !file_size (wal, &wal_exists, &wal_size, error))
    return FALSE;

  if (db_size == 0 && wal_size == 0)
    {
      if (!prd_git_repo_has_refs (repo, &has_refs, error))
        return FALSE;
      if (has_refs)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA,
                       "The database %s is %s, but the versions repository %s holds versions: "
                       "the database with the PRDs was lost, and a new empty one would be made. "
                       "Restore a backup (prdhub restore BACKUP --data-dir %s --force); or, to "
                       "start anew without those PRDs, move %s out of the data folder",
                       db, db_exists ? "empty" : "missing", repo, data_dir, repo_name);
          return FALSE;
        }
      return TRUE;
    }

  /* A repository with refs is taken as it is; a missing one, or one left
   * without any ref (emptied, made anew), has lost what the database
   * records, if it records anything. */
  if (!prd_git_repo_has_refs (repo, &has_refs, error))
    return FALSE;
  if (has_refs)
    return TRUE;
  if (!prd_sqlite_store_file_records_versions (db, &records, error))
    return FALSE;
  if (records)
    {
      gboolean exists = g_file_test (repo, G_FILE_TEST_EXISTS);

      g_set_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA,
                   "The database %s records versions of PRDs, but the versions repository %s "
                   "is %s: their texts are gone, and the next version would start a new "
                   "history. Put %s back, or restore a backup (prdhub restore BACKUP "
                   "--data-dir %s --force)",
                   db, repo, exists ? "empty (it holds no version)" : "missing", repo_name,
                   data_dir);
      return FALSE;
    }
  return TRUE;
}
