/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Socket.IO v5 packet codec: `<type>[<#attachments>-][<nsp>,][<ackId>][JSON]`.
 *
 * The decoder is deliberately stricter than socket.io-parser: every field has
 * one canonical spelling (no leading zeros, no empty numbers), payloads must
 * have the shape their type calls for, and placeholders must point at an
 * announced attachment. Whatever a stock client sends is accepted; anything
 * else is refused with a message that says which part is wrong, so that the
 * connection can be closed with a useful log line. The one exception is a
 * payload that is well-formed JSON but has a string holding U+0000 or an
 * unpaired surrogate: such a packet decodes, marked unusable, so that the
 * event can be answered with INVALID_PAYLOAD (its name and ack id are known)
 * while the connection stays open. Encoding is the exact inverse for
 * canonical input.
 *
 * A payload holding more JSON values than the caller's limit is never made
 * into a tree at all: a megabyte of `[{},{},…]` is a third of a million
 * nodes, whose building costs a hundred times what checking the text does.
 * Such a packet keeps its frame only and is refused by the socket
 * (PAYLOAD_TOO_LARGE), the connection staying open.
 *
 * An EVENT named by a string (what clients send) is checked but not made
 * into a tree when it is decoded: the packet keeps its text, and the tree is
 * built only if a handler asks for it (prd_sio_packet_get_data()); an event
 * with a text handler never needs one (prd_sio_namespace_set_text_handler()).
 */
#define G_LOG_DOMAIN "prd-sio"

#include "config.h"

#include "prd-error.h"
#include "prd-json.h"
#include "prd-sio-packet.h"

static const char *const type_names[] = {
  "CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK",
};

static const char *const reserved_events[] = {
  "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
};

/**
 * prd_sio_packet_new:
 * @nsp: (nullable): namespace, "/" when %NULL
 * @id: ack id or -1
 * @data: (transfer full) (nullable): the JSON payload
 */
PrdSioPacket *
prd_sio_packet_new (PrdSioPacketType type, const char *nsp, gint64 id, JsonNode *data)
{
  PrdSioPacket *packet = g_new0 (PrdSioPacket, 1);

  packet->type = type;
  packet->nsp = g_strdup (nsp != NULL ? nsp : "/");
  packet->id = id;
  packet->data = data;
  return packet;
}

void
prd_sio_packet_free (PrdSioPacket *packet)
{
  if (packet == NULL)
    return;
  g_free (packet->nsp);
  g_clear_pointer (&packet->data, json_node_unref);
  g_free (packet->text);
  g_free (packet->event);
  g_clear_pointer (&packet->attachments, g_ptr_array_unref);
  g_free (packet);
}

static gboolean
is_binary_type (PrdSioPacketType type)
{
  return type == PRD_SIO_PACKET_BINARY_EVENT || type == PRD_SIO_PACKET_BINARY_ACK;
}

/**
 * prd_sio_packet_encode:
 *
 * Returns: (transfer full): the text part of @packet; for binary types the
 *   attachments follow as separate binary messages. The attachment count is
 *   the length of @attachments when set, else @n_attachments.
 */
char *
prd_sio_packet_encode (const PrdSioPacket *packet)
{
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (packet != NULL, NULL);

  g_string_append_c (out, (char) ('0' + packet->type));
  if (is_binary_type (packet->type))
    g_string_append_printf (
        out, "%u-", packet->attachments != NULL ? packet->attachments->len : packet->n_attachments);
  if (packet->nsp != NULL && g_strcmp0 (packet->nsp, "/") != 0)
    {
      g_string_append (out, packet->nsp);
      g_string_append_c (out, ',');
    }
  if (packet->id >= 0)
    g_string_append_printf (out, "%" G_GINT64_FORMAT, packet->id);
  if (packet->data != NULL || packet->text != NULL)
    {
      g_autoptr (JsonNode) built = NULL;
      g_autofree char *json = NULL;

      /* canonical, whatever spacing a decoded packet's text had */
      if (packet->data == NULL)
        built = prd_json_build_checked (packet->text, (gssize) packet->text_len,
                                        PRD_JSON_PARSE_DEFAULT);
      json = prd_json_to_string (packet->data != NULL ? packet->data : built);
      g_string_append (out, json);
    }
  return g_string_free (out, FALSE);
}

