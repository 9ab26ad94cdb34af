/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * PrdEioClosedNotice: tells the owner of a connection's record (the
 * listener, which counts open connections) that the connection is closed,
 * whichever thread closes it and whatever holds it by then: the stream
 * libsoup reads, or, for a WebSocket taken over, just the descriptor
 * (prd-eio-ws-conn.c). Internal to src/eio.
 *
 * The function runs once, on the thread that created the notice (from its
 * thread-default context when the notice is fired on another thread), and
 * never after prd_eio_closed_notice_cancel(), which that thread calls when
 * it forgets the record first.
 */

typedef struct _PrdEioClosedNotice PrdEioClosedNotice;

typedef void (*PrdEioClosedFunc) (gpointer user_data);

PrdEioClosedNotice *prd_eio_closed_notice_new (PrdEioClosedFunc func, gpointer user_data);
PrdEioClosedNotice *prd_eio_closed_notice_ref (PrdEioClosedNotice *notice);
void prd_eio_closed_notice_unref (PrdEioClosedNotice *notice);
/* Any thread. */
void prd_eio_closed_notice_fire (PrdEioClosedNotice *notice);
/* The creating thread only. */
void prd_eio_closed_notice_cancel (PrdEioClosedNotice *notice);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdEioClosedNotice, prd_eio_closed_notice_unref)

G_END_DECLS
