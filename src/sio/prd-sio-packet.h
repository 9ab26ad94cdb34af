/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum
{
  PRD_SIO_PACKET_CONNECT = 0,
  PRD_SIO_PACKET_DISCONNECT = 1,
  PRD_SIO_PACKET_EVENT = 2,
  PRD_SIO_PACKET_ACK = 3,
  PRD_SIO_PACKET_CONNECT_ERROR = 4,
  PRD_SIO_PACKET_BINARY_EVENT = 5,
  PRD_SIO_PACKET_BINARY_ACK = 6,
} PrdSioPacketType;

#define PRD_SIO_MAX_ATTACHMENTS 10
/* Longest namespace name a packet may carry, in bytes. */
#define PRD_SIO_MAX_NSP_LENGTH 256

/*
 * PrdSioPacket: one Socket.IO v5 packet. Binary attachments stay out of the
 * JSON: @data keeps the {"_placeholder":true,"num":i} objects, @attachments
 * holds the buffers in order.
 */
typedef struct
{
  PrdSioPacketType type;
  char *nsp;              /* (owned) "/" when absent on the wire */
  gint64 id;              /* ack id, -1 when none */
  JsonNode *data;         /* (owned) (nullable) */
  GPtrArray *attachments; /* (owned) (element-type GBytes) (nullable) */
  guint n_attachments;    /* announced in the header */
  /* The payload is JSON, but a string in it held U+0000 or an unpaired
   * surrogate, which the hub cannot hold: @data keeps only the packet's frame
   * (an event's name, with U+FFFD for those escapes; an empty array for an
   * ack; nothing for a CONNECT) and the packet is refused with
   * INVALID_PAYLOAD instead of being handled. */
  gboolean unusable_payload;
  /* The payload holds more JSON values than the decoder's limit
   * (prd_sio_packet_decode_full()): no tree of it is ever built. @data keeps
   * only the frame as for @unusable_payload (an event's name; an empty array
   * for an ack; nothing for a CONNECT) and the packet is refused with
   * PAYLOAD_TOO_LARGE instead of being handled. @n_values is the count. */
  gboolean too_many_values;
  gsize n_values; /* JSON values in the payload, its array and an event's name included */

  /* A decoded EVENT whose name is a string keeps its payload as text, checked
   * (prd_json_validate()) but not made into a tree: @data is %NULL until
   * prd_sio_packet_get_data() builds it. @event is the name, @args the text
   * of the arguments after it: values separated by commas, as
   * prd_sio_namespace_emit_raw() takes them (#PrdJsonCursor reads them). */
  char *text; /* (owned) (nullable) nul-terminated */
  gsize text_len;
  char *event;      /* (owned) (nullable) */
  const char *args; /* (nullable) in @text */
  gsize args_len;
} PrdSioPacket;

PrdSioPacket *
prd_sio_packet_new (PrdSioPacketType type, const char *nsp, gint64 id, JsonNode *data);
void prd_sio_packet_free (PrdSioPacket *packet);
char *prd_sio_packet_encode (const PrdSioPacket *packet);
PrdSioPacket *prd_sio_packet_decode (const char *text, gsize len, GError **error);
PrdSioPacket *
prd_sio_packet_decode_full (const char *text, gsize len, gsize max_values, GError **error);
JsonNode *prd_sio_packet_get_data (PrdSioPacket *packet);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdSioPacket, prd_sio_packet_free)

G_END_DECLS