static JsonNode *build_frame (const char *json, gsize len);
static void keep_frame_only (PrdSioPacket *packet);

/**
 * prd_sio_packet_get_data:
 *
 * The packet's payload as a tree, built now if the packet was decoded
 * without one (see #PrdSioPacket.text).
 *
 * Returns: (transfer none) (nullable): the payload
 */
JsonNode *
prd_sio_packet_get_data (PrdSioPacket *packet)
{
  g_return_val_if_fail (packet != NULL, NULL);

  if (packet->data == NULL && packet->text != NULL)
    {
      /* never the tree of a payload refused for its size */
      if (packet->too_many_values)
        {
          packet->data = build_frame (packet->text, packet->text_len);
          keep_frame_only (packet);
        }
      else
        packet->data = prd_json_build_checked (packet->text, (gssize) packet->text_len,
                                               PRD_JSON_PARSE_IMMUTABLE);
    }
  return packet->data;
}

static void set_invalid (GError **error, const char *format, va_list args) G_GNUC_PRINTF (2, 0);

static void
set_invalid (GError **error, const char *format, va_list args)
{
  g_autofree char *msg = g_strdup_vprintf (format, args);

  g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "Invalid Socket.IO packet: %s", msg);
}

static gboolean invalid (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError **error, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  set_invalid (error, format, args);
  va_end (args);
  return FALSE;
}

static gpointer invalid_packet (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gpointer
invalid_packet (GError **error, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  set_invalid (error, format, args);
  va_end (args);
  return NULL;
}

/* Every {"_placeholder":true,...} must name an attachment that exists. */
static gboolean
check_placeholders (JsonNode *node, guint n_attachments, GError **error)
{
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        if (!check_placeholders (json_array_get_element (array, i), n_attachments, error))
          return FALSE;
    }
  else if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *object = json_node_get_object (node);
      JsonNode *flag = json_object_get_member (object, "_placeholder");
      JsonObjectIter iter;
      JsonNode *member;

      if (flag != NULL && JSON_NODE_HOLDS_VALUE (flag) &&
          json_node_get_value_type (flag) == G_TYPE_BOOLEAN && json_node_get_boolean (flag))
        {
          JsonNode *num = json_object_get_member (object, "num");

          if (num == NULL || !JSON_NODE_HOLDS_VALUE (num) ||
              json_node_get_value_type (num) != G_TYPE_INT64 || json_node_get_int (num) < 0 ||
              json_node_get_int (num) >= n_attachments)
            return invalid (error, "placeholder does not name one of the %u attachments",
                            n_attachments);
          return TRUE;
        }
      json_object_iter_init (&iter, object);
      while (json_object_iter_next (&iter, NULL, &member))
        if (!check_placeholders (member, n_attachments, error))
          return FALSE;
    }
  return TRUE;
}

static gboolean
check_event_name (const char *name, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (reserved_events); i++)
    if (g_str_equal (name, reserved_events[i]))
      return invalid (error, "event name \"%s\" is reserved", reserved_events[i]);
  return TRUE;
}

