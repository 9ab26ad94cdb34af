/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libgit2 1.5 has no connect or read timeout, and a push blocks its thread
 * until the remote answers. So the hub registers its own plain socket
 * stream with libgit2 (git_stream_register(GIT_STREAM_STANDARD)), which
 * libgit2 uses for http://, under TLS for https:// and for ssh://. Each
 * socket made on a thread inside prd_git_watch_begin()/end() belongs to
 * that watch: connect, read and write wait in poll() on the socket and on
 * the watch's wake-up pipe, so prd_git_watch_abort() (the watchdog, from
 * any thread) makes them fail at once; it also shuts the sockets down, for
 * libssh2, which reads the descriptor itself.
 *
 * The stream starts like libgit2's own socket stream (host, port, socket),
 * because libgit2's SSH transport reads the descriptor at that place.
 *
 * libgit2 keeps what a remote advertises (its refs) in memory as it reads
 * it: the sockets of one watch read at most PRD_GIT_WATCH_MAX_READ bytes
 * between them, so that a remote that never stops cannot take the hub's
 * memory in the time its watchdog allows. (libssh2 reads an ssh:// remote's
 * descriptor itself, past this count.) Why a socket stopped is kept in the
 * watch (prd_git_watch_dup_reason()): under TLS, libgit2 reports only the
 * TLS library's "Generic error" in its place.
 */
#define G_LOG_DOMAIN "prd-integration-git"

#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/stream.h>
#include <glib-unix.h>

#include "prd-git-watch.h"

struct _PrdGitWatch
{
  gatomicrefcount ref_count;
  GMutex lock;
  gboolean aborted; /* guarded by lock */
  GArray *sockets;  /* (element-type int) guarded by lock */
  guint64 received; /* guarded by lock: bytes its sockets read */
  char *reason;     /* (owned) (nullable) guarded by lock: why a socket stopped reading */
  int wake[2];      /* readable once aborted */
};

static GPrivate current_watch;

/* Laid out like libgit2's git_socket_stream up to `s`. */
typedef struct
{
  git_stream parent;
  char *host;
  char *port;
  int s;
  PrdGitWatch *watch; /* (owned) (nullable) */
} Stream;

PrdGitWatch *
prd_git_watch_new (void)
{
  PrdGitWatch *watch = g_new0 (PrdGitWatch, 1);
  GError *error = NULL;

  g_atomic_ref_count_init (&watch->ref_count);
  g_mutex_init (&watch->lock);
  watch->sockets = g_array_new (FALSE, FALSE, sizeof (int));
  if (!g_unix_open_pipe (watch->wake, FD_CLOEXEC, &error))
    g_error ("Cannot make a pipe: %s", error->message);
  if (!g_unix_set_fd_nonblocking (watch->wake[1], TRUE, &error))
    g_error ("Cannot make a pipe non-blocking: %s", error->message);
  return watch;
}

PrdGitWatch *
prd_git_watch_ref (PrdGitWatch *watch)
{
  g_atomic_ref_count_inc (&watch->ref_count);
  return watch;
}

void
prd_git_watch_unref (PrdGitWatch *watch)
{
  if (watch == NULL || !g_atomic_ref_count_dec (&watch->ref_count))
    return;
  close (watch->wake[0]);
  close (watch->wake[1]);
  g_array_unref (watch->sockets);
  g_free (watch->reason);
  g_mutex_clear (&watch->lock);
  g_free (watch);
}

/* The sockets this thread opens from now on belong to @watch. */
void
prd_git_watch_begin (PrdGitWatch *watch)
{
  g_private_set (&current_watch, watch);
}

void
prd_git_watch_end (PrdGitWatch *watch)
{
  g_private_set (&current_watch, NULL);
}

/* Ends what the watched thread waits for; it sees errors from now on. */
void
prd_git_watch_abort (PrdGitWatch *watch)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&watch->lock);

  if (watch->aborted)
    return;
  watch->aborted = TRUE;
  if (write (watch->wake[1], "x", 1) < 0)
    g_warning ("Cannot wake a git push up: %s", g_strerror (errno));
  for (guint i = 0; i < watch->sockets->len; i++)
    shutdown (g_array_index (watch->sockets, int, i), SHUT_RDWR);
}

