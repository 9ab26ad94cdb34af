/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdEioListener: accepts the TCP connections of a SoupServer itself and
 * hands each one to libsoup with soup_server_accept_iostream(), guarding
 * what libsoup 3.2 leaves open:
 *
 * - the listen backlog is set (libsoup and GLib use 10);
 * - every connection is counted, in total and per remote address, and one
 *   over a limit is closed at once, before libsoup sees it (loopback is
 *   exempt from the per-address limit by default: same-host clients are a
 *   reverse proxy or the operator's own tools);
 * - a connection that has not sent a complete request within
 *   request-timeout (the TLS handshake included), or that sits between two
 *   requests for idle-timeout, is shut down. A request being handled (a
 *   long-poll GET the Engine.IO server holds) and a connection upgraded to
 *   WebSocket are never timed out here;
 * - a client that closes a kept-alive connection between two requests gets
 *   it closed on the hub's side too (libsoup < 3.3 leaks it: see
 *   prd-eio-idle-stream.h). Each connection reads through a
 *   #PrdEioIdleStream that this listener marks idle from libsoup's
 *   request-started / request-finished / request-aborted signals;
 * - accepting survives running out of file descriptors: a spare descriptor
 *   is given up to accept and close the connection waiting (libsoup's own
 *   listener stops accepting for good after the first failed accept()).
 *
 * TLS (SOUP_SERVER_LISTEN_HTTPS) is done here with the server's
 * tls-certificate: the handshake runs under request-timeout, and libsoup
 * gets the established GTlsServerConnection (beneath the idle stream).
 *
 * libsoup keeps a connection alive after a response only while the server
 * has a listener of its own (request_finished() in soup-server.c checks
 * that). So the server is also given a duplicate of the listening socket
 * that is closed at once: libsoup's listener exists (and reports the
 * address in soup_server_get_uris()) but its first accept() fails and it
 * never accepts anything.
 *
 * This is generic HTTP plumbing under everything served over HTTP (the
 * Engine.IO server and REST routes alike), hence src/eio rather than the
 * hub; it knows nothing of either.
 */
#define G_LOG_DOMAIN "prd-eio"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "prd-error.h"
#include "prd-eio-idle-stream.h"
#include "prd-eio-refusal.h"

#include "prd-eio-listener.h"

/* Connections accepted per main-loop dispatch. */
#define ACCEPT_BATCH 64
/* After an accept() failure other than running out of descriptors. */
#define ACCEPT_RETRY_MS 100
/* A connection shut down for a timeout that libsoup has not closed after
 * this long is closed underneath it. */
#define CLOSE_GRACE_US (5 * G_USEC_PER_SEC)
/* Refusals are logged (g_message) at most this often. */
#define REFUSAL_LOG_INTERVAL_US (10 * G_USEC_PER_SEC)

typedef enum
{
  CONN_HANDSHAKE, /* TLS handshake under way */
  CONN_REQUEST,   /* waiting for, or reading, a request */
  CONN_BUSY,      /* request read, being answered */
  CONN_IDLE,      /* between two requests */
  CONN_UPGRADED,  /* taken over as a WebSocket */
  CONN_CLOSING,   /* shut down for a timeout, libsoup to close it */
  CONN_REFUSING,  /* refused (plain HTTP on the TLS port, headers too large):
                   * answered, read until closed */
} ConnState;

static const char *const state_names[] = {
  "handshake", "request", "busy", "idle", "upgraded", "closing", "refusing",
};

typedef struct
{
  PrdEioListener *listener;      /* (unowned) (nullable): NULL once the listener is gone */
  GSocketConnection *connection; /* (owned) the TCP connection */
  GTlsConnection *tls;           /* (owned) (nullable) */
  GCancellable *cancellable;     /* (owned) (nullable): the TLS handshake */
  GSource *sniff;                /* (owned) (nullable): waits for the first byte (TLS) */
  PrdEioIdleStream *input;       /* (unowned) (nullable): libsoup's, until it is closed or
                                  * the connection is upgraded */
  PrdEioClosedNotice *closed;    /* (owned) (nullable): from whatever closes the connection */
  GSocketAddress *remote;        /* (owned) (nullable) the address libsoup reports for this
                                  * connection */
  char *address;                 /* (owned) the remote IP address: the per-address key */
  ConnState state;
  gint64 deadline; /* monotonic µs; 0: none */
} Conn;

struct _PrdEioListener
{
  GObject parent_instance;

  SoupServer *server;           /* (owned) */
  GSocket *socket;              /* (owned) (nullable): listening */
  GSource *accept_source;       /* (owned) (nullable) */
  GTlsCertificate *certificate; /* (owned) (nullable): TLS when set */
  GHashTable *conns;            /* (owned) (element-type Conn) open connections */
  GHashTable *per_address;      /* (owned) address → count (GUINT_TO_POINTER) */
  GPtrArray *exempt;            /* (owned) (element-type GInetAddressMask) */
  char **exempt_strv;           /* (owned) */
  int reserve_fd;               /* spare descriptor for accepting when out of them; -1 */
  guint sweep_id;
  guint retry_id;
  guint effective_max;
  gint64 last_refusal_log;

  guint backlog;
  guint idle_timeout;    /* ms */
  guint request_timeout; /* ms */
  guint max_connections; /* 0: automatic */
  guint max_per_address; /* 0: no limit */
};

