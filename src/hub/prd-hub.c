/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PrdHub wires the layers into one server: a SoupServer (TLS when the
 * configuration names a certificate), the Engine.IO server at /socket.io,
 * Socket.IO on top with the namespaces "/", "/prds" and "/notifications".
 *
 * Every namespace admits a connection only with a valid JWT in `auth.token`;
 * a refusal is a CONNECT_ERROR whose `data` is the protocol's error object
 * {code, message, timestamp}. The verified #PrdIdentity rides on the
 * #PrdSioSocket for the handlers of later layers.
 *
 * Stopping tells every client why (`server-shutdown`) before the engine
 * sockets are closed, so that clients reconnect by themselves once the hub
 * is back instead of treating the close as a deliberate disconnect. A closed
 * engine session still delivers what it had queued (a long-polling client
 * collects it with its next GET), and soup_server_disconnect() would cut
 * responses still being written; so the hub keeps listening until every
 * session is gone and every request it has read is answered, or the drain
 * timeout has passed, and only then emits "stopped". Connections with no
 * request being answered (kept alive between two requests, or still sending
 * a request) hold nothing back: soup_server_disconnect() closes them.
 */
#define G_LOG_DOMAIN "prd-hub"

#include "config.h"

#include <sys/socket.h>

#include "prd-approval-store.h"
#include "prd-comment-store.h"
#include "prd-eio-listener.h"
#include "prd-error.h"
#include "prd-hub-ai.h"
#include "prd-hub-approvals.h"
#include "prd-hub-config-collab.h"
#include "prd-hub-config-integrations.h"
#include "prd-hub-config-rate-limit.h"
#include "prd-hub-config-server.h"
#include "prd-hub-collab.h"
#include "prd-hub-comments.h"
#include "prd-hub-context.h"
#include "prd-hub-creation.h"
#include "prd-hub-manage.h"
#include "prd-hub-metrics.h"
#include "prd-hub-notifications.h"
#include "prd-hub-rest-activity.h"
#include "prd-hub-rest-comments.h"
#include "prd-hub-rest-manage.h"
#include "prd-hub-rest-notifications.h"
#include "prd-hub-rest-sessions.h"
#include "prd-hub-rest-tokens.h"
#include "prd-hub-sessions.h"
#include "prd-hub-rest-prds.h"
#include "prd-hub-rest-presence.h"
#include "prd-hub-rest-versions.h"
#include "prd-hub-web.h"
#include "prd-hub-room-registry.h"
#include "prd-hub-rest.h"
#include "prd-hub-versions.h"
#include "prd-hub-conflicts.h"
#include "prd-hub-secret.h"
#include "prd-hub-tokens.h"
#include "prd-hub-integrations.h"
#include "prd-hub-jira.h"
#include "prd-hub-git.h"
#include "prd-git-remote.h"
#include "prd-hub-craftio.h"
#include "prd-hub-mattermost.h"
#include "prd-integration-registry.h"
#include "prd-jira.h"
#include "prd-craftio.h"
#include "prd-log.h"
#include "prd-mattermost.h"
#include "prd-notification-store.h"

#include "prd-hub.h"

#define ENGINE_PATH "/socket.io"

/* Requests of one connection awaiting their answer, besides [collab]
 * max-pending-acks content-updates, before the Socket.IO layer refuses
 * more (docs/protocol.md, "Limits"). */
#define PENDING_REQUESTS_HEADROOM 1024

/* The configuration (which must not depend on src/eio) accepts what the
 * engine does. */
G_STATIC_ASSERT (PRD_HUB_CONFIG_MAX_IO_THREADS == PRD_EIO_SERVER_MAX_IO_THREADS);

struct _PrdHub
{
  GObject parent_instance;

  PrdHubConfig *config;               /* (owned) */
  PrdAuth *auth;                      /* (owned) */
  PrdHubTokens *tokens;               /* (owned): token expiry, refresh and revocation */
  PrdEioServer *engine;               /* (owned) */
  PrdSioServer *sio;                  /* (owned) */
  SoupServer *server;                 /* (owned) (nullable) until listening */
  GTlsCertificate *certificate;       /* (owned) (nullable): prd_hub_set_tls_certificate() */
  PrdHubRest *rest;                   /* (owned) (nullable) until listening: the REST routes */
  PrdEioListener *listener;           /* (owned) (nullable) until listening: accepts for server */
  PrdStore *store;                    /* (owned) (nullable) */
  PrdHubRoomRegistry *rooms;          /* (owned) (nullable): the rooms of /prds, with a store */
  PrdHubCollab *collab;               /* (owned) (nullable): join, edit, sync, presence on /prds */
  PrdHubComments *comments;           /* (owned) (nullable): comments on /prds */
  PrdHubApprovals *approvals;         /* (owned) (nullable): approve-prd on /prds */
  PrdHubNotifications *notifications; /* (owned) (nullable): /notifications, activity */
  PrdHubConflicts *conflicts;         /* (owned) (nullable): conflict review */
  PrdHubAi *ai;                       /* (owned) (nullable): the /prds AI events, with a store */
  PrdHubMetrics *metrics;             /* (owned): GET /metrics and what only the hub counts */
  GHashTable *sessions;               /* (owned) engine sockets alive, weakly referenced */
  GHashTable *requests;               /* (owned) SoupServerMessages read and being answered */
  guint drain_timeout;                /* ms */

  /* (owned) (nullable): create-version and its REST routes, with a data folder */
  PrdHubVersions *versions;
  /* (owned) (nullable): rename, archive, delete (PATCH/DELETE /api/prds/{id}) */
  PrdHubManage *manage;
  /* (owned): who is connected (GET /api/sessions) */
  PrdHubSessions *who;

  /* Integrations, with a secret store (prd_hub_set_secret_store()) */
  PrdSecretStore *secrets;                      /* (owned) (nullable) */
  PrdIntegrationRegistry *integration_registry; /* (owned) (nullable): the services */
  PrdHubIntegrations *integrations;             /* (owned) (nullable): settings, status */
  PrdHubJira *jira;                             /* (owned) (nullable): jira-sync, webhook */
  PrdHubGit *git;                               /* (owned) (nullable): pushes to git remotes */
  PrdHubMattermost *mattermost;                 /* (owned) (nullable): messages, status */
  PrdHubCraftio *craftio;                       /* (owned) (nullable): initiatives */

  guint drain_id;
  guint finish_id;
  gboolean starting; /* prd_hub_set_store_async() is under way */
  gboolean stopping;
  gboolean closing;
  gboolean stopped;
};

enum
{
  PROP_0,
  PROP_CONFIG,
  PROP_AUTH,
  PROP_DRAIN_TIMEOUT,
  N_PROPS
};

enum
{
  SIGNAL_STOPPED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static const char *const namespaces[] = {
  PRD_HUB_NAMESPACE_MAIN,
  PRD_HUB_NAMESPACE_PRDS,
  PRD_HUB_NAMESPACE_NOTIFICATIONS,
};

G_DEFINE_FINAL_TYPE (PrdHub, prd_hub, G_TYPE_OBJECT)

/* A session's namespace CONNECTs whose `connection:` line is written
 * whatever the throttle: a page opens two or three namespaces and
 * reconnects one now and then. */
#define CONNECTION_LINES_PER_SESSION 8

/* Namespace CONNECTs refused: a client can ask again and again. */
static PrdLogThrottle namespace_refusals =
    PRD_LOG_THROTTLE_INIT (G_LOG_LEVEL_INFO, "refused: namespace", "refusals");

/* The `connection:` lines past a session's first ones. */
static PrdLogThrottle connection_lines =
    PRD_LOG_THROTTLE_INIT (G_LOG_LEVEL_INFO, "connection: namespace", "connections");

static gboolean
hub_connect (PrdSioNamespace *nsp,
             PrdSioSocket *socket,
             JsonNode *auth,
             char **error_message,
             JsonNode **error_data,
             gpointer user_data)
{
  PrdHub *self = user_data;
  g_autoptr (GError) error = NULL;
  const char *token = NULL;
  PrdIdentity *identity = NULL;
  g_autofree char *rate_key = NULL;
  PrdSioRateInfo rate_info = { 0 };

  if (auth != NULL && JSON_NODE_HOLDS_OBJECT (auth))
    {
      JsonNode *node = json_object_get_member (json_node_get_object (auth), "token");

      if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
          json_node_get_value_type (node) == G_TYPE_STRING)
        token = json_node_get_string (node);
      else if (node != NULL && !JSON_NODE_HOLDS_NULL (node))
        g_set_error_literal (&error, PRD_ERROR, PRD_ERROR_AUTHENTICATION_FAILED,
                             "auth.token must be a string");
    }

  if (error == NULL)
    identity = prd_auth_verify (self->auth, token, &error);
  if (identity == NULL)
    {
      /* The code, never the token; throttled, since a client can ask again
       * and again. */
      if (prd_log_throttle_admit (&namespace_refusals))
        g_info ("refused: namespace=%s address=%s transport=%s code=%s",
                prd_sio_namespace_get_name (nsp), prd_sio_socket_get_remote_address (socket),
                prd_sio_socket_get_transport_name (socket), prd_error_get_protocol_code (error));
      g_debug ("Refused a connection to %s: %s", prd_sio_namespace_get_name (nsp), error->message);
      *error_message = g_strdup (
          g_error_matches (error, PRD_ERROR, PRD_ERROR_TOKEN_EXPIRED)   ? "Token expired"
          : g_error_matches (error, PRD_ERROR, PRD_ERROR_TOKEN_REVOKED) ? "Token revoked"
                                                                        : "Authentication failed");
      *error_data = prd_hub_error_to_json (error);
      return FALSE;
    }

