/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The one error domain of prdhub. The table below is the single place that
 * maps a #PrdErrorCode to the protocol's UPPER_SNAKE code; the wire, the REST
 * API and D-Bus all go through it.
 */
#define G_LOG_DOMAIN "prd-base"

#include "config.h"

#include <gio/gio.h>

#include "prd-error.h"

static const char *const protocol_codes[PRD_ERROR_N_CODES] = {
  [PRD_ERROR_INTERNAL] = "INTERNAL_ERROR",
  [PRD_ERROR_INVALID_PAYLOAD] = "INVALID_PAYLOAD",
  [PRD_ERROR_AUTHENTICATION_FAILED] = "AUTHENTICATION_FAILED",
  [PRD_ERROR_TOKEN_EXPIRED] = "TOKEN_EXPIRED",
  [PRD_ERROR_FORBIDDEN] = "FORBIDDEN",
  [PRD_ERROR_RATE_LIMITED] = "RATE_LIMITED",
  [PRD_ERROR_PAYLOAD_TOO_LARGE] = "PAYLOAD_TOO_LARGE",
  [PRD_ERROR_NOT_FOUND] = "NOT_FOUND",
  [PRD_ERROR_PRD_NOT_FOUND] = "PRD_NOT_FOUND",
  [PRD_ERROR_INVALID_OPERATION] = "INVALID_OPERATION",
  [PRD_ERROR_SITE_CONFLICT] = "SITE_CONFLICT",
  [PRD_ERROR_NOT_JOINED] = "NOT_JOINED",
  [PRD_ERROR_STORAGE] = "STORAGE_ERROR",
  [PRD_ERROR_CORRUPT_DATA] = "CORRUPT_DATA",
  [PRD_ERROR_UNSUPPORTED_VERSION] = "UNSUPPORTED_VERSION",
  [PRD_ERROR_CONFIG] = "CONFIG_ERROR",
  [PRD_ERROR_UNKNOWN_EVENT] = "UNKNOWN_EVENT",
  [PRD_ERROR_INVALID_ID] = "INVALID_ID",
  [PRD_ERROR_ALREADY_EXISTS] = "ALREADY_EXISTS",
  [PRD_ERROR_PROVIDER_ERROR] = "PROVIDER_ERROR",
  [PRD_ERROR_PROVIDER_TIMEOUT] = "PROVIDER_TIMEOUT",
  [PRD_ERROR_PROVIDER_PROTOCOL_ERROR] = "PROVIDER_PROTOCOL_ERROR",
  [PRD_ERROR_CANCELLED] = "CANCELLED",
  [PRD_ERROR_AI_NOT_CONFIGURED] = "AI_NOT_CONFIGURED",
  [PRD_ERROR_RATE_LIMIT_EXCEEDED] = "RATE_LIMIT_EXCEEDED",
  [PRD_ERROR_SECRET_STORE] = "SECRET_STORE_ERROR",
  [PRD_ERROR_INTERRUPTED] = "INTERRUPTED",
  [PRD_ERROR_OPERATION_ID_REUSED] = "OPERATION_ID_REUSED",
  [PRD_ERROR_TOKEN_REVOKED] = "TOKEN_REVOKED",
  [PRD_ERROR_VERSION_UNCHANGED] = "VERSION_UNCHANGED",
  [PRD_ERROR_TLS_REQUIRED] = "TLS_REQUIRED",
  [PRD_ERROR_LIMIT_REACHED] = "LIMIT_REACHED",
  [PRD_ERROR_INTEGRATION_NOT_CONFIGURED] = "INTEGRATION_NOT_CONFIGURED",
  [PRD_ERROR_INTEGRATION_ERROR] = "INTEGRATION_ERROR",
  [PRD_ERROR_SYNC_IN_PROGRESS] = "SYNC_IN_PROGRESS",
};

/* D-Bus names are the protocol codes in CamelCase:
 * org.prdtool.Hub1.Error.TokenExpired. */
static void
register_dbus_errors (GQuark quark)
{
  for (guint i = 0; i < PRD_ERROR_N_CODES; i++)
    {
      g_autoptr (GString) name = g_string_new ("org.prdtool.Hub1.Error.");
      gboolean upper = TRUE;

      for (const char *p = protocol_codes[i]; *p != '\0'; p++)
        {
          if (*p == '_')
            {
              upper = TRUE;
              continue;
            }
          g_string_append_c (name, upper ? *p : g_ascii_tolower (*p));
          upper = FALSE;
        }
      g_dbus_error_register_error (quark, (int) i, name->str);
    }
}

GQuark
prd_error_quark (void)
{
  static gsize quark;

  if (g_once_init_enter (&quark))
    {
      GQuark q = g_quark_from_static_string ("prd-error-quark");

      register_dbus_errors (q);
      g_once_init_leave (&quark, q);
    }

  return (GQuark) quark;
}

/**
 * prd_error_code_to_string:
 * @code: a #PrdErrorCode
 *
 * Returns: (transfer none): the stable protocol code, e.g. `"TOKEN_EXPIRED"`
 */
const char *
prd_error_code_to_string (PrdErrorCode code)
{
  if ((guint) code >= PRD_ERROR_N_CODES)
    return protocol_codes[PRD_ERROR_INTERNAL];
  return protocol_codes[code];
}

/**
 * prd_error_code_from_string:
 * @str: a protocol code
 * @code: (out): where to store the #PrdErrorCode
 *
 * Returns: %TRUE if @str is one of the protocol codes
 */
gboolean
prd_error_code_from_string (const char *str, PrdErrorCode *code)
{
  g_return_val_if_fail (str != NULL, FALSE);

  for (guint i = 0; i < PRD_ERROR_N_CODES; i++)
    if (g_str_equal (str, protocol_codes[i]))
      {
        if (code != NULL)
          *code = (PrdErrorCode) i;
        return TRUE;
      }
  return FALSE;
}

/**
 * prd_error_get_protocol_code:
 * @error: any #GError
 *
 * Errors of other domains are reported as `INTERNAL_ERROR`: a foreign error
 * should have been translated by the wrapper that met it.
 *
 * Returns: (transfer none): the protocol code for @error
 */
const char *
prd_error_get_protocol_code (const GError *error)
{
  g_return_val_if_fail (error != NULL, NULL);

  if (error->domain != PRD_ERROR)
    return protocol_codes[PRD_ERROR_INTERNAL];
  return prd_error_code_to_string ((PrdErrorCode) error->code);
}

/**
 * prd_error_truncate_message:
 * @text: what another program said (a service's error, an address)
 * @max_chars: the most characters kept
 *
 * @text for one of our messages: valid UTF-8 (an invalid byte becomes
 * U+FFFD), cut after @max_chars characters with `…`.
 *
 * Returns: (transfer full): the text
 */
char *
prd_error_truncate_message (const char *text, glong max_chars)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);

  if (g_utf8_strlen (valid, -1) > max_chars)
    {
      g_autofree char *cut = g_utf8_substring (valid, 0, max_chars);

      return g_strconcat (cut, "…", NULL);
    }
  return g_steal_pointer (&valid);
}

/**
 * prd_error_new_prd_not_found:
 * @prd_id: the id asked for
 *
 * The one answer for a PRD that does not exist and for one of another
 * organization: they must read the same, code and message, so that nobody
 * learns which ids another organization has.
 *
 * Returns: (transfer full): a %PRD_ERROR_PRD_NOT_FOUND error
 */
GError *
prd_error_new_prd_not_found (const char *prd_id)
{
  return g_error_new (PRD_ERROR, PRD_ERROR_PRD_NOT_FOUND, "No PRD %s", prd_id);
}
