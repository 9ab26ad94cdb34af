/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdEioServer: routes HTTP requests at its path to Engine.IO sessions.
 *
 * Two libsoup handlers share the path:
 * - an early handler (request headers read, body not yet) that refuses a
 *   body larger than max-payload (413 at once, the connection closed: see
 *   prd-eio-refusal.c), detects overlapping POSTs, and collects POST bodies
 *   itself, so that libsoup never keeps a request body in memory;
 * - the plain handler, which validates every request in engine.io's order
 *   (so each mistake gets its error code), answers polling handshakes,
 *   hands polling requests to their session, and completes WebSocket
 *   handshakes itself (accept_websocket()): no libsoup WebSocket handler is
 *   registered, see there for why.
 */
#define G_LOG_DOMAIN "prd-eio"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <json-glib/json-glib.h>

#include "prd-json.h"
#include "prd-log.h"
#include "prd-metrics.h"
#include "prd-eio-metered-stream.h"
#include "prd-eio-origin.h"
#include "prd-eio-private.h"
#include "prd-eio-refusal.h"

#include "prd-eio-server.h"

#define BODY_KEY "prd-eio-body"

struct _PrdEioServer
{
  GObject parent_instance;

  guint ping_interval;
  guint ping_timeout;
  guint upgrade_timeout;
  guint64 max_payload;
  guint64 max_write_buffer;
  char **cors_origins; /* (owned) (nullable) */
  gboolean websocket_compression;
  guint max_sessions;             /* 0: no limit */
  guint max_sessions_per_address; /* 0: no limit */
  GHashTable *per_address;        /* (owned) remote address → AddressSessions (owned) */
  GQueue unused; /* (element-type PrdEioSocket) (unowned): sessions nobody has used, oldest first */

  SoupServer *soup_server; /* (owned) (nullable) */
  char *path;              /* (owned) (nullable): without the trailing slash */

  GHashTable *sockets; /* (owned): id → PrdEioSocket (owned) */

  guint io_threads;
  PrdEioIoPool *io_pool; /* (owned) (nullable): made at the first WebSocket */
};

/* How long a stopping server lets its I/O threads write what their
 * connections still hold. */
#define IO_POOL_FLUSH_MS 1000

G_DEFINE_FINAL_TYPE (PrdEioServer, prd_eio_server, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_PING_INTERVAL,
  PROP_PING_TIMEOUT,
  PROP_UPGRADE_TIMEOUT,
  PROP_MAX_PAYLOAD,
  PROP_MAX_WRITE_BUFFER,
  PROP_CORS_ORIGINS,
  PROP_MAX_SESSIONS,
  PROP_MAX_SESSIONS_PER_ADDRESS,
  PROP_WEBSOCKET_COMPRESSION,
  PROP_IO_THREADS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  SIGNAL_CONNECTION,
  SIGNAL_UPGRADED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* (unowned): the registry's, set in class_init */
static PrdMetric *sessions_evicted;

/* The sessions of one remote address. */
typedef struct
{
  guint n;       /* all of them, used or not, until each is finished */
  GQueue unused; /* (element-type PrdEioSocket) (unowned): those nobody has used, oldest first */
} AddressSessions;

typedef enum
{
  EIO_ERROR_UNKNOWN_TRANSPORT = 0,
  EIO_ERROR_UNKNOWN_SID = 1,
  EIO_ERROR_BAD_HANDSHAKE_METHOD = 2,
  EIO_ERROR_BAD_REQUEST = 3,
  EIO_ERROR_FORBIDDEN = 4,
  EIO_ERROR_UNSUPPORTED_PROTOCOL_VERSION = 5,
} EioErrorCode;

static const char *const eio_error_bodies[] = {
  "{\"code\":0,\"message\":\"Transport unknown\"}",
  "{\"code\":1,\"message\":\"Session ID unknown\"}",
  "{\"code\":2,\"message\":\"Bad handshake method\"}",
  "{\"code\":3,\"message\":\"Bad request\"}",
  "{\"code\":4,\"message\":\"Forbidden\"}",
  "{\"code\":5,\"message\":\"Unsupported protocol version\"}",
};

static void
respond_error (SoupServerMessage *msg, EioErrorCode code)
{
  const char *body = eio_error_bodies[code];

  /* engine.io answers Forbidden with 403, every other error with 400. */
  soup_server_message_set_status (
      msg, code == EIO_ERROR_FORBIDDEN ? SOUP_STATUS_FORBIDDEN : SOUP_STATUS_BAD_REQUEST, NULL);
  /* With a content type, libsoup appends: this body alone. */
  soup_message_body_truncate (soup_server_message_get_response_body (msg));
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, body,
                                    strlen (body));
}

/* ------------------------------------------------------------------ */

static char *
generate_sid (GError **error)
{
  guint8 bytes[18]; /* 144 bits; 24 base64url characters without padding */
  gsize got = 0;
  char *sid;

  while (got < sizeof bytes)
    {
      ssize_t r = getrandom (bytes + got, sizeof bytes - got, 0);

      if (r < 0)
        {
          int saved_errno = errno;

          if (saved_errno == EINTR)
            continue;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "getrandom: %s",
                       g_strerror (saved_errno));
          return NULL;
        }
      got += r;
    }

  sid = g_base64_encode (bytes, sizeof bytes);
  for (char *p = sid; *p != '\0'; p++)
    {
      if (*p == '+')
        *p = '-';
      else if (*p == '/')
        *p = '_';
    }
  return sid;
}

