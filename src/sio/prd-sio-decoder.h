/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "prd-sio-packet.h"

G_BEGIN_DECLS

/*
 * PrdSioDecoder: turns the stream of Engine.IO messages of one connection
 * into complete packets. After a BINARY_EVENT/BINARY_ACK header it collects
 * exactly the announced number of binary messages before it delivers the
 * packet; a text message while binaries are awaited, or a binary message when
 * none is, is a protocol error. After an error the decoder is empty again,
 * but the connection is expected to be closed.
 */
typedef struct _PrdSioDecoder PrdSioDecoder;

PrdSioDecoder *prd_sio_decoder_new (void);
void prd_sio_decoder_free (PrdSioDecoder *self);
gboolean prd_sio_decoder_is_awaiting_binary (PrdSioDecoder *self);
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
