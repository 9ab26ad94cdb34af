/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdFileSecretStore: the fallback where no Secret Service runs (a headless
 * server, CI). Secrets are the keys of the [secrets] group of
 * `<dir>/secrets`, a key file of mode 0600 in a folder of mode 0700.
 *
 * A file that group or others may read is refused rather than used or
 * silently fixed: its secrets may already have leaked, and the operator
 * should know. Writes replace the file atomically (write, fsync, rename),
 * so a crash never leaves half a file. File work runs in a worker thread,
 * one operation at a time.
 *
 * A write reads the whole file, changes one key and writes it back; two
 * processes doing so at once (`prdhub secret set` beside a running hub, or
 * two of them) would each write back the file without the other's key.
 * Every write therefore holds an exclusive flock(2) on `<dir>/secrets.lock`
 * from before it reads the file until the new one is in place. It waits at
 * most LOCK_WAIT_MS for another process's write to end, then fails with
 * %PRD_ERROR_STORAGE naming the lock file. Reads need no lock: the file is
 * only ever replaced whole.
 */
#define G_LOG_DOMAIN "prd-store"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "prd-error.h"

#include "prd-file-secret-store-private.h"

#define SECRETS_GROUP "secrets"
/* Far more than any set of credentials; a bigger file is not ours. */
#define MAX_FILE_SIZE (8 * 1024 * 1024)
/* The longest a write waits for another process's write to the file: far
 * longer than one write takes (a few fsyncs), short enough that a stuck
 * holder is reported rather than waited for forever. */
#define LOCK_WAIT_MS 10000
/* How often a waiting write tries the lock again. */
#define LOCK_RETRY_MS 10

struct _PrdFileSecretStore
{
  GObject parent_instance;

  char *dir;       /* (owned) */
  char *path;      /* (owned) */
  char *lock_path; /* (owned) */
  guint lock_wait_ms;
  GMutex lock;
};

static void secret_store_iface_init (PrdSecretStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PrdFileSecretStore,
                               prd_file_secret_store,
                               G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PRD_TYPE_SECRET_STORE,
                                                      secret_store_iface_init))

typedef enum
{
  OP_LOOKUP,
  OP_STORE,
  OP_DELETE,
  OP_LIST,
} Op;

typedef struct
{
  Op op;
  char *name;  /* (owned) (nullable) */
  char *value; /* (owned) (nullable) */
} OpData;

static void
op_data_free (gpointer data)
{
  OpData *od = data;

  g_free (od->name);
  if (od->value != NULL)
    {
      memset (od->value, 0, strlen (od->value));
      g_free (od->value);
    }
  g_free (od);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Reads the key file; a missing file is an empty one. */
static GKeyFile *
load_file (PrdFileSecretStore *self, GError **error)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autoptr (GError) parse_error = NULL;
  g_autofree char *contents = NULL;
  gsize len = 0;
  struct stat st;
  int fd;

  fd = open (self->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    {
      int saved_errno = errno;

      if (saved_errno == ENOENT)
        return g_steal_pointer (&file);
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "Cannot open the secrets file %s: %s",
                   self->path, g_strerror (saved_errno));
      return NULL;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "The secrets file %s is not a regular file",
                   self->path);
      return NULL;
    }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    {
      close (fd);
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "The secrets file %s is accessible by group or others (mode %04o); "
                   "its secrets may have leaked: replace them, then run `chmod 600 %s`",
                   self->path, (unsigned) (st.st_mode & 07777), self->path);
      return NULL;
    }
  if (st.st_uid != geteuid ())
    {
      close (fd);
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "The secrets file %s belongs to another user", self->path);
      return NULL;
    }
  if (st.st_size > MAX_FILE_SIZE)
    {
      close (fd);
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "The secrets file %s is larger than %d bytes", self->path, MAX_FILE_SIZE);
      return NULL;
    }

  contents = g_malloc ((gsize) st.st_size + 1);
  while (len < (gsize) st.st_size)
    {
      ssize_t n = read (fd, contents + len, (gsize) st.st_size - len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      len += (gsize) n;
    }
  close (fd);
  contents[len] = '\0';

  if (!g_key_file_load_from_data (file, contents, len, G_KEY_FILE_NONE, &parse_error))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA,
                   "The secrets file %s is not a valid key file: %s", self->path,
                   parse_error->message);
      return NULL;
    }
  memset (contents, 0, len);
  return g_steal_pointer (&file);
}