  /* The rate limits are the user's, whatever their connections (as the REST
   * write limit is): "org\nuser", as prd-hub-rest.c keys its writers. */
  rate_key = g_strconcat (identity->org, "\n", identity->user_id, NULL);
  prd_sio_socket_set_rate_key (socket, rate_key);
  /* Each accepted CONNECT checks a token and sets up a connection: a
   * client that connected and disconnected a namespace in a loop made
   * every organization's requests wait. Charged to the user, whatever
   * their sessions; a refusal counts toward the session's refused
   * CONNECTs (prd-sio-server.c). */
  if (!prd_sio_socket_consume_rate (socket, PRD_HUB_CONFIG_CONNECT_CLASS, &rate_info))
    {
      const PrdRateLimit *limit = prd_hub_rate_limit_config_lookup (
          prd_hub_config_get_rate_limits (self->config), PRD_HUB_CONFIG_CONNECT_CLASS);
      JsonObject *object;

      if (prd_log_throttle_admit (&namespace_refusals))
        g_info ("refused: namespace=%s address=%s transport=%s code=RATE_LIMITED user=%s org=%s",
                prd_sio_namespace_get_name (nsp), prd_sio_socket_get_remote_address (socket),
                prd_sio_socket_get_transport_name (socket), identity->user_id, identity->org);
      g_set_error (&error, PRD_ERROR, PRD_ERROR_RATE_LIMITED,
                   "At most %u namespace connections per user every %u s ([rate-limit] "
                   "connect); try again in %u s",
                   rate_info.limit, limit != NULL ? limit->window_seconds : 0,
                   rate_info.retry_after);
      *error_message = g_strdup ("Rate limit exceeded");
      *error_data = prd_hub_error_to_json (error);
      object = json_node_get_object (*error_data);
      json_object_set_int_member (object, "retryAfter", rate_info.retry_after);
      prd_identity_free (identity);
      return FALSE;
    }

  /* A session's first CONNECTs are always logged; past them, a client
   * that connects and disconnects again and again goes through a throttle,
   * and so hides only its own lines, never another session's first ones. */
  if (prd_sio_socket_get_session_connects (socket) < CONNECTION_LINES_PER_SESSION ||
      prd_log_throttle_admit (&connection_lines))
    g_info ("connection: namespace=%s address=%s transport=%s user=%s org=%s role=%s socket=%s",
            prd_sio_namespace_get_name (nsp), prd_sio_socket_get_remote_address (socket),
            prd_sio_socket_get_transport_name (socket), identity->user_id, identity->org,
            prd_role_to_string (identity->role), prd_sio_socket_get_id (socket));
  prd_hub_socket_set_identity (socket, identity);
  prd_hub_tokens_watch (self->tokens, socket);
  return TRUE;
}

static JsonNode *
timestamped_object (const char *message)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autofree char *timestamp = prd_time_format_now ();

  json_builder_begin_object (builder);
  if (message != NULL)
    {
      json_builder_set_member_name (builder, "message");
      json_builder_add_string_value (builder, message);
    }
  json_builder_set_member_name (builder, "timestamp");
  json_builder_add_string_value (builder, timestamp);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static void
on_ping (PrdSioSocket *socket,
         const char *event,
         JsonArray *args,
         GPtrArray *attachments,
         gint64 ack_id,
         gpointer user_data)
{
  g_autoptr (JsonBuilder) pong_builder = json_builder_new ();
  g_autoptr (JsonNode) pong = NULL;

  /* Milliseconds since the epoch, as Date.now(): clients measure round
   * trips with it. */
  json_builder_begin_object (pong_builder);
  json_builder_set_member_name (pong_builder, "timestamp");
  json_builder_add_int_value (pong_builder, g_get_real_time () / 1000);
  json_builder_end_object (pong_builder);
  pong = json_builder_get_root (pong_builder);
  prd_sio_socket_emit_one (socket, "pong", pong);
  if (ack_id >= 0)
    {
      g_autoptr (JsonBuilder) builder = json_builder_new ();
      g_autoptr (JsonNode) ok = NULL;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "ok");
      json_builder_add_boolean_value (builder, TRUE);
      json_builder_end_object (builder);
      ok = json_builder_get_root (builder);
      prd_sio_socket_ack_one (socket, ack_id, ok);
    }
}

static void
finish_stop (PrdHub *self)
{
  if (self->stopped)
    return;
  self->stopped = TRUE;
  g_clear_handle_id (&self->drain_id, g_source_remove);
  g_clear_handle_id (&self->finish_id, g_source_remove);
  if (self->listener != NULL)
    prd_eio_listener_close (self->listener);
  if (self->server != NULL)
    soup_server_disconnect (self->server);
  /* The counts of lines left out whose interval is not over yet. */
  prd_log_throttle_flush ();
  g_message ("Stopped");
  g_signal_emit (self, signals[SIGNAL_STOPPED], 0);
}

static gboolean drained (PrdHub *self);
static void check_drained (PrdHub *self);

static void
close_sessions (PrdHub *self)
{
  if (self->closing)
    return;
  self->closing = TRUE;
  prd_eio_server_close_all (self->engine);
  check_drained (self);
}

static gboolean
finish_stop_cb (gpointer user_data)
{
  PrdHub *self = user_data;

  self->finish_id = 0;
  finish_stop (self);
  return G_SOURCE_REMOVE;
}

static gboolean
drain_timeout_cb (gpointer user_data)
{
  PrdHub *self = user_data;

  self->drain_id = 0;
  close_sessions (self);
  g_message ("Stopping without waiting longer for %u session(s) and %u request(s)",
             g_hash_table_size (self->sessions), g_hash_table_size (self->requests));
  finish_stop (self);
  return G_SOURCE_REMOVE;
}

static gboolean
drained (PrdHub *self)
{
  return g_hash_table_size (self->sessions) == 0 && g_hash_table_size (self->requests) == 0;
}

static void
check_drained (PrdHub *self)
{
  /* Never from inside the engine's or libsoup's own teardown: finish from
   * the main loop. */
  if (self->closing && !self->stopped && self->finish_id == 0 && drained (self))
    self->finish_id = g_idle_add (finish_stop_cb, self);
}

static void
on_session_finalized (gpointer user_data, GObject *where_the_object_was)
{
  PrdHub *self = user_data;

  g_hash_table_remove (self->sessions, where_the_object_was);
  check_drained (self);
}

static void
on_request_wrote_informational (SoupServerMessage *msg, gpointer user_data)
{
  PrdHub *self = user_data;

  /* After a 101 the connection is taken over as a WebSocket (tracked as a
   * session) and libsoup never reports the request finished. */
  if (soup_server_message_get_status (msg) == SOUP_STATUS_SWITCHING_PROTOCOLS)
    {
      g_hash_table_remove (self->requests, msg);
      check_drained (self);
    }
}

/* libsoup reports neither finished nor aborted a request refused from its
 * headers (prd_eio_refuse_now() takes its connection over), nor one the
 * client abandoned before libsoup had read it whole (a connection closed or
 * timed out without a complete request); its connection is closed, though. */
static void
on_request_disconnected (SoupServerMessage *msg, gpointer user_data)
{
  PrdHub *self = user_data;

  if (g_hash_table_remove (self->requests, msg))
    check_drained (self);
}

/* libsoup answers a request head it cannot parse (chiefly an HTTP/1.1
 * request without a Host header) with 400 from inside its reader and writes
 * that answer at once: no signal comes in between. So every request starts
 * with this JSON error as its response body, and a request whose head
 * parsed (got-headers, which every other request reaches first) loses it
 * there. */
#define UNPARSED_REQUEST_BODY                                                                   \
  "{\"code\":\"INVALID_PAYLOAD\",\"message\":\"The request cannot be read: the Host header is " \
  "missing (HTTP/1.1 needs one), or the request line or a header is malformed\"}"

/* Takes UNPARSED_REQUEST_BODY out of @msg's response body. The engine's
 * own handlers of the head run before this one (libsoup connects them
 * first) and may have answered the request already:
 * soup_server_message_set_response() with a content type appends, so their
 * body then follows ours and is kept. */
static void
drop_unparsed_body (SoupServerMessage *msg)
{
  SoupMessageBody *body = soup_server_message_get_response_body (msg);
  const gsize ours = sizeof UNPARSED_REQUEST_BODY - 1;
  g_autoptr (GBytes) bytes = NULL;
  const char *data;
  gsize len;

  if (body->length < (goffset) ours)
    return;
  bytes = soup_message_body_flatten (body);
  data = g_bytes_get_data (bytes, &len);
  if (memcmp (data, UNPARSED_REQUEST_BODY, ours) != 0)
    return;
  soup_message_body_truncate (body);
  if (len > ours)
    soup_message_body_append (body, SOUP_MEMORY_COPY, data + ours, len - ours);
  else
    soup_message_headers_remove (soup_server_message_get_response_headers (msg), "Content-Type");
}

/* Token and body size, before the body is read. */
static void
on_request_got_headers (SoupServerMessage *msg, gpointer user_data)
{
  PrdHub *self = user_data;

  drop_unparsed_body (msg);
  prd_hub_rest_check_headers (self->rest, msg);
}

