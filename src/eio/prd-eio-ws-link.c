/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * WebSocket connections on I/O threads: see prd-eio-ws-link.h.
 *
 * Ownership and threads:
 * - A link is reference-counted and may be released on any thread. Its
 *   main-side fields (handler, open) are touched on the main thread only,
 *   its I/O-side fields (conn, out, sources) on its I/O thread only;
 *   "buffered" is atomic. A link holds a reference to the pool.
 * - While its connection lives, the I/O thread holds a reference to the
 *   link (IoThread.links); every mail holds one to the link it names.
 * - A mailbox refuses mail once closed (at pool shutdown): the sender
 *   frees it, so nothing is posted to a thread that has stopped.
 */
#define G_LOG_DOMAIN "prd-eio"

#include "config.h"

#include <pthread.h>
#include <string.h>

#include "prd-eio-metered-stream.h"
#include "prd-eio-ws-conn.h"

#include "prd-eio-ws-link.h"

typedef enum
{
  CMD_OPEN,
  CMD_SEND,
  CMD_CLOSE,
  CMD_HANDLED,
  CMD_STOP,
  EV_MESSAGE,
  EV_CLOSED,
  EV_OVERFLOW,
} MailKind;

typedef struct
{
  MailKind kind;
  PrdEioWsLink *link; /* (owned) (nullable) */
  int type;           /* data type (send, message) or close code */
  GBytes *bytes;      /* (owned) (nullable) */
  gboolean flush;
  guint flush_ms;
  guint64 size; /* CMD_HANDLED: of the message handled */
} Mail;

/* Returns TRUE when it took @mail over. */
typedef gboolean (*MailFunc) (gpointer owner, Mail *mail);

/* Mail for one thread's context: a GSource that dispatches everything
 * posted since it last ran, woken once per batch. */
typedef struct
{
  GSource source;
  /* A pthread mutex rather than a GMutex (a futex of GLib's own), so that
   * ThreadSanitizer sees the hand-over of the mail it guards. */
  pthread_mutex_t lock;
  GQueue mails; /* (element-type Mail) (owned) */
  gboolean closed;
  int pending; /* atomic: a wake-up was requested and not yet served */
  GMainContext *context;
  MailFunc func;
  gpointer owner;
} Mailbox;

typedef struct
{
  PrdEioIoPool *pool;
  GMainContext *context; /* (owned) */
  GMainLoop *loop;       /* (owned) (nullable): NULL on the main thread */
  GThread *thread;       /* (owned) (nullable): NULL on the main thread */
  Mailbox *inbox;        /* (owned) (nullable): NULL on the main thread */
  GQueue outbox;         /* (element-type Mail) (owned): main thread, for inbox */
  gboolean closed;       /* the pool was freed: commands are dropped */
  GHashTable *links;     /* (owned): PrdEioWsLink (owned) whose connection lives */
  PrdEioPoller *poller;  /* (owned) (nullable): the sockets waiting for input */
  gint64 stop_deadline;
  GSource *stop_check; /* (owned) (nullable) */
} IoThread;

struct _PrdEioIoPool
{
  int ref_count;              /* atomic (compiler builtins, which ThreadSanitizer sees) */
  GMainContext *main_context; /* (owned) */
  Mailbox *events;            /* (owned) */
  GSource *flusher;           /* (owned): hands the outboxes over */
  IoThread *threads;          /* (owned) (array length=n_io) */
  guint n_io;
  guint next;
};

struct _PrdEioWsLink
{
  int ref_count;      /* atomic (compiler builtins, which ThreadSanitizer sees) */
  PrdEioIoPool *pool; /* (owned) */
  IoThread *io;       /* (unowned): the pool's */
  guint64 buffered;   /* atomic */

  /* The gate (prd_eio_metered_stream_set_gate()): the peer's Close waits
   * until the main thread has handled every message read before it, so
   * that the answers to them still go out; and nothing more is read while
   * MAX_UNHANDLED messages, or input_limit bytes of them, wait to be
   * handled, so that a peer that sends faster than the hub handles is held
   * back by TCP, not queued in memory. */
  guint64 handled;       /* I/O thread: CMD_HANDLED received */
  guint64 pending_bytes; /* I/O thread: of messages reported, not handled */

  /* Main thread. */
  const PrdEioWsLinkHandler *handler; /* (unowned) (nullable) */
  gpointer handler_data;
  gboolean open;

