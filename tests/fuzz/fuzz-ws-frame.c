/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-fuzz"

#include "config.h"

#include <string.h>

#include "prd-eio-ws-frame.h"
#include "prd-fuzz.h"

/*
 * The server's WebSocket frame parser (prd-eio-ws-frame.h). The first byte
 * picks the message limit (low three bits) and how many of the next bytes
 * give the sizes of the pieces the rest arrives in (1 to 4); each of those
 * is a piece size from 1 to 255, or the whole rest for 0, used in turn.
 * Every feed must keep the parser's contract, and what it hands out must
 * be what the header promises.
 */

static const guint64 limits[] = { 0, 1, 125, 126, 1000, 65536, 1 << 20, G_MAXUINT64 };

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  return 0;
}

static void
check_event (const PrdEioWsParser *parser, const PrdEioWsEvent *event, guint64 limit)
{
  const char *data;
  gsize len;

  if (event->kind != PRD_EIO_WS_EVENT_MESSAGE)
    g_assert_null (event->message);
  if (event->kind != PRD_EIO_WS_EVENT_ERROR)
    g_assert_null (event->error);
  switch (event->kind)
    {
      case PRD_EIO_WS_EVENT_NONE:
        break;
      case PRD_EIO_WS_EVENT_MESSAGE:
        g_assert_nonnull (event->message);
        data = g_bytes_get_data (event->message, &len);
        g_assert_cmpuint (len, <=, limit);
        g_assert_false (prd_eio_ws_parser_is_busy (parser));
        if (event->type == PRD_EIO_WS_OPCODE_TEXT)
          {
            /* UTF-8, U+0000 included. */
            for (gsize at = 0; at < len; at++)
              {
                const char *end;

                if (g_utf8_validate_len (data + at, len - at, &end))
                  break;
                g_assert_true (*end == '\0');
                at = end - data;
              }
          }
        else
          g_assert_cmpint (event->type, ==, PRD_EIO_WS_OPCODE_BINARY);
        break;
      case PRD_EIO_WS_EVENT_PING:
      case PRD_EIO_WS_EVENT_PONG:
        g_assert_cmpuint (event->payload_len, <=, 125);
        g_assert_true (event->payload != NULL || event->payload_len == 0);
        break;
      case PRD_EIO_WS_EVENT_CLOSE:
        g_assert_cmpuint (event->payload_len, <=, 125);
        g_assert_cmpuint (event->payload_len, !=, 1);
        if (event->payload_len == 0)
          g_assert_cmpuint (event->close_code, ==, 0);
        else
          {
            g_assert_cmpuint (event->close_code, ==, (event->payload[0] << 8) | event->payload[1]);
            g_assert_true (prd_eio_ws_close_code_is_valid (event->close_code));
          }
        g_assert_true (parser->finished);
        break;
      case PRD_EIO_WS_EVENT_ERROR:
        g_assert_nonnull (event->error);
        g_assert_true (event->close_code == 1002 || event->close_code == 1007 ||
                       event->close_code == 1009);
        g_assert_true (parser->finished);
        break;
      default:
        g_assert_not_reached ();
    }
}

/* The header of a server frame reads back as what it was made from. */
static void
check_frame_header (const guint8 *data, size_t size)
{
  guint8 header[10];
  guint64 len = 0, read = 0;
  gsize n;

  for (gsize i = 0; i < MIN (size, 8); i++)
    len = (len << 8) | data[i];
  n = prd_eio_ws_frame_header (header, PRD_EIO_WS_OPCODE_BINARY, len);
  g_assert_cmpuint (header[0], ==, 0x82);
  if (n == 2)
    read = header[1];
  else if (n == 4)
    {
      g_assert_cmpuint (header[1], ==, 126);
      read = ((guint64) header[2] << 8) | header[3];
      g_assert_cmpuint (read, >=, 126);
    }
  else
    {
      g_assert_cmpuint (n, ==, 10);
      g_assert_cmpuint (header[1], ==, 127);
      for (guint i = 0; i < 8; i++)
        read = (read << 8) | header[2 + i];
      g_assert_cmpuint (read, >=, 65536);
    }
  g_assert_cmpuint (read, ==, len);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  PrdEioWsParser parser;
  const guint8 *pieces;
  guint n_pieces;
  guint64 limit;
  gsize at = 0;

  if (size < 2)
    return 0;
  limit = limits[data[0] & 7];
  n_pieces = ((data[0] >> 3) & 3) + 1;
  if (size < 1 + n_pieces)
    return 0;
  pieces = data + 1;
  data += 1 + n_pieces;
  size -= 1 + n_pieces;

  check_frame_header (data, size);

  prd_eio_ws_parser_init (&parser, limit);
  for (guint i = 0; at < size; i++)
    {
      guint8 p = pieces[i % n_pieces];
      gsize piece = p == 0 ? size - at : MIN ((gsize) p, size - at);
      gsize done = 0;

      while (done < piece)
        {
          gboolean finished = parser.finished;
          PrdEioWsEvent event;
          gsize n = prd_eio_ws_parser_feed (&parser, data + at + done, piece - done, &event);

          g_assert_cmpuint (n, <=, piece - done);
          if (finished)
            {
              g_assert_cmpuint (n, ==, piece - done);
              g_assert_cmpint (event.kind, ==, PRD_EIO_WS_EVENT_NONE);
            }
          else
            g_assert_cmpuint (n, >, 0);
          if (event.kind == PRD_EIO_WS_EVENT_NONE)
            g_assert_cmpuint (n, ==, piece - done);
          check_event (&parser, &event, limit);
          g_clear_pointer (&event.message, g_bytes_unref);
          done += n;
        }
      at += piece;
    }
  prd_eio_ws_parser_clear (&parser);
  return 0;
}
