/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-fuzz"

#include "config.h"

#include <string.h>

#include "prd-eio-packet.h"
#include "prd-fuzz.h"

/*
 * The Engine.IO v4 decoders: the input is read as one WebSocket text frame
 * and as a long-polling payload. Whatever decodes is encoded again and must
 * decode to the same packets.
 */

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  return 0;
}

static void
check_same (const PrdEioPacket *a, const PrdEioPacket *b)
{
  g_assert_cmpint (a->type, ==, b->type);
  g_assert_cmpint (a->binary, ==, b->binary);
  g_assert_true (g_bytes_equal (a->data, b->data));
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  const char *text = (const char *) data;
  g_autoptr (PrdEioPacket) packet = prd_eio_packet_decode_text (text, size, NULL);
  g_autoptr (GPtrArray) packets = prd_eio_payload_decode (text, size, NULL);

  if (packet != NULL)
    {
      g_autoptr (GBytes) encoded = prd_eio_packet_encode_text (packet);
      gsize len;
      const char *bytes = g_bytes_get_data (encoded, &len);
      g_autoptr (PrdEioPacket) again = prd_eio_packet_decode_text (bytes, len, NULL);

      g_assert_nonnull (again);
      check_same (packet, again);
      prd_eio_packet_get_text (packet, &len);
      prd_eio_packet_get_polling_size (packet);
    }
  if (packets != NULL)
    {
      g_autoptr (GString) payload = g_string_new (NULL);
      g_autoptr (GPtrArray) again = NULL;

      for (guint i = 0; i < packets->len; i++)
        prd_eio_payload_append (payload, packets->pdata[i]);
      again = prd_eio_payload_decode (payload->str, payload->len, NULL);
      g_assert_nonnull (again);
      g_assert_cmpuint (again->len, ==, packets->len);
      for (guint i = 0; i < packets->len; i++)
        check_same (packets->pdata[i], again->pdata[i]);
    }
  return 0;
}
