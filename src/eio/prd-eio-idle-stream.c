/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A pollable filter input stream that makes the end of an idle HTTP
 * connection visible to libsoup 3.2; see prd-eio-idle-stream.h for why.
 *
 * The empty line matters: libsoup reports a request as started only once it
 * has read some of it, and only a started request has someone to close the
 * connection when it fails. The error after it (rather than the end of
 * stream) makes libsoup give up at once instead of answering the half
 * request with a 400 on a connection the peer has left.
 */
#define G_LOG_DOMAIN "prd-eio"

#include "config.h"

#include <string.h>

#include "prd-eio-idle-stream.h"

#define END_LINE     "\r\n"
#define END_LINE_LEN 2

/* Of each header line, what the framing checks read: enough for any valid
 * Transfer-Encoding or Content-Length line. */
#define LINE_KEPT 96

/* Where the stream is, request by request. */
typedef enum
{
  SCAN_HEAD,       /* a request head */
  SCAN_BODY,       /* body_left bytes of a body */
  SCAN_CHUNK_SIZE, /* a chunk's size line */
  SCAN_CHUNK_DATA, /* body_left bytes of a chunk */
  SCAN_CHUNK_END,  /* the line break after a chunk */
  SCAN_TRAILER,    /* trailer lines, up to an empty one */
  SCAN_STOPPED,    /* after an Upgrade request: until the connection is idle again */
} Scan;

struct _PrdEioIdleStream
{
  GFilterInputStream parent_instance;

  GIOStream *base_io; /* (owned): closed with this stream */
  gboolean idle;
  gboolean ended;    /* the end came while idle: hand out END_LINE, then end_error */
  gsize line_offset; /* bytes of END_LINE handed out */
  GError *end_error; /* (owned) (nullable) */
  /* Fired when this stream is closed, unless the connection was handed
   * off (prd_eio_idle_stream_hand_off()). */
  PrdEioClosedNotice *closed; /* (owned) (nullable) */

  /* What the client sends, followed request by request (heads, and the
   * bodies between them, so that pipelined requests are found where libsoup
   * finds them); see prd_eio_idle_stream_set_header_limit(). */
  gsize header_limit; /* 0: none, and nothing is followed */
  Scan scan;
  gsize header_bytes;    /* of the head being read */
  gboolean head_started; /* a byte other than CR or LF came (empty lines before are skipped) */
  gboolean head_refused; /* refused: nothing more reaches libsoup */
  PrdEioHeadRefusal head_refusal;
  PrdEioHeadRefusedFunc refused_func;
  gpointer refused_data;
  /* The current line (of a head, a chunk size, a trailer), for the checks
   * (scan_line()). */
  char line[LINE_KEPT + 1];
  gsize line_len;         /* bytes of the line so far (only LINE_KEPT kept) */
  gboolean request_line;  /* the current line is the request line */
  guint transfer_codings; /* Transfer-Encoding lines so far */
  gboolean chunked;       /* the head's body is chunked */
  gboolean has_length;    /* the head has a Content-Length */
  gboolean upgrade;       /* the head asks for an Upgrade (a WebSocket) */
  guint64 body_left;      /* of a Content-Length body, or of a chunk */
};

static void prd_eio_idle_stream_pollable_iface_init (GPollableInputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PrdEioIdleStream,
                               prd_eio_idle_stream,
                               G_TYPE_FILTER_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      prd_eio_idle_stream_pollable_iface_init))

static GInputStream *
base_stream (PrdEioIdleStream *self)
{
  return g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (self));
}

/* What is left of the end: the rest of END_LINE, then the error, for good. */
static gssize
read_end (PrdEioIdleStream *self, void *buffer, gsize count, GError **error)
{
  gsize n;

  if (self->line_offset < END_LINE_LEN && count > 0)
    {
      n = MIN (count, END_LINE_LEN - self->line_offset);
      memcpy (buffer, &END_LINE[self->line_offset], n);
      self->line_offset += n;
      return (gssize) n;
    }
  if (error != NULL)
    *error = g_error_copy (self->end_error);
  return -1;
}

static gssize
refuse_head (PrdEioHeadRefusal why, GError **error)
{
  g_set_error_literal (error, G_IO_ERROR,
                       why == PRD_EIO_HEAD_TOO_LARGE ? G_IO_ERROR_MESSAGE_TOO_LARGE
                                                     : G_IO_ERROR_INVALID_DATA,
                       why == PRD_EIO_HEAD_TOO_LARGE ? "The request headers are too large"
                                                     : "The request's body framing is refused");
  return -1;
}