enum
{
  PROP_0,
  PROP_SERVER,
  PROP_LISTEN_BACKLOG,
  PROP_IDLE_TIMEOUT,
  PROP_REQUEST_TIMEOUT,
  PROP_MAX_CONNECTIONS,
  PROP_MAX_CONNECTIONS_PER_ADDRESS,
  PROP_PER_ADDRESS_EXEMPT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (PrdEioListener, prd_eio_listener, G_TYPE_OBJECT)

/* On the remote address handed to libsoup: its Conn. */
static GQuark conn_quark;

/* ------------------------------------------------------------------ */
/* Connection records                                                 */

/* From now on only the count matters: the connection's objects are left to
 * whoever holds the connection, which may free them long before it is
 * closed (prd-eio-ws-conn.c keeps just the descriptor of a WebSocket). */
static void
conn_release_objects (Conn *conn)
{
  if (conn->remote != NULL)
    {
      g_object_set_qdata (G_OBJECT (conn->remote), conn_quark, NULL);
      g_object_set_data (G_OBJECT (conn->remote), PRD_EIO_SOCKET_KEY, NULL);
    }
  /* No request head is read any more: no refusal can come from it. */
  if (conn->input != NULL)
    prd_eio_idle_stream_set_header_limit (conn->input, 0, NULL, NULL);
  conn->input = NULL;
  g_clear_object (&conn->tls);
  g_clear_object (&conn->connection);
  g_clear_object (&conn->remote);
}

static void
conn_free (Conn *conn)
{
  if (conn->closed != NULL)
    prd_eio_closed_notice_cancel (conn->closed);
  g_clear_pointer (&conn->closed, prd_eio_closed_notice_unref);
  conn_release_objects (conn);
  if (conn->sniff != NULL)
    g_source_destroy (conn->sniff);
  g_clear_pointer (&conn->sniff, g_source_unref);
  g_clear_object (&conn->cancellable);
  g_free (conn->address);
  g_free (conn);
}

/* The connection is closed: it no longer counts. */
static void
conn_forget (PrdEioListener *self, Conn *conn)
{
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (self->per_address, conn->address));

  g_debug ("Connection from %s closed (%s); %u open", conn->address, state_names[conn->state],
           g_hash_table_size (self->conns) - 1);
  if (n > 1)
    g_hash_table_replace (self->per_address, g_strdup (conn->address), GUINT_TO_POINTER (n - 1));
  else
    g_hash_table_remove (self->per_address, conn->address);
  g_hash_table_remove (self->conns, conn);
  conn_free (conn);
}

static void
conn_shutdown (Conn *conn)
{
  if (conn->connection != NULL)
    g_socket_shutdown (g_socket_connection_get_socket (conn->connection), TRUE, TRUE, NULL);
}

/* Closes the connection underneath whatever uses it and forgets it. */
static void
conn_close_now (PrdEioListener *self, Conn *conn)
{
  /* Shut down first: closing a TLS connection writes close_notify, which
   * must not wait for a peer that does not read. */
  conn_shutdown (conn);
  if (conn->closed != NULL)
    prd_eio_closed_notice_cancel (conn->closed);
  if (conn->tls != NULL && conn->input == NULL)
    g_io_stream_close (G_IO_STREAM (conn->tls), NULL, NULL);
  if (conn->connection != NULL)
    g_io_stream_close (G_IO_STREAM (conn->connection), NULL, NULL);
  if (self != NULL)
    conn_forget (self, conn);
  else
    conn_free (conn);
}

static void
on_input_closed (gpointer user_data)
{
  Conn *conn = user_data;

  conn->input = NULL;
  /* A refusal closes the connection itself once its answer is read. */
  if (conn->state != CONN_REFUSING)
    conn_forget (conn->listener, conn);
}

static void
conn_set_state (Conn *conn, ConnState state, guint timeout_ms)
{
  conn->state = state;
  conn->deadline = timeout_ms > 0 ? g_get_monotonic_time () + (gint64) timeout_ms * 1000 : 0;
  /* A connection shut down while idle stays idle: its end of stream must
   * still reach libsoup as a broken-off request. One shut down in the
   * middle of a request must not: the empty line could complete it. */
  if (conn->input != NULL && state != CONN_CLOSING)
    prd_eio_idle_stream_set_idle (conn->input, state == CONN_IDLE);
}

static Conn *
conn_for_message (PrdEioListener *self, SoupServerMessage *msg)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  Conn *conn;

  if (remote == NULL)
    return NULL;
  conn = g_object_get_qdata (G_OBJECT (remote), conn_quark);
  /* Another listener of the same server accepted it. */
  if (conn != NULL && conn->listener != self)
    return NULL;
  return conn;
}

/* ------------------------------------------------------------------ */
/* libsoup's view of a connection                                     */

static void
on_got_body (SoupServerMessage *msg, gpointer user_data)
{
  Conn *conn = conn_for_message (user_data, msg);

  /* The request is read: answering it takes as long as it takes (a held
   * long-poll GET until there is something to send). */
  if (conn != NULL && conn->state == CONN_REQUEST)
    conn_set_state (conn, CONN_BUSY, 0);
}

static void
on_wrote_informational (SoupServerMessage *msg, gpointer user_data)
{
  Conn *conn = conn_for_message (user_data, msg);

  if (conn != NULL && conn->state != CONN_CLOSING &&
      soup_server_message_get_status (msg) == SOUP_STATUS_SWITCHING_PROTOCOLS)
    {
      conn_set_state (conn, CONN_UPGRADED, 0);
      /* Counted until the notice says it is closed; nothing else. */
      conn_release_objects (conn);
    }
}

static void
on_request_started (SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
  PrdEioListener *self = user_data;
  Conn *conn = conn_for_message (self, msg);

  if (conn == NULL)
    return;
  /* A new connection's first request runs against the deadline set when it
   * was accepted; the next ones from their first byte. */
  if (conn->state == CONN_IDLE || conn->state == CONN_BUSY)
    conn_set_state (conn, CONN_REQUEST, self->request_timeout);
  g_signal_connect_object (msg, "got-body", G_CALLBACK (on_got_body), self, 0);
  g_signal_connect_object (msg, "wrote-informational", G_CALLBACK (on_wrote_informational), self,
                           0);
}

/* Finished or aborted: libsoup either closes the connection now or waits
 * for the next request on it. */
static void
on_request_done (SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
  PrdEioListener *self = user_data;
  Conn *conn = conn_for_message (self, msg);

  if (conn != NULL && (conn->state == CONN_REQUEST || conn->state == CONN_BUSY))
    conn_set_state (conn, CONN_IDLE, self->idle_timeout);
}

