/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * One epoll set for many sockets: see prd-eio-poller.h.
 */
#define G_LOG_DOMAIN "prd-eio"

#include "config.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <gio/gio.h>

#include "prd-eio-poller.h"

/* Readiness taken from the kernel per system call. */
#define MAX_EVENTS 256

struct _PrdEioPoller
{
  int ref_count; /* atomic */
  int epfd;
  GSource *source; /* (owned) (nullable) */
  GQueue ready;    /* (element-type PrdEioPollerWatch) (unowned): to call */
};

typedef struct
{
  GSource source;
  PrdEioPoller *poller; /* (unowned): owns the source */
} PollerSource;

static gboolean
poller_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  PrdEioPoller *poller = ((PollerSource *) source)->poller;
  struct epoll_event events[MAX_EVENTS];
  int n;

  do
    n = epoll_wait (poller->epfd, events, MAX_EVENTS, 0);
  while (n < 0 && errno == EINTR);

  for (int i = 0; i < n; i++)
    {
      PrdEioPollerWatch *watch = events[i].data.ptr;

      /* A no-op on a source its owner destroyed meanwhile. */
      if (watch->source != NULL)
        g_source_set_ready_time (watch->source, 0);
      else if (watch->func != NULL && !watch->queued)
        {
          watch->queued = TRUE;
          watch->ready.data = watch;
          g_queue_push_tail_link (&poller->ready, &watch->ready);
        }
    }

  /* A function may forget (and free) any watch, its own or one further on
   * in the queue: prd_eio_poller_forget() takes it out of the queue. */
  while (poller->ready.head != NULL)
    {
      GList *link = g_queue_pop_head_link (&poller->ready);
      PrdEioPollerWatch *watch = link->data;

      watch->queued = FALSE;
      if (watch->func != NULL) /* not re-armed with a source meanwhile */
        watch->func (watch->data);
    }
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs poller_funcs = {
  .dispatch = poller_dispatch,
};

PrdEioPoller *
prd_eio_poller_new (GMainContext *context, GError **error)
{
  PrdEioPoller *poller;
  int epfd = epoll_create1 (EPOLL_CLOEXEC);

  if (epfd < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "epoll_create1: %s",
                   g_strerror (saved));
      return NULL;
    }

  poller = g_new0 (PrdEioPoller, 1);
  poller->ref_count = 1;
  poller->epfd = epfd;
  poller->source = g_source_new (&poller_funcs, sizeof (PollerSource));
  ((PollerSource *) poller->source)->poller = poller;
  g_source_add_unix_fd (poller->source, epfd, G_IO_IN);
  g_source_set_static_name (poller->source, "prd-eio poller");
  g_source_attach (poller->source, context);
  return poller;
}

PrdEioPoller *
prd_eio_poller_ref (PrdEioPoller *poller)
{
  __atomic_add_fetch (&poller->ref_count, 1, __ATOMIC_RELAXED);
  return poller;
}

void
prd_eio_poller_detach (PrdEioPoller *poller)
{
  if (poller->source == NULL)
    return;
  g_source_destroy (poller->source);
  g_clear_pointer (&poller->source, g_source_unref);
}

void
prd_eio_poller_unref (PrdEioPoller *poller)
{
  if (__atomic_sub_fetch (&poller->ref_count, 1, __ATOMIC_ACQ_REL) != 0)
    return;
  prd_eio_poller_detach (poller);
  close (poller->epfd);
  g_free (poller);
}

/* Registers @fd for one wake-up, for @watch. */
static gboolean
watch_arm (PrdEioPoller *poller, PrdEioPollerWatch *watch, int fd)
{
  struct epoll_event event = {
    .events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT,
    .data.ptr = watch,
  };
  int op = watch->fd == fd ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

  if (watch->fd >= 0 && watch->fd != fd)
    prd_eio_poller_forget (poller, watch);
  if (epoll_ctl (poller->epfd, op, fd, &event) < 0)
    {
      g_debug ("epoll_ctl (%d): %s", fd, g_strerror (errno));
      return FALSE;
    }
  watch->fd = fd;
  g_clear_pointer (&watch->source, g_source_unref);
  watch->func = NULL;
  return TRUE;
}

gboolean
prd_eio_poller_arm (PrdEioPoller *poller, PrdEioPollerWatch *watch, int fd, GSource *source)
{
  if (!watch_arm (poller, watch, fd))
    return FALSE;
  watch->source = g_source_ref (source);
  return TRUE;
}

gboolean
prd_eio_poller_arm_func (
    PrdEioPoller *poller, PrdEioPollerWatch *watch, int fd, PrdEioPollerFunc func, gpointer data)
{
  if (!watch_arm (poller, watch, fd))
    return FALSE;
  watch->func = func;
  watch->data = data;
  return TRUE;
}

void
prd_eio_poller_forget (PrdEioPoller *poller, PrdEioPollerWatch *watch)
{
  if (watch->fd >= 0)
    epoll_ctl (poller->epfd, EPOLL_CTL_DEL, watch->fd, NULL);
  watch->fd = -1;
  g_clear_pointer (&watch->source, g_source_unref);
  watch->func = NULL;
  if (watch->queued)
    {
      g_queue_unlink (&poller->ready, &watch->ready);
      watch->queued = FALSE;
    }
}