/* @value (of @len bytes, not NUL-terminated) without white space at
 * either end, as a new string. */
static char *
trimmed (const char *value, gsize len)
{
  while (len > 0 && (*value == ' ' || *value == '\t'))
    value++, len--;
  while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
    len--;
  return g_strndup (value, len);
}

/* A header line (without its line break) of a request head: returns
 * whether its framing is refused, and why. libsoup 3.2 answers a request
 * whose Transfer-Encoding it does not know, or whose Content-Length is not
 * a number, itself (501, 400), and then keeps that request's path for the
 * life of the process (soup-server-message-io-http1.c, parse_headers(): it
 * returns before it frees it): such heads never reach it. A folded line
 * (obsolete, RFC 9112 §5.2) is refused too: folded into a Content-Length,
 * it is one libsoup cannot read. */
static gboolean
scan_line (PrdEioIdleStream *self, PrdEioHeadRefusal *why)
{
  const char *colon;
  gsize name_len;
  gsize kept = MIN (self->line_len, LINE_KEPT);
  g_autofree char *value = NULL;

  if (self->request_line)
    {
      self->request_line = FALSE;
      return FALSE;
    }
  if (self->line_len == 0)
    return FALSE;
  if (self->line[0] == ' ' || self->line[0] == '\t')
    {
      *why = PRD_EIO_HEAD_BAD_FRAMING;
      return TRUE;
    }
  colon = memchr (self->line, ':', kept);
  if (colon == NULL)
    return FALSE;
  name_len = (gsize) (colon - self->line);
  if (name_len == strlen ("Transfer-Encoding") &&
      g_ascii_strncasecmp (self->line, "Transfer-Encoding", name_len) == 0)
    {
      value = trimmed (colon + 1, kept - name_len - 1);
      /* Several lines are one list to libsoup, which knows none. */
      if (self->line_len > LINE_KEPT || ++self->transfer_codings > 1 ||
          (g_ascii_strcasecmp (value, "chunked") != 0 &&
           g_ascii_strcasecmp (value, "identity") != 0))
        {
          *why = PRD_EIO_HEAD_UNKNOWN_CODING;
          return TRUE;
        }
      self->chunked = g_ascii_strcasecmp (value, "chunked") == 0;
    }
  else if (name_len == strlen ("Content-Length") &&
           g_ascii_strncasecmp (self->line, "Content-Length", name_len) == 0)
    {
      value = trimmed (colon + 1, kept - name_len - 1);
      if (self->line_len > LINE_KEPT || value[0] == '\0' ||
          strspn (value, "0123456789") != strlen (value))
        {
          *why = PRD_EIO_HEAD_BAD_FRAMING;
          return TRUE;
        }
      /* (a second one is refused by the router: the connection ends) */
      self->has_length = TRUE;
      self->body_left = g_ascii_strtoull (value, NULL, 10);
    }
  else if (name_len == strlen ("Upgrade") &&
           g_ascii_strncasecmp (self->line, "Upgrade", name_len) == 0)
    self->upgrade = TRUE;
  return FALSE;
}

/* The next request's head comes next. */
static void
begin_head (PrdEioIdleStream *self)
{
  self->scan = SCAN_HEAD;
  self->header_bytes = 0;
  self->head_started = FALSE;
  self->line_len = 0;
  self->request_line = TRUE;
  self->transfer_codings = 0;
  self->chunked = FALSE;
  self->has_length = FALSE;
  self->upgrade = FALSE;
  self->body_left = 0;
}

/* The head just ended: what follows it. */
static void
end_head (PrdEioIdleStream *self)
{
  gboolean chunked = self->chunked, has_length = self->has_length, upgrade = self->upgrade;
  guint64 length = self->body_left;

  begin_head (self);
  if (chunked)
    self->scan = SCAN_CHUNK_SIZE;
  else if (has_length && length > 0)
    {
      self->scan = SCAN_BODY;
      self->body_left = length;
    }
  else if (upgrade)
    self->scan = SCAN_STOPPED;
}

/* A whole line (its line break, and a CR before it, left out) of a chunked
 * body: as libsoup reads one (soup-body-input-stream.c). */
