/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What the hub keeps (the database and its WAL, the versions repository)
 * holds every organization's PRDs: only its owner may read it, whatever
 * the umask and however the data folder was made. A symbolic link in its
 * place is refused rather than followed: the file it points to, elsewhere,
 * would be used without ever being made private (and making it so would
 * change a file outside the data folder).
 */
#define G_LOG_DOMAIN "prd-base"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prd-error.h"

#include "prd-private-file.h"

/**
 * prd_private_file_refuse_link:
 * @path: a file or folder of a data folder or backup
 *
 * Refuses @path if it is a symbolic link (a dangling one included). A
 * @path that does not exist, or is not a link, is fine.
 *
 * Returns: %FALSE with %PRD_ERROR_INVALID_PAYLOAD naming @path if it is a
 *   symbolic link
 */
gboolean
prd_private_file_refuse_link (const char *path, GError **error)
{
  GStatBuf st;

  g_return_val_if_fail (path != NULL, FALSE);

  if (g_lstat (path, &st) != 0 || !S_ISLNK (st.st_mode))
    return TRUE;
  g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
               "%s is a symbolic link: a prdhub data or backup folder holds the files "
               "themselves (move the file it points to into its place)",
               path);
  return FALSE;
}

/**
 * prd_private_file_create:
 * @path: a file
 *
 * Creates @path, empty and readable by its owner only, unless it exists
 * (then it is left as it is: see prd_private_file_restrict()). A symbolic
 * link at @path is refused (prd_private_file_refuse_link()), never followed.
 *
 * Returns: %FALSE with %PRD_ERROR_STORAGE if it could not be created, or
 *   %PRD_ERROR_INVALID_PAYLOAD if it is a symbolic link
 */
gboolean
prd_private_file_create (const char *path, GError **error)
{
  int fd;

  g_return_val_if_fail (path != NULL, FALSE);

  if (!prd_private_file_refuse_link (path, error))
    return FALSE;
  fd = g_open (path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    {
      int saved_errno = errno;

      /* made a link since the check above */
      if (saved_errno == ELOOP)
        return prd_private_file_refuse_link (path, error);

      g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "Cannot create %s: %s", path,
                   g_strerror (saved_errno));
      return FALSE;
    }
  close (fd);
  return TRUE;
}

/**
 * prd_private_file_restrict:
 * @path: a file or folder
 *
 * Takes every permission of group and others away from @path if it has
 * any (an existing database of an older prdhub, made under a umask of
 * 022, say). A @path that does not exist is fine; a symbolic link is
 * refused (prd_private_file_refuse_link()): what it points to is not made
 * private, and would be used as it is.
 *
 * Returns: %FALSE with %PRD_ERROR_STORAGE if @path could not be changed
 *   (it belongs to somebody else, say), %PRD_ERROR_INVALID_PAYLOAD if it
 *   is a symbolic link
 */
gboolean
prd_private_file_restrict (const char *path, GError **error)
{
  GStatBuf st;

  g_return_val_if_fail (path != NULL, FALSE);

  if (g_lstat (path, &st) != 0)
    {
      int saved_errno = errno;

      if (saved_errno == ENOENT)
        return TRUE;
      g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "Cannot read the permissions of %s: %s",
                   path, g_strerror (saved_errno));
      return FALSE;
    }
  if (S_ISLNK (st.st_mode))
    return prd_private_file_refuse_link (path, error);
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) == 0)
    return TRUE;
  if (g_chmod (path, st.st_mode & S_IRWXU) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE,
                   "%s can be read by other users (mode %04o) and cannot be made private: %s", path,
                   (unsigned) (st.st_mode & 07777), g_strerror (saved_errno));
      return FALSE;
    }
  g_info ("Made %s readable by its owner only (it was %04o)", path,
          (unsigned) (st.st_mode & 07777));
  return TRUE;
}

/* g_dir_open() with the error in PRD_ERROR. */
static GDir *
open_dir (const char *path, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  GDir *dir = g_dir_open (path, 0, &local_error);

  if (dir == NULL)
    g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "Cannot read the folder %s: %s", path,
                 local_error->message);
  return dir;
}