/* ------------------------------------------------------------------ */
/* Handing connections to libsoup                                     */

static void on_head_refused (PrdEioHeadRefusal why, gpointer user_data);

static void
hand_over (PrdEioListener *self, Conn *conn, GIOStream *base)
{
  g_autoptr (GSocketAddress) local = NULL;
  g_autoptr (GIOStream) stream = NULL;
  g_autoptr (GError) error = NULL;

  local = g_socket_connection_get_local_address (conn->connection, &error);
  if (local == NULL)
    {
      g_debug ("Dropping a connection from %s: %s", conn->address, error->message);
      conn_close_now (self, conn);
      return;
    }
  stream = prd_eio_idle_io_stream_new (base, &conn->input);
  conn->closed = prd_eio_closed_notice_new (on_input_closed, conn);
  prd_eio_idle_stream_set_closed_notice (conn->input, conn->closed);
  prd_eio_idle_stream_set_header_limit (conn->input, PRD_EIO_LISTENER_MAX_HEADER_SIZE,
                                        on_head_refused, conn);
  /* A refusal lingers on the TCP socket (prd-eio-refusal.c): over TLS too,
   * it writes its answer through the TLS connection, then half-closes the
   * socket and drops the client's records until it stops sending, so that
   * the client reads the answer instead of a reset. */
  g_object_set_data_full (G_OBJECT (conn->remote), PRD_EIO_SOCKET_KEY,
                          g_object_ref (g_socket_connection_get_socket (conn->connection)),
                          g_object_unref);
  g_object_set_qdata (G_OBJECT (conn->remote), conn_quark, conn);
  /* The first request starts (request-started) before this returns. */
  if (!soup_server_accept_iostream (self->server, stream, local, conn->remote, &error))
    {
      g_warning ("libsoup refused a connection from %s: %s", conn->address, error->message);
      conn_close_now (self, conn);
    }
}

static void
on_handshake_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Conn *conn = user_data;
  g_autoptr (GError) error = NULL;
  gboolean ok = g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error);

  if (conn->listener == NULL)
    {
      /* The listener went away meanwhile. */
      conn_close_now (NULL, conn);
      return;
    }
  if (!ok)
    {
      g_debug ("TLS handshake with %s failed: %s", conn->address, error->message);
      conn_close_now (conn->listener, conn);
      return;
    }
  g_clear_object (&conn->cancellable);
  conn->state = CONN_REQUEST; /* still against the deadline set at accept */
  hand_over (conn->listener, conn, G_IO_STREAM (conn->tls));
}

static void
start_handshake (PrdEioListener *self, Conn *conn)
{
  static const char *const protocols[] = { "http/1.1", "http/1.0", NULL };
  g_autoptr (GError) error = NULL;
  GIOStream *tls;

  tls = g_tls_server_connection_new (G_IO_STREAM (conn->connection), self->certificate, &error);
  if (tls == NULL)
    {
      g_warning ("Cannot start TLS with %s: %s", conn->address, error->message);
      conn_close_now (self, conn);
      return;
    }
  conn->tls = G_TLS_CONNECTION (tls);
  /* As libsoup's own listener: HTTP frames its messages itself. */
  g_object_set (tls, "require-close-notify", FALSE, NULL);
  g_tls_connection_set_advertised_protocols (conn->tls, protocols);
  if (conn->cancellable == NULL)
    conn->cancellable = g_cancellable_new ();
  g_tls_connection_handshake_async (conn->tls, G_PRIORITY_DEFAULT, conn->cancellable,
                                    on_handshake_done, conn);
}

/* ------------------------------------------------------------------ */
/* Plain HTTP on the TLS port                                         */

static void log_refusal (PrdEioListener *self, const char *address, const char *why);

/* A TLS client speaks first, and its first record is a handshake (type
 * 22). Anything else is answered in plain text at once, instead of letting
 * the TLS library fail the handshake on it and close without a word. */
#define TLS_RECORD_HANDSHAKE 0x16
#define PLAIN_HTTP_MESSAGE   "This port speaks HTTPS: use https:// or wss://"

static void
drain (GSocket *socket)
{
  char buf[4096];

  while (g_socket_receive_with_blocking (socket, buf, sizeof buf, FALSE, NULL, NULL) > 0)
    ;
}

