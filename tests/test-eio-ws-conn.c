/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdEioWsConn on one end of a socket pair, a raw client on the other:
 * the gate (messages held while too many wait, the peer's Close held until
 * they were handled), Pongs bounded for a peer that does not read, frames
 * the socket takes in pieces, and a connection freed from its own
 * callback. Every case runs on a plain socket (the connection keeps only a
 * descriptor of its own) with and without the context's epoll set, and on
 * a stream that is no socket's (as over TLS).
 */
#include "config.h"

#include <string.h>
#include <sys/socket.h>

#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <libsoup/soup.h>

#include "prd-eio-ws-conn.h"

#include "prd-test-harness.h"

typedef struct
{
  gboolean use_poller;
  gboolean over_stream; /* the server's end is no GSocketConnection */
} Params;

typedef struct
{
  PrdEioPoller *poller;
  PrdEioWsConn *conn;
  GIOStream *stream; /* the server's end */
  GSocket *peer;     /* the client's end */
  GPtrArray *messages;
  guint64 handled; /* messages the test says were handled */
  guint max_unhandled;
  gboolean closed;
  guint overflows;
  guint64 written;
  gboolean free_on_message;
} Fixture;

static void
on_message (gpointer user_data, int type, GBytes *message)
{
  Fixture *f = user_data;

  g_ptr_array_add (f->messages, g_bytes_ref (message));
  if (f->free_on_message)
    g_clear_pointer (&f->conn, prd_eio_ws_conn_free);
}

static void
on_closed (gpointer user_data)
{
  Fixture *f = user_data;

  f->closed = TRUE;
}

static void
on_overflow (gpointer user_data)
{
  Fixture *f = user_data;

  f->overflows++;
}

static gboolean
on_gate (gpointer user_data, guint64 messages, gboolean close)
{
  Fixture *f = user_data;

  if (close)
    return f->handled < messages;
  return messages - f->handled >= f->max_unhandled;
}

static void
on_written (gpointer user_data, gsize size)
{
  Fixture *f = user_data;

  f->written += size;
}

static const PrdEioWsConnFuncs funcs = {
  .message = on_message,
  .closed = on_closed,
  .overflow = on_overflow,
  .gate = on_gate,
  .written = on_written,
};

static void
fixture_setup (Fixture *f, gconstpointer user_data)
{
  const Params *params = user_data;
  g_autoptr (GSocket) server = NULL;
  g_autoptr (GError) error = NULL;
  int fds[2];
  int small = 4096;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), ==, 0);
  /* The server's writes block soon when the client does not read. */
  g_assert_cmpint (setsockopt (fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), ==, 0);
  server = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  f->peer = g_socket_new_from_fd (fds[1], &error);
  g_assert_no_error (error);
  g_socket_set_blocking (f->peer, FALSE);
  if (params->over_stream)
    {
      g_autoptr (GInputStream) in = g_unix_input_stream_new (g_socket_get_fd (server), FALSE);
      g_autoptr (GOutputStream) out = g_unix_output_stream_new (g_socket_get_fd (server), FALSE);

      /* The socket closes the descriptor when the fixture drops it. */
      g_object_set_data_full (G_OBJECT (in), "socket", g_object_ref (server), g_object_unref);
      f->stream = g_simple_io_stream_new (in, out);
    }
  else
    f->stream = G_IO_STREAM (g_socket_connection_factory_create_connection (server));
  if (params->use_poller)
    {
      f->poller = prd_eio_poller_new (NULL, &error);
      g_assert_no_error (error);
    }
  f->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  f->max_unhandled = G_MAXUINT;
  f->conn = prd_eio_ws_conn_new (f->stream, 1 << 20, f->poller, &funcs, f);
  /* On a socket, the connection took a descriptor of its own and closed
   * the stream; otherwise it reads and writes through the stream. */
  g_assert_cmpint (g_io_stream_is_closed (f->stream), ==, !params->over_stream);
}