/**
 * prd_private_file_restrict_tree:
 * @path: a file or folder
 *
 * prd_private_file_restrict() on @path and, for a folder, on everything in
 * it (symbolic links inside are left alone, never followed): for a copy made by a
 * library that uses the umask's modes (libgit2), so that every file of the
 * copy is owner-only, not only its top folder.
 *
 * Returns: %FALSE with %PRD_ERROR_STORAGE if something could not be changed
 */
gboolean
prd_private_file_restrict_tree (const char *path, GError **error)
{
  g_autoptr (GDir) dir = NULL;
  const char *name;

  g_return_val_if_fail (path != NULL, FALSE);

  if (!prd_private_file_restrict (path, error))
    return FALSE;
  if (!g_file_test (path, G_FILE_TEST_IS_DIR) || g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    return TRUE;
  dir = open_dir (path, error);
  if (dir == NULL)
    return FALSE;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        continue;
      if (!prd_private_file_restrict_tree (child, error))
        return FALSE;
    }
  return TRUE;
}

/**
 * prd_private_file_remove_tree:
 * @path: a file or folder
 *
 * Removes @path and, for a folder, what it holds; symbolic links are
 * removed, never followed. A @path that does not exist is fine.
 *
 * Returns: %FALSE with %PRD_ERROR_STORAGE if something could not be removed
 */
gboolean
prd_private_file_remove_tree (const char *path, GError **error)
{
  GStatBuf st;
  int saved_errno;

  g_return_val_if_fail (path != NULL, FALSE);

  if (g_lstat (path, &st) != 0)
    {
      saved_errno = errno;
      if (saved_errno == ENOENT)
        return TRUE;
      g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "Cannot read %s: %s", path,
                   g_strerror (saved_errno));
      return FALSE;
    }
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr (GDir) dir = open_dir (path, error);
      const char *name;

      if (dir == NULL)
        return FALSE;
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          if (!prd_private_file_remove_tree (child, error))
            return FALSE;
        }
      if (g_rmdir (path) == 0)
        return TRUE;
    }
  else if (g_unlink (path) == 0)
    return TRUE;
  saved_errno = errno;
  g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "Cannot remove %s: %s", path,
               g_strerror (saved_errno));
  return FALSE;
}

/**
 * prd_private_file_set_errno_error:
 * @what: what failed, e.g. "Cannot read"
 *
 * Sets @error (%PRD_ERROR_STORAGE) to a message naming @what, @path and the
 * cause (@saved_errno).
 *
 * Returns: %FALSE
 */
gboolean
prd_private_file_set_errno_error (GError **error,
                                  int saved_errno,
                                  const char *what,
                                  const char *path)
{
  g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "%s %s: %s", what, path,
               g_strerror (saved_errno));
  return FALSE;
}

/* Whether @path exists, as itself (a symbolic link is not followed). */
gboolean
prd_private_file_lexists (const char *path)
{
  GStatBuf st;

  return g_lstat (path, &st) == 0;
}

/**
 * prd_private_file_sync_dir:
 * @path: a folder
 * @whole_filesystem: also flush what was written anywhere on its file
 *   system (syncfs()), e.g. the files just copied under it
 *
 * Makes the renames in @path (and, with @whole_filesystem, what was
 * written) durable.
 *
 * Returns: %FALSE with %PRD_ERROR_STORAGE if it could not be flushed
 */
gboolean
prd_private_file_sync_dir (const char *path, gboolean whole_filesystem, GError **error)
{
  int fd = g_open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);

  if (fd < 0)
    return prd_private_file_set_errno_error (error, errno, "Cannot open", path);
  if ((whole_filesystem && syncfs (fd) != 0) || fsync (fd) != 0)
    {
      int saved_errno = errno;

      close (fd);
      return prd_private_file_set_errno_error (error, saved_errno, "Cannot flush to disk", path);
    }
  close (fd);
  return TRUE;
}