  /* Handed to the I/O thread by CMD_OPEN. */
  GIOStream *stream; /* (owned) (nullable) */
  GUri *uri;         /* (owned) (nullable) */
  char *origin;      /* (owned) (nullable) */
  GList *extensions; /* (owned) (element-type SoupWebsocketExtension) */
  guint64 input_limit;

  /* I/O thread: the connection is our own, unless an extension was
   * negotiated (permessage-deflate), then libsoup's. */
  PrdEioWsConn *own;             /* (owned) (nullable) */
  SoupWebsocketConnection *conn; /* (owned) (nullable) */
  PrdEioMeteredStream *metered;  /* (unowned) (nullable): conn's */
  GQueue out;                    /* (element-type Mail) (owned): CMD_SEND */
  GSource *writable;             /* (owned) (nullable) */
  GSource *flush_timeout;        /* (owned) (nullable) */
  gboolean close_requested;
  gushort close_code;
};

/* Messages read and not yet handled by the main thread, at most; see
 * PrdEioWsLink.handled. */
#define MAX_UNHANDLED 256

static void pool_unref (PrdEioIoPool *pool);

static void
mail_free (Mail *mail)
{
  g_clear_pointer (&mail->bytes, g_bytes_unref);
  g_clear_pointer (&mail->link, prd_eio_ws_link_unref);
  g_free (mail);
}

static Mail *
mail_new (MailKind kind, PrdEioWsLink *link)
{
  Mail *mail = g_new0 (Mail, 1);

  mail->kind = kind;
  mail->link = link != NULL ? prd_eio_ws_link_ref (link) : NULL;
  return mail;
}

static gsize
mail_size (const Mail *mail)
{
  return mail->bytes != NULL ? g_bytes_get_size (mail->bytes) : 0;
}

/* ------------------------------------------------------------------ */
/* Mailbox                                                            */

static gboolean
mailbox_prepare (GSource *source, int *timeout)
{
  Mailbox *box = (Mailbox *) source;

  *timeout = -1;
  return g_atomic_int_get (&box->pending) != 0;
}

static gboolean
mailbox_check (GSource *source)
{
  Mailbox *box = (Mailbox *) source;

  return g_atomic_int_get (&box->pending) != 0;
}

static gboolean
mailbox_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  Mailbox *box = (Mailbox *) source;
  GQueue mails;
  Mail *mail;

  /* Reset before taking the mail: whatever is posted after this wakes the
   * context again. */
  g_atomic_int_set (&box->pending, 0);
  pthread_mutex_lock (&box->lock);
  mails = box->mails;
  g_queue_init (&box->mails);
  pthread_mutex_unlock (&box->lock);

  while ((mail = g_queue_pop_head (&mails)) != NULL)
    {
      if (!box->func (box->owner, mail))
        mail_free (mail);
    }
  return G_SOURCE_CONTINUE;
}

static void
mailbox_finalize (GSource *source)
{
  Mailbox *box = (Mailbox *) source;

  g_queue_clear_full (&box->mails, (GDestroyNotify) mail_free);
  pthread_mutex_destroy (&box->lock);
}

static GSourceFuncs mailbox_funcs = {
  .prepare = mailbox_prepare,
  .check = mailbox_check,
  .dispatch = mailbox_dispatch,
  .finalize = mailbox_finalize,
};

static Mailbox *
mailbox_new (GMainContext *context, int priority, MailFunc func, gpointer owner)
{
  Mailbox *box = (Mailbox *) g_source_new (&mailbox_funcs, sizeof (Mailbox));

  pthread_mutex_init (&box->lock, NULL);
  g_queue_init (&box->mails);
  box->context = context;
  box->func = func;
  box->owner = owner;
  g_source_set_priority (&box->source, priority);
  g_source_set_static_name (&box->source, "prd-eio mailbox");
  g_source_attach (&box->source, context);
  return box;
}

/* Moves every mail of @mails to @box; any thread. */
static void
mailbox_post_all (Mailbox *box, GQueue *mails)
{
  GQueue refused = G_QUEUE_INIT;

  if (g_queue_is_empty (mails))
    return;
  pthread_mutex_lock (&box->lock);
  if (box->closed)
    {
      refused = *mails;
    }
  else if (box->mails.tail == NULL)
    {
      box->mails = *mails;
    }
  else
    {
      box->mails.tail->next = mails->head;
      mails->head->prev = box->mails.tail;
      box->mails.tail = mails->tail;
      box->mails.length += mails->length;
    }
  pthread_mutex_unlock (&box->lock);
  g_queue_init (mails);

  if (refused.length > 0)
    g_queue_clear_full (&refused, (GDestroyNotify) mail_free);
  else if (g_atomic_int_compare_and_exchange (&box->pending, 0, 1))
    g_main_context_wakeup (box->context);
}

