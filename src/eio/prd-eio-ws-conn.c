/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A server-side WebSocket connection without extensions: see
 * prd-eio-ws-conn.h.
 */
#define G_LOG_DOMAIN "prd-eio"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <glib-unix.h>
#include <libsoup/soup.h>

#include "prd-eio-idle-stream.h"
#include "prd-eio-metered-stream.h"
#include "prd-log.h"

#include "prd-eio-ws-conn.h"

/* Read per system call. */
#define READ_SIZE 16384
/* Reads per wake-up, at most (256 KiB): a peer that sends faster than its
 * frames are parsed must not keep the context from everything else on it
 * (other connections, timers, on the main thread the whole hub). The rest
 * is read in the next iteration. */
#define READS_PER_WAKE 16
/* Frames written per writev(2). */
#define MAX_WRITE_FRAMES 64
/* Pongs waiting for the socket, at most: a peer that pings and does not
 * read is not read any more either, so that its Pongs do not pile up. */
#define MAX_PONGS 16
/* How long the peer has to answer our Close (libsoup's figure). */
#define CLOSE_TIMEOUT_S 5
/* What is taken from libsoup's buffer when the descriptor is taken over,
 * at most: it holds less than one read of a request head (8 KiB). */
#define MAX_PREREAD (4 * READ_SIZE)

/* A frame's vectors go to sendmsg(2) as they are. */
G_STATIC_ASSERT (sizeof (GOutputVector) == sizeof (struct iovec));
G_STATIC_ASSERT (offsetof (GOutputVector, buffer) == offsetof (struct iovec, iov_base));
G_STATIC_ASSERT (offsetof (GOutputVector, size) == offsetof (struct iovec, iov_len));

/* Every frame at the debug level. GLib formats a message before its
 * writer drops it: nothing is formatted unless it would be shown. */
#define FRAME_DEBUG(...)                                 \
  G_STMT_START                                           \
  {                                                      \
    if (G_UNLIKELY (prd_log_would_debug (G_LOG_DOMAIN))) \
      g_debug (__VA_ARGS__);                             \
  }                                                      \
  G_STMT_END

typedef struct
{
  guint8 header[10];
  guint8 header_len;
  guint8 opcode;
  GBytes *payload; /* (owned) */
  gsize sent;      /* of header and payload together */
} OutFrame;

struct _PrdEioWsConn
{
  /* Over TLS, the stream libsoup handed over. On a plain socket, only a
   * descriptor of our own (see take_descriptor()): stream is NULL. */
  GIOStream *stream; /* (owned) (nullable) */
  GPollableInputStream *in;
  GPollableOutputStream *out;
  PrdEioClosedNotice *closed_notice; /* (owned) (nullable): fired once fd is closed */
  GMainContext *context;
  int fd;               /* the plain socket's (ours when stream is NULL), or -1 (TLS) */
  PrdEioPoller *poller; /* (owned) (nullable) */
  PrdEioPollerWatch watch;

  GSource *in_source;     /* (owned) (nullable): waiting for input, without poller */
  GSource *wake;          /* (owned) (nullable): read again (first read, gate opened) */
  GSource *out_source;    /* (owned) (nullable): waiting until writable */
  GSource *close_timeout; /* (owned) (nullable) */

  PrdEioWsParser parser;
  GByteArray *held; /* (owned) (nullable): read, not parsed: the gate shut */
  guint64 messages; /* reported */
  GQueue frames;    /* (element-type OutFrame) (owned) */

  gboolean gated;        /* reading waits for prd_eio_ws_conn_open_gate() */
  guint pongs;           /* queued, not written */
  gboolean pong_paused;  /* reading waits until fewer than MAX_PONGS are queued */
  gboolean end_pending;  /* the peer's Close or end of input waits for the gate */
  gboolean reading_done; /* nothing more is read */
  gboolean close_queued; /* our Close is queued (or written) */
  gboolean close_received;
  gushort peer_code;
  gboolean close_after_close; /* close the stream once our Close is written */
  gboolean io_closed;

  const PrdEioWsConnFuncs *funcs;
  gpointer user_data;
  guint busy;      /* calls into this connection on the stack */
  gboolean doomed; /* freed once busy drops to 0 */
};

static void conn_read (PrdEioWsConn *conn);
static void flush_out (PrdEioWsConn *conn);
static void schedule_read (PrdEioWsConn *conn);

