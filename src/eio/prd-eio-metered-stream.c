/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A pollable filter input stream that meters what a WebSocket peer sends
 * between two complete messages; see prd-eio-metered-stream.h for why.
 *
 * It also gives libsoup a cheaper source to wait on. libsoup creates a new
 * input source for every read, and the source of a filter stream is a
 * GPollableSource with the base stream's source as its child: the chain of
 * filters under a WebSocket (this one, libsoup's SoupFilterInputStream, the
 * listener's idle stream) makes four sources per connection, every one of
 * which the main context visits in each iteration, however idle the
 * connection. When the bottom of the chain is a plain socket (not TLS), and
 * the last read through the chain ended with G_IO_ERROR_WOULD_BLOCK (so no
 * filter holds anything: a filter only reports that when it has nothing to
 * give), the chain is readable exactly when the socket is, and the source is
 * one GPollableSource watching the socket's descriptor.
 *
 * The gate: the peer's next frame can be held back from libsoup, so that a
 * Close frame (or the end of input) waits until the messages read before it
 * have been handled, and no more is read while too many wait to be handled
 * (see prd_eio_metered_stream_set_gate()). The stream follows the frame
 * headers of what passes through; when the next frame must wait, it hands
 * out what comes before, keeps the rest, and reports
 * G_IO_ERROR_WOULD_BLOCK until the gate opens.
 */
#define G_LOG_DOMAIN "prd-eio"

#include "config.h"

#include <string.h>

#include "prd-eio-metered-stream.h"

struct _PrdEioMeteredStream
{
  GFilterInputStream parent_instance;

  GIOStream *base_io; /* (owned): closed with this stream */
  guint64 limit;
  guint64 count;
  gboolean exceeded;
  gboolean drained; /* the last read ended with G_IO_ERROR_WOULD_BLOCK */
  GSocket *socket;  /* (owned) (nullable): the bottom of the chain, when a plain socket */
  PrdEioOverflowFunc overflow_func;
  gpointer overflow_data;

  /* The gate. */
  PrdEioGateFunc gate_func;
  gpointer gate_data;
  GByteArray *held;     /* (owned) (nullable): read, from the held frame on */
  gsize held_offset;    /* of held, already handed out */
  gboolean held_eof;    /* the end of input came while the gate was shut */
  GSource *held_source; /* (owned) (nullable): handed out while held, to wake */
  guint8 header[14];    /* the frame header being read */
  guint header_len;
  guint64 payload_left; /* of the current frame */
  guint64 messages;     /* complete messages handed out (their last frame begun) */

  PrdEioPoller *poller; /* (owned) (nullable): watches the socket when drained */
  PrdEioPollerWatch watch;
};

static void prd_eio_metered_stream_pollable_iface_init (GPollableInputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PrdEioMeteredStream,
                               prd_eio_metered_stream,
                               G_TYPE_FILTER_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      prd_eio_metered_stream_pollable_iface_init))

static GInputStream *
base_stream (PrdEioMeteredStream *self)
{
  return g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (self));
}

/* Accounts @n bytes just read; FALSE once the limit is passed. */
static gboolean
account (PrdEioMeteredStream *self, gssize n)
{
  if (n <= 0)
    return TRUE;
  self->count += n;
  if (self->count > self->limit && !self->exceeded)
    {
      self->exceeded = TRUE;
      if (self->overflow_func != NULL)
        self->overflow_func (self->overflow_data);
    }
  return !self->exceeded;
}

/* ------------------------------------------------------------------ */
/* The gate                                                           */

/* Whether a frame (a Close frame, or the end of input, if @close) must
 * wait. */
static gboolean
gate_shut_for (PrdEioMeteredStream *self, gboolean close)
{
  return self->gate_func != NULL && self->gate_func (self->messages, close, self->gate_data);
}

/* Whether what is held (it begins with a frame header) must still wait. */
static gboolean
gate_shut (PrdEioMeteredStream *self)
{
  gboolean close = self->held == NULL || self->held_offset >= self->held->len ||
                   (self->held->data[self->held_offset] & 0x0f) == 0x8;

  return gate_shut_for (self, close);
}

static gboolean
is_held (PrdEioMeteredStream *self)
{
  return self->held_eof || (self->held != NULL && self->held_offset < self->held->len);
}

/* The length of the frame header that begins with header[0..header_len). */
static guint
header_size (const guint8 *header, guint header_len)
{
  guint len7;

  if (header_len < 2)
    return 2;
  len7 = header[1] & 0x7f;
  return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((header[1] & 0x80) ? 4 : 0);
}