static PrdEioConfig
get_config (PrdEioServer *self)
{
  PrdEioConfig config = {
    .ping_interval = self->ping_interval,
    .ping_timeout = self->ping_timeout,
    .upgrade_timeout = self->upgrade_timeout,
    .max_payload = self->max_payload,
    .max_write_buffer = self->max_write_buffer,
  };
  return config;
}

static char *
build_open_packet (PrdEioServer *self, const char *sid, gboolean offer_websocket)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *json = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "sid");
  json_builder_add_string_value (builder, sid);
  json_builder_set_member_name (builder, "upgrades");
  json_builder_begin_array (builder);
  if (offer_websocket)
    json_builder_add_string_value (builder, "websocket");
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "pingInterval");
  json_builder_add_int_value (builder, self->ping_interval);
  json_builder_set_member_name (builder, "pingTimeout");
  json_builder_add_int_value (builder, self->ping_timeout);
  json_builder_set_member_name (builder, "maxPayload");
  json_builder_add_int_value (builder, (gint64) MIN (self->max_payload, (guint64) G_MAXINT64));
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json = prd_json_to_string (root);
  return g_strconcat ("0", json, NULL);
}

static AddressSessions *
lookup_address (PrdEioServer *self, const char *address)
{
  return address != NULL ? g_hash_table_lookup (self->per_address, address) : NULL;
}

/* Takes @socket off the lists of unused sessions: a request named it, or
 * it is finished. */
static void
forget_unused (PrdEioServer *self, PrdEioSocket *socket)
{
  AddressSessions *sessions;

  if (prd_eio_socket_is_used (socket))
    return;
  prd_eio_socket_set_used (socket);
  sessions = lookup_address (self, prd_eio_socket_get_remote_address (socket));
  g_queue_unlink (&self->unused, prd_eio_socket_get_unused_link (socket, FALSE));
  if (sessions != NULL)
    g_queue_unlink (&sessions->unused, prd_eio_socket_get_unused_link (socket, TRUE));
}

static void
on_socket_finished (PrdEioSocket *socket, gpointer user_data)
{
  PrdEioServer *self = user_data;
  const char *address = prd_eio_socket_get_remote_address (socket);
  AddressSessions *sessions = lookup_address (self, address);

  forget_unused (self, socket);
  if (sessions != NULL && --sessions->n == 0)
    g_hash_table_remove (self->per_address, address);
  g_hash_table_remove (self->sockets, prd_eio_socket_get_id (socket));
}

static void
on_socket_upgraded (PrdEioSocket *socket, gpointer user_data)
{
  g_signal_emit (user_data, signals[SIGNAL_UPGRADED], 0, socket);
}

static const PrdEioSocketOwner socket_owner = {
  .upgraded = on_socket_upgraded,
  .finished = on_socket_finished,
};

/* Closes the oldest session of @unused, if there is one. */
static gboolean
evict_oldest (PrdEioServer *self, GQueue *unused, const char *limit)
{
  static PrdLogThrottle evictions =
      PRD_LOG_THROTTLE_INIT (G_LOG_LEVEL_INFO, "evicted: session", "evictions");
  PrdEioSocket *socket = g_queue_peek_head (unused);

  if (socket == NULL)
    return FALSE;
  prd_metric_inc (sessions_evicted, limit);
  if (prd_log_throttle_admit (&evictions))
    g_info ("evicted: session address=%s limit=%s (unused since its handshake)",
            prd_eio_socket_get_remote_address (socket), limit);
  /* Its "finished" comes before this returns: the socket is off the lists
   * and no longer counted. */
  prd_eio_socket_abort (socket, "forced close");
  return TRUE;
}

static guint
count_address (PrdEioServer *self, const char *address)
{
  AddressSessions *sessions = lookup_address (self, address);

  return sessions != NULL ? sessions->n : 0;
}

/* Every Engine.IO session counts, whether or not it has joined a Socket.IO
 * namespace yet (one that never does is closed after the connect timeout;
 * one whose client vanishes, after pingInterval + pingTimeout). A new
 * session over a limit is refused with 503 before it is created, unless a
 * session nobody has used can make room for it.
 *
 * A session no request has named since its handshake is one no client
 * holds: a page elsewhere can open sessions by the thousand with no-cors
 * fetches that browsers send to a plain-HTTP hub without Origin or
 * Sec-Fetch-* (fetched_by_script() cannot tell them from Node's
 * socket.io-client), but it cannot read the answers, so it never learns
 * their ids. Left alone, they would hold the reader's own address at its
 * limit until connect-timeout, as long as the page goes on. So the oldest
 * such session of the address gives way; a client that has polled, posted
 * or upgraded once is never closed this way, and when every session of the
 * address has been used, the handshake is refused as before. A real
 * client's session is unused only for the round trip between its handshake
 * and its first request, and is the last of the unused ones to go.
 *
 * For max-sessions, the oldest unused session of any address gives way
 * rather than one of the address with the most sessions: age is what
 * tells an abandoned session from a client on its way (one that is seconds
 * old was abandoned; one a few milliseconds old may be about to poll), and
 * the address with the most sessions may be an office behind one NAT whose
 * only unused session is a colleague's handshake in flight, while an
 * orphan that has waited 40 s elsewhere would stay. The oldest of all is
 * also found without a walk over the addresses. */