/* Takes ownership of @mail; any thread. */
static void
mailbox_post (Mailbox *box, Mail *mail)
{
  GQueue one = G_QUEUE_INIT;

  g_queue_push_tail (&one, mail);
  mailbox_post_all (box, &one);
}

/* No mail is accepted from now on; what waits is dropped. The mailbox
 * stays allocated (a sender may still be posting) until the pool is freed. */
static void
mailbox_close (Mailbox *box)
{
  GQueue mails;

  pthread_mutex_lock (&box->lock);
  box->closed = TRUE;
  mails = box->mails;
  g_queue_init (&box->mails);
  pthread_mutex_unlock (&box->lock);

  g_queue_clear_full (&mails, (GDestroyNotify) mail_free);
  g_source_destroy (&box->source);
}

/* ------------------------------------------------------------------ */
/* I/O thread side                                                    */

static gboolean main_event (gpointer owner, Mail *mail);

static void
post_event (PrdEioWsLink *link, MailKind kind, int type, GBytes *bytes)
{
  Mail *mail;

  if (kind == EV_MESSAGE && link->io->inbox == NULL)
    {
      /* On the main thread a message is handled at once, from libsoup's
       * signal, as before there were links: the answers to a flood go out
       * (or overflow the write buffer) while it is read. */
      Mail now = { .kind = kind, .link = link, .type = type, .bytes = bytes };

      prd_eio_ws_link_ref (link);
      main_event (link->pool, &now);
      prd_eio_ws_link_unref (link);
      return;
    }

  mail = mail_new (kind, link);
  mail->type = type;
  mail->bytes = bytes != NULL ? g_bytes_ref (bytes) : NULL;
  mailbox_post (link->pool->events, mail);
}

static void
io_drop_out (PrdEioWsLink *link)
{
  Mail *mail;

  while ((mail = g_queue_pop_head (&link->out)) != NULL)
    {
      __atomic_fetch_sub (&link->buffered, mail_size (mail), __ATOMIC_RELAXED);
      mail_free (mail);
    }
  if (link->own != NULL)
    prd_eio_ws_conn_drop_output (link->own);
}

/* The connection is gone (or is given up at shutdown): forget it. */
static void
io_release (PrdEioWsLink *link)
{
  g_autoptr (SoupWebsocketConnection) conn = g_steal_pointer (&link->conn);

  io_drop_out (link);
  g_clear_pointer (&link->own, prd_eio_ws_conn_free);
  prd_eio_clear_source (&link->writable);
  prd_eio_clear_source (&link->flush_timeout);
  if (conn != NULL)
    {
      g_signal_handlers_disconnect_by_data (conn, link);
      if (link->metered != NULL)
        prd_eio_metered_stream_set_overflow_func (link->metered, NULL, NULL);
      link->metered = NULL;
      if (soup_websocket_connection_get_state (conn) != SOUP_WEBSOCKET_STATE_CLOSED)
        {
          prd_eio_stream_shut_down (soup_websocket_connection_get_io_stream (conn));
          g_io_stream_close (soup_websocket_connection_get_io_stream (conn), NULL, NULL);
        }
    }
  /* Last: it may hold the last reference to the link. */
  g_hash_table_remove (link->io->links, link);
}

static void
io_do_close (PrdEioWsLink *link)
{
  prd_eio_clear_source (&link->flush_timeout);
  if (link->own != NULL)
    {
      if (prd_eio_ws_conn_is_closed (link->own))
        io_release (link);
      else
        prd_eio_ws_conn_close (link->own, link->close_code);
      return;
    }
  if (link->conn == NULL)
    return;
  switch (soup_websocket_connection_get_state (link->conn))
    {
      case SOUP_WEBSOCKET_STATE_OPEN:
        /* libsoup lets the frame it is writing finish first, and reports
         * "closed" once the handshake is done or its own timeout passed. */
        soup_websocket_connection_close (link->conn, link->close_code, NULL);
        break;
      case SOUP_WEBSOCKET_STATE_CLOSED:
        io_release (link);
        break;
      case SOUP_WEBSOCKET_STATE_CLOSING:
      default:
        break;
    }
}

