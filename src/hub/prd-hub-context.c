/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The shared hub context: what every feature of src/hub/ needs from the
 * socket layer, written once.
 *
 * Replies have one behaviour. An error is an `error` event (the protocol's
 * error object plus `event` and, when valid, `prdId`) and, if the client
 * asked for one, an ack `{error: {code, message}}`; success is an ack
 * `{ok: true, …}`. Nothing is sent to a socket that is no longer connected:
 * its acks could not be delivered anyway (the Socket.IO layer drops them),
 * and checking first saves building them.
 *
 * Payload readers answer bad input with the seed's codes
 * (INVALID_PAYLOAD, INVALID_PRD_ID, …) and messages.
 */
#define G_LOG_DOMAIN "prd-hub-context"

#include "config.h"

#include <string.h>

#include "prd-crdt.h"
#include "prd-store.h"

#include "prd-hub-context.h"

#define IDENTITY_KEY "prd-hub-identity"

/**
 * prd_hub_charge_history:
 * @event: the request, whose rate-limit class pays
 * @vector: (array length=n_vector) (nullable): the version @reads positions
 *   were read at
 * @reads: how many positions were read there
 * @ops_per_event: `[collab] history-ops-per-event`
 *
 * Reading a position at an older version walks back through every
 * operation since (prd_crdt_doc_anchor_at_version(), a content-update's
 * base vector): on a long history that costs milliseconds, where an
 * ordinary request costs microseconds. Every @ops_per_event operations
 * walked count as one more event of the request's class, so that the rate
 * limit bounds the work and not only the requests.
 */
void
prd_hub_charge_history (PrdSioSocket *socket,
                        const char *event,
                        PrdCrdtDoc *doc,
                        const guint32 *vector,
                        gsize n_vector,
                        guint reads,
                        guint ops_per_event)
{
  guint64 walked;

  if (reads == 0 || ops_per_event == 0)
    return;
  walked = prd_crdt_doc_count_missing (doc, vector, n_vector) * reads;
  if (walked >= ops_per_event)
    prd_sio_socket_charge_rate (socket, event, (guint) MIN (walked / ops_per_event, G_MAXUINT));
}

/**
 * prd_hub_socket_get_identity:
 * @socket: a socket admitted by the hub
 *
 * Returns: (transfer none) (nullable): who @socket authenticated as
 */
const PrdIdentity *
prd_hub_socket_get_identity (PrdSioSocket *socket)
{
  g_return_val_if_fail (PRD_IS_SIO_SOCKET (socket), NULL);

  return g_object_get_data (G_OBJECT (socket), IDENTITY_KEY);
}

/**
 * prd_hub_socket_set_identity:
 * @identity: (transfer full): who @socket authenticated as
 *
 * Called once, by the hub's connect check.
 */
void
prd_hub_socket_set_identity (PrdSioSocket *socket, PrdIdentity *identity)
{
  g_return_if_fail (PRD_IS_SIO_SOCKET (socket));

  g_object_set_data_full (G_OBJECT (socket), IDENTITY_KEY, identity,
                          (GDestroyNotify) prd_identity_free);
}

/**
 * prd_hub_socket_renew_identity:
 * @exp: the fresh token's expiry
 * @iat: the fresh token's issue time (0: none)
 *
 * The socket's user sent a fresh token (`refresh-token`): the identity stays
 * (features may hold it), its token times change.
 */
void
prd_hub_socket_renew_identity (PrdSioSocket *socket, gint64 exp, gint64 iat)
{
  PrdIdentity *identity;

  g_return_if_fail (PRD_IS_SIO_SOCKET (socket));

  identity = g_object_get_data (G_OBJECT (socket), IDENTITY_KEY);
  g_return_if_fail (identity != NULL);
  identity->exp = exp;
  identity->iat = iat;
}

/**
 * prd_hub_error_to_json:
 * @error: a #GError, normally of %PRD_ERROR
 *
 * Returns: (transfer full): the protocol's error object
 *   `{code, message, timestamp}`; the message is valid UTF-8 even when it
 *   quotes client input that was not (a JSON string may hold a lone
 *   surrogate escape)
 */
JsonNode *
prd_hub_error_to_json (const GError *error)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autofree char *timestamp = prd_time_format_now ();
  g_autofree char *message = NULL;

  g_return_val_if_fail (error != NULL, NULL);

  message = g_utf8_make_valid (error->message, -1);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "code");
  json_builder_add_string_value (builder, prd_error_get_protocol_code (error));
  json_builder_set_member_name (builder, "message");
  json_builder_add_string_value (builder, message);
  json_builder_set_member_name (builder, "timestamp");
  json_builder_add_string_value (builder, timestamp);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

/**
 * prd_hub_ack:
 * @ack_id: the client's ack id, or -1 (nothing is sent)
 * @members: (transfer full) (nullable): the ack's object (empty if %NULL)
 *
 * Answers @ack_id with @members as they are.
 */
