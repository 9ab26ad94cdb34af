/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-metrics.h"
#include "prd-sio-decoder.h"
#include "prd-sio-packet.h"
#include "prd-sio-rate-limiter.h"
#include "prd-sio-server.h"
#include "prd-timer-queue.h"

G_BEGIN_DECLS

/*
 * PrdSioClient: the Socket.IO side of one Engine.IO session. It owns the
 * namespace sockets multiplexed on that session, the binary reassembly state
 * and the rate-limit buckets of its sockets that have no rate key (shared by
 * all its namespaces, so that opening more namespaces does not multiply a
 * client's budget; a socket with a key uses its user's buckets, see
 * PrdSioSharedLimiter).
 */
typedef struct _PrdSioClient
{
  grefcount ref_count;
  PrdSioServer *server;       /* (unowned) (nullable): cleared at teardown */
  PrdEioSocket *engine;       /* (owned) */
  PrdSioDecoder *decoder;     /* (owned) */
  PrdSioRateLimiter *limiter; /* (owned): for its sockets without a rate key */
  GSList *sockets;            /* (owned) (element-type PrdSioSocket): one per namespace joined;
                               * a list, not a table: a client joins one or two */
  PrdTimer connect_timer;     /* on the server's timer queue */
  guint refused_connects;     /* namespace CONNECTs answered with an error */
  guint accepted_connects;    /* namespace CONNECTs accepted */
  /* (owned) (nullable): rate-limit class → (owned) PrdSioRefusals; made at
   * the first refusal */
  GHashTable *refusals;
  gboolean receiving; /* the engine socket's receiver is this client */
  gboolean closed;
} PrdSioClient;

/* Events of one rate-limit class a client had refused since @since: each
 * class is measured against its own limit. */
typedef struct
{
  guint n_events;
  gint64 since; /* monotonic µs */
} PrdSioRefusals;

/* Namespace CONNECTs refused (unknown namespace, bad auth) before a client
 * is closed. */
#define PRD_SIO_MAX_REFUSED_CONNECTS 64

PrdSioClient *prd_sio_client_ref (PrdSioClient *client);
void prd_sio_client_unref (PrdSioClient *client);
void prd_sio_client_close (PrdSioClient *client, const char *reason);
/* The socket of @client in the namespace called @nsp, or NULL. */
PrdSioSocket *prd_sio_client_find_socket (PrdSioClient *client, const char *nsp);
/* @socket leaves @client's sockets (if it is there). */
void prd_sio_client_forget_socket (PrdSioClient *client, PrdSioSocket *socket);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdSioClient, prd_sio_client_unref)

/* The registry's families this layer counts into (prd-metrics.h), set
 * when the PrdSioServer class is initialized. */
typedef struct
{
  PrdMetric *events_received;      /* label event; unknown events as "other" */
  PrdMetric *events_sent;          /* label event, one per receiver */
  PrdMetric *ack_latency;          /* histogram: event received → ack sent */
  PrdMetric *broadcasts;           /* emits to a room or a namespace */
  PrdMetric *broadcast_deliveries; /* packets those emits sent */
  PrdMetric *rate_limit_refusals;  /* label class */
  PrdMetric *pending_ack_refusals;
} PrdSioMetrics;

extern PrdSioMetrics prd_sio_metrics;

/*
 * PrdSioSharedLimiter: the rate-limit buckets of one rate key (one user),
 * shared by every socket given that key (prd_sio_socket_set_rate_key()),
 * whatever their sessions. Each such socket holds a reference. When the
 * last one is released the buckets stay in the server's table while one of
 * their windows runs (connecting again does not refill them), and go once
 * all have ended (looked over when a socket acquires a key, at most once a
 * second), so that the table holds the keys of connected sockets and of
 * users who left within a window. Like the rest of this layer, main thread
 * only.
 */
typedef struct _PrdSioSharedLimiter PrdSioSharedLimiter;

PrdSioSharedLimiter *prd_sio_server_acquire_limiter (PrdSioServer *self, const char *key);
void prd_sio_shared_limiter_release (PrdSioSharedLimiter *shared);
PrdSioRateLimiter *prd_sio_shared_limiter_get_limiter (PrdSioSharedLimiter *shared);
/* How many rate keys have buckets now, idle ones included (for tests). */
guint prd_sio_server_get_n_rate_keys (PrdSioServer *self);