static void
end_body_line (PrdEioIdleStream *self)
{
  gsize kept = MIN (self->line_len, LINE_KEPT);

  switch (self->scan)
    {
      case SCAN_CHUNK_SIZE:
        self->line[kept] = '\0';
        self->body_left = g_ascii_strtoull (self->line, NULL, 16);
        self->scan = self->body_left > 0 ? SCAN_CHUNK_DATA : SCAN_TRAILER;
        break;
      case SCAN_CHUNK_END:
        self->scan = SCAN_CHUNK_SIZE;
        break;
      case SCAN_TRAILER:
        if (self->line_len == 0)
          begin_head (self);
        break;
      case SCAN_HEAD:
      case SCAN_BODY:
      case SCAN_CHUNK_DATA:
      case SCAN_STOPPED:
      default:
        break;
    }
  self->line_len = 0;
}

/* Adds @c to the current line; a line break ends it (returns TRUE), its CR
 * left out. A CR elsewhere stays: libsoup reads it as a space, so
 * "chun\rked" is not chunked. */
static gboolean
add_to_line (PrdEioIdleStream *self, guint8 c)
{
  if (c == '\n')
    {
      if (self->line_len > 0 && self->line_len <= LINE_KEPT &&
          self->line[self->line_len - 1] == '\r')
        self->line_len--;
      else if (self->line_len > LINE_KEPT)
        self->line_len = LINE_KEPT + 1; /* (long: its CR does not matter) */
      return TRUE;
    }
  if (self->line_len < LINE_KEPT)
    self->line[self->line_len] = (char) c;
  self->line_len++;
  return FALSE;
}

/* Follows @buffer, what the client sent next, request by request: counts
 * and checks each head (its limit, and its framing: scan_line()), and skips
 * the body after it as libsoup reads it (Content-Length, or chunked), so
 * that a pipelined request's head is checked too and a body is never read
 * as a head. Returns whether a head is refused, and why. After a request
 * that asks for an Upgrade nothing is followed until the connection is idle
 * again (the upgrade was refused). */
static gboolean
count_head (PrdEioIdleStream *self, const guint8 *buffer, gsize n, PrdEioHeadRefusal *why)
{
  for (gsize i = 0; i < n; i++)
    {
      guint8 c = buffer[i];

      switch (self->scan)
        {
          case SCAN_STOPPED:
            return FALSE;
          case SCAN_BODY:
          case SCAN_CHUNK_DATA:
            {
              gsize take = (gsize) MIN ((guint64) (n - i), self->body_left);

              self->body_left -= take;
              i += take - 1;
              if (self->body_left == 0)
                self->scan = self->scan == SCAN_BODY ? SCAN_HEAD : SCAN_CHUNK_END;
              if (self->scan == SCAN_HEAD)
                begin_head (self);
            }
            break;
          case SCAN_CHUNK_SIZE:
          case SCAN_CHUNK_END:
          case SCAN_TRAILER:
            if (add_to_line (self, c))
              end_body_line (self);
            break;
          case SCAN_HEAD:
          default:
            if (++self->header_bytes > self->header_limit)
              {
                *why = PRD_EIO_HEAD_TOO_LARGE;
                return TRUE;
              }
            /* libsoup refuses a head holding a NUL itself, with a bare 400:
             * the hub's answer says why. */
            if (c == '\0')
              {
                *why = PRD_EIO_HEAD_NUL;
                return TRUE;
              }
            /* Empty lines before the request line are skipped, as libsoup
             * skips them. */
            if (!self->head_started)
              {
                if (c == '\r' || c == '\n')
                  break;
                self->head_started = TRUE;
              }
            if (!add_to_line (self, c))
              break;
            if (self->line_len == 0 && !self->request_line)
              {
                end_head (self);
                break;
              }
            if (scan_line (self, why))
              return TRUE;
            self->line_len = 0;
            break;
        }
    }
  return FALSE;
}

