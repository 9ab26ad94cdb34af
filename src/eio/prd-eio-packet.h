/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Engine.IO v4 packet codec. A packet is a type and its data: text for
 * every type, or raw bytes for a binary MESSAGE. Over WebSocket one frame
 * holds one packet; over long-polling a payload holds several packets
 * separated by U+001E, binary ones as "b<base64>".
 *
 * Decoding is strict: anything that is not exactly what an Engine.IO v4
 * peer sends fails with PRD_ERROR_INVALID_PAYLOAD.
 */

typedef enum
{
  PRD_EIO_PACKET_OPEN = 0,
  PRD_EIO_PACKET_CLOSE = 1,
  PRD_EIO_PACKET_PING = 2,
  PRD_EIO_PACKET_PONG = 3,
  PRD_EIO_PACKET_MESSAGE = 4,
  PRD_EIO_PACKET_UPGRADE = 5,
  PRD_EIO_PACKET_NOOP = 6,
} PrdEioPacketType;

#define PRD_EIO_RECORD_SEPARATOR '\x1e'

typedef struct
{
  PrdEioPacketType type;
  gboolean binary; /* only ever TRUE for PRD_EIO_PACKET_MESSAGE */
  GBytes *data;    /* (owned) (not nullable): text after the type character, or the raw bytes */
  GBytes *frame;   /* (owned) (nullable): "<type><data>", made once for every socket a
                    * broadcast goes to (prd_eio_packet_new_message()); @data is part of it */
} PrdEioPacket;

PrdEioPacket *prd_eio_packet_new (PrdEioPacketType type, const char *text, gssize len);
PrdEioPacket *prd_eio_packet_new_binary (GBytes *data);
/* A MESSAGE with its WebSocket frame made: checked and encoded once however
 * many sockets it is sent to (prd_eio_socket_send_message()). */
PrdEioPacket *prd_eio_packet_new_message (const char *text, gssize len);
/* Another reference to the same bytes, for one more queue. */
PrdEioPacket *prd_eio_packet_copy (const PrdEioPacket *packet);
void prd_eio_packet_free (PrdEioPacket *packet);

const char *prd_eio_packet_get_text (const PrdEioPacket *packet, gsize *len);

/* One WebSocket text frame: "<type><data>". */
PrdEioPacket *prd_eio_packet_decode_text (const char *data, gsize len, GError **error);
GBytes *prd_eio_packet_encode_text (const PrdEioPacket *packet);
/* One packet as a string: "b<base64>", the binary message of a client that
 * sends no binary (engine.io-client's forceBase64, on either transport),
 * or else "<type><data>". */
PrdEioPacket *prd_eio_packet_decode_string (const char *data, gsize len, GError **error);

/* Bytes the packet takes in a polling payload (without the separator). */
gsize prd_eio_packet_get_polling_size (const PrdEioPacket *packet);

/* Long-polling payloads. */
GPtrArray *prd_eio_payload_decode (const char *data, gsize len, GError **error);
void prd_eio_payload_append (GString *payload, const PrdEioPacket *packet);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdEioPacket, prd_eio_packet_free)

G_END_DECLS
