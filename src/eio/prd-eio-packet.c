/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Engine.IO v4 packets on the wire. The decoder is the hub's first line of
 * defence against a misbehaving client, so it accepts only what a v4 peer
 * sends: a known type character, valid UTF-8, empty data except for
 * MESSAGE (any text), OPEN (the handshake JSON) and PING/PONG ("probe"), and
 * canonical base64 for binary packets (so that decode and encode are exact
 * inverses and the corpus round-trips).
 */
#define G_LOG_DOMAIN "prd-eio"

#include "config.h"

#include <string.h>

#include "prd-error.h"

#include "prd-eio-packet.h"

PrdEioPacket *
prd_eio_packet_new (PrdEioPacketType type, const char *text, gssize len)
{
  PrdEioPacket *packet;

  g_return_val_if_fail (type <= PRD_EIO_PACKET_NOOP, NULL);

  if (text == NULL)
    text = "";
  if (len < 0)
    len = strlen (text);

  packet = g_new0 (PrdEioPacket, 1);
  packet->type = type;
  packet->data = g_bytes_new (text, len);
  return packet;
}

PrdEioPacket *
prd_eio_packet_new_binary (GBytes *data)
{
  PrdEioPacket *packet;

  g_return_val_if_fail (data != NULL, NULL);

  packet = g_new0 (PrdEioPacket, 1);
  packet->type = PRD_EIO_PACKET_MESSAGE;
  packet->binary = TRUE;
  packet->data = g_bytes_ref (data);
  return packet;
}

PrdEioPacket *
prd_eio_packet_new_message (const char *text, gssize len)
{
  PrdEioPacket *packet;
  char *buf;

  g_return_val_if_fail (text != NULL, NULL);

  if (len < 0)
    len = strlen (text);
  /* Over polling U+001E separates packets; Socket.IO's JSON escapes it, so
   * a raw one is a caller bug that would corrupt the stream. */
  g_return_val_if_fail (g_utf8_validate_len (text, len, NULL), NULL);
  g_return_val_if_fail (memchr (text, PRD_EIO_RECORD_SEPARATOR, len) == NULL, NULL);

  buf = g_malloc (len + 1);
  buf[0] = (char) ('0' + PRD_EIO_PACKET_MESSAGE);
  memcpy (buf + 1, text, len);
  packet = g_new0 (PrdEioPacket, 1);
  packet->type = PRD_EIO_PACKET_MESSAGE;
  packet->frame = g_bytes_new_take (buf, len + 1);
  packet->data = g_bytes_new_from_bytes (packet->frame, 1, len);
  return packet;
}

PrdEioPacket *
prd_eio_packet_copy (const PrdEioPacket *packet)
{
  PrdEioPacket *copy;

  g_return_val_if_fail (packet != NULL, NULL);

  copy = g_new (PrdEioPacket, 1);
  copy->type = packet->type;
  copy->binary = packet->binary;
  copy->data = g_bytes_ref (packet->data);
  copy->frame = packet->frame != NULL ? g_bytes_ref (packet->frame) : NULL;
  return copy;
}

void
prd_eio_packet_free (PrdEioPacket *packet)
{
  if (packet == NULL)
    return;
  g_bytes_unref (packet->data);
  g_clear_pointer (&packet->frame, g_bytes_unref);
  g_free (packet);
}

const char *
prd_eio_packet_get_text (const PrdEioPacket *packet, gsize *len)
{
  g_return_val_if_fail (packet != NULL, NULL);
  return g_bytes_get_data (packet->data, len);
}

static gboolean
data_is_allowed (PrdEioPacketType type, const char *data, gsize len)
{
  switch (type)
    {
      case PRD_EIO_PACKET_OPEN:
      case PRD_EIO_PACKET_MESSAGE:
        return TRUE;
      case PRD_EIO_PACKET_PING:
      case PRD_EIO_PACKET_PONG:
        return len == 0 || (len == 5 && memcmp (data, "probe", 5) == 0);
      case PRD_EIO_PACKET_CLOSE:
      case PRD_EIO_PACKET_UPGRADE:
      case PRD_EIO_PACKET_NOOP:
      default:
        return len == 0;
    }
}

PrdEioPacket *
prd_eio_packet_decode_text (const char *data, gsize len, GError **error)
{
  PrdEioPacketType type;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  if (len == 0)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "Empty Engine.IO packet");
      return NULL;
    }
  if (data[0] < '0' || data[0] > '6')
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                   "Unknown Engine.IO packet type 0x%02x", (guint) (guchar) data[0]);
      return NULL;
    }
  if (!g_utf8_validate_len (data, len, NULL))
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "Engine.IO text packet is not valid UTF-8");
      return NULL;
    }

  type = (PrdEioPacketType) (data[0] - '0');
  if (!data_is_allowed (type, data + 1, len - 1))
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                   "Unexpected data in Engine.IO packet of type %d", (int) type);
      return NULL;
    }

  return prd_eio_packet_new (type, data + 1, len - 1);
}