/* Read in full: from now on it is being answered, and a stop waits for the
 * answer (a long-poll GET held until there is something to send included). */
static void
on_request_got_body (SoupServerMessage *msg, gpointer user_data)
{
  PrdHub *self = user_data;

  g_hash_table_add (self->requests, msg);
}

static void
on_request_started (SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
  PrdHub *self = user_data;

  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC,
                                    UNPARSED_REQUEST_BODY, sizeof UNPARSED_REQUEST_BODY - 1);
  prd_hub_rest_set_inert_headers (msg);
  g_signal_connect_object (msg, "got-body", G_CALLBACK (on_request_got_body), self, 0);
  g_signal_connect_object (msg, "wrote-informational", G_CALLBACK (on_request_wrote_informational),
                           self, 0);
  g_signal_connect_object (msg, "disconnected", G_CALLBACK (on_request_disconnected), self, 0);
  g_signal_connect_object (msg, "got-headers", G_CALLBACK (on_request_got_headers), self, 0);
}

static void
on_request_done (SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
  PrdHub *self = user_data;

  g_hash_table_remove (self->requests, msg);
  check_drained (self);
}

static void
on_engine_connection (PrdEioServer *engine, PrdEioSocket *socket, gpointer user_data)
{
  PrdHub *self = user_data;

  g_hash_table_add (self->sessions, socket);
  g_object_weak_ref (G_OBJECT (socket), on_session_finalized, self);
  if (self->stopping)
    prd_eio_socket_close (socket, "server shutting down");
}

static void
prd_hub_constructed (GObject *object)
{
  PrdHub *self = PRD_HUB (object);
  PrdHubConfig *config = self->config;
  const PrdHubEngineConfig *engine = prd_hub_config_get_engine (config);
  const PrdHubRateLimitConfig *rate_limits = prd_hub_config_get_rate_limits (config);
  GHashTableIter iter;
  gpointer event, event_class;

  G_OBJECT_CLASS (prd_hub_parent_class)->constructed (object);

  g_assert (self->config != NULL);
  g_assert (self->auth != NULL);

  self->engine = prd_eio_server_new ();
  g_signal_connect (self->engine, "connection", G_CALLBACK (on_engine_connection), self);
  g_object_set (self->engine, "ping-interval", engine->ping_interval, "ping-timeout",
                engine->ping_timeout, "max-payload", engine->max_payload, "max-write-buffer",
                engine->max_write_buffer, "cors-origins",
                prd_hub_config_get_server (config)->cors_origins, "max-sessions",
                engine->max_sessions, "max-sessions-per-address", engine->max_sessions_per_address,
                "io-threads", engine->io_threads, NULL);

  self->sio = prd_sio_server_new (self->engine);
  /* Every request awaiting its answer counts at the Socket.IO layer, so
   * that limit stays above [collab] max-pending-acks (content-updates
   * awaiting their commit): that one, which names its setting, answers
   * first, unless the connection also has this many other requests
   * waiting. */
  g_object_set (self->sio, "connect-timeout", engine->connect_timeout, "max-json-values",
                engine->max_json_values, "max-pending-acks",
                prd_hub_config_get_collab (config)->max_pending_acks + PENDING_REQUESTS_HEADROOM,
                NULL);
  self->metrics = prd_hub_metrics_new (self->engine, self->auth, config);

  for (guint i = 0; i < rate_limits->limits->len; i++)
    {
      const PrdRateLimit *limit = g_ptr_array_index (rate_limits->limits, i);

      prd_sio_server_set_rate_limit (self->sio, limit->event_class, limit->limit,
                                     limit->window_seconds);
    }
  g_hash_table_iter_init (&iter, rate_limits->event_classes);
  while (g_hash_table_iter_next (&iter, &event, &event_class))
    prd_sio_server_set_event_class (self->sio, event, event_class);

  self->tokens =
      prd_hub_tokens_new (self->auth, prd_hub_config_get_auth (config)->revocation_check_interval);
  for (guint i = 0; i < G_N_ELEMENTS (namespaces); i++)
    {
      PrdSioNamespace *nsp = prd_sio_server_of (self->sio, namespaces[i]);

      prd_sio_namespace_set_connect_func (nsp, hub_connect, self, NULL);
      /* hub_connect reads the token; nothing needs the payload later. */
      prd_sio_namespace_set_keep_auth (nsp, FALSE);
      prd_sio_namespace_on (nsp, "ping", on_ping, self);
      prd_hub_tokens_add_namespace (self->tokens, nsp);
    }
  self->who = prd_hub_sessions_new (self->sio);
}

static void
prd_hub_dispose (GObject *object)
{
  PrdHub *self = PRD_HUB (object);
  GHashTableIter iter;
  gpointer socket;

  /* Disposed while running: stop now, without waiting for clients. */
  if (self->server != NULL && !self->stopping)
    prd_hub_stop (self);
  if (self->stopping)
    {
      close_sessions (self);
      finish_stop (self);
    }
  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, &socket, NULL))
    g_object_weak_unref (socket, on_session_finalized, self);
  g_hash_table_remove_all (self->sessions);
  if (self->engine != NULL)
    g_signal_handlers_disconnect_by_data (self->engine, self);
  if (self->server != NULL)
    g_signal_handlers_disconnect_by_data (self->server, self);
  /* The engine holds the server, whose routes hold features that hold the
   * engine: without this, none of them is ever freed, and the engine's
   * I/O threads never flush what they still have to send. */
  if (self->engine != NULL)
    prd_eio_server_detach (self->engine);
  if (self->rest != NULL && self->server != NULL)
    prd_hub_rest_detach (self->rest, self->server);
  g_hash_table_remove_all (self->requests);
  g_clear_object (&self->listener);
  g_clear_object (&self->server);
  g_clear_object (&self->certificate);
  g_clear_object (&self->rest);
  if (self->integration_registry != NULL)
    prd_integration_registry_shutdown (self->integration_registry);
  if (self->git != NULL)
    prd_hub_git_shutdown (self->git);
  g_clear_object (&self->git);
  g_clear_object (&self->jira);
  g_clear_object (&self->mattermost);
  g_clear_object (&self->craftio);
  g_clear_object (&self->integrations);
  g_clear_object (&self->integration_registry);
  g_clear_object (&self->secrets);
  g_clear_object (&self->versions);
  if (self->manage != NULL)
    g_signal_handlers_disconnect_by_data (self->manage, self);
  g_clear_object (&self->manage);
  g_clear_object (&self->who);
  g_clear_object (&self->conflicts);
  g_clear_object (&self->comments);
  g_clear_object (&self->approvals);
  g_clear_object (&self->notifications);
  g_clear_object (&self->ai);
  g_clear_object (&self->tokens);
  g_clear_object (&self->collab);
  if (self->rooms != NULL)
    g_signal_handlers_disconnect_by_data (self->rooms, self);
  g_clear_object (&self->rooms);
  g_clear_object (&self->store);
  g_clear_object (&self->metrics);
  g_clear_object (&self->sio);
  g_clear_object (&self->engine);
  g_clear_object (&self->auth);

  G_OBJECT_CLASS (prd_hub_parent_class)->dispose (object);
}

static void
prd_hub_finalize (GObject *object)
{
  PrdHub *self = PRD_HUB (object);

  g_clear_pointer (&self->config, prd_hub_config_unref);
  g_clear_pointer (&self->sessions, g_hash_table_unref);
  g_clear_pointer (&self->requests, g_hash_table_unref);

  G_OBJECT_CLASS (prd_hub_parent_class)->finalize (object);
}