static guint64
header_payload (const guint8 *header)
{
  guint len7 = header[1] & 0x7f;
  guint64 len = 0;

  if (len7 < 126)
    return len7;
  for (guint i = 0; i < (len7 == 126 ? 2u : 8u); i++)
    len = (len << 8) | header[2 + i];
  return len;
}

/* Follows the frames in @data; returns where a frame begins that must wait
 * for the gate, or @n. Only what comes before is taken into account. */
static gsize
scan (PrdEioMeteredStream *self, const guint8 *data, gsize n)
{
  gsize i = 0;

  if (self->gate_func == NULL)
    return n;

  while (i < n)
    {
      if (self->payload_left > 0)
        {
          guint64 skip = MIN (self->payload_left, (guint64) (n - i));

          i += skip;
          self->payload_left -= skip;
          continue;
        }
      if (self->header_len == 0 && gate_shut_for (self, (data[i] & 0x0f) == 0x8))
        return i;
      self->header[self->header_len++] = data[i++];
      if (self->header_len == header_size (self->header, self->header_len))
        {
          /* The final frame of a message (continuation, text or binary)
           * completes it. */
          if ((self->header[0] & 0x80) && (self->header[0] & 0x0f) <= 0x2)
            self->messages++;
          self->payload_left = header_payload (self->header);
          self->header_len = 0;
        }
    }
  return n;
}

static gssize
would_block (GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                       "Waiting for the messages read to be handled");
  return -1;
}

/* What a read hands out once base_read() returned @n bytes into @buffer. */
static gssize
filter_read (PrdEioMeteredStream *self, guint8 *buffer, gssize n, GError **error)
{
  gsize pass;

  if (n < 0)
    return n;
  if (n == 0)
    {
      if (!gate_shut_for (self, TRUE))
        return 0;
      self->held_eof = TRUE;
      return would_block (error);
    }

  pass = scan (self, buffer, n);
  if (pass < (gsize) n)
    {
      if (self->held == NULL)
        self->held = g_byte_array_new ();
      g_byte_array_append (self->held, buffer + pass, n - pass);
      if (pass == 0)
        return would_block (error);
    }
  account (self, pass);
  return pass;
}

/* Hands out what was held, once the gate is open. */
static gssize
read_held (PrdEioMeteredStream *self, guint8 *buffer, gsize count, GError **error)
{
  gsize available, pass;

  available = self->held != NULL ? self->held->len - self->held_offset : 0;
  if (available == 0)
    {
      /* Only the end was held. */
      if (gate_shut_for (self, TRUE))
        return would_block (error);
      self->held_eof = FALSE;
      return 0;
    }

  count = MIN (count, available);
  memcpy (buffer, self->held->data + self->held_offset, count);
  pass = scan (self, buffer, count);
  if (pass == 0)
    return would_block (error);
  self->held_offset += pass;
  if (self->held_offset == self->held->len)
    {
      g_byte_array_set_size (self->held, 0);
      self->held_offset = 0;
    }
  account (self, pass);
  return pass;
}

static gssize
prd_eio_metered_stream_read (
    GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable, GError **error)
{
  PrdEioMeteredStream *self = PRD_EIO_METERED_STREAM (stream);
  gssize n;

  if (self->exceeded)
    return 0;
  self->drained = FALSE;
  if (is_held (self))
    return read_held (self, buffer, count, error);
  n = g_input_stream_read (base_stream (self), buffer, count, cancellable, error);
  return filter_read (self, buffer, n, error);
}

/* Before the socket is closed, so that its descriptor leaves the set. */
static void
forget_poller (PrdEioMeteredStream *self)
{
  if (self->poller == NULL)
    return;
  prd_eio_poller_forget (self->poller, &self->watch);
  g_clear_pointer (&self->poller, prd_eio_poller_unref);
}

static gboolean
prd_eio_metered_stream_close (GInputStream *stream, GCancellable *cancellable, GError **error)
{
  PrdEioMeteredStream *self = PRD_EIO_METERED_STREAM (stream);

  forget_poller (self);
  /* Closing the base GIOStream (not only its input) closes the socket. */
  return g_io_stream_close (self->base_io, cancellable, error);
}

static void
on_base_closed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;

  if (g_io_stream_close_finish (G_IO_STREAM (source), result, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, g_steal_pointer (&error));
}

/* GInputStream would run close_fn in a worker thread; close the base
 * stream asynchronously on this thread instead. */
static void
prd_eio_metered_stream_close_async (GInputStream *stream,
                                    int io_priority,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  PrdEioMeteredStream *self = PRD_EIO_METERED_STREAM (stream);
  GTask *task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, prd_eio_metered_stream_close_async);
  forget_poller (self);
  g_io_stream_close_async (self->base_io, io_priority, cancellable, on_base_closed, task);
}