/* ------------------------------------------------------------------ */

static void
out_frame_free (OutFrame *frame)
{
  g_bytes_unref (frame->payload);
  g_free (frame);
}

static gsize
out_frame_size (const OutFrame *frame)
{
  return frame->header_len + g_bytes_get_size (frame->payload);
}

static gboolean
is_data (guint8 opcode)
{
  return opcode == PRD_EIO_WS_OPCODE_TEXT || opcode == PRD_EIO_WS_OPCODE_BINARY;
}

static void
enter (PrdEioWsConn *conn)
{
  conn->busy++;
}

static void really_free (PrdEioWsConn *conn);

static void
leave (PrdEioWsConn *conn)
{
  if (--conn->busy == 0 && conn->doomed)
    really_free (conn);
}

/* Whether no function may be called any more. */
static gboolean
is_gone (PrdEioWsConn *conn)
{
  return conn->doomed || conn->io_closed;
}

/* @frame leaves the queue (written or dropped). */
static void
frame_gone (PrdEioWsConn *conn, OutFrame *frame)
{
  if (frame->opcode != PRD_EIO_WS_OPCODE_PONG)
    return;
  conn->pongs--;
  if (conn->pong_paused && conn->pongs < MAX_PONGS)
    {
      conn->pong_paused = FALSE;
      schedule_read (conn);
    }
}

/* Drops the messages not begun, or every frame with @all. */
static void
drop_frames (PrdEioWsConn *conn, gboolean all)
{
  GList *l = conn->frames.head;

  while (l != NULL)
    {
      GList *next = l->next;
      OutFrame *frame = l->data;

      if (all || (frame->sent == 0 && is_data (frame->opcode)))
        {
          if (is_data (frame->opcode) && !conn->doomed)
            conn->funcs->written (conn->user_data, g_bytes_get_size (frame->payload));
          frame_gone (conn, frame);
          g_queue_delete_link (&conn->frames, l);
          out_frame_free (frame);
        }
      l = next;
    }
}

/* Closes the stream; with @report, says so. */
static void
close_io (PrdEioWsConn *conn, gboolean report)
{
  if (conn->io_closed)
    return;
  /* First: nothing below may schedule another read. */
  conn->reading_done = TRUE;
  if (conn->poller != NULL)
    prd_eio_poller_forget (conn->poller, &conn->watch);
  prd_eio_clear_source (&conn->in_source);
  prd_eio_clear_source (&conn->wake);
  prd_eio_clear_source (&conn->out_source);
  prd_eio_clear_source (&conn->close_timeout);
  drop_frames (conn, TRUE);
  if (conn->stream != NULL)
    {
      /* A TLS stream: its close_notify must not wait for a peer that does
       * not read (one dropped for not reading, say). */
      prd_eio_stream_shut_down (conn->stream);
      g_io_stream_close (conn->stream, NULL, NULL);
    }
  else
    close (conn->fd);
  conn->io_closed = TRUE;
  if (conn->closed_notice != NULL)
    prd_eio_closed_notice_fire (conn->closed_notice);
  g_clear_pointer (&conn->closed_notice, prd_eio_closed_notice_unref);
  if (report && !conn->doomed)
    conn->funcs->closed (conn->user_data);
}

/* ------------------------------------------------------------------ */
/* Writing                                                            */

static void
queue_frame (PrdEioWsConn *conn, guint8 opcode, GBytes *payload)
{
  OutFrame *frame = g_new0 (OutFrame, 1);

  frame->opcode = opcode;
  frame->payload = payload;
  frame->header_len = prd_eio_ws_frame_header (frame->header, opcode, g_bytes_get_size (payload));
  g_queue_push_tail (&conn->frames, frame);
}

/* One of @conn's one-shot sources (in *@slot) fired: forget it, run @func. */
static gboolean
fired (PrdEioWsConn *conn, GSource **slot, void (*func) (PrdEioWsConn *conn))
{
  g_clear_pointer (slot, g_source_unref);
  enter (conn);
  func (conn);
  leave (conn);
  return G_SOURCE_REMOVE;
}

static void
close_late (PrdEioWsConn *conn)
{
  g_debug ("websocket: the peer did not answer the Close in time");
  close_io (conn, TRUE);
}

static gboolean
on_close_timeout (gpointer user_data)
{
  PrdEioWsConn *conn = user_data;

  return fired (conn, &conn->close_timeout, close_late);
}