static gboolean
check_session_limits (PrdEioServer *self, SoupServerMessage *msg)
{
  const char *address = soup_server_message_get_remote_host (msg);
  const char *why = NULL;
  g_autofree char *body = NULL;
  guint n;

  if (self->max_sessions_per_address > 0)
    while (count_address (self, address) >= self->max_sessions_per_address &&
           evict_oldest (self, &lookup_address (self, address)->unused, "max-sessions-per-address"))
      ;
  if (self->max_sessions > 0)
    while (g_hash_table_size (self->sockets) >= self->max_sessions &&
           evict_oldest (self, &self->unused, "max-sessions"))
      ;

  n = count_address (self, address);
  if (self->max_sessions > 0 && g_hash_table_size (self->sockets) >= self->max_sessions)
    why = "Too many sessions (max-sessions)";
  else if (self->max_sessions_per_address > 0 && n >= self->max_sessions_per_address)
    why = "Too many sessions from this address (max-sessions-per-address)";
  if (why == NULL)
    return TRUE;
  g_debug ("Refused an Engine.IO session from %s: %s", address, why);
  body = g_strdup_printf ("{\"code\":3,\"message\":\"%s\"}", why);
  soup_server_message_set_status (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, body, strlen (body));
  return FALSE;
}

/* @used: a session opened over WebSocket is used from the start (its
 * client holds the connection and reads the open packet); a polling one
 * waits on the lists of unused sessions for its first request. */
static PrdEioSocket *
create_socket (PrdEioServer *self, SoupServerMessage *msg, gboolean used, GError **error)
{
  g_autofree char *sid = NULL;
  PrdEioConfig config = get_config (self);
  AddressSessions *sessions = NULL;
  const char *address;
  PrdEioSocket *socket;

  do
    {
      g_clear_pointer (&sid, g_free);
      sid = generate_sid (error);
      if (sid == NULL)
        return NULL;
    }
  while (g_hash_table_contains (self->sockets, sid));

  socket = prd_eio_socket_new_internal (sid, soup_server_message_get_remote_host (msg), &config);
  prd_eio_socket_set_owner (socket, &socket_owner, self);
  g_hash_table_insert (self->sockets, g_strdup (sid), socket);
  address = prd_eio_socket_get_remote_address (socket);
  if (address != NULL)
    {
      sessions = g_hash_table_lookup (self->per_address, address);
      if (sessions == NULL)
        {
          sessions = g_new0 (AddressSessions, 1);
          g_queue_init (&sessions->unused);
          g_hash_table_insert (self->per_address, g_strdup (address), sessions);
        }
      sessions->n++;
    }
  if (used)
    {
      prd_eio_socket_set_used (socket);
    }
  else
    {
      g_queue_push_tail_link (&self->unused, prd_eio_socket_get_unused_link (socket, FALSE));
      if (sessions != NULL)
        g_queue_push_tail_link (&sessions->unused, prd_eio_socket_get_unused_link (socket, TRUE));
    }
  return socket;
}

/* ------------------------------------------------------------------ */
/* Handlers                                                           */

static gboolean
is_websocket_request (SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);

  return soup_message_headers_header_contains (headers, "Upgrade", "websocket");
}

static gboolean
path_matches (PrdEioServer *self, const char *path)
{
  gsize len = strlen (self->path);

  return strncmp (path, self->path, len) == 0 &&
         (path[len] == '\0' || g_str_equal (path + len, "/"));
}

/* libsoup closes the connection after answering a request that carried
 * "Connection: close" but does not say so in the response; Node's HTTP agent
 * (node-fetch, the Socket.IO client in Node) then reuses the dead socket. */
static void
echo_connection_close (SoupServerMessage *msg)
{
  if (soup_message_headers_header_contains (soup_server_message_get_request_headers (msg),
                                            "Connection", "close"))
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection",
                                  "close");
}

/* Object data BODY_KEY of every request below the path. */
typedef struct
{
  guint64 received;
  GByteArray *body; /* (owned) (nullable): a polling POST's body */
} Upload;

static void
upload_free (Upload *upload)
{
  g_clear_pointer (&upload->body, g_byte_array_unref);
  g_free (upload);
}

/* As engine.io 6, the status alone; the session lives on. */
static void
refuse_too_large (SoupServerMessage *msg)
{
  soup_server_message_set_status (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, NULL);
  /* No body, as engine.io (and not one a handler of the server put in
   * place before the head was read). */
  soup_server_message_set_response (msg, NULL, SOUP_MEMORY_STATIC, NULL, 0);
  prd_eio_refuse_now (msg);
}

static void
on_got_chunk (SoupServerMessage *msg, GBytes *chunk, gpointer user_data)
{
  PrdEioServer *self = user_data;
  Upload *upload = g_object_get_data (G_OBJECT (msg), BODY_KEY);
  gsize len;
  const guint8 *data = g_bytes_get_data (chunk, &len);

  upload->received += len;
  /* Only a chunked body gets here with too much: a Content-Length above
   * max-payload was refused with the headers. */
  if (upload->received > self->max_payload)
    {
      refuse_too_large (msg);
      return;
    }
  if (upload->body != NULL)
    g_byte_array_append (upload->body, data, len);
}

