/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-fuzz"

#include "config.h"

#include <string.h>

#include "prd-fuzz.h"
#include "prd-sio-decoder.h"

/*
 * The Socket.IO v5 decoder: the input is a sequence of Engine.IO messages
 * separated by U+001E; one that starts with 'B' is a binary message (the
 * rest of it), any other a text message. They are fed in order to one
 * decoder, as a connection would; the whole input is also decoded as one
 * packet. A decoded packet without attachments is encoded again and must
 * decode.
 */

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  return 0;
}

static void
check_packet (PrdSioPacket *packet)
{
  g_autofree char *encoded = NULL;
  g_autoptr (PrdSioPacket) again = NULL;
  g_autoptr (GError) error = NULL;

  if (packet->unusable_payload || packet->n_attachments > 0)
    return;
  encoded = prd_sio_packet_encode (packet);
  again = prd_sio_packet_decode (encoded, strlen (encoded), &error);
  g_assert_no_error (error);
  g_assert_cmpint (again->type, ==, packet->type);
  g_assert_cmpstr (again->nsp, ==, packet->nsp);
  g_assert_cmpint (again->id, ==, packet->id);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  const char *text = (const char *) data;
  const char *end = text + size;
  g_autoptr (PrdSioDecoder) decoder = prd_sio_decoder_new ();
  g_autoptr (PrdSioPacket) whole = prd_sio_packet_decode (text, size, NULL);

  if (whole != NULL)
    check_packet (whole);

  while (text <= end)
    {
      /* memchr() wants a pointer even for 0 bytes (an empty input is NULL). */
      const char *sep = text < end ? memchr (text, '\x1e', (gsize) (end - text)) : NULL;
      gsize len = (gsize) ((sep != NULL ? sep : end) - text);
      g_autoptr (PrdSioPacket) packet = NULL;
      g_autoptr (GError) error = NULL;
      gboolean ok;

      if (len > 0 && text[0] == 'B')
        {
          g_autoptr (GBytes) bytes = g_bytes_new (text + 1, len - 1);

          ok = prd_sio_decoder_feed_binary (decoder, bytes, &packet, &error);
        }
      else
        ok = prd_sio_decoder_feed_text (decoder, text, len, &packet, &error);
      g_assert_true (ok == (error == NULL));
      if (packet != NULL)
        {
          g_assert_false (prd_sio_decoder_is_awaiting_binary (decoder));
          if (packet->attachments != NULL)
            g_assert_cmpuint (packet->attachments->len, ==, packet->n_attachments);
          check_packet (packet);
        }
      if (sep == NULL)
        break;
      text = sep + 1;
    }
  return 0;
}