static gboolean
on_refusing_readable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Conn *conn = user_data;
  g_autoptr (GError) error = NULL;
  char buf[4096];
  gssize n;

  if (conn->listener == NULL)
    {
      conn_close_now (NULL, conn);
      return G_SOURCE_REMOVE;
    }
  n = g_socket_receive_with_blocking (socket, buf, sizeof buf, FALSE, NULL, &error);
  if (n == 0 || (n < 0 && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)))
    {
      conn_close_now (conn->listener, conn);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

/* Answers @status with a `{ code, message }` body on @conn (through TLS
 * when it has it), half-closes it and reads what still arrives for
 * PRD_EIO_REFUSAL_LINGER_MS, so that the client reads the answer rather than
 * a connection reset; then the connection is closed. */
static void
refuse_connection (PrdEioListener *self,
                   Conn *conn,
                   const char *status,
                   PrdErrorCode code,
                   const char *message,
                   const char *why)
{
  GSocket *socket = g_socket_connection_get_socket (conn->connection);
  GIOStream *io = conn->tls != NULL ? G_IO_STREAM (conn->tls) : G_IO_STREAM (conn->connection);
  GOutputStream *output = g_io_stream_get_output_stream (io);
  g_autofree char *body = g_strdup_printf ("{\"code\":\"%s\",\"message\":\"%s\"}",
                                           prd_error_code_to_string (code), message);
  /* As every answer outside /socket.io/ (prd-hub-rest.c): a browser must
   * not sniff this one into a page, run or frame it. */
  g_autofree char *text = g_strdup_printf ("HTTP/1.1 %s\r\n"
                                           "Content-Type: application/json\r\n"
                                           "X-Content-Type-Options: nosniff\r\n"
                                           "Content-Security-Policy: default-src 'none'; "
                                           "frame-ancestors 'none'\r\n"
                                           "Cache-Control: no-store\r\n"
                                           "Connection: close\r\n"
                                           "Content-Length: %zu\r\n"
                                           "\r\n%s",
                                           status, strlen (body), body);

  log_refusal (self, conn->address, why);
  /* What the request sent so far is read first: closing with unread data
   * would reset the connection, and the client could lose the answer. The
   * answer is small enough for the socket's send buffer. */
  if (conn->tls == NULL)
    drain (socket);
  g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (output), text,
                                              strlen (text), NULL, NULL);
  g_socket_shutdown (socket, FALSE, TRUE, NULL);
  conn_set_state (conn, CONN_REFUSING, PRD_EIO_REFUSAL_LINGER_MS);
  conn->sniff = g_socket_create_source (socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (conn->sniff, G_SOURCE_FUNC (on_refusing_readable), conn, NULL);
  g_source_attach (conn->sniff, NULL);
}

static void
refuse_plain_http (PrdEioListener *self, Conn *conn)
{
  refuse_connection (self, conn, "400 Bad Request", PRD_ERROR_TLS_REQUIRED, PLAIN_HTTP_MESSAGE,
                     "plain HTTP on the TLS port");
}

/* From the idle stream, inside libsoup's read: the request head grew past
 * PRD_EIO_LISTENER_MAX_HEADER_SIZE, or its framing is one libsoup must not
 * see (prd-eio-idle-stream.c, scan_line()). libsoup gets a read error next
 * and closes its side; the socket stays ours until the answer is read. */
static void
on_head_refused (PrdEioHeadRefusal why, gpointer user_data)
{
  Conn *conn = user_data;

  if (conn->listener == NULL || conn->state == CONN_CLOSING || conn->state == CONN_REFUSING)
    return;
  switch (why)
    {
      case PRD_EIO_HEAD_TOO_LARGE:
        refuse_connection (
            conn->listener, conn, "431 Request Header Fields Too Large",
            PRD_ERROR_PAYLOAD_TOO_LARGE,
            "The request headers are over " G_STRINGIFY (PRD_EIO_LISTENER_MAX_HEADER_SIZE) " bytes",
            "request headers too large");
        break;
      case PRD_EIO_HEAD_BAD_FRAMING:
        refuse_connection (conn->listener, conn, "400 Bad Request", PRD_ERROR_INVALID_PAYLOAD,
                           "A header line is folded, or Content-Length is not a number",
                           "bad request framing");
        break;
      case PRD_EIO_HEAD_UNKNOWN_CODING:
        refuse_connection (conn->listener, conn, "501 Not Implemented", PRD_ERROR_INVALID_PAYLOAD,
                           "The only Transfer-Encoding a request may have is chunked",
                           "unknown transfer coding");
        break;
      case PRD_EIO_HEAD_NUL:
        refuse_connection (conn->listener, conn, "400 Bad Request", PRD_ERROR_INVALID_PAYLOAD,
                           "The request line or a header holds a NUL byte", "NUL in request head");
        break;
    }
}

static gboolean
on_first_byte (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Conn *conn = user_data;
  PrdEioListener *self = conn->listener;
  guint8 first;
  gssize n;

  g_clear_pointer (&conn->sniff, g_source_unref);
  if (self == NULL || g_cancellable_is_cancelled (conn->cancellable))
    {
      /* The listener went away, or the handshake's time ran out. */
      if (self != NULL)
        g_debug ("TLS handshake with %s timed out", conn->address);
      conn_close_now (self, conn);
      return G_SOURCE_REMOVE;
    }
  n = recv (g_socket_get_fd (socket), &first, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    {
      conn->sniff =
          g_socket_create_source (socket, G_IO_IN | G_IO_HUP | G_IO_ERR, conn->cancellable);
      g_source_set_callback (conn->sniff, G_SOURCE_FUNC (on_first_byte), conn, NULL);
      g_source_attach (conn->sniff, NULL);
      return G_SOURCE_REMOVE;
    }
  if (n <= 0)
    {
      conn_close_now (self, conn);
      return G_SOURCE_REMOVE;
    }
  if (first == TLS_RECORD_HANDSHAKE)
    start_handshake (self, conn);
  else
    refuse_plain_http (self, conn);
  return G_SOURCE_REMOVE;
}

static void
sniff_first_byte (Conn *conn)
{
  GSocket *socket = g_socket_connection_get_socket (conn->connection);

  conn->cancellable = g_cancellable_new ();
  conn->sniff = g_socket_create_source (socket, G_IO_IN | G_IO_HUP | G_IO_ERR, conn->cancellable);
  g_source_set_callback (conn->sniff, G_SOURCE_FUNC (on_first_byte), conn, NULL);
  g_source_attach (conn->sniff, NULL);
}

/* ------------------------------------------------------------------ */
/* Accepting                                                          */

static gboolean
is_exempt (PrdEioListener *self, GInetAddress *inet)
{
  for (guint i = 0; i < self->exempt->len; i++)
    {
      GInetAddressMask *mask = g_ptr_array_index (self->exempt, i);

      if (g_inet_address_mask_get_family (mask) == g_inet_address_get_family (inet) &&
          g_inet_address_mask_matches (mask, inet))
        return TRUE;
    }
  return FALSE;
}

static void
log_refusal (PrdEioListener *self, const char *address, const char *why)
{
  gint64 now = g_get_monotonic_time ();

  g_debug ("Refused a connection from %s: %s", address, why);
  if (self->last_refusal_log == 0 || now - self->last_refusal_log >= REFUSAL_LOG_INTERVAL_US)
    {
      self->last_refusal_log = now;
      g_message ("Refusing connections (a connection from %s: %s); logged at most every %d s",
                 address, why, (int) (REFUSAL_LOG_INTERVAL_US / G_USEC_PER_SEC));
    }
}

static void
accept_fd (PrdEioListener *self, int fd)
{
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GSocketAddress) remote = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *address = NULL;
  g_autofree char *why = NULL;
  GInetAddress *inet;
  Conn *conn;
  guint count;

  socket = g_socket_new_from_fd (fd, &error);
  if (socket == NULL)
    {
      g_debug ("Dropping an accepted connection: %s", error->message);
      close (fd);
      return;
    }
  remote = g_socket_get_remote_address (socket, &error);
  if (remote == NULL || !G_IS_INET_SOCKET_ADDRESS (remote))
    {
      g_debug ("Dropping an accepted connection: %s",
               error != NULL ? error->message : "not an IP connection");
      g_socket_close (socket, NULL);
      return;
    }
  inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote));
  address = g_inet_address_to_string (inet);
  count = GPOINTER_TO_UINT (g_hash_table_lookup (self->per_address, address));

  if (g_hash_table_size (self->conns) >= self->effective_max)
    why = g_strdup_printf ("%u connections open (max-connections)", self->effective_max);
  else if (self->max_per_address > 0 && count >= self->max_per_address && !is_exempt (self, inet))
    why = g_strdup_printf ("%u connections open from it (max-connections-per-address)", count);
  if (why != NULL)
    {
      log_refusal (self, address, why);
      g_socket_close (socket, NULL);
      return;
    }

  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, TRUE, NULL);
  conn = g_new0 (Conn, 1);
  conn->listener = self;
  conn->connection = g_socket_connection_factory_create_connection (socket);
  conn->remote = g_steal_pointer (&remote);
  conn->address = g_strdup (address);
  g_hash_table_add (self->conns, conn);
  g_hash_table_replace (self->per_address, g_steal_pointer (&address),
                        GUINT_TO_POINTER (count + 1));

  /* The first request, TLS handshake included, is due within
   * request-timeout of the accept. */
  if (self->certificate != NULL)
    {
      conn_set_state (conn, CONN_HANDSHAKE, self->request_timeout);
      sniff_first_byte (conn);
    }
  else
    {
      conn_set_state (conn, CONN_REQUEST, self->request_timeout);
      hand_over (self, conn, G_IO_STREAM (conn->connection));
    }
}