void
prd_hub_ack (PrdSioSocket *socket, gint64 ack_id, JsonObject *members)
{
  g_autoptr (JsonNode) ack = NULL;
  JsonObject *object = members != NULL ? members : json_object_new ();

  if (ack_id < 0 || !prd_sio_socket_is_connected (socket))
    {
      json_object_unref (object);
      return;
    }
  ack = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (ack, object);
  prd_sio_socket_ack_one (socket, ack_id, ack);
}

/**
 * prd_hub_reply_ok:
 * @members: (transfer full) (nullable): extra members of the ack
 *
 * Answers @ack_id with `{ok: true, …@members}`.
 */
void
prd_hub_reply_ok (PrdSioSocket *socket, gint64 ack_id, JsonObject *members)
{
  JsonObject *object = members != NULL ? members : json_object_new ();

  json_object_set_boolean_member (object, "ok", TRUE);
  prd_hub_ack (socket, ack_id, object);
}

/**
 * prd_hub_reply_ok_raw:
 * @members: (nullable): the ack's other members as JSON text, written
 *   directly (`"stateVector":[1,2]`); %NULL or empty for none
 * @len: the length of @members, or -1 when nul-terminated
 *
 * prd_hub_reply_ok() for members written as text: answers @ack_id with
 * `{…@members,"ok":true}`, the text prd_hub_reply_ok() sends for the same
 * members.
 */
void
prd_hub_reply_ok_raw (PrdSioSocket *socket, gint64 ack_id, const char *members, gssize len)
{
  g_autoptr (GString) text = NULL;

  if (ack_id < 0 || !prd_sio_socket_is_connected (socket))
    return;
  if (members == NULL)
    len = 0;
  else if (len < 0)
    len = (gssize) strlen (members);
  text = g_string_sized_new ((gsize) len + 16);
  g_string_append_c (text, '{');
  if (len > 0)
    {
      g_string_append_len (text, members, len);
      g_string_append_c (text, ',');
    }
  g_string_append (text, "\"ok\":true}");
  prd_sio_socket_ack_raw (socket, ack_id, text->str, (gssize) text->len);
}

/**
 * prd_hub_reply_error:
 * @event: the event that failed
 * @prd_id: (nullable): the PRD it was about; left out unless valid UTF-8
 *
 * Sends an `error` event and, if asked for, an error ack.
 */
void
prd_hub_reply_error (
    PrdSioSocket *socket, gint64 ack_id, const char *event, const char *prd_id, const GError *error)
{
  g_autoptr (JsonNode) payload = NULL;
  JsonObject *object, *inner;

  if (!prd_sio_socket_is_connected (socket))
    return;
  payload = prd_hub_error_to_json (error);
  object = json_node_get_object (payload);
  if (event != NULL)
    json_object_set_string_member (object, "event", event);
  if (prd_id != NULL && g_utf8_validate (prd_id, -1, NULL))
    json_object_set_string_member (object, "prdId", prd_id);
  prd_sio_socket_emit_one (socket, "error", payload);
  if (ack_id < 0)
    return;
  inner = json_object_new ();
  json_object_set_string_member (inner, "code", prd_error_get_protocol_code (error));
  /* The error object's message: valid UTF-8 (prd_hub_error_to_json()). */
  json_object_set_string_member (inner, "message",
                                 json_object_get_string_member (object, "message"));
  object = json_object_new ();
  json_object_set_object_member (object, "error", inner);
  prd_hub_ack (socket, ack_id, object);
}

void
prd_hub_reply_error_literal (PrdSioSocket *socket,
                             gint64 ack_id,
                             const char *event,
                             const char *prd_id,
                             PrdErrorCode code,
                             const char *message)
{
  g_autoptr (GError) error = g_error_new_literal (PRD_ERROR, code, message);

  prd_hub_reply_error (socket, ack_id, event, prd_id, error);
}

/**
 * prd_hub_payload_peek_object:
 *
 * Returns: (transfer none) (nullable): the event's first argument if it is
 *   an object; nothing is replied
 */
JsonObject *
prd_hub_payload_peek_object (JsonArray *args)
{
  JsonNode *payload = json_array_get_length (args) > 0 ? json_array_get_element (args, 0) : NULL;

  return payload != NULL && JSON_NODE_HOLDS_OBJECT (payload) ? json_node_get_object (payload)
                                                             : NULL;
}

/**
 * prd_hub_payload_get_object:
 *
 * Returns: (transfer none) (nullable): the event's first argument, or
 *   %NULL after replying INVALID_PAYLOAD when it is not an object
 */
JsonObject *
prd_hub_payload_get_object (PrdSioSocket *socket, const char *event, JsonArray *args, gint64 ack_id)
{
  JsonObject *object = prd_hub_payload_peek_object (args);

  if (object == NULL)
    prd_hub_reply_error_literal (socket, ack_id, event, NULL, PRD_ERROR_INVALID_PAYLOAD,
                                 "The payload must be an object");
  return object;
}

