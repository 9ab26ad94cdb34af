/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * PrdSioRateLimiter: token buckets, one per event class: those of one
 * connection, or those all the connections of one user share (see
 * prd_sio_socket_set_rate_key()). A bucket holds @limit tokens and is refilled completely when its
 * window (started by the first event that found it full) has passed. Times
 * are monotonic microseconds so that tests can drive the clock.
 */
typedef struct _PrdSioRateLimiter PrdSioRateLimiter;

typedef struct
{
  guint limit;
  guint remaining;      /* tokens left after this event */
  guint retry_after;    /* whole seconds until the refill, >= 1 when refused */
  gint64 reset_time_us; /* monotonic time of the refill */
} PrdSioRateInfo;

PrdSioRateLimiter *prd_sio_rate_limiter_new (void);
void prd_sio_rate_limiter_free (PrdSioRateLimiter *self);
/* Takes one token of @event_class's bucket. Returns FALSE (and leaves the
 * bucket as it was) when none is left. */
gboolean prd_sio_rate_limiter_consume (PrdSioRateLimiter *self,
                                       const char *event_class,
                                       guint limit,
                                       guint window_seconds,
                                       gint64 now_us,
                                       PrdSioRateInfo *info);

/* Takes @tokens more of @event_class's bucket, as many as it has when it
 * has fewer (then later events are refused until its window ends). */
void prd_sio_rate_limiter_charge (PrdSioRateLimiter *self,
                                  const char *event_class,
                                  guint limit,
                                  guint window_seconds,
                                  gint64 now_us,
                                  guint tokens);

/* When the last window under way ends (monotonic µs), or 0 when none runs
 * after @now_us: from then on every bucket is full again. */
gint64 prd_sio_rate_limiter_get_windows_end (PrdSioRateLimiter *self, gint64 now_us);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdSioRateLimiter, prd_sio_rate_limiter_free)

G_END_DECLS
