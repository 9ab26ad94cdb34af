/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "prd-fuzz"

#include "config.h"

#include <string.h>

#include <gio/gio.h>

#include "prd-fuzz.h"

/*
 * The driver of a fuzz target built without libFuzzer: each argument is a
 * file or a folder of files (a corpus), and every file is handed to the
 * target once. Options that start with '-' (libFuzzer's) are ignored, so the
 * suite runs the same command line with either driver.
 */

static guint n_inputs;

static void
run_file (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize len;
  guint8 *copy;

  if (!g_file_get_contents (path, &contents, &len, &error))
    g_error ("%s", error->message);
  /* An exact-size copy, so that ASan sees any read past the end (never
   * NULL, as libFuzzer's input never is). */
  copy = g_malloc (MAX (len, 1));
  memcpy (copy, contents, len);
  LLVMFuzzerTestOneInput (copy, len);
  g_free (copy);
  n_inputs++;
}

static int
compare_paths (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(char *const *) a, *(char *const *) b);
}

static void
run_path (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GPtrArray) names = NULL;
  const char *name;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      run_file (path);
      return;
    }
  dir = g_dir_open (path, 0, &error);
  if (dir == NULL)
    g_error ("%s", error->message);
  names = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_build_filename (path, name, NULL));
  g_ptr_array_sort (names, compare_paths);
  for (guint i = 0; i < names->len; i++)
    run_file (names->pdata[i]);
}

int
main (int argc, char **argv)
{
  LLVMFuzzerInitialize (&argc, &argv);
  for (int i = 1; i < argc; i++)
    if (argv[i][0] != '-')
      run_path (argv[i]);
  g_print ("%s: %u inputs replayed, no crash\n", argv[0], n_inputs);
  return 0;
}