static void
early_handler (SoupServer *server,
               SoupServerMessage *msg,
               const char *path,
               GHashTable *query,
               gpointer user_data)
{
  PrdEioServer *self = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  gboolean post = g_str_equal (soup_server_message_get_method (msg), SOUP_METHOD_POST);
  Upload *upload;
  const char *sid;
  PrdEioSocket *socket;

  /* The body's size is decided from the headers, before any of it is read;
   * a chunked body is counted as it arrives (on_got_chunk()). Every request
   * below the path, WebSocket handshakes included (they have no body). */
  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH &&
      (guint64) MAX (soup_message_headers_get_content_length (headers), 0) > self->max_payload)
    {
      refuse_too_large (msg);
      return;
    }

  /* libsoup would otherwise keep a request body of any size in memory; the
   * only body the hub reads is a polling POST's, collected by on_got_chunk(). */
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  upload = g_new0 (Upload, 1);
  if (post && path_matches (self, path))
    upload->body = g_byte_array_new ();
  g_object_set_data_full (G_OBJECT (msg), BODY_KEY, upload, (GDestroyNotify) upload_free);
  g_signal_connect_object (msg, "got-chunk", G_CALLBACK (on_got_chunk), self, 0);

  if (is_websocket_request (msg) || !path_matches (self, path))
    return;
  echo_connection_close (msg);
  if (!post)
    return;

  sid = query != NULL ? g_hash_table_lookup (query, "sid") : NULL;
  socket = sid != NULL ? g_hash_table_lookup (self->sockets, sid) : NULL;
  if (socket != NULL && !prd_eio_socket_is_websocket (socket) &&
      !prd_eio_socket_begin_post (socket, msg))
    {
      /* "data request overlap" in engine.io; the session survives. */
      respond_error (msg, EIO_ERROR_BAD_REQUEST);
    }
}

static void
handle_handshake (PrdEioServer *self, SoupServerMessage *msg)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *open_packet = NULL;
  PrdEioSocket *socket;

  socket = create_socket (self, msg, FALSE, &error);
  if (socket == NULL)
    {
      g_warning ("Cannot create an Engine.IO session: %s", error->message);
      soup_server_message_set_status (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, NULL);
      return;
    }

  open_packet = build_open_packet (self, prd_eio_socket_get_id (socket), TRUE);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control",
                                "no-store");
  soup_server_message_set_response (msg, "text/plain; charset=UTF-8", SOUP_MEMORY_COPY, open_packet,
                                    strlen (open_packet));
  prd_eio_socket_start_polling (socket);
  g_signal_emit (self, signals[SIGNAL_CONNECTION], 0, socket);
}

static void
handle_post (PrdEioServer *self, PrdEioSocket *socket, SoupServerMessage *msg)
{
  Upload *upload = g_object_get_data (G_OBJECT (msg), BODY_KEY);
  const char *content_type;

  content_type =
      soup_message_headers_get_content_type (soup_server_message_get_request_headers (msg), NULL);
  if (content_type != NULL && g_ascii_strcasecmp (content_type, "application/octet-stream") == 0)
    {
      /* Binary POST bodies are an EIO=3 thing. */
      respond_error (msg, EIO_ERROR_BAD_REQUEST);
      return;
    }

  g_assert (upload != NULL && upload->body != NULL);
  /* Refused before the body was read (early_handler(), on_got_chunk()), but
   * max-payload may have changed since. */
  if (upload->body->len > self->max_payload)
    {
      soup_server_message_set_status (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, NULL);
      return;
    }

  prd_eio_socket_handle_post (socket, msg, (const char *) upload->body->data, upload->body->len);
}

static void websocket_opened (PrdEioServer *self, SoupServerMessage *msg, PrdEioWsLink *link);

#define EXTENSIONS_KEY "prd-eio-ws-extensions"

static void
free_extension_list (gpointer list)
{
  g_list_free_full (list, g_object_unref);
}

/* The 101 went out: the connection is a WebSocket now. */
static void
on_wrote_switching_protocols (SoupServerMessage *msg, gpointer user_data)
{
  PrdEioServer *self = user_data;
  g_autoptr (GIOStream) stream = NULL;
  g_autoptr (PrdEioWsLink) link = NULL;
  GList *extensions;

  if (soup_server_message_get_status (msg) != SOUP_STATUS_SWITCHING_PROTOCOLS)
    return;
  g_signal_handlers_disconnect_by_func (msg, on_wrote_switching_protocols, self);

  g_object_ref (msg);
  extensions = g_object_steal_data (G_OBJECT (msg), EXTENSIONS_KEY);
  stream = soup_server_message_steal_connection (msg);
  /* Noted by PrdEioListener: a TLS stream does not show its socket. */
  if (soup_server_message_get_remote_address (msg) != NULL)
    prd_eio_stream_set_socket (
        stream, g_object_get_data (G_OBJECT (soup_server_message_get_remote_address (msg)),
                                   PRD_EIO_SOCKET_KEY));
  if (self->io_pool == NULL)
    self->io_pool = prd_eio_io_pool_new (self->io_threads);
  link = prd_eio_ws_link_new (
      self->io_pool, stream, soup_server_message_get_uri (msg),
      soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Origin"),
      extensions, prd_eio_websocket_hard_limit (self->max_payload));

  websocket_opened (self, msg, link);
  g_object_unref (msg);
}