static GPollableOutputStream *
io_output (SoupWebsocketConnection *conn)
{
  GOutputStream *out =
      g_io_stream_get_output_stream (soup_websocket_connection_get_io_stream (conn));

  if (G_IS_POLLABLE_OUTPUT_STREAM (out) &&
      g_pollable_output_stream_can_poll (G_POLLABLE_OUTPUT_STREAM (out)))
    return G_POLLABLE_OUTPUT_STREAM (out);
  return NULL;
}

static gboolean
io_is_stalled (GPollableOutputStream *out)
{
  if (out == NULL)
    return FALSE;
  if (PRD_IS_EIO_WATCHED_OUTPUT (out))
    return prd_eio_watched_output_is_stalled (PRD_EIO_WATCHED_OUTPUT (out));
  return !g_pollable_output_stream_is_writable (out);
}

static gboolean
io_is_open (PrdEioWsLink *link)
{
  if (link->own != NULL)
    return prd_eio_ws_conn_is_open (link->own);
  return link->conn != NULL &&
         soup_websocket_connection_get_state (link->conn) == SOUP_WEBSOCKET_STATE_OPEN;
}

/* Whether frames sent wait for the connection's socket. */
static gboolean
io_has_queued (PrdEioWsLink *link)
{
  if (link->own != NULL)
    return !g_queue_is_empty (&link->out) || prd_eio_ws_conn_has_output (link->own);
  return !g_queue_is_empty (&link->out) && link->conn != NULL;
}

static void io_flush (PrdEioWsLink *link);

static gboolean
on_io_writable (GObject *stream, gpointer user_data)
{
  PrdEioWsLink *link = user_data;

  g_clear_pointer (&link->writable, g_source_unref);
  io_flush (link);
  return G_SOURCE_REMOVE;
}

/* Hands frames to libsoup while its last write took all it was given. */
static void
io_flush (PrdEioWsLink *link)
{
  GPollableOutputStream *out;
  Mail *mail;

  if (!io_is_open (link))
    {
      io_drop_out (link);
      return;
    }

  if (link->own != NULL)
    {
      /* Our connection writes them all with one writev(2) and counts what
       * waits (on_own_written()). */
      while ((mail = g_queue_pop_head (&link->out)) != NULL)
        {
          prd_eio_ws_conn_send (link->own, mail->type, mail->bytes);
          mail_free (mail);
        }
      if (link->close_requested)
        io_do_close (link);
      return;
    }

  out = io_output (link->conn);
  while ((mail = g_queue_peek_head (&link->out)) != NULL)
    {
      if (link->writable != NULL)
        return;
      if (io_is_stalled (out))
        {
          link->writable = g_pollable_output_stream_create_source (out, NULL);
          g_source_set_callback (link->writable, G_SOURCE_FUNC (on_io_writable), link, NULL);
          g_source_attach (link->writable, link->io->context);
          return;
        }

      g_queue_pop_head (&link->out);
      __atomic_fetch_sub (&link->buffered, mail_size (mail), __ATOMIC_RELAXED);
      soup_websocket_connection_send_message (link->conn, mail->type, mail->bytes);
      mail_free (mail);

      if (!io_is_open (link))
        {
          io_drop_out (link);
          return;
        }
    }

  if (link->close_requested)
    io_do_close (link);
}

static gboolean
on_io_flush_timeout (gpointer user_data)
{
  PrdEioWsLink *link = user_data;

  /* The peer does not read: give up what it did not take. */
  g_clear_pointer (&link->flush_timeout, g_source_unref);
  io_drop_out (link);
  io_do_close (link);
  return G_SOURCE_REMOVE;
}

static void
on_io_message (SoupWebsocketConnection *conn, int type, GBytes *message, gpointer user_data)
{
  PrdEioWsLink *link = user_data;

  /* A complete message arrived: what is read from now on is the next. */
  if (link->metered != NULL)
    prd_eio_metered_stream_reset (link->metered);
  if (!link->close_requested)
    {
      link->pending_bytes += g_bytes_get_size (message);
      post_event (link, EV_MESSAGE, type, message);
    }
}

static gboolean
io_gate_shut (guint64 messages, gboolean close, gpointer user_data)
{
  PrdEioWsLink *link = user_data;

  /* Whatever the peer sent last no longer needs an answer. */
  if (link->close_requested)
    return FALSE;
  if (close)
    return link->handled < messages;
  return messages - link->handled >= MAX_UNHANDLED || link->pending_bytes >= link->input_limit;
}

