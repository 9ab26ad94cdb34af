/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define PRD_TYPE_SIO_NAMESPACE (prd_sio_namespace_get_type ())
G_DECLARE_FINAL_TYPE (PrdSioNamespace, prd_sio_namespace, PRD, SIO_NAMESPACE, GObject)

typedef struct _PrdSioSocket PrdSioSocket;

/**
 * PrdSioConnectFunc:
 * @auth: (nullable): the CONNECT packet's payload (the client's `auth`)
 * @error_message: (out): on refusal, the CONNECT_ERROR `message`
 * @error_data: (out) (transfer full) (nullable): on refusal, its `data`
 *
 * Decides whether @socket may join the namespace. Nothing of the socket is
 * dispatched before this returns %TRUE.
 */
typedef gboolean (*PrdSioConnectFunc) (PrdSioNamespace *nsp,
                                       PrdSioSocket *socket,
                                       JsonNode *auth,
                                       char **error_message,
                                       JsonNode **error_data,
                                       gpointer user_data);

/**
 * PrdSioEventFunc:
 * @args: the event's arguments after the name (may be empty); owned by
 *   the caller for the duration of the call (json_array_ref() to keep)
 * @attachments: (nullable) (element-type GBytes): binary attachments
 * @ack_id: the ack id the client asked for, or -1; answer it with
 *   prd_sio_socket_ack(), now or later
 */
typedef void (*PrdSioEventFunc) (PrdSioSocket *socket,
                                 const char *event,
                                 JsonArray *args,
                                 GPtrArray *attachments,
                                 gint64 ack_id,
                                 gpointer user_data);

/**
 * PrdSioTextEventFunc:
 * @args: the event's arguments after the name as JSON text, checked
 *   (prd_json_validate()): values separated by commas, possibly none; read
 *   it with a #PrdJsonCursor. Owned by the caller for the duration of the
 *   call.
 * @args_len: its length in bytes
 * @ack_id: as for #PrdSioEventFunc
 *
 * An event handler's form without a tree (see
 * prd_sio_namespace_set_text_handler()).
 *
 * Returns: %TRUE when it took the event; %FALSE, having done nothing, to have
 *   the event handler called with the arguments as a tree instead
 */
typedef gboolean (*PrdSioTextEventFunc) (PrdSioSocket *socket,
                                         const char *event,
                                         const char *args,
                                         gsize args_len,
                                         gint64 ack_id,
                                         gpointer user_data);

/*
 * Signals:
 *   "connection"    (PrdSioSocket *socket)                  after a CONNECT was accepted
 *   "disconnection" (PrdSioSocket *socket, const char *reason)  once per socket
 *   "unhandled-event" is not a signal: events without a handler are answered
 *   with an `error` event (code UNKNOWN_EVENT) and, for acks, an ack error.
 */

const char *prd_sio_namespace_get_name (PrdSioNamespace *self);
void prd_sio_namespace_set_connect_func (PrdSioNamespace *self,
                                         PrdSioConnectFunc func,
                                         gpointer user_data,
                                         GDestroyNotify destroy);
void prd_sio_namespace_set_keep_auth (PrdSioNamespace *self, gboolean keep);
gboolean prd_sio_namespace_get_keep_auth (PrdSioNamespace *self);
/* One handler per event; a later call replaces it, a NULL @func removes it.
 * Events with neither a handler nor a catch-all get UNKNOWN_EVENT. */
void prd_sio_namespace_on (PrdSioNamespace *self,
                           const char *event,
                           PrdSioEventFunc func,
                           gpointer user_data);
void prd_sio_namespace_set_text_handler (PrdSioNamespace *self,
                                         const char *event,
                                         PrdSioTextEventFunc func);
void
prd_sio_namespace_set_catch_all (PrdSioNamespace *self, PrdSioEventFunc func, gpointer user_data);
guint prd_sio_namespace_get_n_sockets (PrdSioNamespace *self);
/* (transfer full): new array holding references; @room NULL = all sockets */
GPtrArray *prd_sio_namespace_get_room_sockets (PrdSioNamespace *self, const char *room);
/* Broadcast @event with @args (and @attachments) to every socket in @room
 * (NULL: the whole namespace) except @except. The packet is encoded once. */
void prd_sio_namespace_emit (PrdSioNamespace *self,
                             const char *room,
                             PrdSioSocket *except,
                             const char *event,
                             JsonArray *args,
                             GPtrArray *attachments);
/* The same with the arguments after the event name written as JSON text
 * already (values separated by commas; @args_len -1 when nul-terminated),
 * no attachments. */
void prd_sio_namespace_emit_raw (PrdSioNamespace *self,
                                 const char *room,
                                 PrdSioSocket *except,
                                 const char *event,
                                 const char *args,
                                 gssize args_len);
/* Convenience: one payload argument (consumed is NOT taken; caller keeps it) */
void prd_sio_namespace_emit_one (PrdSioNamespace *self,
                                 const char *room,
                                 PrdSioSocket *except,
                                 const char *event,
                                 JsonNode *payload);

G_END_DECLS