static gboolean on_incoming (GSocket *socket, GIOCondition condition, gpointer user_data);

static void
watch_socket (PrdEioListener *self)
{
  g_assert (self->accept_source == NULL);
  self->accept_source = g_socket_create_source (self->socket, G_IO_IN, NULL);
  g_source_set_callback (self->accept_source, G_SOURCE_FUNC (on_incoming), self, NULL);
  g_source_set_name (self->accept_source, "[prd-eio] accept");
  g_source_attach (self->accept_source, NULL);
}

static gboolean
retry_accept (gpointer user_data)
{
  PrdEioListener *self = user_data;

  self->retry_id = 0;
  if (self->socket != NULL)
    watch_socket (self);
  return G_SOURCE_REMOVE;
}

/* Stops watching the socket for a while (the caller returns
 * G_SOURCE_REMOVE). */
static void
pause_accepting (PrdEioListener *self)
{
  g_clear_pointer (&self->accept_source, g_source_unref);
  if (self->retry_id == 0)
    self->retry_id = g_timeout_add (ACCEPT_RETRY_MS, retry_accept, self);
}

/* Out of descriptors: give up the spare one to take the waiting connection
 * off the queue and close it, so that the socket does not stay readable
 * (and the loop spinning) until a descriptor is free. */
static gboolean
refuse_without_descriptor (PrdEioListener *self, int listen_fd)
{
  int fd;

  if (self->reserve_fd < 0)
    return FALSE;
  close (self->reserve_fd);
  fd = accept4 (listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (fd >= 0)
    close (fd);
  self->reserve_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  log_refusal (self, "a client", "the hub is out of file descriptors");
  return fd >= 0;
}

static gboolean
on_incoming (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  PrdEioListener *self = user_data;
  int listen_fd = g_socket_get_fd (socket);

  for (guint i = 0; i < ACCEPT_BATCH && self->socket != NULL; i++)
    {
      int fd = accept4 (listen_fd, NULL, NULL, SOCK_CLOEXEC);

      if (fd >= 0)
        {
          accept_fd (self, fd);
          continue;
        }
      switch (errno)
        {
          case EINTR:
            continue;
          case EAGAIN:
#if EAGAIN != EWOULDBLOCK
          case EWOULDBLOCK:
#endif
            return G_SOURCE_CONTINUE;
          case EMFILE:
          case ENFILE:
            if (refuse_without_descriptor (self, listen_fd))
              continue;
            pause_accepting (self);
            return G_SOURCE_REMOVE;
          /* A connection that failed while waiting (accept(2): Linux
           * reports its network error here); take the next one. */
          case ECONNABORTED:
          case EPROTO:
          case EPERM:
          case ENETDOWN:
          case ENOPROTOOPT:
          case EHOSTDOWN:
          case ENONET:
          case EHOSTUNREACH:
          case EOPNOTSUPP:
          case ENETUNREACH:
            continue;
          default:
            {
              int saved_errno = errno;

              g_warning ("Cannot accept connections: %s; retrying", g_strerror (saved_errno));
              pause_accepting (self);
              return G_SOURCE_REMOVE;
            }
        }
    }
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------ */
/* Timeouts                                                           */

static gboolean
sweep (gpointer user_data)
{
  PrdEioListener *self = user_data;
  g_autoptr (GPtrArray) expired = g_ptr_array_new ();
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, self->conns);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      Conn *conn = key;

      if (conn->deadline != 0 && now >= conn->deadline)
        g_ptr_array_add (expired, conn);
    }

  /* Nothing below closes a connection other than the one at hand. */
  for (guint i = 0; i < expired->len; i++)
    {
      Conn *conn = g_ptr_array_index (expired, i);

      switch (conn->state)
        {
          case CONN_HANDSHAKE:
            g_debug ("TLS handshake with %s timed out", conn->address);
            conn->deadline = 0;
            g_cancellable_cancel (conn->cancellable); /* on_handshake_done() closes */
            break;
          case CONN_REQUEST:
          case CONN_IDLE:
            /* libsoup reads the end of stream and closes the connection. */
            g_debug ("Closing a connection from %s: %s", conn->address,
                     conn->state == CONN_IDLE ? "idle for idle-timeout"
                                              : "no complete request within request-timeout");
            conn_set_state (conn, CONN_CLOSING, 0);
            conn->deadline = now + CLOSE_GRACE_US;
            conn_shutdown (conn);
            break;
          case CONN_CLOSING:
            g_warning ("A connection from %s was not closed after it was shut down; closing it",
                       conn->address);
            conn_close_now (self, conn);
            break;
          case CONN_REFUSING:
            conn_close_now (self, conn);
            break;
          case CONN_BUSY:
          case CONN_UPGRADED:
          default:
            g_assert_not_reached ();
        }
    }
  return G_SOURCE_CONTINUE;
}