static gboolean
check_payload (PrdSioPacket *packet, GError **error)
{
  JsonNode *data = packet->data;
  const char *type = type_names[packet->type];

  switch (packet->type)
    {
      case PRD_SIO_PACKET_CONNECT:
        if (data != NULL && !JSON_NODE_HOLDS_OBJECT (data))
          return invalid (error, "CONNECT payload must be an object");
        return TRUE;

      case PRD_SIO_PACKET_DISCONNECT:
        if (data != NULL)
          return invalid (error, "DISCONNECT takes no payload");
        return TRUE;

      case PRD_SIO_PACKET_CONNECT_ERROR:
        if (data == NULL ||
            !(JSON_NODE_HOLDS_OBJECT (data) ||
              (JSON_NODE_HOLDS_VALUE (data) && json_node_get_value_type (data) == G_TYPE_STRING)))
          return invalid (error, "CONNECT_ERROR payload must be an object or a string");
        return TRUE;

      case PRD_SIO_PACKET_EVENT:
      case PRD_SIO_PACKET_BINARY_EVENT:
        {
          JsonArray *array;
          JsonNode *name;

          if (data == NULL || !JSON_NODE_HOLDS_ARRAY (data))
            return invalid (error, "%s payload must be an array", type);
          array = json_node_get_array (data);
          if (json_array_get_length (array) == 0)
            return invalid (error, "%s payload must not be empty", type);
          name = json_array_get_element (array, 0);
          if (!JSON_NODE_HOLDS_VALUE (name) || (json_node_get_value_type (name) != G_TYPE_STRING &&
                                                json_node_get_value_type (name) != G_TYPE_INT64 &&
                                                json_node_get_value_type (name) != G_TYPE_DOUBLE))
            return invalid (error, "event name must be a string or a number");
          if (json_node_get_value_type (name) == G_TYPE_STRING &&
              !check_event_name (json_node_get_string (name), error))
            return FALSE;
          break;
        }

      case PRD_SIO_PACKET_ACK:
      case PRD_SIO_PACKET_BINARY_ACK:
        if (data == NULL || !JSON_NODE_HOLDS_ARRAY (data))
          return invalid (error, "%s payload must be an array", type);
        if (packet->id < 0)
          return invalid (error, "%s needs an ack id", type);
        break;

      default:
        g_assert_not_reached ();
    }

  if (is_binary_type (packet->type))
    return check_placeholders (data, packet->n_attachments, error);
  return TRUE;
}

/* An unusable payload must never reach a handler, not even with U+FFFD in
 * place of what the client sent: keep what answering the packet needs. */
static void
keep_frame_only (PrdSioPacket *packet)
{
  JsonArray *frame;

  switch (packet->type)
    {
      case PRD_SIO_PACKET_EVENT:
      case PRD_SIO_PACKET_BINARY_EVENT:
        frame = json_array_new ();
        json_array_add_element (
            frame, json_node_copy (json_array_get_element (json_node_get_array (packet->data), 0)));
        break;

      case PRD_SIO_PACKET_ACK:
      case PRD_SIO_PACKET_BINARY_ACK:
        frame = json_array_new ();
        break;

      default:
        g_clear_pointer (&packet->data, json_node_unref);
        return;
    }
  json_node_unref (packet->data);
  packet->data = json_node_new (JSON_NODE_ARRAY);
  json_node_take_array (packet->data, frame);
  json_node_seal (packet->data);
}

/* The frame of a checked payload that holds too many values, built from its
 * text without a tree of the rest: an array with only its first element
 * (an event's name) for an array, an empty object for an object. What
 * check_payload() then finds wrong with the frame is wrong with the
 * payload. */