gboolean
prd_git_watch_is_aborted (PrdGitWatch *watch)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&watch->lock);

  return watch->aborted;
}

/**
 * prd_git_watch_dup_reason:
 *
 * Returns: (transfer full) (nullable): why the hub stopped one of the
 *   watch's sockets (a remote that sent too much), %NULL if it did not
 */
char *
prd_git_watch_dup_reason (PrdGitWatch *watch)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&watch->lock);

  return g_strdup (watch->reason);
}

/* ---- the stream ---- */

static int
stream_fail (const char *what, int errsv)
{
  g_autofree char *message = g_strdup_printf ("%s: %s", what, g_strerror (errsv));

  git_error_set_str (GIT_ERROR_NET, message);
  return -1;
}

static int
stream_aborted (void)
{
  git_error_set_str (GIT_ERROR_NET, "stopped: the remote did not answer in time");
  return -1;
}

/* Waits until @fd is ready for @events; -1 once the watch is aborted. */
static int
stream_wait (Stream *stream, short events)
{
  struct pollfd fds[2] = {
    { .fd = stream->s, .events = events },
    { .fd = stream->watch != NULL ? stream->watch->wake[0] : -1, .events = POLLIN },
  };

  while (TRUE)
    {
      int rc = poll (fds, 2, -1);

      if (rc < 0 && errno == EINTR)
        continue;
      if (rc < 0)
        return stream_fail ("cannot wait on the connection", errno);
      if (fds[1].revents != 0)
        return stream_aborted ();
      return 0;
    }
}

static gboolean
stream_keep (Stream *stream)
{
  g_autoptr (GMutexLocker) locker = NULL;

  if (stream->watch == NULL)
    return TRUE;
  locker = g_mutex_locker_new (&stream->watch->lock);
  if (stream->watch->aborted)
    return FALSE;
  g_array_append_val (stream->watch->sockets, stream->s);
  return TRUE;
}

static void
stream_forget (Stream *stream)
{
  g_autoptr (GMutexLocker) locker = NULL;

  if (stream->watch == NULL)
    return;
  locker = g_mutex_locker_new (&stream->watch->lock);
  for (guint i = 0; i < stream->watch->sockets->len; i++)
    if (g_array_index (stream->watch->sockets, int, i) == stream->s)
      {
        g_array_remove_index_fast (stream->watch->sockets, i);
        break;
      }
}

static int
stream_connect_one (Stream *stream, const struct addrinfo *ai)
{
  int err = 0;
  socklen_t len = sizeof err;

  stream->s =
      socket (ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
  if (stream->s < 0)
    return errno;
  if (!stream_keep (stream))
    {
      close (stream->s);
      stream->s = -1;
      return ECANCELED;
    }
  if (connect (stream->s, ai->ai_addr, ai->ai_addrlen) == 0)
    err = 0;
  else if (errno != EINPROGRESS)
    err = errno;
  else if (stream_wait (stream, POLLOUT) < 0)
    err = ECANCELED;
  else if (getsockopt (stream->s, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    err = errno;
  if (err == 0)
    {
      /* libssh2 reads and writes the descriptor itself, blocking */
      if (!g_unix_set_fd_nonblocking (stream->s, FALSE, NULL))
        err = errno;
      else
        return 0;
    }
  stream_forget (stream);
  close (stream->s);
  stream->s = -1;
  return err;
}

static int
stream_connect (git_stream *base)
{
  Stream *stream = (Stream *) base;
  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
  struct addrinfo *list = NULL;
  int rc, err = ECONNREFUSED;

  if (stream->watch != NULL && prd_git_watch_is_aborted (stream->watch))
    return stream_aborted ();
  rc = getaddrinfo (stream->host, stream->port, &hints, &list);
  if (rc != 0)
    {
      g_autofree char *message =
          g_strdup_printf ("cannot resolve %s: %s", stream->host, gai_strerror (rc));

      git_error_set_str (GIT_ERROR_NET, message);
      return -1;
    }
  for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next)
    {
      err = stream_connect_one (stream, ai);
      if (err == 0 || err == ECANCELED)
        break;
    }
  freeaddrinfo (list);
  if (err == ECANCELED)
    return stream_aborted ();
  if (err != 0)
    {
      g_autofree char *what = g_strdup_printf ("cannot connect to %s", stream->host);

      return stream_fail (what, err);
    }
  return 0;
}

#define TOO_MUCH \
  "stopped: the remote sent more than " G_STRINGIFY (PRD_GIT_WATCH_MAX_READ_MIB) " MiB"

/* Counts @n more bytes read under @watch: FALSE past the limit (and the
 * watch keeps why). */
static gboolean
watch_count (PrdGitWatch *watch, gsize n)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&watch->lock);

  watch->received += n;
  if (watch->received <= PRD_GIT_WATCH_MAX_READ)
    return TRUE;
  if (watch->reason == NULL)
    watch->reason = g_strdup (TOO_MUCH);
  return FALSE;
}

