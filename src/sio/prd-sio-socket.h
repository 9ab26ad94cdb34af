/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

#include "prd-eio-socket.h"
#include "prd-sio-rate-limiter.h"
#include "prd-sio-namespace.h"

G_BEGIN_DECLS

#define PRD_TYPE_SIO_SOCKET (prd_sio_socket_get_type ())
G_DECLARE_FINAL_TYPE (PrdSioSocket, prd_sio_socket, PRD, SIO_SOCKET, GObject)

/*
 * PrdSioSocket: one client's connection to one namespace. Holds a weak link
 * to its engine socket. Application data rides on it with g_object_set_data_full().
 *
 * Signals: "disconnected" (const char *reason), once.
 */

const char *prd_sio_socket_get_id (PrdSioSocket *self);
PrdSioNamespace *prd_sio_socket_get_namespace (PrdSioSocket *self);
/* (transfer none) (nullable): NULL once disconnected */
PrdEioSocket *prd_sio_socket_get_engine (PrdSioSocket *self);
const char *prd_sio_socket_get_remote_address (PrdSioSocket *self);
const char *prd_sio_socket_get_transport_name (PrdSioSocket *self);
/* (nullable): the CONNECT payload as sent; NULL when the client sent none */
JsonNode *prd_sio_socket_get_auth (PrdSioSocket *self);
gboolean prd_sio_socket_is_connected (PrdSioSocket *self);
/* When the namespace accepted the CONNECT, in µs since the epoch; 0 before. */
gint64 prd_sio_socket_get_connected_at (PrdSioSocket *self);

void prd_sio_socket_emit (PrdSioSocket *self,
                          const char *event,
                          JsonArray *args,
                          GPtrArray *attachments);
void prd_sio_socket_emit_one (PrdSioSocket *self, const char *event, JsonNode *payload);
void
prd_sio_socket_ack (PrdSioSocket *self, gint64 ack_id, JsonArray *args, GPtrArray *attachments);
void prd_sio_socket_ack_one (PrdSioSocket *self, gint64 ack_id, JsonNode *payload);
/* The same with arguments written as JSON text already (values separated
 * by commas; @args_len -1 when nul-terminated), no attachments. */
void
prd_sio_socket_emit_raw (PrdSioSocket *self, const char *event, const char *args, gssize args_len);
void prd_sio_socket_ack_raw (PrdSioSocket *self, gint64 ack_id, const char *args, gssize args_len);

void prd_sio_socket_join (PrdSioSocket *self, const char *room);
void prd_sio_socket_leave (PrdSioSocket *self, const char *room);
gboolean prd_sio_socket_in_room (PrdSioSocket *self, const char *room);
/* Server-side disconnect from this namespace: sends DISCONNECT. */
void prd_sio_socket_disconnect (PrdSioSocket *self);

void prd_sio_socket_set_rate_key (PrdSioSocket *self, const char *key);
void prd_sio_socket_charge_rate (PrdSioSocket *self, const char *event, guint tokens);
gboolean
prd_sio_socket_consume_rate (PrdSioSocket *self, const char *event_class, PrdSioRateInfo *info);
/* How many namespace CONNECTs the socket's Engine.IO session had accepted
 * before this socket's (0 for its first; its own counts once accepted). */
guint prd_sio_socket_get_session_connects (PrdSioSocket *self);

/* JSON values in an event's payload that count as one more event of its
 * rate-limit class. */
#define PRD_SIO_VALUES_PER_EVENT 4096

G_END_DECLS