/* Queues our Close; the stream is closed once it is written if
 * @then_close, or once the peer answers, and after CLOSE_TIMEOUT_S in any
 * case. */
static void
queue_close (PrdEioWsConn *conn, gushort code, gboolean then_close)
{
  guint8 payload[2] = { code >> 8, code & 0xff };

  if (conn->close_queued || conn->io_closed)
    return;
  conn->close_queued = TRUE;
  conn->close_after_close = then_close;
  queue_frame (conn, PRD_EIO_WS_OPCODE_CLOSE, g_bytes_new (payload, code != 0 ? 2 : 0));
  conn->close_timeout = g_timeout_source_new_seconds (CLOSE_TIMEOUT_S);
  g_source_set_callback (conn->close_timeout, on_close_timeout, conn, NULL);
  g_source_attach (conn->close_timeout, conn->context);
  flush_out (conn);
}

/* conn->in_source or conn->out_source fired: read, or write what waits. */
static gboolean
io_ready (PrdEioWsConn *conn)
{
  if (g_main_current_source () == conn->out_source)
    return fired (conn, &conn->out_source, flush_out);
  return fired (conn, &conn->in_source, conn_read);
}

static gboolean
on_stream_ready (GObject *stream, gpointer user_data)
{
  return io_ready (user_data);
}

static gboolean
on_fd_ready (int fd, GIOCondition condition, gpointer user_data)
{
  return io_ready (user_data);
}

/* A source that fires when the stream, or our descriptor, is readable
 * (@condition G_IO_IN: for conn->in_source) or writable (G_IO_OUT: for
 * conn->out_source). */
static GSource *
watch_io (PrdEioWsConn *conn, GIOCondition condition)
{
  GSource *source;

  if (conn->stream == NULL)
    {
      source = g_unix_fd_source_new (conn->fd, condition);
      g_source_set_callback (source, G_SOURCE_FUNC (on_fd_ready), conn, NULL);
    }
  else
    {
      if (condition & G_IO_IN)
        source = g_pollable_input_stream_create_source (conn->in, NULL);
      else
        source = g_pollable_output_stream_create_source (conn->out, NULL);
      g_source_set_callback (source, G_SOURCE_FUNC (on_stream_ready), conn, NULL);
    }
  g_source_attach (source, conn->context);
  return source;
}

/* @frame was written whole. */
static void
frame_written (PrdEioWsConn *conn, OutFrame *frame)
{
  frame_gone (conn, frame);
  if (is_data (frame->opcode))
    conn->funcs->written (conn->user_data, g_bytes_get_size (frame->payload));
  else if (frame->opcode == PRD_EIO_WS_OPCODE_CLOSE && conn->close_after_close)
    close_io (conn, TRUE);
}

/* sendmsg(2) on our descriptor: what write_vectors() returns. */
static gssize
send_vectors (PrdEioWsConn *conn, GOutputVector *vectors, gsize n_vectors)
{
  struct msghdr msg = { .msg_iov = (struct iovec *) vectors, .msg_iovlen = n_vectors };
  gssize n;

  do
    n = sendmsg (conn->fd, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n >= 0)
    return n;
  if (errno == EAGAIN || errno == EWOULDBLOCK)
    return 0;
  g_debug ("websocket: write failed: %s", g_strerror (errno));
  return -1;
}

/* One writev(2); returns the bytes the socket took (0 when it would
 * block), or -1 when the connection failed (the caller closes it). */
static gssize
write_vectors (PrdEioWsConn *conn, GOutputVector *vectors, gsize n_vectors, gsize wanted)
{
  g_autoptr (GError) error = NULL;
  gsize written = 0;

  if (conn->stream == NULL)
    {
      gssize n = send_vectors (conn, vectors, n_vectors);

      if (n < 0)
        return -1;
      written = n;
    }
  else
    switch (g_pollable_output_stream_writev_nonblocking (conn->out, vectors, n_vectors, &written,
                                                         NULL, &error))
      {
        case G_POLLABLE_RETURN_FAILED:
          g_debug ("websocket: write failed: %s", error->message);
          return -1;
        case G_POLLABLE_RETURN_WOULD_BLOCK:
          written = 0;
          break;
        case G_POLLABLE_RETURN_OK:
        default:
          break;
      }
  FRAME_DEBUG ("websocket fd %d: wrote %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes", conn->fd,
               written, wanted);
  return written;
}