static void
on_io_closed (SoupWebsocketConnection *conn, gpointer user_data)
{
  PrdEioWsLink *link = user_data;

  if (!link->close_requested)
    post_event (link, EV_CLOSED, 0, NULL);
  io_release (link);
}

static void
on_io_error (SoupWebsocketConnection *conn, GError *error, gpointer user_data)
{
  g_debug ("websocket error: %s", error->message);
}

static void
on_io_overflow (gpointer user_data)
{
  PrdEioWsLink *link = user_data;

  if (link->close_requested)
    return;
  post_event (link, EV_OVERFLOW, 0, NULL);
  /* The metered stream reports the end of input from now on: close with
   * 1009 before libsoup takes that for the peer going away. */
  link->close_requested = TRUE;
  link->close_code = SOUP_WEBSOCKET_CLOSE_TOO_BIG;
  io_drop_out (link);
  io_do_close (link);
}

/* The gate may have opened. */
static void
io_open_gate (PrdEioWsLink *link)
{
  if (link->own != NULL)
    prd_eio_ws_conn_open_gate (link->own);
  else if (link->metered != NULL)
    prd_eio_metered_stream_open_gate (link->metered);
}

static void
on_own_message (gpointer user_data, int type, GBytes *message)
{
  on_io_message (NULL, type, message, user_data);
}

static void
on_own_closed (gpointer user_data)
{
  on_io_closed (NULL, user_data);
}

static gboolean
on_own_gate (gpointer user_data, guint64 messages, gboolean close)
{
  return io_gate_shut (messages, close, user_data);
}

static void
on_own_written (gpointer user_data, gsize size)
{
  PrdEioWsLink *link = user_data;

  __atomic_fetch_sub (&link->buffered, size, __ATOMIC_RELAXED);
}

static const PrdEioWsConnFuncs own_funcs = {
  .message = on_own_message,
  .closed = on_own_closed,
  .overflow = on_io_overflow,
  .gate = on_own_gate,
  .written = on_own_written,
};

static void
io_open (PrdEioWsLink *link)
{
  PrdEioMeteredStream *metered = NULL;
  g_autoptr (GIOStream) metered_io = NULL;
  g_autoptr (GIOStream) stream = g_steal_pointer (&link->stream);
  g_autoptr (GUri) uri = g_steal_pointer (&link->uri);
  g_autofree char *origin = g_steal_pointer (&link->origin);

  g_hash_table_add (link->io->links, prd_eio_ws_link_ref (link));
  if (link->extensions == NULL)
    {
      /* Created here, so that its sources go to this thread's context. */
      link->own =
          prd_eio_ws_conn_new (stream, link->input_limit, link->io->poller, &own_funcs, link);
      return;
    }

  /* Created here, so that libsoup attaches its sources to this thread's
   * context (the thread-default one). */
  metered_io = prd_eio_metered_io_stream_new (stream, link->input_limit, &metered);
  prd_eio_stream_set_socket (metered_io, prd_eio_stream_get_socket (stream));
  link->metered = metered;
  link->conn = soup_websocket_connection_new (metered_io, uri, SOUP_WEBSOCKET_CONNECTION_SERVER,
                                              origin, NULL, g_steal_pointer (&link->extensions));
  soup_websocket_connection_set_max_incoming_payload_size (link->conn, link->input_limit);
  g_signal_connect (link->conn, "message", G_CALLBACK (on_io_message), link);
  g_signal_connect (link->conn, "closed", G_CALLBACK (on_io_closed), link);
  g_signal_connect (link->conn, "error", G_CALLBACK (on_io_error), link);
  prd_eio_metered_stream_set_overflow_func (metered, on_io_overflow, link);
  prd_eio_metered_stream_set_gate (metered, io_gate_shut, link);
  if (link->io->poller != NULL)
    prd_eio_metered_stream_set_poller (metered, link->io->poller);
}

static gboolean
io_has_output (IoThread *io)
{
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, io->links);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      PrdEioWsLink *link = key;

      if (io_has_queued (link) || link->writable != NULL)
        return TRUE;
    }
  return FALSE;
}

static gboolean
io_check_stop (gpointer user_data)
{
  IoThread *io = user_data;

  if (io_has_output (io) && g_get_monotonic_time () < io->stop_deadline)
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&io->stop_check, g_source_unref);
  g_main_loop_quit (io->loop);
  return G_SOURCE_REMOVE;
}

