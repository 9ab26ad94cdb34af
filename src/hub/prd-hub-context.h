/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Private to src/hub/: what every feature shares. A feature includes this,
 * the room API (prd-hub-room.h, prd-hub-room-registry.h), core and store;
 * never another feature's header.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "prd-auth.h"
#include "prd-crdt.h"
#include "prd-error.h"
#include "prd-sio-namespace.h"
#include "prd-sio-socket.h"
#include "prd-time.h"

G_BEGIN_DECLS

/* ---- who a socket is ---- */

const PrdIdentity *prd_hub_socket_get_identity (PrdSioSocket *socket);
void prd_hub_socket_set_identity (PrdSioSocket *socket, PrdIdentity *identity);
void prd_hub_socket_renew_identity (PrdSioSocket *socket, gint64 exp, gint64 iat);

/* ---- work charged to the rate limit ---- */

void prd_hub_charge_history (PrdSioSocket *socket,
                             const char *event,
                             PrdCrdtDoc *doc,
                             const guint32 *vector,
                             gsize n_vector,
                             guint reads,
                             guint ops_per_event);

/* ---- replies ---- */

JsonNode *prd_hub_error_to_json (const GError *error);
void prd_hub_ack (PrdSioSocket *socket, gint64 ack_id, JsonObject *members);
void prd_hub_reply_ok (PrdSioSocket *socket, gint64 ack_id, JsonObject *members);
void prd_hub_reply_ok_raw (PrdSioSocket *socket, gint64 ack_id, const char *members, gssize len);
void prd_hub_reply_error (PrdSioSocket *socket,
                          gint64 ack_id,
                          const char *event,
                          const char *prd_id,
                          const GError *error);
void prd_hub_reply_error_literal (PrdSioSocket *socket,
                                  gint64 ack_id,
                                  const char *event,
                                  const char *prd_id,
                                  PrdErrorCode code,
                                  const char *message);

/* ---- payload readers ---- */

JsonObject *prd_hub_payload_get_object (PrdSioSocket *socket,
                                        const char *event,
                                        JsonArray *args,
                                        gint64 ack_id);
JsonObject *prd_hub_payload_get_prd (PrdSioSocket *socket,
                                     const char *event,
                                     JsonArray *args,
                                     gint64 ack_id,
                                     const char **out_prd_id);
JsonObject *prd_hub_payload_peek_object (JsonArray *args);
const char *prd_hub_json_get_string (JsonObject *object, const char *name, GError **error);
gboolean prd_hub_json_get_optional_string (JsonObject *object,
                                           const char *name,
                                           const char **out,
                                           GError **error);
gboolean prd_hub_json_get_offset (
    JsonObject *object, const char *name, const char *what, guint32 *out, GError **error);
gboolean prd_hub_json_get_optional_vector (
    JsonObject *object, const char *name, const char *what, GArray **out, GError **error);

/* ---- event tables ---- */

/**
 * PrdHubEventEntry:
 * @name: the event
 * @handler: its handler; called with the user data given to
 *   prd_hub_add_events()
 *
 * One row of a feature's static event table, in the spirit of
 * #GActionEntry.
 */
typedef struct
{
  const char *name;
  PrdSioEventFunc handler;
} PrdHubEventEntry;

void prd_hub_add_events (PrdSioNamespace *nsp,
                         const PrdHubEventEntry *entries,
                         gsize n_entries,
                         gpointer user_data);
void prd_hub_remove_events (PrdSioNamespace *nsp, const PrdHubEventEntry *entries, gsize n_entries);

G_END_DECLS
