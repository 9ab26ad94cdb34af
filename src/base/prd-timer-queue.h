/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PrdTimerQueue PrdTimerQueue;
typedef struct _PrdTimer PrdTimer;

/**
 * PrdTimerFunc:
 * @timer: the timer that fired; no longer scheduled, so the function may
 *   schedule it again, or free the structure that holds it
 * @user_data: the data given to prd_timer_init()
 */
typedef void (*PrdTimerFunc) (PrdTimer *timer, gpointer user_data);

/**
 * PrdTimer:
 *
 * One deadline, embedded in the structure it belongs to (a connection), so
 * that scheduling it again allocates nothing. Initialise it with
 * prd_timer_init(); the fields are private.
 */
struct _PrdTimer
{
  /*< private >*/
  PrdTimerQueue *queue; /* (unowned) (nullable): set while scheduled */
  gint64 deadline;      /* monotonic µs */
  guint64 seq;          /* FIFO order among equal deadlines */
  guint index;          /* slot in the heap + 1; 0 while not scheduled */
  PrdTimerFunc func;
  gpointer user_data;
};

PrdTimerQueue *prd_timer_queue_new (GMainContext *context, int priority, const char *name);
PrdTimerQueue *prd_timer_queue_get_shared (int priority);
PrdTimerQueue *prd_timer_queue_ref (PrdTimerQueue *self);
void prd_timer_queue_unref (PrdTimerQueue *self);

void prd_timer_queue_schedule (PrdTimerQueue *self, PrdTimer *timer, gint64 deadline);
void prd_timer_queue_schedule_ms (PrdTimerQueue *self, PrdTimer *timer, guint interval_ms);
guint prd_timer_queue_get_length (PrdTimerQueue *self);
gint64 prd_timer_queue_get_next_deadline (PrdTimerQueue *self);

void prd_timer_init (PrdTimer *timer, PrdTimerFunc func, gpointer user_data);
void prd_timer_cancel (PrdTimer *timer);
gboolean prd_timer_is_scheduled (const PrdTimer *timer);
gint64 prd_timer_get_deadline (const PrdTimer *timer);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdTimerQueue, prd_timer_queue_unref)

G_END_DECLS