/* server */
guint prd_sio_server_get_max_pending_acks (PrdSioServer *self);
guint prd_sio_server_get_max_json_values (PrdSioServer *self);
void prd_sio_server_count_events (PrdSioServer *self, guint received, guint sent);
gboolean prd_sio_server_check_rate (PrdSioServer *self,
                                    PrdSioClient *client,
                                    PrdSioRateLimiter *limiter,
                                    const char *event,
                                    PrdSioRateInfo *info);
/* Takes one token of @event_class's bucket in @limiter (no event name:
 * the class itself, e.g. the hub's "connect"); TRUE when the class has no
 * limit. A refusal is counted in the metrics, not toward closing a client:
 * the caller answers it. */
gboolean prd_sio_server_consume_class (PrdSioServer *self,
                                       PrdSioRateLimiter *limiter,
                                       const char *event_class,
                                       PrdSioRateInfo *info);
void prd_sio_server_charge_rate (PrdSioServer *self,
                                 PrdSioRateLimiter *limiter,
                                 const char *event,
                                 guint tokens);

/* namespace */
PrdSioNamespace *prd_sio_namespace_new (PrdSioServer *server, const char *name);
PrdSioServer *prd_sio_namespace_get_server (PrdSioNamespace *self);
void prd_sio_namespace_forget_server (PrdSioNamespace *self);
gboolean prd_sio_namespace_authorize (PrdSioNamespace *self,
                                      PrdSioSocket *socket,
                                      JsonNode *auth,
                                      char **error_message,
                                      JsonNode **error_data);
void prd_sio_namespace_add_socket (PrdSioNamespace *self, PrdSioSocket *socket);
void
prd_sio_namespace_remove_socket (PrdSioNamespace *self, PrdSioSocket *socket, const char *reason);
void prd_sio_namespace_add_to_room (PrdSioNamespace *self, const char *room, PrdSioSocket *socket);
void
prd_sio_namespace_remove_from_room (PrdSioNamespace *self, const char *room, PrdSioSocket *socket);
gboolean prd_sio_namespace_handles (PrdSioNamespace *self, const char *event);
/* Adds the names of the events with a handler of their own to @names. */
void prd_sio_namespace_collect_events (PrdSioNamespace *self, GHashTable *names);
/* Whether a handler or the catch-all would take @event. */
gboolean prd_sio_namespace_takes (PrdSioNamespace *self, const char *event);
gboolean prd_sio_namespace_dispatch_text (PrdSioNamespace *self,
                                          PrdSioSocket *socket,
                                          const char *event,
                                          const char *args,
                                          gsize args_len,
                                          gint64 ack_id);
gboolean prd_sio_namespace_dispatch (PrdSioNamespace *self,
                                     PrdSioSocket *socket,
                                     const char *event,
                                     JsonArray *args,
                                     GPtrArray *attachments,
                                     gint64 ack_id);

/* socket */
PrdSioSocket *prd_sio_socket_new (PrdSioNamespace *nsp, PrdSioClient *client, JsonNode *auth);
void prd_sio_socket_set_connected (PrdSioSocket *self);
void prd_sio_socket_handle_event (PrdSioSocket *self, PrdSioPacket *packet);
/* Ends the socket's membership of its namespace once, from whichever side. */
void prd_sio_socket_close (PrdSioSocket *self, const char *reason);
void prd_sio_send_packet (PrdEioSocket *engine, const char *text, GPtrArray *attachments);
void
prd_sio_send_shared (PrdEioSocket *engine, const PrdEioPacket *message, GPtrArray *attachments);
char *prd_sio_encode_with_args (PrdSioPacketType type,
                                const char *nsp,
                                gint64 id,
                                const char *event,
                                JsonArray *args,
                                GPtrArray *attachments);
GString *prd_sio_encode_raw (PrdSioPacketType type,
                             const char *nsp,
                             gint64 id,
                             const char *event,
                             const char *args,
                             gssize args_len);

G_END_DECLS