static void
fixture_teardown (Fixture *f, gconstpointer user_data)
{
  g_clear_pointer (&f->conn, prd_eio_ws_conn_free);
  g_clear_object (&f->stream);
  g_clear_object (&f->peer);
  g_ptr_array_unref (f->messages);
  if (f->poller != NULL)
    prd_eio_poller_detach (f->poller);
  g_clear_pointer (&f->poller, prd_eio_poller_unref);
  /* Nothing of the connection may be left in the context. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* Runs the context until nothing is ready. */
static void
settle (void)
{
  for (guint i = 0; i < 100000 && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

/* A masked client frame. */
static void
append_frame (GByteArray *out, guint8 first, const void *payload, gsize len)
{
  static const guint8 mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
  guint8 header[4] = { first, 0x80 | (len < 126 ? len : 126), len >> 8, len & 0xff };
  gsize at;

  g_assert_cmpuint (len, <, 65536);
  g_byte_array_append (out, header, len < 126 ? 2 : 4);
  g_byte_array_append (out, mask, 4);
  at = out->len;
  g_byte_array_append (out, payload, len);
  for (gsize i = 0; i < len; i++)
    out->data[at + i] ^= mask[i & 3];
}

static void
peer_write (Fixture *f, GByteArray *data)
{
  gsize done = 0;

  while (done < data->len)
    {
      g_autoptr (GError) error = NULL;
      gssize n =
          g_socket_send (f->peer, (const char *) data->data + done, data->len - done, NULL, &error);

      if (n < 0)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
          g_main_context_iteration (NULL, FALSE);
          continue;
        }
      done += n;
    }
}

/* What the server wrote and the peer did not read yet. */
static void
peer_read_available (Fixture *f, GByteArray *into)
{
  for (;;)
    {
      g_autoptr (GError) error = NULL;
      guint8 buf[4096];
      gssize n = g_socket_receive (f->peer, (char *) buf, sizeof buf, NULL, &error);

      if (n <= 0)
        return;
      g_byte_array_append (into, buf, n);
    }
}

/* Reads server frames (unmasked) from @data at *at; returns the opcode,
 * -1 when no complete frame is there. */
static int
next_frame (GByteArray *data, gsize *at, GBytes **payload)
{
  const guint8 *p = data->data + *at;
  gsize left = data->len - *at, header = 2;
  guint64 len;

  if (left < 2)
    return -1;
  len = p[1] & 0x7f;
  if (len == 126)
    {
      if (left < 4)
        return -1;
      len = (p[2] << 8) | p[3];
      header = 4;
    }
  else if (len == 127)
    {
      if (left < 10)
        return -1;
      len = 0;
      for (guint i = 0; i < 8; i++)
        len = (len << 8) | p[2 + i];
      header = 10;
    }
  if (left < header + len)
    return -1;
  *payload = g_bytes_new (p + header, len);
  *at += header + len;
  return p[0];
}

/* A peer that pings without reading is not read any more once 16 Pongs
 * wait; every Ping is answered, in order, once it reads. */
static void
test_pongs_bounded (Fixture *f, gconstpointer user_data)
{
  enum
  {
    N_PINGS = 2000
  };
  g_autoptr (GByteArray) pings = g_byte_array_new ();
  g_autoptr (GByteArray) received = g_byte_array_new ();
  guint n_pongs = 0;
  gsize at = 0;

  for (guint i = 0; i < N_PINGS; i++)
    {
      char payload[16];

      g_snprintf (payload, sizeof payload, "ping-%05u", i);
      append_frame (pings, 0x89, payload, strlen (payload));
    }
  peer_write (f, pings);
  settle ();
  g_assert_cmpuint (prd_eio_ws_conn_get_n_queued (f->conn), <=, 16);
  g_assert_cmpuint (prd_eio_ws_conn_get_n_queued (f->conn), >, 0);

  while (n_pongs < N_PINGS)
    {
      GBytes *payload = NULL;
      int first;

      peer_read_available (f, received);
      while ((first = next_frame (received, &at, &payload)) >= 0)
        {
          g_autofree char *expected = g_strdup_printf ("ping-%05u", n_pongs);
          g_autoptr (GBytes) got = payload;

          g_assert_cmpint (first, ==, 0x8a);
          g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got), expected,
                           strlen (expected));
          n_pongs++;
        }
      /* Never more than the bound, while the peer reads slowly. */
      g_assert_cmpuint (prd_eio_ws_conn_get_n_queued (f->conn), <=, 16);
      if (n_pongs < N_PINGS)
        g_main_context_iteration (NULL, TRUE);
    }
  g_assert_false (f->closed);
  g_assert_cmpuint (f->messages->len, ==, 0);
}