static void
schedule_sweep (PrdEioListener *self)
{
  guint period = CLAMP (MIN (self->idle_timeout, self->request_timeout) / 4, 25, 1000);

  g_clear_handle_id (&self->sweep_id, g_source_remove);
  /* Whole seconds (the defaults) let GLib batch the wakeups. */
  if (period == 1000)
    self->sweep_id = g_timeout_add_seconds (1, sweep, self);
  else
    self->sweep_id = g_timeout_add (period, sweep, self);
  g_source_set_name_by_id (self->sweep_id, "[prd-eio] connection timeouts");
}

/* ------------------------------------------------------------------ */
/* Listening                                                          */

static guint
compute_max_connections (PrdEioListener *self)
{
  struct rlimit limit;

  if (self->max_connections != 0)
    return self->max_connections;
  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
      limit.rlim_cur < PRD_EIO_LISTENER_DEFAULT_MAX_CONNECTIONS + PRD_EIO_LISTENER_FD_RESERVE)
    {
      /* A small limit keeps at least half of it for connections. */
      if (limit.rlim_cur > 2 * PRD_EIO_LISTENER_FD_RESERVE)
        return (guint) limit.rlim_cur - PRD_EIO_LISTENER_FD_RESERVE;
      return MAX ((guint) limit.rlim_cur / 2, 1);
    }
  return PRD_EIO_LISTENER_DEFAULT_MAX_CONNECTIONS;
}

static gboolean
parse_exempt (PrdEioListener *self, GError **error)
{
  g_ptr_array_set_size (self->exempt, 0);
  for (guint i = 0; self->exempt_strv != NULL && self->exempt_strv[i] != NULL; i++)
    {
      GInetAddressMask *mask = g_inet_address_mask_new_from_string (self->exempt_strv[i], NULL);

      if (mask == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "\"%s\" is not an IP address or ADDRESS/LENGTH", self->exempt_strv[i]);
          return FALSE;
        }
      g_ptr_array_add (self->exempt, mask);
    }
  return TRUE;
}

/* Gives libsoup a listener that never accepts; see the top of the file. */
static gboolean
register_with_soup (PrdEioListener *self, SoupServerListenOptions options, GError **error)
{
  g_autoptr (GSocket) twin = NULL;
  GSList *uris;
  int fd;

  fd = fcntl (g_socket_get_fd (self->socket), F_DUPFD_CLOEXEC, 3);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "%s",
                   g_strerror (saved_errno));
      return FALSE;
    }
  twin = g_socket_new_from_fd (fd, error);
  if (twin == NULL)
    {
      close (fd);
      return FALSE;
    }
  if (!soup_server_listen_socket (self->server, twin, options, error))
    return FALSE;
  /* libsoup's listener remembers its address on first use: ask before the
   * socket is closed. */
  uris = soup_server_get_uris (self->server);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  g_socket_close (twin, NULL);
  return TRUE;
}

static guint
kernel_somaxconn (void)
{
  g_autofree char *text = NULL;
  guint64 value;

  if (g_file_get_contents ("/proc/sys/net/core/somaxconn", &text, NULL, NULL) &&
      g_ascii_string_to_unsigned (g_strstrip (text), 10, 1, G_MAXUINT, &value, NULL))
    return (guint) value;
  return 0;
}