/* The folder of the file, created if need be, and writable by its owner only. */
static gboolean
prepare_dir (PrdFileSecretStore *self, GError **error)
{
  struct stat st;

  if (g_mkdir_with_parents (self->dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "Cannot create the folder %s: %s", self->dir,
                   g_strerror (saved_errno));
      return FALSE;
    }
  /* Whoever may write to the folder may swap the file for their own. */
  if (g_stat (self->dir, &st) != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "The folder %s of the secrets file is writable by group or others; "
                   "run `chmod 700 %s`",
                   self->dir, self->dir);
      return FALSE;
    }
  return TRUE;
}

/* Takes the lock that keeps other processes' writes out until the returned
 * descriptor is closed; -1 with @error when it cannot be opened, or another
 * process holds it for longer than the wait. */
static int
lock_for_write (PrdFileSecretStore *self, GCancellable *cancellable, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) self->lock_wait_ms * 1000;
  int fd;

  fd = g_open (self->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "Cannot open the lock file %s: %s",
                   self->lock_path, g_strerror (saved_errno));
      return -1;
    }
  while (flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      int saved_errno = errno;

      if (saved_errno == EINTR)
        continue;
      if (saved_errno != EWOULDBLOCK)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "Cannot lock %s: %s", self->lock_path,
                       g_strerror (saved_errno));
          close (fd);
          return -1;
        }
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          close (fd);
          return -1;
        }
      if (g_get_monotonic_time () >= deadline)
        {
          g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE,
                       "Another process has been writing the secrets file %s for more than %u ms "
                       "(it holds %s); nothing was changed, try again",
                       self->path, self->lock_wait_ms, self->lock_path);
          close (fd);
          return -1;
        }
      g_usleep (LOCK_RETRY_MS * 1000);
    }
  return fd;
}

static gboolean
save_file (PrdFileSecretStore *self, GKeyFile *file, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autofree char *data = NULL;
  gsize len;
  gboolean ok;

  data = g_key_file_to_data (file, &len, NULL);
  ok = g_file_set_contents_full (self->path, data, (gssize) len,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0600,
                                 &local_error);
  memset (data, 0, len);
  if (!ok)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_STORAGE, "Cannot write the secrets file %s: %s",
                   self->path, local_error->message);
      return FALSE;
    }
  return TRUE;
}

static void
run_op (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  PrdFileSecretStore *self = source;
  OpData *od = task_data;
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  g_autoptr (GKeyFile) file = NULL;
  GError *error = NULL;
  int lock_fd = -1;

  if (g_cancellable_is_cancelled (cancellable))
    {
      g_task_return_new_error (task, PRD_ERROR, PRD_ERROR_CANCELLED, "Cancelled");
      return;
    }

  /* A write reads the file under the lock, so that it changes what the
   * last writer, in whichever process, left. A delete in a folder that
   * does not exist finds nothing and needs no lock. */
  if (od->op == OP_STORE || (od->op == OP_DELETE && g_file_test (self->dir, G_FILE_TEST_IS_DIR)))
    {
      if (!prepare_dir (self, &error) || (lock_fd = lock_for_write (self, cancellable, &error)) < 0)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            {
              g_clear_error (&error);
              g_set_error_literal (&error, PRD_ERROR, PRD_ERROR_CANCELLED, "Cancelled");
            }
          g_task_return_error (task, error);
          return;
        }
    }

  file = load_file (self, &error);
  if (file == NULL)
    {
      if (lock_fd >= 0)
        close (lock_fd);
      g_task_return_error (task, error);
      return;
    }

  switch (od->op)
    {
      case OP_LOOKUP:
        {
          char *value = g_key_file_get_string (file, SECRETS_GROUP, od->name, NULL);

          if (value == NULL)
            g_task_return_new_error (task, PRD_ERROR, PRD_ERROR_NOT_FOUND,
                                     "There is no secret named \"%s\" in %s", od->name, self->path);
          else
            g_task_return_pointer (task, value, g_free);
        }
        break;

      case OP_STORE:
        g_key_file_set_string (file, SECRETS_GROUP, od->name, od->value);
        if (save_file (self, file, &error))
          g_task_return_boolean (task, TRUE);
        else
          g_task_return_error (task, error);
        break;

      case OP_DELETE:
        if (!g_key_file_remove_key (file, SECRETS_GROUP, od->name, NULL))
          g_task_return_new_error (task, PRD_ERROR, PRD_ERROR_NOT_FOUND,
                                   "There is no secret named \"%s\" in %s", od->name, self->path);
        else if (save_file (self, file, &error))
          g_task_return_boolean (task, TRUE);
        else
          g_task_return_error (task, error);
        break;

      case OP_LIST:
        {
          g_auto (GStrv) keys = g_key_file_get_keys (file, SECRETS_GROUP, NULL, NULL);
          g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

          for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
            if (prd_secret_name_is_valid (keys[i]))
              g_ptr_array_add (names, g_strdup (keys[i]));
          g_ptr_array_sort (names, compare_names);
          g_ptr_array_set_free_func (names, NULL);
          g_ptr_array_add (names, NULL);
          g_task_return_pointer (task, g_ptr_array_free (g_steal_pointer (&names), FALSE),
                                 (GDestroyNotify) g_strfreev);
        }
        break;

      default:
        g_assert_not_reached ();
    }
  /* The new file is in place (or nothing changed): other writers may go on. */
  if (lock_fd >= 0)
    close (lock_fd);
}