/* Messages are read while fewer than max_unhandled wait; the peer's Close
 * waits until every message before it was handled. */
static void
test_gate (Fixture *f, gconstpointer user_data)
{
  g_autoptr (GByteArray) frames = g_byte_array_new ();
  g_autoptr (GByteArray) received = g_byte_array_new ();
  static const guint8 close_4001[] = { 0x0f, 0xa1 };
  GBytes *payload = NULL;
  gsize at = 0;

  f->max_unhandled = 2;
  for (guint i = 0; i < 5; i++)
    {
      char text[8];

      g_snprintf (text, sizeof text, "m%u", i);
      append_frame (frames, 0x81, text, strlen (text));
    }
  append_frame (frames, 0x88, close_4001, sizeof close_4001);
  peer_write (f, frames);

  settle ();
  g_assert_cmpuint (f->messages->len, ==, 2);
  f->handled = 2;
  prd_eio_ws_conn_open_gate (f->conn);
  settle ();
  g_assert_cmpuint (f->messages->len, ==, 4);
  f->handled = 4;
  prd_eio_ws_conn_open_gate (f->conn);
  settle ();
  g_assert_cmpuint (f->messages->len, ==, 5);
  g_assert_cmpmem (g_bytes_get_data (g_ptr_array_index (f->messages, 4), NULL), 2, "m4", 2);

  /* The Close waits for the last message; the answer to it goes first. */
  g_assert_false (f->closed);
  g_assert_true (prd_eio_ws_conn_is_open (f->conn));
  prd_eio_ws_conn_send (f->conn, SOUP_WEBSOCKET_DATA_TEXT, g_bytes_new_static ("answer", 6));
  f->handled = 5;
  prd_eio_ws_conn_open_gate (f->conn);
  prd_test_wait_while (!f->closed, PRD_TEST_TIMEOUT_MS);

  peer_read_available (f, received);
  g_assert_cmpint (next_frame (received, &at, &payload), ==, 0x81);
  g_assert_cmpmem (g_bytes_get_data (payload, NULL), g_bytes_get_size (payload), "answer", 6);
  g_clear_pointer (&payload, g_bytes_unref);
  g_assert_cmpint (next_frame (received, &at, &payload), ==, 0x88);
  g_assert_cmpmem (g_bytes_get_data (payload, NULL), g_bytes_get_size (payload), close_4001,
                   sizeof close_4001);
  g_clear_pointer (&payload, g_bytes_unref);
  g_assert_cmpuint (at, ==, received->len);
  g_assert_cmpuint (f->written, ==, 6);
}

/* Frames the socket takes in pieces arrive whole and in order, and are
 * reported written once they were. */
