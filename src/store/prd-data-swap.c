/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Replacing a data folder's files with others (`prdhub restore`) so that a
 * crash or a power loss at any moment leaves either the old files or the
 * new ones, never neither.
 *
 * A swap has a folder of its own in the data folder,
 * `<data-dir>/.restore-XXXXXX`:
 *
 *   new/       the files to put in place, copied and checked there first
 *   complete   written (and flushed) once new/ is complete and flushed: the
 *              names of the files in new/ and of every data folder file
 *              they replace. Before it exists the swap has changed nothing;
 *              once it exists the swap is finished, whatever happens.
 *   old/       the data folder's replaced files, moved aside
 *
 * Finishing moves every replaced file that is still the old one into old/,
 * flushes, moves the new files in, flushes, then removes the swap's folder
 * (the mark last). Each step is a rename within one file system, and each
 * state between two steps tells which files are old: a name of new/ still
 * in new/ has not been moved in, so the data folder's file of that name is
 * the old one. Finishing again from any of these states ends the same way.
 *
 * Every open of a data folder (a hub starting, a command) calls
 * prd_data_swap_recover() first: a swap found with its mark is finished, one
 * without it is removed (the data folder's files were not touched), and the
 * log says which.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "prd-error.h"
#include "prd-private-file.h"

#include "prd-data-swap.h"

#define COMPLETE_GROUP "swap"

/**
 * prd_data_swap_begin:
 * @data_dir: a data folder, held with a #PrdDataLock
 *
 * Makes the folder of a new swap in @data_dir, with its `new/` folder (mode
 * 0700) for the caller to fill.
 *
 * Returns: (transfer full): the swap's folder, or %NULL with
 *   %PRD_ERROR_STORAGE
 */
char *
prd_data_swap_begin (const char *data_dir, GError **error)
{
  g_autofree char *swap_dir = NULL;
  g_autofree char *new_dir = NULL;

  g_return_val_if_fail (data_dir != NULL, NULL);

  swap_dir = g_build_filename (data_dir, PRD_DATA_SWAP_PREFIX "XXXXXX", NULL);
  if (g_mkdtemp_full (swap_dir, 0700) == NULL)
    {
      prd_private_file_set_errno_error (error, errno, "Cannot create a folder in", data_dir);
      return NULL;
    }
  new_dir = g_build_filename (swap_dir, PRD_DATA_SWAP_NEW, NULL);
  if (g_mkdir (new_dir, 0700) != 0)
    {
      prd_private_file_set_errno_error (error, errno, "Cannot create", new_dir);
      g_rmdir (swap_dir);
      return NULL;
    }
  return g_steal_pointer (&swap_dir);
}

/* A name the mark may hold: a file right in the data folder. */
static gboolean
is_plain_name (const char *name)
{
  return *name != '\0' && strchr (name, '/') == NULL && strcmp (name, ".") != 0 &&
         strcmp (name, "..") != 0;
}

/* Moves what is left of the swap into place (see the top of the file). */
static gboolean
finish (const char *swap_dir,
        const char *data_dir,
        const char *const *files,
        const char *const *replaced,
        GError **error)
{
  g_autofree char *new_dir = g_build_filename (swap_dir, PRD_DATA_SWAP_NEW, NULL);
  g_autofree char *old_dir = g_build_filename (swap_dir, PRD_DATA_SWAP_OLD, NULL);
  g_autofree char *complete = g_build_filename (swap_dir, PRD_DATA_SWAP_COMPLETE, NULL);

  if (g_mkdir (old_dir, 0700) != 0 && errno != EEXIST)
    return prd_private_file_set_errno_error (error, errno, "Cannot create", old_dir);

  /* The old files aside: a name with no new file, or whose new file is not
   * moved in yet, is still the old one in the data folder. */
  for (guint i = 0; replaced[i] != NULL; i++)
    {
      g_autofree char *path = g_build_filename (data_dir, replaced[i], NULL);
      g_autofree char *pending = g_build_filename (new_dir, replaced[i], NULL);
      g_autofree char *aside = g_build_filename (old_dir, replaced[i], NULL);

      if (!prd_private_file_lexists (path))
        continue;
      if (g_strv_contains (files, replaced[i]) && !prd_private_file_lexists (pending))
        continue;
      if (g_rename (path, aside) != 0)
        return prd_private_file_set_errno_error (error, errno, "Cannot move aside", path);
    }
  if (!prd_private_file_sync_dir (old_dir, FALSE, error) ||
      !prd_private_file_sync_dir (data_dir, FALSE, error))
    return FALSE;

  for (guint i = 0; files[i] != NULL; i++)
    {
      g_autofree char *pending = g_build_filename (new_dir, files[i], NULL);
      g_autofree char *path = g_build_filename (data_dir, files[i], NULL);

      if (prd_private_file_lexists (pending) && g_rename (pending, path) != 0)
        return prd_private_file_set_errno_error (error, errno, "Cannot move into place", pending);
    }
  if (!prd_private_file_sync_dir (data_dir, FALSE, error))
    return FALSE;

  /* The mark goes last: until then, finishing again only removes. */
  if (!prd_private_file_remove_tree (old_dir, error) ||
      !prd_private_file_remove_tree (new_dir, error))
    return FALSE;
  if (g_unlink (complete) != 0)
    return prd_private_file_set_errno_error (error, errno, "Cannot remove", complete);
  if (g_rmdir (swap_dir) != 0)
    return prd_private_file_set_errno_error (error, errno, "Cannot remove", swap_dir);
  return prd_private_file_sync_dir (data_dir, FALSE, error);
}

/**
 * prd_data_swap_commit:
 * @swap_dir: a swap's folder (prd_data_swap_begin()), its `new/` folder
 *   filled and flushed to disk
 * @data_dir: the data folder, held with a #PrdDataLock
 * @files: the names of the files in `new/`
 * @replaced: the names of every file of @data_dir the swap replaces
 *   (whether the new files have one of that name or not)
 *
 * Marks the swap complete, then moves the new files into @data_dir in place
 * of the old ones and removes the swap's folder. Once the mark is written the
 * swap is done: if this fails or the process dies after it, the next
 * prd_data_swap_recover() on @data_dir finishes it.
 *
 * Returns: %FALSE with %PRD_ERROR_STORAGE; %PRD_ERROR_INVALID_PAYLOAD for a
 *   name that is not a plain file name (then nothing changed)
 */
gboolean
prd_data_swap_commit (const char *swap_dir,
                      const char *data_dir,
                      const char *const *files,
                      const char *const *replaced,
                      GError **error)
{
  g_autoptr (GKeyFile) mark = g_key_file_new ();
  g_autofree char *complete = NULL;
  g_autofree char *text = NULL;
  gsize len;

  g_return_val_if_fail (swap_dir != NULL, FALSE);
  g_return_val_if_fail (data_dir != NULL, FALSE);
  g_return_val_if_fail (files != NULL, FALSE);
  g_return_val_if_fail (replaced != NULL, FALSE);

  for (guint i = 0; files[i] != NULL; i++)
    if (!is_plain_name (files[i]) || !g_strv_contains (replaced, files[i]))
      {
        g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                     "%s is not a file the swap replaces", files[i]);
        return FALSE;
      }
  for (guint i = 0; replaced[i] != NULL; i++)
    if (!is_plain_name (replaced[i]))
      {
        g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                     "%s is not a file name of the data folder", replaced[i]);
        return FALSE;
      }

  g_key_file_set_string_list (mark, COMPLETE_GROUP, "files", files,
                              g_strv_length ((char **) files));
  g_key_file_set_string_list (mark, COMPLETE_GROUP, "replaced", replaced,
                              g_strv_length ((char **) replaced));
  text = g_key_file_to_data (mark, &len, NULL);
  complete = g_build_filename (swap_dir, PRD_DATA_SWAP_COMPLETE, NULL);
  /* g_file_set_contents() writes a temporary file, flushes it and renames
   * it: the mark is whole or absent. */
  if (!g_file_set_contents_full (complete, text, (gssize) len,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0600,
                                 error))
    return FALSE;
  if (!prd_private_file_sync_dir (swap_dir, FALSE, error) ||
      !prd_private_file_sync_dir (data_dir, FALSE, error))
    return FALSE;
  return finish (swap_dir, data_dir, files, replaced, error);
}

