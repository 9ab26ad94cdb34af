/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * PrdEioPoller: one epoll(7) set for the sockets of many WebSocket
 * connections on one context (internal to src/eio).
 *
 * GMainContext polls every descriptor of every attached source with
 * poll(2) in each iteration: with thousands of connections, each wake-up
 * costs in proportion to the connections, not to the traffic. A connection
 * waiting for input here has a GSource without descriptor instead; the
 * poller's one source watches the epoll descriptor, and makes the sources
 * of the sockets that became readable ready. A socket is armed once per
 * wait (EPOLLONESHOT), when its reader found it drained.
 *
 * Used on the thread of its context only, except for the reference count.
 */

typedef struct _PrdEioPoller PrdEioPoller;

typedef void (*PrdEioPollerFunc) (gpointer user_data);

/* One socket's registration, kept by its owner. */
typedef struct
{
  int fd;          /* -1: not registered */
  GSource *source; /* (owned) (nullable): made ready when fd is readable */
  PrdEioPollerFunc func;
  gpointer data;
  GList ready; /* in the poller's queue of watches to call */
  gboolean queued;
} PrdEioPollerWatch;

#define PRD_EIO_POLLER_WATCH_INIT  \
  {                                \
    -1, NULL, NULL, NULL, { 0 }, 0 \
  }

PrdEioPoller *prd_eio_poller_new (GMainContext *context, GError **error);
PrdEioPoller *prd_eio_poller_ref (PrdEioPoller *poller);
void prd_eio_poller_unref (PrdEioPoller *poller);
/* Stops watching for good (the context is going away). */
void prd_eio_poller_detach (PrdEioPoller *poller);

/* Makes @source ready (ready time 0) once @fd is readable, or hung up. */
gboolean
prd_eio_poller_arm (PrdEioPoller *poller, PrdEioPollerWatch *watch, int fd, GSource *source);
/* Calls @func once @fd is readable, or hung up: from the poller's own
 * dispatch, so that a connection waiting for input has no GSource at all. */
gboolean prd_eio_poller_arm_func (
    PrdEioPoller *poller, PrdEioPollerWatch *watch, int fd, PrdEioPollerFunc func, gpointer data);
/* Before @watch's descriptor is closed, or @watch is freed. */
void prd_eio_poller_forget (PrdEioPoller *poller, PrdEioPollerWatch *watch);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdEioPoller, prd_eio_poller_unref)

/* Destroys and releases *@source, if any, and sets it to NULL. */
static inline void
prd_eio_clear_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

G_END_DECLS