static void
prd_hub_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PrdHub *self = PRD_HUB (object);

  switch (prop_id)
    {
      case PROP_CONFIG:
        g_value_set_boxed (value, self->config);
        break;
      case PROP_AUTH:
        g_value_set_object (value, self->auth);
        break;
      case PROP_DRAIN_TIMEOUT:
        g_value_set_uint (value, self->drain_timeout);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
prd_hub_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  PrdHub *self = PRD_HUB (object);

  switch (prop_id)
    {
      case PROP_CONFIG:
        self->config = g_value_dup_boxed (value);
        break;
      case PROP_AUTH:
        self->auth = g_value_dup_object (value);
        break;
      case PROP_DRAIN_TIMEOUT:
        if (self->drain_timeout != g_value_get_uint (value))
          {
            self->drain_timeout = g_value_get_uint (value);
            g_object_notify_by_pspec (object, pspec);
          }
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
prd_hub_class_init (PrdHubClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = prd_hub_constructed;
  object_class->dispose = prd_hub_dispose;
  object_class->finalize = prd_hub_finalize;
  object_class->get_property = prd_hub_get_property;
  object_class->set_property = prd_hub_set_property;

  properties[PROP_CONFIG] =
      g_param_spec_boxed ("config", NULL, NULL, PRD_TYPE_HUB_CONFIG,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_AUTH] =
      g_param_spec_object ("auth", NULL, NULL, PRD_TYPE_AUTH,
                           G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * PrdHub:drain-timeout:
   *
   * How long, in ms, a stopping hub waits for its client sessions to take
   * their last packets before it stops listening anyway.
   */
  properties[PROP_DRAIN_TIMEOUT] =
      g_param_spec_uint ("drain-timeout", NULL, NULL, 1, G_MAXUINT, PRD_HUB_DRAIN_TIMEOUT_MS,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * PrdHub::stopped:
   *
   * The hub has stopped listening after prd_hub_stop(): every client session
   * has finished (or the drain timeout passed).
   */
  signals[SIGNAL_STOPPED] = g_signal_new ("stopped", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
prd_hub_init (PrdHub *self)
{
  self->drain_timeout = PRD_HUB_DRAIN_TIMEOUT_MS;
  self->sessions = g_hash_table_new (NULL, NULL);
  self->requests = g_hash_table_new (NULL, NULL);
}

/**
 * prd_hub_new:
 * @config: a validated configuration (the hub keeps a reference)
 * @auth: the token verifier
 *
 * Returns: (transfer full): a new hub, not yet listening
 */
PrdHub *
prd_hub_new (PrdHubConfig *config, PrdAuth *auth)
{
  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (PRD_IS_AUTH (auth), NULL);

  return g_object_new (PRD_TYPE_HUB, "config", config, "auth", auth, NULL);
}

/**
 * prd_hub_create_auth:
 * @config: a validated configuration
 *
 * The verifier the configuration asks for: the configured public key, else
 * HS256 with the hub's secret (see prd_hub_secret_load_jwt()).
 *
 * Returns: (transfer full): a #PrdAuth, or %NULL with @error set
 */
PrdAuth *
prd_hub_create_auth (PrdHubConfig *config, GError **error)
{
  g_autoptr (GBytes) secret = NULL;
  const char *jwt_public_key;

  g_return_val_if_fail (config != NULL, NULL);

  jwt_public_key = prd_hub_config_get_auth (config)->jwt_public_key;
  if (jwt_public_key != NULL)
    return prd_auth_new_public_key_file (jwt_public_key, error);

  secret = prd_hub_secret_load_jwt (prd_hub_config_get_server (config)->data_dir, error);
  if (secret == NULL)
    return NULL;
  return prd_auth_new_hmac (secret, error);
}

/* The most a TLS handshake of the certificate with itself may take. */
#define TLS_CHECK_TIMEOUT_SECONDS 10

typedef struct
{
  guint pending;
  GError *error; /* (owned) (nullable) the first failure */
  GCancellable *cancellable;
} TlsCheck;

static gboolean
accept_any_certificate (GTlsConnection *connection,
                        GTlsCertificate *peer_certificate,
                        GTlsCertificateFlags errors,
                        gpointer user_data)
{
  return TRUE;
}

static void
on_tls_check_handshake (GObject *source, GAsyncResult *result, gpointer user_data)
{
  TlsCheck *check = user_data;
  g_autoptr (GError) error = NULL;

  check->pending--;
  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error) &&
      check->error == NULL)
    {
      check->error = g_steal_pointer (&error);
      /* The other side may wait for what this one will never send. */
      g_cancellable_cancel (check->cancellable);
    }
}

static gboolean
on_tls_check_timeout (gpointer user_data)
{
  TlsCheck *check = user_data;

  if (check->error == NULL)
    check->error =
        g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "the handshake took more than %d seconds",
                     TLS_CHECK_TIMEOUT_SECONDS);
  g_cancellable_cancel (check->cancellable);
  return G_SOURCE_REMOVE;
}

/* A certificate and a key that do not belong together load without a word
 * (each alone is valid PEM), and every handshake then fails. The hub tries
 * one handshake of @certificate with itself, over a socket pair, at start:
 * a server that signs with the key and a client that accepts any
 * certificate but checks that signature. The project links no crypto
 * library of its own; this is GIO's TLS, as clients will see it. */
static gboolean
check_tls_key_pair (GTlsCertificate *certificate, GError **error)
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GSocket) server_socket = NULL;
  g_autoptr (GSocket) client_socket = NULL;
  g_autoptr (GSocketConnection) server_stream = NULL;
  g_autoptr (GSocketConnection) client_stream = NULL;
  g_autoptr (GIOStream) server = NULL;
  g_autoptr (GIOStream) client = NULL;
  g_autoptr (GSource) timeout = NULL;
  TlsCheck check = { 0, NULL, cancellable };
  int fds[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "socketpair: %s",
                   g_strerror (saved_errno));
      return FALSE;
    }
  server_socket = g_socket_new_from_fd (fds[0], error);
  if (server_socket == NULL)
    {
      close (fds[0]);
      close (fds[1]);
      return FALSE;
    }
  client_socket = g_socket_new_from_fd (fds[1], error);
  if (client_socket == NULL)
    {
      close (fds[1]);
      return FALSE;
    }
  server_stream = g_socket_connection_factory_create_connection (server_socket);
  client_stream = g_socket_connection_factory_create_connection (client_socket);
  server = g_tls_server_connection_new (G_IO_STREAM (server_stream), certificate, error);
  if (server == NULL)
    return FALSE;
  client = g_tls_client_connection_new (G_IO_STREAM (client_stream), NULL, error);
  if (client == NULL)
    return FALSE;
  g_signal_connect (client, "accept-certificate", G_CALLBACK (accept_any_certificate), NULL);

  g_main_context_push_thread_default (context);
  timeout = g_timeout_source_new_seconds (TLS_CHECK_TIMEOUT_SECONDS);
  g_source_set_callback (timeout, on_tls_check_timeout, &check, NULL);
  g_source_attach (timeout, context);
  check.pending = 2;
  g_tls_connection_handshake_async (G_TLS_CONNECTION (server), G_PRIORITY_DEFAULT, cancellable,
                                    on_tls_check_handshake, &check);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (client), G_PRIORITY_DEFAULT, cancellable,
                                    on_tls_check_handshake, &check);
  while (check.pending > 0)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (timeout);
  g_main_context_pop_thread_default (context);

  if (check.error != NULL)
    {
      g_propagate_error (error, check.error);
      return FALSE;
    }
  return TRUE;
}

/**
 * prd_hub_load_tls_certificate:
 * @config: a validated configuration
 *
 * Loads [server] tls-cert and tls-key and checks that they belong
 * together (one handshake of the pair with itself). `prdhub serve` calls
 * it before it touches the data folder, so that a pair it refuses changes
 * nothing there, and hands the result to prd_hub_set_tls_certificate().
 *
 * Returns: (transfer full) (nullable): the certificate, or %NULL: without
 *   @error set when TLS is not configured, with it (%PRD_ERROR_CONFIG)
 *   when the pair cannot be used
 */
GTlsCertificate *
prd_hub_load_tls_certificate (PrdHubConfig *config, GError **error)
{
  const PrdHubServerConfig *server;
  g_autoptr (GTlsCertificate) certificate = NULL;
  g_autoptr (GError) local_error = NULL;

  g_return_val_if_fail (config != NULL, NULL);

  server = prd_hub_config_get_server (config);
  if (server->tls_cert == NULL)
    return NULL;
  certificate = g_tls_certificate_new_from_files (server->tls_cert, server->tls_key, &local_error);
  if (certificate == NULL)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "Cannot load the TLS certificate (tls-cert %s, tls-key %s): %s",
                   server->tls_cert, server->tls_key, local_error->message);
      return NULL;
    }
  if (!check_tls_key_pair (certificate, &local_error))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG,
                   "Cannot use the TLS certificate (tls-cert %s, tls-key %s): a TLS "
                   "handshake with them fails (does the key belong to the certificate?): %s",
                   server->tls_cert, server->tls_key, local_error->message);
      return NULL;
    }
  return g_steal_pointer (&certificate);
}

/**
 * prd_hub_set_tls_certificate:
 * @certificate: (nullable): what prd_hub_load_tls_certificate() gave
 *
 * The certificate prd_hub_listen() serves, loaded and checked already;
 * without one it loads [server] tls-cert and tls-key itself. Call before
 * prd_hub_listen().
 */
void
prd_hub_set_tls_certificate (PrdHub *self, GTlsCertificate *certificate)
{
  g_return_if_fail (PRD_IS_HUB (self));
  g_return_if_fail (certificate == NULL || G_IS_TLS_CERTIFICATE (certificate));
  g_return_if_fail (self->server == NULL);

  g_set_object (&self->certificate, certificate);
}

/**
 * prd_hub_listen:
 *
 * Starts serving on the configured address (port 0: any free port; read
 * the real one back with prd_hub_get_url()).
 *
 * Returns: %TRUE on success, %FALSE with @error set (%PRD_ERROR_CONFIG)
 */