/*
 * The WebSocket handshake is done here rather than by a libsoup WebSocket
 * handler, for two reasons: the connection is the hub's own
 * (prd-eio-ws-conn.h), or libsoup's reading through a metered stream
 * (libsoup limits frames, not messages; see prd-eio-metered-stream.h), and
 * permessage-deflate is decided per PrdEioServer instead of for the whole
 * SoupServer.
 */
static void
accept_websocket (PrdEioServer *self, SoupServerMessage *msg)
{
  g_autoptr (GPtrArray) supported = g_ptr_array_new_with_free_func (g_type_class_unref);
  GList *accepted = NULL;

  if (self->websocket_compression)
    g_ptr_array_add (supported, g_type_class_ref (SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE));

  /* On failure this sets a 400 response itself, as an HTML page: engine.io's
   * JSON error instead, as every other refusal here. */
  if (!soup_websocket_server_process_handshake (msg, NULL, NULL, supported, &accepted))
    {
      if (soup_server_message_get_status (msg) == SOUP_STATUS_BAD_REQUEST)
        respond_error (msg, EIO_ERROR_BAD_REQUEST);
      return;
    }

  g_object_set_data_full (G_OBJECT (msg), EXTENSIONS_KEY, accepted, free_extension_list);
  g_signal_connect_object (msg, "wrote-informational", G_CALLBACK (on_wrote_switching_protocols),
                           self, 0);
}

/* Whether a browser sent @msg for a script (fetch, XMLHttpRequest,
 * WebSocket) rather than for an <img>, <script>, <iframe> or a navigation.
 * Those carry no Origin header, so the Origin rule lets them through; any
 * page (a PRD's markdown image, a page elsewhere on the web) could make a
 * reader's browser open Engine.IO sessions by the hundred and use up the
 * reader's per-address limit.
 *
 * Sec-Fetch-Dest alone does not tell: a page's fetch (…, {mode: 'no-cors'})
 * is `empty` too, and carries no Origin either. So a request that says how
 * a browser fetched it (Sec-Fetch-Mode) must be a CORS request, a
 * same-origin one or a WebSocket; and one a browser sent for a page of
 * another origin (Sec-Fetch-Site `cross-site` or `same-site`) must name
 * that origin (@origin), which the Origin rule has let through. Clients
 * outside a browser send no Sec-Fetch-* header and are not concerned. */
static gboolean
fetched_by_script (SoupServerMessage *msg, const char *origin)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *dest = soup_message_headers_get_one (headers, "Sec-Fetch-Dest");
  const char *mode = soup_message_headers_get_one (headers, "Sec-Fetch-Mode");
  const char *site = soup_message_headers_get_one (headers, "Sec-Fetch-Site");

  if (dest != NULL && g_ascii_strcasecmp (dest, "empty") != 0 &&
      g_ascii_strcasecmp (dest, "websocket") != 0)
    return FALSE;
  if (mode != NULL && g_ascii_strcasecmp (mode, "cors") != 0 &&
      g_ascii_strcasecmp (mode, "same-origin") != 0 && g_ascii_strcasecmp (mode, "websocket") != 0)
    return FALSE;
  if (site != NULL && origin == NULL &&
      (g_ascii_strcasecmp (site, "cross-site") == 0 || g_ascii_strcasecmp (site, "same-site") == 0))
    return FALSE;
  return TRUE;
}

