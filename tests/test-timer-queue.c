/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdTimerQueue: order, cancel, reschedule, re-entrancy, and a random run
 * checked against a plain sorted list. Every queue here runs on its own
 * GMainContext; timers are mostly scheduled in the past so that one
 * non-blocking iteration fires all that are due, in a known order.
 */
#include "config.h"

#include "prd-timer-queue.h"

typedef struct
{
  GMainContext *context;
  PrdTimerQueue *queue;
  GArray *fired; /* (element-type int): the ids of the timers, in firing order */
} Fixture;

typedef struct
{
  PrdTimer timer;
  Fixture *fixture;
  int id;
  /* What the function does besides recording the id. */
  PrdTimer *cancel;   /* (nullable) */
  PrdTimer *schedule; /* (nullable): scheduled at schedule_at */
  gint64 schedule_at;
  int reschedule_self; /* times it schedules itself again, at reschedule_at */
  gint64 reschedule_at;
  gboolean free_self;
  gboolean drop_queue; /* drops the fixture's reference of the queue */
} Item;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->context = g_main_context_new ();
  f->queue = prd_timer_queue_new (f->context, G_PRIORITY_HIGH, "test timers");
  f->fired = g_array_new (FALSE, FALSE, sizeof (int));
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->queue, prd_timer_queue_unref);
  g_array_unref (f->fired);
  g_main_context_unref (f->context);
}

static void
on_fire (PrdTimer *timer, gpointer user_data)
{
  Item *item = user_data;
  Fixture *f = item->fixture;

  g_assert_true (timer == &item->timer);
  g_assert_false (prd_timer_is_scheduled (timer));
  g_array_append_val (f->fired, item->id);

  if (item->cancel != NULL)
    prd_timer_cancel (item->cancel);
  if (item->schedule != NULL)
    prd_timer_queue_schedule (f->queue, item->schedule, item->schedule_at);
  if (item->reschedule_self > 0)
    {
      item->reschedule_self--;
      prd_timer_queue_schedule (f->queue, timer, item->reschedule_at);
    }
  if (item->drop_queue)
    g_clear_pointer (&f->queue, prd_timer_queue_unref);
  if (item->free_self)
    g_free (item);
}

static Item *
items_new (Fixture *f, guint n)
{
  Item *items = g_new0 (Item, n);

  for (guint i = 0; i < n; i++)
    {
      items[i].fixture = f;
      items[i].id = (int) i;
      prd_timer_init (&items[i].timer, on_fire, &items[i]);
    }
  return items;
}

/* One non-blocking iteration; returns the ids fired in it, as a string. */
static char *
iterate (Fixture *f)
{
  GString *s = g_string_new (NULL);
  gint64 start = g_get_monotonic_time ();

  /* A timer made due during a dispatch is due 1 µs after that dispatch's
   * time; the next iteration must come later than that to find it, which a
   * fast machine does not always do by itself (1 run in 40). */
  while (g_get_monotonic_time () < start + 2)
    ;
  g_array_set_size (f->fired, 0);
  g_main_context_iteration (f->context, FALSE);
  for (guint i = 0; i < f->fired->len; i++)
    g_string_append_printf (s, "%s%d", i > 0 ? " " : "", g_array_index (f->fired, int, i));
  return g_string_free (s, FALSE);
}

#define assert_iteration(f, expected)     \
  G_STMT_START                            \
  {                                       \
    g_autofree char *got_ = iterate (f);  \
    g_assert_cmpstr (got_, ==, expected); \
  }                                       \
  G_STMT_END

static void
test_order (Fixture *f, gconstpointer data)
{
  g_autofree Item *items = items_new (f, 6);
  gint64 now = g_get_monotonic_time ();
  /* Scheduled out of order; 4 is in the future. */
  const gint64 offsets[] = { -300, -100, -500, -200, 60 * G_USEC_PER_SEC, -400 };

  for (guint i = 0; i < G_N_ELEMENTS (offsets); i++)
    prd_timer_queue_schedule (f->queue, &items[i].timer, now + offsets[i]);
  g_assert_cmpuint (prd_timer_queue_get_length (f->queue), ==, 6);
  g_assert_cmpint (prd_timer_queue_get_next_deadline (f->queue), ==, now - 500);

  assert_iteration (f, "2 5 0 3 1");
  g_assert_cmpuint (prd_timer_queue_get_length (f->queue), ==, 1);
  g_assert_true (prd_timer_is_scheduled (&items[4].timer));
  g_assert_cmpint (prd_timer_get_deadline (&items[4].timer), ==, now + 60 * G_USEC_PER_SEC);
  g_assert_cmpint (prd_timer_get_deadline (&items[0].timer), ==, -1);
  assert_iteration (f, "");
  prd_timer_cancel (&items[4].timer);
  g_assert_cmpint (prd_timer_queue_get_next_deadline (f->queue), ==, -1);
}

