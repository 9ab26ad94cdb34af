/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* An editing trace of the josephg/editing-traces collection (see the
 * traces' README). Shared by the tests and the benchmark. */

typedef struct
{
  guint32 pos;
  guint32 del;
  char *ins; /* UTF-8, possibly empty */
} PrdTracePatch;

typedef struct
{
  guint32 agent;
  guint n_parents;
  guint *parents;
  guint n_patches;
  PrdTracePatch *patches;
} PrdTraceTxn;

typedef struct
{
  char *name;
  char *start_content;
  char *end_content;
  gboolean concurrent;
  guint n_agents;
  guint n_txns;
  PrdTraceTxn *txns;
  guint n_patches;
} PrdTrace;

PrdTrace *prd_trace_load (const char *path, GError **error);
void prd_trace_free (PrdTrace *trace);
/* Where the trace @name is read from: `$PRDHUB_TRACES_DIR/<name>.json.gz`
 * when it is set, else the one in <source root>/../shared/traces when
 * there, else <source root>/tests/data/traces/ (a copy of some traces). */
char *prd_trace_path (const char *source_root, const char *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrdTrace, prd_trace_free)

G_END_DECLS

#include "prd-crdt.h"

G_BEGIN_DECLS

/* Replay @trace into @doc, one operation per edit, each through the hub's
 * path: positional operation at its base vector, integrated operation, and
 * (when @encode) its binary wire encoding, whose size is added to
 * @out_encoded_bytes. Concurrent traces: agent a is site a, and each
 * transaction is read at the merge of its parents' versions. */
gboolean prd_trace_replay (PrdCrdtDoc *doc,
                           const PrdTrace *trace,
                           gboolean encode,
                           guint64 *out_encoded_bytes,
                           guint *out_ops,
                           GError **error);

G_END_DECLS
