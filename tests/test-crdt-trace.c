/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-trace"

#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "prd-error.h"
#include "test-crdt-trace.h"

char *
prd_trace_path (const char *source_root, const char *name)
{
  const char *env = g_getenv ("PRDHUB_TRACES_DIR");
  g_autofree char *file = g_strconcat (name, ".json.gz", NULL);
  g_autofree char *shared = NULL;

  if (env != NULL && env[0] != '\0')
    return g_build_filename (env, file, NULL);
  shared = g_build_filename (source_root, "..", "shared", "traces", file, NULL);
  if (g_file_test (shared, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&shared);
  return g_build_filename (source_root, "tests", "data", "traces", file, NULL);
}

void
prd_trace_free (PrdTrace *trace)
{
  if (trace == NULL)
    return;
  for (guint i = 0; i < trace->n_txns; i++)
    {
      for (guint k = 0; k < trace->txns[i].n_patches; k++)
        g_free (trace->txns[i].patches[k].ins);
      g_free (trace->txns[i].patches);
      g_free (trace->txns[i].parents);
    }
  g_free (trace->txns);
  g_free (trace->name);
  g_free (trace->start_content);
  g_free (trace->end_content);
  g_free (trace);
}

static gboolean
bad (GError **error, const char *what)
{
  g_set_error (error, PRD_ERROR, PRD_ERROR_CORRUPT_DATA, "Malformed trace: %s", what);
  return FALSE;
}

PrdTrace *
prd_trace_load (const char *path, GError **error)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GInputStream) raw = NULL;
  g_autoptr (GInputStream) in = NULL;
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (PrdTrace) trace = g_new0 (PrdTrace, 1);
  g_autofree char *base = g_path_get_basename (path);
  JsonObject *root;
  JsonArray *txns;

  raw = G_INPUT_STREAM (g_file_read (file, NULL, error));
  if (raw == NULL)
    return NULL;
  if (g_str_has_suffix (path, ".gz"))
    {
      g_autoptr (GZlibDecompressor) dec = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP);
      in = g_converter_input_stream_new (raw, G_CONVERTER (dec));
    }
  else
    in = g_object_ref (raw);
  if (!json_parser_load_from_stream (parser, in, NULL, error))
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return bad (error, "root is not an object"), NULL;
  root = json_node_get_object (json_parser_get_root (parser));

  if (strstr (base, ".json"))
    *strstr (base, ".json") = '\0';
  trace->name = g_strdup (base);
  trace->concurrent = json_object_has_member (root, "kind") &&
                      g_strcmp0 (json_object_get_string_member (root, "kind"), "concurrent") == 0;
  trace->start_content =
      g_strdup (json_object_get_string_member_with_default (root, "startContent", ""));
  if (!json_object_has_member (root, "endContent") || !json_object_has_member (root, "txns"))
    return bad (error, "no endContent or txns"), NULL;
  trace->end_content = g_strdup (json_object_get_string_member (root, "endContent"));
  trace->n_agents = json_object_get_int_member_with_default (root, "numAgents", 1);
  txns = json_object_get_array_member (root, "txns");
  trace->n_txns = json_array_get_length (txns);
  trace->txns = g_new0 (PrdTraceTxn, trace->n_txns);
  for (guint i = 0; i < trace->n_txns; i++)
    {
      JsonObject *t = json_array_get_object_element (txns, i);
      PrdTraceTxn *txn = &trace->txns[i];
      JsonArray *patches = json_object_get_array_member (t, "patches");

      txn->agent = json_object_get_int_member_with_default (t, "agent", 0);
      if (txn->agent >= trace->n_agents)
        return bad (error, "agent out of range"), NULL;
      if (json_object_has_member (t, "parents"))
        {
          JsonArray *p = json_object_get_array_member (t, "parents");
          txn->n_parents = json_array_get_length (p);
          txn->parents = g_new0 (guint, txn->n_parents + 1);
          for (guint k = 0; k < txn->n_parents; k++)
            {
              txn->parents[k] = json_array_get_int_element (p, k);
              if (txn->parents[k] >= i)
                return bad (error, "parent is not earlier"), NULL;
            }
        }
      txn->n_patches = json_array_get_length (patches);
      txn->patches = g_new0 (PrdTracePatch, txn->n_patches + 1);
      for (guint k = 0; k < txn->n_patches; k++)
        {
          JsonArray *p = json_array_get_array_element (patches, k);
          if (json_array_get_length (p) != 3)
            return bad (error, "patch is not [pos, del, ins]"), NULL;
          txn->patches[k].pos = json_array_get_int_element (p, 0);
          txn->patches[k].del = json_array_get_int_element (p, 1);
          txn->patches[k].ins = g_strdup (json_array_get_string_element (p, 2));
        }
      trace->n_patches += txn->n_patches;
    }
  return g_steal_pointer (&trace);
}