static void
test_equal_deadlines (Fixture *f, gconstpointer data)
{
  g_autofree Item *items = items_new (f, 100);
  gint64 at = g_get_monotonic_time () - 1000;
  g_autoptr (GString) expected = g_string_new (NULL);

  /* 100 timers on one deadline fire in the order they were scheduled;
   * scheduling one again puts it last. */
  for (guint i = 0; i < 100; i++)
    prd_timer_queue_schedule (f->queue, &items[(i * 37) % 100].timer, at);
  prd_timer_queue_schedule (f->queue, &items[37].timer, at);
  for (guint i = 0; i < 100; i++)
    {
      int id = (int) ((i * 37) % 100);

      if (id != 37)
        g_string_append_printf (expected, "%d ", id);
    }
  g_string_append (expected, "37");
  assert_iteration (f, expected->str);
}

static void
test_cancel (Fixture *f, gconstpointer data)
{
  g_autofree Item *items = items_new (f, 8);
  gint64 now = g_get_monotonic_time ();

  for (guint i = 0; i < 8; i++)
    prd_timer_queue_schedule (f->queue, &items[i].timer, now - 1000 + i);
  /* The earliest, one in the middle, the last, and one not scheduled. */
  prd_timer_cancel (&items[0].timer);
  prd_timer_cancel (&items[3].timer);
  prd_timer_cancel (&items[7].timer);
  prd_timer_cancel (&items[7].timer);
  g_assert_false (prd_timer_is_scheduled (&items[3].timer));
  g_assert_cmpuint (prd_timer_queue_get_length (f->queue), ==, 5);
  assert_iteration (f, "1 2 4 5 6");

  /* Everything cancelled: nothing fires, and the queue is empty. */
  for (guint i = 0; i < 8; i++)
    prd_timer_queue_schedule (f->queue, &items[i].timer, now);
  for (guint i = 0; i < 8; i++)
    prd_timer_cancel (&items[i].timer);
  g_assert_cmpuint (prd_timer_queue_get_length (f->queue), ==, 0);
  assert_iteration (f, "");
}

static void
test_reschedule (Fixture *f, gconstpointer data)
{
  g_autofree Item *items = items_new (f, 5);
  gint64 now = g_get_monotonic_time ();

  for (guint i = 0; i < 5; i++)
    prd_timer_queue_schedule (f->queue, &items[i].timer, now - 100 * (gint64) (5 - i));
  /* 0 1 2 3 4 by deadline; move 4 first, 0 last, 2 to the future. */
  prd_timer_queue_schedule (f->queue, &items[4].timer, now - 1000);
  prd_timer_queue_schedule (f->queue, &items[0].timer, now - 1);
  prd_timer_queue_schedule (f->queue, &items[2].timer, now + 60 * G_USEC_PER_SEC);
  g_assert_cmpuint (prd_timer_queue_get_length (f->queue), ==, 5);
  assert_iteration (f, "4 1 3 0");

  /* Back from the future. */
  prd_timer_queue_schedule (f->queue, &items[2].timer, now - 5);
  assert_iteration (f, "2");
  g_assert_cmpuint (prd_timer_queue_get_length (f->queue), ==, 0);
}