static JsonNode *
build_frame (const char *json, gsize len)
{
  PrdJsonCursor cursor;
  JsonNode *node;

  prd_json_cursor_init (&cursor, json, len);
  if (prd_json_cursor_enter (&cursor, '['))
    {
      JsonArray *frame = json_array_new ();

      if (prd_json_cursor_next (&cursor))
        {
          char first = prd_json_cursor_peek (&cursor);
          const char *start = prd_json_cursor_get_position (&cursor);

          /* A container is no event name (check_payload() says so): an
           * empty one stands for it, however much it holds. */
          if (first == '[')
            json_array_add_array_element (frame, json_array_new ());
          else if (first == '{')
            json_array_add_object_element (frame, json_object_new ());
          else
            {
              prd_json_cursor_skip (&cursor);
              /* one scalar of a checked text is a checked text */
              json_array_add_element (
                  frame, prd_json_build_checked (
                             start, (gssize) (prd_json_cursor_get_position (&cursor) - start),
                             PRD_JSON_PARSE_IMMUTABLE));
            }
        }
      node = json_node_new (JSON_NODE_ARRAY);
      json_node_take_array (node, frame);
    }
  else
    {
      /* an object; a scalar is one value, never too many */
      g_assert (prd_json_cursor_peek (&cursor) == '{');
      node = json_node_new (JSON_NODE_OBJECT);
      json_node_take_object (node, json_object_new ());
    }
  json_node_seal (node);
  return node;
}

/* An EVENT's payload, checked: when it is an array whose first element is a
 * string (what every client sends), keeps it as text with the name read
 * (#PrdSioPacket.text). Any other payload is left to the tree and
 * check_payload(). */
static gboolean
keep_event_text (PrdSioPacket *packet, const char *json, gsize len)
{
  g_autofree char *text = g_strndup (json, len);
  g_autoptr (GString) name = NULL;
  PrdJsonCursor cursor;
  const char *args, *end;

  prd_json_cursor_init (&cursor, text, len);
  if (!prd_json_cursor_enter (&cursor, '[') || !prd_json_cursor_next (&cursor) ||
      prd_json_cursor_peek (&cursor) != '"')
    return FALSE;
  name = g_string_new (NULL);
  prd_json_cursor_read_string (&cursor, name);

  /* the arguments: after the name's comma, up to the array's closing ']' */
  end = text + len;
  while (end[-1] != ']')
    end--;
  end--;
  args = prd_json_cursor_get_position (&cursor);
  while (args < end && *args != ',')
    args++;
  if (args < end)
    args++;

  packet->event = g_string_free (g_steal_pointer (&name), FALSE);
  packet->args = args;
  packet->args_len = (gsize) (end - args);
  packet->text = g_steal_pointer (&text);
  packet->text_len = len;
  return TRUE;
}

/**
 * prd_sio_packet_decode:
 *
 * prd_sio_packet_decode_full() with no limit on the payload's values.
 *
 * Returns: (transfer full): the packet, or %NULL with %PRD_ERROR_INVALID_PAYLOAD
 */
PrdSioPacket *
prd_sio_packet_decode (const char *text, gsize len, GError **error)
{
  return prd_sio_packet_decode_full (text, len, 0, error);
}

/**
 * prd_sio_packet_decode_full:
 * @text: the text of one Engine.IO message
 * @len: its length in bytes
 * @max_values: the most JSON values the payload may hold (every array,
 *   object, string, number and literal, nested ones included); 0 for no
 *   limit
 *
 * Decodes the text part of a packet. For BINARY_EVENT/BINARY_ACK the result
 * announces @n_attachments and has no @attachments yet (see #PrdSioDecoder).
 *
 * A payload that is JSON but holds an unusable string still decodes, with
 * #PrdSioPacket.unusable_payload set (see there); so does one with more
 * values than @max_values, with #PrdSioPacket.too_many_values set.
 *
 * Returns: (transfer full): the packet, or %NULL with %PRD_ERROR_INVALID_PAYLOAD
 */