/* Looks at what the base stream returned (@n, and @error when @n < 0). */
static gssize
filter_read (PrdEioIdleStream *self, void *buffer, gsize count, gssize n, GError **error)
{
  GError *base_error = NULL;
  PrdEioHeadRefusal why;

  if (n > 0 && self->header_limit > 0 && count_head (self, buffer, (gsize) n, &why))
    {
      PrdEioHeadRefusedFunc func = self->refused_func;

      self->head_refused = TRUE;
      self->head_refusal = why;
      self->refused_func = NULL;
      if (func != NULL)
        func (why, self->refused_data);
      g_clear_error (error);
      return refuse_head (why, error);
    }
  if (n > 0 || !self->idle)
    return n;
  if (n < 0 && error != NULL && g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return n;
  if (n < 0 && error != NULL && g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return n;

  if (n < 0 && error != NULL)
    {
      base_error = *error;
      *error = NULL;
    }
  self->ended = TRUE;
  self->line_offset = 0;
  self->end_error = base_error != NULL
                        ? base_error
                        : g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                               "The peer closed the connection between requests");
  return read_end (self, buffer, count, error);
}

static gssize
prd_eio_idle_stream_read (
    GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable, GError **error)
{
  PrdEioIdleStream *self = PRD_EIO_IDLE_STREAM (stream);
  g_autoptr (GError) local_error = NULL;
  gssize n;

  if (self->head_refused)
    return refuse_head (self->head_refusal, error);
  if (self->ended)
    return read_end (self, buffer, count, error);
  n = g_input_stream_read (base_stream (self), buffer, count, cancellable, &local_error);
  n = filter_read (self, buffer, count, n, &local_error);
  if (n < 0)
    g_propagate_error (error, g_steal_pointer (&local_error));
  return n;
}

static void
notify_closed (PrdEioIdleStream *self)
{
  g_autoptr (PrdEioClosedNotice) closed = g_steal_pointer (&self->closed);

  if (closed != NULL)
    prd_eio_closed_notice_fire (closed);
}

static gboolean
prd_eio_idle_stream_close (GInputStream *stream, GCancellable *cancellable, GError **error)
{
  PrdEioIdleStream *self = PRD_EIO_IDLE_STREAM (stream);
  gboolean ok = TRUE;

  /* Closing the base GIOStream (not only its input) closes the socket;
   * after a refused head the refusal's owner closes it once its answer has
   * been read. */
  if (!self->head_refused)
    ok = g_io_stream_close (self->base_io, cancellable, error);
  notify_closed (self);
  return ok;
}

static void
on_base_closed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  gboolean ok = g_io_stream_close_finish (G_IO_STREAM (source), result, &error);

  notify_closed (g_task_get_source_object (task));
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, g_steal_pointer (&error));
}

/* GInputStream would run close_fn in a worker thread; close the base
 * stream asynchronously on this thread instead. */
static void
prd_eio_idle_stream_close_async (GInputStream *stream,
                                 int io_priority,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  PrdEioIdleStream *self = PRD_EIO_IDLE_STREAM (stream);
  GTask *task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, prd_eio_idle_stream_close_async);
  if (self->head_refused)
    {
      notify_closed (self);
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  g_io_stream_close_async (self->base_io, io_priority, cancellable, on_base_closed, task);
}

static gboolean
prd_eio_idle_stream_close_finish (GInputStream *stream, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
prd_eio_idle_stream_can_poll (GPollableInputStream *stream)
{
  GInputStream *base = base_stream (PRD_EIO_IDLE_STREAM (stream));

  return G_IS_POLLABLE_INPUT_STREAM (base) &&
         g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (base));
}

static gboolean
prd_eio_idle_stream_is_readable (GPollableInputStream *stream)
{
  PrdEioIdleStream *self = PRD_EIO_IDLE_STREAM (stream);

  return self->ended || self->head_refused ||
         g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (base_stream (self)));
}

static GSource *
prd_eio_idle_stream_create_source (GPollableInputStream *stream, GCancellable *cancellable)
{
  PrdEioIdleStream *self = PRD_EIO_IDLE_STREAM (stream);
  g_autoptr (GSource) base_source = NULL;

  if (self->ended || self->head_refused)
    base_source = g_timeout_source_new (0);
  else
    base_source = g_pollable_input_stream_create_source (
        G_POLLABLE_INPUT_STREAM (base_stream (self)), cancellable);
  return g_pollable_source_new_full (stream, base_source, cancellable);
}

static gssize
prd_eio_idle_stream_read_nonblocking (GPollableInputStream *stream,
                                      void *buffer,
                                      gsize count,
                                      GError **error)
{
  PrdEioIdleStream *self = PRD_EIO_IDLE_STREAM (stream);
  g_autoptr (GError) local_error = NULL;
  gssize n;

  if (self->head_refused)
    return refuse_head (self->head_refusal, error);
  if (self->ended)
    return read_end (self, buffer, count, error);
  n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (base_stream (self)),
                                                buffer, count, NULL, &local_error);
  n = filter_read (self, buffer, count, n, &local_error);
  if (n < 0)
    g_propagate_error (error, g_steal_pointer (&local_error));
  return n;
}

static void
prd_eio_idle_stream_pollable_iface_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = prd_eio_idle_stream_can_poll;
  iface->is_readable = prd_eio_idle_stream_is_readable;
  iface->create_source = prd_eio_idle_stream_create_source;
  iface->read_nonblocking = prd_eio_idle_stream_read_nonblocking;
}