gboolean
prd_hub_listen (PrdHub *self, GError **error)
{
  g_autoptr (GTlsCertificate) certificate = NULL;
  g_autoptr (GSocketAddress) address = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autoptr (SoupServer) server = NULL;
  g_autoptr (PrdEioListener) listener = NULL;
  g_autofree char *listen = NULL;
  const PrdHubServerConfig *config;
  const char *host;

  g_return_val_if_fail (PRD_IS_HUB (self), FALSE);
  g_return_val_if_fail (self->server == NULL, FALSE);
  g_return_val_if_fail (!self->starting, FALSE);
  g_return_val_if_fail (!self->stopping, FALSE);

  config = prd_hub_config_get_server (self->config);
  listen = prd_hub_server_config_get_listen_string (config);
  if (self->certificate != NULL)
    certificate = g_object_ref (self->certificate);
  else if (config->tls_cert != NULL)
    {
      certificate = prd_hub_load_tls_certificate (self->config, error);
      if (certificate == NULL)
        return FALSE;
    }
  if (certificate != NULL)
    server = soup_server_new ("tls-certificate", certificate, "server-header",
                              PACKAGE_NAME "/" PACKAGE_VERSION " ", NULL);
  else
    server = soup_server_new ("server-header", PACKAGE_NAME "/" PACKAGE_VERSION " ", NULL);

  host = config->listen_host;
  if (g_str_equal (host, "localhost"))
    host = "127.0.0.1";
  address = g_inet_socket_address_new_from_string (host, config->listen_port);
  if (address == NULL)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "listen: \"%s\" is not an address", listen);
      return FALSE;
    }

  if (certificate == NULL && !g_inet_address_get_is_loopback (g_inet_socket_address_get_address (
                                 G_INET_SOCKET_ADDRESS (address))))
    g_warning ("Serving plain HTTP on %s, which is not a loopback address: tokens and PRDs "
               "cross the network unencrypted (set tls-cert and tls-key)",
               listen);
  g_signal_connect (server, "request-started", G_CALLBACK (on_request_started), self);
  g_signal_connect (server, "request-finished", G_CALLBACK (on_request_done), self);
  g_signal_connect (server, "request-aborted", G_CALLBACK (on_request_done), self);
  prd_eio_server_attach (self->engine, server, ENGINE_PATH);
  self->rest = prd_hub_rest_new (self->auth, config->max_request_body, ENGINE_PATH);
  prd_hub_rest_set_cors_origins (self->rest, (const char *const *) config->cors_origins);
  {
    const PrdRateLimit *writes = prd_hub_rate_limit_config_lookup (
        prd_hub_config_get_rate_limits (self->config), PRD_HUB_CONFIG_REST_CLASS);

    const PrdRateLimit *reads = prd_hub_rate_limit_config_lookup (
        prd_hub_config_get_rate_limits (self->config), PRD_HUB_CONFIG_REST_READ_CLASS);

    prd_hub_rest_set_write_rate (self->rest, writes->limit, writes->window_seconds);
    prd_hub_rest_set_read_rate (self->rest, reads->limit, reads->window_seconds);
  }
  if (self->store != NULL)
    prd_hub_rest_prds_add (self->rest, self->store, self->rooms,
                           prd_hub_config_get_collab (self->config)->max_document_size);
  if (self->versions != NULL)
    prd_hub_rest_versions_add (self->rest, self->store, PRD_VERSION_STORE (self->store),
                               prd_hub_versions_get_repo (self->versions));
  if (self->versions != NULL)
    prd_hub_rest_versions_add_create (self->rest, self->versions);
  if (self->comments != NULL)
    prd_hub_rest_comments_add (self->rest, self->comments, self->rooms, self->store);
  if (self->notifications != NULL)
    prd_hub_rest_activity_add (self->rest, PRD_NOTIFICATION_STORE (self->store));
  if (self->manage != NULL)
    prd_hub_rest_manage_add (self->rest, self->manage);
  prd_hub_metrics_add_routes (self->metrics, self->rest);
  if (self->notifications != NULL)
    prd_hub_rest_notifications_add (self->rest, PRD_NOTIFICATION_STORE (self->store));
  prd_hub_sessions_set_rooms (self->who, self->rooms);
  prd_hub_rest_sessions_add (self->rest, self->who);
  prd_hub_rest_tokens_add (self->rest, self->tokens);
  if (self->integrations != NULL)
    prd_hub_integrations_add_routes (self->integrations, self->rest);
  if (self->jira != NULL)
    prd_hub_jira_add_routes (self->jira, self->rest);
  if (self->git != NULL)
    prd_hub_git_add_routes (self->git, self->rest);
  if (self->rooms != NULL)
    prd_hub_rest_presence_add (self->rest, self->rooms);
  prd_hub_web_add (self->rest);
  prd_hub_rest_attach (self->rest, server);
  listener = g_object_new (
      PRD_TYPE_EIO_LISTENER, "server", server, "listen-backlog", config->listen_backlog,
      "idle-timeout", prd_hub_config_get_idle_timeout_ms (self->config), "request-timeout",
      config->request_timeout * 1000, "max-connections", config->max_connections,
      "max-connections-per-address", config->max_connections_per_address, "per-address-exempt",
      config->per_address_exempt, NULL);
  if (!prd_eio_listener_listen (listener, address,
                                certificate != NULL ? SOUP_SERVER_LISTEN_HTTPS : 0, &local_error))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_CONFIG, "Cannot listen on %s: %s", listen,
                   local_error->message);
      return FALSE;
    }

  self->server = g_steal_pointer (&server);
  self->listener = g_steal_pointer (&listener);
  {
    g_autofree char *url = prd_hub_get_url (self);

    g_message ("Listening on %s (%s tokens)", url, prd_auth_get_algorithm_family (self->auth));
    if (self->jira != NULL)
      prd_hub_jira_set_public_url (self->jira, url);
    if (self->mattermost != NULL)
      prd_hub_mattermost_set_public_url (self->mattermost, url);
  }
  return TRUE;
}

/**
 * prd_hub_get_uris:
 *
 * Returns: (transfer full) (element-type GUri): the addresses the hub
 *   listens on; empty before prd_hub_listen()
 */
GSList *
prd_hub_get_uris (PrdHub *self)
{
  g_return_val_if_fail (PRD_IS_HUB (self), NULL);

  if (self->server == NULL)
    return NULL;
  return soup_server_get_uris (self->server);
}

/**
 * prd_hub_get_url:
 *
 * Returns: (transfer full) (nullable): the first listening address, e.g.
 *   `http://127.0.0.1:3000/`
 */
