/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Bounded waits on the default main context. Each wait adds a timeout
 * source, so that g_main_context_iteration() wakes up even when nothing else
 * happens, and aborts the test with the name of what it waited for.
 */
#define G_LOG_DOMAIN "prd-test"

#include "config.h"

#include "prd-test-harness.h"

/* Predicates that read state no source reports are checked this often. */
#define POLL_MS 10

void
prd_test_result_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **slot = user_data;

  g_assert_null (*slot);
  *slot = g_object_ref (result);
}

static gboolean
on_deadline (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
on_tick (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

void
prd_test_wait_until_full (PrdTestPredicate predicate,
                          gpointer data,
                          guint timeout_ms,
                          const char *what,
                          const char *file,
                          int line)
{
  gboolean expired = FALSE;
  guint deadline;
  guint tick;

  if (predicate (data))
    return;
  deadline = g_timeout_add (timeout_ms, on_deadline, &expired);
  tick = g_timeout_add (POLL_MS, on_tick, NULL);
  while (!predicate (data))
    {
      if (expired)
        g_error ("%s:%d: timed out after %u ms waiting for %s", file, line, timeout_ms, what);
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (tick);
  if (!expired)
    g_source_remove (deadline);
}

static gboolean
slot_is_set (gpointer data)
{
  return *(GAsyncResult **) data != NULL;
}

GAsyncResult *
prd_test_wait_result_full (
    GAsyncResult **slot, guint timeout_ms, const char *what, const char *file, int line)
{
  g_autofree char *name = g_strdup_printf ("the result of %s", what);

  prd_test_wait_until_full (slot_is_set, slot, timeout_ms, name, file, line);
  return *slot;
}

void
prd_test_run_for (guint ms)
{
  gboolean expired = FALSE;

  g_timeout_add (ms, on_deadline, &expired);
  while (!expired)
    g_main_context_iteration (NULL, TRUE);
}

/* ---- signals ----------------------------------------------------------------- */

struct _PrdTestSignalWatch
{
  GObject *object; /* (owned) */
  char *signal;
  gulong handler;
  guint count;
};

/* Counts an emission whatever the signal's parameters. */
static void
count_marshal (GClosure *closure,
               GValue *return_value,
               guint n_param_values,
               const GValue *param_values,
               gpointer invocation_hint,
               gpointer marshal_data)
{
  PrdTestSignalWatch *watch = closure->data;

  watch->count++;
}

PrdTestSignalWatch *
prd_test_signal_watch_new (gpointer object, const char *detailed_signal)
{
  PrdTestSignalWatch *watch = g_new0 (PrdTestSignalWatch, 1);
  GClosure *closure = g_closure_new_simple (sizeof (GClosure), watch);

  g_assert_true (G_IS_OBJECT (object));
  g_closure_set_marshal (closure, count_marshal);
  watch->object = g_object_ref (object);
  watch->signal = g_strdup (detailed_signal);
  watch->handler = g_signal_connect_closure (object, detailed_signal, closure, FALSE);
  g_assert_cmpuint (watch->handler, !=, 0);
  return watch;
}

guint
prd_test_signal_watch_get_count (PrdTestSignalWatch *watch)
{
  return watch->count;
}

typedef struct
{
  PrdTestSignalWatch *watch;
  guint count;
} Until;

static gboolean
counted (gpointer data)
{
  Until *until = data;

  return until->watch->count >= until->count;
}

void
prd_test_signal_watch_wait_full (
    PrdTestSignalWatch *watch, guint count, guint timeout_ms, const char *file, int line)
{
  Until until = { watch, count };
  g_autofree char *what =
      g_strdup_printf ("%u emission(s) of %s::%s (seen %u)", count,
                       G_OBJECT_TYPE_NAME (watch->object), watch->signal, watch->count);

  prd_test_wait_until_full (counted, &until, timeout_ms, what, file, line);
}

void
prd_test_signal_watch_free (PrdTestSignalWatch *watch)
{
  g_signal_handler_disconnect (watch->object, watch->handler);
  g_object_unref (watch->object);
  g_free (watch->signal);
  g_free (watch);
}

void
prd_test_wait_signal_full (
    gpointer object, const char *detailed_signal, guint timeout_ms, const char *file, int line)
{
  g_autoptr (PrdTestSignalWatch) watch = prd_test_signal_watch_new (object, detailed_signal);

  prd_test_signal_watch_wait_full (watch, 1, timeout_ms, file, line);
}

static gboolean
on_wake (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/**
 * prd_test_iterate_before:
 * @deadline: monotonic µs
 *
 * One blocking iteration of the default main context, woken up at
 * @deadline at the latest; aborts the test (naming @what) once @deadline
 * has passed. The body of prd_test_wait_while().
 */
void
prd_test_iterate_before (gint64 deadline, const char *what, const char *file, int line)
{
  gint64 now = g_get_monotonic_time ();
  gboolean woken = FALSE;
  GSource *wake;

  if (now >= deadline)
    g_error ("%s:%d: timed out waiting while %s", file, line, what);
  wake = g_timeout_source_new ((guint) MIN ((deadline - now) / G_TIME_SPAN_MILLISECOND + 1, 1000));
  g_source_set_callback (wake, on_wake, &woken, NULL);
  g_source_attach (wake, NULL);
  g_main_context_iteration (NULL, TRUE);
  g_source_destroy (wake);
  g_source_unref (wake);
}
