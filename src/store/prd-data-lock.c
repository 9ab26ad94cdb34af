/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdDataLock: one hub per data folder.
 *
 * Each hub keeps its open PRDs in memory and appends to their update logs
 * in order; a second hub on the same folder would append over the first
 * one's sequence numbers and overwrite its snapshots. `prdhub serve` (and
 * `prdhub restore`, which replaces the folder's files) therefore holds an
 * exclusive flock(2) on <data-dir>/prdhub.lock for as long as it runs, with
 * its process id written in it for the message the next one gets. The lock
 * goes with the process, however it ends; the file stays, emptied when the
 * holder lets go (prd_data_lock_release()). A process id found in it by
 * the next holder therefore means the last one ended without letting go: it
 * crashed or was killed (prd_data_lock_get_left_by()). That news is kept
 * for the holder after it until one has dealt with it
 * (prd_data_lock_forget_left_by()). Commands that
 * only read or add to the database (`prd list`, `token revoke`, `backup`)
 * do not take it: SQLite serializes them with the hub.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "prd-error.h"

#include "prd-data-lock.h"

/* What prd_data_lock_release_restored() leaves in the file. */
#define RESTORED_MARK "restore"

struct _PrdDataLock
{
  int fd;
  char *left_by; /* (nullable): what the previous holder left in the file */
};

/* What the file holds (a process id, or RESTORED_MARK), or NULL. */
static char *
read_content (int fd)
{
  char buffer[32];
  ssize_t n = pread (fd, buffer, sizeof buffer - 1, 0);

  if (n <= 0)
    return NULL;
  buffer[n] = '\0';
  g_strstrip (buffer);
  return buffer[0] != '\0' ? g_strdup (buffer) : NULL;
}

/* The process id the holder wrote, or NULL. */
static char *
read_holder (int fd)
{
  g_autofree char *content = read_content (fd);

  for (const char *p = content; p != NULL && *p != '\0'; p++)
    if (!g_ascii_isdigit (*p))
      return NULL;
  return g_steal_pointer (&content);
}

/**
 * prd_data_lock_acquire:
 * @data_dir: an existing data folder
 *
 * Takes the data folder for this process.
 *
 * Returns: (transfer full): the lock, held until prd_data_lock_release()
 *   or the end of the process; %NULL with %PRD_ERROR_STORAGE when another
 *   process holds it, or the lock file cannot be opened
 */
PrdDataLock *
prd_data_lock_acquire (const char *data_dir, GError **error)
{
  g_autofree char *path = NULL;
  g_autofree char *pid = NULL;
  PrdDataLock *lock;
  int fd;

  g_return_val_if_fail (data_dir != NULL, NULL);

  path = g_build_filename (data_dir, PRD_DATA_LOCK_FILE, NULL);
  fd = g_open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "Cannot open %s: %s", path,
                   g_strerror (saved_errno));
      return NULL;
    }
  if (flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      int saved_errno = errno;
      g_autofree char *holder = read_holder (fd);

      close (fd);
      if (saved_errno == EWOULDBLOCK)
        g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE,
                     "Another prdhub (%s%s) is serving the data folder %s: stop it first, or give "
                     "this one another --data-dir",
                     holder != NULL ? "process " : "process id unknown",
                     holder != NULL ? holder : "", data_dir);
      else
        g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "Cannot lock %s: %s", path,
                     g_strerror (saved_errno));
      return NULL;
    }
  lock = g_new0 (PrdDataLock, 1);
  lock->fd = fd;
  lock->left_by = read_content (fd);
  pid = g_strdup_printf ("%ld\n", (long) getpid ());
  if (ftruncate (fd, 0) != 0 || pwrite (fd, pid, strlen (pid), 0) != (ssize_t) strlen (pid))
    g_debug ("Cannot write the process id into %s: %s", path, g_strerror (errno));
  return lock;
}

/**
 * prd_data_lock_get_left_by:
 * @lock: a #PrdDataLock
 *
 * How the folder's previous holder left it. %NULL: it let go
 * (prd_data_lock_release()), or there was none. Otherwise it did not: a
 * process id (that process crashed or was killed while it held the folder),
 * or `restore` (prd_data_lock_release_restored()); anything else found in
 * the file counts the same. Either way, what it handed out may not be in
 * the folder's files.
 *
 * Returns: (nullable): what the previous holder left
 */
const char *
prd_data_lock_get_left_by (PrdDataLock *lock)
{
  g_return_val_if_fail (lock != NULL, NULL);
  return lock->left_by;
}

/**
 * prd_data_lock_forget_left_by:
 * @lock: a #PrdDataLock
 *
 * Says that what the previous holder left (prd_data_lock_get_left_by()) has
 * been dealt with. Until then, prd_data_lock_release() puts it back in the
 * file, so that a holder that stops early (a start that fails) does not
 * hide it from the next.
 */
void
prd_data_lock_forget_left_by (PrdDataLock *lock)
{
  g_return_if_fail (lock != NULL);
  g_clear_pointer (&lock->left_by, g_free);
}

/**
 * prd_data_lock_leave_unclean:
 * @lock: a #PrdDataLock
 *
 * Makes prd_data_lock_release() leave this process's id in the file, as
 * if it had crashed: the next holder finds it with
 * prd_data_lock_get_left_by(). For a hub that lost operations it may have
 * handed out (a failed write) and could not be sure it dealt with that.
 */
void
prd_data_lock_leave_unclean (PrdDataLock *lock)
{
  g_return_if_fail (lock != NULL);
  g_free (lock->left_by);
  lock->left_by = g_strdup_printf ("%ld\n", (long) getpid ());
}

/**
 * prd_data_lock_release_restored:
 * @lock: (transfer full): a #PrdDataLock
 *
 * Lets the data folder go after its files were replaced by older ones (a
 * restore): the next holder finds `restore` with prd_data_lock_get_left_by().
 */
void
prd_data_lock_release_restored (PrdDataLock *lock)
{
  g_return_if_fail (lock != NULL);

  g_free (lock->left_by);
  lock->left_by = g_strdup (RESTORED_MARK "\n");
  prd_data_lock_release (lock);
}

/**
 * prd_data_lock_release:
 *
 * Lets the data folder go: the file is emptied, so that the next holder
 * knows this one let go; or, if what the previous holder left was not dealt
 * with (prd_data_lock_forget_left_by()), that is put back.
 */
void
prd_data_lock_release (PrdDataLock *lock)
{
  gsize len;

  if (lock == NULL)
    return;
  len = lock->left_by != NULL ? strlen (lock->left_by) : 0;
  if (ftruncate (lock->fd, 0) != 0 ||
      (len > 0 && pwrite (lock->fd, lock->left_by, len, 0) != (ssize_t) len))
    g_warning ("Cannot write the lock file of the data folder: %s", g_strerror (errno));
  /* Closing the descriptor releases the lock; the file stays, so that no
   * other process can lock a file that is about to be removed. */
  close (lock->fd);
  g_free (lock->left_by);
  g_free (lock);
}