static void
test_partial_writes (Fixture *f, gconstpointer user_data)
{
  g_autoptr (GByteArray) received = g_byte_array_new ();
  g_autoptr (GBytes) big = NULL;
  guint8 *data = g_malloc (200000);
  guint n_small = 0;
  gboolean got_big = FALSE;
  gsize at = 0;

  for (gsize i = 0; i < 200000; i++)
    data[i] = (guint8) (i * 7);
  big = g_bytes_new_take (data, 200000);
  prd_eio_ws_conn_send (f->conn, SOUP_WEBSOCKET_DATA_BINARY, big);
  for (guint i = 0; i < 50; i++)
    {
      g_autofree char *text = g_strdup_printf ("small-%02u", i);

      prd_eio_ws_conn_send (f->conn, SOUP_WEBSOCKET_DATA_TEXT,
                            g_bytes_new_take (g_steal_pointer (&text), 8));
    }
  g_assert_true (prd_eio_ws_conn_has_output (f->conn));
  g_assert_cmpuint (f->written, <, 200000 + 50 * 8);

  while (n_small < 50)
    {
      GBytes *payload = NULL;
      int first;

      peer_read_available (f, received);
      while ((first = next_frame (received, &at, &payload)) >= 0)
        {
          g_autoptr (GBytes) got = payload;

          if (!got_big)
            {
              g_assert_cmpint (first, ==, 0x82);
              g_assert_true (g_bytes_equal (got, big));
              got_big = TRUE;
            }
          else
            {
              g_autofree char *expected = g_strdup_printf ("small-%02u", n_small++);

              g_assert_cmpint (first, ==, 0x81);
              g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got), expected, 8);
            }
        }
      if (n_small < 50)
        g_main_context_iteration (NULL, TRUE);
    }
  settle ();
  g_assert_false (prd_eio_ws_conn_has_output (f->conn));
  g_assert_cmpuint (f->written, ==, 200000 + 50 * 8);
}

/* The connection freed from its own message callback: nothing after it
 * is read or reported. */
static void
test_free_in_callback (Fixture *f, gconstpointer user_data)
{
  g_autoptr (GByteArray) frames = g_byte_array_new ();

  append_frame (frames, 0x81, "one", 3);
  append_frame (frames, 0x81, "two", 3);
  f->free_on_message = TRUE;
  peer_write (f, frames);
  prd_test_wait_while (f->conn != NULL, PRD_TEST_TIMEOUT_MS);
  settle ();
  g_assert_cmpuint (f->messages->len, ==, 1);
  g_assert_false (f->closed);
}

/* A peer that never answers our Close is closed anyway, after the close
 * timeout (5 s). */
static void
test_close_unanswered (Fixture *f, gconstpointer user_data)
{
  g_autoptr (GByteArray) received = g_byte_array_new ();
  GBytes *payload = NULL;
  gsize at = 0;

  prd_eio_ws_conn_close (f->conn, 1001);
  g_assert_false (prd_eio_ws_conn_is_open (f->conn));
  prd_test_wait_while (!f->closed, PRD_TEST_TIMEOUT_MS);
  g_assert_true (prd_eio_ws_conn_is_closed (f->conn));

  peer_read_available (f, received);
  g_assert_cmpint (next_frame (received, &at, &payload), ==, 0x88);
  g_assert_cmpmem (g_bytes_get_data (payload, NULL), g_bytes_get_size (payload), "\x03\xe9", 2);
  g_bytes_unref (payload);
  g_assert_cmpuint (at, ==, received->len);
}

int
main (int argc, char *argv[])
{
  static const Params plain = { FALSE, FALSE }, polled = { TRUE, FALSE }, stream = { TRUE, TRUE };

  g_test_init (&argc, &argv, NULL);

#define ADD(path, func)                                                                            \
  G_STMT_START                                                                                     \
  {                                                                                                \
    g_test_add ("/prd/eio-ws-conn/" path, Fixture, &plain, fixture_setup, func, fixture_teardown); \
    g_test_add ("/prd/eio-ws-conn/poller/" path, Fixture, &polled, fixture_setup, func,            \
                fixture_teardown);                                                                 \
    g_test_add ("/prd/eio-ws-conn/stream/" path, Fixture, &stream, fixture_setup, func,            \
                fixture_teardown);                                                                 \
  }                                                                                                \
  G_STMT_END

  ADD ("pongs-bounded", test_pongs_bounded);
  ADD ("gate", test_gate);
  ADD ("partial-writes", test_partial_writes);
  ADD ("free-in-callback", test_free_in_callback);

#undef ADD

  /* Once: it waits for the timeout. */
  g_test_add ("/prd/eio-ws-conn/close-unanswered", Fixture, &plain, fixture_setup,
              test_close_unanswered, fixture_teardown);

  return g_test_run ();
}