static void
io_run (IoThread *io, Mail *mail)
{
  PrdEioWsLink *link = mail->link;

  switch (mail->kind)
    {
      case CMD_OPEN:
        io_open (link);
        break;

      case CMD_CLOSE:
        link->close_requested = TRUE;
        link->close_code = (gushort) mail->type;
        if (!mail->flush)
          io_drop_out (link);
        /* Whatever the peer sent last no longer needs an answer. */
        io_open_gate (link);
        if (io_has_queued (link) && link->flush_timeout == NULL)
          {
            link->flush_timeout = g_timeout_source_new (mail->flush_ms);
            g_source_set_callback (link->flush_timeout, on_io_flush_timeout, link, NULL);
            g_source_attach (link->flush_timeout, io->context);
          }
        io_flush (link);
        break;

      case CMD_HANDLED:
        /* The answers to the message came before this. */
        link->handled++;
        link->pending_bytes -= MIN (link->pending_bytes, mail->size);
        io_open_gate (link);
        break;

      case CMD_STOP:
        io->stop_deadline = g_get_monotonic_time () + (gint64) mail->flush_ms * 1000;
        io->stop_check = g_timeout_source_new (10);
        g_source_set_callback (io->stop_check, io_check_stop, io, NULL);
        g_source_attach (io->stop_check, io->context);
        break;

      case CMD_SEND: /* io_command() */
      case EV_MESSAGE:
      case EV_CLOSED:
      case EV_OVERFLOW:
      default:
        g_assert_not_reached ();
    }
}

/* Runs one command, for @mail's link. */
static gboolean
io_command (gpointer owner, Mail *mail)
{
  IoThread *io = owner;

  if (mail->kind == CMD_SEND)
    {
      /* The frame waits in the link: the mail moves there, without its
       * reference to the link (dropped last: it may be the last one). */
      PrdEioWsLink *link = g_steal_pointer (&mail->link);

      g_queue_push_tail (&link->out, mail);
      io_flush (link);
      prd_eio_ws_link_unref (link);
      return TRUE;
    }
  io_run (io, mail);
  return FALSE;
}

/* Forgets every connection still open on @io (the pool is stopping). */
static void
io_release_all (IoThread *io)
{
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, io->links);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      PrdEioWsLink *link = prd_eio_ws_link_ref (key);

      g_hash_table_iter_steal (&iter);
      io_release (link);
      /* io_release's removal found nothing: the table's reference and
       * ours are dropped here. */
      prd_eio_ws_link_unref (link);
      prd_eio_ws_link_unref (link);
    }
}