static gboolean
prd_eio_metered_stream_close_finish (GInputStream *stream, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
prd_eio_metered_stream_can_poll (GPollableInputStream *stream)
{
  GInputStream *base = base_stream (PRD_EIO_METERED_STREAM (stream));

  return G_IS_POLLABLE_INPUT_STREAM (base) &&
         g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (base));
}

static gboolean
prd_eio_metered_stream_is_readable (GPollableInputStream *stream)
{
  PrdEioMeteredStream *self = PRD_EIO_METERED_STREAM (stream);

  /* Past the limit the stream is at its end, which is always readable. */
  if (!self->exceeded && is_held (self))
    return !gate_shut (self);
  return self->exceeded ||
         g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (base_stream (self)));
}

static GSource *
prd_eio_metered_stream_create_source (GPollableInputStream *stream, GCancellable *cancellable)
{
  PrdEioMeteredStream *self = PRD_EIO_METERED_STREAM (stream);
  g_autoptr (GSource) base_source = NULL;

  if (self->exceeded)
    {
      base_source = g_timeout_source_new (0);
    }
  else if (is_held (self))
    {
      /* Ready at once if the gate is open; otherwise woken by
       * prd_eio_metered_stream_open_gate(). */
      GSource *source = g_pollable_source_new (G_OBJECT (stream));

      if (!gate_shut (self))
        g_source_set_ready_time (source, 0);
      g_clear_pointer (&self->held_source, g_source_unref);
      self->held_source = g_source_ref (source);
      return source;
    }
  else if (self->drained && self->socket != NULL && cancellable == NULL &&
           !g_socket_is_closed (self->socket))
    {
      GSource *source = g_pollable_source_new (G_OBJECT (stream));

      /* On an epoll set shared with other connections, or else polled by
       * GLib with the context's other descriptors. */
      if (self->poller == NULL ||
          !prd_eio_poller_arm (self->poller, &self->watch, g_socket_get_fd (self->socket), source))
        g_source_add_unix_fd (source, g_socket_get_fd (self->socket),
                              G_IO_IN | G_IO_HUP | G_IO_ERR);
      return source;
    }
  else
    {
      base_source = g_pollable_input_stream_create_source (
          G_POLLABLE_INPUT_STREAM (base_stream (self)), cancellable);
    }
  return g_pollable_source_new_full (stream, base_source, cancellable);
}

static gssize
prd_eio_metered_stream_read_nonblocking (GPollableInputStream *stream,
                                         void *buffer,
                                         gsize count,
                                         GError **error)
{
  PrdEioMeteredStream *self = PRD_EIO_METERED_STREAM (stream);
  gssize n;

  if (self->exceeded)
    return 0;
  if (is_held (self))
    {
      self->drained = FALSE;
      return read_held (self, buffer, count, error);
    }
  n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (base_stream (self)),
                                                buffer, count, NULL, error);
  self->drained = n < 0 && error != NULL && *error != NULL &&
                  g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  return filter_read (self, buffer, n, error);
}

static void
prd_eio_metered_stream_pollable_iface_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = prd_eio_metered_stream_can_poll;
  iface->is_readable = prd_eio_metered_stream_is_readable;
  iface->create_source = prd_eio_metered_stream_create_source;
  iface->read_nonblocking = prd_eio_metered_stream_read_nonblocking;
}

static void
prd_eio_metered_stream_finalize (GObject *object)
{
  PrdEioMeteredStream *self = PRD_EIO_METERED_STREAM (object);

  g_clear_object (&self->base_io);
  g_clear_object (&self->socket);
  forget_poller (self);
  g_clear_pointer (&self->held, g_byte_array_unref);
  g_clear_pointer (&self->held_source, g_source_unref);

  G_OBJECT_CLASS (prd_eio_metered_stream_parent_class)->finalize (object);
}

static void
prd_eio_metered_stream_class_init (PrdEioMeteredStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GInputStreamClass *input_class = G_INPUT_STREAM_CLASS (klass);

  object_class->finalize = prd_eio_metered_stream_finalize;
  input_class->read_fn = prd_eio_metered_stream_read;
  input_class->close_fn = prd_eio_metered_stream_close;
  input_class->close_async = prd_eio_metered_stream_close_async;
  input_class->close_finish = prd_eio_metered_stream_close_finish;
}

static void
prd_eio_metered_stream_init (PrdEioMeteredStream *self)
{
  self->watch = (PrdEioPollerWatch) PRD_EIO_POLLER_WATCH_INIT;
}