char *
prd_hub_get_url (PrdHub *self)
{
  GSList *uris;
  char *url;

  g_return_val_if_fail (PRD_IS_HUB (self), NULL);

  uris = prd_hub_get_uris (self);
  if (uris == NULL)
    return NULL;
  url = g_uri_to_string (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return url;
}

/**
 * prd_hub_stop:
 *
 * Ends the AI jobs under way (INTERRUPTED), then broadcasts
 * `server-shutdown` on every namespace, lets every engine session
 * deliver it, then closes the sessions. The hub keeps listening until they
 * are gone, then stops listening and emits #PrdHub::stopped (at once when no
 * session is open). Idempotent.
 */
void
prd_hub_stop (PrdHub *self)
{
  g_autoptr (JsonNode) payload = NULL;

  g_return_if_fail (PRD_IS_HUB (self));

  if (self->stopping)
    return;
  self->stopping = TRUE;
  /* Calls to integrations under way end now (cancelled). */
  if (self->integration_registry != NULL)
    prd_integration_registry_shutdown (self->integration_registry);
  if (self->git != NULL)
    prd_hub_git_shutdown (self->git);
  /* AI jobs queued or running end now, with ai-error INTERRUPTED to their
   * requesters and rooms: before server-shutdown, while they listen. */
  if (self->ai != NULL)
    prd_hub_ai_shutdown (self->ai);

  payload = timestamped_object ("Server shutting down");
  for (guint i = 0; i < G_N_ELEMENTS (namespaces); i++)
    {
      PrdSioNamespace *nsp = prd_sio_server_lookup (self->sio, namespaces[i]);

      if (nsp != NULL)
        prd_sio_namespace_emit_one (nsp, NULL, NULL, "server-shutdown", payload);
    }

  /* A server-side engine close delivers what was queued (the broadcast)
   * before the close packet, on every transport. */
  self->drain_id = g_timeout_add (self->drain_timeout, drain_timeout_cb, self);
  close_sessions (self);
  if (self->closing && drained (self))
    finish_stop (self);
}

/**
 * prd_hub_is_stopped:
 *
 * Returns: %TRUE once the hub has stopped listening
 */
gboolean
prd_hub_is_stopped (PrdHub *self)
{
  g_return_val_if_fail (PRD_IS_HUB (self), FALSE);

  return self->stopped;
}

static void
on_version_recorded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  if (!prd_hub_notifications_version_created_finish (result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_warning ("Cannot record a version: %s", error->message);
}

/* The editors of the PRD hear of its new version, and the organization's
 * activity feed shows it. */
static void
on_version_created (PrdHubVersions *versions,
                    const char *prd_id,
                    const char *org,
                    const char *title,
                    const char *version,
                    const char *actor_id,
                    const char *actor_name,
                    gpointer user_data)
{
  prd_hub_notifications_version_created_async (PRD_HUB_NOTIFICATIONS (user_data), prd_id, org,
                                               title, version, actor_id, actor_name, NULL, NULL,
                                               on_version_recorded, NULL);
}

/* What a comment or an approval announced is on disk with it: the
 * notifications feature delivers it. */
static void
on_notifications_recorded (GObject *feature, PrdHubAnnounce *announce, gpointer user_data)
{
  prd_hub_notifications_deliver (PRD_HUB_NOTIFICATIONS (user_data), announce);
}

/* ---- what features learn from each other ------------------------------------- */

/* A member's joined-prd carries the PRD's open comments and the member's
 * open conflicts (in this order). */
static void
on_member_joined (PrdHubRoomRegistry *rooms,
                  PrdHubRoom *room,
                  PrdSioSocket *socket,
                  const char *user_id,
                  JsonObject *joined,
                  gpointer user_data)
{
  PrdHub *self = user_data;

  if (self->comments != NULL)
    prd_hub_comments_member_joined (self->comments, room, joined);
  if (self->conflicts != NULL)
    prd_hub_conflicts_member_joined (self->conflicts, room, socket, user_id, joined);
}

/* The metrics show who is joined to which PRD. */
static void
on_member_joined_metrics (PrdHubRoomRegistry *rooms,
                          PrdHubRoom *room,
                          PrdSioSocket *socket,
                          const char *user_id,
                          JsonObject *joined,
                          gpointer user_data)
{
  prd_hub_metrics_member_joined (PRD_HUB_METRICS (user_data), prd_hub_room_get_prd_id (room),
                                 prd_document_get_org (prd_hub_room_get_document (room)), socket,
                                 user_id);
}

static void
on_member_left_metrics (PrdHubRoomRegistry *rooms,
                        PrdHubRoom *room,
                        PrdSioSocket *socket,
                        const char *user_id,
                        gpointer user_data)
{
  prd_hub_metrics_member_left (PRD_HUB_METRICS (user_data), prd_hub_room_get_prd_id (room), socket);
}

/* … and the AI jobs by state. */
static void
on_job_changed_metrics (PrdHubAi *ai, PrdAiJob *job, gpointer user_data)
{
  prd_hub_metrics_job_changed (PRD_HUB_METRICS (user_data), job);
}

/* Conflict review compares every committed client operation with the
 * recent ones of other users. */
static void
on_operation_committed (PrdHubRoomRegistry *rooms,
                        PrdHubRoom *room,
                        const PrdCrdtOp *op,
                        GArray *base,
                        guint client_position,
                        const char *user_id,
                        const char *user_name,
                        gpointer user_data)
{
  PrdHub *self = user_data;

  if (self->conflicts != NULL)
    prd_hub_conflicts_operation_committed (self->conflicts, room, op, base, client_position,
                                           user_id, user_name);
}

/* A PRD was renamed, archived or unarchived: an open room learns it and
 * tells its members. */
static void
on_prd_updated (PrdHubManage *manage,
                const PrdStoreInfo *info,
                JsonNode *payload,
                gpointer user_data)
{
  PrdHub *self = user_data;

  if (self->rooms == NULL)
    return;
  prd_hub_room_registry_set_info (self->rooms, info->id, info->title, info->archived_at != 0);
  prd_hub_room_registry_emit (self->rooms, info->id, "prd-updated", payload);
  /* A renamed (or unarchived) PRD may match other initiatives. */
  if (self->craftio != NULL && info->archived_at == 0)
    prd_hub_craftio_prd_titled (self->craftio, info->org, info->id, info->title, info->owner);
}

/* A user's tokens were revoked: the AI jobs and reviews they asked for
 * with those tokens end (before their connections do, so that they hear
 * of it). */
static void
on_identities_revoked (PrdHubTokens *tokens,
                       const char *org,
                       const char *user_id,
                       gint64 revoked_at,
                       gpointer user_data)
{
  PrdHub *self = user_data;

  if (self->ai != NULL)
    prd_hub_ai_identities_revoked (self->ai, org, user_id, revoked_at);
}

/* A PRD was deleted: its AI jobs end, its room tells its members and
 * closes; the features that keep a PRD's state in memory forget it. */
static void
on_prd_deleted (PrdHubManage *manage,
                const char *prd_id,
                const char *org,
                JsonNode *payload,
                gpointer user_data)
{
  PrdHub *self = user_data;

  /* Before the room closes, so that everyone who saw a job's stream start
   * hears that it ended. */
  if (self->ai != NULL)
    prd_hub_ai_prd_deleted (self->ai, prd_id);
  if (self->rooms != NULL)
    prd_hub_room_registry_close (self->rooms, prd_id, "prd-deleted", payload);
  if (self->comments != NULL)
    prd_hub_comments_prd_deleted (self->comments, prd_id);
  if (self->conflicts != NULL)
    prd_hub_conflicts_prd_deleted (self->conflicts, prd_id);
  if (self->jira != NULL)
    prd_hub_jira_prd_deleted (self->jira, prd_id, org);
}

static void
on_creation_recorded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *prd_id = user_data;

  /* The PRD exists either way; a lost feed entry is not worth failing it. */
  if (!prd_hub_notifications_record_prd_created_finish (result, &error))
    g_warning ("Cannot record the creation of %s: %s", prd_id, error->message);
}

/* The organization's activity feed shows every new PRD. */
static void
on_prd_created (PrdHubCreation *creation,
                const PrdStoreInfo *info,
                const char *actor_name,
                gpointer user_data)
{
  prd_hub_notifications_record_prd_created_async (PRD_NOTIFICATION_STORE (user_data), info,
                                                  actor_name, NULL, on_creation_recorded,
                                                  g_strdup (info->id));
}

static void
on_prd_created_here (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;
  PrdStoreInfo *info;

  info = prd_hub_creation_create_finish (PRD_HUB_CREATION (source), result, &error);
  if (info == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, info, (GDestroyNotify) prd_store_info_free);
}

/**
 * prd_hub_create_prd_async:
 * @store: where PRDs live; also a #PrdNotificationStore, whose activity
 *   feed records the creation
 * @content: (nullable): initial Markdown, stored as one insert by the hub's
 *   own site (user `hub`) so that it merges like any edit
 *
 * Creates a PRD with a fresh id (REST, the command line), wired as the hub
 * wires it: #PrdHubCreation::prd-created goes to the activity feed.
 */
void
prd_hub_create_prd_async (PrdStore *store,
                          const char *org,
                          const char *title,
                          const char *owner,
                          const char *content,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer user_data)
{
  prd_hub_create_prd_as_async (store, org, title, owner, NULL, content, cancellable, callback,
                               user_data);
}

/**
 * prd_hub_create_prd_as_async:
 * @owner_name: (nullable): the owner's display name, for the activity feed
 *
 * prd_hub_create_prd_async() with the creator's name.
 */
void
prd_hub_create_prd_as_async (PrdStore *store,
                             const char *org,
                             const char *title,
                             const char *owner,
                             const char *owner_name,
                             const char *content,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (store, cancellable, callback, user_data);
  g_autoptr (PrdHubCreation) creation = NULL;

  g_task_set_source_tag (task, prd_hub_create_prd_async);
  if (!PRD_IS_NOTIFICATION_STORE (store))
    {
      g_task_return_new_error (task, PRD_ERROR, PRD_ERROR_CONFIG,
                               "The store (%s) does not keep the activity feed",
                               G_OBJECT_TYPE_NAME (store));
      return;
    }
  creation = prd_hub_creation_new (store);
  g_signal_connect_object (creation, "prd-created", G_CALLBACK (on_prd_created), store, 0);
  prd_hub_creation_create_async (creation, org, title, owner, owner_name, content, cancellable,
                                 on_prd_created_here, g_steal_pointer (&task));
}

PrdStoreInfo *
prd_hub_create_prd_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * prd_hub_check_content_size:
 * @content: (nullable): a new PRD's text
 * @max_length: the most UTF-16 code units a PRD holds (`[collab]
 *   max-document-size`)
 *
 * Returns: %FALSE, with %PRD_ERROR_PAYLOAD_TOO_LARGE, when @content is
 *   longer than a PRD may be
 */
gboolean
prd_hub_check_content_size (const char *content, guint max_length, GError **error)
{
  guint32 units = 0;

  if (content == NULL || !prd_utf16_length (content, &units) || units <= max_length)
    return TRUE;
  g_set_error (error, PRD_ERROR, PRD_ERROR_PAYLOAD_TOO_LARGE,
               "content has %u UTF-16 code units, more than a PRD may hold (%u, "
               "max-document-size)",
               units, max_length);
  return FALSE;
}

/* What each feature keeps in the store; a store without one of these
 * cannot run the hub. */
static const struct
{
  GType (*get_type) (void);
  const char *what;
} needed_stores[] = {
  { prd_comment_store_get_type, "comments" },
  { prd_approval_store_get_type, "approvals" },
  { prd_notification_store_get_type, "notifications and the activity feed" },
  { prd_conflict_store_get_type, "conflicts" },
  { prd_version_store_get_type, "versions" },
  { prd_ai_job_store_get_type, "AI jobs" },
  { prd_manage_store_get_type, "archived PRDs" },
  { prd_revocation_store_get_type, "token revocations" },
  { prd_integration_store_get_type, "integration settings and links" },
};

/* A feature could not start: nothing of the store's half-built features
 * stays, and the caller hears which one failed and why. */
static void
start_failed (GTask *task, GError *error, const char *feature)
{
  PrdHub *self = g_task_get_source_object (task);

  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_prefix_error (&error, "%s cannot start: ", feature);
  g_clear_object (&self->versions);
  if (self->manage != NULL)
    g_signal_handlers_disconnect_by_data (self->manage, self);
  g_clear_object (&self->manage);
  g_clear_object (&self->comments);
  g_clear_object (&self->approvals);
  g_clear_object (&self->git);
  g_clear_object (&self->jira);
  g_clear_object (&self->mattermost);
  g_clear_object (&self->craftio);
  g_clear_object (&self->integrations);
  g_clear_object (&self->integration_registry);
  g_clear_object (&self->notifications);
  g_clear_object (&self->conflicts);
  g_clear_object (&self->ai);
  g_clear_object (&self->collab);
  g_clear_object (&self->rooms);
  g_clear_object (&self->store);
  self->starting = FALSE;
  g_task_return_error (task, error);
}

/* Every feature has started. */
static void
finish_start (GTask *task)
{
  PrdHub *self = g_task_get_source_object (task);

  self->starting = FALSE;
  g_task_return_boolean (task, TRUE);
}

static void
on_versions_repo_ready (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;

  if (!prd_git_repo_init_finish (PRD_GIT_REPO (source), result, &error))
    {
      start_failed (task, error, "Versions");
      return;
    }
  finish_start (task);
}

static void
on_ai_started (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PrdHub *self = g_task_get_source_object (task);
  GError *error = NULL;

  self->ai = prd_hub_ai_new_finish (result, &error);
  if (self->ai == NULL)
    {
      start_failed (task, error, "AI help");
      return;
    }
  g_signal_connect_object (self->ai, "job-changed", G_CALLBACK (on_job_changed_metrics),
                           self->metrics, 0);
  /* The versions repository exists from the start, so that git finds it
   * before the first version. */
  if (self->versions != NULL)
    {
      /* Read before the task is handed on: argument order is unspecified. */
      GCancellable *cancellable = g_task_get_cancellable (task);

      prd_git_repo_init_async (prd_hub_versions_get_repo (self->versions), cancellable,
                               on_versions_repo_ready, g_steal_pointer (&task));
      return;
    }
  finish_start (task);
}

static void
on_conflicts_started (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PrdHub *self = g_task_get_source_object (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  GError *error = NULL;

  self->conflicts = prd_hub_conflicts_new_finish (result, &error);
  if (self->conflicts == NULL)
    {
      start_failed (task, error, "Conflict review");
      return;
    }
  prd_hub_ai_new_async (prd_sio_server_of (self->sio, PRD_HUB_NAMESPACE_PRDS), self->rooms,
                        self->store, PRD_AI_JOB_STORE (self->store), self->config, NULL,
                        cancellable, on_ai_started, g_steal_pointer (&task));
}

static void
on_announced_for_mattermost (GObject *feature, PrdHubAnnounce *announce, gpointer user_data);

static void
on_comments_started (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  PrdHub *self = g_task_get_source_object (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  GError *error = NULL;

  self->comments = prd_hub_comments_new_finish (result, &error);
  if (self->comments == NULL)
    {
      start_failed (task, error, "Comments");
      return;
    }
  g_signal_connect_object (self->comments, "notifications-recorded",
                           G_CALLBACK (on_notifications_recorded), self->notifications, 0);
  if (self->mattermost != NULL)
    g_signal_connect_object (self->comments, "notifications-recorded",
                             G_CALLBACK (on_announced_for_mattermost), self->mattermost, 0);
  prd_hub_conflicts_new_async (self->rooms, self->store, PRD_CONFLICT_STORE (self->store),
                               self->config, cancellable, on_conflicts_started,
                               g_steal_pointer (&task));
}

/* ---- Mattermost hears of approvals, versions, mentions and new PRDs ---- */

static void
on_subscribed_for_mattermost (PrdHubNotifications *notifications,
                              PrdSioSocket *socket,
                              gpointer user_data)
{
  prd_hub_mattermost_subscribed (PRD_HUB_MATTERMOST (user_data), socket);
}

static void
on_version_for_mattermost (PrdHubVersions *versions,
                           const char *prd_id,
                           const char *org,
                           const char *title,
                           const char *version,
                           const char *actor_id,
                           const char *actor_name,
                           gpointer user_data)
{
  prd_hub_mattermost_announce (PRD_HUB_MATTERMOST (user_data), PRD_MATTERMOST_VERSION_CREATED, org,
                               prd_id, title, actor_name, version);
}

static const char *
member_string (JsonObject *object, const char *name)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static JsonObject *
member_object (JsonObject *object, const char *name)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

/* An approval (its `prd_approved` activity), a new PRD (`prd_created`) or
 * a comment that mentions someone (its `comment_added` activity with
 * `mention` notifications), once stored. */
static void
on_announced_for_mattermost (GObject *feature, PrdHubAnnounce *announce, gpointer user_data)
{
  PrdHubMattermost *mattermost = user_data;

  for (guint i = 0; i < announce->activities->len; i++)
    {
      JsonObject *activity = g_ptr_array_index (announce->activities, i);
      const char *type = member_string (activity, "type");
      JsonObject *object = member_object (activity, "object");
      const char *actor = member_string (member_object (activity, "actor"), "name");
      gboolean about_prd = g_strcmp0 (member_string (object, "type"), "prd") == 0;
      const char *prd_id = member_string (object, about_prd ? "id" : "prdId");

      if (prd_id == NULL)
        continue;
      if (g_strcmp0 (type, "prd_approved") == 0 || g_strcmp0 (type, "prd_created") == 0)
        prd_hub_mattermost_announce (
            mattermost,
            g_str_equal (type, "prd_approved") ? PRD_MATTERMOST_PRD_APPROVED
                                               : PRD_MATTERMOST_PRD_CREATED,
            announce->org, prd_id, member_string (object, "title"), actor, NULL);
      else if (g_strcmp0 (type, "comment_added") == 0)
        {
          g_autoptr (GString) mentioned = g_string_new (NULL);

          for (guint n = 0; n < announce->notifications->len; n++)
            if (g_strcmp0 (member_string (g_ptr_array_index (announce->notifications, n), "type"),
                           "mention") == 0 &&
                n < announce->users->len)
              g_string_append_printf (mentioned, "%s@%s", mentioned->len > 0 ? ", " : "",
                                      (const char *) g_ptr_array_index (announce->users, n));
          if (mentioned->len > 0)
            prd_hub_mattermost_announce (mattermost, PRD_MATTERMOST_COMMENT_MENTION, announce->org,
                                         prd_id, member_string (object, "title"), actor,
                                         mentioned->str);
        }
    }
}

/* A new PRD (its `prd_created` activity) is matched to Craft.io's
 * initiatives. */
static void
on_announced_for_craftio (GObject *feature, PrdHubAnnounce *announce, gpointer user_data)
{
  for (guint i = 0; i < announce->activities->len; i++)
    {
      JsonObject *activity = g_ptr_array_index (announce->activities, i);
      JsonObject *object = member_object (activity, "object");

      if (g_strcmp0 (member_string (activity, "type"), "prd_created") == 0 &&
          member_string (object, "id") != NULL && member_string (object, "title") != NULL)
        prd_hub_craftio_prd_titled (PRD_HUB_CRAFTIO (user_data), announce->org,
                                    member_string (object, "id"), member_string (object, "title"),
                                    member_string (member_object (activity, "actor"), "id"));
    }
}

/* The integration services the hub offers, each a #PrdIntegration type in
 * a folder of src/integrations/. */
static GType (*const integration_services[]) (void) = {
  prd_jira_get_type,
  prd_git_remote_get_type,
  prd_mattermost_get_type,
  prd_craftio_get_type,
};

/**
 * prd_hub_add_integration_services:
 * @config: the hub's configuration: its [integrations] group applies
 *
 * Offers every integration service of this hub in @registry (the hub's own,
 * and the command line's).
 */
void
prd_hub_add_integration_services (PrdIntegrationRegistry *registry, PrdHubConfig *config)
{
  prd_git_remote_set_file_urls_allowed (prd_hub_config_get_integrations (config)->git_file_remotes);
  for (guint i = 0; i < G_N_ELEMENTS (integration_services); i++)
    prd_integration_registry_add_service (registry, integration_services[i]());
}

/* The organization's git remote gets the new version. */
static void
on_version_created_git (PrdHubVersions *versions,
                        const char *prd_id,
                        const char *org,
                        const char *title,
                        const char *version,
                        const char *actor_id,
                        const char *actor_name,
                        gpointer user_data)
{
  prd_hub_git_version_created (PRD_HUB_GIT (user_data), org);
}

/* Integrations need a secret store for their credentials; without one
 * (an in-process hub of the tests) they are not offered. */
static void
start_integrations (PrdHub *self, PrdStore *store)
{
  if (self->secrets == NULL)
    return;
  self->integration_registry =
      prd_integration_registry_new (PRD_INTEGRATION_STORE (store), self->secrets);
  prd_hub_add_integration_services (self->integration_registry, self->config);
  self->integrations =
      prd_hub_integrations_new (self->integration_registry, PRD_NOTIFICATION_STORE (store));
  prd_hub_integrations_watch_namespace (
      self->integrations, prd_sio_server_of (self->sio, PRD_HUB_NAMESPACE_NOTIFICATIONS));
  prd_hub_integrations_watch_namespace (self->integrations,
                                        prd_sio_server_of (self->sio, PRD_HUB_NAMESPACE_PRDS));
  g_signal_connect_object (self->integrations, "notifications-recorded",
                           G_CALLBACK (on_notifications_recorded), self->notifications, 0);
  self->jira = prd_hub_jira_new (self->rooms, store, self->integration_registry,
                                 PRD_NOTIFICATION_STORE (store));
  g_signal_connect_object (self->jira, "notifications-recorded",
                           G_CALLBACK (on_notifications_recorded), self->notifications, 0);
  if (self->versions != NULL)
    {
      self->git =
          prd_hub_git_new (store, self->integration_registry,
                           prd_git_repo_get_path (prd_hub_versions_get_repo (self->versions)));
      g_signal_connect_object (self->versions, "version-created",
                               G_CALLBACK (on_version_created_git), self->git, 0);
    }
  self->mattermost =
      prd_hub_mattermost_new (self->rooms, self->integration_registry,
                              prd_sio_server_of (self->sio, PRD_HUB_NAMESPACE_NOTIFICATIONS));
  g_signal_connect_object (self->notifications, "subscribed",
                           G_CALLBACK (on_subscribed_for_mattermost), self->mattermost, 0);
  g_signal_connect_object (self->notifications, "recorded",
                           G_CALLBACK (on_announced_for_mattermost), self->mattermost, 0);
  if (self->versions != NULL)
    g_signal_connect_object (self->versions, "version-created",
                             G_CALLBACK (on_version_for_mattermost), self->mattermost, 0);
  self->craftio = prd_hub_craftio_new (self->rooms, store, self->integration_registry,
                                       PRD_NOTIFICATION_STORE (store));
  g_signal_connect_object (self->craftio, "notifications-recorded",
                           G_CALLBACK (on_notifications_recorded), self->notifications, 0);
  g_signal_connect_object (self->notifications, "recorded", G_CALLBACK (on_announced_for_craftio),
                           self->craftio, 0);
}

/**
 * prd_hub_set_secret_store:
 * @secrets: (nullable): where integration credentials live
 *
 * Offers the integrations (Jira, …), whose secrets live in @secrets. Call
 * before prd_hub_set_store_async().
 */
void
prd_hub_set_secret_store (PrdHub *self, PrdSecretStore *secrets)
{
  g_return_if_fail (PRD_IS_HUB (self));
  g_return_if_fail (self->store == NULL);

  g_set_object (&self->secrets, secrets);
}

/**
 * prd_hub_get_integration_registry:
 *
 * Returns: (transfer none) (nullable): the integrations and their settings
 */
PrdIntegrationRegistry *
prd_hub_get_integration_registry (PrdHub *self)
{
  g_return_val_if_fail (PRD_IS_HUB (self), NULL);

  return self->integration_registry;
}

/**
 * prd_hub_set_store_async:
 * @store: where PRDs live (normally `<data-dir>/prdhub.db`); it must also
 *   keep comments, approvals, notifications, conflicts, versions and AI jobs
 *   (#PrdCommentStore and the other feature stores)
 * @cancellable: (nullable): stops the start
 * @callback: called once every feature has started, or one could not
 * @user_data: data for @callback
 *
 * Starts PRD collaboration on /prds, the REST routes and every feature
 * built on them; the features that hold rows in memory load them first.
 * Call before prd_hub_listen(), once.
 */
void
prd_hub_set_store_async (PrdHub *self,
                         PrdStore *store,
                         GCancellable *cancellable,
                         GAsyncReadyCallback callback,
                         gpointer user_data)
{
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (PRD_IS_HUB (self));
  g_return_if_fail (PRD_IS_STORE (store));
  g_return_if_fail (self->store == NULL && self->server == NULL && !self->starting);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, prd_hub_set_store_async);
  for (guint i = 0; i < G_N_ELEMENTS (needed_stores); i++)
    if (!g_type_is_a (G_OBJECT_TYPE (store), needed_stores[i].get_type ()))
      {
        g_task_return_new_error (task, PRD_ERROR, PRD_ERROR_CONFIG,
                                 "The store (%s) does not keep %s", G_OBJECT_TYPE_NAME (store),
                                 needed_stores[i].what);
        return;
      }

  self->starting = TRUE;
  self->store = g_object_ref (store);
  g_signal_connect_object (self->tokens, "identities-revoked", G_CALLBACK (on_identities_revoked),
                           self, 0);
  prd_hub_tokens_set_store (self->tokens, PRD_REVOCATION_STORE (store));
  self->rooms = prd_hub_room_registry_new (prd_sio_server_of (self->sio, PRD_HUB_NAMESPACE_PRDS),
                                           store, self->config);
  g_signal_connect (self->rooms, "member-joined", G_CALLBACK (on_member_joined), self);
  g_signal_connect (self->rooms, "operation-committed", G_CALLBACK (on_operation_committed), self);
  g_signal_connect_object (self->rooms, "member-joined", G_CALLBACK (on_member_joined_metrics),
                           self->metrics, 0);
  g_signal_connect_object (self->rooms, "member-left", G_CALLBACK (on_member_left_metrics),
                           self->metrics, 0);
  self->collab =
      prd_hub_collab_new (prd_sio_server_of (self->sio, PRD_HUB_NAMESPACE_PRDS), self->rooms);
  if (prd_hub_config_get_server (self->config)->data_dir != NULL)
    self->versions =
        prd_hub_versions_new (prd_sio_server_of (self->sio, PRD_HUB_NAMESPACE_PRDS), self->rooms,
                              store, PRD_VERSION_STORE (store), self->config);
  self->notifications =
      prd_hub_notifications_new (prd_sio_server_of (self->sio, PRD_HUB_NAMESPACE_NOTIFICATIONS),
                                 store, PRD_NOTIFICATION_STORE (store));
  if (self->versions != NULL)
    g_signal_connect_object (self->versions, "version-created", G_CALLBACK (on_version_created),
                             self->notifications, 0);
  self->manage = prd_hub_manage_new (
      store, PRD_MANAGE_STORE (store),
      self->versions != NULL ? prd_hub_versions_get_repo (self->versions) : NULL);
  g_signal_connect (self->manage, "prd-updated", G_CALLBACK (on_prd_updated), self);
  g_signal_connect (self->manage, "prd-deleted", G_CALLBACK (on_prd_deleted), self);
  start_integrations (self, store);
  self->approvals = prd_hub_approvals_new (self->rooms, store, PRD_APPROVAL_STORE (store));
  g_signal_connect_object (self->approvals, "notifications-recorded",
                           G_CALLBACK (on_notifications_recorded), self->notifications, 0);
  if (self->mattermost != NULL)
    g_signal_connect_object (self->approvals, "notifications-recorded",
                             G_CALLBACK (on_announced_for_mattermost), self->mattermost, 0);
  prd_hub_comments_new_async (self->rooms, PRD_COMMENT_STORE (store), cancellable,
                              on_comments_started, g_steal_pointer (&task));
}

/**
 * prd_hub_set_store_finish:
 *
 * Returns: %TRUE once every feature has started; %FALSE with @error set
 *   (naming the feature) when one could not, and the hub then has no store
 */
gboolean
prd_hub_set_store_finish (PrdHub *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * prd_hub_set_ai_provider:
 * @provider: (nullable): the model ai-prompt uses; %NULL: AI_NOT_CONFIGURED
 *
 * Call after prd_hub_set_store_finish().
 */
void
prd_hub_set_ai_provider (PrdHub *self, PrdAiProvider *provider)
{
  g_return_if_fail (PRD_IS_HUB (self));
  g_return_if_fail (self->ai != NULL);

  prd_hub_ai_set_provider (self->ai, provider);
  if (self->craftio != NULL)
    prd_hub_craftio_set_ai_provider (self->craftio, provider);
}

PrdStore *
prd_hub_get_store (PrdHub *self)
{
  g_return_val_if_fail (PRD_IS_HUB (self), NULL);

  return self->store;
}

/**
 * prd_hub_get_rooms:
 *
 * Returns: (transfer none) (nullable): the open rooms of /prds, once the
 *   hub has a store
 */
PrdHubRoomRegistry *
prd_hub_get_rooms (PrdHub *self)
{
  g_return_val_if_fail (PRD_IS_HUB (self), NULL);

  return self->rooms;
}

/**
 * prd_hub_get_comments:
 *
 * Returns: (transfer none) (nullable): the comments feature, once the hub
 *   has a store
 */
PrdHubComments *
prd_hub_get_comments (PrdHub *self)
{
  g_return_val_if_fail (PRD_IS_HUB (self), NULL);

  return self->comments;
}

/**
 * prd_hub_get_notifications:
 *
 * Returns: (transfer none) (nullable): notifications and the activity feed
 *   (for prd_hub_notifications_version_created_async()), once the hub has a store
 */
PrdHubNotifications *
prd_hub_get_notifications (PrdHub *self)
{
  g_return_val_if_fail (PRD_IS_HUB (self), NULL);

  return self->notifications;
}

/**
 * prd_hub_get_ai:
 *
 * Returns: (transfer none) (nullable): the AI jobs, with a store
 */
PrdHubAi *
prd_hub_get_ai (PrdHub *self)
{
  g_return_val_if_fail (PRD_IS_HUB (self), NULL);

  return self->ai;
}

/**
 * prd_hub_get_versions:
 *
 * Returns: (transfer none) (nullable): versions in git, with a SQLite store
 *   and a data folder
 */
PrdHubVersions *
prd_hub_get_versions (PrdHub *self)
{
  g_return_val_if_fail (PRD_IS_HUB (self), NULL);

  return self->versions;
}

PrdHubConfig *
prd_hub_get_config (PrdHub *self)
{
  g_return_val_if_fail (PRD_IS_HUB (self), NULL);

  return self->config;
}

PrdAuth *
prd_hub_get_auth (PrdHub *self)
{
  g_return_val_if_fail (PRD_IS_HUB (self), NULL);

  return self->auth;
}

PrdSioServer *
prd_hub_get_sio_server (PrdHub *self)
{
  g_return_val_if_fail (PRD_IS_HUB (self), NULL);

  return self->sio;
}

PrdEioServer *
prd_hub_get_engine (PrdHub *self)
{
  g_return_val_if_fail (PRD_IS_HUB (self), NULL);

  return self->engine;
}
