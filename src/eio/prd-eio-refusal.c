/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Answering a request at once, without reading its body.
 *
 * What libsoup 3.2 does once the request headers are read (server/http1/
 * soup-server-message-io-http1.c, io_read() and io_write()): it emits
 * "got-headers", then reads the body to its end, emitting "got-chunk" as it
 * goes, and only then writes a response, whatever status was set meanwhile.
 * With "Expect: 100-continue" it writes the status first and reads no body,
 * but a client need not send that header. So a refusal that must not wait
 * for the body takes the connection over from libsoup
 * (soup_server_message_steal_connection(), which libsoup allows from
 * "got-headers" and "got-chunk": it checks after each step whether the
 * message still has its connection and stops if not) and then:
 *
 * 1. writes the response already set on the message (status, headers, body),
 *    with "Connection: close";
 * 2. half-closes the connection (FIN), so the client knows nothing follows;
 * 3. reads and drops what the client still sends, for at most
 *    PRD_EIO_REFUSAL_LINGER_MS or until the client closes its side. Closing
 *    a socket with unread data makes the kernel send a reset, and a reset
 *    can make the client discard the response before reading it;
 * 4. closes the connection.
 *
 * Memory: one response and one read buffer per refused connection. libsoup
 * reports neither "request-finished" nor "request-aborted" for a message
 * whose connection was taken; the message's "disconnected" signal is
 * emitted instead (and "finished" is not).
 */
#define G_LOG_DOMAIN "prd-eio"

#include "config.h"

#include <gio/gio.h>

#include "prd-eio-refusal.h"

#define DISCARD_BUFFER_SIZE 16384
/* Object data on a message already refused. */
#define REFUSED_KEY "prd-eio-refused"

typedef struct
{
  GIOStream *stream;       /* (owned) */
  GSocket *socket;         /* (owned) (nullable) */
  GBytes *response;        /* (owned) */
  GSource *read_source;    /* (owned) (nullable) */
  GSource *timeout_source; /* (owned) (nullable) */
  guint8 *buffer;          /* (owned) (nullable) */
} Refusal;

static void
refusal_free (Refusal *refusal)
{
  if (refusal->read_source != NULL)
    g_source_destroy (refusal->read_source);
  g_clear_pointer (&refusal->read_source, g_source_unref);
  if (refusal->timeout_source != NULL)
    g_source_destroy (refusal->timeout_source);
  g_clear_pointer (&refusal->timeout_source, g_source_unref);
  g_clear_object (&refusal->stream);
  g_clear_object (&refusal->socket);
  g_clear_pointer (&refusal->response, g_bytes_unref);
  g_free (refusal->buffer);
  g_free (refusal);
}

/* Closes the socket itself rather than the stream: over TLS, closing the
 * stream would try to write close_notify on a connection already
 * half-closed. */
static void
refusal_finish (Refusal *refusal)
{
  if (refusal->socket != NULL)
    g_socket_close (refusal->socket, NULL);
  else
    g_io_stream_close (refusal->stream, NULL, NULL);
  refusal_free (refusal);
}

static gboolean
on_linger_timeout (gpointer user_data)
{
  refusal_finish (user_data);
  return G_SOURCE_REMOVE;
}

