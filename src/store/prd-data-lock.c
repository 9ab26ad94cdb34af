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
 * goes with the process, however it ends; the file stays. Commands that
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

struct _PrdDataLock
{
  int fd;
};

/* The process id the holder wrote, or NULL. */
static char *
read_holder (int fd)
{
  char buffer[32];
  ssize_t n = pread (fd, buffer, sizeof buffer - 1, 0);

  if (n <= 0)
    return NULL;
  buffer[n] = '\0';
  g_strstrip (buffer);
  for (const char *p = buffer; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p))
      return NULL;
  return buffer[0] != '\0' ? g_strdup (buffer) : NULL;
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
  pid = g_strdup_printf ("%ld\n", (long) getpid ());
  if (ftruncate (fd, 0) != 0 || pwrite (fd, pid, strlen (pid), 0) != (ssize_t) strlen (pid))
    g_debug ("Cannot write the process id into %s: %s", path, g_strerror (errno));
  lock = g_new0 (PrdDataLock, 1);
  lock->fd = fd;
  return lock;
}

/**
 * prd_data_lock_release:
 *
 * Lets the data folder go.
 */
void
prd_data_lock_release (PrdDataLock *lock)
{
  if (lock == NULL)
    return;
  /* Closing the descriptor releases the lock; the file stays, so that no
   * other process can lock a file that is about to be removed. */
  close (lock->fd);
  g_free (lock);
}