gboolean
prd_trace_replay (PrdCrdtDoc *doc,
                  const PrdTrace *trace,
                  gboolean encode,
                  guint64 *out_encoded_bytes,
                  guint *out_ops,
                  GError **error)
{
  guint n = MAX (trace->n_agents, 1);
  g_autofree guint32 *versions = NULL;
  g_autofree guint32 *base = g_new0 (guint32, n);
  guint64 bytes = 0;
  guint ops = 0;
  g_autoptr (GByteArray) wire = g_byte_array_sized_new (256);

  if (trace->concurrent)
    versions = g_new0 (guint32, (gsize) n * trace->n_txns);
  if (trace->start_content[0] != '\0')
    {
      if (!prd_crdt_doc_apply_local_insert (doc, 0, base, n, 0, trace->start_content, -1, 0, NULL,
                                            error))
        return FALSE;
      base[0]++;
    }
  for (guint i = 0; i < trace->n_txns; i++)
    {
      const PrdTraceTxn *txn = &trace->txns[i];
      guint32 site = trace->concurrent ? txn->agent : 0;

      if (trace->concurrent)
        {
          memset (base, 0, n * sizeof (guint32));
          for (guint p = 0; p < txn->n_parents; p++)
            {
              const guint32 *pv = versions + (gsize) n * txn->parents[p];
              for (guint a = 0; a < n; a++)
                base[a] = MAX (base[a], pv[a]);
            }
        }
      for (guint k = 0; k < txn->n_patches; k++)
        {
          const PrdTracePatch *p = &txn->patches[k];
          for (guint step = 0; step < 2; step++)
            {
              g_autoptr (PrdCrdtOp) op = NULL;
              gboolean ok;

              if (step == 0 && p->del > 0)
                ok = prd_crdt_doc_apply_local_delete (doc, site, base, n, p->pos, p->del, 0,
                                                      encode ? &op : NULL, error);
              else if (step == 1 && p->ins[0] != '\0')
                ok = prd_crdt_doc_apply_local_insert (doc, site, base, n, p->pos, p->ins, -1, 0,
                                                      encode ? &op : NULL, error);
              else
                continue;
              if (!ok)
                {
                  g_prefix_error (error, "%s txn %u patch %u: ", trace->name, i, k);
                  return FALSE;
                }
              base[site]++;
              ops++;
              if (op)
                {
                  /* Reused as the hub reuses its buffer; shrinking with
                   * g_byte_array_set_size() goes through a remove_range. */
                  wire->len = 0;
                  prd_crdt_op_encode_into (op, wire);
                  bytes += wire->len;
                }
            }
        }
      if (trace->concurrent)
        memcpy (versions + (gsize) n * i, base, n * sizeof (guint32));
    }
  if (out_encoded_bytes)
    *out_encoded_bytes = bytes;
  if (out_ops)
    *out_ops = ops;
  return TRUE;
}
