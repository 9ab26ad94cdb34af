/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The server side of RFC 6455 framing, without extensions (internal to
 * src/eio): a parser of what a client sends, fed bytes as they arrive and
 * giving one event at a time, and the header of a frame the server sends.
 *
 * The parser enforces what a server must: every client frame masked, no
 * reserved bit, known opcodes, control frames whole and at most 125 bytes,
 * continuation frames only inside a fragmented message, text messages and
 * close reasons in UTF-8, close codes a peer may send. A message (all its
 * fragments) larger than the limit is refused as soon as its header says
 * so, before its payload is read.
 */

typedef enum
{
  PRD_EIO_WS_OPCODE_CONTINUATION = 0x0,
  PRD_EIO_WS_OPCODE_TEXT = 0x1,
  PRD_EIO_WS_OPCODE_BINARY = 0x2,
  PRD_EIO_WS_OPCODE_CLOSE = 0x8,
  PRD_EIO_WS_OPCODE_PING = 0x9,
  PRD_EIO_WS_OPCODE_PONG = 0xa,
} PrdEioWsOpcode;

typedef enum
{
  PRD_EIO_WS_EVENT_NONE,    /* everything fed was consumed: feed more */
  PRD_EIO_WS_EVENT_MESSAGE, /* a complete text or binary message */
  PRD_EIO_WS_EVENT_PING,
  PRD_EIO_WS_EVENT_PONG,
  PRD_EIO_WS_EVENT_CLOSE, /* the peer's Close: nothing after it is read */
  PRD_EIO_WS_EVENT_ERROR, /* the peer broke the protocol: close with close_code */
} PrdEioWsEventKind;

typedef struct
{
  PrdEioWsEventKind kind;
  PrdEioWsOpcode type; /* MESSAGE: TEXT or BINARY */
  GBytes *message;     /* (owned) (nullable): MESSAGE */
  /* PING, PONG, CLOSE: the payload (valid until the next feed) */
  const guint8 *payload;
  gsize payload_len;
  /* CLOSE: the peer's code (0: none given), ERROR: the code to close with */
  gushort close_code;
  const char *error; /* ERROR: what was wrong (static) */
} PrdEioWsEvent;

typedef struct
{
  guint64 limit; /* of a message, all fragments together */
  guint8 header[14];
  guint header_len;
  guint header_need; /* bytes of the header, once its first two are known */
  guint8 opcode;
  gboolean fin;
  guint8 mask[4];
  guint64 payload_len; /* of the current frame */
  guint64 payload_done;
  guint8 msg_type;   /* 0 while no message is being assembled */
  GByteArray *msg;   /* (owned) (nullable): the message being assembled */
  GByteArray *ctl;   /* (owned) (nullable): the control frame being read */
  gboolean finished; /* after CLOSE or ERROR nothing more is parsed */
} PrdEioWsParser;

void prd_eio_ws_parser_init (PrdEioWsParser *parser, guint64 limit);
void prd_eio_ws_parser_clear (PrdEioWsParser *parser);
/* Parses @data until one event is complete (or @data is used up), and
 * returns how many bytes it consumed; @event tells what was found. Feed
 * the rest afterwards. */
gsize prd_eio_ws_parser_feed (PrdEioWsParser *parser,
                              const guint8 *data,
                              gsize len,
                              PrdEioWsEvent *event);
/* Whether part of a frame or of a fragmented message was read. */
gboolean prd_eio_ws_parser_is_busy (const PrdEioWsParser *parser);

/* Writes the header of an unmasked, final server frame carrying
 * @payload_len bytes into @header (at least 10 bytes); returns its length. */
gsize prd_eio_ws_frame_header (guint8 *header, PrdEioWsOpcode opcode, guint64 payload_len);

/* Whether a client may send @code in a Close frame. */
gboolean prd_eio_ws_close_code_is_valid (gushort code);

G_END_DECLS
