/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A connection's "closed" report to its owner's thread: see
 * prd-eio-closed-notice.h.
 */
#define G_LOG_DOMAIN "prd-eio"

#include "config.h"

#include "prd-eio-closed-notice.h"

struct _PrdEioClosedNotice
{
  int ref_count; /* atomic */
  /* Read and cleared on the owner's thread only. */
  PrdEioClosedFunc func; /* (nullable): NULL once run or cancelled */
  gpointer user_data;
  GThread *thread;       /* (unowned): the owner's */
  GMainContext *context; /* (owned): the owner's thread-default */
};

PrdEioClosedNotice *
prd_eio_closed_notice_new (PrdEioClosedFunc func, gpointer user_data)
{
  PrdEioClosedNotice *notice = g_new0 (PrdEioClosedNotice, 1);

  notice->ref_count = 1;
  notice->func = func;
  notice->user_data = user_data;
  notice->thread = g_thread_self ();
  notice->context = g_main_context_ref_thread_default ();
  return notice;
}

PrdEioClosedNotice *
prd_eio_closed_notice_ref (PrdEioClosedNotice *notice)
{
  __atomic_add_fetch (&notice->ref_count, 1, __ATOMIC_RELAXED);
  return notice;
}

void
prd_eio_closed_notice_unref (PrdEioClosedNotice *notice)
{
  if (notice == NULL || __atomic_sub_fetch (&notice->ref_count, 1, __ATOMIC_ACQ_REL) != 0)
    return;
  g_main_context_unref (notice->context);
  g_free (notice);
}

static void
run (PrdEioClosedNotice *notice)
{
  PrdEioClosedFunc func = notice->func;

  notice->func = NULL;
  if (func != NULL)
    func (notice->user_data);
}

static gboolean
run_cb (gpointer user_data)
{
  run (user_data);
  return G_SOURCE_REMOVE;
}

void
prd_eio_closed_notice_fire (PrdEioClosedNotice *notice)
{
  GSource *source;

  if (notice->thread == g_thread_self ())
    {
      run (notice);
      return;
    }
  /* A source rather than g_main_context_invoke(), which would run it on
   * this thread if the owner's context happened to be free. */
  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, run_cb, prd_eio_closed_notice_ref (notice),
                         (GDestroyNotify) prd_eio_closed_notice_unref);
  g_source_set_static_name (source, "[prd-eio] connection closed");
  g_source_attach (source, notice->context);
  g_source_unref (source);
}

void
prd_eio_closed_notice_cancel (PrdEioClosedNotice *notice)
{
  g_return_if_fail (notice->thread == g_thread_self ());
  notice->func = NULL;
}