/**
 * prd_eio_listener_listen:
 * @address: where to listen (port 0: any free port)
 * @options: 0, or %SOUP_SERVER_LISTEN_HTTPS to serve TLS with the server's
 *   #SoupServer:tls-certificate
 *
 * Listens on @address and feeds the server every connection accepted there,
 * within the listener's limits. Call once.
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean
prd_eio_listener_listen (PrdEioListener *self,
                         GSocketAddress *address,
                         SoupServerListenOptions options,
                         GError **error)
{
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GTlsCertificate) certificate = NULL;
  GSocketFamily family;
  guint somaxconn;

  g_return_val_if_fail (PRD_IS_EIO_LISTENER (self), FALSE);
  g_return_val_if_fail (G_IS_INET_SOCKET_ADDRESS (address), FALSE);
  g_return_val_if_fail ((options & ~SOUP_SERVER_LISTEN_HTTPS) == 0, FALSE);
  g_return_val_if_fail (self->socket == NULL, FALSE);

  if (options & SOUP_SERVER_LISTEN_HTTPS)
    {
      g_object_get (self->server, "tls-certificate", &certificate, NULL);
      if (certificate == NULL)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "HTTPS needs the server's tls-certificate");
          return FALSE;
        }
      if (!g_tls_backend_supports_tls (g_tls_backend_get_default ()))
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                               "TLS is not available (is glib-networking installed?)");
          return FALSE;
        }
    }
  if (!parse_exempt (self, error))
    return FALSE;

  family = g_socket_address_get_family (address);
  socket = g_socket_new (family, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return FALSE;
  if (family == G_SOCKET_FAMILY_IPV6)
    g_socket_set_option (socket, IPPROTO_IPV6, IPV6_V6ONLY, TRUE, NULL);
  g_socket_set_blocking (socket, FALSE);
  if (!g_socket_bind (socket, address, TRUE, error))
    return FALSE;
  g_socket_set_listen_backlog (socket, (int) self->backlog);
  if (!g_socket_listen (socket, error))
    return FALSE;

  self->socket = g_steal_pointer (&socket);
  if (!register_with_soup (self, options, error))
    {
      g_clear_object (&self->socket);
      return FALSE;
    }
  g_set_object (&self->certificate, certificate);
  self->effective_max = compute_max_connections (self);
  self->reserve_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  watch_socket (self);
  schedule_sweep (self);

  somaxconn = kernel_somaxconn ();
  g_debug ("Listening with a backlog of %u%s, at most %u connections (%u per address), "
           "request-timeout %u ms, idle-timeout %u ms",
           somaxconn != 0 ? MIN (self->backlog, somaxconn) : self->backlog,
           somaxconn != 0 && somaxconn < self->backlog ? " (net.core.somaxconn)" : "",
           self->effective_max, self->max_per_address, self->request_timeout, self->idle_timeout);
  return TRUE;
}

/**
 * prd_eio_listener_close:
 *
 * Stops accepting and closes the listening socket. Connections already
 * accepted stay with the server (soup_server_disconnect() closes them).
 */
void
prd_eio_listener_close (PrdEioListener *self)
{
  g_return_if_fail (PRD_IS_EIO_LISTENER (self));

  if (self->accept_source != NULL)
    {
      g_source_destroy (self->accept_source);
      g_clear_pointer (&self->accept_source, g_source_unref);
    }
  g_clear_handle_id (&self->retry_id, g_source_remove);
  if (self->socket != NULL)
    g_socket_close (self->socket, NULL);
  g_clear_object (&self->socket);
  if (self->reserve_fd >= 0)
    close (self->reserve_fd);
  self->reserve_fd = -1;
}

/**
 * prd_eio_listener_get_n_connections:
 *
 * Returns: the connections open now (accepted and not yet closed)
 */
guint
prd_eio_listener_get_n_connections (PrdEioListener *self)
{
  g_return_val_if_fail (PRD_IS_EIO_LISTENER (self), 0);

  return g_hash_table_size (self->conns);
}

/**
 * prd_eio_listener_get_max_connections:
 *
 * Returns: the limit in force (max-connections, or what "automatic"
 *   worked out to); 0 before prd_eio_listener_listen()
 */
guint
prd_eio_listener_get_max_connections (PrdEioListener *self)
{
  g_return_val_if_fail (PRD_IS_EIO_LISTENER (self), 0);

  return self->effective_max;
}

/* ------------------------------------------------------------------ */
/* GObject                                                            */

PrdEioListener *
prd_eio_listener_new (SoupServer *server)
{
  g_return_val_if_fail (SOUP_IS_SERVER (server), NULL);

  return g_object_new (PRD_TYPE_EIO_LISTENER, "server", server, NULL);
}

static void
prd_eio_listener_constructed (GObject *object)
{
  PrdEioListener *self = PRD_EIO_LISTENER (object);

  G_OBJECT_CLASS (prd_eio_listener_parent_class)->constructed (object);

  g_assert (self->server != NULL);
  g_signal_connect_object (self->server, "request-started", G_CALLBACK (on_request_started), self,
                           0);
  g_signal_connect_object (self->server, "request-finished", G_CALLBACK (on_request_done), self, 0);
  g_signal_connect_object (self->server, "request-aborted", G_CALLBACK (on_request_done), self, 0);
}

static void
prd_eio_listener_dispose (GObject *object)
{
  PrdEioListener *self = PRD_EIO_LISTENER (object);
  GHashTableIter iter;
  gpointer key;

  prd_eio_listener_close (self);
  g_clear_handle_id (&self->sweep_id, g_source_remove);
  if (self->server != NULL)
    g_signal_handlers_disconnect_by_data (self->server, self);

  /* The connections live on with libsoup, unguarded. A TLS handshake under
   * way finishes into on_handshake_done(), which closes it. */
  g_hash_table_iter_init (&iter, self->conns);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      Conn *conn = key;

      conn->listener = NULL;
      if (conn->state == CONN_HANDSHAKE)
        g_cancellable_cancel (conn->cancellable);
      else
        conn_free (conn);
    }
  g_hash_table_remove_all (self->conns);
  g_hash_table_remove_all (self->per_address);
  g_clear_object (&self->certificate);
  g_clear_object (&self->server);

  G_OBJECT_CLASS (prd_eio_listener_parent_class)->dispose (object);
}

static void
prd_eio_listener_finalize (GObject *object)
{
  PrdEioListener *self = PRD_EIO_LISTENER (object);

  g_clear_pointer (&self->conns, g_hash_table_unref);
  g_clear_pointer (&self->per_address, g_hash_table_unref);
  g_clear_pointer (&self->exempt, g_ptr_array_unref);
  g_strfreev (self->exempt_strv);

  G_OBJECT_CLASS (prd_eio_listener_parent_class)->finalize (object);
}