static void
prd_eio_idle_stream_finalize (GObject *object)
{
  PrdEioIdleStream *self = PRD_EIO_IDLE_STREAM (object);

  g_clear_object (&self->base_io);
  g_clear_error (&self->end_error);
  g_clear_pointer (&self->closed, prd_eio_closed_notice_unref);

  G_OBJECT_CLASS (prd_eio_idle_stream_parent_class)->finalize (object);
}

static void
prd_eio_idle_stream_class_init (PrdEioIdleStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GInputStreamClass *input_class = G_INPUT_STREAM_CLASS (klass);

  object_class->finalize = prd_eio_idle_stream_finalize;
  input_class->read_fn = prd_eio_idle_stream_read;
  input_class->close_fn = prd_eio_idle_stream_close;
  input_class->close_async = prd_eio_idle_stream_close_async;
  input_class->close_finish = prd_eio_idle_stream_close_finish;
}

static void
prd_eio_idle_stream_init (PrdEioIdleStream *self)
{
  begin_head (self);
}

GIOStream *
prd_eio_idle_io_stream_new (GIOStream *base, PrdEioIdleStream **out_idle)
{
  PrdEioIdleStream *idle;
  GIOStream *io;

  g_return_val_if_fail (G_IS_IO_STREAM (base), NULL);

  idle = g_object_new (PRD_TYPE_EIO_IDLE_STREAM, "base-stream", g_io_stream_get_input_stream (base),
                       "close-base-stream", FALSE, NULL);
  idle->base_io = g_object_ref (base);

  io = g_simple_io_stream_new (G_INPUT_STREAM (idle), g_io_stream_get_output_stream (base));
  if (out_idle != NULL)
    *out_idle = idle;
  g_object_unref (idle);
  return io;
}

/**
 * prd_eio_idle_stream_set_idle:
 * @idle: %TRUE between two requests (after a response, before the next
 *   request's first byte)
 */
void
prd_eio_idle_stream_set_idle (PrdEioIdleStream *self, gboolean idle)
{
  g_return_if_fail (PRD_IS_EIO_IDLE_STREAM (self));
  self->idle = !!idle;
  /* A request that asked for an Upgrade was answered without one: what
   * arrives next is the next request's head. (Otherwise the stream is
   * followed as it comes: a pipelined head may have been read already.) */
  if (idle && self->scan == SCAN_STOPPED)
    begin_head (self);
}

gboolean
prd_eio_idle_stream_get_idle (PrdEioIdleStream *self)
{
  g_return_val_if_fail (PRD_IS_EIO_IDLE_STREAM (self), FALSE);
  return self->idle;
}

void
prd_eio_idle_stream_set_closed_notice (PrdEioIdleStream *self, PrdEioClosedNotice *notice)
{
  g_return_if_fail (PRD_IS_EIO_IDLE_STREAM (self));
  g_clear_pointer (&self->closed, prd_eio_closed_notice_unref);
  self->closed = notice != NULL ? prd_eio_closed_notice_ref (notice) : NULL;
}

PrdEioClosedNotice *
prd_eio_idle_stream_hand_off (PrdEioIdleStream *self)
{
  g_return_val_if_fail (PRD_IS_EIO_IDLE_STREAM (self), NULL);
  return g_steal_pointer (&self->closed);
}

/**
 * prd_eio_idle_stream_set_header_limit:
 * @limit: bytes a request head (request line, headers and the empty line)
 *   may have; 0 for no limit
 * @func: (nullable): runs once, when a head grows past @limit, or holds a
 *   framing libsoup must not see (scan_line()), before any of the read that
 *   found it reaches the reader
 *
 * From then on the reader (libsoup) gets an error, and closing the stream
 * no longer closes the base stream: @func's owner answers the client and
 * closes the connection itself.
 */
void
prd_eio_idle_stream_set_header_limit (PrdEioIdleStream *self,
                                      gsize limit,
                                      PrdEioHeadRefusedFunc func,
                                      gpointer user_data)
{
  g_return_if_fail (PRD_IS_EIO_IDLE_STREAM (self));
  self->header_limit = limit;
  self->refused_func = func;
  self->refused_data = user_data;
}

gboolean
prd_eio_idle_stream_get_head_refused (PrdEioIdleStream *self)
{
  g_return_val_if_fail (PRD_IS_EIO_IDLE_STREAM (self), FALSE);
  return self->head_refused;
}
