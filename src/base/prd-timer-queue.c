/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdTimerQueue: many deadlines behind one GSource.
 *
 * A GMainContext visits every attached GSource in each iteration (prepare,
 * check, a reference taken and dropped each time), so a timeout source per
 * connection makes every wake-up cost grow with the number of connections,
 * whatever the traffic. Here the deadlines of all connections sit in one
 * binary min-heap (ordered by deadline, then by the order they were
 * scheduled in) and one source, whose ready time is the earliest deadline,
 * fires those that are due.
 *
 * A PrdTimer is embedded in its owner; scheduling, rescheduling and
 * cancelling are O(log n) and allocate nothing (the heap's array only grows
 * to the most timers ever scheduled at once).
 *
 * Re-entrancy: a timer is out of the heap before its function runs, so the
 * function may schedule it again, cancel or schedule others, or free its
 * owner. A timer scheduled while the queue dispatches, with a deadline that
 * is already due, fires in the next iteration, not in the same dispatch (as
 * a GLib timeout of 0 ms would), so a function that reschedules itself
 * cannot keep the dispatch going forever.
 *
 * Like any GSource, a queue belongs to one thread (its context's); only the
 * table of shared queues is locked.
 */
#define G_LOG_DOMAIN "prd-base"

#include "config.h"

#include "prd-timer-queue.h"

typedef struct
{
  GSource source;
  PrdTimerQueue *queue; /* (unowned): the queue owns the source */
} TimerSource;

struct _PrdTimerQueue
{
  gint ref_count; /* atomic */
  int priority;
  GSource *source; /* (owned) */
  PrdTimer **heap; /* (owned) (array length=len): the timers are the owners' */
  guint len;
  guint alloc;
  guint64 next_seq;
  gint64 ready_time;   /* the source's, -1 for never; never after heap[0]'s deadline */
  gint64 dispatch_now; /* while dispatching: the time due timers are compared with */
  gboolean shared;
};

/* The shared queues of the global default context, one per priority. */
static GMutex shared_lock;
static GSList *shared_queues; /* (element-type PrdTimerQueue) (unowned) */

static inline gboolean
timer_before (const PrdTimer *a, const PrdTimer *b)
{
  return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static inline void
heap_set (PrdTimerQueue *self, guint i, PrdTimer *timer)
{
  self->heap[i] = timer;
  timer->index = i + 1;
}

static void
sift_up (PrdTimerQueue *self, guint i)
{
  PrdTimer *timer = self->heap[i];

  while (i > 0)
    {
      guint parent = (i - 1) / 2;

      if (!timer_before (timer, self->heap[parent]))
        break;
      heap_set (self, i, self->heap[parent]);
      i = parent;
    }
  heap_set (self, i, timer);
}

static void
sift_down (PrdTimerQueue *self, guint i)
{
  PrdTimer *timer = self->heap[i];

  for (;;)
    {
      guint child = 2 * i + 1;

      if (child >= self->len)
        break;
      if (child + 1 < self->len && timer_before (self->heap[child + 1], self->heap[child]))
        child++;
      if (!timer_before (self->heap[child], timer))
        break;
      heap_set (self, i, self->heap[child]);
      i = child;
    }
  heap_set (self, i, timer);
}

/* Brings the source's ready time forward when the earliest deadline moved
 * earlier. A later one (the earliest timer cancelled or pushed back) is left
 * for the dispatch to find: g_source_set_ready_time() wakes the context up
 * (a write to its eventfd), which would cost a wake-up per heartbeat answer,
 * while an early dispatch that finds nothing due costs one iteration. */
static void
update_ready_time (PrdTimerQueue *self)
{
  gint64 next;

  if (self->dispatch_now != 0 || self->len == 0)
    return;
  next = self->heap[0]->deadline;
  if (self->ready_time == -1 || next < self->ready_time)
    {
      self->ready_time = next;
      g_source_set_ready_time (self->source, next);
    }
}

static void
heap_remove (PrdTimerQueue *self, PrdTimer *timer)
{
  guint i = timer->index - 1;
  PrdTimer *last;

  g_assert (timer->index > 0 && i < self->len && self->heap[i] == timer);

  timer->index = 0;
  timer->queue = NULL;
  last = self->heap[--self->len];
  if (i == self->len)
    return;
  heap_set (self, i, last);
  if (i > 0 && timer_before (last, self->heap[(i - 1) / 2]))
    sift_up (self, i);
  else
    sift_down (self, i);
}

static gboolean
timer_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  PrdTimerQueue *self = ((TimerSource *) source)->queue;
  gint64 now = g_get_monotonic_time ();

  /* A function may drop the last reference of an owner that holds the
   * last reference of the queue. */
  prd_timer_queue_ref (self);
  self->dispatch_now = now;
  while (self->len > 0 && self->heap[0]->deadline <= now)
    {
      PrdTimer *timer = self->heap[0];

      heap_remove (self, timer);
      timer->func (timer, timer->user_data);
    }
  self->dispatch_now = 0;
  self->ready_time = self->len > 0 ? self->heap[0]->deadline : -1;
  g_source_set_ready_time (source, self->ready_time);
  prd_timer_queue_unref (self);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs timer_source_funcs = {
  .dispatch = timer_source_dispatch,
};

/**
 * prd_timer_queue_new:
 * @context: (nullable): where the queue's source is attached; %NULL for the
 *   global default context
 * @priority: the source's priority
 * @name: (nullable): the source's name (for profilers and debugging)
 *
 * Returns: (transfer full): a new queue, attached to @context
 */
PrdTimerQueue *
prd_timer_queue_new (GMainContext *context, int priority, const char *name)
{
  PrdTimerQueue *self = g_new0 (PrdTimerQueue, 1);

  self->ref_count = 1;
  self->priority = priority;
  self->ready_time = -1;
  self->source = g_source_new (&timer_source_funcs, sizeof (TimerSource));
  ((TimerSource *) self->source)->queue = self;
  g_source_set_priority (self->source, priority);
  g_source_set_name (self->source, name != NULL ? name : "[prd] timers");
  g_source_attach (self->source, context);
  return self;
}

/**
 * prd_timer_queue_get_shared:
 * @priority: the priority of the queue's source
 *
 * The queue of the global default main context at @priority, shared by
 * every caller (the sessions of every server of the process), made when
 * first asked for and freed with its last reference.
 *
 * Returns: (transfer full): the shared queue
 */
PrdTimerQueue *
prd_timer_queue_get_shared (int priority)
{
  PrdTimerQueue *queue = NULL;

  g_mutex_lock (&shared_lock);
  for (GSList *l = shared_queues; l != NULL; l = l->next)
    {
      PrdTimerQueue *q = l->data;

      /* One whose last reference is being dropped is left to its dropper. */
      if (q->priority == priority && g_atomic_int_get (&q->ref_count) > 0)
        {
          g_atomic_int_inc (&q->ref_count);
          queue = q;
          break;
        }
    }
  if (queue == NULL)
    {
      queue = prd_timer_queue_new (NULL, priority,
                                   priority <= G_PRIORITY_HIGH ? "[prd] timers (high priority)"
                                                               : "[prd] timers");
      queue->shared = TRUE;
      shared_queues = g_slist_prepend (shared_queues, queue);
    }
  g_mutex_unlock (&shared_lock);
  return queue;
}

PrdTimerQueue *
prd_timer_queue_ref (PrdTimerQueue *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_int_inc (&self->ref_count);
  return self;
}

void
prd_timer_queue_unref (PrdTimerQueue *self)
{
  g_return_if_fail (self != NULL);

  if (!g_atomic_int_dec_and_test (&self->ref_count))
    return;

  if (self->shared)
    {
      gboolean revived;

      g_mutex_lock (&shared_lock);
      /* prd_timer_queue_get_shared() may have taken it again meanwhile. */
      revived = g_atomic_int_get (&self->ref_count) > 0;
      if (!revived)
        shared_queues = g_slist_remove (shared_queues, self);
      g_mutex_unlock (&shared_lock);
      if (revived)
        return;
    }

  /* Nothing keeps a scheduled timer's owner alive: owners cancel their
   * timers before they let go of the queue. */
  while (self->len > 0)
    heap_remove (self, self->heap[self->len - 1]);
  g_source_destroy (self->source);
  g_clear_pointer (&self->source, g_source_unref);
  g_free (self->heap);
  g_free (self);
}

/**
 * prd_timer_queue_schedule:
 * @self: a queue
 * @timer: an initialised timer, scheduled or not (on this queue or another)
 * @deadline: when it fires, in monotonic µs (g_get_monotonic_time())
 *
 * Schedules @timer, or moves it if it was scheduled. O(log n), no
 * allocation unless the queue holds more timers than ever before.
 */
void
prd_timer_queue_schedule (PrdTimerQueue *self, PrdTimer *timer, gint64 deadline)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (timer != NULL && timer->func != NULL);

  if (timer->queue != NULL && timer->queue != self)
    prd_timer_cancel (timer);

  /* Due at once while dispatching: the next iteration, not this dispatch. */
  if (self->dispatch_now != 0 && deadline <= self->dispatch_now)
    deadline = self->dispatch_now + 1;

  timer->deadline = deadline;
  timer->seq = self->next_seq++;

  if (timer->queue == self)
    {
      guint i = timer->index - 1;

      /* A later deadline or a later seq: it can only move down, unless
       * the deadline moved earlier. */
      if (i > 0 && timer_before (timer, self->heap[(i - 1) / 2]))
        sift_up (self, i);
      else
        sift_down (self, i);
    }
  else
    {
      if (self->len == self->alloc)
        {
          self->alloc = MAX (16, self->alloc * 2);
          self->heap = g_renew (PrdTimer *, self->heap, self->alloc);
        }
      timer->queue = self;
      self->heap[self->len] = timer;
      timer->index = ++self->len;
      sift_up (self, self->len - 1);
    }

  update_ready_time (self);
}

/**
 * prd_timer_queue_schedule_ms:
 * @self: a queue
 * @timer: an initialised timer
 * @interval_ms: from now, in milliseconds
 *
 * prd_timer_queue_schedule() @interval_ms from now.
 */
void
prd_timer_queue_schedule_ms (PrdTimerQueue *self, PrdTimer *timer, guint interval_ms)
{
  prd_timer_queue_schedule (self, timer, g_get_monotonic_time () + (gint64) interval_ms * 1000);
}

guint
prd_timer_queue_get_length (PrdTimerQueue *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->len;
}

/**
 * prd_timer_queue_get_next_deadline:
 * @self: a queue
 *
 * Returns: the earliest deadline (monotonic µs), or -1 when no timer is
 *   scheduled
 */
gint64
prd_timer_queue_get_next_deadline (PrdTimerQueue *self)
{
  g_return_val_if_fail (self != NULL, -1);
  return self->len > 0 ? self->heap[0]->deadline : -1;
}

/**
 * prd_timer_init:
 * @timer: the timer, in its owner's memory
 * @func: what to call when it fires
 * @user_data: passed to @func
 *
 * Prepares an unscheduled timer. Initialising a scheduled timer is a bug.
 */
void
prd_timer_init (PrdTimer *timer, PrdTimerFunc func, gpointer user_data)
{
  g_return_if_fail (timer != NULL && func != NULL);

  *timer = (PrdTimer){ .func = func, .user_data = user_data };
}

/**
 * prd_timer_cancel:
 * @timer: an initialised timer
 *
 * Unschedules @timer; nothing happens if it is not scheduled. O(log n).
 */
void
prd_timer_cancel (PrdTimer *timer)
{
  PrdTimerQueue *queue;

  g_return_if_fail (timer != NULL);

  queue = timer->queue;
  if (queue == NULL)
    return;
  heap_remove (queue, timer);
  update_ready_time (queue);
}

gboolean
prd_timer_is_scheduled (const PrdTimer *timer)
{
  g_return_val_if_fail (timer != NULL, FALSE);
  return timer->queue != NULL;
}

/**
 * prd_timer_get_deadline:
 * @timer: an initialised timer
 *
 * Returns: its deadline (monotonic µs), or -1 when it is not scheduled
 */
gint64
prd_timer_get_deadline (const PrdTimer *timer)
{
  g_return_val_if_fail (timer != NULL, -1);
  return timer->queue != NULL ? timer->deadline : -1;
}