static void
server_handler (SoupServer *server,
                SoupServerMessage *msg,
                const char *path,
                GHashTable *query,
                gpointer user_data)
{
  PrdEioServer *self = user_data;
  const char *method = soup_server_message_get_method (msg);
  const char *transport = NULL;
  const char *eio = NULL;
  const char *sid = NULL;
  const char *origin = NULL;
  gboolean websocket = is_websocket_request (msg);
  PrdEioSocket *socket = NULL;

  if (!path_matches (self, path))
    {
      soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
      return;
    }

  if (query != NULL)
    {
      transport = g_hash_table_lookup (query, "transport");
      eio = g_hash_table_lookup (query, "EIO");
      sid = g_hash_table_lookup (query, "sid");
    }

  if (!prd_eio_origin_allowed ((const char *const *) self->cors_origins, msg, &origin) ||
      !fetched_by_script (msg, origin))
    {
      respond_error (msg, EIO_ERROR_FORBIDDEN);
      return;
    }
  if (origin != NULL && !websocket)
    prd_eio_origin_add_cors_headers (msg, origin);

  if (g_str_equal (method, SOUP_METHOD_OPTIONS))
    {
      SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
      SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);
      const char *req_headers =
          soup_message_headers_get_one (req, "Access-Control-Request-Headers");

      soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
      soup_message_headers_replace (resp, "Access-Control-Allow-Methods", "GET,POST");
      soup_message_headers_replace (resp, "Access-Control-Allow-Headers",
                                    req_headers != NULL ? req_headers : "Content-Type");
      soup_message_headers_replace (resp, "Access-Control-Max-Age", "86400");
      return;
    }

  /* The checks in engine.io's order, so each mistake gets its code. */
  if (transport == NULL ||
      (!g_str_equal (transport, "polling") && !g_str_equal (transport, "websocket")))
    {
      respond_error (msg, EIO_ERROR_UNKNOWN_TRANSPORT);
      return;
    }

  if (sid != NULL)
    {
      socket = g_hash_table_lookup (self->sockets, sid);
      if (socket != NULL)
        {
          prd_eio_socket_check_heartbeat (socket);
          socket = g_hash_table_lookup (self->sockets, sid);
        }
      if (socket == NULL || prd_eio_socket_is_finished (socket))
        {
          respond_error (msg, EIO_ERROR_UNKNOWN_SID);
          return;
        }
      /* Its client knows its id: it is not one to close for a newer one. */
      forget_unused (self, socket);
      if (g_str_equal (transport, "polling") && prd_eio_socket_is_websocket (socket))
        {
          respond_error (msg, EIO_ERROR_BAD_REQUEST);
          return;
        }
    }
  else if (!g_str_equal (method, SOUP_METHOD_GET))
    {
      respond_error (msg, EIO_ERROR_BAD_HANDSHAKE_METHOD);
      return;
    }

  if (g_strcmp0 (eio, "4") != 0)
    {
      respond_error (msg, EIO_ERROR_UNSUPPORTED_PROTOCOL_VERSION);
      return;
    }

  if (g_str_equal (transport, "websocket"))
    {
      if (!websocket || !g_str_equal (method, SOUP_METHOD_GET))
        respond_error (msg, EIO_ERROR_BAD_REQUEST);
      else if (sid != NULL || check_session_limits (self, msg))
        accept_websocket (self, msg);
      return;
    }

  if (websocket)
    {
      respond_error (msg, EIO_ERROR_BAD_REQUEST);
      return;
    }

  if (socket == NULL)
    {
      if (check_session_limits (self, msg))
        handle_handshake (self, msg);
      return;
    }

  g_object_ref (socket);
  if (g_str_equal (method, SOUP_METHOD_GET))
    prd_eio_socket_handle_get (socket, msg);
  else if (g_str_equal (method, SOUP_METHOD_POST))
    handle_post (self, socket, msg);
  else
    respond_error (msg, EIO_ERROR_BAD_REQUEST);
  g_object_unref (socket);
}

static void
websocket_opened (PrdEioServer *self, SoupServerMessage *msg, PrdEioWsLink *link)
{
  GUri *uri = soup_server_message_get_uri (msg);
  g_autoptr (GHashTable) query = NULL;
  const char *sid = NULL;

  if (g_uri_get_query (uri) != NULL)
    query = g_uri_parse_params (g_uri_get_query (uri), -1, "&", G_URI_PARAMS_NONE, NULL);
  if (query != NULL)
    sid = g_hash_table_lookup (query, "sid");

  if (sid != NULL)
    {
      PrdEioSocket *socket = g_hash_table_lookup (self->sockets, sid);

      if (socket == NULL)
        {
          /* The session ended between the handshake check and now. */
          prd_eio_ws_link_close (link, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, FALSE, 0);
          return;
        }
      prd_eio_socket_offer_upgrade (socket, link);
    }
  else
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *open_packet = NULL;
      PrdEioSocket *socket = create_socket (self, msg, TRUE, &error);

      if (socket == NULL)
        {
          g_warning ("Cannot create an Engine.IO session: %s", error->message);
          prd_eio_ws_link_close (link, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, FALSE, 0);
          return;
        }
      open_packet = build_open_packet (self, prd_eio_socket_get_id (socket), FALSE);
      prd_eio_socket_start_websocket (socket, link, open_packet);
      g_signal_emit (self, signals[SIGNAL_CONNECTION], 0, socket);
    }
}

/* ------------------------------------------------------------------ */
/* GObject                                                            */

static void
detach (PrdEioServer *self)
{
  if (self->soup_server != NULL && self->path != NULL)
    soup_server_remove_handler (self->soup_server, self->path);
  g_clear_object (&self->soup_server);
  g_clear_pointer (&self->path, g_free);
}

static void
free_io_pool (PrdEioIoPool *pool)
{
  prd_eio_io_pool_free (pool, IO_POOL_FLUSH_MS);
}

static void
prd_eio_server_dispose (GObject *object)
{
  PrdEioServer *self = PRD_EIO_SERVER (object);

  detach (self);
  if (self->sockets != NULL)
    {
      GHashTableIter iter;
      gpointer value;

      prd_eio_server_close_all (self);
      g_hash_table_iter_init (&iter, self->sockets);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        prd_eio_socket_set_owner (value, NULL, NULL);
      /* The lists link the sockets themselves: let go of them first. */
      g_queue_init (&self->unused);
      g_hash_table_remove_all (self->per_address);
      /* Sockets still flushing are dropped now; nobody will answer them. */
      g_hash_table_remove_all (self->sockets);
    }
  g_clear_pointer (&self->io_pool, free_io_pool);

  G_OBJECT_CLASS (prd_eio_server_parent_class)->dispose (object);
}

static void
prd_eio_server_finalize (GObject *object)
{
  PrdEioServer *self = PRD_EIO_SERVER (object);

  g_clear_pointer (&self->sockets, g_hash_table_unref);
  g_clear_pointer (&self->per_address, g_hash_table_unref);
  g_strfreev (self->cors_origins);

  G_OBJECT_CLASS (prd_eio_server_parent_class)->finalize (object);
}

