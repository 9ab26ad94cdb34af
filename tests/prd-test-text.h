/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

/* Text of the kinds JSON writers get wrong: controls, quotes, backslashes,
 * DEL, U+2028, U+FEFF, non-ASCII and characters outside the BMP (a
 * surrogate pair in UTF-16 positions), up to @max_chars characters; never
 * empty. For the tests that compare the direct JSON writers with the
 * json-glib tree path. */
static inline char *
prd_test_random_text (GRand *rand, guint max_chars)
{
  static const gunichar specials[] = { '"',  '\\', '/',    0x01,   0x1e,    0x1f,    '\n',
                                       0x7f, 0xe9, 0x2028, 0xfeff, 0x1f600, 0x10ffff };
  GString *out = g_string_new (NULL);
  guint n = (guint) g_rand_int_range (rand, 1, (gint32) max_chars + 1);

  for (guint i = 0; i < n; i++)
    {
      gunichar c;

      switch (g_rand_int_range (rand, 0, 5))
        {
          case 0:
            c = (gunichar) g_rand_int_range (rand, 1, 0x20);
            break;
          case 1:
            c = specials[g_rand_int_range (rand, 0, G_N_ELEMENTS (specials))];
            break;
          case 2:
            c = (gunichar) g_rand_int_range (rand, 0x10000, 0x110000);
            break;
          case 3:
            do
              c = (gunichar) g_rand_int_range (rand, 0x80, 0x10000);
            while (c >= 0xd800 && c <= 0xdfff);
            break;
          default:
            c = (gunichar) g_rand_int_range (rand, 0x20, 0x7f);
            break;
        }
      g_string_append_unichar (out, c);
    }
  return g_string_free (out, FALSE);
}