/**
 * prd_data_swap_abandon:
 * @swap_dir: a swap's folder that has no mark yet
 *
 * Removes the swap's folder; the data folder's files were not touched.
 *
 * Returns: %FALSE with %PRD_ERROR_STORAGE if it could not be removed
 */
gboolean
prd_data_swap_abandon (const char *swap_dir, GError **error)
{
  g_return_val_if_fail (swap_dir != NULL, FALSE);

  return prd_private_file_remove_tree (swap_dir, error);
}

/* Whether @swap_dir is not a swap's: never marked complete, and holding
 * something else than a swap's new/ and the temporary file of a mark being
 * written (a folder an old release's restore left, say). Such a folder is
 * left alone; it does not make anyone wait for the data folder's lock. */
static gboolean
is_foreign (const char *swap_dir)
{
  g_autofree char *complete = g_build_filename (swap_dir, PRD_DATA_SWAP_COMPLETE, NULL);
  g_autoptr (GDir) dir = NULL;
  const char *name;

  if (prd_private_file_lexists (complete))
    return FALSE;
  dir = g_dir_open (swap_dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (strcmp (name, PRD_DATA_SWAP_NEW) != 0 &&
        !g_str_has_prefix (name, PRD_DATA_SWAP_COMPLETE "."))
      return TRUE;
  return FALSE;
}

/* Finishes or removes the swap @swap_dir of @data_dir. */
static gboolean
recover_one (const char *data_dir, const char *swap_dir, GError **error)
{
  g_autofree char *complete = g_build_filename (swap_dir, PRD_DATA_SWAP_COMPLETE, NULL);
  g_autoptr (GKeyFile) mark = g_key_file_new ();
  g_autoptr (GError) local_error = NULL;
  g_auto (GStrv) files = NULL;
  g_auto (GStrv) replaced = NULL;

  if (is_foreign (swap_dir))
    return TRUE;
  if (!prd_private_file_lexists (complete))
    {
      /* A folder of a swap (new/, and the temporary file of a mark being
       * written, at most) that was never marked complete: the data
       * folder's files are as they were. */
      if (!prd_private_file_remove_tree (swap_dir, error))
        return FALSE;
      g_message ("Removed %s, the copy of a restore that stopped before it replaced any file of "
                 "%s: the data folder is as it was before that restore",
                 swap_dir, data_dir);
      return TRUE;
    }
  if (!g_key_file_load_from_file (mark, complete, G_KEY_FILE_NONE, &local_error) ||
      (files = g_key_file_get_string_list (mark, COMPLETE_GROUP, "files", NULL, &local_error)) ==
          NULL ||
      (replaced = g_key_file_get_string_list (mark, COMPLETE_GROUP, "replaced", NULL,
                                              &local_error)) == NULL)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA,
                   "Cannot finish the restore interrupted in %s: %s: %s", data_dir, complete,
                   local_error->message);
      return FALSE;
    }
  for (guint i = 0; replaced[i] != NULL; i++)
    if (!is_plain_name (replaced[i]))
      {
        g_set_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA,
                     "Cannot finish the restore interrupted in %s: %s names %s", data_dir, complete,
                     replaced[i]);
        return FALSE;
      }
  for (guint i = 0; files[i] != NULL; i++)
    if (!is_plain_name (files[i]) || !g_strv_contains ((const char *const *) replaced, files[i]))
      {
        g_set_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA,
                     "Cannot finish the restore interrupted in %s: %s names %s", data_dir, complete,
                     files[i]);
        return FALSE;
      }
  if (!finish (swap_dir, data_dir, (const char *const *) files, (const char *const *) replaced,
               error))
    {
      g_prefix_error (error, "Cannot finish the restore interrupted in %s: ", data_dir);
      return FALSE;
    }
  g_message ("Finished the restore that was interrupted in %s: its files replaced the old ones",
             data_dir);
  return TRUE;
}