/**
 * prd_hub_payload_get_prd:
 * @out_prd_id: (out) (transfer none): its valid `prdId`
 *
 * Reads an event about one PRD: an object with a valid string `prdId`.
 *
 * Returns: (transfer none) (nullable): the payload, or %NULL after replying
 *   INVALID_PAYLOAD or INVALID_PRD_ID
 */
JsonObject *
prd_hub_payload_get_prd (PrdSioSocket *socket,
                         const char *event,
                         JsonArray *args,
                         gint64 ack_id,
                         const char **out_prd_id)
{
  g_autoptr (GError) error = NULL;
  JsonObject *object;
  JsonNode *id_node;

  *out_prd_id = NULL;
  object = prd_hub_payload_get_object (socket, event, args, ack_id);
  if (object == NULL)
    return NULL;
  id_node = json_object_get_member (object, "prdId");
  if (id_node == NULL || !JSON_NODE_HOLDS_VALUE (id_node) ||
      json_node_get_value_type (id_node) != G_TYPE_STRING)
    {
      prd_hub_reply_error_literal (socket, ack_id, event, NULL, PRD_ERROR_INVALID_PAYLOAD,
                                   "prdId must be a string");
      return NULL;
    }
  if (!prd_store_validate_prd_id (json_node_get_string (id_node), &error))
    {
      prd_hub_reply_error (socket, ack_id, event, NULL, error);
      return NULL;
    }
  *out_prd_id = json_node_get_string (id_node);
  return object;
}

/**
 * prd_hub_json_get_string:
 *
 * Returns: (transfer none) (nullable): the string member @name, or %NULL
 *   with @error set (INVALID_PAYLOAD) when it is missing or not a string
 */
const char *
prd_hub_json_get_string (JsonObject *object, const char *name, GError **error)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "%s must be a string", name);
      return NULL;
    }
  return json_node_get_string (node);
}

/**
 * prd_hub_json_get_optional_string:
 * @out: (out) (transfer none) (nullable): the string, %NULL when the member
 *   is missing or null
 *
 * Returns: %FALSE with @error set (INVALID_PAYLOAD) when the member is
 *   there but not a string
 */
gboolean
prd_hub_json_get_optional_string (JsonObject *object,
                                  const char *name,
                                  const char **out,
                                  GError **error)
{
  JsonNode *node = json_object_get_member (object, name);

  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  *out = prd_hub_json_get_string (object, name, error);
  return *out != NULL;
}

/**
 * prd_hub_json_get_offset:
 * @what: how the message names the member
 *
 * Reads a non-negative 32-bit integer member.
 */
gboolean
prd_hub_json_get_offset (
    JsonObject *object, const char *name, const char *what, guint32 *out, GError **error)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64 || json_node_get_int (node) < 0 ||
      json_node_get_int (node) > G_MAXINT32)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "%s must be a non-negative integer",
                   what);
      return FALSE;
    }
  *out = (guint32) json_node_get_int (node);
  return TRUE;
}

/**
 * prd_hub_json_get_optional_vector:
 * @what: (nullable): how the message names the member, or %NULL to give
 *   the vector reader's message alone
 * @out: (out) (transfer full) (nullable): the state vector, %NULL when the
 *   member is missing or null
 *
 * Reads a CRDT state vector member (prd_crdt_vector_from_json()).
 *
 * Returns: %FALSE with @error set (INVALID_PAYLOAD) when the member is
 *   there but not a state vector
 */
gboolean
prd_hub_json_get_optional_vector (
    JsonObject *object, const char *name, const char *what, GArray **out, GError **error)
{
  JsonNode *node = json_object_get_member (object, name);
  g_autoptr (GError) local_error = NULL;

  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  *out = prd_crdt_vector_from_json (node, &local_error);
  if (*out != NULL)
    return TRUE;
  if (what != NULL)
    g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "%s: %s", what, local_error->message);
  else
    g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, local_error->message);
  return FALSE;
}

/**
 * prd_hub_add_events:
 * @entries: (array length=n_entries): a feature's static event table
 * @user_data: given to every handler
 *
 * Installs every handler of @entries on @nsp.
 */
void
prd_hub_add_events (PrdSioNamespace *nsp,
                    const PrdHubEventEntry *entries,
                    gsize n_entries,
                    gpointer user_data)
{
  g_return_if_fail (PRD_IS_SIO_NAMESPACE (nsp));

  for (gsize i = 0; i < n_entries; i++)
    prd_sio_namespace_on (nsp, entries[i].name, entries[i].handler, user_data);
}

/**
 * prd_hub_remove_events:
 *
 * Removes what prd_hub_add_events() installed: the namespace may outlive
 * the feature, and no handler may point to it any more.
 */
void
prd_hub_remove_events (PrdSioNamespace *nsp, const PrdHubEventEntry *entries, gsize n_entries)
{
  g_return_if_fail (PRD_IS_SIO_NAMESPACE (nsp));

  for (gsize i = 0; i < n_entries; i++)
    prd_sio_namespace_on (nsp, entries[i].name, NULL, NULL);
}