/* ------------------------------------------------------------------ */
/* The output side: a pass-through that remembers whether the last write
 * took everything it was given. libsoup writes a frame as soon as it gets
 * it; when the socket takes only part of it (or nothing), libsoup keeps the
 * rest and waits for the socket, and that is what the session must know
 * before it hands over the next frame. Asking the socket (poll(2)) before
 * every frame costs a system call per frame; the result of the write that
 * just happened costs nothing. */

struct _PrdEioWatchedOutput
{
  GFilterOutputStream parent_instance;

  gboolean stalled;
};

static void prd_eio_watched_output_pollable_iface_init (GPollableOutputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PrdEioWatchedOutput,
                               prd_eio_watched_output,
                               G_TYPE_FILTER_OUTPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_OUTPUT_STREAM,
                                                      prd_eio_watched_output_pollable_iface_init))

static GOutputStream *
output_base (PrdEioWatchedOutput *self)
{
  return g_filter_output_stream_get_base_stream (G_FILTER_OUTPUT_STREAM (self));
}

static gssize
prd_eio_watched_output_write (GOutputStream *stream,
                              const void *buffer,
                              gsize count,
                              GCancellable *cancellable,
                              GError **error)
{
  PrdEioWatchedOutput *self = PRD_EIO_WATCHED_OUTPUT (stream);
  gssize n = g_output_stream_write (output_base (self), buffer, count, cancellable, error);

  self->stalled = n < 0 || (gsize) n < count;
  return n;
}

/* Closing the base is the input side's business (it closes the whole base
 * GIOStream); GOutputStream would run close_fn in a worker thread. */
static void
prd_eio_watched_output_close_async (GOutputStream *stream,
                                    int io_priority,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, prd_eio_watched_output_close_async);
  g_task_return_boolean (task, TRUE);
}

static gboolean
prd_eio_watched_output_close_finish (GOutputStream *stream, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
prd_eio_watched_output_can_poll (GPollableOutputStream *stream)
{
  GOutputStream *base = output_base (PRD_EIO_WATCHED_OUTPUT (stream));

  return G_IS_POLLABLE_OUTPUT_STREAM (base) &&
         g_pollable_output_stream_can_poll (G_POLLABLE_OUTPUT_STREAM (base));
}

static gboolean
prd_eio_watched_output_is_writable (GPollableOutputStream *stream)
{
  return g_pollable_output_stream_is_writable (
      G_POLLABLE_OUTPUT_STREAM (output_base (PRD_EIO_WATCHED_OUTPUT (stream))));
}

static GSource *
prd_eio_watched_output_create_source (GPollableOutputStream *stream, GCancellable *cancellable)
{
  g_autoptr (GSource) base_source = g_pollable_output_stream_create_source (
      G_POLLABLE_OUTPUT_STREAM (output_base (PRD_EIO_WATCHED_OUTPUT (stream))), cancellable);

  return g_pollable_source_new_full (stream, base_source, cancellable);
}

static gssize
prd_eio_watched_output_write_nonblocking (GPollableOutputStream *stream,
                                          const void *buffer,
                                          gsize count,
                                          GError **error)
{
  PrdEioWatchedOutput *self = PRD_EIO_WATCHED_OUTPUT (stream);
  gssize n = g_pollable_output_stream_write_nonblocking (
      G_POLLABLE_OUTPUT_STREAM (output_base (self)), buffer, count, NULL, error);

  self->stalled = n < 0 || (gsize) n < count;
  return n;
}

static void
prd_eio_watched_output_pollable_iface_init (GPollableOutputStreamInterface *iface)
{
  iface->can_poll = prd_eio_watched_output_can_poll;
  iface->is_writable = prd_eio_watched_output_is_writable;
  iface->create_source = prd_eio_watched_output_create_source;
  iface->write_nonblocking = prd_eio_watched_output_write_nonblocking;
}

static void
prd_eio_watched_output_class_init (PrdEioWatchedOutputClass *klass)
{
  GOutputStreamClass *output_class = G_OUTPUT_STREAM_CLASS (klass);

  output_class->write_fn = prd_eio_watched_output_write;
  output_class->close_async = prd_eio_watched_output_close_async;
  output_class->close_finish = prd_eio_watched_output_close_finish;
}

static void
prd_eio_watched_output_init (PrdEioWatchedOutput *self)
{
}

gboolean
prd_eio_watched_output_is_stalled (PrdEioWatchedOutput *self)
{
  g_return_val_if_fail (PRD_IS_EIO_WATCHED_OUTPUT (self), TRUE);
  return self->stalled;
}

/* ------------------------------------------------------------------ */

/* The GSocket at the bottom of @stream's chain of filters, if it is a
 * socket's own stream (not, say, a TLS connection's). */
GSocket *
prd_eio_find_socket (GInputStream *stream)
{
  GType socket_stream_type = g_type_from_name ("GSocketInputStream");
  GSocket *socket = NULL;

  while (G_IS_FILTER_INPUT_STREAM (stream))
    stream = g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (stream));
  if (socket_stream_type == 0 || !G_TYPE_CHECK_INSTANCE_TYPE (stream, socket_stream_type))
    return NULL;
  g_object_get (stream, "socket", &socket, NULL);
  return socket;
}

