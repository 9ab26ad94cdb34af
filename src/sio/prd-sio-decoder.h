/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-sio-packet.h"

G_BEGIN_DECLS

/*
 * PrdSioDecoder: turns the stream of Engine.IO messages of one connection
 * into complete packets. After a BINARY_EVENT/BINARY_ACK header it collects
 * exactly the announced number of binary messages before it delivers the
 * packet; a text message while binaries are awaited, or a binary message when
 * none is, is a protocol error, and so is a packet whose header and
 * attachments together pass the size set (the Engine.IO max-payload: a
 * packet split over several messages gets no more room than one message).
 * After an error the decoder is empty again, but the connection is expected
 * to be closed.
 */
typedef struct _PrdSioDecoder PrdSioDecoder;

PrdSioDecoder *prd_sio_decoder_new (void);
void prd_sio_decoder_free (PrdSioDecoder *self);
gboolean prd_sio_decoder_is_awaiting_binary (PrdSioDecoder *self);
const char *prd_sio_decoder_get_awaiting_nsp (PrdSioDecoder *self);
void prd_sio_decoder_set_max_size (PrdSioDecoder *self, gsize max_size);
void prd_sio_decoder_set_max_values (PrdSioDecoder *self, gsize max_values);
/* On success *packet is the complete packet, or NULL while attachments are
 * still due. */
gboolean prd_sio_decoder_feed_text (
    PrdSioDecoder *self, const char *text, gsize len, PrdSioPacket **packet, GError **error);
gboolean prd_sio_decoder_feed_binary (PrdSioDecoder *self,
                                      GBytes *data,
                                      PrdSioPacket **packet,
                                      GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdSioDecoder, prd_sio_decoder_free)

G_END_DECLS