/* Writes what the socket takes, every waiting frame in one writev(2). */
static void
flush_out (PrdEioWsConn *conn)
{
  while (!is_gone (conn) && conn->out_source == NULL && conn->frames.head != NULL)
    {
      GOutputVector vectors[2 * MAX_WRITE_FRAMES];
      gsize n_vectors = 0, wanted = 0, written, took;
      guint n_frames = 0;
      gssize res;

      for (GList *l = conn->frames.head; l != NULL && n_frames < MAX_WRITE_FRAMES; l = l->next)
        {
          OutFrame *frame = l->data;
          gsize size;
          const guint8 *payload = g_bytes_get_data (frame->payload, &size);
          gsize skip = frame->sent;

          if (skip < frame->header_len)
            {
              vectors[n_vectors].buffer = frame->header + skip;
              vectors[n_vectors++].size = frame->header_len - skip;
              skip = 0;
            }
          else
            skip -= frame->header_len;
          if (size > skip)
            {
              vectors[n_vectors].buffer = payload + skip;
              vectors[n_vectors++].size = size - skip;
            }
          wanted += out_frame_size (frame) - frame->sent;
          n_frames++;
        }

      res = write_vectors (conn, vectors, n_vectors, wanted);
      /* More than it was given: GnuTLS sends the record it had begun when
       * a write would have blocked, whatever the next write offers, so
       * after frames were dropped its count is not of these frames. */
      if (res < 0 || (gsize) res > wanted)
        {
          close_io (conn, TRUE);
          return;
        }
      took = written = res;
      while (written > 0)
        {
          OutFrame *frame = g_queue_peek_head (&conn->frames);
          gsize left = out_frame_size (frame) - frame->sent;

          if (written < left)
            {
              frame->sent += written;
              break;
            }
          written -= left;
          g_queue_pop_head (&conn->frames);
          frame_written (conn, frame);
          out_frame_free (frame);
          if (is_gone (conn))
            return;
        }

      /* The socket took less than it was given: wait until it takes more. */
      if (conn->frames.head != NULL && took < wanted)
        {
          conn->out_source = watch_io (conn, G_IO_OUT);
          return;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Reading                                                            */

static gboolean
gate_shut (PrdEioWsConn *conn, gboolean close)
{
  return conn->funcs->gate (conn->user_data, conn->messages, close);
}

static gboolean
on_wake (gpointer user_data)
{
  PrdEioWsConn *conn = user_data;

  return fired (conn, &conn->wake, conn_read);
}

/* Reads again from the main loop (not from inside the caller). */
static void
schedule_read (PrdEioWsConn *conn)
{
  if (conn->wake != NULL || is_gone (conn) || conn->reading_done)
    return;
  conn->wake = g_idle_source_new ();
  g_source_set_priority (conn->wake, G_PRIORITY_DEFAULT);
  g_source_set_callback (conn->wake, on_wake, conn, NULL);
  g_source_attach (conn->wake, conn->context);
}

static void
on_poller_readable (gpointer user_data)
{
  PrdEioWsConn *conn = user_data;

  enter (conn);
  conn_read (conn);
  leave (conn);
}

/* The socket is drained: wait until it is readable. */
static void
wait_input (PrdEioWsConn *conn)
{
  if (conn->fd >= 0 && conn->poller != NULL &&
      prd_eio_poller_arm_func (conn->poller, &conn->watch, conn->fd, on_poller_readable, conn))
    return;
  if (conn->in_source != NULL)
    return;
  conn->in_source = watch_io (conn, G_IO_IN);
}

/* The peer's Close or the end of its input, once the gate lets it pass. */
static void
handle_end (PrdEioWsConn *conn)
{
  if (gate_shut (conn, TRUE))
    {
      conn->gated = TRUE;
      return;
    }
  conn->end_pending = FALSE;
  conn->reading_done = TRUE;
  if (!conn->close_received || conn->close_queued)
    {
      /* The end of input, or the answer to our Close. */
      close_io (conn, TRUE);
      return;
    }
  /* Answer with the peer's code, and close once it is written. */
  queue_close (conn, conn->peer_code, TRUE);
}

static void
protocol_error (PrdEioWsConn *conn, const PrdEioWsEvent *event)
{
  conn->reading_done = TRUE;
  if (event->close_code == SOUP_WEBSOCKET_CLOSE_TOO_BIG)
    {
      g_debug ("websocket: %s", event->error);
      conn->funcs->overflow (conn->user_data);
      return;
    }
  g_debug ("websocket: protocol error: %s", event->error);
  drop_frames (conn, FALSE);
  queue_close (conn, event->close_code, TRUE);
}

static const char *
event_name (PrdEioWsEventKind kind)
{
  switch (kind)
    {
      case PRD_EIO_WS_EVENT_MESSAGE:
        return "a message";
      case PRD_EIO_WS_EVENT_PING:
        return "a Ping";
      case PRD_EIO_WS_EVENT_PONG:
        return "a Pong";
      case PRD_EIO_WS_EVENT_CLOSE:
        return "a Close";
      case PRD_EIO_WS_EVENT_ERROR:
      case PRD_EIO_WS_EVENT_NONE:
      default:
        return "a broken frame";
    }
}

/* Whether reading must wait: for the gate (only between messages), or
 * for the peer to read the Pongs it asked for. */
static gboolean
input_paused (PrdEioWsConn *conn)
{
  if (conn->pongs >= MAX_PONGS)
    {
      conn->pong_paused = TRUE;
      return TRUE;
    }
  if (!prd_eio_ws_parser_is_busy (&conn->parser) && gate_shut (conn, FALSE))
    {
      conn->gated = TRUE;
      return TRUE;
    }
  return FALSE;
}

/* Parses @data; FALSE when reading must stop (the gate shut, the input
 * ended, or the connection went), with *used set to what was parsed. */
static gboolean
consume (PrdEioWsConn *conn, const guint8 *data, gsize len, gsize *used)
{
  gsize pos = 0;

  while (pos < len)
    {
      PrdEioWsEvent event;

      if (input_paused (conn))
        {
          *used = pos;
          return FALSE;
        }
      pos += prd_eio_ws_parser_feed (&conn->parser, data + pos, len - pos, &event);
      if (event.kind != PRD_EIO_WS_EVENT_NONE)
        FRAME_DEBUG ("websocket fd %d: read %s (%" G_GSIZE_FORMAT " bytes)", conn->fd,
                     event_name (event.kind),
                     event.message != NULL ? g_bytes_get_size (event.message) : event.payload_len);
      switch (event.kind)
        {
          case PRD_EIO_WS_EVENT_NONE:
          case PRD_EIO_WS_EVENT_PONG:
            break;
          case PRD_EIO_WS_EVENT_MESSAGE:
            conn->messages++;
            conn->funcs->message (conn->user_data,
                                  event.type == PRD_EIO_WS_OPCODE_TEXT ? SOUP_WEBSOCKET_DATA_TEXT
                                                                       : SOUP_WEBSOCKET_DATA_BINARY,
                                  event.message);
            g_bytes_unref (event.message);
            if (is_gone (conn) || conn->reading_done)
              {
                *used = len;
                return FALSE;
              }
            break;
          case PRD_EIO_WS_EVENT_PING:
            if (!conn->close_queued)
              {
                queue_frame (conn, PRD_EIO_WS_OPCODE_PONG,
                             g_bytes_new (event.payload, event.payload_len));
                conn->pongs++;
                flush_out (conn);
                if (is_gone (conn))
                  {
                    *used = len;
                    return FALSE;
                  }
              }
            break;
          case PRD_EIO_WS_EVENT_CLOSE:
            conn->close_received = TRUE;
            conn->peer_code = event.close_code;
            conn->end_pending = TRUE;
            *used = len;
            return FALSE;
          case PRD_EIO_WS_EVENT_ERROR:
          default:
            protocol_error (conn, &event);
            *used = len;
            return FALSE;
        }
    }
  *used = len;
  return TRUE;
}

/* Reads what the peer sent: the bytes read, 0 at the end of input (or
 * after an error, logged), -1 when nothing is there yet. */
static gssize
read_some (PrdEioWsConn *conn, guint8 *buffer, gsize size)
{
  g_autoptr (GError) error = NULL;
  gssize n;

  if (conn->stream == NULL)
    {
      do
        n = recv (conn->fd, buffer, size, 0);
      while (n < 0 && errno == EINTR);
      if (n >= 0)
        return n;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return -1;
      g_debug ("websocket: read failed: %s", g_strerror (errno));
      return 0;
    }
  n = g_pollable_input_stream_read_nonblocking (conn->in, buffer, size, NULL, &error);
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return -1;
  if (n < 0)
    {
      g_debug ("websocket: read failed: %s", error->message);
      return 0;
    }
  return n;
}

static void
conn_read (PrdEioWsConn *conn)
{
  guint reads = 0;

  conn->gated = FALSE;
  conn->pong_paused = FALSE;
  while (!is_gone (conn) && !conn->reading_done)
    {
      guint8 buffer[READ_SIZE];
      gsize used = 0;
      gssize n;

      if (conn->held != NULL)
        {
          gboolean go_on = consume (conn, conn->held->data, conn->held->len, &used);

          g_byte_array_remove_range (conn->held, 0, used);
          if (conn->held->len == 0)
            g_clear_pointer (&conn->held, g_byte_array_unref);
          if (!go_on)
            break;
          continue;
        }
      if (conn->end_pending)
        {
          handle_end (conn);
          return;
        }
      if (input_paused (conn))
        return;
      if (reads++ == READS_PER_WAKE)
        {
          schedule_read (conn);
          return;
        }

      n = read_some (conn, buffer, sizeof buffer);
      if (n < 0)
        {
          wait_input (conn);
          return;
        }
      if (n == 0)
        {
          conn->end_pending = TRUE;
          continue;
        }
      if (!consume (conn, buffer, n, &used))
        {
          if (!is_gone (conn) && !conn->reading_done && used < (gsize) n)
            conn->held = g_byte_array_new_take (g_memdup2 (buffer + used, n - used), n - used);
          break;
        }
    }
  /* Stopped for the gate, or on the peer's Close, which waits for it too. */
  if (!is_gone (conn) && conn->end_pending && !conn->gated)
    handle_end (conn);
}

/* ------------------------------------------------------------------ */
/* Public API                                                         */

/*
 * On a plain socket, the connection keeps a duplicate of its descriptor
 * and nothing else: the stream (libsoup's, over the listener's idle
 * stream, over the GSocketConnection, its streams, GSocket and addresses;
 * about 1.3 KB) is closed, which closes the original descriptor. What
 * libsoup read past the handshake is taken from its buffer first (a read
 * gives the buffer's content before it reads the socket again), and the
 * listener's notice that the connection is closed is taken from the idle
 * stream, to be fired when our descriptor is closed.
 *
 * FALSE (TLS, or no descriptor left) leaves @stream untouched.
 */
static gboolean
take_descriptor (PrdEioWsConn *conn, GIOStream *stream)
{
  GInputStream *in = g_io_stream_get_input_stream (stream);
  g_autoptr (GSocket) socket = prd_eio_find_socket (in);
  g_autoptr (GByteArray) preread = NULL;

  if (socket == NULL || !G_IS_POLLABLE_INPUT_STREAM (in))
    return FALSE;
  conn->fd = fcntl (g_socket_get_fd (socket), F_DUPFD_CLOEXEC, 3);
  if (conn->fd < 0)
    {
      g_debug ("websocket: keeping the stream: cannot duplicate its descriptor: %s",
               g_strerror (errno));
      conn->fd = g_socket_get_fd (socket);
      return FALSE;
    }

  preread = g_byte_array_new ();
  while (preread->len < MAX_PREREAD)
    {
      guint8 buffer[READ_SIZE];
      gssize n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (in), buffer,
                                                           sizeof buffer, NULL, NULL);

      /* Nothing more there, or the end, which the descriptor reads again. */
      if (n <= 0)
        break;
      g_byte_array_append (preread, buffer, n);
      if (n < (gssize) sizeof buffer)
        break;
    }
  if (preread->len > 0)
    conn->held = g_steal_pointer (&preread);

  for (GInputStream *s = in; G_IS_FILTER_INPUT_STREAM (s);
       s = g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (s)))
    if (PRD_IS_EIO_IDLE_STREAM (s))
      conn->closed_notice = prd_eio_idle_stream_hand_off (PRD_EIO_IDLE_STREAM (s));
  g_io_stream_close (stream, NULL, NULL);
  return TRUE;
}

PrdEioWsConn *
prd_eio_ws_conn_new (GIOStream *stream,
                     guint64 limit,
                     PrdEioPoller *poller,
                     const PrdEioWsConnFuncs *funcs,
                     gpointer user_data)
{
  PrdEioWsConn *conn = g_new0 (PrdEioWsConn, 1);

  conn->context = g_main_context_get_thread_default ();
  conn->fd = -1;
  if (!take_descriptor (conn, stream))
    {
      conn->stream = g_object_ref (stream);
      conn->in = G_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (stream));
      conn->out = G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (stream));
    }
  conn->poller = poller != NULL ? prd_eio_poller_ref (poller) : NULL;
  conn->watch = (PrdEioPollerWatch) PRD_EIO_POLLER_WATCH_INIT;
  prd_eio_ws_parser_init (&conn->parser, limit);
  g_queue_init (&conn->frames);
  conn->funcs = funcs;
  conn->user_data = user_data;
  /* From the main loop: what libsoup read past the handshake may be
   * waiting (in its buffer, or taken from it), where no poll would see
   * it. */
  schedule_read (conn);
  return conn;
}