static gboolean
on_readable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Refusal *refusal = user_data;

  /* A few reads per wakeup, so a fast sender cannot keep us here. */
  for (guint i = 0; i < 4; i++)
    {
      g_autoptr (GError) error = NULL;
      gssize n = g_socket_receive_with_blocking (socket, (char *) refusal->buffer,
                                                 DISCARD_BUFFER_SIZE, FALSE, NULL, &error);

      if (n > 0)
        continue;
      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        return G_SOURCE_CONTINUE;
      /* End of stream (the client closed its side too) or an error. */
      refusal_finish (refusal);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void
linger (Refusal *refusal)
{
  GMainContext *context = g_main_context_get_thread_default ();
  g_autoptr (GError) error = NULL;

  if (refusal->socket == NULL || !g_socket_shutdown (refusal->socket, FALSE, TRUE, &error))
    {
      if (error != NULL)
        g_debug ("Refused request: cannot half-close: %s", error->message);
      refusal_finish (refusal);
      return;
    }

  refusal->buffer = g_malloc (DISCARD_BUFFER_SIZE);
  refusal->read_source =
      g_socket_create_source (refusal->socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (refusal->read_source, G_SOURCE_FUNC (on_readable), refusal, NULL);
  g_source_attach (refusal->read_source, context);
  refusal->timeout_source = g_timeout_source_new (PRD_EIO_REFUSAL_LINGER_MS);
  g_source_set_callback (refusal->timeout_source, on_linger_timeout, refusal, NULL);
  g_source_attach (refusal->timeout_source, context);
}

static void
on_response_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Refusal *refusal = user_data;
  g_autoptr (GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      g_debug ("Refused request: cannot write the response: %s", error->message);
      refusal_finish (refusal);
      return;
    }
  linger (refusal);
}

/* What libsoup's write_headers() would write, from the message as set. */
static GBytes *
serialize_response (SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  g_autoptr (GBytes) body = soup_message_body_flatten (soup_server_message_get_response_body (msg));
  guint status = soup_server_message_get_status (msg);
  const char *reason = soup_server_message_get_reason_phrase (msg);
  GString *out = g_string_new (NULL);
  SoupMessageHeadersIter iter;
  const char *name, *value;

  soup_message_headers_set_content_length (headers, g_bytes_get_size (body));
  soup_message_headers_replace (headers, "Connection", "close");
  g_string_append_printf (out, "HTTP/1.%c %u %s\r\n",
                          soup_server_message_get_http_version (msg) == SOUP_HTTP_1_0 ? '0' : '1',
                          status, reason != NULL ? reason : soup_status_get_phrase (status));
  soup_message_headers_iter_init (&iter, headers);
  while (soup_message_headers_iter_next (&iter, &name, &value))
    g_string_append_printf (out, "%s: %s\r\n", name, value);
  g_string_append (out, "\r\n");
  if (!g_str_equal (soup_server_message_get_method (msg), SOUP_METHOD_HEAD))
    g_string_append_len (out, g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  return g_string_free_to_bytes (out);
}

/**
 * prd_eio_request_has_body:
 *
 * Returns: whether the request's headers announce a body (a
 *   `Content-Length` above 0, or a chunked body)
 */
gboolean
prd_eio_request_has_body (SoupServerMessage *msg)
{
  SoupMessageHeaders *headers;

  g_return_val_if_fail (SOUP_IS_SERVER_MESSAGE (msg), FALSE);

  headers = soup_server_message_get_request_headers (msg);
  switch (soup_message_headers_get_encoding (headers))
    {
      case SOUP_ENCODING_NONE:
        return FALSE;
      case SOUP_ENCODING_CONTENT_LENGTH:
        return soup_message_headers_get_content_length (headers) > 0;
      default:
        return TRUE;
    }
}

/**
 * prd_eio_refuse_now:
 * @msg: a request whose headers were read, with its status (and response
 *   headers and body) set
 *
 * Sends @msg's response at once and closes the connection, without reading
 * the rest of the request body; call it from a "got-headers" or "got-chunk"
 * handler. @msg is done with afterwards: libsoup will neither call the
 * path's handler nor emit "finished" for it. The caller must hold a
 * reference on @msg if it uses it afterwards (libsoup holds one during its
 * signal emissions). Refusing a message twice does nothing the second time.
 *
 * An HTTP/2 stream cannot be taken over: it keeps its status, its body is
 * read and dropped, and libsoup answers it then.
 */
void
prd_eio_refuse_now (SoupServerMessage *msg)
{
  Refusal *refusal;
  GSocket *socket;

  g_return_if_fail (SOUP_IS_SERVER_MESSAGE (msg));
  g_return_if_fail (soup_server_message_get_status (msg) != 0);

  if (g_object_get_data (G_OBJECT (msg), REFUSED_KEY) != NULL)
    return;
  g_object_set_data (G_OBJECT (msg), REFUSED_KEY, GINT_TO_POINTER (TRUE));

  if (soup_server_message_get_http_version (msg) == SOUP_HTTP_2_0)
    {
      soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
      return;
    }

  refusal = g_new0 (Refusal, 1);
  refusal->response = serialize_response (msg);
  socket = soup_server_message_get_socket (msg);
  if (socket == NULL && soup_server_message_get_remote_address (msg) != NULL)
    socket = g_object_get_data (G_OBJECT (soup_server_message_get_remote_address (msg)),
                                PRD_EIO_SOCKET_KEY);
  refusal->socket = socket != NULL ? g_object_ref (socket) : NULL;
  refusal->stream = soup_server_message_steal_connection (msg);
  if (refusal->stream == NULL)
    {
      /* The connection was gone already. */
      g_clear_object (&refusal->socket);
      refusal_free (refusal);
      return;
    }
  g_output_stream_write_all_async (
      g_io_stream_get_output_stream (refusal->stream), g_bytes_get_data (refusal->response, NULL),
      g_bytes_get_size (refusal->response), G_PRIORITY_DEFAULT, NULL, on_response_written, refusal);
}