GBytes *
prd_eio_packet_encode_text (const PrdEioPacket *packet)
{
  gsize len;
  const char *text;
  char *buf;

  g_return_val_if_fail (packet != NULL, NULL);
  g_return_val_if_fail (!packet->binary, NULL);

  if (packet->frame != NULL)
    return g_bytes_ref (packet->frame);
  text = g_bytes_get_data (packet->data, &len);
  buf = g_malloc (len + 1);
  buf[0] = (char) ('0' + packet->type);
  if (len > 0)
    memcpy (buf + 1, text, len);
  return g_bytes_new_take (buf, len + 1);
}

gsize
prd_eio_packet_get_polling_size (const PrdEioPacket *packet)
{
  gsize len = g_bytes_get_size (packet->data);

  if (packet->binary)
    return 1 + (len + 2) / 3 * 4;
  return 1 + len;
}

static int
base64_value (char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

/* GLib's base64 decoder skips invalid characters silently; a payload with
 * garbage in it must be refused, so validate strictly first. */
static GBytes *
decode_base64_strict (const char *data, gsize len, GError **error)
{
  g_autoptr (GByteArray) out = NULL;

  if (len % 4 != 0)
    goto invalid;

  out = g_byte_array_sized_new (len / 4 * 3);
  for (gsize i = 0; i < len; i += 4)
    {
      int v[4];
      int n_pad = 0;
      guint32 group;
      gboolean last = (i + 4 == len);

      for (int j = 0; j < 4; j++)
        {
          if (data[i + j] == '=')
            {
              /* Padding only at the end of the last group, at most two. */
              if (!last || j < 2)
                goto invalid;
              v[j] = 0;
              n_pad++;
            }
          else
            {
              if (n_pad > 0)
                goto invalid;
              v[j] = base64_value (data[i + j]);
              if (v[j] < 0)
                goto invalid;
            }
        }

      group =
          ((guint32) v[0] << 18) | ((guint32) v[1] << 12) | ((guint32) v[2] << 6) | (guint32) v[3];
      /* Non-zero bits under the padding: not the canonical encoding. */
      if ((n_pad == 1 && (group & 0xff) != 0) || (n_pad == 2 && (group & 0xffff) != 0))
        goto invalid;

      {
        guint8 bytes[3] = { (group >> 16) & 0xff, (group >> 8) & 0xff, group & 0xff };
        g_byte_array_append (out, bytes, 3 - n_pad);
      }
    }

  return g_byte_array_free_to_bytes (g_steal_pointer (&out));

invalid:
  g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                       "Invalid base64 in Engine.IO binary packet");
  return NULL;
}

PrdEioPacket *
prd_eio_packet_decode_string (const char *data, gsize len, GError **error)
{
  g_autoptr (GBytes) bytes = NULL;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  if (len == 0 || data[0] != 'b')
    return prd_eio_packet_decode_text (data, len, error);
  bytes = decode_base64_strict (data + 1, len - 1, error);
  if (bytes == NULL)
    return NULL;
  return prd_eio_packet_new_binary (bytes);
}

GPtrArray *
prd_eio_payload_decode (const char *data, gsize len, GError **error)
{
  g_autoptr (GPtrArray) packets = NULL;
  gsize start = 0;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  if (len == 0)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD, "Empty Engine.IO payload");
      return NULL;
    }

  packets = g_ptr_array_new_with_free_func ((GDestroyNotify) prd_eio_packet_free);
  while (start <= len)
    {
      const char *sep = memchr (data + start, PRD_EIO_RECORD_SEPARATOR, len - start);
      gsize end = sep != NULL ? (gsize) (sep - data) : len;
      const char *seg = data + start;
      gsize seg_len = end - start;
      PrdEioPacket *packet;

      packet = prd_eio_packet_decode_string (seg, seg_len, error);
      if (packet == NULL)
        return NULL;
      g_ptr_array_add (packets, packet);

      if (sep == NULL)
        break;
      start = end + 1;
    }

  return g_steal_pointer (&packets);
}

void
prd_eio_payload_append (GString *payload, const PrdEioPacket *packet)
{
  gsize len;
  const char *data;

  g_return_if_fail (payload != NULL);
  g_return_if_fail (packet != NULL);

  if (payload->len > 0)
    g_string_append_c (payload, PRD_EIO_RECORD_SEPARATOR);

  data = g_bytes_get_data (packet->data, &len);
  if (packet->binary)
    {
      g_autofree char *b64 = g_base64_encode ((const guchar *) data, len);

      g_string_append_c (payload, 'b');
      g_string_append (payload, b64);
    }
  else
    {
      g_string_append_c (payload, (char) ('0' + packet->type));
      g_string_append_len (payload, data, len);
    }
}