static void
really_free (PrdEioWsConn *conn)
{
  close_io (conn, FALSE);
  if (conn->poller != NULL)
    prd_eio_poller_forget (conn->poller, &conn->watch);
  g_clear_pointer (&conn->poller, prd_eio_poller_unref);
  g_queue_clear_full (&conn->frames, (GDestroyNotify) out_frame_free);
  g_clear_pointer (&conn->held, g_byte_array_unref);
  prd_eio_ws_parser_clear (&conn->parser);
  g_clear_object (&conn->stream);
  g_free (conn);
}

void
prd_eio_ws_conn_free (PrdEioWsConn *conn)
{
  if (conn == NULL)
    return;
  /* Frames still waiting are reported as written, then nothing more. */
  close_io (conn, FALSE);
  conn->doomed = TRUE;
  if (conn->busy == 0)
    really_free (conn);
}

gboolean
prd_eio_ws_conn_is_open (PrdEioWsConn *conn)
{
  /* After the peer's Close, the answers to what it sent before still go
   * out ahead of ours. */
  return !conn->io_closed && !conn->close_queued;
}

gboolean
prd_eio_ws_conn_is_closed (PrdEioWsConn *conn)
{
  return conn->io_closed;
}

void
prd_eio_ws_conn_send (PrdEioWsConn *conn, int type, GBytes *payload)
{
  PrdEioWsOpcode opcode =
      type == SOUP_WEBSOCKET_DATA_BINARY ? PRD_EIO_WS_OPCODE_BINARY : PRD_EIO_WS_OPCODE_TEXT;

  if (conn->close_queued || is_gone (conn))
    {
      if (!conn->doomed)
        conn->funcs->written (conn->user_data, g_bytes_get_size (payload));
      return;
    }
  enter (conn);
  if (conn->frames.head == NULL && conn->out_source == NULL)
    {
      /* Nothing waits: write it now, and queue only what the socket does
       * not take. */
      guint8 header[10];
      gsize size;
      const void *data = g_bytes_get_data (payload, &size);
      gsize header_len = prd_eio_ws_frame_header (header, opcode, size);
      GOutputVector vectors[2] = { { header, header_len }, { data, size } };
      gssize written = write_vectors (conn, vectors, size > 0 ? 2 : 1, header_len + size);

      if (written < 0 || (gsize) written == header_len + size)
        {
          /* Written whole, or given up with the connection. */
          conn->funcs->written (conn->user_data, size);
          if (written < 0)
            close_io (conn, TRUE);
          leave (conn);
          return;
        }
      queue_frame (conn, opcode, g_bytes_ref (payload));
      ((OutFrame *) conn->frames.tail->data)->sent = written;
    }
  else
    queue_frame (conn, opcode, g_bytes_ref (payload));
  flush_out (conn);
  leave (conn);
}

gboolean
prd_eio_ws_conn_has_output (PrdEioWsConn *conn)
{
  return conn->frames.head != NULL;
}

guint
prd_eio_ws_conn_get_n_queued (PrdEioWsConn *conn)
{
  return conn->frames.length;
}

void
prd_eio_ws_conn_drop_output (PrdEioWsConn *conn)
{
  drop_frames (conn, FALSE);
}

void
prd_eio_ws_conn_close (PrdEioWsConn *conn, gushort code)
{
  enter (conn);
  /* An answer to the peer's Close closes the stream once written, as does
   * a Close whose answer would not be read (after a message too big). */
  queue_close (conn, code, conn->close_received || conn->reading_done);
  leave (conn);
}

void
prd_eio_ws_conn_open_gate (PrdEioWsConn *conn)
{
  if (conn->gated && !is_gone (conn))
    schedule_read (conn);
}
