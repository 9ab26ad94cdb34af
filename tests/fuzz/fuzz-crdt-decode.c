/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-fuzz"

#include "config.h"

#include "prd-crdt.h"
#include "prd-fuzz.h"

/*
 * libFuzzer target for the CRDT decoders: the input is tried as a document
 * state, as an update and as a single operation. Whatever decodes must be
 * usable (text, re-encoding, integration into a document). Seeds: any state
 * or update the tests produce.
 */

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  return 0;
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autoptr (PrdCrdtDoc) doc = prd_crdt_doc_decode_state (data, size, NULL);
  g_autoptr (GPtrArray) ops = prd_crdt_ops_decode (data, size, NULL);
  g_autoptr (PrdCrdtOp) op = prd_crdt_op_decode (data, size, NULL);

  if (doc != NULL)
    {
      GPtrArray *missing = prd_crdt_doc_get_missing_ops (doc, NULL, 0, NULL);
      g_bytes_unref (prd_crdt_doc_encode_state (doc, PRD_CRDT_ENCODE_DEFAULT));
      if (missing)
        g_ptr_array_unref (missing);
      g_free (prd_crdt_doc_get_text (doc));
    }
  if (ops != NULL)
    {
      g_autoptr (PrdCrdtDoc) target = prd_crdt_doc_new ();
      for (guint i = 0; i < ops->len; i++)
        prd_crdt_doc_apply_remote (target, ops->pdata[i], NULL, NULL);
      g_free (prd_crdt_doc_get_text (target));
    }
  if (op != NULL)
    {
      g_bytes_unref (prd_crdt_op_encode (op));
      json_node_unref (prd_crdt_op_to_json (op));
    }
  return 0;
}
