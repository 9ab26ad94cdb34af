/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * RFC 6455 framing, server side: see prd-eio-ws-frame.h.
 */
#define G_LOG_DOMAIN "prd-eio"

#include "config.h"

#include <string.h>

#include "prd-eio-ws-frame.h"

/* What a message buffer starts with when the header announces more: a
 * peer that announces a large frame and sends it slowly gets memory as its
 * bytes arrive, not before. */
#define MAX_PREALLOC 65536

void
prd_eio_ws_parser_init (PrdEioWsParser *parser, guint64 limit)
{
  memset (parser, 0, sizeof *parser);
  parser->limit = limit;
}

void
prd_eio_ws_parser_clear (PrdEioWsParser *parser)
{
  g_clear_pointer (&parser->msg, g_byte_array_unref);
  g_clear_pointer (&parser->ctl, g_byte_array_unref);
}

gboolean
prd_eio_ws_parser_is_busy (const PrdEioWsParser *parser)
{
  return parser->header_len > 0 || parser->header_need > 0 || parser->msg != NULL;
}

gboolean
prd_eio_ws_close_code_is_valid (gushort code)
{
  /* 1004 is reserved; 1005, 1006 and 1015 never go on the wire; 1016 to
   * 2999 are for future versions of the protocol. */
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

/* Whether @data is UTF-8. U+0000 is a character like any other, which
 * g_utf8_validate_len() refuses: the text between NULs is checked. */
static gboolean
utf8_validate (const guint8 *data, gsize len)
{
  const char *p = (const char *) data;
  const char *end;

  if (len == 0)
    return TRUE; /* @data may be NULL */
  end = p + len;
  while (p < end)
    {
      const char *stop;

      if (g_utf8_validate_len (p, end - p, &stop))
        return TRUE;
      if (*stop != '\0')
        return FALSE;
      p = stop + 1;
    }
  return TRUE;
}

static gsize
fail (PrdEioWsParser *parser, PrdEioWsEvent *event, gsize consumed, gushort code, const char *what)
{
  parser->finished = TRUE;
  g_clear_pointer (&parser->msg, g_byte_array_unref);
  parser->msg_type = 0;
  event->kind = PRD_EIO_WS_EVENT_ERROR;
  event->close_code = code;
  event->error = what;
  return consumed;
}

static gboolean
is_control (guint8 opcode)
{
  return (opcode & 0x8) != 0;
}

/* The first two bytes of a header are in: check them. NULL when valid. */
static const char *
check_start (PrdEioWsParser *parser)
{
  guint8 b0 = parser->header[0], b1 = parser->header[1];
  guint8 len7 = b1 & 0x7f;

  parser->fin = (b0 & 0x80) != 0;
  parser->opcode = b0 & 0x0f;
  if ((b0 & 0x70) != 0)
    return "a reserved bit is set";
  switch (parser->opcode)
    {
      case PRD_EIO_WS_OPCODE_CONTINUATION:
      case PRD_EIO_WS_OPCODE_TEXT:
      case PRD_EIO_WS_OPCODE_BINARY:
      case PRD_EIO_WS_OPCODE_CLOSE:
      case PRD_EIO_WS_OPCODE_PING:
      case PRD_EIO_WS_OPCODE_PONG:
        break;
      default:
        return "unknown opcode";
    }
  if ((b1 & 0x80) == 0)
    return "a client frame is not masked";
  if (is_control (parser->opcode) && (!parser->fin || len7 > 125))
    return "a control frame is fragmented or longer than 125 bytes";
  parser->header_need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
  return NULL;
}

/* The whole header is in; returns the close code of what is wrong, or 0. */
static gushort
check_header (PrdEioWsParser *parser, const char **what)
{
  const guint8 *h = parser->header;
  guint8 len7 = h[1] & 0x7f;
  guint64 len = len7;
  guint at = 2;

  if (len7 == 126)
    {
      len = ((guint64) h[2] << 8) | h[3];
      at = 4;
    }
  else if (len7 == 127)
    {
      len = 0;
      for (guint i = 0; i < 8; i++)
        len = (len << 8) | h[2 + i];
      at = 10;
      if (len >> 63)
        {
          *what = "a frame length has its most significant bit set";
          return 1002;
        }
    }
  memcpy (parser->mask, h + at, 4);
  parser->payload_len = len;
  parser->payload_done = 0;

  if (is_control (parser->opcode))
    {
      if (parser->ctl == NULL)
        parser->ctl = g_byte_array_sized_new (len);
      g_byte_array_set_size (parser->ctl, 0);
      return 0;
    }
  if (parser->opcode == PRD_EIO_WS_OPCODE_CONTINUATION && parser->msg_type == 0)
    {
      *what = "a continuation frame outside a fragmented message";
      return 1002;
    }
  if (parser->opcode != PRD_EIO_WS_OPCODE_CONTINUATION && parser->msg_type != 0)
    {
      *what = "a new message inside a fragmented one";
      return 1002;
    }
  if (len > parser->limit || (parser->msg != NULL && parser->msg->len > parser->limit - len))
    {
      *what = "a message is larger than the limit";
      return 1009;
    }
  if (parser->msg_type == 0)
    {
      parser->msg_type = parser->opcode;
      parser->msg = g_byte_array_sized_new (MIN (len, MAX_PREALLOC));
    }
  return 0;
}

static void
unmask (guint8 *data, gsize len, const guint8 mask[4], guint64 offset)
{
  guint8 rotated[8];
  guint64 word;
  gsize i = 0;

  for (guint k = 0; k < 8; k++)
    rotated[k] = mask[(offset + k) & 3];
  memcpy (&word, rotated, 8);
  for (; i + 8 <= len; i += 8)
    {
      guint64 chunk;

      memcpy (&chunk, data + i, 8);
      chunk ^= word;
      memcpy (data + i, &chunk, 8);
    }
  for (; i < len; i++)
    data[i] ^= rotated[i & 7];
}

/* The current frame is complete: set @event when it completes an event. */
static gsize
frame_done (PrdEioWsParser *parser, PrdEioWsEvent *event, gsize consumed)
{
  parser->header_len = 0;
  parser->header_need = 0;

  if (is_control (parser->opcode))
    {
      const guint8 *p = parser->ctl->data;
      gsize n = parser->ctl->len;

      event->payload = p;
      event->payload_len = n;
      if (parser->opcode == PRD_EIO_WS_OPCODE_PING)
        event->kind = PRD_EIO_WS_EVENT_PING;
      else if (parser->opcode == PRD_EIO_WS_OPCODE_PONG)
        event->kind = PRD_EIO_WS_EVENT_PONG;
      else
        {
          if (n == 1)
            return fail (parser, event, consumed, 1002, "a Close frame of one byte");
          if (n >= 2)
            {
              event->close_code = (gushort) ((p[0] << 8) | p[1]);
              if (!prd_eio_ws_close_code_is_valid (event->close_code))
                return fail (parser, event, consumed, 1002, "a Close frame with an invalid code");
              if (!utf8_validate (p + 2, n - 2))
                return fail (parser, event, consumed, 1007, "a close reason is not UTF-8");
            }
          event->kind = PRD_EIO_WS_EVENT_CLOSE;
          parser->finished = TRUE;
          g_clear_pointer (&parser->msg, g_byte_array_unref);
        }
      return consumed;
    }

  if (!parser->fin)
    return consumed;
  if (parser->msg_type == PRD_EIO_WS_OPCODE_TEXT &&
      !utf8_validate (parser->msg->data, parser->msg->len))
    return fail (parser, event, consumed, 1007, "a text message is not UTF-8");
  event->kind = PRD_EIO_WS_EVENT_MESSAGE;
  event->type = parser->msg_type;
  event->message = g_byte_array_free_to_bytes (g_steal_pointer (&parser->msg));
  parser->msg_type = 0;
  return consumed;
}

gsize
prd_eio_ws_parser_feed (PrdEioWsParser *parser, const guint8 *data, gsize len, PrdEioWsEvent *event)
{
  gsize pos = 0;

  memset (event, 0, sizeof *event);
  if (parser->finished)
    return len;

  while (pos < len)
    {
      if (parser->header_need == 0 || parser->header_len < parser->header_need)
        {
          guint need = parser->header_need == 0 ? 2 : parser->header_need;
          gsize n = MIN (need - parser->header_len, len - pos);
          const char *what = NULL;
          gushort code;

          memcpy (parser->header + parser->header_len, data + pos, n);
          parser->header_len += n;
          pos += n;
          if (parser->header_len < need)
            break;
          if (parser->header_need == 0)
            {
              what = check_start (parser);
              if (what != NULL)
                return fail (parser, event, pos, 1002, what);
              continue;
            }
          code = check_header (parser, &what);
          if (code != 0)
            return fail (parser, event, pos, code, what);
          if (parser->payload_len == 0)
            {
              frame_done (parser, event, pos);
              if (event->kind != PRD_EIO_WS_EVENT_NONE)
                return pos;
            }
          continue;
        }
      else
        {
          GByteArray *to = is_control (parser->opcode) ? parser->ctl : parser->msg;
          gsize n = (gsize) MIN ((guint64) (len - pos), parser->payload_len - parser->payload_done);
          guint old = to->len;

          g_byte_array_append (to, data + pos, n);
          unmask (to->data + old, n, parser->mask, parser->payload_done);
          parser->payload_done += n;
          pos += n;
          if (parser->payload_done == parser->payload_len)
            {
              frame_done (parser, event, pos);
              if (event->kind != PRD_EIO_WS_EVENT_NONE)
                return pos;
            }
        }
    }
  return pos;
}

gsize
prd_eio_ws_frame_header (guint8 *header, PrdEioWsOpcode opcode, guint64 payload_len)
{
  header[0] = 0x80 | opcode;
  if (payload_len < 126)
    {
      header[1] = (guint8) payload_len;
      return 2;
    }
  if (payload_len < 65536)
    {
      header[1] = 126;
      header[2] = (guint8) (payload_len >> 8);
      header[3] = (guint8) payload_len;
      return 4;
    }
  header[1] = 127;
  for (guint i = 0; i < 8; i++)
    header[2 + i] = (guint8) (payload_len >> (56 - 8 * i));
  return 10;
}