static void
prd_eio_listener_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PrdEioListener *self = PRD_EIO_LISTENER (object);

  switch (prop_id)
    {
      case PROP_SERVER:
        g_value_set_object (value, self->server);
        break;
      case PROP_LISTEN_BACKLOG:
        g_value_set_uint (value, self->backlog);
        break;
      case PROP_IDLE_TIMEOUT:
        g_value_set_uint (value, self->idle_timeout);
        break;
      case PROP_REQUEST_TIMEOUT:
        g_value_set_uint (value, self->request_timeout);
        break;
      case PROP_MAX_CONNECTIONS:
        g_value_set_uint (value, self->max_connections);
        break;
      case PROP_MAX_CONNECTIONS_PER_ADDRESS:
        g_value_set_uint (value, self->max_per_address);
        break;
      case PROP_PER_ADDRESS_EXEMPT:
        g_value_set_boxed (value, self->exempt_strv);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
set_uint (PrdEioListener *self, guint *field, const GValue *value, GParamSpec *pspec)
{
  if (*field == g_value_get_uint (value))
    return;
  *field = g_value_get_uint (value);
  g_object_notify_by_pspec (G_OBJECT (self), pspec);
}

static void
prd_eio_listener_set_property (GObject *object,
                               guint prop_id,
                               const GValue *value,
                               GParamSpec *pspec)
{
  PrdEioListener *self = PRD_EIO_LISTENER (object);

  switch (prop_id)
    {
      case PROP_SERVER:
        self->server = g_value_dup_object (value);
        break;
      case PROP_LISTEN_BACKLOG:
        set_uint (self, &self->backlog, value, pspec);
        break;
      case PROP_IDLE_TIMEOUT:
        set_uint (self, &self->idle_timeout, value, pspec);
        if (self->sweep_id != 0)
          schedule_sweep (self);
        break;
      case PROP_REQUEST_TIMEOUT:
        set_uint (self, &self->request_timeout, value, pspec);
        if (self->sweep_id != 0)
          schedule_sweep (self);
        break;
      case PROP_MAX_CONNECTIONS:
        set_uint (self, &self->max_connections, value, pspec);
        if (self->socket != NULL)
          self->effective_max = compute_max_connections (self);
        break;
      case PROP_MAX_CONNECTIONS_PER_ADDRESS:
        set_uint (self, &self->max_per_address, value, pspec);
        break;
      case PROP_PER_ADDRESS_EXEMPT:
        g_strfreev (self->exempt_strv);
        self->exempt_strv = g_value_dup_boxed (value);
        if (self->socket != NULL && !parse_exempt (self, NULL))
          g_warning ("per-address-exempt: an entry is not an address or mask; ignored");
        g_object_notify_by_pspec (object, pspec);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
prd_eio_listener_class_init (PrdEioListenerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  conn_quark = g_quark_from_static_string ("prd-eio-listener-conn");

  object_class->constructed = prd_eio_listener_constructed;
  object_class->dispose = prd_eio_listener_dispose;
  object_class->finalize = prd_eio_listener_finalize;
  object_class->get_property = prd_eio_listener_get_property;
  object_class->set_property = prd_eio_listener_set_property;

  properties[PROP_SERVER] =
      g_param_spec_object ("server", NULL, NULL, SOUP_TYPE_SERVER,
                           G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * PrdEioListener:listen-backlog:
   *
   * Connections the kernel queues before they are accepted (it caps this
   * at net.core.somaxconn). Read when listening starts.
   */
  properties[PROP_LISTEN_BACKLOG] =
      g_param_spec_uint ("listen-backlog", NULL, NULL, 1, 65535, PRD_EIO_LISTENER_DEFAULT_BACKLOG,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * PrdEioListener:idle-timeout:
   *
   * ms a connection may sit between two requests before it is closed.
   */
  properties[PROP_IDLE_TIMEOUT] = g_param_spec_uint (
      "idle-timeout", NULL, NULL, 1, G_MAXUINT, PRD_EIO_LISTENER_DEFAULT_IDLE_TIMEOUT,
      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * PrdEioListener:request-timeout:
   *
   * ms from a connection's accept (TLS handshake included), or from the
   * first byte of a later request, to the end of that request.
   */
  properties[PROP_REQUEST_TIMEOUT] = g_param_spec_uint (
      "request-timeout", NULL, NULL, 1, G_MAXUINT, PRD_EIO_LISTENER_DEFAULT_REQUEST_TIMEOUT,
      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * PrdEioListener:max-connections:
   *
   * Connections open at once; 0: %PRD_EIO_LISTENER_DEFAULT_MAX_CONNECTIONS,
   * or the open-file limit less %PRD_EIO_LISTENER_FD_RESERVE when lower.
   */
  properties[PROP_MAX_CONNECTIONS] =
      g_param_spec_uint ("max-connections", NULL, NULL, 0, G_MAXUINT, 0,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * PrdEioListener:max-connections-per-address:
   *
   * Connections open at once from one IP address; 0: no limit.
   */
  properties[PROP_MAX_CONNECTIONS_PER_ADDRESS] =
      g_param_spec_uint ("max-connections-per-address", NULL, NULL, 0, G_MAXUINT,
                         PRD_EIO_LISTENER_DEFAULT_MAX_PER_ADDRESS,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * PrdEioListener:per-address-exempt:
   *
   * Addresses or masks (`ADDRESS/LENGTH`) exempt from
   * #PrdEioListener:max-connections-per-address; default loopback.
   */
  properties[PROP_PER_ADDRESS_EXEMPT] =
      g_param_spec_boxed ("per-address-exempt", NULL, NULL, G_TYPE_STRV,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
prd_eio_listener_init (PrdEioListener *self)
{
  static const char *const exempt[] = { PRD_EIO_LISTENER_DEFAULT_EXEMPT, NULL };

  self->conns = g_hash_table_new (NULL, NULL);
  self->per_address = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->exempt = g_ptr_array_new_with_free_func (g_object_unref);
  self->exempt_strv = g_strdupv ((char **) exempt);
  self->reserve_fd = -1;
  self->backlog = PRD_EIO_LISTENER_DEFAULT_BACKLOG;
  self->idle_timeout = PRD_EIO_LISTENER_DEFAULT_IDLE_TIMEOUT;
  self->request_timeout = PRD_EIO_LISTENER_DEFAULT_REQUEST_TIMEOUT;
  self->max_per_address = PRD_EIO_LISTENER_DEFAULT_MAX_PER_ADDRESS;
}