static gpointer
io_thread_main (gpointer user_data)
{
  IoThread *io = user_data;

  g_main_context_push_thread_default (io->context);
  g_main_loop_run (io->loop);
  /* Stopping: what could not be written in time is given up. */
  io_release_all (io);
  g_main_context_pop_thread_default (io->context);
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Main thread side                                                   */

static void send_command (PrdEioWsLink *link, Mail *mail);

static gboolean
main_event (gpointer owner, Mail *mail)
{
  PrdEioWsLink *link = mail->link;
  const PrdEioWsLinkHandler *handler = link->handler;
  Mail *handled;

  if (mail->kind == EV_MESSAGE)
    {
      if (link->open && handler != NULL)
        handler->message (link, mail->type, mail->bytes, link->handler_data);
      /* Handled: its answers are on their way to the I/O thread, ahead of
       * this. A Close waiting for it may pass once they are. */
      handled = mail_new (CMD_HANDLED, link);
      handled->size = g_bytes_get_size (mail->bytes);
      send_command (link, handled);
      return FALSE;
    }

  if (!link->open || handler == NULL)
    return FALSE;

  switch (mail->kind)
    {
      case EV_CLOSED:
        link->open = FALSE;
        handler->closed (link, link->handler_data);
        break;
      case EV_OVERFLOW:
        handler->overflow (link, link->handler_data);
        break;
      case EV_MESSAGE:
      case CMD_OPEN:
      case CMD_SEND:
      case CMD_CLOSE:
      case CMD_HANDLED:
      case CMD_STOP:
      default:
        g_assert_not_reached ();
    }
  return FALSE;
}

/* Commands wait in their thread's outbox until the main loop has
 * dispatched what is ready now, and then go to the thread in one batch:
 * a broadcast to many sessions wakes each I/O thread once. */
static void
send_command (PrdEioWsLink *link, Mail *mail)
{
  if (link->io->closed)
    {
      mail_free (mail);
    }
  else if (link->io->inbox == NULL)
    {
      if (!io_command (link->io, mail))
        mail_free (mail);
    }
  else
    {
      g_queue_push_tail (&link->io->outbox, mail);
    }
}

static void
pool_flush (PrdEioIoPool *pool)
{
  for (guint i = 0; i < pool->n_io; i++)
    {
      IoThread *io = &pool->threads[i];

      if (io->inbox != NULL && io->outbox.length > 0)
        mailbox_post_all (io->inbox, &io->outbox);
    }
}

/* Runs before the main context polls, i.e. after every dispatch of an
 * iteration: nothing is sent later than that. */
typedef struct
{
  GSource source;
  PrdEioIoPool *pool; /* (unowned): destroys the source */
} Flusher;

static gboolean
flusher_prepare (GSource *source, int *timeout)
{
  pool_flush (((Flusher *) source)->pool);
  *timeout = -1;
  return FALSE;
}

static GSourceFuncs flusher_funcs = {
  .prepare = flusher_prepare,
};

PrdEioIoPool *
prd_eio_io_pool_new (guint n_threads)
{
  PrdEioIoPool *pool = g_new0 (PrdEioIoPool, 1);
  GError *error = NULL;

  pool->ref_count = 1;
  pool->main_context = g_main_context_ref_thread_default ();
  /* Events run before the default-priority sources, as libsoup's own
   * WebSocket signals did when the connections were on this thread. */
  pool->events = mailbox_new (pool->main_context, G_PRIORITY_DEFAULT, main_event, pool);
  /* First of all sources: GLib prepares no source of a lower priority than
   * one already found ready. */
  pool->flusher = g_source_new (&flusher_funcs, sizeof (Flusher));
  ((Flusher *) pool->flusher)->pool = pool;
  g_source_set_priority (pool->flusher, G_MININT);
  g_source_set_static_name (pool->flusher, "prd-eio flusher");
  g_source_attach (pool->flusher, pool->main_context);
  pool->n_io = MAX (n_threads, 1);
  pool->threads = g_new0 (IoThread, pool->n_io);

  for (guint i = 0; i < pool->n_io; i++)
    {
      IoThread *io = &pool->threads[i];
      g_autofree char *name = NULL;

      io->pool = pool;
      io->links = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) prd_eio_ws_link_unref, NULL);
      io->context =
          n_threads == 0 ? g_main_context_ref (pool->main_context) : g_main_context_new ();
      io->poller = prd_eio_poller_new (io->context, &error);
      if (io->poller == NULL)
        {
          g_warning ("WebSocket sockets are polled one by one: %s", error->message);
          g_clear_error (&error);
        }
      if (n_threads == 0)
        continue;

      name = g_strdup_printf ("prd-io-%u", i);
      io->loop = g_main_loop_new (io->context, FALSE);
      io->inbox = mailbox_new (io->context, G_PRIORITY_DEFAULT, io_command, io);
      io->thread = g_thread_new (name, io_thread_main, io);
    }
  return pool;
}

static void
pool_unref (PrdEioIoPool *pool)
{
  if (__atomic_sub_fetch (&pool->ref_count, 1, __ATOMIC_ACQ_REL) != 0)
    return;

  for (guint i = 0; i < pool->n_io; i++)
    {
      IoThread *io = &pool->threads[i];

      g_assert (io->thread == NULL);
      if (io->inbox != NULL)
        g_source_unref (&io->inbox->source);
      g_clear_pointer (&io->links, g_hash_table_unref);
      if (io->poller != NULL)
        prd_eio_poller_detach (io->poller);
      g_clear_pointer (&io->poller, prd_eio_poller_unref);
      g_clear_pointer (&io->loop, g_main_loop_unref);
      g_clear_pointer (&io->context, g_main_context_unref);
    }
  g_free (pool->threads);
  g_source_unref (&pool->events->source);
  g_main_context_unref (pool->main_context);
  g_free (pool);
}