static ssize_t
stream_read (git_stream *base, void *data, size_t len)
{
  Stream *stream = (Stream *) base;

  while (TRUE)
    {
      ssize_t n;

      if (stream_wait (stream, POLLIN) < 0)
        return -1;
      n = recv (stream->s, data, len, MSG_DONTWAIT);
      if (n >= 0 && stream->watch != NULL && !watch_count (stream->watch, n))
        {
          git_error_set_str (GIT_ERROR_NET, TOO_MUCH);
          return -1;
        }
      if (n >= 0)
        return n;
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return stream_fail ("cannot read from the remote", errno);
    }
}

static ssize_t
stream_write (git_stream *base, const char *data, size_t len, int flags)
{
  Stream *stream = (Stream *) base;
  size_t done = 0;

  while (done < len)
    {
      ssize_t n;

      if (stream_wait (stream, POLLOUT) < 0)
        return -1;
      n = send (stream->s, data + done, len - done, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n >= 0)
        done += (size_t) n;
      else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return stream_fail ("cannot write to the remote", errno);
    }
  return (ssize_t) len;
}

static int
stream_close (git_stream *base)
{
  Stream *stream = (Stream *) base;

  if (stream->s >= 0)
    {
      stream_forget (stream);
      close (stream->s);
      stream->s = -1;
    }
  return 0;
}

static void
stream_free (git_stream *base)
{
  Stream *stream = (Stream *) base;

  stream_close (base);
  g_free (stream->host);
  g_free (stream->port);
  prd_git_watch_unref (stream->watch);
  g_free (stream);
}

static int
stream_init (git_stream **out, const char *host, const char *port)
{
  Stream *stream = g_new0 (Stream, 1);
  PrdGitWatch *watch = g_private_get (&current_watch);

  stream->parent.version = GIT_STREAM_VERSION;
  stream->parent.connect = stream_connect;
  stream->parent.read = stream_read;
  stream->parent.write = stream_write;
  stream->parent.close = stream_close;
  stream->parent.free = stream_free;
  stream->host = g_strdup (host);
  stream->port = g_strdup (port);
  stream->s = -1;
  stream->watch = watch != NULL ? prd_git_watch_ref (watch) : NULL;
  *out = &stream->parent;
  return 0;
}

static gpointer
register_stream (gpointer data)
{
  static git_stream_registration registration = {
    .version = GIT_STREAM_VERSION,
    .init = stream_init,
  };

  git_libgit2_init ();
  if (git_stream_register (GIT_STREAM_STANDARD, &registration) != 0)
    g_error ("Cannot register the git socket stream");
  return NULL;
}

/**
 * prd_git_watch_setup:
 *
 * Initialises libgit2 and gives it the hub's socket stream (once).
 */
void
prd_git_watch_setup (void)
{
  static GOnce once = G_ONCE_INIT;

  g_once (&once, register_stream, NULL);
}
