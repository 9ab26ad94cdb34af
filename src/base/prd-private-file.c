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
#include <string.h>
#include <sys/file.h>
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
 * prd_private_file_list_dirs:
 * @parent: a folder
 * @prefix: how the names looked for begin
 * @suffix_len: how many characters follow @prefix (the `XXXXXX` of a
 *   template), or 0 for any number
 *
 * The folders in @parent whose names begin with @prefix (symbolic links
 * and other files are left out): the temporary folders a command makes
 * beside what it writes, found again once it was stopped.
 *
 * Returns: (transfer full) (element-type filename): their paths, or %NULL
 *   with %PRD_ERROR_STORAGE if @parent cannot be read
 */
GPtrArray *
prd_private_file_list_dirs (const char *parent,
                            const char *prefix,
                            gsize suffix_len,
                            GError **error)
{
  g_autoptr (GPtrArray) found = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GDir) dir = NULL;
  const char *name;

  g_return_val_if_fail (parent != NULL, NULL);
  g_return_val_if_fail (prefix != NULL, NULL);

  dir = open_dir (parent, error);
  if (dir == NULL)
    return NULL;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      GStatBuf st;

      if (!g_str_has_prefix (name, prefix) ||
          (suffix_len > 0 && strlen (name) != strlen (prefix) + suffix_len))
        continue;
      path = g_build_filename (parent, name, NULL);
      if (g_lstat (path, &st) != 0 || !S_ISDIR (st.st_mode))
        continue;
      g_ptr_array_add (found, g_steal_pointer (&path));
    }
  return g_steal_pointer (&found);
}

/**
 * prd_private_file_make_held_dir:
 * @template: a path ending in `XXXXXX`, replaced as g_mkdtemp() does
 * @fd: (out): the new folder, open and locked (flock()) until closed
 *
 * Makes a new owner-only folder from @template and holds it, so that
 * prd_private_file_remove_stale_dirs() in another process leaves it alone
 * while this process lives. Close @fd once the folder is renamed or
 * removed (or let the process end).
 *
 * Returns: (transfer full): the folder's path, or %NULL with
 *   %PRD_ERROR_STORAGE
 */
char *
prd_private_file_make_held_dir (const char *template, int *fd, GError **error)
{
  g_autofree char *path = g_strdup (template);
  g_autofree char *parent = NULL;

  g_return_val_if_fail (template != NULL, NULL);
  g_return_val_if_fail (fd != NULL, NULL);

  *fd = -1;
  if (g_mkdtemp_full (path, 0700) == NULL)
    {
      parent = g_path_get_dirname (template);
      prd_private_file_set_errno_error (error, errno, "Cannot create a folder in", parent);
      return NULL;
    }
  *fd = g_open (path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
  if (*fd < 0 || flock (*fd, LOCK_EX | LOCK_NB) != 0)
    {
      prd_private_file_set_errno_error (error, errno, "Cannot hold the folder", path);
      if (*fd >= 0)
        close (*fd);
      *fd = -1;
      g_rmdir (path);
      return NULL;
    }
  return g_steal_pointer (&path);
}

/**
 * prd_private_file_remove_stale_dirs:
 * @parent: a folder
 * @prefix: how the names of the folders made from a template begin
 * @suffix_len: how many characters follow @prefix
 * @removed: (element-type filename): gets the paths of the folders removed
 *
 * Removes the folders prd_private_file_make_held_dir() made in @parent
 * (prd_private_file_list_dirs() of @prefix and @suffix_len) that no
 * process holds any longer: what a command killed on the way left (a
 * SIGKILL, a power loss). A folder still held is left alone.
 *
 * Returns: %FALSE with %PRD_ERROR_STORAGE if @parent cannot be read or a
 *   folder cannot be removed
 */
gboolean
prd_private_file_remove_stale_dirs (
    const char *parent, const char *prefix, gsize suffix_len, GPtrArray *removed, GError **error)
{
  g_autoptr (GPtrArray) found = NULL;

  g_return_val_if_fail (removed != NULL, FALSE);

  found = prd_private_file_list_dirs (parent, prefix, suffix_len, error);
  if (found == NULL)
    return FALSE;
  for (guint i = 0; i < found->len; i++)
    {
      const char *path = found->pdata[i];
      int fd = g_open (path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
      gboolean ok;

      if (fd < 0)
        continue; /* gone, or no longer a folder */
      if (flock (fd, LOCK_EX | LOCK_NB) != 0)
        {
          close (fd); /* in use */
          continue;
        }
      ok = prd_private_file_remove_tree (path, error);
      close (fd);
      if (!ok)
        return FALSE;
      g_ptr_array_add (removed, g_strdup (path));
    }
  return TRUE;
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
