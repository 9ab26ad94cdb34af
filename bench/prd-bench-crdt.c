/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-bench"

#include "config.h"

#include <malloc.h>
#include <stdio.h>
#include <sys/resource.h>

#include "prd-crdt.h"
#include "test-crdt-trace.h"

/*
 * prdhub-bench-crdt TRACE.json.gz [RUNS]
 *
 * Replays an editing trace through the hub's path for a content-update
 * (positional operation at its base vector -> integrated operation -> binary
 * wire encoding), then encodes the whole document (and times the draft, the
 * encoding without its compression, on its own, and the fast compression a
 * join's state gets: encode_fast_ms, encoded_fast_bytes), decodes it and
 * materialises the text. Prints one JSON line with the medians of RUNS runs
 * (default 7); the apply and integrate medians and bests are over the warm
 * runs (all but the first, reported on its own, as the reference script does
 * for the other engines). integrate_ms is the same replay
 * without producing and encoding the operations (what other engines' "apply"
 * measures). Reading the trace is not timed.
 */

static double
now_ms (void)
{
  return g_get_monotonic_time () / 1000.0;
}

static int
cmp_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
median (double *v, guint n)
{
  qsort (v, n, sizeof (double), cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PrdTrace) trace = NULL;
  guint runs = 7;
  g_autofree double *apply = NULL;
  g_autofree double *encode = NULL;
  g_autofree double *draft = NULL;
  g_autofree double *encode_full = NULL;
  g_autofree double *draft_full = NULL;
  g_autofree double *encode_fast = NULL;
  g_autofree double *decode = NULL;
  g_autofree double *integrate = NULL;
  gsize encoded_bytes = 0, encoded_full_bytes = 0, encoded_fast_bytes = 0;
  guint64 wire_bytes = 0;
  guint ops = 0;
  gboolean final_ok = TRUE;
  gsize doc_bytes = 0;
  struct rusage ru;
  double apply_first = 0;
  guint warm;

  if (argc < 2)
    {
      g_printerr ("usage: %s TRACE.json[.gz] [RUNS]\n", argv[0]);
      return 2;
    }
  if (argc > 2)
    runs = MAX (1, atoi (argv[2]));
  trace = prd_trace_load (argv[1], &error);
  if (trace == NULL)
    {
      g_printerr ("%s: %s\n", argv[1], error->message);
      return 1;
    }
  /* Parsing the trace leaves the heap full of freed JSON nodes; without this
   * the first replay pays for consolidating them (about 180 ms here), which
   * belongs to reading the trace, not to the CRDT. */
  malloc_trim (0);
  apply = g_new0 (double, runs);
  encode = g_new0 (double, runs);
  draft = g_new0 (double, runs);
  encode_full = g_new0 (double, runs);
  draft_full = g_new0 (double, runs);
  encode_fast = g_new0 (double, runs);
  decode = g_new0 (double, runs);
  integrate = g_new0 (double, runs);

  for (guint r = 0; r < runs; r++)
    {
      g_autoptr (PrdCrdtDoc) doc = prd_crdt_doc_new ();
      g_autoptr (PrdCrdtDoc) plain = prd_crdt_doc_new ();
      g_autoptr (GBytes) state = NULL;
      g_autoptr (GBytes) full = NULL;
      g_autofree char *text = NULL;
      double t0;

      t0 = now_ms ();
      if (!prd_trace_replay (doc, trace, TRUE, &wire_bytes, &ops, &error))
        {
          g_printerr ("%s\n", error->message);
          return 1;
        }
      apply[r] = now_ms () - t0;
      if (r == 0)
        apply_first = apply[r];
      text = prd_crdt_doc_get_text (doc);

      t0 = now_ms ();
      if (!prd_trace_replay (plain, trace, FALSE, NULL, NULL, &error))
        {
          g_printerr ("%s\n", error->message);
          return 1;
        }
      integrate[r] = now_ms () - t0;
      g_clear_pointer (&plain, prd_crdt_doc_free);
      final_ok = final_ok && g_str_equal (text, trace->end_content);

      t0 = now_ms ();
      state = prd_crdt_doc_encode_state (doc, PRD_CRDT_ENCODE_DROP_DELETED_TEXT);
      encode[r] = now_ms () - t0;
      encoded_bytes = g_bytes_get_size (state);
      {
        g_autoptr (PrdCrdtStateDraft) d = NULL;

        t0 = now_ms ();
        d = prd_crdt_doc_draft_state (doc, PRD_CRDT_ENCODE_DROP_DELETED_TEXT);
        draft[r] = now_ms () - t0;
      }
      t0 = now_ms ();
      full = prd_crdt_doc_encode_state (doc, PRD_CRDT_ENCODE_DEFAULT);
      encode_full[r] = now_ms () - t0;
      encoded_full_bytes = g_bytes_get_size (full);
      {
        g_autoptr (PrdCrdtStateDraft) d = NULL;

        t0 = now_ms ();
        d = prd_crdt_doc_draft_state (doc, PRD_CRDT_ENCODE_DEFAULT);
        draft_full[r] = now_ms () - t0;
      }
      {
        g_autoptr (GBytes) fast = NULL;

        t0 = now_ms ();
        fast = prd_crdt_doc_encode_state (doc, PRD_CRDT_ENCODE_DEFAULT | PRD_CRDT_ENCODE_FAST);
        encode_fast[r] = now_ms () - t0;
        encoded_fast_bytes = g_bytes_get_size (fast);
      }
      g_clear_pointer (&doc, prd_crdt_doc_free);
      g_clear_pointer (&text, g_free);

      {
        struct mallinfo2 before = mallinfo2 (), after;
        g_autoptr (PrdCrdtDoc) copy = NULL;
        g_autofree char *copy_text = NULL;

        t0 = now_ms ();
        copy = prd_crdt_doc_decode_state (g_bytes_get_data (state, NULL), g_bytes_get_size (state),
                                          &error);
        copy_text = copy ? prd_crdt_doc_get_text (copy) : NULL;
        decode[r] = now_ms () - t0;
        if (copy == NULL)
          {
            g_printerr ("decode: %s\n", error->message);
            return 1;
          }
        final_ok = final_ok && g_str_equal (copy_text, trace->end_content);
        g_clear_pointer (&copy_text, g_free);
        after = mallinfo2 ();
        doc_bytes = after.uordblks - before.uordblks;
      }
    }
  getrusage (RUSAGE_SELF, &ru);
  /* apply and integrate: warm runs only (the first pays for a cold heap) */
  warm = runs > 1 ? 1 : 0;
  qsort (apply + warm, runs - warm, sizeof (double), cmp_double);
  qsort (integrate + warm, runs - warm, sizeof (double), cmp_double);
  printf (
      "{\"trace\":\"%s\",\"ops\":%u,\"apply_ms\":%.2f,\"apply_best_ms\":%.2f,"
      "\"apply_first_ms\":%.2f,\"integrate_ms\":%.2f,\"integrate_best_ms\":%.2f,"
      "\"ops_per_s\":%.0f,\"encode_ms\":%.2f,\"draft_ms\":%.2f,"
      "\"encode_full_ms\":%.2f,\"draft_full_ms\":%.2f,\"encode_fast_ms\":%.2f,"
      "\"encoded_bytes\":%" G_GSIZE_FORMAT ",\"encoded_bytes_with_deleted_text\":%" G_GSIZE_FORMAT
      ",\"encoded_fast_bytes\":%" G_GSIZE_FORMAT ",\"wire_update_bytes\":%" G_GUINT64_FORMAT
      ",\"decode_ms\":%.2f,\"doc_memory_kb\":%" G_GSIZE_FORMAT
      ",\"peak_rss_kb\":%ld,\"runs\":%u,\"final_ok\":%s}\n",
      trace->name, ops, median (apply + warm, runs - warm), apply[warm], apply_first,
      median (integrate + warm, runs - warm), integrate[warm],
      ops / (median (apply + warm, runs - warm) / 1000.0), median (encode, runs),
      median (draft, runs), median (encode_full, runs), median (draft_full, runs),
      median (encode_fast, runs), encoded_bytes, encoded_full_bytes, encoded_fast_bytes, wire_bytes,
      median (decode, runs), doc_bytes / 1024, ru.ru_maxrss, runs, final_ok ? "true" : "false");
  return final_ok ? 0 : 1;
}