#define STREAM_SOCKET_KEY "prd-eio-stream-socket"

/* @socket: (nullable) */
void
prd_eio_stream_set_socket (GIOStream *stream, GSocket *socket)
{
  g_object_set_data_full (G_OBJECT (stream), STREAM_SOCKET_KEY,
                          socket != NULL ? g_object_ref (socket) : NULL, g_object_unref);
}

/* Returns: (transfer none) (nullable) */
GSocket *
prd_eio_stream_get_socket (GIOStream *stream)
{
  return g_object_get_data (G_OBJECT (stream), STREAM_SOCKET_KEY);
}

void
prd_eio_stream_shut_down (GIOStream *stream)
{
  GSocket *socket = prd_eio_stream_get_socket (stream);

  if (socket != NULL)
    g_socket_shutdown (socket, TRUE, TRUE, NULL);
}

GIOStream *
prd_eio_metered_io_stream_new (GIOStream *base, guint64 limit, PrdEioMeteredStream **out_metered)
{
  PrdEioMeteredStream *metered;
  GOutputStream *output;
  GIOStream *io;

  g_return_val_if_fail (G_IS_IO_STREAM (base), NULL);

  metered = g_object_new (PRD_TYPE_EIO_METERED_STREAM, "base-stream",
                          g_io_stream_get_input_stream (base), "close-base-stream", FALSE, NULL);
  metered->base_io = g_object_ref (base);
  metered->limit = limit;
  metered->socket = prd_eio_find_socket (g_io_stream_get_input_stream (base));

  output = g_object_new (PRD_TYPE_EIO_WATCHED_OUTPUT, "base-stream",
                         g_io_stream_get_output_stream (base), "close-base-stream", FALSE, NULL);

  io = g_simple_io_stream_new (G_INPUT_STREAM (metered), output);
  if (out_metered != NULL)
    *out_metered = metered;
  g_object_unref (metered);
  g_object_unref (output);
  return io;
}

void
prd_eio_metered_stream_reset (PrdEioMeteredStream *self)
{
  g_return_if_fail (PRD_IS_EIO_METERED_STREAM (self));
  self->count = 0;
}

void
prd_eio_metered_stream_set_overflow_func (PrdEioMeteredStream *self,
                                          PrdEioOverflowFunc func,
                                          gpointer user_data)
{
  g_return_if_fail (PRD_IS_EIO_METERED_STREAM (self));
  self->overflow_func = func;
  self->overflow_data = user_data;
}

/**
 * prd_eio_metered_stream_set_gate:
 * @func: (nullable): tells whether the peer's next frame must wait
 *
 * From now on, each frame from the peer (and the end of its input) is
 * handed out only while @func returns %FALSE for it; call
 * prd_eio_metered_stream_open_gate() when that may have changed. Set
 * before the first read: the frames are followed from the first byte.
 */
void
prd_eio_metered_stream_set_gate (PrdEioMeteredStream *self, PrdEioGateFunc func, gpointer user_data)
{
  g_return_if_fail (PRD_IS_EIO_METERED_STREAM (self));
  self->gate_func = func;
  self->gate_data = user_data;
}

/* The gate may be open now: wake the reader if it waits for it. */
void
prd_eio_metered_stream_open_gate (PrdEioMeteredStream *self)
{
  g_return_if_fail (PRD_IS_EIO_METERED_STREAM (self));
  if (self->held_source != NULL && is_held (self) && !gate_shut (self))
    g_source_set_ready_time (self->held_source, 0);
}

/* Waits for the socket on @poller's epoll set rather than with its own
 * descriptor in the context; call on the poller's thread, before the first
 * read. */
void
prd_eio_metered_stream_set_poller (PrdEioMeteredStream *self, PrdEioPoller *poller)
{
  g_return_if_fail (PRD_IS_EIO_METERED_STREAM (self));
  forget_poller (self);
  self->poller = poller != NULL ? prd_eio_poller_ref (poller) : NULL;
}
