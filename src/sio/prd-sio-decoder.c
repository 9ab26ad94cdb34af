/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-sio"

#include "config.h"

#include "prd-error.h"
#include "prd-sio-decoder.h"

struct _PrdSioDecoder
{
  PrdSioPacket *pending; /* (owned) (nullable): a binary packet awaiting attachments */
  gsize pending_size;    /* its header's and attachments' bytes so far */
  gsize max_size;        /* 0: no limit */
  gsize max_values;      /* JSON values in a packet's payload; 0: no limit */
};

PrdSioDecoder *
prd_sio_decoder_new (void)
{
  return g_new0 (PrdSioDecoder, 1);
}

void
prd_sio_decoder_free (PrdSioDecoder *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->pending, prd_sio_packet_free);
  g_free (self);
}

gboolean
prd_sio_decoder_is_awaiting_binary (PrdSioDecoder *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return self->pending != NULL;
}

/* The namespace of the packet whose attachments are awaited, or NULL. */
const char *
prd_sio_decoder_get_awaiting_nsp (PrdSioDecoder *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->pending != NULL ? self->pending->nsp : NULL;
}

/* The most bytes a binary packet may take, header and attachments
 * together (0: no limit); a larger one is a protocol error. */
void
prd_sio_decoder_set_max_size (PrdSioDecoder *self, gsize max_size)
{
  g_return_if_fail (self != NULL);

  self->max_size = max_size;
}

/* The most JSON values a packet's payload may hold (0: no limit); a packet
 * with more decodes with too_many_values set, and no tree of its payload
 * (prd_sio_packet_decode_full()). */
void
prd_sio_decoder_set_max_values (PrdSioDecoder *self, gsize max_values)
{
  g_return_if_fail (self != NULL);

  self->max_values = max_values;
}

gboolean
prd_sio_decoder_feed_text (
    PrdSioDecoder *self, const char *text, gsize len, PrdSioPacket **packet, GError **error)
{
  g_autoptr (PrdSioPacket) decoded = NULL;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (packet != NULL, FALSE);

  *packet = NULL;
  if (self->pending != NULL)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                   "Text message received while %u of %u binary attachments were still due",
                   self->pending->n_attachments - self->pending->attachments->len,
                   self->pending->n_attachments);
      g_clear_pointer (&self->pending, prd_sio_packet_free);
      return FALSE;
    }

  decoded = prd_sio_packet_decode_full (text, len, self->max_values, error);
  if (decoded == NULL)
    return FALSE;

  if (decoded->n_attachments > 0)
    {
      decoded->attachments =
          g_ptr_array_new_full (decoded->n_attachments, (GDestroyNotify) g_bytes_unref);
      self->pending = g_steal_pointer (&decoded);
      self->pending_size = len;
      return TRUE;
    }

  *packet = g_steal_pointer (&decoded);
  return TRUE;
}

gboolean
prd_sio_decoder_feed_binary (PrdSioDecoder *self,
                             GBytes *data,
                             PrdSioPacket **packet,
                             GError **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (data != NULL, FALSE);
  g_return_val_if_fail (packet != NULL, FALSE);

  *packet = NULL;
  if (self->pending == NULL)
    {
      g_set_error_literal (error, PRD_ERROR, PRD_ERROR_INVALID_PAYLOAD,
                           "Binary message received without a BINARY_EVENT or BINARY_ACK header");
      return FALSE;
    }

  self->pending_size += g_bytes_get_size (data);
  if (self->max_size > 0 && self->pending_size > self->max_size)
    {
      g_set_error (error, PRD_ERROR, PRD_ERROR_PAYLOAD_TOO_LARGE,
                   "A binary packet and its attachments take at most %" G_GSIZE_FORMAT " bytes",
                   self->max_size);
      g_clear_pointer (&self->pending, prd_sio_packet_free);
      return FALSE;
    }
  g_ptr_array_add (self->pending->attachments, g_bytes_ref (data));
  if (self->pending->attachments->len == self->pending->n_attachments)
    *packet = g_steal_pointer (&self->pending);
  return TRUE;
}