static void
test_move_between_queues (Fixture *f, gconstpointer data)
{
  g_autofree Item *items = items_new (f, 2);
  g_autoptr (PrdTimerQueue) other = prd_timer_queue_new (f->context, G_PRIORITY_DEFAULT, NULL);
  gint64 now = g_get_monotonic_time ();

  prd_timer_queue_schedule (f->queue, &items[0].timer, now - 10);
  prd_timer_queue_schedule (f->queue, &items[1].timer, now - 20);
  prd_timer_queue_schedule (other, &items[1].timer, now - 30);
  g_assert_cmpuint (prd_timer_queue_get_length (f->queue), ==, 1);
  g_assert_cmpuint (prd_timer_queue_get_length (other), ==, 1);
  /* The high-priority queue is dispatched first, alone. */
  assert_iteration (f, "0");
  assert_iteration (f, "1");
}

static void
test_reentrant (Fixture *f, gconstpointer data)
{
  g_autofree Item *items = items_new (f, 6);
  gint64 now = g_get_monotonic_time ();

  /* 0 cancels 1 (due, later in the same dispatch); 2 schedules 3 in the
   * past (fires in the next iteration, not this one); 4 schedules itself
   * again in the past three times (once per iteration); 5 cancels itself
   * (already out of the queue: nothing happens) and 0 (not scheduled). */
  items[0].cancel = &items[1].timer;
  items[2].schedule = &items[3].timer;
  items[2].schedule_at = now - 1000000;
  items[4].reschedule_self = 3;
  items[4].reschedule_at = now - 1000000;
  items[5].cancel = &items[0].timer;
  for (guint i = 0; i < 6; i++)
    if (i != 3)
      prd_timer_queue_schedule (f->queue, &items[i].timer, now - 100 + i);

  assert_iteration (f, "0 2 4 5");
  /* Both were rescheduled during the dispatch, 3 first. */
  assert_iteration (f, "3 4");
  assert_iteration (f, "4");
  assert_iteration (f, "4");
  assert_iteration (f, "");
  g_assert_cmpuint (prd_timer_queue_get_length (f->queue), ==, 0);
}

static void
test_free_in_callback (Fixture *f, gconstpointer data)
{
  gint64 now = g_get_monotonic_time ();
  Item *items[4];

  /* Owners freed by their own function, one of them cancelling the next
   * owner's timer first (an owner freed by another's function would have
   * cancelled its timer in its own teardown). */
  for (guint i = 0; i < 4; i++)
    {
      items[i] = g_new0 (Item, 1);
      items[i]->fixture = f;
      items[i]->id = (int) i;
      items[i]->free_self = TRUE;
      prd_timer_init (&items[i]->timer, on_fire, items[i]);
      prd_timer_queue_schedule (f->queue, &items[i]->timer, now - 10 + i);
    }
  items[1]->cancel = &items[2]->timer;
  assert_iteration (f, "0 1 3");
  g_free (items[2]);
}

static void
test_last_reference_in_callback (Fixture *f, gconstpointer data)
{
  g_autofree Item *items = items_new (f, 3);
  gint64 now = g_get_monotonic_time ();

  /* 0 drops the only reference of the queue, whose owner cancels its
   * other timers first (as a server's sessions do in their teardown). */
  items[0].drop_queue = TRUE;
  items[0].cancel = &items[1].timer;
  prd_timer_queue_schedule (f->queue, &items[0].timer, now - 10);
  prd_timer_queue_schedule (f->queue, &items[1].timer, now - 5);
  assert_iteration (f, "0");
  g_assert_null (f->queue);
  g_assert_false (prd_timer_is_scheduled (&items[1].timer));
  assert_iteration (f, "");
}

static void
test_wait (Fixture *f, gconstpointer data)
{
  g_autofree Item *items = items_new (f, 3);
  gint64 start = g_get_monotonic_time ();

  /* Real waiting: the source's ready time wakes the context. The earliest
   * is cancelled (the source then wakes up early and finds nothing due). */
  prd_timer_queue_schedule_ms (f->queue, &items[0].timer, 10);
  prd_timer_queue_schedule_ms (f->queue, &items[1].timer, 30);
  prd_timer_queue_schedule_ms (f->queue, &items[2].timer, 20);
  prd_timer_cancel (&items[0].timer);
  while (f->fired->len < 2)
    g_main_context_iteration (f->context, TRUE);
  g_assert_cmpint (g_array_index (f->fired, int, 0), ==, 2);
  g_assert_cmpint (g_array_index (f->fired, int, 1), ==, 1);
  g_assert_cmpint (g_get_monotonic_time (), >=, start + 30000);
  g_assert_cmpuint (prd_timer_queue_get_length (f->queue), ==, 0);
}

