/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <gio/gio.h>

#include "prd-error.h"

static void
test_codes_round_trip (void)
{
  for (guint i = 0; i < PRD_ERROR_N_CODES; i++)
    {
      const char *str = prd_error_code_to_string ((PrdErrorCode) i);
      PrdErrorCode back;

      g_assert_nonnull (str);
      g_assert_true (prd_error_code_from_string (str, &back));
      g_assert_cmpint (back, ==, i);
      /* UPPER_SNAKE only */
      for (const char *p = str; *p; p++)
        g_assert_true (g_ascii_isupper (*p) || *p == '_');
    }
  g_assert_false (prd_error_code_from_string ("NO_SUCH_CODE", NULL));
}

static void
test_protocol_code (void)
{
  g_autoptr (GError) prd = g_error_new_literal (PRD_ERROR, PRD_ERROR_TOKEN_EXPIRED, "expired");
  g_autoptr (GError) foreign = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "io");

  g_assert_cmpstr (prd_error_get_protocol_code (prd), ==, "TOKEN_EXPIRED");
  g_assert_cmpstr (prd_error_get_protocol_code (foreign), ==, "INTERNAL_ERROR");
}

static void
test_dbus_mapping (void)
{
  g_autoptr (GError) error = g_error_new_literal (PRD_ERROR, PRD_ERROR_RATE_LIMITED, "slow down");
  g_autofree char *name = g_dbus_error_encode_gerror (error);

  g_assert_cmpstr (name, ==, "org.prdtool.Hub1.Error.RateLimited");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/prd/error/codes-round-trip", test_codes_round_trip);
  g_test_add_func ("/prd/error/protocol-code", test_protocol_code);
  g_test_add_func ("/prd/error/dbus-mapping", test_dbus_mapping);
  return g_test_run ();
}