static void
prd_eio_server_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PrdEioServer *self = PRD_EIO_SERVER (object);

  switch (prop_id)
    {
      case PROP_PING_INTERVAL:
        g_value_set_uint (value, self->ping_interval);
        break;
      case PROP_PING_TIMEOUT:
        g_value_set_uint (value, self->ping_timeout);
        break;
      case PROP_UPGRADE_TIMEOUT:
        g_value_set_uint (value, self->upgrade_timeout);
        break;
      case PROP_MAX_PAYLOAD:
        g_value_set_uint64 (value, self->max_payload);
        break;
      case PROP_MAX_WRITE_BUFFER:
        g_value_set_uint64 (value, self->max_write_buffer);
        break;
      case PROP_CORS_ORIGINS:
        g_value_set_boxed (value, self->cors_origins);
        break;
      case PROP_WEBSOCKET_COMPRESSION:
        g_value_set_boolean (value, self->websocket_compression);
        break;
      case PROP_MAX_SESSIONS:
        g_value_set_uint (value, self->max_sessions);
        break;
      case PROP_MAX_SESSIONS_PER_ADDRESS:
        g_value_set_uint (value, self->max_sessions_per_address);
        break;
      case PROP_IO_THREADS:
        g_value_set_uint (value, self->io_threads);
        break;

      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
set_uint_prop (GObject *object, guint *field, const GValue *value, GParamSpec *pspec)
{
  if (*field != g_value_get_uint (value))
    {
      *field = g_value_get_uint (value);
      g_object_notify_by_pspec (object, pspec);
    }
}

static void
set_uint64_prop (GObject *object, guint64 *field, const GValue *value, GParamSpec *pspec)
{
  if (*field != g_value_get_uint64 (value))
    {
      *field = g_value_get_uint64 (value);
      g_object_notify_by_pspec (object, pspec);
    }
}

static void
prd_eio_server_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  PrdEioServer *self = PRD_EIO_SERVER (object);

  switch (prop_id)
    {
      case PROP_PING_INTERVAL:
        set_uint_prop (object, &self->ping_interval, value, pspec);
        break;
      case PROP_PING_TIMEOUT:
        set_uint_prop (object, &self->ping_timeout, value, pspec);
        break;
      case PROP_UPGRADE_TIMEOUT:
        set_uint_prop (object, &self->upgrade_timeout, value, pspec);
        break;
      case PROP_MAX_PAYLOAD:
        set_uint64_prop (object, &self->max_payload, value, pspec);
        break;
      case PROP_MAX_WRITE_BUFFER:
        set_uint64_prop (object, &self->max_write_buffer, value, pspec);
        break;
      case PROP_CORS_ORIGINS:
        {
          char **origins = g_value_get_boxed (value);

          if (origins == NULL && self->cors_origins == NULL)
            break;
          if (origins != NULL && self->cors_origins != NULL &&
              g_strv_equal ((const char *const *) origins,
                            (const char *const *) self->cors_origins))
            break;
          g_strfreev (self->cors_origins);
          self->cors_origins = g_strdupv (origins);
          g_object_notify_by_pspec (object, pspec);
        }
        break;
      case PROP_MAX_SESSIONS:
        set_uint_prop (object, &self->max_sessions, value, pspec);
        break;
      case PROP_MAX_SESSIONS_PER_ADDRESS:
        set_uint_prop (object, &self->max_sessions_per_address, value, pspec);
        break;
      case PROP_IO_THREADS:
        /* The pool is made with the first WebSocket and keeps its size. */
        if (self->io_pool == NULL)
          set_uint_prop (object, &self->io_threads, value, pspec);
        else if (self->io_threads != g_value_get_uint (value))
          g_warning ("io-threads is set before the first WebSocket connects; keeping %u",
                     self->io_threads);
        break;
      case PROP_WEBSOCKET_COMPRESSION:
        if (self->websocket_compression != g_value_get_boolean (value))
          {
            self->websocket_compression = g_value_get_boolean (value);
            g_object_notify_by_pspec (object, pspec);
          }
        break;

      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
prd_eio_server_class_init (PrdEioServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags =
      G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  /* The socket class registers the metric families it counts into: a
   * server's first scrape lists them, before any session. */
  g_type_class_unref (g_type_class_ref (PRD_TYPE_EIO_SOCKET));
  sessions_evicted = prd_metric_counter (
      "prdhub_sessions_evicted_total",
      "Engine.IO sessions unused since their handshake, closed to admit a new one over [engine] "
      "max-sessions or max-sessions-per-address (the label).",
      "limit");

  object_class->dispose = prd_eio_server_dispose;
  object_class->finalize = prd_eio_server_finalize;
  object_class->get_property = prd_eio_server_get_property;
  object_class->set_property = prd_eio_server_set_property;

  properties[PROP_PING_INTERVAL] =
      g_param_spec_uint ("ping-interval", NULL, NULL, 1, G_MAXINT, 25000, flags);
  properties[PROP_PING_TIMEOUT] =
      g_param_spec_uint ("ping-timeout", NULL, NULL, 1, G_MAXINT, 20000, flags);
  properties[PROP_UPGRADE_TIMEOUT] =
      g_param_spec_uint ("upgrade-timeout", NULL, NULL, 1, G_MAXINT, 10000, flags);
  properties[PROP_MAX_PAYLOAD] =
      g_param_spec_uint64 ("max-payload", NULL, NULL, 1, G_MAXINT64, 1000000, flags);
  properties[PROP_MAX_WRITE_BUFFER] =
      g_param_spec_uint64 ("max-write-buffer", NULL, NULL, 1, G_MAXINT64, 16 * 1024 * 1024, flags);
  properties[PROP_CORS_ORIGINS] =
      g_param_spec_boxed ("cors-origins", NULL, NULL, G_TYPE_STRV, flags);
  properties[PROP_WEBSOCKET_COMPRESSION] =
      g_param_spec_boolean ("websocket-compression", NULL, NULL, FALSE, flags);
  properties[PROP_MAX_SESSIONS] =
      g_param_spec_uint ("max-sessions", NULL, NULL, 0, G_MAXUINT, 0, flags);
  properties[PROP_MAX_SESSIONS_PER_ADDRESS] =
      g_param_spec_uint ("max-sessions-per-address", NULL, NULL, 0, G_MAXUINT, 0, flags);
  /**
   * PrdEioServer:io-threads:
   *
   * How many threads run the WebSocket connections (framing, reads and
   * writes); 0 runs them on the thread of the main context, with the
   * sessions. Read when the first WebSocket connects.
   */
  properties[PROP_IO_THREADS] =
      g_param_spec_uint ("io-threads", NULL, NULL, 0, PRD_EIO_SERVER_MAX_IO_THREADS, 0, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_CONNECTION] =
      g_signal_new ("connection", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 1, PRD_TYPE_EIO_SOCKET);
  signals[SIGNAL_UPGRADED] =
      g_signal_new ("upgraded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 1, PRD_TYPE_EIO_SOCKET);
}

static void
prd_eio_server_init (PrdEioServer *self)
{
  self->sockets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->per_address = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_queue_init (&self->unused);
}

/* ------------------------------------------------------------------ */
/* Public API                                                         */

PrdEioServer *
prd_eio_server_new (void)
{
  return g_object_new (PRD_TYPE_EIO_SERVER, NULL);
}

/**
 * prd_eio_server_detach:
 *
 * Removes the handlers prd_eio_server_attach() added and drops the server.
 * The server's owner calls it before letting go of either: the handlers
 * of the server's other users may hold what holds @self, and the cycle
 * would keep the engine, its sessions and its I/O threads alive. Sessions
 * already open go on. Idempotent.
 */
void
prd_eio_server_detach (PrdEioServer *self)
{
  g_return_if_fail (PRD_IS_EIO_SERVER (self));

  detach (self);
}

void
prd_eio_server_attach (PrdEioServer *self, SoupServer *server, const char *path)
{
  g_autofree char *normalized = NULL;

  g_return_if_fail (PRD_IS_EIO_SERVER (self));
  g_return_if_fail (SOUP_IS_SERVER (server));
  g_return_if_fail (path != NULL && path[0] == '/');
  g_return_if_fail (self->soup_server == NULL);

  normalized = g_strdup (path);
  while (strlen (normalized) > 1 && g_str_has_suffix (normalized, "/"))
    normalized[strlen (normalized) - 1] = '\0';

  self->soup_server = g_object_ref (server);

  self->path = g_steal_pointer (&normalized);
  soup_server_add_early_handler (server, self->path, early_handler, self, NULL);
  soup_server_add_handler (server, self->path, server_handler, self, NULL);
}

guint
prd_eio_server_get_ping_interval (PrdEioServer *self)
{
  g_return_val_if_fail (PRD_IS_EIO_SERVER (self), 0);
  return self->ping_interval;
}

guint
prd_eio_server_get_ping_timeout (PrdEioServer *self)
{
  g_return_val_if_fail (PRD_IS_EIO_SERVER (self), 0);
  return self->ping_timeout;
}

guint64
prd_eio_server_get_max_payload (PrdEioServer *self)
{
  g_return_val_if_fail (PRD_IS_EIO_SERVER (self), 0);
  return self->max_payload;
}

guint
prd_eio_server_get_n_sockets (PrdEioServer *self)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_return_val_if_fail (PRD_IS_EIO_SERVER (self), 0);

  g_hash_table_iter_init (&iter, self->sockets);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (prd_eio_socket_is_open (value))
      n++;
  return n;
}

/**
 * prd_eio_server_get_n_sockets_on:
 * @transport: `polling` or `websocket`
 *
 * Returns: how many open sessions use @transport now
 */
guint
prd_eio_server_get_n_sockets_on (PrdEioServer *self, const char *transport)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_return_val_if_fail (PRD_IS_EIO_SERVER (self), 0);
  g_return_val_if_fail (transport != NULL, 0);

  g_hash_table_iter_init (&iter, self->sockets);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (prd_eio_socket_is_open (value) &&
        g_strcmp0 (prd_eio_socket_get_transport_name (value), transport) == 0)
      n++;
  return n;
}

void
prd_eio_server_close_all (PrdEioServer *self)
{
  g_autoptr (GPtrArray) sockets = NULL;
  GHashTableIter iter;
  gpointer value;

  g_return_if_fail (PRD_IS_EIO_SERVER (self));

  /* Closing removes sockets from the table: work on a copy. */
  sockets = g_ptr_array_new_with_free_func (g_object_unref);
  g_hash_table_iter_init (&iter, self->sockets);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (sockets, g_object_ref (value));

  for (guint i = 0; i < sockets->len; i++)
    prd_eio_socket_close (g_ptr_array_index (sockets, i), "server shutting down");
}