static gint
compare_item_deadline (gconstpointer a, gconstpointer b)
{
  const Item *x = *(Item *const *) a;
  const Item *y = *(Item *const *) b;

  if (x->schedule_at != y->schedule_at)
    return x->schedule_at < y->schedule_at ? -1 : 1;
  return x->reschedule_at < y->reschedule_at ? -1 : (x->reschedule_at > y->reschedule_at);
}

static void
test_random (Fixture *f, gconstpointer data)
{
  const guint n = 500;
  g_autofree Item *items = items_new (f, n);
  g_autoptr (GRand) rand = g_rand_new_with_seed (11);
  gint64 base = g_get_monotonic_time () - 10 * G_USEC_PER_SEC;
  gint64 order = 0;

  /* Random schedules, reschedules and cancels, checked against a sorted
   * list (deadline, then order of scheduling; kept in schedule_at and
   * reschedule_at, which on_fire does not use here). */
  for (guint round = 0; round < 20; round++)
    {
      g_autoptr (GPtrArray) model = g_ptr_array_new ();
      g_autoptr (GString) expected = g_string_new (NULL);
      g_autofree char *got = NULL;

      for (guint op = 0; op < 2000; op++)
        {
          Item *item = &items[g_rand_int_range (rand, 0, (gint32) n)];

          if (g_rand_int_range (rand, 0, 4) == 0)
            {
              prd_timer_cancel (&item->timer);
            }
          else
            {
              /* Few distinct deadlines, so that many are equal. */
              item->schedule_at = base + g_rand_int_range (rand, 0, 50);
              item->reschedule_at = order++;
              prd_timer_queue_schedule (f->queue, &item->timer, item->schedule_at);
            }
        }
      for (guint i = 0; i < n; i++)
        if (prd_timer_is_scheduled (&items[i].timer))
          g_ptr_array_add (model, &items[i]);
      g_assert_cmpuint (prd_timer_queue_get_length (f->queue), ==, model->len);
      g_ptr_array_sort (model, compare_item_deadline);
      for (guint i = 0; i < model->len; i++)
        g_string_append_printf (expected, "%s%d", i > 0 ? " " : "",
                                ((Item *) g_ptr_array_index (model, i))->id);
      got = iterate (f);
      g_assert_cmpstr (got, ==, expected->str);
    }
}

static void
clear_flag (PrdTimer *timer, gpointer user_data)
{
  *(gboolean *) user_data = FALSE;
}

static void
test_shared (void)
{
  PrdTimerQueue *a = prd_timer_queue_get_shared (G_PRIORITY_HIGH);
  PrdTimerQueue *b = prd_timer_queue_get_shared (G_PRIORITY_HIGH);
  PrdTimerQueue *c = prd_timer_queue_get_shared (G_PRIORITY_DEFAULT);
  PrdTimer timer;
  gboolean pending = FALSE;

  g_assert_true (a == b);
  g_assert_true (a != c);
  prd_timer_queue_unref (b);
  prd_timer_queue_unref (c);

  /* On the global default context. */
  prd_timer_init (&timer, clear_flag, &pending);
  prd_timer_queue_schedule (a, &timer, g_get_monotonic_time () - 1);
  pending = TRUE;
  while (pending)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (prd_timer_is_scheduled (&timer));
  prd_timer_queue_unref (a);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/prd/timer-queue/order", test_order);
  ADD ("/prd/timer-queue/equal-deadlines", test_equal_deadlines);
  ADD ("/prd/timer-queue/cancel", test_cancel);
  ADD ("/prd/timer-queue/reschedule", test_reschedule);
  ADD ("/prd/timer-queue/move-between-queues", test_move_between_queues);
  ADD ("/prd/timer-queue/reentrant", test_reentrant);
  ADD ("/prd/timer-queue/free-in-callback", test_free_in_callback);
  ADD ("/prd/timer-queue/last-reference-in-callback", test_last_reference_in_callback);
  ADD ("/prd/timer-queue/wait", test_wait);
  ADD ("/prd/timer-queue/random", test_random);
#undef ADD
  g_test_add_func ("/prd/timer-queue/shared", test_shared);

  return g_test_run ();
}