static GTask *
new_op (PrdFileSecretStore *self,
        Op op,
        const char *name,
        const char *value,
        gpointer tag,
        GCancellable *cancellable,
        GAsyncReadyCallback callback,
        gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  OpData *od = g_new0 (OpData, 1);

  od->op = op;
  od->name = g_strdup (name);
  od->value = g_strdup (value);
  g_task_set_source_tag (task, tag);
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_task_data (task, od, op_data_free);
  return task;
}

static void
start_op (PrdFileSecretStore *self,
          Op op,
          const char *name,
          const char *value,
          gpointer tag,
          GCancellable *cancellable,
          GAsyncReadyCallback callback,
          gpointer user_data)
{
  g_autoptr (GTask) task = new_op (self, op, name, value, tag, cancellable, callback, user_data);

  g_task_run_in_thread (task, run_op);
}

/* The blocking forms: the same operation on a worker thread, waited for. */
static GTask *
run_op_sync (PrdSecretStore *store,
             Op op,
             const char *name,
             const char *value,
             gpointer tag,
             GCancellable *cancellable)
{
  GTask *task =
      new_op (PRD_FILE_SECRET_STORE (store), op, name, value, tag, cancellable, NULL, NULL);

  g_task_run_in_thread_sync (task, run_op);
  return task;
}

static char *
prd_file_secret_store_lookup_sync (PrdSecretStore *store,
                                   const char *name,
                                   GCancellable *cancellable,
                                   GError **error)
{
  g_autoptr (GTask) task =
      run_op_sync (store, OP_LOOKUP, name, NULL, prd_file_secret_store_lookup_sync, cancellable);

  return g_task_propagate_pointer (task, error);
}

static gboolean
prd_file_secret_store_store_sync (PrdSecretStore *store,
                                  const char *name,
                                  const char *value,
                                  GCancellable *cancellable,
                                  GError **error)
{
  g_autoptr (GTask) task =
      run_op_sync (store, OP_STORE, name, value, prd_file_secret_store_store_sync, cancellable);

  return g_task_propagate_boolean (task, error);
}

static gboolean
prd_file_secret_store_delete_sync (PrdSecretStore *store,
                                   const char *name,
                                   GCancellable *cancellable,
                                   GError **error)
{
  g_autoptr (GTask) task =
      run_op_sync (store, OP_DELETE, name, NULL, prd_file_secret_store_delete_sync, cancellable);

  return g_task_propagate_boolean (task, error);
}

static GStrv
prd_file_secret_store_list_sync (PrdSecretStore *store, GCancellable *cancellable, GError **error)
{
  g_autoptr (GTask) task =
      run_op_sync (store, OP_LIST, NULL, NULL, prd_file_secret_store_list_sync, cancellable);

  return g_task_propagate_pointer (task, error);
}

static void
prd_file_secret_store_lookup_async (PrdSecretStore *store,
                                    const char *name,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  start_op (PRD_FILE_SECRET_STORE (store), OP_LOOKUP, name, NULL,
            prd_file_secret_store_lookup_async, cancellable, callback, user_data);
}