PrdSioPacket *
prd_sio_packet_decode_full (const char *text, gsize len, gsize max_values, GError **error)
{
  g_autoptr (PrdSioPacket) packet = NULL;
  const char *p = text;
  const char *end = text + len;

  g_return_val_if_fail (text != NULL || len == 0, NULL);

  if (len == 0)
    return invalid_packet (error, "empty message");
  if (!g_utf8_validate_len (text, len, NULL))
    return invalid_packet (error, "not valid UTF-8 (or contains NUL)");
  if (*p < '0' || *p > '6')
    return invalid_packet (error, "unknown packet type '%c'", g_ascii_isprint (*p) ? *p : '?');

  packet = prd_sio_packet_new ((PrdSioPacketType) (*p - '0'), NULL, -1, NULL);
  p++;

  if (is_binary_type (packet->type))
    {
      const char *digits = p;
      guint n = 0;

      while (p < end && g_ascii_isdigit (*p) && p - digits < 3)
        n = n * 10 + (guint) (*p++ - '0');
      if (p == digits || p >= end || *p != '-')
        return invalid_packet (error, "%s needs an attachment count followed by '-'",
                               type_names[packet->type]);
      if (*digits == '0' && p - digits > 1)
        return invalid_packet (error, "attachment count has a leading zero");
      if (n < 1 || n > PRD_SIO_MAX_ATTACHMENTS)
        return invalid_packet (error, "attachment count %u is outside 1..%d", n,
                               PRD_SIO_MAX_ATTACHMENTS);
      packet->n_attachments = n;
      p++;
    }

  if (p < end && *p == '/')
    {
      const char *nsp = p;

      while (p < end && *p != ',')
        {
          if ((unsigned char) *p < 0x20)
            return invalid_packet (error, "control character in namespace");
          p++;
        }
      /* The answer to an unknown namespace names it: no echo of a megabyte. */
      if ((gsize) (p - nsp) > PRD_SIO_MAX_NSP_LENGTH)
        return invalid_packet (error, "namespace longer than %d bytes", PRD_SIO_MAX_NSP_LENGTH);
      g_free (packet->nsp);
      packet->nsp = g_strndup (nsp, (gsize) (p - nsp));
      if (p < end)
        p++; /* the comma; it may be missing at the end of the message */
    }

  if (p < end && g_ascii_isdigit (*p))
    {
      const char *digits = p;
      guint64 id = 0;

      while (p < end && g_ascii_isdigit (*p))
        {
          guint digit = (guint) (*p - '0');

          if (id > ((guint64) G_MAXINT64 - digit) / 10)
            return invalid_packet (error, "ack id out of range");
          id = id * 10 + digit;
          p++;
        }
      if (*digits == '0' && p - digits > 1)
        return invalid_packet (error, "ack id has a leading zero");
      if (packet->type == PRD_SIO_PACKET_CONNECT || packet->type == PRD_SIO_PACKET_DISCONNECT ||
          packet->type == PRD_SIO_PACKET_CONNECT_ERROR)
        return invalid_packet (error, "%s takes no ack id", type_names[packet->type]);
      packet->id = (gint64) id;
    }

  if (p < end)
    {
      g_autoptr (GError) json_error = NULL;

      /* The Engine.IO maxPayload bounds the message already. */
      if (!prd_json_validate_full (p, (gssize) (end - p), G_MAXSIZE,
                                   PRD_JSON_PARSE_REPLACE_BAD_STRINGS, &packet->unusable_payload,
                                   &packet->n_values, &json_error))
        return invalid_packet (error, "%s payload: %s", type_names[packet->type],
                               json_error->message);
      packet->too_many_values = max_values > 0 && packet->n_values > max_values;
      if (packet->type == PRD_SIO_PACKET_EVENT && !packet->unusable_payload &&
          keep_event_text (packet, p, (gsize) (end - p)))
        return check_event_name (packet->event, error) ? g_steal_pointer (&packet) : NULL;
      if (packet->too_many_values)
        packet->data = build_frame (p, (gsize) (end - p));
      else
        packet->data = prd_json_build_checked (p, (gssize) (end - p), PRD_JSON_PARSE_IMMUTABLE);
    }

  if (!check_payload (packet, error))
    return NULL;
  if (packet->unusable_payload || packet->too_many_values)
    keep_frame_only (packet);
  return g_steal_pointer (&packet);
}