void
prd_eio_io_pool_free (PrdEioIoPool *pool, guint flush_ms)
{
  if (pool == NULL)
    return;

  /* What was sent goes out; nothing is reported any more. */
  pool_flush (pool);
  g_source_destroy (pool->flusher);
  g_clear_pointer (&pool->flusher, g_source_unref);
  mailbox_close (pool->events);

  for (guint i = 0; i < pool->n_io; i++)
    {
      IoThread *io = &pool->threads[i];

      io->closed = TRUE;
      if (io->thread != NULL)
        {
          Mail *stop = mail_new (CMD_STOP, NULL);

          stop->flush_ms = flush_ms;
          mailbox_post (io->inbox, stop);
          g_thread_join (g_steal_pointer (&io->thread));
          mailbox_close (io->inbox);
        }
      else
        {
          /* On this thread, frames are handed over as they are sent: only
           * a stalled connection holds any, and it is given up. */
          io_release_all (io);
        }
    }
  pool_unref (pool);
}

PrdEioWsLink *
prd_eio_ws_link_new (PrdEioIoPool *pool,
                     GIOStream *stream,
                     GUri *uri,
                     const char *origin,
                     GList *extensions,
                     guint64 input_limit)
{
  PrdEioWsLink *link = g_new0 (PrdEioWsLink, 1);

  link->ref_count = 1;
  __atomic_add_fetch (&pool->ref_count, 1, __ATOMIC_RELAXED);
  link->pool = pool;
  link->io = &pool->threads[pool->next++ % pool->n_io];
  link->open = TRUE;
  link->stream = g_object_ref (stream);
  link->uri = g_uri_ref (uri);
  link->origin = g_strdup (origin);
  link->extensions = extensions;
  link->input_limit = input_limit;
  g_queue_init (&link->out);

  send_command (link, mail_new (CMD_OPEN, link));
  return link;
}

PrdEioWsLink *
prd_eio_ws_link_ref (PrdEioWsLink *link)
{
  __atomic_add_fetch (&link->ref_count, 1, __ATOMIC_RELAXED);
  return link;
}

void
prd_eio_ws_link_unref (PrdEioWsLink *link)
{
  if (__atomic_sub_fetch (&link->ref_count, 1, __ATOMIC_ACQ_REL) != 0)
    return;

  g_assert (link->conn == NULL && link->own == NULL);
  g_queue_clear_full (&link->out, (GDestroyNotify) mail_free);
  g_clear_object (&link->stream);
  g_clear_pointer (&link->uri, g_uri_unref);
  g_free (link->origin);
  g_list_free_full (link->extensions, g_object_unref);
  pool_unref (link->pool);
  g_free (link);
}

void
prd_eio_ws_link_set_handler (PrdEioWsLink *link,
                             const PrdEioWsLinkHandler *handler,
                             gpointer user_data)
{
  link->handler = handler;
  link->handler_data = handler != NULL ? user_data : NULL;
}

gboolean
prd_eio_ws_link_is_open (PrdEioWsLink *link)
{
  return link != NULL && link->open;
}

void
prd_eio_ws_link_send (PrdEioWsLink *link, SoupWebsocketDataType type, GBytes *frame)
{
  Mail *mail;

  if (!link->open)
    return;
  __atomic_fetch_add (&link->buffered, g_bytes_get_size (frame), __ATOMIC_RELAXED);
  if (link->io->inbox == NULL && link->own != NULL && g_queue_is_empty (&link->out) &&
      !link->io->closed)
    {
      /* On this thread, with nothing waiting in the link: no mail. */
      prd_eio_ws_conn_send (link->own, type, frame);
      return;
    }
  mail = mail_new (CMD_SEND, link);
  mail->type = type;
  mail->bytes = g_bytes_ref (frame);
  send_command (link, mail);
}

void
prd_eio_ws_link_send_text (PrdEioWsLink *link, const char *text)
{
  g_autoptr (GBytes) frame = g_bytes_new (text, strlen (text));

  prd_eio_ws_link_send (link, SOUP_WEBSOCKET_DATA_TEXT, frame);
}

guint64
prd_eio_ws_link_get_buffered (PrdEioWsLink *link)
{
  return __atomic_load_n (&link->buffered, __ATOMIC_RELAXED);
}

void
prd_eio_ws_link_close (PrdEioWsLink *link, gushort code, gboolean flush, guint flush_ms)
{
  Mail *mail;

  link->handler = NULL;
  link->handler_data = NULL;
  if (!link->open)
    return;
  link->open = FALSE;
  mail = mail_new (CMD_CLOSE, link);
  mail->type = code;
  mail->flush = flush;
  mail->flush_ms = flush_ms;
  send_command (link, mail);
}