/* The swap folders in @data_dir; folders named like them that are not
 * (is_foreign()) are left out, with a warning when @warn. */
static GPtrArray *
find_swaps (const char *data_dir, gboolean warn, GError **error)
{
  g_autoptr (GPtrArray) swaps = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) found = NULL;

  found = prd_private_file_list_dirs (data_dir, PRD_DATA_SWAP_PREFIX, 0, error);
  if (found == NULL)
    return NULL;
  for (guint i = 0; i < found->len; i++)
    {
      const char *path = found->pdata[i];

      if (is_foreign (path))
        {
          if (warn)
            g_warning ("Left %s alone: it is not the folder of an unfinished restore", path);
          continue;
        }
      g_ptr_array_add (swaps, g_strdup (path));
    }
  return g_steal_pointer (&swaps);
}

/**
 * prd_data_swap_recover:
 * @data_dir: an existing data folder
 * @lock: (nullable): the lock of @data_dir if this process holds it
 *
 * Finishes a swap (a restore) that was interrupted in @data_dir after it was
 * marked complete, and removes one interrupted before; logs what it did. To
 * be called before anything opens the data folder's files. Without @lock,
 * the data folder is locked while a swap is dealt with, and a swap while
 * another process holds the lock (a restore under way) is an error.
 *
 * Returns: %FALSE with %PRD_ERROR_STORAGE (the data folder's lock is held
 *   by another process, or a file could not be moved) or
 *   %PRD_ERROR_CORRUPT_DATA (a swap's mark cannot be read)
 */
gboolean
prd_data_swap_recover (const char *data_dir, PrdDataLock *lock, GError **error)
{
  g_autoptr (GPtrArray) swaps = NULL;
  g_autoptr (PrdDataLock) own_lock = NULL;

  g_return_val_if_fail (data_dir != NULL, FALSE);

  swaps = find_swaps (data_dir, TRUE, error);
  if (swaps == NULL)
    return FALSE;
  if (swaps->len == 0)
    return TRUE;
  if (lock == NULL)
    {
      own_lock = prd_data_lock_acquire (data_dir, error);
      if (own_lock == NULL)
        {
          g_prefix_error (error, "A restore into %s is unfinished: ", data_dir);
          return FALSE;
        }
      /* Another process may have dealt with them meanwhile. */
      g_clear_pointer (&swaps, g_ptr_array_unref);
      swaps = find_swaps (data_dir, FALSE, error);
      if (swaps == NULL)
        return FALSE;
    }
  for (guint i = 0; i < swaps->len; i++)
    if (!recover_one (data_dir, swaps->pdata[i], error))
      return FALSE;
  return TRUE;
}