static char *
prd_file_secret_store_lookup_finish (PrdSecretStore *store, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
prd_file_secret_store_store_async (PrdSecretStore *store,
                                   const char *name,
                                   const char *value,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  start_op (PRD_FILE_SECRET_STORE (store), OP_STORE, name, value, prd_file_secret_store_store_async,
            cancellable, callback, user_data);
}

static gboolean
prd_file_secret_store_boolean_finish (PrdSecretStore *store, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
prd_file_secret_store_delete_async (PrdSecretStore *store,
                                    const char *name,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  start_op (PRD_FILE_SECRET_STORE (store), OP_DELETE, name, NULL,
            prd_file_secret_store_delete_async, cancellable, callback, user_data);
}

static void
prd_file_secret_store_list_async (PrdSecretStore *store,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  start_op (PRD_FILE_SECRET_STORE (store), OP_LIST, NULL, NULL, prd_file_secret_store_list_async,
            cancellable, callback, user_data);
}

static GStrv
prd_file_secret_store_list_finish (PrdSecretStore *store, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static const char *
prd_file_secret_store_get_description (PrdSecretStore *store)
{
  return PRD_FILE_SECRET_STORE (store)->path;
}

static void
secret_store_iface_init (PrdSecretStoreInterface *iface)
{
  iface->get_description = prd_file_secret_store_get_description;
  iface->lookup_async = prd_file_secret_store_lookup_async;
  iface->lookup_finish = prd_file_secret_store_lookup_finish;
  iface->store_async = prd_file_secret_store_store_async;
  iface->store_finish = prd_file_secret_store_boolean_finish;
  iface->delete_async = prd_file_secret_store_delete_async;
  iface->delete_finish = prd_file_secret_store_boolean_finish;
  iface->list_async = prd_file_secret_store_list_async;
  iface->list_finish = prd_file_secret_store_list_finish;
  iface->lookup_sync = prd_file_secret_store_lookup_sync;
  iface->store_sync = prd_file_secret_store_store_sync;
  iface->delete_sync = prd_file_secret_store_delete_sync;
  iface->list_sync = prd_file_secret_store_list_sync;
}

static void
prd_file_secret_store_finalize (GObject *object)
{
  PrdFileSecretStore *self = PRD_FILE_SECRET_STORE (object);

  g_free (self->dir);
  g_free (self->path);
  g_free (self->lock_path);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (prd_file_secret_store_parent_class)->finalize (object);
}

static void
prd_file_secret_store_class_init (PrdFileSecretStoreClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = prd_file_secret_store_finalize;
}

static void
prd_file_secret_store_init (PrdFileSecretStore *self)
{
  g_mutex_init (&self->lock);
  self->lock_wait_ms = LOCK_WAIT_MS;
}

/**
 * prd_file_secret_store_new:
 * @dir: the folder of the `secrets` file (created 0700 on first write)
 *
 * Returns: (transfer full): a store over `@dir/secrets`
 */
PrdSecretStore *
prd_file_secret_store_new (const char *dir)
{
  PrdFileSecretStore *self;

  g_return_val_if_fail (dir != NULL, NULL);

  self = g_object_new (PRD_TYPE_FILE_SECRET_STORE, NULL);
  self->dir = g_canonicalize_filename (dir, NULL);
  self->path = g_build_filename (self->dir, PRD_FILE_SECRET_STORE_FILE, NULL);
  self->lock_path = g_build_filename (self->dir, PRD_FILE_SECRET_STORE_LOCK_FILE, NULL);
  return PRD_SECRET_STORE (self);
}

/**
 * prd_file_secret_store_get_path:
 *
 * Returns: (transfer none): the path of the `secrets` file
 */
const char *
prd_file_secret_store_get_path (PrdFileSecretStore *self)
{
  g_return_val_if_fail (PRD_IS_FILE_SECRET_STORE (self), NULL);

  return self->path;
}

/**
 * prd_file_secret_store_set_lock_wait:
 * @wait_ms: the longest a write waits for another process's write
 *
 * For the tests: a shorter wait than the default 10 seconds.
 */
void
prd_file_secret_store_set_lock_wait (PrdFileSecretStore *self, guint wait_ms)
{
  g_return_if_fail (PRD_IS_FILE_SECRET_STORE (self));

  self->lock_wait_ms = wait_ms;
}
